//! Prints a syntax tree back as config text, in one canonical layout.
//!
//! The output parses back to the same tree (positions aside): every
//! sub-expression of an operator is parenthesised, strings are re-escaped,
//! bodies are always braced. Comments, preprocessor directives and
//! `include_file` are gone (the tree is after preprocessing). Used by tests
//! and as a debugging dump of what the parser understood.

use std::fmt::{self, Write};

use crate::ast::*;

/// The whole script as text.
pub fn items_to_string(items: &[Item]) -> String {
    let mut out = String::new();
    for item in items {
        // Writing to a String cannot fail.
        let _ = write_item(&mut out, item);
    }
    out
}

/// Quotes a string so that the lexer reads back exactly `s`.
pub fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(q, "\\x{:02x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn is_word(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn write_value(out: &mut String, v: &Value) -> fmt::Result {
    match &v.kind {
        ValueKind::Int(n) => write!(out, "{n}"),
        ValueKind::Str(s) => write!(out, "{}", quote(s)),
        ValueKind::Bool(b) => write!(out, "{}", if *b { "yes" } else { "no" }),
        ValueKind::Ident(w) => write!(out, "{w}"),
        ValueKind::Addr(a) => write!(out, "{a}"),
        ValueKind::List(items) => {
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    write!(out, " ")?;
                }
                write_value(out, v)?;
            }
            Ok(())
        }
    }
}

fn write_route_name(out: &mut String, n: &RouteName) -> fmt::Result {
    match n {
        RouteName::Number(n) => write!(out, "{n}"),
        RouteName::Name(s) if is_word(s) => write!(out, "{s}"),
        RouteName::Name(s)
            if s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_:-.".contains(&b)) =>
        {
            write!(out, "{s}")
        }
        RouteName::Name(s) => write!(out, "{}", quote(s)),
    }
}

fn write_item(out: &mut String, item: &Item) -> fmt::Result {
    match &item.kind {
        ItemKind::Param(p) => {
            write!(out, "{}=", p.name.name)?;
            write_value(out, &p.value)?;
            writeln!(out)
        }
        ItemKind::CfgVar(v) => {
            write!(out, "{}.{} = ", v.group.name, v.id.name)?;
            write_value(out, &v.value)?;
            if let Some(d) = &v.desc {
                write!(out, " desc {}", quote(d))?;
            }
            writeln!(out)
        }
        ItemKind::LoadModule(m) => writeln!(out, "loadmodule {}", quote(&m.path)),
        ItemKind::LoadPath(p) if p.keyword == "mpath" => writeln!(out, "mpath={}", quote(&p.path)),
        ItemKind::LoadPath(p) => writeln!(out, "{} {}", p.keyword, quote(&p.path)),
        ItemKind::ModParam(m) => {
            write!(
                out,
                "modparam({}, {}, ",
                quote(&m.module),
                quote(&m.param.name)
            )?;
            write_value(out, &m.value)?;
            writeln!(out, ")")
        }
        ItemKind::Flags(flags) => {
            write!(out, "flags ")?;
            for (i, f) in flags.iter().enumerate() {
                if i > 0 {
                    write!(out, ", ")?;
                }
                if is_word(&f.name.name) {
                    write!(out, "{}", f.name.name)?;
                } else {
                    write!(out, "{}", quote(&f.name.name))?;
                }
                if let Some(n) = f.number {
                    write!(out, " : {n}")?;
                }
            }
            writeln!(out, ";")
        }
        ItemKind::AvpFlags(names) => {
            let names: Vec<String> = names
                .iter()
                .map(|n| {
                    if is_word(&n.name) {
                        n.name.clone()
                    } else {
                        quote(&n.name)
                    }
                })
                .collect();
            writeln!(out, "avpflags {};", names.join(", "))
        }
        ItemKind::Route(r) => {
            write!(out, "\n{}", r.keyword)?;
            if let Some(n) = &r.name {
                write!(out, "[")?;
                write_route_name(out, &n.name)?;
                write!(out, "]")?;
            }
            write!(out, " ")?;
            write_block(out, &r.body.stmts, 0)?;
            writeln!(out)
        }
    }
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push('\t');
    }
}

fn write_block(out: &mut String, stmts: &[Stmt], level: usize) -> fmt::Result {
    writeln!(out, "{{")?;
    for s in stmts {
        write_stmt(out, s, level + 1)?;
    }
    indent(out, level);
    write!(out, "}}")
}

fn write_stmt(out: &mut String, s: &Stmt, level: usize) -> fmt::Result {
    indent(out, level);
    match &s.kind {
        StmtKind::Call(c) => {
            write_call(out, c)?;
            writeln!(out, ";")
        }
        StmtKind::Route(r) => {
            write!(out, "route(")?;
            write_route_name(out, &r.name)?;
            writeln!(out, ");")
        }
        StmtKind::Assign(a) => {
            write!(
                out,
                "{} {} ",
                a.target,
                if a.op == AssignOp::Set { "=" } else { ":=" }
            )?;
            write_expr(out, &a.value)?;
            writeln!(out, ";")
        }
        StmtKind::If(i) => {
            for (n, arm) in i.arms.iter().enumerate() {
                if n > 0 {
                    write!(out, " else ")?;
                }
                write!(out, "if (")?;
                write_expr(out, &arm.cond)?;
                write!(out, ") ")?;
                write_block(out, &arm.body.stmts, level)?;
            }
            if let Some(e) = &i.else_block {
                write!(out, " else ")?;
                write_block(out, &e.stmts, level)?;
            }
            writeln!(out)
        }
        StmtKind::Switch(sw) => {
            write!(out, "switch (")?;
            write_expr(out, &sw.subject)?;
            writeln!(out, ") {{")?;
            for c in &sw.cases {
                indent(out, level + 1);
                match &c.label {
                    Some(CaseLabel::Int(n)) => writeln!(out, "case {n}:")?,
                    Some(CaseLabel::Str(s)) => writeln!(out, "case {}:", quote(s))?,
                    None => writeln!(out, "default:")?,
                }
                for st in &c.body {
                    write_stmt(out, st, level + 2)?;
                }
            }
            indent(out, level);
            writeln!(out, "}}")
        }
        StmtKind::While(w) => {
            write!(out, "while (")?;
            write_expr(out, &w.cond)?;
            write!(out, ") ")?;
            write_block(out, &w.body.stmts, level)?;
            writeln!(out)
        }
        StmtKind::Block(b) => {
            write_block(out, &b.stmts, level)?;
            writeln!(out)
        }
        StmtKind::Break => writeln!(out, "break;"),
        StmtKind::Drop(e) => write_ret(out, "drop", e.as_ref()),
        StmtKind::Exit(e) => write_ret(out, "exit", e.as_ref()),
        StmtKind::Return(e) => write_ret(out, "return", e.as_ref()),
    }
}

fn write_ret(out: &mut String, kw: &str, e: Option<&Expr>) -> fmt::Result {
    write!(out, "{kw}")?;
    if let Some(e) = e {
        write!(out, " ")?;
        write_expr(out, e)?;
    }
    writeln!(out, ";")
}

fn write_call(out: &mut String, c: &Call) -> fmt::Result {
    write!(out, "{}", c.name.name)?;
    if !c.parens {
        return Ok(());
    }
    write!(out, "(")?;
    for (i, a) in c.args.iter().enumerate() {
        if i > 0 {
            write!(out, ", ")?;
        }
        write_expr(out, a)?;
    }
    write!(out, ")")
}

/// Writes an expression; operands of operators are parenthesised.
pub fn write_expr(out: &mut String, e: &Expr) -> fmt::Result {
    write_operand(out, e, false)
}

/// `operand`: `e` is an operand of an operator, so operators in it get
/// parentheses.
fn write_operand(out: &mut String, e: &Expr, operand: bool) -> fmt::Result {
    match &e.kind {
        ExprKind::Int(n) => write!(out, "{n}"),
        ExprKind::Str(s) => write!(out, "{}", quote(s)),
        ExprKind::Ip { addr, mask } => {
            match addr {
                std::net::IpAddr::V4(a) => write!(out, "{a}")?,
                std::net::IpAddr::V6(a) => write!(out, "[{a}]")?,
            }
            match mask {
                Some(m) => write!(out, "/{m}"),
                None => Ok(()),
            }
        }
        ExprKind::Ident(w) | ExprKind::Host(w) => write!(out, "{w}"),
        ExprKind::Keyword(k) => write!(out, "{}", k.spelling()),
        ExprKind::Var(v) => write!(out, "{v}"),
        ExprKind::Call(c) => write_call(out, c),
        ExprKind::Unary { op, operand: inner } => {
            if operand {
                write!(out, "(")?;
            }
            write!(out, "{}", if *op == UnaryOp::Not { "!" } else { "-" })?;
            // `-(5)` is not the literal `-5`.
            if matches!(inner.kind, ExprKind::Int(_)) {
                write!(out, "(")?;
                write_operand(out, inner, true)?;
                write!(out, ")")?;
            } else {
                write_operand(out, inner, true)?;
            }
            if operand {
                write!(out, ")")?;
            }
            Ok(())
        }
        ExprKind::Binary { op, lhs, rhs, .. } => {
            if operand {
                write!(out, "(")?;
            }
            write_operand(out, lhs, true)?;
            write!(out, " {} ", op.symbol())?;
            write_operand(out, rhs, true)?;
            if operand {
                write!(out, ")")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(src: &str) -> String {
        let s = crate::parse_str("p.cfg", src, &[]).unwrap();
        let once = items_to_string(&s.items);
        let again = crate::parse_str("p.cfg", &once, &[]).unwrap_or_else(|e| panic!("{e}\n{once}"));
        assert_eq!(items_to_string(&again.items), once);
        once
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\x01""#);
        assert_eq!(quote(r"^Contact:[ ]*\*"), r#""^Contact:[ ]*\\*""#);
    }

    #[test]
    fn canonical_layout() {
        let out = round_trip(
            "debug=3 listen=udp:1.2.3.4:5060 tcp:[::1]:5061 fork=no x.y = -1 desc \"d\" mpath=\"/m/\" loadpath \"p\"\n\
             modparam(\"a|b\", \"c\", DB) flags A:1, \"B\"; avpflags c;\n\
             route { if (!method==\"REGISTER\" && $? == -2) { x(1, \"s\"); } else if (a) b; else { route(R); }\n\
             switch ($rc) { case -1: case \"x\": exit; default: return 1; }\n\
             $ru = \"sip:\" + $rU; $x := -($y); if (!x()) {} if ($a == (!$b) || -(5) < - 5 - -5) {} while (@to.tag != 10.0.0.0/8) { break; } { drop; } }\n\
             event_route[tm:local-request] { }",
        );
        assert!(
            out.contains("if ((!(method == \"REGISTER\")) && ($? == -2)) {"),
            "{out}"
        );
        assert!(out.contains("$x := -$y;"), "{out}");
        assert!(out.contains("if (!x()) {"), "{out}");
        assert!(
            out.contains("case -1:\n\t\tcase \"x\":\n\t\t\texit;\n"),
            "{out}"
        );
        assert!(out.contains("event_route[tm:local-request] {"), "{out}");
        assert!(out.contains("x.y = -1 desc \"d\""), "{out}");
    }
}
