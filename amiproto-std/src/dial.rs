//! Opening a connection: name resolution, the TCP connect within the
//! connect timeout, the TLS handshake, socket options. Kept by the client
//! for reconnects (the TLS configuration is built once).

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use amiproto::{ConnectionError, Endpoint};

use crate::transport::{is_would_block, Transport};
use crate::Error;

/// Where and how to open a connection.
#[derive(Debug)]
pub(crate) struct Dialer {
    pub(crate) endpoint: Endpoint,
    connect_timeout: Duration,
    write_stall: Duration,
    #[cfg(feature = "tls")]
    tls: crate::tls::TlsConfig,
    /// The rustls configuration, built at the first TLS connect.
    #[cfg(feature = "tls")]
    tls_ready: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl Dialer {
    pub(crate) fn new(
        endpoint: Endpoint,
        connect_timeout: Duration,
        write_stall: Duration,
        #[cfg(feature = "tls")] tls: crate::tls::TlsConfig,
    ) -> Dialer {
        Dialer {
            endpoint,
            connect_timeout,
            write_stall: write_stall.max(Duration::from_millis(1)),
            #[cfg(feature = "tls")]
            tls,
            #[cfg(feature = "tls")]
            tls_ready: None,
        }
    }

    /// How long one blocked write may wait (at least 1 ms).
    pub(crate) fn write_stall(&self) -> Duration {
        self.write_stall
    }

    /// Open the TCP connection (and run the TLS handshake) within the
    /// connect timeout; the socket has `TCP_NODELAY` and the write stall as
    /// its write timeout.
    pub(crate) fn open(&mut self) -> Result<Transport, Error> {
        #[cfg(not(feature = "tls"))]
        if self.endpoint.tls {
            return Err(Error::TlsUnavailable);
        }
        let deadline = Instant::now() + self.connect_timeout;
        let tcp = open_tcp(&self.endpoint, deadline)?;
        let _ = tcp.set_nodelay(true);
        let io = if self.endpoint.tls {
            #[cfg(feature = "tls")]
            {
                let config = match &self.tls_ready {
                    Some(c) => c.clone(),
                    None => {
                        let c = self
                            .tls
                            .client_config()
                            .map_err(|e| Error::Tls(e.to_string()))?;
                        self.tls_ready = Some(c.clone());
                        c
                    }
                };
                let ep = &self.endpoint;
                crate::tls::handshake(config, &ep.host, ep.port, tcp, deadline)?
            }
            #[cfg(not(feature = "tls"))]
            return Err(Error::TlsUnavailable);
        } else {
            Transport::Plain(tcp)
        };
        io.tcp()
            .set_write_timeout(Some(self.write_stall))
            .map_err(|e| Error::Connection(ConnectionError::Transport(e.to_string())))?;
        Ok(io)
    }
}

fn open_tcp(ep: &Endpoint, deadline: Instant) -> Result<TcpStream, Error> {
    let connect_err = |source: io::Error| Error::Connect {
        host: ep.host.clone(),
        port: ep.port,
        source,
    };
    let timeout = || Error::ConnectTimeout {
        host: ep.host.clone(),
        port: ep.port,
    };
    let addrs = (ep.host.as_str(), ep.port)
        .to_socket_addrs()
        .map_err(connect_err)?;
    let mut last = None;
    for addr in addrs {
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(timeout)?;
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if is_would_block(&e) => timeout(),
        Some(e) => connect_err(e),
        None => connect_err(io::Error::new(
            io::ErrorKind::NotFound,
            "host name resolved to no address",
        )),
    })
}
