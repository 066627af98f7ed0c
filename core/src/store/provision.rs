//! Writing SER 2.x user data (for `serctl user`, `serctl domain add`,
//! `serctl attr`): domains with their did, users as a `uri` row and a
//! `credentials` row sharing a uid, and rows of the attribute tables.
//!
//! The reading side, with SER's rules for which rows count, is in
//! [`super::tables`] (`ser_credentials`, `uri_uid`, `user_attrs`, ...).
//! Here every row is listed whatever its flags, so that an operator sees
//! disabled rows too. Each change runs in one transaction.

use super::db::Db;
use super::tables::{AttrRow, Cols, exact, ser_flags};
use super::value::{Cell, DbError};

// ---------------------------------------------------------------------------
// domain

/// A row of `domain` as SER 2.x reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerDomain {
    /// The name, in lower case.
    pub domain: String,
    /// The did (the name itself when the row has none, as the router
    /// reads it).
    pub did: String,
    pub flags: i64,
}

impl SerDomain {
    /// Whether the router takes the domain for local (only `DISABLED`
    /// takes a domain out, see docs/ser2-users.md).
    pub fn enabled(&self) -> bool {
        self.flags & ser_flags::DISABLED == 0
    }
}

/// Every row of `domain`, by name.
pub fn ser_domains(db: &mut Db) -> Result<Vec<SerDomain>, DbError> {
    let names = ["domain", "did", "flags"];
    db.query("SELECT domain, did, flags FROM domain ORDER BY domain", &[])?
        .into_iter()
        .map(|row| {
            let mut c = Cols::new("domain", row, &names);
            let domain = c.text()?;
            let did = c.opt_text()?.unwrap_or_else(|| domain.clone());
            Ok(SerDomain {
                domain,
                did,
                flags: c.opt_int()?.unwrap_or(0),
            })
        })
        .collect()
}

/// The row of one domain name (any case).
pub fn ser_domain(db: &mut Db, domain: &str) -> Result<Option<SerDomain>, DbError> {
    let d = domain.to_ascii_lowercase();
    Ok(ser_domains(db)?.into_iter().find(|r| r.domain == d))
}

/// Adds a domain name with its did (stored in lower case) and
/// `LOAD_SER`; the first name of a did also gets `CANON`. `false` when
/// the name is there already (nothing is changed then).
pub fn ser_domain_add(db: &mut Db, domain: &str, did: &str, now: i64) -> Result<bool, DbError> {
    let d = domain.to_ascii_lowercase();
    let d = exact("domain", "domain", &d, 64)?.to_string();
    let did = exact("domain", "did", did, 64)?.to_string();
    db.transaction(|db| {
        let rows = ser_domains(db)?;
        if rows.iter().any(|r| r.domain == d) {
            return Ok(false);
        }
        let mut flags = ser_flags::LOAD_SER;
        if !rows.iter().any(|r| r.did == did) {
            flags |= ser_flags::CANON;
        }
        db.exec(
            "INSERT INTO domain (domain, did, last_modified, flags) VALUES (?, ?, ?, ?)",
            &[
                d.as_str().into(),
                did.as_str().into(),
                now.into(),
                flags.into(),
            ],
        )?;
        Ok(true)
    })
}

// ---------------------------------------------------------------------------
// attributes

/// Whose attribute: the table and its key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttrOwner {
    /// `global_attrs`.
    Global,
    /// `user_attrs` of a uid.
    Uid(String),
    /// `domain_attrs` of a did.
    Did(String),
}

impl AttrOwner {
    pub fn table(&self) -> &'static str {
        match self {
            AttrOwner::Global => "global_attrs",
            AttrOwner::Uid(_) => "user_attrs",
            AttrOwner::Did(_) => "domain_attrs",
        }
    }

    /// The key column and its value (none for global attributes).
    fn key(&self) -> Option<(&'static str, &str)> {
        match self {
            AttrOwner::Global => None,
            AttrOwner::Uid(u) => Some(("uid", u)),
            AttrOwner::Did(d) => Some(("did", d)),
        }
    }

    /// The `WHERE` condition selecting this owner's rows, and its
    /// parameters.
    fn filter(&self) -> (String, Vec<Cell>) {
        match self.key() {
            None => ("1 = 1".to_string(), Vec::new()),
            Some((col, v)) => (format!("{col} = ?"), vec![v.into()]),
        }
    }
}

impl std::fmt::Display for AttrOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttrOwner::Global => f.write_str("global"),
            AttrOwner::Uid(u) => write!(f, "uid={u}"),
            AttrOwner::Did(d) => write!(f, "did={d}"),
        }
    }
}

/// One new attribute value: `type_` 2 is a string, 0 an integer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttr<'a> {
    pub name: &'a str,
    pub type_: i64,
    pub value: &'a str,
    pub flags: i64,
}

fn attr_insert(db: &mut Db, owner: &AttrOwner, a: &NewAttr<'_>) -> Result<(), DbError> {
    let t = owner.table();
    let name = exact(t, "name", a.name, 32)?;
    let value = exact(t, "value", a.value, 128)?;
    let mut cols = vec!["name", "type", "value", "flags"];
    let mut params: Vec<Cell> = vec![name.into(), a.type_.into(), value.into(), a.flags.into()];
    if let Some((col, v)) = owner.key() {
        cols.insert(0, col);
        params.insert(0, exact(t, col, v, 64)?.into());
    }
    let marks = vec!["?"; cols.len()].join(", ");
    db.exec(
        &format!("INSERT INTO {t} ({}) VALUES ({marks})", cols.join(", ")),
        &params,
    )?;
    Ok(())
}

/// Adds values (SER's attributes may have several); `Err(name=value)`
/// inside `Ok` when one of them is there already with that value (nothing
/// is changed then).
pub fn attr_add(
    db: &mut Db,
    owner: &AttrOwner,
    attrs: &[NewAttr<'_>],
) -> Result<Result<(), String>, DbError> {
    db.transaction(|db| {
        let there = attr_list(db, Some(owner))?;
        for a in attrs {
            if there
                .iter()
                .any(|(_, r)| r.name == a.name && r.value.as_deref() == Some(a.value))
            {
                return Ok(Err(format!("{}={}", a.name, a.value)));
            }
        }
        for a in attrs {
            attr_insert(db, owner, a)?;
        }
        Ok(Ok(()))
    })
}

/// Replaces every value of each name with the one given.
pub fn attr_set(db: &mut Db, owner: &AttrOwner, attrs: &[NewAttr<'_>]) -> Result<(), DbError> {
    db.transaction(|db| {
        for a in attrs {
            attr_delete(db, owner, a.name)?;
        }
        for a in attrs {
            attr_insert(db, owner, a)?;
        }
        Ok(())
    })
}

fn attr_delete(db: &mut Db, owner: &AttrOwner, name: &str) -> Result<u64, DbError> {
    let (w, mut params) = owner.filter();
    params.push(name.into());
    db.exec(
        &format!("DELETE FROM {} WHERE {w} AND name = ?", owner.table()),
        &params,
    )
}

/// Removes every value of `name`; how many rows.
pub fn attr_remove(db: &mut Db, owner: &AttrOwner, name: &str) -> Result<u64, DbError> {
    attr_delete(db, owner, name)
}

/// The attribute rows of one owner, or of every owner (global, then by
/// uid, then by did), in id order within an owner, whatever their flags.
pub fn attr_list(
    db: &mut Db,
    owner: Option<&AttrOwner>,
) -> Result<Vec<(AttrOwner, AttrRow)>, DbError> {
    let owners: Vec<AttrOwner> = match owner {
        Some(o) => vec![o.clone()],
        None => vec![
            AttrOwner::Global,
            AttrOwner::Uid(String::new()),
            AttrOwner::Did(String::new()),
        ],
    };
    let mut out = Vec::new();
    for o in owners {
        let t = o.table();
        let (w, params) = if owner.is_some() {
            o.filter()
        } else {
            ("1 = 1".to_string(), Vec::new())
        };
        let (key_sel, order) = match o.key() {
            Some((col, _)) => (format!("{col}, "), format!("{col}, id")),
            None => (String::new(), "id".to_string()),
        };
        let names = ["key", "name", "type", "value", "flags"];
        let names = if o.key().is_some() {
            &names[..]
        } else {
            &names[1..]
        };
        for row in db.query(
            &format!(
                "SELECT {key_sel}name, type, value, flags FROM {t} WHERE {w} ORDER BY {order}"
            ),
            &params,
        )? {
            let mut c = Cols::new(t, row, names);
            let who = match &o {
                AttrOwner::Global => AttrOwner::Global,
                AttrOwner::Uid(_) => AttrOwner::Uid(c.text()?),
                AttrOwner::Did(_) => AttrOwner::Did(c.text()?),
            };
            out.push((
                who,
                AttrRow {
                    name: c.text()?,
                    type_: c.opt_int()?.unwrap_or(0),
                    value: c.opt_text()?,
                    flags: c.opt_int()?.unwrap_or(0),
                },
            ));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// users: uri and credentials

/// A user as `serctl user add` writes it: the URI `sip:username@<did>`
/// and the credentials of `username` in `realm`, both for `uid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSerUser<'a> {
    pub username: &'a str,
    pub did: &'a str,
    pub uid: &'a str,
    pub realm: &'a str,
    pub password: &'a str,
    pub ha1: &'a str,
    pub ha1b: &'a str,
    pub uri_flags: i64,
    pub cred_flags: i64,
}

/// Why a user could not be added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserClash {
    /// The URI is there already, for this uid.
    Uri(String),
    /// Credentials of that username and realm are there already, for
    /// this uid.
    Credentials(String),
}

/// Adds the `uri` and `credentials` rows of a user; a clash when the URI
/// (username, did, scheme `sip`) or the credentials (username, realm)
/// exist (nothing is changed then).
pub fn ser_user_add(db: &mut Db, u: &NewSerUser<'_>) -> Result<Result<(), UserClash>, DbError> {
    let username = exact("uri", "username", u.username, 64)?;
    let did = exact("uri", "did", u.did, 64)?;
    let uid = exact("uri", "uid", u.uid, 64)?;
    let realm = exact("credentials", "realm", u.realm, 64)?;
    let password = exact("credentials", "password", u.password, 64)?;
    db.transaction(|db| {
        if let Some(row) = db.query_row(
            "SELECT uid FROM uri WHERE username = ? AND did = ? AND scheme = 'sip'",
            &[username.into(), did.into()],
        )? {
            let mut c = Cols::new("uri", row, &["uid"]);
            return Ok(Err(UserClash::Uri(c.text()?)));
        }
        if let Some(row) = db.query_row(
            "SELECT uid FROM credentials WHERE auth_username = ? AND realm = ?",
            &[username.into(), realm.into()],
        )? {
            let mut c = Cols::new("credentials", row, &["uid"]);
            return Ok(Err(UserClash::Credentials(c.text()?)));
        }
        db.exec(
            "INSERT INTO uri (uid, did, username, flags, scheme) VALUES (?, ?, ?, ?, 'sip')",
            &[uid.into(), did.into(), username.into(), u.uri_flags.into()],
        )?;
        db.exec(
            "INSERT INTO credentials (auth_username, did, realm, password, flags, ha1, ha1b, uid) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                username.into(),
                did.into(),
                realm.into(),
                password.into(),
                u.cred_flags.into(),
                u.ha1.into(),
                u.ha1b.into(),
                uid.into(),
            ],
        )?;
        Ok(Ok(()))
    })
}

/// What [`ser_user_remove`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// The uid of the removed URI (`None`: there was none).
    pub uid: Option<String>,
    pub uris: u64,
    pub credentials: u64,
    /// `user_attrs` rows removed because the uid had no URI left.
    pub attrs: u64,
}

/// Removes the URI `sip:username@<did>` and the credentials of `username`
/// in that did; when the uid is left without any URI, its `user_attrs`
/// and remaining credentials too.
pub fn ser_user_remove(db: &mut Db, username: &str, did: &str) -> Result<Removed, DbError> {
    db.transaction(|db| {
        let mut r = Removed::default();
        if let Some(row) = db.query_row(
            "SELECT uid FROM uri WHERE username = ? AND did = ? AND scheme = 'sip' ORDER BY id",
            &[username.into(), did.into()],
        )? {
            let mut c = Cols::new("uri", row, &["uid"]);
            r.uid = Some(c.text()?);
        }
        r.uris = db.exec(
            "DELETE FROM uri WHERE username = ? AND did = ? AND scheme = 'sip'",
            &[username.into(), did.into()],
        )?;
        r.credentials = db.exec(
            "DELETE FROM credentials WHERE auth_username = ? AND did = ?",
            &[username.into(), did.into()],
        )?;
        if let Some(uid) = r.uid.as_deref() {
            let left = db.query_row("SELECT 1 FROM uri WHERE uid = ?", &[uid.into()])?;
            if left.is_none() {
                r.credentials += db.exec("DELETE FROM credentials WHERE uid = ?", &[uid.into()])?;
                r.attrs = db.exec("DELETE FROM user_attrs WHERE uid = ?", &[uid.into()])?;
            }
        }
        Ok(r)
    })
}

/// Sets the password of the credentials of `username` in `did`: each row
/// gets `password` and the hashes `hashes(realm)` gives for its realm.
/// How many rows.
pub fn ser_user_passwd(
    db: &mut Db,
    username: &str,
    did: &str,
    password: &str,
    hashes: impl Fn(&str) -> (String, String),
) -> Result<u64, DbError> {
    let password = exact("credentials", "password", password, 64)?;
    db.transaction(|db| {
        let mut n = 0;
        for row in db.query(
            "SELECT id, realm FROM credentials WHERE auth_username = ? AND did = ?",
            &[username.into(), did.into()],
        )? {
            let mut c = Cols::new("credentials", row, &["id", "realm"]);
            let id = c.int()?;
            let realm = c.text()?;
            let (ha1, ha1b) = hashes(&realm);
            n += db.exec(
                "UPDATE credentials SET password = ?, ha1 = ?, ha1b = ? WHERE id = ?",
                &[password.into(), ha1.into(), ha1b.into(), id.into()],
            )?;
        }
        Ok(n)
    })
}

/// A row of `uri` (scheme `sip`) with the credentials of its username in
/// its did, for listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerUser {
    pub username: String,
    pub did: String,
    pub uid: String,
    pub uri_flags: i64,
    /// Credentials of the username in the did, for the same uid.
    pub credentials: Vec<SerUserCredentials>,
}

/// A row of `credentials`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerUserCredentials {
    pub realm: String,
    pub password: String,
    pub ha1: String,
    pub ha1b: String,
    pub flags: i64,
}

/// Every `sip` URI with its credentials, by did and username.
pub fn ser_user_list(db: &mut Db) -> Result<Vec<SerUser>, DbError> {
    let names = ["username", "did", "uid", "flags"];
    let mut users: Vec<SerUser> = db
        .query(
            "SELECT username, did, uid, flags FROM uri WHERE scheme = 'sip' \
             ORDER BY did, username, id",
            &[],
        )?
        .into_iter()
        .map(|row| {
            let mut c = Cols::new("uri", row, &names);
            Ok(SerUser {
                username: c.text()?,
                did: c.text()?,
                uid: c.text()?,
                uri_flags: c.opt_int()?.unwrap_or(0),
                credentials: Vec::new(),
            })
        })
        .collect::<Result<_, DbError>>()?;
    let names = [
        "auth_username",
        "did",
        "uid",
        "realm",
        "password",
        "ha1",
        "ha1b",
        "flags",
    ];
    for row in db.query(
        "SELECT auth_username, did, uid, realm, password, ha1, ha1b, flags \
         FROM credentials ORDER BY id",
        &[],
    )? {
        let mut c = Cols::new("credentials", row, &names);
        let (user, did, uid) = (c.text()?, c.text()?, c.text()?);
        let cred = SerUserCredentials {
            realm: c.text()?,
            password: c.text()?,
            ha1: c.text()?,
            ha1b: c.text()?,
            flags: c.opt_int()?.unwrap_or(0),
        };
        if let Some(u) = users
            .iter_mut()
            .find(|u| u.username == user && u.did == did && u.uid == uid)
        {
            u.credentials.push(cred);
        }
    }
    Ok(users)
}
