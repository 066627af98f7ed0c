//! SIP, SIPS and tel URIs (RFC 3261 19.1 and 25, RFC 3966), zero-copy.
//!
//! [`Uri::parse`] makes one pass over the bytes, checks every character
//! against the RFC 3261 grammar and records slices of the input: nothing is
//! copied and nothing is allocated. Parameters and `?headers` are kept as
//! their raw (validated) bytes and walked on demand by the accessors.
//!
//! Shapes:
//!
//! * `sip:` / `sips:`: `[user[:password]@]host[:port][;params][?headers]`.
//!   User and password are kept as written (still `%`-escaped; see
//!   [`unescape`]). The host is always present.
//! * `tel:` (RFC 3966): the number is reported as [`Uri::user`], the
//!   parameters as for SIP, and there is no host ([`Uri::host`] is `None`)
//!   and no port. A local number must carry `phone-context`.
//! * any other absolute URI (`mailto:`, `http:`, `urn:`, ...): only the
//!   scheme is interpreted ([`Scheme::Other`]); the rest is checked to be
//!   made of URI characters and is available as [`Uri::opaque`].
//!
//! The parser is strict about the grammar, in particular about `@`, which
//! may not appear unescaped anywhere but between the userinfo and the host:
//! the first `@` of a SIP URI always ends the userinfo.

use std::borrow::Cow;

use super::error::{Fault, ParseError, Result, Where, err};
use super::host::{self, Host};
use super::lex::Param;
use super::limits::Limits;

// ----- character classes (RFC 3261 section 25) -----

/// `user`: unreserved / user-unreserved (`escaped` is handled apart).
const C_USER: u8 = 1;
/// `password`: unreserved / `& = + $ ,`.
const C_PASS: u8 = 2;
/// `paramchar`: param-unreserved / unreserved.
const C_PARAM: u8 = 4;
/// `hname` / `hvalue`: hnv-unreserved / unreserved.
const C_HNV: u8 = 8;
/// `uric` of an absolute URI: reserved / unreserved (plus `[` `]`).
const C_URIC: u8 = 16;
/// Scheme characters after the first: ALPHA / DIGIT / `+` / `-` / `.`.
const C_SCHEME: u8 = 32;

const fn build_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let mut f = 0u8;
        let unreserved = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        if unreserved {
            f |= C_USER | C_PASS | C_PARAM | C_HNV | C_URIC;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            f |= C_USER;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            f |= C_PASS;
        }
        if matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            f |= C_PARAM;
        }
        if matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            f |= C_HNV;
        }
        if matches!(
            b,
            b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b',' | b'[' | b']'
        ) {
            f |= C_URIC;
        }
        if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.') {
            f |= C_SCHEME;
        }
        t[c] = f;
        c += 1;
    }
    t
}

static CLASS: [u8; 256] = build_classes();

#[inline(always)]
fn is_class(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

#[inline(always)]
const fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `s[i..]` starts with a valid `%HH` escape.
#[inline(always)]
fn is_escape(s: &[u8], i: usize) -> bool {
    matches!(
        (s.get(i), s.get(i.wrapping_add(1)), s.get(i.wrapping_add(2))),
        (Some(b'%'), Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit()
    )
}

/// RFC 3966 `visual-separator`.
#[inline(always)]
const fn is_visual_sep(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'(' | b')')
}

#[inline(always)]
const fn uerr(fault: Fault, at: usize) -> ParseError {
    err(Where::Uri, fault, at)
}

/// Moves an error raised on a sub-slice starting at `base` to `Where::Uri`.
#[inline]
fn shift(e: ParseError, base: usize) -> ParseError {
    uerr(e.fault, (e.at as usize).saturating_add(base))
}

/// `s[a..b]`, or empty if out of range.
#[inline(always)]
fn sub(s: &[u8], a: usize, b: usize) -> &[u8] {
    s.get(a..b).unwrap_or(&[])
}

/// `s[a..]`, or empty if out of range.
#[inline(always)]
fn tail(s: &[u8], a: usize) -> &[u8] {
    s.get(a..).unwrap_or(&[])
}

/// Splits `s` around the byte at `k` (which is dropped).
#[inline(always)]
fn split_around(s: &[u8], k: usize) -> (&[u8], &[u8]) {
    match s.split_at_checked(k) {
        Some((a, b)) => (a, b.get(1..).unwrap_or(&[])),
        None => (s, &[]),
    }
}

/// Advances over bytes of `class` and valid `%HH` escapes, starting at `i`.
/// Returns the index of the first byte that is neither; a `%` that does not
/// start a valid escape is an error.
#[inline]
fn scan_class(s: &[u8], i: usize, class: u8) -> Result<usize> {
    scan_class_esc(s, i, class, &mut false)
}

/// [`scan_class`], also setting `esc` when an escape was seen.
#[inline]
fn scan_class_esc(s: &[u8], mut i: usize, class: u8, esc: &mut bool) -> Result<usize> {
    while let Some(&c) = s.get(i) {
        if is_class(c, class) {
            i += 1;
        } else if c == b'%' {
            if !is_escape(s, i) {
                return Err(uerr(Fault::BadChar, i));
            }
            *esc = true;
            i += 3;
        } else {
            break;
        }
    }
    Ok(i)
}

// ----- unescaping and comparison helpers -----

/// Yields the bytes of `s` with valid `%HH` escapes resolved; an invalid
/// `%` is yielded as is.
#[derive(Clone, Debug)]
struct Unescaped<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Unescaped<'a> {
    #[inline]
    fn new(s: &'a [u8]) -> Self {
        Unescaped { s, i: 0 }
    }
}

impl Iterator for Unescaped<'_> {
    type Item = u8;

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let c = *self.s.get(self.i)?;
        if c == b'%'
            && let (Some(h), Some(l)) = (
                self.s.get(self.i + 1).and_then(|&h| hex_val(h)),
                self.s.get(self.i + 2).and_then(|&l| hex_val(l)),
            )
        {
            self.i += 3;
            return Some((h << 4) | l);
        }
        self.i += 1;
        Some(c)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.s.len().saturating_sub(self.i);
        (n.div_ceil(3), Some(n))
    }
}

/// Resolves `%HH` escapes. Borrows when there is nothing to resolve; an
/// invalid escape is kept as written.
pub fn unescape(s: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'%', s).is_none() {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(Unescaped::new(s).collect())
    }
}

/// Compares two escaped strings after unescaping, optionally ignoring ASCII
/// case.
#[inline]
fn eq_unesc(a: &[u8], b: &[u8], ci: bool) -> bool {
    if a.len() == b.len()
        && if ci {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    {
        return true;
    }
    if !a.contains(&b'%') && !b.contains(&b'%') {
        return false;
    }
    if ci {
        Unescaped::new(a)
            .map(|c| c.to_ascii_lowercase())
            .eq(Unescaped::new(b).map(|c| c.to_ascii_lowercase()))
    } else {
        Unescaped::new(a).eq(Unescaped::new(b))
    }
}

/// Parameter name equality: case-insensitive, escapes resolved.
#[inline]
fn name_eq(a: &[u8], b: &[u8]) -> bool {
    eq_unesc(a, b, true)
}

/// Case-insensitive equality; escapes are resolved only when `esc` says
/// that one of the strings may hold some (a fast path for the usual case).
#[inline(always)]
fn ci_eq(a: &[u8], b: &[u8], esc: bool) -> bool {
    if esc {
        eq_unesc(a, b, true)
    } else {
        a.eq_ignore_ascii_case(b)
    }
}

/// Optional parameter values, case-insensitive, escapes resolved.
#[inline]
fn value_eq_ci(a: Option<&[u8]>, b: Option<&[u8]>, esc: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => ci_eq(a, b, esc),
        _ => false,
    }
}

/// Telephone digits equality: escapes resolved, visual separators ignored,
/// case-insensitive (hex digits of local numbers).
fn digits_eq(a: &[u8], b: &[u8]) -> bool {
    phone_digits(a).eq(phone_digits(b))
}

#[inline]
fn phone_digits(s: &[u8]) -> impl Iterator<Item = u8> + '_ {
    Unescaped::new(s)
        .filter(|&c| !is_visual_sep(c))
        .map(|c| c.to_ascii_lowercase())
}

/// The first parameter named `name` in a raw parameter list.
/// `esc` must be set if `raw` or `name` may contain escapes.
#[inline]
fn find_param<'a>(raw: &'a [u8], name: &[u8], esc: bool) -> Option<Option<&'a [u8]>> {
    UriParams { rest: raw }
        .find(|p| ci_eq(p.name, name, esc))
        .map(|p| p.value)
}

// ----- the URI -----

/// A URI scheme. `sip`, `sips` and `tel` are recognised case-insensitively;
/// any other scheme is kept as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme<'a> {
    Sip,
    Sips,
    Tel,
    Other(&'a [u8]),
}

impl<'a> Scheme<'a> {
    /// The scheme name (lower case for the known ones, as written otherwise).
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        match *self {
            Scheme::Sip => b"sip",
            Scheme::Sips => b"sips",
            Scheme::Tel => b"tel",
            Scheme::Other(s) => s,
        }
    }
}

/// A parsed URI borrowing the bytes it was parsed from.
///
/// * `host` is `Some` exactly for `sip:` and `sips:` URIs; a `tel:` URI and
///   an opaque URI have no host and no port.
/// * `user` is the SIP user part, or the tel number (as written, with its
///   visual separators and escapes).
/// * The derived `PartialEq` compares the parts as written; use
///   [`Uri::equals`] for RFC 3261 19.1.4 / RFC 3966 equivalence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uri<'a> {
    /// The whole URI as written.
    pub raw: &'a [u8],
    pub scheme: Scheme<'a>,
    user: Option<&'a [u8]>,
    password: Option<&'a [u8]>,
    host: Option<Host<'a>>,
    port: Option<u16>,
    /// Parameters without the leading `;` (validated), empty if none.
    params: &'a [u8],
    /// Headers without the leading `?` (validated), empty if none.
    headers: &'a [u8],
    /// Whether `params` holds a `%` escape.
    params_esc: bool,
}

impl<'a> Uri<'a> {
    /// Parses and validates a URI. Errors carry `Where::Uri` and a byte
    /// offset into `s`.
    pub fn parse(s: &'a [u8], limits: &Limits) -> Result<Uri<'a>> {
        if s.len() > limits.max_uri {
            return Err(uerr(Fault::TooLong, limits.max_uri));
        }
        let (scheme, body) = parse_scheme(s)?;
        match scheme {
            Scheme::Sip | Scheme::Sips => parse_sip(s, scheme, body, limits),
            Scheme::Tel => parse_tel(s, body, limits),
            Scheme::Other(_) => {
                if body >= s.len() {
                    return Err(uerr(Fault::Empty, body));
                }
                let end = scan_class(s, body, C_URIC)?;
                if end != s.len() {
                    return Err(uerr(Fault::BadChar, end));
                }
                Ok(Uri {
                    raw: s,
                    scheme,
                    user: None,
                    password: None,
                    host: None,
                    port: None,
                    params: &[],
                    headers: &[],
                    params_esc: false,
                })
            }
        }
    }

    // ----- scheme -----

    /// `sip:` or `sips:`.
    #[inline]
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    #[inline]
    pub fn is_sips(&self) -> bool {
        self.scheme == Scheme::Sips
    }

    #[inline]
    pub fn is_tel(&self) -> bool {
        self.scheme == Scheme::Tel
    }

    /// Everything after `scheme:` as written.
    #[inline]
    pub fn opaque(&self) -> &'a [u8] {
        tail(self.raw, self.scheme.as_bytes().len() + 1)
    }

    // ----- userinfo, host, port -----

    /// The user part as written (still escaped), or the tel number.
    #[inline]
    pub fn user(&self) -> Option<&'a [u8]> {
        self.user
    }

    /// The password as written (`Some(b"")` for `user:@host`).
    #[inline]
    pub fn password(&self) -> Option<&'a [u8]> {
        self.password
    }

    /// The host of a SIP or SIPS URI; `None` for tel and opaque URIs.
    #[inline]
    pub fn host(&self) -> Option<Host<'a>> {
        self.host
    }

    /// The explicit port, if any.
    #[inline]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The explicit port, or 5061 for `sips:` or `transport=tls`, else 5060.
    /// (Meaningless for tel and opaque URIs, which have no port.)
    #[inline]
    pub fn port_or_default(&self) -> u16 {
        match self.port {
            Some(p) => p,
            None if self.is_sips() => 5061,
            None if self
                .transport()
                .is_some_and(|t| t.eq_ignore_ascii_case(b"tls")) =>
            {
                5061
            }
            None => 5060,
        }
    }

    // ----- parameters -----

    /// The parameters as written, without the leading `;`.
    #[inline]
    pub fn params_raw(&self) -> &'a [u8] {
        self.params
    }

    /// Iterates the parameters in order (names and values as written).
    #[inline]
    pub fn params(&self) -> UriParams<'a> {
        UriParams { rest: self.params }
    }

    /// The first parameter with this name (case-insensitive, escapes
    /// resolved): `None` if absent, `Some(None)` if present without value.
    #[inline]
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        if self.params.is_empty() {
            return None;
        }
        find_param(self.params, name, self.params_esc || name.contains(&b'%'))
    }

    #[inline]
    pub fn has_param(&self, name: &[u8]) -> bool {
        self.param(name).is_some()
    }

    /// The value of a parameter that takes one (`None` if absent or
    /// valueless).
    #[inline]
    fn param_value(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.param(name).flatten()
    }

    /// `transport=` (as written, e.g. `tcp`, `TLS`, `ws`).
    #[inline]
    pub fn transport(&self) -> Option<&'a [u8]> {
        self.param_value(b"transport")
    }

    /// `user=` (e.g. `phone`, `ip`, `dialstring`).
    #[inline]
    pub fn user_param(&self) -> Option<&'a [u8]> {
        self.param_value(b"user")
    }

    /// `method=`.
    #[inline]
    pub fn method(&self) -> Option<&'a [u8]> {
        self.param_value(b"method")
    }

    /// `ttl=` as a number; `None` if absent or not a 1..3-digit value
    /// in 0..=255.
    #[inline]
    pub fn ttl(&self) -> Option<u8> {
        let v = self.param_value(b"ttl")?;
        if v.is_empty() || v.len() > 3 {
            return None;
        }
        let mut n: u16 = 0;
        for &c in v {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u16::from(c - b'0');
        }
        u8::try_from(n).ok()
    }

    /// `maddr=` as written.
    #[inline]
    pub fn maddr(&self) -> Option<&'a [u8]> {
        self.param_value(b"maddr")
    }

    /// `maddr=` parsed as a host; `None` if absent or not a valid host.
    #[inline]
    pub fn maddr_host(&self) -> Option<Host<'a>> {
        Host::parse(self.maddr()?, Where::Uri).ok()
    }

    /// Whether the `lr` parameter is present (with any value, for the old
    /// `lr=on` form).
    #[inline]
    pub fn lr(&self) -> bool {
        self.has_param(b"lr")
    }

    // ----- headers -----

    /// The headers as written, without the leading `?`.
    #[inline]
    pub fn headers_raw(&self) -> &'a [u8] {
        self.headers
    }

    /// Iterates the `?name=value&...` headers (as written, still escaped).
    #[inline]
    pub fn headers(&self) -> UriHeaders<'a> {
        UriHeaders { rest: self.headers }
    }

    /// The value of the first header with this name (case-insensitive).
    #[inline]
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.headers()
            .find(|(n, _)| name_eq(n, name))
            .map(|(_, v)| v)
    }

    // ----- comparison -----

    /// URI equivalence: RFC 3261 19.1.4 for SIP and SIPS, RFC 3966 4 for
    /// tel. Opaque URIs are equal when their schemes are equal ignoring case
    /// and the rest is equal after unescaping.
    ///
    /// For `?headers`, every header of either URI must be present in the
    /// other with the same value; names are compared case-insensitively,
    /// values exactly (after unescaping).
    pub fn equals(&self, other: &Uri<'_>) -> bool {
        match (self.scheme, other.scheme) {
            (Scheme::Sip, Scheme::Sip) | (Scheme::Sips, Scheme::Sips) => self.sip_equals(other),
            (Scheme::Tel, Scheme::Tel) => self.tel_equals(other),
            (Scheme::Other(a), Scheme::Other(b)) => {
                a.eq_ignore_ascii_case(b) && eq_unesc(self.opaque(), other.opaque(), false)
            }
            _ => false,
        }
    }

    fn sip_equals(&self, o: &Uri<'_>) -> bool {
        let opt_eq = |a: Option<&[u8]>, b: Option<&[u8]>| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => eq_unesc(a, b, false),
            _ => false,
        };
        if !opt_eq(self.user, o.user) || !opt_eq(self.password, o.password) {
            return false;
        }
        match (&self.host, &o.host) {
            (Some(a), Some(b)) if a.eq_host(b) => {}
            _ => return false,
        }
        if self.port != o.port {
            return false;
        }
        // `user`, `ttl`, `method`, `maddr` and `transport` must match when
        // present in either URI; any other parameter is compared only when
        // present in both.
        let esc = self.params_esc || o.params_esc;
        if !(self.params.is_empty() && o.params.is_empty()) {
            let (mut ba, mut bb) = ([NO_PARAM; CMP_STACK], [NO_PARAM; CMP_STACK]);
            let same = match (
                split_params(self.params, &mut ba),
                split_params(o.params, &mut bb),
            ) {
                (Some(a), Some(b)) => sip_params_eq(a.iter().copied(), b.iter().copied(), esc),
                _ => sip_params_eq(self.params(), o.params(), esc),
            };
            if !same {
                return false;
            }
        }
        if self.headers.is_empty() && o.headers.is_empty() {
            return true;
        }
        headers_subset(self.headers, o.headers) && headers_subset(o.headers, self.headers)
    }

    fn tel_equals(&self, o: &Uri<'_>) -> bool {
        let a = self.user.unwrap_or(&[]);
        let b = o.user.unwrap_or(&[]);
        if (a.first() == Some(&b'+')) != (b.first() == Some(&b'+')) || !digits_eq(a, b) {
            return false;
        }
        let esc = self.params_esc || o.params_esc;
        let (mut ba, mut bb) = ([NO_PARAM; CMP_STACK], [NO_PARAM; CMP_STACK]);
        match (
            split_params(self.params, &mut ba),
            split_params(o.params, &mut bb),
        ) {
            (Some(a), Some(b)) => {
                let (a, b) = (a.iter().copied(), b.iter().copied());
                tel_params_subset(a.clone(), b.clone(), esc) && tel_params_subset(b, a, esc)
            }
            _ => {
                tel_params_subset(self.params(), o.params(), esc)
                    && tel_params_subset(o.params(), self.params(), esc)
            }
        }
    }
}

/// The URI parameters that RFC 3261 19.1.4 compares even when only one URI
/// has them.
#[inline]
fn is_strict_param(name: &[u8], esc: bool) -> bool {
    if esc {
        return [&b"user"[..], b"ttl", b"method", b"maddr", b"transport"]
            .iter()
            .any(|s| name_eq(name, s));
    }
    let strict: &[u8] = match name.len() {
        3 => b"ttl",
        4 => b"user",
        5 => b"maddr",
        6 => b"method",
        9 => b"transport",
        _ => return false,
    };
    name.eq_ignore_ascii_case(strict)
}

/// Every header of `a` is in `b` with the same value.
fn headers_subset(a: &[u8], b: &[u8]) -> bool {
    UriHeaders { rest: a }.all(|(n, v)| {
        UriHeaders { rest: b }.any(|(n2, v2)| name_eq(n, n2) && eq_unesc(v, v2, false))
    })
}

/// Parameter lists up to this long are split once onto the stack for a
/// comparison; longer ones are walked in place.
const CMP_STACK: usize = 8;

const NO_PARAM: Param<'static> = Param {
    name: &[],
    value: None,
};

/// Splits a raw parameter list into `buf`; `None` if it does not fit.
#[inline]
fn split_params<'a, 'b>(
    raw: &'a [u8],
    buf: &'b mut [Param<'a>; CMP_STACK],
) -> Option<&'b [Param<'a>]> {
    let mut n = 0;
    for p in (UriParams { rest: raw }) {
        *buf.get_mut(n)? = p;
        n += 1;
    }
    buf.get(..n)
}

/// Whether `p`, the `k`-th parameter of `list`, repeats an earlier name. A
/// repeated parameter is only looked at in its first occurrence, which keeps
/// [`Uri::equals`] reflexive and symmetric.
#[inline]
fn repeated<'x, I>(list: &I, k: usize, p: &Param<'_>, esc: bool) -> bool
where
    I: Iterator<Item = Param<'x>> + Clone,
{
    k > 0 && list.clone().take(k).any(|q| ci_eq(q.name, p.name, esc))
}

/// RFC 3261 19.1.4 parameter rules: the strict parameters must match when
/// present in either list, the others when present in both.
fn sip_params_eq<'x, I>(a: I, b: I, esc: bool) -> bool
where
    I: Iterator<Item = Param<'x>> + Clone,
{
    for (k, p) in a.clone().enumerate() {
        if repeated(&a, k, &p, esc) {
            continue;
        }
        match b.clone().find(|q| ci_eq(q.name, p.name, esc)) {
            Some(q) => {
                if !value_eq_ci(p.value, q.value, esc) {
                    return false;
                }
            }
            None => {
                if is_strict_param(p.name, esc) {
                    return false;
                }
            }
        }
    }
    b.clone()
        .all(|q| a.clone().any(|p| ci_eq(p.name, q.name, esc)) || !is_strict_param(q.name, esc))
}

/// Every parameter of tel URI `a` is in `b` with an equal value (first
/// occurrences only), as RFC 3966 4 compares them.
fn tel_params_subset<'x, I>(a: I, b: I, esc: bool) -> bool
where
    I: Iterator<Item = Param<'x>> + Clone,
{
    for (k, p) in a.clone().enumerate() {
        if repeated(&a, k, &p, esc) {
            continue;
        }
        let Some(q) = b.clone().find(|q| ci_eq(q.name, p.name, esc)) else {
            return false;
        };
        let same = match (p.value, q.value) {
            (None, None) => true,
            (Some(x), Some(y)) => {
                let digits = ci_eq(p.name, b"ext", esc)
                    || (ci_eq(p.name, b"phone-context", esc)
                        && x.first() == Some(&b'+')
                        && y.first() == Some(&b'+'));
                if digits {
                    digits_eq(x, y)
                } else {
                    ci_eq(x, y, esc)
                }
            }
            _ => false,
        };
        if !same {
            return false;
        }
    }
    true
}

/// Iterator over URI parameters (`lex::Param`, value `None` when the
/// parameter has no `=`). Names and values are as written (escaped).
#[derive(Clone, Debug)]
pub struct UriParams<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for UriParams<'a> {
    type Item = Param<'a>;

    #[inline]
    fn next(&mut self) -> Option<Param<'a>> {
        while !self.rest.is_empty() {
            // One pass: the end of the parameter and its first '='.
            let mut end = self.rest.len();
            let mut eq = None;
            for (k, &c) in self.rest.iter().enumerate() {
                if c == b';' {
                    end = k;
                    break;
                }
                if c == b'=' && eq.is_none() {
                    eq = Some(k);
                }
            }
            let (item, rest) = split_around(self.rest, end);
            self.rest = rest;
            if item.is_empty() {
                continue;
            }
            return Some(match eq {
                Some(k) => {
                    let (name, value) = split_around(item, k);
                    Param {
                        name,
                        value: Some(value),
                    }
                }
                None => Param {
                    name: item,
                    value: None,
                },
            });
        }
        None
    }
}

/// Iterator over URI headers as `(name, value)`, as written (escaped).
#[derive(Clone, Debug)]
pub struct UriHeaders<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for UriHeaders<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            let (item, rest) = match self.rest.iter().position(|&c| c == b'&') {
                Some(k) => split_around(self.rest, k),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            if item.is_empty() {
                continue;
            }
            return Some(match item.iter().position(|&c| c == b'=') {
                Some(k) => split_around(item, k),
                None => (item, &[][..]),
            });
        }
        None
    }
}

// ----- the parser -----

/// Reads `scheme:`. Returns the scheme and the offset just past the colon.
#[inline]
fn parse_scheme(s: &[u8]) -> Result<(Scheme<'_>, usize)> {
    if s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"sip:")) {
        return Ok((Scheme::Sip, 4));
    }
    if s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case(b"sips:")) {
        return Ok((Scheme::Sips, 5));
    }
    if s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"tel:")) {
        return Ok((Scheme::Tel, 4));
    }
    match s.first() {
        None => return Err(uerr(Fault::Empty, 0)),
        Some(c) if c.is_ascii_alphabetic() => {}
        Some(_) => return Err(uerr(Fault::BadChar, 0)),
    }
    let mut i = 1;
    while s.get(i).is_some_and(|&c| is_class(c, C_SCHEME)) {
        i += 1;
    }
    match s.get(i) {
        Some(b':') => Ok((Scheme::Other(sub(s, 0, i)), i + 1)),
        Some(_) => Err(uerr(Fault::BadChar, i)),
        None => Err(uerr(Fault::Malformed, i)),
    }
}

/// `sip:` / `sips:` after the scheme, which ends at `b`.
fn parse_sip<'a>(s: &'a [u8], scheme: Scheme<'a>, b: usize, limits: &Limits) -> Result<Uri<'a>> {
    // userinfo. The user part may hold ';' and '?', so whether there is a
    // userinfo is only known at its '@': scan as if there were one, and if
    // the scan stops anywhere else, there is none (an '@' further on would
    // be invalid wherever it is).
    let u_end = scan_class(s, b, C_USER)?;
    let (user, password, hp_start) = match s.get(u_end) {
        Some(b'@') => (Some(sub(s, b, u_end)), None, u_end + 1),
        Some(b':') => {
            let p_end = scan_class(s, u_end + 1, C_PASS)?;
            if s.get(p_end) == Some(&b'@') {
                (
                    Some(sub(s, b, u_end)),
                    Some(sub(s, u_end + 1, p_end)),
                    p_end + 1,
                )
            } else {
                (None, None, b)
            }
        }
        _ => (None, None, b),
    };
    if user.is_some_and(<[u8]>::is_empty) {
        return Err(uerr(Fault::Empty, b));
    }

    // host: a bracketed IPv6 reference, or up to ':', ';', '?' or the end.
    let (h_end, host) = if s.get(hp_start) == Some(&b'[') {
        let mut k = hp_start + 1;
        loop {
            match s.get(k) {
                Some(b']') => break,
                Some(_) => k += 1,
                None => return Err(uerr(Fault::Unclosed, hp_start)),
            }
        }
        let h = sub(s, hp_start, k + 1);
        (
            k + 1,
            Host::parse(h, Where::Uri).map_err(|e| shift(e, hp_start))?,
        )
    } else {
        let mut k = hp_start;
        while s.get(k).is_some_and(|c| !matches!(c, b':' | b';' | b'?')) {
            k += 1;
        }
        let h = sub(s, hp_start, k);
        (
            k,
            Host::parse(h, Where::Uri).map_err(|e| shift(e, hp_start))?,
        )
    };
    // port
    let mut hp_end = h_end;
    let mut port = None;
    if s.get(h_end) == Some(&b':') {
        let ps = h_end + 1;
        hp_end = ps;
        while s.get(hp_end).is_some_and(|c| !matches!(c, b';' | b'?')) {
            hp_end += 1;
        }
        port = Some(host::parse_port(sub(s, ps, hp_end), Where::Uri, ps)?);
    }
    match s.get(hp_end) {
        None | Some(b';' | b'?') => {}
        Some(_) => return Err(uerr(Fault::BadChar, hp_end)),
    }

    let mut i = hp_end;
    let mut params: &[u8] = &[];
    let mut params_esc = false;
    if s.get(i) == Some(&b';') {
        let (end, esc) = scan_params(s, i, limits.max_params, true)?;
        params = sub(s, i + 1, end);
        params_esc = esc;
        i = end;
    }
    let mut headers: &[u8] = &[];
    if s.get(i) == Some(&b'?') {
        scan_headers(s, i + 1, limits.max_params)?;
        headers = tail(s, i + 1);
    }
    Ok(Uri {
        raw: s,
        scheme,
        user,
        password,
        host: Some(host),
        port,
        params,
        headers,
        params_esc,
    })
}

/// Validates `;name[=value]...` starting at `s[i] == ';'`. Stops at the end,
/// or at `?` when `headers` is allowed; returns that offset and whether an
/// escape was seen.
fn scan_params(s: &[u8], mut i: usize, max: usize, headers: bool) -> Result<(usize, bool)> {
    let mut n = 0usize;
    let mut esc = false;
    loop {
        match s.get(i) {
            None => return Ok((i, esc)),
            Some(b';') => {}
            Some(b'?') if headers => return Ok((i, esc)),
            Some(_) => return Err(uerr(Fault::BadChar, i)),
        }
        i += 1;
        n += 1;
        if n > max {
            return Err(uerr(Fault::TooMany, i));
        }
        let name_start = i;
        i = scan_class_esc(s, i, C_PARAM, &mut esc)?;
        if i == name_start {
            return Err(uerr(Fault::Empty, i));
        }
        if s.get(i) == Some(&b'=') {
            // RFC 3261 wants 1*paramchar; an empty value is tolerated.
            i = scan_class_esc(s, i + 1, C_PARAM, &mut esc)?;
        }
    }
}

/// Validates `hname=hvalue *(& hname=hvalue)` from `i` to the end.
fn scan_headers(s: &[u8], mut i: usize, max: usize) -> Result<()> {
    let mut n = 0usize;
    loop {
        n += 1;
        if n > max {
            return Err(uerr(Fault::TooMany, i));
        }
        let name_start = i;
        i = scan_class(s, i, C_HNV)?;
        if i == name_start {
            return Err(uerr(Fault::Empty, i));
        }
        match s.get(i) {
            Some(b'=') => {}
            Some(_) => return Err(uerr(Fault::BadChar, i)),
            None => return Err(uerr(Fault::Malformed, i)),
        }
        i = scan_class(s, i + 1, C_HNV)?;
        match s.get(i) {
            None => return Ok(()),
            Some(b'&') => i += 1,
            Some(_) => return Err(uerr(Fault::BadChar, i)),
        }
    }
}

/// `tel:` after the scheme, which ends at `b` (RFC 3966).
fn parse_tel<'a>(s: &'a [u8], b: usize, limits: &Limits) -> Result<Uri<'a>> {
    let mut n_end = b;
    while s.get(n_end).is_some_and(|&c| c != b';') {
        n_end += 1;
    }
    let number = sub(s, b, n_end);
    let global = match number.first() {
        None => return Err(uerr(Fault::Empty, b)),
        Some(b'+') => {
            // global-number-digits = "+" *phonedigit DIGIT *phonedigit
            let mut digits = 0usize;
            for (k, &c) in number.iter().enumerate().skip(1) {
                if c.is_ascii_digit() {
                    digits += 1;
                } else if !is_visual_sep(c) {
                    return Err(uerr(Fault::BadChar, b + k));
                }
            }
            if digits == 0 {
                return Err(uerr(Fault::Malformed, b));
            }
            true
        }
        Some(_) => {
            // local-number-digits: hex digits, '*', '#', separators; '#'
            // (and anything else) may also come escaped.
            let mut digits = 0usize;
            let mut i = b;
            while i < n_end {
                let Some(&c) = s.get(i) else { break };
                if c.is_ascii_hexdigit() || c == b'*' || c == b'#' {
                    digits += 1;
                    i += 1;
                } else if is_visual_sep(c) {
                    i += 1;
                } else if c == b'%' && is_escape(s, i) {
                    digits += 1;
                    i += 3;
                } else {
                    return Err(uerr(Fault::BadChar, i));
                }
            }
            if digits == 0 {
                return Err(uerr(Fault::Malformed, b));
            }
            false
        }
    };
    let mut params: &[u8] = &[];
    let mut params_esc = false;
    if s.get(n_end) == Some(&b';') {
        let (end, esc) = scan_params(s, n_end, limits.max_params, false)?;
        params = sub(s, n_end + 1, end);
        params_esc = esc;
    }
    if !global {
        match find_param(params, b"phone-context", params_esc) {
            Some(Some(v)) if !v.is_empty() => {}
            Some(_) => return Err(uerr(Fault::Malformed, n_end)),
            None => return Err(uerr(Fault::Missing, n_end)),
        }
    }
    Ok(Uri {
        raw: s,
        scheme: Scheme::Tel,
        user: Some(number),
        password: None,
        host: None,
        port: None,
        params,
        headers: &[],
        params_esc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn p(s: &str) -> Uri<'_> {
        match Uri::parse(s.as_bytes(), &Limits::DEFAULT) {
            Ok(u) => u,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn fault(s: &[u8]) -> (Fault, u32) {
        match Uri::parse(s, &Limits::DEFAULT) {
            Ok(u) => panic!("{:?} parsed: {u:?}", String::from_utf8_lossy(s)),
            Err(e) => {
                assert_eq!(e.what, Where::Uri);
                (e.fault, e.at)
            }
        }
    }

    fn eq(a: &str, b: &str) -> bool {
        let (a, b) = (p(a), p(b));
        let r = a.equals(&b);
        assert_eq!(r, b.equals(&a), "equals is not symmetric");
        r
    }

    #[test]
    fn rfc3261_examples() {
        let u = p("sip:alice@atlanta.com");
        assert_eq!(u.scheme, Scheme::Sip);
        assert_eq!(u.user(), Some(&b"alice"[..]));
        assert_eq!(u.password(), None);
        assert_eq!(u.host(), Some(Host::Name(b"atlanta.com")));
        assert_eq!(u.port(), None);
        assert_eq!(u.port_or_default(), 5060);
        assert_eq!(u.params().count(), 0);

        let u = p("sip:alice:secretword@atlanta.com;transport=tcp");
        assert_eq!(u.user(), Some(&b"alice"[..]));
        assert_eq!(u.password(), Some(&b"secretword"[..]));
        assert_eq!(u.transport(), Some(&b"tcp"[..]));
        assert_eq!(u.params_raw(), b"transport=tcp");

        let u = p("sips:alice@atlanta.com?subject=project%20x&priority=urgent");
        assert!(u.is_sips());
        assert_eq!(u.port_or_default(), 5061);
        let h: Vec<_> = u.headers().collect();
        assert_eq!(
            h,
            vec![
                (&b"subject"[..], &b"project%20x"[..]),
                (&b"priority"[..], &b"urgent"[..])
            ]
        );
        assert_eq!(u.header(b"Subject"), Some(&b"project%20x"[..]));
        assert_eq!(unescape(u.header(b"subject").unwrap()), &b"project x"[..]);

        let u = p("sip:+1-212-555-1212:1234@gateway.com;user=phone");
        assert_eq!(u.user(), Some(&b"+1-212-555-1212"[..]));
        assert_eq!(u.password(), Some(&b"1234"[..]));
        assert_eq!(u.user_param(), Some(&b"phone"[..]));

        let u = p("sips:1212@gateway.com");
        assert_eq!(u.user(), Some(&b"1212"[..]));
        assert_eq!(u.host(), Some(Host::Name(b"gateway.com")));

        let u = p("sip:alice@192.0.2.4");
        assert_eq!(u.host(), Some(Host::V4(Ipv4Addr::new(192, 0, 2, 4))));

        let u = p("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com");
        assert_eq!(u.user(), None);
        assert_eq!(u.host(), Some(Host::Name(b"atlanta.com")));
        assert_eq!(u.method(), Some(&b"REGISTER"[..]));
        assert_eq!(u.header(b"to"), Some(&b"alice%40atlanta.com"[..]));

        let u = p("sip:alice;day=tuesday@atlanta.com");
        assert_eq!(u.user(), Some(&b"alice;day=tuesday"[..]));
        assert_eq!(u.host(), Some(Host::Name(b"atlanta.com")));
        assert!(u.params_raw().is_empty());
    }

    #[test]
    fn parameters() {
        let u = p("sip:p1.example.com:5070;LR;maddr=239.255.255.1;ttl=15;x-y=%41b;flag");
        assert_eq!(u.port(), Some(5070));
        assert!(u.lr());
        assert_eq!(u.maddr(), Some(&b"239.255.255.1"[..]));
        assert_eq!(
            u.maddr_host(),
            Some(Host::V4(Ipv4Addr::new(239, 255, 255, 1)))
        );
        assert_eq!(u.ttl(), Some(15));
        assert_eq!(u.param(b"X-Y"), Some(Some(&b"%41b"[..])));
        assert_eq!(u.param(b"flag"), Some(None));
        assert_eq!(u.param(b"nope"), None);
        let names: Vec<_> = u.params().map(|p| p.name).collect();
        assert_eq!(names, vec![&b"LR"[..], b"maddr", b"ttl", b"x-y", b"flag"]);
        // Escaped parameter names are found too.
        assert!(p("sip:a.com;%6cr").lr());
        assert!(p("sip:a.com;lr=on").lr());
        assert!(!p("sip:a.com;lrx").lr());
        assert_eq!(p("sip:a.com;ttl=256").ttl(), None);
        assert_eq!(p("sip:a.com;transport=TLS").port_or_default(), 5061);
        assert_eq!(p("sip:a.com:5080;transport=TLS").port_or_default(), 5080);
        // IPv6 in maddr.
        let u = p("sip:a.com;maddr=[2001:db8::1]");
        assert!(matches!(u.maddr_host(), Some(Host::V6(..))));
    }

    #[test]
    fn ipv6_hosts() {
        let u = p("sip:alice@[2001:db8::10]");
        assert!(matches!(u.host(), Some(Host::V6(_, b"[2001:db8::10]"))));
        assert_eq!(u.port(), None);
        let u = p("sip:alice@[2001:db8::10]:5070;lr");
        assert!(matches!(u.host(), Some(Host::V6(..))));
        assert_eq!(u.port(), Some(5070));
        assert!(u.lr());
        let u = p("sips:[::1]:5061?x=y");
        assert_eq!(u.port(), Some(5061));
        assert_eq!(u.header(b"x"), Some(&b"y"[..]));
        assert_eq!(fault(b"sip:alice@[2001:db8::10"), (Fault::Unclosed, 10));
        assert_eq!(fault(b"sip:[::1]x").0, Fault::BadChar);
        assert_eq!(fault(b"sip:[::1]:").0, Fault::BadNumber);
        assert_eq!(fault(b"sip:[zz::1]").0, Fault::Malformed);
    }

    #[test]
    fn tel_uris() {
        let u = p("tel:+1-201-555-0123");
        assert!(u.is_tel());
        assert_eq!(u.user(), Some(&b"+1-201-555-0123"[..]));
        assert_eq!(u.host(), None);
        assert_eq!(u.port(), None);
        let u = p("tel:7042;phone-context=example.com");
        assert_eq!(u.user(), Some(&b"7042"[..]));
        assert_eq!(u.param(b"phone-context"), Some(Some(&b"example.com"[..])));
        let u = p("TEL:863-1234;phone-context=+1-914-555");
        assert_eq!(u.scheme, Scheme::Tel);
        let u = p("tel:+1-212-555-0101;ext=22;isub=12%34");
        assert_eq!(u.param(b"ext"), Some(Some(&b"22"[..])));
        p("tel:*21%23;phone-context=+1");
        // A local number needs a context.
        assert_eq!(fault(b"tel:7042").0, Fault::Missing);
        assert_eq!(fault(b"tel:7042;phone-context=").0, Fault::Malformed);
        assert_eq!(fault(b"tel:").0, Fault::Empty);
        assert_eq!(fault(b"tel:+").0, Fault::Malformed);
        assert_eq!(fault(b"tel:+1 212"), (Fault::BadChar, 6));
        assert_eq!(fault(b"tel:+1212?x=y").0, Fault::BadChar);
        assert_eq!(fault(b"tel:+1212;;a").0, Fault::Empty);
    }

    #[test]
    fn other_schemes_are_opaque() {
        let u = p("mailto:bob@example.com");
        assert_eq!(u.scheme, Scheme::Other(b"mailto"));
        assert_eq!(u.opaque(), b"bob@example.com");
        assert_eq!(u.host(), None);
        let u = p("http://www.example.com/alice/photo.jpg?x=1&y=2");
        assert_eq!(u.scheme.as_bytes(), b"http");
        p("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
        assert_eq!(fault(b"http:"), (Fault::Empty, 5));
        assert_eq!(fault(b"http://a b"), (Fault::BadChar, 8));
        assert_eq!(fault(b"mailto:a<b"), (Fault::BadChar, 8));
    }

    #[test]
    fn equivalent_pairs() {
        // RFC 3261 19.1.4 equivalent forms, and more of the same kind.
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq(
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eq(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
        assert!(eq("SIP:bob@[::1]:5060", "sip:bob@[0:0::1]:5060"));
        assert!(eq("sip:bob:pw%21@a.com", "sip:bob:pw!@a.com"));
        assert!(eq("sip:bob@a.com;x=AbC", "sip:bob@a.com;X=abc"));
        assert!(eq(
            "sip:bob@a.com;%6Dethod=invite",
            "sip:bob@a.com;method=INVITE"
        ));
        assert!(eq("sip:bob@a.com;lr", "sip:bob@a.com"));
        assert!(eq("sip:bob@a.com?Subject=x", "sip:bob@a.com?subject=x"));
    }

    #[test]
    fn non_equivalent_pairs() {
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
        assert!(!eq("sip:bob@a.com", "sips:bob@a.com"));
        assert!(!eq("sip:bob@a.com", "sip:a.com"));
        assert!(!eq("sip:bob:x@a.com", "sip:bob@a.com"));
        assert!(!eq("sip:bob:x@a.com", "sip:bob:X@a.com"));
        assert!(!eq("sip:bob@a.com;user=phone", "sip:bob@a.com"));
        assert!(!eq("sip:bob@a.com;ttl=1", "sip:bob@a.com"));
        assert!(!eq("sip:bob@a.com;maddr=1.2.3.4", "sip:bob@a.com"));
        assert!(!eq("sip:bob@a.com;method=INVITE", "sip:bob@a.com"));
        assert!(!eq("sip:bob@a.com;x=1", "sip:bob@a.com;x=2"));
        assert!(!eq("sip:bob@a.com;x", "sip:bob@a.com;x=2"));
        assert!(!eq("sip:bob@a.com?a=1", "sip:bob@a.com?a=2"));
        assert!(!eq("sip:bob@a.com?a=1", "sip:bob@a.com?a=1&b=2"));
        assert!(!eq("sip:bob@a.com", "tel:+1234"));
        assert!(!eq("sip:bob@a.com", "mailto:bob@a.com"));
    }

    #[test]
    fn repeated_params_keep_equals_symmetric() {
        let pairs = [
            ("sip:a.com;x=1;x=2", "sip:a.com;x=1"),
            ("sip:a.com;x=1;x=2", "sip:a.com;x=2"),
            ("sip:a.com;x=1;X=2", "sip:a.com;x=1;x=3"),
            ("tel:+1;x=1;x=2", "tel:+1;x=1"),
            ("tel:+1;x=1;x=2", "tel:+1;x=1;x=3"),
        ];
        for (a, b) in pairs {
            let (a, b) = (p(a), p(b));
            assert!(a.equals(&a) && b.equals(&b));
            assert_eq!(a.equals(&b), b.equals(&a));
        }
        assert!(eq("sip:a.com;x=1;x=2", "sip:a.com;x=1"));
        assert!(!eq("sip:a.com;x=1;x=2", "sip:a.com;x=2"));
        // Long lists (compared in place rather than on the stack).
        let long = "sip:a.com;a;b;c;d;e;f;g;h;i;transport=tcp";
        assert!(eq(long, "sip:a.com;transport=TCP;i;h;x=1"));
        assert!(!eq(long, "sip:a.com;i=2;transport=tcp"));
        assert!(!eq(long, "sip:a.com;a;b;c;d;e;f;g;h;i"));
        assert!(eq("tel:+1;a;b;c;d;e;f;g;h;i", "tel:+1;i;h;g;f;e;d;c;b;a"));
        assert!(!eq("tel:+1;a;b;c;d;e;f;g;h;i", "tel:+1;i;h;g;f;e;d;c;b"));
        assert!(!eq(
            "tel:+1;a;b;c;d;e;f;g;h;i",
            "tel:+1;i;h;g;f;e;d;c;b;a;j"
        ));
    }

    #[test]
    fn tel_equivalence() {
        assert!(eq("tel:+1-201-555-0123", "tel:+1(201)5550123"));
        assert!(eq("tel:+1.201.555.0123", "TEL:+12015550123"));
        assert!(eq(
            "tel:7042;phone-context=Example.COM",
            "tel:70-42;phone-context=example.com"
        ));
        assert!(eq(
            "tel:7042;phone-context=+1-914",
            "tel:7042;phone-context=+1914"
        ));
        assert!(eq("tel:+1234;ext=1-2;foo=bar", "tel:+1234;FOO=BAR;ext=12"));
        assert!(eq("tel:abc;phone-context=+1", "tel:ABC;phone-context=+1"));
        assert!(!eq("tel:+1234", "tel:1234;phone-context=+1"));
        assert!(!eq("tel:+1234", "tel:+12345"));
        assert!(!eq("tel:+1234", "tel:+1234;foo=bar"));
        assert!(!eq("tel:+1234;foo=baz", "tel:+1234;foo=bar"));
        assert!(!eq(
            "tel:7042;phone-context=example.com",
            "tel:7042;phone-context=examplecom"
        ));
    }

    #[test]
    fn opaque_equivalence() {
        assert!(eq("MAILTO:bob@a.com", "mailto:bob@%61.com"));
        assert!(!eq("mailto:bob@a.com", "mailto:Bob@a.com"));
    }

    #[test]
    fn unescaping() {
        assert!(matches!(unescape(b"alice"), Cow::Borrowed(b"alice")));
        assert_eq!(unescape(b"%61lice%2Fx"), &b"alice/x"[..]);
        // Invalid escapes are left alone.
        assert_eq!(unescape(b"a%zz%4"), &b"a%zz%4"[..]);
    }

    #[test]
    fn bad_inputs() {
        let cases: &[(&[u8], Fault, u32)] = &[
            (b"sip:%4@a.com", Fault::BadChar, 4),
            (b"sip:al%4", Fault::BadChar, 6),
            (b"sip:%zz@a.com", Fault::BadChar, 4),
            (b"sip:a.com;x=%g1", Fault::BadChar, 12),
            (b"sip:a.com?x=%", Fault::BadChar, 12),
            (b"sip:alice @a.com", Fault::BadChar, 9),
            (b"sip:alice@a.com x", Fault::BadChar, 15),
            (b"sip:alice@a .com", Fault::BadChar, 11),
            (b"sip:alice@a.com;x=a b", Fault::BadChar, 19),
            (b"sip:al\tice@a.com", Fault::BadChar, 6),
            (b"sip:alice@a.com\r\n", Fault::BadChar, 15),
            (b"sip:al\x01ice@a.com", Fault::BadChar, 6),
            (b"sip:al\xc3\xa9@a.com", Fault::BadChar, 6),
            (b"sip:@", Fault::Empty, 4),
            (b"sip:@a.com", Fault::Empty, 4),
            (b"sip:", Fault::Empty, 4),
            (b"sip:alice@", Fault::Empty, 10),
            (b"sip:alice@:5060", Fault::Empty, 10),
            (b"sip:alice@;lr", Fault::Empty, 10),
            (b"sip:a@b@c", Fault::BadChar, 7),
            (b"sip:a:b:c@d", Fault::BadNumber, 6),
            (b"sip:a.com:0", Fault::BadNumber, 10),
            (b"sip:a.com:70000", Fault::BadNumber, 10),
            (b"sip:a.com:a", Fault::BadNumber, 10),
            (b"sip:a.com:", Fault::BadNumber, 10),
            (b"sip:a.com:50a0", Fault::BadNumber, 12),
            (b"sip:[::1", Fault::Unclosed, 4),
            (b"sip:a.com;", Fault::Empty, 10),
            (b"sip:a.com;;lr", Fault::Empty, 10),
            (b"sip:a.com;=x", Fault::Empty, 10),
            (b"sip:a.com;a=b=c", Fault::BadChar, 13),
            (b"sip:a.com;a=<b>", Fault::BadChar, 12),
            (b"sip:a.com?", Fault::Empty, 10),
            (b"sip:a.com?x", Fault::Malformed, 11),
            (b"sip:a.com?=y", Fault::Empty, 10),
            (b"sip:a.com?x=y&", Fault::Empty, 14),
            (b"sip:a.com?x=<y>", Fault::BadChar, 12),
            (b"s_p:a.com", Fault::BadChar, 1),
            (b"1sip:a.com", Fault::BadChar, 0),
            (b":a.com", Fault::BadChar, 0),
            (b"sipalice", Fault::Malformed, 8),
            (b"", Fault::Empty, 0),
            (b"<sip:a.com>", Fault::BadChar, 0),
        ];
        for &(s, f, at) in cases {
            assert_eq!(fault(s), (f, at), "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_uri: 32,
            max_params: 3,
            ..Limits::DEFAULT
        };
        let long = format!("sip:{}@a.com", "a".repeat(40));
        assert_eq!(
            Uri::parse(long.as_bytes(), &limits).unwrap_err().fault,
            Fault::TooLong
        );
        assert!(Uri::parse(b"sip:a.com;a;b;c", &limits).is_ok());
        let e = Uri::parse(b"sip:a.com;a;b;c;d", &limits).unwrap_err();
        assert_eq!((e.what, e.fault), (Where::Uri, Fault::TooMany));
        let e = Uri::parse(b"sip:a.com?a=1&b=2&c=3&d=4", &limits).unwrap_err();
        assert_eq!(e.fault, Fault::TooMany);
        let e = Uri::parse(b"tel:+1;a;b;c;d", &limits).unwrap_err();
        assert_eq!(e.fault, Fault::TooMany);
        let big = format!("sip:a.com{}", ";x".repeat(100));
        assert_eq!(
            Uri::parse(big.as_bytes(), &Limits::DEFAULT)
                .unwrap_err()
                .fault,
            Fault::TooMany
        );
    }

    #[test]
    fn random_uris_compare_reflexively_and_symmetrically() {
        // A small deterministic generator over URI-ish bytes.
        const ALPHABET: &[u8] = b"sip:tel+@;=?&%41aAbB1.:[]-()x \t";
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut parsed: Vec<Vec<u8>> = Vec::new();
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let mut v = match next() % 3 {
                0 => b"sip:".to_vec(),
                1 => b"tel:".to_vec(),
                _ => Vec::new(),
            };
            for _ in 0..len {
                v.push(ALPHABET[(next() % ALPHABET.len() as u64) as usize]);
            }
            if Uri::parse(&v, &Limits::DEFAULT).is_ok() {
                parsed.push(v);
            }
        }
        assert!(parsed.len() > 100);
        let uris: Vec<_> = parsed
            .iter()
            .filter_map(|v| Uri::parse(v, &Limits::DEFAULT).ok())
            .collect();
        for (i, a) in uris.iter().enumerate() {
            assert!(a.equals(a));
            for b in uris.iter().skip(i + 1).take(50) {
                assert_eq!(a.equals(b), b.equals(a), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn no_panic_on_prefixes_and_junk() {
        let samples: &[&[u8]] = &[
            b"sips:alice:pw@[2001:db8::1]:5061;transport=tls;lr;maddr=[::1]?a=b&c=%41",
            b"tel:+1-201-555-0123;ext=1;phone-context=+1",
            b"tel:7042;phone-context=example.com",
            b"http://example.com/a?b",
        ];
        for s in samples {
            for n in 0..=s.len() {
                let _ = Uri::parse(&s[..n], &Limits::DEFAULT);
            }
            for n in 0..s.len() {
                let mut v = s.to_vec();
                for b in [0u8, b'%', b'@', b';', b'?', b'[', b']', b':', 0xff] {
                    v[n] = b;
                    if let Ok(u) = Uri::parse(&v, &Limits::DEFAULT) {
                        assert!(u.equals(&u.clone()), "{:?}", String::from_utf8_lossy(&v));
                        let _ = u.params().count() + u.headers().count();
                        let _ = (u.ttl(), u.lr(), u.port_or_default(), u.maddr_host());
                    }
                }
            }
        }
    }
}
