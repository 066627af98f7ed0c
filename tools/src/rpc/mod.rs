//! The client side of a router's control socket (BINRPC, module `ctl`),
//! shared by `sercmd` and `serctl`.
//!
//! - [`conn`]: the four transports, one packet each way;
//! - [`call`]: wraps a request body into a packet with a fresh cookie,
//!   sends it, and checks that what comes back is the reply (or fault) to
//!   it;
//! - [`next_page`]: where the next page of a paged `ul.dump` starts.

pub mod conn;

use ser_core::ctl::binrpc::{self, Frame, Kind, Value};

pub use conn::{Conn, OpenError, Target};

/// A reply or fault packet to a request.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// [`Kind::Reply`] or [`Kind::Fault`].
    pub kind: Kind,
    pub cookie: u32,
    /// The records, without the packet header.
    pub body: Vec<u8>,
}

/// Why a call got no usable reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// Sending or reading failed (a stream may now hold half a reply).
    Transport(String),
    /// What came back is not a reply packet.
    BadReply(String),
    /// The reply answers another request.
    Cookie { sent: u32, received: u32 },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transport(m) | CallError::BadReply(m) => f.write_str(m),
            CallError::Cookie { sent, received } => write!(
                f,
                "bad reply, cookie doesn't match: sent {sent:x} and received {received:x}"
            ),
        }
    }
}

/// Sends one request (`body`: the method name and its parameters, as a
/// [`binrpc::Writer`] wrote them) and returns its reply. `verbose` and
/// `log` are [`Conn::call`]'s (`-vvv` dumps).
pub fn call(
    conn: &mut Conn,
    body: &[u8],
    verbose: u8,
    log: &mut Vec<u8>,
) -> Result<Reply, CallError> {
    let cookie = conn::random_u32() >> 1;
    let packet = binrpc::packet(Kind::Request, cookie, body);
    let reply = conn
        .call(&packet, verbose, log)
        .map_err(CallError::Transport)?;
    let Frame::Header(h) = binrpc::frame(&reply) else {
        return Err(CallError::BadReply("bad reply header".into()));
    };
    let kind = match h.kind {
        Some(Kind::Reply) => Kind::Reply,
        Some(Kind::Fault) => Kind::Fault,
        _ => return Err(CallError::BadReply("not a reply".into())),
    };
    if h.cookie != cookie {
        return Err(CallError::Cookie {
            sent: cookie,
            received: h.cookie,
        });
    }
    Ok(Reply {
        kind,
        cookie: h.cookie,
        body: reply.get(h.len..).unwrap_or_default().to_vec(),
    })
}

/// The page start in `Next: N`, the last member of the last top-level
/// struct of a `ul.dump` reply that did not fit.
pub fn next_page(body: &[u8]) -> Option<i64> {
    let values = binrpc::decode(body).ok()?;
    let Some(Value::Struct(members)) = values.last() else {
        return None;
    };
    match members.last()? {
        (Some(name), Value::Int(n)) if name == "Next" => Some(i64::from(*n)),
        (Some(name), Value::Double(d)) if name == "Next" && d.fract() == 0.0 => Some(*d as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ser_core::ctl::binrpc::Writer;

    #[test]
    fn next_page_is_the_last_member_of_the_last_struct() {
        let mut w = Writer::new();
        w.struct_start()
            .member_struct("Domains")
            .struct_end()
            .name("Next")
            .int(42)
            .struct_end();
        assert_eq!(next_page(w.as_bytes()), Some(42));
        let mut w = Writer::new();
        w.struct_start().name("Next").double(5e9).struct_end();
        assert_eq!(next_page(w.as_bytes()), Some(5_000_000_000));
        let mut w = Writer::new();
        w.struct_start()
            .name("Next")
            .int(1)
            .name("Other")
            .int(2)
            .struct_end();
        assert_eq!(next_page(w.as_bytes()), None);
        let mut w = Writer::new();
        w.str("Next");
        assert_eq!(next_page(w.as_bytes()), None);
        assert_eq!(next_page(&[0x03]), None);
    }
}
