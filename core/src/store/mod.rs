//! The store layer: SQLite (the default, built in), PostgreSQL and
//! MySQL/MariaDB behind one API.
//!
//! * [`DbUrl`]: `db_url` parsing (`sqlite:///path`, `postgres://...`,
//!   `mysql://...`).
//! * [`Db`]: one connection; `exec` and `query` with `?` placeholders and
//!   [`Cell`] values, every call bounded in time, errors split into
//!   [`DbError::Unavailable`] and statement errors.
//! * [`Pool`]: worker threads that run database jobs for the shards, which
//!   must never block; bounded queue, completion callbacks, reconnection
//!   with back-off, counters.
//! * [`schema`]: the embedded schema and migration files and
//!   [`Db::migrate`].
//! * [`tables`]: typed helpers for the SER/Kamailio tables (subscriber,
//!   location, aliases, domain, trusted, usr_preferences, acc,
//!   missed_calls).
//!
//! [`DEFAULT_URL`] is the database of a router and a `serctl` that name
//! none.
//!
//! `docs/store.md` describes the URLs, tables, versions and the pool's
//! behaviour when the database goes away.

mod db;
mod my;
mod pg;
mod pool;
pub mod provision;
pub mod schema;
pub mod sql;
mod sqlite;
pub mod stores;
pub mod tables;
mod url;
mod value;

pub use db::{Db, Timeouts};
pub use pool::{EventHook, Pool, PoolConfig, PoolEvent, PoolStats, SubmitError};
pub use schema::MigrateReport;
pub use url::{Backend, DbUrl, ServerAddr, UrlError, redact};
pub use value::{Cell, DbError};

/// The embedded database a module uses when the config names none (and
/// `ser --db=embedded`, and `serctl` without `-d`, `SER_DB_URL` or
/// `DBURL`): created with its schema on first use, so a first try needs
/// no database server.
pub const DEFAULT_URL: &str = "sqlite:///var/lib/ser/ser.db";
