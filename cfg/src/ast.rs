//! The syntax tree of a ser.cfg script.
//!
//! The tree is what the text says, after preprocessing, and nothing more:
//! names of modules, functions, parameters and routes are not resolved here
//! (the checker does that), and dialect-dependent meanings (`break`, timer
//! units) are decided later from [`crate::Script::dialect`]. Every node that
//! a later stage may need to point at carries a [`Span`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use crate::source::{FileId, Span};

/// A name with its position (parameter, flag, function, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub name: String,
    pub span: Span,
}

/// A top-level element of the script.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub kind: ItemKind,
    /// The first token of the item.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// A core parameter: `debug=3`, `fork=no`, `listen=udp:1.2.3.4:5060`,
    /// `alias="sip.example.com"`, `log_facility=LOG_LOCAL0`.
    Param(Param),
    /// A custom (run-time changeable) parameter, `group.id = value desc
    /// "text"` (Kamailio / sip-router).
    CfgVar(CfgVar),
    /// `loadmodule "path-or-name"`.
    LoadModule(LoadModule),
    /// `loadpath "dir:dir"` (SER 2.x) or `mpath="dir/:dir/"` (Kamailio).
    LoadPath(LoadPath),
    /// `modparam("mod|mod2", "param", value)`.
    ModParam(ModParam),
    /// `flags NAME : N, NAME2 : N2;` (named script flags).
    Flags(Vec<FlagDecl>),
    /// `avpflags name, name2;` (named AVP flags).
    AvpFlags(Vec<Name>),
    /// A route block of any kind.
    Route(RouteBlock),
}

/// `name = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Name,
    pub value: Value,
}

/// `group.id = value [desc "description"]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CfgVar {
    pub group: Name,
    pub id: Name,
    pub value: Value,
    pub desc: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoadModule {
    pub path: String,
    pub path_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoadPath {
    /// `loadpath` or `mpath`, as written.
    pub keyword: String,
    pub path: String,
    pub path_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModParam {
    /// The module string as written, possibly several names joined by `|`.
    pub module: String,
    pub module_span: Span,
    pub param: Name,
    pub value: Value,
}

impl ModParam {
    /// The module names (`"a|b"` gives `a`, `b`), trimmed.
    pub fn modules(&self) -> impl Iterator<Item = &str> {
        self.module.split('|').map(str::trim)
    }
}

/// One entry of a `flags` declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagDecl {
    pub name: Name,
    /// The flag number after `:`, if given.
    pub number: Option<i64>,
}

/// The value of a core parameter, custom parameter or `modparam`.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    Int(i64),
    Str(String),
    /// `yes`/`no`, `on`/`off`, `true`/`false`, `enable`/`disable`.
    Bool(bool),
    /// Any other bare word: `LOG_LOCAL0`, an undefined `#!define` name, or
    /// a one-label host or interface name (`listen=eth0`).
    Ident(String),
    /// `[proto:]host[:port]`, written without blanks: `udp:10.0.0.10:5060`,
    /// `192.0.2.13`, `sip.example.com`, `tcp:[::1]:5061`.
    Addr(SockAddr),
    /// Several values separated by blanks; only `listen=` and `alias=`
    /// take a list (`alias=example.com sip.example.com:5060`).
    List(Vec<Value>),
}

/// `[proto:]host[:port]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SockAddr {
    pub proto: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.proto {
            write!(f, "{p}:")?;
        }
        match &self.host {
            Host::Name(n) => write!(f, "{n}")?,
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}")?,
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]")?,
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// The kind of a route block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// `route` / `route[N]` / `route[NAME]`: request routes.
    Request,
    /// `onreply_route` (also spelled `reply_route`).
    OnReply,
    /// `failure_route`.
    Failure,
    /// `branch_route`.
    Branch,
    /// `onsend_route`.
    OnSend,
    /// `event_route[module:event]`.
    Event,
}

impl RouteKind {
    /// The keyword that opens a block of this kind.
    pub fn from_keyword(word: &str) -> Option<RouteKind> {
        Some(match word {
            // `request_route` is Kamailio 4+'s name of the main route.
            "route" | "request_route" => RouteKind::Request,
            "onreply_route" | "reply_route" => RouteKind::OnReply,
            "failure_route" => RouteKind::Failure,
            "branch_route" => RouteKind::Branch,
            "onsend_route" => RouteKind::OnSend,
            "event_route" => RouteKind::Event,
            _ => return None,
        })
    }

    pub fn keyword(self) -> &'static str {
        match self {
            RouteKind::Request => "route",
            RouteKind::OnReply => "onreply_route",
            RouteKind::Failure => "failure_route",
            RouteKind::Branch => "branch_route",
            RouteKind::OnSend => "onsend_route",
            RouteKind::Event => "event_route",
        }
    }
}

/// A route's name: `route[1]` or `route[NAME]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RouteName {
    Number(i64),
    Name(String),
}

impl RouteName {
    /// `route[0]` is the main route in SER, the same as a bare `route`.
    pub fn is_main(&self) -> bool {
        *self == RouteName::Number(0)
    }
}

impl fmt::Display for RouteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteName::Number(n) => write!(f, "{n}"),
            RouteName::Name(s) => write!(f, "{s}"),
        }
    }
}

/// A route name where it is written (a block header or a `route(...)` call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRef {
    pub name: RouteName,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RouteBlock {
    pub kind: RouteKind,
    /// The keyword as written (`reply_route` vs `onreply_route`).
    pub keyword: String,
    /// `None` for `route { }` / `onreply_route { }`.
    pub name: Option<RouteRef>,
    pub body: Block,
}

/// A sequence of statements. Bodies written without braces (`if (c) x();`)
/// are blocks with `braced == false`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    /// The `{`, or the single statement of an unbraced body.
    pub span: Span,
    pub braced: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    /// The first token of the statement.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// A function call used as a statement: `t_relay();`, `exit_fn;`.
    Call(Call),
    /// `route(1);`, `route(NAME);`
    Route(RouteRef),
    /// `$var = expr;` / `$var := expr;`
    Assign(Assign),
    If(If),
    Switch(Switch),
    While(While),
    /// A nested `{ ... }`.
    Block(Block),
    /// `break;`: its meaning depends on the dialect and on whether it is
    /// inside a `switch`/`while` (see [`crate::Dialect::break_meaning`]).
    Break,
    /// `drop;` / `drop(expr);`
    Drop(Option<Expr>),
    /// `exit;` / `exit(expr);`
    Exit(Option<Expr>),
    /// `return;` / `return expr;`
    Return(Option<Expr>),
}

/// `name(args)`. Also a bare `name;` statement (Kamailio allows calling a
/// function without parentheses), with `parens == false`.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub name: Name,
    pub args: Vec<Expr>,
    pub parens: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`
    Set,
    /// `:=` (sip-router: replace all values of an AVP)
    SetAll,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Assign {
    pub target: Var,
    pub target_span: Span,
    pub op: AssignOp,
    pub value: Expr,
}

/// `if (c1) b1 else if (c2) b2 ... else e`. An `else if` chain is flat:
/// one arm per condition.
#[derive(Clone, Debug, PartialEq)]
pub struct If {
    pub arms: Vec<IfArm>,
    pub else_block: Option<Block>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IfArm {
    pub cond: Expr,
    pub body: Block,
    /// The `if` keyword of this arm.
    pub span: Span,
}

/// `switch (subject) { case L: ... default: ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Switch {
    pub subject: Expr,
    /// In source order. A label with an empty body falls through to the
    /// next one (`case -1: case -3: ...`), as does any body that does not
    /// end in `break`.
    pub cases: Vec<Case>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// `None` for `default:`.
    pub label: Option<CaseLabel>,
    pub body: Vec<Stmt>,
    /// The `case`/`default` keyword.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseLabel {
    Int(i64),
    Str(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct While {
    pub cond: Expr,
    pub body: Block,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    /// The first token of the expression.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    /// A string literal. Regular expressions (right of `=~`, function
    /// arguments) are strings too; the compiler compiles them.
    Str(String),
    /// `127.0.0.1`, `[::1]`, `10.0.0.0/8`.
    Ip {
        addr: IpAddr,
        mask: Option<u8>,
    },
    /// A bare word: `CANCEL` in `method == CANCEL`, `FLAG_ACC` in
    /// `setflag(FLAG_ACC)`, `udp` in `proto == udp`.
    Ident(String),
    /// A bare host name with dots or dashes, written without blanks:
    /// `gw.example.com` in `forward(gw.example.com, 5060)` (SER 0.9).
    Host(String),
    /// A core keyword value: `method`, `uri`, `myself`, `msg:len`, ...
    Keyword(Keyword),
    /// `$...` variables and `@...` selects.
    Var(Var),
    /// A function call used as a value: `if (!t_relay())`.
    Call(Call),
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `!`: binds looser than comparisons, as in SER: `!uri==myself` is
    /// `!(uri==myself)`.
    Not,
    /// `-`
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Match,
    NotMatch,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Match => "=~",
            BinaryOp::NotMatch => "!~",
            BinaryOp::Lt => "<",
            BinaryOp::Gt => ">",
            BinaryOp::Le => "<=",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::Match
                | BinaryOp::NotMatch
                | BinaryOp::Lt
                | BinaryOp::Gt
                | BinaryOp::Le
                | BinaryOp::Ge
        )
    }
}

/// Core keywords usable as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Keyword {
    Method,
    /// `uri` (the current Request-URI).
    Uri,
    /// `status` (reply status code).
    Status,
    FromUri,
    ToUri,
    SrcIp,
    SrcPort,
    DstIp,
    DstPort,
    SndIp,
    SndPort,
    SndProto,
    SndAf,
    ToIp,
    ToPort,
    Proto,
    Af,
    /// `msg:len`
    MsgLen,
    MaxLen,
    Myself,
    /// `uri:host` (argument of `forward`)
    UriHost,
    /// `uri:port`
    UriPort,
}

impl Keyword {
    /// A one-word keyword (`msg:len` and friends are [`Keyword::from_pair`]).
    pub fn from_word(w: &str) -> Option<Keyword> {
        Some(match w {
            "method" => Keyword::Method,
            "uri" => Keyword::Uri,
            "status" => Keyword::Status,
            "from_uri" => Keyword::FromUri,
            "to_uri" => Keyword::ToUri,
            "src_ip" => Keyword::SrcIp,
            "src_port" => Keyword::SrcPort,
            "dst_ip" => Keyword::DstIp,
            "dst_port" => Keyword::DstPort,
            "snd_ip" => Keyword::SndIp,
            "snd_port" => Keyword::SndPort,
            "snd_proto" => Keyword::SndProto,
            "snd_af" => Keyword::SndAf,
            "to_ip" => Keyword::ToIp,
            "to_port" => Keyword::ToPort,
            "proto" => Keyword::Proto,
            "af" => Keyword::Af,
            "max_len" => Keyword::MaxLen,
            "myself" => Keyword::Myself,
            _ => return None,
        })
    }

    /// `a:b` keywords: `msg:len`, `uri:host`, `uri:port`.
    pub fn from_pair(a: &str, b: &str) -> Option<Keyword> {
        Some(match (a, b) {
            ("msg", "len") => Keyword::MsgLen,
            ("uri", "host") => Keyword::UriHost,
            ("uri", "port") => Keyword::UriPort,
            _ => return None,
        })
    }

    pub fn spelling(self) -> &'static str {
        match self {
            Keyword::Method => "method",
            Keyword::Uri => "uri",
            Keyword::Status => "status",
            Keyword::FromUri => "from_uri",
            Keyword::ToUri => "to_uri",
            Keyword::SrcIp => "src_ip",
            Keyword::SrcPort => "src_port",
            Keyword::DstIp => "dst_ip",
            Keyword::DstPort => "dst_port",
            Keyword::SndIp => "snd_ip",
            Keyword::SndPort => "snd_port",
            Keyword::SndProto => "snd_proto",
            Keyword::SndAf => "snd_af",
            Keyword::ToIp => "to_ip",
            Keyword::ToPort => "to_port",
            Keyword::Proto => "proto",
            Keyword::Af => "af",
            Keyword::MsgLen => "msg:len",
            Keyword::MaxLen => "max_len",
            Keyword::Myself => "myself",
            Keyword::UriHost => "uri:host",
            Keyword::UriPort => "uri:port",
        }
    }
}

/// A `$...` variable or an `@...` select.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Var {
    /// The last return code: `$?` (SER 2.x), `$rc` or `$retcode` (Kamailio).
    RetCode(RetCodeForm),
    /// A Kamailio pseudo-variable: `$ru`, `$rU`, `$si`, `$null`,
    /// `$avp(i:80)`, `$var(x)`, `$hdr(From)`. A `$name` without parentheses
    /// is a PV when `name` is in [`KAMAILIO_PV_NAMES`], an AVP otherwise.
    Pv(Pv),
    /// A SER 2.x AVP: `$account`, `$t.did`, `$fd.digest_realm`.
    Avp(Avp),
    /// A select: `@to.tag`, `@ruri.host`, `$sel(cfg_get.pstn.gw_ip)`.
    Select(Select),
    /// A Kamailio transformation `$(ru{s.len})`, kept as written inside
    /// `$( )`.
    Transform(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetCodeForm {
    /// `$?`
    Question,
    /// `$rc`
    Rc,
    /// `$retcode`
    Retcode,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pv {
    pub name: String,
    /// The text inside `$name(...)`, as written.
    pub arg: Option<String>,
    /// The text inside a trailing `[...]`, as written.
    pub index: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Avp {
    pub track: Option<AvpTrack>,
    pub name: String,
    pub index: Option<String>,
}

/// The track/class prefix of a SER 2.x AVP: `f`rom / `t`o, optionally
/// restricted to the `u`ser, `d`omain or u`r`i class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AvpTrack {
    F,
    T,
    Fu,
    Tu,
    Fd,
    Td,
    Fr,
    Tr,
}

impl AvpTrack {
    pub fn from_prefix(s: &str) -> Option<AvpTrack> {
        Some(match s {
            "f" => AvpTrack::F,
            "t" => AvpTrack::T,
            "fu" => AvpTrack::Fu,
            "tu" => AvpTrack::Tu,
            "fd" => AvpTrack::Fd,
            "td" => AvpTrack::Td,
            "fr" => AvpTrack::Fr,
            "tr" => AvpTrack::Tr,
            _ => return None,
        })
    }

    pub fn prefix(self) -> &'static str {
        match self {
            AvpTrack::F => "f",
            AvpTrack::T => "t",
            AvpTrack::Fu => "fu",
            AvpTrack::Tu => "tu",
            AvpTrack::Fd => "fd",
            AvpTrack::Td => "td",
            AvpTrack::Fr => "fr",
            AvpTrack::Tr => "tr",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Select {
    pub segments: Vec<SelectSegment>,
    pub form: SelectForm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectForm {
    /// `@a.b.c` (SER 2.x)
    At,
    /// `$sel(a.b.c)` (Kamailio)
    Sel,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectSegment {
    pub name: String,
    pub index: Option<SelectIndex>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelectIndex {
    Int(i64),
    Str(String),
}

impl Select {
    /// The dotted path without indexes: `cfg_get.pstn.gw_ip`.
    pub fn path(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let idx = |i: &Option<String>| i.as_ref().map(|i| format!("[{i}]")).unwrap_or_default();
        match self {
            Var::RetCode(RetCodeForm::Question) => write!(f, "$?"),
            Var::RetCode(RetCodeForm::Rc) => write!(f, "$rc"),
            Var::RetCode(RetCodeForm::Retcode) => write!(f, "$retcode"),
            Var::Pv(p) => match &p.arg {
                Some(a) => write!(f, "${}({a}){}", p.name, idx(&p.index)),
                None => write!(f, "${}{}", p.name, idx(&p.index)),
            },
            Var::Avp(a) => match a.track {
                Some(t) => write!(f, "${}.{}{}", t.prefix(), a.name, idx(&a.index)),
                None => write!(f, "${}{}", a.name, idx(&a.index)),
            },
            Var::Select(s) => {
                let mut path = String::new();
                for (i, seg) in s.segments.iter().enumerate() {
                    if i > 0 {
                        path.push('.');
                    }
                    path.push_str(&seg.name);
                    match &seg.index {
                        Some(SelectIndex::Int(n)) => path.push_str(&format!("[{n}]")),
                        Some(SelectIndex::Str(s)) => path.push_str(&format!("[{s:?}]")),
                        None => {}
                    }
                }
                match s.form {
                    SelectForm::At => write!(f, "@{path}"),
                    SelectForm::Sel => write!(f, "$sel({path})"),
                }
            }
            Var::Transform(raw) => write!(f, "$({raw})"),
        }
    }
}

/// Names that make a bare `$name` a Kamailio pseudo-variable rather than a
/// SER 2.x AVP (Kamailio 3.1 `pv` module and core). `$rc`/`$retcode` are
/// [`Var::RetCode`]; any `$name(...)` is a pseudo-variable whatever its name.
pub const KAMAILIO_PV_NAMES: &[&str] = &[
    "ai", "adu", "ar", "au", "ad", "aU", "Au", "bf", "bF", "bs", "br", "bR", "bU", "ci", "cl",
    "cs", "ct", "cT", "dd", "di", "dip", "dp", "dP", "ds", "du", "fd", "fn", "fs", "ft", "fti",
    "fu", "fU", "mb", "mf", "mF", "mi", "ml", "mt", "od", "op", "oP", "ou", "oU", "pd", "pn", "pp",
    "pr", "proto", "pU", "pu", "rb", "rd", "re", "rm", "rp", "rP", "rr", "rs", "rt", "ru", "rU",
    "rv", "rz", "Ri", "Rp", "sf", "sF", "si", "sp", "td", "tn", "tt", "tu", "tU", "Tf", "TF", "Ts",
    "TS", "ua", "null",
];

impl Block {
    /// Calls `f` on every statement in the block and in nested blocks, in
    /// source order (pre-order).
    pub fn for_each_stmt<'a>(&'a self, f: &mut dyn FnMut(&'a Stmt)) {
        for s in &self.stmts {
            s.for_each_stmt(f);
        }
    }
}

impl Stmt {
    /// Calls `f` on this statement and every statement nested in it.
    pub fn for_each_stmt<'a>(&'a self, f: &mut dyn FnMut(&'a Stmt)) {
        f(self);
        match &self.kind {
            StmtKind::If(i) => {
                for arm in &i.arms {
                    arm.body.for_each_stmt(f);
                }
                if let Some(e) = &i.else_block {
                    e.for_each_stmt(f);
                }
            }
            StmtKind::Switch(s) => {
                for c in &s.cases {
                    for st in &c.body {
                        st.for_each_stmt(f);
                    }
                }
            }
            StmtKind::While(w) => w.body.for_each_stmt(f),
            StmtKind::Block(b) => b.for_each_stmt(f),
            _ => {}
        }
    }

    /// The expressions that belong directly to this statement (conditions,
    /// arguments, assigned values), not those of nested statements.
    pub fn exprs(&self) -> Vec<&Expr> {
        match &self.kind {
            StmtKind::Call(c) => c.args.iter().collect(),
            StmtKind::Assign(a) => vec![&a.value],
            StmtKind::If(i) => i.arms.iter().map(|a| &a.cond).collect(),
            StmtKind::Switch(s) => vec![&s.subject],
            StmtKind::While(w) => vec![&w.cond],
            StmtKind::Drop(e) | StmtKind::Exit(e) | StmtKind::Return(e) => e.iter().collect(),
            StmtKind::Route(_) | StmtKind::Block(_) | StmtKind::Break => Vec::new(),
        }
    }
}

impl Expr {
    /// Calls `f` on this expression and every sub-expression (pre-order),
    /// including call arguments.
    pub fn for_each<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Call(c) => {
                for a in &c.args {
                    a.for_each(f);
                }
            }
            ExprKind::Unary { operand, .. } => operand.for_each(f),
            ExprKind::Binary { lhs, rhs, .. } => {
                lhs.for_each(f);
                rhs.for_each(f);
            }
            _ => {}
        }
    }
}

/// Helpers to build IP values.
impl Host {
    pub fn v4(a: Ipv4Addr) -> Host {
        Host::Ip(IpAddr::V4(a))
    }

    pub fn v6(a: Ipv6Addr) -> Host {
        Host::Ip(IpAddr::V6(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip() {
        for w in [
            "method", "uri", "status", "from_uri", "src_ip", "max_len", "myself", "af", "proto",
        ] {
            assert_eq!(Keyword::from_word(w).map(Keyword::spelling), Some(w));
        }
        assert_eq!(Keyword::from_pair("msg", "len"), Some(Keyword::MsgLen));
        assert_eq!(Keyword::MsgLen.spelling(), "msg:len");
        assert_eq!(Keyword::from_word("len"), None);
    }

    #[test]
    fn var_display() {
        let sel = Var::Select(Select {
            segments: vec![
                SelectSegment {
                    name: "cfg_get".into(),
                    index: None,
                },
                SelectSegment {
                    name: "x".into(),
                    index: Some(SelectIndex::Int(1)),
                },
            ],
            form: SelectForm::Sel,
        });
        assert_eq!(sel.to_string(), "$sel(cfg_get.x[1])");
        let avp = Var::Avp(Avp {
            track: Some(AvpTrack::Fd),
            name: "digest_realm".into(),
            index: None,
        });
        assert_eq!(avp.to_string(), "$fd.digest_realm");
        let pv = Var::Pv(Pv {
            name: "avp".into(),
            arg: Some("i:80".into()),
            index: None,
        });
        assert_eq!(pv.to_string(), "$avp(i:80)");
        assert_eq!(Var::RetCode(RetCodeForm::Question).to_string(), "$?");
    }

    #[test]
    fn modparam_modules_split() {
        let m = ModParam {
            module: "auth_db| usrloc".into(),
            module_span: Span::default(),
            param: Name {
                name: "db_url".into(),
                span: Span::default(),
            },
            value: Value {
                kind: ValueKind::Int(1),
                span: Span::default(),
            },
        };
        assert_eq!(m.modules().collect::<Vec<_>>(), vec!["auth_db", "usrloc"]);
    }

    #[test]
    fn sockaddr_display() {
        let a = SockAddr {
            proto: Some("udp".into()),
            host: Host::v6(Ipv6Addr::LOCALHOST),
            port: Some(5060),
        };
        assert_eq!(a.to_string(), "udp:[::1]:5060");
    }

    #[test]
    fn route_kinds() {
        assert_eq!(
            RouteKind::from_keyword("reply_route"),
            Some(RouteKind::OnReply)
        );
        assert_eq!(RouteKind::Failure.keyword(), "failure_route");
        assert!(RouteName::Number(0).is_main());
    }
}
