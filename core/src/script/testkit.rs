//! For unit tests of script functions: compile a config, run its main
//! route over one message with the built-in functions, drive offloaded
//! work (a database question) to its end on the test thread, and let the
//! test look at what the run left.

use std::net::SocketAddr;

use super::{
    Completion, Config, LogSink, MsgCtx, Outcome, Pending, Proto, Registry, Resume, Script,
};
use crate::sip::SipMsg;

/// What a run ended with.
pub(crate) struct Ran {
    /// The script's return code.
    pub ret: i32,
    /// How many times it was suspended for offloaded work.
    pub suspensions: usize,
}

/// Runs the main route of `cfg` over `msg` (received from 203.0.113.5 on
/// 192.0.2.1, UDP): `setup` adjusts the config (stores, modules) before
/// the run; `inspect` gets the result, the message state and the parsed
/// message. A suspension for anything but offloaded work panics; offloaded
/// work is waited for (5 s at most, then resumed with -99).
pub(crate) fn run<R>(
    cfg: &str,
    msg: &str,
    setup: impl FnOnce(&mut Config, &ser_cfg::ir::Program),
    inspect: impl FnOnce(Ran, &mut MsgCtx<'_, '_>, &SipMsg<'_>) -> R,
) -> R {
    let parsed = ser_cfg::parse_str("test.cfg", cfg, &[]).unwrap();
    let program = ser_cfg::compile::compile(&parsed).unwrap();
    let mut config = Config::from_program(&program);
    setup(&mut config, &program);
    let script = Script::load(program, &Registry::builtin()).unwrap();
    let m = SipMsg::parse(msg.as_bytes()).unwrap();
    let src: SocketAddr = "203.0.113.5:5060".parse().unwrap();
    let dst: SocketAddr = "192.0.2.1:5060".parse().unwrap();
    let mut ctx = MsgCtx::new(&m, &config, src, dst, Proto::Udp);
    ctx.log = LogSink::Capture(Vec::new());
    let mut out = script.run_main(&mut ctx);
    let mut suspensions = 0;
    let ret = loop {
        match out {
            Outcome::Finished { ret, .. } => break ret,
            Outcome::Suspended(mut s) => {
                suspensions += 1;
                let taken = Pending::Token {
                    kind: "taken",
                    token: 0,
                };
                let Pending::Offload(o) = std::mem::replace(&mut s.pending, taken) else {
                    panic!("suspended, not for offloaded work")
                };
                let (tx, rx) = std::sync::mpsc::channel();
                (o.start)(Completion::new(move |r| {
                    let _ = tx.send(r);
                }));
                let r = rx
                    .recv_timeout(std::time::Duration::from_secs(5))
                    .unwrap_or(Resume::Code(-99));
                out = script.resume_with(s, &mut ctx, r);
            }
        }
    };
    inspect(Ran { ret, suspensions }, &mut ctx, &m)
}

/// The log lines a run captured.
pub(crate) fn logs(ctx: &MsgCtx<'_, '_>) -> Vec<String> {
    ctx.log.lines().iter().map(|l| l.text.clone()).collect()
}
