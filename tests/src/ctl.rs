//! Talking to a router's control socket in tests: the real `kamcmd` (from
//! Debian's `kamailio` package), bounded in time, and a raw BINRPC client
//! for what `kamcmd` cannot send (malformed packets, pipelining, floods).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ser_core::ctl::binrpc::{self, Frame, Kind, Value, Writer};

/// What a command printed.
#[derive(Clone, Debug)]
pub struct CmdOut {
    pub stdout: String,
    pub stderr: String,
    /// `None`: killed by a signal.
    pub code: Option<i32>,
}

/// Path of `kamcmd`; panics with the install hint when it is missing (the
/// test script installs it, a test must never pass without it).
pub fn kamcmd_path() -> PathBuf {
    for p in [
        "/usr/sbin/kamcmd",
        "/usr/bin/kamcmd",
        "/usr/local/sbin/kamcmd",
    ] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!("kamcmd is missing: install Debian's `kamailio` package (tests/run.sh does)");
}

/// Runs a program with arguments, killed after `limit`.
pub fn run_bounded(program: &Path, args: &[&str], limit: Duration) -> CmdOut {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let end = Instant::now() + limit;
    let status = loop {
        match child.try_wait().expect("wait for the child") {
            Some(s) => break s,
            None if Instant::now() >= end => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} {args:?} did not finish within {limit:?}",
                    program.display()
                );
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    CmdOut {
        stdout: String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned(),
        code: status.code(),
    }
}

/// `kamcmd -s ADDR args...`, killed after 20 s.
pub fn kamcmd(addr: &str, args: &[&str]) -> CmdOut {
    let mut all = vec!["-s", addr];
    all.extend_from_slice(args);
    run_bounded(&kamcmd_path(), &all, Duration::from_secs(20))
}

/// `kamcmd`'s standard output; panics when it failed (exit status not 0).
pub fn kamcmd_ok(addr: &str, args: &[&str]) -> String {
    let o = kamcmd(addr, args);
    assert_eq!(
        o.code,
        Some(0),
        "kamcmd -s {addr} {args:?} failed:\n{}{}",
        o.stdout,
        o.stderr
    );
    o.stdout
}

/// A request packet: method and parameters, with `cookie`.
pub fn request(cookie: u32, method: &str, params: &[Value]) -> Vec<u8> {
    let mut w = Writer::new();
    w.str(method);
    for p in params {
        w.value(p);
    }
    binrpc::packet(Kind::Request, cookie, w.as_bytes())
}

/// A decoded reply packet.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub kind: Option<Kind>,
    pub cookie: u32,
    pub values: Vec<Value>,
}

impl Reply {
    /// `(code, message)` of a fault.
    pub fn fault(&self) -> Option<(i32, String)> {
        match (self.kind, self.values.as_slice()) {
            (Some(Kind::Fault), [Value::Int(c), Value::Str(m), ..]) => Some((*c, m.clone())),
            _ => None,
        }
    }
}

/// Reads one reply packet from a stream, and not a byte more (pipelined
/// replies stay in the socket for the next call); `None` when the server
/// closed the connection or nothing came within `limit`.
pub fn read_reply(s: &mut UnixStream, limit: Duration) -> Option<Reply> {
    s.set_read_timeout(Some(limit)).ok()?;
    let mut head = Vec::with_capacity(10);
    let h = loop {
        match binrpc::frame(&head) {
            Frame::Header(h) => break h,
            Frame::Corrupted => return None,
            Frame::Incomplete => {
                let mut b = [0u8; 1];
                match s.read(&mut b) {
                    Ok(1) => head.push(b[0]),
                    _ => return None,
                }
            }
        }
    };
    let mut body = vec![0u8; h.body_len];
    s.read_exact(&mut body).ok()?;
    let values = binrpc::decode(&body).ok()?;
    Some(Reply {
        kind: h.kind,
        cookie: h.cookie,
        values,
    })
}

/// Sends raw bytes over a new unix stream connection and reads one reply.
pub fn raw_call(path: &Path, bytes: &[u8]) -> Option<Reply> {
    let mut s = UnixStream::connect(path).ok()?;
    s.write_all(bytes).ok()?;
    read_reply(&mut s, Duration::from_secs(5))
}

/// A free TCP port on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}
