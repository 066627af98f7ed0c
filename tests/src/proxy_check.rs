//! The stateless proxy on any datagram, shared by the `proxy` fuzz target
//! (`core/fuzz/fuzz_targets/proxy.rs`) and the corpus replay test: the
//! shard's path (parse, the route with the real sl/maxfwd functions,
//! `finish_request`, reply forwarding, the 400 for what does not parse)
//! must not panic, and every message it builds must parse again as SIP:
//! the router never sends what it would itself refuse.

use std::net::SocketAddr;
use std::sync::OnceLock;

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
    if (method == "MESSAGE") {
        force_rport();
    }
    if (uri == myself) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (method == "OPTIONS") {
        forward();
        exit;
    }
    forward("192.0.2.9", 5070);
}
"#;

struct World {
    script: Script,
    config: Config,
    local: Local,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let parsed = ser_cfg::parse_str("fuzz.cfg", ROUTE, &[]).expect("route parses");
        let program = ser_cfg::compile::compile(&parsed).expect("route compiles");
        let script = Script::load(program, &Registry::builtin()).expect("route loads");
        let mut config = Config::new();
        config.add_myself("192.0.2.13", Some(5060)).expect("myself");
        config.add_myself("sip.example.com", None).expect("alias");
        let local = Local {
            sockets: vec![
                LocalSocket::new("192.0.2.13:5060".parse().expect("v4")),
                LocalSocket::new("[2001:db8::13]:5060".parse().expect("v6")),
            ],
            sip_warning: true,
            server_signature: true,
            secret: 7,
        };
        World {
            script,
            config,
            local,
        }
    })
}

fn check(out: &mut Vec<Send>) {
    for s in out.drain(..) {
        if let Err(e) = SipMsg::parse(&s.data) {
            panic!(
                "built an unparsable message ({e:?}):\n{}",
                String::from_utf8_lossy(&s.data)
            );
        }
    }
}

/// Runs one datagram through the stateless path; panics if anything
/// built does not parse again.
pub fn run(data: &[u8]) {
    let w = world();
    let src: SocketAddr = "192.0.2.1:5062".parse().expect("src");
    let dst: SocketAddr = "192.0.2.13:5060".parse().expect("dst");
    let mut out = Vec::new();
    match SipMsg::parse(data) {
        Ok(m) if m.is_request() => {
            let _ = proxy::sl::is_local_ack(&m, &w.local);
            let mut ctx = MsgCtx::new(&m, &w.config, src, dst, Proto::Udp);
            ctx.log = LogSink::Discard;
            if let Outcome::Finished { .. } = w.script.run_main(&mut ctx) {
                proxy::finish_request(&mut ctx, 0, &w.local, &mut out);
            }
            ctx.recycle();
        }
        Ok(m) => {
            let mut edits = Edits::new();
            let _ = proxy::forward_reply(&m, &mut edits, &w.config, &w.local, 0, &mut out);
        }
        Err(e) => {
            proxy::reject(data, &e, src, 0, &w.local, &mut out);
        }
    }
    check(&mut out);
    proxy::sl::reject_with(data, 513, b"Message Too Large", src, 0, &w.local, &mut out);
    // A 513 for a cut datagram may copy broken header lines only when the
    // message did not index; it is then a best-effort reply, not checked.
    out.clear();
}
