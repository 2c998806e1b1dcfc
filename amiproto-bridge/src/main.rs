//! `amiproto-bridge`: run the bridge from a TOML file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use amiproto_bridge::{Bridge, BridgeConfig};
use clap::Parser;

/// Bridge Asterisk servers (AMI) into NATS JetStream.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The configuration file (TOML); `AMI_BRIDGE_*` variables override it.
    #[arg(short, long, default_value = "amiproto-bridge.toml")]
    config: PathBuf,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
    /// How long a shutdown (Ctrl-C, SIGTERM) waits for acks, in seconds.
    #[arg(long, default_value_t = 10)]
    drain_secs: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,async_nats=warn".into()),
        )
        .init();
    let args = Args::parse();
    let config = match BridgeConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("amiproto-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!(
            "configuration OK: {} PBX(s), stream {:?}, subjects {}.PBX.…",
            config.pbxs.len(),
            config.stream.name,
            config.stream.prefix
        );
        return ExitCode::SUCCESS;
    }
    let mut bridge = match Bridge::start(config).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("amiproto-bridge: {e}");
            return ExitCode::FAILURE;
        }
    };
    let fatal = tokio::select! {
        _ = shutdown_signal() => None,
        r = bridge.wait() => Some(r),
    };
    if let Some(r) = fatal {
        if let Err(e) = r {
            eprintln!("amiproto-bridge: {e}");
        }
        return ExitCode::FAILURE;
    }
    match bridge.shutdown(Duration::from_secs(args.drain_secs)).await {
        Ok(report) if report.lost.is_empty() => ExitCode::SUCCESS,
        Ok(report) => {
            eprintln!(
                "amiproto-bridge: undelivered at shutdown: {:?}",
                report.lost
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("amiproto-bridge: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
