//! Action deadlines: a min-heap with lazy deletion.
//!
//! Entries are never removed when an action finishes; a popped entry whose
//! action is gone (or whose deadline changed) is simply ignored. Each action
//! pushes at most two entries (its timeout, then its drain grace), so the
//! heap stays proportional to the actions sent.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
}

impl Deadlines {
    pub(crate) fn push(&mut self, at: Instant, seq: u64) {
        self.heap.push(Reverse((at, seq)));
    }

    /// The earliest entry for which `live(seq, at)` holds, dropping stale
    /// entries on the way.
    pub(crate) fn earliest(
        &mut self,
        mut live: impl FnMut(u64, Instant) -> bool,
    ) -> Option<Instant> {
        while let Some(&Reverse((at, seq))) = self.heap.peek() {
            if live(seq, at) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Pop the next entry due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, u64)> {
        match self.heap.peek() {
            Some(&Reverse((at, seq))) if at <= now => {
                self.heap.pop();
                Some((at, seq))
            }
            _ => None,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }
}
