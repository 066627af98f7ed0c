//! Our Via (RFC 3261 16.6 step 8, 16.11), the stateless branch, loop
//! detection (16.3 item 4) and `received`/`rport` on the Via of a received
//! request (RFC 3261 18.2.1, RFC 3581).
//!
//! # The stateless branch
//!
//! A stateless proxy keeps nothing between messages, yet a retransmission
//! of a request, the CANCEL of an INVITE and the ACK of a non-2xx reply
//! must leave with the same branch as the original request, so that the
//! next hop matches them to its transaction. The branch is therefore a
//! function of the received request:
//!
//! ```text
//! z9hG4bK<t>.<l>
//! ```
//!
//! - `<t>` (16 hex digits): a keyed hash of the transaction identity. With
//!   an RFC 3261 top Via (branch starts with `z9hG4bK`), that is the branch
//!   and the sent-by (which a CANCEL and a non-2xx ACK copy from the
//!   INVITE). Without one (RFC 2543 clients), it is the top Via's sent-by
//!   and branch, Call-ID, From tag, CSeq number and the Request-URI as
//!   received (what RFC 2543 transaction matching uses; the method and the
//!   To tag are left out since the CANCEL and the ACK differ there). The
//!   index of the copy is mixed in, so that the copies of a stateless fork
//!   differ.
//! - `<l>` (16 hex digits): the loop-detection value of RFC 3261 16.6
//!   step 8: the Request-URI as received, From tag, Call-ID and CSeq
//!   number. A request that comes back carrying one of our Vias whose
//!   `<l>` equals the value computed now has looped (nothing relevant
//!   changed); a spiral (the URI was rewritten on the way) gives another
//!   value. The RFC's list also has the To tag, Proxy-Require and
//!   Proxy-Authorization; they are left out because the non-2xx ACK
//!   carries a To tag its INVITE had not, and the CANCEL of an
//!   authenticated INVITE carries no credentials: with them in, the next
//!   hop could not match the ACK and the CANCEL to the INVITE by branch.
//!   (The Request-URI *as received*, not as sent, is what tells a spiral
//!   from a loop: a request that spirals through here with a new URI and
//!   leaves again unchanged would otherwise look like a loop.)
//!
//! The hash is keyed with a per-process secret ([`super::Local::secret`]) so
//! that peers cannot forge colliding branches; it is a fast 64-bit mixer,
//! not a cryptographic hash.

use core::net::{IpAddr, SocketAddr};
use std::io::Write;

use crate::script::Config;
use crate::sip::builder::{BuildError, Edits};
use crate::sip::host::Host;
use crate::sip::lex;
use crate::sip::msg::{SipMsg, Span};
use crate::sip::via::{BRANCH_COOKIE, Via};

use super::{Local, LocalSocket};

// ----- hashing -----

/// splitmix64's finaliser: a bijective 64-bit mixer.
#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A keyed, non-cryptographic 64-bit hash over a sequence of fields.
/// Every field is closed with its length, so `("ab", "c")` and
/// `("a", "bc")` differ.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyedHash(u64);

impl KeyedHash {
    pub(crate) fn new(key: u64) -> KeyedHash {
        KeyedHash(mix(key ^ 0x9e37_79b9_7f4a_7c15))
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut KeyedHash {
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let w = <[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes);
            self.0 = mix(self.0 ^ w).rotate_left(23);
        }
        let tail = chunks
            .remainder()
            .iter()
            .rev()
            .fold(0u64, |a, &x| (a << 8) | u64::from(x));
        self.0 = mix(self.0 ^ tail ^ ((b.len() as u64) << 56 | 0xa5));
        self
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut KeyedHash {
        self.0 = mix(self.0 ^ v).rotate_left(17) ^ 0x5bd1_e995;
        self
    }

    pub(crate) fn finish(&self) -> u64 {
        mix(self.0 ^ 0x2545_f491_4f6c_dd1d)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `v` as 16 lower-case hex digits.
pub(crate) fn push_hex16(out: &mut Vec<u8>, v: u64) {
    for i in (0..16).rev() {
        let nibble = (v >> (i * 4)) & 0xf;
        out.push(HEX.get(nibble as usize).copied().unwrap_or(b'0'));
    }
}

/// `v` as 16 lower-case hex digits.
pub(crate) fn hex16(v: u64) -> [u8; 16] {
    let mut out = [b'0'; 16];
    for (i, slot) in out.iter_mut().enumerate() {
        let nibble = (v >> ((15 - i) * 4)) & 0xf;
        *slot = HEX.get(nibble as usize).copied().unwrap_or(b'0');
    }
    out
}

// ----- what the hashes read -----

/// The From tag (empty when absent or unparsable).
pub(crate) fn from_tag<'a>(msg: &SipMsg<'a>) -> &'a [u8] {
    msg.from().ok().and_then(|f| f.tag()).unwrap_or(b"")
}

fn cseq_num(msg: &SipMsg<'_>) -> u64 {
    msg.cseq().map_or(u64::MAX, |c| u64::from(c.num))
}

/// The transaction part `<t>` of our branch, before the copy index is
/// mixed in (see the module docs).
pub(crate) fn txn_hash(msg: &SipMsg<'_>, secret: u64) -> u64 {
    let mut h = KeyedHash::new(secret);
    match msg.via1() {
        Ok(v) if v.is_rfc3261_branch() => {
            h.u64(3261)
                .bytes(v.branch().unwrap_or(b""))
                .bytes(v.sent_by);
        }
        via => {
            h.u64(2543);
            if let Ok(v) = via {
                h.bytes(v.sent_by).bytes(v.branch().unwrap_or(b""));
            }
            h.bytes(msg.call_id().unwrap_or(b""))
                .bytes(from_tag(msg))
                .u64(cseq_num(msg))
                .bytes(msg.ruri_bytes().unwrap_or(b""));
        }
    }
    h.finish()
}

/// The loop-detection part `<l>` of our branch (RFC 3261 16.6 step 8,
/// restricted to what a CANCEL and a non-2xx ACK share with their INVITE:
/// see the module docs).
pub(crate) fn loop_hash(msg: &SipMsg<'_>, secret: u64) -> u64 {
    let mut h = KeyedHash::new(secret ^ 0x6c6f_6f70);
    h.bytes(msg.ruri_bytes().unwrap_or(b""))
        .bytes(from_tag(msg))
        .bytes(msg.call_id().unwrap_or(b""))
        .u64(cseq_num(msg));
    h.finish()
}

/// The branch of copy `index` of a forwarded request.
pub(crate) fn branch(txn: u64, index: u32, lp: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(BRANCH_COOKIE.len() + 33);
    b.extend_from_slice(BRANCH_COOKIE);
    push_hex16(
        &mut b,
        mix(txn ^ u64::from(index).wrapping_mul(0x9e37_79b9)),
    );
    b.push(b'.');
    push_hex16(&mut b, lp);
    b
}

/// Our Via value: `SIP/2.0/UDP host:port;branch=...`.
pub(crate) fn via_value(sock: &LocalSocket, branch: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(32 + sock.via_host.len() + branch.len());
    v.extend_from_slice(b"SIP/2.0/UDP ");
    v.extend_from_slice(sock.via_host.as_bytes());
    v.push(b':');
    push_dec(&mut v, u32::from(sock.via_port));
    v.extend_from_slice(b";branch=");
    v.extend_from_slice(branch);
    v
}

// ----- whose Via -----

/// Whether a Via names this router: the sent-by is one of our sockets'
/// Via address (`via_host:via_port`, or the socket's own address), or a
/// `myself` address of the config.
pub(crate) fn is_ours(via: &Via<'_>, local: &Local, config: &Config) -> bool {
    let port = via.port.unwrap_or(5060);
    let ip = via.host.ip();
    let text: &[u8] = match via.host {
        Host::V4(_) => b"",
        Host::V6(_, raw) | Host::Name(raw) => raw,
    };
    local.sockets.iter().any(|s| {
        port == s.via_port
            && ((ip.is_some() && ip == via_host_ip(&s.via_host))
                || (!text.is_empty() && text.eq_ignore_ascii_case(s.via_host.as_bytes())))
    }) || local
        .sockets
        .iter()
        .any(|s| port == s.addr.port() && ip == Some(s.addr.ip()))
        || config.is_myself(&via.host, Some(port))
}

/// The address a socket's `via_host` names, if it is a literal.
fn via_host_ip(h: &str) -> Option<IpAddr> {
    let b = h.as_bytes();
    let inner = b
        .strip_prefix(b"[")
        .and_then(|x| x.strip_suffix(b"]"))
        .unwrap_or(b);
    crate::sip::host::parse_v4(inner)
        .map(IpAddr::V4)
        .or_else(|| crate::sip::host::parse_v6(inner).map(IpAddr::V6))
}

/// Whether the request carries one of our Vias whose loop part equals
/// `lp`: it has been here before with nothing relevant changed.
pub(crate) fn has_looped(msg: &SipMsg<'_>, local: &Local, config: &Config, lp: u64) -> bool {
    let Ok(vias) = msg.vias() else {
        return false;
    };
    let want = hex16(lp);
    vias.iter().any(|v| {
        v.branch()
            .and_then(|b| b.strip_prefix(BRANCH_COOKIE))
            .and_then(|b| b.rsplit(|&c| c == b'.').next())
            .is_some_and(|l| l == want)
            && is_ours(v, local, config)
    })
}

// ----- received / rport -----

/// The span of `part`, a sub-slice of `buf`, as offsets into `buf`.
pub(crate) fn span_in(buf: &[u8], part: &[u8]) -> Option<Span> {
    let start = (part.as_ptr() as usize).checked_sub(buf.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= buf.len()).then(|| Span::new(start, end))
}

/// Changes to the top Via of a received request: replacements of
/// existing parameters and one insertion at the end of the value, as
/// absolute offsets into the message, sorted by position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ViaFix {
    /// `(range, bytes)`; an empty range inserts.
    pub(crate) edits: Vec<(Span, Vec<u8>)>,
}

/// Appends the decimal digits of `n` (no formatting machinery: this is on
/// every forwarded request).
pub(crate) fn push_dec(out: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends an address as `received=` wants it (RFC 3261 grammar: IPv6
/// without brackets).
pub(crate) fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            for (i, o) in a.octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_dec(out, u32::from(*o));
            }
        }
        IpAddr::V6(a) => {
            let _ = write!(out, "{a}");
        }
    }
}

/// What RFC 3261 18.2.1 and RFC 3581 add to the top Via of a request
/// received from `src`: `received=<src ip>` when the sent-by host is not
/// that address (always when `rport` is set), and `rport=<src port>` when
/// the Via has a valueless `rport` or `force_rport` was called. `None`
/// when nothing changes or the top Via cannot be read.
pub(crate) fn via_fix(msg: &SipMsg<'_>, src: SocketAddr, force_rport: bool) -> Option<ViaFix> {
    let v = msg.via1().ok()?;
    let buf = msg.buf();
    let want_rport = force_rport || v.rport() == Some(None);
    let want_received = want_rport || v.host.ip() != Some(src.ip());
    if !want_received {
        return None;
    }
    let end = span_in(buf, lex::trim_end(v.raw))?.end as usize;
    let mut fix = ViaFix::default();
    let mut append = Vec::with_capacity(48);
    // An existing `received` (a client should not send one) is replaced.
    let old = v
        .params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(b"received"));
    let mut received = Vec::with_capacity(24);
    received.extend_from_slice(b"received=");
    push_ip(&mut received, src.ip());
    match old.and_then(|p| {
        let s = span_in(buf, p.name)?;
        let e = p
            .value
            .and_then(|x| span_in(buf, x))
            .map_or(s.end, |x| x.end);
        Some(Span {
            start: s.start,
            end: e,
        })
    }) {
        Some(span) => fix.edits.push((span, received)),
        None => {
            append.push(b';');
            append.extend_from_slice(&received);
        }
    }
    if want_rport {
        let mut rport = Vec::with_capacity(12);
        rport.extend_from_slice(b"rport=");
        push_dec(&mut rport, u32::from(src.port()));
        match v.rport_raw().and_then(|r| span_in(buf, r)) {
            Some(span) => fix.edits.push((span, rport)),
            None => {
                append.push(b';');
                append.extend_from_slice(&rport);
            }
        }
    }
    if !append.is_empty() {
        fix.edits.push((Span::new(end, end), append));
    }
    fix.edits.sort_by_key(|(s, _)| (s.start, s.end));
    Some(fix)
}

impl ViaFix {
    /// Records the changes as edits of the received message.
    pub(crate) fn apply(&self, e: &mut Edits) -> Result<(), BuildError> {
        for (span, bytes) in &self.edits {
            if span.is_empty() {
                e.insert_at(span.start as usize, bytes)?;
            } else {
                e.replace_span(*span, bytes)?;
            }
        }
        Ok(())
    }

    /// Applies the changes to a copy of the first Via header value: the
    /// bytes of `value` (the header value at message offset `value_at`)
    /// were copied to `out[out_at..]`. Returns false (and changes
    /// nothing) when the copy is not where it should be.
    pub(crate) fn apply_to_copy(
        &self,
        out: &mut Vec<u8>,
        out_at: usize,
        value: &[u8],
        value_at: usize,
    ) -> bool {
        if out.get(out_at..out_at.saturating_add(value.len())) != Some(value) {
            return false;
        }
        let value_end = value_at + value.len();
        let inside = self
            .edits
            .iter()
            .all(|(s, _)| s.start as usize >= value_at && s.end as usize <= value_end);
        if !inside {
            return false;
        }
        // Back to front, so earlier offsets stay valid.
        for (span, bytes) in self.edits.iter().rev() {
            let a = out_at + (span.start as usize - value_at);
            let b = out_at + (span.end as usize - value_at);
            if a > b || b > out.len() {
                return false;
            }
            out.splice(a..b, bytes.iter().copied());
        }
        true
    }
}
