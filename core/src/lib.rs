//! `ser-core`: the SIP router's core.
//!
//! Today it holds the SIP message layer ([`sip`]): the zero-copy parser and
//! the edit-based message builder, and the `ser` command line ([`cli`]).
//! Transports, shards, transactions, the registrar and the control socket land
//! here as their issues are built (see the README's status table).

#![forbid(unsafe_op_in_unsafe_fn)]

pub mod acc;
pub mod attrs;
pub mod auth;
pub mod avpops;
pub mod cli;
pub mod ctl;
pub mod log;
pub mod net;
pub mod policy;
pub mod proxy;
pub mod registrar;
pub mod sanity;
pub mod script;
pub mod server;
pub mod shard;
pub mod sip;
pub mod stats;
pub mod store;
pub mod textops;
pub mod tm;
pub mod unbuilt;
pub mod version;
