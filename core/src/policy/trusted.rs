//! The `trusted` table of the `permissions` module and `allow_trusted()`.
//!
//! A row says: requests from `src_ip` over `proto` whose From URI matches
//! `from_pattern` and whose Request-URI matches `ruri_pattern` are trusted
//! (a gateway that cannot authenticate, for instance). [`Trusted`] holds
//! the table as an immutable [`TrustedSet`] behind an `ArcSwap`, indexed
//! by source address, read without a lock by the shards and replaced whole
//! by a reload (start-up, `permissions.trustedReload`).
//!
//! Matching follows Kamailio: the request's source address equals the
//! row's; the row's protocol is `any`, or the request's transport (`udp`,
//! `tcp`, `tls`, `sctp`, `ws`, `wss`); `allow_trusted(ip, "any")` matches
//! rows of every protocol. A row whose `from_pattern` is NULL matches any
//! From; otherwise the regular expression must match somewhere in the From
//! URI (as written in the header, without display name or tag: anchor it
//! with `^...$` for a whole match); the same for `ruri_pattern` and the
//! Request-URI as received. Rows are tried highest `priority` first. Rows
//! with protocol `none` never match (Kamailio skips them too).
//!
//! Differences from Kamailio: the patterns are Rust regular expressions
//! (ERE-like: `+`, `?`, `|`, `(...)` are operators; Kamailio compiles POSIX
//! basic ones, where they are literal unless escaped) over bytes, compiled
//! once at load, not per request. A row that cannot be used (a bad regex,
//! an unknown protocol, a source that is not an IP address, a NULL column)
//! is skipped with a log line, where Kamailio fails the whole load or the
//! row at each request. Addresses are compared as addresses, so
//! `2001:db8::1` and `2001:DB8:0::1` are the same, and an IPv4-mapped IPv6
//! source is its IPv4 address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use regex::bytes::{Regex, RegexBuilder};
use ser_cfg::ir::Program;

use super::{LoadReport, cell_text, const_int, params, sql_ident};
use crate::script::ctx::{AvpClass, AvpName, AvpTrackSide, Proto, level};
use crate::script::pv::{AddrPart, Pv, UriPart, kamailio_avp_name};
use crate::script::{Args, MsgCtx, Ret, Value};
use crate::store::{Db, DbError, Pool};

/// Largest compiled size of one pattern (a hostile table cannot make the
/// router build a huge automaton).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The `permissions` module's parameters that matter for `trusted`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedParams {
    /// `trusted_table` and the column names, quoted for SQL.
    pub table: String,
    pub source_col: String,
    pub proto_col: String,
    pub from_col: String,
    pub ruri_col: String,
    pub tag_col: String,
    pub priority_col: String,
    /// `reload_delta`: least time between two RPC reloads.
    pub reload_delta: Duration,
    /// `peer_tag_avp`: the AVP that receives a matching row's tag.
    pub peer_tag_avp: Option<AvpName>,
    /// `peer_tag_mode` 1: every matching row counts (and adds its tag),
    /// not only the first.
    pub peer_tag_mode: bool,
    /// The `address` table's name and columns.
    pub address: super::address::AddressParams,
}

impl Default for TrustedParams {
    fn default() -> TrustedParams {
        let q = |s: &str| format!("\"{s}\"");
        TrustedParams {
            table: q("trusted"),
            source_col: q("src_ip"),
            proto_col: q("proto"),
            from_col: q("from_pattern"),
            ruri_col: q("ruri_pattern"),
            tag_col: q("tag"),
            priority_col: q("priority"),
            reload_delta: Duration::from_secs(5),
            peer_tag_avp: None,
            peer_tag_mode: false,
            address: Default::default(),
        }
    }
}

/// An AVP named in a parameter: `$avp(i:707)`, `$avp(s:tag)`,
/// `$avp(tag)`, SER 2.x `$tag`, or SER 0.9 `i:707` / `s:tag`.
fn avp_spec(spec: &str) -> Option<AvpName> {
    let s = spec.trim();
    if let Some(inner) = s.strip_prefix("$avp(").and_then(|x| x.strip_suffix(')')) {
        return kamailio_avp_name(inner).ok();
    }
    if let Some(name) = s.strip_prefix('$') {
        let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return ok.then(|| AvpName::Str(name.as_bytes().into()));
    }
    kamailio_avp_name(s).ok()
}

impl TrustedParams {
    /// The parameters from the program's `modparam("permissions", ...)`,
    /// with warnings for the ones that have no effect here. A table or
    /// column name that is not a plain identifier, or a `peer_tag_avp`
    /// that is not an AVP, is an error.
    pub fn from_program(p: &Program) -> Result<(TrustedParams, Vec<String>), String> {
        let mut r = TrustedParams::default();
        let mut warnings = Vec::new();
        let mut ignored: Vec<&str> = Vec::new();
        for (name, value) in params(p, "permissions") {
            let text = || p.const_text(value);
            match name {
                "db_url" => {}
                "db_mode" => {
                    if const_int(p, value) == Some(0) {
                        warnings.push(
                            "db_mode 0 (a query per call) is not built: a shard never waits for \
                             the database; the trusted table is cached (db_mode 1) and reloaded \
                             with permissions.trustedReload"
                                .to_string(),
                        );
                    }
                }
                "trusted_table" => r.table = sql_ident(name, &text())?,
                "source_col" => r.source_col = sql_ident(name, &text())?,
                "proto_col" => r.proto_col = sql_ident(name, &text())?,
                "from_col" => r.from_col = sql_ident(name, &text())?,
                "ruri_col" => r.ruri_col = sql_ident(name, &text())?,
                "tag_col" => r.tag_col = sql_ident(name, &text())?,
                "priority_col" => r.priority_col = sql_ident(name, &text())?,
                "reload_delta" => match const_int(p, value).and_then(|n| u64::try_from(n).ok()) {
                    Some(n) => r.reload_delta = Duration::from_secs(n),
                    None => return Err(format!("reload_delta `{}`: expected seconds", text())),
                },
                "peer_tag_avp" => {
                    let t = text();
                    if t.trim().is_empty() {
                        r.peer_tag_avp = None;
                    } else {
                        r.peer_tag_avp = Some(
                            avp_spec(&t)
                                .ok_or_else(|| format!("peer_tag_avp `{t}` is not an AVP"))?,
                        );
                    }
                }
                "peer_tag_mode" => r.peer_tag_mode = const_int(p, value).is_some_and(|n| n != 0),
                other if r.address.take(other, &text())? => {}
                other => {
                    if !ignored.contains(&other) {
                        ignored.push(other);
                    }
                }
            }
        }
        if !ignored.is_empty() {
            warnings.push(format!(
                "parameters with no effect (only the trusted and address tables are built): {}",
                ignored.join(", ")
            ));
        }
        Ok((r, warnings))
    }
}

/// The protocols a row accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoMatch {
    Any,
    One(Proto),
}

impl ProtoMatch {
    /// A row's `proto`: `Ok(None)` for `none` (the row never matches).
    pub fn parse(s: &str) -> Result<Option<ProtoMatch>, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("any") {
            return Ok(Some(ProtoMatch::Any));
        }
        if t.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        Proto::parse(t.as_bytes())
            .map(|p| Some(ProtoMatch::One(p)))
            .ok_or_else(|| format!("unknown protocol `{t}`"))
    }

    /// Whether a request over `p` (`None`: any, as `allow_trusted(ip,
    /// "any")` asks) is accepted.
    pub fn allows(self, p: Option<Proto>) -> bool {
        match (self, p) {
            (ProtoMatch::Any, _) | (_, None) => true,
            (ProtoMatch::One(a), Some(b)) => a == b,
        }
    }

    /// Kamailio's number for the protocol (`permissions.trustedDump`).
    pub fn code(self) -> i32 {
        match self {
            ProtoMatch::Any => 0,
            ProtoMatch::One(Proto::Udp) => 1,
            ProtoMatch::One(Proto::Tcp) => 2,
            ProtoMatch::One(Proto::Tls) => 3,
            ProtoMatch::One(Proto::Sctp) => 4,
            ProtoMatch::One(Proto::Ws) => 5,
            ProtoMatch::One(Proto::Wss) => 6,
        }
    }
}

/// A row of the table as it was read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedEntry {
    pub src_ip: String,
    pub proto: String,
    pub from_pattern: Option<String>,
    pub ruri_pattern: Option<String>,
    pub tag: Option<String>,
    pub priority: i64,
}

/// A usable row.
#[derive(Debug)]
pub struct Rule {
    pub src: IpAddr,
    pub proto: ProtoMatch,
    from: Option<Regex>,
    ruri: Option<Regex>,
    pub tag: Option<Box<[u8]>>,
    pub priority: i64,
    /// The row as read (for the dump).
    pub entry: TrustedEntry,
}

impl Rule {
    fn matches(&self, proto: Option<Proto>, from: &[u8], ruri: &[u8]) -> bool {
        self.proto.allows(proto)
            && self.ruri.as_ref().is_none_or(|r| r.is_match(ruri))
            && self.from.as_ref().is_none_or(|r| r.is_match(from))
    }
}

fn compile(what: &str, pattern: &Option<String>) -> Result<Option<Regex>, String> {
    let Some(p) = pattern else {
        return Ok(None);
    };
    RegexBuilder::new(p)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(Some)
        .map_err(|e| {
            let why = e.to_string();
            let why = why.lines().last().unwrap_or("").trim().to_string();
            format!("bad {what} `{p}`: {why}")
        })
}

/// A source address as written in the table (brackets allowed around an
/// IPv6 address), in its canonical form.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let t = s.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(t);
    t.parse::<IpAddr>().ok().map(|a| a.to_canonical())
}

/// The cached table: immutable, replaced whole on reload.
#[derive(Debug, Default)]
pub struct TrustedSet {
    /// Rules by source address, highest priority first.
    by_src: HashMap<IpAddr, Vec<Rule>>,
    /// Every rule's place: (source, index in its list), in load order.
    order: Vec<(IpAddr, usize)>,
}

impl TrustedSet {
    /// A set from rows; rows that cannot be used are left out with a note
    /// each. Rows are ordered by priority, highest first, keeping the
    /// table's order among equals.
    pub fn from_rows(rows: impl IntoIterator<Item = TrustedEntry>) -> (TrustedSet, Vec<String>) {
        let mut rows: Vec<TrustedEntry> = rows.into_iter().collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.priority));
        let mut set = TrustedSet::default();
        let mut notes = Vec::new();
        for entry in rows {
            let label = format!("row for {}", entry.src_ip.trim());
            let Some(src) = parse_ip(&entry.src_ip) else {
                notes.push(format!("{label}: not an IP address; skipped"));
                continue;
            };
            let proto = match ProtoMatch::parse(&entry.proto) {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(e) => {
                    notes.push(format!("{label}: {e}; skipped"));
                    continue;
                }
            };
            let from = compile("from_pattern", &entry.from_pattern);
            let ruri = compile("ruri_pattern", &entry.ruri_pattern);
            let (from, ruri) = match (from, ruri) {
                (Ok(f), Ok(r)) => (f, r),
                (Err(e), _) | (_, Err(e)) => {
                    notes.push(format!("{label}: {e}; skipped"));
                    continue;
                }
            };
            let list = set.by_src.entry(src).or_default();
            set.order.push((src, list.len()));
            list.push(Rule {
                src,
                proto,
                from,
                ruri,
                tag: entry.tag.as_ref().map(|t| t.as_bytes().into()),
                priority: entry.priority,
                entry,
            });
        }
        (set, notes)
    }

    /// The rules that trust a request from `src` over `proto` (`None`:
    /// any) with this From URI and Request-URI, in priority order.
    pub fn matching<'s>(
        &'s self,
        src: IpAddr,
        proto: Option<Proto>,
        from: &[u8],
        ruri: &[u8],
    ) -> impl Iterator<Item = &'s Rule> {
        self.by_src
            .get(&src.to_canonical())
            .into_iter()
            .flatten()
            .filter(move |r| r.matches(proto, from, ruri))
    }

    /// Every rule, in load order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.order
            .iter()
            .filter_map(|(ip, i)| self.by_src.get(ip).and_then(|l| l.get(*i)))
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Why an RPC reload was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReloadError {
    /// The last one was less than `reload_delta` ago.
    Ongoing,
    Failed(String),
}

/// The `trusted` part of the `permissions` module.
pub struct Trusted {
    params: TrustedParams,
    pool: Option<Arc<Pool>>,
    set: ArcSwap<TrustedSet>,
    /// The `address` table.
    address: ArcSwap<super::address::AddressSet>,
    /// When the last RPC reload started (the control thread alone takes
    /// this lock).
    last_rpc_reload: Mutex<Option<Instant>>,
    /// The "no database" error was logged.
    warned: AtomicBool,
}

impl std::fmt::Debug for Trusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trusted")
            .field("params", &self.params)
            .field("db", &self.pool.as_ref().map(|p| p.url().to_string()))
            .field("rules", &self.set.load().len())
            .finish()
    }
}

/// Reads the table.
fn query(db: &mut Db, p: &TrustedParams) -> Result<(Vec<TrustedEntry>, Vec<String>), DbError> {
    let sql = format!(
        "SELECT {}, {}, {}, {}, {}, {} FROM {}",
        p.source_col, p.proto_col, p.from_col, p.ruri_col, p.tag_col, p.priority_col, p.table
    );
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (i, row) in db.query(&sql, &[])?.into_iter().enumerate() {
        let text = |k: usize| cell_text(row.get(k));
        let parsed = (|| -> Result<TrustedEntry, String> {
            let src_ip = text(0)?.ok_or("src_ip is NULL")?;
            let proto = text(1)?.ok_or("proto is NULL")?;
            let priority = match row.get(5) {
                None | Some(crate::store::Cell::Null) => 0,
                Some(c) => c.as_i64().ok_or("priority is not an integer")?,
            };
            Ok(TrustedEntry {
                src_ip,
                proto,
                from_pattern: text(2)?,
                ruri_pattern: text(3)?,
                tag: text(4)?,
                priority,
            })
        })();
        match parsed {
            Ok(e) => rows.push(e),
            Err(e) => notes.push(format!("row {}: {e}; skipped", i + 1)),
        }
    }
    Ok((rows, notes))
}

impl Trusted {
    /// The module with an empty table; [`Trusted::load`] fills it.
    pub fn new(params: TrustedParams, pool: Option<Arc<Pool>>) -> Trusted {
        Trusted {
            params,
            pool,
            set: ArcSwap::from_pointee(TrustedSet::default()),
            address: ArcSwap::from_pointee(Default::default()),
            last_rpc_reload: Mutex::new(None),
            warned: AtomicBool::new(false),
        }
    }

    pub fn has_db(&self) -> bool {
        self.pool.is_some()
    }

    pub fn params(&self) -> &TrustedParams {
        &self.params
    }

    /// Reads the table and replaces the cache with it, waiting for the
    /// database (start-up and the control thread only). On failure the
    /// cache is left as it was.
    pub fn load(&self) -> Result<LoadReport, String> {
        let Some(pool) = &self.pool else {
            return Err("no database (db_url is not set)".to_string());
        };
        let params = self.params.clone();
        let (rows, mut notes) = pool
            .run_blocking(move |db| query(db, &params))
            .map_err(|e| format!("cannot read the trusted table: {e}"))?;
        let params = self.params.clone();
        let (addresses, more) = pool
            .run_blocking(move |db| super::address::query(db, &params.address, &params.tag_col))
            .map_err(|e| format!("cannot read the address table: {e}"))?;
        notes.extend(more);
        let (set, more) = TrustedSet::from_rows(rows);
        notes.extend(more);
        let loaded = set.len();
        let addresses_loaded = addresses.len();
        self.install(set);
        self.address.store(Arc::new(addresses));
        Ok(LoadReport {
            loaded,
            addresses: addresses_loaded,
            notes,
        })
    }

    /// The `address` table as it is now.
    pub fn addresses(&self) -> Arc<super::address::AddressSet> {
        self.address.load_full()
    }

    /// `permissions.trustedReload`: [`Trusted::load`], refused when the
    /// previous RPC reload started less than `reload_delta` before `now`
    /// (a failed one counts too, as in Kamailio).
    pub fn reload_rpc(&self, now: Instant) -> Result<LoadReport, ReloadError> {
        {
            let mut last = self.last_rpc_reload.lock();
            if let Some(t) = *last
                && now.saturating_duration_since(t) < self.params.reload_delta
            {
                return Err(ReloadError::Ongoing);
            }
            *last = Some(now);
        }
        self.load().map_err(ReloadError::Failed)
    }

    /// Makes `set` the table every shard reads from now on.
    pub fn install(&self, set: TrustedSet) {
        self.set.store(Arc::new(set));
    }

    /// The table as it is now.
    pub fn snapshot(&self) -> Arc<TrustedSet> {
        self.set.load_full()
    }
}

// ----- script function -----

/// `allow_trusted()` and `allow_trusted(src_ip, proto)`: 1 (or, with
/// `peer_tag_mode` 1, the number of matching rows) when the request is
/// trusted, -1 otherwise.
pub(crate) fn allow_trusted(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let config: &crate::script::Config = ctx.config;
    let t = match config.policy.trusted.as_deref() {
        None => {
            ctx.log(
                level::L_ERR,
                "allow_trusted(): the permissions module is not loaded",
            );
            return Ret::Code(-1);
        }
        Some(t) if t.pool.is_none() => {
            if !t.warned.swap(true, Ordering::Relaxed) {
                ctx.log(
                    level::L_ERR,
                    "allow_trusted(): the permissions module has no database (db_url); nothing \
                     is trusted (logged once)",
                );
            }
            return Ret::Code(-1);
        }
        Some(t) => t,
    };
    let (src, proto) = if args.len() >= 2 {
        let ip = args.bytes(0, ctx).unwrap_or_default();
        let Some(src) = std::str::from_utf8(&ip).ok().and_then(parse_ip) else {
            let mut m = b"allow_trusted(): not an IP address: `".to_vec();
            m.extend_from_slice(&ip);
            m.push(b'`');
            ctx.log_bytes(level::L_ERR, &m);
            return Ret::Code(-1);
        };
        let p = args.bytes(1, ctx).unwrap_or_default();
        let proto = if p.eq_ignore_ascii_case(b"any") {
            None
        } else if let Some(p) = Proto::parse(&p) {
            Some(p)
        } else {
            let mut m = b"allow_trusted(): unknown protocol `".to_vec();
            m.extend_from_slice(&p);
            m.push(b'`');
            ctx.log_bytes(level::L_ERR, &m);
            return Ret::Code(-1);
        };
        (src, proto)
    } else {
        (ctx.src.ip(), Some(ctx.proto))
    };
    let set = t.set.load();
    let want_tags = t.params.peer_tag_avp.is_some();
    let mut tags: Vec<Box<[u8]>> = Vec::new();
    let mut count: i32 = 0;
    {
        // As Kamailio: a request whose From cannot be read is not trusted.
        let from = Pv::From(AddrPart::Uri(UriPart::Whole)).get(ctx);
        if from.is_null() {
            return Ret::Code(-1);
        }
        let ruri = Pv::Ouri(UriPart::Whole).get(ctx);
        let (from, ruri) = (from.to_bytes(), ruri.to_bytes());
        for rule in set.matching(src, proto, &from, &ruri) {
            count = count.saturating_add(1);
            if want_tags && let Some(tag) = &rule.tag {
                tags.push(tag.clone());
            }
            if !t.params.peer_tag_mode {
                break;
            }
        }
    }
    if count == 0 {
        return Ret::Code(-1);
    }
    if let Some(name) = &t.params.peer_tag_avp {
        for tag in tags {
            let v = Value::owned(tag.into_vec());
            if !ctx
                .avps
                .add(AvpClass::Uri, AvpTrackSide::From, name.clone(), v)
            {
                ctx.log(
                    level::L_ERR,
                    "allow_trusted(): too many AVPs in this message",
                );
                return Ret::Code(-1);
            }
        }
    }
    Ret::Code(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ip: &str, proto: &str, from: Option<&str>, prio: i64) -> TrustedEntry {
        TrustedEntry {
            src_ip: ip.into(),
            proto: proto.into(),
            from_pattern: from.map(Into::into),
            ruri_pattern: None,
            tag: Some(format!("{ip}/{proto}")),
            priority: prio,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn first<'s>(
        set: &'s TrustedSet,
        src: &str,
        proto: Option<Proto>,
        from: &str,
    ) -> Option<&'s str> {
        set.matching(ip(src), proto, from.as_bytes(), b"sip:x@example.com")
            .next()
            .and_then(|r| r.entry.tag.as_deref())
    }

    #[test]
    fn protocols() {
        assert_eq!(ProtoMatch::parse("ANY"), Ok(Some(ProtoMatch::Any)));
        assert_eq!(
            ProtoMatch::parse("udp"),
            Ok(Some(ProtoMatch::One(Proto::Udp)))
        );
        assert_eq!(ProtoMatch::parse("none"), Ok(None));
        assert!(ProtoMatch::parse("smtp").is_err());
        assert!(ProtoMatch::Any.allows(Some(Proto::Tcp)));
        assert!(ProtoMatch::One(Proto::Udp).allows(None));
        assert!(ProtoMatch::One(Proto::Udp).allows(Some(Proto::Udp)));
        assert!(!ProtoMatch::One(Proto::Udp).allows(Some(Proto::Tcp)));
        assert_eq!(ProtoMatch::Any.code(), 0);
        assert_eq!(ProtoMatch::One(Proto::Tls).code(), 3);
    }

    #[test]
    fn source_protocol_and_from_pattern() {
        let (set, notes) = TrustedSet::from_rows([
            row("192.0.2.10", "udp", Some("^sip:.*@gw\\.example\\.com$"), 0),
            row("192.0.2.11", "any", None, 0),
            row("192.0.2.12", "tcp", None, 0),
            row("192.0.2.13", "none", None, 0),
            row("2001:DB8:0::1", "udp", None, 0),
        ]);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(set.len(), 4);
        let gw = "sip:+4930123@gw.example.com";
        let udp = Some(Proto::Udp);
        assert_eq!(first(&set, "192.0.2.10", udp, gw), Some("192.0.2.10/udp"));
        // The pattern must match the From URI.
        assert_eq!(first(&set, "192.0.2.10", udp, "sip:a@evil.com"), None);
        assert_eq!(
            first(&set, "192.0.2.10", udp, "sip:a@gw.example.com.evil"),
            None
        );
        // Over TCP: the row is udp only; "any" asks for every protocol.
        assert_eq!(first(&set, "192.0.2.10", Some(Proto::Tcp), gw), None);
        assert_eq!(first(&set, "192.0.2.10", None, gw), Some("192.0.2.10/udp"));
        // A row with proto any and no pattern trusts anything from there.
        assert_eq!(
            first(&set, "192.0.2.11", Some(Proto::Tls), "sip:a@b"),
            Some("192.0.2.11/any")
        );
        assert_eq!(first(&set, "192.0.2.12", udp, "sip:a@b"), None);
        assert_eq!(
            first(&set, "192.0.2.12", Some(Proto::Tcp), "sip:a@b"),
            Some("192.0.2.12/tcp")
        );
        // `none` never matches.
        assert_eq!(first(&set, "192.0.2.13", None, "sip:a@b"), None);
        // Other sources are not trusted.
        assert_eq!(first(&set, "192.0.2.1", None, gw), None);
        // Addresses compare as addresses.
        assert_eq!(
            first(&set, "2001:db8::1", udp, "sip:a@b"),
            Some("2001:DB8:0::1/udp")
        );
        let mapped: IpAddr = "::ffff:192.0.2.11".parse().unwrap();
        assert_eq!(
            set.matching(mapped, udp, b"sip:a@b", b"").count(),
            1,
            "an IPv4-mapped source is its IPv4 address"
        );
    }

    #[test]
    fn regexes_and_ruri_patterns() {
        let mut r = row("192.0.2.20", "any", Some("(?i)^SIP:alice@"), 0);
        r.ruri_pattern = Some("^sip:\\+49".into());
        let (set, _) = TrustedSet::from_rows([r]);
        let m = |from: &str, ruri: &str| {
            set.matching(ip("192.0.2.20"), None, from.as_bytes(), ruri.as_bytes())
                .count()
        };
        assert_eq!(m("sip:alice@a", "sip:+4930@gw"), 1);
        assert_eq!(m("sip:ALICE@a", "sip:+4930@gw"), 1);
        assert_eq!(m("sip:bob@a", "sip:+4930@gw"), 0);
        assert_eq!(m("sip:alice@a", "sip:+4430@gw"), 0);
        // Unanchored patterns match anywhere; \d is ASCII.
        let (set, _) = TrustedSet::from_rows([row("192.0.2.21", "udp", Some("\\d{3}@"), 0)]);
        let hit = |f: &str| {
            set.matching(ip("192.0.2.21"), Some(Proto::Udp), f.as_bytes(), b"")
                .count()
        };
        assert_eq!(hit("sip:x123@h"), 1);
        assert_eq!(hit("sip:x12@h"), 0);
    }

    #[test]
    fn bad_rows_are_skipped_not_fatal() {
        let (set, notes) = TrustedSet::from_rows([
            row("192.0.2.30", "udp", Some("(unclosed"), 0),
            row("192.0.2.31", "smtp", None, 0),
            row("gw.example.com", "udp", None, 0),
            row("192.0.2.32", "udp", Some("[z-a]"), 0),
            row("192.0.2.33", "udp", None, 0),
        ]);
        assert_eq!(set.len(), 1);
        assert_eq!(notes.len(), 4, "{notes:?}");
        assert!(
            notes[0].contains("bad from_pattern `(unclosed`"),
            "{notes:?}"
        );
        assert!(notes[1].contains("unknown protocol `smtp`"), "{notes:?}");
        assert!(notes[2].contains("not an IP address"), "{notes:?}");
    }

    #[test]
    fn priority_orders_rules() {
        let (set, _) = TrustedSet::from_rows([
            row("192.0.2.40", "udp", None, 1),
            row("192.0.2.40", "any", None, 10),
            row("192.0.2.41", "any", None, 5),
            row("192.0.2.40", "tcp", None, 1),
        ]);
        let tags: Vec<_> = set
            .matching(ip("192.0.2.40"), None, b"sip:a@b", b"")
            .filter_map(|r| r.entry.tag.clone())
            .collect();
        assert_eq!(tags, ["192.0.2.40/any", "192.0.2.40/udp", "192.0.2.40/tcp"]);
        let all: Vec<i64> = set.rules().map(|r| r.priority).collect();
        assert_eq!(all, [10, 5, 1, 1]);
    }

    #[test]
    fn avp_specs() {
        assert_eq!(avp_spec("$avp(i:707)"), Some(AvpName::Int(707)));
        assert_eq!(
            avp_spec("$avp(s:peer)"),
            Some(AvpName::Str(b"peer"[..].into()))
        );
        assert_eq!(avp_spec("$peer"), Some(AvpName::Str(b"peer"[..].into())));
        assert_eq!(avp_spec("i:5"), Some(AvpName::Int(5)));
        assert_eq!(avp_spec("$"), None);
        assert_eq!(avp_spec("$avp(i:x)"), None);
    }

    #[test]
    fn rpc_reload_is_rate_limited() {
        let t = Trusted::new(TrustedParams::default(), None);
        let t0 = Instant::now();
        // No database: the reload fails, and still counts for the limit.
        assert!(matches!(t.reload_rpc(t0), Err(ReloadError::Failed(_))));
        assert_eq!(
            t.reload_rpc(t0 + Duration::from_secs(4)),
            Err(ReloadError::Ongoing)
        );
        assert!(matches!(
            t.reload_rpc(t0 + Duration::from_secs(5)),
            Err(ReloadError::Failed(_))
        ));
        let t = Trusted::new(
            TrustedParams {
                reload_delta: Duration::ZERO,
                ..TrustedParams::default()
            },
            None,
        );
        assert!(matches!(t.reload_rpc(t0), Err(ReloadError::Failed(_))));
        assert!(matches!(t.reload_rpc(t0), Err(ReloadError::Failed(_))));
    }
}
