//! The streaming decoder: bytes in, [`Frame`]s out.
//!
//! The decoder works over a caller-owned [`BytesMut`] that the caller only
//! appends to. Each complete packet is split off the front of that buffer
//! (`split_to(len).freeze()`: one reference count, no copy) and indexed while
//! it is scanned, so a packet that arrives one byte at a time costs O(its
//! length) in total: the scan position is remembered between calls.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::packet::{FieldIdx, Packet, WellKnown};
use crate::version::Banner;

/// The marker that ends a `Response: Follows` raw body.
pub const END_COMMAND: &[u8] = b"--END COMMAND--";

/// What every AMI server's first line starts with.
pub const BANNER_PREFIX: &[u8] = b"Asterisk Call Manager/";

/// Hard limits on what the decoder buffers for one packet.
///
/// Asterisk's own output has no line limit (`GetConfigJSON`, long `Output:`
/// floods, `Status` with every variable), so the defaults are generous; lower
/// them to bound memory against an untrusted peer. A packet over a limit is
/// skipped to its end and reported; decoding continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest line, terminator excluded. Default 1 MiB.
    pub max_line_len: usize,
    /// Largest packet, terminators included. Default 64 MiB; at most 4 GiB − 1.
    pub max_packet_len: usize,
    /// Most header lines in one packet (raw body lines do not count).
    /// Default 65 536.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line_len: 1 << 20,
            max_packet_len: 64 << 20,
            max_headers: 65_536,
        }
    }
}

/// Whether the stream starts with the server's banner line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BannerMode {
    /// The first line must be `Asterisk Call Manager/…`, anything else is
    /// [`DecodeError::NotAmi`] (what a client wants).
    Required,
    /// A first line starting with `Asterisk Call Manager/` is a banner;
    /// otherwise the stream is packets only.
    #[default]
    Auto,
    /// Packets only (the client-to-server direction).
    Absent,
}

/// One decoded item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// The server's greeting line.
    Banner(Banner),
    /// A packet.
    Packet(Packet),
}

/// Counters kept by a [`Decoder`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Packets returned.
    pub packets: u64,
    /// Empty packets (stray blank lines, `QueueRule`'s trailing one) skipped.
    pub empty_packets: u64,
    /// Packets skipped for breaking a limit.
    pub skipped_packets: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Ordinary `Key: Value` lines.
    Headers,
    /// Headers of a `Response: Follows` packet, before its raw body.
    FollowsHeaders,
    /// Inside a raw body that started at this offset.
    Body(usize),
    /// After `--END COMMAND--`: waiting for the blank line.
    AfterMarker,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Overflow {
    Line,
    Packet,
    Headers,
}

#[derive(Clone, Debug)]
struct Discard {
    overflow: Overflow,
    action_id: Option<Bytes>,
    /// The head of the current line was dropped: don't parse it.
    partial_line: bool,
}

enum LineOutcome {
    More,
    PacketEnd,
    EmptyPacket,
}

/// A streaming AMI decoder.
///
/// ```
/// use amiproto::{Decoder, Frame};
/// use bytes::BytesMut;
///
/// let mut dec = Decoder::new();
/// let mut buf = BytesMut::from(&b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nPing: Pong\r\n"[..]);
/// let Some(Frame::Banner(banner)) = dec.decode(&mut buf).unwrap() else { panic!() };
/// assert_eq!(banner.version().unwrap().major, 11);
/// assert!(dec.decode(&mut buf).unwrap().is_none()); // packet not finished yet
/// buf.extend_from_slice(b"\r\n");
/// let Some(Frame::Packet(p)) = dec.decode(&mut buf).unwrap() else { panic!() };
/// assert_eq!(p.get_str("ping"), Some("Pong"));
/// ```
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    banner: BannerMode,
    /// Bytes of the buffer already scanned for LF.
    scan: usize,
    /// Offset of the current line's first byte.
    line_start: usize,
    fields: Vec<FieldIdx>,
    known: WellKnown,
    mode: Mode,
    body: Option<(u32, u32)>,
    discard: Option<Discard>,
    stats: DecoderStats,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with default [`Limits`] and [`BannerMode::Auto`].
    pub fn new() -> Decoder {
        Decoder::with_limits(Limits::default())
    }

    /// A decoder with the given limits and [`BannerMode::Auto`].
    pub fn with_limits(limits: Limits) -> Decoder {
        let mut limits = limits;
        limits.max_packet_len = limits.max_packet_len.min(u32::MAX as usize - 1);
        Decoder {
            limits,
            banner: BannerMode::Auto,
            scan: 0,
            line_start: 0,
            fields: Vec::with_capacity(32),
            known: WellKnown::default(),
            mode: Mode::Headers,
            body: None,
            discard: None,
            stats: DecoderStats::default(),
        }
    }

    /// Set how the first line is treated (before decoding anything).
    pub fn banner_mode(mut self, mode: BannerMode) -> Decoder {
        self.banner = mode;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Counters so far.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Decode the next frame from the front of `buf`.
    ///
    /// `Ok(None)` means more bytes are needed: append them to `buf` (never
    /// change or remove bytes already in it) and call again. A recoverable
    /// error (see [`DecodeError::is_recoverable`]) reports one skipped packet;
    /// call again to go on.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        loop {
            let Some(off) = memchr::memchr(b'\n', &buf[self.scan..]) else {
                return self.need_more(buf).map(|()| None);
            };
            let nl = self.scan + off;
            self.scan = nl + 1;
            let crlf = nl > self.line_start && buf[nl - 1] == b'\r';
            let content_end = if crlf { nl - 1 } else { nl };

            if self.discard.is_some() {
                if let Some(err) = self.discard_line(buf, content_end, nl) {
                    return Err(err);
                }
                continue;
            }
            if self.banner != BannerMode::Absent {
                if let Some(frame) = self.first_line(buf, content_end, nl)? {
                    return Ok(Some(frame));
                }
            }
            if content_end - self.line_start > self.limits.max_line_len {
                self.start_discard(buf, Overflow::Line, false);
                continue;
            }
            if nl + 1 > self.limits.max_packet_len {
                self.start_discard(buf, Overflow::Packet, false);
                continue;
            }
            match self.line(buf, content_end, crlf) {
                LineOutcome::More if self.discard.is_some() => {
                    // The line just read started a skip: drop the packet so far.
                    buf.advance(nl + 1);
                    self.scan = 0;
                    self.line_start = 0;
                }
                LineOutcome::More => self.line_start = nl + 1,
                LineOutcome::EmptyPacket => {
                    buf.advance(nl + 1);
                    self.stats.empty_packets += 1;
                    self.reset();
                }
                LineOutcome::PacketEnd => return Ok(Some(Frame::Packet(self.finish(buf, nl + 1)))),
            }
        }
    }

    /// Like [`Decoder::decode`], at the end of the stream: once no complete
    /// frame is left, an unfinished packet is reported as
    /// [`DecodeError::Truncated`] (and dropped).
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        if buf.is_empty() && self.discard.is_none() {
            return Ok(None);
        }
        let bytes = buf.len();
        buf.clear();
        self.reset();
        self.discard = None;
        Err(DecodeError::Truncated { bytes })
    }

    /// Whether a packet has started but not finished.
    pub fn is_mid_packet(&self, buf: &BytesMut) -> bool {
        !buf.is_empty() || self.discard.is_some()
    }

    fn reset(&mut self) {
        self.scan = 0;
        self.line_start = 0;
        self.fields.clear();
        self.known = WellKnown::default();
        self.mode = Mode::Headers;
        self.body = None;
    }

    /// No LF in the unscanned bytes: enforce limits on the unfinished line.
    fn need_more(&mut self, buf: &mut BytesMut) -> Result<(), DecodeError> {
        self.scan = buf.len();
        if self.banner == BannerMode::Required && self.line_start == 0 && self.fields.is_empty() {
            let n = buf.len().min(BANNER_PREFIX.len());
            if buf[..n] != BANNER_PREFIX[..n] {
                let greeting = buf.split().freeze();
                return Err(DecodeError::NotAmi { greeting });
            }
        }
        if let Some(d) = &mut self.discard {
            // Keep only a tail long enough to spot a glued `--END COMMAND--`.
            let keep = END_COMMAND.len() + 1;
            if buf.len() > keep {
                buf.advance(buf.len() - keep);
                d.partial_line = true;
                self.scan = buf.len();
            }
            return Ok(());
        }
        if buf.len() - self.line_start > self.limits.max_line_len {
            self.start_discard(buf, Overflow::Line, true);
        } else if buf.len() > self.limits.max_packet_len {
            self.start_discard(buf, Overflow::Packet, true);
        }
        if self.discard.is_some() {
            return self.need_more(buf);
        }
        Ok(())
    }

    /// Handle the stream's first line when a banner may be there.
    fn first_line(
        &mut self,
        buf: &mut BytesMut,
        content_end: usize,
        nl: usize,
    ) -> Result<Option<Frame>, DecodeError> {
        let mode = std::mem::replace(&mut self.banner, BannerMode::Absent);
        if buf[..content_end].starts_with(BANNER_PREFIX) {
            let line = buf.split_to(nl + 1).freeze().slice(..content_end);
            self.reset();
            return Ok(Some(Frame::Banner(Banner::parse(line))));
        }
        if mode == BannerMode::Required {
            let greeting = buf.split_to(nl + 1).freeze();
            self.reset();
            return Err(DecodeError::NotAmi { greeting });
        }
        Ok(None)
    }

    /// One complete line `buf[line_start..content_end]` of a packet in progress.
    fn line(&mut self, buf: &BytesMut, content_end: usize, crlf: bool) -> LineOutcome {
        let start = self.line_start;
        if let Mode::Body(body_start) = self.mode {
            if buf[start..content_end].ends_with(END_COMMAND) {
                self.body = Some((body_start as u32, (content_end - END_COMMAND.len()) as u32));
                self.mode = Mode::AfterMarker;
            }
            return LineOutcome::More;
        }
        if start == content_end {
            return if self.fields.is_empty() && self.body.is_none() {
                LineOutcome::EmptyPacket
            } else {
                LineOutcome::PacketEnd
            };
        }
        let field = FieldIdx::split(buf, start, content_end);
        if self.mode == Mode::FollowsHeaders
            && (!crlf || field.is_bare() || buf[start..content_end].ends_with(END_COMMAND))
        {
            self.mode = Mode::Body(start);
            return self.line(buf, content_end, crlf);
        }
        if self.fields.len() >= self.limits.max_headers {
            self.start_discard_at_line_end(buf, Overflow::Headers);
            return LineOutcome::More;
        }
        let n = self.fields.len();
        self.known.observe(field.key(buf), n);
        if self.known.response == Some(n as u32)
            && self.mode == Mode::Headers
            && field.value(buf).eq_ignore_ascii_case(b"Follows")
        {
            self.mode = Mode::FollowsHeaders;
        }
        self.fields.push(field);
        LineOutcome::More
    }

    fn finish(&mut self, buf: &mut BytesMut, len: usize) -> Packet {
        let raw = buf.split_to(len).freeze();
        let packet = Packet::from_parts(raw, self.fields.to_vec(), self.known, self.body);
        self.stats.packets += 1;
        self.reset();
        packet
    }

    fn current_action_id(&self, buf: &BytesMut) -> Option<Bytes> {
        self.known.action_id.map(|n| {
            let f = &self.fields[n as usize];
            Bytes::copy_from_slice(f.value(buf))
        })
    }

    /// Start skipping the current packet. `mid_line`: the current line is not
    /// complete (`scan == buf.len()`); otherwise it ended at `scan - 1`.
    fn start_discard(&mut self, buf: &mut BytesMut, overflow: Overflow, mid_line: bool) {
        let action_id = self.current_action_id(buf);
        let in_body = matches!(self.mode, Mode::Body(_));
        let drop = if mid_line { self.line_start } else { self.scan };
        // A line that ends the body glued to the marker also ends the skip.
        let marker_line = !mid_line && in_body && {
            let end = self.scan - 1;
            let end = if end > self.line_start && buf[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            buf[self.line_start..end].ends_with(END_COMMAND)
        };
        buf.advance(drop);
        let scan = self.scan - drop;
        self.reset();
        self.scan = scan;
        self.mode = match (in_body, marker_line) {
            (true, false) => Mode::Body(0),
            (true, true) => Mode::AfterMarker,
            _ => Mode::Headers,
        };
        self.discard = Some(Discard {
            overflow,
            action_id,
            partial_line: false,
        });
    }

    fn start_discard_at_line_end(&mut self, buf: &BytesMut, overflow: Overflow) {
        // Called from `line()` with the line complete; `decode` drops the
        // packet so far from the buffer right after.
        let action_id = self.current_action_id(buf);
        self.discard = Some(Discard {
            overflow,
            action_id,
            partial_line: false,
        });
        self.fields.clear();
        self.known = WellKnown::default();
    }

    /// One complete line while skipping; returns the report when the skipped
    /// packet has ended.
    fn discard_line(
        &mut self,
        buf: &mut BytesMut,
        content_end: usize,
        nl: usize,
    ) -> Option<DecodeError> {
        let start = self.line_start;
        let d = self.discard.as_mut().expect("discarding");
        let line = &buf[start..content_end];
        let partial = std::mem::replace(&mut d.partial_line, false);
        let mut ended = false;
        match self.mode {
            Mode::Body(_) => {
                if line.ends_with(END_COMMAND) {
                    self.mode = Mode::AfterMarker;
                }
            }
            _ if partial => {}
            _ if line.is_empty() => ended = true,
            _ => {
                let f = FieldIdx::split(buf, start, content_end);
                let key = f.key(buf);
                if d.action_id.is_none() && key.eq_ignore_ascii_case(b"ActionID") {
                    d.action_id = Some(Bytes::copy_from_slice(f.value(buf)));
                }
                if self.mode == Mode::Headers
                    && key.eq_ignore_ascii_case(b"Response")
                    && f.value(buf).eq_ignore_ascii_case(b"Follows")
                {
                    self.mode = Mode::FollowsHeaders;
                } else if self.mode == Mode::FollowsHeaders && f.is_bare() {
                    self.mode = if line.ends_with(END_COMMAND) {
                        Mode::AfterMarker
                    } else {
                        Mode::Body(0)
                    };
                }
            }
        }
        buf.advance(nl + 1);
        self.scan = 0;
        self.line_start = 0;
        if !ended {
            return None;
        }
        let d = self.discard.take().expect("discarding");
        self.reset();
        self.stats.skipped_packets += 1;
        let action_id = d.action_id;
        Some(match d.overflow {
            Overflow::Line => DecodeError::LineTooLong {
                limit: self.limits.max_line_len,
                action_id,
            },
            Overflow::Packet => DecodeError::PacketTooLarge {
                limit: self.limits.max_packet_len,
                action_id,
            },
            Overflow::Headers => DecodeError::TooManyHeaders {
                limit: self.limits.max_headers,
                action_id,
            },
        })
    }
}
