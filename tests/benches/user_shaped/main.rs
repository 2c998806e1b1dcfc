//! What a user gets: each client program written the way users write it,
//! with the library's defaults, in its own process, against the `ami-load`
//! server in another process on loopback, beside a raw-socket baseline in
//! the same run.
//!
//! ```text
//! cargo bench -p amiproto-testkit --bench user_shaped
//! ```
//!
//! Rows (each run is a fresh `ami-load` and a fresh client process; rounds
//! interleave every row, baselines included; the table gives medians):
//! - events: `ami-load events` writes the event packets of
//!   `tests/data/asterisk-22.10.1/13-event-flood.server.bin` (377 B on
//!   average) in 4 MiB blocks, then `Event: BenchEnd`; the raw socket, the
//!   tokio client (`#[tokio::main]`, `connect_url`, the stream `connect`
//!   returns) and the blocking client (`connect`, `events()`) count them;
//! - calls: `ami-load ping` answers every action; the raw socket
//!   (pre-encoded Pings), the tokio client (a task per call, at most 256 in
//!   flight; and one task driving `FuturesUnordered`) and the blocking
//!   client (`submit`/`wait`, 256 in flight) send Pings; beside the tokio
//!   rows, the tokio floor (`tokio_floor.rs`: the same two program shapes
//!   around a driver task that only writes pre-encoded Pings and completes
//!   callers in order, no protocol) shows what of their cost is tokio's own.
//!
//! CPU per item is the user + system time of the whole client process
//! (`getrusage` of the waited child) divided by the items it counted.
//!
//! Knobs (environment): `AMI_BENCH_ROUNDS` (5), `AMI_BENCH_EVENTS`
//! (1,000,000 per client run), `AMI_BENCH_RAW_EVENTS` (10,000,000),
//! `AMI_BENCH_CALLS` (300,000), `AMI_BENCH_RAW_CALLS` (2,000,000),
//! `AMI_BENCH_WINDOW` (256), `AMI_BENCH_ONLY` (row ids, comma-separated:
//! `tokio-events,std-events,tokio-ping,tokio-unordered,tokio-floor-ping,
//! tokio-floor-unordered,std-ping`; the baselines always run).
//!
//! Run without `--bench` (`cargo test --benches`), it is a smoke test: one
//! small round, failing on any incomplete run.
//!
//! The same binary is the client programs: `user_shaped client
//! (tokio|std|raw|tokio-floor) MODE PORT [N WINDOW]`.

mod harness;
mod process;
mod raw_client;
mod report;
mod std_client;
mod tokio_client;
mod tokio_floor;

use std::path::PathBuf;
use std::process::ExitCode;

use report::{Measured, Row};

/// One row of the table.
struct Spec {
    id: &'static str,
    label: &'static str,
    /// Program for `user_shaped client`.
    program: &'static str,
    mode: &'static str,
    events: bool,
    /// The row whose ratio this is measured against (`None`: a baseline).
    baseline: Option<&'static str>,
}

const SPECS: &[Spec] = &[
    Spec {
        id: "raw-events",
        label: "raw socket, events (baseline)",
        program: "raw",
        mode: "events",
        events: true,
        baseline: None,
    },
    Spec {
        id: "tokio-events",
        label: "tokio, events (connect_url's stream)",
        program: "tokio",
        mode: "events",
        events: true,
        baseline: Some("raw-events"),
    },
    Spec {
        id: "std-events",
        label: "std, events (events())",
        program: "std",
        mode: "events",
        events: true,
        baseline: Some("raw-events"),
    },
    Spec {
        id: "raw-ping",
        label: "raw socket, pipelined Ping (baseline)",
        program: "raw",
        mode: "ping",
        events: false,
        baseline: None,
    },
    Spec {
        id: "tokio-ping",
        label: "tokio, Ping, a task per call",
        program: "tokio",
        mode: "ping",
        events: false,
        baseline: Some("raw-ping"),
    },
    Spec {
        id: "tokio-unordered",
        label: "tokio, Ping, one task + FuturesUnordered",
        program: "tokio",
        mode: "ping-unordered",
        events: false,
        baseline: Some("raw-ping"),
    },
    Spec {
        id: "tokio-floor-ping",
        label: "tokio floor, a task per call (no protocol)",
        program: "tokio-floor",
        mode: "ping",
        events: false,
        baseline: Some("raw-ping"),
    },
    Spec {
        id: "tokio-floor-unordered",
        label: "tokio floor, one task + FuturesUnordered (no protocol)",
        program: "tokio-floor",
        mode: "ping-unordered",
        events: false,
        baseline: Some("raw-ping"),
    },
    Spec {
        id: "std-ping",
        label: "std, Ping, submit/wait",
        program: "std",
        mode: "ping",
        events: false,
        baseline: Some("raw-ping"),
    },
];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("client") {
        let rest = &args[3.min(args.len())..];
        return match args.get(2).map(String::as_str) {
            Some("tokio") => tokio_client::main(rest),
            Some("std") => std_client::main(rest),
            Some("raw") => raw_client::main(rest),
            Some("tokio-floor") => tokio_floor::main(rest),
            _ => {
                eprintln!(
                    "usage: user_shaped client (tokio|std|raw|tokio-floor) MODE PORT [N WINDOW]"
                );
                ExitCode::from(2)
            }
        };
    }
    let full = args.iter().any(|a| a == "--bench");
    orchestrate(full)
}

fn orchestrate(full: bool) -> ExitCode {
    let (rounds, events, raw_events, calls, raw_calls) = if full {
        (
            env_u64("AMI_BENCH_ROUNDS", 5),
            env_u64("AMI_BENCH_EVENTS", 1_000_000),
            env_u64("AMI_BENCH_RAW_EVENTS", 10_000_000),
            env_u64("AMI_BENCH_CALLS", 300_000),
            env_u64("AMI_BENCH_RAW_CALLS", 2_000_000),
        )
    } else {
        // Fewer events than the lossy queue holds: none may be missing.
        (1, 10_000, 10_000, 5_000, 20_000)
    };
    let window = env_u64("AMI_BENCH_WINDOW", 256).max(1);
    let only = std::env::var("AMI_BENCH_ONLY").unwrap_or_default();
    let wanted = |s: &Spec| {
        s.baseline.is_none() || only.is_empty() || only.split(',').any(|o| o.trim() == s.id)
    };
    let specs: Vec<&Spec> = SPECS.iter().filter(|s| wanted(s)).collect();

    let me = std::env::current_exe().expect("own path");
    let ami_load = PathBuf::from(env!("CARGO_BIN_EXE_ami-load"));
    let corpus = amiproto_testkit::load::Corpus::flood_capture().expect("the flood capture");

    let mut measured: Vec<Measured> = specs.iter().map(|_| Measured::default()).collect();
    let mut loads = Vec::new();
    eprintln!(
        "user-shaped bench: {rounds} rounds; events {events} per client run ({raw_events} raw), \
         Pings {calls} ({raw_calls} raw), window {window}"
    );
    for round in 1..=rounds {
        loads.push(report::load_average());
        for (spec, m) in specs.iter().zip(&mut measured) {
            let n = match (spec.events, spec.baseline.is_none()) {
                (true, true) => raw_events,
                (true, false) => events,
                (false, true) => raw_calls,
                (false, false) => calls,
            };
            let server_args: Vec<String> = if spec.events {
                vec!["events".into(), "--events".into(), n.to_string()]
            } else {
                vec!["ping".into()]
            };
            let extra: Vec<String> = if spec.events {
                Vec::new()
            } else {
                vec![n.to_string(), window.to_string()]
            };
            let client = [
                me.display().to_string(),
                "client".into(),
                spec.program.into(),
            ];
            match process::run(&ami_load, &server_args, &client, spec.mode, &extra) {
                Ok(run) => {
                    eprintln!(
                        "round {round} {:<16} {:>12.0}/s  {:>8.3} µs CPU/item{}",
                        spec.id,
                        run.rate(),
                        run.cpu_per_item().as_secs_f64() * 1e6,
                        if run.missing > 0 {
                            format!("  ({} missing)", run.missing)
                        } else {
                            String::new()
                        }
                    );
                    m.runs.push(run);
                }
                Err(e) => {
                    eprintln!("round {round} {}: FAILED: {e}", spec.id);
                    m.failures.push(e);
                }
            }
        }
    }
    loads.push(report::load_average());

    let rows: Vec<Row> = specs
        .iter()
        .zip(&measured)
        .map(|(s, m)| Row {
            id: s.id,
            label: s.label,
            unit: if s.events { "events/s" } else { "calls/s" },
            baseline: s.baseline,
            measured: m,
        })
        .collect();
    print!(
        "{}",
        report::table(
            &rows,
            &format!(
                "user-shaped, separate processes on loopback; {} rounds; events: 13-event-flood \
                 ({} events, {:.0} B average) repeated; window {window}",
                rounds,
                corpus.events(),
                corpus.mean_len()
            ),
            &loads
        )
    );
    let failed = measured
        .iter()
        .any(|m| !m.failures.is_empty() || m.runs.is_empty());
    if failed {
        eprintln!("some runs failed (see above)");
        return ExitCode::FAILURE;
    }
    if !full
        && measured
            .iter()
            .any(|m| m.runs.iter().any(|r| r.missing > 0))
    {
        eprintln!("smoke run: a client missed events or calls");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
