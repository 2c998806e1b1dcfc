//! The blocking client.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use amiproto::{
    Action, ActionError, ActionHandle, AmiVersion, Banner, CloseReason, CommandOutput, Connection,
    ConnectionError, Event, EventItem, EventMask, EventQueue, ListOutcome, OriginateOutcome,
    Outcome, SendOptions, State, WhileReconnecting,
};
use bytes::BytesMut;

use crate::clock::{nanos, Clock};
use crate::config::ClientConfig;
use crate::dial::Dialer;
use crate::outcomes::Outcomes;
use crate::read_area::{self, ReadArea};
use crate::reconnect::{left, random_unit, Change, Reconnector};
use crate::trace::Trace;
use crate::transport::{is_would_block, Transport};
use crate::Error;

/// Bytes of submitted actions held before [`Client::submit`] writes them
/// out by itself (they also go out at every wait).
const FLUSH_THRESHOLD: usize = 64 * 1024;

/// How many submits may pass before the core's output is moved to the
/// write buffer and the threshold checked.
const MOVE_EVERY: usize = 128;

/// A call takes in what the socket holds when the last read is at least
/// this old: twenty times under Asterisk's `writetimeout`, so the server
/// never waits on us for long, while a caller that keeps up (it reads again
/// long before, once its events are handed out) pays one read of the cheap
/// clock per call (see [`Clock`]), not a system call, and does not decode
/// far ahead of itself.
const TAKE_IN_EVERY: Duration = Duration::from_millis(5);

/// Most reads (of the read buffer's size) taken in without waiting at once.
const MAX_READS: usize = 64;

/// A logged-in AMI connection, driven on the caller's thread.
///
/// All I/O happens inside the calls: [`Client::send`], [`Client::wait`] and
/// [`Client::next_event`] read the socket while they block, so events that
/// arrive during a `send` are queued (see [`crate::Overflow`]) and handed out
/// by the next [`Client::next_event`]. Every call that takes `&mut self`
/// first takes in whatever the socket holds (without waiting) and queues
/// it under the queue's policy, even when events are already queued: the
/// policy decides what is kept (lossy: the oldest dropped and counted;
/// lossless: the queue grows), never the kernel's buffers.
///
/// There is no background thread: between two calls nothing is read. The
/// server then buffers, and Asterisk drops a session when one of its writes
/// makes no progress for its `writetimeout` (100 ms by default; an event
/// that cannot be written because our buffers are full counts). So while a
/// busy event stream is on, **call into the client at least every 50 ms**
/// (any `&mut self` call: [`Client::next_event`] with a zero timeout is
/// enough): then no write of the server blocks for longer than the gap
/// between two calls. A program that spends longer per event must hand the
/// events to another thread, or use the tokio client, whose driver reads
/// on its own.
///
/// With a [`crate::Reconnect`] policy ([`ClientConfig::reconnect`]) a lost
/// connection is opened again by the calls that may block, after the
/// policy's delay; see there.
///
/// `Client` is `Send` (move it to another thread) but its methods take
/// `&mut self`: one owner drives it. To share one connection between threads,
/// wrap it in a `Mutex` and keep the calls short, or give one thread the
/// client and talk to it over channels.
#[derive(Debug)]
pub struct Client {
    conn: Connection,
    io: Transport,
    /// Opens the connection (again).
    dialer: Dialer,
    /// Reconnect state, once the first login succeeded with a policy.
    reconnect: Option<Reconnector>,
    trace: Trace,
    /// Where reads land: straight in the core's input buffer.
    read_area: ReadArea,
    wbuf: Vec<u8>,
    wpos: usize,
    queue: EventQueue,
    /// Events taken from the core in one go and not handed out yet: older
    /// than anything still in the core, newer than the queue (filled only
    /// with the queue empty, moved into it before anything else is).
    from_core: VecDeque<EventItem>,
    outcomes: Outcomes,
    closed: Option<CloseReason>,
    read_timeout: Option<Duration>,
    write_stall: Duration,
    /// Submits since the core's output was last moved to `wbuf`.
    unmoved: usize,
    /// Bytes pending when a write from `submit` last stalled.
    stall_mark: usize,
    /// The precise clock for waits and reads, the cheap one for checks.
    clock: Clock,
    /// When the socket was last read, in [`Clock::ticks`].
    last_read: u64,
    /// From these ticks on, a call takes in what the socket holds.
    take_in_at: u64,
}

/// Connect to `url` (`ami://user:secret@host[:port]?…`, see
/// [`amiproto::Config::from_url`]) and log in.
pub fn connect(url: &str) -> Result<Client, Error> {
    Client::connect(ClientConfig::from_url(url)?)
}

impl Client {
    /// Open the connection, wait for the banner and log in, honouring the
    /// connect, banner and login timeouts. Events that arrive in the same
    /// reads as the login answer are already queued when this returns.
    ///
    /// This first connection is never retried, whatever the
    /// [`ClientConfig::reconnect`] policy: its error is returned.
    pub fn connect(cfg: ClientConfig) -> Result<Client, Error> {
        let ClientConfig {
            endpoint,
            config,
            connect_timeout,
            events,
            read_buffer,
            write_stall,
            reconnect,
            #[cfg(feature = "tls")]
            tls,
        } = cfg;
        let trace = Trace::new(&endpoint, &config.username);
        trace.connecting();
        let mut dialer = Dialer::new(
            endpoint,
            connect_timeout,
            write_stall,
            #[cfg(feature = "tls")]
            tls,
        );
        let io = dialer.open()?;
        let write_stall = dialer.write_stall();
        let mask = config.events.clone();
        // The core's default in-flight window depends on the transport (it
        // is kept for the connections a reconnect opens).
        let config = config.tls(dialer.endpoint.tls);
        let mut client = Client {
            conn: Connection::with_entropy(
                config,
                0,
                crate::entropy::connection_entropy(),
                Instant::now(),
            ),
            io,
            dialer,
            reconnect: None,
            trace,
            read_area: ReadArea::new(read_buffer),
            wbuf: Vec::new(),
            wpos: 0,
            queue: EventQueue::new(events),
            from_core: VecDeque::new(),
            outcomes: Outcomes::default(),
            closed: None,
            read_timeout: Some(Duration::ZERO),
            write_stall,
            unmoved: 0,
            stall_mark: 0,
            clock: Clock::new(TAKE_IN_EVERY),
            last_read: 0,
            take_in_at: 0,
        };
        client.mark_read();
        while client.conn.state() != State::Ready {
            if let Some(reason) = &client.closed {
                let e = match reason {
                    CloseReason::Error(e) => Error::Connection(e.clone()),
                    other => Error::Closed(other.clone()),
                };
                client.trace.login_failed(&e);
                return Err(e);
            }
            client.pump(None);
        }
        if let Some(policy) = reconnect {
            client.reconnect = Some(Reconnector::new(policy, mask, Instant::now()));
        }
        Ok(client)
    }

    /// Like [`Client::connect`] with settings from an `ami://` URL.
    pub fn connect_url(url: &str) -> Result<Client, Error> {
        connect(url)
    }

    // ----- actions ----------------------------------------------------------

    /// Send `action` and block until its outcome (or its timeout, from
    /// [`amiproto::Config::action_timeout`]).
    pub fn send(&mut self, action: Action) -> Result<Outcome, Error> {
        let h = self.submit(action)?;
        self.wait(h)
    }

    /// Like [`Client::send`] with per-action options.
    pub fn send_with(&mut self, action: Action, options: SendOptions) -> Result<Outcome, Error> {
        let h = self.submit_with(action, options)?;
        self.wait(h)
    }

    /// Send `action` without wanting an answer: it is written before this
    /// returns (this blocks while the server takes no bytes, reading
    /// meanwhile, until written or the connection ends); its answer is
    /// consumed quietly.
    pub fn send_no_reply(&mut self, action: Action) -> Result<(), Error> {
        self.submit_inner(action, SendOptions::new().no_reply(), false, None)?;
        self.flush()
    }

    /// Queue `action` and return at once with its handle; collect the outcome
    /// with [`Client::wait`] (or drop interest with [`Client::cancel`]).
    ///
    /// Submitted actions are written in batches: at the next call that waits
    /// ([`Client::wait`], [`Client::next_event`], [`Client::flush`]…) or as
    /// soon as 64 KiB are pending. Writing never blocks reading, so any
    /// number of actions may be submitted before waiting.
    ///
    /// While a lost connection is being re-established (see
    /// [`ClientConfig::reconnect`]) this blocks, reconnecting, until the
    /// client is logged in again, at most the action's timeout (then
    /// [`Error::Action`] with [`ActionError::Timeout`]); with
    /// [`WhileReconnecting::FailFast`] it fails at once with
    /// [`Error::NotConnected`].
    pub fn submit(&mut self, action: Action) -> Result<ActionHandle, Error> {
        self.submit_inner(action, SendOptions::new(), true, None)
    }

    /// Like [`Client::submit`] with per-action options. With
    /// [`SendOptions::no_reply`] there is nothing to wait for (use
    /// [`Client::send_no_reply`]).
    pub fn submit_with(
        &mut self,
        action: Action,
        options: SendOptions,
    ) -> Result<ActionHandle, Error> {
        let tracked = !options.is_no_reply();
        self.submit_inner(action, options, tracked, None)
    }

    /// Submit; `change` is a mask or filter to remember for later logins
    /// once the server accepts it.
    fn submit_inner(
        &mut self,
        action: Action,
        mut options: SendOptions,
        tracked: bool,
        change: Option<Change>,
    ) -> Result<ActionHandle, Error> {
        if self.closed.is_some() || !matches!(self.conn.state(), State::Ready | State::Closing) {
            options = self.await_ready(options)?;
        }
        let ticks = self.clock.ticks();
        let now = self.clock.instant_at(ticks);
        self.trace.send(action.name());
        let handle = self.conn.send_with(action, options, now)?;
        if tracked {
            self.outcomes.insert(handle);
        }
        if let (Some(change), Some(r)) = (change, &mut self.reconnect) {
            r.track(handle, change);
        }
        self.drain();
        self.take_in_at(ticks);
        self.unmoved += 1;
        if self.unmoved >= MOVE_EVERY {
            self.take_transmit();
            // Past the threshold, write; after a stall, try again only once
            // another threshold's worth has piled up (a server that does
            // not read must not cost a stall per batch of submits).
            let pending = self.wbuf.len() - self.wpos;
            if pending >= FLUSH_THRESHOLD && pending >= self.stall_mark + FLUSH_THRESHOLD {
                self.write_out(false);
                self.stall_mark = if self.write_pending() {
                    self.wbuf.len() - self.wpos
                } else {
                    0
                };
            }
        }
        Ok(handle)
    }

    /// Block until the outcome of `handle` arrives (or the action times
    /// out), reading and queueing events meanwhile.
    pub fn wait(&mut self, handle: ActionHandle) -> Result<Outcome, Error> {
        self.take_in();
        loop {
            match self.outcomes.take(handle) {
                None => return Err(Error::UnknownHandle),
                Some(Some(result)) => return result.map_err(Error::Action),
                Some(None) => {}
            }
            if let Some(reason) = &self.closed {
                // The core fails every pending action on close; this is only
                // a guard.
                self.outcomes.remove(handle);
                return Err(Error::Action(ActionError::Closed(reason.clone())));
            }
            self.pump(None);
        }
    }

    /// The outcome of `handle` if it has arrived; never waits (it takes in
    /// what the socket already holds first).
    pub fn try_wait(&mut self, handle: ActionHandle) -> Option<Result<Outcome, Error>> {
        self.take_in();
        self.outcomes
            .take(handle)?
            .map(|result| result.map_err(Error::Action))
    }

    /// Drop interest in `handle`: no outcome will be kept, a held action is
    /// never written, a late answer is consumed quietly. Returns whether it
    /// was still pending.
    pub fn cancel(&mut self, handle: ActionHandle) -> bool {
        let ticks = self.clock.ticks();
        self.take_in_at(ticks);
        let now = self.clock.instant_at(ticks);
        let known = self.outcomes.remove(handle);
        if let Some(r) = &mut self.reconnect {
            r.untrack(handle);
        }
        let cancelled = self.conn.cancel(handle, now) || known;
        if cancelled {
            self.trace.cancelled(handle.seq());
        }
        cancelled
    }

    /// Submit every action, then wait for every outcome, in order. Reading
    /// goes on while writing, so this never deadlocks against a server that
    /// answers while the rest is still being written.
    pub fn send_all<I>(&mut self, actions: I) -> Vec<Result<Outcome, Error>>
    where
        I: IntoIterator<Item = Action>,
    {
        // Errors are rare and large: keep them aside, the handles compact.
        let mut refused = Vec::new();
        let handles: Vec<Option<ActionHandle>> = actions
            .into_iter()
            .enumerate()
            .map(|(i, a)| match self.submit(a) {
                Ok(h) => Some(h),
                Err(e) => {
                    refused.push((i, e));
                    None
                }
            })
            .collect();
        let mut refused = refused.into_iter().peekable();
        let mut out = Vec::with_capacity(handles.len());
        for (i, h) in handles.into_iter().enumerate() {
            out.push(match h {
                Some(h) => self.wait(h),
                None => match refused.next_if(|(at, _)| *at == i) {
                    Some((_, e)) => Err(e),
                    None => Err(Error::UnknownHandle),
                },
            });
        }
        out
    }

    /// Write everything submitted so far, reading meanwhile. Blocks until
    /// written or the connection ends (a server that never reads again is
    /// only noticed through the keepalive). While a lost connection is being
    /// re-established there is nothing to write (what was pending failed):
    /// `Ok(())`.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.take_in();
        self.write_out(true);
        match self.closed_for_good() {
            Some(reason) => Err(Error::Closed(reason.clone())),
            None => Ok(()),
        }
    }

    /// `Command`: run a CLI command and return its output (both server
    /// formats give the same lines).
    pub fn command(&mut self, command: &str) -> Result<CommandOutput, Error> {
        self.send(Action::command(command.to_owned()))?
            .into_command()
            .ok_or(Error::UnexpectedOutcome {
                expected: "command output",
            })
    }

    /// Send a list action (`CoreShowChannels`, `QueueStatus`…) and collect
    /// its items.
    pub fn list(&mut self, action: Action) -> Result<ListOutcome, Error> {
        self.send(action)?
            .into_list()
            .ok_or(Error::UnexpectedOutcome {
                expected: "an event list",
            })
    }

    /// `Ping`; returns the round-trip time (as the tokio client's
    /// `ping`). For the response itself, `send(Action::ping())`.
    pub fn ping(&mut self) -> Result<Duration, Error> {
        let start = Instant::now();
        self.send(Action::ping())?;
        Ok(start.elapsed())
    }

    /// Change the event mask (`Events` action). Once the server has
    /// accepted it (`Response: Success`), every later login (after a
    /// reconnect) asks for it; a mask the server or the encoder refuses is
    /// not remembered.
    pub fn set_event_mask(&mut self, mask: EventMask) -> Result<Outcome, Error> {
        let action = Action::events(&mask);
        let h = self.submit_inner(action, SendOptions::new(), true, Some(Change::Mask(mask)))?;
        self.wait(h)
    }

    /// Add a server-side event filter (`Filter` action, `Operation: Add`).
    /// Once the server has accepted it (`Response: Success`), it is
    /// re-applied after every reconnect; a filter the server or the encoder
    /// refuses is not remembered.
    pub fn add_filter(&mut self, filter: &str) -> Result<Outcome, Error> {
        let action = Action::filter_add(filter.to_owned());
        let change = Change::Filter(filter.to_owned());
        let h = self.submit_inner(action, SendOptions::new(), true, Some(change))?;
        self.wait(h)
    }

    /// `Originate` with `Async: true` (added when missing): blocks until the
    /// `OriginateResponse` event (mind the action timeout: it must cover the
    /// ringing time).
    pub fn originate(&mut self, action: Action) -> Result<OriginateOutcome, Error> {
        let action = if action.flag("Async") {
            action
        } else {
            action.async_originate()
        };
        self.send(action)?
            .into_originate()
            .ok_or(Error::UnexpectedOutcome {
                expected: "an OriginateResponse",
            })
    }

    /// `Logoff`, wait for `Goodbye`, close. Actions still pending fail with
    /// [`CloseReason::LoggedOff`].
    pub fn logoff(mut self) -> Result<(), Error> {
        if self.closed.is_some()
            || matches!(
                self.conn.state(),
                State::AwaitingBanner | State::Authenticating
            )
        {
            // Lost, or logging in again: nothing to log off from; dropping
            // the client closes the socket.
            return Ok(());
        }
        let h = self.submit(Action::logoff())?;
        match self.wait(h) {
            Ok(_) | Err(Error::Action(ActionError::Closed(CloseReason::LoggedOff))) => Ok(()),
            Err(e) => Err(e),
        }
    }

    // ----- events -----------------------------------------------------------

    /// The next event: a queued one at once, else block for at most
    /// `timeout` (`None`: until one arrives) reading the socket. `Ok(None)`
    /// when the time is up. Keepalive pings and dead-peer detection run
    /// while it waits. Once the connection has ended and the queue is empty:
    /// `Err(Error::Closed(reason))`.
    ///
    /// With a reconnect policy, a lost connection is re-established while
    /// this waits (the backoff's delay, the connect, the login), and
    /// [`EventItem::Reconnected`] comes once logged in again;
    /// `Err(Error::Closed(..))` only once the policy gives up. A due
    /// connect attempt is made even with a short timeout (it may take up
    /// to the connect timeout).
    ///
    /// A zero timeout polls: it takes in what has already arrived (and runs
    /// due timers) without waiting.
    pub fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<EventItem>, Error> {
        let deadline = timeout.map(|t| self.clock.now() + t);
        self.take_in();
        let mut polled = false;
        loop {
            // Older events first: the queue, then what the core decoded
            // last (at most one read's worth; the next call that takes in
            // moves it under the queue's policy).
            if let Some(item) = self.queue.pop() {
                return Ok(Some(item));
            }
            if let Some(item) = self.next_from_core() {
                return Ok(Some(item));
            }
            if let Some(reason) = &self.closed {
                if !self.reconnecting() {
                    return Err(Error::Closed(reason.clone()));
                }
                if !self.reconnect_step(deadline) {
                    return Ok(None);
                }
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                if polled {
                    return Ok(None);
                }
                polled = true;
                self.poll_now();
                continue;
            }
            self.turn(deadline, false);
        }
    }

    /// A queued event; never waits (it takes in what the socket already
    /// holds first, like every call).
    pub fn try_next_event(&mut self) -> Option<EventItem> {
        self.take_in();
        // With the queue empty, what the core decoded last is next (as in
        // `next_event`): events of a read already made are never left
        // waiting for the next one.
        self.queue.pop().or_else(|| self.next_from_core())
    }

    /// A blocking iterator over events; it ends after the connection does
    /// (yielding the error first unless the end was a logoff).
    pub fn events(&mut self) -> Events<'_> {
        Events {
            client: self,
            done: false,
        }
    }

    /// Items waiting in the queue (the rest of the last read, still with
    /// the core, is not counted: it joins the queue at the next call).
    pub fn queued_events(&self) -> usize {
        self.queue.len()
    }

    /// Events dropped so far by the lossy queue (each drop was also
    /// reported in place by an [`EventItem::Lagged`]).
    pub fn lagged_events(&self) -> u64 {
        self.queue.lagged_total()
    }

    // ----- state ------------------------------------------------------------

    /// The server's banner.
    pub fn banner(&self) -> Option<&Banner> {
        self.conn.banner()
    }

    /// The server's AMI version.
    pub fn version(&self) -> Option<AmiVersion> {
        self.conn.version()
    }

    /// Where the current connection stands (`Closed` while a lost one
    /// waits to be re-established: see [`Client::is_reconnecting`]).
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// Why the connection ended, once it has (while reconnecting: why the
    /// last one did).
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.closed.as_ref()
    }

    /// Whether the client is closed for good: the connection ended and no
    /// reconnect follows (none configured, a logoff, or the policy gave
    /// up).
    pub fn is_closed(&self) -> bool {
        self.closed_for_good().is_some()
    }

    /// Whether a lost connection waits to be re-established (the next call
    /// that may block does it).
    pub fn is_reconnecting(&self) -> bool {
        self.reconnecting()
    }

    /// The current connection's generation: 0 for the first, one more for
    /// each connection opened since (so a reconnect whose login failed
    /// also counts). Every [`ActionHandle`] carries it. For the number of
    /// successful reconnects, see [`Client::reconnects`].
    pub fn generation(&self) -> u32 {
        self.conn.generation()
    }

    /// Successful logins after the first, i.e. reconnects that worked: 0
    /// until one does. [`EventItem::Reconnected`] carries this count, as
    /// the tokio client's marker and its `Status::generation` do, so the
    /// two clients number reconnects alike.
    pub fn reconnects(&self) -> u32 {
        self.reconnect.as_ref().map_or(0, Reconnector::logins)
    }

    /// Actions submitted and not finished.
    pub fn pending_actions(&self) -> usize {
        self.conn.pending_actions()
    }

    /// The socket's local address.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.io.tcp().local_addr()
    }

    // ----- the loop ---------------------------------------------------------

    /// One turn: write what is pending, then read once (until `until` or the
    /// core's next deadline), feed the core, collect its events.
    fn pump(&mut self, until: Option<Instant>) {
        self.turn(until, true);
    }

    /// [`Client::pump`]; with `drain` false the core's events stay with it
    /// for [`Client::next_from_core`] (saving a queue round trip when the
    /// caller takes events anyway). Only with the queue empty, so that the
    /// core's events are the newest.
    fn turn(&mut self, until: Option<Instant>, drain: bool) {
        self.write_out(false);
        if self.closed.is_some() {
            return;
        }
        let now = self.clock.now();
        let deadline = match (until, self.conn.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // A stalled write has just read: do not block on reading with bytes
        // still to write; run due timers and let the caller look.
        let stalled = self.write_pending();
        if let Some(at) = deadline {
            if at <= now || stalled {
                self.conn.handle_timeout(now);
                if drain {
                    self.drain();
                }
                return;
            }
        }
        if stalled {
            if drain {
                self.drain();
            }
            return;
        }
        self.read_once(deadline.map(|at| at - now));
        if drain {
            self.drain();
        }
    }

    /// The next event the core holds, handling outcomes and the close on
    /// the way. Only called with the queue empty, so order is kept.
    fn next_from_core(&mut self) -> Option<EventItem> {
        loop {
            if let Some(item) = self.from_core.pop_front() {
                return Some(item);
            }
            // Events come by the million: the next run of them is taken in
            // one go; other reports one at a time.
            if self.conn.poll_unsolicited_into(&mut self.from_core) > 0 {
                continue;
            }
            let event = self.conn.poll_event()?;
            if let Some(item) = self.on_event(event) {
                return Some(item);
            }
        }
    }

    /// Take in what the socket holds, without waiting, unless it was read
    /// within [`TAKE_IN_EVERY`] of `now`: what arrived goes through the
    /// queue's policy now rather than waiting in the kernel's buffers.
    ///
    /// At most one read per millisecond since the last read (64 MB/s with
    /// the default 64 KiB buffer), up to [`MAX_READS`]: enough for any
    /// server, without making a caller that is about to catch up decode a
    /// burst far ahead of itself.
    ///
    /// The age is measured on the cheap clock with its resolution added:
    /// a call [`TAKE_IN_EVERY`] or more after the last read always takes
    /// in; one up to a clock tick earlier may too (at most one early
    /// take-in per tick, and it reads one buffer: the reads are counted
    /// from the least the age can be).
    #[inline]
    fn take_in(&mut self) {
        self.take_in_at(self.clock.ticks());
    }

    /// [`Client::take_in`] with the cheap clock read at `ticks`.
    #[inline]
    fn take_in_at(&mut self, ticks: u64) {
        if ticks >= self.take_in_at && self.closed.is_none() {
            let away = ticks
                .saturating_sub(self.last_read)
                .saturating_sub(self.clock.resolution());
            let reads = (away / 1_000_000).clamp(1, MAX_READS as u64) as usize;
            self.read_available(reads);
        }
    }

    /// The socket was just read: the next take-in is due when the read is
    /// [`TAKE_IN_EVERY`] old, as far as the cheap clock can tell.
    fn mark_read(&mut self) {
        self.last_read = self.clock.ticks();
        self.take_in_at =
            (self.last_read + nanos(TAKE_IN_EVERY)).saturating_sub(self.clock.resolution());
    }

    /// Read once into the read area; `None` at the end of the stream.
    fn read_chunk(&mut self) -> io::Result<Option<BytesMut>> {
        if self.read_area.needs_renewal() {
            // Moves the unfinished packet; no bytes arrive, so the core
            // does nothing else.
            let (area, now) = (&mut self.read_area, self.clock.now());
            self.conn.handle_read(now, 0, |input| area.renew(input));
        }
        match self.io.read(self.read_area.space())? {
            0 => Ok(None),
            n => Ok(Some(self.read_area.take(n))),
        }
    }

    /// Hand the core bytes read at `now`.
    fn feed(&mut self, now: Instant, chunk: BytesMut) {
        self.conn
            .handle_read(now, 0, |input| read_area::append(input, chunk));
    }

    /// Read once with `timeout` (`None`: no limit) and feed the core.
    fn read_once(&mut self, timeout: Option<Duration>) {
        self.set_read_timeout(timeout);
        loop {
            let r = self.read_chunk();
            let now = self.clock.now();
            self.mark_read();
            match r {
                Ok(None) => self.conn.handle_eof(now),
                Ok(Some(chunk)) => self.feed(now, chunk),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_would_block(&e) => self.conn.handle_timeout(now),
                Err(e) => self
                    .conn
                    .abort(ConnectionError::Transport(format!("read: {e}"))),
            }
            return;
        }
    }

    /// Set the socket's read timeout, skipping the system call when the one
    /// in force is close enough: waking a little early is harmless (the
    /// loop goes round), waking late is not.
    fn set_read_timeout(&mut self, want: Option<Duration>) {
        let want = want.map(|d| d.max(Duration::from_millis(1)));
        let keep = match (self.read_timeout, want) {
            (Some(cur), Some(w)) => cur <= w && cur >= w / 2 && !cur.is_zero(),
            (None, None) => true,
            // A finite timeout where none is needed costs a wake-up per
            // period; keep it if it is long.
            (Some(cur), None) => cur >= Duration::from_secs(1),
            (None, Some(_)) => false,
        };
        if keep {
            return;
        }
        if self.io.set_read_timeout(want).is_ok() {
            self.read_timeout = want;
        }
    }

    /// Move the core's pending bytes into the write buffer.
    fn take_transmit(&mut self) {
        self.unmoved = 0;
        if let Some(bytes) = self.conn.poll_transmit() {
            if self.wpos == self.wbuf.len() {
                self.wbuf.clear();
                self.wpos = 0;
            }
            self.wbuf.extend_from_slice(&bytes);
        }
    }

    /// Write everything pending. When the socket does not take more within
    /// the write stall, read instead (the server may be blocked writing to
    /// us), then try again — or, unless `until_done`, return so the caller
    /// can look at what the read brought (an outcome, a timeout).
    fn write_out(&mut self, until_done: bool) {
        loop {
            if self.closed.is_some() {
                self.wbuf.clear();
                self.wpos = 0;
                return;
            }
            self.take_transmit();
            if self.wpos == self.wbuf.len() {
                self.wbuf.clear();
                self.wpos = 0;
                if !self.io.wants_write() {
                    return;
                }
                let stalled = match self.io.write_pending() {
                    Ok(()) => false,
                    Err(e) if is_would_block(&e) || e.kind() == io::ErrorKind::WriteZero => true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
                    Err(e) => {
                        self.write_failed(e);
                        false
                    }
                };
                if stalled {
                    self.stalled_read();
                    if !until_done {
                        return;
                    }
                }
                continue;
            }
            let stalled = match self.io.write(&self.wbuf[self.wpos..]) {
                Ok(0) => true,
                Ok(n) => {
                    self.wpos += n;
                    false
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
                Err(e) if is_would_block(&e) || e.kind() == io::ErrorKind::WriteZero => true,
                Err(e) => {
                    self.write_failed(e);
                    false
                }
            };
            if stalled {
                self.stalled_read();
                if !until_done {
                    return;
                }
            }
        }
    }

    /// Whether bytes still wait to be written.
    fn write_pending(&self) -> bool {
        self.wpos < self.wbuf.len() || self.io.wants_write() || self.conn.has_transmit()
    }

    /// The socket takes no more bytes: read whatever has arrived (the
    /// server may be blocked writing to us) without waiting; if nothing
    /// has, wait for input at most one write stall.
    fn stalled_read(&mut self) {
        if self.read_available(MAX_READS) {
            return;
        }
        self.read_once(Some(self.write_stall));
        self.drain();
    }

    /// Read what has already arrived, without waiting, in at most
    /// `max_reads` reads, and feed the core. Returns whether anything
    /// happened (bytes, end, error).
    fn read_available(&mut self, max_reads: usize) -> bool {
        let mut got = false;
        if self.io.tcp().set_nonblocking(true).is_ok() {
            // Until the socket is drained (a short read does not prove it
            // over TLS, which hands out one record at a time), but bounded,
            // so a server that writes faster than we decode cannot keep us
            // from writing (or grow the queue) without end.
            for _ in 0..max_reads {
                match self.read_chunk() {
                    Ok(None) => {
                        self.conn.handle_eof(self.clock.now());
                        got = true;
                        break;
                    }
                    Ok(Some(chunk)) => {
                        let now = self.clock.now();
                        self.feed(now, chunk);
                        // Queue each read's events at once: the queue's
                        // bound, not the core's buffer, holds them.
                        self.drain();
                        got = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if is_would_block(&e) => break,
                    Err(e) => {
                        self.conn
                            .abort(ConnectionError::Transport(format!("read: {e}")));
                        got = true;
                        break;
                    }
                }
            }
            let _ = self.io.tcp().set_nonblocking(false);
            self.mark_read();
            if got {
                self.drain();
            }
        }
        got
    }

    /// One turn that never blocks: write what is pending, expire what is
    /// due, take in what has arrived.
    fn poll_now(&mut self) {
        self.write_out(false);
        if self.closed.is_some() {
            return;
        }
        let now = self.clock.now();
        if self.conn.poll_timeout().is_some_and(|at| at <= now) {
            self.conn.handle_timeout(now);
            self.drain();
            self.write_out(false);
        }
        if self.closed.is_none() {
            self.read_available(MAX_READS);
        }
    }

    fn write_failed(&mut self, e: io::Error) {
        // Whatever the server sent before it went away is still decoded.
        self.read_once(Some(Duration::from_millis(1)));
        self.conn
            .abort(ConnectionError::Transport(format!("write: {e}")));
        self.drain();
    }

    /// Hand the core's events to their places.
    fn drain(&mut self) {
        // Events taken from the core earlier are older than what is left
        // there: they join the queue first.
        if !self.from_core.is_empty() {
            self.queue.push_all(&mut self.from_core);
        }
        while let Some(event) = self.conn.poll_event() {
            if let Some(item) = self.on_event(event) {
                self.queue.push(item);
            }
        }
    }

    /// Act on one event of the core; what the reader gets is returned.
    #[inline]
    fn on_event(&mut self, event: Event) -> Option<EventItem> {
        match event {
            Event::Unsolicited(p) => Some(EventItem::Event(p)),
            Event::Done { handle, result } => {
                if let Some(r) = &mut self.reconnect {
                    if r.tracking() {
                        r.confirm(handle, &result);
                    }
                }
                self.outcomes.fill(handle, result);
                None
            }
            Event::ListItem { handle, item } => Some(EventItem::ListItem { handle, item }),
            Event::Skipped(e) => {
                self.trace.skipped(&e);
                Some(EventItem::Skipped(e))
            }
            Event::Banner(b) => {
                self.trace.banner(&b);
                None
            }
            Event::Ready => self.on_ready(),
            Event::Closed(reason) => {
                self.on_closed(reason);
                None
            }
            _ => None,
        }
    }

    /// Logged in: after a reconnect, the reader learns of the gap.
    fn on_ready(&mut self) -> Option<EventItem> {
        let generation = self.conn.generation();
        self.trace.logged_in(generation);
        let r = self.reconnect.as_mut()?;
        let logins = r.logged_in(Instant::now());
        Some(EventItem::Reconnected { generation: logins })
    }

    /// The connection ended: schedule a reconnect if the policy allows.
    fn on_closed(&mut self, reason: CloseReason) {
        self.io.shutdown();
        match &mut self.reconnect {
            Some(r) if r.policy().retries(&reason) => {
                if r.schedule(Instant::now(), random_unit()) {
                    self.trace.lost(&reason);
                } else {
                    self.trace.giving_up(r.attempts());
                }
            }
            _ => self.trace.closed(&reason),
        }
        self.closed = Some(reason);
    }

    // ----- reconnecting -----------------------------------------------------

    /// Whether the connection is down and an attempt to re-establish it is
    /// scheduled.
    fn reconnecting(&self) -> bool {
        self.closed.is_some()
            && self
                .reconnect
                .as_ref()
                .is_some_and(|r| r.next_at().is_some())
    }

    /// Why the client is closed for good, if it is.
    fn closed_for_good(&self) -> Option<&CloseReason> {
        self.closed.as_ref().filter(|_| !self.reconnecting())
    }

    /// The connection is not logged in (lost, or logging in again) and an
    /// action is to be submitted: by the policy, wait until it is — within
    /// the action's timeout, whose rest the returned options carry — or
    /// fail fast.
    #[cold]
    fn await_ready(&mut self, options: SendOptions) -> Result<SendOptions, Error> {
        self.drain();
        let Some(r) = &self.reconnect else {
            return match &self.closed {
                Some(reason) => Err(Error::Closed(reason.clone())),
                // Closing or closed in the core: it refuses the action.
                None => Ok(options),
            };
        };
        if let Some(reason) = self.closed_for_good() {
            return Err(Error::Closed(reason.clone()));
        }
        if r.policy().while_reconnecting == WhileReconnecting::FailFast {
            return Err(Error::NotConnected);
        }
        let timeout = options
            .timeout_override()
            .unwrap_or(self.conn.config().action_timeout);
        let deadline = timeout.map(|t| Instant::now() + t);
        if !self.reconnect_until(deadline) {
            return Err(match self.closed_for_good() {
                Some(reason) => Error::Closed(reason.clone()),
                None => Error::Action(ActionError::Timeout),
            });
        }
        Ok(match deadline {
            Some(at) => options.timeout(Some(left(at, Instant::now()))),
            None => options,
        })
    }

    /// Re-establish the connection and log in, until logged in (`true`),
    /// `deadline` passes or the policy gives up (`false`). Events that
    /// arrive meanwhile (the reconnect marker first) are queued.
    fn reconnect_until(&mut self, deadline: Option<Instant>) -> bool {
        loop {
            if self.closed.is_none() {
                if self.conn.state() == State::Ready {
                    return true;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return false;
                }
                self.pump(deadline);
            } else if !self.reconnecting() || !self.reconnect_step(deadline) {
                return false;
            }
        }
    }

    /// The connection is down and an attempt scheduled: make it if it is
    /// due, else sleep until it is or until `deadline`, whichever is first.
    /// `false` when `deadline` came first (or nothing is scheduled).
    fn reconnect_step(&mut self, deadline: Option<Instant>) -> bool {
        let Some(at) = self.reconnect.as_ref().and_then(|r| r.next_at()) else {
            return false;
        };
        let now = Instant::now();
        if at <= now {
            self.attempt();
            return true;
        }
        let until = deadline.map_or(at, |d| d.min(at));
        if until <= now {
            return false;
        }
        std::thread::sleep(until - now);
        true
    }

    /// Open a new connection (the login then runs in the usual loop), or
    /// schedule the next attempt.
    #[cold]
    fn attempt(&mut self) {
        let Some(r) = &mut self.reconnect else {
            return;
        };
        match self.dialer.open() {
            Ok(io) => {
                r.opened();
                let now = self.clock.now();
                let generation = self.conn.generation() + 1;
                let mut conn = Connection::with_entropy(
                    r.login_config(self.conn.config()),
                    generation,
                    crate::entropy::connection_entropy(),
                    now,
                );
                r.reapply_filters(&mut conn, now);
                self.trace.reconnected(generation);
                self.conn = conn;
                self.io = io;
                self.closed = None;
                self.wbuf.clear();
                self.wpos = 0;
                self.unmoved = 0;
                self.stall_mark = 0;
                // A new socket: its read timeout is unknown here.
                self.read_timeout = Some(Duration::ZERO);
                self.mark_read();
            }
            Err(e) => {
                let attempt = r.attempts();
                self.trace.attempt_failed(&e, attempt);
                if !r.schedule(Instant::now(), random_unit()) {
                    self.trace.giving_up(r.attempts());
                }
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.closed.is_none() {
            self.io.shutdown();
        }
    }
}

/// Blocking iterator over a client's events, from [`Client::events`].
#[derive(Debug)]
pub struct Events<'a> {
    client: &'a mut Client,
    done: bool,
}

impl Iterator for Events<'_> {
    type Item = Result<EventItem, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.client.next_event(None) {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => None,
            Err(Error::Closed(CloseReason::LoggedOff)) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
