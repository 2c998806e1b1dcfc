//! Implicit TLS (`amis://`) with rustls.

use std::fmt;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig as RustlsConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::Error;
use crate::transport::{is_would_block, Transport};

/// Which server certificates to trust.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum TlsConfig {
    /// The operating system's root certificates (default).
    #[default]
    SystemRoots,
    /// The given root store only.
    Roots(Arc<RootCertStore>),
    /// Accept exactly this certificate (DER), whatever its issuer and name:
    /// for tests against a self-signed server. The handshake signature is
    /// still checked against it.
    AcceptSelfSigned(Vec<u8>),
    /// A complete rustls configuration of your own.
    Custom(Arc<RustlsConfig>),
}

impl TlsConfig {
    /// Trust only `cert_der`, a self-signed certificate (explicit opt-in for
    /// testing; never use it to reach a real server over a network you do
    /// not control).
    pub fn accept_self_signed(cert_der: impl Into<Vec<u8>>) -> TlsConfig {
        TlsConfig::AcceptSelfSigned(cert_der.into())
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsConfig::SystemRoots => f.write_str("SystemRoots"),
            TlsConfig::Roots(r) => write!(f, "Roots({} certificates)", r.len()),
            TlsConfig::AcceptSelfSigned(_) => f.write_str("AcceptSelfSigned(..)"),
            TlsConfig::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn rustls_config(config: &TlsConfig) -> Result<Arc<RustlsConfig>, Error> {
    let builder = || {
        RustlsConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))
    };
    Ok(match config {
        TlsConfig::Custom(c) => c.clone(),
        TlsConfig::Roots(roots) => Arc::new(
            builder()?
                .with_root_certificates(roots.clone())
                .with_no_client_auth(),
        ),
        TlsConfig::SystemRoots => {
            let mut roots = RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(Error::Tls(
                    "no usable system root certificates found".into(),
                ));
            }
            Arc::new(
                builder()?
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            )
        }
        TlsConfig::AcceptSelfSigned(der) => Arc::new(
            builder()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    cert: der.clone(),
                    provider: provider(),
                }))
                .with_no_client_auth(),
        ),
    })
}

/// Run the TLS handshake on `tcp` before `deadline`.
pub(crate) fn handshake(
    config: &TlsConfig,
    host: &str,
    port: u16,
    tcp: TcpStream,
    deadline: Instant,
) -> Result<Transport, Error> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| Error::Tls(format!("invalid server name {host:?}: {e}")))?;
    let conn = rustls::ClientConnection::new(rustls_config(config)?, name)
        .map_err(|e| Error::Tls(e.to_string()))?;
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

/// Accepts one exact certificate.
#[derive(Debug)]
struct Pinned {
    cert: Vec<u8>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
