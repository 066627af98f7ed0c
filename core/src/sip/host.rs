//! Hosts and `host[:port]` (RFC 3261 `hostport`): IPv4, `[IPv6]`, names.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::{Fault, Result, Where, err};

/// A host as written in a URI or a Via `sent-by`. Names keep their original
/// case; compare them with [`Host::eq_host`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<'a> {
    V4(Ipv4Addr),
    /// The address, and the bytes as written (with brackets).
    V6(Ipv6Addr, &'a [u8]),
    Name(&'a [u8]),
}

impl<'a> Host<'a> {
    /// Parses a bare host (no port). IPv6 must be bracketed, as in SIP.
    pub fn parse(s: &'a [u8], what: Where) -> Result<Host<'a>> {
        if s.is_empty() {
            return Err(err(what, Fault::Empty, 0));
        }
        if s[0] == b'[' {
            if s.len() < 3 || s[s.len() - 1] != b']' {
                return Err(err(what, Fault::Unclosed, 0));
            }
            let inner = &s[1..s.len() - 1];
            return parse_v6(inner)
                .map(|a| Host::V6(a, s))
                .ok_or(err(what, Fault::Malformed, 1));
        }
        if s[0].is_ascii_digit()
            && let Some(a) = parse_v4(s)
        {
            return Ok(Host::V4(a));
        }
        if let Some(i) = s.iter().position(|&b| !HOST_CHAR[b as usize]) {
            return Err(err(what, Fault::BadChar, i));
        }
        // RFC 3261 `toplabel` starts with a letter: `256.1.1.1` is neither
        // an address nor a name. (A trailing dot is allowed.)
        let top = s.strip_suffix(b".").unwrap_or(s);
        let top = top.rsplit(|&b| b == b'.').next().unwrap_or(top);
        if top.first().is_some_and(u8::is_ascii_digit) {
            return Err(err(what, Fault::Malformed, 0));
        }
        Ok(Host::Name(s))
    }

    /// The host as written.
    pub fn as_bytes(&self) -> HostText<'a> {
        match *self {
            Host::V4(a) => HostText::V4(a),
            Host::V6(_, raw) => HostText::Raw(raw),
            Host::Name(n) => HostText::Raw(n),
        }
    }

    /// The IP address, when the host is a literal address.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Host::V4(a) => Some(IpAddr::V4(a)),
            Host::V6(a, _) => Some(IpAddr::V6(a)),
            Host::Name(_) => None,
        }
    }

    /// RFC 3261 19.1.4 host comparison: names case-insensitively, addresses
    /// by value (so `[::1]` equals `[0:0::1]`).
    pub fn eq_host(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::V4(a), Host::V4(b)) => a == b,
            (Host::V6(a, _), Host::V6(b, _)) => a == b,
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }
}

/// The printable form of a host without allocating.
#[derive(Clone, Copy, Debug)]
pub enum HostText<'a> {
    V4(Ipv4Addr),
    Raw(&'a [u8]),
}

impl core::fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(_, raw) | Host::Name(raw) => f.write_str(&String::from_utf8_lossy(raw)),
        }
    }
}

/// Characters of a host name (letters, digits, `-`, `.`, and `_`, which
/// real deployments use), as a table: one load per byte.
static HOST_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_';
        i += 1;
    }
    t
};

/// Splits `host[:port]` and parses both. The port, if present, must be
/// 1..=65535 digits-only; `host:` with an empty port is an error.
pub fn parse_hostport(s: &[u8], what: Where) -> Result<(Host<'_>, Option<u16>)> {
    let (h, p) = split_hostport(s, what)?;
    let host = Host::parse(h, what)?;
    let port = match p {
        None => None,
        Some(p) => Some(parse_port(p, what, h.len() + 1)?),
    };
    Ok((host, port))
}

/// Splits `host[:port]` without validating either part.
pub fn split_hostport(s: &[u8], what: Where) -> Result<(&[u8], Option<&[u8]>)> {
    if s.first() == Some(&b'[') {
        let close = memchr::memchr(b']', s).ok_or(err(what, Fault::Unclosed, 0))?;
        let rest = &s[close + 1..];
        return match rest.first() {
            None => Ok((s, None)),
            Some(b':') => Ok((&s[..=close], Some(&rest[1..]))),
            Some(_) => Err(err(what, Fault::BadChar, close + 1)),
        };
    }
    match memchr::memrchr(b':', s) {
        Some(i) => Ok((&s[..i], Some(&s[i + 1..]))),
        None => Ok((s, None)),
    }
}

/// Parses a port number (1..=65535). `base` offsets the error position.
pub fn parse_port(p: &[u8], what: Where, base: usize) -> Result<u16> {
    if p.is_empty() || p.len() > 5 {
        return Err(err(what, Fault::BadNumber, base));
    }
    let mut v: u32 = 0;
    for (i, &b) in p.iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(err(what, Fault::BadNumber, base + i));
        }
        v = v * 10 + u32::from(b - b'0');
    }
    if v == 0 || v > 65535 {
        return Err(err(what, Fault::BadNumber, base));
    }
    Ok(v as u16)
}

/// Dotted-quad IPv4, exactly four decimal parts of at most 3 digits.
pub fn parse_v4(s: &[u8]) -> Option<Ipv4Addr> {
    let mut parts = [0u8; 4];
    let mut n = 0;
    let mut cur: u32 = 0;
    let mut digits = 0;
    for &b in s {
        match b {
            b'0'..=b'9' => {
                cur = cur * 10 + u32::from(b - b'0');
                digits += 1;
                if digits > 3 || cur > 255 {
                    return None;
                }
            }
            b'.' => {
                if digits == 0 || n >= 3 {
                    return None;
                }
                parts[n] = cur as u8;
                n += 1;
                cur = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if digits == 0 || n != 3 {
        return None;
    }
    parts[3] = cur as u8;
    Some(Ipv4Addr::from(parts))
}

/// IPv6 text without brackets (the standard library's parser, on ASCII).
pub fn parse_v6(s: &[u8]) -> Option<Ipv6Addr> {
    if s.len() > 45 {
        return None;
    }
    core::str::from_utf8(s).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            Host::parse(b"10.0.0.1", Where::Uri).unwrap(),
            Host::V4(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert!(matches!(
            Host::parse(b"[2001:db8::1]", Where::Uri).unwrap(),
            Host::V6(..)
        ));
        assert_eq!(
            Host::parse(b"Atlanta.COM", Where::Uri).unwrap(),
            Host::Name(b"Atlanta.COM")
        );
        // A dotted name starting with digits that is not an address is a name.
        assert_eq!(
            Host::parse(b"1.2.3.com", Where::Uri).unwrap(),
            Host::Name(b"1.2.3.com")
        );
        assert!(Host::parse(b"256.1.1.1", Where::Uri).is_err());
        assert!(Host::parse(b"10.0.0", Where::Uri).is_err());
        assert_eq!(
            Host::parse(b"example.com.", Where::Uri).unwrap(),
            Host::Name(b"example.com.")
        );
        assert!(Host::parse(b"[::1", Where::Uri).is_err());
        assert!(Host::parse(b"a b", Where::Uri).is_err());
        assert!(Host::parse(b"", Where::Uri).is_err());
        assert!(
            Host::parse(b"[::1]", Where::Uri)
                .unwrap()
                .eq_host(&Host::parse(b"[0:0::1]", Where::Uri).unwrap())
        );
    }

    #[test]
    fn hostports() {
        let (h, p) = parse_hostport(b"[::1]:5060", Where::Via).unwrap();
        assert!(matches!(h, Host::V6(..)));
        assert_eq!(p, Some(5060));
        let (h, p) = parse_hostport(b"pc33.atlanta.com", Where::Via).unwrap();
        assert_eq!(h, Host::Name(b"pc33.atlanta.com"));
        assert_eq!(p, None);
        assert!(parse_hostport(b"a.com:", Where::Via).is_err());
        assert!(parse_hostport(b"a.com:70000", Where::Via).is_err());
        assert!(parse_hostport(b"a.com:0", Where::Via).is_err());
        assert!(parse_hostport(b"[::1]x", Where::Via).is_err());
    }
}
