//! The stateless SIP core: everything between "the script finished" and
//! "these bytes go to that address".
//!
//! The shard calls three entry points:
//!
//! - [`finish_request`] after the main request route: carries out what the
//!   script asked for ([`Action`]s, in order): stateless replies
//!   (`sl_send_reply`, `sl_reply_error`, [`sl`]) and stateless forwarding
//!   (`forward`, [`forward`]);
//! - [`forward_reply`] for a received reply: stateless forwarding by the
//!   second Via (RFC 3261 16.11);
//! - [`reject`] for a request the parser refused: `400 Bad Request` naming
//!   the fault.
//!
//! Each pushes the datagrams to send onto a `Vec<Send>`; nothing here
//! blocks, resolves names or touches a socket. Only UDP is built so far;
//! a destination that needs DNS, TCP or TLS is refused with a log line.
//!
//! The module also implements the script functions of the `sl`
//! ([`sl::sl_send_reply`], [`sl::sl_reply_error`]) and `maxfwd`
//! ([`maxfwd`]) modules, and the `sip_warning` header ([`warning`]).

pub mod forward;
pub mod maxfwd;
pub mod rr;
pub mod rr_cookie;
pub mod sl;
pub mod via;
pub mod warning;

use core::fmt;
use core::net::{IpAddr, SocketAddr};

use crate::script::{Action, MsgCtx, level};

pub use forward::forward_reply;
pub use sl::{is_local_ack, reject};

/// Largest datagram built. (An IPv4 UDP payload is at most 65507 bytes;
/// the socket layer reports anything between as a send error.)
pub const MAX_DATAGRAM: usize = 65_535;

/// One listen socket as the proxy layer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalSocket {
    pub addr: SocketAddr,
    /// Host written in our Via (advertised_address or the IP; IPv6 in
    /// brackets).
    pub via_host: String,
    pub via_port: u16,
}

impl LocalSocket {
    /// A socket advertised as its own address.
    pub fn new(addr: SocketAddr) -> LocalSocket {
        LocalSocket {
            addr,
            via_host: host_text(addr.ip()),
            via_port: addr.port(),
        }
    }
}

/// An address as a SIP host: IPv6 in brackets.
pub fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// What the proxy layer knows about this router: its sockets and the
/// settings of locally generated replies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Local {
    /// Index = `SockId`.
    pub sockets: Vec<LocalSocket>,
    /// `sip_warning`: add the SER debugging Warning header to local
    /// replies (default off).
    pub sip_warning: bool,
    /// `server_signature`: add `Server: ser (...)` to local replies
    /// (default on, as in SER and Kamailio).
    pub server_signature: bool,
    /// Random per process; keys the branch and To-tag hashes.
    pub secret: u64,
}

impl Local {
    /// The socket with index `sock`.
    pub fn socket(&self, sock: u16) -> Option<&LocalSocket> {
        self.sockets.get(usize::from(sock))
    }

    /// The socket to send to `dst` from: `preferred` (the one the message
    /// arrived on) if its address family matches, else the first socket
    /// of that family.
    pub fn pick_socket(&self, preferred: u16, dst: &SocketAddr) -> Option<u16> {
        let fits = |s: &LocalSocket| s.addr.is_ipv4() == dst.is_ipv4();
        if self.socket(preferred).is_some_and(fits) {
            return Some(preferred);
        }
        self.sockets
            .iter()
            .position(fits)
            .and_then(|i| u16::try_from(i).ok())
    }
}

/// A datagram to send (the shard moves it into its Outbox).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Send {
    pub sock: u16,
    pub dst: SocketAddr,
    pub data: Vec<u8>,
}

/// What [`finish_request`] did, for statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Finish {
    /// Local replies built (including `482 Loop Detected`).
    pub replies: u32,
    /// Forwarded copies built.
    pub forwards: u32,
    /// Actions (or forked copies) that failed; each was logged.
    pub failures: u32,
}

/// Why a reply was not forwarded (for a debug log and counters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// The Vias cannot be parsed.
    BadVia(String),
    /// The top Via is not ours (Kamailio: "host in first via != me").
    NotOurVia,
    /// There is no second Via to send the reply to.
    NoSecondVia,
    /// The second Via asks for a transport not built yet.
    Transport(String),
    /// The second Via's host is a name (and there is no `received`).
    NotAnIp(String),
    /// No socket of the destination's address family.
    NoSocket(SocketAddr),
    /// The edits could not be applied.
    Build(String),
    /// The built reply is larger than [`MAX_DATAGRAM`].
    TooLong(usize),
}

/// The name the shard uses for [`Dropped`].
pub type Drop = Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::BadVia(e) => write!(f, "bad Via: {e}"),
            Dropped::NotOurVia => f.write_str("host in first via != me"),
            Dropped::NoSecondVia => f.write_str("no second Via"),
            Dropped::Transport(t) => write!(f, "second Via transport {t} is not supported yet"),
            Dropped::NotAnIp(h) => {
                write!(f, "cannot resolve {h}: DNS is not built yet")
            }
            Dropped::NoSocket(a) => write!(f, "no socket to send to {a} from"),
            Dropped::Build(e) => write!(f, "cannot build the reply: {e}"),
            Dropped::TooLong(n) => write!(f, "reply too long ({n} bytes)"),
        }
    }
}

/// After the main request route finished: carries out `ctx.actions` in
/// order (a reply builds a stateless reply, a forward the forwarded
/// request), pushing datagrams onto `out`. Errors are logged through
/// `ctx.log` (L_ERR) and counted; nothing panics.
pub fn finish_request(
    ctx: &mut MsgCtx<'_, '_>,
    sock: u16,
    local: &Local,
    out: &mut Vec<Send>,
) -> Finish {
    let mut fin = Finish::default();
    let actions = core::mem::take(&mut ctx.actions);
    let last_forward = last_forward(&actions);
    let mut copies = 0u32;
    for (i, a) in actions.iter().enumerate() {
        let last = Some(i) == last_forward;
        if !run_stateless(ctx, a, last, sock, local, &mut copies, out, &mut fin) {
            fin.failures += 1;
            ctx.log(
                level::L_ERR,
                "a transaction function ran without the transaction layer; ignored",
            );
        }
    }
    ctx.actions = actions;
    fin
}

/// The index of the last stateless forward of a run (its copies may take
/// the script's edits instead of copying them).
pub(crate) fn last_forward(actions: &[Action]) -> Option<usize> {
    actions
        .iter()
        .rposition(|a| matches!(a, Action::Forward { .. }))
}

/// Carries out one stateless action (a reply or a forward); false for an
/// action of the transaction layer, which the caller handles.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_stateless(
    ctx: &mut MsgCtx<'_, '_>,
    a: &Action,
    last: bool,
    sock: u16,
    local: &Local,
    copies: &mut u32,
    out: &mut Vec<Send>,
    fin: &mut Finish,
) -> bool {
    match a {
        Action::Reply { code, reason } => {
            sl::run_reply(ctx, sock, local, *code, reason, out, fin);
        }
        Action::ReplyError => {
            let (code, reason) = sl::ERROR_REPLY;
            if sl::run_reply(ctx, sock, local, code, reason, out, fin) {
                crate::stats::count(crate::stats::Counter::SlErrReplies);
            }
        }
        Action::Forward { host, port, proto } => {
            let f = forward::Fwd {
                host: host.as_deref(),
                port: *port,
                proto: *proto,
                last,
                ruri: None,
            };
            forward::forward_request(ctx, sock, local, &f, copies, out, fin);
        }
        Action::Relay { .. } | Action::NewTran | Action::TReply { .. } => return false,
    }
    true
}

#[cfg(test)]
mod tests;
