//! Printing a reply exactly as `kamcmd` prints it, and `-f` formats.
//!
//! The reply is read record by record with the codec's [`Reader`] and
//! printed as it is read, so that what came before a malformed record is
//! still shown (kamcmd does the same, then fails). The rules, checked
//! against kamcmd 1.5:
//!
//! - one record per line, one TAB per open struct; a struct member is
//!   `name: value`; `{` (or `name: {`) is printed at the depth outside the
//!   struct, and so is `}`;
//! - an ARRAY's `[` and its elements are one level deeper than the depth
//!   outside it, its `]` at that depth;
//! - INT as a signed 32-bit number, a whole DOUBLE as an integer, any
//!   other DOUBLE with six decimals (`%f`), STR and BYTES as raw bytes;
//! - a fault is `error: CODE - MSG`, printed with the format
//!   `%v - %v\n` after `error: `;
//! - a body that ends inside a struct just ends (no error);
//! - with a format, a malformed record ends the output with the text
//!   that comes before its `%v` and a newline.
//!
//! A malformed record gives kamcmd's error line
//! `while parsing the record N, @OFF: XX : reason`, where N counts a
//! struct member (name and value) as one record and OFF leaves out the
//! bytes of member names read so far, as kamcmd counts them.

use std::fmt;

use ser_core::ctl::binrpc::{DecodeError, Kind, Reader, Token, ty};

/// Deepest nesting printed. Each level costs a TAB on every line below
/// it, so a hostile reply of nested structs would otherwise print
/// gigabytes.
pub const MAX_DEPTH: usize = 256;

/// The format kamcmd prints a fault's records with, after `error: `.
const FAULT_FORMAT: &[u8] = b"%v - %v\n";

/// A piece of a `-f` format.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    /// `%v`: the next record.
    Value,
}

/// A parsed `-f` format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    pieces: Vec<Piece>,
}

impl Format {
    /// Parses a format: `\n`, `\t`, `\r` and `\\` are unescaped (any
    /// other backslash stays), `%v` takes a record, `%%` is a `%`. A `%`
    /// before anything else is kept as it is (kamcmd loops forever
    /// there). A format without `%v` prints each record after its text.
    pub fn parse(f: &[u8]) -> Format {
        let mut text = Vec::with_capacity(f.len());
        let mut i = 0;
        while let Some(&c) = f.get(i) {
            let next = f.get(i + 1).copied();
            match (c, next) {
                (b'\\', Some(b'n')) => text.push(b'\n'),
                (b'\\', Some(b't')) => text.push(b'\t'),
                (b'\\', Some(b'r')) => text.push(b'\r'),
                (b'\\', Some(b'\\')) => text.push(b'\\'),
                _ => {
                    text.push(c);
                    i += 1;
                    continue;
                }
            }
            i += 2;
        }
        let mut pieces = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while let Some(&c) = text.get(i) {
            match (c, text.get(i + 1)) {
                (b'%', Some(b'v')) => {
                    if !lit.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::Value);
                    i += 2;
                }
                (b'%', Some(b'%')) => {
                    lit.push(b'%');
                    i += 2;
                }
                _ => {
                    lit.push(c);
                    i += 1;
                }
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Text(lit));
        }
        if !pieces.contains(&Piece::Value) {
            pieces.push(Piece::Value);
        }
        Format { pieces }
    }
}

/// Prints records through a format: the text up to the next `%v`, then
/// the record, starting the format over when it runs out; at the end,
/// the rest of the format without its `%v`s.
struct Formatter<'f> {
    pieces: &'f [Piece],
    at: usize,
}

impl Formatter<'_> {
    /// Prints the text up to the next `%v` and takes that `%v`.
    fn up_to_value(&mut self, out: &mut Vec<u8>) {
        // Every format holds a `%v`, so this ends within one turn.
        for _ in 0..=self.pieces.len() {
            if self.at >= self.pieces.len() {
                self.at = 0;
            }
            let p = self.pieces.get(self.at);
            self.at += 1;
            match p {
                Some(Piece::Text(t)) => out.extend_from_slice(t),
                Some(Piece::Value) | None => return,
            }
        }
    }

    fn record(&mut self, out: &mut Vec<u8>, rec: &[u8]) {
        self.up_to_value(out);
        out.extend_from_slice(rec);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        for p in self.pieces.get(self.at..).unwrap_or_default() {
            if let Piece::Text(t) = p {
                out.extend_from_slice(t);
            }
        }
        self.at = self.pieces.len();
    }
}

/// A malformed record in a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Records read before it (a struct member counts once).
    pub record: usize,
    /// Its offset, as kamcmd counts it.
    pub offset: usize,
    /// Its first byte.
    pub byte: u8,
    pub reason: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "while parsing the record {}, @{}: {:02x} : {}",
            self.record, self.offset, self.byte, self.reason
        )
    }
}

const MORE_DATA: &str = "more data needed";
const MISMATCH: &str = "record doesn't match type";
const BAD: &str = "bad record";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    Struct,
    Array,
}

/// One printable record: a value, or a container marker, with the name
/// of the struct member it is.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Item<'a> {
    name: Option<&'a [u8]>,
    tok: Token<'a>,
}

/// Reads a body record by record, as kamcmd does: names only inside a
/// struct, end markers matching the open container, bare values allowed
/// in a struct.
struct Records<'a> {
    body: &'a [u8],
    r: Reader<'a>,
    stack: Vec<Ctx>,
    index: usize,
    /// Bytes of member names read (kamcmd's offsets leave them out).
    name_bytes: usize,
}

impl<'a> Records<'a> {
    fn new(body: &'a [u8]) -> Records<'a> {
        Records {
            body,
            r: Reader::new(body),
            stack: Vec::new(),
            index: 0,
            name_bytes: 0,
        }
    }

    fn err(&self, at: usize, reason: &'static str) -> ParseError {
        ParseError {
            record: self.index,
            offset: at.saturating_sub(self.name_bytes),
            byte: self.body.get(at).copied().unwrap_or(0),
            reason,
        }
    }

    /// kamcmd's words for a record the reader refused: a type it does
    /// not know is a mismatch (a bad record inside a struct), a record
    /// running past the end needs more data.
    fn reason(&self, at: usize, e: DecodeError) -> &'static str {
        let h = self.body.get(at).copied().unwrap_or(0);
        let t = h & 0x0f;
        let n = h >> 4;
        let unknown =
            t > ty::BYTES || (t != ty::DOUBLE && t != ty::STRUCT && t != ty::ARRAY && n == 8);
        match e {
            DecodeError::BadRecord if unknown => {
                if self.stack.last() == Some(&Ctx::Struct) {
                    BAD
                } else {
                    MISMATCH
                }
            }
            DecodeError::TypeMismatch => MISMATCH,
            _ => MORE_DATA,
        }
    }

    fn push(&mut self, at: usize, c: Ctx) -> Result<(), ParseError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.err(at, DecodeError::TooDeep.reason()));
        }
        self.stack.push(c);
        Ok(())
    }

    fn next(&mut self) -> Result<Option<Item<'a>>, ParseError> {
        let at = self.r.offset();
        let tok = match self.r.next_token() {
            Ok(None) => return Ok(None),
            Ok(Some(t)) => t,
            Err(e) => return Err(self.err(at, self.reason(at, e))),
        };
        let ctx = self.stack.last().copied();
        let item = match tok {
            Token::Name(name) if ctx == Some(Ctx::Struct) => {
                let vat = self.r.offset();
                let v = match self.r.next_token() {
                    Ok(Some(v)) => v,
                    Ok(None) | Err(DecodeError::EndOfPacket) => {
                        return Err(self.err(at, MORE_DATA));
                    }
                    Err(_) => return Err(self.err(at, BAD)),
                };
                match v {
                    Token::Name(_) | Token::StructEnd | Token::ArrayStart | Token::ArrayEnd => {
                        return Err(self.err(at, BAD));
                    }
                    Token::StructStart => self.push(at, Ctx::Struct)?,
                    _ => {}
                }
                self.name_bytes += vat - at;
                Item {
                    name: Some(name),
                    tok: v,
                }
            }
            Token::Name(_) => return Err(self.err(at, MISMATCH)),
            Token::StructEnd if ctx == Some(Ctx::Struct) => {
                self.stack.pop();
                Item { name: None, tok }
            }
            Token::ArrayEnd if ctx == Some(Ctx::Array) => {
                self.stack.pop();
                Item { name: None, tok }
            }
            Token::StructEnd | Token::ArrayEnd => return Err(self.err(at, BAD)),
            Token::StructStart => {
                self.push(at, Ctx::Struct)?;
                Item { name: None, tok }
            }
            Token::ArrayStart => {
                self.push(at, Ctx::Array)?;
                Item { name: None, tok }
            }
            _ => Item { name: None, tok },
        };
        self.index += 1;
        Ok(Some(item))
    }
}

/// A DOUBLE as kamcmd prints it: an integer when it is whole, else
/// `%f`.
pub fn double_text(d: f64) -> String {
    if d.fract() == 0.0 && d.is_finite() {
        format!("{}", d as i64)
    } else {
        format!("{d:.6}")
    }
}

/// The text of a record (without its name).
fn record_text(out: &mut Vec<u8>, tok: &Token<'_>) {
    match tok {
        Token::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Token::Str(s) | Token::Bytes(s) | Token::Name(s) => out.extend_from_slice(s),
        Token::Double(d) => out.extend_from_slice(double_text(*d).as_bytes()),
        Token::StructStart => out.push(b'{'),
        Token::StructEnd => out.push(b'}'),
        Token::ArrayStart => out.push(b'['),
        Token::ArrayEnd => out.push(b']'),
    }
}

fn tabs(out: &mut Vec<u8>, n: usize) {
    out.extend(std::iter::repeat_n(b'\t', n));
}

/// Prints a reply body: as a tree, or through `format`.
pub fn print_body(
    out: &mut Vec<u8>,
    body: &[u8],
    format: Option<&Format>,
) -> Result<(), ParseError> {
    let mut recs = Records::new(body);
    match format {
        None => {
            let mut depth = 0usize;
            while let Some(it) = recs.next()? {
                let name = |out: &mut Vec<u8>| {
                    if let Some(n) = it.name {
                        out.extend_from_slice(n);
                        out.extend_from_slice(b": ");
                    }
                };
                match it.tok {
                    Token::StructStart => {
                        tabs(out, depth);
                        name(out);
                        depth += 1;
                    }
                    Token::ArrayStart => {
                        tabs(out, depth + 1);
                        name(out);
                        depth += 1;
                    }
                    Token::StructEnd | Token::ArrayEnd => {
                        depth = depth.saturating_sub(1);
                        tabs(out, depth);
                    }
                    _ => {
                        tabs(out, depth);
                        name(out);
                    }
                }
                record_text(out, &it.tok);
                out.push(b'\n');
            }
        }
        Some(f) => {
            let mut fm = Formatter {
                pieces: &f.pieces,
                at: 0,
            };
            let mut rec = Vec::new();
            loop {
                let it = match recs.next() {
                    Ok(Some(it)) => it,
                    Ok(None) => break,
                    Err(e) => {
                        // kamcmd prints the text meant to come before
                        // the bad record, then ends the line.
                        fm.up_to_value(out);
                        out.push(b'\n');
                        return Err(e);
                    }
                };
                rec.clear();
                if let Some(n) = it.name {
                    rec.extend_from_slice(n);
                    rec.extend_from_slice(b": ");
                }
                record_text(&mut rec, &it.tok);
                fm.record(out, &rec);
            }
            fm.finish(out);
        }
    }
    Ok(())
}

/// Prints a reply or a fault (`error: CODE - MSG`).
pub fn print_reply(
    out: &mut Vec<u8>,
    kind: Kind,
    body: &[u8],
    format: Option<&Format>,
) -> Result<(), ParseError> {
    if kind == Kind::Fault {
        out.extend_from_slice(b"error: ");
        print_body(out, body, Some(&Format::parse(FAULT_FORMAT)))
    } else {
        print_body(out, body, format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::conn::hexdump;
    use ser_core::ctl::binrpc::Writer;

    fn tree(body: &[u8]) -> String {
        let mut out = Vec::new();
        print_body(&mut out, body, None).expect("prints");
        String::from_utf8(out).expect("utf-8")
    }

    fn fmt(f: &str, body: &[u8]) -> String {
        let mut out = Vec::new();
        print_body(&mut out, body, Some(&Format::parse(f.as_bytes()))).expect("prints");
        String::from_utf8(out).expect("utf-8")
    }

    fn err(body: &[u8]) -> String {
        let mut out = Vec::new();
        print_body(&mut out, body, None)
            .expect_err("a parse error")
            .to_string()
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("hex"))
            .collect()
    }

    fn uptime() -> Vec<u8> {
        let mut w = Writer::new();
        w.struct_start()
            .name("now")
            .str("Tue Nov 24 03:58:35 2026")
            .name("up_since")
            .str("Tue Nov 24 03:57:44 2026")
            .name("uptime")
            .int(51)
            .struct_end();
        w.into_bytes()
    }

    #[test]
    fn each_type_prints_as_kamcmd_prints_it() {
        let mut w = Writer::new();
        w.int(0)
            .int(-1)
            .int(i32::MAX)
            .str("kamailio 5.6.3 (x86_64/linux) ")
            .str("")
            .bytes(b"raw\x01bytes")
            .double(1.0)
            .double(0.5)
            .double(-1.5)
            .double(-3.0)
            .double(1e12)
            .double(64209112.0)
            .double(0.001);
        assert_eq!(
            tree(w.as_bytes()),
            "0\n-1\n2147483647\nkamailio 5.6.3 (x86_64/linux) \n\nraw\x01bytes\n\
             1\n0.500000\n-1.500000\n-3\n1000000000000\n64209112\n0.001000\n"
        );
        // The largest fixed-point values round to whole doubles.
        assert_eq!(
            tree(&hex(
                "82 7f ff ff ff ff ff ff ff 82 80 00 00 00 00 00 00 00"
            )),
            "9223372036854776\n-9223372036854776\n"
        );
        // An INT wider than 4 bytes keeps its low 32 bits.
        assert_eq!(tree(&hex("50 01 02 03 04 05")), "33752069\n");
        assert_eq!(tree(&[]), "");
    }

    #[test]
    fn structs_nest_with_tabs() {
        assert_eq!(
            tree(&uptime()),
            "{\n\tnow: Tue Nov 24 03:58:35 2026\n\tup_since: Tue Nov 24 03:57:44 2026\n\tuptime: 51\n}\n"
        );
        // domain.dump: bare structs inside a struct, an empty struct.
        let mut w = Writer::new();
        w.struct_start()
            .member_struct("domains")
            .struct_start()
            .name("domain")
            .str("example.com")
            .name("did")
            .str("<null>")
            .struct_end()
            .struct_end()
            .member_struct("attributes")
            .struct_end()
            .struct_end();
        assert_eq!(
            tree(w.as_bytes()),
            "{\n\tdomains: {\n\t\t{\n\t\t\tdomain: example.com\n\t\t\tdid: <null>\n\t\t}\n\t}\n\tattributes: {\n\t}\n}\n"
        );
        // Bare values in a struct; a body that ends inside a struct.
        assert_eq!(
            tree(&hex("03 10 01 03 10 02 83 83")),
            "{\n\t1\n\t{\n\t\t2\n\t}\n}\n"
        );
        assert_eq!(tree(&hex("03 10 01")), "{\n\t1\n");
    }

    #[test]
    fn arrays_print_one_level_deeper() {
        assert_eq!(
            tree(&hex("04 10 01 41 61 62 63 00 84")),
            "\t[\n\t1\n\tabc\n]\n"
        );
        assert_eq!(
            tree(&hex("04 10 01 04 10 02 84 84")),
            "\t[\n\t1\n\t\t[\n\t\t2\n\t]\n]\n"
        );
        assert_eq!(tree(&hex("04 03 10 01 83 84")), "\t[\n\t{\n\t\t1\n\t}\n]\n");
        assert_eq!(tree(&hex("03 04 10 01 84 83")), "{\n\t\t[\n\t\t1\n\t]\n}\n");
    }

    #[test]
    fn faults_print_as_error_code_message() {
        let mut w = Writer::new();
        w.int(500).str("command foo not found");
        let mut out = Vec::new();
        print_reply(&mut out, Kind::Fault, w.as_bytes(), None).expect("prints");
        assert_eq!(out, b"error: 500 - command foo not found\n");
        // Other shapes, as kamcmd prints them.
        for (body, text) in [
            ("", "error:  - \n"),
            ("10 01", "error: 1 - \n"),
            ("41 61 62 63 00 10 01", "error: abc - 1\n"),
            ("10 01 41 61 62 63 00 10 01", "error: 1 - abc\n1 - \n"),
        ] {
            let mut out = Vec::new();
            print_reply(&mut out, Kind::Fault, &hex(body), None).expect("prints");
            assert_eq!(String::from_utf8_lossy(&out), text, "{body}");
        }
        // A user format does not apply to faults.
        let mut out = Vec::new();
        let f = Format::parse(b"[%v]");
        print_reply(&mut out, Kind::Fault, w.as_bytes(), Some(&f)).expect("prints");
        assert_eq!(out, b"error: 500 - command foo not found\n");
    }

    #[test]
    fn formats_as_kamcmd_applies_them() {
        let echo = |n: usize| {
            let mut w = Writer::new();
            for s in ["a", "b", "c", "d", "e"].iter().take(n) {
                w.str(s);
            }
            w.into_bytes()
        };
        assert_eq!(
            fmt("%v|", &uptime()),
            "{|now: Tue Nov 24 03:58:35 2026|up_since: Tue Nov 24 03:57:44 2026|uptime: 51|}|"
        );
        // Each case was checked against kamcmd 1.5.
        for (f, n, want) in [
            ("A%vB%vC", 1, "AaBC"),
            ("A%vB%vC", 3, "AaBbCAcBC"),
            ("A%vB%vC", 5, "AaBbCAcBdCAeBC"),
            ("x", 3, "xaxbxc"),
            ("x%vy", 3, "xayxbyxcy"),
            ("%v\\n", 3, "a\nb\nc\n"),
            ("A%%B", 3, "A%BaA%BbA%Bc"),
            ("a%%b%v", 1, "a%ba"),
            ("%v\\\\y", 1, "a\\y"),
            ("%v\\q", 1, "a\\q"),
            ("", 1, "a"),
            ("%%v%v", 1, "%va"),
            ("%v%%", 1, "a%"),
            ("%vv", 1, "av"),
            ("\\\\n%v", 1, "\\na"),
            ("\\0%v", 1, "\\0a"),
            ("\\%%v", 1, "\\%va"),
            ("%v\\", 1, "a\\"),
            ("%v\\t%v\\r", 2, "a\tb\r"),
            // No records: the format without its values.
            ("A%vB", 0, "AB"),
            ("x", 0, "x"),
            // kamcmd hangs on these; the `%` is kept.
            ("%v%x", 1, "a%x"),
            ("%v%", 1, "a%"),
        ] {
            assert_eq!(fmt(f, &echo(n)), want, "format {f:?} with {n} records");
        }
    }

    #[test]
    fn malformed_replies_give_kamcmds_error_lines() {
        // Each line was checked against kamcmd 1.5.
        for (body, want) in [
            (
                "07",
                "while parsing the record 0, @0: 07 : record doesn't match type",
            ),
            (
                "10 01 07",
                "while parsing the record 1, @2: 07 : record doesn't match type",
            ),
            (
                "41 61",
                "while parsing the record 0, @0: 41 : more data needed",
            ),
            ("83", "while parsing the record 0, @0: 83 : bad record"),
            ("84", "while parsing the record 0, @0: 84 : bad record"),
            (
                "03 84 83",
                "while parsing the record 1, @1: 84 : bad record",
            ),
            ("04 83", "while parsing the record 1, @1: 83 : bad record"),
            (
                "88 00",
                "while parsing the record 0, @0: 88 : record doesn't match type",
            ),
            (
                "0f",
                "while parsing the record 0, @0: 0f : record doesn't match type",
            ),
            (
                "25 61 00 10 01",
                "while parsing the record 0, @0: 25 : record doesn't match type",
            ),
            (
                "03 25 61 00 04 84 83",
                "while parsing the record 1, @1: 25 : bad record",
            ),
            (
                "04 25 61 00 10 01 84",
                "while parsing the record 1, @1: 25 : record doesn't match type",
            ),
            (
                "03 25 61 00 83",
                "while parsing the record 1, @1: 25 : bad record",
            ),
            (
                "03 25 61 00",
                "while parsing the record 1, @1: 25 : more data needed",
            ),
            (
                "03 25 61 00 25 62 00 10 01 83",
                "while parsing the record 1, @1: 25 : bad record",
            ),
            (
                "03 25 61 00 10 01 25 62 00 83",
                "while parsing the record 2, @3: 25 : bad record",
            ),
            (
                "03 25 61 00 10 01 07",
                "while parsing the record 2, @3: 07 : bad record",
            ),
            (
                "03 25 61 00 41 61 62 63 00 07",
                "while parsing the record 2, @6: 07 : bad record",
            ),
            (
                "03 25 61 00 03 83 07",
                "while parsing the record 3, @3: 07 : bad record",
            ),
            (
                "03 83 07",
                "while parsing the record 2, @2: 07 : record doesn't match type",
            ),
            (
                "03 10 01 10 02 07",
                "while parsing the record 3, @5: 07 : bad record",
            ),
            (
                "04 10 01 07",
                "while parsing the record 2, @3: 07 : record doesn't match type",
            ),
            (
                "03 10 01 41 61",
                "while parsing the record 2, @3: 41 : more data needed",
            ),
            (
                "92",
                "while parsing the record 0, @0: 92 : more data needed",
            ),
        ] {
            assert_eq!(err(&hex(body)), want, "{body}");
        }
        // What came before the bad record is printed.
        let mut out = Vec::new();
        assert!(print_body(&mut out, &hex("03 10 01 07"), None).is_err());
        assert_eq!(out, b"{\n\t1\n");
        // Through a format: the text before the bad record's `%v`, a
        // newline (checked against kamcmd 1.5).
        for (f, body, kind, want) in [
            ("A%vB%vC", "10 01 07", Kind::Reply, "A1B\n"),
            ("A%vB%vC", "10 01 10 02 10 03 07", Kind::Reply, "A1B2CA3B\n"),
            ("A%vB%vC", "07", Kind::Reply, "A\n"),
            ("x", "10 01 07", Kind::Reply, "x1x\n"),
            ("A%vB%vC", "10 01 41 61", Kind::Reply, "A1B\n"),
            ("x", "10 01 07", Kind::Fault, "error: 1 - \n"),
            ("", "07", Kind::Fault, "error: \n"),
        ] {
            let mut out = Vec::new();
            let r = print_reply(
                &mut out,
                kind,
                &hex(body),
                Some(&Format::parse(f.as_bytes())),
            );
            assert!(r.is_err(), "{f} {body}");
            assert_eq!(String::from_utf8_lossy(&out), want, "{f} {body}");
        }
        // Deep nesting is cut short.
        let deep = vec![0x03; MAX_DEPTH + 1];
        assert!(err(&deep).contains("nested too deep"));
    }

    #[test]
    fn hexdump_as_kamcmd_vvv() {
        let mut out = Vec::new();
        let mut data = hex("a1 13 21 08 96 4a 71 91 1f");
        data.extend_from_slice(b"kamailio 5.6.3 (x86_64/linux) \0");
        hexdump(&mut out, &data, 0);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "received 40 bytes in reply (@offset 0):\n\
             a1 13 21 08 96 4a 71 91 1f 6b 61 6d 61 69 6c 69  ..!..Jq..kamaili\n\
             6f 20 35 2e 36 2e 33 20 28 78 38 36 5f 36 34 2f  o 5.6.3 (x86_64/\n\
             6c 69 6e 75 78 29 20 00                          linux) .\n"
        );
    }
}
