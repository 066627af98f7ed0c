//! The values that go into and come out of a statement ([`Cell`]) and the
//! errors of the store layer ([`DbError`]).

use std::fmt;

/// One value: a statement parameter or one column of a result row.
///
/// Every back end maps its column types onto these: integers of any width
/// (and booleans) to `Int`, floating point to `Real`, character types to
/// `Text` and binary types to `Bytes`.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Cell {
    /// The integer, if the cell holds one (a `Real` with no fraction
    /// counts, as does a `Text` of digits: back ends disagree on the type
    /// of some expressions such as `COUNT(*)` or `SUM`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            Cell::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Cell::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The number as a float (integers convert).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Real(f) => Some(*f),
            Cell::Int(i) => Some(*i as f64),
            Cell::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The text, if the cell holds text (or bytes that are UTF-8).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            Cell::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The text, taken out of the cell; `None` for NULL and non-text.
    pub fn into_string(self) -> Option<String> {
        match self {
            Cell::Text(s) => Some(s),
            Cell::Bytes(b) => String::from_utf8(b).ok(),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Cell::Null)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Cell {
        Cell::Int(v)
    }
}

impl From<i32> for Cell {
    fn from(v: i32) -> Cell {
        Cell::Int(v.into())
    }
}

impl From<u32> for Cell {
    fn from(v: u32) -> Cell {
        Cell::Int(v.into())
    }
}

impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        Cell::Real(v)
    }
}

impl From<&str> for Cell {
    fn from(v: &str) -> Cell {
        Cell::Text(v.to_string())
    }
}

impl From<String> for Cell {
    fn from(v: String) -> Cell {
        Cell::Text(v)
    }
}

impl From<&String> for Cell {
    fn from(v: &String) -> Cell {
        Cell::Text(v.clone())
    }
}

impl From<Vec<u8>> for Cell {
    fn from(v: Vec<u8>) -> Cell {
        Cell::Bytes(v)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Cell {
        v.map_or(Cell::Null, Into::into)
    }
}

/// What went wrong with a database call.
///
/// The split matters to callers: `Unavailable` says "try again later, the
/// database cannot be reached" (the pool reconnects by itself), the others
/// say "this statement is wrong or not allowed" and retrying will not help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbError {
    /// The connection could not be made, was lost, or did not answer in
    /// time (the message says which, naming the URL without its password).
    Unavailable(String),
    /// The statement failed: syntax, a constraint, a type mismatch, a
    /// server-side timeout, SQLite's "database is locked" after the busy
    /// timeout, a value that does not fit the expected type.
    Query(String),
    /// The schema cannot be brought to this version of ser: a table is
    /// newer than ser knows, or exists without a row in `version`.
    Schema(String),
}

impl DbError {
    /// True for [`DbError::Unavailable`].
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DbError::Unavailable(_))
    }

    /// The message without the kind.
    pub fn message(&self) -> &str {
        match self {
            DbError::Unavailable(m) | DbError::Query(m) | DbError::Schema(m) => m,
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Unavailable(m) => write!(f, "database unavailable: {m}"),
            DbError::Query(m) => write!(f, "query failed: {m}"),
            DbError::Schema(m) => write!(f, "schema: {m}"),
        }
    }
}

impl std::error::Error for DbError {}
