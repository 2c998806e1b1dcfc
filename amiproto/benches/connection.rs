//! Throughput of the connection state machine alone (no I/O), beside
//! baselines measured in the same run on the same bytes:
//!
//! - `pings/decode_only`: [`amiproto::Decoder`] over the N ping responses —
//!   the floor for reading them.
//! - `pings/encode_decode`: N `Ping` actions encoded (ActionIDs formatted
//!   beforehand) plus the decode above — the floor for a round trip.
//! - `pings/connection`: a logged-in [`amiproto::Connection`] that has
//!   already done one such round (as a long-lived connection has: buffers
//!   and tables at working size): submit N pings, take the bytes to write,
//!   feed the N responses (as Asterisk writes them, in 64 KiB chunks),
//!   collect the N outcomes.
//! - `pings/connection_cold`: the same on a connection that just logged in
//!   (every buffer and table grows during the pass).
//! - `pings/connection_tagged`: `pings/connection` with the random
//!   per-connection ActionID tag both adapters use
//!   (`Connection::with_entropy`: `ami-<12 chars>-N` instead of `ami-N`).
//! - `flood/decode_only`: the decoder over `13-event-flood.server.bin`
//!   (banner skipped, repeated), in 64 KiB chunks.
//! - `flood/connection`: the same bytes fed to a logged-in connection, every
//!   packet taken out as an event.
//!
//! After criterion's reports the bench prints a summary: medians of
//! interleaved passes, actions/s or events/s, ratios and heap allocations
//! per action/event (counted by a global allocator in this binary).
//!
//! Run: `cargo bench -p amiproto --bench connection`. Under
//! `cargo test --benches` it only checks that the workloads agree.

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use amiproto::{Action, AuthMethod, Config, Connection, Decoder, Event, EventMask, Frame, State};
use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::ALLOCS;

const FLOOD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/asterisk-22.10.1/13-event-flood.server.bin"
));

const CHUNK: usize = 64 << 10;
const BANNER: &[u8] = b"Asterisk Call Manager/11.0.0\r\n";

fn config() -> Config {
    // Defaults (10 s action timeout, no window), plain login, events on.
    Config::new("admin", "amp111")
        .auth(AuthMethod::Plain)
        .events(EventMask::On)
}

/// The entropy of the tagged workload (any value: the cost does not depend
/// on it).
const ENTROPY: u64 = 0x0123_4567_89ab_cdef;

/// A new connection, with the random ActionID tag when `entropy` is given.
fn connection(now: Instant, entropy: Option<u64>) -> Connection {
    match entropy {
        None => Connection::new(config(), now),
        Some(e) => Connection::with_entropy(config(), 0, e, now),
    }
}

/// A logged-in connection with nothing pending and every event taken.
fn ready(now: Instant) -> Connection {
    ready_with(now, None)
}

fn ready_with(now: Instant, entropy: Option<u64>) -> Connection {
    let mut c = connection(now, entropy);
    c.handle_input(now, BANNER);
    while c.poll_transmit().is_some() {}
    let login = format!(
        "Response: Success\r\nActionID: {}0\r\nMessage: Authentication accepted\r\n\r\n",
        c.action_id_prefix()
    );
    c.handle_input(now, login.as_bytes());
    assert_eq!(c.state(), State::Ready);
    while c.poll_event().is_some() {}
    c
}

/// The answers to pings `<prefix>first..<prefix>(first + n)`, as Asterisk
/// 22 writes them.
fn ping_responses(prefix: &str, first: usize, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 90);
    for i in first..first + n {
        out.extend_from_slice(
            format!(
                "Response: Success\r\nActionID: {prefix}{i}\r\nPing: Pong\r\nTimestamp: 1795339413.494672\r\n\r\n"
            )
            .as_bytes(),
        );
    }
    out
}

/// The flood capture without its banner, repeated `times`.
fn flood(times: usize) -> Vec<u8> {
    let body = &FLOOD[memchr::memchr(b'\n', FLOOD).expect("banner") + 1..];
    body.repeat(times)
}

fn decode_only(bytes: &[u8]) -> u64 {
    let mut dec = Decoder::new().banner_mode(amiproto::BannerMode::Absent);
    let mut buf = BytesMut::with_capacity(CHUNK * 2);
    let mut n = 0;
    for chunk in bytes.chunks(CHUNK) {
        buf.extend_from_slice(chunk);
        while let Some(f) = dec.decode(&mut buf).expect("decodes") {
            if let Frame::Packet(p) = f {
                black_box(&p);
                n += 1;
            }
        }
    }
    n
}

fn encode_decode(ids: &[String], responses: &[u8]) -> u64 {
    let ping = Action::ping();
    let mut out = BytesMut::with_capacity(ids.len() * 40);
    for id in ids {
        ping.encode(Some(id), &mut out).expect("encodes");
    }
    black_box(out.split().freeze());
    decode_only(responses)
}

/// A logged-in connection that has already done one round trip of `n`
/// pings (`ami-1..=ami-n`): its buffers and tables are at their working
/// size, as on a long-lived connection. The next pings are `ami-(n+1)…`.
fn warm(now: Instant, n: usize, responses: &[u8]) -> Connection {
    warm_with(now, None, n, responses)
}

fn warm_with(now: Instant, entropy: Option<u64>, n: usize, responses: &[u8]) -> Connection {
    let mut c = ready_with(now, entropy);
    assert_eq!(round_trip(&mut c, now, n, responses), n as u64);
    c
}

/// Submit `n` pings to `conn`, feed `responses`, collect the outcomes.
fn round_trip(conn: &mut Connection, now: Instant, n: usize, responses: &[u8]) -> u64 {
    for _ in 0..n {
        black_box(conn.send(Action::ping(), now).expect("send"));
    }
    // The run loop: write, re-arm the timer, hand out events.
    while let Some(b) = conn.poll_transmit() {
        black_box(b);
    }
    black_box(conn.poll_timeout());
    let mut done = 0;
    for chunk in responses.chunks(CHUNK) {
        conn.handle_input(now, chunk);
        black_box(conn.poll_timeout());
        while let Some(e) = conn.poll_event() {
            if let Event::Done { result, .. } = e {
                black_box(result.expect("pong"));
                done += 1;
            }
        }
    }
    done
}

fn events(mut conn: Connection, now: Instant, bytes: &[u8]) -> u64 {
    let mut n = 0;
    for chunk in bytes.chunks(CHUNK) {
        conn.handle_input(now, chunk);
        black_box(conn.poll_timeout());
        while let Some(e) = conn.poll_event() {
            black_box(&e);
            n += 1;
        }
    }
    n
}

/// One pass of a workload (setup untimed): its duration, item count and
/// heap allocations during the timed part.
type Pass<'a> = &'a mut dyn FnMut() -> (Duration, u64, u64);

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Medians of `rounds` interleaved passes of each workload, and
/// allocations per item (median pass).
fn interleaved(
    rounds: usize,
    items: u64,
    workloads: &mut [(&str, Pass<'_>)],
) -> Vec<(Duration, f64)> {
    let k = workloads.len();
    let mut times = vec![Vec::with_capacity(rounds); k];
    let mut allocs = vec![Vec::with_capacity(rounds); k];
    for round in 0..rounds {
        for j in 0..k {
            let i = (round + j) % k;
            let (t, n, a) = (workloads[i].1)();
            assert_eq!(n, items, "{}", workloads[i].0);
            times[i].push(t);
            allocs[i].push(a);
        }
    }
    (0..k)
        .map(|i| {
            allocs[i].sort_unstable();
            let a = allocs[i][rounds / 2] as f64 / items as f64;
            (median(&mut times[i]), a)
        })
        .collect()
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let n: usize = if bench_mode { 10_000 } else { 200 };
    let now = Instant::now();
    let first = ping_responses("ami-", 1, n);
    let responses = ping_responses("ami-", n + 1, n);
    let tag = connection(now, Some(ENTROPY)).action_id_prefix().to_owned();
    let first_tagged = ping_responses(&tag, 1, n);
    let responses_tagged = ping_responses(&tag, n + 1, n);
    let ids: Vec<String> = (n + 1..=2 * n).map(|i| format!("ami-{i}")).collect();
    let flood = flood(if bench_mode { 8 } else { 1 });
    let flood_packets = decode_only(&flood);

    assert_eq!(decode_only(&responses), n as u64);
    assert_eq!(encode_decode(&ids, &responses), n as u64);
    assert_eq!(
        round_trip(&mut warm(now, n, &first), now, n, &responses),
        n as u64
    );
    assert_eq!(round_trip(&mut ready(now), now, n, &first), n as u64);
    let mut tagged = warm_with(now, Some(ENTROPY), n, &first_tagged);
    assert_eq!(round_trip(&mut tagged, now, n, &responses_tagged), n as u64);
    assert_eq!(events(ready(now), now, &flood), flood_packets);
    if !bench_mode {
        println!("connection bench: test mode, workloads agree; run with `cargo bench`");
        return;
    }

    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("pings");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function("decode_only", |b| {
            b.iter(|| decode_only(black_box(&responses)))
        });
        g.bench_function("encode_decode", |b| {
            b.iter(|| encode_decode(black_box(&ids), black_box(&responses)))
        });
        g.bench_function("connection", |b| {
            b.iter_batched(
                || warm(now, n, &first),
                |mut conn| round_trip(&mut conn, now, n, black_box(&responses)),
                BatchSize::LargeInput,
            )
        });
        g.bench_function("connection_cold", |b| {
            b.iter_batched(
                || ready(now),
                |mut conn| round_trip(&mut conn, now, n, black_box(&first)),
                BatchSize::LargeInput,
            )
        });
        g.bench_function("connection_tagged", |b| {
            b.iter_batched(
                || warm_with(now, Some(ENTROPY), n, &first_tagged),
                |mut conn| round_trip(&mut conn, now, n, black_box(&responses_tagged)),
                BatchSize::LargeInput,
            )
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("flood");
        g.throughput(Throughput::Elements(flood_packets));
        g.bench_function("decode_only", |b| b.iter(|| decode_only(black_box(&flood))));
        g.bench_function("connection", |b| {
            b.iter_batched(
                || ready(now),
                |conn| events(conn, now, black_box(&flood)),
                BatchSize::LargeInput,
            )
        });
        g.finish();
    }
    c.final_summary();
    if std::env::args().any(|a| a == "--profile-time" || a == "--list") {
        return;
    }

    const ROUNDS: usize = 31;
    let timed = |f: &mut dyn FnMut() -> u64| {
        let a = ALLOCS.load(Ordering::Relaxed);
        let t = Instant::now();
        let n = f();
        let t = t.elapsed();
        (t, n, ALLOCS.load(Ordering::Relaxed) - a)
    };
    let pings = interleaved(
        ROUNDS,
        n as u64,
        &mut [
            ("decode_only", &mut || {
                timed(&mut || decode_only(black_box(&responses)))
            }),
            ("encode_decode", &mut || {
                timed(&mut || encode_decode(black_box(&ids), black_box(&responses)))
            }),
            ("connection", &mut || {
                let mut conn = warm(now, n, &first);
                timed(&mut || round_trip(&mut conn, now, n, &responses))
            }),
            ("connection_cold", &mut || {
                let mut conn = ready(now);
                timed(&mut || round_trip(&mut conn, now, n, &first))
            }),
            ("connection_tagged", &mut || {
                let mut conn = warm_with(now, Some(ENTROPY), n, &first_tagged);
                timed(&mut || round_trip(&mut conn, now, n, &responses_tagged))
            }),
        ],
    );
    let floods = interleaved(
        ROUNDS,
        flood_packets,
        &mut [
            ("decode_only", &mut || {
                timed(&mut || decode_only(black_box(&flood)))
            }),
            ("connection", &mut || {
                let mut conn = Some(ready(now));
                timed(&mut || events(conn.take().expect("one pass"), now, &flood))
            }),
        ],
    );

    println!();
    println!(
        "== connection summary: median of {ROUNDS} interleaved passes, {} KiB chunks ==",
        CHUNK >> 10
    );
    println!(
        "{:<24} {:>11} {:>14} {:>12}",
        "workload", "median", "M items/s", "allocs/item"
    );
    let rows = [
        ("pings/decode_only", pings[0], n as u64),
        ("pings/encode_decode", pings[1], n as u64),
        ("pings/connection", pings[2], n as u64),
        ("pings/connection_cold", pings[3], n as u64),
        ("pings/connection_tagged", pings[4], n as u64),
        ("flood/decode_only", floods[0], flood_packets),
        ("flood/connection", floods[1], flood_packets),
    ];
    for (name, (t, allocs), items) in rows {
        let s = t.as_secs_f64();
        println!(
            "{:<24} {:>8.3} ms {:>14.2} {:>12.2}",
            name,
            s * 1e3,
            items as f64 / s / 1e6,
            allocs
        );
    }
    let rate = |t: Duration, items: u64| items as f64 / t.as_secs_f64();
    let actions = rate(pings[2].0, n as u64);
    let evs = rate(floods[1].0, flood_packets);
    println!(
        "actions/s = {:.2} M (target >= 5 M); connection / encode_decode = {:.2}x the baseline's time",
        actions / 1e6,
        pings[2].0.as_secs_f64() / pings[1].0.as_secs_f64()
    );
    println!(
        "random ActionID tag: connection_tagged / connection = {:.2}x the time",
        pings[4].0.as_secs_f64() / pings[2].0.as_secs_f64()
    );
    println!(
        "events/s  = {:.2} M (target >= 3 M); connection / decode_only = {:.2}x the baseline's time ({} packets: {} flood.server.bin bodies)",
        evs / 1e6,
        floods[1].0.as_secs_f64() / floods[0].0.as_secs_f64(),
        flood_packets,
        8
    );
}
