//! name-addr / addr-spec values (RFC 3261 20.10 and 25): From, To, Contact,
//! Route, Record-Route, Path, Refer-To, ...
//!
//! Accepted shapes (one value; the caller splits comma lists and handles the
//! Contact `*`):
//!
//! * `"Quoted \"Name\"" <sip:a@b;uri-param>;tag=x;other`
//! * `Unquoted Display Name <sip:a@b>;p` (tokens and white space; bytes of
//!   UTF-8 are tolerated too)
//! * `<sip:a@b>;p`
//! * a bare addr-spec `sip:a@b;tag=x`: as RFC 3261 20 says, every `;param`
//!   then belongs to the header, and the URI itself may contain neither `;`
//!   nor `,` nor `?` (such URIs must be written in angle brackets).
//!
//! Linear white space (`SP`, `HT`, `CR`, `LF`: folding) is accepted around
//! the display name and the parameters. Nothing is copied: the display name,
//! the URI and the parameters are slices of the value.

use core::ops::Range;
use std::borrow::Cow;

use super::error::{Fault, ParseError, Result, Where, err};
use super::lex::{self, Params};
use super::limits::Limits;
use super::uri::Uri;

/// One name-addr or addr-spec with its header parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name: without the surrounding quotes and with escapes
    /// left as written for a quoted one (see [`NameAddr::display_text`]);
    /// trimmed for an unquoted one. `None` if there is none.
    pub display: Option<&'a [u8]>,
    /// Whether the display name was a quoted-string.
    pub quoted: bool,
    /// Whether the URI was written in angle brackets (name-addr form).
    pub angle: bool,
    pub uri: Uri<'a>,
    /// Where the URI is in the parsed value (without the angle brackets),
    /// for a builder that rewrites it.
    pub uri_range: Range<usize>,
    /// Header parameters (`;tag=...`, `;expires=...`, `;q=...`), validated.
    pub params: Params<'a>,
}

#[inline(always)]
const fn nerr(fault: Fault, at: usize) -> ParseError {
    err(Where::NameAddr, fault, at)
}

impl<'a> NameAddr<'a> {
    /// Parses one value. Errors carry `Where::NameAddr` (or `Where::Uri` for
    /// a fault inside the URI) and an offset into `s`.
    pub fn parse(s: &'a [u8], limits: &Limits) -> Result<NameAddr<'a>> {
        let start = lex::skip_lws(s, 0);
        let Some(&first) = s.get(start) else {
            return Err(nerr(Fault::Empty, start));
        };
        // Find the '<' of a name-addr, if this is one.
        let (display, quoted, laquot) = match first {
            b'"' => {
                let end = quoted_display_end(s, start)?;
                let j = lex::skip_lws(s, end);
                match s.get(j) {
                    Some(b'<') => (s.get(start + 1..end - 1), true, Some(j)),
                    Some(_) => return Err(nerr(Fault::BadChar, j)),
                    None => return Err(nerr(Fault::Missing, j)),
                }
            }
            b'<' => (None, false, Some(start)),
            _ => {
                // `*(token LWS)` (plus UTF-8) up to '<' is a display name;
                // anything else means a bare addr-spec (its scheme's ':').
                let mut k = start;
                while s
                    .get(k)
                    .is_some_and(|&c| lex::is_token(c) || lex::is_lws(c) || c >= 0x80)
                {
                    k += 1;
                }
                if s.get(k) == Some(&b'<') {
                    (s.get(start..k).map(lex::trim_end), false, Some(k))
                } else {
                    (None, false, None)
                }
            }
        };

        let (uri_range, after) = match laquot {
            Some(lt) => {
                let us = lt + 1;
                let rest = s.get(us..).unwrap_or(&[]);
                let Some(gt) = memchr::memchr(b'>', rest) else {
                    return Err(nerr(Fault::Unclosed, lt));
                };
                (us..us + gt, us + gt + 1)
            }
            None => {
                let mut k = start;
                while let Some(&c) = s.get(k) {
                    match c {
                        b';' | b' ' | b'\t' | b'\r' | b'\n' => break,
                        b',' | b'?' => return Err(nerr(Fault::BadChar, k)),
                        _ => k += 1,
                    }
                }
                (start..k, k)
            }
        };
        let uri_bytes = s.get(uri_range.clone()).unwrap_or(&[]);
        let uri = Uri::parse(uri_bytes, limits)
            .map_err(|e| e.within(Where::NameAddr, uri_range.start))?;

        // Header parameters.
        let j = lex::skip_lws(s, after);
        let params = match s.get(j) {
            None => Params::default(),
            Some(b';') => {
                let raw = s.get(j + 1..).unwrap_or(&[]);
                Params::validate(raw, Where::NameAddr, limits.max_params)
                    .map_err(|e| e.within(Where::NameAddr, j + 1))?
            }
            Some(_) => return Err(nerr(Fault::BadChar, j)),
        };

        Ok(NameAddr {
            display,
            quoted,
            angle: laquot.is_some(),
            uri,
            uri_range,
            params,
        })
    }

    /// The display name with quoted-pairs resolved (`\"` -> `"`); borrowed
    /// unless there was an escape to resolve.
    pub fn display_text(&self) -> Option<Cow<'a, [u8]>> {
        let d = self.display?;
        if !self.quoted || memchr::memchr(b'\\', d).is_none() {
            return Some(Cow::Borrowed(d));
        }
        let mut out = Vec::with_capacity(d.len());
        lex::unquote_into(d, &mut out);
        Some(Cow::Owned(out))
    }

    /// A header parameter (case-insensitive name): `None` if absent,
    /// `Some(None)` if present without value, else the value without quotes.
    #[inline]
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        self.params.get(name).map(|p| p.unquoted())
    }

    #[inline]
    pub fn has_param(&self, name: &[u8]) -> bool {
        self.params.has(name)
    }

    /// The `tag` parameter (`Some(b"")` for a `;tag` without value).
    #[inline]
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.params.value(b"tag")
    }

    /// The `expires` parameter in seconds: `None` if absent, an error if it
    /// is not `delta-seconds`. Values past `u32::MAX` are clamped to it.
    pub fn expires(&self) -> Option<Result<u32>> {
        let v = self.params.value(b"expires")?;
        Some(parse_delta(v))
    }

    /// The `q` parameter in thousandths (`q=0.5` -> 500, `q=1` -> 1000);
    /// `None` if absent or malformed (see [`NameAddr::q_checked`]).
    #[inline]
    pub fn q(&self) -> Option<u16> {
        self.q_checked().and_then(|r| r.ok())
    }

    /// The `q` parameter in thousandths: `None` if absent, an error if it is
    /// not a `qvalue` (`0[.ddd]` or `1[.000]`).
    pub fn q_checked(&self) -> Option<Result<u16>> {
        let v = self.params.value(b"q")?;
        Some(parse_qvalue(v))
    }
}

/// Validates a quoted display name starting at `s[start] == '"'` and returns
/// the index just past the closing quote.
fn quoted_display_end(s: &[u8], start: usize) -> Result<usize> {
    let mut i = start + 1;
    while let Some(&c) = s.get(i) {
        match c {
            b'"' => return Ok(i + 1),
            b'\\' => match s.get(i + 1) {
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                Some(&e) if e <= 0x7f && e != b'\r' && e != b'\n' => i += 2,
                Some(_) => return Err(nerr(Fault::BadChar, i + 1)),
                None => break,
            },
            // qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
            b' ' | b'\t' | b'\r' | b'\n' | 0x21..=0x7e | 0x80.. => i += 1,
            _ => return Err(nerr(Fault::BadChar, i)),
        }
    }
    Err(nerr(Fault::Unclosed, start))
}

/// `delta-seconds = 1*DIGIT`, clamped to `u32::MAX`.
fn parse_delta(v: &[u8]) -> Result<u32> {
    if v.is_empty() {
        return Err(nerr(Fault::Empty, 0));
    }
    let mut n: u32 = 0;
    for (i, &c) in v.iter().enumerate() {
        if !c.is_ascii_digit() {
            return Err(nerr(Fault::BadNumber, i));
        }
        n = n.saturating_mul(10).saturating_add(u32::from(c - b'0'));
    }
    Ok(n)
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn parse_qvalue(v: &[u8]) -> Result<u16> {
    let bad = nerr(Fault::BadNumber, 0);
    let (int, frac) = match v {
        [b'0'] => (0u16, &[][..]),
        [b'1'] => (1, &[][..]),
        [b'0', b'.', f @ ..] => (0, f),
        [b'1', b'.', f @ ..] => (1, f),
        _ => return Err(bad),
    };
    if frac.len() > 3 {
        return Err(bad);
    }
    let mut thousandths: u16 = 0;
    let mut scale: u16 = 100;
    for &c in frac {
        if !c.is_ascii_digit() {
            return Err(bad);
        }
        thousandths += u16::from(c - b'0') * scale;
        scale /= 10;
    }
    if int == 1 && thousandths != 0 {
        return Err(bad);
    }
    Ok(int * 1000 + thousandths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::host::Host;
    use crate::sip::uri::Scheme;
    use core::net::Ipv4Addr;

    fn na(s: &str) -> NameAddr<'_> {
        match NameAddr::parse(s.as_bytes(), &Limits::DEFAULT) {
            Ok(a) => a,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn fails(s: &[u8]) -> ParseError {
        match NameAddr::parse(s, &Limits::DEFAULT) {
            Ok(a) => panic!("{:?} parsed: {a:?}", String::from_utf8_lossy(s)),
            Err(e) => e,
        }
    }

    #[test]
    fn sipp_bare_addr_spec() {
        let s = "sip:sipp@127.0.0.1:5061;tag=1";
        let a = na(s);
        assert_eq!(a.display, None);
        assert!(!a.angle);
        assert_eq!(a.uri.raw, b"sip:sipp@127.0.0.1:5061");
        assert_eq!(a.uri_range, 0..23);
        assert_eq!(a.uri.host(), Some(Host::V4(Ipv4Addr::new(127, 0, 0, 1))));
        assert_eq!(a.uri.port(), Some(5061));
        assert!(a.uri.params_raw().is_empty());
        assert_eq!(a.tag(), Some(&b"1"[..]));
    }

    #[test]
    fn quoted_display() {
        let s = "\"Alice\" <sip:alice@atlanta.com>;tag=1928301774";
        let a = na(s);
        assert_eq!(a.display, Some(&b"Alice"[..]));
        assert!(a.quoted && a.angle);
        assert_eq!(&s.as_bytes()[a.uri_range.clone()], b"sip:alice@atlanta.com");
        assert_eq!(a.tag(), Some(&b"1928301774"[..]));

        let s = "\"Quoted \\\"Display\\\"\" <sip:a@b;uriparam>;tag=x;other";
        let a = na(s);
        assert_eq!(a.display, Some(&b"Quoted \\\"Display\\\""[..]));
        assert_eq!(
            a.display_text().as_deref(),
            Some(&b"Quoted \"Display\""[..])
        );
        assert_eq!(a.uri.param(b"uriparam"), Some(None));
        assert_eq!(a.tag(), Some(&b"x"[..]));
        assert_eq!(a.param(b"other"), Some(None));
        assert_eq!(a.param(b"none"), None);

        // Commas, '<' and UTF-8 inside quotes; no space before '<'.
        let a = na("\"Doe, John <x> J\u{f6}rg\"<sip:jd@example.com>");
        assert_eq!(a.display, Some("Doe, John <x> J\u{f6}rg".as_bytes()));
        assert!(matches!(a.display_text(), Some(Cow::Borrowed(_))));
        // Empty quoted display name.
        let a = na("\"\" <sip:anon@example.com>");
        assert_eq!(a.display, Some(&b""[..]));
    }

    #[test]
    fn unquoted_display() {
        let a = na("Bob <sips:bob@biloxi.com>");
        assert_eq!(a.display, Some(&b"Bob"[..]));
        assert!(!a.quoted && a.angle);
        assert!(a.uri.is_sips());
        assert_eq!(a.params.raw(), b"");
        let a = na("Unquoted  Display Name <sip:a@b>;p");
        assert_eq!(a.display, Some(&b"Unquoted  Display Name"[..]));
        assert_eq!(a.param(b"p"), Some(None));
        let a = na("J\u{f6}rg M\u{fc}ller <sip:jm@example.de>");
        assert_eq!(a.display, Some("J\u{f6}rg M\u{fc}ller".as_bytes()));
    }

    #[test]
    fn angle_only_with_contact_params() {
        let s = "<sip:bob@192.0.2.4;transport=tcp>;expires=3600;q=0.7";
        let a = na(s);
        assert_eq!(a.display, None);
        assert_eq!(a.uri_range, 1..32);
        assert_eq!(a.uri.transport(), Some(&b"tcp"[..]));
        assert_eq!(a.expires(), Some(Ok(3600)));
        assert_eq!(a.q(), Some(700));
        assert_eq!(a.tag(), None);
    }

    #[test]
    fn ipv6_route() {
        let a = na("<sip:alice@[2001:db8::10]:5070;lr>");
        assert!(matches!(a.uri.host(), Some(Host::V6(..))));
        assert_eq!(a.uri.port(), Some(5070));
        assert!(a.uri.lr());
        assert!(a.params.is_empty());
    }

    #[test]
    fn bare_params_belong_to_the_header() {
        let a = na("sip:+12125551212@phone2net.com;tag=887s");
        assert_eq!(a.uri.user(), Some(&b"+12125551212"[..]));
        assert!(a.uri.params_raw().is_empty());
        assert_eq!(a.tag(), Some(&b"887s"[..]));
        // ... even ones that look like URI parameters.
        let a = na("sip:p.example.com;lr");
        assert!(!a.uri.lr());
        assert!(a.has_param(b"lr"));
        // White space before the parameters.
        let a = na("sip:a@b ;tag=1");
        assert_eq!(a.uri.raw, b"sip:a@b");
        assert_eq!(a.tag(), Some(&b"1"[..]));
    }

    #[test]
    fn gruu_style_contact() {
        let s = "<sip:alice@192.0.2.1:5060;transport=tcp;ob>;reg-id=1;\
                 +sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";expires=600";
        let a = na(s);
        assert!(a.uri.has_param(b"ob"));
        assert_eq!(a.param(b"reg-id"), Some(Some(&b"1"[..])));
        assert_eq!(
            a.param(b"+sip.instance"),
            Some(Some(
                &b"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"[..]
            ))
        );
        assert_eq!(a.expires(), Some(Ok(600)));
        // Bare addr-spec with a quoted '<' in a parameter.
        let a = na("sip:alice@192.0.2.1;+sip.instance=\"<urn:uuid:1>\"");
        assert_eq!(a.uri.raw, b"sip:alice@192.0.2.1");
        assert_eq!(a.param(b"+sip.instance"), Some(Some(&b"<urn:uuid:1>"[..])));
    }

    #[test]
    fn tel_and_other_schemes() {
        let a = na("\"Office\" <tel:+1-201-555-0123;ext=22>;tag=a1");
        assert!(a.uri.is_tel());
        assert_eq!(a.uri.user(), Some(&b"+1-201-555-0123"[..]));
        assert_eq!(a.uri.param(b"ext"), Some(Some(&b"22"[..])));
        assert_eq!(a.tag(), Some(&b"a1"[..]));
        let a = na("tel:+4930123456;tag=x");
        assert!(a.uri.is_tel());
        assert_eq!(a.tag(), Some(&b"x"[..]));
        let a = na("<mailto:bob@example.com>");
        assert_eq!(a.uri.scheme, Scheme::Other(b"mailto"));
    }

    #[test]
    fn folding_and_white_space() {
        let s = "\"Alice\"\r\n <sip:alice@atlanta.com>\r\n\t;tag=9 ; foo = bar";
        let a = na(s);
        assert_eq!(a.display, Some(&b"Alice"[..]));
        assert_eq!(a.tag(), Some(&b"9"[..]));
        assert_eq!(a.param(b"foo"), Some(Some(&b"bar"[..])));
        let a = na("  Alice\r\n Smith\t<sip:alice@atlanta.com>");
        assert_eq!(a.display, Some(&b"Alice\r\n Smith"[..]));
        assert_eq!(a.uri_range, 17..38);
    }

    #[test]
    fn q_and_expires() {
        let q = |s: &str| na(s).q_checked().map(|r| r.map_err(|e| e.fault));
        assert_eq!(q("<sip:a@b>;q=0.5"), Some(Ok(500)));
        assert_eq!(q("<sip:a@b>;q=1"), Some(Ok(1000)));
        assert_eq!(q("<sip:a@b>;q=1.000"), Some(Ok(1000)));
        assert_eq!(q("<sip:a@b>;q=0"), Some(Ok(0)));
        assert_eq!(q("<sip:a@b>;q=0."), Some(Ok(0)));
        assert_eq!(q("<sip:a@b>;q=0.123"), Some(Ok(123)));
        assert_eq!(q("<sip:a@b>;Q=0.05"), Some(Ok(50)));
        assert_eq!(q("<sip:a@b>"), None);
        for bad in [
            "1.5", "1.001", "2", "0.1234", ".5", "0.5.1", "abc", "", "-0",
        ] {
            let s = format!("<sip:a@b>;q={bad}");
            assert_eq!(q(&s), Some(Err(Fault::BadNumber)), "q={bad}");
            assert_eq!(na(&s).q(), None);
        }
        let e = |s: &str| na(s).expires().map(|r| r.map_err(|e| e.fault));
        assert_eq!(e("<sip:a@b>;expires=0"), Some(Ok(0)));
        assert_eq!(e("<sip:a@b>;expires=99999999999"), Some(Ok(u32::MAX)));
        assert_eq!(e("<sip:a@b>;expires=1h"), Some(Err(Fault::BadNumber)));
        assert_eq!(e("<sip:a@b>;expires"), Some(Err(Fault::Empty)));
        assert_eq!(e("<sip:a@b>"), None);
    }

    #[test]
    fn errors() {
        let cases: &[(&[u8], Where, Fault, u32)] = &[
            (b"", Where::NameAddr, Fault::Empty, 0),
            (b"  ", Where::NameAddr, Fault::Empty, 2),
            (b"<sip:a@b", Where::NameAddr, Fault::Unclosed, 0),
            (b"Bob <sip:a@b;lr", Where::NameAddr, Fault::Unclosed, 4),
            (b"\"Bob <sip:a@b>", Where::NameAddr, Fault::Unclosed, 0),
            (b"\"Bob\\", Where::NameAddr, Fault::Unclosed, 0),
            (b"\"Bob\"", Where::NameAddr, Fault::Missing, 5),
            (b"\"Bob\" sip:a@b", Where::NameAddr, Fault::BadChar, 6),
            (b"\"B\x01b\" <sip:a@b>", Where::NameAddr, Fault::BadChar, 2),
            (b"\"B\\\nb\" <sip:a@b>", Where::NameAddr, Fault::BadChar, 3),
            (b"<sip:a@b> junk", Where::NameAddr, Fault::BadChar, 10),
            (b"<sip:a@b>x", Where::NameAddr, Fault::BadChar, 9),
            (b"<sip:a@b>;tag=a b", Where::NameAddr, Fault::BadChar, 16),
            (b"<sip:a@b>;=1", Where::NameAddr, Fault::BadChar, 10),
            (b"< sip:a@b>", Where::Uri, Fault::BadChar, 1),
            (b"<sip:a@b >", Where::Uri, Fault::BadChar, 8),
            (b"<sip:a@>", Where::Uri, Fault::Empty, 7),
            (b"Bob <sip:%zz@b>", Where::Uri, Fault::BadChar, 9),
            (b"sip:a@b?x=y", Where::NameAddr, Fault::BadChar, 7),
            (b"sip:a,b@c", Where::NameAddr, Fault::BadChar, 5),
            (b"sip:a@b;tag=1 x", Where::NameAddr, Fault::BadChar, 14),
            (b"sip:a@b x", Where::NameAddr, Fault::BadChar, 8),
            (b"sip:@b;tag=1", Where::Uri, Fault::Empty, 4),
            (b"Bob (work) <sip:a@b>", Where::Uri, Fault::Malformed, 3),
            (b"<>", Where::Uri, Fault::Empty, 1),
        ];
        for &(s, w, f, at) in cases {
            let e = fails(s);
            assert_eq!(
                (e.what, e.fault, e.at),
                (w, f, at),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn too_many_params() {
        let limits = Limits {
            max_params: 2,
            ..Limits::DEFAULT
        };
        assert!(NameAddr::parse(b"<sip:a@b>;a;b", &limits).is_ok());
        let e = NameAddr::parse(b"<sip:a@b>;a;b;c", &limits).unwrap_err();
        assert_eq!((e.what, e.fault), (Where::NameAddr, Fault::TooMany));
        let e = NameAddr::parse(b"<sip:a@b;a;b;c>", &limits).unwrap_err();
        assert_eq!((e.what, e.fault), (Where::Uri, Fault::TooMany));
    }

    #[test]
    fn no_panic_on_prefixes() {
        let samples: &[&[u8]] = &[
            b"\"A \\\"b\\\" c\" <sips:alice:pw@[2001:db8::1]:5061;lr?a=b>;tag=x;q=0.5;+sip.instance=\"<urn:x>\"",
            b"Bob <tel:+1-201-555-0123;ext=1>;expires=10",
            b"sip:a@b;tag=1",
        ];
        for s in samples {
            for n in 0..=s.len() {
                if let Ok(a) = NameAddr::parse(&s[..n], &Limits::DEFAULT) {
                    let _ = (a.tag(), a.q(), a.expires(), a.display_text());
                    assert!(a.uri_range.end <= n);
                }
                let _ = NameAddr::parse(&s[n..], &Limits::DEFAULT);
            }
        }
    }
}
