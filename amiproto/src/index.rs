//! Header indexes without an allocation per packet.
//!
//! A decoded [`Packet`](crate::Packet) needs the byte offsets of its header
//! lines. Instead of a `Vec` per packet, the [`Decoder`](crate::Decoder)
//! writes them into a shared block of slots ([`IndexWriter`]), and each
//! packet holds a reference-counted handle to the block plus the range of its
//! own slots ([`Index`]): cloning a packet or handing it to another thread
//! costs one reference count, and a block serves many packets.
//!
//! The decoder keeps writing the slots after the last packet handed out
//! while other threads read the slots of earlier packets, so a slot is a pair
//! of atomics (relaxed: a packet's slots are written before the packet
//! exists, and a packet reaches another thread only through something that
//! synchronises, such as a channel; on x86 and ARM these are plain loads and
//! stores). No slot is written twice while a packet refers to it: a block is
//! rewritten from its start only when the decoder holds its only reference.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::packet::FieldIdx;

/// One header line's offsets: [`FieldIdx`]'s four words.
#[derive(Default)]
pub(crate) struct Slot([AtomicU32; 4]);

impl Slot {
    #[inline(always)]
    pub(crate) fn store(&self, f: FieldIdx) {
        let [start, key_end, value_start, end] = &self.0;
        start.store(f.start, Ordering::Relaxed);
        key_end.store(f.key_end, Ordering::Relaxed);
        value_start.store(f.value_start, Ordering::Relaxed);
        end.store(f.end, Ordering::Relaxed);
    }

    /// The offsets stored.
    #[inline(always)]
    pub(crate) fn load(&self) -> FieldIdx {
        let [start, key_end, value_start, end] = &self.0;
        FieldIdx {
            start: start.load(Ordering::Relaxed),
            key_end: key_end.load(Ordering::Relaxed),
            value_start: value_start.load(Ordering::Relaxed),
            end: end.load(Ordering::Relaxed),
        }
    }

    /// The value's range: `value_start..end`.
    #[inline(always)]
    pub(crate) fn value_range(&self) -> std::ops::Range<usize> {
        let [_, _, value_start, end] = &self.0;
        value_start.load(Ordering::Relaxed) as usize..end.load(Ordering::Relaxed) as usize
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}

type Block = Arc<[Slot]>;

/// Whether no packet refers to `block` any more (`Arc::get_mut`, not a
/// count: it synchronises with the threads that dropped them).
fn unique(block: &mut Block) -> bool {
    Arc::get_mut(block).is_some()
}

fn new_block(len: usize) -> Block {
    (0..len).map(|_| Slot::default()).collect()
}

/// A packet's header index: its range of a shared block.
#[derive(Clone)]
pub(crate) struct Index {
    block: Block,
    start: u32,
    len: u32,
}

impl Index {
    /// An index of its own for `fields` (packets built, not decoded).
    pub(crate) fn from_fields(fields: &[FieldIdx]) -> Index {
        let block = new_block(fields.len());
        for (slot, &f) in block.iter().zip(fields) {
            slot.store(f);
        }
        Index {
            block,
            start: 0,
            len: fields.len() as u32,
        }
    }

    /// The packet's slots, in wire order.
    #[inline]
    pub(crate) fn slots(&self) -> &[Slot] {
        let start = self.start as usize;
        &self.block[start..start + self.len as usize]
    }

    /// Number of header lines.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }
}

/// Smallest and largest block a decoder allocates, in slots (16 bytes each).
/// A decoder starts small (an idle connection holds little) and doubles up
/// to the largest; a packet with more headers gets a block of its own size.
const MIN_BLOCK: usize = 64;
const MAX_BLOCK: usize = 2048;

/// Most retired blocks kept for reuse (only blocks of up to [`MAX_BLOCK`]
/// slots are kept: at most 1 MiB): enough for a consumer that holds the
/// packets of a few large reads, so a busy connection allocates no block
/// in steady state.
const MAX_RETIRED: usize = 32;

/// The decoder's side: slots of the packet in progress, after those of the
/// packets already handed out.
pub(crate) struct IndexWriter {
    block: Block,
    /// Blocks filled before `block`, oldest first, reused once no packet
    /// refers to them any more (packets are mostly dropped in the order
    /// they were decoded, so the oldest is the one to try).
    retired: VecDeque<Block>,
    /// Slots of `block` handed out to packets.
    used: usize,
    /// Blocks allocated so far.
    #[cfg(test)]
    allocated: usize,
    /// Slots of the packet in progress (`block[used..used + len]`).
    len: usize,
}

impl Default for IndexWriter {
    fn default() -> IndexWriter {
        IndexWriter {
            block: new_block(0),
            retired: VecDeque::new(),
            #[cfg(test)]
            allocated: 0,
            used: 0,
            len: 0,
        }
    }
}

impl fmt::Debug for IndexWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexWriter")
            .field("block", &self.block.len())
            .field("used", &self.used)
            .field("len", &self.len)
            .finish()
    }
}

impl IndexWriter {
    /// Header lines of the packet in progress.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Header `n` of the packet in progress.
    pub(crate) fn get(&self, n: usize) -> FieldIdx {
        assert!(n < self.len);
        self.block[self.used + n].load()
    }

    /// Append a header line to the packet in progress.
    #[inline(always)]
    pub(crate) fn push(&mut self, f: FieldIdx) {
        let at = self.used + self.len;
        if at >= self.block.len() {
            self.grow();
        }
        self.block[self.used + self.len].store(f);
        self.len += 1;
    }

    /// Free slots after those of the packet in progress, no more than
    /// bring it to `max` lines: write them with [`Slot::store`], then
    /// [`IndexWriter::set_len`].
    #[inline(always)]
    pub(crate) fn free(&self, max: usize) -> &[Slot] {
        let free = &self.block[self.used + self.len..];
        &free[..free.len().min(max.saturating_sub(self.len))]
    }

    /// The packet in progress now has `len` header lines: those it had and
    /// the first slots of [`IndexWriter::free`].
    #[inline(always)]
    pub(crate) fn set_len(&mut self, len: usize) {
        debug_assert!(len >= self.len && self.used + len <= self.block.len());
        self.len = len;
    }

    /// Make room for at least one more slot (when [`IndexWriter::free`] is
    /// empty).
    #[inline(always)]
    pub(crate) fn reserve_one(&mut self) {
        if self.used + self.len >= self.block.len() {
            self.grow();
        }
    }

    /// Forget the packet in progress.
    #[inline(always)]
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Hand out the packet in progress's slots; the next packet starts empty.
    #[inline]
    pub(crate) fn finish(&mut self) -> Index {
        let index = Index {
            block: Arc::clone(&self.block),
            start: self.used as u32,
            len: self.len as u32,
        };
        self.used += self.len;
        self.len = 0;
        index
    }

    /// The block is full: move the packet in progress to the start of a
    /// block no packet refers to (this one, the oldest retired one, or a new
    /// one).
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let len = self.len;
        let need = len + 1;
        let fits = |b: &Block| b.len() >= 2 * need;
        if self.used > 0 && fits(&self.block) && unique(&mut self.block) {
            // Only the decoder holds it: every packet of it is gone.
            self.move_to_front();
            return;
        }
        // Blocks smaller than the current one (from while it grew) are
        // not worth keeping.
        let current = self.block.len();
        while self.retired.front().is_some_and(|b| b.len() < current) {
            self.retired.pop_front();
        }
        let next = if self
            .retired
            .front_mut()
            .is_some_and(|b| fits(b) && unique(b))
        {
            self.retired.pop_front().expect("a front")
        } else {
            #[cfg(test)]
            {
                self.allocated += 1;
            }
            let size = (2 * current).clamp(MIN_BLOCK, MAX_BLOCK);
            new_block(size.max(2 * need))
        };
        for (i, slot) in next[..len].iter().enumerate() {
            slot.store(self.block[self.used + i].load());
        }
        let old = std::mem::replace(&mut self.block, next);
        // Keep it for reuse once its packets are dropped; not a block
        // sized for one outsized packet: a peer sending such packets
        // would otherwise have the decoder keep up to MAX_RETIRED of them.
        if self.used > 0 && old.len() <= MAX_BLOCK {
            if self.retired.len() == MAX_RETIRED {
                self.retired.pop_front();
            }
            self.retired.push_back(old);
        }
        self.used = 0;
    }

    fn move_to_front(&mut self) {
        for i in 0..self.len {
            self.block[i].store(self.block[self.used + i].load());
        }
        self.used = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(i: usize) -> FieldIdx {
        let i = i as u32;
        FieldIdx {
            start: i,
            key_end: i + 1,
            value_start: i + 2,
            end: u32::MAX - i,
        }
    }

    #[test]
    fn slots_round_trip() {
        let f = field(7);
        let s = Slot::default();
        s.store(f);
        assert_eq!(s.load(), f);
        assert_eq!(s.value_range(), 9..(u32::MAX - 7) as usize);
    }

    #[test]
    fn packets_keep_their_slots_while_the_writer_goes_on() {
        let mut w = IndexWriter::default();
        let mut kept = Vec::new();
        let mut n = 0;
        // Packets of 1..=40 headers; keep every third one, drop the rest.
        for round in 0..3000 {
            let count = round % 40 + 1;
            for _ in 0..count {
                w.push(field(n));
                n += 1;
            }
            assert_eq!(w.get(count - 1), field(n - 1));
            let index = w.finish();
            if round % 3 == 0 {
                kept.push((index, n - count));
            }
        }
        for (index, first) in &kept {
            for (i, slot) in index.slots().iter().enumerate() {
                assert_eq!(slot.load(), field(first + i));
            }
        }
    }

    #[test]
    fn a_block_is_reused_once_its_packets_are_gone() {
        let mut w = IndexWriter::default();
        w.push(field(0));
        drop(w.finish());
        let block = Arc::as_ptr(&w.block);
        for n in 0..10 * MAX_BLOCK {
            w.push(field(n));
            w.push(field(n + 1));
            let index = w.finish();
            assert_eq!(index.slots()[1].load(), field(n + 1));
        }
        assert_eq!(Arc::as_ptr(&w.block), block, "no new block");
    }

    #[test]
    fn blocks_grow_while_packets_are_kept_and_retired_ones_are_reused() {
        let mut w = IndexWriter::default();
        let mut kept = Vec::new();
        for n in 0..4 * MAX_BLOCK {
            w.push(field(n));
            kept.push(w.finish());
        }
        assert_eq!(w.block.len(), MAX_BLOCK);
        // A consumer one block behind: blocks come back into use.
        kept.clear();
        let allocated = w.allocated;
        let mut recent = std::collections::VecDeque::new();
        for n in 0..10 * MAX_BLOCK {
            w.push(field(n));
            recent.push_back(w.finish());
            if recent.len() > MAX_BLOCK / 2 {
                recent.pop_front();
            }
        }
        assert_eq!(w.allocated, allocated, "no new block");
    }

    #[test]
    fn a_consumer_many_blocks_behind_needs_no_new_block_in_steady_state() {
        const HEADERS: usize = 16;
        // The packets of 20 blocks are held at any time.
        let window = 20 * MAX_BLOCK / HEADERS;
        let mut w = IndexWriter::default();
        let mut held = std::collections::VecDeque::new();
        let mut run = |w: &mut IndexWriter, packets: usize| {
            for n in 0..packets {
                for h in 0..HEADERS {
                    w.push(field(n + h));
                }
                held.push_back(w.finish());
                if held.len() > window {
                    held.pop_front();
                }
            }
        };
        run(&mut w, 3 * window);
        let allocated = w.allocated;
        run(&mut w, 10 * window);
        assert_eq!(w.allocated, allocated, "no new block");
        assert!(w.retired.len() <= MAX_RETIRED);
    }

    #[test]
    fn a_packet_larger_than_a_block_gets_its_own() {
        let mut w = IndexWriter::default();
        w.push(field(0));
        let small = w.finish();
        for n in 0..3 * MAX_BLOCK {
            w.push(field(n));
        }
        let big = w.finish();
        assert_eq!(big.len(), 3 * MAX_BLOCK);
        for (i, slot) in big.slots().iter().enumerate() {
            assert_eq!(slot.load(), field(i));
        }
        assert_eq!(small.slots()[0].load(), field(0));
    }

    #[test]
    fn blocks_of_outsized_packets_are_not_kept_for_reuse() {
        let mut w = IndexWriter::default();
        let mut held = Vec::new();
        for round in 0..2 * MAX_RETIRED {
            // An outsized packet, then ordinary ones until blocks turn over.
            for n in 0..2 * MAX_BLOCK {
                w.push(field(n));
            }
            held.push(w.finish());
            for n in 0..4 * MAX_BLOCK {
                w.push(field(n));
                held.push(w.finish());
            }
            let kept: usize = w.retired.iter().map(|b| b.len()).sum();
            assert!(
                w.retired.iter().all(|b| b.len() <= MAX_BLOCK),
                "round {round}: an outsized block kept"
            );
            assert!(
                kept <= MAX_RETIRED * MAX_BLOCK,
                "round {round}: {kept} slots kept"
            );
        }
        assert!(held.iter().any(|p| p.len() == 2 * MAX_BLOCK));
    }

    #[test]
    fn clear_drops_only_the_packet_in_progress() {
        let mut w = IndexWriter::default();
        w.push(field(1));
        let first = w.finish();
        w.push(field(2));
        w.push(field(3));
        w.clear();
        w.push(field(4));
        let second = w.finish();
        assert_eq!(first.slots()[0].load(), field(1));
        assert_eq!(second.len(), 1);
        assert_eq!(second.slots()[0].load(), field(4));
    }
}
