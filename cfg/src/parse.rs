//! The parser: recursive descent over the preprocessed token stream.
//!
//! Grammar (informal; `{}` repeat, `[]` optional):
//!
//! ```text
//! script    = { item | ";" }
//! item      = NAME "=" value                      -- debug=3, listen=udp:1.2.3.4:5060
//!           | NAME "." NAME "=" value ["desc" STRING]   -- custom parameter
//!           | "loadmodule" STRING
//!           | ("loadpath" | "mpath") ["="] STRING
//!           | "modparam" "(" STRING "," STRING "," value ")"
//!           | "flags" flag {"," flag} ";"          -- flag = NAME [":" INT]
//!           | "avpflags" NAME {"," NAME} ";"
//!           | routekw ["[" routename "]"] block   -- route, onreply_route, failure_route,
//!                                                 -- branch_route, onsend_route, event_route
//! block     = "{" { stmt } "}"
//! body      = block | stmt                        -- after if/else/while
//! stmt      = ";" | block
//!           | "if" expr body {"else" "if" expr body} ["else" body]
//!           | "switch" expr "{" { ("case" label | "default") ":" {stmt} } "}"
//!           | "while" expr body
//!           | "break" ";" | ("drop" | "exit" | "return") [expr] ";"
//!           | "route" "(" routename ")" ";"
//!           | var ("=" | ":=") expr ";"
//!           | NAME "(" [expr {"," expr}] ")" ";" | NAME ";"
//! expr      = and {"||" and}
//! and       = not {"&&" not}
//! not       = "!" not | cmp                       -- `!` binds looser than comparisons
//! cmp       = add {("==" | "!=" | "=~" | "!~" | "<" | ">" | "<=" | ">=") add}
//! add       = mul {("+" | "-") mul}
//! mul       = unary {("*" | "/" | "%") unary}
//! unary     = "-" unary | primary
//! primary   = INT | STRING | IP ["/" (INT | IP)] | var | "@" select | "(" expr ")"
//!           | NAME "(" args ")" | keyword | host | NAME  -- a bare NAME is a word (`CANCEL`)
//! ```
//!
//! Conditions are usually written in parentheses, but as in SER's grammar
//! (`IF exp stm`) the parentheses are part of the expression, so `if
//! uri==myself { ... }` is accepted too. As in SER 0.8/0.9, the single
//! statement of an unbraced `if` branch may omit its `;` before `else`
//! (`if (c) f() else g();`); everywhere else simple statements end with
//! `;`.
//!
//! Parts written without blanks are glued by position: `msg:len`,
//! `uri:host`, `udp:10.0.0.10:5060`, `pstn.gw_ip`, `@from.uri.host`,
//! `gw.example.com`, `10.0.0.0/8`, `10.0.0.0/255.0.0.0`.
//!
//! Recursion is bounded by [`Limits::max_nesting`] (blocks, parentheses,
//! unary operators, call arguments) and the depth of an expression tree by
//! [`Limits::max_expr_depth`], so neither the parser nor later passes over
//! the tree can exhaust the stack.

use std::net::IpAddr;

use crate::Limits;
use crate::ast::*;
use crate::lex::{Tok, Token, VarTok};
use crate::source::{Error, FileId, Result};

static EOF_TOKEN: Token = Token {
    tok: Tok::Eof,
    span: Span::new(FileId(0), 1, 1),
    space_before: true,
};

const PROTOS: &[&str] = &["udp", "tcp", "tls", "sctp", "ws", "wss", "any"];

pub(crate) struct Parser<'t> {
    toks: &'t [Token],
    pos: usize,
    depth: usize,
    limits: &'t Limits,
    /// The `{` of every block being parsed, innermost last.
    open: Vec<Span>,
    /// The `}` that closed the last route block.
    last_route_end: Option<Span>,
    /// Parsing the unbraced then-branch of an `if`: SER's grammar lets
    /// its statement omit the `;` before `else` (`if (c) f() else g();`).
    semi_before_else: bool,
}

/// An expression and the depth of its tree.
type P = (Expr, usize);

/// Binding power of the operand of prefix `!`: comparisons and tighter.
const NOT_OPERAND_BP: u8 = 4;
/// Binding power of the operand of prefix `-`: only primaries.
const NEG_OPERAND_BP: u8 = 7;

fn infix(tok: &Tok) -> Option<(BinaryOp, u8)> {
    Some(match tok {
        Tok::OrOr => (BinaryOp::Or, 1),
        Tok::AndAnd => (BinaryOp::And, 2),
        Tok::Eq => (BinaryOp::Eq, 4),
        Tok::Ne => (BinaryOp::Ne, 4),
        Tok::Match => (BinaryOp::Match, 4),
        Tok::NotMatch => (BinaryOp::NotMatch, 4),
        Tok::Lt => (BinaryOp::Lt, 4),
        Tok::Gt => (BinaryOp::Gt, 4),
        Tok::Le => (BinaryOp::Le, 4),
        Tok::Ge => (BinaryOp::Ge, 4),
        Tok::Plus => (BinaryOp::Add, 5),
        Tok::Minus => (BinaryOp::Sub, 5),
        Tok::Star => (BinaryOp::Mul, 6),
        Tok::Slash => (BinaryOp::Div, 6),
        Tok::Percent => (BinaryOp::Mod, 6),
        _ => return None,
    })
}

fn bool_word(w: &str) -> Option<bool> {
    match w {
        "yes" | "true" | "on" | "enable" => Some(true),
        "no" | "false" | "off" | "disable" => Some(false),
        _ => None,
    }
}

fn is_stmt_keyword(w: &str) -> bool {
    matches!(
        w,
        "if" | "else"
            | "switch"
            | "case"
            | "default"
            | "while"
            | "break"
            | "drop"
            | "exit"
            | "return"
    )
}

impl<'t> Parser<'t> {
    /// `toks` must end with [`Tok::Eof`] (the preprocessor guarantees it).
    pub fn new(toks: &'t [Token], limits: &'t Limits) -> Parser<'t> {
        Parser {
            toks,
            pos: 0,
            depth: 0,
            limits,
            open: Vec::new(),
            last_route_end: None,
            semi_before_else: false,
        }
    }

    // ----- token access -----

    fn at(&self, i: usize) -> &'t Token {
        self.toks.get(i).or(self.toks.last()).unwrap_or(&EOF_TOKEN)
    }

    fn peek(&self) -> &'t Token {
        self.at(self.pos)
    }

    fn nth(&self, n: usize) -> &'t Token {
        self.at(self.pos.saturating_add(n))
    }

    fn bump(&mut self) -> &'t Token {
        let t = self.peek();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn is(&self, tok: &Tok) -> bool {
        self.peek().tok == *tok
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(x) if x == w)
    }

    /// The token `n` ahead is `tok` and written right after the previous one.
    fn glued(&self, n: usize, tok: &Tok) -> bool {
        let t = self.nth(n);
        !t.space_before && t.tok == *tok
    }

    // Error constructors are cold and out of line: the recursive functions
    // stay small, so nesting costs little stack even in debug builds.

    #[cold]
    #[inline(never)]
    fn err_here(&self, expected: &str) -> Error {
        let t = self.peek();
        Error::new(
            t.span,
            format!("expected {expected}, found {}", t.tok.describe()),
        )
    }

    /// [`Parser::err_here`] with a hint when the offending token is `=`
    /// where a comparison was probably meant.
    #[cold]
    #[inline(never)]
    fn err_here_eq(&self, expected: &str) -> Error {
        let mut e = self.err_here(expected);
        if self.is(&Tok::Assign) {
            e.msg.push_str(" (use `==` to compare)");
        }
        e
    }

    #[cold]
    #[inline(never)]
    fn err_expected_tok(&self, tok: &Tok, context: &str) -> Error {
        self.err_here(&format!("`{}` {context}", tok.punct()))
    }

    #[cold]
    #[inline(never)]
    fn err_at(&self, span: Span, msg: String) -> Error {
        Error::new(span, msg)
    }

    fn expect(&mut self, tok: &Tok, context: &str) -> Result<Span> {
        if self.is(tok) {
            Ok(self.bump().span)
        } else {
            Err(self.err_expected_tok(tok, context))
        }
    }

    /// `;` after a statement described by `after` (built only on error).
    fn semi(&mut self, after: impl FnOnce() -> String) -> Result<()> {
        if self.is(&Tok::Semi) {
            self.bump();
            Ok(())
        } else if self.semi_before_else && self.is_word("else") {
            Ok(())
        } else {
            Err(self.err_expected_tok(&Tok::Semi, &format!("after {}", after())))
        }
    }

    fn string(&mut self, expected: &str) -> Result<(String, Span)> {
        let t = self.peek();
        match &t.tok {
            Tok::Str(s) => {
                self.bump();
                Ok((s.clone(), t.span))
            }
            _ => Err(self.err_here(expected)),
        }
    }

    fn enter(&mut self, span: Span) -> Result<()> {
        self.depth += 1;
        if self.depth > self.limits.max_nesting {
            return Err(Error::new(
                span,
                format!(
                    "blocks or expressions nested too deeply (more than {} levels)",
                    self.limits.max_nesting
                ),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // ----- items -----

    pub fn parse_script(&mut self) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            let t = self.peek();
            match &t.tok {
                Tok::Eof => return Ok(items),
                Tok::Semi => {
                    self.bump();
                }
                Tok::Ident(_) => items.push(self.item()?),
                _ => {
                    return Err(self.err_here(
                        "a global parameter, `loadmodule`, `modparam` or a route block",
                    ));
                }
            }
        }
    }

    fn item(&mut self) -> Result<Item> {
        let t = self.bump();
        let span = t.span;
        let Tok::Ident(word) = &t.tok else {
            return Err(Error::new(span, "expected a name"));
        };
        let w = word.as_str();
        let next = &self.peek().tok;
        let kind = match w {
            "loadmodule" => {
                let (path, path_span) =
                    self.string("a module name or path string after `loadmodule`")?;
                ItemKind::LoadModule(LoadModule { path, path_span })
            }
            "loadpath" | "mpath" => {
                if self.is(&Tok::Assign) {
                    self.bump();
                }
                let (path, path_span) = self.string(&format!("a directory string after `{w}`"))?;
                ItemKind::LoadPath(LoadPath {
                    keyword: w.to_string(),
                    path,
                    path_span,
                })
            }
            "modparam" => self.modparam()?,
            "flags" if !matches!(next, Tok::Assign) => ItemKind::Flags(self.flags()?),
            "avpflags" if !matches!(next, Tok::Assign) => ItemKind::AvpFlags(self.avpflags()?),
            _ if RouteKind::from_keyword(w).is_some()
                && matches!(next, Tok::LBracket | Tok::LBrace) =>
            {
                let kind = RouteKind::from_keyword(w).unwrap_or(RouteKind::Request);
                self.route_block(kind, w)?
            }
            _ if self.glued(0, &Tok::Dot)
                && matches!(self.nth(1).tok, Tok::Ident(_))
                && !self.nth(1).space_before =>
            {
                self.cfg_var(w, span)?
            }
            _ if matches!(next, Tok::Assign) => {
                self.bump();
                let value = self.value(&format!("a value after `{w}=`"), true)?;
                if let ValueKind::Ident(v) = &value.kind
                    && self.is(&Tok::Assign)
                {
                    // `debug=` then `fork=no` on the next line.
                    return Err(Error::new(
                        value.span,
                        format!("expected a value after `{w}=`, found `{v}`"),
                    ));
                }
                let value = if matches!(w, "listen" | "alias") {
                    self.address_list(value)?
                } else {
                    value
                };
                ItemKind::Param(Param {
                    name: Name {
                        name: w.to_string(),
                        span,
                    },
                    value,
                })
            }
            _ if matches!(next, Tok::LParen) || is_stmt_keyword(w) => {
                let what = if is_stmt_keyword(w) {
                    format!("`{w}`")
                } else {
                    format!("`{w}(...)`")
                };
                let hint = match self.last_route_end {
                    Some(c) => format!(
                        " (the route block above ends at the `}}` at {}:{}; is it one too many?)",
                        c.line, c.col
                    ),
                    None => String::new(),
                };
                return Err(Error::new(
                    span,
                    format!("{what} must be inside a route block{hint}"),
                ));
            }
            _ => {
                return Err(Error::new(
                    self.peek().span,
                    format!(
                        "expected `=` after parameter name `{w}`, found {}",
                        self.peek().tok.describe()
                    ),
                ));
            }
        };
        Ok(Item { kind, span })
    }

    /// A parameter value. `addresses`: parse `[proto:]host[:port]` forms.
    fn value(&mut self, expected: &str, addresses: bool) -> Result<Value> {
        let t = self.peek();
        let span = t.span;
        let kind = match &t.tok {
            Tok::Str(s) => {
                self.bump();
                ValueKind::Str(s.clone())
            }
            Tok::Minus if matches!(self.nth(1).tok, Tok::Int(_)) => {
                self.bump();
                match &self.bump().tok {
                    Tok::Int(n) => ValueKind::Int(-*n),
                    _ => return Err(Error::new(span, "expected a number")),
                }
            }
            Tok::Int(_)
                if addresses && (self.glued(1, &Tok::Dot) || self.glued(1, &Tok::Minus)) =>
            {
                ValueKind::Addr(self.address()?)
            }
            Tok::Int(n) => {
                self.bump();
                ValueKind::Int(*n)
            }
            Tok::Ipv4(_) | Tok::Ipv6(_) if addresses => ValueKind::Addr(self.address()?),
            Tok::Ident(w)
                if addresses
                    && (self.glued(1, &Tok::Colon)
                        || self.glued(1, &Tok::Dot)
                        || self.glued(1, &Tok::Minus)) =>
            {
                let _ = w;
                ValueKind::Addr(self.address()?)
            }
            Tok::Ident(w) => {
                self.bump();
                match bool_word(w) {
                    Some(b) => ValueKind::Bool(b),
                    None => ValueKind::Ident(w.clone()),
                }
            }
            _ => return Err(self.err_here(expected)),
        };
        Ok(Value { kind, span })
    }

    /// `listen=` and `alias=` take a blank-separated list (SER's `id_lst`):
    /// `alias=example.com sip.example.com:5060`. Returns `first` alone or a
    /// [`ValueKind::List`].
    fn address_list(&mut self, first: Value) -> Result<Value> {
        let mut items = vec![first];
        while self.starts_list_address() {
            let v = self.value("an address", true)?;
            items.push(v);
        }
        if items.len() == 1 {
            return Ok(items.remove(0));
        }
        let span = items[0].span;
        Ok(Value {
            kind: ValueKind::List(items),
            span,
        })
    }

    /// Whether the current token continues an address list rather than
    /// starting the next item (`name=`, `name.id =`, `loadmodule "x"`, ...).
    fn starts_list_address(&self) -> bool {
        match &self.peek().tok {
            Tok::Str(_) | Tok::Ipv4(_) | Tok::Ipv6(_) => true,
            Tok::Ident(w) => {
                let next = &self.nth(1).tok;
                let item_word = matches!(
                    w.as_str(),
                    "loadmodule" | "loadpath" | "mpath" | "modparam" | "flags" | "avpflags"
                ) || RouteKind::from_keyword(w).is_some();
                if item_word
                    || matches!(
                        next,
                        Tok::Assign | Tok::LParen | Tok::LBracket | Tok::LBrace
                    )
                {
                    return false;
                }
                // `group.id =` starts a custom parameter.
                let mut i = 1;
                while self.glued(i, &Tok::Dot)
                    && matches!(self.nth(i + 1).tok, Tok::Ident(_) | Tok::Int(_))
                {
                    i += 2;
                }
                !matches!(self.nth(i).tok, Tok::Assign)
            }
            _ => false,
        }
    }

    /// `[proto:]host[:port]`, all parts glued together.
    fn address(&mut self) -> Result<SockAddr> {
        let mut proto = None;
        if let Tok::Ident(w) = &self.peek().tok
            && PROTOS.contains(&w.as_str())
            && self.glued(1, &Tok::Colon)
            && !self.nth(2).space_before
        {
            proto = Some(w.clone());
            self.bump();
            self.bump();
        }
        let t = self.bump();
        let host = match &t.tok {
            Tok::Ipv4(a) => Host::v4(*a),
            Tok::Ipv6(a) => Host::v6(*a),
            Tok::Ident(_) | Tok::Int(_) => {
                let mut name = word_text(&t.tok);
                loop {
                    let n = self.peek();
                    let sep = match n.tok {
                        Tok::Dot => ".",
                        Tok::Minus => "-",
                        _ => break,
                    };
                    let after = self.nth(1);
                    if n.space_before
                        || after.space_before
                        || !matches!(after.tok, Tok::Ident(_) | Tok::Int(_))
                    {
                        break;
                    }
                    name.push_str(sep);
                    name.push_str(&word_text(&after.tok));
                    self.bump();
                    self.bump();
                }
                Host::Name(name)
            }
            other => {
                return Err(Error::new(
                    t.span,
                    format!(
                        "expected a host name or IP address, found {}",
                        other.describe()
                    ),
                ));
            }
        };
        let mut port = None;
        if self.glued(0, &Tok::Colon) {
            let p = self.nth(1);
            match p.tok {
                Tok::Int(n) if !p.space_before => {
                    self.bump();
                    self.bump();
                    port = Some(u16::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                        Error::new(p.span, format!("port {n} is out of range (1-65535)"))
                    })?);
                }
                _ => {
                    return Err(Error::new(
                        p.span,
                        format!(
                            "expected a port number after `:`, found {}",
                            p.tok.describe()
                        ),
                    ));
                }
            }
        }
        Ok(SockAddr { proto, host, port })
    }

    fn cfg_var(&mut self, group: &str, span: Span) -> Result<ItemKind> {
        self.bump(); // .
        let id_tok = self.bump();
        let id = Name {
            name: word_text(&id_tok.tok),
            span: id_tok.span,
        };
        let full = format!("{group}.{}", id.name);
        if self.is(&Tok::Dot) {
            return Err(self.err_here(&format!("`=` after custom parameter `{full}`")));
        }
        self.expect(&Tok::Assign, &format!("after custom parameter `{full}`"))?;
        let value = self.value(&format!("a value after `{full} =`"), false)?;
        let mut desc = None;
        if self.is_word("desc") {
            self.bump();
            desc = Some(
                self.string(&format!("a description string after `desc` of `{full}`"))?
                    .0,
            );
        }
        Ok(ItemKind::CfgVar(CfgVar {
            group: Name {
                name: group.to_string(),
                span,
            },
            id,
            value,
            desc,
        }))
    }

    fn modparam(&mut self) -> Result<ItemKind> {
        self.expect(&Tok::LParen, "after `modparam`")?;
        let (module, module_span) = self.string("a module name string in `modparam(...)`")?;
        self.expect(&Tok::Comma, "after the module name in `modparam(...)`")?;
        let (param, param_span) = self.string("a parameter name string in `modparam(...)`")?;
        self.expect(&Tok::Comma, "after the parameter name in `modparam(...)`")?;
        let value = self.value(
            "a value (string, number or yes/no) in `modparam(...)`",
            false,
        )?;
        self.expect(&Tok::RParen, "after the value in `modparam(...)`")?;
        Ok(ItemKind::ModParam(ModParam {
            module,
            module_span,
            param: Name {
                name: param,
                span: param_span,
            },
            value,
        }))
    }

    fn decl_name(&mut self, what: &str) -> Result<Name> {
        let t = self.peek();
        match &t.tok {
            Tok::Ident(n) | Tok::Str(n) => {
                self.bump();
                Ok(Name {
                    name: n.clone(),
                    span: t.span,
                })
            }
            _ => Err(self.err_here(what)),
        }
    }

    fn flags(&mut self) -> Result<Vec<FlagDecl>> {
        let mut out = Vec::new();
        loop {
            let name = self.decl_name("a flag name in `flags` declaration")?;
            let mut number = None;
            if self.is(&Tok::Colon) {
                self.bump();
                match self.peek().tok {
                    Tok::Int(n) => {
                        self.bump();
                        number = Some(n);
                    }
                    _ => return Err(self.err_here(&format!("a flag number for `{}`", name.name))),
                }
            }
            out.push(FlagDecl { name, number });
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::Semi => {
                    self.bump();
                    return Ok(out);
                }
                _ => return Err(self.err_here("`,` or `;` after flag declaration")),
            }
        }
    }

    fn avpflags(&mut self) -> Result<Vec<Name>> {
        let mut out = Vec::new();
        loop {
            out.push(self.decl_name("an AVP flag name in `avpflags` declaration")?);
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::Semi => {
                    self.bump();
                    return Ok(out);
                }
                _ => return Err(self.err_here("`,` or `;` after AVP flag name")),
            }
        }
    }

    fn route_block(&mut self, kind: RouteKind, keyword: &str) -> Result<ItemKind> {
        let mut name = None;
        if self.is(&Tok::LBracket) {
            self.bump();
            name = Some(if kind == RouteKind::Event {
                self.event_name()?
            } else {
                self.route_name(keyword)?
            });
            self.expect(&Tok::RBracket, &format!("after `{keyword}[` name"))?;
        }
        let body = self.block(&format!("to open the `{keyword}` body"))?;
        Ok(ItemKind::Route(RouteBlock {
            kind,
            keyword: keyword.to_string(),
            name,
            body,
        }))
    }

    fn route_name(&mut self, ctx: &str) -> Result<RouteRef> {
        let t = self.peek();
        let name = match &t.tok {
            Tok::Int(n) => RouteName::Number(*n),
            Tok::Ident(s) | Tok::Str(s) => RouteName::Name(s.clone()),
            _ => return Err(self.err_here(&format!("a route name or number in `{ctx}`"))),
        };
        self.bump();
        Ok(RouteRef { name, span: t.span })
    }

    /// `event_route[module:event-name]`: everything up to `]`, glued.
    fn event_name(&mut self) -> Result<RouteRef> {
        let span = self.peek().span;
        let mut text = String::new();
        loop {
            let t = self.peek();
            let piece = match &t.tok {
                Tok::Ident(s) => s.clone(),
                Tok::Int(n) => n.to_string(),
                Tok::Str(s) if text.is_empty() => s.clone(),
                Tok::Colon | Tok::Minus | Tok::Dot => t.tok.punct().to_string(),
                _ => break,
            };
            self.bump();
            text.push_str(&piece);
        }
        if text.is_empty() {
            return Err(self.err_here("an event name in `event_route[...]`"));
        }
        Ok(RouteRef {
            name: RouteName::Name(text),
            span,
        })
    }

    // ----- statements -----
    //
    // Recursion per nesting level: block -> stmt -> word_stmt -> if_stmt ->
    // body -> block; each counted by `enter`.

    fn block(&mut self, context: &str) -> Result<Block> {
        let open = self.expect(&Tok::LBrace, context)?;
        self.enter(open)?;
        self.open.push(open);
        let mut stmts = Vec::new();
        loop {
            match self.peek().tok {
                Tok::RBrace => {
                    let close = self.bump().span;
                    if self.open.len() == 1 {
                        self.last_route_end = Some(close);
                    }
                    break;
                }
                Tok::Eof => return Err(self.err_unclosed(open, "the block")),
                _ => {
                    if let Some(s) = self.stmt()? {
                        stmts.push(s);
                    }
                }
            }
        }
        self.open.pop();
        self.leave();
        Ok(Block {
            stmts,
            span: open,
            braced: true,
        })
    }

    #[cold]
    #[inline(never)]
    fn err_unclosed(&self, open: Span, what: &str) -> Error {
        self.err_here(&format!(
            "`}}` to close {what} opened at {}:{}",
            open.line, open.col
        ))
    }

    /// The body of `if`/`else`/`while`: a block or one statement.
    /// `then_branch`: the body of an `if` arm, whose single statement may
    /// omit its `;` before `else`.
    fn body(&mut self, after: &'static str, then_branch: bool) -> Result<Block> {
        let t = self.peek();
        match t.tok {
            Tok::LBrace => self.block(""),
            Tok::RBrace | Tok::Eof | Tok::Assign => Err(self.err_no_body(after)),
            _ => {
                self.enter(t.span)?;
                let outer = std::mem::replace(&mut self.semi_before_else, then_branch);
                let s = self.stmt();
                self.semi_before_else = outer;
                self.leave();
                s.map(|s| Block {
                    stmts: s.into_iter().collect(),
                    span: t.span,
                    braced: false,
                })
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn err_no_body(&self, after: &str) -> Error {
        self.err_here_eq(&format!("a statement or `{{` after {after}"))
    }

    /// One statement; `None` for an empty `;`. Only the statements that
    /// nest (blocks, `if`, `switch`, `while`) recurse from here, through
    /// small functions; the rest is done in `leaf_stmt`.
    fn stmt(&mut self) -> Result<Option<Stmt>> {
        let t = self.peek();
        let kind = match &t.tok {
            Tok::Semi => {
                self.bump();
                return Ok(None);
            }
            Tok::LBrace => self.block("").map(StmtKind::Block),
            Tok::Ident(w) if w == "if" => self.if_stmt(),
            Tok::Ident(w) if w == "switch" => self.switch_stmt(),
            Tok::Ident(w) if w == "while" => self.while_stmt(),
            _ => self.leaf_stmt(),
        };
        kind.map(|kind| Some(Stmt { kind, span: t.span }))
    }

    #[inline(never)]
    fn leaf_stmt(&mut self) -> Result<StmtKind> {
        let t = self.peek();
        match &t.tok {
            Tok::Var(v) => self.assign_stmt(v, t.span),
            Tok::Ident(w) => self.word_stmt(w, t.span),
            _ => Err(self.err_here("a statement")),
        }
    }

    fn while_stmt(&mut self) -> Result<StmtKind> {
        self.bump();
        let cond = self.cond("while")?;
        let body = self.body("`while (...)`", false)?;
        Ok(StmtKind::While(While { cond, body }))
    }

    fn assign_stmt(&mut self, v: &VarTok, span: Span) -> Result<StmtKind> {
        self.bump();
        let target = self.var(v, span)?;
        let op = match self.peek().tok {
            Tok::Assign => AssignOp::Set,
            Tok::ColonAssign => AssignOp::SetAll,
            _ => return Err(self.err_assign(&target)),
        };
        self.bump();
        let value = self.expr()?;
        self.semi(|| "assignment".into())?;
        Ok(StmtKind::Assign(Assign {
            target,
            target_span: span,
            op,
            value,
        }))
    }

    #[cold]
    #[inline(never)]
    fn err_assign(&self, target: &Var) -> Error {
        if self.is(&Tok::Eq) {
            self.err_here(&format!("`=` to assign to `{target}` (`==` compares)"))
        } else {
            self.err_here(&format!("`=` to assign to `{target}`"))
        }
    }

    /// A statement that starts with a word.
    fn word_stmt(&mut self, w: &'t str, span: Span) -> Result<StmtKind> {
        match w {
            "break" => {
                self.bump();
                self.semi(|| "`break`".into())?;
                Ok(StmtKind::Break)
            }
            "drop" | "exit" | "return" => {
                self.bump();
                let value = if self.is(&Tok::Semi) {
                    None
                } else {
                    Some(self.expr()?)
                };
                self.semi(|| format!("`{w}`"))?;
                Ok(match w {
                    "drop" => StmtKind::Drop(value),
                    "exit" => StmtKind::Exit(value),
                    _ => StmtKind::Return(value),
                })
            }
            "else" => Err(self.err_at(span, "`else` without `if`".into())),
            "case" | "default"
                if matches!(
                    self.nth(1).tok,
                    Tok::Colon | Tok::Int(_) | Tok::Str(_) | Tok::Minus
                ) =>
            {
                Err(self.err_at(span, format!("`{w}` outside `switch`")))
            }
            _ if self.starts_item(w) => {
                let open = self.open.last().copied().unwrap_or(span);
                Err(self.err_at(
                    span,
                    format!(
                        "expected `}}` to close the block opened at {}:{}, found `{w}`",
                        open.line, open.col
                    ),
                ))
            }
            "route" if matches!(self.nth(1).tok, Tok::LParen) => {
                self.bump();
                self.bump();
                let r = self.route_name("route(...)")?;
                self.expect(&Tok::RParen, "after the route name in `route(...)`")?;
                self.semi(|| "`route(...)`".into())?;
                Ok(StmtKind::Route(r))
            }
            _ => {
                self.bump();
                let name = Name {
                    name: w.to_string(),
                    span,
                };
                match self.peek().tok {
                    Tok::LParen => {
                        let args = self.args()?;
                        self.semi(|| format!("`{w}(...)`"))?;
                        Ok(StmtKind::Call(Call {
                            name,
                            args,
                            parens: true,
                        }))
                    }
                    Tok::Semi => {
                        self.bump();
                        Ok(StmtKind::Call(Call {
                            name,
                            args: Vec::new(),
                            parens: false,
                        }))
                    }
                    _ => Err(self.err_here(&format!("`(` after function name `{w}`"))),
                }
            }
        }
    }

    /// Whether the word at the current token starts a top-level item (a
    /// route block header, `loadmodule "..."`, `modparam(`), which means a
    /// `}` is missing before it.
    fn starts_item(&self, w: &str) -> bool {
        let next = &self.nth(1).tok;
        match w {
            _ if RouteKind::from_keyword(w).is_some() => {
                matches!(next, Tok::LBracket | Tok::LBrace)
            }
            "loadmodule" | "loadpath" => matches!(next, Tok::Str(_)),
            "modparam" => matches!(next, Tok::LParen) && matches!(self.nth(2).tok, Tok::Str(_)),
            _ => false,
        }
    }

    /// The condition after `if`, `while`, `switch`: an expression, usually
    /// in parentheses. As in SER's grammar (`IF exp stm`), the parentheses
    /// belong to the expression, so `if uri==myself { ... }` is accepted.
    fn cond(&mut self, kw: &'static str) -> Result<Expr> {
        if matches!(
            self.peek().tok,
            Tok::LBrace | Tok::RBrace | Tok::Semi | Tok::Eof
        ) {
            return Err(self.err_cond(kw));
        }
        self.expr()
    }

    #[cold]
    #[inline(never)]
    fn err_cond(&self, kw: &str) -> Error {
        self.err_here(&format!("a condition after `{kw}`"))
    }

    fn if_stmt(&mut self) -> Result<StmtKind> {
        let mut arms = Vec::new();
        let mut else_block = None;
        loop {
            let span = self.bump().span; // `if`
            let cond = self.cond("if")?;
            let body = self.body("`if (...)`", true)?;
            arms.push(IfArm { cond, body, span });
            if !self.is_word("else") {
                break;
            }
            self.bump();
            if self.is_word("if") {
                continue;
            }
            else_block = Some(self.body("`else`", false)?);
            break;
        }
        Ok(StmtKind::If(If { arms, else_block }))
    }

    fn switch_stmt(&mut self) -> Result<StmtKind> {
        self.bump();
        let subject = self.cond("switch")?;
        let open = self.expect(&Tok::LBrace, "to open the `switch` body")?;
        self.enter(open)?;
        self.open.push(open);
        let mut cases: Vec<Case> = Vec::new();
        loop {
            let t = self.peek();
            match &t.tok {
                Tok::RBrace => {
                    self.bump();
                    break;
                }
                Tok::Eof => return Err(self.err_unclosed(open, "the `switch`")),
                Tok::Ident(w) if w == "case" => {
                    self.bump();
                    let label = self.case_label()?;
                    self.expect(&Tok::Colon, "after `case` label")?;
                    cases.push(Case {
                        label: Some(label),
                        body: Vec::new(),
                        span: t.span,
                    });
                }
                Tok::Ident(w) if w == "default" => {
                    self.bump();
                    self.expect(&Tok::Colon, "after `default`")?;
                    cases.push(Case {
                        label: None,
                        body: Vec::new(),
                        span: t.span,
                    });
                }
                _ => {
                    let Some(case) = cases.last_mut() else {
                        return Err(self.err_here("`case` or `default` in `switch` body"));
                    };
                    if let Some(s) = self.stmt()? {
                        case.body.push(s);
                    }
                }
            }
        }
        self.open.pop();
        self.leave();
        Ok(StmtKind::Switch(Switch { subject, cases }))
    }

    fn case_label(&mut self) -> Result<CaseLabel> {
        let t = self.peek();
        let label = match &t.tok {
            Tok::Int(n) => CaseLabel::Int(*n),
            Tok::Str(s) => CaseLabel::Str(s.clone()),
            Tok::Minus => match self.nth(1).tok {
                Tok::Int(n) => {
                    self.bump();
                    CaseLabel::Int(-n)
                }
                _ => {
                    self.bump();
                    return Err(self.err_here("a number after `-`"));
                }
            },
            _ => return Err(self.err_here("a number or string after `case`")),
        };
        self.bump();
        Ok(label)
    }

    /// `( [expr {, expr}] )`
    fn args(&mut self) -> Result<Vec<Expr>> {
        let open = self.expect(&Tok::LParen, "")?;
        self.enter(open)?;
        let mut args = Vec::new();
        if self.is(&Tok::RParen) {
            self.bump();
        } else {
            loop {
                args.push(self.expr()?);
                match self.peek().tok {
                    Tok::Comma => {
                        self.bump();
                    }
                    Tok::RParen => {
                        self.bump();
                        break;
                    }
                    _ => return Err(self.err_here_eq("`,` or `)` after function argument")),
                }
            }
        }
        self.leave();
        Ok(args)
    }

    // ----- expressions -----
    //
    // Precedence climbing. Binding powers, loosest first: `||` 1, `&&` 2,
    // prefix `!` (its operand takes comparisons and tighter: `!a == b` is
    // `!(a == b)`), comparisons 4, `+ -` 5, `* / %` 6, prefix `-` 7.
    // Recursion per parenthesis: expr_bp -> primary -> expr_bp.

    pub fn expr(&mut self) -> Result<Expr> {
        Ok(self.expr_bp(0)?.0)
    }

    fn expr_bp(&mut self, min: u8) -> Result<P> {
        let (mut lhs, mut depth) = self.prefix(min)?;
        while let Some((op, bp)) = infix(&self.peek().tok) {
            if bp < min {
                break;
            }
            let op_span = self.bump().span;
            let (rhs, d) = self.expr_bp(bp + 1)?;
            depth = depth.max(d) + 1;
            if depth > self.limits.max_expr_depth {
                return Err(self.err_expr_depth(op_span));
            }
            let span = lhs.span;
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    op_span,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            };
        }
        Ok((lhs, depth))
    }

    #[cold]
    #[inline(never)]
    fn err_expr_depth(&self, span: Span) -> Error {
        Error::new(
            span,
            format!(
                "expression too deeply nested (more than {} levels)",
                self.limits.max_expr_depth
            ),
        )
    }

    /// Prefix operators, parentheses and calls (the forms that nest);
    /// everything else is a `primary`.
    fn prefix(&mut self, min: u8) -> Result<P> {
        let t = self.peek();
        let op = match t.tok {
            Tok::Not if min <= NOT_OPERAND_BP => UnaryOp::Not,
            Tok::Minus => UnaryOp::Neg,
            Tok::LParen => return self.paren(),
            Tok::Ident(_) if self.nth(1).tok == Tok::LParen => return self.call_expr(),
            _ => return self.primary(),
        };
        self.bump();
        if op == UnaryOp::Neg
            && let Tok::Int(n) = self.peek().tok
        {
            self.bump();
            return Ok((
                Expr {
                    kind: ExprKind::Int(-n),
                    span: t.span,
                },
                0,
            ));
        }
        self.enter(t.span)?;
        let (operand, d) = self.expr_bp(if op == UnaryOp::Not {
            NOT_OPERAND_BP
        } else {
            NEG_OPERAND_BP
        })?;
        self.leave();
        if d >= self.limits.max_expr_depth {
            return Err(self.err_expr_depth(t.span));
        }
        Ok((
            Expr {
                kind: ExprKind::Unary {
                    op,
                    operand: Box::new(operand),
                },
                span: t.span,
            },
            d + 1,
        ))
    }

    #[inline(never)]
    fn primary(&mut self) -> Result<P> {
        let t = self.peek();
        let span = t.span;
        let kind = match &t.tok {
            Tok::Int(n) => {
                self.bump();
                ExprKind::Int(*n)
            }
            Tok::Str(s) => {
                self.bump();
                ExprKind::Str(s.clone())
            }
            Tok::Ipv4(a) => {
                self.bump();
                let mask = self.mask(32)?;
                ExprKind::Ip {
                    addr: IpAddr::V4(*a),
                    mask,
                }
            }
            Tok::Ipv6(a) => {
                self.bump();
                let mask = self.mask(128)?;
                ExprKind::Ip {
                    addr: IpAddr::V6(*a),
                    mask,
                }
            }
            Tok::Var(v) => {
                self.bump();
                ExprKind::Var(self.var(v, span)?)
            }
            Tok::At => {
                self.bump();
                ExprKind::Var(Var::Select(self.at_select()?))
            }
            Tok::Ident(w) => {
                self.bump();
                if let Some(k) = self.keyword_pair(w) {
                    k
                } else if let Some(host) = self.host_rest(w) {
                    ExprKind::Host(host)
                } else if let Some(k) = Keyword::from_word(w) {
                    ExprKind::Keyword(k)
                } else {
                    ExprKind::Ident(w.clone())
                }
            }
            Tok::Not => return Err(self.err_negation(span)),
            _ => return Err(self.err_here("an expression")),
        };
        Ok((Expr { kind, span }, 0))
    }

    fn paren(&mut self) -> Result<P> {
        let open = self.bump().span;
        self.enter(open)?;
        let inner = self.expr_bp(0)?;
        if !self.is(&Tok::RParen) {
            return Err(self.err_unclosed_paren(open));
        }
        self.bump();
        self.leave();
        Ok(inner)
    }

    fn call_expr(&mut self) -> Result<P> {
        let t = self.bump();
        let args = self.args()?;
        let name = Name {
            name: word_text(&t.tok),
            span: t.span,
        };
        Ok((
            Expr {
                kind: ExprKind::Call(Call {
                    name,
                    args,
                    parens: true,
                }),
                span: t.span,
            },
            0,
        ))
    }

    #[cold]
    #[inline(never)]
    fn err_unclosed_paren(&self, open: Span) -> Error {
        self.err_here_eq(&format!("`)` to close `(` at {}:{}", open.line, open.col))
    }

    #[cold]
    #[inline(never)]
    fn err_negation(&self, span: Span) -> Error {
        Error::new(
            span,
            "expected a value, found `!` (put the negated expression in parentheses)",
        )
    }

    /// `msg:len`, `uri:host`, `uri:port` (the first word already taken).
    fn keyword_pair(&mut self, first: &str) -> Option<ExprKind> {
        if !self.glued(0, &Tok::Colon) {
            return None;
        }
        let second = self.nth(1);
        let Tok::Ident(b) = &second.tok else {
            return None;
        };
        if second.space_before {
            return None;
        }
        let k = Keyword::from_pair(first, b)?;
        self.bump();
        self.bump();
        Some(ExprKind::Keyword(k))
    }

    /// The rest of a host name glued to the word `first`: `.label` or
    /// `-label` parts. `None` if nothing is glued.
    fn host_rest(&mut self, first: &str) -> Option<String> {
        let mut name: Option<String> = None;
        loop {
            let sep = self.peek();
            let label = self.nth(1);
            let glued = !sep.space_before
                && !label.space_before
                && matches!(sep.tok, Tok::Dot | Tok::Minus)
                && matches!(label.tok, Tok::Ident(_) | Tok::Int(_));
            if !glued {
                return name;
            }
            let n = name.get_or_insert_with(|| first.to_string());
            n.push_str(sep.tok.punct());
            n.push_str(&word_text(&label.tok));
            self.bump();
            self.bump();
        }
    }

    /// `/N` glued after an IP address.
    fn mask(&mut self, max: i64) -> Result<Option<u8>> {
        if !self.glued(0, &Tok::Slash) {
            return Ok(None);
        }
        let t = self.nth(1);
        match t.tok {
            // SER also takes the mask as an address: 10.0.0.0/255.0.0.0.
            Tok::Ipv4(m) if !t.space_before && max == 32 => {
                self.bump();
                self.bump();
                let bits = u32::from(m);
                if bits.leading_ones() + bits.trailing_zeros() == 32 {
                    Ok(Some(bits.leading_ones() as u8))
                } else {
                    Err(Error::new(
                        t.span,
                        format!("network mask {m} is not contiguous"),
                    ))
                }
            }
            Tok::Int(n) if !t.space_before => {
                self.bump();
                self.bump();
                if (0..=max).contains(&n) {
                    Ok(Some(n as u8))
                } else {
                    Err(Error::new(
                        t.span,
                        format!("network mask /{n} is out of range (0-{max})"),
                    ))
                }
            }
            _ => Ok(None),
        }
    }

    /// Turns a `$...` token into a variable.
    fn var(&self, v: &VarTok, span: Span) -> Result<Var> {
        Ok(match v {
            VarTok::Question => Var::RetCode(RetCodeForm::Question),
            VarTok::Simple { name, index: None } if name == "rc" => Var::RetCode(RetCodeForm::Rc),
            VarTok::Simple { name, index: None } if name == "retcode" => {
                Var::RetCode(RetCodeForm::Retcode)
            }
            VarTok::Simple { name, index } if KAMAILIO_PV_NAMES.contains(&name.as_str()) => {
                Var::Pv(Pv {
                    name: name.clone(),
                    arg: None,
                    index: index.clone(),
                })
            }
            VarTok::Simple { name, index } => Var::Avp(Avp {
                track: None,
                name: name.clone(),
                index: index.clone(),
            }),
            VarTok::Tracked { track, name, index } => Var::Avp(Avp {
                track: Some(
                    AvpTrack::from_prefix(track)
                        .ok_or_else(|| Error::new(span, format!("unknown AVP track `{track}`")))?,
                ),
                name: name.clone(),
                index: index.clone(),
            }),
            VarTok::Call { name, arg, index } if name == "sel" => {
                if index.is_some() {
                    return Err(Error::new(span, "`$sel(...)` cannot be indexed"));
                }
                Var::Select(Select {
                    segments: select_text(arg, span)?,
                    form: SelectForm::Sel,
                })
            }
            VarTok::Call { name, arg, index } => Var::Pv(Pv {
                name: name.clone(),
                arg: Some(arg.clone()),
                index: index.clone(),
            }),
            VarTok::Transform { raw } => Var::Transform(raw.clone()),
        })
    }

    /// `@a.b[1].c["x"]` after the `@`.
    fn at_select(&mut self) -> Result<Select> {
        let mut segments = Vec::new();
        loop {
            let t = self.peek();
            let name = match &t.tok {
                Tok::Ident(n) if !t.space_before => n.clone(),
                _ => {
                    let what = if segments.is_empty() {
                        "a select name after `@`"
                    } else {
                        "a select name after `.`"
                    };
                    return Err(self.err_here(what));
                }
            };
            self.bump();
            let mut index = None;
            if self.glued(0, &Tok::LBracket) {
                self.bump();
                let i = self.peek();
                index = Some(match &i.tok {
                    Tok::Int(n) => SelectIndex::Int(*n),
                    Tok::Str(s) => SelectIndex::Str(s.clone()),
                    Tok::Minus => match self.nth(1).tok {
                        Tok::Int(n) => {
                            self.bump();
                            SelectIndex::Int(-n)
                        }
                        _ => return Err(self.err_here("a number or string as select index")),
                    },
                    _ => return Err(self.err_here("a number or string as select index")),
                });
                self.bump();
                self.expect(&Tok::RBracket, "after select index")?;
            }
            segments.push(SelectSegment { name, index });
            if self.glued(0, &Tok::Dot) && !self.nth(1).space_before {
                self.bump();
                continue;
            }
            break;
        }
        Ok(Select {
            segments,
            form: SelectForm::At,
        })
    }
}

fn word_text(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => s.clone(),
        Tok::Int(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Parses the inside of `$sel(...)`: `a.b[1].c["x"]`.
fn select_text(text: &str, span: Span) -> Result<Vec<SelectSegment>> {
    let bad = || Error::new(span, format!("malformed select `$sel({text})`"));
    let b = text.as_bytes();
    let mut i = 0;
    let mut segments = Vec::new();
    loop {
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        if i == start || !(b[start].is_ascii_alphabetic() || b[start] == b'_') {
            return Err(bad());
        }
        let name = text[start..i].to_string();
        let mut index = None;
        if i < b.len() && b[i] == b'[' {
            let close = text[i..].find(']').map(|n| n + i).ok_or_else(bad)?;
            let inner = text[i + 1..close].trim();
            index = Some(
                if let Some(s) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                    SelectIndex::Str(s.to_string())
                } else {
                    SelectIndex::Int(inner.parse::<i64>().map_err(|_| bad())?)
                },
            );
            i = close + 1;
        }
        segments.push(SelectSegment { name, index });
        if i == b.len() {
            return Ok(segments);
        }
        if b[i] != b'.' {
            return Err(bad());
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lex::lex_all;

    fn parse(src: &str) -> std::result::Result<Vec<Item>, String> {
        let mut toks =
            lex_all(src).map_err(|e| format!("{}:{}: {}", e.span.line, e.span.col, e.msg))?;
        toks.push(Token {
            tok: Tok::Eof,
            span: Span::new(FileId(0), 999, 1),
            space_before: true,
        });
        let limits = Limits::default();
        Parser::new(&toks, &limits)
            .parse_script()
            .map_err(|e| format!("{}:{}: {}", e.span.line, e.span.col, e.msg))
    }

    fn err(src: &str) -> String {
        parse(src).unwrap_err()
    }

    fn body(src: &str) -> Vec<Stmt> {
        let items = parse(&format!("route {{\n{src}\n}}")).unwrap();
        match items.into_iter().next().map(|i| i.kind) {
            Some(ItemKind::Route(r)) => r.body.stmts,
            other => panic!("{other:?}"),
        }
    }

    fn cond(src: &str) -> Expr {
        match body(&format!("if ({src}) x();"))
            .into_iter()
            .next()
            .map(|s| s.kind)
        {
            Some(StmtKind::If(i)) => i.arms.into_iter().next().map(|a| a.cond).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    /// A compact rendering of an expression for assertions.
    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Int(n) => n.to_string(),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Ip {
                addr,
                mask: Some(m),
            } => format!("{addr}/{m}"),
            ExprKind::Ip { addr, mask: None } => addr.to_string(),
            ExprKind::Ident(w) => format!("'{w}"),
            ExprKind::Host(h) => format!("<{h}>"),
            ExprKind::Keyword(k) => k.spelling().to_string(),
            ExprKind::Var(v) => v.to_string(),
            ExprKind::Call(c) => format!(
                "{}({})",
                c.name.name,
                c.args.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            ExprKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => format!("!{}", show(operand)),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => format!("-{}", show(operand)),
            ExprKind::Binary { op, lhs, rhs, .. } => {
                format!("({} {} {})", show(lhs), op.symbol(), show(rhs))
            }
        }
    }

    #[test]
    fn address_lists() {
        let items = parse(
            "alias=example.com sip.example.com:5060 \"x.org\"\nlisten=udp:1.2.3.4:5060 tcp:1.2.3.4:5060\n\
             listen=eth0\nalias=a.b\nport=5060 alias=c.d\nmy.var = 1\nalias=e.f loadmodule \"x\"",
        )
        .unwrap();
        let show = |v: &Value| match &v.kind {
            ValueKind::List(l) => format!("list of {}", l.len()),
            other => format!("{other:?}"),
        };
        let got: Vec<String> = items
            .iter()
            .map(|i| match &i.kind {
                ItemKind::Param(p) => format!("{}: {}", p.name.name, show(&p.value)),
                ItemKind::CfgVar(_) => "cfgvar".into(),
                ItemKind::LoadModule(_) => "loadmodule".into(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(got[0], "alias: list of 3");
        assert_eq!(got[1], "listen: list of 2");
        assert_eq!(got[2], "listen: Ident(\"eth0\")");
        assert!(got[3].starts_with("alias: Addr("));
        assert_eq!(got[4], "port: Int(5060)");
        assert!(got[5].starts_with("alias: Addr("));
        assert_eq!(
            &got[6..],
            [
                "cfgvar",
                "alias: Addr(SockAddr { proto: None, host: Name(\"e.f\"), port: None })",
                "loadmodule"
            ]
        );
    }

    #[test]
    fn global_params() {
        let items = parse(
            "debug=3\nfork=no\nlisten=udp:10.0.0.10:5060\nlisten=192.0.2.13 port=5060\nalias=sip.example.com\n\
             log_facility=LOG_LOCAL0\nfifo=\"/tmp/x\" x=-1\nlisten=tcp:[::1]:5061 listen=eth0 listen=my-host.example:5070",
        )
        .unwrap();
        let vals: Vec<String> = items
            .iter()
            .map(|i| match &i.kind {
                ItemKind::Param(p) => format!(
                    "{}={}",
                    p.name.name,
                    match &p.value.kind {
                        ValueKind::Int(n) => n.to_string(),
                        ValueKind::Str(s) => format!("{s:?}"),
                        ValueKind::Bool(b) => b.to_string(),
                        ValueKind::Ident(w) => format!("'{w}"),
                        ValueKind::Addr(a) => format!("<{a}>"),
                        ValueKind::List(l) => format!("[{}]", l.len()),
                    }
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            vals,
            vec![
                "debug=3",
                "fork=false",
                "listen=<udp:10.0.0.10:5060>",
                "listen=<192.0.2.13>",
                "port=5060",
                "alias=<sip.example.com>",
                "log_facility='LOG_LOCAL0",
                "fifo=\"/tmp/x\"",
                "x=-1",
                "listen=<tcp:[::1]:5061>",
                "listen='eth0",
                "listen=<my-host.example:5070>",
            ]
        );
    }

    #[test]
    fn custom_params_modparams_flags() {
        let items = parse(
            "pstn.gw_ip = \"\" desc \"PSTN GW Address\"\nmodparam(\"a|b\", \"p\", yes);\n\
             flags FLAG_ACC : 1, FLAG_FAILUREROUTE : 2;\navpflags dialog_cookie;\nloadpath \"m:n\" mpath=\"/x/\"\nloadmodule \"sl\"",
        )
        .unwrap();
        match &items[0].kind {
            ItemKind::CfgVar(v) => {
                assert_eq!(
                    (v.group.name.as_str(), v.id.name.as_str()),
                    ("pstn", "gw_ip")
                );
                assert_eq!(v.value.kind, ValueKind::Str(String::new()));
                assert_eq!(v.desc.as_deref(), Some("PSTN GW Address"));
            }
            other => panic!("{other:?}"),
        }
        match &items[1].kind {
            ItemKind::ModParam(m) => {
                assert_eq!(m.modules().collect::<Vec<_>>(), vec!["a", "b"]);
                assert_eq!(m.value.kind, ValueKind::Bool(true));
            }
            other => panic!("{other:?}"),
        }
        match &items[2].kind {
            ItemKind::Flags(f) => {
                assert_eq!(f.len(), 2);
                assert_eq!(
                    (f[1].name.name.as_str(), f[1].number),
                    ("FLAG_FAILUREROUTE", Some(2))
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&items[3].kind, ItemKind::AvpFlags(n) if n[0].name == "dialog_cookie"));
        assert!(
            matches!(&items[4].kind, ItemKind::LoadPath(p) if p.keyword == "loadpath" && p.path == "m:n")
        );
        assert!(matches!(&items[5].kind, ItemKind::LoadPath(p) if p.keyword == "mpath"));
        assert!(matches!(&items[6].kind, ItemKind::LoadModule(m) if m.path == "sl"));
    }

    #[test]
    fn route_headers() {
        let items = parse(
            "route { } route[1] { } route[NAME] { } onreply_route[1] {} failure_route[F] {}; branch_route[B]{}\n\
             event_route[tm:local-request] {} reply_route {}",
        )
        .unwrap();
        let names: Vec<String> = items
            .iter()
            .map(|i| match &i.kind {
                ItemKind::Route(r) => {
                    format!(
                        "{}[{}]",
                        r.kind.keyword(),
                        r.name
                            .as_ref()
                            .map(|n| n.name.to_string())
                            .unwrap_or_default()
                    )
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            vec![
                "route[]",
                "route[1]",
                "route[NAME]",
                "onreply_route[1]",
                "failure_route[F]",
                "branch_route[B]",
                "event_route[tm:local-request]",
                "onreply_route[]"
            ]
        );
    }

    #[test]
    fn precedence() {
        assert_eq!(
            show(&cond("!method==\"REGISTER\"")),
            "!(method == \"REGISTER\")"
        );
        assert_eq!(show(&cond("!uri==myself")), "!(uri == myself)");
        assert_eq!(show(&cond("!a() && b() || c()")), "((!a() && b()) || c())");
        assert_eq!(show(&cond("a() || b() && c()")), "(a() || (b() && c()))");
        assert_eq!(show(&cond("msg:len >= 4096")), "(msg:len >= 4096)");
        assert_eq!(show(&cond("$? == -2")), "($? == -2)");
        assert_eq!(show(&cond("1 + 2 * 3 - 4")), "((1 + (2 * 3)) - 4)");
        assert_eq!(show(&cond("- $x")), "-$x");
        assert_eq!(show(&cond("src_ip==127.0.0.1")), "(src_ip == 127.0.0.1)");
        assert_eq!(show(&cond("src_ip==10.0.0.0/8")), "(src_ip == 10.0.0.0/8)");
        assert_eq!(
            show(&cond("src_ip==10.0.0.0/255.255.0.0")),
            "(src_ip == 10.0.0.0/16)"
        );
        assert_eq!(
            show(&cond("src_ip==10.0.0.0/0.0.0.0")),
            "(src_ip == 10.0.0.0/0)"
        );
        assert_eq!(show(&cond("method == CANCEL")), "(method == 'CANCEL)");
        assert_eq!(
            show(&cond("!($rU=~\"^(\\+|00)\")")),
            "!($rU =~ \"^(\\\\+|00)\")"
        );
        assert_eq!(
            show(&cond("strempty(@to.tag) && $t.did != \"\"")),
            "(strempty(@to.tag) && ($t.did != \"\"))"
        );
        assert_eq!(
            show(&cond("strempty($sel(cfg_get.pstn.gw_ip))")),
            "strempty($sel(cfg_get.pstn.gw_ip))"
        );
        assert_eq!(show(&cond("len_gt( max_len )")), "len_gt(max_len)");
        assert_eq!(show(&cond("$rc == $retcode")), "($rc == $retcode)");
        assert_eq!(
            show(&cond("@via[1].host == @hf[\"X\"]")),
            "(@via[1].host == @hf[\"X\"])"
        );
        assert_eq!(show(&cond("uri:host")), "uri:host");
        assert_eq!(
            show(&cond("forward(gw.example.com, 5060)")),
            "forward(<gw.example.com>, 5060)"
        );
        assert_eq!(
            show(&cond("src_ip==my-gw.example.com")),
            "(src_ip == <my-gw.example.com>)"
        );
        assert_eq!(show(&cond("a - b")), "('a - 'b)");
    }

    #[test]
    fn statements() {
        let s = body(
            "if (a()) b(); else if (c()) { d(); } else e();\n\
             $ru = \"sip:\" + $rU + \"@\" + $sel(cfg_get.pstn.gw_ip);\n\
             route(1); route(NAME); drop; exit; return; return -1; break; t_relay; ;;\n\
             while ($var(i) < 3) { $var(i) = $var(i) + 1; }",
        );
        assert_eq!(s.len(), 11);
        match &s[0].kind {
            StmtKind::If(i) => {
                assert_eq!(i.arms.len(), 2);
                assert!(!i.arms[0].body.braced);
                assert!(i.arms[1].body.braced);
                assert!(i.else_block.is_some());
            }
            other => panic!("{other:?}"),
        }
        match &s[1].kind {
            StmtKind::Assign(a) => {
                assert_eq!(a.target.to_string(), "$ru");
                assert_eq!(
                    show(&a.value),
                    "(((\"sip:\" + $rU) + \"@\") + $sel(cfg_get.pstn.gw_ip))"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&s[2].kind, StmtKind::Route(r) if r.name == RouteName::Number(1)));
        assert!(
            matches!(&s[3].kind, StmtKind::Route(r) if r.name == RouteName::Name("NAME".into()))
        );
        assert!(matches!(s[4].kind, StmtKind::Drop(None)));
        assert!(matches!(s[5].kind, StmtKind::Exit(None)));
        assert!(matches!(s[6].kind, StmtKind::Return(None)));
        assert!(matches!(&s[7].kind, StmtKind::Return(Some(e)) if e.kind == ExprKind::Int(-1)));
        assert!(matches!(s[8].kind, StmtKind::Break));
        assert!(matches!(&s[9].kind, StmtKind::Call(c) if !c.parens && c.name.name == "t_relay"));
        assert!(matches!(&s[10].kind, StmtKind::While(_)));
    }

    #[test]
    fn switch_fall_through() {
        let s = body(
            "switch ($rc) { case -1: case -3: a(); exit; case -2: b(); break; case \"x\": default: c(); }",
        );
        match &s[0].kind {
            StmtKind::Switch(sw) => {
                let labels: Vec<Option<CaseLabel>> =
                    sw.cases.iter().map(|c| c.label.clone()).collect();
                assert_eq!(
                    labels,
                    vec![
                        Some(CaseLabel::Int(-1)),
                        Some(CaseLabel::Int(-3)),
                        Some(CaseLabel::Int(-2)),
                        Some(CaseLabel::Str("x".into())),
                        None
                    ]
                );
                let lens: Vec<usize> = sw.cases.iter().map(|c| c.body.len()).collect();
                assert_eq!(lens, vec![0, 2, 2, 0, 1]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ser_grammar_leniencies() {
        // Conditions without parentheses (SER: `IF exp stm`).
        let s = body("if uri==myself { a(); } else if !f() b(); while $x < 3 { c(); }");
        assert_eq!(s.len(), 2);
        match &s[0].kind {
            StmtKind::If(i) => {
                assert_eq!(show(&i.arms[0].cond), "(uri == myself)");
                assert_eq!(show(&i.arms[1].cond), "!f()");
            }
            other => panic!("{other:?}"),
        }
        // An unbraced then-branch may omit `;` before `else` (SER `stm: cmd`).
        let s = body("if (a) x() else y(); if (b) route(1) else drop;");
        assert_eq!(s.len(), 2);
        assert!(matches!(&s[0].kind, StmtKind::If(i) if i.else_block.is_some()));
        // Not for nested unbraced bodies that are not then-branches.
        assert!(parse("route { if (a) while (b) x() else y(); }").is_err());
    }

    #[test]
    fn dangling_else_binds_inner() {
        let s = body("if (a()) if (b()) c(); else d();");
        match &s[0].kind {
            StmtKind::If(outer) => {
                assert!(outer.else_block.is_none());
                assert!(
                    matches!(&outer.arms[0].body.stmts[0].kind, StmtKind::If(inner) if inner.else_block.is_some())
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            err("route { f(\"a\"; }"),
            "1:14: expected `,` or `)` after function argument, found `;`"
        );
        assert_eq!(
            err("route { f() }"),
            "1:13: expected `;` after `f(...)`, found `}`"
        );
        assert_eq!(
            err("route { if (method=\"INVITE\") {} }"),
            "1:19: expected `)` to close `(` at 1:12, found `=` (use `==` to compare)"
        );
        assert_eq!(
            err("route {\n  x();\n"),
            "999:1: expected `}` to close the block opened at 1:7, found end of file"
        );
        assert_eq!(err("if (x) {}"), "1:1: `if` must be inside a route block");
        assert_eq!(
            err("foo(1);"),
            "1:1: `foo(...)` must be inside a route block"
        );
        assert_eq!(
            err("log_stderr no"),
            "1:12: expected `=` after parameter name `log_stderr`, found `no`"
        );
        assert_eq!(err("route { else x(); }"), "1:9: `else` without `if`");
        assert_eq!(
            err("route { case 1: x(); }"),
            "1:9: `case` outside `switch`"
        );
        assert_eq!(
            err("route { switch ($rc) { x(); } }"),
            "1:24: expected `case` or `default` in `switch` body, found `x`"
        );
        assert_eq!(
            err("route { $x == 1; }"),
            "1:12: expected `=` to assign to `$x` (`==` compares), found `==`"
        );
        assert_eq!(
            err("route { if () x(); }"),
            "1:13: expected an expression, found `)`"
        );
        assert_eq!(
            err("route { if (a == !b) x(); }"),
            "1:18: expected a value, found `!` (put the negated expression in parentheses)"
        );
        assert_eq!(
            err("modparam(\"a\" \"b\", 1)"),
            "1:14: expected `,` after the module name in `modparam(...)`, found string \"b\""
        );
        assert_eq!(
            err("modparam(\"a\", \"b\", 1;"),
            "1:21: expected `)` after the value in `modparam(...)`, found `;`"
        );
        assert_eq!(
            err("flags A : 1 B : 2;"),
            "1:13: expected `,` or `;` after flag declaration, found `B`"
        );
        assert_eq!(
            err("route[] {}"),
            "1:7: expected a route name or number in `route`, found `]`"
        );
        assert_eq!(
            err("route { route(); }"),
            "1:15: expected a route name or number in `route(...)`, found `)`"
        );
        assert_eq!(
            err("listen=udp:1.2.3.4:70000"),
            "1:20: port 70000 is out of range (1-65535)"
        );
        assert_eq!(
            err("route { if (src_ip==1.2.3.4/33) x(); }"),
            "1:29: network mask /33 is out of range (0-32)"
        );
        assert_eq!(
            err("route { x = 1; }"),
            "1:11: expected `(` after function name `x`, found `=`"
        );
        assert_eq!(
            err("route { @to.tag = 1; }"),
            "1:9: expected a statement, found `@`"
        );
        assert_eq!(
            err("route { if (@ x) a(); }"),
            "1:15: expected a select name after `@`, found `x`"
        );
        assert_eq!(
            err("route { if ($sel(a..b)) a(); }"),
            "1:13: malformed select `$sel(a..b)`"
        );
        assert_eq!(
            err("a.b = 1 des \"x\""),
            "1:13: expected `=` after parameter name `des`, found string \"x\""
        );
        assert_eq!(
            err("} "),
            "1:1: expected a global parameter, `loadmodule`, `modparam` or a route block, found `}`"
        );
        assert_eq!(
            err("route { if method=\"INVITE\" {} }"),
            "1:18: expected a statement or `{` after `if (...)`, found `=` (use `==` to compare)"
        );
        assert_eq!(
            err("route { if {} }"),
            "1:12: expected a condition after `if`, found `{`"
        );
        assert_eq!(
            err("route { while; }"),
            "1:14: expected a condition after `while`, found `;`"
        );
        assert_eq!(
            err("route { f(a = 1); }"),
            "1:13: expected `,` or `)` after function argument, found `=` (use `==` to compare)"
        );
        assert_eq!(
            err("route { if (src_ip == 10.0.0.0/255.0.255.0) {} }"),
            "1:32: network mask 255.0.255.0 is not contiguous"
        );
        assert_eq!(
            err("route { if (a) f() g(); }"),
            "1:20: expected `;` after `f(...)`, found `g`"
        );
        assert_eq!(
            err("route { while (a) f() else g(); }"),
            "1:23: expected `;` after `f(...)`, found `else`"
        );
        assert_eq!(
            err("route { if (x()) }"),
            "1:18: expected a statement or `{` after `if (...)`, found `}`"
        );
    }

    #[test]
    fn nesting_limits() {
        let deep = format!("route {{ {} }}", "if (a) {".repeat(70) + &"}".repeat(70));
        assert_eq!(
            err(&deep),
            "1:516: blocks or expressions nested too deeply (more than 64 levels)"
        );
        let parens = format!(
            "route {{ if ({}a{}) x(); }}",
            "(".repeat(100),
            ")".repeat(100)
        );
        assert!(err(&parens).contains("nested too deeply"));
        let nots = format!("route {{ if ({}a) x(); }}", "!".repeat(100));
        assert!(err(&nots).contains("nested too deeply"));
        let chain = format!("route {{ if ({}) x(); }}", vec!["a"; 300].join(" || "));
        assert!(err(&chain).contains("expression too deeply nested (more than 256 levels)"));
        let ok_chain = format!("route {{ if ({}) x(); }}", vec!["a"; 200].join(" || "));
        assert!(parse(&ok_chain).is_ok());
        // A long else-if chain is flat, not nested.
        let elifs = format!(
            "route {{ if (a) x(); {} }}",
            "else if (b) y(); ".repeat(500)
        );
        assert!(parse(&elifs).is_ok());
    }

    #[test]
    fn select_text_forms() {
        let s = select_text("hf[\"X\"].uri[-1].host", Span::default()).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].index, Some(SelectIndex::Str("X".into())));
        assert_eq!(s[1].index, Some(SelectIndex::Int(-1)));
        assert!(select_text("", Span::default()).is_err());
        assert!(select_text("a.", Span::default()).is_err());
        assert!(select_text("1a", Span::default()).is_err());
        assert!(select_text("a[1", Span::default()).is_err());
    }
}
