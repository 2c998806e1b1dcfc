//! Which server certificates an `amis://` (implicit TLS) client trusts, as a
//! rustls client configuration (feature `rustls`).
//!
//! No I/O here: the adapters (`amiproto-tokio`, `amiproto-std`) share this
//! one description of trust and run the handshake over their own sockets.
//!
//! rustls is not re-exported: [`TlsConfig::Roots`] and [`TlsConfig::Custom`]
//! take rustls 0.23 types (`RootCertStore`, `ClientConfig`), so a program
//! that builds them depends on `rustls = "0.23"` itself (the line this crate
//! uses, so cargo builds one copy). The other choices need no rustls in your
//! own manifest.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Which server certificates to trust.
///
/// ```
/// use amiproto::tls::TlsConfig;
///
/// // A test server's self-signed certificate, trusted explicitly.
/// let der = vec![0x30, 0x03, 0x02, 0x01, 0x00];
/// let trust = TlsConfig::accept_self_signed(der);
/// assert!(trust.client_config().is_ok());
/// assert_eq!(format!("{trust:?}"), "AcceptSelfSigned(..)");
/// ```
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
    Custom(Arc<ClientConfig>),
}

/// Why no rustls configuration could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsConfigError(String);

impl TlsConfig {
    /// Trust only `cert_der`, a self-signed certificate (explicit opt-in for
    /// testing; never use it to reach a real server over a network you do
    /// not control).
    pub fn accept_self_signed(cert_der: impl Into<Vec<u8>>) -> TlsConfig {
        TlsConfig::AcceptSelfSigned(cert_der.into())
    }

    /// The rustls client configuration (ring provider, safe default
    /// protocol versions, no client certificate) for this trust choice.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsConfigError> {
        let builder = || {
            ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| TlsConfigError(e.to_string()))
        };
        Ok(match self {
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
                    return Err(TlsConfigError(
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
