//! Client settings: where to connect, the core's [`Config`], reconnects, TLS.

use std::time::Duration;

use amiproto::{Config, Endpoint, EventMask, UrlError};

use crate::events::Overflow;

#[cfg(feature = "tls")]
use crate::tls::TlsConfig;

/// Everything [`crate::connect`] needs.
///
/// ```
/// use amiproto_tokio::{ClientConfig, Reconnect};
/// use std::time::Duration;
///
/// let config = ClientConfig::from_url("ami://admin:amp111@127.0.0.1:5038?events=off")
///     .unwrap()
///     .reconnect(Reconnect::default())
///     .connect_timeout(Duration::from_secs(3));
/// assert_eq!(config.endpoint.port, 5038);
/// assert!(!format!("{config:?}").contains("amp111"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Host, port and whether to use TLS.
    pub endpoint: Endpoint,
    /// The protocol settings (login, event mask, timeouts, keepalive…).
    pub ami: Config,
    /// Limit on the TCP connect plus TLS handshake. Default 10 s.
    pub connect_timeout: Duration,
    /// Reconnect policy; `None` (default): a lost connection closes the client.
    pub reconnect: Option<Reconnect>,
    /// How long dropping the last [`crate::Client`] waits for the server's
    /// `Goodbye` before closing anyway. Default 2 s.
    pub shutdown_timeout: Duration,
    /// Overflow policy of the event stream [`crate::connect`] returns.
    /// Default: lossy with [`crate::DEFAULT_CAPACITY`].
    pub events_overflow: Overflow,
    /// TLS settings for `amis://` (default: the system's root certificates).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub tls: TlsConfig,
}

impl ClientConfig {
    /// Plain TCP to `host:port`, logging in as `username`.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        username: impl Into<String>,
        secret: impl Into<amiproto::Secret>,
    ) -> ClientConfig {
        let endpoint = Endpoint {
            host: host.into(),
            port,
            tls: false,
        };
        ClientConfig::from_parts(endpoint, Config::new(username, secret))
    }

    /// From an endpoint and core settings (e.g. from [`Config::from_url`]).
    pub fn from_parts(endpoint: Endpoint, ami: Config) -> ClientConfig {
        ClientConfig {
            endpoint,
            ami,
            connect_timeout: Duration::from_secs(10),
            reconnect: None,
            shutdown_timeout: Duration::from_secs(2),
            events_overflow: Overflow::default(),
            #[cfg(feature = "tls")]
            tls: TlsConfig::default(),
        }
    }

    /// Parse `ami://user:secret@host[:port][?events=off&…]`, or `amis://…`
    /// for TLS (see [`Config::from_url`] for the parameters).
    pub fn from_url(url: &str) -> Result<ClientConfig, UrlError> {
        let (endpoint, ami) = Config::from_url(url)?;
        Ok(ClientConfig::from_parts(endpoint, ami))
    }

    /// Turn automatic reconnects on.
    pub fn reconnect(mut self, policy: Reconnect) -> ClientConfig {
        self.reconnect = Some(policy);
        self
    }

    /// Set the connect (TCP + TLS) timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.connect_timeout = timeout;
        self
    }

    /// Set how long a shutdown waits for `Goodbye`.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.shutdown_timeout = timeout;
        self
    }

    /// Set the overflow policy of the event stream [`crate::connect`]
    /// returns (e.g. [`Overflow::Lossless`] to keep every event).
    pub fn events_overflow(mut self, overflow: Overflow) -> ClientConfig {
        self.events_overflow = overflow;
        self
    }

    /// Set the event mask sent with `Login`.
    pub fn events(mut self, mask: EventMask) -> ClientConfig {
        self.ami.events = mask;
        self
    }

    /// Set the default action timeout (`None`: wait forever).
    pub fn action_timeout(mut self, timeout: Option<Duration>) -> ClientConfig {
        self.ami.action_timeout = timeout;
        self
    }

    /// Turn on keepalive pings: after `interval` without traffic a `Ping` is
    /// sent; with no byte back within `timeout` the connection counts as dead
    /// (and is re-established if reconnects are on).
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> ClientConfig {
        self.ami = self.ami.keepalive(interval, timeout);
        self
    }

    /// Set the TLS settings (and use TLS).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: TlsConfig) -> ClientConfig {
        self.tls = tls;
        self.endpoint.tls = true;
        self
    }
}

/// What happens to actions submitted while the client is reconnecting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WhileReconnecting {
    /// Hold them until the connection is back, up to each action's own
    /// timeout (then it fails with [`amiproto::ActionError::Timeout`]).
    #[default]
    Wait,
    /// Fail them at once with [`crate::Error::NotConnected`].
    FailFast,
}

/// Automatic reconnects: exponential backoff with jitter.
///
/// Attempt `n` (from 0) waits `min(max_delay, initial_delay × multiplier^n)`,
/// shortened by a random fraction of up to `jitter` of itself. The counter
/// restarts only once a connection has stayed logged in for `reset_after`
/// (10 s by default): a server that accepts the login and drops the
/// connection right after is retried with a growing delay, not in a tight
/// loop, and such a short-lived connection counts as a failed attempt for
/// `max_attempts`. Every reconnect logs in again
/// with the same credentials and re-applies the event mask and filters set
/// through [`crate::Client::set_event_mask`] and
/// [`crate::Client::add_filter`] that the server accepted. A connection
/// that ended with a permanent error
/// ([`amiproto::ConnectionError::is_permanent`]: a login that can never be
/// encoded) is not retried. Actions pending when a connection drops
/// fail with [`amiproto::ActionError::Closed`]; they are never re-sent.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Reconnect {
    /// Delay before the first attempt. Default 100 ms.
    pub initial_delay: Duration,
    /// Cap on the delay. Default 30 s.
    pub max_delay: Duration,
    /// Growth factor per attempt. Default 2.
    pub multiplier: f64,
    /// Random shortening, a fraction from 0 to 1. Default 0.3.
    pub jitter: f64,
    /// Give up after this many failed attempts in a row (a connection that
    /// did not stay up for `reset_after` counts as failed); `None`
    /// (default): never.
    pub max_attempts: Option<u32>,
    /// How long a connection must stay logged in before the attempt counter
    /// (and so the delay) starts again from the beginning. Default 10 s.
    pub reset_after: Duration,
    /// Actions submitted while disconnected: wait or fail fast.
    pub while_reconnecting: WhileReconnecting,
}

impl Default for Reconnect {
    fn default() -> Reconnect {
        Reconnect {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.3,
            max_attempts: None,
            reset_after: Duration::from_secs(10),
            while_reconnecting: WhileReconnecting::Wait,
        }
    }
}

impl Reconnect {
    /// Set the first delay and the cap.
    pub fn delays(mut self, initial: Duration, max: Duration) -> Reconnect {
        self.initial_delay = initial;
        self.max_delay = max;
        self
    }

    /// Set the jitter fraction (clamped to 0..=1).
    pub fn jitter(mut self, jitter: f64) -> Reconnect {
        self.jitter = jitter.clamp(0.0, 1.0);
        self
    }

    /// Give up after `n` failed attempts in a row.
    pub fn max_attempts(mut self, n: u32) -> Reconnect {
        self.max_attempts = Some(n);
        self
    }

    /// Set how long a connection must stay logged in before the backoff
    /// starts again from `initial_delay`.
    pub fn reset_after(mut self, stable: Duration) -> Reconnect {
        self.reset_after = stable;
        self
    }

    /// Choose what happens to actions submitted while disconnected.
    pub fn while_reconnecting(mut self, mode: WhileReconnecting) -> Reconnect {
        self.while_reconnecting = mode;
        self
    }

    /// The delay before attempt `attempt` (from 0), given a uniform random
    /// number `unit` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.initial_delay.as_secs_f64()
            * self
                .multiplier
                .max(1.0)
                .powi(attempt.min(64) as i32)
                .min(1e9);
        let capped = base.min(self.max_delay.as_secs_f64());
        let jittered = capped * (1.0 - self.jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0));
        Duration::from_secs_f64(jittered.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let r = Reconnect::default().delays(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(r.delay(0, 0.0), Duration::from_millis(100));
        assert_eq!(r.delay(1, 0.0), Duration::from_millis(200));
        assert_eq!(r.delay(3, 0.0), Duration::from_millis(800));
        assert_eq!(r.delay(4, 0.0), Duration::from_secs(1));
        assert_eq!(r.delay(1000, 0.0), Duration::from_secs(1));
        let j = r.delay(4, 0.999);
        assert!(
            j >= Duration::from_millis(700) && j < Duration::from_secs(1),
            "{j:?}"
        );
    }

    #[test]
    fn url_and_redaction() {
        let c = ClientConfig::from_url("amis://admin:hunter2@pbx:5039?events=off").unwrap();
        assert!(c.endpoint.tls);
        assert_eq!(c.ami.events, EventMask::Off);
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(ClientConfig::from_url("http://x").is_err());
        // The core's strict parser: tls honoured, unknown keys refused, and
        // no error quoting the secret.
        let c = ClientConfig::from_url("ami://admin:hunter2@pbx?tls=true").unwrap();
        assert!((c.endpoint.tls, c.endpoint.port) == (true, 5039));
        for bad in ["ami://admin:hunter2@pbx?tsl=1", "ami://admin:hun%ter2@pbx"] {
            let e = crate::Error::from(ClientConfig::from_url(bad).unwrap_err());
            assert!(!e.to_string().contains("hunter2"), "{e}");
            assert!(!e.to_string().contains("ter2"), "{e}");
        }
    }
}
