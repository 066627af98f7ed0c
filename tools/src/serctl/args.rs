//! `serctl`'s command line: the global options, where the database URL,
//! the control socket and the default domain come from, and each command
//! with its arguments checked before anything is touched.
//!
//! `serctl [-d db_url] [-s ctl_address] [-r realm] [-t seconds] COMMAND ...`
//!
//! The database URL is `-d`, else the environment's `SER_DB_URL`, else
//! `DBURL` (kamctlrc's name), else [`ser_core::store::DEFAULT_URL`]. The
//! domain of a user, alias or AoR written without one is `-r`, else
//! `SIP_DOMAIN` (SER's serctl), else none. Commands are SER 0.9's serctl
//! spelling, with kamctl's where it differs.

use std::ffi::OsString;
use std::net::IpAddr;
use std::time::Duration;

use ser_core::ctl::addr::{self, CtlAddr, Side};
use ser_core::store::provision::AttrOwner;
use ser_core::store::{DEFAULT_URL, DbUrl};

use super::ser2_args;

/// How long to wait for the router's reply when `-t` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Protocols a `trusted` row may name.
pub const PROTOCOLS: &[&str] = &["any", "udp", "tcp", "tls", "sctp", "ws", "wss"];

/// The environment `serctl` reads (a value that is empty counts as unset).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    pub ser_db_url: Option<String>,
    pub dburl: Option<String>,
    pub sip_domain: Option<String>,
}

impl Env {
    /// The process's environment.
    pub fn from_process() -> Env {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Env {
            ser_db_url: get("SER_DB_URL"),
            dburl: get("DBURL"),
            sip_domain: get("SIP_DOMAIN"),
        }
    }
}

/// Where the database URL came from (for messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlSource {
    Option,
    SerDbUrl,
    Dburl,
    Default,
}

/// What the global options and the environment settle.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The URL as given (parsed when a command needs the database, so that
    /// `ul` commands work with any URL in the environment).
    pub db_url: String,
    pub url_source: UrlSource,
    pub ctl: CtlAddr,
    /// The domain of names written without one.
    pub domain: Option<String>,
    pub timeout: Duration,
}

impl Settings {
    /// The database URL, parsed; a URL that does not parse is a usage
    /// error naming where it came from (its password hidden).
    pub fn url(&self) -> Result<DbUrl, String> {
        DbUrl::parse(&self.db_url).map_err(|e| {
            let from = match self.url_source {
                UrlSource::Option => "-d",
                UrlSource::SerDbUrl => "SER_DB_URL",
                UrlSource::Dburl => "DBURL",
                UrlSource::Default => "the default",
            };
            format!("{e} (from {from})")
        })
    }
}

/// A user, alias or address of record: user part and domain (empty when
/// neither the name nor the settings give one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub user: String,
    pub domain: String,
}

impl Name {
    /// `user@domain`, or `user` without a domain.
    pub fn aor(&self) -> String {
        if self.domain.is_empty() {
            self.user.clone()
        } else {
            format!("{}@{}", self.user, self.domain)
        }
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.aor())
    }
}

/// A command with its checked arguments.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Help,
    Version,
    /// `add USER PASSWORD [EMAIL]`.
    UserAdd {
        user: Name,
        password: String,
        email: String,
    },
    /// `passwd USER PASSWORD`.
    UserPasswd {
        user: Name,
        password: String,
    },
    /// `rm USER`.
    UserRm {
        user: Name,
    },
    /// `show [--passwords] [USER]`; a user without a domain (and no
    /// default domain) matches that name in every domain.
    UserShow {
        user: Option<(String, Option<String>)>,
        passwords: bool,
    },
    /// `ul show [AOR]`, `ul show --brief` (kamctl's: the AoRs alone).
    UlShow {
        aor: Option<String>,
        brief: bool,
    },
    /// `ul add AOR CONTACT [EXPIRES] [Q]`; kamctl's
    /// `ul add AOR CONTACT EXPIRES PATH` too.
    UlAdd {
        aor: String,
        contact: String,
        expires: i32,
        q: f64,
        path: Option<String>,
    },
    /// `ul rm AOR [CONTACT]`.
    UlRm {
        aor: String,
        contact: Option<String>,
    },
    /// `alias add ALIAS TARGET`.
    AliasAdd {
        alias: Name,
        target: String,
    },
    /// `alias show [ALIAS]`.
    AliasShow {
        alias: Option<Name>,
    },
    /// `alias rm ALIAS`.
    AliasRm {
        alias: Name,
    },
    /// `domain add DOMAIN [--did DID]`; the did is the domain when not
    /// given.
    DomainAdd {
        domain: String,
        did: Option<String>,
    },
    DomainRm {
        domain: String,
    },
    DomainShow,
    DomainReload,
    /// `trusted add SRC_IP PROTO FROM_PATTERN [TAG]`.
    TrustedAdd {
        src_ip: String,
        proto: String,
        from_pattern: Option<String>,
        tag: Option<String>,
    },
    TrustedRm {
        src_ip: String,
    },
    TrustedShow,
    TrustedReload,
    /// `user add USER@DOMAIN -p PASSWORD [--uid UID]` (SER 2.x tables).
    SerUserAdd {
        user: Name,
        password: String,
        uid: Option<String>,
    },
    /// `user passwd USER@DOMAIN -p PASSWORD`.
    SerUserPasswd {
        user: Name,
        password: String,
    },
    /// `user rm USER@DOMAIN`.
    SerUserRm {
        user: Name,
    },
    /// `user show [--passwords] [USER@DOMAIN]`.
    SerUserShow {
        user: Option<Name>,
        passwords: bool,
    },
    /// `attr add|set OWNER NAME=VALUE... [--int]`; `replace` for `set`.
    AttrAdd {
        owner: AttrOwner,
        attrs: Vec<(String, String)>,
        int: bool,
        replace: bool,
    },
    /// `attr rm OWNER NAME...`.
    AttrRm {
        owner: AttrOwner,
        names: Vec<String>,
    },
    /// `attr show [OWNER]`.
    AttrShow {
        owner: Option<AttrOwner>,
    },
}

/// Reads the command line (without the program name). An error is the
/// message of a usage error (exit status 1).
pub fn parse(
    argv: impl IntoIterator<Item = OsString>,
    env: &Env,
) -> Result<(Settings, Command), String> {
    let mut words = Vec::new();
    for a in argv {
        match a.into_string() {
            Ok(s) => words.push(s),
            Err(a) => {
                return Err(format!(
                    "argument {} is not valid UTF-8",
                    a.to_string_lossy()
                ));
            }
        }
    }
    let mut db: Option<String> = None;
    let mut ctl: Option<String> = None;
    let mut realm: Option<String> = None;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut i = 0;
    let mut early: Option<Command> = None;
    while let Some(w) = words.get(i) {
        if w == "--" {
            i += 1;
            break;
        }
        if !w.starts_with('-') || w.len() < 2 {
            break;
        }
        i += 1;
        let (flag, attached) = match w.strip_prefix("--") {
            Some(long) => match long.split_once('=') {
                Some((f, v)) => (format!("--{f}"), Some(v.to_string())),
                None => (w.clone(), None),
            },
            None => {
                // `-d URL` or `-dURL`: the flag is the first two characters.
                let cut = w.char_indices().nth(2).map_or(w.len(), |(i, _)| i);
                let f = w.get(..cut).unwrap_or(w);
                let rest = w.get(cut..).unwrap_or("");
                (f.to_string(), (!rest.is_empty()).then(|| rest.to_string()))
            }
        };
        let takes_value = matches!(
            flag.as_str(),
            "-d" | "-s" | "-r" | "-t" | "--db-url" | "--ctl" | "--realm" | "--timeout"
        );
        let value = if takes_value {
            match attached {
                Some(v) => Some(v),
                None => {
                    let v = words
                        .get(i)
                        .cloned()
                        .ok_or_else(|| format!("option {flag} needs a value"))?;
                    i += 1;
                    Some(v)
                }
            }
        } else if attached.is_some() {
            return Err(format!("unknown option {w}"));
        } else {
            None
        };
        match (flag.as_str(), value) {
            ("-d" | "--db-url", Some(v)) => db = Some(v),
            ("-s" | "--ctl", Some(v)) => ctl = Some(v),
            ("-r" | "--realm", Some(v)) => realm = Some(v),
            ("-t" | "--timeout", Some(v)) => timeout = seconds(&v)?,
            ("-h" | "--help", _) => early = early.or(Some(Command::Help)),
            ("-V" | "--version", _) => early = early.or(Some(Command::Version)),
            _ => return Err(format!("unknown option {w}")),
        }
    }
    let (db_url, url_source) = match (db, &env.ser_db_url, &env.dburl) {
        (Some(d), _, _) => (d, UrlSource::Option),
        (None, Some(e), _) => (e.clone(), UrlSource::SerDbUrl),
        (None, None, Some(e)) => (e.clone(), UrlSource::Dburl),
        (None, None, None) => (DEFAULT_URL.to_string(), UrlSource::Default),
    };
    let ctl_text = ctl.as_deref().unwrap_or(addr::SER_DEFAULT);
    let ctl = CtlAddr::parse(ctl_text, Side::Client)
        .map_err(|e| format!("bad control socket address {ctl_text}: {e}"))?;
    let domain = match realm.or_else(|| env.sip_domain.clone()) {
        Some(d) => Some(check_domain(&d)?),
        None => None,
    };
    let settings = Settings {
        db_url,
        url_source,
        ctl,
        domain,
        timeout,
    };
    if let Some(c) = early {
        return Ok((settings, c));
    }
    let rest: Vec<&str> = words
        .get(i..)
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .collect();
    let cmd = command(&rest, &settings)?;
    Ok((settings, cmd))
}

/// `-t SECONDS`.
fn seconds(s: &str) -> Result<Duration, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0 && *v <= 3600.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("-t {s}: expected a number of seconds (more than 0, at most 3600)"))
}

/// Exactly `n` arguments, or between `min` and `max`.
pub(super) fn count(
    cmd: &str,
    args: &[&str],
    min: usize,
    max: usize,
    usage: &str,
) -> Result<(), String> {
    if args.len() < min {
        return Err(format!("{cmd}: missing arguments; usage: serctl {usage}"));
    }
    if args.len() > max {
        return Err(format!("{cmd}: too many arguments; usage: serctl {usage}"));
    }
    Ok(())
}

pub(super) fn arg<'a>(args: &[&'a str], i: usize) -> &'a str {
    args.get(i).copied().unwrap_or("")
}

fn command(words: &[&str], s: &Settings) -> Result<Command, String> {
    let Some((&first, args)) = words.split_first() else {
        return Err("no command given (serctl -h lists them)".into());
    };
    match first {
        "help" => Ok(Command::Help),
        "version" => Ok(Command::Version),
        "add" => {
            let u = "add USER PASSWORD [EMAIL]";
            count(first, args, 2, 3, u)?;
            let email = arg(args, 2);
            if !email.is_empty()
                && (!email.contains('@') || email.chars().any(|c| c.is_whitespace()))
            {
                return Err(format!("add: `{email}` is not an e-mail address"));
            }
            Ok(Command::UserAdd {
                user: user_name(arg(args, 0), s)?,
                password: password(arg(args, 1))?,
                email: email.to_string(),
            })
        }
        "passwd" => {
            count(first, args, 2, 2, "passwd USER PASSWORD")?;
            Ok(Command::UserPasswd {
                user: user_name(arg(args, 0), s)?,
                password: password(arg(args, 1))?,
            })
        }
        "rm" => {
            count(first, args, 1, 1, "rm USER")?;
            Ok(Command::UserRm {
                user: user_name(arg(args, 0), s)?,
            })
        }
        "show" => {
            let passwords = args.iter().any(|a| *a == "--passwords" || *a == "-p");
            let rest: Vec<&str> = args
                .iter()
                .copied()
                .filter(|a| *a != "--passwords" && *a != "-p")
                .collect();
            count(first, &rest, 0, 1, "show [--passwords] [USER]")?;
            let user = match rest.first() {
                None => None,
                Some(u) => {
                    let (user, domain) = split_name(u)?;
                    Some((user, domain.or_else(|| s.domain.clone())))
                }
            };
            Ok(Command::UserShow { user, passwords })
        }
        "ul" | "usrloc" => ul(args, s),
        "alias" => alias(args, s),
        "domain" => domain(args),
        "trusted" => trusted(args),
        "user" => ser2_args::user(args, s),
        "attr" => ser2_args::attr(args),
        _ => Err(format!("unknown command `{first}` (serctl -h lists them)")),
    }
}

fn ul(args: &[&str], s: &Settings) -> Result<Command, String> {
    let Some((&sub, args)) = args.split_first() else {
        return Err("ul: which? ul show|add|rm".into());
    };
    match sub {
        "show" => {
            let brief = args.contains(&"--brief");
            let rest: Vec<&str> = args.iter().copied().filter(|a| *a != "--brief").collect();
            count("ul show", &rest, 0, 1, "ul show [AOR] | ul show --brief")?;
            if brief && !rest.is_empty() {
                return Err("ul show: --brief lists every AoR, without an AOR".into());
            }
            Ok(Command::UlShow {
                aor: rest.first().map(|a| aor(a, s)).transpose()?,
                brief,
            })
        }
        "add" => {
            let u = "ul add AOR CONTACT [EXPIRES] [Q|PATH]";
            count("ul add", args, 2, 4, u)?;
            let expires = match args.get(2) {
                None => 0,
                Some(e) => e.parse::<i32>().ok().filter(|e| *e >= 0).ok_or_else(|| {
                    format!("ul add: expires `{e}`: expected seconds (0: permanent)")
                })?,
            };
            // SER's fourth argument is q, kamctl's a Path: a Path is a URI.
            let (q, path) = match args.get(3) {
                None => (1.0, None),
                Some(p) if p.starts_with('<') || strip_scheme(p).is_some() => {
                    if p.chars().any(|c| c.is_whitespace() || c.is_control()) {
                        return Err(format!("ul add: path `{p}` is not a URI"));
                    }
                    (1.0, Some(p.to_string()))
                }
                Some(q) => (
                    q.parse::<f64>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .ok_or_else(|| {
                            format!(
                                "ul add: q `{q}`: expected a number from 0 to 1 (or a Path URI)"
                            )
                        })?,
                    None,
                ),
            };
            Ok(Command::UlAdd {
                aor: aor(arg(args, 0), s)?,
                contact: uri(arg(args, 1))?,
                expires,
                q,
                path,
            })
        }
        "rm" => {
            count("ul rm", args, 1, 2, "ul rm AOR [CONTACT]")?;
            Ok(Command::UlRm {
                aor: aor(arg(args, 0), s)?,
                contact: args.get(1).map(|c| uri(c)).transpose()?,
            })
        }
        _ => Err(format!("ul {sub}: unknown; ul show|add|rm")),
    }
}

fn alias(args: &[&str], s: &Settings) -> Result<Command, String> {
    let Some((&sub, args)) = args.split_first() else {
        return Err("alias: which? alias show|add|rm".into());
    };
    let name = |a: &str| -> Result<Name, String> {
        let (user, domain) = split_name(a)?;
        Ok(Name {
            user,
            domain: domain
                .or_else(|| s.domain.clone())
                .unwrap_or_default()
                .to_ascii_lowercase(),
        })
    };
    match sub {
        "add" => {
            count("alias add", args, 2, 2, "alias add ALIAS TARGET")?;
            Ok(Command::AliasAdd {
                alias: name(arg(args, 0))?,
                target: uri(arg(args, 1))?,
            })
        }
        "show" => {
            count("alias show", args, 0, 1, "alias show [ALIAS]")?;
            Ok(Command::AliasShow {
                alias: args.first().map(|a| name(a)).transpose()?,
            })
        }
        "rm" => {
            count("alias rm", args, 1, 1, "alias rm ALIAS")?;
            Ok(Command::AliasRm {
                alias: name(arg(args, 0))?,
            })
        }
        _ => Err(format!("alias {sub}: unknown; alias show|add|rm")),
    }
}

fn domain(args: &[&str]) -> Result<Command, String> {
    let Some((&sub, args)) = args.split_first() else {
        return Err("domain: which? domain show|add|rm|reload".into());
    };
    match sub {
        "add" => ser2_args::domain_add(args),
        "rm" => {
            count("domain rm", args, 1, 1, "domain rm DOMAIN")?;
            Ok(Command::DomainRm {
                domain: check_domain(arg(args, 0))?,
            })
        }
        "show" | "showdb" => {
            count("domain show", args, 0, 0, "domain show")?;
            Ok(Command::DomainShow)
        }
        "reload" => {
            count("domain reload", args, 0, 0, "domain reload")?;
            Ok(Command::DomainReload)
        }
        _ => Err(format!("domain {sub}: unknown; domain show|add|rm|reload")),
    }
}

fn trusted(args: &[&str]) -> Result<Command, String> {
    let Some((&sub, args)) = args.split_first() else {
        return Err("trusted: which? trusted show|add|rm|reload".into());
    };
    match sub {
        "add" => {
            let u = "trusted add SRC_IP PROTO FROM_PATTERN [TAG]";
            count("trusted add", args, 3, 4, u)?;
            let src_ip = ip(arg(args, 0))?;
            let proto = arg(args, 1).to_ascii_lowercase();
            if !PROTOCOLS.contains(&proto.as_str()) {
                return Err(format!(
                    "trusted add: protocol `{}`: expected one of {}",
                    arg(args, 1),
                    PROTOCOLS.join(", ")
                ));
            }
            let pattern = arg(args, 2);
            let from_pattern = match pattern {
                "" | "NULL" | "null" => None,
                p => {
                    regex::Regex::new(p)
                        .map_err(|e| format!("trusted add: FROM_PATTERN `{p}`: {e}"))?;
                    Some(p.to_string())
                }
            };
            let tag = args.get(3).map(|t| t.to_string()).filter(|t| !t.is_empty());
            Ok(Command::TrustedAdd {
                src_ip,
                proto,
                from_pattern,
                tag,
            })
        }
        "rm" => {
            count("trusted rm", args, 1, 1, "trusted rm SRC_IP")?;
            Ok(Command::TrustedRm {
                src_ip: ip(arg(args, 0))?,
            })
        }
        "show" => {
            count("trusted show", args, 0, 0, "trusted show")?;
            Ok(Command::TrustedShow)
        }
        "reload" => {
            count("trusted reload", args, 0, 0, "trusted reload")?;
            Ok(Command::TrustedReload)
        }
        _ => Err(format!(
            "trusted {sub}: unknown; trusted show|add|rm|reload"
        )),
    }
}

/// An IP address, written as the router will compare it.
fn ip(s: &str) -> Result<String, String> {
    let t = s.trim().trim_start_matches('[').trim_end_matches(']');
    t.parse::<IpAddr>()
        .map(|a| a.to_string())
        .map_err(|_| format!("`{s}` is not an IP address"))
}

/// A name with its domain: `user@domain`, or `user` and the default
/// domain; a user cannot be stored without a domain (its HA1 needs one).
pub(super) fn user_name(text: &str, s: &Settings) -> Result<Name, String> {
    let (user, domain) = split_name(text)?;
    let Some(domain) = domain.or_else(|| s.domain.clone()) else {
        return Err(format!(
            "`{text}` has no domain: write USER@DOMAIN, or give -r DOMAIN, or set SIP_DOMAIN"
        ));
    };
    Ok(Name { user, domain })
}

/// An address of record for the router: `user@domain` (a `sip:` prefix
/// is dropped), or `user` and the default domain when there is one.
fn aor(text: &str, s: &Settings) -> Result<String, String> {
    let (user, domain) = split_name(text)?;
    Ok(match domain.or_else(|| s.domain.clone()) {
        Some(d) => format!("{user}@{d}"),
        None => user,
    })
}

/// `[sip:]user[@domain]`, each part checked.
fn split_name(text: &str) -> Result<(String, Option<String>), String> {
    let t = text.trim();
    let t = strip_scheme(t).unwrap_or(t);
    let (user, domain) = match t.split_once('@') {
        Some((u, d)) => (u, Some(check_domain(d)?)),
        None => (t, None),
    };
    if user.is_empty() {
        return Err(format!("`{text}`: empty user name"));
    }
    if let Some(c) = user
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '@' | ':' | ';' | '<' | '>'))
    {
        return Err(format!("`{text}`: a user name cannot hold {c:?}"));
    }
    Ok((user.to_string(), domain))
}

/// The rest after `sip:` or `sips:` (any case).
fn strip_scheme(t: &str) -> Option<&str> {
    ["sip:", "sips:"].iter().find_map(|p| {
        t.get(..p.len())
            .filter(|h| h.eq_ignore_ascii_case(p))
            .and_then(|_| t.get(p.len()..))
    })
}

/// A domain (host name or address), lower-cased.
pub(super) fn check_domain(d: &str) -> Result<String, String> {
    let d = d.trim();
    if d.is_empty() {
        return Err("empty domain".into());
    }
    if let Some(c) = d.chars().find(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '@' | '/' | ';' | '<' | '>' | '"')
    }) {
        return Err(format!("domain `{d}` cannot hold {c:?}"));
    }
    Ok(d.to_ascii_lowercase())
}

/// Schemes kept as they are in a contact or an alias target.
const SCHEMES: &[&str] = &["sip", "sips", "tel", "urn"];

/// A URI for a contact or an alias target: `sip:` is put in front of one
/// that does not start with `sip:`, `sips:`, `tel:` or `urn:`.
fn uri(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{text}` is not a URI"));
    }
    let has_scheme = t
        .split_once(':')
        .is_some_and(|(scheme, _)| SCHEMES.iter().any(|s| scheme.eq_ignore_ascii_case(s)));
    Ok(if has_scheme {
        t.to_string()
    } else {
        format!("sip:{t}")
    })
}

pub(super) fn password(p: &str) -> Result<String, String> {
    if p.is_empty() {
        return Err("empty password".into());
    }
    if p.chars().any(char::is_control) {
        return Err("a password cannot hold control characters".into());
    }
    Ok(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: &Env) -> Result<(Settings, Command), String> {
        parse(args.iter().map(OsString::from), env)
    }

    fn ok(args: &[&str]) -> (Settings, Command) {
        match run(args, &Env::default()) {
            Ok(x) => x,
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    fn usage(args: &[&str]) -> String {
        match run(args, &Env::default()) {
            Ok(x) => panic!("{args:?} parsed: {x:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn url_precedence_is_option_then_environment_then_default() {
        let env = Env {
            ser_db_url: Some("sqlite:///a.db".into()),
            dburl: Some("sqlite:///b.db".into()),
            sip_domain: None,
        };
        let (s, _) = run(&["-d", "sqlite:///c.db", "domain", "show"], &env).unwrap();
        assert_eq!(
            (s.db_url.as_str(), s.url_source),
            ("sqlite:///c.db", UrlSource::Option)
        );
        let (s, _) = run(&["domain", "show"], &env).unwrap();
        assert_eq!(s.db_url, "sqlite:///a.db");
        let env2 = Env {
            ser_db_url: None,
            ..env.clone()
        };
        let (s, _) = run(&["domain", "show"], &env2).unwrap();
        assert_eq!(
            (s.db_url.as_str(), s.url_source),
            ("sqlite:///b.db", UrlSource::Dburl)
        );
        let (s, _) = ok(&["domain", "show"]);
        assert_eq!(
            (s.db_url.as_str(), s.url_source),
            (DEFAULT_URL, UrlSource::Default)
        );
        assert_eq!(s.ctl, CtlAddr::UnixStream("/tmp/ser_ctl".into()));
        let (s, _) = ok(&[
            "-dsqlite:///d.db",
            "--ctl=tcp:127.0.0.1:2049",
            "domain",
            "show",
        ]);
        assert_eq!(s.db_url, "sqlite:///d.db");
        assert_eq!(s.ctl, CtlAddr::Tcp("127.0.0.1".into(), 2049));
    }

    #[test]
    fn bad_urls_say_where_they_came_from_without_the_password() {
        let (s, _) = ok(&["-d", "mysql://ser:heslo@h/db?x=1", "domain", "show"]);
        let e = s.url().unwrap_err();
        assert!(e.contains("from -d") && !e.contains("heslo"), "{e}");
    }

    #[test]
    fn users_take_the_default_domain() {
        let (_, c) = ok(&["-r", "Example.COM", "add", "alice", "pw", "a@x.org"]);
        assert_eq!(
            c,
            Command::UserAdd {
                user: Name {
                    user: "alice".into(),
                    domain: "example.com".into()
                },
                password: "pw".into(),
                email: "a@x.org".into()
            }
        );
        let env = Env {
            sip_domain: Some("env.org".into()),
            ..Env::default()
        };
        let (_, c) = run(&["passwd", "sip:bob", "pw2"], &env).unwrap();
        assert_eq!(
            c,
            Command::UserPasswd {
                user: Name {
                    user: "bob".into(),
                    domain: "env.org".into()
                },
                password: "pw2".into()
            }
        );
        // The name's own domain wins.
        let (_, c) = run(&["rm", "carol@other.net"], &env).unwrap();
        assert_eq!(
            c,
            Command::UserRm {
                user: Name {
                    user: "carol".into(),
                    domain: "other.net".into()
                }
            }
        );
        // Without any domain a user cannot be stored (kamctl's email-less
        // add is accepted).
        assert!(usage(&["add", "alice", "pw"]).contains("no domain"));
        let (_, c) = ok(&["add", "alice@x.org", "pw"]);
        assert!(matches!(c, Command::UserAdd { email, .. } if email.is_empty()));
    }

    #[test]
    fn bad_usage_is_refused_before_anything_runs() {
        for (args, want) in [
            (&["add", "a@b"][..], "missing arguments"),
            (&["add", "a@b", "pw", "mail@x", "extra"], "too many"),
            (&["add", "a@b", "pw", "not-a-mail"], "e-mail"),
            (&["add", "a b@c", "pw"], "user name"),
            (&["add", "@c", "pw"], "empty user"),
            (&["add", "a@", "pw"], "empty domain"),
            (&["add", "a@b", ""], "empty password"),
            (&["frobnicate"], "unknown command"),
            (&[], "no command"),
            (&["-x", "show"], "unknown option"),
            (&["-é", "show"], "unknown option"),
            (&["-dé"], "no command"),
            (&["-d"], "needs a value"),
            (&["ul"], "ul show|add|rm"),
            (&["ul", "add", "alice", "sip:a@b", "-5"], "expires"),
            (&["ul", "add", "alice", "sip:a@b", "60", "1.5"], "q"),
            (&["trusted", "add", "1.2.3.300", "udp", "x"], "IP address"),
            (
                &["trusted", "add", "1.2.3.4", "carrier-pigeon", "x"],
                "protocol",
            ),
            (
                &["trusted", "add", "1.2.3.4", "udp", "(unclosed"],
                "FROM_PATTERN",
            ),
            (&["domain", "add"], "missing"),
            (&["domain", "add", "a b"], "cannot hold"),
            (&["-s", "tcp:host:99999", "ul", "show"], "control socket"),
            (&["-t", "0", "ul", "show"], "-t"),
        ] {
            let e = usage(args);
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }

    #[test]
    fn contacts_and_targets_get_a_scheme() {
        let (_, c) = ok(&[
            "ul",
            "add",
            "sip:alice@Example.com",
            "alice@10.0.0.1:5060",
            "60",
            "0.5",
        ]);
        assert_eq!(
            c,
            Command::UlAdd {
                aor: "alice@example.com".into(),
                contact: "sip:alice@10.0.0.1:5060".into(),
                expires: 60,
                q: 0.5,
                path: None
            }
        );
        // kamctl's fourth argument: a Path.
        let (_, c) = ok(&["ul", "add", "alice", "sip:a@h", "60", "<sip:edge;lr>"]);
        assert!(
            matches!(c, Command::UlAdd { path: Some(ref p), q, .. } if p == "<sip:edge;lr>" && q == 1.0)
        );
        let (_, c) = ok(&["ul", "show", "--brief"]);
        assert_eq!(
            c,
            Command::UlShow {
                aor: None,
                brief: true
            }
        );
        assert!(usage(&["ul", "show", "--brief", "alice"]).contains("--brief"));
        let (_, c) = ok(&["ul", "add", "alice", "sips:alice@h"]);
        assert!(
            matches!(c, Command::UlAdd { ref aor, ref contact, expires: 0, q, path: None }
            if aor == "alice" && contact == "sips:alice@h" && q == 1.0)
        );
        let (_, c) = ok(&["-r", "d.org", "alias", "add", "1234", "tel:+420123"]);
        assert_eq!(
            c,
            Command::AliasAdd {
                alias: Name {
                    user: "1234".into(),
                    domain: "d.org".into()
                },
                target: "tel:+420123".into()
            }
        );
        let (_, c) = ok(&["alias", "rm", "john"]);
        assert_eq!(
            c,
            Command::AliasRm {
                alias: Name {
                    user: "john".into(),
                    domain: String::new()
                }
            }
        );
        let (_, c) = ok(&["alias", "add", "john", "10.0.0.1:5060"]);
        assert!(matches!(c, Command::AliasAdd { target, .. } if target == "sip:10.0.0.1:5060"));
    }

    #[test]
    fn trusted_rows_are_normalised() {
        let (_, c) = ok(&["trusted", "add", "10.0.0.9", "UDP", "^sip:.*@gw$", "gw1"]);
        assert_eq!(
            c,
            Command::TrustedAdd {
                src_ip: "10.0.0.9".into(),
                proto: "udp".into(),
                from_pattern: Some("^sip:.*@gw$".into()),
                tag: Some("gw1".into())
            }
        );
        let (_, c) = ok(&["trusted", "add", "[::1]", "any", "NULL"]);
        assert!(
            matches!(c, Command::TrustedAdd { src_ip, from_pattern: None, tag: None, .. } if src_ip == "::1")
        );
    }

    #[test]
    fn help_and_version_win() {
        assert_eq!(ok(&["-h"]).1, Command::Help);
        assert_eq!(ok(&["--version", "frobnicate"]).1, Command::Version);
        assert_eq!(ok(&["help"]).1, Command::Help);
        let (_, c) = ok(&["show", "--passwords", "alice@x"]);
        assert_eq!(
            c,
            Command::UserShow {
                user: Some(("alice".into(), Some("x".into()))),
                passwords: true
            }
        );
    }
}
