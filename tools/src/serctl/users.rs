//! Subscribers: `add`, `passwd`, `rm`, `show`, in the `subscriber` table.
//!
//! The realm of the stored hashes is the user's domain, as in SER's serctl
//! (`SIP_DOMAIN` had to be the realm): `ha1` = MD5(user:domain:password),
//! `ha1b` = MD5(user@domain:domain:password). The plain password is stored
//! too (`calculate_ha1` configs need it) and shown only when asked.

use std::io::Write;

use ser_core::auth::digest::{Hash, ha1};
use ser_core::store::Db;
use ser_core::store::tables::{self, Subscriber};

use super::args::Name;
use super::{Fail, db_fail};

/// `(ha1, ha1b)` of a user, its domain as the realm.
pub fn hashes(user: &Name, password: &str) -> (String, String) {
    let realm = user.domain.as_bytes();
    let a = ha1(Hash::Md5, user.user.as_bytes(), realm, password.as_bytes());
    let b = ha1(Hash::Md5, user.aor().as_bytes(), realm, password.as_bytes());
    (a.as_str().to_string(), b.as_str().to_string())
}

pub fn add(
    db: &mut Db,
    user: &Name,
    password: &str,
    email: &str,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let (ha1, ha1b) = hashes(user, password);
    let s = Subscriber {
        username: user.user.clone(),
        domain: user.domain.clone(),
        password: password.to_string(),
        email_address: email.to_string(),
        ha1,
        ha1b,
    };
    if !tables::subscriber_add(db, &s).map_err(|e| db_fail(db, &e))? {
        return Err(Fail::Absent(format!("user {user} exists already")));
    }
    writeln!(out, "new user {user} added")?;
    Ok(())
}

pub fn passwd(db: &mut Db, user: &Name, password: &str, out: &mut dyn Write) -> Result<(), Fail> {
    let (ha1, ha1b) = hashes(user, password);
    let changed = tables::subscriber_passwd(db, &user.user, &user.domain, password, &ha1, &ha1b)
        .map_err(|e| db_fail(db, &e))?;
    if !changed {
        return Err(Fail::Absent(format!("no user {user}")));
    }
    writeln!(out, "password of {user} changed")?;
    Ok(())
}

pub fn rm(db: &mut Db, user: &Name, out: &mut dyn Write) -> Result<(), Fail> {
    if !tables::subscriber_remove(db, &user.user, &user.domain).map_err(|e| db_fail(db, &e))? {
        return Err(Fail::Absent(format!("no user {user}")));
    }
    writeln!(out, "user {user} removed")?;
    Ok(())
}

/// Lists subscribers (one user, or one name in every domain when the
/// domain is `None`), in aligned columns under a header line.
pub fn show(
    db: &mut Db,
    filter: Option<&(String, Option<String>)>,
    passwords: bool,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let list: Vec<Subscriber> = tables::subscriber_list(db)
        .map_err(|e| db_fail(db, &e))?
        .into_iter()
        .filter(|s| match filter {
            None => true,
            Some((u, d)) => s.username == *u && d.as_ref().is_none_or(|d| s.domain == *d),
        })
        .collect();
    if let (true, Some((u, d))) = (list.is_empty(), filter) {
        let who = match d {
            Some(d) => format!("{u}@{d}"),
            None => u.clone(),
        };
        return Err(Fail::Absent(format!("no user {who}")));
    }
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(list.len() + 1);
    let mut head = vec!["USER", "DOMAIN", "EMAIL"];
    if passwords {
        head.extend(["PASSWORD", "HA1", "HA1B"]);
    }
    rows.push(head.into_iter().map(str::to_string).collect());
    for s in list {
        let dash = |v: String| if v.is_empty() { "-".to_string() } else { v };
        let mut r = vec![s.username, s.domain, dash(s.email_address)];
        if passwords {
            r.extend([dash(s.password), dash(s.ha1), dash(s.ha1b)]);
        }
        rows.push(r);
    }
    write_table(out, &rows)
}

/// Rows in columns two spaces apart (the last column is not padded).
pub fn write_table(out: &mut dyn Write, rows: &[Vec<String>]) -> Result<(), Fail> {
    let mut widths: Vec<usize> = Vec::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            let w = c.chars().count();
            match widths.get_mut(i) {
                Some(x) => *x = (*x).max(w),
                None => widths.push(w),
            }
        }
    }
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                let w = widths.get(i).copied().unwrap_or(0);
                line.push_str(&format!("{c:<w$}  "));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_use_the_domain_as_the_realm() {
        // RFC 2617 3.5: Mufasa, testrealm@host.com, Circle Of Life.
        let (a, _) = hashes(
            &Name {
                user: "Mufasa".into(),
                domain: "testrealm@host.com".into(),
            },
            "Circle Of Life",
        );
        assert_eq!(a, "939e7578ed9e3c518a452acee763bce9");
        let u = Name {
            user: "alice".into(),
            domain: "example.com".into(),
        };
        let (a, b) = hashes(&u, "secret");
        assert_eq!(
            a,
            ha1(Hash::Md5, b"alice", b"example.com", b"secret").as_str()
        );
        assert_eq!(
            b,
            ha1(Hash::Md5, b"alice@example.com", b"example.com", b"secret").as_str()
        );
        assert_ne!(a, b);
    }

    #[test]
    fn tables_are_aligned() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["USER".to_string(), "DOMAIN".into(), "EMAIL".into()],
            vec!["alice".to_string(), "x.org".into(), "-".into()],
        ];
        assert!(write_table(&mut out, &rows).is_ok());
        assert_eq!(
            String::from_utf8_lossy(&out),
            "USER   DOMAIN  EMAIL\nalice  x.org   -\n"
        );
    }
}
