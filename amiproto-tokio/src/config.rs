//! Client settings: where to connect, the core's [`Config`], reconnects, TLS.

use std::time::Duration;

pub use amiproto::reconnect::{Reconnect, WhileReconnecting};
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
        let endpoint = Endpoint::new(host, port, false);
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

#[cfg(test)]
mod tests {
    use super::*;

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
