//! SER's Hello World, end to end: the real `ser` binary runs the Hello
//! World config of "SER - Getting Started" unmodified
//! (`cfg/examples/hello-world.cfg`: registrar, record-routing, `t_relay`),
//! only its listen address replaced on the command line (`-l
//! udp:127.0.0.1:PORT`), and sipp processes are the phones (scenarios in
//! `tests/data/sipp/hello/`, one per role, each documented at its top).
//!
//! - [`register_then_call_through_ser`]: alice and bob register, alice calls
//!   bob; the 200 carries ser's Record-Route, the ACK and the BYE follow it
//!   and reach bob through ser.
//! - [`cancel_before_answer`]: bob rings, alice cancels; the CANCEL is
//!   answered by ser and sent on hop by hop, bob's 487 comes back to alice
//!   and ser acknowledges it itself.
//! - [`busy_callee`]: bob answers 486; ser acknowledges it and absorbs
//!   alice's ACK.
//! - [`callee_not_registered`]: a call to carol gets ser's 404.
//! - [`forked_call_answered_by_one_contact`]: bob has two contacts; both
//!   ring, one answers, ser cancels the other.
//! - [`call_through_two_record_routing_sers`]: alice calls through her
//!   outbound proxy ser1 to bob registered at ser2; both record-route.
//!
//! Each phone checks in its scenario what it receives (Vias, Record-Route,
//! Route, the hop-by-hop CANCEL and ACK); a failed check fails its call and
//! sipp's exit code. The tests then check what each phone received, and
//! ser's counters. Every process is bounded in time and killed on drop.
//!
//! Needs `sipp` (Debian package `sip-tester`; `tests/run.sh` installs it).

use std::net::SocketAddr;
use std::time::Duration;

use ser_tests::router::{Router, Start, TmTotals, datagram_totals, free_udp_port};
use ser_tests::sipp::{Sipp, SippOutcome};
use ser_tests::workspace_file;

/// The config, as in the book (a copy with a comment on top).
const HELLO_WORLD: &str = "cfg/examples/hello-world.cfg";

/// How long any sipp run may take before the test kills it.
const LIMIT: Duration = Duration::from_secs(40);

fn scenario(role: &str) -> String {
    format!("tests/data/sipp/hello/{role}.xml")
}

/// `ser` on the unmodified Hello World config; only the listen address is
/// given, with `-l`.
fn hello_world() -> Router {
    let cfg = std::fs::read_to_string(workspace_file(HELLO_WORLD)).expect("read hello-world.cfg");
    // The config is used as printed, with its own listen address.
    assert!(cfg.contains("listen=192.0.2.13"), "{HELLO_WORLD} changed");
    assert!(cfg.contains("t_relay()"), "{HELLO_WORLD} changed");
    Router::start(
        &cfg,
        &Start {
            args: &["-l", "udp:127.0.0.1:{PORT}"],
            ..Start::default()
        },
    )
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Registers `user` at `ser` with the Contact 127.0.0.1:`port` (a sipp
/// that exits after the 200; a UAS is started on the same port later).
fn register(ser: &Router, user: &str, port: u16) {
    let out = Sipp::new(&format!("{user} (register)"), &scenario("register"), port)
        .to(ser.addr())
        .args(["-s", user, "-m", "1", "-recv_timeout", "10000"])
        .run(LIMIT);
    out.assert_ok(&ser.stderr());
}

/// The bindings in `ser`'s location table (SIGUSR1).
fn bindings(ser: &Router) -> u64 {
    ser.statistics(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no statistics line after SIGUSR1\n{}", ser.stderr()))
        .bindings
}

/// A callee role (`callee`, `callee_cancel`, `callee_busy`) for one call on
/// `port`; `vias` is what its scenario expects in the Vias of the requests
/// it receives (see callee.xml).
fn callee(role: &str, user: &str, port: u16, vias: &str) -> Sipp {
    let sipp = Sipp::new(&format!("{user} ({role})"), &scenario(role), port)
        .args(["-s", user, "-m", "1", "-recv_timeout", "10000"])
        .set("vias", vias);
    // callee.xml lingers after the call (for tm_loss.rs); not here.
    if role == "callee" {
        sipp.set("linger", "0")
    } else {
        sipp
    }
}

/// A caller role for one call from alice on `port` to `user@domain`, sent
/// to the proxy `via`.
fn caller(role: &str, port: u16, via: SocketAddr, user: &str, domain: SocketAddr) -> Sipp {
    Sipp::new(&format!("alice ({role})"), &scenario(role), port)
        .to(via)
        .args(["-s", user, "-m", "1", "-recv_timeout", "10000"])
        .key("domain", &domain.to_string())
}

/// Panics with every report unless all runs succeeded.
fn assert_all_ok(runs: &[&SippOutcome], sers: &[&Router]) {
    if runs.iter().all(|r| r.code == Some(0)) {
        return;
    }
    let mut text = String::new();
    for r in runs {
        text += &r.report();
    }
    for s in sers {
        text += &format!("=== ser at {} ===\n{}\n", s.addr(), s.stderr());
    }
    panic!(
        "a phone failed: {:?}\n{text}",
        runs.iter()
            .map(|r| (r.role.as_str(), r.code))
            .collect::<Vec<_>>()
    );
}

/// The requests alice sent with `method`.
fn sent_requests(run: &SippOutcome, method: &str) -> Vec<ser_tests::sipp::Traced> {
    run.sent()
        .into_iter()
        .filter(|m| m.status().is_none() && m.method() == method)
        .collect()
}

/// ser's transaction counters at exit.
fn stop(ser: Router) -> (TmTotals, String) {
    let addr = ser.addr();
    let (code, err) = ser.stop();
    assert_eq!(code, Some(0), "ser at {addr} exit status\n{err}");
    let tm = TmTotals::from_stderr(&err).unwrap_or_default();
    eprintln!("ser at {addr}: {tm:?}");
    (tm, err)
}

/// Test 1: REGISTER/200 for alice and bob through ser, then alice calls bob
/// at sip:bob@ser: INVITE/100/180/200/ACK/BYE/200. The 200 carries ser's
/// Record-Route (checked by caller.xml), alice's ACK and BYE carry a Route
/// to ser, and bob receives them with ser's Via on top of alice's and no
/// Route left (checked by callee.xml).
#[test]
fn register_then_call_through_ser() {
    let ser = hello_world();
    let (alice_port, bob_port) = (free_udp_port(), free_udp_port());
    register(&ser, "alice", alice_port);
    register(&ser, "bob", bob_port);
    assert_eq!(bindings(&ser), 2, "alice and bob are registered");

    let s = ser.addr();
    let bob = callee(
        "callee",
        "bob",
        bob_port,
        &format!("{s}|{}||", local(alice_port)),
    )
    .spawn();
    let alice = caller("caller", alice_port, s, "bob", s)
        .set("rr", &format!("{s}||"))
        .run(LIMIT);
    let bob = bob.wait(LIMIT);
    assert_all_ok(&[&alice, &bob], &[&ser]);

    assert_eq!(
        alice.received_summary(),
        ["100 INVITE", "180 INVITE", "200 INVITE", "200 BYE"],
        "alice's view\n{}",
        alice.report()
    );
    assert_eq!(
        bob.received_summary(),
        ["INVITE", "ACK", "BYE"],
        "bob's view\n{}",
        bob.report()
    );
    // ser answered the INVITE with its own 100 (bob's 100 is not relayed).
    let trying = &alice.received()[0];
    assert!(
        trying
            .header("Server")
            .is_some_and(|v| v.starts_with("ser")),
        "the 100 is ser's\n{}",
        trying.text
    );
    // Alice's ACK and BYE were sent with the route set of the 200: ser.
    let want_route = format!("<sip:{s};lr=on;ftag=");
    for m in ["ACK", "BYE"] {
        let sent = sent_requests(&alice, m);
        assert_eq!(sent.len(), 1, "one {m}\n{}", alice.report());
        assert!(
            sent[0]
                .header("Route")
                .is_some_and(|r| r.starts_with(&want_route)),
            "alice's {m} has Route {want_route}...\n{}",
            sent[0].text
        );
    }

    let (tm, err) = stop(ser);
    // The INVITE and the BYE were relayed statefully; the ACK of the 2xx
    // went statelessly, the REGISTERs were answered by the registrar.
    assert_eq!(tm.created, 2, "{tm:?}\n{err}");
}

/// Test 2: CANCEL before the answer. Bob rings (180), alice sends CANCEL:
/// she gets 200 for the CANCEL and 487 for the INVITE; bob gets the CANCEL
/// from ser (one Via, ser's, with the INVITE's branch), answers 200 and
/// 487, and receives ser's ACK for the 487 (checked by callee_cancel.xml).
#[test]
fn cancel_before_answer() {
    let ser = hello_world();
    let (alice_port, bob_port) = (free_udp_port(), free_udp_port());
    register(&ser, "bob", bob_port);

    let s = ser.addr();
    let bob = callee(
        "callee_cancel",
        "bob",
        bob_port,
        &format!("{s}|{}||", local(alice_port)),
    )
    .spawn();
    let alice = caller("caller_cancel", alice_port, s, "bob", s).run(LIMIT);
    let bob = bob.wait(LIMIT);
    assert_all_ok(&[&alice, &bob], &[&ser]);

    assert_eq!(
        alice.received_summary(),
        ["100 INVITE", "180 INVITE", "200 CANCEL", "487 INVITE"],
        "alice's view\n{}",
        alice.report()
    );
    assert_eq!(
        bob.received_summary(),
        ["INVITE", "CANCEL", "ACK"],
        "bob's view\n{}",
        bob.report()
    );

    let (tm, err) = stop(ser);
    assert_eq!(tm.cancelled, 1, "one transaction cancelled\n{err}");
    // Alice's ACK of the 487 ended at ser.
    assert!(tm.absorbed >= 1, "alice's ACK absorbed\n{err}");
}

/// Test 3: busy. Bob answers 486; alice gets 486 and ACKs it; ser absorbs
/// that ACK and acknowledges bob's 486 itself (one Via, ser's, with the
/// INVITE's branch: checked by callee_busy.xml).
#[test]
fn busy_callee() {
    let ser = hello_world();
    let (alice_port, bob_port) = (free_udp_port(), free_udp_port());
    register(&ser, "bob", bob_port);

    let s = ser.addr();
    let bob = callee(
        "callee_busy",
        "bob",
        bob_port,
        &format!("{s}|{}||", local(alice_port)),
    )
    .spawn();
    let alice = caller("caller_busy", alice_port, s, "bob", s).run(LIMIT);
    let bob = bob.wait(LIMIT);
    assert_all_ok(&[&alice, &bob], &[&ser]);

    assert_eq!(
        alice.received_summary(),
        ["100 INVITE", "486 INVITE"],
        "alice's view\n{}",
        alice.report()
    );
    assert_eq!(
        bob.received_summary(),
        ["INVITE", "ACK"],
        "bob's view\n{}",
        bob.report()
    );

    let (tm, err) = stop(ser);
    assert!(tm.absorbed >= 1, "alice's ACK absorbed\n{err}");
    assert_eq!(tm.relayed, 1, "only the 486 relayed\n{err}");
}

/// Test 4: a call to a user who never registered gets ser's `404 User Not
/// Found` (Hello World's sl_send_reply after a failed lookup), and the ACK
/// of that 404 ends at ser: everything ser received was alice's INVITE
/// and ACK, and it sent one 404 per INVITE copy.
#[test]
fn callee_not_registered() {
    let ser = hello_world();
    let alice_port = free_udp_port();
    let s = ser.addr();
    let alice = caller("caller_404", alice_port, s, "carol", s).run(LIMIT);
    assert_all_ok(&[&alice], &[&ser]);
    // ser answers statelessly (no transaction, so no 100 Trying).
    assert_eq!(
        alice.received_summary(),
        ["404 INVITE"],
        "alice's view\n{}",
        alice.report()
    );

    let invites = sent_requests(&alice, "INVITE").len() as u64;
    let acks = sent_requests(&alice, "ACK").len() as u64;
    assert_eq!(acks, 1, "{}", alice.report());
    let (_, err) = stop(ser);
    let (received, sent) = datagram_totals(&err).expect("totals at exit");
    assert_eq!(
        (received, sent),
        (invites + acks, invites),
        "ser received alice's INVITE and ACK, sent one 404 per INVITE\n{err}"
    );
}

/// Test 5: forking. Bob registers two contacts (two sipp UAS, same AoR);
/// alice's INVITE reaches both; one rings and answers 200 after 0.5 s, the
/// other rings, gets ser's CANCEL and answers 487. Alice sees both 180s,
/// exactly one 200 and no 487, and completes the call (ACK and BYE
/// through ser).
#[test]
fn forked_call_answered_by_one_contact() {
    let ser = hello_world();
    let (alice_port, bob1_port, bob2_port) = (free_udp_port(), free_udp_port(), free_udp_port());
    register(&ser, "bob", bob1_port);
    register(&ser, "bob", bob2_port);
    assert_eq!(bindings(&ser), 2, "bob has two contacts");

    let s = ser.addr();
    let vias = format!("{s}|{}||", local(alice_port));
    let answers = callee("callee", "bob", bob1_port, &vias)
        .args(["-d", "500"])
        .spawn();
    let rings = callee("callee_cancel", "bob", bob2_port, &vias).spawn();
    let alice = caller("caller", alice_port, s, "bob", s)
        .set("rr", &format!("{s}||"))
        .run(LIMIT);
    let answers = answers.wait(LIMIT);
    let rings = rings.wait(LIMIT);
    assert_all_ok(&[&alice, &answers, &rings], &[&ser]);

    assert_eq!(
        alice.received_summary(),
        [
            "100 INVITE",
            "180 INVITE",
            "180 INVITE",
            "200 INVITE",
            "200 BYE"
        ],
        "alice's view: both contacts ring, one answers\n{}",
        alice.report()
    );
    let tags: Vec<String> = alice
        .received()
        .iter()
        .filter(|m| m.status() == Some(180))
        .filter_map(|m| m.header("To").map(str::to_owned))
        .collect();
    assert_ne!(tags[0], tags[1], "one 180 per contact\n{}", alice.report());
    assert_eq!(
        answers.received_summary(),
        ["INVITE", "ACK", "BYE"],
        "{}",
        answers.report()
    );
    assert_eq!(
        rings.received_summary(),
        ["INVITE", "CANCEL", "ACK"],
        "{}",
        rings.report()
    );
    let (tm, err) = stop(ser);
    // The INVITE (one transaction, two branches) and the BYE.
    assert_eq!(tm.created, 2, "{tm:?}\n{err}");
}

/// Test 6: two record-routing hops. ser1 and ser2 both run Hello World;
/// bob registers at ser2; alice sends INVITE sip:bob@ser2 to ser1 (her
/// outbound proxy), which relays it (uri!=myself) to ser2, which looks bob
/// up. The 200 at alice carries both Record-Routes (ser2's on top); her
/// ACK and BYE go alice -> ser1 -> ser2 -> bob, and bob sees ser2's Via,
/// ser1's and alice's on each.
#[test]
fn call_through_two_record_routing_sers() {
    let ser1 = hello_world();
    let ser2 = hello_world();
    let (alice_port, bob_port) = (free_udp_port(), free_udp_port());
    register(&ser1, "alice", alice_port);
    register(&ser2, "bob", bob_port);

    let (s1, s2) = (ser1.addr(), ser2.addr());
    let bob = callee(
        "callee",
        "bob",
        bob_port,
        &format!("{s2}|{s1}|{}|", local(alice_port)),
    )
    .spawn();
    let alice = caller("caller", alice_port, s1, "bob", s2)
        .set("rr", &format!("{s2}|{s1}|"))
        .run(LIMIT);
    let bob = bob.wait(LIMIT);
    assert_all_ok(&[&alice, &bob], &[&ser1, &ser2]);

    assert_eq!(
        alice.received_summary(),
        ["100 INVITE", "180 INVITE", "200 INVITE", "200 BYE"],
        "alice's view\n{}",
        alice.report()
    );
    assert_eq!(
        bob.received_summary(),
        ["INVITE", "ACK", "BYE"],
        "bob's view\n{}",
        bob.report()
    );
    // Alice's route set: ser1 first, then ser2.
    for m in ["ACK", "BYE"] {
        let sent = sent_requests(&alice, m);
        let route = sent.first().and_then(|r| r.header("Route")).unwrap_or("");
        let hops: Vec<&str> = route
            .split(',')
            .filter_map(|r| r.trim().strip_prefix("<sip:")?.split(';').next())
            .collect();
        assert_eq!(
            hops,
            [s1.to_string(), s2.to_string()],
            "alice's {m} Route: {route}"
        );
    }
    let (tm1, err1) = stop(ser1);
    let (tm2, err2) = stop(ser2);
    // Each ser relayed the INVITE and the BYE statefully.
    assert_eq!((tm1.created, tm2.created), (2, 2), "{err1}\n{err2}");
}
