//! # amiproto-testkit — a simulated Asterisk for testing AMI clients
//!
//! [`Simulator`] is a loopback AMI server (tokio) that answers like the
//! Asterisk 22.10.1 recorded in `tests/data/asterisk-22.10.1`, byte for byte
//! where it matters: banner, header order and spelling of the common
//! responses, `Key: ` for empty values, CRLF, in-order responses.
//! [`SimConfig::legacy`] answers like Asterisk 13 (`Response: Follows`
//! command output, the bare-text `Queues`), [`SimConfig::asterisk11`] like
//! Asterisk 11 (built from its source: lists without `EventList` markers,
//! `Items:` counts, `Parkinglot` items without `ActionID`).
//! [`BlockingSimulator`] runs one on its own thread for blocking clients.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use amiproto::{Action, Packet};
//! use amiproto_testkit::{SimConfig, Simulator};
//! use amiproto_tokio::{connect, ClientConfig};
//!
//! // A loopback Asterisk 22 (user admin/amp111), with a canned CLI answer.
//! let sim = Simulator::start(SimConfig::default().command("pjsip show contacts", "No objects found.\n")).await?;
//! let (client, _events) = connect(ClientConfig::from_url(&sim.url())?).await?;
//! let mut hangups = client.events_matching("Hangup");
//!
//! // Actions get Asterisk's answers, byte for byte as a real one words them.
//! let out = client.command("pjsip show contacts").await?;
//! assert_eq!(out.text(), "No objects found.");
//!
//! // Calls to Local/ channels raise the events of a real call.
//! let call = client
//!     .originate(Action::originate("Local/100@default").header("Application", "Wait").header("Data", "1"))
//!     .await?;
//! assert!(call.is_success());
//!
//! // Push any event your app must react to.
//! sim.push_event(Packet::builder()
//!     .header("Event", "Hangup")
//!     .header("Privilege", "call,all")
//!     .header("Channel", "PJSIP/alice-00000001")
//!     .header("Cause", "17")
//!     .build()?);
//! let mut seen = Vec::new();
//! while seen.len() < 3 {
//!     // The originated call hangs up after Wait(1), both halves.
//!     let ev = hangups.next_event().await.expect("stream open");
//!     seen.push(ev.get_str("Channel").unwrap_or_default().to_owned());
//! }
//! assert!(seen.iter().any(|c| c == "PJSIP/alice-00000001"));
//!
//! // And check what your app sent.
//! assert!(sim.received().iter().any(|p| p.get_str("Command") == Some("pjsip show contacts")));
//! client.logoff().await?;
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! What it simulates:
//! - the session: banner, plaintext and MD5 challenge login for users with
//!   read/write classes, failure after a delay then close, the
//!   unauthenticated-socket timeout, `Permission denied` before login and
//!   outside a user's write classes, `Logoff` → `Goodbye` → close;
//! - events: masks (`Events:` on login, the `Events` action), read classes,
//!   `Filter` (legacy regex and `MatchCriteria`), `FullyBooted` and
//!   `SuccessfulAuth` on login, [`Simulator::push_event`];
//! - actions: `Ping`, `Command` (canned output; AMI 11 `Output:` lines or
//!   the legacy `Response: Follows` body), `Getvar`/`Setvar` (globals and
//!   channel variables), `UserEvent` (headers echoed verbatim),
//!   `CoreSettings`, `CoreStatus`, `ListCommands`, `QueueRule` (with its trailing empty
//!   packet), `Originate` of `Local/` channels, sync and async, with the
//!   events and header sets of a real call (answer, busy, no answer, no such
//!   extension, queue; `Variable:` headers split, unquoted and unescaped
//!   as Asterisk's argument parser does, see [`variables_from_header`]),
//!   and the lists `CoreShowChannels`, `Status`,
//!   `QueueStatus`, `QueueSummary`, `Parkinglots` and regex `Hangup`
//!   (`EventList: start` / `Complete` / `ListItems`; Asterisk 11's
//!   unmarked forms with [`SimConfig::asterisk11`]), `Queues` where it
//!   exists (AMI below 4) with its bare CLI text, and an unknown CLI
//!   command as Asterisk 22 answers it (`Response: Error`, the reason in
//!   `Output:`);
//! - Asterisk's input parser: 1024-byte line buffer (`line too long`, and
//!   the extra `Missing action` when the CR lands on the boundary), 128
//!   lines, missing or empty `Action`, bare-LF and lower-case input;
//! - load and faults: [`Simulator::flood`] (generated, numbered events in
//!   pre-encoded batches), [`Simulator::flood_from_capture`], [`Replay`] of
//!   a capture in chunks, [`Faults`] (cut after N bytes, stall, delayed
//!   answers, Asterisk's per-message write timeout, close before banner,
//!   the stall of a deep pipeline over TLS),
//!   [`Simulator::push_raw`] (garbage, oversized packets), [`Simulator::restart`],
//!   [`Simulator::stop_listening`], [`Simulator::drop_clients`]; TLS with a
//!   self-signed certificate (feature `tls`).
//!
//! Timers run on tokio's clock: under `start_paused` the 1 s login-failure
//! delay and call durations cost no wall time, and timestamps move with the
//! virtual clock.
//!
//! What it does not simulate: media, dialplan beyond the call shapes above,
//! SIP/PJSIP, AGI, queue members answering, devices and presence states,
//! the actions not listed (they get `Invalid/unknown command`, as unknown
//! names do in Asterisk), security events other than `SuccessfulAuth`,
//! Asterisk's own event ordering races between concurrent calls, and back
//! pressure by default (a client that never reads grows the session's queue
//! unless [`Faults::write_timeout`] is set).
//!
//! For benchmarks, [`load`] is a separate, std-only load source (the
//! `ami-load` binary): real capture events flooded in large writes, or
//! every action answered, from its own process.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod actions;
mod app_args;
mod blocking;
mod classes;
mod clock;
mod config;
mod filter;
mod flood;
mod input;
mod lists;
pub mod load;
mod pbx;
mod server;
mod wire;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use amiproto::Packet;
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use app_args::{separate_args, variables_from_header};
pub use blocking::BlockingSimulator;
pub use config::{
    CallOutcome, Faults, ParkingLot, QueueConfig, QueueMember, Replay, SimConfig, User,
};

use server::{lock, Acceptor, Out, Shared};

/// What the `seq`-th event of a [`Simulator::flood`] looks like (every
/// flood event has the same length).
pub fn flood_event(seq: u64) -> Packet {
    flood::event(seq)
}

/// A running simulated Asterisk. Dropping it stops it (abruptly);
/// [`Simulator::shutdown`] stops it and waits for every task.
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Mutex<Option<JoinHandle<()>>>,
    tls: Acceptor,
    #[cfg(feature = "tls")]
    cert_der: Vec<u8>,
}

impl Simulator {
    /// Bind (`127.0.0.1:0` by default) and start serving.
    pub async fn start(config: SimConfig) -> io::Result<Simulator> {
        #[cfg(feature = "tls")]
        let (tls, cert_der) = if config.tls {
            let (acc, der) = make_tls()?;
            (Some(acc), der)
        } else {
            (None, Vec::new())
        };
        #[cfg(not(feature = "tls"))]
        let tls: Acceptor = None;
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        *lock(&shared.local) = addr;
        let accept = tokio::spawn(server::accept_loop(listener, shared.clone(), tls.clone()));
        Ok(Simulator {
            shared,
            addr,
            accept: Mutex::new(Some(accept)),
            tls,
            #[cfg(feature = "tls")]
            cert_der,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ami://admin:amp111@127.0.0.1:PORT` (`amis://` with TLS): the first
    /// configured user.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "amis" } else { "ami" };
        match self.shared.cfg.users.first() {
            Some(u) => format!("{scheme}://{}:{}@{}", u.username, u.secret, self.addr),
            None => format!("{scheme}://{}", self.addr),
        }
    }

    /// Deliver `packet` to every logged-in session whose event mask, read
    /// classes (from the packet's `Privilege:`) and filters let it through.
    pub fn push_event(&self, packet: Packet) {
        self.shared.publish(wire::SimEvent::from_packet(packet));
    }

    /// Write raw bytes to every connected session, logged in or not
    /// (garbage, oversized or truncated packets).
    pub fn push_raw(&self, bytes: impl Into<Bytes>) {
        self.shared.publish_raw(bytes.into());
    }

    /// Send `count` generated events (`Event: UserEvent`, `UserEvent: Flood`,
    /// `Seq:` from 0, class `user`) to every logged-in session that accepts
    /// them, at `rate_per_sec` or as fast as each client reads when `None`.
    /// Responses to actions are still written between batches. Returns the
    /// number of sessions flooded.
    pub fn flood(&self, count: u64, rate_per_sec: Option<u64>) -> usize {
        let job = flood::FloodJob::new(count, rate_per_sec);
        let sample = flood::event(0);
        let mut n = 0;
        for link in lock(&self.shared.sessions).iter() {
            if lock(&link.st).wants(classes::USER, &sample) {
                let _ = link.tx.send(Out::Flood(job.clone()));
                n += 1;
            }
        }
        n
    }

    /// Send `count` events taken in turn from a capture's server bytes
    /// (`*.server.bin`: the banner and responses are skipped, events kept
    /// verbatim), to every logged-in session, each receiving the events its
    /// mask, classes and filters accept. Returns the number of sessions
    /// flooded.
    pub fn flood_from_capture(
        &self,
        capture: &[u8],
        count: u64,
        rate_per_sec: Option<u64>,
    ) -> usize {
        let mut dec = amiproto::Decoder::new().banner_mode(amiproto::BannerMode::Auto);
        let mut buf = bytes::BytesMut::from(capture);
        let mut events = Vec::new();
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(amiproto::Frame::Packet(p))) if p.event().is_some() => {
                    events.push(wire::SimEvent::from_packet(p));
                }
                Ok(Some(_)) | Err(_) => {}
                Ok(None) => break,
            }
        }
        let mut n = 0;
        for link in lock(&self.shared.sessions).iter() {
            let st = lock(&link.st);
            if !st.authed {
                continue;
            }
            let mine: Vec<Bytes> = events
                .iter()
                .filter(|e| st.wants(e.category, &e.packet))
                .map(|e| e.packet.raw().clone())
                .collect();
            if !mine.is_empty() {
                let job = flood::FloodJob::cycling(Arc::new(mine), count, rate_per_sec);
                let _ = link.tx.send(Out::Flood(job));
                n += 1;
            }
        }
        n
    }

    /// Every packet received from clients so far (all sessions, in order of
    /// arrival), as sent.
    pub fn received(&self) -> Vec<Packet> {
        lock(&self.shared.received).clone()
    }

    /// Forget the packets received so far.
    pub fn clear_received(&self) {
        lock(&self.shared.received).clear();
    }

    /// Client connections open now.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Change the faults applied from now on.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.faults.send_replace(faults);
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Names of the channels up now.
    pub fn channels(&self) -> Vec<String> {
        lock(&self.shared.pbx)
            .channels
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }

    /// Drop every client and listen again on the same port (calls in
    /// progress go on).
    pub async fn restart(&self) -> io::Result<()> {
        self.stop_listening().await;
        self.drop_clients().await;
        let listener = bind_again(self.addr).await?;
        let task = tokio::spawn(server::accept_loop(
            listener,
            self.shared.clone(),
            self.tls.clone(),
        ));
        *lock(&self.accept) = Some(task);
        Ok(())
    }

    /// Stop accepting: new connections are refused until
    /// [`Simulator::restart`]. Open sessions go on.
    pub async fn stop_listening(&self) {
        let task = lock(&self.accept).take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
    }

    /// Close every client connection at once (mid-packet if need be).
    pub async fn drop_clients(&self) {
        let mut set = std::mem::take(&mut *lock(&self.shared.session_tasks));
        set.shutdown().await;
        lock(&self.shared.sessions).clear();
    }

    /// Stop listening, close every connection, end every call; returns once
    /// no task of the simulator is left.
    pub async fn shutdown(&self) {
        self.stop_listening().await;
        self.drop_clients().await;
        let mut calls = std::mem::take(&mut *lock(&self.shared.call_tasks));
        calls.shutdown().await;
    }

    /// The self-signed certificate (DER) served with TLS; empty without.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_cert_der(&self) -> Vec<u8> {
        self.cert_der.clone()
    }
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .field("connections", &self.connection_count())
            .finish()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(t) = lock(&self.accept).take() {
            t.abort();
        }
        lock(&self.shared.session_tasks).abort_all();
        lock(&self.shared.call_tasks).abort_all();
    }
}

/// Bind `addr` again, retrying briefly while the old socket goes away.
async fn bind_again(addr: SocketAddr) -> io::Result<TcpListener> {
    let mut last = None;
    for _ in 0..50 {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Err(last.unwrap_or_else(|| io::Error::other("bind failed")))
}

#[cfg(feature = "tls")]
fn make_tls() -> io::Result<(tokio_rustls::TlsAcceptor, Vec<u8>)> {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .map_err(io::Error::other)?;
    let der = ck.cert.der().to_vec();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![der.clone().into()], key)
        .map_err(io::Error::other)?;
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(cfg)), der))
}

/// The README's Rust examples, compiled as doc tests of this crate (which
/// sees every crate of the workspace).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}

/// This crate's own README, its Rust example compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod own_readme {}
