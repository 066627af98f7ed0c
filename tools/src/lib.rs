//! Operator tools: `sercmd` (a binrpc client that speaks like Kamailio's
//! `kamcmd`) and `serctl` (users, contacts, aliases, domains, trusted
//! peers, in the router's database and over its control socket). [`rpc`]
//! is their shared control socket client.

pub mod rpc;
pub mod sercmd;
pub mod serctl;
