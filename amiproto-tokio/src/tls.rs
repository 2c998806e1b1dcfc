//! Implicit TLS (`amis://`) with tokio-rustls. Which certificates to trust
//! is the core's [`TlsConfig`].

use std::fmt;

pub use amiproto::tls::TlsConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use crate::Error;

/// A ready TLS connector (built once, reused across reconnects).
#[derive(Clone)]
pub(crate) struct Connector(tokio_rustls::TlsConnector);

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Connector")
    }
}

impl Connector {
    // The error is built once per connect; its size does not matter here.
    #[allow(clippy::result_large_err)]
    pub(crate) fn new(config: &TlsConfig) -> Result<Connector, Error> {
        let cfg = config
            .client_config()
            .map_err(|e| Error::Tls(e.to_string()))?;
        Ok(Connector(tokio_rustls::TlsConnector::from(cfg)))
    }

    pub(crate) async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| Error::Tls(format!("invalid server name {host:?}: {e}")))?;
        self.0
            .connect(name, tcp)
            .await
            .map_err(|e| Error::Tls(e.to_string()))
    }
}
