//! The transaction layer (RFC 3261 section 17, RFC 6026), sans-IO.
//!
//! Pure state machines ([`fsm`]), their timer values ([`timers`]), the keys
//! that match requests and responses to transactions ([`key`]) and a
//! per-shard table ([`table`]). Nothing here touches a socket, a clock or
//! a script: events go in, [`fsm::Actions`] come out. Not yet wired into
//! the shards; the coming `tm` module (`t_relay`, `t_reply`, ...) drives
//! them from the shard loop and its timer wheel.

pub mod build;
pub mod engine;
pub mod fsm;
pub mod funcs;
pub mod key;
pub mod params;
pub mod table;
pub mod timers;

pub use engine::{Env, Pre, Tm, TmStats};
pub use fsm::{
    Action, Actions, ClientInvite, ClientInviteState, ClientNonInvite, ClientNonInviteState,
    ServerInvite, ServerInviteState, ServerNonInvite, ServerNonInviteState, TimerKind,
};
pub use funcs::TmCtx;
pub use key::{ClientKey, KeyError, ServerKey, cancel_target_key, client_key, server_key};
pub use params::Params;
pub use table::{ClientTable, InsertError, ServerTable, Table, TxId};
pub use timers::Timers;
