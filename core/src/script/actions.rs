//! The built-in functions: SER's core actions (module `core`), the
//! branch-flag functions (`kex` in Kamailio, core in SER 2.x), `xlog`,
//! `textops`' `is_method`, and `cfgutils`' `sleep`/`usleep` (which suspend
//! the script).
//!
//! Every function logs what went wrong (naming itself) and returns `-1`
//! when its arguments are unusable; none stops the script by itself.

use std::time::{Duration, Instant};

use super::ctx::{Action, Branch, MsgCtx, Proto, level};
use super::pv::check_uri_text;
use super::registry::{Args, Pending, Ret};
use super::uri_ops::{self, UriEdit};
use super::value::{Value, split_once_byte};

/// Kamailio's `E_TOO_MANY_BRANCHES`.
const E_TOO_MANY_BRANCHES: i32 = -12;

fn fail(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, msg: &str) -> Ret {
    let (_, name) = args.function();
    ctx.log(level::L_ERR, &format!("{name}(): {msg}"));
    Ret::Code(-1)
}

#[inline]
fn yes_no(b: bool) -> Ret {
    Ret::Code(if b { 1 } else { -1 })
}

/// The text of argument `i`, or `None` (with the error logged).
fn text_arg(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, i: usize) -> Result<Vec<u8>, Ret> {
    match args.bytes(i, ctx) {
        Some(b) => Ok(b.into_owned()),
        None => Err(fail(ctx, args, &format!("missing argument {}", i + 1))),
    }
}

fn edit_ruri(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, edit: UriEdit<'_>) -> Ret {
    match uri_ops::apply(ctx, edit) {
        Ok(()) => Ret::Code(1),
        Err(e) => fail(ctx, args, &e),
    }
}

// ----- Request-URI -----

/// `rewriteuri(uri)` / `seturi(uri)`: replace the whole Request-URI.
pub(crate) fn rewriteuri(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let t = match text_arg(ctx, args, 0) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(e) = check_uri_text(&t) {
        return fail(ctx, args, &e);
    }
    ctx.new_uri = Some(t);
    Ret::Code(1)
}

macro_rules! uri_action {
    ($(#[$doc:meta])* $name:ident, |$t:ident| $edit:expr) => {
        $(#[$doc])*
        pub(crate) fn $name(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
            let $t = match text_arg(ctx, args, 0) {
                Ok(t) => t,
                Err(r) => return r,
            };
            let $t: &[u8] = &$t;
            edit_ruri(ctx, args, $edit)
        }
    };
}

uri_action!(
    /// `rewritehost(host)` / `sethost`: replace the host, keep the port.
    rewritehost,
    |t| UriEdit::Host(t)
);
uri_action!(
    /// `rewritehostport("host[:port]")` / `sethostport`.
    rewritehostport,
    |t| UriEdit::HostPort(t)
);
uri_action!(
    /// `rewriteport(port)` / `setport`: an empty port removes it.
    rewriteport,
    |t| UriEdit::Port(if t.is_empty() { None } else { Some(t) })
);
uri_action!(
    /// `rewriteuser(user)` / `setuser`: an empty user removes it.
    rewriteuser,
    |t| UriEdit::User(if t.is_empty() { None } else { Some(t) })
);
uri_action!(
    /// `rewriteuserpass("user[:password]")` / `setuserpass`.
    rewriteuserpass,
    |t| UriEdit::UserPass(t)
);
uri_action!(
    /// `prefix(text)`: put text before the user part.
    prefix,
    |t| UriEdit::Prefix(t)
);

fn count_arg(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Result<usize, Ret> {
    match args.int(0, ctx) {
        Some(n) if n >= 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(fail(ctx, args, "expects a non-negative number")),
    }
}

/// `strip(n)`: remove the first n characters of the user part (all of it
/// when shorter).
pub(crate) fn strip(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match count_arg(ctx, args) {
        Ok(n) => edit_ruri(ctx, args, UriEdit::Strip(n)),
        Err(r) => r,
    }
}

/// `strip_tail(n)`: remove the last n characters of the user part.
pub(crate) fn strip_tail(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match count_arg(ctx, args) {
        Ok(n) => edit_ruri(ctx, args, UriEdit::StripTail(n)),
        Err(r) => r,
    }
}

/// `revert_uri()`: back to the received Request-URI.
pub(crate) fn revert_uri(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    ctx.new_uri = None;
    Ret::Code(1)
}

/// Parses a q-value (`"0.5"`, `"1"`, `"1.000"`) into thousandths.
fn parse_q(t: &[u8]) -> Option<u16> {
    let (int, frac) = split_once_byte(t, b'.').unwrap_or((t, b""));
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut q = match int {
        b"0" => 0u16,
        b"1" => 1000,
        _ => return None,
    };
    let mut scale = 100;
    for d in frac {
        q += u16::from(d - b'0') * scale;
        scale /= 10;
    }
    (q <= 1000).then_some(q)
}

/// `append_branch([uri[, q]])`: add a branch to the destination set, for
/// the given URI or the current Request-URI, with the current destination
/// URI and branch flags. Without arguments the Request-URI is marked as
/// used ([`MsgCtx::ruri_consumed`], Kamailio's behaviour). At most
/// [`super::Config::max_branches`] branches (`-12` beyond).
pub(crate) fn append_branch(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    if ctx.branches.len() >= ctx.config.max_branches {
        let max = ctx.config.max_branches;
        fail(ctx, args, &format!("too many branches (at most {max})"));
        return Ret::Code(E_TOO_MANY_BRANCHES);
    }
    let uri = match args.bytes(0, ctx) {
        Some(u) if !u.is_empty() => u.into_owned(),
        _ => ctx.ruri().to_vec(),
    };
    if let Err(e) = check_uri_text(&uri) {
        return fail(ctx, args, &e);
    }
    let q = match args.bytes(1, ctx) {
        None => None,
        Some(t) if t.is_empty() => None,
        Some(t) => match parse_q(&t) {
            Some(q) => Some(q),
            None => {
                let t = String::from_utf8_lossy(&t).into_owned();
                return fail(ctx, args, &format!("bad q value `{t}`"));
            }
        },
    };
    ctx.branches.push(Branch {
        uri,
        dst_uri: ctx.dst_uri.clone(),
        q,
        flags: ctx.bflags,
        path: None,
    });
    if args.is_empty() {
        ctx.ruri_consumed = true;
    }
    Ret::Code(1)
}

/// `force_rport()` / `add_rport()`.
pub(crate) fn force_rport(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    ctx.force_rport = true;
    Ret::Code(1)
}

// ----- flags -----

/// Highest flag number (flags are bits of a `u64`).
pub const MAX_FLAG: u32 = 63;

fn flag_arg(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, i: usize) -> Result<u32, Ret> {
    match args.flag(i, ctx) {
        Some(f) if f <= MAX_FLAG => Ok(f),
        _ => Err(fail(
            ctx,
            args,
            &format!("expects a flag number 0..{MAX_FLAG}"),
        )),
    }
}

macro_rules! flag_fn {
    ($(#[$doc:meta])* $name:ident, |$ctx:ident, $bit:ident| $body:expr) => {
        $(#[$doc])*
        pub(crate) fn $name($ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
            let $bit = match flag_arg($ctx, args, 0) {
                Ok(f) => 1u64 << f,
                Err(r) => return r,
            };
            $body
        }
    };
}

flag_fn!(
    /// `setflag(f)`.
    setflag,
    |ctx, bit| {
        ctx.flags |= bit;
        Ret::Code(1)
    }
);
flag_fn!(
    /// `resetflag(f)`.
    resetflag,
    |ctx, bit| {
        ctx.flags &= !bit;
        Ret::Code(1)
    }
);
flag_fn!(
    /// `isflagset(f)`.
    isflagset,
    |ctx, bit| yes_no(ctx.flags & bit != 0)
);

/// The branch flags a `*bflag*` call names: the optional second argument is
/// the branch index (0 = the Request-URI branch, n = the n-th appended
/// branch).
fn bflags<'c>(ctx: &'c mut MsgCtx<'_, '_>, args: &Args<'_>) -> Result<(u64, &'c mut u64), Ret> {
    let bit = 1u64 << flag_arg(ctx, args, 0)?;
    let idx = if args.len() > 1 {
        match args.int(1, ctx) {
            Some(n) if n >= 0 => n as usize,
            _ => return Err(fail(ctx, args, "bad branch index")),
        }
    } else {
        0
    };
    if idx == 0 {
        return Ok((bit, &mut ctx.bflags));
    }
    if ctx.branches.len() < idx {
        return Err(fail(ctx, args, &format!("no branch {idx}")));
    }
    match ctx.branches.get_mut(idx - 1) {
        Some(b) => Ok((bit, &mut b.flags)),
        None => Err(Ret::Code(-1)),
    }
}

/// `setbflag(f[, branch])`.
pub(crate) fn setbflag(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match bflags(ctx, args) {
        Ok((bit, f)) => {
            *f |= bit;
            Ret::Code(1)
        }
        Err(r) => r,
    }
}

/// `resetbflag(f[, branch])`.
pub(crate) fn resetbflag(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match bflags(ctx, args) {
        Ok((bit, f)) => {
            *f &= !bit;
            Ret::Code(1)
        }
        Err(r) => r,
    }
}

/// `isbflagset(f[, branch])`.
pub(crate) fn isbflagset(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match bflags(ctx, args) {
        Ok((bit, f)) => yes_no(*f & bit != 0),
        Err(r) => r,
    }
}

// ----- AVP flags -----

/// The AVP and the flag bit of an `*avpflag*` call (`setavpflag($a, "f")`).
fn avp_flag<'s>(
    ctx: &mut MsgCtx<'_, '_>,
    args: &Args<'s>,
) -> Result<(&'s super::ctx::AvpSel, u32), Ret> {
    let Some(sel) = args.avp_sel(0) else {
        return Err(fail(ctx, args, "the first argument must be an AVP"));
    };
    let name = args.bytes(1, ctx).unwrap_or_default().into_owned();
    match args.avp_flag_bit(&name) {
        Some(bit) if bit < 32 => Ok((sel, 1u32 << bit)),
        _ => Err(fail(
            ctx,
            args,
            &format!(
                "no AVP flag `{}` declared by avpflags",
                String::from_utf8_lossy(&name)
            ),
        )),
    }
}

/// `setavpflag($avp, "flag")`: marks every value of the AVP; false when
/// the AVP is not set.
pub(crate) fn setavpflag(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match avp_flag(ctx, args) {
        Ok((sel, mask)) => yes_no(ctx.avps.set_flags(sel, mask, true)),
        Err(r) => r,
    }
}

/// `resetavpflag($avp, "flag")`.
pub(crate) fn resetavpflag(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match avp_flag(ctx, args) {
        Ok((sel, mask)) => yes_no(ctx.avps.set_flags(sel, mask, false)),
        Err(r) => r,
    }
}

/// `isavpflagset($avp, "flag")`: the AVP's newest value has the flag.
pub(crate) fn isavpflagset(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match avp_flag(ctx, args) {
        Ok((sel, mask)) => yes_no(ctx.avps.has_flags(sel, mask)),
        Err(r) => r,
    }
}

// ----- logging -----

/// A level argument: a number or a name (`L_INFO`).
fn level_arg(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, i: usize) -> Result<i32, Ret> {
    let v = args.value(i, ctx).unwrap_or(Value::Null);
    let l = match &v {
        Value::Int(n) => i32::try_from(*n).ok(),
        Value::Str(s) => level::parse(s),
        Value::Null => None,
    };
    match l {
        Some(l) => Ok(l),
        None => {
            let t = v.to_string();
            Err(fail(ctx, args, &format!("bad log level `{t}`")))
        }
    }
}

/// `log([level,] text)`: SER's default level is `L_DBG + 1` (4).
pub(crate) fn log(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let (lvl, i) = if args.len() >= 2 {
        match level_arg(ctx, args, 0) {
            Ok(l) => (l, 1),
            Err(r) => return r,
        }
    } else {
        (level::L_DBG + 1, 0)
    };
    match text_arg(ctx, args, i) {
        Ok(t) => {
            ctx.log_bytes(lvl, &t);
            Ret::Code(1)
        }
        Err(r) => r,
    }
}

/// `xlog([level,] format)`: the default level is `L_ERR`, as in xlog.
pub(crate) fn xlog(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let (lvl, i) = if args.len() >= 2 {
        match level_arg(ctx, args, 0) {
            Ok(l) => (l, 1),
            Err(r) => return r,
        }
    } else {
        (level::L_ERR, 0)
    };
    match text_arg(ctx, args, i) {
        Ok(t) => {
            ctx.log_bytes(lvl, &t);
            Ret::Code(1)
        }
        Err(r) => r,
    }
}

/// `xdbg(format)`: `xlog` at `L_DBG`.
pub(crate) fn xdbg(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match text_arg(ctx, args, 0) {
        Ok(t) => {
            ctx.log_bytes(level::L_DBG, &t);
            Ret::Code(1)
        }
        Err(r) => r,
    }
}

// ----- forwarding and tests -----

/// `forward([host[, port]])`: records [`Action::Forward`]; the transport
/// sends the message after the script. An empty host (or none) means the
/// destination URI or the Request-URI; port 0 (or none) the default.
pub(crate) fn forward(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    forward_with(ctx, args, None)
}

/// `forward_udp(...)`: `forward` over UDP.
pub(crate) fn forward_udp(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    forward_with(ctx, args, Some(Proto::Udp))
}

/// `forward_tcp(...)`: `forward` over TCP.
pub(crate) fn forward_tcp(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    forward_with(ctx, args, Some(Proto::Tcp))
}

/// `forward_tls(...)`: `forward` over TLS.
pub(crate) fn forward_tls(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    forward_with(ctx, args, Some(Proto::Tls))
}

fn forward_with(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, proto: Option<Proto>) -> Ret {
    let host = match args.bytes(0, ctx) {
        Some(h) if !h.is_empty() => Some(h.into_owned()),
        _ => None,
    };
    let port = if args.len() > 1 {
        match args.int(1, ctx) {
            Some(0) => None,
            Some(p) => match u16::try_from(p) {
                Ok(p) => Some(p),
                Err(_) => return fail(ctx, args, &format!("bad port {p}")),
            },
            None => {
                // `uri:port` of a URI without port reads as Null.
                let v = args.value(1, ctx).unwrap_or(Value::Null);
                if !v.is_null() {
                    let t = v.to_string();
                    return fail(ctx, args, &format!("bad port `{t}`"));
                }
                None
            }
        }
    } else {
        None
    };
    if let Some(h) = &host
        && let Err(e) = check_uri_text(h)
    {
        return fail(ctx, args, &e);
    }
    ctx.actions.push(Action::Forward { host, port, proto });
    Ret::Code(1)
}

/// `len_gt(n)`: whether the message is longer than n bytes (SER 0.8).
pub(crate) fn len_gt(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match args.int(0, ctx) {
        Some(n) => yes_no(ctx.msg.len() as i64 > n),
        None => fail(ctx, args, "expects a number"),
    }
}

/// `strempty(x)`: whether the value is empty (or unset).
pub(crate) fn strempty(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let v = args.value(0, ctx).unwrap_or(Value::Null);
    yes_no(v.with_bytes(<[u8]>::is_empty))
}

/// `is_method("INVITE|SUBSCRIBE")`: whether the request's method (a
/// reply's CSeq method) is one of the names, compared case-insensitively
/// as Kamailio does.
pub(crate) fn is_method(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let method = match ctx.msg.method() {
        Some(m) => m.as_bytes(),
        None => match ctx.msg.cseq() {
            Ok(c) => c.method.as_bytes(),
            Err(_) => return Ret::Code(-1),
        },
    };
    let list = match args.bytes(0, ctx) {
        Some(l) => l,
        None => return fail(ctx, args, "expects a method list"),
    };
    yes_no(
        list.split(|&b| b == b'|')
            .any(|m| m.trim_ascii().eq_ignore_ascii_case(method)),
    )
}

// ----- suspending -----

/// Longest `sleep` accepted (one hour).
const MAX_SLEEP: Duration = Duration::from_secs(3600);

fn suspend_for(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, d: Option<Duration>) -> Ret {
    match d {
        Some(d) if d <= MAX_SLEEP => match Instant::now().checked_add(d) {
            Some(until) => Ret::Suspend(Pending::Sleep { until }),
            None => fail(ctx, args, "time out of range"),
        },
        _ => fail(ctx, args, "expects a duration from 0 to 3600 seconds"),
    }
}

/// `sleep(seconds)`: suspends the script (the shard keeps serving other
/// messages) and resumes it after the time.
pub(crate) fn sleep(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let d = args
        .int(0, ctx)
        .and_then(|n| u64::try_from(n).ok())
        .map(Duration::from_secs);
    suspend_for(ctx, args, d)
}

/// `usleep(microseconds)`: as `sleep`.
pub(crate) fn usleep(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let d = args
        .int(0, ctx)
        .and_then(|n| u64::try_from(n).ok())
        .map(Duration::from_micros);
    suspend_for(ctx, args, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values() {
        assert_eq!(parse_q(b"0.5"), Some(500));
        assert_eq!(parse_q(b"1"), Some(1000));
        assert_eq!(parse_q(b"1.000"), Some(1000));
        assert_eq!(parse_q(b"0.001"), Some(1));
        assert_eq!(parse_q(b"1.5"), None);
        assert_eq!(parse_q(b"2"), None);
        assert_eq!(parse_q(b"0.1234"), None);
    }
}
