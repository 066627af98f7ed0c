//! The router's statistics as a user sees them today: SIGUSR1 prints
//! every statistic that is not zero under Kamailio's names (`ser: stat
//! core:rcv_requests = 8`). Two shards, with Call-IDs on both so that the
//! counts are summed over shards; requests answered statelessly, dropped,
//! registered, forwarded statelessly and through a transaction, a
//! message the parser refuses and a keep-alive.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ser_core::shard::owner::owner;
use ser_tests::router::{Peer, Router, Start, datagram_totals, first_line, header, uas_reply};

const CONFIG: &str = r#"#!KAMAILIO
listen=udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_contacts", 5)

request_route {
    if (method == "REGISTER") {
        save("location");
        exit;
    }
    if (method == "OPTIONS") {
        sl_send_reply("200", "OK");
        exit;
    }
    if (method == "MESSAGE") {
        drop;
    }
    if (method == "INVITE" || method == "ACK") {
        t_relay();
        exit;
    }
    forward();
}
"#;

const WAIT: Duration = Duration::from_secs(3);

/// A Call-ID with `prefix` owned by shard `shard` of 2.
fn call_id_on(prefix: &str, shard: usize) -> String {
    (0..1000)
        .map(|i| format!("{prefix}-{i}@127.0.0.1"))
        .find(|c| owner(c.as_bytes(), 2) == shard)
        .expect("some Call-ID lands on the shard")
}

fn request(method: &str, ruri: &str, uac: &Peer, call_id: &str, extra: &str) -> String {
    let p = uac.port();
    let branch = call_id.replace('@', "-");
    format!(
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@127.0.0.1>;tag=a1\r\n\
         To: <sip:bob@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    )
}

/// The next message whose first line starts with `start`.
fn expect(p: &Peer, start: &str, what: &str) -> String {
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        if let Some((m, _)) = p.recv(Duration::from_millis(200))
            && first_line(&m).starts_with(start)
        {
            return m;
        }
    }
    panic!("no {what} ({start}...)");
}

/// The statistics once `done` holds (each shard publishes at its next
/// turn), or the last ones with the router's output in the panic.
fn stats_when(r: &Router, done: impl Fn(&HashMap<String, u64>) -> bool) -> HashMap<String, u64> {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let s = r
            .stats(Duration::from_secs(3))
            .unwrap_or_else(|| panic!("no statistics after SIGUSR1\n{}", r.stderr()));
        if done(&s) {
            return s;
        }
        if Instant::now() >= end {
            panic!("statistics never settled: {s:?}\n{}", r.stderr());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigusr1_prints_the_counts_under_kamailios_names() {
    let r = Router::start(
        CONFIG,
        &Start {
            args: &["-n", "2"],
            ..Start::default()
        },
    );
    let to = r.addr();
    let (uac, uas) = (Peer::new(), Peer::new());
    let ruri = format!("sip:bob@127.0.0.1:{}", uas.port());
    let here = format!("sip:127.0.0.1:{}", r.port);

    // Nothing yet but the gauges and parameters.
    let s = r.stats(WAIT).expect("statistics at start");
    assert_eq!(s.get("core:rcv_requests"), None, "{s:?}");
    assert_eq!(s.get("registrar:default_expire"), Some(&3600));
    assert_eq!(s.get("registrar:max_contacts"), Some(&5));
    assert!(
        s.get("shmem:real_used_size").is_some_and(|&v| v > 0),
        "{s:?}"
    );

    // Stateless replies, one on each shard.
    for shard in [0, 1] {
        let cid = call_id_on("options", shard);
        uac.send(to, request("OPTIONS", &here, &uac, &cid, "").as_bytes());
        expect(&uac, "SIP/2.0 200", "the 200 to OPTIONS");
    }
    // Dropped by the script.
    let cid = call_id_on("message", 1);
    uac.send(to, request("MESSAGE", &ruri, &uac, &cid, "").as_bytes());
    // Registered, and refused (below min_expires).
    let contact = format!("Contact: <sip:bob@127.0.0.1:{}>\r\n", uac.port());
    let cid = call_id_on("register", 0);
    let reg = request("REGISTER", &here, &uac, &cid, &contact);
    uac.send(to, reg.as_bytes());
    expect(&uac, "SIP/2.0 200", "the 200 to REGISTER");
    let cid = call_id_on("register-short", 1);
    let short = request(
        "REGISTER",
        &here,
        &uac,
        &cid,
        &format!("{contact}Expires: 10\r\n"),
    );
    uac.send(to, short.as_bytes());
    expect(&uac, "SIP/2.0 423", "the 423 to a short REGISTER");
    // Refused by the parser (Content-Length larger than the body): 400.
    let cid = call_id_on("bad", 0);
    let bad = request("OPTIONS", &here, &uac, &cid, "")
        .replace("Content-Length: 0", "Content-Length: 99");
    uac.send(to, bad.as_bytes());
    expect(&uac, "SIP/2.0 400", "the 400 to a broken request");
    // A keep-alive: not SIP, not an error.
    uac.send(to, b"\r\n\r\n");
    // Forwarded statelessly, and its reply.
    let cid = call_id_on("notify", 1);
    uac.send(to, request("NOTIFY", &ruri, &uac, &cid, "").as_bytes());
    let notify = expect(&uas, "NOTIFY ", "the forwarded NOTIFY");
    uas.send(to, uas_reply(&notify, 200, "OK", "uas", None).as_bytes());
    expect(&uac, "SIP/2.0 200", "the forwarded 200 to NOTIFY");
    // Through a transaction: 100 from the router, 180 and 486 relayed,
    // the ACK of the 486 absorbed.
    let cid = call_id_on("invite", 0);
    let invite = request("INVITE", &ruri, &uac, &cid, "");
    uac.send(to, invite.as_bytes());
    expect(&uac, "SIP/2.0 100", "100 Trying");
    let got = expect(&uas, "INVITE ", "the relayed INVITE");
    uas.send(to, uas_reply(&got, 180, "Ringing", "uas", None).as_bytes());
    expect(&uac, "SIP/2.0 180", "the relayed 180");
    uas.send(
        to,
        uas_reply(&got, 486, "Busy Here", "uas", None).as_bytes(),
    );
    let busy = expect(&uac, "SIP/2.0 486", "the relayed 486");
    expect(&uas, "ACK ", "the router's ACK of the 486");
    let ack = invite
        .replacen("INVITE", "ACK", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
        .replace(
            "To: <sip:bob@127.0.0.1>",
            &format!("To: {}", header(&busy, "To").unwrap()),
        );
    uac.send(to, ack.as_bytes());

    let s = stats_when(&r, |s| {
        s.get("core:rcv_requests") == Some(&8)
            && s.get("shard:tm_retransmissions_absorbed") == Some(&1)
            && s.get("shard:not_sip") == Some(&2)
    });
    let want: &[(&str, u64)] = &[
        ("core:rcv_requests", 8),
        ("core:rcv_requests_options", 2),
        ("core:rcv_requests_message", 1),
        ("core:rcv_requests_register", 2),
        ("core:rcv_requests_notify", 1),
        ("core:rcv_requests_invite", 1),
        ("core:rcv_requests_ack", 1),
        ("core:rcv_replies", 3),
        ("core:rcv_replies_1xx", 1),
        ("core:rcv_replies_18x", 1),
        ("core:rcv_replies_1xx_invite", 1),
        ("core:rcv_replies_2xx", 1),
        ("core:rcv_replies_4xx", 1),
        ("core:rcv_replies_4xx_invite", 1),
        ("core:rcv_replies_486", 1),
        ("core:fwd_requests", 2),
        ("core:fwd_replies", 3),
        ("core:drop_requests", 1),
        ("core:err_requests", 1),
        ("core:bad_msg_hdr", 1),
        ("shard:received", 13),
        ("shard:not_sip", 2),
        ("shard:tm_retransmissions_absorbed", 1),
        ("sl:sent_replies", 5),
        ("sl:200_replies", 3),
        ("sl:400_replies", 1),
        ("sl:4xx_replies", 1),
        ("sl:sent_err_replies", 1),
        ("registrar:accepted_regs", 1),
        ("registrar:rejected_regs", 1),
        ("usrloc:registered_users", 1),
        ("usrloc:location_users", 1),
        ("usrloc:location_contacts", 1),
        ("tmx:UAS_transactions", 1),
        ("tmx:4xx_transactions", 1),
        ("tmx:rpl_received", 2),
        ("tmx:rpl_relayed", 2),
        ("tmx:rpl_generated", 1),
        ("tmx:rpl_sent", 3),
    ];
    for (name, value) in want {
        assert_eq!(s.get(*name), Some(value), "{name}: {s:?}");
    }
    // Nothing that did not happen: zeros are not printed.
    for name in [
        "core:drop_replies",
        "core:err_replies",
        "core:unsupported_methods",
        "core:rcv_replies_2xx_invite",
        "sl:failures",
        "tmx:rpl_absorbed",
        "tmx:2xx_transactions",
        "shard:panics",
    ] {
        assert_eq!(s.get(name), None, "{name}: {s:?}");
    }
    // The summary line is still there, from the same counters.
    let st = r.statistics(WAIT).expect("the statistics line");
    assert_eq!(st.bindings, 1);

    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
    // The exit lines count what the statistics counted.
    assert_eq!(datagram_totals(&err).map(|t| t.0), Some(13), "{err}");
}
