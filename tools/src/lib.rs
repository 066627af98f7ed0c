//! Operator tools: `sercmd` (a binrpc client that speaks like Kamailio's
//! `kamcmd`) and `serctl` (users, aliases, domains, trusted peers,
//! contacts; not built yet).

pub mod sercmd;
