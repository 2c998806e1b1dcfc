//! The blocking client.

use std::collections::HashMap;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use amiproto::{
    Action, ActionError, ActionHandle, AmiVersion, Banner, CloseReason, CommandOutput, Connection,
    ConnectionError, Endpoint, Event, ListOutcome, OriginateOutcome, Outcome, Packet, SendOptions,
    State,
};

use crate::config::ClientConfig;
use crate::error::Error;
use crate::events::{EventItem, Queue};
use crate::transport::{is_would_block, Transport};

/// Bytes of submitted actions held before [`Client::submit`] writes them
/// out by itself (they also go out at every wait).
const FLUSH_THRESHOLD: usize = 64 * 1024;

/// How many submits may pass before the core's output is moved to the
/// write buffer and the threshold checked.
const MOVE_EVERY: usize = 128;

/// Outcomes by handle: `None` while waiting. Boxed, so the table stays
/// small however many actions are in flight.
type Outcomes = HashMap<ActionHandle, Option<Box<ActionResult>>, amiproto::SeqBuildHasher>;

type ActionResult = Result<Outcome, ActionError>;

/// A logged-in AMI connection, driven on the caller's thread.
///
/// All I/O happens inside the calls: [`Client::send`], [`Client::wait`] and
/// [`Client::next_event`] read the socket while they block, so events that
/// arrive during a `send` are queued (see [`crate::Overflow`]) and handed out
/// by the next [`Client::next_event`]. There is no background thread: when
/// the program calls nothing, nothing is read (the server buffers; Asterisk
/// drops a client that leaves its writes blocked for its `writetimeout`,
/// 100 ms by default, so call [`Client::next_event`] regularly while
/// subscribed to a busy event stream).
///
/// `Client` is `Send` (move it to another thread) but its methods take
/// `&mut self`: one owner drives it. To share one connection between threads,
/// wrap it in a `Mutex` and keep the calls short, or give one thread the
/// client and talk to it over channels.
#[derive(Debug)]
pub struct Client {
    conn: Connection,
    io: Transport,
    read_buf: Vec<u8>,
    wbuf: Vec<u8>,
    wpos: usize,
    queue: Queue,
    outcomes: Outcomes,
    closed: Option<CloseReason>,
    read_timeout: Option<Duration>,
    write_stall: Duration,
    /// Submits since the core's output was last moved to `wbuf`.
    unmoved: usize,
    /// Bytes pending when a write from `submit` last stalled.
    stall_mark: usize,
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
    pub fn connect(cfg: ClientConfig) -> Result<Client, Error> {
        let ClientConfig {
            endpoint,
            config,
            connect_timeout,
            events,
            read_buffer,
            write_stall,
            #[cfg(feature = "tls")]
            tls,
        } = cfg;
        #[cfg(not(feature = "tls"))]
        if endpoint.tls {
            return Err(Error::TlsUnavailable);
        }
        let deadline = Instant::now() + connect_timeout;
        let tcp = open_tcp(&endpoint, deadline)?;
        let _ = tcp.set_nodelay(true);
        let write_stall = write_stall.max(Duration::from_millis(1));
        let io = if endpoint.tls {
            #[cfg(feature = "tls")]
            {
                crate::tls::handshake(&tls, &endpoint.host, endpoint.port, tcp, deadline)?
            }
            #[cfg(not(feature = "tls"))]
            return Err(Error::TlsUnavailable);
        } else {
            Transport::Plain(tcp)
        };
        io.tcp()
            .set_write_timeout(Some(write_stall))
            .map_err(|e| Error::Connection(ConnectionError::Transport(e.to_string())))?;
        let mut client = Client {
            conn: Connection::with_entropy(
                config,
                0,
                crate::entropy::connection_entropy(),
                Instant::now(),
            ),
            io,
            read_buf: vec![0; read_buffer.max(1024)],
            wbuf: Vec::new(),
            wpos: 0,
            queue: Queue::new(events),
            outcomes: Outcomes::default(),
            closed: None,
            read_timeout: Some(Duration::ZERO),
            write_stall,
            unmoved: 0,
            stall_mark: 0,
        };
        while client.conn.state() != State::Ready {
            if let Some(reason) = &client.closed {
                return Err(match reason {
                    CloseReason::Error(e) => Error::Connection(e.clone()),
                    other => Error::Closed(other.clone()),
                });
            }
            client.pump(None);
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
        self.submit_inner(action, SendOptions::new().no_reply(), false)?;
        self.flush()
    }

    /// Queue `action` and return at once with its handle; collect the outcome
    /// with [`Client::wait`] (or drop interest with [`Client::cancel`]).
    ///
    /// Submitted actions are written in batches: at the next call that waits
    /// ([`Client::wait`], [`Client::next_event`], [`Client::flush`]…) or as
    /// soon as 64 KiB are pending. Writing never blocks reading, so any
    /// number of actions may be submitted before waiting.
    pub fn submit(&mut self, action: Action) -> Result<ActionHandle, Error> {
        self.submit_inner(action, SendOptions::new(), true)
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
        self.submit_inner(action, options, tracked)
    }

    fn submit_inner(
        &mut self,
        action: Action,
        options: SendOptions,
        tracked: bool,
    ) -> Result<ActionHandle, Error> {
        if let Some(reason) = &self.closed {
            return Err(Error::Closed(reason.clone()));
        }
        let handle = self.conn.send_with(action, options, Instant::now())?;
        if tracked {
            self.outcomes.insert(handle, None);
        }
        self.drain();
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
        loop {
            match self.outcomes.get_mut(&handle) {
                None => return Err(Error::UnknownHandle),
                Some(slot @ Some(_)) => {
                    let result = slot.take().expect("checked");
                    self.outcomes.remove(&handle);
                    return (*result).map_err(Error::Action);
                }
                Some(None) => {}
            }
            if let Some(reason) = &self.closed {
                // The core fails every pending action on close; this is only
                // a guard.
                self.outcomes.remove(&handle);
                return Err(Error::Action(ActionError::Closed(reason.clone())));
            }
            self.pump(None);
        }
    }

    /// The outcome of `handle` if it has already arrived (no I/O).
    pub fn try_wait(&mut self, handle: ActionHandle) -> Option<Result<Outcome, Error>> {
        let slot = self.outcomes.get_mut(&handle)?;
        let result = slot.take()?;
        self.outcomes.remove(&handle);
        Some((*result).map_err(Error::Action))
    }

    /// Drop interest in `handle`: no outcome will be kept, a held action is
    /// never written, a late answer is consumed quietly. Returns whether it
    /// was still pending.
    pub fn cancel(&mut self, handle: ActionHandle) -> bool {
        let known = self.outcomes.remove(&handle).is_some();
        self.conn.cancel(handle, Instant::now()) || known
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
    /// only noticed through the keepalive).
    pub fn flush(&mut self) -> Result<(), Error> {
        self.write_out(true);
        match &self.closed {
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

    /// `Ping`; returns the response (`Ping: Pong`, `Timestamp`).
    pub fn ping(&mut self) -> Result<Packet, Error> {
        self.send(Action::ping())?
            .into_response()
            .ok_or(Error::UnexpectedOutcome {
                expected: "a response",
            })
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
        if self.closed.is_some() {
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
    /// A zero timeout polls: it takes in what has already arrived (and runs
    /// due timers) without waiting.
    pub fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<EventItem>, Error> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut polled = false;
        loop {
            // Older events first: the queue, then what the core decoded last.
            if let Some(item) = self.queue.pop() {
                return Ok(Some(item));
            }
            if let Some(item) = self.next_from_core() {
                return Ok(Some(item));
            }
            if let Some(reason) = &self.closed {
                return Err(Error::Closed(reason.clone()));
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

    /// A queued event, without any I/O.
    pub fn try_next_event(&mut self) -> Option<EventItem> {
        self.queue.pop()
    }

    /// A blocking iterator over events; it ends after the connection does
    /// (yielding the error first unless the end was a logoff).
    pub fn events(&mut self) -> Events<'_> {
        Events {
            client: self,
            done: false,
        }
    }

    /// Events waiting in the queue (those of the last read may still be
    /// with the core, not counted here).
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

    /// Where the connection stands.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// Why the connection ended, once it has.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.closed.as_ref()
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
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
    /// caller takes events anyway).
    fn turn(&mut self, until: Option<Instant>, drain: bool) {
        self.write_out(false);
        if self.closed.is_some() {
            return;
        }
        let now = Instant::now();
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
        while let Some(event) = self.conn.poll_event() {
            match event {
                Event::Unsolicited(p) => return Some(EventItem::Event(p)),
                Event::ListItem { handle, item } => {
                    return Some(EventItem::ListItem { handle, item })
                }
                Event::Skipped(e) => return Some(EventItem::Skipped(e)),
                other => self.on_event(other),
            }
        }
        None
    }

    /// Read once with `timeout` (`None`: no limit) and feed the core.
    fn read_once(&mut self, timeout: Option<Duration>) {
        self.set_read_timeout(timeout);
        loop {
            let r = self.io.read(&mut self.read_buf);
            let now = Instant::now();
            match r {
                Ok(0) => self.conn.handle_eof(now),
                Ok(n) => self.conn.handle_input(now, &self.read_buf[..n]),
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
        if self.read_available() {
            return;
        }
        self.read_once(Some(self.write_stall));
        self.drain();
    }

    /// Read everything that has already arrived, without waiting, and feed
    /// the core. Returns whether anything happened (bytes, end, error).
    fn read_available(&mut self) -> bool {
        let mut got = false;
        if self.io.tcp().set_nonblocking(true).is_ok() {
            // Until the socket is drained (a short read does not prove it
            // over TLS, which hands out one record at a time), but bounded,
            // so a server that writes faster than we decode cannot keep us
            // from writing (or grow the queue) without end.
            for _ in 0..64 {
                match self.io.read(&mut self.read_buf) {
                    Ok(0) => {
                        self.conn.handle_eof(Instant::now());
                        got = true;
                        break;
                    }
                    Ok(n) => {
                        self.conn.handle_input(Instant::now(), &self.read_buf[..n]);
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
        let now = Instant::now();
        if self.conn.poll_timeout().is_some_and(|at| at <= now) {
            self.conn.handle_timeout(now);
            self.drain();
            self.write_out(false);
        }
        if self.closed.is_none() {
            self.read_available();
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
        while let Some(event) = self.conn.poll_event() {
            self.on_event(event);
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Done { handle, result } => {
                if let Some(slot) = self.outcomes.get_mut(&handle) {
                    *slot = Some(Box::new(result));
                }
            }
            Event::Unsolicited(p) => self.queue.push(EventItem::Event(p)),
            Event::ListItem { handle, item } => {
                self.queue.push(EventItem::ListItem { handle, item })
            }
            Event::Skipped(e) => self.queue.push(EventItem::Skipped(e)),
            Event::Closed(reason) => {
                self.closed = Some(reason);
                self.io.shutdown();
            }
            _ => {}
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

fn open_tcp(ep: &Endpoint, deadline: Instant) -> Result<TcpStream, Error> {
    let connect_err = |source: io::Error| Error::Connect {
        host: ep.host.clone(),
        port: ep.port,
        source,
    };
    let timeout = || Error::ConnectTimeout {
        host: ep.host.clone(),
        port: ep.port,
    };
    let addrs = (ep.host.as_str(), ep.port)
        .to_socket_addrs()
        .map_err(connect_err)?;
    let mut last = None;
    for addr in addrs {
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(timeout)?;
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if is_would_block(&e) => timeout(),
        Some(e) => connect_err(e),
        None => connect_err(io::Error::new(
            io::ErrorKind::NotFound,
            "host name resolved to no address",
        )),
    })
}
