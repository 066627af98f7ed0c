//! `serctl`: users, contacts, aliases, local domains and trusted peers of a
//! SIP router, in the same database as the router (`db_url`) and, for
//! what the router holds in memory, through its control socket.
//!
//! - [`args`]: options, environment, commands and their checks;
//! - [`users`]: `add`, `passwd`, `rm`, `show` (table `subscriber`);
//! - [`ul`]: `ul show|add|rm`, over the control socket only;
//! - [`tables`]: `alias`, `domain`, `trusted` (the database, then the
//!   running router);
//! - [`ser2`]: SER 2.x user data, `user` and `attr` (tables `uri`,
//!   `credentials` and the attribute tables), parsed in [`ser2_args`];
//! - [`router`]: calls to the control socket (the connection code is the
//!   shared [`crate::rpc`]).
//!
//! Exit status: 0 done, 1 usage error, 2 database error, 3 control socket
//! error, 4 the named user, alias, domain, peer or contact is not there
//! (or, for `add`, is there already). Messages go to standard error and
//! name the database URL without its password. `docs/serctl.md` is the
//! manual.

pub mod args;
pub mod router;
pub mod ser2;
pub mod ser2_args;
pub mod tables;
pub mod ul;
pub mod users;

use std::ffi::OsString;
use std::io::{self, Write};

use ser_core::store::tables::TrustedRow;
use ser_core::store::{Db, DbError, DbUrl};

use args::{Command, Env, Settings};
use router::Router;

/// Version printed by `-V`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Exit statuses.
pub const EXIT_OK: i32 = 0;
pub const EXIT_USAGE: i32 = 1;
pub const EXIT_DB: i32 = 2;
pub const EXIT_CTL: i32 = 3;
pub const EXIT_ABSENT: i32 = 4;

/// Why a command failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Fail {
    Usage(String),
    Db(String),
    Ctl(String),
    /// Not there (or, when adding, there already).
    Absent(String),
    /// Standard output is gone (a closed pipe).
    Output,
}

impl From<io::Error> for Fail {
    fn from(_: io::Error) -> Fail {
        Fail::Output
    }
}

impl Fail {
    pub fn status(&self) -> i32 {
        match self {
            Fail::Usage(_) => EXIT_USAGE,
            Fail::Db(_) => EXIT_DB,
            Fail::Ctl(_) => EXIT_CTL,
            Fail::Absent(_) => EXIT_ABSENT,
            // What was asked was done; only its report could not be
            // written (`serctl show | head -1`).
            Fail::Output => EXIT_OK,
        }
    }
}

const USAGE: &str = "\
Usage: serctl [options] COMMAND [args...]
Manages the users, contacts, aliases, local domains and trusted peers of
ser, in its database (db_url) and through its control socket.
Options:
    -d db_url    database (default: $SER_DB_URL, else $DBURL, else
                 sqlite:///var/lib/ser/ser.db)
    -s address   the router's control socket (default unixs:/tmp/ser_ctl)
    -r domain    domain of names written without one (default $SIP_DOMAIN);
                 also the realm of the password hashes
    -t seconds   how long to wait for the router (default 10)
    -h, -V       help, version
Users (table subscriber):
    add USER PASSWORD [EMAIL]     USER is user@domain, or user and -r
    passwd USER PASSWORD
    rm USER
    show [--passwords] [USER]     passwords and hashes only when asked
Contacts (the running router's location table, over its control socket):
    ul show [AOR] | ul show --brief
    ul add AOR CONTACT [EXPIRES] [Q|PATH]
                                  EXPIRES 0 (default): permanent; Q 1
    ul rm AOR [CONTACT]
Aliases (table aliases, and the running router):
    alias add ALIAS TARGET
    alias show [ALIAS]
    alias rm ALIAS
Local domains (table domain) and trusted peers (table trusted):
    domain add DOMAIN [--did DID] | rm DOMAIN | show | reload
                                  DID: SER 2.x's domain id (default DOMAIN)
    trusted add SRC_IP PROTO FROM_PATTERN [TAG] | rm SRC_IP | show | reload
        PROTO: any, udp, tcp, tls, sctp, ws, wss; FROM_PATTERN a regular
        expression, or NULL for any
SER 2.x users (tables uri and credentials, by uid; the domain must be local):
    user add USER@DOMAIN -p PASSWORD [--uid UID]
                                  UID default: a new random UUID; realm: the
                                  domain's digest_realm attribute, else DOMAIN
    user passwd USER@DOMAIN -p PASSWORD
    user rm USER@DOMAIN
    user show [--passwords] [USER@DOMAIN]
SER 2.x attributes (tables global_attrs, user_attrs, domain_attrs):
    attr add global|uid=UID|did=DID NAME=VALUE... [--int]
                                  a string (type 2), or an integer (type 0)
    attr set OWNER NAME=VALUE... [--int]   replaces every value of NAME
    attr rm OWNER NAME...
    attr show [OWNER]
Exit status: 0 done, 1 usage error, 2 database error, 3 control socket
error, 4 no such entry (or, for add, the entry exists already).
";

/// Prints a line on standard error (a closed standard error is ignored).
pub fn warn(line: &str) {
    let _ = writeln!(io::stderr(), "{line}");
}

/// The time as Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A database error as a [`Fail`], naming the URL (without its password)
/// unless the message does already.
pub fn db_fail(db: &Db, e: &DbError) -> Fail {
    url_fail(db.url(), e)
}

fn url_fail(url: &DbUrl, e: &DbError) -> Fail {
    let u = url.to_string();
    if e.message().contains(&u) {
        Fail::Db(e.to_string())
    } else {
        Fail::Db(format!("{u}: {e}"))
    }
}

/// Opens the database and brings its schema up to date. Commands that
/// only read do not create a SQLite file that is not there (a mistyped
/// path would otherwise give an empty list).
fn open(s: &Settings, create: bool) -> Result<Db, Fail> {
    let url = s.url().map_err(Fail::Usage)?;
    if let (DbUrl::Sqlite { path }, false) = (&url, create)
        && !path.exists()
    {
        return Err(Fail::Db(format!(
            "{url}: no such database file (nothing has been stored there yet)"
        )));
    }
    let mut db = Db::open(&url).map_err(|e| url_fail(&url, &e))?;
    db.migrate().map_err(|e| url_fail(&url, &e))?;
    Ok(db)
}

/// Runs one command.
pub fn run(s: &Settings, cmd: Command, out: &mut dyn Write) -> Result<(), Fail> {
    let mut router = Router::new(s);
    match cmd {
        Command::Help => {
            out.write_all(format!("serctl {VERSION}\n{USAGE}").as_bytes())?;
            Ok(())
        }
        Command::Version => {
            writeln!(out, "serctl {VERSION}")?;
            Ok(())
        }
        Command::UserAdd {
            user,
            password,
            email,
        } => users::add(&mut open(s, true)?, &user, &password, &email, out),
        Command::UserPasswd { user, password } => {
            users::passwd(&mut open(s, true)?, &user, &password, out)
        }
        Command::UserRm { user } => users::rm(&mut open(s, true)?, &user, out),
        Command::UserShow { user, passwords } => {
            users::show(&mut open(s, false)?, user.as_ref(), passwords, out)
        }
        Command::UlShow { aor, brief } => ul::show(&mut router, aor.as_deref(), brief, out),
        Command::UlAdd {
            aor,
            contact,
            expires,
            q,
            path,
        } => ul::add(
            &mut router,
            &aor,
            &contact,
            expires,
            q,
            path.as_deref(),
            out,
        ),
        Command::UlRm { aor, contact } => ul::rm(&mut router, &aor, contact.as_deref(), out),
        Command::AliasAdd { alias, target } => {
            tables::alias_add(&mut open(s, true)?, &mut router, &alias, &target, out)
        }
        Command::AliasShow { alias } => {
            tables::alias_show(&mut open(s, false)?, alias.as_ref(), out)
        }
        Command::AliasRm { alias } => {
            tables::alias_rm(&mut open(s, true)?, &mut router, &alias, out)
        }
        Command::DomainAdd { domain, did } => tables::domain_add(
            &mut open(s, true)?,
            &mut router,
            &domain,
            did.as_deref(),
            out,
        ),
        Command::DomainRm { domain } => {
            tables::domain_rm(&mut open(s, true)?, &mut router, &domain, out)
        }
        Command::DomainShow => tables::domain_show(&mut open(s, false)?, out),
        Command::DomainReload => tables::reload(&mut router, "domain.reload", out),
        Command::TrustedAdd {
            src_ip,
            proto,
            from_pattern,
            tag,
        } => {
            let row = TrustedRow {
                id: 0,
                src_ip,
                proto,
                from_pattern,
                ruri_pattern: None,
                tag,
                priority: 0,
            };
            tables::trusted_add(&mut open(s, true)?, &mut router, row, out)
        }
        Command::TrustedRm { src_ip } => {
            tables::trusted_rm(&mut open(s, true)?, &mut router, &src_ip, out)
        }
        Command::TrustedShow => tables::trusted_show(&mut open(s, false)?, out),
        Command::TrustedReload => tables::reload(&mut router, "permissions.trustedReload", out),
        Command::SerUserAdd {
            user,
            password,
            uid,
        } => ser2::user_add(&mut open(s, true)?, &user, &password, uid.as_deref(), out),
        Command::SerUserPasswd { user, password } => {
            ser2::user_passwd(&mut open(s, true)?, &user, &password, out)
        }
        Command::SerUserRm { user } => ser2::user_rm(&mut open(s, true)?, &user, out),
        Command::SerUserShow { user, passwords } => {
            ser2::user_show(&mut open(s, false)?, user.as_ref(), passwords, out)
        }
        Command::AttrAdd {
            owner,
            attrs,
            int,
            replace,
        } => ser2::attr_add(
            &mut open(s, true)?,
            &mut router,
            &owner,
            &attrs,
            int,
            replace,
            out,
        ),
        Command::AttrRm { owner, names } => {
            ser2::attr_rm(&mut open(s, true)?, &mut router, &owner, &names, out)
        }
        Command::AttrShow { owner } => ser2::attr_show(&mut open(s, false)?, owner.as_ref(), out),
    }
}

/// The whole program; returns the exit status.
pub fn main(argv: impl IntoIterator<Item = OsString>) -> i32 {
    let env = Env::from_process();
    let (settings, cmd) = match args::parse(argv.into_iter().skip(1), &env) {
        Ok(x) => x,
        Err(e) => {
            warn(&format!("serctl: {e}"));
            return EXIT_USAGE;
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let r = run(&settings, cmd, &mut out);
    let _ = out.flush();
    match r {
        Ok(()) => EXIT_OK,
        Err(f) => {
            if let Fail::Usage(m) | Fail::Db(m) | Fail::Ctl(m) | Fail::Absent(m) = &f {
                warn(&format!("serctl: {m}"));
            }
            f.status()
        }
    }
}
