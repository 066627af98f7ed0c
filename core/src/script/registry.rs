//! The table of functions the router implements: `(module, name) ->`
//! [`FnImpl`].
//!
//! A function gets the message's script state and its arguments
//! ([`Args`]: typed at compile time, resolved against the loaded program,
//! evaluated on demand) and returns [`Ret::Code`] (`> 0` true, `< 0`
//! false, `0` stops the script) or [`Ret::Suspend`] when it has to wait
//! (a timer, a database answer, another shard): the VM then saves its
//! state and the caller resumes it later with the function's final code
//! ([`super::Script::resume`]).
//!
//! [`Registry::builtin`] holds the core actions and the few module
//! functions implemented so far; [`Registry::add`] adds more (tests,
//! benchmarks, later modules) without touching the VM.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use regex::bytes::Regex;
use ser_cfg::ir::{Arg, RouteId};

use super::Script;
use super::ctx::MsgCtx;
use super::value::Value;

/// What a function returns.
#[derive(Debug)]
pub enum Ret {
    /// A return code: `> 0` true, `< 0` false, `0` stops the script.
    Code(i32),
    /// The function waits; the script is suspended until the caller
    /// resumes it with the function's final return code.
    Suspend(Pending),
}

/// What a suspended function waits for.
#[derive(Debug)]
pub enum Pending {
    /// A timer (`sleep`, `usleep`): resume at `until` (with code 1).
    Sleep { until: Instant },
    /// A question answered elsewhere, named by the module (`kind`) and an
    /// opaque token it chose.
    Token { kind: &'static str, token: u64 },
    /// Work for another thread (a database query): the shard parks the run
    /// and starts the work; its [`Completion`] resumes the run.
    Offload(Offload),
}

/// Work a function hands to another thread. The shard calls `start` with
/// a [`Completion`]; whoever finishes the work calls [`Completion::done`]
/// once, from any thread, and the shard resumes the script on its next
/// turn.
pub struct Offload {
    /// The module, for logs.
    pub kind: &'static str,
    pub start: Box<dyn FnOnce(Completion) + Send>,
}

impl fmt::Debug for Offload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Offload").field("kind", &self.kind).finish()
    }
}

/// How an offloaded function ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// With this return code.
    Code(i32),
    /// By running the same call again (the work filled a cache the
    /// function reads: this time it answers at once).
    Retry,
}

/// The way back from offloaded work to the suspended script. Dropped
/// without [`Completion::done`] (the work was refused or lost), it resumes
/// the script with its fallback (code -1 unless [`Completion::or`] says
/// otherwise), so a run never waits for ever.
pub struct Completion(Option<Box<dyn FnOnce(Resume) + Send>>, Resume);

impl Completion {
    pub fn new(f: impl FnOnce(Resume) + Send + 'static) -> Completion {
        Completion(Some(Box::new(f)), Resume::Code(-1))
    }

    /// The same, resuming with `fallback` if dropped unanswered.
    pub fn or(mut self, fallback: Resume) -> Completion {
        self.1 = fallback;
        self
    }

    pub fn done(mut self, r: Resume) {
        if let Some(f) = self.0.take() {
            f(r);
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f(self.1);
        }
    }
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Completion(pending)"
        } else {
            "Completion(done)"
        })
    }
}

/// A function implementation.
pub type FnImpl = dyn Fn(&mut MsgCtx<'_, '_>, &Args<'_>) -> Ret + Send + Sync;

/// Signature of the built-in functions (a plain `fn` so that the table
/// can be static).
pub type BuiltinFn = fn(&mut MsgCtx<'_, '_>, &Args<'_>) -> Ret;

/// The arguments of one call site.
pub struct Args<'s> {
    pub(crate) script: &'s Script,
    pub(crate) args: &'s [Arg],
    pub(crate) module: &'s str,
    pub(crate) name: &'s str,
}

impl fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Args")
            .field("module", &self.module)
            .field("name", &self.name)
            .field("args", &self.args)
            .finish()
    }
}

impl<'s> Args<'s> {
    pub fn len(&self) -> usize {
        self.args.len()
    }

    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// The function's name and module, for messages.
    pub fn function(&self) -> (&'s str, &'s str) {
        (self.module, self.name)
    }

    /// The argument as compiled.
    pub fn raw(&self, i: usize) -> Option<&'s Arg> {
        self.args.get(i)
    }

    /// The argument's value: an int, a pooled string, a variable's current
    /// value, an evaluated format; a regex gives its source text, a route
    /// its index, a flag its number, a header its name.
    pub fn value<'m, 'a, 'r>(&self, i: usize, ctx: &MsgCtx<'m, 'a>) -> Option<Value<'r>>
    where
        's: 'r,
        'm: 'r,
        'a: 'r,
    {
        let p = &self.script.program;
        Some(match self.args.get(i)? {
            Arg::Int(n) => Value::Int(*n),
            Arg::Str(s) => Value::str(p.str(*s).as_bytes()),
            Arg::Regex(r) => {
                let src = p.regexes.get(*r as usize)?.source;
                Value::str(p.str(src).as_bytes())
            }
            Arg::Var(v) => self.script.vars.get(*v as usize)?.get(ctx),
            Arg::Format(f) => self.script.format(*f, ctx),
            Arg::Route(r) => Value::Int(i64::from(*r)),
            Arg::Flag(f) => Value::Int(i64::from(*f)),
            Arg::Header(h) => {
                let s = *p.headers.get(*h as usize)?;
                Value::str(p.str(s).as_bytes())
            }
        })
    }

    /// The argument as text (an int as its decimal form, `Null` as "").
    pub fn bytes<'m, 'a, 'r>(&self, i: usize, ctx: &MsgCtx<'m, 'a>) -> Option<Cow<'r, [u8]>>
    where
        's: 'r,
        'm: 'r,
        'a: 'r,
    {
        self.value(i, ctx).map(Value::into_bytes)
    }

    /// The argument as an integer (an int, or text holding one).
    pub fn int(&self, i: usize, ctx: &MsgCtx<'_, '_>) -> Option<i64> {
        match self.args.get(i)? {
            Arg::Int(n) => Some(*n),
            Arg::Flag(f) => Some(i64::from(*f)),
            _ => {
                let v = self.value(i, ctx)?;
                match &v {
                    Value::Str(s) => super::value::parse_int(trim(s)),
                    other => other.to_int(),
                }
            }
        }
    }

    /// A flag number: `Arg::Flag`, or an int / numeric string.
    pub fn flag(&self, i: usize, ctx: &MsgCtx<'_, '_>) -> Option<u32> {
        self.int(i, ctx).and_then(|n| u32::try_from(n).ok())
    }

    /// A compiled regex argument.
    pub fn regex(&self, i: usize) -> Option<&'s Regex> {
        match self.args.get(i)? {
            Arg::Regex(r) => self.script.regexes.get(*r as usize),
            _ => None,
        }
    }

    /// A compiled regex argument in multi-line mode (`^`/`$` at every
    /// line), for searching a whole message; built once, on first use.
    pub fn regex_lines(&self, i: usize) -> Option<&'s Regex> {
        match self.args.get(i)? {
            Arg::Regex(r) => {
                let r = *r as usize;
                let def = self.script.program.regexes.get(r)?;
                self.script
                    .regexes_lines
                    .get(r)?
                    .get_or_init(|| {
                        super::compile_regex_lines(self.script.program.str(def.source), def.icase)
                    })
                    .as_ref()
            }
            _ => None,
        }
    }

    /// A route argument.
    pub fn route(&self, i: usize) -> Option<RouteId> {
        match self.args.get(i)? {
            Arg::Route(r) => Some(*r),
            _ => None,
        }
    }

    /// A header-name argument.
    pub fn header(&self, i: usize) -> Option<&'s [u8]> {
        match self.args.get(i)? {
            Arg::Header(h) => {
                let p = &self.script.program;
                let s = *p.headers.get(*h as usize)?;
                Some(p.str(s).as_bytes())
            }
            _ => None,
        }
    }

    /// An argument as written: a string constant, a number, or the text of
    /// a variable (`"$ruri"` compiles to a variable; avpops and SER's
    /// avp_db read it as a source name).
    pub fn as_written(&self, i: usize) -> Option<String> {
        let p = &self.script.program;
        match self.args.get(i)? {
            Arg::Str(s) => Some(p.str(*s).to_string()),
            Arg::Var(v) => p.vars.get(*v as usize).map(|d| super::pv::describe(p, d)),
            Arg::Int(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The AVP an argument names (`$x`, `$tu.x`, `$avp(x)`), if it is one.
    pub fn avp_sel(&self, i: usize) -> Option<&'s super::ctx::AvpSel> {
        match self.args.get(i)? {
            Arg::Var(id) => match self.script.vars.get(*id as usize)? {
                super::pv::Pv::Avp { sel, .. } => Some(sel),
                _ => None,
            },
            _ => None,
        }
    }

    /// The bit of a flag declared by `avpflags`, by name.
    pub fn avp_flag_bit(&self, name: &[u8]) -> Option<u32> {
        let p = &self.script.program;
        p.avpflags
            .iter()
            .find(|(n, _)| p.str(*n).as_bytes() == name)
            .map(|&(_, bit)| bit)
    }

    /// Assigns to a variable argument (`Arg::Var`), as `=` does.
    pub fn set_var(&self, i: usize, ctx: &mut MsgCtx<'_, '_>, v: Value<'_>) -> Result<(), String> {
        match self.args.get(i) {
            Some(Arg::Var(id)) => match self.script.vars.get(*id as usize) {
                Some(pv) if pv.writable() => pv.set(ctx, v, false),
                _ => Err("argument is not a writable variable".into()),
            },
            _ => Err("argument is not a variable".into()),
        }
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or(&[])
}

/// Functions by `(module, name)`.
#[derive(Clone, Default)]
pub struct Registry {
    map: HashMap<(String, String), Arc<FnImpl>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.map.keys().collect();
        names.sort();
        f.debug_struct("Registry")
            .field("functions", &names)
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// Every built-in function (see [`BUILTINS`]).
    pub fn builtin() -> Registry {
        let mut r = Registry::default();
        for (m, n, f) in BUILTINS {
            r.map.insert((m.to_string(), n.to_string()), Arc::new(*f));
        }
        r
    }

    /// Adds (or replaces) a function.
    pub fn add<F>(&mut self, module: &str, name: &str, f: F) -> &mut Registry
    where
        F: Fn(&mut MsgCtx<'_, '_>, &Args<'_>) -> Ret + Send + Sync + 'static,
    {
        self.map
            .insert((module.to_string(), name.to_string()), Arc::new(f));
        self
    }

    pub fn get(&self, module: &str, name: &str) -> Option<&Arc<FnImpl>> {
        // Avoid allocating a key for the lookup on the common path: the
        // map is small and loading is rare, so a scan is fine.
        self.map
            .iter()
            .find(|((m, n), _)| m == module && n == name)
            .map(|(_, f)| f)
    }

    pub fn contains(&self, module: &str, name: &str) -> bool {
        self.get(module, name).is_some()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The built-in functions: `(module, name, implementation)`. Module
/// `"core"` holds SER's core actions; SER 2.x has the branch-flag
/// functions in the core and Kamailio in `kex`, so they are listed under
/// both.
pub static BUILTINS: &[(&str, &str, BuiltinFn)] = &[
    ("core", "rewriteuri", super::actions::rewriteuri),
    ("core", "seturi", super::actions::rewriteuri),
    ("core", "rewritehost", super::actions::rewritehost),
    ("core", "sethost", super::actions::rewritehost),
    ("core", "seth", super::actions::rewritehost),
    ("core", "rewritehostport", super::actions::rewritehostport),
    ("core", "sethostport", super::actions::rewritehostport),
    ("core", "sethp", super::actions::rewritehostport),
    ("core", "rewriteport", super::actions::rewriteport),
    ("core", "setport", super::actions::rewriteport),
    ("core", "setp", super::actions::rewriteport),
    ("core", "rewriteuser", super::actions::rewriteuser),
    ("core", "setuser", super::actions::rewriteuser),
    ("core", "setu", super::actions::rewriteuser),
    ("core", "rewriteuserpass", super::actions::rewriteuserpass),
    ("core", "setuserpass", super::actions::rewriteuserpass),
    ("core", "setup", super::actions::rewriteuserpass),
    ("core", "prefix", super::actions::prefix),
    ("core", "strip", super::actions::strip),
    ("core", "strip_tail", super::actions::strip_tail),
    ("core", "revert_uri", super::actions::revert_uri),
    ("core", "append_branch", super::actions::append_branch),
    ("core", "force_rport", super::actions::force_rport),
    ("core", "add_rport", super::actions::force_rport),
    ("core", "setflag", super::actions::setflag),
    ("core", "resetflag", super::actions::resetflag),
    ("core", "isflagset", super::actions::isflagset),
    ("core", "log", super::actions::log),
    ("core", "forward", super::actions::forward),
    ("core", "forward_udp", super::actions::forward_udp),
    ("core", "forward_tcp", super::actions::forward_tcp),
    ("core", "forward_tls", super::actions::forward_tls),
    ("core", "len_gt", super::actions::len_gt),
    ("core", "strempty", super::actions::strempty),
    ("core", "setavpflag", super::actions::setavpflag),
    ("core", "resetavpflag", super::actions::resetavpflag),
    ("core", "isavpflagset", super::actions::isavpflagset),
    ("core", "setbflag", super::actions::setbflag),
    ("core", "resetbflag", super::actions::resetbflag),
    ("core", "isbflagset", super::actions::isbflagset),
    ("kex", "setbflag", super::actions::setbflag),
    ("kex", "resetbflag", super::actions::resetbflag),
    ("kex", "isbflagset", super::actions::isbflagset),
    ("xlog", "xlog", super::actions::xlog),
    ("xlog", "xdbg", super::actions::xdbg),
    ("textops", "is_method", super::actions::is_method),
    ("textops", "append_hf", crate::textops::append_hf),
    ("textops", "insert_hf", crate::textops::insert_hf),
    ("textops", "remove_hf", crate::textops::remove_hf),
    ("textops", "remove_hf_re", crate::textops::remove_hf_re),
    ("textops", "is_present_hf", crate::textops::is_present_hf),
    (
        "textops",
        "is_present_hf_re",
        crate::textops::is_present_hf_re,
    ),
    (
        "textops",
        "append_to_reply",
        crate::textops::append_to_reply,
    ),
    ("textops", "search", crate::textops::search),
    ("sanity", "sanity_check", crate::sanity::sanity_check),
    ("cfgutils", "sleep", super::actions::sleep),
    ("cfgutils", "usleep", super::actions::usleep),
    ("xmlrpc", "dispatch_rpc", crate::ctl::xmlrpc::dispatch_rpc),
    ("acc", "acc_log_request", crate::acc::funcs::acc_log_request),
    ("acc", "acc_db_request", crate::acc::funcs::acc_db_request),
    ("acc", "acc_request", crate::acc::funcs::acc_request),
    ("sl", "sl_send_reply", crate::proxy::sl::sl_send_reply),
    ("sl", "sl_reply_error", crate::proxy::sl::sl_reply_error),
    ("sl", "sl_filter_ACK", crate::proxy::sl::sl_filter_ack),
    (
        "maxfwd",
        "mf_process_maxfwd_header",
        crate::proxy::maxfwd::mf_process_maxfwd_header,
    ),
    ("maxfwd", "is_maxfwd_lt", crate::proxy::maxfwd::is_maxfwd_lt),
    ("registrar", "save", crate::registrar::save::save),
    ("registrar", "save_memory", crate::registrar::save::save),
    ("registrar", "save_contacts", crate::registrar::save::save),
    (
        "registrar",
        "save_noreply",
        crate::registrar::save::save_noreply,
    ),
    (
        "registrar",
        "save_contacts_noreply",
        crate::registrar::save::save_noreply,
    ),
    ("registrar", "lookup", crate::registrar::lookup::lookup),
    (
        "registrar",
        "lookup_contacts",
        crate::registrar::lookup::lookup,
    ),
    (
        "registrar",
        "registered",
        crate::registrar::lookup::registered,
    ),
    ("rr", "record_route", crate::proxy::rr::record_route),
    (
        "rr",
        "record_route_preset",
        crate::proxy::rr::record_route_preset,
    ),
    ("rr", "loose_route", crate::proxy::rr::loose_route),
    (
        "rr",
        "rewriteFromRoute",
        crate::proxy::rr::rewrite_from_route,
    ),
    (
        "rr",
        "check_route_param",
        crate::proxy::rr::check_route_param,
    ),
    ("uri", "has_totag", crate::proxy::rr::has_totag),
    ("tm", "t_relay", crate::tm::funcs::t_relay),
    ("tm", "t_relay_to_udp", crate::tm::funcs::t_relay_to_udp),
    ("tm", "t_relay_to_tcp", crate::tm::funcs::t_relay_to_tcp),
    ("tm", "t_relay_to_tls", crate::tm::funcs::t_relay_to_tls),
    ("tm", "t_forward_nonack", crate::tm::funcs::t_relay),
    ("tm", "t_relay_cancel", crate::tm::funcs::t_relay_cancel),
    ("tm", "t_newtran", crate::tm::funcs::t_newtran),
    ("tm", "t_reply", crate::tm::funcs::t_reply),
    ("tm", "t_release", crate::tm::funcs::t_release),
    ("tm", "t_check_trans", crate::tm::funcs::t_check_trans),
    ("tm", "t_lookup_cancel", crate::tm::funcs::t_lookup_cancel),
    ("tm", "t_on_reply", crate::tm::funcs::t_on_reply),
    ("tm", "t_on_failure", crate::tm::funcs::t_on_failure),
    ("tm", "t_on_branch", crate::tm::funcs::t_on_branch),
    ("tm", "t_check_status", crate::tm::funcs::t_check_status),
    ("tm", "t_is_canceled", crate::tm::funcs::t_is_canceled),
    ("tm", "t_branch_timeout", crate::tm::funcs::t_branch_timeout),
    ("tm", "t_branch_replied", crate::tm::funcs::t_branch_replied),
    ("tm", "t_any_timeout", crate::tm::funcs::t_any_timeout),
    ("tm", "t_any_replied", crate::tm::funcs::t_any_replied),
    ("tm", "t_set_fr", crate::tm::funcs::t_set_fr),
    ("tm", "t_reset_fr", crate::tm::funcs::t_reset_fr),
    (
        "tm",
        "t_set_auto_inv_100",
        crate::tm::funcs::t_set_auto_inv_100,
    ),
    ("siputils", "has_totag", crate::proxy::rr::has_totag),
    (
        "auth_db",
        "www_authorize",
        crate::auth::funcs::www_authorize,
    ),
    (
        "auth_db",
        "proxy_authorize",
        crate::auth::funcs::proxy_authorize,
    ),
    (
        "auth_db",
        "www_authenticate",
        crate::auth::funcs::www_authenticate,
    ),
    (
        "auth_db",
        "proxy_authenticate",
        crate::auth::funcs::proxy_authenticate,
    ),
    ("auth", "www_challenge", crate::auth::funcs::www_challenge),
    (
        "auth",
        "proxy_challenge",
        crate::auth::funcs::proxy_challenge,
    ),
    (
        "auth",
        "consume_credentials",
        crate::auth::funcs::consume_credentials,
    ),
    ("uri_db", "check_to", crate::auth::funcs::check_to),
    ("uri_db", "check_from", crate::auth::funcs::check_from),
    (
        "uri_db",
        "does_uri_exist",
        crate::auth::funcs::does_uri_exist,
    ),
    (
        "domain",
        "is_from_local",
        crate::policy::domain::is_from_local,
    ),
    (
        "domain",
        "is_uri_host_local",
        crate::policy::domain::is_uri_host_local,
    ),
    (
        "domain",
        "is_domain_local",
        crate::policy::domain::is_domain_local,
    ),
    ("domain", "is_local", crate::policy::domain::is_domain_local),
    (
        "domain",
        "lookup_domain",
        crate::policy::domain::lookup_domain,
    ),
    (
        "permissions",
        "allow_trusted",
        crate::policy::trusted::allow_trusted,
    ),
    (
        "permissions",
        "allow_source_address",
        crate::policy::address::allow_source_address,
    ),
    (
        "permissions",
        "allow_address",
        crate::policy::address::allow_address,
    ),
    (
        "permissions",
        "allow_source_address_group",
        crate::policy::address::allow_source_address_group,
    ),
    ("avpops", "avp_db_load", crate::avpops::avp_db_load),
    ("avpops", "avp_write", crate::avpops::avp_write),
    ("avpops", "avp_delete", crate::avpops::avp_delete),
    ("avpops", "avp_pushto", crate::avpops::avp_pushto),
    ("avpops", "avp_check", crate::avpops::avp_check),
    ("avpops", "is_avp_set", crate::avpops::more::is_avp_set),
    ("avpops", "avp_copy", crate::avpops::more::avp_copy),
    ("avpops", "avp_print", crate::avpops::more::avp_print),
    ("avpops", "avp_db_store", crate::avpops::more::avp_db_store),
    (
        "avpops",
        "avp_db_delete",
        crate::avpops::more::avp_db_delete,
    ),
    ("uri_db", "lookup_user", crate::attrs::uri_db::lookup_user),
    ("avp_db", "load_attrs", crate::attrs::avp_db::load_attrs),
    ("avp", "del_attr", crate::attrs::avp::del_attr),
    ("avp", "attr2uri", crate::attrs::avp::attr2uri),
    ("avp", "xlset_attr", crate::attrs::avp::xlset_attr),
    ("avp", "replace_attr_hf", crate::attrs::avp::replace_attr_hf),
];

/// Whether a built-in implements `module`'s `name`.
pub fn is_builtin(module: &str, name: &str) -> bool {
    BUILTINS.iter().any(|(m, n, _)| *m == module && *n == name)
}
