//! The packet model: one AMI message as raw bytes plus an index of its header lines.
//!
//! A [`Packet`] owns exactly one [`Bytes`] (the packet as it arrived, or as the
//! [`PacketBuilder`] wrote it) and an index of byte ranges (its range of a
//! block shared with other packets of the same decoder).
//! Every key and value handed out is a slice of that buffer: decoding a packet
//! allocates nothing of its own.

use std::borrow::Cow;
use std::fmt;
use std::str::Utf8Error;

use bytes::Bytes;

use crate::index::{Index, Slot};

/// Byte offsets of one header line inside [`Packet::raw`].
///
/// A line `Key: Value` has `key = start..key_end` and `value = value_start..end`.
/// A line without any colon (raw CLI text, `IAXnetstats`) is kept as a *bare*
/// line: `key_end == start` and `value_start == start`, so its key is empty and
/// its value is the whole line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldIdx {
    pub(crate) start: u32,
    pub(crate) key_end: u32,
    pub(crate) value_start: u32,
    pub(crate) end: u32,
}

impl FieldIdx {
    /// Index a line `raw[start..end]` (terminator excluded), splitting it at the
    /// first `": "`, else at the first `:`, else keeping it bare.
    #[inline(always)]
    pub(crate) fn split(raw: &[u8], start: usize, end: usize) -> FieldIdx {
        let line = &raw[start..end];
        let Some(c) = find_colon(line) else {
            return FieldIdx::new(start, start, start, end);
        };
        // The first colon followed by a space is the first ": " (every line
        // Asterisk writes); otherwise look for a later one.
        if line.get(c + 1) == Some(&b' ') {
            return FieldIdx::new(start, start + c, start + c + 2, end);
        }
        match memchr::memmem::find(&line[c + 1..], b": ") {
            Some(j) => {
                let k = start + c + 1 + j;
                FieldIdx::new(start, k, k + 2, end)
            }
            None => FieldIdx::new(start, start + c, start + c + 1, end),
        }
    }

    /// Like [`FieldIdx::split`], with the line's first colon already known:
    /// `colon` ([`NO_COLON`](crate::scan::NO_COLON) if none).
    #[inline(always)]
    pub(crate) fn at_colon(raw: &[u8], start: usize, end: usize, colon: usize) -> FieldIdx {
        let field = if colon >= end {
            FieldIdx::new(start, start, start, end)
        } else if raw[colon + 1] == b' ' {
            // `raw[end]` is the line's CR or LF, so this is within the line
            // when it matches.
            FieldIdx::new(start, colon, colon + 2, end)
        } else {
            match memchr::memmem::find(&raw[colon + 1..end], b": ") {
                Some(j) => {
                    let k = colon + 1 + j;
                    FieldIdx::new(start, k, k + 2, end)
                }
                None => FieldIdx::new(start, colon, colon + 1, end),
            }
        };
        debug_assert_eq!(field, FieldIdx::split(raw, start, end));
        field
    }

    #[inline]
    fn new(start: usize, key_end: usize, value_start: usize, end: usize) -> FieldIdx {
        // Offsets fit in u32: the decoder caps packets below 4 GiB.
        FieldIdx {
            start: start as u32,
            key_end: key_end as u32,
            value_start: value_start as u32,
            end: end as u32,
        }
    }

    pub(crate) fn key<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        &raw[self.start as usize..self.key_end as usize]
    }

    pub(crate) fn value<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        &raw[self.value_start as usize..self.end as usize]
    }

    pub(crate) fn is_bare(&self) -> bool {
        self.value_start == self.start
    }

    /// Whether this line's key is `key` (ASCII case-insensitive): the
    /// lengths decide first.
    #[inline(always)]
    pub(crate) fn is_key(&self, raw: &[u8], key: &[u8]) -> bool {
        (self.key_end - self.start) as usize == key.len()
            && !self.is_bare()
            && self.key(raw).eq_ignore_ascii_case(key)
    }
}

/// The first `:` in `line`, eight bytes at a time: keys are short, so this
/// beats a `memchr` call (whose set-up costs more than the key).
#[inline]
fn find_colon(line: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const COLONS: u64 = LO * b':' as u64;
    let mut words = line.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().expect("8 bytes")) ^ COLONS;
        // High bit set in each zero byte of `x`; exact for the lowest one.
        let zero = x.wrapping_sub(LO) & !x & HI;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b':')
        .map(|i| at + i)
}

/// A header's number in its packet, or none: an `Option<u32>` in four
/// bytes rather than eight. No packet has `u32::MAX` headers (each takes a
/// byte at least, and a packet is shorter than 4 GiB), so that value means
/// none. It keeps [`Packet`] small, and packets are moved several times on
/// their way to a reader.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderNo(u32);

impl HeaderNo {
    const NONE: HeaderNo = HeaderNo(u32::MAX);

    /// Header `n`.
    #[inline(always)]
    pub(crate) fn some(n: u32) -> HeaderNo {
        debug_assert!(n != u32::MAX);
        HeaderNo(n)
    }

    /// The number, if any.
    #[inline(always)]
    pub(crate) fn get(self) -> Option<u32> {
        (self.0 != u32::MAX).then_some(self.0)
    }

    #[inline(always)]
    pub(crate) fn is_some(self) -> bool {
        self.0 != u32::MAX
    }

    #[inline(always)]
    pub(crate) fn is_none(self) -> bool {
        self.0 == u32::MAX
    }
}

impl Default for HeaderNo {
    fn default() -> HeaderNo {
        HeaderNo::NONE
    }
}

impl fmt::Debug for HeaderNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

/// Which headers of a packet classify it, found once while indexing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WellKnown {
    pub(crate) event: HeaderNo,
    pub(crate) response: HeaderNo,
    pub(crate) action: HeaderNo,
    pub(crate) action_id: HeaderNo,
}

impl WellKnown {
    /// Note header number `n`, the line `field` of `raw`, if its key is one
    /// of the classifying keys: the same as [`WellKnown::observe`], in fewer
    /// steps. Most keys are not 5, 6 or 8 bytes long and stop at one bit
    /// test; the others are compared as one 8-byte word, upper-cased (exact
    /// for keys of letters only) and masked to the key's length, with the
    /// candidates of that length. Returns whether the key may be one of
    /// them (then [`WellKnown::observe`] has looked closer).
    #[inline(always)]
    pub(crate) fn observe_line(&mut self, raw: &[u8], field: &FieldIdx, n: usize) -> bool {
        #[cfg(debug_assertions)]
        let want = {
            let mut k = *self;
            k.observe(field.key(raw), n);
            k
        };
        let hit = self.observe_quick(raw, field, n);
        #[cfg(debug_assertions)]
        debug_assert_eq!(*self, want);
        hit
    }

    #[inline(always)]
    fn observe_quick(&mut self, raw: &[u8], field: &FieldIdx, n: usize) -> bool {
        const fn word(s: &[u8]) -> u64 {
            let mut w = [0u8; 8];
            let mut i = 0;
            while i < s.len() {
                w[i] = s[i];
                i += 1;
            }
            u64::from_le_bytes(w)
        }
        const UPPER: u64 = !0x2020_2020_2020_2020;
        const fn low(len: u32) -> u64 {
            (u64::MAX >> (64 - 8 * len)) & UPPER
        }
        /// Bit `len` set for the lengths of the classifying keys.
        const LENGTHS: u32 = 1 << 5 | 1 << 6 | 1 << 8;
        /// By key length: mask and two candidates.
        const BY_LEN: [(u64, u64, u64); 9] = {
            let mut t = [(0, 1, 1); 9];
            t[5] = (low(5), word(b"EVENT"), word(b"EVENT"));
            t[6] = (low(6), word(b"ACTION"), word(b"ACTION"));
            t[8] = (low(8), word(b"RESPONSE"), word(b"ACTIONID"));
            t
        };
        let start = field.start as usize;
        let len = (field.key_end - field.start) as usize;
        if len > 8 || LENGTHS >> len & 1 == 0 {
            return false;
        }
        let word = match raw.get(start..start + 8) {
            Some(w) => u64::from_le_bytes(w.try_into().expect("8 bytes")),
            None => {
                let mut w = [0u8; 8];
                w[..len].copy_from_slice(&raw[start..start + len]);
                u64::from_le_bytes(w)
            }
        };
        let (mask, a, b) = BY_LEN[len];
        let masked = word & mask;
        let hit = masked == a || masked == b;
        if hit {
            self.observe(field.key(raw), n);
        }
        hit
    }

    /// Note header number `n` if its key is one of the classifying keys.
    #[inline(always)]
    pub(crate) fn observe(&mut self, key: &[u8], n: usize) {
        // The keys are letters only, so `byte | 0x20` equals the lowercase
        // letter exactly for its two cases: a word compare is the ASCII
        // case-insensitive compare.
        const fn word(s: &[u8; 8]) -> u64 {
            u64::from_le_bytes(*s)
        }
        const CASE: u64 = 0x2020_2020_2020_2020;
        let slot = match *key {
            [a, b, c, d, e] => {
                let w = u64::from_le_bytes([a, b, c, d, e, 0, 0, 0]);
                if w | (CASE >> 24) != word(b"event\0\0\0") {
                    return;
                }
                &mut self.event
            }
            [a, b, c, d, e, f] => {
                let w = u64::from_le_bytes([a, b, c, d, e, f, 0, 0]);
                if w | (CASE >> 16) != word(b"action\0\0") {
                    return;
                }
                &mut self.action
            }
            [a, b, c, d, e, f, g, h] => {
                let w = u64::from_le_bytes([a, b, c, d, e, f, g, h]) | CASE;
                if w == word(b"response") {
                    &mut self.response
                } else if w == word(b"actionid") {
                    &mut self.action_id
                } else {
                    return;
                }
            }
            _ => return,
        };
        if slot.is_none() {
            *slot = HeaderNo::some(n as u32);
        }
    }
}

/// What a packet is, decided by its headers: `Event:` first, then `Response:`,
/// then `Action:`.
///
/// `OriginateResponse` is an event that also carries `Response:`; it is an
/// [`PacketKind::Event`].
///
/// Deliberately exhaustive: AMI has these three packet kinds, and
/// [`PacketKind::Other`] already stands for anything else, so a `match`
/// may list all four.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// The packet has an `Event:` header.
    Event,
    /// The packet has a `Response:` header and no `Event:` header.
    Response,
    /// The packet has an `Action:` header and neither `Event:` nor `Response:`.
    Action,
    /// None of the above (raw output such as `IAXnetstats`).
    Other,
}

/// The status word of a `Response:` header, compared case-insensitively.
/// Words read as [`ResponseStatus::Other`] today may get a variant of
/// their own later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseStatus {
    /// `Response: Success`.
    Success,
    /// `Response: Error`.
    Error,
    /// `Response: Follows` (Asterisk ≤ 13 `Command` output with a raw body).
    Follows,
    /// `Response: Goodbye` (answer to `Logoff`).
    Goodbye,
    /// `Response: Pong` (answer to `Ping` on Asterisk 1.4).
    Pong,
    /// `Response: Failure` (carried by `OriginateResponse` events).
    Failure,
    /// Any other word; read it with [`Packet::response`].
    Other,
}

impl ResponseStatus {
    /// Classify a status word.
    pub fn parse(word: &[u8]) -> ResponseStatus {
        use ResponseStatus::*;
        // Every word is 4 to 7 ASCII letters: its first four and last four
        // bytes (which overlap, and cover it) are compared as integers with
        // bit 5 (the case bit) set in every byte, which for a letter
        // matches exactly its two cases (this runs for every response).
        const fn folded(w: &[u8]) -> (usize, u32, u32) {
            let n = w.len();
            let fold = 0x2020_2020;
            let head = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) | fold;
            let tail = u32::from_le_bytes([w[n - 4], w[n - 3], w[n - 2], w[n - 1]]) | fold;
            (n, head, tail)
        }
        const SUCCESS: (usize, u32, u32) = folded(b"success");
        const FOLLOWS: (usize, u32, u32) = folded(b"follows");
        const GOODBYE: (usize, u32, u32) = folded(b"goodbye");
        const FAILURE: (usize, u32, u32) = folded(b"failure");
        const ERROR: (usize, u32, u32) = folded(b"error");
        const PONG: (usize, u32, u32) = folded(b"pong");
        if !(4..=7).contains(&word.len()) {
            return Other;
        }
        match folded(word) {
            SUCCESS => Success,
            FOLLOWS => Follows,
            GOODBYE => Goodbye,
            FAILURE => Failure,
            ERROR => Error,
            PONG => Pong,
            _ => Other,
        }
    }
}

/// A header value: raw bytes with text views.
///
/// Asterisk values are bytes, not UTF-8 (Latin-1 caller names occur), so a
/// value never fails to exist because of its encoding. Compare it with a
/// `&str` directly (`value == "Success"`, exact and case-sensitive), or use
/// [`Value::eq_ignore_case`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Value<'a>(&'a [u8]);

impl<'a> Value<'a> {
    /// Wrap raw bytes.
    pub fn new(bytes: &'a [u8]) -> Value<'a> {
        Value(bytes)
    }

    /// The value's bytes, exactly as on the wire.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The value as UTF-8 text, or the UTF-8 error.
    pub fn to_str(&self) -> Result<&'a str, Utf8Error> {
        std::str::from_utf8(self.0)
    }

    /// The value as text, invalid UTF-8 replaced by `U+FFFD`.
    pub fn to_string_lossy(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.0)
    }

    /// The value as text without loss: UTF-8 when it is valid UTF-8,
    /// otherwise every byte read as Latin-1 (what Asterisk's channel drivers
    /// most often pass through).
    pub fn decode_text(&self) -> Cow<'a, str> {
        match std::str::from_utf8(self.0) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(self.0.iter().map(|&b| b as char).collect()),
        }
    }

    /// ASCII case-insensitive comparison.
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.as_bytes())
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value is empty (`Key: `).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Deref for Value<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0
    }
}

impl AsRef<[u8]> for Value<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0
    }
}

impl PartialEq<str> for Value<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Value<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.decode_text())
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.decode_text())
    }
}

/// One header line of a packet, borrowed from it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    key: &'a [u8],
    value: &'a [u8],
    bare: bool,
}

impl<'a> Header<'a> {
    #[inline]
    fn view(raw: &'a [u8], slot: &Slot) -> Header<'a> {
        let f = slot.load();
        Header {
            key: f.key(raw),
            value: f.value(raw),
            bare: f.is_bare(),
        }
    }

    /// The key (case preserved). Empty for a bare line.
    pub fn key(&self) -> Value<'a> {
        Value(self.key)
    }

    /// The key as text (keys are ASCII in practice; lossy otherwise).
    pub fn key_str(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.key)
    }

    /// The value, after the first `": "` (or `:`), trailing spaces kept.
    /// For a bare line, the whole line.
    pub fn value(&self) -> Value<'a> {
        Value(self.value)
    }

    /// Whether this line had no colon at all (kept as-is, key empty).
    pub fn is_bare(&self) -> bool {
        self.bare
    }

    /// Whether the key equals `key`, ignoring ASCII case.
    pub fn is(&self, key: &str) -> bool {
        !self.bare && self.key.eq_ignore_ascii_case(key.as_bytes())
    }
}

impl fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bare {
            write!(f, "{:?}", Value(self.value))
        } else {
            write!(f, "{:?}: {:?}", Value(self.key), Value(self.value))
        }
    }
}

/// One AMI packet (action, response or event): the raw bytes plus an index.
///
/// Cloning is cheap (two reference counts: the bytes and the index).
///
/// ```
/// use amiproto::{Packet, PacketKind, ResponseStatus};
///
/// let p = Packet::builder()
///     .header("Response", "Success")
///     .header("ActionID", "42")
///     .header("Output", "line one")
///     .header("Output", "line two")
///     .build()
///     .unwrap();
/// assert_eq!(p.kind(), PacketKind::Response);
/// assert_eq!(p.response_status(), Some(ResponseStatus::Success));
/// assert_eq!(p.get_str("actionid"), Some("42"));
/// let outputs: Vec<_> = p.get_all("output").map(|v| v.to_string()).collect();
/// assert_eq!(outputs, ["line one", "line two"]);
/// assert_eq!(&p.raw()[..], &b"Response: Success\r\nActionID: 42\r\nOutput: line one\r\nOutput: line two\r\n\r\n"[..]);
/// ```
#[derive(Clone)]
pub struct Packet {
    raw: Bytes,
    fields: Index,
    known: WellKnown,
    body: Option<(u32, u32)>,
}

impl Packet {
    pub(crate) fn from_parts(
        raw: Bytes,
        fields: Index,
        known: WellKnown,
        body: Option<(u32, u32)>,
    ) -> Packet {
        Packet {
            raw,
            fields,
            known,
            body,
        }
    }

    /// Start building a packet (for tests, simulators and proxies).
    pub fn builder() -> PacketBuilder {
        PacketBuilder::default()
    }

    /// The exact bytes of the packet, terminating blank line included.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// What the packet is: event, response, action or other.
    pub fn kind(&self) -> PacketKind {
        if self.known.event.is_some() {
            PacketKind::Event
        } else if self.known.response.is_some() {
            PacketKind::Response
        } else if self.known.action.is_some() {
            PacketKind::Action
        } else {
            PacketKind::Other
        }
    }

    /// Number of header lines (bare lines included, raw body excluded).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the packet has no header lines.
    pub fn is_empty(&self) -> bool {
        self.fields.len() == 0
    }

    /// Header line number `n`, in wire order.
    pub fn header(&self, n: usize) -> Option<Header<'_>> {
        self.fields
            .slots()
            .get(n)
            .map(|s| Header::view(&self.raw, s))
    }

    /// Every header line in wire order, repeated keys kept in order.
    pub fn headers(&self) -> Headers<'_> {
        Headers {
            raw: &self.raw,
            fields: self.fields.slots().iter(),
        }
    }

    fn known_value(&self, slot: HeaderNo) -> Option<Value<'_>> {
        slot.get()
            .map(|n| Value(&self.raw[self.fields.slots()[n as usize].value_range()]))
    }

    /// The first value of `key` (ASCII case-insensitive).
    pub fn get(&self, key: &str) -> Option<Value<'_>> {
        self.find_field(key.as_bytes())
            .map(|f| Value(f.value(&self.raw)))
    }

    /// The index of the first line whose key is `key` (ASCII
    /// case-insensitive). Lengths are compared first, from the index alone,
    /// so most lines are passed over without reading their bytes.
    #[inline]
    fn find_field(&self, key: &[u8]) -> Option<FieldIdx> {
        self.fields
            .slots()
            .iter()
            .map(Slot::load)
            .find(|f| f.is_key(&self.raw, key))
    }

    /// The first value of `key` as UTF-8 text; `None` when absent or not
    /// UTF-8 (use [`Packet::get`] for the bytes).
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|v| v.to_str().ok())
    }

    /// Every value of `key` (ASCII case-insensitive), in wire order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = Value<'a>> + 'a {
        self.fields
            .slots()
            .iter()
            .map(Slot::load)
            .filter(move |f| f.is_key(&self.raw, key.as_bytes()))
            .map(|f| Value(f.value(&self.raw)))
    }

    /// Whether a header `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The first value of `key` as an owned zero-copy [`Bytes`] slice of the
    /// packet.
    pub fn get_bytes(&self, key: &str) -> Option<Bytes> {
        self.find_field(key.as_bytes())
            .map(|f| self.raw.slice(f.value_start as usize..f.end as usize))
    }

    /// The `ActionID` (first occurrence), as sent back by the server.
    pub fn action_id(&self) -> Option<Value<'_>> {
        self.known_value(self.known.action_id)
    }

    /// The `ActionID` as an owned zero-copy slice of the packet.
    pub fn action_id_bytes(&self) -> Option<Bytes> {
        self.known.action_id.get().map(|n| {
            self.raw
                .slice(self.fields.slots()[n as usize].value_range())
        })
    }

    /// The `Event:` name, if the packet is an event.
    pub fn event(&self) -> Option<Value<'_>> {
        self.known_value(self.known.event)
    }

    /// The `Response:` word, raw.
    pub fn response(&self) -> Option<Value<'_>> {
        self.known_value(self.known.response)
    }

    /// The `Response:` word, classified.
    pub fn response_status(&self) -> Option<ResponseStatus> {
        self.response().map(|v| ResponseStatus::parse(v.as_bytes()))
    }

    /// The `Action:` name, if the packet is an action.
    pub fn action(&self) -> Option<Value<'_>> {
        self.known_value(self.known.action)
    }

    /// The `Message:` text.
    pub fn message(&self) -> Option<Value<'_>> {
        self.get("Message")
    }

    /// Whether the `Event:` name equals `name` (ASCII case-insensitive).
    pub fn is_event(&self, name: &str) -> bool {
        self.event().is_some_and(|e| e.eq_ignore_case(name))
    }

    /// The raw body of a `Response: Follows` packet (Asterisk ≤ 13 `Command`
    /// output), without the `--END COMMAND--` marker: LF-separated lines,
    /// blank lines kept, byte-exact.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.map(|(s, e)| &self.raw[s as usize..e as usize])
    }

    /// The lines of [`Packet::body`], split at LF (a final LF ends the last
    /// line; it does not add an empty one).
    pub fn body_lines(&self) -> impl Iterator<Item = Value<'_>> + '_ {
        split_body_lines(self.body().unwrap_or(&[])).map(Value)
    }

    /// The raw body as an owned zero-copy slice.
    pub fn body_bytes(&self) -> Option<Bytes> {
        self.body
            .map(|(s, e)| self.raw.slice(s as usize..e as usize))
    }
}

/// Split a raw body into lines at LF, dropping one trailing empty piece.
pub(crate) fn split_body_lines(body: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    let trimmed = body.strip_suffix(b"\n").unwrap_or(body);
    let empty = body.is_empty();
    trimmed.split(|&b| b == b'\n').filter(move |_| !empty)
}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        list.entries(self.headers());
        if let Some(body) = self.body() {
            list.entry(&format_args!("body: {:?}", Value(body)));
        }
        list.finish()
    }
}

/// The packet's exact text, for logs and debugging: every byte as received
/// (or built), CRLF line ends and the terminating blank line included, each
/// line decoded as UTF-8, or as Latin-1 when it is not UTF-8 (as
/// [`Value::decode_text`] does). Nothing is hidden: a `Login` packet read by
/// a server shows its `Secret`.
///
/// ```
/// use amiproto::Packet;
///
/// let p = Packet::builder()
///     .header("Event", "Hangup")
///     .header("CallerIDName", b"Jos\xe9")
///     .build()?;
/// assert_eq!(p.to_string(), "Event: Hangup\r\nCallerIDName: Jos\u{e9}\r\n\r\n");
/// # Ok::<(), amiproto::EncodeError>(())
/// ```
impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in self.raw.split_inclusive(|&b| b == b'\n') {
            f.write_str(&Value(line).decode_text())?;
        }
        Ok(())
    }
}

impl PartialEq for Packet {
    /// Two packets are equal when their raw bytes are.
    fn eq(&self, other: &Packet) -> bool {
        self.raw == other.raw
    }
}

impl Eq for Packet {}

/// Iterator over a packet's header lines, in wire order.
#[derive(Clone, Debug)]
pub struct Headers<'a> {
    raw: &'a [u8],
    fields: std::slice::Iter<'a, Slot>,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    #[inline]
    fn next(&mut self) -> Option<Header<'a>> {
        self.fields.next().map(|s| Header::view(self.raw, s))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.fields.size_hint()
    }
}

impl ExactSizeIterator for Headers<'_> {}

impl<'a> DoubleEndedIterator for Headers<'a> {
    fn next_back(&mut self) -> Option<Header<'a>> {
        self.fields.next_back().map(|s| Header::view(self.raw, s))
    }
}

/// Builds a [`Packet`] header by header; [`PacketBuilder::build`] refuses
/// what could not be sent on the wire as one packet (CR/LF in a key or value,
/// an empty key or one with a colon or whitespace).
///
/// The builder has no line or header-count limits: those are the server's
/// input limits, checked by [`crate::Action`] encoding. A simulated server may
/// build packets of any size.
#[derive(Clone, Debug, Default)]
pub struct PacketBuilder {
    buf: Vec<u8>,
    fields: Vec<FieldIdx>,
    known: WellKnown,
    body: Option<(u32, u32)>,
    error: Option<crate::EncodeError>,
}

impl PacketBuilder {
    /// Append `Key: Value`. Errors are reported by [`PacketBuilder::build`].
    pub fn header(mut self, key: &str, value: impl AsRef<[u8]>) -> PacketBuilder {
        self.push(key, value.as_ref());
        self
    }

    /// Append `Key: Value` through a mutable reference.
    pub fn push(&mut self, key: &str, value: &[u8]) -> &mut PacketBuilder {
        if self.error.is_some() {
            return self;
        }
        if self.body.is_some() {
            self.error = Some(crate::EncodeError::HeaderAfterBody);
            return self;
        }
        if let Err(e) = crate::encode::check_key(key.as_bytes()) {
            self.error = Some(e);
            return self;
        }
        if let Err(e) = crate::encode::check_value(key, value) {
            self.error = Some(e);
            return self;
        }
        let start = self.buf.len();
        self.buf.extend_from_slice(key.as_bytes());
        let key_end = self.buf.len();
        self.buf.extend_from_slice(b": ");
        self.buf.extend_from_slice(value);
        let end = self.buf.len();
        self.buf.extend_from_slice(b"\r\n");
        self.known.observe(key.as_bytes(), self.fields.len());
        self.fields.push(FieldIdx {
            start: start as u32,
            key_end: key_end as u32,
            value_start: key_end as u32 + 2,
            end: end as u32,
        });
        self
    }

    /// Append a raw `Response: Follows` body as Asterisk ≤ 13 writes it: the
    /// bytes verbatim (LF line endings), then `--END COMMAND--`. The body must
    /// not itself contain the marker. A [`Decoder`](crate::Decoder) reads a
    /// body only in a packet whose first line is `Response: Follows`, as
    /// Asterisk writes it: start with that header for the packet to decode
    /// back as built.
    pub fn follows_body(mut self, body: impl AsRef<[u8]>) -> PacketBuilder {
        let body = body.as_ref();
        if self.error.is_none() {
            if memchr::memmem::find(body, crate::decode::END_COMMAND).is_some() {
                self.error = Some(crate::EncodeError::MarkerInBody);
            } else {
                let start = self.buf.len() as u32;
                self.buf.extend_from_slice(body);
                self.body = Some((start, self.buf.len() as u32));
                self.buf.extend_from_slice(crate::decode::END_COMMAND);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
        self
    }

    /// Finish: the packet, or the first invalid input met.
    pub fn build(mut self) -> Result<Packet, crate::EncodeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.fields.is_empty() && self.body.is_none() {
            return Err(crate::EncodeError::EmptyPacket);
        }
        self.buf.extend_from_slice(b"\r\n");
        Ok(Packet::from_parts(
            Bytes::from(self.buf),
            Index::from_fields(&self.fields),
            self.known,
            self.body,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_words_are_classified_whatever_their_case() {
        use ResponseStatus::*;
        for (word, status) in [
            ("Success", Success),
            ("success", Success),
            ("SUCCESS", Success),
            ("Error", Error),
            ("error", Error),
            ("Follows", Follows),
            ("Goodbye", Goodbye),
            ("goodBYE", Goodbye),
            ("Pong", Pong),
            ("Failure", Failure),
            ("Successful", Other),
            ("Succes", Other),
            ("Errors", Other),
            ("Pon", Other),
            ("", Other),
            ("Sucœss", Other),
            // Bytes that differ from a letter only in the case bit.
            ("Succes\x13", Other),
            ("\x13uccess", Other),
            ("Err\x0fr", Other),
            ("Pon\x07", Other),
            ("Success\0", Other),
            ("Suxcess", Other),
            ("Sucxess", Other),
            ("Errxr", Other),
            ("Pxng", Other),
            ("Goodbey", Other),
        ] {
            assert_eq!(ResponseStatus::parse(word.as_bytes()), status, "{word}");
        }
    }

    #[test]
    fn packets_cross_threads() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Packet>();
        // A clone read on another thread while the decoder reuses the block.
        let mut dec = crate::Decoder::new().banner_mode(crate::BannerMode::Absent);
        let mut buf = bytes::BytesMut::from(&b"Event: A\r\nActionID: 1\r\n\r\n"[..]);
        let Some(crate::Frame::Packet(p)) = dec.decode(&mut buf).unwrap() else {
            panic!()
        };
        let reader = std::thread::spawn(move || p.action_id().map(|v| v.to_vec()));
        for i in 0..1000 {
            buf.extend_from_slice(format!("Event: B\r\nActionID: {i}\r\n\r\n").as_bytes());
            assert!(dec.decode(&mut buf).unwrap().is_some());
        }
        assert_eq!(reader.join().unwrap(), Some(b"1".to_vec()));
    }

    #[test]
    fn observe_matches_eq_ignore_ascii_case() {
        // Each classifying key and every one-byte change of it (all byte
        // values at every position), plus other lengths.
        let targets: [&[u8]; 4] = [b"Event", b"Action", b"Response", b"ActionID"];
        let reference = |key: &[u8]| {
            let mut k = WellKnown::default();
            for (i, t) in targets.iter().enumerate() {
                if key.eq_ignore_ascii_case(t) {
                    let slot = [
                        &mut k.event,
                        &mut k.action,
                        &mut k.response,
                        &mut k.action_id,
                    ];
                    *slot.into_iter().nth(i).unwrap() = HeaderNo::some(7);
                }
            }
            k
        };
        let mut keys: Vec<Vec<u8>> = vec![b"".to_vec(), b"Even".to_vec(), b"Events".to_vec()];
        for t in targets {
            keys.push(t.to_ascii_uppercase());
            keys.push(t.to_ascii_lowercase());
            for pos in 0..t.len() {
                for b in 0..=255u8 {
                    let mut k = t.to_vec();
                    k[pos] = b;
                    keys.push(k);
                }
            }
        }
        let mut hits = 0;
        for key in &keys {
            let mut got = WellKnown::default();
            got.observe(key, 7);
            let want = reference(key);
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(key));
            hits += usize::from(want != WellKnown::default());
        }
        assert!(hits > 8, "{hits}");
    }

    #[test]
    fn split_prefers_colon_space_and_keeps_colons_in_keys() {
        let raw = b"ChanVariable(IAX2/10.0.0.1:4569-3): x=y";
        let f = FieldIdx::split(raw, 0, raw.len());
        assert_eq!(f.key(raw), b"ChanVariable(IAX2/10.0.0.1:4569-3)");
        assert_eq!(f.value(raw), b"x=y");
    }

    #[test]
    fn split_falls_back_to_first_colon_and_bare() {
        let raw = b"NoSpace:tight";
        let f = FieldIdx::split(raw, 0, raw.len());
        assert_eq!((f.key(raw), f.value(raw)), (&b"NoSpace"[..], &b"tight"[..]));
        let raw = b"just text";
        let f = FieldIdx::split(raw, 0, raw.len());
        assert!(f.is_bare());
        assert_eq!(f.key(raw), b"");
        assert_eq!(f.value(raw), b"just text");
    }

    #[test]
    fn find_colon_matches_a_plain_search() {
        let mut line = Vec::new();
        for len in 0..40 {
            for at in 0..=len {
                line.clear();
                line.extend((0..len).map(|i| if i % 7 == 3 { b';' } else { 0x80 | i as u8 }));
                if at < len {
                    line[at] = b':';
                    if at + 3 < len {
                        line[at + 3] = b':';
                    }
                }
                let want = line.iter().position(|&b| b == b':');
                assert_eq!(find_colon(&line), want, "{line:?}");
            }
        }
    }

    #[test]
    fn value_keeps_colons_and_spaces() {
        let raw = b"Colon: a:b: c :d";
        let f = FieldIdx::split(raw, 0, raw.len());
        assert_eq!(f.value(raw), b"a:b: c :d");
        let raw = b"Spaced:    padded value   ";
        let f = FieldIdx::split(raw, 0, raw.len());
        assert_eq!(f.value(raw), b"   padded value   ");
    }

    #[test]
    fn kind_event_wins_over_response() {
        let p = Packet::builder()
            .header("Response", "Success")
            .header("Event", "OriginateResponse")
            .build()
            .unwrap();
        assert_eq!(p.kind(), PacketKind::Event);
        assert_eq!(p.response_status(), Some(ResponseStatus::Success));
        let p = Packet::builder().header("Foo", "bar").build().unwrap();
        assert_eq!(p.kind(), PacketKind::Other);
    }

    #[test]
    fn latin1_values_never_fail() {
        let p = Packet::builder()
            .header("CallerIDName", b"Jos\xe9")
            .build()
            .unwrap();
        let v = p.get("calleridname").unwrap();
        assert!(v.to_str().is_err());
        assert_eq!(v.decode_text(), "José");
        assert_eq!(v.to_string_lossy(), "Jos\u{fffd}");
        assert_eq!(p.get_str("CallerIDName"), None);
        assert_eq!(v.as_bytes(), b"Jos\xe9");
    }

    #[test]
    fn builder_refuses_injection() {
        assert!(Packet::builder()
            .header("A", "x\r\nAction: Hangup")
            .build()
            .is_err());
        assert!(Packet::builder().header("A B", "x").build().is_err());
        assert!(Packet::builder().header("", "x").build().is_err());
        assert!(Packet::builder().header("A:", "x").build().is_err());
        assert!(Packet::builder().build().is_err());
    }

    #[test]
    fn body_lines_keep_blank_lines() {
        let p = Packet::builder()
            .header("Response", "Follows")
            .follows_body("a\n\nb\n")
            .build()
            .unwrap();
        let lines: Vec<_> = p.body_lines().map(|v| v.as_bytes().to_vec()).collect();
        assert_eq!(lines, vec![b"a".to_vec(), b"".to_vec(), b"b".to_vec()]);
        assert_eq!(
            &p.raw()[..],
            b"Response: Follows\r\na\n\nb\n--END COMMAND--\r\n\r\n"
        );
    }
}
