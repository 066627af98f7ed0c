//! The transaction layer on any sequence of datagrams, shared by the `tm`
//! fuzz target (`core/fuzz/fuzz_targets/tm.rs`) and the corpus replay
//! test: requests, replies and timer fires in any order must not panic,
//! every message the layer sends must parse again, and once every timer
//! has fired no transaction is left.
//!
//! An input is a list of steps separated by `\0|\0`; the first byte of a
//! step says what it is:
//!
//! - `q` + bytes: a datagram from the caller's side (usually a request);
//! - `r` + three digits: the callee answers the last request the router
//!   sent it with that status (Vias, From, To with a tag, Call-ID, CSeq
//!   copied), so that replies reach their transactions;
//! - `R` + bytes: a raw datagram from the callee's side;
//! - `t` + digits: the clock moves on by that many hundred milliseconds and
//!   due timers fire.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ser_core::proxy::{self, Local, LocalSocket, Send};
use ser_core::script::{Config, LogSink, MsgCtx, Outcome, Proto, Registry, Script};
use ser_core::sip::builder::Edits;
use ser_core::sip::{HeaderName, Limits, SipMsg};
use ser_core::tm::{Env, Pre, Tm};

const ROUTE: &str = r#"#!KAMAILIO
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "textops.so"
request_route {
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if ($rU == "local") {
        t_reply("404", "Not Here");
        exit;
    }
    if ($rU == "fork") {
        append_branch("sip:two@192.0.2.10:5070");
    }
    t_on_reply("R");
    t_on_failure("F");
    if (!t_relay("192.0.2.9", 5070)) {
        sl_reply_error();
    }
}

onreply_route[R] {
    if (t_check_status("18[0-9]")) {
        setflag(3);
    }
}

failure_route[F] {
    if (t_is_canceled()) {
        exit;
    }
    if (t_check_status("486|408")) {
        append_branch("sip:next@192.0.2.11:5070");
        t_relay();
    }
}
"#;

struct World {
    script: Script,
    config: Config,
    local: Local,
    limits: Limits,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let parsed = ser_cfg::parse_str("tm-fuzz.cfg", ROUTE, &[]).expect("route parses");
        let program = ser_cfg::compile::compile(&parsed).expect("route compiles");
        let script = Script::load(program, &Registry::builtin()).expect("route loads");
        let mut config = Config::from_program(script.program());
        config.add_myself("192.0.2.13", Some(5060)).expect("myself");
        // Quiet: the layer's error lines would flood the fuzzer's output.
        config.set_debug(-100);
        let local = Local {
            sockets: vec![LocalSocket::new("192.0.2.13:5060".parse().expect("v4"))],
            sip_warning: false,
            server_signature: true,
            secret: 11,
        };
        World {
            script,
            config,
            local,
            limits: Limits::default(),
        }
    })
}

const SEP: &[u8] = b"\0|\0";

fn steps(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(SEP.len()).position(|w| w == SEP) {
        out.push(&rest[..i]);
        rest = &rest[i + SEP.len()..];
    }
    out.push(rest);
    out
}

/// The callee's reply to a request the router sent.
fn answer(req: &[u8], code: u16) -> Option<Vec<u8>> {
    let m = SipMsg::parse(req).ok()?;
    if !m.is_request() {
        return None;
    }
    let mut out = format!("SIP/2.0 {code} Answer\r\n").into_bytes();
    for h in m.headers_named(HeaderName::Via) {
        out.extend_from_slice(b"Via: ");
        out.extend_from_slice(m.value_of(h));
        out.extend_from_slice(b"\r\n");
    }
    for (name, h) in [
        ("From", HeaderName::From),
        ("Call-ID", HeaderName::CallId),
        ("CSeq", HeaderName::CSeq),
    ] {
        out.extend_from_slice(format!("{name}: ").as_bytes());
        out.extend_from_slice(m.value(h)?);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"To: ");
    out.extend_from_slice(m.value(HeaderName::To)?);
    if code > 100 && m.to().ok().and_then(|t| t.tag()).is_none() {
        out.extend_from_slice(b";tag=callee");
    }
    out.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
    Some(out)
}

fn check(out: &mut Vec<Send>, last_down: &mut Option<Vec<u8>>, caller: SocketAddr) {
    for s in out.drain(..) {
        if let Err(e) = SipMsg::parse(&s.data) {
            panic!(
                "sent an unparsable message ({e:?}):\n{}",
                String::from_utf8_lossy(&s.data)
            );
        }
        if s.dst != caller && s.data.first() != Some(&b'S') {
            *last_down = Some(s.data);
        }
    }
}

/// Runs one input (see the module docs); panics on a broken message or a
/// transaction left behind.
pub fn run(data: &[u8]) {
    let w = world();
    let env = Env {
        script: &w.script,
        config: &w.config,
        local: &w.local,
        limits: &w.limits,
    };
    let caller: SocketAddr = "192.0.2.1:5062".parse().expect("caller");
    let callee: SocketAddr = "192.0.2.9:5070".parse().expect("callee");
    let start = Instant::now();
    let mut clock = start;
    let mut tm = Tm::new(start, 64);
    let mut out = Vec::new();
    let mut last_down: Option<Vec<u8>> = None;
    for step in steps(data).into_iter().take(64) {
        let Some((&kind, body)) = step.split_first() else {
            continue;
        };
        let (bytes, from) = match kind {
            b'q' => (body.to_vec(), caller),
            b'R' => (body.to_vec(), callee),
            b'r' => {
                let code = std::str::from_utf8(body)
                    .ok()
                    .and_then(|t| t.trim().parse::<u16>().ok())
                    .filter(|c| (100..=699).contains(c))
                    .unwrap_or(200);
                match last_down.as_deref().and_then(|r| answer(r, code)) {
                    Some(b) => (b, callee),
                    None => continue,
                }
            }
            b't' => {
                let n = std::str::from_utf8(body)
                    .ok()
                    .and_then(|t| t.trim().parse::<u64>().ok())
                    .unwrap_or(5)
                    .min(3000);
                clock += Duration::from_millis(100 * n);
                tm.fire(clock, &env, &mut out);
                check(&mut out, &mut last_down, caller);
                continue;
            }
            _ => continue,
        };
        handle(&mut tm, &env, &bytes, from, &mut out);
        check(&mut out, &mut last_down, caller);
    }
    // Every timer fires in the end (the clock moving in steps of 10 s, as
    // a loaded shard's would): nothing is left.
    for _ in 0..80 {
        clock += Duration::from_secs(10);
        tm.fire(clock, &env, &mut out);
        check(&mut out, &mut last_down, caller);
    }
    assert_eq!(tm.live(), 0, "transactions left after every timer fired");
}

fn handle(tm: &mut Tm, env: &Env<'_>, bytes: &[u8], from: SocketAddr, out: &mut Vec<Send>) {
    let dst: SocketAddr = "192.0.2.13:5060".parse().expect("dst");
    let Ok(m) = SipMsg::parse(bytes) else {
        return;
    };
    if m.is_request() {
        let facts = match tm.on_request(&m, out) {
            Pre::Absorbed => return,
            Pre::Run(t) => t,
        };
        let mut ctx = MsgCtx::new(&m, env.config, from, dst, Proto::Udp);
        ctx.log = LogSink::Discard;
        ctx.tm = facts;
        if let Outcome::Finished { .. } = env.script.run_main(&mut ctx) {
            tm.finish_request(&mut ctx, 0, env, out);
        }
        ctx.recycle();
    } else {
        let mut edits = Edits::new();
        if !tm.on_reply(&m, &mut edits, from, 0, env, out) {
            let _ = proxy::forward_reply(&m, &mut edits, env.config, env.local, 0, out);
        }
    }
}
