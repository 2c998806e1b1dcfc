//! # amiproto-tokio — an async Asterisk Manager Interface client
//!
//! A thin tokio driver around the [`amiproto`] state machine: a cloneable
//! [`Client`] handle sends actions to one driver task that owns the socket.
//! The driver reads continuously (a slow event consumer or a long action
//! pipeline never stops it reading), writes concurrently, and hands events
//! to any number of [`EventStream`] subscribers, each with its own overflow
//! policy.
//!
//! ```no_run
//! # async fn demo() -> Result<(), amiproto_tokio::Error> {
//! use amiproto_tokio::{connect, ClientConfig};
//!
//! let config = ClientConfig::from_url("ami://admin:amp111@127.0.0.1:5038")?;
//! // The event stream is opened before login: no event is lost at start-up.
//! let (client, mut events) = connect(config).await?;
//! println!("AMI {:?}, ping {:?}", client.status().version, client.ping().await?);
//! let out = client.command("core show version").await?;
//! println!("{}", out.text());
//! while let Some(item) = events.recv().await {
//!     println!("{item:?}");
//! #   break;
//! }
//! client.logoff().await?;
//! # Ok(()) }
//! ```
//!
//! Dropping every `Client` logs off and ends the driver; event streams then
//! end once drained.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod cmd_queue;
mod completion;
mod config;
mod driver;
mod entropy;
mod events;
mod id_hash;
mod list;
#[cfg(test)]
mod test_waker;
#[cfg(feature = "tls")]
mod tls;
mod transport;
#[cfg(feature = "types")]
mod typed;
mod waiters;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use amiproto::{
    Action, AmiVersion, Banner, CloseReason, CommandOutput, ConnectionError, EventMask,
    ListOutcome, OriginateOutcome, Outcome,
};
use tokio::sync::{oneshot, watch};
use tracing::Instrument;

pub use amiproto;
/// The `bytes` crate (the core's re-export): packets and command output
/// lines are [`Bytes`](bytes::Bytes).
pub use amiproto::bytes;
/// Everything that can go wrong between a caller and the server (one type
/// for both clients, from the core).
pub use amiproto::ClientError as Error;
pub use config::{ClientConfig, Reconnect, WhileReconnecting};
pub use events::{EventFilter, EventItem, EventStream, Overflow, DEFAULT_CAPACITY};
pub use list::ListStream;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tls::TlsConfig;
#[cfg(feature = "types")]
pub use typed::TypedEvents;

use driver::{Cmd, Driver, Remember, Reply, Start};

/// Where the client's connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Opening the TCP (and TLS) connection.
    Connecting,
    /// Banner received; logging in.
    Authenticating,
    /// Logged in: actions flow.
    Ready,
    /// `Logoff` sent: no new actions; waiting for `Goodbye`, at most the
    /// Logoff's timeout (then the connection is closed locally).
    Closing,
    /// The connection was lost; waiting before attempt `attempt` (from 0).
    Reconnecting {
        /// Attempts made since the connection was lost.
        attempt: u32,
    },
    /// Closed for good (logged off, every client dropped, or reconnects
    /// off or exhausted).
    Closed,
}

/// The client's state, as published through [`Client::status_watch`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// Connection state.
    pub state: ConnectionState,
    /// The server's AMI version (from the last banner), when the banner has
    /// the usual `X.Y[.Z]` form.
    pub version: Option<AmiVersion>,
    /// The last banner as received ([`Banner::raw`]), also when its version
    /// could not be parsed.
    pub banner: Option<Banner>,
    /// How many times the client logged in again after its first login: 0
    /// during the first session, then 1, 2… It counts sessions, not TCP
    /// connections: an attempt that connects but fails to log in (refused,
    /// closed before the banner) does not count. It is the number carried by
    /// [`EventItem::Reconnected`].
    pub generation: u32,
    /// Why the last connection ended (`None` while the first is up).
    pub last_close: Option<amiproto::CloseReason>,
}

/// The span every event of one client's connection is logged in.
fn connection_span(config: &ClientConfig) -> tracing::Span {
    tracing::info_span!(
        "ami",
        host = %config.endpoint.host,
        port = config.endpoint.port,
        user = %config.ami.username,
        tls = config.endpoint.tls,
    )
}

/// Connect, log in, and start the driver task (on the current tokio
/// runtime).
///
/// Returns the client and an event stream opened before login (its overflow
/// policy is [`ClientConfig::events_overflow`]): events that arrive with the
/// login response, such as `FullyBooted`, are in it. Fails with a typed
/// error: [`Error::Connect`] (refused, unreachable), [`Error::ConnectTimeout`],
/// [`Error::Tls`], or [`Error::Connection`] (banner timeout, not AMI,
/// authentication failed with the server's message…).
///
/// The first connection is never retried, whatever the
/// [`ClientConfig::reconnect`] policy: that policy applies once a connection
/// has been logged in and is then lost.
pub async fn connect(config: ClientConfig) -> Result<(Client, EventStream), Error> {
    let span = connection_span(&config);
    async move {
        let (first, stream) = events::subscriber(None, config.events_overflow);
        let (tx, rx) = cmd_queue::channel();
        let (status_tx, status_rx) = watch::channel(Status::new());
        let (ready_tx, ready_rx) = oneshot::channel();
        let mut driver = Driver::new(config, rx, status_tx, first);
        tracing::debug!("connecting");
        let io = driver.open_initial().await?;
        tokio::spawn(driver.run(Start::Opened(io, ready_tx)).in_current_span());
        let client = Client::new(tx, status_rx, Arc::default());
        match ready_rx.await {
            Ok(Ok(_)) => Ok((client, stream)),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "login failed");
                Err(e)
            }
            Err(_) => Err(client.closed_error()),
        }
    }
    .instrument(span)
    .await
}

/// Return a client at once and connect in the background (on the current
/// tokio runtime; panics outside one, as `tokio::spawn` does).
///
/// Actions sent before the login succeeds are held and written right after
/// it, in order, each within its own timeout (as the core holds actions
/// sent before login). The returned event stream is opened before the
/// connection, as with [`connect`].
///
/// The outcome of connecting shows in [`Client::ready`] (which returns
/// the error [`connect`] would have returned: [`Error::Connect`],
/// [`Error::ConnectTimeout`], [`Error::Tls`], [`Error::Connection`]…) and
/// in [`Client::status_watch`]. Unlike [`connect`], the first connection
/// follows the [`ClientConfig::reconnect`] policy, if one is set: a client
/// started before its server keeps trying. Without a policy, or once the
/// policy gives up, the client closes: every held action and every later
/// call fails with that same error.
///
/// ```no_run
/// # async fn demo() -> Result<(), amiproto_tokio::Error> {
/// use amiproto_tokio::{connect_lazy, ClientConfig};
///
/// let (client, _events) = connect_lazy(ClientConfig::from_url("ami://admin:amp111@127.0.0.1")?);
/// // Held until logged in, then sent.
/// let pong = client.send(amiproto::Action::ping());
/// client.ready().await?; // or watch client.status_watch()
/// pong.await?;
/// # Ok(()) }
/// ```
pub fn connect_lazy(config: ClientConfig) -> (Client, EventStream) {
    let span = connection_span(&config);
    let (first, stream) = events::subscriber(None, config.events_overflow);
    let (tx, rx) = cmd_queue::channel();
    let (status_tx, status_rx) = watch::channel(Status::new());
    let failure = Arc::new(OnceLock::new());
    let driver = Driver::new(config, rx, status_tx, first);
    tokio::spawn(driver.run(Start::Lazy(failure.clone())).instrument(span));
    (Client::new(tx, status_rx, failure), stream)
}

/// Connect from an `ami://user:secret@host[:port]` or `amis://…` URL with
/// default settings; see [`connect`].
pub async fn connect_url(url: &str) -> Result<(Client, EventStream), Error> {
    connect(ClientConfig::from_url(url)?).await
}

/// A handle to one AMI connection: cheap to clone, `Send + Sync`.
///
/// Every method talks to the driver task; when the last clone is dropped
/// the driver logs off and ends.
#[derive(Clone, Debug)]
pub struct Client {
    /// One reference count for every clone: a task per call clones and
    /// drops the client once per call.
    shared: Arc<ClientShared>,
}

/// What every clone of a [`Client`] shares.
#[derive(Debug)]
struct ClientShared {
    tx: cmd_queue::CmdSender,
    status: watch::Receiver<Status>,
    next_id: AtomicU64,
    /// Completion slots of finished calls, for the next ones.
    slots: completion::SlotPool,
    /// Why a lazily started client never logged in (see [`connect_lazy`]).
    failure: Arc<OnceLock<Error>>,
}

impl Status {
    fn new() -> Status {
        Status {
            state: ConnectionState::Connecting,
            version: None,
            banner: None,
            generation: 0,
            last_close: None,
        }
    }
}

/// A copy of a connect-time error, for every caller that asks (an
/// [`std::io::Error`] is copied as its kind and message).
pub(crate) fn duplicate_error(e: &Error) -> Error {
    match e {
        Error::Connect { host, port, source } => Error::Connect {
            host: host.clone(),
            port: *port,
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        Error::ConnectTimeout { host, port } => Error::ConnectTimeout {
            host: host.clone(),
            port: *port,
        },
        Error::Tls(m) => Error::Tls(m.clone()),
        Error::TlsUnavailable => Error::TlsUnavailable,
        Error::Connection(c) => Error::Connection(c.clone()),
        Error::Closed(r) => Error::Closed(r.clone()),
        Error::Send(s) => Error::Send(s.clone()),
        Error::Action(a) => Error::Action(a.clone()),
        Error::NotConnected => Error::NotConnected,
        // Not kept as a connect failure; keep the kind of failure at least.
        _ => Error::Closed(CloseReason::Error(ConnectionError::Transport(
            e.to_string(),
        ))),
    }
}

/// Sends a cancel when a pending call's future is dropped.
struct CancelOnDrop<'a> {
    client: &'a Client,
    id: u64,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.client.shared.tx.send(Cmd::Cancel(self.id));
        }
    }
}

/// The future of one call, returned by [`Client::send`] and friends.
///
/// Dropping it before it completes cancels the action in the core: it yields
/// no outcome, and its late answer is consumed quietly (never shown as an
/// event).
#[must_use = "futures do nothing unless awaited; dropping it cancels the action"]
pub struct ActionFuture<'a> {
    /// `None`: the driver had ended when the call was made.
    rx: Option<completion::Completion>,
    guard: CancelOnDrop<'a>,
}

impl std::fmt::Debug for ActionFuture<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionFuture").finish_non_exhaustive()
    }
}

impl Drop for ActionFuture<'_> {
    fn drop(&mut self) {
        if let Some(rx) = self.rx.take() {
            self.guard.client.shared.slots.recycle(rx);
        }
    }
}

impl Future for ActionFuture<'_> {
    type Output = Result<Outcome, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(rx) = &mut this.rx else {
            return Poll::Ready(Err(this.guard.client.closed_error()));
        };
        let r = std::task::ready!(rx.poll(cx));
        this.guard.armed = false;
        Poll::Ready(match r {
            Some(outcome) => outcome,
            None => Err(this.guard.client.closed_error()),
        })
    }
}

impl Client {
    fn new(
        tx: cmd_queue::CmdSender,
        status: watch::Receiver<Status>,
        failure: Arc<OnceLock<Error>>,
    ) -> Client {
        Client {
            shared: Arc::new(ClientShared {
                tx,
                status,
                next_id: AtomicU64::new(0),
                slots: completion::SlotPool::default(),
                failure,
            }),
        }
    }

    fn id(&self) -> u64 {
        self.shared.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// [`Error::Closed`] with why the last connection ended.
    fn closed_error(&self) -> Error {
        if let Some(e) = self.shared.failure.get() {
            return duplicate_error(e);
        }
        let reason = self.shared.status.borrow().last_close.clone();
        Error::Closed(reason.unwrap_or(CloseReason::Error(ConnectionError::Aborted)))
    }

    fn call(
        &self,
        action: Action,
        timeout: Option<Option<Duration>>,
        remember: Option<Box<Remember>>,
    ) -> ActionFuture<'_> {
        let id = self.id();
        let (tx, rx) = self.shared.slots.pair();
        let cmd = Cmd::Send {
            id,
            action,
            timeout,
            reply: Reply::Outcome(tx),
            remember,
        };
        let sent = self.shared.tx.send(cmd).is_ok();
        ActionFuture {
            rx: sent.then_some(rx),
            guard: CancelOnDrop {
                client: self,
                id,
                armed: sent,
            },
        }
    }

    /// Send an action and wait for its outcome (a response, a collected
    /// list, command output, or an async originate result), within the
    /// configured action timeout.
    ///
    /// A `Response: Error` is [`Error::Action`] with
    /// [`amiproto::ActionError::Server`]; a connection lost meanwhile is
    /// [`amiproto::ActionError::Closed`] (the action is never re-sent).
    pub fn send(&self, action: Action) -> ActionFuture<'_> {
        self.call(action, None, None)
    }

    /// Like [`Client::send`] with this call's own timeout (`None`: wait
    /// forever).
    pub fn send_timeout(&self, action: Action, timeout: Option<Duration>) -> ActionFuture<'_> {
        self.call(action, Some(timeout), None)
    }

    /// Send an action without waiting for an outcome: its answer is consumed
    /// quietly. Returns once the driver accepted (encoded) it.
    pub async fn send_no_reply(&self, action: Action) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        let cmd = Cmd::Send {
            id: self.id(),
            action,
            timeout: None,
            reply: Reply::Accepted(tx),
            remember: None,
        };
        self.shared.tx.send(cmd).map_err(|_| self.closed_error())?;
        match rx.await {
            Ok(accepted) => accepted,
            Err(_) => Err(self.closed_error()),
        }
    }

    /// `Ping`; returns the round-trip time (both clients return it).
    pub async fn ping(&self) -> Result<Duration, Error> {
        let start = tokio::time::Instant::now();
        self.send(Action::ping()).await?;
        Ok(start.elapsed())
    }

    /// Run a CLI command (`Command` action); the output is the same for
    /// Asterisk ≥ 14 (`Output:` headers) and ≤ 13 (`Response: Follows`).
    pub async fn command(&self, command: &str) -> Result<CommandOutput, Error> {
        match self.send(Action::command(command.to_owned())).await? {
            Outcome::Command(c) => Ok(*c),
            _ => Err(Error::UnexpectedOutcome {
                expected: "command output",
            }),
        }
    }

    /// Send an action that answers with an event list (`CoreShowChannels`,
    /// `QueueStatus`, …) and collect it.
    pub async fn list(&self, action: Action) -> Result<ListOutcome, Error> {
        match self.send(action).await? {
            Outcome::List(l) => Ok(*l),
            _ => Err(Error::UnexpectedOutcome {
                expected: "an event list",
            }),
        }
    }

    /// Send a list action (`Status`, `CoreShowChannels`, `QueueStatus`…)
    /// and stream its items as they arrive instead of collecting them: a
    /// list of 100 000 channels never sits whole in memory unless its
    /// reader falls behind. See [`ListStream`] for the memory behaviour
    /// and cancellation. The action timeout covers the whole list.
    ///
    /// ```no_run
    /// # async fn demo(client: amiproto_tokio::Client) -> Result<(), amiproto_tokio::Error> {
    /// let mut channels = client.list_stream(amiproto::Action::new("Status"));
    /// while let Some(item) = channels.next_item().await {
    ///     println!("{:?}", item?.get_str("Channel"));
    /// }
    /// println!("{:?} items", channels.outcome().and_then(|o| o.announced_items()));
    /// # Ok(()) }
    /// ```
    pub fn list_stream(&self, action: Action) -> ListStream {
        self.stream_call(action, None)
    }

    /// Like [`Client::list_stream`] with this list's own timeout (`None`:
    /// wait forever), for the whole list.
    pub fn list_stream_timeout(&self, action: Action, timeout: Option<Duration>) -> ListStream {
        self.stream_call(action, Some(timeout))
    }

    fn stream_call(&self, action: Action, timeout: Option<Option<Duration>>) -> ListStream {
        let id = self.id();
        let shared = Arc::new(list::ListShared::default());
        let cmd = Cmd::Send {
            id,
            action,
            timeout,
            reply: Reply::Stream(shared.clone()),
            remember: None,
        };
        match self.shared.tx.send(cmd) {
            Ok(()) => ListStream::new(shared, self.shared.tx.downgrade(), id),
            Err(_) => ListStream::failed(self.closed_error()),
        }
    }

    /// Send an `Originate` (made async if it is not already) and wait for its
    /// `OriginateResponse`. Give it a timeout longer than the ring time with
    /// [`Client::send_timeout`] if needed; this uses the default.
    pub async fn originate(&self, action: Action) -> Result<OriginateOutcome, Error> {
        let action = if action.flag("Async") {
            action
        } else {
            action.async_originate()
        };
        match self.send(action).await? {
            Outcome::Originate(o) => Ok(*o),
            _ => Err(Error::UnexpectedOutcome {
                expected: "an OriginateResponse",
            }),
        }
    }

    /// Log off and wait for the server's `Goodbye`; the client is closed
    /// afterwards (no reconnect). The state is [`ConnectionState::Closing`]
    /// meanwhile.
    ///
    /// Without a `Goodbye` within the action timeout (10 s if none is set),
    /// the connection is closed locally all the same and this returns
    /// [`Error::Action`] with [`amiproto::ActionError::Timeout`].
    pub async fn logoff(&self) -> Result<(), Error> {
        let r = self.send(Action::logoff()).await;
        let closes = match &r {
            Ok(_) => true,
            Err(e) => e.is_timeout(),
        };
        if closes {
            let mut w = self.shared.status.clone();
            let _ = w.wait_for(|s| s.state == ConnectionState::Closed).await;
        }
        r.map(|_| ())
    }

    /// Close the connection now, without logging off or waiting for
    /// anything from the server, and for good (no reconnect); returns once
    /// the client is closed.
    ///
    /// Every pending call fails at once with [`Error::Action`] carrying
    /// [`amiproto::ActionError::Closed`] with
    /// [`ConnectionError::Aborted`] (actions held while not logged in: with
    /// [`Error::Closed`] and the same reason), and so does every later
    /// call. Events received before are still handed out; the event
    /// streams then end. To log off politely instead, use
    /// [`Client::logoff`].
    pub async fn disconnect(&self) {
        let _ = self.shared.tx.send(Cmd::Disconnect);
        self.closed().await;
    }

    /// Change the event mask (`Events` action). Once the server has
    /// accepted it (`Response: Success`), every later login asks for it; a
    /// mask the server or the encoder refuses is not remembered.
    pub async fn set_event_mask(&self, mask: EventMask) -> Result<Outcome, Error> {
        let action = Action::events(&mask);
        self.call(action, None, Some(Box::new(Remember::Mask(mask))))
            .await
    }

    /// Add a server-side event filter (`Filter` action, `Operation: Add`).
    /// Once the server has accepted it (`Response: Success`), it is
    /// re-applied after every reconnect; a filter the server or the encoder
    /// refuses is not remembered.
    pub async fn add_filter(&self, filter: &str) -> Result<Outcome, Error> {
        let action = Action::filter_add(filter.to_owned());
        self.call(
            action,
            None,
            Some(Box::new(Remember::Filter(filter.to_owned()))),
        )
        .await
    }

    fn subscribe(&self, filter: Option<EventFilter>, overflow: Overflow) -> EventStream {
        let (sub, mut stream) = events::subscriber(filter, overflow);
        if self.shared.tx.send(Cmd::Subscribe(sub)).is_err() {
            stream.close_now();
        }
        stream
    }

    /// Every event from now on, lossy with [`DEFAULT_CAPACITY`] (a slow
    /// reader gets [`EventItem::Lagged`]).
    pub fn events(&self) -> EventStream {
        self.subscribe(None, Overflow::default())
    }

    /// Every event from now on, with the given overflow policy.
    pub fn events_with(&self, overflow: Overflow) -> EventStream {
        self.subscribe(None, overflow)
    }

    /// Events passing `filter` (names or a predicate), lossy with
    /// [`DEFAULT_CAPACITY`].
    pub fn events_matching(&self, filter: impl Into<EventFilter>) -> EventStream {
        self.subscribe(Some(filter.into()), Overflow::default())
    }

    /// Events passing `filter`, with the given overflow policy.
    pub fn events_matching_with(
        &self,
        filter: impl Into<EventFilter>,
        overflow: Overflow,
    ) -> EventStream {
        self.subscribe(Some(filter.into()), overflow)
    }

    /// The current state.
    pub fn status(&self) -> Status {
        self.shared.status.borrow().clone()
    }

    /// The server's last banner as received (see [`Status::banner`]), also
    /// when its version could not be parsed.
    pub fn banner(&self) -> Option<Banner> {
        self.shared.status.borrow().banner.clone()
    }

    /// A `watch` of the state (connecting, authenticating, ready,
    /// reconnecting, closed) and the AMI version.
    pub fn status_watch(&self) -> watch::Receiver<Status> {
        self.shared.status.clone()
    }

    /// Wait until the client is logged in (again), or closed: then
    /// [`Error::Closed`] with the reason, or, for a client from
    /// [`connect_lazy`] that never logged in, the error that stopped it.
    pub async fn ready(&self) -> Result<(), Error> {
        let mut w = self.shared.status.clone();
        let ready = w
            .wait_for(|s| matches!(s.state, ConnectionState::Ready | ConnectionState::Closed))
            .await
            .map(|s| s.state == ConnectionState::Ready)
            .unwrap_or(false);
        if ready {
            Ok(())
        } else {
            Err(self.closed_error())
        }
    }

    /// Whether the driver has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.tx.is_closed()
    }

    /// Wait until the driver has ended.
    pub async fn closed(&self) {
        self.shared.tx.closed().await
    }
}

/// This crate's README, its Rust examples compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme_doctest {}
