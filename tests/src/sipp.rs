//! sipp as the phones of end-to-end tests: one sipp process per phone, on
//! 127.0.0.1, run from its own temporary directory that receives its trace
//! files (errors, `<log>` actions, messages, statistics), bounded in time
//! and killed on drop.
//!
//! Needs `sipp` (Debian package `sip-tester`; `tests/run.sh` installs it).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::router::TempDir;
use crate::workspace_file;

/// A sipp run being prepared.
pub struct Sipp {
    cmd: Command,
    dir: TempDir,
    role: String,
    port: u16,
}

impl Sipp {
    /// sipp on `scenario` (a path from the workspace root) for the phone
    /// `role` (named in reports), bound to 127.0.0.1:`port`. Traces errors,
    /// `<log>` actions, messages and statistics; `-nostdin`, and a global
    /// `-timeout` of 30 s that fails the run (change it with
    /// [`Sipp::timeout`]).
    pub fn new(role: &str, scenario: &str, port: u16) -> Sipp {
        let dir = TempDir::new("ser-sipp");
        let mut cmd = Command::new("sipp");
        cmd.current_dir(&dir.0)
            .arg("-sf")
            .arg(workspace_file(scenario))
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-trace_err", "-error_file"])
            .arg(dir.0.join("errors.log"))
            .args(["-trace_logs", "-log_file"])
            .arg(dir.0.join("logs.log"))
            .args(["-trace_stat", "-stf"])
            .arg(dir.0.join("stat.csv"))
            .args(["-nostdin"]);
        Sipp {
            cmd,
            dir,
            role: role.to_owned(),
            port,
        }
        .timeout(Duration::from_secs(30))
        .trace_messages()
    }

    /// The proxy every request goes to (sipp's remote host).
    pub fn to(mut self, addr: SocketAddr) -> Sipp {
        self.cmd.arg(addr.to_string());
        self
    }

    /// Extra arguments.
    pub fn args<I, S>(mut self, args: I) -> Sipp
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// `-set name value`: a global variable of the scenario.
    pub fn set(self, name: &str, value: &str) -> Sipp {
        self.args(["-set", name, value])
    }

    /// `-key name value`: a keyword `[name]` of the scenario.
    pub fn key(self, name: &str, value: &str) -> Sipp {
        self.args(["-key", name, value])
    }

    /// `-timeout` (whole seconds, at least 1) with `-timeout_error`: sipp
    /// stops and fails after `limit`.
    pub fn timeout(self, limit: Duration) -> Sipp {
        let s = limit.as_secs().max(1).to_string() + "s";
        self.args(["-timeout", &s, "-timeout_error"])
    }

    /// Traces every message sent and received (`-trace_msg`), read back by
    /// [`SippOutcome::messages`]. On by default.
    fn trace_messages(self) -> Sipp {
        let file = self.dir.0.join("messages.log");
        self.args(["-trace_msg", "-message_file"]).args([file])
    }

    /// Starts it, and waits (up to 5 s) until its port is bound, so that a
    /// server role is ready for the first request.
    pub fn spawn(mut self) -> SippRun {
        let out = std::fs::File::create(self.dir.0.join("stdout.txt")).expect("sipp stdout file");
        let err = out.try_clone().expect("sipp stderr file");
        let child = self
            .cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start sipp (Debian package sip-tester; tests/run.sh installs it)");
        let mut run = SippRun {
            child: Some(child),
            dir: self.dir,
            role: self.role,
            started: Instant::now(),
        };
        let end = Instant::now() + Duration::from_secs(5);
        while !udp_port_bound(self.port) {
            if Instant::now() >= end {
                break;
            }
            if let Some(c) = run.child.as_mut()
                && matches!(c.try_wait(), Ok(Some(_)))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        run
    }

    /// Runs it to the end, or kills it after `limit`.
    pub fn run(self, limit: Duration) -> SippOutcome {
        self.spawn().wait(limit)
    }
}

/// True when a UDP socket is bound to 127.0.0.1:`port` or to any address
/// at `port` (from /proc/net/udp, without touching the port).
pub fn udp_port_bound(port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/udp") else {
        return false;
    };
    let want = [
        format!("0100007F:{port:04X}"),
        format!("00000000:{port:04X}"),
    ];
    table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .any(|local| want.iter().any(|w| w == local))
}

/// A running sipp, killed on drop.
pub struct SippRun {
    child: Option<Child>,
    dir: TempDir,
    role: String,
    started: Instant,
}

impl SippRun {
    /// Waits for it to exit, killing it after `limit`, and collects what it
    /// wrote.
    pub fn wait(mut self, limit: Duration) -> SippOutcome {
        let mut child = self.child.take().expect("running sipp");
        let end = Instant::now() + limit;
        let mut killed = false;
        let code = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st.code(),
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    killed = true;
                    break child.wait().ok().and_then(|s| s.code());
                }
            }
        };
        let read = |name: &str| std::fs::read_to_string(self.dir.0.join(name)).unwrap_or_default();
        SippOutcome {
            role: self.role.clone(),
            code,
            killed,
            elapsed: self.started.elapsed(),
            screen: read("stdout.txt"),
            errors: read("errors.log"),
            logs: read("logs.log"),
            messages: read("messages.log"),
            stat: read("stat.csv"),
        }
    }
}

impl Drop for SippRun {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What one sipp run did.
#[derive(Debug)]
pub struct SippOutcome {
    /// The phone's role, for reports.
    pub role: String,
    /// Exit code (0: every call succeeded); `None` when killed.
    pub code: Option<i32>,
    /// Killed because it outlived its limit.
    pub killed: bool,
    pub elapsed: Duration,
    /// Its standard output and error (the final screens).
    pub screen: String,
    /// `-trace_err`: unexpected messages, failed checks, timeouts.
    pub errors: String,
    /// `-trace_logs`: the scenario's `<log>` lines.
    pub logs: String,
    /// `-trace_msg`: every message sent and received.
    pub messages: String,
    /// `-trace_stat`: the statistics CSV.
    pub stat: String,
}

/// One message from sipp's message trace.
#[derive(Clone, Debug)]
pub struct Traced {
    /// Received (else sent) by sipp.
    pub received: bool,
    /// The message, lines joined by `\n`.
    pub text: String,
}

impl Traced {
    /// The start line (`INVITE sip:... SIP/2.0`, `SIP/2.0 200 OK`).
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }

    /// The status code of a reply.
    pub fn status(&self) -> Option<u16> {
        let rest = self.first_line().strip_prefix("SIP/2.0 ")?;
        rest.get(..3)?.parse().ok()
    }

    /// The method of a request, or of the request a reply answers (from
    /// CSeq).
    pub fn method(&self) -> &str {
        if self.status().is_some() {
            self.header("CSeq")
                .and_then(|c| c.split_whitespace().nth(1))
                .unwrap_or("")
        } else {
            self.first_line().split(' ').next().unwrap_or("")
        }
    }

    /// Every value of header `name` (case-insensitive, full names only).
    pub fn headers(&self, name: &str) -> Vec<&str> {
        self.text
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
            })
            .collect()
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers(name).into_iter().next()
    }
}

impl SippOutcome {
    /// Every traced message, in order.
    pub fn messages(&self) -> Vec<Traced> {
        let mut out = Vec::new();
        for block in self
            .messages
            .split("-----------------------------------------------")
        {
            let block = block.replace("\r\n", "\n");
            let mut lines = block.lines().skip(1);
            let Some(what) = lines.next() else { continue };
            let received = if what.contains("message received") {
                true
            } else if what.contains("message sent") {
                false
            } else {
                continue;
            };
            let text: Vec<&str> = lines.skip_while(|l| l.trim().is_empty()).collect();
            out.push(Traced {
                received,
                text: text.join("\n").trim_end().to_owned(),
            });
        }
        out
    }

    /// The messages it received.
    pub fn received(&self) -> Vec<Traced> {
        self.messages().into_iter().filter(|m| m.received).collect()
    }

    /// The messages it sent.
    pub fn sent(&self) -> Vec<Traced> {
        self.messages()
            .into_iter()
            .filter(|m| !m.received)
            .collect()
    }

    /// "METHOD" for each request and "CODE METHOD" for each reply received,
    /// in order (e.g. `["100 INVITE", "180 INVITE", "200 INVITE"]`).
    pub fn received_summary(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|m| match m.status() {
                Some(code) => format!("{code} {}", m.method()),
                None => m.method().to_owned(),
            })
            .collect()
    }

    /// A cumulative counter of the statistics CSV, by column name (e.g.
    /// `SuccessfulCall(C)`, `FailedCall(C)`), from its last row.
    pub fn stat(&self, column: &str) -> Option<u64> {
        let mut rows = self.stat.lines().filter(|l| !l.trim().is_empty());
        let head: Vec<&str> = rows.next()?.split(';').collect();
        let last: Vec<&str> = rows.next_back()?.split(';').collect();
        let i = head.iter().position(|h| h.trim() == column)?;
        last.get(i)?.trim().parse().ok()
    }

    /// Everything useful to understand a failure.
    pub fn report(&self) -> String {
        let tail = |s: &str, n: usize| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        format!(
            "=== sipp {} (exit {:?}{}, {:.1} s) ===\n--- errors:\n{}\n--- logs:\n{}\n--- screen (end):\n{}\n--- messages (end):\n{}\n",
            self.role,
            self.code,
            if self.killed { ", killed" } else { "" },
            self.elapsed.as_secs_f64(),
            tail(&self.errors, 40),
            tail(&self.logs, 40),
            tail(&self.screen, 40),
            tail(&self.messages, 150),
        )
    }

    /// Panics with [`SippOutcome::report`] (and `context`) unless sipp
    /// exited with 0: every call of the run succeeded.
    pub fn assert_ok(&self, context: &str) {
        assert!(
            self.code == Some(0),
            "sipp {} failed\n{}\n{context}",
            self.role,
            self.report()
        );
    }
}
