//! Generated event floods: pre-encoded events written in large batches,
//! with only a fixed-width sequence number patched in.

use std::sync::Arc;

use amiproto::Packet;
use bytes::{Bytes, BytesMut};
use tokio::time::Instant;

use crate::server::Msgs;
use crate::wire::packet_from;

/// Events per pre-encoded batch.
const CHUNK: u64 = 1024;
/// Digits of the `Seq:` value.
const SEQ_DIGITS: usize = 10;

/// The template of one flood event, `Seq:` last.
const PREFIX: &[u8] = b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Flood\r\nSeq: ";

/// One flood event with sequence number `seq` (what every flooded event
/// looks like).
pub(crate) fn event(seq: u64) -> Packet {
    let mut b = BytesMut::new();
    b.extend_from_slice(PREFIX);
    b.extend_from_slice(format!("{seq:0width$}\r\n\r\n", width = SEQ_DIGITS).as_bytes());
    packet_from(b)
}

fn event_len() -> usize {
    PREFIX.len() + SEQ_DIGITS + 4
}

/// A flood request for one session.
#[derive(Clone, Debug)]
pub(crate) struct FloodJob {
    /// Events to send.
    pub(crate) count: u64,
    /// Events per second (`None`: as fast as the socket takes them).
    pub(crate) rate: Option<u64>,
    /// `CHUNK` events, pre-encoded.
    pub(crate) template: Bytes,
    /// Events to cycle through instead of the generated ones (from a
    /// capture).
    pub(crate) events: Option<Arc<Vec<Bytes>>>,
}

impl FloodJob {
    /// A job of `count` events.
    pub(crate) fn new(count: u64, rate: Option<u64>) -> FloodJob {
        let mut t = BytesMut::with_capacity(event_len() * CHUNK as usize);
        for i in 0..CHUNK {
            t.extend_from_slice(event(i).raw());
        }
        FloodJob {
            count,
            rate: rate.filter(|r| *r > 0),
            template: t.freeze(),
            events: None,
        }
    }

    /// A job cycling through `events` (already filtered for the session).
    pub(crate) fn cycling(events: Arc<Vec<Bytes>>, count: u64, rate: Option<u64>) -> FloodJob {
        FloodJob {
            count,
            rate: rate.filter(|r| *r > 0),
            template: Bytes::new(),
            events: Some(events),
        }
    }
}

/// A flood in progress in a session's writer.
#[derive(Debug)]
pub(crate) struct Flooding {
    job: FloodJob,
    sent: u64,
    start: Instant,
    scratch: BytesMut,
    /// Where each event of the last chunk ends (cycled events only).
    ends: Vec<usize>,
}

impl Flooding {
    /// Start a flood now.
    pub(crate) fn new(job: FloodJob) -> Flooding {
        Flooding {
            scratch: BytesMut::with_capacity(job.template.len()),
            job,
            sent: 0,
            start: Instant::now(),
            ends: Vec::new(),
        }
    }

    /// When the next event is due (`None`: at once).
    pub(crate) fn due(&self) -> Option<Instant> {
        let rate = self.job.rate?;
        let nanos = (u128::from(self.sent) * 1_000_000_000 / u128::from(rate)) as u64;
        Some(self.start + std::time::Duration::from_nanos(nanos))
    }

    /// Where the events of the last chunk end (for the write timeout,
    /// which applies per event).
    pub(crate) fn msgs(&self) -> Msgs<'_> {
        match self.job.events {
            Some(_) => Msgs::Ends(&self.ends),
            None => Msgs::Each(event_len()),
        }
    }

    /// Whether every event was handed out.
    pub(crate) fn done(&self) -> bool {
        self.sent >= self.job.count
    }

    /// The next batch of events (those due now, at most `CHUNK`).
    pub(crate) fn next_chunk(&mut self) -> Option<Bytes> {
        let left = self.job.count - self.sent;
        if left == 0 {
            return None;
        }
        let mut n = left.min(CHUNK);
        if let Some(rate) = self.job.rate {
            let elapsed = self.start.elapsed().as_nanos();
            let due = (elapsed * u128::from(rate) / 1_000_000_000) as u64 + 1;
            n = n.min(due.saturating_sub(self.sent).max(1));
        }
        self.scratch.clear();
        if let Some(events) = &self.job.events {
            if events.is_empty() {
                self.sent = self.job.count;
                return None;
            }
            self.ends.clear();
            for i in 0..n {
                let e = &events[((self.sent + i) % events.len() as u64) as usize];
                self.scratch.extend_from_slice(e);
                self.ends.push(self.scratch.len());
            }
            self.sent += n;
            return Some(self.scratch.split().freeze());
        }
        let len = event_len();
        self.scratch
            .extend_from_slice(&self.job.template[..len * n as usize]);
        for i in 0..n as usize {
            let at = i * len + PREFIX.len();
            let mut seq = self.sent + i as u64;
            for d in (0..SEQ_DIGITS).rev() {
                self.scratch[at + d] = b'0' + (seq % 10) as u8;
                seq /= 10;
            }
        }
        self.sent += n;
        Some(self.scratch.split().freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_number_events_in_order() {
        let mut f = Flooding::new(FloodJob::new(2050, None));
        let mut all = BytesMut::new();
        while let Some(c) = f.next_chunk() {
            all.extend_from_slice(&c);
        }
        assert!(f.done());
        let mut dec = amiproto::Decoder::new().banner_mode(amiproto::BannerMode::Absent);
        let mut n = 0u64;
        while let Some(amiproto::Frame::Packet(p)) = dec.decode(&mut all).unwrap() {
            assert_eq!(p.get_str("Seq").unwrap().parse::<u64>().unwrap(), n);
            n += 1;
        }
        assert_eq!(n, 2050);
    }
}
