//! Kamailio 3.1's default config, end to end: the real `ser` binary runs
//! `seed-configs/kamailio-3.1-default.cfg` unmodified (no defines: no
//! auth, no NAT, no database), only its listen address given on the
//! command line (`-l udp:127.0.0.1:PORT`), and raw UDP phones talk to it.
//!
//! What the config does, route by route, and what is checked:
//!
//! - `REQINIT`: `mf_process_maxfwd_header("10")`, then
//!   `sanity_check("1511", "7")`: a request with a CSeq whose method is
//!   not the request's, or whose number is not a number, gets the sanity
//!   module's 400 and goes nowhere.
//! - `REGISTRAR`: `save("location")`: alice and bob register (200).
//! - main route: `remove_hf("Route")` drops a preloaded Route from an
//!   initial request, `record_route()` for INVITEs.
//! - `LOCATION` + `RELAY`: the INVITE to bob reaches bob's registered
//!   contact with our Record-Route and without the preloaded Route; 180,
//!   200 come back; ACK and BYE follow the Record-Route (`WITHINDLG`).
//! - `SIPOUT`: a request for a domain that is not ours gets
//!   `append_hf("P-hint: outbound\r\n")` and is relayed.
//!
//! - `acc` (`log_flag` 1, `log_extra`): the call's INVITE and BYE are
//!   logged as answered transactions, with the extra values; the refused
//!   call to carol is not.
//!
//! A second test runs a small SER 2.x config of its own: `append_to_reply`
//! before `sl_reply` puts the header in the reply, and `append_hf` adds
//! one to a relayed request.

use std::time::Duration;

use ser_tests::router::{Peer, Router, Start, first_line, header, headers, uas_reply};
use ser_tests::workspace_root;

const WAIT: Duration = Duration::from_secs(3);
/// How long a peer listens to be sure nothing comes.
const QUIET: Duration = Duration::from_millis(400);

fn kamailio_default() -> Router {
    kamailio_default_with(&["-l", "udp:127.0.0.1:{PORT}"])
}

/// The config loads `ctl` on Kamailio's fixed default socket: one router
/// on it at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn kamailio_default_with(args: &[&str]) -> Router {
    let path = workspace_root()
        .parent()
        .map(|p| p.join("shared/seed-configs/kamailio-3.1-default.cfg"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| "/work/shared/seed-configs/kamailio-3.1-default.cfg".into());
    let cfg =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    // The routes this test relies on, as printed.
    for line in [
        "remove_hf(\"Route\");",
        "if(!sanity_check(\"1511\", \"7\"))",
        "append_hf(\"P-hint: outbound\\r\\n\");",
        "if (!save(\"location\"))",
    ] {
        assert!(cfg.contains(line), "{} changed: {line}", path.display());
    }
    Router::start(
        &cfg,
        &Start {
            args,
            ..Start::default()
        },
    )
}

/// The next message `peer` receives that is not a `100 Trying`.
fn recv_skip_100(peer: &Peer, what: &str, r: &Router) -> String {
    loop {
        let (m, _) = peer
            .recv(WAIT)
            .unwrap_or_else(|| panic!("no {what}\n{}", r.stderr()));
        if !first_line(&m).starts_with("SIP/2.0 100 ") {
            return m;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn request(
    method: &str,
    ruri: &str,
    from_user: &str,
    to: &str,
    port: u16,
    call_id: &str,
    cseq: &str,
    extra: &str,
) -> String {
    format!(
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{call_id}-{method}-{cseq_n};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from_user}@127.0.0.1>;tag=t-{from_user}\r\n\
         To: {to}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq}\r\n\
         Contact: <sip:{from_user}@127.0.0.1:{port}>\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n",
        cseq_n = cseq.split(' ').next().unwrap_or("0"),
    )
}

fn register(r: &Router, user: &str, phone: &Peer) {
    let reg = request(
        "REGISTER",
        &format!("sip:127.0.0.1:{}", r.port),
        user,
        &format!("<sip:{user}@127.0.0.1>"),
        phone.port(),
        &format!("reg-{user}"),
        "1 REGISTER",
        "Expires: 300\r\n",
    );
    phone.send(r.addr(), reg.as_bytes());
    let ok = recv_skip_100(phone, "reply to REGISTER", r);
    assert_eq!(first_line(&ok), "SIP/2.0 200 OK", "{ok}");
    assert!(
        header(&ok, "Contact").is_some_and(|c| c.contains(&format!(":{}", phone.port()))),
        "{ok}"
    );
}

#[test]
fn kamailio_31_default_config_end_to_end() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let r = kamailio_default();
    let (alice, bob, carol) = (Peer::new(), Peer::new(), Peer::new());
    register(&r, "alice", &alice);
    register(&r, "bob", &bob);

    // --- A call alice -> bob, with a preloaded Route that is not ours.
    let our_rr = format!("<sip:127.0.0.1:{};lr=on>", r.port);
    let invite = request(
        "INVITE",
        &format!("sip:bob@127.0.0.1:{}", r.port),
        "alice",
        "<sip:bob@127.0.0.1>",
        alice.port(),
        "call-1",
        "1 INVITE",
        "Route: <sip:192.0.2.77;lr>\r\n",
    );
    alice.send(r.addr(), invite.as_bytes());
    let (inv, from) = bob.recv(WAIT).expect("bob gets the INVITE");
    assert_eq!(from, r.addr());
    assert_eq!(
        first_line(&inv),
        format!("INVITE sip:bob@127.0.0.1:{} SIP/2.0", bob.port()),
        "relayed to bob's registered contact"
    );
    assert_eq!(header(&inv, "Route"), None, "remove_hf(\"Route\"): {inv}");
    assert!(!inv.contains("192.0.2.77"), "{inv}");
    // enable_full_lr=1, append_fromtag=0.
    assert_eq!(headers(&inv, "Record-Route"), [our_rr.as_str()], "{inv}");
    assert_eq!(header(&inv, "P-hint"), None, "bob is local: {inv}");
    assert_eq!(headers(&inv, "Via").len(), 2, "{inv}");

    for (code, reason) in [(180, "Ringing"), (200, "OK")] {
        bob.send(
            r.addr(),
            uas_reply(
                &inv,
                code,
                reason,
                "uas",
                Some(&format!("sip:uas@127.0.0.1:{}", bob.port())),
            )
            .as_bytes(),
        );
        let got = recv_skip_100(&alice, reason, &r);
        assert_eq!(first_line(&got), format!("SIP/2.0 {code} {reason}"));
        assert_eq!(headers(&got, "Record-Route"), [our_rr.as_str()], "{got}");
    }

    // ACK and BYE follow the route set to bob's Contact.
    let target = format!("sip:uas@127.0.0.1:{}", bob.port());
    for (method, cseq) in [("ACK", "1 ACK"), ("BYE", "2 BYE")] {
        let req = request(
            method,
            &target,
            "alice",
            "<sip:bob@127.0.0.1>;tag=uas",
            alice.port(),
            "call-1",
            cseq,
            &format!("Route: {our_rr}\r\n"),
        );
        alice.send(r.addr(), req.as_bytes());
        let (got, _) = bob
            .recv(WAIT)
            .unwrap_or_else(|| panic!("bob gets the {method}\n{}", r.stderr()));
        assert_eq!(first_line(&got), format!("{method} {target} SIP/2.0"));
        assert_eq!(header(&got, "Route"), None, "{got}");
        if method == "BYE" {
            bob.send(
                r.addr(),
                uas_reply(
                    &got,
                    200,
                    "OK",
                    "uas",
                    Some(&format!("sip:uas@127.0.0.1:{}", bob.port())),
                )
                .as_bytes(),
            );
            let ok = recv_skip_100(&alice, "200 to BYE", &r);
            assert_eq!(first_line(&ok), "SIP/2.0 200 OK");
            assert_eq!(header(&ok, "CSeq"), Some("2 BYE"));
        }
    }

    // --- A foreign domain (carol's own address, not ours): SIPOUT adds
    // the P-hint and relays.
    let out = request(
        "INVITE",
        &format!("sip:carol@127.0.0.1:{}", carol.port()),
        "alice",
        "<sip:carol@127.0.0.1>",
        alice.port(),
        "call-2",
        "1 INVITE",
        "",
    );
    alice.send(r.addr(), out.as_bytes());
    let (got, _) = carol.recv(WAIT).expect("carol gets the INVITE");
    assert_eq!(headers(&got, "P-hint"), ["outbound"], "{got}");
    assert_eq!(headers(&got, "Record-Route"), [our_rr.as_str()], "{got}");
    // The header sits at the end of the header block.
    let head = got.split("\r\n\r\n").next().unwrap_or("");
    assert!(head.ends_with("P-hint: outbound"), "{got}");
    carol.send(
        r.addr(),
        uas_reply(
            &got,
            486,
            "Busy Here",
            "uas",
            Some(&format!("sip:uas@127.0.0.1:{}", carol.port())),
        )
        .as_bytes(),
    );
    let busy = recv_skip_100(&alice, "486", &r);
    assert_eq!(first_line(&busy), "SIP/2.0 486 Busy Here");

    // --- Malformed requests: the sanity module's replies, nothing relayed.
    for (cseq, reply) in [
        (
            "1 BYE",
            "SIP/2.0 400 CSeq method does not match request method",
        ),
        ("x1 INVITE", "SIP/2.0 400 CSeq number is illegal"),
    ] {
        let bad = request(
            "INVITE",
            &format!("sip:bob@127.0.0.1:{}", r.port),
            "alice",
            "<sip:bob@127.0.0.1>",
            alice.port(),
            &format!("bad-{}", cseq.len()),
            cseq,
            "",
        );
        alice.send(r.addr(), bad.as_bytes());
        let got = recv_skip_100(&alice, "sanity reply", &r);
        assert_eq!(first_line(&got), reply, "{got}");
        assert!(
            bob.recv(QUIET).is_none(),
            "a request sanity refused reached bob"
        );
    }
    // Proxy-Require is not among the checks 1511 asks for: a request that
    // requires an extension we do not know is relayed.
    let pr = request(
        "OPTIONS",
        &format!("sip:bob@127.0.0.1:{}", r.port),
        "alice",
        "<sip:bob@127.0.0.1>",
        alice.port(),
        "pr-1",
        "1 OPTIONS",
        "Proxy-Require: x-unknown\r\n",
    );
    alice.send(r.addr(), pr.as_bytes());
    let (got, _) = bob.recv(WAIT).expect("bob gets the OPTIONS");
    assert_eq!(header(&got, "Proxy-Require"), Some("x-unknown"));

    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");

    // --- Accounting (acc, log_flag 1 with log_extra): the INVITE (flag 1
    // set for INVITEs) and the BYE (flags 1 and 3 in WITHINDLG) of call-1
    // are logged once each when their 200 goes upstream; call-2's 486 is
    // not (no failed_transaction_flag, and carol is not a local user, so
    // no missed-call flag); the ACK carries no flag.
    let acc: Vec<&str> = err.lines().filter(|l| l.contains("ACC: ")).collect();
    let one = |method: &str| -> &str {
        let found: Vec<&&str> = acc
            .iter()
            .filter(|l| l.contains(&format!(";method={method};")))
            .collect();
        assert_eq!(found.len(), 1, "{method}: {acc:#?}");
        found[0]
    };
    let inv = one("INVITE");
    assert!(
        inv.contains("ACC: transaction answered: timestamp="),
        "{inv}"
    );
    for part in [
        ";call_id=call-1;code=200;reason=OK;",
        "src_user=alice;src_domain=127.0.0.1;dst_ouser=bob;dst_user=bob;dst_domain=127.0.0.1",
    ] {
        assert!(inv.contains(part), "{part} in {inv}");
    }
    let bye = one("BYE");
    assert!(
        bye.contains(";to_tag=uas;call_id=call-1;code=200;"),
        "{bye}"
    );
    assert!(!acc.iter().any(|l| l.contains("call-2")), "{acc:#?}");
    assert!(!acc.iter().any(|l| l.contains("method=ACK")), "{acc:#?}");
}

/// The same config with `-A WITH_MYSQL -A WITH_ACCDB` and `--db` mapping
/// its MySQL URL to a SQLite file: the accounting rows of an answered
/// call (`acc`, with the `db_extra` columns the config's header tells to
/// add) and of a call bob refuses (`missed_calls`: flag 2 is set for
/// INVITEs routed to a registered user).
#[test]
fn kamailio_31_default_config_accounting_to_the_database() {
    use ser_core::store::{Db, DbUrl};
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = ser_tests::router::TempDir::new("ser-acc");
    let url_text = format!("sqlite://{}/acc.db", dir.0.display());
    let url = DbUrl::parse(&url_text).expect("url");
    {
        let mut db = Db::open(&url).expect("open");
        db.migrate().expect("migrate");
        // The columns the config's header adds to acc and missed_calls.
        for table in ["acc", "missed_calls"] {
            for col in [
                "src_user",
                "src_domain",
                "dst_ouser",
                "dst_user",
                "dst_domain",
            ] {
                db.exec(
                    &format!(
                        "ALTER TABLE {table} ADD COLUMN {col} VARCHAR(128) NOT NULL DEFAULT ''"
                    ),
                    &[],
                )
                .expect("alter");
            }
        }
    }
    let db_arg = format!("--db={url_text}");
    let r = kamailio_default_with(&[
        "-l",
        "udp:127.0.0.1:{PORT}",
        "-A",
        "WITH_MYSQL",
        "-A",
        "WITH_ACCDB",
        &db_arg,
    ]);
    let (alice, bob) = (Peer::new(), Peer::new());
    register(&r, "bob", &bob);
    let call = |call_id: &str, code: u16, reason: &str| {
        let invite = request(
            "INVITE",
            &format!("sip:bob@127.0.0.1:{}", r.port),
            "alice",
            "<sip:bob@127.0.0.1>",
            alice.port(),
            call_id,
            "1 INVITE",
            "",
        );
        alice.send(r.addr(), invite.as_bytes());
        let (inv, _) = bob.recv(WAIT).expect("bob gets the INVITE");
        bob.send(
            r.addr(),
            uas_reply(
                &inv,
                code,
                reason,
                "uas",
                Some(&format!("sip:uas@127.0.0.1:{}", bob.port())),
            )
            .as_bytes(),
        );
        let got = recv_skip_100(&alice, reason, &r);
        assert_eq!(first_line(&got), format!("SIP/2.0 {code} {reason}"));
    };
    call("acc-ok", 200, "OK");
    call("acc-busy", 486, "Busy Here");

    // Rows are written off the shards: wait for them.
    let rows = |table: &str, call_id: &str| -> Vec<Vec<String>> {
        let mut db = Db::open(&url).expect("open");
        db.query(
            &format!(
                "SELECT method, from_tag, to_tag, sip_code, sip_reason, src_user, dst_user, dst_domain \
                 FROM {table} WHERE callid = ? ORDER BY id"
            ),
            &[call_id.into()],
        )
        .expect("query")
        .into_iter()
        .map(|row| row.into_iter().map(|c| c.into_string().unwrap_or_default()).collect())
        .collect()
    };
    let deadline = std::time::Instant::now() + WAIT;
    while rows("missed_calls", "acc-busy").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        rows("acc", "acc-ok"),
        [[
            "INVITE",
            "t-alice",
            "uas",
            "200",
            "OK",
            "alice",
            "bob",
            "127.0.0.1"
        ]],
        "{}",
        r.stderr()
    );
    assert_eq!(
        rows("missed_calls", "acc-busy"),
        [[
            "INVITE",
            "t-alice",
            "uas",
            "486",
            "Busy Here",
            "alice",
            "bob",
            "127.0.0.1"
        ]],
        "{}",
        r.stderr()
    );
    assert!(
        rows("acc", "acc-busy").is_empty(),
        "no failed_transaction_flag on the INVITE"
    );
    assert!(rows("missed_calls", "acc-ok").is_empty());
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("ACC: call missed:") && l.contains("call_id=acc-busy;code=486")),
        "{err}"
    );
}

/// The same config with `-A WITH_MYSQL -A WITH_AUTH -A WITH_IPAUTH` on
/// SQLite: an INVITE from the local domain is challenged (407) unless its
/// source address and port are in the `address` table, group 1
/// (`allow_source_address()`), in which case it is relayed at once.
#[test]
fn kamailio_31_default_config_ip_authorisation() {
    use ser_core::store::{Db, DbUrl};
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = ser_tests::router::TempDir::new("ser-ipauth");
    let url_text = format!("sqlite://{}/ipauth.db", dir.0.display());
    let url = DbUrl::parse(&url_text).expect("url");
    let (gateway, phone, carol) = (Peer::new(), Peer::new(), Peer::new());
    {
        let mut db = Db::open(&url).expect("open");
        db.migrate().expect("migrate");
        db.exec(
            "INSERT INTO address (grp, ip_addr, mask, port) VALUES (1, '127.0.0.1', 32, ?)",
            &[i64::from(gateway.port()).into()],
        )
        .expect("address row");
    }
    let db_arg = format!("--db={url_text}");
    let r = kamailio_default_with(&[
        "-l",
        "udp:127.0.0.1:{PORT}",
        "-A",
        "WITH_MYSQL",
        "-A",
        "WITH_AUTH",
        "-A",
        "WITH_IPAUTH",
        &db_arg,
    ]);
    assert!(
        r.stderr().contains("1 address entries loaded"),
        "{}",
        r.stderr()
    );
    // From our own domain (127.0.0.1 on our port: `from_uri == myself`).
    let invite = |from: &Peer, call_id: &str| {
        format!(
            "INVITE sip:carol@127.0.0.1:{c} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-{call_id};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@127.0.0.1:{rp}>;tag=t-{call_id}\r\n\
             To: <sip:carol@127.0.0.1:{c}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:alice@127.0.0.1:{p}>\r\n\
             Content-Length: 0\r\n\r\n",
            c = carol.port(),
            p = from.port(),
            rp = r.port,
        )
    };
    // Not in the table: challenged, nothing relayed.
    phone.send(r.addr(), invite(&phone, "ip-1").as_bytes());
    let got = recv_skip_100(&phone, "407", &r);
    assert!(first_line(&got).starts_with("SIP/2.0 407 "), "{got}");
    assert!(
        carol.recv(QUIET).is_none(),
        "an unauthenticated INVITE was relayed"
    );
    // From the address and port of group 1: relayed without a challenge.
    gateway.send(r.addr(), invite(&gateway, "ip-2").as_bytes());
    let (got, _) = carol
        .recv(WAIT)
        .unwrap_or_else(|| panic!("the gateway's INVITE was not relayed\n{}", r.stderr()));
    assert_eq!(header(&got, "Call-ID"), Some("ip-2"));
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
}

/// A small SER 2.x config: a registrar-less proxy that answers REGISTER
/// with a header added by `append_to_reply` and relays the rest with a
/// header added by `append_hf`.
const SER2: &str = r#"
loadpath "/usr/lib/ser/modules"
listen=udp:127.0.0.1:{PORT}
loadmodule "sl"
loadmodule "tm"
loadmodule "textops"

route {
    if (method == "REGISTER") {
        $hint = "ser2";
        append_to_reply("X-Reply-Hint: %$hint\r\n");
        append_to_reply("X-Second: 2");
        sl_reply("403", "Go Away");
        drop;
    }
    if (search("^X-Strip-Me:")) {
        remove_hf("X-Strip-Me");
    }
    append_hf("X-Proxy: %@ruri.user\r\n");
    t_relay();
}
"#;

#[test]
fn ser2_append_to_reply_and_append_hf() {
    let r = Router::start(SER2, &Start::default());
    let (uac, uas) = (Peer::new(), Peer::new());
    let reg = request(
        "REGISTER",
        &format!("sip:127.0.0.1:{}", r.port),
        "alice",
        "<sip:alice@127.0.0.1>",
        uac.port(),
        "s2-reg",
        "1 REGISTER",
        "",
    );
    uac.send(r.addr(), reg.as_bytes());
    let got = recv_skip_100(&uac, "403", &r);
    assert_eq!(first_line(&got), "SIP/2.0 403 Go Away", "{got}");
    assert_eq!(header(&got, "X-Reply-Hint"), Some("ser2"), "{got}");
    assert_eq!(header(&got, "X-Second"), Some("2"), "{got}");

    let msg = request(
        "MESSAGE",
        &format!("sip:bob@127.0.0.1:{}", uas.port()),
        "alice",
        "<sip:bob@127.0.0.1>",
        uac.port(),
        "s2-msg",
        "1 MESSAGE",
        "X-Strip-Me: yes\r\n",
    );
    uac.send(r.addr(), msg.as_bytes());
    let (got, _) = uas.recv(WAIT).expect("the UAS gets the MESSAGE");
    assert_eq!(header(&got, "X-Proxy"), Some("bob"), "{got}");
    assert_eq!(header(&got, "X-Strip-Me"), None, "{got}");
    // The relayed request has no reply-only header.
    assert_eq!(header(&got, "X-Reply-Hint"), None, "{got}");
    uas.send(
        r.addr(),
        uas_reply(
            &got,
            200,
            "OK",
            "uas",
            Some(&format!("sip:uas@127.0.0.1:{}", uas.port())),
        )
        .as_bytes(),
    );
    let ok = recv_skip_100(&uac, "200", &r);
    assert_eq!(first_line(&ok), "SIP/2.0 200 OK");
    assert_eq!(header(&ok, "X-Proxy"), None, "{ok}");

    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
}
