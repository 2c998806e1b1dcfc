//! The raw-socket baseline: what the socket carries, with no client library.
//! Events: read into a 1 MiB buffer and count `\r\n\r\n` with
//! `memchr::memmem` (no parsing). Actions: write pre-encoded `Ping`s,
//! count the answers' `\r\n\r\n`, and keep at most WINDOW in flight.
//!
//! ```text
//! events PORT          count packets until Event: BenchEnd
//! ping PORT N WINDOW   N Pings, pipelined
//! ```
//!
//! One JSON line on stdout, like the client programs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Instant;

use memchr::memmem;

const LOGIN: &[u8] = b"Action: Login\r\nActionID: raw\r\nUsername: bench\r\nSecret: bench\r\n\r\n";
const MARKER: &[u8] = b"Event: BenchEnd\r\n\r\n";

/// Run the mode named by `args` (without the program name).
pub fn main(args: &[String]) -> ExitCode {
    let arg = |i: usize| args.get(i).map(String::as_str);
    let num = |i: usize, default: u64| arg(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let Some(port) = arg(1).and_then(|p| p.parse::<u16>().ok()) else {
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
    match line {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("raw client: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Counts packet ends across reads, and whether the stream ended with the
/// marker.
struct Counter {
    buf: Vec<u8>,
    /// Bytes kept from the previous read (a terminator or the marker may
    /// straddle reads).
    carry: usize,
    finder: memmem::Finder<'static>,
    packets: u64,
}

impl Counter {
    fn new() -> Counter {
        Counter {
            buf: vec![0; 1 << 20],
            carry: 0,
            finder: memmem::Finder::new(b"\r\n\r\n"),
            packets: 0,
        }
    }

    /// Read once; returns the packet ends it completed and whether the data
    /// so far ends with the marker.
    fn read(&mut self, s: &mut TcpStream) -> std::io::Result<(u64, bool)> {
        let n = s.read(&mut self.buf[self.carry..])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let end = self.carry + n;
        // Terminators found from here end in the new bytes: those ending in
        // the carried bytes were counted by the previous read.
        let from = self.carry.saturating_sub(3);
        let found = self.finder.find_iter(&self.buf[from..end]).count() as u64;
        self.packets += found;
        let done = self.buf[..end].ends_with(MARKER);
        let keep = end.min(MARKER.len() - 1);
        self.buf.copy_within(end - keep..end, 0);
        self.carry = keep;
        Ok((found, done))
    }
}

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_nodelay(true)?;
    s.write_all(LOGIN)?;
    Ok(s)
}

fn events(port: u16) -> std::io::Result<String> {
    let t0 = Instant::now();
    let mut s = connect(port)?;
    let mut c = Counter::new();
    while !c.read(&mut s)?.1 {}
    let secs = t0.elapsed().as_secs_f64();
    // Not events: the login response, FullyBooted and the marker.
    let n = c.packets.saturating_sub(3);
    Ok(format!(
        "{{\"lib\":\"raw-socket\",\"events\":{n},\"seconds\":{secs:.6},\"events_per_s\":{:.1},\"complete\":true,\"lagged_dropped\":0}}",
        n as f64 / secs
    ))
}

fn ping(port: u16, n: u64, window: u64) -> std::io::Result<String> {
    let mut s = connect(port)?;
    let mut c = Counter::new();
    // The login response and FullyBooted.
    while c.packets < 2 {
        c.read(&mut s)?;
    }
    // WINDOW pings of one length, pre-encoded once.
    let one = |i: u64| format!("Action: Ping\r\nActionID: {i:08}\r\n\r\n");
    let len = one(0).len();
    let block: Vec<u8> = (0..window).flat_map(|i| one(i).into_bytes()).collect();
    let t0 = Instant::now();
    let first = window.min(n);
    s.write_all(&block[..first as usize * len])?;
    let (mut sent, mut answered) = (first, 0u64);
    while answered < n {
        let (k, _) = c.read(&mut s)?;
        answered += k;
        let more = k.min(n - sent);
        if more > 0 {
            s.write_all(&block[..more as usize * len])?;
            sent += more;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    Ok(format!(
        "{{\"lib\":\"raw-socket\",\"actions\":{answered},\"seconds\":{secs:.6},\"actions_per_s\":{:.1},\"complete\":true,\"concurrency\":\"window {window} (pre-encoded)\"}}",
        answered as f64 / secs
    ))
}
