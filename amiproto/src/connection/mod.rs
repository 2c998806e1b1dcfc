//! The client connection state machine.
//!
//! [`Connection`] decides everything an AMI client must decide and does no
//! I/O: bytes, end of stream and the current time come in through
//! `handle_*` calls; bytes to write, the next deadline and what happened
//! come out through `poll_*` calls.
//!
//! The run loop, after every input (bytes, EOF, a timer firing, a `send`):
//! 1. write out everything [`Connection::poll_transmit`] returns;
//! 2. re-arm the timer to [`Connection::poll_timeout`] (only if it changed);
//! 3. hand out every [`Connection::poll_event`].
//!
//! Stop once [`Connection::state`] is [`State::Closed`] and the events are
//! drained.
//!
//! Why this order: writing first gets requests (including ones released by
//! the input just handled, such as actions held until login) on the wire
//! before the caller reacts to anything; events come last, so whatever a
//! caller does in reaction (`send`, `cancel`, `logoff`) is itself an input
//! whose bytes and deadline the next turn of the loop drains before
//! waiting again.
//!
//! A whole session over an in-memory pipe, with a toy server answering each
//! action it reads and simulated time:
//!
//! ```
//! use amiproto::{Action, AuthMethod, BannerMode, Config, Connection, Decoder, Event, Frame, State};
//! use bytes::BytesMut;
//! use std::time::{Duration, Instant};
//!
//! /// The server side of the pipe: reads actions, writes answers.
//! struct ToyServer {
//!     decoder: Decoder,
//!     inbox: BytesMut,
//! }
//!
//! impl ToyServer {
//!     fn receive(&mut self, bytes: &[u8], to_client: &mut Vec<u8>) {
//!         self.inbox.extend_from_slice(bytes);
//!         while let Some(Frame::Packet(action)) = self.decoder.decode(&mut self.inbox).unwrap() {
//!             let id = action.action_id().unwrap().to_string();
//!             let name = action.action().unwrap().to_string();
//!             let answer = match name.as_str() {
//!                 "Login" => format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"),
//!                 "Ping" => format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n"),
//!                 "Logoff" => format!("Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n"),
//!                 _ => format!("Response: Error\r\nActionID: {id}\r\nMessage: Invalid/unknown command\r\n\r\n"),
//!             };
//!             to_client.extend_from_slice(answer.as_bytes());
//!         }
//!     }
//! }
//!
//! let mut now = Instant::now(); // simulated: only ever moved forward below
//! let config = Config::new("admin", "amp111").auth(AuthMethod::Plain);
//! let mut conn = Connection::new(config, now);
//! let mut server = ToyServer { decoder: Decoder::new().banner_mode(BannerMode::Absent), inbox: BytesMut::new() };
//! let mut to_client = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
//!
//! // Held until the login succeeds, then written at once.
//! let ping = conn.send(Action::ping(), now).unwrap();
//! let mut log = Vec::new();
//! loop {
//!     // 1. Write everything out.
//!     while let Some(bytes) = conn.poll_transmit() {
//!         server.receive(&bytes, &mut to_client);
//!     }
//!     // 2. Re-arm the timer.
//!     let deadline = conn.poll_timeout();
//!     // 3. Hand out events; reacting is an input: drain again after it.
//!     let mut acted = false;
//!     while let Some(event) = conn.poll_event() {
//!         match event {
//!             Event::Done { handle, result } if handle == ping => {
//!                 let pong = result.unwrap().into_response().unwrap();
//!                 log.push(format!("ping: {}", pong.get_str("Ping").unwrap()));
//!                 conn.logoff(now).unwrap();
//!                 acted = true;
//!             }
//!             Event::Closed(reason) => log.push(format!("closed: {reason}")),
//!             other => log.push(format!("{other:?}").split(['(', ' ']).next().unwrap().to_owned()),
//!         }
//!     }
//!     if conn.state() == State::Closed {
//!         break;
//!     }
//!     if acted {
//!         continue;
//!     }
//!     // 4. Wait for the next input: bytes from the server, else the timer.
//!     if !to_client.is_empty() {
//!         conn.handle_input(now, &std::mem::take(&mut to_client));
//!     } else if let Some(at) = deadline {
//!         now = now.max(at);
//!         conn.handle_timeout(now);
//!     } else {
//!         conn.handle_eof(now);
//!     }
//!     now += Duration::from_millis(1);
//! }
//! assert_eq!(log, ["Banner", "Ready", "ping: Pong", "Done", "closed: logged off"]);
//! ```

mod config;
mod login;
mod outcome;
mod pending;
mod pending_table;
mod reports;
mod scope;
mod timers;
mod unmarked;
mod url;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::action::Action;
use crate::decode::{BannerMode, Decoder, Frame};
use crate::error::{
    ActionError, CloseReason, ConnectionError, DecodeError, SendError, Unanswerable,
};
use crate::packet::{Packet, PacketKind, ResponseStatus};
use crate::queue::EventItem;
use crate::version::{AmiVersion, Banner};

pub use config::{AuthMethod, Config, Endpoint, InFlightLimit, Keepalive, Secret, TLS_IN_FLIGHT};
pub use login::md5_key;
pub use outcome::{CommandOutput, ListOutcome, OriginateOutcome, Outcome};
pub use url::{UrlError, UrlPart, UrlProblem};

use login::LoginStep;
use pending::{
    closes_list, id_prefix, opens_list, parse_generated, Digits, Expect, IdBuf, ListProgress,
    OriginateProgress, Pending, PendingTable, Progress, Released, Role,
};
use scope::Scope;
use timers::Deadlines;

/// How long a silent action without a timeout of its own keeps draining its
/// late answer before it is forgotten.
const DEFAULT_DRAIN_GRACE: Duration = Duration::from_secs(60);

/// How long a `Logoff` sent without a timeout waits for `Goodbye` before the
/// connection closes locally.
const DEFAULT_LOGOFF_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Waiting for `Asterisk Call Manager/…`.
    AwaitingBanner,
    /// Banner received; logging in. Actions sent now are held.
    Authenticating,
    /// Logged in: actions flow.
    Ready,
    /// `Logoff` sent: no new actions; waiting for `Goodbye`.
    Closing,
    /// Finished; see [`Connection::close_reason`].
    Closed,
}

/// Names one submitted action; the outcome comes back with the same handle.
///
/// Handles carry the connection's generation, so a handle from an earlier
/// connection (before a reconnect) never matches an action of a later one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionHandle {
    generation: u32,
    seq: u64,
}

impl ActionHandle {
    /// The generation of the connection that issued it.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Its sequence number, unique within the connection.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// Per-action options for [`Connection::send_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendOptions {
    timeout: Option<Option<Duration>>,
    no_reply: bool,
    stream: bool,
}

impl SendOptions {
    /// Defaults: the config's timeout, an outcome, lists collected.
    pub fn new() -> SendOptions {
        SendOptions::default()
    }

    /// Override the timeout (`None`: wait forever).
    pub fn timeout(mut self, timeout: Option<Duration>) -> SendOptions {
        self.timeout = Some(timeout);
        self
    }

    /// Fire and forget: no outcome is reported; the answer is consumed
    /// quietly and never shows up as an event.
    pub fn no_reply(mut self) -> SendOptions {
        self.no_reply = true;
        self
    }

    /// Hand out list items one by one as [`Event::ListItem`] instead of
    /// collecting them (for huge lists); the final outcome has no items.
    pub fn stream_list(mut self) -> SendOptions {
        self.stream = true;
        self
    }

    /// Whether [`SendOptions::no_reply`] is set (no outcome will come).
    pub fn is_no_reply(&self) -> bool {
        self.no_reply
    }

    /// The timeout set with [`SendOptions::timeout`]: `None` when the
    /// config's applies, `Some(None)` for no timeout. (A client that holds
    /// an action before submitting it uses this to know its deadline.)
    pub fn timeout_override(&self) -> Option<Option<Duration>> {
        self.timeout
    }
}

/// What the connection reports, in arrival order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server's banner arrived; login starts.
    Banner(Banner),
    /// Login succeeded; held actions have been written.
    Ready,
    /// An action finished: exactly one per action sent without
    /// [`SendOptions::no_reply`] and not cancelled.
    Done {
        /// The action.
        handle: ActionHandle,
        /// Its outcome.
        result: Result<Outcome, ActionError>,
    },
    /// One item of a list sent with [`SendOptions::stream_list`].
    ListItem {
        /// The list action.
        handle: ActionHandle,
        /// The item event.
        item: Packet,
    },
    /// A packet no action claimed: a server event, or an answer whose
    /// `ActionID` is unknown (e.g. `Missing action in request`). An event
    /// that carries a pending action's `ActionID` but cannot be part of its
    /// answer comes here too, never swallowed: a `UserEvent` always (any
    /// session can make one carry any header), and any event but an async
    /// `OriginateResponse` before the action's response.
    ///
    /// One kind of event without `ActionID` is claimed all the same:
    /// Asterisk ≤ 11 (AMI 1.x) writes the `Parkinglot` items of
    /// `Parkinglots` without it (only the list's response and its
    /// `ParkinglotsComplete` carry it). Such an event is an item of the one
    /// `Parkinglots` list open at the time (response in, end not yet);
    /// with no list open, or two (which a server answering in order never
    /// does), it comes here. Lists pending together are answered one after
    /// the other, so each gets its own items.
    Unsolicited(Packet),
    /// A packet broke a decoder limit, was skipped, and no action claimed it.
    Skipped(DecodeError),
    /// The connection ended; nothing follows.
    Closed(CloseReason),
}

#[derive(Debug, Default)]
struct Liveness {
    last_rx: Option<Instant>,
    ping_deadline: Option<Instant>,
}

/// A sans-I/O AMI client connection.
///
/// ```
/// use amiproto::{Action, Config, Connection, Event, Outcome, State};
/// use std::time::Instant;
///
/// let now = Instant::now(); // the caller's clock; the core never reads one
/// let mut conn = Connection::new(Config::new("admin", "amp111").auth(amiproto::AuthMethod::Plain), now);
/// // Sent before login: held, written right after it succeeds.
/// let ping = conn.send(Action::ping(), now).unwrap();
///
/// conn.handle_input(now, b"Asterisk Call Manager/11.0.0\r\n");
/// let login = conn.poll_transmit().unwrap();
/// assert!(login.starts_with(b"Action: Login\r\nActionID: ami-1\r\n"));
/// conn.handle_input(now, b"Response: Success\r\nActionID: ami-1\r\nMessage: Authentication accepted\r\n\r\n");
/// assert_eq!(conn.state(), State::Ready);
/// assert_eq!(&conn.poll_transmit().unwrap()[..], b"Action: Ping\r\nActionID: ami-0\r\n\r\n");
///
/// conn.handle_input(now, b"Response: Success\r\nActionID: ami-0\r\nPing: Pong\r\n\r\n");
/// let mut events = std::iter::from_fn(|| conn.poll_event());
/// assert!(matches!(events.next(), Some(Event::Banner(_))));
/// assert!(matches!(events.next(), Some(Event::Ready)));
/// match events.next() {
///     Some(Event::Done { handle, result: Ok(Outcome::Response(p)) }) => {
///         assert_eq!(handle, ping);
///         assert_eq!(p.get_str("Ping"), Some("Pong"));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
pub struct Connection {
    config: Config,
    generation: u32,
    state: State,
    decoder: Decoder,
    inbuf: BytesMut,
    outbuf: BytesMut,
    events: reports::Reports,
    pending: PendingTable,
    user_ids: std::collections::HashMap<Box<[u8]>, u64>,
    /// Held actions, in submission order.
    queue: VecDeque<(u64, Action)>,
    in_flight: usize,
    next_seq: u64,
    /// `next_seq`'s decimal digits, counted up with it.
    next_digits: Digits,
    /// `\r\nActionID: ` and `id_prefix`: the head of every generated id's
    /// line, from the CRLF that ends the `Action` line.
    id_line_head: Box<[u8]>,
    deadlines: Deadlines,
    /// Prefix of generated `ActionID`s: the configured one, plus a random
    /// tag when the connection was given entropy.
    id_prefix: Box<str>,
    /// Whether `id_prefix` followed by digits makes a valid `ActionID`
    /// (then generated ids are not checked again one by one).
    id_prefix_valid: bool,
    state_deadline: Option<Instant>,
    banner: Option<Banner>,
    liveness: Liveness,
    close_reason: Option<CloseReason>,
    /// A `Logoff` was submitted on this connection.
    logoff_requested: bool,
    /// The event mask and filters the server accepted (see [`scope`]).
    scope: Scope,
    /// Open lists whose items may come without their `ActionID` (see
    /// [`unmarked`]); stale entries are dropped when looked at.
    unmarked_open: Vec<u64>,
}

/// Shows where the connection stands, never buffer contents: the bytes
/// waiting to be written may hold the login's `Secret`.
impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("config", &self.config)
            .field("generation", &self.generation)
            .field("state", &self.state)
            .field("banner", &self.banner)
            .field("pending", &self.pending_actions())
            .field("queued", &self.queue.len())
            .field("in_flight", &self.in_flight)
            .field("to_write", &self.outbuf.len())
            .field("unread", &self.inbuf.len())
            .field("events", &self.events.len())
            .field("close_reason", &self.close_reason)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A new connection, just connected at `now`, waiting for the banner.
    ///
    /// Its generated `ActionID`s are predictable (`ami-0`, `ami-1`…): fine
    /// for tests and replays, but another session on the same Asterisk can
    /// then aim events at them. A client facing a real server takes
    /// [`Connection::with_entropy`] (both adapters do).
    pub fn new(config: Config, now: Instant) -> Connection {
        Connection::build(config, 0, None, now)
    }

    /// Like [`Connection::new`], numbering this connection `generation`
    /// (adapters count reconnects with it; see [`ActionHandle`]).
    pub fn with_generation(config: Config, generation: u32, now: Instant) -> Connection {
        Connection::build(config, generation, None, now)
    }

    /// Like [`Connection::with_generation`], with generated `ActionID`s no
    /// other session can guess: `entropy` (64 random bits the caller takes
    /// from the OS, fresh for every connection; the core reads no source of
    /// its own) puts a tag of 12 characters (60 bits) after the configured
    /// prefix, e.g. `ami-k3v0q9d1s7ab-0`, `ami-k3v0q9d1s7ab-1`…
    ///
    /// Why it matters: Asterisk copies any `ActionID` header a session
    /// writes into the `UserEvent` it broadcasts to every other session, so
    /// a guessable id lets anyone with the `user` write class send events
    /// that carry it. (The connection also never takes a `UserEvent` as the
    /// answer to an action; see [`Event::Unsolicited`].)
    ///
    /// ```
    /// use amiproto::{Action, Config, Connection};
    /// use std::time::Instant;
    ///
    /// let now = Instant::now();
    /// let entropy = 0x5eed_0f_a11_ce; // from the OS in real use
    /// let mut conn = Connection::with_entropy(Config::new("admin", "amp111"), 0, entropy, now);
    /// assert_eq!(conn.action_id_prefix().len(), "ami-".len() + 13);
    /// assert!(conn.action_id_prefix().starts_with("ami-"));
    /// conn.handle_input(now, b"Asterisk Call Manager/11.0.0\r\n");
    /// let challenge = conn.poll_transmit().unwrap();
    /// let id = format!("ActionID: {}0\r\n", conn.action_id_prefix());
    /// assert!(challenge.windows(id.len()).any(|w| w == id.as_bytes()));
    /// ```
    pub fn with_entropy(config: Config, generation: u32, entropy: u64, now: Instant) -> Connection {
        Connection::build(config, generation, Some(entropy), now)
    }

    fn build(config: Config, generation: u32, entropy: Option<u64>, now: Instant) -> Connection {
        let decoder = Decoder::with_limits(config.limits).banner_mode(BannerMode::Required);
        let id_prefix = id_prefix(&config.action_id_prefix, entropy);
        let id_prefix_valid = crate::encode::check_action_id(&format!("{id_prefix}0")).is_ok();
        let config_events = config.events.as_value();
        let id_line_head = [&b"\r\nActionID: "[..], id_prefix.as_bytes()]
            .concat()
            .into();
        Connection {
            id_line_head,
            id_prefix,
            id_prefix_valid,
            state_deadline: Some(now + config.banner_timeout),
            config,
            generation,
            state: State::AwaitingBanner,
            decoder,
            inbuf: BytesMut::with_capacity(16 * 1024),
            outbuf: BytesMut::with_capacity(4 * 1024),
            events: reports::Reports::default(),
            pending: PendingTable::default(),
            user_ids: Default::default(),
            queue: VecDeque::new(),
            in_flight: 0,
            next_seq: 0,
            next_digits: Digits::of(0),
            deadlines: Deadlines::default(),
            banner: None,
            liveness: Liveness {
                last_rx: Some(now),
                ping_deadline: None,
            },
            close_reason: None,
            logoff_requested: false,
            scope: Scope::new(&config_events),
            unmarked_open: Vec::new(),
        }
    }

    /// What every generated `ActionID` of this connection starts with (the
    /// configured prefix, plus the random tag given entropy), followed by
    /// a decimal sequence number.
    pub fn action_id_prefix(&self) -> &str {
        &self.id_prefix
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This connection's generation.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// The banner, once received.
    pub fn banner(&self) -> Option<&Banner> {
        self.banner.as_ref()
    }

    /// The server's AMI version, once the banner is in.
    pub fn version(&self) -> Option<AmiVersion> {
        self.banner.as_ref().and_then(Banner::version)
    }

    /// Why the connection ended, once [`State::Closed`].
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.close_reason.as_ref()
    }

    /// Whether a `Logoff` was submitted on this connection: however it then
    /// ended (a `Goodbye`, the Logoff's timeout, or the peer closing first,
    /// [`ConnectionError::PeerClosed`]), the client asked for the end, so a
    /// reconnect loop stops there.
    pub fn logoff_requested(&self) -> bool {
        self.logoff_requested
    }

    /// Actions submitted and not finished (held ones included).
    pub fn pending_actions(&self) -> usize {
        self.pending
            .values()
            .filter(|p| p.role == Role::User && !p.silent)
            .count()
    }

    /// Actions held until login or a free in-flight slot.
    pub fn queued_actions(&self) -> usize {
        self.queue.len()
    }

    // ----- inputs -----------------------------------------------------------

    /// Bytes received from the server at `now`.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        if self.state == State::Closed || bytes.is_empty() {
            return;
        }
        self.liveness.last_rx = Some(now);
        self.liveness.ping_deadline = None;
        self.inbuf.extend_from_slice(bytes);
        self.drain_input(now, false);
    }

    /// Read from the transport straight into the connection's input
    /// buffer, saving the copy [`Connection::handle_input`] makes: `read`
    /// gets the buffer with at least `room` bytes of spare capacity and
    /// appends what it reads (e.g. tokio-util's `poll_read_buf`); those
    /// bytes are then handled at `now` as by `handle_input`. Returns what
    /// `read` returned. `read` must only append: a buffer it shortened
    /// closes the connection with [`ConnectionError::Transport`]. Once
    /// closed, what it appends is dropped.
    ///
    /// ```
    /// use amiproto::{Config, Connection, Event};
    /// use std::time::Instant;
    ///
    /// let now = Instant::now();
    /// let mut conn = Connection::new(Config::new("admin", "amp111"), now);
    /// let n = conn.handle_read(now, 4096, |buf| {
    ///     buf.extend_from_slice(b"Asterisk Call Manager/11.0.0\r\n");
    ///     30
    /// });
    /// assert_eq!(n, 30);
    /// assert!(matches!(conn.poll_event(), Some(Event::Banner(_))));
    /// ```
    pub fn handle_read<R>(
        &mut self,
        now: Instant,
        room: usize,
        read: impl FnOnce(&mut BytesMut) -> R,
    ) -> R {
        let before = self.inbuf.len();
        self.inbuf.reserve(room);
        let r = read(&mut self.inbuf);
        let after = self.inbuf.len();
        if self.state == State::Closed {
            self.inbuf.truncate(before.min(after));
        } else if after < before {
            let error = ConnectionError::Transport("the reader shortened the input buffer".into());
            self.close(CloseReason::Error(error));
        } else if after > before {
            self.liveness.last_rx = Some(now);
            self.liveness.ping_deadline = None;
            self.drain_input(now, false);
        }
        r
    }

    /// The server closed its side (read returned 0) at `now`.
    pub fn handle_eof(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        let mid_packet = self.drain_input(now, true);
        // A `Goodbye` closes the connection as it arrives: a stream that
        // ends while `Closing` ended before it, maybe inside a packet, and
        // says so as it would without the Logoff.
        let reason = match self.state {
            State::Closed => return,
            State::AwaitingBanner => CloseReason::Error(ConnectionError::ClosedBeforeBanner),
            _ => CloseReason::Error(ConnectionError::PeerClosed { mid_packet }),
        };
        self.close(reason);
    }

    /// The adapter's transport failed, or the user gave up on the connection:
    /// close now with `error` (every pending action fails with it).
    pub fn abort(&mut self, error: ConnectionError) {
        self.close(CloseReason::Error(error));
    }

    /// Expire whatever is due at `now`. With nothing due, does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if let Some(at) = self.state_deadline {
            if at <= now {
                let error = match self.state {
                    State::AwaitingBanner => ConnectionError::BannerTimeout,
                    _ => ConnectionError::LoginTimeout,
                };
                self.close(CloseReason::Error(error));
                return;
            }
        }
        self.keepalive(now);
        if self.state == State::Closed {
            return;
        }
        while let Some((at, seq)) = self.deadlines.pop_due(now) {
            let Some(p) = self.pending.get_mut(&seq) else {
                continue;
            };
            if p.deadline != Some(at) {
                continue;
            }
            if p.expect == Expect::Logoff {
                // No Goodbye in time (or, cancelled, none while draining):
                // the server is gone or stuck. Close here rather than stay
                // `Closing` for ever with nothing able to move it.
                self.report(seq, Err(ActionError::Timeout));
                self.remove(seq);
                self.close(CloseReason::Error(ConnectionError::LogoffTimeout));
                return;
            }
            if p.silent {
                self.remove(seq);
                continue;
            }
            if p.is_written() {
                self.report(seq, Err(ActionError::Timeout));
                // Keep draining its late answer quietly for one more period.
                let Some(p) = self.pending.get_mut(&seq) else {
                    continue;
                };
                p.silent = true;
                let until = at + p.timeout.unwrap_or(DEFAULT_DRAIN_GRACE);
                p.deadline = Some(until);
                if let Progress::List(list) = &mut p.progress {
                    list.items = Vec::new();
                }
                self.deadlines.push(until, seq);
            } else {
                self.report(seq, Err(ActionError::Timeout));
                self.remove(seq);
                self.queue.retain(|(s, _)| *s != seq);
            }
        }
    }

    fn keepalive(&mut self, now: Instant) {
        let Some(ka) = self.config.keepalive else {
            return;
        };
        if self.state != State::Ready && self.state != State::Closing {
            return;
        }
        if self.liveness.ping_deadline.is_none() {
            let idle_since = self.liveness.last_rx.unwrap_or(now);
            if idle_since + ka.interval <= now && self.state == State::Ready {
                self.write_internal(Action::ping(), Role::Keepalive, now);
                self.liveness.ping_deadline = Some(now + ka.timeout);
            }
        }
        if self.liveness.ping_deadline.is_some_and(|at| at <= now) {
            self.close(CloseReason::Error(ConnectionError::KeepaliveTimeout));
        }
    }

    // ----- submitting -------------------------------------------------------

    /// Submit an action with default options. Before login it is held; once
    /// logged in it is written at once (or when the in-flight window opens).
    pub fn send(&mut self, action: Action, now: Instant) -> Result<ActionHandle, SendError> {
        self.send_with(action, SendOptions::default(), now)
    }

    /// Submit an action with per-action options.
    ///
    /// Refused with [`SendError::Unanswerable`], nothing written, when the
    /// action could certainly never finish on this server and session:
    /// - an `Originate` with `Async: true` when the event mask the server
    ///   accepted (the login's, or a later `Events` action's once answered
    ///   `Success`) has no `call` class, the one `OriginateResponse` is
    ///   sent in, or when the server accepted a legacy exclude filter
    ///   (`Filter: !<text>`, no `MatchCriteria`) whose text, without any
    ///   regex metacharacter, is part of `Event: OriginateResponse` or
    ///   `Privilege: call,all`. Anything less certain is let through: an
    ///   `Events` action still unanswered (or never answered), include
    ///   filters (one of them, or a `manager.conf` filter, may match),
    ///   regex filters, `MatchCriteria` filters (older servers ignore the
    ///   criteria), and the user's read classes, which only `manager.conf`
    ///   knows;
    /// - `Queues` when the banner says AMI below 4 (Asterisk ≤ 14): those
    ///   servers answer it with bare CLI text, no `Response:`, no
    ///   `ActionID` and no end marker, which cannot be matched to the
    ///   action safely; use `QueueStatus` or `QueueSummary`, or `Command`
    ///   with `queue show`. Held before the banner, it fails once the
    ///   banner is in, with [`ActionError::Unanswerable`].
    pub fn send_with(
        &mut self,
        action: Action,
        options: SendOptions,
        now: Instant,
    ) -> Result<ActionHandle, SendError> {
        if matches!(self.state, State::Closing | State::Closed) {
            return Err(SendError::Closed);
        }
        let expect = Expect::of(&action);
        if expect == Expect::AsyncOriginate {
            if let Some(why) = self.scope.refuses_async_originate() {
                return Err(SendError::Unanswerable(why));
            }
        }
        if let Some(why) = self.refuses_unframed(&action) {
            return Err(SendError::Unanswerable(why));
        }
        if expect == Expect::Logoff && self.state != State::Ready {
            // Not logged in: nothing to log off from. Close here.
            action.validate(None)?;
            self.logoff_requested = true;
            let handle = self.handle(self.next_seq);
            self.advance_seq();
            // Its own outcome first: nothing may follow `Closed`.
            if !options.no_reply {
                self.events.push(Event::Done {
                    handle,
                    result: Err(ActionError::Closed(CloseReason::LoggedOff)),
                });
            }
            self.close(CloseReason::LoggedOff);
            return Ok(handle);
        }
        let user_id = match action.get_action_id() {
            Some(id) => {
                let b = id.as_bytes();
                if b.starts_with(self.config.action_id_prefix.as_bytes())
                    || self.user_ids.contains_key(b)
                {
                    return Err(SendError::DuplicateActionId(id.to_owned()));
                }
                Some(Box::<[u8]>::from(b))
            }
            None => None,
        };
        let seq = self.next_seq;
        let timeout = options.timeout.unwrap_or(self.config.action_timeout);
        // A Logoff never waits for ever: nothing else could end `Closing`.
        let timeout = match (expect, timeout) {
            (Expect::Logoff, None) => Some(DEFAULT_LOGOFF_TIMEOUT),
            (_, t) => t,
        };
        let window_open = self
            .config
            .in_flight_cap()
            .is_none_or(|cap| self.in_flight < cap && self.queue.is_empty());
        let effect = scope::effect_of(&action).map(Box::new);
        let unmarked = unmarked::unmarked_items_of(&action);
        let progress = if self.state == State::Ready && window_open {
            self.encode(&action, seq)?;
            self.in_flight += 1;
            Progress::Sent
        } else {
            if user_id.is_some() {
                action.validate(None)?;
            } else {
                let id = self.generated_id(seq)?;
                action.validate(Some(id.as_str()))?;
            }
            self.queue.push_back((seq, action));
            Progress::Queued
        };
        self.advance_seq();
        let in_window = matches!(progress, Progress::Sent);
        if let Some(e) = &effect {
            self.scope.submitted(e);
        }
        let deadline = timeout.map(|t| now + t);
        if let Some(at) = deadline {
            self.deadlines.push(at, seq);
        }
        if let Some(id) = &user_id {
            self.user_ids.insert(id.clone(), seq);
        }
        self.pending.insert(
            seq,
            Pending {
                role: Role::User,
                expect,
                progress,
                deadline,
                timeout,
                silent: options.no_reply,
                stream: options.stream,
                user_id,
                in_window,
                effect,
                unmarked,
            },
        );
        if expect == Expect::Logoff {
            self.state = State::Closing;
            self.logoff_requested = true;
        }
        Ok(self.handle(seq))
    }

    /// Send `Logoff`: the connection closes once `Goodbye` arrives (its
    /// handle then finishes with that response); every other action still
    /// pending fails with [`CloseReason::LoggedOff`]. Before login, closes at
    /// once.
    ///
    /// [`CloseReason::LoggedOff`] means the `Goodbye` was received. If the
    /// stream ends before it (the server went away, or cut the connection
    /// in the middle of a packet), the close reason and every pending
    /// action's error say so as they would without the Logoff:
    /// [`ConnectionError::PeerClosed`], with `mid_packet` telling whether
    /// part of a packet had arrived.
    ///
    /// A Logoff never waits for ever: if no `Goodbye` comes within its
    /// timeout (a `send_with` timeout, else the config's action timeout, and
    /// 10 s where neither sets one), the connection closes locally: the Logoff fails with
    /// [`ActionError::Timeout`], every other pending action with
    /// [`ConnectionError::LogoffTimeout`], and the state is `Closed`.
    pub fn logoff(&mut self, now: Instant) -> Result<ActionHandle, SendError> {
        self.send(Action::logoff(), now)
    }

    /// Drop interest in an action: it yields no outcome, is never written if
    /// still held, and its late answer is consumed quietly. Returns whether
    /// the action was still pending.
    pub fn cancel(&mut self, handle: ActionHandle, now: Instant) -> bool {
        if handle.generation != self.generation {
            return false;
        }
        let seq = handle.seq;
        let Some(p) = self.pending.get_mut(&seq) else {
            return false;
        };
        if p.role != Role::User || p.silent {
            return false;
        }
        if !p.is_written() {
            self.remove(seq);
            self.queue.retain(|(s, _)| *s != seq);
            return true;
        }
        p.silent = true;
        if let Progress::List(list) = &mut p.progress {
            list.items = Vec::new();
        }
        let until = now + p.timeout.unwrap_or(DEFAULT_DRAIN_GRACE);
        p.deadline = Some(until);
        self.deadlines.push(until, seq);
        true
    }

    // ----- outputs ----------------------------------------------------------

    /// Bytes to write to the server, if any.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.outbuf.is_empty() {
            None
        } else {
            Some(self.outbuf.split().freeze())
        }
    }

    /// Whether bytes are waiting to be written.
    pub fn has_transmit(&self) -> bool {
        !self.outbuf.is_empty()
    }

    /// When [`Connection::handle_timeout`] should next be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let mut earliest = self.state_deadline;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
        };
        if let Some(ka) = self.config.keepalive {
            if matches!(self.state, State::Ready | State::Closing) {
                consider(match self.liveness.ping_deadline {
                    Some(at) => Some(at),
                    None if self.state == State::Ready => {
                        self.liveness.last_rx.map(|t| t + ka.interval)
                    }
                    None => None,
                });
            }
        }
        let pending = &self.pending;
        consider(
            self.deadlines
                .earliest(|seq, at| pending.get(&seq).is_some_and(|p| p.deadline == Some(at))),
        );
        earliest
    }

    /// The next thing that happened, in arrival order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Move the unclaimed packets ([`Event::Unsolicited`]) that come next
    /// to the back of `out`, as [`EventItem::Event`]s in arrival order,
    /// stopping at the first other report (for [`Connection::poll_event`]);
    /// returns how many. The same as calling `poll_event` while it returns
    /// `Unsolicited`, without the work per packet: when only unclaimed
    /// packets wait and `out` is empty, their buffer is handed over whole
    /// (`out`'s buffer is kept in its place).
    ///
    /// ```
    /// use amiproto::{Config, Connection, Event, EventItem};
    /// use std::collections::VecDeque;
    /// use std::time::Instant;
    ///
    /// let now = Instant::now();
    /// let mut conn = Connection::new(Config::new("admin", "amp111"), now);
    /// conn.handle_input(now, b"Asterisk Call Manager/11.0.0\r\n");
    /// conn.handle_input(now, b"Event: A\r\n\r\nEvent: B\r\n\r\n");
    /// let mut out = VecDeque::new();
    /// // The banner comes first: nothing to take before it.
    /// assert_eq!(conn.poll_unsolicited_into(&mut out), 0);
    /// assert!(matches!(conn.poll_event(), Some(Event::Banner(_))));
    /// assert_eq!(conn.poll_unsolicited_into(&mut out), 2);
    /// assert!(matches!(&out[1], EventItem::Event(p) if p.get_str("Event") == Some("B")));
    /// assert!(conn.poll_event().is_none());
    /// ```
    pub fn poll_unsolicited_into(&mut self, out: &mut VecDeque<EventItem>) -> usize {
        self.events.take_unsolicited(out)
    }

    /// The next report that is not an unclaimed packet, after moving the
    /// unclaimed packets before it to the back of `out` (as
    /// [`Connection::poll_unsolicited_into`] does); `None` when nothing else
    /// waits. Unclaimed packets with no other report after them stay
    /// queued: an adapter can settle each read's outcomes at once and take
    /// the events of many reads in one go later.
    ///
    /// ```
    /// use amiproto::{Config, Connection, Event, EventItem};
    /// use std::collections::VecDeque;
    /// use std::time::Instant;
    ///
    /// let now = Instant::now();
    /// let mut conn = Connection::new(Config::new("admin", "amp111"), now);
    /// conn.handle_input(now, b"Asterisk Call Manager/11.0.0\r\nEvent: A\r\n\r\n");
    /// let mut out = VecDeque::new();
    /// assert!(matches!(conn.poll_report(&mut out), Some(Event::Banner(_))));
    /// assert!(conn.poll_report(&mut out).is_none());
    /// assert!(out.is_empty()); // the event waits
    /// conn.handle_input(now, b"Event: B\r\n\r\n");
    /// assert_eq!(conn.poll_unsolicited_into(&mut out), 2);
    /// ```
    pub fn poll_report(&mut self, out: &mut VecDeque<EventItem>) -> Option<Event> {
        self.events.pop_other(out)
    }

    // ----- internals --------------------------------------------------------

    fn handle(&self, seq: u64) -> ActionHandle {
        ActionHandle {
            generation: self.generation,
            seq,
        }
    }

    /// Encode a user action with its wire `ActionID` into the output.
    fn encode(&mut self, action: &Action, seq: u64) -> Result<(), SendError> {
        if action.get_action_id().is_some() {
            // Its own id (checked with the rest of it).
            action.encode(None, &mut self.outbuf)?;
            return Ok(());
        }
        if self.id_prefix_valid {
            // The prefix was checked once and the digits are printable:
            // only the length is left to check. The line is written from
            // its head, rendered once, and the digits.
            let fresh;
            let digits = if seq == self.next_seq {
                self.next_digits.as_bytes()
            } else {
                fresh = Digits::of(seq);
                fresh.as_bytes()
            };
            if self.id_prefix.len() + digits.len() <= crate::encode::MAX_ACTION_ID_LEN {
                action.encode_with_checked_id(&self.id_line_head, digits, &mut self.outbuf)?;
                return Ok(());
            }
        }
        let id = self.generated_id(seq)?;
        action.encode(Some(id.as_str()), &mut self.outbuf)?;
        Ok(())
    }

    /// The next sequence number (and its digits).
    fn advance_seq(&mut self) {
        self.next_seq += 1;
        self.next_digits.increment();
    }

    fn generated_id(&self, seq: u64) -> Result<IdBuf, SendError> {
        IdBuf::new(&self.id_prefix, seq).ok_or_else(|| {
            SendError::Encode(crate::EncodeError::InvalidActionId(format!(
                "{}{seq}",
                self.id_prefix
            )))
        })
    }

    /// Write an action of the connection's own (login, keepalive).
    fn write_internal(&mut self, action: Action, role: Role, now: Instant) {
        let seq = self.next_seq;
        self.advance_seq();
        if let Err(e) = self.encode(&action, seq) {
            let error = match (role, e) {
                (Role::Login(_), SendError::Encode(e)) => ConnectionError::LoginUnencodable(e),
                (_, e) => {
                    ConnectionError::Transport(format!("cannot encode {}: {e}", action.name()))
                }
            };
            self.close(CloseReason::Error(error));
            return;
        }
        // Keepalive pings are silent from the start: any byte proves liveness.
        let (silent, deadline) = match (role, self.config.keepalive) {
            (Role::Keepalive, Some(ka)) => (true, Some(now + ka.timeout + ka.interval)),
            _ => (false, None),
        };
        if let Some(at) = deadline {
            self.deadlines.push(at, seq);
        }
        self.pending.insert(
            seq,
            Pending {
                role,
                expect: Expect::Normal,
                progress: Progress::Sent,
                deadline,
                timeout: None,
                silent,
                stream: false,
                user_id: None,
                in_window: false,
                effect: None,
                unmarked: None,
            },
        );
    }

    /// Decode everything buffered; at EOF also flush the decoder. Returns
    /// whether the stream ended inside a packet.
    fn drain_input(&mut self, now: Instant, eof: bool) -> bool {
        loop {
            if self.state == State::Closed {
                return false;
            }
            let r = if eof {
                self.decoder.decode_eof(&mut self.inbuf)
            } else {
                self.decoder.decode(&mut self.inbuf)
            };
            match r {
                Ok(Some(Frame::Banner(b))) => self.on_banner(b, now),
                Ok(Some(Frame::Packet(p))) => self.on_packet(p, now),
                Ok(None) => return false,
                Err(DecodeError::Truncated { .. }) => return true,
                Err(DecodeError::NotAmi { greeting }) => {
                    self.close(CloseReason::Error(ConnectionError::NotAmi { greeting }));
                    return false;
                }
                Err(e) => self.on_skipped(e),
            }
        }
    }

    fn on_banner(&mut self, banner: Banner, now: Instant) {
        self.banner = Some(banner.clone());
        self.events.push(Event::Banner(banner));
        self.state = State::Authenticating;
        self.state_deadline = Some(now + self.config.login_timeout);
        let (step, action) = login::first_step(&self.config);
        self.write_internal(action, Role::Login(step), now);
    }

    fn lookup(&self, id: &[u8]) -> Option<u64> {
        if !self.user_ids.is_empty() {
            if let Some(&seq) = self.user_ids.get(id) {
                return Some(seq);
            }
        }
        let seq = parse_generated(self.id_prefix.as_bytes(), id)?;
        self.pending
            .get(&seq)
            .is_some_and(|p| p.user_id.is_none())
            .then_some(seq)
    }

    fn on_packet(&mut self, packet: Packet, now: Instant) {
        let id = packet.action_id();
        let seq = id.and_then(|id| self.lookup(id.as_bytes()));
        match (seq, packet.kind()) {
            (Some(seq), PacketKind::Response) => self.on_response(seq, packet, now),
            (Some(seq), PacketKind::Event) => self.on_event(seq, packet),
            (None, PacketKind::Event) if id.is_none() && !self.unmarked_open.is_empty() => {
                self.on_unmarked_event(packet)
            }
            _ => self.events.push(Event::Unsolicited(packet)),
        }
    }

    /// A list whose items may come without its `ActionID` is open.
    fn open_unmarked(&mut self, seq: u64) {
        self.prune_unmarked();
        self.unmarked_open.push(seq);
    }

    /// Forget the entries of lists no longer open.
    fn prune_unmarked(&mut self) {
        let pending = &self.pending;
        self.unmarked_open.retain(|seq| {
            pending
                .get(seq)
                .is_some_and(|p| matches!(p.progress, Progress::List(_)))
        });
    }

    /// An event without `ActionID` while such a list is open: an item of
    /// it when it is the one open list and the event is named as its
    /// items (see [`unmarked`]); anything else is an ordinary event.
    fn on_unmarked_event(&mut self, packet: Packet) {
        self.prune_unmarked();
        let owner = match self.unmarked_open[..] {
            [seq] => self
                .pending
                .get(&seq)
                .and_then(|p| p.unmarked)
                .filter(|&index| unmarked::is_item(index, &packet))
                .map(|_| seq),
            _ => None,
        };
        match owner {
            Some(seq) => self.on_event(seq, packet),
            None => self.events.push(Event::Unsolicited(packet)),
        }
    }

    /// Why `action` could never be matched to its answer on this server,
    /// once its version is known: `Queues` before AMI 4 (Asterisk ≤ 14)
    /// answers bare text.
    fn refuses_unframed(&self, action: &Action) -> Option<Unanswerable> {
        let version = self.version()?;
        (version.major < 4 && action.is("Queues")).then(|| Unanswerable::QueuesUnframed {
            ami_version: version.to_string(),
        })
    }

    fn on_response(&mut self, seq: u64, packet: Packet, now: Instant) {
        let Some(p) = self.pending.get_mut(&seq) else {
            return;
        };
        match &mut p.progress {
            Progress::Sent => {}
            Progress::Originate(o) if o.response.is_none() => {
                if packet.response_status() == Some(ResponseStatus::Error) {
                    return self.finish_error(seq, packet);
                }
                match o.event.take() {
                    Some(event) => {
                        let outcome = OriginateOutcome {
                            response: packet,
                            event,
                        };
                        self.finish(seq, Ok(Outcome::Originate(Box::new(outcome))));
                    }
                    None => o.response = Some(packet),
                }
                return;
            }
            _ => return self.events.push(Event::Unsolicited(packet)),
        }
        match p.role {
            Role::Login(step) => {
                self.remove(seq);
                return self.on_login_response(step, packet, now);
            }
            Role::Keepalive => return self.remove(seq),
            Role::User => {}
        }
        let status = packet.response_status();
        if let Some(effect) = p.effect.take() {
            self.scope
                .answered(&effect, status == Some(ResponseStatus::Success));
        }
        if status == Some(ResponseStatus::Error) {
            return self.finish_error(seq, packet);
        }
        match p.expect {
            Expect::Command => {
                let out = CommandOutput::from_response(packet);
                self.finish(seq, Ok(Outcome::Command(Box::new(out))));
            }
            Expect::AsyncOriginate => {
                p.progress = Progress::Originate(Box::new(OriginateProgress {
                    response: Some(packet),
                    event: None,
                }));
                // The server is done with the action; the event may take
                // the whole ring time. Free the window slot now.
                if std::mem::take(&mut p.in_window) {
                    self.in_flight -= 1;
                    self.flush_queue();
                }
            }
            Expect::Logoff => {
                let goodbye = status == Some(ResponseStatus::Goodbye);
                self.finish(seq, Ok(Outcome::Response(packet)));
                if goodbye {
                    self.close(CloseReason::LoggedOff);
                }
            }
            Expect::Normal if opens_list(&packet) => {
                p.progress = Progress::List(Box::new(ListProgress {
                    response: packet,
                    items: Vec::new(),
                }));
                if p.unmarked.is_some() && unmarked::server_omits_ids(self.version()) {
                    self.open_unmarked(seq);
                }
            }
            Expect::Normal => self.finish(seq, Ok(Outcome::Response(packet))),
        }
    }

    /// An event carrying the `ActionID` of a pending action: claimed by it
    /// only where the protocol says such an event answers it (see
    /// [`claims_event`]); anything else goes out as an ordinary event.
    fn on_event(&mut self, seq: u64, packet: Packet) {
        let Some(p) = self.pending.get_mut(&seq) else {
            return;
        };
        if !claims_event(p, &packet) {
            return self.events.push(Event::Unsolicited(packet));
        }
        let is_originate_response =
            p.expect == Expect::AsyncOriginate && packet.is_event("OriginateResponse");
        match &mut p.progress {
            Progress::List(_) if closes_list(&packet) => {
                let Progress::List(open) = std::mem::replace(&mut p.progress, Progress::Sent)
                else {
                    return;
                };
                let ListProgress { response, items } = *open;
                let list = ListOutcome {
                    response,
                    items,
                    complete: packet,
                };
                self.finish(seq, Ok(Outcome::List(Box::new(list))));
            }
            Progress::List(open) => {
                let items = &mut open.items;
                if p.silent {
                    return;
                }
                if p.stream {
                    let handle = ActionHandle {
                        generation: self.generation,
                        seq,
                    };
                    self.events.push(Event::ListItem {
                        handle,
                        item: packet,
                    });
                } else if items.len() >= self.config.max_list_items {
                    let limit = self.config.max_list_items;
                    *items = Vec::new();
                    self.report(seq, Err(ActionError::ListTooLarge { limit }));
                    if let Some(p) = self.pending.get_mut(&seq) {
                        p.silent = true;
                    }
                } else {
                    items.push(packet);
                }
            }
            Progress::Sent if is_originate_response => {
                // The originate thread can finish before the action's own
                // response is written: keep the event until it arrives.
                p.progress = Progress::Originate(Box::new(OriginateProgress {
                    response: None,
                    event: Some(packet),
                }));
            }
            Progress::Originate(o) if o.event.is_none() && is_originate_response => {
                match o.response.take() {
                    Some(response) => {
                        let outcome = OriginateOutcome {
                            response,
                            event: packet,
                        };
                        self.finish(seq, Ok(Outcome::Originate(Box::new(outcome))));
                    }
                    None => self.events.push(Event::Unsolicited(packet)),
                }
            }
            _ => self.events.push(Event::Unsolicited(packet)),
        }
    }

    fn on_login_response(&mut self, step: LoginStep, packet: Packet, now: Instant) {
        let ok = packet.response_status() == Some(ResponseStatus::Success);
        let message = packet
            .message()
            .map(|m| m.decode_text().into_owned())
            .unwrap_or_default();
        match step {
            LoginStep::Challenge => match packet.get("Challenge") {
                Some(challenge) if ok => {
                    let challenge = challenge.decode_text().into_owned();
                    let action = login::md5_login(&self.config, &challenge);
                    self.write_internal(action, Role::Login(LoginStep::Login), now);
                }
                _ if self.config.auth == AuthMethod::Md5WithFallback => {
                    let action = login::plain_login(&self.config);
                    self.write_internal(action, Role::Login(LoginStep::Login), now);
                }
                _ => self.close(CloseReason::Error(ConnectionError::ChallengeRefused {
                    message,
                })),
            },
            LoginStep::Login if ok => {
                self.state = State::Ready;
                self.state_deadline = None;
                self.liveness.last_rx = Some(now);
                self.events.push(Event::Ready);
                self.flush_queue();
            }
            LoginStep::Login => {
                self.close(CloseReason::Error(ConnectionError::AuthFailed { message }))
            }
        }
    }

    fn on_skipped(&mut self, error: DecodeError) {
        let seq = error.action_id().and_then(|id| self.lookup(id));
        let Some(seq) = seq else {
            return self.events.push(Event::Skipped(error));
        };
        let Some(p) = self.pending.get(&seq) else {
            return self.events.push(Event::Skipped(error));
        };
        if p.role != Role::User {
            return self.events.push(Event::Skipped(error));
        }
        if matches!(p.progress, Progress::List(_)) {
            // Keep draining the rest of the list quietly.
            self.report(seq, Err(ActionError::Skipped(error)));
            if let Some(p) = self.pending.get_mut(&seq) {
                p.silent = true;
                if let Progress::List(list) = &mut p.progress {
                    list.items = Vec::new();
                }
            }
        } else {
            self.finish(seq, Err(ActionError::Skipped(error)));
        }
    }

    fn finish_error(&mut self, seq: u64, response: Packet) {
        self.finish(seq, Err(ActionError::from_error_response(response)));
    }

    /// Report the outcome (unless silent) and forget the action.
    fn finish(&mut self, seq: u64, result: Result<Outcome, ActionError>) {
        let Some(p) = self.pending.release(&seq) else {
            return;
        };
        if p.role == Role::User && !p.silent {
            let handle = self.handle(seq);
            self.events.push(Event::Done { handle, result });
        }
        self.forget(p);
    }

    /// Report an outcome without forgetting the action.
    fn report(&mut self, seq: u64, result: Result<Outcome, ActionError>) {
        if let Some(p) = self.pending.get(&seq) {
            if p.role == Role::User && !p.silent {
                let handle = self.handle(seq);
                self.events.push(Event::Done { handle, result });
            }
        }
    }

    fn remove(&mut self, seq: u64) {
        if let Some(p) = self.pending.release(&seq) {
            self.forget(p);
        }
    }

    /// Release what a finished action held: its ActionID, its window slot,
    /// and (every so often) the stale timer entries finished actions leave.
    fn forget(&mut self, p: Released) {
        if self.deadlines.len() > 2 * self.pending.len() + 1024 {
            let pending = &self.pending;
            self.deadlines
                .retain(|seq, at| pending.get(&seq).is_some_and(|p| p.deadline == Some(at)));
        }
        if let Some(id) = &p.user_id {
            self.user_ids.remove(id);
        }
        if let Some(effect) = &p.effect {
            self.scope.unanswered(effect, p.written);
        }
        if p.in_window {
            self.in_flight -= 1;
            self.flush_queue();
        }
    }

    /// Write held actions while logged in and the window allows.
    fn flush_queue(&mut self) {
        if !matches!(self.state, State::Ready | State::Closing) {
            return;
        }
        while !self.queue.is_empty() {
            if self
                .config
                .in_flight_cap()
                .is_some_and(|cap| self.in_flight >= cap)
            {
                return;
            }
            let Some((seq, action)) = self.queue.pop_front() else {
                return;
            };
            let Some(p) = self.pending.get(&seq) else {
                continue;
            };
            if !matches!(p.progress, Progress::Queued) {
                continue;
            }
            // Held before the banner told the version.
            if let Some(why) = self.refuses_unframed(&action) {
                self.finish(seq, Err(ActionError::Unanswerable(why)));
                continue;
            }
            let Some(p) = self.pending.get_mut(&seq) else {
                continue;
            };
            p.progress = Progress::Sent;
            p.in_window = true;
            self.in_flight += 1;
            if let Err(e) = self.encode(&action, seq) {
                // Validated when submitted; report rather than panic.
                let error = ActionError::Closed(CloseReason::Error(ConnectionError::Transport(
                    e.to_string(),
                )));
                self.finish(seq, Err(error));
            }
        }
    }

    fn close(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.state_deadline = None;
        if reason != CloseReason::LoggedOff {
            self.outbuf.clear();
        }
        let mut seqs: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.role == Role::User && !p.silent)
            .map(|(s, _)| s)
            .collect();
        seqs.sort_unstable();
        for seq in seqs {
            let handle = self.handle(seq);
            self.events.push(Event::Done {
                handle,
                result: Err(ActionError::Closed(reason.clone())),
            });
        }
        self.pending.clear();
        self.user_ids.clear();
        self.queue.clear();
        self.in_flight = 0;
        self.deadlines.clear();
        self.close_reason = Some(reason.clone());
        self.events.push(Event::Closed(reason));
    }
}

/// Whether `event`, which carries `p`'s `ActionID`, is part of `p`'s answer.
///
/// - A `UserEvent` never is: Asterisk's `UserEvent` action (and dialplan
///   application) lets any session with the `user` write class broadcast an
///   event echoing every header it wrote, `ActionID` and `EventList`
///   included, to every session.
/// - Before the action's response, only an async `Originate`'s
///   `OriginateResponse` is (the originate thread can finish before the
///   response is written). List items and list ends follow their list's
///   response: Asterisk writes the response, then the items, from the
///   session's own thread (`astman_send_listack` first, in 11, 13 and 22).
/// - After the response: list items and the list end of an open list, the
///   `OriginateResponse` of an async originate.
fn claims_event(p: &Pending, event: &Packet) -> bool {
    if event.is_event("UserEvent") {
        return false;
    }
    match p.progress {
        Progress::Queued => false,
        Progress::Sent => p.expect == Expect::AsyncOriginate,
        Progress::List(_) | Progress::Originate(_) => true,
    }
}
