//! SER 2.0's default config end to end: the real `ser` runs
//! `seed-configs/ser-2.0-default.cfg` unmodified, with its MySQL URL
//! mapped to a SQLite file (`--db=sqlite://...`) provisioned as the
//! config's header says (`ser_ctl domain add`, `ser_ctl user add`,
//! `ser_attr add`), with the real `serctl` (`ser2::provision`), its listen
//! address given with `-l`, and raw UDP phones.
//!
//! What the config does and what is checked:
//!
//! - `REGISTRAR`: `www_authenticate("$fd.digest_realm", "credentials")`
//!   fails, the script adds `$digest_challenge` with
//!   `append_to_reply("%$digest_challenge")` and sends `sl_reply("401")`:
//!   the phone sees a challenge in the domain's realm; answered, the
//!   REGISTER is saved (`lookup_user` finds the same uid for To).
//! - `AUTHENTICATION`: the INVITE is challenged the same way with 407,
//!   then accepted (the From's uid is the authenticated one).
//! - `RR`: `$account = "yes"` flagged `dialog_cookie` rides in our
//!   Record-Route; on the BYE, `loose_route()` brings it back,
//!   `$account == "yes"` sets `FLAG_ACC`, and `append_hf("P-hint:
//!   rr-enforced")` marks the request.
//! - `INBOUND`: `lookup_user("$tu.uid", "@ruri")`, `load_attrs`,
//!   `lookup_contacts("location")`, `append_hf("P-hint: usrloc applied")`.
//! - `acc_db` (`log_flag` `FLAG_ACC`): one `acc` row for the INVITE and one
//!   for the BYE, whose flag came back in the cookie.

use ser_core::store::{Db, DbUrl};
use ser_tests::router::{Peer, Router, Start, TempDir, first_line, header, headers, uas_reply};
use ser_tests::ser2::{REALM, WAIT, nonce_of, provision, reply, response};
use ser_tests::workspace_root;

fn config() -> String {
    let path = workspace_root()
        .parent()
        .map(|p| p.join("shared/seed-configs/ser-2.0-default.cfg"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| "/work/shared/seed-configs/ser-2.0-default.cfg".into());
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A request from `user`@example.com's phone; `auth`: the header line.
#[allow(clippy::too_many_arguments)]
fn request(
    method: &str,
    ruri: &str,
    user: &str,
    to: &str,
    phone: &Peer,
    call_id: &str,
    cseq: &str,
    extra: &str,
) -> String {
    format!(
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-{call_id}-{n};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@example.com>;tag=t-{user}\r\n\
         To: {to}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq}\r\n\
         Contact: <sip:{user}@127.0.0.1:{p}>\r\n\
         {extra}Content-Length: 0\r\n\r\n",
        p = phone.port(),
        n = cseq.replace(' ', "-"),
    )
}

/// Sends a request, then answers its challenge with `user`'s password
/// (the caller reads what follows).
#[allow(clippy::too_many_arguments)]
fn authenticated(
    r: &Router,
    phone: &Peer,
    method: &str,
    ruri: &str,
    user: &str,
    pw: &str,
    to: &str,
    call_id: &str,
) {
    let (challenge_hdr, answer_hdr, code) = if method == "REGISTER" {
        ("WWW-Authenticate", "Authorization", "401")
    } else {
        ("Proxy-Authenticate", "Proxy-Authorization", "407")
    };
    let first = request(
        method,
        ruri,
        user,
        to,
        phone,
        call_id,
        &format!("1 {method}"),
        "",
    );
    phone.send(r.addr(), first.as_bytes());
    let challenge = reply(r, phone);
    assert!(
        first_line(&challenge).starts_with(&format!("SIP/2.0 {code} ")),
        "{challenge}"
    );
    let h = header(&challenge, challenge_hdr).unwrap_or_default();
    assert!(h.contains(&format!("realm=\"{REALM}\"")), "{challenge}");
    if method == "INVITE" {
        // The ACK of the 407: the INVITE's branch and CSeq number, the
        // reply's To tag (the router absorbs it as the ACK of its reply).
        let ack = first
            .replacen("INVITE ", "ACK ", 1)
            .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
            .replace(
                &format!("To: {to}"),
                &format!("To: {}", header(&challenge, "To").unwrap_or_default()),
            );
        phone.send(r.addr(), ack.as_bytes());
    }
    let nonce = nonce_of(&challenge, challenge_hdr);
    let resp = response(user, pw, &nonce, method, ruri);
    let creds = format!(
        "{answer_hdr}: Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", \
         uri=\"{ruri}\", response=\"{resp}\", algorithm=MD5\r\n"
    );
    let second = request(
        method,
        ruri,
        user,
        to,
        phone,
        call_id,
        &format!("2 {method}"),
        &creds,
    );
    phone.send(r.addr(), second.as_bytes());
}

#[test]
fn ser_20_default_config_end_to_end() {
    let dir = TempDir::new("ser-ser2-default");
    let url_text = format!("sqlite://{}/ser.db", dir.0.display());
    let url = DbUrl::parse(&url_text).expect("url");
    provision(&url_text, &format!("unix:{}/no-router", dir.0.display()));
    let cfg = config();
    for line in [
        "append_to_reply(\"%$digest_challenge\");",
        "setavpflag($account, \"dialog_cookie\");",
        "append_hf(\"P-hint: rr-enforced\\r\\n\");",
        "if (lookup_contacts(\"location\")) {",
    ] {
        assert!(cfg.contains(line), "ser-2.0-default.cfg changed: {line}");
    }
    let db_arg = format!("--db={url_text}");
    let r = Router::start(
        &cfg,
        &Start {
            args: &["-l", "udp:127.0.0.1:{PORT}", &db_arg],
            ..Start::default()
        },
    );
    let (alice, bob) = (Peer::new(), Peer::new());
    let port = r.addr().port();

    // Both register with their credentials.
    for (user, pw, phone) in [("alice", "wonderland", &alice), ("bob", "builder", &bob)] {
        authenticated(
            &r,
            phone,
            "REGISTER",
            "sip:example.com",
            user,
            pw,
            &format!("<sip:{user}@example.com>"),
            &format!("reg-{user}"),
        );
        let ok = reply(&r, phone);
        assert_eq!(first_line(&ok), "SIP/2.0 200 OK", "{ok}\n{}", r.stderr());
    }

    // alice calls bob: challenged with 407, then relayed to bob's contact.
    let ruri = "sip:bob@example.com";
    let to = "<sip:bob@example.com>";
    authenticated(
        &r,
        &alice,
        "INVITE",
        ruri,
        "alice",
        "wonderland",
        to,
        "call-1",
    );
    let (inv, _) = bob
        .recv(WAIT)
        .unwrap_or_else(|| panic!("bob gets the INVITE\n{}", r.stderr()));
    assert_eq!(
        first_line(&inv),
        format!("INVITE sip:bob@127.0.0.1:{} SIP/2.0", bob.port()),
        "{inv}"
    );
    assert_eq!(headers(&inv, "P-hint"), ["usrloc applied"], "{inv}");
    let rr = headers(&inv, "Record-Route");
    assert_eq!(rr.len(), 1, "{inv}");
    assert!(
        rr[0].starts_with(&format!("<sip:127.0.0.1:{port};lr=on;ftag=t-alice;avp=")),
        "{inv}"
    );
    bob.send(
        r.addr(),
        uas_reply(
            &inv,
            200,
            "OK",
            "uas",
            Some(&format!("sip:bob@127.0.0.1:{}", bob.port())),
        )
        .as_bytes(),
    );
    let ok = reply(&r, &alice);
    assert_eq!(first_line(&ok), "SIP/2.0 200 OK", "{ok}");

    // The BYE follows the Record-Route; the cookie brings $account back.
    let route = format!("Route: {}\r\n", rr[0]);
    let target = format!("sip:bob@127.0.0.1:{}", bob.port());
    let bye = request(
        "BYE",
        &target,
        "alice",
        &format!("{to};tag=uas"),
        &alice,
        "call-1",
        "3 BYE",
        &route,
    );
    alice.send(r.addr(), bye.as_bytes());
    let (got, _) = bob
        .recv(WAIT)
        .unwrap_or_else(|| panic!("bob gets the BYE\n{}", r.stderr()));
    assert_eq!(first_line(&got), format!("BYE {target} SIP/2.0"), "{got}");
    assert_eq!(headers(&got, "P-hint"), ["rr-enforced"], "{got}");
    assert_eq!(header(&got, "Route"), None, "{got}");
    bob.send(
        r.addr(),
        uas_reply(
            &got,
            200,
            "OK",
            "uas",
            Some(&format!("sip:bob@127.0.0.1:{}", bob.port())),
        )
        .as_bytes(),
    );
    let ok = reply(&r, &alice);
    assert_eq!(first_line(&ok), "SIP/2.0 200 OK", "{ok}");

    // A forged cookie is ignored: no FLAG_ACC, no row for this BYE.
    let forged = rr[0].replace(";avp=", ";avp=00");
    let bye2 = request(
        "BYE",
        &target,
        "alice",
        &format!("{to};tag=uas"),
        &alice,
        "call-forged",
        "4 BYE",
        &format!("Route: {forged}\r\n"),
    );
    alice.send(r.addr(), bye2.as_bytes());
    let (got, _) = bob.recv(WAIT).expect("bob gets the second BYE");
    bob.send(
        r.addr(),
        uas_reply(
            &got,
            200,
            "OK",
            "uas",
            Some(&format!("sip:bob@127.0.0.1:{}", bob.port())),
        )
        .as_bytes(),
    );
    let _ = reply(&r, &alice);

    // acc_db: the INVITE and the BYE of call-1, nothing for the forged one.
    let rows = |call_id: &str| -> Vec<Vec<String>> {
        let mut db = Db::open(&url).expect("open");
        db.query(
            "SELECT method, sip_code, sip_reason FROM acc WHERE callid = ? ORDER BY id",
            &[call_id.into()],
        )
        .expect("query")
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|c| c.into_string().unwrap_or_default())
                .collect()
        })
        .collect()
    };
    let deadline = std::time::Instant::now() + WAIT;
    while rows("call-1").len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        rows("call-1"),
        [["INVITE", "200", "OK"], ["BYE", "200", "OK"]],
        "{}",
        r.stderr()
    );
    assert!(rows("call-forged").is_empty());
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("dialog cookie ignored"), "{err}");
}
