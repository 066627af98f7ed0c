//! CSeq (RFC 3261 20.16): `CSeq = "CSeq" HCOLON 1*DIGIT LWS Method`.
//!
//! The sequence number must be less than 2**31 (RFC 3261 8.1.1.5); a larger
//! one is [`Fault::BadNumber`]. Leading zeros are accepted (`1*DIGIT`), and
//! the LWS between number and method may be folded.

use super::error::{Fault, Result, Where, err};
use super::lex;
use super::method::Method;

/// The largest sequence number RFC 3261 allows (2**31 - 1).
pub const MAX_CSEQ: u32 = (1 << 31) - 1;

/// A CSeq value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub num: u32,
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    /// Parses a CSeq header value. Error offsets are relative to `s`.
    pub fn parse(s: &'a [u8]) -> Result<CSeq<'a>> {
        const W: Where = Where::CSeq;
        let n = s.len();
        let mut i = lex::skip_lws(s, 0);
        if i >= n {
            return Err(err(W, Fault::Empty, i));
        }
        let ds = i;
        let mut num: u64 = 0;
        while let Some(&b) = s.get(i) {
            if !b.is_ascii_digit() {
                break;
            }
            num = num * 10 + u64::from(b - b'0');
            if num > u64::from(MAX_CSEQ) {
                return Err(err(W, Fault::BadNumber, ds));
            }
            i += 1;
        }
        if i == ds {
            return Err(err(W, Fault::BadNumber, ds));
        }
        let Ok(num) = u32::try_from(num) else {
            return Err(err(W, Fault::BadNumber, ds));
        };
        let ws = i;
        i = lex::skip_lws(s, i);
        if i == ws {
            let f = if i >= n {
                Fault::Truncated
            } else {
                Fault::BadChar
            };
            return Err(err(W, f, i));
        }
        if i >= n {
            return Err(err(W, Fault::Truncated, i));
        }
        let ms = i;
        while s.get(i).is_some_and(|&b| lex::is_token(b)) {
            i += 1;
        }
        let me = i;
        let after = lex::skip_lws(s, me);
        if me == ms || after != n {
            return Err(err(W, Fault::BadChar, after));
        }
        let method = s
            .get(ms..me)
            .and_then(Method::parse)
            .ok_or(err(W, Fault::BadChar, ms))?;
        Ok(CSeq { num, method })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> CSeq<'_> {
        CSeq::parse(s.as_bytes()).unwrap()
    }

    fn bad(s: &str) -> (Fault, u32) {
        let e = CSeq::parse(s.as_bytes()).unwrap_err();
        assert_eq!(e.what, Where::CSeq);
        (e.fault, e.at)
    }

    #[test]
    fn good() {
        let c = ok("4711 INVITE");
        assert_eq!((c.num, c.method), (4711, Method::Invite));
        assert_eq!(ok("0 ACK").num, 0);
        assert_eq!(ok("  1\t\tBYE  ").method, Method::Bye);
        assert_eq!(ok("2147483647 REGISTER").num, MAX_CSEQ);
        assert_eq!(ok("0000000000000000000042 OPTIONS").num, 42);
        assert_eq!(
            ok("7 x-Custom.method").method,
            Method::Other(b"x-Custom.method")
        );
        // Folded LWS between the number and the method.
        assert_eq!(ok("101\r\n INVITE").method, Method::Invite);
        assert_eq!(ok("101 \r\n\tINVITE").num, 101);
        // Methods are case-sensitive: `invite` is an extension method.
        assert_eq!(ok("1 invite").method, Method::Other(b"invite"));
    }

    #[test]
    fn bad_values() {
        assert_eq!(bad(""), (Fault::Empty, 0));
        assert_eq!(bad("  "), (Fault::Empty, 2));
        assert_eq!(bad("2147483648 INVITE"), (Fault::BadNumber, 0));
        assert_eq!(bad("99999999999999999999999 INVITE"), (Fault::BadNumber, 0));
        assert_eq!(bad("INVITE"), (Fault::BadNumber, 0));
        assert_eq!(bad("-1 INVITE"), (Fault::BadNumber, 0));
        assert_eq!(bad("1"), (Fault::Truncated, 1));
        assert_eq!(bad("1   "), (Fault::Truncated, 4));
        assert_eq!(bad("1INVITE"), (Fault::BadChar, 1));
        assert_eq!(bad("1 INVITE extra"), (Fault::BadChar, 9));
        assert_eq!(bad("1 INV@TE"), (Fault::BadChar, 5));
        assert_eq!(bad("1 @"), (Fault::BadChar, 2));
        assert_eq!(bad("1.5 INVITE"), (Fault::BadChar, 1));
    }
}
