//! Request-URI rewriting (`rewritehost`, `prefix`, `strip`, `$rU = ...`):
//! the current Request-URI is parsed, one part replaced, and the URI
//! written back as `scheme:[user[:password]@]host[:port][;params][?headers]`
//! (parameters and headers kept as written), as SER's core actions do.

use crate::sip::host::{Host, parse_v6};
use crate::sip::uri::Uri;

use super::ctx::MsgCtx;
use super::pv::check_uri_text;
use super::value::{IntText, split_once_byte};

/// One change to the Request-URI.
#[derive(Clone, Copy, Debug)]
pub(crate) enum UriEdit<'x> {
    /// Replace the user (`None` removes it; the password is kept).
    User(Option<&'x [u8]>),
    /// Replace user and password with `user[:password]`.
    UserPass(&'x [u8]),
    /// Replace the host, keep the port.
    Host(&'x [u8]),
    /// Replace host and port with `host[:port]` (no port: none).
    HostPort(&'x [u8]),
    /// Replace the port (`None` removes it).
    Port(Option<&'x [u8]>),
    /// Put text before the user.
    Prefix(&'x [u8]),
    /// Remove this many bytes from the start of the user.
    Strip(usize),
    /// Remove this many bytes from the end of the user.
    StripTail(usize),
}

/// Applies an edit to the current Request-URI of `ctx`.
pub(crate) fn apply(ctx: &mut MsgCtx<'_, '_>, edit: UriEdit<'_>) -> Result<(), String> {
    let cur = ctx.ruri();
    if cur.is_empty() {
        return Err("the message has no Request-URI".into());
    }
    let uri = Uri::parse(cur, ctx.msg.limits()).map_err(|e| {
        format!(
            "cannot parse the Request-URI `{}`: {e}",
            String::from_utf8_lossy(cur)
        )
    })?;
    let out = rewrite(&uri, edit)?;
    check_uri_text(&out)?;
    ctx.new_uri = Some(out);
    Ok(())
}

fn host_text(h: &Host<'_>, out: &mut Vec<u8>) {
    match h {
        Host::V4(a) => out.extend_from_slice(a.to_string().as_bytes()),
        Host::V6(_, raw) | Host::Name(raw) => out.extend_from_slice(raw),
    }
}

fn check_part(what: &str, t: &[u8], bad: &[u8]) -> Result<(), String> {
    if t.iter()
        .any(|b| *b <= b' ' || *b == 0x7f || bad.contains(b))
    {
        return Err(format!("bad {what} `{}`", String::from_utf8_lossy(t)));
    }
    Ok(())
}

fn check_port(p: &[u8]) -> Result<(), String> {
    match super::value::parse_int(p) {
        Some(n) if (0..=65535).contains(&n) && p.iter().all(u8::is_ascii_digit) => Ok(()),
        _ => Err(format!("bad port `{}`", String::from_utf8_lossy(p))),
    }
}

/// Builds the rewritten URI.
pub(crate) fn rewrite(u: &Uri<'_>, edit: UriEdit<'_>) -> Result<Vec<u8>, String> {
    let mut user: Option<Vec<u8>> = u.user().map(<[u8]>::to_vec);
    let mut pass: Option<&[u8]> = u.password();
    let mut host: Option<Vec<u8>> = u.host().map(|h| {
        let mut v = Vec::new();
        host_text(&h, &mut v);
        v
    });
    let mut port: Option<Vec<u8>> = u
        .port()
        .map(|p| IntText::new(i64::from(p)).as_bytes().to_vec());
    let needs_host = !matches!(
        edit,
        UriEdit::User(_) | UriEdit::Prefix(_) | UriEdit::Strip(_) | UriEdit::StripTail(_)
    );
    if host.is_none() && !u.is_tel() {
        return Err(format!(
            "cannot rewrite `{}`: not a sip, sips or tel URI",
            String::from_utf8_lossy(u.raw)
        ));
    }
    if host.is_none() && needs_host {
        return Err(format!(
            "a tel URI has no host or port: `{}`",
            String::from_utf8_lossy(u.raw)
        ));
    }
    match edit {
        UriEdit::User(t) => {
            if let Some(t) = t {
                check_part("user", t, b"@")?;
            }
            user = t.map(<[u8]>::to_vec);
        }
        UriEdit::UserPass(t) => {
            check_part("user", t, b"@")?;
            match split_once_byte(t, b':') {
                Some((u, p)) => {
                    user = Some(u.to_vec());
                    pass = Some(p);
                }
                None => {
                    user = Some(t.to_vec());
                    pass = None;
                }
            }
            if user.as_ref().is_some_and(Vec::is_empty) {
                user = None;
                pass = None;
            }
        }
        UriEdit::Host(t) => {
            check_part("host", t, b"@;?/")?;
            // A bare IPv6 address gets its brackets.
            host = Some(if t.first() != Some(&b'[') && parse_v6(t).is_some() {
                [&b"["[..], t, b"]"].concat()
            } else {
                t.to_vec()
            });
        }
        UriEdit::HostPort(t) => {
            check_part("host", t, b"@;?/")?;
            // `[v6]:port`, `[v6]`, `host:port`, `host`.
            let (h, p) = if t.first() == Some(&b'[') {
                let close = memchr::memchr(b']', t).ok_or("bad host:port")?;
                match (t.get(..=close), t.get(close + 1..)) {
                    (Some(h), Some([b':', rest @ ..])) => (h, Some(rest)),
                    (_, Some([]) | None) => (t, None),
                    _ => return Err("bad host:port".into()),
                }
            } else {
                match memchr::memrchr(b':', t) {
                    Some(i) => (t.get(..i).unwrap_or(t), t.get(i + 1..)),
                    None => (t, None),
                }
            };
            if h.is_empty() {
                return Err("empty host".into());
            }
            if let Some(p) = p {
                check_port(p)?;
            }
            host = Some(h.to_vec());
            port = p.map(<[u8]>::to_vec);
        }
        UriEdit::Port(t) => {
            if let Some(p) = t {
                check_port(p)?;
            }
            port = t.map(<[u8]>::to_vec);
        }
        UriEdit::Prefix(t) => {
            check_part("prefix", t, b"@")?;
            let mut v = t.to_vec();
            if let Some(old) = &user {
                v.extend_from_slice(old);
            }
            user = Some(v);
        }
        UriEdit::Strip(n) => {
            if let Some(old) = &mut user {
                old.drain(..n.min(old.len()));
            }
        }
        UriEdit::StripTail(n) => {
            if let Some(old) = &mut user {
                old.truncate(old.len().saturating_sub(n));
            }
        }
    }
    if user.as_ref().is_some_and(Vec::is_empty) && pass.is_none_or(<[u8]>::is_empty) {
        user = None;
        pass = None;
    }
    let mut out = Vec::with_capacity(u.raw.len() + 16);
    out.extend_from_slice(u.scheme.as_bytes());
    out.push(b':');
    match &host {
        Some(h) => {
            if let Some(us) = &user {
                out.extend_from_slice(us);
                if let Some(p) = pass {
                    out.push(b':');
                    out.extend_from_slice(p);
                }
                out.push(b'@');
            }
            out.extend_from_slice(h);
            if let Some(p) = &port {
                out.push(b':');
                out.extend_from_slice(p);
            }
        }
        None => {
            // tel: the user is the number.
            match &user {
                Some(us) => out.extend_from_slice(us),
                None => return Err("cannot remove the number of a tel: URI".into()),
            }
        }
    }
    let params = u.params_raw();
    if !params.is_empty() {
        out.push(b';');
        out.extend_from_slice(params);
    }
    let headers = u.headers_raw();
    if !headers.is_empty() {
        out.push(b'?');
        out.extend_from_slice(headers);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Limits;

    fn rw(uri: &str, e: UriEdit<'_>) -> Result<String, String> {
        let u = Uri::parse(uri.as_bytes(), &Limits::DEFAULT).unwrap();
        rewrite(&u, e).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn rewrites() {
        let u = "sip:bob:secret@example.com:5070;transport=tcp?subject=x";
        assert_eq!(
            rw(u, UriEdit::Host(b"gw.example.net")).unwrap(),
            "sip:bob:secret@gw.example.net:5070;transport=tcp?subject=x"
        );
        assert_eq!(
            rw(u, UriEdit::HostPort(b"192.0.2.245:5080")).unwrap(),
            "sip:bob:secret@192.0.2.245:5080;transport=tcp?subject=x"
        );
        assert_eq!(
            rw("sip:a@b:5060", UriEdit::Host(b"2001:db8::1")).unwrap(),
            "sip:a@[2001:db8::1]:5060"
        );
        assert_eq!(
            rw(u, UriEdit::HostPort(b"[2001:db8::1]")).unwrap(),
            "sip:bob:secret@[2001:db8::1];transport=tcp?subject=x"
        );
        assert_eq!(
            rw(u, UriEdit::User(Some(b"alice"))).unwrap(),
            "sip:alice:secret@example.com:5070;transport=tcp?subject=x"
        );
        assert_eq!(
            rw(u, UriEdit::UserPass(b"carol")).unwrap(),
            "sip:carol@example.com:5070;transport=tcp?subject=x"
        );
        assert_eq!(
            rw(u, UriEdit::Port(None)).unwrap(),
            "sip:bob:secret@example.com;transport=tcp?subject=x"
        );
        assert_eq!(
            rw("sips:18005551212@gw", UriEdit::Strip(1)).unwrap(),
            "sips:8005551212@gw"
        );
        assert_eq!(rw("sip:12@gw", UriEdit::Strip(5)).unwrap(), "sip:gw");
        assert_eq!(
            rw("sip:1234@gw", UriEdit::StripTail(2)).unwrap(),
            "sip:12@gw"
        );
        assert_eq!(rw("sip:gw", UriEdit::Prefix(b"00")).unwrap(), "sip:00@gw");
        assert_eq!(
            rw("sip:[::1]:5060", UriEdit::Prefix(b"9")).unwrap(),
            "sip:9@[::1]:5060"
        );
        assert_eq!(
            rw("sip:1.2.3.4", UriEdit::Port(Some(b"5062"))).unwrap(),
            "sip:1.2.3.4:5062"
        );
        assert_eq!(
            rw("tel:+1-555-0100;phone-context=x", UriEdit::Prefix(b"00")).unwrap(),
            "tel:00+1-555-0100;phone-context=x"
        );
        assert!(rw("tel:+15550100", UriEdit::Host(b"gw")).is_err());
        assert!(rw(u, UriEdit::Port(Some(b"99999"))).is_err());
        assert!(rw(u, UriEdit::Host(b"a b")).is_err());
        assert!(rw(u, UriEdit::User(Some(b"a@b"))).is_err());
    }
}
