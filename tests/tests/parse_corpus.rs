//! The SIP parser against a corpus of whole messages.
//!
//! `tests/data/<group>/<name>.sip` holds one message per file, with CRLF line
//! endings and a correct Content-Length:
//!
//! * `rfc3261/`: the shapes of the RFC 3261 section 24 flows (a registration,
//!   and a session through two record-routing proxies, hop by hop);
//! * `rfc3665/`: the shapes of the RFC 3665 registration and session flows
//!   (digest challenges and credentials, contact list updates, `Contact: *`,
//!   busy, no answer, timeout, 404, 503, redirect);
//! * `phones/`: the header styles of common phones and softphones (compact
//!   names, folding, IPv6, `+sip.instance`, tel URIs, SHA-256 and AKA
//!   digests, long lists);
//! * `sipp/`: what sipp's built-in `uac` and `uas` scenarios send;
//! * `bad/`: one fault per file; [`BAD`] says which error each must raise.
//!
//! Every good message must parse (as a datagram and from a stream), validate,
//! and give `Ok` from every accessor; [`checks`] then asserts the values that
//! matter for each file. The builder must reproduce every message byte for
//! byte with no edits, and produce a parseable message after typical edits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ser_core::sip::addr::NameAddr;
use ser_core::sip::auth::Algorithm;
use ser_core::sip::builder::Edits;
use ser_core::sip::lex::CommaSplit;
use ser_core::sip::msg::frame_len;
use ser_core::sip::sdp::{AddrType, Sdp};
use ser_core::sip::uri::{Scheme, Uri};
use ser_core::sip::via::{Via, ViaTransport};
use ser_core::sip::{
    Fault, HeaderName, Limits, Method, ParseError, SipMsg, Span, Transport, Where,
};

// ----- loading the corpus -----

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every corpus file as `("group/name", bytes)`, sorted by name.
fn corpus() -> BTreeMap<String, Vec<u8>> {
    let root = data_dir();
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut out = BTreeMap::new();
    for path in files {
        let rel = path.strip_prefix(&root).expect("under the data dir");
        let rel = rel.to_string_lossy().replace('\\', "/");
        // sipp scenarios and test configs live next to the corpus.
        if rel.ends_with(".xml") || rel.ends_with(".cfg") {
            continue;
        }
        let Some(name) = rel.strip_suffix(".sip") else {
            panic!("unexpected file in the corpus: {rel}");
        };
        let bytes = std::fs::read(&path).expect("readable corpus file");
        out.insert(name.to_string(), bytes);
    }
    assert!(out.len() > 100, "corpus not found under {}", root.display());
    out
}

fn is_bad(name: &str) -> bool {
    name.starts_with("bad/")
}

fn good() -> Vec<(String, Vec<u8>)> {
    corpus().into_iter().filter(|(n, _)| !is_bad(n)).collect()
}

fn parse<'a>(name: &str, bytes: &'a [u8]) -> SipMsg<'a> {
    SipMsg::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

// ----- small helpers for the assertions -----

fn st(b: &[u8]) -> &str {
    std::str::from_utf8(b).expect("UTF-8")
}

fn ost(b: Option<&[u8]>) -> Option<&str> {
    b.map(st)
}

fn host_of(u: &Uri<'_>) -> String {
    u.host().map(|h| h.to_string()).unwrap_or_default()
}

fn request(m: &SipMsg<'_>, method: Method<'_>, ruri: &str) {
    assert!(m.is_request());
    assert_eq!(m.method(), Some(method));
    assert_eq!(m.status(), None);
    assert_eq!(ost(m.ruri_bytes()), Some(ruri));
    assert_eq!(st(m.ruri().unwrap().raw), ruri);
}

fn response(m: &SipMsg<'_>, code: u16, reason: &str) {
    assert!(m.is_response());
    assert_eq!(m.method(), None);
    assert_eq!(m.status(), Some(code));
    assert_eq!(ost(m.reason()), Some(reason));
}

fn cseq(m: &SipMsg<'_>, num: u32, method: Method<'_>) {
    let c = m.cseq().unwrap();
    assert_eq!((c.num, c.method), (num, method));
}

fn vias<'m, 'a>(m: &'m SipMsg<'a>) -> &'m [Via<'a>] {
    m.vias().unwrap()
}

fn via_is(v: &Via<'_>, t: ViaTransport<'_>, host: &str, port: Option<u16>, branch: &str) {
    assert_eq!(v.transport, t, "{}", st(v.raw));
    assert_eq!(v.host.to_string(), host, "{}", st(v.raw));
    assert_eq!(v.port, port, "{}", st(v.raw));
    assert_eq!(ost(v.branch()), Some(branch), "{}", st(v.raw));
    assert!(v.is_rfc3261_branch(), "{}", st(v.raw));
}

fn received(v: &Via<'_>) -> Option<String> {
    assert_eq!(
        v.received().is_some(),
        v.received_ip().is_some(),
        "received is an address: {}",
        st(v.raw)
    );
    v.received_ip().map(|ip| ip.to_string())
}

/// Display name (unquoted, escapes resolved), URI user, URI host, tag.
fn addr_is(
    a: &NameAddr<'_>,
    display: Option<&str>,
    user: Option<&str>,
    host: &str,
    tag: Option<&str>,
) {
    let d = a.display_text();
    assert_eq!(d.as_deref().map(st), display, "{}", st(a.uri.raw));
    assert_eq!(ost(a.uri.user()), user, "{}", st(a.uri.raw));
    assert_eq!(host_of(&a.uri), host, "{}", st(a.uri.raw));
    assert_eq!(ost(a.tag()), tag, "{}", st(a.uri.raw));
}

fn contacts<'m, 'a>(m: &'m SipMsg<'a>) -> &'m [NameAddr<'a>] {
    let c = m.contacts().unwrap();
    assert!(!c.star);
    &c.list
}

fn expires_param(a: &NameAddr<'_>) -> Option<u32> {
    a.expires().map(|r| r.expect("expires is delta-seconds"))
}

/// Hosts of a Route / Record-Route set, checking every entry is a loose
/// router (`;lr`) in angle brackets.
fn loose_hosts(list: &[NameAddr<'_>]) -> Vec<String> {
    for r in list {
        assert!(r.angle, "{}", st(r.uri.raw));
        assert!(r.uri.lr(), "{}", st(r.uri.raw));
    }
    list.iter().map(|r| host_of(&r.uri)).collect()
}

fn tags(m: &SipMsg<'_>, name: HeaderName) -> Vec<String> {
    m.option_tags(name)
        .unwrap()
        .into_iter()
        .map(|t| st(t).to_string())
        .collect()
}

fn value<'a>(m: &SipMsg<'a>, name: &str) -> &'a str {
    st(m.value_by_name(name.as_bytes())
        .unwrap_or_else(|| panic!("no {name}")))
}

/// The elements of a comma-separated header value.
fn list_of<'a>(m: &SipMsg<'a>, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for h in m.headers_by_name(name.as_bytes()) {
        for r in CommaSplit::new(m.value_of(h), Where::Header) {
            out.push(st(r.unwrap().1));
        }
    }
    out
}

fn sdp<'m, 'a>(m: &'m SipMsg<'a>) -> &'m Sdp<'a> {
    m.sdp().unwrap()
}

/// The text of a body-relative SDP span, checked three ways: through the
/// locator, sliced from the body, and sliced from the whole message.
fn sdp_text<'a>(m: &SipMsg<'a>, s: Span) -> &'a str {
    let via_sdp = sdp(m).get(s);
    let body = m.body();
    let via_body = &body[s.start as usize..s.end as usize];
    let b = m.body_span();
    let abs = m.slice(Span::new(
        b.start as usize + s.start as usize,
        b.start as usize + s.end as usize,
    ));
    assert_eq!(via_sdp, via_body);
    assert_eq!(via_sdp, abs);
    st(via_sdp)
}

/// `(media, port text, port, port count, proto, fmts)` of every `m=` line.
type MLine<'s> = (&'s str, &'s str, u16, Option<u16>, &'s str, &'s str);

fn sdp_media<'a>(m: &SipMsg<'a>) -> Vec<MLine<'a>> {
    sdp(m)
        .media
        .iter()
        .map(|md| {
            let line = sdp_text(m, md.line.span);
            assert!(line.starts_with("m="), "{line}");
            (
                sdp_text(m, md.media),
                sdp_text(m, md.port_span),
                md.port,
                md.port_count,
                sdp_text(m, md.proto),
                sdp_text(m, md.fmts),
            )
        })
        .collect()
}

/// The address of the `c=` line that applies to each media description.
fn sdp_conn_of_media<'a>(m: &SipMsg<'a>) -> Vec<&'a str> {
    let s = sdp(m);
    s.media
        .iter()
        .map(|md| {
            let c = s.connection_of(md).expect("a c= line applies");
            sdp_text(m, c.address.addr)
        })
        .collect()
}

/// The session-level `c=` address and its parsed form.
fn sdp_session_conn(m: &SipMsg<'_>, addr: &str, kind: AddrType) {
    let s = sdp(m);
    let c = s.connections().first().expect("session-level c=");
    assert_eq!(sdp_text(m, c.address.addr), addr);
    assert_eq!(c.address.kind, kind);
    assert_eq!(c.address.ip.map(|ip| ip.to_string()).as_deref(), Some(addr));
    assert_eq!(
        sdp_text(m, c.line.span),
        format!("c=IN {} {addr}", sdp_text(m, c.address.addr_type))
    );
}

/// `o=` username, session id and version.
fn sdp_origin(m: &SipMsg<'_>, user: &str, id: &str, version: &str) {
    let o = sdp(m).origin.expect("o= line");
    assert_eq!(sdp_text(m, o.username), user);
    assert_eq!(sdp_text(m, o.sess_id), id);
    assert_eq!(sdp_text(m, o.sess_version), version);
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

// ----- every accessor -----

/// Calls every accessor and returns the first failure, with its name. Used
/// on good messages (must be `Ok`) and on bad ones (must not panic).
fn touch_all(m: &SipMsg<'_>) -> Result<(), String> {
    fn ctx<T>(what: &str, r: Result<T, ParseError>) -> Result<T, String> {
        r.map_err(|e| format!("{what}: {e}"))
    }
    let _ = (m.start_line(), m.headers(), m.body(), m.bytes(), m.len());
    for h in m.headers() {
        let _ = (m.name_of(h), m.value_of(h), h.line());
    }
    if m.is_request() {
        if m.method().is_none() || m.ruri_bytes().is_none() {
            return Err("request without method or R-URI".into());
        }
        let u = ctx("ruri", m.ruri())?;
        let _ = (
            u.user(),
            u.host(),
            u.port_or_default(),
            u.params().count(),
            u.headers().count(),
        );
    } else if m.status().is_none() || m.reason().is_none() {
        return Err("response without status".into());
    }
    for v in ctx("vias", m.vias())? {
        let _ = (
            v.branch(),
            v.received_ip(),
            v.rport(),
            v.maddr(),
            v.ttl(),
            v.port_or_default(),
        );
        let _ = v.params.iter().count();
    }
    ctx("via1", m.via1())?;
    ctx("via2", m.via2())?;
    let from = ctx("from", m.from())?;
    let to = ctx("to", m.to())?;
    for a in [from, to] {
        let _ = (
            a.display_text(),
            a.tag(),
            a.uri.user(),
            a.params.iter().count(),
        );
    }
    ctx("cseq", m.cseq())?;
    ctx("call_id", m.call_id())?;
    let c = ctx("contacts", m.contacts())?;
    for a in &c.list {
        if let Some(r) = a.expires() {
            ctx("contact expires", r)?;
        }
        if let Some(r) = a.q_checked() {
            ctx("contact q", r)?;
        }
        let _ = a.display_text();
    }
    for (what, set) in [
        ("routes", m.routes()),
        ("record_routes", m.record_routes()),
        ("paths", m.paths()),
    ] {
        for a in ctx(what, set)? {
            let _ = (a.uri.lr(), a.uri.host());
        }
    }
    ctx("max_forwards", m.max_forwards())?;
    ctx("expires", m.expires())?;
    ctx("min_expires", m.min_expires())?;
    let ct = ctx("content_type", m.content_type())?;
    for name in [
        HeaderName::Require,
        HeaderName::Supported,
        HeaderName::ProxyRequire,
        HeaderName::Unsupported,
    ] {
        ctx("option_tags", m.option_tags(name))?;
    }
    for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
        for c in ctx("credentials", m.credentials(name))? {
            let _ = (c.algorithm_kind(), c.nc_value(), c.params().count());
        }
    }
    for name in [HeaderName::WwwAuthenticate, HeaderName::ProxyAuthenticate] {
        for c in ctx("challenges", m.challenges(name))? {
            let _ = (
                c.algorithm_kind(),
                c.qop_options().count(),
                c.domains().count(),
            );
        }
    }
    if ct.is_some_and(|(t, _)| t.eq_ignore_ascii_case(b"application/sdp")) {
        let s = ctx("sdp", m.sdp())?;
        for md in &s.media {
            let _ = (s.connection_of(md), md.rtcp(), md.is_disabled());
        }
        let _ = s.lines().count();
    }
    Ok(())
}

/// What must hold for every good message beyond "every accessor is Ok".
fn invariants(name: &str, bytes: &[u8], m: &SipMsg<'_>) {
    // One message per file, framed exactly by its Content-Length.
    assert_eq!(m.len(), bytes.len(), "{name}: trailing bytes");
    assert_eq!(m.bytes(), bytes);
    let cl = m
        .content_length()
        .unwrap_or_else(|| panic!("{name}: Content-Length"));
    assert_eq!(m.body().len(), cl as usize, "{name}: body length");
    assert_eq!(m.body_span().end as usize, bytes.len());
    assert!(m.headers_end() < m.body_span().start as usize);
    assert_eq!(
        &bytes[m.headers_end()..m.body_span().start as usize],
        b"\r\n"
    );
    // Every Via in the corpus carries an RFC 3261 branch.
    for v in vias(m) {
        assert!(v.is_rfc3261_branch(), "{name}: {}", st(v.raw));
    }
    // Requests carry Max-Forwards; responses never do here.
    assert_eq!(
        m.max_forwards().unwrap().is_some(),
        m.is_request(),
        "{name}"
    );
    // Digest credentials carry what RFC 2617 requires.
    for h in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
        for c in m.credentials(h).unwrap() {
            assert!(c.is_digest(), "{name}");
            c.check_digest().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    for h in [HeaderName::WwwAuthenticate, HeaderName::ProxyAuthenticate] {
        for c in m.challenges(h).unwrap() {
            assert!(
                c.is_digest() && c.realm.is_some() && c.nonce.is_some(),
                "{name}"
            );
        }
    }
    // A body is there exactly when a Content-Type says what it is.
    assert_eq!(
        m.content_type().unwrap().is_some(),
        !m.body().is_empty(),
        "{name}"
    );
    // The response to a request echoes its CSeq method; requests match.
    if let Some(method) = m.method() {
        assert_eq!(m.cseq().unwrap().method, method, "{name}");
    }
}

// ----- per-message assertions -----

type Check = fn(&SipMsg<'_>);

fn c(name: &'static str, f: Check) -> (&'static str, Check) {
    (name, f)
}

const ADA: &str = "analytical.example.org";
const GRACE: &str = "compiler.example.net";
const P1: &str = "proxy.analytical.example.org";
const P2: &str = "sip.compiler.example.net";
const S1: &str = "ss1.westbank.example.com";
const S2: &str = "ss2.eastbank.example.com";
const CLEO_UA: &str = "client.eastbank.example.com";
const BEN_UA: &str = "client.westbank.example.com";

/// The dialog of the RFC 3261 session: From Ada, To Grace, one Call-ID.
fn ada_grace(m: &SipMsg<'_>, to_tag: Option<&str>) {
    addr_is(
        m.from().unwrap(),
        Some("Ada"),
        Some("ada"),
        ADA,
        Some("q8w2ke51tv"),
    );
    addr_is(m.to().unwrap(), Some("Grace"), Some("grace"), GRACE, to_tag);
    assert_eq!(
        st(m.call_id().unwrap()),
        "6120457739180046227@pc7.analytical.example.org"
    );
}

/// The Vias of the RFC 3261 INVITE transaction after `hops` hops, as
/// received back by `hops` (responses carry `received`).
fn ada_invite_vias(m: &SipMsg<'_>, n: usize) {
    let v = vias(m);
    assert_eq!(v.len(), n);
    let last = &v[n - 1];
    via_is(
        last,
        ViaTransport::Udp,
        "pc7.analytical.example.org",
        None,
        "z9hG4bK31c7e0",
    );
    assert_eq!(received(last).as_deref(), Some("192.0.2.10"));
    if n >= 2 {
        via_is(&v[n - 2], ViaTransport::Udp, P1, None, "z9hG4bK5a3e91.1");
    }
    if n >= 3 {
        via_is(&v[0], ViaTransport::Udp, P2, None, "z9hG4bK6d01e77a.1");
    }
}

fn ada_offer(m: &SipMsg<'_>) {
    sdp_session_conn(m, "192.0.2.10", AddrType::Ip4);
    sdp_origin(m, "ada", "3120944716", "3120944716");
    assert_eq!(
        sdp_media(m),
        vec![
            ("audio", "49232", 49232, None, "RTP/AVP", "0 8 97"),
            ("video", "51372", 51372, Some(2), "RTP/AVP", "31"),
        ]
    );
    assert_eq!(sdp_conn_of_media(m), vec!["192.0.2.10", "192.0.2.10"]);
}

fn grace_answer(m: &SipMsg<'_>) {
    sdp_session_conn(m, "203.0.113.40", AddrType::Ip4);
    let media = sdp_media(m);
    assert_eq!(media[0], ("audio", "3614", 3614, None, "RTP/AVP", "0"));
    assert_eq!(media[1], ("video", "0", 0, None, "RTP/AVP", "31"));
    assert!(sdp(m).media[1].is_disabled());
    assert!(!sdp(m).media[0].is_disabled());
}

fn rr_both(m: &SipMsg<'_>) {
    assert_eq!(loose_hosts(m.record_routes().unwrap()), vec![P2, P1]);
    assert_eq!(m.headers_named(HeaderName::RecordRoute).count(), 2);
}

/// Registration of Cleo (RFC 3665 section 2).
fn cleo_reg(m: &SipMsg<'_>, cseq_num: u32, branch: &str) {
    cseq(m, cseq_num, Method::Register);
    let v = &vias(m)[0];
    via_is(v, ViaTransport::Tls, CLEO_UA, Some(5061), branch);
    assert!(v.transport.is_secure());
    assert_eq!(v.port_or_default(), 5061);
    let from = m.from().unwrap();
    addr_is(
        from,
        Some("Cleo"),
        Some("cleo"),
        "eastbank.example.com",
        Some("Mw27dq0xLp"),
    );
    assert_eq!(from.uri.scheme, Scheme::Sips);
    assert_eq!(
        st(m.call_id().unwrap()),
        "5pQd2XvR8nTk0aYe@eastbank.example.com"
    );
    if m.is_request() {
        request(m, Method::Register, "sips:ss2.eastbank.example.com");
        assert!(m.ruri().unwrap().is_sips());
        assert_eq!(m.ruri().unwrap().port_or_default(), 5061);
        assert_eq!(m.max_forwards().unwrap(), Some(70));
        assert_eq!(m.to().unwrap().tag(), None);
    } else {
        assert_eq!(received(v).as_deref(), Some("198.51.100.44"));
        assert!(m.to().unwrap().tag().is_some());
    }
}

/// Cleo's digest credentials in an RFC 3665 REGISTER.
fn cleo_creds(m: &SipMsg<'_>, nonce: &str, nc: u32, cnonce: &str) {
    let cr = m.credentials(HeaderName::Authorization).unwrap();
    assert_eq!(cr.len(), 1);
    let c = &cr[0];
    assert_eq!(st(c.scheme), "Digest");
    assert_eq!(ost(c.username), Some("cleo"));
    assert_eq!(ost(c.realm), Some("eastbank.example.com"));
    assert_eq!(ost(c.nonce), Some(nonce));
    assert_eq!(ost(c.uri), Some("sips:ss2.eastbank.example.com"));
    assert_eq!(ost(c.opaque), Some(""));
    assert_eq!(ost(c.qop), Some("auth"));
    assert_eq!(ost(c.cnonce), Some(cnonce));
    assert_eq!(c.nc_value(), Some(nc));
    assert_eq!(ost(c.nc), Some(format!("{nc:08x}").as_str()));
    assert!(is_hex(st(c.response.unwrap()), 32));
    assert_eq!(c.algorithm_kind(), Algorithm::Md5);
    assert!(
        m.credentials(HeaderName::ProxyAuthorization)
            .unwrap()
            .is_empty()
    );
}

fn cleo_challenge(m: &SipMsg<'_>, nonce: &str, stale: bool, qop: &[&str]) {
    response(m, 401, "Unauthorized");
    let ch = m.challenges(HeaderName::WwwAuthenticate).unwrap();
    assert_eq!(ch.len(), 1);
    let c = &ch[0];
    assert_eq!(ost(c.realm), Some("eastbank.example.com"));
    assert_eq!(ost(c.nonce), Some(nonce));
    assert_eq!(c.stale, stale);
    assert_eq!(c.qop_options().map(st).collect::<Vec<_>>(), qop);
    assert!(c.offers_qop(b"AUTH"));
    assert_eq!(c.algorithm_kind(), Algorithm::Md5);
    assert!(
        m.challenges(HeaderName::ProxyAuthenticate)
            .unwrap()
            .is_empty()
    );
    assert!(m.contacts().unwrap().list.is_empty());
}

/// The dialog of the RFC 3665 session: From Ben, To Cleo.
fn ben_cleo(m: &SipMsg<'_>, to_tag: Option<&str>) {
    let f = m.from().unwrap();
    addr_is(
        f,
        Some("Ben"),
        Some("ben"),
        "westbank.example.com",
        Some("q8w2ke51tv"),
    );
    assert!(!f.quoted && f.angle);
    addr_is(
        m.to().unwrap(),
        Some("Cleo"),
        Some("cleo"),
        "eastbank.example.com",
        to_tag,
    );
    assert_eq!(m.to().unwrap().uri.scheme, Scheme::Sips);
    assert_eq!(
        st(m.call_id().unwrap()),
        "6120457739180046227@westbank.example.com"
    );
}

/// Ben's Via (bottom of the stack) with the given branch.
fn ben_via(m: &SipMsg<'_>, branch: &str) {
    let v = vias(m).last().unwrap();
    via_is(v, ViaTransport::Tls, BEN_UA, Some(5061), branch);
    let want = if m.is_request() && vias(m).len() == 1 {
        None
    } else {
        Some("198.51.100.12")
    };
    assert_eq!(received(v).as_deref(), want);
}

fn ben_offer(m: &SipMsg<'_>) {
    sdp_session_conn(m, "198.51.100.12", AddrType::Ip4);
    sdp_origin(m, "BenB", "3120944716", "3120944716");
    assert_eq!(
        sdp_media(m),
        vec![("audio", "49232", 49232, None, "RTP/AVP", "0")]
    );
}

fn sipp_dialog(m: &SipMsg<'_>, call: u32, peer_tag: bool) {
    let f = m.from().unwrap();
    addr_is(
        f,
        Some("sipp"),
        Some("sipp"),
        "127.0.0.1",
        Some(format!("12345SIPpTag00{call}").as_str()),
    );
    assert!(!f.quoted);
    assert_eq!(f.uri.port(), Some(5061));
    let t = m.to().unwrap();
    let tag = format!("23456SIPpTag01{call}");
    addr_is(
        t,
        Some("service"),
        Some("service"),
        "127.0.0.1",
        peer_tag.then_some(tag.as_str()),
    );
    assert_eq!(t.uri.port(), Some(5060));
    assert_eq!(st(m.call_id().unwrap()), format!("{call}-12345@127.0.0.1"));
}

fn sipp_uac(m: &SipMsg<'_>, method: Method<'_>, num: u32, branch: &str) {
    request(m, method, "sip:service@127.0.0.1:5060");
    let u = m.ruri().unwrap();
    assert_eq!(
        (ost(u.user()), host_of(u), u.port()),
        (Some("service"), "127.0.0.1".into(), Some(5060))
    );
    cseq(m, num, method);
    assert_eq!(m.max_forwards().unwrap(), Some(70));
    assert_eq!(value(m, "Subject"), "Performance Test");
    let ct = contacts(m);
    assert_eq!(ct.len(), 1);
    assert!(!ct[0].angle, "sipp writes a bare addr-spec Contact");
    assert_eq!(st(ct[0].uri.raw), "sip:sipp@127.0.0.1:5061");
    let v = vias(m);
    assert_eq!(v.len(), 1);
    assert_eq!(ost(v[0].branch()), Some(branch));
    assert_eq!(v[0].sent_by, b"127.0.0.1:5061");
}

fn sipp_uas(m: &SipMsg<'_>, code: u16, reason: &str, num: u32, method: Method<'_>) {
    response(m, code, reason);
    cseq(m, num, method);
    sipp_dialog(m, 1, true);
    let ct = contacts(m);
    assert_eq!(ct.len(), 1);
    let u = &ct[0].uri;
    assert_eq!(
        (u.user(), host_of(u), u.port()),
        (None, "127.0.0.1".into(), Some(5060))
    );
    assert_eq!(ost(u.transport()), Some("UDP"));
}

fn sipp_offer(m: &SipMsg<'_>, port: &str) {
    sdp_origin(m, "user1", "53655765", "2353687637");
    sdp_session_conn(m, "127.0.0.1", AddrType::Ip4);
    let p: u16 = port.parse().unwrap();
    assert_eq!(sdp_media(m), vec![("audio", port, p, None, "RTP/AVP", "0")]);
    assert!(m.body().ends_with(b"a=rtpmap:0 PCMU/8000\r\n"));
}

fn checks() -> Vec<(&'static str, Check)> {
    vec![
        // ----- RFC 3261 section 24 -----
        c("rfc3261/01_register", |m| {
            request(m, Method::Register, "sip:registrar.compiler.example.net");
            let u = m.ruri().unwrap();
            assert_eq!(
                (u.user(), host_of(u), u.port()),
                (None, "registrar.compiler.example.net".into(), None)
            );
            let v = &vias(m)[0];
            via_is(
                v,
                ViaTransport::Udp,
                "ws2.compiler.example.net",
                Some(5060),
                "z9hG4bKr7a01qx",
            );
            assert_eq!(received(v), None);
            addr_is(
                m.from().unwrap(),
                Some("Grace"),
                Some("grace"),
                GRACE,
                Some("8d31c2"),
            );
            addr_is(m.to().unwrap(), Some("Grace"), Some("grace"), GRACE, None);
            cseq(m, 4211, Method::Register);
            let ct = contacts(m);
            assert_eq!(ct.len(), 1);
            addr_is(&ct[0], None, Some("grace"), "203.0.113.40", None);
            assert_eq!(expires_param(&ct[0]), None);
            assert_eq!(m.expires().unwrap(), Some(3600));
            assert_eq!(m.max_forwards().unwrap(), Some(70));
            assert_eq!(
                st(m.call_id().unwrap()),
                "5c0fe9b8a2d1@ws2.compiler.example.net"
            );
        }),
        c("rfc3261/02_register_200", |m| {
            response(m, 200, "OK");
            let v = &vias(m)[0];
            assert_eq!(received(v).as_deref(), Some("203.0.113.40"));
            assert_eq!(v.rport(), None);
            addr_is(
                m.to().unwrap(),
                Some("Grace"),
                Some("grace"),
                GRACE,
                Some("e51b07d"),
            );
            cseq(m, 4211, Method::Register);
            let ct = contacts(m);
            assert_eq!(ct.len(), 1);
            assert_eq!(expires_param(&ct[0]), Some(3600));
            assert_eq!(m.expires().unwrap(), None);
        }),
        c("rfc3261/03_invite_f1", |m| {
            request(m, Method::Invite, "sip:grace@compiler.example.net");
            ada_grace(m, None);
            let v = vias(m);
            assert_eq!(v.len(), 1);
            via_is(
                &v[0],
                ViaTransport::Udp,
                "pc7.analytical.example.org",
                None,
                "z9hG4bK31c7e0",
            );
            assert_eq!(v[0].port_or_default(), 5060);
            assert_eq!(m.max_forwards().unwrap(), Some(70));
            assert!(m.record_routes().unwrap().is_empty());
            cseq(m, 31862, Method::Invite);
            addr_is(
                &contacts(m)[0],
                None,
                Some("ada"),
                "pc7.analytical.example.org",
                None,
            );
            let (t, _) = m.content_type().unwrap().unwrap();
            assert_eq!(st(t), "application/sdp");
            ada_offer(m);
        }),
        c("rfc3261/04_trying_f2", |m| {
            response(m, 100, "Trying");
            ada_grace(m, None);
            ada_invite_vias(m, 1);
            assert!(m.contacts().unwrap().list.is_empty());
            assert_eq!(m.content_length(), Some(0));
        }),
        c("rfc3261/05_invite_f3", |m| {
            request(m, Method::Invite, "sip:grace@compiler.example.net");
            ada_grace(m, None);
            ada_invite_vias(m, 2);
            assert_eq!(received(&vias(m)[0]), None);
            assert_eq!(m.max_forwards().unwrap(), Some(69));
            assert_eq!(loose_hosts(m.record_routes().unwrap()), vec![P1]);
            ada_offer(m);
        }),
        c("rfc3261/06_trying_f4", |m| {
            response(m, 100, "Trying");
            ada_invite_vias(m, 2);
            assert_eq!(received(&vias(m)[0]).as_deref(), Some("192.0.2.20"));
            assert_eq!(
                m.via2().unwrap().map(|v| v.host.to_string()).as_deref(),
                Some("pc7.analytical.example.org")
            );
        }),
        c("rfc3261/07_invite_f5", |m| {
            request(m, Method::Invite, "sip:grace@203.0.113.40");
            assert_eq!(
                m.ruri()
                    .unwrap()
                    .host()
                    .and_then(|h| h.ip())
                    .map(|i| i.to_string())
                    .as_deref(),
                Some("203.0.113.40")
            );
            ada_grace(m, None);
            ada_invite_vias(m, 3);
            assert_eq!(received(&vias(m)[1]).as_deref(), Some("192.0.2.20"));
            assert_eq!(m.max_forwards().unwrap(), Some(68));
            rr_both(m);
            ada_offer(m);
        }),
        c("rfc3261/08_ringing_f6", |m| {
            response(m, 180, "Ringing");
            ada_grace(m, Some("271828q"));
            ada_invite_vias(m, 3);
            assert_eq!(received(&vias(m)[0]).as_deref(), Some("203.0.113.5"));
            rr_both(m);
            addr_is(&contacts(m)[0], None, Some("grace"), "203.0.113.40", None);
        }),
        c("rfc3261/09_ringing_f7", |m| {
            response(m, 180, "Ringing");
            ada_invite_vias(m, 2);
            rr_both(m);
            cseq(m, 31862, Method::Invite);
        }),
        c("rfc3261/10_ringing_f8", |m| {
            response(m, 180, "Ringing");
            ada_grace(m, Some("271828q"));
            ada_invite_vias(m, 1);
            assert_eq!(m.via2().unwrap(), None);
            rr_both(m);
        }),
        c("rfc3261/11_ok_f9", |m| {
            response(m, 200, "OK");
            ada_grace(m, Some("271828q"));
            ada_invite_vias(m, 3);
            rr_both(m);
            grace_answer(m);
        }),
        c("rfc3261/12_ok_f10", |m| {
            response(m, 200, "OK");
            ada_invite_vias(m, 2);
            rr_both(m);
            grace_answer(m);
        }),
        c("rfc3261/13_ok_f11", |m| {
            response(m, 200, "OK");
            ada_invite_vias(m, 1);
            rr_both(m);
            grace_answer(m);
            sdp_origin(m, "grace", "3120944717", "3120944717");
        }),
        c("rfc3261/14_ack_f12", |m| {
            request(m, Method::Ack, "sip:grace@203.0.113.40");
            ada_grace(m, Some("271828q"));
            cseq(m, 31862, Method::Ack);
            via_is(
                &vias(m)[0],
                ViaTransport::Udp,
                "pc7.analytical.example.org",
                None,
                "z9hG4bKub3rq9",
            );
            // Both routes on one line.
            assert_eq!(m.headers_named(HeaderName::Route).count(), 1);
            assert_eq!(loose_hosts(m.routes().unwrap()), vec![P1, P2]);
            assert!(m.record_routes().unwrap().is_empty());
            assert!(m.body().is_empty());
        }),
        c("rfc3261/15_bye_f13", |m| {
            request(m, Method::Bye, "sip:ada@pc7.analytical.example.org");
            addr_is(
                m.from().unwrap(),
                Some("Grace"),
                Some("grace"),
                GRACE,
                Some("271828q"),
            );
            addr_is(
                m.to().unwrap(),
                Some("Ada"),
                Some("ada"),
                ADA,
                Some("q8w2ke51tv"),
            );
            cseq(m, 231, Method::Bye);
            via_is(
                &vias(m)[0],
                ViaTransport::Udp,
                "203.0.113.40",
                Some(5060),
                "z9hG4bKub3rq10",
            );
            // One route per line.
            assert_eq!(m.headers_named(HeaderName::Route).count(), 2);
            assert_eq!(loose_hosts(m.routes().unwrap()), vec![P2, P1]);
        }),
        c("rfc3261/16_bye_at_uac", |m| {
            request(m, Method::Bye, "sip:ada@pc7.analytical.example.org");
            let v = vias(m);
            assert_eq!(v.len(), 3);
            via_is(&v[0], ViaTransport::Udp, P1, None, "z9hG4bKb0e1.2");
            assert_eq!(received(&v[1]).as_deref(), Some("203.0.113.5"));
            assert_eq!(v[2].rport(), Some(Some(5060)));
            assert_eq!(ost(v[2].rport_raw()), Some("rport=5060"));
            assert_eq!(received(&v[2]).as_deref(), Some("203.0.113.40"));
            assert_eq!(m.max_forwards().unwrap(), Some(68));
            assert!(m.routes().unwrap().is_empty());
        }),
        c("rfc3261/17_ok_bye_f14", |m| {
            response(m, 200, "OK");
            cseq(m, 231, Method::Bye);
            let v = &vias(m)[0];
            assert_eq!((v.rport(), v.port), (Some(Some(5060)), Some(5060)));
            assert_eq!(ost(m.to().unwrap().tag()), Some("q8w2ke51tv"));
        }),
        // ----- RFC 3665 registration -----
        c("rfc3665/reg_new_f1_register", |m| {
            cleo_reg(m, 1, "z9hG4bKvq7m2");
            let ct = contacts(m);
            assert_eq!(ct.len(), 1);
            addr_is(&ct[0], None, Some("cleo"), CLEO_UA, None);
            assert_eq!(ct[0].uri.scheme, Scheme::Sips);
            assert!(m.credentials(HeaderName::Authorization).unwrap().is_empty());
        }),
        c("rfc3665/reg_new_f2_401", |m| {
            cleo_reg(m, 1, "z9hG4bKvq7m2");
            cleo_challenge(m, "c60f3082ee1212b402a21831ae", false, &["auth"]);
            let ch = &m.challenges(HeaderName::WwwAuthenticate).unwrap()[0];
            assert_eq!(ost(ch.opaque), Some(""));
            assert_eq!(ost(ch.algorithm), Some("MD5"));
            assert_eq!(ost(m.to().unwrap().tag()), Some("7730162504"));
        }),
        c("rfc3665/reg_new_f3_register", |m| {
            cleo_reg(m, 2, "z9hG4bKvq7m3");
            cleo_creds(m, "c60f3082ee1212b402a21831ae", 1, "6e3d9a1f");
            assert_eq!(contacts(m).len(), 1);
        }),
        c("rfc3665/reg_new_f4_200", |m| {
            cleo_reg(m, 2, "z9hG4bKvq7m3");
            response(m, 200, "OK");
            let ct = contacts(m);
            assert_eq!(expires_param(&ct[0]), Some(3600));
            assert_eq!(value(m, "Date"), "Tue, 24 Nov 2026 06:10:00 GMT");
        }),
        c("rfc3665/reg_update_f1_register", |m| {
            cleo_reg(m, 3, "z9hG4bKvq7m4");
            cleo_creds(m, "c60f3082ee1212b402a21831ae", 2, "8b1d4e7f");
            let ct = contacts(m);
            assert_eq!(ct.len(), 1);
            // A bare non-SIP addr-spec.
            assert!(!ct[0].angle);
            assert_eq!(ct[0].uri.scheme, Scheme::Other(b"mailto"));
            assert_eq!(st(ct[0].uri.opaque()), "cleo@eastbank.example.com");
            assert_eq!(ct[0].uri.host(), None);
        }),
        c("rfc3665/reg_update_f2_200", |m| {
            cleo_reg(m, 3, "z9hG4bKvq7m4");
            let ct = contacts(m);
            assert_eq!(ct.len(), 2);
            assert_eq!(ct[0].uri.scheme, Scheme::Sips);
            assert_eq!(expires_param(&ct[0]), Some(3600));
            assert_eq!(ct[1].uri.scheme, Scheme::Other(b"mailto"));
            assert!(ct[1].angle);
            assert_eq!(expires_param(&ct[1]), Some(u32::MAX));
        }),
        c("rfc3665/reg_query_f1_register", |m| {
            cleo_reg(m, 4, "z9hG4bKvq7m5");
            cleo_creds(m, "c60f3082ee1212b402a21831ae", 3, "5e2c9a01");
            let ct = m.contacts().unwrap();
            assert!(!ct.star && ct.list.is_empty());
            assert_eq!(m.header(HeaderName::Contact), None);
        }),
        c("rfc3665/reg_query_f2_200", |m| {
            cleo_reg(m, 4, "z9hG4bKvq7m5");
            // Two contacts on one line.
            assert_eq!(m.headers_named(HeaderName::Contact).count(), 1);
            let ct = contacts(m);
            assert_eq!(ct.len(), 2);
            assert_eq!(expires_param(&ct[0]), Some(3500));
            assert_eq!(expires_param(&ct[1]), Some(4_294_967_195));
            assert_eq!(st(ct[1].uri.raw), "mailto:cleo@eastbank.example.com");
        }),
        c("rfc3665/reg_cancel_f1_register", |m| {
            cleo_reg(m, 5, "z9hG4bKvq7m6");
            let ct = m.contacts().unwrap();
            assert!(ct.star);
            assert!(ct.list.is_empty());
            assert_eq!(m.expires().unwrap(), Some(0));
            cleo_creds(m, "c60f3082ee1212b402a21831ae", 4, "77d0c4aa");
        }),
        c("rfc3665/reg_cancel_f2_200", |m| {
            cleo_reg(m, 5, "z9hG4bKvq7m6");
            response(m, 200, "OK");
            assert!(m.contacts().unwrap().list.is_empty());
            assert!(!m.contacts().unwrap().star);
        }),
        c("rfc3665/reg_fail_f1_register", |m| {
            cleo_reg(m, 6, "z9hG4bKvq7m7");
            assert!(m.credentials(HeaderName::Authorization).unwrap().is_empty());
            assert_eq!(m.expires().unwrap(), None);
        }),
        c("rfc3665/reg_fail_f2_401", |m| {
            cleo_reg(m, 6, "z9hG4bKvq7m7");
            cleo_challenge(
                m,
                "4e1b7f20c93a58d6e0f2a1b4c7d93e58",
                false,
                &["auth", "auth-int"],
            );
            let ch = &m.challenges(HeaderName::WwwAuthenticate).unwrap()[0];
            assert!(ch.offers_qop(b"auth-int"));
            assert_eq!(ost(ch.opaque), Some("2f7a9c41e0b3d865a1c4e7f03b92d6a8"));
        }),
        c("rfc3665/reg_fail_f3_register", |m| {
            cleo_reg(m, 7, "z9hG4bKvq7m8");
            cleo_creds(m, "4e1b7f20c93a58d6e0f2a1b4c7d93e58", 1, "1e7c0d33");
        }),
        c("rfc3665/reg_fail_f4_401", |m| {
            cleo_reg(m, 7, "z9hG4bKvq7m8");
            cleo_challenge(m, "8f2a1d0b9e7c6a54", true, &["auth"]);
        }),
        // ----- RFC 3665 sessions -----
        c("rfc3665/sess_f1_invite", |m| {
            request(m, Method::Invite, "sips:cleo@eastbank.example.com");
            assert!(m.ruri().unwrap().is_sips());
            ben_cleo(m, None);
            ben_via(m, "z9hG4bKub3rq8");
            cseq(m, 1, Method::Invite);
            assert!(
                m.credentials(HeaderName::ProxyAuthorization)
                    .unwrap()
                    .is_empty()
            );
            ben_offer(m);
        }),
        c("rfc3665/sess_f2_407", |m| {
            response(m, 407, "Proxy Authorization Required");
            ben_cleo(m, Some("8bz01qfd"));
            ben_via(m, "z9hG4bKub3rq8");
            let ch = m.challenges(HeaderName::ProxyAuthenticate).unwrap();
            assert_eq!(ch.len(), 1);
            assert_eq!(ost(ch[0].realm), Some("westbank.example.com"));
            assert_eq!(ost(ch[0].nonce), Some("zb0c2ff2ab9a2c0f48f7c3a46bcd4d6e"));
            assert!(!ch[0].stale);
            assert!(ch[0].offers_qop(b"auth"));
            assert!(
                m.challenges(HeaderName::WwwAuthenticate)
                    .unwrap()
                    .is_empty()
            );
        }),
        c("rfc3665/sess_f3_ack", |m| {
            request(m, Method::Ack, "sips:cleo@eastbank.example.com");
            ben_cleo(m, Some("8bz01qfd"));
            ben_via(m, "z9hG4bKub3rq8");
            cseq(m, 1, Method::Ack);
        }),
        c("rfc3665/sess_f4_invite_auth", |m| {
            request(m, Method::Invite, "sips:cleo@eastbank.example.com");
            ben_cleo(m, None);
            ben_via(m, "z9hG4bKub3rq9");
            cseq(m, 2, Method::Invite);
            let cr = m.credentials(HeaderName::ProxyAuthorization).unwrap();
            assert_eq!(cr.len(), 1);
            let c = &cr[0];
            assert_eq!(ost(c.username), Some("ben"));
            assert_eq!(ost(c.realm), Some("westbank.example.com"));
            assert_eq!(ost(c.nonce), Some("zb0c2ff2ab9a2c0f48f7c3a46bcd4d6e"));
            assert_eq!(ost(c.uri), Some("sips:cleo@eastbank.example.com"));
            assert_eq!(ost(c.qop), Some("auth"));
            assert_eq!(ost(c.nc), Some("00000001"));
            assert_eq!(ost(c.cnonce), Some("2b7f0e1c"));
            assert_eq!(ost(c.algorithm), Some("MD5"));
            assert!(is_hex(st(c.response.unwrap()), 32));
            assert_eq!(ost(c.param(b"OPAQUE")), Some(""));
            assert!(m.credentials(HeaderName::Authorization).unwrap().is_empty());
            ben_offer(m);
        }),
        c("rfc3665/sess_f5_100", |m| {
            response(m, 100, "Trying");
            ben_cleo(m, None);
            ben_via(m, "z9hG4bKub3rq9");
        }),
        c("rfc3665/sess_f6_invite_s1", |m| {
            request(m, Method::Invite, "sips:cleo@eastbank.example.com");
            let v = vias(m);
            assert_eq!(v.len(), 2);
            via_is(&v[0], ViaTransport::Tls, S1, Some(5061), "z9hG4bK5a3e91.1");
            ben_via(m, "z9hG4bKub3rq9");
            assert_eq!(m.max_forwards().unwrap(), Some(69));
            assert_eq!(loose_hosts(m.record_routes().unwrap()), vec![S1]);
            assert_eq!(m.record_routes().unwrap()[0].uri.scheme, Scheme::Sips);
            // The proxy consumed the credentials.
            assert!(
                m.credentials(HeaderName::ProxyAuthorization)
                    .unwrap()
                    .is_empty()
            );
            ben_offer(m);
        }),
        c("rfc3665/sess_f7_100", |m| {
            response(m, 100, "Trying");
            assert_eq!(vias(m).len(), 2);
            assert_eq!(received(&vias(m)[0]).as_deref(), Some("198.51.100.2"));
        }),
        c("rfc3665/sess_f8_invite_s2", |m| {
            request(m, Method::Invite, "sips:cleo@client.eastbank.example.com");
            let v = vias(m);
            assert_eq!(v.len(), 3);
            via_is(&v[0], ViaTransport::Tls, S2, Some(5061), "z9hG4bK0c9b2.1");
            via_is(&v[1], ViaTransport::Tls, S1, Some(5061), "z9hG4bK5a3e91.1");
            ben_via(m, "z9hG4bKub3rq9");
            assert_eq!(m.max_forwards().unwrap(), Some(68));
            assert_eq!(loose_hosts(m.record_routes().unwrap()), vec![S2, S1]);
            ben_offer(m);
        }),
        c("rfc3665/sess_f9_180", |m| {
            response(m, 180, "Ringing");
            ben_cleo(m, Some("5518220407"));
            assert_eq!(vias(m).len(), 3);
            assert_eq!(received(&vias(m)[0]).as_deref(), Some("198.51.100.3"));
            assert_eq!(loose_hosts(m.record_routes().unwrap()), vec![S2, S1]);
            addr_is(&contacts(m)[0], None, Some("cleo"), CLEO_UA, None);
        }),
        c("rfc3665/sess_f12_200", |m| {
            response(m, 200, "OK");
            ben_cleo(m, Some("5518220407"));
            ben_via(m, "z9hG4bKub3rq9");
            assert_eq!(loose_hosts(m.record_routes().unwrap()), vec![S2, S1]);
            sdp_session_conn(m, "198.51.100.44", AddrType::Ip4);
            sdp_origin(m, "CleoC", "3120944717", "3120944717");
            assert_eq!(
                sdp_media(m),
                vec![("audio", "3614", 3614, None, "RTP/AVP", "0")]
            );
        }),
        c("rfc3665/sess_f13_ack", |m| {
            request(m, Method::Ack, "sips:cleo@client.eastbank.example.com");
            ben_cleo(m, Some("5518220407"));
            cseq(m, 2, Method::Ack);
            assert_eq!(loose_hosts(m.routes().unwrap()), vec![S1, S2]);
            ben_via(m, "z9hG4bKub3rq10");
        }),
        c("rfc3665/sess_f16_bye", |m| {
            request(m, Method::Bye, "sips:ben@client.westbank.example.com");
            addr_is(
                m.from().unwrap(),
                Some("Cleo"),
                Some("cleo"),
                "eastbank.example.com",
                Some("5518220407"),
            );
            addr_is(
                m.to().unwrap(),
                Some("Ben"),
                Some("ben"),
                "westbank.example.com",
                Some("q8w2ke51tv"),
            );
            cseq(m, 1, Method::Bye);
            assert_eq!(loose_hosts(m.routes().unwrap()), vec![S2, S1]);
            via_is(
                &vias(m)[0],
                ViaTransport::Tls,
                CLEO_UA,
                Some(5061),
                "z9hG4bKub3rq7",
            );
        }),
        c("rfc3665/sess_f19_200_bye", |m| {
            response(m, 200, "OK");
            cseq(m, 1, Method::Bye);
            assert_eq!(received(&vias(m)[0]).as_deref(), Some("198.51.100.44"));
        }),
        c("rfc3665/busy_f1_486", |m| {
            response(m, 486, "Busy Here");
            ben_cleo(m, Some("5518220407"));
            assert_eq!(vias(m).len(), 3);
            cseq(m, 2, Method::Invite);
        }),
        c("rfc3665/busy_f2_ack", |m| {
            request(m, Method::Ack, "sips:cleo@client.eastbank.example.com");
            ben_cleo(m, Some("5518220407"));
            // Hop-by-hop ACK: same branch as the proxy's INVITE.
            via_is(
                &vias(m)[0],
                ViaTransport::Tls,
                S2,
                Some(5061),
                "z9hG4bK0c9b2.1",
            );
            assert_eq!(vias(m).len(), 1);
            cseq(m, 2, Method::Ack);
        }),
        c("rfc3665/busy_f3_486_at_caller", |m| {
            response(m, 486, "Busy Here");
            assert_eq!(vias(m).len(), 1);
            ben_via(m, "z9hG4bKub3rq9");
        }),
        c("rfc3665/noans_f1_cancel", |m| {
            request(m, Method::Cancel, "sips:cleo@eastbank.example.com");
            ben_cleo(m, None);
            // CANCEL carries the INVITE's branch and CSeq number.
            ben_via(m, "z9hG4bKub3rq9");
            cseq(m, 2, Method::Cancel);
        }),
        c("rfc3665/noans_f2_200_cancel", |m| {
            response(m, 200, "OK");
            cseq(m, 2, Method::Cancel);
            ben_cleo(m, None);
        }),
        c("rfc3665/noans_f3_487", |m| {
            response(m, 487, "Request Terminated");
            cseq(m, 2, Method::Invite);
            ben_cleo(m, Some("5518220407"));
        }),
        c("rfc3665/noans_f4_ack", |m| {
            request(m, Method::Ack, "sips:cleo@eastbank.example.com");
            cseq(m, 2, Method::Ack);
            ben_via(m, "z9hG4bKub3rq9");
        }),
        c("rfc3665/timeout_f1_408", |m| {
            response(m, 408, "Request Timeout");
            ben_cleo(m, Some("fa5rt2sd90"));
        }),
        c("rfc3665/timeout_f2_ack", |m| {
            request(m, Method::Ack, "sips:cleo@eastbank.example.com");
            ben_cleo(m, Some("fa5rt2sd90"));
        }),
        c("rfc3665/notfound_f1_404", |m| {
            response(m, 404, "Not Found");
            assert_eq!(vias(m).len(), 2);
            assert_eq!(ost(m.to().unwrap().tag()), Some("271828"));
        }),
        c("rfc3665/notfound_f2_ack", |m| {
            request(m, Method::Ack, "sips:cleo@eastbank.example.com");
            via_is(
                &vias(m)[0],
                ViaTransport::Tls,
                S1,
                Some(5061),
                "z9hG4bK5a3e91.1",
            );
        }),
        c("rfc3665/unavail_f1_503", |m| {
            response(m, 503, "Service Unavailable");
            assert_eq!(value(m, "Retry-After"), "120");
            ben_cleo(m, Some("0ac91e"));
        }),
        c("rfc3665/redirect_f1_302", |m| {
            response(m, 302, "Moved Temporarily");
            assert_eq!(m.headers_named(HeaderName::Contact).count(), 2);
            let ct = contacts(m);
            assert_eq!(ct.len(), 3);
            addr_is(&ct[0], None, Some("cleo"), CLEO_UA, None);
            assert_eq!(ct[0].q(), Some(700));
            addr_is(
                &ct[1],
                None,
                Some("cleo"),
                "laptop.eastbank.example.com",
                None,
            );
            assert_eq!((ct[1].uri.port(), ct[1].q()), (Some(5071), Some(500)));
            addr_is(
                &ct[2],
                Some("Cleo mobile"),
                Some("+15550100"),
                "gw.eastbank.example.com",
                None,
            );
            assert!(ct[2].quoted);
            assert_eq!(ost(ct[2].uri.user_param()), Some("phone"));
            assert_eq!((ct[2].q(), expires_param(&ct[2])), (Some(100), Some(600)));
        }),
        c("rfc3665/redirect_f2_ack", |m| {
            request(m, Method::Ack, "sips:cleo@eastbank.example.com");
            cseq(m, 1, Method::Ack);
            ben_cleo(m, Some("2kx9ab"));
        }),
        c("rfc3665/redirect_f3_invite", |m| {
            request(m, Method::Invite, "sips:cleo@client.eastbank.example.com");
            cseq(m, 2, Method::Invite);
            ben_via(m, "z9hG4bKub3rq9a");
            ben_offer(m);
        }),
        // ----- phones -----
        c("phones/polycom_register", |m| {
            request(m, Method::Register, "sip:pbx.acme-corp.example");
            let v = &vias(m)[0];
            via_is(
                v,
                ViaTransport::Udp,
                "10.20.30.41",
                Some(5060),
                "z9hG4bK3f9c82a1c4e1D2C1",
            );
            assert_eq!(v.rport(), Some(None));
            let f = m.from().unwrap();
            addr_is(
                f,
                Some("Front Desk"),
                Some("2001"),
                "pbx.acme-corp.example",
                Some("5E8D2C0B-A3B1F4C7"),
            );
            assert!(f.quoted);
            let ct = contacts(m);
            assert_eq!(
                ct.len(),
                1,
                "commas inside the quoted methods= stay in one contact"
            );
            let a = &ct[0];
            assert_eq!(a.uri.param(b"line"), Some(Some(&b"1"[..])));
            assert_eq!(
                ost(a.param(b"+sip.instance").flatten()),
                Some("<urn:uuid:00040000-0000-1000-8000-0004f2a1b2c3>")
            );
            assert_eq!(ost(a.param(b"reg-id").flatten()), Some("1"));
            assert_eq!(a.param(b"audio"), Some(None));
            assert!(
                ost(a.param(b"methods").flatten())
                    .unwrap()
                    .starts_with("INVITE, ACK, BYE")
            );
            assert_eq!(ost(a.param(b"description").flatten()), Some("VVX 411"));
            assert_eq!(expires_param(a), Some(3600));
            assert_eq!(tags(m, HeaderName::Supported), ["100rel", "replaces"]);
            assert_eq!(list_of(m, "Allow-Events"), ["conference", "talk", "hold"]);
            assert_eq!(value(m, "User-Agent"), "PolycomVVX-VVX_411-UA/6.3.1.8427");
        }),
        c("phones/polycom_notify_dialog", |m| {
            request(m, Method::Notify, "sip:2100@10.20.30.77:5060");
            cseq(m, 3, Method::Notify);
            assert_eq!(value(m, "Event"), "dialog");
            assert_eq!(value(m, "Subscription-State"), "active;expires=3540");
            let (t, _) = m.content_type().unwrap().unwrap();
            assert_eq!(st(t), "application/dialog-info+xml");
            assert!(m.body().starts_with(b"<?xml version=\"1.0\""));
            assert!(m.body().ends_with(b"</dialog-info>\r\n"));
            assert_eq!(ost(m.to().unwrap().tag()), Some("19e4c2a7"));
        }),
        c("phones/yealink_invite_proxy_auth", |m| {
            request(m, Method::Invite, "sip:1003@pbx.acme-corp.example:5060");
            assert_eq!(m.ruri().unwrap().port(), Some(5060));
            addr_is(
                m.from().unwrap(),
                Some("Sales 1002"),
                Some("1002"),
                "pbx.acme-corp.example",
                Some("2063582571"),
            );
            let cr = m.credentials(HeaderName::ProxyAuthorization).unwrap();
            let c = &cr[0];
            assert_eq!(ost(c.username), Some("1002"));
            assert_eq!(ost(c.realm), Some("asterisk"));
            assert_eq!(
                ost(c.nonce),
                Some("1732425600/8bd1f0c3a6e2f37a9e0b5d4c1a7f6e2b")
            );
            assert_eq!(ost(c.uri), Some("sip:1003@pbx.acme-corp.example:5060"));
            assert_eq!((c.qop, c.nc, c.cnonce), (None, None, None));
            assert_eq!(c.algorithm_kind(), Algorithm::Md5);
            assert!(is_hex(st(c.response.unwrap()), 32));
            assert_eq!(list_of(m, "Allow").len(), 14);
            assert_eq!(list_of(m, "Allow-Events")[4], "check-sync");
            assert_eq!(tags(m, HeaderName::Supported), ["replaces"]);
            sdp_session_conn(m, "10.20.30.52", AddrType::Ip4);
            assert_eq!(
                sdp_media(m),
                vec![("audio", "11780", 11780, None, "RTP/AVP", "0 8 18 9 101")]
            );
        }),
        c("phones/yealink_subscribe_blf", |m| {
            request(m, Method::Subscribe, "sip:1005@pbx.acme-corp.example:5060");
            cseq(m, 1, Method::Subscribe);
            assert_eq!(m.expires().unwrap(), Some(1800));
            assert_eq!(value(m, "Event"), "dialog");
            assert_eq!(value(m, "Accept"), "application/dialog-info+xml");
        }),
        c("phones/cisco_invite_tcp", |m| {
            request(m, Method::Invite, "sip:5551234@cucm.example.com;user=phone");
            assert_eq!(ost(m.ruri().unwrap().user_param()), Some("phone"));
            let v = &vias(m)[0];
            via_is(
                v,
                ViaTransport::Tcp,
                "10.40.1.25",
                Some(51834),
                "z9hG4bK5d3a1f07",
            );
            assert!(v.transport.is_reliable());
            cseq(m, 101, Method::Invite);
            let ct = contacts(m);
            assert_eq!(ost(ct[0].uri.transport()), Some("tcp"));
            assert_eq!(
                ost(ct[0].uri.user()),
                Some("6f2c9e1a-3b7d-4e5f-a1c2-00562b8f3c1a")
            );
            assert_eq!(
                ost(ct[0].param(b"+u.sip!devicename.ccm.cisco.com").flatten()),
                Some("SEP00562B8F3C1A")
            );
            assert_eq!(ct[0].param(b"video"), Some(None));
            assert_eq!(m.expires().unwrap(), Some(180));
            let sup = tags(m, HeaderName::Supported);
            assert_eq!(sup.len(), 15);
            assert_eq!(sup.last().map(String::as_str), Some("X-cisco-xsi-8.5.1"));
            assert_eq!(list_of(m, "Allow-Events"), ["kpml", "dialog"]);
            assert_eq!(m.headers_by_name(b"Recv-Info").count(), 2);
            // No session-level c=: each m= has its own.
            assert!(sdp(m).connections().is_empty());
            assert_eq!(
                sdp_media(m),
                vec![
                    ("audio", "27418", 27418, None, "RTP/AVP", "114 9 0 8 18 101"),
                    ("video", "23546", 23546, None, "RTP/AVP", "126 97"),
                ]
            );
            assert_eq!(sdp_conn_of_media(m), vec!["10.40.1.25", "10.40.1.25"]);
            assert_eq!(sdp(m).media[1].connections().len(), 1);
            sdp_origin(m, "Cisco-SIPUA", "24813", "0");
        }),
        c("phones/snom_register_sha256", |m| {
            request(m, Method::Register, "sip:voip.example.de");
            let v = &vias(m)[0];
            via_is(
                v,
                ViaTransport::Tls,
                "192.168.178.34",
                Some(34567),
                "z9hG4bK-c1k2bxrq8u0a",
            );
            assert_eq!(v.rport(), Some(None));
            let cr = m.credentials(HeaderName::Authorization).unwrap();
            let c = &cr[0];
            assert_eq!(ost(c.username), Some("anna"));
            assert_eq!(ost(c.realm), Some("voip.example.de"));
            assert_eq!(ost(c.nonce), Some("7a1c3e5f9b2d4f6a8c0e2a4c6e8a0c2e"));
            assert_eq!(ost(c.uri), Some("sip:voip.example.de"));
            assert_eq!(c.algorithm_kind(), Algorithm::Sha256);
            assert!(is_hex(st(c.response.unwrap()), 64));
            assert_eq!((ost(c.qop), c.nc_value()), (Some("auth"), Some(1)));
            assert_eq!(ost(c.cnonce), Some("c1b3e0f9a8d27c65"));
            let ct = contacts(m);
            assert_eq!(ct[0].q(), Some(1000));
            assert_eq!(ost(ct[0].uri.transport()), Some("tls"));
            assert_eq!(ct[0].uri.param(b"line"), Some(Some(&b"q7b3kd2a"[..])));
            assert_eq!(ost(ct[0].param(b"reg-id").flatten()), Some("1"));
            assert_eq!(expires_param(&ct[0]), Some(3600));
            assert_eq!(tags(m, HeaderName::Supported), ["path", "gruu"]);
        }),
        c("phones/linphone_register_ipv6", |m| {
            request(m, Method::Register, "sip:sip.linphone.example");
            let v = &vias(m)[0];
            via_is(
                v,
                ViaTransport::Tls,
                "[2001:db8:85a3::8a2e:370:7334]",
                Some(37251),
                "z9hG4bK.Qx3bKfgT9",
            );
            assert!(v.host.ip().is_some_and(|ip| ip.is_ipv6()));
            assert!(v.has_param(b"alias"));
            assert_eq!(v.rport(), Some(None));
            let to = m.to().unwrap();
            assert!(!to.angle, "bare addr-spec To");
            addr_is(to, None, Some("hedy"), "sip.linphone.example", None);
            assert_eq!(ost(m.from().unwrap().tag()), Some("Hq1~kD3vN"));
            assert_eq!(st(m.call_id().unwrap()), "9sVoPw2xq7");
            let ct = contacts(m);
            assert_eq!(ct.len(), 1, "commas inside a quoted parameter");
            let u = &ct[0].uri;
            assert_eq!(host_of(u), "[2001:db8:85a3::8a2e:370:7334]");
            assert_eq!((u.port(), ost(u.transport())), (Some(37251), Some("tls")));
            assert!(u.has_param(b"ob"));
            assert_eq!(
                ost(ct[0].param(b"+org.linphone.specs").flatten()),
                Some("lime,groupchat/1.1,ephemeral")
            );
            assert_eq!(ost(ct[0].param(b"reg-id").flatten()), Some("1"));
            assert_eq!(
                tags(m, HeaderName::Supported),
                ["replaces", "outbound", "gruu", "path"]
            );
            assert_eq!(m.headers_by_name(b"Accept").count(), 3);
            cseq(m, 20, Method::Register);
        }),
        c("phones/linphone_invite_ipv6", |m| {
            request(
                m,
                Method::Invite,
                "sip:ida@[2001:db8:85a3::1]:5060;transport=udp",
            );
            let u = m.ruri().unwrap();
            assert_eq!(
                (host_of(u), u.port()),
                ("[2001:db8:85a3::1]".to_string(), Some(5060))
            );
            assert_eq!(
                u.host()
                    .and_then(|h| h.ip())
                    .map(|i| i.to_string())
                    .as_deref(),
                Some("2001:db8:85a3::1")
            );
            let v = &vias(m)[0];
            via_is(
                v,
                ViaTransport::Udp,
                "[2001:db8:85a3::8a2e:370:7334]",
                Some(5060),
                "z9hG4bK.m1Zr~7Hd2",
            );
            assert!(contacts(m)[0].uri.has_param(b"ob"));
            sdp_session_conn(m, "2001:db8:85a3::8a2e:370:7334", AddrType::Ip6);
            assert_eq!(
                sdp_media(m),
                vec![(
                    "audio",
                    "7078",
                    7078,
                    None,
                    "RTP/AVP",
                    "96 97 98 0 8 18 101 99 100"
                )]
            );
            let rtcp = sdp(m).media[0].rtcp();
            assert_eq!(rtcp.len(), 1);
            assert_eq!(rtcp[0].port, 7079);
            assert_eq!(sdp_text(m, rtcp[0].port_span), "7079");
            assert_eq!(sdp_text(m, rtcp[0].line.span), "a=rtcp:7079");
        }),
        c("phones/linphone_message_utf8", |m| {
            request(m, Method::Message, "sip:ida@sip.linphone.example");
            let (t, p) = m.content_type().unwrap().unwrap();
            assert_eq!(st(t), "text/plain");
            assert_eq!(ost(p.value(b"charset")), Some("UTF-8"));
            let text = "Grüße aus Köln — à bientôt ☕";
            assert_eq!(m.body(), text.as_bytes());
            assert_eq!(m.content_length(), Some(text.len() as u32));
            assert!(text.len() > text.chars().count());
            via_is(
                &vias(m)[0],
                ViaTransport::Tcp,
                "192.0.2.77",
                Some(42011),
                "z9hG4bK.Lk2~vP0e",
            );
        }),
        c("phones/zoiper_invite_compact", |m| {
            request(m, Method::Invite, "sip:7001@sip.example.net;transport=UDP");
            assert_eq!(ost(m.ruri().unwrap().transport()), Some("UDP"));
            // Compact names are classified and keep their written form.
            let names: Vec<&str> = m.headers().iter().map(|h| st(m.name_of(h))).collect();
            for short in ["v", "m", "t", "f", "i", "c", "k", "l"] {
                assert!(names.contains(&short), "{short}");
            }
            assert_eq!(
                m.header(HeaderName::Via).map(|h| st(m.name_of(h))),
                Some("v")
            );
            assert_eq!(
                m.header(HeaderName::ContentLength)
                    .map(|h| st(m.name_of(h))),
                Some("l")
            );
            let v = &vias(m)[0];
            via_is(
                v,
                ViaTransport::Udp,
                "172.16.5.23",
                Some(46213),
                "z9hG4bK-524287-1---8c4f2b7e1a9d3c06",
            );
            // `"Mia"<sip:...>`: no space between the name and `<`.
            let f = m.from().unwrap();
            addr_is(
                f,
                Some("Mia"),
                Some("7000"),
                "sip.example.net",
                Some("3e1f9a2c"),
            );
            assert!(f.quoted);
            assert_eq!(st(m.call_id().unwrap()), "Yk3NmQ2ZjE5YzA4ZTM1ZmFmNmI0ZDg1");
            addr_is(&contacts(m)[0], None, Some("7000"), "172.16.5.23", None);
            let sup = tags(m, HeaderName::Supported);
            assert_eq!(sup.len(), 7);
            assert!(sup.iter().any(|t| t == "outbound"));
            assert_eq!(st(m.content_type().unwrap().unwrap().0), "application/sdp");
            assert_eq!(
                sdp_media(m),
                vec![("audio", "8000", 8000, None, "RTP/AVP", "106 9 98 101 0 8 3")]
            );
        }),
        c("phones/bria_200_multi_via", |m| {
            response(m, 200, "OK");
            // Two Vias on the first line, one on the second.
            assert_eq!(m.headers_named(HeaderName::Via).count(), 2);
            let v = vias(m);
            assert_eq!(v.len(), 3);
            via_is(
                &v[0],
                ViaTransport::Udp,
                "198.51.100.7",
                None,
                "z9hG4bK9a1e.5c2f08b1.0",
            );
            via_is(
                &v[1],
                ViaTransport::Udp,
                "10.0.0.12",
                Some(5060),
                "z9hG4bK-d8754z-4d3b2a1c",
            );
            assert_eq!(received(&v[1]).as_deref(), Some("203.0.113.99"));
            assert_eq!(v[1].rport(), Some(Some(61311)));
            via_is(
                &v[2],
                ViaTransport::Tcp,
                "10.0.0.9",
                Some(5070),
                "z9hG4bK-d8754z-00ffaa11",
            );
            assert_eq!(v[2].rport(), Some(Some(5070)));
            let rr = m.record_routes().unwrap();
            assert_eq!(loose_hosts(rr), vec!["198.51.100.7"]);
            assert_eq!(rr[0].uri.param(b"ftag"), Some(Some(&b"d9b1c2a4"[..])));
            assert_eq!(rr[0].uri.param(b"did"), Some(Some(&b"6c2.3a71"[..])));
            addr_is(
                m.from().unwrap(),
                Some("Ops"),
                Some("1100"),
                "sip.example.net",
                Some("d9b1c2a4"),
            );
            assert_eq!(
                contacts(m)[0].uri.param(b"rinstance"),
                Some(Some(&b"5e2a1b9c0d3f4e71"[..]))
            );
            assert_eq!(
                sdp_media(m)[0],
                ("audio", "61000", 61000, None, "RTP/AVP", "0 101")
            );
        }),
        c("phones/ims_register_aka", |m| {
            request(m, Method::Register, "sip:ims.mnc001.mcc001.3gppnetwork.org");
            via_is(
                &vias(m)[0],
                ViaTransport::Udp,
                "[2001:db8:4::2]",
                Some(5060),
                "z9hG4bK-ims-0001",
            );
            let cr = m.credentials(HeaderName::Authorization).unwrap();
            let c = &cr[0];
            assert_eq!(
                ost(c.username),
                Some("001011234567895@ims.mnc001.mcc001.3gppnetwork.org")
            );
            assert_eq!((ost(c.nonce), ost(c.response)), (Some(""), Some("")));
            assert_eq!(c.algorithm_kind(), Algorithm::Other(b"AKAv1-MD5"));
            assert_eq!(tags(m, HeaderName::Require), ["sec-agree"]);
            assert_eq!(tags(m, HeaderName::ProxyRequire), ["sec-agree"]);
            assert_eq!(
                tags(m, HeaderName::Supported),
                ["path", "gruu", "sec-agree"]
            );
            let ct = contacts(m);
            assert_eq!(ct[0].param(b"+g.3gpp.smsip"), Some(None));
            assert_eq!(
                ost(ct[0].param(b"+g.3gpp.icsi-ref").flatten()),
                Some("urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel")
            );
            assert_eq!(
                ost(ct[0].param(b"+sip.instance").flatten()),
                Some("<urn:gsma:imei:35209900-176148-0>")
            );
            assert_eq!(expires_param(&ct[0]), Some(600_000));
            assert_eq!(m.expires().unwrap(), Some(600_000));
            assert_eq!(st(m.call_id().unwrap()), "2c9f4e1a8b7d@2001:db8:4::2");
        }),
        c("phones/tel_uri_invite", |m| {
            request(m, Method::Invite, "tel:+1-212-555-0147");
            let u = m.ruri().unwrap();
            assert!(u.is_tel());
            assert_eq!(
                (ost(u.user()), u.host(), u.port()),
                (Some("+1-212-555-0147"), None, None)
            );
            let to = m.to().unwrap();
            assert!(to.uri.is_tel() && to.uri.equals(u));
            assert_eq!(loose_hosts(m.routes().unwrap()), vec!["[2001:db8:4::100]"]);
            assert_eq!(m.routes().unwrap()[0].uri.port(), Some(5060));
            // P-Asserted-Identity: a SIP URI with user=phone and a tel URI.
            let pai: Vec<NameAddr<'_>> = list_of(m, "P-Asserted-Identity")
                .into_iter()
                .map(|v| NameAddr::parse(v.as_bytes(), &Limits::DEFAULT).unwrap())
                .collect();
            assert_eq!(pai.len(), 2);
            addr_is(
                &pai[0],
                Some("Desk 0100"),
                Some("+12125550100"),
                "ims.example.net",
                None,
            );
            assert_eq!(ost(pai[0].uri.user_param()), Some("phone"));
            assert!(pai[1].uri.is_tel());
            assert_eq!(ost(pai[1].uri.user()), Some("+12125550100"));
            assert_eq!(tags(m, HeaderName::Require), ["100rel"]);
            assert_eq!(
                tags(m, HeaderName::Supported),
                ["100rel", "timer", "precondition"]
            );
            sdp_session_conn(m, "2001:db8:4::2", AddrType::Ip6);
            assert_eq!(
                sdp_media(m),
                vec![("audio", "31000", 31000, None, "RTP/AVP", "116 118 111 110")]
            );
        }),
        c("phones/tel_uri_local_number", |m| {
            request(m, Method::Options, "tel:5550147;phone-context=+1-212");
            let u = m.ruri().unwrap();
            assert!(u.is_tel());
            assert_eq!(ost(u.user()), Some("5550147"));
            assert_eq!(u.param(b"phone-context"), Some(Some(&b"+1-212"[..])));
            assert!(m.to().unwrap().uri.equals(u));
            cseq(m, 7, Method::Options);
        }),
        c("phones/folded_lines", |m| {
            request(m, Method::Invite, "sip:ops@pbx.legacy.example");
            let v = vias(m);
            assert_eq!(v.len(), 3);
            via_is(
                &v[0],
                ViaTransport::Udp,
                "10.9.8.7",
                Some(5060),
                "z9hG4bK-fold-2",
            );
            assert_eq!(v[0].rport(), Some(None));
            via_is(
                &v[1],
                ViaTransport::Udp,
                "10.9.8.1",
                Some(5060),
                "z9hG4bK-fold-1",
            );
            via_is(
                &v[2],
                ViaTransport::Tcp,
                "gw.legacy.example",
                None,
                "z9hG4bK-fold-0",
            );
            assert_eq!(m.max_forwards().unwrap(), Some(70));
            addr_is(
                m.from().unwrap(),
                Some("Old Deskset"),
                Some("4455"),
                "pbx.legacy.example",
                Some("fd11e"),
            );
            cseq(m, 77, Method::Invite);
            assert_eq!(expires_param(&contacts(m)[0]), Some(300));
            assert_eq!(
                value(m, "Subject"),
                "Line one\r\n continues here\r\n\tand here"
            );
            assert_eq!(tags(m, HeaderName::Supported), ["timer", "replaces"]);
            sdp_session_conn(m, "10.9.8.7", AddrType::Ip4);
            assert_eq!(sdp_media(m)[0].1, "16384");
        }),
        c("phones/grandstream_options_long_allow", |m| {
            request(m, Method::Options, "sip:pbx.acme-corp.example");
            let allow = list_of(m, "Allow");
            assert_eq!(allow.len(), 56);
            assert_eq!((allow[0], allow[55]), ("INVITE", "MESSAGE"));
            assert!(m.value(HeaderName::Allow).unwrap().len() > 400);
            assert_eq!(list_of(m, "Accept").len(), 9);
            assert_eq!(list_of(m, "Allow-Events").len(), 10);
            assert_eq!(tags(m, HeaderName::Supported).len(), 12);
            assert_eq!(st(m.call_id().unwrap()), "1376488815-5060-11@BJC.BGI.DB.GA");
            addr_is(m.to().unwrap(), None, None, "pbx.acme-corp.example", None);
        }),
        c("phones/webrtc_invite_wss", |m| {
            request(m, Method::Invite, "sip:support@sip.example.org");
            let v = &vias(m)[0];
            via_is(
                v,
                ViaTransport::Wss,
                "6k4j2h1g0f9e.invalid",
                None,
                "z9hG4bK6081837",
            );
            assert!(v.transport.is_secure() && v.transport.is_reliable());
            let ct = contacts(m);
            assert_eq!(ost(ct[0].uri.transport()), Some("ws"));
            assert!(ct[0].uri.has_param(b"ob"));
            assert_eq!(m.max_forwards().unwrap(), Some(69));
            let s = sdp(m);
            assert!(s.connections().is_empty());
            sdp_origin(m, "-", "5301868744912473312", "2");
            assert_eq!(
                sdp_media(m),
                vec![(
                    "audio",
                    "51203",
                    51203,
                    None,
                    "UDP/TLS/RTP/SAVPF",
                    "111 0 8 126"
                )]
            );
            assert_eq!(sdp_conn_of_media(m), vec!["198.51.100.200"]);
            let rtcp = s.media[0].rtcp();
            assert_eq!(rtcp[0].port, 9);
            let a = rtcp[0].address.expect("a=rtcp address");
            assert_eq!(sdp_text(m, a.addr), "0.0.0.0");
        }),
        // ----- sipp -----
        c("sipp/uac_invite", |m| {
            sipp_uac(m, Method::Invite, 1, "z9hG4bK-12345-1-0");
            sipp_dialog(m, 1, false);
            via_is(
                &vias(m)[0],
                ViaTransport::Udp,
                "127.0.0.1",
                Some(5061),
                "z9hG4bK-12345-1-0",
            );
            sipp_offer(m, "6000");
        }),
        c("sipp/uac_ack", |m| {
            sipp_uac(m, Method::Ack, 1, "z9hG4bK-12345-1-4");
            sipp_dialog(m, 1, true);
            assert!(m.content_type().unwrap().is_none());
        }),
        c("sipp/uac_bye", |m| {
            sipp_uac(m, Method::Bye, 2, "z9hG4bK-12345-1-6");
            sipp_dialog(m, 1, true);
        }),
        c("sipp/uac_invite_tcp_call7", |m| {
            sipp_uac(m, Method::Invite, 1, "z9hG4bK-12345-7-0");
            sipp_dialog(m, 7, false);
            assert_eq!(vias(m)[0].transport, ViaTransport::Tcp);
            sipp_offer(m, "6000");
        }),
        c("sipp/uas_180", |m| {
            sipp_uas(m, 180, "Ringing", 1, Method::Invite);
            assert!(m.body().is_empty());
        }),
        c("sipp/uas_200_invite", |m| {
            sipp_uas(m, 200, "OK", 1, Method::Invite);
            sipp_offer(m, "6002");
        }),
        c("sipp/uas_200_bye", |m| {
            sipp_uas(m, 200, "OK", 2, Method::Bye);
            assert_eq!(ost(vias(m)[0].branch()), Some("z9hG4bK-12345-1-6"));
        }),
    ]
}

// ----- the bad messages -----

/// Where a bad message must fail.
#[derive(Clone, Copy, Debug)]
enum Stage {
    /// `SipMsg::parse` (datagram rules) rejects it.
    Parse,
    /// It parses, but `validate()` rejects it.
    Validate,
    /// It parses, but the named accessor rejects it.
    Access(&'static str),
}

/// `(file, stage, where, fault)` for every file of `bad/`.
const BAD: &[(&str, Stage, Where, Fault)] = &[
    (
        "missing_colon_in_header",
        Stage::Parse,
        Where::Header,
        Fault::Malformed,
    ),
    (
        "bad_start_line_no_spaces",
        Stage::Parse,
        Where::StartLine,
        Fault::Malformed,
    ),
    (
        "bad_start_line_missing_version",
        Stage::Parse,
        Where::StartLine,
        Fault::Malformed,
    ),
    (
        "bad_start_line_method_char",
        Stage::Parse,
        Where::Method,
        Fault::BadChar,
    ),
    (
        "sip_version_3_0_request",
        Stage::Parse,
        Where::Version,
        Fault::UnsupportedVersion,
    ),
    (
        "sip_version_3_0_response",
        Stage::Parse,
        Where::Version,
        Fault::UnsupportedVersion,
    ),
    (
        "status_code_two_digits",
        Stage::Parse,
        Where::StatusCode,
        Fault::BadNumber,
    ),
    (
        "content_length_larger_than_body",
        Stage::Parse,
        Where::ContentLength,
        Fault::LengthMismatch,
    ),
    (
        "two_different_content_lengths",
        Stage::Parse,
        Where::ContentLength,
        Fault::Duplicate,
    ),
    (
        "content_length_not_a_number",
        Stage::Parse,
        Where::ContentLength,
        Fault::BadNumber,
    ),
    (
        "unclosed_quote_in_from",
        Stage::Access("from"),
        Where::From,
        Fault::Unclosed,
    ),
    (
        "unclosed_angle_in_contact",
        Stage::Access("contacts"),
        Where::Contact,
        Fault::Unclosed,
    ),
    (
        "via_protocol_version_3_0",
        Stage::Access("vias"),
        Where::Via,
        Fault::UnsupportedVersion,
    ),
    (
        "via_protocol_missing_transport",
        Stage::Access("vias"),
        Where::Via,
        Fault::BadChar,
    ),
    (
        "via_branch_twice",
        Stage::Access("vias"),
        Where::Via,
        Fault::Duplicate,
    ),
    (
        "cseq_number_too_large",
        Stage::Access("cseq"),
        Where::CSeq,
        Fault::BadNumber,
    ),
    (
        "cseq_number_not_digits",
        Stage::Access("cseq"),
        Where::CSeq,
        Fault::BadNumber,
    ),
    (
        "cseq_method_differs_from_request",
        Stage::Validate,
        Where::CSeq,
        Fault::Malformed,
    ),
    (
        "missing_call_id",
        Stage::Validate,
        Where::CallId,
        Fault::Missing,
    ),
    ("missing_from", Stage::Validate, Where::From, Fault::Missing),
    (
        "max_forwards_not_a_number",
        Stage::Validate,
        Where::MaxForwards,
        Fault::BadNumber,
    ),
    (
        "bad_escape_in_request_uri",
        Stage::Access("ruri"),
        Where::Uri,
        Fault::BadChar,
    ),
    (
        "ipv6_bracket_not_closed_in_via",
        Stage::Access("vias"),
        Where::Via,
        Fault::Unclosed,
    ),
    (
        "ipv6_bracket_not_closed_in_request_uri",
        Stage::Access("ruri"),
        Where::Uri,
        Fault::Unclosed,
    ),
    (
        "header_name_with_space",
        Stage::Parse,
        Where::HeaderName,
        Fault::BadChar,
    ),
    (
        "contact_star_with_address",
        Stage::Access("contacts"),
        Where::Contact,
        Fault::Malformed,
    ),
    (
        "auth_missing_comma",
        Stage::Access("credentials"),
        Where::Auth,
        Fault::BadChar,
    ),
    (
        "missing_empty_line",
        Stage::Parse,
        Where::Header,
        Fault::Truncated,
    ),
    (
        "nul_in_header_name",
        Stage::Parse,
        Where::HeaderName,
        Fault::BadChar,
    ),
    ("nul_in_method", Stage::Parse, Where::Method, Fault::BadChar),
    (
        "nul_in_request_uri",
        Stage::Access("ruri"),
        Where::Uri,
        Fault::BadChar,
    ),
    (
        "nul_in_call_id",
        Stage::Access("call_id"),
        Where::CallId,
        Fault::BadChar,
    ),
    (
        "nul_in_quoted_auth_param",
        Stage::Access("credentials"),
        Where::Auth,
        Fault::BadChar,
    ),
    (
        "nul_in_quoted_contact_param",
        Stage::Access("contacts"),
        Where::Contact,
        Fault::BadChar,
    ),
    ("seventy_vias", Stage::Parse, Where::Via, Fault::TooMany),
    (
        "too_many_headers",
        Stage::Parse,
        Where::Header,
        Fault::TooMany,
    ),
];

fn access(m: &SipMsg<'_>, what: &str) -> Result<(), ParseError> {
    match what {
        "from" => m.from().map(|_| ()),
        "to" => m.to().map(|_| ()),
        "vias" => m.vias().map(|_| ()),
        "cseq" => m.cseq().map(|_| ()),
        "call_id" => m.call_id().map(|_| ()),
        "contacts" => m.contacts().map(|_| ()),
        "ruri" => m.ruri().map(|_| ()),
        "credentials" => m.credentials(HeaderName::Authorization).map(|_| ()),
        other => panic!("no accessor {other}"),
    }
}

// ----- the tests -----

#[test]
fn every_good_message_parses_and_every_accessor_is_ok() {
    for (name, bytes) in good() {
        let m = parse(&name, &bytes);
        m.validate()
            .unwrap_or_else(|e| panic!("{name}: validate: {e}"));
        touch_all(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
        invariants(&name, &bytes, &m);
    }
}

#[test]
fn every_good_message_has_its_own_checks() {
    let corpus = good();
    let table = checks();
    let mut names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "a file is listed twice in checks()");
    let files: Vec<&str> = corpus.iter().map(|(n, _)| n.as_str()).collect();
    let unchecked: Vec<&str> = files
        .iter()
        .copied()
        .filter(|f| !names.contains(f))
        .collect();
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !files.contains(n))
        .collect();
    assert!(unchecked.is_empty(), "files without checks: {unchecked:?}");
    assert!(missing.is_empty(), "checks without files: {missing:?}");
    let groups = ["rfc3261/", "rfc3665/", "phones/", "sipp/"];
    for g in groups {
        assert!(files.iter().any(|f| f.starts_with(g)), "no {g} messages");
    }
    let flows = files.iter().filter(|f| f.starts_with("rfc3")).count();
    assert!(flows >= 40, "{flows} RFC flow messages");
    // Run every file's checks, then report every file that failed.
    let mut failed = Vec::new();
    for (name, bytes) in &corpus {
        let m = parse(name, bytes);
        let (_, f) = table.iter().find(|(n, _)| n == name).expect("listed");
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&m))).is_err() {
            failed.push(name.as_str());
        }
    }
    assert!(failed.is_empty(), "checks failed for: {failed:?}");
}

#[test]
fn files_use_crlf_line_endings() {
    for (name, bytes) in corpus() {
        let head_end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(bytes.len());
        for (i, &b) in bytes[..head_end].iter().enumerate() {
            if b == b'\n' {
                assert_eq!(
                    bytes.get(i.wrapping_sub(1)),
                    Some(&b'\r'),
                    "{name}: bare LF at {i}"
                );
            }
        }
    }
}

#[test]
fn stream_parsing_and_framing() {
    let msgs = good();
    for (name, bytes) in &msgs {
        let d = parse(name, bytes);
        let s = SipMsg::parse_with(bytes, Transport::Stream, &Limits::DEFAULT)
            .unwrap_or_else(|e| panic!("{name}: stream: {e}"));
        assert_eq!(s.len(), bytes.len(), "{name}");
        assert_eq!(s.body(), d.body(), "{name}");
        assert_eq!(s.headers(), d.headers(), "{name}");
        touch_all(&s).unwrap_or_else(|e| panic!("{name}: stream: {e}"));
        assert_eq!(
            frame_len(bytes, &Limits::DEFAULT).unwrap(),
            Some((0, bytes.len())),
            "{name}"
        );
        // Keep-alive CRLFs before the message are skipped.
        let mut ka = b"\r\n\r\n".to_vec();
        ka.extend_from_slice(bytes);
        assert_eq!(
            frame_len(&ka, &Limits::DEFAULT).unwrap(),
            Some((4, bytes.len())),
            "{name}"
        );
    }
    // Two messages back to back on one stream: each in turn, both orders.
    for (i, (a_name, a)) in msgs.iter().enumerate() {
        let (b_name, b) = &msgs[(i + 1) % msgs.len()];
        let mut buf = a.clone();
        buf.extend_from_slice(b);
        let (skip, len) = frame_len(&buf, &Limits::DEFAULT)
            .unwrap()
            .expect("first message");
        assert_eq!((skip, len), (0, a.len()), "{a_name} then {b_name}");
        let first = SipMsg::parse_with(&buf[..len], Transport::Stream, &Limits::DEFAULT).unwrap();
        assert_eq!(first.bytes(), &a[..]);
        // A datagram parse of both stops at the first one's Content-Length.
        assert_eq!(SipMsg::parse(&buf).unwrap().len(), a.len());
        let rest = &buf[len..];
        let (skip, len2) = frame_len(rest, &Limits::DEFAULT)
            .unwrap()
            .expect("second message");
        assert_eq!((skip, len2), (0, b.len()), "{a_name} then {b_name}");
        let second =
            SipMsg::parse_with(&rest[..len2], Transport::Stream, &Limits::DEFAULT).unwrap();
        assert_eq!(second.bytes(), &b[..]);
        assert_eq!(frame_len(&rest[len2..], &Limits::DEFAULT).unwrap(), None);
    }
    // The whole corpus as one stream.
    let all: Vec<u8> = msgs.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    let mut pos = 0;
    for (name, bytes) in &msgs {
        let (skip, len) = frame_len(&all[pos..], &Limits::DEFAULT)
            .unwrap()
            .expect(name);
        assert_eq!((skip, len), (0, bytes.len()), "{name}");
        pos += len;
    }
    assert_eq!(pos, all.len());
}

#[test]
fn every_strict_prefix_is_incomplete() {
    for (name, bytes) in good() {
        for cut in 0..bytes.len() {
            let p = &bytes[..cut];
            assert_eq!(
                frame_len(p, &Limits::DEFAULT).unwrap(),
                None,
                "{name} cut at {cut}"
            );
            let Err(e) = SipMsg::parse(p) else {
                panic!("{name} cut at {cut} parses");
            };
            assert!(
                matches!(e.fault, Fault::Truncated | Fault::LengthMismatch),
                "{name} cut at {cut}: {e}"
            );
            let e = SipMsg::parse_with(p, Transport::Stream, &Limits::DEFAULT).unwrap_err();
            assert!(
                matches!(e.fault, Fault::Truncated | Fault::LengthMismatch),
                "{name} cut at {cut}: {e}"
            );
        }
    }
}

/// Checks one entry of [`BAD`].
fn check_bad(
    file: &str,
    stage: Stage,
    what: Where,
    fault: Fault,
    bytes: &[u8],
) -> Result<(), String> {
    let got = match (stage, SipMsg::parse(bytes)) {
        (Stage::Parse, Err(e)) => Ok(e),
        (Stage::Parse, Ok(_)) => Err("it parsed".to_string()),
        (_, Err(e)) => Err(format!("parse failed first: {e:?}")),
        (Stage::Validate, Ok(m)) => match m.validate() {
            Err(e) => Ok(e),
            Ok(()) => Err("it validated".to_string()),
        },
        (Stage::Access(a), Ok(m)) => match access(&m, a) {
            Err(e) => {
                // validate() looks at these too, and must say the same.
                if ["from", "vias", "cseq", "call_id", "ruri"].contains(&a)
                    && m.validate() != Err(e)
                {
                    return Err(format!(
                        "{a}() gave {e:?} but validate() {:?}",
                        m.validate()
                    ));
                }
                Ok(e)
            }
            Ok(()) => Err(format!("{a}() accepted it")),
        },
    };
    match got {
        Ok(e) if (e.what, e.fault) == (what, fault) => {
            assert!(!e.reason().is_empty() && !e.to_string().is_empty());
            Ok(())
        }
        Ok(e) => Err(format!(
            "bad/{file}: expected {what:?}/{fault:?} at {stage:?}, got {:?}/{:?} (at byte {})",
            e.what, e.fault, e.at
        )),
        Err(why) => Err(format!(
            "bad/{file}: expected {what:?}/{fault:?} at {stage:?}, but {why}"
        )),
    }
}

fn check_bad_files() {
    let corpus = corpus();
    let listed: Vec<&str> = BAD.iter().map(|(n, ..)| *n).collect();
    for n in corpus.keys().filter_map(|n| n.strip_prefix("bad/")) {
        assert!(listed.contains(&n), "bad/{n} has no expected error in BAD");
    }
    let mut failures = Vec::new();
    for &(file, stage, what, fault) in BAD {
        let bytes = corpus
            .get(&format!("bad/{file}"))
            .unwrap_or_else(|| panic!("bad/{file}.sip is missing"));
        if let Err(e) = check_bad(file, stage, what, fault, bytes) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_messages_fail_where_expected() {
    check_bad_files();
}

/// A request whose header block ends with `extra` header lines.
fn options_with(extra: &str, body: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:t@example.com SIP/2.0\r\n\
         Via: SIP/2.0/TCP 192.0.2.9:5060;branch=z9hG4bK-framing\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:a@example.com>;tag=f1\r\n\
         To: <sip:t@example.com>\r\n\
         Call-ID: framing@192.0.2.9\r\n\
         CSeq: 1 OPTIONS\r\n\
         {extra}\r\n{body}"
    )
    .into_bytes()
}

/// ` l: 9` folded into a Subject is part of the Subject, not a
/// Content-Length: `frame_len` and `parse` must agree on where the first
/// message of a stream ends, or a reader would swallow the next one.
#[test]
fn frame_len_ignores_continuation_lines() {
    let first = options_with("Content-Length: 0\r\nSubject: folded\r\n l: 9\r\n", "");
    let m = SipMsg::parse_with(&first, Transport::Stream, &Limits::DEFAULT).unwrap();
    assert_eq!((m.len(), m.content_length()), (first.len(), Some(0)));
    assert_eq!(m.value(HeaderName::Subject), Some(&b"folded\r\n l: 9"[..]));
    let second = &corpus()["sipp/uac_bye"];
    let mut stream = first.clone();
    stream.extend_from_slice(second);
    assert_eq!(
        frame_len(&stream, &Limits::DEFAULT).unwrap(),
        Some((0, first.len())),
        "frame_len and parse disagree on where the first message ends"
    );
}

/// `Content-Length:` CRLF SP `4` is legal folding (HCOLON then LWS).
#[test]
fn folded_content_length() {
    let msg = options_with(
        "Content-Type: text/plain\r\nContent-Length:\r\n 4\r\n",
        "abcd",
    );
    let m = SipMsg::parse(&msg).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!((m.body(), m.content_length()), (&b"abcd"[..], Some(4)));
    let s = SipMsg::parse_with(&msg, Transport::Stream, &Limits::DEFAULT).unwrap();
    assert_eq!(s.len(), msg.len());
    assert_eq!(
        frame_len(&msg, &Limits::DEFAULT).unwrap(),
        Some((0, msg.len()))
    );
}

#[test]
fn bad_messages_never_panic() {
    for (name, bytes) in corpus() {
        // Every accessor, both transports, framing, and every prefix.
        if let Ok(m) = SipMsg::parse(&bytes) {
            let _ = touch_all(&m);
            let _ = m.validate();
            let _ = m.sdp();
        }
        if let Ok(m) = SipMsg::parse_with(&bytes, Transport::Stream, &Limits::DEFAULT) {
            let _ = touch_all(&m);
        }
        let _ = frame_len(&bytes, &Limits::DEFAULT);
        if is_bad(&name) {
            for cut in 0..bytes.len().min(2048) {
                if let Ok(m) = SipMsg::parse(&bytes[..cut]) {
                    let _ = touch_all(&m);
                }
            }
        }
    }
}

#[test]
fn builder_without_edits_reproduces_every_message() {
    for (name, bytes) in good() {
        let m = parse(&name, &bytes);
        let mut out = Vec::new();
        Edits::new()
            .build(&m, &mut out)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(out == bytes, "{name}: output differs from input");
        // Bytes past the body of a datagram are dropped.
        let mut junk = bytes.clone();
        junk.extend_from_slice(b"\r\n\r\ntrailing datagram bytes");
        let mj = parse(&name, &junk);
        assert_eq!(mj.len(), bytes.len());
        let mut out = Vec::new();
        Edits::new().build(&mj, &mut out).unwrap();
        assert!(out == bytes, "{name}: trailing bytes copied");
    }
}

const NEW_VIA: &[u8] = b"SIP/2.0/UDP edge.corpus.example:5070;branch=z9hG4bK-corpus-e1;rport";
const NEW_RR: &[u8] = b"<sip:edge.corpus.example:5070;lr;ftag=corpus>";
const NEW_RURI: &[u8] = b"sip:rewritten@192.0.2.200:5080;transport=tcp";

/// `(name, value)` of every header, for comparing header blocks.
fn header_pairs<'a>(m: &SipMsg<'a>) -> Vec<(&'a [u8], &'a [u8])> {
    m.headers()
        .iter()
        .map(|h| (m.name_of(h), m.value_of(h)))
        .collect()
}

#[test]
fn builder_edits_give_parseable_messages() {
    for (name, bytes) in good() {
        let m = parse(&name, &bytes);
        let old_vias: Vec<&[u8]> = vias(&m).iter().map(|v| v.raw).collect();
        let mut e = Edits::new();
        let mut out = Vec::new();
        if m.is_request() {
            e.push_via(&m, NEW_VIA).unwrap();
            e.add_record_route(&m, NEW_RR).unwrap();
            e.set_ruri(&m, NEW_RURI).unwrap();
            e.build(&m, &mut out)
                .unwrap_or_else(|err| panic!("{name}: {err:?}"));
            let n = SipMsg::parse(&out).unwrap_or_else(|err| panic!("{name}: {err}"));
            n.validate().unwrap_or_else(|err| panic!("{name}: {err}"));
            touch_all(&n).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(n.ruri_bytes(), Some(NEW_RURI), "{name}");
            assert_eq!(n.ruri().unwrap().port(), Some(5080));
            let nv = vias(&n);
            assert_eq!(nv.len(), old_vias.len() + 1, "{name}");
            assert_eq!(nv[0].raw, NEW_VIA);
            assert_eq!(nv[0].host.to_string(), "edge.corpus.example");
            assert_eq!(nv[0].rport(), Some(None));
            let rest: Vec<&[u8]> = nv[1..].iter().map(|v| v.raw).collect();
            assert_eq!(rest, old_vias, "{name}");
            let rr = n.record_routes().unwrap();
            assert_eq!(rr.len(), m.record_routes().unwrap().len() + 1, "{name}");
            assert_eq!(host_of(&rr[0].uri), "edge.corpus.example");
            assert!(rr[0].uri.lr());
            // Everything else is untouched.
            let mut new_pairs = header_pairs(&n);
            new_pairs.retain(|(k, v)| {
                !((*k == b"Via" && *v == NEW_VIA) || (*k == b"Record-Route" && *v == NEW_RR))
            });
            assert_eq!(new_pairs, header_pairs(&m), "{name}");
            assert_eq!(
                out.len(),
                bytes.len() + NEW_VIA.len() + NEW_RR.len() + 23 - m.ruri_bytes().unwrap().len()
                    + NEW_RURI.len()
            );
        } else {
            let two = old_vias.len() >= 2;
            if two {
                e.remove_top_via(&m).unwrap();
            }
            e.add_header(&m, b"X-Corpus", b"edited").unwrap();
            e.build(&m, &mut out)
                .unwrap_or_else(|err| panic!("{name}: {err:?}"));
            let n = SipMsg::parse(&out).unwrap_or_else(|err| panic!("{name}: {err}"));
            n.validate().unwrap_or_else(|err| panic!("{name}: {err}"));
            touch_all(&n).unwrap_or_else(|err| panic!("{name}: {err}"));
            let nv: Vec<&[u8]> = vias(&n).iter().map(|v| v.raw).collect();
            let want = if two { &old_vias[1..] } else { &old_vias[..] };
            assert_eq!(nv, want, "{name}");
            assert_eq!(n.value_by_name(b"x-corpus"), Some(&b"edited"[..]), "{name}");
            assert_eq!(n.status(), m.status());
        }
        let n = SipMsg::parse(&out).unwrap();
        assert_eq!(n.body(), m.body(), "{name}");
        assert_eq!(n.content_length(), m.content_length(), "{name}");
        assert_eq!(n.len(), out.len(), "{name}");
        assert_eq!(
            frame_len(&out, &Limits::DEFAULT).unwrap(),
            Some((0, out.len())),
            "{name}"
        );
    }
}

#[test]
fn builder_body_replacement_rewrites_content_length() {
    let new_body: &[u8] = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
    for (name, bytes) in good() {
        let m = parse(&name, &bytes);
        let mut e = Edits::new();
        e.replace_body(new_body).unwrap();
        let mut out = Vec::new();
        e.build(&m, &mut out)
            .unwrap_or_else(|err| panic!("{name}: {err:?}"));
        let n = SipMsg::parse(&out).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(n.body(), new_body, "{name}");
        assert_eq!(n.content_length(), Some(new_body.len() as u32), "{name}");
        assert_eq!(n.headers().len(), m.headers().len(), "{name}");
        assert_eq!(
            n.header(HeaderName::ContentLength).map(|h| n.name_of(h)),
            m.header(HeaderName::ContentLength).map(|h| m.name_of(h)),
            "{name}: the Content-Length header keeps its written name"
        );
        assert_eq!(n.len(), out.len());
        touch_all(&n).unwrap_or_else(|err| panic!("{name}: {err}"));
        let s = n.sdp().unwrap();
        assert_eq!(s.media[0].port, 40000);
    }
}
