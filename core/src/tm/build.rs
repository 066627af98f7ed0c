//! Requests the transaction layer makes itself, from a request it sent:
//! the CANCEL of a branch (RFC 3261 9.1) and the ACK of a non-2xx final
//! reply to an INVITE (RFC 3261 17.1.1.3).
//!
//! Both copy from the INVITE as sent (our Via on top, so the branch is
//! the INVITE's): the Request-URI, the top Via only, From, Call-ID, the
//! CSeq number, and the Route headers (RFC 3261 9.1 and 17.1.1.3 ask for
//! the same route set). The CANCEL copies To from the INVITE; the ACK takes
//! To from the reply (it carries the tag of the answering UAS).
//! `Max-Forwards: 70` and `Content-Length: 0` close them.

use crate::sip::header::HeaderName;
use crate::sip::msg::SipMsg;

/// Why a request could not be built.
pub type BuildResult = Result<Vec<u8>, String>;

fn value<'a>(msg: &SipMsg<'a>, name: HeaderName, what: &str) -> Result<&'a [u8], String> {
    msg.value(name)
        .ok_or_else(|| format!("the sent request has no {what}"))
}

/// The top Via value of the request as sent (ours: it is on a line of
/// its own, where the forwarding put it).
fn top_via<'a>(sent: &SipMsg<'a>) -> Result<&'a [u8], String> {
    let v = value(sent, HeaderName::Via, "Via")?;
    // Our Via line holds one value; cut at a comma anyway.
    let end = memchr::memchr(b',', v).unwrap_or(v.len());
    Ok(v.get(..end).unwrap_or(v).trim_ascii_end())
}

fn common(sent: &SipMsg<'_>, method: &[u8], to: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let ruri = sent
        .ruri_bytes()
        .ok_or_else(|| "the sent message is not a request".to_string())?;
    let via = top_via(sent)?;
    let from = value(sent, HeaderName::From, "From")?;
    let call_id = value(sent, HeaderName::CallId, "Call-ID")?;
    let cseq = sent.cseq().map_err(|e| format!("bad CSeq: {e}"))?.num;
    out.reserve(ruri.len() + via.len() + from.len() + to.len() + call_id.len() + 160);
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(ruri);
    out.extend_from_slice(b" SIP/2.0\r\nVia: ");
    out.extend_from_slice(via);
    out.extend_from_slice(b"\r\nMax-Forwards: 70\r\nFrom: ");
    out.extend_from_slice(from);
    out.extend_from_slice(b"\r\nTo: ");
    out.extend_from_slice(to);
    out.extend_from_slice(b"\r\nCall-ID: ");
    out.extend_from_slice(call_id);
    out.extend_from_slice(b"\r\nCSeq: ");
    out.extend_from_slice(cseq.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(method);
    out.extend_from_slice(b"\r\n");
    for h in sent.headers_named(HeaderName::Route) {
        out.extend_from_slice(b"Route: ");
        out.extend_from_slice(sent.value_of(h));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Ok(())
}

/// The CANCEL of a request we sent.
pub fn cancel(sent: &SipMsg<'_>) -> BuildResult {
    let to = value(sent, HeaderName::To, "To")?;
    let mut out = Vec::new();
    common(sent, b"CANCEL", to, &mut out)?;
    Ok(out)
}

/// The ACK of a non-2xx final `reply` to an INVITE we sent.
pub fn ack(sent: &SipMsg<'_>, reply: &SipMsg<'_>) -> BuildResult {
    let to = value(reply, HeaderName::To, "To")?;
    let mut out = Vec::new();
    common(sent, b"ACK", to, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENT: &[u8] = b"INVITE sip:bob@192.0.2.4:5062 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc.def\r\n\
        Via: SIP/2.0/UDP 192.0.2.9:5070;branch=z9hG4bK-up;received=192.0.2.9\r\n\
        Record-Route: <sip:192.0.2.1;lr>\r\n\
        Route: <sip:p2.example.com;lr>\r\n\
        Route: <sip:p3.example.com;lr>\r\n\
        Max-Forwards: 69\r\n\
        From: Alice <sip:alice@example.com>;tag=a1\r\n\
        To: <sip:bob@example.com>\r\n\
        Call-ID: c1@192.0.2.9\r\n\
        CSeq: 7 INVITE\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 4\r\n\r\nv=0\n";

    #[test]
    fn cancel_copies_the_invite() {
        let sent = SipMsg::parse(SENT).unwrap();
        let c = cancel(&sent).unwrap();
        let text = String::from_utf8(c.clone()).unwrap();
        assert_eq!(
            text,
            "CANCEL sip:bob@192.0.2.4:5062 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc.def\r\n\
             Max-Forwards: 70\r\n\
             From: Alice <sip:alice@example.com>;tag=a1\r\n\
             To: <sip:bob@example.com>\r\n\
             Call-ID: c1@192.0.2.9\r\n\
             CSeq: 7 CANCEL\r\n\
             Route: <sip:p2.example.com;lr>\r\n\
             Route: <sip:p3.example.com;lr>\r\n\
             Content-Length: 0\r\n\r\n"
        );
        // It parses, and matches the INVITE's branch.
        let m = SipMsg::parse(&c).unwrap();
        assert_eq!(m.via1().unwrap().branch(), Some(&b"z9hG4bKabc.def"[..]));
    }

    #[test]
    fn ack_takes_to_from_the_reply() {
        let sent = SipMsg::parse(SENT).unwrap();
        let reply = SipMsg::parse(
            b"SIP/2.0 486 Busy Here\r\n\
              Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc.def\r\n\
              From: Alice <sip:alice@example.com>;tag=a1\r\n\
              To: <sip:bob@example.com>;tag=b9\r\n\
              Call-ID: c1@192.0.2.9\r\n\
              CSeq: 7 INVITE\r\n\
              Content-Length: 0\r\n\r\n",
        )
        .unwrap();
        let a = ack(&sent, &reply).unwrap();
        let m = SipMsg::parse(&a).unwrap();
        assert_eq!(m.method(), Some(crate::sip::method::Method::Ack));
        assert_eq!(m.to().unwrap().tag(), Some(&b"b9"[..]));
        assert_eq!(m.cseq().unwrap().num, 7);
        assert_eq!(m.headers_named(HeaderName::Route).count(), 2);
    }
}
