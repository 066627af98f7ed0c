//! Operator tools: `sercmd` (a binrpc client that speaks like Kamailio's
//! `kamcmd`) and `serctl` (users, aliases, domains, trusted peers, contacts).
//!
//! Not built yet: the control-socket and store issues fill this crate.
