//! `db_url` parsing: which back end, and where it is.
//!
//! Accepted forms (the scheme is case-insensitive):
//!
//! * `sqlite:///abs/path/file.db`: an absolute file path;
//!   `sqlite://relative/file.db`: a path relative to the working directory
//!   of the process when the file is opened (`ser -w` changes it). The file
//!   and its missing parent directories are created on first use.
//! * `postgres://user:pass@host[:port]/db` (also `postgresql://`), port 5432
//!   by default.
//! * `mysql://user:pass@host[:port]/db` for MySQL and MariaDB, port 3306 by
//!   default.
//!
//! User, password and database name may be percent-encoded (`%40` for `@`).
//! The host may be a name, an IPv4 address or a bracketed IPv6 address.
//! Query parameters (`?sslmode=...`) are refused rather than ignored.
//!
//! Neither `Display` nor `Debug` of a [`DbUrl`] shows the password, and
//! every parse error names the URL with the password replaced by `***`, so
//! both can go to a log.

use std::fmt;
use std::path::PathBuf;

/// Which kind of database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// MySQL or MariaDB (one wire protocol).
    Mysql,
}

impl Backend {
    /// The name used in URLs, schema files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a database server is, and who logs in.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerAddr {
    pub user: String,
    pub password: String,
    /// Host name or address (IPv6 without the brackets).
    pub host: String,
    pub port: u16,
    pub database: String,
}

/// A parsed `db_url`.
#[derive(Clone, PartialEq, Eq)]
pub enum DbUrl {
    Sqlite { path: PathBuf },
    Postgres(ServerAddr),
    Mysql(ServerAddr),
}

/// A `db_url` that could not be parsed: the URL (password hidden) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad db_url \"{}\": {}", self.url, self.reason)
    }
}

impl std::error::Error for UrlError {}

impl DbUrl {
    /// Parses a `db_url` (see the module documentation for the forms).
    pub fn parse(raw: &str) -> Result<DbUrl, UrlError> {
        let err = |reason: &str| UrlError {
            url: redact(raw),
            reason: reason.to_string(),
        };
        let raw_trim = raw.trim();
        let Some((scheme, rest)) = raw_trim.split_once("://") else {
            return Err(err(
                "expected scheme://... (sqlite:///path, postgres://user:pass@host/db or mysql://user:pass@host/db)",
            ));
        };
        let backend = match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" => Backend::Postgres,
            "mysql" | "mariadb" => Backend::Mysql,
            _ => {
                return Err(err(&format!(
                    "unknown scheme \"{scheme}\" (sqlite, postgres, postgresql or mysql)"
                )));
            }
        };
        if backend == Backend::Sqlite {
            if rest.is_empty() || rest == "/" {
                return Err(err("missing file path (sqlite:///abs/path/file.db)"));
            }
            if rest.contains('?') {
                return Err(err("query parameters are not supported"));
            }
            let path =
                percent_decode(rest).ok_or_else(|| err("bad percent-encoding in the path"))?;
            if path.contains('\0') {
                return Err(err("NUL in the path"));
            }
            return Ok(DbUrl::Sqlite {
                path: PathBuf::from(path),
            });
        }

        let (authority, db) = rest
            .split_once('/')
            .ok_or_else(|| err("missing /database"))?;
        if db.contains('?') || db.contains('#') {
            return Err(err("query parameters are not supported"));
        }
        let database =
            percent_decode(db).ok_or_else(|| err("bad percent-encoding in the database name"))?;
        if database.is_empty() || database.contains('/') {
            return Err(err("missing or bad database name after the host"));
        }
        // The password may itself hold '@' only when encoded; the last '@'
        // ends the user information all the same, as browsers do.
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(u) => {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                let user =
                    percent_decode(user).ok_or_else(|| err("bad percent-encoding in the user"))?;
                let pass = percent_decode(pass)
                    .ok_or_else(|| err("bad percent-encoding in the password"))?;
                (user, pass)
            }
            None => (String::new(), String::new()),
        };
        if user.is_empty() {
            return Err(err("missing user (scheme://user:pass@host/db)"));
        }
        let default_port = match backend {
            Backend::Postgres => 5432,
            _ => 3306,
        };
        let (host, port) = split_host_port(hostport, default_port).map_err(err)?;
        let addr = ServerAddr {
            user,
            password,
            host,
            port,
            database,
        };
        Ok(match backend {
            Backend::Postgres => DbUrl::Postgres(addr),
            _ => DbUrl::Mysql(addr),
        })
    }

    /// The back end this URL names.
    pub fn backend(&self) -> Backend {
        match self {
            DbUrl::Sqlite { .. } => Backend::Sqlite,
            DbUrl::Postgres(_) => Backend::Postgres,
            DbUrl::Mysql(_) => Backend::Mysql,
        }
    }

    /// The server's address and login, for the two server back ends.
    pub fn server(&self) -> Option<&ServerAddr> {
        match self {
            DbUrl::Sqlite { .. } => None,
            DbUrl::Postgres(a) | DbUrl::Mysql(a) => Some(a),
        }
    }
}

impl std::str::FromStr for DbUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<DbUrl, UrlError> {
        DbUrl::parse(s)
    }
}

/// Shows the URL with the password replaced by `***`.
impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbUrl::Sqlite { path } => {
                let p = path.display().to_string();
                write!(f, "sqlite://{p}")
            }
            DbUrl::Postgres(a) | DbUrl::Mysql(a) => {
                let host = if a.host.contains(':') {
                    format!("[{}]", a.host)
                } else {
                    a.host.clone()
                };
                let pass = if a.password.is_empty() { "" } else { ":***" };
                write!(
                    f,
                    "{}://{}{}@{}:{}/{}",
                    self.backend(),
                    a.user,
                    pass,
                    host,
                    a.port,
                    a.database
                )
            }
        }
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({self})")
    }
}

impl fmt::Debug for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerAddr")
            .field("user", &self.user)
            .field("password", &"***")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .finish()
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(s: &str, default_port: u16) -> Result<(String, u16), &'static str> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("unclosed [ in the host")?;
        match after {
            "" => (h, None),
            p => (h, Some(p.strip_prefix(':').ok_or("junk after ]")?)),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err("missing host");
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c == '/' || c == '@')
    {
        return Err("bad host");
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err("bad port (1-65535)"),
        },
    };
    Ok((host.to_string(), port))
}

/// Decodes `%XX` escapes; `None` for a broken escape or a result that is
/// not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The URL as written with any password replaced by `***` (for messages
/// about URLs that may not even parse).
pub fn redact(raw: &str) -> String {
    let raw = raw.trim();
    let Some((scheme, rest)) = raw.split_once("://") else {
        // No scheme: a password cannot be told apart; show nothing of
        // what follows a ':' and precedes an '@'.
        return match (raw.find(':'), raw.rfind('@')) {
            (Some(c), Some(a)) if c < a => {
                let (user, _) = raw.split_at(c);
                let (_, host) = raw.split_at(a);
                format!("{user}:***{host}")
            }
            _ => raw.to_string(),
        };
    };
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => format!("{scheme}://{userinfo}@{host}{tail}"),
        },
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(u: &DbUrl) -> &ServerAddr {
        match u.server() {
            Some(a) => a,
            None => panic!("{u} is not a server URL"),
        }
    }

    #[test]
    fn store_url_sqlite_forms() {
        let u = DbUrl::parse("sqlite:///var/lib/ser/ser.db").unwrap();
        assert_eq!(
            u,
            DbUrl::Sqlite {
                path: "/var/lib/ser/ser.db".into()
            }
        );
        assert_eq!(u.backend(), Backend::Sqlite);
        assert_eq!(u.to_string(), "sqlite:///var/lib/ser/ser.db");
        let u = DbUrl::parse("SQLite://data/ser.db").unwrap();
        assert_eq!(
            u,
            DbUrl::Sqlite {
                path: "data/ser.db".into()
            }
        );
        let u = DbUrl::parse("sqlite:///tmp/a%20b.db").unwrap();
        assert_eq!(
            u,
            DbUrl::Sqlite {
                path: "/tmp/a b.db".into()
            }
        );
        for bad in [
            "sqlite://",
            "sqlite:///",
            "sqlite:///x.db?mode=ro",
            "sqlite:///a%zz",
        ] {
            assert!(DbUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn store_url_default_is_an_absolute_sqlite_file() {
        let u = DbUrl::parse(super::super::DEFAULT_URL).unwrap();
        assert_eq!(
            u,
            DbUrl::Sqlite {
                path: "/var/lib/ser/ser.db".into()
            }
        );
    }

    #[test]
    fn store_url_server_forms() {
        let u = DbUrl::parse("mysql://ser:heslo@localhost/ser").unwrap();
        assert_eq!(u.backend(), Backend::Mysql);
        let a = server(&u);
        assert_eq!(
            (
                a.user.as_str(),
                a.password.as_str(),
                a.host.as_str(),
                a.port,
                a.database.as_str()
            ),
            ("ser", "heslo", "localhost", 3306, "ser")
        );
        let u = DbUrl::parse("postgresql://ser:p%40ss%3Aw@127.0.0.1:6543/ser_db").unwrap();
        assert_eq!(u.backend(), Backend::Postgres);
        let a = server(&u);
        assert_eq!(a.password, "p@ss:w");
        assert_eq!(
            (a.host.as_str(), a.port, a.database.as_str()),
            ("127.0.0.1", 6543, "ser_db")
        );
        let u = DbUrl::parse("postgres://ser@[::1]/ser").unwrap();
        let a = server(&u);
        assert_eq!(
            (a.host.as_str(), a.port, a.password.as_str()),
            ("::1", 5432, "")
        );
        assert_eq!(u.to_string(), "postgres://ser@[::1]:5432/ser");
        let u = DbUrl::parse("mysql://ser:heslo@[::1]:3307/ser").unwrap();
        assert_eq!(server(&u).port, 3307);
    }

    #[test]
    fn store_url_password_never_shown() {
        let u = DbUrl::parse("mysql://ser:heslo@127.0.0.1/ser").unwrap();
        assert_eq!(u.to_string(), "mysql://ser:***@127.0.0.1:3306/ser");
        assert!(!format!("{u:?}").contains("heslo"));
        assert!(!format!("{:?}", server(&u)).contains("heslo"));
        for bad in [
            "mysql://ser:heslo@127.0.0.1:99999/ser",
            "mysql://ser:heslo@127.0.0.1/",
            "mysql://ser:heslo@/ser",
            "postgres://ser:heslo@h/db?sslmode=require",
            "oracle://ser:heslo@h/db",
            "ser:heslo@h/db",
        ] {
            let e = DbUrl::parse(bad).unwrap_err();
            let msg = e.to_string();
            assert!(!msg.contains("heslo"), "{msg}");
            assert!(msg.contains("***"), "{msg}");
        }
    }

    #[test]
    fn store_url_errors_say_why() {
        let e = DbUrl::parse("postgres://ser:x@db.example:0/ser").unwrap_err();
        assert!(e.reason.contains("port"), "{e}");
        let e = DbUrl::parse("postgres://:x@db/ser").unwrap_err();
        assert!(e.reason.contains("user"), "{e}");
        let e = DbUrl::parse("postgres://u:x@db").unwrap_err();
        assert!(e.reason.contains("database"), "{e}");
        let e = DbUrl::parse("redis://u@h/0").unwrap_err();
        assert!(e.reason.contains("scheme"), "{e}");
        assert_eq!(redact("mysql://u:secret@h/db"), "mysql://u:***@h/db");
        assert_eq!(redact("mysql://u@h/db"), "mysql://u@h/db");
        assert_eq!(redact("u:secret@h/db"), "u:***@h/db");
    }
}
