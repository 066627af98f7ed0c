//! `serctl` as operators run it: the real binary against a real SQLite
//! file, the throw-away PostgreSQL and MariaDB servers of
//! `ser_tests::dbserver`, and a running `ser` over its control socket.
//!
//! - SQLite: users (add, show, passwd, rm; `ha1`/`ha1b` checked against
//!   RFC 2617's formula computed here), the default domain from `-r` and
//!   `SIP_DOMAIN`, the database URL from `-d`, `SER_DB_URL` and `DBURL`,
//!   domains, trusted peers and aliases (rows read back from the file),
//!   usage errors (status 1), database errors (status 2, the password
//!   hidden), missing entries (status 4).
//! - PostgreSQL and MariaDB: the same user, domain, trusted and alias
//!   commands, rows read back through the store layer.
//! - SER 2.x user data on all three: `user add` refused until the domain
//!   is local, then `uri` and `credentials` rows with the did, the
//!   domain's `digest_realm` as the realm (hashes checked against RFC
//!   2617's formula), SER's flags, a given or generated uid; `user show`,
//!   `passwd`, `rm` (with the uid's attributes); `attr add|set|rm|show`
//!   on global, uid and did attributes, read back the way the router
//!   reads them.
//! - A running router: `serctl ul add` makes the next INVITE reach the
//!   contact, `ul show` lists it (one AoR, the whole table, `--brief`), a
//!   Path given kamctl's way is kept, `ul rm`
//!   makes the next INVITE get 404; `alias add` reaches the router's
//!   `aliases` table at once (`lookup("aliases")` routes the alias);
//!   `domain add` and `attr add global` warn that the router does not
//!   cache the table; `ul`
//!   without a router fails with status 3.
//!
//! Every run is killed after 30 s.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ser_core::auth::digest::{Hash, ha1};
use ser_core::store::provision::{self, AttrOwner};
use ser_core::store::tables::{self, UlTable, ser_flags};
use ser_core::store::{Db, DbUrl};
use ser_tests::dbserver::DbServer;
use ser_tests::router::{Peer, Router, Start, TempDir, first_line};
use ser_tests::serctl_binary;

/// What a run printed.
#[derive(Debug)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `serctl args...` with none of its environment variables set but
/// those in `env`.
fn serctl_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    let bin = serctl_binary();
    let mut cmd = Command::new(&bin);
    cmd.args(args)
        .env_remove("SER_DB_URL")
        .env_remove("DBURL")
        .env_remove("SIP_DOMAIN")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let end = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match child.try_wait().expect("wait for serctl") {
            Some(s) => break s,
            None if Instant::now() >= end => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serctl {args:?} did not finish within 30 s");
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    Out {
        code: status.code(),
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

fn serctl(args: &[&str]) -> Out {
    serctl_env(args, &[])
}

/// Runs and expects status 0; returns standard output.
fn ok(args: &[&str]) -> String {
    ok_env(args, &[])
}

fn ok_env(args: &[&str], env: &[(&str, &str)]) -> String {
    let o = serctl_env(args, env);
    assert_eq!(o.code, Some(0), "serctl {args:?}: {o:?}");
    o.stdout
}

/// Runs and expects `code`; returns standard error.
fn fails(args: &[&str], code: i32) -> String {
    let o = serctl(args);
    assert_eq!(o.code, Some(code), "serctl {args:?}: {o:?}");
    assert!(o.stderr.starts_with("serctl: "), "{o:?}");
    o.stderr
}

fn open(url: &str) -> Db {
    let u = DbUrl::parse(url).unwrap_or_else(|e| panic!("{e}"));
    Db::open(&u).unwrap_or_else(|e| panic!("{u}: {e}"))
}

/// The RFC 2617 HA1, as lower-case hex.
fn md5_ha1(user: &str, realm: &str, password: &str) -> String {
    ha1(
        Hash::Md5,
        user.as_bytes(),
        realm.as_bytes(),
        password.as_bytes(),
    )
    .as_str()
    .to_string()
}

/// The lines of a column listing, split on blanks, header left out.
fn rows(listing: &str) -> Vec<Vec<String>> {
    listing
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// Users, domains, trusted peers and aliases on `url` (any back end);
/// `ctl` is a control socket where no router listens.
fn tables_suite(url: &str, ctl: &str) {
    let base = ["-d", url, "-s", ctl];
    let run = |rest: &[&str]| -> String {
        let args: Vec<&str> = base.iter().chain(rest).copied().collect();
        ok(&args)
    };
    let status = |rest: &[&str], code: i32| -> String {
        let args: Vec<&str> = base.iter().chain(rest).copied().collect();
        fails(&args, code)
    };

    // Users: the domain from the name or from -r; the hashes are RFC
    // 2617's with the domain as the realm.
    let said = run(&[
        "-r",
        "Example.COM",
        "add",
        "alice",
        "s3cret",
        "alice@mail.example.org",
    ]);
    assert!(said.contains("alice@example.com"), "{said}");
    run(&["add", "bob@other.org", "pw-bob"]);
    assert!(status(&["add", "alice@example.com", "x"], 4).contains("exists already"));
    let mut db = open(url);
    let c = tables::credentials(&mut db, "alice", Some("example.com"))
        .expect("credentials query")
        .expect("alice is stored");
    assert_eq!(c.password, "s3cret");
    assert_eq!(c.ha1, md5_ha1("alice", "example.com", "s3cret"));
    assert_eq!(
        c.ha1b,
        md5_ha1("alice@example.com", "example.com", "s3cret")
    );
    let list = tables::subscriber_list(&mut db).expect("subscriber list");
    let alice = list.iter().find(|s| s.username == "alice").expect("alice");
    assert_eq!(alice.email_address, "alice@mail.example.org");

    let shown = run(&["show"]);
    assert_eq!(
        rows(&shown),
        vec![
            vec!["alice", "example.com", "alice@mail.example.org"],
            vec!["bob", "other.org", "-"],
        ],
        "{shown}"
    );
    assert!(shown.starts_with("USER "), "{shown}");
    assert!(
        !shown.contains("s3cret") && !shown.contains(&c.ha1),
        "{shown}"
    );
    let secret = run(&["show", "--passwords", "alice@example.com"]);
    assert_eq!(
        rows(&secret),
        vec![vec![
            "alice".to_string(),
            "example.com".into(),
            "alice@mail.example.org".into(),
            "s3cret".into(),
            c.ha1.clone(),
            c.ha1b.clone()
        ]],
        "{secret}"
    );
    assert!(status(&["show", "nobody@example.com"], 4).contains("no user nobody@example.com"));

    run(&["passwd", "alice@example.com", "n3w"]);
    let c2 = tables::credentials(&mut db, "alice", Some("example.com"))
        .expect("credentials query")
        .expect("alice is stored");
    assert_eq!(c2.password, "n3w");
    assert_eq!(c2.ha1, md5_ha1("alice", "example.com", "n3w"));
    assert_eq!(c2.ha1b, md5_ha1("alice@example.com", "example.com", "n3w"));
    assert!(status(&["passwd", "carol@example.com", "x"], 4).contains("no user"));
    run(&["rm", "bob@other.org"]);
    assert!(status(&["rm", "bob@other.org"], 4).contains("no user bob@other.org"));
    assert_eq!(rows(&run(&["show"])).len(), 1);

    // Domains: stored in lower case; the router is not running: a note.
    let o = serctl(&[base.as_slice(), &["domain", "add", "Example.COM"]].concat());
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(o.stderr.contains("no router answers"), "{o:?}");
    run(&["domain", "add", "other.org"]);
    assert!(status(&["domain", "add", "example.com"], 4).contains("exists already"));
    assert_eq!(run(&["domain", "show"]), "example.com\nother.org\n");
    let doms = tables::domain_list(&mut db).expect("domain list");
    assert_eq!(doms.len(), 2);
    run(&["domain", "rm", "other.org"]);
    assert!(status(&["domain", "rm", "other.org"], 4).contains("no domain other.org"));
    assert_eq!(run(&["domain", "showdb"]), "example.com\n");

    // Trusted peers: the seed's gateway row.
    run(&[
        "trusted",
        "add",
        "192.168.0.10",
        "UDP",
        "^sip:.*@gw\\.example\\.com$",
        "gw1",
    ]);
    run(&["trusted", "add", "10.1.1.1", "any", "NULL"]);
    let t = tables::trusted_list(&mut db).expect("trusted list");
    let gw = t
        .iter()
        .find(|r| r.src_ip == "192.168.0.10")
        .expect("gw row");
    assert_eq!(gw.proto, "udp");
    assert_eq!(
        gw.from_pattern.as_deref(),
        Some("^sip:.*@gw\\.example\\.com$")
    );
    assert_eq!(gw.tag.as_deref(), Some("gw1"));
    let any = t.iter().find(|r| r.src_ip == "10.1.1.1").expect("any row");
    assert_eq!(
        (any.from_pattern.as_deref(), any.tag.as_deref()),
        (None, None)
    );
    let shown = run(&["trusted", "show"]);
    assert!(
        rows(&shown).contains(&vec![
            "192.168.0.10".to_string(),
            "udp".into(),
            "^sip:.*@gw\\.example\\.com$".into(),
            "gw1".into(),
            "0".into()
        ]),
        "{shown}"
    );
    run(&["trusted", "rm", "10.1.1.1"]);
    assert!(status(&["trusted", "rm", "10.1.1.1"], 4).contains("no trusted peer"));
    assert_eq!(
        tables::trusted_list(&mut db).expect("trusted list").len(),
        1
    );

    // Aliases: permanent rows of `aliases`.
    run(&["alias", "add", "1234@example.com", "sip:alice@example.com"]);
    run(&[
        "-r",
        "example.com",
        "alias",
        "add",
        "john",
        "alice@example.com",
    ]);
    let a = tables::location_load_all(&mut db, UlTable::Aliases, 0).expect("aliases");
    assert_eq!(a.len(), 2, "{a:?}");
    let row = a.iter().find(|r| r.username == "john").expect("john");
    assert_eq!(
        (row.domain.as_str(), row.contact.as_str(), row.expires),
        ("example.com", "sip:alice@example.com", 0)
    );
    assert_eq!(
        run(&["alias", "show"]),
        "1234@example.com -> sip:alice@example.com\njohn@example.com -> sip:alice@example.com\n"
    );
    assert_eq!(
        run(&["alias", "show", "john@example.com"]),
        "john@example.com -> sip:alice@example.com\n"
    );
    assert!(status(&["alias", "add", "john@example.com", "sip:x@y"], 4).contains("exists"));
    run(&["alias", "rm", "john@example.com"]);
    assert!(status(&["alias", "show", "john@example.com"], 4).contains("no alias"));
    assert!(status(&["alias", "rm", "john@example.com"], 4).contains("no alias"));
    let a = tables::location_load_all(&mut db, UlTable::Aliases, 0).expect("aliases");
    assert_eq!(a.len(), 1);
}

/// SER 2.x users, domains and attributes on `url` (any back end); `ctl`
/// is a control socket where no router listens.
fn ser2_suite(url: &str, ctl: &str) {
    let base = ["-d", url, "-s", ctl];
    fn all(base: &[&str], rest: &[&str]) -> Vec<String> {
        base.iter().chain(rest).map(|s| s.to_string()).collect()
    }
    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let run = |rest: &[&str]| -> String { ok(&strs(&all(&base, rest))) };
    let status = |rest: &[&str], code: i32| -> String { fails(&strs(&all(&base, rest)), code) };
    let mut db = open(url);

    // A user needs a local domain first.
    let e = status(&["user", "add", "alice@example.net", "-p", "pw"], 4);
    assert!(
        e.contains("not a local domain") && e.contains("serctl domain add example.net"),
        "{e}"
    );
    assert!(provision::ser_user_list(&mut db).expect("users").is_empty());

    // The domain with its did, then its digest realm: SER's flags, the
    // router told (here: not running).
    let o = serctl(&strs(&all(
        &base,
        &["domain", "add", "Example.NET", "--did", "d9"],
    )));
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(o.stdout, "domain example.net added (did d9)\n");
    assert!(o.stderr.contains("no router answers"), "{o:?}");
    run(&["domain", "add", "alias.example.net", "--did", "d9"]);
    let doms = provision::ser_domains(&mut db).expect("domains");
    let flags: Vec<(&str, &str, i64)> = doms
        .iter()
        .filter(|d| d.did == "d9")
        .map(|d| (d.domain.as_str(), d.did.as_str(), d.flags))
        .collect();
    // The first name of the did is canonical.
    assert_eq!(
        flags,
        [("alias.example.net", "d9", 1), ("example.net", "d9", 5)]
    );
    let o = serctl(&strs(&all(
        &base,
        &["attr", "add", "did=d9", "digest_realm=realm.d9"],
    )));
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(o.stdout, "did=d9: digest_realm=realm.d9 added\n");
    assert!(o.stderr.contains("no router answers"), "{o:?}");

    // alice with a given uid: the URI and credentials the router reads.
    let out = run(&[
        "user",
        "add",
        "alice@example.net",
        "-p",
        "wonderland",
        "--uid",
        "u-alice",
    ]);
    assert_eq!(
        out,
        "new user alice@example.net added (uid u-alice, did d9, realm realm.d9)\n"
    );
    let c = tables::ser_credentials(&mut db, "alice", "realm.d9")
        .expect("query")
        .expect("alice's credentials");
    assert_eq!(c.uid, "u-alice");
    assert_eq!(c.password, "wonderland");
    assert_eq!(c.ha1, md5_ha1("alice", "realm.d9", "wonderland"));
    assert_eq!(
        c.ha1b,
        md5_ha1("alice@example.net", "realm.d9", "wonderland")
    );
    assert_eq!(c.flags, ser_flags::LOAD_SER | ser_flags::FOR_SERWEB);
    for need in [ser_flags::IS_TO, ser_flags::IS_FROM] {
        let u = tables::uri_uid(&mut db, "alice", "d9", "sip", need).expect("query");
        assert_eq!(u, Some(("u-alice".to_string(), 29)));
    }
    // bob without a uid gets a new UUID; the second name of the did
    // finds the same did.
    let out = run(&["user", "add", "sip:bob@alias.example.net", "-p", "builder"]);
    let uid = out
        .split("(uid ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_default()
        .to_string();
    assert_eq!(uid.len(), 36, "{out}");
    let u = tables::uri_uid(&mut db, "bob", "d9", "sip", ser_flags::IS_TO).expect("query");
    assert_eq!(u.map(|u| u.0), Some(uid.clone()));
    // A domain without digest_realm: the domain is the realm.
    run(&["domain", "add", "plain.org"]);
    run(&[
        "user",
        "add",
        "carol@plain.org",
        "carols-pw",
        "--uid",
        "u-carol",
    ]);
    let c = tables::ser_credentials(&mut db, "carol", "plain.org")
        .expect("query")
        .expect("carol");
    assert_eq!(c.ha1, md5_ha1("carol", "plain.org", "carols-pw"));

    // Twice: refused, nothing changed.
    let e = status(&["user", "add", "alice@example.net", "-p", "x"], 4);
    assert!(
        e.contains("user alice@example.net exists already (uid u-alice)"),
        "{e}"
    );
    assert_eq!(provision::ser_user_list(&mut db).expect("users").len(), 3);

    // show: one line per user, by did and name, the did's canonical name
    // as the domain; passwords only when asked.
    assert_eq!(
        rows(&run(&["user", "show"])),
        [
            vec!["alice@example.net", "u-alice", "d9", "realm.d9", "29/33"],
            vec!["bob@example.net", &uid, "d9", "realm.d9", "29/33"],
            vec![
                "carol@plain.org",
                "u-carol",
                "plain.org",
                "plain.org",
                "29/33"
            ],
        ]
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .collect::<Vec<_>>()
    );
    let one = run(&["user", "show", "--passwords", "alice@example.net"]);
    assert!(one.starts_with("USER "), "{one}");
    assert_eq!(
        rows(&one),
        [[
            "alice@example.net".to_string(),
            "u-alice".into(),
            "d9".into(),
            "realm.d9".into(),
            "29/33".into(),
            "wonderland".into(),
            md5_ha1("alice", "realm.d9", "wonderland"),
            md5_ha1("alice@example.net", "realm.d9", "wonderland"),
        ]]
    );
    assert!(status(&["user", "show", "nobody@example.net"], 4).contains("no user"));

    // passwd: the password and both hashes in the row's realm.
    assert_eq!(
        run(&["user", "passwd", "alice@example.net", "-p", "looking-glass"]),
        "password of alice@example.net changed\n"
    );
    let c = tables::ser_credentials(&mut db, "alice", "realm.d9")
        .expect("query")
        .expect("alice");
    assert_eq!(c.password, "looking-glass");
    assert_eq!(c.ha1, md5_ha1("alice", "realm.d9", "looking-glass"));
    assert!(
        status(&["user", "passwd", "nobody@example.net", "-p", "x"], 4).contains("no credentials")
    );

    // Attributes: strings are type 2, --int type 0; the router's readers
    // see them.
    run(&["attr", "add", "uid=u-alice", "asserted_id=+4930999"]);
    run(&["attr", "add", "--int", "uid=u-alice", "max_calls=+3"]);
    let a = tables::user_attrs(&mut db, "u-alice").expect("user attrs");
    let got: Vec<(&str, i64, Option<&str>, i64)> = a
        .iter()
        .map(|a| (a.name.as_str(), a.type_, a.value.as_deref(), a.flags))
        .collect();
    assert_eq!(
        got,
        [
            ("asserted_id", 2, Some("+4930999"), 1),
            ("max_calls", 0, Some("3"), 1)
        ]
    );
    let e = status(&["attr", "add", "uid=u-alice", "asserted_id=+4930999"], 4);
    assert!(
        e.contains("asserted_id=+4930999 of uid=u-alice exists already"),
        "{e}"
    );
    run(&["attr", "add", "global", "gw_ip=192.0.2.1"]);
    run(&["attr", "add", "global", "gw_ip=192.0.2.2"]);
    assert_eq!(tables::global_attrs(&mut db).expect("global").len(), 2);
    run(&["attr", "set", "global", "gw_ip=192.0.2.9"]);
    let g = tables::global_attrs(&mut db).expect("global");
    assert_eq!(
        g.iter().map(|a| a.value.as_deref()).collect::<Vec<_>>(),
        [Some("192.0.2.9")]
    );
    let d = tables::domain_attrs(&mut db).expect("domain attrs");
    assert!(
        d.iter().any(|(did, a)| did == "d9"
            && a.name == "digest_realm"
            && a.value.as_deref() == Some("realm.d9")),
        "{d:?}"
    );
    assert_eq!(
        rows(&run(&["attr", "show", "uid=u-alice"])),
        [
            ["uid=u-alice", "asserted_id", "str", "+4930999", "1"],
            ["uid=u-alice", "max_calls", "int", "3", "1"],
        ]
    );
    let everything = run(&["attr", "show"]);
    assert!(everything.contains("global"), "{everything}");
    assert!(everything.contains("did=d9"), "{everything}");
    assert_eq!(rows(&everything).len(), 4, "{everything}");
    assert_eq!(
        run(&["attr", "rm", "uid=u-alice", "max_calls"]),
        "uid=u-alice: max_calls removed\n"
    );
    assert!(
        status(&["attr", "rm", "uid=u-alice", "max_calls"], 4).contains("no attribute max_calls")
    );

    // rm: the URI, the credentials and, the uid left without URIs, its
    // attributes.
    assert_eq!(
        run(&["user", "rm", "alice@example.net"]),
        "user alice@example.net removed (uid u-alice, 1 attributes)\n"
    );
    assert_eq!(
        tables::ser_credentials(&mut db, "alice", "realm.d9").expect("query"),
        None
    );
    assert_eq!(
        tables::uri_uid(&mut db, "alice", "d9", "sip", ser_flags::IS_TO).expect("query"),
        None
    );
    assert!(
        tables::user_attrs(&mut db, "u-alice")
            .expect("attrs")
            .is_empty()
    );
    assert!(status(&["user", "rm", "alice@example.net"], 4).contains("no user alice@example.net"));
    // Other owners' attributes are untouched.
    assert_eq!(
        provision::attr_list(&mut db, Some(&AttrOwner::Global))
            .expect("global")
            .len(),
        1
    );
}

#[test]
fn sqlite_users_domains_trusted_and_aliases() {
    let dir = TempDir::new("serctl-sqlite");
    let url = format!("sqlite://{}/db/ser.db", dir.0.display());
    let ctl = format!("unix:{}/no-router", dir.0.display());

    // Reading a file that does not exist is a database error, and does not
    // create it.
    let e = fails(&["-d", &url, "show"], 2);
    assert!(
        e.contains(&url) && e.contains("no such database file"),
        "{e}"
    );
    assert!(!dir.0.join("db").join("ser.db").exists());

    tables_suite(&url, &ctl);
    ser2_suite(&url, &ctl);

    // Where the URL and the domain come from: -d, then SER_DB_URL, then
    // DBURL; -r, then SIP_DOMAIN.
    let other = format!("sqlite://{}/other.db", dir.0.display());
    let third = format!("sqlite://{}/third.db", dir.0.display());
    ok_env(
        &["add", "dave", "pw"],
        &[
            ("SER_DB_URL", &other),
            ("DBURL", &third),
            ("SIP_DOMAIN", "env.org"),
        ],
    );
    ok_env(&["add", "erin@env.org", "pw"], &[("DBURL", &third)]);
    ok_env(
        &["-d", &url, "-r", "flag.org", "add", "frank", "pw"],
        &[("SER_DB_URL", &other), ("SIP_DOMAIN", "env.org")],
    );
    let names = |u: &str| -> Vec<(String, String)> {
        let mut db = open(u);
        tables::subscriber_list(&mut db)
            .expect("list")
            .into_iter()
            .map(|s| (s.username, s.domain))
            .collect()
    };
    assert_eq!(
        names(&other),
        vec![("dave".to_string(), "env.org".to_string())]
    );
    assert_eq!(
        names(&third),
        vec![("erin".to_string(), "env.org".to_string())]
    );
    assert!(names(&url).contains(&("frank".to_string(), "flag.org".to_string())));
    let mut db = open(&other);
    let dave = tables::credentials(&mut db, "dave", Some("env.org"))
        .expect("query")
        .expect("dave");
    assert_eq!(dave.ha1, md5_ha1("dave", "env.org", "pw"));

    // Usage errors: status 1 and a message, nothing written.
    for (args, want) in [
        (&[][..], "no command"),
        (&["frobnicate"], "unknown command"),
        (&["add", "zed@x.org"], "missing arguments"),
        (&["add", "zed", "pw"], "no domain"),
        (&["ul", "add", "alice"], "missing arguments"),
        (
            &["trusted", "add", "not-an-ip", "udp", "x"],
            "not an IP address",
        ),
        (&["-q", "show"], "unknown option"),
    ] {
        let args: Vec<&str> = ["-d", url.as_str()].iter().chain(args).copied().collect();
        let e = fails(&args, 1);
        assert!(e.contains(want), "{args:?}: {e}");
    }
    // A URL that does not parse is a usage error; one that cannot be
    // reached a database error; neither shows the password.
    let e = fails(
        &["-d", "mysql://ser:topsecret@127.0.0.1/ser?ssl=1", "show"],
        1,
    );
    assert!(e.contains("***") && !e.contains("topsecret"), "{e}");
    let o = serctl_env(
        &["show"],
        &[("SER_DB_URL", "postgres://ser:topsecret@127.0.0.1:1/ser")],
    );
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(
        o.stderr.contains("postgres://ser:***@127.0.0.1:1/ser") && !o.stderr.contains("topsecret"),
        "{o:?}"
    );
    let help = ok(&["-h"]);
    assert!(help.contains("ul add AOR CONTACT"), "{help}");
}

#[test]
fn postgres_users_domains_trusted_and_aliases() {
    let server = DbServer::postgres();
    let dir = TempDir::new("serctl-pg");
    let ctl = format!("unix:{}/no-router", dir.0.display());
    tables_suite(&server.url(), &ctl);
    ser2_suite(&server.url(), &ctl);
}

#[test]
fn mariadb_users_domains_trusted_and_aliases() {
    let server = DbServer::mariadb();
    let dir = TempDir::new("serctl-maria");
    let ctl = format!("unix:{}/no-router", dir.0.display());
    tables_suite(&server.url(), &ctl);
    ser2_suite(&server.url(), &ctl);
}

const CONFIG: &str = r#"
listen=udp:127.0.0.1:{PORT}
loadmodule "sl"
loadmodule "tm"
loadmodule "usrloc"
loadmodule "registrar"
loadmodule "ctl"
modparam("ctl", "binrpc", "unix:{DIR}/ctl")
route {
    if (method == "REGISTER") { save("location"); break; }
    lookup("aliases");
    if (!lookup("location")) { sl_send_reply("404", "Not Found"); break; }
    forward();
}
"#;

/// An INVITE for `user` at the router, from `caller`.
fn invite(r: &Router, caller: &Peer, user: &str, n: u32) -> String {
    format!(
        "INVITE sip:{user}@127.0.0.1:{port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{cp};branch=z9hG4bK-serctl-{user}-{n}\r\n\
         From: <sip:caller@127.0.0.1>;tag=1\r\nTo: <sip:{user}@127.0.0.1>\r\n\
         Call-ID: serctl-{user}-{n}@test\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n",
        port = r.port,
        cp = caller.port(),
    )
}

#[test]
fn ul_commands_change_what_the_running_router_routes() {
    let r = Router::start(CONFIG, &Start::default());
    let ctl = format!("unix:{}", r.dir().join("ctl").display());
    let dir = TempDir::new("serctl-ul");
    let url = format!("sqlite://{}/ser.db", dir.0.display());
    let callee = Peer::new();
    let caller = Peer::new();
    let contact = format!("sip:alice@127.0.0.1:{}", callee.port());

    // Added: the next INVITE reaches the contact.
    let said = ok(&["-s", &ctl, "ul", "add", "alice", &contact]);
    assert!(said.contains(&contact), "{said}");
    caller.send(r.addr(), invite(&r, &caller, "alice", 1).as_bytes());
    let (got, _) = callee
        .recv(Duration::from_secs(5))
        .expect("the INVITE reaches the contact added by serctl ul add");
    assert!(got.starts_with("INVITE sip:alice@127.0.0.1:"), "{got}");

    // Listed, alone and in the whole table (a second contact, expiring,
    // with its q).
    let shown = ok(&["-s", &ctl, "ul", "show", "alice"]);
    assert_eq!(
        shown.lines().collect::<Vec<_>>().first().copied(),
        Some("alice"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("\t<{contact}>;q=1.00;expires=permanent")),
        "{shown}"
    );
    ok(&[
        "-s",
        &ctl,
        "ul",
        "add",
        "bob",
        "sip:bob@127.0.0.1:9",
        "600",
        "0.5",
    ]);
    let all = ok(&["-s", &ctl, "ul", "show"]);
    assert!(all.contains("alice\n") && all.contains("bob\n"), "{all}");
    let bob = all
        .lines()
        .find(|l| l.contains("sip:bob@127.0.0.1:9"))
        .expect("bob's contact");
    assert!(
        bob.starts_with("\t<sip:bob@127.0.0.1:9>;q=0.50;expires="),
        "{bob}"
    );
    let left: u32 = bob
        .split("expires=")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|s| s.parse().ok())
        .expect("seconds left");
    assert!((590..=600).contains(&left), "{bob}");
    let brief = ok(&["-s", &ctl, "ul", "show", "--brief"]);
    let mut aors: Vec<&str> = brief.lines().collect();
    aors.sort_unstable();
    assert_eq!(aors, ["alice", "bob"], "{brief}");
    // kamctl's spelling: a Path as the fourth argument.
    ok(&[
        "-s",
        &ctl,
        "ul",
        "add",
        "carol",
        "sip:carol@127.0.0.1:9",
        "60",
        "<sip:127.0.0.1:7;lr>",
    ]);
    let carol = ok(&["-s", &ctl, "ul", "show", "carol"]);
    assert!(carol.contains(";path=<sip:127.0.0.1:7;lr>"), "{carol}");
    ok(&["-s", &ctl, "ul", "rm", "carol"]);

    // One contact removed, then the whole AoR: the next INVITE gets 404.
    ok(&["-s", &ctl, "ul", "rm", "bob", "sip:bob@127.0.0.1:9"]);
    let e = fails(&["-s", &ctl, "ul", "rm", "bob", "sip:bob@127.0.0.1:9"], 4);
    assert!(e.contains("bob has no contacts"), "{e}");
    ok(&["-s", &ctl, "ul", "rm", "alice"]);
    let e = fails(&["-s", &ctl, "ul", "show", "alice"], 4);
    assert!(e.contains("alice has no contacts in table location"), "{e}");
    fails(&["-s", &ctl, "ul", "rm", "alice"], 4);
    caller.send(r.addr(), invite(&r, &caller, "alice", 2).as_bytes());
    let (reply, _) = caller.recv(Duration::from_secs(5)).expect("a reply");
    assert_eq!(first_line(&reply), "SIP/2.0 404 Not Found");

    // An alias reaches the running router at once: the INVITE to the
    // alias goes to alice's contact.
    ok(&["-s", &ctl, "ul", "add", "alice", &contact]);
    let o = serctl(&[
        "-d",
        &url,
        "-s",
        &ctl,
        "alias",
        "add",
        "1234",
        "sip:alice@127.0.0.1",
    ]);
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(o.stderr.is_empty(), "{o:?}");
    caller.send(r.addr(), invite(&r, &caller, "1234", 3).as_bytes());
    let (got, _) = callee
        .recv(Duration::from_secs(5))
        .expect("the INVITE to the alias reaches alice");
    assert!(got.starts_with("INVITE sip:alice@127.0.0.1"), "{got}");
    ok(&["-d", &url, "-s", &ctl, "alias", "rm", "1234"]);
    caller.send(r.addr(), invite(&r, &caller, "1234", 4).as_bytes());
    let (reply, _) = caller.recv(Duration::from_secs(5)).expect("a reply");
    assert_eq!(first_line(&reply), "SIP/2.0 404 Not Found");

    // The router has no domain, trusted or global attribute cache: a
    // warning, not an error.
    for args in [
        &["domain", "add", "example.com"][..],
        &["trusted", "add", "10.0.0.1", "udp", "NULL"],
        &["attr", "add", "global", "gw_ip=10.0.0.1"],
    ] {
        let all: Vec<&str> = ["-d", url.as_str(), "-s", ctl.as_str()]
            .iter()
            .chain(args)
            .copied()
            .collect();
        let o = serctl(&all);
        assert_eq!(o.code, Some(0), "{o:?}");
        assert!(
            o.stderr
                .contains("the running router does not cache this table; it reads it at start"),
            "{o:?}"
        );
    }

    // Without a router, ul commands fail with status 3 and say why.
    let none = format!("unix:{}", dir.0.join("none").display());
    let e = fails(&["-s", &none, "ul", "show"], 3);
    assert!(
        e.contains("cannot connect") && e.contains("is ser running"),
        "{e}"
    );
    drop(r);
    let e = fails(&["-s", &ctl, "ul", "add", "alice", &contact], 3);
    assert!(e.contains("is ser running"), "{e}");
}
