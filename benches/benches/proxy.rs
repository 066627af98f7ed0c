//! The stateless proxy's user-space cost per message (issue 4): what a
//! shard does between "a datagram arrived" and "these bytes go out",
//! without the kernel.
//!
//! - `invite-forward`: parse the 836-byte INVITE, run a stateless route
//!   (`mf_process_maxfwd_header`, the `msg:len` check, `forward(ip, port)`)
//!   with the real sl/maxfwd functions, and build the forwarded request
//!   (our Via with its branch, received/rport, Max-Forwards decremented);
//! - `reply-forward`: parse a 200 OK whose top Via is ours, remove it and
//!   build the reply for the second Via;
//! - `invite-483`: parse an INVITE with Max-Forwards 0 and build the 483
//!   `sl_send_reply` sends (To-tag, Server header).
//!
//! Run: `cargo bench -p ser-benches --bench proxy`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ser_benches::{INVITE, OK200};
use ser_core::proxy::{self, Local, LocalSocket, Send};
use ser_core::script::{Config, LogSink, MsgCtx, Outcome, Proto, Registry, Script};
use ser_core::sip::SipMsg;
use ser_core::sip::builder::Edits;

const ROUTE: &str = r#"#!KAMAILIO
loadmodule "sl.so"
loadmodule "maxfwd.so"
request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (msg:len >= 4096) {
        sl_send_reply("513", "Message Too Large");
        exit;
    }
    forward("192.0.2.20", 5060);
}
"#;

fn script() -> Script {
    let parsed = match ser_cfg::parse_str("bench.cfg", ROUTE, &[]) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let program = match ser_cfg::compile::compile(&parsed) {
        Ok(p) => p,
        Err(e) => panic!("{e:?}"),
    };
    match Script::load(program, &Registry::builtin()) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

const SRC: ([u8; 4], u16) = ([192, 0, 2, 101], 5060);
const DST: ([u8; 4], u16) = ([192, 0, 2, 13], 5060);

/// One request through the route and the proxy; returns the bytes built.
fn request(
    script: &Script,
    data: &[u8],
    cfg: &Config,
    local: &Local,
    out: &mut Vec<Send>,
) -> usize {
    let Ok(msg) = SipMsg::parse(data) else {
        return 0;
    };
    let mut ctx = MsgCtx::new(&msg, cfg, SRC.into(), DST.into(), Proto::Udp);
    ctx.log = LogSink::Discard;
    if let Outcome::Finished { .. } = script.run_main(&mut ctx) {
        proxy::finish_request(&mut ctx, 0, local, out);
    }
    ctx.recycle();
    let n = out.iter().map(|s| s.data.len()).sum();
    out.clear();
    n
}

fn reply(data: &[u8], cfg: &Config, local: &Local, out: &mut Vec<Send>) -> usize {
    let Ok(msg) = SipMsg::parse(data) else {
        return 0;
    };
    let mut edits = Edits::new();
    let _ = proxy::forward_reply(&msg, &mut edits, cfg, local, 0, out);
    let n = out.iter().map(|s| s.data.len()).sum();
    out.clear();
    n
}

fn bench(c: &mut Criterion) {
    let script = script();
    let mut cfg = Config::new();
    if cfg.add_myself("192.0.2.13", Some(5060)).is_err()
        || cfg.add_myself("proxy.atlanta.example.com", None).is_err()
    {
        panic!("myself");
    }
    let local = Local {
        sockets: vec![LocalSocket::new(DST.into())],
        sip_warning: false,
        server_signature: true,
        secret: 0x5eed,
    };
    let hops0 = String::from_utf8_lossy(INVITE).replace("Max-Forwards: 70", "Max-Forwards: 0");
    let mut out = Vec::new();
    // Sanity: each case really builds a message.
    assert!(request(&script, INVITE, &cfg, &local, &mut out) > INVITE.len());
    assert!(reply(OK200, &cfg, &local, &mut out) > 0);
    assert!(request(&script, hops0.as_bytes(), &cfg, &local, &mut out) > 0);

    let mut g = c.benchmark_group("proxy");
    g.bench_function("invite-forward", |b| {
        b.iter(|| request(&script, black_box(INVITE), &cfg, &local, &mut out))
    });
    g.bench_function("reply-forward", |b| {
        b.iter(|| reply(black_box(OK200), &cfg, &local, &mut out))
    });
    g.bench_function("invite-483", |b| {
        b.iter(|| request(&script, black_box(hops0.as_bytes()), &cfg, &local, &mut out))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
