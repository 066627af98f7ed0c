//! The `tm` module's script functions and the transaction facts a script
//! run sees ([`TmCtx`]).
//!
//! As the stateless functions do, the functions that act on the network
//! (`t_relay`, `t_newtran`, `t_reply`, `t_relay_cancel`) record an
//! [`Action`] that the shard's transaction layer ([`super::engine`])
//! carries out when the route ends. What can fail early is checked inside
//! the call, so that `if (!t_relay()) { sl_reply_error(); }` works as in
//! SER: `t_relay` returns false when no destination of the set can be
//! reached (an unresolvable host, a transport not built, no socket of the
//! address family) or when the request was already relayed in this run
//! ("transaction already in process").
//!
//! Functions that read the transaction (`t_check_status`,
//! `t_is_canceled`, `t_check_trans`, `t_branch_timeout`, ...) read
//! [`MsgCtx::tm`], which the shard fills before the run: the reply's
//! status in an `onreply_route`, the chosen final status in a
//! `failure_route`, whether a CANCEL's INVITE transaction exists.

use std::time::Duration;

use ser_cfg::ast::RouteKind;
use ser_cfg::ir::RouteId;

use crate::proxy::forward::{self, Fwd};
use crate::script::{Action, Args, MsgCtx, Proto, Ret, level};
use crate::sip::method::Method;

/// The transaction facts and choices of one script run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TmCtx {
    /// `t_on_reply`, `t_on_failure`, `t_on_branch`: the routes armed.
    pub on_reply: Option<RouteId>,
    pub on_failure: Option<RouteId>,
    pub on_branch: Option<RouteId>,
    /// `t_set_fr(inv, noninv)`: final response timers of this
    /// transaction (`None`: the module's).
    pub fr_inv: Option<Duration>,
    pub fr: Option<Duration>,
    /// The status the run looks at: the reply's in an `onreply_route`,
    /// the chosen final reply's in a `failure_route`.
    pub status: Option<u16>,
    /// The transaction was cancelled (a CANCEL arrived for it).
    pub canceled: bool,
    /// The message belongs to a transaction: `t_newtran`/`t_relay` ran, or
    /// this is a reply or failure route of one.
    pub in_transaction: bool,
    /// For a CANCEL: the INVITE transaction it cancels exists.
    pub invite_found: bool,
    /// In a `failure_route`: the failed branch timed out / got a reply;
    /// any branch timed out / got a reply.
    pub branch_timeout: bool,
    pub branch_replied: bool,
    pub any_timeout: bool,
    pub any_replied: bool,
    /// `t_set_auto_inv_100(0|1)`.
    pub auto_100: Option<bool>,
    /// In a `failure_route`: the Request-URI the route started with (to
    /// tell whether it changed it).
    pub failure_ruri: Option<Vec<u8>>,
    /// The request's server transaction key, when the lookup before the
    /// script built it (the transaction made after the script reuses it).
    pub key: Option<super::key::ServerKey>,
}

fn fail(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, msg: &str) -> Ret {
    let (_, name) = args.function();
    ctx.log(level::L_ERR, &format!("{name}(): {msg}"));
    Ret::Code(-1)
}

fn truth(b: bool) -> Ret {
    Ret::Code(if b { 1 } else { -1 })
}

/// `t_relay()`, `t_relay(host, port)`.
pub(crate) fn t_relay(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    relay_with(ctx, args, None)
}

/// `t_relay_to_udp()`, `t_relay_to_udp(host, port)`.
pub(crate) fn t_relay_to_udp(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    relay_with(ctx, args, Some(Proto::Udp))
}

/// `t_relay_to_tcp(...)`, `t_relay_to_tls(...)`: refused by the
/// destination check (UDP only for now), with the reason in the log.
pub(crate) fn t_relay_to_tcp(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    relay_with(ctx, args, Some(Proto::Tcp))
}

pub(crate) fn t_relay_to_tls(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    relay_with(ctx, args, Some(Proto::Tls))
}

fn relay_with(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, proto: Option<Proto>) -> Ret {
    if ctx.msg.is_response() {
        return fail(ctx, args, "cannot relay a reply");
    }
    if ctx
        .actions
        .iter()
        .any(|a| matches!(a, Action::Relay { .. }))
    {
        return fail(ctx, args, "transaction already in process (relayed before)");
    }
    let host = match args.bytes(0, ctx) {
        Some(h) if !h.is_empty() => Some(h.into_owned()),
        _ => None,
    };
    let port = match args.len() {
        0 | 1 => None,
        _ => match args.int(1, ctx) {
            Some(0) | None => None,
            Some(p) => match u16::try_from(p) {
                Ok(p) => Some(p),
                Err(_) => return fail(ctx, args, &format!("bad port {p}")),
            },
        },
    };
    let fwd = Fwd {
        host: host.as_deref(),
        port,
        proto,
        last: false,
        ruri: (ctx.route_kind == RouteKind::Failure).then(|| ruri_in_failure(ctx)),
    };
    if let Err(e) = forward::check_destinations(ctx, &fwd) {
        return fail(ctx, args, &e);
    }
    ctx.actions.push(Action::Relay { host, port, proto });
    ctx.tm.in_transaction = true;
    Ret::Code(1)
}

/// In a `failure_route`, `t_relay` sends the branches appended there;
/// the Request-URI only when the route changed it and appended none (SER
/// sends only appended branches; this is the friendlier superset).
pub(crate) fn ruri_in_failure(ctx: &MsgCtx<'_, '_>) -> bool {
    ctx.branches.is_empty() && ctx.new_uri.as_deref() != ctx.tm.failure_ruri.as_deref()
}

/// `t_newtran()`: the request gets its transaction now (its
/// retransmissions are absorbed from here on).
pub(crate) fn t_newtran(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match ctx.msg.method() {
        None => fail(ctx, args, "cannot make a transaction for a reply"),
        Some(Method::Ack) => fail(ctx, args, "an ACK has no transaction"),
        Some(_) => {
            if !ctx.tm.in_transaction {
                ctx.actions.push(Action::NewTran);
                ctx.tm.in_transaction = true;
            }
            Ret::Code(1)
        }
    }
}

/// `t_reply(code, reason)`: a stateful reply. Without a transaction one is
/// made first (Kamailio refuses; here `t_reply` implies `t_newtran`).
pub(crate) fn t_reply(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match ctx.msg.method() {
        None => return fail(ctx, args, "cannot reply to a reply"),
        Some(Method::Ack) => return fail(ctx, args, "will not reply to an ACK"),
        Some(_) => {}
    }
    let code = match args.int(0, ctx) {
        Some(c) if (100..=699).contains(&c) => c as u16,
        _ => {
            let t = args.bytes(0, ctx).unwrap_or_default();
            let t = String::from_utf8_lossy(&t).into_owned();
            return fail(ctx, args, &format!("bad status code `{t}` (100..699)"));
        }
    };
    let reason = args.bytes(1, ctx).unwrap_or_default().into_owned();
    if reason.iter().any(|&b| b == b'\r' || b == b'\n') {
        return fail(ctx, args, "the reason phrase contains CR or LF");
    }
    if !ctx.tm.in_transaction && ctx.route_kind != RouteKind::Failure {
        ctx.actions.push(Action::NewTran);
        ctx.tm.in_transaction = true;
    }
    ctx.actions.push(Action::TReply { code, reason });
    Ret::Code(1)
}

/// `t_release()`: nothing to free early here (a transaction ends by its
/// own timers, as after `t_release` in Kamailio); true.
pub(crate) fn t_release(_ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    Ret::Code(1)
}

/// `t_check_trans()`: a CANCEL whose INVITE transaction exists, or a run
/// inside a transaction (reply and failure routes). Retransmissions of
/// requests with a transaction never reach the script (they are absorbed
/// before it), so for them it is false.
pub(crate) fn t_check_trans(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    match ctx.msg.method() {
        Some(Method::Cancel) => truth(ctx.tm.invite_found),
        Some(_) => truth(ctx.route_kind != RouteKind::Request && ctx.tm.in_transaction),
        None => truth(ctx.tm.in_transaction),
    }
}

/// `t_lookup_cancel()`: whether a CANCEL's INVITE transaction exists.
pub(crate) fn t_lookup_cancel(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    truth(ctx.msg.method() == Some(Method::Cancel) && ctx.tm.invite_found)
}

/// `t_relay_cancel()`: a CANCEL whose INVITE transaction exists is
/// relayed to its branches and answered, and the script stops (returns
/// 0); otherwise it goes on (1).
pub(crate) fn t_relay_cancel(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    if ctx.msg.method() == Some(Method::Cancel) && ctx.tm.invite_found {
        ctx.actions.push(Action::Relay {
            host: None,
            port: None,
            proto: None,
        });
        ctx.tm.in_transaction = true;
        return Ret::Code(0);
    }
    Ret::Code(1)
}

fn arm(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, set: fn(&mut TmCtx, RouteId)) -> Ret {
    match args.route(0) {
        Some(r) => {
            set(&mut ctx.tm, r);
            Ret::Code(1)
        }
        None => fail(ctx, args, "the argument is not a route"),
    }
}

/// `t_on_reply("name")`.
pub(crate) fn t_on_reply(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    arm(ctx, args, |t, r| t.on_reply = Some(r))
}

/// `t_on_failure("name")`.
pub(crate) fn t_on_failure(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    arm(ctx, args, |t, r| t.on_failure = Some(r))
}

/// `t_on_branch("name")`.
pub(crate) fn t_on_branch(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    arm(ctx, args, |t, r| t.on_branch = Some(r))
}

/// `t_check_status("re")`: the status in view (see [`TmCtx::status`])
/// matches the regular expression (anchored at neither end, as
/// Kamailio's `regexec`).
pub(crate) fn t_check_status(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(code) = ctx.tm.status.or_else(|| ctx.msg.status()) else {
        return Ret::Code(-1);
    };
    let text = code.to_string();
    let hit = match args.regex(0) {
        Some(re) => re.is_match(text.as_bytes()),
        None => {
            let pattern = args.bytes(0, ctx).unwrap_or_default().into_owned();
            match args.script.dyn_match(&pattern, text.as_bytes()) {
                Ok(b) => b,
                Err(e) => return fail(ctx, args, &e),
            }
        }
    };
    truth(hit)
}

/// `t_is_canceled()`.
pub(crate) fn t_is_canceled(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    truth(ctx.tm.canceled)
}

/// `t_branch_timeout()`, `t_branch_replied()`, `t_any_timeout()`,
/// `t_any_replied()`.
pub(crate) fn t_branch_timeout(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    truth(ctx.tm.branch_timeout)
}

pub(crate) fn t_branch_replied(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    truth(ctx.tm.branch_replied)
}

pub(crate) fn t_any_timeout(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    truth(ctx.tm.any_timeout)
}

pub(crate) fn t_any_replied(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    truth(ctx.tm.any_replied)
}

/// A timer argument in milliseconds; 0 (or nothing) means "the default".
fn ms_arg(ctx: &MsgCtx<'_, '_>, args: &Args<'_>, i: usize) -> Result<Option<Duration>, String> {
    if i >= args.len() {
        return Ok(None);
    }
    match args.int(i, ctx) {
        Some(0) => Ok(None),
        Some(n) if n > 0 => Ok(Some(Duration::from_millis(n as u64))),
        _ => {
            let t = args.bytes(i, ctx).unwrap_or_default();
            Err(format!(
                "bad timer value `{}` (milliseconds)",
                String::from_utf8_lossy(&t)
            ))
        }
    }
}

/// `t_set_fr(fr_inv_ms[, fr_ms])`: this transaction's final response
/// timers in milliseconds (0 keeps the default).
pub(crate) fn t_set_fr(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let inv = match ms_arg(ctx, args, 0) {
        Ok(v) => v,
        Err(e) => return fail(ctx, args, &e),
    };
    let non = match ms_arg(ctx, args, 1) {
        Ok(v) => v,
        Err(e) => return fail(ctx, args, &e),
    };
    ctx.tm.fr_inv = inv;
    ctx.tm.fr = non;
    Ret::Code(1)
}

/// `t_reset_fr()`: back to the module's timers.
pub(crate) fn t_reset_fr(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    ctx.tm.fr_inv = None;
    ctx.tm.fr = None;
    Ret::Code(1)
}

/// `t_set_auto_inv_100(0|1)`.
pub(crate) fn t_set_auto_inv_100(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match args.int(0, ctx) {
        Some(n) => {
            ctx.tm.auto_100 = Some(n != 0);
            Ret::Code(1)
        }
        None => fail(ctx, args, "expects 0 or 1"),
    }
}
