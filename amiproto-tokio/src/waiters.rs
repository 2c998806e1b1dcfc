//! Callers waiting for an action's outcome, found by caller id (to cancel)
//! and by the core's handle (when the outcome, or a streamed list item,
//! comes in).

use std::collections::VecDeque;
use std::sync::Arc;

use std::task::Waker;

use amiproto::ActionHandle;

use crate::completion::{CallResult, Completer};
use crate::id_hash::IdMap;
use crate::list::ListShared;

/// One waiting caller.
#[derive(Debug)]
pub(crate) enum Waiter {
    /// One outcome.
    Once(Completer),
    /// A streamed list: its items, then its outcome.
    List(Arc<ListShared>),
}

impl Waiter {
    /// Hand the caller its outcome; returns the waker to wake once the
    /// batch is handed out.
    #[must_use = "wake the returned waker"]
    pub(crate) fn finish(self, result: CallResult) -> Option<Waker> {
        match self {
            Waiter::Once(tx) => tx.complete(result),
            Waiter::List(list) => list.finish(result),
        }
    }
}

/// One hash map by caller id, plus the handles in submission order: handles
/// only grow (by generation, then sequence), and outcomes mostly come back
/// in that order, so the one finishing is usually at the front, else found
/// by binary search — one hash insert and one removal per action instead
/// of two of each.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    by_id: IdMap<u64, (ActionHandle, Waiter)>,
    /// `(handle, caller id)` sorted by handle; the id is taken once the
    /// action is finished or cancelled.
    order: VecDeque<(ActionHandle, Option<u64>)>,
    /// Entries of `order` whose id was taken.
    dead: usize,
}

impl Waiters {
    pub(crate) fn insert(&mut self, id: u64, handle: ActionHandle, waiter: Waiter) {
        self.by_id.insert(id, (handle, waiter));
        if self.order.back().is_none_or(|(last, _)| *last < handle) {
            self.order.push_back((handle, Some(id)));
        } else {
            // Not expected (handles grow), but stay sorted whatever.
            let at = self.order.partition_point(|(h, _)| *h < handle);
            self.order.insert(at, (handle, Some(id)));
        }
    }

    /// Where `handle`'s entry is in `order`.
    fn position(&self, handle: ActionHandle) -> Option<usize> {
        match self.order.front() {
            Some((h, _)) if *h == handle => Some(0),
            _ => self.order.binary_search_by_key(&handle, |(h, _)| *h).ok(),
        }
    }

    /// Mark `handle`'s entry finished; its caller id if it was waiting.
    fn retire(&mut self, handle: ActionHandle) -> Option<u64> {
        let at = self.position(handle)?;
        let id = self.order[at].1.take()?;
        self.dead += 1;
        while self.order.front().is_some_and(|(_, id)| id.is_none()) {
            self.order.pop_front();
            self.dead -= 1;
        }
        // Finished entries stuck behind a long-running one: compact once
        // they are the majority, so memory stays bounded by the live ones.
        if self.dead > 64 && self.dead * 2 > self.order.len() {
            self.order.retain(|(_, id)| id.is_some());
            self.dead = 0;
        }
        Some(id)
    }

    /// The caller waiting for `handle`'s outcome, if any.
    pub(crate) fn take(&mut self, handle: ActionHandle) -> Option<Waiter> {
        let id = self.retire(handle)?;
        self.by_id.remove(&id).map(|(_, w)| w)
    }

    /// The stream of `handle`'s list, if a caller streams it.
    pub(crate) fn list(&self, handle: ActionHandle) -> Option<&Arc<ListShared>> {
        let id = self.order[self.position(handle)?].1?;
        match self.by_id.get(&id) {
            Some((_, Waiter::List(list))) => Some(list),
            _ => None,
        }
    }

    /// Forget caller `id`; the handle of its action if it was waiting.
    pub(crate) fn cancel(&mut self, id: u64) -> Option<ActionHandle> {
        let (handle, _waiter) = self.by_id.remove(&id)?;
        self.retire(handle);
        Some(handle)
    }

    /// Every waiting caller, leaving none.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Waiter> + '_ {
        self.order.clear();
        self.dead = 0;
        self.by_id.drain().map(|(_, (_, w))| w)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amiproto::Action;

    /// Handles in increasing order, from a core connection.
    fn handles(n: usize) -> Vec<ActionHandle> {
        let cfg = amiproto::Config::new("u", "s");
        let now = std::time::Instant::now();
        let mut conn = amiproto::Connection::with_generation(cfg, 0, now);
        (0..n)
            .map(|_| conn.send(Action::ping(), now).unwrap())
            .collect()
    }

    fn waiter() -> (Waiter, crate::completion::Completion) {
        let (tx, rx) = crate::completion::pair();
        (Waiter::Once(tx), rx)
    }

    #[test]
    fn in_order_out_of_order_and_cancelled() {
        let h = handles(6);
        let mut w = Waiters::default();
        let mut rxs = Vec::new();
        for (i, handle) in h.iter().enumerate() {
            let (tx, rx) = waiter();
            w.insert(100 + i as u64, *handle, tx);
            rxs.push(rx);
        }
        // Out of order: the third finishes first.
        assert!(w.take(h[2]).is_some());
        assert!(w.take(h[2]).is_none(), "finished twice");
        // Cancel by caller id gives the handle back, once.
        assert_eq!(w.cancel(101), Some(h[1]));
        assert_eq!(w.cancel(101), None);
        assert!(w.take(h[1]).is_none(), "cancelled action still waited for");
        // In order.
        assert!(w.take(h[0]).is_some());
        assert!(w.take(h[3]).is_some());
        assert_eq!(w.len(), 2);
        // Only the live entries are left once the front is finished.
        assert_eq!(w.order.len(), 2);
        assert_eq!(w.order.len() - w.dead, w.len());
        let left: Vec<_> = w.drain().collect();
        assert_eq!(left.len(), 2);
        assert!(w.order.is_empty() && w.by_id.is_empty());
    }

    #[test]
    fn stay_bounded_behind_a_long_running_action() {
        let h = handles(10_000);
        let mut w = Waiters::default();
        let (tx, _rx0) = waiter();
        w.insert(0, h[0], tx);
        let mut keep = Vec::new();
        for (i, handle) in h.iter().enumerate().skip(1) {
            let (tx, rx) = waiter();
            keep.push(rx);
            w.insert(i as u64, *handle, tx);
            assert!(w.take(*handle).is_some());
            assert!(w.order.len() <= 2 * 65 + 1, "{} entries", w.order.len());
        }
        // The long-running one is still found.
        assert!(w.take(h[0]).is_some());
        assert!(w.order.is_empty() && w.by_id.is_empty());
    }

    #[test]
    fn a_streamed_list_is_found_by_handle_until_taken() {
        let h = handles(3);
        let mut w = Waiters::default();
        let (a, _ra) = waiter();
        w.insert(1, h[0], a);
        w.insert(2, h[1], Waiter::List(Arc::default()));
        assert!(w.list(h[0]).is_none(), "not a list");
        assert!(w.list(h[1]).is_some());
        assert!(w.list(h[2]).is_none(), "unknown");
        assert!(matches!(w.take(h[1]), Some(Waiter::List(_))));
        assert!(w.list(h[1]).is_none());
    }
}
