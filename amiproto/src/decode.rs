//! The streaming decoder: bytes in, [`Frame`]s out.
//!
//! The decoder works over a caller-owned [`BytesMut`] that the caller only
//! appends to. Each complete packet is split off the front of that buffer
//! (`split_to(len).freeze()`: one reference count, no copy) and indexed while
//! it is scanned, so a packet that arrives one byte at a time costs O(its
//! length) in total: the scan position is remembered between calls.
//!
//! Lines are found from bit masks of whole 64-byte blocks (LFs and colons
//! at once, SIMD compares), and header offsets go to a block shared by many
//! packets: decoding allocates nothing per packet.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::index::IndexWriter;
use crate::packet::{FieldIdx, Packet, WellKnown};
use crate::scan::{self, Scanner};
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
///
/// More limits may come: build one from [`Limits::default`] and its setters
/// (or assign its fields).
///
/// ```
/// use amiproto::{Decoder, Limits};
///
/// let limits = Limits::default().max_line_len(4096).max_headers(256);
/// assert_eq!((limits.max_line_len, limits.max_headers), (4096, 256));
/// let decoder = Decoder::with_limits(limits);
/// assert_eq!(decoder.limits(), limits);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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

impl Limits {
    /// Set [`Limits::max_line_len`].
    pub fn max_line_len(mut self, bytes: usize) -> Limits {
        self.max_line_len = bytes;
        self
    }

    /// Set [`Limits::max_packet_len`].
    pub fn max_packet_len(mut self, bytes: usize) -> Limits {
        self.max_packet_len = bytes;
        self
    }

    /// Set [`Limits::max_headers`].
    pub fn max_headers(mut self, count: usize) -> Limits {
        self.max_headers = count;
        self
    }
}

/// Whether the stream starts with the server's banner line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
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
#[non_exhaustive]
pub enum Frame {
    /// The server's greeting line.
    Banner(Banner),
    /// A packet.
    Packet(Packet),
}

/// Counters kept by a [`Decoder`] (more may come).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecoderStats {
    /// Packets returned.
    pub packets: u64,
    /// Empty packets (stray blank lines, `QueueRule`'s trailing one) skipped.
    pub empty_packets: u64,
    /// Packets skipped for breaking a limit (an over-long banner line
    /// included): one per recoverable [`DecodeError`] returned.
    pub skipped_packets: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Ordinary `Key: Value` lines.
    Headers,
    /// Headers of a packet whose first line is `Response: Follows`, before
    /// its raw body.
    FollowsHeaders,
    /// Inside a raw body that started at this offset.
    Body(usize),
    /// After `--END COMMAND--`: waiting for the blank line.
    AfterMarker,
}

/// What a complete line is to the packet in progress. Decoding and skipping
/// both classify lines with [`Decoder::classify`], so a skipped packet ends
/// exactly where it would have ended had it been decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineKind {
    /// The blank line that ends the packet.
    End,
    /// The first line of a raw body (then handled as [`LineKind::Body`]).
    BodyStart,
    /// A line of a raw body, the one with the marker included.
    Body,
    /// A header line (bare lines included).
    Header,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Overflow {
    Line,
    Packet,
    Headers,
}

/// The state of a packet (or line) being skipped.
#[derive(Clone, Debug)]
struct Skip {
    /// Why; `None`: the rest of a rejected greeting, skipped silently.
    overflow: Option<Overflow>,
    action_id: Option<Bytes>,
    /// The head of the current line was dropped: the line is over
    /// `max_line_len` and is not parsed.
    truncated: bool,
    /// The current line crossed `max_packet_len` before its end arrived: if
    /// it turns out to be over `max_line_len` too, the report is
    /// `LineTooLong`, as it would be had the line arrived whole.
    crossing_line: bool,
    /// End at the end of the current line (a banner or a rejected greeting),
    /// not at a blank line.
    line_only: bool,
    /// Bytes of the skipped packet dropped so far.
    dropped: usize,
}

enum LineOutcome {
    More,
    PacketEnd,
    EmptyPacket,
    Skip(Overflow),
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
    /// Where the buffer has been scanned to.
    scanner: Scanner,
    /// Offset of the current line's first byte.
    line_start: usize,
    /// Header offsets of the packet in progress.
    fields: IndexWriter,
    known: WellKnown,
    mode: Mode,
    /// Whether `Response: Follows` packets carry raw bodies.
    follows_bodies: bool,
    body: Option<(u32, u32)>,
    /// Set while a packet over a limit is skipped. The buffer then starts at
    /// the current line (`line_start == 0`).
    skip: Option<Skip>,
    stats: DecoderStats,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new()
    }
}

/// How many bytes of the unfinished line `buf[start..]` are content: all but
/// a final CR, which may be the first half of a CRLF.
fn partial_len(buf: &[u8], start: usize) -> usize {
    let len = buf.len() - start;
    if buf.last() == Some(&b'\r') && len > 0 {
        len - 1
    } else {
        len
    }
}

impl Decoder {
    /// A decoder with default [`Limits`] and [`BannerMode::Auto`].
    pub fn new() -> Decoder {
        Decoder::with_limits(Limits::default())
    }

    /// A decoder with the given limits and [`BannerMode::Auto`].
    ///
    /// `max_packet_len` is kept between 2 (an empty line always fits) and
    /// 4 GiB − 2.
    pub fn with_limits(limits: Limits) -> Decoder {
        let mut limits = limits;
        limits.max_packet_len = limits.max_packet_len.clamp(2, u32::MAX as usize - 1);
        Decoder {
            limits,
            banner: BannerMode::Auto,
            scanner: Scanner::default(),
            line_start: 0,
            fields: IndexWriter::default(),
            known: WellKnown::default(),
            mode: Mode::Headers,
            follows_bodies: true,
            body: None,
            skip: None,
            stats: DecoderStats::default(),
        }
    }

    /// Set how the first line is treated (before decoding anything).
    pub fn banner_mode(mut self, mode: BannerMode) -> Decoder {
        self.banner = mode;
        self
    }

    /// Whether a packet that opens with `Response: Follows` carries a raw
    /// body (Asterisk ≤ 13's `Command` output), as it does in what a server
    /// sends. Default `true`; set `false` to read what a client sends, where
    /// Asterisk has no raw bodies.
    ///
    /// Either way, only a packet whose *first* line is `Response: Follows`
    /// opens a body: an event that carries such a line (a `UserEvent` echoes
    /// any line its sender wrote) is an ordinary packet.
    pub fn follows_bodies(mut self, enabled: bool) -> Decoder {
        self.follows_bodies = enabled;
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
    ///
    /// However the stream is cut into reads, the frames and errors that come
    /// out are the same (except the bytes of a [`DecodeError::NotAmi`]
    /// greeting, which is reported as soon as it differs from a banner).
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        // The common case, a whole packet of headers, inlined into the
        // caller: no frame of the line-by-line path to set up.
        if self.skip.is_none() && self.banner == BannerMode::Absent && self.mode == Mode::Headers {
            if let Some(end) = self.fast_headers(buf) {
                return Ok(Some(Frame::Packet(self.finish(buf, end))));
            }
        }
        self.decode_lines(buf)
    }

    /// [`Decoder::decode`] line by line: the banner, limits, skipping, raw
    /// bodies, and packets not yet whole.
    #[inline(never)]
    fn decode_lines(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        loop {
            let Some((nl, colon)) = self.scanner.next_line(buf) else {
                return self.need_more(buf).map(|()| None);
            };
            let crlf = nl > self.line_start && buf[nl - 1] == b'\r';
            let content_end = if crlf { nl - 1 } else { nl };

            if self.skip.is_some() {
                if let Some(err) = self.skip_line(buf, crlf) {
                    return Err(err);
                }
                continue;
            }
            if self.banner != BannerMode::Absent {
                if let Some(frame) = self.first_line(buf, content_end)? {
                    return Ok(Some(frame));
                }
            }
            let overflow = if content_end - self.line_start > self.limits.max_line_len {
                Some(Overflow::Line)
            } else if nl + 1 > self.limits.max_packet_len {
                Some(Overflow::Packet)
            } else {
                None
            };
            let outcome = match overflow {
                Some(o) => LineOutcome::Skip(o),
                None => self.line(buf, content_end, crlf, colon),
            };
            match outcome {
                LineOutcome::More => self.line_start = nl + 1,
                LineOutcome::EmptyPacket => {
                    buf.advance(nl + 1);
                    self.stats.empty_packets += 1;
                    self.reset();
                }
                LineOutcome::PacketEnd => return Ok(Some(Frame::Packet(self.finish(buf, nl + 1)))),
                LineOutcome::Skip(o) if self.mode != Mode::Headers => {
                    return Err(self.abandon(buf, o, nl + 1));
                }
                LineOutcome::Skip(o) => {
                    self.start_skip(buf, o, false);
                    if let Some(err) = self.skip_line(buf, crlf) {
                        return Err(err);
                    }
                }
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
        let dropped = match &self.skip {
            // The rest of a greeting already reported as not AMI.
            Some(s) if s.overflow.is_none() => None,
            Some(s) => Some(s.dropped),
            None if buf.is_empty() => return Ok(None),
            None => Some(0),
        };
        let bytes = buf.len() + dropped.unwrap_or(0);
        buf.clear();
        self.reset();
        self.scanner = Scanner::default();
        self.skip = None;
        match dropped {
            None => Ok(None),
            Some(_) => Err(DecodeError::Truncated { bytes }),
        }
    }

    /// Whether a packet has started but not finished.
    pub fn is_mid_packet(&self, buf: &BytesMut) -> bool {
        !buf.is_empty() || self.skip.is_some()
    }

    /// The hot path: ordinary header lines of an ordinary packet. It stops,
    /// without consuming it, at the first line that needs more than "index
    /// a header": a blank line before any header, a line over a limit, the
    /// header limit, a line longer than a block, the last bytes of the
    /// buffer. It consumes a `Response: Follows` line and stops after it.
    /// [`Decoder::decode`] then carries on exactly as if it had seen every
    /// line itself.
    ///
    /// The blank line that ends a packet with headers (within the packet
    /// limit) is consumed too: the packet's length is returned, for
    /// [`Decoder::finish`].
    #[inline(never)]
    fn fast_headers(&mut self, buf: &[u8]) -> Option<usize> {
        let Limits {
            max_line_len,
            max_packet_len,
            max_headers,
        } = self.limits;
        let first_line = self.line_start;
        let mut line_start = first_line;
        debug_assert!(line_start == 0 || buf[line_start - 1] == b'\n');
        // Header lines so far, and the slots free for more (up to the
        // header limit).
        let mut n = self.fields.len();
        let mut free = self.fields.free(max_headers);
        let end = 'lines: loop {
            // A block at the line's start; all its complete lines are taken,
            // then a block at the next line's start (the unfinished line's).
            // Stopping after a fixed number of lines instead scans more
            // blocks per line, and the lines of a block are found in order
            // by the same bit search either way. A line longer than a block,
            // and the last bytes of the buffer, go to the scanner.
            let Some(block) = buf
                .get(line_start..)
                .and_then(|b| b.first_chunk::<{ scan::BLOCK }>())
            else {
                break None;
            };
            let base = line_start;
            let (mut lf, colons) = scan::masks(block);
            // No line of this block can break the line or packet limit
            // (lines here are shorter than a block).
            let within = max_line_len >= scan::BLOCK && base + scan::BLOCK <= max_packet_len;
            loop {
                if lf == 0 {
                    if line_start == base {
                        break 'lines None;
                    }
                    continue 'lines;
                }
                let off = lf.trailing_zeros() as usize;
                let nl = base + off;
                // The line's first colon: the first after the line before.
                let after = colons & (u64::MAX << (line_start - base));
                let first = after.trailing_zeros() as usize;
                let colon = if first < off {
                    base + first
                } else {
                    scan::NO_COLON
                };
                // When the line is empty, the byte before it is the previous
                // line's LF (or there is none): no CR.
                let crlf = buf.get(nl.wrapping_sub(1)) == Some(&b'\r');
                let content_end = nl - usize::from(crlf);
                // Blank, or over a limit.
                if content_end == line_start
                    || !within && (content_end - line_start > max_line_len || nl >= max_packet_len)
                {
                    if content_end == line_start && nl < max_packet_len && n != 0 {
                        // The end of the packet, as `line` would find it: in
                        // `Mode::Headers` there is no body.
                        line_start = nl + 1;
                        break 'lines Some(nl + 1);
                    }
                    break 'lines None;
                }
                let Some((slot, rest)) = free.split_first() else {
                    // The block is full, or the header limit is reached.
                    if n >= max_headers {
                        break 'lines None;
                    }
                    self.fields.set_len(n);
                    self.fields.reserve_one();
                    free = self.fields.free(max_headers);
                    continue 'lines;
                };
                let field = FieldIdx::at_colon(buf, line_start, content_end, colon);
                slot.store(field);
                free = rest;
                lf &= lf - 1;
                line_start = nl + 1;
                n += 1;
                if self.known.observe_line(buf, &field, n - 1)
                    && self.opens_body(n - 1, field.value(buf))
                {
                    self.mode = Mode::FollowsHeaders;
                    break 'lines None;
                }
            }
        };
        self.fields.set_len(n);
        if line_start != first_line {
            // Lines were taken here: the scanner goes on after them. (When
            // none were, it keeps what it had scanned of the current line.)
            self.scanner = Scanner::at(line_start);
            self.line_start = line_start;
        }
        end
    }

    /// The buffer was consumed up to the scan position, at a line end: the
    /// next packet starts.
    fn reset(&mut self) {
        self.scanner.restart();
        self.reset_packet();
    }

    fn reset_packet(&mut self) {
        self.line_start = 0;
        self.fields.clear();
        self.known = WellKnown::default();
        self.mode = Mode::Headers;
        self.body = None;
    }

    /// No LF in the unscanned bytes: settle the banner question as early as
    /// possible, enforce limits on the unfinished line, and while skipping
    /// keep only what is needed of it.
    fn need_more(&mut self, buf: &mut BytesMut) -> Result<(), DecodeError> {
        debug_assert_eq!(self.scanner.pos, buf.len());
        if self.banner != BannerMode::Absent && self.skip.is_none() {
            // Still on the first line (line_start == 0).
            let n = buf.len().min(BANNER_PREFIX.len());
            if buf[..n] != BANNER_PREFIX[..n] {
                if self.banner == BannerMode::Required {
                    self.banner = BannerMode::Absent;
                    let greeting = buf.split().freeze();
                    self.reset();
                    self.skip = Some(Skip::line(None));
                    return Err(DecodeError::NotAmi { greeting });
                }
                // Auto: not a banner; the first line of a packet.
                self.banner = BannerMode::Absent;
            } else if n < BANNER_PREFIX.len() {
                return Ok(()); // could still be the banner
            } else if partial_len(buf, 0) > self.limits.max_line_len {
                self.banner = BannerMode::Absent;
                self.skip = Some(Skip::line(Some(Overflow::Line)));
            } else {
                return Ok(());
            }
        }
        let max_line_len = self.limits.max_line_len;
        if self.skip.is_none() {
            let overflow = if partial_len(buf, self.line_start) > max_line_len {
                Overflow::Line
            } else if buf.len() > self.limits.max_packet_len {
                Overflow::Packet
            } else {
                return Ok(());
            };
            if self.mode != Mode::Headers {
                self.abandon_mid_line(buf);
            } else {
                self.start_skip(buf, overflow, true);
            }
        }
        let skip = self.skip.as_mut().expect("skipping");
        let long = partial_len(buf, 0) > max_line_len;
        if long && skip.line_only && skip.crossing_line {
            // A raw body abandoned mid-line at the packet limit whose line
            // has now grown over the line limit too: report it now, as
            // `LineTooLong` (what the whole line would have been), and drop
            // the rest of the line quietly.
            skip.crossing_line = false;
            skip.overflow = None;
            self.stats.skipped_packets += 1;
            return Err(DecodeError::LineTooLong {
                limit: max_line_len,
                action_id: skip.action_id.take(),
            });
        }
        // Skipping, and the buffer holds the start of the current line: keep
        // all of it up to max_line_len (it may carry an ActionID), else only
        // its last byte (a CR that may be the first half of the CRLF).
        if skip.truncated || long {
            skip.truncated = true;
            let keep = 1;
            if buf.len() > keep {
                let drop = buf.len() - keep;
                buf.advance(drop);
                skip.dropped += drop;
                self.scanner.rebase(drop);
            }
        }
        Ok(())
    }

    /// The stream's first complete line, when a banner may be there:
    /// `buf[..content_end]`, ending at the scan position.
    fn first_line(
        &mut self,
        buf: &mut BytesMut,
        content_end: usize,
    ) -> Result<Option<Frame>, DecodeError> {
        let mode = std::mem::replace(&mut self.banner, BannerMode::Absent);
        let end = self.scanner.pos;
        if buf[..content_end].starts_with(BANNER_PREFIX) {
            let line = buf.split_to(end).freeze().slice(..content_end);
            self.reset();
            if content_end > self.limits.max_line_len {
                self.stats.skipped_packets += 1;
                return Err(DecodeError::LineTooLong {
                    limit: self.limits.max_line_len,
                    action_id: None,
                });
            }
            return Ok(Some(Frame::Banner(Banner::parse(line))));
        }
        if mode == BannerMode::Required {
            let greeting = buf.split_to(end).freeze();
            self.reset();
            return Err(DecodeError::NotAmi { greeting });
        }
        Ok(None)
    }

    /// What the complete line `line` is in the current mode. `long`: the
    /// line is over `max_line_len` (only when skipping; its content may be
    /// just a tail then).
    fn classify(&self, line: &[u8], crlf: bool, long: bool) -> LineKind {
        match self.mode {
            Mode::Body(_) => LineKind::Body,
            // The server ends header lines in CRLF and body lines in LF, and
            // CLI output may start with a blank line or a line with a colon.
            Mode::FollowsHeaders
                if !crlf
                    || long
                    || line.ends_with(END_COMMAND)
                    || (!line.is_empty() && memchr::memchr(b':', line).is_none()) =>
            {
                LineKind::BodyStart
            }
            _ if line.is_empty() => LineKind::End,
            _ => LineKind::Header,
        }
    }

    /// One complete line `buf[line_start..content_end]` of a packet in
    /// progress, whose first colon is at `colon` ([`crate::scan::NO_COLON`]
    /// if none).
    fn line(
        &mut self,
        buf: &BytesMut,
        content_end: usize,
        crlf: bool,
        colon: usize,
    ) -> LineOutcome {
        let start = self.line_start;
        match self.classify(&buf[start..content_end], crlf, false) {
            LineKind::End => {
                if self.fields.is_empty() && self.body.is_none() {
                    LineOutcome::EmptyPacket
                } else {
                    LineOutcome::PacketEnd
                }
            }
            kind @ (LineKind::BodyStart | LineKind::Body) => {
                if kind == LineKind::BodyStart {
                    self.mode = Mode::Body(start);
                }
                if buf[start..content_end].ends_with(END_COMMAND) {
                    let Mode::Body(body_start) = self.mode else {
                        unreachable!("in a body")
                    };
                    self.body = Some((body_start as u32, (content_end - END_COMMAND.len()) as u32));
                    self.mode = Mode::AfterMarker;
                }
                LineOutcome::More
            }
            LineKind::Header => {
                if self.fields.len() >= self.limits.max_headers {
                    return LineOutcome::Skip(Overflow::Headers);
                }
                let field = FieldIdx::at_colon(buf, start, content_end, colon);
                let n = self.fields.len();
                self.known.observe(field.key(buf), n);
                if self.opens_body(n, field.value(buf)) {
                    self.mode = Mode::FollowsHeaders;
                }
                self.fields.push(field);
                LineOutcome::More
            }
        }
    }

    #[inline]
    fn finish(&mut self, buf: &mut BytesMut, len: usize) -> Packet {
        let raw = buf.split_to(len).freeze();
        let packet = Packet::from_parts(raw, self.fields.finish(), self.known, self.body);
        self.stats.packets += 1;
        self.reset();
        packet
    }

    /// Start skipping the current packet (never one with a raw body: see
    /// [`Decoder::abandon`]): drop its lines before the current one, keep
    /// its ActionID. It ends at its blank line. `mid_line`: the current line has not
    /// ended yet (called from [`Decoder::need_more`]); otherwise the caller
    /// hands the current line to [`Decoder::skip_line`].
    fn start_skip(&mut self, buf: &mut BytesMut, overflow: Overflow, mid_line: bool) {
        let action_id = self.current_action_id(buf);
        let drop = self.line_start;
        buf.advance(drop);
        self.scanner.rebase(drop);
        self.reset_packet();
        self.skip = Some(Skip {
            overflow: Some(overflow),
            action_id,
            truncated: false,
            crossing_line: mid_line && overflow == Overflow::Packet,
            line_only: false,
            dropped: drop,
        });
    }

    /// The complete line `buf[..end]` (`end` the scan position) while
    /// skipping; returns the report when the skipped packet has ended.
    fn skip_line(&mut self, buf: &mut BytesMut, crlf: bool) -> Option<DecodeError> {
        let end = self.scanner.pos;
        let content_end = end - 1 - usize::from(crlf);
        let limits = self.limits;
        let mut skip = self.skip.take().expect("skipping");
        let long =
            std::mem::replace(&mut skip.truncated, false) || content_end > limits.max_line_len;
        if std::mem::replace(&mut skip.crossing_line, false) && long {
            skip.overflow = Some(Overflow::Line);
        }
        let line = &buf[..content_end];
        // A skipped packet is always in `Mode::Headers` (a raw body over a
        // limit is abandoned instead), so it ends at its blank line.
        // A long line's content may be only its tail, even empty: it is
        // never the blank line.
        let kind = (!long).then(|| self.classify(line, crlf, false));
        if kind == Some(LineKind::Header) && skip.action_id.is_none() && skip.overflow.is_some() {
            let f = FieldIdx::split(buf, 0, content_end);
            if f.key(buf).eq_ignore_ascii_case(b"ActionID") {
                skip.action_id = Some(Bytes::copy_from_slice(f.value(buf)));
            }
        }
        let ended = skip.line_only || kind == Some(LineKind::End);
        buf.advance(end);
        skip.dropped += end;
        self.scanner.restart();
        self.line_start = 0;
        if !ended {
            self.skip = Some(skip);
            return None;
        }
        self.reset();
        let overflow = skip.overflow?;
        self.stats.skipped_packets += 1;
        Some(self.overflow_error(overflow, skip.action_id))
    }

    /// The report for a packet skipped for `overflow`.
    fn overflow_error(&self, overflow: Overflow, action_id: Option<Bytes>) -> DecodeError {
        match overflow {
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
        }
    }

    /// The value of the packet in progress's first `ActionID`, if indexed.
    fn current_action_id(&self, buf: &[u8]) -> Option<Bytes> {
        self.known
            .action_id
            .get()
            .map(|n| Bytes::copy_from_slice(self.fields.get(n as usize).value(buf)))
    }

    /// Whether header `n` of the packet in progress, with value `value`,
    /// opens a raw body: only the packet's first line, and only
    /// `Response: Follows`. Asterisk ≤ 13 writes `Response: Follows` first;
    /// an event that carries such a line later (a `UserEvent` echoes any
    /// line its sender wrote) must stay an ordinary packet, or a colon-less
    /// line after it would open a body that swallows the stream.
    #[inline]
    fn opens_body(&self, n: usize, value: &[u8]) -> bool {
        n == 0
            && self.follows_bodies
            && self.known.response.get() == Some(0)
            && value.eq_ignore_ascii_case(b"Follows")
    }

    /// A packet with a raw body broke a limit at the complete line ending
    /// at `end`: the packet ends here. Its bytes are dropped, the report
    /// goes out now, and decoding resumes with the next line as the start
    /// of a new packet, so a body whose end marker never comes cannot
    /// swallow the stream.
    fn abandon(&mut self, buf: &mut BytesMut, overflow: Overflow, end: usize) -> DecodeError {
        let mut action_id = self.current_action_id(buf);
        if action_id.is_none() && overflow != Overflow::Line {
            // The line that broke the limit may be the ActionID itself.
            let content_end = end - 1 - usize::from(buf[..end - 1].ends_with(b"\r"));
            let content_end = content_end.max(self.line_start);
            let f = FieldIdx::split(buf, self.line_start, content_end);
            if f.key(buf).eq_ignore_ascii_case(b"ActionID") {
                action_id = Some(Bytes::copy_from_slice(f.value(buf)));
            }
        }
        buf.advance(end);
        self.reset();
        self.stats.skipped_packets += 1;
        self.overflow_error(overflow, action_id)
    }

    /// Like [`Decoder::abandon`], with the limit broken before the current
    /// line ended: its head is dropped and the rest of the line follows
    /// quietly. The report waits for the line to end (`PacketTooLarge`) or
    /// to grow over `max_line_len` (`LineTooLong`), whichever comes first,
    /// so it is the one the whole line would have given.
    fn abandon_mid_line(&mut self, buf: &mut BytesMut) {
        let action_id = self.current_action_id(buf);
        let drop = self.line_start;
        buf.advance(drop);
        self.scanner.rebase(drop);
        self.reset_packet();
        self.skip = Some(Skip {
            overflow: Some(Overflow::Packet),
            action_id,
            truncated: false,
            crossing_line: true,
            line_only: true,
            dropped: drop,
        });
    }
}

impl Skip {
    /// Skip to the end of the current line only.
    fn line(overflow: Option<Overflow>) -> Skip {
        Skip {
            overflow,
            action_id: None,
            truncated: true,
            crossing_line: false,
            line_only: true,
            dropped: 0,
        }
    }
}
