//! The `rr` module: record-routing and loose routing (RFC 3261 12.2.1.1,
//! 16.4, 16.6 step 4, 16.12), and `has_totag` (SER's `uri` module,
//! Kamailio's `siputils`).
//!
//! # Record-Route
//!
//! `record_route()` adds `Record-Route: <sip:HOST:PORT;lr;ftag=TAG>` as
//! the first header, so that it is the topmost Record-Route (16.6 step
//! 4). HOST:PORT is the local address the request arrived on (IPv6 in
//! brackets, as in our Via); a transport other than UDP adds
//! `;transport=`. `modparam("rr", "enable_full_lr", 1)` writes `;lr=on`
//! for user agents that drop a valueless `lr`;
//! `modparam("rr", "append_fromtag", 0)` leaves out `;ftag=` (on by
//! default, as in SER and Kamailio; nothing is added when the From has no
//! tag). `record_route(";p=v")` appends the parameters (a missing leading
//! `;` is added) after the ftag.
//!
//! `record_route_preset("host:port;params")` writes the given text as the
//! URI (with `sip:` in front unless it starts with `sip:`/`sips:`), then
//! `;lr` and the ftag: `<sip:TEXT;lr;ftag=TAG>`. With a second argument
//! two Record-Routes are added, `<sip:FIRST;r2=on;lr...>` above
//! `<sip:SECOND;r2=on;lr...>` (Kamailio's double Record-Route for two
//! interfaces).
//!
//! # loose_route
//!
//! With no Route header: false (-1). Otherwise:
//!
//! 1. **Strict previous hop** (16.4): when the Request-URI is ours
//!    (`myself`, host and port, 5060 by default) and has no user part
//!    (our Record-Routes never have one), a strict router put our
//!    Record-Route there: the last Route value becomes the Request-URI and
//!    is removed. (Not when that value is ours too.)
//! 2. If the top Route names us, it is removed; a second one of ours right
//!    below it (a double Record-Route) is removed too.
//! 3. The next Route, if any, is the next hop: with `lr` it becomes `$du`
//!    and the Request-URI stays; without `lr` (a strict router, 16.12.1.2
//!    / 12.2.1.1) the Request-URI is appended as the last Route value and
//!    the Route URI becomes the Request-URI (its value removed).
//!
//! Returns true (1) when a Route set was followed; false (-1) when there
//! was no Route, when the Route headers cannot be parsed, and (as
//! Kamailio) when an out-of-dialog request (no To tag) carried only our
//! own Route ("preloaded"), which is removed.
//!
//! `check_route_param(re)` matches the regex against the URI parameters
//! (with their leading `;`, e.g. `;lr;ftag=a1;nat=yes`) of the entry of
//! ours that `loose_route()` consumed in this run: the top Route, or the
//! Request-URI in the strict-previous-hop case. False when
//! `loose_route()` did not consume one of ours.
//!
//! `has_totag()` is true when the To header has a non-empty tag.
//!
//! Edits: Route lines that lose values are rewritten (their remaining
//! values joined by `, `) or removed; other lines are kept as received.
//! The new Request-URI and `$du` go through `ctx.new_uri` and
//! `ctx.dst_uri`, as the core actions do. Calling `loose_route()` twice in
//! one run is not supported (the second edits overlap the first and the
//! forward fails with a log line).

use crate::script::{Args, MsgCtx, Proto, Ret, level};
use crate::sip::addr::NameAddr;
use crate::sip::error::Where;
use crate::sip::header::HeaderName;
use crate::sip::lex::CommaSplit;
use crate::sip::msg::HeaderField;
use crate::sip::uri::Uri;

use super::host_text;

fn log(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, msg: &str) {
    let (_, name) = args.function();
    ctx.log(level::L_ERR, &format!("{name}(): {msg}"));
}

/// Whether a URI names this router (host and port, the port defaulting
/// to 5060/5061 as RFC 3263 would).
fn uri_is_myself(ctx: &MsgCtx<'_, '_>, uri: &Uri<'_>) -> bool {
    uri.is_sip()
        && uri
            .host()
            .is_some_and(|h| ctx.config.is_myself(&h, Some(uri.port_or_default())))
}

/// The URI parameters of `uri` with their leading `;` (empty if none).
fn params_of(uri: &Uri<'_>) -> Vec<u8> {
    let p = uri.params_raw();
    if p.is_empty() {
        return Vec::new();
    }
    let mut v = Vec::with_capacity(p.len() + 1);
    v.push(b';');
    v.extend_from_slice(p);
    v
}

// ----- Record-Route -----

/// `;lr` or `;lr=on`, then `;ftag=<From tag>` when asked for and present.
fn push_lr_ftag(ctx: &mut MsgCtx<'_, '_>, v: &mut Vec<u8>) {
    v.extend_from_slice(if ctx.config.rr_full_lr {
        b";lr=on"
    } else {
        b";lr"
    });
    if ctx.config.rr_append_fromtag
        && let Some(tag) = ctx.msg.from().ok().and_then(NameAddr::tag)
        && !tag.is_empty()
    {
        v.extend_from_slice(b";ftag=");
        v.extend_from_slice(tag);
    }
    if let Some(c) = &ctx.config.rr_cookies {
        let (cookie, left_out) = c.encode(ctx.avps.flagged(c.mask));
        if left_out > 0 {
            ctx.log(
                crate::script::level::L_WARN,
                &format!(
                    "record_route(): {left_out} dialog-cookie AVPs do not fit the cookie; left out"
                ),
            );
        }
        if let Some(cookie) = cookie {
            v.push(b';');
            v.extend_from_slice(c.param_name.as_bytes());
            v.push(b'=');
            v.extend_from_slice(cookie.as_bytes());
        }
    }
}

/// Restores the AVPs of a dialog cookie found in the parameters of the
/// Route entry of ours that `loose_route()` consumed.
fn restore_cookie(ctx: &mut MsgCtx<'_, '_>, params: &[u8]) {
    let Some(c) = ctx.config.rr_cookies.clone() else {
        return;
    };
    let Some(text) = super::rr_cookie::param(params, &c.param_name) else {
        return;
    };
    match c.decode(text) {
        Ok(items) => {
            for it in items {
                if !ctx.avps.add_item(it) {
                    break;
                }
            }
        }
        Err(why) => ctx.log(
            crate::script::level::L_WARN,
            &format!("loose_route(): dialog cookie ignored ({why})"),
        ),
    }
}

/// Text a script may put inside our Record-Route URI: printable, without
/// the bytes that would end the URI or the header value.
fn uri_text_ok(s: &[u8]) -> bool {
    s.iter()
        .all(|&b| b > b' ' && b < 0x7f && !matches!(b, b'<' | b'>' | b',' | b'"'))
}

/// Whether the function may add a Record-Route to this message.
fn rr_allowed(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> bool {
    if ctx.msg.method().is_none() {
        log(ctx, args, "cannot record-route a reply");
        return false;
    }
    true
}

fn insert_rr(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, value: &[u8]) -> Ret {
    let msg = ctx.msg;
    match ctx.edits.add_record_route(msg, value) {
        Ok(()) => Ret::Code(1),
        Err(e) => {
            log(ctx, args, &format!("cannot add the Record-Route: {e}"));
            Ret::Code(-1)
        }
    }
}

/// `record_route()` / `record_route(params)`: see the module docs.
pub(crate) fn record_route(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    if !rr_allowed(ctx, args) {
        return Ret::Code(-1);
    }
    let extra = if args.is_empty() {
        Vec::new()
    } else {
        args.bytes(0, ctx).unwrap_or_default().into_owned()
    };
    if !uri_text_ok(&extra) {
        log(ctx, args, "the parameters hold bytes a URI cannot carry");
        return Ret::Code(-1);
    }
    let mut tail = Vec::with_capacity(64 + extra.len());
    if ctx.proto != Proto::Udp {
        tail.extend_from_slice(b";transport=");
        tail.extend_from_slice(ctx.proto.as_str().as_bytes());
    }
    push_lr_ftag(ctx, &mut tail);
    if !extra.is_empty() {
        if extra.first() != Some(&b';') {
            tail.push(b';');
        }
        tail.extend_from_slice(&extra);
    }
    tail.push(b'>');
    let v = rr_value(ctx.dst, &tail);
    let r = insert_rr(ctx, args, &v);
    if matches!(r, Ret::Code(1)) {
        ctx.rr_tail = Some(tail);
    }
    r
}

/// `<sip:IP:PORT` followed by `tail`.
pub(crate) fn rr_value(addr: std::net::SocketAddr, tail: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(56 + tail.len());
    v.extend_from_slice(b"<sip:");
    match addr.ip() {
        ip @ std::net::IpAddr::V4(_) => super::via::push_ip(&mut v, ip),
        ip => v.extend_from_slice(host_text(ip).as_bytes()),
    }
    v.push(b':');
    super::via::push_dec(&mut v, u32::from(addr.port()));
    v.extend_from_slice(tail);
    v
}

/// One preset Record-Route value: `<sip:TEXT[;r2=on];lr[;ftag=...]>`.
fn preset_value(ctx: &mut MsgCtx<'_, '_>, text: &[u8], r2: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(text.len() + 48);
    v.push(b'<');
    let starts = |p: &[u8]| {
        text.len() > p.len()
            && text
                .get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    let has_scheme = starts(b"sip:") || starts(b"sips:");
    if !has_scheme {
        v.extend_from_slice(b"sip:");
    }
    v.extend_from_slice(text);
    if r2 {
        v.extend_from_slice(b";r2=on");
    }
    push_lr_ftag(ctx, &mut v);
    v.push(b'>');
    v
}

/// `record_route_preset(text)` / `record_route_preset(text, text2)`: see
/// the module docs.
pub(crate) fn record_route_preset(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    if !rr_allowed(ctx, args) {
        return Ret::Code(-1);
    }
    let mut texts = Vec::with_capacity(2);
    for i in 0..args.len().min(2) {
        let t = args.bytes(i, ctx).unwrap_or_default().into_owned();
        if t.is_empty() || !uri_text_ok(&t) {
            log(
                ctx,
                args,
                "expects host[:port][;params] without spaces or <>,\"",
            );
            return Ret::Code(-1);
        }
        texts.push(t);
    }
    let r2 = texts.len() == 2;
    for t in &texts {
        let v = preset_value(ctx, t, r2);
        // Validate as a URI so that a typo fails here, not at the peer.
        let uri_ok = v
            .get(1..v.len() - 1)
            .is_some_and(|u| Uri::parse(u, ctx.msg.limits()).is_ok());
        if !uri_ok {
            log(
                ctx,
                args,
                &format!("`{}` is not a SIP URI", String::from_utf8_lossy(t)),
            );
            return Ret::Code(-1);
        }
        if let Ret::Code(c) = insert_rr(ctx, args, &v)
            && c < 0
        {
            return Ret::Code(c);
        }
    }
    Ret::Code(1)
}

// ----- loose_route -----

/// The Route set of the received message, with where each value is.
struct RouteSet<'m, 'a> {
    /// Every Route header line and its values as written.
    lines: Vec<(&'m HeaderField, Vec<&'a [u8]>)>,
    /// The parsed values, top first.
    addrs: &'m [NameAddr<'a>],
    /// Flat index -> removed.
    removed: Vec<bool>,
    /// A value to append after the last one (`<uri>`).
    appended: Option<Vec<u8>>,
}

impl<'m, 'a> RouteSet<'m, 'a> {
    fn read(msg: &'m crate::sip::SipMsg<'a>) -> Result<RouteSet<'m, 'a>, String> {
        let addrs = msg.routes().map_err(|e| format!("bad Route header: {e}"))?;
        let mut lines = Vec::new();
        let mut n = 0usize;
        for h in msg.headers_named(HeaderName::Route) {
            let mut values = Vec::new();
            for r in CommaSplit::new(msg.value_of(h), Where::Route) {
                let (_, v) = r.map_err(|e| format!("bad Route header: {e}"))?;
                values.push(v);
            }
            n += values.len();
            lines.push((h, values));
        }
        if n != addrs.len() {
            return Err("Route values do not split consistently".into());
        }
        Ok(RouteSet {
            lines,
            addrs,
            removed: vec![false; n],
            appended: None,
        })
    }

    fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The first value not removed, from index `from` on.
    fn next_kept(&self, from: usize) -> Option<usize> {
        (from..self.addrs.len()).find(|&i| !self.removed.get(i).copied().unwrap_or(true))
    }

    fn remove(&mut self, i: usize) {
        if let Some(r) = self.removed.get_mut(i) {
            *r = true;
        }
    }

    /// Records the changed Route lines as edits.
    fn apply(&self, ctx: &mut MsgCtx<'_, '_>) -> Result<(), String> {
        let mut flat = 0usize;
        let last_line = self.lines.len().saturating_sub(1);
        for (li, (h, values)) in self.lines.iter().enumerate() {
            let mut kept: Vec<&[u8]> = Vec::with_capacity(values.len() + 1);
            for v in values {
                if !self.removed.get(flat).copied().unwrap_or(false) {
                    kept.push(v);
                }
                flat += 1;
            }
            let append = (li == last_line)
                .then_some(self.appended.as_deref())
                .flatten();
            if let Some(a) = append {
                kept.push(a);
            }
            if kept.len() == values.len() && append.is_none() {
                continue;
            }
            if kept.is_empty() {
                ctx.edits.remove_header(h);
            } else {
                let value = kept.join(&b", "[..]);
                ctx.edits
                    .replace_value(h, &value)
                    .map_err(|e| format!("cannot rewrite a Route header: {e}"))?;
            }
        }
        Ok(())
    }
}

/// The Route set of a request that has one (`None` for a reply, no
/// Route header, or one that does not parse, which is logged).
fn route_set<'m, 'a>(ctx: &mut MsgCtx<'m, 'a>, args: &Args<'_>) -> Option<RouteSet<'m, 'a>> {
    let msg = ctx.msg;
    if msg.method().is_none() || msg.header(HeaderName::Route).is_none() {
        return None;
    }
    match RouteSet::read(msg) {
        Ok(s) if s.is_empty() => None,
        Ok(s) => Some(s),
        Err(e) => {
            log(ctx, args, &e);
            None
        }
    }
}

/// `loose_route()`: see the module docs.
pub(crate) fn loose_route(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    ctx.routed_params = None;
    let msg = ctx.msg;
    let Some(mut set) = route_set(ctx, args) else {
        return Ret::Code(-1);
    };
    let addrs = set.addrs;
    let is_ours =
        |ctx: &MsgCtx<'_, '_>, i: usize| addrs.get(i).is_some_and(|a| uri_is_myself(ctx, &a.uri));

    // 16.4: our Record-Route in the Request-URI (a strict previous hop).
    let ruri = ctx.ruri().to_vec();
    let parsed_ruri = Uri::parse(&ruri, msg.limits()).ok();
    let mut new_uri: Option<Vec<u8>> = None;
    let mut routed: Option<Vec<u8>> = None;
    if let Some(u) = &parsed_ruri
        && u.user().is_none()
        && uri_is_myself(ctx, u)
    {
        let last = addrs.len() - 1;
        if !is_ours(ctx, last)
            && let Some(a) = addrs.get(last)
        {
            new_uri = Some(a.uri.raw.to_vec());
            routed = Some(params_of(u));
            set.remove(last);
        }
    }

    // 16.4 / 16.12: our own entries on top (two for a double RR).
    let mut i = 0usize;
    if set.next_kept(0) == Some(0) && is_ours(ctx, 0) {
        if routed.is_none() {
            routed = addrs.first().map(|a| params_of(&a.uri));
        }
        set.remove(0);
        i = 1;
        if set.next_kept(1) == Some(1) && is_ours(ctx, 1) {
            set.remove(1);
            i = 2;
        }
    }

    let code = match set.next_kept(i) {
        None => {
            // No next hop in the Route set: the Request-URI is the target.
            let in_dialog = msg
                .to()
                .ok()
                .and_then(NameAddr::tag)
                .is_some_and(|t| !t.is_empty());
            if new_uri.is_some() || in_dialog {
                1
            } else {
                -1
            }
        }
        Some(next) => {
            let Some(a) = addrs.get(next) else {
                return Ret::Code(-1);
            };
            if a.uri.lr() {
                ctx.dst_uri = Some(a.uri.raw.to_vec());
            } else {
                // 12.2.1.1: a strict next hop gets the target as the last
                // Route value and its own URI as the Request-URI.
                // (After a strict previous hop the target is the last
                // value taken above: it goes back to the end.)
                let target = new_uri.take().unwrap_or_else(|| ruri.clone());
                let mut v = Vec::with_capacity(target.len() + 2);
                v.push(b'<');
                v.extend_from_slice(&target);
                v.push(b'>');
                set.appended = Some(v);
                set.remove(next);
                new_uri = Some(a.uri.raw.to_vec());
            }
            1
        }
    };
    if let Err(e) = set.apply(ctx) {
        log(ctx, args, &e);
        return Ret::Code(-1);
    }
    if let Some(u) = new_uri {
        ctx.new_uri = Some(u);
    }
    if let Some(p) = &routed {
        restore_cookie(ctx, p);
    }
    ctx.routed_params = routed;
    Ret::Code(code)
}

/// `rewriteFromRoute()` (SER 0.8's rr): strict routing by a preloaded
/// Route set. The first Route value becomes the Request-URI and is removed
/// from the message (RFC 2543 routing). 1 when there was a Route, -1
/// without one or when it does not parse.
pub(crate) fn rewrite_from_route(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(mut set) = route_set(ctx, args) else {
        return Ret::Code(-1);
    };
    let Some(first) = set.addrs.first().map(|a| a.uri.raw.to_vec()) else {
        return Ret::Code(-1);
    };
    set.remove(0);
    if let Err(e) = set.apply(ctx) {
        log(ctx, args, &e);
        return Ret::Code(-1);
    }
    ctx.new_uri = Some(first);
    Ret::Code(1)
}

/// `check_route_param(re)`: see the module docs.
pub(crate) fn check_route_param(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let Some(re) = args.regex(0) else {
        log(ctx, args, "expects a regular expression");
        return Ret::Code(-1);
    };
    match &ctx.routed_params {
        Some(p) if re.is_match(p) => Ret::Code(1),
        _ => Ret::Code(-1),
    }
}

/// `has_totag()`: true when the To header has a non-empty tag.
pub(crate) fn has_totag(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    let tagged = ctx
        .msg
        .to()
        .ok()
        .and_then(NameAddr::tag)
        .is_some_and(|t| !t.is_empty());
    Ret::Code(if tagged { 1 } else { -1 })
}

#[cfg(test)]
mod tests {
    use core::net::SocketAddr;

    use crate::proxy::{Local, LocalSocket, Send, finish_request};
    use crate::script::{Config, LogSink, MsgCtx, Outcome, Proto, Registry, Script};
    use crate::sip::SipMsg;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn local() -> Local {
        Local {
            sockets: vec![
                LocalSocket::new(sa("192.0.2.1:5060")),
                LocalSocket::new(sa("[2001:db8::1]:5060")),
            ],
            sip_warning: false,
            server_signature: false,
            secret: 7,
        }
    }

    const MODULES: &str = "#!KAMAILIO\nloadmodule \"sl.so\"\nloadmodule \"rr.so\"\n\
                           loadmodule \"siputils.so\"\nloadmodule \"xlog.so\"\n";

    const INVITE: &str = "INVITE sip:bob@198.51.100.20:5080 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@atlanta.example.org>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.org\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@198.51.100.7:5062>\r\n\
Content-Length: 0\r\n\
\r\n";

    /// A BYE with `ruri` and the given Route lines (each `Route: ...`
    /// CRLF), in the dialog of [`INVITE`].
    fn bye(ruri: &str, routes: &str) -> String {
        format!(
            "BYE {ruri} SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKbye1\r\n\
Max-Forwards: 70\r\n\
{routes}\
To: Bob <sip:bob@example.com>;tag=8321234356\r\n\
From: Alice <sip:alice@atlanta.example.org>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.org\r\n\
CSeq: 314160 BYE\r\n\
Content-Length: 0\r\n\
\r\n"
        )
    }

    struct Run {
        sends: Vec<Send>,
        logs: Vec<String>,
        du: Option<String>,
        ruri: String,
        routed: Option<String>,
    }

    impl Run {
        fn text(&self) -> String {
            assert_eq!(self.sends.len(), 1, "logs: {:?}", self.logs);
            String::from_utf8(self.sends[0].data.clone()).unwrap()
        }
        fn dst(&self) -> SocketAddr {
            assert_eq!(self.sends.len(), 1, "logs: {:?}", self.logs);
            self.sends[0].dst
        }
        fn lines(&self, prefix: &str) -> Vec<String> {
            self.text()
                .lines()
                .filter(|l| l.starts_with(prefix))
                .map(str::to_string)
                .collect()
        }
    }

    fn run_on(body: &str, extra: &str, msg: &str, dst: &str) -> Run {
        let cfg = format!("{MODULES}{extra}\nroute {{\n{body}\n}}\n");
        let parsed = ser_cfg::parse_str("rr.cfg", &cfg, &[]).unwrap();
        let program = ser_cfg::compile::compile(&parsed).unwrap();
        let script = Script::load(program, &Registry::builtin()).unwrap();
        let mut config = Config::from_program(script.program());
        config.add_myself("192.0.2.1", Some(5060)).unwrap();
        config.add_myself("[2001:db8::1]", Some(5060)).unwrap();
        let m = SipMsg::parse(msg.as_bytes()).unwrap();
        let mut ctx = MsgCtx::new(&m, &config, sa("203.0.113.5:40000"), sa(dst), Proto::Udp);
        ctx.log = LogSink::Capture(Vec::new());
        match script.run_main(&mut ctx) {
            Outcome::Finished { .. } => {}
            Outcome::Suspended(_) => panic!("suspended"),
        }
        let du = ctx
            .dst_uri
            .as_ref()
            .map(|d| String::from_utf8(d.clone()).unwrap());
        let ruri = String::from_utf8(ctx.ruri().to_vec()).unwrap();
        let routed = ctx
            .routed_params
            .as_ref()
            .map(|d| String::from_utf8(d.clone()).unwrap());
        let mut sends = Vec::new();
        finish_request(&mut ctx, 0, &local(), &mut sends);
        let logs = ctx.log.lines().iter().map(|l| l.text.clone()).collect();
        Run {
            sends,
            logs,
            du,
            ruri,
            routed,
        }
    }

    fn run(body: &str, extra: &str, msg: &str) -> Run {
        run_on(body, extra, msg, "192.0.2.1:5060")
    }

    const FWD: &str = "forward(\"192.0.2.50\", 5070);";

    /// SER 2.x dialog cookies: an AVP flagged `dialog_cookie` rides in the
    /// Record-Route and is back after `loose_route()` on an in-dialog
    /// request; a cookie signed with another secret is ignored.
    #[test]
    fn dialog_cookie_round_trip() {
        let extra = "avpflags dialog_cookie;\n\
                     modparam(\"rr\", \"cookie_filter\", \"^acc\")\n\
                     modparam(\"rr\", \"cookie_secret\", \"s3cret\")\n";
        let body = format!(
            "$avp(account) = \"yes\"; $avp(other) = \"x\"; \
             setavpflag($avp(account), \"dialog_cookie\"); \
             setavpflag($avp(other), \"dialog_cookie\"); record_route(); {FWD}"
        );
        let r = run(&body, extra, INVITE);
        let rr = r.lines("Record-Route:");
        assert_eq!(rr.len(), 1);
        let value = rr[0].strip_prefix("Record-Route: ").unwrap();
        assert!(value.contains(";avp="), "{value}");

        let check = format!(
            "loose_route(); if ($avp(account) == \"yes\") {{ xlog(\"L_ERR\", \"account=$avp(account) other=$avp(other)\\n\"); }} {FWD}"
        );
        let back = run(
            &check,
            extra,
            &bye("sip:bob@198.51.100.20:5080", &format!("Route: {value}\r\n")),
        );
        assert!(
            back.logs
                .iter()
                .any(|l| l.contains("account=yes other=<null>")),
            "{:?}",
            back.logs
        );

        // The same Route read by a router with another secret: no AVP.
        let other = extra.replace("s3cret", "other");
        let back = run(
            &check,
            &other,
            &bye("sip:bob@198.51.100.20:5080", &format!("Route: {value}\r\n")),
        );
        assert!(
            !back.logs.iter().any(|l| l.contains("account=")),
            "{:?}",
            back.logs
        );
        assert!(
            back.logs
                .iter()
                .any(|l| l.contains("dialog cookie ignored")),
            "{:?}",
            back.logs
        );
    }

    #[test]
    fn record_route_exact_bytes() {
        let r = run(&format!("record_route(); {FWD}"), "", INVITE);
        let text = r.text();
        // The Record-Route is the first header; our Via follows it.
        let mut lines = text.split("\r\n");
        assert_eq!(
            lines.next(),
            Some("INVITE sip:bob@198.51.100.20:5080 SIP/2.0")
        );
        assert_eq!(
            lines.next(),
            Some("Record-Route: <sip:192.0.2.1:5060;lr;ftag=1928301774>")
        );
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=")
        );
        // Nothing else changed.
        let rest: Vec<&str> = lines.collect();
        assert_eq!(
            rest.join("\r\n"),
            INVITE.split_once("\r\n").unwrap().1.replacen(
                "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds",
                "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;received=203.0.113.5",
                1
            )
        );

        // enable_full_lr, no ftag.
        let extra = "modparam(\"rr\", \"enable_full_lr\", 1)\n\
                     modparam(\"rr\", \"append_fromtag\", 0)\n";
        let r = run(&format!("record_route(); {FWD}"), extra, INVITE);
        assert_eq!(
            r.lines("Record-Route:"),
            ["Record-Route: <sip:192.0.2.1:5060;lr=on>"]
        );

        // Extra parameters, with or without their leading `;`.
        for p in [";nat=yes", "nat=yes"] {
            let r = run(&format!("record_route(\"{p}\"); {FWD}"), "", INVITE);
            assert_eq!(
                r.lines("Record-Route:"),
                ["Record-Route: <sip:192.0.2.1:5060;lr;ftag=1928301774;nat=yes>"]
            );
        }

        // No From tag: no ftag.
        let no_tag = INVITE.replace(";tag=1928301774", "");
        let r = run(&format!("record_route(); {FWD}"), "", &no_tag);
        assert_eq!(
            r.lines("Record-Route:"),
            ["Record-Route: <sip:192.0.2.1:5060;lr>"]
        );

        // IPv6: the address in brackets. Arrived over IPv6, sent over
        // IPv4: a double Record-Route, the sending socket's on top.
        let r = run_on(
            &format!("record_route(); {FWD}"),
            "",
            INVITE,
            "[2001:db8::1]:5060",
        );
        assert_eq!(
            r.lines("Record-Route:"),
            [
                "Record-Route: <sip:192.0.2.1:5060;lr;ftag=1928301774>",
                "Record-Route: <sip:[2001:db8::1]:5060;lr;ftag=1928301774>"
            ]
        );

        // Above an existing Record-Route.
        let with_rr = INVITE.replace(
            "Max-Forwards: 70\r\n",
            "Max-Forwards: 70\r\nRecord-Route: <sip:198.51.100.99;lr>\r\n",
        );
        let r = run(&format!("record_route(); {FWD}"), "", &with_rr);
        assert_eq!(
            r.lines("Record-Route:"),
            [
                "Record-Route: <sip:192.0.2.1:5060;lr;ftag=1928301774>",
                "Record-Route: <sip:198.51.100.99;lr>"
            ]
        );

        // Bad parameters are refused.
        let r = run(
            &format!("if (!record_route(\"a>b\")) {{ xlog(\"L_ERR\", \"refused\\n\"); }} {FWD}"),
            "",
            INVITE,
        );
        assert!(r.lines("Record-Route:").is_empty());
        assert!(r.logs.iter().any(|l| l.contains("refused")), "{:?}", r.logs);
    }

    #[test]
    fn record_route_preset_values() {
        let r = run(
            &format!("record_route_preset(\"203.0.113.9:5080;foo=1\"); {FWD}"),
            "",
            INVITE,
        );
        assert_eq!(
            r.lines("Record-Route:"),
            ["Record-Route: <sip:203.0.113.9:5080;foo=1;lr;ftag=1928301774>"]
        );
        let r = run(
            &format!("record_route_preset(\"sip:proxy.example.com\"); {FWD}"),
            "modparam(\"rr\", \"append_fromtag\", 0)\n",
            INVITE,
        );
        assert_eq!(
            r.lines("Record-Route:"),
            ["Record-Route: <sip:proxy.example.com;lr>"]
        );
        let r = run(
            &format!("record_route_preset(\"203.0.113.9\", \"10.0.0.1:5070\"); {FWD}"),
            "modparam(\"rr\", \"append_fromtag\", 0)\n",
            INVITE,
        );
        assert_eq!(
            r.lines("Record-Route:"),
            [
                "Record-Route: <sip:203.0.113.9;r2=on;lr>",
                "Record-Route: <sip:10.0.0.1:5070;r2=on;lr>"
            ]
        );
        let r = run(&format!("record_route_preset(\"a b\"); {FWD}"), "", INVITE);
        assert!(r.lines("Record-Route:").is_empty());
        assert!(!r.logs.is_empty());
    }

    /// The script of the loose-routing tests: forward when loose_route
    /// says so, else answer 404.
    const LOOSE: &str =
        "if (loose_route()) { forward(); exit; } sl_send_reply(\"404\", \"No Route\");";

    const US: &str = "<sip:192.0.2.1:5060;lr;ftag=1928301774>";

    #[test]
    fn loose_route_without_route_is_false() {
        let r = run(LOOSE, "", &bye("sip:bob@198.51.100.20:5080", ""));
        assert!(r.text().starts_with("SIP/2.0 404 No Route\r\n"));
        assert_eq!(r.du, None);
        assert_eq!(r.routed, None);
    }

    #[test]
    fn loose_route_us_then_loose_next_hop() {
        let msg = bye(
            "sip:bob@198.51.100.20:5080",
            &format!("Route: {US}, <sip:198.51.100.30;lr>\r\n"),
        );
        let r = run(LOOSE, "", &msg);
        assert_eq!(r.du.as_deref(), Some("sip:198.51.100.30;lr"));
        assert_eq!(r.ruri, "sip:bob@198.51.100.20:5080");
        assert_eq!(r.routed.as_deref(), Some(";lr;ftag=1928301774"));
        assert_eq!(r.dst(), sa("198.51.100.30:5060"));
        let text = r.text();
        assert!(text.starts_with("BYE sip:bob@198.51.100.20:5080 SIP/2.0\r\n"));
        assert_eq!(r.lines("Route:"), ["Route: <sip:198.51.100.30;lr>"]);
        // The rest of the message is as received.
        assert!(text.contains("\r\nMax-Forwards: 70\r\nRoute: <sip:198.51.100.30;lr>\r\nTo: Bob"));

        // Our Route on its own line: the line goes.
        let msg = bye(
            "sip:bob@198.51.100.20:5080",
            &format!("Route: {US}\r\nRoute: <sip:198.51.100.30;lr>\r\n"),
        );
        let r = run(LOOSE, "", &msg);
        assert_eq!(r.lines("Route:"), ["Route: <sip:198.51.100.30;lr>"]);
        assert_eq!(r.dst(), sa("198.51.100.30:5060"));

        // check_route_param on the Route we consumed.
        let body = "if (loose_route()) { \
            if (check_route_param(\"ftag=1928\")) { xlog(\"L_ERR\", \"ftag yes\\n\"); } \
            if (check_route_param(\"nat=yes\")) { xlog(\"L_ERR\", \"nat yes\\n\"); } \
            forward(); }";
        let r = run(body, "", &msg);
        assert!(
            r.logs.iter().any(|l| l.contains("ftag yes")),
            "{:?}",
            r.logs
        );
        assert!(
            !r.logs.iter().any(|l| l.contains("nat yes")),
            "{:?}",
            r.logs
        );
        // Without loose_route, check_route_param is false.
        let body = "if (check_route_param(\"lr\")) { xlog(\"L_ERR\", \"lr yes\\n\"); }";
        let r = run(body, "", &msg);
        assert!(!r.logs.iter().any(|l| l.contains("lr yes")), "{:?}", r.logs);
    }

    #[test]
    fn loose_route_only_us() {
        // In dialog: true, the Request-URI is the target.
        let msg = bye("sip:bob@198.51.100.20:5080", &format!("Route: {US}\r\n"));
        let r = run(LOOSE, "", &msg);
        assert_eq!(r.du, None);
        assert_eq!(r.dst(), sa("198.51.100.20:5080"));
        assert!(r.lines("Route:").is_empty(), "{}", r.text());

        // Out of dialog (preloaded): removed, but false.
        let msg = INVITE.replace(
            "Max-Forwards: 70\r\n",
            &format!("Max-Forwards: 70\r\nRoute: {US}\r\n"),
        );
        let body = "if (!loose_route()) { forward(); exit; } sl_send_reply(\"500\", \"x\");";
        let r = run(body, "", &msg);
        assert_eq!(r.dst(), sa("198.51.100.20:5080"));
        assert!(r.lines("Route:").is_empty(), "{}", r.text());
    }

    #[test]
    fn rewrite_from_route_strict_routes() {
        // SER 0.8: the first Route becomes the Request-URI and goes.
        let msg = bye(
            "sip:bob@198.51.100.20:5080",
            "Route: <sip:198.51.100.30:5070>, <sip:198.51.100.31>\r\n",
        );
        let r = run(&format!("rewriteFromRoute(); {FWD}"), "", &msg);
        assert_eq!(r.ruri, "sip:198.51.100.30:5070");
        assert_eq!(r.lines("Route:"), ["Route: <sip:198.51.100.31>"]);
        assert!(
            r.text()
                .starts_with("BYE sip:198.51.100.30:5070 SIP/2.0\r\n")
        );
        // No Route: false, nothing changed.
        let r = run(
            "if (!rewriteFromRoute()) { sl_send_reply(\"404\", \"no route\"); exit; }",
            "",
            INVITE,
        );
        assert!(r.text().starts_with("SIP/2.0 404 no route"), "{}", r.text());
    }

    #[test]
    fn loose_route_strict_next_hop() {
        let msg = bye(
            "sip:bob@198.51.100.20:5080",
            &format!("Route: {US}\r\nRoute: <sip:198.51.100.30>, <sip:198.51.100.31;lr>\r\n"),
        );
        let r = run(LOOSE, "", &msg);
        assert_eq!(r.ruri, "sip:198.51.100.30");
        assert_eq!(r.du, None);
        assert_eq!(r.dst(), sa("198.51.100.30:5060"));
        let text = r.text();
        assert!(
            text.starts_with("BYE sip:198.51.100.30 SIP/2.0\r\n"),
            "{text}"
        );
        assert_eq!(
            r.lines("Route:"),
            ["Route: <sip:198.51.100.31;lr>, <sip:bob@198.51.100.20:5080>"]
        );

        // The strict router is the last Route: the target takes its place.
        let msg = bye(
            "sip:bob@198.51.100.20:5080",
            &format!("Route: {US}\r\nRoute: <sip:198.51.100.30>\r\n"),
        );
        let r = run(LOOSE, "", &msg);
        assert_eq!(r.ruri, "sip:198.51.100.30");
        assert_eq!(r.lines("Route:"), ["Route: <sip:bob@198.51.100.20:5080>"]);
    }

    #[test]
    fn loose_route_after_strict_previous_hop() {
        // A strict router put our Record-Route into the Request-URI; the
        // target is the last Route.
        let msg = bye(
            "sip:192.0.2.1:5060;lr;ftag=1928301774",
            "Route: <sip:198.51.100.30;lr>, <sip:bob@198.51.100.20:5080>\r\n",
        );
        let r = run(LOOSE, "", &msg);
        assert_eq!(r.ruri, "sip:bob@198.51.100.20:5080");
        assert_eq!(r.du.as_deref(), Some("sip:198.51.100.30;lr"));
        assert_eq!(r.routed.as_deref(), Some(";lr;ftag=1928301774"));
        assert_eq!(r.dst(), sa("198.51.100.30:5060"));
        assert!(
            r.text()
                .starts_with("BYE sip:bob@198.51.100.20:5080 SIP/2.0\r\n")
        );
        assert_eq!(r.lines("Route:"), ["Route: <sip:198.51.100.30;lr>"]);

        // Only the target left.
        let msg = bye(
            "sip:192.0.2.1:5060;lr",
            "Route: <sip:bob@198.51.100.20:5080>\r\n",
        );
        let r = run(LOOSE, "", &msg);
        assert_eq!(r.ruri, "sip:bob@198.51.100.20:5080");
        assert_eq!(r.dst(), sa("198.51.100.20:5080"));
        assert!(r.lines("Route:").is_empty());

        // A strict next hop after a strict previous hop.
        let msg = bye(
            "sip:192.0.2.1:5060",
            "Route: <sip:198.51.100.30>\r\nRoute: <sip:bob@198.51.100.20:5080>\r\n",
        );
        let r = run(LOOSE, "", &msg);
        assert_eq!(r.ruri, "sip:198.51.100.30");
        assert_eq!(r.lines("Route:"), ["Route: <sip:bob@198.51.100.20:5080>"]);
        assert_eq!(r.dst(), sa("198.51.100.30:5060"));

        // A user at our address is not our Record-Route: plain loose
        // routing to the next hop.
        let msg = bye(
            "sip:carol@192.0.2.1:5060",
            &format!("Route: {US}, <sip:198.51.100.30;lr>\r\n"),
        );
        let r = run(LOOSE, "", &msg);
        assert_eq!(r.ruri, "sip:carol@192.0.2.1:5060");
        assert_eq!(r.du.as_deref(), Some("sip:198.51.100.30;lr"));
    }

    #[test]
    fn loose_route_double_record_route_and_foreign_top() {
        let msg = bye(
            "sip:bob@198.51.100.20:5080",
            "Route: <sip:192.0.2.1:5060;r2=on;lr>, <sip:[2001:db8::1]:5060;r2=on;lr>\r\n\
             Route: <sip:198.51.100.30;lr>\r\n",
        );
        let r = run(LOOSE, "", &msg);
        assert_eq!(r.du.as_deref(), Some("sip:198.51.100.30;lr"));
        assert_eq!(r.lines("Route:"), ["Route: <sip:198.51.100.30;lr>"]);

        // The top Route is not ours (a preloaded route set): followed.
        let msg = bye(
            "sip:bob@198.51.100.20:5080",
            "Route: <sip:198.51.100.30:5090;lr>\r\n",
        );
        let r = run(LOOSE, "", &msg);
        assert_eq!(r.du.as_deref(), Some("sip:198.51.100.30:5090;lr"));
        assert_eq!(r.lines("Route:"), ["Route: <sip:198.51.100.30:5090;lr>"]);
        assert_eq!(r.dst(), sa("198.51.100.30:5090"));
        assert_eq!(r.routed, None);

        // Another port of our address is not us.
        let msg = bye(
            "sip:bob@198.51.100.20:5080",
            "Route: <sip:192.0.2.1:5070;lr>\r\n",
        );
        let r = run(LOOSE, "", &msg);
        assert_eq!(r.du.as_deref(), Some("sip:192.0.2.1:5070;lr"));
    }

    #[test]
    fn loose_route_bad_route_is_false() {
        for routes in [
            "Route: sip:a b\r\n",
            "Route: <sip:192.0.2.1;lr\r\n",
            "Route: ,\r\n",
        ] {
            let r = run(LOOSE, "", &bye("sip:bob@198.51.100.20:5080", routes));
            assert!(
                r.text().starts_with("SIP/2.0 404"),
                "{routes}: {}",
                r.text()
            );
        }
    }

    #[test]
    fn has_totag_reads_the_to_tag() {
        let body = "if (has_totag()) { sl_send_reply(\"200\", \"tag\"); } else { sl_send_reply(\"200\", \"none\"); }";
        let r = run(body, "", INVITE);
        assert!(r.text().starts_with("SIP/2.0 200 none\r\n"));
        let r = run(body, "", &bye("sip:bob@198.51.100.20:5080", ""));
        assert!(r.text().starts_with("SIP/2.0 200 tag\r\n"));
        let empty = INVITE.replace(
            "To: Bob <sip:bob@example.com>",
            "To: Bob <sip:bob@example.com>;tag=",
        );
        let r = run(body, "", &empty);
        assert!(r.text().starts_with("SIP/2.0 200 none\r\n"));
    }
}
