//! The ser.cfg routing language: preprocessor, parser (and, as issue 3
//! lands, checker, compiler and loader).
//!
//! Public entry point for the `ser` binary: [`parse_file`]. STUB API: the
//! body is being written; the signatures are fixed.

use std::fmt;
use std::path::{Path, PathBuf};

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
            Some((n, v)) => Define { name: n.to_string(), value: Some(v.to_string()) },
            None => Define { name: s.to_string(), value: None },
        }
    }
}

/// An error or warning located in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.col, self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// A parsed script. STUB.
#[derive(Clone, Debug, Default)]
pub struct Script {}

/// Reads, preprocesses and parses a config file.
pub fn parse_file(path: &Path, _defines: &[Define]) -> Result<Script, Diagnostic> {
    std::fs::read(path).map_err(|e| Diagnostic {
        file: path.to_path_buf(),
        line: 0,
        col: 0,
        message: format!("cannot read config file: {e}"),
    })?;
    Ok(Script {})
}
