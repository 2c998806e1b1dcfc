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
//! "complete","concurrency"}`. Self-contained (it is also compiled into
//! that harness by `scripts/bench-peers.sh`).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use amiproto_tokio::amiproto::{Action, Outcome};
use amiproto_tokio::{connect_url, EventItem};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Semaphore;

/// Give up when nothing has moved for this long (a dropped marker, a
/// stalled server).
const STALL: Duration = Duration::from_secs(10);

fn lib() -> String {
    format!(
        "rust:amiproto-tokio{}",
        option_env!("AMIPROTO_REV").map_or(String::new(), |r| format!("+{r}"))
    )
}

fn url(port: u16) -> String {
    format!("ami://bench:bench@127.0.0.1:{port}")
}

/// Run the mode named by `args` (without the program name).
pub fn main(args: &[String]) -> ExitCode {
    let arg = |i: usize| args.get(i).map(String::as_str);
    let num = |i: usize, default: u64| arg(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let Some(port) = arg(1).and_then(|p| p.parse().ok()) else {
        eprintln!("usage: (events PORT | ping PORT N WINDOW | ping-unordered PORT N WINDOW)");
        return ExitCode::from(2);
    };
    let line = match arg(0) {
        Some("events") => events(port),
        Some("ping") => ping_task_per_call(port, num(2, 100_000), num(3, 256).max(1)),
        Some("ping-unordered") => ping_unordered(port, num(2, 100_000), num(3, 256).max(1)),
        _ => {
            eprintln!("unknown mode");
            return ExitCode::from(2);
        }
    };
    println!("{line}");
    // Like the harness's other clients: exit at once, without logging off.
    std::process::exit(0)
}

/// Exits the process when `progress` stops moving for [`STALL`].
fn watchdog(progress: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        let mut last = u64::MAX;
        let mut since = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(250));
            let now = progress.load(Ordering::Relaxed);
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() > STALL {
                eprintln!("stalled at {now} for {STALL:?}");
                std::process::exit(3);
            }
        }
    });
}

#[tokio::main]
async fn events(port: u16) -> String {
    let verify = std::env::var_os("BENCH_VERIFY").is_some_and(|v| !v.is_empty());
    let progress = Arc::new(AtomicU64::new(0));
    watchdog(progress.clone());
    let t0 = Instant::now();
    // The stream from connect is opened before login: events that arrive
    // with the login response are in it.
    let (_client, mut events) = connect_url(&url(port)).await.expect("connect, log in");
    let (mut n, mut lagged, mut lag_errors, mut skipped, mut cid) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut complete = false;
    while let Some(item) = events.recv().await {
        match item {
            EventItem::Event(ev) => {
                let Some(name) = ev.event() else { continue };
                if name == "BenchEnd" {
                    complete = true;
                    break;
                }
                if name != "FullyBooted" {
                    n += 1;
                    progress.store(n, Ordering::Relaxed);
                    if verify {
                        cid += ev.get_str("CallerIDName").map_or(0, |v| v.len() as u64);
                    }
                }
            }
            EventItem::Lagged(k) => {
                lagged += k;
                lag_errors += 1;
            }
            EventItem::Skipped(_) => skipped += 1,
            _ => {}
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cid = if verify {
        format!(",\"cid_bytes\":{cid}")
    } else {
        String::new()
    };
    format!(
        "{{\"lib\":\"{}\",\"events\":{n},\"seconds\":{secs:.6},\"events_per_s\":{:.1},\"complete\":{complete},\"lagged_dropped\":{lagged},\"lag_errors\":{lag_errors},\"skipped\":{skipped}{cid}}}",
        lib(),
        n as f64 / secs
    )
}

fn is_pong(r: &Result<Outcome, amiproto_tokio::Error>) -> bool {
    matches!(r, Ok(Outcome::Response(p)) if p.get_str("Ping") == Some("Pong"))
}

fn actions_line(ok: u64, n: u64, secs: f64, concurrency: &str) -> String {
    format!(
        "{{\"lib\":\"{}\",\"actions\":{ok},\"seconds\":{secs:.6},\"actions_per_s\":{:.1},\"complete\":{},\"concurrency\":\"{concurrency}\"}}",
        lib(),
        ok as f64 / secs,
        ok == n
    )
}

#[tokio::main]
async fn ping_task_per_call(port: u16, n: u64, window: u64) -> String {
    // Keep the event stream, as a user would (only FullyBooted arrives).
    let (client, _events) = connect_url(&url(port)).await.expect("connect, log in");
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
        ok.load(Ordering::Relaxed),
        n,
        secs,
        &format!("window {window} (a tokio task per call + semaphore)"),
    )
}

#[tokio::main]
async fn ping_unordered(port: u16, n: u64, window: u64) -> String {
    let (client, _events) = connect_url(&url(port)).await.expect("connect, log in");
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
        ok,
        n,
        secs,
        &format!("window {window} (one task, FuturesUnordered)"),
    )
}
