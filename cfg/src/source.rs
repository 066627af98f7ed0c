//! Source positions: file ids, spans, the table of files that took part in
//! a parse, and the crate-internal error type that carries a span.

use std::path::{Path, PathBuf};

use crate::Diagnostic;

/// Index of a file in [`SourceMap`] (and in [`crate::Script::files`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// Where a token or a tree node starts: file, 1-based line, 1-based column.
///
/// Columns count characters (UTF-8 scalar values), a tab counts as one.
/// Tokens produced by a `#!define` substitution carry the position of the
/// identifier that was replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
}

impl Span {
    pub const fn new(file: FileId, line: u32, col: u32) -> Span {
        Span { file, line, col }
    }
}

/// The files that took part in a parse, in the order they were first read.
/// File 0 is the main config (or the name given to [`crate::parse_str`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceMap {
    files: Vec<PathBuf>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file (or returns the id it already has).
    pub fn add(&mut self, path: &Path) -> FileId {
        if let Some(i) = self.files.iter().position(|p| p == path) {
            return FileId(i as u32);
        }
        self.files.push(path.to_path_buf());
        FileId((self.files.len() - 1) as u32)
    }

    /// The path of a file; `<unknown>` for an id this map never gave out.
    pub fn path(&self, id: FileId) -> &Path {
        self.files
            .get(id.0 as usize)
            .map(PathBuf::as_path)
            .unwrap_or_else(|| Path::new("<unknown>"))
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    pub fn into_files(self) -> Vec<PathBuf> {
        self.files
    }

    /// A diagnostic located at `span`.
    pub fn diagnostic(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.path(span.file).to_path_buf(),
            line: span.line,
            col: span.col,
            message: message.into(),
        }
    }

    /// Where `span` is, for use inside a message: `12:5` in the main file,
    /// `other.cfg:12:5` elsewhere.
    pub fn describe(&self, span: Span) -> String {
        if span.file == FileId(0) {
            format!("{}:{}", span.line, span.col)
        } else {
            format!(
                "{}:{}:{}",
                self.path(span.file).display(),
                span.line,
                span.col
            )
        }
    }
}

/// An error with a position; turned into a [`Diagnostic`] at the API edge,
/// where the file table is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Error {
    pub span: Span,
    pub msg: String,
}

impl Error {
    pub fn new(span: Span, msg: impl Into<String>) -> Error {
        Error {
            span,
            msg: msg.into(),
        }
    }
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_dedupes_and_describes() {
        let mut m = SourceMap::new();
        let a = m.add(Path::new("a.cfg"));
        let b = m.add(Path::new("b.cfg"));
        assert_eq!(m.add(Path::new("a.cfg")), a);
        assert_eq!(b, FileId(1));
        assert_eq!(m.describe(Span::new(a, 3, 4)), "3:4");
        assert_eq!(m.describe(Span::new(b, 3, 4)), "b.cfg:3:4");
        assert_eq!(m.path(FileId(9)), Path::new("<unknown>"));
        let d = m.diagnostic(Span::new(b, 1, 2), "boom");
        assert_eq!(d.to_string(), "b.cfg:1:2: boom");
    }
}
