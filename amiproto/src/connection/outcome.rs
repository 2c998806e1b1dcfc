//! What a finished action yields.

use bytes::Bytes;

use crate::packet::{split_body_lines, Packet};

/// The successful outcome of one action.
///
/// The rarer, larger kinds are boxed: an outcome is moved several times on
/// its way to the caller (across threads in the tokio client), and the
/// common one, a single response, stays a packet wide. `From` builds any
/// kind (`Outcome::from(list)`); field access goes through the box.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A single response (`Success`, or any other status but `Error`; read
    /// it with [`Packet::response_status`]).
    Response(Packet),
    /// An event list, collected (or, when streamed, with no items: they came
    /// as [`crate::Event::ListItem`]s).
    List(Box<ListOutcome>),
    /// The output of a `Command` action.
    Command(Box<CommandOutput>),
    /// The `OriginateResponse` event of an `Originate` with `Async: true`.
    Originate(Box<OriginateOutcome>),
}

impl Outcome {
    /// The one packet that stands for the outcome, by kind:
    ///
    /// - [`Outcome::Response`]: that response (`Success`, `Goodbye`, …);
    /// - [`Outcome::List`]: the `Response: Success` that opened the list (the
    ///   items are in [`ListOutcome::items`], the closing `…Complete` event
    ///   in [`ListOutcome::complete`]);
    /// - [`Outcome::Command`]: the response that carried the output (its
    ///   `Output:` lines, or the `Response: Follows` body of Asterisk ≤ 13;
    ///   the lines are in [`CommandOutput::lines`]);
    /// - [`Outcome::Originate`]: the `OriginateResponse` event, which tells
    ///   how the call went (the action's own `Response: Success`, written
    ///   first, is [`OriginateOutcome::response`]).
    ///
    /// ```
    /// use amiproto::{OriginateOutcome, Outcome, Packet};
    ///
    /// let queued = Packet::builder()
    ///     .header("Response", "Success")
    ///     .header("Message", "Originate successfully queued")
    ///     .build()?;
    /// let event = Packet::builder()
    ///     .header("Event", "OriginateResponse")
    ///     .header("Response", "Success")
    ///     .build()?;
    /// let outcome = Outcome::from(OriginateOutcome::new(queued.clone(), event.clone()));
    /// assert_eq!(outcome.packet(), &event);
    /// assert_eq!(Outcome::Response(queued.clone()).packet(), &queued);
    /// # Ok::<(), amiproto::EncodeError>(())
    /// ```
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
            Outcome::List(l) => Some(*l),
            _ => None,
        }
    }

    /// The command output, if this is one.
    pub fn into_command(self) -> Option<CommandOutput> {
        match self {
            Outcome::Command(c) => Some(*c),
            _ => None,
        }
    }

    /// The originate result, if this is one.
    pub fn into_originate(self) -> Option<OriginateOutcome> {
        match self {
            Outcome::Originate(o) => Some(*o),
            _ => None,
        }
    }
}

impl From<Packet> for Outcome {
    /// [`Outcome::Response`].
    fn from(response: Packet) -> Outcome {
        Outcome::Response(response)
    }
}

impl From<ListOutcome> for Outcome {
    /// [`Outcome::List`] (boxed).
    fn from(list: ListOutcome) -> Outcome {
        Outcome::List(Box::new(list))
    }
}

impl From<CommandOutput> for Outcome {
    /// [`Outcome::Command`] (boxed).
    fn from(output: CommandOutput) -> Outcome {
        Outcome::Command(Box::new(output))
    }
}

impl From<OriginateOutcome> for Outcome {
    /// [`Outcome::Originate`] (boxed).
    fn from(outcome: OriginateOutcome) -> Outcome {
        Outcome::Originate(Box::new(outcome))
    }
}

/// A finished event list: `Response: Success` + items + the `…Complete` event.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListOutcome {
    /// The `Response: Success` that opened the list.
    pub response: Packet,
    /// The item events, in order (empty when items were streamed).
    pub items: Vec<Packet>,
    /// The closing `…Complete` event (`ListItems: N` is in it; `Items: N`
    /// on Asterisk ≤ 11's `StatusComplete`).
    pub complete: Packet,
}

impl ListOutcome {
    /// A list from its parts (for tests of code that consumes lists).
    pub fn new(response: Packet, items: Vec<Packet>, complete: Packet) -> ListOutcome {
        ListOutcome {
            response,
            items,
            complete,
        }
    }

    /// The item count the server announced in the closing event:
    /// `ListItems` (Asterisk ≥ 12), else `Items` (Asterisk ≤ 11's
    /// `StatusComplete`); `None` when it announced none (Asterisk ≤ 11's
    /// other lists) or the value is not a number.
    ///
    /// ```
    /// use amiproto::{ListOutcome, Packet};
    ///
    /// let response = Packet::builder().header("Response", "Success").build()?;
    /// let complete = |key: &str| Packet::builder()
    ///     .header("Event", "StatusComplete")
    ///     .header(key, "2")
    ///     .build();
    /// let list = |complete| ListOutcome::new(response.clone(), Vec::new(), complete);
    /// assert_eq!(list(complete("ListItems")?).announced_items(), Some(2));
    /// assert_eq!(list(complete("Items")?).announced_items(), Some(2)); // Asterisk 11
    /// assert_eq!(list(complete("Total")?).announced_items(), None);
    /// # Ok::<(), amiproto::EncodeError>(())
    /// ```
    pub fn announced_items(&self) -> Option<usize> {
        let count = self
            .complete
            .get("ListItems")
            .or_else(|| self.complete.get("Items"))?;
        count.to_str().ok()?.trim().parse().ok()
    }
}

/// The output of a `Command`, the same for both server formats: repeated
/// `Output:` headers (Asterisk ≥ 14) or a `Response: Follows` raw body
/// (Asterisk ≤ 13). Lines are byte-exact; blank lines are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandOutput {
    /// The response packet.
    pub response: Packet,
    /// One entry per output line, without line terminators.
    pub lines: Vec<Bytes>,
}

impl CommandOutput {
    /// The output carried by a `Command`'s response packet, in either
    /// format.
    ///
    /// ```
    /// use amiproto::{CommandOutput, Packet};
    ///
    /// let response = Packet::builder()
    ///     .header("Response", "Success")
    ///     .header("Output", "Asterisk 22.10.1")
    ///     .build()?;
    /// assert_eq!(CommandOutput::from_response(response).text(), "Asterisk 22.10.1");
    /// # Ok::<(), amiproto::EncodeError>(())
    /// ```
    pub fn from_response(response: Packet) -> CommandOutput {
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
#[non_exhaustive]
pub struct OriginateOutcome {
    /// The action's own `Response: Success` (`Originate successfully queued`).
    pub response: Packet,
    /// The `OriginateResponse` event.
    pub event: Packet,
}

impl OriginateOutcome {
    /// An outcome from its parts (for tests of code that consumes them).
    pub fn new(response: Packet, event: Packet) -> OriginateOutcome {
        OriginateOutcome { response, event }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_is_no_wider_than_a_packet_and_its_tag() {
        assert!(std::mem::size_of::<Outcome>() <= std::mem::size_of::<Packet>() + 8);
    }
}
