//! The `xmlrpc` module's script side: `dispatch_rpc()`.
//!
//! In SER 2.x the xmlrpc module reads XML-RPC requests that arrive as HTTP
//! `POST`/`GET` on the SIP port over TCP, and runs the route named by its
//! `route` parameter for them, where `dispatch_rpc()` answers them. This
//! router has no TCP transport yet, so no HTTP request reaches a script
//! and that route is never entered for one: the function exists so that
//! configs such as SER 2.0's default load, and it refuses (false, with a
//! log line) any SIP message that reaches it. The same RPC methods are
//! served by the binrpc control socket (`ctl`, `sercmd`, `kamcmd`).

use crate::script::{Args, MsgCtx, Ret, level};

/// `dispatch_rpc()`: false; see the module docs.
pub(crate) fn dispatch_rpc(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    ctx.log(
        level::L_ERR,
        "dispatch_rpc(): not an XML-RPC request (XML-RPC over HTTP needs TCP, which is not built; use the ctl socket)",
    );
    Ret::Code(-1)
}
