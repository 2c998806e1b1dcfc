//! Connection settings, and the `ami://` / `amis://` URL form shared by every
//! adapter.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

use crate::action::{is_true, EventMask};
use crate::decode::Limits;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time before a ping.
    pub interval: Duration,
    /// How long to wait for any byte after the ping.
    pub timeout: Duration,
}

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
    /// Most actions written and not yet answered; beyond it actions wait in
    /// order. `None` (default): no cap.
    pub max_in_flight: Option<usize>,
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
            max_in_flight: None,
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

    /// Cap the actions in flight.
    pub fn max_in_flight(mut self, cap: Option<usize>) -> Config {
        self.max_in_flight = cap;
        self
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port (5038 plain, 5039 TLS by default).
    pub port: u16,
    /// Implicit TLS (`amis://`).
    pub tls: bool,
}

/// Why an `ami://` URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not `ami` or `amis`.
    #[error("unsupported scheme {0:?}: use ami:// or amis://")]
    Scheme(String),
    /// No user name in the URL.
    #[error("missing user name: ami://user:secret@host[:port]")]
    MissingUser,
    /// No host in the URL.
    #[error("missing host")]
    MissingHost,
    /// The port is not a number from 1 to 65535.
    #[error("invalid port {0:?}")]
    Port(String),
    /// A bad `%XX` escape.
    #[error("invalid percent-escape in {0:?}")]
    Escape(String),
    /// A query parameter this crate does not know, or a bad value.
    #[error("invalid query parameter {name:?}={value:?}")]
    Param {
        /// Parameter name.
        name: String,
        /// Its value.
        value: String,
    },
}

fn percent_decode(s: &str) -> Result<String, UrlError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| UrlError::Escape(s.to_owned()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::Escape(s.to_owned()))
}

fn parse_duration(v: &str) -> Option<Duration> {
    let (num, unit) = v.split_at(
        v.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(v.len()),
    );
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

impl Config {
    /// Parse `ami://user:secret@host[:port][?param=value&…]` (or `amis://` for
    /// TLS, default port 5039) into an endpoint and settings.
    ///
    /// Parameters: `events` (`on`, `off` or a class list like
    /// `system,call`), `auth` (`md5`, the default; `plain` or `md5-fallback`
    /// to allow the secret in the clear), `timeout`
    /// (action timeout: `10s`, `500ms`, `0` for none), `keepalive` (interval;
    /// its timeout is the same length), `prefix` (ActionID prefix). User and
    /// secret may be percent-escaped.
    ///
    /// ```
    /// use amiproto::{Config, EventMask};
    ///
    /// let (endpoint, config) = Config::from_url("ami://admin:s%40cret@pbx.example:5038?events=off").unwrap();
    /// assert_eq!((endpoint.host.as_str(), endpoint.port, endpoint.tls), ("pbx.example", 5038, false));
    /// assert_eq!(config.secret.expose(), "s@cret");
    /// assert_eq!(config.events, EventMask::Off);
    /// ```
    pub fn from_url(url: &str) -> Result<(Endpoint, Config), UrlError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| UrlError::Scheme(url.to_owned()))?;
        let (tls, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "ami" => (false, 5038),
            "amis" => (true, 5039),
            other => return Err(UrlError::Scheme(other.to_owned())),
        };
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let authority = authority.trim_end_matches('/');
        let (userinfo, hostport) = authority.rsplit_once('@').ok_or(UrlError::MissingUser)?;
        let (user, secret) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let user = percent_decode(user)?;
        if user.is_empty() {
            return Err(UrlError::MissingUser);
        }
        let secret = percent_decode(secret)?;
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or(UrlError::MissingHost)?;
            (h.to_owned(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::MissingHost);
        }
        let port = match port {
            None => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(UrlError::Port(p.to_owned())),
            },
        };
        let mut config = Config::new(user, secret);
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value)?;
            let bad = || UrlError::Param {
                name: name.to_owned(),
                value: value.clone(),
            };
            match name {
                "events" => config.events = EventMask::parse(&value),
                "auth" => {
                    config.auth = match value.to_ascii_lowercase().as_str() {
                        "plain" => AuthMethod::Plain,
                        "md5" => AuthMethod::Md5,
                        "md5-fallback" => AuthMethod::Md5WithFallback,
                        _ => return Err(bad()),
                    }
                }
                "timeout" => {
                    let d = parse_duration(&value).ok_or_else(bad)?;
                    config.action_timeout = (!d.is_zero()).then_some(d);
                }
                "keepalive" => {
                    let d = parse_duration(&value).ok_or_else(bad)?;
                    config.keepalive = (!d.is_zero()).then_some(Keepalive {
                        interval: d,
                        timeout: d,
                    });
                }
                "prefix" => config.action_id_prefix = value.clone(),
                "tls" => {
                    if !is_true(value.as_bytes()) && !value.eq_ignore_ascii_case("false") {
                        return Err(bad());
                    }
                }
                _ => return Err(bad()),
            }
        }
        Ok((Endpoint { host, port, tls }, config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (e, c) =
            Config::from_url("amis://u:p@[::1]?timeout=500ms&keepalive=30s&auth=md5&prefix=x-")
                .unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("::1", 5039, true));
        assert_eq!(c.action_timeout, Some(Duration::from_millis(500)));
        assert_eq!(c.keepalive.unwrap().interval, Duration::from_secs(30));
        assert_eq!(c.auth, AuthMethod::Md5);
        assert_eq!(c.action_id_prefix, "x-");
        let (_, c) = Config::from_url("ami://u@h?timeout=0").unwrap();
        assert_eq!(c.action_timeout, None);
        assert_eq!(c.secret.expose(), "");
        assert!(matches!(
            Config::from_url("http://u:p@h"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            Config::from_url("ami://h:5038"),
            Err(UrlError::MissingUser)
        ));
        assert!(matches!(
            Config::from_url("ami://u:p@h:99999"),
            Err(UrlError::Port(_))
        ));
        assert!(matches!(
            Config::from_url("ami://u:p@:1"),
            Err(UrlError::MissingHost)
        ));
        assert!(matches!(
            Config::from_url("ami://u:p@h?bogus=1"),
            Err(UrlError::Param { .. })
        ));
        assert!(matches!(
            Config::from_url("ami://u:%zz@h"),
            Err(UrlError::Escape(_))
        ));
        let (_, c) = Config::from_url("ami://u:p@h?events=system,call").unwrap();
        assert_eq!(
            c.events,
            EventMask::Classes(vec!["system".into(), "call".into()])
        );
    }
}
