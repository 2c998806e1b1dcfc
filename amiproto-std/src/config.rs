//! Adapter settings around the core's [`amiproto::Config`].

use std::time::Duration;

use amiproto::{Config, Endpoint, Reconnect};

#[cfg(feature = "tls")]
use crate::tls::TlsConfig;
use crate::Error;
use crate::Overflow;

/// Where to connect and how: the core's [`Config`] plus what only a
/// socket-owning adapter needs.
///
/// ```
/// use amiproto_std::{ClientConfig, Overflow};
/// use std::time::Duration;
///
/// let cfg = ClientConfig::from_url("ami://admin:amp111@127.0.0.1:5038?events=system")
///     .unwrap()
///     .connect_timeout(Duration::from_secs(3))
///     .events(Overflow::Lossless);
/// assert_eq!(cfg.endpoint.port, 5038);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Host, port and TLS.
    pub endpoint: Endpoint,
    /// The protocol settings (login, timeouts, keepalive…).
    pub config: Config,
    /// Most time for the TCP connect and TLS handshake, per attempt.
    /// Default 10 s. (Name resolution uses the system resolver and is not
    /// bounded by it.)
    pub connect_timeout: Duration,
    /// Event queue bound and overflow policy. Default: lossy, 16 384.
    pub events: Overflow,
    /// Size of the read buffer (bytes per `read` call). Default 64 KiB.
    pub read_buffer: usize,
    /// How long one blocked `write` may wait before the client turns to
    /// reading instead (and how long it then waits for input before trying
    /// the write again). Default 1 ms.
    pub write_stall: Duration,
    /// Reconnect policy; `None` (default): a lost connection closes the
    /// client. See [`ClientConfig::reconnect`].
    pub reconnect: Option<Reconnect>,
    /// Which certificates to trust for `amis://`.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub tls: TlsConfig,
}

impl ClientConfig {
    /// Settings for `endpoint` with `config` and adapter defaults.
    pub fn new(endpoint: Endpoint, config: Config) -> ClientConfig {
        ClientConfig {
            endpoint,
            config,
            connect_timeout: Duration::from_secs(10),
            events: Overflow::default(),
            read_buffer: 64 * 1024,
            write_stall: Duration::from_millis(1),
            reconnect: None,
            #[cfg(feature = "tls")]
            tls: TlsConfig::default(),
        }
    }

    /// Parse an `ami://` / `amis://` URL (see [`Config::from_url`]).
    pub fn from_url(url: &str) -> Result<ClientConfig, Error> {
        let (endpoint, config) = Config::from_url(url)?;
        Ok(ClientConfig::new(endpoint, config))
    }

    /// Replace the protocol settings.
    pub fn config(mut self, config: Config) -> ClientConfig {
        self.config = config;
        self
    }

    /// Change the protocol settings in place.
    pub fn map_config(mut self, f: impl FnOnce(Config) -> Config) -> ClientConfig {
        self.config = f(self.config);
        self
    }

    /// Set the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.connect_timeout = timeout;
        self
    }

    /// Set the event queue policy.
    pub fn events(mut self, overflow: Overflow) -> ClientConfig {
        self.events = overflow;
        self
    }

    /// Set the read buffer size (at least 1 KiB is used).
    pub fn read_buffer(mut self, bytes: usize) -> ClientConfig {
        self.read_buffer = bytes;
        self
    }

    /// Set the write stall interval (at least 1 ms is used).
    pub fn write_stall(mut self, stall: Duration) -> ClientConfig {
        self.write_stall = stall;
        self
    }

    /// Turn automatic reconnects on, with the same policy type as the
    /// tokio client (backoff with jitter, `max_attempts`, `reset_after`,
    /// [`crate::WhileReconnecting`]).
    ///
    /// Once the first login has succeeded, a lost connection (peer closed,
    /// transport error, keepalive timeout…; not a logoff) is opened again
    /// by the next call that may block — there is no background thread —
    /// after the policy's delay: it logs in with the same credentials,
    /// asks for the last event mask the server accepted through
    /// [`crate::Client::set_event_mask`] and re-applies the filters it
    /// accepted through [`crate::Client::add_filter`]; the event queue
    /// then gets an [`crate::EventItem::Reconnected`] marker (never
    /// dropped). Actions pending when the connection dropped fail with
    /// [`amiproto::ActionError::Closed`] and are never re-sent. The first
    /// connection is not retried: [`crate::Client::connect`] returns its
    /// error.
    ///
    /// ```
    /// use amiproto_std::{ClientConfig, Reconnect, WhileReconnecting};
    /// use std::time::Duration;
    ///
    /// let cfg = ClientConfig::from_url("ami://admin:amp111@127.0.0.1")
    ///     .unwrap()
    ///     .reconnect(
    ///         Reconnect::default()
    ///             .delays(Duration::from_millis(200), Duration::from_secs(10))
    ///             .while_reconnecting(WhileReconnecting::FailFast),
    ///     );
    /// assert!(cfg.reconnect.is_some());
    /// ```
    pub fn reconnect(mut self, policy: Reconnect) -> ClientConfig {
        self.reconnect = Some(policy);
        self
    }

    /// Set which certificates to trust.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: TlsConfig) -> ClientConfig {
        self.tls = tls;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_go_through_the_core_parser() {
        let c = ClientConfig::from_url("ami://admin:hunter2@pbx?tls=true").unwrap();
        assert_eq!((c.endpoint.tls, c.endpoint.port), (true, 5039));
        for bad in ["ami://admin:hunter2@pbx?tsl=1", "ami://admin:hun%ter2@pbx"] {
            let e = ClientConfig::from_url(bad).unwrap_err();
            assert!(matches!(e, Error::Url(_)), "{e:?}");
            assert!(!e.to_string().contains("ter2"), "{e}");
        }
    }
}
