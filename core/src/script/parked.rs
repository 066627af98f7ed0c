//! A message's script state without its borrows, so that a suspended run
//! (`sleep`, later a database answer or a question to another shard) can
//! wait in the shard's tables: [`MsgCtx::detach`] keeps everything the
//! script changed; [`Detached::attach`] puts it back over the message,
//! parsed again from the same bytes (edits are offsets into those bytes,
//! so they stay valid).

use std::net::SocketAddr;

use ser_cfg::ast::RouteKind;

use super::ctx::{Action, Avps, Branch, Config, LogSink, MsgCtx, Proto, Vars};
use crate::sip::builder::Edits;
use crate::sip::msg::SipMsg;

/// Everything [`MsgCtx`] owns.
#[derive(Debug)]
pub struct Detached {
    src: SocketAddr,
    dst: SocketAddr,
    proto: Proto,
    new_uri: Option<Vec<u8>>,
    dst_uri: Option<Vec<u8>>,
    flags: u64,
    bflags: u64,
    branches: Vec<Branch>,
    ruri_consumed: bool,
    avps: Avps,
    vars: Vars,
    edits: Edits,
    reply_headers: Vec<u8>,
    actions: Vec<Action>,
    force_rport: bool,
    rc: i32,
    log: LogSink,
    route_kind: RouteKind,
    msg_id: u64,
    routed_params: Option<Vec<u8>>,
    tm: crate::tm::TmCtx,
    rr_tail: Option<Vec<u8>>,
    auth: crate::auth::MsgAuth,
    ul_write: Option<std::sync::Arc<std::sync::atomic::AtomicU8>>,
    uri_exists: Option<std::sync::Arc<std::sync::atomic::AtomicU8>>,
    ul_read: Option<crate::registrar::persist::UlRead>,
    ul_reads: u8,
    avp_load: Option<crate::avpops::LoadSlot>,
}

impl MsgCtx<'_, '_> {
    /// Drops the borrows, keeps the state.
    pub fn detach(self) -> Detached {
        Detached {
            src: self.src,
            dst: self.dst,
            proto: self.proto,
            new_uri: self.new_uri,
            dst_uri: self.dst_uri,
            flags: self.flags,
            bflags: self.bflags,
            branches: self.branches,
            ruri_consumed: self.ruri_consumed,
            avps: self.avps,
            vars: self.vars,
            edits: self.edits,
            reply_headers: self.reply_headers,
            actions: self.actions,
            force_rport: self.force_rport,
            rc: self.rc,
            log: self.log,
            route_kind: self.route_kind,
            msg_id: self.msg_id,
            routed_params: self.routed_params,
            tm: self.tm,
            rr_tail: self.rr_tail,
            auth: self.auth,
            ul_write: self.ul_write,
            uri_exists: self.uri_exists,
            ul_read: self.ul_read,
            ul_reads: self.ul_reads,
            avp_load: self.avp_load,
        }
    }
}

impl Detached {
    /// Where the message came from.
    pub fn src(&self) -> SocketAddr {
        self.src
    }

    /// The state back over `msg`, which must be parsed from the same
    /// bytes as the message it was detached from.
    pub fn attach<'m, 'a>(self, msg: &'m SipMsg<'a>, config: &'m Config) -> MsgCtx<'m, 'a> {
        MsgCtx {
            msg,
            config,
            src: self.src,
            dst: self.dst,
            proto: self.proto,
            new_uri: self.new_uri,
            dst_uri: self.dst_uri,
            flags: self.flags,
            bflags: self.bflags,
            branches: self.branches,
            ruri_consumed: self.ruri_consumed,
            avps: self.avps,
            vars: self.vars,
            edits: self.edits,
            reply_headers: self.reply_headers,
            actions: self.actions,
            force_rport: self.force_rport,
            rc: self.rc,
            log: self.log,
            route_kind: self.route_kind,
            msg_id: self.msg_id,
            routed_params: self.routed_params,
            tm: self.tm,
            rr_tail: self.rr_tail,
            auth: self.auth,
            ul_write: self.ul_write,
            uri_exists: self.uri_exists,
            ul_read: self.ul_read,
            ul_reads: self.ul_reads,
            avp_load: self.avp_load,
        }
    }
}
