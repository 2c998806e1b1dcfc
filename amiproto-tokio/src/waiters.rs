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

/// One waiting caller's entry.
#[derive(Debug)]
struct Entry {
    handle: ActionHandle,
    /// The caller id, when ids came in order; else a copy of the previous
    /// entry's key, which keeps keys sorted.
    key: u64,
    /// The caller id, when it came out of order (then also in `strays`).
    stray: Option<u64>,
    /// `None` once finished or cancelled.
    waiter: Option<Waiter>,
}

/// The waiting callers in submission order, sorted by handle: handles only
/// grow (by generation, then sequence), and outcomes mostly come back in
/// that order, so the one finishing is usually at the front, else found by
/// binary search — no hashing per action.
///
/// Caller ids mostly grow in the same order (one counter per client, and
/// commands come through one channel in order), so a cancel finds its
/// caller by binary search on the ids too. An id that comes out of order
/// (callers on several threads) goes to a small map instead, and its entry
/// keeps the keys sorted with a copy of the key before it.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    order: VecDeque<Entry>,
    /// Caller ids that came out of order, with their handles.
    strays: IdMap<u64, ActionHandle>,
    /// The largest in-order caller id so far.
    last_key: Option<u64>,
    /// Entries of `order` whose waiter was taken.
    dead: usize,
}

impl Waiters {
    pub(crate) fn insert(&mut self, id: u64, handle: ActionHandle, waiter: Waiter) {
        let at_back = self.order.back().is_none_or(|e| e.handle < handle);
        if at_back && self.last_key.is_none_or(|k| k < id) {
            self.last_key = Some(id);
            self.order.push_back(Entry {
                handle,
                key: id,
                stray: None,
                waiter: Some(waiter),
            });
            return;
        }
        // Not expected for handles (they grow), but stay sorted whatever.
        let at = if at_back {
            self.order.len()
        } else {
            self.order.partition_point(|e| e.handle < handle)
        };
        let key = at.checked_sub(1).map_or(0, |i| self.order[i].key);
        self.strays.insert(id, handle);
        self.order.insert(
            at,
            Entry {
                handle,
                key,
                stray: Some(id),
                waiter: Some(waiter),
            },
        );
    }

    /// Where `handle`'s entry is in `order`.
    fn position(&self, handle: ActionHandle) -> Option<usize> {
        match self.order.front() {
            Some(e) if e.handle == handle => Some(0),
            _ => self.order.binary_search_by_key(&handle, |e| e.handle).ok(),
        }
    }

    /// Take the waiter of the entry at `at`, if it still waits (`id`: the
    /// caller id, when a cancel already took it out of `strays`).
    fn take_at(&mut self, at: usize, id: Option<u64>) -> Option<Waiter> {
        let entry = &mut self.order[at];
        let waiter = entry.waiter.take()?;
        if let (Some(stray), None) = (entry.stray, id) {
            self.strays.remove(&stray);
        }
        self.dead += 1;
        while self.order.front().is_some_and(|e| e.waiter.is_none()) {
            self.order.pop_front();
            self.dead -= 1;
        }
        // Finished entries stuck behind a long-running one: compact once
        // they are the majority, so memory stays bounded by the live ones.
        if self.dead > 64 && self.dead * 2 > self.order.len() {
            self.order.retain(|e| e.waiter.is_some());
            self.dead = 0;
        }
        Some(waiter)
    }

    /// The caller waiting for `handle`'s outcome, if any.
    pub(crate) fn take(&mut self, handle: ActionHandle) -> Option<Waiter> {
        let at = self.position(handle)?;
        self.take_at(at, None)
    }

    /// The stream of `handle`'s list, if a caller streams it.
    pub(crate) fn list(&self, handle: ActionHandle) -> Option<&Arc<ListShared>> {
        match &self.order[self.position(handle)?].waiter {
            Some(Waiter::List(list)) => Some(list),
            _ => None,
        }
    }

    /// Forget caller `id`; the handle of its action if it was waiting.
    pub(crate) fn cancel(&mut self, id: u64) -> Option<ActionHandle> {
        if !self.strays.is_empty() {
            if let Some(handle) = self.strays.remove(&id) {
                let at = self.position(handle)?;
                self.take_at(at, Some(id))?;
                return Some(handle);
            }
        }
        let from = self.order.partition_point(|e| e.key < id);
        let at = (from..self.order.len())
            .take_while(|&i| self.order[i].key == id)
            .find(|&i| self.order[i].stray.is_none())?;
        let handle = self.order[at].handle;
        self.take_at(at, Some(id))?;
        Some(handle)
    }

    /// Every waiting caller, leaving none.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Waiter> + '_ {
        self.dead = 0;
        self.strays.clear();
        self.order.drain(..).filter_map(|e| e.waiter)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.order.len() - self.dead
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
        let left: Vec<_> = w.drain().collect();
        assert_eq!(left.len(), 2);
        assert!(w.order.is_empty() && w.strays.is_empty());
    }

    #[test]
    fn cancels_find_callers_whose_ids_came_out_of_order() {
        // Callers on several threads: ids reach the driver out of order.
        let h = handles(8);
        let ids = [10u64, 12, 11, 13, 2, 14, 15, 3];
        let mut w = Waiters::default();
        for (id, handle) in ids.iter().zip(&h) {
            let (tx, _rx) = waiter();
            w.insert(*id, *handle, tx);
        }
        assert_eq!(w.strays.len(), 3, "11, 2 and 3 came out of order");
        // Each cancel gives its own caller's handle back, once.
        for (i, id) in [(2, 11u64), (4, 2), (3, 13), (7, 3), (0, 10)] {
            assert_eq!(w.cancel(id), Some(h[i]), "id {id}");
            assert_eq!(w.cancel(id), None, "id {id} twice");
            assert!(w.take(h[i]).is_none());
        }
        assert_eq!(w.cancel(99), None);
        assert_eq!(w.cancel(1), None);
        // The rest finish by handle, strays leave the map with them.
        assert!(w.take(h[1]).is_some());
        assert!(w.take(h[5]).is_some());
        assert_eq!(w.cancel(15), Some(h[6]));
        assert_eq!(w.len(), 0);
        assert!(w.strays.is_empty() && w.order.is_empty());
        // A stray finished by its handle is forgotten by id too.
        let (tx, _rx) = waiter();
        let more = handles(12);
        w.insert(20, more[10], tx);
        let (tx, _rx) = waiter();
        w.insert(19, more[11], tx);
        assert!(w.take(more[11]).is_some());
        assert!(w.strays.is_empty());
        assert_eq!(w.cancel(19), None);
        assert_eq!(w.cancel(20), Some(more[10]));
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
        assert!(w.order.is_empty() && w.strays.is_empty());
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
