//! # amiproto-bridge — many Asterisk servers into NATS JetStream
//!
//! One AMI session per PBX, shared by every consumer through NATS:
//!
//! - **Events**: every event of every PBX is published to JetStream on
//!   `PREFIX.PBX.event.EVENTNAME`, in the PBX's wire order, as JSON (wire
//!   order kept, a repeated key as an array: [`amiproto::serde::PacketMap`]),
//!   with headers `Ami-Pbx`, `Ami-Session`, `Ami-Seq` and `Nats-Msg-Id`
//!   (`PBX.SESSION.SEQ`, so a re-published copy is dropped by the server).
//!   Publishes are pipelined with a bounded window of acks in flight; an
//!   event counts as delivered only once acked, and an unacked one is
//!   published again.
//! - **Never silent loss**: the AMI side keeps reading whatever NATS does.
//!   Past the buffer's bound (memory, then an optional spill file) dropped
//!   events are reported exactly on `PREFIX.PBX.gap` (`first_seq`,
//!   `last_seq`, `count`, `reason`). A new AMI session (start, reconnect) is
//!   announced on `PREFIX.PBX.session`.
//! - **Actions**: request-reply on `PREFIX.PBX.action` (JSON action in, JSON
//!   outcome or typed error out; see [`actions`]), allow-listed
//!   ([`AllowList`], read-only actions by default), pipelined over the
//!   PBX's one session.
//! - **Health**: `PREFIX.PBX.status` ([`PbxStatus`]), `tracing` logs, clean
//!   shutdown ([`Bridge::shutdown`]: drain acks, then Logoff).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use amiproto_bridge::{config::Env, Bridge, BridgeConfig};
//!
//! let config = BridgeConfig::from_toml(
//!     r#"
//!     [nats]
//!     urls = ["nats://127.0.0.1:4222"]
//!     [[pbx]]
//!     name = "paris"
//!     url = "ami://bridge:secret@10.0.0.5:5038"
//!     "#,
//!     &Env::from_process(),
//! )?;
//! let bridge = Bridge::start(config).await?;
//! println!("{:?}", bridge.status("paris")?);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod actions;
mod allow;
mod bridge;
mod buffer;
pub mod config;
mod error;
mod pbx;
mod publish;
pub mod record;
mod service;
mod spill;
mod status;
pub mod stream;
pub mod subject;

pub use allow::{AllowList, READ_ONLY, SESSION_ACTIONS};
pub use bridge::{Bridge, ShutdownReport, StatusHandle};
pub use buffer::GapReason;
pub use config::BridgeConfig;
pub use error::{BridgeError, ConfigError};
pub use status::PbxStatus;

/// The README's Rust examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
