//! SER 2.x user data for the end-to-end tests: the rows of a small SER
//! 2.x installation (a domain with its digest realm, users by uid, their
//! attributes, a gateway), the same provisioned with `serctl`, and
//! digest helpers.

use std::time::Duration;

use ser_core::auth::digest::{self, Hash, Qop};
use ser_core::store::{Db, DbUrl};

use crate::router::{Peer, Router, first_line, header};

/// How long a reply may take.
pub const WAIT: Duration = Duration::from_secs(5);
/// The digest realm of example.com (its `digest_realm` domain attribute).
pub const REALM: &str = "digest.example";

/// The SER 2.x rows: example.com (did d1, realm digest.example); alice
/// (password wonderland, uid u-alice, asserted_id), mallory (disabled),
/// bob (uid u-bob, always forwarded to `fwd`); the gateway address.
pub fn seed(url: &DbUrl, fwd: &str) {
    let mut db = Db::open(url).unwrap_or_else(|e| panic!("open {url}: {e}"));
    db.migrate().expect("migrate");
    let rows = [
        "INSERT INTO domain (domain, did, flags) VALUES ('example.com', 'd1', 1)".to_string(),
        format!(
            "INSERT INTO domain_attrs (did, name, type, value, flags) \
             VALUES ('d1', 'digest_realm', 2, '{REALM}', 1)"
        ),
        // flags 33 = LOAD_SER | FOR_SERWEB; 3 = LOAD_SER | DISABLED.
        format!(
            "INSERT INTO credentials (auth_username, did, realm, password, flags, uid) \
             VALUES ('alice', 'd1', '{REALM}', 'wonderland', 33, 'u-alice')"
        ),
        format!(
            "INSERT INTO credentials (auth_username, did, realm, password, flags, uid) \
             VALUES ('mallory', 'd1', '{REALM}', 'evil', 3, 'u-mallory')"
        ),
        // 25 = LOAD_SER | IS_TO | IS_FROM.
        "INSERT INTO uri (uid, did, username, flags) VALUES ('u-alice', 'd1', 'alice', 25)"
            .to_string(),
        "INSERT INTO uri (uid, did, username, flags) VALUES ('u-bob', 'd1', 'bob', 25)".to_string(),
        "INSERT INTO uri (uid, did, username, flags) VALUES ('u-mallory', 'd1', 'mallory', 25)"
            .to_string(),
        format!(
            "INSERT INTO user_attrs (uid, name, value, type, flags) \
             VALUES ('u-bob', 'fwd_always_target', '{fwd}', 2, 1)"
        ),
        "INSERT INTO user_attrs (uid, name, value, type, flags) \
         VALUES ('u-alice', 'asserted_id', '+4930999', 2, 1)"
            .to_string(),
        "INSERT INTO global_attrs (name, type, value, flags) VALUES ('gw_ip', 2, '127.0.0.1', 1)"
            .to_string(),
    ];
    for q in &rows {
        db.exec(q, &[]).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
}

/// Runs `serctl -d url -s ctl args...` (none of its environment variables
/// set) and returns its standard output; panics unless it exits 0.
pub fn serctl(url: &str, ctl: &str, args: &[&str]) -> String {
    let bin = crate::serctl_binary();
    let out = std::process::Command::new(&bin)
        .args(["-d", url, "-s", ctl])
        .args(args)
        .env_remove("SER_DB_URL")
        .env_remove("DBURL")
        .env_remove("SIP_DOMAIN")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "serctl {args:?}: {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// SER 2.0's own provisioning steps (the header of
/// `ser-2.0-default.cfg`), through `serctl`: example.com (did d1, its
/// realm digest.example), alice (wonderland, uid u-alice, asserted_id)
/// and bob (builder, uid u-bob), the gateway address. `ctl` is a control
/// socket where no router listens.
pub fn provision(url: &str, ctl: &str) {
    for args in [
        &["domain", "add", "example.com", "--did", "d1"][..],
        &["attr", "add", "did=d1", &format!("digest_realm={REALM}")],
        &[
            "user",
            "add",
            "alice@example.com",
            "-p",
            "wonderland",
            "--uid",
            "u-alice",
        ],
        &[
            "user",
            "add",
            "bob@example.com",
            "-p",
            "builder",
            "--uid",
            "u-bob",
        ],
        &["attr", "add", "uid=u-alice", "asserted_id=+4930999"],
        &["attr", "add", "global", "gw_ip=127.0.0.1"],
    ] {
        serctl(url, ctl, args);
    }
}

/// The next reply `peer` gets that is not a 100.
pub fn reply(r: &Router, peer: &Peer) -> String {
    loop {
        let (m, _) = peer
            .recv(WAIT)
            .unwrap_or_else(|| panic!("no reply\n{}", r.stderr()));
        if !first_line(&m).starts_with("SIP/2.0 100") {
            return m;
        }
    }
}

/// The nonce of the challenge in `hdr` (`WWW-Authenticate`, `Proxy-Authenticate`).
pub fn nonce_of(reply: &str, hdr: &str) -> String {
    let h = header(reply, hdr).unwrap_or_else(|| panic!("no challenge: {reply}"));
    let start = h.find("nonce=\"").expect("a nonce") + 7;
    let len = h[start..].find('"').expect("closing quote");
    h[start..start + len].to_string()
}

/// The MD5 digest response of `user` with `pw` in [`REALM`] for `method`
/// on `uri`, without qop.
pub fn response(user: &str, pw: &str, nonce: &str, method: &str, uri: &str) -> String {
    let ha1 = digest::ha1(Hash::Md5, user.as_bytes(), REALM.as_bytes(), pw.as_bytes());
    let ha2 = digest::ha2(Hash::Md5, method.as_bytes(), uri.as_bytes());
    digest::response(Hash::Md5, &ha1, nonce.as_bytes(), Qop::None, &ha2)
        .as_str()
        .to_string()
}
