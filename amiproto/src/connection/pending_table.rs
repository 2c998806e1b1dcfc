//! The actions a connection tracks, by sequence number.
//!
//! Sequence numbers are handed out in increasing order and most actions
//! finish roughly in that order, so the table is a ring indexed by
//! `seq - base`: finding, adding and finishing an action is an index, no
//! hashing. The ring's front moves on as the oldest actions finish.
//!
//! One action that stays pending while many after it come and go (a long
//! list, an action without a timeout the server never answers) would hold
//! the front back and let the ring grow with every later action. So the
//! ring is kept at most about twice its live entries (plus a constant):
//! past that, its older half moves to a small hash map of stragglers,
//! looked up only for sequence numbers behind the ring. Memory stays
//! proportional to what is pending; each entry moves at most once.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::pending::{Pending, Released};

/// Slack the ring may hold beyond twice its live entries before its older
/// half moves to the stragglers' map.
const RING_SLACK: usize = 1024;

/// The largest jump in sequence numbers the ring bridges with empty slots;
/// an entry further ahead starts a new ring (the old one's entries become
/// stragglers). Sequence numbers grow by one per action, so this never
/// happens in practice.
const MAX_GAP: u64 = 4096;

/// A cheap hasher for maps keyed by sequence numbers (local counters, never
/// attacker-chosen): one rotate, xor and multiply per integer, where SipHash
/// shows up in profiles.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct SeqHasher(u64);

impl Hasher for SeqHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type SeqMap<V> = HashMap<u64, V, BuildHasherDefault<SeqHasher>>;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct PendingTable {
    /// The sequence number of `ring[0]`.
    base: u64,
    /// Entries from `base` on; `None` for finished (or never used) numbers.
    ring: VecDeque<Option<Pending>>,
    /// `Some` entries in `ring`.
    live: usize,
    /// Entries behind `base`.
    stragglers: SeqMap<Pending>,
}

impl PendingTable {
    /// Where `seq` is in the ring, if it is within it.
    #[inline]
    fn index(&self, seq: u64) -> Option<usize> {
        let offset = seq.checked_sub(self.base)?;
        usize::try_from(offset)
            .ok()
            .filter(|&i| i < self.ring.len())
    }

    pub(crate) fn insert(&mut self, seq: u64, pending: Pending) {
        if let Some(i) = self.index(seq) {
            if self.ring[i].replace(pending).is_none() {
                self.live += 1;
            }
            return;
        }
        if seq < self.base && !self.ring.is_empty() {
            self.stragglers.insert(seq, pending);
            return;
        }
        if !self.stragglers.is_empty() {
            // Not expected (a number is used once), but never keep two.
            self.stragglers.remove(&seq);
        }
        let end = self.base + self.ring.len() as u64;
        if self.ring.is_empty() || seq - end > MAX_GAP {
            self.demote(self.ring.len());
            self.base = seq;
        } else {
            for _ in end..seq {
                self.ring.push_back(None);
            }
        }
        self.ring.push_back(Some(pending));
        self.live += 1;
        if self.ring.len() > 2 * self.live + RING_SLACK {
            self.demote(self.ring.len() / 2);
        }
    }

    /// Move the first `n` slots of the ring to the stragglers.
    fn demote(&mut self, n: usize) {
        for _ in 0..n {
            let Some(slot) = self.ring.pop_front() else {
                break;
            };
            if let Some(p) = slot {
                self.live -= 1;
                self.stragglers.insert(self.base, p);
            }
            self.base += 1;
        }
        self.trim_front();
    }

    /// Drop the finished slots at the front.
    fn trim_front(&mut self) {
        while let Some(None) = self.ring.front() {
            self.ring.pop_front();
            self.base += 1;
        }
    }

    pub(crate) fn get(&self, seq: &u64) -> Option<&Pending> {
        match self.index(*seq) {
            Some(i) => self.ring[i].as_ref(),
            None if self.stragglers.is_empty() => None,
            None => self.stragglers.get(seq),
        }
    }

    pub(crate) fn get_mut(&mut self, seq: &u64) -> Option<&mut Pending> {
        match self.index(*seq) {
            Some(i) => self.ring[i].as_mut(),
            None if self.stragglers.is_empty() => None,
            None => self.stragglers.get_mut(seq),
        }
    }

    /// Forget the action `seq`, returning what it leaves to release. The
    /// entry is dropped where it is, never moved out.
    pub(crate) fn release(&mut self, seq: &u64) -> Option<Released> {
        let Some(i) = self.index(*seq) else {
            if self.stragglers.is_empty() {
                return None;
            }
            return self
                .stragglers
                .remove(seq)
                .map(|mut p| Released::of(&mut p));
        };
        let slot = &mut self.ring[i];
        let released = Released::of(slot.as_mut()?);
        *slot = None;
        self.live -= 1;
        if i == 0 {
            self.trim_front();
        }
        Some(released)
    }

    pub(crate) fn len(&self) -> usize {
        self.live + self.stragglers.len()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Pending> {
        self.ring.iter().flatten().chain(self.stragglers.values())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &Pending)> {
        let base = self.base;
        self.ring
            .iter()
            .enumerate()
            .filter_map(move |(i, p)| Some((base + i as u64, p.as_ref()?)))
            .chain(self.stragglers.iter().map(|(&seq, p)| (seq, p)))
    }

    pub(crate) fn clear(&mut self) {
        self.ring.clear();
        self.live = 0;
        self.stragglers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::pending::{Expect, Progress, Role};

    fn pending(timeout_secs: u64) -> Pending {
        Pending {
            role: Role::User,
            expect: Expect::Normal,
            progress: Progress::Sent,
            deadline: None,
            timeout: Some(std::time::Duration::from_secs(timeout_secs)),
            silent: false,
            stream: false,
            user_id: None,
            in_window: true,
            effect: None,
            unmarked: None,
        }
    }

    /// The entry's tag (its timeout in seconds).
    fn tag(p: Option<&Pending>) -> Option<u64> {
        p.and_then(|p| p.timeout).map(|t| t.as_secs())
    }

    #[test]
    fn in_order_and_out_of_order() {
        let mut t = PendingTable::default();
        for seq in 10..20 {
            t.insert(seq, pending(seq));
        }
        assert_eq!(t.len(), 10);
        assert_eq!(tag(t.get(&15)), Some(15));
        assert!(t.get(&9).is_none() && t.get(&20).is_none());
        // Out of order: the middle one first; the front stays.
        assert!(t.release(&15).is_some());
        assert!(t.release(&15).is_none(), "removed twice");
        assert!(t.get(&15).is_none());
        assert_eq!(t.base, 10);
        // The front goes, and the finished slots behind it with it.
        for seq in 10..15 {
            assert!(t.release(&seq).is_some());
        }
        assert_eq!(t.base, 16);
        assert_eq!(t.ring.len(), 4);
        t.get_mut(&17).unwrap().silent = true;
        assert!(t.get(&17).unwrap().silent);
        let mut seqs: Vec<u64> = t.iter().map(|(s, _)| s).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, [16, 17, 18, 19]);
        assert_eq!(t.values().count(), 4);
        for seq in 16..20 {
            assert!(t.release(&seq).is_some());
        }
        assert_eq!(t.len(), 0);
        assert!(t.ring.is_empty());
        // Empty: the next number starts the ring wherever it is.
        t.insert(1_000_000, pending(1));
        assert_eq!(tag(t.get(&1_000_000)), Some(1));
        assert_eq!(t.ring.len(), 1);
    }

    #[test]
    fn stays_bounded_behind_an_action_that_never_finishes() {
        let mut t = PendingTable::default();
        t.insert(0, pending(7));
        for seq in 1..100_000 {
            t.insert(seq, pending(seq));
            if seq >= 4 {
                // Four in flight behind the stuck one, finishing in order.
                assert!(t.release(&(seq - 3)).is_some(), "seq {}", seq - 3);
            }
            assert!(
                t.ring.len() <= 2 * t.live + RING_SLACK + 3,
                "{}",
                t.ring.len()
            );
        }
        assert_eq!(t.len(), 4);
        // The stuck one is still found, updated and finished.
        assert_eq!(tag(t.get(&0)), Some(7));
        t.get_mut(&0).unwrap().silent = true;
        assert!(t.iter().any(|(s, p)| s == 0 && p.silent));
        assert!(t.release(&0).is_some_and(|r| r.silent));
        assert!(t.get(&0).is_none());
        for seq in 99_997..100_000 {
            assert!(t.release(&seq).is_some());
        }
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn gaps_and_clearing() {
        let mut t = PendingTable::default();
        t.insert(5, pending(5));
        // A number skipped (never inserted) leaves an empty slot.
        t.insert(7, pending(7));
        assert!(t.get(&6).is_none());
        assert!(t.release(&6).is_none());
        assert_eq!(t.len(), 2);
        // A jump past the gap limit: the ring restarts there; what was in
        // it is still found.
        t.insert(7 + MAX_GAP + 10, pending(9));
        assert_eq!(tag(t.get(&5)), Some(5));
        assert_eq!(tag(t.get(&7)), Some(7));
        assert_eq!(tag(t.get(&(7 + MAX_GAP + 10))), Some(9));
        assert_eq!(t.len(), 3);
        assert_eq!(t.values().count(), 3);
        t.clear();
        assert_eq!(t.len(), 0);
        assert!(t.get(&5).is_none() && t.iter().next().is_none());
    }

    /// One step of the model test: a new action (its sequence number this
    /// far past the last), or the end of the `k`-th live action (or of a
    /// number that is not pending).
    #[derive(Clone, Debug)]
    enum Step {
        Insert(u64),
        Release(usize),
        ReleaseUnknown(u64),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            6 => (1u64..4).prop_map(Step::Insert),
            1 => (MAX_GAP..3 * MAX_GAP).prop_map(Step::Insert),
            6 => any::<usize>().prop_map(Step::Release),
            1 => any::<u64>().prop_map(Step::ReleaseUnknown),
        ]
    }

    proptest::proptest! {
        /// The table holds exactly what a plain map would, whatever the
        /// order actions finish in, and its ring stays proportional to what
        /// is pending.
        #[test]
        fn agrees_with_a_map(steps in proptest::collection::vec(step(), 1..3000)) {
            use std::collections::BTreeMap;
            let mut t = PendingTable::default();
            let mut model: BTreeMap<u64, u64> = BTreeMap::new();
            let mut next = 0u64;
            for s in steps {
                match s {
                    Step::Insert(gap) => {
                        next += gap;
                        t.insert(next, pending(next));
                        model.insert(next, next);
                    }
                    Step::Release(k) => {
                        if model.is_empty() {
                            continue;
                        }
                        let seq = *model.keys().nth(k % model.len()).unwrap();
                        model.remove(&seq);
                        proptest::prop_assert!(t.release(&seq).is_some());
                        proptest::prop_assert!(t.get(&seq).is_none());
                    }
                    Step::ReleaseUnknown(seq) => {
                        if !model.contains_key(&seq) {
                            proptest::prop_assert!(t.release(&seq).is_none());
                        }
                    }
                }
                proptest::prop_assert_eq!(t.len(), model.len());
                proptest::prop_assert!(t.ring.len() <= 2 * t.live + RING_SLACK + 1);
            }
            for (&seq, &tag_) in &model {
                proptest::prop_assert_eq!(tag(t.get(&seq)), Some(tag_));
            }
            let mut seqs: Vec<u64> = t.iter().map(|(s, _)| s).collect();
            seqs.sort_unstable();
            proptest::prop_assert_eq!(seqs, model.keys().copied().collect::<Vec<_>>());
            proptest::prop_assert_eq!(t.values().count(), model.len());
        }
    }
}
