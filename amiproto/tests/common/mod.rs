//! Helpers shared by the decoder tests: run a [`Decoder`] over a byte stream
//! cut into chunks and record everything it reports, in a comparable form.
#![allow(dead_code)]

use amiproto::{DecodeError, Decoder, DecoderStats, Frame, Packet};
use bytes::{Bytes, BytesMut};

/// One header line as the decoder indexed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub bare: bool,
}

/// A packet with its index spelled out, so two decodes can be compared on
/// more than the raw bytes (`Packet`'s `PartialEq` only looks at those).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snap {
    pub raw: Bytes,
    pub lines: Vec<Line>,
    pub body: Option<Vec<u8>>,
    pub kind: amiproto::PacketKind,
    pub action_id: Option<Vec<u8>>,
    pub event: Option<Vec<u8>>,
    pub response: Option<Vec<u8>>,
    pub action: Option<Vec<u8>>,
}

impl Snap {
    pub fn of(p: &Packet) -> Snap {
        Snap {
            raw: p.raw().clone(),
            lines: p
                .headers()
                .map(|h| Line {
                    key: h.key().as_bytes().to_vec(),
                    value: h.value().as_bytes().to_vec(),
                    bare: h.is_bare(),
                })
                .collect(),
            body: p.body().map(<[u8]>::to_vec),
            kind: p.kind(),
            action_id: p.action_id().map(|v| v.as_bytes().to_vec()),
            event: p.event().map(|v| v.as_bytes().to_vec()),
            response: p.response().map(|v| v.as_bytes().to_vec()),
            action: p.action().map(|v| v.as_bytes().to_vec()),
        }
    }
}

/// Everything a decoder reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Banner(Bytes),
    Packet(Box<Snap>, Packet),
    Error(DecodeError),
}

impl Item {
    pub fn packet(&self) -> Option<&Packet> {
        match self {
            Item::Packet(_, p) => Some(p),
            _ => None,
        }
    }
}

/// The outcome of decoding one stream.
#[derive(Debug)]
pub struct Run {
    pub items: Vec<Item>,
    pub stats: DecoderStats,
    /// Largest `buf.len()` seen after a `decode` call.
    pub max_buffered: usize,
    /// Whether decoding stopped at a fatal error.
    pub fatal: bool,
}

impl Run {
    pub fn packets(&self) -> impl Iterator<Item = &Packet> {
        self.items.iter().filter_map(Item::packet)
    }
    pub fn errors(&self) -> impl Iterator<Item = &DecodeError> {
        self.items.iter().filter_map(|i| match i {
            Item::Error(e) => Some(e),
            _ => None,
        })
    }
}

/// Feed `data` to `dec` in chunks of `chunk` bytes (0: all at once), calling
/// `decode` until it wants more after every chunk, then `decode_eof`.
/// Stops at the first fatal error. Panics if the decoder makes more calls
/// than the input can justify (a loop).
pub fn run(dec: Decoder, data: &[u8], chunk: usize) -> Run {
    let cuts: Vec<usize> = if chunk == 0 || data.is_empty() {
        vec![data.len()]
    } else {
        (1..=data.len().div_ceil(chunk))
            .map(|i| (i * chunk).min(data.len()))
            .collect()
    };
    run_cuts(dec, data, &cuts)
}

/// Like [`run`], with explicit chunk ends (increasing offsets; the last one
/// should be `data.len()`).
pub fn run_cuts(mut dec: Decoder, data: &[u8], cuts: &[usize]) -> Run {
    let mut items = Vec::new();
    let mut buf = BytesMut::new();
    let mut max_buffered = 0;
    // Every call either returns None (at most once per chunk, plus EOF) or
    // consumes at least one byte.
    let budget = data.len() + cuts.len() + 4;
    let mut calls = 0usize;
    let push = |r: Result<Option<Frame>, DecodeError>, items: &mut Vec<Item>| -> Option<bool> {
        match r {
            Ok(None) => None,
            Ok(Some(Frame::Banner(b))) => {
                items.push(Item::Banner(b.raw().clone()));
                Some(false)
            }
            Ok(Some(Frame::Packet(p))) => {
                items.push(Item::Packet(Box::new(Snap::of(&p)), p));
                Some(false)
            }
            Ok(Some(frame)) => panic!("a frame this helper does not record: {frame:?}"),
            Err(e) => {
                let fatal = !e.is_recoverable();
                items.push(Item::Error(e));
                Some(fatal)
            }
        }
    };
    let mut prev = 0;
    for &end in cuts {
        buf.extend_from_slice(&data[prev..end]);
        prev = end;
        loop {
            calls += 1;
            assert!(
                calls <= budget,
                "decoder loops: {calls} calls for {} bytes",
                data.len()
            );
            let r = dec.decode(&mut buf);
            max_buffered = max_buffered.max(buf.len());
            match push(r, &mut items) {
                None => break,
                Some(true) => {
                    return Run {
                        items,
                        stats: dec.stats(),
                        max_buffered,
                        fatal: true,
                    }
                }
                Some(false) => {}
            }
        }
    }
    assert_eq!(prev, data.len(), "cuts must cover the input");
    let mut fatal = false;
    loop {
        calls += 1;
        assert!(calls <= budget, "decoder loops at EOF");
        match push(dec.decode_eof(&mut buf), &mut items) {
            None => break,
            Some(true) => {
                fatal = true;
                break;
            }
            Some(false) => {}
        }
    }
    Run {
        items,
        stats: dec.stats(),
        max_buffered,
        fatal,
    }
}

/// Decode a complete stream in one piece.
pub fn run_whole(dec: Decoder, data: &[u8]) -> Run {
    run(dec, data, 0)
}
