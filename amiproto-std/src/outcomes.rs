//! Outcomes waiting to be collected, by action handle.
//!
//! Handles only grow (by generation, then sequence) and outcomes mostly
//! arrive and are collected in submission order, so the table is a queue
//! in handle order: the entry asked for is usually at the front, else found
//! by binary search — no hashing. An outcome is large (a response packet,
//! a list), so a waiting entry holds no room for it: arrived outcomes are
//! boxed, and the boxes are reused rather than freed and allocated again
//! for every action.

use std::collections::VecDeque;

use amiproto::{ActionError, ActionHandle, Outcome};

/// What an action ends with.
pub(crate) type ActionResult = Result<Outcome, ActionError>;

/// Boxes kept for reuse (an outcome is a few hundred bytes: at most this
/// many times that stays allocated).
const SPARE_BOXES: usize = 256;

/// Collected or dropped entries behind a waiting one are compacted away
/// once there are this many and they are the majority.
const COMPACT_AFTER: usize = 64;

#[derive(Debug)]
enum Slot {
    /// Submitted, no outcome yet.
    Waiting,
    /// The outcome, not collected yet (the box always holds `Some`).
    Done(Box<Option<ActionResult>>),
    /// Collected or no longer wanted.
    Gone,
}

/// The outcomes of tracked actions, in handle order.
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    slots: VecDeque<(ActionHandle, Slot)>,
    /// Entries that are [`Slot::Gone`].
    gone: usize,
    /// Emptied boxes, kept to be filled again (the point is the
    /// allocations themselves, hence a vector of boxes).
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Option<ActionResult>>>,
}

impl Outcomes {
    /// Track `handle`, waiting for its outcome.
    pub(crate) fn insert(&mut self, handle: ActionHandle) {
        if self.slots.back().is_none_or(|(last, _)| *last < handle) {
            self.slots.push_back((handle, Slot::Waiting));
        } else {
            // Not expected (handles grow), but stay sorted whatever.
            let at = self.slots.partition_point(|(h, _)| *h < handle);
            if self.slots.get(at).is_some_and(|(h, _)| *h == handle) {
                if matches!(self.slots[at].1, Slot::Gone) {
                    self.gone -= 1;
                }
                self.slots[at].1 = Slot::Waiting;
            } else {
                self.slots.insert(at, (handle, Slot::Waiting));
            }
        }
    }

    /// Where `handle` is. Sequence numbers of one connection are dense
    /// but for the actions the client does not track (its own, fire and
    /// forget), so its place is first guessed from the front's.
    #[inline]
    fn find(&self, handle: ActionHandle) -> Option<usize> {
        let (front, _) = self.slots.front()?;
        if front.generation() == handle.generation() {
            let guess = handle.seq().wrapping_sub(front.seq()) as usize;
            if self.slots.get(guess).is_some_and(|(h, _)| *h == handle) {
                return Some(guess);
            }
        }
        self.slots.binary_search_by_key(&handle, |(h, _)| *h).ok()
    }

    /// The outcome of `handle` arrived; dropped unless `handle` is waiting.
    pub(crate) fn fill(&mut self, handle: ActionHandle, result: ActionResult) {
        let Some(at) = self.find(handle) else {
            return;
        };
        let slot = &mut self.slots[at].1;
        if !matches!(slot, Slot::Waiting) {
            return;
        }
        *slot = Slot::Done(match self.spare.pop() {
            Some(mut b) => {
                *b = Some(result);
                b
            }
            None => Box::new(Some(result)),
        });
    }

    /// `None`: `handle` is not tracked (never, or collected, or dropped);
    /// `Some(None)`: still waiting; `Some(Some(outcome))`: here it is, and
    /// `handle` is no longer tracked.
    pub(crate) fn take(&mut self, handle: ActionHandle) -> Option<Option<ActionResult>> {
        let at = self.find(handle)?;
        match &mut self.slots[at].1 {
            Slot::Waiting => Some(None),
            Slot::Gone => None,
            Slot::Done(b) => {
                let result = b.take();
                let Slot::Done(b) = std::mem::replace(&mut self.slots[at].1, Slot::Gone) else {
                    unreachable!("matched above")
                };
                if self.spare.len() < SPARE_BOXES {
                    self.spare.push(b);
                }
                self.retire();
                Some(result)
            }
        }
    }

    /// Stop tracking `handle`; whether it was tracked.
    pub(crate) fn remove(&mut self, handle: ActionHandle) -> bool {
        let Some(at) = self.find(handle) else {
            return false;
        };
        if matches!(self.slots[at].1, Slot::Gone) {
            return false;
        }
        self.slots[at].1 = Slot::Gone;
        self.retire();
        true
    }

    /// One more entry is gone: drop gone entries from the front, and
    /// compact when they pile up behind a long-waiting one.
    fn retire(&mut self) {
        self.gone += 1;
        while self
            .slots
            .front()
            .is_some_and(|(_, s)| matches!(s, Slot::Gone))
        {
            self.slots.pop_front();
            self.gone -= 1;
        }
        if self.gone > COMPACT_AFTER && self.gone * 2 > self.slots.len() {
            self.slots.retain(|(_, s)| !matches!(s, Slot::Gone));
            self.gone = 0;
        }
    }

    /// Entries tracked (waiting or with an outcome to collect).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len() - self.gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amiproto::{Action, Config, Connection, Packet};
    use std::time::Instant;

    fn handles(n: usize) -> Vec<ActionHandle> {
        let now = Instant::now();
        let mut conn = Connection::new(Config::new("u", "s"), now);
        (0..n)
            .map(|_| conn.send(Action::ping(), now).unwrap())
            .collect()
    }

    fn pong(n: usize) -> ActionResult {
        Ok(Outcome::Response(
            Packet::builder()
                .header("Response", "Success")
                .header("N", n.to_string())
                .build()
                .unwrap(),
        ))
    }

    fn n(r: ActionResult) -> usize {
        r.unwrap().packet().get_str("N").unwrap().parse().unwrap()
    }

    #[test]
    fn in_order_out_of_order_removed_and_unknown() {
        let h = handles(5);
        let mut o = Outcomes::default();
        for &x in &h {
            o.insert(x);
        }
        assert!(matches!(o.take(h[0]), Some(None)), "waiting");
        o.fill(h[2], pong(2));
        o.fill(h[0], pong(0));
        assert_eq!(n(o.take(h[2]).unwrap().unwrap()), 2);
        assert!(o.take(h[2]).is_none(), "collected twice");
        assert_eq!(n(o.take(h[0]).unwrap().unwrap()), 0);
        assert!(o.remove(h[1]));
        assert!(!o.remove(h[1]));
        o.fill(h[1], pong(1));
        assert!(
            o.take(h[1]).is_none(),
            "an outcome for a dropped handle is not kept"
        );
        assert_eq!(o.len(), 2);
        let other = handles(1)[0];
        o.fill(h[4], pong(4));
        o.fill(h[3], pong(3));
        assert_eq!(n(o.take(h[4]).unwrap().unwrap()), 4);
        assert_eq!(n(o.take(h[3]).unwrap().unwrap()), 3);
        assert!(o.take(other).is_none());
        assert_eq!(o.len(), 0);
        assert!(o.slots.is_empty());
    }

    #[test]
    fn stays_bounded_behind_a_long_running_action() {
        let h = handles(10_000);
        let mut o = Outcomes::default();
        o.insert(h[0]);
        for (i, &x) in h.iter().enumerate().skip(1) {
            o.insert(x);
            o.fill(x, pong(i));
            assert_eq!(n(o.take(x).unwrap().unwrap()), i);
            assert!(
                o.slots.len() <= 2 * (COMPACT_AFTER + 1) + 1,
                "{}",
                o.slots.len()
            );
        }
        assert!(o.spare.len() <= SPARE_BOXES);
        o.fill(h[0], pong(0));
        assert_eq!(n(o.take(h[0]).unwrap().unwrap()), 0);
        assert!(o.slots.is_empty());
    }

    #[test]
    fn handles_out_of_order_stay_sorted() {
        let h = handles(4);
        let mut o = Outcomes::default();
        o.insert(h[3]);
        o.insert(h[1]);
        o.insert(h[2]);
        o.insert(h[0]);
        for (i, &x) in h.iter().enumerate() {
            o.fill(x, pong(i));
        }
        for (i, &x) in h.iter().enumerate().rev() {
            assert_eq!(n(o.take(x).unwrap().unwrap()), i);
        }
    }
}
