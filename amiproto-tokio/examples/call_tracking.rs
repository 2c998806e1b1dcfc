//! Call tracking: follow every channel of a call by its `Linkedid` (the
//! `Uniqueid` of the channel that started it), and print a summary when its
//! last channel hangs up.
//!
//! ```text
//! cargo run -p amiproto-tokio --example call_tracking -- ami://admin:secret@pbx   # until Ctrl-C
//! cargo run -p amiproto-tokio --example call_tracking                            # simulated Asterisk
//! ```
//!
//! Transfers, local channels and queue legs all keep the first channel's
//! `Linkedid`, so one entry here is one call as a person sees it.

use std::collections::HashMap;
use std::error::Error;
use std::time::{Duration, Instant};

use amiproto::{Action, Packet};
use amiproto_testkit::{SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig, EventFilter, EventItem, Overflow};

/// One call: every channel seen with its `Linkedid`.
#[derive(Debug)]
struct Call {
    started: Instant,
    /// Channel name → hangup cause once it is gone.
    channels: Vec<(String, Option<String>)>,
}

impl Call {
    fn is_over(&self) -> bool {
        self.channels.iter().all(|(_, cause)| cause.is_some())
    }
}

#[derive(Debug, Default)]
struct Tracker {
    calls: HashMap<String, Call>,
}

impl Tracker {
    /// Apply an event; the finished call's id and data, if this ended one.
    fn apply(&mut self, e: &Packet) -> Option<(String, Call)> {
        let linkedid = e.get_str("Linkedid")?.to_owned();
        let channel = e.get_str("Channel")?.to_owned();
        if e.is_event("Newchannel") {
            self.calls
                .entry(linkedid)
                .or_insert_with(|| Call {
                    started: Instant::now(),
                    channels: Vec::new(),
                })
                .channels
                .push((channel, None));
            return None;
        }
        if e.is_event("Hangup") {
            let call = self.calls.get_mut(&linkedid)?;
            let cause = format!(
                "{} {}",
                e.get_str("Cause").unwrap_or("?"),
                e.get_str("Cause-txt").unwrap_or_default()
            );
            match call.channels.iter_mut().find(|(c, _)| *c == channel) {
                Some((_, slot)) => *slot = Some(cause),
                // A channel from before we started listening.
                None => call.channels.push((channel, Some(cause))),
            }
            if call.is_over() {
                return self.calls.remove_entry(&linkedid);
            }
        }
        None
    }
}

fn report(linkedid: &str, call: &Call) {
    println!(
        "call {linkedid}: {} channel(s), {:.1?}",
        call.channels.len(),
        call.started.elapsed()
    );
    for (channel, cause) in &call.channels {
        println!(
            "    {channel:<36} hangup cause {}",
            cause.as_deref().unwrap_or("?")
        );
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
    let mut events = client.events_matching_with(
        EventFilter::names(["Newchannel", "Hangup"]),
        Overflow::Lossless,
    );
    let mut tracker = Tracker::default();

    let mut expected = None;
    if sim.is_some() {
        // Two calls of two Local/ channels each, hanging up after 1 and 2 s.
        for secs in ["1", "2"] {
            let call = Action::originate("Local/100@default")
                .header("Application", "Wait")
                .header("Data", secs);
            let answered = client.originate(call).await?;
            println!("originated call {}", answered.unique_id().unwrap_or("?"));
        }
        expected = Some(2);
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut finished = 0;
    loop {
        tokio::select! {
            item = events.recv() => match item {
                Some(EventItem::Event(e)) => {
                    if let Some((linkedid, call)) = tracker.apply(&e) {
                        report(&linkedid, &call);
                        finished += 1;
                        if expected == Some(finished) {
                            break;
                        }
                    }
                }
                Some(EventItem::Reconnected { .. }) => {
                    // Hangups sent while disconnected are lost: forget open calls.
                    tracker = Tracker::default();
                }
                Some(_) => {}
                None => break,
            },
            _ = &mut ctrl_c => break,
            // Against the simulator, never wait for ever.
            _ = tokio::time::sleep(Duration::from_secs(10)), if expected.is_some() => break,
        }
    }
    println!("{} call(s) still up", tracker.calls.len());
    client.logoff().await?;
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}
