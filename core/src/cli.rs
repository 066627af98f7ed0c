//! The `ser` command line.
//!
//! A small getopt-style parser, written by hand to keep the binary lean:
//! short options only, combined flags (`-DE`, `-ddd`), values attached or
//! separate (`-p5060`, `-p 5060`), `--` ends the options. `-h` and `-V` win
//! wherever they stand, even after an error. `--help` and `--version` are
//! accepted as aliases.
//!
//! Every flag SER or Kamailio documents is recognised. The ones this router
//! does not implement yet are refused with a clear error, never ignored.
//!
//! Parsing is pure ([`parse`]). Checks that need the system (does the user
//! exist, is the directory there) are in [`ProcessSettings::check`], and the
//! settings are applied by [`ProcessSettings::apply`] when the router runs.

use std::ffi::CString;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ser_cfg::{Define, Dialect};

/// Config file read when `-f` is not given (SER's default).
pub const DEFAULT_CONFIG: &str = "/usr/local/etc/ser/ser.cfg";
/// SIP port used when neither `-p`, `-l addr:port` nor the config names one.
pub const DEFAULT_PORT: u16 = 5060;
/// Largest `-n`.
pub const MAX_SHARDS: u16 = 1024;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the config file could not be read or has errors.
pub const EXIT_CONFIG: u8 = 1;
/// Exit status: bad command line (or an option that cannot apply here).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the requested function is not built yet.
pub const EXIT_NOT_BUILT: u8 = 3;
/// Exit status of `-c`: the config is valid but uses functions this router
/// does not support yet (listed as `not supported yet: f (module)`).
pub const EXIT_NOT_SUPPORTED: u8 = 4;

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `-h`: print [`usage`] and exit.
    Help,
    /// `-V`: print [`crate::version::text`] and exit.
    Version,
    /// `-c`: check the config file and exit.
    Check(Options),
    /// Run the router.
    Run(Options),
}

/// The options of a `Check` or `Run` command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `-f`: config file.
    pub config: PathBuf,
    /// `-l`: listen addresses, in command-line order (ports resolved as
    /// SER does it, see [`parse`]).
    pub listen: Vec<ListenSpec>,
    /// `-p`: the last port given; the default port for listen addresses
    /// without one. `None`: the config's `port=`, else [`DEFAULT_PORT`].
    pub port: Option<u16>,
    /// `-n`: number of shards (SER's `children`), 1..=[`MAX_SHARDS`].
    pub shards: Option<u16>,
    /// `-D` count: stay in the foreground when > 0.
    pub foreground: u8,
    /// `-E`: log to stderr.
    pub log_stderr: bool,
    /// `-d` count: raises the log level by this much.
    pub debug: u8,
    /// `-A`: preprocessor defines, in order.
    pub defines: Vec<Define>,
    /// `-y`: the config dialect, instead of detecting it.
    pub dialect: Option<Dialect>,
    /// `-W`: I/O method.
    pub poll_method: Option<PollMethod>,
    /// `-P`: pid file.
    pub pid_file: Option<PathBuf>,
    /// `-u`: user name or number.
    pub user: Option<String>,
    /// `-g`: group name or number.
    pub group: Option<String>,
    /// `-w`: working directory.
    pub work_dir: Option<PathBuf>,
    /// `-o`: with `-c`, write the compiled config to this file (which `-f`
    /// then loads instead of the config).
    pub output: Option<PathBuf>,
    /// `-b`: the receive buffer to ask for on each socket, in bytes.
    pub rcvbuf: Option<usize>,
    /// `--db=URL`: every module's `db_url` replaced by this one
    /// (`--db=embedded`: the built-in SQLite file), to try a config
    /// written for MySQL without a MySQL server.
    pub db_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: PathBuf::from(DEFAULT_CONFIG),
            listen: Vec::new(),
            port: None,
            shards: None,
            foreground: 0,
            log_stderr: false,
            debug: 0,
            defines: Vec::new(),
            dialect: None,
            poll_method: None,
            pid_file: None,
            user: None,
            group: None,
            work_dir: None,
            output: None,
            rcvbuf: None,
            db_url: None,
        }
    }
}

/// Transport protocol of a listen address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Udp,
    Tcp,
    Tls,
    Sctp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Tls => "tls",
            Proto::Sctp => "sctp",
        }
    }

    fn from_name(s: &str) -> Option<Proto> {
        [Proto::Udp, Proto::Tcp, Proto::Tls, Proto::Sctp]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }
}

/// Host part of a listen address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ListenHost {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    /// A host name or an interface name (told apart when sockets are opened).
    Name(String),
}

/// One `-l [proto:]addr[:port]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListenSpec {
    /// `None`: every transport the router has (SER listens on all of them).
    pub proto: Option<Proto>,
    pub host: ListenHost,
    /// `None`: the config's `port=`, else [`DEFAULT_PORT`].
    pub port: Option<u16>,
}

impl FromStr for ListenSpec {
    type Err = String;

    /// Parses `[proto:]addr[:port]`; the error is the reason, without the
    /// value.
    fn from_str(s: &str) -> Result<ListenSpec, String> {
        const BRACKETS: &str = "write IPv6 addresses in brackets, e.g. udp:[::1]:5060";
        let mut rest = s;
        let mut proto = None;
        if s.parse::<Ipv6Addr>().is_ok() {
            return Err(BRACKETS.into());
        }
        if let Some((head, tail)) = s.split_once(':') {
            if let Some(p) = Proto::from_name(head) {
                proto = Some(p);
                rest = tail;
            } else if !head.is_empty()
                && tail.contains(':')
                && head.bytes().all(|b| b.is_ascii_alphabetic())
            {
                return Err(format!(
                    "unknown protocol '{head}' (expected udp, tcp, tls or sctp)"
                ));
            }
        }
        if rest.is_empty() {
            return Err("missing address".into());
        }
        if rest.starts_with('(') {
            return Err("address lists '(a, b)' are not supported yet; repeat -l instead".into());
        }
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (addr, after) = inner
                .split_once(']')
                .ok_or("unclosed '[' in IPv6 address")?;
            let a: Ipv6Addr = addr
                .parse()
                .map_err(|_| format!("'{addr}' is not an IPv6 address"))?;
            let port = match after {
                "" => None,
                p => match p.strip_prefix(':') {
                    Some(p) => Some(parse_port(p)?),
                    None => return Err(format!("unexpected '{p}' after ']'")),
                },
            };
            (ListenHost::V6(a), port)
        } else {
            let (h, port) = match rest.split_once(':') {
                None => (rest, None),
                Some((h, p)) => {
                    if p.contains(':') {
                        return Err(format!("too many ':'; {BRACKETS}"));
                    }
                    (h, Some(parse_port(p)?))
                }
            };
            (parse_host(h)?, port)
        };
        Ok(ListenSpec { proto, host, port })
    }
}

impl fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.proto {
            write!(f, "{}:", p.as_str())?;
        }
        match &self.host {
            ListenHost::V4(a) => write!(f, "{a}")?,
            ListenHost::V6(a) => write!(f, "[{a}]")?,
            ListenHost::Name(n) => f.write_str(n)?,
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(format!("'{s}' is not a port (expected 1-65535)")),
    }
}

fn parse_host(h: &str) -> Result<ListenHost, String> {
    if h.is_empty() {
        return Err("missing address".into());
    }
    if h.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return h
            .parse()
            .map(ListenHost::V4)
            .map_err(|_| format!("'{h}' is not an IPv4 address"));
    }
    let ok = h.len() <= 253
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !ok {
        return Err(format!(
            "'{h}' is not an IPv4 address, [IPv6] address, host name or interface name"
        ));
    }
    Ok(ListenHost::Name(h.to_string()))
}

/// `-W`: the I/O method the shards run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollMethod {
    IoUring,
    Epoll,
}

impl PollMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PollMethod::IoUring => "io_uring",
            PollMethod::Epoll => "epoll",
        }
    }
}

impl FromStr for PollMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<PollMethod, String> {
        match s {
            "io_uring" => Ok(PollMethod::IoUring),
            "epoll" => Ok(PollMethod::Epoll),
            _ => Err("the poll method must be io_uring or epoll".into()),
        }
    }
}

/// A command-line error. Displayed without the `ser: ` prefix, which the
/// binary adds. Every variant exits with [`EXIT_USAGE`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// `-x` at the end of the line, without its value.
    MissingArgument(char),
    /// An option neither we nor SER know (`-Z`, `--foo`).
    UnknownOption(String),
    /// A SER option this router does not implement yet.
    Unsupported { opt: char, what: &'static str },
    /// A value that does not parse or does not apply.
    InvalidValue {
        opt: char,
        value: String,
        reason: String,
    },
    /// A word that is not an option: `ser` takes no operands.
    UnexpectedArgument(String),
}

impl CliError {
    fn invalid(opt: char, value: &str, reason: impl Into<String>) -> CliError {
        CliError::InvalidValue {
            opt,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::MissingArgument(c) => write!(f, "option -{c} requires an argument"),
            CliError::UnknownOption(o) => write!(f, "unknown option {o}; try ser -h"),
            CliError::Unsupported { opt, what } => {
                write!(f, "option -{opt} ({what}) is not supported yet")
            }
            CliError::InvalidValue { opt, value, reason } => {
                write!(f, "invalid argument '{value}' for -{opt}: {reason}")
            }
            CliError::UnexpectedArgument(a) => {
                write!(
                    f,
                    "unexpected argument '{a}' (ser takes no operands); try ser -h"
                )
            }
        }
    }
}

impl std::error::Error for CliError {}

/// A SER/Kamailio option that is recognised but refused.
#[derive(Clone, Copy, Debug)]
pub struct Refused {
    pub opt: char,
    /// Name of its value in the help text, when it takes one.
    pub arg: Option<&'static str>,
    /// What it does in SER/Kamailio (short).
    pub what: &'static str,
}

/// Options SER 0.8/3.x or Kamailio define that this router refuses for now.
#[rustfmt::skip]
pub const REFUSED: &[Refused] = &[
    Refused { opt: 'L', arg: Some("path"), what: "module search path" },
    Refused { opt: 'r', arg: None, what: "DNS check for received=" },
    Refused { opt: 'R', arg: None, what: "reverse DNS check for received=" },
    Refused { opt: 'v', arg: None, what: "Via host check on replies" },
    Refused { opt: 'K', arg: None, what: "Via host check on replies" },
    Refused { opt: 'T', arg: None, what: "disable TCP" },
    Refused { opt: 'N', arg: Some("nr"), what: "TCP children" },
    Refused { opt: 'S', arg: None, what: "disable SCTP" },
    Refused { opt: 'Q', arg: Some("nr"), what: "SCTP children" },
    Refused { opt: 'm', arg: Some("MB"), what: "shared memory size" },
    Refused { opt: 'M', arg: Some("MB"), what: "private memory size" },
    Refused { opt: 'x', arg: Some("name"), what: "shared memory manager" },
    Refused { opt: 'X', arg: Some("name"), what: "private memory manager" },
    Refused { opt: 'Y', arg: Some("dir"), what: "runtime directory" },
    Refused { opt: 't', arg: Some("dir"), what: "chroot" },
    Refused { opt: 'G', arg: Some("file"), what: "pgid file" },
    Refused { opt: 'O', arg: Some("nr"), what: "script optimisation level" },
    Refused { opt: 'a', arg: Some("mode"), what: "auto aliases" },
    Refused { opt: 'e', arg: None, what: "coloured log" },
    Refused { opt: 'I', arg: None, what: "internal build details" },
    Refused { opt: 'C', arg: None, what: "config check with function flags" },
    Refused { opt: 'i', arg: Some("fifo"), what: "FIFO of SER 0.8" },
];

/// Supported options that take a value.
const WITH_VALUE: &str = "flpnPugwAWoyb";
/// Supported options without a value.
#[cfg(test)]
const FLAGS: &str = "cDEdVh";

enum Info {
    Help,
    Version,
}

/// Parses the arguments after the program name.
///
/// `-p port` follows SER: it sets the port of the last `-l` when that one was
/// given without a port, and of every later `-l` without a port; it is also
/// the default port for addresses the config lists. `-l` addresses before
/// the last one keep their own (or no) port.
///
/// Parsing goes on after an error, so that a `-h` or `-V` anywhere wins;
/// otherwise the first error is returned.
pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Command, CliError> {
    let mut opts = Options::default();
    let mut check = false;
    let mut info: Option<Info> = None;
    let mut error: Option<CliError> = None;
    // For each `-l`: whether it named its own port.
    let mut own_port: Vec<bool> = Vec::new();
    let mut operands_only = false;

    fn note(e: CliError, error: &mut Option<CliError>) {
        if error.is_none() {
            *error = Some(e);
        }
    }

    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_ref();
        i += 1;
        if operands_only || arg == "-" || !arg.starts_with('-') {
            note(CliError::UnexpectedArgument(arg.to_string()), &mut error);
            continue;
        }
        if arg == "--" {
            operands_only = true;
            continue;
        }
        if let Some(long) = arg.strip_prefix("--") {
            match long {
                "help" => {
                    info.get_or_insert(Info::Help);
                }
                "version" => {
                    info.get_or_insert(Info::Version);
                }
                _ if long.starts_with("db=") => {
                    let url = &long[3..];
                    if url.is_empty() {
                        note(CliError::UnknownOption(arg.to_string()), &mut error);
                    } else if url == "embedded" {
                        opts.db_url = Some(crate::store::DEFAULT_URL.to_string());
                    } else {
                        opts.db_url = Some(url.to_string());
                    }
                }
                _ => note(CliError::UnknownOption(arg.to_string()), &mut error),
            }
            continue;
        }
        let body = &arg[1..];
        for (pos, c) in body.char_indices() {
            let refused = REFUSED.iter().find(|r| r.opt == c);
            let takes_value = WITH_VALUE.contains(c) || refused.is_some_and(|r| r.arg.is_some());
            if !takes_value {
                match c {
                    'c' => check = true,
                    'D' => opts.foreground = opts.foreground.saturating_add(1),
                    'E' => opts.log_stderr = true,
                    'd' => opts.debug = opts.debug.saturating_add(1),
                    'h' => {
                        info.get_or_insert(Info::Help);
                    }
                    'V' => {
                        info.get_or_insert(Info::Version);
                    }
                    _ => match refused {
                        Some(r) => note(
                            CliError::Unsupported {
                                opt: c,
                                what: r.what,
                            },
                            &mut error,
                        ),
                        None => note(CliError::UnknownOption(format!("-{c}")), &mut error),
                    },
                }
                continue;
            }
            // The value: the rest of this word, else the next word.
            let attached = &body[pos + c.len_utf8()..];
            let value = if !attached.is_empty() {
                Some(attached)
            } else if i < args.len() {
                i += 1;
                Some(args[i - 1].as_ref())
            } else {
                None
            };
            match value {
                None => note(CliError::MissingArgument(c), &mut error),
                Some(v) => {
                    if let Some(r) = refused {
                        note(
                            CliError::Unsupported {
                                opt: c,
                                what: r.what,
                            },
                            &mut error,
                        );
                    } else if let Err(e) = apply_value(&mut opts, &mut own_port, c, v) {
                        note(e, &mut error);
                    }
                }
            }
            break;
        }
    }

    match (info, error) {
        (Some(Info::Help), _) => Ok(Command::Help),
        (Some(Info::Version), _) => Ok(Command::Version),
        (None, Some(e)) => Err(e),
        (None, None) if check => Ok(Command::Check(opts)),
        (None, None) => match &opts.output {
            Some(o) => Err(CliError::invalid(
                'o',
                &o.display().to_string(),
                "writes the compiled config of a check: use it with -c",
            )),
            None => Ok(Command::Run(opts)),
        },
    }
}

fn apply_value(
    opts: &mut Options,
    own_port: &mut Vec<bool>,
    c: char,
    v: &str,
) -> Result<(), CliError> {
    let non_empty = |v: &str| {
        if v.is_empty() {
            Err(CliError::invalid(c, v, "must not be empty"))
        } else {
            Ok(())
        }
    };
    match c {
        'f' => {
            non_empty(v)?;
            opts.config = PathBuf::from(v);
        }
        'l' => {
            let mut spec: ListenSpec = v.parse().map_err(|r| CliError::invalid(c, v, r))?;
            own_port.push(spec.port.is_some());
            if spec.port.is_none() {
                spec.port = opts.port;
            }
            opts.listen.push(spec);
        }
        'p' => {
            let port =
                parse_port(v).map_err(|_| CliError::invalid(c, v, "expected a port, 1-65535"))?;
            opts.port = Some(port);
            if let (Some(last), Some(false)) = (opts.listen.last_mut(), own_port.last()) {
                last.port = Some(port);
            }
        }
        'n' => {
            let n = v
                .parse::<u16>()
                .ok()
                .filter(|n| (1..=MAX_SHARDS).contains(n) && v.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    CliError::invalid(c, v, format!("expected a number of shards, 1-{MAX_SHARDS}"))
                })?;
            opts.shards = Some(n);
        }
        'P' => {
            non_empty(v)?;
            opts.pid_file = Some(PathBuf::from(v));
        }
        'u' => {
            non_empty(v)?;
            opts.user = Some(v.to_string());
        }
        'g' => {
            non_empty(v)?;
            opts.group = Some(v.to_string());
        }
        'w' => {
            non_empty(v)?;
            opts.work_dir = Some(PathBuf::from(v));
        }
        'A' => {
            let d = Define::from_arg(v);
            if d.name.is_empty() || d.name.contains(char::is_whitespace) {
                return Err(CliError::invalid(c, v, "expected NAME or NAME=value"));
            }
            opts.defines.push(d);
        }
        'W' => {
            opts.poll_method = Some(v.parse().map_err(|r| CliError::invalid(c, v, r))?);
        }
        'y' => {
            let d: Dialect = v
                .parse()
                .map_err(|_| CliError::invalid(c, v, "expected ser08, ser09, ser2 or kamailio"))?;
            opts.dialect = Some(d);
        }
        'o' => {
            non_empty(v)?;
            opts.output = Some(PathBuf::from(v));
        }
        'b' => {
            let n = v
                .parse::<usize>()
                .ok()
                .filter(|n| (4096..=1 << 30).contains(n))
                .ok_or_else(|| {
                    CliError::invalid(c, v, "expected a size in bytes, 4096-1073741824")
                })?;
            opts.rcvbuf = Some(n);
        }
        _ => unreachable!("option -{c} is in WITH_VALUE but has no handler"),
    }
    Ok(())
}

/// The `ser -h` text, ending with a newline.
pub fn usage() -> String {
    const DB: &str = crate::store::DEFAULT_URL;
    let mut s = format!("{}\n", crate::version::version_line());
    s.push_str(&format!(
        "\
Usage: ser [options]

Options:
  -f file       Config file to read (default: {DEFAULT_CONFIG})
  -c            Check the config file, report the first error, and exit
  -o file       With -c: also write the compiled config to file; -f loads
                such a file as it loads a config (ser -c -f x.cfg -o x.bin)
  -l address    Listen on address, written [proto:]addr[:port]: proto is udp,
                tcp, tls or sctp (default: every transport), addr an IPv4
                address, an IPv6 address in brackets, a host name or an
                interface name. Repeat -l for more addresses. Without -l the
                config's listen lines are used, else every interface.
                Examples: -l udp:127.0.0.1:5060  -l [::1]  -l eth0:5062
  -p port       Port of the last -l given without a port and of every later
                -l without one; also the config's default (default: {DEFAULT_PORT})
  -n shards     Number of shards, the worker threads (SER's children),
                1-{MAX_SHARDS} (default: the config's children, else one per core)
  -b bytes      Receive buffer to ask for on each socket (default: 4 MB;
                as root the kernel's rmem_max is bypassed)
  -D            Stay in the foreground, do not daemonize (may be repeated)
  -E            Log to stderr instead of syslog
  -d            Raise the log level by one; repeat to raise more (-ddd)
  -A NAME[=val] Define NAME for the config preprocessor, as #!define would
                (repeatable), e.g. -A WITH_AUTH
  -y dialect    Read the config as ser08, ser09, ser2 or kamailio instead of
                detecting the dialect (markers, constructs; docs/config.md)
  -W method     I/O method of the shards: io_uring or epoll
                (default: io_uring, epoll where io_uring is switched off)
  -P file       Write the process id to file
  -u user       Switch to this user (name or number) after start-up
  -g group      Switch to this group (name or number) after start-up
  -w dir        Change the working directory to dir at start-up
  -V            Print the version and the build flags, then exit
  -h            Print this help, then exit
  --db=URL      Use this database for every module's db_url (a config
                written for MySQL on SQLite, say); --db=embedded: the
                built-in SQLite file ({DB})

Not supported yet (recognised, refused with exit status {EXIT_USAGE}):
"
    ));
    let mut line = String::from(" ");
    for r in REFUSED {
        let item = match r.arg {
            Some(a) => format!(" -{} {} ({}),", r.opt, a, r.what),
            None => format!(" -{} ({}),", r.opt, r.what),
        };
        if line.len() + item.len() > 78 {
            s.push_str(line.trim_end());
            s.push('\n');
            line = String::from(" ");
        }
        line.push_str(&item);
    }
    s.push_str(line.trim_end().trim_end_matches(','));
    s.push('\n');
    s.push_str(&format!(
        "\nExit status: {EXIT_OK} ok, {EXIT_CONFIG} config error, {EXIT_USAGE} usage error, \
         {EXIT_NOT_BUILT} not built yet,\n{EXIT_NOT_SUPPORTED} config uses functions not supported yet (-c).\n"
    ));
    s
}

// ----- process settings: -w, -P, -u, -g -------------------------------------

/// User and group to switch to (`-u`, `-g`), resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The user's name, for its supplementary groups (`initgroups`).
    pub user_name: Option<String>,
}

/// `-w`, `-P`, `-u` and `-g`, checked against the system, ready to apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessSettings {
    pub work_dir: Option<PathBuf>,
    /// Absolute: relative to the directory `ser` was started in, not to `-w`.
    pub pid_file: Option<PathBuf>,
    pub identity: Identity,
}

impl ProcessSettings {
    /// Checks the settings without changing anything: the working directory
    /// exists, the pid file's directory exists, the user and group exist,
    /// and a switch of user or group is possible (needs root).
    pub fn check(opts: &Options) -> Result<ProcessSettings, CliError> {
        let mut out = ProcessSettings::default();
        if let Some(d) = &opts.work_dir {
            let shown = d.display().to_string();
            match std::fs::metadata(d) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(CliError::invalid('w', &shown, "not a directory")),
                Err(e) => return Err(CliError::invalid('w', &shown, e.to_string())),
            }
            out.work_dir = Some(d.clone());
        }
        if let Some(p) = &opts.pid_file {
            let shown = p.display().to_string();
            let abs = std::path::absolute(p)
                .map_err(|e| CliError::invalid('P', &shown, e.to_string()))?;
            if abs.is_dir() {
                return Err(CliError::invalid('P', &shown, "is a directory"));
            }
            let parent = abs.parent().unwrap_or(Path::new("/"));
            if !parent.is_dir() {
                return Err(CliError::invalid(
                    'P',
                    &shown,
                    format!("directory {} does not exist", parent.display()),
                ));
            }
            out.pid_file = Some(abs);
        }
        if let Some(u) = &opts.user {
            let (uid, gid, name) = resolve_user(u)?;
            out.identity.uid = Some(uid);
            out.identity.gid = gid;
            out.identity.user_name = name;
        }
        if let Some(g) = &opts.group {
            out.identity.gid = Some(resolve_group(g)?);
        }
        // SAFETY: geteuid/getegid cannot fail and touch no memory.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if euid != 0 {
            let id = &out.identity;
            if id.uid.is_some_and(|uid| uid != euid) {
                let u = opts.user.as_deref().unwrap_or("");
                return Err(CliError::invalid('u', u, "switching user needs root"));
            }
            if id.gid.is_some_and(|gid| gid != egid) {
                let (opt, shown) = match (&opts.group, &opts.user) {
                    (Some(g), _) => ('g', g.as_str()),
                    (None, u) => ('u', u.as_deref().unwrap_or("")),
                };
                return Err(CliError::invalid(opt, shown, "switching group needs root"));
            }
        }
        Ok(out)
    }

    /// Applies the settings, in SER's order: change directory, write the
    /// pid file (while still privileged), then drop group and user.
    pub fn apply(&self) -> io::Result<()> {
        if let Some(d) = &self.work_dir {
            std::env::set_current_dir(d)?;
        }
        if let Some(p) = &self.pid_file {
            write_pid_file(p)?;
        }
        drop_privileges(&self.identity)
    }
}

/// Writes this process's id and a newline to `path` (created or truncated).
pub fn write_pid_file(path: &Path) -> io::Result<()> {
    std::fs::write(path, format!("{}\n", std::process::id()))
}

/// Switches group, then user. Supplementary groups are reset when running as
/// root: to the user's groups when the user is known, else to `gid` alone.
pub fn drop_privileges(id: &Identity) -> io::Result<()> {
    let check = |rc: libc::c_int| {
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    if let Some(gid) = id.gid {
        // SAFETY: geteuid cannot fail and touches no memory.
        if unsafe { libc::geteuid() } == 0 {
            match id.user_name.as_deref().map(CString::new) {
                // SAFETY: `name` is a valid NUL-terminated string.
                Some(Ok(name)) => check(unsafe { libc::initgroups(name.as_ptr(), gid) })?,
                // SAFETY: one valid gid_t is passed with its count.
                _ => check(unsafe { libc::setgroups(1, &gid) })?,
            }
        }
        // SAFETY: plain system call on integers.
        check(unsafe { libc::setgid(gid) })?;
    }
    if let Some(uid) = id.uid {
        // SAFETY: plain system call on integers.
        check(unsafe { libc::setuid(uid) })?;
    }
    Ok(())
}

/// `-u`: a user name, or a number (which need not be in the user database).
/// Returns uid, the user's primary group and name when known.
fn resolve_user(u: &str) -> Result<(u32, Option<u32>, Option<String>), CliError> {
    let err = |reason: String| CliError::invalid('u', u, reason);
    if u.bytes().all(|b| b.is_ascii_digit()) {
        let uid: u32 = u
            .parse()
            .ok()
            .filter(|&n| n != u32::MAX)
            .ok_or_else(|| err("user id out of range".into()))?;
        let found = passwd_lookup(PwKey::Uid(uid)).map_err(|e| err(e.to_string()))?;
        return Ok(match found {
            Some((_, gid, name)) => (uid, Some(gid), Some(name)),
            None => (uid, None, None),
        });
    }
    match passwd_lookup(PwKey::Name(u)).map_err(|e| err(e.to_string()))? {
        Some((uid, gid, name)) => Ok((uid, Some(gid), Some(name))),
        None => Err(err("no such user".into())),
    }
}

/// `-g`: a group name, or a number.
fn resolve_group(g: &str) -> Result<u32, CliError> {
    let err = |reason: String| CliError::invalid('g', g, reason);
    if g.bytes().all(|b| b.is_ascii_digit()) {
        return g
            .parse()
            .ok()
            .filter(|&n| n != u32::MAX)
            .ok_or_else(|| err("group id out of range".into()));
    }
    let name = CString::new(g).map_err(|_| err("contains a NUL byte".into()))?;
    with_buffer(|buf| {
        // SAFETY: zeroed `group` is a valid out-parameter (plain C struct).
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: all pointers are valid for the call; `buf.len()` is the
        // buffer's real size.
        let rc = unsafe {
            libc::getgrnam_r(
                name.as_ptr(),
                &mut grp,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        (rc, (!result.is_null()).then_some(grp.gr_gid))
    })
    .map_err(|e| err(e.to_string()))?
    .ok_or_else(|| err("no such group".into()))
}

enum PwKey<'a> {
    Name(&'a str),
    Uid(u32),
}

/// Looks a user up in the user database: (uid, gid, name).
fn passwd_lookup(key: PwKey<'_>) -> io::Result<Option<(u32, u32, String)>> {
    let name = match key {
        PwKey::Name(n) => Some(
            CString::new(n).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte"))?,
        ),
        PwKey::Uid(_) => None,
    };
    with_buffer(|buf| {
        // SAFETY: zeroed `passwd` is a valid out-parameter (plain C struct).
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: all pointers are valid for the call; `buf.len()` is the
        // buffer's real size.
        let rc = unsafe {
            match (&name, &key) {
                (Some(n), _) => libc::getpwnam_r(
                    n.as_ptr(),
                    &mut pwd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut result,
                ),
                (None, PwKey::Uid(uid)) => libc::getpwuid_r(
                    *uid,
                    &mut pwd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut result,
                ),
                (None, PwKey::Name(_)) => unreachable!(),
            }
        };
        if result.is_null() {
            return (rc, None);
        }
        // SAFETY: on success `pw_name` points to a NUL-terminated string in
        // `buf`, which outlives this borrow.
        let n = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        (
            rc,
            Some((pwd.pw_uid, pwd.pw_gid, n.to_string_lossy().into_owned())),
        )
    })
}

/// Runs a `get*_r` call with a growing scratch buffer until it fits.
fn with_buffer<T>(
    mut call: impl FnMut(&mut Vec<u8>) -> (libc::c_int, Option<T>),
) -> io::Result<Option<T>> {
    let mut buf = vec![0u8; 1024];
    loop {
        let (rc, found) = call(&mut buf);
        match rc {
            0 => return Ok(found),
            libc::ERANGE if buf.len() < (1 << 20) => {
                let n = buf.len() * 2;
                buf.resize(n, 0);
            }
            // "not found" may be reported as one of these (see getpwnam(3)).
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(args: &[&str]) -> Command {
        parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn run(args: &[&str]) -> Options {
        match ok(args) {
            Command::Run(o) => o,
            c => panic!("{args:?}: expected Run, got {c:?}"),
        }
    }

    fn err(args: &[&str]) -> String {
        match parse(args) {
            Err(e) => e.to_string(),
            Ok(c) => panic!("{args:?}: expected an error, got {c:?}"),
        }
    }

    fn spec(proto: Option<Proto>, host: ListenHost, port: Option<u16>) -> ListenSpec {
        ListenSpec { proto, host, port }
    }

    fn name(s: &str) -> ListenHost {
        ListenHost::Name(s.to_string())
    }

    #[test]
    fn defaults() {
        let o = run(&[]);
        assert_eq!(o, Options::default());
        assert_eq!(o.config, Path::new(DEFAULT_CONFIG));
    }

    #[test]
    fn combined_flags_and_counts() {
        let o = run(&["-DE", "-ddd", "-D", "-d"]);
        assert_eq!(o.foreground, 2);
        assert!(o.log_stderr);
        assert_eq!(o.debug, 4);
    }

    #[test]
    fn check_command() {
        match ok(&["-c", "-f", "x.cfg"]) {
            Command::Check(o) => assert_eq!(o.config, Path::new("x.cfg")),
            c => panic!("{c:?}"),
        }
        assert!(matches!(ok(&["-Ec"]), Command::Check(_)));
    }

    #[test]
    fn values_attached_or_separate() {
        assert_eq!(run(&["-p5070"]).port, Some(5070));
        assert_eq!(run(&["-p", "5070"]).port, Some(5070));
        assert_eq!(run(&["-fa.cfg"]).config, Path::new("a.cfg"));
        // A value-taking option ends a group; the rest is its value.
        let o = run(&["-DEfmy.cfg"]);
        assert_eq!((o.foreground, o.log_stderr), (1, true));
        assert_eq!(o.config, Path::new("my.cfg"));
        // ... or the next word when nothing is attached.
        let o = run(&["-Df", "-odd.cfg"]);
        assert_eq!(o.config, Path::new("-odd.cfg"));
    }

    #[test]
    fn help_and_version_win_anywhere() {
        assert_eq!(ok(&["-h"]), Command::Help);
        assert_eq!(ok(&["-V"]), Command::Version);
        assert_eq!(ok(&["-Z", "-t", "/x", "-h"]), Command::Help);
        assert_eq!(ok(&["-p", "nope", "-V"]), Command::Version);
        assert_eq!(ok(&["-DEV"]), Command::Version);
        assert_eq!(ok(&["-V", "-h"]), Command::Version);
        assert_eq!(ok(&["--help"]), Command::Help);
        assert_eq!(ok(&["--version"]), Command::Version);
        assert_eq!(ok(&["stray", "-h"]), Command::Help);
    }

    #[test]
    fn missing_argument() {
        assert_eq!(err(&["-p"]), "option -p requires an argument");
        assert_eq!(err(&["-D", "-f"]), "option -f requires an argument");
        assert_eq!(err(&["-DEl"]), "option -l requires an argument");
        // A refused option with a value still names the missing value.
        assert_eq!(err(&["-t"]), "option -t requires an argument");
    }

    #[test]
    fn unknown_options() {
        assert_eq!(err(&["-Z"]), "unknown option -Z; try ser -h");
        assert_eq!(err(&["-DZ"]), "unknown option -Z; try ser -h");
        assert_eq!(err(&["--foo"]), "unknown option --foo; try ser -h");
        assert_eq!(err(&["-é"]), "unknown option -é; try ser -h");
        // The first error is the one reported.
        assert_eq!(err(&["-Z", "-Y", "x"]), "unknown option -Z; try ser -h");
    }

    #[test]
    fn operands_are_refused() {
        assert_eq!(
            err(&["ser.cfg"]),
            "unexpected argument 'ser.cfg' (ser takes no operands); try ser -h"
        );
        assert!(err(&["-"]).contains("'-'"));
        assert!(err(&["-D", "--", "-E"]).contains("'-E'"));
        // `--` alone is fine.
        assert_eq!(run(&["-D", "--"]).foreground, 1);
    }

    #[test]
    fn refused_flags() {
        assert_eq!(
            err(&["-t", "/x"]),
            "option -t (chroot) is not supported yet"
        );
        assert_eq!(err(&["-t/x"]), "option -t (chroot) is not supported yet");
        for r in REFUSED {
            let args: Vec<String> = match r.arg {
                Some(_) => vec![format!("-{}", r.opt), "v".into()],
                None => vec![format!("-{}", r.opt)],
            };
            let e = parse(&args).unwrap_err();
            assert_eq!(
                e,
                CliError::Unsupported {
                    opt: r.opt,
                    what: r.what
                },
                "{args:?}"
            );
            assert!(e.to_string().starts_with(&format!("option -{} (", r.opt)));
        }
        // The seed's `ser -h` flags are all recognised.
        for c in "LrRvTNmtGOa".chars() {
            assert!(REFUSED.iter().any(|r| r.opt == c), "-{c}");
        }
        // `-b` is built: the receive buffer size, checked.
        match parse(&["-b", "1048576"]).unwrap() {
            Command::Run(o) => assert_eq!(o.rcvbuf, Some(1_048_576)),
            c => panic!("{c:?}"),
        }
        assert!(err(&["-b", "12"]).contains("invalid argument '12' for -b"));
        // `-rR` as SER users write it.
        assert!(err(&["-rR"]).contains("-r ("));
    }

    #[test]
    fn refused_value_is_consumed() {
        // `-h` here is the chroot directory, as getopt would take it.
        assert!(err(&["-t", "-h"]).contains("-t (chroot)"));
    }

    #[test]
    fn no_option_letter_is_both_supported_and_refused() {
        for r in REFUSED {
            assert!(
                !WITH_VALUE.contains(r.opt) && !FLAGS.contains(r.opt),
                "-{}",
                r.opt
            );
        }
    }

    #[test]
    fn listen_forms() {
        let l = |s: &str| s.parse::<ListenSpec>();
        assert_eq!(
            l("udp:127.0.0.1:5060"),
            Ok(spec(
                Some(Proto::Udp),
                ListenHost::V4(Ipv4Addr::LOCALHOST),
                Some(5060)
            ))
        );
        assert_eq!(
            l("127.0.0.1"),
            Ok(spec(None, ListenHost::V4(Ipv4Addr::LOCALHOST), None))
        );
        assert_eq!(
            l("TCP:[::1]:5061"),
            Ok(spec(
                Some(Proto::Tcp),
                ListenHost::V6(Ipv6Addr::LOCALHOST),
                Some(5061)
            ))
        );
        assert_eq!(
            l("[::1]"),
            Ok(spec(None, ListenHost::V6(Ipv6Addr::LOCALHOST), None))
        );
        assert_eq!(l("tls:[2001:db8::1]").unwrap().proto, Some(Proto::Tls));
        assert_eq!(l("eth0:5062"), Ok(spec(None, name("eth0"), Some(5062))));
        assert_eq!(l("localhost"), Ok(spec(None, name("localhost"), None)));
        assert_eq!(
            l("sctp:sip.example.com"),
            Ok(spec(Some(Proto::Sctp), name("sip.example.com"), None))
        );
        assert_eq!(l("br-lan.100"), Ok(spec(None, name("br-lan.100"), None)));
    }

    #[test]
    fn listen_errors() {
        let l = |s: &str| s.parse::<ListenSpec>().unwrap_err();
        assert!(l("").contains("missing address"));
        assert!(l("udp:").contains("missing address"));
        assert!(l("udp::5060").contains("missing address"));
        assert!(l("1.2.3.999").contains("not an IPv4 address"));
        assert!(l("[::1").contains("unclosed"));
        assert!(l("[nope]").contains("not an IPv6"));
        assert!(l("[::1]5060").contains("after ']'"));
        assert!(l("::1").contains("brackets"));
        assert!(l("dead::beef").contains("brackets"));
        assert!(l("udp:fe80::1").contains("brackets"));
        assert!(l("udp:dead::beef").contains("brackets"));
        assert!(l("udp:1.2.3.4:0").contains("not a port"));
        assert!(l("1.2.3.4:65536").contains("not a port"));
        assert!(l("1.2.3.4:+5").contains("not a port"));
        assert!(l("foo:1.2.3.4:5060").contains("unknown protocol 'foo'"));
        assert!(l("(eth0, eth1)").contains("not supported yet"));
        assert!(l("a b").contains("host name"));
        assert_eq!(
            err(&["-l", "udp:1.2.3.4:x"]),
            "invalid argument 'udp:1.2.3.4:x' for -l: 'x' is not a port (expected 1-65535)"
        );
    }

    #[test]
    fn listen_display_round_trips() {
        for s in [
            "udp:127.0.0.1:5060",
            "[::1]",
            "tcp:[2001:db8::1]:5061",
            "eth0:5062",
            "localhost",
        ] {
            assert_eq!(s.parse::<ListenSpec>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn port_follows_ser() {
        // -p applies to the last -l without its own port and to later ones.
        let o = run(&[
            "-l", "a", "-l", "b", "-p", "5070", "-l", "c", "-l", "d:5080",
        ]);
        assert_eq!(
            o.listen,
            vec![
                spec(None, name("a"), None),
                spec(None, name("b"), Some(5070)),
                spec(None, name("c"), Some(5070)),
                spec(None, name("d"), Some(5080)),
            ]
        );
        assert_eq!(o.port, Some(5070));
        // An -l with its own port is not changed by a following -p.
        let o = run(&["-l", "a:5090", "-p", "5070", "-l", "b"]);
        assert_eq!(o.listen[0].port, Some(5090));
        assert_eq!(o.listen[1].port, Some(5070));
        // -p before any -l: applies to all of them.
        let o = run(&["-p", "5070", "-l", "a", "-l", "b"]);
        assert!(o.listen.iter().all(|l| l.port == Some(5070)));
        // Each -p re-targets the last -l; the later -p wins for it.
        let o = run(&["-l", "a", "-p", "1", "-l", "b", "-p", "2"]);
        assert_eq!(o.listen[0].port, Some(1));
        assert_eq!(o.listen[1].port, Some(2));
        let o = run(&["-l", "a", "-p", "1", "-p", "2"]);
        assert_eq!(o.listen[0].port, Some(2));
        // Bad ports.
        for p in ["0", "65536", "x", "", "-1", "+5"] {
            assert!(
                err(&["-p", p]).starts_with(&format!("invalid argument '{p}' for -p")),
                "{p}"
            );
        }
    }

    #[test]
    fn shards() {
        assert_eq!(run(&["-n", "1"]).shards, Some(1));
        assert_eq!(run(&["-n1024"]).shards, Some(1024));
        for n in ["0", "1025", "x", "-1", "+4"] {
            assert_eq!(
                err(&["-n", n]),
                format!("invalid argument '{n}' for -n: expected a number of shards, 1-1024")
            );
        }
    }

    #[test]
    fn poll_method() {
        assert_eq!(
            run(&["-W", "io_uring"]).poll_method,
            Some(PollMethod::IoUring)
        );
        assert_eq!(run(&["-Wepoll"]).poll_method, Some(PollMethod::Epoll));
        assert_eq!(
            err(&["-W", "kqueue"]),
            "invalid argument 'kqueue' for -W: the poll method must be io_uring or epoll"
        );
        assert!(err(&["-W", "epoll_lt"]).contains("io_uring or epoll"));
    }

    #[test]
    fn output_needs_check() {
        match parse(&["-c", "-f", "x.cfg", "-o", "x.bin"]) {
            Ok(Command::Check(o)) => {
                assert_eq!(o.output.as_deref(), Some(Path::new("x.bin")));
                assert_eq!(o.config, Path::new("x.cfg"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(run(&["-f", "x.bin"]).output, None);
        assert_eq!(
            err(&["-f", "x.cfg", "-o", "x.bin"]),
            "invalid argument 'x.bin' for -o: writes the compiled config of a check: use it with -c"
        );
        assert!(err(&["-c", "-o", ""]).contains("must not be empty"));
    }

    #[test]
    fn dialect_option() {
        assert_eq!(run(&[]).dialect, None);
        assert_eq!(run(&["-y", "kamailio"]).dialect, Some(Dialect::Kamailio));
        assert_eq!(run(&["-yser09"]).dialect, Some(Dialect::Ser09));
        assert_eq!(run(&["-y", "SER-2.0"]).dialect, Some(Dialect::Ser2));
        assert_eq!(
            err(&["-y", "ser3"]),
            "invalid argument 'ser3' for -y: expected ser08, ser09, ser2 or kamailio"
        );
        assert!(REFUSED.iter().all(|r| r.opt != 'y'));
    }

    #[test]
    fn defines() {
        let o = run(&["-A", "WITH_AUTH", "-AWITH_NAT=1", "-A", "X="]);
        let d: Vec<(String, Option<String>)> =
            o.defines.into_iter().map(|d| (d.name, d.value)).collect();
        assert_eq!(
            d,
            vec![
                ("WITH_AUTH".into(), None),
                ("WITH_NAT".into(), Some("1".into())),
                ("X".into(), Some(String::new())),
            ]
        );
        assert!(err(&["-A", "=1"]).contains("NAME or NAME=value"));
        assert!(err(&["-A", ""]).contains("NAME or NAME=value"));
    }

    #[test]
    fn process_options_are_stored() {
        let o = run(&["-P", "/run/ser.pid", "-u", "ser", "-g", "123", "-w", "/tmp"]);
        assert_eq!(o.pid_file.as_deref(), Some(Path::new("/run/ser.pid")));
        assert_eq!(o.user.as_deref(), Some("ser"));
        assert_eq!(o.group.as_deref(), Some("123"));
        assert_eq!(o.work_dir.as_deref(), Some(Path::new("/tmp")));
        assert!(err(&["-u", ""]).contains("must not be empty"));
        assert!(err(&["-f", ""]).contains("must not be empty"));
    }

    #[test]
    fn usage_lists_every_flag() {
        let u = usage();
        assert!(u.starts_with("version: ser "));
        for c in WITH_VALUE.chars().chain(FLAGS.chars()) {
            assert!(u.contains(&format!("\n  -{c} ")), "-{c} missing from usage");
        }
        for r in REFUSED {
            assert!(u.contains(&format!(" -{} ", r.opt)), "-{} missing", r.opt);
        }
        assert!(u.lines().all(|l| l.len() <= 80), "{u}");
    }

    #[test]
    fn resolve_users_and_groups() {
        assert_eq!(resolve_user("root").unwrap().0, 0);
        assert_eq!(resolve_user("0").unwrap().0, 0);
        // A number need not exist.
        assert_eq!(
            resolve_user("4000000000").unwrap(),
            (4_000_000_000, None, None)
        );
        assert_eq!(
            resolve_user("no-such-user-zq").unwrap_err().to_string(),
            "invalid argument 'no-such-user-zq' for -u: no such user"
        );
        assert_eq!(resolve_group("0").unwrap(), 0);
        assert_eq!(resolve_group("root").unwrap(), 0);
        assert!(
            resolve_group("no-such-group-zq")
                .unwrap_err()
                .to_string()
                .contains("no such group")
        );
    }

    #[test]
    fn check_process_settings() {
        let dir = std::env::temp_dir();
        let o = Options {
            work_dir: Some(dir.clone()),
            pid_file: Some(dir.join("ser-cli-test.pid")),
            ..Options::default()
        };
        let s = ProcessSettings::check(&o).unwrap();
        assert_eq!(s.work_dir, Some(dir.clone()));
        assert!(s.pid_file.as_ref().unwrap().is_absolute());

        let o = Options {
            work_dir: Some(PathBuf::from("/no/such/dir-zq")),
            ..Options::default()
        };
        assert!(
            ProcessSettings::check(&o)
                .unwrap_err()
                .to_string()
                .starts_with("invalid argument '/no/such/dir-zq' for -w")
        );
        let o = Options {
            pid_file: Some(PathBuf::from("/no/such/dir-zq/ser.pid")),
            ..Options::default()
        };
        assert!(
            ProcessSettings::check(&o)
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
        let o = Options {
            pid_file: Some(dir.clone()),
            ..Options::default()
        };
        assert!(
            ProcessSettings::check(&o)
                .unwrap_err()
                .to_string()
                .contains("is a directory")
        );
    }

    #[test]
    fn pid_file_is_written() {
        let p = std::env::temp_dir().join(format!("ser-cli-pid-{}.pid", std::process::id()));
        write_pid_file(&p).unwrap();
        let s = std::fs::read_to_string(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        assert_eq!(s, format!("{}\n", std::process::id()));
    }
}
