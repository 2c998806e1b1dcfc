//! `ami-load`: a loopback AMI load server in its own process, for
//! benchmarks (see `amiproto_testkit::load`).
//!
//! ```text
//! ami-load [--host 127.0.0.1] [--port 0] [--max-conns K] [--chunk BYTES] events [--capture FILE] [--events N | --repeat COPIES]
//! ami-load [--host 127.0.0.1] [--port 0] [--max-conns K] ping
//! ```
//!
//! `events` floods each connection with the event packets of `--capture`
//! (default: `tests/data/asterisk-22.10.1/13-event-flood.server.bin`), N
//! events in all (or COPIES whole copies), then `Event: BenchEnd`. `ping`
//! answers every action. The first line on stdout is
//! `{"listening":"127.0.0.1:PORT"}` (port 0: the kernel picks one); then
//! one JSON line per connection as it ends. With `--max-conns K` it exits
//! after K connections have ended.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use amiproto_testkit::load::{Corpus, LoadConfig, LoadServer, DEFAULT_WRITE_CHUNK};

const USAGE: &str = "usage: ami-load [--host H] [--port P] [--max-conns K] [--chunk BYTES] \
     (events [--capture FILE] [--events N | --repeat COPIES] | ping)";

struct Args {
    host: String,
    port: u16,
    max_conns: Option<u64>,
    chunk: usize,
    mode: String,
    capture: Option<String>,
    events: Option<u64>,
    repeat: Option<u64>,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        host: "127.0.0.1".into(),
        port: 0,
        max_conns: None,
        chunk: DEFAULT_WRITE_CHUNK,
        mode: String::new(),
        capture: None,
        events: None,
        repeat: None,
    };
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{name}: not a number: {v}"))
        }
        match arg.as_str() {
            "--host" => a.host = value("--host")?,
            "--port" => a.port = num("--port", value("--port")?)?,
            "--max-conns" => a.max_conns = Some(num("--max-conns", value("--max-conns")?)?),
            "--chunk" => a.chunk = num("--chunk", value("--chunk")?)?,
            "--capture" => a.capture = Some(value("--capture")?),
            "--events" => a.events = Some(num("--events", value("--events")?)?),
            "--repeat" => a.repeat = Some(num("--repeat", value("--repeat")?)?),
            "events" | "ping" => a.mode = arg,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.mode.is_empty() {
        return Err("give a mode: events or ping".into());
    }
    Ok(a)
}

fn config(a: &Args) -> Result<LoadConfig, String> {
    let mut cfg = if a.mode == "ping" {
        LoadConfig::ping()
    } else {
        let path = a
            .capture
            .clone()
            .map_or_else(Corpus::flood_capture_path, Into::into);
        let raw = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let corpus = Corpus::from_capture(&raw).map_err(|e| format!("{}: {e}", path.display()))?;
        let events = match (a.events, a.repeat) {
            (Some(n), _) => n,
            (None, Some(copies)) => copies * corpus.events(),
            (None, None) => corpus.events(),
        };
        LoadConfig::events(Arc::new(corpus), events)
    };
    cfg = cfg.write_chunk(a.chunk);
    if let Some(k) = a.max_conns {
        cfg = cfg.max_conns(k);
    }
    Ok(cfg)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("ami-load: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let run = || -> Result<(), String> {
        let cfg = config(&args)?;
        let addr: SocketAddr = format!("{}:{}", args.host, args.port)
            .parse()
            .map_err(|_| format!("not an address: {}:{}", args.host, args.port))?;
        let server = LoadServer::bind(addr, cfg).map_err(|e| format!("bind {addr}: {e}"))?;
        let local = server.local_addr().map_err(|e| e.to_string())?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{{\"listening\":\"{local}\"}}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        drop(out);
        server
            .serve(|report| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", report.to_json());
                let _ = out.flush();
            })
            .map_err(|e| format!("accept: {e}"))
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ami-load: {e}");
            ExitCode::FAILURE
        }
    }
}
