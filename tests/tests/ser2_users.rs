//! SER 2.x user data end to end: the real `ser` on a SER 2.x config in the
//! shape of `ser-2.0-default.cfg` (`db_url` pointing at MySQL, replaced by
//! `--db=sqlite://...`), a real SQLite file seeded with SER 2.x rows
//! (a domain with its did and a `digest_realm` attribute, `credentials`,
//! `uri`, `user_attrs` with `fwd_always_target`, `global_attrs` with
//! `gw_ip`), requests over UDP from a real socket and UDP peers as the
//! forwarding targets; the same on PostgreSQL and MariaDB
//! (`tests/src/dbserver.rs`).
//!
//! What a user sees: a REGISTER challenged in the domain's digest realm,
//! then accepted (`$uid` from `credentials` equals the uid `lookup_user`
//! finds for To); a disabled credentials row and another user's To
//! refused; an INVITE for bob forwarded to his `fwd_always_target` with a
//! header set by `xlset_attr` + `replace_attr_hf`; an INVITE for a number
//! sent to the gateway `$gw_ip` with a Remote-Party-ID built from the
//! caller's `asserted_id`.

use ser_core::store::DbUrl;
use ser_tests::dbserver::DbServer;
use ser_tests::router::{Peer, Router, Start, TempDir, first_line, header, headers};
use ser_tests::ser2::{REALM, WAIT, nonce_of, reply, response, seed};

const CONFIG: &str = r#"loadpath "/usr/lib/ser/modules:/usr/lib/ser/modules_s"
listen=udp:127.0.0.1:{PORT}

loadmodule "db_mysql"
loadmodule "sl"
loadmodule "tm"
loadmodule "usrloc"
loadmodule "registrar"
loadmodule "auth"
loadmodule "auth_db"
loadmodule "gflags"
loadmodule "domain"
loadmodule "uri_db"
loadmodule "avp"
loadmodule "avp_db"

modparam("auth_db|avp_db|domain|gflags|uri_db", "db_url", "mysql://ser:heslo@127.0.0.1/ser")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "plain_password_column", "password")
modparam("gflags", "load_global_attrs", 1)
modparam("domain", "load_domain_attrs", 1)

route {
    route(DOMAIN);
    if (method == "REGISTER") {
        route(REGISTRAR);
        drop;
    }
    if (lookup_user("$fu.uid", "@from.uri")) {
        load_attrs("$fu", "$f.uid");
    }
    route(INBOUND);
    route(PSTN);
    sl_reply("404", "No route matched");
}

route[DOMAIN] {
    lookup_domain("$fd", "@from.uri.host");
    lookup_domain("$td", "@ruri.host");
    if (strempty($t.did) && strempty($f.did)) {
        sl_reply("403", "Relaying Forbidden");
        drop;
    }
}

route[REGISTRAR] {
    if (strempty($t.did)) {
        sl_reply("403", "Register forwarding forbidden");
        drop;
    }
    if (!www_authenticate("$fd.digest_realm", "credentials")) {
        if ($? == -2) {
            sl_reply("500", "Internal Server Error");
        } else if ($? == -3) {
            sl_reply("400", "Bad Request");
        } else if ($digest_challenge != "") {
            www_challenge("$fd.digest_realm", "0");
        } else {
            sl_reply("500", "No challenge");
        }
        drop;
    }
    if (!lookup_user("$tu.uid", "@to.uri")) {
        sl_reply("404", "Unknown user in To");
        drop;
    }
    if ($f.uid != $t.uid) {
        sl_reply("403", "Authentication and To-Header mismatch");
        drop;
    }
    if (!save_contacts("location")) {
        sl_reply("400", "Invalid REGISTER Request");
    }
    drop;
}

route[INBOUND] {
    if (lookup_user("$tu.uid", "@ruri")) {
        load_attrs("$tu", "$t.uid");
        if ($tu.fwd_always_target != "") {
            attr2uri("$tu.fwd_always_target");
            xlset_attr("$fwd_note", "always;uid=%$t.uid");
            replace_attr_hf("X-Forwarded-For-User", "$fwd_note");
            t_relay();
            drop;
        }
        sl_reply("480", "User temporarily not available");
        drop;
    }
}

route[PSTN] {
    if ($f.did != "" && $gw_ip != "" && uri=~"sips?:\+?[0-9]{3,18}@.*") {
        if ($asserted_id != "") {
            xlset_attr("$rpidheader", "<sip:%$asserted_id@%@ruri.host>;screen=yes");
            replace_attr_hf("Remote-Party-ID", "$rpidheader");
        }
        attr2uri("$gw_ip", "domain");
        t_relay();
        drop;
    }
}
"#;

/// A REGISTER for `to_user` at example.com from `peer`, with credentials
/// `(user, nonce, response)` when given.
fn register(r: &Router, peer: &Peer, cseq: u32, to_user: &str, auth: Option<(&str, &str, &str)>) {
    let authz = auth.map_or(String::new(), |(user, nonce, response)| {
        format!(
            "Authorization: Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", \
             uri=\"sip:example.com\", response=\"{response}\", algorithm=MD5\r\n"
        )
    });
    let from_user = auth.map_or(to_user, |(u, _, _)| u);
    let msg = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-reg{cseq}\r\n\
         From: <sip:{from_user}@example.com>;tag=r{cseq}\r\n\
         To: <sip:{to_user}@example.com>\r\n\
         Call-ID: ser2-reg-{cseq}@test\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{to_user}@127.0.0.1:{p}>\r\n\
         Expires: 600\r\n\
         Max-Forwards: 70\r\n\
         {authz}Content-Length: 0\r\n\r\n",
        p = peer.port()
    );
    peer.send(r.addr(), msg.as_bytes());
}

/// A challenge-then-answer REGISTER; the final reply.
fn register_with(r: &Router, peer: &Peer, cseq: u32, user: &str, pw: &str, to: &str) -> String {
    register(r, peer, cseq, to, None);
    let challenge = reply(r, peer);
    assert!(
        first_line(&challenge).starts_with("SIP/2.0 401"),
        "{challenge}"
    );
    let nonce = nonce_of(&challenge, "WWW-Authenticate");
    register(
        r,
        peer,
        cseq + 1,
        to,
        Some((
            user,
            &nonce,
            &response(user, pw, &nonce, "REGISTER", "sip:example.com"),
        )),
    );
    reply(r, peer)
}

fn invite(peer: &Peer, ruri: &str, n: u32) -> String {
    format!(
        "INVITE {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-inv{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=i{n}\r\n\
         To: <{ruri}>\r\n\
         Call-ID: ser2-inv-{n}@test\r\n\
         CSeq: 1 INVITE\r\n\
         Remote-Party-ID: <sip:forged@example.net>\r\n\
         Contact: <sip:alice@127.0.0.1:{p}>\r\n\
         Content-Length: 0\r\n\r\n",
        p = peer.port()
    )
}

#[test]
fn ser2_users_on_the_embedded_store() {
    let dir = TempDir::new("ser-ser2-users");
    let url = format!("sqlite://{}/ser.db", dir.0.display());
    flow(&url, "sqlite://");
}

#[test]
fn ser2_users_on_postgresql() {
    let db = DbServer::postgres();
    flow(&db.url(), "postgres://");
}

#[test]
fn ser2_users_on_mariadb() {
    let db = DbServer::mariadb();
    flow(&db.url(), "mysql://");
}

/// Seeds the database at `url_text`, starts the router on it (`--db`), and
/// runs every step.
fn flow(url_text: &str, scheme: &str) {
    let url = DbUrl::parse(url_text).unwrap();
    let carol = Peer::new();
    let gateway = Peer::new();
    let fwd = format!("sip:carol@127.0.0.1:{}", carol.port());
    seed(&url, &fwd);
    let db_arg = format!("--db={url_text}");
    let r = Router::start(
        CONFIG,
        &Start {
            args: &[&db_arg],
            ..Start::default()
        },
    );
    assert!(
        r.stderr().contains(&format!("uri_db on {scheme}")),
        "{}",
        r.stderr()
    );
    let uac = Peer::new();

    // The challenge is in the realm the domain's attribute names.
    register(&r, &uac, 1, "alice", None);
    let challenge = reply(&r, &uac);
    assert!(
        first_line(&challenge).starts_with("SIP/2.0 401"),
        "{challenge}"
    );
    let www = header(&challenge, "WWW-Authenticate").unwrap_or_default();
    assert!(www.contains(&format!("realm=\"{REALM}\"")), "{www}");

    // Right password: $uid (credentials) is the uid of To (uri): 200.
    let ok = register_with(&r, &uac, 10, "alice", "wonderland", "alice");
    assert!(
        first_line(&ok).starts_with("SIP/2.0 200"),
        "{ok}\n{}",
        r.stderr()
    );
    assert!(
        header(&ok, "Contact").is_some_and(|c| c.contains("alice@127.0.0.1")),
        "{ok}"
    );

    // Wrong password: challenged again.
    let bad = register_with(&r, &uac, 20, "alice", "guess", "alice");
    assert!(first_line(&bad).starts_with("SIP/2.0 401"), "{bad}");

    // A disabled credentials row does not authenticate.
    let off = register_with(&r, &uac, 30, "mallory", "evil", "mallory");
    assert!(first_line(&off).starts_with("SIP/2.0 401"), "{off}");

    // alice registering bob's address: the uids differ.
    let other = register_with(&r, &uac, 40, "alice", "wonderland", "bob");
    assert_eq!(
        first_line(&other),
        "SIP/2.0 403 Authentication and To-Header mismatch",
        "{other}"
    );

    // bob is always forwarded: carol gets the INVITE, with the header.
    uac.send(r.addr(), invite(&uac, "sip:bob@example.com", 50).as_bytes());
    let (got, from) = carol
        .recv(WAIT)
        .unwrap_or_else(|| panic!("the INVITE was not forwarded:\n{}", r.stderr()));
    assert_eq!(from, r.addr());
    assert_eq!(first_line(&got), format!("INVITE {fwd} SIP/2.0"), "{got}");
    assert_eq!(
        headers(&got, "X-Forwarded-For-User"),
        vec!["always;uid=u-bob"],
        "{got}"
    );

    // A number goes to the gateway ($gw_ip replaces the host), with the
    // caller's asserted identity in place of the forged one.
    let number = format!("sip:+4930123@example.com:{}", gateway.port());
    uac.send(r.addr(), invite(&uac, &number, 60).as_bytes());
    let (got, _) = gateway
        .recv(WAIT)
        .unwrap_or_else(|| panic!("the INVITE did not reach the gateway:\n{}", r.stderr()));
    assert_eq!(
        first_line(&got),
        format!("INVITE sip:+4930123@127.0.0.1:{} SIP/2.0", gateway.port()),
        "{got}"
    );
    assert_eq!(
        headers(&got, "Remote-Party-ID"),
        vec!["<sip:+4930999@example.com>;screen=yes"],
        "{got}"
    );

    // Nobody at example.com and not a number: 404 from the script.
    uac.send(
        r.addr(),
        invite(&uac, "sip:nobody@example.com", 70).as_bytes(),
    );
    let nf = reply(&r, &uac);
    assert_eq!(first_line(&nf), "SIP/2.0 404 No route matched", "{nf}");
}
