//! What a finished action yields.

use bytes::Bytes;

use crate::packet::{split_body_lines, Packet};

/// The successful outcome of one action.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A single response (`Success`, or any other status but `Error`; read
    /// it with [`Packet::response_status`]).
    Response(Packet),
    /// An event list, collected (or, when streamed, with no items: they came
    /// as [`crate::Event::ListItem`]s).
    List(ListOutcome),
    /// The output of a `Command` action.
    Command(CommandOutput),
    /// The `OriginateResponse` event of an `Originate` with `Async: true`.
    Originate(OriginateOutcome),
}

impl Outcome {
    /// The packet that answered the action first (for a list, its
    /// `Response: Success`; for an async originate, the `OriginateResponse`).
    pub fn packet(&self) -> &Packet {
        match self {
            Outcome::Response(p) => p,
            Outcome::List(l) => &l.response,
            Outcome::Command(c) => &c.response,
            Outcome::Originate(o) => &o.event,
        }
    }

    /// The response packet, if this is a single response.
    pub fn into_response(self) -> Option<Packet> {
        match self {
            Outcome::Response(p) => Some(p),
            _ => None,
        }
    }

    /// The list, if this is one.
    pub fn into_list(self) -> Option<ListOutcome> {
        match self {
            Outcome::List(l) => Some(l),
            _ => None,
        }
    }

    /// The command output, if this is one.
    pub fn into_command(self) -> Option<CommandOutput> {
        match self {
            Outcome::Command(c) => Some(c),
            _ => None,
        }
    }

    /// The originate result, if this is one.
    pub fn into_originate(self) -> Option<OriginateOutcome> {
        match self {
            Outcome::Originate(o) => Some(o),
            _ => None,
        }
    }
}

/// A finished event list: `Response: Success` + items + the `…Complete` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOutcome {
    /// The `Response: Success` that opened the list.
    pub response: Packet,
    /// The item events, in order (empty when items were streamed).
    pub items: Vec<Packet>,
    /// The closing `…Complete` event (`ListItems: N` is in it).
    pub complete: Packet,
}

impl ListOutcome {
    /// The item count the server announced in `ListItems`, if any.
    pub fn announced_items(&self) -> Option<usize> {
        self.complete.get_str("ListItems")?.trim().parse().ok()
    }
}

/// The output of a `Command`, the same for both server formats: repeated
/// `Output:` headers (Asterisk ≥ 14) or a `Response: Follows` raw body
/// (Asterisk ≤ 13). Lines are byte-exact; blank lines are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    /// The response packet.
    pub response: Packet,
    /// One entry per output line, without line terminators.
    pub lines: Vec<Bytes>,
}

impl CommandOutput {
    pub(crate) fn from_response(response: Packet) -> CommandOutput {
        let lines = match response.body_bytes() {
            Some(body) => split_body_lines(&body).map(|l| body.slice_ref(l)).collect(),
            None => response
                .headers()
                .filter(|h| h.is("Output"))
                .map(|h| response.raw().slice_ref(h.value().as_bytes()))
                .collect(),
        };
        CommandOutput { response, lines }
    }

    /// The output as text (lines joined with `\n`, each line decoded as UTF-8
    /// or, failing that, Latin-1).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&crate::Value::new(line).decode_text());
        }
        out
    }
}

/// The `OriginateResponse` event that ends an `Originate` with `Async: true`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginateOutcome {
    /// The action's own `Response: Success` (`Originate successfully queued`).
    pub response: Packet,
    /// The `OriginateResponse` event.
    pub event: Packet,
}

impl OriginateOutcome {
    /// Whether the call was answered (`Response: Success` in the event).
    pub fn is_success(&self) -> bool {
        self.event
            .get("Response")
            .is_some_and(|r| r.eq_ignore_case("Success"))
    }

    /// Asterisk's numeric reason (`4` answered, `5` busy, `3` no answer,
    /// `0` failure…).
    pub fn reason(&self) -> Option<u32> {
        self.event.get_str("Reason")?.trim().parse().ok()
    }

    /// The `Uniqueid` of the originated channel.
    pub fn unique_id(&self) -> Option<&str> {
        self.event.get_str("Uniqueid")
    }
}
