//! The error of a client that owns a socket: what the core reports, plus
//! what only an I/O adapter can tell (the TCP connect, TLS, a closed
//! client). Both adapters use this one type.

use std::io;

use thiserror::Error;

use crate::connection::UrlError;
use crate::error::{ActionError, CloseReason, ConnectionError, SendError};

/// Everything that can go wrong between a caller and the server.
///
/// Protocol-level reasons come straight from the core
/// ([`ConnectionError`], [`ActionError`], [`SendError`]); the other
/// variants are what only an I/O adapter can tell.
///
/// ```
/// use amiproto::{ActionError, ClientError, CloseReason, ConnectionError};
///
/// let refused = ClientError::Connection(ConnectionError::AuthFailed {
///     message: "Authentication failed".into(),
/// });
/// assert!(refused.is_auth_failed());
/// assert_eq!(refused.server_message(), Some("Authentication failed"));
///
/// let lost = ClientError::Action(ActionError::Closed(CloseReason::Error(
///     ConnectionError::PeerClosed { mid_packet: false },
/// )));
/// assert!(lost.is_connection_lost());
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
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
    /// Connecting (TCP and TLS handshake) took longer than the client's
    /// connect timeout.
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
    /// `amis://` was asked for but the client was built without its `tls`
    /// feature.
    #[error("TLS requested but the client was built without its `tls` feature")]
    TlsUnavailable,
    /// The connection failed or ended: banner timeout, not an AMI server,
    /// authentication failed (with the server's message), a login that
    /// cannot be encoded, peer closed, keepalive timeout, transport error.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The action was refused before anything was written (unsafe to
    /// encode, duplicate `ActionID`, connection closing).
    #[error(transparent)]
    Send(#[from] SendError),
    /// The action was sent and has no successful outcome: `Response:
    /// Error`, timeout, connection lost while it was pending, list too
    /// large.
    #[error(transparent)]
    Action(#[from] ActionError),
    /// The client is reconnecting and is configured to fail fast rather
    /// than hold actions until it is back.
    #[error("not connected (reconnecting)")]
    NotConnected,
    /// The client is closed for good (logged off, peer gone and no
    /// reconnect, keepalive timeout…): the reason says why. Every event
    /// received before was handed out first.
    #[error("client closed: {0}")]
    Closed(CloseReason),
    /// A wait on an action handle the client is not waiting for (already
    /// taken, cancelled, sent without reply, or from another connection).
    #[error("unknown action handle")]
    UnknownHandle,
    /// The outcome is not of the kind the helper expects (e.g. `list()` on
    /// an action that did not open an event list).
    #[error("unexpected outcome: expected {expected}")]
    UnexpectedOutcome {
        /// What the helper wanted.
        expected: &'static str,
    },
    /// A typed action's outcome did not have the shape its reply needs
    /// (feature `types`); the outcome is inside, whole.
    #[cfg(feature = "types")]
    #[error(transparent)]
    Reply(#[from] crate::types::ReplyError),
}

impl ClientError {
    /// The connection error behind this error, wherever it is carried: a
    /// failed connect or login, a closed client, or an action that failed
    /// because its connection ended.
    pub fn connection_error(&self) -> Option<&ConnectionError> {
        match self {
            ClientError::Connection(e)
            | ClientError::Closed(CloseReason::Error(e))
            | ClientError::Action(ActionError::Closed(CloseReason::Error(e))) => Some(e),
            _ => None,
        }
    }

    /// The server's explanation when it refused the login or an action:
    /// for an action, its `Output:` text when the answer has any (a failed
    /// `Command`), else its `Message` (see [`ActionError::Server`]).
    pub fn server_message(&self) -> Option<&str> {
        match self {
            ClientError::Action(ActionError::Server { message, .. }) => Some(message),
            _ => match self.connection_error()? {
                ConnectionError::AuthFailed { message }
                | ConnectionError::ChallengeRefused { message } => Some(message),
                _ => None,
            },
        }
    }

    /// Whether this is a refused login (also when an action or the client
    /// failed because a login was refused).
    pub fn is_auth_failed(&self) -> bool {
        matches!(
            self.connection_error(),
            Some(ConnectionError::AuthFailed { .. } | ConnectionError::ChallengeRefused { .. })
        )
    }

    /// Whether the action or call failed because the connection went away
    /// (an action is never re-sent; decide yourself whether a retry is
    /// safe).
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            ClientError::Action(ActionError::Closed(_))
                | ClientError::Closed(_)
                | ClientError::Send(SendError::Closed)
                | ClientError::NotConnected
        )
    }

    /// Whether the action timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Action(ActionError::Timeout))
    }

    /// Whether the server refused the action for lack of permission (see
    /// [`ActionError::is_permission_denied`]).
    ///
    /// ```
    /// use amiproto::{ActionError, ClientError, Packet};
    ///
    /// let denied = Packet::builder()
    ///     .header("Response", "Error")
    ///     .header("Message", "Permission denied")
    ///     .build()?;
    /// let e = ClientError::Action(ActionError::from_error_response(denied));
    /// assert!(e.is_permission_denied());
    /// assert!(!e.is_timeout());
    /// # Ok::<(), amiproto::EncodeError>(())
    /// ```
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, ClientError::Action(e) if e.is_permission_denied())
    }
}
