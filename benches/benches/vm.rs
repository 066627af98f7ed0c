//! Script VM benchmarks (issue: the VM).
//!
//! Hello World's main route, compiled from `cfg/tests/seeds/hello-world.cfg`
//! by `ser_cfg::compile`, run by `Script::run_main` on messages parsed once
//! outside the loop (a fresh `MsgCtx` per iteration, as per message):
//!
//! - `invite-relay`: an INVITE for another domain (`uri != myself`):
//!   max-forwards, `msg:len > max_len`, `method != "REGISTER"`,
//!   `record_route`, `loose_route` (false), `uri != myself`, `route(1)`,
//!   `t_relay`, `break`;
//! - `invite-local`: the same INVITE when its domain is ours: also the
//!   ACK/REGISTER tests, `lookup("aliases")`, a second `uri != myself`,
//!   `lookup("location")`, `route(1)`;
//! - `register`: a REGISTER for us: `route(2)`, `save("location")`;
//! - `parse+invite-relay`: the message parsed inside the loop too (cold
//!   caches: the Request-URI is parsed again for `myself`), the whole
//!   per-message cost up to the script's end.
//!
//! The module functions Hello World calls (`mf_process_maxfwd_header`,
//! `sl_send_reply`, `record_route`, `loose_route`, `lookup`, `save`,
//! `t_relay`, `sl_reply_error`) are trivial stand-ins registered in this
//! benchmark only, each returning a fixed code: this measures the VM
//! (dispatch, variables, comparisons, `myself`, route calls), not those
//! functions.
//!
//! `loop-1000`: `while ($var(i) < 1000) { $var(i) = $var(i) + 1; }`, a
//! hand-built program: 10 ops per iteration, so ns per run / 10,000 is the
//! cost of one op.
//!
//! Run: `cargo bench -p ser-benches --bench vm`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use ser_benches::{INVITE, REGISTER};
use ser_cfg::ast::{BinaryOp, RouteKind};
use ser_cfg::ir::{Op, Program, Route, VarDef};
use ser_core::script::{Config, LogSink, MsgCtx, Outcome, Proto, Registry, Ret, Script};
use ser_core::sip::SipMsg;

fn hello_world() -> Script {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cfg/tests/seeds/hello-world.cfg");
    let parsed = match ser_cfg::parse_file(&path, &[]) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let program = match ser_cfg::compile::compile(&parsed) {
        Ok(p) => p,
        Err(e) => panic!("{e:?}"),
    };
    let mut r = Registry::builtin();
    // Stand-ins: the benchmark measures the VM, not these functions.
    r.add("maxfwd", "mf_process_maxfwd_header", |_, _| Ret::Code(1));
    r.add("sl", "sl_send_reply", |_, _| Ret::Code(1));
    r.add("sl", "sl_reply_error", |_, _| Ret::Code(1));
    r.add("rr", "record_route", |_, _| Ret::Code(1));
    r.add("rr", "loose_route", |_, _| Ret::Code(-1));
    r.add("registrar", "lookup", |_, _| Ret::Code(1));
    r.add("registrar", "save", |_, _| Ret::Code(1));
    r.add("tm", "t_relay", |_, _| Ret::Code(1));
    match Script::load(program, &r) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn counting_loop() -> Script {
    let p = Program {
        strings: vec!["i".into(), "var".into(), "bench".into()],
        vars: vec![VarDef::Pv {
            name: 1,
            arg: Some(0),
            index: None,
        }],
        routes: vec![Route {
            kind: RouteKind::Request,
            name: None,
            code: vec![
                Op::PushInt(0),
                Op::Store(0),
                Op::Load(0), // 2
                Op::PushInt(1000),
                Op::Bin(BinaryOp::Lt),
                Op::JumpIfFalse(11),
                Op::Load(0),
                Op::PushInt(1),
                Op::Bin(BinaryOp::Add),
                Op::Store(0),
                Op::Jump(2),
                Op::ReturnDefault, // 11
            ],
            lines: vec![1; 12],
            file: 2,
        }],
        main_route: Some(0),
        ..Program::default()
    };
    match Script::load(p, &Registry::builtin()) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// Where the benchmark's messages come from and arrive.
const SRC: ([u8; 4], u16) = ([192, 0, 2, 101], 5060);
const DST: ([u8; 4], u16) = ([192, 0, 2, 13], 5060);

fn run(script: &Script, msg: &SipMsg<'_>, cfg: &Config) -> i32 {
    let mut ctx = MsgCtx::new(msg, cfg, SRC.into(), DST.into(), Proto::Udp);
    ctx.log = LogSink::Discard;
    match script.run_main(&mut ctx) {
        Outcome::Finished { ret, .. } => ret,
        Outcome::Suspended(_) => -99,
    }
}

fn bench(c: &mut Criterion) {
    let hello = hello_world();
    let mut proxy = Config::new();
    for h in ["192.0.2.13", "registrar.biloxi.example.com"] {
        if proxy.add_myself(h, Some(5060)).is_err() {
            panic!("{h}");
        }
    }
    let mut local = proxy.clone();
    if local.add_myself("biloxi.example.com", None).is_err() {
        panic!("biloxi");
    }
    let (Ok(invite), Ok(register)) = (SipMsg::parse(INVITE), SipMsg::parse(REGISTER)) else {
        panic!("messages do not parse");
    };
    // Sanity: the paths the names promise (relay and registration end with
    // `break`: 0; the local path ends at the route's end: 1).
    assert_eq!(run(&hello, &invite, &proxy), 0);
    assert_eq!(run(&hello, &invite, &local), 1);
    assert_eq!(run(&hello, &register, &proxy), 0);

    let mut g = c.benchmark_group("vm");
    g.bench_function("invite-relay", |b| {
        b.iter(|| run(&hello, black_box(&invite), &proxy))
    });
    g.bench_function("invite-local", |b| {
        b.iter(|| run(&hello, black_box(&invite), &local))
    });
    g.bench_function("register", |b| {
        b.iter(|| run(&hello, black_box(&register), &proxy))
    });
    g.bench_function("parse+invite-relay", |b| {
        b.iter(|| match SipMsg::parse(black_box(INVITE)) {
            Ok(m) => run(&hello, &m, &proxy),
            Err(_) => -1,
        })
    });
    let looping = counting_loop();
    g.bench_function("loop-1000", |b| {
        b.iter(|| run(&looping, black_box(&invite), &proxy))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
