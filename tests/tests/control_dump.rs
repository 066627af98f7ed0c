//! `ul.dump` of a million bindings through the real `kamcmd`: Kamailio's
//! one-reply dump outgrows what `kamcmd` reads on large tables; ours
//! pages, each reply under `kamcmd`'s 128 KiB, `Next: N` naming the start
//! of the following page.
//!
//! The table is filled over the control socket itself (one connection,
//! requests pipelined), which is also a test of `ul.add` at volume.

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use ser_core::ctl::binrpc::{Kind, Value};
use ser_tests::ctl::{kamcmd, read_reply, request};
use ser_tests::router::{Router, Start};

const BINDINGS: u32 = 1_000_000;

#[test]
fn ul_dump_pages_a_million_bindings_through_kamcmd() {
    let cfg = "listen=udp:127.0.0.1:{PORT}\nloadmodule \"sl\"\nloadmodule \"usrloc\"\n\
               loadmodule \"registrar\"\nloadmodule \"ctl\"\n\
               modparam(\"ctl\", \"binrpc\", \"unix:{DIR}/ctl\")\n\
               route { sl_send_reply(\"404\", \"Not Found\"); }\n";
    let r = Router::start(cfg, &Start::default());
    let path = r.dir().join("ctl");
    let addr = format!("unix:{}", path.display());

    // Fill: a writer thread pipelines the ul.add requests, this thread
    // reads the replies.
    let t0 = Instant::now();
    let mut s = UnixStream::connect(&path).expect("connect");
    let mut w = s.try_clone().expect("clone the stream");
    let writer = std::thread::spawn(move || {
        let mut batch = Vec::with_capacity(1 << 20);
        for i in 0..BINDINGS {
            let params = [
                Value::Str("location".into()),
                Value::Str(format!("u{i}")),
                Value::Str(format!("sip:u{i}@192.0.2.1:5060")),
                Value::Int(3600),
                Value::Double(1.0),
                Value::Str(".".into()),
                Value::Int(0),
                Value::Int(0),
                Value::Int(0),
            ];
            batch.extend(request(i, "ul.add", &params));
            if batch.len() > 60_000 {
                w.write_all(&batch).expect("send ul.add");
                batch.clear();
            }
        }
        w.write_all(&batch).expect("send ul.add");
    });
    for i in 0..BINDINGS {
        let rep = read_reply(&mut s, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("no reply to ul.add {i}"));
        assert_eq!((rep.kind, rep.cookie), (Some(Kind::Reply), i), "{rep:?}");
    }
    writer.join().expect("writer");
    let filled = t0.elapsed();

    // Page through with kamcmd.
    let t1 = Instant::now();
    let mut seen: HashSet<String> = HashSet::with_capacity(BINDINGS as usize);
    let mut from: Option<u64> = None;
    let mut pages = 0;
    loop {
        let start = from.map(|n| n.to_string());
        let mut args = vec!["ul.dump", "brief"];
        if let Some(s) = &start {
            args.push(s);
        }
        let out = kamcmd(&addr, &args);
        assert_eq!(
            out.code,
            Some(0),
            "kamcmd {args:?}: {}{}",
            out.stdout,
            out.stderr
        );
        pages += 1;
        let mut next = None;
        for line in out.stdout.lines() {
            if let Some(aor) = line.strip_prefix("\t\t\t\tAoR: ") {
                assert!(seen.insert(aor.to_string()), "{aor} on two pages");
            } else if let Some(n) = line.strip_prefix("\tNext: ") {
                next = Some(n.parse::<u64>().expect("Next is a number"));
            }
        }
        match next {
            Some(n) => {
                assert!(from.is_none_or(|f| n > f), "Next does not advance: {n}");
                from = Some(n);
            }
            None => break,
        }
        assert!(pages < 10_000, "too many pages");
    }
    assert_eq!(
        seen.len(),
        BINDINGS as usize,
        "AoRs seen over {pages} pages"
    );
    let dumped = t1.elapsed();

    // A full (not brief) dump pages too, each page readable by kamcmd.
    let out = kamcmd(&addr, &["ul.dump"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("\tNext: "),
        "a full dump of 1M bindings fits one reply?"
    );
    assert!(
        out.stdout.contains("\t\t\t\t\t\t\tAddress: sip:u"),
        "{}",
        &out.stdout[..500]
    );
    eprintln!(
        "1,000,000 ul.add in {filled:?}; ul.dump brief in {pages} kamcmd pages in {dumped:?}"
    );
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
}
