//! SER 0.9's `avpops` functions on `usr_preferences`: `avp_db_load`,
//! `avp_write`, `avp_delete`, `avp_pushto` and `avp_check` here;
//! `is_avp_set`, `avp_copy`, `avp_print`, `avp_db_store` and
//! `avp_db_delete` in [`more`].
//!
//! AVP specs are `s:name` (a string name), `i:N` (an integer name) or a
//! plain `name` (a string name). Sources of a URI are `$ruri`, `$from`
//! and `$to`, with an optional `/username`, `/domain` or `/uri` flag.
//!
//! `avp_db_load` needs the store: the first run of the call hands the
//! query to the module's [`Pool`] and suspends the script
//! ([`Pending::Offload`]); the rows are parked in [`MsgCtx::avp_load`]
//! and the same call runs again ([`Resume::Retry`]), this time adding the
//! parked rows as AVPs. A refused or failed query leaves the slot empty:
//! the second run logs the failure and returns false.
//!
//! AVPs are written in the From track, URI class (where `$avp(s:x)` and
//! SER 2.x's `$x` read them).

use std::sync::{Arc, OnceLock};

use regex::bytes::RegexBuilder;
use ser_cfg::ir::{Arg, ConstValue, Program};

use crate::script::ctx::{ALL_CLASSES, AvpClass, AvpName, AvpSel, AvpTrackSide, level};
use crate::script::value::parse_int;
use crate::script::{Args, Completion, MsgCtx, Offload, Pending, Resume, Ret, Value};
use crate::sip::uri::Uri;
use crate::store::{Pool, tables};

pub(crate) mod more;
#[cfg(test)]
mod tests;

/// A preference row as loaded: attribute, type (0 string, 1 integer),
/// value.
pub type LoadedRow = (String, i64, String);

/// Where `avp_db_load` parks the rows it loaded for the retried call
/// (unset: the query failed or was refused).
pub type LoadSlot = Arc<OnceLock<Vec<LoadedRow>>>;

/// The module's store and parameters, shared by every shard.
pub struct AvpDb {
    pub pool: Arc<Pool>,
    /// `modparam("avpops", "use_domain", 1)`: preferences are keyed by
    /// user and domain.
    pub use_domain: bool,
}

impl std::fmt::Debug for AvpDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvpDb")
            .field("url", &self.pool.url().to_string())
            .field("use_domain", &self.use_domain)
            .finish()
    }
}

impl AvpDb {
    /// The module's parameters from the program, on `pool`.
    pub fn from_program(p: &Program, pool: Arc<Pool>) -> AvpDb {
        let mut use_domain = false;
        for m in p.modules.iter().filter(|m| p.str(m.name) == "avpops") {
            for (k, v) in &m.params {
                if p.str(*k) == "use_domain" {
                    use_domain = match v {
                        ConstValue::Int(n) => *n != 0,
                        ConstValue::Bool(b) => *b,
                        ConstValue::Str(s) => p.str(*s).trim().parse::<i64>().unwrap_or(0) != 0,
                    };
                }
            }
        }
        AvpDb { pool, use_domain }
    }
}

/// Parses an AVP spec: `s:name`, `i:N`, or a plain name (with a leading
/// `$`, or as Kamailio's `$avp(...)`).
pub fn parse_name(spec: &[u8]) -> Option<AvpName> {
    let spec = match spec.strip_prefix(b"$avp(") {
        Some(inner) => inner.strip_suffix(b")")?,
        None => spec.strip_prefix(b"$").unwrap_or(spec),
    };
    let name = match spec {
        [b'i' | b'I', b':', rest @ ..] => AvpName::Int(parse_int(rest)?),
        [b's' | b'S', b':', rest @ ..] => AvpName::Str(rest.into()),
        other => AvpName::Str(other.into()),
    };
    match &name {
        AvpName::Str(s) if s.is_empty() => None,
        _ => Some(name),
    }
}

fn sel(name: AvpName) -> AvpSel {
    AvpSel {
        name,
        classes: ALL_CLASSES,
        track: AvpTrackSide::From,
        write_class: AvpClass::Uri,
    }
}

/// A part of a URI a source names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Uri,
    User,
    Domain,
}

/// A URI source: `$ruri`, `$from`, `$to`, with `/username`, `/domain` or
/// `/uri`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UriSrc {
    Ruri,
    From,
    To,
}

fn parse_uri_source(text: &str) -> Option<(UriSrc, Part)> {
    let (head, flag) = match text.split_once('/') {
        Some((h, f)) => (h, Some(f)),
        None => (text, None),
    };
    let src = match head.to_ascii_lowercase().as_str() {
        "$ruri" => UriSrc::Ruri,
        "$from" => UriSrc::From,
        "$to" => UriSrc::To,
        _ => return None,
    };
    let part = match flag.map(str::to_ascii_lowercase).as_deref() {
        None | Some("uri") => Part::Uri,
        Some("username") => Part::User,
        Some("domain") => Part::Domain,
        Some(_) => return None,
    };
    Some((src, part))
}

/// The text of a URI, of its user or of its host.
fn uri_part(ctx: &MsgCtx<'_, '_>, src: UriSrc, part: Part) -> Option<Vec<u8>> {
    let raw: &[u8] = match src {
        UriSrc::Ruri => ctx.ruri(),
        UriSrc::From => ctx.msg.from().ok()?.uri.raw,
        UriSrc::To => ctx.msg.to().ok()?.uri.raw,
    };
    if raw.is_empty() {
        return None;
    }
    if part == Part::Uri {
        return Some(raw.to_vec());
    }
    let uri = Uri::parse(raw, ctx.msg.limits()).ok()?;
    match part {
        Part::User => uri.user().map(<[u8]>::to_vec),
        Part::Domain => uri.host().map(|h| h.to_string().into_bytes()),
        Part::Uri => Some(raw.to_vec()),
    }
}

/// A value source of `avp_write` and `avp_check`: a URI source, `$src_ip`,
/// `$dst_ip`, `$src_port`, `$dst_port`; `None` if `text` is not one.
fn source_value(ctx: &MsgCtx<'_, '_>, text: &str) -> Option<Option<Value<'static>>> {
    if let Some((src, part)) = parse_uri_source(text) {
        return Some(uri_part(ctx, src, part).map(Value::owned));
    }
    Some(Some(match text.to_ascii_lowercase().as_str() {
        "$src_ip" => Value::owned(ctx.src.ip().to_string().into_bytes()),
        "$dst_ip" => Value::owned(ctx.dst.ip().to_string().into_bytes()),
        "$src_port" => Value::Int(i64::from(ctx.src.port())),
        "$dst_port" => Value::Int(i64::from(ctx.dst.port())),
        _ => return None,
    }))
}

/// A literal value: `i:N` an integer, `s:text` a string, else the text.
fn literal(text: &str) -> Value<'static> {
    let b = text.as_bytes();
    match b {
        [b'i' | b'I', b':', rest @ ..] => match parse_int(rest) {
            Some(n) => Value::Int(n),
            None => Value::owned(b.to_vec()),
        },
        [b's' | b'S', b':', rest @ ..] => Value::owned(rest.to_vec()),
        _ => Value::owned(b.to_vec()),
    }
}

fn fail(ctx: &mut MsgCtx<'_, '_>, text: &str) -> Ret {
    ctx.log(level::L_ERR, text);
    Ret::Code(-1)
}

/// The user (and, with `use_domain` and a `/uri` source, the domain) the
/// preferences of the source in argument 0 are keyed by: `Err` with the
/// function's return code when the source is not built or the message
/// has no such user.
fn source_user(
    ctx: &mut MsgCtx<'_, '_>,
    args: &Args<'_>,
    fname: &str,
    db: &AvpDb,
) -> Result<(String, Option<String>), Ret> {
    let src_text = args.as_written(0).unwrap_or_default();
    let Some((src, part)) = parse_uri_source(&src_text) else {
        return Err(fail(
            ctx,
            &format!(
                "{fname}(): source `{src_text}` is not built ($ruri, $from, $to with /username, /domain, /uri)"
            ),
        ));
    };
    if part == Part::Domain {
        return Err(fail(
            ctx,
            &format!("{fname}(): the /domain source is not built"),
        ));
    }
    let user = uri_part(ctx, src, Part::User);
    let Some(user) = user.and_then(|u| String::from_utf8(u).ok()) else {
        return Err(Ret::Code(-1));
    };
    let domain = if part == Part::Uri && db.use_domain {
        match uri_part(ctx, src, Part::Domain).and_then(|d| String::from_utf8(d).ok()) {
            Some(d) => Some(d),
            None => return Err(Ret::Code(-1)),
        }
    } else {
        None
    };
    Ok((user, domain))
}

/// `avp_db_load(source, name)`: loads the source user's preferences named
/// `name` (every preference when `name` is empty) into AVPs; true if any
/// was loaded.
pub(crate) fn avp_db_load(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let name_text = args.as_written(1).unwrap_or_default();
    let name = if name_text.is_empty() {
        None
    } else {
        match parse_name(name_text.as_bytes()) {
            Some(n) => Some(n),
            None => return fail(ctx, &format!("avp_db_load(): bad AVP name `{name_text}`")),
        }
    };
    if let Some(t) = args.as_written(2)
        && !t.is_empty()
        && t != "usr_preferences"
    {
        return fail(
            ctx,
            &format!("avp_db_load(): table `{t}`: only usr_preferences is built"),
        );
    }
    // Second run: the rows the query parked.
    if let Some(slot) = ctx.avp_load.take() {
        let Some(rows) = slot.get() else {
            return fail(ctx, "avp_db_load(): the preferences could not be loaded");
        };
        let mut added = 0usize;
        for (attr, ty, value) in rows {
            let avp_name = match &name {
                Some(n) => n.clone(),
                None => AvpName::Str(attr.as_bytes().into()),
            };
            let v = match (*ty, parse_int(value.as_bytes())) {
                (1, Some(n)) => Value::Int(n),
                _ => Value::owned(value.as_bytes().to_vec()),
            };
            if ctx.avps.add(AvpClass::Uri, AvpTrackSide::From, avp_name, v) {
                added += 1;
            }
        }
        return Ret::Code(if added > 0 { 1 } else { -1 });
    }
    let Some(db) = ctx.config.avpops.clone() else {
        return fail(ctx, "avp_db_load(): avpops has no database");
    };
    let (user, domain) = match source_user(ctx, args, "avp_db_load", &db) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let attribute = match &name {
        None => None,
        Some(AvpName::Int(n)) => Some(n.to_string()),
        Some(AvpName::Str(s)) => Some(String::from_utf8_lossy(s).into_owned()),
    };
    let slot: LoadSlot = Arc::new(OnceLock::new());
    ctx.avp_load = Some(slot.clone());
    Ret::Suspend(Pending::Offload(Offload {
        kind: "avpops",
        start: Box::new(move |c: Completion| {
            // Refused or lost: the second run finds the slot unset.
            let c = c.or(Resume::Retry);
            // A refused job drops its completion, which resumes the run.
            let _ = db.pool.submit(
                move |d| {
                    tables::preferences_load(d, &user, domain.as_deref(), attribute.as_deref())
                },
                move |r| {
                    if let Ok(rows) = r {
                        let _ = slot.set(
                            rows.into_iter()
                                .map(|p| (p.attribute, p.type_, p.value))
                                .collect(),
                        );
                    }
                    c.done(Resume::Retry);
                },
            );
        }),
    }))
}

/// `avp_write(value, name)`: adds a value to the AVP.
pub(crate) fn avp_write(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let name_text = args.as_written(1).unwrap_or_default();
    let Some(name) = parse_name(name_text.as_bytes()) else {
        return fail(ctx, &format!("avp_write(): bad AVP name `{name_text}`"));
    };
    let text = args.as_written(0).unwrap_or_default();
    let value = match source_value(ctx, &text) {
        Some(Some(v)) => v,
        Some(None) => return Ret::Code(-1),
        None => match args.raw(0) {
            Some(Arg::Var(_)) => match args.value(0, ctx) {
                Some(Value::Null) | None => return Ret::Code(-1),
                Some(v) => v.into_owned(),
            },
            _ => literal(&text),
        },
    };
    if ctx.avps.push(&sel(name), value) {
        Ret::Code(1)
    } else {
        fail(ctx, "avp_write(): too many AVPs")
    }
}

/// `avp_delete(name)`: removes every value of the AVP (`/g` and other
/// flags are accepted and ignored).
pub(crate) fn avp_delete(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let text = args.as_written(0).unwrap_or_default();
    let spec = text.split('/').next().unwrap_or_default();
    let Some(name) = parse_name(spec.as_bytes()) else {
        return fail(ctx, &format!("avp_delete(): bad AVP name `{text}`"));
    };
    ctx.avps.remove_all(&sel(name));
    Ret::Code(1)
}

/// `avp_pushto(dest, name)`: the AVP's newest value becomes the
/// Request-URI (`$ruri`), its user (`$ruri/username`) or host
/// (`$ruri/domain`), or a new header (`$Header-Name`).
pub(crate) fn avp_pushto(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let name_text = args.as_written(1).unwrap_or_default();
    let Some(name) = parse_name(name_text.as_bytes()) else {
        return fail(ctx, &format!("avp_pushto(): bad AVP name `{name_text}`"));
    };
    let Some(value) = ctx.avps.get(&sel(name), 0).cloned() else {
        return Ret::Code(-1);
    };
    let bytes = value.into_bytes().into_owned();
    let dest = args.as_written(0).unwrap_or_default();
    let (head, flag) = match dest.split_once('/') {
        Some((h, f)) => (h, Some(f.to_ascii_lowercase())),
        None => (dest.as_str(), None),
    };
    use crate::script::uri_ops::{UriEdit, apply};
    if head.eq_ignore_ascii_case("$ruri") {
        let r = match flag.as_deref() {
            None | Some("uri") => crate::script::pv::check_uri_text(&bytes).map(|()| {
                ctx.new_uri = Some(bytes.clone());
            }),
            Some("username") => apply(ctx, UriEdit::User(Some(&bytes))),
            Some("domain") => apply(ctx, UriEdit::Host(&bytes)),
            Some(f) => Err(format!("flag `{f}` is not built")),
        };
        return match r {
            Ok(()) => Ret::Code(1),
            Err(e) => fail(ctx, &format!("avp_pushto(): {e}")),
        };
    }
    let Some(hdr) = head.strip_prefix('$') else {
        return fail(ctx, &format!("avp_pushto(): bad destination `{dest}`"));
    };
    let good = !hdr.is_empty()
        && hdr
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!%*+`'~".contains(&b));
    if !good || bytes.iter().any(|b| *b == b'\r' || *b == b'\n') {
        return fail(ctx, &format!("avp_pushto(): bad header `{dest}` or value"));
    }
    match ctx.edits.add_header(ctx.msg, hdr.as_bytes(), &bytes) {
        Ok(()) => Ret::Code(1),
        Err(e) => fail(ctx, &format!("avp_pushto(): {e}")),
    }
}

/// A comparison of `avp_check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Re,
    Fm,
    And,
    Or,
    Xor,
}

fn parse_op(s: &str) -> Option<Op> {
    Some(match s.to_ascii_lowercase().as_str() {
        "eq" => Op::Eq,
        "ne" => Op::Ne,
        "lt" => Op::Lt,
        "le" => Op::Le,
        "gt" => Op::Gt,
        "ge" => Op::Ge,
        "re" => Op::Re,
        "fm" => Op::Fm,
        "and" => Op::And,
        "or" => Op::Or,
        "xor" => Op::Xor,
        _ => return None,
    })
}

/// `op/value[/flags]`: the op, the value text, case-insensitive (`i`),
/// every value (`g`).
fn parse_check(s: &str) -> Option<(Op, &str, bool, bool)> {
    let (op, rest) = s.split_once('/')?;
    let op = parse_op(op)?;
    let (value, flags) = match rest.rsplit_once('/') {
        Some((v, f))
            if !f.is_empty() && f.bytes().all(|b| matches!(b, b'i' | b'I' | b'g' | b'G')) =>
        {
            (v, f)
        }
        _ => (rest, ""),
    };
    let ci = flags.bytes().any(|b| b.eq_ignore_ascii_case(&b'i'));
    let all = flags.bytes().any(|b| b.eq_ignore_ascii_case(&b'g'));
    Some((op, value, ci, all))
}

/// Shell-like match: `*` any run, `?` one byte.
fn fast_match(pat: &[u8], s: &[u8], ci: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if ci {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < s.len() {
        match (pat.get(p), s.get(t)) {
            (Some(b'*'), _) => {
                star = Some((p, t));
                p += 1;
            }
            (Some(&pc), Some(&tc)) if pc == b'?' || eq(pc, tc) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat.get(p..)
        .is_some_and(|rest| rest.iter().all(|b| *b == b'*'))
}

/// Compares one AVP value with the check value; `Err` for a bad regex.
fn compare(op: Op, avp: &Value<'_>, with: &Value<'_>, ci: bool) -> Result<bool, String> {
    let ints = match (avp, with) {
        (Value::Int(a), Value::Int(b)) => Some((*a, *b)),
        _ => None,
    };
    let a = avp.clone().into_bytes();
    let b = with.clone().into_bytes();
    let ord = || match ints {
        Some((x, y)) => x.cmp(&y),
        None if ci => a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()),
        None => a.as_ref().cmp(b.as_ref()),
    };
    let bits = |f: fn(i64, i64) -> i64| -> bool {
        let x = avp.to_int().or_else(|| parse_int(&a));
        let y = with.to_int().or_else(|| parse_int(&b));
        matches!((x, y), (Some(x), Some(y)) if f(x, y) != 0)
    };
    use std::cmp::Ordering::*;
    Ok(match op {
        Op::Eq => ord() == Equal,
        Op::Ne => ord() != Equal,
        Op::Lt => ord() == Less,
        Op::Le => ord() != Greater,
        Op::Gt => ord() == Greater,
        Op::Ge => ord() != Less,
        Op::Re => {
            let pat = String::from_utf8_lossy(&b);
            let re = RegexBuilder::new(&pat)
                .case_insensitive(ci)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("bad regex `{pat}`: {e}"))?;
            re.is_match(&a)
        }
        Op::Fm => fast_match(&b, &a, ci),
        Op::And => bits(|x, y| x & y),
        Op::Or => bits(|x, y| x | y),
        Op::Xor => bits(|x, y| x ^ y),
    })
}

/// `avp_check(name, "op/value[/flags]")`: compares the AVP's newest value
/// (every value with `g`) with a literal (`i:N`, `s:text`, text), a URI
/// source (`$ruri`, `$from`, `$to` with `/username` ...), `$src_ip` ... or
/// another AVP (`$name`, `$s:name`, `$i:N`).
pub(crate) fn avp_check(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let name_text = args.as_written(0).unwrap_or_default();
    let Some(name) = parse_name(name_text.as_bytes()) else {
        return fail(ctx, &format!("avp_check(): bad AVP name `{name_text}`"));
    };
    let spec = args.as_written(1).unwrap_or_default();
    let Some((op, value_text, ci, all)) = parse_check(&spec) else {
        return fail(ctx, &format!("avp_check(): bad check `{spec}`"));
    };
    let with = if value_text.starts_with('$') {
        match source_value(ctx, value_text) {
            Some(Some(v)) => v,
            Some(None) => return Ret::Code(-1),
            None => match parse_name(value_text.as_bytes()) {
                Some(n) => match ctx.avps.get(&sel(n), 0) {
                    Some(v) => v.clone(),
                    None => return Ret::Code(-1),
                },
                None => return fail(ctx, &format!("avp_check(): bad value `{value_text}`")),
            },
        }
    } else {
        literal(value_text)
    };
    let s = sel(name);
    let values: Vec<Value<'static>> = if all {
        ctx.avps.values(&s).cloned().collect()
    } else {
        ctx.avps.get(&s, 0).cloned().into_iter().collect()
    };
    for v in &values {
        match compare(op, v, &with, ci) {
            Ok(true) => return Ret::Code(1),
            Ok(false) => {}
            Err(e) => return fail(ctx, &format!("avp_check(): {e}")),
        }
    }
    Ret::Code(-1)
}
