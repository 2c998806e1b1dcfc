//! The events a load server floods: the event packets of a capture.

use std::fmt;
use std::path::PathBuf;

use memchr::memmem;

/// The event packets of a server-side capture (`*.server.bin`), in order,
/// byte for byte, ready to be written again and again.
///
/// Kept: every packet that starts with `Event:`. Left out: the banner,
/// responses, `FullyBooted` (the load server sends its own after login)
/// and events carrying an `ActionID` (list items and action-bound events,
/// which a client hands to the pending action rather than to its event
/// stream). With `13-event-flood` of Asterisk 22.10.1 that is 2,139 events,
/// 377 bytes on average.
#[derive(Clone)]
pub struct Corpus {
    bytes: Vec<u8>,
    /// End offset (exclusive) of every packet in `bytes`.
    ends: Vec<usize>,
}

/// A capture with no event packet to replay (it may say more later).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmptyCorpus;

impl fmt::Display for EmptyCorpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the capture holds no event packet without an ActionID")
    }
}

impl std::error::Error for EmptyCorpus {}

impl fmt::Debug for Corpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Corpus")
            .field("events", &self.events())
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl Corpus {
    /// Where `13-event-flood.server.bin` of Asterisk 22.10.1 is in this
    /// repository (`tests/data/asterisk-22.10.1/`).
    pub fn flood_capture_path() -> PathBuf {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/asterisk-22.10.1/13-event-flood.server.bin"
        ))
    }

    /// The event packets of `13-event-flood.server.bin` (read from
    /// [`Corpus::flood_capture_path`]).
    pub fn flood_capture() -> std::io::Result<Corpus> {
        let raw = std::fs::read(Self::flood_capture_path())?;
        Corpus::from_capture(&raw)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Take the event packets out of a capture's server bytes (CRLF line
    /// ends, as Asterisk writes them).
    pub fn from_capture(capture: &[u8]) -> Result<Corpus, EmptyCorpus> {
        let mut rest = capture;
        if rest.starts_with(b"Asterisk Call Manager/") {
            let nl = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            rest = &rest[nl..];
        }
        let mut bytes = Vec::with_capacity(rest.len());
        let mut ends = Vec::new();
        let mut pos = 0;
        while let Some(i) = memmem::find(&rest[pos..], b"\r\n\r\n") {
            let packet = &rest[pos..pos + i + 4];
            pos += i + 4;
            if keep(packet) {
                bytes.extend_from_slice(packet);
                ends.push(bytes.len());
            }
        }
        if ends.is_empty() {
            return Err(EmptyCorpus);
        }
        Ok(Corpus { bytes, ends })
    }

    /// Number of event packets.
    pub fn events(&self) -> u64 {
        self.ends.len() as u64
    }

    /// The packets, back to back.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The first `n` packets (`n` at most [`Corpus::events`]).
    pub fn prefix(&self, n: u64) -> &[u8] {
        match n as usize {
            0 => &[],
            n => &self.bytes[..self.ends[(n - 1).min(self.ends.len() - 1)]],
        }
    }

    /// Mean packet length in bytes.
    pub fn mean_len(&self) -> f64 {
        self.bytes.len() as f64 / self.ends.len() as f64
    }
}

/// An `Event:` packet other than `FullyBooted`, without an `ActionID`.
fn keep(packet: &[u8]) -> bool {
    let is_event = packet.len() >= 6 && packet[..6].eq_ignore_ascii_case(b"event:");
    if !is_event {
        return false;
    }
    let first_line = memchr::memchr(b'\r', packet).map_or(packet, |i| &packet[..i]);
    if first_line[6..].trim_ascii() == b"FullyBooted" {
        return false;
    }
    !packet
        .split(|&b| b == b'\n')
        .any(|line| line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"actionid:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_events_without_action_id_only() {
        let capture = b"Asterisk Call Manager/11.0.0\r\n\
            Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n\
            Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n\
            Event: Newchannel\r\nChannel: PJSIP/a\r\n\r\n\
            Event: CoreShowChannel\r\nActionID: 2\r\n\r\n\
            Event: Hangup\r\nCause: 16\r\n\r\n";
        let c = Corpus::from_capture(capture).unwrap();
        assert_eq!(c.events(), 2);
        assert_eq!(
            c.bytes(),
            b"Event: Newchannel\r\nChannel: PJSIP/a\r\n\r\nEvent: Hangup\r\nCause: 16\r\n\r\n"
        );
        assert_eq!(
            c.prefix(1),
            b"Event: Newchannel\r\nChannel: PJSIP/a\r\n\r\n"
        );
        assert_eq!(c.prefix(0), b"");
    }

    #[test]
    fn no_events_is_an_error() {
        assert_eq!(
            Corpus::from_capture(b"Asterisk Call Manager/11.0.0\r\n").unwrap_err(),
            EmptyCorpus
        );
    }

    #[test]
    fn the_flood_capture_gives_its_2139_events() {
        let c = Corpus::flood_capture().unwrap();
        assert_eq!(c.events(), 2139);
        assert!((370.0..385.0).contains(&c.mean_len()), "{}", c.mean_len());
    }
}
