//! One measured run: the load server and a client program, each in its own
//! process, and the client's CPU time from the kernel.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use nix::sys::resource::{getrusage, UsageWho};
use serde_json::Value;

/// What one client process reported, and what it cost.
#[derive(Debug, Clone)]
pub struct Run {
    /// Events or answered actions the client counted.
    pub items: u64,
    /// The client's own timing (events: connect to marker; actions: after
    /// login to the last answer).
    pub seconds: f64,
    /// User + system CPU of the whole client process.
    pub cpu: Duration,
    /// User + system CPU of the load server process.
    pub server_cpu: Duration,
    /// Events the server sent that the client did not count (lossy
    /// stream), or actions not answered.
    pub missing: u64,
}

impl Run {
    /// Items per second.
    pub fn rate(&self) -> f64 {
        self.items as f64 / self.seconds
    }

    /// CPU per item.
    pub fn cpu_per_item(&self) -> Duration {
        self.cpu.div_f64(self.items.max(1) as f64)
    }
}

/// CPU used so far by the children this process has waited for.
fn children_cpu() -> Duration {
    match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => {
            let t = |tv: nix::sys::time::TimeVal| {
                Duration::from_secs(tv.tv_sec() as u64) + Duration::from_micros(tv.tv_usec() as u64)
            };
            t(u.user_time()) + t(u.system_time())
        }
        Err(_) => Duration::ZERO,
    }
}

/// Start `ami-load` for one connection; returns it, its stdout and the
/// port it listens on.
fn start_server(
    ami_load: &Path,
    args: &[String],
) -> Result<(Child, BufReader<ChildStdout>, u16), String> {
    let mut server = Command::new(ami_load)
        .arg("--max-conns")
        .arg("1")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", ami_load.display()))?;
    let mut out = BufReader::new(server.stdout.take().expect("piped"));
    let mut line = String::new();
    out.read_line(&mut line).map_err(|e| e.to_string())?;
    let port = serde_json::from_str::<Value>(&line)
        .ok()
        .and_then(|v| v["listening"].as_str().map(str::to_owned))
        .and_then(|a| a.rsplit(':').next().and_then(|p| p.parse().ok()));
    match port {
        Some(p) => Ok((server, out, p)),
        None => {
            let _ = server.kill();
            let _ = server.wait();
            Err(format!("ami-load did not say its port: {line:?}"))
        }
    }
}

/// Run `client` (program and leading arguments; the port is inserted after
/// `mode`, then `extra`) against a fresh `ami-load` started with
/// `server_args`.
pub fn run(
    ami_load: &Path,
    server_args: &[String],
    client: &[String],
    mode: &str,
    extra: &[String],
) -> Result<Run, String> {
    let (mut server, mut server_out, port) = start_server(ami_load, server_args)?;
    let before = children_cpu();
    let output = Command::new(&client[0])
        .args(&client[1..])
        .arg(mode)
        .arg(port.to_string())
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output();
    let cpu = children_cpu().saturating_sub(before);
    let output = match output {
        Ok(o) if o.status.success() => o,
        failed => {
            let _ = server.kill();
            let _ = server.wait();
            return Err(match failed {
                Ok(o) => format!("client {mode} exited with {}", o.status),
                Err(e) => format!("client {mode}: {e}"),
            });
        }
    };
    // The server ends once the client has gone.
    let mut report = String::new();
    let _ = server_out.read_to_string(&mut report);
    let before = children_cpu();
    let _ = server.wait();
    let server_cpu = children_cpu().saturating_sub(before);

    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(line).map_err(|e| format!("client said {line:?}: {e}"))?;
    let sent: Value =
        serde_json::from_str(report.lines().last().unwrap_or("{}")).unwrap_or_default();
    if v["complete"] != Value::Bool(true) {
        return Err(format!("incomplete run: {line}"));
    }
    let (items, missing) = if let Some(events) = v["events"].as_u64() {
        let sent = sent["events"].as_u64().unwrap_or(events);
        (events, sent.saturating_sub(events))
    } else {
        let actions = v["actions"].as_u64().unwrap_or(0);
        let wanted = extra
            .first()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(actions);
        (actions, wanted.saturating_sub(actions))
    };
    Ok(Run {
        items,
        seconds: v["seconds"].as_f64().unwrap_or(f64::NAN),
        cpu,
        server_cpu,
        missing,
    })
}
