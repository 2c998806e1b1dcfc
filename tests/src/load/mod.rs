//! A load source for benchmarks: a small loopback AMI server on plain std
//! threads (no tokio), made to run in its own process (the `ami-load`
//! binary) so that a client under measurement shares no runtime, thread or
//! allocator with it.
//!
//! Each connection gets a thread, the banner of Asterisk 22, and accepts
//! any login (plain, or MD5 after `Challenge`), answered with `FullyBooted`.
//! Then, by [`LoadMode`]:
//! - **events**: the event packets of a real capture ([`Corpus`]) taken in
//!   turn, `events` of them, written in large blocks of whole packets, then
//!   the marker event `Event: BenchEnd` ([`END_MARKER`]); actions sent
//!   meanwhile are answered between blocks, and the connection stays open
//!   until the client closes it;
//! - **ping**: every action is answered (`Response: Success` echoing its
//!   `ActionID`, `Ping: Pong` for `Ping`), pipelined: the answers to all
//!   actions of one read go out in one write. An idle client just stays
//!   connected.
//!
//! ```
//! use amiproto_testkit::load::{Corpus, LoadConfig, LoadServer};
//! use std::io::{Read, Write};
//! use std::sync::Arc;
//!
//! let corpus = Arc::new(Corpus::flood_capture()?);
//! let server = LoadServer::bind("127.0.0.1:0".parse()?, LoadConfig::events(corpus, 3).max_conns(1))?;
//! let addr = server.local_addr()?;
//! let serving = std::thread::spawn(move || server.serve(|report| println!("{}", report.to_json())));
//!
//! let mut s = std::net::TcpStream::connect(addr)?;
//! s.write_all(b"Action: Login\r\nUsername: u\r\nSecret: s\r\n\r\n")?;
//! let mut got = Vec::new();
//! let mut buf = [0u8; 4096];
//! while !got.ends_with(b"Event: BenchEnd\r\n\r\n") {
//!     let n = s.read(&mut buf)?;
//!     assert!(n > 0);
//!     got.extend_from_slice(&buf[..n]);
//! }
//! // login response + FullyBooted + 3 events + the marker
//! assert_eq!(memchr::memmem::find_iter(&got, b"\r\n\r\n").count(), 6);
//! drop(s);
//! serving.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod answers;
mod corpus;
mod requests;
mod session;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread;

pub use corpus::{Corpus, EmptyCorpus};

/// The name of the event that ends a flood.
pub const END_EVENT: &str = "BenchEnd";

/// The packet that ends a flood.
pub const END_MARKER: &[u8] = b"Event: BenchEnd\r\n\r\n";

/// Write blocks of the flood: about 4 MiB of whole packets.
pub const DEFAULT_WRITE_CHUNK: usize = 4 << 20;

/// What the load server does after login.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum LoadMode {
    /// Write `events` events of `corpus`, taken in turn, then [`END_MARKER`].
    Events {
        /// The packets to write.
        corpus: Arc<Corpus>,
        /// How many to write (any number: the corpus repeats, the last
        /// repetition may be partial).
        events: u64,
    },
    /// Answer every action.
    Ping,
}

/// How the load server serves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoadConfig {
    /// After login.
    pub mode: LoadMode,
    /// Bytes per flood write (whole packets; at least one corpus copy).
    pub write_chunk: usize,
    /// Stop accepting after this many connections, and return from
    /// [`LoadServer::serve`] once they have ended (`None`: serve forever).
    pub max_conns: Option<u64>,
}

impl LoadConfig {
    /// Flood `events` events of `corpus`.
    pub fn events(corpus: Arc<Corpus>, events: u64) -> LoadConfig {
        LoadConfig {
            mode: LoadMode::Events { corpus, events },
            write_chunk: DEFAULT_WRITE_CHUNK,
            max_conns: None,
        }
    }

    /// Answer every action.
    pub fn ping() -> LoadConfig {
        LoadConfig {
            mode: LoadMode::Ping,
            write_chunk: DEFAULT_WRITE_CHUNK,
            max_conns: None,
        }
    }

    /// Serve `n` connections, then return from [`LoadServer::serve`].
    pub fn max_conns(mut self, n: u64) -> LoadConfig {
        self.max_conns = Some(n);
        self
    }

    /// Bytes per flood write.
    pub fn write_chunk(mut self, bytes: usize) -> LoadConfig {
        self.write_chunk = bytes.max(1);
        self
    }
}

/// What one connection was sent, reported when it ends.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ConnReport {
    /// Connection number, from 1.
    pub conn: u64,
    /// `"events"` or `"ping"`.
    pub mode: &'static str,
    /// Events written (the flood; not `FullyBooted` nor the marker).
    pub events: u64,
    /// Bytes of the flood, marker included.
    pub bytes: u64,
    /// Actions answered, login included.
    pub actions: u64,
    /// From login to the end of the flood (events) or of the connection
    /// (ping).
    pub seconds: f64,
    /// Why the connection ended early, if it did.
    pub error: Option<String>,
}

impl ConnReport {
    /// One JSON line.
    pub fn to_json(&self) -> String {
        let error = match &self.error {
            Some(e) => format!(",\"error\":\"{}\"", e.replace(['"', '\\'], "'")),
            None => String::new(),
        };
        format!(
            "{{\"conn\":{},\"mode\":\"{}\",\"events\":{},\"bytes\":{},\"actions\":{},\"seconds\":{:.6}{error}}}",
            self.conn, self.mode, self.events, self.bytes, self.actions, self.seconds
        )
    }
}

/// A bound load server; [`LoadServer::serve`] runs it.
#[derive(Debug)]
pub struct LoadServer {
    listener: TcpListener,
    config: Arc<LoadConfig>,
}

impl LoadServer {
    /// Bind a loopback address (any other is refused: this server accepts
    /// any login).
    pub fn bind(addr: SocketAddr, config: LoadConfig) -> io::Result<LoadServer> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing to listen on {addr}: loopback only"),
            ));
        }
        Ok(LoadServer {
            listener: TcpListener::bind(addr)?,
            config: Arc::new(config),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accept connections, each on its own thread, calling `on_report`
    /// when each ends. Returns after [`LoadConfig::max_conns`] connections
    /// have ended; without it, never (except on an accept error).
    pub fn serve(self, on_report: impl Fn(&ConnReport) + Send + Sync + 'static) -> io::Result<()> {
        let on_report = Arc::new(on_report);
        let mut running = Vec::new();
        let mut conn = 0u64;
        while self.config.max_conns.is_none_or(|max| conn < max) {
            let (stream, _) = self.listener.accept()?;
            conn += 1;
            let config = Arc::clone(&self.config);
            let on_report = Arc::clone(&on_report);
            let id = conn;
            let serving = thread::Builder::new()
                .name(format!("ami-load-{id}"))
                .spawn(move || on_report(&session::run(stream, id, &config)))?;
            if self.config.max_conns.is_some() {
                running.push(serving);
            }
        }
        for t in running {
            let _ = t.join();
        }
        Ok(())
    }
}
