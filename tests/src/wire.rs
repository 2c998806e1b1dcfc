//! Writing server output the way `astman_append` does: `Key: Value` lines
//! with CRLF, values verbatim (an empty value is `Key: `), and turning
//! finished events into [`Packet`]s with the core decoder.

use amiproto::{BannerMode, Decoder, Frame, Packet};
use bytes::{BufMut, Bytes, BytesMut};

use crate::classes;

/// A message being written, line by line.
#[derive(Debug, Default)]
pub(crate) struct Lines(BytesMut);

impl Lines {
    /// An empty message.
    pub(crate) fn new() -> Lines {
        Lines(BytesMut::with_capacity(256))
    }

    /// Append `Key: Value`.
    pub(crate) fn h(&mut self, key: &str, value: impl AsRef<[u8]>) -> &mut Lines {
        self.0.put_slice(key.as_bytes());
        self.0.put_slice(b": ");
        self.0.put_slice(value.as_ref());
        self.0.put_slice(b"\r\n");
        self
    }

    /// Append `<prefix><Key>: Value` (`DestChannel`, `LocalOneUniqueid`…).
    pub(crate) fn hp(&mut self, prefix: &str, key: &str, value: impl AsRef<[u8]>) -> &mut Lines {
        self.0.put_slice(prefix.as_bytes());
        self.h(key, value)
    }

    /// Append `Key: Value` when `value` is present.
    pub(crate) fn h_opt(&mut self, key: &str, value: Option<&[u8]>) -> &mut Lines {
        if let Some(v) = value {
            self.h(key, v);
        }
        self
    }

    /// Append a line verbatim (CRLF added).
    pub(crate) fn line(&mut self, line: &[u8]) -> &mut Lines {
        self.0.put_slice(line);
        self.0.put_slice(b"\r\n");
        self
    }

    /// Append bytes verbatim (no terminator).
    pub(crate) fn raw(&mut self, bytes: &[u8]) -> &mut Lines {
        self.0.put_slice(bytes);
        self
    }

    /// Finish with the blank line.
    pub(crate) fn end(self) -> Bytes {
        self.end_mut().freeze()
    }

    /// Finish with the blank line, still mutable.
    pub(crate) fn end_mut(mut self) -> BytesMut {
        self.0.put_slice(b"\r\n");
        self.0
    }
}

/// An event on its way to the sessions: its class mask (from `Privilege:`)
/// and the packet.
#[derive(Clone, Debug)]
pub(crate) struct SimEvent {
    /// Classes a session must be allowed to read and have in its event mask.
    pub(crate) category: u32,
    /// The whole event.
    pub(crate) packet: Packet,
}

impl SimEvent {
    /// Start an event: `Event: <name>`, `Privilege: <classes>,all`.
    pub(crate) fn start(name: &str, category: u32) -> (Lines, u32) {
        let mut l = Lines::new();
        l.h("Event", name).h("Privilege", classes::to_str(category));
        (l, category)
    }

    /// Finish an event started with [`SimEvent::start`].
    pub(crate) fn finish((lines, category): (Lines, u32)) -> SimEvent {
        SimEvent {
            category,
            packet: packet_from(lines.end_mut()),
        }
    }

    /// Wrap a packet built elsewhere; its class comes from `Privilege:`.
    pub(crate) fn from_packet(packet: Packet) -> SimEvent {
        let category = packet
            .get("Privilege")
            .map_or(0, |v| classes::category_of(&v.to_string_lossy()));
        SimEvent { category, packet }
    }
}

/// Decode one complete packet (ending in a blank line) with the core
/// decoder. (The core's `PacketBuilder` cannot write verbatim lines such as
/// `Empty:` or `NoSpace:tight` that `UserEvent` echoes, so events are
/// written as bytes and indexed this way.)
pub(crate) fn packet_from(mut buf: BytesMut) -> Packet {
    let limits = amiproto::Limits::default()
        .max_line_len(1 << 20)
        .max_packet_len(64 << 20)
        .max_headers(1 << 16);
    let raw = buf.clone().freeze();
    let mut dec = Decoder::with_limits(limits).banner_mode(BannerMode::Absent);
    match dec.decode(&mut buf) {
        Ok(Some(Frame::Packet(p))) => p,
        // Client bytes echoed into an event can be anything; never panic:
        // keep the first line as a one-header packet.
        _ => {
            let first = raw.split(|&b| b == b'\n').next().unwrap_or(b"");
            let first = first.strip_suffix(b"\r").unwrap_or(first);
            let (k, v) = match first.iter().position(|&b| b == b':') {
                Some(i) => (&first[..i], first[i + 1..].trim_ascii_start()),
                None => (&b"Event"[..], first),
            };
            let k = String::from_utf8_lossy(k);
            Packet::builder()
                .header(&k, v)
                .build()
                .or_else(|_| Packet::builder().header("Event", "Unparsable").build())
                .expect("a fixed header builds")
        }
    }
}
