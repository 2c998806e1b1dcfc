//! Event subscribers: per-subscriber queues with their own overflow policy.
//!
//! The driver never waits for a subscriber. Each read's events are pushed to
//! every matching subscriber's queue under one short lock, and the
//! subscriber's task is woken once. A bounded (lossy) queue drops its oldest
//! entries when full and counts them; the stream reports the count as
//! [`EventItem::Lagged`] exactly where the gap is. An unbounded (lossless)
//! queue keeps everything.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use amiproto::{DecodeError, Packet};

/// Default capacity of [`Overflow::Lossy`] subscribers made by
/// [`crate::Client::events`] and [`crate::Client::events_matching`].
pub const DEFAULT_CAPACITY: usize = 16 * 1024;

/// What a subscriber's queue does when its reader falls behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Keep at most `capacity` waiting events; beyond it drop the oldest and
    /// report how many with an [`EventItem::Lagged`] (never silently).
    Lossy {
        /// Most events waiting (at least 1).
        capacity: usize,
    },
    /// Keep every event: memory grows while the reader is slow (see
    /// [`EventStream::len`]).
    Lossless,
}

impl Default for Overflow {
    fn default() -> Overflow {
        Overflow::Lossy {
            capacity: DEFAULT_CAPACITY,
        }
    }
}

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

/// One item of an [`EventStream`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventItem {
    /// A packet no action claimed: a server event (`Event:` header) or, rarely,
    /// a response whose `ActionID` matches nothing.
    Event(Packet),
    /// This many events were dropped here because the (lossy) subscriber
    /// fell behind.
    Lagged(u64),
    /// An unclaimed packet broke a decoder limit and was skipped (only for
    /// unfiltered subscribers).
    Skipped(DecodeError),
    /// The connection was lost and re-established: events the server sent to
    /// nobody in between are missing (re-read any state you track).
    Reconnected {
        /// The new connection's generation.
        generation: u32,
    },
}

impl EventItem {
    /// The packet, if this is an event.
    pub fn into_event(self) -> Option<Packet> {
        match self {
            EventItem::Event(p) => Some(p),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Queue {
    items: VecDeque<EventItem>,
    /// Dropped since the reader last looked.
    lagged: u64,
    closed: bool,
    waker: Option<Waker>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    queue: Mutex<Queue>,
    capacity: Option<usize>,
    alive: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue holds no invariant a panic could break.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The driver's end of one subscriber.
#[derive(Debug)]
pub(crate) struct Subscriber {
    shared: Arc<Shared>,
    filter: Option<EventFilter>,
}

/// Make a subscriber pair.
pub(crate) fn subscriber(
    filter: Option<EventFilter>,
    overflow: Overflow,
) -> (Subscriber, EventStream) {
    let capacity = match overflow {
        Overflow::Lossy { capacity } => Some(capacity.max(1)),
        Overflow::Lossless => None,
    };
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            items: VecDeque::new(),
            lagged: 0,
            closed: false,
            waker: None,
        }),
        capacity,
        alive: AtomicBool::new(true),
    });
    let sub = Subscriber {
        shared: shared.clone(),
        filter,
    };
    let stream = EventStream {
        shared,
        local: VecDeque::new(),
        lagged_total: 0,
        done: false,
    };
    (sub, stream)
}

/// A batch of things to hand to subscribers, collected from one input.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) items: Vec<EventItem>,
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
    /// takes it; gap markers go to all.
    pub(crate) fn dispatch(&mut self, batch: &mut Batch) {
        if batch.items.is_empty() {
            return;
        }
        self.prune();
        let n = self.subs.len();
        for (i, sub) in self.subs.iter().enumerate() {
            let last = i + 1 == n;
            let mut q = sub.shared.lock();
            let before = q.items.len() as u64 + q.lagged;
            if last {
                for item in batch.items.drain(..) {
                    if sub.wants(&item) {
                        push(&mut q, sub.shared.capacity, item);
                    }
                }
            } else {
                for item in &batch.items {
                    if sub.wants(item) {
                        push(&mut q, sub.shared.capacity, item.clone());
                    }
                }
            }
            let grew = q.items.len() as u64 + q.lagged != before;
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
            (EventItem::Skipped(_), Some(_)) => false,
            _ => true,
        }
    }
}

fn push(q: &mut Queue, capacity: Option<usize>, item: EventItem) {
    if let Some(cap) = capacity {
        if q.items.len() >= cap {
            q.items.pop_front();
            q.lagged += 1;
        }
    }
    q.items.push_back(item);
}

/// A stream of events for one subscriber; see [`Overflow`] for what happens
/// when it is read slowly.
///
/// It implements [`futures_core::Stream`]; [`EventStream::recv`] does the
/// same without a stream-extension crate. It ends (yields `None`) once the
/// client is closed and every queued item has been read. Dropping it
/// unsubscribes.
#[derive(Debug)]
pub struct EventStream {
    shared: Arc<Shared>,
    local: VecDeque<EventItem>,
    lagged_total: u64,
    done: bool,
}

impl EventStream {
    /// The next item, or `None` once the client is closed and the queue is
    /// drained.
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
        if let Some(item) = self.local.pop_front() {
            return Some(item);
        }
        let mut q = self.shared.lock();
        refill(&mut self.local, &mut self.lagged_total, &mut q)
    }

    /// Poll for the next item.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<EventItem>> {
        if let Some(item) = self.local.pop_front() {
            return Poll::Ready(Some(item));
        }
        if self.done {
            return Poll::Ready(None);
        }
        let mut q = self.shared.lock();
        if let Some(item) = refill(&mut self.local, &mut self.lagged_total, &mut q) {
            return Poll::Ready(Some(item));
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

    /// Items waiting (read by neither [`EventStream::recv`] nor dropped): the
    /// queue depth of a lossless subscriber.
    pub fn len(&self) -> usize {
        self.local.len() + self.shared.lock().items.len()
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

/// Take what the driver queued: the lag report first (the dropped events are
/// older than everything still queued), then the queue.
fn refill(
    local: &mut VecDeque<EventItem>,
    lagged_total: &mut u64,
    q: &mut Queue,
) -> Option<EventItem> {
    std::mem::swap(local, &mut q.items);
    if q.lagged > 0 {
        let n = std::mem::take(&mut q.lagged);
        *lagged_total += n;
        return Some(EventItem::Lagged(n));
    }
    local.pop_front()
}

impl futures_core::Stream for EventStream {
    type Item = EventItem;

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
        // Reader takes 0 (and 1 moves to its local buffer).
        assert_eq!(n_of(&stream.try_recv().unwrap()), 0);
        batch.items.extend((2..10).map(ev));
        subs.dispatch(&mut batch);
        // 1 was already local; of 2..10 only the last 3 remain: 5 dropped.
        assert_eq!(n_of(&stream.try_recv().unwrap()), 1);
        assert_eq!(stream.try_recv(), Some(EventItem::Lagged(5)));
        let rest: Vec<_> = std::iter::from_fn(|| stream.try_recv()).collect();
        assert_eq!(rest.iter().map(n_of).collect::<Vec<_>>(), [7, 8, 9]);
        assert_eq!(stream.lagged_total(), 5);
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
        batch.items.push(ev(1));
        batch.items.push(EventItem::Reconnected { generation: 2 });
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
