//! `ami sim`: the test kit's simulated Asterisk as a standalone server, for
//! apps in any language.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use amiproto_testkit::{SimConfig, Simulator};

use crate::failure::Failure;

/// What `ami sim` was asked for.
#[derive(Debug)]
pub struct SimOptions {
    /// Port (`None`: 5038, or 5039 with TLS).
    pub port: Option<u16>,
    /// Address to listen on.
    pub bind: IpAddr,
    /// Asterisk 13 instead of 22.
    pub legacy: bool,
    /// Serve TLS.
    pub tls: bool,
    /// Where to write the certificate.
    pub cert_out: Option<PathBuf>,
}

/// Serve until Ctrl-C (or SIGTERM); prints the URL, users and, with TLS,
/// where the certificate is.
pub async fn run(options: SimOptions) -> Result<(), Failure> {
    let mut config = if options.legacy {
        SimConfig::legacy()
    } else {
        SimConfig::default()
    };
    let port = options
        .port
        .unwrap_or(if options.tls { 5039 } else { 5038 });
    config = config.bind(SocketAddr::new(options.bind, port));
    if options.tls {
        config = config.tls();
    }
    let users = config.users.clone();
    let banner = format!(
        "simulated Asterisk {} (AMI {})",
        config.asterisk_version, config.ami_version
    );
    let sim = Simulator::start(config).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (--port 0 picks a free port)"
        } else {
            ""
        };
        Failure::Server(format!(
            "cannot listen on {}:{port}: {e}{hint}",
            options.bind
        ))
    })?;
    let addr = sim.addr();
    let scheme = if options.tls { "amis" } else { "ami" };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{banner} listening on {addr}");
    for u in &users {
        let _ = writeln!(
            out,
            "  {scheme}://{}:{}@{addr}   (read: {}; write: {})",
            u.username, u.secret, u.read, u.write
        );
    }
    if options.tls {
        let path = options
            .cert_out
            .unwrap_or_else(|| std::env::temp_dir().join(format!("ami-sim-{}.pem", addr.port())));
        let pem = pem::encode(&pem::Pem::new("CERTIFICATE", sim.tls_cert_der()));
        std::fs::write(&path, pem).map_err(|e| {
            Failure::Server(format!(
                "cannot write the certificate to {}: {e}",
                path.display()
            ))
        })?;
        let _ = writeln!(
            out,
            "certificate (PEM, self-signed for localhost and 127.0.0.1): {}\n  \
             try: ami --accept-self-signed {} {scheme}://{}:{}@{addr} ping",
            path.display(),
            path.display(),
            users.first().map_or("admin", |u| u.username.as_str()),
            users.first().map_or("amp111", |u| u.secret.as_str()),
        );
    }
    let _ = writeln!(out, "Ctrl-C to stop");
    let _ = out.flush();
    drop(out);
    stop_signal().await;
    sim.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
