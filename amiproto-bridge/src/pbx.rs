//! One PBX: its AMI connection, the reader that turns every packet into a
//! record (or a counted gap), and the state every task of the PBX shares.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use amiproto::serde::PacketMap;
use amiproto::Packet;
use amiproto_tokio::{Client, ConnectionState, EventItem, EventStream};
use bytes::Bytes;
use tokio::sync::{watch, Notify};

use crate::buffer::{Buffer, GapReason};
use crate::config::PbxConfig;
use crate::record::{Kind, Record};
use crate::status::{Counters, PbxStatus};
use crate::subject::PbxSubjects;

/// Subject token for an unclaimed packet without an `Event:` header (a
/// response whose ActionID matches nothing).
const UNCLAIMED: &[u8] = b"_response";
/// Most packets turned into records per buffer lock.
const BATCH: usize = 1024;

/// What every task of one PBX shares.
#[derive(Debug)]
pub(crate) struct PbxShared {
    pub(crate) name: Arc<str>,
    pub(crate) subjects: PbxSubjects,
    buffer: Mutex<Buffer>,
    /// Woken when records are queued.
    pub(crate) notify: Notify,
    pub(crate) counters: Counters,
    /// The AMI client while one is connected (actions use it).
    pub(crate) client: watch::Sender<Option<Client>>,
    session: Mutex<Option<Arc<str>>>,
    last_error: Mutex<Option<String>>,
    /// Stream sequence of the last acked record (to notice reordering).
    pub(crate) last_stream_seq: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PbxShared {
    pub(crate) fn new(name: &str, subjects: PbxSubjects, buffer: Buffer) -> PbxShared {
        PbxShared {
            name: name.into(),
            subjects,
            buffer: Mutex::new(buffer),
            notify: Notify::new(),
            counters: Counters::default(),
            client: watch::Sender::new(None),
            session: Mutex::new(None),
            last_error: Mutex::new(None),
            last_stream_seq: Mutex::new(0),
        }
    }

    pub(crate) fn buffer(&self) -> MutexGuard<'_, Buffer> {
        lock(&self.buffer)
    }

    /// The status snapshot.
    pub(crate) fn status(&self) -> PbxStatus {
        let client = self.client.borrow().clone();
        let (state, version) = match &client {
            Some(c) => {
                let s = c.status();
                (state_word(s.state), s.version.map(|v| v.to_string()))
            }
            None => ("connecting", None),
        };
        let (b, spill_bytes) = {
            let buf = self.buffer();
            (buf.stats(), buf.spill_bytes())
        };
        let c = &self.counters;
        PbxStatus {
            pbx: self.name.to_string(),
            state: state.to_owned(),
            ami_version: version,
            session: lock(&self.session).as_deref().map(str::to_owned),
            sessions: Counters::get(&c.sessions),
            nats_connected: c.nats_connected.load(std::sync::atomic::Ordering::Relaxed),
            events_in: Counters::get(&c.events_in),
            events_out: Counters::get(&c.events_out),
            duplicates: Counters::get(&c.duplicates),
            acks_pending: Counters::get(&c.acks_pending),
            buffer_depth: b.depth,
            buffer_bytes: b.mem_bytes,
            spilled: b.spilled,
            spill_bytes,
            gaps: b.gaps,
            events_dropped: b.dropped,
            publish_failures: Counters::get(&c.publish_failures),
            reordered: Counters::get(&c.reordered),
            actions: Counters::get(&c.actions),
            last_error: lock(&self.last_error).clone(),
        }
    }
}

fn state_word(s: ConnectionState) -> &'static str {
    match s {
        ConnectionState::Connecting => "connecting",
        ConnectionState::Authenticating => "authenticating",
        ConnectionState::Ready => "ready",
        ConnectionState::Reconnecting { .. } => "reconnecting",
        ConnectionState::Closed => "closed",
        _ => "unknown",
    }
}

/// A number in `[0, 1)` for jitter, from the standard library's per-process
/// random hash keys.
fn unit_random() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .elapsed()
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Where one AMI session stands in the reader.
struct Session {
    id: Arc<str>,
    /// Last sequence number handed out.
    seq: u64,
}

impl Session {
    fn new() -> Session {
        Session {
            id: nuid::next().to_string().into(),
            seq: 0,
        }
    }
}

/// The reader: connect (retrying with backoff), then move every packet of
/// the event stream into the buffer until `stop`.
pub(crate) async fn run_reader(
    shared: Arc<PbxShared>,
    cfg: PbxConfig,
    mut stop: watch::Receiver<bool>,
) {
    let backoff = cfg.client.reconnect.clone().unwrap_or_default();
    let mut previous: Option<Session> = None;
    let mut attempt = 0u32;
    while !*stop.borrow() {
        let connected = tokio::select! {
            r = amiproto_tokio::connect(cfg.client.clone()) => r,
            _ = stop.changed() => break,
        };
        let (client, events) = match connected {
            Ok(pair) => pair,
            Err(e) => {
                let delay = backoff.delay(attempt, unit_random());
                tracing::warn!(pbx = %shared.name, error = %e, attempt, retry_in = ?delay, "AMI connect failed; retrying");
                *lock(&shared.last_error) = Some(e.to_string());
                attempt = attempt.saturating_add(1);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => continue,
                    _ = stop.changed() => break,
                }
            }
        };
        attempt = 0;
        *lock(&shared.last_error) = None;
        for f in &cfg.filters {
            if let Err(e) = client.add_filter(f).await {
                tracing::error!(pbx = %shared.name, filter = %f, error = %e, "AMI Filter refused");
            }
        }
        tracing::info!(pbx = %shared.name, version = ?client.status().version, "AMI session up");
        shared.client.send_replace(Some(client.clone()));
        let session = start_session(&shared, &client, previous.take(), 0);
        let (session, ended) = read_events(&shared, &client, events, session, &mut stop).await;
        previous = Some(session);
        if ended {
            // The client closed for good (its reconnects gave up): connect
            // afresh.
            shared.client.send_replace(None);
            tracing::warn!(pbx = %shared.name, "AMI client closed; connecting again");
            *lock(&shared.last_error) = Some("AMI connection closed".to_owned());
        }
    }
}

/// Queue the marker of a new session.
fn start_session(
    shared: &PbxShared,
    client: &Client,
    previous: Option<Session>,
    generation: u32,
) -> Session {
    let session = Session::new();
    let status = client.status();
    let body = serde_json::json!({
        "pbx": &*shared.name,
        "session": &*session.id,
        "reason": if previous.is_some() { "reconnect" } else { "start" },
        "generation": generation,
        "ami_version": status.version.map(|v| v.to_string()),
        "previous_session": previous.as_ref().map(|p| p.id.to_string()),
        "previous_last_seq": previous.as_ref().map(|p| p.seq),
    });
    let rec = Record {
        kind: Kind::Session,
        subject: shared.subjects.session(),
        session: session.id.clone(),
        seq: 0,
        last: 0,
        payload: Bytes::from(serde_json::to_vec(&body).expect("plain JSON")),
        rejections: 0,
    };
    Counters::add(&shared.counters.sessions, 1);
    *lock(&shared.session) = Some(session.id.clone());
    if previous.is_some() {
        tracing::info!(pbx = %shared.name, session = %session.id, "AMI session restarted: marker queued");
    }
    shared.buffer().push_marker(rec);
    shared.notify.notify_one();
    session
}

/// One item turned into buffer work.
enum Work {
    Event(Record),
    Gap(u64, u64, GapReason),
}

fn event_record(shared: &PbxShared, session: &Session, seq: u64, p: &Packet) -> Record {
    let name = p.event().map_or(UNCLAIMED, |v| v.as_bytes());
    let payload = serde_json::to_vec(&PacketMap(p)).expect("a packet serializes");
    Record {
        kind: Kind::Event,
        subject: shared.subjects.event(name),
        session: session.id.clone(),
        seq,
        last: seq,
        payload: Bytes::from(payload),
        rejections: 0,
    }
}

/// Read until the stream ends (`true`) or `stop` (`false`).
async fn read_events(
    shared: &Arc<PbxShared>,
    client: &Client,
    mut events: EventStream,
    mut session: Session,
    stop: &mut watch::Receiver<bool>,
) -> (Session, bool) {
    let mut work: Vec<Work> = Vec::with_capacity(BATCH);
    loop {
        let first = tokio::select! {
            item = events.recv() => item,
            _ = stop.changed() => return (session, false),
        };
        let Some(first) = first else {
            return (session, true);
        };
        let mut next = Some(first);
        let mut read = 0u64;
        while let Some(item) = next.take() {
            match item {
                EventItem::Event(p) => {
                    session.seq += 1;
                    read += 1;
                    work.push(Work::Event(event_record(shared, &session, session.seq, &p)));
                }
                EventItem::Lagged(n) => {
                    tracing::warn!(pbx = %shared.name, dropped = n, "AMI client queue overflowed; reporting a gap");
                    work.push(Work::Gap(session.seq + 1, n, GapReason::AmiQueueFull));
                    session.seq += n;
                    read += n;
                }
                EventItem::Skipped(e) => {
                    tracing::warn!(pbx = %shared.name, error = %e, "undecodable AMI packet; reporting a gap");
                    session.seq += 1;
                    read += 1;
                    work.push(Work::Gap(session.seq, 1, GapReason::Undecodable));
                }
                EventItem::Reconnected { generation } => {
                    flush(shared, &session, &mut work);
                    session = start_session(shared, client, Some(session), generation);
                }
                _ => {}
            }
            if work.len() >= BATCH {
                break;
            }
            next = events.try_recv();
        }
        Counters::add(&shared.counters.events_in, read);
        flush(shared, &session, &mut work);
    }
}

/// Move prepared work into the buffer under one lock.
fn flush(shared: &PbxShared, session: &Session, work: &mut Vec<Work>) {
    if work.is_empty() {
        return;
    }
    {
        let mut buf = shared.buffer();
        for w in work.drain(..) {
            match w {
                Work::Event(rec) => {
                    buf.push_event(rec);
                }
                Work::Gap(first, n, reason) => buf.add_gap(session.id.clone(), first, n, reason),
            }
        }
    }
    shared.notify.notify_one();
}

/// Log off the current AMI client, if any, waiting at most `limit`.
pub(crate) async fn logoff(shared: &PbxShared, limit: Duration) {
    let client = shared.client.send_replace(None);
    if let Some(c) = client {
        match tokio::time::timeout(limit, c.logoff()).await {
            Ok(Ok(())) => tracing::info!(pbx = %shared.name, "AMI logged off"),
            Ok(Err(e)) => tracing::warn!(pbx = %shared.name, error = %e, "AMI logoff failed"),
            Err(_) => tracing::warn!(pbx = %shared.name, "AMI logoff timed out"),
        }
    }
}
