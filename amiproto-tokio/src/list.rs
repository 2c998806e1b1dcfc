//! Streamed event lists: the items of one list action, handed to the caller
//! as they arrive instead of being collected.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use amiproto::{ListOutcome, Outcome, Packet};

use crate::driver::Cmd;
use crate::Error;

/// What the driver and the stream share.
#[derive(Debug, Default)]
pub(crate) struct ListShared {
    inner: Mutex<ListInner>,
}

#[derive(Debug, Default)]
struct ListInner {
    /// Items received and not taken by the reader yet.
    items: VecDeque<Packet>,
    /// The action's outcome, once it finished (after every item).
    end: Option<Result<Outcome, Error>>,
    waker: Option<Waker>,
}

impl ListShared {
    fn lock(&self) -> MutexGuard<'_, ListInner> {
        // Plain data: nothing a panic elsewhere could leave half-done.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue one item (never dropped); the reader is woken by
    /// [`ListShared::wake`] once the whole read is handed out.
    pub(crate) fn push(&self, item: Packet) {
        self.lock().items.push_back(item);
    }

    /// Wake the reader (after one or more pushes).
    pub(crate) fn wake(&self) {
        let waker = self.lock().waker.take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The action finished: nothing follows. Returns the reader's waker,
    /// to wake once the batch is handed out.
    #[must_use = "wake the returned waker"]
    pub(crate) fn finish(&self, result: Result<Outcome, Error>) -> Option<Waker> {
        let mut q = self.lock();
        q.end = Some(result);
        q.waker.take()
    }
}

/// The items of one list action, as they arrive: from
/// [`crate::Client::list_stream`].
///
/// It yields `Ok(item)` for each item event in order, then ends (`None`)
/// once the list is complete; [`ListStream::outcome`] then holds the
/// opening response and the `…Complete` event (with `ListItems`), and no
/// items. An action that fails (`Response: Error`, timeout, connection
/// lost, or an answer that is not a list) yields one `Err` and ends.
///
/// Items are never dropped, whatever the client's event-queue policy.
/// Memory: the client reads its socket continuously, so a reader slower
/// than the server lets the items not read yet pile up here (at most the
/// whole list, the memory a collected [`crate::Client::list`] would have
/// taken at once); a reader that keeps up holds only what one read of the
/// socket brought. [`ListStream::len`] tells the backlog.
///
/// It implements [`futures_core::Stream`]; [`ListStream::next_item`] does
/// the same without a stream-extension crate. Dropping it before the end
/// cancels the action: the rest of the list is consumed quietly (never
/// shown as events). It does not keep the client open.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled; dropping it cancels the list"]
pub struct ListStream {
    shared: Arc<ListShared>,
    /// Items taken from the shared queue, in order.
    local: VecDeque<Packet>,
    /// To cancel the action when dropped early; `None` once finished.
    cancel: Option<(crate::cmd_queue::WeakCmdSender, u64)>,
    outcome: Option<ListOutcome>,
    /// An error or end not yet handed out.
    end: Option<Result<Outcome, Error>>,
    done: bool,
}

impl ListStream {
    pub(crate) fn new(
        shared: Arc<ListShared>,
        tx: crate::cmd_queue::WeakCmdSender,
        id: u64,
    ) -> ListStream {
        ListStream {
            shared,
            local: VecDeque::new(),
            cancel: Some((tx, id)),
            outcome: None,
            end: None,
            done: false,
        }
    }

    /// A stream that fails at once (the client was closed).
    pub(crate) fn failed(error: Error) -> ListStream {
        ListStream {
            shared: Arc::default(),
            local: VecDeque::new(),
            cancel: None,
            outcome: None,
            end: Some(Err(error)),
            done: false,
        }
    }

    /// The next item, an error, or `None` at the end of the list.
    pub async fn next_item(&mut self) -> Option<Result<Packet, Error>> {
        poll_fn(|cx| self.poll_item(cx)).await
    }

    /// Poll for the next item.
    pub fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Packet, Error>>> {
        if let Some(item) = self.local.pop_front() {
            return Poll::Ready(Some(Ok(item)));
        }
        if self.done {
            return Poll::Ready(None);
        }
        if self.end.is_none() {
            let mut q = self.shared.lock();
            std::mem::swap(&mut self.local, &mut q.items);
            if let Some(item) = self.local.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            match q.end.take() {
                Some(end) => self.end = Some(end),
                None => {
                    match &q.waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => q.waker = Some(cx.waker().clone()),
                    }
                    return Poll::Pending;
                }
            }
        }
        // Finished: every item was handed out above.
        self.done = true;
        self.cancel = None;
        Poll::Ready(match self.end.take() {
            Some(Ok(Outcome::List(list))) => {
                self.outcome = Some(*list);
                None
            }
            Some(Ok(_)) => Some(Err(Error::UnexpectedOutcome {
                expected: "an event list",
            })),
            Some(Err(e)) => Some(Err(e)),
            None => None,
        })
    }

    /// Items received and not read yet.
    pub fn len(&self) -> usize {
        self.local.len() + self.shared.lock().items.len()
    }

    /// Whether no item waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Once the stream has ended after a complete list: the opening
    /// response and the `…Complete` event (its
    /// [`ListOutcome::announced_items`] tells how many items the server
    /// counted), with no items (they were streamed).
    pub fn outcome(&self) -> Option<&ListOutcome> {
        self.outcome.as_ref()
    }
}

impl futures_core::Stream for ListStream {
    type Item = Result<Packet, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

impl Drop for ListStream {
    fn drop(&mut self) {
        if let Some((tx, id)) = self.cancel.take() {
            let _ = tx.send(Cmd::Cancel(id));
        }
    }
}
