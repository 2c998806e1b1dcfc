//! # amiproto-std — a blocking AMI client over `std::net`
//!
//! A client for the Asterisk Manager Interface for programs without an
//! async runtime: daemons, CLIs, scripts. It is a thin driver around the
//! [`amiproto`] state machine — it moves bytes between a
//! [`std::net::TcpStream`] (or rustls over one, feature `tls`) and
//! [`amiproto::Connection`], and reads the clock; every protocol decision
//! (login, correlation, lists, timeouts, keepalive) is the core's. No
//! runtime, no hidden thread.
//!
//! ```no_run
//! use amiproto::Action;
//! use amiproto_std::EventItem;
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), amiproto_std::Error> {
//! let mut client = amiproto_std::connect("ami://admin:amp111@127.0.0.1:5038")?;
//! let version = client.command("core show version")?;
//! println!("{}", version.text());
//! let channels = client.list(Action::new("CoreShowChannels"))?;
//! println!("{} channels", channels.items.len());
//! // Events that arrived meanwhile were queued, not lost.
//! while let Some(item) = client.next_event(Some(Duration::from_secs(1)))? {
//!     if let EventItem::Event(event) = item {
//!         println!("{:?}", event.event());
//!     }
//! }
//! client.logoff()?;
//! # Ok(())
//! # }
//! ```
//!
//! ## How it does I/O
//!
//! Everything happens on the caller's thread inside the blocking calls.
//! Waiting uses the socket's read timeout, set from the earliest of the
//! caller's deadline and the core's [`amiproto::Connection::poll_timeout`]
//! (action timeouts, the banner and login deadlines, keepalive); a read
//! that times out becomes [`amiproto::Connection::handle_timeout`]. This is
//! the loop of str0m's blocking examples, and it needs no `poll(2)`.
//!
//! Writing never starves reading. Submitted actions are buffered and written
//! with a short socket write timeout ([`ClientConfig::write_stall`], 1 ms):
//! when the socket does not take more bytes in that time — the server may be
//! blocked writing answers we have not read — the client switches the socket
//! to non-blocking for a moment, reads everything that has arrived, feeds
//! the core, and tries the write again (waiting for input at most one more
//! stall when nothing had arrived). A pipeline of any size
//! ([`Client::send_all`], or [`Client::submit`] then [`Client::wait`])
//! therefore cannot deadlock against a server that answers while we write,
//! and Asterisk (which drops a client that leaves its writes blocked for
//! 100 ms) sees us read within a few milliseconds. Over TLS the
//! rustls connection is driven by hand (`read_tls`/`write_tls` on the
//! rustls `StreamOwned` parts) so that a read never waits for pending
//! TLS records to be written.
//!
//! ## Events
//!
//! Server events arriving while a call waits for something else are put in
//! the client's queue and handed out by [`Client::next_event`] /
//! [`Client::events`]. The queue's bound and policy are set with
//! [`ClientConfig::events`]: [`Overflow::Lossy`] (default, 16 384) drops the
//! oldest and reports the exact count in place with [`EventItem::Lagged`];
//! [`Overflow::Lossless`] keeps everything. Items of a list sent with
//! [`SendOptions::stream_list`] are never dropped.
//!
//! Every call first takes in what the socket holds (without waiting) once
//! the last read is 5 ms old — an age read on the kernel's coarse clock,
//! which costs a few nanoseconds where the precise one costs 20–90 — so
//! the queue's policy decides what is kept, never the kernel's buffers. A
//! program must still call in often enough: Asterisk drops a session when
//! one of its writes makes no progress for `writetimeout` (100 ms by
//! default), so while a busy event stream is on, call into the client (any
//! call; `next_event(Some(Duration::ZERO))` will do) at least every 50 ms.
//!
//! ## Reconnects
//!
//! Opt-in, with the tokio client's policy type ([`Reconnect`]: backoff with
//! jitter, `max_attempts`, `reset_after`, [`WhileReconnecting`]), set with
//! [`ClientConfig::reconnect`]. With no thread of its own, the client
//! re-establishes a lost connection inside the calls that may block: a
//! waiting [`Client::next_event`] sleeps the backoff's delay, connects and
//! logs in again (the accepted event mask and filters re-applied), then
//! hands out [`EventItem::Reconnected`]; a [`Client::submit`] waits for the
//! new login within the action's timeout (or fails at once with
//! [`Error::NotConnected`] under [`WhileReconnecting::FailFast`]). Actions
//! pending when the connection dropped fail with
//! [`amiproto::ActionError::Closed`]; none is ever re-sent.
//!
//! ## Logging
//!
//! With the `tracing` feature (on by default) the client logs what the
//! tokio client logs: a span `ami` per client with `host`, `port`, `user`
//! and `tls`; the login and every action at debug, logins and reconnects
//! at info, lost connections and failed attempts at warn; never a secret.
//! `tracing` runs no thread: without a subscriber a message costs a check
//! of a static. `default-features = false` drops the dependency.
//!
//! ## One owner
//!
//! [`Client`] is `Send` but every method takes `&mut self`: a single owner
//! drives the connection, and nothing is read while the owner is busy
//! elsewhere. Share it between threads with a `Mutex`, or give it to one
//! thread and send it work over a channel. (For many concurrent callers
//! and fan-out to several subscribers, use the `amiproto-tokio` adapter.)
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
// `Error` carries the server's response packet in `ActionError::Server`;
// callers match on it directly, so it is not boxed.
#![allow(clippy::result_large_err)]

mod client;
mod clock;
mod config;
mod dial;
mod entropy;
mod outcomes;
mod read_area;
mod reconnect;
#[cfg(feature = "tls")]
mod tls;
mod trace;
mod transport;
#[cfg(feature = "types")]
mod typed;

pub use amiproto::queue::{EventItem, Overflow, DEFAULT_CAPACITY};
/// The reconnect policy (the same type as the tokio client's).
pub use amiproto::reconnect::{Reconnect, WhileReconnecting};
/// Everything that can go wrong between a caller and the server (one type
/// for both clients, from the core).
pub use amiproto::ClientError as Error;
pub use client::{connect, Client, Events};
pub use config::ClientConfig;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tls::TlsConfig;
#[cfg(feature = "types")]
pub use typed::TypedEvents;

pub use amiproto;
pub use amiproto::{
    Action, ActionHandle, CommandOutput, Config, ListOutcome, OriginateOutcome, Outcome, Packet,
    SendOptions,
};

/// This crate's README, its Rust examples compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme_doctest {}
