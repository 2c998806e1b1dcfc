//! The subcommands that talk to a server: each sends its action, prints the
//! answer and says whether it succeeded.

use std::time::Duration;

use amiproto::{Action, ActionError, Outcome, Packet};
use amiproto_tokio::{Client, Error, EventItem, EventStream};

use crate::failure::Failure;
use crate::output::Printer;
use crate::progress::Spinner;

/// An action named `name` with `headers` in order, checked for anything the
/// encoder refuses (a usage error: nothing is sent).
pub fn build_action(name: &str, headers: &[(String, String)]) -> Result<Action, Failure> {
    let mut action = Action::new(name.to_owned());
    for (k, v) in headers {
        action = action.header(k.clone(), v.clone());
    }
    checked(action)
}

/// `action` if it can be encoded, a usage error otherwise.
pub fn checked(action: Action) -> Result<Action, Failure> {
    match action.to_bytes() {
        Ok(_) => Ok(action),
        Err(e) => Err(Failure::Usage(format!("cannot send this action: {e}"))),
    }
}

/// `ping`: the round trip, or the response packet with `--json`.
pub async fn ping(client: &Client, out: Printer) -> Result<(), Failure> {
    let start = tokio::time::Instant::now();
    let outcome = client.send(Action::ping()).await.map_err(failed(out))?;
    let rtt = start.elapsed();
    if out.is_json() {
        print(out.packet(outcome.packet()))
    } else {
        let version = client
            .status()
            .version
            .map_or_else(|| "unknown".to_owned(), |v| v.to_string());
        print(out.note(&format!("Pong in {rtt:?} (AMI {version})")))
    }
}

/// `action`: whatever the outcome, printed in full.
pub async fn action(client: &Client, action: Action, out: Printer) -> Result<(), Failure> {
    let spinner = Spinner::start(format!("waiting for {}…", action.name()));
    let outcome = client.send(action).await;
    drop(spinner);
    match outcome.map_err(failed(out))? {
        Outcome::List(l) => {
            print(out.packet(&l.response))?;
            for item in &l.items {
                print(out.packet(item))?;
            }
            print(out.packet(&l.complete))
        }
        Outcome::Command(c) => print(out.command(&c)),
        Outcome::Originate(o) => {
            print(out.packet(&o.response))?;
            print(out.packet(&o.event))?;
            originate_result(&o)
        }
        other => print(out.packet(other.packet())),
    }
}

/// `command`: the CLI output.
pub async fn command(client: &Client, line: &str, out: Printer) -> Result<(), Failure> {
    let spinner = Spinner::start(format!("running {line:?}…"));
    let result = client.command(line).await;
    drop(spinner);
    print(out.command(&result.map_err(failed(out))?))
}

/// `list`: response, items and completion event.
pub async fn list(client: &Client, action: Action, out: Printer) -> Result<(), Failure> {
    let name = action.name().to_owned();
    let spinner = Spinner::start(format!("waiting for the {name} list…"));
    let result = client.list(action).await;
    drop(spinner);
    let list = match result {
        Err(Error::UnexpectedOutcome { .. }) => {
            return Err(Failure::Server(format!(
                "{name} did not answer with an event list (try `ami action {name}`)"
            )))
        }
        r => r.map_err(failed(out))?,
    };
    print(out.packet(&list.response))?;
    for item in &list.items {
        print(out.packet(item))?;
    }
    print(out.packet(&list.complete))?;
    if !out.is_json() {
        eprintln!("{} item(s)", list.items.len());
    }
    Ok(())
}

/// `originate`: the response and the `OriginateResponse` event; fails
/// unless the call was answered.
pub async fn originate(
    client: &Client,
    action: Action,
    timeout: Option<Duration>,
    ring: Duration,
    out: Printer,
) -> Result<(), Failure> {
    let spinner = Spinner::start("calling…");
    // The answer comes once the call is answered or gives up ringing.
    let timeout = timeout.map(|t| t + ring);
    let result = client.send_timeout(action.async_originate(), timeout).await;
    drop(spinner);
    match result.map_err(failed(out))? {
        Outcome::Originate(o) => {
            print(out.packet(&o.response))?;
            print(out.packet(&o.event))?;
            originate_result(&o)
        }
        other => {
            print(out.packet(other.packet()))?;
            Err(Failure::Server("no OriginateResponse for this call".into()))
        }
    }
}

/// `events`: every unclaimed packet (or those named), until `count`, Ctrl-C
/// or the end of the connection.
pub async fn events(
    client: &Client,
    mut stream: EventStream,
    names: &[String],
    count: Option<u64>,
    out: Printer,
) -> Result<(), Failure> {
    let wanted = |p: &Packet| names.is_empty() || names.iter().any(|n| p.is_event(n));
    let mut seen = 0u64;
    if count == Some(0) {
        return Ok(());
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            item = stream.recv() => match item {
                Some(EventItem::Event(p)) if wanted(&p) => {
                    print(out.packet(&p))?;
                    seen += 1;
                    if Some(seen) == count {
                        return Ok(());
                    }
                }
                Some(EventItem::Event(_)) => {}
                Some(EventItem::Lagged(n)) => eprintln!("ami: {n} event(s) dropped (output too slow)"),
                Some(EventItem::Skipped(e)) => eprintln!("ami: a packet was skipped: {e}"),
                Some(other) => eprintln!("ami: {other:?}"),
                None => {
                    let why = client.status().last_close.map(|r| r.to_string());
                    return Err(Failure::Server(format!(
                        "connection closed{}",
                        why.map(|w| format!(": {w}")).unwrap_or_default()
                    )));
                }
            },
            _ = &mut ctrl_c => return Ok(()),
        }
    }
}

/// Success only for an answered call.
fn originate_result(o: &amiproto::OriginateOutcome) -> Result<(), Failure> {
    if o.is_success() {
        Ok(())
    } else {
        Err(Failure::Server(format!(
            "the call failed (Reason: {})",
            o.reason()
                .map_or_else(|| "unknown".to_owned(), |r| r.to_string())
        )))
    }
}

/// A client error, with the server's refusal printed first (it is the
/// answer the user asked for).
fn failed(out: Printer) -> impl Fn(Error) -> Failure {
    move |e| {
        if let Error::Action(ActionError::Server { response, .. }) = &e {
            let _ = out.packet(response);
        }
        Failure::from(e)
    }
}

/// A write to stdout; a closed pipe ends the command quietly.
fn print(r: std::io::Result<()>) -> Result<(), Failure> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Server(format!("cannot write output: {e}"))),
    }
}
