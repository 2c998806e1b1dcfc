//! Event subscribers: per-subscriber queues with their own overflow policy.
//!
//! The driver never waits for a subscriber. Each read's events are pushed to
//! every matching subscriber's queue under one short lock, and the
//! subscriber's task is woken once. The queue is the core's
//! [`amiproto::EventQueue`]: a bounded (lossy) one drops its oldest events
//! when full and the stream reports the exact count as
//! [`EventItem::Lagged`] where the gap is; reconnect markers are never
//! dropped; an unbounded (lossless) one keeps everything. This module only
//! adds the waking.
//!
//! The reader takes waiting items in batches, so that it locks once per
//! batch rather than once per item. A lossy reader's batch is at most a
//! sixteenth of its capacity (at most 256), and counts toward the
//! capacity: queue and batch together hold at most `capacity` events. The
//! events of a batch already taken are not dropped; the oldest of the
//! others are.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use amiproto::{EventQueue, Packet};

pub use amiproto::queue::{EventItem, Overflow, DEFAULT_CAPACITY};

/// Which packets a subscriber wants.
///
/// ```
/// use amiproto_tokio::EventFilter;
///
/// let calls = EventFilter::names(["Newchannel", "Hangup"]);
/// let big = EventFilter::predicate(|p| p.len() > 20);
/// # let _ = (calls, big);
/// ```
#[derive(Clone)]
pub struct EventFilter(FilterKind);

#[derive(Clone)]
enum FilterKind {
    Names(Arc<[Box<str>]>),
    Predicate(Arc<dyn Fn(&Packet) -> bool + Send + Sync>),
}

impl EventFilter {
    /// Events named `name` (`Event:` header, ASCII case-insensitive).
    pub fn name(name: impl Into<String>) -> EventFilter {
        EventFilter::names([name.into()])
    }

    /// Events named any of `names` (ASCII case-insensitive).
    pub fn names<I, S>(names: I) -> EventFilter
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<Box<str>> = names
            .into_iter()
            .map(|s| s.into().into_boxed_str())
            .collect();
        EventFilter(FilterKind::Names(names.into()))
    }

    /// Packets for which `f` returns true.
    pub fn predicate(f: impl Fn(&Packet) -> bool + Send + Sync + 'static) -> EventFilter {
        EventFilter(FilterKind::Predicate(Arc::new(f)))
    }

    /// Whether `packet` passes.
    pub fn matches(&self, packet: &Packet) -> bool {
        match &self.0 {
            FilterKind::Names(names) => packet
                .event()
                .is_some_and(|e| names.iter().any(|n| e.eq_ignore_case(n))),
            FilterKind::Predicate(f) => f(packet),
        }
    }
}

impl fmt::Debug for EventFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            FilterKind::Names(n) => f.debug_tuple("EventFilter::names").field(n).finish(),
            FilterKind::Predicate(_) => f.write_str("EventFilter::predicate(..)"),
        }
    }
}

impl From<&str> for EventFilter {
    fn from(name: &str) -> EventFilter {
        EventFilter::name(name)
    }
}

#[derive(Debug)]
struct Inner {
    queue: EventQueue,
    closed: bool,
    waker: Option<Waker>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Events of the batch the reader has taken and not handed out yet
    /// (lossy subscribers only), counted toward the capacity.
    held: AtomicUsize,
    lossy: bool,
    alive: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The queue holds no invariant a panic could break.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The driver's end of one subscriber.
#[derive(Debug)]
pub(crate) struct Subscriber {
    shared: Arc<Shared>,
    filter: Option<EventFilter>,
}

/// Largest batch a lossy reader takes at once.
const MAX_LOSSY_BATCH: usize = 256;

/// Make a subscriber pair.
pub(crate) fn subscriber(
    filter: Option<EventFilter>,
    overflow: Overflow,
) -> (Subscriber, EventStream) {
    let batch = match overflow.capacity() {
        Some(capacity) => (capacity / 16).clamp(1, MAX_LOSSY_BATCH),
        None => usize::MAX,
    };
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            queue: EventQueue::new(overflow),
            closed: false,
            waker: None,
        }),
        held: AtomicUsize::new(0),
        lossy: overflow.capacity().is_some(),
        alive: AtomicBool::new(true),
    });
    let sub = Subscriber {
        shared: shared.clone(),
        filter,
    };
    let stream = EventStream {
        shared,
        local: VecDeque::new(),
        local_events: 0,
        batch,
        lagged_total: 0,
        done: false,
    };
    (sub, stream)
}

/// A batch of things to hand to subscribers, collected from one input.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) items: VecDeque<EventItem>,
}

/// Every subscriber of one client.
#[derive(Debug, Default)]
pub(crate) struct Subscribers {
    subs: Vec<Subscriber>,
}

impl Subscribers {
    pub(crate) fn add(&mut self, sub: Subscriber) {
        self.subs.push(sub);
    }

    /// Whether anyone listens (if not, events are dropped at once).
    pub(crate) fn is_empty(&mut self) -> bool {
        self.prune();
        self.subs.is_empty()
    }

    fn prune(&mut self) {
        self.subs.retain(|s| s.shared.alive.load(Ordering::Relaxed));
    }

    /// Hand out a batch. Every item goes to every subscriber whose filter
    /// takes it; markers go to all.
    pub(crate) fn dispatch(&mut self, batch: &mut Batch) {
        if batch.items.is_empty() {
            return;
        }
        self.prune();
        let n = self.subs.len();
        for (i, sub) in self.subs.iter().enumerate() {
            let last = i + 1 == n;
            let mut q = sub.shared.lock();
            if sub.shared.lossy {
                q.queue.set_held(sub.shared.held.load(Ordering::Relaxed));
            }
            let mut grew = false;
            if last && sub.filter.is_none() {
                // Everything, in one go.
                grew = true;
                q.queue.push_all(&mut batch.items);
            } else if last {
                for item in batch.items.drain(..) {
                    if sub.wants(&item) {
                        q.queue.push(item);
                        grew = true;
                    }
                }
            } else {
                for item in &batch.items {
                    if sub.wants(item) {
                        q.queue.push(item.clone());
                        grew = true;
                    }
                }
            }
            let waker = if grew { q.waker.take() } else { None };
            drop(q);
            if let Some(w) = waker {
                w.wake();
            }
        }
        batch.items.clear();
    }

    /// End every stream (the driver is finishing).
    pub(crate) fn close(&mut self) {
        for sub in self.subs.drain(..) {
            let mut q = sub.shared.lock();
            q.closed = true;
            let waker = q.waker.take();
            drop(q);
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl Subscriber {
    fn wants(&self, item: &EventItem) -> bool {
        match (item, &self.filter) {
            (EventItem::Event(p), Some(f)) => f.matches(p),
            (EventItem::ListItem { item, .. }, Some(f)) => f.matches(item),
            (EventItem::Skipped(_), Some(_)) => false,
            _ => true,
        }
    }
}

/// A stream of events for one subscriber; see [`Overflow`] for what happens
/// when it is read slowly.
///
/// A lossy stream holds at most its capacity in events (the batch its
/// reader has taken included); [`EventItem::Lagged`] counts the events
/// dropped, exactly where they were, and [`EventItem::Reconnected`] is
/// never dropped. A filtered stream gets no [`EventItem::Skipped`].
///
/// It implements [`futures_core::Stream`]; [`EventStream::recv`] does the
/// same without a stream-extension crate. It ends (yields `None`) once the
/// client is closed and every queued item has been read. Dropping it
/// unsubscribes.
#[derive(Debug)]
pub struct EventStream {
    shared: Arc<Shared>,
    /// The batch taken from the shared queue, in order.
    local: VecDeque<EventItem>,
    /// Droppable items in `local` (lossy streams only).
    local_events: usize,
    /// Most items taken at once.
    batch: usize,
    lagged_total: u64,
    done: bool,
}

impl EventStream {
    /// The next item, or `None` once the client is closed and the queue is
    /// drained.
    #[inline]
    pub async fn recv(&mut self) -> Option<EventItem> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next event packet, skipping other items (lag reports, reconnect
    /// markers); `None` at the end.
    pub async fn next_event(&mut self) -> Option<Packet> {
        loop {
            if let EventItem::Event(p) = self.recv().await? {
                return Some(p);
            }
        }
    }

    /// The next item if one is ready now.
    pub fn try_recv(&mut self) -> Option<EventItem> {
        if let Some(item) = self.next_local() {
            return Some(item);
        }
        let mut q = self.shared.lock();
        refill(
            &self.shared,
            &mut q,
            &mut self.local,
            &mut self.local_events,
            self.batch,
        );
        drop(q);
        self.next_local()
    }

    /// Poll for the next item.
    #[inline]
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<EventItem>> {
        // Most calls find the item in the batch already taken: inlined into
        // the caller, that path takes no lock and moves the item once.
        if let Some(item) = self.next_local() {
            return Poll::Ready(Some(item));
        }
        self.poll_refill(cx)
    }

    /// [`EventStream::poll_recv`] with the batch taken handed out: take the
    /// next one, or register the waker.
    #[inline(never)]
    fn poll_refill(&mut self, cx: &mut Context<'_>) -> Poll<Option<EventItem>> {
        if self.done {
            return Poll::Ready(None);
        }
        let mut q = self.shared.lock();
        refill(
            &self.shared,
            &mut q,
            &mut self.local,
            &mut self.local_events,
            self.batch,
        );
        if !self.local.is_empty() {
            drop(q);
            return Poll::Ready(self.next_local());
        }
        if q.closed {
            drop(q);
            self.done = true;
            return Poll::Ready(None);
        }
        match &q.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => q.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next item of the batch already taken.
    #[inline]
    fn next_local(&mut self) -> Option<EventItem> {
        let item = self.local.pop_front()?;
        if self.shared.lossy && item.is_droppable() {
            self.local_events -= 1;
            self.shared.held.store(self.local_events, Ordering::Relaxed);
        }
        if let EventItem::Lagged(n) = item {
            self.lagged_total += n;
        }
        Some(item)
    }

    /// Items waiting (read by neither [`EventStream::recv`] nor dropped): the
    /// queue depth of a lossless subscriber.
    pub fn len(&self) -> usize {
        self.local.len() + self.shared.lock().queue.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total events reported lost so far through [`EventItem::Lagged`].
    pub fn lagged_total(&self) -> u64 {
        self.lagged_total
    }

    /// Mark the stream ended (the client was already gone when it subscribed).
    pub(crate) fn close_now(&mut self) {
        self.shared.lock().closed = true;
    }

    /// Whether the client is closed (items may still be waiting).
    pub fn is_closed(&self) -> bool {
        self.done || self.shared.lock().closed
    }
}

/// Take the reader's next batch from the shared queue (only with `local`
/// empty); a lossy queue counts it as held.
fn refill(
    shared: &Shared,
    q: &mut Inner,
    local: &mut VecDeque<EventItem>,
    local_events: &mut usize,
    batch: usize,
) {
    let events = q.queue.drain_into(local, batch);
    if shared.lossy {
        *local_events = events;
        shared.held.store(events, Ordering::Relaxed);
        q.queue.set_held(events);
    }
}

impl futures_core::Stream for EventStream {
    type Item = EventItem;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<EventItem>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.shared.alive.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: usize) -> EventItem {
        let p = Packet::builder()
            .header("Event", "Test")
            .header("N", n.to_string())
            .build()
            .unwrap();
        EventItem::Event(p)
    }

    fn n_of(item: &EventItem) -> usize {
        match item {
            EventItem::Event(p) => p.get_str("N").unwrap().parse().unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lossy_reports_exact_gap_in_place() {
        let mut subs = Subscribers::default();
        let (sub, mut stream) = subscriber(None, Overflow::Lossy { capacity: 3 });
        subs.add(sub);
        let mut batch = Batch::default();
        batch.items.extend((0..2).map(ev));
        subs.dispatch(&mut batch);
        assert_eq!(n_of(&stream.try_recv().unwrap()), 0);
        batch.items.extend((2..10).map(ev));
        subs.dispatch(&mut batch);
        // Of 1..10 only the last 3 remain: 6 dropped.
        assert_eq!(stream.len(), 3);
        assert_eq!(stream.try_recv(), Some(EventItem::Lagged(6)));
        let rest: Vec<_> = std::iter::from_fn(|| stream.try_recv()).collect();
        assert_eq!(rest.iter().map(n_of).collect::<Vec<_>>(), [7, 8, 9]);
        assert_eq!(stream.lagged_total(), 6);
    }

    #[test]
    fn lossy_batch_counts_toward_the_capacity() {
        let mut subs = Subscribers::default();
        let (sub, mut stream) = subscriber(None, Overflow::Lossy { capacity: 32 });
        subs.add(sub);
        let mut batch = Batch::default();
        batch.items.extend((0..4).map(ev));
        subs.dispatch(&mut batch);
        // The reader takes a batch of two and hands out the first.
        assert_eq!(n_of(&stream.try_recv().unwrap()), 0);
        batch.items.extend((4..100).map(ev));
        subs.dispatch(&mut batch);
        // One held by the reader, 31 in the queue: never more than 32.
        assert_eq!(stream.len(), 32);
        assert_eq!(n_of(&stream.try_recv().unwrap()), 1);
        assert_eq!(stream.try_recv(), Some(EventItem::Lagged(67)));
        let rest: Vec<_> = std::iter::from_fn(|| stream.try_recv()).collect();
        assert_eq!(
            rest.iter().map(n_of).collect::<Vec<_>>(),
            (69..100).collect::<Vec<_>>()
        );
        assert_eq!(stream.lagged_total(), 67);
    }

    #[test]
    fn reconnect_marker_survives_a_full_lossy_queue() {
        let mut subs = Subscribers::default();
        let (sub, mut stream) = subscriber(None, Overflow::Lossy { capacity: 4 });
        subs.add(sub);
        let mut batch = Batch::default();
        batch.items.extend((0..4).map(ev));
        batch
            .items
            .push_back(EventItem::Reconnected { generation: 1 });
        batch.items.extend((4..50).map(ev));
        subs.dispatch(&mut batch);
        let all: Vec<_> = std::iter::from_fn(|| stream.try_recv()).collect();
        assert_eq!(all[0], EventItem::Lagged(4));
        assert_eq!(all[1], EventItem::Reconnected { generation: 1 });
        assert_eq!(all[2], EventItem::Lagged(42));
        assert_eq!(
            all[3..].iter().map(n_of).collect::<Vec<_>>(),
            [46, 47, 48, 49]
        );
        assert_eq!(stream.lagged_total(), 46);
    }

    #[test]
    fn filters_and_pruning() {
        let mut subs = Subscribers::default();
        let (a, mut sa) = subscriber(Some(EventFilter::name("test")), Overflow::Lossless);
        let (b, mut sb) = subscriber(Some(EventFilter::name("Other")), Overflow::Lossless);
        let (c, sc) = subscriber(None, Overflow::Lossless);
        subs.add(a);
        subs.add(b);
        subs.add(c);
        drop(sc);
        let mut batch = Batch::default();
        batch.items.push_back(ev(1));
        batch
            .items
            .push_back(EventItem::Reconnected { generation: 2 });
        subs.dispatch(&mut batch);
        assert_eq!(subs.subs.len(), 2);
        assert_eq!(sa.len(), 2);
        assert_eq!(n_of(&sa.try_recv().unwrap()), 1);
        assert_eq!(
            sb.try_recv(),
            Some(EventItem::Reconnected { generation: 2 })
        );
        subs.close();
        assert!(sb.is_closed());
    }
}
