//! Implicit TLS (`amis://`) with rustls: the handshake over a blocking
//! socket. Which certificates to trust is the core's [`TlsConfig`]; the
//! client builds its rustls configuration once and hands it in.

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

pub use amiproto::tls::TlsConfig;
use rustls::pki_types::ServerName;

use crate::transport::{is_would_block, Transport};
use crate::Error;

/// Run the TLS handshake on `tcp` with `config` before `deadline`.
pub(crate) fn handshake(
    config: Arc<rustls::ClientConfig>,
    host: &str,
    port: u16,
    tcp: TcpStream,
    deadline: Instant,
) -> Result<Transport, Error> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| Error::Tls(format!("invalid server name {host:?}: {e}")))?;
    let conn =
        rustls::ClientConnection::new(config, name).map_err(|e| Error::Tls(e.to_string()))?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let timeout = || Error::ConnectTimeout {
        host: host.to_owned(),
        port,
    };
    while s.conn.is_handshaking() {
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(timeout)?;
        let _ = s.sock.set_read_timeout(Some(left));
        let _ = s.sock.set_write_timeout(Some(left));
        match s.conn.complete_io(&mut s.sock) {
            Ok((0, 0)) if s.conn.is_handshaking() => {
                return Err(Error::Tls("peer closed during the handshake".into()))
            }
            Ok(_) => {}
            Err(e) if is_would_block(&e) => return Err(timeout()),
            Err(e) => return Err(Error::Tls(e.to_string())),
        }
    }
    Ok(Transport::Tls(Box::new(s)))
}
