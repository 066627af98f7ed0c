//! The compiler: a parsed [`Script`] to the flat [`Program`] that the VM
//! runs and that `ser -c -o x.bin` writes (see [`crate::binary`]).
//!
//! # Tables
//!
//! Every table of the program is filled here, each entry once:
//! constant strings are pooled ([`Program::strings`]); regular expressions
//! are listed once per distinct source, all with `icase` set (SER compiles
//! script regexes with `REG_ICASE`, and so does Kamailio for `=~`); header
//! names (from `$hdr(...)`, `%{...}` and header arguments) are interned in
//! [`Program::headers`]; variables, keywords and selects are listed once in
//! [`Program::vars`]; format strings are pre-split into [`Program::formats`]
//! (one entry per distinct string). Call sites are not shared: each call in
//! the script is its own [`CallSite`].
//!
//! Routes: every route block of every kind, in source order, then an empty
//! route (`ReturnDefault` only) for each route that is referenced but not
//! defined (SER 2.x creates those too; the checker reports them). The main
//! route is `route { }` or `route[0]`. Route references match by kind and
//! name, where a number and the same number written as a name are equal
//! (`t_on_failure("1")` finds `failure_route[1]`).
//!
//! Module-level items: core parameters become [`Program::globals`] in order
//! (a list value such as `alias=a b` gives one global per element; an
//! address or bare word is kept as its text); `loadmodule` gives one
//! [`ModuleUse`] per module (canonical name from the catalogue, else the file
//! name without directory and `.so`), and each `modparam` is attached to the
//! module(s) it names; `flags` get their bit (a declared number, else the
//! first free bit as SER's `register_flag` picks it); `avpflags` are numbered
//! 0, 1, 2... in declaration order; custom parameters become
//! [`Program::cfg_vars`].
//!
//! # Calls and arguments
//!
//! A call is resolved with the catalogue among the loaded modules (the core
//! first; [`catalog::resolve_function_in`] for the script's dialect, and a
//! function the dialect does not have but a loaded module provides is
//! taken as found), and named by its canonical name
//! ([`catalog::canonical_function`]: `sl_reply` is `sl_send_reply`). When
//! the catalogue cannot resolve it, the call site names module `"unknown"`
//! and the function as written, and its
//! arguments are typed by their form alone; the checker reports the unknown
//! function, the compiler does not. The arguments are typed by the
//! signature whose arity matches the call ([`ArgKind`]):
//!
//! | kind | argument written as | becomes |
//! |---|---|---|
//! | `Int` | `10`, `"10"`, `-1` | `Arg::Int` |
//! | `Flag` | `5`, `"5"`, a name declared with `flags` | `Arg::Flag(bit)` |
//! | `Route` | `"1"`, `1`, `NAME` | `Arg::Route(id)`: a failure route for `t_on_failure`/`t_on_negative`, an onreply route for `t_on_reply`, a branch route for `t_on_branch`, else a request route |
//! | `Regex` | a string, number or word | `Arg::Regex` |
//! | `Format` | a string | `Arg::Format`, pre-split |
//! | `Header` | a string or word | `Arg::Header` |
//! | `Var` | `$x`, `"$x"`, `"@a.b"` | `Arg::Var` (a string that is not a variable stays `Arg::Str`) |
//! | `Str`, `Table`, `Any` | anything | by form: `Int`, `Str`, `Var` |
//!
//! By form: an integer is `Arg::Int`, a string, word, host name or IP
//! address `Arg::Str` (its text), a variable or core keyword (`uri:host`)
//! `Arg::Var`. When an argument does not fit its kind (a word where a flag
//! is expected, a variable for a route) it is typed by form; the checker
//! reports the mismatch. Only an argument that is an expression (`1 + 2`,
//! `f()`) cannot be represented and is a compile error.
//!
//! # Format strings
//!
//! Split by the dialect's syntax. Kamailio (`pv` module): `$name`,
//! `$name(arg)`, `$(name(arg)[index])`, `$$` for a `$`; a `$` followed by
//! nothing that can start a name is kept as text; transformations
//! (`$(ru{s.len})`) are refused (not supported yet). SER 0.8/0.9/2.x (`xl`
//! library): `%$avp`, `%$t.avp[1]`, `%@select.path`, `%{Header}` /
//! `%{Header[1]}`, the two-letter specifiers (`%ru`, `%fu`, `%ci`, `%is`...,
//! given the Kamailio pseudo-variable of the same meaning: `%is` is `$si`),
//! `%%` for a `%`; an unknown specifier prints `<null>` in SER and becomes
//! `$null`.
//!
//! # Code
//!
//! The operand stack is empty between statements. Shapes (`L:` marks a
//! jump target):
//!
//! | construct | ops |
//! |---|---|
//! | `f(a);` | `Call(f)`, `Pop` |
//! | `route(R);` | `Route(R)`, `Pop` |
//! | `$x = e;` / `$x := e;` | `e`, `Store(x)` / `StoreAll(x)` |
//! | `if (c) A` | `c`, `JumpIfFalse(L)`, `A`, `L:` |
//! | `if (c) A else B` | `c`, `JumpIfFalse(L1)`, `A`, `Jump(L2)`, `L1:` `B`, `L2:` (an `else if` chain repeats the first part per arm) |
//! | `while (c) A` | `L1:` `c`, `JumpIfFalse(L2)`, `A`, `Jump(L1)`, `L2:` |
//! | `switch (s) { case v: A ... default: D }` | `s`, then per case `Dup`, `Push v`, `Bin(Eq)`, `JumpIfFalse(next)`, `Pop`, `Jump(body)`; then `Pop`, `Jump(default body, or the end)`; then the bodies in source order (falling through) |
//! | `break;` in a `switch`/`while` | `Jump(end of it)` |
//! | `break;` elsewhere | `Exit` (SER 0.8/0.9), `ReturnDefault` (SER 2.x, Kamailio) |
//! | `drop;` / `exit;` | `Drop` / `Exit` (an argument with side effects is evaluated and popped first) |
//! | `return;` / `return e;` | `ReturnDefault` / `e`, `Return` |
//! | end of a route | `ReturnDefault` |
//! | `a && b` / `a \|\| b` | `a`, `JumpIfFalseKeep(L)` / `JumpIfTrueKeep(L)`, `b`, `L:` |
//! | `x == myself` / `myself == x` | `x`, `Myself` (`!=`: then `Not`) |
//! | `x =~ "re"` / `x !~ "re"` | `x`, `Match(re)` / `NotMatch(re)` |
//! | `a op b` | `a`, `b`, `Bin(op)` |
//! | `!a` / `-a` | `a`, `Not` / `Neg` (`-5` is folded to `PushInt(-5)`) |
//! | `f(...)` in an expression | `Call(f)` (its code stays on the stack) |
//! | `route(R)` in an expression | `Route(R)` |
//! | `$x`, `uri`, `@a.b` | `Load(x)` |
//! | a number / string, word, host, IP | `PushInt` / `PushStr` (its text; an IP with its mask, `10.0.0.0/8`) |
//!
//! Integer constant expressions (numbers with `+`, `-`, `*` and unary `-`)
//! are folded to one `PushInt` when they do not overflow. Every route ends with `ReturnDefault`, so every jump target is
//! an op of the route. [`Route::lines`] gives each op the line of the
//! statement or expression it came from.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::ast::{
    AssignOp, Avp, BinaryOp, Block, Call, CaseLabel, Expr, ExprKind, Item, ItemKind,
    KAMAILIO_PV_NAMES, Keyword, Pv, RetCodeForm, RouteBlock, RouteKind, RouteName, Select,
    SelectForm, SelectIndex, SelectSegment, Stmt, StmtKind, UnaryOp, Value, ValueKind, Var,
};
use crate::catalog::{self, ArgKind, FnSig, ModuleSig};
use crate::dialect::{BreakMeaning, Dialect, DialectSource};
use crate::ir::{
    Arg, CallId, CallSite, CfgVarDef, ConstValue, Format, FormatId, FormatPart, Global, ModuleUse,
    Op, Program, RegexDef, RegexId, Route, RouteId, StrId, VarDef, VarId,
};
use crate::source::Span;
use crate::{Diagnostic, Script};

/// Module name of a call the catalogue cannot resolve.
pub const UNKNOWN_MODULE: &str = "unknown";

/// Deepest nesting of statements and expressions the compiler follows (the
/// parser's limits keep real scripts far below it).
const MAX_DEPTH: usize = 512;

/// At most this many diagnostics are reported.
const MAX_DIAGNOSTICS: usize = 100;

/// Highest script flag bit SER's `register_flag` hands out (`flag_t` is 32
/// bits).
const MAX_FLAG: u32 = 31;

/// Compiles a parsed script.
///
/// Errors are what cannot be represented in a [`Program`]: an argument that
/// is an expression, a malformed format string, a `modparam` for a module
/// that is not loaded, a bad flag declaration. Everything else (unknown
/// functions, wrong argument kinds, undefined routes) compiles, and is the
/// checker's to report.
pub fn compile(script: &Script) -> Result<Program, Vec<Diagnostic>> {
    compile_with(script, resolve)
}

/// How calls are resolved (unit tests use their own table).
type Resolver = fn(&[&'static ModuleSig], &str, Dialect) -> Option<(&'static str, &'static FnSig)>;

/// The catalogue's resolution for the dialect; a function the dialect does
/// not have but a loaded module does is still taken (the checker reports
/// it), as its signature is the best guess for typing the arguments.
fn resolve(
    loaded: &[&'static ModuleSig],
    name: &str,
    dialect: Dialect,
) -> Option<(&'static str, &'static FnSig)> {
    match catalog::resolve_function_in(loaded, name, dialect) {
        catalog::Resolution::Found(m, f) | catalog::Resolution::NotInDialect(m, f) => Some((m, f)),
        catalog::Resolution::NotLoaded(_) | catalog::Resolution::Unknown => {
            catalog::resolve_function(loaded, name)
        }
    }
}

fn compile_with(script: &Script, resolve: Resolver) -> Result<Program, Vec<Diagnostic>> {
    let mut c = Compiler::new(script, resolve);
    c.items();
    c.routes();
    if c.diags.is_empty() {
        Ok(c.p)
    } else {
        Err(c.diags)
    }
}

/// What `break` leaves, with the jumps to patch to its end.
struct Breakable {
    breaks: Vec<usize>,
}

/// The code of the route being compiled.
#[derive(Default)]
struct Code {
    ops: Vec<Op>,
    lines: Vec<u32>,
    breakables: Vec<Breakable>,
    depth: usize,
}

impl Code {
    fn emit(&mut self, op: Op, line: u32) -> usize {
        self.ops.push(op);
        self.lines.push(line);
        self.ops.len() - 1
    }

    fn here(&self) -> u32 {
        u32::try_from(self.ops.len()).unwrap_or(u32::MAX)
    }

    /// Points the jump at `at` to `target`.
    fn patch(&mut self, at: usize, target: u32) {
        if let Some(op) = self.ops.get_mut(at) {
            *op = match *op {
                Op::Jump(_) => Op::Jump(target),
                Op::JumpIfFalse(_) => Op::JumpIfFalse(target),
                Op::JumpIfFalseKeep(_) => Op::JumpIfFalseKeep(target),
                Op::JumpIfTrueKeep(_) => Op::JumpIfTrueKeep(target),
                other => other,
            };
        }
    }

    /// Points the jump at `at` to the next op.
    fn patch_here(&mut self, at: usize) {
        let h = self.here();
        self.patch(at, h);
    }
}

struct Compiler<'s> {
    script: &'s Script,
    dialect: Dialect,
    p: Program,
    str_ids: HashMap<String, StrId>,
    regex_ids: HashMap<(StrId, bool), RegexId>,
    header_ids: HashMap<StrId, u32>,
    var_ids: HashMap<String, VarId>,
    format_ids: HashMap<String, FormatId>,
    /// Declared flags by name.
    flags: HashMap<String, u32>,
    /// Index in [`Program::modules`] by name.
    module_ids: HashMap<StrId, usize>,
    avpflag_ids: HashSet<StrId>,
    /// Routes by kind and name (the first block of a name wins).
    route_ids: HashMap<(RouteKind, RouteKey), RouteId>,
    loaded: Vec<&'static ModuleSig>,
    resolve: Resolver,
    diags: Vec<Diagnostic>,
}

fn id32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'s> Compiler<'s> {
    fn new(script: &'s Script, resolve: Resolver) -> Compiler<'s> {
        let reason = match script.dialect_source {
            DialectSource::Default => {
                "the default: no marker, no dialect-specific construct".to_string()
            }
            _ => script.dialect_reason.clone(),
        };
        Compiler {
            script,
            dialect: script.dialect,
            p: Program {
                dialect: script.dialect,
                dialect_reason: reason,
                ..Program::default()
            },
            str_ids: HashMap::new(),
            regex_ids: HashMap::new(),
            header_ids: HashMap::new(),
            var_ids: HashMap::new(),
            format_ids: HashMap::new(),
            flags: HashMap::new(),
            module_ids: HashMap::new(),
            avpflag_ids: HashSet::new(),
            route_ids: HashMap::new(),
            loaded: Vec::new(),
            resolve,
            diags: Vec::new(),
        }
    }

    fn error(&mut self, span: Span, msg: impl Into<String>) {
        if self.diags.len() < MAX_DIAGNOSTICS {
            let d = self.script.diagnostic(span, msg);
            self.diags.push(d);
        }
    }

    // ----- pools ---------------------------------------------------------

    fn s(&mut self, text: &str) -> StrId {
        if let Some(&id) = self.str_ids.get(text) {
            return id;
        }
        let id = id32(self.p.strings.len());
        self.p.strings.push(text.to_string());
        self.str_ids.insert(text.to_string(), id);
        id
    }

    fn regex(&mut self, source: &str) -> RegexId {
        let sid = self.s(source);
        let icase = true;
        if let Some(&id) = self.regex_ids.get(&(sid, icase)) {
            return id;
        }
        let id = id32(self.p.regexes.len());
        self.p.regexes.push(RegexDef { source: sid, icase });
        self.regex_ids.insert((sid, icase), id);
        id
    }

    fn header(&mut self, name: &str) -> u32 {
        let sid = self.s(name);
        if let Some(&id) = self.header_ids.get(&sid) {
            return id;
        }
        let id = id32(self.p.headers.len());
        self.p.headers.push(sid);
        self.header_ids.insert(sid, id);
        id
    }

    fn var_id(&mut self, def: VarDef) -> VarId {
        let key = format!("{def:?}");
        if let Some(&id) = self.var_ids.get(&key) {
            return id;
        }
        let id = id32(self.p.vars.len());
        self.p.vars.push(def);
        self.var_ids.insert(key, id);
        id
    }

    fn format_id(&mut self, f: Format) -> FormatId {
        let key = format!("{f:?}");
        if let Some(&id) = self.format_ids.get(&key) {
            return id;
        }
        let id = id32(self.p.formats.len());
        self.p.formats.push(f);
        self.format_ids.insert(key, id);
        id
    }

    fn path_id(&mut self, span: Span) -> StrId {
        let path = self.script.path(span.file).display().to_string();
        self.s(&path)
    }

    // ----- variables -----------------------------------------------------

    /// The table entry of a script variable.
    fn var(&mut self, v: &Var) -> Result<VarId, String> {
        let def = match v {
            Var::RetCode(_) => VarDef::RetCode,
            Var::Pv(pv) => self.pv_def(&pv.name, pv.arg.as_deref(), pv.index.as_deref()),
            Var::Avp(a) => self.avp_def(a),
            Var::Select(sel) => self.select_def(sel),
            Var::Transform(raw) => return self.transform(raw),
        };
        Ok(self.var_id(def))
    }

    fn pv_def(&mut self, name: &str, arg: Option<&str>, index: Option<&str>) -> VarDef {
        if name == "hdr"
            && let Some(h) = arg
        {
            self.header(h);
        }
        VarDef::Pv {
            name: self.s(name),
            arg: arg.map(|a| self.s(a)),
            index: index.map(|i| self.s(i)),
        }
    }

    fn avp_def(&mut self, a: &Avp) -> VarDef {
        VarDef::Avp {
            track: a.track,
            name: self.s(&a.name),
            index: a.index.as_deref().map(|i| self.s(i)),
        }
    }

    fn select_def(&mut self, sel: &Select) -> VarDef {
        let path = sel
            .segments
            .iter()
            .map(|seg| {
                let text = match &seg.index {
                    None => seg.name.clone(),
                    Some(SelectIndex::Int(n)) => format!("{}[{n}]", seg.name),
                    Some(SelectIndex::Str(s)) => format!("{}[{s:?}]", seg.name),
                };
                self.s(&text)
            })
            .collect();
        VarDef::Select { path }
    }

    /// `$(...)`: a pseudo-variable in its bracketed form. Transformations
    /// are not supported yet.
    fn transform(&mut self, raw: &str) -> Result<VarId, String> {
        let (var, used) = bracketed_pv(raw).ok_or_else(|| format!("malformed `$({raw})`"))?;
        if used != raw.len() {
            return Err(format!(
                "transformations (`$({raw})`) are not supported yet"
            ));
        }
        self.var(&var)
    }

    fn keyword(&mut self, k: Keyword) -> VarId {
        self.var_id(VarDef::Keyword(k))
    }

    // ----- module-level items ---------------------------------------------

    fn const_value(&mut self, v: &Value) -> ConstValue {
        match &v.kind {
            ValueKind::Int(n) => ConstValue::Int(*n),
            ValueKind::Bool(b) => ConstValue::Bool(*b),
            ValueKind::Str(s) | ValueKind::Ident(s) => ConstValue::Str(self.s(s)),
            ValueKind::Addr(a) => ConstValue::Str(self.s(&a.to_string())),
            ValueKind::List(vs) => {
                let text = vs.iter().map(value_text).collect::<Vec<_>>().join(" ");
                ConstValue::Str(self.s(&text))
            }
        }
    }

    fn items(&mut self) {
        let script: &'s Script = self.script;
        let items: &'s [Item] = &script.items;
        // Modules first: a modparam may come before its loadmodule.
        for item in items {
            if let ItemKind::LoadModule(m) = &item.kind {
                let sig = catalog::module_for_path(&m.path);
                let name = match sig {
                    Some(sig) => sig.name.to_string(),
                    None => module_file_name(&m.path).to_string(),
                };
                if let Some(sig) = sig
                    && !self.loaded.iter().any(|l| l.name == sig.name)
                {
                    self.loaded.push(sig);
                }
                let name_id = self.s(&name);
                if self.module_ids.contains_key(&name_id) {
                    continue;
                }
                self.module_ids.insert(name_id, self.p.modules.len());
                let path = self.s(&m.path);
                self.p.modules.push(ModuleUse {
                    name: name_id,
                    path,
                    params: Vec::new(),
                });
            }
        }
        let mut next_free_flag = 0u32;
        let mut used_flags = [false; MAX_FLAG as usize + 1];
        for item in items {
            match &item.kind {
                ItemKind::Param(p) => {
                    let name = self.s(&p.name.name);
                    match &p.value.kind {
                        ValueKind::List(vs) => {
                            for v in vs {
                                let value = self.const_value(v);
                                self.p.globals.push(Global { name, value });
                            }
                        }
                        _ => {
                            let value = self.const_value(&p.value);
                            self.p.globals.push(Global { name, value });
                        }
                    }
                }
                ItemKind::CfgVar(v) => {
                    let group = self.s(&v.group.name);
                    let name = self.s(&v.id.name);
                    let value = self.const_value(&v.value);
                    let desc = v.desc.as_deref().map(|d| self.s(d));
                    self.p.cfg_vars.push(CfgVarDef {
                        group,
                        name,
                        value,
                        desc,
                    });
                }
                ItemKind::ModParam(mp) => {
                    let param = self.s(&mp.param.name);
                    let value = self.const_value(&mp.value);
                    for m in mp.modules() {
                        let canonical = catalog::module(m).map_or(m, |sig| sig.name);
                        let found = self
                            .str_ids
                            .get(canonical)
                            .and_then(|id| self.module_ids.get(id))
                            .and_then(|&i| self.p.modules.get_mut(i));
                        match found {
                            Some(u) => u.params.push((param, value.clone())),
                            None => self.error(
                                mp.module_span,
                                format!(
                                    "modparam for module `{m}`, which is not loaded \
                                     (add `loadmodule` for it)"
                                ),
                            ),
                        }
                    }
                }
                ItemKind::Flags(decls) => {
                    for d in decls {
                        if self.flags.contains_key(&d.name.name) {
                            self.error(
                                d.name.span,
                                format!("flag `{}` is declared twice", d.name.name),
                            );
                            continue;
                        }
                        let bit = match d.number {
                            Some(n) => match u32::try_from(n) {
                                Ok(b) if b <= MAX_FLAG => b,
                                _ => {
                                    self.error(
                                        d.name.span,
                                        format!(
                                            "flag `{}`: {n} is not a flag number \
                                             (0-{MAX_FLAG})",
                                            d.name.name
                                        ),
                                    );
                                    continue;
                                }
                            },
                            None => {
                                // SER's register_flag: the first free bit from
                                // where the last search stopped, wrapping.
                                let found = (0..=MAX_FLAG)
                                    .map(|i| (next_free_flag + i) % (MAX_FLAG + 1))
                                    .find(|&b| used_flags.get(b as usize) == Some(&false));
                                match found {
                                    Some(b) => {
                                        next_free_flag = b;
                                        b
                                    }
                                    None => {
                                        self.error(
                                            d.name.span,
                                            format!("no free flag bit left for `{}`", d.name.name),
                                        );
                                        continue;
                                    }
                                }
                            }
                        };
                        if let Some(u) = used_flags.get_mut(bit as usize) {
                            *u = true;
                        }
                        self.flags.insert(d.name.name.clone(), bit);
                        let name = self.s(&d.name.name);
                        self.p.flags.push((name, bit));
                    }
                }
                ItemKind::AvpFlags(names) => {
                    for n in names {
                        let name = self.s(&n.name);
                        if !self.avpflag_ids.insert(name) {
                            continue;
                        }
                        let bit = id32(self.p.avpflags.len());
                        self.p.avpflags.push((name, bit));
                    }
                }
                ItemKind::LoadModule(_) | ItemKind::LoadPath(_) | ItemKind::Route(_) => {}
            }
        }
    }

    // ----- routes ----------------------------------------------------------

    fn routes(&mut self) {
        let blocks: Vec<(&'s RouteBlock, Span)> = self
            .script
            .items
            .iter()
            .filter_map(|i| match &i.kind {
                ItemKind::Route(r) => Some((r, i.span)),
                _ => None,
            })
            .collect();
        for (r, span) in &blocks {
            let file = self.path_id(*span);
            let id = id32(self.p.routes.len());
            let name = r.name.as_ref().map(|n| n.name.clone());
            if r.kind == RouteKind::Request
                && self.p.main_route.is_none()
                && name.as_ref().is_none_or(RouteName::is_main)
            {
                self.p.main_route = Some(id);
            }
            if let Some(n) = &name {
                self.route_ids.entry((r.kind, route_key(n))).or_insert(id);
            }
            self.p.routes.push(Route {
                kind: r.kind,
                name,
                code: Vec::new(),
                lines: Vec::new(),
                file,
            });
        }
        for (i, (r, span)) in blocks.iter().enumerate() {
            let mut code = Code::default();
            self.block(&mut code, &r.body);
            code.emit(Op::ReturnDefault, span.line);
            if code.ops.len() >= u32::MAX as usize {
                self.error(*span, "route is too large to compile");
            }
            if let Some(route) = self.p.routes.get_mut(i) {
                route.code = code.ops;
                route.lines = code.lines;
            }
        }
    }

    /// The route a reference names; an empty one is added when the script
    /// does not define it.
    fn route_ref(&mut self, kind: RouteKind, name: &RouteName, span: Span) -> RouteId {
        if kind == RouteKind::Request
            && name.is_main()
            && let Some(m) = self.p.main_route
        {
            return m;
        }
        let key = (kind, route_key(name));
        if let Some(&id) = self.route_ids.get(&key) {
            return id;
        }
        let file = self.path_id(span);
        let id = id32(self.p.routes.len());
        self.route_ids.insert(key, id);
        self.p.routes.push(Route {
            kind,
            name: Some(name.clone()),
            code: vec![Op::ReturnDefault],
            lines: vec![span.line],
            file,
        });
        if kind == RouteKind::Request && name.is_main() {
            self.p.main_route = Some(id);
        }
        id
    }

    // ----- statements --------------------------------------------------------

    fn block(&mut self, code: &mut Code, b: &Block) {
        for s in &b.stmts {
            self.stmt(code, s);
        }
    }

    fn stmt(&mut self, code: &mut Code, s: &Stmt) {
        code.depth += 1;
        if code.depth > MAX_DEPTH {
            self.error(s.span, "statements are nested too deeply to compile");
        } else {
            self.stmt_inner(code, s);
        }
        code.depth -= 1;
    }

    fn stmt_inner(&mut self, code: &mut Code, s: &Stmt) {
        let line = s.span.line;
        match &s.kind {
            StmtKind::Call(c) => {
                self.call_expr(code, c, s.span);
                code.emit(Op::Pop, line);
            }
            StmtKind::Route(r) => {
                let id = self.route_ref(RouteKind::Request, &r.name, r.span);
                code.emit(Op::Route(id), line);
                code.emit(Op::Pop, line);
            }
            StmtKind::Assign(a) => {
                self.expr(code, &a.value);
                match self.var(&a.target) {
                    Ok(v) => {
                        let op = match a.op {
                            AssignOp::Set => Op::Store(v),
                            AssignOp::SetAll => Op::StoreAll(v),
                        };
                        code.emit(op, line);
                    }
                    Err(m) => self.error(a.target_span, m),
                }
            }
            StmtKind::If(i) => {
                let mut to_end = Vec::new();
                let n = i.arms.len();
                for (k, arm) in i.arms.iter().enumerate() {
                    self.expr(code, &arm.cond);
                    let skip = code.emit(Op::JumpIfFalse(0), arm.span.line);
                    self.block(code, &arm.body);
                    let last = k + 1 == n && i.else_block.is_none();
                    if !last {
                        to_end.push(code.emit(Op::Jump(0), arm.span.line));
                    }
                    code.patch_here(skip);
                }
                if let Some(e) = &i.else_block {
                    self.block(code, e);
                }
                for j in to_end {
                    code.patch_here(j);
                }
            }
            StmtKind::Switch(sw) => {
                self.expr(code, &sw.subject);
                // Dispatch: one test per labelled case, in order.
                let mut to_body: Vec<(usize, usize)> = Vec::new();
                for (k, case) in sw.cases.iter().enumerate() {
                    let Some(label) = &case.label else { continue };
                    let l = case.span.line;
                    code.emit(Op::Dup, l);
                    match label {
                        CaseLabel::Int(n) => code.emit(Op::PushInt(*n), l),
                        CaseLabel::Str(t) => {
                            let id = self.s(t);
                            code.emit(Op::PushStr(id), l)
                        }
                    };
                    code.emit(Op::Bin(BinaryOp::Eq), l);
                    let next = code.emit(Op::JumpIfFalse(0), l);
                    code.emit(Op::Pop, l);
                    to_body.push((code.emit(Op::Jump(0), l), k));
                    code.patch_here(next);
                }
                code.emit(Op::Pop, line);
                let no_match = code.emit(Op::Jump(0), line);
                let default = sw.cases.iter().position(|c| c.label.is_none());
                code.breakables.push(Breakable { breaks: Vec::new() });
                let mut starts = Vec::with_capacity(sw.cases.len());
                for case in &sw.cases {
                    starts.push(code.here());
                    for st in &case.body {
                        self.stmt(code, st);
                    }
                }
                let end = code.here();
                for (jump, k) in to_body {
                    let target = starts.get(k).copied().unwrap_or(end);
                    code.patch(jump, target);
                }
                let target = default.and_then(|k| starts.get(k).copied()).unwrap_or(end);
                code.patch(no_match, target);
                if let Some(b) = code.breakables.pop() {
                    for j in b.breaks {
                        code.patch(j, end);
                    }
                }
            }
            StmtKind::While(w) => {
                let top = code.here();
                self.expr(code, &w.cond);
                let exit = code.emit(Op::JumpIfFalse(0), line);
                code.breakables.push(Breakable { breaks: Vec::new() });
                self.block(code, &w.body);
                code.emit(Op::Jump(top), line);
                let end = code.here();
                code.patch(exit, end);
                if let Some(b) = code.breakables.pop() {
                    for j in b.breaks {
                        code.patch(j, end);
                    }
                }
            }
            StmtKind::Block(b) => self.block(code, b),
            StmtKind::Break => {
                if code.breakables.is_empty() {
                    let op = match self.dialect.break_meaning() {
                        BreakMeaning::StopScript => Op::Exit,
                        BreakMeaning::LeaveRoute => Op::ReturnDefault,
                    };
                    code.emit(op, line);
                } else {
                    let j = code.emit(Op::Jump(0), line);
                    if let Some(b) = code.breakables.last_mut() {
                        b.breaks.push(j);
                    }
                }
            }
            StmtKind::Drop(e) | StmtKind::Exit(e) => {
                if let Some(e) = e
                    && has_effects(e)
                {
                    self.expr(code, e);
                    code.emit(Op::Pop, line);
                }
                let op = if matches!(s.kind, StmtKind::Drop(_)) {
                    Op::Drop
                } else {
                    Op::Exit
                };
                code.emit(op, line);
            }
            StmtKind::Return(None) => {
                code.emit(Op::ReturnDefault, line);
            }
            StmtKind::Return(Some(e)) => {
                self.expr(code, e);
                code.emit(Op::Return, line);
            }
        }
    }

    // ----- expressions --------------------------------------------------------

    /// Emits code that pushes exactly one value.
    fn expr(&mut self, code: &mut Code, e: &Expr) {
        code.depth += 1;
        if code.depth > MAX_DEPTH {
            self.error(e.span, "expression is nested too deeply to compile");
            code.emit(Op::PushNull, e.span.line);
        } else {
            self.expr_inner(code, e);
        }
        code.depth -= 1;
    }

    fn expr_inner(&mut self, code: &mut Code, e: &Expr) {
        let line = e.span.line;
        if matches!(e.kind, ExprKind::Unary { .. } | ExprKind::Binary { .. })
            && let Some(n) = const_int(e, 0)
        {
            code.emit(Op::PushInt(n), line);
            return;
        }
        match &e.kind {
            ExprKind::Int(n) => {
                code.emit(Op::PushInt(*n), line);
            }
            ExprKind::Str(s) | ExprKind::Ident(s) | ExprKind::Host(s) => {
                let id = self.s(s);
                code.emit(Op::PushStr(id), line);
            }
            ExprKind::Ip { addr, mask } => {
                let id = self.s(&ip_text(addr, *mask));
                code.emit(Op::PushStr(id), line);
            }
            ExprKind::Keyword(k) => {
                let v = self.keyword(*k);
                code.emit(Op::Load(v), line);
            }
            ExprKind::Var(v) => match self.var(v) {
                Ok(id) => {
                    code.emit(Op::Load(id), line);
                }
                Err(m) => {
                    self.error(e.span, m);
                    code.emit(Op::PushNull, line);
                }
            },
            ExprKind::Call(c) => self.call_expr(code, c, e.span),
            ExprKind::Unary { op, operand } => match (op, &operand.kind) {
                (UnaryOp::Neg, _) => {
                    self.expr(code, operand);
                    code.emit(Op::Neg, line);
                }
                (UnaryOp::Not, _) => {
                    self.expr(code, operand);
                    code.emit(Op::Not, line);
                }
            },
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => self.binary(code, *op, op_span.line, lhs, rhs),
        }
    }

    fn binary(&mut self, code: &mut Code, op: BinaryOp, line: u32, lhs: &Expr, rhs: &Expr) {
        let is_myself = |e: &Expr| matches!(e.kind, ExprKind::Keyword(Keyword::Myself));
        match op {
            BinaryOp::And | BinaryOp::Or => {
                self.expr(code, lhs);
                let j = if op == BinaryOp::And {
                    code.emit(Op::JumpIfFalseKeep(0), line)
                } else {
                    code.emit(Op::JumpIfTrueKeep(0), line)
                };
                self.expr(code, rhs);
                code.patch_here(j);
            }
            BinaryOp::Eq | BinaryOp::Ne if is_myself(rhs) || is_myself(lhs) => {
                let other = if is_myself(rhs) { lhs } else { rhs };
                self.expr(code, other);
                code.emit(Op::Myself, line);
                if op == BinaryOp::Ne {
                    code.emit(Op::Not, line);
                }
            }
            // `proto == UDP`, `af == INET6`: the VM reads these keywords in
            // lower case (`udp`, `inet6`), so the word is written that way.
            BinaryOp::Eq | BinaryOp::Ne if let Some((kw, word)) = proto_or_af_word(lhs, rhs) => {
                self.expr(code, kw);
                let id = self.s(&word.to_ascii_lowercase());
                code.emit(Op::PushStr(id), line);
                code.emit(Op::Bin(op), line);
            }
            BinaryOp::Match | BinaryOp::NotMatch if matches!(rhs.kind, ExprKind::Str(_)) => {
                self.expr(code, lhs);
                if let ExprKind::Str(re) = &rhs.kind {
                    let id = self.regex(re);
                    let m = if op == BinaryOp::Match {
                        Op::Match(id)
                    } else {
                        Op::NotMatch(id)
                    };
                    code.emit(m, line);
                }
            }
            _ => {
                self.expr(code, lhs);
                self.expr(code, rhs);
                code.emit(Op::Bin(op), line);
            }
        }
    }

    // ----- calls -----------------------------------------------------------------

    /// Emits a call (or `route(X)` used as a value); pushes its code.
    fn call_expr(&mut self, code: &mut Code, c: &Call, span: Span) {
        let line = span.line;
        if c.name.name == "route"
            && let [arg] = c.args.as_slice()
            && let Some(name) = route_name_of(arg)
        {
            let id = self.route_ref(RouteKind::Request, &name, arg.span);
            code.emit(Op::Route(id), line);
            return;
        }
        let id = self.call_site(c);
        code.emit(Op::Call(id), line);
    }

    fn call_site(&mut self, c: &Call) -> CallId {
        let fname = c.name.name.as_str();
        let resolved = (self.resolve)(&self.loaded, fname, self.dialect);
        let (module, name, kinds): (&str, &str, Option<&'static [ArgKind]>) = match resolved {
            Some((m, sig)) => (
                m,
                catalog::canonical_function(m, sig.name),
                arity(sig, c.args.len()),
            ),
            None => (UNKNOWN_MODULE, fname, None),
        };
        let route_kind = match name {
            // SER 0.8's name for t_on_failure.
            "t_on_negative" => RouteKind::Failure,
            _ => catalog::route_arg_kind(name),
        };
        let mut args = Vec::with_capacity(c.args.len());
        for (i, a) in c.args.iter().enumerate() {
            let kind = kinds
                .and_then(|k| k.get(i))
                .copied()
                .unwrap_or(ArgKind::Any);
            match self.arg(kind, a, route_kind) {
                Ok(arg) => args.push(arg),
                Err(m) => {
                    self.error(a.span, format!("argument {} of `{fname}`: {m}", i + 1));
                    args.push(Arg::Int(0));
                }
            }
        }
        let site = CallSite {
            module: self.s(module),
            name: self.s(name),
            args,
        };
        let id = id32(self.p.calls.len());
        self.p.calls.push(site);
        id
    }

    /// Types one argument.
    fn arg(&mut self, kind: ArgKind, e: &Expr, route_kind: RouteKind) -> Result<Arg, String> {
        let text = const_text(e);
        match (kind, &e.kind) {
            (ArgKind::Int, _) => {
                if let Some(n) = text.as_deref().and_then(parse_int) {
                    return Ok(Arg::Int(n));
                }
                if let ExprKind::Str(s) = &e.kind
                    && let Some(v) = self.var_text(s)?
                {
                    return Ok(Arg::Var(v));
                }
            }
            (ArgKind::Flag, _) => {
                if let Some(t) = &text {
                    if let Some(n) = parse_int(t) {
                        // A program holds flag bits 0-63 (the checker
                        // narrows this to SER's 0-31).
                        return match u32::try_from(n) {
                            Ok(b) if b <= 63 => Ok(Arg::Flag(b)),
                            _ => Err(format!("flag {n} is out of range (0-63)")),
                        };
                    } else if let Some(&b) = self.flags.get(t.as_str()) {
                        return Ok(Arg::Flag(b));
                    }
                }
                if let ExprKind::Str(s) = &e.kind
                    && let Some(v) = self.var_text(s)?
                {
                    return Ok(Arg::Var(v));
                }
            }
            (ArgKind::Route, _) => {
                if let Some(name) = route_name_of(e) {
                    return Ok(Arg::Route(self.route_ref(route_kind, &name, e.span)));
                }
            }
            (ArgKind::Regex, _) => {
                if let Some(t) = &text {
                    return Ok(Arg::Regex(self.regex(t)));
                }
            }
            (ArgKind::Format, ExprKind::Str(s)) => {
                let f = self.format(s)?;
                return Ok(Arg::Format(self.format_id(f)));
            }
            (ArgKind::Header, ExprKind::Str(s) | ExprKind::Ident(s) | ExprKind::Host(s)) => {
                return Ok(Arg::Header(self.header(s)));
            }
            (ArgKind::Var, ExprKind::Str(s)) => {
                if let Some(v) = self.var_text(s)? {
                    return Ok(Arg::Var(v));
                }
            }
            _ => {}
        }
        self.arg_by_form(e)
    }

    /// Types an argument by how it is written.
    fn arg_by_form(&mut self, e: &Expr) -> Result<Arg, String> {
        match &e.kind {
            ExprKind::Int(n) => Ok(Arg::Int(*n)),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } if matches!(operand.kind, ExprKind::Int(_)) => match operand.kind {
                ExprKind::Int(n) => Ok(Arg::Int(n.wrapping_neg())),
                _ => Err("not a constant".into()),
            },
            ExprKind::Str(s) | ExprKind::Ident(s) | ExprKind::Host(s) => Ok(Arg::Str(self.s(s))),
            ExprKind::Ip { addr, mask } => Ok(Arg::Str(self.s(&ip_text(addr, *mask)))),
            ExprKind::Keyword(k) => Ok(Arg::Var(self.keyword(*k))),
            ExprKind::Var(v) => Ok(Arg::Var(self.var(v)?)),
            ExprKind::Call(_) | ExprKind::Unary { .. } | ExprKind::Binary { .. } => {
                Err("an expression cannot be a function argument; \
                     write a constant or a variable"
                    .into())
            }
        }
    }

    /// A variable written as a string (`"$avp(i:80)"`, `"$fd"`,
    /// `"@to.tag"`): `None` when the string is not one variable.
    fn var_text(&mut self, s: &str) -> Result<Option<VarId>, String> {
        let b = s.as_bytes();
        let parsed = match b.first() {
            Some(b'$') => scan_script_var(s, 0),
            Some(b'@') => scan_select(s, 1).map(|(sel, end)| (Var::Select(sel), end)),
            _ => None,
        };
        match parsed {
            Some((v, end)) if end == s.len() => Ok(Some(self.var(&v)?)),
            _ => Ok(None),
        }
    }

    // ----- format strings --------------------------------------------------------

    fn format(&mut self, s: &str) -> Result<Format, String> {
        let mut parts: Vec<FormatPart> = Vec::new();
        let mut lit = String::new();
        let b = s.as_bytes();
        let mut i = 0;
        let kamailio = self.dialect == Dialect::Kamailio;
        let marker = if kamailio { b'$' } else { b'%' };
        while i < b.len() {
            let Some(next) = b
                .get(i..)
                .and_then(|rest| rest.iter().position(|&c| c == marker))
                .map(|p| i + p)
            else {
                lit.push_str(s.get(i..).unwrap_or(""));
                break;
            };
            lit.push_str(s.get(i..next).unwrap_or(""));
            let (var, end) = if kamailio {
                match self.kamailio_spec(s, next)? {
                    Spec::Text(t, end) => {
                        lit.push_str(t);
                        i = end;
                        continue;
                    }
                    Spec::Var(v, end) => (v, end),
                }
            } else {
                match self.xl_spec(s, next)? {
                    Spec::Text(t, end) => {
                        lit.push_str(t);
                        i = end;
                        continue;
                    }
                    Spec::Var(v, end) => (v, end),
                }
            };
            if !lit.is_empty() {
                parts.push(FormatPart::Lit(self.s(&lit)));
                lit.clear();
            }
            parts.push(FormatPart::Var(var));
            i = end;
        }
        if !lit.is_empty() {
            parts.push(FormatPart::Lit(self.s(&lit)));
        }
        Ok(Format { parts })
    }

    /// A Kamailio `$...` at byte `at` of `s`.
    fn kamailio_spec(&mut self, s: &str, at: usize) -> Result<Spec, String> {
        let b = s.as_bytes();
        match b.get(at + 1) {
            Some(b'$') => Ok(Spec::Text("$", at + 2)),
            Some(b'(') => {
                let (inner, end) = balanced(s, at + 1, b'(', b')')
                    .ok_or_else(|| format!("unterminated `$(` in format string {s:?}"))?;
                let v = self.transform(inner)?;
                Ok(Spec::Var(v, end))
            }
            Some(&c) if is_name_char(c) => {
                let name_end = ident_end(b, at + 1);
                let name = s.get(at + 1..name_end).unwrap_or("");
                let (arg, end) = if b.get(name_end) == Some(&b'(') {
                    let (inner, end) = balanced(s, name_end, b'(', b')')
                        .ok_or_else(|| format!("unterminated `${name}(` in format string {s:?}"))?;
                    (Some(inner), end)
                } else {
                    (None, name_end)
                };
                let var = pv_var(name, arg, None);
                Ok(Spec::Var(self.var(&var)?, end))
            }
            _ => Ok(Spec::Text("$", at + 1)),
        }
    }

    /// A SER xl `%...` at byte `at` of `s`.
    fn xl_spec(&mut self, s: &str, at: usize) -> Result<Spec, String> {
        let b = s.as_bytes();
        match b.get(at + 1) {
            Some(b'%') => Ok(Spec::Text("%", at + 2)),
            Some(b'$') => match scan_script_var(s, at + 1) {
                Some((v, end)) => Ok(Spec::Var(self.var(&v)?, end)),
                None => Err(format!(
                    "expected an AVP name after `%$` in format string {s:?}"
                )),
            },
            Some(b'@') => match scan_select(s, at + 2) {
                Some((sel, end)) => Ok(Spec::Var(self.var(&Var::Select(sel))?, end)),
                None => Err(format!(
                    "expected a select after `%@` in format string {s:?}"
                )),
            },
            Some(b'{') => {
                let (inner, end) = balanced(s, at + 1, b'{', b'}')
                    .ok_or_else(|| format!("unterminated `%{{` in format string {s:?}"))?;
                let (name, index) = match inner.find('[') {
                    Some(p) => {
                        let idx = inner
                            .get(p + 1..)
                            .and_then(|r| r.strip_suffix(']'))
                            .ok_or_else(|| format!("bad header index in `%{{{inner}}}`"))?;
                        (inner.get(..p).unwrap_or(""), Some(idx))
                    }
                    None => (inner, None),
                };
                if !name.bytes().next().is_some_and(|c| c.is_ascii_alphabetic()) {
                    return Err(format!("expected a header name in `%{{{inner}}}`"));
                }
                let def = self.pv_def("hdr", Some(name), index);
                Ok(Spec::Var(self.var_id(def), end))
            }
            Some(_) => {
                // Two-letter specifiers. As SER's parser: a first letter
                // that starts a known specifier takes the next character
                // too; an unknown specifier prints `<null>`.
                let rest = s.get(at + 1..).unwrap_or("");
                let mut chars = rest.chars();
                let c1 = chars.next().unwrap_or('%');
                let c2 = chars.next();
                let mut end = at + 1 + c1.len_utf8();
                let name = match c2 {
                    Some(c2)
                        if matches!(c1, 'c' | 'f' | 'i' | 'm' | 'p' | 'r' | 't' | 'T' | 'u') =>
                    {
                        end += c2.len_utf8();
                        xl_name(c1, c2)
                    }
                    _ => None,
                };
                let def = self.pv_def(name.unwrap_or("null"), None, None);
                Ok(Spec::Var(self.var_id(def), end))
            }
            None => {
                let def = self.pv_def("null", None, None);
                Ok(Spec::Var(self.var_id(def), at + 1))
            }
        }
    }
}

/// A readable listing of a program's routes, one op per line with its
/// source line and its operands resolved (`Call tm.t_relay()`, `Load $ru`,
/// `Match /^sip:/i`), for debugging and for `ser -c` users who want to see
/// what their script compiled to.
pub fn disassemble(p: &Program) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (ri, r) in p.routes.iter().enumerate() {
        let name = match &r.name {
            Some(n) => format!("{}[{n}]", r.kind.keyword()),
            None => r.kind.keyword().to_string(),
        };
        let main = if p.main_route == Some(id32(ri)) {
            " (main)"
        } else {
            ""
        };
        let _ = writeln!(out, "route {ri}: {name}{main} in {}", p.str(r.file));
        for (i, op) in r.code.iter().enumerate() {
            let line = r.lines.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "  {i:4}  {line:5}  {}", op_text(p, op));
        }
    }
    out
}

fn var_text(p: &Program, id: VarId) -> String {
    let Some(v) = p.vars.get(id as usize) else {
        return format!("<var {id}>");
    };
    let idx = |i: &Option<StrId>| i.map(|i| format!("[{}]", p.str(i))).unwrap_or_default();
    match v {
        VarDef::Keyword(k) => k.spelling().to_string(),
        VarDef::RetCode => "$rc".to_string(),
        VarDef::Pv { name, arg, index } => match arg {
            Some(a) => format!("${}({}){}", p.str(*name), p.str(*a), idx(index)),
            None => format!("${}{}", p.str(*name), idx(index)),
        },
        VarDef::Avp { track, name, index } => match track {
            Some(t) => format!("${}.{}{}", t.prefix(), p.str(*name), idx(index)),
            None => format!("${}{}", p.str(*name), idx(index)),
        },
        VarDef::Select { path } => {
            let segs: Vec<&str> = path.iter().map(|s| p.str(*s)).collect();
            format!("@{}", segs.join("."))
        }
    }
}

fn arg_text(p: &Program, a: &Arg) -> String {
    match *a {
        Arg::Int(n) => n.to_string(),
        Arg::Str(s) => format!("{:?}", p.str(s)),
        Arg::Regex(r) => regex_text(p, r),
        Arg::Var(v) => var_text(p, v),
        Arg::Format(f) => {
            let mut t = String::from("f\"");
            for part in p.formats.get(f as usize).map_or(&[][..], |f| &f.parts[..]) {
                match *part {
                    FormatPart::Lit(s) => t.push_str(&p.str(s).escape_debug().to_string()),
                    FormatPart::Var(v) => {
                        t.push('{');
                        t.push_str(&var_text(p, v));
                        t.push('}');
                    }
                }
            }
            t.push('"');
            t
        }
        Arg::Route(r) => route_text(p, r),
        Arg::Flag(b) => format!("flag {b}"),
        Arg::Header(h) => format!(
            "header {:?}",
            p.str(p.headers.get(h as usize).copied().unwrap_or(u32::MAX))
        ),
    }
}

fn regex_text(p: &Program, r: RegexId) -> String {
    match p.regexes.get(r as usize) {
        Some(d) => format!("/{}/{}", p.str(d.source), if d.icase { "i" } else { "" }),
        None => format!("<regex {r}>"),
    }
}

fn route_text(p: &Program, r: RouteId) -> String {
    match p.routes.get(r as usize) {
        Some(route) => match &route.name {
            Some(n) => format!("{}[{n}]", route.kind.keyword()),
            None => route.kind.keyword().to_string(),
        },
        None => format!("<route {r}>"),
    }
}

fn op_text(p: &Program, op: &Op) -> String {
    match *op {
        Op::PushInt(n) => format!("PushInt {n}"),
        Op::PushStr(s) => format!("PushStr {:?}", p.str(s)),
        Op::Load(v) => format!("Load {}", var_text(p, v)),
        Op::Store(v) => format!("Store {}", var_text(p, v)),
        Op::StoreAll(v) => format!("StoreAll {}", var_text(p, v)),
        Op::Bin(b) => format!("Bin {}", b.symbol()),
        Op::Match(r) => format!("Match {}", regex_text(p, r)),
        Op::NotMatch(r) => format!("NotMatch {}", regex_text(p, r)),
        Op::Call(c) => match p.calls.get(c as usize) {
            Some(site) => {
                let args: Vec<String> = site.args.iter().map(|a| arg_text(p, a)).collect();
                format!(
                    "Call {}.{}({})",
                    p.str(site.module),
                    p.str(site.name),
                    args.join(", ")
                )
            }
            None => format!("Call <{c}>"),
        },
        Op::Route(r) => format!("Route {}", route_text(p, r)),
        Op::Jump(t) => format!("Jump {t}"),
        Op::JumpIfFalse(t) => format!("JumpIfFalse {t}"),
        Op::JumpIfFalseKeep(t) => format!("JumpIfFalseKeep {t}"),
        Op::JumpIfTrueKeep(t) => format!("JumpIfTrueKeep {t}"),
        other => format!("{other:?}"),
    }
}

/// A piece of a format string: text, or a variable and the byte after it.
enum Spec {
    Text(&'static str, usize),
    Var(VarId, usize),
}

/// The Kamailio pseudo-variable of a SER xl two-letter specifier.
fn xl_name(c1: char, c2: char) -> Option<&'static str> {
    Some(match (c1, c2) {
        ('c', 'i') => "ci",
        ('c', 's') => "cs",
        ('c', 't') => "ct",
        ('f', 'u') => "fu",
        ('f', 't') => "ft",
        ('i', 's') => "si",
        ('m', 'b') => "mb",
        ('m', 'f') => "mf",
        ('m', 'i') => "mi",
        ('m', 'l') => "ml",
        ('p', 'p') => "pp",
        ('r', 'm') => "rm",
        ('r', 'u') => "ru",
        ('r', 's') => "rs",
        ('r', 'r') => "rr",
        ('t', 'u') => "tu",
        ('t', 't') => "tt",
        ('T', 's') => "Ts",
        ('T', 'f') => "Tf",
        ('u', 'a') => "ua",
        _ => return None,
    })
}

/// The argument list of `sig` that takes `n` arguments.
fn arity(sig: &FnSig, n: usize) -> Option<&'static [ArgKind]> {
    sig.arities.iter().find(|a| a.len() == n).copied()
}

/// A route name as routes are matched: a number and the same number
/// written as a name (`1`, `"1"`) are the same route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum RouteKey {
    Number(i64),
    Name(String),
}

fn route_key(n: &RouteName) -> RouteKey {
    match n {
        RouteName::Number(x) => RouteKey::Number(*x),
        RouteName::Name(s) => match s.parse::<i64>() {
            Ok(x) => RouteKey::Number(x),
            Err(_) => RouteKey::Name(s.clone()),
        },
    }
}

/// A route name written as an argument: `1`, `"1"`, `NAME`, `"NAME"`.
fn route_name_of(e: &Expr) -> Option<RouteName> {
    match &e.kind {
        ExprKind::Int(n) => Some(RouteName::Number(*n)),
        ExprKind::Str(s) | ExprKind::Ident(s) => Some(match s.parse::<i64>() {
            Ok(n) => RouteName::Number(n),
            Err(_) => RouteName::Name(s.clone()),
        }),
        _ => None,
    }
}

/// The value of an integer constant expression: integers, `-`, and `+`,
/// `-`, `*` that do not overflow (anything else is left to the VM).
fn const_int(e: &Expr, depth: usize) -> Option<i64> {
    if depth > MAX_DEPTH {
        return None;
    }
    match &e.kind {
        ExprKind::Int(n) => Some(*n),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => const_int(operand, depth + 1)?.checked_neg(),
        ExprKind::Binary { op, lhs, rhs, .. } => {
            if !matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul) {
                return None;
            }
            let a = const_int(lhs, depth + 1)?;
            let b = const_int(rhs, depth + 1)?;
            match op {
                BinaryOp::Add => a.checked_add(b),
                BinaryOp::Sub => a.checked_sub(b),
                _ => a.checked_mul(b),
            }
        }
        _ => None,
    }
}

/// The text of a constant argument.
fn const_text(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Int(n) => Some(n.to_string()),
        ExprKind::Str(s) | ExprKind::Ident(s) | ExprKind::Host(s) => Some(s.clone()),
        ExprKind::Ip { addr, mask } => Some(ip_text(addr, *mask)),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => match operand.kind {
            ExprKind::Int(n) => Some(n.wrapping_neg().to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// An integer written in decimal, with an optional sign (SER's `str2sint`).
fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn ip_text(addr: &IpAddr, mask: Option<u8>) -> String {
    match mask {
        Some(m) => format!("{addr}/{m}"),
        None => addr.to_string(),
    }
}

fn value_text(v: &Value) -> String {
    match &v.kind {
        ValueKind::Int(n) => n.to_string(),
        ValueKind::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        ValueKind::Str(s) | ValueKind::Ident(s) => s.clone(),
        ValueKind::Addr(a) => a.to_string(),
        ValueKind::List(vs) => vs.iter().map(value_text).collect::<Vec<_>>().join(" "),
    }
}

/// `sl` for `/usr/lib/ser/modules/sl.so`, `sl.so` or `sl`.
fn module_file_name(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.strip_suffix(".so").unwrap_or(file)
}

/// Whether evaluating `e` can do anything (call a function or a route).
fn has_effects(e: &Expr) -> bool {
    let mut any = false;
    e.for_each(&mut |x| any |= matches!(x.kind, ExprKind::Call(_)));
    any
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The end of the run of name characters starting at `i`.
fn ident_end(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while b.get(j).is_some_and(|&c| is_name_char(c)) {
        j += 1;
    }
    j
}

/// The text between the `open` at byte `at` and its matching `close`
/// (nesting counted), and the byte after the `close`.
fn balanced(s: &str, at: usize, open: u8, close: u8) -> Option<(&str, usize)> {
    let b = s.as_bytes();
    if b.get(at) != Some(&open) {
        return None;
    }
    let mut depth = 0usize;
    let mut i = at;
    while let Some(&c) = b.get(i) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some((s.get(at + 1..i)?, i + 1));
            }
        }
        i += 1;
    }
    None
}

/// A pseudo-variable by name, as the parser would read `$name(arg)[index]`.
fn pv_var(name: &str, arg: Option<&str>, index: Option<&str>) -> Var {
    match (name, arg, index) {
        ("rc", None, None) => Var::RetCode(RetCodeForm::Rc),
        ("retcode", None, None) => Var::RetCode(RetCodeForm::Retcode),
        ("sel", Some(a), None) => match scan_select(a, 0) {
            Some((mut sel, end)) if end == a.len() => {
                sel.form = SelectForm::Sel;
                Var::Select(sel)
            }
            _ => Var::Pv(Pv {
                name: name.into(),
                arg: Some(a.into()),
                index: None,
            }),
        },
        _ => Var::Pv(Pv {
            name: name.into(),
            arg: arg.map(str::to_string),
            index: index.map(str::to_string),
        }),
    }
}

/// The inside of `$( )` without a transformation: `name`, `name(arg)`,
/// `name[index]`, `name(arg)[index]`. Returns the variable and how many
/// bytes it used (less than the whole text when a `{...}` follows).
fn bracketed_pv(raw: &str) -> Option<(Var, usize)> {
    let b = raw.as_bytes();
    let name_end = ident_end(b, 0);
    if name_end == 0 {
        return None;
    }
    let name = raw.get(..name_end)?;
    let mut i = name_end;
    let mut arg = None;
    if b.get(i) == Some(&b'(') {
        let (a, end) = balanced(raw, i, b'(', b')')?;
        arg = Some(a);
        i = end;
    }
    let mut index = None;
    if b.get(i) == Some(&b'[') {
        let (x, end) = balanced(raw, i, b'[', b']')?;
        index = Some(x);
        i = end;
    }
    Some((pv_var(name, arg, index), i))
}

/// A variable as the script lexer reads it, starting at the `$` at byte
/// `at`: `$?`, `$name[idx]`, `$track.name[idx]`, `$name(arg)[idx]`,
/// `$(...)`. Returns the variable and the byte after it.
fn scan_script_var(s: &str, at: usize) -> Option<(Var, usize)> {
    let b = s.as_bytes();
    if b.get(at) != Some(&b'$') {
        return None;
    }
    let i = at + 1;
    match b.get(i) {
        Some(b'?') => Some((Var::RetCode(RetCodeForm::Question), i + 1)),
        Some(b'(') => {
            let (raw, end) = balanced(s, i, b'(', b')')?;
            Some((Var::Transform(raw.to_string()), end))
        }
        Some(&c) if c.is_ascii_alphabetic() || c == b'_' => {
            let name_end = ident_end(b, i);
            let name = s.get(i..name_end)?;
            let index_at = |j: usize| -> Option<(Option<&str>, usize)> {
                if b.get(j) == Some(&b'[') {
                    let (x, end) = balanced(s, j, b'[', b']')?;
                    Some((Some(x), end))
                } else {
                    Some((None, j))
                }
            };
            if b.get(name_end) == Some(&b'(') {
                let (arg, end) = balanced(s, name_end, b'(', b')')?;
                let (index, end) = index_at(end)?;
                return Some((pv_var(name, Some(arg), index), end));
            }
            if let Some(track) = crate::ast::AvpTrack::from_prefix(name)
                && b.get(name_end) == Some(&b'.')
                && b.get(name_end + 1)
                    .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
            {
                let avp_end = ident_end(b, name_end + 1);
                let avp = s.get(name_end + 1..avp_end)?;
                let (index, end) = index_at(avp_end)?;
                return Some((
                    Var::Avp(Avp {
                        track: Some(track),
                        name: avp.to_string(),
                        index: index.map(str::to_string),
                    }),
                    end,
                ));
            }
            let (index, end) = index_at(name_end)?;
            let var = match (name, index) {
                ("rc", None) => Var::RetCode(RetCodeForm::Rc),
                ("retcode", None) => Var::RetCode(RetCodeForm::Retcode),
                _ if KAMAILIO_PV_NAMES.contains(&name) => Var::Pv(Pv {
                    name: name.to_string(),
                    arg: None,
                    index: index.map(str::to_string),
                }),
                _ => Var::Avp(Avp {
                    track: None,
                    name: name.to_string(),
                    index: index.map(str::to_string),
                }),
            };
            Some((var, end))
        }
        _ => None,
    }
}

/// A select path starting at byte `at` (after the `@`): `a.b[1].c["x"]`.
/// Stops before the first character that cannot continue it (a `.` not
/// followed by a name is not taken). Returns the select and the byte after
/// it.
fn scan_select(s: &str, at: usize) -> Option<(Select, usize)> {
    let b = s.as_bytes();
    let mut segments = Vec::new();
    let mut i = at;
    loop {
        let start = i;
        if !b
            .get(start)
            .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
        {
            break;
        }
        let end = ident_end(b, start);
        let name = s.get(start..end)?.to_string();
        i = end;
        let mut index = None;
        if b.get(i) == Some(&b'[')
            && let Some((x, after)) = balanced(s, i, b'[', b']')
        {
            let idx = if let Some(n) = parse_int(x) {
                Some(SelectIndex::Int(n))
            } else {
                x.strip_prefix('"')
                    .and_then(|r| r.strip_suffix('"'))
                    .map(|q| SelectIndex::Str(q.to_string()))
            };
            if let Some(idx) = idx {
                index = Some(idx);
                i = after;
            }
        }
        segments.push(SelectSegment { name, index });
        if b.get(i) == Some(&b'.')
            && b.get(i + 1)
                .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
        {
            i += 1;
            continue;
        }
        break;
    }
    if segments.is_empty() {
        return None;
    }
    Some((
        Select {
            segments,
            form: SelectForm::At,
        },
        i,
    ))
}

/// For `proto`/`af` compared with a word or string (either side), the
/// keyword's expression and the word.
fn proto_or_af_word<'e>(lhs: &'e Expr, rhs: &'e Expr) -> Option<(&'e Expr, &'e str)> {
    let is_kw = |e: &Expr| matches!(e.kind, ExprKind::Keyword(Keyword::Proto | Keyword::Af));
    let word = |e: &'e Expr| match &e.kind {
        ExprKind::Ident(w) | ExprKind::Str(w) => Some(w.as_str()),
        _ => None,
    };
    if is_kw(lhs) {
        word(rhs).map(|w| (lhs, w))
    } else if is_kw(rhs) {
        word(lhs).map(|w| (rhs, w))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanners() {
        let (v, end) = scan_script_var("$avp(i:80)[1]x", 0).unwrap();
        assert_eq!(end, 13);
        assert_eq!(v.to_string(), "$avp(i:80)[1]");
        let (v, end) = scan_script_var("$t.did", 0).unwrap();
        assert_eq!((v.to_string(), end), ("$t.did".to_string(), 6));
        let (v, _) = scan_script_var("$rc", 0).unwrap();
        assert_eq!(v, Var::RetCode(RetCodeForm::Rc));
        assert!(scan_script_var("$", 0).is_none());
        assert!(scan_script_var("$avp(x", 0).is_none());
        let (sel, end) = scan_select("ruri.host>", 0).unwrap();
        assert_eq!((sel.path(), end), ("ruri.host".to_string(), 9));
        let (sel, end) = scan_select("via[1].host.", 0).unwrap();
        assert_eq!(end, 11);
        assert_eq!(sel.segments[0].index, Some(SelectIndex::Int(1)));
        assert!(scan_select(".x", 0).is_none());
        assert_eq!(balanced("(a(b)c)d", 0, b'(', b')'), Some(("a(b)c", 7)));
        assert_eq!(balanced("(a", 0, b'(', b')'), None);
        let (v, used) = bracketed_pv("avp(x)[2]{s.len}").unwrap();
        assert_eq!(used, 9);
        assert_eq!(v.to_string(), "$avp(x)[2]");
        assert_eq!(parse_int("-12"), Some(-12));
        assert_eq!(parse_int("+"), None);
        assert_eq!(parse_int("1a"), None);
        assert_eq!(module_file_name("/usr/lib/ser/modules/sl.so"), "sl");
    }

    use crate::catalog::RouteMask;

    const fn sig(name: &'static str, arities: &'static [&'static [ArgKind]]) -> FnSig {
        FnSig {
            name,
            arities,
            routes: RouteMask::ANY,
            doc: "",
        }
    }

    static FAKE: &[FnSig] = &[
        sig("t_on_failure", &[&[ArgKind::Route]]),
        sig("t_on_reply", &[&[ArgKind::Route]]),
        sig("t_on_branch", &[&[ArgKind::Route]]),
        sig("setflag", &[&[ArgKind::Flag]]),
        sig("search", &[&[ArgKind::Regex]]),
        sig("remove_hf", &[&[ArgKind::Header]]),
        sig(
            "t_set_fr",
            &[&[ArgKind::Int], &[ArgKind::Int, ArgKind::Int]],
        ),
        sig(
            "xlog",
            &[&[ArgKind::Format], &[ArgKind::Str, ArgKind::Format]],
        ),
        sig("pv_printf", &[&[ArgKind::Var, ArgKind::Format]]),
    ];

    fn fake(
        _: &[&'static ModuleSig],
        name: &str,
        _: Dialect,
    ) -> Option<(&'static str, &'static FnSig)> {
        FAKE.iter().find(|f| f.name == name).map(|f| ("fake", f))
    }

    fn program(text: &str) -> Program {
        let script = crate::parse_str("t.cfg", text, &[]).unwrap();
        compile_with(&script, fake).unwrap()
    }

    fn args(p: &Program) -> Vec<(String, Vec<Arg>)> {
        p.calls
            .iter()
            .map(|c| (p.str(c.name).to_string(), c.args.clone()))
            .collect()
    }

    fn route(p: &Program, kind: RouteKind, name: &str) -> RouteId {
        let n = match name.parse() {
            Ok(n) => RouteName::Number(n),
            Err(_) => RouteName::Name(name.into()),
        };
        p.route_id(kind, Some(&n)).unwrap()
    }

    fn format_text(p: &Program, a: &Arg) -> String {
        let Arg::Format(f) = a else {
            panic!("not a format: {a:?}")
        };
        p.formats[*f as usize]
            .parts
            .iter()
            .map(|part| match part {
                FormatPart::Lit(s) => format!("<{}>", p.str(*s)),
                FormatPart::Var(v) => format!("[{}]", var_text(p, *v)),
            })
            .collect()
    }

    #[test]
    fn arguments_are_typed_by_signature() {
        let p = program(
            "#!SER2\n\
             flags FLAG_ACC : 3, AUTO, NEXT;\n\
             failure_route[1] { }\n\
             onreply_route[1] { }\n\
             branch_route[B] { }\n\
             route {\n\
               t_on_failure(\"1\"); t_on_reply(\"1\"); t_on_branch(\"B\");\n\
               setflag(FLAG_ACC); setflag(AUTO); setflag(NEXT); setflag(\"7\"); setflag(9);\n\
               setflag(UNDECLARED);\n\
               search(\"^Route:\"); remove_hf(\"Route\"); remove_hf(\"route\");\n\
               t_set_fr(\"10\", -1); t_set_fr(\"$t.fr\");\n\
               pv_printf(\"$x\", \"a\"); pv_printf(\"s:x\", \"b\");\n\
               t_on_failure(\"MISSING\");\n\
             }\n",
        );
        let a = args(&p);
        let fail = route(&p, RouteKind::Failure, "1");
        let reply = route(&p, RouteKind::OnReply, "1");
        let branch = route(&p, RouteKind::Branch, "B");
        assert_ne!(fail, reply);
        assert_eq!(a[0].1, vec![Arg::Route(fail)]);
        assert_eq!(a[1].1, vec![Arg::Route(reply)]);
        assert_eq!(a[2].1, vec![Arg::Route(branch)]);
        assert_eq!(
            p.flags
                .iter()
                .map(|(n, b)| (p.str(*n), *b))
                .collect::<Vec<_>>(),
            vec![("FLAG_ACC", 3), ("AUTO", 0), ("NEXT", 1)]
        );
        assert_eq!(a[3].1, vec![Arg::Flag(3)]);
        assert_eq!(a[4].1, vec![Arg::Flag(0)]);
        assert_eq!(a[5].1, vec![Arg::Flag(1)]);
        assert_eq!(a[6].1, vec![Arg::Flag(7)]);
        assert_eq!(a[7].1, vec![Arg::Flag(9)]);
        // Not declared: typed by form; the checker reports it.
        assert_eq!(
            a[8].1,
            vec![Arg::Str(
                p.strings.iter().position(|s| s == "UNDECLARED").unwrap() as u32
            )]
        );
        let Arg::Regex(r) = a[9].1[0] else { panic!() };
        assert_eq!(p.str(p.regexes[r as usize].source), "^Route:");
        assert!(p.regexes[r as usize].icase);
        assert_eq!(a[10].1, vec![Arg::Header(0)]);
        assert_eq!(a[11].1, vec![Arg::Header(1)]);
        assert_eq!(a[12].1, vec![Arg::Int(10), Arg::Int(-1)]);
        let Arg::Var(v) = a[13].1[0] else {
            panic!("{:?}", a[13])
        };
        assert_eq!(var_text(&p, v), "$t.fr");
        let Arg::Var(v) = a[14].1[0] else { panic!() };
        assert_eq!(var_text(&p, v), "$x");
        assert!(matches!(a[15].1[0], Arg::Str(_)));
        // An undefined route is created empty.
        let missing = route(&p, RouteKind::Failure, "MISSING");
        assert_eq!(a[16].1, vec![Arg::Route(missing)]);
        assert_eq!(p.routes[missing as usize].code, vec![Op::ReturnDefault]);
        assert_eq!(p.str(p.calls[0].module), "fake");
    }

    #[test]
    fn formats_are_split_by_dialect() {
        let p = program(
            "#!SER2\nroute { xlog(\"L_INFO\", \"<sip:%$asserted_id@%@ruri.host>; %ru %is %{From[1]} %t.x 100%% %zz %\"); }",
        );
        assert_eq!(
            format_text(&p, &p.calls[0].args[1]),
            "<<sip:>[$asserted_id]<@>[@ruri.host]<>; >[$ru]< >[$si]< >[$hdr(From)[1]]< >[$null]<x 100% >[$null]<z >[$null]"
        );
        assert!(p.headers.iter().any(|&h| p.str(h) == "From"));
        let p = program(
            "#!KAMAILIO\nroute { xlog(\"$si:$sp $hdr(Via) $$ $(avp(x)[1]) $ cost $avp(i:80)$rc $t.did\"); }",
        );
        assert_eq!(
            format_text(&p, &p.calls[0].args[0]),
            "[$si]<:>[$sp]< >[$hdr(Via)]< $ >[$avp(x)[1]]< $ cost >[$avp(i:80)][$rc]< >[$t]<.did>"
        );
        let script = crate::parse_str(
            "t.cfg",
            "#!KAMAILIO\nroute { xlog(\"$(ru{s.len})\"); xlog(\"$avp(x\"); }",
            &[],
        )
        .unwrap();
        let e = compile_with(&script, fake).unwrap_err();
        assert_eq!(e.len(), 2);
        assert!(e[0].message.contains("transformations"), "{e:?}");
        assert!(e[1].message.contains("unterminated `$avp(`"), "{e:?}");
    }

    #[test]
    fn route_names() {
        assert_eq!(
            route_key(&RouteName::Number(1)),
            route_key(&RouteName::Name("1".into()))
        );
        assert_ne!(
            route_key(&RouteName::Number(1)),
            route_key(&RouteName::Name("A".into()))
        );
    }
}
