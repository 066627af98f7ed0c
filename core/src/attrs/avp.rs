//! SER 2.0's avp module functions on the message's AVPs:
//!
//! * `del_attr("$x")`: removes every value of the AVP (in the classes the
//!   name selects); always true.
//! * `attr2uri("$x"[, part])`: the AVP's newest value becomes the whole
//!   Request-URI, or one part of it: `prefix`, `uri`, `username`/`user`,
//!   `usernamepassword`/`userpass`, `domain`/`host`,
//!   `domainport`/`hostport`, `port`, `strip`, `strip_tail` (a number of
//!   characters). False when the AVP is unset or the result is not a URI.
//! * `xlset_attr("$x", format)`: adds the formatted text as the AVP's
//!   newest value.
//! * `replace_attr_hf(name[, "$x"])`: removes every `name` header of the
//!   request and appends one with the AVP's value (the AVP named as the
//!   header when the second argument is left out). False when the AVP is
//!   unset, or the name or value cannot make a header line.

use crate::script::ctx::level;
use crate::script::pv::check_uri_text;
use crate::script::uri_ops::{self, UriEdit};
use crate::script::value::parse_int;
use crate::script::{Args, MsgCtx, Ret, Value};

fn fail(ctx: &mut MsgCtx<'_, '_>, text: &str) -> Ret {
    ctx.log(level::L_ERR, text);
    Ret::Code(-1)
}

/// `del_attr("$x")`.
pub(crate) fn del_attr(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(sel) = super::avp_arg(args, 0) else {
        return fail(ctx, "del_attr(): the argument must name an AVP");
    };
    ctx.avps.remove_all(&sel);
    Ret::Code(1)
}

/// A part of the Request-URI `attr2uri` can set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Whole,
    Prefix,
    User,
    UserPass,
    Host,
    HostPort,
    Port,
    Strip,
    StripTail,
}

fn parse_part(t: &str) -> Option<Part> {
    Some(match t.trim().to_ascii_lowercase().as_str() {
        "" | "uri" => Part::Whole,
        "prefix" => Part::Prefix,
        "username" | "user" => Part::User,
        "usernamepassword" | "userpass" => Part::UserPass,
        "domain" | "host" => Part::Host,
        "domainport" | "hostport" => Part::HostPort,
        "port" => Part::Port,
        "strip" => Part::Strip,
        "strip_tail" => Part::StripTail,
        _ => return None,
    })
}

/// `attr2uri("$x"[, part])`.
pub(crate) fn attr2uri(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(sel) = super::avp_arg(args, 0) else {
        return fail(ctx, "attr2uri(): the first argument must name an AVP");
    };
    let part_text = if args.len() > 1 {
        args.bytes(1, ctx)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let Some(part) = parse_part(&part_text) else {
        return fail(ctx, &format!("attr2uri(): unknown URI part `{part_text}`"));
    };
    let value = match ctx.avp_get(&sel, 0) {
        None | Some(Value::Null) => return Ret::Code(-1),
        Some(v) => v.into_bytes().into_owned(),
    };
    let count = || {
        parse_int(value.trim_ascii())
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| format!("`{}` is not a count", String::from_utf8_lossy(&value)))
    };
    let res = match part {
        Part::Whole => check_uri_text(&value).map(|()| {
            ctx.new_uri = Some(value.clone());
        }),
        Part::Prefix => uri_ops::apply(ctx, UriEdit::Prefix(&value)),
        Part::User => uri_ops::apply(ctx, UriEdit::User(Some(&value))),
        Part::UserPass => uri_ops::apply(ctx, UriEdit::UserPass(&value)),
        Part::Host => uri_ops::apply(ctx, UriEdit::Host(&value)),
        Part::HostPort => uri_ops::apply(ctx, UriEdit::HostPort(&value)),
        Part::Port => uri_ops::apply(ctx, UriEdit::Port(Some(&value))),
        Part::Strip => count().and_then(|n| uri_ops::apply(ctx, UriEdit::Strip(n))),
        Part::StripTail => count().and_then(|n| uri_ops::apply(ctx, UriEdit::StripTail(n))),
    };
    match res {
        Ok(()) => Ret::Code(1),
        Err(e) => fail(ctx, &format!("attr2uri(): {e}")),
    }
}

/// `xlset_attr("$x", format)`.
pub(crate) fn xlset_attr(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(sel) = super::avp_arg(args, 0) else {
        return fail(ctx, "xlset_attr(): the first argument must name an AVP");
    };
    let text = args.bytes(1, ctx).unwrap_or_default().into_owned();
    if !ctx.avps.push(&sel, Value::owned(text)) {
        return fail(ctx, "xlset_attr(): too many AVPs in this message");
    }
    Ret::Code(1)
}

/// `replace_attr_hf(name[, "$x"])`.
pub(crate) fn replace_attr_hf(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let name = args.bytes(0, ctx).unwrap_or_default().trim_ascii().to_vec();
    if name.is_empty() || !name.iter().all(|b| crate::sip::lex::is_token(*b)) {
        return fail(
            ctx,
            &format!(
                "replace_attr_hf(): `{}` is not a header name",
                String::from_utf8_lossy(&name)
            ),
        );
    }
    let sel = if args.len() > 1 {
        super::avp_arg(args, 1)
    } else {
        super::avp_arg(args, 0)
    };
    let Some(sel) = sel else {
        return fail(
            ctx,
            "replace_attr_hf(): the second argument must name an AVP",
        );
    };
    let value = match ctx.avp_get(&sel, 0) {
        None | Some(Value::Null) => return Ret::Code(-1),
        Some(v) => v.into_bytes().into_owned(),
    };
    if value.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return fail(ctx, "replace_attr_hf(): the value holds a line break");
    }
    let msg = ctx.msg;
    ctx.edits.remove_by_name(msg, &name);
    match ctx.edits.add_header(msg, &name, value.trim_ascii()) {
        Ok(()) => Ret::Code(1),
        Err(e) => fail(ctx, &format!("replace_attr_hf(): {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        assert_eq!(parse_part(""), Some(Part::Whole));
        assert_eq!(parse_part("Domain"), Some(Part::Host));
        assert_eq!(parse_part("hostport"), Some(Part::HostPort));
        assert_eq!(parse_part("userpass"), Some(Part::UserPass));
        assert_eq!(parse_part("strip_tail"), Some(Part::StripTail));
        assert_eq!(parse_part("params"), None);
    }
}
