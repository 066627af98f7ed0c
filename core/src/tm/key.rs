//! Transaction keys: which transaction a request or a response belongs to
//! (RFC 3261 17.1.3 and 17.2.3).
//!
//! Sans-IO and not yet wired into the shards: these functions read a parsed
//! [`SipMsg`] and build owned keys for the per-shard [`super::table::Table`].
//!
//! **Server side** (17.2.3). A request whose top Via branch has the magic
//! cookie `z9hG4bK` is keyed by (branch, sent-by host, sent-by port, method),
//! where ACK counts as INVITE (so the ACK to a non-2xx final response finds
//! the INVITE's transaction) and CANCEL is a transaction of its own;
//! [`cancel_target_key`] gives the key of the INVITE a CANCEL cancels. A
//! request without the cookie (RFC 2543) is keyed by the fallback fields:
//! Request-URI, From tag, Call-ID, CSeq number, top Via (transport,
//! sent-by, branch) and the method class. The To tag is left out: the ACK
//! to a non-2xx response carries the To tag of our response, which the
//! INVITE did not have, and RFC 3261 matches it against that response; a
//! retransmitted INVITE has the INVITE's To tag anyway. (Two RFC 2543
//! requests equal in every other field but the To tag are taken for one
//! transaction; only a broken client sends those.)
//!
//! **Client side** (17.1.3). A response is keyed by the branch of its top
//! Via (ours) and its CSeq method; [`ClientKey::new`] builds the same key
//! when we send the request.
//!
//! **Representation and collisions.** A key is the exact, canonical bytes
//! of its fields (length-prefixed, so fields cannot run into each other),
//! not a hash of them: two keys are equal only when every field is equal,
//! so there are no collisions to handle. Hosts are canonical (IPv4 and IPv6
//! as address bytes, names in lower case, RFC 3261 19.1.4), the port is the
//! transport's default when the Via has none, and the branch is compared
//! case-insensitively (a token, RFC 3261 7.3.1). Keys up to
//! [`INLINE`] bytes (an RFC 3261 key with a usual branch and host) live
//! inline, without allocation; longer ones (RFC 2543 keys, long host names)
//! on the heap. The table's `HashMap` hashes them with std's keyed
//! SipHash, so a peer cannot aim for one bucket. The size of a key is
//! bounded by the message size ([`crate::sip::Limits`]).

use std::hash::{Hash, Hasher};

use crate::sip::lex::is_token;
use crate::sip::{HeaderName, Host, Method, ParseError, SipMsg, Via};

/// Bytes of a key stored without allocation.
pub const INLINE: usize = 78;

/// Why a message has no key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// A request was expected.
    NotRequest,
    /// A response was expected.
    NotResponse,
    /// [`cancel_target_key`] was given a request other than CANCEL.
    NotCancel,
    /// The response's top Via has no branch: it is not for one of our
    /// client transactions.
    NoBranch,
    /// A header the key needs does not parse (or is missing).
    Parse(ParseError),
}

impl From<ParseError> for KeyError {
    fn from(e: ParseError) -> KeyError {
        KeyError::Parse(e)
    }
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::NotRequest => f.write_str("not a request"),
            KeyError::NotResponse => f.write_str("not a response"),
            KeyError::NotCancel => f.write_str("not a CANCEL"),
            KeyError::NoBranch => f.write_str("top Via has no branch"),
            KeyError::Parse(e) => write!(f, "{e:?}"),
        }
    }
}

impl std::error::Error for KeyError {}

/// Canonical key bytes, inline when short.
#[derive(Clone)]
enum KeyBytes {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl KeyBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            KeyBytes::Inline { len, buf } => buf.get(..*len as usize).unwrap_or(&[]),
            KeyBytes::Heap(b) => b,
        }
    }
}

impl PartialEq for KeyBytes {
    fn eq(&self, other: &KeyBytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for KeyBytes {}

impl Hash for KeyBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

/// Builds key bytes inline, spilling to the heap when they grow long.
struct Builder {
    len: usize,
    buf: [u8; INLINE],
    heap: Option<Vec<u8>>,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            len: 0,
            buf: [0; INLINE],
            heap: None,
        }
    }

    fn byte(&mut self, b: u8) {
        if let Some(v) = &mut self.heap {
            v.push(b);
        } else if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        } else {
            let mut v = Vec::with_capacity(INLINE * 2);
            v.extend_from_slice(&self.buf);
            v.push(b);
            self.heap = Some(v);
        }
    }

    fn bytes(&mut self, s: &[u8]) {
        if self.heap.is_none()
            && let Some(dst) = self.buf.get_mut(self.len..self.len + s.len())
        {
            dst.copy_from_slice(s);
            self.len += s.len();
            return;
        }
        for &b in s {
            self.byte(b);
        }
    }

    /// A length (LEB128), then the bytes: fields cannot run into each other.
    fn field(&mut self, s: &[u8]) {
        self.len_prefix(s.len());
        self.bytes(s);
    }

    /// Like [`Builder::field`], lower-cased.
    fn field_lower(&mut self, s: &[u8]) {
        self.len_prefix(s.len());
        if self.heap.is_none()
            && let Some(dst) = self.buf.get_mut(self.len..self.len + s.len())
        {
            dst.copy_from_slice(s);
            dst.make_ascii_lowercase();
            self.len += s.len();
            return;
        }
        for &b in s {
            self.byte(b.to_ascii_lowercase());
        }
    }

    fn len_prefix(&mut self, mut n: usize) {
        loop {
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.byte(low);
                return;
            }
            self.byte(low | 0x80);
        }
    }

    fn host(&mut self, h: &Host<'_>) {
        match *h {
            Host::V4(a) => {
                self.byte(4);
                self.bytes(&a.octets());
            }
            Host::V6(a, _) => {
                self.byte(6);
                self.bytes(&a.octets());
            }
            Host::Name(n) => {
                self.byte(b'n');
                self.field_lower(n);
            }
        }
    }

    /// Method class: INVITE (and ACK when `ack_is_invite`), CANCEL, other.
    fn method(&mut self, m: &Method<'_>, ack_is_invite: bool) {
        match m {
            Method::Invite => self.byte(b'I'),
            Method::Ack if ack_is_invite => self.byte(b'I'),
            Method::Cancel => self.byte(b'C'),
            other => {
                self.byte(b'O');
                self.field(other.as_bytes());
            }
        }
    }

    fn finish(self) -> KeyBytes {
        match self.heap {
            Some(v) => KeyBytes::Heap(v.into_boxed_slice()),
            None => KeyBytes::Inline {
                len: self.len as u8,
                buf: self.buf,
            },
        }
    }
}

const TAG_RFC3261: u8 = 1;
const TAG_RFC2543: u8 = 2;
const TAG_CLIENT: u8 = 3;

/// The key of a server transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerKey(KeyBytes);

impl ServerKey {
    /// Whether the key came from an RFC 3261 branch (else the RFC 2543
    /// fallback).
    pub fn is_rfc3261(&self) -> bool {
        self.0.as_slice().first() == Some(&TAG_RFC3261)
    }

    /// The canonical bytes (for logs and tests).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// The key of a client transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(KeyBytes);

impl ClientKey {
    /// The key of a client transaction we start: the branch we put in our
    /// Via and the request's method.
    pub fn new(branch: &[u8], method: &Method<'_>) -> ClientKey {
        let mut b = Builder::new();
        b.byte(TAG_CLIENT);
        b.method(method, true);
        b.field_lower(branch);
        ClientKey(b.finish())
    }

    /// The canonical bytes (for logs and tests).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// The server transaction key of a request (RFC 3261 17.2.3). An ACK gets
/// the key of the INVITE it acknowledges (found only for the ACK to a
/// non-2xx response: the ACK to a 2xx has a new branch); a CANCEL gets a
/// key of its own.
pub fn server_key(msg: &SipMsg<'_>) -> Result<ServerKey, KeyError> {
    let method = msg.method().ok_or(KeyError::NotRequest)?;
    build_server_key(msg, &method)
}

/// The key of the INVITE server transaction a CANCEL cancels (RFC 3261
/// 9.2: matched like a request to the INVITE, method aside).
pub fn cancel_target_key(cancel: &SipMsg<'_>) -> Result<ServerKey, KeyError> {
    match cancel.method() {
        Some(Method::Cancel) => build_server_key(cancel, &Method::Invite),
        Some(_) => Err(KeyError::NotCancel),
        None => Err(KeyError::NotRequest),
    }
}

fn build_server_key(msg: &SipMsg<'_>, method: &Method<'_>) -> Result<ServerKey, KeyError> {
    let via = msg.via1()?;
    let mut b = Builder::new();
    if via.is_rfc3261_branch() {
        b.byte(TAG_RFC3261);
        b.method(method, true);
        b.field_lower(via.branch().unwrap_or_default());
        b.host(&via.host);
        b.bytes(&via.port_or_default().to_be_bytes());
    } else {
        b.byte(TAG_RFC2543);
        b.method(method, true);
        b.field(msg.ruri_bytes().ok_or(KeyError::NotRequest)?);
        b.field(msg.from()?.tag().unwrap_or_default());
        b.field(msg.call_id()?);
        b.bytes(&msg.cseq()?.num.to_be_bytes());
        via_fields(&mut b, via);
    }
    Ok(ServerKey(b.finish()))
}

/// The top Via in an RFC 2543 key: transport, sent-by, branch if any.
fn via_fields(b: &mut Builder, via: &Via<'_>) {
    let t = via.transport.as_bytes();
    b.len_prefix(t.len());
    for &c in t {
        b.byte(c.to_ascii_uppercase());
    }
    b.host(&via.host);
    b.bytes(&via.port_or_default().to_be_bytes());
    match via.branch() {
        Some(br) => {
            b.byte(1);
            b.field_lower(br);
        }
        None => b.byte(0),
    }
}

/// The client transaction key of a response (RFC 3261 17.1.3): the branch
/// of its top Via and its CSeq method.
pub fn client_key(response: &SipMsg<'_>) -> Result<ClientKey, KeyError> {
    if !response.is_response() {
        return Err(KeyError::NotResponse);
    }
    let branch = match top_branch_fast(response) {
        Some(b) => b,
        None => {
            let via = response.via1()?;
            let branch = via.branch().filter(|b| !b.is_empty());
            branch.ok_or(KeyError::NoBranch)?
        }
    };
    let cseq = response.cseq()?;
    Ok(ClientKey::new(branch, &cseq.method))
}

/// The branch of the top Via read straight from the header's bytes, for
/// the usual shape (`SIP/2.0/UDP host:port;...;branch=token;...`, no
/// quoted string before the first comma), without parsing the Vias: a
/// relayed reply's Vias need not be parsed at all. `None` for any other
/// shape; the caller then parses the Via, so the key is the same either
/// way.
fn top_branch_fast<'a>(msg: &SipMsg<'a>) -> Option<&'a [u8]> {
    let v = msg.value(HeaderName::Via)?;
    let end = memchr::memchr2(b',', b'"', v).unwrap_or(v.len());
    if v.get(end) == Some(&b'"') {
        return None;
    }
    let first = v.get(..end)?;
    let mut rest = first.get(memchr::memchr(b';', first)? + 1..)?;
    loop {
        let seg_end = memchr::memchr(b';', rest).unwrap_or(rest.len());
        let seg = rest.get(..seg_end)?;
        if let Some(eq) = memchr::memchr(b'=', seg)
            && seg.get(..eq)?.trim_ascii().eq_ignore_ascii_case(b"branch")
        {
            let val = seg.get(eq + 1..)?.trim_ascii();
            return (!val.is_empty() && val.iter().all(|&b| is_token(b))).then_some(val);
        }
        rest = rest.get(seg_end + 1..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_branch_agrees_with_the_parser() {
        let reply = |via: &str| {
            format!(
                "SIP/2.0 180 Ringing\r\nVia: {via}\r\nFrom: <sip:a@b>;tag=1\r\n\
                 To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\
                 Content-Length: 0\r\n\r\n"
            )
        };
        for via in [
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc.Def",
            "SIP/2.0/UDP 192.0.2.1 ; rport=5 ; BRANCH = z9hG4bKq ;received=192.0.2.9",
            "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1, SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK2",
            "SIP/2.0/UDP [2001:db8::1]:5060;x=\"a;branch=no\";branch=z9hG4bKyes",
            "SIP/2.0/UDP 192.0.2.1;rport",
        ] {
            let text = reply(via);
            let m = SipMsg::parse(text.as_bytes()).unwrap();
            let parsed = m.via1().ok().and_then(Via::branch).map(<[u8]>::to_vec);
            if let Some(fast) = top_branch_fast(&m) {
                assert_eq!(Some(fast.to_vec()), parsed, "{via}");
            }
            let want = parsed.map(|b| ClientKey::new(&b, &Method::Invite));
            assert_eq!(client_key(&m).ok(), want, "{via}");
        }
    }

    const INVITE: &str = "INVITE sip:bob@192.0.2.99 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@atlanta.example.org>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.org\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\
\r\n";

    fn msg(s: &str) -> SipMsg<'_> {
        SipMsg::parse(s.as_bytes()).unwrap()
    }

    /// The INVITE turned into another request of the same transaction
    /// family (same Via, same CSeq number).
    fn as_method(s: &str, m: &str) -> String {
        s.replacen("INVITE sip", &format!("{m} sip"), 1)
            .replace("CSeq: 314159 INVITE", &format!("CSeq: 314159 {m}"))
    }

    fn skey(s: &str) -> ServerKey {
        server_key(&msg(s)).unwrap()
    }

    #[test]
    fn retransmission_matches() {
        let a = skey(INVITE);
        assert!(a.is_rfc3261());
        assert_eq!(a, skey(INVITE));
        // Inline: no allocation for a usual key.
        assert!(a.as_bytes().len() <= INLINE);
        assert!(matches!(a.0, KeyBytes::Inline { .. }));
        // Case of the branch and the Via's other parameters do not matter.
        let b = INVITE.replace("branch=z9hG4bK776asdhds", "branch=Z9HG4BK776ASDHDS;rport");
        // (upper-case cookie is not the cookie: RFC 2543 key)
        assert!(!skey(&b).is_rfc3261());
        let c = INVITE.replace("branch=z9hG4bK776asdhds", "rport;branch=z9hG4bK776ASDHDS");
        assert_eq!(a, skey(&c));
    }

    #[test]
    fn ack_matches_invite() {
        let ack = as_method(INVITE, "ACK").replace(
            "To: Bob <sip:bob@example.com>",
            "To: Bob <sip:bob@example.com>;tag=xyz",
        );
        assert_eq!(skey(INVITE), skey(&ack));
    }

    #[test]
    fn cancel_own_key_and_target() {
        let cancel = as_method(INVITE, "CANCEL");
        let ck = skey(&cancel);
        assert_ne!(ck, skey(INVITE));
        let target = cancel_target_key(&msg(&cancel)).unwrap();
        assert_eq!(target, skey(INVITE));
        assert_eq!(cancel_target_key(&msg(INVITE)), Err(KeyError::NotCancel));
    }

    #[test]
    fn other_methods_separate() {
        let bye = as_method(INVITE, "BYE");
        let opt = as_method(INVITE, "OPTIONS");
        let ext = as_method(INVITE, "FOO");
        let keys = [skey(INVITE), skey(&bye), skey(&opt), skey(&ext)];
        for i in 0..keys.len() {
            for j in 0..keys.len() {
                assert_eq!(i == j, keys[i] == keys[j], "{i} {j}");
            }
        }
        assert_eq!(skey(&bye), skey(&bye));
    }

    #[test]
    fn sent_by_matters() {
        let a = skey(INVITE);
        let other_port = INVITE.replace("198.51.100.7:5062", "198.51.100.7:5063");
        let other_host = INVITE.replace("198.51.100.7:5062", "198.51.100.8:5062");
        assert_ne!(a, skey(&other_port));
        assert_ne!(a, skey(&other_host));
        // Default port: 5060 written or not is the same sent-by.
        let p = INVITE.replace("198.51.100.7:5062", "198.51.100.7:5060");
        let q = INVITE.replace("198.51.100.7:5062", "198.51.100.7");
        assert_eq!(skey(&p), skey(&q));
        // Names compare case-insensitively, IPv6 by address.
        let n1 = INVITE.replace("198.51.100.7:5062", "PC33.Atlanta.example.org");
        let n2 = INVITE.replace("198.51.100.7:5062", "pc33.atlanta.example.org");
        assert_eq!(skey(&n1), skey(&n2));
        let v1 = INVITE.replace("198.51.100.7:5062", "[2001:db8::1]:5062");
        let v2 = INVITE.replace("198.51.100.7:5062", "[2001:db8:0:0::1]:5062");
        assert_eq!(skey(&v1), skey(&v2));
        assert_ne!(skey(&v1), a);
        // Another branch is another transaction.
        let br = INVITE.replace("z9hG4bK776asdhds", "z9hG4bK776asdhdt");
        assert_ne!(a, skey(&br));
    }

    const OLD: &str = "INVITE sip:bob@192.0.2.99 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@atlanta.example.org>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.org\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\
\r\n";

    #[test]
    fn rfc2543_fallback() {
        let a = skey(OLD);
        assert!(!a.is_rfc3261());
        assert_eq!(a, skey(OLD));
        // ACK with our To tag matches; CANCEL has its own key and finds it.
        let ack =
            as_method(OLD, "ACK").replace("<sip:bob@example.com>", "<sip:bob@example.com>;tag=99");
        assert_eq!(a, skey(&ack));
        let cancel = as_method(OLD, "CANCEL");
        assert_ne!(a, skey(&cancel));
        assert_eq!(a, cancel_target_key(&msg(&cancel)).unwrap());
        // Each fallback field matters.
        for (from, to) in [
            ("sip:bob@192.0.2.99 SIP", "sip:carol@192.0.2.99 SIP"),
            ("tag=1928301774", "tag=1928301775"),
            ("a84b4c76e66710@", "a84b4c76e66711@"),
            ("CSeq: 314159", "CSeq: 314160"),
            ("198.51.100.7:5062", "198.51.100.7:5064"),
            ("SIP/2.0/UDP", "SIP/2.0/TCP"),
            ("100.7:5062\r\n", "100.7:5062;branch=1\r\n"),
        ] {
            let changed = OLD.replacen(from, to, 1);
            assert_ne!(changed, OLD, "{from}");
            assert_ne!(a, skey(&changed), "{from}");
        }
        // An old-style branch (no cookie) is part of the Via, and the key
        // never equals an RFC 3261 one.
        let with_branch = OLD.replace("100.7:5062\r\n", "100.7:5062;branch=1\r\n");
        assert_eq!(skey(&with_branch), skey(&with_branch));
        assert_ne!(skey(&with_branch), skey(INVITE));
    }

    #[test]
    fn long_keys_spill_to_heap() {
        let long_host = format!("{}.example.org", "a".repeat(120));
        let s = INVITE.replace("198.51.100.7:5062", &long_host);
        let k = skey(&s);
        assert!(matches!(k.0, KeyBytes::Heap(_)));
        assert_eq!(k, skey(&s));
        // Same prefix, other tail: different.
        let s2 = INVITE.replace("198.51.100.7:5062", &format!("{long_host}x"));
        assert_ne!(k, skey(&s2));
    }

    const RESP: &str = "SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc.1\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
To: Bob <sip:bob@example.com>;tag=a6c85cf\r\n\
From: Alice <sip:alice@atlanta.example.org>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.org\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\
\r\n";

    #[test]
    fn client_key_from_responses() {
        let ours = ClientKey::new(b"z9hG4bKabc.1", &Method::Invite);
        assert_eq!(client_key(&msg(RESP)).unwrap(), ours);
        let ok = RESP.replace("180 Ringing", "200 OK");
        assert_eq!(client_key(&msg(&ok)).unwrap(), ours);
        // The 200 to our CANCEL (same branch) is another transaction.
        let c = RESP.replace("CSeq: 314159 INVITE", "CSeq: 314159 CANCEL");
        let ck = client_key(&msg(&c)).unwrap();
        assert_ne!(ck, ours);
        assert_eq!(ck, ClientKey::new(b"z9hG4bKabc.1", &Method::Cancel));
        // Other branch: other transaction.
        let o = RESP.replace("z9hG4bKabc.1", "z9hG4bKabc.2");
        assert_ne!(client_key(&msg(&o)).unwrap(), ours);
        // No branch, or a request: no client key.
        let nb = RESP.replace(";branch=z9hG4bKabc.1", "");
        assert_eq!(client_key(&msg(&nb)), Err(KeyError::NoBranch));
        assert_eq!(client_key(&msg(INVITE)), Err(KeyError::NotResponse));
        assert_eq!(server_key(&msg(RESP)), Err(KeyError::NotRequest));
    }

    #[test]
    fn missing_headers_are_errors() {
        let no_via = INVITE.replace(
            "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n",
            "",
        );
        assert!(matches!(server_key(&msg(&no_via)), Err(KeyError::Parse(_))));
        let no_cseq = OLD.replace("CSeq: 314159 INVITE\r\n", "");
        assert!(matches!(
            server_key(&msg(&no_cseq)),
            Err(KeyError::Parse(_))
        ));
        let no_cseq = RESP.replace("CSeq: 314159 INVITE\r\n", "");
        assert!(matches!(
            client_key(&msg(&no_cseq)),
            Err(KeyError::Parse(_))
        ));
    }

    #[test]
    fn len_prefix_is_unambiguous() {
        let mut a = Builder::new();
        a.field(b"ab");
        a.field(b"c");
        let mut b = Builder::new();
        b.field(b"a");
        b.field(b"bc");
        assert_ne!(a.finish(), b.finish());
        let mut c = Builder::new();
        c.len_prefix(300);
        assert_eq!(c.finish().as_slice(), [0xac, 0x02]);
    }
}
