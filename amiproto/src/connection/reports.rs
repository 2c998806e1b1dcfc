//! The queue of [`Event`]s a connection reports, kept in arrival order.
//!
//! Nearly every report is an unclaimed packet (an event nobody's action
//! claimed), by the million under a flood. Those wait in a lane of their
//! own, already in the form a reader gets them ([`EventItem::Event`]), so
//! that a run of them can be taken in one go
//! ([`Reports::take_unsolicited`]); every other report remembers how many
//! unclaimed packets came before it, so the order of arrival is kept.

use std::collections::VecDeque;

use super::Event;
use crate::queue::EventItem;

/// Reports waiting for [`super::Connection::poll_event`], in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    /// Unclaimed packets, each an [`EventItem::Event`], oldest first.
    unsolicited: VecDeque<EventItem>,
    /// Unclaimed packets queued so far.
    pushed: u64,
    /// The other reports, each with the number of unclaimed packets queued
    /// before it.
    order: VecDeque<(u64, Event)>,
}

impl Reports {
    /// Queue `event` after the others.
    #[inline(always)]
    pub(crate) fn push(&mut self, event: Event) {
        match event {
            Event::Unsolicited(p) => {
                self.unsolicited.push_back(EventItem::Event(p));
                self.pushed += 1;
            }
            other => self.order.push_back((self.pushed, other)),
        }
    }

    /// How many unclaimed packets come before the next other report (all
    /// of them when none waits).
    #[inline]
    fn unsolicited_first(&self) -> usize {
        match self.order.front() {
            Some(&(at, _)) => {
                let front = self.pushed - self.unsolicited.len() as u64;
                at.saturating_sub(front) as usize
            }
            None => self.unsolicited.len(),
        }
    }

    /// The oldest report.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Event> {
        if self.unsolicited_first() > 0 {
            return match self.unsolicited.pop_front() {
                Some(EventItem::Event(p)) => Some(Event::Unsolicited(p)),
                _ => unreachable!("the lane holds unclaimed packets only"),
            };
        }
        self.order.pop_front().map(|(_, event)| event)
    }

    /// Move the unclaimed packets that come before any other report to the
    /// back of `out`, as [`EventItem::Event`]s in order; returns how many.
    /// When they are all that waits and `out` is empty, the lane's buffer
    /// is handed over whole (and `out`'s taken in its place).
    #[inline]
    pub(crate) fn take_unsolicited(&mut self, out: &mut VecDeque<EventItem>) -> usize {
        let n = self.unsolicited_first();
        if n == self.unsolicited.len() && out.is_empty() {
            std::mem::swap(out, &mut self.unsolicited);
        } else if n > 0 {
            out.extend(self.unsolicited.drain(..n));
        }
        n
    }

    /// The oldest report that is not an unclaimed packet, after moving the
    /// unclaimed packets before it to the back of `out` (as
    /// [`Reports::take_unsolicited`]); `None`, moving nothing, when only
    /// unclaimed packets wait.
    #[inline]
    pub(crate) fn pop_other(&mut self, out: &mut VecDeque<EventItem>) -> Option<Event> {
        if self.order.is_empty() {
            return None;
        }
        self.take_unsolicited(out);
        self.pop()
    }

    /// Reports waiting.
    pub(crate) fn len(&self) -> usize {
        self.order.len() + self.unsolicited.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{ActionHandle, CloseReason, Outcome};
    use crate::packet::Packet;
    use crate::ActionError;

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
    fn runs_of_unclaimed_packets_are_taken_in_order_up_to_the_next_report() {
        let handle = |seq| ActionHandle { generation: 0, seq };
        let done = |seq| Event::Done {
            handle: handle(seq),
            result: Ok(Outcome::Response(packet(seq as u32))),
        };
        let mut q = Reports::default();
        for n in 0..3 {
            q.push(Event::Unsolicited(packet(n)));
        }
        q.push(done(3));
        q.push(Event::Unsolicited(packet(4)));
        q.push(Event::Ready);
        q.push(Event::Unsolicited(packet(6)));
        q.push(Event::Unsolicited(packet(7)));
        let n_of = |item: &EventItem| match item {
            EventItem::Event(p) => p.get_str("N").unwrap().parse::<u32>().unwrap(),
            other => panic!("{other:?}"),
        };
        // One by one, then the rest of the run in one go.
        assert_eq!(q.pop(), Some(Event::Unsolicited(packet(0))));
        let mut out = VecDeque::new();
        assert_eq!(q.take_unsolicited(&mut out), 2);
        assert_eq!(out.iter().map(n_of).collect::<Vec<_>>(), [1, 2]);
        // The response is next: nothing to take before it.
        assert_eq!(q.take_unsolicited(&mut out), 0);
        assert_eq!(q.pop(), Some(done(3)));
        // Into a non-empty `out`: appended.
        assert_eq!(q.take_unsolicited(&mut out), 1);
        assert_eq!(out.iter().map(n_of).collect::<Vec<_>>(), [1, 2, 4]);
        assert_eq!(q.pop(), Some(Event::Ready));
        // Only unclaimed packets wait, into an empty `out`: the whole lane.
        out.clear();
        assert_eq!(q.take_unsolicited(&mut out), 2);
        assert_eq!(out.iter().map(n_of).collect::<Vec<_>>(), [6, 7]);
        assert_eq!(q.len(), 0);
        assert_eq!(q.pop(), None);
        // The lane goes on after a swap.
        q.push(Event::Unsolicited(packet(8)));
        q.push(Event::Ready);
        assert_eq!(q.pop(), Some(Event::Unsolicited(packet(8))));
        assert_eq!(q.pop(), Some(Event::Ready));
    }

    #[test]
    fn other_reports_come_out_with_the_packets_before_them_and_the_rest_stay() {
        let mut q = Reports::default();
        let mut out = VecDeque::new();
        q.push(Event::Unsolicited(packet(0)));
        assert_eq!(q.pop_other(&mut out), None);
        assert!(out.is_empty());
        q.push(Event::Ready);
        q.push(Event::Unsolicited(packet(2)));
        q.push(Event::Unsolicited(packet(3)));
        assert_eq!(q.pop_other(&mut out), Some(Event::Ready));
        assert_eq!(out, [EventItem::Event(packet(0))]);
        assert_eq!(q.pop_other(&mut out), None);
        assert_eq!(q.len(), 2);
        assert_eq!(q.take_unsolicited(&mut out), 2);
        assert_eq!(out, [0, 2, 3].map(|n| EventItem::Event(packet(n))));
    }

    #[test]
    fn a_report_is_no_wider_than_a_packet_and_a_handle_or_an_error() {
        // The outcome kinds wider than a packet are boxed; an action's error
        // is the widest report.
        let widest = std::mem::size_of::<Packet>().max(std::mem::size_of::<ActionError>());
        assert!(std::mem::size_of::<Event>() <= widest + 16);
    }
}
