//! The `textops` functions that add, remove and look for header fields and
//! text: `append_hf`, `insert_hf`, `remove_hf`, `remove_hf_re`,
//! `is_present_hf`, `is_present_hf_re`, `append_to_reply` and `search`
//! (`is_method` lives with the core actions, `script/actions.rs`).
//!
//! Changes go into the message's edit list ([`MsgCtx::edits`]), so they
//! show in whatever the router sends on (`t_relay`, `forward`), never in
//! the received bytes the script keeps reading: as in Kamailio, a header
//! added by `append_hf` is not seen by a later `is_present_hf` or
//! `search`, and a removed one still is.
//!
//! Return codes follow Kamailio: `1` when the function did its job (found,
//! removed at least one, added), `-1` otherwise (nothing found, nothing
//! removed, a bad argument, which is logged).

use crate::script::ctx::level;
use crate::script::{Args, MsgCtx, Ret};
use crate::sip::builder::BuildError;

#[cfg(test)]
mod tests;

#[inline]
fn yes_no(b: bool) -> Ret {
    Ret::Code(if b { 1 } else { -1 })
}

fn fail(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, msg: &str) -> Ret {
    let (_, name) = args.function();
    ctx.log(level::L_ERR, &format!("{name}(): {msg}"));
    Ret::Code(-1)
}

/// The text of a header-field argument as lines ready to insert: a
/// missing final CRLF is added (Kamailio inserts the text as given, so a
/// line without one would run into the next header; we end it instead),
/// a lone LF becomes CRLF.
fn header_lines(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    let mut prev = 0u8;
    for &b in text {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn build_error(e: BuildError) -> String {
    match e {
        BuildError::BadValue | BuildError::BadName => {
            "the text is not header lines (`Name: value`, each ending in CRLF)".to_string()
        }
        BuildError::ContentLength => "Content-Length is computed by the router".to_string(),
        other => other.to_string(),
    }
}

/// The header name of argument `i` (a `Header` argument, or any text).
fn header_name(ctx: &MsgCtx<'_, '_>, args: &Args<'_>, i: usize) -> Option<Vec<u8>> {
    match args.header(i) {
        Some(h) => Some(h.to_vec()),
        None => args.bytes(i, ctx).map(|b| b.trim_ascii().to_vec()),
    }
}

/// `append_hf(txt)`: adds header lines at the end of the header block;
/// `append_hf(txt, hdr)`: right after the first header named `hdr` (at
/// the end when there is none). `txt` is a format (`$var` in Kamailio,
/// `%$avp` / `%@select` in SER 2.x).
pub(crate) fn append_hf(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    add_hf(ctx, args, false)
}

/// `insert_hf(txt)`: adds header lines as the first header;
/// `insert_hf(txt, hdr)`: right before the first header named `hdr`.
pub(crate) fn insert_hf(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    add_hf(ctx, args, true)
}

fn add_hf(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, first: bool) -> Ret {
    let Some(text) = args.bytes(0, ctx).map(|t| header_lines(&t)) else {
        return fail(ctx, args, "missing header text");
    };
    let anchor = if args.len() > 1 {
        let Some(name) = header_name(ctx, args, 1) else {
            return fail(ctx, args, "missing header name");
        };
        ctx.msg.headers_by_name(&name).next().copied()
    } else {
        None
    };
    let msg = ctx.msg;
    let r = match (anchor, first) {
        (Some(h), false) => ctx.edits.insert_raw_after(&h, &text),
        (Some(h), true) => ctx.edits.insert_raw_before(&h, &text),
        (None, false) => ctx.edits.append_raw(msg, &text),
        (None, true) => match msg.headers().first() {
            Some(h) => ctx.edits.insert_raw_before(h, &text),
            None => ctx.edits.append_raw(msg, &text),
        },
    };
    match r {
        Ok(()) => Ret::Code(1),
        Err(e) => fail(ctx, args, &build_error(e)),
    }
}

/// `remove_hf(name)`: removes every header field of that name (its full
/// and compact forms are the same name); true if one was removed.
pub(crate) fn remove_hf(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(name) = header_name(ctx, args, 0) else {
        return fail(ctx, args, "missing header name");
    };
    if name.is_empty() {
        return fail(ctx, args, "empty header name");
    }
    let msg = ctx.msg;
    yes_no(ctx.edits.remove_by_name(msg, &name) > 0)
}

/// `remove_hf_re(re)`: removes every header field whose name (as written)
/// matches the regex; true if one was removed.
pub(crate) fn remove_hf_re(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(re) = args.regex(0) else {
        return fail(ctx, args, "expects a regular expression");
    };
    let msg = ctx.msg;
    let mut n = 0;
    for h in msg.headers() {
        if re.is_match(msg.name_of(h)) {
            ctx.edits.remove_header(h);
            n += 1;
        }
    }
    yes_no(n > 0)
}

/// `is_present_hf(name)`: true if the received message has a header field
/// of that name (full or compact form).
pub(crate) fn is_present_hf(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(name) = header_name(ctx, args, 0) else {
        return fail(ctx, args, "missing header name");
    };
    yes_no(ctx.msg.headers_by_name(&name).next().is_some())
}

/// `is_present_hf_re(re)`: true if a header field name matches the regex.
pub(crate) fn is_present_hf_re(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(re) = args.regex(0) else {
        return fail(ctx, args, "expects a regular expression");
    };
    let msg = ctx.msg;
    yes_no(msg.headers().iter().any(|h| re.is_match(msg.name_of(h))))
}

/// `append_to_reply(txt)`: header lines for every reply the router itself
/// makes for this request (`sl_send_reply`, `sl_reply`, `t_reply`, the
/// registrar's, the challenges'). SER 2.0 sends its digest challenge this
/// way: `append_to_reply("%$digest_challenge"); sl_reply("401", ...)`.
pub(crate) fn append_to_reply(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(text) = args.bytes(0, ctx) else {
        return fail(ctx, args, "missing header text");
    };
    if text.is_empty() {
        // `%$digest_challenge` before any challenge was computed: nothing
        // to add, which is not an error in SER.
        return Ret::Code(1);
    }
    let lines = header_lines(&text);
    if let Err(e) = crate::sip::builder::check_header_lines(&lines) {
        return fail(ctx, args, &build_error(e));
    }
    ctx.reply_headers.extend_from_slice(&lines);
    Ret::Code(1)
}

/// `search(re)`: true if the regex matches somewhere in the received
/// message (start line, headers and body, as Kamailio searches its whole
/// buffer). `^` and `$` match at every line; case is ignored.
pub(crate) fn search(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(re) = args.regex_lines(0) else {
        return fail(ctx, args, "expects a regular expression");
    };
    yes_no(re.is_match(ctx.msg.bytes()))
}
