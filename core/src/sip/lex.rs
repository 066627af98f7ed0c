//! Lexical helpers shared by the header and URI parsers (RFC 3261 section 25).
//!
//! Header values are byte ranges of the received buffer and may still contain
//! folded lines (`CRLF` followed by space or tab). Every helper here treats
//! `SP`, `HT`, `CR` and `LF` alike as linear white space, which is what makes
//! folding transparent to the inner parsers without copying the value.

use super::error::{Fault, ParseError, Result, Where, err};

/// Linear white space, folding included.
#[inline(always)]
pub const fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 3261 `token` characters, as a lookup table (one load per byte on the
/// hot path of the header index).
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = matches!(b,
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
            | b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~');
        i += 1;
    }
    t
};

/// RFC 3261 `token` characters.
#[inline(always)]
pub fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// Skips leading white space.
#[inline]
pub fn trim_start(s: &[u8]) -> &[u8] {
    let mut i = 0;
    while i < s.len() && is_lws(s[i]) {
        i += 1;
    }
    &s[i..]
}

/// Skips trailing white space.
#[inline]
pub fn trim_end(s: &[u8]) -> &[u8] {
    let mut n = s.len();
    while n > 0 && is_lws(s[n - 1]) {
        n -= 1;
    }
    &s[..n]
}

/// Trims white space on both sides.
#[inline]
pub fn trim(s: &[u8]) -> &[u8] {
    trim_end(trim_start(s))
}

/// Index of the first non-white-space byte at or after `i`.
#[inline]
pub fn skip_lws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_lws(s[i]) {
        i += 1;
    }
    i
}

/// ASCII case-insensitive equality.
#[inline]
pub fn eq_ic(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Parses an unsigned decimal number of at most `max_digits` digits.
/// `what` names the element for the error.
#[inline]
pub fn parse_u32(s: &[u8], what: Where) -> Result<u32> {
    if s.is_empty() {
        return Err(err(what, Fault::Empty, 0));
    }
    if s.len() > 10 {
        return Err(err(what, Fault::BadNumber, 0));
    }
    let mut v: u64 = 0;
    for (i, &b) in s.iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(err(what, Fault::BadNumber, i));
        }
        v = v * 10 + u64::from(b - b'0');
    }
    u32::try_from(v).map_err(|_| err(what, Fault::BadNumber, 0))
}

/// Finds the end of a quoted string that starts at `s[start] == b'"'`.
/// Returns the index just past the closing quote.
#[inline]
pub fn quoted_end(s: &[u8], start: usize, what: Where) -> Result<usize> {
    let mut i = start + 1;
    while let Some(&b) = s.get(i) {
        if !QUOTED_STOP[b as usize] {
            i += 1;
            continue;
        }
        match b {
            b'"' => return Ok(i + 1),
            // A quoted-pair; the escaped byte is checked like any other.
            b'\\' => {
                match s.get(i + 1) {
                    Some(&e) if !is_ctl_in_quoted(e) => {}
                    Some(_) => return Err(err(what, Fault::BadChar, i + 1)),
                    None => break,
                }
                i += 2;
            }
            _ if is_ctl_in_quoted(b) => return Err(err(what, Fault::BadChar, i)),
            _ => i += 1,
        }
    }
    Err(err(what, Fault::Unclosed, start))
}

/// Bytes the quoted-string scan must stop at: the quote, the backslash and
/// the control characters.
static QUOTED_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i < 0x20 || i == 0x7f || i == b'"' as usize || i == b'\\' as usize;
        i += 1;
    }
    t
};

/// Control characters that may not appear in a quoted string: everything
/// below 0x20 but tab and the CR/LF of folding, and DEL.
#[inline(always)]
fn is_ctl_in_quoted(b: u8) -> bool {
    (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7f
}

/// Strips one pair of surrounding double quotes, if present. Escapes are
/// left as they are (zero-copy); see [`unquote_into`] to resolve them.
#[inline]
pub fn strip_quotes(s: &[u8]) -> &[u8] {
    if s.len() >= 2 && s[0] == b'"' && s[s.len() - 1] == b'"' {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// Resolves `\x` escapes of a quoted-string body into `out`.
pub fn unquote_into(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 1 < s.len() {
            out.push(s[i + 1]);
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
}

/// Splits a comma-separated header value into its elements, ignoring commas
/// inside quoted strings, `<...>` and `(...)` comments. Each element is
/// trimmed; empty elements (`a,,b`) are skipped as RFC 3261 7.3.1 allows.
///
/// The iterator yields `(offset, element)` pairs, offset relative to the
/// value, or an error for an unclosed quote or bracket. It is bounded by the
/// value's length.
pub struct CommaSplit<'a> {
    s: &'a [u8],
    pos: usize,
    what: Where,
    done: bool,
}

impl<'a> CommaSplit<'a> {
    pub fn new(s: &'a [u8], what: Where) -> Self {
        CommaSplit {
            s,
            pos: 0,
            what,
            done: false,
        }
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = Result<(usize, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done || self.pos >= self.s.len() {
                return None;
            }
            let s = self.s;
            let start = self.pos;
            let mut i = start;
            let mut angle = false;
            // Jump from one special byte to the next: a comma ends the
            // element, a quote skips a quoted string, `<` skips to `>`.
            // (The list headers carry no comments, so `(` is ordinary.)
            while let Some(off) = memchr::memchr3(b',', b'"', b'<', s.get(i..).unwrap_or(&[])) {
                i += off;
                match s.get(i) {
                    Some(b',') => break,
                    Some(b'"') => match quoted_end(s, i, self.what) {
                        Ok(e) => i = e,
                        Err(e) => {
                            self.done = true;
                            return Some(Err(e));
                        }
                    },
                    _ => match memchr::memchr(b'>', s.get(i..).unwrap_or(&[])) {
                        Some(close) => i += close + 1,
                        None => {
                            angle = true;
                            i = s.len();
                            break;
                        }
                    },
                }
            }
            if !matches!(s.get(i), Some(b',')) {
                i = s.len();
            }
            if angle {
                self.done = true;
                return Some(Err(err(self.what, Fault::Unclosed, start)));
            }
            self.pos = i + 1;
            let raw = &s[start..i.min(s.len())];
            let lead = raw.len() - trim_start(raw).len();
            let elem = trim(raw);
            if elem.is_empty() {
                continue;
            }
            return Some(Ok((start + lead, elem)));
        }
    }
}

/// One `;name[=value]` parameter, zero-copy. `value` keeps its quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a [u8],
    pub value: Option<&'a [u8]>,
}

impl<'a> Param<'a> {
    /// The value with surrounding quotes removed (escapes left as is).
    #[inline]
    pub fn unquoted(&self) -> Option<&'a [u8]> {
        self.value.map(strip_quotes)
    }
}

/// A `;`-separated parameter list (header parameters, not URI parameters),
/// kept as its raw bytes and walked on demand. The raw form starts after the
/// first `;` (or is empty).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Params<'a> {
    raw: &'a [u8],
}

impl<'a> Params<'a> {
    /// Wraps raw parameter bytes (without the leading `;`). They must already
    /// have been checked with [`Params::validate`].
    #[inline]
    pub const fn from_raw(raw: &'a [u8]) -> Self {
        Params { raw }
    }

    /// Checks a raw parameter list and returns it, counting parameters
    /// against `max`.
    pub fn validate(raw: &'a [u8], what: Where, max: usize) -> Result<Self> {
        let p = Params { raw };
        let mut n = 0usize;
        let mut it = p.iter_checked(what);
        while let Some(r) = it.next() {
            r?;
            n += 1;
            if n > max {
                return Err(err(what, Fault::TooMany, it.pos));
            }
        }
        Ok(p)
    }

    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        trim(self.raw).is_empty()
    }

    /// Iterates parameters; malformed parts are skipped (use
    /// [`Params::validate`] first to reject them).
    pub fn iter(&self) -> impl Iterator<Item = Param<'a>> + 'a {
        self.iter_checked(Where::Header).filter_map(|r| r.ok())
    }

    fn iter_checked(&self, what: Where) -> ParamIter<'a> {
        ParamIter {
            s: self.raw,
            pos: 0,
            what,
        }
    }

    /// The first parameter with this name (case-insensitive).
    pub fn get(&self, name: &[u8]) -> Option<Param<'a>> {
        self.iter().find(|p| eq_ic(p.name, name))
    }

    /// Whether a parameter with this name is present (with or without value).
    pub fn has(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// The value of a parameter, without quotes. `Some(b"")` for a parameter
    /// present without value.
    pub fn value(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.get(name).map(|p| p.unquoted().unwrap_or(b""))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.iter().count()
    }
}

struct ParamIter<'a> {
    s: &'a [u8],
    pos: usize,
    what: Where,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Result<Param<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s;
        loop {
            let mut i = skip_lws(s, self.pos);
            if i >= s.len() {
                self.pos = i;
                return None;
            }
            if s[i] == b';' {
                self.pos = i + 1;
                continue;
            }
            let name_start = i;
            while i < s.len() && is_token(s[i]) {
                i += 1;
            }
            let name = &s[name_start..i];
            if name.is_empty() {
                self.pos = s.len();
                return Some(Err(err(self.what, Fault::BadChar, i)));
            }
            i = skip_lws(s, i);
            let mut value = None;
            if i < s.len() && s[i] == b'=' {
                i = skip_lws(s, i + 1);
                let vs = i;
                if i < s.len() && s[i] == b'"' {
                    match quoted_end(s, i, self.what) {
                        Ok(e) => i = e,
                        Err(e) => {
                            self.pos = s.len();
                            return Some(Err(e));
                        }
                    }
                } else if i < s.len() && s[i] == b'[' {
                    // IPv6 reference as a parameter value (received=, maddr=).
                    match memchr::memchr(b']', &s[i..]) {
                        Some(off) => i += off + 1,
                        None => {
                            self.pos = s.len();
                            return Some(Err(err(self.what, Fault::Unclosed, i)));
                        }
                    }
                } else {
                    while i < s.len() && (is_token(s[i]) || s[i] == b':') {
                        i += 1;
                    }
                }
                value = Some(&s[vs..i]);
                i = skip_lws(s, i);
            }
            if i < s.len() && s[i] != b';' {
                self.pos = s.len();
                return Some(Err(err(self.what, Fault::BadChar, i)));
            }
            self.pos = i;
            return Some(Ok(Param { name, value }));
        }
    }
}

/// Turns an inner error into one labelled for `what`, offset by `base`.
#[inline]
pub fn relabel(e: ParseError, what: Where, base: usize) -> ParseError {
    e.within(what, base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_split_respects_quotes_and_brackets() {
        let v = b"\"Doe, John\" <sip:a@b;x=1,2>;q=0.5 , <sip:c@d>,,sip:e@f";
        let parts: Vec<_> = CommaSplit::new(v, Where::Contact)
            .map(|r| r.unwrap().1)
            .collect();
        assert_eq!(
            parts,
            vec![
                &b"\"Doe, John\" <sip:a@b;x=1,2>;q=0.5"[..],
                &b"<sip:c@d>"[..],
                &b"sip:e@f"[..]
            ]
        );
    }

    #[test]
    fn comma_split_reports_unclosed() {
        let r: Vec<_> = CommaSplit::new(b"\"abc, <sip:x>", Where::Contact).collect();
        assert!(matches!(
            r[0],
            Err(ParseError {
                fault: Fault::Unclosed,
                ..
            })
        ));
        let r: Vec<_> = CommaSplit::new(b"<sip:x, y", Where::Route).collect();
        assert!(matches!(
            r[0],
            Err(ParseError {
                fault: Fault::Unclosed,
                ..
            })
        ));
    }

    #[test]
    fn params_walk() {
        let p = Params::validate(
            b"branch=z9hG4bK1 ; rport;received=[::1];x=\"a;b\"",
            Where::Via,
            10,
        )
        .unwrap();
        assert_eq!(p.value(b"BRANCH"), Some(&b"z9hG4bK1"[..]));
        assert_eq!(p.value(b"rport"), Some(&b""[..]));
        assert_eq!(p.value(b"received"), Some(&b"[::1]"[..]));
        assert_eq!(p.value(b"x"), Some(&b"a;b"[..]));
        assert_eq!(p.len(), 4);
        assert!(Params::validate(b"a=1;;b", Where::Via, 1).is_err());
        assert!(Params::validate(b"a=1 b", Where::Via, 10).is_err());
    }

    #[test]
    fn folded_whitespace_is_lws() {
        assert_eq!(trim(b"\r\n\t abc \r\n "), b"abc");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(b"4294967295", Where::CSeq).unwrap(), u32::MAX);
        assert!(parse_u32(b"4294967296", Where::CSeq).is_err());
        assert!(parse_u32(b"12a", Where::CSeq).is_err());
        assert!(parse_u32(b"", Where::CSeq).is_err());
    }
}

/// Eight bytes from `s[at..at + 8]` as a little-endian word (zero if the
/// slice is shorter; callers only ask for words inside the slice).
#[inline(always)]
pub fn load8(s: &[u8], at: usize) -> u64 {
    match s.get(at..at + 8) {
        Some(w) => u64::from_le_bytes(w.try_into().unwrap_or([0; 8])),
        None => 0,
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Index of the first byte equal to `b` in a short slice, eight bytes at a
/// time without the setup cost of a vector search (header names are short).
#[inline(always)]
pub fn find_short(s: &[u8], b: u8) -> Option<usize> {
    let pat = LO.wrapping_mul(u64::from(b));
    let zero_at = |w: u64| {
        let x = w ^ pat;
        // The lowest flagged byte is exact (borrows only run upward).
        let z = x.wrapping_sub(LO) & !x & HI;
        (z != 0).then(|| (z.trailing_zeros() / 8) as usize)
    };
    let n = s.len();
    if n < 8 {
        return s.iter().position(|&c| c == b);
    }
    let mut i = 0;
    while i + 8 <= n {
        if let Some(k) = zero_at(load8(s, i)) {
            return Some(i + k);
        }
        i += 8;
    }
    if i < n {
        // The tail as one word overlapping what was already searched.
        if let Some(k) = zero_at(load8(s, n - 8)) {
            return Some(n - 8 + k);
        }
    }
    None
}

/// Lower-cases the ASCII letters of a word, leaving every other byte as is.
#[inline(always)]
pub fn lower8(w: u64) -> u64 {
    // For each byte: is it in 'A'..='Z'? Work on 7 bits so that additions
    // never carry across bytes, then exclude bytes with the top bit set.
    let h = w & !HI;
    let ge_a = h.wrapping_add(LO.wrapping_mul(0x80 - u64::from(b'A')));
    let gt_z = h.wrapping_add(LO.wrapping_mul(0x80 - u64::from(b'Z') - 1));
    let upper = ge_a & !gt_z & !w & HI;
    w | (upper >> 2)
}

/// ASCII case-insensitive equality of `s` with `lower`, which must already
/// be lower case. Exact for any bytes in `s`.
#[inline(always)]
pub fn eq_lower(s: &[u8], lower: &[u8]) -> bool {
    let n = s.len();
    if n != lower.len() {
        return false;
    }
    if n < 8 {
        return s
            .iter()
            .zip(lower)
            .all(|(&a, &b)| a.to_ascii_lowercase() == b);
    }
    let mut i = 0;
    while i + 8 <= n {
        if lower8(load8(s, i)) != load8(lower, i) {
            return false;
        }
        i += 8;
    }
    // The tail as one word overlapping what was already compared.
    i == n || lower8(load8(s, n - 8)) == load8(lower, n - 8)
}

#[cfg(test)]
mod swar_tests {
    use super::*;

    #[test]
    fn find_short_matches_position() {
        for s in [
            &b"Via: x"[..],
            b"Content-Length: 0",
            b"no colon here at all",
            b"",
            b":",
            b"abcdefgh:",
        ] {
            assert_eq!(
                find_short(s, b':'),
                s.iter().position(|&c| c == b':'),
                "{s:?}"
            );
        }
        // A byte 0x3b (';' = ':' + 1) must not confuse the borrow logic.
        assert_eq!(find_short(b";;;;;;;;;:", b':'), Some(9));
    }

    #[test]
    fn lower_is_exact() {
        for b in 0u8..=255 {
            for c in [0u8, b'A', b'z', 0x80, 0xff, b'@', b'['] {
                let w = lower8(u64::from_le_bytes([c, b, c, b, b, c, c, b]));
                let want = [c, b, c, b, b, c, c, b].map(|x| x.to_ascii_lowercase());
                assert_eq!(w.to_le_bytes(), want, "{b} {c}");
            }
        }
        assert!(eq_lower(b"Content-LENGTH", b"content-length"));
        assert!(!eq_lower(b"Content\rLength", b"content-length"));
        assert!(!eq_lower(b"Via", b"via "));
    }
}
