//! RPC calls: a request's parameters with lenient typing, the reply being
//! built, faults, and the dispatch of a request packet to its method.
//!
//! `kamcmd` guesses each argument's type (INT, then DOUBLE, then STR), so
//! a numeric user name arrives as an INT and `q=1` as an INT where a DOUBLE
//! is expected. Kamailio refuses those; here a parameter is converted to
//! what the method asks for whenever the conversion is exact.

use super::binrpc::{self, DecodeError, Kind, Token, Value, Writer};
use super::methods::{self, Method};
use super::server::CtlInfo;
use crate::shard::Shared;

/// A fault reply: code and message (`kamcmd` prints `error: CODE - MSG`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub code: i32,
    pub msg: String,
}

impl Fault {
    pub fn new(code: i32, msg: impl Into<String>) -> Fault {
        let mut msg = msg.into();
        // Kamailio caps fault texts at 255 characters.
        if msg.len() > 255 {
            let mut cut = 255;
            while !msg.is_char_boundary(cut) {
                cut -= 1;
            }
            msg.truncate(cut);
        }
        Fault { code, msg }
    }

    /// The fault Kamailio's parameter scanner gives: `error at parameter
    /// N: expected T type but R`.
    fn param(i: usize, ty: &str, why: &str) -> Fault {
        Fault::new(
            400,
            format!("error at parameter {i}: expected {ty} type but {why}"),
        )
    }
}

pub type RpcResult = Result<(), Fault>;

/// The parameters of a request (the method name excluded).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params {
    values: Vec<Value>,
}

/// Text of a number sent where a string is expected.
fn number_text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Double(d) if d.fract() == 0.0 && d.abs() < 1e15 => Some(format!("{}", *d as i64)),
        Value::Double(d) => Some(d.to_string()),
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Struct(_) | Value::Array(_) => None,
    }
}

impl Params {
    pub fn new(values: Vec<Value>) -> Params {
        Params { values }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&Value> {
        self.values.get(i)
    }

    pub fn all(&self) -> &[Value] {
        &self.values
    }

    /// Parameter `i` as text (numbers become their decimal text).
    pub fn str(&self, i: usize) -> Result<String, Fault> {
        let v = self
            .values
            .get(i)
            .ok_or_else(|| Fault::param(i, "string", DecodeError::EndOfPacket.reason()))?;
        number_text(v).ok_or_else(|| Fault::param(i, "string", DecodeError::TypeMismatch.reason()))
    }

    /// Parameter `i` as text if present.
    pub fn opt_str(&self, i: usize) -> Result<Option<String>, Fault> {
        if i >= self.values.len() {
            return Ok(None);
        }
        self.str(i).map(Some)
    }

    /// Parameter `i` as an integer (a whole DOUBLE or a numeric STR too).
    pub fn int(&self, i: usize) -> Result<i64, Fault> {
        let v = self
            .values
            .get(i)
            .ok_or_else(|| Fault::param(i, "integer", DecodeError::EndOfPacket.reason()))?;
        let n = match v {
            Value::Int(n) => Some(i64::from(*n)),
            Value::Double(d) if d.fract() == 0.0 && d.abs() < 9e15 => Some(*d as i64),
            Value::Str(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        n.ok_or_else(|| Fault::param(i, "integer", DecodeError::TypeMismatch.reason()))
    }

    /// Parameter `i` as a number (an INT or a numeric STR too).
    pub fn double(&self, i: usize) -> Result<f64, Fault> {
        let v = self
            .values
            .get(i)
            .ok_or_else(|| Fault::param(i, "float", DecodeError::EndOfPacket.reason()))?;
        let n = match v {
            Value::Double(d) => Some(*d),
            Value::Int(n) => Some(f64::from(*n)),
            Value::Str(s) => s.trim().parse::<f64>().ok().filter(|d| d.is_finite()),
            _ => None,
        };
        n.ok_or_else(|| Fault::param(i, "float", DecodeError::TypeMismatch.reason()))
    }
}

/// What a method sees.
pub struct Call<'a> {
    pub params: Params,
    pub shared: &'a Shared,
    pub ctl: &'a CtlInfo,
    /// Largest reply body this call may send (the connection's transport
    /// and `binrpc_max_body_size` decide).
    pub limit: usize,
}

/// Outcome of one request packet.
pub struct Answer {
    /// The reply packet (REPL or FAULT).
    pub packet: Vec<u8>,
    /// The request was malformed: a stream connection is closed after the
    /// fault.
    pub close: bool,
}

pub fn fault_packet(cookie: u32, f: &Fault) -> Vec<u8> {
    let mut w = Writer::new();
    w.int(f.code).str(&f.msg);
    binrpc::packet(Kind::Fault, cookie, w.as_bytes())
}

/// Handles one whole request packet (`header.len + body` bytes).
pub fn handle(
    packet: &[u8],
    header: &binrpc::Header,
    shared: &Shared,
    ctl: &CtlInfo,
    limit: usize,
) -> Answer {
    let bad = |msg: &str| Answer {
        packet: fault_packet(header.cookie, &Fault::new(400, msg)),
        close: true,
    };
    if header.kind != Some(Kind::Request) {
        return bad("bad request: corrupted packet");
    }
    let body = packet
        .get(header.len..header.packet_len())
        .unwrap_or_default();
    let mut r = binrpc::Reader::new(body);
    let method = match r.next_token() {
        Ok(Some(Token::Str(m))) => String::from_utf8_lossy(m).into_owned(),
        Ok(None) => return bad("bad request method: end of packet encountered"),
        Ok(Some(_)) => return bad("bad request method: record doesn't match type"),
        Err(e) => return bad(&format!("bad request method: {}", e.reason())),
    };
    let rest = body.get(r.offset()..).unwrap_or_default();
    let params = match binrpc::decode(rest) {
        Ok(v) => v,
        Err(e) => {
            return Answer {
                packet: fault_packet(
                    header.cookie,
                    &Fault::new(400, format!("bad parameters: {}", e.reason())),
                ),
                close: false,
            };
        }
    };
    let result = match methods::find(&method) {
        None => Err(Fault::new(500, format!("command {method} not found"))),
        Some(m) => run(m, Params::new(params), shared, ctl, limit),
    };
    let packet = match result {
        Ok(body) => binrpc::packet(Kind::Reply, header.cookie, &body),
        Err(f) => fault_packet(header.cookie, &f),
    };
    Answer {
        packet,
        close: false,
    }
}

/// Runs a method; a body over the limit becomes a fault.
fn run(
    m: &Method,
    params: Params,
    shared: &Shared,
    ctl: &CtlInfo,
    limit: usize,
) -> Result<Vec<u8>, Fault> {
    let mut call = Call {
        params,
        shared,
        ctl,
        limit,
    };
    let mut w = Writer::new();
    (m.run)(&mut call, &mut w)?;
    if w.len() > limit {
        return Err(Fault::new(
            500,
            format!(
                "reply too big ({} bytes; this socket's limit is {limit})",
                w.len()
            ),
        ));
    }
    Ok(w.into_bytes())
}

/// The fault sent when the request header could not be read at all.
pub fn corrupted() -> Vec<u8> {
    fault_packet(0, &Fault::new(400, "bad request: corrupted packet"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_convert_when_exact() {
        let p = Params::new(vec![
            Value::Int(1234),
            Value::Double(1.0),
            Value::Str("0.5".into()),
            Value::Str("abc".into()),
            Value::Struct(vec![]),
        ]);
        assert_eq!(p.str(0), Ok("1234".into()));
        assert_eq!(p.str(1), Ok("1".into()));
        assert_eq!(p.int(1), Ok(1));
        assert_eq!(p.double(0), Ok(1234.0));
        assert_eq!(p.double(2), Ok(0.5));
        assert!(p.int(2).is_err());
        assert!(p.int(3).is_err());
        assert_eq!(
            p.str(4).unwrap_err().msg,
            "error at parameter 4: expected string type but record doesn't match type"
        );
        assert_eq!(
            p.str(5).unwrap_err(),
            Fault::new(
                400,
                "error at parameter 5: expected string type but end of packet encountered"
            )
        );
        assert_eq!(p.opt_str(9), Ok(None));
    }

    #[test]
    fn fault_texts_are_capped() {
        assert_eq!(Fault::new(500, "é".repeat(200)).msg.len(), 254);
    }
}
