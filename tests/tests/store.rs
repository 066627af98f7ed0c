//! The store layer against real databases: the same suite on a SQLite file,
//! a throw-away PostgreSQL server and a throw-away MariaDB server
//! (`ser_tests::dbserver`), and the pool surviving the loss of its server.
//!
//! The suite, in order, on one database per back end:
//! * migrate from empty creates every table at its current version, and a
//!   second run does nothing;
//! * a table at an older version (location at 1, the Kamailio 3.1 column
//!   set) is upgraded with its rows kept; a table newer than ser knows, or
//!   without a `version` row, is refused;
//! * statement errors are query errors, not unavailability, and leave the
//!   connection usable;
//! * subscriber credentials round trip (add, duplicate, passwd, list,
//!   remove);
//! * location and aliases: upsert (insert and update), every column back,
//!   load one AoR and all live bindings, delete one, delete an AoR, delete
//!   expired, size checks;
//! * domain, trusted, usr_preferences, acc and missed_calls;
//! * the pool: every completion callback called once with its result, a
//!   full queue refused at once, a panicking job, shut-down.
//!
//! Connection loss (PostgreSQL and MariaDB): a stream of jobs runs while
//! the server is stopped; the jobs fail fast with `Unavailable` (none
//! hangs); the server is started again and the pool reconnects by itself.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ser_core::store::schema::{self, current_versions, table_version};
use ser_core::store::tables::{
    self, AccRow, AccTable, Preference, Subscriber, TrustedRow, UlRow, UlTable,
};
use ser_core::store::{Backend, Cell, Db, DbError, DbUrl, Pool, PoolConfig, SubmitError, Timeouts};
use ser_tests::dbserver::DbServer;

/// Short limits, so that a failure shows quickly.
fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        statement: Duration::from_secs(2),
        busy: Duration::from_secs(2),
    }
}

fn open(url: &DbUrl) -> Db {
    match Db::connect(url, &timeouts()) {
        Ok(db) => db,
        Err(e) => panic!("connect to {url}: {e}"),
    }
}

/// A directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "ser-store-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A check of the suite: its name and what it runs.
type Check = (&'static str, fn(&DbUrl));

/// Runs the named checks in order, printing how long each took.
fn suite(url: &DbUrl) {
    let checks: [Check; 8] = [
        ("migrate from empty", migrate_from_empty),
        ("upgrade an older table", upgrade_older_table),
        ("statement errors", statement_errors),
        ("credentials", credentials),
        ("location and aliases", location),
        ("domain, trusted, usr_preferences, acc", small_tables),
        ("pool callbacks and queue", pool_callbacks),
        ("pool panics and shut-down", pool_panics_and_shutdown),
    ];
    for (name, check) in checks {
        let t0 = Instant::now();
        check(url);
        println!(
            "{}: {name}: ok ({} ms)",
            url.backend(),
            t0.elapsed().as_millis()
        );
    }
}

#[test]
fn sqlite_suite() {
    let dir = Scratch::new("sqlite");
    // A directory that does not exist yet: the store creates it.
    let url = DbUrl::parse(&format!("sqlite://{}/var/ser.db", dir.0.display())).unwrap();
    suite(&url);
}

#[test]
fn postgres_suite() {
    let server = DbServer::postgres();
    let url = DbUrl::parse(&server.url()).unwrap();
    suite(&url);
}

#[test]
fn mariadb_suite() {
    let server = DbServer::mariadb();
    let url = DbUrl::parse(&server.url()).unwrap();
    suite(&url);
}

#[test]
fn postgres_connection_loss() {
    let mut server = DbServer::postgres();
    connection_loss(&mut server);
}

#[test]
fn mariadb_connection_loss() {
    let mut server = DbServer::mariadb();
    connection_loss(&mut server);
}

#[test]
fn postgres_frozen_server() {
    let server = DbServer::postgres();
    frozen_server(&server);
}

#[test]
fn mariadb_frozen_server() {
    let server = DbServer::mariadb();
    frozen_server(&server);
}

/// The default SQLite store needs no setup: a pool on a path that does not
/// exist answers its first job. Its two workers open the new file at the
/// same time (and one migrates it while the other opens it), which once
/// failed now and then with "database is locked": 50 rounds.
#[test]
fn sqlite_pool_on_a_new_file() {
    let dir = Scratch::new("sqlite-new");
    for round in 0..50 {
        let file = dir.0.join(format!("{round}/a/b/ser.db"));
        let url = DbUrl::parse(&format!("sqlite://{}", file.display())).unwrap();
        let pool = Pool::start(url, PoolConfig::default()).unwrap();
        let v = match pool.run_blocking(tables::versions) {
            Ok(v) => v,
            Err(e) => panic!("round {round}: {e}"),
        };
        assert_eq!(v.len(), 16, "{v:?}");
        assert!(file.is_file());
        pool.shutdown();
    }
}

// ---------------------------------------------------------------------------

fn migrate_from_empty(url: &DbUrl) {
    let mut db = open(url);
    let r = db.migrate().unwrap();
    let want: Vec<String> = current_versions(url.backend())
        .unwrap()
        .iter()
        .map(|(t, _)| t.to_string())
        .collect();
    assert_eq!(r.created, want);
    assert!(r.upgraded.is_empty());
    let mut got = tables::versions(&mut db).unwrap();
    got.sort();
    let mut cur: Vec<(String, i64)> = current_versions(url.backend())
        .unwrap()
        .iter()
        .map(|(t, v)| (t.to_string(), i64::from(*v)))
        .collect();
    cur.sort();
    assert_eq!(got, cur);
    // Again, on this connection and on a new one: nothing to do.
    assert!(db.migrate().unwrap().is_noop());
    drop(db);
    assert!(open(url).migrate().unwrap().is_noop());
}

/// The domain table as it was at version 1 (before SER 2.x's flags).
fn domain_v1(b: Backend) -> String {
    let (id, tail) = match b {
        Backend::Sqlite => ("INTEGER PRIMARY KEY", ""),
        Backend::Postgres => ("SERIAL PRIMARY KEY", ""),
        Backend::Mysql => (
            "INT NOT NULL AUTO_INCREMENT PRIMARY KEY",
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        ),
    };
    format!(
        "CREATE TABLE domain (
            id {id},
            domain VARCHAR(64) NOT NULL,
            did VARCHAR(64),
            last_modified BIGINT NOT NULL DEFAULT 0,
            CONSTRAINT domain_domain UNIQUE (domain)
        ){tail}"
    )
}

/// The location table as it was at version 1 (Kamailio 3.1's columns).
fn location_v1(b: Backend) -> String {
    let (id, real, tail) = match b {
        Backend::Sqlite => ("INTEGER PRIMARY KEY", "REAL", ""),
        Backend::Postgres => ("SERIAL PRIMARY KEY", "DOUBLE PRECISION", ""),
        Backend::Mysql => (
            "INT NOT NULL AUTO_INCREMENT PRIMARY KEY",
            "DOUBLE",
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        ),
    };
    format!(
        "CREATE TABLE location (
            id {id},
            username VARCHAR(64) NOT NULL DEFAULT '',
            domain VARCHAR(64) NOT NULL DEFAULT '',
            contact VARCHAR(512) NOT NULL DEFAULT '',
            received VARCHAR(128),
            path VARCHAR(512),
            expires BIGINT NOT NULL DEFAULT 0,
            q {real} NOT NULL DEFAULT 1.0,
            callid VARCHAR(255) NOT NULL DEFAULT 'Default-Call-ID',
            cseq BIGINT NOT NULL DEFAULT 1,
            last_modified BIGINT NOT NULL DEFAULT 0,
            flags BIGINT NOT NULL DEFAULT 0,
            cflags BIGINT NOT NULL DEFAULT 0,
            user_agent VARCHAR(255) NOT NULL DEFAULT '',
            socket VARCHAR(64),
            methods BIGINT,
            CONSTRAINT location_account_contact UNIQUE (username, domain, contact)
        ){tail}"
    )
}

fn upgrade_older_table(url: &DbUrl) {
    let mut db = open(url);
    db.exec("DROP TABLE location", &[]).unwrap();
    db.exec(&location_v1(url.backend()), &[]).unwrap();
    db.exec("CREATE INDEX location_expires ON location (expires)", &[])
        .unwrap();
    db.exec(
        "INSERT INTO location (username, domain, contact, expires, q, callid, cseq, user_agent) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            "old".into(),
            "example.com".into(),
            "sip:old@192.0.2.1".into(),
            Cell::Int(0),
            Cell::Real(0.5),
            "cid-old".into(),
            Cell::Int(7),
            "Phone/1.0".into(),
        ],
    )
    .unwrap();
    db.exec(
        "UPDATE version SET table_version = 1 WHERE table_name = 'location'",
        &[],
    )
    .unwrap();
    assert_eq!(table_version(&mut db, "location").unwrap(), Some(1));
    // domain at version 1: without SER 2.x's flags, with a row.
    db.exec("DROP TABLE domain", &[]).unwrap();
    db.exec(&domain_v1(url.backend()), &[]).unwrap();
    db.exec(
        "INSERT INTO domain (domain, did, last_modified) VALUES ('old.example', 'd-old', 1)",
        &[],
    )
    .unwrap();
    db.exec(
        "UPDATE version SET table_version = 1 WHERE table_name = 'domain'",
        &[],
    )
    .unwrap();

    let r = db.migrate().unwrap();
    assert_eq!(
        r.upgraded,
        vec![("location".to_string(), 1, 2), ("domain".to_string(), 1, 2)]
    );
    assert!(r.created.is_empty());
    assert_eq!(table_version(&mut db, "domain").unwrap(), Some(2));
    let flags = db
        .query_row("SELECT flags FROM domain WHERE domain = 'old.example'", &[])
        .unwrap()
        .and_then(|r| r.first().and_then(Cell::as_i64));
    assert_eq!(flags, Some(0));
    assert_eq!(table_version(&mut db, "location").unwrap(), Some(2));
    // The old row is there, with the new columns at their defaults.
    let rows =
        tables::location_load_aor(&mut db, UlTable::Location, "old", "example.com", 0).unwrap();
    assert_eq!(rows.len(), 1);
    let r0 = &rows[0];
    assert_eq!(
        (r0.contact.as_str(), r0.cseq, r0.q),
        ("sip:old@192.0.2.1", 7, 0.5)
    );
    assert_eq!(
        (
            r0.ruid.as_str(),
            r0.instance.as_deref(),
            r0.reg_id,
            r0.keepalive
        ),
        ("", None, 0, 0)
    );
    // The new columns work.
    let mut b = UlRow::new("old", "example.com", "sip:old@192.0.2.2");
    b.instance = Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>".into());
    b.reg_id = 1;
    tables::location_upsert(&mut db, UlTable::Location, &b).unwrap();
    assert_eq!(
        tables::location_load_aor(&mut db, UlTable::Location, "old", "example.com", 0)
            .unwrap()
            .len(),
        2
    );
    assert!(db.migrate().unwrap().is_noop());
    db.exec("DELETE FROM location", &[]).unwrap();

    // A table newer than this ser knows is refused, and left alone.
    db.exec(
        "UPDATE version SET table_version = 9 WHERE table_name = 'domain'",
        &[],
    )
    .unwrap();
    match db.migrate() {
        Err(DbError::Schema(m)) => assert!(m.contains("domain") && m.contains("version 9"), "{m}"),
        other => panic!("a newer table was not refused: {other:?}"),
    }
    db.exec(
        "UPDATE version SET table_version = 2 WHERE table_name = 'domain'",
        &[],
    )
    .unwrap();
    // So is a table without its version row.
    db.exec("DELETE FROM version WHERE table_name = 'trusted'", &[])
        .unwrap();
    match db.migrate() {
        Err(DbError::Schema(m)) => assert!(m.contains("trusted"), "{m}"),
        other => panic!("a table without a version row was not refused: {other:?}"),
    }
    db.exec(
        "INSERT INTO version (table_name, table_version) VALUES ('trusted', 1)",
        &[],
    )
    .unwrap();
    assert!(db.migrate().unwrap().is_noop());
    // A version row left by a dropped table does not stop its re-creation.
    db.exec("DROP TABLE missed_calls", &[]).unwrap();
    let r = db.migrate().unwrap();
    assert_eq!(r.created, vec!["missed_calls".to_string()]);
    assert!(schema::table_exists(&mut db, "missed_calls").unwrap());
}

fn statement_errors(url: &DbUrl) {
    let mut db = open(url);
    for bad in [
        "SELEKT 1",
        "SELECT nope FROM subscriber",
        "SELECT 1 FROM no_such_table",
    ] {
        match db.query(bad, &[]) {
            Err(DbError::Query(_)) => {}
            other => panic!("{bad}: {other:?}"),
        }
        assert!(!db.is_lost());
    }
    match db.query("SELECT 1 FROM subscriber WHERE username = ?", &[]) {
        Err(DbError::Query(m)) => assert!(m.contains("placeholders"), "{m}"),
        other => panic!("missing parameter: {other:?}"),
    }
    // A unique key violation.
    db.exec("DELETE FROM domain", &[]).unwrap();
    db.exec(
        "INSERT INTO domain (domain, last_modified) VALUES (?, 0)",
        &["dup.example".into()],
    )
    .unwrap();
    match db.exec(
        "INSERT INTO domain (domain, last_modified) VALUES (?, 0)",
        &["dup.example".into()],
    ) {
        Err(DbError::Query(_)) => {}
        other => panic!("duplicate key: {other:?}"),
    }
    // A failed transaction is rolled back; the connection goes on.
    let r: Result<(), DbError> = db.transaction(|db| {
        db.exec(
            "INSERT INTO domain (domain, last_modified) VALUES (?, 0)",
            &["tx.example".into()],
        )?;
        db.exec(
            "INSERT INTO domain (domain, last_modified) VALUES (?, 0)",
            &["dup.example".into()],
        )?;
        Ok(())
    });
    assert!(matches!(r, Err(DbError::Query(_))), "{r:?}");
    let names: Vec<String> = tables::domain_list(&mut db)
        .unwrap()
        .into_iter()
        .map(|d| d.domain)
        .collect();
    assert_eq!(names, vec!["dup.example".to_string()]);
    db.ping().unwrap();
    // Values of every kind come back as they went in.
    let row = db
        .query_row(
            "SELECT ?, ?, ?, ?",
            &[
                Cell::Text("žluťoučký kůň 'x'".into()),
                Cell::Text("".into()),
                Cell::Null,
                Cell::Text("?".into()),
            ],
        )
        .unwrap()
        .unwrap();
    assert_eq!(row[0].as_str(), Some("žluťoučký kůň 'x'"));
    assert_eq!(row[1].as_str(), Some(""));
    assert!(row[2].is_null());
    assert_eq!(row[3].as_str(), Some("?"));
    let row = db
        .query_row(
            "SELECT COUNT(*), MAX(last_modified) FROM domain WHERE domain <> ?",
            &["x".into()],
        )
        .unwrap()
        .unwrap();
    assert_eq!((row[0].as_i64(), row[1].as_i64()), (Some(1), Some(0)));
    db.exec("DELETE FROM domain", &[]).unwrap();

    // Another client changes a table under a statement this connection
    // has cached (as K31's "ALTER TABLE acc ADD COLUMN src_user ..."): the
    // statement is prepared again, not failed.
    let mut other = open(url);
    db.exec("DELETE FROM acc", &[]).unwrap();
    db.exec("INSERT INTO acc (method, time) VALUES ('INVITE', 1)", &[])
        .unwrap();
    assert_eq!(db.query("SELECT * FROM acc", &[]).unwrap()[0].len(), 8);
    other
        .exec(
            "ALTER TABLE acc ADD COLUMN src_user VARCHAR(64) NOT NULL DEFAULT ''",
            &[],
        )
        .unwrap();
    assert_eq!(db.query("SELECT * FROM acc", &[]).unwrap()[0].len(), 9);
    other
        .exec("ALTER TABLE acc DROP COLUMN src_user", &[])
        .unwrap();
    assert_eq!(db.query("SELECT * FROM acc", &[]).unwrap()[0].len(), 8);
    db.exec("DELETE FROM acc", &[]).unwrap();
}

fn credentials(url: &DbUrl) {
    let mut db = open(url);
    db.exec("DELETE FROM subscriber", &[]).unwrap();
    let alice = Subscriber {
        username: "alice".into(),
        domain: "example.com".into(),
        password: "heslo".into(),
        email_address: "alice@example.com".into(),
        ha1: "0123456789abcdef0123456789abcdef".into(),
        ha1b: "fedcba9876543210fedcba9876543210".into(),
    };
    assert!(tables::subscriber_add(&mut db, &alice).unwrap());
    assert!(
        !tables::subscriber_add(&mut db, &alice).unwrap(),
        "a duplicate is not added"
    );
    let other = Subscriber {
        domain: "example.org".into(),
        password: "jine".into(),
        ..alice.clone()
    };
    assert!(
        tables::subscriber_add(&mut db, &other).unwrap(),
        "same name in another domain"
    );

    let c = tables::credentials(&mut db, "alice", Some("example.com"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.password.as_str(), c.ha1.as_str(), c.ha1b.as_str()),
        ("heslo", alice.ha1.as_str(), alice.ha1b.as_str())
    );
    let c = tables::credentials(&mut db, "alice", Some("example.org"))
        .unwrap()
        .unwrap();
    assert_eq!(c.password, "jine");
    let c = tables::credentials(&mut db, "alice", None)
        .unwrap()
        .unwrap();
    assert_eq!(c.password, "heslo", "without a domain: the first one added");
    assert_eq!(
        tables::credentials(&mut db, "bob", Some("example.com")).unwrap(),
        None
    );
    assert_eq!(
        tables::credentials(&mut db, "Alice", Some("example.com")).unwrap(),
        None,
        "user names are case-sensitive"
    );
    assert_eq!(
        tables::credentials(&mut db, "alice' OR '1'='1", None).unwrap(),
        None
    );

    assert!(
        tables::subscriber_passwd(&mut db, "alice", "example.com", "nove", "aa", "bb").unwrap()
    );
    assert!(!tables::subscriber_passwd(&mut db, "carol", "example.com", "x", "y", "z").unwrap());
    let c = tables::credentials(&mut db, "alice", Some("example.com"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.password.as_str(), c.ha1.as_str(), c.ha1b.as_str()),
        ("nove", "aa", "bb")
    );

    let list = tables::subscriber_list(&mut db).unwrap();
    let names: Vec<(&str, &str)> = list
        .iter()
        .map(|s| (s.username.as_str(), s.domain.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![("alice", "example.com"), ("alice", "example.org")]
    );
    assert_eq!(list[1], other);

    assert!(tables::subscriber_remove(&mut db, "alice", "example.org").unwrap());
    assert!(!tables::subscriber_remove(&mut db, "alice", "example.org").unwrap());
    assert_eq!(tables::subscriber_list(&mut db).unwrap().len(), 1);
    let long = Subscriber {
        username: "x".repeat(65),
        ..alice
    };
    assert!(matches!(
        tables::subscriber_add(&mut db, &long),
        Err(DbError::Query(_))
    ));
}

fn binding(user: &str, contact: &str, expires: i64) -> UlRow {
    UlRow {
        ruid: format!("ruid-{user}-{}", contact.len()),
        received: Some("sip:198.51.100.7:5066;transport=udp".into()),
        path: Some("<sip:edge.example.com;lr>".into()),
        expires,
        q: 0.5,
        callid: format!("{user}-call@host"),
        cseq: 4_000_000_000,
        last_modified: 1_700_000_000,
        flags: 1,
        cflags: 1 << 40,
        user_agent: "Telefon/2.0 (žluťoučký)".into(),
        socket: Some("udp:192.0.2.10:5060".into()),
        methods: Some(0xffff_ffff),
        instance: Some("<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>".into()),
        reg_id: 1,
        server_id: 3,
        connection_id: 42,
        keepalive: 1,
        ..UlRow::new(user, "example.com", contact)
    }
}

fn location(url: &DbUrl) {
    let mut db = open(url);
    for t in [UlTable::Location, UlTable::Aliases] {
        db.exec(&format!("DELETE FROM {}", t.name()), &[]).unwrap();
        let now = 1_800_000_000;
        let a1 = binding("alice", "sip:alice@192.0.2.1:5060", now + 3600);
        let a2 = binding("alice", "sip:alice@192.0.2.2:5060;ob", now + 60);
        let gone = binding("alice", "sip:alice@192.0.2.3", now - 1);
        let mut forever = binding("alice", "sip:alice@pstn.example.com", 0);
        forever.q = -1.0;
        forever.received = None;
        forever.path = None;
        forever.methods = None;
        let b1 = binding("bob", "sip:bob@192.0.2.9", now + 10);
        for b in [&a1, &a2, &gone, &forever, &b1] {
            tables::location_upsert(&mut db, t, b).unwrap();
        }
        // Every column comes back.
        let got = tables::location_load_aor(&mut db, t, "alice", "example.com", now).unwrap();
        assert_eq!(got.len(), 3, "{got:#?}");
        assert_eq!(got[0], a1);
        assert_eq!(got[1], a2);
        assert_eq!(got[2], forever);
        // Upsert of the same (user, domain, contact) updates it.
        let mut a1b = a1.clone();
        a1b.expires = now + 7200;
        a1b.cseq += 1;
        a1b.callid = "new-call".into();
        a1b.received = None;
        tables::location_upsert(&mut db, t, &a1b).unwrap();
        let got = tables::location_load_aor(&mut db, t, "alice", "example.com", now).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], a1b);
        // All live bindings, by AoR.
        let all = tables::location_load_all(&mut db, t, now).unwrap();
        let keys: Vec<(&str, &str)> = all
            .iter()
            .map(|r| (r.username.as_str(), r.contact.as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("alice", "sip:alice@192.0.2.1:5060"),
                ("alice", "sip:alice@192.0.2.2:5060;ob"),
                ("alice", "sip:alice@pstn.example.com"),
                ("bob", "sip:bob@192.0.2.9"),
            ]
        );
        // Expired at `now`: the dead one only.
        assert_eq!(tables::location_delete_expired(&mut db, t, now).unwrap(), 1);
        // Dead bindings still stored are not loaded (bob's at now + 30).
        assert_eq!(
            tables::location_load_all(&mut db, t, now + 30)
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            tables::location_load_all(&mut db, t, now + 100_000)
                .unwrap()
                .len(),
            1,
            "only the permanent one"
        );
        // Delete one.
        assert!(
            tables::location_delete(&mut db, t, "bob", "example.com", "sip:bob@192.0.2.9").unwrap()
        );
        assert!(
            !tables::location_delete(&mut db, t, "bob", "example.com", "sip:bob@192.0.2.9")
                .unwrap()
        );
        // A minute later a2 has expired too.
        assert_eq!(
            tables::location_delete_expired(&mut db, t, now + 60).unwrap(),
            1
        );
        // Delete an AoR.
        assert_eq!(
            tables::location_delete_aor(&mut db, t, "alice", "example.com").unwrap(),
            2
        );
        assert!(tables::location_load_all(&mut db, t, 0).unwrap().is_empty());
        // Sizes: a contact that does not fit is refused, free text is cut.
        let long = binding("carol", &format!("sip:{}@h", "c".repeat(520)), 0);
        assert!(matches!(
            tables::location_upsert(&mut db, t, &long),
            Err(DbError::Query(_))
        ));
        let mut chatty = binding("carol", "sip:carol@h", 0);
        chatty.user_agent = "ž".repeat(300);
        chatty.callid = "c".repeat(300);
        tables::location_upsert(&mut db, t, &chatty).unwrap();
        let got = tables::location_load_aor(&mut db, t, "carol", "example.com", 0).unwrap();
        assert_eq!(got[0].user_agent.chars().count(), 255);
        assert_eq!(got[0].callid.len(), 255);
        // Quotes are data.
        let odd = binding("o'neil", "sip:x@h;a=\"'; DROP TABLE location; --\"", 0);
        tables::location_upsert(&mut db, t, &odd).unwrap();
        assert_eq!(
            tables::location_load_aor(&mut db, t, "o'neil", "example.com", 0).unwrap()[0],
            odd
        );
        db.exec(&format!("DELETE FROM {}", t.name()), &[]).unwrap();
    }
}

fn small_tables(url: &DbUrl) {
    let mut db = open(url);
    for t in [
        "domain",
        "trusted",
        "usr_preferences",
        "acc",
        "missed_calls",
    ] {
        db.exec(&format!("DELETE FROM {t}"), &[]).unwrap();
    }
    // domain
    assert!(tables::domain_add(&mut db, "Example.COM", None, 100).unwrap());
    assert!(!tables::domain_add(&mut db, "example.com", Some("x"), 100).unwrap());
    assert!(tables::domain_add(&mut db, "a.example.net", Some("did-1"), 200).unwrap());
    let d = tables::domain_list(&mut db).unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(
        (
            d[0].domain.as_str(),
            d[0].did.as_deref(),
            d[0].last_modified
        ),
        ("a.example.net", Some("did-1"), 200)
    );
    assert_eq!(
        (d[1].domain.as_str(), d[1].did.as_deref()),
        ("example.com", None)
    );
    assert!(tables::domain_remove(&mut db, "EXAMPLE.com").unwrap());
    assert!(!tables::domain_remove(&mut db, "example.com").unwrap());
    assert_eq!(tables::domain_list(&mut db).unwrap().len(), 1);

    // trusted: the seed's PSTN gateway, and two more.
    let gw = TrustedRow {
        id: 0,
        src_ip: "192.0.2.245".into(),
        proto: "any".into(),
        from_pattern: Some("^sip:.*$".into()),
        ruri_pattern: None,
        tag: None,
        priority: 0,
    };
    tables::trusted_add(&mut db, &gw).unwrap();
    tables::trusted_add(
        &mut db,
        &TrustedRow {
            src_ip: "2001:db8::1".into(),
            proto: "tcp".into(),
            tag: Some("v6".into()),
            priority: 5,
            ..gw.clone()
        },
    )
    .unwrap();
    tables::trusted_add(
        &mut db,
        &TrustedRow {
            proto: "udp".into(),
            from_pattern: None,
            ..gw.clone()
        },
    )
    .unwrap();
    let t = tables::trusted_list(&mut db).unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(
        (t[0].src_ip.as_str(), t[0].priority, t[0].tag.as_deref()),
        ("2001:db8::1", 5, Some("v6"))
    );
    assert_eq!(
        TrustedRow {
            id: 0,
            ..t[1].clone()
        },
        gw
    );
    assert!(t[2].from_pattern.is_none());
    assert!(tables::trusted_remove(&mut db, t[0].id).unwrap());
    assert!(!tables::trusted_remove(&mut db, t[0].id).unwrap());
    assert_eq!(
        tables::trusted_remove_ip(&mut db, "192.0.2.245").unwrap(),
        2
    );
    assert!(tables::trusted_list(&mut db).unwrap().is_empty());
    assert!(matches!(
        tables::trusted_add(
            &mut db,
            &TrustedRow {
                proto: "websocket".into(),
                ..gw
            }
        ),
        Err(DbError::Query(_))
    ));

    // usr_preferences: the seed's call-forwarding rows.
    let pref = |user: &str, attr: &str, value: &str| Preference {
        uuid: String::new(),
        username: user.into(),
        domain: "sip.example.com".into(),
        attribute: attr.into(),
        type_: 0,
        value: value.into(),
        last_modified: 1,
    };
    let rows = [
        pref("5025552001", "callfwd", "sip:5025554706@sip.example.com"),
        pref("9145551451", "fwdbusy", "sip:9145550257@sip.example.com"),
        pref(
            "5615553320",
            "fwdnoanswer",
            "sip:9545553040@sip.example.com",
        ),
        pref("9145551451", "fwdnoanswer", "sip:voicemail@sip.example.com"),
    ];
    for p in &rows {
        tables::preference_add(&mut db, p).unwrap();
    }
    let got = tables::preferences_load(&mut db, "9145551451", None, Some("fwdbusy")).unwrap();
    assert_eq!(got, vec![rows[1].clone()]);
    let got =
        tables::preferences_load(&mut db, "9145551451", Some("sip.example.com"), None).unwrap();
    assert_eq!(got.len(), 2);
    assert!(
        tables::preferences_load(&mut db, "9145551451", Some("other.example.com"), None)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        tables::preferences_delete(&mut db, "9145551451", None, Some("fwdbusy")).unwrap(),
        1
    );
    assert_eq!(
        tables::preferences_delete(&mut db, "9145551451", Some("sip.example.com"), None).unwrap(),
        1
    );
    assert_eq!(
        tables::preferences_load(&mut db, "5025552001", None, None).unwrap(),
        vec![rows[0].clone()]
    );

    // acc and missed_calls: peer data is cut to the columns.
    for t in [AccTable::Acc, AccTable::MissedCalls] {
        let rec = AccRow {
            method: "INVITE".into(),
            from_tag: "ft".into(),
            to_tag: "tt".into(),
            callid: "acc-call@h".into(),
            sip_code: "200".into(),
            sip_reason: "OK".into(),
            time: 1_700_000_123,
        };
        tables::acc_insert(&mut db, t, &rec).unwrap();
        let odd = AccRow {
            method: "X".repeat(40),
            sip_code: "4040".into(),
            sip_reason: "ř".repeat(200),
            ..rec.clone()
        };
        tables::acc_insert(&mut db, t, &odd).unwrap();
        let got = tables::acc_by_callid(&mut db, t, "acc-call@h").unwrap();
        assert_eq!(got[0], rec);
        assert_eq!(
            (
                got[1].method.len(),
                got[1].sip_code.as_str(),
                got[1].sip_reason.chars().count()
            ),
            (16, "404", 128)
        );
    }
}

// ---------------------------------------------------------------------------
// Pool

fn pool_cfg(workers: usize, queue: usize) -> PoolConfig {
    PoolConfig {
        workers,
        queue,
        timeouts: timeouts(),
        migrate: false,
        ..PoolConfig::default()
    }
}

fn pool_callbacks(url: &DbUrl) {
    let pool = Pool::start(url.clone(), pool_cfg(2, 64)).unwrap();
    pool.run_blocking(|db| db.exec("DELETE FROM acc", &[]))
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let n = 200;
    let mut sent = 0;
    while sent < n {
        let i = sent;
        let tx = tx.clone();
        let r = pool.submit(
            move |db| {
                tables::acc_insert(
                    db,
                    AccTable::Acc,
                    &AccRow {
                        method: "BYE".into(),
                        from_tag: String::new(),
                        to_tag: String::new(),
                        callid: format!("pool-{i}"),
                        sip_code: "200".into(),
                        sip_reason: "OK".into(),
                        time: i,
                    },
                )?;
                Ok(i)
            },
            move |r| tx.send(r).unwrap(),
        );
        match r {
            Ok(()) => sent += 1,
            // Faster than the database: wait a little, as a shard would
            // answer 500 or retry later.
            Err(SubmitError::Full) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("{e}"),
        }
    }
    let mut got: Vec<i64> = (0..n)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(10))
                .expect("a callback")
                .unwrap()
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..n).collect::<Vec<_>>());
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "one callback per job"
    );
    let count = pool
        .run_blocking(|db| db.query_row("SELECT COUNT(*) FROM acc", &[]))
        .unwrap()
        .and_then(|r| r.first().and_then(Cell::as_i64));
    assert_eq!(count, Some(n));
    let s = pool.stats();
    assert_eq!(s.queries, n as u64 + 2);
    assert_eq!(
        (s.errors, s.queue_depth, s.workers, s.workers_up),
        (0, 0, 2, 2)
    );
    assert!(s.latency_max_us > 0 && s.latency_total_us >= s.latency_max_us);

    // The bounded queue: one worker held busy, two jobs waiting, the third
    // refused at once.
    let pool = Pool::start(url.clone(), pool_cfg(1, 2)).unwrap();
    let hold = Arc::new(Barrier::new(2));
    let started = Arc::new(Barrier::new(2));
    let (tx, rx) = mpsc::channel();
    {
        let (hold, started, tx) = (Arc::clone(&hold), Arc::clone(&started), tx.clone());
        pool.submit(
            move |db| {
                started.wait();
                hold.wait();
                db.ping()
            },
            move |r| tx.send(r.is_ok()).unwrap(),
        )
        .unwrap();
    }
    started.wait();
    for _ in 0..2 {
        let tx = tx.clone();
        pool.submit(|db| db.ping(), move |r| tx.send(r.is_ok()).unwrap())
            .unwrap();
    }
    let t0 = Instant::now();
    let refused = pool.submit(|db| db.ping(), |_| panic!("a refused job's callback ran"));
    assert_eq!(refused, Err(SubmitError::Full));
    assert!(
        t0.elapsed() < Duration::from_millis(50),
        "refusal took {:?}",
        t0.elapsed()
    );
    assert_eq!((pool.stats().rejected, pool.stats().queue_depth), (1, 2));
    hold.wait();
    for _ in 0..3 {
        assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap());
    }
    pool.shutdown();
}

/// Keeps the panics this file causes on purpose out of the test output;
/// every other panic is reported as usual.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            if !msg.contains("(expected in this test)") {
                default(info);
            }
        }));
    });
}

fn pool_panics_and_shutdown(url: &DbUrl) {
    quiet_expected_panics();
    let pool = Pool::start(url.clone(), pool_cfg(1, 16)).unwrap();
    let r: Result<(), DbError> =
        pool.run_blocking(|_| panic!("a job that panics (expected in this test)"));
    assert!(
        matches!(r, Err(DbError::Query(ref m)) if m.contains("panicked")),
        "{r:?}"
    );
    // The worker reconnected and goes on.
    pool.run_blocking(|db| db.ping()).unwrap();
    // A callback that panics does not kill the worker either.
    pool.submit(
        |db| db.ping(),
        |_| panic!("a callback that panics (expected in this test)"),
    )
    .unwrap();
    pool.run_blocking(|db| db.ping()).unwrap();

    // Shut-down runs what is queued, then refuses.
    let (tx, rx) = mpsc::channel();
    for _ in 0..10 {
        let tx = tx.clone();
        pool.submit(|db| db.ping(), move |r| tx.send(r.is_ok()).unwrap())
            .unwrap();
    }
    pool.shutdown();
    assert_eq!(rx.try_iter().filter(|ok| *ok).count(), 10);
    assert_eq!(
        pool.submit(|db| db.ping(), |_| {}),
        Err(SubmitError::Closed)
    );
    assert_eq!(pool.stats().workers_up, 0);
}

// ---------------------------------------------------------------------------
// Connection loss

/// What happened to one job of the stream.
#[derive(Debug)]
struct Outcome {
    submitted: Instant,
    took: Duration,
    result: Result<(), DbError>,
}

fn connection_loss(server: &mut DbServer) {
    let url = DbUrl::parse(&server.url()).unwrap();
    let cfg = PoolConfig {
        workers: 2,
        queue: 256,
        timeouts: timeouts(),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        migrate: true,
        ..PoolConfig::default()
    };
    let pool = Arc::new(Pool::start(url, cfg).unwrap());
    pool.run_blocking(|db| db.exec("DELETE FROM acc", &[]))
        .unwrap();

    // A stream of jobs, one every 10 ms, until told to stop.
    let (out_tx, out_rx) = mpsc::channel::<Outcome>();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let feeder = {
        let pool = Arc::clone(&pool);
        std::thread::spawn(move || {
            let mut i = 0i64;
            let mut refused = 0u32;
            while stop_rx.try_recv().is_err() {
                i += 1;
                let tx = out_tx.clone();
                let submitted = Instant::now();
                let r = pool.submit(
                    move |db| {
                        tables::acc_insert(
                            db,
                            AccTable::Acc,
                            &AccRow {
                                method: "INVITE".into(),
                                from_tag: String::new(),
                                to_tag: String::new(),
                                callid: format!("loss-{i}"),
                                sip_code: "200".into(),
                                sip_reason: "OK".into(),
                                time: i,
                            },
                        )
                    },
                    move |result| {
                        let _ = tx.send(Outcome {
                            submitted,
                            took: submitted.elapsed(),
                            result,
                        });
                    },
                );
                if r.is_err() {
                    refused += 1;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            refused
        })
    };
    let collect = |until: Instant| {
        let mut v = Vec::new();
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if let Ok(o) = out_rx.recv_timeout(left) {
                v.push(o);
            }
        }
        v
    };

    // Up: everything works.
    let before = collect(Instant::now() + Duration::from_millis(500));
    assert!(before.len() > 20, "only {} jobs in 0.5 s", before.len());
    assert!(before.iter().all(|o| o.result.is_ok()), "{before:#?}");

    // Down: stop the server in the middle of the stream.
    let t_stop = Instant::now();
    server.stop();
    let stopped = Instant::now();
    println!(
        "{:?}: server stopped in {} ms",
        server.kind(),
        stopped.duration_since(t_stop).as_millis()
    );
    let during = collect(stopped + Duration::from_secs(2));
    let after_stop: Vec<&Outcome> = during.iter().filter(|o| o.submitted > stopped).collect();
    assert!(
        after_stop.len() > 50,
        "only {} jobs while down",
        after_stop.len()
    );
    for o in &after_stop {
        match &o.result {
            Err(DbError::Unavailable(_)) => {}
            other => panic!("a job while the server was down: {other:?}"),
        }
        assert!(
            o.took < Duration::from_millis(500),
            "a job took {:?} while the server was down",
            o.took
        );
    }
    let worst = during.iter().map(|o| o.took).max().unwrap_or_default();
    assert!(
        worst < Duration::from_secs(4),
        "a job in flight at the stop took {worst:?}"
    );
    let s = pool.stats();
    assert_eq!(s.workers_up, 0, "{s:?}");
    println!(
        "{:?}: {} jobs failed fast while down (slowest {} ms, in flight at the stop: {} ms)",
        server.kind(),
        after_stop.len(),
        after_stop
            .iter()
            .map(|o| o.took)
            .max()
            .unwrap_or_default()
            .as_millis(),
        worst.as_millis()
    );

    // Up again: the pool reconnects by itself.
    server.start_again();
    let restarted = Instant::now();
    let mut first_ok = None;
    while first_ok.is_none() && restarted.elapsed() < Duration::from_secs(15) {
        let ok = out_rx
            .recv_timeout(Duration::from_millis(100))
            .ok()
            .filter(|o| o.result.is_ok() && o.submitted > restarted);
        if ok.is_some() {
            first_ok = Some(restarted.elapsed());
        }
    }
    let first_ok = first_ok.expect("no job succeeded within 15 s of the restart");
    // Once both workers are back (at most one back-off later), every job
    // succeeds.
    let settle = Instant::now() + Duration::from_millis(1500);
    let _ = collect(settle);
    let after = collect(Instant::now() + Duration::from_millis(500));
    assert!(
        after.len() > 20,
        "only {} jobs after the restart",
        after.len()
    );
    assert!(
        after.iter().all(|o| o.result.is_ok()),
        "{:#?}",
        after.iter().find(|o| o.result.is_err())
    );
    let s = pool.stats();
    assert_eq!(s.workers_up, 2, "{s:?}");
    assert!(s.reconnects >= 2, "{s:?}");
    println!(
        "{:?}: first job succeeded {} ms after the restart; {s:?}",
        server.kind(),
        first_ok.as_millis()
    );

    stop_tx.send(()).unwrap();
    let refused = feeder.join().unwrap();
    assert_eq!(refused, 0, "the queue filled up");
    pool.shutdown();
}

/// A server that stops answering (frozen with SIGSTOP, connections open):
/// the client-side time limits fail the jobs with `Unavailable` instead of
/// hanging, and the pool is back once the server answers again.
fn frozen_server(server: &DbServer) {
    let url = DbUrl::parse(&server.url()).unwrap();
    let cfg = PoolConfig {
        workers: 2,
        queue: 64,
        timeouts: timeouts(),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        migrate: true,
        ..PoolConfig::default()
    };
    let pool = Pool::start(url, cfg).unwrap();
    // Both workers connected.
    let (tx, rx) = mpsc::channel();
    for _ in 0..4 {
        let tx = tx.clone();
        pool.submit(|db| db.ping(), move |r| tx.send(r).unwrap())
            .unwrap();
    }
    for _ in 0..4 {
        rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    }

    server.freeze();
    // Jobs on the open connections, then on connections being made to the
    // frozen server: each ends within the limits (statement 2 s, connect
    // 2 s, plus a second of grace), with Unavailable.
    let (jtx, jrx) = mpsc::channel();
    let n = 6;
    for _ in 0..n {
        let jtx = jtx.clone();
        let submitted = Instant::now();
        pool.submit(
            |db| db.query("SELECT COUNT(*) FROM version", &[]).map(drop),
            move |r| jtx.send((r, submitted.elapsed())).unwrap(),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut worst = Duration::ZERO;
    for _ in 0..n {
        let (r, took) = jrx
            .recv_timeout(Duration::from_secs(20))
            .expect("a job hung on the frozen server");
        match r {
            Err(DbError::Unavailable(_)) => {}
            other => panic!("a job on the frozen server: {other:?}"),
        }
        worst = worst.max(took);
    }
    println!(
        "{:?}: {n} jobs on the frozen server failed, the slowest in {} ms",
        server.kind(),
        worst.as_millis()
    );
    // A job waits at most for its own statement (3 s) and one connection
    // attempt in front of it (3 s).
    assert!(worst < Duration::from_secs(8), "{worst:?}");
    assert_eq!(pool.stats().workers_up, 0);

    server.thaw();
    let t1 = Instant::now();
    loop {
        let r = pool.run_blocking(|db| db.ping());
        if r.is_ok() {
            break;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(15),
            "no reconnection after the thaw: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "{:?}: back {} ms after the thaw",
        server.kind(),
        t1.elapsed().as_millis()
    );
    pool.shutdown();
}
