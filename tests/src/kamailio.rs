//! A real Kamailio for tests that compare with it (`sercmd` against
//! `kamcmd`): started from a config written to a temporary directory,
//! in the foreground (`-DD`) with one worker, its runtime directory
//! (`-Y`) and control socket in that directory, its own free SIP port on
//! 127.0.0.1, in its own process group. Stopped by its PID (SIGTERM to
//! the group, then SIGKILL) when dropped.
//!
//! Debian's `kamailio` package installs `/usr/sbin/kamailio` and
//! `/usr/sbin/kamcmd` (tests/run.sh installs it). When either is missing
//! the helpers panic with a message that says so: a comparison that
//! cannot run must not pass.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::router::{TempDir, free_udp_port};

/// Where Debian installs Kamailio (`KAMAILIO_BIN` overrides it).
pub fn kamailio_binary() -> PathBuf {
    installed("KAMAILIO_BIN", "/usr/sbin/kamailio")
}

/// Where Debian installs kamcmd (`KAMCMD_BIN` overrides it).
pub fn kamcmd_binary() -> PathBuf {
    installed("KAMCMD_BIN", "/usr/sbin/kamcmd")
}

fn installed(var: &str, default: &str) -> PathBuf {
    let p = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        p.is_file(),
        "{} is missing: this test compares with the real Kamailio 5.6 tools; \
         install Debian's `kamailio` package (tests/run.sh does) or set {var}",
        p.display()
    );
    p
}

/// A running Kamailio.
pub struct Kamailio {
    child: Option<Child>,
    /// Its control socket (unix stream).
    pub ctl: PathBuf,
    /// Its control socket (unix datagram).
    pub ctl_dgram: PathBuf,
    /// Its SIP port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
    dir: TempDir,
}

impl Kamailio {
    /// Starts Kamailio with the modules the `ctl` tests use (tm, sl,
    /// usrloc with the `location` table, kex, counters, cfg_rpc) and the
    /// control socket on a unix stream and a unix datagram socket in its
    /// temporary directory. Waits (up to 15 s) until `core.version`
    /// answers; panics with its log otherwise.
    pub fn start() -> Kamailio {
        let bin = kamailio_binary();
        let kamcmd = kamcmd_binary();
        let dir = TempDir::new("kamailio-test");
        let port = free_udp_port();
        let ctl = dir.0.join("ctl");
        let ctl_dgram = dir.0.join("ctld");
        let cfg = dir.0.join("kamailio.cfg");
        let config = format!(
            r#"#!KAMAILIO
debug=1
log_stderror=yes
children=1
listen=udp:127.0.0.1:{port}
disable_tcp=yes
disable_sctp=yes
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "ctl.so"
loadmodule "kex.so"
loadmodule "counters.so"
loadmodule "cfg_rpc.so"

modparam("usrloc", "db_mode", 0)
modparam("ctl", "binrpc", "unix:{ctl}")
modparam("ctl", "binrpc", "unixd:{ctl_dgram}")

request_route {{
    if (method == "REGISTER") {{
        save("location");
        exit;
    }}
    sl_send_reply("404", "Not here");
}}
"#,
            ctl = ctl.display(),
            ctl_dgram = ctl_dgram.display(),
        );
        std::fs::write(&cfg, config).expect("write the Kamailio config");
        let log = dir.0.join("kamailio.log");
        let out = File::create(&log).expect("Kamailio log file");
        let err = out.try_clone().expect("Kamailio log file");
        let child = Command::new(&bin)
            .arg("-f")
            .arg(&cfg)
            .args(["-DD", "-E", "-n", "1", "-Y"])
            .arg(&dir.0)
            .arg("-w")
            .arg(&dir.0)
            .current_dir(&dir.0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut k = Kamailio {
            child: Some(child),
            ctl,
            ctl_dgram,
            port,
            log,
            dir,
        };
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            if k.ctl.exists() {
                let ok = Command::new(&kamcmd)
                    .arg("-s")
                    .arg(format!("unix:{}", k.ctl.display()))
                    .arg("core.version")
                    .stdin(Stdio::null())
                    .output()
                    .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"kamailio"));
                if ok {
                    return k;
                }
            }
            let exited = k
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited || Instant::now() > end {
                k.stop();
                panic!(
                    "Kamailio did not start (its control socket did not answer); its log:\n{}",
                    k.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its temporary directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir.0
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as i32;
        // SAFETY: signals the process group made for the child we started
        // (its PID is the group's ID).
        unsafe { libc::kill(-pid, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    // SAFETY: as above.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                    let _ = child.wait();
                    break;
                }
            }
        }
        // Its workers leave with it; give them a moment to go.
        let end = Instant::now() + Duration::from_secs(5);
        // SAFETY: kill with signal 0 only asks whether the group exists.
        while unsafe { libc::kill(-pid, 0) } == 0 && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above; whatever is left of the group is killed.
        unsafe {
            if libc::kill(-pid, 0) == 0 {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
    }
}
