//! From the command line to a logged-in client: URL, secret, TLS trust.
//! Everything that can be wrong with the command line is found here,
//! before any connection is opened.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use amiproto::tls::TlsConfig;
use amiproto::Secret;
use amiproto_tokio::{connect, Client, ClientConfig, EventStream};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::args::Options;
use crate::failure::Failure;
use crate::progress::Spinner;

/// Environment variable holding the URL when none is given.
pub const URL_VAR: &str = "AMI_URL";
/// Environment variable holding the secret when the URL has none.
pub const SECRET_VAR: &str = "AMI_SECRET";

/// The client settings for `url` (or `$AMI_URL`) and the options: parsed,
/// secret found, TLS trust loaded. Usage errors only; nothing is sent.
pub fn config(url: Option<&str>, options: &Options) -> Result<ClientConfig, Failure> {
    let url = match url {
        Some(u) => u.to_owned(),
        None => std::env::var(URL_VAR).map_err(|_| {
            Failure::Usage(format!(
                "no server given: pass a URL (ami://user@host) or set {URL_VAR}"
            ))
        })?,
    };
    let mut config =
        ClientConfig::from_url(&url).map_err(|e| Failure::Usage(format!("invalid URL: {e}")))?;
    if let Some(secret) = secret(&config, options)? {
        config.ami.secret = Secret::new(secret);
    }
    if !options.timeout.is_finite() || options.timeout < 0.0 {
        return Err(Failure::Usage(format!(
            "--timeout must be a number of seconds, got {}",
            options.timeout
        )));
    }
    let timeout = (options.timeout > 0.0).then(|| Duration::from_secs_f64(options.timeout));
    config = config.action_timeout(timeout);
    if let Some(trust) = tls_trust(options)? {
        if !config.endpoint.tls {
            return Err(Failure::Usage(
                "--ca and --accept-self-signed need an amis:// URL".into(),
            ));
        }
        config = config.tls(trust);
    }
    Ok(config)
}

/// Connect and log in, with a spinner while a person waits.
pub async fn open(config: ClientConfig) -> Result<(Client, EventStream), Failure> {
    let _spinner = Spinner::start(format!(
        "connecting to {}:{}…",
        config.endpoint.host, config.endpoint.port
    ));
    Ok(connect(config).await?)
}

/// Log off, giving the server a moment to say `Goodbye`.
pub async fn close(client: &Client) {
    let _ = tokio::time::timeout(Duration::from_secs(2), client.logoff()).await;
}

/// The secret to use instead of the URL's, if any: `--secret-file` first,
/// then (only when the URL has none) `$AMI_SECRET`, then a prompt when stdin
/// is a terminal.
fn secret(config: &ClientConfig, options: &Options) -> Result<Option<String>, Failure> {
    if let Some(path) = &options.secret_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::Usage(format!("cannot read secret file {}: {e}", path.display()))
        })?;
        let line = text.lines().next().unwrap_or("");
        return Ok(Some(line.to_owned()));
    }
    if !config.ami.secret.expose().is_empty() {
        return Ok(None);
    }
    if let Ok(s) = std::env::var(SECRET_VAR) {
        return Ok(Some(s));
    }
    if std::io::stdin().is_terminal() {
        let prompt = format!(
            "secret for {}@{}: ",
            config.ami.username, config.endpoint.host
        );
        let s = rpassword::prompt_password(prompt)
            .map_err(|e| Failure::Usage(format!("cannot read the secret: {e}")))?;
        return Ok(Some(s));
    }
    Err(Failure::Usage(format!(
        "no secret for {}: put it in the URL, in {SECRET_VAR}, or in a file given with --secret-file",
        config.ami.username
    )))
}

/// The TLS trust asked for by `--ca` or `--accept-self-signed`.
fn tls_trust(options: &Options) -> Result<Option<TlsConfig>, Failure> {
    if let Some(path) = &options.ca {
        let mut roots = RootCertStore::empty();
        let certs = read_certs(path)?;
        let (added, _ignored) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(Failure::Usage(format!(
                "{}: no usable CA certificate",
                path.display()
            )));
        }
        return Ok(Some(TlsConfig::Roots(Arc::new(roots))));
    }
    if let Some(path) = &options.accept_self_signed {
        let cert = read_certs(path)?.remove(0);
        return Ok(Some(TlsConfig::accept_self_signed(cert.to_vec())));
    }
    Ok(None)
}

/// Certificates from a PEM file (every `CERTIFICATE` block) or one DER file.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    let bad = |why: String| Failure::Usage(format!("{}: {why}", path.display()));
    if bytes.starts_with(b"-----BEGIN") || bytes.windows(10).any(|w| w == b"-----BEGIN") {
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("invalid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(bad("no CERTIFICATE in this PEM file".into()));
        }
        Ok(certs)
    } else if bytes.first() == Some(&0x30) {
        Ok(vec![CertificateDer::from(bytes)])
    } else {
        Err(bad("neither a PEM nor a DER certificate".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_from_pem_and_der() {
        let dir = std::env::temp_dir().join(format!("ami-cli-certs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x00];
        let pem = pem::encode(&pem::Pem::new("CERTIFICATE", der.clone()));
        std::fs::write(dir.join("c.pem"), pem).unwrap();
        std::fs::write(dir.join("c.der"), &der).unwrap();
        std::fs::write(dir.join("junk"), b"hello").unwrap();
        assert_eq!(
            read_certs(&dir.join("c.pem")).unwrap()[0].as_ref(),
            &der[..]
        );
        assert_eq!(
            read_certs(&dir.join("c.der")).unwrap()[0].as_ref(),
            &der[..]
        );
        assert!(matches!(
            read_certs(&dir.join("junk")),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            read_certs(&dir.join("absent")),
            Err(Failure::Usage(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
