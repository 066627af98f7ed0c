//! [`Db`]: one connection to one database, whichever the back end.
//!
//! SQL is written once with `?` placeholders; the PostgreSQL back end
//! numbers them (`$1`, ...). Parameters and results are [`Cell`]s. Every
//! call is bounded in time by [`Timeouts`]. A call that finds the database
//! unavailable marks the connection lost: every later call fails at once
//! with [`DbError::Unavailable`] and the owner (the [`super::Pool`], or
//! `serctl`) opens a new one.

use std::time::Duration;

use super::url::{Backend, DbUrl};
use super::value::{Cell, DbError};
use super::{my, pg, sql, sqlite};

/// Time limits of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Making the connection (TCP connect and log-in).
    pub connect: Duration,
    /// One statement: the server-side limit (PostgreSQL
    /// `statement_timeout`), the client's read and write limits (MySQL),
    /// the progress handler's limit (SQLite). A server that does not answer
    /// within it (plus a second for PostgreSQL) makes the connection lost.
    pub statement: Duration,
    /// How long SQLite waits for a lock another connection holds.
    pub busy: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(3),
            statement: Duration::from_secs(5),
            busy: Duration::from_secs(2),
        }
    }
}

enum Conn {
    Sqlite(Box<sqlite::Conn>),
    Postgres(Box<pg::Conn>),
    Mysql(Box<my::Conn>),
}

/// One connection to one database.
pub struct Db {
    url: DbUrl,
    conn: Conn,
    /// Why the connection was given up, once it was.
    lost: Option<String>,
}

impl Db {
    /// Connects with the default [`Timeouts`].
    pub fn open(url: &DbUrl) -> Result<Db, DbError> {
        Db::connect(url, &Timeouts::default())
    }

    /// Connects (for SQLite: opens the file, creating it and its
    /// directories when missing). Every failure is
    /// [`DbError::Unavailable`], naming the URL without its password.
    pub fn connect(url: &DbUrl, t: &Timeouts) -> Result<Db, DbError> {
        let conn = match url {
            DbUrl::Sqlite { path } => Conn::Sqlite(Box::new(sqlite::Conn::open(path, t)?)),
            DbUrl::Postgres(a) => Conn::Postgres(Box::new(pg::Conn::connect(url, a, t)?)),
            DbUrl::Mysql(a) => Conn::Mysql(Box::new(my::Conn::connect(url, a, t)?)),
        };
        Ok(Db {
            url: url.clone(),
            conn,
            lost: None,
        })
    }

    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// True once a call found the database unavailable: the connection is
    /// of no more use.
    pub fn is_lost(&self) -> bool {
        self.lost.is_some()
    }

    /// Why the connection was given up, once it was.
    pub fn lost_reason(&self) -> Option<&str> {
        self.lost.as_deref()
    }

    /// Marks the connection lost (a caller that cannot tell what state it
    /// left the connection in, e.g. after a panic inside a transaction).
    pub fn mark_lost(&mut self, why: &str) {
        if self.lost.is_none() {
            self.lost = Some(why.to_string());
        }
    }

    /// Runs a statement that returns no rows; the number of rows it
    /// inserted, changed or deleted (for MySQL's `ON DUPLICATE KEY UPDATE`,
    /// 1 for an insert and 2 for an update, as MySQL counts).
    pub fn exec(&mut self, sql_text: &str, params: &[Cell]) -> Result<u64, DbError> {
        self.check(sql_text, params)?;
        let r = match &mut self.conn {
            Conn::Sqlite(c) => c.exec(sql_text, params),
            Conn::Postgres(c) => c.exec(sql_text, params),
            Conn::Mysql(c) => c.exec(sql_text, params),
        };
        self.note(r)
    }

    /// Runs a query; its rows, each a vector of cells in column order.
    pub fn query(&mut self, sql_text: &str, params: &[Cell]) -> Result<Vec<Vec<Cell>>, DbError> {
        self.check(sql_text, params)?;
        let r = match &mut self.conn {
            Conn::Sqlite(c) => c.query(sql_text, params),
            Conn::Postgres(c) => c.query(sql_text, params),
            Conn::Mysql(c) => c.query(sql_text, params),
        };
        self.note(r)
    }

    /// The first row of a query, if any.
    pub fn query_row(
        &mut self,
        sql_text: &str,
        params: &[Cell],
    ) -> Result<Option<Vec<Cell>>, DbError> {
        Ok(self.query(sql_text, params)?.into_iter().next())
    }

    /// Runs a script of statements separated by `;`, without parameters
    /// (schema files).
    pub fn batch(&mut self, script: &str) -> Result<(), DbError> {
        if let Some(why) = &self.lost {
            return Err(DbError::Unavailable(why.clone()));
        }
        let r = match &mut self.conn {
            Conn::Sqlite(c) => c.batch(script),
            Conn::Postgres(c) => c.batch(script),
            Conn::Mysql(c) => c.batch(script),
        };
        self.note(r)
    }

    /// Checks the connection with a trivial query.
    pub fn ping(&mut self) -> Result<(), DbError> {
        self.query("SELECT 1", &[]).map(drop)
    }

    /// Runs `f` in a transaction: committed when `f` returns `Ok`, rolled
    /// back when it returns an error. (MySQL commits by itself before and
    /// after each schema statement, so a migration there is not atomic.)
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Db) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let begin = match self.backend() {
            // Take the write lock at once: a deferred transaction that
            // reads and then writes can fail with "busy" half-way.
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
            Backend::Mysql => "START TRANSACTION",
        };
        self.exec(begin, &[])?;
        match f(self) {
            Ok(v) => {
                self.exec("COMMIT", &[])?;
                Ok(v)
            }
            Err(e) => {
                if !self.is_lost() {
                    // The first error is the one to report; a failed
                    // rollback leaves the connection in doubt.
                    if let Err(re) = self.exec("ROLLBACK", &[]) {
                        self.mark_lost(&format!("rollback failed: {re}"));
                    }
                }
                Err(e)
            }
        }
    }

    /// Refuses calls on a lost connection and calls whose number of
    /// parameters does not match the placeholders.
    fn check(&self, sql_text: &str, params: &[Cell]) -> Result<(), DbError> {
        if let Some(why) = &self.lost {
            return Err(DbError::Unavailable(why.clone()));
        }
        let n = sql::count_placeholders(sql_text);
        if n != params.len() {
            return Err(DbError::Query(format!(
                "{}: {n} placeholders but {} values in: {sql_text}",
                self.url,
                params.len()
            )));
        }
        Ok(())
    }

    /// Remembers an unavailability.
    fn note<T>(&mut self, r: Result<T, DbError>) -> Result<T, DbError> {
        if let Err(DbError::Unavailable(why)) = &r {
            self.lost = Some(why.clone());
        }
        r
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("url", &self.url)
            .field("lost", &self.lost)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port on 127.0.0.1 that nothing listens on (bound, then released).
    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn store_refused_connection_is_unavailable_and_names_the_url() {
        for scheme in ["postgres", "mysql"] {
            let port = closed_port();
            let url = DbUrl::parse(&format!("{scheme}://ser:sekret@127.0.0.1:{port}/ser")).unwrap();
            let t0 = std::time::Instant::now();
            let e = Db::open(&url).unwrap_err();
            assert!(
                t0.elapsed() < Duration::from_secs(2),
                "{scheme}: {:?}",
                t0.elapsed()
            );
            assert!(e.is_unavailable(), "{e}");
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("{scheme}://ser:***@127.0.0.1:{port}/ser")),
                "{msg}"
            );
            assert!(!msg.contains("sekret"), "{msg}");
        }
    }

    #[test]
    fn store_sqlite_file_that_cannot_be_made_is_unavailable() {
        // A directory where the file should be.
        let dir = std::env::temp_dir().join(format!("ser-store-db-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("ser.db")).unwrap();
        let url = DbUrl::parse(&format!("sqlite://{}/ser.db", dir.display())).unwrap();
        let e = Db::open(&url).unwrap_err();
        assert!(e.is_unavailable(), "{e}");
        assert!(e.to_string().contains("ser.db"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn store_lost_connection_refuses_calls() {
        let dir = std::env::temp_dir().join(format!("ser-store-lost-{}", std::process::id()));
        let url = DbUrl::parse(&format!("sqlite://{}/ser.db", dir.display())).unwrap();
        let mut db = Db::open(&url).unwrap();
        db.ping().unwrap();
        db.mark_lost("test");
        assert!(db.is_lost());
        assert_eq!(db.ping(), Err(DbError::Unavailable("test".into())));
        assert_eq!(
            db.batch("SELECT 1"),
            Err(DbError::Unavailable("test".into()))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
