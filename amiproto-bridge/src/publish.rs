//! The JetStream publisher of one PBX: a window of publishes awaiting their
//! acks, in order; a record leaves the bridge only once acked.

use std::collections::VecDeque;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::{self, context::PublishError};
use futures_util::FutureExt;
use tokio::sync::watch;

use crate::buffer::GapReason;
use crate::pbx::PbxShared;
use crate::record::{Kind, Record, HEADER_GAP_LAST, HEADER_PBX, HEADER_SEQ, HEADER_SESSION};
use crate::status::Counters;

/// Server refusals of one record before it is given up as a gap.
const MAX_REJECTIONS: u8 = 5;

type AckFuture = Pin<Box<dyn Future<Output = Result<PublishAck, PublishError>> + Send>>;

/// How a publisher run ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PublishEnd {
    /// The NATS session was cancelled (connection lost, shutdown timeout);
    /// unacked records went back to the buffer.
    Cancelled,
    /// Drain mode: everything was acked.
    Drained,
}

/// What the publisher is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Publish as records come.
    Run,
    /// Publish what is left, then end.
    Drain,
    /// Stop now (unacked records go back to the buffer).
    Stop,
}

struct Window {
    shared: Arc<PbxShared>,
    inflight: VecDeque<(Record, AckFuture)>,
}

impl Window {
    fn set_pending(&self) {
        self.shared.counters.acks_pending.store(
            self.inflight.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Put every unacked record back at the front of the buffer, in order,
    /// `extra` after them.
    fn requeue(&mut self, extra: Vec<Record>) {
        let recs: Vec<Record> = self
            .inflight
            .drain(..)
            .map(|(r, _)| r)
            .chain(extra)
            .collect();
        if !recs.is_empty() {
            self.shared.buffer().requeue_front(recs.into_iter());
            self.shared.notify.notify_one();
        }
        self.set_pending();
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        self.requeue(Vec::new());
    }
}

fn build_publish(pbx: &str, rec: &Record) -> jetstream::message::PublishMessage {
    let mut p = jetstream::message::PublishMessage::build()
        .payload(rec.payload.clone())
        .message_id(rec.msg_id(pbx))
        .header(HEADER_PBX, pbx)
        .header(HEADER_SESSION, &*rec.session)
        .header(HEADER_SEQ, rec.seq.to_string().as_str());
    if rec.kind == Kind::Gap {
        p = p.header(HEADER_GAP_LAST, rec.last.to_string().as_str());
    }
    p
}

/// Publish this PBX's records on `js` until `mode` says otherwise.
pub(crate) async fn run_publisher(
    shared: Arc<PbxShared>,
    js: jetstream::Context,
    nats: async_nats::Client,
    window: usize,
    mut mode: watch::Receiver<Mode>,
) -> PublishEnd {
    let pbx = shared.name.clone();
    let mut w = Window {
        shared: shared.clone(),
        inflight: VecDeque::with_capacity(window),
    };
    let mut batch: Vec<Record> = Vec::with_capacity(window);
    let mut failures = 0u32;
    loop {
        let m = *mode.borrow_and_update();
        if m == Mode::Stop {
            return PublishEnd::Cancelled;
        }
        // Fill the window.
        if w.inflight.len() < window {
            shared
                .buffer()
                .pop_many(window - w.inflight.len(), &mut batch);
            let mut it = batch.drain(..);
            while let Some(rec) = it.next() {
                let sent = js
                    .send_publish(rec.subject.clone(), build_publish(&pbx, &rec))
                    .await;
                match sent {
                    Ok(fut) => w.inflight.push_back((rec, fut.into_future())),
                    Err(e) => {
                        Counters::add(&shared.counters.publish_failures, 1);
                        tracing::warn!(pbx = %pbx, error = %e, "publish failed; records kept for the next attempt");
                        let mut rest = vec![rec];
                        rest.extend(it);
                        w.requeue(rest);
                        return PublishEnd::Cancelled;
                    }
                }
            }
            w.set_pending();
        }
        if w.inflight.is_empty() {
            if m == Mode::Drain && shared.buffer().is_empty() {
                return PublishEnd::Drained;
            }
            tokio::select! {
                _ = shared.notify.notified() => {}
                r = mode.changed() => if r.is_err() { return PublishEnd::Cancelled },
            }
            continue;
        }
        let room = w.inflight.len() < window;
        let front = &mut w.inflight.front_mut().expect("not empty").1;
        let res = tokio::select! {
            biased;
            r = mode.changed() => {
                if r.is_err() { return PublishEnd::Cancelled }
                continue;
            }
            res = front => res,
            _ = shared.notify.notified(), if room => continue,
        };
        let mut res = Some(res);
        // Take this ack and every later one already in.
        while let Some(r) = res.take() {
            let (rec, _) = w.inflight.pop_front().expect("front");
            match r {
                Ok(ack) => {
                    failures = 0;
                    acked(&shared, &rec, &ack);
                }
                Err(e) => {
                    Counters::add(&shared.counters.publish_failures, 1);
                    failures += 1;
                    let rec = after_failure(&shared, rec, &e);
                    w.requeue(vec![rec]);
                    // Everything unacked is back in the buffer, in order.
                    if nats.connection_state() != async_nats::connection::State::Connected {
                        return PublishEnd::Cancelled;
                    }
                    let delay = Duration::from_millis(100 << failures.min(6));
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = mode.changed() => {}
                    }
                    break;
                }
            }
            res = w.inflight.front_mut().and_then(|(_, f)| f.now_or_never());
        }
        w.set_pending();
    }
}

/// Count an ack, noticing a record stored before one that preceded it.
fn acked(shared: &PbxShared, rec: &Record, ack: &PublishAck) {
    let c = &shared.counters;
    Counters::add(&c.events_out, 1);
    if ack.duplicate {
        Counters::add(&c.duplicates, 1);
    }
    let mut last = shared
        .last_stream_seq
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if ack.sequence < *last {
        Counters::add(&c.reordered, 1);
        tracing::warn!(pbx = %shared.name, msg_id = %rec.msg_id(&shared.name), stream_seq = ack.sequence, after = *last, "record stored out of order after a failed publish");
    } else {
        *last = ack.sequence;
    }
}

/// What to retry after a failed publish: the record itself, or, once the
/// server refused it [`MAX_REJECTIONS`] times, a gap in its place.
fn after_failure(shared: &PbxShared, mut rec: Record, e: &PublishError) -> Record {
    let refused = matches!(
        e.kind(),
        PublishErrorKind::Other | PublishErrorKind::StreamNotFound
    );
    tracing::warn!(pbx = %shared.name, msg_id = %rec.msg_id(&shared.name), error = %e, "publish not acked; retrying");
    if !refused {
        return rec;
    }
    rec.rejections = rec.rejections.saturating_add(1);
    if rec.rejections < MAX_REJECTIONS || rec.kind != Kind::Event {
        return rec;
    }
    tracing::error!(pbx = %shared.name, msg_id = %rec.msg_id(&shared.name), error = %e, "JetStream keeps refusing this event; reporting it as a gap");
    shared
        .buffer()
        .gap_in_place(rec.session.clone(), rec.seq, GapReason::Rejected)
}
