//! The BINRPC wire format that Kamailio's `kamcmd` and SER's `sercmd`
//! speak: packet headers and framing, the record encoder and a record
//! reader. Used by the control socket ([`super::server`]) and by the
//! `sercmd` client (in `tools/`).
//!
//! Everything is big-endian and written in the fewest bytes; readers accept
//! any width the length fields allow. The details and the pitfalls
//! (fixed-point doubles whose header nibble is a plain byte count, string
//! lengths that count the NUL, arrays sent as structs) are in
//! `docs/control.md`.

use std::fmt;

/// First byte of every packet: magic `0xA` and version 1.
pub const MAGIC_VERSION: u8 = 0xA1;

/// Packet types (high nibble of the second header byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Request = 0,
    Reply = 1,
    Fault = 3,
}

impl Kind {
    fn from_nibble(n: u8) -> Option<Kind> {
        match n {
            0 => Some(Kind::Request),
            1 => Some(Kind::Reply),
            3 => Some(Kind::Fault),
            _ => None,
        }
    }
}

/// Record types (low nibble of a record header).
pub mod ty {
    pub const INT: u8 = 0;
    pub const STR: u8 = 1;
    pub const DOUBLE: u8 = 2;
    pub const STRUCT: u8 = 3;
    pub const ARRAY: u8 = 4;
    pub const AVP: u8 = 5;
    pub const BYTES: u8 = 6;
}

/// A packet header, read from the front of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// `None`: a type nibble that is not request, reply or fault.
    pub kind: Option<Kind>,
    pub body_len: usize,
    pub cookie: u32,
    /// Bytes the header itself takes (4 to 10).
    pub len: usize,
}

impl Header {
    /// Header plus body.
    pub fn packet_len(&self) -> usize {
        self.len + self.body_len
    }
}

/// What the front of a byte stream holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet to read the header.
    Incomplete,
    /// The first byte is not [`MAGIC_VERSION`]: nothing can be read.
    Corrupted,
    /// A header (its body may not have arrived yet).
    Header(Header),
}

/// Reads the header at the front of `buf`.
pub fn frame(buf: &[u8]) -> Frame {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return match buf.first() {
            Some(&b) if b != MAGIC_VERSION => Frame::Corrupted,
            _ => Frame::Incomplete,
        };
    };
    if b0 != MAGIC_VERSION {
        return Frame::Corrupted;
    }
    let len_bytes = usize::from((b1 >> 2) & 3) + 1;
    let cookie_bytes = usize::from(b1 & 3) + 1;
    let len = 2 + len_bytes + cookie_bytes;
    let Some(rest) = buf.get(2..len) else {
        return Frame::Incomplete;
    };
    let (l, c) = rest.split_at(len_bytes);
    Frame::Header(Header {
        kind: Kind::from_nibble(b1 >> 4),
        body_len: be_u64(l) as usize,
        cookie: be_u64(c) as u32,
        len,
    })
}

/// Big-endian unsigned value of up to 8 bytes (more keep the low 64 bits).
fn be_u64(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |v, &x| (v << 8) | u64::from(x))
}

/// Bytes needed for `v` (0 for 0).
fn min_bytes(v: u64) -> usize {
    (64 - v.leading_zeros() as usize).div_ceil(8)
}

/// Writes a whole packet: header (fewest bytes) and body.
pub fn packet(kind: Kind, cookie: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 10);
    let lb = min_bytes(body.len() as u64).max(1);
    let cb = min_bytes(u64::from(cookie)).max(1);
    out.push(MAGIC_VERSION);
    out.push(((kind as u8) << 4) | (((lb - 1) as u8) << 2) | ((cb - 1) as u8));
    out.extend_from_slice(&(body.len() as u64).to_be_bytes()[8 - lb..]);
    out.extend_from_slice(&u64::from(cookie).to_be_bytes()[8 - cb..]);
    out.extend_from_slice(body);
    out
}

/// Builds a record body.
#[derive(Clone, Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Cuts the body back to `len` bytes (to undo a record that did not
    /// fit).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// A record header for a value of `len` bytes: inline when it is under
    /// 8, else with a separate length field.
    fn head(&mut self, t: u8, len: usize) {
        if len < 8 {
            self.buf.push(((len as u8) << 4) | t);
        } else {
            let lb = min_bytes(len as u64).max(1);
            self.buf.push(0x80 | ((lb as u8) << 4) | t);
            self.buf
                .extend_from_slice(&(len as u64).to_be_bytes()[8 - lb..]);
        }
    }

    /// INT: positive values in the fewest bytes with no sign byte, zero in
    /// none, negative values in four.
    pub fn int(&mut self, v: i32) -> &mut Writer {
        let u = v as u32;
        let n = if v < 0 { 4 } else { min_bytes(u64::from(u)) };
        self.buf.push(((n as u8) << 4) | ty::INT);
        self.buf.extend_from_slice(&u.to_be_bytes()[4 - n..]);
        self
    }

    fn text(&mut self, t: u8, s: &[u8]) -> &mut Writer {
        self.head(t, s.len() + 1);
        self.buf.extend_from_slice(s);
        self.buf.push(0);
        self
    }

    /// STR (sent with its NUL).
    pub fn str(&mut self, s: impl AsRef<[u8]>) -> &mut Writer {
        self.text(ty::STR, s.as_ref())
    }

    /// A struct member's name; the member's value must follow.
    pub fn name(&mut self, s: impl AsRef<[u8]>) -> &mut Writer {
        self.text(ty::AVP, s.as_ref())
    }

    /// BYTES (no NUL).
    pub fn bytes(&mut self, s: &[u8]) -> &mut Writer {
        self.head(ty::BYTES, s.len());
        self.buf.extend_from_slice(s);
        self
    }

    /// DOUBLE: the value times 1000 as a signed 64-bit integer; the header
    /// nibble is the plain byte count (0-8). Rounded, not truncated as in
    /// Kamailio, so that a decoded value encodes back to the same bytes
    /// (16645.905 × 1000 is 16645904.999… in binary floating point).
    pub fn double(&mut self, v: f64) -> &mut Writer {
        self.double_fixed((v * 1000.0).round() as i64)
    }

    /// DOUBLE from its wire value (the number times 1000). `sercmd` uses
    /// it to send exactly what `kamcmd` sends for values a plain cast
    /// cannot give (C turns an infinite or out-of-range double into
    /// `i64::MIN`, Rust saturates).
    pub fn double_fixed(&mut self, fixed: i64) -> &mut Writer {
        let n = if fixed < 0 {
            8
        } else {
            min_bytes(fixed as u64)
        };
        self.buf.push(((n as u8) << 4) | ty::DOUBLE);
        self.buf.extend_from_slice(&fixed.to_be_bytes()[8 - n..]);
        self
    }

    /// A counter that may pass 2^31: sent as a DOUBLE (`kamcmd` prints a
    /// whole DOUBLE as an integer), else as an INT.
    pub fn count(&mut self, v: u64) -> &mut Writer {
        match i32::try_from(v) {
            Ok(i) => self.int(i),
            Err(_) => self.double(v as f64),
        }
    }

    /// A signed number: an INT when it fits, else a DOUBLE.
    pub fn count_signed(&mut self, v: i64) -> &mut Writer {
        match i32::try_from(v) {
            Ok(i) => self.int(i),
            Err(_) => self.double(v as f64),
        }
    }

    pub fn struct_start(&mut self) -> &mut Writer {
        self.buf.push(ty::STRUCT);
        self
    }

    pub fn struct_end(&mut self) -> &mut Writer {
        self.buf.push(0x80 | ty::STRUCT);
        self
    }

    /// The member `name: {` (close it with [`Writer::struct_end`]).
    pub fn member_struct(&mut self, name: impl AsRef<[u8]>) -> &mut Writer {
        self.name(name).struct_start()
    }

    /// Appends a value tree.
    pub fn value(&mut self, v: &Value) -> &mut Writer {
        match v {
            Value::Int(i) => self.int(*i),
            Value::Str(s) => self.str(s),
            Value::Double(d) => self.double(*d),
            Value::Bytes(b) => self.bytes(b),
            Value::Struct(members) => {
                self.struct_start();
                for (name, v) in members {
                    if let Some(n) = name {
                        self.name(n);
                    }
                    self.value(v);
                }
                self.struct_end()
            }
            Value::Array(items) => {
                self.buf.push(ty::ARRAY);
                for v in items {
                    self.value(v);
                }
                self.buf.push(0x80 | ty::ARRAY);
                self
            }
        }
    }
}

/// Why a record could not be read; the texts are BINRPC's own, which
/// `kamcmd` users know from its error lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    EndOfPacket,
    TypeMismatch,
    BadRecord,
    TooDeep,
}

impl DecodeError {
    pub fn reason(self) -> &'static str {
        match self {
            DecodeError::EndOfPacket => "end of packet encountered",
            DecodeError::TypeMismatch => "record doesn't match type",
            DecodeError::BadRecord => "bad record",
            DecodeError::TooDeep => "structures nested too deep",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for DecodeError {}

/// One record, as read: values, struct member names, and the markers of
/// structs and arrays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Token<'a> {
    Int(i32),
    Str(&'a [u8]),
    Double(f64),
    Bytes(&'a [u8]),
    Name(&'a [u8]),
    StructStart,
    StructEnd,
    ArrayStart,
    ArrayEnd,
}

/// Reads records one after another from a body.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(body: &'a [u8]) -> Reader<'a> {
        Reader { buf: body, pos: 0 }
    }

    /// Offset of the next record.
    pub fn offset(&self) -> usize {
        self.pos
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::EndOfPacket)?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(DecodeError::EndOfPacket)?;
        self.pos = end;
        Ok(s)
    }

    /// The next record; `Ok(None)` at the end of the body.
    pub fn next_token(&mut self) -> Result<Option<Token<'a>>, DecodeError> {
        let Some(&h) = self.buf.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let t = h & 0x0f;
        let n = usize::from(h >> 4);
        let len = if t != ty::DOUBLE && n & 8 != 0 {
            let lb = n & 7;
            if lb == 0 {
                return match t {
                    ty::STRUCT => Ok(Some(Token::StructEnd)),
                    ty::ARRAY => Ok(Some(Token::ArrayEnd)),
                    _ => Err(DecodeError::BadRecord),
                };
            }
            if lb > 4 {
                return Err(DecodeError::BadRecord);
            }
            be_u64(self.take(lb)?) as usize
        } else {
            n
        };
        let tok = match t {
            ty::INT => {
                let v = self.take(len)?;
                Token::Int(be_u64(v) as u32 as i32)
            }
            ty::STR | ty::AVP => {
                let v = self.take(len)?;
                // The length counts the NUL: drop the last byte.
                let s = v.get(..len.saturating_sub(1)).unwrap_or_default();
                if t == ty::STR {
                    Token::Str(s)
                } else {
                    Token::Name(s)
                }
            }
            ty::DOUBLE => {
                if len > 8 {
                    return Err(DecodeError::BadRecord);
                }
                let v = self.take(len)?;
                Token::Double(be_u64(v) as i64 as f64 / 1000.0)
            }
            ty::BYTES => Token::Bytes(self.take(len)?),
            ty::STRUCT => {
                self.take(len)?;
                Token::StructStart
            }
            ty::ARRAY => {
                self.take(len)?;
                Token::ArrayStart
            }
            _ => return Err(DecodeError::BadRecord),
        };
        Ok(Some(tok))
    }
}

/// A value tree: what a request's parameters and a reply's records decode
/// to. A struct is an ordered list of members whose names may repeat; a
/// bare value inside a struct (how Kamailio sends arrays) has no name.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i32),
    Str(String),
    Double(f64),
    Bytes(Vec<u8>),
    Struct(Vec<(Option<String>, Value)>),
    Array(Vec<Value>),
}

/// Deepest nesting [`decode`] accepts.
pub const MAX_DEPTH: usize = 32;

fn text(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// Decodes a whole body into top-level values.
pub fn decode(body: &[u8]) -> Result<Vec<Value>, DecodeError> {
    let mut r = Reader::new(body);
    let mut out = Vec::new();
    while let Some(t) = r.next_token()? {
        out.push(value_from(&mut r, t, 0)?);
    }
    Ok(out)
}

/// The value that starts with `first`, reading the rest of a container.
fn value_from<'a>(
    r: &mut Reader<'a>,
    first: Token<'a>,
    depth: usize,
) -> Result<Value, DecodeError> {
    Ok(match first {
        Token::Int(i) => Value::Int(i),
        Token::Str(s) => Value::Str(text(s)),
        Token::Double(d) => Value::Double(d),
        Token::Bytes(b) => Value::Bytes(b.to_vec()),
        Token::StructStart | Token::ArrayStart if depth >= MAX_DEPTH => {
            return Err(DecodeError::TooDeep);
        }
        Token::StructStart => {
            let mut members = Vec::new();
            loop {
                match r.next_token()?.ok_or(DecodeError::EndOfPacket)? {
                    Token::StructEnd => break,
                    Token::Name(n) => {
                        let t = r.next_token()?.ok_or(DecodeError::EndOfPacket)?;
                        if matches!(
                            t,
                            Token::Name(_) | Token::StructEnd | Token::ArrayEnd | Token::ArrayStart
                        ) {
                            return Err(DecodeError::BadRecord);
                        }
                        members.push((Some(text(n)), value_from(r, t, depth + 1)?));
                    }
                    Token::ArrayEnd => return Err(DecodeError::TypeMismatch),
                    t => members.push((None, value_from(r, t, depth + 1)?)),
                }
            }
            Value::Struct(members)
        }
        Token::ArrayStart => {
            let mut items = Vec::new();
            loop {
                match r.next_token()?.ok_or(DecodeError::EndOfPacket)? {
                    Token::ArrayEnd => break,
                    Token::Name(_) | Token::StructEnd => return Err(DecodeError::TypeMismatch),
                    t => items.push(value_from(r, t, depth + 1)?),
                }
            }
            Value::Array(items)
        }
        Token::Name(_) | Token::StructEnd | Token::ArrayEnd => {
            return Err(DecodeError::TypeMismatch);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        f(&mut w);
        w.into_bytes()
    }

    #[test]
    fn ints_are_minimal_without_sign_extension() {
        for (v, bytes) in [
            (0, &[0x00][..]),
            (7, &[0x10, 0x07]),
            (255, &[0x10, 0xff]),
            (500, &[0x20, 0x01, 0xf4]),
            (65536, &[0x30, 0x01, 0x00, 0x00]),
            (1 << 24, &[0x40, 0x01, 0, 0, 0]),
            (-1, &[0x40, 0xff, 0xff, 0xff, 0xff]),
            (i32::MAX, &[0x40, 0x7f, 0xff, 0xff, 0xff]),
        ] {
            assert_eq!(
                body(|w| {
                    w.int(v);
                }),
                bytes,
                "{v}"
            );
            assert_eq!(decode(bytes), Ok(vec![Value::Int(v)]));
        }
    }

    #[test]
    fn strings_count_their_nul() {
        assert_eq!(
            body(|w| {
                w.str("");
            }),
            [0x11, 0]
        );
        assert_eq!(
            body(|w| {
                w.str("abc");
            }),
            b"\x41abc\0"
        );
        let b = body(|w| {
            w.str("core.version");
        });
        assert_eq!(&b[..2], &[0x91, 0x0d]);
        let long = "x".repeat(303);
        let b = body(|w| {
            w.str(&long);
        });
        assert_eq!(&b[..3], &[0xa1, 0x01, 0x30]);
        assert_eq!(decode(&b), Ok(vec![Value::Str(long)]));
        assert_eq!(
            body(|w| {
                w.name("AoR");
            }),
            b"\x45AoR\0"
        );
    }

    #[test]
    fn doubles_are_fixed_point_with_a_plain_byte_count() {
        for (v, bytes) in [
            (0.0, &[0x02][..]),
            (0.5, &[0x22, 0x01, 0xf4]),
            (1.0, &[0x22, 0x03, 0xe8]),
            (2.25, &[0x22, 0x08, 0xca]),
            (
                -1.5,
                &[0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfa, 0x24],
            ),
            (1e12, &[0x72, 0x03, 0x8d, 0x7e, 0xa4, 0xc6, 0x80, 0x00]),
            (64209112.0, &[0x52, 0x0e, 0xf3, 0x29, 0x4b, 0xc0]),
        ] {
            assert_eq!(
                body(|w| {
                    w.double(v);
                }),
                bytes,
                "{v}"
            );
            assert_eq!(decode(bytes), Ok(vec![Value::Double(v)]));
        }
    }

    #[test]
    fn raw_fixed_point_doubles() {
        assert_eq!(
            body(|w| {
                w.double_fixed(i64::MIN);
            }),
            [0x82, 0x80, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            body(|w| {
                w.double_fixed(1500);
            }),
            [0x22, 0x05, 0xdc]
        );
        assert_eq!(
            body(|w| {
                w.double_fixed(0);
            }),
            [0x02]
        );
    }

    #[test]
    fn headers_round_trip_and_take_the_fewest_bytes() {
        let p = packet(Kind::Request, 0x4ca79d64, &[0u8; 15]);
        assert_eq!(&p[..7], &[0xa1, 0x03, 0x0f, 0x4c, 0xa7, 0x9d, 0x64]);
        let p = packet(Kind::Reply, 5, &[]);
        assert_eq!(p, [0xa1, 0x10, 0x00, 0x05]);
        let p = packet(Kind::Reply, 0x1234abcd, &[0u8; 0x1cd]);
        assert_eq!(&p[..4], &[0xa1, 0x17, 0x01, 0xcd]);
        let Frame::Header(h) = frame(&p) else {
            panic!("no header")
        };
        assert_eq!(h.kind, Some(Kind::Reply));
        assert_eq!(h.body_len, 0x1cd);
        assert_eq!(h.cookie, 0x1234abcd);
        assert_eq!(h.packet_len(), p.len());
        // Wider fields than needed are accepted.
        let Frame::Header(h) = frame(&[0xa1, 0x0f, 0, 0, 0, 2, 0, 0, 0, 9]) else {
            panic!("no header")
        };
        assert_eq!((h.body_len, h.cookie, h.len), (2, 9, 10));
        assert_eq!(frame(&[0xa1]), Frame::Incomplete);
        assert_eq!(frame(&[0xa1, 0x0f, 0]), Frame::Incomplete);
        assert_eq!(frame(&[0xa2]), Frame::Corrupted);
        assert_eq!(frame(&[]), Frame::Incomplete);
        let Frame::Header(h) = frame(&[0xa1, 0x20, 0, 0]) else {
            panic!("no header")
        };
        assert_eq!(h.kind, None);
    }

    #[test]
    fn structs_nest_and_names_repeat() {
        let v = Value::Struct(vec![
            (
                Some("Contact".into()),
                Value::Struct(vec![(Some("Q".into()), Value::Double(0.5))]),
            ),
            (Some("Contact".into()), Value::Int(1)),
            (None, Value::Str("bare".into())),
        ]);
        let b = body(|w| {
            w.value(&v);
        });
        assert_eq!(b.first(), Some(&0x03));
        assert_eq!(b.last(), Some(&0x83));
        assert_eq!(decode(&b), Ok(vec![v]));
    }

    #[test]
    fn bad_records_are_errors_not_panics() {
        assert_eq!(decode(&[0x07]), Err(DecodeError::BadRecord));
        assert_eq!(decode(&[0x41, b'a']), Err(DecodeError::EndOfPacket));
        assert_eq!(
            decode(&[0x03, 0x45, b'a', b'b', b'c', 0]),
            Err(DecodeError::EndOfPacket)
        );
        assert_eq!(decode(&[0x83]), Err(DecodeError::TypeMismatch));
        assert_eq!(decode(&[0xd1, 1, 2, 3, 4, 5]), Err(DecodeError::BadRecord));
        assert_eq!(decode(&[0x92]), Err(DecodeError::BadRecord));
        assert_eq!(decode(&[0x03; 100]), Err(DecodeError::TooDeep));
        // A name followed by an array value: kamcmd refuses it too.
        assert_eq!(
            decode(&[0x03, 0x25, b'a', 0, 0x04, 0x84, 0x83]),
            Err(DecodeError::BadRecord)
        );
    }

    #[test]
    fn counters_past_i32_travel_as_doubles() {
        assert_eq!(
            body(|w| {
                w.count(7);
            }),
            [0x10, 7]
        );
        let b = body(|w| {
            w.count(5_000_000_000);
        });
        assert_eq!(decode(&b), Ok(vec![Value::Double(5e9)]));
    }
}
