//! avpops end to end: the real `ser` on a SER 0.9 config (the
//! call-forwarding pattern of the seed configs, `avp_url` pointing at
//! MySQL and replaced by `--db=sqlite://...`), `usr_preferences` in a real
//! SQLite file, requests over UDP from a real socket, and a UDP peer as
//! the forwarding target.

use std::time::Duration;

use ser_core::store::tables::{self, Preference};
use ser_core::store::{Db, DbUrl};
use ser_tests::router::{Peer, Router, Start, TempDir, first_line};

const CONFIG: &str = r#"listen=udp:127.0.0.1:{PORT}
loadmodule "/usr/local/lib/ser/modules/sl.so"
loadmodule "/usr/local/lib/ser/modules/avpops.so"
modparam("avpops", "avp_url", "mysql://ser:heslo@localhost/ser")
modparam("avpops", "avp_table", "usr_preferences")

route {
    if (method=="OPTIONS") {
        avp_write("$from/username", "s:caller");
        avp_write("i:45", "inv_timeout");
        if (avp_check("s:caller", "eq/ALICE/i")) {
            avp_delete("s:caller");
            if (avp_check("s:caller", "fm/*")) {
                sl_send_reply("500", "Not Deleted");
                break;
            };
            sl_send_reply("201", "Alice");
            break;
        };
        if (avp_check("inv_timeout", "ge/i:45") && avp_check("s:caller", "re/^[0-9]+$")) {
            sl_send_reply("202", "Number");
            break;
        };
        sl_send_reply("403", "Other");
        break;
    };
    if (avp_db_load("$ruri/username", "s:callfwd")) {
        if (avp_check("s:callfwd", "eq/$ruri/i")) {
            sl_send_reply("482", "Loop");
            break;
        };
        avp_pushto("$ruri", "s:callfwd");
        forward();
        break;
    };
    sl_send_reply("404", "Not Found");
}
"#;

const WAIT: Duration = Duration::from_secs(5);

fn pref(username: &str, attribute: &str, value: &str) -> Preference {
    Preference {
        uuid: String::new(),
        username: username.into(),
        domain: "127.0.0.1".into(),
        attribute: attribute.into(),
        type_: 0,
        value: value.into(),
        last_modified: 1,
    }
}

fn request(method: &str, ruri: &str, from_user: &str, peer: &Peer, n: u32) -> String {
    format!(
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bK-avp{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from_user}@example.org>;tag=t{n}\r\n\
         To: <{ruri}>\r\n\
         Call-ID: avpops-{n}@test\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n",
        peer.port()
    )
}

fn status(r: &Router, peer: &Peer, msg: &str) -> u16 {
    peer.send(r.addr(), msg.as_bytes());
    let (reply, _) = peer
        .recv(WAIT)
        .unwrap_or_else(|| panic!("no reply to\n{msg}\n{}", r.stderr()));
    first_line(&reply)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad reply: {reply}"))
}

#[test]
fn call_forwarding_from_usr_preferences() {
    let dir = TempDir::new("ser-avpops");
    let url_text = format!("sqlite://{}/ser.db", dir.0.display());
    let url = DbUrl::parse(&url_text).unwrap();
    let target = Peer::new();
    let fwd = format!("sip:carol@127.0.0.1:{}", target.port());
    {
        let mut db = Db::open(&url).unwrap_or_else(|e| panic!("open {url}: {e}"));
        db.migrate().expect("migrate");
        tables::preference_add(&mut db, &pref("bob", "callfwd", &fwd)).expect("add");
        tables::preference_add(&mut db, &pref("bob", "fwdbusy", "sip:x@192.0.2.9")).expect("add");
    }
    let db_arg = format!("--db={url_text}");
    let r = Router::start(
        CONFIG,
        &Start {
            args: &[&db_arg],
            ..Start::default()
        },
    );
    let uac = Peer::new();
    let port = r.addr().port();

    // avp_write / avp_check / avp_delete: one code per outcome.
    let opt = |user: &str, n| request("OPTIONS", &format!("sip:x@127.0.0.1:{port}"), user, &uac, n);
    assert_eq!(status(&r, &uac, &opt("alice", 1)), 201);
    assert_eq!(status(&r, &uac, &opt("4930123", 2)), 202);
    assert_eq!(status(&r, &uac, &opt("mallory", 3)), 403);

    // bob has callfwd: the INVITE goes to the preference's URI.
    let invite = request(
        "INVITE",
        &format!("sip:bob@127.0.0.1:{port}"),
        "alice",
        &uac,
        4,
    );
    uac.send(r.addr(), invite.as_bytes());
    let (got, from) = target
        .recv(WAIT)
        .unwrap_or_else(|| panic!("the INVITE was not forwarded:\n{}", r.stderr()));
    assert_eq!(from, r.addr());
    assert_eq!(first_line(&got), format!("INVITE {fwd} SIP/2.0"), "{got}");
    assert!(got.contains("Call-ID: avpops-4@test"), "{got}");

    // Nobody: 404. A user forwarded to their own URI: the check says loop.
    let nobody = request(
        "INVITE",
        &format!("sip:nobody@127.0.0.1:{port}"),
        "alice",
        &uac,
        5,
    );
    assert_eq!(status(&r, &uac, &nobody), 404);
    let own = format!("sip:LOOPY@127.0.0.1:{port}");
    {
        let mut db = Db::open(&url).expect("open");
        tables::preference_add(&mut db, &pref("loopy", "callfwd", &own)).expect("add");
    }
    // Added while the router runs: read by the next request (no cache).
    let looped = request(
        "INVITE",
        &format!("sip:loopy@127.0.0.1:{port}"),
        "alice",
        &uac,
        6,
    );
    assert_eq!(status(&r, &uac, &looped), 482);
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
}
