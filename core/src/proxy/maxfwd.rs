//! The `maxfwd` module: Max-Forwards processing (RFC 3261 16.3 item 2,
//! 16.6 step 3).
//!
//! `mf_process_maxfwd_header(max)`, with Kamailio's return codes:
//!
//! | case | effect | returns |
//! | --- | --- | --- |
//! | no Max-Forwards | `Max-Forwards: max` added as the first header | 2 |
//! | value 0 | none (the script answers `483 Too Many Hops`) | -1 |
//! | value n > 0 | replaced with n-1 (capped at `max_limit`) | 1 |
//! | value not a number | logged | -2 |
//!
//! A value above 255 is taken as 255 (RFC 3261 20.22 bounds it). The
//! `max_limit` module parameter (default 256: no cap) caps the value sent
//! on: n > `max_limit` becomes `max_limit`. An argument outside 0..=255 is
//! logged and returns -2 (Kamailio returns -1, which would make the usual
//! script answer 483 for a configuration error).
//!
//! The header is edited in the outgoing message only: calling the function
//! twice in one run is not supported (the two edits overlap and the
//! forward fails), and `is_maxfwd_lt(n)` reads the received value, not
//! the one `mf_process_maxfwd_header` wrote (Kamailio reads the new one).
//! `is_maxfwd_lt(n)` returns 1 when the value is below n, -1 when not, -2
//! when there is no Max-Forwards header and -3 for a bad value or
//! argument.

use crate::script::{Args, MsgCtx, Ret, level};
use crate::sip::header::HeaderName;

/// Most a Max-Forwards value may be (RFC 3261 20.22).
const MAX_VALUE: u32 = 255;

fn log(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, msg: &str) {
    let (_, name) = args.function();
    ctx.log(level::L_ERR, &format!("{name}(): {msg}"));
}

/// The argument, 0..=255.
fn arg(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Option<u32> {
    match args.int(0, ctx) {
        Some(n) if (0..=i64::from(MAX_VALUE)).contains(&n) => u32::try_from(n).ok(),
        _ => {
            log(ctx, args, "expects a number from 0 to 255");
            None
        }
    }
}

/// `mf_process_maxfwd_header(max)`: see the module docs.
pub(crate) fn mf_process_maxfwd_header(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(max) = arg(ctx, args) else {
        return Ret::Code(-2);
    };
    let msg = ctx.msg;
    let Some(h) = msg.header(HeaderName::MaxForwards) else {
        let v = max.to_string();
        return match ctx
            .edits
            .add_header_first(msg, b"Max-Forwards", v.as_bytes())
        {
            Ok(()) => Ret::Code(2),
            Err(e) => {
                log(ctx, args, &format!("cannot add Max-Forwards: {e}"));
                Ret::Code(-2)
            }
        };
    };
    let value = match msg.max_forwards() {
        Ok(Some(v)) => v.min(MAX_VALUE),
        Ok(None) | Err(_) => {
            let raw = String::from_utf8_lossy(msg.value_of(h)).into_owned();
            log(ctx, args, &format!("bad Max-Forwards value `{raw}`"));
            return Ret::Code(-2);
        }
    };
    if value == 0 {
        return Ret::Code(-1);
    }
    let next = value.min(ctx.config.maxfwd_limit.saturating_add(1)) - 1;
    match ctx.edits.replace_value(h, next.to_string().as_bytes()) {
        Ok(()) => Ret::Code(1),
        Err(e) => {
            log(ctx, args, &format!("cannot rewrite Max-Forwards: {e}"));
            Ret::Code(-2)
        }
    }
}

/// `is_maxfwd_lt(n)`: whether the received Max-Forwards is below n.
pub(crate) fn is_maxfwd_lt(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(n) = arg(ctx, args) else {
        return Ret::Code(-3);
    };
    match ctx.msg.max_forwards() {
        Ok(None) => Ret::Code(-2),
        Ok(Some(v)) => Ret::Code(if v.min(MAX_VALUE) < n { 1 } else { -1 }),
        Err(e) => {
            log(ctx, args, &format!("bad Max-Forwards value ({e})"));
            Ret::Code(-3)
        }
    }
}
