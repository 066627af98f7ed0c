//! The transaction layer (tm) of the running router, message by message
//! over real UDP sockets: a UAC and one or two UASs are plain sockets that
//! send hand-written requests and replies, so that every retransmission,
//! ACK and CANCEL the router sends (or must not send) can be seen.
//!
//! Timers are shortened by the config (`fr_timer` 1.5 s, `fr_inv_timer`
//! 2.5 s, `wt_timer` 1 s) so that the timeout cases stay short.

use std::time::{Duration, Instant};

use ser_tests::router::{Peer, Router, Start, first_line, header, headers};

const CONFIG: &str = r#"#!KAMAILIO
listen=udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "xlog.so"
loadmodule "textops.so"
modparam("tm", "fr_timer", 1500)
modparam("tm", "fr_inv_timer", 2500)
modparam("tm", "wt_timer", 1000)

request_route {
    xlog("L_ERR", "script-ran $rm $ci\n");
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if ($rU == "local") {
        t_newtran();
        t_reply("404", "Not Here");
        exit;
    }
    if ($rU == "serial") {
        t_on_failure("NEXT");
    }
    if ($rU == "fork") {
        append_branch("sip:fork@127.0.0.1:{B2}");
    }
    if ($rU == "branchy") {
        append_branch("sip:dropme@127.0.0.1:{B2}");
        t_on_branch("PER_BRANCH");
    }
    if ($rU == "huge") {
        t_set_fr(9223372036854775807, 9223372036854775807);
    }
    if ($rU == "nowhere") {
        $ru = "sip:nowhere@unresolvable.invalid";
    }
    t_on_reply("SEEN");
    if (!t_relay()) {
        sl_reply_error();
    }
}

onreply_route[SEEN] {
    if (t_check_status("180")) {
        xlog("L_ERR", "ringing $ci\n");
    }
}

branch_route[PER_BRANCH] {
    xlog("L_ERR", "branch $ru $ci\n");
    if ($rU == "dropme") {
        drop;
    }
}

failure_route[NEXT] {
    if (t_is_canceled()) {
        exit;
    }
    if (t_check_status("486|408")) {
        $ru = "sip:serial@127.0.0.1:{B2}";
        append_branch();
        t_relay();
    }
}
"#;

const WAIT: Duration = Duration::from_secs(3);
/// How long "nothing arrives" is waited for.
const QUIET: Duration = Duration::from_millis(300);

struct Setup {
    r: Router,
    uac: Peer,
    b1: Peer,
    b2: Peer,
}

fn setup() -> Setup {
    let b2 = Peer::new();
    let cfg = CONFIG.replace("{B2}", &b2.port().to_string());
    let r = Router::start(&cfg, &Start::default());
    Setup {
        r,
        uac: Peer::new(),
        b1: Peer::new(),
        b2,
    }
}

impl Setup {
    /// A request from the UAC to `user` at the first UAS (CSeq 1).
    fn to_b1(&self, method: &str, user: &str, call_id: &str, branch: &str) -> String {
        let ruri = format!("sip:{user}@127.0.0.1:{}", self.b1.port());
        request(method, &ruri, &self.uac, call_id, branch, 1)
    }
}

fn request(method: &str, ruri: &str, uac: &Peer, call_id: &str, branch: &str, cseq: u32) -> String {
    let p = uac.port();
    let body = if method == "INVITE" { "v=0\r\n" } else { "" };
    format!(
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@127.0.0.1:{p}>\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A reply to `req` (as received by a UAS), with a To tag.
fn reply(req: &str, code: u16, reason: &str) -> String {
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for v in headers(req, "Via") {
        out.push_str(&format!("Via: {v}\r\n"));
    }
    let to = header(req, "To").unwrap_or("");
    let to = if to.contains(";tag=") || code == 100 {
        to.to_string()
    } else {
        format!("{to};tag=b-{code}")
    };
    out.push_str(&format!(
        "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        header(req, "From").unwrap_or(""),
        header(req, "Call-ID").unwrap_or(""),
        header(req, "CSeq").unwrap_or("")
    ));
    out
}

/// The ACK the UAC sends for a negative final reply (same branch as the
/// INVITE, RFC 3261 17.1.1.3).
fn ack_for(invite: &str, final_reply: &str) -> String {
    let to = header(final_reply, "To").unwrap_or("");
    let mut out = String::new();
    for (i, line) in invite.split("\r\n").enumerate() {
        if line.is_empty() {
            break;
        }
        let line = if i == 0 {
            line.replacen("INVITE", "ACK", 1)
        } else if line.starts_with("To:") {
            format!("To: {to}")
        } else if line.starts_with("CSeq:") {
            line.replace("INVITE", "ACK")
        } else if line.starts_with("Content-Length:") {
            "Content-Length: 0".to_string()
        } else {
            line.to_string()
        };
        out.push_str(&line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out
}

/// The next message whose first line starts with `start`, skipping
/// others (returns it; panics with what arrived when it does not come).
fn expect(p: &Peer, start: &str, what: &str) -> String {
    let end = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < end {
        match p.recv(end - Instant::now()) {
            Some((m, _)) if first_line(&m).starts_with(start) => return m,
            Some((m, _)) => seen.push(first_line(&m).to_string()),
            None => break,
        }
    }
    panic!("{what}: no `{start}` arrived; got {seen:?}");
}

/// Nothing arrives within `QUIET`.
fn quiet(p: &Peer, what: &str) {
    if let Some((m, _)) = p.recv(QUIET) {
        panic!("{what}: unexpected message:\n{m}");
    }
}

fn script_runs(r: &Router, call_id: &str) -> usize {
    r.stderr()
        .lines()
        .filter(|l| l.contains("script-ran") && l.contains(call_id))
        .count()
}

#[test]
fn invite_retransmissions_are_answered_from_the_transaction() {
    let s = setup();
    let to = s.r.addr();
    let inv = s.to_b1("INVITE", "bob", "retr-1", "retr1");
    s.uac.send(to, inv.as_bytes());
    let trying = expect(&s.uac, "SIP/2.0 100", "100 Trying from the transaction");
    assert!(header(&trying, "To").is_some_and(|t| !t.contains("tag=")));
    let got = expect(&s.b1, "INVITE ", "the relayed INVITE");
    assert_eq!(headers(&got, "Via").len(), 2, "our Via on top:\n{got}");
    s.b1.send(to, reply(&got, 180, "Ringing").as_bytes());
    expect(&s.uac, "SIP/2.0 180", "the relayed 180");
    // A retransmission gets the last reply again and is not relayed.
    s.uac.send(to, inv.as_bytes());
    expect(
        &s.uac,
        "SIP/2.0 180",
        "the 180 again, for the retransmission",
    );
    quiet(&s.b1, "the UAS after a retransmitted INVITE");
    // Busy: the router ACKs the 486 itself and relays it.
    let busy = reply(&got, 486, "Busy Here");
    s.b1.send(to, busy.as_bytes());
    let ack = expect(&s.b1, "ACK ", "the router's ACK of the 486");
    assert_eq!(
        header(&ack, "Via").map(|v| v.split(';').nth(1).map(str::to_string)),
        header(&got, "Via").map(|v| v.split(';').nth(1).map(str::to_string)),
        "the ACK has the INVITE's branch"
    );
    let fin = expect(&s.uac, "SIP/2.0 486", "the relayed 486");
    // The UAS retransmits its 486: ACKed again, not relayed again.
    s.b1.send(to, busy.as_bytes());
    expect(&s.b1, "ACK ", "the ACK of the retransmitted 486");
    // The UAC's ACK ends at the router.
    s.uac.send(to, ack_for(&inv, &fin).as_bytes());
    quiet(&s.b1, "the UAS after the UAC's ACK");
    quiet(&s.uac, "the UAC after its ACK");
    assert_eq!(script_runs(&s.r, "retr-1"), 1, "{}", s.r.stderr());
    assert!(s.r.stderr().contains("ringing retr-1"), "onreply_route ran");
}

#[test]
fn silent_branch_times_out_with_408_and_retransmissions() {
    let s = setup();
    let to = s.r.addr();
    let inv = s.to_b1("INVITE", "bob", "silent-1", "silent1");
    let t0 = Instant::now();
    s.uac.send(to, inv.as_bytes());
    expect(&s.uac, "SIP/2.0 100", "100 Trying");
    // Timer A: the INVITE again after T1 (0.5 s); the next one (1 s
    // later) meets fr_timer.
    expect(&s.b1, "INVITE ", "first INVITE");
    let t1 = Instant::now();
    expect(&s.b1, "INVITE ", "retransmission after T1");
    let gap = t1.elapsed();
    assert!(
        gap >= Duration::from_millis(400) && gap < Duration::from_millis(800),
        "timer A is T1 (500 ms): {gap:?}"
    );
    let fin = expect(&s.uac, "SIP/2.0 408", "408 after fr_timer");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(2600),
        "408 after fr_timer (1.5 s), took {took:?}"
    );
    // No CANCEL for a branch that never answered (RFC 3261 9.1).
    if let Some((m, _)) = s.b1.recv(QUIET) {
        assert!(!m.starts_with("CANCEL"), "no CANCEL without a 1xx:\n{m}");
    }
    s.uac.send(to, ack_for(&inv, &fin).as_bytes());
}

#[test]
fn ringing_branch_is_cancelled_after_fr_inv_timer() {
    let s = setup();
    let to = s.r.addr();
    let inv = s.to_b1("INVITE", "bob", "ring-1", "ring1");
    s.uac.send(to, inv.as_bytes());
    let got = expect(&s.b1, "INVITE ", "the relayed INVITE");
    s.b1.send(to, reply(&got, 180, "Ringing").as_bytes());
    expect(&s.uac, "SIP/2.0 180", "180");
    let cancel = expect(&s.b1, "CANCEL ", "CANCEL after fr_inv_timer");
    s.b1.send(to, reply(&cancel, 200, "OK").as_bytes());
    let fin = expect(&s.uac, "SIP/2.0 408", "408 to the caller");
    s.b1.send(to, reply(&got, 487, "Request Terminated").as_bytes());
    expect(&s.b1, "ACK ", "ACK of the 487");
    s.uac.send(to, ack_for(&inv, &fin).as_bytes());
    quiet(&s.uac, "no 487 after the 408");
}

#[test]
fn cancel_is_answered_and_sent_hop_by_hop() {
    let s = setup();
    let to = s.r.addr();
    let ruri = format!("sip:bob@127.0.0.1:{}", s.b1.port());
    let inv = request("INVITE", &ruri, &s.uac, "cancel-1", "cancel1", 1);
    s.uac.send(to, inv.as_bytes());
    let got = expect(&s.b1, "INVITE ", "INVITE");
    s.b1.send(to, reply(&got, 180, "Ringing").as_bytes());
    expect(&s.uac, "SIP/2.0 180", "180");
    let cancel = request("CANCEL", &ruri, &s.uac, "cancel-1", "cancel1", 1);
    s.uac.send(to, cancel.as_bytes());
    let ok = expect(&s.uac, "SIP/2.0 200", "200 for the CANCEL");
    assert!(header(&ok, "CSeq").is_some_and(|c| c.ends_with("CANCEL")));
    let down = expect(&s.b1, "CANCEL ", "our CANCEL");
    assert_eq!(
        header(&down, "Via"),
        header(&got, "Via"),
        "the CANCEL has the INVITE's top Via"
    );
    s.b1.send(to, reply(&down, 200, "OK").as_bytes());
    s.b1.send(to, reply(&got, 487, "Request Terminated").as_bytes());
    expect(&s.b1, "ACK ", "ACK of the 487");
    let fin = expect(&s.uac, "SIP/2.0 487", "487 to the caller");
    s.uac.send(to, ack_for(&inv, &fin).as_bytes());
    quiet(&s.b1, "no ACK from the UAC reaches the UAS");
}

#[test]
fn failure_route_forks_serially() {
    let s = setup();
    let to = s.r.addr();
    let inv = s.to_b1("INVITE", "serial", "serial-1", "serial1");
    s.uac.send(to, inv.as_bytes());
    let first = expect(&s.b1, "INVITE ", "first branch");
    s.b1.send(to, reply(&first, 486, "Busy Here").as_bytes());
    expect(&s.b1, "ACK ", "ACK of the 486");
    let second = expect(&s.b2, "INVITE ", "second branch from the failure route");
    assert!(second.starts_with(&format!("INVITE sip:serial@127.0.0.1:{} ", s.b2.port())));
    s.b2.send(to, reply(&second, 200, "OK").as_bytes());
    let ok = expect(&s.uac, "SIP/2.0 200", "the 200 of the second branch");
    assert!(header(&ok, "To").is_some_and(|t| t.contains("tag=b-200")));
    quiet(&s.uac, "the 486 never reaches the caller");
}

#[test]
fn six_hundred_cancels_the_other_branch() {
    let s = setup();
    let to = s.r.addr();
    let inv = s.to_b1("INVITE", "fork", "fork-1", "fork1");
    s.uac.send(to, inv.as_bytes());
    let a = expect(&s.b1, "INVITE ", "branch 1");
    let b = expect(&s.b2, "INVITE ", "branch 2");
    s.b2.send(to, reply(&b, 180, "Ringing").as_bytes());
    expect(&s.uac, "SIP/2.0 180", "180 of branch 2");
    s.b1.send(to, reply(&a, 603, "Decline").as_bytes());
    expect(&s.b1, "ACK ", "ACK of the 603");
    let c = expect(&s.b2, "CANCEL ", "branch 2 cancelled by the 603");
    s.b2.send(to, reply(&c, 200, "OK").as_bytes());
    quiet(&s.uac, "no final reply before every branch ended");
    s.b2.send(to, reply(&b, 487, "Request Terminated").as_bytes());
    expect(&s.b2, "ACK ", "ACK of the 487");
    expect(&s.uac, "SIP/2.0 603", "the 603 wins over the 487");
}

#[test]
fn a_503_goes_upstream_as_500() {
    let s = setup();
    let to = s.r.addr();
    let msg = s.to_b1("MESSAGE", "bob", "503-1", "m503");
    s.uac.send(to, msg.as_bytes());
    let got = expect(&s.b1, "MESSAGE ", "MESSAGE");
    s.b1.send(to, reply(&got, 503, "Service Unavailable").as_bytes());
    expect(&s.uac, "SIP/2.0 500", "503 becomes 500 (RFC 3261 16.7)");
}

#[test]
fn non_invite_retransmission_after_the_final_reply() {
    let s = setup();
    let to = s.r.addr();
    let msg = s.to_b1("MESSAGE", "bob", "msg-1", "msg1");
    s.uac.send(to, msg.as_bytes());
    let got = expect(&s.b1, "MESSAGE ", "MESSAGE");
    s.b1.send(to, reply(&got, 202, "Accepted").as_bytes());
    expect(&s.uac, "SIP/2.0 202", "202");
    s.uac.send(to, msg.as_bytes());
    expect(&s.uac, "SIP/2.0 202", "the 202 again from the transaction");
    quiet(&s.b1, "no second MESSAGE");
    assert_eq!(script_runs(&s.r, "msg-1"), 1);
}

#[test]
fn t_reply_answers_retransmissions_without_the_script() {
    let s = setup();
    let to = s.r.addr();
    let inv = request(
        "INVITE",
        "sip:local@127.0.0.1",
        &s.uac,
        "local-1",
        "local1",
        1,
    );
    s.uac.send(to, inv.as_bytes());
    let first = expect(&s.uac, "SIP/2.0 404 Not Here", "t_reply");
    s.uac.send(to, inv.as_bytes());
    let again = expect(&s.uac, "SIP/2.0 404", "the same reply again");
    assert_eq!(first, again);
    // Unacknowledged, timer G retransmits it.
    expect(&s.uac, "SIP/2.0 404", "retransmitted by timer G");
    s.uac.send(to, ack_for(&inv, &first).as_bytes());
    // The ACK reached the transaction: no more retransmissions (the next
    // one was due 1 s after the last).
    if let Some((m, _)) = s.uac.recv(Duration::from_millis(1500)) {
        panic!("retransmitted after the ACK:\n{m}");
    }
    assert_eq!(script_runs(&s.r, "local-1"), 1);
}

#[test]
fn unreachable_destination_makes_t_relay_false() {
    let s = setup();
    let to = s.r.addr();
    let inv = request(
        "INVITE",
        "sip:nowhere@127.0.0.1",
        &s.uac,
        "nowhere-1",
        "nowhere1",
        1,
    );
    s.uac.send(to, inv.as_bytes());
    expect(&s.uac, "SIP/2.0 500", "sl_reply_error after t_relay failed");
    assert!(
        s.r.wait_for("DNS is not built yet", WAIT).is_some(),
        "{}",
        s.r.stderr()
    );
}

#[test]
fn transactions_end_after_the_wait() {
    let s = setup();
    let to = s.r.addr();
    let msg = s.to_b1("MESSAGE", "bob", "end-1", "end1");
    s.uac.send(to, msg.as_bytes());
    let got = expect(&s.b1, "MESSAGE ", "MESSAGE");
    s.b1.send(to, reply(&got, 200, "OK").as_bytes());
    expect(&s.uac, "SIP/2.0 200", "200");
    // wt_timer is 1 s, T4 (timer K) 5 s.
    std::thread::sleep(Duration::from_millis(5600));
    let (code, err) = s.r.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("ser: tm: transactions created 1, live 0,"),
        "{err}"
    );
}

#[test]
fn branch_route_runs_per_branch() {
    let s = setup();
    let to = s.r.addr();
    let inv = s.to_b1("INVITE", "branchy", "branchy-1", "branchy1");
    s.uac.send(to, inv.as_bytes());
    let got = expect(&s.b1, "INVITE ", "the branch the route kept");
    quiet(&s.b2, "the dropped branch");
    s.b1.send(to, reply(&got, 200, "OK").as_bytes());
    expect(&s.uac, "SIP/2.0 200", "200");
    let err = s.r.stderr();
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("branch sip:") && l.contains("branchy-1"))
        .collect();
    assert_eq!(lines.len(), 2, "once per branch:\n{err}");
    assert!(lines.iter().any(|l| l.contains("sip:dropme@")), "{err}");
}

#[test]
fn absurd_timer_values_do_not_break_the_shard() {
    let s = setup();
    let to = s.r.addr();
    let inv = s.to_b1("INVITE", "huge", "huge-1", "huge1");
    s.uac.send(to, inv.as_bytes());
    let got = expect(&s.b1, "INVITE ", "relayed with a huge fr_timer");
    s.b1.send(to, reply(&got, 180, "Ringing").as_bytes());
    expect(&s.uac, "SIP/2.0 180", "180");
    // The shard goes on serving.
    let msg = s.to_b1("MESSAGE", "bob", "huge-2", "huge2");
    s.uac.send(to, msg.as_bytes());
    expect(&s.b1, "MESSAGE ", "the next request");
    let (code, err) = s.r.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("BUG"), "{err}");
}
