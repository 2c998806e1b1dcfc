//! Events into your own structs with the `serde` feature of `amiproto`:
//! declare the fields you need, and let `from_packet` match header names
//! case-insensitively (`caller_id_num` finds `CallerIDNum`), parse numbers,
//! and collect repeated keys.
//!
//! ```text
//! cargo run -p amiproto-tokio --example serde_events -- ami://admin:secret@pbx   # until Ctrl-C
//! cargo run -p amiproto-tokio --example serde_events                            # simulated Asterisk
//! ```

use std::error::Error;
use std::time::Duration;

use amiproto::serde::from_packet;
use amiproto::{Action, Packet};
use amiproto_testkit::{SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig, EventFilter, EventItem};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Newchannel {
    channel: String,
    uniqueid: String,
    linkedid: String,
    caller_id_num: Option<String>,
    context: String,
    exten: String,
}

#[derive(Debug, Deserialize)]
struct Newstate {
    channel: String,
    channel_state: u8,
    channel_state_desc: String,
}

#[derive(Debug, Deserialize)]
struct Hangup {
    channel: String,
    uniqueid: String,
    cause: u16,
    #[serde(rename = "Cause-txt")]
    cause_txt: String,
}

/// The events this program understands.
#[derive(Debug)]
enum CallEvent {
    Newchannel(Newchannel),
    Newstate(Newstate),
    Hangup(Hangup),
}

impl CallEvent {
    /// `None` for other events; an error if a known event lacks a field.
    fn parse(p: &Packet) -> Option<Result<CallEvent, amiproto::serde::Error>> {
        let name = p.get_str("Event")?;
        Some(match name.to_ascii_lowercase().as_str() {
            "newchannel" => from_packet(p).map(CallEvent::Newchannel),
            "newstate" => from_packet(p).map(CallEvent::Newstate),
            "hangup" => from_packet(p).map(CallEvent::Hangup),
            _ => return None,
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::args().nth(1);
    let sim = match url {
        Some(_) => None,
        None => Some(Simulator::start(SimConfig::default()).await?),
    };
    let url = url.unwrap_or_else(|| sim.as_ref().map(Simulator::url).unwrap_or_default());
    let (client, _all) = connect(ClientConfig::from_url(&url)?).await?;
    let mut events =
        client.events_matching(EventFilter::names(["Newchannel", "Newstate", "Hangup"]));

    if sim.is_some() {
        let call = Action::originate("Local/100@default")
            .header("Application", "Wait")
            .header("Data", "1");
        client.originate(call).await?;
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut hangups = 0;
    loop {
        tokio::select! {
            item = events.recv() => match item {
                Some(EventItem::Event(p)) => match CallEvent::parse(&p) {
                    Some(Ok(CallEvent::Newchannel(e))) => println!(
                        "new channel {} ({}) for {}@{} from {:?}, call {}",
                        e.channel, e.uniqueid, e.exten, e.context, e.caller_id_num, e.linkedid
                    ),
                    Some(Ok(CallEvent::Newstate(e))) => println!(
                        "{} is now {} ({})", e.channel, e.channel_state_desc, e.channel_state
                    ),
                    Some(Ok(CallEvent::Hangup(e))) => {
                        println!("{} ({}) hung up: {} {}", e.channel, e.uniqueid, e.cause, e.cause_txt);
                        hangups += 1;
                        // The simulated call has two channels.
                        if sim.is_some() && hangups == 2 {
                            break;
                        }
                    }
                    Some(Err(e)) => eprintln!("unexpected {:?}: {e}", p.get_str("Event")),
                    None => {}
                },
                Some(_) => {}
                None => break,
            },
            _ = &mut ctrl_c => break,
            _ = tokio::time::sleep(Duration::from_secs(10)), if sim.is_some() => break,
        }
    }
    client.logoff().await?;
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}
