//! The ser.cfg routing language: preprocessor, parser and dialect detection
//! (the checker, compiler and loader build on the tree this crate produces).
//!
//! # Use
//!
//! ```
//! use ser_cfg::{parse_str, Define, Dialect, RouteKind, RouteName};
//!
//! let text = "#!KAMAILIO\n\
//!             debug=2\n\
//!             route { route(CHECK); }\n\
//!             route[CHECK] { if (!uri==myself) { sl_send_reply(\"403\", \"Forbidden\"); exit; } }\n";
//! let script = parse_str("kamailio.cfg", text, &[Define::from_arg("WITH_NAT")]).unwrap();
//! assert_eq!(script.dialect, Dialect::Kamailio);
//! assert_eq!(script.dialect_summary(), "dialect: Kamailio (`#!KAMAILIO` marker at line 1)");
//! let check = script.route(RouteKind::Request, Some(&RouteName::Name("CHECK".into()))).unwrap();
//! assert_eq!(check.body.stmts.len(), 1);
//!
//! let err = parse_str("bad.cfg", "route {\n  t_relay()\n}\n", &[]).unwrap_err();
//! assert_eq!(err.to_string(), "bad.cfg:3:1: expected `;` after `t_relay(...)`, found `}`");
//! ```
//!
//! Entry points: [`parse_file`] (the fixed signature the `ser` binary uses),
//! [`parse_file_with`] / [`parse_str_with`] with [`ParseOptions`] (forced
//! dialect, `-A` defines, [`Limits`]), [`parse_str`], [`parse_bytes`].
//!
//! The result is a [`Script`]: the tree ([`ast`]: items, route blocks,
//! statements, expressions, every node with a [`Span`]), the files that took
//! part ([`Script::files`], indexed by [`FileId`]; file 0 is the main
//! config), and the [`Dialect`] with the reason it was chosen.
//! [`Script::diagnostic`] turns a span into a `file:line:col: message`
//! [`Diagnostic`] for later passes; [`Script::to_source`] prints the tree
//! back as canonical config text.
//!
//! # Pipeline
//!
//! 1. **Preprocessor** (`pre`, over the lexer `lex`): `#!define`/`#!trydef`/
//!    `#!redefine`, `#!ifdef`/`#!ifndef`/`#!else`/`#!endif`, substitution of
//!    defined names, `include_file`/`import_file`, dialect markers, `-A`
//!    defines first. Output: one token stream whose tokens keep the file,
//!    line and column they came from (included files included).
//! 2. **Parser** (`parse`): recursive descent with precedence climbing for
//!    expressions; the grammar is in that module's docs. Statements end with
//!    `;`; a `;` after a `}` is an empty statement; `if`/`else`/`while`
//!    bodies may be a single statement; `else if` chains are flat.
//! 3. **Dialect detection** ([`dialect`]): forced by the caller, else a
//!    marker line, else the first dialect-specific construct, else SER 0.9.
//!
//! Each stage stops at the first error and reports it as a [`Diagnostic`]:
//! `file:line:col: message`, 1-based, in the file where the offending text
//! is (an included file, or `<command line>` for `-A`), with the message
//! naming what was expected and what was found.
//!
//! # Dialect markers
//!
//! A line `#!SER08`, `#!SER09`, `#!SER2` (also `#!SER20`, or sip-router's
//! `#!SER`) or `#!KAMAILIO` (also `#!OPENSER`) sets the dialect; a caller
//! (the `ser` command line) may force one with [`ParseOptions::dialect`]
//! ([`Dialect`] parses from `ser08`, `ser09`, `ser2`, `kamailio`). Two
//! different markers are an error. See [`dialect`] for detection and for
//! what differs ([`Dialect::break_meaning`], [`Dialect::tm_timer_unit`]).
//!
//! # Bounds
//!
//! All sizes and depths are bounded by [`Limits`] (file 4 MiB, all files
//! 16 MiB, include depth 16, `#!ifdef` depth 64, define depth 16, 1,000,000
//! tokens, block/parenthesis nesting 64, expression depth 256). A hostile
//! config is rejected with a diagnostic; it never panics, hangs or exhausts
//! the stack: at the limits the parser needs less than 512 KiB of stack in
//! a debug build and about 200 KiB in release, so the main thread or any
//! default-sized thread can run it.

pub mod ast;
pub mod binary;
pub mod catalog;
pub mod check;
pub mod compile;
pub mod dialect;
pub mod ir;
mod lex;
mod parse;
mod pre;
pub mod print;
mod source;

use std::fmt;
use std::path::{Path, PathBuf};

pub use ast::{Item, ItemKind, RouteBlock, RouteKind, RouteName};
pub use dialect::{BreakMeaning, Dialect, DialectSource, Evidence, Marker, Strength, TimerUnit};
pub use source::{FileId, SourceMap, Span};

/// A preprocessor define from `-A NAME[=value]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Define {
    pub name: String,
    pub value: Option<String>,
}

impl Define {
    /// Parses `NAME` or `NAME=value` as given to `-A`.
    pub fn from_arg(s: &str) -> Define {
        match s.split_once('=') {
            Some((n, v)) => Define {
                name: n.to_string(),
                value: Some(v.to_string()),
            },
            None => Define {
                name: s.to_string(),
                value: None,
            },
        }
    }
}

/// An error or warning located in a config file.
///
/// `line` and `col` are 1-based; both are 0 when the error concerns the
/// file as a whole (it cannot be read, it is too large).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

impl std::error::Error for Diagnostic {}

/// Bounds that keep a hostile config from exhausting memory, time or stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Size of one file (main or included). Default 4 MiB.
    pub max_file_size: usize,
    /// Size of all files together. Default 16 MiB.
    pub max_total_size: usize,
    /// `include_file` depth. Default 16.
    pub max_include_depth: usize,
    /// `#!ifdef` nesting. Default 64.
    pub max_ifdef_depth: usize,
    /// Nested `#!define` substitutions. Default 16.
    pub max_define_depth: usize,
    /// Tokens after preprocessing. Default 1,000,000.
    pub max_tokens: usize,
    /// Nesting of blocks, parentheses, unary operators and call arguments
    /// (parser recursion). Default 64.
    pub max_nesting: usize,
    /// Depth of one expression tree (`a || b || c ...` is a chain as deep
    /// as it is long). Default 256.
    pub max_expr_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_size: 4 << 20,
            max_total_size: 16 << 20,
            max_include_depth: 16,
            max_ifdef_depth: 64,
            max_define_depth: 16,
            max_tokens: 1_000_000,
            max_nesting: 64,
            max_expr_depth: 256,
        }
    }
}

/// Options for [`parse_file_with`] / [`parse_str_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Force a dialect (the `ser` command line); `None` detects it.
    pub dialect: Option<Dialect>,
    /// `-A NAME[=value]` defines, defined before the file is read.
    pub defines: Vec<Define>,
    pub limits: Limits,
}

/// A parsed script.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// Files that took part, indexed by [`FileId`]: 0 is the main file.
    pub files: Vec<PathBuf>,
    /// Top-level items in source order (included files inline).
    pub items: Vec<Item>,
    pub dialect: Dialect,
    /// Why [`Script::dialect`] was chosen, as a phrase for `ser -c`:
    /// "`#!KAMAILIO` marker at line 1".
    pub dialect_reason: String,
    pub dialect_source: DialectSource,
    /// Every kind of dialect-specific construct found (first occurrence
    /// each), for the checker to flag constructs foreign to the dialect.
    pub dialect_evidence: Vec<Evidence>,
}

impl Script {
    /// The path of a file of this script.
    pub fn path(&self, file: FileId) -> &Path {
        self.files
            .get(file.0 as usize)
            .map(PathBuf::as_path)
            .unwrap_or_else(|| Path::new("<unknown>"))
    }

    /// A diagnostic at `span` (for the checker and compiler).
    pub fn diagnostic(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.path(span.file).to_path_buf(),
            line: span.line,
            col: span.col,
            message: message.into(),
        }
    }

    /// The line `ser -c` prints, such as ``dialect: Kamailio (`#!KAMAILIO`
    /// marker at line 1)`` or `dialect: SER 0.9 (the default: no marker, no
    /// dialect-specific construct)`.
    pub fn dialect_summary(&self) -> String {
        match self.dialect_source {
            DialectSource::Default => format!(
                "dialect: {} (the default: no marker, no dialect-specific construct)",
                self.dialect
            ),
            _ => format!("dialect: {} ({})", self.dialect, self.dialect_reason),
        }
    }

    /// All route blocks in source order.
    pub fn routes(&self) -> impl Iterator<Item = &RouteBlock> {
        self.items.iter().filter_map(|i| match &i.kind {
            ItemKind::Route(r) => Some(r),
            _ => None,
        })
    }

    /// The first route block of `kind` with that name (`None`: the unnamed
    /// block; for request routes also `route[0]`).
    pub fn route(&self, kind: RouteKind, name: Option<&RouteName>) -> Option<&RouteBlock> {
        self.routes().find(|r| {
            r.kind == kind
                && match (name, &r.name) {
                    (None, None) => true,
                    (None, Some(n)) => kind == RouteKind::Request && n.name.is_main(),
                    (Some(want), Some(n)) => n.name == *want,
                    (Some(_), None) => false,
                }
        })
    }

    /// The main request route (`route { }` or `route[0]`).
    pub fn main_route(&self) -> Option<&RouteBlock> {
        self.route(RouteKind::Request, None)
    }

    /// All `modparam` items.
    pub fn modparams(&self) -> impl Iterator<Item = &ast::ModParam> {
        self.items.iter().filter_map(|i| match &i.kind {
            ItemKind::ModParam(m) => Some(m),
            _ => None,
        })
    }

    /// All `loadmodule` items.
    pub fn loadmodules(&self) -> impl Iterator<Item = &ast::LoadModule> {
        self.items.iter().filter_map(|i| match &i.kind {
            ItemKind::LoadModule(m) => Some(m),
            _ => None,
        })
    }

    /// The script as canonical config text (see [`mod@print`]).
    pub fn to_source(&self) -> String {
        print::items_to_string(&self.items)
    }

    /// All core parameters (`name = value`).
    pub fn params(&self) -> impl Iterator<Item = &ast::Param> {
        self.items.iter().filter_map(|i| match &i.kind {
            ItemKind::Param(p) => Some(p),
            _ => None,
        })
    }
}

fn file_diag(path: &Path, message: String) -> Diagnostic {
    Diagnostic {
        file: path.to_path_buf(),
        line: 0,
        col: 0,
        message,
    }
}

/// Reads, preprocesses and parses a config file.
pub fn parse_file(path: &Path, defines: &[Define]) -> Result<Script, Diagnostic> {
    parse_file_with(
        path,
        &ParseOptions {
            defines: defines.to_vec(),
            ..ParseOptions::default()
        },
    )
}

/// [`parse_file`] with all options.
pub fn parse_file_with(path: &Path, opts: &ParseOptions) -> Result<Script, Diagnostic> {
    let text = match pre::read_limited(path, opts.limits.max_file_size) {
        Ok(Ok(t)) => t,
        Ok(Err(max)) => {
            return Err(file_diag(
                path,
                format!("config file is larger than {}", pre::size_text(max)),
            ));
        }
        Err(e) => {
            return Err(file_diag(
                path,
                format!("cannot read config file: {}", pre::io_msg(&e)),
            ));
        }
    };
    parse_bytes(path, &text, opts)
}

/// Preprocesses and parses config text; `name` is used in diagnostics and
/// as the base for relative `include_file` paths.
pub fn parse_str(
    name: impl AsRef<Path>,
    text: &str,
    defines: &[Define],
) -> Result<Script, Diagnostic> {
    parse_str_with(
        name,
        text,
        &ParseOptions {
            defines: defines.to_vec(),
            ..ParseOptions::default()
        },
    )
}

/// [`parse_str`] with all options.
pub fn parse_str_with(
    name: impl AsRef<Path>,
    text: &str,
    opts: &ParseOptions,
) -> Result<Script, Diagnostic> {
    parse_bytes(name.as_ref(), text.as_bytes(), opts)
}

/// [`parse_str`] for bytes that need not be UTF-8 outside strings and
/// comments.
pub fn parse_bytes(name: &Path, text: &[u8], opts: &ParseOptions) -> Result<Script, Diagnostic> {
    if text.len() > opts.limits.max_file_size {
        return Err(file_diag(
            name,
            format!(
                "config file is larger than {}",
                pre::size_text(opts.limits.max_file_size)
            ),
        ));
    }
    let mut p = pre::Pre::new(name, &opts.limits);
    if let Err(e) = p.command_line_defines(&opts.defines) {
        return Err(p.sources.diagnostic(e.span, e.msg));
    }
    let (sources, out) = p.run_main(text);
    let out = out.map_err(|e| with_hint(sources.diagnostic(e.span, e.msg), e.span, text))?;
    let items = parse::Parser::new(&out.tokens, &opts.limits)
        .parse_script()
        .map_err(|e| with_hint(sources.diagnostic(e.span, e.msg), e.span, text))?;
    let evidence = dialect::evidence(&items, &out.directives);
    let (dialect, dialect_source, dialect_reason) =
        dialect::choose(opts.dialect, &out.markers, &evidence, &sources);
    Ok(Script {
        files: sources.into_files(),
        items,
        dialect,
        dialect_reason,
        dialect_source,
        dialect_evidence: evidence,
    })
}

/// Adds a hint to an error in the main file when the file is the 2001
/// `sip_router.cfg` regex table, which predates the ser.cfg language.
fn with_hint(mut d: Diagnostic, span: Span, text: &[u8]) -> Diagnostic {
    if span.file == FileId(0) && looks_like_regex_table(text) {
        d.message.push_str(
            "; this file looks like a 2001 sip_router.cfg regex table (`method_re uri_re next_hop` lines), \
             a format that predates the ser.cfg language",
        );
    }
    d
}

fn looks_like_regex_table(text: &[u8]) -> bool {
    let text = String::from_utf8_lossy(text);
    let mut rows = 0;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line.split_whitespace().count() != 3 || line.contains(['=', '{', '}', '(', ';', '"']) {
            return false;
        }
        rows += 1;
    }
    rows > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn define_from_arg() {
        assert_eq!(
            Define::from_arg("A"),
            Define {
                name: "A".into(),
                value: None
            }
        );
        assert_eq!(
            Define::from_arg("A=b=c"),
            Define {
                name: "A".into(),
                value: Some("b=c".into())
            }
        );
    }

    #[test]
    fn file_errors() {
        let e = parse_file(Path::new("/nonexistent/ser.cfg"), &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/nonexistent/ser.cfg:0:0: cannot read config file: No such file or directory"
        );
        let opts = ParseOptions {
            limits: Limits {
                max_file_size: 4,
                ..Limits::default()
            },
            ..ParseOptions::default()
        };
        let e = parse_str_with("big.cfg", "debug=3", &opts).unwrap_err();
        assert_eq!(
            e.to_string(),
            "big.cfg:0:0: config file is larger than 4 bytes"
        );
    }

    #[test]
    fn regex_table_hint() {
        let e = parse_str("r.cfg", "# c\n^R.*  ^sip:.*  host.example\n", &[]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("r.cfg:2:1: unexpected character `^`; this file looks like a 2001")
        );
        let e = parse_str("r.cfg", "debug=3\n^x\n", &[]).unwrap_err();
        assert_eq!(e.to_string(), "r.cfg:2:1: unexpected character `^`");
    }

    #[test]
    fn script_helpers() {
        let s = parse_str(
            "s.cfg",
            "modparam(\"a\",\"b\",1) loadmodule \"x\" debug=1 route[0]{} route[R]{}",
            &[],
        )
        .unwrap();
        assert!(s.main_route().is_some());
        assert!(
            s.route(RouteKind::Request, Some(&RouteName::Name("R".into())))
                .is_some()
        );
        assert!(s.route(RouteKind::Failure, None).is_none());
        assert_eq!(s.modparams().count(), 1);
        assert_eq!(s.loadmodules().count(), 1);
        assert_eq!(s.params().count(), 1);
        assert_eq!(s.path(FileId(0)), Path::new("s.cfg"));
        assert_eq!(
            s.diagnostic(Span::new(FileId(0), 2, 3), "m").to_string(),
            "s.cfg:2:3: m"
        );
        assert_eq!(
            s.dialect_summary(),
            "dialect: SER 2.x (module loaded by bare name `x` (SER 2.x construct) at 1:32)"
        );
    }
}
