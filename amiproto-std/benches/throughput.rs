//! In-process blocking-client throughput over loopback (the server is a
//! thread of this bench; for what a user's program gets, with the server in
//! another process, see `cargo bench -p amiproto-testkit --bench
//! user_shaped`), beside a raw-socket baseline measured in the same run
//! against the same server:
//!
//! - `in_process_events/raw_socket`: read the flood and count `\r\n\r\n` with
//!   `memchr::memmem` — the ceiling (no decoding, no packets).
//! - `in_process_events/client`: [`amiproto_std::Client::next_event`] until the server
//!   closes: every event decoded into a `Packet`, queued and handed out.
//!   `events` are real Asterisk 22 events (`13-event-flood`, 367 bytes on
//!   average); `in_process_small_events` the test kit's 76-byte flood event.
//! - `in_process_actions/raw_socket`: a writer thread writes N pre-encoded pings while
//!   the reader counts N answers.
//! - `in_process_actions/client`: [`amiproto_std::Client::send_all`] of N pings: each
//!   encoded, correlated and returned as an outcome.
//!
//! The server is a std thread per connection: banner, a plain login, then
//! either the flood (`13-event-flood.server.bin`'s events repeated) or an
//! echo of one `Response: Success` per ping. After criterion's reports the
//! bench prints interleaved medians and ratios.
//!
//! Run: `cargo bench -p amiproto-std --bench throughput`.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use amiproto::Action;
use amiproto_std::{Client, ClientConfig, Error, EventItem, Overflow};
use criterion::{Criterion, Throughput};
use memchr::memmem;

const CAPTURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/asterisk-22.10.1/13-event-flood.server.bin"
));

const EVENTS: usize = 50_000;
const ACTIONS: usize = 20_000;

#[derive(Clone)]
enum Mode {
    Flood(Arc<Vec<u8>>),
    Echo,
}

/// `EVENTS` small generated events (the test kit's flood event, 76 bytes).
fn small_flood() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..EVENTS {
        out.extend_from_slice(
            format!("Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Flood\r\nSeq: {i:010}\r\n\r\n")
                .as_bytes(),
        );
    }
    out
}

/// `EVENTS` events cut from the capture (its `Event:` packets, repeated).
fn flood() -> Vec<u8> {
    let text = &CAPTURE[memmem::find(CAPTURE, b"\r\n").unwrap() + 2..];
    let events: Vec<&[u8]> = split_packets(text)
        .filter(|p| p.starts_with(b"Event:"))
        .collect();
    let mut out = Vec::new();
    for i in 0..EVENTS {
        out.extend_from_slice(events[i % events.len()]);
    }
    out
}

fn split_packets(mut s: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let end = memmem::find(s, b"\r\n\r\n")? + 4;
        let (p, rest) = s.split_at(end);
        s = rest;
        Some(p)
    })
}

fn start(mode: Mode) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mode = mode.clone();
            std::thread::Builder::new()
                .name("server".into())
                .spawn(move || session(stream, mode))
                .unwrap();
        }
    });
    addr
}

fn session(mut s: TcpStream, mode: Mode) {
    s.set_nodelay(true).unwrap();
    let _ = s.write_all(b"Asterisk Call Manager/11.0.0\r\n");
    let mut buf = Vec::with_capacity(1 << 20);
    let mut chunk = vec![0u8; 256 * 1024];
    let mut out = Vec::with_capacity(1 << 20);
    let finder = memmem::Finder::new(b"\r\n\r\n");
    let mut logged_in = false;
    loop {
        // Answer every complete packet in the buffer.
        let mut start = 0;
        while let Some(at) = finder.find(&buf[start..]) {
            let packet = &buf[start..start + at + 4];
            start += at + 4;
            let id = memmem::find(packet, b"ActionID: ").map(|i| {
                let v = &packet[i + 10..];
                &v[..memmem::find(v, b"\r\n").unwrap()]
            });
            out.extend_from_slice(b"Response: Success\r\nActionID: ");
            out.extend_from_slice(id.unwrap_or(b""));
            if logged_in {
                out.extend_from_slice(b"\r\nPing: Pong\r\nTimestamp: 1700000000.000000\r\n\r\n");
            } else {
                out.extend_from_slice(b"\r\nMessage: Authentication accepted\r\n\r\n");
                logged_in = true;
                if let Mode::Flood(events) = &mode {
                    let _ = s.write_all(&out);
                    let _ = s.write_all(events);
                    return;
                }
            }
        }
        buf.drain(..start);
        if !out.is_empty() {
            if s.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn client(addr: SocketAddr) -> Client {
    let cfg = ClientConfig::from_url(&format!("ami://admin:amp111@{addr}?auth=plain&events=on"))
        .unwrap()
        .events(Overflow::Lossless)
        .map_config(|c| c.action_timeout(Some(Duration::from_secs(60))));
    Client::connect(cfg).unwrap()
}

/// Events handed out by the client until the server closes.
fn client_events(addr: SocketAddr) -> usize {
    let mut c = client(addr);
    let mut n = 0;
    loop {
        match c.next_event(None) {
            Ok(Some(EventItem::Event(p))) => {
                black_box(&p);
                n += 1;
            }
            Ok(_) => {}
            Err(Error::Closed(_)) => return n,
            Err(e) => panic!("{e}"),
        }
    }
}

/// Packets counted by a raw reader until the server closes.
fn raw_events(addr: SocketAddr) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"Action: Login\r\nActionID: l\r\nUsername: admin\r\nSecret: amp111\r\n\r\n")
        .unwrap();
    count_until(&mut s, usize::MAX)
}

/// Count `\r\n\r\n` in what `s` delivers until `want` or the end. The last
/// 3 bytes are kept for the next read, so a terminator split across reads is
/// found; none is counted twice (a match needs 4 bytes).
fn count_until(s: &mut TcpStream, want: usize) -> usize {
    let finder = memmem::Finder::new(b"\r\n\r\n");
    let mut buf = vec![0u8; 64 * 1024 + 3];
    let mut keep = 0;
    let mut n = 0;
    while n < want {
        let r = s.read(&mut buf[keep..]).unwrap();
        if r == 0 {
            break;
        }
        let end = keep + r;
        n += finder.find_iter(&buf[..end]).count();
        let tail = end.min(3);
        buf.copy_within(end - tail..end, 0);
        keep = tail;
    }
    n
}

fn client_actions(addr: SocketAddr) -> usize {
    let mut c = client(addr);
    let outcomes = c.send_all((0..ACTIONS).map(|_| Action::ping()));
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(ok, ACTIONS);
    ok
}

fn raw_actions(addr: SocketAddr, pings: &Arc<Vec<u8>>) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(b"Action: Login\r\nActionID: l\r\nUsername: admin\r\nSecret: amp111\r\n\r\n")
        .unwrap();
    let mut w = s.try_clone().unwrap();
    let pings = pings.clone();
    let writer = std::thread::spawn(move || w.write_all(&pings).unwrap());
    // The banner ends with one CRLF only; the login answer + ACTIONS answers.
    let n = count_until(&mut s, ACTIONS + 1);
    writer.join().unwrap();
    assert_eq!(n, ACTIONS + 1);
    n - 1
}

/// CPU time this thread has used (Linux `schedstat`), to report cost per
/// item independently of how busy the machine is.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let flood_addr = start(Mode::Flood(Arc::new(flood())));
    let small_addr = start(Mode::Flood(Arc::new(small_flood())));
    let echo_addr = start(Mode::Echo);
    let mut pings = Vec::new();
    for i in 0..ACTIONS {
        pings.extend_from_slice(format!("Action: Ping\r\nActionID: p{i}\r\n\r\n").as_bytes());
    }
    let pings = Arc::new(pings);

    assert_eq!(client_events(flood_addr), EVENTS);
    assert_eq!(raw_events(flood_addr), EVENTS + 1);
    assert_eq!(client_events(small_addr), EVENTS);
    let measuring = std::env::args().any(|a| a == "--bench");

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    {
        let mut g = c.benchmark_group("in_process_events");
        g.throughput(Throughput::Elements(EVENTS as u64));
        g.bench_function("raw_socket", |b| b.iter(|| raw_events(flood_addr)));
        g.bench_function("client", |b| b.iter(|| client_events(flood_addr)));
        g.finish();
        let mut g = c.benchmark_group("in_process_small_events");
        g.throughput(Throughput::Elements(EVENTS as u64));
        g.bench_function("raw_socket", |b| b.iter(|| raw_events(small_addr)));
        g.bench_function("client", |b| b.iter(|| client_events(small_addr)));
        g.finish();
    }
    {
        let mut g = c.benchmark_group("in_process_actions");
        g.throughput(Throughput::Elements(ACTIONS as u64));
        g.bench_function("raw_socket", |b| b.iter(|| raw_actions(echo_addr, &pings)));
        g.bench_function("client", |b| b.iter(|| client_actions(echo_addr)));
        g.finish();
    }
    c.final_summary();
    if !measuring {
        return;
    }

    // Interleaved rounds, so both sides of each ratio see the same machine.
    let rounds = 15;
    // Items per wall-clock second, and per second of this thread's CPU.
    let time = |f: &mut dyn FnMut() -> usize| {
        let cpu = thread_cpu();
        let t = Instant::now();
        let n = f();
        let wall = n as f64 / t.elapsed().as_secs_f64();
        let cpu = match (cpu, thread_cpu()) {
            (Some(a), Some(b)) if b > a => n as f64 / (b - a).as_secs_f64(),
            _ => f64::NAN,
        };
        (wall, cpu)
    };
    let (mut re, mut ce, mut ra, mut ca) = (vec![], vec![], vec![], vec![]);
    let (mut rs, mut cs) = (vec![], vec![]);
    for _ in 0..rounds {
        re.push(time(&mut || raw_events(flood_addr)));
        ce.push(time(&mut || client_events(flood_addr)));
        rs.push(time(&mut || raw_events(small_addr)));
        cs.push(time(&mut || client_events(small_addr)));
        ra.push(time(&mut || raw_actions(echo_addr, &pings)));
        ca.push(time(&mut || client_actions(echo_addr)));
    }
    let report = |name: &str, client: Vec<(f64, f64)>, raw: Vec<(f64, f64)>| {
        let (cw, cc) = (
            median(client.iter().map(|x| x.0).collect()),
            median(client.iter().map(|x| x.1).collect()),
        );
        let (rw, rc) = (
            median(raw.iter().map(|x| x.0).collect()),
            median(raw.iter().map(|x| x.1).collect()),
        );
        println!(
            "{name:<15} wall: client {:6.2} M/s, raw socket {:6.2} M/s, ratio {:.2} | \
             per CPU-second of the client thread: client {:6.2} M, raw {:6.2} M, ratio {:.2}",
            cw / 1e6,
            rw / 1e6,
            cw / rw,
            cc / 1e6,
            rc / 1e6,
            cc / rc
        );
    };
    println!("\nsummary (in-process: the server is a thread of this bench): medians of {rounds} interleaved rounds");
    report("capture events", ce, re);
    report("small events", cs, rs);
    report("actions", ca, ra);
}
