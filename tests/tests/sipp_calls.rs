//! Real call flows through the running router: sipp as UAC and UAS (the
//! benchmark's scenarios in `benches/sipp/`), `ser` as a stateless proxy
//! in between, with two shards. Every call must complete, and every
//! datagram must be handled by the shard owning its Call-ID.
//!
//! Needs `sipp` (Debian package `sip-tester`; `tests/run.sh` installs it).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ser_tests::router::{Router, Start, free_udp_port};
use ser_tests::workspace_file;

const CONFIG: &str = r#"#!KAMAILIO
listen=udp:127.0.0.1:{PORT}
loadmodule "sl.so"
loadmodule "maxfwd.so"
request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    forward();
}
"#;

const CALLS: u32 = 300;

/// Runs a command until it exits or `limit` passes (then kills it).
fn run_bounded(cmd: &mut Command, limit: Duration) -> (Option<i32>, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sipp (Debian package sip-tester; tests/run.sh installs it)");
    let end = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    let out = child.wait_with_output().expect("sipp output");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

fn calls_through(how: &Start<'_>) {
    let r = Router::start(CONFIG, how);
    let uas_port = free_udp_port();
    let uac_port = free_udp_port();
    let bench = workspace_file("benches/sipp");
    let calls = CALLS.to_string();
    let uas = Command::new("sipp")
        .args(["-sf"])
        .arg(bench.join("uas.xml"))
        .args(["-i", "127.0.0.1", "-p", &uas_port.to_string()])
        .args(["-m", &calls, "-recv_timeout", "5000", "-timeout", "40s"])
        .args(["-nostdin"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the sipp UAS (Debian package sip-tester)");
    let mut uas = KillOnDrop(uas);
    // Let the UAS bind before the first INVITE.
    std::thread::sleep(Duration::from_millis(300));
    let (code, out) = run_bounded(
        Command::new("sipp")
            .arg(format!("127.0.0.1:{}", r.port))
            .arg("-sf")
            .arg(bench.join("uac.xml"))
            .args(["-s", "service", "-key", "uas"])
            .arg(format!("127.0.0.1:{uas_port}"))
            .args(["-i", "127.0.0.1", "-p", &uac_port.to_string()])
            .args(["-m", &calls, "-r", "150", "-d", "100"])
            .args(["-recv_timeout", "5000", "-timeout", "40s", "-nostdin"]),
        Duration::from_secs(60),
    );
    assert_eq!(
        code,
        Some(0),
        "sipp UAC: every call must succeed\n{out}\nser:\n{}",
        r.stderr()
    );
    let _ = uas.0.wait();
    let (code, err) = r.stop();
    assert_eq!(code, Some(0), "{err}");
    // INVITE, 100, 180, 200, ACK, BYE, 200 per call.
    let want = format!("ser: total: received {} datagrams", 7 * CALLS);
    assert!(err.contains(&want), "{want}\n{err}");
    assert!(err.contains("handed off 0,"), "steered to the owner\n{err}");
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sipp_calls_through_io_uring_shards() {
    calls_through(&Start {
        args: &["-n", "2"],
        ..Start::default()
    });
}

#[test]
fn sipp_calls_through_epoll_shards() {
    calls_through(&Start {
        args: &["-n", "2", "-W", "epoll"],
        ..Start::default()
    });
}
