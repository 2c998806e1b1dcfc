//! The adapter's error type.

use std::io;

use amiproto::{ActionError, CloseReason, ConnectionError, SendError, UrlError};
use thiserror::Error;

/// Everything that can go wrong between a caller and the server.
///
/// Protocol-level reasons come straight from the core
/// ([`ConnectionError`], [`ActionError`], [`SendError`]); this enum adds what
/// only an I/O adapter can tell (the TCP connect, TLS, a closed client).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The `ami://` / `amis://` URL is malformed.
    #[error("invalid AMI URL: {0}")]
    Url(#[from] UrlError),
    /// The TCP connection could not be opened (refused, unreachable, DNS).
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect {
        /// Host as configured.
        host: String,
        /// Port as configured.
        port: u16,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Connecting (TCP and TLS handshake) took longer than
    /// [`crate::ClientConfig::connect_timeout`].
    #[error("connecting to {host}:{port} timed out")]
    ConnectTimeout {
        /// Host as configured.
        host: String,
        /// Port as configured.
        port: u16,
    },
    /// The TLS handshake failed, or TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(String),
    /// `amis://` was asked for but this build has no `tls` feature.
    #[error("TLS requested but amiproto-std was built without the `tls` feature")]
    TlsUnavailable,
    /// The connection failed while logging in: banner timeout, not an AMI
    /// server, authentication failed (with the server's message), peer
    /// closed, transport error.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The action was refused before anything was written (unsafe to encode,
    /// duplicate `ActionID`, connection closing).
    #[error(transparent)]
    Send(#[from] SendError),
    /// The action was sent and has no successful outcome: `Response: Error`,
    /// timeout, connection lost while it was pending, list too large.
    #[error(transparent)]
    Action(#[from] ActionError),
    /// The connection has ended (logged off, peer gone, keepalive timeout);
    /// every event received before was handed out first.
    #[error("connection closed: {0}")]
    Closed(CloseReason),
    /// [`crate::Client::wait`] on a handle this client is not waiting for
    /// (already taken, cancelled, sent with `no_reply`, or from another
    /// connection).
    #[error("unknown action handle")]
    UnknownHandle,
    /// The outcome is not of the kind the helper expects (e.g. `list()` on an
    /// action that did not open an event list).
    #[error("unexpected outcome: expected {expected}")]
    UnexpectedOutcome {
        /// What the helper wanted.
        expected: &'static str,
    },
    /// A typed action's outcome did not have the shape its reply needs
    /// (feature `types`); the outcome is inside, whole.
    #[cfg(feature = "types")]
    #[error(transparent)]
    Reply(#[from] amiproto::types::ReplyError),
}

impl Error {
    /// The server's `Message` when it refused the login or an action.
    pub fn server_message(&self) -> Option<&str> {
        match self {
            Error::Connection(ConnectionError::AuthFailed { message })
            | Error::Connection(ConnectionError::ChallengeRefused { message })
            | Error::Action(ActionError::Server { message, .. }) => Some(message),
            _ => None,
        }
    }

    /// Whether this is a refused login.
    pub fn is_auth_failed(&self) -> bool {
        matches!(
            self,
            Error::Connection(
                ConnectionError::AuthFailed { .. } | ConnectionError::ChallengeRefused { .. }
            )
        )
    }

    /// Whether the action or call failed because the connection went away.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            Error::Action(ActionError::Closed(_))
                | Error::Closed(_)
                | Error::Send(SendError::Closed)
        )
    }

    /// Whether the action timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Action(ActionError::Timeout))
    }
}
