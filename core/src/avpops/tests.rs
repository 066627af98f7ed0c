//! avpops through the real VM: SER 0.9 configs compiled from text, real
//! parsed messages; the helpers (names, checks, fast match) directly.

use std::net::SocketAddr;

use super::*;
use crate::script::{Config, LogSink, Outcome, Proto, Registry, Script};
use crate::sip::SipMsg;

const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
    Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-1\r\n\
    Max-Forwards: 70\r\n\
    From: \"A\" <sip:alice@atlanta.example>;tag=f1\r\n\
    To: <sip:bob@example.com>\r\n\
    Call-ID: c1@x\r\n\
    CSeq: 1 INVITE\r\n\
    Content-Length: 0\r\n\r\n";

/// Runs `body` as the main route of a SER 0.9 config; the return code,
/// the new R-URI and the AVP count.
fn run(body: &str) -> (i32, Option<String>, usize) {
    let text = format!("loadmodule \"avpops.so\"\nroute {{\n{body}\n}}\n");
    let parsed = ser_cfg::parse_str("test.cfg", &text, &[]).unwrap();
    let program = ser_cfg::compile::compile(&parsed).unwrap();
    let config = Config::from_program(&program);
    let script = Script::load(program, &Registry::builtin()).unwrap();
    let m = SipMsg::parse(INVITE.as_bytes()).unwrap();
    let src: SocketAddr = "203.0.113.5:5060".parse().unwrap();
    let dst: SocketAddr = "192.0.2.1:5060".parse().unwrap();
    let mut ctx = MsgCtx::new(&m, &config, src, dst, Proto::Udp);
    ctx.log = LogSink::Capture(Vec::new());
    let ret = match script.run_main(&mut ctx) {
        Outcome::Finished { ret, .. } => ret,
        Outcome::Suspended(_) => panic!("suspended"),
    };
    let uri = ctx
        .new_uri
        .as_ref()
        .map(|u| String::from_utf8_lossy(u).into_owned());
    (ret, uri, ctx.avps.len())
}

#[test]
fn write_check_delete() {
    // Each check that holds adds its bit to the return value.
    let (ret, _, n) = run("avp_write(\"i:45\", \"inv_timeout\");\n\
         avp_write(\"$ruri/username\", \"s:u\");\n\
         avp_write(\"$from\", \"s:f\");\n\
         avp_write(\"$src_ip\", \"i:7\");\n\
         avp_write(\"s:Hello\", \"s:h\");\n\
         if (avp_check(\"inv_timeout\", \"eq/i:45\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"s:u\", \"eq/BOB/i\")) { avp_write(\"x\", \"bits\"); };\n\
         if (!avp_check(\"s:u\", \"eq/BOB\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"s:f\", \"eq/$from\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"i:7\", \"eq/203.0.113.5\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"s:h\", \"re/^hel+o$/i\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"s:f\", \"fm/sip:*@atlanta.*\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"inv_timeout\", \"gt/i:9\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"inv_timeout\", \"and/i:4\")) { avp_write(\"x\", \"bits\"); };\n\
         if (!avp_check(\"nothing\", \"eq/x\")) { avp_write(\"x\", \"bits\"); };\n\
         avp_delete(\"s:f\");\n\
         if (!avp_check(\"s:f\", \"fm/*\")) { avp_write(\"x\", \"bits\"); };\n\
         return(1);");
    // 5 written, 11 checks held, one deleted.
    assert_eq!(n, 5 + 11 - 1);
    assert_eq!(ret, 1);
}

#[test]
fn pushto_ruri_and_parts() {
    let (_, uri, _) = run("avp_write(\"sip:carol@chicago.example\", \"s:fwd\");\n\
         avp_pushto(\"$ruri\", \"s:fwd\");");
    assert_eq!(uri.as_deref(), Some("sip:carol@chicago.example"));
    let (_, uri, _) = run("avp_write(\"dave\", \"s:u\");\n\
         avp_write(\"host.example\", \"s:h\");\n\
         avp_pushto(\"$ruri/username\", \"s:u\");\n\
         avp_pushto(\"$ruri/domain\", \"s:h\");");
    assert_eq!(uri.as_deref(), Some("sip:dave@host.example"));
    // A missing AVP: false, the URI unchanged.
    let (ret, uri, _) = run("if (avp_pushto(\"$ruri\", \"s:none\")) { return(1); }; return(-2);");
    assert_eq!((ret, uri), (-2, None));
}

#[test]
fn helpers() {
    assert_eq!(parse_name(b"i:45"), Some(AvpName::Int(45)));
    assert_eq!(parse_name(b"s:x"), Some(AvpName::Str(b"x"[..].into())));
    assert_eq!(parse_name(b"x"), Some(AvpName::Str(b"x"[..].into())));
    assert_eq!(parse_name(b"$avp(i:45)"), Some(AvpName::Int(45)));
    assert_eq!(parse_name(b"$avp(s:x"), None);
    assert_eq!(parse_name(b"i:zz"), None);
    assert_eq!(parse_name(b"s:"), None);
    assert_eq!(
        parse_check("eq/$ruri/i"),
        Some((Op::Eq, "$ruri", true, false))
    );
    assert_eq!(parse_check("re/a/b/g"), Some((Op::Re, "a/b", false, true)));
    assert_eq!(parse_check("re/a/b"), Some((Op::Re, "a/b", false, false)));
    assert_eq!(parse_check("zz/1"), None);
    assert!(fast_match(b"*@ex?mple.*", b"bob@example.com", false));
    assert!(!fast_match(b"*@ex?mple", b"bob@example.com", false));
    assert!(fast_match(b"BOB*", b"bob@x", true));
    assert!(fast_match(b"", b"", false));
    assert!(!fast_match(b"", b"a", false));
    assert_eq!(
        parse_uri_source("$ruri/username"),
        Some((UriSrc::Ruri, Part::User))
    );
    assert_eq!(parse_uri_source("$to"), Some((UriSrc::To, Part::Uri)));
    assert_eq!(parse_uri_source("$to/nope"), None);
}
