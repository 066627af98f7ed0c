//! Operator tools: `sercmd` (a binrpc client that speaks like Kamailio's
//! `kamcmd`) and `serctl` (users, aliases, domains, trusted peers,
//! contacts; not built yet). [`rpc`] is the control socket client.

pub mod rpc;
pub mod sercmd;
