//! Behaviour tests of the stateless core: real messages, real scripts
//! compiled from ser.cfg text and run by the VM, exact bytes out.

use core::net::SocketAddr;

use crate::script::{Config, LogSink, MsgCtx, Outcome, Proto, Registry, Script};
use crate::sip::{SipMsg, Via};

use super::*;

// ----- fixtures -----

const SECRET: u64 = 0x1234_5678_9abc_def0;

fn local() -> Local {
    Local {
        sockets: vec![
            LocalSocket::new("192.0.2.1:5060".parse().unwrap()),
            LocalSocket::new("[2001:db8::1]:5060".parse().unwrap()),
        ],
        sip_warning: false,
        server_signature: true,
        secret: SECRET,
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// An INVITE from a UA at 198.51.100.7:5062 (seen from 203.0.113.5:40000
/// unless a test says otherwise).
const INVITE: &str = "INVITE sip:bob@192.0.2.99 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@atlanta.example.org>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.org\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@198.51.100.7:5062>\r\n\
Content-Length: 0\r\n\
\r\n";

fn with_via(msg: &str, via: &str) -> String {
    msg.replace(
        "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds",
        &format!("Via: {via}"),
    )
}

/// The CANCEL of [`INVITE`] (same top Via, RFC 3261 9.1).
fn cancel_of(invite: &str) -> String {
    invite
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("CSeq: 314159 INVITE", "CSeq: 314159 CANCEL")
        .replace("Contact: <sip:alice@198.51.100.7:5062>\r\n", "")
}

/// The ACK of a non-2xx reply to [`INVITE`] (same top Via, To with the
/// reply's tag, RFC 3261 17.1.1.3).
fn ack_of(invite: &str) -> String {
    invite
        .replacen("INVITE sip:", "ACK sip:", 1)
        .replace("CSeq: 314159 INVITE", "CSeq: 314159 ACK")
        .replace(
            "To: Bob <sip:bob@example.com>",
            "To: Bob <sip:bob@example.com>;tag=8321234356",
        )
}

fn compile(cfg: &str) -> Script {
    let parsed = ser_cfg::parse_str("test.cfg", cfg, &[]).unwrap();
    let program = ser_cfg::compile::compile(&parsed).unwrap();
    Script::load(program, &Registry::builtin()).unwrap()
}

const MODULES: &str =
    "#!KAMAILIO\nloadmodule \"sl.so\"\nloadmodule \"maxfwd.so\"\nloadmodule \"xlog.so\"\n";

/// What one run produced.
struct Run {
    sends: Vec<Send>,
    fin: Finish,
    logs: Vec<String>,
    ret: i32,
}

impl Run {
    fn only(&self) -> &Send {
        assert_eq!(self.sends.len(), 1, "logs: {:?}", self.logs);
        &self.sends[0]
    }
    fn text(&self) -> String {
        String::from_utf8(self.only().data.clone()).unwrap()
    }
}

/// Runs the main route of `route_body` on `msg` received on socket 0
/// from `src`, then [`finish_request`].
fn run_with(route_body: &str, extra_cfg: &str, msg: &str, src: &str, local: &Local) -> Run {
    let script = compile(&format!(
        "{MODULES}{extra_cfg}\nroute {{\n{route_body}\n}}\n"
    ));
    let mut config = Config::from_program(script.program());
    config.add_myself("192.0.2.1", Some(5060)).unwrap();
    let m = SipMsg::parse(msg.as_bytes()).unwrap();
    let mut ctx = MsgCtx::new(&m, &config, sa(src), sa("192.0.2.1:5060"), Proto::Udp);
    ctx.log = LogSink::Capture(Vec::new());
    let ret = match script.run_main(&mut ctx) {
        Outcome::Finished { ret, .. } => ret,
        Outcome::Suspended(_) => panic!("suspended"),
    };
    let mut sends = Vec::new();
    let fin = finish_request(&mut ctx, 0, local, &mut sends);
    let logs = ctx.log.lines().iter().map(|l| l.text.clone()).collect();
    Run {
        sends,
        fin,
        logs,
        ret,
    }
}

fn run(route_body: &str, msg: &str) -> Run {
    run_with(route_body, "", msg, "203.0.113.5:40000", &local())
}

/// The branch of the top Via of a built message.
fn top_branch(data: &[u8]) -> String {
    let m = SipMsg::parse(data).unwrap();
    let b = m.via1().unwrap().branch().unwrap().to_vec();
    String::from_utf8(b).unwrap()
}

fn via_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("Via:")).collect()
}

const FWD: &str = "forward(\"192.0.2.50\", 5070);";

// ----- forwarding: our Via and its branch -----

#[test]
fn forwarded_request_exact_bytes() {
    let r = run(FWD, INVITE);
    let s = r.only();
    assert_eq!((s.sock, s.dst), (0, sa("192.0.2.50:5070")));
    assert_eq!(
        r.fin,
        Finish {
            replies: 0,
            forwards: 1,
            failures: 0
        }
    );
    let branch = top_branch(&s.data);
    let want = INVITE.replace(
        "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n",
        &format!(
            "Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n\
             Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;received=203.0.113.5\r\n"
        ),
    );
    assert_eq!(r.text(), want);
    // z9hG4bK + 16 hex + "." + 16 hex.
    assert_eq!(branch.len(), 7 + 16 + 1 + 16, "{branch}");
    assert!(branch.starts_with("z9hG4bK"));
    assert_eq!(branch.as_bytes()[23], b'.');
    assert!(
        branch[7..]
            .bytes()
            .all(|b| b == b'.' || b.is_ascii_hexdigit())
    );
}

#[test]
fn branch_is_stable_for_retransmission_cancel_and_ack() {
    let b = |m: &str| top_branch(&run(FWD, m).only().data);
    let invite = b(INVITE);
    assert_eq!(b(INVITE), invite, "retransmission");
    assert_eq!(b(&cancel_of(INVITE)), invite, "CANCEL");
    assert_eq!(b(&ack_of(INVITE)), invite, "ACK of a non-2xx");
    // Another transaction: another branch.
    let other = with_via(INVITE, "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKother1");
    assert_ne!(b(&other), invite);
    // A new CSeq with the same (RFC 2543-style reused) branch is not the
    // same transaction when there is no magic cookie.
    let old = with_via(INVITE, "SIP/2.0/UDP 198.51.100.7:5062;branch=1");
    let old_b = b(&old);
    assert_eq!(b(&cancel_of(&old)), old_b, "RFC 2543 CANCEL");
    assert_eq!(b(&ack_of(&old)), old_b, "RFC 2543 ACK");
    assert_ne!(b(&old.replace("CSeq: 314159", "CSeq: 314160")), old_b);
    // Another secret, another branch.
    let mut l = local();
    l.secret ^= 1;
    let r = run_with(FWD, "", INVITE, "203.0.113.5:40000", &l);
    assert_ne!(top_branch(&r.only().data), invite);
}

// ----- received / rport -----

fn top_two_vias(msg: &str, body: &str, src: &str) -> Vec<String> {
    let r = run_with(body, "", msg, src, &local());
    via_lines(&r.text()).iter().map(|s| s.to_string()).collect()
}

#[test]
fn received_and_rport() {
    // rport without value: set in place, received added.
    let m = with_via(
        INVITE,
        "SIP/2.0/UDP 198.51.100.7:5062;rport;branch=z9hG4bK776asdhds",
    );
    assert_eq!(
        top_two_vias(&m, FWD, "203.0.113.5:40000")[1],
        "Via: SIP/2.0/UDP 198.51.100.7:5062;rport=40000;branch=z9hG4bK776asdhds;received=203.0.113.5"
    );
    // rport even from the address in the Via: received is still added.
    assert_eq!(
        top_two_vias(&m, FWD, "198.51.100.7:5062")[1],
        "Via: SIP/2.0/UDP 198.51.100.7:5062;rport=5062;branch=z9hG4bK776asdhds;received=198.51.100.7"
    );
    // No rport, another address: received only.
    assert_eq!(
        top_two_vias(INVITE, FWD, "203.0.113.5:40000")[1],
        "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;received=203.0.113.5"
    );
    // No rport, same address: untouched.
    assert_eq!(
        top_two_vias(INVITE, FWD, "198.51.100.7:5062")[1],
        "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds"
    );
    // force_rport(): both, appended.
    assert_eq!(
        top_two_vias(
            INVITE,
            &format!("force_rport(); {FWD}"),
            "198.51.100.7:5062"
        )[1],
        "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;received=198.51.100.7;rport=5062"
    );
    // A host name in the sent-by always differs from the source address.
    let m = with_via(
        INVITE,
        "SIP/2.0/UDP pc33.atlanta.example.org;branch=z9hG4bK776asdhds",
    );
    assert_eq!(
        top_two_vias(&m, FWD, "198.51.100.7:5062")[1],
        "Via: SIP/2.0/UDP pc33.atlanta.example.org;branch=z9hG4bK776asdhds;received=198.51.100.7"
    );
    // A received the client wrote is replaced, not doubled; an rport
    // with a value is left alone.
    let m = with_via(
        INVITE,
        "SIP/2.0/UDP 198.51.100.7:5062;received=10.0.0.1;rport=7;branch=z9hG4bK776asdhds",
    );
    assert_eq!(
        top_two_vias(&m, FWD, "203.0.113.5:40000")[1],
        "Via: SIP/2.0/UDP 198.51.100.7:5062;received=203.0.113.5;rport=7;branch=z9hG4bK776asdhds"
    );
    // Two Vias on one line: the first value gets the parameters.
    let m = INVITE.replace(
        "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds",
        "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;rport, SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKx",
    );
    assert_eq!(
        top_two_vias(&m, FWD, "203.0.113.5:40000")[1],
        "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;rport=40000;received=203.0.113.5, SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKx"
    );
}

// ----- destinations -----

#[test]
fn destination_du_new_uri_explicit_and_defaults() {
    // The Request-URI (default port).
    let r = run("forward();", INVITE);
    assert_eq!(r.only().dst, sa("192.0.2.99:5060"));
    // $du wins over the Request-URI, which stays.
    let r = run("$du = \"sip:192.0.2.60:5080\"; forward();", INVITE);
    assert_eq!(r.only().dst, sa("192.0.2.60:5080"));
    assert!(
        r.text()
            .starts_with("INVITE sip:bob@192.0.2.99 SIP/2.0\r\n")
    );
    // A new Request-URI is written and used.
    let r = run("rewritehostport(\"192.0.2.70:5090\"); forward();", INVITE);
    assert_eq!(r.only().dst, sa("192.0.2.70:5090"));
    assert!(
        r.text()
            .starts_with("INVITE sip:bob@192.0.2.70:5090 SIP/2.0\r\n")
    );
    // Explicit host and port win over both; the new URI is still written.
    let r = run(
        "rewritehostport(\"192.0.2.70:5090\"); $du = \"sip:192.0.2.60\"; forward(\"192.0.2.50\", 5070);",
        INVITE,
    );
    assert_eq!(r.only().dst, sa("192.0.2.50:5070"));
    assert!(
        r.text()
            .starts_with("INVITE sip:bob@192.0.2.70:5090 SIP/2.0\r\n")
    );
    // Explicit host, default port; localhost.
    let r = run("forward(\"192.0.2.50\");", INVITE);
    assert_eq!(r.only().dst, sa("192.0.2.50:5060"));
    let r = run("forward(\"localhost\", 5099);", INVITE);
    assert_eq!(r.only().dst, sa("127.0.0.1:5099"));
    // forward(uri:host, uri:port), the SER 0.8 idiom.
    let r = run("forward(uri:host, uri:port);", INVITE);
    assert_eq!(r.only().dst, sa("192.0.2.99:5060"));
}

#[test]
fn ipv6_destination_uses_the_ipv6_socket() {
    let r = run("forward(\"[2001:db8::99]\", 5062);", INVITE);
    let s = r.only();
    assert_eq!((s.sock, s.dst), (1, sa("[2001:db8::99]:5062")));
    let t = r.text();
    assert!(
        via_lines(&t)[0].starts_with("Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK"),
        "{t}"
    );
    // Via a $du with an IPv6 host.
    let r = run("$du = \"sip:[2001:db8::98]:5070\"; forward();", INVITE);
    assert_eq!(
        (r.only().sock, r.only().dst),
        (1, sa("[2001:db8::98]:5070"))
    );
    // No IPv6 socket: a failure, logged.
    let mut l = local();
    l.sockets.truncate(1);
    let r = run_with(
        "forward(\"[2001:db8::99]\");",
        "",
        INVITE,
        "203.0.113.5:40000",
        &l,
    );
    assert!(r.sends.is_empty());
    assert_eq!(r.fin.failures, 1);
    assert!(
        r.logs.iter().any(|l| l.contains("no socket")),
        "{:?}",
        r.logs
    );
}

#[test]
fn names_and_other_transports_fail_without_blocking() {
    let m = INVITE.replace("INVITE sip:bob@192.0.2.99 ", "INVITE sip:bob@example.com ");
    let r = run("forward();", &m);
    assert!(r.sends.is_empty());
    assert_eq!(
        r.fin,
        Finish {
            replies: 0,
            forwards: 0,
            failures: 1
        }
    );
    assert_eq!(
        r.logs,
        vec!["forward: cannot resolve example.com: DNS is not built yet".to_string()]
    );
    let r = run("forward(\"gw.example.net\", 5060);", INVITE);
    assert_eq!(r.fin.failures, 1);
    assert!(r.logs[0].contains("cannot resolve gw.example.net: DNS is not built yet"));
    let r = run("$du = \"sip:192.0.2.60;transport=tcp\"; forward();", INVITE);
    assert_eq!(r.fin.failures, 1);
    assert!(
        r.logs[0].contains("tcp is not supported yet"),
        "{:?}",
        r.logs
    );
    let r = run("forward_tcp(\"192.0.2.60\", 5060);", INVITE);
    assert_eq!(r.fin.failures, 1);
    assert!(r.logs[0].contains("not supported yet"), "{:?}", r.logs);
    let m = INVITE.replace("INVITE sip:bob@192.0.2.99 ", "INVITE sips:bob@192.0.2.99 ");
    let r = run("forward();", &m);
    assert_eq!(r.fin.failures, 1);
    assert!(
        r.logs[0].contains("tls is not supported yet"),
        "{:?}",
        r.logs
    );
}

#[test]
fn stateless_forking_sends_one_copy_per_branch() {
    let r = run(
        "append_branch(\"sip:carol@192.0.2.81\"); append_branch(\"sip:dave@192.0.2.82:5070\"); forward();",
        INVITE,
    );
    assert_eq!(r.fin.forwards, 3, "{:?}", r.logs);
    let dsts: Vec<_> = r.sends.iter().map(|s| s.dst).collect();
    assert_eq!(
        dsts,
        vec![
            sa("192.0.2.99:5060"),
            sa("192.0.2.81:5060"),
            sa("192.0.2.82:5070")
        ]
    );
    let texts: Vec<String> = r
        .sends
        .iter()
        .map(|s| String::from_utf8(s.data.clone()).unwrap())
        .collect();
    assert!(texts[1].starts_with("INVITE sip:carol@192.0.2.81 SIP/2.0\r\n"));
    assert!(texts[2].starts_with("INVITE sip:dave@192.0.2.82:5070 SIP/2.0\r\n"));
    let branches: Vec<_> = r.sends.iter().map(|s| top_branch(&s.data)).collect();
    assert_ne!(branches[0], branches[1]);
    assert_ne!(branches[1], branches[2]);
    // Same loop part in every copy.
    assert_eq!(branches[0][24..], branches[2][24..]);
    // append_branch() consumed the Request-URI: no copy of its own.
    let r = run(
        "append_branch(); append_branch(\"sip:carol@192.0.2.81\"); forward();",
        INVITE,
    );
    assert_eq!(r.sends.len(), 2);
    // An explicit host sends the Request-URI copy only.
    let r = run(
        "append_branch(\"sip:carol@192.0.2.81\"); forward(\"192.0.2.50\");",
        INVITE,
    );
    assert_eq!(r.sends.len(), 1);
}

#[test]
fn too_long_fails() {
    let body = "x".repeat(65_535 - INVITE.len() - 8);
    let m = INVITE.replace(
        "Content-Length: 0\r\n\r\n",
        &format!("Content-Length: {}\r\n\r\n{body}", body.len()),
    );
    assert!(m.len() <= 65_535);
    let r = run(FWD, &m);
    assert!(r.sends.is_empty());
    assert_eq!(r.fin.failures, 1);
    assert!(r.logs[0].contains("too long"), "{:?}", r.logs);
}

// ----- loops -----

#[test]
fn loop_gets_482_and_spiral_goes_on() {
    // Forwarded to ourselves, then received again unchanged: a loop.
    let first = run("forward(\"192.0.2.1\", 5060);", INVITE);
    let again = String::from_utf8(first.only().data.clone()).unwrap();
    let r = run_with(
        "forward(\"192.0.2.1\", 5060);",
        "",
        &again,
        "192.0.2.1:5060",
        &local(),
    );
    assert_eq!(
        r.fin,
        Finish {
            replies: 1,
            forwards: 0,
            failures: 0
        }
    );
    let t = r.text();
    assert!(t.starts_with("SIP/2.0 482 Loop Detected\r\n"), "{t}");
    assert_eq!(r.only().dst, sa("192.0.2.1:5060"));
    // A spiral: the Request-URI changed on the first pass.
    let first = run(
        "rewritehost(\"192.0.2.1\"); forward(\"192.0.2.1\", 5060);",
        INVITE,
    );
    let again = String::from_utf8(first.only().data.clone()).unwrap();
    let r = run_with(FWD, "", &again, "192.0.2.1:5060", &local());
    assert_eq!(r.fin.forwards, 1, "{:?}", r.logs);
    assert_eq!(via_lines(&r.text()).len(), 3);
    // A looping ACK is dropped, not answered.
    let first = run("forward(\"192.0.2.1\", 5060);", &ack_of(INVITE));
    let again = String::from_utf8(first.only().data.clone()).unwrap();
    let r = run_with(
        "forward(\"192.0.2.1\", 5060);",
        "",
        &again,
        "192.0.2.1:5060",
        &local(),
    );
    assert!(r.sends.is_empty());
    assert_eq!(r.fin.failures, 1);
}

// ----- replies -----

fn reply_through(first_via: &str, rest: &str) -> String {
    format!(
        "SIP/2.0 180 Ringing\r\n\
Via: {first_via}\r\n{rest}\
To: Bob <sip:bob@example.com>;tag=a6c85cf\r\n\
From: Alice <sip:alice@atlanta.example.org>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.org\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\
\r\n"
    )
}

fn fwd_reply(text: &str) -> (Result<(), Dropped>, Vec<Send>) {
    let m = SipMsg::parse(text.as_bytes()).unwrap();
    let mut config = Config::new();
    config.add_myself("sip.example.com", None).unwrap();
    let mut out = Vec::new();
    let r = forward_reply(
        &m,
        &mut crate::sip::builder::Edits::new(),
        &config,
        &local(),
        0,
        &mut out,
    );
    (r, out)
}

#[test]
fn reply_forwarding() {
    let ours = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKaaaa.bbbb";
    // Ours: removed, sent to received:rport of the second Via.
    let m = reply_through(
        ours,
        "Via: SIP/2.0/UDP 198.51.100.7:5062;rport=40000;branch=z9hG4bK776asdhds;received=203.0.113.5\r\n",
    );
    let (r, out) = fwd_reply(&m);
    assert_eq!(r, Ok(()));
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].sock, out[0].dst), (0, sa("203.0.113.5:40000")));
    let want = m.replace(&format!("Via: {ours}\r\n"), "");
    assert_eq!(String::from_utf8(out[0].data.clone()).unwrap(), want);
    // received without rport: the sent-by port.
    let m = reply_through(
        ours,
        "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;received=203.0.113.5\r\n",
    );
    assert_eq!(fwd_reply(&m).1[0].dst, sa("203.0.113.5:5062"));
    // No received: the sent-by, default port 5060.
    let m = reply_through(
        ours,
        "Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK776asdhds\r\n",
    );
    assert_eq!(fwd_reply(&m).1[0].dst, sa("198.51.100.7:5060"));
    // Both Vias on one line.
    let m = reply_through(
        &format!("{ours}, SIP/2.0/UDP [2001:db8::7]:5062;branch=z9hG4bK1"),
        "",
    );
    let (r, out) = fwd_reply(&m);
    assert_eq!(r, Ok(()));
    assert_eq!((out[0].sock, out[0].dst), (1, sa("[2001:db8::7]:5062")));
    assert!(
        String::from_utf8(out[0].data.clone())
            .unwrap()
            .contains("\r\nVia: SIP/2.0/UDP [2001:db8::7]:5062;branch=z9hG4bK1\r\n")
    );
    // A myself name is ours too.
    let m = reply_through(
        "SIP/2.0/UDP sip.example.com;branch=z9hG4bKx",
        "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n",
    );
    assert_eq!(fwd_reply(&m).0, Ok(()));
}

#[test]
fn replies_not_forwarded() {
    let second = "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n";
    // Not ours (another port, another host).
    for v in [
        "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKx",
        "SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKx",
        "SIP/2.0/UDP other.example.com;branch=z9hG4bKx",
    ] {
        let (r, out) = fwd_reply(&reply_through(v, second));
        assert_eq!(r, Err(Dropped::NotOurVia), "{v}");
        assert!(out.is_empty());
    }
    let ours = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx";
    assert_eq!(
        fwd_reply(&reply_through(ours, "")).0,
        Err(Dropped::NoSecondVia)
    );
    let (r, _) = fwd_reply(&reply_through(
        ours,
        "Via: SIP/2.0/UDP client.example.org:5062;branch=z9hG4bK1\r\n",
    ));
    assert_eq!(r, Err(Dropped::NotAnIp("client.example.org".into())));
    let (r, _) = fwd_reply(&reply_through(
        ours,
        "Via: SIP/2.0/TCP 198.51.100.7;branch=z9hG4bK1\r\n",
    ));
    assert_eq!(r, Err(Dropped::Transport("TCP".into())));
    let (r, _) = fwd_reply(&reply_through(ours, "Via: SIP/2.0/UDP h;rport=x\r\n"));
    assert!(matches!(r, Err(Dropped::BadVia(_))), "{r:?}");
}

// ----- sl -----

#[test]
fn sl_reply_exact_bytes_and_destination() {
    let r = run("sl_send_reply(\"404\", \"Not Here\");", INVITE);
    assert_eq!(
        r.fin,
        Finish {
            replies: 1,
            forwards: 0,
            failures: 0
        }
    );
    let s = r.only();
    // No rport: the source IP, the Via port.
    assert_eq!((s.sock, s.dst), (0, sa("203.0.113.5:5062")));
    let m = SipMsg::parse(INVITE.as_bytes()).unwrap();
    let tag = String::from_utf8(sl::to_tag(&m, SECRET).to_vec()).unwrap();
    let want = format!(
        "SIP/2.0 404 Not Here\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;received=203.0.113.5\r\n\
From: Alice <sip:alice@atlanta.example.org>;tag=1928301774\r\n\
To: Bob <sip:bob@example.com>;tag={tag}\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.org\r\n\
CSeq: 314159 INVITE\r\n\
Server: ser ({} ({}))\r\n\
Content-Length: 0\r\n\
\r\n",
        crate::version::VERSION,
        crate::version::target()
    );
    assert_eq!(r.text(), want);
    assert_eq!(tag.len(), 16);
    // The same tag for a retransmission; another for another transaction.
    assert_eq!(
        run("sl_send_reply(\"404\", \"Not Here\");", INVITE).text(),
        want
    );
    let other = with_via(INVITE, "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKother1");
    assert!(
        !run("sl_send_reply(\"404\", \"Not Here\");", &other)
            .text()
            .contains(&tag)
    );
    // rport: the source port, and the Via says so.
    let m = with_via(
        INVITE,
        "SIP/2.0/UDP 198.51.100.7:5062;rport;branch=z9hG4bK776asdhds",
    );
    let r = run("sl_send_reply(\"404\", \"Not Here\");", &m);
    assert_eq!(r.only().dst, sa("203.0.113.5:40000"));
    assert!(r.text().contains(
        "\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;rport=40000;branch=z9hG4bK776asdhds;received=203.0.113.5\r\n"
    ));
    // force_rport(): the source port too.
    let r = run(
        "force_rport(); sl_send_reply(\"404\", \"Not Here\");",
        INVITE,
    );
    assert_eq!(r.only().dst, sa("203.0.113.5:40000"));
    // No Via port: 5060.
    let m = with_via(INVITE, "SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK776asdhds");
    assert_eq!(
        run("sl_send_reply(\"404\", \"Not Here\");", &m).only().dst,
        sa("203.0.113.5:5060")
    );
}

#[test]
fn sl_to_tag_rules_and_headers() {
    // 100: no tag.
    let t = run("sl_send_reply(\"100\", \"Trying\");", INVITE).text();
    assert!(t.contains("\r\nTo: Bob <sip:bob@example.com>\r\n"), "{t}");
    // A To that has a tag keeps it, alone.
    let m = INVITE.replace(
        "To: Bob <sip:bob@example.com>",
        "To: Bob <sip:bob@example.com>;tag=abc",
    );
    let t = run(
        "sl_send_reply(\"481\", \"Call/Transaction Does Not Exist\");",
        &m,
    )
    .text();
    assert!(
        t.contains("\r\nTo: Bob <sip:bob@example.com>;tag=abc\r\n"),
        "{t}"
    );
    // The code and reason from variables.
    let t = run(
        "$var(c) = 486; $var(r) = \"Busy Here\"; sl_send_reply(\"$var(c)\", \"$var(r)\");",
        INVITE,
    )
    .text();
    assert!(t.starts_with("SIP/2.0 486 Busy Here\r\n"), "{t}");
    // server_signature off: no Server header.
    let mut l = local();
    l.server_signature = false;
    let r = run_with(
        "sl_send_reply(\"404\", \"Not Here\");",
        "",
        INVITE,
        "203.0.113.5:40000",
        &l,
    );
    assert!(!r.text().contains("Server:"));
    // sip_warning on: SER's Warning header.
    l.sip_warning = true;
    let r = run_with(
        "rewriteuri(\"sip:bob@192.0.2.42\"); sl_send_reply(\"404\", \"Not Here\");",
        "",
        INVITE,
        "203.0.113.5:40000",
        &l,
    );
    let want = format!(
        "\r\nWarning: 392 192.0.2.1:5060 \"Noisy feedback tells: pid={} req_src_ip=203.0.113.5 \
req_src_port=40000 in_uri=sip:bob@192.0.2.99 out_uri=sip:bob@192.0.2.42 via_cnt==1\"\r\n\
Content-Length: 0\r\n\r\n",
        std::process::id()
    );
    assert!(r.text().ends_with(&want), "{}", r.text());
}

#[test]
fn sl_appended_headers_and_record_route() {
    let m = SipMsg::parse(INVITE.as_bytes()).unwrap();
    let config = Config::new();
    let mut ctx = MsgCtx::new(
        &m,
        &config,
        sa("203.0.113.5:40000"),
        sa("192.0.2.1:5060"),
        Proto::Udp,
    );
    ctx.reply_headers = b"Contact: <sip:bob@192.0.2.99>\r\nX-A: 1".to_vec();
    ctx.actions.push(crate::script::Action::Reply {
        code: 302,
        reason: b"Moved Temporarily".to_vec(),
    });
    let mut out = Vec::new();
    let fin = finish_request(&mut ctx, 0, &local(), &mut out);
    assert_eq!(fin.replies, 1);
    let t = String::from_utf8(out[0].data.clone()).unwrap();
    assert!(
        t.contains("CSeq: 314159 INVITE\r\nContact: <sip:bob@192.0.2.99>\r\nX-A: 1\r\nServer: ser"),
        "{t}"
    );
}

#[test]
fn sl_refusals_and_reply_error() {
    let r = run(
        "if (!sl_send_reply(\"99\", \"Nope\")) { xlog(\"L_INFO\", \"false\"); }",
        INVITE,
    );
    assert!(r.sends.is_empty());
    assert!(
        r.logs.iter().any(|l| l.contains("bad status code 99")),
        "{:?}",
        r.logs
    );
    assert!(r.logs.iter().any(|l| l == "false"));
    let r = run("sl_send_reply(\"700\", \"Nope\");", INVITE);
    assert!(r.sends.is_empty());
    let r = run(
        "$var(r) = \"a\r\nX: y\"; sl_send_reply(\"404\", \"$var(r)\");",
        INVITE,
    );
    assert!(r.sends.is_empty());
    assert!(
        r.logs.iter().any(|l| l.contains("CR or LF")),
        "{:?}",
        r.logs
    );
    let r = run("sl_send_reply(\"404\", \"Not Here\");", &ack_of(INVITE));
    assert!(r.sends.is_empty());
    assert!(r.logs.iter().any(|l| l.contains("ACK")), "{:?}", r.logs);
    let r = run("sl_reply_error();", INVITE);
    assert!(
        r.text()
            .starts_with("SIP/2.0 500 Server Internal Error\r\n")
    );
    assert_eq!(r.ret, 1);
}

#[test]
fn local_ack_is_recognised() {
    let r = run("sl_send_reply(\"404\", \"Not Here\");", INVITE);
    let reply = SipMsg::parse(&r.only().data).unwrap();
    let tag = reply.to().unwrap().tag().unwrap();
    let ack = ack_of(INVITE).replace(
        "tag=8321234356",
        &format!("tag={}", String::from_utf8_lossy(tag)),
    );
    let ack = SipMsg::parse(ack.as_bytes()).unwrap();
    assert!(is_local_ack(&ack, &local()));
    let other = ack_of(INVITE);
    assert!(!is_local_ack(
        &SipMsg::parse(other.as_bytes()).unwrap(),
        &local()
    ));
    assert!(!is_local_ack(
        &SipMsg::parse(INVITE.as_bytes()).unwrap(),
        &local()
    ));
}

// ----- 400 for broken requests -----

#[test]
fn reject_broken_requests() {
    // A broken CSeq: the message indexes, the reply is a full local reply.
    let m = INVITE.replace("CSeq: 314159 INVITE", "CSeq: abc INVITE");
    let err = SipMsg::parse(m.as_bytes()).unwrap().validate().unwrap_err();
    let mut out = Vec::new();
    assert!(reject(
        m.as_bytes(),
        &err,
        sa("203.0.113.5:40000"),
        0,
        &local(),
        &mut out
    ));
    let t = String::from_utf8(out[0].data.clone()).unwrap();
    assert!(
        t.starts_with("SIP/2.0 400 Bad Request - CSeq: bad number\r\n"),
        "{t}"
    );
    assert!(t.contains("\r\nCSeq: abc INVITE\r\n"));
    assert!(t.contains(";received=203.0.113.5\r\n"));
    assert_eq!(out[0].dst, sa("203.0.113.5:5062"));

    // A header line without a colon: the message does not index; the
    // lines a client matches on are copied.
    let m = INVITE.replace("Max-Forwards: 70\r\n", "Max-Forwards 70\r\n");
    let err = SipMsg::parse(m.as_bytes()).unwrap_err();
    let mut out = Vec::new();
    assert!(reject(
        m.as_bytes(),
        &err,
        sa("203.0.113.5:40000"),
        0,
        &local(),
        &mut out
    ));
    let want = format!(
        "SIP/2.0 400 Bad Request - header: malformed\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@atlanta.example.org>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.org\r\n\
CSeq: 314159 INVITE\r\n\
Server: ser ({} ({}))\r\n\
Content-Length: 0\r\n\r\n",
        crate::version::VERSION,
        crate::version::target()
    );
    assert_eq!(String::from_utf8(out[0].data.clone()).unwrap(), want);
    assert_eq!(out[0].dst, sa("203.0.113.5:5062"));
    // With rport: the source port.
    let m2 = with_via(&m, "SIP/2.0/UDP 198.51.100.7:5062;rport;branch=z9hG4bK1");
    let mut out = Vec::new();
    assert!(reject(
        m2.as_bytes(),
        &err,
        sa("203.0.113.5:40000"),
        0,
        &local(),
        &mut out
    ));
    assert_eq!(out[0].dst, sa("203.0.113.5:40000"));
    // An unreadable Via: back to the source.
    let m3 = with_via(&m, "SIP/2.0/UDP [::1;branch=z9hG4bK1");
    let mut out = Vec::new();
    assert!(reject(
        m3.as_bytes(),
        &err,
        sa("203.0.113.5:40000"),
        0,
        &local(),
        &mut out
    ));
    assert_eq!(out[0].dst, sa("203.0.113.5:40000"));

    // Replies, ACKs, garbage and port 0 get nothing.
    let mut out = Vec::new();
    let reply = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4\r\nbroken\r\n\r\n";
    assert!(!reject(
        reply.as_bytes(),
        &err,
        sa("203.0.113.5:40000"),
        0,
        &local(),
        &mut out
    ));
    let ack = ack_of(&m);
    assert!(!reject(
        ack.as_bytes(),
        &err,
        sa("203.0.113.5:40000"),
        0,
        &local(),
        &mut out
    ));
    assert!(!reject(
        b"\r\n\r\n",
        &err,
        sa("203.0.113.5:40000"),
        0,
        &local(),
        &mut out
    ));
    assert!(!reject(
        b"\x00\x01garbage",
        &err,
        sa("203.0.113.5:40000"),
        0,
        &local(),
        &mut out
    ));
    assert!(!reject(
        m.as_bytes(),
        &err,
        sa("203.0.113.5:0"),
        0,
        &local(),
        &mut out
    ));
    assert!(out.is_empty());
}

#[test]
fn reject_never_panics_on_prefixes_and_flips() {
    let base = with_via(
        INVITE,
        "SIP/2.0/UDP [2001:db8::7]:5062;rport;branch=z9hG4bK1",
    );
    let base = base.as_bytes();
    let err =
        crate::sip::ParseError::new(crate::sip::Where::Header, crate::sip::Fault::Malformed, 0);
    let mut out = Vec::new();
    for n in 0..=base.len() {
        let _ = reject(
            &base[..n],
            &err,
            sa("203.0.113.5:40000"),
            0,
            &local(),
            &mut out,
        );
    }
    let mut buf = base.to_vec();
    for i in (0..buf.len()).step_by(3) {
        for b in [0u8, b'\r', b'\n', b':', b';', b',', b'[', 0xff] {
            let old = buf[i];
            buf[i] = b;
            let _ = reject(&buf, &err, sa("203.0.113.5:40000"), 0, &local(), &mut out);
            buf[i] = old;
        }
    }
}

// ----- maxfwd -----

/// Runs `call` (logging `$rc`) then forwards; returns the return code and
/// the forwarded Max-Forwards line(s).
fn maxfwd(call: &str, extra_cfg: &str, msg: &str) -> (String, Vec<String>) {
    let r = run_with(
        &format!("{call}; xlog(\"L_INFO\", \"rc=$rc\"); {FWD}"),
        extra_cfg,
        msg,
        "203.0.113.5:40000",
        &local(),
    );
    let rc = r
        .logs
        .iter()
        .find_map(|l| l.strip_prefix("rc="))
        .unwrap_or("?")
        .to_string();
    let t = r.text();
    let lines = t
        .lines()
        .filter(|l| l.starts_with("Max-Forwards"))
        .map(str::to_string)
        .collect();
    (rc, lines)
}

#[test]
fn maxfwd_process() {
    let call = "mf_process_maxfwd_header(\"10\")";
    // Present: decremented.
    assert_eq!(
        maxfwd(call, "", INVITE),
        ("1".into(), vec!["Max-Forwards: 69".into()])
    );
    let m5 = INVITE.replace("Max-Forwards: 70", "Max-Forwards: 5");
    assert_eq!(
        maxfwd(call, "", &m5),
        ("1".into(), vec!["Max-Forwards: 4".into()])
    );
    // Absent: added (as the first header, where Kamailio puts it).
    let none = INVITE.replace("Max-Forwards: 70\r\n", "");
    let (rc, lines) = maxfwd(call, "", &none);
    assert_eq!(
        (rc.as_str(), lines),
        ("2", vec!["Max-Forwards: 10".to_string()])
    );
    let r = run(&format!("{call}; {FWD}"), &none);
    assert!(r.text().starts_with(&format!(
        "INVITE sip:bob@192.0.2.99 SIP/2.0\r\nMax-Forwards: 10\r\n{}",
        via_lines(&r.text())[0]
    )));
    // Zero: false (-1), untouched.
    let m0 = INVITE.replace("Max-Forwards: 70", "Max-Forwards: 0");
    assert_eq!(
        maxfwd(call, "", &m0),
        ("-1".into(), vec!["Max-Forwards: 0".into()])
    );
    // Garbage: -2, logged.
    let mg = INVITE.replace("Max-Forwards: 70", "Max-Forwards: lots");
    assert_eq!(maxfwd(call, "", &mg).0, "-2");
    // max_limit caps the value sent on.
    let cfg = "modparam(\"maxfwd\", \"max_limit\", 16)";
    assert_eq!(
        maxfwd(call, cfg, INVITE),
        ("1".into(), vec!["Max-Forwards: 16".into()])
    );
    assert_eq!(
        maxfwd(call, cfg, &m5),
        ("1".into(), vec!["Max-Forwards: 4".into()])
    );
    // Above 255: taken as 255.
    let big = INVITE.replace("Max-Forwards: 70", "Max-Forwards: 1000");
    assert_eq!(
        maxfwd(call, "", &big),
        ("1".into(), vec!["Max-Forwards: 254".into()])
    );
    // A bad argument: -2.
    assert_eq!(
        maxfwd("mf_process_maxfwd_header(\"300\")", "", INVITE).0,
        "-2"
    );
    // The usual script: 483 at zero.
    let r = run(
        "if (!mf_process_maxfwd_header(\"10\")) { sl_send_reply(\"483\", \"Too Many Hops\"); exit; } forward();",
        &m0,
    );
    assert!(r.text().starts_with("SIP/2.0 483 Too Many Hops\r\n"));
}

#[test]
fn maxfwd_lt() {
    let call = |n: &str, m: &str| maxfwd(&format!("is_maxfwd_lt(\"{n}\")"), "", m).0;
    assert_eq!(call("71", INVITE), "1");
    assert_eq!(call("70", INVITE), "-1");
    assert_eq!(
        call("10", &INVITE.replace("Max-Forwards: 70\r\n", "")),
        "-2"
    );
    assert_eq!(
        call("10", &INVITE.replace("Max-Forwards: 70", "Max-Forwards: x")),
        "-3"
    );
    assert_eq!(call("256", INVITE), "-3");
}

// ----- helpers -----

#[test]
fn socket_choice() {
    let l = local();
    assert_eq!(l.pick_socket(0, &sa("192.0.2.9:5060")), Some(0));
    assert_eq!(l.pick_socket(1, &sa("192.0.2.9:5060")), Some(0));
    assert_eq!(l.pick_socket(0, &sa("[2001:db8::9]:5060")), Some(1));
    assert_eq!(l.pick_socket(9, &sa("[2001:db8::9]:5060")), Some(1));
    assert_eq!(LocalSocket::new(sa("[::1]:5070")).via_host, "[::1]");
}

#[test]
fn keyed_hash_separates_fields() {
    use super::via::KeyedHash;
    let h = |parts: &[&[u8]]| {
        let mut k = KeyedHash::new(7);
        for p in parts {
            k.bytes(p);
        }
        k.finish()
    };
    assert_ne!(h(&[b"ab", b"c"]), h(&[b"a", b"bc"]));
    assert_ne!(h(&[b""]), h(&[]));
    assert_ne!(h(&[b"0123456789abcdef"]), h(&[b"0123456789abcdeg"]));
    assert_eq!(h(&[b"x"]), h(&[b"x"]));
}

#[test]
fn via_parse_of_our_via() {
    let s = LocalSocket::new(sa("[2001:db8::1]:5062"));
    let v = super::via::via_value(&s, b"z9hG4bKabc.def");
    let via = Via::parse(&v, &crate::sip::Limits::DEFAULT).unwrap();
    assert_eq!(via.port, Some(5062));
    assert!(!super::via::is_ours(&via, &local(), &Config::new()));
    let s = LocalSocket::new(sa("[2001:db8::1]:5060"));
    let v = super::via::via_value(&s, b"z9hG4bKabc.def");
    let via = Via::parse(&v, &crate::sip::Limits::DEFAULT).unwrap();
    assert!(super::via::is_ours(&via, &local(), &Config::new()));
}

/// Found by the `proxy` fuzz target: a request that already carries as
/// many Vias as the parser takes cannot get ours (the result would not
/// parse); it is a loop in all but name and gets 483.
#[test]
fn no_room_for_our_via_gets_483() {
    let max = crate::sip::Limits::DEFAULT.max_vias;
    let vias: String = (1..max)
        .map(|i| {
            format!(
                "Via: SIP/2.0/UDP 10.0.{}.{}:5060;branch=z9hG4bK-h{i}\r\n",
                i / 250,
                i % 250
            )
        })
        .collect();
    let full = INVITE.replace(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\n{vias}"),
    );
    let r = run("forward(\"192.0.2.50\", 5060);", &full);
    let t = r.text();
    assert!(t.starts_with("SIP/2.0 483 Too Many Hops\r\n"), "{t}");
    assert!(SipMsg::parse(t.as_bytes()).is_ok(), "the 483 itself parses");
    // One Via fewer: forwarded, and the result has exactly `max` Vias.
    let fewer: String = vias.lines().skip(1).map(|l| format!("{l}\r\n")).collect();
    let ok = INVITE.replace(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\n{fewer}"),
    );
    let r = run("forward(\"192.0.2.50\", 5060);", &ok);
    let m = SipMsg::parse(&r.only().data).unwrap();
    assert_eq!(m.vias().unwrap().len(), max);
}

/// Found by the `proxy` fuzz target: the 400 for a request refused for
/// its Vias copies no more Vias than a parser takes.
#[test]
fn reject_copies_at_most_the_via_limit() {
    let max = crate::sip::Limits::DEFAULT.max_vias;
    let vias: String = (0..max + 10)
        .map(|i| {
            format!(
                "Via: SIP/2.0/UDP 10.0.0.{}:5060;branch=z9hG4bK-h{i}\r\n",
                i % 250
            )
        })
        .collect();
    let m = INVITE.replace(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\n{vias}"),
    );
    let err = SipMsg::parse(m.as_bytes()).unwrap_err();
    let mut out = Vec::new();
    assert!(reject(
        m.as_bytes(),
        &err,
        sa("203.0.113.5:40000"),
        0,
        &local(),
        &mut out
    ));
    let reply = SipMsg::parse(&out[0].data).expect("the 400 parses");
    assert_eq!(reply.vias().unwrap().len(), max);
}
