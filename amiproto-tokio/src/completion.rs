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

/// A connected pair.
pub(crate) fn pair() -> (Completer, Completion) {
    let slot = Arc::new(Slot::default());
    (
        Completer {
            slot: Some(slot.clone()),
        },
        Completion { slot },
    )
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn stores_first_and_hands_back_the_waker() {
        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = pair();
        assert!(rx.poll(&mut cx).is_pending());
        let w = tx
            .complete(Err(Error::NotConnected))
            .expect("a waiting caller");
        assert_eq!(count.0.load(Ordering::SeqCst), 0, "not woken yet");
        assert!(matches!(rx.poll(&mut cx), Poll::Ready(Some(Err(_)))));
        w.wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn ready_without_a_wait_and_dropped_ends() {
        let waker = Waker::from(Arc::new(Count::default()));
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = pair();
        assert!(
            tx.complete(Err(Error::NotConnected)).is_none(),
            "no one waited"
        );
        assert!(matches!(rx.poll(&mut cx), Poll::Ready(Some(_))));

        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = pair();
        assert!(rx.poll(&mut cx).is_pending());
        drop(tx);
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken by the drop");
        assert!(matches!(rx.poll(&mut cx), Poll::Ready(None)));

        let (tx, rx) = pair();
        drop(rx);
        assert!(tx.complete(Err(Error::NotConnected)).is_none());
    }
}
