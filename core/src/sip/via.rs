//! Via values (RFC 3261 20.42 and 18.2.2, RFC 3581 `rport`).
//!
//! ```text
//! via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
//! sent-protocol = protocol-name SLASH protocol-version SLASH transport
//! sent-by       = host [ COLON port ]
//! via-params    = via-ttl / via-maddr / via-received / via-branch
//!               / response-port / via-extension
//! ```
//!
//! [`Via::parse`] takes one comma-separated element of a Via header (the
//! message index splits the list) and makes one pass over it, without
//! allocating. The parameters are checked with the shared grammar of
//! [`Params`] (see `index_params`); the ones a proxy reads on every message (`branch`, `received`, `rport`, `maddr`,
//! `ttl`) are located and type-checked once at parse time, so that their
//! accessors are plain field reads. A known parameter given twice is
//! rejected ([`Fault::Duplicate`]): two `branch` values would let two hops
//! disagree on the transaction.

use core::net::IpAddr;

use super::error::{Fault, Result, Where, err};
use super::host::{self, Host};
use super::lex::{self, Params, is_lws, is_token};
use super::limits::Limits;

/// The RFC 3261 branch magic cookie (section 8.1.1.7).
pub const BRANCH_COOKIE: &[u8] = b"z9hG4bK";

/// The transport of a Via `sent-protocol`, matched case-insensitively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViaTransport<'a> {
    Udp,
    Tcp,
    Tls,
    Sctp,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
    /// Any other token (`TLS-SCTP`, ...), as written.
    Other(&'a [u8]),
}

impl<'a> ViaTransport<'a> {
    /// Classifies a transport token. `None` if it is empty or not a token.
    #[inline]
    pub fn parse(s: &'a [u8]) -> Option<ViaTransport<'a>> {
        let t = match s.len() {
            2 if s.eq_ignore_ascii_case(b"WS") => ViaTransport::Ws,
            3 if s.eq_ignore_ascii_case(b"UDP") => ViaTransport::Udp,
            3 if s.eq_ignore_ascii_case(b"TCP") => ViaTransport::Tcp,
            3 if s.eq_ignore_ascii_case(b"TLS") => ViaTransport::Tls,
            3 if s.eq_ignore_ascii_case(b"WSS") => ViaTransport::Wss,
            4 if s.eq_ignore_ascii_case(b"SCTP") => ViaTransport::Sctp,
            0 => return None,
            _ => {
                if !s.iter().all(|&b| is_token(b)) {
                    return None;
                }
                ViaTransport::Other(s)
            }
        };
        Some(t)
    }

    /// The canonical (upper-case) name; `Other` as written.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        match *self {
            ViaTransport::Udp => b"UDP",
            ViaTransport::Tcp => b"TCP",
            ViaTransport::Tls => b"TLS",
            ViaTransport::Sctp => b"SCTP",
            ViaTransport::Ws => b"WS",
            ViaTransport::Wss => b"WSS",
            ViaTransport::Other(s) => s,
        }
    }

    /// Whether the transport is connection-oriented / reliable (everything
    /// known but UDP; unknown transports are assumed unreliable).
    #[inline]
    pub fn is_reliable(&self) -> bool {
        !matches!(self, ViaTransport::Udp | ViaTransport::Other(_))
    }

    /// Whether the transport is secured (TLS or WSS).
    #[inline]
    pub fn is_secure(&self) -> bool {
        matches!(self, ViaTransport::Tls | ViaTransport::Wss)
    }

    /// The port a `sent-by` without port means (RFC 3261 18.2.2): 5061 for
    /// the secure transports, 5060 otherwise.
    #[inline]
    pub fn default_port(&self) -> u16 {
        if self.is_secure() { 5061 } else { 5060 }
    }
}

/// One Via value, borrowing the message bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    /// The value as given to [`Via::parse`].
    pub raw: &'a [u8],
    /// The transport of the sent-protocol (`SIP/2.0/<transport>`; protocol
    /// name and version are checked to be `SIP` and `2.0`).
    pub transport: ViaTransport<'a>,
    /// The `sent-by` host.
    pub host: Host<'a>,
    /// The `sent-by` port, if written.
    pub port: Option<u16>,
    /// The `sent-by` as written (`host`, `host:port`, `[v6]:port`; may hold
    /// white space around the colon).
    pub sent_by: &'a [u8],
    /// Every parameter (validated), raw bytes after the first `;`.
    pub params: Params<'a>,
    branch: Option<&'a [u8]>,
    received: Option<&'a [u8]>,
    received_ip: Option<IpAddr>,
    rport: Option<Option<u16>>,
    rport_raw: Option<&'a [u8]>,
    maddr: Option<&'a [u8]>,
    ttl: Option<u8>,
}

/// Offset of `inner` in `outer` (both views of the same buffer).
#[inline]
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize)
        .wrapping_sub(outer.as_ptr() as usize)
        .min(outer.len())
}

/// End of the token starting at `i`.
#[inline]
fn token_end(s: &[u8], mut i: usize) -> usize {
    while let Some(&b) = s.get(i) {
        if !is_token(b) {
            break;
        }
        i += 1;
    }
    i
}

#[inline]
fn sub(s: &[u8], a: usize, b: usize) -> &[u8] {
    s.get(a..b).unwrap_or(&[])
}

/// Parses the value of `received`: an IPv4 or IPv6 address, the latter
/// with or without brackets (RFC 3261's grammar has none, RFC 5118 shows
/// them; both are seen).
#[inline]
fn parse_received(v: &[u8]) -> Option<IpAddr> {
    if let [b'[', inner @ .., b']'] = v {
        return host::parse_v6(inner).map(IpAddr::V6);
    }
    if v.contains(&b':') {
        host::parse_v6(v).map(IpAddr::V6)
    } else {
        host::parse_v4(v).map(IpAddr::V4)
    }
}

/// Only white space and `;` (what may lie between parameters).
#[inline]
fn is_separator(gap: &[u8]) -> bool {
    gap.iter().all(|&b| b == b';' || is_lws(b))
}

/// Which well-known parameter a name is.
#[derive(Clone, Copy)]
enum Known {
    Branch,
    Received,
    Rport,
    Maddr,
    Ttl,
}

#[inline]
fn known(name: &[u8]) -> Option<Known> {
    match name.len() {
        3 if name.eq_ignore_ascii_case(b"ttl") => Some(Known::Ttl),
        5 if name.eq_ignore_ascii_case(b"rport") => Some(Known::Rport),
        5 if name.eq_ignore_ascii_case(b"maddr") => Some(Known::Maddr),
        6 if name.eq_ignore_ascii_case(b"branch") => Some(Known::Branch),
        8 if name.eq_ignore_ascii_case(b"received") => Some(Known::Received),
        _ => None,
    }
}

impl<'a> Via<'a> {
    /// Parses one Via value (one element of the comma-separated list).
    /// Error offsets are relative to `s`.
    pub fn parse(s: &'a [u8], limits: &Limits) -> Result<Via<'a>> {
        const W: Where = Where::Via;
        let n = s.len();
        let mut i = lex::skip_lws(s, 0);
        if i >= n {
            return Err(err(W, Fault::Empty, i));
        }

        // sent-protocol: name SLASH version SLASH transport, SLASH = SWS "/" SWS.
        if s.get(i..i + 8)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/2.0/"))
        {
            // The usual spelling.
            i = lex::skip_lws(s, i + 8);
        } else {
            let proto_at = i;
            let e = token_end(s, i);
            let name = sub(s, i, e);
            i = slash(s, e)?;
            let e = token_end(s, i);
            let version = sub(s, i, e);
            if name.is_empty() || version.is_empty() {
                return Err(err(W, Fault::Malformed, proto_at));
            }
            if !name.eq_ignore_ascii_case(b"SIP") || version != b"2.0" {
                return Err(err(W, Fault::UnsupportedVersion, proto_at));
            }
            i = slash(s, e)?;
        }
        let e = token_end(s, i);
        let transport = match ViaTransport::parse(sub(s, i, e)) {
            Some(t) => t,
            None => return Err(err(W, Fault::Empty, i)),
        };

        // LWS, then sent-by.
        i = lex::skip_lws(s, e);
        if i == e {
            let f = if e >= n {
                Fault::Truncated
            } else {
                Fault::BadChar
            };
            return Err(err(W, f, e));
        }
        let hs = i;
        let he = match s.get(i) {
            None | Some(b';') => return Err(err(W, Fault::Missing, i)),
            Some(b'[') => match memchr::memchr(b']', sub(s, i, n)) {
                Some(o) => i + o + 1,
                None => return Err(err(W, Fault::Unclosed, i)),
            },
            Some(_) => {
                let mut j = i;
                while let Some(&b) = s.get(j) {
                    if b == b':' || b == b';' || is_lws(b) {
                        break;
                    }
                    j += 1;
                }
                j
            }
        };
        let host = Host::parse(sub(s, hs, he), W).map_err(|e| e.within(W, hs))?;
        let mut sent_by_end = he;
        i = lex::skip_lws(s, he);
        let mut port = None;
        if s.get(i) == Some(&b':') {
            let ps = lex::skip_lws(s, i + 1);
            let mut pe = ps;
            while s.get(pe).is_some_and(u8::is_ascii_digit) {
                pe += 1;
            }
            port = Some(host::parse_port(sub(s, ps, pe), W, ps)?);
            sent_by_end = pe;
            i = lex::skip_lws(s, pe);
        }
        let sent_by = sub(s, hs, sent_by_end);

        // *( SEMI via-params )
        let (params, base) = match s.get(i) {
            None => (Params::from_raw(&[]), n),
            Some(b';') => (Params::from_raw(sub(s, i + 1, n)), i + 1),
            Some(_) => return Err(err(W, Fault::BadChar, i)),
        };

        let mut via = Via {
            raw: s,
            transport,
            host,
            port,
            sent_by,
            params,
            branch: None,
            received: None,
            received_ip: None,
            rport: None,
            rport_raw: None,
            maddr: None,
            ttl: None,
        };
        via.index_params(base, limits.max_params)?;
        Ok(via)
    }

    /// Checks the parameter list and locates and type-checks the
    /// well-known parameters, in one walk. `base` is where the list starts
    /// in `raw`.
    ///
    /// The walk uses [`Params::iter`], which yields only well-formed
    /// parameters, and checks that nothing but white space and `;` lies
    /// between and after them: that accepts exactly what
    /// [`Params::validate`] accepts, without a second pass. On a failure the
    /// error itself comes from [`Params::validate`], so that Via reports the
    /// same faults as every other header.
    fn index_params(&mut self, base: usize, max: usize) -> Result<()> {
        const W: Where = Where::Via;
        let s = self.raw;
        let list = self.params.raw();
        let list_error = || match Params::validate(list, W, max) {
            Err(e) => e.within(W, base),
            Ok(_) => err(W, Fault::BadChar, base),
        };
        let mut prev = 0usize;
        let mut count = 0usize;
        for p in self.params.iter() {
            let ps = offset_in(list, p.name);
            let pe = match p.value {
                Some(v) => offset_in(list, v) + v.len(),
                None => ps + p.name.len(),
            };
            count += 1;
            if count > max || !is_separator(sub(list, prev, ps)) {
                return Err(list_error());
            }
            prev = pe;
            let Some(k) = known(p.name) else { continue };
            let at = base + ps;
            let v = p.value;
            let vat = v.map_or(at, |v| offset_in(s, v));
            let dup = match k {
                Known::Branch => self.branch.is_some(),
                Known::Received => self.received.is_some(),
                Known::Rport => self.rport.is_some(),
                Known::Maddr => self.maddr.is_some(),
                Known::Ttl => self.ttl.is_some(),
            };
            if dup {
                return Err(err(W, Fault::Duplicate, at));
            }
            match k {
                Known::Branch => {
                    let v = v.unwrap_or(b"");
                    if v.is_empty() {
                        return Err(err(W, Fault::Empty, vat));
                    }
                    if let Some(o) = v.iter().position(|&b| !is_token(b)) {
                        return Err(err(W, Fault::BadChar, vat + o));
                    }
                    self.branch = Some(v);
                }
                Known::Received => {
                    let v = v.unwrap_or(b"");
                    if v.is_empty() {
                        return Err(err(W, Fault::Empty, vat));
                    }
                    let Some(ip) = parse_received(v) else {
                        return Err(err(W, Fault::Malformed, vat));
                    };
                    self.received = Some(v);
                    self.received_ip = Some(ip);
                }
                Known::Rport => {
                    let val = match v {
                        None => None,
                        Some(v) => Some(host::parse_port(v, W, vat)?),
                    };
                    let end = v.map_or(at + p.name.len(), |v| vat + v.len());
                    self.rport = Some(val);
                    self.rport_raw = Some(sub(s, at, end));
                }
                Known::Maddr => {
                    let v = v.unwrap_or(b"");
                    Host::parse(v, W).map_err(|e| e.within(W, vat))?;
                    self.maddr = Some(v);
                }
                Known::Ttl => {
                    let v = v.unwrap_or(b"");
                    if v.is_empty() || v.len() > 3 || !v.iter().all(u8::is_ascii_digit) {
                        return Err(err(W, Fault::BadNumber, vat));
                    }
                    let t = v.iter().fold(0u16, |a, &b| a * 10 + u16::from(b - b'0'));
                    let Ok(t) = u8::try_from(t) else {
                        return Err(err(W, Fault::BadNumber, vat));
                    };
                    self.ttl = Some(t);
                }
            }
        }
        if !is_separator(sub(list, prev, list.len())) {
            return Err(list_error());
        }
        Ok(())
    }

    /// The `branch` parameter.
    #[inline]
    pub fn branch(&self) -> Option<&'a [u8]> {
        self.branch
    }

    /// Whether the branch starts with the RFC 3261 magic cookie `z9hG4bK`
    /// (compared case-sensitively) and has something after it.
    #[inline]
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch
            .is_some_and(|b| b.len() > BRANCH_COOKIE.len() && b.starts_with(BRANCH_COOKIE))
    }

    /// The `received` parameter as written (an IPv6 address may carry
    /// brackets).
    #[inline]
    pub fn received(&self) -> Option<&'a [u8]> {
        self.received
    }

    /// The `received` parameter as an address.
    #[inline]
    pub fn received_ip(&self) -> Option<IpAddr> {
        self.received_ip
    }

    /// RFC 3581 `rport`: `None` if absent, `Some(None)` for `;rport` without
    /// a value, `Some(Some(port))` for `;rport=port`.
    #[inline]
    pub fn rport(&self) -> Option<Option<u16>> {
        self.rport
    }

    /// The whole `rport` parameter as written (`rport` or `rport=9988`),
    /// a sub-slice of [`Via::raw`], for rewriting it in place.
    #[inline]
    pub fn rport_raw(&self) -> Option<&'a [u8]> {
        self.rport_raw
    }

    /// The `maddr` parameter (a host, checked).
    #[inline]
    pub fn maddr(&self) -> Option<&'a [u8]> {
        self.maddr
    }

    /// The `ttl` parameter (0..=255).
    #[inline]
    pub fn ttl(&self) -> Option<u8> {
        self.ttl
    }

    /// Any parameter by name (case-insensitive), unquoted; `Some(b"")` when
    /// present without a value.
    #[inline]
    pub fn param(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.params.value(name)
    }

    /// Whether a parameter is present, with or without a value.
    #[inline]
    pub fn has_param(&self, name: &[u8]) -> bool {
        self.params.has(name)
    }

    /// The sent-by port, or the transport's default (RFC 3261 18.2.2).
    #[inline]
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or_else(|| self.transport.default_port())
    }
}

/// Expects `SWS "/" SWS` at `i`; returns the index after it.
#[inline]
fn slash(s: &[u8], i: usize) -> Result<usize> {
    let j = lex::skip_lws(s, i);
    match s.get(j) {
        Some(b'/') => Ok(lex::skip_lws(s, j + 1)),
        Some(_) => Err(err(Where::Via, Fault::BadChar, j)),
        None => Err(err(Where::Via, Fault::Truncated, j)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn p(s: &str) -> Result<Via<'_>> {
        Via::parse(s.as_bytes(), &Limits::DEFAULT)
    }

    fn fault(s: &str) -> (Fault, u32) {
        let e = p(s).unwrap_err();
        assert_eq!(e.what, Where::Via, "{s}");
        (e.fault, e.at)
    }

    #[test]
    fn rfc3261_examples() {
        let v = p("SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds").unwrap();
        assert_eq!(v.transport, ViaTransport::Udp);
        assert_eq!(v.host, Host::Name(b"pc33.atlanta.com"));
        assert_eq!(v.port, None);
        assert_eq!(v.port_or_default(), 5060);
        assert_eq!(v.sent_by, b"pc33.atlanta.com");
        assert_eq!(v.branch(), Some(&b"z9hG4bK776asdhds"[..]));
        assert!(v.is_rfc3261_branch());
        assert_eq!(v.received(), None);
        assert_eq!(v.rport(), None);

        let v = p("SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2")
            .unwrap();
        assert_eq!(v.host, Host::Name(b"bigbox3.site3.atlanta.com"));
        assert_eq!(v.branch(), Some(&b"z9hG4bK77ef4c2312983.1"[..]));
        assert_eq!(v.received(), Some(&b"192.0.2.2"[..]));
        assert_eq!(
            v.received_ip(),
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)))
        );
        assert_eq!(v.params.len(), 2);
    }

    #[test]
    fn rfc3581_rport() {
        let v = p("SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff").unwrap();
        assert_eq!(v.host, Host::V4(Ipv4Addr::new(10, 1, 1, 1)));
        assert_eq!(v.port, Some(4540));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.rport_raw(), Some(&b"rport"[..]));
        assert_eq!(v.param(b"rport"), Some(&b""[..]));

        let v = p("SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bKkjshdyff")
            .unwrap();
        assert_eq!(v.rport(), Some(Some(9988)));
        assert_eq!(v.rport_raw(), Some(&b"rport=9988"[..]));
        assert_eq!(
            v.received_ip(),
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert_eq!(v.branch(), Some(&b"z9hG4bKkjshdyff"[..]));

        // rport in the middle with white space around.
        let v = p("SIP/2.0/UDP h ; rport = 5062 ; branch=z9hG4bKx").unwrap();
        assert_eq!(v.rport(), Some(Some(5062)));
        assert_eq!(v.rport_raw(), Some(&b"rport = 5062"[..]));
    }

    #[test]
    fn ipv6_sent_by() {
        let v =
            p("SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3-111;received=[2001:db8::9:255]")
                .unwrap();
        let a: Ipv6Addr = "2001:db8::9:1".parse().unwrap();
        assert_eq!(v.host, Host::V6(a, b"[2001:db8::9:1]"));
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.sent_by, b"[2001:db8::9:1]:5070");
        let r: Ipv6Addr = "2001:db8::9:255".parse().unwrap();
        assert_eq!(v.received_ip(), Some(IpAddr::V6(r)));
        assert_eq!(v.received(), Some(&b"[2001:db8::9:255]"[..]));

        let v = p("SIP/2.0/TCP [::1];received=::1").unwrap();
        assert!(matches!(v.host, Host::V6(..)));
        assert_eq!(v.port, None);
        assert_eq!(v.received_ip(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    }

    #[test]
    fn rfc4475_lws_around_slashes() {
        let v = p("SIP / 2.0 / UDP first.example.com: 4000;ttl=16;maddr=224.2.0.1 ;branch=z9hG4bKa7c6a8dlze.1")
            .unwrap();
        assert_eq!(v.transport, ViaTransport::Udp);
        assert_eq!(v.host, Host::Name(b"first.example.com"));
        assert_eq!(v.port, Some(4000));
        assert_eq!(v.sent_by, b"first.example.com: 4000");
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.maddr(), Some(&b"224.2.0.1"[..]));
        assert_eq!(v.branch(), Some(&b"z9hG4bKa7c6a8dlze.1"[..]));

        // Folding between the protocol and the sent-by, and around the colon.
        let v = p("SIP/2.0/TLS\r\n  h.example.com \r\n\t: 5061;branch=z9hG4bK1").unwrap();
        assert_eq!(v.transport, ViaTransport::Tls);
        assert_eq!(v.port, Some(5061));
    }

    #[test]
    fn sipp_shape() {
        let v = p("SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1234-1-0").unwrap();
        assert_eq!(v.host, Host::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(v.port, Some(5061));
        assert_eq!(v.branch(), Some(&b"z9hG4bK-1234-1-0"[..]));
        assert!(v.is_rfc3261_branch());
    }

    #[test]
    fn transports() {
        let cases: &[(&str, ViaTransport<'_>)] = &[
            ("SIP/2.0/TCP h", ViaTransport::Tcp),
            ("SIP/2.0/tls h", ViaTransport::Tls),
            ("SIP/2.0/SCTP h", ViaTransport::Sctp),
            (
                "SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKasudf",
                ViaTransport::Ws,
            ),
            ("SIP/2.0/wss h:443", ViaTransport::Wss),
            ("SIP/2.0/TLS-SCTP h", ViaTransport::Other(b"TLS-SCTP")),
            ("sip/2.0/udp h", ViaTransport::Udp),
        ];
        for (s, t) in cases {
            assert_eq!(p(s).unwrap().transport, *t, "{s}");
        }
        assert!(ViaTransport::Tls.is_reliable() && ViaTransport::Tls.is_secure());
        assert!(!ViaTransport::Udp.is_reliable());
        assert_eq!(p("SIP/2.0/TLS h").unwrap().port_or_default(), 5061);
        assert_eq!(ViaTransport::Wss.as_bytes(), b"WSS");
    }

    #[test]
    fn params_and_branch_forms() {
        let v = p("SIP/2.0/UDP h;BRANCH=abc;x-foo=\"a;b\";flag").unwrap();
        assert_eq!(v.branch(), Some(&b"abc"[..]));
        assert!(!v.is_rfc3261_branch());
        assert_eq!(v.param(b"X-FOO"), Some(&b"a;b"[..]));
        assert!(v.has_param(b"flag"));
        assert!(!v.has_param(b"nope"));
        // The cookie is case-sensitive and needs something after it.
        assert!(
            !p("SIP/2.0/UDP h;branch=Z9HG4BK1")
                .unwrap()
                .is_rfc3261_branch()
        );
        assert!(
            !p("SIP/2.0/UDP h;branch=z9hG4bK")
                .unwrap()
                .is_rfc3261_branch()
        );
        // No parameters at all, and a trailing semicolon.
        let v = p("SIP/2.0/UDP h:5060").unwrap();
        assert!(v.params.is_empty());
        assert_eq!(v.branch(), None);
        assert!(p("SIP/2.0/UDP h;").is_ok());
        assert_eq!(p("SIP/2.0/UDP h;ttl=0").unwrap().ttl(), Some(0));
        assert_eq!(
            p("SIP/2.0/UDP h;maddr=[ff02::1]").unwrap().maddr(),
            Some(&b"[ff02::1]"[..])
        );
        // Surrounding white space is tolerated.
        assert_eq!(
            p("  SIP/2.0/UDP h;branch=z9hG4bKx  ").unwrap().branch(),
            Some(&b"z9hG4bKx"[..])
        );
    }

    #[test]
    fn bad_vias() {
        let cases: &[(&str, Fault)] = &[
            ("", Fault::Empty),
            ("   ", Fault::Empty),
            ("SIP/2.0/UDP", Fault::Truncated),
            ("SIP/2.0/UDP ", Fault::Missing),
            ("SIP/2.0/UDP ;branch=z9hG4bK1", Fault::Missing),
            ("SIP/2.0/UDP;branch=z9hG4bK1", Fault::BadChar),
            ("SIP/2.0/ h", Fault::Truncated),
            ("SIP/2.0/ ;x", Fault::Empty),
            ("SIP/2.0", Fault::Truncated),
            ("SIP/2.0 UDP h", Fault::BadChar),
            ("SIP/3.0/UDP h", Fault::UnsupportedVersion),
            ("HTTP/2.0/UDP h", Fault::UnsupportedVersion),
            ("/2.0/UDP h", Fault::Malformed),
            ("SIP//UDP h", Fault::Malformed),
            ("SIP/2.0/UDP h:", Fault::BadNumber),
            ("SIP/2.0/UDP h: ;branch=x", Fault::BadNumber),
            ("SIP/2.0/UDP h:0", Fault::BadNumber),
            ("SIP/2.0/UDP h:65536", Fault::BadNumber),
            ("SIP/2.0/UDP h:50x60", Fault::BadChar),
            ("SIP/2.0/UDP h garbage", Fault::BadChar),
            ("SIP/2.0/UDP h (comment)", Fault::BadChar),
            ("SIP/2.0/UDP h;branch=z9hG4bK1 (comment)", Fault::BadChar),
            ("SIP/2.0/UDP h;branch=z9hG4bK1 junk", Fault::BadChar),
            ("SIP/2.0/UDP h(x)", Fault::BadChar),
            ("SIP/2.0/UDP [::1", Fault::Unclosed),
            ("SIP/2.0/UDP [::1]x", Fault::BadChar),
            ("SIP/2.0/UDP [zz::1]", Fault::Malformed),
            ("SIP/2.0/UDP h;branch=a;branch=b", Fault::Duplicate),
            ("SIP/2.0/UDP h;rport;rport=5", Fault::Duplicate),
            ("SIP/2.0/UDP h;branch", Fault::Empty),
            ("SIP/2.0/UDP h;branch=\"a\"", Fault::BadChar),
            ("SIP/2.0/UDP h;rport=abc", Fault::BadNumber),
            ("SIP/2.0/UDP h;rport=", Fault::BadNumber),
            ("SIP/2.0/UDP h;rport=70000", Fault::BadNumber),
            ("SIP/2.0/UDP h;ttl=256", Fault::BadNumber),
            ("SIP/2.0/UDP h;ttl=1234", Fault::BadNumber),
            ("SIP/2.0/UDP h;ttl", Fault::BadNumber),
            ("SIP/2.0/UDP h;received=host.example.com", Fault::Malformed),
            ("SIP/2.0/UDP h;received", Fault::Empty),
            ("SIP/2.0/UDP h;maddr=a!b", Fault::BadChar),
            ("SIP/2.0/UDP h;x=\"open", Fault::Unclosed),
        ];
        for (s, f) in cases {
            assert_eq!(fault(s).0, *f, "{s}");
        }
    }

    #[test]
    fn error_offsets_are_relative_to_the_value() {
        // ";branch=a;branch=b": the second `branch` starts at 23.
        assert_eq!(
            fault("SIP/2.0/UDP h;branch=a;branch=b"),
            (Fault::Duplicate, 23)
        );
        assert_eq!(fault("SIP/2.0/UDP h:"), (Fault::BadNumber, 14));
        assert_eq!(fault("SIP/2.0/UDP h;rport=x"), (Fault::BadNumber, 20));
        assert_eq!(fault("SIP/2.0/UDP h (c)"), (Fault::BadChar, 14));
        assert_eq!(fault("SIP/2.0/UDP a b;x"), (Fault::BadChar, 14));
    }

    #[test]
    fn too_many_params() {
        let mut s = String::from("SIP/2.0/UDP h");
        for i in 0..10 {
            s.push_str(&format!(";p{i}=1"));
        }
        let limits = Limits {
            max_params: 5,
            ..Limits::DEFAULT
        };
        let e = Via::parse(s.as_bytes(), &limits).unwrap_err();
        assert_eq!((e.what, e.fault), (Where::Via, Fault::TooMany));
        assert!(Via::parse(s.as_bytes(), &Limits::DEFAULT).is_ok());
    }

    #[test]
    fn through_the_message_index() {
        use crate::sip::SipMsg;
        let m = SipMsg::parse(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1;received=192.0.2.1 , \r\n SIP/2.0/TCP [::1]:5070;branch=z9hG4bK2;rport=5071\r\nv: SIP/2.0/TLS c.example.com\r\n\r\n",
        )
        .unwrap();
        let v = m.vias().unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].received(), Some(&b"192.0.2.1"[..]));
        assert_eq!(v[1].transport, ViaTransport::Tcp);
        assert_eq!((v[1].port, v[1].rport()), (Some(5070), Some(Some(5071))));
        assert_eq!(v[2].transport, ViaTransport::Tls);
        assert_eq!(m.via2().unwrap().unwrap().branch(), Some(&b"z9hG4bK2"[..]));
        // An error is made absolute by the index.
        let buf = b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h;rport=x\r\n\r\n";
        let e = SipMsg::parse(buf).unwrap().vias().unwrap_err();
        let at = buf.iter().position(|&b| b == b'x').unwrap();
        assert_eq!(
            (e.what, e.fault, e.at as usize),
            (Where::Via, Fault::BadNumber, at)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz over prefixes and byte flips.
        let base = b"SIP / 2.0 / UDP [2001:db8::1]: 4000;ttl=16;maddr=224.2.0.1 ;branch=z9hG4bK1;rport;received=[::1];x=\"a\\\"b\"";
        for n in 0..=base.len() {
            let _ = Via::parse(&base[..n], &Limits::DEFAULT);
        }
        let mut buf = base.to_vec();
        for i in 0..buf.len() {
            for b in [0u8, b' ', b';', b'"', b'[', b']', b':', b'/', b'\\', 0xff] {
                let old = buf[i];
                buf[i] = b;
                let _ = Via::parse(&buf, &Limits::DEFAULT);
                buf[i] = old;
            }
        }
    }
}
