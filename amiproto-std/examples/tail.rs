//! Tail AMI events as JSON lines.
//!
//! ```text
//! cargo run -p amiproto-std --example tail [URL]
//! ```
//!
//! With a URL (`ami://user:secret@host[:port][?events=call,system]`) it
//! prints every event, one JSON object per line, until the connection ends
//! (Ctrl-C to stop). Without one it starts the test kit's simulated Asterisk,
//! originates a call on it and pushes a few events of its own, prints what
//! arrives, and stops after a quiet second.
//!
//! A header that appears more than once becomes an array of its values.
#![allow(clippy::result_large_err)]

use std::process::ExitCode;
use std::time::Duration;

use amiproto::{Action, Packet};
use amiproto_std::{Client, ClientConfig, Error, EventItem, Overflow};
use amiproto_testkit::{BlockingSimulator, SimConfig};
use serde_json::{Map, Value};

fn to_json(packet: &Packet) -> Value {
    let mut map = Map::new();
    for h in packet.headers() {
        let key = h.key_str().into_owned();
        let value = Value::String(h.value().decode_text().into_owned());
        match map.get_mut(&key) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                map.insert(key, value);
            }
        }
    }
    Value::Object(map)
}

fn run(
    url: &str,
    quiet_stop: Option<Duration>,
    sim: Option<&BlockingSimulator>,
) -> Result<(), Error> {
    let cfg = ClientConfig::from_url(url)?.events(Overflow::Lossless);
    let mut client = Client::connect(cfg)?;
    eprintln!(
        "connected to {} (AMI {})",
        url.rsplit('@').next().unwrap_or(url),
        client.banner().map(|b| b.version_str()).unwrap_or_default()
    );
    if let Some(sim) = sim {
        // Something to watch: a call, and a few events of our own.
        let call = Action::originate("Local/200@default")
            .header("Application", "Wait")
            .header("Data", "1")
            .async_originate();
        client.submit_with(call, amiproto::SendOptions::new().no_reply())?;
        for n in 1..=3 {
            let event = Packet::builder()
                .header("Event", "UserEvent")
                .header("Privilege", "user,all")
                .header("UserEvent", "TailDemo")
                .header("Sequence", n.to_string())
                .build()
                .expect("a valid packet");
            sim.push_event(event);
        }
        client.flush()?;
    }
    loop {
        match client.next_event(quiet_stop) {
            Ok(Some(EventItem::Event(p))) => println!("{}", to_json(&p)),
            Ok(Some(EventItem::Lagged(n))) => eprintln!("lagged: {n} events dropped"),
            Ok(Some(other)) => eprintln!("{other:?}"),
            Ok(None) => break,
            Err(Error::Closed(reason)) => {
                eprintln!("connection closed: {reason}");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    client.logoff()
}

fn main() -> ExitCode {
    let result = match std::env::args().nth(1) {
        Some(url) => run(&url, None, None),
        None => match BlockingSimulator::start(SimConfig::default()) {
            Ok(sim) => run(&sim.url(), Some(Duration::from_secs(1)), Some(&sim)),
            Err(e) => {
                eprintln!("cannot start the simulator: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
