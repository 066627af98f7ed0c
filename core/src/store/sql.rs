//! SQL text handling shared by the back ends: `?` placeholders written once
//! and numbered for PostgreSQL (`$1`, `$2`, ...), counted for the parameter
//! check, and scripts split into statements.
//!
//! A small scanner walks the text and leaves alone what is inside
//! `'string literals'` (with `''` for a quote), `"quoted identifiers"`,
//! `` `backquoted identifiers` ``, `-- line comments` and
//! `/* block comments */`, so a `?` or `;` there is not taken for a
//! placeholder or the end of a statement.

/// What a byte of SQL text is part of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Code,
    Single,
    Double,
    Back,
    Line,
    Block,
}

/// Calls `f(index, byte, context)` for each byte, with the context the byte
/// belongs to (a literal's quotes belong to the literal, a comment's
/// markers to the comment).
fn scan(sql: &str, mut f: impl FnMut(usize, u8, Ctx)) {
    let b = sql.as_bytes();
    let mut ctx = Ctx::Code;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let next = b.get(i + 1).copied();
        match ctx {
            Ctx::Code => match (c, next) {
                (b'\'', _) => ctx = Ctx::Single,
                (b'"', _) => ctx = Ctx::Double,
                (b'`', _) => ctx = Ctx::Back,
                (b'-', Some(b'-')) => ctx = Ctx::Line,
                (b'/', Some(b'*')) => {
                    f(i, c, Ctx::Block);
                    f(i + 1, b'*', Ctx::Block);
                    ctx = Ctx::Block;
                    i += 2;
                    continue;
                }
                _ => {}
            },
            Ctx::Single | Ctx::Double | Ctx::Back => {
                let close = match ctx {
                    Ctx::Single => b'\'',
                    Ctx::Double => b'"',
                    _ => b'`',
                };
                if c == close {
                    if next == Some(close) {
                        // A doubled quote stands for itself.
                        f(i, c, ctx);
                        f(i + 1, c, ctx);
                        i += 2;
                        continue;
                    }
                    f(i, c, ctx);
                    ctx = Ctx::Code;
                    i += 1;
                    continue;
                }
            }
            Ctx::Line => {
                if c == b'\n' {
                    ctx = Ctx::Code;
                }
            }
            Ctx::Block => {
                if c == b'*' && next == Some(b'/') {
                    f(i, c, Ctx::Block);
                    f(i + 1, b'/', Ctx::Block);
                    ctx = Ctx::Code;
                    i += 2;
                    continue;
                }
            }
        }
        f(i, c, ctx);
        i += 1;
    }
}

/// Number of `?` placeholders outside literals and comments.
pub fn count_placeholders(sql: &str) -> usize {
    let mut n = 0;
    scan(sql, |_, c, ctx| {
        if ctx == Ctx::Code && c == b'?' {
            n += 1;
        }
    });
    n
}

/// `sql` with its `?` placeholders numbered for PostgreSQL (`$1`, `$2`,
/// ...), and how many there were.
pub fn to_postgres(sql: &str) -> (String, usize) {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0usize;
    let mut last = 0usize;
    scan(sql, |i, c, ctx| {
        if ctx == Ctx::Code && c == b'?' {
            n += 1;
            // `?` is one byte, so `i` and `i + 1` are character boundaries.
            out.push_str(sql.get(last..i).unwrap_or(""));
            out.push('$');
            out.push_str(&n.to_string());
            last = i + 1;
        }
    });
    out.push_str(sql.get(last..).unwrap_or(""));
    (out, n)
}

/// The statements of a script, split at `;` outside literals and comments,
/// trimmed, with empty ones (and those holding only comments) left out.
pub fn split_statements(script: &str) -> Vec<String> {
    let mut cuts = Vec::new();
    scan(script, |i, c, ctx| {
        if ctx == Ctx::Code && c == b';' {
            cuts.push(i);
        }
    });
    let mut out = Vec::new();
    let mut start = 0;
    for end in cuts.into_iter().chain(std::iter::once(script.len())) {
        let stmt = script.get(start..end).unwrap_or("").trim();
        if has_code(stmt) {
            out.push(stmt.to_string());
        }
        start = end + 1;
    }
    out
}

/// True when `sql` holds something besides white space and comments.
fn has_code(sql: &str) -> bool {
    let mut any = false;
    scan(sql, |_, c, ctx| {
        if !c.is_ascii_whitespace() && !matches!(ctx, Ctx::Line | Ctx::Block) {
            any = true;
        }
    });
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_placeholders_numbered_for_postgres() {
        assert_eq!(
            to_postgres("SELECT a FROM t WHERE b = ? AND c = ?"),
            ("SELECT a FROM t WHERE b = $1 AND c = $2".to_string(), 2)
        );
        assert_eq!(to_postgres("SELECT 1"), ("SELECT 1".to_string(), 0));
        assert_eq!(
            to_postgres("INSERT INTO t VALUES (?,?,?)"),
            ("INSERT INTO t VALUES ($1,$2,$3)".to_string(), 3)
        );
    }

    #[test]
    fn store_placeholders_skip_literals_and_comments() {
        let sql = "SELECT '?', 'it''s ?', \"col?\", `x?` -- what?\n FROM t /* ? */ WHERE a = ?";
        let (pg, n) = to_postgres(sql);
        assert_eq!(n, 1);
        assert_eq!(
            pg,
            "SELECT '?', 'it''s ?', \"col?\", `x?` -- what?\n FROM t /* ? */ WHERE a = $1"
        );
        assert_eq!(count_placeholders(sql), 1);
        // Non-ASCII text around placeholders survives.
        assert_eq!(
            to_postgres("SELECT 'žluťoučký' || ? || 'kůň'"),
            ("SELECT 'žluťoučký' || $1 || 'kůň'".to_string(), 1)
        );
        // An unterminated literal swallows the rest, as the server would.
        assert_eq!(count_placeholders("SELECT 'abc ?"), 0);
    }

    #[test]
    fn store_scripts_split_into_statements() {
        let script = "-- header; not a statement\nCREATE TABLE a (x INT);\n\n\
                      INSERT INTO a VALUES (';');\n/* ; */\nSELECT 1;  ";
        assert_eq!(
            split_statements(script),
            vec![
                "-- header; not a statement\nCREATE TABLE a (x INT)",
                "INSERT INTO a VALUES (';')",
                "/* ; */\nSELECT 1",
            ]
        );
        assert!(split_statements("-- only a comment; it's\n  ;; /* x */").is_empty());
    }
}
