//! The queue of [`Event`]s a connection reports, kept compact.
//!
//! An [`Event`] is as large as its largest variant (an action's error),
//! while nearly every report is a packet: an event or an answer. Every report is moved into the queue and
//! out of it, so the queue keeps packets (events, list items, an action's
//! single response) in slots sized for a packet, and the rarer, larger
//! reports in lanes of their own; the order of arrival is kept by the
//! slots.

use std::collections::VecDeque;

use super::{ActionHandle, Event, Outcome};
use crate::packet::Packet;
use crate::ActionError;

/// One report, in arrival order; the large ones wait in a lane.
#[derive(Debug)]
enum Slot {
    Unsolicited(Packet),
    ListItem {
        handle: ActionHandle,
        item: Packet,
    },
    /// An action answered by one response (the common outcome).
    Response {
        handle: ActionHandle,
        packet: Packet,
    },
    /// The front of [`Reports::done`].
    Done,
    /// The front of [`Reports::other`].
    Other,
}

/// Reports waiting for [`super::Connection::poll_event`], in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    order: VecDeque<Slot>,
    done: VecDeque<(ActionHandle, Result<Outcome, ActionError>)>,
    other: VecDeque<Event>,
}

impl Reports {
    /// Queue `event` after the others.
    #[inline(always)]
    pub(crate) fn push(&mut self, event: Event) {
        let slot = match event {
            Event::Unsolicited(p) => Slot::Unsolicited(p),
            Event::ListItem { handle, item } => Slot::ListItem { handle, item },
            Event::Done {
                handle,
                result: Ok(Outcome::Response(packet)),
            } => Slot::Response { handle, packet },
            Event::Done { handle, result } => {
                self.done.push_back((handle, result));
                Slot::Done
            }
            other => {
                self.other.push_back(other);
                Slot::Other
            }
        };
        self.order.push_back(slot);
    }

    /// The oldest report.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Event> {
        Some(match self.order.pop_front()? {
            Slot::Unsolicited(p) => Event::Unsolicited(p),
            Slot::ListItem { handle, item } => Event::ListItem { handle, item },
            Slot::Response { handle, packet } => Event::Done {
                handle,
                result: Ok(Outcome::Response(packet)),
            },
            Slot::Done => {
                let (handle, result) = self.done.pop_front().expect("a slot per outcome");
                Event::Done { handle, result }
            }
            Slot::Other => self.other.pop_front().expect("a slot per report"),
        })
    }

    /// Reports waiting.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{CloseReason, Outcome};

    fn packet(n: u32) -> Packet {
        Packet::builder()
            .header("Event", "E")
            .header("N", n.to_string())
            .build()
            .unwrap()
    }

    #[test]
    fn every_kind_comes_out_in_arrival_order() {
        let handle = |seq| ActionHandle { generation: 0, seq };
        let events = [
            Event::Ready,
            Event::Unsolicited(packet(0)),
            Event::Done {
                handle: handle(1),
                result: Ok(Outcome::Response(packet(1))),
            },
            Event::ListItem {
                handle: handle(2),
                item: packet(2),
            },
            Event::Done {
                handle: handle(3),
                result: Err(ActionError::Timeout),
            },
            Event::Unsolicited(packet(4)),
            Event::Closed(CloseReason::LoggedOff),
        ];
        let mut q = Reports::default();
        for (i, e) in events.iter().enumerate() {
            q.push(e.clone());
            if i == 3 {
                // Taking some out midway keeps the lanes in step.
                assert_eq!(q.pop().as_ref(), Some(&events[0]));
                assert_eq!(q.pop().as_ref(), Some(&events[1]));
            }
        }
        assert_eq!(q.len(), events.len() - 2);
        let rest: Vec<Event> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest, events[2..]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn a_slot_is_no_larger_than_a_list_item() {
        assert!(std::mem::size_of::<Slot>() <= std::mem::size_of::<Packet>() + 24);
        assert!(std::mem::size_of::<Slot>() < std::mem::size_of::<Event>());
    }
}
