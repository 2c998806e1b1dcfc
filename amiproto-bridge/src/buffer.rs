//! The per-PBX buffer between the AMI reader and the JetStream publisher:
//! bounded in events and bytes, optionally spilling to a file, and exact
//! about what it drops.
//!
//! Every record read from AMI is either kept or counted in a gap record
//! that takes its place in the queue: consecutive drops of one session
//! share one gap (`first_seq..=last_seq`, `count`). Gap and session records
//! are never dropped (they do not count against the bound), so a consumer
//! sees, per session, every sequence number exactly once: as an event or
//! inside a gap.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use crate::record::{Kind, Record};
use crate::spill::Spill;

/// Why events are missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GapReason {
    /// The bridge's buffer was at its bound (NATS away or slow).
    BufferFull,
    /// The AMI client's queue overflowed (the bridge's reader was starved).
    AmiQueueFull,
    /// A packet broke a decoder limit and could not be read.
    Undecodable,
    /// JetStream refused the message repeatedly.
    Rejected,
    /// The spill file could not be read back.
    SpillLost,
}

impl GapReason {
    /// The word used in gap messages.
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::BufferFull => "buffer_full",
            GapReason::AmiQueueFull => "ami_queue_full",
            GapReason::Undecodable => "undecodable",
            GapReason::Rejected => "rejected",
            GapReason::SpillLost => "spill_lost",
        }
    }
}

/// A run of missing sequence numbers, still growing.
#[derive(Clone, Debug)]
struct Gap {
    session: Arc<str>,
    first: u64,
    last: u64,
    count: u64,
    reason: GapReason,
}

/// Counters the status reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferStats {
    /// Records waiting (memory and spill file).
    pub depth: u64,
    /// Payload bytes waiting in memory.
    pub mem_bytes: u64,
    /// Records waiting in the spill file.
    pub spilled: u64,
    /// Events dropped and reported in gaps, all reasons.
    pub dropped: u64,
    /// Gap records made.
    pub gaps: u64,
}

/// The buffer.
#[derive(Debug)]
pub(crate) struct Buffer {
    gap_subject: String,
    pbx: Arc<str>,
    mem: VecDeque<Record>,
    mem_bytes: usize,
    mem_events: usize,
    max_events: usize,
    max_bytes: usize,
    spill: Option<Spill>,
    tail_gap: Option<Gap>,
    dropped: u64,
    gaps: u64,
}

impl Buffer {
    pub(crate) fn new(
        pbx: Arc<str>,
        gap_subject: String,
        max_events: usize,
        max_bytes: usize,
        spill: Option<Spill>,
    ) -> Buffer {
        Buffer {
            gap_subject,
            pbx,
            mem: VecDeque::new(),
            mem_bytes: 0,
            mem_events: 0,
            max_events,
            max_bytes,
            spill,
            tail_gap: None,
            dropped: 0,
            gaps: 0,
        }
    }

    fn spill_active(&self) -> bool {
        self.spill.as_ref().is_some_and(|s| s.records() > 0)
    }

    fn mem_has_room(&self, rec: &Record) -> bool {
        self.mem_events < self.max_events && self.mem_bytes + rec.size() <= self.max_bytes
    }

    /// Queue a record that is exempt from the bound (gaps, markers,
    /// requeued ones), in order.
    fn append_exempt(&mut self, rec: Record) {
        if self.spill_active() {
            let spill = self.spill.as_mut().expect("active");
            match spill.write(&rec) {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(pbx = %self.pbx, error = %e, "spill file write failed; keeping the record in memory");
                }
            }
        }
        self.push_mem(rec);
    }

    fn push_mem(&mut self, rec: Record) {
        self.mem_bytes += rec.size();
        if rec.kind == Kind::Event {
            self.mem_events += 1;
        }
        self.mem.push_back(rec);
    }

    fn flush_tail_gap(&mut self) {
        if let Some(g) = self.tail_gap.take() {
            let rec = self.gap_record(&g);
            self.append_exempt(rec);
        }
    }

    fn gap_record(&mut self, g: &Gap) -> Record {
        self.gaps += 1;
        let body = serde_json::json!({
            "pbx": &*self.pbx,
            "session": &*g.session,
            "first_seq": g.first,
            "last_seq": g.last,
            "count": g.count,
            "reason": g.reason.as_str(),
        });
        Record {
            kind: Kind::Gap,
            subject: self.gap_subject.clone(),
            session: g.session.clone(),
            seq: g.first,
            last: g.last,
            payload: Bytes::from(serde_json::to_vec(&body).expect("JSON of plain values")),
            rejections: 0,
        }
    }

    /// Queue an event, or count it in a gap when the buffer is at its bound.
    /// Returns whether it was kept.
    pub(crate) fn push_event(&mut self, rec: Record) -> bool {
        if !self.spill_active() && self.mem_has_room(&rec) {
            self.flush_tail_gap();
            self.push_mem(rec);
            return true;
        }
        let spill_ok = self.spill.as_ref().is_some_and(|s| s.has_room(&rec));
        if spill_ok {
            self.flush_tail_gap();
            let spill = self.spill.as_mut().expect("checked");
            match spill.write(&rec) {
                Ok(()) => return true,
                Err(e) => tracing::error!(pbx = %self.pbx, error = %e, "spill file write failed"),
            }
        }
        self.add_gap(rec.session, rec.seq, 1, GapReason::BufferFull);
        false
    }

    /// Queue a session marker (never dropped).
    pub(crate) fn push_marker(&mut self, rec: Record) {
        self.flush_tail_gap();
        self.append_exempt(rec);
    }

    /// Record `count` missing sequence numbers from `first` (joined to the
    /// gap before it when contiguous, same session and reason).
    pub(crate) fn add_gap(&mut self, session: Arc<str>, first: u64, count: u64, reason: GapReason) {
        if count == 0 {
            return;
        }
        self.dropped += count;
        if let Some(g) = &mut self.tail_gap {
            if g.session == session && g.reason == reason && g.last + 1 == first {
                g.last += count;
                g.count += count;
                return;
            }
        }
        self.flush_tail_gap();
        self.tail_gap = Some(Gap {
            session,
            first,
            last: first + count - 1,
            count,
            reason,
        });
    }

    /// A gap record for one sequence number, to stand where a record taken
    /// from the buffer was (counted like every gap).
    pub(crate) fn gap_in_place(
        &mut self,
        session: Arc<str>,
        seq: u64,
        reason: GapReason,
    ) -> Record {
        self.dropped += 1;
        let g = Gap {
            session,
            first: seq,
            last: seq,
            count: 1,
            reason,
        };
        self.gap_record(&g)
    }

    /// Take the oldest record.
    pub(crate) fn pop(&mut self) -> Option<Record> {
        if let Some(rec) = self.mem.pop_front() {
            self.mem_bytes -= rec.size();
            if rec.kind == Kind::Event {
                self.mem_events -= 1;
            }
            return Some(rec);
        }
        if let Some(spill) = &mut self.spill {
            let waiting = spill.records();
            match spill.read() {
                Ok(Some(rec)) => return Some(rec),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(pbx = %self.pbx, error = %e, lost = waiting, "spill file unreadable; its records are reported as a gap");
                    let _ = spill.reset();
                    let session: Arc<str> = "unknown".into();
                    let g = Gap {
                        session,
                        first: 0,
                        last: 0,
                        count: waiting,
                        reason: GapReason::SpillLost,
                    };
                    self.dropped += waiting;
                    return Some(self.gap_record(&g));
                }
            }
        }
        let g = self.tail_gap.take()?;
        Some(self.gap_record(&g))
    }

    /// Take up to `n` records, oldest first.
    pub(crate) fn pop_many(&mut self, n: usize, out: &mut Vec<Record>) {
        for _ in 0..n {
            match self.pop() {
                Some(r) => out.push(r),
                None => break,
            }
        }
    }

    /// Put records taken earlier back at the front, in their order (they
    /// may exceed the bound for a while).
    pub(crate) fn requeue_front(&mut self, recs: impl DoubleEndedIterator<Item = Record>) {
        for rec in recs.rev() {
            self.mem_bytes += rec.size();
            if rec.kind == Kind::Event {
                self.mem_events += 1;
            }
            self.mem.push_front(rec);
        }
    }

    /// Whether nothing is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.mem.is_empty() && !self.spill_active() && self.tail_gap.is_none()
    }

    /// Push the spill file's buffered writes to the OS, and move every
    /// in-memory record to it (at shutdown, so the next start replays
    /// them). Returns how many records stay only in memory (no spill file).
    pub(crate) fn persist(&mut self) -> usize {
        self.flush_tail_gap_to_end();
        let Some(spill) = &mut self.spill else {
            return self.mem.len();
        };
        // Memory is older than the spill file: rewrite in order.
        let mut all: Vec<Record> = self.mem.drain(..).collect();
        loop {
            match spill.read() {
                Ok(Some(r)) => all.push(r),
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(pbx = %self.pbx, error = %e, "spill file unreadable at shutdown");
                    let _ = spill.reset();
                    break;
                }
            }
        }
        self.mem_bytes = 0;
        self.mem_events = 0;
        let mut left = 0;
        for r in &all {
            if spill.write(r).is_err() {
                left += 1;
            }
        }
        if let Err(e) = spill.flush() {
            tracing::error!(pbx = %self.pbx, error = %e, "spill file flush failed at shutdown");
        }
        left
    }

    fn flush_tail_gap_to_end(&mut self) {
        if let Some(g) = self.tail_gap.take() {
            let rec = self.gap_record(&g);
            self.append_exempt(rec);
        }
    }

    /// Counters.
    pub(crate) fn stats(&self) -> BufferStats {
        let spilled = self.spill.as_ref().map_or(0, Spill::records);
        BufferStats {
            depth: self.mem.len() as u64 + spilled + u64::from(self.tail_gap.is_some()),
            mem_bytes: self.mem_bytes as u64,
            spilled,
            dropped: self.dropped,
            gaps: self.gaps,
        }
    }

    /// Spill-file bytes waiting.
    pub(crate) fn spill_bytes(&self) -> u64 {
        self.spill.as_ref().map_or(0, Spill::bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(session: &Arc<str>, seq: u64) -> Record {
        Record {
            kind: Kind::Event,
            subject: "ami.p.event.X".into(),
            session: session.clone(),
            seq,
            last: seq,
            payload: Bytes::from(format!("{{\"Seq\":\"{seq}\"}}")),
            rejections: 0,
        }
    }

    fn drain(b: &mut Buffer) -> Vec<Record> {
        std::iter::from_fn(|| b.pop()).collect()
    }

    /// Each sequence number appears exactly once: as an event or in a gap.
    fn coverage(recs: &[Record]) -> Vec<u64> {
        let mut seen = Vec::new();
        for r in recs {
            match r.kind {
                Kind::Event => seen.push(r.seq),
                Kind::Gap => {
                    let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
                    assert_eq!(v["count"].as_u64().unwrap(), r.last - r.seq + 1);
                    seen.extend(r.seq..=r.last);
                }
                Kind::Session => {}
            }
        }
        seen
    }

    #[test]
    fn bound_makes_exact_gaps_in_place() {
        let s: Arc<str> = "S".into();
        let mut b = Buffer::new("p".into(), "ami.p.gap".into(), 3, 1 << 20, None);
        for seq in 1..=10 {
            b.push_event(ev(&s, seq));
        }
        assert_eq!(b.stats().dropped, 7);
        let first = b.pop().unwrap();
        assert_eq!(first.seq, 1);
        // Room for one more: the gap (4..=10) is queued before it.
        assert!(b.push_event(ev(&s, 11)));
        let rest = drain(&mut b);
        let kinds: Vec<_> = rest.iter().map(|r| (r.kind, r.seq, r.last)).collect();
        assert_eq!(
            kinds,
            [
                (Kind::Event, 2, 2),
                (Kind::Event, 3, 3),
                (Kind::Gap, 4, 10),
                (Kind::Event, 11, 11)
            ]
        );
        let mut all = vec![first];
        all.extend(rest);
        assert_eq!(coverage(&all), (1..=11).collect::<Vec<_>>());
        assert_eq!(b.stats().gaps, 1);
    }

    #[test]
    fn trailing_gap_is_popped_last() {
        let s: Arc<str> = "S".into();
        let mut b = Buffer::new("p".into(), "g".into(), 1, 1 << 20, None);
        b.push_event(ev(&s, 1));
        b.add_gap(s.clone(), 2, 5, GapReason::AmiQueueFull);
        b.push_event(ev(&s, 7)); // dropped: different reason, new gap
        let all = drain(&mut b);
        assert_eq!(coverage(&all), (1..=7).collect::<Vec<_>>());
        assert_eq!(all.len(), 3);
        assert!(b.is_empty());
    }

    #[test]
    fn spill_keeps_order_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.spill");
        let s: Arc<str> = "S".into();
        let spill = Spill::open(&path, 10_000).unwrap();
        let mut b = Buffer::new("p".into(), "g".into(), 5, 1 << 20, Some(spill));
        for seq in 1..=200 {
            b.push_event(ev(&s, seq));
        }
        let st = b.stats();
        assert!(st.spilled > 0 && st.dropped > 0, "{st:?}");
        // Take a few, then persist the rest and reopen as a new run would.
        let head: Vec<Record> = (0..3).map(|_| b.pop().unwrap()).collect();
        assert_eq!(b.persist(), 0);
        drop(b);
        let spill = Spill::open(&path, 10_000).unwrap();
        let mut b = Buffer::new("p".into(), "g".into(), 5, 1 << 20, Some(spill));
        let mut all = head;
        all.extend(drain(&mut b));
        assert_eq!(coverage(&all), (1..=200).collect::<Vec<_>>());
        assert!(b.is_empty());
        // Torn tail: cut into the last record; the whole ones survive.
        let spill = Spill::open(&path, 10_000).unwrap();
        let mut b = Buffer::new("p".into(), "g".into(), 0, 0, Some(spill));
        for seq in 1..=3 {
            b.push_event(ev(&s, seq));
        }
        b.persist();
        drop(b);
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 2)
            .unwrap();
        let spill = Spill::open(&path, 10_000).unwrap();
        assert_eq!(spill.records(), 2);
    }

    #[test]
    fn requeue_goes_first() {
        let s: Arc<str> = "S".into();
        let mut b = Buffer::new("p".into(), "g".into(), 10, 1 << 20, None);
        for seq in 1..=4 {
            b.push_event(ev(&s, seq));
        }
        let mut taken = Vec::new();
        b.pop_many(2, &mut taken);
        b.requeue_front(taken.into_iter());
        let seqs: Vec<u64> = drain(&mut b).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
    }
}
