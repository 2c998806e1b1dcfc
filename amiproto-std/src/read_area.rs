//! Reading straight into the memory the core decodes from.
//!
//! The core decodes packets as zero-copy views of its input buffer, a
//! [`BytesMut`]. Reading into a buffer of our own and handing the core a
//! copy ([`amiproto::Connection::handle_input`]) copies every byte
//! received once more. Instead, reads land in a [`ReadArea`]: a block
//! whose bytes are initialised once (safe code can only read into
//! initialised memory), taken off its front one read at a time and
//! appended to the core's buffer with [`BytesMut::unsplit`], which joins
//! two neighbouring views of one block without copying. The core's buffer
//! then always ends where the area begins: the unfinished packet at its
//! end and the next read are neighbours.
//!
//! When too little of the area is left, a fresh one is started with the
//! unfinished packet copied to its front (at most one packet's bytes).
//! Areas start small ([`FIRST_BLOCK`]) and double, up to the read size,
//! each time a read fills all the space it was given: an idle connection
//! keeps a few KiB initialised, a busy one reaches full-size reads after a
//! handful of reads.
//! Should the core's buffer not end where the area begins (after a skipped
//! packet or a closed connection), `unsplit` copies, as `handle_input`
//! would have: correct either way, only slower.

use bytes::BytesMut;

/// The size of a connection's first area.
const FIRST_BLOCK: usize = 4 * 1024;

/// Where the next reads land; see the module documentation.
#[derive(Debug)]
pub(crate) struct ReadArea {
    /// Initialised bytes not read into yet (its length is its capacity).
    area: BytesMut,
    /// Most bytes one read takes, once the connection is busy.
    read_size: usize,
    /// Most bytes one read takes now; a fresh area holds this much. Grows
    /// to `read_size`.
    block: usize,
}

impl ReadArea {
    /// An area for reads of up to `read_size` bytes (allocated at the
    /// first read).
    pub(crate) fn new(read_size: usize) -> ReadArea {
        let read_size = read_size.max(1024);
        ReadArea {
            area: BytesMut::new(),
            read_size,
            block: read_size.min(FIRST_BLOCK),
        }
    }

    /// Whether a fresh area is due before the next read: less than a
    /// quarter of a read is left.
    pub(crate) fn needs_renewal(&self) -> bool {
        self.area.len() < self.block / 4
    }

    /// Start a fresh area, moving `input` (the core's buffer, which holds
    /// the unfinished packet) to its front, so that reads append to it
    /// without copying.
    pub(crate) fn renew(&mut self, input: &mut BytesMut) {
        let kept = input.len();
        let mut fresh = BytesMut::zeroed(kept + self.block);
        fresh[..kept].copy_from_slice(input);
        *input = fresh.split_to(kept);
        self.area = fresh;
    }

    /// The space the next read fills.
    pub(crate) fn space(&mut self) -> &mut [u8] {
        let n = self.block.min(self.area.len());
        &mut self.area[..n]
    }

    /// Take the `n` bytes just read into [`ReadArea::space`]: append them
    /// to the core's buffer with [`append`]. A read that filled its space
    /// doubles the next areas' size, up to the read size.
    pub(crate) fn take(&mut self, n: usize) -> BytesMut {
        if n >= self.block.min(self.area.len()) && self.block < self.read_size {
            self.block = (self.block * 2).min(self.read_size);
        }
        self.area.split_to(n)
    }
}

/// Append `chunk` (from [`ReadArea::take`]) to the core's buffer: no copy
/// when the buffer ends where the chunk starts (or is empty).
pub(crate) fn append(input: &mut BytesMut, chunk: BytesMut) {
    input.unsplit(chunk);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_join_the_unfinished_packet_without_copying() {
        let mut area = ReadArea::new(4096);
        let mut input = BytesMut::new();
        assert!(area.needs_renewal());
        area.renew(&mut input);
        let mut stream = Vec::new();
        for round in 0..40u8 {
            if area.needs_renewal() {
                area.renew(&mut input);
            }
            let space = area.space();
            let n = space.len().min(700 + round as usize);
            space[..n].fill(round);
            stream.extend(std::iter::repeat_n(round, n));
            let chunk = area.take(n);
            let (input_ptr, chunk_ptr) = (input.as_ptr(), chunk.as_ptr());
            let contiguous = input.is_empty() || input_ptr.wrapping_add(input.len()) == chunk_ptr;
            assert!(
                contiguous,
                "round {round}: the area starts where the input ends"
            );
            append(&mut input, chunk);
            // The input keeps its place: no copy was made.
            if !input.is_empty() && input_ptr != chunk_ptr {
                assert_eq!(input.as_ptr(), input_ptr);
            }
            // The decoder takes whole packets off the front, leaving a
            // partial one.
            let consumed = input.len() - input.len() % 333;
            let _packets = input.split_to(consumed).freeze();
            stream.drain(..consumed);
            assert_eq!(&input[..], &stream[..]);
        }
    }

    #[test]
    fn areas_start_small_and_grow_while_reads_fill_them() {
        let mut area = ReadArea::new(64 * 1024);
        let mut input = BytesMut::new();
        area.renew(&mut input);
        assert_eq!(area.space().len(), FIRST_BLOCK, "an idle connection");
        // A read that does not fill its space leaves the size alone.
        let _ = area.take(10);
        assert_eq!(area.block, FIRST_BLOCK);
        let mut sizes = Vec::new();
        for _ in 0..12 {
            if area.needs_renewal() {
                area.renew(&mut input);
            }
            let n = area.space().len();
            sizes.push(n);
            append(&mut input, area.take(n));
            input.clear();
        }
        assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
        assert_eq!(*sizes.last().unwrap(), 64 * 1024, "{sizes:?}");
    }

    #[test]
    fn an_input_that_does_not_end_at_the_area_is_copied() {
        let mut area = ReadArea::new(1024);
        let mut input = BytesMut::from(&b"elsewhere "[..]);
        area.renew(&mut BytesMut::new());
        area.space()[..5].copy_from_slice(b"hello");
        append(&mut input, area.take(5));
        assert_eq!(&input[..], b"elsewhere hello");
    }
}
