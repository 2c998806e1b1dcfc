//! One message on its way to JetStream: an event, a gap report or a session
//! marker, with everything needed to publish it again identically.

use std::sync::Arc;

use bytes::Bytes;

/// NATS header: the PBX name.
pub const HEADER_PBX: &str = "Ami-Pbx";
/// NATS header: the AMI session (one per connection to the PBX).
pub const HEADER_SESSION: &str = "Ami-Session";
/// NATS header: the sequence number within the session (for a gap, its
/// first number; for a session marker, 0).
pub const HEADER_SEQ: &str = "Ami-Seq";
/// NATS header on gaps: the last sequence number the gap covers.
pub const HEADER_GAP_LAST: &str = "Ami-Gap-Last";

/// What a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// An AMI event.
    Event = 0,
    /// A gap report.
    Gap = 1,
    /// A session marker.
    Session = 2,
}

impl Kind {
    pub(crate) fn from_u8(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Event),
            1 => Some(Kind::Gap),
            2 => Some(Kind::Session),
            _ => None,
        }
    }
}

/// A message for JetStream.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// Kind.
    pub kind: Kind,
    /// Full subject.
    pub subject: String,
    /// AMI session id.
    pub session: Arc<str>,
    /// Sequence number (see [`HEADER_SEQ`]).
    pub seq: u64,
    /// For a gap, its last sequence number; otherwise equal to `seq`.
    pub last: u64,
    /// JSON body.
    pub payload: Bytes,
    /// Publish attempts the server answered with an error.
    pub rejections: u8,
}

impl Record {
    /// The `Nats-Msg-Id`: `PBX.SESSION.SEQ` for an event, `….gap.FIRST` for a
    /// gap, `….session` for a marker. Stable across re-publishes, unique
    /// across bridge restarts (session ids are random).
    pub fn msg_id(&self, pbx: &str) -> String {
        match self.kind {
            Kind::Event => format!("{pbx}.{}.{}", self.session, self.seq),
            Kind::Gap => format!("{pbx}.{}.gap.{}", self.session, self.seq),
            Kind::Session => format!("{pbx}.{}.session", self.session),
        }
    }

    /// Bytes counted against the buffer bound.
    pub fn size(&self) -> usize {
        self.payload.len() + self.subject.len() + self.session.len() + 64
    }

    /// Append the spill-file encoding (length-prefixed).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out.push(self.kind as u8);
        out.push(self.rejections);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.last.to_le_bytes());
        for part in [self.session.as_bytes(), self.subject.as_bytes()] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&self.payload);
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// Decode one record body (without its length prefix).
    pub(crate) fn decode(body: &[u8]) -> Option<Record> {
        let kind = Kind::from_u8(*body.first()?)?;
        let rejections = *body.get(1)?;
        let seq = u64::from_le_bytes(body.get(2..10)?.try_into().ok()?);
        let last = u64::from_le_bytes(body.get(10..18)?.try_into().ok()?);
        let mut at = 18;
        let mut part = || -> Option<String> {
            let n = u32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?) as usize;
            let s = std::str::from_utf8(body.get(at + 4..at + 4 + n)?).ok()?;
            at += 4 + n;
            Some(s.to_owned())
        };
        let session = part()?;
        let subject = part()?;
        Some(Record {
            kind,
            subject,
            session: session.into(),
            seq,
            last,
            payload: Bytes::copy_from_slice(body.get(at..)?),
            rejections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spill_encoding_round_trips() {
        let r = Record {
            kind: Kind::Gap,
            subject: "ami.p.gap".into(),
            session: "S1".into(),
            seq: 7,
            last: 9,
            payload: Bytes::from_static(b"{\"count\":3}"),
            rejections: 2,
        };
        let mut out = Vec::new();
        r.encode(&mut out);
        let len = u32::from_le_bytes(out[..4].try_into().unwrap()) as usize;
        assert_eq!(len + 4, out.len());
        assert_eq!(Record::decode(&out[4..]).unwrap(), r);
        assert_eq!(r.msg_id("p"), "p.S1.gap.7");
        assert!(Record::decode(&out[4..10]).is_none());
    }
}
