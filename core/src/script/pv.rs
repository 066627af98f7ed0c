//! Variables: core keywords, Kamailio pseudo-variables, SER 2.x AVPs and
//! selects, resolved once at load time into an accessor that is read and
//! written against a [`MsgCtx`].
//!
//! Reads of things that are absent (a header the message lacks, a From
//! without tag, an unset AVP, a reply's Request-URI) give `Null`. Values
//! taken from the received message borrow its bytes; values from the
//! script state (a rewritten Request-URI, AVPs, `$var`) are copied.
//!
//! # Supported
//!
//! Keywords: `method`, `uri` (the current Request-URI), `status`,
//! `from_uri`, `to_uri`, `src_ip`, `src_port`, `dst_ip`, `dst_port`,
//! `proto` (`udp`, `tcp`, `tls`, `sctp`, `ws`, `wss`), `af` (`inet`,
//! `inet6`), `msg:len`, `max_len`, `uri:host`, `uri:port`; the
//! `onsend_route` keywords (`snd_ip`, `to_ip`, ...) read `Null` until
//! onsend routes run.
//!
//! Kamailio PVs: `$ru $rU $rd $rp $rz $rP $ou $oU $od $op $oP $du $dd $dp
//! $dP $fu $fU $fd $fn $ft $tu $tU $td $tn $tt $si $sp $Ri $Rp $pr $ci $cs
//! $rm $rs $rr $rv $ua $au $aU $ad $ar $mb $ml $mi $mt $rb $ct $cl $cT $rt
//! $ai $di $re $pu $pU $pd $pn $br $bf $bF $mf $mF $pp $Ts $Tf $null $rc
//! $retcode` (`$Tf` in UTC), `$hdr(Name)` with index `[n]` (0 first, -1
//! last) or `[*]` (every value joined with `,`), `$avp(i:N)`,
//! `$avp(s:name)`, `$avp(name)` with `[n]`/`[*]`, `$var(x)`, `$sel(...)`.
//!
//! SER 2.x: AVPs `$name`, `$f.x`, `$t.x`, `$fu.x`, `$tu.x`, `$fd.x`,
//! `$td.x`, `$fr.x`, `$tr.x` (see [`super::ctx::Avps`] for classes and
//! tracks); `$?`.
//!
//! Selects (`@...` or `$sel(...)`): `ruri` with `.user .host .port
//! .scheme .params`; `from` and `to` (the header value) with `.uri` (and
//! `.uri.user .uri.host .uri.port .uri.scheme .uri.params`), `.tag`,
//! `.name`; `via` / `via[n]` with `.branch .host .port .received .rport
//! .transport`; `msg` (the whole message), `msg.len`, `msg.body`; `method`;
//! `call_id`; `cseq`, `cseq.num`, `cseq.method`; `contact`; `src.ip`,
//! `src.port`, `dst.ip`, `dst.port`; `cfg_get.group.name`.
//!
//! Writable: `$ru $rU $rd $rp $du $avp(...) $var(...)`, SER AVPs, `$null`
//! (the value is discarded). Assigning `$null` to an AVP deletes its
//! newest value (or the indexed one; `[*]` or `:=` deletes every value);
//! to `$var(x)` it stores 0 (as Kamailio); to `$du` it clears the
//! destination URI; to `$rU` it removes the user part; to `$rp` it removes
//! the port.

use std::borrow::Cow;

use ser_cfg::ast::{AvpTrack, Keyword};
use ser_cfg::ir::{Program, VarDef};

use crate::sip::header::HeaderName;
use crate::sip::host::Host;
use crate::sip::msg::SipMsg;
use crate::sip::uri::Uri;

use super::ctx::{ALL_CLASSES, AvpClass, AvpName, AvpSel, AvpTrackSide, MsgCtx};
use super::uri_ops::{self, UriEdit};
use super::value::{Value, parse_int};

/// A part of a URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UriPart {
    Whole,
    User,
    Host,
    /// The port, or the scheme's default (5060; 5061 for `sips:`).
    Port,
    Scheme,
    Params,
    /// The `transport` parameter, `udp` when absent.
    Transport,
}

/// A part of a From/To header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddrPart {
    /// The header value as written.
    Whole,
    Uri(UriPart),
    /// Display name (without quotes).
    Name,
    Tag,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ViaPart {
    Whole,
    Branch,
    Host,
    Port,
    Received,
    Rport,
    Transport,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthPart {
    /// Username without `@domain`.
    User,
    /// The whole username.
    Username,
    /// The part of the username after `@`.
    Domain,
    Realm,
}

/// Which of several values (`[n]`, `[*]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Index {
    None,
    Nth(i64),
    All,
}

/// A resolved variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Pv {
    Null,
    RetCode,
    Method,
    Status,
    Reason,
    /// The current Request-URI.
    Ruri(UriPart),
    /// The received Request-URI.
    Ouri(UriPart),
    Du,
    From(AddrPart),
    To(AddrPart),
    Via(i64, ViaPart),
    SrcIp,
    SrcPort,
    DstIp,
    DstPort,
    Proto,
    Af,
    MsgLen,
    MaxLen,
    MsgBuf,
    Body,
    CallId,
    CSeq,
    CSeqNum,
    CSeqMethod,
    Version,
    UserAgent,
    Contact,
    ContentLength,
    ContentType,
    Auth(AuthPart),
    BranchUri,
    BFlags {
        hex: bool,
    },
    MFlags {
        hex: bool,
    },
    Timestamp,
    /// Current time as `ctime` text (UTC).
    TimeText,
    MsgId,
    /// 1 for a request, 2 for a reply.
    MsgType,
    Pid,
    /// A part of the destination URI (`$dd`, `$dp`, `$dP`).
    Dst(UriPart),
    /// A name-addr header other than From/To (`$rt`, `$ai`, `$di`,
    /// `$re`, `$pu`...).
    HdrAddr(&'static [u8], AddrPart),
    /// An onsend-route keyword: `Null` until onsend routes run.
    Unavailable,
    Hdr {
        name: Box<[u8]>,
        index: Index,
    },
    Avp {
        sel: AvpSel,
        index: Index,
    },
    Var(u32),
    CfgGet {
        group: Box<[u8]>,
        name: Box<[u8]>,
    },
}

/// The text of a variable as written, for messages.
pub(crate) fn describe(p: &Program, def: &VarDef) -> String {
    let idx = |i: &Option<u32>| i.map(|i| format!("[{}]", p.str(i))).unwrap_or_default();
    match def {
        VarDef::Keyword(k) => k.spelling().to_string(),
        VarDef::RetCode => "$rc".to_string(),
        VarDef::Pv { name, arg, index } => match arg {
            Some(a) => format!("${}({}){}", p.str(*name), p.str(*a), idx(index)),
            None => format!("${}{}", p.str(*name), idx(index)),
        },
        VarDef::Avp { track, name, index } => match track {
            Some(t) => format!("${}.{}{}", t.prefix(), p.str(*name), idx(index)),
            None => format!("${}{}", p.str(*name), idx(index)),
        },
        VarDef::Select { path } => {
            let segs: Vec<&str> = path.iter().map(|s| p.str(*s)).collect();
            format!("@{}", segs.join("."))
        }
    }
}

/// Names given to `$var(...)` slots while resolving.
#[derive(Default)]
pub(crate) struct Slots {
    pub names: Vec<String>,
}

impl Slots {
    fn slot(&mut self, name: &str) -> u32 {
        match self.names.iter().position(|n| n == name) {
            Some(i) => i as u32,
            None => {
                self.names.push(name.to_string());
                (self.names.len() - 1) as u32
            }
        }
    }
}

fn parse_index(s: Option<&str>) -> Result<Index, String> {
    match s.map(str::trim) {
        None => Ok(Index::None),
        Some("*") => Ok(Index::All),
        Some(t) => parse_int(t.as_bytes())
            .map(Index::Nth)
            .ok_or_else(|| format!("bad index `[{t}]`")),
    }
}

/// A Kamailio pseudo-variable written as text in a module parameter
/// (`$fU`, `$avp(s:x)`, `$hdr(User-Agent)[0]`), for modules that evaluate
/// parameters per message (acc's `log_extra`). `$var(...)` is refused: its
/// slots belong to the script.
pub(crate) fn parse_pv_text(spec: &str) -> Result<Pv, String> {
    let t = spec.trim();
    let body = t
        .strip_prefix('$')
        .ok_or_else(|| format!("`{t}`: expected a pseudo-variable such as $fU"))?;
    let name_len = body
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or(body.len());
    let (name, mut rest) = body.split_at(name_len);
    let mut arg = None;
    if let Some(r) = rest.strip_prefix('(') {
        let close = r.find(')').ok_or_else(|| format!("`{t}`: missing `)`"))?;
        arg = Some(&r[..close]);
        rest = &r[close + 1..];
    }
    let mut index = None;
    if let Some(r) = rest.strip_prefix('[') {
        let close = r.find(']').ok_or_else(|| format!("`{t}`: missing `]`"))?;
        index = Some(&r[..close]);
        rest = &r[close + 1..];
    }
    if name.is_empty() || !rest.is_empty() {
        return Err(format!("`{t}`: not a pseudo-variable"));
    }
    if name == "var" {
        return Err(format!("`{t}`: script variables cannot be read here"));
    }
    pv(name, arg, index, &mut Slots::default()).map_err(|e| format!("`{t}`: {e}"))
}

/// Resolves a variable definition. `Err` carries the reason (the caller
/// names the variable).
pub(crate) fn resolve(p: &Program, def: &VarDef, slots: &mut Slots) -> Result<Pv, String> {
    match def {
        VarDef::Keyword(k) => keyword(*k),
        VarDef::RetCode => Ok(Pv::RetCode),
        VarDef::Pv { name, arg, index } => {
            let index = index.map(|i| p.str(i));
            pv(p.str(*name), arg.map(|a| p.str(a)), index, slots)
        }
        VarDef::Avp { track, name, index } => {
            let index = parse_index(index.map(|i| p.str(i)))?;
            let name = p.str(*name);
            if name.is_empty() {
                return Err("empty AVP name".into());
            }
            Ok(Pv::Avp {
                sel: ser_avp_sel(*track, AvpName::Str(name.as_bytes().into())),
                index,
            })
        }
        VarDef::Select { path } => {
            let segs: Vec<&str> = path.iter().map(|s| p.str(*s)).collect();
            select(&segs)
        }
    }
}

fn keyword(k: Keyword) -> Result<Pv, String> {
    Ok(match k {
        Keyword::Method => Pv::Method,
        Keyword::Uri => Pv::Ruri(UriPart::Whole),
        Keyword::Status => Pv::Status,
        Keyword::FromUri => Pv::From(AddrPart::Uri(UriPart::Whole)),
        Keyword::ToUri => Pv::To(AddrPart::Uri(UriPart::Whole)),
        Keyword::SrcIp => Pv::SrcIp,
        Keyword::SrcPort => Pv::SrcPort,
        Keyword::DstIp => Pv::DstIp,
        Keyword::DstPort => Pv::DstPort,
        Keyword::Proto => Pv::Proto,
        Keyword::Af => Pv::Af,
        Keyword::MsgLen => Pv::MsgLen,
        Keyword::MaxLen => Pv::MaxLen,
        Keyword::UriHost => Pv::Ruri(UriPart::Host),
        Keyword::UriPort => Pv::Ruri(UriPart::Port),
        Keyword::SndIp
        | Keyword::SndPort
        | Keyword::SndProto
        | Keyword::SndAf
        | Keyword::ToIp
        | Keyword::ToPort => Pv::Unavailable,
        Keyword::Myself => return Err("`myself` is not a value (compare with it)".into()),
    })
}

/// The selector of a SER 2.x AVP with this track prefix.
fn ser_avp_sel(track: Option<AvpTrack>, name: AvpName) -> AvpSel {
    use AvpClass as C;
    use AvpTrackSide as T;
    let (classes, track, write_class): (&'static [AvpClass], _, _) = match track {
        None | Some(AvpTrack::F) => (ALL_CLASSES, T::From, C::Uri),
        Some(AvpTrack::T) => (ALL_CLASSES, T::To, C::Uri),
        Some(AvpTrack::Fu) => (&[C::User], T::From, C::User),
        Some(AvpTrack::Tu) => (&[C::User], T::To, C::User),
        Some(AvpTrack::Fd) => (&[C::Domain], T::From, C::Domain),
        Some(AvpTrack::Td) => (&[C::Domain], T::To, C::Domain),
        Some(AvpTrack::Fr) => (&[C::Uri], T::From, C::Uri),
        Some(AvpTrack::Tr) => (&[C::Uri], T::To, C::Uri),
    };
    AvpSel {
        name,
        classes,
        track,
        write_class,
    }
}

/// `$avp(...)`'s argument: `i:80`, `s:name`, `name`.
pub(crate) fn kamailio_avp_name(arg: &str) -> Result<AvpName, String> {
    let arg = arg.trim();
    if let Some(n) = arg.strip_prefix("i:") {
        return parse_int(n.trim().as_bytes())
            .map(AvpName::Int)
            .ok_or_else(|| format!("bad integer AVP name `{arg}`"));
    }
    let name = arg.strip_prefix("s:").unwrap_or(arg).trim();
    if name.is_empty() || name.starts_with('$') {
        return Err(format!("unsupported AVP name `{arg}`"));
    }
    Ok(AvpName::Str(name.as_bytes().into()))
}

fn pv(name: &str, arg: Option<&str>, index: Option<&str>, slots: &mut Slots) -> Result<Pv, String> {
    // Variables with an argument.
    match (name, arg) {
        ("hdr", Some(h)) => {
            let h = h.trim();
            if h.is_empty() || !h.bytes().all(crate::sip::lex::is_token) {
                return Err(format!("bad header name `{h}`"));
            }
            return Ok(Pv::Hdr {
                name: h.as_bytes().into(),
                index: parse_index(index)?,
            });
        }
        ("avp", Some(a)) => {
            return Ok(Pv::Avp {
                sel: ser_avp_sel(None, kamailio_avp_name(a)?),
                index: parse_index(index)?,
            });
        }
        ("var", Some(v)) => {
            let v = v.trim();
            if v.is_empty() {
                return Err("empty $var name".into());
            }
            if index.is_some() {
                return Err("$var takes no index".into());
            }
            return Ok(Pv::Var(slots.slot(v)));
        }
        ("sel", Some(path)) => {
            if index.is_some() {
                return Err("$sel takes no index".into());
            }
            let segs: Vec<&str> = path.split('.').collect();
            return select(&segs);
        }
        (_, Some(_)) => return Err("unknown pseudo-variable".into()),
        (_, None) => {}
    }
    if index.is_some() {
        return Err("this pseudo-variable takes no index".into());
    }
    use AddrPart as A;
    use UriPart as U;
    Ok(match name {
        "null" => Pv::Null,
        "rc" | "retcode" => Pv::RetCode,
        "ru" => Pv::Ruri(U::Whole),
        "rU" => Pv::Ruri(U::User),
        "rd" => Pv::Ruri(U::Host),
        "rp" => Pv::Ruri(U::Port),
        "rz" => Pv::Ruri(U::Scheme),
        "rP" => Pv::Ruri(U::Transport),
        "oP" => Pv::Ouri(U::Transport),
        "dd" => Pv::Dst(U::Host),
        "dp" => Pv::Dst(U::Port),
        "dP" => Pv::Dst(U::Transport),
        "rt" => Pv::HdrAddr(b"Refer-To", A::Uri(U::Whole)),
        "ai" => Pv::HdrAddr(b"P-Asserted-Identity", A::Uri(U::Whole)),
        "di" => Pv::HdrAddr(b"Diversion", A::Uri(U::Whole)),
        "re" => Pv::HdrAddr(b"Remote-Party-ID", A::Uri(U::Whole)),
        "pu" => Pv::HdrAddr(b"P-Preferred-Identity", A::Uri(U::Whole)),
        "pU" => Pv::HdrAddr(b"P-Preferred-Identity", A::Uri(U::User)),
        "pd" => Pv::HdrAddr(b"P-Preferred-Identity", A::Uri(U::Host)),
        "pn" => Pv::HdrAddr(b"P-Preferred-Identity", A::Name),
        "mi" => Pv::MsgId,
        "mt" => Pv::MsgType,
        "pp" => Pv::Pid,
        "Tf" => Pv::TimeText,
        "ou" => Pv::Ouri(U::Whole),
        "oU" => Pv::Ouri(U::User),
        "od" => Pv::Ouri(U::Host),
        "op" => Pv::Ouri(U::Port),
        "du" => Pv::Du,
        "fu" => Pv::From(A::Uri(U::Whole)),
        "fU" => Pv::From(A::Uri(U::User)),
        "fd" => Pv::From(A::Uri(U::Host)),
        "fn" => Pv::From(A::Name),
        "ft" => Pv::From(A::Tag),
        "tu" => Pv::To(A::Uri(U::Whole)),
        "tU" => Pv::To(A::Uri(U::User)),
        "td" => Pv::To(A::Uri(U::Host)),
        "tn" => Pv::To(A::Name),
        "tt" => Pv::To(A::Tag),
        "si" => Pv::SrcIp,
        "sp" => Pv::SrcPort,
        "Ri" => Pv::DstIp,
        "Rp" => Pv::DstPort,
        "pr" | "proto" => Pv::Proto,
        "ci" => Pv::CallId,
        "cs" => Pv::CSeqNum,
        "rm" => Pv::Method,
        "rs" => Pv::Status,
        "rr" => Pv::Reason,
        "rv" => Pv::Version,
        "ua" => Pv::UserAgent,
        "au" => Pv::Auth(AuthPart::User),
        "aU" => Pv::Auth(AuthPart::Username),
        "ad" => Pv::Auth(AuthPart::Domain),
        "ar" => Pv::Auth(AuthPart::Realm),
        "mb" => Pv::MsgBuf,
        "ml" => Pv::MsgLen,
        "rb" => Pv::Body,
        "ct" => Pv::Contact,
        "cl" => Pv::ContentLength,
        "cT" => Pv::ContentType,
        "br" => Pv::BranchUri,
        "bf" => Pv::BFlags { hex: false },
        "bF" => Pv::BFlags { hex: true },
        "mf" => Pv::MFlags { hex: false },
        "mF" => Pv::MFlags { hex: true },
        "Ts" => Pv::Timestamp,
        _ => return Err("unknown pseudo-variable".into()),
    })
}

/// Splits `name[idx]`.
fn segment(s: &str) -> Result<(&str, Option<i64>), String> {
    match s.split_once('[') {
        None => Ok((s, None)),
        Some((name, rest)) => {
            let inner = rest
                .strip_suffix(']')
                .ok_or_else(|| format!("bad select segment `{s}`"))?;
            let n = parse_int(inner.trim().as_bytes())
                .ok_or_else(|| format!("bad select index `{s}`"))?;
            Ok((name, Some(n)))
        }
    }
}

fn uri_part(s: Option<&str>) -> Option<UriPart> {
    Some(match s {
        None => UriPart::Whole,
        Some("user") => UriPart::User,
        Some("host") => UriPart::Host,
        Some("port") => UriPart::Port,
        Some("scheme") => UriPart::Scheme,
        Some("params") => UriPart::Params,
        _ => return None,
    })
}

fn select(segs: &[&str]) -> Result<Pv, String> {
    let mut parsed = Vec::with_capacity(segs.len());
    for s in segs {
        parsed.push(segment(s.trim())?);
    }
    let names: Vec<&str> = parsed.iter().map(|(n, _)| *n).collect();
    let idx: Vec<Option<i64>> = parsed.iter().map(|(_, i)| *i).collect();
    let unknown = || Err("unknown select".to_string());
    // Only `via` takes an index.
    if idx
        .iter()
        .enumerate()
        .any(|(i, x)| x.is_some() && names.get(i) != Some(&"via"))
    {
        return Err("this select takes no index".into());
    }
    let addr = |rest: &[&str]| -> Option<AddrPart> {
        Some(match rest {
            [] => AddrPart::Whole,
            ["uri"] => AddrPart::Uri(UriPart::Whole),
            ["uri", p] => AddrPart::Uri(uri_part(Some(p)).filter(|p| *p != UriPart::Whole)?),
            ["tag"] => AddrPart::Tag,
            ["name"] => AddrPart::Name,
            _ => return None,
        })
    };
    Ok(match names.as_slice() {
        ["ruri"] => Pv::Ruri(UriPart::Whole),
        ["ruri", p] => match uri_part(Some(p)) {
            Some(u) => Pv::Ruri(u),
            None => return unknown(),
        },
        ["from", rest @ ..] => match addr(rest) {
            Some(a) => Pv::From(a),
            None => return unknown(),
        },
        ["to", rest @ ..] => match addr(rest) {
            Some(a) => Pv::To(a),
            None => return unknown(),
        },
        ["via", rest @ ..] => {
            let n = idx.first().copied().flatten().unwrap_or(0);
            let part = match rest {
                [] => ViaPart::Whole,
                ["branch"] => ViaPart::Branch,
                ["host"] => ViaPart::Host,
                ["port"] => ViaPart::Port,
                ["received"] => ViaPart::Received,
                ["rport"] => ViaPart::Rport,
                ["transport"] => ViaPart::Transport,
                _ => return unknown(),
            };
            Pv::Via(n, part)
        }
        ["msg"] => Pv::MsgBuf,
        ["msg", "len"] => Pv::MsgLen,
        ["msg", "body"] => Pv::Body,
        ["method"] => Pv::Method,
        ["call_id"] => Pv::CallId,
        ["cseq"] => Pv::CSeq,
        ["cseq", "num"] => Pv::CSeqNum,
        ["cseq", "method"] => Pv::CSeqMethod,
        ["contact"] => Pv::Contact,
        ["src", "ip"] => Pv::SrcIp,
        ["src", "port"] => Pv::SrcPort,
        ["dst", "ip"] => Pv::DstIp,
        ["dst", "port"] => Pv::DstPort,
        ["cfg_get", group, name] if !group.is_empty() && !name.is_empty() => Pv::CfgGet {
            group: group.as_bytes().into(),
            name: name.as_bytes().into(),
        },
        _ => return unknown(),
    })
}

/// Formats an IP address (allocates).
fn ip_value<'r>(ip: std::net::IpAddr) -> Value<'r> {
    Value::owned(ip.to_string().into_bytes())
}

fn host_value<'x>(h: Host<'x>) -> Value<'x> {
    match h {
        Host::V4(a) => Value::owned(a.to_string().into_bytes()),
        Host::V6(_, raw) | Host::Name(raw) => Value::str(raw),
    }
}

/// A part of a parsed URI.
pub(crate) fn uri_value<'x>(u: &Uri<'x>, part: UriPart) -> Value<'x> {
    match part {
        UriPart::Whole => Value::str(u.raw),
        UriPart::User => u.user().map_or(Value::Null, Value::str),
        UriPart::Host => u.host().map_or(Value::Null, host_value),
        UriPart::Port => {
            if u.host().is_some() {
                Value::Int(i64::from(u.port_or_default()))
            } else {
                Value::Null
            }
        }
        UriPart::Scheme => Value::str(u.scheme.as_bytes()),
        UriPart::Params => {
            let p = u.params_raw();
            if p.is_empty() {
                Value::Null
            } else {
                Value::str(p)
            }
        }
        UriPart::Transport => match u.transport() {
            Some(t) => Value::str(t),
            None if u.host().is_some() => Value::str(b"udp"),
            None => Value::Null,
        },
    }
}

/// A part of a URI given as text (parsed here; `Null` if it does not
/// parse). The result owns its bytes.
pub(crate) fn uri_text_value(msg: &SipMsg<'_>, text: &[u8], part: UriPart) -> Value<'static> {
    if part == UriPart::Whole {
        return Value::owned(text.to_vec());
    }
    match Uri::parse(text, msg.limits()) {
        Ok(u) => uri_value(&u, part).into_owned(),
        Err(_) => Value::Null,
    }
}

fn addr_value<'x>(
    msg: &SipMsg<'x>,
    which: HeaderName,
    na: Option<&crate::sip::NameAddr<'x>>,
    part: AddrPart,
) -> Value<'x> {
    match part {
        AddrPart::Whole => msg.value(which).map_or(Value::Null, Value::str),
        AddrPart::Uri(u) => na.map_or(Value::Null, |n| uri_value(&n.uri, u)),
        AddrPart::Name => na.and_then(|n| n.display).map_or(Value::Null, Value::str),
        AddrPart::Tag => na.and_then(|n| n.tag()).map_or(Value::Null, Value::str),
    }
}

fn flags_value<'r>(f: u64, hex: bool) -> Value<'r> {
    if hex {
        // Kamailio prints eight lower-case hex digits.
        Value::owned(format!("{f:08x}").into_bytes())
    } else {
        Value::Int(i64::try_from(f).unwrap_or(i64::MAX))
    }
}

impl Pv {
    /// Reads the variable: the cheapest and most common ones inline, the
    /// others out of line.
    #[inline(always)]
    pub(crate) fn get<'m, 'a, 'r>(&self, ctx: &MsgCtx<'m, 'a>) -> Value<'r>
    where
        'm: 'r,
        'a: 'r,
    {
        match self {
            Pv::RetCode => Value::Int(i64::from(ctx.rc)),
            Pv::MsgLen => Value::Int(ctx.msg.len() as i64),
            Pv::MaxLen => Value::Int(i64::from(ctx.config.max_len)),
            Pv::Method if ctx.msg.is_request() => match ctx.msg.method() {
                Some(m) => Value::str(m.as_bytes()),
                None => Value::Null,
            },
            Pv::Ruri(UriPart::Whole) if ctx.new_uri.is_none() => {
                ctx.msg.ruri_bytes().map_or(Value::Null, Value::str)
            }
            Pv::Var(slot) => match ctx.vars.get(*slot) {
                Value::Int(n) => Value::Int(*n),
                other => other.clone(),
            },
            _ => self.get_slow(ctx),
        }
    }

    #[inline(never)]
    fn get_slow<'m, 'a, 'r>(&self, ctx: &MsgCtx<'m, 'a>) -> Value<'r>
    where
        'm: 'r,
        'a: 'r,
    {
        let msg: &'m SipMsg<'a> = ctx.msg;
        match self {
            Pv::Null | Pv::Unavailable => Value::Null,
            Pv::RetCode => Value::Int(i64::from(ctx.rc)),
            Pv::Method => match msg.method() {
                Some(m) => Value::str(m.as_bytes()),
                None => msg
                    .cseq()
                    .map_or(Value::Null, |c| Value::str(c.method.as_bytes())),
            },
            Pv::Status => msg
                .status()
                .map_or(Value::Null, |c| Value::Int(i64::from(c))),
            Pv::Reason => msg.reason().map_or(Value::Null, Value::str),
            Pv::Ruri(part) => match &ctx.new_uri {
                Some(u) => uri_text_value(msg, u, *part),
                None => received_uri(msg, *part),
            },
            Pv::Ouri(part) => received_uri(msg, *part),
            Pv::Du => ctx
                .dst_uri
                .as_ref()
                .map_or(Value::Null, |d| Value::owned(d.clone())),
            Pv::From(part) => addr_value(msg, HeaderName::From, msg.from().ok(), *part),
            Pv::To(part) => addr_value(msg, HeaderName::To, msg.to().ok(), *part),
            Pv::Via(n, part) => {
                let Ok(vias) = msg.vias() else {
                    return Value::Null;
                };
                let i = if *n < 0 {
                    vias.len().checked_sub(n.unsigned_abs() as usize)
                } else {
                    Some(*n as usize)
                };
                let Some(v) = i.and_then(|i| vias.get(i)) else {
                    return Value::Null;
                };
                match part {
                    ViaPart::Whole => Value::str(v.raw),
                    ViaPart::Branch => v.branch().map_or(Value::Null, Value::str),
                    ViaPart::Host => host_value(v.host),
                    ViaPart::Port => Value::Int(i64::from(v.port_or_default())),
                    ViaPart::Received => v.received().map_or(Value::Null, Value::str),
                    ViaPart::Rport => match v.rport() {
                        Some(Some(p)) => Value::Int(i64::from(p)),
                        Some(None) => Value::str(b""),
                        None => Value::Null,
                    },
                    ViaPart::Transport => Value::str(v.transport.as_bytes()),
                }
            }
            Pv::SrcIp => ip_value(ctx.src.ip()),
            Pv::SrcPort => Value::Int(i64::from(ctx.src.port())),
            Pv::DstIp => ip_value(ctx.dst.ip()),
            Pv::DstPort => Value::Int(i64::from(ctx.dst.port())),
            Pv::Proto => Value::str(ctx.proto.as_str().as_bytes()),
            Pv::Af => Value::str(if ctx.src.is_ipv4() { b"inet" } else { b"inet6" }),
            Pv::MsgLen => Value::Int(msg.len() as i64),
            Pv::MaxLen => Value::Int(i64::from(ctx.config.max_len)),
            Pv::MsgBuf => Value::str(msg.bytes()),
            Pv::Body => Value::str(msg.body()),
            Pv::CallId => msg
                .value(HeaderName::CallId)
                .map_or(Value::Null, Value::str),
            Pv::CSeq => msg.value(HeaderName::CSeq).map_or(Value::Null, Value::str),
            Pv::CSeqNum => msg
                .cseq()
                .map_or(Value::Null, |c| Value::Int(i64::from(c.num))),
            Pv::CSeqMethod => msg
                .cseq()
                .map_or(Value::Null, |c| Value::str(c.method.as_bytes())),
            Pv::Version => Value::str(b"SIP/2.0"),
            Pv::UserAgent => msg
                .value(HeaderName::UserAgent)
                .map_or(Value::Null, Value::str),
            Pv::Contact => msg
                .value(HeaderName::Contact)
                .map_or(Value::Null, Value::str),
            Pv::ContentLength => msg
                .content_length()
                .map_or(Value::Null, |n| Value::Int(i64::from(n))),
            Pv::ContentType => msg
                .value(HeaderName::ContentType)
                .map_or(Value::Null, Value::str),
            Pv::Auth(part) => auth_value(msg, *part),
            Pv::BranchUri => ctx
                .branches
                .first()
                .map_or(Value::Null, |b| Value::owned(b.uri.clone())),
            Pv::BFlags { hex } => flags_value(ctx.bflags, *hex),
            Pv::MFlags { hex } => flags_value(ctx.flags, *hex),
            Pv::Timestamp => Value::Int(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64),
            ),
            Pv::TimeText => Value::owned(ctime_utc(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64),
            )),
            Pv::MsgId => Value::Int(i64::try_from(ctx.msg_id).unwrap_or(i64::MAX)),
            Pv::MsgType => Value::Int(if msg.is_request() { 1 } else { 2 }),
            Pv::Pid => Value::Int(i64::from(std::process::id())),
            Pv::Dst(part) => match &ctx.dst_uri {
                Some(d) => uri_text_value(msg, d, *part),
                None => Value::Null,
            },
            Pv::HdrAddr(name, part) => match msg.value_by_name(name) {
                Some(v) => {
                    let na = crate::sip::NameAddr::parse(v, msg.limits()).ok();
                    match part {
                        AddrPart::Whole => Value::str(v),
                        AddrPart::Uri(u) => na.map_or(Value::Null, |n| uri_value(&n.uri, *u)),
                        AddrPart::Name => {
                            na.and_then(|n| n.display).map_or(Value::Null, Value::str)
                        }
                        AddrPart::Tag => na.and_then(|n| n.tag()).map_or(Value::Null, Value::str),
                    }
                }
                None => Value::Null,
            },
            Pv::Hdr { name, index } => hdr_value(msg, name, *index),
            Pv::Avp { sel, index } => match index {
                Index::None => ctx.avp_get(sel, 0).unwrap_or(Value::Null),
                Index::Nth(n) => ctx.avp_get(sel, *n).unwrap_or(Value::Null),
                Index::All => {
                    // Every value, newest first, joined with "," (one
                    // value is returned as it is).
                    let all = ctx.avp_values(sel);
                    if all.len() <= 1 {
                        return all.into_iter().next().unwrap_or(Value::Null);
                    }
                    let mut out = Vec::new();
                    for (i, v) in all.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        v.append_to(&mut out);
                    }
                    Value::owned(out)
                }
            },
            Pv::Var(slot) => ctx.vars.get(*slot).clone(),
            Pv::CfgGet { group, name } => ctx.config.cfg_var(group, name).unwrap_or(Value::Null),
        }
    }

    /// Whether the variable can be assigned.
    pub(crate) fn writable(&self) -> bool {
        matches!(
            self,
            Pv::Null
                | Pv::Ruri(UriPart::Whole | UriPart::User | UriPart::Host | UriPart::Port)
                | Pv::Du
                | Pv::Avp { .. }
                | Pv::Var(_)
        )
    }

    /// Assigns a value: `all` is `:=` (replace every value of an AVP).
    pub(crate) fn set(
        &self,
        ctx: &mut MsgCtx<'_, '_>,
        value: Value<'_>,
        all: bool,
    ) -> Result<(), String> {
        match self {
            Pv::Null => Ok(()),
            Pv::Var(slot) => {
                let v = match value {
                    Value::Null => Value::Int(0),
                    v => v.into_owned(),
                };
                ctx.vars.set(*slot, v);
                Ok(())
            }
            Pv::Avp { sel, index } => {
                let avps = &mut ctx.avps;
                let null = value.is_null();
                if all || *index == Index::All {
                    avps.remove_all(sel);
                    if null {
                        return Ok(());
                    }
                    return push_avp(avps, sel, value);
                }
                match (index, null) {
                    (Index::None, true) => {
                        avps.remove_nth(sel, 0);
                        Ok(())
                    }
                    (Index::Nth(n), true) => {
                        avps.remove_nth(sel, *n);
                        Ok(())
                    }
                    (Index::None, false) => push_avp(avps, sel, value),
                    (Index::Nth(n), false) => {
                        if avps.replace_nth(sel, *n, value.into_owned()) {
                            Ok(())
                        } else {
                            Err(format!("the AVP has no value [{n}]"))
                        }
                    }
                    (Index::All, _) => Ok(()),
                }
            }
            Pv::Du => {
                let text = value.into_bytes();
                if text.is_empty() {
                    ctx.dst_uri = None;
                } else {
                    check_uri_text(&text)?;
                    ctx.dst_uri = Some(text.into_owned());
                }
                Ok(())
            }
            Pv::Ruri(UriPart::Whole) => {
                if value.is_null() {
                    return Err("cannot set the Request-URI to $null".into());
                }
                let text = value.into_bytes();
                check_uri_text(&text)?;
                ctx.new_uri = Some(text.into_owned());
                Ok(())
            }
            Pv::Ruri(part @ (UriPart::User | UriPart::Host | UriPart::Port)) => {
                let text: Option<Cow<'_, [u8]>> = match value {
                    Value::Null => None,
                    v => Some(v.into_bytes()),
                };
                let edit = match (part, text.as_deref()) {
                    (UriPart::User, t) => UriEdit::User(t.filter(|t| !t.is_empty())),
                    (UriPart::Host, Some(t)) if !t.is_empty() => UriEdit::Host(t),
                    (UriPart::Host, _) => return Err("cannot set an empty host".into()),
                    (_, t) => UriEdit::Port(t.filter(|t| !t.is_empty())),
                };
                uri_ops::apply(ctx, edit)
            }
            _ => Err("not writable".into()),
        }
    }
}

fn push_avp(avps: &mut super::ctx::Avps, sel: &AvpSel, value: Value<'_>) -> Result<(), String> {
    if avps.push(sel, value.into_owned()) {
        Ok(())
    } else {
        Err(format!("too many AVPs (at most {})", super::ctx::MAX_AVPS))
    }
}

/// A URI to be used as a Request-URI or destination: not empty, no white
/// space or control bytes, at most 8 KiB.
pub(crate) fn check_uri_text(t: &[u8]) -> Result<(), String> {
    if t.is_empty() {
        return Err("empty URI".into());
    }
    if t.len() > 8192 {
        return Err("URI longer than 8192 bytes".into());
    }
    if t.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(format!(
            "URI with white space or control characters: `{}`",
            String::from_utf8_lossy(t)
        ));
    }
    Ok(())
}

fn received_uri<'a>(msg: &SipMsg<'a>, part: UriPart) -> Value<'a> {
    let Some(raw) = msg.ruri_bytes() else {
        return Value::Null;
    };
    if part == UriPart::Whole {
        return Value::str(raw);
    }
    match msg.ruri() {
        Ok(u) => uri_value(u, part),
        Err(_) => Value::Null,
    }
}

fn hdr_value<'a>(msg: &SipMsg<'a>, name: &[u8], index: Index) -> Value<'a> {
    match index {
        Index::None | Index::Nth(0) => msg.value_by_name(name).map_or(Value::Null, Value::str),
        Index::Nth(n) if n > 0 => msg
            .headers_by_name(name)
            .nth(n as usize)
            .map_or(Value::Null, |h| Value::str(msg.value_of(h))),
        Index::Nth(n) => {
            let count = msg.headers_by_name(name).count();
            count
                .checked_sub(n.unsigned_abs() as usize)
                .and_then(|i| msg.headers_by_name(name).nth(i))
                .map_or(Value::Null, |h| Value::str(msg.value_of(h)))
        }
        Index::All => {
            let mut out = Vec::new();
            let mut n = 0;
            for h in msg.headers_by_name(name) {
                if n > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(msg.value_of(h));
                n += 1;
            }
            match n {
                0 => Value::Null,
                _ => Value::owned(out),
            }
        }
    }
}

fn auth_value<'a>(msg: &SipMsg<'a>, part: AuthPart) -> Value<'a> {
    let creds = match msg.credentials(HeaderName::Authorization) {
        Ok(c) if !c.is_empty() => c,
        _ => match msg.credentials(HeaderName::ProxyAuthorization) {
            Ok(c) => c,
            Err(_) => return Value::Null,
        },
    };
    let Some(c) = creds.first() else {
        return Value::Null;
    };
    let username = c.username;
    let at = username.and_then(|u| memchr::memchr(b'@', u));
    let v = match part {
        AuthPart::Username => username,
        AuthPart::User => match (username, at) {
            (Some(u), Some(i)) => u.get(..i),
            (u, None) => u,
            (None, _) => None,
        },
        AuthPart::Domain => match (username, at) {
            (Some(u), Some(i)) => u.get(i + 1..),
            _ => None,
        },
        AuthPart::Realm => c.realm,
    };
    v.map_or(Value::Null, Value::str)
}

/// `ctime`-style text for a Unix time, in UTC: `Tue Nov 24 06:42:13 2026`.
fn ctime_utc(secs: i64) -> Vec<u8> {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let wd = DAYS
        .get(days.rem_euclid(7) as usize)
        .copied()
        .unwrap_or("???");
    let mon = MONTHS.get((m - 1) as usize).copied().unwrap_or("???");
    format!(
        "{wd} {mon} {d:2} {:02}:{:02}:{:02} {y}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_text() {
        assert_eq!(ctime_utc(0), b"Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime_utc(1_795_933_333), b"Sun Nov 29 06:22:13 2026");
        assert_eq!(ctime_utc(951_782_400), b"Tue Feb 29 00:00:00 2000");
    }
}
