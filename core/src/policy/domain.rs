//! The `domain` module: which domains are local, from the `domain` table,
//! and its script functions.
//!
//! [`Domains`] holds the table as an immutable [`DomainSet`] behind an
//! `ArcSwap`, read without a lock by the shards and replaced whole by
//! [`Domains::reload`] (start-up and `domain.reload`).
//!
//! Matching (Kamailio's semantics, with two leniencies): a host is local
//! when the table holds it, compared without case. One trailing dot
//! (`example.com.`, a fully qualified name) and the brackets of an IPv6
//! reference (`[2001:db8::1]`) are ignored on both sides; Kamailio
//! compares the text as written. The router's own addresses (`myself`) are
//! *not* local unless they are in the table, as in Kamailio without
//! `register_myself`.
//!
//! Functions:
//!
//! * `is_from_local()`: the From URI's host is local.
//! * `is_uri_host_local()`: the Request-URI's host is local (the current
//!   one, `$rd`: after the script's rewrites).
//! * `is_domain_local(domain)` (Kamailio), `is_local(domain)` (SER 2.x):
//!   the argument (a string, a variable or a select) is local.
//! * `lookup_domain(...)`: two forms, by dialect.
//!   - SER 2.x: `lookup_domain("$fd"|"$td", domain)`: when the domain is
//!     local, its id is added as the AVP `did` of the domain class of the
//!     caller's (`$fd`) or callee's (`$td`) track, read back as `$fd.did`,
//!     `$f.did`, `$td.did`, `$t.did`.
//!   - Kamailio: `lookup_domain(domain [, prefix])`: when the domain is
//!     local, its id is added as `$avp(<prefix>did)`.
//!
//!   The id is the row's `did`, or the domain itself when `did` is NULL
//!   (as Kamailio). With `modparam("domain", "load_domain_attrs", 1)`
//!   (SER 2.x), the `domain_attrs` rows of that did (with `LOAD_SER`)
//!   are added too, to the same track's domain class: `$fd.digest_realm`.
//!   They are cached with the table and reloaded with it. Kamailio's
//!   `domain_attrs` (`$avp(<prefix>...)`) are not loaded.
//!
//! In SER 2.x configs the table's `flags` column is read too: a row with
//! `DISABLED` (2) is not local. Unlike SER, `LOAD_SER` (1) is not
//! required of a domain row (tables made for Kamailio have no flags).
//!
//! Every function returns 1 (true) when the domain is local and -1
//! otherwise; without a database (no `db_url`) it logs an error once and
//! returns -1.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use ser_cfg::dialect::Dialect;
use ser_cfg::ir::Program;

use super::{LoadReport, cell_text, const_int, params, sql_ident};
use crate::script::ctx::{AvpClass, AvpName, AvpTrackSide, level};
use crate::script::pv::{AddrPart, Pv, UriPart};
use crate::script::{Args, MsgCtx, Ret, Value};
use crate::store::{Db, DbError, Pool};

/// The `domain` module's parameters that matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainParams {
    /// `domain_table`, quoted for SQL.
    pub table: String,
    /// `domain_col`, quoted.
    pub domain_col: String,
    /// `did_col`, quoted.
    pub did_col: String,
    /// `flags_col`, quoted (read in SER 2.x configs only).
    pub flags_col: String,
    /// `load_domain_attrs` (SER 2.x): read `domain_attrs` with the table.
    pub load_attrs: bool,
    /// The config is SER 2.x: the `flags` column is read.
    pub ser2: bool,
}

impl Default for DomainParams {
    fn default() -> DomainParams {
        DomainParams {
            table: "\"domain\"".into(),
            domain_col: "\"domain\"".into(),
            did_col: "\"did\"".into(),
            flags_col: "\"flags\"".into(),
            load_attrs: false,
            ser2: false,
        }
    }
}

impl DomainParams {
    /// The parameters from the program's `modparam("domain", ...)`, with
    /// warnings for the ones that have no effect here. A table or column
    /// name that is not a plain identifier is an error.
    pub fn from_program(p: &Program) -> Result<(DomainParams, Vec<String>), String> {
        let mut r = DomainParams {
            ser2: p.dialect == Dialect::Ser2,
            ..DomainParams::default()
        };
        let mut warnings = Vec::new();
        let mut ignored: Vec<&str> = Vec::new();
        for (name, value) in params(p, "domain") {
            match name {
                "db_url" => {}
                "db_mode" => {
                    if const_int(p, value) == Some(0) {
                        warnings.push(
                            "db_mode 0 (a query per call) is not built: a shard never waits for \
                             the database; the table is cached (db_mode 1) and reloaded with \
                             domain.reload"
                                .to_string(),
                        );
                    }
                }
                "domain_table" => r.table = sql_ident("domain_table", &p.const_text(value))?,
                "domain_col" => r.domain_col = sql_ident("domain_col", &p.const_text(value))?,
                "did_col" => r.did_col = sql_ident("did_col", &p.const_text(value))?,
                "flags_col" => r.flags_col = sql_ident("flags_col", &p.const_text(value))?,
                "load_domain_attrs" => r.load_attrs = const_int(p, value).is_some_and(|n| n != 0),
                other => {
                    if !ignored.contains(&other) {
                        ignored.push(other);
                    }
                }
            }
        }
        if !ignored.is_empty() {
            warnings.push(format!(
                "parameters with no effect (Kamailio's domain attributes and `myself` \
                 registration are not built): {}",
                ignored.join(", ")
            ));
        }
        Ok((r, warnings))
    }
}

/// A domain in the form it is compared in: lower case, without one
/// trailing dot or the brackets of an IPv6 reference. `None` for an empty
/// name (never local).
pub fn normalize(host: &[u8]) -> Option<Cow<'_, [u8]>> {
    let h = host.strip_suffix(b".").unwrap_or(host);
    let h = h
        .strip_prefix(b"[")
        .and_then(|x| x.strip_suffix(b"]"))
        .unwrap_or(h);
    if h.is_empty() {
        return None;
    }
    if h.iter().any(u8::is_ascii_uppercase) {
        Some(Cow::Owned(h.to_ascii_lowercase()))
    } else {
        Some(Cow::Borrowed(h))
    }
}

/// A row of the table as it was read (for `domain.dump`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainEntry {
    pub domain: String,
    pub did: Option<String>,
}

/// The cached table: immutable, replaced whole on reload.
#[derive(Debug, Default)]
pub struct DomainSet {
    /// Normalized domain → its id (the `did`, or the domain itself).
    ids: HashMap<Box<[u8]>, Box<str>>,
    /// The rows in the order they were read.
    rows: Vec<DomainEntry>,
    /// SER 2.x domain attributes by did: name and value, newest (last
    /// read) first.
    attrs: HashMap<Box<str>, crate::attrs::AttrList>,
}

impl DomainSet {
    /// A set from rows; rows without a usable domain are left out, with a
    /// note each. When two rows name the same domain, the first one's id
    /// is kept.
    pub fn from_rows(rows: impl IntoIterator<Item = DomainEntry>) -> (DomainSet, Vec<String>) {
        let mut set = DomainSet::default();
        let mut notes = Vec::new();
        for row in rows {
            let Some(key) = normalize(row.domain.trim().as_bytes()) else {
                notes.push("a row with an empty domain was skipped".to_string());
                continue;
            };
            let did = row
                .did
                .as_deref()
                .filter(|d| !d.is_empty())
                .unwrap_or(&row.domain);
            if !set.ids.contains_key(key.as_ref()) {
                set.ids.insert(key.into_owned().into(), did.into());
            }
            set.rows.push(row);
        }
        (set, notes)
    }

    /// Adds the `domain_attrs` rows (did, attribute), in the order read.
    pub fn set_attrs(&mut self, rows: &[(String, crate::store::tables::AttrRow)]) {
        self.attrs.clear();
        for (did, a) in rows.iter().rev() {
            self.attrs
                .entry(did.as_str().into())
                .or_default()
                .push((a.name.as_bytes().into(), crate::attrs::attr_value(a)));
        }
    }

    /// The attributes of a did, newest first.
    pub fn attrs(&self, did: &str) -> &[(Box<[u8]>, Value<'static>)] {
        self.attrs.get(did).map_or(&[], |v| v.as_slice())
    }

    /// How many attributes are cached.
    pub fn attr_count(&self) -> usize {
        self.attrs.values().map(Vec::len).sum()
    }

    /// The id of `host`'s domain when it is local.
    pub fn did(&self, host: &[u8]) -> Option<&str> {
        let key = normalize(host)?;
        self.ids.get(key.as_ref()).map(|d| &**d)
    }

    pub fn is_local(&self, host: &[u8]) -> bool {
        self.did(host).is_some()
    }

    /// The rows as read.
    pub fn rows(&self) -> &[DomainEntry] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The `domain` module: its parameters, database and cached table.
pub struct Domains {
    params: DomainParams,
    pool: Option<Arc<Pool>>,
    set: ArcSwap<DomainSet>,
    dialect: Dialect,
    /// The "no database" error was logged (it is logged once, not per
    /// message).
    warned: AtomicBool,
}

impl std::fmt::Debug for Domains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Domains")
            .field("params", &self.params)
            .field("db", &self.pool.as_ref().map(|p| p.url().to_string()))
            .field("domains", &self.set.load().len())
            .finish()
    }
}

/// Reads the table.
fn query(db: &mut Db, p: &DomainParams) -> Result<(Vec<DomainEntry>, Vec<String>), DbError> {
    let sql = if p.ser2 {
        format!(
            "SELECT {}, {}, {} FROM {}",
            p.domain_col, p.did_col, p.flags_col, p.table
        )
    } else {
        format!("SELECT {}, {} FROM {}", p.domain_col, p.did_col, p.table)
    };
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (i, row) in db.query(&sql, &[])?.into_iter().enumerate() {
        let flags = row.get(2).and_then(crate::store::Cell::as_i64).unwrap_or(0);
        if flags & crate::store::tables::ser_flags::DISABLED != 0 {
            continue;
        }
        let domain = cell_text(row.first());
        let did = cell_text(row.get(1));
        match (domain, did) {
            (Ok(Some(domain)), Ok(did)) => rows.push(DomainEntry { domain, did }),
            (Ok(None), _) => notes.push(format!("row {}: the domain is NULL; skipped", i + 1)),
            (Err(e), _) | (_, Err(e)) => notes.push(format!("row {}: {e}; skipped", i + 1)),
        }
    }
    Ok((rows, notes))
}

impl Domains {
    /// The module with an empty table; [`Domains::reload`] fills it.
    /// `pool: None`: no database (the functions return false).
    pub fn new(params: DomainParams, pool: Option<Arc<Pool>>, dialect: Dialect) -> Domains {
        Domains {
            params,
            pool,
            set: ArcSwap::from_pointee(DomainSet::default()),
            dialect,
            warned: AtomicBool::new(false),
        }
    }

    /// Whether the module has a database.
    pub fn has_db(&self) -> bool {
        self.pool.is_some()
    }

    /// Reads the table and replaces the cache with it, waiting for the
    /// database (start-up and the control thread only, never a shard). On
    /// failure the cache is left as it was.
    pub fn reload(&self) -> Result<LoadReport, String> {
        let Some(pool) = &self.pool else {
            return Err("no database (db_url is not set)".to_string());
        };
        let params = self.params.clone();
        let (rows, mut notes) = pool
            .run_blocking(move |db| query(db, &params))
            .map_err(|e| format!("cannot read the domain table: {e}"))?;
        let (mut set, more) = DomainSet::from_rows(rows);
        notes.extend(more);
        if self.params.load_attrs {
            let attrs = pool
                .run_blocking(crate::store::tables::domain_attrs)
                .map_err(|e| format!("cannot read the domain_attrs table: {e}"))?;
            set.set_attrs(&attrs);
        }
        let loaded = set.len();
        self.install(set);
        Ok(LoadReport {
            loaded,
            addresses: 0,
            notes,
        })
    }

    /// Makes `set` the table every shard reads from now on.
    pub fn install(&self, set: DomainSet) {
        self.set.store(Arc::new(set));
    }

    /// The table as it is now.
    pub fn snapshot(&self) -> Arc<DomainSet> {
        self.set.load_full()
    }

    /// Whether `host` is local (one atomic load, no lock).
    pub fn is_local(&self, host: &[u8]) -> bool {
        self.set.load().is_local(host)
    }
}

// ----- script functions -----

/// The module, or why the function cannot answer (logged; once for a
/// missing database).
fn module<'c>(ctx: &mut MsgCtx<'c, '_>, args: &Args<'_>) -> Option<&'c Domains> {
    let config: &'c crate::script::Config = ctx.config;
    let (_, name) = args.function();
    match config.policy.domains.as_deref() {
        None => {
            ctx.log(
                level::L_ERR,
                &format!("{name}(): the domain module is not loaded"),
            );
            None
        }
        Some(d) if d.pool.is_none() => {
            if !d.warned.swap(true, Ordering::Relaxed) {
                ctx.log(
                    level::L_ERR,
                    &format!(
                        "{name}(): the domain module has no database (db_url); no domain is \
                         local (logged once)"
                    ),
                );
            }
            None
        }
        Some(d) => Some(d),
    }
}

fn code(local: bool) -> Ret {
    Ret::Code(if local { 1 } else { -1 })
}

/// `is_from_local()`.
pub(crate) fn is_from_local(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(d) = module(ctx, args) else {
        return Ret::Code(-1);
    };
    let host = Pv::From(AddrPart::Uri(UriPart::Host)).get(ctx);
    code(host.with_bytes(|h| d.is_local(h)))
}

/// `is_uri_host_local()`.
pub(crate) fn is_uri_host_local(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(d) = module(ctx, args) else {
        return Ret::Code(-1);
    };
    let host = Pv::Ruri(UriPart::Host).get(ctx);
    code(host.with_bytes(|h| d.is_local(h)))
}

/// `is_domain_local(domain)`, `is_local(domain)`.
pub(crate) fn is_domain_local(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(d) = module(ctx, args) else {
        return Ret::Code(-1);
    };
    let local = args
        .value(0, ctx)
        .is_some_and(|v| v.with_bytes(|h| d.is_local(h)));
    code(local)
}

/// `lookup_domain(...)`: see the module documentation for the two forms.
pub(crate) fn lookup_domain(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(d) = module(ctx, args) else {
        return Ret::Code(-1);
    };
    let ser_form = d.dialect != Dialect::Kamailio && args.len() == 2;
    let (domain, class, track, name) = if ser_form {
        let group = args.bytes(0, ctx).unwrap_or_default().into_owned();
        let track = match group.to_ascii_lowercase().as_slice() {
            b"$fd" => AvpTrackSide::From,
            b"$td" => AvpTrackSide::To,
            _ => {
                ctx.log_bytes(
                    level::L_ERR,
                    &[
                        b"lookup_domain(): the first argument must be \"$fd\" or \"$td\", not \"",
                        group.as_slice(),
                        b"\"",
                    ]
                    .concat(),
                );
                return Ret::Code(-1);
            }
        };
        let domain = args.bytes(1, ctx).unwrap_or_default().into_owned();
        (domain, AvpClass::Domain, track, b"did".to_vec())
    } else {
        let domain = args.bytes(0, ctx).unwrap_or_default().into_owned();
        let mut name = args.bytes(1, ctx).unwrap_or_default().into_owned();
        name.extend_from_slice(b"did");
        (domain, AvpClass::Uri, AvpTrackSide::From, name)
    };
    let set = d.set.load();
    let Some(did) = set.did(&domain) else {
        return Ret::Code(-1);
    };
    let value = Value::owned(did.as_bytes().to_vec());
    let mut ok = ctx
        .avps
        .add(class, track, AvpName::Str(name.into_boxed_slice()), value);
    if ser_form {
        // Oldest first, so that the newest reads first as in the cache.
        for (n, v) in set.attrs(did).iter().rev() {
            ok &= ctx
                .avps
                .add(class, track, AvpName::Str(n.clone()), v.clone());
        }
    }
    if !ok {
        ctx.log(
            level::L_ERR,
            "lookup_domain(): too many AVPs in this message",
        );
        return Ret::Code(-1);
    }
    Ret::Code(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(d: &str, did: Option<&str>) -> DomainEntry {
        DomainEntry {
            domain: d.into(),
            did: did.map(Into::into),
        }
    }

    #[test]
    fn matching_ignores_case_a_trailing_dot_and_brackets() {
        let (set, notes) = DomainSet::from_rows([
            entry("example.com", None),
            entry("Voice.Example.NET", Some("v1")),
            entry("[2001:db8::1]", None),
            entry("192.0.2.7", None),
            entry("", None),
        ]);
        assert_eq!(notes.len(), 1);
        assert_eq!(set.len(), 4);
        for h in [
            "example.com",
            "EXAMPLE.com",
            "example.com.",
            "voice.example.net",
            "2001:db8::1",
            "[2001:db8::1]",
            "192.0.2.7",
        ] {
            assert!(set.is_local(h.as_bytes()), "{h}");
        }
        for h in [
            "",
            ".",
            "example.co",
            "sub.example.com",
            "example.com..",
            "192.0.2.70",
            "xexample.com",
        ] {
            assert!(!set.is_local(h.as_bytes()), "{h}");
        }
        assert_eq!(set.did(b"voice.example.net."), Some("v1"));
        // A NULL did is the domain itself.
        assert_eq!(set.did(b"Example.Com"), Some("example.com"));
    }

    #[test]
    fn first_row_of_a_domain_wins() {
        let (set, _) = DomainSet::from_rows([
            entry("a.example", Some("one")),
            entry("A.example", Some("two")),
        ]);
        assert_eq!(set.did(b"a.example"), Some("one"));
        assert_eq!(set.rows().len(), 2);
    }

    #[test]
    fn normalize_borrows_when_it_can() {
        assert!(matches!(normalize(b"a.b"), Some(Cow::Borrowed(_))));
        assert!(matches!(normalize(b"A.b"), Some(Cow::Owned(_))));
        assert_eq!(normalize(b"[]"), None);
        assert_eq!(normalize(b""), None);
    }
}
