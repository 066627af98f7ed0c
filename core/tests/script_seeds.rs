//! The seed configs through the compiler and the VM: every one loads (its
//! variables, selects and regexes resolve) once its module functions are
//! given stand-ins, and Hello World routes INVITEs and REGISTERs the way
//! its document says.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ser_cfg::Define;
use ser_cfg::ir::Program;
use ser_core::script::{
    Config, LoadError, LogSink, MsgCtx, Outcome, Proto, Registry, Ret, Script, Value, level,
};
use ser_core::sip::SipMsg;

fn seeds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cfg/tests/seeds")
}

fn compile(name: &str, defines: &[&str]) -> Program {
    let defines: Vec<Define> = defines.iter().map(|d| Define::from_arg(d)).collect();
    let script = ser_cfg::parse_file(&seeds().join(name), &defines)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    ser_cfg::compile::compile(&script).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

/// The built-ins plus a stand-in for every other function the program
/// calls (and for sl and maxfwd): it logs `call:name(args)` and returns the code `codes` gives
/// the name (1 by default).
fn stand_ins(p: &Program, codes: &[(&str, i32)]) -> Registry {
    let codes: Arc<HashMap<String, i32>> =
        Arc::new(codes.iter().map(|(n, c)| (n.to_string(), *c)).collect());
    let mut r = Registry::builtin();
    for c in &p.calls {
        let (m, n) = (p.str(c.module), p.str(c.name));
        // sl, tm, maxfwd, rr, registrar and has_totag are built, but the
        // seed tests follow the routing through their logged calls, so
        // they stay stand-ins here.
        if r.contains(m, n)
            && !matches!(
                m,
                "sl" | "tm" | "maxfwd" | "rr" | "uri" | "siputils" | "registrar"
            )
        {
            continue;
        }
        let name = n.to_string();
        let codes = Arc::clone(&codes);
        r.add(m, n, move |ctx, args| {
            let vals: Vec<String> = (0..args.len())
                .map(|i| args.value(i, ctx).unwrap_or(Value::Null).to_string())
                .collect();
            ctx.log(level::L_INFO, &format!("call:{name}({})", vals.join(", ")));
            Ret::Code(codes.get(&name).copied().unwrap_or(1))
        });
    }
    r
}

/// Every seed config in the language (the 2001 regex table is not), and
/// the Kamailio one again with all its `WITH_*` features.
const SEED_CASES: &[(&str, &[&str])] = &[
    ("hello-world.cfg", &[]),
    ("mysql-auth.cfg", &[]),
    ("nat-rtpproxy.cfg", &[]),
    ("nat-mediaproxy.cfg", &[]),
    ("pstn.cfg", &[]),
    ("call-forwarding.cfg", &[]),
    ("ser-0.8.8.cfg", &[]),
    ("ser-2.0-default.cfg", &[]),
    ("kamailio-3.1-default.cfg", &[]),
    (
        "kamailio-3.1-default.cfg",
        &[
            "WITH_ACCDB",
            "WITH_AUTH",
            "WITH_DEBUG",
            "WITH_IPAUTH",
            "WITH_MYSQL",
            "WITH_NAT",
            "WITH_PRESENCE",
            "WITH_PSTN",
            "WITH_USRLOCDB",
        ],
    ),
];

/// The seed configs that every function they call is built for (as
/// shipped, without defines).
const FULLY_BUILT: &[&str] = &[
    "ser-2.0-default.cfg",
    "hello-world.cfg",
    "ser-0.8.8.cfg",
    "mysql-auth.cfg",
    "kamailio-3.1-default.cfg",
];

#[test]
fn every_seed_config_loads() {
    let cases = SEED_CASES;
    for (name, defines) in cases {
        let p = compile(name, defines);
        let r = stand_ins(&p, &[]);
        if let Err(e) = Script::load(p.clone(), &r) {
            panic!("{name} {defines:?}: {e}");
        }
        // With the built-ins alone, the configs whose functions are all
        // built load (as shipped, without defines); the others list the
        // functions still missing.
        let complete = FULLY_BUILT.contains(name) && defines.is_empty();
        match Script::load(p, &Registry::builtin()) {
            Ok(_) if complete => {}
            Err(LoadError::Unsupported(list)) if !complete => assert!(!list.is_empty()),
            other => panic!("{name}: {other:?}"),
        }
    }
}

const INVITE_OUT: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@192.0.2.13>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@198.51.100.7\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@198.51.100.7>\r\n\
Content-Length: 0\r\n\
\r\n";

const INVITE_LOCAL: &[u8] = b"INVITE sip:bob@192.0.2.13 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@192.0.2.13>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@192.0.2.13>\r\n\
Call-ID: 3848276298220188511@198.51.100.7\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@198.51.100.7>\r\n\
Content-Length: 0\r\n\
\r\n";

const REGISTER: &[u8] = b"REGISTER sip:192.0.2.13 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKnashds7\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@192.0.2.13>\r\n\
From: Bob <sip:bob@192.0.2.13>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:bob@198.51.100.7>\r\n\
Expires: 3600\r\n\
Content-Length: 0\r\n\
\r\n";

/// Runs Hello World on a message; returns the outcome and the stand-in
/// calls made, in order.
fn hello(msg: &[u8], codes: &[(&str, i32)], max_len: u32) -> ((i32, bool), Vec<String>) {
    let p = compile("hello-world.cfg", &[]);
    let script = Script::load(p.clone(), &stand_ins(&p, codes)).unwrap();
    let mut cfg = Config::from_program(script.program());
    cfg.add_myself("192.0.2.13", Some(5060)).unwrap();
    cfg.max_len = max_len;
    let m = SipMsg::parse(msg).unwrap();
    let mut ctx = MsgCtx::new(
        &m,
        &cfg,
        "198.51.100.7:5060".parse().unwrap(),
        "192.0.2.13:5060".parse().unwrap(),
        Proto::Udp,
    );
    ctx.log = LogSink::Capture(Vec::new());
    let out = match script.run_main(&mut ctx) {
        Outcome::Finished { ret, dropped } => (ret, dropped),
        Outcome::Suspended(_) => panic!("suspended"),
    };
    let calls = ctx
        .log
        .lines()
        .iter()
        .filter_map(|l| l.text.strip_prefix("call:").map(str::to_string))
        .collect();
    (out, calls)
}

#[test]
fn hello_world_routes_like_its_document() {
    // A call to another domain: relayed (route[1]), `break` stops.
    let (out, calls) = hello(INVITE_OUT, &[("loose_route", -1)], 65_535);
    assert_eq!(out, (0, false));
    assert_eq!(
        calls,
        [
            "mf_process_maxfwd_header(10)",
            "record_route()",
            "loose_route()",
            "t_relay()",
        ]
    );
    // A call to a local user who is not registered: 404.
    let (out, calls) = hello(INVITE_LOCAL, &[("loose_route", -1), ("lookup", -1)], 65_535);
    assert_eq!(out, (0, false));
    assert_eq!(
        calls,
        [
            "mf_process_maxfwd_header(10)",
            "record_route()",
            "loose_route()",
            "lookup(aliases)",
            "lookup(location)",
            "sl_send_reply(404, User Not Found)",
        ]
    );
    // ... who is registered: relayed to the contact.
    let (out, calls) = hello(INVITE_LOCAL, &[("loose_route", -1)], 65_535);
    assert_eq!(out, (1, false));
    assert_eq!(calls.last().map(String::as_str), Some("t_relay()"));
    // A relay failure answers with the error.
    let (_, calls) = hello(INVITE_OUT, &[("loose_route", -1), ("t_relay", -1)], 65_535);
    assert_eq!(calls.last().map(String::as_str), Some("sl_reply_error()"));
    // REGISTER: no Record-Route, saved to the location table.
    let (out, calls) = hello(REGISTER, &[("loose_route", -1)], 65_535);
    assert_eq!(out, (0, false));
    assert_eq!(
        calls,
        [
            "mf_process_maxfwd_header(10)",
            "loose_route()",
            "save(location)",
        ]
    );
    // Too many hops.
    let (out, calls) = hello(INVITE_OUT, &[("mf_process_maxfwd_header", -1)], 65_535);
    assert_eq!(out, (0, false));
    assert_eq!(
        calls,
        [
            "mf_process_maxfwd_header(10)",
            "sl_send_reply(483, Too Many Hops)",
        ]
    );
    // A message longer than max_len.
    let (_, calls) = hello(INVITE_OUT, &[], 100);
    assert_eq!(
        calls.last().map(String::as_str),
        Some("sl_send_reply(513, Message Overflow)")
    );
    // A loose-routed in-dialog request goes straight to route[1].
    let (_, calls) = hello(INVITE_OUT, &[], 65_535);
    assert_eq!(
        calls,
        [
            "mf_process_maxfwd_header(10)",
            "record_route()",
            "loose_route()",
            "t_relay()"
        ]
    );
}

/// More request shapes for the round trip: in-dialog with a Route set,
/// OPTIONS to the router, CANCEL, and an INVITE with a pre-loaded Route.
const BYE_ROUTED: &[u8] = b"BYE sip:alice@198.51.100.7 SIP/2.0\r\n\
Via: SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKbye1\r\n\
Max-Forwards: 70\r\n\
Route: <sip:192.0.2.13;lr>\r\n\
From: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n\
To: Alice <sip:alice@192.0.2.13>;tag=9fxced76sl\r\n\
Call-ID: 3848276298220188511@198.51.100.7\r\n\
CSeq: 2 BYE\r\n\
Content-Length: 0\r\n\
\r\n";

const OPTIONS: &[u8] = b"OPTIONS sip:192.0.2.13 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKopt1\r\n\
Max-Forwards: 70\r\n\
From: <sip:ping@198.51.100.7>;tag=p1\r\n\
To: <sip:192.0.2.13>\r\n\
Call-ID: opt-1@198.51.100.7\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\
\r\n";

const CANCEL: &[u8] = b"CANCEL sip:bob@192.0.2.13 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@192.0.2.13>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@192.0.2.13>\r\n\
Call-ID: 3848276298220188511@198.51.100.7\r\n\
CSeq: 1 CANCEL\r\n\
Content-Length: 0\r\n\
\r\n";

const PSTN_INVITE: &[u8] = b"INVITE sip:+12125551212@192.0.2.13 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKpstn\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@192.0.2.13>;tag=pstn1\r\n\
To: <sip:+12125551212@192.0.2.13>\r\n\
Call-ID: pstn-1@198.51.100.7\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@198.51.100.7>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 0\r\n\
\r\n";

/// Everything a run leaves behind that a later stage would act on.
fn run_state(script: &Script, msg: &[u8], seed: u64) -> String {
    let mut cfg = Config::from_program(script.program());
    cfg.add_myself("192.0.2.13", Some(5060)).unwrap();
    let m = SipMsg::parse(msg).unwrap();
    let mut ctx = MsgCtx::new(
        &m,
        &cfg,
        "198.51.100.7:5060".parse().unwrap(),
        "192.0.2.13:5060".parse().unwrap(),
        Proto::Udp,
    );
    ctx.flags = seed;
    ctx.log = LogSink::Capture(Vec::new());
    let out = match script.run_main(&mut ctx) {
        Outcome::Finished { ret, dropped } => format!("finished {ret} dropped={dropped}"),
        Outcome::Suspended(_) => "suspended".to_string(),
    };
    let log: Vec<String> = ctx.log.lines().iter().map(|l| l.text.clone()).collect();
    format!(
        "{out}\nlog={log:?}\nruri={:?}\ndu={:?}\nflags={:x} bflags={:x}\nbranches={:?}\nactions={:?}\nrport={} rc={}",
        ctx.new_uri.as_deref().map(String::from_utf8_lossy),
        ctx.dst_uri.as_deref().map(String::from_utf8_lossy),
        ctx.flags,
        ctx.bflags,
        ctx.branches,
        ctx.actions,
        ctx.force_rport,
        ctx.rc,
    )
}

/// The round trip: every seed config compiled, written in the
/// binary form, read back, loaded, and run on a set of messages, behaves
/// exactly as the program compiled from source. Stand-in functions answer
/// with codes that vary by name so that different paths are taken.
#[test]
fn binary_round_trip_behaves_like_source() {
    let cases = SEED_CASES;
    let messages = [
        INVITE_OUT,
        INVITE_LOCAL,
        REGISTER,
        BYE_ROUTED,
        OPTIONS,
        CANCEL,
        PSTN_INVITE,
    ];
    // Three answer patterns for the stand-ins: all succeed, the routing
    // checks fail, the authentication and lookups fail.
    let patterns: [&[(&str, i32)]; 3] = [
        &[],
        &[
            ("loose_route", -1),
            ("has_totag", -1),
            ("t_check_trans", -1),
        ],
        &[
            ("www_authorize", -1),
            ("proxy_authorize", -1),
            ("lookup", -1),
            ("is_uri_host_local", -1),
            ("allow_trusted", -1),
            ("t_relay", -1),
        ],
    ];
    let mut runs = 0;
    for (name, defines) in cases {
        let source = compile(name, defines);
        let bytes = ser_cfg::binary::write(&source);
        let loaded = ser_cfg::binary::read(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            source, loaded,
            "{name}: program differs after the round trip"
        );
        for codes in patterns {
            let a = Script::load(source.clone(), &stand_ins(&source, codes)).unwrap();
            let b = Script::load(loaded.clone(), &stand_ins(&loaded, codes)).unwrap();
            for msg in messages {
                for seed in [0, 0x40] {
                    let (x, y) = (run_state(&a, msg, seed), run_state(&b, msg, seed));
                    assert_eq!(x, y, "{name} {defines:?} {codes:?}");
                    runs += 1;
                }
            }
        }
    }
    assert_eq!(runs, 10 * 3 * 7 * 2);
}

/// `proto` and `af` compare with the words SER configs write in any case
/// (`proto == UDP`, `af == INET`), as SER's own words are case-blind.
#[test]
fn proto_and_af_words_match_in_any_case() {
    let text = "route {\n    if (proto == UDP && af == INET) { setflag(1); }\n    if (TCP == proto) { setflag(2); }\n    if (af != inet6) { setflag(3); }\n}\n";
    let script = ser_cfg::parse_str("proto.cfg", text, &[]).unwrap();
    let p = ser_cfg::compile::compile(&script).unwrap();
    let s = Script::load(p, &Registry::builtin()).unwrap();
    let cfg = Config::from_program(s.program());
    let m = SipMsg::parse(OPTIONS).unwrap();
    let mut ctx = MsgCtx::new(
        &m,
        &cfg,
        "198.51.100.7:5060".parse().unwrap(),
        "192.0.2.13:5060".parse().unwrap(),
        Proto::Udp,
    );
    ctx.log = LogSink::Capture(Vec::new());
    assert!(matches!(s.run_main(&mut ctx), Outcome::Finished { .. }));
    assert_eq!(ctx.flags, (1 << 1) | (1 << 3), "{:?}", ctx.log.lines());
}
