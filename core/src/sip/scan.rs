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
    use core::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let mut tail = [0u8; STEP];
    let chunk: &[u8; STEP] = match s.get(at..at + STEP) {
        Some(c) => c.try_into().unwrap_or(&tail),
        None => {
            for (d, x) in tail.iter_mut().zip(s.get(at..).unwrap_or(&[])) {
                *d = *x;
            }
            &tail
        }
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
        let want: Vec<usize> = s.iter().enumerate().filter(|(_, c)| **c == b'\n').map(|(i, _)| i).collect();
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
