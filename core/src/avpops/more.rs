//! The rest of avpops that scripts use with preferences: `is_avp_set`,
//! `avp_copy`, `avp_print`, and the writes `avp_db_store` and
//! `avp_db_delete` (offloaded to the store, as `avp_db_load` is).

use std::sync::Arc;

use super::{AvpDb, fail, parse_name, sel, source_user};
use crate::script::{
    Args, AvpName, Completion, MsgCtx, Offload, Pending, Resume, Ret, Value, level,
};
use crate::store::tables::{self, Preference};

/// An AVP name argument (`s:x`, `i:1`, `x`, `$avp(x)`), with its `/flags`.
fn name_arg(args: &Args<'_>, i: usize) -> Option<(AvpName, String)> {
    let text = args.as_written(i)?;
    let (spec, flags) = text.split_once('/').unwrap_or((&text, ""));
    Some((parse_name(spec.as_bytes())?, flags.to_string()))
}

/// `is_avp_set(name)`: true when the AVP has a value.
pub(crate) fn is_avp_set(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some((name, _)) = name_arg(args, 0) else {
        return fail(ctx, "is_avp_set(): bad AVP name");
    };
    Ret::Code(if ctx.avps.get(&sel(name), 0).is_some() {
        1
    } else {
        -1
    })
}

/// `avp_copy(old, new[/g][/d])`: copies the newest value of `old` (every
/// value with `g`, oldest first so the order is kept) to `new`; `d`
/// deletes `old` afterwards (a move). False when `old` is not set.
pub(crate) fn avp_copy(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let (Some((from, _)), Some((to, flags))) = (name_arg(args, 0), name_arg(args, 1)) else {
        return fail(ctx, "avp_copy(): bad AVP name");
    };
    let from = sel(from);
    let mut values: Vec<Value<'static>> = if flags.contains('g') {
        ctx.avps.values(&from).cloned().collect()
    } else {
        ctx.avps.get(&from, 0).cloned().into_iter().collect()
    };
    if values.is_empty() {
        return Ret::Code(-1);
    }
    values.reverse();
    let to = sel(to);
    for v in values {
        if !ctx.avps.push(&to, v) {
            return fail(ctx, "avp_copy(): too many AVPs");
        }
    }
    if flags.contains('d') {
        ctx.avps.remove_all(&from);
    }
    Ret::Code(1)
}

/// `avp_print()`: logs every AVP of the message (L_INFO), one per line.
pub(crate) fn avp_print(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    let lines: Vec<String> = ctx
        .avps
        .items()
        .map(|a| {
            let name = match &a.name {
                AvpName::Int(n) => format!("i:{n}"),
                AvpName::Str(s) => format!("s:{}", String::from_utf8_lossy(s)),
            };
            format!(
                "avp_print(): {name} = {} ({:?}, {:?})",
                a.value, a.class, a.track
            )
        })
        .collect();
    for l in lines {
        ctx.log(level::L_INFO, &l);
    }
    Ret::Code(1)
}

/// Runs a write on the module's pool with the script suspended; resumes
/// with 1 when it succeeded, -1 when it failed or was refused.
fn offload_write<F>(db: &Arc<AvpDb>, work: F) -> Ret
where
    F: FnOnce(&mut crate::store::Db) -> Result<(), crate::store::DbError> + Send + 'static,
{
    let pool = db.pool.clone();
    Ret::Suspend(Pending::Offload(Offload {
        kind: "avpops",
        start: Box::new(move |c: Completion| {
            let _ = pool.submit(work, move |r| {
                c.done(Resume::Code(if r.is_ok() { 1 } else { -1 }));
            });
        }),
    }))
}

/// `avp_db_store(source, name)`: stores the AVP's values as the source
/// user's preferences named after the AVP (string values type 0, integers
/// type 1). False when the AVP is not set.
pub(crate) fn avp_db_store(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(db) = ctx.config.avpops.clone() else {
        return fail(ctx, "avp_db_store(): avpops has no database");
    };
    let Some((name, _)) = name_arg(args, 1) else {
        return fail(ctx, "avp_db_store(): bad AVP name");
    };
    let (user, domain) = match source_user(ctx, args, "avp_db_store", &db) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let attribute = match &name {
        AvpName::Int(n) => n.to_string(),
        AvpName::Str(s) => String::from_utf8_lossy(s).into_owned(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let rows: Vec<Preference> = ctx
        .avps
        .values(&sel(name))
        .map(|v| Preference {
            uuid: String::new(),
            username: user.clone(),
            domain: domain.clone().unwrap_or_default(),
            attribute: attribute.clone(),
            type_: i64::from(matches!(v, Value::Int(_))),
            value: v.to_string(),
            last_modified: now,
        })
        .collect();
    if rows.is_empty() {
        return Ret::Code(-1);
    }
    offload_write(&db, move |d| {
        for r in &rows {
            tables::preference_add(d, r)?;
        }
        Ok(())
    })
}

/// `avp_db_delete(source, name)`: deletes the source user's preferences
/// named `name` (every preference of the user when `name` is empty).
pub(crate) fn avp_db_delete(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(db) = ctx.config.avpops.clone() else {
        return fail(ctx, "avp_db_delete(): avpops has no database");
    };
    let attribute = match args.as_written(1).filter(|t| !t.is_empty()) {
        None => None,
        Some(_) => match name_arg(args, 1) {
            Some((AvpName::Int(n), _)) => Some(n.to_string()),
            Some((AvpName::Str(s), _)) => Some(String::from_utf8_lossy(&s).into_owned()),
            None => return fail(ctx, "avp_db_delete(): bad AVP name"),
        },
    };
    let (user, domain) = match source_user(ctx, args, "avp_db_delete", &db) {
        Ok(k) => k,
        Err(r) => return r,
    };
    offload_write(&db, move |d| {
        tables::preferences_delete(d, &user, domain.as_deref(), attribute.as_deref()).map(drop)
    })
}
