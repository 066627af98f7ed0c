//! SER 2.0's avp_db `load_attrs(track, id)`: attributes from the store
//! into AVPs.
//!
//! * `"$fu"` / `"$tu"`: `id` is a uid (`"$f.uid"`); its `user_attrs` go
//!   to the user class of the From / To track (`$fu.x`, `$tu.x`).
//! * `"$fr"` / `"$tr"`: `id` is a URI (`"@ruri"`); its `uri_attrs`
//!   (matched on user, did of the host and scheme, as `lookup_user`) go to
//!   the URI class of that track.
//!
//! Only rows with `LOAD_SER` are loaded; type 2 is a string, anything
//! else an integer. True (1) once the table was read, even when the user
//! has no attributes (as SER); false (-1) when `id` is unset, the URI does
//! not parse, or the store fails (logged).

use std::sync::{Arc, OnceLock};

use crate::avpops::LoadSlot;
use crate::script::ctx::{AvpClass, AvpName, AvpTrackSide, level};
use crate::script::{Args, Completion, MsgCtx, Offload, Pending, Resume, Ret, Value};
use crate::store::tables::{self, AttrRow};

/// A query of one of the attribute tables.
type Job =
    Box<dyn FnOnce(&mut crate::store::Db) -> Result<Vec<AttrRow>, crate::store::DbError> + Send>;

fn fail(ctx: &mut MsgCtx<'_, '_>, text: &str) -> Ret {
    ctx.log(level::L_ERR, text);
    Ret::Code(-1)
}

/// The track and class `"$fu"`, `"$tu"`, `"$fr"`, `"$tr"` name (any case).
fn parse_track(t: &str) -> Option<(AvpTrackSide, AvpClass)> {
    Some(match t.trim().to_ascii_lowercase().as_str() {
        "$fu" => (AvpTrackSide::From, AvpClass::User),
        "$tu" => (AvpTrackSide::To, AvpClass::User),
        "$fr" => (AvpTrackSide::From, AvpClass::Uri),
        "$tr" => (AvpTrackSide::To, AvpClass::Uri),
        _ => return None,
    })
}

/// What a query read, as parked in the slot: name, type, value (a NULL
/// value is parked empty).
fn park(rows: Vec<AttrRow>) -> Vec<(String, i64, String)> {
    rows.into_iter()
        .map(|r| (r.name, r.type_, r.value.unwrap_or_default()))
        .collect()
}

/// `load_attrs(track, id)`: see the module documentation.
pub(crate) fn load_attrs(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let track_text = args.as_written(0).unwrap_or_default();
    let Some((track, class)) = parse_track(&track_text) else {
        return fail(
            ctx,
            &format!("load_attrs(): `{track_text}`: expected \"$fu\", \"$tu\", \"$fr\" or \"$tr\""),
        );
    };
    // Second run: add what the query parked.
    if let Some(slot) = ctx.avp_load.take() {
        let Some(rows) = slot.get() else {
            return fail(ctx, "load_attrs(): the attributes could not be read");
        };
        for (name, type_, value) in rows {
            let v = super::attr_value(&AttrRow {
                name: String::new(),
                type_: *type_,
                value: Some(value.clone()),
                flags: 0,
            });
            if !ctx
                .avps
                .add(class, track, AvpName::Str(name.as_bytes().into()), v)
            {
                return fail(ctx, "load_attrs(): too many AVPs in this message");
            }
        }
        return Ret::Code(1);
    }
    let Some(pool) = ctx.config.avp_db.clone() else {
        return fail(ctx, "load_attrs(): avp_db has no database");
    };
    let id = match args.value(1, ctx) {
        None | Some(Value::Null) => return Ret::Code(-1),
        Some(v) => v.into_bytes().into_owned(),
    };
    let slot: LoadSlot = Arc::new(OnceLock::new());
    let job: Job = match class {
        AvpClass::User => {
            let uid = String::from_utf8_lossy(&id).into_owned();
            Box::new(move |db: &mut crate::store::Db| tables::user_attrs(db, &uid))
        }
        _ => {
            let Some(key) = super::uri_key(ctx, &id) else {
                return fail(
                    ctx,
                    &format!(
                        "load_attrs(): `{}` is not a URI",
                        String::from_utf8_lossy(&id)
                    ),
                );
            };
            Box::new(move |db: &mut crate::store::Db| {
                tables::uri_attrs(db, &key.username, &key.did, &key.scheme)
            })
        }
    };
    ctx.avp_load = Some(slot.clone());
    Ret::Suspend(Pending::Offload(Offload {
        kind: "avp_db",
        start: Box::new(move |c: Completion| {
            // Refused or lost: the second run finds the slot unset.
            let c = c.or(Resume::Retry);
            let _ = pool.submit(job, move |r| {
                if let Ok(rows) = r {
                    let _ = slot.set(park(rows));
                }
                c.done(Resume::Retry);
            });
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks() {
        assert_eq!(
            parse_track("$fu"),
            Some((AvpTrackSide::From, AvpClass::User))
        );
        assert_eq!(parse_track("$TR"), Some((AvpTrackSide::To, AvpClass::Uri)));
        assert_eq!(parse_track("$fd"), None);
        assert_eq!(parse_track("fu"), None);
    }
}
