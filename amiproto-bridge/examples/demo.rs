//! The bridge against two simulated Asterisk servers (the test kit's
//! simulator, in-process), into the NATS server at `NATS_URL` (default
//! `nats://127.0.0.1:4222`). Each simulated PBX raises a trickle of events
//! and a simulated call every few seconds; the demo prints what reaches the
//! stream and each PBX's status. Ctrl-C shuts down cleanly.
//!
//! ```text
//! nats-server -js -sd /tmp/nats-demo            # terminal 1
//! cargo run -p amiproto-bridge --example demo   # terminal 2
//! ```
//!
//! Then, with the `nats` CLI if you have it:
//! `nats sub 'ami.>'`, `nats req ami.demo-1.action '{"Action":"CoreShowChannels"}'`,
//! `nats req ami.demo-1.status ''`, `nats stream view AMI`.

use std::time::Duration;

use amiproto::Action;
use amiproto_bridge::config::Env;
use amiproto_bridge::{Bridge, BridgeConfig};
use amiproto_testkit::{SimConfig, Simulator};
use futures_util::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,async_nats=warn".into()),
        )
        .init();
    let nats_url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let mut sims = Vec::new();
    for _ in 0..2 {
        let sim =
            Simulator::start(SimConfig::default().call_duration(Duration::from_secs(2))).await?;
        sims.push(sim);
    }
    let mut toml = format!("[nats]\nurls = [\"{nats_url}\"]\n[status]\ninterval_secs = 5\n");
    for (i, s) in sims.iter().enumerate() {
        toml.push_str(&format!(
            "[[pbx]]\nname = \"demo-{}\"\nurl = \"{}\"\n",
            i + 1,
            s.url()
        ));
    }
    let config = BridgeConfig::from_toml(&toml, &Env::from_process())?;
    println!("bridging 2 simulated PBXs into {nats_url} (stream AMI, subjects ami.demo-N.…)");
    let bridge = Bridge::start(config).await?;

    // Each PBX: a few events per second, and a call every 5 s through a
    // client of the demo's own (the bridge only allows read-only actions).
    for sim in &sims {
        sim.flood(u64::MAX, Some(2));
        let url = sim.url();
        tokio::spawn(async move {
            let Ok((client, _events)) = amiproto_tokio::connect_url(&url).await else {
                return;
            };
            loop {
                let call = Action::originate("Local/100@default")
                    .header("Application", "Wait")
                    .header("Data", "1");
                let _ = client.originate(call).await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
    }

    // Show what reaches NATS.
    let nc = async_nats::connect(&nats_url).await;
    if let Ok(nc) = &nc {
        let mut sub = nc.subscribe("ami.*.event.>").await?;
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                if !m.subject.ends_with(".UserEvent") {
                    println!("{}  {}", m.subject, String::from_utf8_lossy(&m.payload));
                }
            }
        });
    }
    let statuses = bridge.status_handle();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            for s in statuses.statuses() {
                println!(
                    "status {}: {} nats={} in={} out={} pending={} buffered={} gaps={}",
                    s.pbx,
                    s.state,
                    s.nats_connected,
                    s.events_in,
                    s.events_out,
                    s.acks_pending,
                    s.buffer_depth,
                    s.gaps
                );
            }
        }
    });
    tokio::signal::ctrl_c().await?;
    let report = bridge.shutdown(Duration::from_secs(10)).await?;
    println!("shut down: {report:?}");
    Ok(())
}
