//! A simulator on its own runtime thread, for blocking clients.

use std::io;
use std::net::SocketAddr;

use amiproto::Packet;
use bytes::Bytes;

use crate::{Faults, SimConfig, Simulator};

/// A [`Simulator`] running on a private tokio runtime, usable from plain
/// threads (tests of blocking clients). It shuts down when dropped.
///
/// ```
/// use amiproto_testkit::{BlockingSimulator, SimConfig};
/// use std::io::{Read, Write};
///
/// let sim = BlockingSimulator::start(SimConfig::default()).unwrap();
/// let mut s = std::net::TcpStream::connect(sim.addr()).unwrap();
/// s.write_all(b"Action: Ping\r\nActionID: 1\r\n\r\n").unwrap();
/// let mut got = Vec::new();
/// let mut buf = [0u8; 512];
/// while !got.ends_with(b"\r\n\r\n") {
///     let n = s.read(&mut buf).unwrap();
///     got.extend_from_slice(&buf[..n]);
/// }
/// assert!(got.ends_with(b"Message: Permission denied\r\n\r\n"));
/// ```
#[derive(Debug)]
pub struct BlockingSimulator {
    sim: Option<Simulator>,
    rt: Option<tokio::runtime::Runtime>,
}

impl BlockingSimulator {
    /// Start a simulator on a new runtime thread.
    pub fn start(config: SimConfig) -> io::Result<BlockingSimulator> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("amiproto-sim")
            .enable_all()
            .build()?;
        let sim = rt.block_on(Simulator::start(config))?;
        Ok(BlockingSimulator {
            sim: Some(sim),
            rt: Some(rt),
        })
    }

    fn sim(&self) -> &Simulator {
        self.sim.as_ref().expect("simulator present until drop")
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt
            .as_ref()
            .expect("runtime present until drop")
            .block_on(f)
    }

    /// See [`Simulator::addr`].
    pub fn addr(&self) -> SocketAddr {
        self.sim().addr()
    }

    /// See [`Simulator::url`].
    pub fn url(&self) -> String {
        self.sim().url()
    }

    /// See [`Simulator::push_event`].
    pub fn push_event(&self, packet: Packet) {
        self.sim().push_event(packet)
    }

    /// See [`Simulator::push_raw`].
    pub fn push_raw(&self, bytes: impl Into<Bytes>) {
        self.sim().push_raw(bytes)
    }

    /// See [`Simulator::flood`].
    pub fn flood(&self, count: u64, rate_per_sec: Option<u64>) -> usize {
        self.sim().flood(count, rate_per_sec)
    }

    /// See [`Simulator::flood_from_capture`].
    pub fn flood_from_capture(
        &self,
        capture: &[u8],
        count: u64,
        rate_per_sec: Option<u64>,
    ) -> usize {
        self.sim().flood_from_capture(capture, count, rate_per_sec)
    }

    /// See [`Simulator::received`].
    pub fn received(&self) -> Vec<Packet> {
        self.sim().received()
    }

    /// See [`Simulator::connection_count`].
    pub fn connection_count(&self) -> usize {
        self.sim().connection_count()
    }

    /// See [`Simulator::set_faults`].
    pub fn set_faults(&self, faults: Faults) {
        self.sim().set_faults(faults)
    }

    /// See [`Simulator::restart`].
    pub fn restart(&self) -> io::Result<()> {
        self.block_on(self.sim().restart())
    }

    /// See [`Simulator::drop_clients`].
    pub fn drop_clients(&self) {
        self.block_on(self.sim().drop_clients())
    }

    /// See [`Simulator::channels`].
    pub fn channels(&self) -> Vec<String> {
        self.sim().channels()
    }

    /// The self-signed certificate (DER) served with TLS.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_cert_der(&self) -> Vec<u8> {
        self.sim().tls_cert_der()
    }
}

impl Drop for BlockingSimulator {
    fn drop(&mut self) {
        if let (Some(sim), Some(rt)) = (self.sim.take(), self.rt.take()) {
            rt.block_on(sim.shutdown());
            drop(sim);
            rt.shutdown_background();
        }
    }
}
