//! `lookup(table)` and `registered(table)`: find the bindings of the
//! Request-URI's address of record.
//!
//! `lookup` rewrites the Request-URI to the first binding (highest q, or
//! newest with `desc_time_order`) and, with `append_branches=1`, adds the
//! others as branches in that order (as many as `max_branches` allows).
//! A binding stored with a Path sends its request to the first Path URI
//! (`$du`, or the branch's destination); for the Request-URI branch the
//! Path is also added as a Route header, when every chosen binding has
//! the same Path (the stateless copies share one set of edits). A binding
//! saved with `nat_flag` / `nat_bflag` set sets them again; the binding's
//! other branch flags are given back too.
//!
//! With usrloc `db_mode` 3 both first read the AoR's rows from the store
//! (the script suspended meanwhile, see [`super::fetch`]), so the answer
//! is the store's, bindings saved by other routers included.
//!
//! Return codes (Kamailio's): 1 found, -1 no live binding, -3 the
//! Request-URI has no usable AoR or the table (or, `db_mode` 3, the
//! store) cannot be had; `registered` gives -1 for all failures. (-2,
//! "contacts found but none allows the method", needs the `methods` of
//! a Contact, which are not stored.)
//!
//! `lookup("aliases")` is the same function over the `aliases` table:
//! the Request-URI becomes the alias's target (SER 0.9's aliases live in
//! usrloc, as here).

use crate::script::{Args, Branch, MsgCtx, Ret, level};
use crate::sip::uri::Uri;

use super::location::{Binding, FL_NAT, TableRef, now};
use super::{Fetch, aor_of, fetch, table, table_name};

/// The table and AoR a call is about (read from the store first in
/// `db_mode` 3), or its return code.
fn target<'c>(ctx: &mut MsgCtx<'c, '_>, args: &Args<'_>) -> Result<(TableRef<'c>, Vec<u8>), Ret> {
    let (_, fname) = args.function();
    let Some(table) = table(ctx, args) else {
        return Err(Ret::Code(-3));
    };
    let (table, aor) = find(ctx, args, table)?;
    let name = table_name(ctx, args);
    match fetch(ctx, fname, &name, &table, &aor, now()) {
        Fetch::Go => Ok((table, aor)),
        Fetch::Wait(r) => Err(r),
        Fetch::Failed => Err(Ret::Code(-3)),
    }
}

/// The Request-URI's AoR, or the return code.
fn find<'c>(
    ctx: &mut MsgCtx<'c, '_>,
    args: &Args<'_>,
    table: TableRef<'c>,
) -> Result<(TableRef<'c>, Vec<u8>), Ret> {
    let (_, fname) = args.function();
    let config: &'c crate::script::Config = ctx.config;
    let ruri = ctx.ruri().to_vec();
    let aor = Uri::parse(&ruri, ctx.msg.limits())
        .ok()
        .and_then(|u| aor_of(&u, &config.registrar));
    match aor {
        Some(aor) => Ok((table, aor)),
        None => {
            ctx.log(
                level::L_DBG,
                &format!(
                    "{fname}(): no address of record in `{}`",
                    String::from_utf8_lossy(&ruri)
                ),
            );
            Err(Ret::Code(-3))
        }
    }
}

/// The branch flags a binding gives back.
fn bflags_of(ctx: &MsgCtx<'_, '_>, b: &Binding) -> u64 {
    let mut f = b.bflags;
    if b.flags & FL_NAT != 0
        && let Some(bit) = ctx.config.registrar.nat_bflag
    {
        f |= 1u64 << bit;
    }
    f
}

/// `lookup(table)`: see the module docs.
pub(crate) fn lookup(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let (table, aor) = match target(ctx, args) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let p = &ctx.config.registrar;
    let bindings = table.get(&aor, now(), p.order);
    drop(table);
    let Some((first, rest)) = bindings.split_first() else {
        return Ret::Code(-1);
    };
    let append = p.append_branches;
    let nat_flag = p.nat_flag;

    ctx.new_uri = Some(first.contact().to_vec());
    if let Some(d) = first.path_dst() {
        ctx.dst_uri = Some(d.to_vec());
    }
    ctx.bflags = bflags_of(ctx, first);
    if first.flags & FL_NAT != 0
        && let Some(bit) = nat_flag
    {
        ctx.flags |= 1u64 << bit;
    }

    let mut added = 0;
    if append {
        for b in rest {
            if ctx.branches.len() >= ctx.config.max_branches {
                ctx.log(
                    level::L_WARN,
                    &format!(
                        "lookup(): too many branches, {} contact(s) left out",
                        rest.len() - added
                    ),
                );
                break;
            }
            if b.flags & FL_NAT != 0
                && let Some(bit) = nat_flag
            {
                ctx.flags |= 1u64 << bit;
            }
            let flags = bflags_of(ctx, b);
            ctx.branches.push(Branch {
                uri: b.contact().to_vec(),
                dst_uri: b.path_dst().map(<[u8]>::to_vec),
                q: b.q,
                flags,
                path: b.path().map(<[u8]>::to_vec),
            });
            added += 1;
        }
    }

    if let Some(path) = first.path() {
        let same = rest.iter().take(added).all(|b| b.path() == first.path());
        if same {
            let msg = ctx.msg;
            if let Err(e) = ctx.edits.add_header_first(msg, b"Route", path) {
                ctx.log(level::L_ERR, &format!("lookup(): cannot add Route: {e}"));
            }
        }
    }
    Ret::Code(1)
}

/// `registered(table)`: 1 when the Request-URI's AoR has a live binding,
/// else -1.
pub(crate) fn registered(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    match target(ctx, args) {
        Ok((table, aor)) if table.has_live(&aor, now()) => Ret::Code(1),
        Ok(_) => Ret::Code(-1),
        Err(r @ Ret::Suspend(_)) => r,
        Err(_) => Ret::Code(-1),
    }
}
