//! Stateless forwarding of requests (`forward()`) and replies (RFC 3261
//! 16.11), and the choice of destination.
//!
//! # Requests
//!
//! The destination of `forward(host, port)` is the host and port given,
//! else the destination URI (`$du`), else the current Request-URI; the
//! port defaults to 5060 (5061 for `sips:`). The host must be an IP
//! literal or `localhost`: the shard thread never blocks, and there is no
//! asynchronous resolver yet, so a name fails with `cannot resolve <name>:
//! DNS is not built yet`. Only UDP is built; a `transport=` parameter, a
//! `sips:` URI or `forward_tcp`/`forward_tls` fail with "not supported
//! yet". The `maddr` URI parameter is not honoured (Kamailio's `forward`
//! ignores it too).
//!
//! The forwarded bytes are the received message with the script's edits,
//! the new Request-URI (if the script changed it), our Via on top (see
//! [`super::via`]) and `received`/`rport` on the previous top Via.
//!
//! **Stateless forking.** `forward()` without a host sends one copy per
//! entry of the destination set: the Request-URI (unless `append_branch()`
//! consumed it) and every branch added by `append_branch`/`lookup`, each
//! with its own Request-URI, destination URI and Via branch. (Kamailio's
//! `forward()` sends the Request-URI branch only; forking there needs tm.)
//! `forward(host, port)` with an explicit host sends the Request-URI copy
//! only.
//!
//! **Loops.** A request that carries one of our Vias with the loop value
//! computed now (RFC 3261 16.3 item 4) is answered `482 Loop Detected`
//! (an ACK is dropped) instead of being forwarded.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::script::{Config, MsgCtx, Proto, level};
use crate::sip::builder::Edits;
use crate::sip::host::{parse_v4, parse_v6};
use crate::sip::method::Method;
use crate::sip::msg::SipMsg;
use crate::sip::uri::Uri;
use crate::sip::via::ViaTransport;

use super::via::{self, ViaFix};
use super::{Dropped, Finish, Local, MAX_DATAGRAM, Send, sl};

/// One `Action::Forward`, borrowed.
pub(crate) struct Fwd<'x> {
    pub(crate) host: Option<&'x [u8]>,
    pub(crate) port: Option<u16>,
    pub(crate) proto: Option<Proto>,
    /// The last forward of the run: the script's edits may be moved
    /// instead of copied for its last copy.
    pub(crate) last: bool,
    /// Whether the Request-URI copy goes out (`None`: the usual rule, see
    /// [`with_ruri`]); a `failure_route` sends its appended branches only.
    pub(crate) ruri: Option<bool>,
}

/// Whether the Request-URI is one of the copies: an explicit host sends
/// only it; otherwise it goes unless `append_branch()` consumed it (and
/// always when there is no other branch).
pub(crate) fn with_ruri(ctx: &MsgCtx<'_, '_>, fwd: &Fwd<'_>) -> bool {
    fwd.host.is_some()
        || fwd
            .ruri
            .unwrap_or(!ctx.ruri_consumed || ctx.branches.is_empty())
}

/// Checks, before anything is sent, that at least one copy of the
/// destination set has a destination this router can send to (an IP
/// literal or `localhost`, over UDP, with a socket of its address
/// family); the error names the first failure. `t_relay` uses it to
/// return false at once, as in SER.
pub(crate) fn check_destinations(ctx: &MsgCtx<'_, '_>, fwd: &Fwd<'_>) -> Result<(), String> {
    let msg = ctx.msg;
    let received_uri = msg.ruri_bytes().unwrap_or(b"");
    let mut first_err = None;
    let ruri = with_ruri(ctx, fwd).then_some((ctx.new_uri.as_deref(), ctx.dst_uri.as_deref()));
    let branches = ctx
        .branches
        .iter()
        .filter(|_| fwd.host.is_none())
        .map(|b| (Some(&b.uri[..]), b.dst_uri.as_deref()));
    for (uri, du) in ruri.into_iter().chain(branches) {
        match destination(fwd, msg, du, uri.unwrap_or(received_uri)) {
            Ok(_) => return Ok(()),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or_else(|| "no destination to relay to".into()))
}

/// The address a host names, without DNS: an IPv4 literal, an IPv6
/// literal (with or without brackets) or `localhost`.
pub fn literal_ip(host: &[u8]) -> Result<IpAddr, String> {
    let inner = host
        .strip_prefix(b"[")
        .and_then(|x| x.strip_suffix(b"]"))
        .unwrap_or(host);
    if let Some(a) = parse_v4(inner) {
        return Ok(IpAddr::V4(a));
    }
    if let Some(a) = parse_v6(inner) {
        return Ok(IpAddr::V6(a));
    }
    let name = host.strip_suffix(b".").unwrap_or(host);
    if name.eq_ignore_ascii_case(b"localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    Err(format!(
        "cannot resolve {}: DNS is not built yet",
        String::from_utf8_lossy(host)
    ))
}

fn proto_ok(p: Proto) -> Result<(), String> {
    match p {
        Proto::Udp => Ok(()),
        other => Err(format!(
            "forwarding over {} is not supported yet (UDP only)",
            other.as_str()
        )),
    }
}

/// The destination of a URI (`sip:`/`sips:` with a host), with the port
/// and transport of a `forward(...)` overriding the URI's.
fn uri_destination(
    uri: &[u8],
    msg: &SipMsg<'_>,
    port: Option<u16>,
    proto: Option<Proto>,
) -> Result<SocketAddr, String> {
    let shown = || String::from_utf8_lossy(uri).into_owned();
    let u = Uri::parse(uri, msg.limits()).map_err(|e| format!("bad URI {}: {e}", shown()))?;
    let Some(host) = u.host() else {
        return Err(format!("cannot forward to {}: no host", shown()));
    };
    let proto = match proto {
        Some(p) => p,
        None if u.is_sips() => Proto::Tls,
        None => match u.transport() {
            None => Proto::Udp,
            Some(t) => Proto::parse(t).ok_or_else(|| {
                format!(
                    "forwarding over {} is not supported yet (UDP only)",
                    String::from_utf8_lossy(t)
                )
            })?,
        },
    };
    proto_ok(proto)?;
    let ip = match host.ip() {
        Some(ip) => ip,
        None => literal_ip(match host {
            crate::sip::Host::Name(n) => n,
            _ => b"",
        })?,
    };
    Ok(SocketAddr::new(
        ip,
        port.unwrap_or_else(|| u.port_or_default()),
    ))
}

/// The destination of one copy: the explicit host of the action, else
/// `du`, else `uri`.
fn destination(
    fwd: &Fwd<'_>,
    msg: &SipMsg<'_>,
    du: Option<&[u8]>,
    uri: &[u8],
) -> Result<SocketAddr, String> {
    match fwd.host {
        Some(h) if h.len() > 4 && (h.starts_with(b"sip:") || h.starts_with(b"sips:")) => {
            uri_destination(h, msg, fwd.port, fwd.proto)
        }
        Some(h) => {
            proto_ok(fwd.proto.unwrap_or(Proto::Udp))?;
            Ok(SocketAddr::new(literal_ip(h)?, fwd.port.unwrap_or(5060)))
        }
        None => uri_destination(du.unwrap_or(uri), msg, fwd.port, fwd.proto),
    }
}

/// Carries out one `Action::Forward`. `copies` numbers the copies sent
/// for this request so far (each gets its own Via branch).
pub(crate) fn forward_request(
    ctx: &mut MsgCtx<'_, '_>,
    sock: u16,
    local: &Local,
    fwd: &Fwd<'_>,
    copies: &mut u32,
    out: &mut Vec<Send>,
    fin: &mut Finish,
) {
    let mut built = Vec::new();
    build_copies(ctx, sock, local, fwd, copies, out, &mut built, fin);
    crate::stats::count_n(crate::stats::Counter::FwdRequests, built.len() as u64);
    out.extend(built.into_iter().map(|c| c.send));
}

/// One copy of a forwarded request, built.
#[derive(Debug)]
pub(crate) struct Built {
    pub(crate) send: Send,
    /// The branch of our Via in it.
    pub(crate) branch: Vec<u8>,
}

/// Builds the copies of one forward (see [`forward_request`]) into
/// `built`, without sending them; local replies (`482`, `483`) go to
/// `out`. The transaction layer sends and keeps them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_copies(
    ctx: &mut MsgCtx<'_, '_>,
    sock: u16,
    local: &Local,
    fwd: &Fwd<'_>,
    copies: &mut u32,
    out: &mut Vec<Send>,
    built: &mut Vec<Built>,
    fin: &mut Finish,
) {
    let msg = ctx.msg;
    if let Err(e) = msg.via1() {
        ctx.log(
            level::L_ERR,
            &format!("forward: cannot forward a request with a bad Via ({e})"),
        );
        fin.failures += 1;
        return;
    }
    let lp = via::loop_hash(msg, local.secret);
    if via::has_looped(msg, local, ctx.config, lp) {
        if msg.method() == Some(Method::Ack) {
            ctx.log(level::L_ERR, "forward: ACK loop detected, dropped");
            fin.failures += 1;
        } else {
            ctx.log(
                level::L_ERR,
                "forward: loop detected (our Via with the same loop value), replying 482",
            );
            sl::run_reply(ctx, sock, local, 482, b"Loop Detected", out, fin);
        }
        return;
    }
    // Our Via must not take the message over the Via limit that we (and
    // so likely the next hop) parse: that many hops is a loop.
    let vias = match msg.vias() {
        Ok(v) => v.len(),
        Err(e) => {
            ctx.log(
                level::L_ERR,
                &format!("forward: cannot forward a request with a bad Via ({e})"),
            );
            fin.failures += 1;
            return;
        }
    };
    if vias >= msg.limits().max_vias {
        if msg.method() == Some(Method::Ack) {
            ctx.log(level::L_ERR, "forward: ACK with too many Vias, dropped");
            fin.failures += 1;
        } else {
            ctx.log(
                level::L_ERR,
                "forward: no room for our Via (too many Vias), replying 483",
            );
            sl::run_reply(ctx, sock, local, 483, b"Too Many Hops", out, fin);
        }
        return;
    }

    // The destination set: the Request-URI copy (index `None`) and the
    // appended branches, read in place.
    let with_ruri = with_ruri(ctx, fwd);
    let n_branches = if fwd.host.is_none() {
        ctx.branches.len()
    } else {
        0
    };
    let set = with_ruri
        .then_some(None)
        .into_iter()
        .chain((0..n_branches).map(Some));
    let n = usize::from(with_ruri) + n_branches;

    let txn = via::txn_hash(msg, local.secret);
    let fix = via::via_fix(msg, ctx.src, ctx.force_rport);
    let received_uri = msg.ruri_bytes().unwrap_or(b"");
    // The last forward of the run moves the script's edits into its last
    // copy instead of copying them.
    let mut moved = fwd.last.then(|| core::mem::take(&mut ctx.edits));
    // ...and gives them back afterwards, so that their allocation is
    // reused for the next message (`MsgCtx::recycle`).
    let mut spare: Option<Edits> = None;
    let mut errors = Vec::new();
    for (k, which) in set.enumerate() {
        let index = *copies;
        *copies += 1;
        let (new_uri, du) = match which {
            None => (ctx.new_uri.as_deref(), ctx.dst_uri.as_deref()),
            Some(i) => match ctx.branches.get(i) {
                Some(b) => (Some(&b.uri[..]), b.dst_uri.as_deref()),
                None => continue,
            },
        };
        let uri = new_uri.unwrap_or(received_uri);
        let r = destination(fwd, msg, du, uri).and_then(|dst| {
            let out_sock = local
                .pick_socket(sock, &dst)
                .ok_or_else(|| format!("no socket to send to {dst} from"))?;
            let edits = match moved.take() {
                Some(e) if k + 1 == n => e,
                Some(e) => {
                    let copy = e.clone();
                    moved = Some(e);
                    copy
                }
                None => ctx.edits.clone(),
            };
            let mut edits = edits;
            let branch = via::branch(txn, index, lp);
            // Leaving from another socket than the one it came in on: a
            // second Record-Route with this socket's address, on top.
            if let Some(tail) = &ctx.rr_tail
                && let Some(out) = local.socket(out_sock)
                && out.addr != ctx.dst
            {
                edits
                    .add_record_route_top(msg, &super::rr::rr_value(out.addr, tail))
                    .map_err(|e| format!("cannot add the Record-Route: {e}"))?;
            }
            let data = build_request(
                msg,
                &mut edits,
                new_uri,
                local,
                out_sock,
                &branch,
                fix.as_ref(),
            );
            spare = Some(edits);
            let data = data?;
            Ok(Built {
                send: Send {
                    sock: out_sock,
                    dst,
                    data,
                },
                branch,
            })
        });
        match r {
            Ok(c) => {
                fin.forwards += 1;
                built.push(c);
            }
            Err(e) => {
                fin.failures += 1;
                errors.push(e);
            }
        }
    }
    if fwd.last
        && let Some(e) = spare
    {
        ctx.edits = e;
    }
    for e in errors {
        ctx.log(level::L_ERR, &format!("forward: {e}"));
    }
}

/// The bytes of one forwarded copy.
#[allow(clippy::too_many_arguments)]
fn build_request(
    msg: &SipMsg<'_>,
    edits: &mut Edits,
    new_uri: Option<&[u8]>,
    local: &Local,
    out_sock: u16,
    branch: &[u8],
    fix: Option<&ViaFix>,
) -> Result<Vec<u8>, String> {
    let sock = local
        .socket(out_sock)
        .ok_or_else(|| format!("no socket {out_sock}"))?;
    let berr = |e: crate::sip::builder::BuildError| format!("cannot build the request: {e}");
    if let Some(u) = new_uri
        && Some(u) != msg.ruri_bytes()
    {
        edits.set_ruri(msg, u).map_err(berr)?;
    }
    edits
        .push_via(msg, &via::via_value(sock, branch))
        .map_err(berr)?;
    if let Some(f) = fix {
        f.apply(edits).map_err(berr)?;
    }
    // `build` reserves the exact room once.
    let mut data = Vec::new();
    edits.build(msg, &mut data).map_err(berr)?;
    if data.len() > MAX_DATAGRAM {
        return Err(format!(
            "message too long to send ({} bytes, at most {MAX_DATAGRAM})",
            data.len()
        ));
    }
    Ok(data)
}

/// A reply received (after `onreply_route`, if any, did not drop it):
/// stateless forwarding by the second Via (RFC 3261 16.11, 18.2.2 with
/// RFC 3581). The top Via must be ours; it is removed (with the script's
/// `edits`) and the reply goes to the second Via's `received` address (or
/// its sent-by host, which must then be an IP literal or `localhost`),
/// port `rport` if it has a value, else the sent-by port (default 5060).
/// The removal of our Via is added to `edits`.
pub fn forward_reply(
    msg: &SipMsg<'_>,
    edits: &mut Edits,
    config: &Config,
    local: &Local,
    arrived_on: u16,
    out: &mut Vec<Send>,
) -> Result<(), Dropped> {
    let vias = msg.vias().map_err(|e| Dropped::BadVia(e.to_string()))?;
    let top = vias
        .first()
        .ok_or_else(|| Dropped::BadVia("no Via".into()))?;
    if !via::is_ours(top, local, config) {
        return Err(Dropped::NotOurVia);
    }
    let second = vias.get(1).ok_or(Dropped::NoSecondVia)?;
    if second.transport != ViaTransport::Udp {
        return Err(Dropped::Transport(
            String::from_utf8_lossy(second.transport.as_bytes()).into_owned(),
        ));
    }
    let ip = match (second.received_ip(), second.host.ip()) {
        (Some(ip), _) | (None, Some(ip)) => ip,
        (None, None) => {
            let host = second.host.to_string();
            literal_ip(host.as_bytes()).map_err(|_| Dropped::NotAnIp(host))?
        }
    };
    let port = match second.rport() {
        Some(Some(p)) => p,
        _ => second.port.unwrap_or(5060),
    };
    let dst = SocketAddr::new(ip, port);
    let sock = local
        .pick_socket(arrived_on, &dst)
        .ok_or(Dropped::NoSocket(dst))?;
    edits
        .remove_top_via(msg)
        .map_err(|e| Dropped::Build(e.to_string()))?;
    let mut data = Vec::new();
    edits
        .build(msg, &mut data)
        .map_err(|e| Dropped::Build(e.to_string()))?;
    if data.len() > MAX_DATAGRAM {
        return Err(Dropped::TooLong(data.len()));
    }
    out.push(Send { sock, dst, data });
    Ok(())
}
