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
//! (`../shared/bench`), written by [`crate::harness`]. Depends on
//! `amiproto-std` and that module only (both are also compiled into that
//! harness by `scripts/bench-peers.sh`).

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use amiproto_std::{connect, Action, EventItem, Outcome};

use crate::harness::{self, EventTally};

const LIB: &str = "amiproto-std";

/// Run the mode named by `args` (without the program name).
pub fn main(args: &[String]) -> ExitCode {
    let (mode, port, n, window) = match harness::parse(args, "(events PORT | ping PORT N WINDOW)") {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    match mode.as_str() {
        "events" => harness::finish(events(port)),
        "ping" => harness::finish(ping(port, n, window)),
        _ => harness::unknown_mode(),
    }
}

fn events(port: u16) -> String {
    let mut tally = EventTally::start();
    // Events that arrive with the login response are queued by connect.
    let mut client = connect(&harness::url(port)).expect("connect, log in");
    for item in client.events() {
        match item {
            Ok(EventItem::Event(ev)) => {
                let Some(name) = ev.event() else { continue };
                let cid = || ev.get_str("CallerIDName").map_or(0, str::len);
                if tally.event(&name, cid) {
                    break;
                }
            }
            Ok(EventItem::Lagged(k)) => tally.lagged(k),
            Ok(EventItem::Skipped(_)) => tally.skipped(),
            Ok(_) => {}
            Err(e) => {
                eprintln!("connection ended: {e}");
                break;
            }
        }
    }
    tally.line(LIB)
}

fn is_pong(r: &Result<Outcome, amiproto_std::Error>) -> bool {
    matches!(r, Ok(Outcome::Response(p)) if p.get_str("Ping") == Some("Pong"))
}

fn ping(port: u16, n: u64, window: u64) -> String {
    let mut client = connect(&harness::url(port)).expect("connect, log in");
    let progress = Arc::new(AtomicU64::new(0));
    harness::watchdog(progress.clone());
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
    harness::actions_line(
        LIB,
        ok,
        n,
        secs,
        &format!("window {window} (submit/wait, one thread)"),
    )
}
