//! The event queue both clients keep for their readers, sans I/O.
//!
//! An [`EventQueue`] holds what a client received for a reader who has not
//! taken it yet, and applies the reader's [`Overflow`] policy:
//!
//! - [`Overflow::Lossless`] keeps everything (memory grows while the reader
//!   is slow);
//! - [`Overflow::Lossy`] keeps at most `capacity` events: a new one past the
//!   bound drops the oldest waiting event, and the reader is told exactly
//!   how many were dropped by an [`EventItem::Lagged`] placed exactly where
//!   they were.
//!
//! Only events (and reports of skipped packets, which stand for one lost
//! packet each) are ever dropped, and only they are counted by `Lagged`.
//! Markers ([`EventItem::Reconnected`]) and the items of a list the caller
//! asked to stream ([`EventItem::ListItem`]) are never dropped: a reader
//! always learns of a reconnect, and a streamed list is never short. Two
//! reconnect markers with nothing left between them are folded into the
//! later one, so markers stay bounded by the events waiting.
//!
//! The queue reads no clock and does no I/O: the adapters wake or block
//! their readers around it.
//!
//! ```
//! use amiproto::{EventItem, EventQueue, Overflow, Packet};
//!
//! let event = |n: u32| {
//!     EventItem::Event(Packet::builder().header("Event", "Tick").header("N", n.to_string()).build().unwrap())
//! };
//! let mut q = EventQueue::new(Overflow::Lossy { capacity: 2 });
//! q.push(event(0));
//! q.push(EventItem::Reconnected { generation: 1 });
//! for n in 1..5 {
//!     q.push(event(n));
//! }
//! // Events 0, 1 and 2 were dropped; the marker was not.
//! assert_eq!(q.pop(), Some(EventItem::Lagged(1)));
//! assert_eq!(q.pop(), Some(EventItem::Reconnected { generation: 1 }));
//! assert_eq!(q.pop(), Some(EventItem::Lagged(2)));
//! assert_eq!(q.pop(), Some(event(3)));
//! assert_eq!(q.pop(), Some(event(4)));
//! assert_eq!(q.pop(), None);
//! assert_eq!(q.lagged_total(), 3);
//! ```

use std::collections::VecDeque;

use crate::connection::ActionHandle;
use crate::error::DecodeError;
use crate::packet::Packet;

/// Default capacity of an [`Overflow::Lossy`] queue.
pub const DEFAULT_CAPACITY: usize = 16 * 1024;

/// What an event queue does when its reader falls behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Keep at most `capacity` waiting events; beyond it drop the oldest and
    /// report exactly how many with an [`EventItem::Lagged`], placed where
    /// the gap is (never silently). Markers and streamed list items are
    /// never dropped and not counted.
    Lossy {
        /// Most events waiting (at least 1 is used).
        capacity: usize,
    },
    /// Keep every event: memory grows while the reader is slow.
    Lossless,
}

impl Default for Overflow {
    /// Lossy with [`DEFAULT_CAPACITY`].
    fn default() -> Overflow {
        Overflow::Lossy {
            capacity: DEFAULT_CAPACITY,
        }
    }
}

impl Overflow {
    /// The bound on waiting events, `None` when lossless.
    pub fn capacity(&self) -> Option<usize> {
        match *self {
            Overflow::Lossy { capacity } => Some(capacity.max(1)),
            Overflow::Lossless => None,
        }
    }
}

/// One item a client hands its reader.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventItem {
    /// A packet no action claimed: a server event (`Event:` header) or,
    /// rarely, a response whose `ActionID` matches nothing.
    Event(Packet),
    /// One item of a list submitted with
    /// [`crate::SendOptions::stream_list`] (never dropped).
    ListItem {
        /// The list action.
        handle: ActionHandle,
        /// The item event.
        item: Packet,
    },
    /// An unclaimed packet broke a decoder limit and was skipped.
    Skipped(DecodeError),
    /// This many events were dropped here because the (lossy) queue was
    /// full. Counts events (and skipped-packet reports) only.
    Lagged(u64),
    /// The connection was lost and re-established: events the server sent
    /// to nobody in between are missing (re-read any state you track).
    /// Never dropped.
    Reconnected {
        /// Successful logins after the first: 1 at the first reconnect
        /// (what the tokio client's `Status::generation` and the std
        /// client's `Client::reconnects` count).
        generation: u32,
    },
}

impl EventItem {
    /// The packet, for [`EventItem::Event`] and [`EventItem::ListItem`].
    pub fn packet(&self) -> Option<&Packet> {
        match self {
            EventItem::Event(p) | EventItem::ListItem { item: p, .. } => Some(p),
            _ => None,
        }
    }

    /// The packet, if this is an [`EventItem::Event`].
    pub fn into_event(self) -> Option<Packet> {
        match self {
            EventItem::Event(p) => Some(p),
            _ => None,
        }
    }

    /// Whether a lossy queue may drop this item (and count it in
    /// [`EventItem::Lagged`]): events and skipped-packet reports.
    pub fn is_droppable(&self) -> bool {
        matches!(self, EventItem::Event(_) | EventItem::Skipped(_))
    }
}

/// Items waiting for a reader, under an [`Overflow`] policy.
///
/// Events and the items that are never dropped are kept in two lanes; each
/// kept item remembers how many events were pushed before it, so the order
/// of arrival is restored on the way out, and a `Lagged` report lands
/// exactly where its events were: push and pop are O(1).
#[derive(Debug)]
pub struct EventQueue {
    capacity: Option<usize>,
    /// Droppable items, oldest first.
    events: VecDeque<EventItem>,
    /// Items never dropped, each with the number of events pushed before it.
    kept: VecDeque<(u64, EventItem)>,
    /// Events pushed so far.
    pushed: u64,
    /// Events before this index were handed out or reported as lagged.
    reported: u64,
    /// Events dropped so far.
    lagged_total: u64,
    /// Events held for the reader outside this queue, counted toward the
    /// capacity.
    held: usize,
}

impl EventQueue {
    /// An empty queue with this policy.
    pub fn new(overflow: Overflow) -> EventQueue {
        EventQueue {
            capacity: overflow.capacity(),
            events: VecDeque::new(),
            kept: VecDeque::new(),
            pushed: 0,
            reported: 0,
            lagged_total: 0,
            held: 0,
        }
    }

    /// The policy in force.
    pub fn overflow(&self) -> Overflow {
        match self.capacity {
            Some(capacity) => Overflow::Lossy { capacity },
            None => Overflow::Lossless,
        }
    }

    /// Index of the oldest waiting event (`pushed` when none waits).
    #[inline]
    fn front(&self) -> u64 {
        self.pushed - self.events.len() as u64
    }

    /// Add an item at the back, applying the policy: in a full lossy queue
    /// the oldest waiting event is dropped (and counted) to make room.
    #[inline]
    pub fn push(&mut self, item: EventItem) {
        if !item.is_droppable() {
            return self.push_kept(item);
        }
        if let Some(capacity) = self.capacity {
            let room = capacity.saturating_sub(self.held);
            if self.events.len() >= room {
                return self.push_full(item, room);
            }
        }
        self.events.push_back(item);
        self.pushed += 1;
    }

    /// Push every item of `items` in order, leaving it empty: the same as
    /// [`EventQueue::push`] of each in turn. A batch of events that fits
    /// whole (always, when lossless) moves in one go.
    pub fn push_all(&mut self, items: &mut VecDeque<EventItem>) {
        let fits = match self.capacity {
            None => true,
            Some(capacity) => self.events.len() + items.len() <= capacity.saturating_sub(self.held),
        };
        if fits && items.iter().all(EventItem::is_droppable) {
            self.pushed += items.len() as u64;
            if self.events.is_empty() {
                // A reader that keeps up: hand the batch's buffer over
                // rather than copy every item (`items` keeps ours).
                std::mem::swap(&mut self.events, items);
            } else {
                self.events.append(items);
            }
            return;
        }
        for item in items.drain(..) {
            self.push(item);
        }
    }

    /// Push into a full lossy queue: drop the oldest events until the new
    /// one fits in `room`.
    #[cold]
    fn push_full(&mut self, item: EventItem, room: usize) {
        while self.events.len() >= room.max(1) {
            self.events.pop_front();
            self.lagged_total += 1;
        }
        if room == 0 {
            // Everything the bound allows is held outside the queue: the
            // new event is the oldest not taken, and goes at once.
            self.lagged_total += 1;
        } else {
            self.events.push_back(item);
        }
        self.pushed += 1;
        self.fold_front_markers();
    }

    fn push_kept(&mut self, item: EventItem) {
        if let EventItem::Reconnected { generation } = item {
            let (pushed, front) = (self.pushed, self.front());
            if let Some((at, EventItem::Reconnected { generation: g })) = self.kept.back_mut() {
                // No event waits after the last marker: one marker says it.
                if pushed <= front.max(*at) {
                    *at = pushed;
                    *g = generation;
                    return;
                }
            }
        }
        self.kept.push_back((self.pushed, item));
    }

    /// Once every event between the first two kept items is gone, two
    /// reconnect markers there say no more than the later one.
    fn fold_front_markers(&mut self) {
        let front = self.front();
        while self.kept.len() >= 2
            && self.kept[1].0 <= front
            && matches!(self.kept[0].1, EventItem::Reconnected { .. })
            && matches!(self.kept[1].1, EventItem::Reconnected { .. })
        {
            self.kept.pop_front();
        }
    }

    /// The next item in arrival order, with a [`EventItem::Lagged`] first
    /// wherever events were dropped.
    #[inline]
    pub fn pop(&mut self) -> Option<EventItem> {
        let front = self.front();
        if let Some(&(at, _)) = self.kept.front() {
            if at <= front {
                if self.reported < at {
                    let n = at - std::mem::replace(&mut self.reported, at);
                    return Some(EventItem::Lagged(n));
                }
                return self.kept.pop_front().map(|(_, item)| item);
            }
        }
        if self.reported < front {
            let n = front - std::mem::replace(&mut self.reported, front);
            return Some(EventItem::Lagged(n));
        }
        let item = self.events.pop_front()?;
        self.reported = front + 1;
        Some(item)
    }

    /// Move up to `max` items (in order, `Lagged` reports included) to the
    /// back of `out`; returns how many of them are droppable (events and
    /// skipped-packet reports). From a queue of events only, the move is
    /// one bulk copy, and taking everything into an empty `out` a swap.
    pub fn drain_into(&mut self, out: &mut VecDeque<EventItem>, max: usize) -> usize {
        if self.kept.is_empty() && self.reported == self.front() {
            // Events only, no gap to report: move them in one go.
            let n = self.events.len().min(max);
            if out.is_empty() && n == self.events.len() {
                std::mem::swap(out, &mut self.events);
            } else {
                out.extend(self.events.drain(..n));
            }
            self.reported = self.front();
            return n;
        }
        let mut events = 0;
        for _ in 0..max {
            let Some(item) = self.pop() else { break };
            events += usize::from(item.is_droppable());
            out.push_back(item);
        }
        events
    }

    /// Count `n` events held for the reader outside the queue (a batch it
    /// took with [`EventQueue::drain_into`] and has not handed out yet)
    /// toward the capacity, so queue and batch together hold at most
    /// `capacity` events. Held events are never dropped.
    pub fn set_held(&mut self, n: usize) {
        self.held = n;
    }

    /// Items waiting (events, markers, list items; not the `Lagged`
    /// reports).
    pub fn len(&self) -> usize {
        self.events.len() + self.kept.len()
    }

    /// Whether nothing waits, not even a `Lagged` report.
    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.reported == self.pushed
    }

    /// Events waiting (the part a lossy policy bounds).
    pub fn events(&self) -> usize {
        self.events.len()
    }

    /// Events dropped so far (each reported, or about to be, by a
    /// [`EventItem::Lagged`]).
    pub fn lagged_total(&self) -> u64 {
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

    fn drain(q: &mut EventQueue) -> Vec<EventItem> {
        std::iter::from_fn(|| q.pop()).collect()
    }

    #[test]
    fn lossy_reports_the_exact_gap_in_place() {
        let mut q = EventQueue::new(Overflow::Lossy { capacity: 3 });
        for n in 0..10 {
            q.push(ev(n));
        }
        assert_eq!(q.events(), 3);
        assert_eq!(q.pop(), Some(EventItem::Lagged(7)));
        assert_eq!(q.pop(), Some(ev(7)));
        q.push(ev(10));
        q.push(ev(11));
        assert_eq!(q.pop(), Some(EventItem::Lagged(1)));
        assert_eq!(drain(&mut q), [ev(9), ev(10), ev(11)]);
        assert_eq!(q.lagged_total(), 8);
        assert!(q.is_empty());
    }

    #[test]
    fn lossless_keeps_everything() {
        let mut q = EventQueue::new(Overflow::Lossless);
        for n in 0..1000 {
            q.push(ev(n));
        }
        assert_eq!(q.len(), 1000);
        assert_eq!(drain(&mut q), (0..1000).map(ev).collect::<Vec<_>>());
    }

    #[test]
    fn markers_are_never_dropped_nor_counted() {
        let mut q = EventQueue::new(Overflow::Lossy { capacity: 2 });
        q.push(ev(0));
        q.push(ev(1));
        q.push(EventItem::Reconnected { generation: 1 });
        for n in 2..6 {
            q.push(ev(n));
        }
        assert_eq!(
            drain(&mut q),
            [
                EventItem::Lagged(2),
                EventItem::Reconnected { generation: 1 },
                EventItem::Lagged(2),
                ev(4),
                ev(5)
            ]
        );
        assert_eq!(q.lagged_total(), 4);
    }

    #[test]
    fn markers_with_nothing_between_fold_into_the_latest() {
        let mut q = EventQueue::new(Overflow::Lossy { capacity: 1 });
        for g in 1..=1000 {
            q.push(EventItem::Reconnected { generation: g });
            q.push(ev(g));
            q.push(ev(g + 10_000));
        }
        // Every event but the last was dropped: one marker is left.
        assert!(q.len() <= 3, "{}", q.len());
        let out = drain(&mut q);
        assert_eq!(
            out,
            [
                EventItem::Lagged(1998),
                EventItem::Reconnected { generation: 1000 },
                EventItem::Lagged(1),
                ev(11_000)
            ]
        );
    }

    #[test]
    fn list_items_are_never_dropped() {
        let mut q = EventQueue::new(Overflow::Lossy { capacity: 10 });
        let handle = {
            let now = std::time::Instant::now();
            let mut c = crate::Connection::new(crate::Config::new("u", "s"), now);
            c.send(crate::Action::ping(), now).unwrap()
        };
        for n in 0..1000 {
            q.push(EventItem::ListItem {
                handle,
                item: ev(n).into_event().unwrap(),
            });
            q.push(ev(n));
        }
        let out = drain(&mut q);
        let items = out
            .iter()
            .filter(|i| matches!(i, EventItem::ListItem { .. }))
            .count();
        assert_eq!(items, 1000);
        let lagged: u64 = out
            .iter()
            .map(|i| match i {
                EventItem::Lagged(n) => *n,
                _ => 0,
            })
            .sum();
        assert_eq!(lagged, 990);
        assert_eq!(q.lagged_total(), 990);
    }

    #[test]
    fn held_events_count_toward_the_capacity() {
        let mut q = EventQueue::new(Overflow::Lossy { capacity: 4 });
        for n in 0..4 {
            q.push(ev(n));
        }
        let mut batch = VecDeque::new();
        assert_eq!(q.drain_into(&mut batch, 3), 3);
        q.set_held(3);
        for n in 4..8 {
            q.push(ev(n));
        }
        // One slot left beside the three held: only the newest waits.
        assert_eq!(q.events(), 1);
        assert_eq!(drain(&mut q), [EventItem::Lagged(4), ev(7)]);
        q.set_held(4);
        q.push(ev(8));
        assert_eq!(q.events(), 0);
        assert_eq!(drain(&mut q), [EventItem::Lagged(1)]);
        assert_eq!(q.lagged_total(), 5);
    }

    #[test]
    fn drain_into_swaps_or_moves_in_order() {
        let mut q = EventQueue::new(Overflow::Lossless);
        for n in 0..5 {
            q.push(ev(n));
        }
        let mut out = VecDeque::new();
        assert_eq!(q.drain_into(&mut out, usize::MAX), 5);
        assert!(q.is_empty());
        q.push(ev(5));
        q.push(EventItem::Reconnected { generation: 1 });
        q.push(ev(6));
        assert_eq!(q.drain_into(&mut out, 2), 1);
        assert_eq!(q.drain_into(&mut out, 2), 1);
        let got: Vec<_> = out.into_iter().collect();
        assert_eq!(
            got,
            [
                ev(0),
                ev(1),
                ev(2),
                ev(3),
                ev(4),
                ev(5),
                EventItem::Reconnected { generation: 1 },
                ev(6)
            ]
        );
    }
}
