//! Click-to-call: ring an agent's phone and, once it answers, connect it to
//! the number the agent clicked.
//!
//! ```text
//! cargo run -p amiproto-tokio --example click_to_call -- URL AGENT_CHANNEL NUMBER [CONTEXT]
//! cargo run -p amiproto-tokio --example click_to_call -- ami://admin:secret@pbx PJSIP/100 0612345678 from-internal
//! cargo run -p amiproto-tokio --example click_to_call     # against a simulated Asterisk
//! ```
//!
//! The call's progress (the agent's channel ringing, answering) prints while
//! the `OriginateResponse` is awaited; its `Linkedid` identifies the call in
//! every later event and in the CDR.

use std::error::Error;
use std::time::Duration;

use amiproto::{Action, Outcome};
use amiproto_testkit::{SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig, EventFilter, EventItem};

/// How long the agent's phone may ring.
const RING: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // With no URL, a simulated Asterisk where Local/100@default answers.
    let sim = match args.first() {
        Some(_) => None,
        None => Some(Simulator::start(SimConfig::default()).await?),
    };
    let url = sim.as_ref().map_or_else(|| args[0].clone(), |s| s.url());
    let agent = args.get(1).map_or("Local/100@default", String::as_str);
    let number = args.get(2).map_or("200", String::as_str);
    let context = args.get(3).map_or("default", String::as_str);

    let (client, _all_events) = connect(ClientConfig::from_url(&url)?).await?;
    // Subscribed before the call starts: nothing about it is missed.
    let mut progress =
        client.events_matching(EventFilter::names(["Newchannel", "Newstate", "Hangup"]));

    let originate = Action::originate(agent.to_owned())
        .header("Exten", number.to_owned())
        .header("Context", context.to_owned())
        .header("Priority", "1")
        .header("CallerID", format!("\"Click-to-call\" <{number}>"))
        .header("Timeout", RING.as_millis().to_string())
        .variable("CLICK_TO_CALL", "1")
        .async_originate();
    println!("ringing {agent} to connect it to {number}@{context}…");
    // The OriginateResponse comes when the agent answers or gives up: allow
    // the ring time plus a margin.
    let call = client.send_timeout(originate, Some(RING + Duration::from_secs(10)));
    tokio::pin!(call);
    let outcome = loop {
        tokio::select! {
            outcome = &mut call => break outcome?,
            Some(item) = progress.recv() => {
                if let EventItem::Event(e) = item {
                    if e.get_str("Channel").is_some_and(|c| c.starts_with(agent)) {
                        println!(
                            "  {:<10} {} ({})",
                            e.get_str("Event").unwrap_or_default(),
                            e.get_str("Channel").unwrap_or_default(),
                            e.get_str("ChannelStateDesc").unwrap_or_default()
                        );
                    }
                }
            }
        }
    };
    let Outcome::Originate(call) = outcome else {
        return Err("the server did not answer with an OriginateResponse".into());
    };
    if call.is_success() {
        println!(
            "answered: the agent is connected to {number}; call id (Linkedid) {}",
            call.unique_id().unwrap_or("unknown")
        );
    } else {
        println!(
            "not connected: {}",
            call.reason().map_or("unknown reason", reason_text)
        );
    }
    client.logoff().await?;
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}

/// `OriginateResponse`'s `Reason:` (Asterisk's `AST_CONTROL_*` values).
fn reason_text(reason: u32) -> &'static str {
    match reason {
        0 => "no such extension or channel",
        1 => "hung up before answering",
        3 => "no answer",
        4 => "answered",
        5 => "busy",
        8 => "congestion",
        _ => "failed",
    }
}
