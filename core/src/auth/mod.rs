//! Digest authentication (the `auth` and `auth_db` modules), without the
//! script glue.
//!
//! - [`digest`]: HA1, HA2, `response`, MD5 and SHA-256, `-sess`.
//! - [`nonce`]: self-contained signed nonces.
//! - [`nc`]: replay protection (nonce counts, one-time nonces).
//! - [`challenge`]: `WWW-Authenticate` / `Proxy-Authenticate` values.
//! - [`cache`]: the credentials cache.

pub mod cache;
pub mod challenge;
pub mod digest;
pub mod nc;
pub mod nonce;
