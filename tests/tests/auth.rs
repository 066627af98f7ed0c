//! Digest authentication end to end: the seed's `mysql-auth.cfg`,
//! unmodified, run on the embedded store (`ser --db=sqlite://...`) with
//! sipp phones: REGISTER challenged with 401 and accepted with the right
//! password, a wrong password refused, another user's To refused by
//! `check_to()`, an INVITE challenged with 407. Then, message by message
//! over raw UDP: a nonce replayed and an expired nonce are both answered
//! with a new challenge saying `stale=true`.

use std::path::PathBuf;
use std::time::Duration;

use ser_core::auth::digest::{self, Hash, Qop};
use ser_core::store::{Db, DbUrl, tables};
use ser_tests::dbserver::DbServer;
use ser_tests::router::{Peer, Router, Start, first_line, free_udp_port, header};
use ser_tests::sipp::Sipp;
use ser_tests::workspace_file;

/// A directory for the database, removed on drop.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new SQLite store with alice (secret) and bob (other) in 127.0.0.1.
fn store(tag: &str) -> (Dir, String) {
    let dir = std::env::temp_dir().join(format!("ser-auth-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("ser.db").display());
    seed(&url);
    (Dir(dir), url)
}

/// The schema and the two subscribers, in the database at `url`.
fn seed(url: &str) {
    let mut db = Db::open(&DbUrl::parse(url).expect("url")).expect("open the store");
    db.migrate().expect("create the schema");
    for (user, pw) in [("alice", "secret"), ("bob", "other")] {
        let s = tables::Subscriber {
            username: user.into(),
            domain: "127.0.0.1".into(),
            password: pw.into(),
            email_address: format!("{user}@example.com"),
            ha1: digest::ha1(Hash::Md5, user.as_bytes(), b"127.0.0.1", pw.as_bytes())
                .as_str()
                .to_string(),
            ha1b: String::new(),
        };
        assert!(tables::subscriber_add(&mut db, &s).expect("add a subscriber"));
    }
}

fn mysql_auth(extra: &str) -> String {
    let path = workspace_file("cfg/tests/seeds/mysql-auth.cfg");
    let cfg = std::fs::read_to_string(&path).expect("read mysql-auth.cfg");
    format!("{cfg}\n{extra}\n")
}

fn start(url: &str, extra: &str) -> Router {
    let db = format!("--db={url}");
    let args = ["-l", "udp:127.0.0.1:{PORT}", "-n", "2", db.as_str()];
    Router::start(
        &mysql_auth(extra),
        &Start {
            args: &args,
            ..Start::default()
        },
    )
}

fn phone(scenario: &str, router: &Router, user: &str, to: &str, pass: &str) -> Sipp {
    Sipp::new(
        user,
        &format!("tests/data/sipp/auth/{scenario}"),
        free_udp_port(),
    )
    .to(router.addr())
    .key("user", user)
    .key("to", to)
    .key("callee", to)
    .args(["-au", user, "-ap", pass, "-m", "1"])
    .timeout(Duration::from_secs(20))
}

fn ok(out: ser_tests::sipp::SippOutcome, what: &str) {
    assert_eq!(
        out.code,
        Some(0),
        "{what}:\n{}\n{}\n{}",
        out.screen,
        out.errors,
        out.messages
    );
}

#[test]
fn mysql_auth_cfg_challenges_and_accepts_on_the_embedded_store() {
    let (_dir, url) = store("sipp");
    sipp_flows(&url, "sqlite://");
}

#[test]
fn mysql_auth_cfg_on_postgresql() {
    let db = DbServer::postgres();
    seed(&db.url());
    sipp_flows(&db.url(), "postgres://");
}

#[test]
fn mysql_auth_cfg_on_mariadb() {
    let db = DbServer::mariadb();
    seed(&db.url());
    sipp_flows(&db.url(), "mysql://");
}

/// The sipp phones against mysql-auth.cfg on the database at `url`.
fn sipp_flows(url: &str, scheme: &str) {
    let r = start(url, "");
    assert!(
        r.stderr().contains(&format!("auth_db on {scheme}")),
        "{}",
        r.stderr()
    );
    ok(
        phone("register.xml", &r, "alice", "alice", "secret").run(Duration::from_secs(30)),
        "alice registers with the right password",
    );
    ok(
        phone("register_refused.xml", &r, "bob", "bob", "wrong").run(Duration::from_secs(30)),
        "a wrong password is refused",
    );
    ok(
        phone("register_refused.xml", &r, "alice", "bob", "secret").run(Duration::from_secs(30)),
        "alice may not register bob's address (check_to)",
    );
    ok(
        phone("invite.xml", &r, "alice", "carol", "secret").run(Duration::from_secs(30)),
        "an INVITE is challenged with 407, then routed (404: carol is not registered)",
    );
    // The binding alice made is in the location table.
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("location: 1 bindings"), "{err}");
}

/// A REGISTER for alice from `peer`, with an `Authorization` header when
/// `auth` is given (nonce, response).
fn register(r: &Router, peer: &Peer, cseq: u32, auth: Option<(&str, &str)>) -> String {
    let authz = auth.map_or(String::new(), |(nonce, response)| {
        format!(
            "Authorization: Digest username=\"alice\", realm=\"127.0.0.1\", nonce=\"{nonce}\", \
             uri=\"sip:127.0.0.1:{}\", response=\"{response}\", algorithm=MD5\r\n",
            r.port
        )
    });
    let msg = format!(
        "REGISTER sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-raw{cseq}\r\n\
         From: <sip:alice@127.0.0.1>;tag=raw\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: raw-auth@test\r\n\
         CSeq: {cseq} REGISTER\r\nContact: <sip:alice@127.0.0.1:{p}>\r\nExpires: 600\r\n\
         Max-Forwards: 70\r\n{authz}Content-Length: 0\r\n\r\n",
        port = r.port,
        p = peer.port()
    );
    peer.send(r.addr(), msg.as_bytes());
    // The router's 100 Trying first, then the final reply.
    loop {
        let (reply, _) = peer
            .recv(Duration::from_secs(5))
            .expect("a reply to the REGISTER");
        if !first_line(&reply).starts_with("SIP/2.0 100") {
            return reply;
        }
    }
}

fn nonce_of(reply: &str) -> String {
    let h = header(reply, "WWW-Authenticate").expect("a challenge");
    let start = h.find("nonce=\"").expect("a nonce") + 7;
    let len = h[start..].find('"').expect("closing quote");
    h[start..start + len].to_string()
}

fn response(r: &Router, nonce: &str, pw: &str) -> String {
    let ha1 = digest::ha1(Hash::Md5, b"alice", b"127.0.0.1", pw.as_bytes());
    let uri = format!("sip:127.0.0.1:{}", r.port);
    let ha2 = digest::ha2(Hash::Md5, b"REGISTER", uri.as_bytes());
    digest::response(Hash::Md5, &ha1, nonce.as_bytes(), Qop::None, &ha2)
        .as_str()
        .to_string()
}

#[test]
fn a_replayed_or_expired_nonce_is_answered_stale() {
    let (_dir, url) = store("raw");
    // nonce_expire shortened for the expiry case (the rest is the seed).
    let r = start(&url, "modparam(\"auth\", \"nonce_expire\", 2)");
    let peer = Peer::new();
    let first = register(&r, &peer, 1, None);
    assert_eq!(first_line(&first), "SIP/2.0 401 Unauthorized");
    let nonce = nonce_of(&first);
    let good = response(&r, &nonce, "secret");
    let accepted = register(&r, &peer, 2, Some((&nonce, &good)));
    assert_eq!(first_line(&accepted), "SIP/2.0 200 OK", "{accepted}");
    // The same credentials again: the nonce served once (no qop).
    let replay = register(&r, &peer, 3, Some((&nonce, &good)));
    assert_eq!(first_line(&replay), "SIP/2.0 401 Unauthorized", "{replay}");
    let h = header(&replay, "WWW-Authenticate").expect("a new challenge");
    assert!(h.contains("stale=true"), "{h}");
    assert_ne!(nonce_of(&replay), nonce);
    // A wrong password is a plain challenge, not a stale one.
    let fresh = nonce_of(&replay);
    let bad = register(&r, &peer, 4, Some((&fresh, &response(&r, &fresh, "nope"))));
    assert_eq!(first_line(&bad), "SIP/2.0 401 Unauthorized");
    assert!(
        !header(&bad, "WWW-Authenticate")
            .unwrap_or_default()
            .contains("stale")
    );
    // A nonce past nonce_expire (2 s).
    let old = nonce_of(&bad);
    std::thread::sleep(Duration::from_millis(3200));
    let late = register(&r, &peer, 5, Some((&old, &response(&r, &old, "secret"))));
    assert_eq!(first_line(&late), "SIP/2.0 401 Unauthorized", "{late}");
    assert!(
        header(&late, "WWW-Authenticate")
            .unwrap_or_default()
            .contains("stale=true"),
        "{late}"
    );
    drop(r);
}

#[test]
fn does_uri_exist_asks_the_store() {
    let (_dir, url) = store("uri");
    let cfg = format!(
        "listen=udp:127.0.0.1:{{PORT}}\nloadmodule \"sl\"\nloadmodule \"uri_db\"\n\
         modparam(\"uri_db\", \"db_url\", \"{url}\")\n\
         route {{ if (does_uri_exist()) {{ sl_send_reply(\"200\", \"Known\"); }} \
         else {{ sl_send_reply(\"404\", \"Unknown\"); }} }}\n"
    );
    let r = Router::start(&cfg, &Start::default());
    let peer = Peer::new();
    for (user, want) in [
        ("alice", "SIP/2.0 200 Known"),
        ("carol", "SIP/2.0 404 Unknown"),
        ("bob", "SIP/2.0 200 Known"),
    ] {
        let msg = format!(
            "OPTIONS sip:{user}@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-u{user}\r\n\
             From: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: uri-{user}\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            port = r.port,
            p = peer.port()
        );
        peer.send(r.addr(), msg.as_bytes());
        let (reply, _) = peer.recv(Duration::from_secs(5)).expect("a reply");
        assert_eq!(first_line(&reply), want, "{user}");
    }
    drop(r);
}
