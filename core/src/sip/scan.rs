//! Byte cursors for the header index: find the next occurrence of one byte,
//! sixteen bytes at a time, with no per-call setup.
//!
//! A vector search (memchr) pays a fixed cost on every call, which dominates
//! when the distances are short, as between the line ends and colons of SIP
//! headers (20–60 bytes). A cursor keeps the match flags of the current word
//! and moves forward only, so finding every line end and every header colon
//! of a message costs one pass over the header block.

/// Bytes examined per step.
const STEP: usize = 16;

/// One bit per byte of `s[at..at + 16]` (zero-padded past the end), set
/// where the byte equals `b`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn eq_mask(s: &[u8], at: usize, b: u8) -> u32 {
    match s.get(at..at + STEP) {
        Some(c) => eq_mask16(c.try_into().unwrap_or(&[0; STEP]), b),
        None => eq_mask_tail(s, at, b),
    }
}

/// The last, partial block: copied into a zero-padded array first.
#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
fn eq_mask_tail(s: &[u8], at: usize, b: u8) -> u32 {
    let mut tail = [0u8; STEP];
    for (d, x) in tail.iter_mut().zip(s.get(at..).unwrap_or(&[])) {
        *d = *x;
    }
    eq_mask16(&tail, b)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn eq_mask16(chunk: &[u8; STEP], b: u8) -> u32 {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    // SAFETY: `chunk` refers to exactly 16 readable bytes and
    // `_mm_loadu_si128` has no alignment requirement; SSE2, the only
    // feature these intrinsics need, is part of the x86_64 baseline.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8))) as u32
    }
}

/// Portable version of the 16-byte mask.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn eq_mask(s: &[u8], at: usize, b: u8) -> u32 {
    let mut m = 0u32;
    for (i, x) in s.get(at..).unwrap_or(&[]).iter().take(STEP).enumerate() {
        m |= u32::from(*x == b) << i;
    }
    m
}

/// A forward-only cursor over the positions of one byte value.
pub struct Cursor<'a> {
    s: &'a [u8],
    b: u8,
    /// Start of the current block.
    base: usize,
    /// Match bits of the current block not consumed yet.
    flags: u32,
}

impl<'a> Cursor<'a> {
    /// A cursor over `s` looking for `b`, starting at `from`.
    #[inline]
    pub fn new(s: &'a [u8], b: u8, from: usize) -> Self {
        Cursor {
            s,
            b,
            base: from,
            flags: eq_mask(s, from, b),
        }
    }

    /// The first position at or after `pos` holding the byte, without
    /// consuming it. `pos` must not go backwards between calls.
    #[inline(always)]
    pub fn peek_from(&mut self, pos: usize) -> Option<usize> {
        if pos >= self.base + STEP {
            self.base = pos;
            self.flags = eq_mask(self.s, pos, self.b);
        } else if pos > self.base {
            // Drop matches below `pos` in the current block.
            self.flags &= u32::MAX << (pos - self.base);
        }
        loop {
            if self.flags != 0 {
                let at = self.base + self.flags.trailing_zeros() as usize;
                return (at < self.s.len()).then_some(at);
            }
            self.base += STEP;
            if self.base >= self.s.len() {
                return None;
            }
            self.flags = eq_mask(self.s, self.base, self.b);
        }
    }

    /// The next position holding the byte, consumed.
    #[inline(always)]
    pub fn next_pos(&mut self) -> Option<usize> {
        let at = self.peek_from(self.base)?;
        self.flags &= self.flags.wrapping_sub(1);
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_exact() {
        let s: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        for b in [0u8, b'\n', b':', 0x80, 0xff] {
            for at in 0..s.len() {
                let m = eq_mask(&s, at, b);
                for i in 0..STEP {
                    let want = s.get(at + i) == Some(&b) || (b == 0 && at + i >= s.len());
                    assert_eq!(m >> i & 1 == 1, want, "{b} {at} {i}");
                }
            }
        }
    }

    #[test]
    fn cursor_finds_every_position() {
        let s = b"a:b\nccccccccccccc:dd\n\n::x\nlast line without end";
        let want: Vec<usize> = s
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == b'\n')
            .map(|(i, _)| i)
            .collect();
        let mut c = Cursor::new(s, b'\n', 0);
        let got: Vec<usize> = std::iter::from_fn(|| c.next_pos()).collect();
        assert_eq!(got, want);
        let mut c = Cursor::new(s, b':', 0);
        assert_eq!(c.peek_from(0), Some(1));
        assert_eq!(c.peek_from(2), Some(17));
        assert_eq!(c.peek_from(18), Some(22));
        assert_eq!(c.peek_from(23), Some(23));
        assert_eq!(c.peek_from(24), None);
        for start in 0..s.len() {
            let mut c = Cursor::new(s, b'\n', start);
            let got: Vec<usize> = std::iter::from_fn(|| c.next_pos()).collect();
            let want: Vec<usize> = want.iter().copied().filter(|&i| i >= start).collect();
            assert_eq!(got, want, "from {start}");
        }
    }
}

/// The lines of a header block, found 64 bytes at a time: for each line,
/// where it starts, where its `\n` is, and where its first `:` is. Newline
/// and colon masks come from the same loads, and finding the next line is a
/// few bit operations, so a short header line costs a handful of
/// instructions beyond the one pass over the bytes.
pub struct Lines<'a> {
    s: &'a [u8],
    /// Start of the current 64-byte block.
    base: usize,
    /// Newlines of the current block not consumed yet.
    nl: u64,
    /// Colons of the current block.
    colon: u64,
    /// Start of the next line.
    pos: usize,
}

/// One line: `start..nl` is the line without its `\n`; `colon` is the first
/// `:` in it, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineAt {
    pub start: usize,
    pub nl: usize,
    pub colon: Option<usize>,
}

const BLOCK: usize = 64;

impl<'a> Lines<'a> {
    /// Lines of `s` starting at `from`.
    #[inline]
    pub fn new(s: &'a [u8], from: usize) -> Self {
        let (nl, colon) = masks64(s, from);
        Lines {
            s,
            base: from,
            nl,
            colon,
            pos: from,
        }
    }

    /// The next complete line (one that has its `\n`), or `None`.
    #[inline(always)]
    pub fn next_line(&mut self) -> Option<LineAt> {
        let start = self.pos;
        let mut colon: Option<usize> = None;
        loop {
            // Colons of this block at or after the line start.
            let from = start.saturating_sub(self.base);
            let cbits = if from >= BLOCK {
                0
            } else {
                self.colon & (u64::MAX << from)
            };
            if self.nl != 0 {
                let i = self.nl.trailing_zeros() as usize;
                self.nl &= self.nl - 1;
                let nl = self.base + i;
                if colon.is_none() {
                    // The first colon before the newline.
                    let before = cbits & ((1u64 << i) - 1);
                    if before != 0 {
                        colon = Some(self.base + before.trailing_zeros() as usize);
                    }
                }
                self.pos = nl + 1;
                return (nl < self.s.len()).then_some(LineAt { start, nl, colon });
            }
            if colon.is_none() && cbits != 0 {
                colon = Some(self.base + cbits.trailing_zeros() as usize);
            }
            let next = self.base + BLOCK;
            if next >= self.s.len() {
                return None;
            }
            self.base = next;
            let (nl, c) = masks64(self.s, next);
            self.nl = nl;
            self.colon = c;
        }
    }
}

/// Newline and colon masks of `s[at..at + 64]` (zero past the end).
#[inline(always)]
fn masks64(s: &[u8], at: usize) -> (u64, u64) {
    match s.get(at..at + BLOCK) {
        Some(b) => masks64_full(b),
        None => {
            let mut tail = [0u8; BLOCK];
            for (d, x) in tail.iter_mut().zip(s.get(at..).unwrap_or(&[])) {
                *d = *x;
            }
            masks64_full(&tail)
        }
    }
}

#[inline(always)]
fn masks64_full(b: &[u8]) -> (u64, u64) {
    let mut nl = 0u64;
    let mut colon = 0u64;
    for (k, chunk) in b.chunks_exact(STEP).enumerate().take(BLOCK / STEP) {
        let c: &[u8; STEP] = chunk.try_into().unwrap_or(&[0; STEP]);
        let (n, co) = two_masks16(c, b'\n', b':');
        nl |= u64::from(n) << (k * STEP);
        colon |= u64::from(co) << (k * STEP);
    }
    (nl, colon)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn two_masks16(chunk: &[u8; STEP], a: u8, b: u8) -> (u32, u32) {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    // SAFETY: as in `eq_mask16`: 16 readable bytes, unaligned load, SSE2.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        (
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(a as i8))) as u32,
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8))) as u32,
        )
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn two_masks16(chunk: &[u8; STEP], a: u8, b: u8) -> (u32, u32) {
    let (mut ma, mut mb) = (0u32, 0u32);
    for (i, x) in chunk.iter().enumerate() {
        ma |= u32::from(*x == a) << i;
        mb |= u32::from(*x == b) << i;
    }
    (ma, mb)
}

#[cfg(test)]
mod lines_tests {
    use super::*;

    fn naive(s: &[u8], from: usize) -> Vec<LineAt> {
        let mut out = Vec::new();
        let mut pos = from;
        while let Some(o) = s
            .get(pos..)
            .and_then(|r| r.iter().position(|&c| c == b'\n'))
        {
            let nl = pos + o;
            let colon = s[pos..nl].iter().position(|&c| c == b':').map(|c| pos + c);
            out.push(LineAt {
                start: pos,
                nl,
                colon,
            });
            pos = nl + 1;
        }
        out
    }

    #[test]
    fn lines_agree_with_a_naive_scan() {
        let mut texts: Vec<Vec<u8>> = vec![
            b"Via: a\r\nTo: b\r\n\r\nbody".to_vec(),
            b"no newline at all: here".to_vec(),
            b"\n\n:\n::\nx".to_vec(),
        ];
        // Long lines crossing several blocks, colons before and after.
        let mut long = b"X-Long".to_vec();
        long.extend(std::iter::repeat_n(b'a', 150));
        long.extend_from_slice(b": v:w\r\nShort: 1\r\n");
        long.extend(std::iter::repeat_n(b'b', 70));
        long.extend_from_slice(b"\r\n:\r\n");
        texts.push(long);
        let mut seed = 7u32;
        for _ in 0..200 {
            let n = (seed % 300) as usize;
            let mut t = Vec::with_capacity(n);
            for _ in 0..n {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                t.push(match (seed >> 16) % 8 {
                    0 => b'\n',
                    1 => b':',
                    2 => b'\r',
                    _ => b'a' + ((seed >> 8) % 26) as u8,
                });
            }
            texts.push(t);
        }
        for t in &texts {
            for from in [0, 1, 5].into_iter().filter(|&f| f <= t.len()) {
                let mut l = Lines::new(t, from);
                let got: Vec<LineAt> = std::iter::from_fn(|| l.next_line()).collect();
                assert_eq!(
                    got,
                    naive(t, from),
                    "{:?} from {from}",
                    String::from_utf8_lossy(t)
                );
            }
        }
    }
}
