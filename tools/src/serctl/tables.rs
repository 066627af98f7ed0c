//! `alias`, `domain` and `trusted`: rows written to the database, and the
//! running router told when it runs.
//!
//! * Aliases are permanent bindings in the `aliases` table (the columns of
//!   `location`): the alias's user and domain, the target URI as the
//!   contact, `expires` 0. The router gets the same binding with
//!   `ul.add aliases ...` (or loses it with `ul.rm aliases ...`), so that
//!   `lookup("aliases")` uses it at once.
//! * Domains and trusted peers are rows of `domain` (with SER 2.x's did
//!   and flags) and `trusted`; a
//!   running router is asked to `domain.reload` or
//!   `permissions.trustedReload`. A router without that method does not
//!   cache the table: that is a warning, not an error.
//!
//! When no router listens on the control socket the database change
//! stands alone, with a note on standard error.

use std::io::Write;

use ser_core::store::Db;
use ser_core::store::provision;
use ser_core::store::tables::{self, TrustedRow, UlRow, UlTable};

use super::args::Name;
use super::router::{Answer, Param, Router, Unreached, is_unknown_method};
use super::users::write_table;
use super::{Fail, db_fail, now, warn};

/// Call-ID and User-Agent of the alias rows `serctl` writes.
const CALL_ID: &str = "serctl-alias@ser";
const USER_AGENT: &str = "serctl";

/// Tells the running router about a change already in the database.
pub fn tell(r: &mut Router, method: &str, params: &[Param<'_>]) -> Result<(), Fail> {
    match r.call(method, params) {
        Ok(Answer::Values(_)) => Ok(()),
        Ok(Answer::Fault(c, m)) if is_unknown_method(c, &m, method) => {
            warn(&format!(
                "serctl: warning: the running router does not cache this table; it reads it at \
                 start (it has no method {method})"
            ));
            Ok(())
        }
        Ok(Answer::Fault(c, m)) => Err(Fail::Ctl(format!(
            "the database is changed, but the router at {} refused {method}: {c} {m}",
            r.addr()
        ))),
        Err(Unreached::NotRunning(_)) => {
            warn(&format!(
                "serctl: note: no router answers at {}; the change is in the database only",
                r.addr()
            ));
            Ok(())
        }
        Err(Unreached::Failed(m)) => Err(Fail::Ctl(format!(
            "the database is changed, but the router could not be told: {m}"
        ))),
    }
}

// ---------------------------------------------------------------------------
// aliases

pub fn alias_add(
    db: &mut Db,
    r: &mut Router,
    alias: &Name,
    target: &str,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let now = now();
    let mut row = UlRow::new(&alias.user, &alias.domain, target);
    row.expires = 0;
    row.q = 1.0;
    row.callid = CALL_ID.to_string();
    row.user_agent = USER_AGENT.to_string();
    row.last_modified = now;
    let existing = db
        .transaction(|db| {
            let there =
                tables::location_load_aor(db, UlTable::Aliases, &alias.user, &alias.domain, now)?;
            if let Some(old) = there.into_iter().next() {
                return Ok(Some(old.contact));
            }
            tables::location_upsert(db, UlTable::Aliases, &row)?;
            Ok(None)
        })
        .map_err(|e| db_fail(db, &e))?;
    if let Some(old) = existing {
        return Err(Fail::Absent(format!(
            "alias {alias} exists already (-> {old}); remove it first"
        )));
    }
    writeln!(out, "alias {alias} -> {target} added")?;
    let aor = alias.aor();
    tell(
        r,
        "ul.add",
        &[
            Param::Str("aliases"),
            Param::Str(&aor),
            Param::Str(target),
            Param::Int(0),
            Param::Double(1.0),
            Param::Str("."),
            Param::Int(0),
            Param::Int(0),
            Param::Int(0),
        ],
    )
}

pub fn alias_rm(
    db: &mut Db,
    r: &mut Router,
    alias: &Name,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let n = tables::location_delete_aor(db, UlTable::Aliases, &alias.user, &alias.domain)
        .map_err(|e| db_fail(db, &e))?;
    if n == 0 {
        return Err(Fail::Absent(format!("no alias {alias}")));
    }
    writeln!(out, "alias {alias} removed")?;
    let aor = alias.aor();
    tell(r, "ul.rm", &[Param::Str("aliases"), Param::Str(&aor)])
}

/// `ALIAS -> TARGET`, one line per alias (an alias with several targets,
/// written by other tools, gets a line per target).
pub fn alias_show(db: &mut Db, alias: Option<&Name>, out: &mut dyn Write) -> Result<(), Fail> {
    let now = now();
    let rows = match alias {
        Some(a) => tables::location_load_aor(db, UlTable::Aliases, &a.user, &a.domain, now),
        None => tables::location_load_all(db, UlTable::Aliases, now),
    }
    .map_err(|e| db_fail(db, &e))?;
    if let (true, Some(a)) = (rows.is_empty(), alias) {
        return Err(Fail::Absent(format!("no alias {a}")));
    }
    for row in rows {
        let name = Name {
            user: row.username,
            domain: row.domain,
        };
        writeln!(out, "{name} -> {}", row.contact)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// domains

/// Adds a domain with its did (the domain itself when `did` is `None`,
/// as SER 2.0's `ser_ctl domain add`) and `LOAD_SER` (with `CANON` for
/// the first name of a did). Kamailio reads a did equal to the name as
/// it reads none.
pub fn domain_add(
    db: &mut Db,
    r: &mut Router,
    domain: &str,
    did: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let did = did.unwrap_or(domain);
    if !provision::ser_domain_add(db, domain, did, now()).map_err(|e| db_fail(db, &e))? {
        return Err(Fail::Absent(format!("domain {domain} exists already")));
    }
    if did == domain {
        writeln!(out, "domain {domain} added")?;
    } else {
        writeln!(out, "domain {domain} added (did {did})")?;
    }
    tell(r, "domain.reload", &[])
}

pub fn domain_rm(
    db: &mut Db,
    r: &mut Router,
    domain: &str,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    if !tables::domain_remove(db, domain).map_err(|e| db_fail(db, &e))? {
        return Err(Fail::Absent(format!("no domain {domain}")));
    }
    writeln!(out, "domain {domain} removed")?;
    tell(r, "domain.reload", &[])
}

/// One domain a line.
pub fn domain_show(db: &mut Db, out: &mut dyn Write) -> Result<(), Fail> {
    for d in tables::domain_list(db).map_err(|e| db_fail(db, &e))? {
        writeln!(out, "{}", d.domain)?;
    }
    Ok(())
}

/// `domain reload` / `trusted reload`: only the router is asked.
pub fn reload(r: &mut Router, method: &str, out: &mut dyn Write) -> Result<(), Fail> {
    match r.call(method, &[]) {
        Ok(Answer::Values(_)) => {
            writeln!(out, "{method}: done")?;
            Ok(())
        }
        Ok(Answer::Fault(c, m)) if is_unknown_method(c, &m, method) => {
            warn(&format!(
                "serctl: warning: the running router does not cache this table; it reads it at \
                 start (it has no method {method})"
            ));
            Ok(())
        }
        Ok(Answer::Fault(c, m)) => Err(Fail::Ctl(format!(
            "the router at {} refused {method}: {c} {m}",
            r.addr()
        ))),
        Err(e) => Err(Fail::Ctl(e.message().to_string())),
    }
}

// ---------------------------------------------------------------------------
// trusted peers

pub fn trusted_add(
    db: &mut Db,
    r: &mut Router,
    row: TrustedRow,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    tables::trusted_add(db, &row).map_err(|e| db_fail(db, &e))?;
    writeln!(out, "trusted peer {} ({}) added", row.src_ip, row.proto)?;
    tell(r, "permissions.trustedReload", &[])
}

pub fn trusted_rm(
    db: &mut Db,
    r: &mut Router,
    src_ip: &str,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let n = tables::trusted_remove_ip(db, src_ip).map_err(|e| db_fail(db, &e))?;
    if n == 0 {
        return Err(Fail::Absent(format!("no trusted peer {src_ip}")));
    }
    let rows = if n == 1 { "row" } else { "rows" };
    writeln!(out, "trusted peer {src_ip} removed ({n} {rows})")?;
    tell(r, "permissions.trustedReload", &[])
}

/// The rows in columns, highest priority first.
pub fn trusted_show(db: &mut Db, out: &mut dyn Write) -> Result<(), Fail> {
    let list = tables::trusted_list(db).map_err(|e| db_fail(db, &e))?;
    let dash = |v: Option<String>| v.filter(|s| !s.is_empty()).unwrap_or_else(|| "-".into());
    let mut rows = vec![
        ["SRC_IP", "PROTO", "FROM_PATTERN", "TAG", "PRIORITY"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<String>>(),
    ];
    for t in list {
        rows.push(vec![
            t.src_ip,
            t.proto,
            dash(t.from_pattern),
            dash(t.tag),
            t.priority.to_string(),
        ]);
    }
    write_table(out, &rows)
}
