//! The side-by-side harness's client contract, shared by the tokio and the
//! blocking client programs: the command line, the stall watchdog, the
//! event tally and the one JSON line on stdout. Depends on `std` only (it is
//! also compiled into that harness by `scripts/bench-peers.sh`, beside one
//! client program).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Give up when nothing has moved for this long (a dropped marker, a
/// stalled server).
const STALL: Duration = Duration::from_secs(10);

/// The load server's URL on loopback (`ami-load` accepts any login).
pub fn url(port: u16) -> String {
    format!("ami://bench:bench@127.0.0.1:{port}")
}

/// `MODE PORT [N WINDOW]` from `args` (without the program name): N
/// defaults to 100 000, WINDOW to 256. A usage error is reported on stderr
/// and comes back as the exit code to return.
pub fn parse(args: &[String], usage: &str) -> Result<(String, u16, u64, u64), ExitCode> {
    let arg = |i: usize| args.get(i).map(String::as_str);
    let num = |i: usize, default: u64| arg(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    match (arg(0), arg(1).and_then(|p| p.parse().ok())) {
        (Some(mode), Some(port)) => {
            Ok((mode.to_owned(), port, num(2, 100_000), num(3, 256).max(1)))
        }
        _ => {
            eprintln!("usage: {usage}");
            Err(ExitCode::from(2))
        }
    }
}

/// An unknown mode: reported, exit code 2.
pub fn unknown_mode() -> ExitCode {
    eprintln!("unknown mode");
    ExitCode::from(2)
}

/// Print the result line and exit at once, without logging off, like the
/// harness's other clients.
pub fn finish(line: String) -> ExitCode {
    println!("{line}");
    std::process::exit(0)
}

/// Exits the process when `progress` stops moving for [`STALL`].
pub fn watchdog(progress: Arc<AtomicU64>) {
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

/// What an events run counted.
#[derive(Debug)]
pub struct EventTally {
    progress: Arc<AtomicU64>,
    t0: Instant,
    /// `BENCH_VERIFY` set: count the `CallerIDName` bytes too.
    pub verify: bool,
    events: u64,
    lagged: u64,
    lag_errors: u64,
    skipped: u64,
    cid: u64,
    complete: bool,
}

impl EventTally {
    /// Start the clock and the watchdog.
    pub fn start() -> EventTally {
        let progress = Arc::new(AtomicU64::new(0));
        watchdog(progress.clone());
        EventTally {
            progress,
            t0: Instant::now(),
            verify: std::env::var_os("BENCH_VERIFY").is_some_and(|v| !v.is_empty()),
            events: 0,
            lagged: 0,
            lag_errors: 0,
            skipped: 0,
            cid: 0,
            complete: false,
        }
    }

    /// An event named `name` (`CallerIDName` of `cid_len` bytes, read only
    /// when verifying); `true` at the end marker.
    pub fn event(&mut self, name: &[u8], cid_len: impl FnOnce() -> usize) -> bool {
        if name == b"BenchEnd" {
            self.complete = true;
            return true;
        }
        if name != b"FullyBooted" {
            self.events += 1;
            self.progress.store(self.events, Ordering::Relaxed);
            if self.verify {
                self.cid += cid_len() as u64;
            }
        }
        false
    }

    /// The stream reported `k` dropped events.
    pub fn lagged(&mut self, k: u64) {
        self.lagged += k;
        self.lag_errors += 1;
    }

    /// The stream reported a skipped packet.
    pub fn skipped(&mut self) {
        self.skipped += 1;
    }

    /// The result line of library `lib`.
    pub fn line(&self, lib: &str) -> String {
        let secs = self.t0.elapsed().as_secs_f64();
        let cid = if self.verify {
            format!(",\"cid_bytes\":{}", self.cid)
        } else {
            String::new()
        };
        format!(
            "{{\"lib\":\"{}\",\"events\":{},\"seconds\":{secs:.6},\"events_per_s\":{:.1},\"complete\":{},\"lagged_dropped\":{},\"lag_errors\":{},\"skipped\":{}{cid}}}",
            lib_name(lib),
            self.events,
            self.events as f64 / secs,
            self.complete,
            self.lagged,
            self.lag_errors,
            self.skipped,
        )
    }
}

/// The result line of an actions run of library `lib`: `ok` of `n` answered
/// in `secs`.
pub fn actions_line(lib: &str, ok: u64, n: u64, secs: f64, concurrency: &str) -> String {
    format!(
        "{{\"lib\":\"{}\",\"actions\":{ok},\"seconds\":{secs:.6},\"actions_per_s\":{:.1},\"complete\":{},\"concurrency\":\"{concurrency}\"}}",
        lib_name(lib),
        ok as f64 / secs,
        ok == n
    )
}

/// `rust:LIB`, with the revision the harness passes at build time.
fn lib_name(lib: &str) -> String {
    format!(
        "rust:{lib}{}",
        option_env!("AMIPROTO_REV").map_or(String::new(), |r| format!("+{r}"))
    )
}
