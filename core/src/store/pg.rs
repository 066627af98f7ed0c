//! The PostgreSQL back end (`tokio-postgres`, no TLS).
//!
//! `tokio-postgres` is asynchronous; each connection owns a single-threaded
//! runtime that runs only while a call waits (`block_on`), so to its
//! caller a connection is a plain blocking object, like the `postgres`
//! crate's (which is the same thing) but with a client-side time limit on
//! every call: a server that stops answering (a frozen host, a dropped
//! link) costs at most the statement timeout plus a second, after which the
//! connection is given up as unavailable. PostgreSQL's own
//! `statement_timeout` is set to the statement timeout as well, so a slow
//! statement is cancelled by the server and reported as a query error
//! while the connection stays usable.
//!
//! Values are converted by the column and parameter types the server
//! reports (an `INT` column takes an [`Cell::Int`], a `VARCHAR` a
//! [`Cell::Text`] or an integer written out, ...), so the same `Cell`s work
//! against every back end.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::time::Duration;

use bytes::BytesMut;
use tokio::runtime::Runtime;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Statement};

use super::db::Timeouts;
use super::sql;
use super::url::{DbUrl, ServerAddr};
use super::value::{Cell, DbError};

/// Prepared statements kept per connection (the cache is emptied when full).
const STMT_CACHE: usize = 128;

/// Extra time the client waits beyond the server's statement timeout
/// before it gives the connection up.
const GRACE: Duration = Duration::from_secs(1);

pub(super) struct Conn {
    rt: Runtime,
    client: Client,
    stmts: HashMap<String, Statement>,
    limit: Duration,
    name: String,
}

type BoxError = Box<dyn StdError + Sync + Send>;

impl Conn {
    pub(super) fn connect(url: &DbUrl, a: &ServerAddr, t: &Timeouts) -> Result<Conn, DbError> {
        let name = url.to_string();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| {
                DbError::Unavailable(format!("{name}: cannot start the I/O runtime: {e}"))
            })?;
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&a.host)
            .port(a.port)
            .user(&a.user)
            .dbname(&a.database)
            .application_name("ser")
            .connect_timeout(t.connect)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .options(format!(
                "-c statement_timeout={} -c lock_timeout={}",
                t.statement.as_millis(),
                t.statement.as_millis()
            ));
        if !a.password.is_empty() {
            cfg.password(&a.password);
        }
        let limit = t.connect.saturating_add(GRACE);
        let connected =
            rt.block_on(async { tokio::time::timeout(limit, cfg.connect(NoTls)).await });
        let (client, connection) = match connected {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(DbError::Unavailable(format!("{name}: {}", describe(&e)))),
            Err(_) => {
                return Err(DbError::Unavailable(format!(
                    "{name}: no connection within {} ms",
                    limit.as_millis()
                )));
            }
        };
        // The connection task reads and writes the socket; it runs whenever
        // a call below waits on the runtime, and ends when the server
        // closes the connection (the client then reports "closed").
        rt.spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            rt,
            client,
            stmts: HashMap::new(),
            limit: t.statement.saturating_add(GRACE),
            name,
        })
    }

    /// Waits for `fut` at most the call limit.
    fn wait<T>(
        &self,
        fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, DbError> {
        self.wait_raw(fut).map_err(|e| self.outcome(e))
    }

    /// As [`wait`](Conn::wait), keeping the client's error for a closer
    /// look (`Err(None)`: no answer in time).
    fn wait_raw<T>(
        &self,
        fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Option<tokio_postgres::Error>> {
        match self
            .rt
            .block_on(async { tokio::time::timeout(self.limit, fut).await })
        {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Some(e)),
            Err(_) => Err(None),
        }
    }

    /// The store's error for what [`wait_raw`](Conn::wait_raw) returned.
    fn outcome(&self, e: Option<tokio_postgres::Error>) -> DbError {
        match e {
            Some(e) => self.error(&e),
            None => DbError::Unavailable(format!(
                "{}: no answer within {} ms",
                self.name,
                self.limit.as_millis()
            )),
        }
    }

    /// Prepares `pg_sql` anew, replacing its cached statement.
    fn reprepare(&mut self, pg_sql: &str) -> Result<Statement, DbError> {
        self.stmts.remove(pg_sql);
        self.prepare(pg_sql)
    }

    fn prepare(&mut self, pg_sql: &str) -> Result<Statement, DbError> {
        if let Some(st) = self.stmts.get(pg_sql) {
            return Ok(st.clone());
        }
        let st = self.wait(self.client.prepare(pg_sql))?;
        if self.stmts.len() >= STMT_CACHE {
            self.stmts.clear();
        }
        self.stmts.insert(pg_sql.to_string(), st.clone());
        Ok(st)
    }

    pub(super) fn exec(&mut self, sql_text: &str, params: &[Cell]) -> Result<u64, DbError> {
        let (pg_sql, _) = sql::to_postgres(sql_text);
        if is_ddl(&pg_sql) {
            // A schema change may leave cached plans describing old rows.
            self.stmts.clear();
            if params.is_empty() {
                self.wait(self.client.batch_execute(&pg_sql))?;
                return Ok(0);
            }
        }
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
        let st = self.prepare(&pg_sql)?;
        match self.wait_raw(self.client.execute(&st, &refs)) {
            Err(e) if stale_statement(&e) => {
                let st = self.reprepare(&pg_sql)?;
                self.wait(self.client.execute(&st, &refs))
            }
            r => r.map_err(|e| self.outcome(e)),
        }
    }

    pub(super) fn query(
        &mut self,
        sql_text: &str,
        params: &[Cell],
    ) -> Result<Vec<Vec<Cell>>, DbError> {
        let (pg_sql, _) = sql::to_postgres(sql_text);
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
        let st = self.prepare(&pg_sql)?;
        let rows = match self.wait_raw(self.client.query(&st, &refs)) {
            Err(e) if stale_statement(&e) => {
                let st = self.reprepare(&pg_sql)?;
                self.wait(self.client.query(&st, &refs))?
            }
            r => r.map_err(|e| self.outcome(e))?,
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut cells = Vec::with_capacity(row.len());
            for (i, col) in row.columns().iter().enumerate() {
                cells.push(read(&row, i, col.type_()).map_err(|e| {
                    DbError::Query(format!("{}: column {}: {e}", self.name, col.name()))
                })?);
            }
            out.push(cells);
        }
        Ok(out)
    }

    /// Runs a script of statements (schema files) in one round trip.
    pub(super) fn batch(&mut self, script: &str) -> Result<(), DbError> {
        self.stmts.clear();
        self.wait(self.client.batch_execute(script))
    }

    /// Sorts an error: connection exceptions (SQLSTATE class 08), server
    /// shut-downs (57P01-57P03), too many connections (53300), a closed
    /// connection or an I/O error are unavailability; the rest are
    /// statement errors.
    fn error(&self, e: &tokio_postgres::Error) -> DbError {
        let msg = format!("{}: {}", self.name, describe(e));
        if let Some(db) = e.as_db_error() {
            let code = db.code().code();
            if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300") {
                return DbError::Unavailable(msg);
            }
            return DbError::Query(msg);
        }
        let io = e
            .source()
            .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some());
        if e.is_closed() || self.client.is_closed() || io {
            DbError::Unavailable(msg)
        } else {
            DbError::Query(msg)
        }
    }
}

/// True for the errors of a cached statement that a schema change made
/// stale ("cached plan must not change result type", SQLSTATE 0A000) or
/// that the server forgot (26000, after `DISCARD ALL`): prepared again, the
/// statement works.
fn stale_statement(e: &Option<tokio_postgres::Error>) -> bool {
    let code = e
        .as_ref()
        .and_then(|e| e.as_db_error())
        .map(|db| db.code().code());
    matches!(code, Some("0A000" | "26000"))
}

/// The server's message with its SQLSTATE, or the client's error.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => match e.source() {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

/// True for statements that change the schema.
fn is_ddl(sql_text: &str) -> bool {
    let head: String = sql_text
        .trim_start()
        .chars()
        .take(8)
        .collect::<String>()
        .to_ascii_uppercase();
    ["CREATE", "ALTER", "DROP", "TRUNCATE"]
        .iter()
        .any(|k| head.starts_with(k))
}

/// Column `i` of `row`, read by its PostgreSQL type.
fn read(row: &tokio_postgres::Row, i: usize, ty: &Type) -> Result<Cell, BoxError> {
    fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Cell) -> Cell {
        v.map_or(Cell::Null, f)
    }
    Ok(match *ty {
        Type::BOOL => opt(row.try_get::<_, Option<bool>>(i)?, |b| Cell::Int(b.into())),
        Type::CHAR => opt(row.try_get::<_, Option<i8>>(i)?, |v| Cell::Int(v.into())),
        Type::INT2 => opt(row.try_get::<_, Option<i16>>(i)?, |v| Cell::Int(v.into())),
        Type::INT4 => opt(row.try_get::<_, Option<i32>>(i)?, |v| Cell::Int(v.into())),
        Type::INT8 => opt(row.try_get::<_, Option<i64>>(i)?, Cell::Int),
        Type::OID => opt(row.try_get::<_, Option<u32>>(i)?, |v| Cell::Int(v.into())),
        Type::FLOAT4 => opt(row.try_get::<_, Option<f32>>(i)?, |v| Cell::Real(v.into())),
        Type::FLOAT8 => opt(row.try_get::<_, Option<f64>>(i)?, Cell::Real),
        Type::BYTEA => opt(row.try_get::<_, Option<Vec<u8>>>(i)?, Cell::Bytes),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            opt(row.try_get::<_, Option<String>>(i)?, Cell::Text)
        }
        _ => {
            return Err(
                format!("type {ty} is not supported (cast it to text or an integer)").into(),
            );
        }
    })
}

/// Parameters are encoded for the type the server inferred for their
/// placeholder: integers narrow to `INT2`/`INT4` when they fit, anything
/// goes to a text type as its text, text and bytes go to `BYTEA`.
impl ToSql for Cell {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let text_type = matches!(
            *ty,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
        );
        match self {
            Cell::Null => Ok(IsNull::Yes),
            Cell::Int(v) => match *ty {
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT8 => v.to_sql(ty, out),
                Type::OID => u32::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                _ if text_type => v.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot go into a {ty} parameter").into()),
            },
            Cell::Real(v) => match *ty {
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                Type::FLOAT8 => v.to_sql(ty, out),
                _ if text_type => v.to_string().to_sql(ty, out),
                _ => Err(format!("a float cannot go into a {ty} parameter").into()),
            },
            Cell::Text(s) => match *ty {
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                _ if text_type => s.as_str().to_sql(ty, out),
                _ => Err(format!("text cannot go into a {ty} parameter").into()),
            },
            Cell::Bytes(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ if text_type => std::str::from_utf8(b)?.to_sql(ty, out),
                _ => Err(format!("bytes cannot go into a {ty} parameter").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
