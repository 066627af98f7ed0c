//! Stateless local replies: the `sl` module's `sl_send_reply` and
//! `sl_reply_error`, `482 Loop Detected`, and `400 Bad Request` for
//! requests the parser refused ([`reject`]).
//!
//! A reply is built with [`build_reply`] (RFC 3261 8.2.6): the request's
//! Vias, From, To, Call-ID and CSeq (and Record-Route for 101..=299), then
//! the script's `append_to_reply` headers, `Server: ser (...)` when
//! `server_signature` is on, and the Warning header of `sip_warning`.
//!
//! - **To tag.** Replies above 100 get a To tag when the request's To has
//!   none: 16 hex digits of a keyed hash of the Call-ID, the From tag and
//!   the top Via branch, so that a retransmission gets the same tag (as
//!   Kamailio's sl does) and the ACK of the reply can be recognised
//!   ([`is_local_ack`]).
//! - **Via.** The top Via of the reply carries `received`/`rport` as RFC
//!   3261 18.2.1 and RFC 3581 ask of the server (the same values a
//!   forwarded request gets).
//! - **Destination** (RFC 3261 18.2.2 and RFC 3581, UDP): the source IP
//!   of the request; the source port if the top Via has `rport` or
//!   `force_rport()` was called, else the Via's sent-by port (5060 when
//!   absent). Sent from the socket the request arrived on.
//!
//! Differences from Kamailio: the reply is built after the script ends
//! (Kamailio sends it from inside `sl_send_reply`), so a later `drop`
//! decides whether it leaves; `sl_reply_error()` always answers `500
//! Server Internal Error`, since nothing records internal error codes
//! yet (Kamailio maps its last internal error to a code).

use core::net::SocketAddr;
use std::sync::OnceLock;

use crate::script::{Action, Args, MsgCtx, Ret, level};
use crate::sip::builder::build_reply;
use crate::sip::error::ParseError;
use crate::sip::header::HeaderName;
use crate::sip::lex;
use crate::sip::method::Method;
use crate::sip::msg::SipMsg;
use crate::sip::via::Via;
use crate::stats::{self, Counter};

use super::via::{self, KeyedHash, ViaFix};
use super::{Finish, Local, MAX_DATAGRAM, Send, warning};

/// What `sl_reply_error()` sends.
pub const ERROR_REPLY: (u16, &[u8]) = (500, b"Server Internal Error");

/// `Server: ser (0.1.0 (x86_64/linux))` CRLF, built once.
fn server_line() -> &'static [u8] {
    static LINE: OnceLock<Vec<u8>> = OnceLock::new();
    LINE.get_or_init(|| {
        format!(
            "Server: {} ({} ({}))\r\n",
            crate::version::NAME,
            crate::version::VERSION,
            crate::version::target()
        )
        .into_bytes()
    })
}

// ----- script functions -----

fn fail(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, msg: &str) -> Ret {
    let (_, name) = args.function();
    ctx.log(level::L_ERR, &format!("{name}(): {msg}"));
    Ret::Code(-1)
}

/// Whether the message can be replied to at all.
fn replyable(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Result<(), Ret> {
    match ctx.msg.method() {
        None => Err(fail(ctx, args, "cannot reply to a reply")),
        Some(Method::Ack) => Err(fail(ctx, args, "will not reply to an ACK")),
        Some(_) => Ok(()),
    }
}

/// `sl_send_reply(code, reason)` (SER 2.x `sl_reply`): records a
/// stateless reply, sent after the script. The code must be 100..=699 and
/// the reason free of CR and LF; false (-1) with a log otherwise.
pub(crate) fn sl_send_reply(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    if let Err(r) = replyable(ctx, args) {
        return r;
    }
    let code = match args.int(0, ctx) {
        Some(c) if (100..=699).contains(&c) => c as u16,
        Some(c) => return fail(ctx, args, &format!("bad status code {c} (100..699)")),
        None => {
            let t = args.bytes(0, ctx).unwrap_or_default();
            let t = String::from_utf8_lossy(&t).into_owned();
            return fail(ctx, args, &format!("bad status code `{t}`"));
        }
    };
    let reason = args.bytes(1, ctx).unwrap_or_default().into_owned();
    if reason.iter().any(|&b| b == b'\r' || b == b'\n') {
        return fail(ctx, args, "the reason phrase contains CR or LF");
    }
    ctx.actions.push(Action::Reply { code, reason });
    Ret::Code(1)
}

/// `sl_reply_error()`: records the reply for the last internal error
/// (always [`ERROR_REPLY`] here).
pub(crate) fn sl_reply_error(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    if let Err(r) = replyable(ctx, args) {
        return r;
    }
    ctx.actions.push(Action::ReplyError);
    Ret::Code(1)
}

/// `sl_filter_ACK()` (SER 0.8): SER ended the script for the ACK of a
/// reply sl sent. Here those ACKs never reach the script (the shard absorbs
/// them), so every message that gets here passes: true (1).
pub(crate) fn sl_filter_ack(_ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    Ret::Code(1)
}

// ----- building -----

/// The To tag of our local replies to `msg` (see the module docs).
pub fn to_tag(msg: &SipMsg<'_>, secret: u64) -> [u8; 16] {
    let mut h = KeyedHash::new(secret ^ 0x736c_5f74_6167);
    h.bytes(msg.call_id().unwrap_or(b""))
        .bytes(via::from_tag(msg))
        .bytes(msg.via1().ok().and_then(Via::branch).unwrap_or(b""));
    via::hex16(h.finish())
}

/// Whether `msg` is the ACK of a local reply (its To tag is the one we
/// gave): the shard may absorb it, as Kamailio's sl does.
pub fn is_local_ack(msg: &SipMsg<'_>, local: &Local) -> bool {
    msg.method() == Some(Method::Ack)
        && msg
            .to()
            .ok()
            .and_then(|t| t.tag())
            .is_some_and(|t| t == to_tag(msg, local.secret))
}

/// Where a reply to a request from `src` goes (see the module docs).
pub(crate) fn reply_destination(
    top: Option<&Via<'_>>,
    src: SocketAddr,
    force_rport: bool,
) -> SocketAddr {
    match top {
        Some(v) if !(force_rport || v.rport().is_some()) => {
            SocketAddr::new(src.ip(), v.port.unwrap_or(5060))
        }
        _ => src,
    }
}

/// The request facts a local reply needs.
pub(crate) struct ReplyTo<'m, 'a> {
    pub(crate) msg: &'m SipMsg<'a>,
    pub(crate) src: SocketAddr,
    pub(crate) force_rport: bool,
    /// The current Request-URI (for the Warning header).
    pub(crate) out_uri: &'m [u8],
    /// `append_to_reply` lines.
    pub(crate) extra: &'m [u8],
}

/// Builds a local reply and the address it goes to.
pub(crate) fn build_local_reply(
    r: &ReplyTo<'_, '_>,
    sock: u16,
    local: &Local,
    code: u16,
    reason: &[u8],
) -> Result<Send, String> {
    let msg = r.msg;
    let mut extra = Vec::with_capacity(r.extra.len() + 256);
    extra.extend_from_slice(r.extra);
    if !extra.is_empty() && !extra.ends_with(b"\n") {
        extra.extend_from_slice(b"\r\n");
    }
    if local.server_signature {
        extra.extend_from_slice(server_line());
    }
    if local.sip_warning
        && let Some(s) = local.socket(sock)
    {
        let vias = msg.vias().map_or(0, <[Via<'_>]>::len);
        warning::push_line(
            &mut extra,
            s,
            r.src,
            msg.ruri_bytes().unwrap_or(b""),
            r.out_uri,
            vias,
        );
    }
    let tag = (code > 100).then(|| to_tag(msg, local.secret));
    let mut data = Vec::with_capacity(msg.headers_end() + extra.len() + 64);
    build_reply(
        msg,
        code,
        reason,
        tag.as_ref().map(|t| &t[..]),
        &extra,
        b"",
        &mut data,
    )
    .map_err(|e| format!("cannot build the {code} reply: {e}"))?;
    if let Some(fix) = via::via_fix(msg, r.src, r.force_rport) {
        fix_reply_via(msg, &fix, &mut data);
    }
    if data.len() > MAX_DATAGRAM {
        return Err(format!("{code} reply too long ({} bytes)", data.len()));
    }
    let top = msg.via1().ok();
    Ok(Send {
        sock,
        dst: reply_destination(top, r.src, r.force_rport),
        data,
    })
}

/// Adds `received`/`rport` to the top Via of a reply built by
/// [`build_reply`], which copies the first Via header right after the
/// status line as `name: value` CRLF.
fn fix_reply_via(msg: &SipMsg<'_>, fix: &ViaFix, data: &mut Vec<u8>) {
    let Some(h) = msg.header(HeaderName::Via) else {
        return;
    };
    let Some(line_end) = memchr::memchr(b'\n', data) else {
        return;
    };
    let at = line_end + 1 + msg.name_of(h).len() + 2;
    fix.apply_to_copy(data, at, msg.value_of(h), h.value_span.start as usize);
}

/// Carries out a reply action: builds and queues it (true), or logs why
/// not. Counted in the `sl` statistics either way.
pub(crate) fn run_reply(
    ctx: &mut MsgCtx<'_, '_>,
    sock: u16,
    local: &Local,
    code: u16,
    reason: &[u8],
    out: &mut Vec<Send>,
    fin: &mut Finish,
) -> bool {
    let r = ReplyTo {
        msg: ctx.msg,
        src: ctx.src,
        force_rport: ctx.force_rport,
        out_uri: ctx.ruri(),
        extra: &ctx.reply_headers,
    };
    match build_local_reply(&r, sock, local, code, reason) {
        Ok(s) => {
            fin.replies += 1;
            stats::count_sl_reply(code);
            out.push(s);
            true
        }
        Err(e) => {
            fin.failures += 1;
            stats::count(Counter::SlFailures);
            ctx.log(level::L_ERR, &format!("sl: {e}"));
            false
        }
    }
}

// ----- requests the parser refused -----

/// Header lines copied into a `400` for a message that does not parse.
const COPIED: &[&[u8]] = &[
    b"via", b"v", b"from", b"f", b"to", b"t", b"call-id", b"i", b"cseq",
];

/// Whether the first line of a datagram looks like a request line
/// (`token SP ... SIP/`): garbage and keep-alives get no answer.
fn looks_like_request(data: &[u8]) -> bool {
    let first = data.split(|&b| b == b'\n').next().unwrap_or(b"");
    let Some(sp) = memchr::memchr(b' ', first) else {
        return false;
    };
    sp > 0
        && first
            .get(..sp)
            .is_some_and(|m| m.iter().all(|&b| lex::is_token(b)))
        && memchr::memmem::find(first, b"SIP/").is_some()
}

/// A request the parser refused: a `400 Bad Request` whose reason names
/// the fault ([`ParseError::reason`]), sent back to the source per the
/// top Via (as [`build_local_reply`] does) if it could be read, else to
/// `src`. A reply, an ACK, a datagram whose first line is not a request
/// line and a source with port 0 get nothing. Returns whether a reply was
/// queued.
///
/// When the message still indexes (a header's inner structure is
/// broken), the reply is built as any local reply (with a To tag). When
/// it does not, the Via, From, To, Call-ID and CSeq lines are copied as
/// they are (each a single line of printable bytes), without a To tag.
pub fn reject(
    data: &[u8],
    err: &ParseError,
    src: SocketAddr,
    sock: u16,
    local: &Local,
    out: &mut Vec<Send>,
) -> bool {
    reject_with(data, 400, err.reason().as_bytes(), src, sock, local, out)
}

/// [`reject`] with another status: e.g. `513 Message Too Large` for a
/// datagram longer than the receive buffer (only its start arrived).
/// `reason` must be one line of printable text. A reply queued is counted
/// in the `sl` statistics (and as an error reply).
pub fn reject_with(
    data: &[u8],
    code: u16,
    reason: &[u8],
    src: SocketAddr,
    sock: u16,
    local: &Local,
    out: &mut Vec<Send>,
) -> bool {
    let queued = reject_reply(data, code, reason, src, sock, local, out);
    if queued {
        stats::count_sl_reply(code);
        stats::count(Counter::SlErrReplies);
    }
    queued
}

fn reject_reply(
    data: &[u8],
    code: u16,
    reason: &[u8],
    src: SocketAddr,
    sock: u16,
    local: &Local,
    out: &mut Vec<Send>,
) -> bool {
    if src.port() == 0 || data.starts_with(b"ACK ") || !looks_like_request(data) {
        return false;
    }
    if !(400..=699).contains(&code) || reason.iter().any(|&b| b < b' ' || b == 0x7f) {
        return false;
    }
    // A message that indexes (a header inside is broken).
    if let Ok(msg) = SipMsg::parse(data) {
        if !msg.is_request() || msg.method() == Some(Method::Ack) {
            return false;
        }
        let r = ReplyTo {
            msg: &msg,
            src,
            force_rport: false,
            out_uri: msg.ruri_bytes().unwrap_or(b""),
            extra: b"",
        };
        return match build_local_reply(&r, sock, local, code, reason) {
            Ok(s) => {
                out.push(s);
                true
            }
            Err(_) => false,
        };
    }
    // The start line or the header block is broken: copy the lines a
    // client needs to match the reply.
    let mut lines = Vec::new();
    let mut top: Option<Option<(bool, Option<u16>)>> = None;
    // Vias copied so far: a reply must not carry more than a parser takes
    // (the request may have been refused for having too many).
    let mut vias = 0usize;
    let head_end = memchr::memmem::find(data, b"\r\n\r\n").map_or(data.len(), |i| i + 2);
    let head = data.get(..head_end).unwrap_or(data);
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = lex::trim(line.get(..colon).unwrap_or(b""));
        let value = lex::trim(line.get(colon + 1..).unwrap_or(b""));
        if !COPIED.iter().any(|n| n.eq_ignore_ascii_case(name))
            || value.is_empty()
            || value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f)
            || lines.len() + line.len() > 8192
        {
            continue;
        }
        let is_via = name.eq_ignore_ascii_case(b"via") || name.eq_ignore_ascii_case(b"v");
        if is_via {
            vias += value.iter().filter(|&&b| b == b',').count() + 1;
            if vias > crate::sip::Limits::DEFAULT.max_vias {
                continue;
            }
        }
        if top.is_none() && is_via {
            let first = value.split(|&b| b == b',').next().unwrap_or(value);
            top = Some(
                Via::parse(first, &crate::sip::Limits::DEFAULT)
                    .ok()
                    .map(|v| (v.rport().is_some(), v.port)),
            );
        }
        lines.extend_from_slice(name);
        lines.extend_from_slice(b": ");
        lines.extend_from_slice(value);
        lines.extend_from_slice(b"\r\n");
    }
    let mut reply = Vec::with_capacity(lines.len() + reason.len() + 96);
    reply.extend_from_slice(b"SIP/2.0 ");
    super::via::push_dec(&mut reply, u32::from(code));
    reply.push(b' ');
    reply.extend_from_slice(reason);
    reply.extend_from_slice(b"\r\n");
    reply.extend_from_slice(&lines);
    if local.server_signature {
        reply.extend_from_slice(server_line());
    }
    reply.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    let dst = match top.flatten() {
        Some((false, via_port)) => SocketAddr::new(src.ip(), via_port.unwrap_or(5060)),
        _ => src,
    };
    out.push(Send {
        sock,
        dst,
        data: reply,
    });
    true
}
