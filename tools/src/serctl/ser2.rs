//! SER 2.x user data: `user add|passwd|rm|show` (tables `uri` and
//! `credentials`, by uid and did) and `attr add|set|rm|show` (tables
//! `user_attrs`, `domain_attrs`, `global_attrs`), as SER 2.0's `ser_ctl`
//! and `ser_attr` wrote them. `domain add` is in [`super::tables`].
//!
//! * A user's domain must be a local domain (a row of `domain`, not
//!   disabled); its did goes into both rows.
//! * The uid is `--uid`, else a new random UUID (version 4).
//! * The realm of the credentials is the did's `digest_realm` domain
//!   attribute (the one SER 2.0's default config challenges with), else
//!   the domain; `ha1` = MD5(user:realm:password), `ha1b` =
//!   MD5(user@domain:realm:password).
//! * Flags: `uri` `LOAD_SER|CANON|IS_TO|IS_FROM` (29), `credentials`
//!   `LOAD_SER|FOR_SERWEB` (33), attributes `LOAD_SER` (1).
//! * Changes to domain or global attributes are followed by
//!   `domain.reload` or `global.reload` to the running router (user
//!   attributes are read at each `load_attrs`).

use std::io::Write;

use ser_core::auth::digest::{Hash, ha1};
use ser_core::store::Db;
use ser_core::store::provision::{
    self, AttrOwner, NewAttr, NewSerUser, SerDomain, SerUser, UserClash,
};
use ser_core::store::tables::{AttrRow, ser_flags};

use super::args::Name;
use super::router::Router;
use super::tables::tell;
use super::users::write_table;
use super::{Fail, db_fail};

/// Flags of the rows `user add` writes.
pub const URI_FLAGS: i64 =
    ser_flags::LOAD_SER | ser_flags::CANON | ser_flags::IS_TO | ser_flags::IS_FROM;
pub const CREDENTIALS_FLAGS: i64 = ser_flags::LOAD_SER | ser_flags::FOR_SERWEB;
/// Flags of the attribute rows `attr add` writes.
pub const ATTR_FLAGS: i64 = ser_flags::LOAD_SER;

/// The domain attribute that holds a domain's digest realm.
pub const REALM_ATTR: &str = "digest_realm";

/// `(ha1, ha1b)` of `user` in `realm`.
pub fn hashes(user: &Name, realm: &str, password: &str) -> (String, String) {
    let r = realm.as_bytes();
    let a = ha1(Hash::Md5, user.user.as_bytes(), r, password.as_bytes());
    let b = ha1(Hash::Md5, user.aor().as_bytes(), r, password.as_bytes());
    (a.as_str().to_string(), b.as_str().to_string())
}

/// A random UUID (version 4, RFC 4122), in lower-case hex.
pub fn new_uid() -> Result<String, Fail> {
    let mut b = [0u8; 16];
    ser_core::auth::nonce::fill_random(&mut b)
        .map_err(|e| Fail::Usage(format!("cannot make a uid (give --uid): {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let part = |from: usize, to: usize| hex.get(from..to).unwrap_or("");
    Ok(format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    ))
}

/// The local domain of a user, or why there is none.
fn local_domain(db: &mut Db, user: &Name) -> Result<SerDomain, Fail> {
    match provision::ser_domain(db, &user.domain).map_err(|e| db_fail(db, &e))? {
        Some(d) if d.enabled() => Ok(d),
        Some(_) => Err(Fail::Absent(format!(
            "domain {} is disabled (its flags have DISABLED)",
            user.domain
        ))),
        None => Err(Fail::Absent(format!(
            "domain {} is not a local domain; add it first: serctl domain add {}",
            user.domain, user.domain
        ))),
    }
}

/// The digest realm of a did: its newest `digest_realm` attribute that
/// SER loads, else `None`.
fn realm_of(db: &mut Db, did: &str) -> Result<Option<String>, Fail> {
    let rows = provision::attr_list(db, Some(&AttrOwner::Did(did.to_string())))
        .map_err(|e| db_fail(db, &e))?;
    Ok(rows
        .into_iter()
        .rev()
        .find(|(_, a)| a.name == REALM_ATTR && a.flags & ser_flags::LOAD_SER != 0)
        .and_then(|(_, a)| a.value)
        .filter(|v| !v.is_empty()))
}

pub fn user_add(
    db: &mut Db,
    user: &Name,
    password: &str,
    uid: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let dom = local_domain(db, user)?;
    let realm = realm_of(db, &dom.did)?.unwrap_or_else(|| user.domain.clone());
    let uid = match uid {
        Some(u) => u.to_string(),
        None => new_uid()?,
    };
    let (ha1, ha1b) = hashes(user, &realm, password);
    let row = NewSerUser {
        username: &user.user,
        did: &dom.did,
        uid: &uid,
        realm: &realm,
        password,
        ha1: &ha1,
        ha1b: &ha1b,
        uri_flags: URI_FLAGS,
        cred_flags: CREDENTIALS_FLAGS,
    };
    match provision::ser_user_add(db, &row).map_err(|e| db_fail(db, &e))? {
        Ok(()) => {
            writeln!(
                out,
                "new user {user} added (uid {uid}, did {}, realm {realm})",
                dom.did
            )?;
            Ok(())
        }
        Err(UserClash::Uri(old)) => Err(Fail::Absent(format!(
            "user {user} exists already (uid {old})"
        ))),
        Err(UserClash::Credentials(old)) => Err(Fail::Absent(format!(
            "credentials of {} in realm {realm} exist already (uid {old})",
            user.user
        ))),
    }
}

pub fn user_passwd(
    db: &mut Db,
    user: &Name,
    password: &str,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let dom = local_domain(db, user)?;
    let n = provision::ser_user_passwd(db, &user.user, &dom.did, password, |realm| {
        hashes(user, realm, password)
    })
    .map_err(|e| db_fail(db, &e))?;
    if n == 0 {
        return Err(Fail::Absent(format!("no credentials of {user}")));
    }
    writeln!(out, "password of {user} changed")?;
    Ok(())
}

pub fn user_rm(db: &mut Db, user: &Name, out: &mut dyn Write) -> Result<(), Fail> {
    let Some(dom) = provision::ser_domain(db, &user.domain).map_err(|e| db_fail(db, &e))? else {
        return Err(Fail::Absent(format!(
            "no user {user} (no local domain {})",
            user.domain
        )));
    };
    let r = provision::ser_user_remove(db, &user.user, &dom.did).map_err(|e| db_fail(db, &e))?;
    if r.uris == 0 && r.credentials == 0 {
        return Err(Fail::Absent(format!("no user {user}")));
    }
    let uid = r.uid.as_deref().unwrap_or("-");
    let mut line = format!("user {user} removed (uid {uid}");
    if r.attrs > 0 {
        line.push_str(&format!(", {} attributes", r.attrs));
    }
    writeln!(out, "{line})")?;
    Ok(())
}

/// The name a did is shown with: its canonical domain, else its first.
fn domain_name<'a>(domains: &'a [SerDomain], did: &str) -> Option<&'a str> {
    let of_did = || domains.iter().filter(move |d| d.did == did);
    of_did()
        .find(|d| d.flags & ser_flags::CANON != 0)
        .or_else(|| of_did().next())
        .map(|d| d.domain.as_str())
}

/// `USER UID DID REALM FLAGS` (and with `--passwords` `PASSWORD HA1
/// HA1B`), one line per URI and credentials row; FLAGS is `uri/credentials`.
pub fn user_show(
    db: &mut Db,
    user: Option<&Name>,
    passwords: bool,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let domains = provision::ser_domains(db).map_err(|e| db_fail(db, &e))?;
    let mut list: Vec<SerUser> = provision::ser_user_list(db).map_err(|e| db_fail(db, &e))?;
    if let Some(u) = user {
        let did = domains
            .iter()
            .find(|d| d.domain == u.domain)
            .map(|d| d.did.clone());
        list.retain(|x| x.username == u.user && Some(&x.did) == did.as_ref());
        if list.is_empty() {
            return Err(Fail::Absent(format!("no user {u}")));
        }
    }
    let mut head = vec!["USER", "UID", "DID", "REALM", "FLAGS"];
    if passwords {
        head.extend(["PASSWORD", "HA1", "HA1B"]);
    }
    let mut rows: Vec<Vec<String>> = vec![head.into_iter().map(str::to_string).collect()];
    let dash = |v: &str| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.to_string()
        }
    };
    for u in list {
        let dom = match user {
            Some(n) => n.domain.clone(),
            None => domain_name(&domains, &u.did).unwrap_or(&u.did).to_string(),
        };
        let who = format!("{}@{dom}", u.username);
        if u.credentials.is_empty() {
            let mut r = vec![who, u.uid, u.did, "-".into(), format!("{}/-", u.uri_flags)];
            if passwords {
                r.extend(["-".to_string(), "-".into(), "-".into()]);
            }
            rows.push(r);
            continue;
        }
        for c in &u.credentials {
            let mut r = vec![
                who.clone(),
                u.uid.clone(),
                u.did.clone(),
                dash(&c.realm),
                format!("{}/{}", u.uri_flags, c.flags),
            ];
            if passwords {
                r.extend([dash(&c.password), dash(&c.ha1), dash(&c.ha1b)]);
            }
            rows.push(r);
        }
    }
    write_table(out, &rows)
}

/// The reload that makes the running router see a change of `owner`'s
/// attributes (none for user attributes: `load_attrs` reads them).
fn reload_of(owner: &AttrOwner) -> Option<&'static str> {
    match owner {
        AttrOwner::Global => Some("global.reload"),
        AttrOwner::Did(_) => Some("domain.reload"),
        AttrOwner::Uid(_) => None,
    }
}

pub fn attr_add(
    db: &mut Db,
    r: &mut Router,
    owner: &AttrOwner,
    attrs: &[(String, String)],
    int: bool,
    replace: bool,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let type_ = if int { 0 } else { 2 };
    let rows: Vec<NewAttr<'_>> = attrs
        .iter()
        .map(|(name, value)| NewAttr {
            name,
            type_,
            value,
            flags: ATTR_FLAGS,
        })
        .collect();
    if replace {
        provision::attr_set(db, owner, &rows).map_err(|e| db_fail(db, &e))?;
    } else if let Err(there) = provision::attr_add(db, owner, &rows).map_err(|e| db_fail(db, &e))? {
        return Err(Fail::Absent(format!(
            "attribute {there} of {owner} exists already"
        )));
    }
    for (name, value) in attrs {
        writeln!(
            out,
            "{owner}: {name}={value} {}",
            if replace { "set" } else { "added" }
        )?;
    }
    match reload_of(owner) {
        Some(m) => tell(r, m, &[]),
        None => Ok(()),
    }
}

pub fn attr_rm(
    db: &mut Db,
    r: &mut Router,
    owner: &AttrOwner,
    names: &[String],
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let mut missing = Vec::new();
    for name in names {
        let n = provision::attr_remove(db, owner, name).map_err(|e| db_fail(db, &e))?;
        if n == 0 {
            missing.push(name.as_str());
        } else {
            writeln!(out, "{owner}: {name} removed")?;
        }
    }
    if missing.len() < names.len()
        && let Some(m) = reload_of(owner)
    {
        tell(r, m, &[])?;
    }
    if !missing.is_empty() {
        return Err(Fail::Absent(format!(
            "{owner} has no attribute {}",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// `OWNER NAME TYPE VALUE FLAGS`; TYPE is `str` (2) or `int`.
pub fn attr_show(db: &mut Db, owner: Option<&AttrOwner>, out: &mut dyn Write) -> Result<(), Fail> {
    let list = provision::attr_list(db, owner).map_err(|e| db_fail(db, &e))?;
    let mut rows: Vec<Vec<String>> = vec![
        ["OWNER", "NAME", "TYPE", "VALUE", "FLAGS"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    ];
    for (o, a) in list {
        rows.push(attr_line(&o, a));
    }
    write_table(out, &rows)
}

fn attr_line(o: &AttrOwner, a: AttrRow) -> Vec<String> {
    let ty = if a.is_str() { "str" } else { "int" };
    let value = match a.value {
        Some(v) if !v.is_empty() => v,
        Some(_) => "\"\"".to_string(),
        None => "-".to_string(),
    };
    vec![
        o.to_string(),
        a.name,
        ty.to_string(),
        value,
        a.flags.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_use_the_realm_given() {
        let u = Name {
            user: "alice".into(),
            domain: "example.com".into(),
        };
        let (a, b) = hashes(&u, "digest.example", "pw");
        assert_eq!(
            a,
            ha1(Hash::Md5, b"alice", b"digest.example", b"pw").as_str()
        );
        assert_eq!(
            b,
            ha1(Hash::Md5, b"alice@example.com", b"digest.example", b"pw").as_str()
        );
    }

    #[test]
    fn uids_are_version_4_uuids() {
        let (a, b) = (new_uid().unwrap(), new_uid().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'), "{a}");
        assert!(
            matches!(parts[3].chars().next(), Some('8' | '9' | 'a' | 'b')),
            "{a}"
        );
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }

    #[test]
    fn flags_are_sers() {
        assert_eq!((URI_FLAGS, CREDENTIALS_FLAGS, ATTR_FLAGS), (29, 33, 1));
    }

    #[test]
    fn dids_show_with_their_canonical_name() {
        let d = |domain: &str, did: &str, flags: i64| SerDomain {
            domain: domain.into(),
            did: did.into(),
            flags,
        };
        let all = [
            d("a.org", "d1", 1),
            d("b.org", "d1", 5),
            d("c.org", "d2", 1),
        ];
        assert_eq!(domain_name(&all, "d1"), Some("b.org"));
        assert_eq!(domain_name(&all, "d2"), Some("c.org"));
        assert_eq!(domain_name(&all, "d3"), None);
    }
}
