//! Reading the actions a client sends: just enough to answer them (the
//! action's name and its `ActionID`), pipelined, allocation-free per action.

use std::io::{self, Read};
use std::ops::Range;

/// What the load server needs from one action packet.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    /// The `Action:` value, as sent (compare without case).
    pub(crate) action: &'a [u8],
    /// The `ActionID:` value, verbatim (trimmed).
    pub(crate) action_id: Option<&'a [u8]>,
}

impl<'a> Request<'a> {
    /// Read the `Action` and `ActionID` headers of one packet (lines end in
    /// CRLF or a bare LF; keys are compared without case).
    pub(crate) fn parse(packet: &'a [u8]) -> Request<'a> {
        let mut req = Request::default();
        for line in packet.split(|&b| b == b'\n') {
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let key = line[..colon].trim_ascii();
            let value = line[colon + 1..].trim_ascii();
            if key.eq_ignore_ascii_case(b"action") {
                req.action = value;
            } else if key.eq_ignore_ascii_case(b"actionid") {
                req.action_id = Some(value);
            }
        }
        req
    }

    /// Whether the action is `name` (without case).
    pub(crate) fn is(&self, name: &str) -> bool {
        self.action.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// Incremental reader of packets from a byte stream: a packet ends at an
/// empty line; stray empty lines between packets are skipped.
#[derive(Debug)]
pub(crate) struct RequestReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl RequestReader {
    /// A reader with a 256 KiB buffer (grown when one packet needs more).
    pub(crate) fn new() -> RequestReader {
        RequestReader {
            buf: vec![0; 256 << 10],
            start: 0,
            end: 0,
        }
    }

    /// Read once from `r` into the buffer; `Ok(0)` at end of stream.
    /// Ranges returned by [`RequestReader::next_packet`] before this call
    /// are no longer valid after it.
    pub(crate) fn fill(&mut self, r: &mut impl Read) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = r.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// The next complete packet in the buffer, as a range of
    /// [`RequestReader::bytes`].
    pub(crate) fn next_packet(&mut self) -> Option<Range<usize>> {
        let mut pos = self.start;
        let mut has_lines = false;
        loop {
            let nl = pos + memchr::memchr(b'\n', &self.buf[pos..self.end])?;
            let line = &self.buf[pos..nl];
            let empty = line.is_empty() || line == b"\r";
            pos = nl + 1;
            if !empty {
                has_lines = true;
            } else if !has_lines {
                // an empty line before any header: skip it
                self.start = pos;
            } else {
                let packet = self.start..pos;
                self.start = pos;
                return Some(packet);
            }
        }
    }

    /// The buffer that ranges index into.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets(input: &[u8]) -> Vec<Vec<u8>> {
        let mut r = RequestReader::new();
        let mut src = input;
        let mut out = Vec::new();
        while r.fill(&mut src).unwrap() > 0 {
            while let Some(p) = r.next_packet() {
                out.push(r.bytes()[p].to_vec());
            }
        }
        out
    }

    #[test]
    fn splits_pipelined_packets_with_crlf_or_lf() {
        let got = packets(
            b"\r\nAction: Ping\r\nActionID: 1\r\n\r\naction: login\nactionid: x y \n\nAction: Logoff\r\n\r\n",
        );
        assert_eq!(got.len(), 3);
        let ping = Request::parse(&got[0]);
        assert!(ping.is("ping"));
        assert_eq!(ping.action_id, Some(&b"1"[..]));
        let login = Request::parse(&got[1]);
        assert!(login.is("Login"));
        assert_eq!(login.action_id, Some(&b"x y"[..]));
        assert_eq!(Request::parse(&got[2]).action_id, None);
    }

    #[test]
    fn a_packet_cut_across_reads_waits_for_its_end() {
        let mut r = RequestReader::new();
        let mut first: &[u8] = b"Action: Ping\r\nActionID: 7\r\n";
        r.fill(&mut first).unwrap();
        assert_eq!(r.next_packet(), None);
        let mut rest: &[u8] = b"\r\n";
        r.fill(&mut rest).unwrap();
        let p = r.next_packet().unwrap();
        assert_eq!(Request::parse(&r.bytes()[p]).action_id, Some(&b"7"[..]));
    }

    #[test]
    fn a_packet_larger_than_the_buffer_grows_it() {
        let mut big = b"Action: UserEvent\r\nActionID: big\r\n".to_vec();
        while big.len() < 600 << 10 {
            big.extend_from_slice(b"Header: 0123456789012345678901234567890123456789\r\n");
        }
        big.extend_from_slice(b"\r\n");
        let got = packets(&big);
        assert_eq!(got.len(), 1);
        assert_eq!(Request::parse(&got[0]).action_id, Some(&b"big"[..]));
    }
}
