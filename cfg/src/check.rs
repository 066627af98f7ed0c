//! The checker: resolves every name of a parsed [`Script`] against the
//! [`catalog`](crate::catalog) and reports what is wrong, and what the
//! router does not implement yet.
//!
//! # Rules
//!
//! - **Core parameters** (`name = value`) must be known, with a value of
//!   the right kind (`children` a number, `fork` yes/no, `listen` an
//!   address, `log_facility` a syslog facility). An unknown name gets the
//!   closest known one as a hint (`log_stderr` → `log_stderror`).
//! - **`loadmodule`** must name a built-in module, whatever the form: SER
//!   0.9's full path (`/usr/local/lib/ser/modules/sl.so`), SER 2.x's bare
//!   name (`sl`, with `loadpath`), Kamailio's `sl.so` (with `mpath`). The
//!   directory is not looked at: modules are built in. SER 0.9's `mysql`
//!   is an alias of `db_mysql`. A module that needs another one (registrar
//!   needs usrloc) must find it loaded.
//! - **`modparam`** must come after the `loadmodule` of each of its modules
//!   (`"a|b"` names several), name a parameter the module has, and give a
//!   value of its kind: a number (`yes`/`no` count as 1/0, and a string
//!   holding a number is converted, as sip-router does), a string, or a
//!   flag (a number 0-31 or a name declared by `flags` before it). A
//!   parameter that names a route (`xmlrpc` `route`) must name an existing
//!   one; one that holds a regular expression must compile.
//! - **Function calls** resolve against the core and the loaded modules,
//!   in load order, in the script's dialect
//!   ([`catalog::resolve_function_in`]). A function of a module that is
//!   not loaded is an error that names the module; one that exists only in
//!   another dialect is an error that says where it exists and what to
//!   write instead. The number of arguments must match one of the
//!   function's forms, and each argument must fit its kind (see
//!   [`ArgKind`]): a number, a flag, a route of the right kind
//!   (`t_on_failure("1")` needs `failure_route[1]`), a header name, a
//!   regular expression that compiles. The function must be allowed in the
//!   kind of route it is called from (`sl_send_reply` only in request
//!   routes). Like SER, sub-routes (`route[X]`) are checked as request
//!   routes, whatever route calls them.
//! - **Routes**: `route(X)` needs `route[X]`; a route defined twice is an
//!   error.
//! - **Flags**: `flags` names are unique and numbered 0-31; `setflag(X)` and
//!   friends take a number 0-31 or a declared name. `setavpflag` takes a
//!   name declared by `avpflags`.
//! - **Variables**: `$name(...)` must be a known Kamailio pseudo-variable
//!   class, `$avp(i:N)` needs a number, a select (`@to.tag`,
//!   `$sel(...)`) must start with a known root, and `@cfg_get.group.id`
//!   must name a declared custom parameter (or a core/module group).
//! - **Regular expressions** (`=~`, `!~` and regex arguments) must be valid
//!   for both POSIX ERE, which SER uses, and the `regex` crate, which this
//!   router uses: Perl-only syntax (`(?:...)`, lazy `*?`, `\d`, `\x41`,
//!   back-references) is refused with a hint, and so is what the crate
//!   cannot compile.
//! - **Dialect-foreign constructs**: a construct that only a later dialect
//!   has (a Kamailio pseudo-variable in a script marked `#!SER09`, a SER
//!   2.x AVP under `-y ser09`) is an error; a construct that only hints at
//!   a later dialect (`return`, `#!define`) is a warning. SER 2.x
//!   constructs are fine in Kamailio scripts: Kamailio 3.x shares the
//!   sip-router core.
//!
//! Where a function is known and correctly used but the router does not
//! implement it yet (the `implemented(module, function)` callback says
//! so), it is listed in [`CheckReport::not_supported`] with every place it
//! is called: that is not an error, it is the roadmap.

use std::collections::HashMap;

use crate::Diagnostic;
use crate::Script;
use crate::ast::{
    BinaryOp, Call, Expr, ExprKind, FlagDecl, Item, ItemKind, ModParam, Name, Param, RouteKind,
    RouteName, Stmt, StmtKind, UnaryOp, Value, ValueKind, Var,
};
use crate::catalog::{
    self, ArgKind, CORE, CoreParamKind, FnSig, MAX_FLAG, ModuleSig, ParamKind, Resolution,
    RouteMask,
};
use crate::dialect::{Dialect, Strength};
use crate::source::Span;

/// A function the router does not implement yet, with where it is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotSupported {
    /// Canonical module name, or [`CORE`].
    pub module: &'static str,
    /// The function name as the script writes it.
    pub function: String,
    /// Every call site, in source order.
    pub sites: Vec<Span>,
}

/// What [`check`] found.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    /// Config errors, in source order.
    pub errors: Vec<Diagnostic>,
    /// Things that work but are probably not meant (a module loaded twice,
    /// a construct that hints at another dialect).
    pub warnings: Vec<Diagnostic>,
    /// Known functions the router does not implement yet, in order of first
    /// use.
    pub not_supported: Vec<NotSupported>,
    /// The modules loaded, resolved, in load order.
    pub modules: Vec<&'static ModuleSig>,
}

impl CheckReport {
    /// No errors and nothing missing: the router can run this config.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty() && self.not_supported.is_empty()
    }

    /// `file:line:col: not supported yet: function (module)`, one per
    /// function, at its first use.
    pub fn not_supported_lines(&self, script: &Script) -> Vec<String> {
        self.not_supported
            .iter()
            .map(|n| {
                let msg = format!("not supported yet: {} ({})", n.function, n.module);
                match n.sites.first() {
                    Some(s) => script.diagnostic(*s, msg).to_string(),
                    None => msg,
                }
            })
            .collect()
    }

    /// The not-supported list as `function (module)` strings.
    pub fn not_supported_names(&self) -> Vec<String> {
        self.not_supported
            .iter()
            .map(|n| format!("{} ({})", n.function, n.module))
            .collect()
    }
}

/// Checks a parsed script. `implemented(module, function)` tells whether
/// the router implements a function (`module` is [`CORE`] for core
/// functions); it is asked with the name as written and with its canonical
/// name (aliases resolved), and either answer `true` counts.
pub fn check(script: &Script, implemented: &dyn Fn(&str, &str) -> bool) -> CheckReport {
    let mut c = Checker {
        script,
        implemented,
        report: CheckReport::default(),
        flags: Vec::new(),
        avpflags: Vec::new(),
        routes: HashMap::new(),
        cfg_vars: Vec::new(),
        loaded: Vec::new(),
        load_spans: Vec::new(),
        ns_index: HashMap::new(),
    };
    c.run();
    c.report
}

struct Checker<'a> {
    script: &'a Script,
    implemented: &'a dyn Fn(&str, &str) -> bool,
    report: CheckReport,
    /// Declared flags: name, number, where.
    flags: Vec<(String, Option<i64>, Span)>,
    avpflags: Vec<(String, Span)>,
    /// Defined routes: (kind, name; `None` = main/unnamed) → where.
    routes: HashMap<(RouteKind, Option<RouteName>), Span>,
    /// Custom parameters `group.id`.
    cfg_vars: Vec<(String, String)>,
    loaded: Vec<&'static ModuleSig>,
    load_spans: Vec<Span>,
    ns_index: HashMap<(&'static str, String), usize>,
}

/// The key of a route definition or reference: `route[0]` is the main route.
fn route_key(kind: RouteKind, name: Option<&RouteName>) -> (RouteKind, Option<RouteName>) {
    match name {
        Some(n) if kind == RouteKind::Request && n.is_main() => (kind, None),
        n => (kind, n.cloned()),
    }
}

fn route_display(kind: RouteKind, name: Option<&RouteName>) -> String {
    match name {
        Some(n) => format!("{}[{n}]", kind.keyword()),
        None if kind == RouteKind::Request => "the main route".into(),
        None => kind.keyword().to_string(),
    }
}

fn mask_of(kind: RouteKind) -> RouteMask {
    match kind {
        RouteKind::Request => RouteMask::REQUEST,
        RouteKind::Failure => RouteMask::FAILURE,
        RouteKind::OnReply => RouteMask::ONREPLY,
        RouteKind::Branch => RouteMask::BRANCH,
        RouteKind::OnSend => RouteMask::ONSEND,
        RouteKind::Event => RouteMask::EVENT,
    }
}

/// `route, failure_route` for a mask.
fn mask_names(mask: RouteMask) -> String {
    let kinds = [
        RouteKind::Request,
        RouteKind::Failure,
        RouteKind::OnReply,
        RouteKind::Branch,
        RouteKind::OnSend,
        RouteKind::Event,
    ];
    kinds
        .iter()
        .filter(|k| mask.allows(mask_of(**k)))
        .map(|k| k.keyword())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `takes 2 arguments`, `takes 0 or 1 arguments`, `takes no arguments`.
fn arity_text(arities: &[&[ArgKind]]) -> String {
    let mut n: Vec<usize> = arities.iter().map(|a| a.len()).collect();
    n.sort_unstable();
    n.dedup();
    match n.as_slice() {
        [0] => "takes no arguments".into(),
        [1] => "takes 1 argument".into(),
        [x] => format!("takes {x} arguments"),
        _ => {
            let (last, rest) = n.split_last().unwrap_or((&0, &[]));
            let rest: Vec<String> = rest.iter().map(usize::to_string).collect();
            format!("takes {} or {last} arguments", rest.join(", "))
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A short description of an argument for messages.
fn describe_expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Str(s) => quote(s),
        ExprKind::Ip { addr, mask } => match mask {
            Some(m) => format!("{addr}/{m}"),
            None => addr.to_string(),
        },
        ExprKind::Ident(s) | ExprKind::Host(s) => format!("`{s}`"),
        ExprKind::Keyword(k) => format!("`{}`", k.spelling()),
        ExprKind::Var(v) => format!("`{v}`"),
        ExprKind::Call(c) => format!("a call of `{}`", c.name.name),
        ExprKind::Unary { .. } | ExprKind::Binary { .. } => "an expression".into(),
    }
}

fn quote(s: &str) -> String {
    let mut t: String = s.chars().take(40).collect();
    if t.len() < s.len() {
        t.push_str("...");
    }
    format!("{t:?}")
}

fn describe_value(v: &Value) -> String {
    match &v.kind {
        ValueKind::Int(n) => n.to_string(),
        ValueKind::Str(s) => quote(s),
        ValueKind::Bool(b) => if *b { "yes" } else { "no" }.into(),
        ValueKind::Ident(s) => {
            if s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                format!("`{s}` (an undefined #!define name?)")
            } else {
                format!("`{s}`")
            }
        }
        ValueKind::Addr(a) => format!("`{a}`"),
        ValueKind::List(_) => "a list of values".into(),
    }
}

fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<i64>().ok()
}

/// Roots of selects (`@root.…`) known to SER 2.x / sip-router.
const SELECT_ROOTS: &[&str] = &[
    "ruri",
    "ruri_user",
    "uri",
    "from",
    "f",
    "to",
    "t",
    "contact",
    "m",
    "via",
    "v",
    "cseq",
    "call_id",
    "callid",
    "i",
    "msg",
    "src",
    "dst",
    "rcv",
    "sys",
    "cfg_get",
    "proxy_authorization",
    "authorization",
    "www_authenticate",
    "proxy_authenticate",
    "refer_to",
    "rpid",
    "identity",
    "identity_info",
    "date",
    "event",
    "record_route",
    "route",
    "next_hop",
    "branch",
    "nathelper",
    "tls",
    "xmlrpc",
    "method",
    "hf_value",
    "hf_value2",
    "hf_param",
    "hf_name",
    "body",
    "sdp",
    "to_tag",
    "from_tag",
    "tm",
    "avp",
    "eval",
    "content_length",
    "content_type",
    "expires",
    "max_forwards",
    "diversion",
    "allow",
    "supported",
    "require",
    "accept",
    "user_agent",
    "server",
];

/// Kamailio pseudo-variable classes written `$name(...)`.
const PV_CLASSES: &[&str] = &[
    "avp", "var", "shv", "hdr", "hdrc", "xavp", "sht", "shtex", "shtcn", "shtcv", "shtinc",
    "shtdec", "dlg", "dlg_var", "dlg_ctx", "T", "T_req", "T_rpl", "T_inv", "T_branch", "snd",
    "sndfrom", "sndto", "time", "utime", "timef", "TV", "stat", "sel", "msrp", "nh", "mct", "cnt",
    "pv", "cfg", "ulc", "sdp", "rr", "tcp", "dns", "http_req", "mq", "sp", "si", "br", "bf", "bF",
    "du", "ds", "ru", "rU", "rd", "rp", "rm", "ai", "fu", "fU", "fd", "fn", "tu", "tU", "td", "tn",
    "ci", "cl", "cs", "ct", "hu", "ua", "re", "rs", "rt", "rz", "rb", "mb", "ml", "mi", "mt", "od",
    "op", "ou", "oU", "pd", "pp", "pr", "pu", "pU", "di", "dp", "dP", "sf", "sF", "Tf", "TF", "Ts",
    "TS", "env", "ltt", "to", "from", "rdir", "msg", "xml", "json",
];

/// Why a regular expression is not acceptable; `None` when it is.
///
/// SER compiles script regexes with POSIX `regcomp(REG_EXTENDED)`; this
/// router with the `regex` crate. Accepted: what both read the same way.
pub fn regex_problem(re: &str) -> Option<String> {
    let chars: Vec<char> = re.chars().collect();
    let mut i = 0;
    let mut in_bracket = false;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if in_bracket {
            match (c, next) {
                (']', _)
                    if !(i > 0
                        && (chars[i - 1] == '['
                            || (chars[i - 1] == '^' && i > 1 && chars[i - 2] == '['))) =>
                {
                    in_bracket = false
                }
                ('[', Some('=' | '.')) => {
                    return Some(
                        "POSIX equivalence and collating classes (`[[=a=]]`, `[[.x.]]`) are not supported"
                            .into(),
                    );
                }
                ('[', Some(':')) => {
                    // `[:alpha:]`: skip to the closing `:]`.
                    if let Some(end) = (i + 2..chars.len().saturating_sub(1))
                        .find(|&j| chars[j] == ':' && chars[j + 1] == ']')
                    {
                        i = end + 1;
                    }
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            '[' => in_bracket = true,
            '\\' => match next {
                Some(n) if n.is_ascii_digit() => {
                    return Some(format!(
                        "`\\{n}` (a back-reference or octal escape) is not supported"
                    ));
                }
                Some('d') => return Some("`\\d` is not POSIX: write `[0-9]`".into()),
                Some('D') => return Some("`\\D` is not POSIX: write `[^0-9]`".into()),
                Some(n @ ('w' | 'W' | 's' | 'S' | 'b' | 'B')) => {
                    let _ = n;
                    i += 1;
                }
                Some(n) if n.is_ascii_alphabetic() => {
                    return Some(format!("`\\{n}` is not a POSIX escape"));
                }
                Some(_) => i += 1,
                None => return Some("the expression ends with a lone `\\`".into()),
            },
            '(' if next == Some('?') => {
                return Some("`(?` groups and flags are Perl syntax, not POSIX".into());
            }
            '*' | '+' | '?' | '}' if matches!(next, Some('?')) && i > 0 => {
                return Some(format!(
                    "`{c}?` (a lazy quantifier) is Perl syntax, not POSIX"
                ));
            }
            _ => {}
        }
        i += 1;
    }
    match regex::RegexBuilder::new(re).size_limit(1 << 22).build() {
        Ok(_) => None,
        Err(e) => {
            let text = e.to_string();
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Some(last.trim().trim_start_matches("error: ").to_string())
        }
    }
}

impl Checker<'_> {
    fn error(&mut self, span: Span, msg: impl Into<String>) {
        let d = self.script.diagnostic(span, msg);
        self.report.errors.push(d);
    }

    fn warn(&mut self, span: Span, msg: impl Into<String>) {
        let d = self.script.diagnostic(span, msg);
        self.report.warnings.push(d);
    }

    fn dialect(&self) -> Dialect {
        self.script.dialect
    }

    fn run(&mut self) {
        self.dialect_constructs();
        // Routes first: modparams and calls may name routes defined later.
        for item in &self.script.items {
            if let ItemKind::Route(_) = &item.kind {
                self.item(item);
            }
        }
        // Declarations, in source order (modparam sees the modules and
        // flags declared before it, as in SER).
        for item in &self.script.items {
            if !matches!(item.kind, ItemKind::Route(_)) {
                self.item(item);
            }
        }
        self.dependencies();
        self.report.modules = self.loaded.clone();
        // Pass 2: route bodies.
        for item in &self.script.items {
            if let ItemKind::Route(r) = &item.kind {
                let mut stmts: Vec<&Stmt> = Vec::new();
                r.body.for_each_stmt(&mut |s| stmts.push(s));
                for s in stmts {
                    self.stmt(s, r.kind);
                }
            }
        }
        // The walk visits all conditions of an `if`/`else if` chain before
        // the bodies; list by first use in the text instead.
        self.report
            .not_supported
            .sort_by_key(|n| n.sites.first().copied());
    }

    fn dialect_constructs(&mut self) {
        let d = self.dialect();
        for e in &self.script.dialect_evidence {
            if e.dialect <= d {
                continue;
            }
            let msg = format!(
                "{} is {} syntax, but this script is {} ({})",
                e.what,
                e.dialect.name(),
                d.name(),
                self.script.dialect_reason
            );
            match e.strength {
                Strength::Strong => self.error(e.span, msg),
                Strength::Weak => self.warn(e.span, msg),
            }
        }
    }

    fn item(&mut self, item: &Item) {
        match &item.kind {
            ItemKind::Param(p) => self.core_param(p),
            ItemKind::CfgVar(v) => self
                .cfg_vars
                .push((v.group.name.clone(), v.id.name.clone())),
            ItemKind::LoadModule(m) => self.loadmodule(&m.path, m.path_span),
            ItemKind::LoadPath(_) => {}
            ItemKind::ModParam(m) => self.modparam(m),
            ItemKind::Flags(decls) => {
                for d in decls {
                    self.flag_decl(d);
                }
            }
            ItemKind::AvpFlags(names) => {
                for n in names {
                    self.avpflag_decl(n);
                }
            }
            ItemKind::Route(r) => {
                let name = r.name.as_ref().map(|n| &n.name);
                let span = r.name.as_ref().map_or(item.span, |n| n.span);
                let key = route_key(r.kind, name);
                if let Some(first) = self.routes.get(&key) {
                    let msg = format!(
                        "{} is defined twice (first at {})",
                        route_display(r.kind, key.1.as_ref()),
                        self.where_(*first)
                    );
                    self.error(span, msg);
                } else {
                    self.routes.insert(key, span);
                }
            }
        }
    }

    /// `12:5`, or `file:12:5` in another file than the main one.
    fn where_(&self, span: Span) -> String {
        if span.file.0 == 0 {
            format!("{}:{}", span.line, span.col)
        } else {
            format!(
                "{}:{}:{}",
                self.script.path(span.file).display(),
                span.line,
                span.col
            )
        }
    }

    // ----- core parameters ---------------------------------------------------

    fn core_param(&mut self, p: &Param) {
        let name = &p.name.name;
        let Some(sig) = catalog::core_param(name) else {
            let all = catalog::CORE_PARAMS
                .iter()
                .flat_map(|p| std::iter::once(p.name).chain(p.aliases.iter().copied()));
            let msg = match catalog::closest(name, all) {
                Some(h) => format!("unknown core parameter `{name}`; did you mean `{h}`?"),
                None => format!(
                    "unknown core parameter `{name}` (the core parameters are listed in docs/config.md)"
                ),
            };
            self.error(p.name.span, msg);
            return;
        };
        if !core_value_fits(sig.kind, &p.value) {
            let msg = format!(
                "core parameter `{name}` expects {}, found {}",
                sig.kind.expected(),
                describe_value(&p.value)
            );
            self.error(p.value.span, msg);
        }
    }

    // ----- modules -----------------------------------------------------------

    fn loadmodule(&mut self, path: &str, span: Span) {
        let Some(m) = catalog::module_for_path(path) else {
            let file = path.rsplit('/').next().unwrap_or(path);
            let base = file.strip_suffix(".so").unwrap_or(file);
            let all = catalog::MODULES
                .iter()
                .flat_map(|m| std::iter::once(m.name).chain(m.aliases.iter().copied()));
            let msg = match catalog::closest(base, all) {
                Some(h) => format!("unknown module `{base}`; did you mean `{h}`?"),
                None => format!(
                    "unknown module `{base}` (the built-in modules are listed in docs/config.md)"
                ),
            };
            self.error(span, msg);
            return;
        };
        if let Some(i) = self.loaded.iter().position(|l| l.name == m.name) {
            let msg = format!(
                "module `{}` is loaded twice (first at {}); the second loadmodule is ignored",
                m.name,
                self.where_(self.load_spans[i])
            );
            self.warn(span, msg);
            return;
        }
        self.loaded.push(m);
        self.load_spans.push(span);
    }

    fn dependencies(&mut self) {
        for i in 0..self.loaded.len() {
            let m = self.loaded[i];
            let Some((_, deps)) = catalog::MODULE_DEPENDENCIES
                .iter()
                .find(|(n, _)| *n == m.name)
            else {
                continue;
            };
            for dep in *deps {
                if !self.loaded.iter().any(|l| l.name == *dep) {
                    let msg = format!(
                        "module `{}` needs module `{dep}`, which is not loaded",
                        m.name
                    );
                    self.error(self.load_spans[i], msg);
                }
            }
        }
    }

    fn modparam(&mut self, mp: &ModParam) {
        let mut offset = 0usize;
        let mut sigs = Vec::new();
        for part in mp.module.split('|') {
            let lead = part.len() - part.trim_start().len();
            let name = part.trim();
            let span = Span {
                col: mp.module_span.col + 1 + (offset + lead) as u32,
                ..mp.module_span
            };
            offset += part.len() + 1;
            let Some(sig) = catalog::module(name) else {
                let all = catalog::MODULES.iter().map(|m| m.name);
                let msg = match catalog::closest(name, all) {
                    Some(h) => format!("modparam for unknown module `{name}`; did you mean `{h}`?"),
                    None => format!("modparam for unknown module `{name}`"),
                };
                self.error(span, msg);
                continue;
            };
            if !self.loaded.iter().any(|l| l.name == sig.name) {
                let later = self.script.loadmodules().find(|l| {
                    catalog::module_for_path(&l.path).is_some_and(|m| m.name == sig.name)
                });
                let msg = match later {
                    Some(l) => format!(
                        "modparam for module `{name}` before its loadmodule (at {}); move it after",
                        self.where_(l.path_span)
                    ),
                    None => format!("modparam for module `{name}`, which is not loaded"),
                };
                self.error(span, msg);
                continue;
            }
            sigs.push(sig);
        }
        for sig in sigs {
            self.module_param(sig, &mp.param, &mp.value);
        }
    }

    fn module_param(&mut self, sig: &'static ModuleSig, param: &Name, value: &Value) {
        let pname = &param.name;
        let Some(p) = sig.params.iter().find(|p| p.name == *pname) else {
            let msg = match catalog::closest(pname, sig.params.iter().map(|p| p.name)) {
                Some(h) => format!(
                    "module `{}` has no parameter `{pname}`; did you mean `{h}`?",
                    sig.name
                ),
                None if sig.params.is_empty() => {
                    format!("module `{}` has no parameters (found `{pname}`)", sig.name)
                }
                None => format!("module `{}` has no parameter `{pname}`", sig.name),
            };
            self.error(param.span, msg);
            return;
        };
        let fits = match (&p.kind, &value.kind) {
            (ParamKind::Int | ParamKind::Bool, ValueKind::Int(_) | ValueKind::Bool(_)) => true,
            (ParamKind::Int | ParamKind::Bool, ValueKind::Str(s)) => parse_int(s).is_some(),
            (ParamKind::Str, ValueKind::Str(_)) => true,
            (ParamKind::IntOrStr, ValueKind::Int(_) | ValueKind::Str(_) | ValueKind::Bool(_)) => {
                true
            }
            (ParamKind::Flag, _) => {
                if let Some(problem) = self.flag_value_problem(value) {
                    let msg = format!(
                        "parameter `{pname}` of module `{}` expects a flag: {problem}",
                        sig.name
                    );
                    self.error(value.span, msg);
                }
                true
            }
            _ => false,
        };
        if !fits {
            let expected = match p.kind {
                ParamKind::Int => "a number",
                ParamKind::Str => "a quoted string",
                ParamKind::Bool => "yes or no",
                ParamKind::Flag => "a flag",
                ParamKind::IntOrStr => "a number or a string",
            };
            let msg = format!(
                "parameter `{pname}` of module `{}` expects {expected}, found {}",
                sig.name,
                describe_value(value)
            );
            self.error(value.span, msg);
            return;
        }
        if let ValueKind::Str(s) = &value.kind {
            if let Some((_, _, kind)) = catalog::ROUTE_PARAMS
                .iter()
                .find(|(m, n, _)| *m == sig.name && *n == pname)
            {
                let name = match parse_int(s) {
                    Some(n) => RouteName::Number(n),
                    None => RouteName::Name(s.clone()),
                };
                if !self.route_exists(*kind, &name) {
                    let msg = format!(
                        "parameter `{pname}` of module `{}` names {}, which is not defined",
                        sig.name,
                        route_display(*kind, Some(&name))
                    );
                    self.error(value.span, msg);
                }
            }
            if catalog::REGEX_PARAMS
                .iter()
                .any(|(m, n)| *m == sig.name && *n == pname)
                && let Some(problem) = regex_problem(s)
            {
                let msg = format!("invalid regular expression {}: {problem}", quote(s));
                self.error(value.span, msg);
            }
        }
    }

    // ----- flags -------------------------------------------------------------

    fn flag_decl(&mut self, d: &FlagDecl) {
        let name = &d.name.name;
        if let Some((_, _, first)) = self.flags.iter().find(|(n, _, _)| n == name) {
            let msg = format!(
                "flag `{name}` is declared twice (first at {})",
                self.where_(*first)
            );
            self.error(d.name.span, msg);
            return;
        }
        if let Some(n) = d.number {
            if !(0..=MAX_FLAG).contains(&n) {
                let msg = format!("flag number {n} of `{name}` is out of range (0-{MAX_FLAG})");
                self.error(d.name.span, msg);
            } else if let Some((other, _, _)) =
                self.flags.iter().find(|(_, num, _)| *num == Some(n))
            {
                let msg = format!("flag number {n} is used by both `{other}` and `{name}`");
                self.warn(d.name.span, msg);
            }
        }
        self.flags.push((name.clone(), d.number, d.name.span));
    }

    fn avpflag_decl(&mut self, n: &Name) {
        if let Some((_, first)) = self.avpflags.iter().find(|(a, _)| *a == n.name) {
            let msg = format!(
                "AVP flag `{}` is declared twice (first at {})",
                n.name,
                self.where_(*first)
            );
            self.error(n.span, msg);
            return;
        }
        self.avpflags.push((n.name.clone(), n.span));
    }

    fn flag_name_known(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _, _)| n == name)
    }

    /// Why a flag value (number, numeric string, declared name) is wrong.
    fn flag_problem(&self, text: &str, number: Option<i64>) -> Option<String> {
        match number {
            Some(n) if (0..=MAX_FLAG).contains(&n) => None,
            Some(n) => Some(format!("flag {n} is out of range (0-{MAX_FLAG})")),
            None if self.flag_name_known(text) => None,
            None => Some(format!(
                "unknown flag `{text}`; declare it with `flags {text} : N;` or use a number 0-{MAX_FLAG}"
            )),
        }
    }

    fn flag_value_problem(&self, v: &Value) -> Option<String> {
        match &v.kind {
            ValueKind::Int(n) => self.flag_problem("", Some(*n)),
            ValueKind::Str(s) | ValueKind::Ident(s) => self.flag_problem(s, parse_int(s)),
            _ => Some(format!("found {}", describe_value(v))),
        }
    }

    // ----- routes ------------------------------------------------------------

    fn route_exists(&self, kind: RouteKind, name: &RouteName) -> bool {
        self.routes.contains_key(&route_key(kind, Some(name)))
    }

    fn route_call(&mut self, name: &RouteName, span: Span) {
        if !self.route_exists(RouteKind::Request, name) {
            let msg = format!("`route({name})` calls route[{name}], which is not defined");
            self.error(span, msg);
        }
    }

    // ----- statements and expressions ----------------------------------------

    fn stmt(&mut self, s: &Stmt, kind: RouteKind) {
        match &s.kind {
            StmtKind::Call(c) => self.call(c, kind),
            StmtKind::Route(r) => self.route_call(&r.name, r.span),
            StmtKind::Assign(a) => self.var(&a.target, a.target_span),
            _ => {}
        }
        let mut exprs: Vec<&Expr> = Vec::new();
        for e in s.exprs() {
            e.for_each(&mut |x| exprs.push(x));
        }
        for e in exprs {
            match &e.kind {
                ExprKind::Call(c) => self.call(c, kind),
                ExprKind::Var(v) => self.var(v, e.span),
                ExprKind::Binary {
                    op: BinaryOp::Match | BinaryOp::NotMatch,
                    rhs,
                    ..
                } => {
                    if let ExprKind::Str(re) = &rhs.kind
                        && let Some(problem) = regex_problem(re)
                    {
                        let msg = format!("invalid regular expression {}: {problem}", quote(re));
                        self.error(rhs.span, msg);
                    }
                }
                _ => {}
            }
        }
    }

    fn var(&mut self, v: &Var, span: Span) {
        match v {
            Var::Pv(pv) => {
                if pv.arg.is_some() && !PV_CLASSES.contains(&pv.name.as_str()) {
                    let msg = format!("unknown pseudo-variable class `${}(...)`", pv.name);
                    self.error(span, msg);
                    return;
                }
                if pv.name == "avp"
                    && let Some(arg) = &pv.arg
                    && let Some(id) = arg.strip_prefix("i:")
                    && id.trim().parse::<u32>().is_err()
                {
                    let msg = format!("`$avp({arg})`: an integer AVP id must be a number");
                    self.error(span, msg);
                }
            }
            Var::Select(sel) => {
                let Some(root) = sel.segments.first().map(|s| s.name.as_str()) else {
                    return;
                };
                if !SELECT_ROOTS.contains(&root) {
                    let msg = format!("unknown select `{v}` (no select starts with `{root}`)");
                    self.error(span, msg);
                    return;
                }
                if root == "cfg_get" {
                    let group = sel.segments.get(1).map(|s| s.name.as_str());
                    let id = sel.segments.get(2).map(|s| s.name.as_str());
                    if let (Some(group), Some(id)) = (group, id) {
                        let declared = self.cfg_vars.iter().any(|(g, i)| g == group && i == id);
                        let builtin =
                            group == "core" || self.loaded.iter().any(|m| m.name == group);
                        if !declared && !builtin {
                            let msg = format!(
                                "`{v}` reads custom parameter `{group}.{id}`, which is not declared (write `{group}.{id} = value` at top level)"
                            );
                            self.error(span, msg);
                        }
                    }
                }
            }
            Var::RetCode(_) | Var::Avp(_) | Var::Transform(_) => {}
        }
    }

    fn call(&mut self, call: &Call, kind: RouteKind) {
        let name = call.name.name.as_str();
        if name == "route" {
            // `route(X)` used as a value (Kamailio).
            if let [arg] = call.args.as_slice() {
                let target = match &arg.kind {
                    ExprKind::Int(n) => Some(RouteName::Number(*n)),
                    ExprKind::Ident(s) | ExprKind::Str(s) => Some(match parse_int(s) {
                        Some(n) => RouteName::Number(n),
                        None => RouteName::Name(s.clone()),
                    }),
                    _ => None,
                };
                if let Some(t) = target {
                    self.route_call(&t, call.name.span);
                }
            }
            return;
        }
        let dialect = self.dialect();
        match catalog::resolve_function_in(&self.loaded, name, dialect) {
            Resolution::Found(module, sig) => {
                self.arguments(call, sig);
                if !sig.routes.allows(mask_of(kind)) {
                    let msg = format!(
                        "function `{name}` cannot be used in {} (allowed in: {})",
                        kind.keyword(),
                        mask_names(sig.routes)
                    );
                    self.error(call.name.span, msg);
                }
                self.note_support(module, name, call.name.span);
            }
            Resolution::NotInDialect(module, _) => {
                let exists = catalog::function_dialects(module, name).names();
                let from = if module == CORE {
                    String::new()
                } else {
                    format!(" of module `{module}`")
                };
                let mut msg = format!(
                    "function `{name}`{from} does not exist in {} (only in {exists})",
                    dialect.name()
                );
                if let Some(h) = catalog::replacement_hint(name) {
                    msg.push_str("; ");
                    msg.push_str(h);
                }
                self.error(call.name.span, msg);
            }
            Resolution::NotLoaded(m) => {
                let msg = format!(
                    "function `{name}` is in module `{}`, which is not loaded",
                    m.name
                );
                self.error(call.name.span, msg);
            }
            Resolution::Unknown => {
                let msg = match catalog::closest(name, catalog::all_function_names()) {
                    Some(h) => format!("unknown function `{name}`; did you mean `{h}`?"),
                    None => format!("unknown function `{name}`"),
                };
                self.error(call.name.span, msg);
            }
        }
    }

    fn note_support(&mut self, module: &'static str, name: &str, span: Span) {
        let canonical = catalog::canonical_function(module, name);
        if (self.implemented)(module, name) || (self.implemented)(module, canonical) {
            return;
        }
        let key = (module, name.to_string());
        match self.ns_index.get(&key) {
            Some(&i) => self.report.not_supported[i].sites.push(span),
            None => {
                self.ns_index.insert(key, self.report.not_supported.len());
                self.report.not_supported.push(NotSupported {
                    module,
                    function: name.to_string(),
                    sites: vec![span],
                });
            }
        }
    }

    fn arguments(&mut self, call: &Call, sig: &FnSig) {
        let name = call.name.name.as_str();
        let n = call.args.len();
        let Some(kinds) = sig.arities.iter().find(|a| a.len() == n) else {
            let msg = format!(
                "function `{name}` {}, found {n} argument{}",
                arity_text(sig.arities),
                plural(n)
            );
            self.error(call.name.span, msg);
            return;
        };
        for (i, (arg, kind)) in call.args.iter().zip(kinds.iter()).enumerate() {
            if let Some(problem) = self.argument_problem(name, *kind, arg) {
                let msg = format!("argument {} of `{name}` {problem}", i + 1);
                self.error(arg.span, msg);
            }
        }
        if matches!(name, "setavpflag" | "resetavpflag" | "isavpflagset")
            && let Some(arg) = call.args.get(1)
            && let ExprKind::Str(s) | ExprKind::Ident(s) = &arg.kind
            && !self.avpflags.iter().any(|(a, _)| a == s)
        {
            let msg = format!("unknown AVP flag `{s}`; declare it with `avpflags {s};`");
            self.error(arg.span, msg);
        }
    }

    /// What is wrong with an argument, as the end of a sentence that starts
    /// with "argument N of `f`".
    fn argument_problem(&self, function: &str, kind: ArgKind, arg: &Expr) -> Option<String> {
        let found = || describe_expr(arg);
        match kind {
            ArgKind::Any => None,
            ArgKind::Int => match &arg.kind {
                ExprKind::Int(_) | ExprKind::Var(_) | ExprKind::Keyword(_) => None,
                ExprKind::Unary {
                    op: UnaryOp::Neg,
                    operand,
                } if matches!(operand.kind, ExprKind::Int(_)) => None,
                ExprKind::Str(s) if parse_int(s).is_some() || s.starts_with(['$', '@']) => None,
                _ => Some(format!("must be a number, found {}", found())),
            },
            ArgKind::Str | ArgKind::Format | ArgKind::Table => match &arg.kind {
                ExprKind::Call(_) => Some(format!("must be a string, found {}", found())),
                _ => None,
            },
            ArgKind::Var => match &arg.kind {
                ExprKind::Var(_) | ExprKind::Str(_) | ExprKind::Ident(_) => None,
                _ => Some(format!("must be a variable name, found {}", found())),
            },
            ArgKind::Header => match &arg.kind {
                ExprKind::Var(_) => None,
                ExprKind::Str(s) | ExprKind::Ident(s) => {
                    let ok = !s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.!%*+`'~".contains(&b));
                    if ok {
                        None
                    } else {
                        Some(format!(
                            "must be a header name such as \"Route\", found {}",
                            found()
                        ))
                    }
                }
                _ => Some(format!(
                    "must be a header name such as \"Route\", found {}",
                    found()
                )),
            },
            ArgKind::Regex => match &arg.kind {
                ExprKind::Var(_) => None,
                ExprKind::Int(_) => None,
                ExprKind::Str(s) => regex_problem(s)
                    .map(|p| format!("is not a valid regular expression ({p}): {}", quote(s))),
                _ => Some(format!(
                    "must be a regular expression in quotes, found {}",
                    found()
                )),
            },
            ArgKind::Flag => match &arg.kind {
                ExprKind::Var(_) => None,
                ExprKind::Int(n) => self.flag_problem("", Some(*n)),
                ExprKind::Str(s) | ExprKind::Ident(s) => self.flag_problem(s, parse_int(s)),
                _ => Some(format!("must be a flag, found {}", found())),
            }
            .map(|p| format!("is not a valid flag: {p}")),
            ArgKind::Route => {
                let target = match &arg.kind {
                    ExprKind::Int(n) => RouteName::Number(*n),
                    ExprKind::Str(s) | ExprKind::Ident(s) => {
                        if s.is_empty() {
                            return None;
                        }
                        match parse_int(s) {
                            Some(n) => RouteName::Number(n),
                            None => RouteName::Name(s.clone()),
                        }
                    }
                    ExprKind::Var(_) => return None,
                    _ => return Some(format!("must name a route, found {}", found())),
                };
                let rkind = catalog::route_arg_kind(function);
                // `t_on_failure("0")` disarms the route (SER, Kamailio).
                if rkind != RouteKind::Request && target == RouteName::Number(0) {
                    return None;
                }
                if self.route_exists(rkind, &target) {
                    None
                } else {
                    Some(format!(
                        "names {}, which is not defined",
                        route_display(rkind, Some(&target))
                    ))
                }
            }
        }
    }
}

fn core_value_fits(kind: CoreParamKind, v: &Value) -> bool {
    use CoreParamKind as K;
    match (kind, &v.kind) {
        (K::Int | K::Bool, ValueKind::Int(_) | ValueKind::Bool(_)) => true,
        (K::Str, ValueKind::Str(_)) => true,
        (K::Word, ValueKind::Str(_) | ValueKind::Ident(_)) => true,
        (K::Id, ValueKind::Str(_) | ValueKind::Ident(_) | ValueKind::Int(_)) => true,
        (K::Address, ValueKind::Addr(_) | ValueKind::Ident(_) | ValueKind::Str(_)) => true,
        (K::Address, ValueKind::List(items)) => items.iter().all(|i| core_value_fits(kind, i)),
        (K::Facility, ValueKind::Ident(s) | ValueKind::Str(s)) => is_facility(s),
        _ => false,
    }
}

fn is_facility(s: &str) -> bool {
    const NAMES: &[&str] = &[
        "LOG_AUTH",
        "LOG_AUTHPRIV",
        "LOG_CRON",
        "LOG_DAEMON",
        "LOG_FTP",
        "LOG_KERN",
        "LOG_LPR",
        "LOG_MAIL",
        "LOG_NEWS",
        "LOG_SYSLOG",
        "LOG_USER",
        "LOG_UUCP",
        "LOG_LOCAL0",
        "LOG_LOCAL1",
        "LOG_LOCAL2",
        "LOG_LOCAL3",
        "LOG_LOCAL4",
        "LOG_LOCAL5",
        "LOG_LOCAL6",
        "LOG_LOCAL7",
    ];
    NAMES.contains(&s)
}

// ----- the reference for docs/config.md --------------------------------------

fn kind_name(k: ArgKind) -> &'static str {
    match k {
        ArgKind::Int => "int",
        ArgKind::Str => "str",
        ArgKind::Format => "fmt",
        ArgKind::Regex => "regex",
        ArgKind::Flag => "flag",
        ArgKind::Route => "route",
        ArgKind::Var => "var",
        ArgKind::Header => "header",
        ArgKind::Table => "table",
        ArgKind::Any => "any",
    }
}

fn arities_text(arities: &[&[ArgKind]]) -> String {
    arities
        .iter()
        .map(|a| {
            let inner: Vec<&str> = a.iter().map(|k| kind_name(*k)).collect();
            format!("({})", inner.join(", "))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn routes_text(mask: RouteMask) -> String {
    if mask == RouteMask::ANY {
        return "any".into();
    }
    mask_names(mask)
        .replace("onreply_route", "onreply")
        .replace("failure_route", "failure")
        .replace("branch_route", "branch")
        .replace("onsend_route", "onsend")
        .replace("event_route", "event")
        .replace("route", "request")
}

fn status(implemented: &dyn Fn(&str, &str) -> bool, module: &str, f: &str) -> &'static str {
    let canonical = catalog::canonical_function(module, f);
    if implemented(module, f) || implemented(module, canonical) {
        "implemented"
    } else {
        "not supported yet"
    }
}

fn function_table(
    out: &mut String,
    module: &str,
    fns: &[FnSig],
    implemented: &dyn Fn(&str, &str) -> bool,
) {
    out.push_str("| function | arguments | routes | dialects | status | what it does |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for f in fns {
        let d = catalog::function_dialects(module, f.name);
        let dialects = if d == catalog::Dialects::ALL {
            "all".to_string()
        } else {
            d.names()
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            f.name,
            arities_text(f.arities),
            routes_text(f.routes),
            dialects,
            status(implemented, module, f.name),
            f.doc.replace('|', "\\|")
        ));
    }
}

/// The reference part of `docs/config.md`: core parameters, core
/// functions, and every module with its parameters and functions, each
/// function with its status from `implemented`.
pub fn reference_markdown(implemented: &dyn Fn(&str, &str) -> bool) -> String {
    let mut out = String::new();
    out.push_str("### Core parameters\n\n");
    out.push_str(
        "| parameter | also spelled | value | what it sets |\n| --- | --- | --- | --- |\n",
    );
    for p in catalog::CORE_PARAMS {
        let aliases: Vec<String> = p.aliases.iter().map(|a| format!("`{a}`")).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            p.name,
            aliases.join(", "),
            p.kind.expected().replace('`', ""),
            p.doc
        ));
    }
    out.push_str("\n### Core functions\n\n");
    function_table(&mut out, CORE, catalog::CORE_FUNCTIONS, implemented);
    out.push_str("\n### Modules\n");
    for m in catalog::MODULES {
        out.push_str(&format!("\n#### `{}`\n\n{}", m.name, m.doc));
        if !m.aliases.is_empty() {
            let a: Vec<String> = m.aliases.iter().map(|a| format!("`{a}`")).collect();
            out.push_str(&format!(" Also loaded as {}.", a.join(", ")));
        }
        if let Some((_, deps)) = catalog::MODULE_DEPENDENCIES
            .iter()
            .find(|(n, _)| *n == m.name)
        {
            let d: Vec<String> = deps.iter().map(|d| format!("`{d}`")).collect();
            out.push_str(&format!(" Needs {}.", d.join(", ")));
        }
        out.push_str("\n\n");
        if m.params.is_empty() {
            out.push_str("Parameters: none.\n\n");
        } else {
            out.push_str("| parameter | value | what it sets |\n| --- | --- | --- |\n");
            for p in m.params {
                let kind = match p.kind {
                    ParamKind::Int => "int",
                    ParamKind::Str => "str",
                    ParamKind::Bool => "yes/no",
                    ParamKind::Flag => "flag",
                    ParamKind::IntOrStr => "int or str",
                };
                out.push_str(&format!("| `{}` | {kind} | {} |\n", p.name, p.doc));
            }
            out.push('\n');
        }
        if m.functions.is_empty() {
            out.push_str("Functions: none.\n");
        } else {
            function_table(&mut out, m.name, m.functions, implemented);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes() {
        assert_eq!(regex_problem("(180)|(183)|2[0-9][0-9]"), None);
        assert_eq!(regex_problem("^Contact:[ ]*\\*"), None);
        assert_eq!(regex_problem("sips?:\\+?[0-9]{3,18}@.*"), None);
        assert_eq!(regex_problem("[[:digit:]]+"), None);
        assert_eq!(regex_problem("[]a]"), None);
        assert!(regex_problem("(?i)x").unwrap().contains("Perl"));
        assert!(regex_problem("a*?").unwrap().contains("lazy"));
        assert!(regex_problem("\\d+").unwrap().contains("[0-9]"));
        assert!(regex_problem("(a)\\1").unwrap().contains("back-reference"));
        assert!(
            regex_problem("\\x41")
                .unwrap()
                .contains("not a POSIX escape")
        );
        assert!(regex_problem("[[=a=]]").is_some());
        assert!(regex_problem("a(b").unwrap().contains("unclosed group"));
        assert!(regex_problem("x\\").is_some());
    }

    #[test]
    fn arity_texts() {
        assert_eq!(arity_text(&[&[]]), "takes no arguments");
        assert_eq!(arity_text(&[&[ArgKind::Int]]), "takes 1 argument");
        assert_eq!(
            arity_text(&[&[ArgKind::Int, ArgKind::Str]]),
            "takes 2 arguments"
        );
        assert_eq!(
            arity_text(&[&[], &[ArgKind::Str], &[ArgKind::Str, ArgKind::Int]]),
            "takes 0, 1 or 2 arguments"
        );
    }
}
