//! The `domain` and `permissions` modules end to end: the real `ser`
//! reading its `domain` and `trusted` tables from a real database (a
//! SQLite file; PostgreSQL from `ser_tests::dbserver`), a script that
//! answers with a different code for each outcome of `allow_trusted()`,
//! `is_uri_host_local()` and `is_from_local()`, requests over UDP, and the
//! tables changed in the database and reloaded with the real `kamcmd`
//! (`domain.reload`, `permissions.trustedReload`), plus the dumps and the
//! faults in Kamailio's shapes.

use std::time::Duration;

use ser_core::store::tables::{self, TrustedRow};
use ser_core::store::{Db, DbUrl};
use ser_tests::ctl::kamcmd;
use ser_tests::dbserver::DbServer;
use ser_tests::router::{Peer, Router, Start, TempDir, first_line};

/// The script: 201 trusted, 202 local to local, 203 inbound (to a local
/// domain), 204 outbound (from a local domain), 403 relaying.
fn config(db_url: &str) -> String {
    format!(
        "#!KAMAILIO\n\
         listen=udp:127.0.0.1:{{PORT}}\n\
         loadmodule \"sl.so\"\nloadmodule \"ctl.so\"\n\
         loadmodule \"domain.so\"\nloadmodule \"permissions.so\"\n\
         modparam(\"ctl\", \"binrpc\", \"unix:{{DIR}}/ctl\")\n\
         modparam(\"domain|permissions\", \"db_url\", \"{db_url}\")\n\
         modparam(\"permissions\", \"db_mode\", 1)\n\
         route {{\n\
             if (allow_trusted()) {{ sl_send_reply(\"201\", \"Trusted\"); exit; }}\n\
             if (is_uri_host_local()) {{\n\
                 if (is_from_local()) {{ sl_send_reply(\"202\", \"Local\"); exit; }}\n\
                 sl_send_reply(\"203\", \"Inbound\"); exit;\n\
             }}\n\
             if (is_from_local()) {{ sl_send_reply(\"204\", \"Outbound\"); exit; }}\n\
             sl_send_reply(\"403\", \"Relaying Forbidden\");\n\
         }}\n"
    )
}

/// The schema and the first rows: one local domain, one trusted gateway
/// (on 127.0.0.1, where the test's peers are), and a row with a bad regex.
fn seed(url: &DbUrl) {
    let mut db = Db::open(url).unwrap_or_else(|e| panic!("open {url}: {e}"));
    db.migrate().expect("migrate");
    assert!(tables::domain_add(&mut db, "example.com", None, 1).expect("domain_add"));
    tables::trusted_add(
        &mut db,
        &trusted("127.0.0.1", "udp", Some("^sip:.*@gw\\.example$"), "gw"),
    )
    .expect("trusted_add");
    tables::trusted_add(
        &mut db,
        &trusted("127.0.0.1", "any", Some("(broken"), "broken"),
    )
    .expect("trusted_add");
}

fn trusted(ip: &str, proto: &str, from: Option<&str>, tag: &str) -> TrustedRow {
    TrustedRow {
        id: 0,
        src_ip: ip.into(),
        proto: proto.into(),
        from_pattern: from.map(Into::into),
        ruri_pattern: None,
        tag: Some(tag.into()),
        priority: 0,
    }
}

/// Sends OPTIONS `sip:x@<to>` with From `sip:<from>` and returns the
/// reply's status code.
fn status(r: &Router, peer: &Peer, to: &str, from: &str) -> u16 {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let msg = format!(
        "OPTIONS sip:x@{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bK-pol{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from}>;tag=t{n}\r\n\
         To: <sip:x@{to}>\r\n\
         Call-ID: policy-{n}@test\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        peer.port()
    );
    peer.send(r.addr(), msg.as_bytes());
    let (reply, _) = peer
        .recv(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no reply to {to} from {from}:\n{}", r.stderr()));
    first_line(&reply)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad reply: {reply}"))
}

/// `kamcmd` on the router's control socket: its standard output.
fn rpc(r: &Router, args: &[&str]) -> String {
    let addr = format!("unix:{}/ctl", r.dir().display());
    let o = kamcmd(&addr, args);
    assert_eq!(o.code, Some(0), "kamcmd {args:?}: {}{}", o.stdout, o.stderr);
    o.stdout
}

/// The requests that show which tables the router has now.
fn check_first_tables(r: &Router, peer: &Peer) {
    assert_eq!(status(r, peer, "example.com", "alice@example.com"), 202);
    assert_eq!(status(r, peer, "EXAMPLE.COM.", "bob@remote.org"), 203);
    assert_eq!(status(r, peer, "remote.org", "alice@Example.com"), 204);
    assert_eq!(status(r, peer, "remote.org", "bob@remote.org"), 403);
    assert_eq!(status(r, peer, "remote.org", "+4930123@gw.example"), 201);
    // myself is not a local domain unless the table says so.
    assert_eq!(status(r, peer, "127.0.0.1", "bob@remote.org"), 403);
}

#[test]
fn sqlite_tables_functions_and_reloads() {
    let dir = TempDir::new("ser-policy");
    let url_text = format!("sqlite://{}/ser.db", dir.0.display());
    let url = DbUrl::parse(&url_text).unwrap();
    seed(&url);
    let r = Router::start(&config(&url_text), &Start::default());
    let peer = Peer::new();
    check_first_tables(&r, &peer);
    // The row with a bad regex was skipped with a warning at start.
    let err = r.stderr();
    assert!(
        err.contains("bad from_pattern `(broken`") && err.contains("skipped"),
        "{err}"
    );
    assert!(
        err.contains("1 trusted entries, 0 address entries loaded"),
        "{err}"
    );

    // The dumps, in Kamailio's shapes as kamcmd prints them.
    assert_eq!(
        rpc(&r, &["domain.dump"]),
        "{\n\tdomains: {\n\t\t{\n\t\t\tdomain: example.com\n\t\t\tdid: <null>\n\t\t}\n\t}\n\
         \tattributes: {\n\t}\n}\n"
    );
    assert_eq!(
        rpc(&r, &["permissions.trustedDump"]),
        "{\n\ttable: 0\n\titem: {\n\t\tip: 127.0.0.1\n\t\tproto: 1\n\
         \t\tpattern: ^sip:.*@gw\\.example$\n\t\truri_pattern: <null>\n\t\ttag: gw\n\
         \t\tpriority: 0\n\t}\n}\n"
    );

    // New rows in the database are not seen before a reload...
    let mut db = Db::open(&url).unwrap();
    assert!(tables::domain_add(&mut db, "new.example", Some("d7"), 2).unwrap());
    let mut carol = trusted("127.0.0.1", "any", Some("^sip:carol@"), "carol");
    carol.priority = 5;
    tables::trusted_add(&mut db, &carol).unwrap();
    assert_eq!(status(&r, &peer, "new.example", "bob@remote.org"), 403);
    assert_eq!(status(&r, &peer, "remote.org", "carol@remote.org"), 403);

    // ... and are by the next request after one.
    assert_eq!(rpc(&r, &["domain.reload"]), "");
    assert_eq!(status(&r, &peer, "new.example", "bob@remote.org"), 203);
    assert_eq!(status(&r, &peer, "remote.org", "alice@NEW.example"), 204);
    assert_eq!(rpc(&r, &["permissions.trustedReload"]), "Reload OK\n");
    assert_eq!(status(&r, &peer, "remote.org", "carol@remote.org"), 201);
    check_first_tables(&r, &peer);
    let dump = rpc(&r, &["domain.dump"]);
    assert!(
        dump.contains("\t\t\tdomain: new.example\n\t\t\tdid: d7\n"),
        "{dump}"
    );
    // The trusted dump lists the highest priority first.
    let dump = rpc(&r, &["permissions.trustedDump"]);
    let tags: Vec<&str> = dump
        .lines()
        .filter_map(|l| l.trim().strip_prefix("tag: "))
        .collect();
    assert_eq!(tags, ["carol", "gw"], "{dump}");
    assert!(dump.contains("\ttable: 1\n"), "{dump}");
    assert!(dump.contains("\t\tproto: 0\n"), "any is 0: {dump}");

    // A second reload within reload_delta (5 s) is refused, as Kamailio.
    assert_eq!(
        rpc(&r, &["permissions.trustedReload"]),
        "error: 500 - ongoing reload\n"
    );

    // A reload that fails keeps the table the shards have.
    db.batch("DROP TABLE domain").unwrap();
    assert_eq!(
        rpc(&r, &["domain.reload"]),
        "error: 400 - Reload of domain tables failed\n"
    );
    assert_eq!(status(&r, &peer, "new.example", "bob@remote.org"), 203);
    assert!(
        r.wait_for(
            "domain.reload: cannot read the domain table",
            Duration::from_secs(5)
        )
        .is_some(),
        "{}",
        r.stderr()
    );

    // An empty table: nothing is local, and the dump says so.
    db.batch(
        "CREATE TABLE domain (id INTEGER PRIMARY KEY, domain VARCHAR(64), did VARCHAR(64), \
         last_modified BIGINT)",
    )
    .unwrap();
    assert_eq!(rpc(&r, &["domain.reload"]), "");
    assert_eq!(status(&r, &peer, "example.com", "alice@example.com"), 403);
    assert_eq!(
        rpc(&r, &["domain.dump"]),
        "error: 404 - Server Domain Cache Empty\n"
    );
    let (code, _) = r.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn postgres_reload() {
    let server = DbServer::postgres();
    let url = DbUrl::parse(&server.url()).unwrap();
    seed(&url);
    let r = Router::start(&config(&server.url()), &Start::default());
    let peer = Peer::new();
    check_first_tables(&r, &peer);
    let mut db = Db::open(&url).unwrap();
    assert!(tables::domain_add(&mut db, "pg.example", None, 2).unwrap());
    tables::trusted_add(&mut db, &trusted("127.0.0.1", "udp", None, "all")).unwrap();
    assert_eq!(status(&r, &peer, "pg.example", "bob@remote.org"), 403);
    assert_eq!(rpc(&r, &["domain.reload"]), "");
    assert_eq!(status(&r, &peer, "pg.example", "bob@remote.org"), 203);
    assert_eq!(rpc(&r, &["permissions.trustedReload"]), "Reload OK\n");
    // The new row trusts everything from 127.0.0.1 over UDP.
    assert_eq!(status(&r, &peer, "pg.example", "bob@remote.org"), 201);
    assert_eq!(
        rpc(&r, &["permissions.trustedReload"]),
        "error: 500 - ongoing reload\n"
    );
    let (code, _) = r.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn a_database_that_cannot_be_read_stops_the_start() {
    // A port where nothing listens: the first read fails, ser exits.
    let port = ser_tests::ctl::free_tcp_port();
    let cfg = write_config(&config(&format!("postgres://ser:x@127.0.0.1:{port}/ser")));
    let out = ser_tests::ctl::run_bounded(
        &ser_tests::ser_binary(),
        &["-f", &cfg, "-E"],
        Duration::from_secs(30),
    );
    assert_ne!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("domain: cannot read the domain table"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains(":x@"),
        "password shown: {}",
        out.stderr
    );
}

/// Writes a config (with a free port and a scratch directory) and returns
/// its path; the directory stays for the rest of the test run.
fn write_config(text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("ser-policy-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = ser_tests::router::free_udp_port();
    let path = dir.join("bad-db.cfg");
    std::fs::write(
        &path,
        text.replace("{PORT}", &port.to_string())
            .replace("{DIR}", &dir.display().to_string()),
    )
    .unwrap();
    path.display().to_string()
}
