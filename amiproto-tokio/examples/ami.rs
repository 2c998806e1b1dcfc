//! `ami`: a tour of the client, or a small AMI command-line tool.
//!
//! With no arguments it starts the test kit's simulated Asterisk in-process
//! and shows the AMI version, a Ping round trip, `core show version`, a
//! `CoreShowChannels` list, an async Originate with its events as JSON lines,
//! and Logoff:
//!
//! ```text
//! cargo run --example ami
//! ```
//!
//! With a URL and a subcommand it drives a real Asterisk:
//!
//! ```text
//! cargo run --example ami -- ami://admin:secret@127.0.0.1:5038 ping
//! cargo run --example ami -- ami://admin:secret@pbx action CoreStatus
//! cargo run --example ami -- ami://admin:secret@pbx action Getvar Variable=FOO
//! cargo run --example ami -- ami://admin:secret@pbx command "core show channels"
//! cargo run --example ami -- ami://admin:secret@pbx events --name Newchannel --name Hangup
//! ```

use std::process::ExitCode;
use std::time::Duration;

use amiproto::{Action, Outcome, Packet};
use amiproto_testkit::{SimConfig, Simulator};
use amiproto_tokio::{connect, Client, ClientConfig, Error, EventFilter, EventItem, EventStream};
use serde_json::Value;

/// A packet as one JSON object, keys in wire order; repeated keys become
/// arrays.
fn to_json(p: &Packet) -> String {
    let mut fields: Vec<(String, Value)> = Vec::new();
    for h in p.headers() {
        let k = h.key_str().into_owned();
        let v = Value::String(h.value().decode_text().into_owned());
        match fields.iter_mut().find(|(name, _)| *name == k) {
            Some((_, Value::Array(a))) => a.push(v),
            Some((_, old)) => {
                let first = old.take();
                *old = Value::Array(vec![first, v]);
            }
            None => fields.push((k, v)),
        }
    }
    if let Some(body) = p.body() {
        let body = String::from_utf8_lossy(body).into_owned();
        fields.push(("__body".into(), Value::String(body)));
    }
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v))
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: ami                                   (demo against a simulated Asterisk)\n       \
         ami URL ping\n       \
         ami URL action Name [Key=Value ...]\n       \
         ami URL command \"core show version\"\n       \
         ami URL events [--name EventName ...]\n\
         URL: ami://user:secret@host[:port][?events=off]  or  amis://... for TLS"
    );
    ExitCode::from(2)
}

/// One line explaining a connect failure, with a hint.
fn explain(e: &Error) -> String {
    match e {
        Error::Url(u) => format!("bad URL: {u}"),
        Error::Connect { host, port, source } => {
            format!("cannot connect to {host}:{port}: {source} (is Asterisk running with manager enabled?)")
        }
        Error::Connection(amiproto::ConnectionError::ChallengeRefused { message }) => format!(
            "the server refused the MD5 challenge ({message}); add ?auth=plain to the URL \
             to send the secret in the clear instead"
        ),
        e if e.is_auth_failed() => format!(
            "login refused: {} (check the user and secret in manager.conf)",
            e.server_message().unwrap_or("authentication failed")
        ),
        e => e.to_string(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None => demo().await,
        Some("-h" | "--help") => return usage(),
        Some(url) => {
            let Some(sub) = args.get(1) else {
                return usage();
            };
            cli(url, sub, &args[2..]).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", explain(&e));
            ExitCode::FAILURE
        }
    }
}

async fn demo() -> Result<(), Error> {
    let sim = Simulator::start(SimConfig::default())
        .await
        .map_err(|e| Error::Connect {
            host: "127.0.0.1".into(),
            port: 0,
            source: e,
        })?;
    println!("simulated Asterisk listening on {}", sim.addr());
    let (client, mut events) = connect(ClientConfig::from_url(&sim.url())?).await?;
    let status = client.status();
    match status.version {
        Some(v) => println!("AMI version: {v:?}"),
        None => println!("AMI version: unknown"),
    }
    // Start-up events (FullyBooted) are already in the stream opened before login.
    while let Some(item) = events.try_recv() {
        if let EventItem::Event(p) = item {
            println!("start-up event: {}", to_json(&p));
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
        println!("  {}", to_json(item));
    }

    println!("async Originate Local/100@default, events as JSON lines:");
    let originate = Action::originate("Local/100@default")
        .header("Context", "default")
        .header("Exten", "100")
        .header("Priority", "1");
    let mut call_events = events;
    let outcome = {
        let fut = client.originate(originate);
        tokio::pin!(fut);
        loop {
            tokio::select! {
                r = &mut fut => break r?,
                Some(item) = call_events.recv() => print_item(item),
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
    while let Ok(Some(item)) = tokio::time::timeout_at(until, call_events.recv()).await {
        print_item(item);
    }

    client.logoff().await?;
    println!("logged off: {:?}", client.status().state);
    sim.shutdown().await;
    Ok(())
}

fn print_item(item: EventItem) {
    match item {
        EventItem::Event(p) => println!("{}", to_json(&p)),
        EventItem::Lagged(n) => eprintln!("(lagged: {n} events dropped)"),
        other => eprintln!("({other:?})"),
    }
}

async fn cli(url: &str, sub: &str, rest: &[String]) -> Result<(), Error> {
    let config = ClientConfig::from_url(url)?;
    let (client, events) = connect(config).await?;
    let r = run_sub(&client, events, sub, rest).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), client.logoff()).await;
    r
}

async fn run_sub(
    client: &Client,
    events: EventStream,
    sub: &str,
    rest: &[String],
) -> Result<(), Error> {
    match sub {
        "ping" => {
            let rtt = client.ping().await?;
            println!("Pong in {rtt:?}");
        }
        "command" => {
            let cmd = rest.join(" ");
            let out = client.command(&cmd).await?;
            println!("{}", out.text());
        }
        "action" => {
            let Some(name) = rest.first() else {
                eprintln!("action needs a name");
                return Ok(());
            };
            let mut action = Action::new(name.clone());
            for kv in &rest[1..] {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                action = action.header(k.to_owned(), v.to_owned());
            }
            match client.send(action).await {
                Ok(Outcome::List(l)) => {
                    println!("{}", to_json(&l.response));
                    for i in &l.items {
                        println!("{}", to_json(i));
                    }
                    println!("{}", to_json(&l.complete));
                }
                Ok(Outcome::Command(c)) => println!("{}", c.text()),
                Ok(Outcome::Originate(o)) => {
                    println!("{}", to_json(&o.response));
                    println!("{}", to_json(&o.event));
                }
                Ok(other) => println!("{}", to_json(other.packet())),
                Err(Error::Action(amiproto::ActionError::Server { response, .. })) => {
                    println!("{}", to_json(&response));
                }
                Err(e) => return Err(e),
            }
        }
        "events" => {
            let names: Vec<String> = rest
                .chunks(2)
                .filter(|c| c[0] == "--name" && c.len() == 2)
                .map(|c| c[1].clone())
                .collect();
            drop(events);
            let mut stream = if names.is_empty() {
                client.events()
            } else {
                client.events_matching(EventFilter::names(names))
            };
            eprintln!("tailing events; Ctrl-C to stop");
            loop {
                tokio::select! {
                    item = stream.recv() => match item {
                        Some(item) => print_item(item),
                        None => break,
                    },
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
        }
        other => {
            eprintln!("unknown subcommand {other:?}");
            usage();
        }
    }
    Ok(())
}
