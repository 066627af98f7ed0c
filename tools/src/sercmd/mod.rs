//! `sercmd`: a BINRPC client with `kamcmd`'s command line and output, for
//! ser's control socket (module `ctl`) and Kamailio's.
//!
//! - [`args`]: options and the typing of arguments;
//! - [`print`]: kamcmd-identical printing and `-f` formats;
//! - [`crate::rpc`] (shared with `serctl`): unix stream and datagram, TCP
//!   and UDP;
//! - [`interactive`]: the `sercmd> ` prompt, with completion.
//!
//! A command is a method, an alias (`ps`, `ls`, ...) or a builtin
//! (`help`, `quit`, ...). Faults print `error: CODE - MSG` on standard
//! output and exit 0, as kamcmd does; transport, parse and cookie errors
//! print `ERROR: ...` on standard error and exit 255.
//!
//! Beyond kamcmd: `ul.dump` is followed page by page (ser's `ul.dump`
//! ends a reply that does not fit with `Next: N`), replies may be up to
//! 16 MiB, and a reply that does not come in time is an error, not a
//! hang. `docs/sercmd.md` has the whole list.

pub mod args;
pub mod interactive;
pub mod print;

use std::ffi::OsString;
use std::io::{self, Write};

use ser_core::ctl::addr::{self, CtlAddr, Side};
use ser_core::ctl::binrpc::{self, Kind, Value, Writer};

pub use crate::rpc::next_page;
use crate::rpc::{self, CallError, Conn, Target};
use args::{Arg, Options, Parsed};
use print::Format;

/// Version printed by `-V` and the banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Exit status of errors (kamcmd's).
pub const EXIT_ERROR: i32 = 255;

/// A shorthand for a method, with the format its output is printed
/// with (unless `-f` gives one).
#[derive(Clone, Copy, Debug)]
pub struct Alias {
    pub name: &'static str,
    pub method: &'static str,
    /// Written with backslash escapes, as `-f` takes it.
    pub format: Option<&'static str>,
}

const fn alias(name: &'static str, method: &'static str, format: Option<&'static str>) -> Alias {
    Alias {
        name,
        method,
        format,
    }
}

/// kamcmd's aliases, with its formats.
pub const ALIASES: &[Alias] = &[
    alias("ps", "core.ps", Some("%v\\t%v\\n")),
    alias("psx", "core.psx", None),
    alias("list", "system.listMethods", None),
    alias("ls", "system.listMethods", None),
    alias("ver", "core.version", None),
    alias("version", "core.version", None),
    alias("who", "ctl.who", Some("[%v] %v: %v %v -> %v %v\\n")),
    alias("listen", "ctl.listen", Some("[%v] %v: %v %v\\n")),
    alias("dns_mem_info", "dns.mem_info", Some("%v / %v\\n")),
    alias(
        "dns_debug",
        "dns.debug",
        Some("%v (%v): size=%v ref=%v expire=%vs last=%vs ago f=%v\\n"),
    ),
    alias(
        "dns_debug_all",
        "dns.debug_all",
        Some(
            "%v (%v) [%v]: size=%v ref=%v expire=%vs last=%vs ago f=%v\\n\\t\\t%v:%v expire=%vs f=%v\\n",
        ),
    ),
    alias(
        "dst_blacklist_mem_info",
        "dst_blacklist.mem_info",
        Some("%v / %v\\n"),
    ),
    alias(
        "dst_blacklist_debug",
        "dst_blacklist.debug",
        Some("%v:%v:%v expire:%v flags: %v\\n"),
    ),
];

/// Commands handled by sercmd itself, with what `help NAME` says.
pub const BUILTINS: &[(&str, &str)] = &[
    ("?", "same as help"),
    (
        "help",
        "lists the commands; `help NAME` describes a method, alias or builtin",
    ),
    (
        "version",
        "the server's version (the alias of core.version wins, as in kamcmd)",
    ),
    ("quit", "leaves sercmd"),
    ("exit", "leaves sercmd"),
    ("warranty", "tells that sercmd comes with no warranty"),
    ("license", "shows sercmd's license (GPL-2.0-or-later)"),
];

const WARRANTY: &str = "\
sercmd comes with ABSOLUTELY NO WARRANTY, to the extent the law allows:
it is provided as it is, with no promise that it is fit for any purpose.
The GNU General Public License, version 2 or later, has the details.
";

const LICENSE: &str = "\
sercmd is free software, part of ser. You may share and change it under
the terms of the GNU General Public License as published by the Free
Software Foundation, either version 2 of the License or (at your option)
any later version (SPDX: GPL-2.0-or-later). It comes with no warranty;
type `warranty' for what that means.
";

const USAGE: &str = "\
Usage: sercmd [options] [-s address] [method [arg...]]
Sends one command to a SIP router's control socket (BINRPC, module ctl)
and prints the reply as kamcmd does; with no method, reads commands from
a prompt (or from standard input when it is not a terminal).
Options:
    -s address  control socket (default unixs:/tmp/ser_ctl, ser's;
                kamcmd's is unixs:/var/run/kamailio//kamailio_ctl)
    -R name     exact path of the reply socket (unix datagram mode)
    -D dir      directory of the reply socket (unix datagram mode;
                default /tmp)
    -f format   print the reply through format: each %v takes the next
                record, %% is a %, \\n \\t \\r are unescaped
    -t seconds  how long to wait for a reply (default 10; 0: forever)
    -v          verbose: a `.' line after each reply; -vv adds the reply
                header, -vvv a dump of the bytes read
    -U          an address without protocol and without `/' is UDP
    -V          version
    -h          this help
    --          end of the options (to pass negative numbers)
address:
    [proto:]name[:port]   proto: unix (or unixs), unixd, tcp, udp;
                          e.g. tcp:127.0.0.1:2049, unixs:/tmp/ser_ctl
arguments:
    a whole integer is sent as an INT, another number as a DOUBLE,
    anything else as a STR; s:TEXT sends TEXT as a STR (s:1234)
Examples:
    sercmd core.version
    sercmd -s tcp:127.0.0.1:2049 ul.dump brief
    sercmd -f 'pid %v: %v\\n' core.ps
    sercmd -- core.printi -3
";

/// Why a command failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Fail {
    /// The line to print on standard error.
    Msg(String),
    /// Standard output is gone (a closed pipe): stop quietly.
    Output,
}

impl From<io::Error> for Fail {
    fn from(_: io::Error) -> Fail {
        Fail::Output
    }
}

fn err(m: impl std::fmt::Display) -> Fail {
    Fail::Msg(format!("ERROR: {m}"))
}

/// What a command asks of the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    Quit,
}

/// What the server offers, for `help` and completion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    /// `system.listMethods`, once fetched.
    pub methods: Option<Vec<String>>,
    /// `cfg.list`: each group and its variables.
    pub cfg: Vec<(String, Vec<String>)>,
    /// `cnt.grps_list` and `cnt.var_list`.
    pub counters: Vec<(String, Vec<String>)>,
}

impl Catalog {
    fn has(&self, m: &str) -> bool {
        self.methods
            .as_ref()
            .is_some_and(|l| l.iter().any(|x| x == m))
    }
}

/// A connection (opened when first needed, opened again after a stream
/// broke) and what the command line set.
pub struct Session {
    target: Target,
    conn: Option<Conn>,
    verbose: u8,
    format: Option<Format>,
    pub catalog: Catalog,
}

/// A decoded reply packet.
struct Reply {
    kind: Kind,
    body: Vec<u8>,
}

impl Session {
    pub fn new(target: Target, verbose: u8, format: Option<Format>) -> Session {
        Session {
            target,
            conn: None,
            verbose,
            format,
            catalog: Catalog::default(),
        }
    }

    /// Opens the connection now (the interactive mode fails early).
    pub fn connect(&mut self) -> Result<(), Fail> {
        if self.conn.is_none() {
            self.conn = Some(Conn::open(&self.target).map_err(err)?);
        }
        Ok(())
    }

    /// One request, one reply; `log` takes the `-vv`/`-vvv` lines.
    fn request(&mut self, method: &[u8], args: &[Arg], log: &mut Vec<u8>) -> Result<Reply, Fail> {
        let mut w = Writer::new();
        w.str(method);
        for a in args {
            match a {
                Arg::Int(i) => w.int(*i),
                Arg::Double(f) => w.double_fixed(*f),
                Arg::Str(s) => w.str(s),
            };
        }
        self.connect()?;
        let Some(c) = self.conn.as_mut() else {
            return Err(err("not connected"));
        };
        let stream = c.is_stream();
        let reply = match rpc::call(c, w.as_bytes(), self.verbose, log) {
            Ok(r) => r,
            Err(e) => {
                match e {
                    // A stream may hold half a reply now: start afresh.
                    CallError::Transport(_) if stream => self.conn = None,
                    CallError::Cookie { .. } => self.conn = None,
                    _ => {}
                }
                return Err(err(e));
            }
        };
        if self.verbose > 1 {
            log.extend_from_slice(
                format!(
                    "new packet: type {:02x}, len {}, cookie {:x}\n",
                    reply.kind as u8,
                    reply.body.len(),
                    reply.cookie
                )
                .as_bytes(),
            );
        }
        Ok(Reply {
            kind: reply.kind,
            body: reply.body,
        })
    }

    /// Runs one command (its words as typed) and prints what it gives.
    pub fn run(&mut self, words: &[Vec<u8>], out: &mut dyn Write) -> Result<Outcome, Fail> {
        let Some((first, rest)) = words.split_first() else {
            return Ok(Outcome::Continue);
        };
        let name = String::from_utf8_lossy(first);
        match name.as_ref() {
            "quit" | "exit" => return Ok(Outcome::Quit),
            "warranty" => {
                out.write_all(WARRANTY.as_bytes())?;
                return Ok(Outcome::Continue);
            }
            "license" => {
                out.write_all(LICENSE.as_bytes())?;
                return Ok(Outcome::Continue);
            }
            "help" | "?" => {
                self.help(rest.first(), out)?;
                return Ok(Outcome::Continue);
            }
            _ => {}
        }
        let (method, alias_format) = match ALIASES.iter().find(|a| a.name == name) {
            Some(a) => (a.method.as_bytes().to_vec(), a.format),
            None => (first.clone(), None),
        };
        let alias_format = alias_format.map(|f| Format::parse(f.as_bytes()));
        let args: Vec<Arg> = rest.iter().map(|a| args::type_arg(a)).collect();
        self.call_and_print(&method, args, alias_format.as_ref(), out)?;
        Ok(Outcome::Continue)
    }

    /// Sends a method and prints the reply; follows `ul.dump`'s pages.
    fn call_and_print(
        &mut self,
        method: &[u8],
        mut args: Vec<Arg>,
        alias_format: Option<&Format>,
        out: &mut dyn Write,
    ) -> Result<(), Fail> {
        let paged = method == b"ul.dump";
        let mut from = i64::from(
            args.iter()
                .find_map(|a| match a {
                    Arg::Int(i) => Some(*i),
                    _ => None,
                })
                .unwrap_or(0),
        );
        loop {
            let mut text = Vec::new();
            let reply = self.request(method, &args, &mut text);
            let reply = match reply {
                Ok(r) => r,
                Err(e) => {
                    out.write_all(&text)?;
                    out.flush()?;
                    return Err(e);
                }
            };
            let format = self.format.as_ref().or(alias_format);
            let printed = print::print_reply(&mut text, reply.kind, &reply.body, format);
            let next = match printed {
                Ok(()) if paged && reply.kind == Kind::Reply => next_page(&reply.body),
                _ => None,
            };
            if self.verbose > 0 && next.is_none() {
                text.extend_from_slice(b".\n");
            }
            out.write_all(&text)?;
            out.flush()?;
            if let Err(e) = printed {
                return Err(Fail::Msg(format!("ERROR:: {e}")));
            }
            let Some(n) = next else {
                return Ok(());
            };
            if n <= from {
                return Err(err(format!(
                    "ul.dump: the next page ({n}) does not come after this one ({from})"
                )));
            }
            from = n;
            args.retain(|a| !matches!(a, Arg::Int(_)));
            args.push(match i32::try_from(n) {
                Ok(i) => Arg::Int(i),
                Err(_) => Arg::Str(n.to_string().into_bytes()),
            });
        }
    }

    /// The method list (fetched once); a fault is printed.
    fn methods(&mut self, out: &mut dyn Write) -> Result<Option<Vec<String>>, Fail> {
        if self.catalog.methods.is_none() {
            let mut log = Vec::new();
            let r = self.request(b"system.listMethods", &[], &mut log);
            out.write_all(&log)?;
            let r = r?;
            if r.kind == Kind::Fault {
                let mut text = Vec::new();
                let p = print::print_reply(&mut text, r.kind, &r.body, None);
                out.write_all(&text)?;
                p.map_err(|e| Fail::Msg(format!("ERROR:: {e}")))?;
                return Ok(None);
            }
            self.catalog.methods = Some(strings(&r.body));
        }
        Ok(self.catalog.methods.clone())
    }

    fn help(&mut self, what: Option<&Vec<u8>>, out: &mut dyn Write) -> Result<(), Fail> {
        let Some(what) = what else {
            let mut text = Vec::new();
            if let Some(list) = self.methods(out)? {
                for m in list {
                    text.extend_from_slice(m.as_bytes());
                    text.push(b'\n');
                }
            }
            for a in ALIASES {
                text.extend_from_slice(format!("alias: {}\n", a.name).as_bytes());
            }
            for (b, _) in BUILTINS {
                text.extend_from_slice(format!("builtin: {b}\n").as_bytes());
            }
            out.write_all(&text)?;
            out.flush()?;
            return Ok(());
        };
        let name = String::from_utf8_lossy(what);
        if let Some(a) = ALIASES.iter().find(|a| a.name == name) {
            let line = match a.format {
                Some(f) => format!(
                    "{} is an alias for {} with reply formatting: \"{f}\"\n",
                    a.name, a.method
                ),
                None => format!("{} is an alias for {}\n", a.name, a.method),
            };
            out.write_all(line.as_bytes())?;
            return Ok(());
        }
        if let Some((_, d)) = BUILTINS.iter().find(|(b, _)| *b == name) {
            out.write_all(format!("builtin command: {d}\n").as_bytes())?;
            return Ok(());
        }
        let mut text = Vec::new();
        let r = self.request(b"system.methodHelp", &[Arg::Str(what.clone())], &mut text);
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                out.write_all(&text)?;
                return Err(e);
            }
        };
        let p = print::print_reply(&mut text, r.kind, &r.body, None);
        out.write_all(&text)?;
        out.flush()?;
        p.map_err(|e| Fail::Msg(format!("ERROR:: {e}")))
    }

    /// What kamcmd asks when its prompt starts: the methods, then the
    /// cfg variables and the counters if the server lists those methods.
    pub fn startup(&mut self, out: &mut dyn Write) -> Result<(), Fail> {
        self.methods(out)?;
        if self.catalog.has("cfg.list") {
            let mut log = Vec::new();
            let r = self.request(b"cfg.list", &[], &mut log)?;
            out.write_all(&log)?;
            if r.kind == Kind::Reply {
                let mut groups: Vec<(String, Vec<String>)> = Vec::new();
                for s in strings(&r.body) {
                    // `group: var`
                    let Some((g, v)) = s.split_once(':') else {
                        continue;
                    };
                    let v = v.trim_start_matches(' ').to_string();
                    match groups.iter_mut().find(|(x, _)| x == g) {
                        Some((_, vars)) => vars.push(v),
                        None => groups.push((g.to_string(), vec![v])),
                    }
                }
                self.catalog.cfg = groups;
            }
        }
        if self.catalog.has("cnt.grps_list") {
            let mut log = Vec::new();
            let r = self.request(b"cnt.grps_list", &[], &mut log)?;
            out.write_all(&log)?;
            if r.kind == Kind::Reply {
                let list_vars = self.catalog.has("cnt.var_list");
                let mut groups = Vec::new();
                for g in strings(&r.body) {
                    let mut vars = Vec::new();
                    if list_vars {
                        let mut log = Vec::new();
                        let r = self.request(
                            b"cnt.var_list",
                            &[Arg::Str(g.clone().into_bytes())],
                            &mut log,
                        )?;
                        out.write_all(&log)?;
                        if r.kind == Kind::Reply {
                            vars = strings(&r.body);
                        }
                    }
                    groups.push((g, vars));
                }
                self.catalog.counters = groups;
            }
        }
        out.flush()?;
        Ok(())
    }
}

/// The top-level STR records of a reply.
fn strings(body: &[u8]) -> Vec<String> {
    match binrpc::decode(body) {
        Ok(values) => values
            .into_iter()
            .filter_map(|v| match v {
                Value::Str(s) => Some(s),
                _ => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Prints a line on standard error (a closed standard error is ignored,
/// where `eprintln!` would panic).
pub fn warn(line: &str) {
    let _ = writeln!(io::stderr(), "{line}");
}

/// The address from `-s` (or the default), parsed as kamcmd does.
pub fn address(o: &Options) -> Result<CtlAddr, String> {
    let text = o.addr.as_deref().unwrap_or(addr::SER_DEFAULT);
    let side = if o.udp_default {
        Side::Server
    } else {
        Side::Client
    };
    CtlAddr::parse(text, side)
        .map_err(|e| format!("ERROR: error parsing server socket address {text}: {e}"))
}

/// The whole program; returns the exit status.
pub fn main(argv: impl IntoIterator<Item = OsString>) -> i32 {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let o = match args::parse(argv.into_iter().skip(1)) {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Help) => {
            let _ = out.write_all(format!("version: sercmd {VERSION}\n{USAGE}").as_bytes());
            return 0;
        }
        Ok(Parsed::Version) => {
            let _ = out.write_all(format!("version: sercmd {VERSION}\n").as_bytes());
            return 0;
        }
        Err(e) => {
            warn(&e);
            return EXIT_ERROR;
        }
    };
    let addr = match address(&o) {
        Ok(a) => a,
        Err(e) => {
            warn(&e);
            return EXIT_ERROR;
        }
    };
    let target = Target {
        addr,
        reply_sock: o.reply_sock.clone(),
        reply_dir: o.reply_dir.clone(),
        timeout: o.timeout,
    };
    let format = o.format.as_deref().map(Format::parse);
    let mut session = Session::new(target, o.verbose, format);
    if o.command.is_empty() {
        return interactive::run(&mut session, &mut out);
    }
    match session.run(&o.command, &mut out) {
        Ok(_) => 0,
        Err(Fail::Msg(m)) => {
            let _ = out.flush();
            warn(&m);
            EXIT_ERROR
        }
        Err(Fail::Output) => EXIT_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(addr: Option<&str>, udp: bool) -> Options {
        Options {
            addr: addr.map(str::to_string),
            udp_default: udp,
            ..Options::default()
        }
    }

    #[test]
    fn default_address_is_sers() {
        assert_eq!(
            address(&opts(None, false)),
            Ok(CtlAddr::UnixStream("/tmp/ser_ctl".into()))
        );
        // kamcmd's default, for Kamailio, must be given with -s.
        assert_eq!(
            address(&opts(Some(addr::KAMAILIO_DEFAULT), false)),
            Ok(CtlAddr::UnixStream(
                "/var/run/kamailio//kamailio_ctl".into()
            ))
        );
    }

    #[test]
    fn addresses_are_guessed_as_kamcmd_guesses() {
        let a = |s: &str, udp: bool| address(&opts(Some(s), udp));
        assert_eq!(
            a("tcp:127.0.0.1", false),
            Ok(CtlAddr::Tcp("127.0.0.1".into(), 2049))
        );
        assert_eq!(
            a("localhost:2049", false),
            Ok(CtlAddr::Udp("localhost".into(), 2049))
        );
        assert_eq!(a("foo", false), Ok(CtlAddr::UnixStream("foo".into())));
        assert_eq!(a("foo", true), Ok(CtlAddr::Udp("foo".into(), 2049)));
        assert_eq!(a("/tmp/x", true), Ok(CtlAddr::UnixStream("/tmp/x".into())));
        assert_eq!(
            a("unixd:/tmp/d", false),
            Ok(CtlAddr::UnixDgram("/tmp/d".into()))
        );
        let e = a("tcp:host:99999", false).expect_err("bad port");
        assert!(
            e.starts_with("ERROR: error parsing server socket address tcp:host:99999"),
            "{e}"
        );
    }

    #[test]
    fn aliases_and_builtins_are_kamcmds() {
        for a in ["ps", "psx", "list", "ls", "ver", "version", "who", "listen"] {
            assert!(ALIASES.iter().any(|x| x.name == a), "{a}");
        }
        for b in ["help", "?", "quit", "exit", "warranty", "license"] {
            assert!(BUILTINS.iter().any(|(x, _)| *x == b), "{b}");
        }
        let ps = ALIASES.iter().find(|a| a.name == "ps").map(|a| a.format);
        assert_eq!(ps, Some(Some("%v\\t%v\\n")));
    }
}
