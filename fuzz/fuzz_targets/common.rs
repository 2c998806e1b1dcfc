//! Shared by the fuzz targets: decoder set-up from fuzz bytes and a decode
//! driver that records everything in a comparable form.
#![allow(dead_code)]

use amiproto::{BannerMode, DecodeError, Decoder, DecoderStats, Frame, Limits, Packet, PacketKind};
use bytes::BytesMut;
use libfuzzer_sys::arbitrary::{Result, Unstructured};

/// Limits from tiny (every packet trips one) to the defaults.
pub fn limits(u: &mut Unstructured) -> Result<Limits> {
    Ok(if u.ratio(1, 4)? {
        Limits::default()
    } else {
        Limits::default()
            .max_line_len(u.int_in_range(0..=200)?)
            .max_packet_len(u.int_in_range(0..=2000)?)
            .max_headers(u.int_in_range(0..=40)?)
    })
}

pub fn banner_mode(u: &mut Unstructured, required: bool) -> Result<BannerMode> {
    let modes: &[BannerMode] = if required {
        &[BannerMode::Auto, BannerMode::Absent, BannerMode::Required]
    } else {
        &[BannerMode::Auto, BannerMode::Absent]
    };
    u.choose(modes).copied()
}

/// One reported item, with the packet index spelled out.
#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    Banner(Vec<u8>),
    Packet {
        raw: Vec<u8>,
        lines: Vec<(Vec<u8>, Vec<u8>, bool)>,
        body: Option<Vec<u8>>,
    },
    Error(DecodeError),
}

/// Decode `data` fed in pieces ending at `cuts` (increasing; the last is
/// `data.len()`), then at EOF. Panics if the decoder makes more calls than
/// the input justifies (a loop) or breaks an invariant.
pub fn decode_cuts(dec: &mut Decoder, data: &[u8], cuts: &[usize]) -> Vec<Out> {
    let mut out = Vec::new();
    let mut buf = BytesMut::new();
    let budget = data.len() + cuts.len() + 4;
    let mut calls = 0;
    let mut prev = 0;
    let record = |r: std::result::Result<Option<Frame>, DecodeError>,
                  out: &mut Vec<Out>|
     -> Option<bool> {
        match r {
            Ok(None) => None,
            Ok(Some(Frame::Banner(b))) => {
                out.push(Out::Banner(b.raw().to_vec()));
                Some(false)
            }
            Ok(Some(Frame::Packet(p))) => {
                let raw = p.raw();
                assert!(raw.ends_with(b"\n"));
                assert!(!p.is_empty() || p.body().is_some());
                check_index(&p);
                let range = raw.as_ptr_range();
                let lines = p
                    .headers()
                    .map(|h| {
                        assert!(
                            range.contains(&h.value().as_bytes().as_ptr()) || h.value().is_empty()
                        );
                        (h.key().to_vec(), h.value().to_vec(), h.is_bare())
                    })
                    .collect();
                out.push(Out::Packet {
                    raw: raw.to_vec(),
                    lines,
                    body: p.body().map(<[u8]>::to_vec),
                });
                Some(false)
            }
            Ok(Some(frame)) => panic!("a frame this target does not check: {frame:?}"),
            Err(e) => {
                let fatal = !e.is_recoverable();
                out.push(Out::Error(e));
                Some(fatal)
            }
        }
    };
    for &cut in cuts {
        buf.extend_from_slice(&data[prev..cut]);
        prev = cut;
        loop {
            calls += 1;
            assert!(calls <= budget, "decoder loops");
            match record(dec.decode(&mut buf), &mut out) {
                None => break,
                Some(true) => return out,
                Some(false) => {}
            }
        }
    }
    assert_eq!(prev, data.len());
    loop {
        calls += 1;
        assert!(calls <= budget, "decoder loops at EOF");
        match record(dec.decode_eof(&mut buf), &mut out) {
            None => break,
            Some(true) => break,
            Some(false) => {}
        }
    }
    assert!(buf.is_empty() || matches!(out.last(), Some(Out::Error(e)) if !e.is_recoverable()));
    out
}

/// Counters agree with the items reported.
pub fn check_stats(stats: DecoderStats, out: &[Out]) {
    let packets = out
        .iter()
        .filter(|o| matches!(o, Out::Packet { .. }))
        .count();
    assert_eq!(stats.packets, packets as u64);
    let skipped = out
        .iter()
        .filter(|o| matches!(o, Out::Error(e) if e.is_recoverable()))
        .count();
    assert_eq!(stats.skipped_packets, skipped as u64);
}

/// The packet's index against a plain reading of its bytes: each header
/// splits at its line's first `": "`, else its first `:`, else is bare; the
/// classifying headers are the first of their keys; clones agree.
pub fn check_index(p: &Packet) {
    let raw = p.raw();
    let base = raw.as_ptr() as usize;
    let offset = |s: &[u8]| s.as_ptr() as usize - base;
    for h in p.headers() {
        let (key, value) = (h.key(), h.value());
        let end = offset(&value) + value.len();
        let line_start = if h.is_bare() { offset(&value) } else { offset(&key) };
        let line = &raw[line_start..end];
        assert!(line_start == 0 || raw[line_start - 1] == b'\n', "{line:?}");
        assert!(matches!(raw.get(end), Some(b'\r' | b'\n')), "{line:?}");
        let want = match line.windows(2).position(|w| w == b": ") {
            Some(i) => Some((&line[..i], &line[i + 2..])),
            None => line.iter().position(|&b| b == b':').map(|i| (&line[..i], &line[i + 1..])),
        };
        match want {
            Some((k, v)) => {
                assert!(!h.is_bare(), "{line:?}");
                assert_eq!((k, v), (key.as_bytes(), value.as_bytes()), "{line:?}");
            }
            None => {
                assert!(h.is_bare(), "{line:?}");
                assert_eq!(value.as_bytes(), line);
            }
        }
    }
    let first = |name: &str| {
        p.headers()
            .find(|h| !h.is_bare() && h.key().eq_ignore_case(name))
            .map(|h| h.value().as_bytes().to_vec())
    };
    let bytes = |v: Option<amiproto::Value<'_>>| v.map(|v| v.as_bytes().to_vec());
    assert_eq!(bytes(p.event()), first("Event"));
    assert_eq!(bytes(p.response()), first("Response"));
    assert_eq!(bytes(p.action()), first("Action"));
    assert_eq!(bytes(p.action_id()), first("ActionID"));
    let kind = if first("Event").is_some() {
        PacketKind::Event
    } else if first("Response").is_some() {
        PacketKind::Response
    } else if first("Action").is_some() {
        PacketKind::Action
    } else {
        PacketKind::Other
    };
    assert_eq!(p.kind(), kind);
    let clone = p.clone();
    assert!(clone.headers().eq(p.headers()));
}
