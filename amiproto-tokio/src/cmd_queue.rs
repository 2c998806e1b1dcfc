//! The queue of commands from client handles to the driver: a vector behind
//! a lock that the driver swaps out whole, once per turn, and one wake-up
//! per batch.
//!
//! It keeps what the driver relies on from an unbounded channel: commands
//! come out in the order they went in and none is lost (those still queued
//! when the driver goes away are dropped with it, which resolves their
//! callers); sending fails once the driver has closed the queue; the queue
//! reads as closed to the driver once the last [`CmdSender`] is gone; a
//! [`WeakCmdSender`] sends only while some [`CmdSender`] lives; and
//! [`CmdSender::closed`] waits for the driver's end.
//!
//! Against tokio's unbounded channel, a send is a lock, a push and (for the
//! first command of a batch only) a wake-up, and the driver takes the batch
//! in one swap instead of one pop per command.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

use crate::driver::Cmd;

#[derive(Debug, Default)]
struct Inner {
    cmds: Vec<Cmd>,
    /// The driver, when it waits for commands.
    waker: Option<Waker>,
    /// Live [`CmdSender`]s.
    senders: usize,
    /// The driver closed its end (or dropped it).
    closed: bool,
}

#[derive(Debug, Default)]
struct Shared {
    inner: Mutex<Inner>,
    /// Wakes [`CmdSender::closed`] once the driver's end is closed.
    on_close: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Plain data: nothing a panic elsewhere could leave half-done.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, cmd: Cmd, weak: bool) -> Result<(), Closed> {
        let waker = {
            let mut inner = self.lock();
            if inner.closed || (weak && inner.senders == 0) {
                drop(inner);
                // Dropped outside the lock (a reply it holds may wake).
                drop(cmd);
                return Err(Closed);
            }
            inner.cmds.push(cmd);
            inner.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }
}

/// A send failed: the queue is closed (the command was dropped).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Closed;

/// A client handle's end.
#[derive(Debug)]
pub(crate) struct CmdSender {
    shared: Arc<Shared>,
}

/// An end that does not keep the queue open (see [`CmdSender::downgrade`]).
#[derive(Debug)]
pub(crate) struct WeakCmdSender {
    shared: Arc<Shared>,
}

/// The driver's end.
#[derive(Debug)]
pub(crate) struct CmdReceiver {
    shared: Arc<Shared>,
}

/// A connected pair.
pub(crate) fn channel() -> (CmdSender, CmdReceiver) {
    let shared = Arc::new(Shared::default());
    shared.lock().senders = 1;
    (
        CmdSender {
            shared: shared.clone(),
        },
        CmdReceiver { shared },
    )
}

impl CmdSender {
    /// Queue `cmd` for the driver; fails (dropping it) once the driver's
    /// end is closed.
    pub(crate) fn send(&self, cmd: Cmd) -> Result<(), Closed> {
        self.shared.push(cmd, false)
    }

    /// An end that sends only while a [`CmdSender`] lives.
    pub(crate) fn downgrade(&self) -> WeakCmdSender {
        WeakCmdSender {
            shared: self.shared.clone(),
        }
    }

    /// Whether the driver's end is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Wait until the driver's end is closed.
    pub(crate) async fn closed(&self) {
        loop {
            let notified = self.shared.on_close.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check: a close in between still wakes it.
            notified.as_mut().enable();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

impl Clone for CmdSender {
    fn clone(&self) -> CmdSender {
        self.shared.lock().senders += 1;
        CmdSender {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for CmdSender {
    fn drop(&mut self) {
        let waker = {
            let mut inner = self.shared.lock();
            inner.senders -= 1;
            if inner.senders > 0 {
                return;
            }
            inner.waker.take()
        };
        // The last one: the driver sees the queue end.
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl WeakCmdSender {
    /// Queue `cmd` if a [`CmdSender`] still lives and the driver's end is
    /// open.
    pub(crate) fn send(&self, cmd: Cmd) -> Result<(), Closed> {
        self.shared.push(cmd, true)
    }
}

impl CmdReceiver {
    /// Move every queued command, in order, to the end of `buf` (expected
    /// empty: its room is swapped in for the next batch); `Ready(0)` once
    /// every [`CmdSender`] is gone and nothing is left, or the end is closed.
    pub(crate) fn poll_recv_all(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut Vec<Cmd>,
    ) -> Poll<usize> {
        let mut inner = self.shared.lock();
        if !inner.cmds.is_empty() {
            if buf.is_empty() {
                std::mem::swap(&mut inner.cmds, buf);
            } else {
                buf.append(&mut inner.cmds);
            }
            return Poll::Ready(buf.len());
        }
        if inner.senders == 0 || inner.closed {
            return Poll::Ready(0);
        }
        match &inner.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => inner.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Close the queue: sends fail from now on; the commands already in it
    /// are returned, in order.
    pub(crate) fn close(&mut self) -> Vec<Cmd> {
        let left = {
            let mut inner = self.shared.lock();
            inner.closed = true;
            inner.waker = None;
            std::mem::take(&mut inner.cmds)
        };
        self.shared.on_close.notify_waiters();
        left
    }
}

impl Drop for CmdReceiver {
    fn drop(&mut self) {
        // Dropped here, not with the last sender: their callers resolve now.
        drop(self.close());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_waker::counting_waker;

    fn ids(cmds: &mut Vec<Cmd>) -> Vec<u64> {
        cmds.drain(..)
            .map(|c| match c {
                Cmd::Cancel(id) => id,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn in_order_in_batches_with_one_wake_up_each() {
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = channel();
        let tx2 = tx.clone();
        let mut buf = Vec::new();
        assert!(rx.poll_recv_all(&mut cx, &mut buf).is_pending());
        for id in 0..5 {
            let from = if id % 2 == 0 { &tx } else { &tx2 };
            from.send(Cmd::Cancel(id)).unwrap();
        }
        assert_eq!(count.get(), 1, "one wake-up per batch");
        assert_eq!(rx.poll_recv_all(&mut cx, &mut buf), Poll::Ready(5));
        assert_eq!(ids(&mut buf), [0, 1, 2, 3, 4]);
        // Nothing queued: waits again, and the next batch wakes it again.
        assert!(rx.poll_recv_all(&mut cx, &mut buf).is_pending());
        tx.downgrade().send(Cmd::Cancel(5)).unwrap();
        tx2.send(Cmd::Cancel(6)).unwrap();
        assert_eq!(count.get(), 2);
        assert_eq!(rx.poll_recv_all(&mut cx, &mut buf), Poll::Ready(2));
        assert_eq!(ids(&mut buf), [5, 6]);
    }

    #[test]
    fn ends_once_the_last_sender_is_gone_after_what_it_sent() {
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = channel();
        let weak = tx.downgrade();
        let tx2 = tx.clone();
        let mut buf = Vec::new();
        assert!(rx.poll_recv_all(&mut cx, &mut buf).is_pending());
        drop(tx);
        assert!(rx.poll_recv_all(&mut cx, &mut buf).is_pending(), "one left");
        tx2.send(Cmd::Cancel(1)).unwrap();
        drop(tx2);
        assert!(weak.send(Cmd::Cancel(2)).is_err(), "no sender left");
        assert_eq!(rx.poll_recv_all(&mut cx, &mut buf), Poll::Ready(1));
        assert_eq!(ids(&mut buf), [1]);
        assert_eq!(rx.poll_recv_all(&mut cx, &mut buf), Poll::Ready(0));
    }

    #[test]
    fn closing_fails_later_sends_and_hands_back_what_was_queued() {
        let (tx, mut rx) = channel();
        tx.send(Cmd::Cancel(1)).unwrap();
        tx.send(Cmd::Cancel(2)).unwrap();
        assert!(!tx.is_closed());
        let mut left = rx.close();
        assert_eq!(ids(&mut left), [1, 2]);
        assert!(tx.is_closed());
        assert_eq!(tx.send(Cmd::Cancel(3)), Err(Closed));
        assert!(tx.downgrade().send(Cmd::Cancel(4)).is_err());
    }

    #[test]
    fn a_dropped_driver_end_resolves_queued_callers() {
        let (tx, rx) = channel();
        let (done, mut call) = crate::completion::pair();
        tx.send(Cmd::Send {
            id: 0,
            action: amiproto::Action::ping(),
            timeout: None,
            reply: crate::driver::Reply::Outcome(done),
            remember: None,
        })
        .unwrap();
        let (_, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(call.poll(&mut cx).is_pending());
        drop(rx);
        assert!(tx.is_closed());
        assert!(matches!(call.poll(&mut cx), Poll::Ready(None)), "resolved");
    }

    #[tokio::test]
    async fn closed_waits_for_the_driver_end() {
        let (tx, mut rx) = channel();
        let tx = Arc::new(tx);
        let waiting = tokio::spawn({
            let tx = tx.clone();
            async move { tx.closed().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        rx.close();
        tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
            .await
            .expect("closed() returned")
            .unwrap();
        // Already closed: at once.
        tx.closed().await;
    }
}
