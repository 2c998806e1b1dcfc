//! Connection settings, and the `ami://` / `amis://` URL form shared by every
//! adapter.

use std::fmt;
use std::time::Duration;

use crate::action::EventMask;
use crate::decode::Limits;

use super::url::UrlError;

/// A secret that never shows in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself (for building the login; never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_owned())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

/// How to log in.
///
/// The default is [`AuthMethod::Md5`]: every Asterisk since 1.0 answers the
/// MD5 challenge, and with it the secret never crosses the wire. Sending the
/// secret in the clear is an explicit choice ([`AuthMethod::Plain`] or
/// [`AuthMethod::Md5WithFallback`]), never something a peer can ask for.
///
/// ```
/// use amiproto::{AuthMethod, Config};
///
/// assert_eq!(Config::new("admin", "amp111").auth, AuthMethod::Md5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `Login` with `Secret` in the clear (opt-in: anyone who can read the
    /// connection, or a peer posing as the server, learns the secret).
    Plain,
    /// MD5 challenge only (the default): the secret never crosses the wire;
    /// a server that refuses the challenge fails the login with
    /// [`crate::ConnectionError::ChallengeRefused`] (plaintext is never
    /// tried).
    #[default]
    Md5,
    /// MD5 challenge, falling back to plaintext if the server refuses it
    /// (opt-in: a peer that refuses the challenge receives the secret in the
    /// clear).
    Md5WithFallback,
}

/// Idle keepalive: when nothing has been received for `interval`, a `Ping`
/// is sent; if still nothing arrives within `timeout`, the connection is
/// declared dead ([`crate::ConnectionError::KeepaliveTimeout`]).
///
/// ```
/// use amiproto::{Config, Keepalive};
/// use std::time::Duration;
///
/// let every = Keepalive::new(Duration::from_secs(30), Duration::from_secs(10));
/// let config = Config::new("admin", "amp111").keepalive(every.interval, every.timeout);
/// assert_eq!(config.keepalive, Some(every));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Keepalive {
    /// Idle time before a ping.
    pub interval: Duration,
    /// How long to wait for any byte after the ping.
    pub timeout: Duration,
}

impl Keepalive {
    /// Ping after `interval` of silence; give up `timeout` after the ping.
    pub fn new(interval: Duration, timeout: Duration) -> Keepalive {
        Keepalive { interval, timeout }
    }
}

/// How many actions a connection writes before their answers come back:
/// [`Config::max_in_flight`]. Beyond it, actions wait in order and go out as
/// answers free their slots.
///
/// ```
/// use amiproto::{Config, InFlightLimit};
///
/// let plain = Config::new("admin", "amp111");
/// assert_eq!(plain.max_in_flight, InFlightLimit::Auto);
/// assert_eq!(plain.in_flight_cap(), None);
/// // Over TLS the default is a window of 8 (see `TLS_IN_FLIGHT`)…
/// let tls = plain.clone().tls(true);
/// assert_eq!(tls.in_flight_cap(), Some(amiproto::TLS_IN_FLIGHT));
/// // …which a caller may override either way.
/// assert_eq!(tls.clone().max_in_flight(None).in_flight_cap(), None);
/// assert_eq!(tls.max_in_flight(Some(32)).in_flight_cap(), Some(32));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum InFlightLimit {
    /// No cap on plain TCP; [`TLS_IN_FLIGHT`] over TLS (the default).
    #[default]
    Auto,
    /// No cap, whatever the transport.
    Unlimited,
    /// At most this many (0 counts as 1).
    AtMost(usize),
}

/// The in-flight window over TLS unless configured otherwise
/// ([`InFlightLimit::Auto`]).
///
/// Why: with many actions pipelined over TLS, a real Asterisk stops
/// answering (22.10.1 stalls with the connection open) or drops the
/// connection (13.38.3), while plain TCP takes any depth; a raw TLS client
/// shows the same, so it is the server's TLS session, not this library.
/// Measured against both with at most 8 actions in flight, every action is
/// answered, at about 54 000 (22) and 35 000 (13) actions per second. The
/// window costs nothing on a connection with fewer actions outstanding.
pub const TLS_IN_FLIGHT: usize = 8;

/// Everything the connection state machine needs to know.
///
/// ```
/// use amiproto::{AuthMethod, Config, EventMask};
/// use std::time::Duration;
///
/// let config = Config::new("admin", "amp111")
///     .auth(AuthMethod::Md5)
///     .events(EventMask::Classes(vec!["system".into(), "call".into()]))
///     .action_timeout(Some(Duration::from_secs(5)));
/// assert!(!format!("{config:?}").contains("amp111"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Manager user name.
    pub username: String,
    /// Its secret.
    pub secret: Secret,
    /// Login method. Default [`AuthMethod::Md5`] (the secret never crosses
    /// the wire).
    pub auth: AuthMethod,
    /// The `Events:` header sent with `Login`.
    pub events: EventMask,
    /// Default timeout of every action (`None`: wait forever). Default 10 s.
    pub action_timeout: Option<Duration>,
    /// How long to wait for the banner after connecting. Default 10 s.
    pub banner_timeout: Duration,
    /// How long the login may take after the banner. Default 10 s.
    pub login_timeout: Duration,
    /// Idle keepalive, off by default.
    pub keepalive: Option<Keepalive>,
    /// Prefix of generated `ActionID`s (printable ASCII, at most 32 bytes).
    /// Default `ami-`.
    pub action_id_prefix: String,
    /// Whether the connection runs over TLS (`amis://`): it sets the
    /// default in-flight window ([`TLS_IN_FLIGHT`]). [`Config::from_url`]
    /// sets it; an adapter sets it from its endpoint. Default `false`.
    pub tls: bool,
    /// Most actions written and not yet answered; beyond it actions wait in
    /// order. Default [`InFlightLimit::Auto`]: no cap on plain TCP, a
    /// window of [`TLS_IN_FLIGHT`] over TLS (Asterisk stalls or drops a TLS
    /// session with many actions in flight). An async `Originate` holds
    /// its slot until its response, not until its `OriginateResponse`.
    pub max_in_flight: InFlightLimit,
    /// Most items a collected list may hold before it fails with
    /// [`crate::ActionError::ListTooLarge`]. Default 1 000 000.
    pub max_list_items: usize,
    /// Decoder limits for what the server sends.
    pub limits: Limits,
}

impl Config {
    /// Settings with defaults for user `username`.
    pub fn new(username: impl Into<String>, secret: impl Into<Secret>) -> Config {
        Config {
            username: username.into(),
            secret: secret.into(),
            auth: AuthMethod::default(),
            events: EventMask::On,
            action_timeout: Some(Duration::from_secs(10)),
            banner_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(10),
            keepalive: None,
            action_id_prefix: "ami-".into(),
            tls: false,
            max_in_flight: InFlightLimit::Auto,
            max_list_items: 1_000_000,
            limits: Limits::default(),
        }
    }

    /// Set the login method.
    pub fn auth(mut self, auth: AuthMethod) -> Config {
        self.auth = auth;
        self
    }

    /// Set the event mask sent with `Login`.
    pub fn events(mut self, events: EventMask) -> Config {
        self.events = events;
        self
    }

    /// Set the default action timeout.
    pub fn action_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.action_timeout = timeout;
        self
    }

    /// Set the banner timeout.
    pub fn banner_timeout(mut self, timeout: Duration) -> Config {
        self.banner_timeout = timeout;
        self
    }

    /// Set the login timeout.
    pub fn login_timeout(mut self, timeout: Duration) -> Config {
        self.login_timeout = timeout;
        self
    }

    /// Turn the idle keepalive on.
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Config {
        self.keepalive = Some(Keepalive { interval, timeout });
        self
    }

    /// Set the prefix of generated `ActionID`s.
    pub fn action_id_prefix(mut self, prefix: impl Into<String>) -> Config {
        self.action_id_prefix = prefix.into();
        self
    }

    /// Cap the actions in flight at `cap` (`None`: no cap, even over TLS).
    /// This overrides the default of [`InFlightLimit::Auto`].
    pub fn max_in_flight(mut self, cap: Option<usize>) -> Config {
        self.max_in_flight = match cap {
            Some(n) => InFlightLimit::AtMost(n),
            None => InFlightLimit::Unlimited,
        };
        self
    }

    /// Say whether the connection runs over TLS (see [`Config::tls`]).
    pub fn tls(mut self, tls: bool) -> Config {
        self.tls = tls;
        self
    }

    /// The in-flight window in force: `None` for no cap.
    pub fn in_flight_cap(&self) -> Option<usize> {
        match self.max_in_flight {
            InFlightLimit::Auto if self.tls => Some(TLS_IN_FLIGHT),
            InFlightLimit::Auto | InFlightLimit::Unlimited => None,
            InFlightLimit::AtMost(n) => Some(n.max(1)),
        }
    }

    /// Cap collected list items.
    pub fn max_list_items(mut self, cap: usize) -> Config {
        self.max_list_items = cap;
        self
    }

    /// Set decoder limits.
    pub fn limits(mut self, limits: Limits) -> Config {
        self.limits = limits;
        self
    }
}

/// Where to connect: host, port and whether to use TLS.
///
/// ```
/// use amiproto::Endpoint;
///
/// let pbx = Endpoint::new("pbx.example", 5039, true);
/// assert_eq!((pbx.host.as_str(), pbx.port, pbx.tls), ("pbx.example", 5039, true));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port (5038 plain, 5039 TLS by default).
    pub port: u16,
    /// Implicit TLS (`amis://`).
    pub tls: bool,
}

impl Endpoint {
    /// `host:port`, over TLS when `tls`.
    pub fn new(host: impl Into<String>, port: u16, tls: bool) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
            tls,
        }
    }
}

impl Config {
    /// Parse `ami://user:secret@host[:port][/][?param=value&…]` (or `amis://`
    /// for TLS, default port 5039) into an endpoint and settings.
    ///
    /// User and secret may be percent-escaped (`@`, `:`, `?`, `%` in a secret
    /// must be: `s%40cret`). Parameters, each at most once:
    /// - `events`: `on`, `off`, or a class list like `system,call`;
    /// - `auth`: `md5` (the default), or `plain` / `md5-fallback` to allow
    ///   the secret in the clear;
    /// - `timeout`: the action timeout, `10s`, `500ms`, `1m`, `0` for none;
    /// - `keepalive`: the idle interval (its timeout is the same length);
    /// - `prefix`: the generated ActionIDs' prefix (1 to 32 printable bytes);
    /// - `tls`: `true` turns TLS on (default port 5039, as `amis://`);
    ///   `false` with `amis://` is a contradiction. TLS also sets
    ///   [`Config::tls`], and with it the default in-flight window
    ///   ([`TLS_IN_FLIGHT`]).
    ///
    /// Anything else (an unknown parameter, a bad value, a path) is a
    /// [`UrlError`] naming the part and byte position; its text never quotes
    /// the user, the secret, a value or the URL.
    ///
    /// ```
    /// use amiproto::{Config, EventMask, UrlPart};
    ///
    /// let (endpoint, config) = Config::from_url("ami://admin:s%40cret@pbx.example:5038?events=off").unwrap();
    /// assert_eq!((endpoint.host.as_str(), endpoint.port, endpoint.tls), ("pbx.example", 5038, false));
    /// assert_eq!(config.secret.expose(), "s@cret");
    /// assert_eq!(config.events, EventMask::Off);
    ///
    /// let (tls, _) = Config::from_url("ami://admin:s%40cret@pbx.example?tls=true").unwrap();
    /// assert_eq!((tls.port, tls.tls), (5039, true));
    ///
    /// let e = Config::from_url("ami://admin:s%40cret@pbx.example?tsl=true").unwrap_err();
    /// assert_eq!((e.part(), e.position()), (UrlPart::Query, 33));
    /// ```
    pub fn from_url(url: &str) -> Result<(Endpoint, Config), UrlError> {
        super::url::parse(url)
    }
}
