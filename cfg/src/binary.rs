//! The binary form of a compiled [`Program`]: what `ser -c -f x.cfg -o
//! x.bin` writes and `ser -f x.bin` loads.
//!
//! # Layout
//!
//! All integers are little-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `SERCFGB\0` ([`MAGIC`]) |
//! | 8 | 4 | format version, u32 ([`FORMAT_VERSION`]) |
//! | 12 | 8 | payload length in bytes, u64 |
//! | 20 | 4 | CRC-32 of the payload, u32 (IEEE 802.3: reflected polynomial `0xEDB88320`, initial value and final xor `0xFFFFFFFF`, the checksum of zlib, gzip and PNG) |
//! | 24 | n | payload |
//!
//! The payload is the program's tables in the order of the fields of
//! [`Program`]. Unsigned numbers (ids, counts, lengths, line numbers) are
//! LEB128 varints; signed integers are zigzag varints; a string is its byte
//! length then its UTF-8 bytes; a list is its element count then the
//! elements; a boolean and an `Option`'s presence are a byte 0 or 1; an
//! enum is a one-byte tag then the variant's fields in order. The tags are
//! the variants' positions in their declarations when this format was
//! made, and are fixed in this file (tables checked by a unit test), so
//! reordering a declaration does not change the format; a route's name is
//! tag 0 (none), 1 (number) or 2 (name). One field is packed: a route's
//! `lines` have no count of their own (there is one per op) and each is
//! stored as the zigzag difference from the previous op's line.
//!
//! # Reading
//!
//! [`read`] trusts nothing: it checks the magic, the version, the length
//! and the checksum, then decodes with every count bounded by the bytes
//! left (a list cannot announce more elements than the input could hold),
//! then [`validate`]s the program: every string, regex, header, route, call,
//! variable and format id is in range, every jump lands on an op of its
//! route, each route has one line per op and ends in an op that leaves it
//! (`Return`, `ReturnDefault`, `Exit`, `Drop` or `Jump`), no `Bin` carries
//! `&&`/`||`, and the main route is a request route. A refused input gives a
//! [`BinaryError`] and never a panic.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::ast::{AvpTrack, BinaryOp, Keyword, RouteKind, RouteName};
use crate::dialect::Dialect;
use crate::ir::{
    Arg, CallSite, CfgVarDef, ConstValue, FORMAT_VERSION, Format, FormatPart, Global, ModuleUse,
    Op, Program, RegexDef, Route, VarDef,
};

/// The first bytes of a compiled config.
pub const MAGIC: [u8; 8] = *b"SERCFGB\0";

/// Bytes before the payload: magic, version, length, checksum.
pub const HEADER_LEN: usize = 24;

/// Largest payload [`read`] accepts (64 MiB; the compiled form of the
/// largest config the parser accepts is far smaller).
pub const MAX_PAYLOAD: usize = 64 << 20;

/// Why [`read`] refused its input. The messages are meant to follow
/// `ser: x.bin: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BinaryError {
    /// The input does not start with [`MAGIC`].
    NotCompiled,
    /// Written by a version of the format this build does not read.
    Version { found: u32, expected: u32 },
    /// Truncated, wrong length, checksum mismatch, or content that does
    /// not decode or does not hold together.
    Damaged(String),
}

impl fmt::Display for BinaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BinaryError::NotCompiled => write!(
                f,
                "not a compiled ser config (it does not start with the `SERCFGB` magic)"
            ),
            BinaryError::Version { found, expected } => write!(
                f,
                "compiled config has format version {found}, but this ser reads version \
                 {expected}; compile the config again with `ser -c -f <config> -o <file>`"
            ),
            BinaryError::Damaged(why) => write!(f, "damaged compiled config ({why})"),
        }
    }
}

impl std::error::Error for BinaryError {}

/// Whether `bytes` start like a compiled config (what `ser -f` checks to
/// tell a `.bin` from a `.cfg`).
pub fn is_compiled(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// An error reading or writing a compiled config file, displayed as
/// `x.bin: damaged compiled config (checksum mismatch)` (the `ser` binary
/// puts `ser: ` in front).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileError {
    /// The file cannot be read or written.
    Io { path: PathBuf, message: String },
    /// The file was read and refused.
    Refused { path: PathBuf, error: BinaryError },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io { path, message } => write!(f, "{}: {message}", path.display()),
            FileError::Refused { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for FileError {}

fn io_message(what: &str, e: &std::io::Error) -> String {
    let text = e.to_string();
    // "No such file or directory (os error 2)" -> without the os error.
    let text = match text.find(" (os error") {
        Some(i) => text.get(..i).unwrap_or(&text).to_string(),
        None => text,
    };
    format!("cannot {what} compiled config: {text}")
}

/// Whether the file at `path` starts with [`MAGIC`] (`false` when it cannot
/// be read: the caller's next read reports that).
pub fn is_compiled_file(path: &Path) -> bool {
    use std::io::Read as _;
    let mut head = [0u8; MAGIC.len()];
    match std::fs::File::open(path) {
        Ok(f) => {
            let mut n = 0;
            let mut f = f.take(MAGIC.len() as u64);
            while n < head.len() {
                match f.read(&mut head[n..]) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => n += k,
                }
            }
            is_compiled(head.get(..n).unwrap_or(&[]))
        }
        Err(_) => false,
    }
}

/// Reads and [`read`]s a compiled config file (at most [`HEADER_LEN`] +
/// [`MAX_PAYLOAD`] + 1 bytes are read: a longer file is refused).
pub fn read_file(path: &Path) -> Result<Program, FileError> {
    use std::io::Read as _;
    let io = |e: std::io::Error| FileError::Io {
        path: path.to_path_buf(),
        message: io_message("read", &e),
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    f.take((HEADER_LEN + MAX_PAYLOAD + 1) as u64)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    read(&bytes).map_err(|error| FileError::Refused {
        path: path.to_path_buf(),
        error,
    })
}

/// [`write`]s a program to a file, atomically: into a temporary file next
/// to it, then renamed over it, so that a reader never sees half a file.
pub fn write_file(path: &Path, p: &Program) -> Result<(), FileError> {
    let io = |e: std::io::Error| FileError::Io {
        path: path.to_path_buf(),
        message: io_message("write", &e),
    };
    let bytes = write(p);
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    if let Err(e) = std::fs::write(&tmp, &bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

// ----- CRC-32 ------------------------------------------------------------------

/// Slicing-by-8 tables: `CRC_TABLES[0]` is the classic byte table, and
/// `CRC_TABLES[k][b]` is the CRC of byte `b` followed by `k` zero bytes.
const CRC_TABLES: [[u32; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

/// CRC-32 (IEEE 802.3, as zlib computes it): `crc32(b"123456789")` is
/// `0xCBF43926`.
pub fn crc32(data: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let mut c = 0xFFFF_FFFFu32;
    let (blocks, rest) = data.as_chunks::<8>();
    for &[b0, b1, b2, b3, b4, b5, b6, b7] in blocks {
        let lo = c ^ u32::from_le_bytes([b0, b1, b2, b3]);
        c = t[7][(lo & 0xFF) as usize]
            ^ t[6][((lo >> 8) & 0xFF) as usize]
            ^ t[5][((lo >> 16) & 0xFF) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][usize::from(b4)]
            ^ t[2][usize::from(b5)]
            ^ t[1][usize::from(b6)]
            ^ t[0][usize::from(b7)];
    }
    for &b in rest {
        c = t[0][((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    c ^ 0xFFFF_FFFF
}

// ----- writing -----------------------------------------------------------------

/// Encodes a program (header and payload).
pub fn write(p: &Program) -> Vec<u8> {
    let mut w = Writer::default();
    w.program(p);
    let payload = w.out;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

#[derive(Default)]
struct Writer {
    out: Vec<u8>,
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

impl Writer {
    fn u8(&mut self, b: u8) {
        self.out.push(b);
    }

    fn var(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.out.push((n as u8 & 0x7F) | 0x80);
            n >>= 7;
        }
        self.out.push(n as u8);
    }

    fn u32(&mut self, n: u32) {
        self.var(u64::from(n));
    }

    fn i64(&mut self, n: i64) {
        self.var(zigzag(n));
    }

    fn len(&mut self, n: usize) {
        self.var(n as u64);
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.out.extend_from_slice(s.as_bytes());
    }

    fn opt_u32(&mut self, v: Option<u32>) {
        match v {
            None => self.u8(0),
            Some(n) => {
                self.u8(1);
                self.u32(n);
            }
        }
    }

    fn program(&mut self, p: &Program) {
        self.u8(dialect_tag(p.dialect));
        self.str(&p.dialect_reason);
        self.len(p.strings.len());
        for s in &p.strings {
            self.str(s);
        }
        self.len(p.regexes.len());
        for r in &p.regexes {
            self.u32(r.source);
            self.u8(u8::from(r.icase));
        }
        self.len(p.headers.len());
        for &h in &p.headers {
            self.u32(h);
        }
        self.len(p.routes.len());
        for r in &p.routes {
            self.route(r);
        }
        self.len(p.calls.len());
        for c in &p.calls {
            self.u32(c.module);
            self.u32(c.name);
            self.len(c.args.len());
            for a in &c.args {
                self.arg(a);
            }
        }
        self.len(p.vars.len());
        for v in &p.vars {
            self.var_def(v);
        }
        self.len(p.formats.len());
        for f in &p.formats {
            self.len(f.parts.len());
            for part in &f.parts {
                match *part {
                    FormatPart::Lit(s) => {
                        self.u8(0);
                        self.u32(s);
                    }
                    FormatPart::Var(v) => {
                        self.u8(1);
                        self.u32(v);
                    }
                }
            }
        }
        self.len(p.globals.len());
        for g in &p.globals {
            self.u32(g.name);
            self.value(&g.value);
        }
        self.len(p.modules.len());
        for m in &p.modules {
            self.u32(m.name);
            self.u32(m.path);
            self.len(m.params.len());
            for (name, value) in &m.params {
                self.u32(*name);
                self.value(value);
            }
        }
        for list in [&p.flags, &p.avpflags] {
            self.len(list.len());
            for &(name, bit) in list {
                self.u32(name);
                self.u32(bit);
            }
        }
        self.len(p.cfg_vars.len());
        for c in &p.cfg_vars {
            self.u32(c.group);
            self.u32(c.name);
            self.value(&c.value);
            self.opt_u32(c.desc);
        }
        self.opt_u32(p.main_route);
    }

    fn route(&mut self, r: &Route) {
        self.u8(route_kind_tag(r.kind));
        match &r.name {
            None => self.u8(0),
            Some(RouteName::Number(n)) => {
                self.u8(1);
                self.i64(*n);
            }
            Some(RouteName::Name(s)) => {
                self.u8(2);
                self.str(s);
            }
        }
        self.len(r.code.len());
        for op in &r.code {
            self.op(op);
        }
        // One line per op (validation refuses anything else), each as the
        // difference from the previous one.
        let mut prev = 0i64;
        for i in 0..r.code.len() {
            let line = i64::from(r.lines.get(i).copied().unwrap_or(0));
            self.i64(line - prev);
            prev = line;
        }
        self.u32(r.file);
    }

    fn op(&mut self, op: &Op) {
        match *op {
            Op::PushInt(n) => {
                self.u8(0);
                self.i64(n);
            }
            Op::PushStr(s) => {
                self.u8(1);
                self.u32(s);
            }
            Op::PushNull => self.u8(2),
            Op::Load(v) => {
                self.u8(3);
                self.u32(v);
            }
            Op::Store(v) => {
                self.u8(4);
                self.u32(v);
            }
            Op::StoreAll(v) => {
                self.u8(5);
                self.u32(v);
            }
            Op::Not => self.u8(6),
            Op::Neg => self.u8(7),
            Op::Bin(b) => {
                self.u8(8);
                self.u8(binop_tag(b));
            }
            Op::Match(r) => {
                self.u8(9);
                self.u32(r);
            }
            Op::NotMatch(r) => {
                self.u8(10);
                self.u32(r);
            }
            Op::Myself => self.u8(11),
            Op::Call(c) => {
                self.u8(12);
                self.u32(c);
            }
            Op::Pop => self.u8(13),
            Op::Dup => self.u8(14),
            Op::Jump(t) => {
                self.u8(15);
                self.u32(t);
            }
            Op::JumpIfFalse(t) => {
                self.u8(16);
                self.u32(t);
            }
            Op::JumpIfFalseKeep(t) => {
                self.u8(17);
                self.u32(t);
            }
            Op::JumpIfTrueKeep(t) => {
                self.u8(18);
                self.u32(t);
            }
            Op::Route(r) => {
                self.u8(19);
                self.u32(r);
            }
            Op::Return => self.u8(20),
            Op::ReturnDefault => self.u8(21),
            Op::Exit => self.u8(22),
            Op::Drop => self.u8(23),
        }
    }

    fn arg(&mut self, a: &Arg) {
        match *a {
            Arg::Int(n) => {
                self.u8(0);
                self.i64(n);
            }
            Arg::Str(s) => {
                self.u8(1);
                self.u32(s);
            }
            Arg::Regex(r) => {
                self.u8(2);
                self.u32(r);
            }
            Arg::Var(v) => {
                self.u8(3);
                self.u32(v);
            }
            Arg::Format(f) => {
                self.u8(4);
                self.u32(f);
            }
            Arg::Route(r) => {
                self.u8(5);
                self.u32(r);
            }
            Arg::Flag(b) => {
                self.u8(6);
                self.u32(b);
            }
            Arg::Header(h) => {
                self.u8(7);
                self.u32(h);
            }
        }
    }

    fn var_def(&mut self, v: &VarDef) {
        match v {
            VarDef::Keyword(k) => {
                self.u8(0);
                self.u8(keyword_tag(*k));
            }
            VarDef::RetCode => self.u8(1),
            VarDef::Pv { name, arg, index } => {
                self.u8(2);
                self.u32(*name);
                self.opt_u32(*arg);
                self.opt_u32(*index);
            }
            VarDef::Avp { track, name, index } => {
                self.u8(3);
                match track {
                    None => self.u8(0),
                    Some(t) => {
                        self.u8(1);
                        self.u8(track_tag(*t));
                    }
                }
                self.u32(*name);
                self.opt_u32(*index);
            }
            VarDef::Select { path } => {
                self.u8(4);
                self.len(path.len());
                for &s in path {
                    self.u32(s);
                }
            }
        }
    }

    fn value(&mut self, v: &ConstValue) {
        match *v {
            ConstValue::Int(n) => {
                self.u8(0);
                self.i64(n);
            }
            ConstValue::Str(s) => {
                self.u8(1);
                self.u32(s);
            }
            ConstValue::Bool(b) => {
                self.u8(2);
                self.u8(u8::from(b));
            }
        }
    }
}

// ----- tags ---------------------------------------------------------------------

const DIALECTS: [Dialect; 4] = [
    Dialect::Ser08,
    Dialect::Ser09,
    Dialect::Ser2,
    Dialect::Kamailio,
];

fn dialect_tag(d: Dialect) -> u8 {
    match d {
        Dialect::Ser08 => 0,
        Dialect::Ser09 => 1,
        Dialect::Ser2 => 2,
        Dialect::Kamailio => 3,
    }
}

const ROUTE_KINDS: [RouteKind; 6] = [
    RouteKind::Request,
    RouteKind::OnReply,
    RouteKind::Failure,
    RouteKind::Branch,
    RouteKind::OnSend,
    RouteKind::Event,
];

fn route_kind_tag(k: RouteKind) -> u8 {
    match k {
        RouteKind::Request => 0,
        RouteKind::OnReply => 1,
        RouteKind::Failure => 2,
        RouteKind::Branch => 3,
        RouteKind::OnSend => 4,
        RouteKind::Event => 5,
    }
}

const BINOPS: [BinaryOp; 15] = [
    BinaryOp::Or,
    BinaryOp::And,
    BinaryOp::Eq,
    BinaryOp::Ne,
    BinaryOp::Match,
    BinaryOp::NotMatch,
    BinaryOp::Lt,
    BinaryOp::Gt,
    BinaryOp::Le,
    BinaryOp::Ge,
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
];

fn binop_tag(b: BinaryOp) -> u8 {
    match b {
        BinaryOp::Or => 0,
        BinaryOp::And => 1,
        BinaryOp::Eq => 2,
        BinaryOp::Ne => 3,
        BinaryOp::Match => 4,
        BinaryOp::NotMatch => 5,
        BinaryOp::Lt => 6,
        BinaryOp::Gt => 7,
        BinaryOp::Le => 8,
        BinaryOp::Ge => 9,
        BinaryOp::Add => 10,
        BinaryOp::Sub => 11,
        BinaryOp::Mul => 12,
        BinaryOp::Div => 13,
        BinaryOp::Mod => 14,
    }
}

const KEYWORDS: [Keyword; 22] = [
    Keyword::Method,
    Keyword::Uri,
    Keyword::Status,
    Keyword::FromUri,
    Keyword::ToUri,
    Keyword::SrcIp,
    Keyword::SrcPort,
    Keyword::DstIp,
    Keyword::DstPort,
    Keyword::SndIp,
    Keyword::SndPort,
    Keyword::SndProto,
    Keyword::SndAf,
    Keyword::ToIp,
    Keyword::ToPort,
    Keyword::Proto,
    Keyword::Af,
    Keyword::MsgLen,
    Keyword::MaxLen,
    Keyword::Myself,
    Keyword::UriHost,
    Keyword::UriPort,
];

fn keyword_tag(k: Keyword) -> u8 {
    match k {
        Keyword::Method => 0,
        Keyword::Uri => 1,
        Keyword::Status => 2,
        Keyword::FromUri => 3,
        Keyword::ToUri => 4,
        Keyword::SrcIp => 5,
        Keyword::SrcPort => 6,
        Keyword::DstIp => 7,
        Keyword::DstPort => 8,
        Keyword::SndIp => 9,
        Keyword::SndPort => 10,
        Keyword::SndProto => 11,
        Keyword::SndAf => 12,
        Keyword::ToIp => 13,
        Keyword::ToPort => 14,
        Keyword::Proto => 15,
        Keyword::Af => 16,
        Keyword::MsgLen => 17,
        Keyword::MaxLen => 18,
        Keyword::Myself => 19,
        Keyword::UriHost => 20,
        Keyword::UriPort => 21,
    }
}

const TRACKS: [AvpTrack; 8] = [
    AvpTrack::F,
    AvpTrack::T,
    AvpTrack::Fu,
    AvpTrack::Tu,
    AvpTrack::Fd,
    AvpTrack::Td,
    AvpTrack::Fr,
    AvpTrack::Tr,
];

fn track_tag(t: AvpTrack) -> u8 {
    match t {
        AvpTrack::F => 0,
        AvpTrack::T => 1,
        AvpTrack::Fu => 2,
        AvpTrack::Tu => 3,
        AvpTrack::Fd => 4,
        AvpTrack::Td => 5,
        AvpTrack::Fr => 6,
        AvpTrack::Tr => 7,
    }
}

fn from_table<T: Copy>(table: &[T], tag: u8, what: &str) -> Result<T, String> {
    table
        .get(usize::from(tag))
        .copied()
        .ok_or_else(|| format!("unknown {what} tag {tag}"))
}

// ----- reading -----------------------------------------------------------------

/// Decodes and validates a compiled config.
pub fn read(bytes: &[u8]) -> Result<Program, BinaryError> {
    let damaged = |s: String| BinaryError::Damaged(s);
    if !is_compiled(bytes) {
        return Err(
            if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) && !bytes.is_empty() {
                damaged(format!(
                    "truncated: {} bytes, the header alone is {HEADER_LEN}",
                    bytes.len()
                ))
            } else {
                BinaryError::NotCompiled
            },
        );
    }
    let header = bytes.get(..HEADER_LEN).ok_or_else(|| {
        damaged(format!(
            "truncated: {} bytes, the header alone is {HEADER_LEN}",
            bytes.len()
        ))
    })?;
    let le4 = |at: usize| -> [u8; 4] {
        let mut a = [0u8; 4];
        if let Some(s) = header.get(at..at + 4) {
            a.copy_from_slice(s);
        }
        a
    };
    let version = u32::from_le_bytes(le4(8));
    if version != FORMAT_VERSION {
        return Err(BinaryError::Version {
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let mut len8 = [0u8; 8];
    if let Some(s) = header.get(12..20) {
        len8.copy_from_slice(s);
    }
    let declared = u64::from_le_bytes(len8);
    let sum = u32::from_le_bytes(le4(20));
    let payload = bytes.get(HEADER_LEN..).unwrap_or(&[]);
    if declared > MAX_PAYLOAD as u64 {
        return Err(damaged(format!(
            "the header announces {declared} bytes of payload, more than the {MAX_PAYLOAD} \
             a compiled config may have"
        )));
    }
    if (payload.len() as u64) < declared {
        return Err(damaged(format!(
            "truncated: the header announces {declared} bytes of payload, the file has {}",
            payload.len()
        )));
    }
    if payload.len() as u64 != declared {
        return Err(damaged(format!(
            "length mismatch: the header announces {declared} bytes of payload, the file has {}",
            payload.len()
        )));
    }
    if crc32(payload) != sum {
        return Err(damaged("checksum mismatch".into()));
    }
    let mut r = Reader { b: payload, pos: 0 };
    let p = r
        .program()
        .map_err(|e| damaged(format!("at payload byte {}: {e}", r.pos)))?;
    if r.pos != payload.len() {
        return Err(damaged(format!(
            "{} unexpected bytes after the program",
            payload.len() - r.pos
        )));
    }
    validate(&p).map_err(damaged)?;
    Ok(p)
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, String>;

/// Initial capacity of a decoded list: never more than the input could
/// hold, and small enough that a lying count cannot reserve much.
fn cap(n: usize) -> usize {
    n.min(1024)
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }

    fn u8(&mut self) -> R<u8> {
        let b = *self.b.get(self.pos).ok_or("unexpected end of payload")?;
        self.pos += 1;
        Ok(b)
    }

    fn var(&mut self) -> R<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7F);
            if shift == 63 && bits > 1 {
                return Err("number too large".into());
            }
            n |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err("number too long".into())
    }

    fn u32(&mut self) -> R<u32> {
        let n = self.var()?;
        u32::try_from(n).map_err(|_| format!("{n} does not fit 32 bits"))
    }

    fn i64(&mut self) -> R<i64> {
        Ok(unzigzag(self.var()?))
    }

    /// A count of elements, each of which takes at least one byte.
    fn count(&mut self) -> R<usize> {
        let n = self.var()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.left() => Ok(n),
            _ => Err(format!(
                "a list of {n} elements cannot fit in the {} bytes left",
                self.left()
            )),
        }
    }

    fn str(&mut self) -> R<String> {
        let n = self.count()?;
        let bytes = self
            .b
            .get(self.pos..self.pos + n)
            .ok_or("unexpected end of payload")?;
        self.pos += n;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a string is not valid UTF-8".to_string())
    }

    fn bool(&mut self) -> R<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("{b} is not a boolean")),
        }
    }

    fn opt_u32(&mut self) -> R<Option<u32>> {
        Ok(if self.bool()? {
            Some(self.u32()?)
        } else {
            None
        })
    }

    fn list<T>(&mut self, mut f: impl FnMut(&mut Self) -> R<T>) -> R<Vec<T>> {
        let n = self.count()?;
        let mut v = Vec::with_capacity(cap(n));
        for _ in 0..n {
            v.push(f(self)?);
        }
        Ok(v)
    }

    fn program(&mut self) -> R<Program> {
        let dialect = from_table(&DIALECTS, self.u8()?, "dialect")?;
        let dialect_reason = self.str()?;
        let strings = self.list(|r| r.str())?;
        let regexes = self.list(|r| {
            Ok(RegexDef {
                source: r.u32()?,
                icase: r.bool()?,
            })
        })?;
        let headers = self.list(|r| r.u32())?;
        let routes = self.list(|r| r.route())?;
        let calls = self.list(|r| {
            Ok(CallSite {
                module: r.u32()?,
                name: r.u32()?,
                args: r.list(|r| r.arg())?,
            })
        })?;
        let vars = self.list(|r| r.var_def())?;
        let formats = self.list(|r| {
            Ok(Format {
                parts: r.list(|r| match r.u8()? {
                    0 => Ok(FormatPart::Lit(r.u32()?)),
                    1 => Ok(FormatPart::Var(r.u32()?)),
                    t => Err(format!("unknown format part tag {t}")),
                })?,
            })
        })?;
        let globals = self.list(|r| {
            Ok(Global {
                name: r.u32()?,
                value: r.value()?,
            })
        })?;
        let modules = self.list(|r| {
            Ok(ModuleUse {
                name: r.u32()?,
                path: r.u32()?,
                params: r.list(|r| Ok((r.u32()?, r.value()?)))?,
            })
        })?;
        let flags = self.list(|r| Ok((r.u32()?, r.u32()?)))?;
        let avpflags = self.list(|r| Ok((r.u32()?, r.u32()?)))?;
        let cfg_vars = self.list(|r| {
            Ok(CfgVarDef {
                group: r.u32()?,
                name: r.u32()?,
                value: r.value()?,
                desc: r.opt_u32()?,
            })
        })?;
        let main_route = self.opt_u32()?;
        Ok(Program {
            dialect,
            dialect_reason,
            strings,
            regexes,
            headers,
            routes,
            calls,
            vars,
            formats,
            globals,
            modules,
            flags,
            avpflags,
            cfg_vars,
            main_route,
        })
    }

    fn route(&mut self) -> R<Route> {
        let kind = from_table(&ROUTE_KINDS, self.u8()?, "route kind")?;
        let name = match self.u8()? {
            0 => None,
            1 => Some(RouteName::Number(self.i64()?)),
            2 => Some(RouteName::Name(self.str()?)),
            t => return Err(format!("unknown route name tag {t}")),
        };
        let code = self.list(|r| r.op())?;
        // The lines: one per op, each at least one byte.
        if code.len() > self.left() {
            return Err("the line numbers of a route are missing".into());
        }
        let mut lines = Vec::with_capacity(cap(code.len()));
        let mut prev = 0i64;
        for _ in 0..code.len() {
            let line = prev
                .checked_add(self.i64()?)
                .and_then(|l| u32::try_from(l).ok())
                .ok_or("a line number is out of range")?;
            lines.push(line);
            prev = i64::from(line);
        }
        let file = self.u32()?;
        Ok(Route {
            kind,
            name,
            code,
            lines,
            file,
        })
    }

    fn op(&mut self) -> R<Op> {
        Ok(match self.u8()? {
            0 => Op::PushInt(self.i64()?),
            1 => Op::PushStr(self.u32()?),
            2 => Op::PushNull,
            3 => Op::Load(self.u32()?),
            4 => Op::Store(self.u32()?),
            5 => Op::StoreAll(self.u32()?),
            6 => Op::Not,
            7 => Op::Neg,
            8 => Op::Bin(from_table(&BINOPS, self.u8()?, "operator")?),
            9 => Op::Match(self.u32()?),
            10 => Op::NotMatch(self.u32()?),
            11 => Op::Myself,
            12 => Op::Call(self.u32()?),
            13 => Op::Pop,
            14 => Op::Dup,
            15 => Op::Jump(self.u32()?),
            16 => Op::JumpIfFalse(self.u32()?),
            17 => Op::JumpIfFalseKeep(self.u32()?),
            18 => Op::JumpIfTrueKeep(self.u32()?),
            19 => Op::Route(self.u32()?),
            20 => Op::Return,
            21 => Op::ReturnDefault,
            22 => Op::Exit,
            23 => Op::Drop,
            t => return Err(format!("unknown op tag {t}")),
        })
    }

    fn arg(&mut self) -> R<Arg> {
        Ok(match self.u8()? {
            0 => Arg::Int(self.i64()?),
            1 => Arg::Str(self.u32()?),
            2 => Arg::Regex(self.u32()?),
            3 => Arg::Var(self.u32()?),
            4 => Arg::Format(self.u32()?),
            5 => Arg::Route(self.u32()?),
            6 => Arg::Flag(self.u32()?),
            7 => Arg::Header(self.u32()?),
            t => return Err(format!("unknown argument tag {t}")),
        })
    }

    fn var_def(&mut self) -> R<VarDef> {
        Ok(match self.u8()? {
            0 => VarDef::Keyword(from_table(&KEYWORDS, self.u8()?, "keyword")?),
            1 => VarDef::RetCode,
            2 => VarDef::Pv {
                name: self.u32()?,
                arg: self.opt_u32()?,
                index: self.opt_u32()?,
            },
            3 => VarDef::Avp {
                track: if self.bool()? {
                    Some(from_table(&TRACKS, self.u8()?, "AVP track")?)
                } else {
                    None
                },
                name: self.u32()?,
                index: self.opt_u32()?,
            },
            4 => VarDef::Select {
                path: self.list(|r| r.u32())?,
            },
            t => return Err(format!("unknown variable tag {t}")),
        })
    }

    fn value(&mut self) -> R<ConstValue> {
        Ok(match self.u8()? {
            0 => ConstValue::Int(self.i64()?),
            1 => ConstValue::Str(self.u32()?),
            2 => ConstValue::Bool(self.bool()?),
            t => return Err(format!("unknown value tag {t}")),
        })
    }
}

// ----- validation ----------------------------------------------------------------

/// Checks that a program holds together (see [`Program::validate`]).
pub fn validate(p: &Program) -> Result<(), String> {
    p.validate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        // Every length around the 8-byte blocks, against the bytewise form.
        let data: Vec<u8> = (0..40u32).map(|i| (i * 37 + 11) as u8).collect();
        for n in 0..data.len() {
            let mut c = 0xFFFF_FFFFu32;
            for &b in &data[..n] {
                c = CRC_TABLES[0][((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
            }
            assert_eq!(crc32(&data[..n]), c ^ 0xFFFF_FFFF, "{n}");
        }
    }

    #[test]
    fn tag_tables_match_the_encoders() {
        for (i, d) in DIALECTS.iter().enumerate() {
            assert_eq!(usize::from(dialect_tag(*d)), i);
        }
        for (i, k) in ROUTE_KINDS.iter().enumerate() {
            assert_eq!(usize::from(route_kind_tag(*k)), i);
        }
        for (i, b) in BINOPS.iter().enumerate() {
            assert_eq!(usize::from(binop_tag(*b)), i);
        }
        for (i, k) in KEYWORDS.iter().enumerate() {
            assert_eq!(usize::from(keyword_tag(*k)), i);
            assert_eq!(
                Keyword::from_word(k.spelling()).or_else(|| {
                    let (a, b) = k.spelling().split_once(':')?;
                    Keyword::from_pair(a, b)
                }),
                Some(*k)
            );
        }
        for (i, t) in TRACKS.iter().enumerate() {
            assert_eq!(usize::from(track_tag(*t)), i);
            assert_eq!(AvpTrack::from_prefix(t.prefix()), Some(*t));
        }
    }

    #[test]
    fn varints_round_trip() {
        for n in [0, 1, -1, 63, -64, 64, i64::MAX, i64::MIN, 1 << 40] {
            let mut w = Writer::default();
            w.i64(n);
            let mut r = Reader { b: &w.out, pos: 0 };
            assert_eq!(r.i64().unwrap(), n);
            assert_eq!(r.pos, w.out.len());
        }
        // 11 bytes, or a 10th byte with more than one bit: refused.
        let mut r = Reader {
            b: &[0xFF; 11],
            pos: 0,
        };
        assert!(r.var().is_err());
        let mut long = vec![0xFF; 9];
        long.push(0x02);
        let mut r = Reader { b: &long, pos: 0 };
        assert_eq!(r.var().unwrap_err(), "number too large");
    }
}
