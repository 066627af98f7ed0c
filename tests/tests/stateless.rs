//! The running router as a stateless proxy, over real UDP sockets: a test
//! UAC and UAS on 127.0.0.1 talk through `ser`, for each I/O driver
//! (io_uring; epoll by `-W epoll`; epoll because seccomp refuses
//! io_uring).

use std::collections::HashMap;
use std::time::Duration;

use ser_core::shard::owner::owner;
use ser_tests::router::{Peer, Router, Start, first_line, header, headers, uas_reply};

const CONFIG: &str = r#"#!KAMAILIO
listen=udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "maxfwd.so"

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (msg:len > 2048) {
        sl_send_reply("513", "Message Too Large");
        exit;
    }
    if (method == "OPTIONS" && uri == myself) {
        sl_send_reply("200", "OK");
        exit;
    }
    forward();
}
"#;

const WAIT: Duration = Duration::from_secs(3);
const QUIET: Duration = Duration::from_millis(300);

fn invite(uas_port: u16, call_id: &str, max_forwards: u32, extra: &str) -> String {
    format!(
        "INVITE sip:bob@127.0.0.1:{uas_port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-{call_id};rport\r\n\
         Max-Forwards: {max_forwards}\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@192.0.2.10>\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    )
}

fn starts(how: &str) -> Start<'static> {
    match how {
        "uring" => Start::default(),
        "epoll" => Start {
            args: &["-W", "epoll"],
            ..Start::default()
        },
        "seccomp" => Start {
            deny_io_uring: true,
            ..Start::default()
        },
        _ => unreachable!(),
    }
}

/// Runs a test body once per driver.
macro_rules! each_driver {
    ($($name:ident => $body:expr;)*) => {
        $(mod $name {
            use super::*;
            #[test] fn uring() { ($body)("uring") }
            #[test] fn epoll() { ($body)("epoll") }
        })*
    };
}

each_driver! {
    relays_requests_and_replies => |how| {
        let r = Router::start(CONFIG, &starts(how));
        let (uac, uas) = (Peer::new(), Peer::new());
        uac.send(r.addr(), invite(uas.port(), "relay-1", 70, "").as_bytes());
        let (req, from) = uas.recv(WAIT).expect("the UAS gets the INVITE");
        assert_eq!(from, r.addr(), "sent from the listening socket");
        assert_eq!(first_line(&req), format!("INVITE sip:bob@127.0.0.1:{} SIP/2.0", uas.port()));
        let vias = headers(&req, "Via");
        assert_eq!(vias.len(), 2, "{req}");
        assert!(
            vias[0].starts_with(&format!("SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bK", r.port)),
            "our Via on top: {}", vias[0]
        );
        // RFC 3581: the UAC asked for rport; received is the source IP.
        assert!(vias[1].starts_with("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-relay-1"), "{}", vias[1]);
        assert!(vias[1].contains(&format!("rport={}", uac.port())), "{}", vias[1]);
        assert!(vias[1].contains("received=127.0.0.1"), "{}", vias[1]);
        assert_eq!(header(&req, "Max-Forwards"), Some("69"));

        // A retransmission gets the same branch (stateless, RFC 3261 16.11).
        uac.send(r.addr(), invite(uas.port(), "relay-1", 70, "").as_bytes());
        let (again, _) = uas.recv(WAIT).expect("the retransmission is relayed");
        assert_eq!(headers(&again, "Via")[0], vias[0]);

        // Replies go back by the second Via, without ours.
        for (code, reason) in [(180, "Ringing"), (200, "OK")] {
            uas.send(r.addr(), uas_reply(&req, code, reason, "uas", None).as_bytes());
            let (rep, from) = uac.recv(WAIT).expect("the UAC gets the reply");
            assert_eq!(from, r.addr());
            assert_eq!(first_line(&rep), format!("SIP/2.0 {code} {reason}"));
            assert_eq!(headers(&rep, "Via"), vec![vias[1]]);
        }
        let (code, err) = r.stop();
        assert_eq!(code, Some(0), "{err}");
        assert!(err.contains("total: received 4 datagrams"), "{err}");
    };

    answers_options_and_refuses_hops_and_size => |how| {
        let r = Router::start(CONFIG, &starts(how));
        let uac = Peer::new();
        let options = format!(
            "OPTIONS sip:127.0.0.1:{} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bK-o1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:127.0.0.1>\r\n\
             Call-ID: opt-1\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            r.port,
            uac.port()
        );
        uac.send(r.addr(), options.as_bytes());
        let (rep, _) = uac.recv(WAIT).expect("OPTIONS answered");
        assert_eq!(first_line(&rep), "SIP/2.0 200 OK");
        assert_eq!(header(&rep, "CSeq"), Some("7 OPTIONS"));
        assert_eq!(header(&rep, "Call-ID"), Some("opt-1"));
        assert!(header(&rep, "To").unwrap().contains(";tag="), "{rep}");
        assert!(header(&rep, "Server").is_some_and(|s| s.starts_with("ser")), "{rep}");

        // Max-Forwards: 0 → 483, sent to the Via port (no rport asked).
        let uas = Peer::new();
        let zero = invite(uas.port(), "hops-1", 0, "").replace(
            "192.0.2.10:5060;branch=z9hG4bK-hops-1;rport",
            &format!("127.0.0.1:{};branch=z9hG4bK-hops-1", uac.port()),
        );
        uac.send(r.addr(), zero.as_bytes());
        let (rep, _) = uac.recv(WAIT).expect("483");
        assert_eq!(first_line(&rep), "SIP/2.0 483 Too Many Hops");
        assert!(uas.recv(QUIET).is_none(), "nothing relayed");
        // The ACK to that local reply is absorbed (sl), not relayed.
        let to = header(&rep, "To").unwrap();
        let ack = zero
            .replacen("INVITE sip:", "ACK sip:", 1)
            .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
            .replace("To: <sip:bob@example.com>", &format!("To: {to}"))
            .replace("Max-Forwards: 0", "Max-Forwards: 70");
        uac.send(r.addr(), ack.as_bytes());
        assert!(uas.recv(QUIET).is_none(), "ACK to a local reply absorbed");
        assert!(uac.recv(QUIET).is_none(), "and not answered");

        // Longer than 2048 bytes → 513 (the seeds compare with max_len, the
        // receive buffer size; a literal makes the test message small).
        let pad = format!("X-Pad: {}\r\n", "p".repeat(2100));
        let big = invite(uas.port(), "big-1", 70, &pad);
        uac.send(r.addr(), big.as_bytes());
        let (rep, _) = uac.recv(WAIT).expect("513");
        assert_eq!(first_line(&rep), "SIP/2.0 513 Message Too Large");
        assert!(uas.recv(QUIET).is_none(), "nothing relayed");

        // Longer than the receive buffer (16 KB): only its start arrives;
        // it is answered 513 from its headers.
        let pad = format!("X-Pad: {}\r\n", "q".repeat(20_000));
        let huge = invite(uas.port(), "huge-1", 70, &pad).replace(
            "192.0.2.10:5060;branch=z9hG4bK-huge-1;rport",
            &format!("127.0.0.1:{};branch=z9hG4bK-huge-1", uac.port()),
        );
        uac.send(r.addr(), huge.as_bytes());
        let (rep, _) = uac.recv(WAIT).expect("513 for a datagram over 16 KB");
        assert_eq!(first_line(&rep), "SIP/2.0 513 Message Too Large", "{rep}");
        assert!(uas.recv(QUIET).is_none(), "nothing relayed");

        // A request the parser refuses (a header line without a colon)
        // → 400 naming the fault, sent back by the Via.
        let broken = format!(
            "INVITE sip:bob@127.0.0.1:{} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bK-b\r\n\
             CSeq: 1 INVITE\r\nCall-ID: b1\r\nFrom: <sip:a@x>;tag=1\r\n\
             To: <sip:b@x>\r\nThis line has no colon\r\nContent-Length: 0\r\n\r\n",
            uas.port(),
            uac.port()
        );
        uac.send(r.addr(), broken.as_bytes());
        let (rep, _) = uac.recv(WAIT).expect("400");
        assert!(first_line(&rep).starts_with("SIP/2.0 400 "), "{rep}");
        assert_eq!(header(&rep, "Call-ID"), Some("b1"), "{rep}");
        assert!(uas.recv(QUIET).is_none(), "nothing relayed");

        // A reply whose top Via is not ours is dropped.
        let stray = uas_reply(&invite(uas.port(), "stray-1", 70, ""), 200, "OK", "uas", None);
        uas.send(r.addr(), stray.as_bytes());
        assert!(uac.recv(QUIET).is_none(), "stray reply dropped");
        let (code, err) = r.stop();
        assert_eq!(code, Some(0), "{err}");
    };

    owner_shard_handles_every_message => |how| owner_handles(how, true);
    owner_shard_handles_every_message_without_steering => |how| owner_handles(how, false);
}

/// 128 calls from 16 source ports through 2 shards: every request and
/// reply is handled by the shard owning its Call-ID. With the eBPF program
/// the kernel delivers each datagram to its owner; without it (by
/// `SER_STEERING=0`) about half arrive on the other shard and are handed
/// over.
fn owner_handles(how: &str, steering: bool) {
    let mut args: Vec<&str> = vec!["-n", "2"];
    let mut start = starts(how);
    args.extend_from_slice(start.args);
    let args: &'static [&'static str] = Box::leak(args.into_boxed_slice());
    start.args = args;
    if !steering {
        start.env = &[("SER_STEERING", "0")];
    }
    let r = Router::start(CONFIG, &start);
    let err = r.stderr();
    assert!(err.contains("2 shards"), "{err}");
    assert_eq!(
        err.contains("steered to their owner shard in the kernel"),
        steering,
        "{err}"
    );
    let uas = Peer::new();
    let uacs: Vec<Peer> = (0..16).map(|_| Peer::new()).collect();
    let mut sent = HashMap::new();
    let mut owned = [0u64; 2];
    for (i, uac) in uacs.iter().enumerate() {
        for j in 0..8 {
            let cid = format!("own-{i}-{j}");
            uac.send(r.addr(), invite(uas.port(), &cid, 70, "").as_bytes());
            owned[owner(cid.as_bytes(), 2)] += 2; // the INVITE and its 200
            sent.insert(cid, i);
        }
    }
    let mut got = 0;
    while let Some((req, _)) = uas.recv(WAIT) {
        let cid = header(&req, "Call-ID").unwrap().to_string();
        assert!(sent.contains_key(&cid), "{cid}");
        uas.send(r.addr(), uas_reply(&req, 200, "OK", "uas", None).as_bytes());
        got += 1;
        if got == sent.len() {
            break;
        }
    }
    assert_eq!(got, sent.len(), "every request relayed once");
    for uac in &uacs {
        for _ in 0..8 {
            let (rep, _) = uac.recv(WAIT).expect("every reply comes back");
            assert_eq!(first_line(&rep), "SIP/2.0 200 OK");
        }
    }
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
    let num = |line: &str, key: &str| -> u64 {
        let at = line.find(key).unwrap() + key.len();
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let total = err
        .lines()
        .find(|l| l.contains("ser: total: received"))
        .expect(&err);
    assert_eq!(num(total, "received "), 2 * sent.len() as u64, "{err}");
    let off = num(total, "handed off ");
    let mut handed_in = 0;
    for (shard, owned) in owned.iter().enumerate() {
        let line = err
            .lines()
            .find(|l| l.starts_with(&format!("ser: shard {shard}: ")))
            .expect(&err);
        let handled = num(line, "received ") - num(line, "handed off ") + num(line, "handed in ");
        assert_eq!(handled, *owned, "shard {shard} handles what it owns\n{err}");
        handed_in += num(line, "handed in ");
    }
    assert_eq!(handed_in, off, "{err}");
    if steering {
        assert_eq!(
            off, 0,
            "the kernel delivered each datagram to its owner\n{err}"
        );
    } else {
        assert!(
            off > 0,
            "16 source ports, 2 shards: some land off-owner\n{err}"
        );
    }
}

#[test]
fn epoll_when_io_uring_is_refused() {
    let r = Router::start(CONFIG, &starts("seccomp"));
    let line = r.wait_for("listening on", WAIT).unwrap();
    assert!(line.ends_with("using epoll"), "{line}");
    assert!(
        r.stderr().contains("io_uring unavailable"),
        "{}",
        r.stderr()
    );
    // And it works.
    let (uac, uas) = (Peer::new(), Peer::new());
    uac.send(r.addr(), invite(uas.port(), "sec-1", 70, "").as_bytes());
    assert!(uas.recv(WAIT).is_some());
    let (code, _) = r.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn io_uring_by_default_and_sighup_keeps_running() {
    let r = Router::start(CONFIG, &Start::default());
    let line = r.wait_for("listening on", WAIT).unwrap();
    assert!(line.ends_with("using io_uring"), "{line}");
    r.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(100));
    let (uac, uas) = (Peer::new(), Peer::new());
    uac.send(r.addr(), invite(uas.port(), "hup-1", 70, "").as_bytes());
    assert!(uas.recv(WAIT).is_some(), "still relaying after SIGHUP");
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn refuses_a_config_with_functions_not_built() {
    let cfg = "#!KAMAILIO\nlisten=udp:127.0.0.1:{PORT}\nloadmodule \"tm.so\"\nrequest_route { t_write_unix(\"/tmp/x\", \"y\"); }\n";
    let dir = std::env::temp_dir().join(format!("ser-nb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("x.cfg");
    std::fs::write(&path, cfg.replace("{PORT}", "5999")).unwrap();
    let run = ser_tests::ser(&["-E", "-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(run.code, Some(4), "{}", run.stderr);
    assert!(
        run.stderr.contains("not supported yet: t_write_unix (tm)"),
        "{}",
        run.stderr
    );
}

/// `usleep` suspends the script, not the shard: with one shard, a request
/// that sleeps is overtaken by the next one, and relayed once its timer
/// (the shard's timer wheel) fires.
#[test]
fn a_sleeping_script_does_not_block_its_shard() {
    let cfg = r#"#!KAMAILIO
listen=udp:127.0.0.1:{PORT}
loadmodule "cfgutils.so"
request_route {
    if (method == "MESSAGE") {
        usleep(300000);
    }
    forward();
}
"#;
    let r = Router::start(
        cfg,
        &Start {
            args: &["-n", "1"],
            ..Start::default()
        },
    );
    let (uac, uas) = (Peer::new(), Peer::new());
    let message = invite(uas.port(), "slow-1", 70, "")
        .replacen("INVITE sip:", "MESSAGE sip:", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 MESSAGE");
    uac.send(r.addr(), message.as_bytes());
    uac.send(r.addr(), invite(uas.port(), "fast-1", 70, "").as_bytes());
    let (first, _) = uas.recv(WAIT).expect("the INVITE");
    assert_eq!(header(&first, "Call-ID"), Some("fast-1"), "{first}");
    let (second, _) = uas.recv(WAIT).expect("the MESSAGE, after its sleep");
    assert_eq!(header(&second, "Call-ID"), Some("slow-1"), "{second}");
    assert!(first_line(&second).starts_with("MESSAGE "));
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
}

/// Two listen addresses, IPv4 and IPv6, and an alias: a request from an
/// IPv6 UAC to an IPv4 UAS leaves from the IPv4 socket with its Via; the
/// reply comes back to the UAC from the IPv6 socket; `myself` matches the
/// alias.
#[test]
fn ipv4_and_ipv6_listen_addresses_and_an_alias() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        panic!("this test needs IPv6 on the loopback interface");
    }
    let cfg = r#"#!KAMAILIO
listen=udp:127.0.0.1:{PORT}
listen=udp:[::1]:{PORT}
alias=sip.example.test
loadmodule "sl.so"
request_route {
    if (uri == myself) {
        sl_send_reply("200", "Mine");
        exit;
    }
    forward();
}
"#;
    let r = Router::start(cfg, &Start::default());
    let line = r.wait_for("listening on", WAIT).unwrap();
    assert!(
        line.contains(&format!("udp:127.0.0.1:{0}, udp:[::1]:{0}", r.port)),
        "{line}"
    );
    let v6 = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, r.port));
    let uac = std::net::UdpSocket::bind("[::1]:0").unwrap();
    uac.set_read_timeout(Some(WAIT)).unwrap();
    let uac_port = uac.local_addr().unwrap().port();
    let uas = Peer::new();
    let req = invite(uas.port(), "v6-1", 70, "").replace(
        "192.0.2.10:5060;branch=z9hG4bK-v6-1;rport",
        &format!("[::1]:{uac_port};branch=z9hG4bK-v6-1"),
    );
    uac.send_to(req.as_bytes(), v6).unwrap();
    let (got, from) = uas.recv(WAIT).expect("relayed to the IPv4 UAS");
    assert_eq!(from, r.addr(), "sent from the IPv4 socket");
    let vias = headers(&got, "Via");
    assert!(
        vias[0].starts_with(&format!("SIP/2.0/UDP 127.0.0.1:{};branch=", r.port)),
        "{}",
        vias[0]
    );
    uas.send(r.addr(), uas_reply(&got, 200, "OK", "uas", None).as_bytes());
    let mut buf = [0u8; 4096];
    let (n, from) = uac.recv_from(&mut buf).expect("the reply over IPv6");
    assert_eq!(from, v6, "from the IPv6 socket");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200 OK"));

    // The alias is myself, with any port.
    let opt = format!(
        "OPTIONS sip:sip.example.test:5080 SIP/2.0\r\nVia: SIP/2.0/UDP [::1]:{uac_port};branch=z9hG4bK-a1\r\n\
         From: <sip:a@x>;tag=1\r\nTo: <sip:sip.example.test>\r\nCall-ID: alias-1\r\nCSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    uac.send_to(opt.as_bytes(), v6).unwrap();
    let (n, _) = uac.recv_from(&mut buf).expect("answered locally");
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200 Mine"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
}

/// Core parameters the router accepts but does not act on yet are named
/// at start, so an operator knows what their config still expects.
#[test]
fn core_parameters_without_effect_are_named_at_start() {
    let cfg = CONFIG.replace(
        "listen=",
        "fifo=\"/tmp/ser_fifo\"\ndns=no\nrev_dns=yes\nlisten=",
    );
    let r = Router::start(&cfg, &Start::default());
    let line = r
        .wait_for("no effect yet", WAIT)
        .unwrap_or_else(|| panic!("{}", r.stderr()));
    assert!(
        line.ends_with("core parameters with no effect yet: fifo, rev_dns"),
        "{line}"
    );
}

/// `advertised_address`/`advertised_port` go into our Via, and a reply
/// whose top Via names them is ours.
#[test]
fn advertised_address_in_our_via() {
    let cfg = CONFIG.replace(
        "listen=udp:127.0.0.1:{PORT}\n",
        "listen=udp:127.0.0.1:{PORT}\nadvertised_address=\"sip.example.net\"\nadvertised_port=5099\n",
    );
    let r = Router::start(&cfg, &Start::default());
    let (uac, uas) = (Peer::new(), Peer::new());
    uac.send(r.addr(), invite(uas.port(), "adv-1", 70, "").as_bytes());
    let (req, _) = uas.recv(WAIT).expect("relayed");
    let vias = headers(&req, "Via");
    assert!(
        vias[0].starts_with("SIP/2.0/UDP sip.example.net:5099;branch=z9hG4bK"),
        "{}",
        vias[0]
    );
    uas.send(r.addr(), uas_reply(&req, 200, "OK", "uas", None).as_bytes());
    let (rep, _) = uac.recv(WAIT).expect("the reply comes back");
    assert_eq!(headers(&rep, "Via"), vec![vias[1]]);
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
}

/// A listen address may name an interface (`lo`): every address of it.
#[test]
fn listen_on_an_interface_by_name() {
    let cfg = CONFIG.replace("listen=udp:127.0.0.1:{PORT}", "listen=udp:lo:{PORT}");
    let r = Router::start(&cfg, &Start::default());
    let line = r.wait_for("listening on", WAIT).unwrap();
    assert!(
        line.contains(&format!("udp:127.0.0.1:{}", r.port)),
        "{line}"
    );
    let (uac, uas) = (Peer::new(), Peer::new());
    uac.send(r.addr(), invite(uas.port(), "lo-1", 70, "").as_bytes());
    assert!(uas.recv(WAIT).is_some(), "relayed");
}

/// A listen address another process holds is refused at start, even when
/// that process allows sharing (SO_REUSEADDR and SO_REUSEPORT, as
/// Kamailio's sockets do): the shards share their port only with each
/// other.
#[test]
fn refuses_an_address_another_process_holds() {
    let other = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .unwrap();
    other.set_reuse_address(true).unwrap();
    other.set_reuse_port(true).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    other.bind(&any.into()).unwrap();
    let port = other
        .local_addr()
        .unwrap()
        .as_socket()
        .map(|a| a.port())
        .unwrap();
    let cfg = format!("#!KAMAILIO\nlisten=udp:127.0.0.1:{port}\nrequest_route {{ drop; }}\n");
    let dir = std::env::temp_dir().join(format!("ser-inuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("x.cfg");
    std::fs::write(&path, cfg).unwrap();
    let run = ser_tests::ser(&["-E", "-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_ne!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "cannot listen on udp:127.0.0.1:{port}: the address is in use by another process"
        )),
        "{}",
        run.stderr
    );
}
