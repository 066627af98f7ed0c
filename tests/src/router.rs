//! A running `ser` for end-to-end tests: started on a config written to a
//! temporary directory, watched through its standard error, stopped with
//! SIGTERM by its PID. Plus small UDP peers (a UAC or UAS is a socket on
//! 127.0.0.1 with a receive timeout).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::{ser_binary, workspace_root};

/// A free UDP port on 127.0.0.1 (bound, read, released: good enough for
/// tests that start the router right after).
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral port");
    s.local_addr().expect("local address").port()
}

/// Standard error lines, shared with the reader thread.
#[derive(Default)]
struct Lines {
    lines: Mutex<Vec<String>>,
    more: Condvar,
}

/// A `ser` process under test.
pub struct Router {
    child: Option<Child>,
    /// The SIP port it listens on, on 127.0.0.1.
    pub port: u16,
    err: Arc<Lines>,
    _dir: TempDir,
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory under the system's temporary directory, named
    /// after `what`, this process and a counter.
    pub fn new(what: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How the router is started.
#[derive(Clone, Debug, Default)]
pub struct Start<'a> {
    /// Extra command-line arguments (e.g. `-W epoll`, `-n 2`); `{PORT}` is
    /// replaced by the router's port, as in the config (e.g.
    /// `-l udp:127.0.0.1:{PORT}`).
    pub args: &'a [&'a str],
    /// Extra environment variables (e.g. `SER_STEERING=0`).
    pub env: &'a [(&'a str, &'a str)],
    /// Install a seccomp filter in the child that makes `io_uring_setup`
    /// fail with ENOSYS, as container runtimes do.
    pub deny_io_uring: bool,
}

impl Router {
    /// Starts `ser` on `config`, where `{PORT}` is replaced by a free port
    /// (in the arguments too) and `{DIR}` by the router's own temporary
    /// directory (for control sockets and files); waits (up to 10 s) for the "listening on"
    /// line. Panics with the router's output if it does not come.
    pub fn start(config: &str, how: &Start<'_>) -> Router {
        let port = free_udp_port();
        let dir = TempDir::new("ser-test");
        let cfg = dir.0.join("ser.cfg");
        let port_text = port.to_string();
        let dir_text = dir.0.display().to_string();
        std::fs::write(
            &cfg,
            config
                .replace("{PORT}", &port_text)
                .replace("{DIR}", &dir_text),
        )
        .expect("write config");
        let mut cmd = Command::new(ser_binary());
        cmd.arg("-f")
            .arg(&cfg)
            .arg("-E")
            .args(how.args.iter().map(|a| a.replace("{PORT}", &port_text)))
            .envs(how.env.iter().copied())
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if how.deny_io_uring {
            use std::os::unix::process::CommandExt;
            // SAFETY: the closure only calls async-signal-safe prctl.
            unsafe { cmd.pre_exec(deny_io_uring_setup) };
        }
        let mut child = cmd.spawn().expect("start ser");
        let err = Arc::new(Lines::default());
        let stderr = child.stderr.take().expect("piped stderr");
        let e2 = err.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut l = e2.lines.lock().unwrap();
                l.push(line);
                e2.more.notify_all();
            }
        });
        let r = Router {
            child: Some(child),
            port,
            err,
            _dir: dir,
        };
        if r.wait_for("listening on", Duration::from_secs(10))
            .is_none()
        {
            let mut r = r;
            let out = r.stop_now();
            panic!("ser did not start:\n{out}");
        }
        r
    }

    /// The router's temporary directory (`{DIR}` in its config), removed
    /// when it is dropped.
    pub fn dir(&self) -> &std::path::Path {
        &self._dir.0
    }

    /// The router's SIP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Waits for a standard error line containing `pat`.
    pub fn wait_for(&self, pat: &str, timeout: Duration) -> Option<String> {
        let end = Instant::now() + timeout;
        let mut l = self.err.lines.lock().unwrap();
        loop {
            if let Some(x) = l.iter().find(|x| x.contains(pat)) {
                return Some(x.clone());
            }
            let now = Instant::now();
            if now >= end {
                return None;
            }
            l = self.err.more.wait_timeout(l, end - now).unwrap().0;
        }
    }

    /// Sends SIGUSR1 and waits (up to `timeout`) for the statistics line
    /// it makes the router print, a new one (earlier lines do not count).
    /// `None` when no new line came in time or it does not parse.
    pub fn statistics(&self, timeout: Duration) -> Option<Statistics> {
        const PAT: &str = "ser: statistics:";
        let count = |l: &[String]| l.iter().filter(|x| x.contains(PAT)).count();
        let before = count(&self.err.lines.lock().unwrap());
        self.signal(libc::SIGUSR1);
        let end = Instant::now() + timeout;
        let mut l = self.err.lines.lock().unwrap();
        loop {
            if count(&l) > before {
                let line = l.iter().rev().find(|x| x.contains(PAT))?;
                return Statistics::parse(line);
            }
            let now = Instant::now();
            if now >= end {
                return None;
            }
            l = self.err.more.wait_timeout(l, end - now).unwrap().0;
        }
    }

    /// Sends SIGUSR1 and returns every statistic the router printed for
    /// it (`ser: stat core:rcv_requests = 3`, only those not zero), keyed
    /// `group:name`. `None` when no new statistics line came in time.
    pub fn stats(&self, timeout: Duration) -> Option<HashMap<String, u64>> {
        const END: &str = "ser: statistics:";
        let before = self
            .err
            .lines
            .lock()
            .unwrap()
            .iter()
            .filter(|x| x.contains(END))
            .count();
        self.statistics(timeout)?;
        let l = self.err.lines.lock().unwrap();
        // The stat lines of this signal come after the previous summary
        // line and before this one (they are written first).
        let mut ends = l
            .iter()
            .enumerate()
            .filter(|(_, x)| x.contains(END))
            .map(|(i, _)| i);
        let start = if before == 0 {
            0
        } else {
            ends.nth(before - 1)? + 1
        };
        let end = l.iter().skip(start).position(|x| x.contains(END))? + start;
        let mut out = HashMap::new();
        for line in &l[start..end] {
            if let Some((name, value)) = line
                .strip_prefix("ser: stat ")
                .and_then(|t| t.split_once(" = "))
            {
                out.insert(name.to_string(), value.trim().parse().ok()?);
            }
        }
        Some(out)
    }

    /// Everything it wrote to standard error so far.
    pub fn stderr(&self) -> String {
        self.err.lines.lock().unwrap().join("\n")
    }

    /// Sends a signal to the router.
    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill on the PID of the child we started.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    /// Stops it with SIGTERM and waits (up to 10 s, then SIGKILL).
    /// Returns the exit code (`None`: killed) and its standard error.
    pub fn stop(mut self) -> (Option<i32>, String) {
        let code = self.terminate();
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(50));
        (code, self.stderr())
    }

    fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        // SAFETY: kill on the PID of the child we started.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(st)) => return st.code(),
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    }

    fn stop_now(&mut self) -> String {
        self.terminate();
        std::thread::sleep(Duration::from_millis(50));
        self.stderr()
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// What `ser` prints on SIGUSR1:
/// `ser: statistics: live transactions N, bindings M`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Statistics {
    /// Transactions alive in all shards.
    pub live_transactions: u64,
    /// Bindings in the location table.
    pub bindings: u64,
}

impl Statistics {
    fn parse(line: &str) -> Option<Statistics> {
        Some(Statistics {
            live_transactions: number_after(line, "live transactions ")?,
            bindings: number_after(line, "bindings ")?,
        })
    }
}

/// The transaction counters `ser` prints at exit:
/// `ser: tm: transactions created C, live L, replies relayed R, local O,
/// retransmissions absorbed A, branch timeouts T, cancelled X, refused F`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TmTotals {
    pub created: u64,
    pub live: u64,
    pub relayed: u64,
    pub local: u64,
    pub absorbed: u64,
    pub timeouts: u64,
    pub cancelled: u64,
    pub refused: u64,
}

impl TmTotals {
    /// The counters from the router's standard error; `None` when it has
    /// no such line (it is printed only when a transaction was created).
    pub fn from_stderr(stderr: &str) -> Option<TmTotals> {
        let line = stderr
            .lines()
            .find(|l| l.contains("ser: tm: transactions created"))?;
        Some(TmTotals {
            created: number_after(line, "transactions created ")?,
            live: number_after(line, ", live ")?,
            relayed: number_after(line, "replies relayed ")?,
            local: number_after(line, ", local ")?,
            absorbed: number_after(line, "retransmissions absorbed ")?,
            timeouts: number_after(line, "branch timeouts ")?,
            cancelled: number_after(line, "cancelled ")?,
            refused: number_after(line, "refused ")?,
        })
    }
}

/// The datagram totals `ser` prints at exit:
/// `ser: total: received R datagrams, handed off H, sent S, send errors E`;
/// returns (received, sent).
pub fn datagram_totals(stderr: &str) -> Option<(u64, u64)> {
    let line = stderr
        .lines()
        .find(|l| l.contains("ser: total: received"))?;
    Some((
        number_after(line, "received ")?,
        number_after(line, ", sent ")?,
    ))
}

/// The decimal number right after the first `pat` in `line`.
fn number_after(line: &str, pat: &str) -> Option<u64> {
    let rest = &line[line.find(pat)? + pat.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Runs in the child before exec: a seccomp filter that answers
/// `io_uring_setup` with ENOSYS and allows everything else.
fn deny_io_uring_setup() -> std::io::Result<()> {
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    // offsetof(struct seccomp_data, nr) = 0, arch = 4.
    let filter = [
        // A = arch; a foreign arch is allowed through (tests run on x86_64).
        bpf_stmt(0x20, 4),
        bpf_jump(0x15, AUDIT_ARCH_X86_64, 0, 3),
        // A = nr
        bpf_stmt(0x20, 0),
        bpf_jump(0x15, libc::SYS_io_uring_setup as u32, 0, 1),
        bpf_stmt(0x06, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        bpf_stmt(0x06, SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prctl with a filter program that outlives the call.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &raw const prog,
            0,
            0,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn bpf_stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn bpf_jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// A UDP peer on 127.0.0.1 (a test UAC or UAS).
pub struct Peer {
    pub sock: UdpSocket,
}

impl Peer {
    pub fn new() -> Peer {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind peer");
        Peer { sock }
    }

    pub fn addr(&self) -> SocketAddr {
        self.sock.local_addr().expect("peer address")
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    pub fn send(&self, to: SocketAddr, data: &[u8]) {
        self.sock.send_to(data, to).expect("send");
    }

    /// The next datagram within `timeout`, as text, with its source.
    pub fn recv(&self, timeout: Duration) -> Option<(String, SocketAddr)> {
        self.sock.set_read_timeout(Some(timeout)).ok()?;
        let mut buf = vec![0u8; 65_536];
        let (n, from) = self.sock.recv_from(&mut buf).ok()?;
        Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from))
    }
}

impl Default for Peer {
    fn default() -> Peer {
        Peer::new()
    }
}

/// The value of the first header `name` (case-insensitive, no compact
/// forms) in a message.
pub fn header<'m>(msg: &'m str, name: &str) -> Option<&'m str> {
    headers(msg, name).into_iter().next()
}

/// Every value of header `name`, in order.
pub fn headers<'m>(msg: &'m str, name: &str) -> Vec<&'m str> {
    let head = msg.split("\r\n\r\n").next().unwrap_or("");
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

/// A UAS's reply to `req`: its Vias and Record-Routes (RFC 3261 12.1.1),
/// From, Call-ID, CSeq, its To with `;tag=TAG` added when it has none,
/// and `Contact: <CONTACT>` when given.
pub fn uas_reply(req: &str, code: u16, reason: &str, tag: &str, contact: Option<&str>) -> String {
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for v in headers(req, "Via") {
        out.push_str(&format!("Via: {v}\r\n"));
    }
    for rr in headers(req, "Record-Route") {
        out.push_str(&format!("Record-Route: {rr}\r\n"));
    }
    for h in ["From", "Call-ID", "CSeq"] {
        out.push_str(&format!("{h}: {}\r\n", header(req, h).unwrap_or_default()));
    }
    let to = header(req, "To").unwrap_or_default();
    if to.contains(";tag=") {
        out.push_str(&format!("To: {to}\r\n"));
    } else {
        out.push_str(&format!("To: {to};tag={tag}\r\n"));
    }
    if let Some(c) = contact {
        out.push_str(&format!("Contact: <{c}>\r\n"));
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// The first line of a message.
pub fn first_line(msg: &str) -> &str {
    msg.split("\r\n").next().unwrap_or("")
}
