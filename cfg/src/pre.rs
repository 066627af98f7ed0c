//! The preprocessor: turns the main file, its included files and the `-A`
//! defines into one stream of tokens for the parser.
//!
//! It handles, in the order the text gives them:
//!
//! * `#!define NAME [value]`, `#!trydef NAME [value]` (define unless
//!   defined), `#!redefine NAME [value]` (define or replace). A value is the
//!   rest of the line (a backslash before the newline continues it) and is
//!   lexed like config text, so it may be a string (`#!define DBURL
//!   "mysql://..."`), a number or several tokens. Defining a name again with
//!   a different value is an error (use `#!redefine`).
//! * `#!ifdef NAME`, `#!ifndef NAME`, `#!else`, `#!endif`, nested up to
//!   [`Limits::max_ifdef_depth`]. Inactive lines are skipped whole, so they
//!   may hold anything (the Kamailio default config hides SQL there). Every
//!   `#!ifdef` must be closed in the file that opened it.
//! * Substitution: an identifier token that names a define is replaced by
//!   the define's tokens (never inside strings). Substituted tokens are
//!   scanned again, except for names already being expanded, so a define
//!   cannot recurse; expansion depth is bounded. A define without a value
//!   expands to nothing. Substituted tokens carry the position of the
//!   identifier they replace.
//! * `include_file "path"` and `import_file "path"` (also as `#!include_file`
//!   / `#!import_file`): the file's tokens are inserted in place. A relative
//!   path is taken from the directory of the including file. `import_file`
//!   of a missing file is silently skipped. Include depth, cycles, file size
//!   and total size are bounded.
//! * Dialect markers (`#!KAMAILIO`, `#!OPENSER`, `#!SER`, `#!SER08`,
//!   `#!SER09`, `#!SER2`/`#!SER20`) are collected for dialect detection.
//! * `#!subst`, `#!substdef`, `#!substdefs` and other Kamailio directives
//!   are rejected with a "not supported" message; an unknown `#!word` is an
//!   error (a `#!` not followed by a letter, such as a shebang, is a
//!   comment).
//!
//! `-A NAME[=value]` defines from the command line are defined first.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::dialect::{Dialect, Marker};
use crate::lex::{DirTok, Lexer, Tok, Token};
use crate::source::{Error, FileId, Result, SourceMap, Span};
use crate::{Define, Limits};

/// What the preprocessor hands to the parser and to dialect detection.
#[derive(Debug, Default)]
pub(crate) struct Output {
    /// The token stream, ending with one [`Tok::Eof`].
    pub tokens: Vec<Token>,
    /// Dialect markers found in active regions, in order.
    pub markers: Vec<Marker>,
    /// Conditional/define directives found in active regions: name (as
    /// `#!ifdef`) and position. Evidence for dialect detection.
    pub directives: Vec<(String, Span)>,
}

struct Def {
    tokens: Vec<Token>,
    /// Where it was defined; `None` for `-A`.
    at: Option<Span>,
}

struct Cond {
    /// The `#!ifdef`/`#!ifndef` directive.
    span: Span,
    label: String,
    parent_active: bool,
    truth: bool,
    active: bool,
    else_seen: bool,
}

pub(crate) struct Pre<'l> {
    limits: &'l Limits,
    pub sources: SourceMap,
    defines: HashMap<String, Def>,
    out: Output,
    total_bytes: usize,
    /// Canonical paths of the files being read, outermost first.
    stack: Vec<PathBuf>,
}

/// Reads at most `max` bytes; a longer file is an error.
pub(crate) fn read_limited(
    path: &Path,
    max: usize,
) -> std::io::Result<std::result::Result<Vec<u8>, usize>> {
    // Opening a FIFO or a device could block for ever: only regular files.
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let f = File::open(path)?;
    let mut buf = Vec::new();
    f.take(max as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > max {
        Ok(Err(max))
    } else {
        Ok(Ok(buf))
    }
}

pub(crate) fn size_text(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

fn is_ident(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Lexes the text of a directive into tokens (without the final `Eof`).
fn lex_text(text: &str, start: Span) -> Result<Vec<Token>> {
    let mut lx = Lexer::for_directive(text.as_bytes(), start);
    let mut out = Vec::new();
    loop {
        let t = lx.next_token()?;
        if t.tok == Tok::Eof {
            return Ok(out);
        }
        out.push(t);
    }
}

impl<'l> Pre<'l> {
    /// A preprocessor whose file 0 is `main` (not read yet).
    pub fn new(main: &Path, limits: &'l Limits) -> Pre<'l> {
        let mut sources = SourceMap::new();
        sources.add(main);
        Pre {
            limits,
            sources,
            defines: HashMap::new(),
            out: Output::default(),
            total_bytes: 0,
            stack: Vec::new(),
        }
    }

    /// Defines from the command line (`-A`), before any file is read.
    pub fn command_line_defines(&mut self, defines: &[Define]) -> Result<()> {
        for d in defines {
            let arg = match &d.value {
                Some(v) => format!("{}={}", d.name, v),
                None => d.name.clone(),
            };
            if !is_ident(&d.name) {
                let file = self.sources.add(Path::new("<command line>"));
                return Err(Error::new(
                    Span::new(file, 1, 1),
                    format!("-A {arg}: `{}` is not a valid define name", d.name),
                ));
            }
            let tokens = match &d.value {
                Some(v) if v.contains("://") && !v.trim_start().starts_with(['"', '\'']) => {
                    // `//` would start a comment: `mysql://x` reads as `mysql :`.
                    let file = self.sources.add(Path::new("<command line>"));
                    return Err(Error::new(
                        Span::new(file, 1, 1),
                        format!(
                            "-A {arg}: the value is config text, so a URL must be quoted: -A '{}=\"{v}\"'",
                            d.name
                        ),
                    ));
                }
                Some(v) => {
                    let file = self.sources.add(Path::new("<command line>"));
                    let col = d.name.chars().count() as u32 + 2;
                    lex_text(v, Span::new(file, 1, col))
                        .map_err(|e| Error::new(e.span, format!("-A {arg}: {}", e.msg)))?
                }
                None => Vec::new(),
            };
            self.defines
                .insert(d.name.clone(), Def { tokens, at: None });
        }
        Ok(())
    }

    /// Runs the main file (file 0), whose bytes the caller read.
    pub fn run_main(mut self, text: &[u8]) -> (SourceMap, Result<Output>) {
        let main = self.sources.path(FileId(0)).to_path_buf();
        self.total_bytes = text.len();
        self.stack
            .push(std::fs::canonicalize(&main).unwrap_or_else(|_| main.clone()));
        let dir = main.parent().map(Path::to_path_buf).unwrap_or_default();
        match self.run(FileId(0), text, &dir) {
            Ok(eof) => {
                // The token limit does not apply to the end marker.
                self.out.tokens.push(Token {
                    tok: Tok::Eof,
                    span: eof,
                    space_before: true,
                });
                (self.sources, Ok(self.out))
            }
            Err(e) => (self.sources, Err(e)),
        }
    }

    /// Processes one file; returns the position of its end.
    fn run(&mut self, file: FileId, text: &[u8], dir: &Path) -> Result<Span> {
        let mut lx = Lexer::new(text, file);
        let mut conds: Vec<Cond> = Vec::new();
        loop {
            let active = conds.last().is_none_or(|c| c.active);
            let t = if active {
                lx.next_token()?
            } else {
                lx.next_directive()?
            };
            match t.tok {
                Tok::Eof => {
                    if let Some(c) = conds.last() {
                        return Err(Error::new(
                            c.span,
                            format!("unterminated `{}`: missing `#!endif`", c.label),
                        ));
                    }
                    return Ok(t.span);
                }
                Tok::Directive(d) => self.directive(&d, t.span, &mut conds, active, dir)?,
                Tok::Ident(ref w) if w == "include_file" || w == "import_file" => {
                    let arg = lx.next_token()?;
                    match arg.tok {
                        Tok::Str(ref p) => self.include(p, arg.span, w == "import_file", dir)?,
                        ref other => {
                            return Err(Error::new(
                                arg.span,
                                format!(
                                    "expected a file name string after `{w}`, found {}",
                                    other.describe()
                                ),
                            ));
                        }
                    }
                }
                _ => {
                    let mut expanding = Vec::new();
                    self.emit(t, &mut expanding)?;
                }
            }
        }
    }

    fn push(&mut self, t: Token) -> Result<()> {
        if self.out.tokens.len() >= self.limits.max_tokens {
            return Err(Error::new(
                t.span,
                format!(
                    "configuration too large: more than {} tokens",
                    self.limits.max_tokens
                ),
            ));
        }
        self.out.tokens.push(t);
        Ok(())
    }

    /// Emits a token, substituting defines.
    fn emit(&mut self, t: Token, expanding: &mut Vec<String>) -> Result<()> {
        let name = match &t.tok {
            Tok::Ident(n) if !expanding.contains(n) => n,
            _ => return self.push(t),
        };
        let Some(def) = self.defines.get(name) else {
            return self.push(t);
        };
        if expanding.len() >= self.limits.max_define_depth {
            return Err(Error::new(
                t.span,
                format!(
                    "`#!define` substitution of `{name}` nested too deeply (more than {} levels)",
                    self.limits.max_define_depth
                ),
            ));
        }
        let body = def.tokens.clone();
        expanding.push(name.clone());
        for (i, mut v) in body.into_iter().enumerate() {
            v.span = t.span;
            if i == 0 {
                v.space_before = t.space_before;
            }
            self.emit(v, expanding)?;
        }
        expanding.pop();
        Ok(())
    }

    fn directive(
        &mut self,
        d: &DirTok,
        span: Span,
        conds: &mut Vec<Cond>,
        active: bool,
        dir: &Path,
    ) -> Result<()> {
        let name = d.name.as_str();
        match name {
            "ifdef" | "ifndef" => {
                if conds.len() >= self.limits.max_ifdef_depth {
                    return Err(Error::new(
                        span,
                        format!(
                            "`#!{name}` nested too deeply (more than {} levels)",
                            self.limits.max_ifdef_depth
                        ),
                    ));
                }
                if !active {
                    conds.push(Cond {
                        span,
                        label: format!("#!{name}"),
                        parent_active: false,
                        truth: false,
                        active: false,
                        else_seen: false,
                    });
                    return Ok(());
                }
                let arg = self.one_name(d, span)?;
                let defined = self.defines.contains_key(&arg);
                let truth = if name == "ifdef" { defined } else { !defined };
                self.out.directives.push((format!("#!{name}"), span));
                conds.push(Cond {
                    span,
                    label: format!("#!{name} {arg}"),
                    parent_active: true,
                    truth,
                    active: truth,
                    else_seen: false,
                });
                Ok(())
            }
            "else" => {
                let Some(c) = conds.last_mut() else {
                    return Err(Error::new(span, "`#!else` without `#!ifdef`"));
                };
                if c.else_seen {
                    return Err(Error::new(
                        span,
                        format!("second `#!else` for `{}`", c.label),
                    ));
                }
                c.else_seen = true;
                c.active = c.parent_active && !c.truth;
                if c.parent_active {
                    self.no_args(d, span)?;
                }
                Ok(())
            }
            "endif" => {
                let Some(c) = conds.pop() else {
                    return Err(Error::new(span, "`#!endif` without `#!ifdef`"));
                };
                if c.parent_active {
                    self.no_args(d, span)?;
                }
                Ok(())
            }
            // Everything else only counts in active regions.
            _ if !active => Ok(()),
            "define" | "trydef" | "redefine" => self.define(d, span),
            "include_file" | "import_file" => {
                let toks = lex_text(&d.rest, d.rest_span)?;
                match toks.as_slice() {
                    [
                        Token {
                            tok: Tok::Str(p),
                            span: ps,
                            ..
                        },
                    ] => self.include(p, *ps, name == "import_file", dir),
                    [] => Err(Error::new(
                        span,
                        format!("expected a file name string after `#!{name}`"),
                    )),
                    [t, ..] => Err(Error::new(
                        t.span,
                        format!(
                            "expected a file name string after `#!{name}`, found {}",
                            t.tok.describe()
                        ),
                    )),
                }
            }
            "subst" | "substdef" | "substdefs" | "ifexp" | "elif" | "defexp" | "defexps"
            | "defenv" | "defenvs" | "ifdefexp" => {
                Err(Error::new(span, format!("`#!{name}` is not supported")))
            }
            _ => match Dialect::from_marker(name) {
                Some(dialect) => {
                    self.no_args(d, span)?;
                    if let Some(prev) = self.out.markers.iter().find(|m| m.dialect != dialect) {
                        return Err(Error::new(
                            span,
                            format!(
                                "dialect marker `#!{name}` conflicts with `{}` at {}",
                                prev.text,
                                self.sources.describe(prev.span)
                            ),
                        ));
                    }
                    self.out.markers.push(Marker {
                        dialect,
                        text: format!("#!{name}"),
                        span,
                    });
                    Ok(())
                }
                None if name == "ALL" || name == "MAXCOMPAT" => Err(Error::new(
                    span,
                    format!("compatibility mode `#!{name}` is not supported"),
                )),
                None => Err(Error::new(
                    span,
                    format!("unknown preprocessor directive `#!{name}`"),
                )),
            },
        }
    }

    /// The single name argument of `#!ifdef`/`#!ifndef`.
    fn one_name(&self, d: &DirTok, span: Span) -> Result<String> {
        let toks = lex_text(&d.rest, d.rest_span)?;
        match toks.as_slice() {
            [
                Token {
                    tok: Tok::Ident(n), ..
                },
            ] => Ok(n.clone()),
            [] => Err(Error::new(
                span,
                format!("expected a name after `#!{}`", d.name),
            )),
            [
                Token {
                    tok: Tok::Ident(_), ..
                },
                extra,
                ..,
            ] => Err(Error::new(
                extra.span,
                format!(
                    "unexpected {} after `#!{}` name",
                    extra.tok.describe(),
                    d.name
                ),
            )),
            [t, ..] => Err(Error::new(
                t.span,
                format!(
                    "expected a name after `#!{}`, found {}",
                    d.name,
                    t.tok.describe()
                ),
            )),
        }
    }

    fn no_args(&self, d: &DirTok, _span: Span) -> Result<()> {
        let toks = lex_text(&d.rest, d.rest_span)?;
        match toks.first() {
            None => Ok(()),
            Some(t) => Err(Error::new(
                t.span,
                format!("unexpected {} after `#!{}`", t.tok.describe(), d.name),
            )),
        }
    }

    fn define(&mut self, d: &DirTok, span: Span) -> Result<()> {
        let mut toks = lex_text(&d.rest, d.rest_span)?;
        let name = match toks.first() {
            Some(Token {
                tok: Tok::Ident(n), ..
            }) => n.clone(),
            Some(t) => {
                return Err(Error::new(
                    t.span,
                    format!(
                        "expected a name after `#!{}`, found {}",
                        d.name,
                        t.tok.describe()
                    ),
                ));
            }
            None => {
                return Err(Error::new(
                    span,
                    format!("expected a name after `#!{}`", d.name),
                ));
            }
        };
        let name_span = toks[0].span;
        toks.remove(0);
        self.out.directives.push((format!("#!{}", d.name), span));
        if let Some(old) = self.defines.get(&name) {
            match d.name.as_str() {
                "trydef" => return Ok(()),
                "define" => {
                    let same = old.tokens.len() == toks.len()
                        && old.tokens.iter().zip(&toks).all(|(a, b)| a.tok == b.tok);
                    if !same {
                        let at = match old.at {
                            Some(s) => format!("at {}", self.sources.describe(s)),
                            None => "with -A on the command line".to_string(),
                        };
                        return Err(Error::new(
                            name_span,
                            format!(
                                "`{name}` is already defined {at}; use `#!redefine` to change it"
                            ),
                        ));
                    }
                    return Ok(());
                }
                _ => {}
            }
        }
        self.defines.insert(
            name,
            Def {
                tokens: toks,
                at: Some(span),
            },
        );
        Ok(())
    }

    fn include(&mut self, name: &str, span: Span, optional: bool, dir: &Path) -> Result<()> {
        let word = if optional {
            "import_file"
        } else {
            "include_file"
        };
        if name.is_empty() {
            return Err(Error::new(span, format!("empty file name after `{word}`")));
        }
        if self.stack.len() > self.limits.max_include_depth {
            return Err(Error::new(
                span,
                format!(
                    "files included too deeply (more than {} levels)",
                    self.limits.max_include_depth
                ),
            ));
        }
        let path = if Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            dir.join(name)
        };
        let canon = match std::fs::canonicalize(&path) {
            Ok(c) => c,
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(Error::new(
                    span,
                    format!(
                        "cannot open included file `{}`: {}",
                        path.display(),
                        io_msg(&e)
                    ),
                ));
            }
        };
        if self.stack.contains(&canon) {
            return Err(Error::new(
                span,
                format!("include cycle: `{}` is already being read", path.display()),
            ));
        }
        let text = match read_limited(&canon, self.limits.max_file_size) {
            Ok(Ok(t)) => t,
            Ok(Err(max)) => {
                return Err(Error::new(
                    span,
                    format!(
                        "included file `{}` is larger than {}",
                        path.display(),
                        size_text(max)
                    ),
                ));
            }
            Err(e) => {
                return Err(Error::new(
                    span,
                    format!(
                        "cannot read included file `{}`: {}",
                        path.display(),
                        io_msg(&e)
                    ),
                ));
            }
        };
        self.total_bytes = self.total_bytes.saturating_add(text.len());
        if self.total_bytes > self.limits.max_total_size {
            return Err(Error::new(
                span,
                format!(
                    "configuration too large: files add up to more than {}",
                    size_text(self.limits.max_total_size)
                ),
            ));
        }
        let id = self.sources.add(&path);
        let sub_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.stack.push(canon);
        self.run(id, &text, &sub_dir)?;
        self.stack.pop();
        Ok(())
    }
}

/// An I/O error without the "(os error N)" tail.
pub(crate) fn io_msg(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, defines: &[Define]) -> std::result::Result<Vec<Tok>, String> {
        let limits = Limits::default();
        let mut p = Pre::new(Path::new("t.cfg"), &limits);
        if let Err(e) = p.command_line_defines(defines) {
            return Err(p.sources.diagnostic(e.span, e.msg).to_string());
        }
        let (sources, out) = p.run_main(src.as_bytes());
        match out {
            Ok(o) => Ok(o
                .tokens
                .into_iter()
                .map(|t| t.tok)
                .filter(|t| *t != Tok::Eof)
                .collect()),
            Err(e) => Err(sources.diagnostic(e.span, e.msg).to_string()),
        }
    }

    fn words(src: &str) -> String {
        words_with(src, &[])
    }

    fn words_with(src: &str, defines: &[Define]) -> String {
        run(src, defines)
            .unwrap()
            .iter()
            .map(|t| match t {
                Tok::Ident(s) => s.clone(),
                Tok::Str(s) => format!("{s:?}"),
                Tok::Int(n) => n.to_string(),
                o => o.punct().to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn err(src: &str) -> String {
        run(src, &[]).unwrap_err()
    }

    #[test]
    fn ifdef_else_endif() {
        let src = "#!ifdef A\na\n#!else\nb\n#!endif\nc";
        assert_eq!(words(src), "b c");
        assert_eq!(words_with(src, &[Define::from_arg("A")]), "a c");
        let src = "#!ifndef A\na\n#!endif";
        assert_eq!(words(src), "a");
    }

    #[test]
    fn nested_conditionals() {
        let src = "#!ifdef A\n#!ifdef B\nab\n#!else\na\n#!endif\n#!else\n#!ifdef B\nb\n#!endif\nnone\n#!endif";
        assert_eq!(words(src), "none");
        assert_eq!(words_with(src, &[Define::from_arg("B")]), "b none");
        assert_eq!(
            words_with(src, &[Define::from_arg("A"), Define::from_arg("B")]),
            "ab"
        );
        assert_eq!(words_with(src, &[Define::from_arg("A")]), "a");
    }

    #[test]
    fn inactive_text_may_be_anything() {
        let src = "#!ifdef SQL\n  ALTER TABLE acc ADD x VARCHAR(64) DEFAULT '';\n  \"unterminated\n#!endif\nok";
        assert_eq!(words(src), "ok");
    }

    #[test]
    fn define_substitution() {
        let src =
            "#!define DBURL \"mysql://a@b/c\"\nmodparam(\"acc\", \"db_url\", DBURL) x = \"DBURL\"";
        assert_eq!(
            words(src),
            "modparam ( \"acc\" , \"db_url\" , \"mysql://a@b/c\" ) x = \"DBURL\""
        );
        assert_eq!(words("#!define E\na E b"), "a b");
        assert_eq!(words("#!define A B C # comment\n#!define B 1\nA"), "1 C");
        assert_eq!(words("#!define A x \\\n  y\nA"), "x y");
    }

    #[test]
    fn define_spans_point_at_the_use() {
        let limits = Limits::default();
        let p = Pre::new(Path::new("t.cfg"), &limits);
        let (_, out) = p.run_main(b"#!define V 1 2\n\n   V");
        let toks = out.unwrap().tokens;
        assert_eq!((toks[0].span.line, toks[0].span.col), (3, 4));
        assert_eq!((toks[1].span.line, toks[1].span.col), (3, 4));
    }

    #[test]
    fn recursive_defines_stop() {
        assert_eq!(words("#!define A A B\n#!define B A\nA"), "A A");
        assert_eq!(words("#!define A B\n#!define B A\nA"), "A");
    }

    #[test]
    fn trydef_redefine_and_duplicates() {
        assert_eq!(words("#!define A 1\n#!trydef A 2\nA"), "1");
        assert_eq!(words("#!define A 1\n#!redefine A 2\nA"), "2");
        assert_eq!(words("#!define A 1\n#!define A 1\nA"), "1");
        assert_eq!(
            err("#!define A 1\n#!define A 2\n"),
            "t.cfg:2:10: `A` is already defined at 1:1; use `#!redefine` to change it"
        );
        assert_eq!(
            run("#!define A 2", &[Define::from_arg("A=1")]).unwrap_err(),
            "t.cfg:1:10: `A` is already defined with -A on the command line; use `#!redefine` to change it"
        );
    }

    #[test]
    fn command_line_defines() {
        assert_eq!(
            words_with(
                "X Y",
                &[Define::from_arg("X=\"v\""), Define::from_arg("Y=1 + 2")]
            ),
            "\"v\" 1 + 2"
        );
        assert_eq!(
            run("", &[Define::from_arg("A B")]).unwrap_err(),
            "<command line>:1:1: -A A B: `A B` is not a valid define name"
        );
        assert_eq!(
            run("", &[Define::from_arg("DB=\"x")]).unwrap_err(),
            "<command line>:1:4: -A DB=\"x: unterminated string (missing closing `\"`)"
        );
    }

    #[test]
    fn unquoted_urls_on_the_command_line() {
        assert_eq!(
            run("", &[Define::from_arg("DBURL=mysql://a@b/c")]).unwrap_err(),
            "<command line>:1:1: -A DBURL=mysql://a@b/c: the value is config text, so a URL must be quoted: \
             -A 'DBURL=\"mysql://a@b/c\"'"
        );
        assert_eq!(
            words_with("DBURL", &[Define::from_arg("DBURL=\"mysql://a@b/c\"")]),
            "\"mysql://a@b/c\""
        );
    }

    #[test]
    fn conditional_errors() {
        assert_eq!(
            err("a\n  #!ifdef X\nb\n"),
            "t.cfg:2:3: unterminated `#!ifdef X`: missing `#!endif`"
        );
        assert_eq!(
            err("#!ifndef X\n#!ifdef Y\n#!endif\n"),
            "t.cfg:1:1: unterminated `#!ifndef X`: missing `#!endif`"
        );
        assert_eq!(err("#!endif"), "t.cfg:1:1: `#!endif` without `#!ifdef`");
        assert_eq!(err("#!else"), "t.cfg:1:1: `#!else` without `#!ifdef`");
        assert_eq!(
            err("#!ifdef A\n#!else\n#!else\n#!endif"),
            "t.cfg:3:1: second `#!else` for `#!ifdef A`"
        );
        assert_eq!(
            err("#!ifdef\n"),
            "t.cfg:1:1: expected a name after `#!ifdef`"
        );
        assert_eq!(
            err("#!ifdef A B\n"),
            "t.cfg:1:11: unexpected `B` after `#!ifdef` name"
        );
        assert_eq!(
            err("#!ifdef \"A\"\n"),
            "t.cfg:1:9: expected a name after `#!ifdef`, found string \"A\""
        );
        assert_eq!(
            err("#!ifdef A\n#!endif x\n"),
            "t.cfg:2:9: unexpected `x` after `#!endif`"
        );
        assert_eq!(
            err("#!define 1 2"),
            "t.cfg:1:10: expected a name after `#!define`, found `1`"
        );
        // Comments after directives are fine.
        assert_eq!(
            words("#!ifdef A # why\n#!else # other\nb\n#!endif # done"),
            "b"
        );
    }

    #[test]
    fn depth_limits() {
        let deep = "#!ifdef A\n".repeat(65);
        assert_eq!(
            err(&deep),
            "t.cfg:65:1: `#!ifdef` nested too deeply (more than 64 levels)"
        );
        // Inactive nesting is bounded too.
        let deep = "#!ifdef A\n".repeat(100);
        assert!(err(&deep).contains("nested too deeply"));
        let mut chain = String::new();
        for i in 0..40 {
            chain.push_str(&format!("#!define D{i} D{}\n", i + 1));
        }
        chain.push_str("D0");
        assert_eq!(
            err(&chain),
            "t.cfg:41:1: `#!define` substitution of `D16` nested too deeply (more than 16 levels)"
        );
    }

    #[test]
    fn exponential_defines_hit_the_token_limit() {
        let mut src = format!("#!define X0 {}\n", "a ".repeat(1000));
        for i in 1..12 {
            src.push_str(&format!("#!define X{i} X{} X{}\n", i - 1, i - 1));
        }
        src.push_str("X11");
        assert_eq!(
            err(&src),
            "t.cfg:13:1: configuration too large: more than 1000000 tokens"
        );
    }

    #[test]
    fn markers_and_unknown_directives() {
        let limits = Limits::default();
        let p = Pre::new(Path::new("t.cfg"), &limits);
        let (_, out) = p.run_main(b"#!KAMAILIO\n#!/usr/bin/env x\nx");
        let out = out.unwrap();
        assert_eq!(out.markers.len(), 1);
        assert_eq!(out.markers[0].dialect, Dialect::Kamailio);
        assert_eq!(
            err("#!SER09\n#!KAMAILIO"),
            "t.cfg:2:1: dialect marker `#!KAMAILIO` conflicts with `#!SER09` at 1:1"
        );
        assert_eq!(
            err("#!frobnicate"),
            "t.cfg:1:1: unknown preprocessor directive `#!frobnicate`"
        );
        assert_eq!(
            err("#!substdef \"/a/b/\""),
            "t.cfg:1:1: `#!substdef` is not supported"
        );
        assert_eq!(
            err("#!KAMAILIO x"),
            "t.cfg:1:12: unexpected `x` after `#!KAMAILIO`"
        );
        // Unknown directives in inactive regions are not looked at.
        assert_eq!(words("#!ifdef NO\n#!frobnicate\n#!endif\nok"), "ok");
    }

    #[test]
    fn include_errors() {
        assert_eq!(
            err("include_file \"/nonexistent/x.cfg\""),
            "t.cfg:1:14: cannot open included file `/nonexistent/x.cfg`: No such file or directory"
        );
        assert_eq!(words("import_file \"/nonexistent/x.cfg\" ok"), "ok");
        assert_eq!(
            err("include_file x"),
            "t.cfg:1:14: expected a file name string after `include_file`, found `x`"
        );
        assert_eq!(
            err("include_file \"\""),
            "t.cfg:1:14: empty file name after `include_file`"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(size_text(4 << 20), "4 MiB");
        assert_eq!(size_text(2048), "2 KiB");
        assert_eq!(size_text(100), "100 bytes");
    }
}
