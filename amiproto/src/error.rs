//! Typed errors, one enum per layer.

use bytes::Bytes;
use thiserror::Error;

fn show_id(id: &Option<Bytes>) -> String {
    match id {
        Some(id) => format!(" (ActionID {:?})", String::from_utf8_lossy(id)),
        None => String::new(),
    }
}

/// What the decoder reports besides packets.
///
/// All variants but [`DecodeError::NotAmi`] and [`DecodeError::Truncated`]
/// are recoverable: the offending packet was skipped to its end and decoding
/// continues with the next one. Where the skipped packet carried an
/// `ActionID` (even after the line that broke a limit), it is reported so the
/// action waiting for it can be failed rather than left hanging.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A line exceeded [`crate::Limits::max_line_len`]; the packet was skipped.
    #[error("line longer than {limit} bytes; packet skipped{}", show_id(.action_id))]
    LineTooLong {
        /// The limit in force.
        limit: usize,
        /// The skipped packet's `ActionID`, if one was seen.
        action_id: Option<Bytes>,
    },
    /// A packet exceeded [`crate::Limits::max_packet_len`]; it was skipped.
    #[error("packet larger than {limit} bytes; packet skipped{}", show_id(.action_id))]
    PacketTooLarge {
        /// The limit in force.
        limit: usize,
        /// The skipped packet's `ActionID`, if one was seen.
        action_id: Option<Bytes>,
    },
    /// A packet had more than [`crate::Limits::max_headers`] header lines.
    #[error("packet with more than {limit} header lines; packet skipped{}", show_id(.action_id))]
    TooManyHeaders {
        /// The limit in force.
        limit: usize,
        /// The skipped packet's `ActionID`, if one was seen.
        action_id: Option<Bytes>,
    },
    /// The peer's first line is not `Asterisk Call Manager/…` (fatal).
    #[error("peer is not an AMI server: greeting {:?}", String::from_utf8_lossy(.greeting))]
    NotAmi {
        /// The first bytes the peer sent (at most one line).
        greeting: Bytes,
    },
    /// The stream ended inside a packet (fatal: reported by
    /// [`crate::Decoder::decode_eof`]).
    #[error("stream ended inside a packet ({bytes} bytes of it received)")]
    Truncated {
        /// How many bytes of the unfinished packet had arrived.
        bytes: usize,
    },
}

impl DecodeError {
    /// Whether decoding carries on after this error.
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            DecodeError::LineTooLong { .. }
                | DecodeError::PacketTooLarge { .. }
                | DecodeError::TooManyHeaders { .. }
        )
    }

    /// The `ActionID` of the skipped packet, when one was seen.
    pub fn action_id(&self) -> Option<&Bytes> {
        match self {
            DecodeError::LineTooLong { action_id, .. }
            | DecodeError::PacketTooLarge { action_id, .. }
            | DecodeError::TooManyHeaders { action_id, .. } => action_id.as_ref(),
            _ => None,
        }
    }
}

/// Why an action (or a built packet) was refused. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The action name is empty.
    #[error("empty action name")]
    EmptyActionName,
    /// A key is empty.
    #[error("empty header key")]
    EmptyKey,
    /// A key contains a byte that cannot be sent in a key (colon,
    /// whitespace, control byte).
    #[error("header key {key:?} contains forbidden byte {byte:#04x}")]
    InvalidKey {
        /// The key, lossily decoded.
        key: String,
        /// The offending byte.
        byte: u8,
    },
    /// A value contains CR, LF or NUL: it would end the line (and could start
    /// a second, injected action) or truncate the value on the server.
    #[error("value of {key:?} contains forbidden byte {byte:#04x} (CR, LF or NUL)")]
    InvalidValue {
        /// The key of the offending value.
        key: String,
        /// The offending byte.
        byte: u8,
    },
    /// A line is longer than the server accepts (Asterisk answers
    /// `Failed to parse message: line too long` and runs nothing).
    #[error("line for {key:?} is {len} bytes; the server accepts at most {max}")]
    LineTooLong {
        /// The key of the long line.
        key: String,
        /// Its length without CRLF.
        len: usize,
        /// The most the server accepts.
        max: usize,
    },
    /// More lines than the server accepts (Asterisk answers `Too many lines in
    /// message` and runs nothing).
    #[error("{count} lines; the server accepts at most {max}")]
    TooManyLines {
        /// Lines the action would have.
        count: usize,
        /// The most the server accepts.
        max: usize,
    },
    /// `Action` or `ActionID` given as an ordinary header: use the builder's
    /// name and [`crate::Action::action_id`] instead.
    #[error("{0:?} is set through the Action builder, not as a header")]
    ReservedKey(String),
    /// An `ActionID` that is empty, longer than 64 bytes, or not printable ASCII.
    #[error("invalid ActionID {0:?}: want 1 to 64 printable ASCII bytes")]
    InvalidActionId(String),
    /// A `Variable:` name Asterisk would not read back as that one name:
    /// empty (`byte` is `None`), or with `=`, `,`, `"`, `\\`, a space or a
    /// control byte (see [`crate::check_variable_name`]).
    #[error("variable name {name:?} {}", match .byte {
        None => "is empty".to_owned(),
        Some(b) => format!("contains {b:#04x}, which Asterisk's Variable parser would split or strip"),
    })]
    InvalidVariableName {
        /// The name, lossily decoded.
        name: String,
        /// The offending byte; `None` for an empty name.
        byte: Option<u8>,
    },
    /// A packet with no header and no body.
    #[error("empty packet")]
    EmptyPacket,
    /// A header added after a raw body.
    #[error("header added after the raw body")]
    HeaderAfterBody,
    /// A raw body containing the `--END COMMAND--` marker.
    #[error("raw body contains the --END COMMAND-- marker")]
    MarkerInBody,
}

/// Why a connection ended abnormally. Every action still pending then fails
/// with [`ActionError::Closed`] carrying the [`CloseReason`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The peer's greeting is not an AMI banner.
    #[error("peer is not an AMI server: greeting {:?}", String::from_utf8_lossy(.greeting))]
    NotAmi {
        /// What it sent instead.
        greeting: Bytes,
    },
    /// The peer closed before sending its banner (Asterisk does this when
    /// over its unauthenticated-session limit).
    #[error("peer closed the connection before the banner")]
    ClosedBeforeBanner,
    /// No banner within [`crate::Config::banner_timeout`].
    #[error("no banner within the banner timeout")]
    BannerTimeout,
    /// Login did not finish within [`crate::Config::login_timeout`].
    #[error("login did not finish within the login timeout")]
    LoginTimeout,
    /// The server refused the login; it closes the socket after this.
    #[error("authentication failed: {message}")]
    AuthFailed {
        /// The server's `Message` (e.g. `Authentication failed`).
        message: String,
    },
    /// The login cannot be encoded (a username, secret or event mask with a
    /// byte no AMI line can carry, or a line longer than the server
    /// accepts): no server can ever accept it, so retrying is pointless.
    #[error("the login cannot be encoded: {0}")]
    LoginUnencodable(EncodeError),
    /// The server refused the MD5 challenge and plaintext login is not
    /// allowed ([`crate::AuthMethod::Md5`], the default).
    #[error("server refused the MD5 challenge ({message}) and plaintext login is disabled")]
    ChallengeRefused {
        /// The server's `Message`.
        message: String,
    },
    /// The peer closed the connection.
    #[error("peer closed the connection{}", if *.mid_packet { " in the middle of a packet" } else { "" })]
    PeerClosed {
        /// Whether part of a packet had arrived.
        mid_packet: bool,
    },
    /// No byte arrived within the keepalive timeout after a keepalive `Ping`.
    #[error("peer stopped answering (keepalive timeout)")]
    KeepaliveTimeout,
    /// `Logoff` got no `Goodbye` within its timeout: the connection was
    /// closed locally (see [`CloseReason::is_logoff`]).
    #[error("no Goodbye within the Logoff's timeout; closed locally")]
    LogoffTimeout,
    /// The transport failed (reported by the adapter).
    #[error("transport error: {0}")]
    Transport(String),
    /// Closed locally without logging off.
    #[error("connection closed locally")]
    Aborted,
}

impl ConnectionError {
    /// Whether connecting again with the same settings can never succeed
    /// (a reconnect loop must stop): [`ConnectionError::LoginUnencodable`].
    pub fn is_permanent(&self) -> bool {
        matches!(self, ConnectionError::LoginUnencodable(_))
    }
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// `Logoff` was answered with `Goodbye` (or sent before login finished,
    /// which closes at once). A stream that ends before the `Goodbye` is
    /// [`ConnectionError::PeerClosed`], as without the Logoff.
    #[error("logged off")]
    LoggedOff,
    /// Anything else.
    #[error(transparent)]
    Error(#[from] ConnectionError),
}

impl CloseReason {
    /// Whether the connection ended because the client logged off, whether
    /// or not the server confirmed it ([`CloseReason::LoggedOff`], or
    /// [`ConnectionError::LogoffTimeout`]): nothing to reconnect for.
    pub fn is_logoff(&self) -> bool {
        matches!(
            self,
            CloseReason::LoggedOff | CloseReason::Error(ConnectionError::LogoffTimeout)
        )
    }
}

/// Why one action has no successful outcome.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ActionError {
    /// The server answered `Response: Error`.
    ///
    /// `message` is the server's explanation: the text of the response's
    /// `Output:` lines (joined with `\n`) when it has any, else its
    /// `Message`. Asterisk ≥ 14 answers a failed `Command` with `Message:
    /// Command output follows` and the reason in `Output:` (`No such
    /// command 'x' (type 'core show help x' for other possible
    /// commands)`): the message is that reason, never the placeholder.
    ///
    /// ```
    /// use amiproto::{ActionError, Packet};
    ///
    /// let response = Packet::builder()
    ///     .header("Response", "Error")
    ///     .header("Message", "Command output follows")
    ///     .header("Output", "No such command 'x' (type 'core show help x' for other possible commands)")
    ///     .build()?;
    /// let e = ActionError::from_error_response(response);
    /// assert_eq!(
    ///     e.to_string(),
    ///     "server error: No such command 'x' (type 'core show help x' for other possible commands)"
    /// );
    /// # Ok::<(), amiproto::EncodeError>(())
    /// ```
    #[error("server error: {message}")]
    Server {
        /// The explanation: the `Output:` text, else the `Message` header
        /// (empty when neither is there).
        message: String,
        /// The whole response (`Message`, `Output:` lines and all).
        response: crate::Packet,
    },
    /// No outcome within the action's timeout. Late answers are drained
    /// quietly.
    #[error("action timed out")]
    Timeout,
    /// The connection ended before the outcome arrived.
    #[error("connection closed before the action finished: {0}")]
    Closed(CloseReason),
    /// A collected list grew past [`crate::Config::max_list_items`]; the rest
    /// of it is drained quietly.
    #[error("list has more than {limit} items")]
    ListTooLarge {
        /// The cap in force.
        limit: usize,
    },
    /// The answer broke a decoder limit and was skipped.
    #[error("answer skipped: {0}")]
    Skipped(DecodeError),
    /// Held until the server's version was known, then refused: on this
    /// server it could never finish (see [`Unanswerable`]). Nothing was
    /// written.
    #[error(transparent)]
    Unanswerable(Unanswerable),
}

impl ActionError {
    /// The error for a `Response: Error` packet: its explanation taken
    /// from `Output:` lines when it has any, else from `Message` (see
    /// [`ActionError::Server`]).
    pub fn from_error_response(response: crate::Packet) -> ActionError {
        let message = error_message(&response);
        ActionError::Server { message, response }
    }

    /// Whether the server refused the action for lack of permission:
    /// `Permission denied` (an action outside the user's write classes, or
    /// any action but `Login`/`Challenge`/`Logoff` before login), or one of
    /// the `… Access Forbidden: …` answers (`GetVar`, `Status`,
    /// `Originate`: a value that needs the `system` class).
    ///
    /// ```
    /// use amiproto::{ActionError, Packet};
    ///
    /// let denied = Packet::builder()
    ///     .header("Response", "Error")
    ///     .header("Message", "Permission denied")
    ///     .build()?;
    /// assert!(ActionError::from_error_response(denied).is_permission_denied());
    /// assert!(!ActionError::Timeout.is_permission_denied());
    /// # Ok::<(), amiproto::EncodeError>(())
    /// ```
    pub fn is_permission_denied(&self) -> bool {
        match self {
            ActionError::Server { response, .. } => response
                .message()
                .is_some_and(|m| is_permission_message(m.as_bytes())),
            _ => false,
        }
    }
}

/// `Permission denied`, or `<Action> Access Forbidden: <what>` (the texts of
/// main/manager.c in Asterisk 11 to 22), compared ASCII case-insensitively.
fn is_permission_message(message: &[u8]) -> bool {
    let m = message.trim_ascii();
    if m.eq_ignore_ascii_case(b"Permission denied") {
        return true;
    }
    const FORBIDDEN: &[u8] = b" access forbidden:";
    m.windows(FORBIDDEN.len())
        .any(|w| w.eq_ignore_ascii_case(FORBIDDEN))
}

/// The explanation of an error response: its `Output:` lines (joined with
/// `\n`, trailing empty ones dropped) when there are any, else `Message`.
pub(crate) fn error_message(response: &crate::Packet) -> String {
    let mut lines: Vec<_> = response
        .headers()
        .filter(|h| h.is("Output"))
        .map(|h| h.value())
        .collect();
    while lines
        .last()
        .is_some_and(|l| l.as_bytes().trim_ascii().is_empty())
    {
        lines.pop();
    }
    if lines.is_empty() {
        return response
            .message()
            .map(|m| m.decode_text().into_owned())
            .unwrap_or_default();
    }
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&line.decode_text());
    }
    out
}

/// An action the connection refuses because, on this server and session, it
/// could never finish: rather than wait for its timeout, the caller learns
/// at once why, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Unanswerable {
    /// An `Originate` with `Async: true` ends with its `OriginateResponse`
    /// event, which Asterisk (11, 13 and 22) sends in the `call` class; the
    /// session's event mask, as the server accepted it (the login's
    /// `Events:`, or a later `Events` action), has no `call`, so the event
    /// would never come.
    #[error(
        "an async Originate could never finish: the event mask {mask:?} excludes the `call` class \
         OriginateResponse is sent in (add `call` to the mask, or originate without Async)"
    )]
    EventMaskExcludesCall {
        /// The mask as it was sent (`off`, `system,agent`…).
        mask: String,
    },
    /// An `Originate` with `Async: true`, on a session where the server
    /// accepted an exclude filter (`Filter: !…`) that matches every
    /// `OriginateResponse`: the event would never come.
    #[error(
        "an async Originate could never finish: the filter {filter:?} the server accepted drops \
         every OriginateResponse"
    )]
    FilterDropsOriginateResponse {
        /// The filter as it was sent (with its `!`).
        filter: String,
    },
    /// `Queues` on Asterisk ≤ 14 (AMI version below 4): the server answers
    /// with bare CLI text, no `Response:`, no `ActionID` and no end marker
    /// a client could match to the action. `QueueStatus` (or
    /// `QueueSummary`) gives the same facts as an event list; `Command`
    /// with `queue show` gives the same text, framed.
    #[error(
        "Queues on AMI {ami_version} answers bare text with no ActionID, which cannot be matched to \
         the action: use QueueStatus or QueueSummary (or Command \"queue show\")"
    )]
    QueuesUnframed {
        /// The server's AMI version, from its banner.
        ami_version: String,
    },
}

/// Why [`crate::Connection::send`] refused an action. Nothing was queued.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SendError {
    /// The action cannot be encoded safely.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A caller-chosen `ActionID` is already pending on this connection, or
    /// starts with the connection's generated-ID prefix.
    #[error("ActionID {0:?} is already in use or reserved")]
    DuplicateActionId(String),
    /// The connection is logging off or closed.
    #[error("connection is closing or closed")]
    Closed,
    /// The action could never finish on this server and session (see
    /// [`Unanswerable`]).
    #[error(transparent)]
    Unanswerable(#[from] Unanswerable),
}
