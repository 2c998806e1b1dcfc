//! The tokio client as a user writes it: the default multi-thread runtime
//! (`#[tokio::main]`), `amiproto_tokio::connect_url` with its defaults
//! (MD5 login, `Events: on`, 10 s action timeout), the event stream that
//! `connect_url` returns (lossy, 16 384 events), and for actions either a
//! task per call (`tokio::spawn`, at most WINDOW in flight through a
//! semaphore) or one task driving the calls' futures in a
//! `FuturesUnordered`. Nothing is tuned.
//!
//! ```text
//! events PORT                    count events until Event: BenchEnd
//! ping PORT N WINDOW             N Pings, a task per call
//! ping-unordered PORT N WINDOW   N Pings, one task, FuturesUnordered
//! ```
//!
//! One JSON line on stdout, the contract of the side-by-side harness
//! (`../shared/bench`): `{"lib","events","seconds","events_per_s",
//! "complete",...}` or `{"lib","actions","seconds","actions_per_s",
//! "complete","concurrency"}`, written by [`crate::harness`]. Depends on
//! `amiproto-tokio`, tokio, futures-util and that module only (both are
//! also compiled into that harness by `scripts/bench-peers.sh`).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use amiproto_tokio::amiproto::{Action, Outcome};
use amiproto_tokio::{connect_url, EventItem};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Semaphore;

use crate::harness::{self, actions_line, watchdog, EventTally};

const LIB: &str = "amiproto-tokio";

/// Run the mode named by `args` (without the program name).
pub fn main(args: &[String]) -> ExitCode {
    let usage = "(events PORT | ping PORT N WINDOW | ping-unordered PORT N WINDOW)";
    let (mode, port, n, window) = match harness::parse(args, usage) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    match mode.as_str() {
        "events" => harness::finish(events(port)),
        "ping" => harness::finish(ping_task_per_call(port, n, window)),
        "ping-unordered" => harness::finish(ping_unordered(port, n, window)),
        _ => harness::unknown_mode(),
    }
}

#[tokio::main]
async fn events(port: u16) -> String {
    let mut tally = EventTally::start();
    // The stream from connect is opened before login: events that arrive
    // with the login response are in it.
    let url = harness::url(port);
    let (_client, mut events) = connect_url(&url).await.expect("connect, log in");
    while let Some(item) = events.recv().await {
        match item {
            EventItem::Event(ev) => {
                let Some(name) = ev.event() else { continue };
                let cid = || ev.get_str("CallerIDName").map_or(0, str::len);
                if tally.event(&name, cid) {
                    break;
                }
            }
            EventItem::Lagged(k) => tally.lagged(k),
            EventItem::Skipped(_) => tally.skipped(),
            _ => {}
        }
    }
    tally.line(LIB)
}

fn is_pong(r: &Result<Outcome, amiproto_tokio::Error>) -> bool {
    matches!(r, Ok(Outcome::Response(p)) if p.get_str("Ping") == Some("Pong"))
}

#[tokio::main]
async fn ping_task_per_call(port: u16, n: u64, window: u64) -> String {
    // Keep the event stream, as a user would (only FullyBooted arrives).
    let (client, _events) = connect_url(&harness::url(port))
        .await
        .expect("connect, log in");
    let ok = Arc::new(AtomicU64::new(0));
    watchdog(ok.clone());
    let in_flight = Arc::new(Semaphore::new(window as usize));
    let t0 = Instant::now();
    for _ in 0..n {
        let permit = in_flight.clone().acquire_owned().await.expect("open");
        let client = client.clone();
        let ok = ok.clone();
        tokio::spawn(async move {
            if is_pong(&client.send(Action::ping()).await) {
                ok.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        });
    }
    // Every permit back: every call has ended.
    let _all = in_flight.acquire_many(window as u32).await.expect("open");
    let secs = t0.elapsed().as_secs_f64();
    actions_line(
        LIB,
        ok.load(Ordering::Relaxed),
        n,
        secs,
        &format!("window {window} (a tokio task per call + semaphore)"),
    )
}

#[tokio::main]
async fn ping_unordered(port: u16, n: u64, window: u64) -> String {
    let (client, _events) = connect_url(&harness::url(port))
        .await
        .expect("connect, log in");
    let progress = Arc::new(AtomicU64::new(0));
    watchdog(progress.clone());
    let t0 = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let (mut sent, mut done, mut ok) = (0u64, 0u64, 0u64);
    while done < n {
        while sent < n && (in_flight.len() as u64) < window {
            in_flight.push(client.send(Action::ping()));
            sent += 1;
        }
        if let Some(r) = in_flight.next().await {
            done += 1;
            ok += is_pong(&r) as u64;
            progress.store(done, Ordering::Relaxed);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    actions_line(
        LIB,
        ok,
        n,
        secs,
        &format!("window {window} (one task, FuturesUnordered)"),
    )
}
