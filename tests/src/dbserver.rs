//! Throw-away database servers for the store tests: a PostgreSQL and a
//! MariaDB server, each in its own temporary directory, listening on
//! 127.0.0.1 and a free port, with a database `ser` and a user `ser`
//! (password `heslo`, as in the seed configs).
//!
//! They come from Debian's packages (`postgresql`: binaries in
//! `/usr/lib/postgresql/<version>/bin`; `mariadb-server`: `mariadbd`,
//! `mariadb-install-db`, `mariadb`); `tests/run.sh` installs them. Neither
//! server runs as root: when the tests run as root, the server processes
//! are started directly as the packages' `postgres` and `mysql` users
//! (set-uid in the child before exec, so the process we stop by PID is the
//! server itself), and their directory belongs to that user.
//!
//! Start-up is bounded in time and panics with a message naming what is
//! missing or the server's log. [`DbServer::stop`] and
//! [`DbServer::start_again`] take a running server down and up on the same
//! port and data (for connection-loss tests); drop stops it (by PID) and
//! removes its directory. The server gets `SIGKILL` if the test thread
//! that started it dies without dropping it (`PR_SET_PDEATHSIG`).

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::ctl::free_tcp_port;
use crate::router::TempDir;

/// How long a server may take to start.
const START_LIMIT: Duration = Duration::from_secs(60);
/// How long a server may take to stop before it is killed.
const STOP_LIMIT: Duration = Duration::from_secs(20);

/// The user and password the servers create.
pub const USER: &str = "ser";
pub const PASSWORD: &str = "heslo";
pub const DATABASE: &str = "ser";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    Mariadb,
}

/// A running (or stopped) throw-away server.
pub struct DbServer {
    kind: Kind,
    port: u16,
    /// Owner of the files and the server process when we are root.
    run_as: Option<(u32, u32)>,
    /// Where the binaries are (PostgreSQL) or empty (MariaDB: on PATH or
    /// in /usr/sbin).
    bin: PathBuf,
    child: Option<Child>,
    dir: TempDir,
}

impl DbServer {
    /// A new PostgreSQL server with role `ser` and database `ser`.
    pub fn postgres() -> DbServer {
        let bin = postgres_bin();
        let run_as = service_user("postgres", "Debian's postgresql package creates it");
        let mut s = DbServer::new(Kind::Postgres, bin, run_as, "ser-pg");
        let data = s.data();
        let pw = s.dir.0.join("pwfile");
        std::fs::write(&pw, "postgres\n").expect("write the superuser password file");
        s.give_away(&pw);
        let out = s.run_tool(
            "initdb",
            s.tool("initdb")
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
                .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
                .arg(format!("--pwfile={}", pw.display())),
        );
        check(&out, "initdb");
        s.launch();
        s.psql(&format!("CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'"));
        // Not in the same -c: CREATE DATABASE refuses a transaction block.
        s.psql(&format!("CREATE DATABASE {DATABASE} OWNER {USER}"));
        s
    }

    /// A new MariaDB server with database `ser` and user `ser`.
    pub fn mariadb() -> DbServer {
        for tool in ["mariadbd", "mariadb-install-db", "mariadb"] {
            if find_program(tool).is_none() {
                panic!(
                    "{tool} not found (on PATH or in /usr/sbin): install Debian's mariadb-server \
                     package (tests/run.sh does)"
                );
            }
        }
        let run_as = service_user("mysql", "Debian's mariadb-server package creates it");
        let mut s = DbServer::new(Kind::Mariadb, PathBuf::new(), run_as, "ser-maria");
        let data = s.data();
        // Its own temporary directory: two servers bootstrapping at once
        // in /tmp trip over each other's temporary tables.
        let tmp = s.dir.0.join("tmp");
        std::fs::create_dir_all(&tmp).expect("create the server's tmpdir");
        s.give_away(&tmp);
        let out = s.run_tool(
            "mariadb-install-db",
            s.tool("mariadb-install-db")
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--tmpdir={}", tmp.display()))
                .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
                .arg("--skip-name-resolve"),
        );
        check(&out, "mariadb-install-db");
        s.launch();
        s.mariadb_sql(&format!(
            "DROP USER IF EXISTS ''@'localhost'; \
             CREATE DATABASE {DATABASE}; \
             CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
             CREATE USER '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL ON {DATABASE}.* TO '{USER}'@'127.0.0.1'; \
             GRANT ALL ON {DATABASE}.* TO '{USER}'@'localhost';"
        ));
        s
    }

    fn new(kind: Kind, bin: PathBuf, run_as: Option<(u32, u32)>, what: &str) -> DbServer {
        let dir = TempDir::new(what);
        let s = DbServer {
            kind,
            port: free_tcp_port(),
            run_as,
            bin,
            child: None,
            dir,
        };
        s.give_away(&s.dir.0);
        s
    }

    /// The `db_url` of the server, as user `ser`.
    pub fn url(&self) -> String {
        let scheme = match self.kind {
            Kind::Postgres => "postgres",
            Kind::Mariadb => "mysql",
        };
        format!(
            "{scheme}://{USER}:{PASSWORD}@127.0.0.1:{}/{DATABASE}",
            self.port
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// PID of the server process, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the server (PostgreSQL: fast shut-down, which disconnects the
    /// clients; MariaDB: normal shut-down) and waits for it to exit;
    /// killed if it takes longer than 20 s.
    pub fn stop(&mut self) {
        // A frozen server would never see the signal below.
        self.thaw();
        let Some(mut child) = self.child.take() else {
            return;
        };
        let sig = match self.kind {
            Kind::Postgres => libc::SIGINT,
            Kind::Mariadb => libc::SIGTERM,
        };
        // SAFETY: kill(2) on the PID of our own child, not yet reaped.
        unsafe { libc::kill(child.id() as i32, sig) };
        let t0 = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if t0.elapsed() > STOP_LIMIT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Freezes the server (`SIGSTOP` to it and its child processes, so
    /// PostgreSQL's backends too): connections stay open and nothing
    /// answers, as with a hung host. Returns once every thread is stopped:
    /// a multi-threaded process stops only when one of its threads has run
    /// and stopped the others, and until then MariaDB still answers.
    pub fn freeze(&self) {
        let pids = self.signal_tree(libc::SIGSTOP);
        let t0 = Instant::now();
        while !pids.iter().all(|p| all_threads_stopped(*p)) {
            if t0.elapsed() > Duration::from_secs(10) {
                panic!(
                    "the {:?} server did not stop within 10 s of SIGSTOP",
                    self.kind
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Undoes [`freeze`](DbServer::freeze).
    pub fn thaw(&self) {
        self.signal_tree(libc::SIGCONT);
    }

    /// Sends `sig` to the server and its children; their PIDs.
    fn signal_tree(&self, sig: i32) -> Vec<u32> {
        let Some(pid) = self.pid() else {
            return Vec::new();
        };
        let mut pids = vec![pid];
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                if parent_of(p) == Some(pid) {
                    pids.push(p);
                }
            }
        }
        for p in &pids {
            // SAFETY: kill(2) on the server and its children.
            unsafe { libc::kill(*p as i32, sig) };
        }
        pids
    }

    /// Starts the server again on the same port and data after [`stop`].
    ///
    /// [`stop`]: DbServer::stop
    pub fn start_again(&mut self) {
        if self.child.is_none() {
            self.launch();
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.0.join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.0.clone()
    }

    fn log(&self) -> PathBuf {
        self.dir.0.join("server.log")
    }

    /// A command for one of the server's programs, run as the service user
    /// when we are root, in the server's directory.
    fn tool(&self, name: &str) -> Command {
        let prog = match self.kind {
            Kind::Postgres => self.bin.join(name),
            Kind::Mariadb => find_program(name).unwrap_or_else(|| PathBuf::from(name)),
        };
        let mut cmd = Command::new(prog);
        cmd.current_dir(&self.dir.0).stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn run_tool(&self, what: &str, cmd: &mut Command) -> Output {
        match cmd.output() {
            Ok(o) => o,
            Err(e) => panic!("cannot run {what} ({:?}): {e}", cmd.get_program()),
        }
    }

    /// Starts the server process and waits until it takes connections.
    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("open the server log");
        self.give_away(&self.log());
        let mut cmd = match self.kind {
            Kind::Postgres => {
                let mut c = self.tool("postgres");
                c.arg("-D")
                    .arg(self.data())
                    .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-k"])
                    .arg(self.socket_dir())
                    .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                    .args(["-c", "full_page_writes=off", "-c", "shared_buffers=16MB"])
                    .args(["-c", "max_connections=40"]);
                c
            }
            Kind::Mariadb => {
                let mut c = self.tool("mariadbd");
                c.arg("--no-defaults")
                    .arg(format!("--datadir={}", self.data().display()))
                    .arg(format!("--tmpdir={}", self.dir.0.join("tmp").display()))
                    .arg(format!("--socket={}", self.mariadb_socket().display()))
                    .arg(format!("--port={}", self.port))
                    .arg(format!(
                        "--pid-file={}",
                        self.dir.0.join("mariadbd.pid").display()
                    ))
                    .args([
                        "--bind-address=127.0.0.1",
                        "--skip-name-resolve",
                        "--skip-log-bin",
                    ])
                    .args([
                        "--innodb-buffer-pool-size=32M",
                        "--innodb-log-file-size=16M",
                    ])
                    .args(["--innodb-flush-log-at-trx-commit=0", "--max-connections=40"]);
                c
            }
        };
        let err = log.try_clone().expect("clone the log handle");
        cmd.stdout(Stdio::from(log)).stderr(Stdio::from(err));
        // SAFETY: prctl only, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            })
        };
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot start {:?}: {e}", cmd.get_program()),
        };
        self.child = Some(child);
        let t0 = Instant::now();
        loop {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                panic!(
                    "the {:?} server exited at start ({status}); its log:\n{}",
                    self.kind,
                    self.read_log()
                );
            }
            if self.ready() {
                return;
            }
            if t0.elapsed() > START_LIMIT {
                self.stop();
                panic!(
                    "the {:?} server did not take connections within {} s; its log:\n{}",
                    self.kind,
                    START_LIMIT.as_secs(),
                    self.read_log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True once the server answers a trivial query as its superuser.
    fn ready(&self) -> bool {
        if std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_millis(200),
        )
        .is_err()
        {
            return false;
        }
        let out = match self.kind {
            Kind::Postgres => self.psql_cmd("SELECT 1").output(),
            Kind::Mariadb => self.mariadb_cmd("SELECT 1").output(),
        };
        out.is_ok_and(|o| o.status.success())
    }

    fn read_log(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    fn psql_cmd(&self, sql: &str) -> Command {
        let mut c = self.tool("psql");
        c.arg("-h")
            .arg(self.socket_dir())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-c", sql])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn mariadb_socket(&self) -> PathBuf {
        self.dir.0.join("mariadb.sock")
    }

    fn mariadb_cmd(&self, sql: &str) -> Command {
        let mut c = self.tool("mariadb");
        c.arg("--no-defaults")
            .arg(format!("--socket={}", self.mariadb_socket().display()))
            .args(["-u", "root", "-e", sql])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs SQL as the PostgreSQL superuser; panics on failure.
    pub fn psql(&self, sql: &str) {
        let out = self.run_tool("psql", &mut self.psql_cmd(sql));
        check(&out, &format!("psql -c {sql}"));
    }

    /// Runs SQL as the MariaDB root user; panics on failure.
    pub fn mariadb_sql(&self, sql: &str) {
        let out = self.run_tool("mariadb", &mut self.mariadb_cmd(sql));
        check(&out, &format!("mariadb -e {sql}"));
    }

    /// Hands a file or directory to the service user (when root).
    fn give_away(&self, p: &Path) {
        let Some((uid, gid)) = self.run_as else {
            return;
        };
        if let Err(e) = std::os::unix::fs::chown(p, Some(uid), Some(gid)) {
            panic!("cannot give {} to uid {uid}: {e}", p.display());
        }
    }
}

impl Drop for DbServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Panics with the output of a failed tool.
fn check(out: &Output, what: &str) {
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The fields of a `/proc/.../stat` file after the command name (which may
/// itself hold spaces and parentheses): state, parent PID, ...
fn stat_fields(path: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(path).ok()?;
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The parent PID of a process.
fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(&format!("/proc/{pid}/stat"))?
        .get(1)?
        .parse()
        .ok()
}

/// True when every thread of `pid` is stopped (or the process is gone).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    rd.flatten().all(|t| {
        let path = t.path().join("stat");
        match stat_fields(&path.to_string_lossy()) {
            Some(f) => matches!(f.first().map(String::as_str), Some("T" | "t" | "Z" | "X")),
            None => true,
        }
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// When root: the uid and gid of the service user the server must run as.
fn service_user(name: &str, hint: &str) -> Option<(u32, u32)> {
    if !is_root() {
        return None;
    }
    let cname = CString::new(name).expect("no NUL in a user name");
    // SAFETY: getpwnam returns a pointer to static storage or null; it is
    // read at once, before any other call could overwrite it.
    let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
    if pw.is_null() {
        panic!("running as root, and there is no `{name}` user to run the server as ({hint})");
    }
    // SAFETY: non-null result of getpwnam, see above.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Some((uid, gid))
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` and
/// `postgres` (or `SER_PG_BIN`).
fn postgres_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SER_PG_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new("/usr/lib/postgresql");
    let mut best: Option<(u32, PathBuf)> = None;
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten() {
            let bin = e.path().join("bin");
            let v = e.file_name().to_string_lossy().parse::<u32>().unwrap_or(0);
            if bin.join("initdb").is_file()
                && bin.join("postgres").is_file()
                && best.as_ref().is_none_or(|(bv, _)| v > *bv)
            {
                best = Some((v, bin));
            }
        }
    }
    match best {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL server binaries (initdb, postgres) not found under \
             /usr/lib/postgresql/*/bin: install Debian's postgresql package (tests/run.sh \
             does), or point SER_PG_BIN at the directory holding them"
        ),
    }
}

/// A program on PATH or in /usr/sbin.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
