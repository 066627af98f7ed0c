//! SDP line locator (RFC 4566) for a media relay.
//!
//! [`Sdp::locate`] makes one pass over a session description and records,
//! as byte ranges, the lines a relay rewrites: the session-level `o=` and
//! `c=` lines, and for each media description (`m=` line) its port, its
//! media-level `c=` lines and its `a=rtcp:` lines (RFC 3605). Nothing is
//! copied; the only allocation is the vector of media descriptions.
//!
//! **Every [`Span`] here is relative to the start of the body** given to
//! [`Sdp::locate`] (not to the SIP message): add the message's body offset
//! ([`super::SipMsg::body_span`]) to edit the message. A [`Line`]'s span
//! covers the whole line from its type letter up to, not including, its
//! terminator; [`Line::next`] is the offset just past the terminator, so
//! `line.span.start..line.next` removes the line cleanly.
//!
//! Lines may end in CRLF or a bare LF, and the last one may have no
//! terminator. Empty lines are tolerated only at the end of the body. Every
//! other line must have the `x=` form with `x` a lower-case letter, and the
//! first one must be `v=0`. At most [`MAX_MEDIA`] media descriptions and
//! [`MAX_LINES`] lines are accepted ([`Fault::TooMany`] beyond).

use core::net::IpAddr;

use super::error::{Fault, Result, Where, err};
use super::host::{self, Host};
use super::lex;
use super::msg::Span;

/// Most media descriptions in one body.
pub const MAX_MEDIA: usize = 32;
/// Most lines in one body.
pub const MAX_LINES: usize = 4096;
/// Most `c=` lines at one level (session, or one media description).
pub const MAX_CONNECTIONS: usize = 4;
/// Most `a=rtcp:` lines in one media description.
pub const MAX_RTCP: usize = 2;

const W: Where = Where::Sdp;

/// A small inline list (no allocation), bounded by `N`.
#[derive(Clone, Copy)]
struct Few<T, const N: usize> {
    len: u8,
    items: [T; N],
}

impl<T: Copy + Default, const N: usize> Few<T, N> {
    fn new() -> Self {
        Few {
            len: 0,
            items: [T::default(); N],
        }
    }

    /// Appends; `false` when full.
    fn push(&mut self, t: T) -> bool {
        match self.items.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = t;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    #[inline]
    fn as_slice(&self) -> &[T] {
        self.items.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl<T: Copy + Default + core::fmt::Debug, const N: usize> core::fmt::Debug for Few<T, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> PartialEq for Few<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Copy + Default + Eq, const N: usize> Eq for Few<T, N> {}

/// One SDP line. Offsets are relative to the body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Line {
    /// From the type letter to the end of the value (the line terminator,
    /// CRLF or LF, excluded).
    pub span: Span,
    /// Just past the line terminator (`span.end` if the body ends without
    /// one).
    pub next: u32,
}

impl Line {
    /// The value, after `x=`.
    #[inline]
    pub fn value(&self) -> Span {
        Span {
            start: self.span.start.saturating_add(2).min(self.span.end),
            end: self.span.end,
        }
    }

    /// The whole line with its terminator.
    #[inline]
    pub fn with_eol(&self) -> Span {
        Span {
            start: self.span.start,
            end: self.next,
        }
    }
}

/// The address type of a `c=`, `o=` or `a=rtcp:` address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AddrType {
    #[default]
    Ip4,
    Ip6,
    /// Anything else, as written in [`Address::addr_type`].
    Other,
}

/// `<nettype> <addrtype> <address>`, as in `c=`, `o=` and `a=rtcp:`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// `IN`, normally.
    pub net_type: Span,
    /// `IP4` / `IP6` as written (to rewrite it when bridging families).
    pub addr_type: Span,
    pub kind: AddrType,
    /// The address, without a multicast `/ttl[/count]` suffix.
    pub addr: Span,
    /// The address parsed, when it is a literal of the family `kind` names
    /// (`None` for an FQDN or an unknown family).
    pub ip: Option<IpAddr>,
}

/// A `c=` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Connection {
    pub line: Line,
    pub address: Address,
}

/// The `o=` line: `<username> <sess-id> <sess-version> <nettype> <addrtype>
/// <unicast-address>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub line: Line,
    pub username: Span,
    pub sess_id: Span,
    pub sess_version: Span,
    pub address: Address,
}

/// An `a=rtcp:<port> [<nettype> <addrtype> <address>]` line (RFC 3605).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rtcp {
    pub line: Line,
    pub port: u16,
    /// The port digits.
    pub port_span: Span,
    pub address: Option<Address>,
}

/// A media description: `m=<media> <port>[/<count>] <proto> <fmt> ...`
/// and the lines of its section that a relay rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Media {
    pub line: Line,
    /// `audio`, `video`, ...
    pub media: Span,
    /// The port (0 = the stream is disabled or rejected).
    pub port: u16,
    /// The port digits (without `/count`).
    pub port_span: Span,
    /// The `/<number of ports>`, if written.
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `UDP/TLS/RTP/SAVPF`, ...
    pub proto: Span,
    /// The format list (possibly empty), as written.
    pub fmts: Span,
    connections: Few<Connection, MAX_CONNECTIONS>,
    rtcp: Few<Rtcp, MAX_RTCP>,
}

impl Media {
    /// The media-level `c=` lines.
    #[inline]
    pub fn connections(&self) -> &[Connection] {
        self.connections.as_slice()
    }

    /// The `a=rtcp:` lines.
    #[inline]
    pub fn rtcp(&self) -> &[Rtcp] {
        self.rtcp.as_slice()
    }

    /// Whether the port is 0.
    #[inline]
    pub fn is_disabled(&self) -> bool {
        self.port == 0
    }
}

/// The located lines of a session description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sdp<'a> {
    /// The body given to [`Sdp::locate`]; every span is relative to it.
    pub raw: &'a [u8],
    /// The `o=` line, if present.
    pub origin: Option<Origin>,
    connections: Few<Connection, MAX_CONNECTIONS>,
    /// The media descriptions, in order.
    pub media: Vec<Media>,
}

/// Splits `s[from..to]` into fields separated by runs of SP / HT, yielding
/// `(start, end)` offsets into `s`.
struct Fields<'b> {
    /// `s[..to]`.
    s: &'b [u8],
    pos: usize,
}

impl<'b> Fields<'b> {
    fn new(s: &'b [u8], from: usize, to: usize) -> Self {
        Fields {
            s: s.get(..to).unwrap_or(s),
            pos: from,
        }
    }
}

#[inline]
fn is_sp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl Iterator for Fields<'_> {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        let rest = self.s.get(self.pos..)?;
        let Some(skip) = rest.iter().position(|&b| !is_sp(b)) else {
            self.pos = self.s.len();
            return None;
        };
        let field = rest.get(skip..).unwrap_or(&[]);
        let len = field.iter().position(|&b| is_sp(b)).unwrap_or(field.len());
        let start = self.pos + skip;
        self.pos = start + len;
        Some((start, start + len))
    }
}

#[inline]
fn sub(s: &[u8], a: usize, b: usize) -> &[u8] {
    s.get(a..b).unwrap_or(&[])
}

/// 1 to 5 digits, at most 65535.
#[inline]
fn parse_u16(d: &[u8]) -> Option<u16> {
    if d.is_empty() || d.len() > 5 {
        return None;
    }
    let mut v: u32 = 0;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    u16::try_from(v).ok()
}

/// Parses `<nettype> <addrtype> <address>` from three fields. `multicast`
/// allows a `/ttl[/count]` suffix on the address (`c=` only).
fn parse_address(body: &[u8], f: [(usize, usize); 3], multicast: bool) -> Result<Address> {
    let [(ns, ne), (ts, te), (as_, ae)] = f;
    let net = sub(body, ns, ne);
    if !net.iter().all(|&b| lex::is_token(b)) {
        return Err(err(W, Fault::BadChar, ns));
    }
    let ty = sub(body, ts, te);
    let kind = if ty.eq_ignore_ascii_case(b"IP4") {
        AddrType::Ip4
    } else if ty.eq_ignore_ascii_case(b"IP6") {
        AddrType::Ip6
    } else if ty.iter().all(|&b| lex::is_token(b)) {
        AddrType::Other
    } else {
        return Err(err(W, Fault::BadChar, ts));
    };
    let mut end = ae;
    if multicast && let Some(o) = memchr::memchr(b'/', sub(body, as_, ae)) {
        end = as_ + o;
    }
    let a = sub(body, as_, end);
    if a.is_empty() {
        return Err(err(W, Fault::Empty, as_));
    }
    let ip = match kind {
        AddrType::Ip4 => match host::parse_v4(a) {
            Some(v4) => Some(IpAddr::V4(v4)),
            None => {
                check_fqdn(a, as_)?;
                None
            }
        },
        AddrType::Ip6 => match host::parse_v6(a) {
            Some(v6) => Some(IpAddr::V6(v6)),
            None => {
                check_fqdn(a, as_)?;
                None
            }
        },
        AddrType::Other => None,
    };
    Ok(Address {
        net_type: Span::new(ns, ne),
        addr_type: Span::new(ts, te),
        kind,
        addr: Span::new(as_, end),
        ip,
    })
}

/// An address of a known family that is not a literal must be a name.
fn check_fqdn(a: &[u8], at: usize) -> Result<()> {
    match Host::parse(a, W) {
        Ok(Host::Name(_)) => Ok(()),
        _ => Err(err(W, Fault::Malformed, at)),
    }
}

/// Takes exactly `N` fields, or fails with `Malformed`.
fn take<const N: usize>(f: &mut Fields<'_>, at: usize) -> Result<[(usize, usize); N]> {
    let mut out = [(0usize, 0usize); N];
    for slot in out.iter_mut() {
        *slot = f.next().ok_or(err(W, Fault::Malformed, at))?;
    }
    Ok(out)
}

/// Fails if any field is left.
fn no_more(f: &mut Fields<'_>) -> Result<()> {
    match f.next() {
        Some((s, _)) => Err(err(W, Fault::Malformed, s)),
        None => Ok(()),
    }
}

fn parse_connection(body: &[u8], line: Line) -> Result<Connection> {
    let v = line.value();
    let (vs, ve) = (v.start as usize, v.end as usize);
    let mut f = Fields::new(body, vs, ve);
    let three = take::<3>(&mut f, ve)?;
    no_more(&mut f)?;
    Ok(Connection {
        line,
        address: parse_address(body, three, true)?,
    })
}

fn parse_origin(body: &[u8], line: Line) -> Result<Origin> {
    let v = line.value();
    let (vs, ve) = (v.start as usize, v.end as usize);
    let mut f = Fields::new(body, vs, ve);
    let [u, id, ver, n, t, a] = take::<6>(&mut f, ve)?;
    no_more(&mut f)?;
    Ok(Origin {
        line,
        username: Span::new(u.0, u.1),
        sess_id: Span::new(id.0, id.1),
        sess_version: Span::new(ver.0, ver.1),
        address: parse_address(body, [n, t, a], false)?,
    })
}

fn parse_media(body: &[u8], line: Line) -> Result<Media> {
    let v = line.value();
    let (vs, ve) = (v.start as usize, v.end as usize);
    let mut f = Fields::new(body, vs, ve);
    let [(ms, me), (ps, pe), (rs, re)] = take::<3>(&mut f, ve)?;
    let media = sub(body, ms, me);
    if let Some(o) = media.iter().position(|&b| !lex::is_token(b)) {
        return Err(err(W, Fault::BadChar, ms + o));
    }
    let pf = sub(body, ps, pe);
    let (port_end, port_count) = match memchr::memchr(b'/', pf) {
        None => (pe, None),
        Some(o) => {
            let c = parse_u16(sub(pf, o + 1, pf.len()))
                .filter(|&c| c > 0)
                .ok_or(err(W, Fault::BadNumber, ps + o + 1))?;
            (ps + o, Some(c))
        }
    };
    let port = parse_u16(sub(body, ps, port_end)).ok_or(err(W, Fault::BadNumber, ps))?;
    let proto = sub(body, rs, re);
    if let Some(o) = proto.iter().position(|&b| !(lex::is_token(b) || b == b'/')) {
        return Err(err(W, Fault::BadChar, rs + o));
    }
    let fmts = match f.next() {
        None => Span::new(ve, ve),
        Some((fs, _)) => {
            let mut fe = ve;
            while fe > fs && body.get(fe - 1).is_some_and(|&b| is_sp(b)) {
                fe -= 1;
            }
            Span::new(fs, fe)
        }
    };
    Ok(Media {
        line,
        media: Span::new(ms, me),
        port,
        port_span: Span::new(ps, port_end),
        port_count,
        proto: Span::new(rs, re),
        fmts,
        connections: Few::new(),
        rtcp: Few::new(),
    })
}

/// An `a=rtcp:` line (the caller checked the `a=rtcp:` prefix).
fn parse_rtcp(body: &[u8], line: Line) -> Result<Rtcp> {
    let v = line.value();
    let (vs, ve) = (v.start as usize + 5, v.end as usize);
    let mut f = Fields::new(body, vs, ve);
    let (ps, pe) = f.next().ok_or(err(W, Fault::BadNumber, vs))?;
    // The port must follow the colon directly.
    if ps != vs {
        return Err(err(W, Fault::BadChar, vs));
    }
    let port = parse_u16(sub(body, ps, pe)).ok_or(err(W, Fault::BadNumber, ps))?;
    let address = match f.next() {
        None => None,
        Some(first) => {
            let [second, third] = take::<2>(&mut f, ve)?;
            no_more(&mut f)?;
            Some(parse_address(body, [first, second, third], false)?)
        }
    };
    Ok(Rtcp {
        line,
        port,
        port_span: Span::new(ps, pe),
        address,
    })
}

impl<'a> Sdp<'a> {
    /// Locates the lines of a session description. Every offset, in the
    /// result and in errors, is relative to `body`.
    pub fn locate(body: &'a [u8]) -> Result<Sdp<'a>> {
        let n = body.len();
        if u32::try_from(n).is_err() {
            return Err(err(W, Fault::TooLong, 0));
        }
        let mut sdp = Sdp {
            raw: body,
            origin: None,
            connections: Few::new(),
            media: Vec::new(),
        };
        let mut pos = 0usize;
        let mut lines = 0usize;
        let mut seen_empty = false;
        let mut seen_v = false;
        // One newline per line: the cursor stays in step with `pos`.
        let mut newlines = super::scan::Cursor::new(body, b'\n', 0);
        while pos < n {
            let (end, next) = match newlines.next_pos() {
                Some(e) => (e, e + 1),
                None => (n, n),
            };
            let mut ve = end;
            if ve > pos && body.get(ve - 1) == Some(&b'\r') {
                ve -= 1;
            }
            let at = pos;
            pos = next;
            lines += 1;
            if lines > MAX_LINES {
                return Err(err(W, Fault::TooMany, at));
            }
            let text = sub(body, at, ve);
            if text.is_empty() {
                seen_empty = true;
                continue;
            }
            if seen_empty {
                return Err(err(W, Fault::Malformed, at));
            }
            let ty = match text {
                [t @ b'a'..=b'z', b'=', ..] => *t,
                _ => return Err(err(W, Fault::BadChar, at)),
            };
            let line = Line {
                span: Span::new(at, ve),
                next: next as u32,
            };
            if !seen_v {
                if ty != b'v' {
                    return Err(err(W, Fault::Missing, at));
                }
                if lex::trim(sub(text, 2, text.len())) != b"0" {
                    return Err(err(W, Fault::UnsupportedVersion, at + 2));
                }
                seen_v = true;
                continue;
            }
            match ty {
                b'v' => return Err(err(W, Fault::Duplicate, at)),
                b'o' => {
                    if !sdp.media.is_empty() {
                        return Err(err(W, Fault::Malformed, at));
                    }
                    if sdp.origin.is_some() {
                        return Err(err(W, Fault::Duplicate, at));
                    }
                    sdp.origin = Some(parse_origin(body, line)?);
                }
                b'c' => {
                    let c = parse_connection(body, line)?;
                    let list = match sdp.media.last_mut() {
                        Some(m) => &mut m.connections,
                        None => &mut sdp.connections,
                    };
                    if !list.push(c) {
                        return Err(err(W, Fault::TooMany, at));
                    }
                }
                b'm' => {
                    if sdp.media.len() >= MAX_MEDIA {
                        return Err(err(W, Fault::TooMany, at));
                    }
                    let m = parse_media(body, line)?;
                    if sdp.media.is_empty() {
                        sdp.media.reserve_exact(4);
                    }
                    sdp.media.push(m);
                }
                b'a' if text.starts_with(b"a=rtcp:") => {
                    // RFC 3605: media level only; a session-level one is ignored.
                    if let Some(m) = sdp.media.last_mut() {
                        let r = parse_rtcp(body, line)?;
                        if !m.rtcp.push(r) {
                            return Err(err(W, Fault::TooMany, at));
                        }
                    }
                }
                _ => {}
            }
        }
        if !seen_v {
            return Err(err(W, Fault::Missing, 0));
        }
        Ok(sdp)
    }

    /// The session-level `c=` lines.
    #[inline]
    pub fn connections(&self) -> &[Connection] {
        self.connections.as_slice()
    }

    /// The `c=` line that applies to a media description: its own first
    /// one, else the session-level one.
    #[inline]
    pub fn connection_of<'s>(&'s self, m: &'s Media) -> Option<&'s Connection> {
        m.connections()
            .first()
            .or_else(|| self.connections().first())
    }

    /// The bytes of a span of the body.
    #[inline]
    pub fn get(&self, s: Span) -> &'a [u8] {
        s.get(self.raw)
    }

    /// Every non-empty line, with its type letter, in order.
    pub fn lines(&self) -> impl Iterator<Item = (u8, Line)> + 'a {
        let body = self.raw;
        let n = body.len();
        let mut pos = 0usize;
        core::iter::from_fn(move || {
            while pos < n {
                let (end, next) = match memchr::memchr(b'\n', sub(body, pos, n)) {
                    Some(o) => (pos + o, pos + o + 1),
                    None => (n, n),
                };
                let mut ve = end;
                if ve > pos && body.get(ve - 1) == Some(&b'\r') {
                    ve -= 1;
                }
                let at = pos;
                pos = next;
                if let Some(&t) = body.get(at).filter(|_| ve > at) {
                    return Some((
                        t,
                        Line {
                            span: Span::new(at, ve),
                            next: next as u32,
                        },
                    ));
                }
            }
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn crlf(s: &str) -> Vec<u8> {
        s.replace('\n', "\r\n").into_bytes()
    }

    fn bad(body: &[u8]) -> (Fault, u32) {
        let e = Sdp::locate(body).unwrap_err();
        assert_eq!(e.what, Where::Sdp);
        (e.fault, e.at)
    }

    const SIPP: &str = "v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
";

    #[test]
    fn sipp_offer() {
        let body = crlf(SIPP);
        let sdp = Sdp::locate(&body).unwrap();
        let o = sdp.origin.unwrap();
        assert_eq!(
            sdp.get(o.line.span),
            b"o=user1 53655765 2353687637 IN IP4 127.0.0.1"
        );
        assert_eq!(sdp.get(o.username), b"user1");
        assert_eq!(sdp.get(o.sess_id), b"53655765");
        assert_eq!(sdp.get(o.sess_version), b"2353687637");
        assert_eq!(sdp.get(o.address.addr), b"127.0.0.1");
        assert_eq!(o.address.kind, AddrType::Ip4);
        // The line ends before CRLF; `next` is past it.
        assert_eq!(
            &body[o.line.span.end as usize..o.line.next as usize],
            b"\r\n"
        );
        assert_eq!(
            sdp.get(o.line.value()),
            b"user1 53655765 2353687637 IN IP4 127.0.0.1"
        );

        let c = sdp.connections();
        assert_eq!(c.len(), 1);
        assert_eq!(sdp.get(c[0].line.with_eol()), b"c=IN IP4 127.0.0.1\r\n");
        assert_eq!(sdp.get(c[0].address.net_type), b"IN");
        assert_eq!(sdp.get(c[0].address.addr_type), b"IP4");
        assert_eq!(sdp.get(c[0].address.addr), b"127.0.0.1");
        assert_eq!(c[0].address.ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));

        assert_eq!(sdp.media.len(), 1);
        let m = &sdp.media[0];
        assert_eq!(sdp.get(m.media), b"audio");
        assert_eq!(m.port, 6000);
        assert_eq!(sdp.get(m.port_span), b"6000");
        assert_eq!(m.port_count, None);
        assert_eq!(sdp.get(m.proto), b"RTP/AVP");
        assert_eq!(sdp.get(m.fmts), b"0");
        assert!(m.connections().is_empty());
        assert!(m.rtcp().is_empty());
        assert_eq!(sdp.connection_of(m), Some(&c[0]));
        assert_eq!(sdp.lines().count(), 7);
        assert_eq!(sdp.lines().map(|(t, _)| t).collect::<Vec<_>>(), b"vosctma");
    }

    const LINPHONE: &str = "v=0
o=alice 2890844526 2890844527 IN IP4 192.0.2.10
s=Talk
c=IN IP4 192.0.2.10
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
m=audio 7078 RTP/AVP 96 0 8 101
a=rtpmap:96 opus/48000/2
a=rtcp:7079 IN IP4 192.0.2.10
a=rtcp-fb:* trr-int 1000
a=sendrecv
m=video 9078 RTP/AVP 96 97
c=IN IP4 192.0.2.11
a=rtpmap:96 VP8/90000
a=rtcp:9079
a=rtcp-mux
";

    #[test]
    fn audio_video_with_rtcp_bare_lf() {
        let body = LINPHONE.as_bytes();
        let sdp = Sdp::locate(body).unwrap();
        assert_eq!(sdp.media.len(), 2);
        let (a, v) = (&sdp.media[0], &sdp.media[1]);
        assert_eq!((a.port, v.port), (7078, 9078));
        assert_eq!(sdp.get(a.fmts), b"96 0 8 101");
        assert_eq!(a.rtcp().len(), 1);
        let r = a.rtcp()[0];
        assert_eq!(r.port, 7079);
        assert_eq!(sdp.get(r.port_span), b"7079");
        let ra = r.address.unwrap();
        assert_eq!(sdp.get(ra.addr), b"192.0.2.10");
        assert_eq!(ra.ip, Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))));
        assert_eq!(sdp.get(r.line.span), b"a=rtcp:7079 IN IP4 192.0.2.10");
        assert_eq!(r.line.next, r.line.span.end + 1);
        // The video stream has its own c= and an address-less a=rtcp.
        assert_eq!(sdp.get(v.connections()[0].address.addr), b"192.0.2.11");
        assert_eq!(sdp.connection_of(v), Some(&v.connections()[0]));
        assert_eq!(sdp.connection_of(a), Some(&sdp.connections()[0]));
        assert_eq!(v.rtcp().len(), 1);
        assert_eq!(v.rtcp()[0].port, 9079);
        assert_eq!(v.rtcp()[0].address, None);
        // a=rtcp-fb / a=rtcp-mux / a=rtcp-xr are not a=rtcp.
        assert_eq!(sdp.media.iter().map(|m| m.rtcp().len()).sum::<usize>(), 2);
    }

    #[test]
    fn ipv6_and_no_trailing_newline() {
        let body = b"v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\nc=IN IP6 2001:db8::2";
        let sdp = Sdp::locate(body).unwrap();
        assert!(sdp.connections().is_empty());
        let c = sdp.media[0].connections()[0];
        assert_eq!(c.address.kind, AddrType::Ip6);
        assert_eq!(sdp.get(c.address.addr), b"2001:db8::2");
        assert_eq!(
            c.address.ip,
            Some(IpAddr::V6("2001:db8::2".parse::<Ipv6Addr>().unwrap()))
        );
        assert_eq!(c.line.next as usize, body.len());
        assert_eq!(c.line.span.end as usize, body.len());
        assert_eq!(sdp.get(sdp.origin.unwrap().address.addr), b"2001:db8::1");
    }

    #[test]
    fn session_level_connection_only_and_trailing_empty_lines() {
        let body = crlf(
            "v=0\no=- 0 0 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 5004 RTP/AVP 0 8\nm=video 0 RTP/AVP 31\n\n\n",
        );
        let sdp = Sdp::locate(&body).unwrap();
        assert_eq!(sdp.media.len(), 2);
        for m in &sdp.media {
            assert!(m.connections().is_empty());
            assert_eq!(
                sdp.get(sdp.connection_of(m).unwrap().address.addr),
                b"10.0.0.1"
            );
        }
        assert!(sdp.media[1].is_disabled());
        // Not even an o= line (tolerated), and a bare LF trailer.
        let sdp = Sdp::locate(b"v=0\ns=-\nt=0 0\n\n").unwrap();
        assert!(sdp.origin.is_none() && sdp.media.is_empty());
    }

    #[test]
    fn multicast_and_port_count() {
        let body = b"v=0\nc=IN IP4 224.2.1.1/127/3\nm=video 49170/2 RTP/AVP 31\nc=IN IP4 host.example.com\nc=IN XYZ whatever\n";
        let sdp = Sdp::locate(body).unwrap();
        let c = sdp.connections()[0];
        assert_eq!(sdp.get(c.address.addr), b"224.2.1.1");
        let m = &sdp.media[0];
        assert_eq!((m.port, m.port_count), (49170, Some(2)));
        assert_eq!(sdp.get(m.port_span), b"49170");
        assert_eq!(m.connections().len(), 2);
        assert_eq!(m.connections()[0].address.ip, None);
        assert_eq!(m.connections()[1].address.kind, AddrType::Other);
        // Extra spaces between fields are tolerated.
        let sdp = Sdp::locate(b"v=0\nm=audio  5004   RTP/AVP   0  \n").unwrap();
        assert_eq!(sdp.get(sdp.media[0].fmts), b"0");
        let sdp = Sdp::locate(b"v=0\nm=audio 0 RTP/AVP\n").unwrap();
        assert!(sdp.media[0].fmts.is_empty());
    }

    #[test]
    fn bad_bodies() {
        let cases: &[(&[u8], Fault, u32)] = &[
            (b"", Fault::Missing, 0),
            (b"\r\n", Fault::Missing, 0),
            (b"o=- 0 0 IN IP4 1.2.3.4\nv=0\n", Fault::Missing, 0),
            (b"\nv=0\n", Fault::Malformed, 1),
            (b"v=1\n", Fault::UnsupportedVersion, 2),
            (b"v=0\nv=0\n", Fault::Duplicate, 4),
            (b"hello\n", Fault::BadChar, 0),
            (b"v=0\nX=1\n", Fault::BadChar, 4),
            (b"v=0\ns\n", Fault::BadChar, 4),
            (b"v=0\n s=x\n", Fault::BadChar, 4),
            (b"v=0\ns=-\n\nt=0 0\n", Fault::Malformed, 9),
            (b"v=0\no=a 1 1 IN IP4\n", Fault::Malformed, 18),
            (b"v=0\no=a 1 1 IN IP4 1.2.3.4 x\n", Fault::Malformed, 27),
            (b"v=0\no=a 1 1 IN IP4 1.2.3.4\no=a 1 1 IN IP4 1.2.3.4\n", Fault::Duplicate, 27),
            (b"v=0\nm=audio 1 RTP/AVP 0\no=a 1 1 IN IP4 1.2.3.4\n", Fault::Malformed, 24),
            (b"v=0\nc=IN IP4\n", Fault::Malformed, 12),
            (b"v=0\nc=IN IP4 1.2.3.4 5\n", Fault::Malformed, 21),
            (b"v=0\nc=IN IP4 ::1\n", Fault::Malformed, 13),
            (b"v=0\nc=IN IP6 1.2.3.4\n", Fault::Malformed, 13),
            (b"v=0\nc=IN IP4 /127\n", Fault::Empty, 13),
            (b"v=0\nc=IN IP4 a@b\n", Fault::Malformed, 13),
            (b"v=0\nm=audio\n", Fault::Malformed, 11),
            (b"v=0\nm=audio 65536 RTP/AVP 0\n", Fault::BadNumber, 12),
            (b"v=0\nm=audio x RTP/AVP 0\n", Fault::BadNumber, 12),
            (b"v=0\nm=audio 5004/0 RTP/AVP 0\n", Fault::BadNumber, 17),
            (b"v=0\nm=audio 5004/ RTP/AVP 0\n", Fault::BadNumber, 17),
            (b"v=0\nm=au\"dio 5004 RTP/AVP 0\n", Fault::BadChar, 8),
            (b"v=0\nm=audio 5004 RTP<AVP 0\n", Fault::BadChar, 20),
            (b"v=0\nm=audio 1 RTP/AVP 0\na=rtcp:\n", Fault::BadNumber, 31),
            (b"v=0\nm=audio 1 RTP/AVP 0\na=rtcp: 5\n", Fault::BadChar, 31),
            (b"v=0\nm=audio 1 RTP/AVP 0\na=rtcp:70000\n", Fault::BadNumber, 31),
            (b"v=0\nm=audio 1 RTP/AVP 0\na=rtcp:5 IN IP4\n", Fault::Malformed, 39),
            (b"v=0\nm=audio 1 RTP/AVP 0\na=rtcp:5 IN IP4 1.2.3.4 x\n", Fault::Malformed, 48),
            (b"v=0\nm=audio 1 RTP/AVP 0\na=rtcp:5\na=rtcp:6\na=rtcp:7\n", Fault::TooMany, 42),
            (
                b"v=0\nc=IN IP4 1.1.1.1\nc=IN IP4 1.1.1.1\nc=IN IP4 1.1.1.1\nc=IN IP4 1.1.1.1\nc=IN IP4 1.1.1.1\n",
                Fault::TooMany,
                72,
            ),
        ];
        for (body, f, at) in cases {
            assert_eq!(bad(body), (*f, *at), "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn limits() {
        let mut body = b"v=0\r\n".to_vec();
        for i in 0..MAX_MEDIA {
            body.extend_from_slice(format!("m=audio {} RTP/AVP 0\r\n", 2000 + 2 * i).as_bytes());
        }
        assert_eq!(Sdp::locate(&body).unwrap().media.len(), MAX_MEDIA);
        let at = body.len();
        body.extend_from_slice(b"m=audio 9 RTP/AVP 0\r\n");
        assert_eq!(bad(&body), (Fault::TooMany, at as u32));

        let mut body = b"v=0\n".to_vec();
        for _ in 0..MAX_LINES {
            body.extend_from_slice(b"a=x\n");
        }
        assert_eq!(bad(&body).0, Fault::TooMany);
    }

    #[test]
    fn spans_are_relative_to_the_body_of_a_message() {
        use crate::sip::SipMsg;
        let body = crlf(SIPP);
        let mut m = format!(
            "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        m.extend_from_slice(&body);
        let msg = SipMsg::parse(&m).unwrap();
        let sdp = msg.sdp().unwrap();
        let c = sdp.connections()[0].address.addr;
        let base = msg.body_span().start;
        let abs = Span {
            start: base + c.start,
            end: base + c.end,
        };
        assert_eq!(msg.slice(abs), b"127.0.0.1");
        // Errors from the message accessor are absolute.
        let bad = b"OPTIONS sip:a SIP/2.0\r\nl: 7\r\n\r\nv=0\nX=1";
        let msg = SipMsg::parse(bad).unwrap();
        let e = msg.sdp().unwrap_err();
        assert_eq!(
            (e.what, e.fault, e.at as usize),
            (Where::Sdp, Fault::BadChar, bad.len() - 3)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let base = LINPHONE.as_bytes();
        for n in 0..=base.len() {
            let _ = Sdp::locate(&base[..n]);
        }
        let mut buf = base.to_vec();
        for i in 0..buf.len() {
            for b in [0u8, b' ', b'\r', b'\n', b'/', b'=', b':', 0xff] {
                let old = buf[i];
                buf[i] = b;
                if let Ok(s) = Sdp::locate(&buf) {
                    let _ = s.lines().count();
                }
                buf[i] = old;
            }
        }
    }
}
