//! What Asterisk makes of the bytes a client sends.
//!
//! The core [`Decoder`] (no banner, generous limits) splits the stream into
//! packets; each packet's lines are then read the way `get_input` and
//! `do_message` in `main/manager.c` read them: a 1024-byte line buffer
//! (a line of 1023 or more bytes before CRLF is "too long": the buffer is
//! discarded a chunk at a time, keeping its last byte, so the line's tail
//! becomes a header of its own, or an empty line that ends the message early
//! when the CR is the kept byte), at most 128 header lines per message, and a
//! bare blank line is a message too (one without `Action`).

use amiproto::{BannerMode, DecodeError, Decoder, Frame, Limits, Packet};
use bytes::{Bytes, BytesMut};

/// `AST_MAX_MANHEADERS`.
pub(crate) const MAX_HEADERS: usize = 128;
/// Size of Asterisk's input buffer less the NUL (`sizeof(inbuf) - 1`).
const BUF: usize = 1024;

/// How Asterisk's parser ended a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parse {
    /// Every line fitted.
    Ok,
    /// A line did not fit the buffer: `Failed to parse message: line too long`.
    LineTooLong,
    /// More than 128 lines: `Too many lines in message or allocation failure`.
    TooManyLines,
}

/// One message as Asterisk's session thread sees it.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    lines: Vec<Bytes>,
    pub(crate) parse: Parse,
}

impl Request {
    fn new(lines: Vec<Bytes>, parse: Parse) -> Request {
        Request { lines, parse }
    }

    /// The header lines as received (terminators removed).
    pub(crate) fn lines(&self) -> &[Bytes] {
        &self.lines
    }

    /// Every value of `key`, Asterisk style: a line matches when it starts
    /// with `key` (any case) followed by `:`; leading blanks of the value are
    /// skipped, trailing ones kept.
    pub(crate) fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.lines.iter().filter_map(move |l| header_value(l, key))
    }

    /// `astman_get_header`: the first value of `key`, `""` when absent.
    pub(crate) fn get(&self, key: &str) -> &[u8] {
        self.lines
            .iter()
            .find_map(|l| header_value(l, key))
            .unwrap_or(b"")
    }

    /// [`Request::get`] as text (lossy).
    pub(crate) fn get_str(&self, key: &str) -> String {
        String::from_utf8_lossy(self.get(key)).into_owned()
    }

    /// The `ActionID` to echo, if any.
    pub(crate) fn action_id(&self) -> Option<&[u8]> {
        Some(self.get("ActionID")).filter(|v| !v.is_empty())
    }
}

/// The value of `line` for `key`, if the line is that header.
fn header_value<'a>(line: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let k = key.len();
    if line.len() > k && line[..k].eq_ignore_ascii_case(key.as_bytes()) && line[k] == b':' {
        let v = &line[k + 1..];
        let skip = v.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        // C strings end at NUL.
        let v = &v[skip..];
        Some(v.split(|&b| b == 0).next().unwrap_or(b""))
    } else {
        None
    }
}

/// What one read of the client stream produced.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A packet as the client sent it, and the messages Asterisk reads in it
    /// (usually one).
    Packet(Packet, Vec<Request>),
    /// A packet skipped by the core decoder's own (large) limits; answered as
    /// a too-long line.
    Skipped(Option<Bytes>),
    /// A bare blank line: a message without headers (`Missing action`).
    Blank,
}

impl Incoming {
    /// The messages Asterisk reads in this item.
    pub(crate) fn requests(self) -> Vec<Request> {
        match self {
            Incoming::Packet(_, reqs) => reqs,
            Incoming::Skipped(id) => {
                let lines = id
                    .map(|id| [&b"ActionID: "[..], &id].concat().into())
                    .into_iter()
                    .collect();
                vec![Request::new(lines, Parse::LineTooLong)]
            }
            Incoming::Blank => vec![Request::new(Vec::new(), Parse::Ok)],
        }
    }
}

/// The client-to-server reader of one session.
#[derive(Debug)]
pub(crate) struct Reader {
    dec: Decoder,
    /// Bytes read and not yet decoded.
    pub(crate) buf: BytesMut,
    empties: u64,
}

impl Default for Reader {
    fn default() -> Reader {
        Reader::new()
    }
}

impl Reader {
    /// A reader for a fresh connection.
    pub(crate) fn new() -> Reader {
        let limits = Limits::default()
            .max_line_len(1 << 20)
            .max_packet_len(16 << 20)
            .max_headers(1 << 16);
        Reader {
            // Asterisk reads no raw bodies from a client: a `Response: Follows`
            // line is a header like any other.
            dec: Decoder::with_limits(limits)
                .banner_mode(BannerMode::Absent)
                .follows_bodies(false),
            buf: BytesMut::with_capacity(8192),
            empties: 0,
        }
    }

    /// The next item from the bytes in [`Reader::buf`], if complete. Bare
    /// blank lines come out as packet-less messages.
    pub(crate) fn next(&mut self, out: &mut Vec<Incoming>) {
        loop {
            let res = self.dec.decode(&mut self.buf);
            let empties = self.dec.stats().empty_packets;
            for _ in self.empties..empties {
                out.push(Incoming::Blank);
            }
            self.empties = empties;
            match res {
                Ok(Some(Frame::Packet(p))) => {
                    let reqs = split_like_asterisk(p.raw());
                    out.push(Incoming::Packet(p, reqs));
                }
                // No banner comes this way (`BannerMode::Absent`).
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(e) => out.push(Incoming::Skipped(match e {
                    DecodeError::LineTooLong { action_id, .. }
                    | DecodeError::PacketTooLarge { action_id, .. }
                    | DecodeError::TooManyHeaders { action_id, .. } => action_id,
                    _ => None,
                })),
            }
        }
    }
}

/// Read a packet's lines through Asterisk's 1024-byte buffer and 128-line
/// limit.
pub(crate) fn split_like_asterisk(raw: &[u8]) -> Vec<Request> {
    let mut reqs = Vec::with_capacity(1);
    let mut lines: Vec<Bytes> = Vec::new();
    let mut too_long = false;
    let mut hdr_loss = false;
    let mut pos = 0;
    while pos < raw.len() {
        let nl = match memchr(raw, pos) {
            Some(nl) => nl,
            None => raw.len(),
        };
        let crlf = nl > pos && raw[nl - 1] == b'\r';
        let end = if crlf { nl - 1 } else { nl };
        let len = end - pos;
        // Index of the byte that completes the terminator, from line start.
        let term = if crlf { len + 1 } else { len };
        // The buffer holds bytes [1023k, 1023k + 1024) of the line on the
        // k-th attempt: the first chunk that holds the terminator wins.
        let mut k = 0;
        while term >= (BUF - 1) * k + BUF {
            k += 1;
        }
        if k > 0 {
            too_long = true;
        }
        let tail = (pos + (BUF - 1) * k).min(end);
        let line = &raw[tail..end];
        pos = nl + 1;
        if line.is_empty() {
            let parse = if hdr_loss {
                Parse::TooManyLines
            } else if too_long {
                too_long = false;
                Parse::LineTooLong
            } else {
                Parse::Ok
            };
            reqs.push(Request::new(std::mem::take(&mut lines), parse));
            hdr_loss = false;
        } else if lines.len() < MAX_HEADERS {
            lines.push(Bytes::copy_from_slice(line));
        } else {
            hdr_loss = true;
        }
    }
    reqs
}

fn memchr(raw: &[u8], from: usize) -> Option<usize> {
    raw[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(raw: &[u8]) -> Vec<Request> {
        split_like_asterisk(raw)
    }

    #[test]
    fn header_lookup_is_asterisks() {
        let r =
            &one(b"Action:Ping\r\nActionID:   spaces   \r\nVariable: A=1\r\nvariable: B=2\r\n\r\n")
                [0];
        assert_eq!(r.get("action"), b"Ping");
        assert_eq!(r.action_id(), Some(&b"spaces   "[..]));
        assert_eq!(r.get_all("Variable").count(), 2);
        assert_eq!(r.get("Missing"), b"");
        assert_eq!(r.parse, Parse::Ok);
    }

    #[test]
    fn line_limits() {
        let ok = [
            b"Action: Ping\r\nX: ".to_vec(),
            vec![b'x'; 1019],
            b"\r\n\r\n".to_vec(),
        ]
        .concat();
        assert_eq!(one(&ok)[0].parse, Parse::Ok, "1022-byte line fits");
        let long = [
            b"Action: Ping\r\nX: ".to_vec(),
            vec![b'x'; 1020],
            b"\r\nActionID: a\r\n\r\n".to_vec(),
        ]
        .concat();
        let r = one(&long);
        // 1023 bytes: the CR is the kept byte, so the LF ends the message.
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].parse, Parse::LineTooLong);
        assert_eq!(r[0].action_id(), None);
        assert_eq!(r[1].parse, Parse::Ok);
        assert_eq!(r[1].action_id(), Some(&b"a"[..]));
        let longer = [
            b"Action: Ping\r\nX: ".to_vec(),
            vec![b'x'; 1997],
            b"\r\nActionID: b\r\n\r\n".to_vec(),
        ]
        .concat();
        let r = one(&longer);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].parse, Parse::LineTooLong);
        assert_eq!(r[0].action_id(), Some(&b"b"[..]));
    }

    #[test]
    fn header_count_limit() {
        let mut m = b"Action: UserEvent\r\nActionID: many\r\n".to_vec();
        for i in 0..126 {
            m.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        m.extend_from_slice(b"\r\n");
        assert_eq!(one(&m)[0].parse, Parse::Ok, "128 lines pass");
        m.truncate(m.len() - 2);
        m.extend_from_slice(b"One: more\r\n\r\n");
        let r = &one(&m)[0];
        assert_eq!(r.parse, Parse::TooManyLines);
        assert_eq!(r.action_id(), Some(&b"many"[..]));
    }

    #[test]
    fn blank_lines_are_messages() {
        let mut rd = Reader::new();
        rd.buf.extend_from_slice(b"\r\nAction: Ping\n\n");
        let mut out = Vec::new();
        rd.next(&mut out);
        assert_eq!(out.len(), 2);
        assert!(matches!(out[0], Incoming::Blank));
        assert!(matches!(out[1], Incoming::Packet(..)));
    }
}
