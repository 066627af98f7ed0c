//! Registrar behaviour through the real VM: configs compiled from ser.cfg
//! text, REGISTERs and INVITEs run by the script, replies built by the
//! stateless core.

use core::net::SocketAddr;

use crate::proxy::{Local, LocalSocket, finish_request};
use crate::script::{Branch, Config, LogSink, MsgCtx, Outcome, Proto, Registry, Script};
use crate::sip::SipMsg;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn local() -> Local {
    Local {
        sockets: vec![LocalSocket::new(sa("192.0.2.1:5060"))],
        sip_warning: false,
        server_signature: false,
        secret: 7,
    }
}

/// A compiled script with its configuration (and so its location store).
struct Reg {
    script: Script,
    config: Config,
}

/// What one run produced.
#[derive(Debug)]
struct Out {
    ret: i32,
    replies: Vec<String>,
    forwards: Vec<(SocketAddr, String)>,
    ruri: Option<String>,
    du: Option<String>,
    branches: Vec<Branch>,
    flags: u64,
    logs: Vec<String>,
}

impl Out {
    fn reply(&self) -> &str {
        assert_eq!(self.replies.len(), 1, "{self:#?}");
        &self.replies[0]
    }
    fn contacts(&self) -> Vec<&str> {
        self.reply()
            .lines()
            .filter(|l| l.starts_with("Contact: "))
            .collect()
    }
}

const MODULES: &str = "#!KAMAILIO\nloadmodule \"sl.so\"\nloadmodule \"usrloc.so\"\n\
loadmodule \"registrar.so\"\nloadmodule \"xlog.so\"\n";

impl Reg {
    fn new(params: &str, body: &str) -> Reg {
        let text = format!("{MODULES}{params}\nroute {{\n{body}\n}}\n");
        let parsed = ser_cfg::parse_str("test.cfg", &text, &[]).unwrap();
        let program = ser_cfg::compile::compile(&parsed).unwrap();
        let script = Script::load(program, &Registry::builtin()).unwrap();
        let mut config = Config::from_program(script.program());
        config.add_myself("192.0.2.1", Some(5060)).unwrap();
        Reg { script, config }
    }

    /// The usual script: REGISTER saved, anything else looked up and
    /// forwarded (404 when unknown).
    fn standard(params: &str) -> Reg {
        Reg::new(
            params,
            "if (method==\"REGISTER\") { save(\"location\"); exit; }\n\
             if (!lookup(\"location\")) { sl_send_reply(\"404\", \"Not Found\"); exit; }\n\
             forward();",
        )
    }

    fn run(&self, msg: &str) -> Out {
        self.run_from(msg, "203.0.113.5:5060")
    }

    fn run_from(&self, msg: &str, src: &str) -> Out {
        let m = SipMsg::parse(msg.as_bytes()).unwrap();
        let mut ctx = MsgCtx::new(&m, &self.config, sa(src), sa("192.0.2.1:5060"), Proto::Udp);
        ctx.log = LogSink::Capture(Vec::new());
        let ret = match self.script.run_main(&mut ctx) {
            Outcome::Finished { ret, .. } => ret,
            Outcome::Suspended(_) => panic!("suspended"),
        };
        let ruri = ctx.new_uri.clone().map(|u| String::from_utf8(u).unwrap());
        let du = ctx.dst_uri.clone().map(|u| String::from_utf8(u).unwrap());
        let branches = ctx.branches.clone();
        let flags = ctx.flags;
        let mut sends = Vec::new();
        finish_request(&mut ctx, 0, &local(), &mut sends);
        let mut replies = Vec::new();
        let mut forwards = Vec::new();
        for s in sends {
            let t = String::from_utf8(s.data).unwrap();
            if t.starts_with("SIP/2.0 ") {
                replies.push(t);
            } else {
                forwards.push((s.dst, t));
            }
        }
        Out {
            ret,
            replies,
            forwards,
            ruri,
            du,
            branches,
            flags,
            logs: ctx.log.lines().iter().map(|l| l.text.clone()).collect(),
        }
    }
}

/// A REGISTER for `user` with the given Contact header lines (values),
/// Expires header, Call-ID and CSeq, and extra header lines.
fn register(
    user: &str,
    contacts: &[&str],
    expires: Option<u32>,
    call_id: &str,
    cseq: u32,
    extra: &str,
) -> String {
    let mut m = format!(
        "REGISTER sip:192.0.2.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK{call_id}{cseq}\r\n\
Max-Forwards: 70\r\n\
To: <sip:{user}@example.com>\r\n\
From: <sip:{user}@example.com>;tag=a73kszlfl\r\n\
Call-ID: {call_id}\r\n\
CSeq: {cseq} REGISTER\r\n"
    );
    for c in contacts {
        m.push_str(&format!("Contact: {c}\r\n"));
    }
    if let Some(e) = expires {
        m.push_str(&format!("Expires: {e}\r\n"));
    }
    m.push_str(extra);
    m.push_str("Content-Length: 0\r\n\r\n");
    m
}

fn invite(ruri: &str) -> String {
    format!(
        "INVITE {ruri} SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: <{ruri}>\r\n\
From: <sip:carol@example.org>;tag=1928301774\r\n\
Call-ID: inv-1@198.51.100.7\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 0\r\n\r\n"
    )
}

/// The `expires` value of the contact line for `uri`.
fn expires_of(out: &Out, uri: &str) -> u32 {
    let line = out
        .contacts()
        .into_iter()
        .find(|l| l.contains(&format!("<{uri}>")))
        .unwrap_or_else(|| panic!("no contact {uri}: {out:#?}"));
    let v = line.split(";expires=").nth(1).unwrap();
    v.split(';').next().unwrap().parse().unwrap()
}

#[test]
fn register_two_contacts_then_refresh_and_remove() {
    let r = Reg::standard("");
    let o = r.run(&register(
        "alice",
        &[
            "<sip:alice@198.51.100.1:5060>",
            "<sip:alice@198.51.100.2>;expires=120",
        ],
        Some(600),
        "c1",
        1,
        "",
    ));
    assert_eq!(o.ret, 0);
    assert!(o.reply().starts_with("SIP/2.0 200 OK\r\n"), "{}", o.reply());
    assert_eq!(o.contacts().len(), 2, "{}", o.reply());
    assert!((599..=600).contains(&expires_of(&o, "sip:alice@198.51.100.1:5060")));
    assert!((119..=120).contains(&expires_of(&o, "sip:alice@198.51.100.2")));

    // A query (no Contact) lists them.
    let o = r.run(&register("alice", &[], None, "c1", 2, ""));
    assert_eq!(o.contacts().len(), 2);

    // Refresh one with a higher CSeq.
    let o = r.run(&register(
        "alice",
        &["<sip:alice@198.51.100.2>"],
        Some(3000),
        "c1",
        3,
        "",
    ));
    assert!((2999..=3000).contains(&expires_of(&o, "sip:alice@198.51.100.2")));
    assert_eq!(o.contacts().len(), 2);

    // The same CSeq again at once: a retransmission, nothing changes.
    let o = r.run(&register(
        "alice",
        &["<sip:alice@198.51.100.2>"],
        Some(100),
        "c1",
        3,
        "",
    ));
    assert!(o.reply().starts_with("SIP/2.0 200 OK"));
    assert!(expires_of(&o, "sip:alice@198.51.100.2") > 2000);

    // A lower CSeq with the same Call-ID fails (RFC 3261 10.3 step 7).
    let o = r.run(&register(
        "alice",
        &["<sip:alice@198.51.100.2>"],
        Some(100),
        "c1",
        2,
        "",
    ));
    assert!(
        o.reply().starts_with("SIP/2.0 400 Bad Request"),
        "{}",
        o.reply()
    );
    assert!(
        o.reply()
            .contains("P-Registrar-Error: Invalid CSeq number\r\n")
    );

    // Another Call-ID may update it whatever its CSeq.
    let o = r.run(&register(
        "alice",
        &["<sip:alice@198.51.100.2>"],
        Some(0),
        "c2",
        1,
        "",
    ));
    assert_eq!(o.contacts().len(), 1, "{}", o.reply());
    assert!(o.contacts()[0].contains("<sip:alice@198.51.100.1:5060>"));
}

#[test]
fn star_removes_everything() {
    let r = Reg::standard("");
    r.run(&register(
        "bob",
        &["<sip:bob@10.0.0.1>", "<sip:bob@10.0.0.2>"],
        None,
        "b1",
        1,
        "",
    ));
    // `*` needs Expires: 0.
    let o = r.run(&register("bob", &["*"], Some(10), "b2", 1, ""));
    assert!(o.reply().starts_with("SIP/2.0 400 "), "{}", o.reply());
    let o = r.run(&register("bob", &["*"], None, "b2", 1, ""));
    assert!(o.reply().starts_with("SIP/2.0 400 "), "{}", o.reply());
    assert_eq!(r.config.location.location().bindings(), 2);
    let o = r.run(&register("bob", &["*"], Some(0), "b2", 1, ""));
    assert!(o.reply().starts_with("SIP/2.0 200 OK"), "{}", o.reply());
    assert!(o.contacts().is_empty());
    assert_eq!(r.config.location.location().aors(), 0);
    // Then lookup fails.
    let o = r.run(&invite("sip:bob@192.0.2.1"));
    assert!(o.reply().starts_with("SIP/2.0 404 Not Found"));
}

#[test]
fn interval_too_brief_and_max_expires() {
    let r = Reg::standard("modparam(\"registrar\", \"max_expires\", 1000)");
    let o = r.run(&register(
        "carl",
        &["<sip:carl@10.0.0.1>"],
        Some(30),
        "x",
        1,
        "",
    ));
    assert!(
        o.reply().starts_with("SIP/2.0 423 Interval Too Brief\r\n"),
        "{}",
        o.reply()
    );
    assert!(o.reply().contains("\r\nMin-Expires: 60\r\n"));
    assert_eq!(o.ret, 0);
    assert_eq!(r.config.location.location().bindings(), 0);
    let o = r.run(&register(
        "carl",
        &["<sip:carl@10.0.0.1>"],
        Some(7200),
        "x",
        2,
        "",
    ));
    assert!((999..=1000).contains(&expires_of(&o, "sip:carl@10.0.0.1")));
}

#[test]
fn max_contacts_gives_503() {
    let r = Reg::standard(
        "modparam(\"registrar\", \"max_contacts\", 1)\nmodparam(\"registrar\", \"retry_after\", 30)",
    );
    let o = r.run(&register("dan", &["<sip:dan@10.0.0.1>"], None, "d1", 1, ""));
    assert!(o.reply().starts_with("SIP/2.0 200 OK"));
    let o = r.run(&register("dan", &["<sip:dan@10.0.0.2>"], None, "d2", 1, ""));
    assert!(
        o.reply()
            .starts_with("SIP/2.0 503 Too Many Registered Contacts\r\n"),
        "{}",
        o.reply()
    );
    assert!(o.reply().contains("Retry-After: 30\r\n"));
    // A refresh of the one there still works.
    let o = r.run(&register("dan", &["<sip:dan@10.0.0.1>"], None, "d1", 2, ""));
    assert!(o.reply().starts_with("SIP/2.0 200 OK"));
}

#[test]
fn lookup_rewrites_and_appends_branches_in_q_order() {
    let r = Reg::standard("");
    r.run(&register(
        "erin",
        &[
            "<sip:erin@10.0.0.1>;q=0.1",
            "<sip:erin@10.0.0.2>;q=0.9",
            "<sip:erin@10.0.0.3:5070>;q=0.5",
        ],
        None,
        "e1",
        1,
        "",
    ));
    let o = r.run(&invite("sip:erin@192.0.2.1"));
    assert_eq!(o.ruri.as_deref(), Some("sip:erin@10.0.0.2"));
    let b: Vec<_> = o
        .branches
        .iter()
        .map(|b| (String::from_utf8(b.uri.clone()).unwrap(), b.q))
        .collect();
    assert_eq!(
        b,
        vec![
            ("sip:erin@10.0.0.3:5070".to_string(), Some(500)),
            ("sip:erin@10.0.0.1".to_string(), Some(100)),
        ]
    );
    // Stateless forking sends one copy per contact.
    let dsts: Vec<_> = o.forwards.iter().map(|(d, _)| d.to_string()).collect();
    assert_eq!(
        dsts,
        vec!["10.0.0.2:5060", "10.0.0.3:5070", "10.0.0.1:5060"],
        "{o:#?}"
    );
    assert!(
        o.forwards[0]
            .1
            .starts_with("INVITE sip:erin@10.0.0.2 SIP/2.0\r\n")
    );

    // Without append_branches only the best one.
    let r = Reg::standard("modparam(\"registrar\", \"append_branches\", 0)");
    r.run(&register(
        "erin",
        &["<sip:erin@10.0.0.1>;q=0.1", "<sip:erin@10.0.0.2>;q=0.9"],
        None,
        "e1",
        1,
        "",
    ));
    let o = r.run(&invite("sip:erin@192.0.2.1"));
    assert_eq!(o.ruri.as_deref(), Some("sip:erin@10.0.0.2"));
    assert!(o.branches.is_empty());

    // desc_time_order: the newest first.
    let r = Reg::standard("modparam(\"usrloc\", \"desc_time_order\", 1)");
    r.run(&register("f", &["<sip:f@10.0.0.1>;q=1"], None, "f1", 1, ""));
    r.run(&register(
        "f",
        &["<sip:f@10.0.0.2>;q=0.1"],
        None,
        "f2",
        1,
        "",
    ));
    let o = r.run(&invite("sip:f@192.0.2.1"));
    assert_eq!(o.ruri.as_deref(), Some("sip:f@10.0.0.2"));
}

#[test]
fn lookup_not_found_and_registered() {
    let r = Reg::new(
        "",
        "if (method==\"REGISTER\") { save(\"location\"); exit; }\n\
         if (registered(\"location\")) { xlog(\"L_INFO\", \"registered\\n\"); }\n\
         lookup(\"location\");\n\
         xlog(\"L_INFO\", \"rc=$rc\\n\");",
    );
    let o = r.run(&invite("sip:nobody@192.0.2.1"));
    assert_eq!(o.logs, vec!["rc=-1"]);
    let o = r.run(&invite("sip:192.0.2.1"));
    assert_eq!(o.logs.last().map(String::as_str), Some("rc=-3"));
    assert!(o.logs[0].contains("no address of record in `sip:192.0.2.1`"));
    r.run(&register("gil", &["<sip:gil@10.0.0.1>"], None, "g", 1, ""));
    let o = r.run(&invite("sip:gil@192.0.2.1"));
    assert_eq!(o.logs, vec!["registered", "rc=1"]);
    // Without use_domain the domain does not matter.
    let o = r.run(&invite("sip:gil@elsewhere.example"));
    assert_eq!(o.logs, vec!["registered", "rc=1"]);
}

#[test]
fn use_domain_keeps_domains_apart() {
    let r = Reg::standard("modparam(\"usrloc\", \"use_domain\", 1)");
    r.run(&register("hal", &["<sip:hal@10.0.0.1>"], None, "h", 1, ""));
    let o = r.run(&invite("sip:hal@EXAMPLE.com"));
    assert_eq!(o.ruri.as_deref(), Some("sip:hal@10.0.0.1"));
    let o = r.run(&invite("sip:hal@example.org"));
    assert!(o.reply().starts_with("SIP/2.0 404"));
}

#[test]
fn aliases_then_location() {
    let r = Reg::new(
        "",
        "if (method==\"REGISTER\") { save(\"location\"); exit; }\n\
         lookup(\"aliases\");\n\
         if (!lookup(\"location\")) { sl_send_reply(\"404\", \"Not Found\"); exit; }\n\
         forward();",
    );
    r.config
        .location
        .add_alias(b"8885551192", b"sip:4075559938@192.0.2.1");
    r.run(&register(
        "4075559938",
        &["<sip:4075559938@10.1.1.1:5062>"],
        None,
        "i",
        1,
        "",
    ));
    let o = r.run(&invite("sip:8885551192@192.0.2.1"));
    assert_eq!(o.ruri.as_deref(), Some("sip:4075559938@10.1.1.1:5062"));
    assert_eq!(o.forwards.len(), 1);
    assert_eq!(o.forwards[0].0, sa("10.1.1.1:5062"));
}

#[test]
fn path_is_stored_echoed_and_used() {
    let r = Reg::standard("");
    let o = r.run(&register(
        "ivy",
        &["<sip:ivy@10.0.0.9>"],
        None,
        "p",
        1,
        "Path: <sip:edge.example.net;lr>\r\nSupported: path\r\n",
    ));
    assert!(
        o.reply()
            .contains("\r\nPath: <sip:edge.example.net;lr>\r\n"),
        "{}",
        o.reply()
    );
    let o = r.run(&invite("sip:ivy@192.0.2.1"));
    assert_eq!(o.ruri.as_deref(), Some("sip:ivy@10.0.0.9"));
    assert_eq!(o.du.as_deref(), Some("sip:edge.example.net;lr"));

    // path_mode=2: Path without Supported: path is refused.
    let r = Reg::standard("modparam(\"registrar\", \"path_mode\", 2)");
    let o = r.run(&register(
        "ivy",
        &["<sip:ivy@10.0.0.9>"],
        None,
        "p",
        1,
        "Path: <sip:e;lr>\r\n",
    ));
    assert!(
        o.reply().starts_with("SIP/2.0 420 Bad Extension"),
        "{}",
        o.reply()
    );
    assert!(o.reply().contains("Unsupported: path\r\n"));
}

#[test]
fn nat_flag_round_trip_and_noreply() {
    let r = Reg::new(
        "modparam(\"registrar\", \"nat_flag\", 5)",
        "if (method==\"REGISTER\") { if (src_port==5999) { setflag(5); }\n\
           if (!save_noreply(\"location\")) { xlog(\"L_INFO\", \"failed\\n\"); } exit; }\n\
         lookup(\"location\");",
    );
    let o = r.run_from(
        &register("jo", &["<sip:jo@10.0.0.1>"], None, "n", 1, ""),
        "203.0.113.9:5999",
    );
    assert!(o.replies.is_empty());
    assert_eq!(o.ret, 0);
    let o = r.run(&invite("sip:jo@192.0.2.1"));
    assert_eq!(o.flags & (1 << 5), 1 << 5);
    let b = r
        .config
        .location
        .location()
        .get(b"jo", 0, crate::registrar::Order::Q);
    assert_eq!(b[0].received, Some(sa("203.0.113.9:5999")));
    assert_eq!(b[0].call_id(), b"n");
}

#[test]
fn bad_contacts_are_400() {
    let r = Reg::standard("");
    let o = r.run(&register(
        "k",
        &["<sip:k@10.0.0.1>;expires=soon"],
        None,
        "k",
        1,
        "",
    ));
    assert!(
        o.reply()
            .contains("P-Registrar-Error: Invalid expires param in contact")
    );
    let o = r.run(&register("k", &["<sip:k@10.0.0.1>;q=2"], None, "k", 2, ""));
    assert!(
        o.reply()
            .contains("P-Registrar-Error: Invalid q param in contact")
    );
    let o = r.run(
        &register("k", &["<sip:k@10.0.0.1>"], None, "k", 3, "")
            .replace("To: <sip:k@example.com>", "To: <sip:example.com>"),
    );
    assert!(o.reply().starts_with("SIP/2.0 400"), "{}", o.reply());
    assert_eq!(r.config.location.location().bindings(), 0);
}
