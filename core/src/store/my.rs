//! The MySQL / MariaDB back end (`mysql` crate, no TLS).
//!
//! Every socket operation has a time limit (connect, read and write
//! timeouts), so a server that stops answering costs at most the statement
//! timeout; the connection is then given up as unavailable. Each session
//! is set up on connect with `ANSI_QUOTES` (so `"partition"` quotes an
//! identifier as it does in SQLite and PostgreSQL), `utf8mb4`, and
//! `CLIENT_FOUND_ROWS` (an `UPDATE` reports the rows it matched, as the
//! other back ends do, not only those it changed).
//!
//! Statements with parameters go through the binary protocol (prepared and
//! cached); statements without go through the text protocol, because MySQL
//! cannot prepare every statement (some DDL). Values are converted by the
//! column type and character set the server reports.

use mysql::consts::{CapabilityFlags, ColumnType};
use mysql::prelude::Queryable;
use mysql::{Column, Conn as MyConn, OptsBuilder, Params, Value};

use super::db::Timeouts;
use super::url::{DbUrl, ServerAddr};
use super::value::{Cell, DbError};

/// The character set number MySQL gives binary columns.
const BINARY_CHARSET: u16 = 63;

pub(super) struct Conn {
    c: MyConn,
    name: String,
}

impl Conn {
    pub(super) fn connect(url: &DbUrl, a: &ServerAddr, t: &Timeouts) -> Result<Conn, DbError> {
        let name = url.to_string();
        let opts = OptsBuilder::new()
            .ip_or_hostname(Some(a.host.clone()))
            .tcp_port(a.port)
            .user(Some(a.user.clone()))
            .pass((!a.password.is_empty()).then(|| a.password.clone()))
            .db_name(Some(a.database.clone()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(t.connect))
            .read_timeout(Some(t.statement))
            .write_timeout(Some(t.statement))
            .tcp_keepalive_time_ms(Some(30_000))
            .stmt_cache_size(128)
            .additional_capabilities(CapabilityFlags::CLIENT_FOUND_ROWS)
            .init(vec![
                "SET NAMES utf8mb4",
                "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'ANSI_QUOTES')",
            ]);
        let c = MyConn::new(opts).map_err(|e| DbError::Unavailable(format!("{name}: {e}")))?;
        Ok(Conn { c, name })
    }

    pub(super) fn exec(&mut self, sql: &str, params: &[Cell]) -> Result<u64, DbError> {
        let r = if params.is_empty() {
            self.c.query_iter(sql).map(|res| res.affected_rows())
        } else {
            self.c
                .exec_iter(sql, Params::Positional(params.iter().map(value).collect()))
                .map(|res| res.affected_rows())
        };
        r.map_err(|e| self.error(e))
    }

    pub(super) fn query(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Vec<Cell>>, DbError> {
        let name = self.name.clone();
        let r = if params.is_empty() {
            self.c.query_iter(sql).and_then(|res| collect(res, &name))
        } else {
            self.c
                .exec_iter(sql, Params::Positional(params.iter().map(value).collect()))
                .and_then(|res| collect(res, &name))
        };
        match r {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Runs a script of statements one by one (the connection does not ask
    /// for multi-statement support).
    pub(super) fn batch(&mut self, script: &str) -> Result<(), DbError> {
        for stmt in super::sql::split_statements(script) {
            self.exec(&stmt, &[])?;
        }
        Ok(())
    }

    /// Sorts an error: I/O, protocol and connect failures and the server's
    /// "gone away" / "lost connection" / "shutdown in progress" / "killed"
    /// codes are unavailability; the rest are statement errors.
    fn error(&self, e: mysql::Error) -> DbError {
        let msg = format!("{}: {e}", self.name);
        match &e {
            mysql::Error::MySqlError(me) => match me.code {
                // ER_SERVER_SHUTDOWN, ER_CON_COUNT_ERROR, CR_SERVER_GONE_ERROR,
                // CR_SERVER_LOST, ER_CONNECTION_KILLED (MariaDB), ER_QUERY_INTERRUPTED
                // after a shut-down.
                1053 | 1040 | 2006 | 2013 | 1927 => DbError::Unavailable(msg),
                _ => DbError::Query(msg),
            },
            mysql::Error::DriverError(d) => match d {
                mysql::DriverError::MismatchedStmtParams(..)
                | mysql::DriverError::Params(_)
                | mysql::DriverError::MixedParams => DbError::Query(msg),
                _ => DbError::Unavailable(msg),
            },
            mysql::Error::IoError(_) | mysql::Error::CodecError(_) => DbError::Unavailable(msg),
            _ => DbError::Query(msg),
        }
    }
}

/// Reads every row of the first result set.
fn collect<P: mysql::prelude::Protocol>(
    mut res: mysql::QueryResult<'_, '_, '_, P>,
    name: &str,
) -> mysql::Result<Result<Vec<Vec<Cell>>, DbError>> {
    let mut out = Vec::new();
    let Some(set) = res.iter() else {
        return Ok(Ok(out));
    };
    for row in set {
        let row = row?;
        let cols = row.columns();
        let mut cells = Vec::with_capacity(cols.len());
        for (v, col) in row.unwrap_raw().into_iter().zip(cols.iter()) {
            match cell(v.unwrap_or(Value::NULL), col) {
                Ok(c) => cells.push(c),
                Err(why) => {
                    return Ok(Err(DbError::Query(format!(
                        "{name}: column {}: {why}",
                        col.name_str()
                    ))));
                }
            }
        }
        out.push(cells);
    }
    Ok(Ok(out))
}

/// A parameter as a MySQL value.
fn value(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::NULL,
        Cell::Int(i) => Value::Int(*i),
        Cell::Real(f) => Value::Double(*f),
        Cell::Text(s) => Value::Bytes(s.as_bytes().to_vec()),
        Cell::Bytes(b) => Value::Bytes(b.clone()),
    }
}

/// A result value as a [`Cell`]. The text protocol sends every value as
/// bytes, so numbers are parsed by the column type; character columns
/// become text (bytes when they are not UTF-8), binary columns bytes.
fn cell(v: Value, col: &Column) -> Result<Cell, String> {
    use ColumnType::*;
    Ok(match v {
        Value::NULL => Cell::Null,
        Value::Int(i) => Cell::Int(i),
        Value::UInt(u) => Cell::Int(
            i64::try_from(u).map_err(|_| format!("{u} does not fit a signed 64-bit integer"))?,
        ),
        Value::Float(f) => Cell::Real(f.into()),
        Value::Double(f) => Cell::Real(f),
        Value::Bytes(b) => match col.column_type() {
            MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_INT24 | MYSQL_TYPE_YEAR => {
                let s = std::str::from_utf8(&b)
                    .map_err(|_| "integer column holds non-text".to_string())?;
                Cell::Int(
                    s.trim()
                        .parse()
                        .map_err(|_| format!("\"{s}\" is not a 64-bit integer"))?,
                )
            }
            MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => {
                let s = std::str::from_utf8(&b)
                    .map_err(|_| "float column holds non-text".to_string())?;
                Cell::Real(
                    s.trim()
                        .parse()
                        .map_err(|_| format!("\"{s}\" is not a number"))?,
                )
            }
            _ if col.character_set() == BINARY_CHARSET && !is_temporal(col.column_type()) => {
                Cell::Bytes(b)
            }
            _ => match String::from_utf8(b) {
                Ok(s) => Cell::Text(s),
                Err(e) => Cell::Bytes(e.into_bytes()),
            },
        },
        Value::Date(y, mo, d, h, mi, s, us) => Cell::Text(if us == 0 {
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
        } else {
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
        }),
        Value::Time(neg, days, h, mi, s, _) => {
            let hours = u64::from(days) * 24 + u64::from(h);
            Cell::Text(format!(
                "{}{hours:02}:{mi:02}:{s:02}",
                if neg { "-" } else { "" }
            ))
        }
    })
}

/// Date and time columns carry the binary character set too, but hold text.
fn is_temporal(t: ColumnType) -> bool {
    use ColumnType::*;
    matches!(
        t,
        MYSQL_TYPE_DATE
            | MYSQL_TYPE_TIME
            | MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_NEWDATE
            | MYSQL_TYPE_TIME2
            | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIMESTAMP2
            | MYSQL_TYPE_NEWDECIMAL
            | MYSQL_TYPE_DECIMAL
    )
}
