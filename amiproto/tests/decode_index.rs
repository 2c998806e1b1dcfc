//! The decoder's header index: no heap allocation per packet in steady
//! state, and every packet's classifying headers and lines right however
//! its index falls across the shared blocks and however long its packets
//! are kept.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use amiproto::{BannerMode, Decoder, Frame, Packet, PacketKind};
use bytes::BytesMut;

/// Counts this thread's allocations only (tests run in parallel).
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.with(|c| c.get()) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: defers to the system allocator; only adds a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const FLOOD: &[u8] = include_bytes!("../../tests/data/asterisk-22.10.1/13-event-flood.server.bin");

/// Decode `data` in 64 KiB reads, keeping the last `keep` packets alive;
/// returns the packets decoded and the allocations made meanwhile.
fn decode_counting(dec: &mut Decoder, data: &[u8], keep: usize) -> (u64, u64) {
    let mut buf = BytesMut::with_capacity(128 << 10);
    let mut kept = VecDeque::new();
    let mut packets = 0;
    ALLOCS.store(0, Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    for chunk in data.chunks(64 << 10) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = dec.decode(&mut buf).expect("valid") {
            if let Frame::Packet(p) = frame {
                packets += 1;
                kept.push_back(p);
                if kept.len() > keep {
                    kept.pop_front();
                }
            }
        }
    }
    COUNTING.with(|c| c.set(false));
    (packets, ALLOCS.load(Ordering::Relaxed))
}

#[test]
fn steady_state_decoding_allocates_almost_nothing_per_packet() {
    let body = &FLOOD[memchr::memchr(b'\n', FLOOD).unwrap() + 1..];
    let data = body.repeat(8);
    for keep in [0, 1, 300, 5000] {
        let mut dec = Decoder::new().banner_mode(BannerMode::Absent);
        // Warm up: the index blocks and the read buffer reach their sizes.
        decode_counting(&mut dec, &data, keep);
        let (packets, allocs) = decode_counting(&mut dec, &data, keep);
        let per_packet = allocs as f64 / packets as f64;
        assert!(
            per_packet <= 0.05,
            "keeping {keep}: {allocs} allocations for {packets} packets"
        );
    }
}

/// A packet of `n` headers, the classifying ones at positions chosen from
/// `seed`, some keys in other cases, some lines bare or with odd colons.
fn packet(n: usize, seed: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let line = match (i + seed) % 11 {
            _ if i == seed % n.max(1) => format!("event: E{seed}"),
            _ if i == (seed / 3) % n.max(1) => format!("ACTIONID: id-{seed}-{i}"),
            0 => format!("Response: R{i}"),
            1 => format!("Action: A{i}"),
            2 => "bare line without colon".to_string(),
            3 => format!("Key:{i}:tight"),
            4 => format!("ChanVariable(SIP/a:5060): v{i}"),
            5 => format!("ActionIDX: not-{i}"),
            6 => format!("Even: {i}"),
            _ => format!(
                "Header{}: value {}",
                i % 7,
                "x".repeat((i * 13 + seed) % 90)
            ),
        };
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(if (i + seed) % 5 == 0 { b"\n" } else { b"\r\n" });
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// What a plain reading of the packet's headers says.
fn check(p: &Packet) {
    let first = |name: &str| {
        p.headers()
            .find(|h| h.is(name))
            .map(|h| h.value().as_bytes().to_vec())
    };
    let got = |v: Option<amiproto::Value<'_>>| v.map(|v| v.as_bytes().to_vec());
    assert_eq!(got(p.event()), first("Event"), "{p:?}");
    assert_eq!(got(p.action_id()), first("ActionID"), "{p:?}");
    assert_eq!(got(p.response()), first("Response"), "{p:?}");
    assert_eq!(got(p.action()), first("Action"), "{p:?}");
    let kind = if p.event().is_some() {
        PacketKind::Event
    } else if p.response().is_some() {
        PacketKind::Response
    } else if p.action().is_some() {
        PacketKind::Action
    } else {
        PacketKind::Other
    };
    assert_eq!(p.kind(), kind);
}

#[test]
fn classifying_headers_stay_right_across_index_blocks() {
    let mut stream = Vec::new();
    let mut lines = Vec::new();
    for seed in 0..700 {
        let n = [1, 2, 3, 4, 16, 17, 18, 33, 63, 64, 65, 130, 2100][seed % 13];
        let p = packet(n, seed);
        lines.push(n);
        stream.extend_from_slice(&p);
    }
    for (chunk, keep) in [(64 << 10, 0), (1500, 7), (97, 100_000), (stream.len(), 1)] {
        let mut dec = Decoder::new()
            .banner_mode(BannerMode::Absent)
            .follows_bodies(false);
        let mut buf = BytesMut::new();
        let mut kept = VecDeque::new();
        let mut seen = 0;
        for piece in stream.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(Frame::Packet(p)) = dec.decode(&mut buf).expect("valid") {
                assert_eq!(p.len(), lines[seen], "packet {seen}");
                check(&p);
                seen += 1;
                kept.push_back(p);
                if kept.len() > keep {
                    kept.pop_front();
                }
            }
        }
        assert_eq!(seen, lines.len());
        // Packets kept while later ones were decoded still read right.
        for p in &kept {
            check(p);
        }
    }
}
