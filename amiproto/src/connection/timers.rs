//! Action deadlines, with lazy deletion.
//!
//! Most deadlines arrive in order (same default timeout, time moving
//! forward): those go to a FIFO, where adding and dropping one is O(1). A
//! deadline earlier than the FIFO's last goes to a min-heap instead. The
//! earliest deadline is the smaller of the two fronts.
//!
//! Entries are never removed when an action finishes; an entry whose action
//! is gone (or whose deadline changed) is simply ignored when it comes up.
//! Stale entries at the fronts go whenever the earliest deadline is asked
//! for, and the connection sweeps everything once more than twice the
//! pending actions (plus a constant) are held, so memory stays proportional
//! to what is pending even if nobody asks.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    fifo: VecDeque<(Instant, u64)>,
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
}

impl Deadlines {
    pub(crate) fn push(&mut self, at: Instant, seq: u64) {
        match self.fifo.back() {
            Some(&(last, _)) if at < last => self.heap.push(Reverse((at, seq))),
            _ => self.fifo.push_back((at, seq)),
        }
    }

    /// The earliest entry for which `live(seq, at)` holds, dropping stale
    /// entries on the way.
    pub(crate) fn earliest(
        &mut self,
        mut live: impl FnMut(u64, Instant) -> bool,
    ) -> Option<Instant> {
        while let Some(&(at, seq)) = self.fifo.front() {
            if live(seq, at) {
                break;
            }
            self.fifo.pop_front();
        }
        while let Some(&Reverse((at, seq))) = self.heap.peek() {
            if live(seq, at) {
                break;
            }
            self.heap.pop();
        }
        let a = self.fifo.front().map(|&(at, _)| at);
        let b = self.heap.peek().map(|&Reverse((at, _))| at);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Pop the next entry due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, u64)> {
        let a = self.fifo.front().copied();
        let b = self.heap.peek().map(|&Reverse(e)| e);
        match (a, b) {
            (Some(a), Some(b)) if b < a => (b.0 <= now).then(|| {
                self.heap.pop();
                b
            }),
            (Some(a), _) => (a.0 <= now).then(|| {
                self.fifo.pop_front();
                a
            }),
            (None, Some(b)) => (b.0 <= now).then(|| {
                self.heap.pop();
                b
            }),
            (None, None) => None,
        }
    }

    /// Entries held, stale ones included.
    pub(crate) fn len(&self) -> usize {
        self.fifo.len() + self.heap.len()
    }

    /// Keep only the entries for which `live(seq, at)` holds.
    pub(crate) fn retain(&mut self, mut live: impl FnMut(u64, Instant) -> bool) {
        self.fifo.retain(|&(at, seq)| live(seq, at));
        self.heap.retain(|Reverse((at, seq))| live(*seq, *at));
    }

    pub(crate) fn clear(&mut self) {
        self.fifo.clear();
        self.heap.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn in_and_out_of_order_deadlines_come_out_sorted() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut d = Deadlines::default();
        for (ms, seq) in [(10, 0), (20, 1), (5, 2), (20, 3), (15, 4), (30, 5)] {
            d.push(at(ms), seq);
        }
        assert_eq!(d.len(), 6);
        assert_eq!(d.earliest(|_, _| true), Some(at(5)));
        let mut out = Vec::new();
        while let Some((t, seq)) = d.pop_due(at(25)) {
            out.push((t.duration_since(t0).as_millis(), seq));
        }
        assert_eq!(out, [(5, 2), (10, 0), (15, 4), (20, 1), (20, 3)]);
        assert_eq!(d.earliest(|_, _| true), Some(at(30)));
        // Stale entries are skipped and dropped.
        d.push(at(40), 6);
        assert_eq!(d.earliest(|seq, _| seq != 5), Some(at(40)));
        assert_eq!(d.len(), 1);
        d.retain(|_, _| false);
        assert_eq!(d.earliest(|_, _| true), None);
    }
}
