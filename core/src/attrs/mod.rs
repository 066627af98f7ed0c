//! SER 2.x user data: users kept by uid, domains by did, and their
//! attributes loaded as AVPs.
//!
//! * [`global`]: gflags' global attributes (`global_attrs`), read at
//!   start and on `global.reload`, shared by every shard (`$gw_ip`).
//! * [`uri_db`]: `lookup_user(attr, uri)`: the uid of a URI (`uri`).
//! * [`avp_db`]: `load_attrs(track, id)`: a user's (`user_attrs`) or a
//!   URI's (`uri_attrs`) attributes.
//! * [`avp`]: the avp module's `del_attr`, `attr2uri`, `xlset_attr`,
//!   `replace_attr_hf`.
//!
//! The credentials (`credentials`, in [`crate::auth::db`]) and the domain
//! attributes (`domain_attrs`, in [`crate::policy::domain`]) live with the
//! modules that read them. Tables and flags: `docs/ser2-users.md`.
//!
//! Store queries made for a message (`lookup_user`, `load_attrs`) run on
//! the store's threads: the call suspends the script
//! ([`crate::script::Pending::Offload`]), parks the rows in
//! [`MsgCtx::avp_load`] (the slot avpops' `avp_db_load` uses too: one such
//! call runs at a time) and runs again to use them.

use std::sync::Arc;

use ser_cfg::ir::{Arg, ConstValue, Program};

use crate::script::ctx::{ALL_CLASSES, AvpClass, AvpName, AvpSel, AvpTrackSide};
use crate::script::pv::Pv;
use crate::script::value::parse_int;
use crate::script::{Args, MsgCtx, Value};
use crate::sip::uri::Uri;
use crate::store::tables::AttrRow;

pub mod avp;
pub mod avp_db;
pub mod global;
pub mod uri_db;

#[cfg(test)]
mod tests;

pub use global::GlobalAttrs;

/// Cached attributes: name and value, newest first.
pub type AttrList = Vec<(Box<[u8]>, Value<'static>)>;

/// The did SER uses for a URI whose host is not a local domain.
pub const DEFAULT_DID: &str = "_default";

/// An attribute row's value: a string for type 2 (SER's `AVP_VAL_STR`),
/// else an integer (SER's `str2int`: a value that is not a number reads
/// 0).
pub fn attr_value(a: &AttrRow) -> Value<'static> {
    let text = a.value.as_deref().unwrap_or("");
    if a.is_str() {
        Value::owned(text.as_bytes().to_vec())
    } else {
        Value::Int(parse_int(text.trim().as_bytes()).unwrap_or(0))
    }
}

/// The AVP an argument names: a SER AVP variable (`"$tu.uid"` compiles to
/// one), or a plain name (`"uid"`, the From track, every class).
pub(crate) fn avp_arg(args: &Args<'_>, i: usize) -> Option<AvpSel> {
    let p = &args.script.program;
    match args.raw(i)? {
        Arg::Var(v) => match args.script.vars.get(*v as usize)? {
            Pv::Avp { sel, .. } => Some(sel.clone()),
            _ => None,
        },
        Arg::Str(s) => {
            let name = p.str(*s).trim();
            let name = name.strip_prefix('$').unwrap_or(name);
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return None;
            }
            Some(AvpSel {
                name: AvpName::Str(name.as_bytes().into()),
                classes: ALL_CLASSES,
                track: AvpTrackSide::From,
                write_class: AvpClass::Uri,
            })
        }
        _ => None,
    }
}

/// What SER's uri_db and avp_db match a URI on: its user, the did of its
/// host (the domain module's id, [`DEFAULT_DID`] when the host is not
/// local or absent) and its scheme. `None` for a URI that does not parse.
pub(crate) struct UriKey {
    pub username: String,
    pub did: String,
    pub scheme: String,
}

pub(crate) fn uri_key(ctx: &MsgCtx<'_, '_>, uri_text: &[u8]) -> Option<UriKey> {
    let uri = Uri::parse(uri_text, ctx.msg.limits()).ok()?;
    let username = String::from_utf8_lossy(uri.user().unwrap_or_default()).into_owned();
    let did = uri
        .host()
        .map(|h| h.to_string())
        .and_then(|h| {
            let d = ctx.config.policy.domains.as_deref()?;
            d.snapshot().did(h.as_bytes()).map(str::to_string)
        })
        .unwrap_or_else(|| DEFAULT_DID.to_string());
    let scheme = String::from_utf8_lossy(uri.scheme.as_bytes()).to_ascii_lowercase();
    Some(UriKey {
        username,
        did,
        scheme,
    })
}

/// Whether `module` has parameter `name` set to a true number.
fn param_on(p: &Program, module: &str, name: &str) -> bool {
    p.modules
        .iter()
        .filter(|m| p.str(m.name) == module)
        .flat_map(|m| m.params.iter())
        .any(|(k, v)| {
            p.str(*k) == name
                && match v {
                    ConstValue::Int(n) => *n != 0,
                    ConstValue::Bool(b) => *b,
                    ConstValue::Str(s) => {
                        let t = p.str(*s).trim().to_ascii_lowercase();
                        t == "yes" || t == "on" || parse_int(t.as_bytes()).is_some_and(|n| n != 0)
                    }
                }
        })
}

/// Whether the program asks gflags for the global attributes.
pub fn wants_global_attrs(p: &Program) -> bool {
    param_on(p, "gflags", "load_global_attrs")
}

/// Whether the program asks the domain module for domain attributes.
pub fn wants_domain_attrs(p: &Program) -> bool {
    param_on(p, "domain", "load_domain_attrs")
}

/// Reads the global attributes at start when the config asks for them
/// (blocking is fine: the shards do not run yet). A table that cannot be
/// read stops the start.
pub fn setup_global(
    p: &Program,
    pool: Option<Arc<crate::store::Pool>>,
) -> Result<Option<Arc<GlobalAttrs>>, String> {
    if !wants_global_attrs(p) {
        return Ok(None);
    }
    let Some(pool) = pool else {
        return Err("gflags: load_global_attrs needs a db_url".into());
    };
    let g = GlobalAttrs::new(pool);
    let n = g.reload().map_err(|e| format!("gflags: {e}"))?;
    eprintln!("ser: gflags: {n} global attributes loaded");
    Ok(Some(Arc::new(g)))
}
