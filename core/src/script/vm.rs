//! The interpreter for [`ser_cfg::ir::Op`].
//!
//! # Semantics (on top of those in `ser_cfg::ir`)
//!
//! - Values are as in [`super::value`] (truth, comparisons, arithmetic).
//! - `Call` stores the function's code in `$rc`; 0 stops the script
//!   (`Finished { ret: 0 }`), otherwise the code is pushed as an `Int`.
//! - `Route` runs the route with its own part of the operand stack; when
//!   it returns, whatever it left is discarded and its return code is
//!   stored in `$rc` and pushed. A return code of 0 from a sub-route stops
//!   the script, as a function's does (Kamailio: `return(0)` is `exit`).
//! - `Return` pops the value and converts it to a code: an `Int` (clamped
//!   to `i32`), a string holding an integer, else 1 for a true value and
//!   -1 for a false one (`Null`, `""`). `ReturnDefault` returns 1. (Every
//!   route ends in an op that leaves it and every jump lands on an op of
//!   its route: `Program::validate` refuses anything else at load time.)
//! - `Myself` pops a value and pushes whether it names this router (see
//!   [`super::Config::is_myself`]): a `sip:`/`sips:` URI is compared by
//!   host and port (the scheme's default port when it has none); anything
//!   else is read as `host[:port]` or a bare IPv6 address, and with no
//!   port any configured port matches.
//! - `Match`/`NotMatch` match the value's text against a regex compiled at
//!   load time; `Bin(Match)`/`Bin(NotMatch)` compile the right operand at
//!   run time (case-insensitive, cached per script). `Null` is matched as
//!   the empty string.
//! - `Bin(And)`/`Bin(Or)` never reach the VM (`Program::validate` refuses
//!   them: `&&`/`||` are jumps).
//!
//! # Bounds and errors
//!
//! A run-time error — a type error, a bad dynamic regex, an assignment
//! that cannot be made, a stack under- or overflow, too deep route calls
//! ([`super::Limits::max_depth`]), too many loop iterations in one route
//! invocation ([`super::Limits::max_loop_iterations`], counted as
//! backward jumps), too many steps in one run ([`super::Limits::max_steps`]:
//! loop iterations, route and function calls) —
//! is logged at `L_ERR` as `route[NAME] (file:line): message` and ends the
//! script with [`E_SCRIPT`]. Nothing a program or a message controls can
//! make the VM panic.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use ser_cfg::ast::BinaryOp;
use ser_cfg::ir::Op;

use crate::sip::error::Where;
use crate::sip::host::{Host, parse_hostport, parse_v6};
use crate::sip::uri::Uri;

use super::Script;
use super::ctx::{Config, MsgCtx, level};
use super::registry::{Args, Pending, Ret};
use super::value::{self, Value};

/// The return code of a script stopped by a run-time error (Kamailio's
/// `E_SCRIPT`).
pub const E_SCRIPT: i32 = -10;

/// One route invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) route: u32,
    /// Next op to run (saved while a sub-route runs or the run is
    /// suspended).
    pub(crate) pc: u32,
    /// Operand stack height when the route was entered.
    pub(crate) base: u32,
    /// Backward jumps taken so far in this invocation.
    pub(crate) back_jumps: u32,
}

/// The VM state of one run.
pub(crate) struct Machine<'r> {
    pub(crate) stack: Vec<Value<'r>>,
    pub(crate) frames: Vec<Frame>,
    /// Steps taken (see [`super::Limits::max_steps`]).
    pub(crate) steps: u64,
}

/// How [`exec`] stopped.
pub(crate) enum Exit {
    Finished { ret: i32, dropped: bool },
    Suspend(Pending),
}

#[cold]
#[inline(never)]
fn fail(
    script: &Script,
    ctx: &mut MsgCtx<'_, '_>,
    route: u32,
    pc: usize,
    msg: fmt::Arguments<'_>,
) -> Exit {
    let text = format!(
        "{} ({}): {msg}",
        script.route_label(route),
        script.position(route, pc)
    );
    ctx.log(level::L_ERR, &text);
    Exit::Finished {
        ret: E_SCRIPT,
        dropped: false,
    }
}

/// A return value as a return code.
#[inline]
fn retcode(v: &Value<'_>) -> i32 {
    let clamp = |n: i64| n.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    match v {
        Value::Int(n) => clamp(*n),
        Value::Str(s) => match value::parse_int(s) {
            Some(n) => clamp(n),
            None if !s.is_empty() => 1,
            None => -1,
        },
        Value::Null => -1,
    }
}

#[inline]
fn bool_value<'r>(b: bool) -> Value<'r> {
    Value::Int(i64::from(b))
}

/// `lhs op rhs`.
#[inline]
fn binop<'r>(
    script: &Script,
    op: BinaryOp,
    l: Value<'r>,
    r: Value<'r>,
) -> Result<Value<'r>, String> {
    Ok(match op {
        BinaryOp::Eq => bool_value(l.script_eq(&r)),
        BinaryOp::Ne => bool_value(!l.script_eq(&r)),
        BinaryOp::Lt => bool_value(l.script_cmp(&r) == Ordering::Less),
        BinaryOp::Gt => bool_value(l.script_cmp(&r) == Ordering::Greater),
        BinaryOp::Le => bool_value(l.script_cmp(&r) != Ordering::Greater),
        BinaryOp::Ge => bool_value(l.script_cmp(&r) != Ordering::Less),
        BinaryOp::Add => value::add(l, r).map_err(|e| e.to_string())?,
        BinaryOp::Sub => Value::Int(value::arith("-", &l, &r).map_err(|e| e.to_string())?),
        BinaryOp::Mul => Value::Int(value::arith("*", &l, &r).map_err(|e| e.to_string())?),
        BinaryOp::Div => Value::Int(value::arith("/", &l, &r).map_err(|e| e.to_string())?),
        BinaryOp::Mod => Value::Int(value::arith("%", &l, &r).map_err(|e| e.to_string())?),
        BinaryOp::Match | BinaryOp::NotMatch => {
            let hit = r.with_bytes(|pat| l.with_bytes(|subj| script.dyn_match(pat, subj)))?;
            bool_value(hit == (op == BinaryOp::Match))
        }
        BinaryOp::And => bool_value(l.is_true() && r.is_true()),
        BinaryOp::Or => bool_value(l.is_true() || r.is_true()),
    })
}

/// Whether a parsed URI names this router.
#[inline]
fn uri_is_myself(cfg: &Config, u: &Uri<'_>) -> bool {
    match u.host() {
        Some(h) => cfg.is_myself(&h, Some(u.port_or_default())),
        None => false,
    }
}

/// `x == myself` (see the module docs).
pub(crate) fn is_myself(ctx: &MsgCtx<'_, '_>, v: &Value<'_>) -> bool {
    let cfg = ctx.config;
    // Fast path: the received Request-URI, parsed once and cached.
    if let Value::Str(Cow::Borrowed(b)) = v
        && let Some(r) = ctx.msg.ruri_bytes()
        && b.as_ptr() == r.as_ptr()
        && b.len() == r.len()
    {
        return ctx.msg.ruri().is_ok_and(|u| uri_is_myself(cfg, u));
    }
    v.with_bytes(|b| {
        let b = b.trim_ascii();
        if b.is_empty() {
            return false;
        }
        if let Ok(u) = Uri::parse(b, ctx.msg.limits())
            && u.host().is_some()
        {
            return uri_is_myself(cfg, &u);
        }
        if let Some(a) = parse_v6(b) {
            return cfg.is_myself(&Host::V6(a, b), None);
        }
        match parse_hostport(b, Where::Uri) {
            Ok((h, p)) => cfg.is_myself(&h, p),
            Err(_) => false,
        }
    })
}

/// Runs `m` until the script ends or suspends. `m.frames` must hold at
/// least the top route's frame.
pub(crate) fn exec<'s, 'm, 'a, 'r>(
    script: &'s Script,
    m: &mut Machine<'r>,
    ctx: &mut MsgCtx<'m, 'a>,
) -> Exit
where
    's: 'r,
    'm: 'r,
    'a: 'r,
{
    let lim = script.limits;
    let routes = &script.program.routes;
    'frames: loop {
        let Some(&Frame {
            route: rid,
            pc: start,
            base,
            back_jumps,
        }) = m.frames.last()
        else {
            return Exit::Finished {
                ret: 1,
                dropped: false,
            };
        };
        let Some(route) = routes.get(rid as usize) else {
            return fail(script, ctx, rid, 0, format_args!("no route {rid}"));
        };
        let code: &'s [Op] = &route.code;
        let base_len = base as usize;
        let mut pc = start as usize;
        let mut back = back_jumps;

        loop {
            let at = pc;
            macro_rules! bail {
                ($($t:tt)*) => {
                    return fail(script, ctx, rid, at, format_args!($($t)*))
                };
            }
            macro_rules! push {
                ($v:expr) => {{
                    if m.stack.len() >= lim.max_stack {
                        bail!("operand stack overflow ({} values)", lim.max_stack);
                    }
                    m.stack.push($v);
                }};
            }
            macro_rules! pop {
                () => {{
                    if m.stack.len() <= base_len {
                        bail!("operand stack underflow");
                    }
                    match m.stack.pop() {
                        Some(v) => v,
                        None => bail!("operand stack underflow"),
                    }
                }};
            }
            macro_rules! step {
                () => {{
                    m.steps += 1;
                    if m.steps > lim.max_steps {
                        bail!(
                            "more than {} steps (loop iterations and calls) in one run: stopped",
                            lim.max_steps
                        );
                    }
                }};
            }
            macro_rules! jump {
                ($t:expr) => {{
                    let t = $t as usize;
                    if t <= at {
                        step!();
                        back += 1;
                        if back > lim.max_loop_iterations {
                            bail!(
                                "loop ran more than {} iterations: stopped",
                                lim.max_loop_iterations
                            );
                        }
                    }
                    pc = t;
                }};
            }

            let op = match code.get(pc) {
                Some(op) => *op,
                None => Op::ReturnDefault,
            };
            pc += 1;
            match op {
                Op::PushInt(n) => push!(Value::Int(n)),
                Op::PushStr(id) => push!(Value::str(script.program.str(id).as_bytes())),
                Op::PushNull => push!(Value::Null),
                Op::Load(v) => {
                    let Some(pv) = script.vars.get(v as usize) else {
                        bail!("no variable {v}");
                    };
                    let val = pv.get(ctx);
                    push!(val);
                }
                Op::Store(v) | Op::StoreAll(v) => {
                    let val = pop!();
                    let Some(pv) = script.vars.get(v as usize) else {
                        bail!("no variable {v}");
                    };
                    if let Err(e) = pv.set(ctx, val, matches!(op, Op::StoreAll(_))) {
                        bail!("assignment to {}: {e}", script.var_label(v));
                    }
                }
                Op::Not => {
                    let v = pop!();
                    push!(bool_value(!v.is_true()));
                }
                Op::Neg => {
                    let v = pop!();
                    match value::neg(&v) {
                        Ok(n) => push!(Value::Int(n)),
                        Err(e) => bail!("{e}"),
                    }
                }
                Op::Bin(b) => {
                    let r = pop!();
                    let l = pop!();
                    match binop(script, b, l, r) {
                        Ok(v) => push!(v),
                        Err(e) => bail!("`{}`: {e}", b.symbol()),
                    }
                }
                Op::Match(x) | Op::NotMatch(x) => {
                    let v = pop!();
                    let Some(re) = script.regexes.get(x as usize) else {
                        bail!("no regex {x}");
                    };
                    let hit = v.with_bytes(|b| re.is_match(b));
                    push!(bool_value(hit == matches!(op, Op::Match(_))));
                }
                Op::Myself => {
                    let v = pop!();
                    push!(bool_value(is_myself(ctx, &v)));
                }
                Op::Call(c) => {
                    step!();
                    let Some(call) = script.calls.get(c as usize) else {
                        bail!("no call {c}");
                    };
                    let args = Args {
                        script,
                        args: &call.args,
                        module: &call.module,
                        name: &call.name,
                    };
                    match (call.f)(ctx, &args) {
                        Ret::Code(rc) => {
                            ctx.rc = rc;
                            if rc == 0 {
                                return Exit::Finished {
                                    ret: 0,
                                    dropped: false,
                                };
                            }
                            push!(Value::Int(i64::from(rc)));
                        }
                        Ret::Suspend(p) => {
                            if let Some(f) = m.frames.last_mut() {
                                f.pc = pc as u32;
                                f.back_jumps = back;
                            }
                            return Exit::Suspend(p);
                        }
                    }
                }
                Op::Pop => {
                    pop!();
                }
                Op::Dup => {
                    if m.stack.len() <= base_len {
                        bail!("operand stack underflow");
                    }
                    let Some(top) = m.stack.last() else {
                        bail!("operand stack underflow");
                    };
                    let d = top.clone();
                    push!(d);
                }
                Op::Jump(t) => jump!(t),
                Op::JumpIfFalse(t) => {
                    let v = pop!();
                    if !v.is_true() {
                        jump!(t);
                    }
                }
                Op::JumpIfFalseKeep(t) | Op::JumpIfTrueKeep(t) => {
                    if m.stack.len() <= base_len {
                        bail!("operand stack underflow");
                    }
                    let Some(top) = m.stack.last() else {
                        bail!("operand stack underflow");
                    };
                    if top.is_true() == matches!(op, Op::JumpIfTrueKeep(_)) {
                        jump!(t);
                    } else {
                        m.stack.pop();
                    }
                }
                Op::Route(r) => {
                    step!();
                    if m.frames.len() >= lim.max_depth {
                        bail!("route calls nested deeper than {}", lim.max_depth);
                    }
                    if routes.get(r as usize).is_none() {
                        bail!("no route {r}");
                    }
                    if let Some(f) = m.frames.last_mut() {
                        f.pc = pc as u32;
                        f.back_jumps = back;
                    }
                    m.frames.push(Frame {
                        route: r,
                        pc: 0,
                        base: m.stack.len() as u32,
                        back_jumps: 0,
                    });
                    continue 'frames;
                }
                Op::Return | Op::ReturnDefault => {
                    let code = if op == Op::Return {
                        let v = pop!();
                        retcode(&v)
                    } else {
                        1
                    };
                    m.frames.pop();
                    m.stack.truncate(base_len);
                    if m.frames.is_empty() {
                        return Exit::Finished {
                            ret: code,
                            dropped: false,
                        };
                    }
                    ctx.rc = code;
                    if code == 0 {
                        return Exit::Finished {
                            ret: 0,
                            dropped: false,
                        };
                    }
                    push!(Value::Int(i64::from(code)));
                    continue 'frames;
                }
                Op::Exit => {
                    return Exit::Finished {
                        ret: 0,
                        dropped: false,
                    };
                }
                Op::Drop => {
                    return Exit::Finished {
                        ret: 0,
                        dropped: true,
                    };
                }
            }
        }
    }
}
