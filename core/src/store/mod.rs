//! The store layer: SQLite (the default, built in), PostgreSQL and
//! MySQL/MariaDB behind one API.
//!
//! * [`DbUrl`]: `db_url` parsing (`sqlite:///path`, `postgres://...`,
//!   `mysql://...`).
//! * [`sql`]: `?` placeholders written once, numbered for PostgreSQL.
//! * [`Cell`] values and [`DbError`]s.

pub mod sql;
mod url;
mod value;

pub use url::{Backend, DbUrl, ServerAddr, UrlError, redact};
pub use value::{Cell, DbError};
