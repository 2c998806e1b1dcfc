//! The client's event queue: what arrived and nobody has taken yet.

use std::collections::VecDeque;

use amiproto::{ActionHandle, DecodeError, Packet};

/// Default capacity of the [`Overflow::Lossy`] event queue.
pub const DEFAULT_CAPACITY: usize = 16 * 1024;

/// What the event queue does when the program falls behind (events keep
/// arriving while it waits in `send`, or does other work).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Keep at most `capacity` waiting events; beyond it drop the oldest and
    /// report exactly how many with an [`EventItem::Lagged`], placed where
    /// the gap is (never silently).
    Lossy {
        /// Most events waiting (at least 1).
        capacity: usize,
    },
    /// Keep every event: memory grows while the program is slow (see
    /// [`crate::Client::queued_events`]).
    Lossless,
}

impl Default for Overflow {
    fn default() -> Overflow {
        Overflow::Lossy {
            capacity: DEFAULT_CAPACITY,
        }
    }
}

/// One item from [`crate::Client::next_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventItem {
    /// A packet no action claimed: a server event, or an answer whose
    /// `ActionID` is unknown.
    Event(Packet),
    /// One item of a list submitted with
    /// [`amiproto::SendOptions::stream_list`].
    ListItem {
        /// The list action.
        handle: ActionHandle,
        /// The item event.
        item: Packet,
    },
    /// A packet broke a decoder limit and was skipped (no action claimed it).
    Skipped(DecodeError),
    /// This many events were dropped here because the lossy queue was full.
    Lagged(u64),
}

impl EventItem {
    /// The packet, for [`EventItem::Event`] and [`EventItem::ListItem`].
    pub fn packet(&self) -> Option<&Packet> {
        match self {
            EventItem::Event(p) | EventItem::ListItem { item: p, .. } => Some(p),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Queue {
    items: VecDeque<EventItem>,
    overflow: Overflow,
    /// Dropped from the front since the last `Lagged` was handed out: the
    /// gap is always right before the current front.
    lag: u64,
    lagged_total: u64,
}

impl Queue {
    pub(crate) fn new(overflow: Overflow) -> Queue {
        Queue {
            items: VecDeque::new(),
            overflow,
            lag: 0,
            lagged_total: 0,
        }
    }

    pub(crate) fn push(&mut self, item: EventItem) {
        if let Overflow::Lossy { capacity } = self.overflow {
            if self.items.len() >= capacity.max(1) {
                self.items.pop_front();
                self.lag += 1;
                self.lagged_total += 1;
            }
        }
        self.items.push_back(item);
    }

    pub(crate) fn pop(&mut self) -> Option<EventItem> {
        if self.lag > 0 {
            let n = std::mem::take(&mut self.lag);
            return Some(EventItem::Lagged(n));
        }
        self.items.pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn lagged_total(&self) -> u64 {
        self.lagged_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: u32) -> EventItem {
        EventItem::Event(
            Packet::builder()
                .header("Event", "E")
                .header("N", n.to_string())
                .build()
                .unwrap(),
        )
    }

    #[test]
    fn lossy_reports_the_exact_gap_in_place() {
        let mut q = Queue::new(Overflow::Lossy { capacity: 3 });
        for n in 0..10 {
            q.push(ev(n));
        }
        assert_eq!(q.pop(), Some(EventItem::Lagged(7)));
        assert_eq!(q.pop(), Some(ev(7)));
        q.push(ev(10));
        q.push(ev(11));
        assert_eq!(q.pop(), Some(EventItem::Lagged(1)));
        assert_eq!(q.pop(), Some(ev(9)));
        assert_eq!(q.pop(), Some(ev(10)));
        assert_eq!(q.pop(), Some(ev(11)));
        assert_eq!(q.pop(), None);
        assert_eq!(q.lagged_total(), 8);
    }

    #[test]
    fn lossless_keeps_everything() {
        let mut q = Queue::new(Overflow::Lossless);
        for n in 0..1000 {
            q.push(ev(n));
        }
        assert_eq!(q.len(), 1000);
        for n in 0..1000 {
            assert_eq!(q.pop(), Some(ev(n)));
        }
        assert_eq!(q.pop(), None);
    }
}
