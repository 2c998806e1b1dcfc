//! The one-shot hand-over of an action's outcome from the driver to its
//! caller, with the wake-up separate from the hand-over.
//!
//! Unlike a oneshot channel, [`Completer::complete`] stores the outcome and
//! returns the caller's waker instead of waking it: the driver stores every
//! outcome of one read first and wakes their callers afterwards. A caller
//! woken by the first of them (one task awaiting many calls, say through
//! `FuturesUnordered` or `join_all`) then finds them all ready and takes
//! them in one run, rather than going back to sleep after each one and
//! being woken again (a system call whenever its thread had parked).

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use amiproto::Outcome;

use crate::Error;

/// What a finished call yields.
pub(crate) type CallResult = Result<Outcome, Error>;

#[derive(Debug, Default)]
struct State {
    result: Option<CallResult>,
    waker: Option<Waker>,
    /// The driver's end is gone without an outcome.
    abandoned: bool,
}

#[derive(Debug, Default)]
struct Slot {
    state: Mutex<State>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain data: nothing a panic elsewhere could leave half-done.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The driver's end: stores the outcome once.
#[derive(Debug)]
pub(crate) struct Completer {
    slot: Option<Arc<Slot>>,
}

/// The caller's end: polled for the outcome.
#[derive(Debug)]
pub(crate) struct Completion {
    slot: Arc<Slot>,
}

/// A connected pair, on a new slot.
#[cfg(test)]
pub(crate) fn pair() -> (Completer, Completion) {
    let slot = Arc::new(Slot::default());
    (
        Completer {
            slot: Some(slot.clone()),
        },
        Completion { slot },
    )
}

/// Most slots a [`SlotPool`] keeps.
const POOL_MAX: usize = 256;

/// Slots of finished calls, for the next calls: taking one is a lock and a
/// pop instead of an allocation, and handing it back a lock and a push
/// instead of freeing it (both ends of a slot live on different sides, so
/// an allocator's per-thread cache does not help).
#[derive(Debug, Default)]
pub(crate) struct SlotPool {
    free: Mutex<Vec<Arc<Slot>>>,
}

impl SlotPool {
    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Slot>>> {
        // Plain data: nothing a panic elsewhere could leave half-done.
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connected pair, on a kept slot if there is one.
    pub(crate) fn pair(&self) -> (Completer, Completion) {
        let slot = self.lock().pop().unwrap_or_default();
        (
            Completer {
                slot: Some(slot.clone()),
            },
            Completion { slot },
        )
    }

    /// Keep `done`'s slot for a later call if its [`Completer`] is gone
    /// (else it is dropped as usual: the driver still holds the other end).
    pub(crate) fn recycle(&self, done: Completion) {
        let mut slot = done.slot;
        let Some(only) = Arc::get_mut(&mut slot) else {
            return;
        };
        // Emptied before it is kept: an outcome never taken, a waker.
        *only.state.get_mut().unwrap_or_else(|e| e.into_inner()) = State::default();
        let mut free = self.lock();
        if free.len() < POOL_MAX {
            free.push(slot);
        }
    }
}

impl Completer {
    /// Store the outcome; returns the waker of a caller waiting for it, to
    /// be woken once the batch is handed out (`None` when no one waits yet
    /// or the caller is gone).
    #[must_use = "wake the returned waker"]
    pub(crate) fn complete(mut self, result: CallResult) -> Option<Waker> {
        let slot = self.slot.take()?;
        if Arc::strong_count(&slot) == 1 {
            // The caller is gone: drop the outcome here.
            return None;
        }
        let mut state = slot.lock();
        state.result = Some(result);
        state.waker.take()
    }

    /// Store the outcome and wake the caller now.
    pub(crate) fn complete_now(self, result: CallResult) {
        if let Some(w) = self.complete(result) {
            w.wake();
        }
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            let waker = {
                let mut state = slot.lock();
                state.abandoned = true;
                state.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl Completion {
    /// The outcome once stored; `Ready(None)` if the driver dropped its end
    /// without one (it ended abruptly).
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<CallResult>> {
        let mut state = self.slot.lock();
        if let Some(r) = state.result.take() {
            return Poll::Ready(Some(r));
        }
        if state.abandoned {
            return Poll::Ready(None);
        }
        match &state.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_waker::counting_waker;

    #[test]
    fn stores_first_and_hands_back_the_waker() {
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = pair();
        assert!(rx.poll(&mut cx).is_pending());
        let w = tx
            .complete(Err(Error::NotConnected))
            .expect("a waiting caller");
        assert_eq!(count.get(), 0, "not woken yet");
        assert!(matches!(rx.poll(&mut cx), Poll::Ready(Some(Err(_)))));
        w.wake();
        assert_eq!(count.get(), 1);
    }

    #[test]
    fn ready_without_a_wait_and_dropped_ends() {
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = pair();
        assert!(
            tx.complete(Err(Error::NotConnected)).is_none(),
            "no one waited"
        );
        assert!(matches!(rx.poll(&mut cx), Poll::Ready(Some(_))));

        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = pair();
        assert!(rx.poll(&mut cx).is_pending());
        drop(tx);
        assert_eq!(count.get(), 1, "woken by the drop");
        assert!(matches!(rx.poll(&mut cx), Poll::Ready(None)));

        let (tx, rx) = pair();
        drop(rx);
        assert!(tx.complete(Err(Error::NotConnected)).is_none());
    }

    #[test]
    fn a_pool_reuses_only_slots_whose_both_ends_are_gone() {
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let pool = SlotPool::default();

        // Finished and taken: kept, and handed out again empty.
        let (tx, mut rx) = pool.pair();
        assert!(rx.poll(&mut cx).is_pending());
        let _ = tx.complete(Err(Error::NotConnected));
        assert!(matches!(rx.poll(&mut cx), Poll::Ready(Some(_))));
        let first = Arc::as_ptr(&rx.slot);
        pool.recycle(rx);
        assert_eq!(pool.lock().len(), 1);
        let (tx, mut rx) = pool.pair();
        assert_eq!(Arc::as_ptr(&rx.slot), first, "the kept slot");
        assert!(rx.poll(&mut cx).is_pending(), "no outcome left in it");
        drop(tx);
        assert!(matches!(rx.poll(&mut cx), Poll::Ready(None)));
        pool.recycle(rx);

        // Finished but never taken: kept, emptied.
        let (tx, rx) = pool.pair();
        let _ = tx.complete(Err(Error::NotConnected));
        pool.recycle(rx);
        let (_tx, mut rx) = pool.pair();
        assert!(rx.poll(&mut cx).is_pending(), "the old outcome is gone");

        // The driver still holds the other end (a cancelled call): not kept,
        // and the driver's end still works.
        assert!(pool.lock().is_empty());
        let (tx, rx) = pool.pair();
        pool.recycle(rx);
        assert!(pool.lock().is_empty(), "in use by the driver");
        assert!(tx.complete(Err(Error::NotConnected)).is_none());
        assert!(pool.lock().is_empty());
    }

    #[test]
    fn a_pool_keeps_a_bounded_number_of_slots() {
        let pool = SlotPool::default();
        let pairs: Vec<_> = (0..POOL_MAX + 10).map(|_| pool.pair()).collect();
        for (tx, rx) in pairs {
            drop(tx);
            pool.recycle(rx);
        }
        assert_eq!(pool.lock().len(), POOL_MAX);
    }
}
