//! # amiproto — the Asterisk Manager Interface, sans I/O
//!
//! `amiproto` is everything an AMI client needs to know about the protocol,
//! with no sockets, no threads, no async runtime and no clock reads:
//!
//! - [`Packet`]: one message as a single [`bytes::Bytes`] plus an index of
//!   its header lines; case-insensitive lookups, repeated keys kept in order,
//!   values as bytes (Latin-1 caller names never fail a packet).
//! - [`Decoder`]: a streaming, zero-copy, limit-enforcing decoder that
//!   handles what real servers send (the banner, bare-LF lines, lines without
//!   a colon, keys with colons, Asterisk ≤ 13's `Response: Follows` raw
//!   bodies, `QueueRule`'s empty packets).
//! - [`Action`]: an action builder whose encoder refuses anything that could
//!   inject a second action or that the server would reject.
//! - [`Connection`]: the client state machine (banner, login, ActionID
//!   matching, lists, timeouts, keepalive, logoff), driven by bytes and
//!   times the caller passes in; see [`connection`] for the run loop.
//! - What the socket-owning clients share: the [`EventQueue`] that holds
//!   events for a reader under its [`Overflow`] policy (exact lag counts,
//!   markers never dropped), their error type, [`ClientError`], and their
//!   [`Reconnect`] policy with its pure [`Backoff`].
//! - `types` (feature `types`): typed actions and events generated from
//!   Asterisk's own documentation, views over [`Packet`] built only when
//!   asked.
//!
//! ```
//! use amiproto::bytes::BytesMut; // re-exported: no `bytes` line needed in your manifest
//! use amiproto::{Action, Decoder, Frame};
//!
//! let wire = Action::ping().action_id("p1").to_bytes().unwrap();
//! assert_eq!(&wire[..], b"Action: Ping\r\nActionID: p1\r\n\r\n");
//!
//! let mut dec = Decoder::new();
//! let mut buf = BytesMut::from(&b"Response: Success\r\nActionID: p1\r\nPing: Pong\r\n\r\n"[..]);
//! let Some(Frame::Packet(reply)) = dec.decode(&mut buf).unwrap() else { panic!() };
//! assert_eq!(reply.action_id().unwrap(), "p1");
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod action;
mod client_error;
pub mod decode;
pub mod encode;
pub mod error;
mod index;
pub mod packet;
pub mod queue;
pub mod reconnect;
mod scan;
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod serde;
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub mod tls;
#[cfg(feature = "types")]
pub mod types;
pub mod variable;
pub mod version;

/// The `bytes` crate, whose [`Bytes`](bytes::Bytes) and
/// [`BytesMut`](bytes::BytesMut) this crate's API takes and returns
/// (packets, command output lines, the decoder's buffer): use it from here
/// and your manifest needs no `bytes` line of its own.
pub use bytes;

pub use action::{Action, EventMask};
pub use client_error::ClientError;
pub use decode::{BannerMode, Decoder, DecoderStats, Frame, Limits};
pub use error::{DecodeError, EncodeError};
pub use packet::{Header, Headers, Packet, PacketBuilder, PacketKind, ResponseStatus, Value};
pub use queue::{EventItem, EventQueue, Overflow};
pub use reconnect::{Backoff, Reconnect, WhileReconnecting};
pub use variable::{check_variable_name, encode_variable};
pub use version::{AmiVersion, Banner};
pub mod connection;
pub use connection::{
    md5_key, ActionHandle, AuthMethod, CommandOutput, Config, Connection, Endpoint, Event,
    InFlightLimit, Keepalive, ListOutcome, OriginateOutcome, Outcome, Secret, SendOptions, State,
    UrlError, UrlPart, UrlProblem, TLS_IN_FLIGHT,
};
pub use error::{ActionError, CloseReason, ConnectionError, SendError, Unanswerable};

/// This crate's README, its Rust examples compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme_doctest {}
