//! Decode throughput on a real Asterisk 22 event flood, beside two baselines
//! measured in the same run on the same bytes:
//!
//! - `memmem_count`: a `memchr::memmem` count of `\r\n\r\n` over the
//!   contiguous stream — the ceiling (no line splitting, no copy).
//! - `naive_split`: what a hand-rolled client does — append each chunk to a
//!   `Vec<u8>`, split complete packets into lines with `memchr`, collect
//!   `(key, value)` slices into a `Vec` (reused across packets, one
//!   allocation per chunk),
//!   drain the consumed prefix.
//! - `decoder`: [`amiproto::Decoder`] fed the same chunks appended to a
//!   `BytesMut`, every frame decoded and dropped.
//! - `httparse`: a reference, not a baseline: the `httparse` crate's
//!   `parse_headers` (the header parser of Rust's HTTP stack: zero-copy,
//!   SIMD where the CPU has it) over the same chunks, each AMI packet
//!   parsed as one header block. It indexes every header, as the decoder
//!   does, and shows what a well-tuned general parser gets from the same
//!   bytes.
//!
//! The stream is `13-event-flood.server.bin` without its banner, repeated to
//! at least 64 MiB and fed in 64 KiB chunks. After criterion's own reports the
//! bench prints a summary: interleaved medians, bytes/s, packets/s, ratios and
//! heap allocations per packet (counted by a global allocator in this binary),
//! then (on Linux) the same passes' medians by the thread's CPU time, which a
//! machine shared with other work disturbs far less than wall time.
//!
//! Run: `cargo bench -p amiproto --bench decode`. Under `cargo test --benches`
//! (no `--bench` flag) it only checks that they all agree, on a small input.
//!
//! For instruction counts, `DECODE_PASSES=decoder:20` (any workload's name)
//! makes the binary run only that workload, that many passes over the same
//! stream, and print its packets: `perf stat -e instructions,cycles` over
//! it, minus a run with `:0` (the stream's set-up), divided by
//! passes × packets, is instructions per packet.

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use amiproto::{Decoder, Frame};
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

/// The capture without its banner line, repeated to at least `min` bytes.
fn stream(min: usize) -> Vec<u8> {
    assert!(CAPTURE.starts_with(b"Asterisk Call Manager/"));
    let packets = &CAPTURE[banner_len()..];
    let mut out = Vec::with_capacity(min + packets.len());
    while out.len() < min {
        out.extend_from_slice(packets);
    }
    out
}

fn banner_len() -> usize {
    memchr::memchr(b'\n', CAPTURE).expect("banner line") + 1
}

/// Baseline (a): count packet terminators. Returns packets.
fn memmem_count(data: &[u8]) -> u64 {
    memchr::memmem::find_iter(data, b"\r\n\r\n").count() as u64
}

/// Baseline (b): a naive chunked line splitter. Returns packets.
fn naive_split(data: &[u8]) -> u64 {
    let mut buf: Vec<u8> = Vec::with_capacity(2 * CHUNK);
    let mut packets = 0u64;
    for chunk in data.chunks(CHUNK) {
        buf.extend_from_slice(chunk);
        // Borrows `buf`, so it lives for one chunk (one allocation per ~180 packets).
        let mut fields: Vec<(&[u8], &[u8])> = Vec::with_capacity(64);
        let mut consumed = 0;
        let mut pos = 0;
        'lines: loop {
            let Some(off) = memchr::memchr(b'\n', &buf[pos..]) else {
                break 'lines;
            };
            let nl = pos + off;
            let mut line = &buf[pos..nl];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            pos = nl + 1;
            if line.is_empty() {
                if !fields.is_empty() {
                    packets += 1;
                    black_box(&fields);
                }
                fields.clear();
                consumed = pos;
                continue;
            }
            let pair = match memchr::memmem::find(line, b": ") {
                Some(i) => (&line[..i], &line[i + 2..]),
                None => match memchr::memchr(b':', line) {
                    Some(i) => (&line[..i], &line[i + 1..]),
                    None => (&line[..0], line),
                },
            };
            fields.push(pair);
        }
        drop(fields); // an unfinished packet is split again next time
        buf.drain(..consumed);
    }
    packets
}

/// Reference (c): `httparse`, the zero-copy header parser of Rust's HTTP
/// stack (SIMD where the CPU has it, chosen at run time), fed the chunks
/// as `naive_split` is: every AMI packet is a header block, parsed by
/// `parse_headers` into an array on the stack; an unfinished packet is
/// parsed again with the next chunk. Returns packets.
fn httparse_split(data: &[u8]) -> u64 {
    let mut buf: Vec<u8> = Vec::with_capacity(2 * CHUNK);
    let mut packets = 0u64;
    for chunk in data.chunks(CHUNK) {
        buf.extend_from_slice(chunk);
        // Borrows `buf`, so it lives for one chunk (4 KiB to clear).
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut pos = 0;
        loop {
            match httparse::parse_headers(&buf[pos..], &mut headers) {
                Ok(httparse::Status::Complete((len, fields))) => {
                    black_box(fields);
                    packets += 1;
                    pos += len;
                }
                Ok(httparse::Status::Partial) => break,
                Err(e) => panic!("httparse: {e} at byte {pos} of a chunk"),
            }
        }
        buf.drain(..pos);
    }
    packets
}

/// The decoder, fed chunk by chunk. Returns packets.
fn decode(data: &[u8]) -> u64 {
    let mut dec = Decoder::new();
    let mut buf = BytesMut::with_capacity(2 * CHUNK);
    let mut packets = 0u64;
    for chunk in data.chunks(CHUNK) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = dec.decode(&mut buf).expect("valid stream") {
            if let Frame::Packet(p) = frame {
                packets += 1;
                black_box(&p);
            }
        }
    }
    assert!(buf.is_empty());
    packets
}

type Workload = (&'static str, fn(&[u8]) -> u64);

const WORKLOADS: [Workload; 4] = [
    ("memmem_count", memmem_count),
    ("naive_split", naive_split),
    ("decoder", decode),
    ("httparse", httparse_split),
];

/// This thread's CPU time so far (Linux: the scheduler's count in
/// nanoseconds), or `None` elsewhere. Unlike wall time it leaves out the
/// time other processes had the core, which on a shared machine is most of
/// the noise.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `DECODE_PASSES=name:n`: `n` passes of one workload, nothing else.
fn passes_only(data: &[u8]) -> bool {
    let Ok(spec) = std::env::var("DECODE_PASSES") else {
        return false;
    };
    let (name, n) = spec.split_once(':').expect("DECODE_PASSES=name:passes");
    let n: u64 = n.parse().expect("a number of passes");
    let (_, f) = WORKLOADS
        .iter()
        .find(|(w, _)| *w == name)
        .expect("a workload's name");
    let packets: u64 = (0..n).map(|_| f(black_box(data))).sum();
    println!(
        "{name}: {n} passes, {packets} packets, {} bytes each pass",
        data.len()
    );
    true
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let data = stream(if bench_mode { 64 << 20 } else { 1 << 20 });
    if passes_only(&data) {
        return;
    }

    // All of them must see the same packets (none is empty in this capture).
    let counts: Vec<u64> = WORKLOADS.iter().map(|(_, f)| f(&data)).collect();
    assert!(
        counts.iter().all(|&c| c == counts[0]),
        "packet counts differ: {counts:?}"
    );
    let packets = counts[0];
    if !bench_mode {
        println!("decode bench: test mode, {packets} packets agree; run with `cargo bench`");
        return;
    }

    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("event-flood");
        g.throughput(Throughput::Bytes(data.len() as u64));
        for (name, f) in WORKLOADS {
            g.bench_function(name, |b| b.iter(|| f(black_box(&data))));
        }
        g.finish();
    }
    c.final_summary();
    if std::env::args().any(|a| a == "--profile-time" || a == "--list") {
        return;
    }

    // Allocations per packet, one full pass each (after warm-up passes).
    let allocs: Vec<f64> = WORKLOADS
        .iter()
        .map(|(_, f)| {
            let before = ALLOCS.load(Ordering::Relaxed);
            black_box(f(black_box(&data)));
            (ALLOCS.load(Ordering::Relaxed) - before) as f64 / packets as f64
        })
        .collect();

    // Interleaved rounds, so drift from other load hits all alike.
    const ROUNDS: usize = 21;
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(ROUNDS); WORKLOADS.len()];
    let mut cpu: Vec<Vec<Duration>> = vec![Vec::with_capacity(ROUNDS); WORKLOADS.len()];
    for round in 0..ROUNDS {
        for k in 0..WORKLOADS.len() {
            let i = (round + k) % WORKLOADS.len();
            let c = thread_cpu_time();
            let t = Instant::now();
            black_box(WORKLOADS[i].1(black_box(&data)));
            times[i].push(t.elapsed());
            if let (Some(c), Some(now)) = (c, thread_cpu_time()) {
                cpu[i].push(now - c);
            }
        }
    }
    let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
    let cpu_medians: Option<Vec<Duration>> = cpu
        .iter_mut()
        .map(|t| (t.len() == ROUNDS).then(|| median(t)))
        .collect();

    let bytes = data.len() as f64;
    println!();
    println!(
        "== decode summary: 13-event-flood.server.bin (banner skipped) x{} = {:.1} MiB, {} packets ({:.0} B/packet), {} KiB chunks, median of {ROUNDS} interleaved passes ==",
        data.len() / (CAPTURE.len() - banner_len()),
        bytes / (1 << 20) as f64,
        packets,
        bytes / packets as f64,
        CHUNK >> 10,
    );
    println!(
        "{:<14} {:>12} {:>10} {:>14} {:>14}",
        "workload", "median", "GB/s", "Mpackets/s", "allocs/packet"
    );
    for (i, (name, _)) in WORKLOADS.iter().enumerate() {
        let s = medians[i].as_secs_f64();
        println!(
            "{:<14} {:>9.2} ms {:>10.3} {:>14.2} {:>14.3}",
            name,
            s * 1e3,
            bytes / s / 1e9,
            packets as f64 / s / 1e6,
            allocs[i],
        );
    }
    let speed = |i: usize| 1.0 / medians[i].as_secs_f64();
    println!(
        "decoder / naive_split  = {:.2}x  (target >= 1.80x)",
        speed(2) / speed(1)
    );
    println!(
        "decoder / memmem_count = {:.2}x  (ceiling)",
        speed(2) / speed(0)
    );
    println!(
        "decoder / httparse     = {:.2}x  (reference: a zero-copy header parser)",
        speed(2) / speed(3)
    );
    println!(
        "decoder throughput     = {:.3} GB/s (target >= 2.5 GB/s)",
        bytes * speed(2) / 1e9
    );
    if let Some(cpu) = cpu_medians {
        // The same passes by the thread's CPU time: what a busy machine
        // leaves of the comparison.
        let cpu_speed = |i: usize| 1.0 / cpu[i].as_secs_f64();
        println!(
            "by thread CPU time: {}; decoder / naive_split = {:.2}x",
            WORKLOADS
                .iter()
                .enumerate()
                .map(|(i, (name, _))| format!(
                    "{name} {:.2} ms ({:.3} GB/s)",
                    cpu[i].as_secs_f64() * 1e3,
                    bytes * cpu_speed(i) / 1e9
                ))
                .collect::<Vec<_>>()
                .join(", "),
            cpu_speed(2) / cpu_speed(1)
        );
    }
}
