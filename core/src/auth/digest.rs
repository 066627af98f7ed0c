//! Digest computations (RFC 2617 3.2.2, RFC 7616 3.4): HA1, HA2 and the
//! `response`, for MD5 and SHA-256 and their `-sess` variants, and the
//! check of a `response` against a stored password or HA1.
//!
//! Every hash is written as lower-case hex, as the RFCs require, into a
//! fixed buffer ([`Hex`]): nothing here allocates. Inputs are used as they
//! were written in the credentials (quoted-string values without their
//! quotes, escapes left in place), which is what user agents hash and what
//! SER and Kamailio do.
//!
//! Only `qop=auth` and the RFC 2069 form without `qop` are computed:
//! `auth-int` (a hash of the body in HA2) is not supported, and credentials
//! that ask for it are refused by [`Digest::from_credentials`].

use md5::Md5;
use sha2::{Digest as _, Sha256};

use crate::sip::auth::{Algorithm, Credentials};

/// A hash function of digest authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hash {
    Md5,
    Sha256,
}

impl Hash {
    /// Length of one digest in hex (32 or 64).
    pub const fn hex_len(self) -> usize {
        match self {
            Hash::Md5 => 32,
            Hash::Sha256 => 64,
        }
    }

    /// The `algorithm` token of a challenge (`MD5`, `SHA-256`).
    pub const fn name(self) -> &'static str {
        match self {
            Hash::Md5 => "MD5",
            Hash::Sha256 => "SHA-256",
        }
    }

    /// The hash and whether it is the `-sess` variant; `None` for
    /// algorithms this router does not compute (SHA-512-256, AKA, ...).
    pub fn of(a: Algorithm<'_>) -> Option<(Hash, bool)> {
        match a {
            Algorithm::Md5 => Some((Hash::Md5, false)),
            Algorithm::Md5Sess => Some((Hash::Md5, true)),
            Algorithm::Sha256 => Some((Hash::Sha256, false)),
            Algorithm::Sha256Sess => Some((Hash::Sha256, true)),
            _ => None,
        }
    }

    /// `H(p1 ":" p2 ":" ...)` in lower-case hex.
    pub fn of_parts(self, parts: &[&[u8]]) -> Hex {
        match self {
            Hash::Md5 => {
                let mut h = Md5::new();
                feed(&mut h, parts);
                Hex::from_bytes(&h.finalize())
            }
            Hash::Sha256 => {
                let mut h = Sha256::new();
                feed(&mut h, parts);
                Hex::from_bytes(&h.finalize())
            }
        }
    }
}

fn feed<D: sha2::Digest>(h: &mut D, parts: &[&[u8]]) {
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p);
    }
}

/// A digest in lower-case hex (32 bytes for MD5, 64 for SHA-256).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex {
    buf: [u8; 64],
    len: u8,
}

impl Hex {
    fn from_bytes(raw: &[u8]) -> Hex {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 64];
        let mut len = 0usize;
        for (&b, pair) in raw.iter().zip(buf.chunks_exact_mut(2)) {
            if let [hi, lo] = pair {
                *hi = DIGITS[usize::from(b >> 4)];
                *lo = DIGITS[usize::from(b & 0xf)];
                len += 2;
            }
        }
        Hex {
            buf,
            len: len as u8,
        }
    }

    /// A stored hex digest (an `ha1` column), lower-cased; `None` unless
    /// it is 32 or 64 hex digits.
    pub fn parse(s: &[u8]) -> Option<Hex> {
        if (s.len() != 32 && s.len() != 64) || !s.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut buf = [0u8; 64];
        for (d, &c) in buf.iter_mut().zip(s) {
            *d = c.to_ascii_lowercase();
        }
        Some(Hex {
            buf,
            len: s.len() as u8,
        })
    }

    /// The hex digits.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The hex digits as text (always ASCII).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl core::fmt::Debug for Hex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `HA1 = H(username ":" realm ":" password)`.
pub fn ha1(hash: Hash, username: &[u8], realm: &[u8], password: &[u8]) -> Hex {
    hash.of_parts(&[username, realm, password])
}

/// The session key of a `-sess` algorithm: `H(HA1 ":" nonce ":" cnonce)`,
/// HA1 being the hex of the plain one.
pub fn ha1_sess(hash: Hash, ha1: &Hex, nonce: &[u8], cnonce: &[u8]) -> Hex {
    hash.of_parts(&[ha1.as_bytes(), nonce, cnonce])
}

/// `HA2 = H(method ":" digest-uri)` (`qop=auth` or no `qop`).
pub fn ha2(hash: Hash, method: &[u8], uri: &[u8]) -> Hex {
    hash.of_parts(&[method, uri])
}

/// The quality of protection of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qop<'a> {
    /// No `qop`: the RFC 2069 response `H(HA1 ":" nonce ":" HA2)`.
    None,
    /// `qop=auth`: `H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)`,
    /// with `nc` (8 hex digits), `cnonce` and the `qop` token as the
    /// client wrote them.
    Auth {
        nc: &'a [u8],
        cnonce: &'a [u8],
        qop: &'a [u8],
    },
}

/// The `response` for this HA1 (already the session key for `-sess`) and
/// HA2.
pub fn response(hash: Hash, ha1: &Hex, nonce: &[u8], qop: Qop<'_>, ha2: &Hex) -> Hex {
    match qop {
        Qop::None => hash.of_parts(&[ha1.as_bytes(), nonce, ha2.as_bytes()]),
        Qop::Auth { nc, cnonce, qop } => {
            hash.of_parts(&[ha1.as_bytes(), nonce, nc, cnonce, qop, ha2.as_bytes()])
        }
    }
}

/// Equality of two byte strings in a time that depends only on their
/// lengths (never on where they differ), ASCII case folded: a `response`
/// compared this way leaks nothing about how much of it was right.
pub fn ct_eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    });
    core::hint::black_box(diff) == 0
}

/// Why credentials cannot be checked at all (Kamailio's "bad
/// credentials": answered `-1`, or `-3` / `400` by SER 2.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// No credentials for the realm, and a credentials header that does
    /// not parse.
    Unparsable,
    /// Not the `Digest` scheme.
    NotDigest,
    /// `username`, `realm`, `nonce`, `uri` or `response` missing, or
    /// `cnonce` / `nc` missing with `qop`.
    Missing,
    /// An `algorithm` other than MD5, SHA-256 and their `-sess` forms.
    UnsupportedAlgorithm,
    /// `qop=auth-int`, which needs a hash of the body.
    AuthIntUnsupported,
    /// A `qop` value that is neither `auth` nor `auth-int`.
    BadQop,
    /// A `-sess` algorithm without `cnonce`.
    SessWithoutCnonce,
    /// A `response` that is not hex of the algorithm's length.
    BadResponse,
    /// RFC 7616 `userhash=true` (not supported).
    UserhashUnsupported,
}

/// Digest credentials checked for what a computation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest<'a> {
    pub hash: Hash,
    pub sess: bool,
    pub username: &'a [u8],
    pub realm: &'a [u8],
    pub nonce: &'a [u8],
    pub uri: &'a [u8],
    pub qop: Qop<'a>,
    /// The nonce count as a number (with `qop` only).
    pub nc: Option<u32>,
    pub cnonce: Option<&'a [u8]>,
    pub response: &'a [u8],
}

impl<'a> Digest<'a> {
    /// Checks parsed credentials: every required directive present, a
    /// supported algorithm and qop, a `response` of the right length.
    pub fn from_credentials(c: &Credentials<'a>) -> Result<Digest<'a>, Malformed> {
        if !c.is_digest() {
            return Err(Malformed::NotDigest);
        }
        if c.check_digest().is_err() {
            return Err(Malformed::Missing);
        }
        let (Some(username), Some(realm), Some(nonce), Some(uri), Some(response)) =
            (c.username, c.realm, c.nonce, c.uri, c.response)
        else {
            return Err(Malformed::Missing);
        };
        if c.is_userhash() {
            return Err(Malformed::UserhashUnsupported);
        }
        let (hash, sess) = Hash::of(c.algorithm_kind()).ok_or(Malformed::UnsupportedAlgorithm)?;
        let qop = match c.qop {
            None => Qop::None,
            Some(q) if q.eq_ignore_ascii_case(b"auth") => match (c.nc, c.cnonce) {
                (Some(nc), Some(cnonce)) => Qop::Auth { nc, cnonce, qop: q },
                _ => return Err(Malformed::Missing),
            },
            Some(q) if q.eq_ignore_ascii_case(b"auth-int") => {
                return Err(Malformed::AuthIntUnsupported);
            }
            Some(_) => return Err(Malformed::BadQop),
        };
        if sess && c.cnonce.is_none() {
            return Err(Malformed::SessWithoutCnonce);
        }
        if response.len() != hash.hex_len() || !response.iter().all(u8::is_ascii_hexdigit) {
            return Err(Malformed::BadResponse);
        }
        Ok(Digest {
            hash,
            sess,
            username,
            realm,
            nonce,
            uri,
            nc: match qop {
                Qop::None => None,
                Qop::Auth { .. } => c.nc_value(),
            },
            qop,
            cnonce: c.cnonce,
            response,
        })
    }

    /// The `response` a client knowing `ha1` (the plain HA1 of
    /// `self.hash`, not the session key) computes for `method`.
    pub fn expected(&self, method: &[u8], ha1: &Hex) -> Hex {
        let key = match (self.sess, self.cnonce) {
            (true, Some(cnonce)) => ha1_sess(self.hash, ha1, self.nonce, cnonce),
            _ => *ha1,
        };
        let ha2 = ha2(self.hash, method, self.uri);
        response(self.hash, &key, self.nonce, self.qop, &ha2)
    }

    /// Whether the client's `response` is right for `ha1` (constant-time
    /// comparison). An HA1 of another algorithm's length never matches.
    pub fn verify_ha1(&self, method: &[u8], ha1: &Hex) -> bool {
        if ha1.as_bytes().len() != self.hash.hex_len() {
            return false;
        }
        ct_eq_ignore_case(self.expected(method, ha1).as_bytes(), self.response)
    }

    /// Whether the client's `response` is right for a plain `password`
    /// (HA1 computed from the `username` and `realm` of the credentials).
    pub fn verify_password(&self, method: &[u8], password: &[u8]) -> bool {
        let h = ha1(self.hash, self.username, self.realm, password);
        self.verify_ha1(method, &h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Limits;

    fn cred(s: &str) -> Credentials<'_> {
        Credentials::parse(s.as_bytes(), &Limits::DEFAULT).unwrap()
    }

    /// RFC 2617 section 3.5.
    const MUFASA_2617: &str = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
        nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, \
        nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
        opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

    #[test]
    fn rfc2617_example() {
        let h = ha1(
            Hash::Md5,
            b"Mufasa",
            b"testrealm@host.com",
            b"Circle Of Life",
        );
        assert_eq!(h.as_str(), "939e7578ed9e3c518a452acee763bce9");
        let c = cred(MUFASA_2617);
        let d = Digest::from_credentials(&c).unwrap();
        assert_eq!((d.hash, d.sess, d.nc), (Hash::Md5, false, Some(1)));
        assert_eq!(
            d.expected(b"GET", &h).as_str(),
            "6629fae49393a05397450978507c4ef1"
        );
        assert!(d.verify_password(b"GET", b"Circle Of Life"));
        assert!(d.verify_ha1(b"GET", &h));
        assert!(!d.verify_password(b"GET", b"Circle of Life"));
        assert!(!d.verify_password(b"POST", b"Circle Of Life"));
        // A stored HA1 in upper case is the same HA1.
        let upper = Hex::parse(b"939E7578ED9E3C518A452ACEE763BCE9").unwrap();
        assert!(d.verify_ha1(b"GET", &upper));
    }

    /// RFC 7616 section 3.9.1: the same exchange with MD5 and SHA-256.
    #[test]
    fn rfc7616_examples() {
        let base = "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", \
            uri=\"/dir/index.html\", qop=auth, nc=00000001, \
            cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", \
            nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
            opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
        let md5 = format!("{base}, algorithm=MD5, response=\"8ca523f5e9506fed4657c9700eebdbec\"");
        let c = cred(&md5);
        let d = Digest::from_credentials(&c).unwrap();
        assert!(d.verify_password(b"GET", b"Circle of Life"));
        let sha = format!(
            "{base}, algorithm=SHA-256, \
             response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""
        );
        let c = cred(&sha);
        let d = Digest::from_credentials(&c).unwrap();
        assert_eq!(d.hash, Hash::Sha256);
        assert!(d.verify_password(b"GET", b"Circle of Life"));
        assert!(!d.verify_password(b"GET", b"Circle Of Life"));
        // An MD5 HA1 cannot check a SHA-256 response.
        let md5_ha1 = ha1(
            Hash::Md5,
            b"Mufasa",
            b"http-auth@example.org",
            b"Circle of Life",
        );
        assert!(!d.verify_ha1(b"GET", &md5_ha1));
    }

    #[test]
    fn no_qop_and_sess() {
        // RFC 2069 form: H(HA1:nonce:HA2), computed here by hand.
        let h1 = ha1(Hash::Md5, b"bob", b"biloxi.com", b"zanzibar");
        let h2 = ha2(Hash::Md5, b"REGISTER", b"sip:biloxi.com");
        let want = Hash::Md5.of_parts(&[h1.as_bytes(), b"abc", h2.as_bytes()]);
        let s = format!(
            "Digest username=\"bob\", realm=\"biloxi.com\", nonce=\"abc\", \
             uri=\"sip:biloxi.com\", response=\"{}\"",
            want.as_str()
        );
        let c = cred(&s);
        let d = Digest::from_credentials(&c).unwrap();
        assert_eq!((d.qop, d.nc), (Qop::None, None));
        assert!(d.verify_password(b"REGISTER", b"zanzibar"));

        // MD5-sess: the key is H(HA1:nonce:cnonce).
        let key = ha1_sess(Hash::Md5, &h1, b"abc", b"cn");
        let want = response(
            Hash::Md5,
            &key,
            b"abc",
            Qop::Auth {
                nc: b"00000002",
                cnonce: b"cn",
                qop: b"auth",
            },
            &h2,
        );
        let s = format!(
            "Digest username=\"bob\", realm=\"biloxi.com\", nonce=\"abc\", uri=\"sip:biloxi.com\", \
             algorithm=MD5-sess, qop=auth, nc=00000002, cnonce=\"cn\", response=\"{}\"",
            want.as_str()
        );
        let c = cred(&s);
        let d = Digest::from_credentials(&c).unwrap();
        assert!(d.sess);
        assert!(d.verify_password(b"REGISTER", b"zanzibar"));
        assert!(d.verify_ha1(b"REGISTER", &h1));
    }

    #[test]
    fn refused_credentials() {
        let ok = "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", \
                  response=\"00000000000000000000000000000000\"";
        assert!(Digest::from_credentials(&cred(ok)).is_ok());
        let cases: &[(&str, Malformed)] = &[
            ("Basic dTpw", Malformed::NotDigest),
            ("Digest username=\"u\", realm=\"r\"", Malformed::Missing),
            (
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", qop=auth, \
                 response=\"00000000000000000000000000000000\"",
                Malformed::Missing,
            ),
            (
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", \
                 algorithm=SHA-512-256, response=\"00000000000000000000000000000000\"",
                Malformed::UnsupportedAlgorithm,
            ),
            (
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", qop=auth-int, \
                 nc=00000001, cnonce=\"c\", response=\"00000000000000000000000000000000\"",
                Malformed::AuthIntUnsupported,
            ),
            (
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", qop=conf, \
                 nc=00000001, cnonce=\"c\", response=\"00000000000000000000000000000000\"",
                Malformed::BadQop,
            ),
            (
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", \
                 algorithm=MD5-sess, response=\"00000000000000000000000000000000\"",
                Malformed::SessWithoutCnonce,
            ),
            (
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", \
                 response=\"0000\"",
                Malformed::BadResponse,
            ),
            (
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", \
                 algorithm=SHA-256, response=\"00000000000000000000000000000000\"",
                Malformed::BadResponse,
            ),
            (
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", \
                 response=\"0000000000000000000000000000000g\"",
                Malformed::BadResponse,
            ),
            (
                "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", userhash=true, \
                 response=\"00000000000000000000000000000000\"",
                Malformed::UserhashUnsupported,
            ),
        ];
        for (s, want) in cases {
            assert_eq!(Digest::from_credentials(&cred(s)), Err(*want), "{s}");
        }
    }

    #[test]
    fn hex_and_comparison() {
        assert!(Hex::parse(b"abc").is_none());
        assert!(Hex::parse(&[b'g'; 32]).is_none());
        assert_eq!(Hex::parse(&[b'A'; 64]).unwrap().as_bytes(), &[b'a'; 64][..]);
        assert!(ct_eq_ignore_case(b"abcDEF", b"ABCdef"));
        assert!(!ct_eq_ignore_case(b"abc", b"abd"));
        assert!(!ct_eq_ignore_case(b"abc", b"abcd"));
        assert_eq!(
            ha1(Hash::Sha256, b"a", b"b", b"c").as_bytes().len(),
            Hash::Sha256.hex_len()
        );
    }
}
