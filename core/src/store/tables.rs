//! Typed access to the store's tables, for the modules (auth_db, usrloc's
//! persistence, domain, permissions, avpops, acc) and for `serctl`.
//!
//! Every function takes a `&mut Db` and runs synchronously: the router
//! calls them inside a [`super::Pool`] job, `serctl` directly. The SQL is
//! the same on every back end except the binding upsert (`ON CONFLICT` for
//! SQLite and PostgreSQL, `ON DUPLICATE KEY UPDATE` for MySQL).
//!
//! Values are checked against the column sizes of `core/schema/*.sql`
//! before they are written, so every back end behaves alike (SQLite would
//! store anything, PostgreSQL and strict MySQL refuse, lax MySQL cuts):
//! a key or address that does not fit is refused with a query error, free
//! text that does not fit (User-Agent, Call-ID, reasons) is cut at a
//! character boundary. Rows read back are checked for type: a cell of the
//! wrong type is a query error, never a panic.
//!
//! Times are Unix seconds. A binding whose `expires` is 0 never expires
//! (as in Kamailio's usrloc).

use super::db::Db;
use super::url::Backend;
use super::value::{Cell, DbError};

// ---------------------------------------------------------------------------
// Reading rows

/// Takes the cells of one row in order, checking their types.
pub(super) struct Cols<'a> {
    table: &'static str,
    cells: std::vec::IntoIter<Cell>,
    names: std::slice::Iter<'a, &'static str>,
}

impl<'a> Cols<'a> {
    pub(super) fn new(table: &'static str, row: Vec<Cell>, names: &'a [&'static str]) -> Cols<'a> {
        Cols {
            table,
            cells: row.into_iter(),
            names: names.iter(),
        }
    }

    fn next(&mut self) -> Result<(Cell, &'static str), DbError> {
        let name = self.names.next().copied().unwrap_or("?");
        match self.cells.next() {
            Some(c) => Ok((c, name)),
            None => Err(DbError::Query(format!(
                "{}: column {name} missing from the row",
                self.table
            ))),
        }
    }

    pub(super) fn int(&mut self) -> Result<i64, DbError> {
        let (c, name) = self.next()?;
        c.as_i64().ok_or_else(|| self.bad(name, &c, "an integer"))
    }

    pub(super) fn opt_int(&mut self) -> Result<Option<i64>, DbError> {
        let (c, name) = self.next()?;
        if c.is_null() {
            return Ok(None);
        }
        c.as_i64()
            .map(Some)
            .ok_or_else(|| self.bad(name, &c, "an integer"))
    }

    fn real(&mut self) -> Result<f64, DbError> {
        let (c, name) = self.next()?;
        c.as_f64().ok_or_else(|| self.bad(name, &c, "a number"))
    }

    /// Text; NULL reads as empty.
    pub(super) fn text(&mut self) -> Result<String, DbError> {
        Ok(self.opt_text()?.unwrap_or_default())
    }

    pub(super) fn opt_text(&mut self) -> Result<Option<String>, DbError> {
        let (c, name) = self.next()?;
        match c {
            Cell::Null => Ok(None),
            Cell::Int(i) => Ok(Some(i.to_string())),
            c => match c.as_str() {
                Some(_) => Ok(c.into_string()),
                None => Err(self.bad(name, &c, "text")),
            },
        }
    }

    fn bad(&self, name: &str, c: &Cell, want: &str) -> DbError {
        DbError::Query(format!("{}.{name}: expected {want}, got {c:?}", self.table))
    }
}

// ---------------------------------------------------------------------------
// Fitting values to columns

/// `v` if it has at most `max` characters, else a query error naming the
/// column (for keys and addresses, which must not be cut).
pub(super) fn exact<'a>(
    table: &str,
    col: &str,
    v: &'a str,
    max: usize,
) -> Result<&'a str, DbError> {
    if v.chars().count() > max {
        return Err(DbError::Query(format!(
            "{table}.{col}: {} characters, the column holds {max}",
            v.chars().count()
        )));
    }
    Ok(v)
}

fn exact_opt<'a>(
    table: &str,
    col: &str,
    v: Option<&'a str>,
    max: usize,
) -> Result<Option<&'a str>, DbError> {
    v.map(|v| exact(table, col, v, max)).transpose()
}

/// `v` cut to at most `max` characters (free text).
fn cut(v: &str, max: usize) -> &str {
    match v.char_indices().nth(max) {
        Some((i, _)) => v.get(..i).unwrap_or(v),
        None => v,
    }
}

fn opt(v: Option<&str>) -> Cell {
    v.map_or(Cell::Null, Cell::from)
}

// ---------------------------------------------------------------------------
// subscriber (auth_db, serctl)

/// What digest authentication needs of a subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Plain-text password (`calculate_ha1` configs); may be empty.
    pub password: String,
    /// MD5(username:realm:password).
    pub ha1: String,
    /// MD5(username@domain:realm:password).
    pub ha1b: String,
}

/// A row of `subscriber`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscriber {
    pub username: String,
    pub domain: String,
    pub password: String,
    pub email_address: String,
    pub ha1: String,
    pub ha1b: String,
}

/// The credentials of `username` in `domain`; with `domain` `None`
/// (`use_domain` off), of the first subscriber of that name.
pub fn credentials(
    db: &mut Db,
    username: &str,
    domain: Option<&str>,
) -> Result<Option<Credentials>, DbError> {
    let rows = match domain {
        Some(d) => db.query(
            "SELECT password, ha1, ha1b FROM subscriber WHERE username = ? AND domain = ?",
            &[username.into(), d.into()],
        )?,
        None => db.query(
            "SELECT password, ha1, ha1b FROM subscriber WHERE username = ? ORDER BY id",
            &[username.into()],
        )?,
    };
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let names = ["password", "ha1", "ha1b"];
    let mut c = Cols::new("subscriber", row, &names);
    Ok(Some(Credentials {
        password: c.text()?,
        ha1: c.text()?,
        ha1b: c.text()?,
    }))
}

/// Adds a subscriber; `false` when one with that username and domain is
/// there already (nothing is changed then).
pub fn subscriber_add(db: &mut Db, s: &Subscriber) -> Result<bool, DbError> {
    let t = "subscriber";
    let params = [
        exact(t, "username", &s.username, 64)?.into(),
        exact(t, "domain", &s.domain, 64)?.into(),
        exact(t, "password", &s.password, 64)?.into(),
        exact(t, "email_address", &s.email_address, 128)?.into(),
        exact(t, "ha1", &s.ha1, 128)?.into(),
        exact(t, "ha1b", &s.ha1b, 128)?.into(),
    ];
    db.transaction(|db| {
        let there = db.query_row(
            "SELECT 1 FROM subscriber WHERE username = ? AND domain = ?",
            &[s.username.as_str().into(), s.domain.as_str().into()],
        )?;
        if there.is_some() {
            return Ok(false);
        }
        db.exec(
            "INSERT INTO subscriber (username, domain, password, email_address, ha1, ha1b) \
             VALUES (?, ?, ?, ?, ?, ?)",
            &params,
        )?;
        Ok(true)
    })
}

/// Sets a subscriber's password and hashes; `false` when there is no such
/// subscriber.
pub fn subscriber_passwd(
    db: &mut Db,
    username: &str,
    domain: &str,
    password: &str,
    ha1: &str,
    ha1b: &str,
) -> Result<bool, DbError> {
    let t = "subscriber";
    let n = db.exec(
        "UPDATE subscriber SET password = ?, ha1 = ?, ha1b = ? WHERE username = ? AND domain = ?",
        &[
            exact(t, "password", password, 64)?.into(),
            exact(t, "ha1", ha1, 128)?.into(),
            exact(t, "ha1b", ha1b, 128)?.into(),
            username.into(),
            domain.into(),
        ],
    )?;
    Ok(n > 0)
}

/// Removes a subscriber; `false` when there was none.
pub fn subscriber_remove(db: &mut Db, username: &str, domain: &str) -> Result<bool, DbError> {
    let n = db.exec(
        "DELETE FROM subscriber WHERE username = ? AND domain = ?",
        &[username.into(), domain.into()],
    )?;
    Ok(n > 0)
}

/// Every subscriber, by domain and username.
pub fn subscriber_list(db: &mut Db) -> Result<Vec<Subscriber>, DbError> {
    let names = [
        "username",
        "domain",
        "password",
        "email_address",
        "ha1",
        "ha1b",
    ];
    db.query(
        "SELECT username, domain, password, email_address, ha1, ha1b FROM subscriber \
         ORDER BY domain, username",
        &[],
    )?
    .into_iter()
    .map(|row| {
        let mut c = Cols::new("subscriber", row, &names);
        Ok(Subscriber {
            username: c.text()?,
            domain: c.text()?,
            password: c.text()?,
            email_address: c.text()?,
            ha1: c.text()?,
            ha1b: c.text()?,
        })
    })
    .collect()
}

// ---------------------------------------------------------------------------
// location and aliases (usrloc persistence)

/// The two usrloc tables with a schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UlTable {
    Location,
    Aliases,
}

impl UlTable {
    pub fn name(self) -> &'static str {
        match self {
            UlTable::Location => "location",
            UlTable::Aliases => "aliases",
        }
    }

    /// The table of a `save`/`lookup` argument, if it has one.
    pub fn by_name(name: &str) -> Option<UlTable> {
        match name {
            "location" => Some(UlTable::Location),
            "aliases" => Some(UlTable::Aliases),
            _ => None,
        }
    }
}

/// A row of `location` or `aliases`: one binding, keyed by (username,
/// domain, contact). The column names are Kamailio's.
#[derive(Clone, Debug, PartialEq)]
pub struct UlRow {
    /// Record id, unique per binding (may be empty).
    pub ruid: String,
    pub username: String,
    /// Empty when usrloc does not use domains.
    pub domain: String,
    pub contact: String,
    /// Source address of the REGISTER (`sip:ip:port;transport=x`).
    pub received: Option<String>,
    pub path: Option<String>,
    /// Unix time; 0 = never expires.
    pub expires: i64,
    /// q-value; -1 when the contact gave none.
    pub q: f64,
    pub callid: String,
    pub cseq: i64,
    pub last_modified: i64,
    /// Binding flags (NAT, ...).
    pub flags: i64,
    /// Branch flags, given back by lookup.
    pub cflags: i64,
    pub user_agent: String,
    /// The local socket it came in on (`udp:ip:port`).
    pub socket: Option<String>,
    /// Allowed methods bitmask; `None`: not given.
    pub methods: Option<i64>,
    /// `+sip.instance` (GRUU / outbound).
    pub instance: Option<String>,
    pub reg_id: i64,
    pub server_id: i64,
    pub connection_id: i64,
    pub keepalive: i64,
}

impl UlRow {
    /// A binding with everything but its key at the defaults.
    pub fn new(username: &str, domain: &str, contact: &str) -> UlRow {
        UlRow {
            ruid: String::new(),
            username: username.to_string(),
            domain: domain.to_string(),
            contact: contact.to_string(),
            received: None,
            path: None,
            expires: 0,
            q: -1.0,
            callid: "Default-Call-ID".to_string(),
            cseq: 1,
            last_modified: 0,
            flags: 0,
            cflags: 0,
            user_agent: String::new(),
            socket: None,
            methods: None,
            instance: None,
            reg_id: 0,
            server_id: 0,
            connection_id: 0,
            keepalive: 0,
        }
    }
}

/// The columns written and read, in order.
const UL_COLS: [&str; 21] = [
    "ruid",
    "username",
    "domain",
    "contact",
    "received",
    "path",
    "expires",
    "q",
    "callid",
    "cseq",
    "last_modified",
    "flags",
    "cflags",
    "user_agent",
    "socket",
    "methods",
    "instance",
    "reg_id",
    "server_id",
    "connection_id",
    "keepalive",
];

fn ul_params(t: UlTable, r: &UlRow) -> Result<Vec<Cell>, DbError> {
    let n = t.name();
    Ok(vec![
        exact(n, "ruid", &r.ruid, 64)?.into(),
        exact(n, "username", &r.username, 64)?.into(),
        exact(n, "domain", &r.domain, 64)?.into(),
        exact(n, "contact", &r.contact, 512)?.into(),
        opt(exact_opt(n, "received", r.received.as_deref(), 128)?),
        opt(exact_opt(n, "path", r.path.as_deref(), 512)?),
        r.expires.into(),
        r.q.into(),
        cut(&r.callid, 255).into(),
        r.cseq.into(),
        r.last_modified.into(),
        r.flags.into(),
        r.cflags.into(),
        cut(&r.user_agent, 255).into(),
        opt(exact_opt(n, "socket", r.socket.as_deref(), 64)?),
        r.methods.into(),
        opt(exact_opt(n, "instance", r.instance.as_deref(), 255)?),
        r.reg_id.into(),
        r.server_id.into(),
        r.connection_id.into(),
        r.keepalive.into(),
    ])
}

fn ul_row(t: UlTable, row: Vec<Cell>) -> Result<UlRow, DbError> {
    let mut c = Cols::new(t.name(), row, &UL_COLS);
    Ok(UlRow {
        ruid: c.text()?,
        username: c.text()?,
        domain: c.text()?,
        contact: c.text()?,
        received: c.opt_text()?,
        path: c.opt_text()?,
        expires: c.int()?,
        q: c.real()?,
        callid: c.text()?,
        cseq: c.int()?,
        last_modified: c.int()?,
        flags: c.int()?,
        cflags: c.int()?,
        user_agent: c.text()?,
        socket: c.opt_text()?,
        methods: c.opt_int()?,
        instance: c.opt_text()?,
        reg_id: c.int()?,
        server_id: c.int()?,
        connection_id: c.int()?,
        keepalive: c.int()?,
    })
}

/// Inserts a binding, or updates the one with the same (username, domain,
/// contact).
pub fn location_upsert(db: &mut Db, t: UlTable, r: &UlRow) -> Result<(), DbError> {
    let params = ul_params(t, r)?;
    let cols = UL_COLS.join(", ");
    let marks = vec!["?"; UL_COLS.len()].join(", ");
    let key = ["username", "domain", "contact"];
    let update = |f: &dyn Fn(&str) -> String| {
        UL_COLS
            .iter()
            .filter(|c| !key.contains(c))
            .map(|c| format!("{c} = {}", f(c)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql_text = match db.backend() {
        Backend::Sqlite | Backend::Postgres => format!(
            "INSERT INTO {} ({cols}) VALUES ({marks}) ON CONFLICT (username, domain, contact) DO UPDATE SET {}",
            t.name(),
            update(&|c| format!("EXCLUDED.{c}"))
        ),
        Backend::Mysql => format!(
            "INSERT INTO {} ({cols}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {}",
            t.name(),
            update(&|c| format!("VALUES({c})"))
        ),
    };
    db.exec(&sql_text, &params).map(drop)
}

/// Deletes one binding; `true` when there was one.
pub fn location_delete(
    db: &mut Db,
    t: UlTable,
    username: &str,
    domain: &str,
    contact: &str,
) -> Result<bool, DbError> {
    let n = db.exec(
        &format!(
            "DELETE FROM {} WHERE username = ? AND domain = ? AND contact = ?",
            t.name()
        ),
        &[username.into(), domain.into(), contact.into()],
    )?;
    Ok(n > 0)
}

/// Deletes every binding of an address of record; how many.
pub fn location_delete_aor(
    db: &mut Db,
    t: UlTable,
    username: &str,
    domain: &str,
) -> Result<u64, DbError> {
    db.exec(
        &format!("DELETE FROM {} WHERE username = ? AND domain = ?", t.name()),
        &[username.into(), domain.into()],
    )
}

/// Every binding alive at `now` (`expires` 0 or after `now`), by address of
/// record.
pub fn location_load_all(db: &mut Db, t: UlTable, now: i64) -> Result<Vec<UlRow>, DbError> {
    db.query(
        &format!(
            "SELECT {} FROM {} WHERE expires = 0 OR expires > ? ORDER BY username, domain, id",
            UL_COLS.join(", "),
            t.name()
        ),
        &[now.into()],
    )?
    .into_iter()
    .map(|row| ul_row(t, row))
    .collect()
}

/// The bindings of one address of record alive at `now`.
pub fn location_load_aor(
    db: &mut Db,
    t: UlTable,
    username: &str,
    domain: &str,
    now: i64,
) -> Result<Vec<UlRow>, DbError> {
    db.query(
        &format!(
            "SELECT {} FROM {} WHERE username = ? AND domain = ? AND (expires = 0 OR expires > ?) ORDER BY id",
            UL_COLS.join(", "),
            t.name()
        ),
        &[username.into(), domain.into(), now.into()],
    )?
    .into_iter()
    .map(|row| ul_row(t, row))
    .collect()
}

/// Deletes the bindings expired at `now`; how many.
pub fn location_delete_expired(db: &mut Db, t: UlTable, now: i64) -> Result<u64, DbError> {
    db.exec(
        &format!(
            "DELETE FROM {} WHERE expires > 0 AND expires <= ?",
            t.name()
        ),
        &[now.into()],
    )
}

// ---------------------------------------------------------------------------
// domain

/// A row of `domain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainRow {
    pub domain: String,
    /// Domain id (SER 2.x `did`); `None` when not set.
    pub did: Option<String>,
    pub last_modified: i64,
}

/// Every local domain, sorted.
pub fn domain_list(db: &mut Db) -> Result<Vec<DomainRow>, DbError> {
    let names = ["domain", "did", "last_modified"];
    db.query(
        "SELECT domain, did, last_modified FROM domain ORDER BY domain",
        &[],
    )?
    .into_iter()
    .map(|row| {
        let mut c = Cols::new("domain", row, &names);
        Ok(DomainRow {
            domain: c.text()?,
            did: c.opt_text()?,
            last_modified: c.int()?,
        })
    })
    .collect()
}

/// Adds a local domain (stored in lower case: domains compare without
/// case); `false` when it is there already.
pub fn domain_add(db: &mut Db, domain: &str, did: Option<&str>, now: i64) -> Result<bool, DbError> {
    let d = domain.to_ascii_lowercase();
    let d = exact("domain", "domain", &d, 64)?.to_string();
    let did = exact_opt("domain", "did", did, 64)?.map(str::to_string);
    db.transaction(|db| {
        if db
            .query_row(
                "SELECT 1 FROM domain WHERE domain = ?",
                &[d.as_str().into()],
            )?
            .is_some()
        {
            return Ok(false);
        }
        db.exec(
            "INSERT INTO domain (domain, did, last_modified) VALUES (?, ?, ?)",
            &[d.as_str().into(), opt(did.as_deref()), now.into()],
        )?;
        Ok(true)
    })
}

/// Removes a local domain; `false` when it was not there.
pub fn domain_remove(db: &mut Db, domain: &str) -> Result<bool, DbError> {
    let n = db.exec(
        "DELETE FROM domain WHERE domain = ?",
        &[domain.to_ascii_lowercase().into()],
    )?;
    Ok(n > 0)
}

// ---------------------------------------------------------------------------
// trusted (permissions)

/// A row of `trusted`: requests from `src_ip` over `proto` (`any`, `udp`,
/// `tcp`, `tls`, `sctp`) whose From matches `from_pattern` (a regular
/// expression; `None` matches all) are trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedRow {
    /// Given by the database; ignored by [`trusted_add`].
    pub id: i64,
    pub src_ip: String,
    pub proto: String,
    pub from_pattern: Option<String>,
    pub ruri_pattern: Option<String>,
    /// Put into an AVP when the row matches (`peer_tag_avp`).
    pub tag: Option<String>,
    /// Higher first.
    pub priority: i64,
}

/// Every trusted peer, highest priority first.
pub fn trusted_list(db: &mut Db) -> Result<Vec<TrustedRow>, DbError> {
    let names = [
        "id",
        "src_ip",
        "proto",
        "from_pattern",
        "ruri_pattern",
        "tag",
        "priority",
    ];
    db.query(
        "SELECT id, src_ip, proto, from_pattern, ruri_pattern, tag, priority FROM trusted \
         ORDER BY priority DESC, id",
        &[],
    )?
    .into_iter()
    .map(|row| {
        let mut c = Cols::new("trusted", row, &names);
        Ok(TrustedRow {
            id: c.int()?,
            src_ip: c.text()?,
            proto: c.text()?,
            from_pattern: c.opt_text()?,
            ruri_pattern: c.opt_text()?,
            tag: c.opt_text()?,
            priority: c.int()?,
        })
    })
    .collect()
}

/// Adds a trusted peer.
pub fn trusted_add(db: &mut Db, r: &TrustedRow) -> Result<(), DbError> {
    let t = "trusted";
    db.exec(
        "INSERT INTO trusted (src_ip, proto, from_pattern, ruri_pattern, tag, priority) \
         VALUES (?, ?, ?, ?, ?, ?)",
        &[
            exact(t, "src_ip", &r.src_ip, 50)?.into(),
            exact(t, "proto", &r.proto, 4)?.into(),
            opt(exact_opt(t, "from_pattern", r.from_pattern.as_deref(), 64)?),
            opt(exact_opt(t, "ruri_pattern", r.ruri_pattern.as_deref(), 64)?),
            opt(exact_opt(t, "tag", r.tag.as_deref(), 64)?),
            r.priority.into(),
        ],
    )
    .map(drop)
}

/// Removes the trusted peer with this id; `false` when there was none.
pub fn trusted_remove(db: &mut Db, id: i64) -> Result<bool, DbError> {
    Ok(db.exec("DELETE FROM trusted WHERE id = ?", &[id.into()])? > 0)
}

/// Removes every trusted row of a source address; how many.
pub fn trusted_remove_ip(db: &mut Db, src_ip: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM trusted WHERE src_ip = ?", &[src_ip.into()])
}

// ---------------------------------------------------------------------------
// usr_preferences (avpops)

/// A row of `usr_preferences`: attribute `attribute` of a user, with value
/// `value` (`type` 0 = string, 1 = integer, as avpops).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preference {
    pub uuid: String,
    pub username: String,
    pub domain: String,
    pub attribute: String,
    pub type_: i64,
    pub value: String,
    pub last_modified: i64,
}

const PREF_COLS: [&str; 7] = [
    "uuid",
    "username",
    "domain",
    "attribute",
    "type",
    "value",
    "last_modified",
];

/// The preferences of `username` (and `domain`, unless `None`), of one
/// attribute unless `attribute` is `None`, oldest first.
pub fn preferences_load(
    db: &mut Db,
    username: &str,
    domain: Option<&str>,
    attribute: Option<&str>,
) -> Result<Vec<Preference>, DbError> {
    let mut sql_text = format!(
        "SELECT {} FROM usr_preferences WHERE username = ?",
        PREF_COLS.join(", ")
    );
    let mut params = vec![Cell::from(username)];
    if let Some(d) = domain {
        sql_text.push_str(" AND domain = ?");
        params.push(d.into());
    }
    if let Some(a) = attribute {
        sql_text.push_str(" AND attribute = ?");
        params.push(a.into());
    }
    sql_text.push_str(" ORDER BY id");
    db.query(&sql_text, &params)?
        .into_iter()
        .map(|row| {
            let mut c = Cols::new("usr_preferences", row, &PREF_COLS);
            Ok(Preference {
                uuid: c.text()?,
                username: c.text()?,
                domain: c.text()?,
                attribute: c.text()?,
                type_: c.int()?,
                value: c.text()?,
                last_modified: c.int()?,
            })
        })
        .collect()
}

/// Adds one preference row.
pub fn preference_add(db: &mut Db, p: &Preference) -> Result<(), DbError> {
    let t = "usr_preferences";
    db.exec(
        &format!(
            "INSERT INTO usr_preferences ({}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            PREF_COLS.join(", ")
        ),
        &[
            exact(t, "uuid", &p.uuid, 64)?.into(),
            exact(t, "username", &p.username, 128)?.into(),
            exact(t, "domain", &p.domain, 64)?.into(),
            exact(t, "attribute", &p.attribute, 32)?.into(),
            p.type_.into(),
            exact(t, "value", &p.value, 128)?.into(),
            p.last_modified.into(),
        ],
    )
    .map(drop)
}

/// Deletes the preferences of `username` (and `domain`, and `attribute`,
/// unless `None`); how many.
pub fn preferences_delete(
    db: &mut Db,
    username: &str,
    domain: Option<&str>,
    attribute: Option<&str>,
) -> Result<u64, DbError> {
    let mut sql_text = "DELETE FROM usr_preferences WHERE username = ?".to_string();
    let mut params = vec![Cell::from(username)];
    if let Some(d) = domain {
        sql_text.push_str(" AND domain = ?");
        params.push(d.into());
    }
    if let Some(a) = attribute {
        sql_text.push_str(" AND attribute = ?");
        params.push(a.into());
    }
    db.exec(&sql_text, &params)
}

// ---------------------------------------------------------------------------
// acc and missed_calls

/// The two accounting tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccTable {
    Acc,
    MissedCalls,
}

impl AccTable {
    pub fn name(self) -> &'static str {
        match self {
            AccTable::Acc => "acc",
            AccTable::MissedCalls => "missed_calls",
        }
    }
}

/// One accounting record (peer data: every field is cut to its column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccRow {
    pub method: String,
    pub from_tag: String,
    pub to_tag: String,
    pub callid: String,
    pub sip_code: String,
    pub sip_reason: String,
    /// Unix time.
    pub time: i64,
}

/// Writes one accounting record.
pub fn acc_insert(db: &mut Db, t: AccTable, r: &AccRow) -> Result<(), DbError> {
    acc_insert_into(db, t.name(), r, &[])
}

/// Writes one accounting record into `table` (a name the caller checked),
/// with extra `(column, value)` pairs (acc's `db_extra`; the columns must
/// exist).
pub fn acc_insert_into(
    db: &mut Db,
    table: &str,
    r: &AccRow,
    extra: &[(String, String)],
) -> Result<(), DbError> {
    let mut cols = String::from("method, from_tag, to_tag, callid, sip_code, sip_reason, time");
    let mut params: Vec<Cell> = vec![
        cut(&r.method, 16).into(),
        cut(&r.from_tag, 64).into(),
        cut(&r.to_tag, 64).into(),
        cut(&r.callid, 255).into(),
        cut(&r.sip_code, 3).into(),
        cut(&r.sip_reason, 128).into(),
        r.time.into(),
    ];
    for (name, value) in extra {
        cols.push_str(", ");
        cols.push_str(name);
        params.push(cut(value, 255).into());
    }
    let marks = vec!["?"; params.len()].join(", ");
    db.exec(
        &format!("INSERT INTO {table} ({cols}) VALUES ({marks})"),
        &params,
    )
    .map(drop)
}

/// The records of one Call-ID, oldest first.
pub fn acc_by_callid(db: &mut Db, t: AccTable, callid: &str) -> Result<Vec<AccRow>, DbError> {
    let names = [
        "method",
        "from_tag",
        "to_tag",
        "callid",
        "sip_code",
        "sip_reason",
        "time",
    ];
    db.query(
        &format!(
            "SELECT method, from_tag, to_tag, callid, sip_code, sip_reason, time FROM {} \
             WHERE callid = ? ORDER BY id",
            t.name()
        ),
        &[callid.into()],
    )?
    .into_iter()
    .map(|row| {
        let mut c = Cols::new(t.name(), row, &names);
        Ok(AccRow {
            method: c.text()?,
            from_tag: c.text()?,
            to_tag: c.text()?,
            callid: c.text()?,
            sip_code: c.text()?,
            sip_reason: c.text()?,
            time: c.int()?,
        })
    })
    .collect()
}

// ---------------------------------------------------------------------------
// SER 2.x user data: credentials, uri and the attribute tables

/// The bits of the `flags` column of SER 2.x's tables (SER's `DB_*`,
/// later `SRDB_*` flags).
pub mod ser_flags {
    /// The row is for SER (rows without it are skipped).
    pub const LOAD_SER: i64 = 1;
    /// The row is disabled.
    pub const DISABLED: i64 = 1 << 1;
    /// Canonical entry (domain or URI).
    pub const CANON: i64 = 1 << 2;
    /// The URI may be used in To (and the Request-URI).
    pub const IS_TO: i64 = 1 << 3;
    /// The URI may be used in From.
    pub const IS_FROM: i64 = 1 << 4;
    /// The credentials may be used by serweb.
    pub const FOR_SERWEB: i64 = 1 << 5;
    pub const PENDING: i64 = 1 << 6;
    pub const DELETED: i64 = 1 << 7;
}

/// A usable row of `credentials`: what digest authentication needs and the
/// user it authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerCredentials {
    pub password: String,
    pub ha1: String,
    pub ha1b: String,
    pub uid: String,
    pub flags: i64,
}

/// Whether a row with these flags is one SER uses (has `LOAD_SER`, is not
/// `DISABLED`).
pub fn ser_row_enabled(flags: i64) -> bool {
    flags & ser_flags::LOAD_SER != 0 && flags & ser_flags::DISABLED == 0
}

/// The credentials of `auth_username` in `realm` (table `credentials`):
/// the first row, in id order, that is for SER and not disabled.
pub fn ser_credentials(
    db: &mut Db,
    auth_username: &str,
    realm: &str,
) -> Result<Option<SerCredentials>, DbError> {
    let names = ["password", "ha1", "ha1b", "uid", "flags"];
    for row in db.query(
        "SELECT password, ha1, ha1b, uid, flags FROM credentials \
         WHERE auth_username = ? AND realm = ? ORDER BY id",
        &[auth_username.into(), realm.into()],
    )? {
        let mut c = Cols::new("credentials", row, &names);
        let r = SerCredentials {
            password: c.text()?,
            ha1: c.text()?,
            ha1b: c.text()?,
            uid: c.text()?,
            flags: c.opt_int()?.unwrap_or(0),
        };
        if ser_row_enabled(r.flags) {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// The uid of the URI `scheme:username@<did>` in table `uri`: the first
/// row, in id order, that is for SER, not disabled, and has every bit of
/// `need` (`IS_TO` or `IS_FROM`). Also returns that row's flags.
pub fn uri_uid(
    db: &mut Db,
    username: &str,
    did: &str,
    scheme: &str,
    need: i64,
) -> Result<Option<(String, i64)>, DbError> {
    let names = ["uid", "flags"];
    for row in db.query(
        "SELECT uid, flags FROM uri WHERE username = ? AND did = ? AND scheme = ? ORDER BY id",
        &[username.into(), did.into(), scheme.into()],
    )? {
        let mut c = Cols::new("uri", row, &names);
        let uid = c.opt_text()?;
        let flags = c.opt_int()?;
        match (uid, flags) {
            (Some(uid), Some(f)) if ser_row_enabled(f) && f & need == need => {
                return Ok(Some((uid, f)));
            }
            _ => {}
        }
    }
    Ok(None)
}

/// A row of an attribute table: `type` 2 is a string (SER's
/// `AVP_VAL_STR`), anything else an integer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrRow {
    pub name: String,
    pub type_: i64,
    pub value: Option<String>,
    pub flags: i64,
}

impl AttrRow {
    /// Whether the value is a string (else an integer).
    pub fn is_str(&self) -> bool {
        self.type_ == 2
    }
}

/// Reads attribute rows (`name, type, value, flags` after `lead` key
/// columns), keeping those with `LOAD_SER` (SER's avp_db and gflags skip
/// the others; a NULL name, type or flags is skipped too).
fn attr_rows(
    db: &mut Db,
    table: &'static str,
    sql_text: &str,
    params: &[Cell],
    lead: usize,
) -> Result<Vec<(Vec<String>, AttrRow)>, DbError> {
    let mut names: Vec<&'static str> = vec!["key"; lead];
    names.extend(["name", "type", "value", "flags"]);
    let mut out = Vec::new();
    for row in db.query(sql_text, params)? {
        let mut c = Cols::new(table, row, &names);
        let mut keys = Vec::with_capacity(lead);
        for _ in 0..lead {
            keys.push(c.text()?);
        }
        let name = c.opt_text()?;
        let type_ = c.opt_int()?;
        let value = c.opt_text()?;
        let flags = c.opt_int()?;
        if let (Some(name), Some(type_), Some(flags)) = (name, type_, flags)
            && flags & ser_flags::LOAD_SER != 0
        {
            out.push((
                keys,
                AttrRow {
                    name,
                    type_,
                    value,
                    flags,
                },
            ));
        }
    }
    Ok(out)
}

/// The attributes of user `uid` (`user_attrs`), in id order.
pub fn user_attrs(db: &mut Db, uid: &str) -> Result<Vec<AttrRow>, DbError> {
    Ok(attr_rows(
        db,
        "user_attrs",
        "SELECT name, type, value, flags FROM user_attrs WHERE uid = ? ORDER BY id",
        &[uid.into()],
        0,
    )?
    .into_iter()
    .map(|(_, a)| a)
    .collect())
}

/// The attributes of the URI `scheme:username@<did>` (`uri_attrs`).
pub fn uri_attrs(
    db: &mut Db,
    username: &str,
    did: &str,
    scheme: &str,
) -> Result<Vec<AttrRow>, DbError> {
    Ok(attr_rows(
        db,
        "uri_attrs",
        "SELECT name, type, value, flags FROM uri_attrs \
         WHERE username = ? AND did = ? AND scheme = ? ORDER BY id",
        &[username.into(), did.into(), scheme.into()],
        0,
    )?
    .into_iter()
    .map(|(_, a)| a)
    .collect())
}

/// Every domain attribute, with its did (`domain_attrs`; a NULL did is
/// empty).
pub fn domain_attrs(db: &mut Db) -> Result<Vec<(String, AttrRow)>, DbError> {
    Ok(attr_rows(
        db,
        "domain_attrs",
        "SELECT did, name, type, value, flags FROM domain_attrs ORDER BY id",
        &[],
        1,
    )?
    .into_iter()
    .map(|(mut k, a)| (k.pop().unwrap_or_default(), a))
    .collect())
}

/// Every global attribute (`global_attrs`).
pub fn global_attrs(db: &mut Db) -> Result<Vec<AttrRow>, DbError> {
    Ok(attr_rows(
        db,
        "global_attrs",
        "SELECT name, type, value, flags FROM global_attrs ORDER BY id",
        &[],
        0,
    )?
    .into_iter()
    .map(|(_, a)| a)
    .collect())
}

// ---------------------------------------------------------------------------
// version

/// Every row of `version`: table name and version, sorted by name.
pub fn versions(db: &mut Db) -> Result<Vec<(String, i64)>, DbError> {
    let names = ["table_name", "table_version"];
    db.query(
        "SELECT table_name, table_version FROM version ORDER BY table_name",
        &[],
    )?
    .into_iter()
    .map(|row| {
        let mut c = Cols::new("version", row, &names);
        Ok((c.text()?, c.int()?))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_cut_keeps_characters_whole() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("žluťoučký", 4), "žluť");
        assert!(exact("t", "c", "žluť", 4).is_ok());
        assert!(exact("t", "c", "žluťo", 4).is_err());
    }

    #[test]
    fn store_rows_of_wrong_type_are_errors() {
        let names = ["a", "b"];
        let mut c = Cols::new("t", vec![Cell::Bytes(vec![0xff]), Cell::Real(1.5)], &names);
        assert!(matches!(c.text(), Err(DbError::Query(_))));
        assert!(matches!(c.int(), Err(DbError::Query(_))));
        assert!(matches!(c.int(), Err(DbError::Query(_))), "missing column");
    }

    #[test]
    fn store_ser2_rows_follow_the_flags() {
        let dir = std::env::temp_dir().join(format!("ser-ser2-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let url =
            super::super::DbUrl::parse(&format!("sqlite://{}/ser.db", dir.display())).unwrap();
        let mut db = Db::open(&url).unwrap();
        db.migrate().unwrap();
        let ins = |db: &mut Db, sql_text: &str| {
            db.exec(sql_text, &[]).unwrap();
        };
        // A disabled row first, then one not for SER, then the good one.
        ins(
            &mut db,
            "INSERT INTO credentials (auth_username, realm, password, flags, uid) \
                      VALUES ('alice', 'r', 'old', 3, 'u-old')",
        );
        ins(
            &mut db,
            "INSERT INTO credentials (auth_username, realm, password, flags, uid) \
                      VALUES ('alice', 'r', 'web', 32, 'u-web')",
        );
        ins(
            &mut db,
            "INSERT INTO credentials (auth_username, realm, password, flags, uid) \
                      VALUES ('alice', 'r', 'pw', 33, 'u-1')",
        );
        let c = ser_credentials(&mut db, "alice", "r").unwrap().unwrap();
        assert_eq!((c.password.as_str(), c.uid.as_str()), ("pw", "u-1"));
        assert_eq!(ser_credentials(&mut db, "alice", "other").unwrap(), None);
        // uri: IS_TO only for the first, IS_FROM only for the second.
        ins(
            &mut db,
            "INSERT INTO uri (uid, did, username, flags) VALUES ('u-to', 'd1', 'bob', 9)",
        );
        ins(
            &mut db,
            "INSERT INTO uri (uid, did, username, flags) VALUES ('u-from', 'd1', 'bob', 17)",
        );
        ins(
            &mut db,
            "INSERT INTO uri (uid, did, username, flags) VALUES ('u-off', 'd1', 'carol', 27)",
        );
        let to = uri_uid(&mut db, "bob", "d1", "sip", ser_flags::IS_TO).unwrap();
        assert_eq!(to.map(|t| t.0), Some("u-to".to_string()));
        let from = uri_uid(&mut db, "bob", "d1", "sip", ser_flags::IS_FROM).unwrap();
        assert_eq!(from.map(|t| t.0), Some("u-from".to_string()));
        assert_eq!(
            uri_uid(&mut db, "bob", "d1", "sips", ser_flags::IS_TO).unwrap(),
            None
        );
        assert_eq!(
            uri_uid(&mut db, "carol", "d1", "sip", ser_flags::IS_TO).unwrap(),
            None
        );
        // Attributes: only LOAD_SER rows.
        ins(
            &mut db,
            "INSERT INTO user_attrs (uid, name, value, type, flags) VALUES ('u-1', 'a', 'x', 2, 1)",
        );
        ins(
            &mut db,
            "INSERT INTO user_attrs (uid, name, value, type, flags) VALUES ('u-1', 'b', '5', 0, 0)",
        );
        let a = user_attrs(&mut db, "u-1").unwrap();
        assert_eq!(a.len(), 1);
        assert!(a[0].is_str());
        ins(
            &mut db,
            "INSERT INTO domain_attrs (did, name, value, type, flags) VALUES ('d1', 'digest_realm', 'r', 2, 1)",
        );
        ins(
            &mut db,
            "INSERT INTO global_attrs (name, value, type, flags) VALUES ('gw_ip', '192.0.2.1', 2, 1)",
        );
        ins(
            &mut db,
            "INSERT INTO uri_attrs (username, did, name, value, type, flags) VALUES ('bob', 'd1', 'n', '7', 0, 1)",
        );
        assert_eq!(domain_attrs(&mut db).unwrap()[0].0, "d1");
        assert_eq!(
            global_attrs(&mut db).unwrap()[0].value.as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(uri_attrs(&mut db, "bob", "d1", "sip").unwrap()[0].type_, 0);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
