//! Typed events beside untyped packets, on a real Asterisk 22 event flood,
//! in the same run on the same bytes (feature `types`):
//!
//! - `decode`: [`amiproto::Decoder`] alone, every frame dropped — what
//!   every user pays, typed or not.
//! - `untyped`: decode, then per event read its name and the headers a
//!   call-tracking app reads (channel, unique id, and per kind: cause,
//!   dialplan application, variable and value, dial destination and
//!   status, bridge id) with [`Packet::get_str`].
//! - `typed`: decode, [`TypedEvent::from_packet`], then the same values
//!   through the typed accessors (text as `Cow<str>`, `Cause`, the
//!   snapshots).
//! - `classify`: decode and [`TypedEvent::from_packet`] only (the cost of
//!   knowing the variant).
//!
//! The stream is `13-event-flood.server.bin` without its banner, repeated
//! to at least 32 MiB and fed in 64 KiB chunks. After criterion's reports
//! the bench prints interleaved medians, events/s, ratios and heap
//! allocations per event (counted by a global allocator in this binary).
//!
//! Run: `cargo bench -p amiproto --features types --bench typed`. Under
//! `cargo test --benches` (or run without `--bench`) it only checks that
//! the workloads agree, on 1 MiB: each workload runs once, so
//! `valgrind --tool=callgrind <bench binary>` then
//! `callgrind_annotate --inclusive=yes` gives each one's instruction count,
//! which a loaded machine does not disturb.

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use amiproto::types::events::TypedEvent;
use amiproto::{Decoder, Frame, Packet};
use bytes::BytesMut;
use criterion::{Criterion, Throughput};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::ALLOCS;

const CAPTURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/asterisk-22.10.1/13-event-flood.server.bin"
));

const CHUNK: usize = 64 << 10;

fn stream(min: usize) -> Vec<u8> {
    let start = memchr::memchr(b'\n', CAPTURE).expect("banner line") + 1;
    let packets = &CAPTURE[start..];
    let mut out = Vec::with_capacity(min + packets.len());
    while out.len() < min {
        out.extend_from_slice(packets);
    }
    out
}

/// Decode `data` chunk by chunk, handing each packet to `f`. Returns
/// `(events, sum of f)`.
fn run(data: &[u8], mut f: impl FnMut(Packet) -> usize) -> (u64, u64) {
    let mut dec = Decoder::new();
    let mut buf = BytesMut::with_capacity(2 * CHUNK);
    let (mut events, mut sum) = (0u64, 0u64);
    for chunk in data.chunks(CHUNK) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = dec.decode(&mut buf).expect("valid stream") {
            if let Frame::Packet(p) = frame {
                if p.event().is_some() {
                    events += 1;
                }
                sum += f(p) as u64;
            }
        }
    }
    (events, sum)
}

fn len(s: Option<impl AsRef<str>>) -> usize {
    s.map_or(0, |s| s.as_ref().len())
}

fn decode_only(data: &[u8]) -> (u64, u64) {
    run(data, |p| {
        black_box(&p);
        0
    })
}

fn untyped(data: &[u8]) -> (u64, u64) {
    run(data, |p| {
        let Some(name) = p.event() else { return 0 };
        let mut n = len(p.get_str("Channel")) + len(p.get_str("Uniqueid"));
        if name == "Hangup" {
            n += p
                .get_str("Cause")
                .and_then(|c| c.trim().parse::<i64>().ok())
                .unwrap_or(0) as usize;
        } else if name == "Newexten" {
            n += len(p.get_str("Application"));
        } else if name == "VarSet" {
            n += len(p.get_str("Variable")) + len(p.get_str("Value"));
        } else if name == "DialBegin" {
            n += len(p.get_str("DestChannel"));
        } else if name == "DialEnd" {
            n += len(p.get_str("DialStatus"));
        } else if name == "BridgeEnter" {
            n += len(p.get_str("BridgeUniqueid"));
        }
        n
    })
}

fn typed(data: &[u8]) -> (u64, u64) {
    run(data, |p| {
        let ev = TypedEvent::from_packet(p);
        match &ev {
            TypedEvent::Hangup(e) => {
                let c = e.channel();
                len(c.name())
                    + len(c.unique_id())
                    + e.cause().and_then(|c| c.code()).unwrap_or(0) as usize
            }
            TypedEvent::NewExten(e) => {
                let c = e.channel();
                len(c.name()) + len(c.unique_id()) + len(e.application())
            }
            TypedEvent::VarSet(e) => {
                let c = e.channel();
                len(c.name()) + len(c.unique_id()) + len(e.variable()) + len(e.value())
            }
            TypedEvent::DialBegin(e) => {
                let c = e.channel();
                len(c.name()) + len(c.unique_id()) + len(e.dest().name())
            }
            TypedEvent::DialEnd(e) => {
                let c = e.channel();
                len(c.name()) + len(c.unique_id()) + e.dial_status().map_or(0, |s| s.as_str().len())
            }
            TypedEvent::BridgeEnter(e) => {
                let c = e.channel();
                len(c.name()) + len(c.unique_id()) + len(e.bridge().unique_id())
            }
            other => {
                let p = other.packet();
                if p.event().is_none() {
                    return 0;
                }
                len(p.get_str("Channel")) + len(p.get_str("Uniqueid"))
            }
        }
    })
}

fn classify(data: &[u8]) -> (u64, u64) {
    run(data, |p| {
        let ev = TypedEvent::from_packet(p);
        let n = usize::from(!matches!(ev, TypedEvent::Other(_)));
        black_box(ev);
        n
    })
}

type Workload = (&'static str, fn(&[u8]) -> (u64, u64));

const WORKLOADS: [Workload; 4] = [
    ("decode", decode_only),
    ("untyped", untyped),
    ("typed", typed),
    ("classify", classify),
];

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let data = stream(if bench_mode { 32 << 20 } else { 1 << 20 });

    // The same events everywhere, the same values read both ways, every
    // event of the flood typed.
    let results: Vec<(u64, u64)> = WORKLOADS.iter().map(|(_, f)| f(&data)).collect();
    let events = results[0].0;
    assert!(results.iter().all(|r| r.0 == events), "{results:?}");
    assert_eq!(
        results[1].1, results[2].1,
        "typed and untyped read the same bytes"
    );
    assert_eq!(results[3].1, events, "every event of the flood is typed");
    assert!(
        events > 0 && hangup_check(),
        "the typed view reads the same headers"
    );
    if !bench_mode {
        println!("typed bench: test mode, {events} events agree; run with `cargo bench`");
        return;
    }

    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("typed-events");
        g.throughput(Throughput::Elements(events));
        for (name, f) in WORKLOADS {
            g.bench_function(name, |b| b.iter(|| f(black_box(&data))));
        }
        g.finish();
    }
    c.final_summary();
    if std::env::args().any(|a| a == "--profile-time" || a == "--list") {
        return;
    }

    let allocs: Vec<f64> = WORKLOADS
        .iter()
        .map(|(_, f)| {
            let before = ALLOCS.load(Ordering::Relaxed);
            black_box(f(black_box(&data)));
            (ALLOCS.load(Ordering::Relaxed) - before) as f64 / events as f64
        })
        .collect();

    const ROUNDS: usize = 21;
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(ROUNDS); WORKLOADS.len()];
    for round in 0..ROUNDS {
        for k in 0..WORKLOADS.len() {
            let i = (round + k) % WORKLOADS.len();
            let t = Instant::now();
            black_box(WORKLOADS[i].1(black_box(&data)));
            times[i].push(t.elapsed());
        }
    }
    let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
    println!();
    println!(
        "== typed summary: 13-event-flood.server.bin (banner skipped) = {:.1} MiB, {events} events, {} KiB chunks, median of {ROUNDS} interleaved passes ==",
        data.len() as f64 / (1 << 20) as f64,
        CHUNK >> 10,
    );
    println!(
        "{:<10} {:>12} {:>12} {:>16} {:>13}",
        "workload", "median", "Mevents/s", "ns/event (+dec)", "allocs/event"
    );
    let per = |i: usize| medians[i].as_secs_f64() * 1e9 / events as f64;
    for (i, (name, _)) in WORKLOADS.iter().enumerate() {
        println!(
            "{:<10} {:>9.2} ms {:>12.2} {:>16.1} {:>13.3}",
            name,
            medians[i].as_secs_f64() * 1e3,
            events as f64 / medians[i].as_secs_f64() / 1e6,
            per(i),
            allocs[i],
        );
    }
    println!(
        "access after decode: untyped {:.1} ns/event, typed {:.1} ns/event ({:.2}x), classify {:.1} ns/event",
        per(1) - per(0),
        per(2) - per(0),
        (per(2) - per(0)) / (per(1) - per(0)),
        per(3) - per(0),
    );
}

/// One captured Hangup, read both ways.
fn hangup_check() -> bool {
    let mut dec = Decoder::new();
    let mut buf = BytesMut::from(CAPTURE);
    while let Some(frame) = dec.decode(&mut buf).expect("valid stream") {
        let Frame::Packet(p) = frame else { continue };
        if let Ok(h) = amiproto::types::events::Hangup::from_packet(p.clone()) {
            return h.channel().name().as_deref() == p.get_str("Channel")
                && h.cause()
                    .and_then(|c| c.code())
                    .map(|c| c.to_string())
                    .as_deref()
                    == p.get_str("Cause");
        }
    }
    false
}
