//! The listener, the shared state and the per-connection session tasks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use amiproto::Packet;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::config::{Faults, Replay, SimConfig};
use crate::filter::{self, Filter};
use crate::flood::FloodJob;
use crate::input::{Incoming, Reader, Request};
use crate::pbx::Pbx;
use crate::wire::SimEvent;

/// Lock a mutex, ignoring poisoning (a panicked session must not take the
/// whole simulator down).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a session's writer is asked to do.
#[derive(Debug)]
pub(crate) enum Out {
    /// Write these bytes.
    Bytes(Bytes),
    /// Write generated events.
    Flood(FloodJob),
    /// Flush what came before, then close the connection.
    Close,
}

/// What `publish` needs to know about a session.
#[derive(Debug, Default)]
pub(crate) struct EventState {
    /// Logged in.
    pub(crate) authed: bool,
    /// The user's read classes.
    pub(crate) read_perm: u32,
    /// The session's event mask (`Events:`).
    pub(crate) event_mask: u32,
    /// Filters added with `Filter`.
    pub(crate) filters: Vec<Filter>,
}

impl EventState {
    /// Whether an event of `category` passes mask, permissions and filters.
    pub(crate) fn wants(&self, category: u32, packet: &Packet) -> bool {
        let mask = self.read_perm & self.event_mask;
        self.authed
            && mask != 0
            && mask & category == category
            && filter::passes(&self.filters, packet)
    }
}

/// A connected session as the rest of the simulator sees it.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) id: u64,
    pub(crate) tx: mpsc::UnboundedSender<Out>,
    pub(crate) st: Mutex<EventState>,
}

impl Link {
    /// Queue bytes for this session.
    pub(crate) fn send(&self, b: Bytes) {
        let _ = self.tx.send(Out::Bytes(b));
    }
}

/// State shared by the listener, the sessions, the calls and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) cfg: SimConfig,
    pub(crate) clock: Clock,
    pub(crate) pbx: Mutex<Pbx>,
    pub(crate) faults: tokio::sync::watch::Sender<Faults>,
    pub(crate) received: Mutex<Vec<Packet>>,
    pub(crate) sessions: Mutex<Vec<Arc<Link>>>,
    pub(crate) connections: AtomicUsize,
    pub(crate) next_session: AtomicU64,
    /// Session tasks.
    pub(crate) session_tasks: Mutex<JoinSet<()>>,
    /// Call tasks.
    pub(crate) call_tasks: Mutex<JoinSet<()>>,
    /// The listening address (for `LocalAddress:`).
    pub(crate) local: Mutex<SocketAddr>,
}

impl Shared {
    pub(crate) fn new(cfg: SimConfig) -> Shared {
        let start = cfg.start_time.unwrap_or_else(SystemTime::now);
        let clock = Clock::new(start, cfg.seed);
        let pbx = Pbx::new(cfg.globals.clone());
        let faults = cfg.faults;
        let local = cfg.bind;
        Shared {
            cfg,
            clock,
            pbx: Mutex::new(pbx),
            faults: tokio::sync::watch::Sender::new(faults),
            received: Mutex::new(Vec::new()),
            sessions: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            next_session: AtomicU64::new(0),
            session_tasks: Mutex::new(JoinSet::new()),
            call_tasks: Mutex::new(JoinSet::new()),
            local: Mutex::new(local),
        }
    }

    /// The faults in force now.
    pub(crate) fn faults(&self) -> Faults {
        *self.faults.borrow()
    }

    /// Deliver an event to every session that wants it.
    pub(crate) fn publish(&self, ev: SimEvent) {
        for link in lock(&self.sessions).iter() {
            if lock(&link.st).wants(ev.category, &ev.packet) {
                link.send(ev.packet.raw().clone());
            }
        }
    }

    /// Send raw bytes to every connected session.
    pub(crate) fn publish_raw(&self, bytes: Bytes) {
        for link in lock(&self.sessions).iter() {
            link.send(bytes.clone());
        }
    }

    /// Start a call task.
    pub(crate) fn spawn_call<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let mut set = lock(&self.call_tasks);
        while set.try_join_next().is_some() {}
        set.spawn(fut);
    }

    fn remove_session(&self, id: u64) {
        lock(&self.sessions).retain(|l| l.id != id);
    }
}

/// Counts a connection while it lives.
struct ConnGuard(Arc<Shared>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Something a session can run on (TCP or TLS).
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// Optional TLS acceptor.
#[cfg(feature = "tls")]
pub(crate) type Acceptor = Option<tokio_rustls::TlsAcceptor>;
/// Optional TLS acceptor (TLS disabled at build time).
#[cfg(not(feature = "tls"))]
pub(crate) type Acceptor = Option<Arc<()>>;

/// Accept connections until aborted.
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tls: Acceptor) {
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                continue;
            }
        };
        if shared.faults().close_before_banner {
            drop(sock);
            continue;
        }
        let _ = sock.set_nodelay(true);
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let guard = ConnGuard(shared.clone());
        let sh = shared.clone();
        let tls = tls.clone();
        let mut set = lock(&shared.session_tasks);
        while set.try_join_next().is_some() {}
        set.spawn(async move {
            let _guard = guard;
            #[cfg(feature = "tls")]
            if let Some(acc) = tls {
                if let Ok(Ok(s)) =
                    tokio::time::timeout(std::time::Duration::from_secs(10), acc.accept(sock)).await
                {
                    run_session(sh, s, peer).await;
                }
                return;
            }
            #[cfg(not(feature = "tls"))]
            let _ = tls;
            run_session(sh, sock, peer).await;
        });
    }
}

/// One connection, from banner to close.
async fn run_session<S: Stream>(shared: Arc<Shared>, stream: S, peer: SocketAddr) {
    let (rd, wr) = tokio::io::split(stream);
    let (tx, rx) = mpsc::unbounded_channel();
    let id = shared.next_session.fetch_add(1, Ordering::Relaxed);
    if let Some(replay) = shared.cfg.replay.clone() {
        return run_replay(shared, rd, wr, replay).await;
    }
    let link = Arc::new(Link {
        id,
        tx,
        st: Mutex::new(EventState::default()),
    });
    lock(&shared.sessions).push(link.clone());
    link.send(Bytes::from(format!(
        "Asterisk Call Manager/{}\r\n",
        shared.cfg.ami_version
    )));
    let writer = writer(shared.clone(), wr, rx);
    tokio::pin!(writer);
    let reader = reader(shared.clone(), rd, link.clone(), peer);
    tokio::select! {
        _ = &mut writer => {}
        _ = reader => { writer.await; }
    }
    shared.remove_session(id);
}

/// How long a replay waits, after its last byte, for the client to leave.
const REPLAY_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Serve a capture's bytes; record what the client sends.
async fn run_replay<R, W>(shared: Arc<Shared>, mut rd: R, mut wr: W, replay: Replay)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (first_id_tx, first_id_rx) = tokio::sync::oneshot::channel::<Bytes>();
    let record = async {
        let mut input = Reader::new();
        let mut items = Vec::new();
        let mut first_id_tx = Some(first_id_tx);
        loop {
            input.buf.reserve(4096);
            match rd.read_buf(&mut input.buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            input.next(&mut items);
            for item in items.drain(..) {
                if let Incoming::Packet(p, _) = item {
                    if let Some(id) = p.action_id_bytes() {
                        if let Some(tx) = first_id_tx.take() {
                            let _ = tx.send(id);
                        }
                    }
                    lock(&shared.received).push(p);
                }
            }
        }
    };
    let serve = async {
        let chunk = replay.chunk_size.unwrap_or(usize::MAX).max(1);
        let mut written = 0u64;
        let bytes = match &replay.adopt_client_id {
            None => replay.bytes.clone(),
            Some(recorded) => {
                let banner = first_line_end(&replay.bytes);
                if !put(
                    &mut wr,
                    &replay.bytes[..banner],
                    Msgs::Ends(&[]),
                    &mut written,
                    &shared.faults(),
                )
                .await
                {
                    return false;
                }
                let _ = wr.flush().await;
                let Ok(id) = first_id_rx.await else {
                    return false;
                };
                rename_action_id(&replay.bytes[banner..], recorded.as_bytes(), &id)
            }
        };
        for (i, piece) in bytes.chunks(chunk).enumerate() {
            if i > 0 {
                if let Some(p) = replay.pace {
                    tokio::time::sleep(p).await;
                }
            }
            // A capture's piece is written as one message.
            let msgs = Msgs::Ends(&[]);
            if !put(&mut wr, piece, msgs, &mut written, &shared.faults()).await {
                return false;
            }
        }
        let _ = wr.flush().await;
        if replay.close_at_end {
            let _ = wr.shutdown().await;
            true
        } else {
            std::future::pending::<bool>().await
        }
    };
    tokio::pin!(record);
    tokio::select! {
        served = serve => {
            if served {
                // Half-closed: read on until the client leaves. Closing a
                // socket with unread input resets the connection, and a reset
                // makes the client's kernel discard what it has not read yet.
                let _ = tokio::time::timeout(REPLAY_DRAIN, &mut record).await;
            }
        }
        _ = &mut record => {
            // The client left; nothing more to serve.
        }
    }
}

/// Where the first line (the banner) ends, its LF included.
fn first_line_end(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| i + 1)
}

/// `bytes` with every `ActionID: <from>` line's value replaced by `to`.
fn rename_action_id(bytes: &[u8], from: &[u8], to: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(bytes.len());
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\r\n").unwrap_or(line);
        match body.strip_prefix(b"ActionID: ") {
            Some(v) if v == from => {
                out.extend_from_slice(b"ActionID: ");
                out.extend_from_slice(to);
                out.extend_from_slice(&line[body.len()..]);
            }
            _ => out.extend_from_slice(line),
        }
    }
    Bytes::from(out)
}

/// Where the messages (events, responses) of a run of bytes end.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Msgs<'a> {
    /// Every message is this long.
    Each(usize),
    /// The end offset of each message, in order.
    Ends(&'a [usize]),
}

impl Msgs<'_> {
    /// The end of the message that holds byte `pos` (at most `len`).
    fn end_after(&self, pos: usize, len: usize) -> usize {
        let end = match *self {
            Msgs::Each(n) => (pos / n.max(1) + 1) * n.max(1),
            Msgs::Ends(ends) => {
                let i = ends.partition_point(|&e| e <= pos);
                ends.get(i).copied().unwrap_or(len)
            }
        };
        end.min(len)
    }
}

/// Write `data`, a run of messages, under the faults; `false` when the
/// connection must end.
async fn put<W: AsyncWrite + Unpin>(
    w: &mut W,
    data: &[u8],
    msgs: Msgs<'_>,
    written: &mut u64,
    f: &Faults,
) -> bool {
    let mut data = data;
    let mut cut = false;
    if let Some(limit) = f.close_after_bytes {
        let room = limit.saturating_sub(*written);
        if (data.len() as u64) >= room {
            data = &data[..room as usize];
            cut = true;
        }
    }
    if !data.is_empty() {
        let res = match f.write_timeout {
            Some(t) => write_messages(w, data, msgs, t).await,
            None => w.write_all(data).await,
        };
        if res.is_err() {
            return false;
        }
        *written += data.len() as u64;
    }
    if cut {
        let _ = w.flush().await;
        let _ = w.shutdown().await;
        return false;
    }
    true
}

/// Write `data` as Asterisk writes to a manager session: message by message,
/// each under an inactivity timeout of `timeout` that starts when its write
/// starts (`send_string` in main/manager.c sets
/// `ast_iostream_set_timeout_inactivity(stream, writetimeout)` around the
/// `ast_iostream_write` of one event or response). A slow reader that keeps
/// taking bytes is never dropped; one that stops for `timeout` in the
/// middle of a message is. The bytes still go out in large writes.
async fn write_messages<W: AsyncWrite + Unpin>(
    w: &mut W,
    data: &[u8],
    msgs: Msgs<'_>,
    timeout: std::time::Duration,
) -> std::io::Result<()> {
    let mut pos = 0;
    let mut end = msgs.end_after(0, data.len());
    let mut deadline = Instant::now() + timeout;
    while pos < data.len() {
        let n = match tokio::time::timeout_at(deadline, w.write(&data[pos..])).await {
            Ok(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
        };
        pos += n;
        if pos >= end {
            // A message was written in full: the next one's write starts now.
            end = msgs.end_after(pos, data.len());
            deadline = Instant::now() + timeout;
        }
    }
    Ok(())
}

/// Largest batch of queued messages written at once.
const BATCH: usize = 256 * 1024;

/// The writer half: queued messages in order, floods between them.
async fn writer<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    mut w: W,
    mut rx: mpsc::UnboundedReceiver<Out>,
) {
    let mut written = 0u64;
    let mut buf = BytesMut::with_capacity(BATCH);
    // Where each queued message ends in `buf`.
    let mut ends: Vec<usize> = Vec::new();
    let mut floods: std::collections::VecDeque<crate::flood::Flooding> = Default::default();
    loop {
        let mut close = false;
        let take = |m: Out,
                    buf: &mut BytesMut,
                    ends: &mut Vec<usize>,
                    close: &mut bool,
                    floods: &mut std::collections::VecDeque<_>| match m {
            Out::Bytes(b) => {
                buf.extend_from_slice(&b);
                ends.push(buf.len());
            }
            Out::Flood(job) => floods.push_back(crate::flood::Flooding::new(job)),
            Out::Close => *close = true,
        };
        if floods.is_empty() {
            match rx.recv().await {
                Some(m) => take(m, &mut buf, &mut ends, &mut close, &mut floods),
                None => return,
            }
        } else if let Some(due) = floods.front().and_then(|f| f.due()) {
            if due > Instant::now() {
                tokio::select! {
                    m = rx.recv() => match m {
                        Some(m) => take(m, &mut buf, &mut ends, &mut close, &mut floods),
                        None => return,
                    },
                    _ = tokio::time::sleep_until(due) => {}
                }
            }
        }
        while !close && buf.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => take(m, &mut buf, &mut ends, &mut close, &mut floods),
                Err(_) => break,
            }
        }
        if shared.faults().stall {
            let mut rx = shared.faults.subscribe();
            let _ = rx.wait_for(|f| !f.stall).await;
        }
        let faults = shared.faults();
        if !buf.is_empty() {
            if !put(&mut w, &buf, Msgs::Ends(&ends), &mut written, &faults).await {
                return;
            }
            buf.clear();
            ends.clear();
        }
        if close {
            let _ = w.flush().await;
            let _ = w.shutdown().await;
            return;
        }
        if let Some(f) = floods.front_mut() {
            if f.due().is_none_or(|d| d <= Instant::now()) {
                if let Some(chunk) = f.next_chunk() {
                    if !put(&mut w, &chunk, f.msgs(), &mut written, &faults).await {
                        return;
                    }
                }
                if f.done() {
                    floods.pop_front();
                }
            }
        }
    }
}

/// The reader half: parse, record, answer.
async fn reader<R: AsyncRead + Unpin>(
    shared: Arc<Shared>,
    mut rd: R,
    link: Arc<Link>,
    peer: SocketAddr,
) {
    let mut input = Reader::new();
    let mut sess = crate::actions::Session::new(shared.clone(), link.clone(), peer);
    let deadline = Instant::now() + shared.cfg.auth_timeout;
    let mut items = Vec::new();
    // Requests read and not yet answered (see `Faults::answers_per_read`).
    let mut backlog: std::collections::VecDeque<Request> = Default::default();
    loop {
        input.next(&mut items);
        for item in items.drain(..) {
            match item {
                Incoming::Packet(p, reqs) => {
                    lock(&shared.received).push(p);
                    backlog.extend(reqs);
                }
                other => backlog.extend(other.requests()),
            }
        }
        let budget = shared.faults().answers_per_read.unwrap_or(usize::MAX);
        for _ in 0..budget {
            let Some(req) = backlog.pop_front() else {
                break;
            };
            if let Some(d) = shared.faults().response_delay {
                tokio::time::sleep(d).await;
            }
            if sess.handle(req).await.is_break() {
                let _ = link.tx.send(Out::Close);
                return;
            }
        }
        input.buf.reserve(8192);
        let res = if sess.authed() {
            rd.read_buf(&mut input.buf).await
        } else {
            match tokio::time::timeout_at(deadline, rd.read_buf(&mut input.buf)).await {
                Ok(r) => r,
                Err(_) => {
                    let _ = link.tx.send(Out::Close);
                    return;
                }
            }
        };
        match res {
            Ok(0) | Err(_) => {
                let _ = link.tx.send(Out::Close);
                return;
            }
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, DuplexStream};

    use super::*;

    const MSG: usize = 75;
    const TIMEOUT: Duration = Duration::from_millis(100);

    /// Read `bite` bytes every `every` until the end; once `stall.0` bytes
    /// are in, pause for `stall.1`. Returns the bytes read.
    async fn reader(
        mut r: DuplexStream,
        bite: usize,
        every: Duration,
        stall: Option<(usize, Duration)>,
    ) -> usize {
        let mut got = 0;
        let mut stall = stall;
        let mut buf = vec![0u8; bite];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got += n,
            }
            if let Some((at, pause)) = stall {
                if got >= at {
                    tokio::time::sleep(pause).await;
                    stall = None;
                }
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Write 300 messages to a reader through a 1 KiB pipe; whether the
    /// session survived, and how long the write took.
    async fn flood(stall: Option<(usize, Duration)>) -> (bool, Duration) {
        let (mut w, r) = tokio::io::duplex(1024);
        let data = vec![b'x'; 300 * MSG];
        let reading = tokio::spawn(reader(r, 512, Duration::from_millis(40), stall));
        let faults = Faults::default().write_timeout(TIMEOUT);
        let mut written = 0;
        let t0 = Instant::now();
        let ok = put(&mut w, &data, Msgs::Each(MSG), &mut written, &faults).await;
        let took = t0.elapsed();
        drop(w);
        let got = reading.await.unwrap();
        if ok {
            assert_eq!(got, data.len());
        }
        (ok, took)
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_never_dropped() {
        let (ok, took) = flood(None).await;
        assert!(ok, "dropped after {took:?}");
        // The whole run took many write timeouts: only each message is timed.
        assert!(took > 10 * TIMEOUT, "{took:?}");
        let (ok, _) = flood(Some((5000, Duration::from_millis(50)))).await;
        assert!(ok, "dropped on a pause shorter than the timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_stops_for_the_timeout_is_dropped() {
        let (ok, took) = flood(Some((5000, Duration::from_millis(150)))).await;
        assert!(!ok, "survived a 150 ms stall");
        assert!(took < Duration::from_secs(1), "{took:?}");
    }

    #[test]
    fn message_ends() {
        assert_eq!(Msgs::Each(10).end_after(0, 35), 10);
        assert_eq!(Msgs::Each(10).end_after(10, 35), 20);
        assert_eq!(Msgs::Each(10).end_after(31, 35), 35);
        let ends = [5, 9, 30];
        assert_eq!(Msgs::Ends(&ends).end_after(0, 30), 5);
        assert_eq!(Msgs::Ends(&ends).end_after(5, 30), 9);
        assert_eq!(Msgs::Ends(&ends).end_after(12, 30), 30);
        assert_eq!(Msgs::Ends(&[]).end_after(12, 30), 30);
    }
}
