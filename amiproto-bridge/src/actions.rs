//! The action service of one PBX: request-reply on `PREFIX.PBX.action`.
//!
//! A request is a JSON object of AMI headers, `"Action"` first or not, a
//! repeated header as an array of values:
//!
//! ```json
//! {"Action": "Getvar", "Variable": "CDR(src)", "Channel": "PJSIP/100-0001"}
//! {"Action": "Originate", "Channel": "PJSIP/100", "Variable": ["A=1", "B=2"], "Async": "true"}
//! ```
//!
//! The reply is the outcome as JSON, each packet in the same form as
//! published events (wire order, repeated keys as arrays):
//! `{"kind":"response","response":{…}}`,
//! `{"kind":"list","response":{…},"items":[…],"complete":{…}}`,
//! `{"kind":"command","response":{…},"output":["line",…]}`,
//! `{"kind":"originate","success":true,"response":{…},"event":{…}}`;
//! or `{"error":{"kind":"…","message":"…"}}` with the NATS service
//! headers `Nats-Service-Error` and `Nats-Service-Error-Code`. Error kinds:
//! [`ActionFailure::kind`].
//!
//! The optional NATS header `Ami-Timeout-Ms` sets this request's timeout.
//! Requests share the PBX's one AMI session: they are pipelined by the
//! client, each correlated by its own ActionID. A request is sent at most
//! once: when the AMI connection drops while it is pending, the reply is the
//! `connection_lost` error and the action is not re-sent.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use amiproto::serde::PacketMap;
use amiproto::{Action, ActionError, Outcome, Packet, SendError};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use tokio::sync::{watch, Semaphore};

use crate::allow::AllowList;
use crate::pbx::PbxShared;
use crate::status::Counters;

/// NATS header with a request's own timeout in milliseconds.
pub const HEADER_TIMEOUT: &str = "Ami-Timeout-Ms";
/// Queue group of the action and status subscriptions.
pub const QUEUE_GROUP: &str = "amiproto-bridge";

/// Why an action request got no outcome.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ActionFailure {
    /// `bad_request`, `not_allowed`, `not_connected`, `server` (the PBX
    /// answered `Response: Error`), `timeout`, `connection_lost` (the AMI
    /// connection dropped while the action was pending; it was not re-sent),
    /// `list_too_large`, `undecodable`, `internal`.
    pub kind: &'static str,
    /// A NATS-service style code: 400, 403, 503, 504, 500, 502.
    pub code: u16,
    /// What happened.
    pub message: String,
    /// The server's `Response: Error` packet, for `server`.
    pub response: Option<Box<Packet>>,
}

impl fmt::Display for ActionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.kind, self.code, self.message)
    }
}

impl ActionFailure {
    fn new(kind: &'static str, code: u16, message: impl Into<String>) -> ActionFailure {
        ActionFailure {
            kind,
            code,
            message: message.into(),
            response: None,
        }
    }

    /// The reply body: `{"error":{"kind":…,"code":…,"message":…}}`, with
    /// `"response"` (the packet, in wire order) for `server`.
    pub fn to_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            kind: &'a str,
            code: u16,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            response: Option<PacketMap<'a>>,
        }
        #[derive(Serialize)]
        struct Wrap<'a> {
            error: Body<'a>,
        }
        serde_json::to_vec(&Wrap {
            error: Body {
                kind: self.kind,
                code: self.code,
                message: &self.message,
                response: self.response.as_deref().map(PacketMap),
            },
        })
        .expect("plain JSON")
    }
}

/// A JSON object with its keys in document order.
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ordered, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of AMI headers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, Value>()? {
                    v.push((k, val));
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V)
    }
}

fn scalar(key: &str, v: &Value) -> Result<String, ActionFailure> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ActionFailure::new(
            "bad_request",
            400,
            format!(
                "header {key:?}: a value must be a string, number, boolean, or an array of those"
            ),
        )),
    }
}

/// Parse a request body into an action.
pub fn parse_request(body: &[u8]) -> Result<Action, ActionFailure> {
    let Ordered(fields) = serde_json::from_slice(body).map_err(|e| {
        ActionFailure::new(
            "bad_request",
            400,
            format!("request is not a JSON object: {e}"),
        )
    })?;
    let name = fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Action"))
        .map(|(k, v)| scalar(k, v))
        .transpose()?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ActionFailure::new("bad_request", 400, "no \"Action\" key"))?;
    let mut action = Action::new(name);
    for (k, v) in fields {
        if k.eq_ignore_ascii_case("Action") {
            continue;
        }
        if k.eq_ignore_ascii_case("ActionID") {
            return Err(ActionFailure::new(
                "bad_request",
                400,
                "ActionID is chosen by the bridge (requests share one AMI session)",
            ));
        }
        match &v {
            Value::Array(items) => {
                for item in items {
                    let s = scalar(&k, item)?;
                    action.push_header(k.clone(), s);
                }
            }
            other => {
                let s = scalar(&k, other)?;
                action.push_header(k, s);
            }
        }
    }
    Ok(action)
}

/// A reply body; packets keep their wire order.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Reply<'a> {
    Response {
        response: PacketMap<'a>,
    },
    List {
        response: PacketMap<'a>,
        items: Vec<PacketMap<'a>>,
        complete: PacketMap<'a>,
    },
    Command {
        response: PacketMap<'a>,
        output: Vec<std::borrow::Cow<'a, str>>,
    },
    Originate {
        success: bool,
        response: PacketMap<'a>,
        event: PacketMap<'a>,
    },
}

/// An outcome as a JSON reply body.
pub fn outcome_json(outcome: &Outcome) -> Vec<u8> {
    let reply = match outcome {
        Outcome::List(l) => Reply::List {
            response: PacketMap(&l.response),
            items: l.items.iter().map(PacketMap).collect(),
            complete: PacketMap(&l.complete),
        },
        Outcome::Command(c) => Reply::Command {
            response: PacketMap(&c.response),
            output: c
                .lines
                .iter()
                .map(|l| amiproto::Value::new(l).decode_text())
                .collect(),
        },
        Outcome::Originate(o) => Reply::Originate {
            success: o.is_success(),
            response: PacketMap(&o.response),
            event: PacketMap(&o.event),
        },
        other => Reply::Response {
            response: PacketMap(other.packet()),
        },
    };
    serde_json::to_vec(&reply).expect("a packet serializes")
}

fn failure_from(e: amiproto_tokio::Error) -> ActionFailure {
    use amiproto_tokio::Error as E;
    match e {
        E::Action(ActionError::Server { message, response }) => ActionFailure {
            response: Some(Box::new(response)),
            ..ActionFailure::new("server", 400, message)
        },
        E::Action(ActionError::Timeout) => ActionFailure::new("timeout", 504, "action timed out"),
        E::Action(ActionError::Closed(reason)) => ActionFailure::new(
            "connection_lost",
            503,
            format!("AMI connection lost while the action was pending (not re-sent): {reason}"),
        ),
        E::Action(ActionError::ListTooLarge { limit }) => ActionFailure::new(
            "list_too_large",
            500,
            format!("the list has more than {limit} items"),
        ),
        E::Action(ActionError::Skipped(d)) => ActionFailure::new(
            "undecodable",
            502,
            format!("the answer was unreadable: {d}"),
        ),
        E::Send(SendError::Closed) | E::NotConnected | E::Closed(_) => {
            ActionFailure::new("not_connected", 503, "the PBX is not connected")
        }
        E::Send(s) => ActionFailure::new("bad_request", 400, s.to_string()),
        other => ActionFailure::new("internal", 500, other.to_string()),
    }
}

/// Run one request against the PBX's current client.
async fn run_one(
    shared: &PbxShared,
    allow: &AllowList,
    timeout: Duration,
    body: &[u8],
) -> Result<Vec<u8>, ActionFailure> {
    let action = parse_request(body)?;
    if !allow.allows(action.name()) {
        return Err(ActionFailure::new(
            "not_allowed",
            403,
            format!("action {:?} is not on the allow-list", action.name()),
        ));
    }
    let client = shared
        .client
        .borrow()
        .clone()
        .ok_or_else(|| ActionFailure::new("not_connected", 503, "the PBX is not connected"))?;
    let outcome = client
        .send_timeout(action, Some(timeout))
        .await
        .map_err(failure_from)?;
    Ok(outcome_json(&outcome))
}

fn request_timeout(headers: Option<&HeaderMap>, default: Duration) -> Duration {
    headers
        .and_then(|h| h.get(HEADER_TIMEOUT))
        .and_then(|v| v.as_str().trim().parse::<u64>().ok())
        .map_or(default, Duration::from_millis)
}

/// Serve `PREFIX.PBX.action` until `stop`.
pub(crate) async fn run_actions(
    shared: Arc<PbxShared>,
    nats: async_nats::Client,
    allow: AllowList,
    timeout: Duration,
    max_concurrent: usize,
    mut stop: watch::Receiver<bool>,
) {
    let subject = shared.subjects.action();
    let mut sub = match nats
        .queue_subscribe(subject.clone(), QUEUE_GROUP.into())
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(pbx = %shared.name, error = %e, "cannot subscribe to {subject}");
            return;
        }
    };
    let allow = Arc::new(allow);
    let slots = Arc::new(Semaphore::new(max_concurrent));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let msg = tokio::select! {
            m = sub.next() => m,
            _ = stop.changed() => break,
        };
        let Some(msg) = msg else { break };
        while tasks.try_join_next().is_some() {}
        let Some(reply) = msg.reply.clone() else {
            tracing::debug!(pbx = %shared.name, "action request without a reply subject ignored");
            continue;
        };
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("never closed"),
            _ = stop.changed() => break,
        };
        let (shared, nats, allow) = (shared.clone(), nats.clone(), allow.clone());
        let t = request_timeout(msg.headers.as_ref(), timeout);
        tasks.spawn(async move {
            let _permit = permit;
            let result = run_one(&shared, &allow, t, &msg.payload).await;
            Counters::add(&shared.counters.actions, 1);
            let (body, headers) = match result {
                Ok(v) => (v, HeaderMap::new()),
                Err(f) => {
                    tracing::debug!(pbx = %shared.name, error = %f, "action request failed");
                    let mut h = HeaderMap::new();
                    h.insert("Nats-Service-Error", f.message.as_str());
                    h.insert("Nats-Service-Error-Code", f.code.to_string().as_str());
                    (f.to_json(), h)
                }
            };
            let payload = Bytes::from(body);
            if let Err(e) = nats.publish_with_headers(reply, headers, payload).await {
                tracing::warn!(pbx = %shared.name, error = %e, "action reply not sent");
            }
        });
    }
    // Requests in progress finish and reply (or fail with the client).
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_in_order_with_repeats() {
        let a = parse_request(br#"{"Action":"Originate","Channel":"Local/1@x","Variable":["A=1","B=2"],"Priority":1,"Async":true}"#).unwrap();
        assert_eq!(a.name(), "Originate");
        let h: Vec<(String, String)> = a
            .headers()
            .map(|(k, v)| (k.to_owned(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        assert_eq!(
            h,
            [
                ("Channel", "Local/1@x"),
                ("Variable", "A=1"),
                ("Variable", "B=2"),
                ("Priority", "1"),
                ("Async", "true")
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        for bad in [
            &b"[1]"[..],
            br#"{"Channel":"x"}"#,
            br#"{"Action":"Ping","ActionID":"mine"}"#,
            br#"{"Action":"Ping","X":{"y":1}}"#,
            b"not json",
        ] {
            let e = parse_request(bad).unwrap_err();
            assert_eq!(e.kind, "bad_request", "{}", String::from_utf8_lossy(bad));
        }
    }
}
