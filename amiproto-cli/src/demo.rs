//! `ami` with no arguments: a tour of AMI against the built-in simulated
//! Asterisk (banner, login, Ping, a CLI command, a list, an async Originate
//! with its events, Logoff). Needs no server.

use std::time::Duration;

use amiproto::Action;
use amiproto_testkit::{SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig, EventItem};

use crate::failure::Failure;
use crate::output::Printer;

/// Run the tour; events and list items print as JSON lines.
pub async fn run() -> Result<(), Failure> {
    let json = Printer::new(true);
    let sim = Simulator::start(SimConfig::default())
        .await
        .map_err(|e| Failure::Server(format!("cannot start the simulated Asterisk: {e}")))?;
    println!("simulated Asterisk listening on {}", sim.url());
    let config = ClientConfig::from_url(&sim.url()).map_err(|e| Failure::Server(e.to_string()))?;
    let (client, mut events) = connect(config).await?;
    match client.status().version {
        Some(v) => println!("AMI version: {v}"),
        None => println!("AMI version: unknown"),
    }
    // The stream was opened before login: FullyBooted is already in it.
    while let Some(item) = events.try_recv() {
        if let EventItem::Event(p) = item {
            print!("start-up event: ");
            json.packet(&p).map_err(write_failed)?;
        }
    }

    let rtt = client.ping().await?;
    println!("Ping round trip: {rtt:?}");

    let out = client.command("core show version").await?;
    println!("core show version:\n  {}", out.text().replace('\n', "\n  "));

    let list = client.list(Action::new("CoreShowChannels")).await?;
    println!(
        "CoreShowChannels: {} item(s) (server announced {:?})",
        list.items.len(),
        list.announced_items()
    );
    for item in &list.items {
        json.packet(item).map_err(write_failed)?;
    }

    println!("async Originate Local/100@default, events as JSON lines:");
    let originate = Action::originate("Local/100@default")
        .header("Context", "default")
        .header("Exten", "100")
        .header("Priority", "1");
    let outcome = {
        let call = client.originate(originate);
        tokio::pin!(call);
        loop {
            tokio::select! {
                r = &mut call => break r?,
                Some(item) = events.recv() => {
                    if let EventItem::Event(p) = item {
                        json.packet(&p).map_err(write_failed)?;
                    }
                }
            }
        }
    };
    println!(
        "OriginateResponse: success={} reason={:?} uniqueid={:?}",
        outcome.is_success(),
        outcome.reason(),
        outcome.unique_id()
    );
    // Whatever else the call produced shortly after.
    let until = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(Some(item)) = tokio::time::timeout_at(until, events.recv()).await {
        if let EventItem::Event(p) = item {
            json.packet(&p).map_err(write_failed)?;
        }
    }

    client.logoff().await?;
    println!("logged off: {:?}", client.status().state);
    sim.shutdown().await;
    println!(
        "\nNext: `ami sim` serves this simulated Asterisk to any client; \
         `ami URL ping|command|action|list|originate|events` drive a real one (ami --help)."
    );
    Ok(())
}

fn write_failed(e: std::io::Error) -> Failure {
    Failure::Server(format!("cannot write output: {e}"))
}
