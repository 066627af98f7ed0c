//! Digest authentication (the `auth` and `auth_db` modules), without the
//! script glue.
//!
//! - [`digest`]: HA1, HA2, `response`, MD5 and SHA-256, `-sess`.

pub mod digest;
