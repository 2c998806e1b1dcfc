//! The structural scan: where the line feeds and colons of the buffer are.
//!
//! AMI lines are short (about 22 bytes), so a `memchr` call per line costs
//! more than the line. Instead, 64 bytes at a time become two bit masks at
//! once, one for `\n` and one for `:` ([`masks`]: SIMD compares through
//! `wide`, no `unsafe` here), and lines are taken from the masks: a line's
//! end is the next LF bit, its key's end the first colon bit before it.
//!
//! The decoder's hot path anchors a block at a line's start and takes all
//! its complete lines (see `Decoder::fast_headers`); everything else reads
//! lines through a [`Scanner`], which scans each byte once however the
//! stream is cut.

use wide::{u8x32, CmpEq};

/// Bytes per scanned block.
pub(crate) const BLOCK: usize = 64;

/// "No colon": greater than any position.
pub(crate) const NO_COLON: usize = usize::MAX;

/// Bit `i` of the first mask set where `block[i]` is LF, of the second
/// where it is `:`.
#[inline(always)]
pub(crate) fn masks(block: &[u8; BLOCK]) -> (u64, u64) {
    let lf = u8x32::splat(b'\n');
    let colon = u8x32::splat(b':');
    let (lo, hi) = block.split_at(BLOCK / 2);
    let lo = u8x32::new(lo.try_into().expect("32 bytes"));
    let hi = u8x32::new(hi.try_into().expect("32 bytes"));
    let bits = |v: u8x32, c: u8x32| u64::from(v.cmp_eq(c).move_mask() as u32);
    (
        bits(lo, lf) | bits(hi, lf) << 32,
        bits(lo, colon) | bits(hi, colon) << 32,
    )
}

/// The masks of `buf[at..]`'s next block (a shorter one at the end of the
/// bytes, zero-padded) and how many bytes they cover.
#[inline(always)]
fn block_at(buf: &[u8], at: usize) -> (u64, u64, usize) {
    let rest = &buf[at..];
    match rest.first_chunk::<BLOCK>() {
        Some(block) => {
            let (lf, colon) = masks(block);
            (lf, colon, BLOCK)
        }
        None => {
            let mut block = [0u8; BLOCK];
            block[..rest.len()].copy_from_slice(rest);
            let (lf, colon) = masks(&block);
            (lf, colon, rest.len())
        }
    }
}

/// The scan position in a buffer the caller only appends to, with the
/// look-ahead of the current block.
///
/// Every byte is scanned once: a packet that arrives a byte at a time costs
/// O(its length). Positions are offsets into the buffer; when the decoder
/// consumes the buffer's front it moves them (see [`Scanner::rebase`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scanner {
    /// Bytes before this offset are scanned.
    pub(crate) pos: usize,
    /// LF bits of `buf[pos..end]`, bit `i` for `pos + i` (relative to
    /// `pos`, so consuming the buffer's front keeps them valid).
    lf: u64,
    /// Colon bits of the same bytes.
    colon: u64,
    /// The end of the scanned block (`pos + 64` at most).
    end: usize,
    /// The first colon of the current line (the bytes after the last LF
    /// returned) before `pos`, or [`NO_COLON`].
    line_colon: usize,
}

impl Default for Scanner {
    fn default() -> Scanner {
        Scanner {
            pos: 0,
            lf: 0,
            colon: 0,
            end: 0,
            line_colon: NO_COLON,
        }
    }
}

impl Scanner {
    /// Nothing scanned past `pos`, a line start.
    pub(crate) fn at(pos: usize) -> Scanner {
        Scanner {
            pos,
            end: pos,
            ..Scanner::default()
        }
    }

    /// The next LF at or after `pos` and the first colon of the line it
    /// ends (or [`NO_COLON`]), moving `pos` past it; `None`, with `pos` at
    /// the end of `buf`, when there is none yet.
    #[inline(always)]
    pub(crate) fn next_line(&mut self, buf: &[u8]) -> Option<(usize, usize)> {
        loop {
            if let Some((off, colon)) = self.peek() {
                let nl = self.pos + off;
                self.take(off);
                return Some((nl, colon));
            }
            if !self.refill(buf) {
                return None;
            }
        }
    }

    /// The next LF in the look-ahead, as an offset from `pos`, and the
    /// first colon of the line it ends (or [`NO_COLON`]); `None` when the
    /// look-ahead holds no LF (then [`Scanner::refill`]). Moves nothing.
    #[inline(always)]
    fn peek(&self) -> Option<(usize, usize)> {
        if self.lf == 0 {
            return None;
        }
        let off = self.lf.trailing_zeros() as usize;
        let first = self.colon.trailing_zeros() as usize;
        let here = if first < off {
            self.pos + first
        } else {
            NO_COLON
        };
        // A colon seen in an earlier block comes first.
        Some((off, self.line_colon.min(here)))
    }

    /// Move past the line [`Scanner::peek`] found, whose LF is at `pos + off`.
    #[inline(always)]
    fn take(&mut self, off: usize) {
        // Two shifts: `off + 1` may be 64.
        self.lf = (self.lf >> off) >> 1;
        self.colon = (self.colon >> off) >> 1;
        self.pos += off + 1;
        self.line_colon = NO_COLON;
    }

    /// Scan the next block of `buf` (the look-ahead holds no LF); `false`
    /// when `pos` has reached the end of `buf`.
    #[inline(always)]
    fn refill(&mut self, buf: &[u8]) -> bool {
        if self.line_colon == NO_COLON && self.colon != 0 {
            self.line_colon = self.pos + self.colon.trailing_zeros() as usize;
        }
        self.pos = self.end;
        self.colon = 0;
        if self.pos == buf.len() {
            return false;
        }
        let span;
        (self.lf, self.colon, span) = block_at(buf, self.pos);
        self.end = self.pos + span;
        true
    }

    /// The buffer's first `drop` bytes were consumed, none of them after
    /// `pos`. The current line's colon is forgotten: only a line that is
    /// skipped, never parsed, loses its head.
    pub(crate) fn rebase(&mut self, drop: usize) {
        self.pos -= drop;
        self.end -= drop;
        self.line_colon = NO_COLON;
    }

    /// Scanning starts over at the buffer's front, at a line start: the
    /// bytes before `pos` were consumed.
    pub(crate) fn restart(&mut self) {
        self.rebase(self.pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(block: &[u8], c: u8) -> u64 {
        block
            .iter()
            .enumerate()
            .fold(0u64, |m, (i, &x)| m | (u64::from(x == c) << i))
    }

    #[test]
    fn masks_match_a_plain_scan() {
        // Every byte value at every position, LFs and colons around it.
        for pos in 0..BLOCK {
            for b in 0..=255u8 {
                let mut block = [b'\n'; BLOCK];
                for (i, x) in block.iter_mut().enumerate() {
                    *x = match i % 5 {
                        0 => b':',
                        1 | 3 => b.wrapping_add(i as u8),
                        2 => b'\n' ^ (i as u8 & 0x80),
                        _ => b'\n',
                    };
                }
                block[pos] = b;
                let (lf, colon) = masks(&block);
                assert_eq!(lf, plain(&block, b'\n'), "{block:?}");
                assert_eq!(colon, plain(&block, b':'), "{block:?}");
            }
        }
    }

    /// Lines as `(LF offset, first colon)` from the scanner, the buffer
    /// growing by `step` bytes at a time.
    fn lines(data: &[u8], step: usize) -> Vec<(usize, usize)> {
        let mut s = Scanner::default();
        let mut out = Vec::new();
        let mut end = 0;
        while end < data.len() {
            end = (end + step).min(data.len());
            while let Some(line) = s.next_line(&data[..end]) {
                out.push(line);
            }
            assert_eq!(s.pos, end);
        }
        out
    }

    #[test]
    fn lines_and_colons_match_a_plain_split_at_every_step() {
        let mut data = Vec::new();
        for i in 0..300usize {
            let key = "k".repeat(i % 70);
            let sep = [":", ": ", "", "::"][i % 4];
            let value = "v:".repeat(i % 50);
            data.extend_from_slice(format!("{key}{sep}{value}\r\n").as_bytes());
            if i % 7 == 0 {
                data.extend_from_slice(b"\n");
            }
        }
        let mut want = Vec::new();
        let mut start = 0;
        for (nl, _) in data.iter().enumerate().filter(|(_, &b)| b == b'\n') {
            let colon = data[start..nl]
                .iter()
                .position(|&b| b == b':')
                .map_or(NO_COLON, |c| start + c);
            want.push((nl, colon));
            start = nl + 1;
        }
        for step in [1, 2, 3, 7, 31, 63, 64, 65, 100, 1000, data.len()] {
            assert_eq!(lines(&data, step), want, "step {step}");
        }
    }
}
