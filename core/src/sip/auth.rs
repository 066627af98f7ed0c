//! Credentials and challenges: Authorization / Proxy-Authorization and
//! WWW-Authenticate / Proxy-Authenticate values (RFC 3261 22.4 and 25,
//! RFC 2617, RFC 7616, RFC 7235 for `token68`).
//!
//! ```text
//! credentials = auth-scheme LWS auth-param *( COMMA auth-param )
//!             / auth-scheme [ LWS token68 ]          ; non-Digest only
//! auth-param  = token EQUAL ( token / quoted-string )
//! ```
//!
//! Parsing is one pass and zero-copy: values are sub-slices of the header
//! value, quoted strings with their quotes stripped and their `\` escapes
//! left as written (see [`super::lex::unquote_into`]). For the `Digest`
//! scheme the well-known directives are located into fields; a directive
//! given twice is [`Fault::Duplicate`]. Whether a directive is quoted is not
//! enforced (`algorithm="MD5"` and `qop="auth"` are common in the field);
//! `nc` must be 8 hex digits and `stale` / `userhash` `true` or `false`.
//! Every other parameter is kept and can be walked with `params()`.
//!
//! One header value holds one challenge or one set of credentials, as in
//! RFC 3261 (HTTP's several comma-separated challenges are not split).

use super::error::{Fault, ParseError, Result, Where, err};
use super::lex::{self, is_token};
use super::limits::Limits;

const W: Where = Where::Auth;

/// End of the token starting at `i`.
#[inline]
fn token_end(s: &[u8], i: usize) -> usize {
    let rest = sub(s, i, s.len());
    i + rest
        .iter()
        .position(|&b| !is_token(b))
        .unwrap_or(rest.len())
}

/// Index just past the closing quote of the quoted-string opening at
/// `s[open]` (escapes skipped, control characters refused).
#[inline]
fn quoted_end(s: &[u8], open: usize) -> Result<usize> {
    lex::quoted_end(s, open, W)
}

/// One `name=value` auth-param. `value` is without its quotes; escapes are
/// left as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthParam<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    /// Whether the value was a quoted-string.
    pub quoted: bool,
}

/// A digest algorithm (RFC 7616 6.1, RFC 3310 for AKA).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm<'a> {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
    Sha512_256,
    Sha512_256Sess,
    /// Anything else (`AKAv1-MD5`, ...), as written.
    Other(&'a [u8]),
}

impl<'a> Algorithm<'a> {
    /// Classifies an algorithm token (case-insensitive).
    pub fn parse(s: &'a [u8]) -> Algorithm<'a> {
        const TABLE: [(&[u8], Algorithm<'static>); 6] = [
            (b"MD5", Algorithm::Md5),
            (b"MD5-sess", Algorithm::Md5Sess),
            (b"SHA-256", Algorithm::Sha256),
            (b"SHA-256-sess", Algorithm::Sha256Sess),
            (b"SHA-512-256", Algorithm::Sha512_256),
            (b"SHA-512-256-sess", Algorithm::Sha512_256Sess),
        ];
        for (name, a) in TABLE {
            if s.eq_ignore_ascii_case(name) {
                return a;
            }
        }
        Algorithm::Other(s)
    }

    /// Whether this is a `-sess` variant.
    pub fn is_sess(&self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }
}

/// Walks an auth-param list, checking it. Offsets are relative to `s`.
#[derive(Clone, Debug)]
struct Scan<'a> {
    s: &'a [u8],
    pos: usize,
    first: bool,
}

#[inline]
fn sub(s: &[u8], a: usize, b: usize) -> &[u8] {
    s.get(a..b).unwrap_or(&[])
}

/// Offset of `inner` in `outer` (both views of the same buffer).
#[inline]
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize)
        .wrapping_sub(outer.as_ptr() as usize)
        .min(outer.len())
}

impl<'a> Scan<'a> {
    #[inline]
    fn new(s: &'a [u8], pos: usize) -> Self {
        Scan {
            s,
            pos,
            first: true,
        }
    }

    #[inline]
    fn fail(&mut self, e: ParseError) -> Option<Result<(usize, AuthParam<'a>)>> {
        self.pos = self.s.len();
        Some(Err(e))
    }

    /// The next parameter and the offset of its name.
    fn next_param(&mut self) -> Option<Result<(usize, AuthParam<'a>)>> {
        let s = self.s;
        let n = s.len();
        let mut i = lex::skip_lws(s, self.pos);
        if i >= n {
            self.pos = n;
            return None;
        }
        if !self.first {
            if s.get(i) != Some(&b',') {
                return self.fail(err(W, Fault::BadChar, i));
            }
            i = lex::skip_lws(s, i + 1);
            if i >= n {
                return self.fail(err(W, Fault::Truncated, i));
            }
        }
        self.first = false;
        let ns = i;
        i = token_end(s, i);
        if i == ns {
            return self.fail(err(W, Fault::BadChar, ns));
        }
        let name = sub(s, ns, i);
        i = lex::skip_lws(s, i);
        match s.get(i) {
            Some(b'=') => {}
            Some(_) => return self.fail(err(W, Fault::Malformed, i)),
            None => return self.fail(err(W, Fault::Truncated, i)),
        }
        i = lex::skip_lws(s, i + 1);
        let (value, quoted) = match s.get(i) {
            Some(b'"') => {
                let e = match quoted_end(s, i) {
                    Ok(e) => e,
                    Err(e) => return self.fail(e),
                };
                let v = sub(s, i + 1, e.saturating_sub(1));
                i = e;
                (v, true)
            }
            Some(_) => {
                let vs = i;
                i = token_end(s, i);
                if i == vs {
                    return self.fail(err(W, Fault::BadChar, vs));
                }
                (sub(s, vs, i), false)
            }
            None => return self.fail(err(W, Fault::Truncated, i)),
        };
        self.pos = i;
        Some(Ok((
            ns,
            AuthParam {
                name,
                value,
                quoted,
            },
        )))
    }
}

/// Iterator over the auth-params of parsed credentials or a challenge.
#[derive(Clone, Debug)]
pub struct AuthParams<'a> {
    scan: Scan<'a>,
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = AuthParam<'a>;

    #[inline]
    fn next(&mut self) -> Option<AuthParam<'a>> {
        match self.scan.next_param()? {
            Ok((_, p)) => Some(p),
            Err(_) => None,
        }
    }
}

/// The scheme and what follows it.
struct Head<'a> {
    scheme: &'a [u8],
    token68: Option<&'a [u8]>,
    /// Offset in the value where the auth-param list starts (`len` if none).
    params_at: usize,
}

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`,
/// alone up to the end of the value. Returns its length.
fn token68(rest: &[u8]) -> Option<usize> {
    let mut i = 0;
    while rest.get(i).is_some_and(|&b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
    }) {
        i += 1;
    }
    if i == 0 {
        return None;
    }
    while rest.get(i) == Some(&b'=') {
        i += 1;
    }
    (lex::skip_lws(rest, i) == rest.len()).then_some(i)
}

fn head(s: &[u8]) -> Result<Head<'_>> {
    let n = s.len();
    let i = lex::skip_lws(s, 0);
    if i >= n {
        return Err(err(W, Fault::Empty, i));
    }
    let e = token_end(s, i);
    if e == i {
        return Err(err(W, Fault::BadChar, i));
    }
    let scheme = sub(s, i, e);
    let j = lex::skip_lws(s, e);
    if j >= n {
        return Ok(Head {
            scheme,
            token68: None,
            params_at: n,
        });
    }
    if j == e {
        return Err(err(W, Fault::BadChar, e));
    }
    let rest = sub(s, j, n);
    if !scheme.eq_ignore_ascii_case(b"Digest")
        && let Some(len) = token68(rest)
    {
        return Ok(Head {
            scheme,
            token68: Some(sub(rest, 0, len)),
            params_at: n,
        });
    }
    Ok(Head {
        scheme,
        token68: None,
        params_at: j,
    })
}

/// Stores a directive's value, refusing a second one.
#[inline]
fn set<'a>(slot: &mut Option<&'a [u8]>, v: &'a [u8], at: usize) -> Result<()> {
    if slot.is_some() {
        return Err(err(W, Fault::Duplicate, at));
    }
    *slot = Some(v);
    Ok(())
}

/// `true` / `false`, case-insensitive.
#[inline]
fn parse_bool(v: &[u8]) -> Option<bool> {
    if v.eq_ignore_ascii_case(b"true") {
        Some(true)
    } else if v.eq_ignore_ascii_case(b"false") {
        Some(false)
    } else {
        None
    }
}

/// `nc-value = 8LHEX` (upper case accepted too).
#[inline]
fn parse_nc(v: &[u8]) -> Option<u32> {
    if v.len() != 8 {
        return None;
    }
    let mut n: u32 = 0;
    for &b in v {
        let d = (b as char).to_digit(16)?;
        n = (n << 4) | d;
    }
    Some(n)
}

/// The first parameter named `name` in a validated list.
fn find<'a>(params: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    AuthParams {
        scan: Scan::new(params, 0),
    }
    .find(|p| p.name.eq_ignore_ascii_case(name))
    .map(|p| p.value)
}

/// Authorization / Proxy-Authorization credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The whole value as given to [`Credentials::parse`].
    pub raw: &'a [u8],
    /// The scheme as written (`Digest`, `Bearer`, ...).
    pub scheme: &'a [u8],
    /// RFC 7235 `token68` (for instance a `Bearer` token, RFC 8898); then
    /// there are no auth-params.
    pub token68: Option<&'a [u8]>,
    /// The auth-param list, raw (validated); walk it with
    /// [`Credentials::params`].
    pub params_raw: &'a [u8],
    // Digest directives (filled for the Digest scheme only).
    pub username: Option<&'a [u8]>,
    pub realm: Option<&'a [u8]>,
    pub nonce: Option<&'a [u8]>,
    pub uri: Option<&'a [u8]>,
    pub response: Option<&'a [u8]>,
    pub algorithm: Option<&'a [u8]>,
    pub cnonce: Option<&'a [u8]>,
    pub opaque: Option<&'a [u8]>,
    pub qop: Option<&'a [u8]>,
    pub nc: Option<&'a [u8]>,
    /// RFC 7616 `userhash` (`true` / `false`, checked).
    pub userhash: Option<&'a [u8]>,
    nc_value: Option<u32>,
}

impl<'a> Credentials<'a> {
    /// Parses one Authorization or Proxy-Authorization value. Error offsets
    /// are relative to `s`.
    pub fn parse(s: &'a [u8], limits: &Limits) -> Result<Credentials<'a>> {
        let h = head(s)?;
        let digest = h.scheme.eq_ignore_ascii_case(b"Digest");
        let mut c = Credentials {
            raw: s,
            scheme: h.scheme,
            token68: h.token68,
            params_raw: lex::trim_end(sub(s, h.params_at, s.len())),
            username: None,
            realm: None,
            nonce: None,
            uri: None,
            response: None,
            algorithm: None,
            cnonce: None,
            opaque: None,
            qop: None,
            nc: None,
            userhash: None,
            nc_value: None,
        };
        let mut scan = Scan::new(s, h.params_at);
        let mut count = 0usize;
        while let Some(r) = scan.next_param() {
            let (at, p) = r?;
            count += 1;
            if count > limits.max_params {
                return Err(err(W, Fault::TooMany, at));
            }
            if !digest {
                continue;
            }
            let name = p.name;
            let eq = |k: &[u8]| name.eq_ignore_ascii_case(k);
            let slot = match name.len() {
                2 if eq(b"nc") => &mut c.nc,
                3 if eq(b"uri") => &mut c.uri,
                3 if eq(b"qop") => &mut c.qop,
                5 if eq(b"realm") => &mut c.realm,
                5 if eq(b"nonce") => &mut c.nonce,
                6 if eq(b"cnonce") => &mut c.cnonce,
                6 if eq(b"opaque") => &mut c.opaque,
                8 if eq(b"username") => &mut c.username,
                8 if eq(b"response") => &mut c.response,
                8 if eq(b"userhash") => &mut c.userhash,
                9 if eq(b"algorithm") => &mut c.algorithm,
                _ => continue,
            };
            set(slot, p.value, at)?;
        }
        if digest {
            if count == 0 {
                return Err(err(W, Fault::Truncated, s.len()));
            }
            if let Some(v) = c.nc {
                c.nc_value = Some(parse_nc(v).ok_or(err(W, Fault::BadNumber, offset_in(s, v)))?);
            }
            if let Some(v) = c.userhash {
                parse_bool(v).ok_or(err(W, Fault::Malformed, offset_in(s, v)))?;
            }
        }
        Ok(c)
    }

    /// Whether the scheme is `Digest` (case-insensitive).
    #[inline]
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }

    /// The nonce count `nc` as a number.
    #[inline]
    pub fn nc_value(&self) -> Option<u32> {
        self.nc_value
    }

    /// Whether `userhash=true` (RFC 7616 3.4.4): `username` is then a hash.
    #[inline]
    pub fn is_userhash(&self) -> bool {
        self.userhash.and_then(parse_bool).unwrap_or(false)
    }

    /// The algorithm (MD5 when absent, RFC 2617 3.2.1).
    #[inline]
    pub fn algorithm_kind(&self) -> Algorithm<'a> {
        self.algorithm.map_or(Algorithm::Md5, Algorithm::parse)
    }

    /// Every auth-param, in order (known directives included).
    #[inline]
    pub fn params(&self) -> AuthParams<'a> {
        AuthParams {
            scan: Scan::new(self.params_raw, 0),
        }
    }

    /// Any auth-param by name (case-insensitive), unquoted.
    pub fn param(&self, name: &[u8]) -> Option<&'a [u8]> {
        find(self.params_raw, name)
    }

    /// Checks that Digest credentials carry what RFC 2617 3.2.2 requires:
    /// `username`, `realm`, `nonce`, `uri`, `response`, and `cnonce` and `nc`
    /// when `qop` is given. A non-Digest scheme is
    /// [`Fault::UnsupportedScheme`].
    pub fn check_digest(&self) -> Result<()> {
        if !self.is_digest() {
            return Err(err(W, Fault::UnsupportedScheme, 0));
        }
        let required = [
            self.username,
            self.realm,
            self.nonce,
            self.uri,
            self.response,
        ];
        let qop_needs = [self.cnonce, self.nc];
        let missing = required.iter().any(Option::is_none)
            || (self.qop.is_some() && qop_needs.iter().any(Option::is_none));
        if missing {
            return Err(err(W, Fault::Missing, self.raw.len()));
        }
        Ok(())
    }
}

/// A WWW-Authenticate / Proxy-Authenticate challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The whole value as given to [`Challenge::parse`].
    pub raw: &'a [u8],
    /// The scheme as written.
    pub scheme: &'a [u8],
    /// RFC 7235 `token68`, for non-Digest schemes.
    pub token68: Option<&'a [u8]>,
    /// The auth-param list, raw (validated).
    pub params_raw: &'a [u8],
    // Digest directives (filled for the Digest scheme only).
    pub realm: Option<&'a [u8]>,
    /// Space-separated URIs (see [`Challenge::domains`]).
    pub domain: Option<&'a [u8]>,
    pub nonce: Option<&'a [u8]>,
    pub opaque: Option<&'a [u8]>,
    /// `stale=true` (case-insensitive); `false` when absent.
    pub stale: bool,
    pub algorithm: Option<&'a [u8]>,
    /// The qop options as written, e.g. `auth,auth-int` (see
    /// [`Challenge::qop_options`]).
    pub qop: Option<&'a [u8]>,
    pub charset: Option<&'a [u8]>,
    /// RFC 7616 `userhash=true`; `false` when absent.
    pub userhash: bool,
}

impl<'a> Challenge<'a> {
    /// Parses one WWW-Authenticate or Proxy-Authenticate value. Error
    /// offsets are relative to `s`.
    pub fn parse(s: &'a [u8], limits: &Limits) -> Result<Challenge<'a>> {
        let h = head(s)?;
        let digest = h.scheme.eq_ignore_ascii_case(b"Digest");
        let mut c = Challenge {
            raw: s,
            scheme: h.scheme,
            token68: h.token68,
            params_raw: lex::trim_end(sub(s, h.params_at, s.len())),
            realm: None,
            domain: None,
            nonce: None,
            opaque: None,
            stale: false,
            algorithm: None,
            qop: None,
            charset: None,
            userhash: false,
        };
        let mut stale = None;
        let mut userhash = None;
        let mut scan = Scan::new(s, h.params_at);
        let mut count = 0usize;
        while let Some(r) = scan.next_param() {
            let (at, p) = r?;
            count += 1;
            if count > limits.max_params {
                return Err(err(W, Fault::TooMany, at));
            }
            if !digest {
                continue;
            }
            let name = p.name;
            let eq = |k: &[u8]| name.eq_ignore_ascii_case(k);
            let slot = match name.len() {
                3 if eq(b"qop") => &mut c.qop,
                5 if eq(b"realm") => &mut c.realm,
                5 if eq(b"nonce") => &mut c.nonce,
                5 if eq(b"stale") => &mut stale,
                6 if eq(b"domain") => &mut c.domain,
                6 if eq(b"opaque") => &mut c.opaque,
                7 if eq(b"charset") => &mut c.charset,
                8 if eq(b"userhash") => &mut userhash,
                9 if eq(b"algorithm") => &mut c.algorithm,
                _ => continue,
            };
            set(slot, p.value, at)?;
        }
        if digest && count == 0 {
            return Err(err(W, Fault::Truncated, s.len()));
        }
        if let Some(v) = stale {
            c.stale = parse_bool(v).ok_or(err(W, Fault::Malformed, offset_in(s, v)))?;
        }
        if let Some(v) = userhash {
            c.userhash = parse_bool(v).ok_or(err(W, Fault::Malformed, offset_in(s, v)))?;
        }
        Ok(c)
    }

    /// Whether the scheme is `Digest` (case-insensitive).
    #[inline]
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }

    /// The algorithm (MD5 when absent).
    #[inline]
    pub fn algorithm_kind(&self) -> Algorithm<'a> {
        self.algorithm.map_or(Algorithm::Md5, Algorithm::parse)
    }

    /// The qop options (`auth`, `auth-int`, ...), trimmed, empty ones
    /// skipped.
    pub fn qop_options(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.qop
            .into_iter()
            .flat_map(|q| q.split(|&b| b == b','))
            .map(lex::trim)
            .filter(|o| !o.is_empty())
    }

    /// Whether `qop` offers this option (case-insensitive).
    pub fn offers_qop(&self, option: &[u8]) -> bool {
        self.qop_options().any(|o| o.eq_ignore_ascii_case(option))
    }

    /// The URIs of `domain`, split on white space.
    pub fn domains(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.domain
            .into_iter()
            .flat_map(|d| d.split(|&b| lex::is_lws(b)))
            .filter(|u| !u.is_empty())
    }

    /// Every auth-param, in order (known directives included).
    #[inline]
    pub fn params(&self) -> AuthParams<'a> {
        AuthParams {
            scan: Scan::new(self.params_raw, 0),
        }
    }

    /// Any auth-param by name (case-insensitive), unquoted.
    pub fn param(&self, name: &[u8]) -> Option<&'a [u8]> {
        find(self.params_raw, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(s: &str) -> Result<Credentials<'_>> {
        Credentials::parse(s.as_bytes(), &Limits::DEFAULT)
    }

    fn chal(s: &str) -> Result<Challenge<'_>> {
        Challenge::parse(s.as_bytes(), &Limits::DEFAULT)
    }

    const BOB: &str = "Digest username=\"bob\", realm=\"biloxi.com\", \
        nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:bob@biloxi.com\", qop=auth, \
        nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
        opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

    #[test]
    fn digest_credentials() {
        let c = cred(BOB).unwrap();
        assert!(c.is_digest());
        assert_eq!(c.scheme, b"Digest");
        assert_eq!(c.username, Some(&b"bob"[..]));
        assert_eq!(c.realm, Some(&b"biloxi.com"[..]));
        assert_eq!(c.nonce, Some(&b"dcd98b7102dd2f0e8b11d0f600bfb0c093"[..]));
        assert_eq!(c.uri, Some(&b"sip:bob@biloxi.com"[..]));
        assert_eq!(c.qop, Some(&b"auth"[..]));
        assert_eq!(c.nc, Some(&b"00000001"[..]));
        assert_eq!(c.nc_value(), Some(1));
        assert_eq!(c.cnonce, Some(&b"0a4f113b"[..]));
        assert_eq!(c.response, Some(&b"6629fae49393a05397450978507c4ef1"[..]));
        assert_eq!(c.opaque, Some(&b"5ccc069c403ebaf9f0171e9517f40e41"[..]));
        assert_eq!(c.algorithm, None);
        assert_eq!(c.algorithm_kind(), Algorithm::Md5);
        assert!(!c.is_userhash());
        assert!(c.check_digest().is_ok());
        assert_eq!(c.params().count(), 9);
        let qop = c.params().find(|p| p.name == b"qop").unwrap();
        assert!(!qop.quoted);
        assert_eq!(c.param(b"CNONCE"), Some(&b"0a4f113b"[..]));
    }

    #[test]
    fn rfc3665_register_and_sha256() {
        let c = cred(
            "Digest username=\"bob\", realm=\"atlanta.example.com\", \
             nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", opaque=\"\", \
             uri=\"sips:ss2.biloxi.example.com\", response=\"dfe56131d1958046689d83306477ecc\"",
        )
        .unwrap();
        assert_eq!(c.opaque, Some(&b""[..]));
        assert_eq!(c.qop, None);
        assert!(c.check_digest().is_ok());

        let c = cred(
            "Digest username=\"alice\", realm=\"a.example\", nonce=\"n\", uri=\"sip:a.example\", \
             algorithm=SHA-256, response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", \
             userhash=TRUE",
        )
        .unwrap();
        assert_eq!(c.algorithm_kind(), Algorithm::Sha256);
        assert!(c.is_userhash());
        assert_eq!(c.response.map(<[u8]>::len), Some(64));
        assert_eq!(Algorithm::parse(b"md5-SESS"), Algorithm::Md5Sess);
        assert!(Algorithm::parse(b"SHA-512-256-sess").is_sess());
        assert_eq!(
            Algorithm::parse(b"AKAv1-MD5"),
            Algorithm::Other(b"AKAv1-MD5")
        );
    }

    #[test]
    fn spacing_folding_quotes() {
        let c = cred("digest\r\n  username = \"a\\\"b,c\" ,\r\n\trealm=r,nonce=\"x\"  ,  uri = \"sip:h\" , response=\"0\"  ")
            .unwrap();
        assert!(c.is_digest());
        assert_eq!(c.username, Some(&b"a\\\"b,c"[..]));
        assert_eq!(c.realm, Some(&b"r"[..]));
        assert_eq!(c.uri, Some(&b"sip:h"[..]));
        assert_eq!(c.params().count(), 5);
        // Quoted forms of token directives are tolerated.
        let c = cred("Digest algorithm=\"MD5-sess\", qop=\"auth-int\", nc=0000000A").unwrap();
        assert_eq!(c.algorithm_kind(), Algorithm::Md5Sess);
        assert_eq!(c.qop, Some(&b"auth-int"[..]));
        assert_eq!(c.nc_value(), Some(10));
        // Unknown directives are kept.
        let c = cred("Digest username=\"u\", x-ext=\"v\", auts=tok").unwrap();
        let names: Vec<_> = c.params().map(|p| p.name).collect();
        assert_eq!(names, vec![&b"username"[..], b"x-ext", b"auts"]);
        assert_eq!(c.param(b"x-ext"), Some(&b"v"[..]));
        assert_eq!(c.check_digest().unwrap_err().fault, Fault::Missing);
    }

    #[test]
    fn other_schemes_parse_generically() {
        let c = cred("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==").unwrap();
        assert!(!c.is_digest());
        assert_eq!(c.scheme, b"Basic");
        assert_eq!(c.token68, Some(&b"QWxhZGRpbjpvcGVuIHNlc2FtZQ=="[..]));
        assert_eq!(c.params().count(), 0);
        let c = cred("Bearer eyJhbGciOi.eyJzdWIi.SflKxw-_  ").unwrap();
        assert_eq!(c.token68, Some(&b"eyJhbGciOi.eyJzdWIi.SflKxw-_"[..]));
        // A non-Digest scheme with auth-params: fields stay empty, params walk.
        let c = cred("NTLM realm=\"x\", nc=zz").unwrap();
        assert_eq!(c.token68, None);
        assert_eq!(c.realm, None);
        assert_eq!(c.param(b"realm"), Some(&b"x"[..]));
        assert_eq!(
            c.check_digest().unwrap_err().fault,
            Fault::UnsupportedScheme
        );
        // A bare scheme.
        let c = cred("Negotiate").unwrap();
        assert_eq!(c.scheme, b"Negotiate");
        assert_eq!(c.token68, None);
    }

    #[test]
    fn bad_credentials() {
        let cases: &[(&str, Fault, u32)] = &[
            ("", Fault::Empty, 0),
            ("Digest", Fault::Truncated, 6),
            ("Digest   ", Fault::Truncated, 9),
            ("Digest username=\"bob", Fault::Unclosed, 16),
            ("Digest username \"bob\"", Fault::Malformed, 16),
            ("Digest username", Fault::Truncated, 15),
            ("Digest username=", Fault::Truncated, 16),
            ("Digest username=,realm=x", Fault::BadChar, 16),
            ("Digest realm=a, realm=b", Fault::Duplicate, 16),
            ("Digest REALM=a, Realm=\"a\"", Fault::Duplicate, 16),
            ("Digest a=1,,b=2", Fault::BadChar, 11),
            ("Digest ,a=1", Fault::BadChar, 7),
            ("Digest a=1,", Fault::Truncated, 11),
            ("Digest a=1 b=2", Fault::BadChar, 11),
            ("Digest a=1;b=2", Fault::BadChar, 10),
            ("Digest uri=sip:bob@h", Fault::BadChar, 14),
            ("Digest nc=1", Fault::BadNumber, 10),
            ("Digest nc=0000000g", Fault::BadNumber, 10),
            ("Digest userhash=yes", Fault::Malformed, 16),
            ("Digest\"x\"", Fault::BadChar, 6),
            ("@ x=1", Fault::BadChar, 0),
            ("Basic a b", Fault::Malformed, 8),
        ];
        for (s, f, at) in cases {
            let e = cred(s).unwrap_err();
            assert_eq!((e.what, e.fault, e.at), (Where::Auth, *f, *at), "{s}");
        }
    }

    #[test]
    fn param_count_is_bounded() {
        let mut s = String::from("Digest username=\"u\"");
        for i in 0..20 {
            s.push_str(&format!(", x{i}=1"));
        }
        let limits = Limits {
            max_params: 8,
            ..Limits::DEFAULT
        };
        let e = Credentials::parse(s.as_bytes(), &limits).unwrap_err();
        assert_eq!(e.fault, Fault::TooMany);
        let e = Challenge::parse(s.as_bytes(), &limits).unwrap_err();
        assert_eq!(e.fault, Fault::TooMany);
        assert!(Credentials::parse(s.as_bytes(), &Limits::DEFAULT).is_ok());
    }

    #[test]
    fn digest_challenge() {
        let c = chal(
            "Digest realm=\"atlanta.example.com\", qop=\"auth,auth-int\", \
             nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", opaque=\"\", stale=FALSE, algorithm=MD5",
        )
        .unwrap();
        assert!(c.is_digest());
        assert_eq!(c.realm, Some(&b"atlanta.example.com"[..]));
        assert_eq!(c.nonce, Some(&b"ea9c8e88df84f1cec4341ae6cbe5a359"[..]));
        assert_eq!(c.opaque, Some(&b""[..]));
        assert!(!c.stale);
        assert_eq!(c.algorithm_kind(), Algorithm::Md5);
        let q: Vec<_> = c.qop_options().collect();
        assert_eq!(q, vec![&b"auth"[..], b"auth-int"]);
        assert!(c.offers_qop(b"AUTH-INT"));
        assert!(!c.offers_qop(b"auth-conf"));

        let c = chal(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, \
             nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\", stale=true, charset=UTF-8, \
             userhash=true, domain=\"sip:a.example sip:b.example\"",
        )
        .unwrap();
        assert!(c.stale && c.userhash);
        assert_eq!(c.algorithm_kind(), Algorithm::Sha256);
        assert_eq!(c.charset, Some(&b"UTF-8"[..]));
        assert_eq!(c.qop_options().count(), 2);
        let d: Vec<_> = c.domains().collect();
        assert_eq!(d, vec![&b"sip:a.example"[..], b"sip:b.example"]);
        assert_eq!(c.params().count(), 9);
    }

    #[test]
    fn bad_challenges() {
        let cases: &[(&str, Fault)] = &[
            ("Digest", Fault::Truncated),
            ("Digest realm=\"x", Fault::Unclosed),
            ("Digest realm=a, nonce=b, realm=c", Fault::Duplicate),
            ("Digest stale=maybe", Fault::Malformed),
            ("Digest stale=true, stale=false", Fault::Duplicate),
            ("Digest userhash=1", Fault::Malformed),
            ("Digest realm=\"a\" nonce=\"b\"", Fault::BadChar),
        ];
        for (s, f) in cases {
            let e = chal(s).unwrap_err();
            assert_eq!((e.what, e.fault), (Where::Auth, *f), "{s}");
        }
        let c = chal("Bearer realm=\"example\", scope=\"x\"").unwrap();
        assert!(!c.is_digest());
        assert_eq!(c.param(b"scope"), Some(&b"x"[..]));
    }

    #[test]
    fn through_the_message_index() {
        use crate::sip::{HeaderName, SipMsg};
        let m = format!(
            "REGISTER sip:biloxi.com SIP/2.0\r\nAuthorization: {BOB}\r\nProxy-Authorization: Digest\r\n username=\"p\",\r\n\trealm=\"r\"\r\n\r\n"
        );
        let m = SipMsg::parse(m.as_bytes()).unwrap();
        let c = m.credentials(HeaderName::Authorization).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].username, Some(&b"bob"[..]));
        let p = m.credentials(HeaderName::ProxyAuthorization).unwrap();
        assert_eq!(
            (p[0].username, p[0].realm),
            (Some(&b"p"[..]), Some(&b"r"[..]))
        );
        let buf = b"SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"x\", stale=perhaps\r\n\r\n";
        let m = SipMsg::parse(buf).unwrap();
        let e = m.challenges(HeaderName::WwwAuthenticate).unwrap_err();
        let at = buf.iter().position(|&b| b == b'p').unwrap();
        assert_eq!(
            (e.what, e.fault, e.at as usize),
            (Where::Auth, Fault::Malformed, at)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let base = BOB.as_bytes();
        for n in 0..=base.len() {
            let _ = Credentials::parse(&base[..n], &Limits::DEFAULT);
            let _ = Challenge::parse(&base[..n], &Limits::DEFAULT);
        }
        let mut buf = base.to_vec();
        for i in 0..buf.len() {
            for b in [0u8, b' ', b',', b'"', b'=', b'\\', 0xff] {
                let old = buf[i];
                buf[i] = b;
                if let Ok(c) = Credentials::parse(&buf, &Limits::DEFAULT) {
                    let _ = c.params().count();
                }
                buf[i] = old;
            }
        }
    }
}
