//! `ul show|add|rm`: contacts in the running router's `location` table,
//! through its control socket (`ul.lookup`, `ul.dump` page by page,
//! `ul.add`, `ul.rm`, `ul.rm_contact`). The router sees a change at once
//! and writes it to the database itself when its usrloc `db_mode` says so;
//! `serctl` never writes `location` rows behind its back.
//!
//! `ul show --brief` (kamctl's) prints the AoRs alone, one a line.
//!
//! A contact is printed as SER's serctl printed it, one per line under its
//! AoR: `<URI>;q=Q;expires=SECONDS|permanent`, then `received`, `path` and
//! `user_agent` when the router knows them.

use std::io::Write;

use ser_core::ctl::binrpc::Value;

use super::Fail;
use super::router::{Answer, Param, Router, Unreached, fields, member, members, text};

/// The table the `ul` commands work on.
pub const TABLE: &str = "location";

/// Placeholder the router sends for an empty field.
const NOT_SET: &str = "[not set]";

/// Adds a permanent (`expires` 0) or expiring contact.
pub fn add(
    r: &mut Router,
    aor: &str,
    contact: &str,
    expires: i32,
    q: f64,
    path: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let params = [
        Param::Str(TABLE),
        Param::Str(aor),
        Param::Str(contact),
        Param::Int(expires),
        Param::Double(q),
        Param::Str(path.unwrap_or(".")),
        Param::Int(0),
        Param::Int(0),
        Param::Int(0),
    ];
    match call(r, "ul.add", &params)? {
        Answer::Values(_) => {
            writeln!(out, "contact {contact} added to {aor} in table {TABLE}")?;
            Ok(())
        }
        Answer::Fault(c, m) => Err(refused(r, "ul.add", c, &m)),
    }
}

/// Removes one contact, or every contact of the AoR.
pub fn rm(
    r: &mut Router,
    aor: &str,
    contact: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    match contact {
        Some(c) => match call(
            r,
            "ul.rm_contact",
            &[Param::Str(TABLE), Param::Str(aor), Param::Str(c)],
        )? {
            Answer::Values(_) => {
                writeln!(out, "contact {c} of {aor} removed from table {TABLE}")?;
                Ok(())
            }
            Answer::Fault(404, m) if m == "AOR not found" => Err(no_contacts(aor)),
            Answer::Fault(404, m) if m == "Contact not found" => Err(Fail::Absent(format!(
                "{aor} has no contact {c} in table {TABLE}"
            ))),
            Answer::Fault(code, m) => Err(refused(r, "ul.rm_contact", code, &m)),
        },
        None => {
            // `ul.rm` says nothing about an AoR that is not there: look
            // first, so that a mistyped name is reported.
            lookup(r, aor)?;
            match call(r, "ul.rm", &[Param::Str(TABLE), Param::Str(aor)])? {
                Answer::Values(_) => {
                    writeln!(out, "every contact of {aor} removed from table {TABLE}")?;
                    Ok(())
                }
                Answer::Fault(code, m) => Err(refused(r, "ul.rm", code, &m)),
            }
        }
    }
}

/// Prints the contacts of one AoR, or of every AoR of the table (only
/// the AoRs with `brief`).
pub fn show(
    r: &mut Router,
    aor: Option<&str>,
    brief: bool,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    match aor {
        Some(a) => {
            let v = lookup(r, a)?;
            let f = v.first().map(fields).unwrap_or_default();
            let name = member(f, "AoR").map(text).unwrap_or_else(|| a.to_string());
            print_aor(out, &name, member(f, "Contacts"))
        }
        None => dump(r, brief, out),
    }
}

/// `ul.lookup location AOR`; no contacts is [`Fail::Absent`].
fn lookup(r: &mut Router, aor: &str) -> Result<Vec<Value>, Fail> {
    match call(r, "ul.lookup", &[Param::Str(TABLE), Param::Str(aor)])? {
        Answer::Values(v) => Ok(v),
        Answer::Fault(_, m) if m.starts_with("AOR not found") => Err(no_contacts(aor)),
        Answer::Fault(c, m) => Err(refused(r, "ul.lookup", c, &m)),
    }
}

/// Every AoR of the table, following `ul.dump`'s pages.
fn dump(r: &mut Router, brief: bool, out: &mut dyn Write) -> Result<(), Fail> {
    let mut from: i64 = 0;
    loop {
        let from_text = from.to_string();
        let mut params: Vec<Param<'_>> = Vec::new();
        if brief {
            params.push(Param::Str("brief"));
        }
        if from > 0 {
            params.push(match i32::try_from(from) {
                Ok(i) => Param::Int(i),
                Err(_) => Param::Str(&from_text),
            });
        }
        let values = match call(r, "ul.dump", &params)? {
            Answer::Values(v) => v,
            Answer::Fault(c, m) => return Err(refused(r, "ul.dump", c, &m)),
        };
        let root = values.last().map(fields).unwrap_or_default();
        let domains = member(root, "Domains").map(fields).unwrap_or_default();
        for d in members(domains, "Domain") {
            let d = fields(d);
            if member(d, "Domain").map(text).as_deref() != Some(TABLE) {
                continue;
            }
            let aors = member(d, "AoRs").map(fields).unwrap_or_default();
            if brief {
                for a in members(aors, "AoR") {
                    writeln!(out, "{}", text(a))?;
                }
                continue;
            }
            for info in members(aors, "Info") {
                let info = fields(info);
                let name = member(info, "AoR").map(text).unwrap_or_default();
                print_aor(out, &name, member(info, "Contacts"))?;
            }
        }
        let next = match member(root, "Next") {
            None => return Ok(()),
            Some(Value::Int(n)) => i64::from(*n),
            Some(Value::Double(d)) if d.fract() == 0.0 && *d >= 0.0 && *d < 9.0e15 => *d as i64,
            Some(v) => {
                return Err(Fail::Ctl(format!("ul.dump: bad page start {}", text(v))));
            }
        };
        if next <= from {
            return Err(Fail::Ctl(format!(
                "ul.dump: the next page ({next}) does not come after this one ({from})"
            )));
        }
        from = next;
    }
}

/// The AoR on a line of its own, then each contact, tab-indented.
fn print_aor(out: &mut dyn Write, aor: &str, contacts: Option<&Value>) -> Result<(), Fail> {
    writeln!(out, "{aor}")?;
    for c in contacts
        .map(fields)
        .unwrap_or_default()
        .iter()
        .map(|(_, v)| v)
    {
        writeln!(out, "\t{}", contact_line(fields(c)))?;
    }
    Ok(())
}

/// `<URI>;q=1.00;expires=3600` and the optional fields.
pub fn contact_line(c: &[(Option<String>, Value)]) -> String {
    let get = |n: &str| {
        member(c, n)
            .map(text)
            .filter(|t| !t.is_empty() && t != NOT_SET)
    };
    let mut line = format!("<{}>", get("Address").unwrap_or_default());
    match member(c, "Q") {
        Some(Value::Double(q)) if *q >= 0.0 => line.push_str(&format!(";q={q:.2}")),
        Some(Value::Int(q)) if *q >= 0 => line.push_str(&format!(";q={q}.00")),
        _ => {}
    }
    if let Some(e) = get("Expires") {
        line.push_str(&format!(";expires={e}"));
    }
    if let Some(v) = get("Received") {
        line.push_str(&format!(";received={v}"));
    }
    if let Some(v) = get("Path") {
        line.push_str(&format!(";path={v}"));
    }
    if let Some(v) = get("User-Agent") {
        line.push_str(&format!(";user_agent=\"{}\"", v.replace('"', "\\\"")));
    }
    line
}

fn call(r: &mut Router, method: &str, params: &[Param<'_>]) -> Result<Answer, Fail> {
    r.call(method, params).map_err(|e| match e {
        Unreached::NotRunning(m) | Unreached::Failed(m) => Fail::Ctl(m),
    })
}

fn no_contacts(aor: &str) -> Fail {
    Fail::Absent(format!("{aor} has no contacts in table {TABLE}"))
}

fn refused(r: &Router, method: &str, code: i32, msg: &str) -> Fail {
    let hint = if msg == "Domain missing in AOR" {
        " (the router uses domains: write USER@DOMAIN, or give -r DOMAIN)"
    } else {
        ""
    };
    Fail::Ctl(format!(
        "the router at {} refused {method}: {code} {msg}{hint}",
        r.addr()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(n: &str, v: Value) -> (Option<String>, Value) {
        (Some(n.to_string()), v)
    }

    #[test]
    fn contact_lines_look_like_sers() {
        let c = vec![
            m("Address", Value::Str("sip:alice@10.0.0.1:5060".into())),
            m("Expires", Value::Str("permanent".into())),
            m("Q", Value::Double(1.0)),
            m("Received", Value::Str(NOT_SET.into())),
            m("Path", Value::Str(NOT_SET.into())),
            m(
                "User-Agent",
                Value::Str("ser SIP Router - RPC Server".into()),
            ),
        ];
        assert_eq!(
            contact_line(&c),
            "<sip:alice@10.0.0.1:5060>;q=1.00;expires=permanent;user_agent=\"ser SIP Router - RPC Server\""
        );
        let c = vec![
            m("Address", Value::Str("sip:bob@h".into())),
            m("Expires", Value::Int(59)),
            m("Q", Value::Int(-1)),
            m("Received", Value::Str("sip:1.2.3.4:5060".into())),
        ];
        assert_eq!(
            contact_line(&c),
            "<sip:bob@h>;expires=59;received=sip:1.2.3.4:5060"
        );
    }
}
