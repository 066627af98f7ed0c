//! The accounting module's script functions: a record for the current
//! request, written now (`acc_log_request`, `acc_db_request`, SER's
//! `acc_request`). The comment gives the code and reason (`"404 Not
//! Found"`); one without a leading 3-digit code is the reason alone.

use super::{Kind, Record};
use crate::script::{Args, MsgCtx, Ret, level};

/// `"404 Not Found"` → (404, "Not Found"); `"comment"` → (0, "comment").
fn code_reason(comment: &[u8]) -> (u16, &[u8]) {
    let code = comment
        .get(..3)
        .filter(|d| d.iter().all(u8::is_ascii_digit))
        .and_then(|d| std::str::from_utf8(d).ok()?.parse::<u16>().ok());
    match code {
        Some(c) if comment.get(3).is_none_or(|b| *b == b' ') => {
            (c, comment.get(4..).unwrap_or_default())
        }
        _ => (0, comment),
    }
}

fn record(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, log: bool, db: bool) -> Ret {
    let Some(acc) = ctx.config.acc.clone() else {
        ctx.log(level::L_ERR, "acc: the accounting module is not set up");
        return Ret::Code(-1);
    };
    if db && !acc.has_db() {
        ctx.log(level::L_ERR, "acc: no database to write to (set db_url)");
        return Ret::Code(-1);
    }
    let comment = args.bytes(0, ctx).unwrap_or_default().into_owned();
    let (code, reason) = code_reason(&comment);
    let seed = acc.seed(ctx);
    let to_tag = ctx
        .msg
        .to()
        .ok()
        .and_then(crate::sip::NameAddr::tag)
        .unwrap_or_default()
        .to_vec();
    let table = if args.len() > 1 {
        args.bytes(1, ctx)
            .map(|t| String::from_utf8_lossy(&t).into_owned())
    } else {
        None
    };
    let rec = Record {
        kind: Kind::Request,
        code,
        reason,
        to_tag: &to_tag,
    };
    acc.write(ctx.config.debug(), &seed, rec, (log, db), table);
    Ret::Code(1)
}

/// `acc_log_request(comment)`.
pub(crate) fn acc_log_request(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    record(ctx, args, true, false)
}

/// `acc_db_request(comment, table)`.
pub(crate) fn acc_db_request(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    record(ctx, args, false, true)
}

/// SER's `acc_request(comment)`: to the log, and to the database when the
/// module has one.
pub(crate) fn acc_request(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let db = ctx.config.acc.as_ref().is_some_and(|a| a.has_db());
    record(ctx, args, true, db)
}

#[cfg(test)]
mod tests {
    use super::code_reason;

    #[test]
    fn comments() {
        assert_eq!(code_reason(b"404 Not Found"), (404, &b"Not Found"[..]));
        assert_eq!(code_reason(b"480"), (480, &b""[..]));
        assert_eq!(code_reason(b"4040 x"), (0, &b"4040 x"[..]));
        assert_eq!(code_reason(b"missed"), (0, &b"missed"[..]));
        assert_eq!(code_reason(b""), (0, &b""[..]));
    }
}
