//! The `sanity` module: `sanity_check([msg_checks[, uri_checks]])`, the
//! structural checks of a request that Kamailio's sanity module makes,
//! with its bit numbers, its replies and its parameters (`default_checks`,
//! `uri_checks`, `proxy_require`, `autodrop`).
//!
//! | bit | check | reply on failure |
//! | --- | --- | --- |
//! | 1 | R-URI SIP version is 2.0 | 505 Version Not Supported (R-URI) |
//! | 2 | R-URI scheme is sip, sips, tel or tels (and the URI parses) | 416 Unsupported URI Scheme in Request URI / 400 Bad Request URI |
//! | 4 | To, From, CSeq, Call-ID and Via present | 400 Missing Required Header in Request |
//! | 8 | top Via's SIP version is 2.0 | 505 Version Not Supported (Via) |
//! | 16 | top Via's transport is the one it came over | 400 Transport Mismatch in Topmost Via |
//! | 32 | CSeq method equals the request method | 400 CSeq method does not match request method |
//! | 64 | CSeq number is a valid number | 400 CSeq number is illegal |
//! | 128 | Content-Length equals the bytes after the headers | 400 Content-Length mis-match |
//! | 256 | Expires is a valid number | 400 Expires value is illegal |
//! | 512 | every Proxy-Require tag is in `proxy_require` | 420 Bad Extension, with `Unsupported: tag` |
//! | 1024 | the URIs named by `uri_checks` parse (1 R-URI, 2 From, 4 To, 8 Contact) | 400 Bad Request URI / Bad From URI / ... |
//! | 2048 | digest credentials carry username, realm, nonce, uri and response | 400 Bad Credentials |
//! | 4096 | From and To hold at most one tag | 400 Duplicate tag |
//!
//! The checks run in bit order and stop at the first failure, which is
//! answered statelessly (never an ACK). Then, as in Kamailio, the script
//! stops (`autodrop`, the default) or `sanity_check` returns false
//! (`modparam("sanity", "autodrop", 0)`).
//!
//! The pure check is [`check`]; [`sanity_check`] is the script function.

use ser_cfg::ir::{ConstValue, Program};

use crate::script::ctx::{Action, Proto, level};
use crate::script::{Args, MsgCtx, Ret};
use crate::sip::error::Where;
use crate::sip::header::HeaderName;
use crate::sip::method::Method;
use crate::sip::msg::SipMsg;
use crate::sip::uri::Scheme;
use crate::sip::via::ViaTransport;

#[cfg(test)]
mod tests;

pub const RURI_SIP_VERSION: u32 = 1;
pub const RURI_SCHEME: u32 = 2;
pub const REQUIRED_HEADERS: u32 = 4;
pub const VIA_SIP_VERSION: u32 = 8;
pub const VIA_PROTOCOL: u32 = 16;
pub const CSEQ_METHOD: u32 = 32;
pub const CSEQ_VALUE: u32 = 64;
pub const CONTENT_LENGTH: u32 = 128;
pub const EXPIRES_VALUE: u32 = 256;
pub const PROXY_REQUIRE: u32 = 512;
pub const PARSE_URIS: u32 = 1024;
pub const DIGEST: u32 = 2048;
pub const DUPLICATE_TAGS: u32 = 4096;
/// Every check this module knows.
pub const ALL_CHECKS: u32 = 8191;

pub const URI_RURI: u32 = 1;
pub const URI_FROM: u32 = 2;
pub const URI_TO: u32 = 4;
pub const URI_CONTACT: u32 = 8;

/// Kamailio 3.1's `default_checks`: every check but the two Via ones
/// (no-ops there), the URI parsing and the digest check (999).
pub const DEFAULT_CHECKS: u32 = RURI_SIP_VERSION
    | RURI_SCHEME
    | REQUIRED_HEADERS
    | CSEQ_METHOD
    | CSEQ_VALUE
    | CONTENT_LENGTH
    | EXPIRES_VALUE
    | PROXY_REQUIRE;
/// Kamailio's `uri_checks`: R-URI, From and To (7).
pub const DEFAULT_URI_CHECKS: u32 = URI_RURI | URI_FROM | URI_TO;

/// The module's parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    pub default_checks: u32,
    pub uri_checks: u32,
    /// `proxy_require`: the extensions accepted in Proxy-Require
    /// (compared as written, as Kamailio does).
    pub proxy_require: Vec<Vec<u8>>,
    /// `autodrop` (default on): a failed check stops the script.
    pub autodrop: bool,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            default_checks: DEFAULT_CHECKS,
            uri_checks: DEFAULT_URI_CHECKS,
            proxy_require: Vec::new(),
            autodrop: true,
        }
    }
}

impl Params {
    /// The `modparam("sanity", ...)` values of a program, defaults for the
    /// rest.
    pub fn from_program(p: &Program) -> Params {
        let mut out = Params::default();
        for m in p.modules.iter().filter(|m| p.str(m.name) == "sanity") {
            for (name, value) in &m.params {
                let text = match value {
                    ConstValue::Int(n) => n.to_string(),
                    ConstValue::Str(s) => p.str(*s).trim().to_string(),
                    ConstValue::Bool(b) => u8::from(*b).to_string(),
                };
                let int = text.parse::<u32>().ok();
                match (p.str(*name), int) {
                    ("default_checks", Some(n)) => out.default_checks = n & ALL_CHECKS,
                    ("uri_checks", Some(n)) => out.uri_checks = n & 15,
                    ("autodrop", Some(n)) => out.autodrop = n != 0,
                    ("proxy_require", _) => out.proxy_require = split_list(text.as_bytes()),
                    _ => {}
                }
            }
        }
        out
    }
}

/// A comma-separated list, each item trimmed, empty items left out.
fn split_list(s: &[u8]) -> Vec<Vec<u8>> {
    s.split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// A failed check: the bit, and the reply Kamailio sends for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub check: u32,
    pub code: u16,
    pub reason: &'static str,
    /// Header lines for the reply (`Unsupported: tag` for a 420).
    pub headers: Vec<u8>,
}

fn failed(check: u32, code: u16, reason: &'static str) -> Failure {
    Failure {
        check,
        code,
        reason,
        headers: Vec::new(),
    }
}

/// Runs the `checks` on a request (the `uri_checks` for bit 1024) that
/// arrived over `proto`; the first failure, or `Ok`. A reply passes every
/// check (sanity only judges requests).
pub fn check(
    msg: &SipMsg<'_>,
    proto: Proto,
    checks: u32,
    uri_checks: u32,
    params: &Params,
) -> Result<(), Failure> {
    let Some(method) = msg.method() else {
        return Ok(());
    };
    let on = |bit: u32| checks & bit != 0;
    if on(RURI_SIP_VERSION) {
        ruri_version(msg)?;
    }
    if on(RURI_SCHEME) {
        ruri_scheme(msg)?;
    }
    if on(REQUIRED_HEADERS) {
        required_headers(msg)?;
    }
    if on(VIA_SIP_VERSION) {
        via_version(msg)?;
    }
    if on(VIA_PROTOCOL) {
        via_protocol(msg, proto)?;
    }
    if on(CSEQ_METHOD) {
        cseq_method(msg, &method)?;
    }
    if on(CSEQ_VALUE) {
        cseq_value(msg)?;
    }
    if on(CONTENT_LENGTH) {
        content_length(msg)?;
    }
    if on(EXPIRES_VALUE) {
        expires(msg)?;
    }
    if on(PROXY_REQUIRE) {
        proxy_require(msg, params)?;
    }
    if on(PARSE_URIS) {
        parse_uris(msg, uri_checks)?;
    }
    if on(DIGEST) {
        digest(msg)?;
    }
    if on(DUPLICATE_TAGS) {
        duplicate_tags(msg)?;
    }
    Ok(())
}

/// The request line's version (`SIP/2.0`), as written.
fn request_version<'a>(msg: &SipMsg<'a>) -> &'a [u8] {
    let bytes = msg.bytes();
    let line = bytes
        .get(..msg.headers_start())
        .unwrap_or(bytes)
        .trim_ascii_end();
    match line.iter().rposition(|&b| b == b' ') {
        Some(sp) => line.get(sp + 1..).unwrap_or(b""),
        None => b"",
    }
}

/// Bit 1: the part after `/` of the request line's version is `2.0`.
fn ruri_version(msg: &SipMsg<'_>) -> Result<(), Failure> {
    let fail = || failed(RURI_SIP_VERSION, 505, "Version Not Supported (R-URI)");
    let ver = request_version(msg);
    match ver.iter().position(|&b| b == b'/') {
        Some(slash) if ver.get(slash + 1..) == Some(&b"2.0"[..]) => Ok(()),
        _ => Err(fail()),
    }
}

/// Bit 2: the R-URI parses and its scheme is one the router knows.
fn ruri_scheme(msg: &SipMsg<'_>) -> Result<(), Failure> {
    match msg.ruri() {
        Ok(u) => match u.scheme {
            Scheme::Sip | Scheme::Sips | Scheme::Tel => Ok(()),
            Scheme::Other(s) if s.eq_ignore_ascii_case(b"tels") => Ok(()),
            Scheme::Other(_) => Err(failed(
                RURI_SCHEME,
                416,
                "Unsupported URI Scheme in Request URI",
            )),
        },
        Err(_) => Err(failed(RURI_SCHEME, 400, "Bad Request URI")),
    }
}

/// Bit 4: the transaction headers are there.
fn required_headers(msg: &SipMsg<'_>) -> Result<(), Failure> {
    let all = [
        HeaderName::To,
        HeaderName::From,
        HeaderName::CSeq,
        HeaderName::CallId,
        HeaderName::Via,
    ]
    .iter()
    .all(|&h| msg.header(h).is_some());
    if all {
        Ok(())
    } else {
        Err(failed(
            REQUIRED_HEADERS,
            400,
            "Missing Required Header in Request",
        ))
    }
}

/// The first Via value's sent-protocol, split: (name, version, transport).
fn via_protocol_parts<'a>(msg: &SipMsg<'a>) -> Option<(&'a [u8], &'a [u8], &'a [u8])> {
    let v = msg.value(HeaderName::Via)?;
    // `SIP / 2.0 / UDP` may carry white space around the slashes: join
    // what comes before the sent-by.
    let mut parts = Vec::with_capacity(3);
    let mut rest = v;
    for _ in 0..2 {
        let slash = rest.iter().position(|&b| b == b'/')?;
        parts.push(rest.get(..slash)?.trim_ascii());
        rest = rest.get(slash + 1..)?.trim_ascii_start();
    }
    let tend = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\t' || b == b'\r' || b == b'\n')
        .unwrap_or(rest.len());
    Some((parts.first()?, parts.get(1)?, rest.get(..tend)?))
}

/// Bit 8: the top Via says `SIP/2.0`.
fn via_version(msg: &SipMsg<'_>) -> Result<(), Failure> {
    match via_protocol_parts(msg) {
        Some((name, ver, _)) if name.eq_ignore_ascii_case(b"SIP") && ver == b"2.0" => Ok(()),
        Some(_) => Err(failed(VIA_SIP_VERSION, 505, "Version Not Supported (Via)")),
        None => Err(failed(VIA_SIP_VERSION, 400, "Malformed Via header")),
    }
}

/// Bit 16: the top Via's transport is the one the request came over.
fn via_protocol(msg: &SipMsg<'_>, proto: Proto) -> Result<(), Failure> {
    let Some((_, _, t)) = via_protocol_parts(msg) else {
        return Err(failed(VIA_PROTOCOL, 400, "Malformed Via header"));
    };
    let same = match (ViaTransport::parse(t), proto) {
        (Some(ViaTransport::Udp), Proto::Udp)
        | (Some(ViaTransport::Tcp), Proto::Tcp)
        | (Some(ViaTransport::Tls), Proto::Tls)
        | (Some(ViaTransport::Sctp), Proto::Sctp)
        | (Some(ViaTransport::Ws), Proto::Ws)
        | (Some(ViaTransport::Wss), Proto::Wss) => true,
        (Some(_), _) => false,
        (None, _) => {
            return Err(failed(
                VIA_PROTOCOL,
                400,
                "Unsupported Transport in Topmost Via",
            ));
        }
    };
    if same {
        Ok(())
    } else {
        Err(failed(
            VIA_PROTOCOL,
            400,
            "Transport Mismatch in Topmost Via",
        ))
    }
}

/// The CSeq value split into its number and method, as written.
fn cseq_parts<'a>(msg: &SipMsg<'a>) -> Option<(&'a [u8], &'a [u8])> {
    let v = msg.value(HeaderName::CSeq)?.trim_ascii();
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    match v.iter().position(ws) {
        Some(i) => Some((v.get(..i)?, v.get(i..)?.trim_ascii())),
        // One word: a number without method, or a method without number.
        None if v.first().is_some_and(u8::is_ascii_digit) => Some((v, b"")),
        None => Some((b"", v)),
    }
}

/// Bit 32: the CSeq method is the request's (compared as written).
fn cseq_method(msg: &SipMsg<'_>, method: &Method<'_>) -> Result<(), Failure> {
    let Some((_, m)) = cseq_parts(msg) else {
        return Err(failed(CSEQ_METHOD, 400, "Missing CSeq header"));
    };
    if m.is_empty() {
        return Err(failed(CSEQ_METHOD, 400, "Missing method in CSeq header"));
    }
    if m != method.as_bytes() {
        return Err(failed(
            CSEQ_METHOD,
            400,
            "CSeq method does not match request method",
        ));
    }
    Ok(())
}

/// Digits only, and below 2**31 (RFC 3261 8.1.1.5; Kamailio takes any
/// 32-bit number, but the rest of this router keeps to the RFC).
fn valid_number(s: &[u8], max: u64) -> bool {
    !s.is_empty()
        && s.len() <= 10
        && s.iter().all(u8::is_ascii_digit)
        && s.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')) <= max
}

/// Bit 64: the CSeq number is a number.
fn cseq_value(msg: &SipMsg<'_>) -> Result<(), Failure> {
    let Some((n, _)) = cseq_parts(msg) else {
        return Err(failed(CSEQ_VALUE, 400, "Missing CSeq header"));
    };
    if n.is_empty() {
        return Err(failed(CSEQ_VALUE, 400, "Missing number in CSeq header"));
    }
    if !valid_number(n, u64::from(crate::sip::cseq::MAX_CSEQ)) {
        return Err(failed(CSEQ_VALUE, 400, "CSeq number is illegal"));
    }
    Ok(())
}

/// Bit 128: with a Content-Length, the datagram holds exactly that many
/// bytes after the headers (the parser already refused fewer).
fn content_length(msg: &SipMsg<'_>) -> Result<(), Failure> {
    let Some(cl) = msg.content_length() else {
        return Ok(());
    };
    let after = msg
        .buf()
        .len()
        .saturating_sub(msg.body_span().start as usize);
    if after == cl as usize {
        Ok(())
    } else {
        Err(failed(CONTENT_LENGTH, 400, "Content-Length mis-match"))
    }
}

/// Bit 256: the Expires header, if any, is a number.
fn expires(msg: &SipMsg<'_>) -> Result<(), Failure> {
    let Some(v) = msg.value(HeaderName::Expires) else {
        return Ok(());
    };
    let v = v.trim_ascii();
    if v.is_empty() {
        return Err(failed(
            EXPIRES_VALUE,
            400,
            "Missing number in Expires header",
        ));
    }
    if !valid_number(v, u64::from(u32::MAX)) {
        return Err(failed(EXPIRES_VALUE, 400, "Expires value is illegal"));
    }
    Ok(())
}

/// Bit 512: every Proxy-Require tag is one we accept; the first that is
/// not is named in an `Unsupported` header of the 420.
fn proxy_require(msg: &SipMsg<'_>, params: &Params) -> Result<(), Failure> {
    for h in msg.headers_named(HeaderName::ProxyRequire) {
        for tag in msg.value_of(h).split(|&b| b == b',') {
            let tag = tag.trim_ascii();
            if tag.is_empty() || params.proxy_require.iter().any(|t| t == tag) {
                continue;
            }
            let mut f = failed(PROXY_REQUIRE, 420, "Bad Extension");
            if tag
                .iter()
                .all(|&b| crate::sip::lex::is_token(b) || b == b' ')
            {
                f.headers.extend_from_slice(b"Unsupported: ");
                f.headers.extend_from_slice(tag);
                f.headers.extend_from_slice(b"\r\n");
            }
            return Err(f);
        }
    }
    Ok(())
}

/// Bit 1024: the URIs `uri_checks` names parse.
fn parse_uris(msg: &SipMsg<'_>, uri_checks: u32) -> Result<(), Failure> {
    if uri_checks & URI_RURI != 0 && msg.ruri().is_err() {
        return Err(failed(PARSE_URIS, 400, "Bad Request URI"));
    }
    let named = |name: HeaderName,
                 parsed: Result<(), crate::sip::error::ParseError>,
                 missing: &'static str,
                 bad_header: &'static str,
                 bad_uri: &'static str| {
        if msg.header(name).is_none() {
            return Err(failed(PARSE_URIS, 400, missing));
        }
        match parsed {
            Ok(()) => Ok(()),
            Err(e) if e.what == Where::Uri => Err(failed(PARSE_URIS, 400, bad_uri)),
            Err(_) => Err(failed(PARSE_URIS, 400, bad_header)),
        }
    };
    if uri_checks & URI_FROM != 0 {
        named(
            HeaderName::From,
            msg.from().map(|_| ()),
            "Missing From Header",
            "Bad From header",
            "Bad From URI",
        )?;
    }
    if uri_checks & URI_TO != 0 {
        named(
            HeaderName::To,
            msg.to().map(|_| ()),
            "Missing To Header",
            "Bad To URI",
            "Bad To URI",
        )?;
    }
    // A missing Contact is no failure (Kamailio only logs it).
    if uri_checks & URI_CONTACT != 0 && msg.header(HeaderName::Contact).is_some() {
        match msg.contacts() {
            Ok(_) => {}
            Err(e) if e.what == Where::Uri => {
                return Err(failed(PARSE_URIS, 400, "Bad Contact URI"));
            }
            Err(_) => return Err(failed(PARSE_URIS, 400, "Bad Contact Header")),
        }
    }
    Ok(())
}

/// Bit 2048: each digest Authorization / Proxy-Authorization carries the
/// parameters a check needs, none of them empty.
fn digest(msg: &SipMsg<'_>) -> Result<(), Failure> {
    for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
        let Ok(creds) = msg.credentials(name) else {
            return Err(failed(DIGEST, 400, "Bad Credentials"));
        };
        for c in creds
            .iter()
            .filter(|c| c.scheme.eq_ignore_ascii_case(b"Digest"))
        {
            let present = |v: Option<&[u8]>| v.is_some_and(|v| !v.is_empty());
            let ok = present(c.username)
                && c.realm.is_some()
                && present(c.nonce)
                && present(c.uri)
                && present(c.response);
            if !ok {
                return Err(failed(DIGEST, 400, "Bad Credentials"));
            }
        }
    }
    Ok(())
}

/// Bit 4096: From and To carry at most one `tag` parameter each.
fn duplicate_tags(msg: &SipMsg<'_>) -> Result<(), Failure> {
    for (name, parsed) in [(HeaderName::From, msg.from()), (HeaderName::To, msg.to())] {
        if msg.header(name).is_none() {
            continue;
        }
        let Ok(a) = parsed else {
            return Err(failed(DUPLICATE_TAGS, 400, "Bad From or To header"));
        };
        let tags = a
            .params
            .iter()
            .filter(|p| p.name.eq_ignore_ascii_case(b"tag"))
            .count();
        if tags > 1 {
            return Err(failed(DUPLICATE_TAGS, 400, "Duplicate tag"));
        }
    }
    Ok(())
}

/// A checks argument: a number (or a string holding one).
fn mask_arg(ctx: &MsgCtx<'_, '_>, args: &Args<'_>, i: usize) -> Option<Option<u32>> {
    if args.len() <= i {
        return Some(None);
    }
    let n = args.int(i, ctx)?;
    u32::try_from(n).ok().map(Some)
}

/// `sanity_check([msg_checks[, uri_checks]])`: see the module docs. True
/// when every check passed; on a failure the reply is sent and the script
/// stops (`autodrop`, the default) or the function returns false.
pub(crate) fn sanity_check(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    let params = &ctx.config.sanity;
    let (Some(checks), Some(uri_checks)) = (mask_arg(ctx, args, 0), mask_arg(ctx, args, 1)) else {
        ctx.log(
            level::L_ERR,
            "sanity_check(): the checks must be numbers (bit masks)",
        );
        return Ret::Code(-1);
    };
    let checks = checks.unwrap_or(params.default_checks) & ALL_CHECKS;
    let uri_checks = uri_checks.unwrap_or(params.uri_checks);
    let autodrop = params.autodrop;
    let Err(f) = check(ctx.msg, ctx.proto, checks, uri_checks, params) else {
        return Ret::Code(1);
    };
    ctx.log(
        level::L_WARN,
        &format!(
            "sanity_check(): check {} failed for a request from {}: {} {}",
            f.check, ctx.src, f.code, f.reason
        ),
    );
    if !matches!(ctx.msg.method(), Some(Method::Ack)) {
        ctx.reply_headers.extend_from_slice(&f.headers);
        ctx.actions.push(Action::Reply {
            code: f.code,
            reason: f.reason.as_bytes().to_vec(),
        });
    }
    Ret::Code(if autodrop { 0 } else { -1 })
}
