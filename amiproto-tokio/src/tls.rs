//! Implicit TLS (`amis://`) with rustls.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig as RustlsConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;

use crate::error::Error;

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
    /// for tests against a self-signed server. The signature of the
    /// handshake is still checked against it.
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
        let builder = || {
            RustlsConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| Error::Tls(e.to_string()))
        };
        let cfg = match config {
            TlsConfig::Custom(c) => c.clone(),
            TlsConfig::Roots(roots) => Arc::new(
                builder()?
                    .with_root_certificates(roots.clone())
                    .with_no_client_auth(),
            ),
            TlsConfig::SystemRoots => {
                let mut roots = RootCertStore::empty();
                let found = rustls_native_certs::load_native_certs();
                for cert in found.certs {
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
            TlsConfig::AcceptSelfSigned(der) => {
                let verifier = Pinned {
                    cert: der.clone(),
                    provider: provider(),
                };
                Arc::new(
                    builder()?
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(verifier))
                        .with_no_client_auth(),
                )
            }
        };
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
