//! SER 2.0's uri_db `lookup_user`: the uid of a URI, from table `uri`.
//!
//! * `lookup_user(attr, uri)`: `uri` (`"@to.uri"`, `"@from.uri"`,
//!   `"@ruri"`, any value) is matched on its user, the did of its host
//!   (the domain module's id; `_default` when the host is not local) and
//!   its scheme. The row must have `LOAD_SER`, not `DISABLED`, and
//!   `IS_TO` when `attr` is in the To track (`$tu.uid`, `$t.x`), `IS_FROM`
//!   otherwise. The uid is added to `attr`.
//! * `lookup_user("To"|"From"|"Request-URI")` (the one-argument form):
//!   the URI of that header (or the Request-URI, matched as To), the uid
//!   added as `uid` in the user class of the From or To track (`$fu.uid`,
//!   `$tu.uid`, SER's `set_from_uid`/`set_to_uid`).
//!
//! True (1) when a uid was found; false (-1) when not, for a URI without
//! user or that does not parse, or when the store fails (logged).

use std::sync::{Arc, OnceLock};

use crate::avpops::LoadSlot;
use crate::script::ctx::{AvpClass, AvpName, AvpTrackSide, level};
use crate::script::{Args, Completion, MsgCtx, Offload, Pending, Resume, Ret, Value};
use crate::store::tables::{self, ser_flags};

/// Where the uid goes and which flag the row needs.
struct Target {
    class: AvpClass,
    track: AvpTrackSide,
    name: AvpName,
    need: i64,
}

fn fail(ctx: &mut MsgCtx<'_, '_>, text: &str) -> Ret {
    ctx.log(level::L_ERR, text);
    Ret::Code(-1)
}

/// `lookup_user(...)`: see the module documentation.
pub(crate) fn lookup_user(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let (target, uri) = if args.len() >= 2 {
        let Some(sel) = super::avp_arg(args, 0) else {
            return fail(ctx, "lookup_user(): the first argument must name an AVP");
        };
        let need = match sel.track {
            AvpTrackSide::To => ser_flags::IS_TO,
            AvpTrackSide::From => ser_flags::IS_FROM,
        };
        let uri = args.bytes(1, ctx).unwrap_or_default().into_owned();
        (
            Target {
                class: sel.write_class,
                track: sel.track,
                name: sel.name,
                need,
            },
            uri,
        )
    } else {
        let which = args.as_written(0).unwrap_or_default();
        let (track, uri) = match which.to_ascii_lowercase().as_str() {
            "to" => (
                AvpTrackSide::To,
                ctx.msg.to().map(|t| t.uri.raw.to_vec()).unwrap_or_default(),
            ),
            "from" => (
                AvpTrackSide::From,
                ctx.msg
                    .from()
                    .map(|f| f.uri.raw.to_vec())
                    .unwrap_or_default(),
            ),
            "request-uri" => (AvpTrackSide::To, ctx.ruri().to_vec()),
            _ => {
                return fail(
                    ctx,
                    &format!(
                        "lookup_user(): `{which}`: expected \"To\", \"From\" or \"Request-URI\""
                    ),
                );
            }
        };
        let need = match track {
            AvpTrackSide::To => ser_flags::IS_TO,
            AvpTrackSide::From => ser_flags::IS_FROM,
        };
        (
            Target {
                class: AvpClass::User,
                track,
                name: AvpName::Str(b"uid"[..].into()),
                need,
            },
            uri,
        )
    };
    // Second run: the answer the query parked.
    if let Some(slot) = ctx.avp_load.take() {
        let Some(rows) = slot.get() else {
            return fail(ctx, "lookup_user(): the uri table could not be read");
        };
        let Some((_, _, uid)) = rows.first() else {
            return Ret::Code(-1);
        };
        let v = Value::owned(uid.as_bytes().to_vec());
        if !ctx.avps.add(target.class, target.track, target.name, v) {
            return fail(ctx, "lookup_user(): too many AVPs in this message");
        }
        return Ret::Code(1);
    }
    let Some(pool) = ctx.config.uri_db.clone() else {
        return fail(ctx, "lookup_user(): uri_db has no database");
    };
    let Some(key) = super::uri_key(ctx, &uri) else {
        return Ret::Code(-1);
    };
    // Empty usernames are never looked up (as SER).
    if key.username.is_empty() {
        return Ret::Code(-1);
    }
    let need = target.need;
    let slot: LoadSlot = Arc::new(OnceLock::new());
    ctx.avp_load = Some(slot.clone());
    Ret::Suspend(Pending::Offload(Offload {
        kind: "uri_db",
        start: Box::new(move |c: Completion| {
            // Refused or lost: the second run finds the slot unset.
            let c = c.or(Resume::Retry);
            let _ = pool.submit(
                move |db| tables::uri_uid(db, &key.username, &key.did, &key.scheme, need),
                move |r| {
                    if let Ok(found) = r {
                        let rows = found
                            .map(|(uid, flags)| vec![("uid".to_string(), flags, uid)])
                            .unwrap_or_default();
                        let _ = slot.set(rows);
                    }
                    c.done(Resume::Retry);
                },
            );
        }),
    }))
}
