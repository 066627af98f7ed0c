//! usrloc's `db_mode` with real stores: after `kill -9` in the middle of a
//! registration load with write-through (`db_mode=1`), every binding that
//! got a `200 OK` is there when the router starts again; write-back
//! (`db_mode=2`) writes at exit; and with PostgreSQL stopped in the middle
//! of a load, the router keeps answering (500 while it cannot write),
//! never stalls, and recovers when the server returns. With store only
//! (`db_mode=3`) two routers sharing one SQLite file see each other's
//! registrations and de-registrations at once, and keep each other's
//! contacts of one AoR.

use std::collections::HashSet;
use std::time::Duration;

use ser_tests::ctl::kamcmd;
use ser_tests::dbserver::DbServer;
use ser_tests::router::{Peer, Router, Start, first_line, free_udp_port};
use ser_tests::sipp::{Sipp, SippOutcome};

/// A registrar with its bindings in the store at `url` (`db_mode`), and a
/// control socket in its directory.
fn config(url: &str, db_mode: u8) -> String {
    format!(
        "listen=udp:127.0.0.1:{{PORT}}\nchildren=2\n\
         loadmodule \"sl\"\nloadmodule \"usrloc\"\nloadmodule \"registrar\"\nloadmodule \"ctl\"\n\
         modparam(\"usrloc\", \"db_url\", \"{url}\")\n\
         modparam(\"usrloc\", \"db_mode\", {db_mode})\n\
         modparam(\"ctl\", \"binrpc\", \"unix:{{DIR}}/ctl\")\n\
         route {{ if (method == \"REGISTER\") {{ save(\"location\"); exit; }} \
         sl_send_reply(\"404\", \"Not Found\"); }}\n"
    )
}

/// Every AoR of `location`, paged through `kamcmd ul.dump brief`.
fn dumped(r: &Router) -> HashSet<String> {
    let addr = format!("unix:{}", r.dir().join("ctl").display());
    let mut out = HashSet::new();
    let mut from: Option<String> = None;
    loop {
        let mut args = vec!["ul.dump", "brief"];
        if let Some(f) = &from {
            args.push(f);
        }
        let o = kamcmd(&addr, &args);
        assert_eq!(o.code, Some(0), "{o:?}");
        let mut next = None;
        for l in o.stdout.lines() {
            if let Some(a) = l.strip_prefix("\t\t\t\tAoR: ") {
                out.insert(a.to_string());
            } else if let Some(n) = l.strip_prefix("\tNext: ") {
                next = Some(n.to_string());
            }
        }
        match next {
            Some(n) => from = Some(n),
            None => return out,
        }
    }
}

/// The users whose REGISTER got a 200 OK, from sipp's message trace.
fn registered(out: &SippOutcome) -> HashSet<String> {
    out.received()
        .iter()
        .filter(|m| m.first_line().starts_with("SIP/2.0 200"))
        .filter_map(|m| {
            let to = m.header("To")?;
            let start = to.find("sip:")? + 4;
            let end = to[start..].find('@')? + start;
            Some(to[start..end].to_string())
        })
        .collect()
}

fn temp_sqlite(tag: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("ser-ul-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("ser.db").display());
    (dir, url)
}

#[test]
fn write_through_keeps_every_answered_binding_across_kill_9() {
    let (dir, url) = temp_sqlite("kill");
    let r = Router::start(&config(&url, 1), &Start::default());
    let load = Sipp::new(
        "phones",
        "tests/data/sipp/usrloc/register_many.xml",
        free_udp_port(),
    )
    .to(r.addr())
    .args([
        "-m",
        "4000",
        "-r",
        "800",
        "-l",
        "400",
        "-recv_timeout",
        "3000",
    ])
    .timeout(Duration::from_secs(30))
    .spawn();
    // Killed in the middle of the load, without a chance to write anything
    // more.
    std::thread::sleep(Duration::from_millis(2500));
    r.signal(libc::SIGKILL);
    let out = load.wait(Duration::from_secs(40));
    let answered = registered(&out);
    assert!(
        answered.len() > 300,
        "only {} registrations answered before the kill:\n{}",
        answered.len(),
        out.screen
    );
    assert!(answered.len() < 4000, "the load ended before the kill");
    drop(r);
    let again = Router::start(&config(&url, 1), &Start::default());
    assert!(
        again.stderr().contains("bindings loaded from the store"),
        "{}",
        again.stderr()
    );
    let there = dumped(&again);
    let lost: Vec<&String> = answered.difference(&there).collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered bindings lost after kill -9, e.g. {:?}",
        lost.len(),
        answered.len(),
        lost.iter().take(5).collect::<Vec<_>>()
    );
    eprintln!(
        "kill -9: {} REGISTERs answered 200 before the kill, all {} found after the restart ({} bindings in all)",
        answered.len(),
        answered.len(),
        there.len()
    );
    drop(again);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn write_back_writes_at_exit() {
    let (dir, url) = temp_sqlite("back");
    let r = Router::start(&config(&url, 2), &Start::default());
    let out = Sipp::new(
        "phones",
        "tests/data/sipp/usrloc/register_many.xml",
        free_udp_port(),
    )
    .to(r.addr())
    .args(["-m", "200", "-r", "200"])
    .run(Duration::from_secs(30));
    assert_eq!(out.code, Some(0), "{}", out.screen);
    let answered = registered(&out);
    assert_eq!(answered.len(), 200);
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
    let again = Router::start(&config(&url, 2), &Start::default());
    assert_eq!(dumped(&again), answered);
    drop(again);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn store_down_mid_load_is_answered_and_recovered() {
    let mut pg = DbServer::postgres();
    let r = Router::start(&config(&pg.url(), 1), &Start::default());
    let load = Sipp::new(
        "phones",
        "tests/data/sipp/usrloc/register_200_or_500.xml",
        free_udp_port(),
    )
    .to(r.addr())
    .args([
        "-m",
        "2400",
        "-r",
        "200",
        "-l",
        "400",
        "-recv_timeout",
        "8000",
    ])
    .timeout(Duration::from_secs(60))
    .spawn();
    std::thread::sleep(Duration::from_secs(3));
    pg.stop();
    std::thread::sleep(Duration::from_secs(3));
    pg.start_again();
    let out = load.wait(Duration::from_secs(60));
    // Every REGISTER was answered (200, or 500 while the store was down):
    // no shard stalled on the store.
    assert_eq!(
        out.code,
        Some(0),
        "calls unanswered while the store was down:\n{}\n{}",
        out.screen,
        out.errors
    );
    let finals: Vec<String> = out
        .received()
        .iter()
        .map(|m| m.first_line().to_string())
        .filter(|l| !l.starts_with("SIP/2.0 1"))
        .collect();
    let errors = finals
        .iter()
        .filter(|l| l.starts_with("SIP/2.0 500"))
        .count();
    assert!(errors > 0, "no 500 while the store was down");
    eprintln!(
        "store down for 3 s: {} answers, {errors} of them 500, none missing",
        finals.len()
    );
    // Recovered: the last answers are 200 again.
    assert!(
        finals
            .iter()
            .rev()
            .take(200)
            .all(|l| l.starts_with("SIP/2.0 200")),
        "not recovered after the store came back"
    );
    assert!(r.stderr().contains("connected"), "{}", r.stderr());
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
}

/// A registrar and proxy over the store at `url` with `db_mode=3`.
fn shared_config(url: &str) -> String {
    format!(
        "listen=udp:127.0.0.1:{{PORT}}\nchildren=2\n\
         loadmodule \"sl\"\nloadmodule \"usrloc\"\nloadmodule \"registrar\"\n\
         modparam(\"usrloc\", \"db_url\", \"{url}\")\n\
         modparam(\"usrloc\", \"db_mode\", 3)\n\
         route {{ if (method == \"REGISTER\") {{ save(\"location\"); exit; }} \
         if (!lookup(\"location\")) {{ sl_send_reply(\"404\", \"Not Found\"); exit; }} \
         forward(); }}\n"
    )
}

#[test]
fn store_only_routers_share_registrations() {
    let (dir, url) = temp_sqlite("shared");
    let a = Router::start(&shared_config(&url), &Start::default());
    let b = Router::start(&shared_config(&url), &Start::default());
    assert!(b.stderr().contains("db_mode 3"), "{}", b.stderr());
    let alice = Peer::new();
    let caller = Peer::new();
    let desk = Peer::new();
    // From `phone`, with `contact` (`None`: the phone's own address).
    let register = |to: &Router, phone: &Peer, contact: Option<&str>, expires: u32, cseq: u32| {
        let own = format!("<sip:alice@127.0.0.1:{}>", phone.port());
        format!(
            "REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{pp};branch=z9hG4bK-reg-{pp}-{cseq}\r\n\
             From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:alice@127.0.0.1>\r\n\
             Call-ID: shared-reg-{pp}@test\r\nCSeq: {cseq} REGISTER\r\nMax-Forwards: 70\r\n\
             Contact: {contact}\r\nExpires: {expires}\r\n\
             Content-Length: 0\r\n\r\n",
            port = to.addr().port(),
            pp = phone.port(),
            contact = contact.unwrap_or(&own),
        )
    };
    let invite = |to: &Router, n: u32| {
        format!(
            "INVITE sip:alice@127.0.0.1:{port} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{cp};branch=z9hG4bK-inv-{n}\r\n\
             From: <sip:bob@127.0.0.1>;tag=b1\r\nTo: <sip:alice@127.0.0.1>\r\n\
             Call-ID: shared-inv-{n}@test\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n",
            port = to.addr().port(),
            cp = caller.port(),
        )
    };
    let wait = Duration::from_secs(5);

    // alice registers through A: the 200 lists her contact.
    alice.send(a.addr(), register(&a, &alice, None, 3600, 1).as_bytes());
    let (ok, _) = alice
        .recv(wait)
        .expect("an answer to the REGISTER through A");
    assert_eq!(first_line(&ok), "SIP/2.0 200 OK", "{ok}");
    assert!(
        ok.contains(&format!(
            "Contact: <sip:alice@127.0.0.1:{}>;expires=",
            alice.port()
        )),
        "{ok}"
    );

    // An INVITE through B reaches her contact: B read A's row.
    caller.send(b.addr(), invite(&b, 1).as_bytes());
    let (got, _) = alice
        .recv(wait)
        .unwrap_or_else(|| panic!("the INVITE through B did not reach alice\n{}", b.stderr()));
    assert!(
        got.starts_with(&format!(
            "INVITE sip:alice@127.0.0.1:{} SIP/2.0",
            alice.port()
        )),
        "{got}"
    );

    // Her desk phone registers through B: B's 200 lists both contacts
    // (it read A's row and kept it).
    desk.send(b.addr(), register(&b, &desk, None, 3600, 1).as_bytes());
    let (ok, _) = desk.recv(wait).expect("an answer to the desk's REGISTER");
    assert_eq!(first_line(&ok), "SIP/2.0 200 OK", "{ok}");
    for p in [&alice, &desk] {
        assert!(
            ok.contains(&format!(
                "Contact: <sip:alice@127.0.0.1:{}>;expires=",
                p.port()
            )),
            "{ok}"
        );
    }

    // She de-registers everything through B (`Contact: *`); the INVITE
    // through A gets 404 (A's memory still had her binding from the save:
    // the store wins).
    alice.send(b.addr(), register(&b, &alice, Some("*"), 0, 2).as_bytes());
    let (ok, _) = alice
        .recv(wait)
        .expect("an answer to the REGISTER through B");
    assert_eq!(first_line(&ok), "SIP/2.0 200 OK", "{ok}");
    assert!(!ok.contains("Contact:"), "{ok}");
    caller.send(a.addr(), invite(&a, 2).as_bytes());
    let (reply, _) = caller
        .recv(wait)
        .expect("an answer to the INVITE through A");
    assert_eq!(first_line(&reply), "SIP/2.0 404 Not Found", "{reply}");
    assert!(alice.recv(Duration::from_millis(300)).is_none());
    assert!(desk.recv(Duration::from_millis(100)).is_none());

    for r in [a, b] {
        let (code, err) = r.stop();
        assert_eq!(code, Some(0), "{err}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
