//! Opening the byte stream: TCP, or TCP + implicit TLS.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::ClientConfig;
use crate::Error;

/// A connected byte stream.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Connect to the configured endpoint (TCP, then TLS if asked), within the
/// connect timeout.
pub(crate) async fn connect(
    config: &ClientConfig,
    #[cfg(feature = "tls")] tls: &mut Option<crate::tls::Connector>,
) -> Result<Transport, Error> {
    let ep = &config.endpoint;
    let work = async {
        let tcp = TcpStream::connect((ep.host.as_str(), ep.port))
            .await
            .map_err(|source| Error::Connect {
                host: ep.host.clone(),
                port: ep.port,
                source,
            })?;
        // Actions are small and latency matters (Ping round trips).
        let _ = tcp.set_nodelay(true);
        if !ep.tls {
            return Ok(Transport::Tcp(tcp));
        }
        #[cfg(feature = "tls")]
        {
            let connector = match tls {
                Some(c) => c,
                None => tls.insert(crate::tls::Connector::new(&config.tls)?),
            };
            let stream = connector.connect(&ep.host, tcp).await?;
            Ok(Transport::Tls(Box::new(stream)))
        }
        #[cfg(not(feature = "tls"))]
        {
            drop(tcp);
            Err(Error::TlsUnavailable)
        }
    };
    match tokio::time::timeout(config.connect_timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(Error::ConnectTimeout {
            host: ep.host.clone(),
            port: ep.port,
        }),
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
