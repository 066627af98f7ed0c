//! The compiled form of a script: what the VM in `ser-core` runs, and what
//! `ser -c -o x.bin` writes.
//!
//! A [`Program`] is flat data: every route is a vector of [`Op`]s for a small
//! stack machine, and everything an op refers to is an index into one of the
//! program's tables, resolved at compile time: strings are pooled, regular
//! expressions are listed once (the loader compiles each one once), header
//! names are interned, route names are route indices, and every function
//! call site carries its resolved module and its arguments already typed.
//!
//! Why a stack machine: the VM must be able to suspend at any function call
//! (a database query, DNS, another shard) and resume later, even in the
//! middle of a condition such as `if (!www_authorize(...) && ...)`. With an
//! explicit operand stack and call stack, the whole state of a running script
//! is data that can be saved and restored.
//!
//! Semantics every compiler and VM must agree on:
//! - A function returns an integer: `> 0` true, `< 0` false, `0` stops the
//!   script (SER's convention). [`Op::Call`] pushes the code as an `Int`,
//!   stores it in `$rc`/`$?`, and stops the script when it is 0.
//! - Truthiness of a value: `Int(n)` is `n > 0`; `Str(s)` is non-empty;
//!   `Null` is false.
//! - `&&` and `||` short-circuit (compiled with [`Op::JumpIfFalseKeep`] /
//!   [`Op::JumpIfTrueKeep`] then [`Op::Pop`]).
//! - Jump targets are absolute op indices within the same route.

use crate::ast::{AvpTrack, BinaryOp, Keyword, RouteKind, RouteName};
use crate::dialect::Dialect;

/// Version of the binary form. Bumped whenever a type in this file changes.
pub const FORMAT_VERSION: u32 = 1;

/// Index into [`Program::strings`].
pub type StrId = u32;
/// Index into [`Program::routes`].
pub type RouteId = u32;
/// Index into [`Program::regexes`].
pub type RegexId = u32;
/// Index into [`Program::calls`].
pub type CallId = u32;
/// Index into [`Program::vars`].
pub type VarId = u32;
/// Index into [`Program::formats`].
pub type FormatId = u32;

/// A compiled script.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    pub dialect: Dialect,
    /// Why this dialect was chosen (for `ser -c` and logs).
    pub dialect_reason: String,
    /// Pooled constant strings (each distinct string once).
    pub strings: Vec<String>,
    /// Regular expressions, compiled once when the program is loaded.
    pub regexes: Vec<RegexDef>,
    /// Interned header names (for `$hdr(...)`, `append_hf`, `remove_hf`...).
    pub headers: Vec<StrId>,
    /// Every route block of every kind.
    pub routes: Vec<Route>,
    /// Function call sites.
    pub calls: Vec<CallSite>,
    /// Variables, keywords and selects read or written by the script.
    pub vars: Vec<VarDef>,
    /// Format strings with `$pv`/`%$avp`/`%@select` parts, pre-split.
    pub formats: Vec<Format>,
    /// Core parameters (`debug=3`, `listen=...`, `alias=...`), in order.
    pub globals: Vec<Global>,
    /// Modules loaded, with their parameters.
    pub modules: Vec<ModuleUse>,
    /// Named script flags (`flags FLAG_ACC : 1`), name and bit.
    pub flags: Vec<(StrId, u32)>,
    /// Named AVP flags (`avpflags dialog_cookie`), name and bit.
    pub avpflags: Vec<(StrId, u32)>,
    /// Run-time configuration variables (`pstn.gw_ip = "" desc "..."`).
    pub cfg_vars: Vec<CfgVarDef>,
    /// The main request route, if the script has one.
    pub main_route: Option<RouteId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegexDef {
    pub source: StrId,
    /// SER compiles script regexes with REG_ICASE; Kamailio too for `=~`.
    pub icase: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub kind: RouteKind,
    /// `None` for the unnamed `route { }` / `onreply_route { }`.
    pub name: Option<RouteName>,
    pub code: Vec<Op>,
    /// Source line of each op (same length as `code`), for run-time
    /// messages that point at the script.
    pub lines: Vec<u32>,
    /// Source file of the route block (index into [`Program::strings`]).
    pub file: StrId,
}

/// One instruction of the stack machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Push an integer.
    PushInt(i64),
    /// Push a pooled string.
    PushStr(StrId),
    /// Push `$null`.
    PushNull,
    /// Push the value of a variable, keyword or select.
    Load(VarId),
    /// Pop a value and assign it (`=`).
    Store(VarId),
    /// Pop a value and assign it replacing all values (`:=`).
    StoreAll(VarId),
    /// Pop one, push its logical negation as `Int(1)`/`Int(0)`.
    Not,
    /// Pop one, push its arithmetic negation.
    Neg,
    /// Pop rhs then lhs, push `lhs op rhs`. Never `And`/`Or` (those are
    /// jumps) nor `Match`/`NotMatch` with a constant regex (see `Match`).
    Bin(BinaryOp),
    /// Pop one string, push whether the regex matches it.
    Match(RegexId),
    /// Pop one string, push whether the regex does not match it.
    NotMatch(RegexId),
    /// Pop one value (a URI, host or IP) and push whether it names this
    /// router: `x == myself`. The compiler emits `Myself` then `Not` for
    /// `x != myself`.
    Myself,
    /// Call a function; push its return code and set `$rc`. A return code
    /// of 0 stops the script.
    Call(CallId),
    /// Discard the top of the stack.
    Pop,
    /// Duplicate the top of the stack (for `switch`).
    Dup,
    /// Jump to an op index.
    Jump(u32),
    /// Pop one; jump if it is false.
    JumpIfFalse(u32),
    /// Jump if the top is false, keeping it; else pop it (`&&`).
    JumpIfFalseKeep(u32),
    /// Jump if the top is true, keeping it; else pop it (`||`).
    JumpIfTrueKeep(u32),
    /// Call a route; its return value is pushed when it returns.
    Route(RouteId),
    /// Pop a value and return it from the current route (`return expr`).
    /// From the top-level route this ends the script like `exit`.
    Return,
    /// Return 1 from the current route (`return;`, the end of a route, and
    /// `break` in SER 2.x / Kamailio outside a switch or loop).
    ReturnDefault,
    /// Stop the script (`exit`, and `break` in SER 0.8/0.9).
    Exit,
    /// Stop the script and drop the message (`drop`): no forwarding, and
    /// for a reply route, the reply is not relayed.
    Drop,
}

/// A function call site.
#[derive(Clone, Debug, PartialEq)]
pub struct CallSite {
    /// Module that provides the function (`"core"` for core actions such as
    /// `rewriteuri`, `setflag`, `forward`).
    pub module: StrId,
    /// Function name as the catalogue names it (aliases resolved).
    pub name: StrId,
    pub args: Vec<Arg>,
}

/// A function argument, typed at compile time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Int(i64),
    Str(StrId),
    /// A regular expression argument (`t_check_status("486|600")`).
    Regex(RegexId),
    /// A variable to read or write (`$avp(i:80)`, `"$fd"` in SER 2.x).
    Var(VarId),
    /// A format string with variables (`xlog("... $ru ...")`).
    Format(FormatId),
    /// A route (`t_on_failure("1")`, `t_on_reply("REPLY_ONE")`).
    Route(RouteId),
    /// A script flag bit (`setflag(FLAG_ACC)`, `setflag(5)`).
    Flag(u32),
    /// A header name (`append_hf`'s target, `remove_hf("Route")`),
    /// interned: index into [`Program::headers`].
    Header(u32),
}

/// What a [`VarId`] refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VarDef {
    /// A core keyword: `method`, `uri`, `src_ip`, `msg:len`, ...
    Keyword(Keyword),
    /// `$rc`, `$retcode`, `$?`.
    RetCode,
    /// A Kamailio pseudo-variable by name with its argument: `ru`, `rU`,
    /// `hdr` + `From`, `avp` + `i:80`, `var` + `x`, `null`.
    Pv {
        name: StrId,
        arg: Option<StrId>,
        index: Option<StrId>,
    },
    /// A SER 2.x AVP: `$account`, `$t.did`, `$fd.digest_realm`.
    Avp {
        track: Option<AvpTrack>,
        name: StrId,
        index: Option<StrId>,
    },
    /// A select path, `@to.tag` or `$sel(cfg_get.pstn.gw_ip)`, as its
    /// dotted segments (indexes kept as written, e.g. `via[1]`).
    Select { path: Vec<StrId> },
}

/// A pre-split format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    pub parts: Vec<FormatPart>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatPart {
    Lit(StrId),
    Var(VarId),
}

/// A core parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Global {
    pub name: StrId,
    pub value: ConstValue,
}

/// A constant parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstValue {
    Int(i64),
    Str(StrId),
    Bool(bool),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModuleUse {
    /// Canonical module name (`sl`, `tm`, `db_mysql`...).
    pub name: StrId,
    /// As written in `loadmodule`.
    pub path: StrId,
    /// `modparam`s for this module, in order.
    pub params: Vec<(StrId, ConstValue)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CfgVarDef {
    pub group: StrId,
    pub name: StrId,
    pub value: ConstValue,
    pub desc: Option<StrId>,
}

impl Program {
    /// A pooled string (empty if the id is out of range, which a loaded
    /// program never has: the loader checks every index).
    pub fn str(&self, id: StrId) -> &str {
        self.strings.get(id as usize).map_or("", String::as_str)
    }

    /// A parameter's value as text (an int as its decimal text, a bool as
    /// `0`/`1`).
    pub fn const_text(&self, v: &ConstValue) -> String {
        match v {
            ConstValue::Str(s) => self.str(*s).to_string(),
            ConstValue::Int(n) => n.to_string(),
            ConstValue::Bool(b) => u8::from(*b).to_string(),
        }
    }

    /// Finds a route by kind and name.
    pub fn route_id(&self, kind: RouteKind, name: Option<&RouteName>) -> Option<RouteId> {
        self.routes
            .iter()
            .position(|r| r.kind == kind && r.name.as_ref() == name)
            .map(|i| i as RouteId)
    }

    /// Checks that a program holds together: every id in range, every jump on
    /// an op of its route, one line per op, every route ending in an op that
    /// leaves it, no `Bin(&&)`/`Bin(||)`, the main route a request route.
    /// `binary::read` runs it on every program it decodes, and the VM on every
    /// program it loads; programs from
    /// [`crate::compile::compile`] always pass.
    pub fn validate(&self) -> Result<(), String> {
        let p = self;
        let n_str = p.strings.len();
        let in_range = |id: u32, n: usize, what: &str, at: &dyn Fn() -> String| {
            if (id as usize) < n {
                Ok(())
            } else {
                Err(format!("{} refers to {what} {id}, but there are {n}", at()))
            }
        };
        let s = |id: u32, at: &dyn Fn() -> String| in_range(id, n_str, "string", at);
        for (i, r) in p.regexes.iter().enumerate() {
            s(r.source, &|| format!("regex {i}"))?;
        }
        for (i, &h) in p.headers.iter().enumerate() {
            s(h, &|| format!("header {i}"))?;
        }
        for (ri, r) in p.routes.iter().enumerate() {
            let at = || format!("route {ri}");
            s(r.file, &at)?;
            if r.lines.len() != r.code.len() {
                return Err(format!(
                    "route {ri} has {} ops but {} line numbers",
                    r.code.len(),
                    r.lines.len()
                ));
            }
            match r.code.last() {
                Some(Op::Return | Op::ReturnDefault | Op::Exit | Op::Drop | Op::Jump(_)) => {}
                Some(_) => return Err(format!("route {ri} does not end with a return")),
                None => return Err(format!("route {ri} has no code")),
            }
            let len = r.code.len();
            for (oi, op) in r.code.iter().enumerate() {
                let at = || format!("route {ri} op {oi}");
                match *op {
                    Op::PushStr(id) => s(id, &at)?,
                    Op::Load(v) | Op::Store(v) | Op::StoreAll(v) => {
                        in_range(v, p.vars.len(), "variable", &at)?
                    }
                    Op::Match(x) | Op::NotMatch(x) => in_range(x, p.regexes.len(), "regex", &at)?,
                    Op::Call(c) => in_range(c, p.calls.len(), "call", &at)?,
                    Op::Route(x) => in_range(x, p.routes.len(), "route", &at)?,
                    Op::Jump(t)
                    | Op::JumpIfFalse(t)
                    | Op::JumpIfFalseKeep(t)
                    | Op::JumpIfTrueKeep(t) => {
                        if t as usize >= len {
                            return Err(format!(
                                "{} jumps to {t}, past the end of the route ({len} ops)",
                                at()
                            ));
                        }
                    }
                    Op::Bin(BinaryOp::And | BinaryOp::Or) => {
                        return Err(format!("{} has `&&`/`||` as an operator", at()));
                    }
                    Op::PushInt(_)
                    | Op::PushNull
                    | Op::Not
                    | Op::Neg
                    | Op::Bin(_)
                    | Op::Myself
                    | Op::Pop
                    | Op::Dup
                    | Op::Return
                    | Op::ReturnDefault
                    | Op::Exit
                    | Op::Drop => {}
                }
            }
        }
        for (ci, c) in p.calls.iter().enumerate() {
            let at = || format!("call {ci}");
            s(c.module, &at)?;
            s(c.name, &at)?;
            for a in &c.args {
                match *a {
                    Arg::Int(_) => {}
                    Arg::Flag(f) if f > 63 => {
                        return Err(format!("{} has flag {f}, above 63", at()));
                    }
                    Arg::Flag(_) => {}
                    Arg::Str(x) => s(x, &at)?,
                    Arg::Regex(x) => in_range(x, p.regexes.len(), "regex", &at)?,
                    Arg::Var(x) => in_range(x, p.vars.len(), "variable", &at)?,
                    Arg::Format(x) => in_range(x, p.formats.len(), "format", &at)?,
                    Arg::Route(x) => in_range(x, p.routes.len(), "route", &at)?,
                    Arg::Header(x) => in_range(x, p.headers.len(), "header", &at)?,
                }
            }
        }
        for (vi, v) in p.vars.iter().enumerate() {
            let at = || format!("variable {vi}");
            match v {
                VarDef::Keyword(_) | VarDef::RetCode => {}
                VarDef::Pv { name, arg, index } => {
                    s(*name, &at)?;
                    for x in arg.iter().chain(index.iter()) {
                        s(*x, &at)?;
                    }
                }
                VarDef::Avp { name, index, .. } => {
                    s(*name, &at)?;
                    if let Some(x) = index {
                        s(*x, &at)?;
                    }
                }
                VarDef::Select { path } => {
                    if path.is_empty() {
                        return Err(format!("{} is an empty select", at()));
                    }
                    for &x in path {
                        s(x, &at)?;
                    }
                }
            }
        }
        for (fi, f) in p.formats.iter().enumerate() {
            let at = || format!("format {fi}");
            for part in &f.parts {
                match *part {
                    FormatPart::Lit(x) => s(x, &at)?,
                    FormatPart::Var(x) => in_range(x, p.vars.len(), "variable", &at)?,
                }
            }
        }
        let value = |v: &ConstValue, at: &dyn Fn() -> String| match *v {
            ConstValue::Str(x) => s(x, at),
            ConstValue::Int(_) | ConstValue::Bool(_) => Ok(()),
        };
        for (gi, g) in p.globals.iter().enumerate() {
            let at = || format!("global {gi}");
            s(g.name, &at)?;
            value(&g.value, &at)?;
        }
        for (mi, m) in p.modules.iter().enumerate() {
            let at = || format!("module {mi}");
            s(m.name, &at)?;
            s(m.path, &at)?;
            for (name, v) in &m.params {
                s(*name, &at)?;
                value(v, &at)?;
            }
        }
        for (fi, &(name, _)) in p.flags.iter().enumerate() {
            s(name, &|| format!("flag {fi}"))?;
        }
        for (fi, &(name, _)) in p.avpflags.iter().enumerate() {
            s(name, &|| format!("AVP flag {fi}"))?;
        }
        for (ci, c) in p.cfg_vars.iter().enumerate() {
            let at = || format!("custom parameter {ci}");
            s(c.group, &at)?;
            s(c.name, &at)?;
            value(&c.value, &at)?;
            if let Some(d) = c.desc {
                s(d, &at)?;
            }
        }
        if let Some(m) = p.main_route {
            in_range(m, p.routes.len(), "route", &|| "the main route".to_string())?;
            if p.routes.get(m as usize).map(|r| r.kind) != Some(RouteKind::Request) {
                return Err(format!("the main route {m} is not a request route"));
            }
        }
        Ok(())
    }
}
