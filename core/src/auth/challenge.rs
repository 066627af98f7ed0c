//! Building challenges: the values of `WWW-Authenticate` (401) and
//! `Proxy-Authenticate` (407), and whole header lines as `www_challenge` /
//! `proxy_challenge` add them to the reply or as SER 2.0 puts them in
//! `$digest_challenge` for `append_to_reply`.
//!
//! ```text
//! WWW-Authenticate: Digest realm="biloxi.com", nonce="...", qop="auth", algorithm=MD5, stale=true
//! ```
//!
//! `qop` is present when the challenge asks for it (`www_challenge(realm,
//! "1")`, or the `qop` module parameter for SER 2.0's challenges),
//! `stale=true` when the credentials were refused for their nonce only.
//! When both SHA-256 and MD5 are offered, RFC 7616 3.7 puts one challenge
//! per algorithm, the preferred first: two header lines, SHA-256 first,
//! each with its own nonce.
//!
//! The realm is written as a quoted-string (`"` and `\` escaped); an
//! empty realm argument means the host of the To URI for REGISTER and of
//! the From URI otherwise ([`realm_of`]), as SER and Kamailio do.

use std::borrow::Cow;

use super::digest::Hash;
use crate::sip::host::Host;
use crate::sip::{Method, SipMsg};

/// Which challenge header (and reply code) is meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `WWW-Authenticate` in a 401, answered in `Authorization`.
    Www,
    /// `Proxy-Authenticate` in a 407, answered in `Proxy-Authorization`.
    Proxy,
}

impl Kind {
    /// The challenge header name.
    pub const fn challenge_header(self) -> &'static str {
        match self {
            Kind::Www => "WWW-Authenticate",
            Kind::Proxy => "Proxy-Authenticate",
        }
    }

    /// The credentials header that answers this challenge.
    pub const fn credentials_header(self) -> crate::sip::HeaderName {
        match self {
            Kind::Www => crate::sip::HeaderName::Authorization,
            Kind::Proxy => crate::sip::HeaderName::ProxyAuthorization,
        }
    }

    /// The reply code that carries the challenge.
    pub const fn status(self) -> u16 {
        match self {
            Kind::Www => 401,
            Kind::Proxy => 407,
        }
    }
}

/// Whether a challenge asks for `qop=auth`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum QopOffer {
    /// No `qop`: RFC 2069 responses (SER's `www_challenge(realm, "0")`).
    #[default]
    None,
    /// `qop="auth"`.
    Auth,
}

impl QopOffer {
    /// The `qop` of a `www_challenge` / `proxy_challenge` flags argument:
    /// SER's `"0"` / `"1"`, or Kamailio's bit mask, where 1 asks for
    /// `auth` and 2 for `auth-int` (not supported: `auth` is offered
    /// instead). Also returns bit 16, "stale=true".
    pub fn from_flags(flags: i64) -> (QopOffer, bool) {
        let qop = if flags & 3 != 0 {
            QopOffer::Auth
        } else {
            QopOffer::None
        };
        (qop, flags & 16 != 0)
    }
}

/// Which algorithms challenges offer (`algorithm` module parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Offer {
    /// `algorithm=MD5` (the default; what every SIP phone speaks).
    #[default]
    Md5,
    /// `algorithm=SHA-256` only.
    Sha256,
    /// Two challenges, `SHA-256` then `MD5` (RFC 7616 3.7; RFC 8760 for
    /// SIP): clients that know SHA-256 use it, the others fall back.
    Sha256AndMd5,
}

impl Offer {
    /// The algorithms in the order they are offered.
    pub fn hashes(self) -> &'static [Hash] {
        match self {
            Offer::Md5 => &[Hash::Md5],
            Offer::Sha256 => &[Hash::Sha256],
            Offer::Sha256AndMd5 => &[Hash::Sha256, Hash::Md5],
        }
    }

    /// Parses the `algorithm` parameter: `MD5`, `SHA-256`, or both
    /// separated by a comma (an extension of Kamailio's single value);
    /// `""` is MD5. `None` for anything else.
    pub fn parse(s: &str) -> Option<Offer> {
        let mut md5 = false;
        let mut sha = false;
        for a in s.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            if a.eq_ignore_ascii_case("MD5") {
                md5 = true;
            } else if a.eq_ignore_ascii_case("SHA-256") {
                sha = true;
            } else {
                return None;
            }
        }
        Some(match (sha, md5) {
            (true, true) => Offer::Sha256AndMd5,
            (true, false) => Offer::Sha256,
            _ => Offer::Md5,
        })
    }
}

/// What one challenge says besides its nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChallengeSpec<'a> {
    pub realm: &'a [u8],
    pub qop: QopOffer,
    pub hash: Hash,
    pub stale: bool,
    /// An `opaque` to echo, if any (none by default).
    pub opaque: Option<&'a [u8]>,
}

/// Appends `s` as a quoted-string.
fn push_quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        // CR and LF cannot be carried in a header value at all.
        if b == b'\r' || b == b'\n' {
            continue;
        }
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Appends the challenge value (`Digest realm=..., nonce=..., ...`).
pub fn push_value(out: &mut Vec<u8>, spec: &ChallengeSpec<'_>, nonce: &[u8]) {
    out.extend_from_slice(b"Digest realm=");
    push_quoted(out, spec.realm);
    out.extend_from_slice(b", nonce=");
    push_quoted(out, nonce);
    if let Some(o) = spec.opaque {
        out.extend_from_slice(b", opaque=");
        push_quoted(out, o);
    }
    if spec.qop == QopOffer::Auth {
        out.extend_from_slice(b", qop=\"auth\"");
    }
    out.extend_from_slice(b", algorithm=");
    out.extend_from_slice(spec.hash.name().as_bytes());
    if spec.stale {
        out.extend_from_slice(b", stale=true");
    }
}

/// The challenge value alone.
pub fn value(spec: &ChallengeSpec<'_>, nonce: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + spec.realm.len() + nonce.len());
    push_value(&mut out, spec, nonce);
    out
}

/// Appends a whole header line: name, value and CRLF.
pub fn push_header(out: &mut Vec<u8>, kind: Kind, spec: &ChallengeSpec<'_>, nonce: &[u8]) {
    out.extend_from_slice(kind.challenge_header().as_bytes());
    out.extend_from_slice(b": ");
    push_value(out, spec, nonce);
    out.extend_from_slice(b"\r\n");
}

/// The realm of a request whose realm argument is empty: the host of the
/// To URI for REGISTER (the user being registered), of the From URI for
/// anything else. `None` if that header is missing or malformed.
pub fn realm_of<'m>(msg: &SipMsg<'m>) -> Option<Cow<'m, [u8]>> {
    let addr = if msg.method() == Some(Method::Register) {
        msg.to().ok()?
    } else {
        msg.from().ok()?
    };
    host_bytes(addr.uri.host()?)
}

fn host_bytes(h: Host<'_>) -> Option<Cow<'_, [u8]>> {
    match h {
        Host::Name(n) | Host::V6(_, n) => Some(Cow::Borrowed(n)),
        Host::V4(a) => Some(Cow::Owned(a.to_string().into_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Limits;
    use crate::sip::auth::Challenge;

    #[test]
    fn values_parse_back() {
        let spec = ChallengeSpec {
            realm: b"biloxi.com",
            qop: QopOffer::Auth,
            hash: Hash::Md5,
            stale: true,
            opaque: None,
        };
        let v = value(&spec, b"abc");
        assert_eq!(
            v,
            b"Digest realm=\"biloxi.com\", nonce=\"abc\", qop=\"auth\", algorithm=MD5, stale=true"
        );
        let c = Challenge::parse(&v, &Limits::DEFAULT).unwrap();
        assert_eq!(c.realm, Some(&b"biloxi.com"[..]));
        assert!(c.stale && c.offers_qop(b"auth"));

        let spec = ChallengeSpec {
            realm: b"a\"b\\c\r\n",
            qop: QopOffer::None,
            hash: Hash::Sha256,
            stale: false,
            opaque: Some(b"op"),
        };
        let mut h = Vec::new();
        push_header(&mut h, Kind::Proxy, &spec, b"n");
        assert_eq!(
            h,
            b"Proxy-Authenticate: Digest realm=\"a\\\"b\\\\c\", nonce=\"n\", opaque=\"op\", \
              algorithm=SHA-256\r\n"
        );
        let c = Challenge::parse(&h[20..h.len() - 2], &Limits::DEFAULT).unwrap();
        assert_eq!(c.realm, Some(&b"a\\\"b\\\\c"[..]));
        assert_eq!(c.qop, None);
        assert!(!c.stale);
    }

    #[test]
    fn flags_and_offers() {
        assert_eq!(QopOffer::from_flags(0), (QopOffer::None, false));
        assert_eq!(QopOffer::from_flags(1), (QopOffer::Auth, false));
        assert_eq!(QopOffer::from_flags(2), (QopOffer::Auth, false));
        assert_eq!(QopOffer::from_flags(16), (QopOffer::None, true));
        assert_eq!(QopOffer::from_flags(17), (QopOffer::Auth, true));
        assert_eq!(Offer::parse(""), Some(Offer::Md5));
        assert_eq!(Offer::parse("md5"), Some(Offer::Md5));
        assert_eq!(Offer::parse("SHA-256"), Some(Offer::Sha256));
        assert_eq!(Offer::parse("SHA-256, MD5"), Some(Offer::Sha256AndMd5));
        assert_eq!(Offer::parse("MD5,SHA-256"), Some(Offer::Sha256AndMd5));
        assert_eq!(Offer::parse("SHA-512"), None);
        assert_eq!(Offer::Sha256AndMd5.hashes(), &[Hash::Sha256, Hash::Md5]);
        assert_eq!(Kind::Www.status(), 401);
        assert_eq!(Kind::Proxy.challenge_header(), "Proxy-Authenticate");
    }

    #[test]
    fn realm_from_to_or_from() {
        let reg = b"REGISTER sip:reg.example SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
            From: <sip:a@from.example>;tag=1\r\nTo: <sip:a@to.example>\r\nCall-ID: c\r\n\
            CSeq: 1 REGISTER\r\n\r\n";
        let m = SipMsg::parse(reg).unwrap();
        assert_eq!(realm_of(&m).as_deref(), Some(&b"to.example"[..]));
        let inv = b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
            From: <sip:a@192.0.2.7>;tag=1\r\nTo: <sip:b@to.example>\r\nCall-ID: c\r\n\
            CSeq: 1 INVITE\r\n\r\n";
        let m = SipMsg::parse(inv).unwrap();
        assert_eq!(realm_of(&m).as_deref(), Some(&b"192.0.2.7"[..]));
        let bad = b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
            To: <sip:b@to.example>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
        let m = SipMsg::parse(bad).unwrap();
        assert_eq!(realm_of(&m), None);
    }
}
