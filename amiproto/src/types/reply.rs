//! Typed replies: what an action's [`Outcome`] becomes, and the
//! hand-written reply types (`CoreSettings`, `CoreStatus`, `QueueStatus`,
//! `Originate`).

use std::borrow::Cow;
use std::fmt;

use crate::connection::{CommandOutput, ListOutcome, Outcome};
use crate::packet::Packet;

use super::action::FromOutcome;
use super::event::{EventKind, EventOf, EventType};
use super::events::{OriginateResponse, QueueEntry, QueueMember, QueueParams, TypedEvent};
use super::field;

/// The outcome of an action did not have the shape its typed reply needs.
/// The whole outcome comes back inside: nothing is lost.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// A response where a list was expected (say, an Asterisk 11 list
    /// without `EventList` framing, whose items came as plain events), or
    /// the other way round.
    #[error("{action}: expected {expected}, got another kind of outcome")]
    Shape {
        /// The action.
        action: &'static str,
        /// What the reply needed.
        expected: &'static str,
        /// The outcome as it came.
        outcome: Box<Outcome>,
    },
    /// A list item of another event than the action's items.
    #[error("{action}: list item {index} is not a {expected} event")]
    Item {
        /// The action.
        action: &'static str,
        /// The item event expected.
        expected: &'static str,
        /// Its position in the list.
        index: usize,
        /// The outcome as it came.
        outcome: Box<Outcome>,
    },
}

impl ReplyError {
    /// The outcome, untyped.
    pub fn into_outcome(self) -> Outcome {
        match self {
            ReplyError::Shape { outcome, .. } | ReplyError::Item { outcome, .. } => *outcome,
        }
    }
}

fn shape(action: &'static str, expected: &'static str, outcome: Outcome) -> ReplyError {
    ReplyError::Shape {
        action,
        expected,
        outcome: Box::new(outcome),
    }
}

impl FromOutcome for Packet {
    /// A single response.
    fn from_outcome(action: &'static str, outcome: Outcome, _: bool) -> Result<Packet, ReplyError> {
        match outcome {
            Outcome::Response(p) => Ok(p),
            other => Err(shape(action, "a response", other)),
        }
    }
}

impl FromOutcome for Outcome {
    /// The outcome itself.
    fn from_outcome(_: &'static str, outcome: Outcome, _: bool) -> Result<Outcome, ReplyError> {
        Ok(outcome)
    }
}

/// The list's items, or (with `empty_ok`) no items for a plain response.
fn list_items(
    action: &'static str,
    outcome: Outcome,
    empty_ok: bool,
) -> Result<ListOutcome, ReplyError> {
    match outcome {
        Outcome::List(l) => Ok(*l),
        Outcome::Response(p) if empty_ok => Ok(ListOutcome {
            complete: p.clone(),
            response: p,
            items: Vec::new(),
        }),
        other => Err(shape(action, "an event list", other)),
    }
}

impl<K: EventKind> FromOutcome for Vec<EventOf<K>> {
    /// A list of one item event.
    fn from_outcome(
        action: &'static str,
        outcome: Outcome,
        empty_ok: bool,
    ) -> Result<Vec<EventOf<K>>, ReplyError> {
        let list = list_items(action, outcome, empty_ok)?;
        if let Some(index) = list.items.iter().position(|p| !p.is_event(K::NAME)) {
            return Err(ReplyError::Item {
                action,
                expected: K::NAME,
                index,
                outcome: Box::new(Outcome::List(Box::new(list))),
            });
        }
        Ok(list.items.into_iter().map(EventOf::wrap).collect())
    }
}

impl FromOutcome for Vec<TypedEvent> {
    /// A list of several item events.
    fn from_outcome(
        action: &'static str,
        outcome: Outcome,
        empty_ok: bool,
    ) -> Result<Vec<TypedEvent>, ReplyError> {
        let list = list_items(action, outcome, empty_ok)?;
        Ok(list
            .items
            .into_iter()
            .map(TypedEvent::from_packet)
            .collect())
    }
}

impl FromOutcome for Option<String> {
    /// `Getvar`: the response's `Value`, `None` when empty (Asterisk
    /// answers an unset variable and an empty one alike, `Value: `).
    fn from_outcome(
        action: &'static str,
        outcome: Outcome,
        _: bool,
    ) -> Result<Option<String>, ReplyError> {
        let p = Packet::from_outcome(action, outcome, false)?;
        Ok(field::get::<Cow<str>>(&p, "", "Value").map(Cow::into_owned))
    }
}

impl FromOutcome for CommandOutput {
    /// `Command`: its output.
    fn from_outcome(
        action: &'static str,
        outcome: Outcome,
        _: bool,
    ) -> Result<CommandOutput, ReplyError> {
        match outcome {
            Outcome::Command(c) => Ok(*c),
            other => Err(shape(action, "command output", other)),
        }
    }
}

/// Defines a typed view over a response packet.
macro_rules! response_view {
    (
        $(#[$meta:meta])*
        $ty:ident { $($(#[$fm:meta])* $f:ident: $t:ty = $key:literal),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $ty(Packet);

        impl $ty {
            $(
                $(#[$fm])*
                pub fn $f(&self) -> Option<$t> {
                    field::get(&self.0, "", $key)
                }
            )*

            /// The response packet.
            pub fn into_packet(self) -> Packet {
                self.0
            }
        }

        impl std::ops::Deref for $ty {
            type Target = Packet;
            fn deref(&self) -> &Packet {
                &self.0
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($ty)).field(&self.0).finish()
            }
        }

        impl FromOutcome for $ty {
            fn from_outcome(
                action: &'static str,
                outcome: Outcome,
                _: bool,
            ) -> Result<$ty, ReplyError> {
                Packet::from_outcome(action, outcome, false).map($ty)
            }
        }
    };
}

response_view! {
    /// The answer to `CoreSettings`.
    CoreSettings {
        /// `AMIversion` (`11.0.0`).
        ami_version: Cow<'_, str> = "AMIversion",
        /// `AsteriskVersion` (`22.10.1`).
        asterisk_version: Cow<'_, str> = "AsteriskVersion",
        /// `SystemName`.
        system_name: Cow<'_, str> = "SystemName",
        /// `CoreMaxCalls` (0: no limit).
        max_calls: u64 = "CoreMaxCalls",
        /// `CoreMaxLoadAvg` (0: no limit).
        max_load_avg: f64 = "CoreMaxLoadAvg",
        /// `CoreRunUser`.
        run_user: Cow<'_, str> = "CoreRunUser",
        /// `CoreRunGroup`.
        run_group: Cow<'_, str> = "CoreRunGroup",
        /// `CoreMaxFilehandles`.
        max_file_handles: u64 = "CoreMaxFilehandles",
        /// `CoreRealTimeEnabled`.
        realtime_enabled: bool = "CoreRealTimeEnabled",
        /// `CoreCDRenabled`.
        cdr_enabled: bool = "CoreCDRenabled",
        /// `CoreHTTPenabled`.
        http_enabled: bool = "CoreHTTPenabled",
        /// `SoundsSearchCustomDir` (Asterisk 22).
        sounds_search_custom_dir: bool = "SoundsSearchCustomDir",
    }
}

response_view! {
    /// The answer to `CoreStatus`.
    CoreStatus {
        /// `CoreStartupDate` (`2026-11-22`).
        startup_date: Cow<'_, str> = "CoreStartupDate",
        /// `CoreStartupTime` (`09:23:31`).
        startup_time: Cow<'_, str> = "CoreStartupTime",
        /// `CoreReloadDate`.
        reload_date: Cow<'_, str> = "CoreReloadDate",
        /// `CoreReloadTime`.
        reload_time: Cow<'_, str> = "CoreReloadTime",
        /// `CoreCurrentCalls`.
        current_calls: u64 = "CoreCurrentCalls",
        /// `CoreProcessedCalls` (Asterisk 22).
        processed_calls: u64 = "CoreProcessedCalls",
    }
}

/// One queue of a `QueueStatus` answer: its parameters, then its members
/// and its waiting callers, in the order Asterisk listed them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStatusEntry {
    /// The `QueueParams` event.
    pub params: QueueParams,
    /// Its `QueueMember` events.
    pub members: Vec<QueueMember>,
    /// Its `QueueEntry` events (callers waiting).
    pub entries: Vec<QueueEntry>,
}

/// `QueueStatus`: one entry per queue. Asterisk writes each queue's
/// `QueueParams` first, then that queue's members and callers; an item
/// before any `QueueParams`, or of another event, is a
/// [`ReplyError::Item`].
impl FromOutcome for Vec<QueueStatusEntry> {
    fn from_outcome(
        action: &'static str,
        outcome: Outcome,
        _: bool,
    ) -> Result<Vec<QueueStatusEntry>, ReplyError> {
        queue_status(action, outcome)
    }
}

fn queue_status(
    action: &'static str,
    outcome: Outcome,
) -> Result<Vec<QueueStatusEntry>, ReplyError> {
    let list = list_items(action, outcome, false)?;
    let mut seen_params = false;
    let mut bad = None;
    for (i, p) in list.items.iter().enumerate() {
        if QueueParams::matches(p) {
            seen_params = true;
        } else if !(seen_params && (QueueMember::matches(p) || QueueEntry::matches(p))) {
            // Members and callers belong to the queue opened before them.
            bad = Some(i);
            break;
        }
    }
    if let Some(index) = bad {
        return Err(ReplyError::Item {
            action,
            expected: "QueueParams, QueueMember or QueueEntry",
            index,
            outcome: Box::new(Outcome::List(Box::new(list))),
        });
    }
    let mut out: Vec<QueueStatusEntry> = Vec::new();
    for p in list.items {
        let p = match QueueParams::from_packet(p) {
            Ok(params) => {
                out.push(QueueStatusEntry {
                    params,
                    members: Vec::new(),
                    entries: Vec::new(),
                });
                continue;
            }
            Err(p) => p,
        };
        let last = out.last_mut().expect("checked: params come first");
        match QueueMember::from_packet(p) {
            Ok(m) => last.members.push(m),
            Err(p) => last.entries.extend(QueueEntry::from_packet(p).ok()),
        }
    }
    Ok(out)
}

/// What an `Originate` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OriginateReply {
    /// Without `Async`: the response (Asterisk answers once the call is
    /// placed, or with an error).
    Response(Packet),
    /// With `Async: true`: the response and the call's `OriginateResponse`
    /// event.
    Done {
        /// The action's own `Response: Success`.
        response: Packet,
        /// The `OriginateResponse` event.
        event: OriginateResponse,
    },
}

impl FromOutcome for OriginateReply {
    fn from_outcome(
        action: &'static str,
        outcome: Outcome,
        _: bool,
    ) -> Result<OriginateReply, ReplyError> {
        originate(action, outcome)
    }
}

fn originate(action: &'static str, outcome: Outcome) -> Result<OriginateReply, ReplyError> {
    match outcome {
        Outcome::Response(p) => Ok(OriginateReply::Response(p)),
        Outcome::Originate(o) => match OriginateResponse::from_packet(o.event) {
            Ok(event) => Ok(OriginateReply::Done {
                response: o.response,
                event,
            }),
            Err(packet) => Err(shape(
                action,
                "an OriginateResponse event",
                Outcome::Originate(Box::new(crate::connection::OriginateOutcome {
                    response: o.response,
                    event: packet,
                })),
            )),
        },
        other => Err(shape(action, "a response", other)),
    }
}
