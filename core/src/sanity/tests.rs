//! Each check against a malformed request, the reply it earns, and the
//! script function's return codes through the real VM.

use super::*;
use crate::script::testkit;

const GOOD: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
    Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-1\r\n\
    Max-Forwards: 70\r\n\
    From: \"A\" <sip:alice@atlanta.example>;tag=f1\r\n\
    To: <sip:bob@example.com>\r\n\
    Call-ID: c1@x\r\n\
    CSeq: 1 INVITE\r\n\
    Contact: <sip:alice@203.0.113.5>\r\n\
    Expires: 60\r\n\
    Content-Length: 0\r\n\r\n";

/// `GOOD` with `from` replaced by `to` (which must be found).
fn with(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    GOOD.replacen(from, to, 1)
}

fn run_check(text: &str, checks: u32, uri_checks: u32) -> Result<(), Failure> {
    run_check_with(text, checks, uri_checks, &Params::default(), Proto::Udp)
}

fn run_check_with(
    text: &str,
    checks: u32,
    uri_checks: u32,
    params: &Params,
    proto: Proto,
) -> Result<(), Failure> {
    let m = SipMsg::parse(text.as_bytes()).expect("the test message indexes");
    check(&m, proto, checks, uri_checks, params)
}

/// The reply (code, reason) of a failed check.
fn reply(text: &str, checks: u32) -> (u32, u16, &'static str) {
    match run_check(text, checks, DEFAULT_URI_CHECKS) {
        Err(f) => (f.check, f.code, f.reason),
        Ok(()) => panic!("check {checks} passed on:\n{text}"),
    }
}

#[test]
fn a_good_request_passes_every_check() {
    assert_eq!(run_check(GOOD, ALL_CHECKS, 15), Ok(()));
    // A reply is never judged.
    let r = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nCSeq: x\r\n\r\n";
    assert_eq!(run_check(r, ALL_CHECKS, 15), Ok(()));
}

#[test]
fn bit_1_ruri_version() {
    // The parser refuses any version but SIP/2.0 (in any case): what
    // reaches the check is the case variant, whose version is 2.0.
    let lower = with("SIP/2.0\r\nVia", "sip/2.0\r\nVia");
    assert_eq!(run_check(&lower, RURI_SIP_VERSION, 0), Ok(()));
    assert_eq!(run_check(GOOD, RURI_SIP_VERSION, 0), Ok(()));
    // Versions the parser lets through but the check would refuse cannot
    // be built; the splitting is checked on its own.
    let m = SipMsg::parse(GOOD.as_bytes()).unwrap();
    assert_eq!(request_version(&m), b"SIP/2.0");
}

#[test]
fn bit_2_ruri_scheme() {
    let m = with("sip:bob@example.com SIP", "mailto:bob@example.com SIP");
    assert_eq!(
        reply(&m, RURI_SCHEME),
        (2, 416, "Unsupported URI Scheme in Request URI")
    );
    let m = with("sip:bob@example.com SIP", "sip:bob@exa%mple.com SIP");
    assert_eq!(reply(&m, RURI_SCHEME), (2, 400, "Bad Request URI"));
    let m = with("sip:bob@example.com SIP", "tel:+15551234 SIP");
    assert_eq!(run_check(&m, RURI_SCHEME, 0), Ok(()));
}

#[test]
fn bit_4_required_headers() {
    for h in [
        "Call-ID: c1@x\r\n",
        "CSeq: 1 INVITE\r\n",
        "To: <sip:bob@example.com>\r\n",
        "From: \"A\" <sip:alice@atlanta.example>;tag=f1\r\n",
        "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-1\r\n",
    ] {
        let m = with(h, "");
        assert_eq!(
            reply(&m, REQUIRED_HEADERS),
            (4, 400, "Missing Required Header in Request"),
            "{h}"
        );
    }
    // The compact forms count.
    let m = with("Call-ID: c1@x", "i: c1@x");
    assert_eq!(run_check(&m, REQUIRED_HEADERS, 0), Ok(()));
}

#[test]
fn bit_8_via_version() {
    let m = with("Via: SIP/2.0/UDP", "Via: SIP/3.0/UDP");
    assert_eq!(
        reply(&m, VIA_SIP_VERSION),
        (8, 505, "Version Not Supported (Via)")
    );
    let m = with("Via: SIP/2.0/UDP", "Via: SIP / 2.0 / UDP");
    assert_eq!(run_check(&m, VIA_SIP_VERSION, 0), Ok(()));
    let m = with("Via: SIP/2.0/UDP", "Via: garbage");
    assert_eq!(reply(&m, VIA_SIP_VERSION), (8, 400, "Malformed Via header"));
}

#[test]
fn bit_16_via_protocol() {
    let m = with("Via: SIP/2.0/UDP", "Via: SIP/2.0/TCP");
    assert_eq!(
        reply(&m, VIA_PROTOCOL),
        (16, 400, "Transport Mismatch in Topmost Via")
    );
    let p = Params::default();
    assert_eq!(run_check_with(&m, VIA_PROTOCOL, 0, &p, Proto::Tcp), Ok(()));
    let m = with("Via: SIP/2.0/UDP", "Via: SIP/2.0/U@P");
    assert_eq!(
        reply(&m, VIA_PROTOCOL),
        (16, 400, "Unsupported Transport in Topmost Via")
    );
}

#[test]
fn bit_32_cseq_method() {
    let m = with("CSeq: 1 INVITE", "CSeq: 1 BYE");
    assert_eq!(
        reply(&m, CSEQ_METHOD),
        (32, 400, "CSeq method does not match request method")
    );
    // Compared as written, as Kamailio does.
    let m = with("CSeq: 1 INVITE", "CSeq: 1 invite");
    assert_eq!(reply(&m, CSEQ_METHOD).1, 400);
    let m = with("CSeq: 1 INVITE", "CSeq: 1");
    assert_eq!(
        reply(&m, CSEQ_METHOD),
        (32, 400, "Missing method in CSeq header")
    );
    let m = with("CSeq: 1 INVITE\r\n", "");
    assert_eq!(reply(&m, CSEQ_METHOD), (32, 400, "Missing CSeq header"));
}

#[test]
fn bit_64_cseq_value() {
    for bad in [
        "CSeq: x1 INVITE",
        "CSeq: -1 INVITE",
        "CSeq: 4294967296 INVITE",
    ] {
        let m = with("CSeq: 1 INVITE", bad);
        assert_eq!(
            reply(&m, CSEQ_VALUE),
            (64, 400, "CSeq number is illegal"),
            "{bad}"
        );
    }
    let m = with("CSeq: 1 INVITE", "CSeq: INVITE");
    assert_eq!(
        reply(&m, CSEQ_VALUE),
        (64, 400, "Missing number in CSeq header")
    );
    let m = with("CSeq: 1 INVITE", "CSeq: 2147483647 INVITE");
    assert_eq!(run_check(&m, CSEQ_VALUE, 0), Ok(()));
}

#[test]
fn bit_128_content_length() {
    // Bytes after the body the Content-Length announces.
    let m = format!("{GOOD}garbage");
    assert_eq!(
        reply(&m, CONTENT_LENGTH),
        (128, 400, "Content-Length mis-match")
    );
    // No Content-Length: nothing to compare (a datagram's body is the rest).
    let m = format!("{}hello", with("Content-Length: 0\r\n", ""));
    assert_eq!(run_check(&m, CONTENT_LENGTH, 0), Ok(()));
}

#[test]
fn bit_256_expires() {
    let m = with("Expires: 60", "Expires: soon");
    assert_eq!(
        reply(&m, EXPIRES_VALUE),
        (256, 400, "Expires value is illegal")
    );
    let m = with("Expires: 60", "Expires: 99999999999");
    assert_eq!(reply(&m, EXPIRES_VALUE).2, "Expires value is illegal");
    let m = with("Expires: 60", "Expires:");
    assert_eq!(
        reply(&m, EXPIRES_VALUE),
        (256, 400, "Missing number in Expires header")
    );
    let m = with("Expires: 60\r\n", "");
    assert_eq!(run_check(&m, EXPIRES_VALUE, 0), Ok(()));
}

#[test]
fn bit_512_proxy_require() {
    let m = with("Expires: 60\r\n", "Proxy-Require: foo, bar\r\n");
    let Err(f) = run_check(&m, PROXY_REQUIRE, 0) else {
        panic!("passed");
    };
    assert_eq!((f.check, f.code, f.reason), (512, 420, "Bad Extension"));
    assert_eq!(f.headers, b"Unsupported: foo\r\n");
    let p = Params {
        proxy_require: split_list(b" foo ,bar"),
        ..Params::default()
    };
    assert_eq!(run_check_with(&m, PROXY_REQUIRE, 0, &p, Proto::Udp), Ok(()));
    let p = Params {
        proxy_require: split_list(b"foo"),
        ..Params::default()
    };
    let Err(f) = run_check_with(&m, PROXY_REQUIRE, 0, &p, Proto::Udp) else {
        panic!("passed");
    };
    assert_eq!(f.headers, b"Unsupported: bar\r\n");
}

#[test]
fn bit_1024_parse_uris() {
    let bad_ruri = with("sip:bob@example.com SIP", "sip:bob@exa%mple.com SIP");
    let r = run_check(&bad_ruri, PARSE_URIS, URI_RURI);
    assert_eq!(r.map_err(|f| f.reason), Err("Bad Request URI"));
    // The R-URI is not looked at when uri_checks leaves it out.
    assert_eq!(run_check(&bad_ruri, PARSE_URIS, URI_FROM), Ok(()));

    let bad_from = with("<sip:alice@atlanta.example>", "<sip:alice@atl%anta>");
    let r = run_check(&bad_from, PARSE_URIS, URI_FROM);
    assert_eq!(
        r.map_err(|f| (f.code, f.reason)),
        Err((400, "Bad From URI"))
    );
    let no_from = with("From: \"A\" <sip:alice@atlanta.example>;tag=f1\r\n", "");
    let r = run_check(&no_from, PARSE_URIS, URI_FROM);
    assert_eq!(r.map_err(|f| f.reason), Err("Missing From Header"));

    let bad_to = with("To: <sip:bob@example.com>", "To: <sip:bob@>");
    let r = run_check(&bad_to, PARSE_URIS, URI_TO);
    assert_eq!(r.map_err(|f| f.reason), Err("Bad To URI"));
    let no_to = with("To: <sip:bob@example.com>\r\n", "");
    let r = run_check(&no_to, PARSE_URIS, URI_TO);
    assert_eq!(r.map_err(|f| f.reason), Err("Missing To Header"));

    let bad_contact = with("Contact: <sip:alice@203.0.113.5>", "Contact: <sip:@>");
    let r = run_check(&bad_contact, PARSE_URIS, URI_CONTACT);
    assert!(matches!(r, Err(f) if f.reason.starts_with("Bad Contact")));
    let no_contact = with("Contact: <sip:alice@203.0.113.5>\r\n", "");
    assert_eq!(run_check(&no_contact, PARSE_URIS, URI_CONTACT), Ok(()));
}

#[test]
fn bit_2048_digest() {
    let good = "Authorization: Digest username=\"alice\", realm=\"a\", nonce=\"n\", \
                uri=\"sip:a\", response=\"0123\"\r\n";
    let m = with("Expires: 60\r\n", good);
    assert_eq!(run_check(&m, DIGEST, 0), Ok(()));
    let no_nonce = "Proxy-Authorization: Digest username=\"alice\", realm=\"a\", \
                    uri=\"sip:a\", response=\"0123\"\r\n";
    let m = with("Expires: 60\r\n", no_nonce);
    assert_eq!(reply(&m, DIGEST), (2048, 400, "Bad Credentials"));
    let empty_user = good.replace("username=\"alice\"", "username=\"\"");
    let m = with("Expires: 60\r\n", &empty_user);
    assert_eq!(reply(&m, DIGEST).0, 2048);
    // Another scheme is not judged.
    let m = with("Expires: 60\r\n", "Authorization: Basic YTpi\r\n");
    assert_eq!(run_check(&m, DIGEST, 0), Ok(()));
}

#[test]
fn bit_4096_duplicate_tags() {
    let m = with(";tag=f1", ";tag=f1;tag=f2");
    assert_eq!(reply(&m, DUPLICATE_TAGS), (4096, 400, "Duplicate tag"));
}

#[test]
fn checks_run_in_bit_order_and_stop_at_the_first() {
    let m = with("CSeq: 1 INVITE", "CSeq: x BYE");
    assert_eq!(reply(&m, CSEQ_METHOD | CSEQ_VALUE).0, CSEQ_METHOD);
    // Kamailio 3.1's default config asks for 1511: the CSeq checks are in.
    assert_eq!(reply(&m, 1511).0, CSEQ_METHOD);
    // Proxy-Require (512) is not.
    let m = with("Expires: 60\r\n", "Proxy-Require: foo\r\n");
    assert_eq!(run_check(&m, 1511, 7), Ok(()));
}

#[test]
fn params_from_the_config() {
    let text = "#!KAMAILIO\nloadmodule \"sanity.so\"\n\
        modparam(\"sanity\", \"default_checks\", 1)\n\
        modparam(\"sanity\", \"uri_checks\", 3)\n\
        modparam(\"sanity\", \"proxy_require\", \"foo, bar\")\n\
        modparam(\"sanity\", \"autodrop\", 0)\n\
        route { sanity_check(); }\n";
    let parsed = ser_cfg::parse_str("t.cfg", text, &[]).unwrap();
    let program = ser_cfg::compile::compile(&parsed).unwrap();
    let p = Params::from_program(&program);
    assert_eq!(
        p,
        Params {
            default_checks: 1,
            uri_checks: 3,
            proxy_require: vec![b"foo".to_vec(), b"bar".to_vec()],
            autodrop: false,
        }
    );
    assert_eq!(Params::default().default_checks, 999);
}

/// Runs `body` as the main route of a Kamailio config over `msg`: the
/// return code, whether the script was stopped, the reply asked for and
/// the reply header lines.
fn run_script(params: &str, body: &str, msg: &str) -> (i32, Vec<(u16, String)>, String) {
    let text = format!("#!KAMAILIO\nloadmodule \"sanity.so\"\n{params}\nroute {{\n{body}\n}}\n");
    testkit::run(
        &text,
        msg,
        |_, _| {},
        |ran, ctx, _| {
            let replies = ctx
                .actions
                .iter()
                .filter_map(|a| match a {
                    Action::Reply { code, reason } => {
                        Some((*code, String::from_utf8_lossy(reason).into_owned()))
                    }
                    _ => None,
                })
                .collect();
            let headers = String::from_utf8_lossy(&ctx.reply_headers).into_owned();
            (ran.ret, replies, headers)
        },
    )
}

#[test]
fn the_function_replies_and_stops_or_returns_false() {
    let bad = with("CSeq: 1 INVITE", "CSeq: 1 BYE");
    // autodrop (default): the script stops at the failed check.
    let (ret, replies, _) = run_script(
        "",
        "if (!sanity_check(\"1511\", \"7\")) { return(5); } return(7);",
        &bad,
    );
    assert_eq!(ret, 0);
    assert_eq!(
        replies,
        vec![(400, "CSeq method does not match request method".to_string())]
    );
    // autodrop off: false, and the script goes on.
    let (ret, replies, _) = run_script(
        "modparam(\"sanity\", \"autodrop\", 0)",
        "if (!sanity_check(\"1511\", \"7\")) { return(5); } return(7);",
        &bad,
    );
    assert_eq!(ret, 5);
    assert_eq!(replies.len(), 1);
    // A good request: true, no reply.
    let (ret, replies, _) = run_script(
        "",
        "if (!sanity_check(\"1511\", \"7\")) { return(5); } return(7);",
        GOOD,
    );
    assert_eq!((ret, replies.len()), (7, 0));
    // default_checks and the 420's Unsupported header.
    let pr = with("Expires: 60\r\n", "Proxy-Require: x-foo\r\n");
    let (ret, replies, headers) = run_script(
        "modparam(\"sanity\", \"default_checks\", 512)",
        "sanity_check(); return(7);",
        &pr,
    );
    assert_eq!(ret, 0);
    assert_eq!(replies, vec![(420, "Bad Extension".to_string())]);
    assert_eq!(headers, "Unsupported: x-foo\r\n");
    // An ACK fails without a reply.
    let ack = with("INVITE sip", "ACK sip").replace("CSeq: 1 INVITE", "CSeq: 1 BYE");
    let (ret, replies, _) = run_script("", "sanity_check(\"32\"); return(7);", &ack);
    assert_eq!((ret, replies.len()), (0, 0));
}
