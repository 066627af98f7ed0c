//! The `registrar` and `usrloc` modules: REGISTER processing (RFC 3261
//! section 10.3, Path of RFC 3327) and contact lookup over an in-memory
//! location store (usrloc `db_mode=0`), kept in a database as well with
//! `db_mode` 1 and 2, or only in the database with `db_mode` 3
//! ([`persist`]; [`fetch`] reads an AoR's rows before a call uses them).
//!
//! - [`location`]: the store ([`Location`]), shared by all shards through
//!   [`crate::script::Config::location`], striped so that no lock is
//!   global.
//! - [`save`]: `save(table[, flags])` and its SER 2.x / `_noreply`
//!   variants.
//! - [`lookup`]: `lookup(table)` and `registered(table)`.
//!
//! The module parameters of both modules are read once at load time into
//! [`Params`] ([`Params::from_program`]). The address of record (AoR) of
//! a request is the user part of its URI (unescaped), or `user@domain`
//! with `use_domain=1` (the domain in lower case); the user part keeps its
//! case unless `case_sensitive=0` ([`aor_of`]).

pub mod location;
pub mod lookup;
pub mod persist;
pub mod save;

#[cfg(test)]
mod tests;

use ser_cfg::ir::{ConstValue, Program};

use crate::sip::uri::{Uri, unescape};

pub use location::{Aor, Binding, Location, Order, Table};

/// Module parameters of `registrar` and `usrloc` (defaults as Kamailio's
/// unless noted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// `default_expires` (3600): expiry of a contact when neither its
    /// `expires` parameter nor an Expires header gives one.
    pub default_expires: u32,
    /// `min_expires` (60, 0 = no minimum): a shorter non-zero expiry is
    /// answered `423 Interval Too Brief`.
    pub min_expires: u32,
    /// `max_expires` (0 = no maximum): a longer expiry is cut to it.
    pub max_expires: u32,
    /// `default_q` (none): q of contacts that give none, thousandths.
    pub default_q: Option<u16>,
    /// `max_contacts` (0 = no limit): most bindings per AoR.
    pub max_contacts: u32,
    /// `append_branches` (1): `lookup` adds the other contacts as
    /// branches.
    pub append_branches: bool,
    /// `desc_time_order` (0): newest contact first instead of highest q.
    pub order: Order,
    /// `use_domain` (0): AoRs are `user@domain`, not `user`.
    pub use_domain: bool,
    /// `case_sensitive` (1): compare user parts as written.
    pub case_sensitive: bool,
    /// `nat_flag` (registrar, SER 0.9 / Kamailio 1.x): message flag that
    /// marks a NATed registration at `save`; `lookup` sets it again.
    pub nat_flag: Option<u32>,
    /// `nat_bflag` (usrloc, Kamailio 3.x): the same as a branch flag.
    pub nat_bflag: Option<u32>,
    /// `use_path` (1 here, 0 in Kamailio): store Path headers.
    pub use_path: bool,
    /// `path_mode` (1 here, 2 in Kamailio): 0 never echo Path in the 200,
    /// 1 echo it when the REGISTER has `Supported: path`, 2 also answer
    /// `420 Bad Extension` when it has not.
    pub path_mode: u8,
    /// `retry_after` (0 = none): Retry-After of the `503` for too many
    /// contacts.
    pub retry_after: u32,
    /// `cseq_delay` (usrloc, 20): a REGISTER repeating the stored Call-ID
    /// and CSeq of a contact within this many seconds of its last change
    /// is a retransmission (the contact is left alone); later it fails.
    pub cseq_delay: u32,
    /// usrloc `db_mode` (0): 0 memory only, 1 write-through, 2 write-back,
    /// 3 store only ([`persist`]).
    pub db_mode: u8,
    /// usrloc `timer_interval` (60 s): how often `db_mode` 2 writes back.
    pub timer_interval: u32,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            default_expires: 3600,
            min_expires: 60,
            max_expires: 0,
            default_q: None,
            max_contacts: 0,
            append_branches: true,
            order: Order::Q,
            use_domain: false,
            case_sensitive: true,
            nat_flag: None,
            nat_bflag: None,
            use_path: true,
            path_mode: 1,
            retry_after: 0,
            cseq_delay: 20,
            db_mode: 0,
            timer_interval: 60,
        }
    }
}

fn const_int(p: &Program, v: &ConstValue) -> Option<i64> {
    match v {
        ConstValue::Int(n) => Some(*n),
        ConstValue::Str(s) => crate::script::value::parse_int(p.str(*s).trim().as_bytes()),
        ConstValue::Bool(b) => Some(i64::from(*b)),
    }
}

impl Params {
    /// The defaults with the `modparam`s of `registrar` and `usrloc` in
    /// `p` (a value out of range keeps the default).
    pub fn from_program(p: &Program) -> Params {
        let mut r = Params::default();
        for m in &p.modules {
            let module = p.str(m.name);
            if module != "registrar" && module != "usrloc" {
                continue;
            }
            for (name, value) in &m.params {
                let Some(n) = const_int(p, value) else {
                    continue;
                };
                let u32_of = |d: u32| u32::try_from(n).unwrap_or(d);
                let flag = u32::try_from(n).ok().filter(|f| *f <= 63);
                match p.str(*name) {
                    "default_expires" => r.default_expires = u32_of(r.default_expires),
                    "min_expires" => r.min_expires = u32_of(r.min_expires),
                    "max_expires" => r.max_expires = u32_of(r.max_expires),
                    "default_q" => {
                        r.default_q = u16::try_from(n).ok().filter(|q| *q <= 1000);
                    }
                    "max_contacts" => r.max_contacts = u32_of(r.max_contacts),
                    "append_branches" => r.append_branches = n != 0,
                    "desc_time_order" => {
                        r.order = if n != 0 { Order::Time } else { Order::Q };
                    }
                    "use_domain" => r.use_domain = n != 0,
                    "case_sensitive" => r.case_sensitive = n != 0,
                    "nat_flag" => r.nat_flag = flag,
                    "nat_bflag" => r.nat_bflag = flag,
                    "use_path" => r.use_path = n != 0,
                    "path_mode" => r.path_mode = u8::try_from(n).unwrap_or(r.path_mode).min(2),
                    "retry_after" => r.retry_after = u32_of(r.retry_after),
                    "cseq_delay" => r.cseq_delay = u32_of(r.cseq_delay),
                    "db_mode" => r.db_mode = u8::try_from(n).unwrap_or(r.db_mode),
                    "timer_interval" => {
                        r.timer_interval = u32_of(r.timer_interval).max(1);
                    }
                    _ => {}
                }
            }
        }
        r
    }
}

/// The canonical AoR of `uri` (see the module docs); `None` when it has
/// no user part.
pub fn aor_of(uri: &Uri<'_>, params: &Params) -> Option<Vec<u8>> {
    let user = uri.user().filter(|u| !u.is_empty())?;
    let mut aor = unescape(user).into_owned();
    if !params.case_sensitive {
        aor.make_ascii_lowercase();
    }
    if params.use_domain
        && let Some(host) = uri.host()
    {
        aor.push(b'@');
        let start = aor.len();
        aor.extend_from_slice(host.to_string().as_bytes());
        if let Some(h) = aor.get_mut(start..) {
            h.make_ascii_lowercase();
        }
    }
    Some(aor)
}

/// The table named by a registrar function's argument 0 (`location` by
/// default); `None`, logged, when no more tables can be made.
pub(crate) fn table<'c>(
    ctx: &mut crate::script::MsgCtx<'c, '_>,
    args: &crate::script::Args<'_>,
) -> Option<location::TableRef<'c>> {
    let name = args
        .bytes(0, ctx)
        .map(std::borrow::Cow::into_owned)
        .unwrap_or_else(|| b"location".to_vec());
    let config: &'c crate::script::Config = ctx.config;
    let table = config.location.table(&name);
    if table.is_none() {
        let (_, fname) = args.function();
        ctx.log(
            crate::script::level::L_ERR,
            &format!(
                "{fname}(): too many location tables, cannot add `{}`",
                String::from_utf8_lossy(&name)
            ),
        );
    }
    table
}

/// The name given as a registrar function's argument 0 (`location` by
/// default).
pub(crate) fn table_name(
    ctx: &crate::script::MsgCtx<'_, '_>,
    args: &crate::script::Args<'_>,
) -> Vec<u8> {
    args.bytes(0, ctx)
        .map(std::borrow::Cow::into_owned)
        .unwrap_or_else(|| b"location".to_vec())
}

/// What [`fetch`] says to do.
pub(crate) enum Fetch {
    /// Go on: memory holds the AoR's bindings (as the store has them in
    /// `db_mode` 3).
    Go,
    /// Return this (the call is suspended for the store read).
    Wait(crate::script::Ret),
    /// The store could not be read (logged).
    Failed,
}

/// usrloc `db_mode` 3, before a call uses the bindings of `aor` in
/// `table`: the first run offloads a read of the AoR's rows and suspends
/// (`Resume::Retry`); the run again puts what was read in memory in place
/// of the AoR and goes on. Other modes, and tables the store does not
/// hold, go on at once. At most [`persist::MAX_READS`] reads a message.
pub(crate) fn fetch(
    ctx: &mut crate::script::MsgCtx<'_, '_>,
    fname: &str,
    name: &[u8],
    table: &Table,
    aor: &[u8],
    now: u64,
) -> Fetch {
    use crate::script::{Completion, Offload, Pending, Resume, Ret, level};
    let Some(db) = ctx.config.usrloc_db.as_ref().filter(|d| d.mode == 3) else {
        return Fetch::Go;
    };
    if !persist::persisted(name) {
        return Fetch::Go;
    }
    if let Some(slot) = ctx.ul_read.take() {
        let read = slot.lock().take();
        return match read {
            Some(mut list) => {
                // Newest first, and no more than memory keeps for an AoR
                // (the rows are the database's, not ours).
                list.sort_by_key(|b| std::cmp::Reverse(b.last_modified));
                list.truncate(location::HARD_MAX_BINDINGS);
                table.update(aor, now, |l| *l = list);
                Fetch::Go
            }
            None => {
                ctx.log(
                    level::L_ERR,
                    &format!("{fname}(): the bindings could not be read from the store"),
                );
                Fetch::Failed
            }
        };
    }
    if ctx.ul_reads >= persist::MAX_READS {
        ctx.log(
            level::L_ERR,
            &format!(
                "{fname}(): more than {} store reads for one message; refused",
                persist::MAX_READS
            ),
        );
        return Fetch::Failed;
    }
    ctx.ul_reads += 1;
    let slot = persist::UlRead::default();
    ctx.ul_read = Some(slot.clone());
    let db = db.clone();
    let (name, aor) = (name.to_vec(), aor.to_vec());
    Fetch::Wait(Ret::Suspend(Pending::Offload(Offload {
        kind: "usrloc",
        start: Box::new(move |c: Completion| {
            // Refused or lost: the run again finds the slot empty.
            let c = c.or(Resume::Retry);
            db.read(&name, &aor, now, move |r| {
                *slot.lock() = r;
                c.done(Resume::Retry);
            });
        }),
    })))
}
