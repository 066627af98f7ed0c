//! The SQLite back end (`rusqlite`, SQLite compiled in).
//!
//! The file and its missing parent directories are created on open. Each
//! connection runs in WAL mode (readers never wait for the writer, and
//! several pool threads can share the file; SQLite still lets one write at
//! a time), waits up to the busy timeout for a lock, and has a progress
//! handler that interrupts a statement running past the statement timeout.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSql, ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::db::Timeouts;
use super::value::{Cell, DbError};

/// SQLite VM steps between two looks at the clock.
const PROGRESS_STEPS: i32 = 10_000;

/// One open SQLite file.
pub(super) struct Conn {
    c: Connection,
    /// Deadline of the running statement, in milliseconds since `epoch`
    /// (0: none). Shared with the progress handler.
    deadline_ms: Arc<AtomicU64>,
    epoch: Instant,
    statement: Duration,
    /// The file, for messages.
    name: String,
}

impl Conn {
    pub(super) fn open(path: &Path, t: &Timeouts) -> Result<Conn, DbError> {
        let name = format!("sqlite://{}", path.display());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                DbError::Unavailable(format!("{name}: cannot create {}: {e}", dir.display()))
            })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let c = Connection::open_with_flags(path, flags)
            .map_err(|e| DbError::Unavailable(format!("{name}: {e}")))?;
        let setup = |c: &Connection| -> rusqlite::Result<()> {
            c.busy_timeout(t.busy)?;
            wal(c, t.busy)?;
            c.pragma_update(None, "synchronous", "NORMAL")?;
            c.set_prepared_statement_cache_capacity(64);
            Ok(())
        };
        setup(&c).map_err(|e| DbError::Unavailable(format!("{name}: {e}")))?;
        let deadline_ms = Arc::new(AtomicU64::new(0));
        let epoch = Instant::now();
        let d = Arc::clone(&deadline_ms);
        c.progress_handler(
            PROGRESS_STEPS,
            Some(move || {
                let due = d.load(Ordering::Relaxed);
                due != 0 && epoch.elapsed().as_millis() as u64 >= due
            }),
        );
        Ok(Conn {
            c,
            deadline_ms,
            epoch,
            statement: t.statement,
            name,
        })
    }

    /// Arms the statement deadline for the next call.
    fn arm(&self) {
        let due = u64::try_from(
            self.epoch
                .elapsed()
                .saturating_add(self.statement)
                .as_millis(),
        )
        .unwrap_or(u64::MAX);
        self.deadline_ms.store(due.max(1), Ordering::Relaxed);
    }

    fn disarm(&self) {
        self.deadline_ms.store(0, Ordering::Relaxed);
    }

    pub(super) fn exec(&mut self, sql: &str, params: &[Cell]) -> Result<u64, DbError> {
        self.arm();
        let r = (|| {
            let mut st = self.c.prepare_cached(sql)?;
            if st.column_count() > 0 {
                // A statement that returns rows (PRAGMA x=y, RETURNING):
                // run it to the end and count the rows.
                let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
                let mut n = 0u64;
                while rows.next()?.is_some() {
                    n += 1;
                }
                return Ok(n);
            }
            st.execute(rusqlite::params_from_iter(params.iter()))
                .map(|n| n as u64)
        })();
        self.disarm();
        r.map_err(|e| self.error(e))
    }

    pub(super) fn query(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Vec<Cell>>, DbError> {
        self.arm();
        let r = (|| {
            let mut st = self.c.prepare_cached(sql)?;
            let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                // Counted on the row: SQLite prepares the statement again
                // when another connection changed the schema, and `*`
                // may then stand for other columns.
                let ncol = row.as_ref().column_count();
                let mut cells = Vec::with_capacity(ncol);
                for i in 0..ncol {
                    cells.push(cell(row.get_ref(i)?));
                }
                out.push(cells);
            }
            Ok(out)
        })();
        self.disarm();
        r.map_err(|e| self.error(e))
    }

    /// Runs a script of statements (schema files) at once.
    pub(super) fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.arm();
        let r = self.c.execute_batch(sql);
        self.disarm();
        r.map_err(|e| self.error(e))
    }

    /// Sorts an error into unavailable (the file cannot be used: I/O,
    /// permissions, corruption) or a statement error.
    fn error(&self, e: rusqlite::Error) -> DbError {
        let code = match &e {
            rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
            _ => None,
        };
        let msg = format!("{}: {e}", self.name);
        match code {
            Some(
                ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::DatabaseCorrupt
                | ErrorCode::NotADatabase
                | ErrorCode::PermissionDenied
                | ErrorCode::ReadOnly
                | ErrorCode::DiskFull,
            ) => DbError::Unavailable(msg),
            Some(ErrorCode::OperationInterrupted) => DbError::Query(format!(
                "{}: statement ran past {} ms and was interrupted",
                self.name,
                self.statement.as_millis()
            )),
            _ => DbError::Query(msg),
        }
    }
}

/// Puts the file in WAL mode (it stays so: only the first connection to a
/// new file changes anything). Switching needs the file to itself, and
/// SQLite answers "locked" at once, without waiting the busy timeout, when
/// another connection is opening or migrating the same new file: so try
/// again for up to `busy`.
fn wal(c: &Connection, busy: Duration) -> rusqlite::Result<()> {
    let t0 = Instant::now();
    loop {
        // journal_mode answers with the mode the file is in.
        let r = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0));
        let locked = match &r {
            Ok(mode) => !mode.eq_ignore_ascii_case("wal"),
            Err(rusqlite::Error::SqliteFailure(f, _)) => {
                matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
            }
            Err(_) => false,
        };
        if !locked || t0.elapsed() >= busy {
            return r.map(drop);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A result column as a [`Cell`]; text that is not UTF-8 comes back as
/// bytes.
fn cell(v: ValueRef<'_>) -> Cell {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(f) => Cell::Real(f),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Cell::Text(s.to_string()),
            Err(_) => Cell::Bytes(t.to_vec()),
        },
        ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
    }
}

impl ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Cell::Null => ToSqlOutput::Owned(Value::Null),
            Cell::Int(i) => ToSqlOutput::Owned(Value::Integer(*i)),
            Cell::Real(f) => ToSqlOutput::Owned(Value::Real(*f)),
            Cell::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Cell::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}
