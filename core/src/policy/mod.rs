//! Policy tables cached from the store: the `domain` module (which
//! domains are local, [`Domains`]) and the `trusted` and `address` tables
//! of the `permissions` module ([`Trusted`], [`address`]).
//!
//! Each table is read at start-up (blocking is fine then: the shards do not
//! run yet) and again on the RPC reload (`domain.reload`,
//! `permissions.trustedReload`, on the control thread). What was read is an
//! immutable snapshot behind an [`arc_swap::ArcSwap`], replaced whole by a
//! reload: a shard reads it with one atomic load and never waits, and a
//! message sees either the old table or the new one, never a mix.
//!
//! Only the cached mode is built (`db_mode` 1). `db_mode` 0 (a query per
//! call) would block a shard on the database, so it is read as 1 with a
//! warning.
//!
//! Start-up goes through [`setup`], which gets each module's database
//! pool from its caller (the router's store registry), so that this module
//! does not decide how pools are made or shared.

use std::sync::Arc;

use ser_cfg::ir::{ConstValue, Program};

use crate::store::Pool;

pub mod address;
pub mod domain;
pub mod trusted;

pub use domain::{DomainParams, DomainSet, Domains};
pub use trusted::{Trusted, TrustedParams, TrustedSet};

/// The policy modules a config loads, shared by every shard through
/// [`crate::script::Config::policy`]. `None`: the module is not loaded.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub domains: Option<Arc<Domains>>,
    pub trusted: Option<Arc<Trusted>>,
}

/// Whether the config loads `module`.
fn loads(program: &Program, module: &str) -> bool {
    program
        .modules
        .iter()
        .any(|m| program.str(m.name) == module)
}

/// Builds the policy modules the config loads and reads their tables.
/// `pool_for(module)` gives the database of a module (from its `db_url`),
/// or `None` when it has none: the module's functions then log an error
/// and return false. A table that cannot be read, or a parameter that
/// cannot be used (a bad table or column name), stops the start with the
/// reason. Warnings (parameters with no effect, rows skipped) are printed
/// to standard error, as the rest of the start-up's.
pub fn setup(
    program: &Program,
    pool_for: &dyn Fn(&str) -> Option<Arc<Pool>>,
) -> Result<Policy, String> {
    let mut policy = Policy::default();
    if loads(program, "domain") {
        let (params, warnings) = DomainParams::from_program(program)?;
        for w in warnings {
            eprintln!("ser: warning: domain: {w}");
        }
        let pool = pool_for("domain");
        if pool.is_none() {
            eprintln!(
                "ser: warning: domain: no db_url; is_from_local(), is_uri_host_local() and \
                 the other domain functions will log an error and return false"
            );
        }
        let d = Domains::new(params, pool, program.dialect);
        if d.has_db() {
            let report = d.reload().map_err(|e| format!("domain: {e}"))?;
            for n in &report.notes {
                eprintln!("ser: warning: domain: {n}");
            }
            eprintln!("ser: domain: {} local domains loaded", report.loaded);
        }
        policy.domains = Some(Arc::new(d));
    }
    if loads(program, "permissions") {
        let (params, warnings) = TrustedParams::from_program(program)?;
        for w in warnings {
            eprintln!("ser: warning: permissions: {w}");
        }
        let pool = pool_for("permissions");
        if pool.is_none() {
            eprintln!(
                "ser: warning: permissions: no db_url; allow_trusted() will log an error and \
                 return false"
            );
        }
        let t = Trusted::new(params, pool);
        if t.has_db() {
            let report = t.load().map_err(|e| format!("permissions: {e}"))?;
            for n in &report.notes {
                eprintln!("ser: warning: permissions: {n}");
            }
            eprintln!(
                "ser: permissions: {} trusted entries, {} address entries loaded",
                report.loaded, report.addresses
            );
        }
        policy.trusted = Some(Arc::new(t));
    }
    Ok(policy)
}

/// What a (re)load did: rows taken, and why rows were left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub loaded: usize,
    /// Rows of a second table read with the first (permissions' `address`).
    pub addresses: usize,
    /// One line per row skipped (a bad regex, an unknown protocol, ...).
    pub notes: Vec<String>,
}

/// The parameters of `module` in the program, in order, as
/// `(name, value)`.
fn params<'p>(
    program: &'p Program,
    module: &str,
) -> impl Iterator<Item = (&'p str, &'p ConstValue)> + 'p {
    let module = module.to_string();
    program
        .modules
        .iter()
        .filter(move |m| program.str(m.name) == module)
        .flat_map(move |m| m.params.iter().map(move |(n, v)| (program.str(*n), v)))
}

/// A parameter's value as an integer (an int, or a string holding one).
fn const_int(p: &Program, v: &ConstValue) -> Option<i64> {
    match v {
        ConstValue::Int(n) => Some(*n),
        ConstValue::Str(s) => crate::script::value::parse_int(p.str(*s).trim().as_bytes()),
        ConstValue::Bool(b) => Some(i64::from(*b)),
    }
}

/// A table or column name for SQL, quoted. Only letters, digits and `_`
/// are accepted (not a leading digit), so a name from the config can never
/// change the statement; the quotes keep a name that is a keyword usable
/// (MySQL sessions run with `ANSI_QUOTES`, see the store).
fn sql_ident(what: &str, name: &str) -> Result<String, String> {
    let ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(format!("\"{name}\""))
    } else {
        Err(format!(
            "{what} `{name}` is not a usable name (letters, digits and _ only)"
        ))
    }
}

/// A text cell: `None` for NULL; a number as its decimal text.
fn cell_text(c: Option<&crate::store::Cell>) -> Result<Option<String>, String> {
    use crate::store::Cell;
    match c {
        None | Some(Cell::Null) => Ok(None),
        Some(Cell::Text(s)) => Ok(Some(s.clone())),
        Some(Cell::Bytes(b)) => String::from_utf8(b.clone())
            .map(Some)
            .map_err(|_| "not UTF-8 text".to_string()),
        Some(Cell::Int(n)) => Ok(Some(n.to_string())),
        Some(Cell::Real(r)) => Ok(Some(r.to_string())),
    }
}

#[cfg(test)]
mod funcs_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(sql_ident("table", "domain").unwrap(), "\"domain\"");
        assert_eq!(sql_ident("table", "_x9").unwrap(), "\"_x9\"");
        for bad in ["", "9a", "a b", "a\"b", "a;drop", "dom-ain"] {
            assert!(sql_ident("table", bad).is_err(), "{bad}");
        }
        assert!(sql_ident("table", &"a".repeat(65)).is_err());
    }

    #[test]
    fn cells() {
        use crate::store::Cell;
        assert_eq!(cell_text(None).unwrap(), None);
        assert_eq!(cell_text(Some(&Cell::Null)).unwrap(), None);
        assert_eq!(
            cell_text(Some(&Cell::Text("a".into()))).unwrap(),
            Some("a".into())
        );
        assert_eq!(cell_text(Some(&Cell::Int(5))).unwrap(), Some("5".into()));
        assert_eq!(
            cell_text(Some(&Cell::Bytes(b"x".to_vec()))).unwrap(),
            Some("x".into())
        );
        assert!(cell_text(Some(&Cell::Bytes(vec![0xff]))).is_err());
    }
}
