//! The driver task: owns the socket and the core state machine, moves bytes
//! and time, hands outcomes to callers and events to subscribers.
//!
//! One task, polled by hand (like quinn's endpoint driver): every wake-up it
//! takes the callers' commands, reads whatever the socket has (reading never
//! waits for a consumer or a writer), hands out events, writes what the core
//! has to send, and re-arms the timer only when the core's deadline changed.

use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use amiproto::{
    Action, ActionError, ActionHandle, AmiVersion, CloseReason, Connection, ConnectionError, Event,
    EventMask, Outcome, ResponseStatus, SendOptions, State,
};
use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, Sleep};
use tracing::{debug, info, warn};

use crate::config::{ClientConfig, WhileReconnecting};
use crate::events::{Batch, EventItem, Subscriber, Subscribers};
use crate::transport::{self, Transport};
use crate::Error;
use crate::{ConnectionState, Status};

const READ_BUF: usize = 64 * 1024;

type IdMap<K, V> = HashMap<K, V, amiproto::SeqBuildHasher>;
const CMD_BATCH: usize = 1024;

/// What a caller waits for.
pub(crate) type OutcomeTx = oneshot::Sender<Result<Outcome, Error>>;

/// Callers waiting for an outcome: found by caller id (to cancel) and by
/// handle (when the core reports the outcome).
///
/// One hash map by caller id, plus the handles in submission order: handles
/// only grow (by generation, then sequence), and outcomes mostly come back
/// in that order, so the one finishing is usually at the front, else found
/// by binary search — one hash insert and one removal per action instead
/// of two of each.
#[derive(Default)]
struct Waiters {
    by_id: IdMap<u64, (ActionHandle, OutcomeTx)>,
    /// `(handle, caller id)` sorted by handle; the id is taken once the
    /// action is finished or cancelled.
    order: VecDeque<(ActionHandle, Option<u64>)>,
    /// Entries of `order` whose id was taken.
    dead: usize,
}

impl Waiters {
    fn insert(&mut self, id: u64, handle: ActionHandle, tx: OutcomeTx) {
        self.by_id.insert(id, (handle, tx));
        if self.order.back().is_none_or(|(last, _)| *last < handle) {
            self.order.push_back((handle, Some(id)));
        } else {
            // Not expected (handles grow), but stay sorted whatever.
            let at = self.order.partition_point(|(h, _)| *h < handle);
            self.order.insert(at, (handle, Some(id)));
        }
    }

    /// Mark `handle`'s entry finished; its caller id if it was waiting.
    fn retire(&mut self, handle: ActionHandle) -> Option<u64> {
        let at = match self.order.front() {
            Some((h, _)) if *h == handle => 0,
            _ => self.order.binary_search_by_key(&handle, |(h, _)| *h).ok()?,
        };
        let id = self.order[at].1.take()?;
        self.dead += 1;
        while self.order.front().is_some_and(|(_, id)| id.is_none()) {
            self.order.pop_front();
            self.dead -= 1;
        }
        // Finished entries stuck behind a long-running one: compact once
        // they are the majority, so memory stays bounded by the live ones.
        if self.dead > 64 && self.dead * 2 > self.order.len() {
            self.order.retain(|(_, id)| id.is_some());
            self.dead = 0;
        }
        Some(id)
    }

    /// The caller waiting for `handle`'s outcome, if any.
    fn take(&mut self, handle: ActionHandle) -> Option<OutcomeTx> {
        let id = self.retire(handle)?;
        self.by_id.remove(&id).map(|(_, tx)| tx)
    }

    /// Forget caller `id`; the handle of its action if it was waiting.
    fn cancel(&mut self, id: u64) -> Option<ActionHandle> {
        let (handle, _tx) = self.by_id.remove(&id)?;
        self.retire(handle);
        Some(handle)
    }

    /// Every waiting caller, leaving none.
    fn drain(&mut self) -> impl Iterator<Item = OutcomeTx> + '_ {
        self.order.clear();
        self.dead = 0;
        self.by_id.drain().map(|(_, (_, tx))| tx)
    }
}

/// What to remember of an action for re-applying after a reconnect, once
/// the server has accepted it.
#[derive(Debug)]
pub(crate) enum Remember {
    Mask(EventMask),
    Filter(String),
}

/// How a submitter wants to hear back.
#[derive(Debug)]
pub(crate) enum Reply {
    /// The outcome.
    Outcome(OutcomeTx),
    /// Only whether the action was accepted (no outcome follows).
    Accepted(oneshot::Sender<Result<(), Error>>),
}

/// A caller's request to the driver.
#[derive(Debug)]
pub(crate) enum Cmd {
    Send {
        id: u64,
        action: Action,
        timeout: Option<Option<Duration>>,
        reply: Reply,
        /// Boxed: rare, and it would widen every command.
        remember: Option<Box<Remember>>,
    },
    Cancel(u64),
    Subscribe(Subscriber),
}

/// An action submitted while no connection is up.
#[derive(Debug)]
struct Held {
    id: u64,
    action: Action,
    timeout: Option<Option<Duration>>,
    deadline: Option<Instant>,
    reply: Reply,
    remember: Option<Box<Remember>>,
}

pub(crate) type ReadyTx = oneshot::Sender<Result<Option<AmiVersion>, Error>>;

pub(crate) struct Driver {
    config: ClientConfig,
    rx: mpsc::UnboundedReceiver<Cmd>,
    rx_closed: bool,
    cmd_buf: Vec<Cmd>,
    status: watch::Sender<Status>,
    subs: Subscribers,
    batch: Batch,
    waiters: Waiters,
    /// Outcomes finished by one read, handed out together (see
    /// [`Driver::drain_events`]).
    done: Vec<(OutcomeTx, Result<Outcome, ActionError>)>,
    held: VecDeque<Held>,
    generation: u32,
    /// Reconnect attempts since a connection last stayed up long enough.
    attempt: u32,
    /// When the current (or last) connection logged in.
    ready_at: Option<Instant>,
    /// The event mask for the next login: the configured one, or the last
    /// one the server accepted through [`crate::Client::set_event_mask`].
    mask: EventMask,
    /// Filters the server accepted, re-applied after every login.
    filters: Vec<String>,
    /// Mask and filter changes sent and not answered yet.
    unconfirmed: Vec<(ActionHandle, Remember)>,
    shutdown_at: Option<Instant>,
    ready_tx: Option<ReadyTx>,
    /// Why the last connection ended.
    last_close: Option<CloseReason>,
    rng: u64,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::Connector>,
}

/// One live connection.
struct Session {
    io: Transport,
    conn: Connection,
    rbuf: Box<[u8]>,
    wbuf: Bytes,
    needs_flush: bool,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

fn std_now() -> std::time::Instant {
    Instant::now().into_std()
}

impl Driver {
    pub(crate) fn new(
        config: ClientConfig,
        rx: mpsc::UnboundedReceiver<Cmd>,
        status: watch::Sender<Status>,
        first: Subscriber,
        ready_tx: ReadyTx,
    ) -> Driver {
        let mut subs = Subscribers::default();
        subs.add(first);
        let seed = {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            t ^ (&subs as *const _ as u64).rotate_left(17) | 1
        };
        Driver {
            mask: config.ami.events.clone(),
            config,
            rx,
            rx_closed: false,
            cmd_buf: Vec::with_capacity(CMD_BATCH),
            status,
            subs,
            batch: Batch::default(),
            waiters: Waiters::default(),
            done: Vec::new(),
            held: VecDeque::new(),
            generation: 0,
            attempt: 0,
            ready_at: None,
            filters: Vec::new(),
            unconfirmed: Vec::new(),
            shutdown_at: None,
            ready_tx: Some(ready_tx),
            last_close: None,
            rng: seed,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    fn set_state(&self, state: ConnectionState, version: Option<Option<AmiVersion>>) {
        let generation = self.generation;
        self.status.send_modify(|s| {
            s.state = state;
            s.generation = generation;
            if let Some(v) = version {
                s.version = v;
            }
        });
    }

    fn random_unit(&mut self) -> f64 {
        // xorshift64*: jitter needs no cryptographic quality.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The first connection attempt (its errors go to the caller).
    pub(crate) async fn open_initial(&mut self) -> Result<Transport, Error> {
        self.open().await
    }

    async fn open(&mut self) -> Result<Transport, Error> {
        self.set_state(ConnectionState::Connecting, None);
        transport::connect(
            &self.config,
            #[cfg(feature = "tls")]
            &mut self.tls,
        )
        .await
    }

    /// A fresh core connection: the current event mask in the login, then
    /// the filters set through the client (the actions held meanwhile follow
    /// once it is logged in).
    fn new_connection(&mut self) -> Connection {
        let now = std_now();
        let mut cfg = self.config.ami.clone();
        cfg.events = self.mask.clone();
        // The core's default in-flight window depends on the transport.
        cfg.tls = self.config.endpoint.tls;
        let entropy = crate::entropy::connection_entropy();
        let mut conn = Connection::with_entropy(cfg, self.generation, entropy, now);
        for f in &self.filters {
            let _ = conn.send_with(
                Action::filter_add(f.clone()),
                SendOptions::new().no_reply(),
                now,
            );
        }
        conn
    }

    /// Run until the client is closed for good.
    pub(crate) async fn run(mut self, first: Transport) {
        let mut io = Some(first);
        loop {
            if let Some(t) = io.take() {
                let conn = self.new_connection();
                let reason = self.run_session(t, conn).await;
                let r = reason.clone();
                self.status.send_modify(|s| s.last_close = Some(r));
                self.last_close = Some(reason.clone());
                let initial = self.ready_tx.is_some();
                if let Some(tx) = self.ready_tx.take() {
                    let err = match &reason {
                        CloseReason::Error(e) => Error::Connection(e.clone()),
                        other => Error::Closed(other.clone()),
                    };
                    let _ = tx.send(Err(err));
                }
                self.unconfirmed.clear();
                self.settle_backoff();
                // A Logoff was sent (the state says `Closing`): however the
                // connection then ended, the user asked for that end.
                let logged_off = self.status.borrow().state == ConnectionState::Closing;
                let again = !initial
                    && !self.rx_closed
                    && !logged_off
                    && self.config.reconnect.is_some()
                    && retries(&reason);
                if !again {
                    debug!(%reason, "connection closed");
                    break;
                }
                warn!(%reason, "connection lost; reconnecting");
            }
            let Some(policy) = self.config.reconnect.clone() else {
                break;
            };
            if policy.max_attempts.is_some_and(|m| self.attempt >= m) {
                warn!(attempts = self.attempt, "giving up reconnecting");
                break;
            }
            let unit = self.random_unit();
            let delay = policy.delay(self.attempt, unit);
            self.set_state(
                ConnectionState::Reconnecting {
                    attempt: self.attempt,
                },
                None,
            );
            self.attempt += 1;
            if !self.idle(Some(Instant::now() + delay)).await {
                break;
            }
            let open = self.open();
            let r = open.await;
            match r {
                Ok(t) => {
                    self.generation += 1;
                    info!(generation = self.generation, "reconnected");
                    io = Some(t);
                }
                Err(e) => {
                    warn!(error = %e, attempt = self.attempt, "reconnect attempt failed");
                    self.expire_held();
                }
            }
        }
        self.finish();
    }

    /// A connection ended: start the backoff again only if it stayed logged
    /// in for the policy's `reset_after`.
    fn settle_backoff(&mut self) {
        let Some(since) = self.ready_at.take() else {
            return;
        };
        let stable = self.config.reconnect.as_ref().map(|r| r.reset_after);
        if stable.is_some_and(|d| since.elapsed() >= d) {
            self.attempt = 0;
        }
    }

    fn finish(&mut self) {
        let reason = self
            .last_close
            .clone()
            .unwrap_or(CloseReason::Error(ConnectionError::Aborted));
        let closed = || Error::Closed(reason.clone());
        for held in std::mem::take(&mut self.held) {
            reply_err(held.reply, closed());
        }
        for tx in self.waiters.drain() {
            let _ = tx.send(Err(closed()));
        }
        self.subs.close();
        self.set_state(ConnectionState::Closed, None);
        self.rx.close();
        while let Ok(cmd) = self.rx.try_recv() {
            if let Cmd::Send { reply, .. } = cmd {
                reply_err(reply, closed());
            }
        }
        debug!("driver finished");
    }

    // ----- while disconnected --------------------------------------------------

    /// Serve commands until `until` (or forever); false once every client is
    /// gone.
    async fn idle(&mut self, until: Option<Instant>) -> bool {
        let far = far_future();
        let mut sleep = Box::pin(tokio::time::sleep_until(until.unwrap_or(far)));
        poll_fn(|cx| loop {
            self.expire_held();
            if until.is_some_and(|u| Instant::now() >= u) {
                return Poll::Ready(true);
            }
            match self.rx.poll_recv_many(cx, &mut self.cmd_buf, CMD_BATCH) {
                Poll::Ready(0) => {
                    self.rx_closed = true;
                    return Poll::Ready(false);
                }
                Poll::Ready(_) => {
                    let mut cmds = std::mem::take(&mut self.cmd_buf);
                    for cmd in cmds.drain(..) {
                        self.on_cmd_offline(cmd);
                    }
                    self.cmd_buf = cmds;
                }
                Poll::Pending => {
                    // Wake for the earliest held deadline or the end.
                    let next = self.held.iter().filter_map(|h| h.deadline).min();
                    let target = match (next, until) {
                        (Some(a), Some(b)) => a.min(b),
                        (a, b) => a.or(b).unwrap_or(far),
                    };
                    if sleep.deadline() != target {
                        sleep.as_mut().reset(target);
                    }
                    if sleep.as_mut().poll(cx).is_ready() {
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        })
        .await
    }

    fn expire_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut keep = VecDeque::with_capacity(self.held.len());
        for h in self.held.drain(..) {
            if h.deadline.is_some_and(|d| d <= now) {
                reply_err(h.reply, Error::Action(ActionError::Timeout));
            } else {
                keep.push_back(h);
            }
        }
        self.held = keep;
    }

    fn on_cmd_offline(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Send {
                id,
                action,
                timeout,
                reply,
                remember,
            } => {
                let mode = self
                    .config
                    .reconnect
                    .as_ref()
                    .map(|r| r.while_reconnecting)
                    .unwrap_or(WhileReconnecting::FailFast);
                if mode == WhileReconnecting::FailFast {
                    return reply_err(reply, Error::NotConnected);
                }
                let effective = timeout.unwrap_or(self.config.ami.action_timeout);
                let deadline = effective.map(|t| Instant::now() + t);
                self.held.push_back(Held {
                    id,
                    action,
                    timeout,
                    deadline,
                    reply,
                    remember,
                });
            }
            Cmd::Cancel(id) => self.held.retain(|h| h.id != id),
            Cmd::Subscribe(s) => self.subs.add(s),
        }
    }

    /// A mask or filter change finished: keep it for later logins only if
    /// the server accepted it (an action refused by the encoder never gets
    /// here; one refused by the server must not poison every reconnect).
    fn confirm(&mut self, handle: ActionHandle, result: &Result<Outcome, ActionError>) {
        let Some(at) = self.unconfirmed.iter().position(|(h, _)| *h == handle) else {
            return;
        };
        let (_, change) = self.unconfirmed.swap_remove(at);
        let accepted = matches!(
            result,
            Ok(Outcome::Response(p)) if p.response_status() == Some(ResponseStatus::Success)
        );
        if !accepted {
            return;
        }
        match change {
            Remember::Mask(m) => self.mask = m,
            Remember::Filter(f) => self.filters.push(f),
        }
    }

    // ----- connected ------------------------------------------------------------

    /// Hand an action to the core; a mask or filter change is kept aside
    /// until the server answers it.
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &mut self,
        conn: &mut Connection,
        id: u64,
        action: Action,
        timeout: Option<Option<Duration>>,
        reply: Reply,
        remember: Option<Box<Remember>>,
        now: std::time::Instant,
    ) {
        let mut opts = SendOptions::new();
        if let Some(t) = timeout {
            opts = opts.timeout(t);
        }
        if matches!(reply, Reply::Accepted(_)) {
            opts = opts.no_reply();
        }
        debug!(action = action.name(), "send");
        let sent = conn.send_with(action, opts, now);
        self.note_closing(conn);
        match sent {
            Ok(handle) => match reply {
                Reply::Outcome(tx) => {
                    self.waiters.insert(id, handle, tx);
                    if let Some(r) = remember {
                        self.unconfirmed.push((handle, *r));
                    }
                }
                Reply::Accepted(tx) => {
                    let _ = tx.send(Ok(()));
                }
            },
            Err(e) => reply_err(reply, Error::Send(e)),
        }
    }

    /// Submit the actions held while disconnected, with what is left of
    /// their timeouts.
    fn flush_held(&mut self, conn: &mut Connection) {
        let now = std_now();
        let tnow = Instant::now();
        for held in std::mem::take(&mut self.held) {
            let timeout = match held.deadline {
                Some(at) => Some(Some(at.saturating_duration_since(tnow))),
                None => held.timeout,
            };
            self.submit(
                conn,
                held.id,
                held.action,
                timeout,
                held.reply,
                held.remember,
                now,
            );
        }
    }

    fn on_cmd(&mut self, conn: &mut Connection, cmd: Cmd, now: std::time::Instant) {
        match cmd {
            // Not logged in (yet) after a reconnect: hold or fail fast, by
            // policy, exactly as while no socket is open.
            cmd @ Cmd::Send { .. }
                if matches!(conn.state(), State::AwaitingBanner | State::Authenticating) =>
            {
                self.on_cmd_offline(cmd)
            }
            Cmd::Send {
                id,
                action,
                timeout,
                reply,
                remember,
            } => {
                self.submit(conn, id, action, timeout, reply, remember, now);
            }
            Cmd::Cancel(id) => {
                if let Some(handle) = self.waiters.cancel(id) {
                    conn.cancel(handle, now);
                    self.unconfirmed.retain(|(h, _)| *h != handle);
                    debug!(seq = handle.seq(), "action cancelled");
                } else {
                    self.held.retain(|h| h.id != id);
                }
            }
            Cmd::Subscribe(s) => self.subs.add(s),
        }
    }

    fn begin_shutdown(&mut self, conn: &mut Connection, now: std::time::Instant) {
        debug!("every client dropped: logging off");
        self.shutdown_at = Some(Instant::now() + self.config.shutdown_timeout);
        if conn.state() == State::Ready {
            let _ = conn.send_with(Action::logoff(), SendOptions::new().no_reply(), now);
            self.note_closing(conn);
        } else if conn.state() != State::Closed && conn.state() != State::Closing {
            conn.abort(ConnectionError::Aborted);
        }
    }

    /// Publish [`ConnectionState::Closing`] once a `Logoff` is on its way.
    fn note_closing(&self, conn: &Connection) {
        if conn.state() == State::Closing && self.status.borrow().state != ConnectionState::Closing
        {
            self.set_state(ConnectionState::Closing, None);
        }
    }

    /// Hand out what the core reported; returns the close reason once closed.
    fn drain_events(&mut self, conn: &mut Connection) -> Option<CloseReason> {
        let mut closed = None;
        let mut listening: Option<bool> = None;
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::Done { handle, result } => {
                    if !self.unconfirmed.is_empty() {
                        self.confirm(handle, &result);
                    }
                    if let Some(tx) = self.waiters.take(handle) {
                        self.done.push((tx, result));
                    }
                }
                Event::Unsolicited(p)
                    if *listening.get_or_insert_with(|| !self.subs.is_empty()) =>
                {
                    self.batch.items.push(EventItem::Event(p));
                }
                Event::Skipped(e) => {
                    warn!(error = %e, "packet skipped");
                    if *listening.get_or_insert_with(|| !self.subs.is_empty()) {
                        self.batch.items.push(EventItem::Skipped(e));
                    }
                }
                Event::Banner(b) => {
                    debug!(banner = %b.version_str(), "banner");
                    self.set_state(ConnectionState::Authenticating, Some(b.version()));
                }
                Event::Ready => {
                    info!(generation = self.generation, "logged in");
                    self.ready_at = Some(Instant::now());
                    self.set_state(ConnectionState::Ready, None);
                    if let Some(tx) = self.ready_tx.take() {
                        let _ = tx.send(Ok(conn.version()));
                    }
                    if self.generation > 0 {
                        self.batch.items.push(EventItem::Reconnected {
                            generation: self.generation,
                        });
                    }
                    self.flush_held(conn);
                }
                Event::Closed(reason) => closed = Some(reason),
                _ => {}
            }
        }
        // Outcomes that finished together are handed out last first: a
        // caller awaiting them in order is then woken once for the lot
        // rather than once per outcome (each wake of a parked thread is a
        // system call on this task's thread). They all precede this read's
        // events, as before.
        while let Some((tx, result)) = self.done.pop() {
            let _ = tx.send(result.map_err(Error::Action));
        }
        if !self.batch.items.is_empty() {
            self.subs.dispatch(&mut self.batch);
        }
        closed
    }

    async fn run_session(&mut self, io: Transport, conn: Connection) -> CloseReason {
        let mut s = Session {
            io,
            conn,
            rbuf: vec![0u8; READ_BUF].into_boxed_slice(),
            wbuf: Bytes::new(),
            needs_flush: false,
            sleep: Box::pin(tokio::time::sleep_until(far_future())),
            armed: None,
        };
        if self.rx_closed {
            let now = std_now();
            self.begin_shutdown(&mut s.conn, now);
        }
        let reason = poll_fn(|cx| self.poll_session(cx, &mut s)).await;
        // Best effort: let the server see the end of the stream.
        let _ = tokio::time::timeout(
            Duration::from_millis(100),
            tokio::io::AsyncWriteExt::shutdown(&mut s.io),
        )
        .await;
        reason
    }

    fn poll_session(&mut self, cx: &mut Context<'_>, s: &mut Session) -> Poll<CloseReason> {
        loop {
            let mut busy = false;
            let now = std_now();

            // Commands from callers.
            if !self.rx_closed {
                match self.rx.poll_recv_many(cx, &mut self.cmd_buf, CMD_BATCH) {
                    Poll::Ready(0) => {
                        self.rx_closed = true;
                        self.begin_shutdown(&mut s.conn, now);
                        busy = true;
                    }
                    Poll::Ready(_) => {
                        let mut cmds = std::mem::take(&mut self.cmd_buf);
                        for cmd in cmds.drain(..) {
                            self.on_cmd(&mut s.conn, cmd, now);
                        }
                        self.cmd_buf = cmds;
                        busy = true;
                    }
                    Poll::Pending => {}
                }
            }

            // Read everything available: never wait for anyone to do so.
            for _ in 0..16 {
                if s.conn.state() == State::Closed {
                    break;
                }
                let mut rb = ReadBuf::new(&mut s.rbuf);
                match Pin::new(&mut s.io).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                        s.conn.handle_eof(std_now());
                        busy = true;
                        break;
                    }
                    Poll::Ready(Ok(())) => {
                        s.conn.handle_input(std_now(), rb.filled());
                        busy = true;
                        if let Some(r) = self.drain_events(&mut s.conn) {
                            return Poll::Ready(r);
                        }
                    }
                    Poll::Ready(Err(e)) => {
                        s.conn.abort(ConnectionError::Transport(e.to_string()));
                        busy = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if let Some(r) = self.drain_events(&mut s.conn) {
                return Poll::Ready(r);
            }

            // Write what the core has, concurrently with reading.
            loop {
                if s.wbuf.is_empty() {
                    match s.conn.poll_transmit() {
                        Some(b) => s.wbuf = b,
                        None => break,
                    }
                }
                match Pin::new(&mut s.io).poll_write(cx, &s.wbuf) {
                    Poll::Ready(Ok(0)) => {
                        s.conn
                            .abort(ConnectionError::Transport("write returned 0".into()));
                        busy = true;
                        break;
                    }
                    Poll::Ready(Ok(n)) => {
                        s.wbuf.advance(n);
                        s.needs_flush = true;
                    }
                    Poll::Ready(Err(e)) => {
                        s.conn.abort(ConnectionError::Transport(e.to_string()));
                        busy = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if s.needs_flush {
                match Pin::new(&mut s.io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => s.needs_flush = false,
                    Poll::Ready(Err(e)) => {
                        s.conn.abort(ConnectionError::Transport(e.to_string()));
                        busy = true;
                    }
                    Poll::Pending => {}
                }
            }

            // Timers: re-arm only when the deadline moved.
            let core = s.conn.poll_timeout().map(Instant::from_std);
            let held = self.held.iter().filter_map(|h| h.deadline).min();
            let deadline = [core, self.shutdown_at, held].into_iter().flatten().min();
            if let Some(at) = deadline {
                if s.armed != Some(at) {
                    s.sleep.as_mut().reset(at);
                    s.armed = Some(at);
                }
                if at <= Instant::now() || s.sleep.as_mut().poll(cx).is_ready() {
                    let now = std_now();
                    if self
                        .shutdown_at
                        .is_some_and(|t| t.into_std() <= now && s.conn.state() != State::Closed)
                    {
                        debug!("no Goodbye within the shutdown timeout");
                        s.conn.abort(ConnectionError::Aborted);
                    }
                    s.conn.handle_timeout(now);
                    self.expire_held();
                    s.armed = None;
                    busy = true;
                }
            } else {
                s.armed = None;
            }

            if let Some(r) = self.drain_events(&mut s.conn) {
                return Poll::Ready(r);
            }
            if s.conn.state() == State::Closed {
                let r = s
                    .conn
                    .close_reason()
                    .cloned()
                    .unwrap_or(CloseReason::Error(ConnectionError::Aborted));
                return Poll::Ready(r);
            }
            if !busy {
                return Poll::Pending;
            }
        }
    }
}

/// Whether a connection that ended for `reason` is worth re-establishing:
/// not after a logoff (answered or timed out), nor when no login could ever
/// succeed.
fn retries(reason: &CloseReason) -> bool {
    match reason {
        _ if reason.is_logoff() => false,
        CloseReason::Error(e) => !e.is_permanent(),
        _ => true,
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365)
}

fn reply_err(reply: Reply, e: Error) {
    match reply {
        Reply::Outcome(tx) => {
            let _ = tx.send(Err(e));
        }
        Reply::Accepted(tx) => {
            let _ = tx.send(Err(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Handles in increasing order, from a core connection.
    fn handles(n: usize) -> Vec<ActionHandle> {
        let cfg = ClientConfig::new("127.0.0.1", 5038, "u", "s").ami;
        let now = std_now();
        let mut conn = Connection::with_generation(cfg, 0, now);
        (0..n)
            .map(|_| conn.send(Action::ping(), now).unwrap())
            .collect()
    }

    fn waiter() -> (OutcomeTx, oneshot::Receiver<Result<Outcome, Error>>) {
        oneshot::channel()
    }

    #[test]
    fn permanent_errors_and_logoffs_are_not_retried() {
        let unencodable = ConnectionError::LoginUnencodable(amiproto::EncodeError::EmptyActionName);
        assert!(!retries(&CloseReason::Error(unencodable)));
        assert!(!retries(&CloseReason::LoggedOff));
        assert!(!retries(&CloseReason::Error(
            ConnectionError::LogoffTimeout
        )));
        assert!(retries(&CloseReason::Error(ConnectionError::PeerClosed {
            mid_packet: false
        })));
        assert!(retries(&CloseReason::Error(ConnectionError::AuthFailed {
            message: "Authentication failed".into()
        })));
    }

    #[test]
    fn waiters_in_order_out_of_order_and_cancelled() {
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
        assert_eq!(w.by_id.len(), 2);
        // Only the live entries are left once the front is finished.
        assert_eq!(w.order.len(), 2);
        assert_eq!(w.order.len() - w.dead, w.by_id.len());
        let left: Vec<_> = w.drain().collect();
        assert_eq!(left.len(), 2);
        assert!(w.order.is_empty() && w.by_id.is_empty());
    }

    #[test]
    fn waiters_stay_bounded_behind_a_long_running_action() {
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
        assert!(w.order.is_empty() && w.by_id.is_empty());
    }
}
