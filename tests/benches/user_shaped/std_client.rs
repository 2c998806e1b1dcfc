//! The blocking client as a user writes it: `amiproto_std::connect` with
//! its defaults (MD5 login, `Events: on`, 10 s action timeout, the lossy
//! event queue of 16 384), events through `Client::events()`, actions
//! pipelined with `submit`/`wait` and at most WINDOW in flight, all on the
//! main thread. Nothing is tuned.
//!
//! ```text
//! events PORT          count events until Event: BenchEnd
//! ping PORT N WINDOW   N Pings, pipelined
//! ```
//!
//! One JSON line on stdout, the contract of the side-by-side harness
//! (`../shared/bench`). Self-contained (it is also compiled into that
//! harness by `scripts/bench-peers.sh`).

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use amiproto_std::{connect, Action, EventItem, Outcome};

/// Give up when nothing has moved for this long (a dropped marker, a
/// stalled server).
const STALL: Duration = Duration::from_secs(10);

fn lib() -> String {
    format!(
        "rust:amiproto-std{}",
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
        eprintln!("usage: (events PORT | ping PORT N WINDOW)");
        return ExitCode::from(2);
    };
    let line = match arg(0) {
        Some("events") => events(port),
        Some("ping") => ping(port, num(2, 100_000), num(3, 256).max(1)),
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

fn events(port: u16) -> String {
    let verify = std::env::var_os("BENCH_VERIFY").is_some_and(|v| !v.is_empty());
    let progress = Arc::new(AtomicU64::new(0));
    watchdog(progress.clone());
    let t0 = Instant::now();
    // Events that arrive with the login response are queued by connect.
    let mut client = connect(&url(port)).expect("connect, log in");
    let (mut n, mut lagged, mut lag_errors, mut skipped, mut cid) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut complete = false;
    for item in client.events() {
        match item {
            Ok(EventItem::Event(ev)) => {
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
            Ok(EventItem::Lagged(k)) => {
                lagged += k;
                lag_errors += 1;
            }
            Ok(EventItem::Skipped(_)) => skipped += 1,
            Ok(_) => {}
            Err(e) => {
                eprintln!("connection ended: {e}");
                break;
            }
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

fn is_pong(r: &Result<Outcome, amiproto_std::Error>) -> bool {
    matches!(r, Ok(Outcome::Response(p)) if p.get_str("Ping") == Some("Pong"))
}

fn ping(port: u16, n: u64, window: u64) -> String {
    let mut client = connect(&url(port)).expect("connect, log in");
    let progress = Arc::new(AtomicU64::new(0));
    watchdog(progress.clone());
    let t0 = Instant::now();
    let mut ok = 0u64;
    let mut in_flight = VecDeque::with_capacity(window as usize);
    for i in 0..n {
        if in_flight.len() as u64 >= window {
            let h = in_flight.pop_front().expect("non-empty");
            ok += is_pong(&client.wait(h)) as u64;
            progress.store(i, Ordering::Relaxed);
        }
        in_flight.push_back(client.submit(Action::ping()).expect("submit"));
    }
    while let Some(h) = in_flight.pop_front() {
        ok += is_pong(&client.wait(h)) as u64;
    }
    let secs = t0.elapsed().as_secs_f64();
    format!(
        "{{\"lib\":\"{}\",\"actions\":{ok},\"seconds\":{secs:.6},\"actions_per_s\":{:.1},\"complete\":{},\"concurrency\":\"window {window} (submit/wait, one thread)\"}}",
        lib(),
        ok as f64 / secs,
        ok == n
    )
}
