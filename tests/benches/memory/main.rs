//! Memory as a user's program sees it, each measurement in a fresh client
//! process against the `ami-load` server in another process:
//!
//! - resident memory per idle connection: N logged-in clients (tokio: the
//!   default runtime, `connect_url`; std: `connect`), RSS after − RSS
//!   before, over N;
//! - resident memory per 100 000 events queued for a subscriber that does
//!   not read (lossless stream / queue), from a flood of the
//!   `13-event-flood` capture's events (377 B on average);
//! - a flood of 10 M events to a slow subscriber (1 ms nap every 100
//!   events) on the default lossy stream / queue: RSS sampled every 50 ms
//!   must stay flat (max − steady median ≤ 32 MiB), and delivered + lagged
//!   must equal what was sent, exactly.
//!
//! ```text
//! cargo bench -p amiproto-testkit --bench memory
//! ```
//!
//! Knobs (environment): `AMI_MEM_IDLE` (1000 connections),
//! `AMI_MEM_QUEUED` (100,000 events), `AMI_MEM_FLOOD` (10,000,000 events),
//! `AMI_MEM_ONLY` (ids, comma-separated: `idle-tokio,idle-std,
//! queued-tokio,queued-std,flood-tokio,flood-std`). Without `--bench`
//! (`cargo test --benches`) it is a smoke test with small counts. It exits
//! non-zero when a flood's RSS is not flat or its counts are not exact.

mod flood;
mod idle;
mod queued;
mod rss;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use serde_json::Value;

/// Allowed growth of a flood's RSS over its steady state.
const FLAT: u64 = 32 << 20;

const MIB: f64 = (1 << 20) as f64;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        let num = |i: usize| args.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        let (port, n) = (num(3) as u16, num(4));
        let out = match args.get(2).map(String::as_str) {
            Some("idle-tokio") => idle::tokio_clients(port, n),
            Some("idle-std") => idle::std_clients(port, n),
            Some("queued-tokio") => queued::tokio_lossless(port, n),
            Some("queued-std") => queued::std_lossless(port, n),
            Some("flood-tokio") => flood::tokio_slow(port, n),
            Some("flood-std") => flood::std_slow(port, n),
            _ => {
                eprintln!("usage: memory child WHAT PORT N");
                return ExitCode::from(2);
            }
        };
        println!("{out}");
        std::process::exit(0);
    }
    orchestrate(args.iter().any(|a| a == "--bench"))
}

/// Run `memory child WHAT PORT N` against a fresh `ami-load` started with
/// `server_args` (it serves `conns` connections); returns the child's line.
fn measure(what: &str, n: u64, server_args: &[String], conns: u64) -> Result<Value, String> {
    let ami_load = Path::new(env!("CARGO_BIN_EXE_ami-load"));
    let mut server = Command::new(ami_load)
        .arg("--max-conns")
        .arg(conns.to_string())
        .args(server_args)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut first = String::new();
    let mut out = BufReader::new(server.stdout.take().expect("piped"));
    let _ = out.read_line(&mut first);
    let port = serde_json::from_str::<Value>(&first)
        .ok()
        .and_then(|v| v["listening"].as_str().map(str::to_owned))
        .and_then(|a| a.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()));
    let result = match port {
        None => Err(format!("ami-load did not say its port: {first:?}")),
        Some(port) => {
            let me = std::env::current_exe().map_err(|e| e.to_string())?;
            let o = Command::new(me)
                .args(["child", what, &port.to_string(), &n.to_string()])
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&o.stdout);
            if !o.status.success() {
                Err(format!("{what}: exited with {}", o.status))
            } else {
                serde_json::from_str(text.lines().last().unwrap_or_default())
                    .map_err(|e| format!("{what}: {e}: {text:?}"))
            }
        }
    };
    // Our own child: ends once its clients have gone; stop it regardless.
    let _ = server.kill();
    let _ = server.wait();
    result
}

fn orchestrate(full: bool) -> ExitCode {
    let (idle, queued, flood) = if full {
        (
            env_u64("AMI_MEM_IDLE", 1000),
            env_u64("AMI_MEM_QUEUED", 100_000),
            env_u64("AMI_MEM_FLOOD", 10_000_000),
        )
    } else {
        (20, 5_000, 50_000)
    };
    let only = std::env::var("AMI_MEM_ONLY").unwrap_or_default();
    let wanted = |id: &str| only.is_empty() || only.split(',').any(|o| o.trim() == id);
    let events = |n: u64| vec!["events".to_string(), "--events".into(), n.to_string()];
    let ping = vec!["ping".to_string()];
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!("memory bench; load average {}", load.trim());

    let mut ok = true;
    let mut rows = Vec::new();
    for (id, n, server, conns) in [
        ("idle-tokio", idle, &ping, idle + 1),
        ("idle-std", idle, &ping, idle + 1),
        ("queued-tokio", queued, &events(queued), 1),
        ("queued-std", queued, &events(queued), 1),
        ("flood-tokio", flood, &events(flood), 1),
        ("flood-std", flood, &events(flood), 1),
    ] {
        if !wanted(id) {
            continue;
        }
        eprintln!("{id} ({n})…");
        match measure(id, n, server, conns) {
            Ok(v) => {
                eprintln!("{v}");
                let u = |k: &str| v[k].as_u64().unwrap_or(0);
                let row = match id {
                    "idle-tokio" | "idle-std" => format!(
                        "| {id}: RSS per idle connection ({n} connections) | {:.1} KiB | RSS {:.1} → {:.1} MiB |",
                        u("per_conn") as f64 / 1024.0,
                        u("rss_before") as f64 / MIB,
                        u("rss_after") as f64 / MIB
                    ),
                    "queued-tokio" | "queued-std" => {
                        if u("queued") < n {
                            ok = false;
                        }
                        format!(
                            "| {id}: RSS per 100 000 queued lossless events ({n} sent, {} queued) | {:.1} MiB | RSS {:.1} → {:.1} MiB |",
                            u("queued"),
                            u("per_100k") as f64 / MIB,
                            u("rss_before") as f64 / MIB,
                            u("rss_after") as f64 / MIB
                        )
                    }
                    _ => {
                        let growth = u("rss_max").saturating_sub(u("rss_steady"));
                        let flat = growth <= FLAT;
                        let exact = v["exact"] == Value::Bool(true);
                        ok &= flat && exact;
                        format!(
                            "| {id}: {n} events, slow lossy subscriber ({:.1} s) | max − steady {:.1} MiB ({}) | steady {:.1} MiB, max {:.1} MiB, first {:.1} → last {:.1} MiB, by tenths of the run [{}] MiB; delivered {} + lagged {} {} sent + 2 |",
                            v["seconds"].as_f64().unwrap_or(0.0),
                            growth as f64 / MIB,
                            if flat { "flat" } else { "NOT FLAT" },
                            u("rss_steady") as f64 / MIB,
                            u("rss_max") as f64 / MIB,
                            u("rss_first") as f64 / MIB,
                            u("rss_last") as f64 / MIB,
                            v["rss_tenths_mib"]
                                .as_array()
                                .map(|a| a
                                    .iter()
                                    .map(|x| format!("{:.0}", x.as_f64().unwrap_or(0.0)))
                                    .collect::<Vec<_>>()
                                    .join(" "))
                                .unwrap_or_default(),
                            u("delivered"),
                            u("lagged"),
                            if exact { "=" } else { "≠ (NOT EXACT)" },
                        )
                    }
                };
                rows.push(row);
            }
            Err(e) => {
                eprintln!("{id}: FAILED: {e}");
                rows.push(format!("| {id} | FAILED | {e} |"));
                ok = false;
            }
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nmemory, each row a fresh client process against ami-load in another process; load average at the end {}\n",
        load.trim()
    );
    println!("| | figure | detail |\n|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("a measurement failed, a flood was not flat, or counts were not exact");
        ExitCode::FAILURE
    }
}
