//! The driver task: owns the socket and the core state machine, moves bytes
//! and time, hands outcomes to callers and events to subscribers.
//!
//! One task, polled by hand (like quinn's endpoint driver): every wake-up it
//! takes the callers' commands, reads whatever the socket has (reading never
//! waits for a consumer or a writer), hands out events, writes what the core
//! has to send, and re-arms the timer only when the core's deadline changed.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use amiproto::reconnect::Backoff;
use amiproto::{
    Action, ActionError, ActionHandle, AmiVersion, CloseReason, Connection, ConnectionError, Event,
    EventMask, Outcome, ResponseStatus, SendOptions, State,
};
use bytes::{Buf, Bytes};
use tokio::io::AsyncWrite;
use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, Sleep};
use tracing::{debug, info, warn};

use crate::cmd_queue::CmdReceiver;
use crate::completion::Completer;
use crate::config::{ClientConfig, WhileReconnecting};
use crate::events::{Batch, EventItem, Subscriber, Subscribers};
use crate::list::ListShared;
use crate::transport::{self, Transport};
use crate::waiters::{Waiter, Waiters};
use crate::Error;
use crate::{ConnectionState, Status};

/// Most bytes one read takes, once the connection is busy.
const READ_BUF: usize = 64 * 1024;

/// Room for a connection's first reads: an idle connection keeps a few KiB;
/// the room doubles, up to [`READ_BUF`], each time a read fills it.
const FIRST_READ: usize = 4 * 1024;

/// Room kept for the commands of one turn.
const CMD_BATCH: usize = 1024;

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
    Outcome(Completer),
    /// A list's items as they come, then its outcome.
    Stream(Arc<ListShared>),
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
    /// Close now, without logging off, and for good.
    Disconnect,
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

/// How the first connection is made.
pub(crate) enum Start {
    /// [`crate::connect`]: opened by the caller, whose login outcome goes
    /// to `ready` (the first connection is never retried).
    Opened(Transport, ReadyTx),
    /// [`crate::connect_lazy`]: opened by the driver, retried by the
    /// reconnect policy; if the client closes without ever logging in, the
    /// last failure is kept in `failure` for callers.
    Lazy(Arc<OnceLock<Error>>),
}

/// How waiting for something while disconnected ended.
enum Offline<T> {
    /// The awaited work finished.
    Done(T),
    /// The deadline passed.
    Elapsed,
    /// Every client is gone, or one asked to disconnect.
    Stopped,
}

pub(crate) struct Driver {
    config: ClientConfig,
    rx: CmdReceiver,
    rx_closed: bool,
    /// A client asked to disconnect: close now, never reconnect.
    stop: bool,
    cmd_buf: Vec<Cmd>,
    status: watch::Sender<Status>,
    subs: Subscribers,
    batch: Batch,
    waiters: Waiters,
    /// Callers whose outcome one read finished, woken together once every
    /// outcome of it is stored (see [`crate::completion`]).
    wake: Vec<std::task::Waker>,
    /// Streamed lists that got items in this read (woken once each).
    fed: Vec<Arc<ListShared>>,
    held: VecDeque<Held>,
    /// TCP connections opened so far: the core's generation of the next
    /// one, so that no handle of an earlier connection matches.
    connections: u32,
    /// Logins after the first ([`Status::generation`]).
    generation: u32,
    /// Whether any connection ever logged in.
    logged_in: bool,
    /// Where the reconnect policy stands (attempts since a connection last
    /// stayed up long enough); `None` without a policy.
    backoff: Option<Backoff>,
    /// The event mask for the next login: the configured one, or the last
    /// one the server accepted through [`crate::Client::set_event_mask`].
    mask: EventMask,
    /// Filters the server accepted, re-applied after every login.
    filters: Vec<String>,
    /// Mask and filter changes sent and not answered yet.
    unconfirmed: Vec<(ActionHandle, Remember)>,
    shutdown_at: Option<Instant>,
    ready_tx: Option<ReadyTx>,
    /// Lazy start: where the failure goes if no login ever succeeds.
    failure: Option<Arc<OnceLock<Error>>>,
    /// The last failed attempt to connect or log in (lazy start).
    last_error: Option<Error>,
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
    wbuf: Bytes,
    needs_flush: bool,
    /// Writing was put off for one turn (see [`Driver::poll_session`]).
    deferred: bool,
    /// Room the next read asks the core's buffer for (see [`FIRST_READ`]).
    read_room: usize,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

fn std_now() -> std::time::Instant {
    Instant::now().into_std()
}

impl Driver {
    pub(crate) fn new(
        config: ClientConfig,
        rx: CmdReceiver,
        status: watch::Sender<Status>,
        first: Subscriber,
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
        let backoff = config.reconnect.clone().map(Backoff::new);
        Driver {
            mask: config.ami.events.clone(),
            config,
            rx,
            rx_closed: false,
            stop: false,
            cmd_buf: Vec::with_capacity(CMD_BATCH),
            status,
            subs,
            batch: Batch::default(),
            waiters: Waiters::default(),
            wake: Vec::new(),
            fed: Vec::new(),
            held: VecDeque::new(),
            connections: 0,
            generation: 0,
            logged_in: false,
            backoff,
            filters: Vec::new(),
            unconfirmed: Vec::new(),
            shutdown_at: None,
            ready_tx: None,
            failure: None,
            last_error: None,
            last_close: None,
            rng: seed,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    fn set_state(&self, state: ConnectionState) {
        self.status.send_modify(|s| s.state = state);
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

    /// The first connection attempt of [`crate::connect`] (its errors go to
    /// the caller).
    pub(crate) async fn open_initial(&mut self) -> Result<Transport, Error> {
        self.set_state(ConnectionState::Connecting);
        transport::connect(
            &self.config,
            #[cfg(feature = "tls")]
            &mut self.tls,
        )
        .await
    }

    /// Open a connection while serving commands (held, or failed fast, as
    /// while disconnected); `None` if a client disconnected or every client
    /// went away meanwhile.
    async fn open(&mut self) -> Option<Result<Transport, Error>> {
        self.set_state(ConnectionState::Connecting);
        let config = self.config.clone();
        #[cfg(feature = "tls")]
        let mut tls = self.tls.take();
        let work = async move {
            let r = transport::connect(
                &config,
                #[cfg(feature = "tls")]
                &mut tls,
            )
            .await;
            #[cfg(feature = "tls")]
            return (r, tls);
            #[cfg(not(feature = "tls"))]
            (r, ())
        };
        match self.offline(None, work).await {
            Offline::Done((r, _tls)) => {
                #[cfg(feature = "tls")]
                {
                    self.tls = _tls;
                }
                Some(r)
            }
            Offline::Elapsed | Offline::Stopped => None,
        }
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
        let mut conn = Connection::with_entropy(cfg, self.connections, entropy, now);
        self.connections = self.connections.wrapping_add(1);
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
    pub(crate) async fn run(mut self, start: Start) {
        let mut io = match start {
            Start::Opened(t, ready) => {
                self.ready_tx = Some(ready);
                Some(t)
            }
            Start::Lazy(failure) => {
                self.failure = Some(failure);
                None
            }
        };
        loop {
            let t = match io.take() {
                Some(t) => t,
                None => match self.open().await {
                    None => break,
                    Some(Ok(t)) => t,
                    Some(Err(e)) => {
                        let attempt = self.backoff.as_ref().map_or(0, Backoff::attempts);
                        warn!(error = %e, attempt, "connect attempt failed");
                        self.last_error = Some(e);
                        self.expire_held();
                        if !self.backoff().await {
                            break;
                        }
                        continue;
                    }
                },
            };
            let conn = self.new_connection();
            let reason = self.run_session(t, conn).await;
            let r = reason.clone();
            self.status.send_modify(|s| s.last_close = Some(r));
            self.last_close = Some(reason.clone());
            let initial = self.ready_tx.is_some();
            if !self.logged_in {
                self.last_error = Some(match &reason {
                    CloseReason::Error(e) => Error::Connection(e.clone()),
                    other => Error::Closed(other.clone()),
                });
            }
            if let Some(tx) = self.ready_tx.take() {
                if let Some(e) = self.last_error.take() {
                    let _ = tx.send(Err(e));
                }
            }
            self.unconfirmed.clear();
            self.settle_backoff();
            // A Logoff was sent (the state says `Closing`): however the
            // connection then ended, the user asked for that end.
            let logged_off = self.status.borrow().state == ConnectionState::Closing;
            let again = !initial
                && !self.rx_closed
                && !self.stop
                && !logged_off
                && self.config.reconnect.is_some()
                && retries(&reason);
            if !again {
                debug!(%reason, "connection closed");
                break;
            }
            warn!(%reason, "connection lost; reconnecting");
            if !self.backoff().await {
                break;
            }
        }
        self.finish();
    }

    /// Wait before the next attempt, as the reconnect policy says; false
    /// when there is to be none.
    async fn backoff(&mut self) -> bool {
        if self.backoff.is_none() || self.stop || self.rx_closed {
            return false;
        }
        let unit = self.random_unit();
        let Some(backoff) = self.backoff.as_mut() else {
            return false;
        };
        let attempt = backoff.attempts();
        let Some(delay) = backoff.next_delay(unit) else {
            warn!(attempts = attempt, "giving up reconnecting");
            return false;
        };
        self.set_state(ConnectionState::Reconnecting { attempt });
        let until = Instant::now() + delay;
        matches!(
            self.offline(Some(until), std::future::pending::<()>())
                .await,
            Offline::Elapsed
        )
    }

    /// A connection ended: start the backoff again only if it stayed logged
    /// in for the policy's `reset_after`.
    fn settle_backoff(&mut self) {
        if let Some(backoff) = &mut self.backoff {
            backoff.ended(std_now());
        }
    }

    fn finish(&mut self) {
        if self.stop {
            self.last_close = Some(CloseReason::Error(ConnectionError::Aborted));
        }
        let reason = self
            .last_close
            .clone()
            .unwrap_or(CloseReason::Error(ConnectionError::Aborted));
        // A lazy client that never logged in: every call fails with what
        // stopped the first login, as `connect` would have returned it.
        let failure = match (&self.failure, self.last_error.take()) {
            (Some(slot), Some(e)) if !self.logged_in && !self.stop => {
                let _ = slot.set(e);
                slot.get()
            }
            _ => None,
        };
        let closed = || match failure {
            Some(e) => crate::duplicate_error(e),
            None => Error::Closed(reason.clone()),
        };
        for held in std::mem::take(&mut self.held) {
            reply_err(held.reply, closed());
        }
        for w in self.waiters.drain() {
            if let Some(waker) = w.finish(Err(closed())) {
                waker.wake();
            }
        }
        self.subs.close();
        let stopped = self.stop.then(|| reason.clone());
        self.status.send_modify(|s| {
            s.state = ConnectionState::Closed;
            if let Some(r) = stopped {
                s.last_close = Some(r);
            }
        });
        for cmd in self.rx.close() {
            if let Cmd::Send { reply, .. } = cmd {
                reply_err(reply, closed());
            }
        }
        debug!("driver finished");
    }

    // ----- while disconnected --------------------------------------------------

    /// Serve commands (held or failed fast) while `work` runs, until it
    /// finishes or `until` passes.
    async fn offline<F: Future>(&mut self, until: Option<Instant>, work: F) -> Offline<F::Output> {
        let far = far_future();
        let mut sleep = Box::pin(tokio::time::sleep_until(until.unwrap_or(far)));
        let mut work = std::pin::pin!(work);
        poll_fn(|cx| loop {
            if let Poll::Ready(out) = work.as_mut().poll(cx) {
                return Poll::Ready(Offline::Done(out));
            }
            self.expire_held();
            if until.is_some_and(|u| Instant::now() >= u) {
                return Poll::Ready(Offline::Elapsed);
            }
            match self.rx.poll_recv_all(cx, &mut self.cmd_buf) {
                Poll::Ready(0) => {
                    self.rx_closed = true;
                    return Poll::Ready(Offline::Stopped);
                }
                Poll::Ready(_) => {
                    let mut cmds = std::mem::take(&mut self.cmd_buf);
                    for cmd in cmds.drain(..) {
                        self.on_cmd_offline(cmd);
                    }
                    self.cmd_buf = cmds;
                    if self.stop {
                        return Poll::Ready(Offline::Stopped);
                    }
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

    /// A command while no connection is logged in. Before the first login
    /// actions are held (as the core holds them); after a connection was
    /// lost, as the reconnect policy says.
    fn on_cmd_offline(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Send {
                id,
                action,
                timeout,
                reply,
                remember,
            } => {
                let mode = match &self.config.reconnect {
                    _ if !self.logged_in => WhileReconnecting::Wait,
                    Some(r) => r.while_reconnecting,
                    None => WhileReconnecting::FailFast,
                };
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
            Cmd::Disconnect => self.stop = true,
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
        match reply {
            Reply::Outcome(_) => {}
            Reply::Stream(_) => opts = opts.stream_list(),
            Reply::Accepted(_) => opts = opts.no_reply(),
        }
        debug!(action = action.name(), "send");
        let sent = conn.send_with(action, opts, now);
        self.note_closing(conn);
        match sent {
            Ok(handle) => {
                let waiter = match reply {
                    Reply::Outcome(tx) => Waiter::Once(tx),
                    Reply::Stream(list) => Waiter::List(list),
                    Reply::Accepted(tx) => {
                        let _ = tx.send(Ok(()));
                        return;
                    }
                };
                self.waiters.insert(id, handle, waiter);
                if let Some(r) = remember {
                    self.unconfirmed.push((handle, *r));
                }
            }
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
            Cmd::Disconnect => {
                debug!("disconnecting");
                self.stop = true;
                conn.abort(ConnectionError::Aborted);
            }
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
            self.set_state(ConnectionState::Closing);
        }
    }

    /// Hand out what the core reported; returns the close reason once closed.
    fn drain_events(&mut self, conn: &mut Connection) -> Option<CloseReason> {
        let mut closed = None;
        let listening = !self.subs.is_empty();
        loop {
            // Events wait in the core and go to the batch in runs: those
            // before another report now, the rest at the hand-out, in one
            // go (see `Driver::hand_out`). With no one listening, they are
            // taken here one by one and dropped.
            let ev = if listening {
                conn.poll_report(&mut self.batch.items)
            } else {
                conn.poll_event()
            };
            let Some(ev) = ev else { break };
            match ev {
                Event::Done { handle, result } => {
                    if !self.unconfirmed.is_empty() {
                        self.confirm(handle, &result);
                    }
                    if let Some(w) = self.waiters.take(handle) {
                        self.wake.extend(w.finish(result.map_err(Error::Action)));
                    }
                }
                Event::ListItem { handle, item } => {
                    if let Some(list) = self.waiters.list(handle) {
                        list.push(item);
                        if !self.fed.last().is_some_and(|l| Arc::ptr_eq(l, list)) {
                            self.fed.push(list.clone());
                        }
                    }
                }
                // Only from `poll_event`: no one listens.
                Event::Unsolicited(_) => {}
                Event::Skipped(e) => {
                    warn!(error = %e, "packet skipped");
                    if listening {
                        self.batch.items.push_back(EventItem::Skipped(e));
                    }
                }
                Event::Banner(b) => {
                    debug!(banner = %b.version_str(), "banner");
                    self.status.send_modify(|s| {
                        s.state = ConnectionState::Authenticating;
                        s.version = b.version();
                        s.banner = Some(b);
                    });
                }
                Event::Ready => {
                    if self.logged_in {
                        self.generation += 1;
                    }
                    self.logged_in = true;
                    self.last_error = None;
                    info!(generation = self.generation, "logged in");
                    if let Some(backoff) = &mut self.backoff {
                        backoff.logged_in(std_now());
                    }
                    let generation = self.generation;
                    self.status.send_modify(|s| {
                        s.state = ConnectionState::Ready;
                        s.generation = generation;
                    });
                    if let Some(tx) = self.ready_tx.take() {
                        let _ = tx.send(Ok(conn.version()));
                    }
                    if self.generation > 0 {
                        self.batch.items.push_back(EventItem::Reconnected {
                            generation: self.generation,
                        });
                    }
                    self.flush_held(conn);
                }
                Event::Closed(reason) => closed = Some(reason),
                _ => {}
            }
        }
        closed
    }

    /// Hand out what the reads of one turn brought: outcomes, streamed list
    /// items, then events.
    ///
    /// Once per turn (up to 16 reads), not per read: a reader that keeps up
    /// with the socket parks between hand-outs, and waking a parked thread
    /// is a system call on both sides, so fewer, larger hand-outs cost less
    /// while nothing waits for more input to arrive.
    ///
    /// Every outcome is stored before any caller is woken: a task awaiting
    /// several of them then takes them all in one run rather than sleeping
    /// again between them. They all precede the turn's events.
    fn hand_out(&mut self, conn: &mut Connection) {
        // The turn's events still in the core, after those already taken
        // (into an empty batch: their buffer, no copy).
        conn.poll_unsolicited_into(&mut self.batch.items);
        for list in self.fed.drain(..) {
            list.wake();
        }
        for w in self.wake.drain(..) {
            w.wake();
        }
        if !self.batch.items.is_empty() {
            self.subs.dispatch(&mut self.batch);
        }
    }

    async fn run_session(&mut self, io: Transport, conn: Connection) -> CloseReason {
        let mut s = Session {
            io,
            conn,
            wbuf: Bytes::new(),
            needs_flush: false,
            deferred: false,
            read_room: FIRST_READ,
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
        let r = self.poll_turns(cx, s);
        self.hand_out(&mut s.conn);
        r
    }

    fn poll_turns(&mut self, cx: &mut Context<'_>, s: &mut Session) -> Poll<CloseReason> {
        loop {
            let mut busy = false;
            let mut submitted = false;
            let now = std_now();

            // Commands from callers.
            if !self.rx_closed {
                match self.rx.poll_recv_all(cx, &mut self.cmd_buf) {
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
                        // A burst's room is not kept for good.
                        if cmds.capacity() > 4 * CMD_BATCH {
                            cmds.shrink_to(CMD_BATCH);
                        }
                        self.cmd_buf = cmds;
                        busy = true;
                        submitted = true;
                    }
                    Poll::Pending => {}
                }
            }

            // Read everything available: never wait for anyone to do so.
            for _ in 0..16 {
                if s.conn.state() == State::Closed {
                    break;
                }
                // Straight into the core's buffer: no copy on the way.
                let io = &mut s.io;
                let read = s.conn.handle_read(std_now(), s.read_room, |buf| {
                    tokio_util::io::poll_read_buf(Pin::new(io), cx, buf)
                });
                match read {
                    Poll::Ready(Ok(0)) => {
                        s.conn.handle_eof(std_now());
                        busy = true;
                        break;
                    }
                    Poll::Ready(Ok(n)) => {
                        busy = true;
                        if n >= s.read_room && s.read_room < READ_BUF {
                            s.read_room = (s.read_room * 2).min(READ_BUF);
                        }
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

            // Write what the core has, concurrently with reading. Actions
            // that just came in wait one turn of the scheduler (once), so
            // that callers woken together, whose actions are about to come,
            // go out in the same write rather than one write each.
            let defer = submitted && !s.deferred && s.wbuf.is_empty() && s.conn.has_transmit();
            s.deferred = defer;
            if defer {
                cx.waker().wake_by_ref();
            } else {
                busy |= write_out(cx, s);
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
            self.hand_out(&mut s.conn);
            if !busy || defer {
                return Poll::Pending;
            }
        }
    }
}

/// Write what the core has, as far as the socket takes it now; whether
/// anything changed (an error closed the connection).
fn write_out(cx: &mut Context<'_>, s: &mut Session) -> bool {
    let mut busy = false;
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
    busy
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
        Reply::Outcome(tx) => tx.complete_now(Err(e)),
        Reply::Stream(list) => {
            if let Some(w) = list.finish(Err(e)) {
                w.wake();
            }
        }
        Reply::Accepted(tx) => {
            let _ = tx.send(Err(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
