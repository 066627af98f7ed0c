//! Script values and the operators on them.
//!
//! A [`Value`] is `Null`, an `Int` or a `Str` of bytes. Strings borrow from
//! the message or the program whenever they can ([`Cow::Borrowed`]); only
//! values computed at run time (concatenations, rewritten URIs, AVPs) own
//! their bytes.
//!
//! # Semantics
//!
//! - **Truth** (ir.rs): `Int(n)` is `n > 0`, `Str(s)` is non-empty, `Null`
//!   is false.
//! - **Equality** (`==`, `!=`): `Int`/`Int` numerically; `Str`/`Str`
//!   bytewise (case-sensitive, as Kamailio's `==` on strings); `Int`/`Str`
//!   numerically when the string is an integer (`"10" == 10`), else the
//!   int's decimal text is compared with the string; `Null` equals `Null`
//!   and the empty string only (so `$rU == $null` holds for a URI without
//!   user, and an unset AVP is not equal to `0`). Two strings that both
//!   hold IP addresses are also equal when the addresses are (`::1` and
//!   `0:0::1`), or when one is a network `addr/mask` holding the other
//!   (`src_ip == 10.0.0.0/8`, as SER compares addresses).
//! - **Ordering** (`<`, `>`, `<=`, `>=`): as equality for the types; a
//!   `Null` operand counts as `0` against an `Int` and as `""` against a
//!   string (Kamailio reads a null pseudo-variable as 0 in an integer
//!   context), two `Null`s are equal.
//! - **`+`**: two ints (or an int and `Null`) add (wrapping on overflow);
//!   if either side is a string both are concatenated as text (`Null` is
//!   the empty string); `Null + Null` is `Null`. A concatenation longer
//!   than [`MAX_STR_LEN`] is an error (a loop cannot grow a string
//!   without bound).
//! - **`-`, `*`, `/`, `%`**: integers (a string operand must hold an
//!   integer, `Null` is 0); `-` and `*` wrap on overflow, division or
//!   modulo by zero (or `i64::MIN / -1`) is an error.
//! - **Unary `-`**: the same integer rules.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::net::IpAddr;

use crate::sip::host::{parse_v4, parse_v6};

/// Longest string an operator or a format may produce (64 KiB, the size of
/// the largest SIP message the router accepts).
pub const MAX_STR_LEN: usize = 65_536;

/// A script value.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Value<'a> {
    #[default]
    Null,
    Int(i64),
    Str(Cow<'a, [u8]>),
}

/// Why an operator could not be evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// An operand of an integer operator is not an integer.
    NotAnInt {
        op: &'static str,
        value: String,
    },
    DivisionByZero,
    Overflow(&'static str),
    TooLong,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::NotAnInt { op, value } => {
                write!(f, "operand of `{op}` is not an integer: {value}")
            }
            EvalError::DivisionByZero => f.write_str("division by zero"),
            EvalError::Overflow(op) => write!(f, "integer overflow in `{op}`"),
            EvalError::TooLong => write!(f, "string longer than {MAX_STR_LEN} bytes"),
        }
    }
}

/// The decimal text of an `i64`, formatted on the stack.
#[derive(Clone, Copy)]
pub struct IntText {
    buf: [u8; 20],
    start: u8,
}

impl IntText {
    #[inline]
    pub fn new(n: i64) -> IntText {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let neg = n < 0;
        let mut u = n.unsigned_abs();
        loop {
            i -= 1;
            buf[i] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        if neg {
            i -= 1;
            buf[i] = b'-';
        }
        IntText {
            buf,
            start: i as u8,
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start as usize..).unwrap_or(&[])
    }
}

/// Splits `s` at the first `b`: the bytes before and after it.
#[inline]
pub(crate) fn split_once_byte(s: &[u8], b: u8) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(b, s)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Parses a decimal integer: optional `+`/`-`, then 1 to 19 digits, nothing
/// else (no blanks). `None` when the text is not an integer or overflows.
#[inline]
pub fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(if neg { -n } else { n })
}

impl<'a> Value<'a> {
    /// A string borrowed for `'a`.
    #[inline]
    pub fn str(s: &'a [u8]) -> Value<'a> {
        Value::Str(Cow::Borrowed(s))
    }

    /// An owned string.
    #[inline]
    pub fn owned(s: Vec<u8>) -> Value<'a> {
        Value::Str(Cow::Owned(s))
    }

    /// A string value from text (tests and functions).
    pub fn text(s: &str) -> Value<'static> {
        Value::Str(Cow::Owned(s.as_bytes().to_vec()))
    }

    #[inline]
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Truthiness (see the module docs).
    #[inline]
    pub fn is_true(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Int(n) => *n > 0,
            Value::Str(s) => !s.is_empty(),
        }
    }

    /// The value with owned bytes, borrowing nothing.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Int(n) => Value::Int(n),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
        }
    }

    /// An owned copy.
    pub fn to_owned_value(&self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Int(n) => Value::Int(*n),
            Value::Str(s) => Value::Str(Cow::Owned(s.to_vec())),
        }
    }

    /// A copy borrowing from `self` (no allocation).
    #[inline]
    pub fn reborrow(&self) -> Value<'_> {
        match self {
            Value::Null => Value::Null,
            Value::Int(n) => Value::Int(*n),
            Value::Str(s) => Value::Str(Cow::Borrowed(s)),
        }
    }

    /// The integer value: an `Int`, or a string holding an integer.
    #[inline]
    pub fn to_int(&self) -> Option<i64> {
        match self {
            Value::Null => None,
            Value::Int(n) => Some(*n),
            Value::Str(s) => parse_int(s),
        }
    }

    /// Calls `f` with the value as text: an int's decimal form, `""` for
    /// `Null`. Never allocates.
    #[inline]
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Value::Null => f(b""),
            Value::Int(n) => f(IntText::new(*n).as_bytes()),
            Value::Str(s) => f(s),
        }
    }

    /// The value as text (allocates only for an `Int`).
    pub fn to_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Value::Null => Cow::Borrowed(b""),
            Value::Int(n) => Cow::Owned(IntText::new(*n).as_bytes().to_vec()),
            Value::Str(s) => Cow::Borrowed(s),
        }
    }

    /// The value as text, consuming it.
    pub fn into_bytes(self) -> Cow<'a, [u8]> {
        match self {
            Value::Null => Cow::Borrowed(b""),
            Value::Int(n) => Cow::Owned(IntText::new(n).as_bytes().to_vec()),
            Value::Str(s) => s,
        }
    }

    /// Appends the value's text to `out` (`Null` appends nothing).
    pub fn append_to(&self, out: &mut Vec<u8>) {
        self.with_bytes(|b| out.extend_from_slice(b));
    }

    /// `==` (see the module docs).
    pub fn script_eq(&self, other: &Value<'_>) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Null, Value::Str(s)) | (Value::Str(s), Value::Null) => s.is_empty(),
            (Value::Null, Value::Int(_)) | (Value::Int(_), Value::Null) => false,
            (Value::Str(a), Value::Str(b)) => a == b || ip_eq(a, b),
            _ => self.script_cmp(other) == Ordering::Equal,
        }
    }

    /// Ordering for `<`, `>`, `<=`, `>=` (see the module docs).
    pub fn script_cmp(&self, other: &Value<'_>) -> Ordering {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Str(a), Value::Str(b)) => a.as_ref().cmp(b.as_ref()),
            (Value::Int(a), Value::Str(s)) => int_str_cmp(*a, s),
            (Value::Str(s), Value::Int(b)) => int_str_cmp(*b, s).reverse(),
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, Value::Int(b)) => 0.cmp(b),
            (Value::Int(a), Value::Null) => a.cmp(&0),
            (Value::Null, Value::Str(s)) => b"".as_slice().cmp(s.as_ref()),
            (Value::Str(s), Value::Null) => s.as_ref().cmp(b"".as_slice()),
        }
    }
}

/// Whether the text could be an IP address (cheap test before parsing).
#[inline]
fn maybe_ip(s: &[u8]) -> bool {
    s.first().is_some_and(|c| {
        c.is_ascii_digit()
            || *c == b'['
            || (*c == b':' || c.is_ascii_hexdigit()) && s.contains(&b':')
    })
}

/// An address, optionally with a `/mask`: `10.0.0.0/8`, `[2001:db8::]/32`.
fn parse_net(s: &[u8]) -> Option<(IpAddr, Option<u8>)> {
    let (addr, mask) = match split_once_byte(s, b'/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    let inner = addr
        .strip_prefix(b"[")
        .and_then(|a| a.strip_suffix(b"]"))
        .unwrap_or(addr);
    let ip = match parse_v4(inner) {
        Some(a) => IpAddr::V4(a),
        None => IpAddr::V6(parse_v6(inner)?),
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let mask = match mask {
        None => None,
        Some(m) => match parse_int(m) {
            Some(n) if (0..=max).contains(&n) && m.iter().all(u8::is_ascii_digit) => Some(n as u8),
            _ => return None,
        },
    };
    Some((ip, mask))
}

fn in_net(ip: IpAddr, net: IpAddr, mask: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = u32::MAX.checked_shl(32 - u32::from(mask)).unwrap_or(0);
            u32::from(a) & m == u32::from(n) & m
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = u128::MAX.checked_shl(128 - u32::from(mask)).unwrap_or(0);
            u128::from(a) & m == u128::from(n) & m
        }
        _ => false,
    }
}

/// `==` between two texts that hold IP addresses: equal addresses (in any
/// notation), or an address inside a network written `addr/mask` on the
/// other side (`src_ip == 10.0.0.0/8`, as SER compares IPs).
fn ip_eq(a: &[u8], b: &[u8]) -> bool {
    if !maybe_ip(a) || !maybe_ip(b) {
        return false;
    }
    match (parse_net(a), parse_net(b)) {
        (Some((x, None)), Some((y, None))) => x == y,
        (Some((x, None)), Some((n, Some(m)))) | (Some((n, Some(m))), Some((x, None))) => {
            in_net(x, n, m)
        }
        _ => false,
    }
}

#[inline]
fn int_str_cmp(a: i64, s: &[u8]) -> Ordering {
    match parse_int(s) {
        Some(b) => a.cmp(&b),
        None => IntText::new(a).as_bytes().cmp(s),
    }
}

fn int_operand(v: &Value<'_>, op: &'static str) -> Result<i64, EvalError> {
    match v {
        Value::Null => Ok(0),
        Value::Int(n) => Ok(*n),
        Value::Str(s) => parse_int(s).ok_or_else(|| EvalError::NotAnInt {
            op,
            value: format!("\"{}\"", String::from_utf8_lossy(s.get(..64).unwrap_or(s))),
        }),
    }
}

/// `lhs + rhs`.
pub fn add<'r>(lhs: Value<'r>, rhs: Value<'r>) -> Result<Value<'r>, EvalError> {
    match (&lhs, &rhs) {
        (Value::Null, Value::Null) => Ok(Value::Null),
        (Value::Int(a), Value::Int(b)) => Ok(Value::Int(a.wrapping_add(*b))),
        (Value::Int(_), Value::Null) => Ok(lhs),
        (Value::Null, Value::Int(_)) => Ok(rhs),
        _ => {
            let total = lhs.with_bytes(<[u8]>::len) + rhs.with_bytes(<[u8]>::len);
            if total > MAX_STR_LEN {
                return Err(EvalError::TooLong);
            }
            // Reuse the left string's buffer when it owns one.
            let mut out = match lhs {
                Value::Str(Cow::Owned(v)) => v,
                other => {
                    let mut v = Vec::with_capacity(total);
                    other.append_to(&mut v);
                    v
                }
            };
            rhs.append_to(&mut out);
            Ok(Value::Str(Cow::Owned(out)))
        }
    }
}

/// `lhs - rhs`, `lhs * rhs`, `lhs / rhs`, `lhs % rhs`: `op` is the symbol.
pub fn arith(op: &'static str, lhs: &Value<'_>, rhs: &Value<'_>) -> Result<i64, EvalError> {
    let a = int_operand(lhs, op)?;
    let b = int_operand(rhs, op)?;
    match op {
        "-" => Ok(a.wrapping_sub(b)),
        "*" => Ok(a.wrapping_mul(b)),
        "/" | "%" => {
            if b == 0 {
                return Err(EvalError::DivisionByZero);
            }
            let r = if op == "/" {
                a.checked_div(b)
            } else {
                a.checked_rem(b)
            };
            r.ok_or(EvalError::Overflow(op))
        }
        _ => Err(EvalError::Overflow(op)),
    }
}

/// Unary `-`.
pub fn neg(v: &Value<'_>) -> Result<i64, EvalError> {
    int_operand(v, "-").map(i64::wrapping_neg)
}

impl fmt::Display for Value<'_> {
    /// `<null>` for `Null` (as Kamailio's xlog prints it), the text
    /// otherwise (lossy UTF-8).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("<null>"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Str(s) => f.write_str(&String::from_utf8_lossy(s)),
        }
    }
}

impl From<i64> for Value<'_> {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Str(Cow::Borrowed(s.as_bytes()))
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(s: &'a [u8]) -> Self {
        Value::Str(Cow::Borrowed(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value<'_> {
        Value::from(x)
    }

    #[test]
    fn int_text_and_parse() {
        for n in [0, 1, -1, 42, i64::MAX, i64::MIN, -1000] {
            assert_eq!(IntText::new(n).as_bytes(), n.to_string().as_bytes());
        }
        assert_eq!(parse_int(b"42"), Some(42));
        assert_eq!(parse_int(b"-42"), Some(-42));
        assert_eq!(parse_int(b"+7"), Some(7));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"9223372036854775808"), None);
        for bad in [&b""[..], b"-", b"1a", b" 1", b"1.0", b"0x10"] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn truth() {
        assert!(!Value::Null.is_true());
        assert!(!Value::Int(0).is_true());
        assert!(!Value::Int(-1).is_true());
        assert!(Value::Int(1).is_true());
        assert!(!s("").is_true());
        assert!(s("0").is_true());
    }

    #[test]
    fn equality() {
        assert!(Value::Int(10).script_eq(&s("10")));
        assert!(s("10").script_eq(&Value::Int(10)));
        assert!(s("+10").script_eq(&Value::Int(10)));
        assert!(!Value::Int(10).script_eq(&s("10a")));
        assert!(Value::Null.script_eq(&Value::Null));
        assert!(Value::Null.script_eq(&s("")));
        assert!(s("").script_eq(&Value::Null));
        assert!(!Value::Null.script_eq(&Value::Int(0)));
        assert!(!s("INVITE").script_eq(&s("invite")));
        assert!(s("INVITE").script_eq(&s("INVITE")));
        assert!(s("10.1.2.3").script_eq(&s("10.0.0.0/8")));
        assert!(s("10.0.0.0/8").script_eq(&s("10.1.2.3")));
        assert!(!s("11.1.2.3").script_eq(&s("10.0.0.0/8")));
        assert!(s("::1").script_eq(&s("0:0::1")));
        assert!(s("2001:db8::5").script_eq(&s("[2001:db8::]/32")));
        assert!(!s("2001:db9::5").script_eq(&s("2001:db8::/32")));
        assert!(s("1.2.3.4").script_eq(&s("0.0.0.0/0")));
        assert!(!s("1.2.3.4").script_eq(&s("1.2.3.4/33")));
    }

    #[test]
    fn ordering() {
        assert_eq!(Value::Int(2).script_cmp(&s("10")), Ordering::Less);
        // Not a number: text comparison, "2" > "1x".
        assert_eq!(Value::Int(2).script_cmp(&s("1x")), Ordering::Greater);
        assert_eq!(s("abc").script_cmp(&s("abd")), Ordering::Less);
        assert_eq!(Value::Null.script_cmp(&Value::Int(5)), Ordering::Less);
        assert_eq!(Value::Null.script_cmp(&Value::Int(-5)), Ordering::Greater);
        assert_eq!(Value::Null.script_cmp(&s("a")), Ordering::Less);
    }

    #[test]
    fn arithmetic() {
        assert_eq!(add(Value::Int(2), Value::Int(3)), Ok(Value::Int(5)));
        assert_eq!(add(s("sip:"), s("bob")), Ok(Value::text("sip:bob")));
        assert_eq!(add(s("n"), Value::Int(5)), Ok(Value::text("n5")));
        assert_eq!(add(Value::Int(5), s("n")), Ok(Value::text("5n")));
        assert_eq!(add(Value::Null, s("x")), Ok(Value::text("x")));
        assert_eq!(add(Value::Null, Value::Int(1)), Ok(Value::Int(1)));
        assert_eq!(add(Value::Null, Value::Null), Ok(Value::Null));
        assert_eq!(
            add(Value::Int(i64::MAX), Value::Int(1)),
            Ok(Value::Int(i64::MIN))
        );
        assert_eq!(arith("-", &Value::Int(5), &s("2")), Ok(3));
        assert_eq!(arith("*", &Value::Int(5), &Value::Null), Ok(0));
        assert_eq!(arith("/", &Value::Int(7), &Value::Int(2)), Ok(3));
        assert_eq!(arith("%", &Value::Int(7), &Value::Int(2)), Ok(1));
        assert_eq!(
            arith("/", &Value::Int(7), &Value::Int(0)),
            Err(EvalError::DivisionByZero)
        );
        assert_eq!(
            arith("/", &Value::Int(i64::MIN), &Value::Int(-1)),
            Err(EvalError::Overflow("/"))
        );
        assert!(matches!(
            arith("-", &s("abc"), &Value::Int(1)),
            Err(EvalError::NotAnInt { .. })
        ));
        assert_eq!(neg(&s("5")), Ok(-5));
        let big = Value::owned(vec![b'a'; MAX_STR_LEN]);
        assert_eq!(add(big, s("b")), Err(EvalError::TooLong));
    }

    #[test]
    fn display() {
        assert_eq!(Value::Null.to_string(), "<null>");
        assert_eq!(Value::Int(-3).to_string(), "-3");
        assert_eq!(s("x").to_string(), "x");
    }
}
