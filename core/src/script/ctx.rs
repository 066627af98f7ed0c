//! The per-message script state ([`MsgCtx`]) and the run-time configuration
//! the script reads ([`Config`]).

use std::borrow::Cow;
use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};

use ser_cfg::ast::RouteKind;
use ser_cfg::ir::{ConstValue, Program};

use crate::sip::builder::Edits;
use crate::sip::host::{Host, parse_v4, parse_v6};
use crate::sip::msg::SipMsg;

use super::value::Value;

/// Transport protocol a message came in on (or is to be sent with).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Proto {
    #[default]
    Udp,
    Tcp,
    Tls,
    Sctp,
    Ws,
    Wss,
}

impl Proto {
    /// Lower-case name, as the `proto` keyword reads it (`udp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Tls => "tls",
            Proto::Sctp => "sctp",
            Proto::Ws => "ws",
            Proto::Wss => "wss",
        }
    }

    /// Parses a protocol name, any case.
    pub fn parse(s: &[u8]) -> Option<Proto> {
        Some(match s.to_ascii_lowercase().as_slice() {
            b"udp" => Proto::Udp,
            b"tcp" => Proto::Tcp,
            b"tls" => Proto::Tls,
            b"sctp" => Proto::Sctp,
            b"ws" => Proto::Ws,
            b"wss" => Proto::Wss,
            _ => return None,
        })
    }
}

/// An extra branch of the destination set (`append_branch`, `lookup`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Branch {
    pub uri: Vec<u8>,
    pub dst_uri: Option<Vec<u8>>,
    /// q-value times 1000 (`q=0.5` is 500), if given.
    pub q: Option<u16>,
    pub flags: u64,
    pub path: Option<Vec<u8>>,
}

/// What the script asked the transport layer to do; carried out by the
/// shard after the script ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Stateless forward (`forward(...)`). `None` fields mean "from the
    /// destination URI or the current Request-URI".
    Forward {
        host: Option<Vec<u8>>,
        port: Option<u16>,
        proto: Option<Proto>,
    },
    /// A stateless reply to the request (`sl_send_reply`), built and sent
    /// by [`crate::proxy`] after the script.
    Reply { code: u16, reason: Vec<u8> },
    /// `sl_reply_error()`: a stateless reply describing the last internal
    /// error (see [`crate::proxy::sl`]).
    ReplyError,
    /// Stateful forward (`t_relay(...)`, `t_relay_to_udp(...)`,
    /// `t_relay_cancel()`): carried out by the transaction layer
    /// ([`crate::tm::engine`]).
    Relay {
        host: Option<Vec<u8>>,
        port: Option<u16>,
        proto: Option<Proto>,
    },
    /// `t_newtran()`: the request's transaction is created.
    NewTran,
    /// `t_reply(code, reason)`: a reply sent through the transaction.
    TReply { code: u16, reason: Vec<u8> },
}

// ----- AVPs -----

/// The class of a SER 2.x AVP (which part of a user's data it belongs to).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AvpClass {
    Uri,
    User,
    Domain,
    /// SER 2.x's global attributes (gflags' `global_attrs`): shared by
    /// every message, read from [`Config::global_attrs`], never stored in
    /// a message's [`Avps`].
    Global,
}

/// The track of an AVP: the caller's (From) or the callee's (To) side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AvpTrackSide {
    From,
    To,
}

/// An AVP name: Kamailio `i:80` is `Int(80)`, `s:x` and plain `x` are
/// `Str`. Integer and string names are different names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AvpName {
    Int(i64),
    Str(Box<[u8]>),
}

impl AvpName {
    #[inline]
    fn matches(&self, other: &AvpName) -> bool {
        match (self, other) {
            (AvpName::Int(a), AvpName::Int(b)) => a == b,
            (AvpName::Str(a), AvpName::Str(b)) => a == b,
            _ => false,
        }
    }
}

/// Which AVPs a read or a delete looks at: a name, a set of classes
/// (searched in the order URI, user, domain) and a set of tracks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvpSel {
    pub name: AvpName,
    /// Classes to search, in order.
    pub classes: &'static [AvpClass],
    pub track: AvpTrackSide,
    /// Where a write goes.
    pub write_class: AvpClass,
}

/// All classes, in SER's search order (URI, user, domain, global).
pub const ALL_CLASSES: &[AvpClass] = &[
    AvpClass::Uri,
    AvpClass::User,
    AvpClass::Domain,
    AvpClass::Global,
];

#[derive(Clone, Debug, PartialEq, Eq)]
struct AvpEntry {
    class: AvpClass,
    track: AvpTrackSide,
    name: AvpName,
    value: Value<'static>,
    /// Bits of the flags declared by `avpflags` (`setavpflag`).
    flags: u32,
}

impl AvpEntry {
    fn item(&self) -> AvpItem {
        AvpItem {
            class: self.class,
            track: self.track,
            name: self.name.clone(),
            value: self.value.clone(),
            flags: self.flags,
        }
    }
}

/// An AVP as a whole, for the modules that carry AVPs elsewhere (rr's
/// dialog cookies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvpItem {
    pub class: AvpClass,
    pub track: AvpTrackSide,
    pub name: AvpName,
    pub value: Value<'static>,
    pub flags: u32,
}

/// The AVPs of one message: several values per name, newest first (as in
/// SER and Kamailio).
///
/// Kamailio's `$avp(name)` and SER's `$name` are the same AVP: an AVP
/// written without a track or class goes to the From track, URI class
/// (SER's `add_avp` default); a read without a class searches the URI,
/// user and domain classes in that order, newest first within each, then
/// the global attributes ([`Config::global_attrs`], see
/// [`MsgCtx::avp_get`]).
#[derive(Clone, Debug, Default)]
pub struct Avps {
    /// Oldest first; reads walk it backwards.
    list: Vec<AvpEntry>,
}

/// Most AVPs one message may hold.
pub const MAX_AVPS: usize = 1024;

impl Avps {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Adds a value as the newest of its name. Fails (returns `false`) when
    /// the message already holds [`MAX_AVPS`] AVPs.
    pub fn add(
        &mut self,
        class: AvpClass,
        track: AvpTrackSide,
        name: AvpName,
        value: Value<'static>,
    ) -> bool {
        if self.list.len() >= MAX_AVPS {
            return false;
        }
        self.list.push(AvpEntry {
            class,
            track,
            name,
            value,
            flags: 0,
        });
        true
    }

    /// Adds an AVP with its flags (restored from elsewhere); the same bound
    /// as [`Avps::add`].
    pub fn add_item(&mut self, item: AvpItem) -> bool {
        if self.list.len() >= MAX_AVPS {
            return false;
        }
        self.list.push(AvpEntry {
            class: item.class,
            track: item.track,
            name: item.name,
            value: item.value,
            flags: item.flags,
        });
        true
    }

    /// Sets (`on`) or clears the flag bits `mask` on every value of the
    /// AVP; returns whether there was one.
    pub fn set_flags(&mut self, sel: &AvpSel, mask: u32, on: bool) -> bool {
        let mut found = false;
        for e in self.list.iter_mut().filter(|e| {
            sel.classes.contains(&e.class) && e.track == sel.track && e.name.matches(&sel.name)
        }) {
            found = true;
            if on {
                e.flags |= mask;
            } else {
                e.flags &= !mask;
            }
        }
        found
    }

    /// Whether the AVP's newest value (in search order) has a flag bit of
    /// `mask`.
    pub fn has_flags(&self, sel: &AvpSel, mask: u32) -> bool {
        self.positions(sel)
            .next()
            .and_then(|i| self.list.get(i))
            .is_some_and(|e| e.flags & mask != 0)
    }

    /// Every AVP with a flag bit of `mask`, oldest first.
    pub fn flagged(&self, mask: u32) -> impl Iterator<Item = AvpItem> + '_ {
        self.list
            .iter()
            .filter(move |e| e.flags & mask != 0)
            .map(AvpEntry::item)
    }

    /// Every AVP, oldest first.
    pub fn items(&self) -> impl Iterator<Item = AvpItem> + '_ {
        self.list.iter().map(AvpEntry::item)
    }

    /// Positions of the matching AVPs in search order (newest first within
    /// each class, classes in `sel.classes` order).
    fn positions<'s>(&'s self, sel: &'s AvpSel) -> impl Iterator<Item = usize> + 's {
        sel.classes.iter().flat_map(move |c| {
            self.list
                .iter()
                .enumerate()
                .rev()
                .filter(move |(_, e)| {
                    e.class == *c && e.track == sel.track && e.name.matches(&sel.name)
                })
                .map(|(i, _)| i)
        })
    }

    /// The values of an AVP, newest first.
    pub fn values<'s>(&'s self, sel: &'s AvpSel) -> impl Iterator<Item = &'s Value<'static>> + 's {
        self.positions(sel)
            .filter_map(|i| self.list.get(i).map(|e| &e.value))
    }

    /// The `index`th value (0 = newest; negative counts from the oldest:
    /// -1 is the oldest).
    pub fn get(&self, sel: &AvpSel, index: i64) -> Option<&Value<'static>> {
        let pos = self.nth(sel, index)?;
        self.list.get(pos).map(|e| &e.value)
    }

    fn nth(&self, sel: &AvpSel, index: i64) -> Option<usize> {
        if index >= 0 {
            self.positions(sel).nth(usize::try_from(index).ok()?)
        } else {
            let all: Vec<usize> = self.positions(sel).collect();
            let back = usize::try_from(index.unsigned_abs()).ok()?;
            all.len()
                .checked_sub(back)
                .and_then(|i| all.get(i).copied())
        }
    }

    /// Removes the `index`th value; returns whether one was removed.
    pub fn remove_nth(&mut self, sel: &AvpSel, index: i64) -> bool {
        match self.nth(sel, index) {
            Some(pos) => {
                self.list.remove(pos);
                true
            }
            None => false,
        }
    }

    /// Replaces the `index`th value; returns whether it existed.
    pub fn replace_nth(&mut self, sel: &AvpSel, index: i64, value: Value<'static>) -> bool {
        match self.nth(sel, index).and_then(|p| self.list.get_mut(p)) {
            Some(e) => {
                e.value = value;
                true
            }
            None => false,
        }
    }

    /// Removes every value of the AVP; returns how many.
    pub fn remove_all(&mut self, sel: &AvpSel) -> usize {
        let before = self.list.len();
        self.list.retain(|e| {
            !(sel.classes.contains(&e.class) && e.track == sel.track && e.name.matches(&sel.name))
        });
        before - self.list.len()
    }

    /// Adds a value the way a script assignment does (`sel.write_class`).
    pub fn push(&mut self, sel: &AvpSel, value: Value<'static>) -> bool {
        self.add(sel.write_class, sel.track, sel.name.clone(), value)
    }
}

// ----- script variables -----

/// Kamailio `$var(x)` script variables, by slot (the loader numbers the
/// names a script uses). Unlike Kamailio, where they live for the whole
/// worker process, they live for one message here: a value never leaks
/// from one message (or one caller) into another.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    slots: Vec<Value<'static>>,
}

impl Vars {
    /// The value of a slot (`Null` if never set).
    #[inline]
    pub fn get(&self, slot: u32) -> &Value<'static> {
        self.slots.get(slot as usize).unwrap_or(&Value::Null)
    }

    pub fn set(&mut self, slot: u32, value: Value<'static>) {
        let i = slot as usize;
        if self.slots.len() <= i {
            self.slots.resize(i + 1, Value::Null);
        }
        if let Some(s) = self.slots.get_mut(i) {
            *s = value;
        }
    }
}

// ----- logging -----

/// SER / Kamailio log levels.
pub mod level {
    pub const L_ALERT: i32 = -5;
    pub const L_BUG: i32 = -4;
    pub const L_CRIT2: i32 = -3;
    pub const L_CRIT: i32 = -2;
    pub const L_ERR: i32 = -1;
    pub const L_WARN: i32 = 0;
    pub const L_NOTICE: i32 = 1;
    pub const L_INFO: i32 = 2;
    pub const L_DBG: i32 = 3;

    /// A level by name (`L_INFO`, `INFO`, `info`) or number (`"2"`).
    pub fn parse(s: &[u8]) -> Option<i32> {
        if let Some(n) = super::super::value::parse_int(s) {
            return i32::try_from(n).ok();
        }
        let s = s.to_ascii_uppercase();
        let s = s.strip_prefix(b"L_").unwrap_or(&s);
        Some(match s {
            b"ALERT" => L_ALERT,
            b"BUG" => L_BUG,
            b"CRIT2" => L_CRIT2,
            b"CRIT" => L_CRIT,
            b"ERR" | b"ERROR" => L_ERR,
            b"WARN" | b"WARNING" => L_WARN,
            b"NOTICE" => L_NOTICE,
            b"INFO" => L_INFO,
            b"DBG" | b"DEBUG" => L_DBG,
            _ => return None,
        })
    }

    /// A short name for a level (`ERROR`, `INFO`, ...).
    pub fn name(l: i32) -> &'static str {
        match l {
            i32::MIN..=L_ALERT => "ALERT",
            L_BUG => "BUG",
            L_CRIT2 | L_CRIT => "CRITICAL",
            L_ERR => "ERROR",
            L_WARN => "WARNING",
            L_NOTICE => "NOTICE",
            L_INFO => "INFO",
            _ => "DEBUG",
        }
    }
}

/// One captured log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub level: i32,
    pub text: String,
}

/// Where the script's log lines (`log`, `xlog`, run-time errors) go.
#[derive(Clone, Debug, Default)]
pub enum LogSink {
    /// The router's log ([`crate::log`]: standard error or syslog), lines
    /// above [`Config::debug`] left out.
    #[default]
    Stderr,
    /// Kept in memory, every level (tests).
    Capture(Vec<LogLine>),
    /// Thrown away.
    Discard,
}

impl LogSink {
    /// Writes a line at `level` (one trailing newline is dropped).
    pub fn write(&mut self, threshold: i32, level: i32, text: &str) {
        let text = text.strip_suffix('\n').unwrap_or(text);
        match self {
            LogSink::Stderr => crate::log::write(threshold, level, text),
            LogSink::Capture(lines) => {
                if lines.len() < 10_000 {
                    lines.push(LogLine {
                        level,
                        text: text.to_string(),
                    });
                }
            }
            LogSink::Discard => {}
        }
    }

    /// The captured lines (empty for the other sinks).
    pub fn lines(&self) -> &[LogLine] {
        match self {
            LogSink::Capture(l) => l,
            _ => &[],
        }
    }
}

// ----- configuration -----

/// A host the router answers to (`myself`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum SelfHost {
    Ip(IpAddr),
    /// Lower case.
    Name(Box<[u8]>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct SelfAddr {
    host: SelfHost,
    /// `None`: any port (an alias without port).
    port: Option<u16>,
}

pub use super::runtime::{CfgVar, CfgVars, Knob};

/// Run-time values the script reads: shared by every message (by
/// reference); the [`Knob`]s and custom variables change while the router
/// runs (`cfg.set` over the control socket).
#[derive(Clone, Debug)]
pub struct Config {
    /// `max_len`: the largest message the script accepts (SER's default is
    /// the receive buffer size, 65535).
    pub max_len: u32,
    /// `debug`: log threshold for [`LogSink::Stderr`] (`cfg.set core
    /// debug N`); read with [`Config::debug`].
    pub debug_level: Knob,
    /// Most extra branches `append_branch` may add (Kamailio's
    /// `MAX_BRANCHES` is 12 including the R-URI).
    pub max_branches: usize,
    /// `modparam("maxfwd", "max_limit", N)`: the highest Max-Forwards
    /// value `mf_process_maxfwd_header` lets through (256: no cap).
    pub maxfwd_limit: u32,
    /// The user location store (usrloc), shared by every shard for the
    /// process lifetime.
    pub location: std::sync::Arc<crate::registrar::Location>,
    /// `registrar` and `usrloc` module parameters.
    pub registrar: crate::registrar::Params,
    /// `tm` module parameters.
    pub tm: crate::tm::Params,
    /// uri_db's store (`does_uri_exist`), and its `use_domain`.
    pub uri_db: Option<std::sync::Arc<crate::store::Pool>>,
    pub uri_db_use_domain: bool,
    /// usrloc's store (`db_mode` 1, 2 and 3), set up at start.
    pub usrloc_db: Option<std::sync::Arc<crate::registrar::persist::UsrlocDb>>,
    /// The auth modules (`auth`, `auth_db`), set up at start when the
    /// config loads them.
    pub auth: Option<std::sync::Arc<crate::auth::AuthModule>>,
    /// The cached policy tables (`domain`, `permissions`' `trusted`),
    /// set up at start when the config loads those modules
    /// ([`crate::policy::setup`]).
    pub policy: crate::policy::Policy,
    /// avpops' store (`usr_preferences`), set up at start when the config
    /// loads avpops.
    pub avpops: Option<std::sync::Arc<crate::avpops::AvpDb>>,
    /// Accounting (`acc`, `acc_db`, `acc_syslog`), set up at start when
    /// the config loads one of them.
    pub acc: Option<std::sync::Arc<crate::acc::Acc>>,
    /// SER 2.x's avp_db store (`user_attrs`, `uri_attrs`).
    pub avp_db: Option<std::sync::Arc<crate::store::Pool>>,
    /// SER 2.x's global attributes (gflags' `load_global_attrs`).
    pub global_attrs: Option<std::sync::Arc<crate::attrs::GlobalAttrs>>,
    /// `modparam("rr", "enable_full_lr", 1)`: our Record-Routes say
    /// `;lr=on` instead of `;lr` (default off).
    pub rr_full_lr: bool,
    /// `modparam("rr", "append_fromtag", 0|1)`: our Record-Routes carry
    /// `;ftag=<From tag>` (default on, as in SER and Kamailio).
    pub rr_append_fromtag: bool,
    /// SER 2.x dialog cookies (`avpflags dialog_cookie`, rr's
    /// `cookie_filter` and `cookie_secret`): `None` when the config does
    /// not declare the flag.
    pub rr_cookies: Option<std::sync::Arc<crate::proxy::rr_cookie::Cookies>>,
    /// `tm.fr_timer` / `tm.fr_inv_timer` as `cfg.set` changed them, in
    /// ms (0: no timer; negative: not changed, the `tm` modparams hold).
    pub fr_timer_ms: Knob,
    pub fr_inv_timer_ms: Knob,
    /// `sanity` module parameters.
    pub sanity: crate::sanity::Params,
    myself: Vec<SelfAddr>,
    cfg_vars: CfgVars,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_len: 65_535,
            debug_level: Knob::new(level::L_WARN as i64),
            max_branches: 11,
            maxfwd_limit: 256,
            location: Default::default(),
            registrar: Default::default(),
            tm: Default::default(),
            usrloc_db: None,
            uri_db: None,
            uri_db_use_domain: false,
            auth: None,
            policy: Default::default(),
            avpops: None,
            acc: None,
            avp_db: None,
            global_attrs: None,
            rr_full_lr: false,
            rr_append_fromtag: true,
            rr_cookies: None,
            fr_timer_ms: Knob::new(-1),
            fr_inv_timer_ms: Knob::new(-1),
            sanity: Default::default(),
            myself: Vec::new(),
            cfg_vars: CfgVars::default(),
        }
    }
}

/// The rr module's dialog cookies, when the config declares the
/// `dialog_cookie` AVP flag and loads rr. A `cookie_filter` that is not a
/// valid regex was refused by the checker; here it is then left out.
fn rr_cookies(p: &Program) -> Option<std::sync::Arc<crate::proxy::rr_cookie::Cookies>> {
    use crate::proxy::rr_cookie::{Cookies, FLAG_NAME};
    let bit = p
        .avpflags
        .iter()
        .find(|(n, _)| p.str(*n) == FLAG_NAME)
        .map(|&(_, b)| b)?;
    let rr = p.modules.iter().find(|m| p.str(m.name) == "rr")?;
    let mut filter = None;
    let mut secret = None;
    let mut param_name = None;
    for (name, value) in &rr.params {
        match p.str(*name) {
            "cookie_filter" => filter = regex::bytes::Regex::new(&p.const_text(value)).ok(),
            "cookie_secret" => secret = Some(p.const_text(value)),
            "avp_cookie_name" => param_name = Some(p.const_text(value)),
            _ => {}
        }
    }
    let mut c = Cookies::new(bit, filter, secret.as_deref().map(str::as_bytes)).ok()?;
    if let Some(n) = param_name.filter(|n| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }) {
        c.param_name = n;
    }
    Some(std::sync::Arc::new(c))
}

/// Why [`Config::add_myself`] refused a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadHost(pub String);

impl std::fmt::Display for BadHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a host name or address: `{}`", self.0)
    }
}

impl std::error::Error for BadHost {}

impl Config {
    pub fn new() -> Config {
        Config::default()
    }

    /// The defaults, with `max_len` and `debug` from the program's globals
    /// and the run-time variables it declares.
    pub fn from_program(p: &Program) -> Config {
        let mut c = Config {
            registrar: crate::registrar::Params::from_program(p),
            tm: crate::tm::Params::from_program(p),
            sanity: crate::sanity::Params::from_program(p),
            ..Config::default()
        };
        for g in &p.globals {
            let int = match g.value {
                ConstValue::Int(n) => Some(n),
                ConstValue::Str(s) => super::value::parse_int(p.str(s).as_bytes()),
                ConstValue::Bool(b) => Some(i64::from(b)),
            };
            match (p.str(g.name), int) {
                ("max_len", Some(n)) => c.max_len = u32::try_from(n).unwrap_or(c.max_len),
                ("debug", Some(n)) => {
                    if let Ok(d) = i32::try_from(n) {
                        c.set_debug(d);
                    }
                }
                _ => {}
            }
        }
        for m in p.modules.iter().filter(|m| p.str(m.name) == "maxfwd") {
            for (name, value) in &m.params {
                let n = match value {
                    ConstValue::Int(n) => Some(*n),
                    ConstValue::Str(s) => super::value::parse_int(p.str(*s).as_bytes()),
                    ConstValue::Bool(_) => None,
                };
                if let ("max_limit", Some(n)) = (p.str(*name), n) {
                    c.maxfwd_limit = u32::try_from(n).unwrap_or(c.maxfwd_limit);
                }
            }
        }
        for m in p.modules.iter().filter(|m| p.str(m.name) == "rr") {
            for (name, value) in &m.params {
                let on = match value {
                    ConstValue::Int(n) => *n != 0,
                    ConstValue::Str(s) => {
                        super::value::parse_int(p.str(*s).as_bytes()).is_some_and(|n| n != 0)
                    }
                    ConstValue::Bool(b) => *b,
                };
                match p.str(*name) {
                    "enable_full_lr" => c.rr_full_lr = on,
                    "append_fromtag" => c.rr_append_fromtag = on,
                    _ => {}
                }
            }
        }
        c.rr_cookies = rr_cookies(p);
        for v in &p.cfg_vars {
            let value = match v.value {
                ConstValue::Int(n) => Value::Int(n),
                ConstValue::Str(s) => Value::text(p.str(s)),
                ConstValue::Bool(b) => Value::Int(i64::from(b)),
            };
            let desc = v.desc.map(|d| p.str(d));
            c.cfg_vars.set(
                p.str(v.group),
                p.str(v.name),
                value,
                Some(desc.unwrap_or("")),
            );
        }
        c
    }

    /// The log threshold now.
    pub fn debug(&self) -> i32 {
        self.debug_level.get() as i32
    }

    pub fn set_debug(&self, level: i32) {
        self.debug_level.set(i64::from(level));
    }

    /// Adds an address or name the router answers to: an IPv4 address, an
    /// IPv6 address with or without brackets, or a host name (any case).
    /// `port: None` matches any port (SER's `alias=name` without port).
    pub fn add_myself(&mut self, host: &str, port: Option<u16>) -> Result<(), BadHost> {
        let h = host.as_bytes();
        let inner = h
            .strip_prefix(b"[")
            .and_then(|x| x.strip_suffix(b"]"))
            .unwrap_or(h);
        let host = if let Some(a) = parse_v4(inner) {
            SelfHost::Ip(IpAddr::V4(a))
        } else if let Some(a) = parse_v6(inner) {
            SelfHost::Ip(IpAddr::V6(a))
        } else if !h.is_empty()
            && h.iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            SelfHost::Name(h.to_ascii_lowercase().into_boxed_slice())
        } else {
            return Err(BadHost(host.to_string()));
        };
        self.myself.push(SelfAddr { host, port });
        Ok(())
    }

    /// Forgets every `myself` address.
    pub fn clear_myself(&mut self) {
        self.myself.clear();
    }

    /// Whether `host` (and `port`, when given) names this router. `port:
    /// None` matches any configured port.
    pub fn is_myself(&self, host: &Host<'_>, port: Option<u16>) -> bool {
        let ip = host.ip();
        self.myself.iter().any(|a| {
            let host_ok = match (&a.host, ip, host) {
                (SelfHost::Ip(x), Some(y), _) => *x == y,
                (SelfHost::Name(n), None, Host::Name(h)) => {
                    let h = h.strip_suffix(b".").unwrap_or(h);
                    n.eq_ignore_ascii_case(h)
                }
                _ => false,
            };
            host_ok && (a.port.is_none() || port.is_none() || a.port == port)
        })
    }

    /// Sets (or adds) a run-time variable (the router may be running).
    pub fn set_cfg_var(&self, group: &str, name: &str, value: Value<'static>) {
        self.cfg_vars.set(group, name, value, None);
    }

    /// A run-time variable's current value.
    pub fn cfg_var(&self, group: &[u8], name: &[u8]) -> Option<Value<'static>> {
        self.cfg_vars.get(group, name)
    }

    /// The custom run-time variables as they are now.
    pub fn cfg_vars(&self) -> std::sync::Arc<Vec<CfgVar>> {
        self.cfg_vars.all()
    }
}

// ----- the context -----

thread_local! {
    /// One spare edit list per thread (see [`MsgCtx::recycle`]).
    static EDITS_POOL: Cell<Option<Edits>> = const { Cell::new(None) };
    /// One spare action list per thread.
    static ACTIONS_POOL: Cell<Option<Vec<Action>>> = const { Cell::new(None) };
}

/// The script state of one message: the message, how it arrived, and
/// everything the script changed or asked for.
pub struct MsgCtx<'m, 'a> {
    pub msg: &'m SipMsg<'a>,
    pub config: &'m Config,
    /// Where the message came from.
    pub src: SocketAddr,
    /// The local address it arrived on.
    pub dst: SocketAddr,
    pub proto: Proto,
    /// The new Request-URI; `None` while unchanged.
    pub new_uri: Option<Vec<u8>>,
    /// The destination URI (`$du`), where the request is sent instead of
    /// the Request-URI's host.
    pub dst_uri: Option<Vec<u8>>,
    /// Message (transaction) flags.
    pub flags: u64,
    /// Branch flags of branch 0 (the Request-URI branch).
    pub bflags: u64,
    /// Extra branches (`append_branch`).
    pub branches: Vec<Branch>,
    /// The Request-URI branch was already added to [`MsgCtx::branches`]
    /// (`append_branch()` without arguments, Kamailio's
    /// `ruri_mark_consumed`): forwarding must not add it again.
    pub ruri_consumed: bool,
    pub avps: Avps,
    pub vars: Vars,
    /// Changes to the message, applied when it is sent.
    pub edits: Edits,
    /// Header lines for the next locally generated reply
    /// (`append_to_reply`).
    pub reply_headers: Vec<u8>,
    /// What the script asked the transport to do.
    pub actions: Vec<Action>,
    /// Add `rport` (and `received`) to the top Via (`force_rport`).
    pub force_rport: bool,
    /// `$rc` / `$retcode` / `$?`: the last function's or route's return
    /// code.
    pub rc: i32,
    pub log: LogSink,
    /// The kind of the route being run.
    pub route_kind: RouteKind,
    /// A number the receiver gives each message (`$mi`).
    pub msg_id: u64,
    /// The URI parameters (with their leading `;`) of the Route entry
    /// of ours that `loose_route()` consumed, for `check_route_param`.
    pub routed_params: Option<Vec<u8>>,
    /// Transaction facts and choices (`t_on_failure`, the status in a
    /// failure route, ...).
    pub tm: crate::tm::TmCtx,
    /// What follows `host:port` in the Record-Route `record_route()`
    /// added (`;lr;ftag=...>`): a copy sent from another socket than the
    /// one the request came in on gets a second Record-Route with that
    /// socket's address on top (double Record-Route).
    pub rr_tail: Option<Vec<u8>>,
    /// What `www_authorize` & co. found for this message (for
    /// `consume_credentials`, `check_to`, the next challenge's `stale`).
    pub auth: crate::auth::MsgAuth,
    /// `save` in `db_mode` 1 waits for its store write: the outcome
    /// (0 pending, 1 written, 2 failed), read when the call runs again.
    pub ul_write: Option<std::sync::Arc<std::sync::atomic::AtomicU8>>,
    /// `does_uri_exist` waits for the store: 0 no answer, 1 yes, 2 no.
    pub uri_exists: Option<std::sync::Arc<std::sync::atomic::AtomicU8>>,
    /// usrloc `db_mode` 3: the store read a `save`, `lookup` or
    /// `registered` waits for, read when the call runs again.
    pub ul_read: Option<crate::registrar::persist::UlRead>,
    /// usrloc `db_mode` 3: store reads made for this message (bounded by
    /// [`crate::registrar::persist::MAX_READS`]).
    pub ul_reads: u8,
    /// `avp_db_load` waits for its query: the rows, read when the call
    /// runs again (unset: the query failed).
    pub avp_load: Option<crate::avpops::LoadSlot>,
}

impl<'m, 'a> MsgCtx<'m, 'a> {
    pub fn new(
        msg: &'m SipMsg<'a>,
        config: &'m Config,
        src: SocketAddr,
        dst: SocketAddr,
        proto: Proto,
    ) -> MsgCtx<'m, 'a> {
        MsgCtx {
            msg,
            config,
            src,
            dst,
            proto,
            new_uri: None,
            dst_uri: None,
            flags: 0,
            bflags: 0,
            branches: Vec::new(),
            ruri_consumed: false,
            avps: Avps::default(),
            vars: Vars::default(),
            edits: EDITS_POOL.with(Cell::take).unwrap_or_default(),
            reply_headers: Vec::new(),
            actions: ACTIONS_POOL.with(Cell::take).unwrap_or_default(),
            force_rport: false,
            rc: 1,
            log: LogSink::default(),
            route_kind: RouteKind::Request,
            msg_id: 0,
            routed_params: None,
            tm: crate::tm::TmCtx::default(),
            rr_tail: None,
            auth: Default::default(),
            ul_write: None,
            uri_exists: None,
            ul_read: None,
            ul_reads: 0,
            avp_load: None,
        }
    }

    /// The current Request-URI: the new one if the script changed it, else
    /// the received one (empty for a reply).
    #[inline]
    pub fn ruri(&self) -> &[u8] {
        match &self.new_uri {
            Some(u) => u,
            None => self.msg.ruri_bytes().unwrap_or(b""),
        }
    }

    /// The current Request-URI as a value (borrowed from the message when
    /// unchanged).
    #[inline]
    pub fn ruri_value(&self) -> Value<'a> {
        match &self.new_uri {
            Some(u) => Value::owned(u.clone()),
            None => match self.msg.ruri_bytes() {
                Some(b) => Value::str(b),
                None => Value::Null,
            },
        }
    }

    /// Ends the message's script state, keeping its edit list's
    /// allocations for the next message of this thread (a busy shard then
    /// builds its edits without allocating).
    pub fn recycle(self) {
        let mut e = self.edits;
        e.clear();
        EDITS_POOL.with(|c| c.set(Some(e)));
        let mut a = self.actions;
        if a.capacity() <= 64 {
            a.clear();
            ACTIONS_POOL.with(|c| c.set(Some(a)));
        }
    }

    /// The `index`th value of an AVP (0 = newest, negative from the
    /// oldest), searching the message's AVPs and then, when `sel`'s
    /// classes include [`AvpClass::Global`], the global attributes.
    pub fn avp_get(&self, sel: &AvpSel, index: i64) -> Option<Value<'static>> {
        if let Some(v) = self.avps.get(sel, index) {
            return Some(v.clone());
        }
        if !sel.classes.contains(&AvpClass::Global) {
            return None;
        }
        let g = self.config.global_attrs.as_deref()?;
        let own = self.avps.values(sel).count();
        let AvpName::Str(name) = &sel.name else {
            return None;
        };
        if index >= 0 {
            let i = usize::try_from(index).ok()?.checked_sub(own)?;
            g.get(name, i)
        } else {
            // Counting from the oldest: the global values are the oldest.
            let back = usize::try_from(index.unsigned_abs()).ok()?;
            let n = g.count(name);
            n.checked_sub(back).and_then(|i| g.get(name, i))
        }
    }

    /// Every value of an AVP, newest first, the global ones last.
    pub fn avp_values(&self, sel: &AvpSel) -> Vec<Value<'static>> {
        let mut out: Vec<Value<'static>> = self.avps.values(sel).cloned().collect();
        if sel.classes.contains(&AvpClass::Global)
            && let (Some(g), AvpName::Str(name)) = (self.config.global_attrs.as_deref(), &sel.name)
        {
            out.extend(g.values(name));
        }
        out
    }

    /// Writes a log line through the sink, with the configured threshold.
    pub fn log(&mut self, level: i32, text: &str) {
        self.log.write(self.config.debug(), level, text);
    }

    /// [`MsgCtx::log`] for bytes (lossy UTF-8).
    pub fn log_bytes(&mut self, level: i32, text: &[u8]) {
        let t: Cow<'_, str> = String::from_utf8_lossy(text);
        self.log.write(self.config.debug(), level, &t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(name: &str, classes: &'static [AvpClass], track: AvpTrackSide) -> AvpSel {
        AvpSel {
            name: AvpName::Str(name.as_bytes().into()),
            classes,
            track,
            write_class: AvpClass::Uri,
        }
    }

    #[test]
    fn avps_newest_first_and_classes() {
        let mut a = Avps::default();
        let s = sel("x", ALL_CLASSES, AvpTrackSide::From);
        assert!(a.push(&s, Value::Int(1)));
        assert!(a.push(&s, Value::Int(2)));
        assert!(a.add(
            AvpClass::User,
            AvpTrackSide::From,
            AvpName::Str(b"x"[..].into()),
            Value::Int(3)
        ));
        let v: Vec<_> = a.values(&s).cloned().collect();
        // URI class first (newest first), then user.
        assert_eq!(v, vec![Value::Int(2), Value::Int(1), Value::Int(3)]);
        assert_eq!(a.get(&s, 0), Some(&Value::Int(2)));
        assert_eq!(a.get(&s, -1), Some(&Value::Int(3)));
        assert_eq!(a.get(&s, 5), None);
        let user = sel("x", &[AvpClass::User], AvpTrackSide::From);
        assert_eq!(a.get(&user, 0), Some(&Value::Int(3)));
        let to = sel("x", ALL_CLASSES, AvpTrackSide::To);
        assert_eq!(a.get(&to, 0), None);
        assert!(a.remove_nth(&s, 0));
        assert_eq!(a.get(&s, 0), Some(&Value::Int(1)));
        assert!(a.replace_nth(&s, 0, Value::Int(9)));
        assert_eq!(a.get(&s, 0), Some(&Value::Int(9)));
        assert_eq!(a.remove_all(&s), 2);
        assert!(a.is_empty());
        // Int and string names differ.
        let i = AvpSel {
            name: AvpName::Int(1),
            ..s.clone()
        };
        let one = sel("1", ALL_CLASSES, AvpTrackSide::From);
        a.push(&i, Value::Int(5));
        assert_eq!(a.get(&one, 0), None);
        assert_eq!(a.get(&i, 0), Some(&Value::Int(5)));
        for _ in 0..MAX_AVPS {
            a.push(&i, Value::Null);
        }
        assert!(!a.push(&i, Value::Null));
    }

    #[test]
    fn myself_matching() {
        let mut c = Config::new();
        c.add_myself("192.0.2.13", Some(5060)).unwrap();
        c.add_myself("[2001:db8::1]", Some(5060)).unwrap();
        c.add_myself("Sip.Example.COM", None).unwrap();
        assert!(c.add_myself("bad host", None).is_err());
        let v4 = Host::V4("192.0.2.13".parse().unwrap());
        assert!(c.is_myself(&v4, Some(5060)));
        assert!(c.is_myself(&v4, None));
        assert!(!c.is_myself(&v4, Some(5070)));
        let v6 = Host::V6("2001:db8:0::1".parse().unwrap(), b"[2001:db8:0::1]");
        assert!(c.is_myself(&v6, Some(5060)));
        assert!(c.is_myself(&Host::Name(b"sip.example.com"), Some(5080)));
        assert!(c.is_myself(&Host::Name(b"SIP.example.com."), Some(5080)));
        assert!(!c.is_myself(&Host::Name(b"example.com"), None));
    }

    #[test]
    fn levels() {
        assert_eq!(level::parse(b"L_INFO"), Some(level::L_INFO));
        assert_eq!(level::parse(b"dbg"), Some(level::L_DBG));
        assert_eq!(level::parse(b"-1"), Some(level::L_ERR));
        assert_eq!(level::parse(b"L_NOPE"), None);
    }
}
