//! The control socket as operators use it: the real `kamcmd` (Debian's
//! `kamailio` package) against a running `ser`, over unix stream, unix
//! datagram, TCP and UDP sockets, for every method, with the output shapes
//! `kamcmd` prints for Kamailio; run-time configuration taking effect on
//! the next message; malformed and hostile clients while SIP flows.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use ser_core::ctl::binrpc::{Kind, Value};
use ser_tests::ctl::{CmdOut, free_tcp_port, kamcmd, kamcmd_ok, raw_call, read_reply, request};
use ser_tests::router::{Peer, Router, Start, first_line, free_udp_port};
use ser_tests::sipp::Sipp;

/// A router with its control socket on all four transports; `{TCP}` and
/// `{UDPCTL}` are free ports.
fn router_with_ctl(script: &str, extra: &str) -> (Router, Addrs) {
    let tcp = free_tcp_port();
    let udp = free_udp_port();
    let cfg = format!(
        "listen=udp:127.0.0.1:{{PORT}}\n\
         loadmodule \"sl\"\nloadmodule \"tm\"\nloadmodule \"usrloc\"\nloadmodule \"registrar\"\n\
         loadmodule \"ctl\"\n\
         modparam(\"ctl\", \"binrpc\", \"unix:{{DIR}}/ctl\")\n\
         modparam(\"ctl\", \"binrpc\", \"unixd:{{DIR}}/ctld\")\n\
         modparam(\"ctl\", \"binrpc\", \"tcp:127.0.0.1:{tcp}\")\n\
         modparam(\"ctl\", \"binrpc\", \"udp:127.0.0.1:{udp}\")\n\
         {extra}\n\
         route {{\n{script}\n}}\n"
    );
    let r = Router::start(&cfg, &Start::default());
    let dir = r.dir().display().to_string();
    let a = Addrs {
        unix: format!("unix:{dir}/ctl"),
        unixd: format!("unixd:{dir}/ctld"),
        tcp: format!("tcp:127.0.0.1:{tcp}"),
        udp: format!("udp:127.0.0.1:{udp}"),
        path: r.dir().join("ctl"),
    };
    (r, a)
}

struct Addrs {
    unix: String,
    unixd: String,
    tcp: String,
    udp: String,
    path: std::path::PathBuf,
}

impl Addrs {
    fn all(&self) -> [(&str, bool); 4] {
        [
            (self.unix.as_str(), true),
            (self.unixd.as_str(), false),
            (self.tcp.as_str(), true),
            (self.udp.as_str(), false),
        ]
    }
}

const REGISTRAR: &str = r#"
    if (method == "REGISTER") { save("location"); break; }
    if (method == "OPTIONS") { sl_send_reply("200", "OK"); break; }
    if (!lookup("location")) { sl_send_reply("404", "Not Found"); break; }
    forward();
"#;

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

/// `name: value` of the first line with that member name (any depth).
fn member<'a>(out: &'a str, name: &str) -> Option<&'a str> {
    out.lines()
        .map(str::trim_start)
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

#[test]
fn every_method_answers_over_each_transport_as_kamcmd_expects() {
    let (r, a) = router_with_ctl(REGISTRAR, "");
    for (addr, stream) in a.all() {
        let v = kamcmd_ok(addr, &["core.version"]);
        assert!(
            v.starts_with("ser 0.") && v.ends_with(" \n"),
            "{addr}: core.version printed {v:?}"
        );

        let up = kamcmd_ok(addr, &["core.uptime"]);
        let l = lines(&up);
        assert_eq!(l.first(), Some(&"{"), "{addr}: {up}");
        assert_eq!(l.last(), Some(&"}"), "{addr}: {up}");
        assert!(l.get(1).is_some_and(|x| x.starts_with("\tnow: ")), "{up}");
        assert!(
            l.get(2).is_some_and(|x| x.starts_with("\tup_since: ")),
            "{up}"
        );
        let secs: u64 = member(&up, "uptime")
            .and_then(|s| s.parse().ok())
            .expect("uptime");
        assert!(secs < 120, "{up}");

        let methods = kamcmd_ok(addr, &["system.listMethods"]);
        let names = lines(&methods);
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "{addr}: listMethods is sorted byte-wise");
        for m in [
            "system.listMethods",
            "system.methodHelp",
            "system.methodSignature",
            "core.version",
            "core.uptime",
            "core.ps",
            "core.psx",
            "core.info",
            "core.shmmem",
            "core.echo",
            "ctl.listen",
            "ctl.who",
            "ctl.connections",
            "ul.dump",
            "ul.lookup",
            "ul.add",
            "ul.rm",
            "ul.rm_contact",
            "cfg.get",
            "cfg.set",
            "cfg.list",
            "cfg.help",
        ] {
            assert!(names.contains(&m), "{addr}: {m} missing from {names:?}");
        }
        assert_eq!(
            kamcmd_ok(addr, &["system.methodHelp", "core.uptime"]),
            "Returns uptime of SIP server.\n"
        );
        assert_eq!(
            kamcmd_ok(addr, &["system.methodHelp"]),
            "error: 400 - Method Name Expected\n"
        );
        assert_eq!(
            kamcmd_ok(addr, &["system.methodSignature", "core.ps"]),
            "error: 500 - Not Implemented Yet\n"
        );
        assert_eq!(
            kamcmd_ok(addr, &["no.such.method"]),
            "error: 500 - command no.such.method not found\n"
        );

        // Threads: pid / description pairs; the main one, each shard, ctl.
        let ps = kamcmd_ok(addr, &["core.ps"]);
        let l = lines(&ps);
        assert_eq!(l.len() % 2, 0, "{ps}");
        assert!(
            l.iter().step_by(2).all(|p| p.parse::<u32>().is_ok()),
            "{ps}"
        );
        assert_eq!(l.get(1), Some(&"main process - attendant"), "{ps}");
        assert!(ps.contains("shard 0: udp receiver"), "{ps}");
        assert!(ps.contains("ctl handler"), "{ps}");
        let psx = kamcmd_ok(addr, &["core.psx"]);
        assert!(psx.starts_with("{\n\tIDX: 0\n\tPID: "), "{psx}");
        assert!(psx.contains("\tDSC: ctl handler\n"), "{psx}");
        // The `ps` alias prints pid<TAB>desc.
        let alias = kamcmd_ok(addr, &["ps"]);
        assert!(
            alias.lines().all(|x| x.split_once('\t').is_some()),
            "{alias}"
        );

        let info = kamcmd_ok(addr, &["core.info"]);
        assert!(info.contains("\tversion: ser 0."), "{info}");
        assert!(info.contains("\tflags: "), "{info}");

        // Real memory, in bytes and in MB.
        let mem = kamcmd_ok(addr, &["core.shmmem"]);
        let used: u64 = member(&mem, "real_used")
            .and_then(|s| s.parse().ok())
            .expect("real_used");
        let total: u64 = member(&mem, "total")
            .and_then(|s| s.parse().ok())
            .expect("total");
        assert!(used > 1_000_000 && used < total, "{mem}");
        let mb: u64 = member(&kamcmd_ok(addr, &["core.shmmem", "m"]), "real_used")
            .and_then(|s| s.parse().ok())
            .expect("real_used in MB");
        assert!(
            mb <= used >> 20 && mb + 8 >= used >> 20,
            "{mb} MB against {used}"
        );
        assert_eq!(
            kamcmd_ok(addr, &["core.shmmem", "x"]),
            "error: 500 - bad param, (use b|k|m|g)\n"
        );

        assert_eq!(
            kamcmd_ok(addr, &["core.echo", "a", "12", "s:34", "2.5"]),
            "a\n12\n34\n2.5\n"
        );

        // The control socket lists itself: four sockets of four fields.
        let listen = kamcmd_ok(addr, &["ctl.listen"]);
        assert_eq!(lines(&listen).len(), 16, "{listen}");
        assert!(listen.starts_with("binrpc\nunix_stream\n"), "{listen}");
        let l2 = kamcmd_ok(addr, &["listen"]);
        assert!(l2.contains("[binrpc] tcp: 127.0.0.1 "), "{l2}");
        // Stream connections: this one; a datagram asks over none.
        let conns = kamcmd_ok(addr, &["ctl.connections"]);
        let who = kamcmd_ok(addr, &["ctl.who"]);
        if stream {
            assert_eq!(conns, "1\n", "{addr}");
            assert!(who.starts_with("binrpc\n"), "{addr}: {who}");
        } else {
            assert_eq!(conns, "0\n", "{addr}");
            assert_eq!(who, "error: 400 - no open stream connection\n");
        }

        let cfg = kamcmd_ok(addr, &["cfg.list"]);
        for v in ["core: debug", "tm: fr_timer", "tm: fr_inv_timer"] {
            assert!(cfg.lines().any(|l| l == v), "{addr}: {v} not in {cfg}");
        }
        assert_eq!(
            kamcmd_ok(addr, &["cfg.get", "tm", "fr_inv_timer"]),
            "120000\n"
        );
        assert_eq!(
            kamcmd_ok(addr, &["cfg.get", "tm"]),
            "{\n\tfr_timer: 30000\n\tfr_inv_timer: 120000\n}\n"
        );
        assert_eq!(
            kamcmd_ok(addr, &["cfg.help", "core", "debug"]),
            "debug level\n(parameter type is integer)\n"
        );
        assert_eq!(
            kamcmd_ok(addr, &["cfg.get", "core", "nosuch"]),
            "error: 400 - Failed to get the variable\n"
        );
    }
    drop(r);
}

#[test]
fn ul_methods_work_on_the_table_the_router_routes_with() {
    let (r, a) = router_with_ctl(REGISTRAR, "");
    let callee = Peer::new();
    let caller = Peer::new();
    let n = std::cell::Cell::new(0u32);
    let invite = |user: &str| {
        n.set(n.get() + 1);
        format!(
            "INVITE sip:{user}@127.0.0.1:{port} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{cp};branch=z9hG4bK-{user}-{n}\r\n\
             From: <sip:caller@127.0.0.1>;tag=1\r\nTo: <sip:{user}@127.0.0.1>\r\n\
             Call-ID: ul-{user}-{n}@test\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n",
            port = r.port,
            cp = caller.port(),
            n = n.get(),
        )
    };
    // A contact added over RPC is used by the running router at once; the
    // numeric user name and the integer q (kamcmd sends both as INT) are
    // accepted.
    let contact = format!("sip:1234@127.0.0.1:{}", callee.port());
    for (addr, _) in a.all() {
        kamcmd_ok(addr, &["ul.rm", "location", "1234"]);
        assert_eq!(
            kamcmd_ok(
                addr,
                &[
                    "ul.add", "location", "1234", &contact, "3600", "1", ".", "0", "0", "0"
                ]
            ),
            ""
        );
        caller.send(r.addr(), invite("1234").as_bytes());
        let (got, _) = callee.recv(Duration::from_secs(5)).unwrap_or_else(|| {
            panic!("{addr}: the INVITE did not reach the contact added by ul.add")
        });
        assert!(got.starts_with("INVITE sip:1234@127.0.0.1:"), "{got}");

        let look = kamcmd_ok(addr, &["ul.lookup", "location", "1234"]);
        assert!(
            look.starts_with("{\n\tAoR: 1234\n\tContacts: {\n\t\tContact: {\n"),
            "{look}"
        );
        assert!(
            look.contains(&format!("\t\t\tAddress: {contact}\n")),
            "{look}"
        );
        assert!(look.contains("\t\t\tQ: 1\n"), "{look}");
        let exp: u32 = member(&look, "Expires")
            .and_then(|s| s.parse().ok())
            .expect("Expires");
        assert!((3590..=3600).contains(&exp), "{look}");

        assert_eq!(kamcmd_ok(addr, &["ul.rm", "location", "1234"]), "");
        assert_eq!(
            kamcmd_ok(addr, &["ul.lookup", "location", "1234"]),
            "error: 500 - AOR not found in location table\n"
        );
        caller.send(r.addr(), invite("1234").as_bytes());
        let (reply, _) = caller.recv(Duration::from_secs(5)).expect("a reply");
        assert_eq!(first_line(&reply), "SIP/2.0 404 Not Found");
    }
    let addr = a.unix.as_str();
    // A REGISTER shows in ul.lookup and ul.dump with what the phone sent.
    let phone = Peer::new();
    let reg = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-r1\r\n\
         From: <sip:alice@127.0.0.1>;tag=a\r\nTo: <sip:alice@127.0.0.1>\r\n\
         Call-ID: reg-alice@test\r\nCSeq: 7 REGISTER\r\nMax-Forwards: 70\r\n\
         Contact: <sip:alice@127.0.0.1:{p}>;q=0.5\r\nExpires: 600\r\nUser-Agent: phone/1\r\n\
         Content-Length: 0\r\n\r\n",
        p = phone.port()
    );
    phone.send(r.addr(), reg.as_bytes());
    let (ok, _) = phone
        .recv(Duration::from_secs(5))
        .expect("200 to the REGISTER");
    assert_eq!(first_line(&ok), "SIP/2.0 200 OK");
    let look = kamcmd_ok(addr, &["ul.lookup", "location", "alice"]);
    assert!(look.contains("\t\t\tCall-ID: reg-alice@test\n"), "{look}");
    assert!(look.contains("\t\t\tCSeq: 7\n"), "{look}");
    assert!(look.contains("\t\t\tQ: 0.500000\n"), "{look}");
    assert!(look.contains("\t\t\tUser-Agent: phone/1\n"), "{look}");
    let brief = kamcmd_ok(addr, &["ul.dump", "brief"]);
    assert!(brief.contains("\t\t\t\tAoR: alice\n"), "{brief}");
    assert!(
        brief.starts_with("{\n\tDomains: {\n\t\tDomain: {\n\t\t\tDomain: location\n"),
        "{brief}"
    );
    let full = kamcmd_ok(addr, &["ul.dump"]);
    assert!(
        full.contains("\t\t\t\tInfo: {\n\t\t\t\t\tAoR: alice\n"),
        "{full}"
    );
    assert!(!full.contains("Next:"), "{full}");
    assert_eq!(
        kamcmd_ok(
            addr,
            &["ul.rm_contact", "location", "alice", "sip:nobody@x"]
        ),
        "error: 404 - Contact not found\n"
    );
    let c = format!("sip:alice@127.0.0.1:{}", phone.port());
    assert_eq!(
        kamcmd_ok(addr, &["ul.rm_contact", "location", "alice", &c]),
        ""
    );
    assert_eq!(
        kamcmd_ok(addr, &["ul.rm_contact", "location", "alice", &c]),
        "error: 404 - AOR not found\n"
    );
    assert_eq!(
        kamcmd_ok(addr, &["ul.lookup", "nosuch", "alice"]),
        "error: 500 - Domain table not found\n"
    );
    assert_eq!(
        kamcmd_ok(addr, &["ul.add", "location", "bob"]),
        "error: 500 - Not enough parameters or wrong format\n"
    );
    drop(r);
}

#[test]
fn cfg_set_takes_effect_on_the_next_message() {
    let script = r#"
    xlog("L_INFO", "info-line $rm $ci\n");
    xlog("L_ERR", "gw=[$sel(cfg_get.pstn.gw_ip)] $ci\n");
    if (method == "OPTIONS") { sl_send_reply("200", "OK"); exit; }
    t_relay();
"#;
    let silent = Peer::new();
    let extra = format!(
        "#!KAMAILIO\nloadmodule \"xlog\"\npstn.gw_ip = \"\" desc \"PSTN GW Address\"\n# silent {}\n",
        silent.port()
    );
    let (r, a) = router_with_ctl(script, &extra);
    let addr = a.unix.as_str();
    let peer = Peer::new();
    let options = |id: &str| {
        format!(
            "OPTIONS sip:x@127.0.0.1:{} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bK-{id}\r\n\
             From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: {id}\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            r.port,
            peer.port()
        )
    };
    let ask = |id: &str| {
        peer.send(r.addr(), options(id).as_bytes());
        let (reply, _) = peer.recv(Duration::from_secs(5)).expect("200 to OPTIONS");
        assert_eq!(first_line(&reply), "SIP/2.0 200 OK");
        r.wait_for(&format!("] {id}"), Duration::from_secs(5))
            .unwrap_or_else(|| panic!("no gw line for {id}:\n{}", r.stderr()))
    };
    let before = ask("cfg-1");
    assert!(before.contains("gw=[]"), "{before}");
    assert!(
        !r.stderr().contains("info-line OPTIONS cfg-1"),
        "L_INFO printed at debug 0"
    );

    assert_eq!(kamcmd_ok(addr, &["cfg.get", "pstn", "gw_ip"]), "\n");
    assert_eq!(
        kamcmd_ok(addr, &["cfg.help", "pstn", "gw_ip"]),
        "PSTN GW Address\n(parameter type is string)\n"
    );
    assert_eq!(kamcmd_ok(addr, &["cfg.set", "core", "debug", "3"]), "");
    assert_eq!(kamcmd_ok(addr, &["cfg.get", "core", "debug"]), "3\n");
    assert_eq!(
        kamcmd_ok(addr, &["cfg.set", "pstn", "gw_ip", "192.0.2.9"]),
        ""
    );
    assert_eq!(kamcmd_ok(addr, &["cfg.get", "pstn.gw_ip"]), "192.0.2.9\n");
    let after = ask("cfg-2");
    assert!(after.contains("gw=[192.0.2.9]"), "{after}");
    assert!(
        r.wait_for("info-line OPTIONS cfg-2", Duration::from_secs(2))
            .is_some(),
        "cfg.set core debug 3 did not take effect:\n{}",
        r.stderr()
    );
    // The type is kept: an integer variable refuses text.
    assert_eq!(
        kamcmd_ok(addr, &["cfg.set", "core", "debug", "loud"]),
        "error: 400 - error at parameter 2: expected integer type but record doesn't match type\n"
    );

    // tm.fr_timer: a request to a silent peer times out after the new
    // value (1 s), not the default 30 s.
    assert_eq!(kamcmd_ok(addr, &["cfg.set", "tm", "fr_timer", "1000"]), "");
    let msg = format!(
        "MESSAGE sip:x@127.0.0.1:{} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bK-fr\r\n\
         From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: fr-1\r\n\
         CSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        silent.port(),
        peer.port()
    );
    let t0 = Instant::now();
    peer.send(r.addr(), msg.as_bytes());
    let (reply, _) = peer
        .recv(Duration::from_secs(10))
        .expect("408 after fr_timer");
    assert_eq!(first_line(&reply), "SIP/2.0 408 Request Timeout");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "408 after {took:?}"
    );
    drop(r);
}

#[test]
fn malformed_packets_get_faults_and_the_connection_closes() {
    let (r, a) = router_with_ctl(REGISTRAR, "");
    let path = a.path.as_path();
    // Bad magic: 400 with cookie 0.
    let rep = raw_call(path, &[0x55, 0x03, 0x01, 0x00, 0x00]).expect("a fault");
    assert_eq!(
        rep.fault(),
        Some((400, "bad request: corrupted packet".into()))
    );
    assert_eq!(rep.cookie, 0);
    // A reply sent to the server.
    let mut p = request(77, "core.version", &[]);
    p[1] |= 0x10;
    let rep = raw_call(path, &p).expect("a fault");
    assert_eq!(
        rep.fault(),
        Some((400, "bad request: corrupted packet".into()))
    );
    assert_eq!(rep.cookie, 77);
    // Empty body, method not a string.
    let rep = raw_call(path, &[0xa1, 0x00, 0x00, 0x09]).expect("a fault");
    assert_eq!(
        rep.fault(),
        Some((400, "bad request method: end of packet encountered".into()))
    );
    let rep = raw_call(path, &[0xa1, 0x00, 0x02, 0x09, 0x10, 0x05]).expect("a fault");
    assert_eq!(
        rep.fault(),
        Some((400, "bad request method: record doesn't match type".into()))
    );
    // After a malformed packet the server closes the connection.
    let mut s = UnixStream::connect(path).expect("connect");
    s.write_all(&[0x55, 0, 0, 0]).expect("write");
    assert!(read_reply(&mut s, Duration::from_secs(5)).is_some());
    s.write_all(&request(1, "core.version", &[])).ok();
    assert!(
        read_reply(&mut s, Duration::from_secs(2)).is_none(),
        "connection left open"
    );

    // An unknown method keeps the connection; pipelined requests are
    // answered in order; a request sent byte by byte is answered.
    let mut s = UnixStream::connect(path).expect("connect");
    s.write_all(&request(5, "no.such", &[])).expect("write");
    let rep = read_reply(&mut s, Duration::from_secs(5)).expect("a fault");
    assert_eq!(rep.fault(), Some((500, "command no.such not found".into())));
    assert_eq!(rep.cookie, 5);
    let mut two = request(6, "core.echo", &[Value::Str("one".into())]);
    two.extend(request(7, "core.echo", &[Value::Int(2)]));
    s.write_all(&two).expect("write");
    let r6 = read_reply(&mut s, Duration::from_secs(5)).expect("reply 6");
    assert_eq!((r6.cookie, r6.values), (6, vec![Value::Str("one".into())]));
    let r7 = read_reply(&mut s, Duration::from_secs(5)).expect("reply 7");
    assert_eq!(
        (r7.kind, r7.cookie, r7.values),
        (Some(Kind::Reply), 7, vec![Value::Str("2".into())])
    );
    for b in request(8, "core.version", &[]) {
        s.write_all(&[b]).expect("write a byte");
        std::thread::sleep(Duration::from_millis(2));
    }
    let r8 = read_reply(&mut s, Duration::from_secs(5)).expect("reply 8");
    assert_eq!(r8.cookie, 8);
    // A cookie is echoed by value, in its own width.
    let big = request(0x1234_abcd, "core.version", &[]);
    assert_eq!(&big[..2], &[0xa1, 0x03]);
    s.write_all(&big).expect("write");
    assert_eq!(
        read_reply(&mut s, Duration::from_secs(5))
            .expect("reply")
            .cookie,
        0x1234_abcd
    );
    // A request larger than 64 KiB is refused and the connection closed.
    let huge = request(9, "core.echo", &[Value::Str("x".repeat(70_000))]);
    let rep = raw_call(path, &huge).expect("a fault");
    assert_eq!(
        rep.fault(),
        Some((400, "bad request: request too big".into()))
    );
    // A truncated datagram gets no answer; a whole one does.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    udp.set_read_timeout(Some(Duration::from_millis(500))).ok();
    let target = a.udp.trim_start_matches("udp:");
    let whole = request(10, "core.version", &[]);
    udp.send_to(&whole[..whole.len() - 3], target)
        .expect("send");
    let mut buf = [0u8; 65536];
    assert!(
        udp.recv_from(&mut buf).is_err(),
        "truncated datagram answered"
    );
    udp.send_to(&whole, target).expect("send");
    assert!(
        udp.recv_from(&mut buf).is_ok(),
        "no answer to a whole datagram"
    );
    drop(r);
}

/// Random bytes from a simple generator (no dependency, reproducible).
fn noise(seed: &mut u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 24) as u8
        })
        .collect()
}

#[test]
fn hostile_clients_neither_stop_sip_nor_the_control_socket() {
    let (r, a) = router_with_ctl(REGISTRAR, "");
    let sipp_port = free_udp_port();
    // SIP load for the whole attack: 2000 OPTIONS at 250/s (8 s).
    let load = Sipp::new("load", "tests/data/sipp/ctl/options.xml", sipp_port)
        .to(r.addr())
        .args(["-m", "2000", "-r", "250", "-l", "500"])
        .timeout(Duration::from_secs(60))
        .spawn();
    let path = a.path.clone();
    let tcp = a.tcp.trim_start_matches("tcp:").to_string();
    let udp_target = a.udp.trim_start_matches("udp:").to_string();
    let unixd = a.unixd.trim_start_matches("unixd:").to_string();
    let attack_until = Instant::now() + Duration::from_secs(6);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    // Clients that connect and never send.
    let mut idle: Vec<UnixStream> = (0..200)
        .filter_map(|_| UnixStream::connect(&path).ok())
        .collect();
    let mut rounds = 0;
    while Instant::now() < attack_until {
        rounds += 1;
        // Random and truncated packets over every transport.
        for i in 0..20 {
            let mut junk = noise(&mut seed, 1 + (i * 37) % 300);
            if i % 3 == 0 {
                junk = request(i as u32, "core.version", &[]);
                junk.truncate(junk.len() / 2);
            }
            if i % 4 == 1 {
                junk[0] = 0xa1;
            }
            if let Ok(mut s) = UnixStream::connect(&path) {
                let _ = s.write_all(&junk);
            }
            if let Ok(mut s) = std::net::TcpStream::connect(&tcp) {
                let _ = s.write_all(&junk);
            }
            if let Ok(u) = std::net::UdpSocket::bind("127.0.0.1:0") {
                let _ = u.send_to(&junk, &udp_target);
            }
            if let Ok(u) = std::os::unix::net::UnixDatagram::unbound() {
                let _ = u.send_to(&junk, &unixd);
            }
        }
        // A thousand clients at once.
        if rounds == 2 {
            let many: Vec<std::thread::JoinHandle<bool>> = (0..1000)
                .map(|i| {
                    let p = path.clone();
                    std::thread::spawn(move || {
                        let Ok(mut s) = UnixStream::connect(&p) else {
                            return false;
                        };
                        if s.write_all(&request(i, "core.version", &[])).is_err() {
                            return false;
                        }
                        read_reply(&mut s, Duration::from_secs(20)).is_some_and(|r| r.cookie == i)
                    })
                })
                .collect();
            let answered = many
                .into_iter()
                .filter_map(|h| h.join().ok())
                .filter(|ok| *ok)
                .count();
            // Connections beyond the 128 open ones evict the idle ones, so
            // most are answered; none may hang.
            assert!(
                answered >= 900,
                "{answered} of 1000 simultaneous clients answered"
            );
        }
        idle.retain(|s| s.peer_addr().is_ok());
    }
    let out = load.wait(Duration::from_secs(60));
    assert_eq!(
        out.code,
        Some(0),
        "SIP load failed while the control socket was attacked:\n{}\n{}",
        out.screen,
        out.errors
    );
    // The socket still answers on every transport, and the router lives.
    for (addr, _) in a.all() {
        let v: CmdOut = kamcmd(addr, &["core.version"]);
        assert!(
            v.stdout.starts_with("ser "),
            "{addr} after the attack: {v:?}"
        );
    }
    drop(idle);
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn default_socket_and_socket_file_hygiene() {
    // A config that loads ctl without an address gets SER's default.
    let cfg = "listen=udp:127.0.0.1:{PORT}\nloadmodule \"sl\"\nloadmodule \"ctl\"\n\
               route { sl_send_reply(\"200\", \"OK\"); }\n";
    let r = Router::start(cfg, &Start::default());
    assert!(
        r.stderr()
            .contains("control socket (binrpc) on unixs:/tmp/ser_ctl"),
        "{}",
        r.stderr()
    );
    assert!(kamcmd_ok("unixs:/tmp/ser_ctl", &["core.version"]).starts_with("ser "));
    // A second router may not take the socket of a live one.
    let cfg2 = "listen=udp:127.0.0.1:{PORT}\nloadmodule \"sl\"\nloadmodule \"ctl\"\n\
                modparam(\"ctl\", \"binrpc\", \"unixs:/tmp/ser_ctl\")\n\
                route { sl_send_reply(\"200\", \"OK\"); }\n";
    let second = std::process::Command::new(ser_tests::ser_binary())
        .args(["-E", "-f"])
        .arg({
            let p = r.dir().join("second.cfg");
            std::fs::write(&p, cfg2.replace("{PORT}", &free_udp_port().to_string()))
                .expect("write");
            p
        })
        .output()
        .expect("run a second ser");
    assert_ne!(second.status.code(), Some(0));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("ctl: cannot listen on unixs:/tmp/ser_ctl"),
        "{err}"
    );
    // The first still answers; at exit the file is removed.
    assert!(kamcmd_ok("unixs:/tmp/ser_ctl", &["core.version"]).starts_with("ser "));
    let (code, _) = r.stop();
    assert_eq!(code, Some(0));
    assert!(!std::path::Path::new("/tmp/ser_ctl").exists());
}

#[test]
fn statistics_methods_show_what_the_router_counted() {
    let (r, a) = router_with_ctl(REGISTRAR, "");
    let addr = a.unix.as_str();
    let peer = Peer::new();
    for i in 0..5 {
        let options = format!(
            "OPTIONS sip:x@127.0.0.1:{} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bK-st{i}\r\n\
             From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: st-{i}\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            r.port,
            peer.port()
        );
        peer.send(r.addr(), options.as_bytes());
        let (reply, _) = peer.recv(Duration::from_secs(5)).expect("200 to OPTIONS");
        assert_eq!(first_line(&reply), "SIP/2.0 200 OK");
    }
    let reg = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-sr\r\n\
         From: <sip:carol@127.0.0.1>;tag=c\r\nTo: <sip:carol@127.0.0.1>\r\n\
         Call-ID: st-reg@test\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n\
         Contact: <sip:carol@127.0.0.1:{p}>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n",
        p = peer.port()
    );
    peer.send(r.addr(), reg.as_bytes());
    let (ok, _) = peer
        .recv(Duration::from_secs(5))
        .expect("200 to the REGISTER");
    assert_eq!(first_line(&ok), "SIP/2.0 200 OK");

    assert_eq!(
        kamcmd_ok(
            addr,
            &[
                "stats.get_statistics",
                "core:rcv_requests",
                "rcv_requests_options"
            ]
        ),
        "core:rcv_requests = 6\ncore:rcv_requests_options = 5\n"
    );
    let all = kamcmd_ok(addr, &["stats.get_statistics", "all"]);
    let l = lines(&all);
    let mut sorted = l.clone();
    sorted.sort_by_key(|x| {
        x.split_once(':')
            .map(|(g, n)| (g.to_string(), n.to_string()))
    });
    assert_eq!(l, sorted, "groups then names, sorted");
    assert!(l.contains(&"usrloc:registered_users = 1"), "{all}");
    assert!(l.contains(&"registrar:accepted_regs = 1"), "{all}");
    assert!(l.contains(&"sl:200_replies = 6"), "{all}");
    assert_eq!(
        kamcmd_ok(addr, &["stats.get_statistics"]),
        "error: 400 - Please provide which stats to retrieve\n"
    );
    assert_eq!(
        kamcmd_ok(addr, &["stats.fetch", "core:rcv_requests"]),
        "{\n\tcore.rcv_requests: 6\n}\n"
    );
    assert_eq!(
        kamcmd_ok(addr, &["stats.fetchn", "rcv_requests_register"]),
        "{\n\tcore.rcv_requests_register: 1\n}\n"
    );
    let sl = kamcmd_ok(addr, &["sl.stats"]);
    // `2xx` counts the other 2xx codes, as in Kamailio.
    assert!(sl.starts_with("{\n\t200: 6\n\t202: 0\n\t2xx: 0\n"), "{sl}");
    let tm = kamcmd_ok(addr, &["tm.stats"]);
    assert_eq!(lines(&tm).len(), 17, "{tm}");
    assert!(tm.starts_with("{\n\tcurrent: 0\n\twaiting: "), "{tm}");
    let groups = kamcmd_ok(addr, &["cnt.grps_list"]);
    for g in ["core", "registrar", "shard", "shmem", "sl", "tmx", "usrloc"] {
        assert!(groups.lines().any(|x| x == g), "{g} not in {groups}");
    }
    assert_eq!(
        kamcmd_ok(addr, &["cnt.var_list", "usrloc"]),
        "location_contacts\nlocation_expires\nlocation_users\nregistered_users\n"
    );
    assert_eq!(kamcmd_ok(addr, &["cnt.get", "core", "rcv_requests"]), "6\n");
    assert_eq!(
        kamcmd_ok(addr, &["cnt.grp_get_all", "usrloc"]),
        "{\n\tlocation_contacts: 1\n\tlocation_expires: 0\n\tlocation_users: 1\n\tregistered_users: 1\n}\n"
    );
    assert!(!kamcmd_ok(addr, &["cnt.help", "core", "rcv_requests"]).starts_with("error"));
    assert_eq!(
        kamcmd_ok(addr, &["cnt.get", "core", "nosuch"]),
        "error: 400 - non-existent counter core.nosuch\n"
    );
    // Resets: counters go to 0, gauges keep their value.
    assert_eq!(
        kamcmd_ok(addr, &["stats.reset_statistics", "core:rcv_requests"]),
        ""
    );
    assert_eq!(kamcmd_ok(addr, &["cnt.get", "core", "rcv_requests"]), "0\n");
    assert_eq!(
        kamcmd_ok(
            addr,
            &[
                "stats.clear_statistics",
                "sl:200_replies",
                "registered_users"
            ]
        ),
        "sl:200_replies = 0 (6)\nusrloc:registered_users = 1\n"
    );
    drop(r);
}
