//! The binary form: write then read gives the same program for every seed
//! config; damaged, truncated, foreign and crafted inputs are refused with
//! a clear error and never a panic; the file helpers behave as `ser -c -o`
//! and `ser -f x.bin` use them.

use std::path::{Path, PathBuf};

use ser_cfg::ast::{BinaryOp, RouteKind};
use ser_cfg::binary::{
    self, BinaryError, FileError, HEADER_LEN, MAGIC, crc32, is_compiled, is_compiled_file, read,
    read_file, validate, write, write_file,
};
use ser_cfg::compile::compile;
use ser_cfg::ir::{
    Arg, CallSite, FORMAT_VERSION, Format, FormatPart, Op, Program, RegexDef, Route, VarDef,
};
use ser_cfg::{Define, parse_file};

fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/seeds")
        .join(name)
}

const SEEDS: &[&str] = &[
    "hello-world.cfg",
    "mysql-auth.cfg",
    "nat-mediaproxy.cfg",
    "nat-rtpproxy.cfg",
    "pstn.cfg",
    "call-forwarding.cfg",
    "ser-0.8.8.cfg",
    "ser-2.0-default.cfg",
    "kamailio-3.1-default.cfg",
];

const WITH_ALL: &[&str] = &[
    "WITH_DEBUG",
    "WITH_MYSQL",
    "WITH_AUTH",
    "WITH_IPAUTH",
    "WITH_USRLOCDB",
    "WITH_PRESENCE",
    "WITH_NAT",
    "WITH_PSTN",
    "WITH_ACCDB",
];

fn compiled(name: &str, defines: &[Define]) -> Program {
    let script = parse_file(&seed(name), defines).unwrap_or_else(|d| panic!("{d}"));
    compile(&script).unwrap_or_else(|d| panic!("{name}: {d:?}"))
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `bytes` with the payload checksum recomputed (to get past the checksum
/// to the decoder and the validator).
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    let len = (bytes.len() - HEADER_LEN) as u64;
    bytes[12..20].copy_from_slice(&len.to_le_bytes());
    let sum = crc32(&bytes[HEADER_LEN..]);
    bytes[20..24].copy_from_slice(&sum.to_le_bytes());
    bytes
}

#[test]
fn every_seed_round_trips() {
    for name in SEEDS {
        let p = compiled(name, &[]);
        let bytes = write(&p);
        assert!(is_compiled(&bytes));
        let back = read(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back, p, "{name}");
        // Writing is deterministic.
        assert_eq!(write(&back), bytes, "{name}");
    }
}

#[test]
fn kamailio_round_trips_under_every_define_combination() {
    for mask in 0u32..(1 << WITH_ALL.len()) {
        let defines: Vec<Define> = WITH_ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, d)| Define::from_arg(d))
            .collect();
        let p = compiled("kamailio-3.1-default.cfg", &defines);
        assert_eq!(read(&write(&p)).unwrap(), p, "defines {mask:#b}");
    }
}

#[test]
fn the_header_is_as_documented() {
    let p = compiled("hello-world.cfg", &[]);
    let bytes = write(&p);
    assert_eq!(&bytes[..8], b"SERCFGB\0");
    assert_eq!(&bytes[..8], &MAGIC);
    assert_eq!(
        u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
        FORMAT_VERSION
    );
    let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap());
    assert_eq!(len as usize, bytes.len() - HEADER_LEN);
    assert_eq!(
        u32::from_le_bytes(bytes[20..24].try_into().unwrap()),
        crc32(&bytes[HEADER_LEN..])
    );
    // Compact: the compiled form is smaller than the source.
    let source = std::fs::metadata(seed("hello-world.cfg")).unwrap().len();
    assert!((bytes.len() as u64) < source, "{} bytes", bytes.len());
}

#[test]
fn every_single_byte_corruption_is_refused() {
    // Exhaustively on the smallest seed: every position, every other value.
    let bytes = write(&compiled("ser-0.8.8.cfg", &[]));
    let mut buf = bytes.clone();
    for i in 0..bytes.len() {
        for v in 0..=255u8 {
            if v == bytes[i] {
                continue;
            }
            buf[i] = v;
            assert!(read(&buf).is_err(), "byte {i} = {v:#04x} accepted");
        }
        buf[i] = bytes[i];
    }
    // Every bit of every byte of the other seeds.
    for name in SEEDS {
        let bytes = write(&compiled(name, &[]));
        let mut buf = bytes.clone();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                buf[i] ^= 1 << bit;
                assert!(read(&buf).is_err(), "{name}: byte {i} bit {bit} accepted");
                buf[i] ^= 1 << bit;
            }
        }
    }
}

#[test]
fn corruption_messages() {
    let bytes = write(&compiled("hello-world.cfg", &[]));
    let mut b = bytes.clone();
    let last = b.len() - 1;
    b[last] ^= 0x20;
    assert_eq!(
        read(&b).unwrap_err().to_string(),
        "damaged compiled config (checksum mismatch)"
    );
    let mut b = bytes.clone();
    b[0] = b'X';
    assert_eq!(read(&b).unwrap_err(), BinaryError::NotCompiled);
    assert_eq!(
        BinaryError::NotCompiled.to_string(),
        "not a compiled ser config (it does not start with the `SERCFGB` magic)"
    );
    let mut b = bytes.clone();
    b.push(0);
    assert_eq!(
        read(&b).unwrap_err().to_string(),
        format!(
            "damaged compiled config (length mismatch: the header announces {} bytes of \
             payload, the file has {})",
            bytes.len() - HEADER_LEN,
            bytes.len() - HEADER_LEN + 1
        )
    );
    assert_eq!(
        read(&bytes[..10]).unwrap_err().to_string(),
        "damaged compiled config (truncated: 10 bytes, the header alone is 24)"
    );
    assert_eq!(
        read(&bytes[..100]).unwrap_err().to_string(),
        format!(
            "damaged compiled config (truncated: the header announces {} bytes of payload, \
             the file has 76)",
            bytes.len() - HEADER_LEN
        )
    );
    let mut b = bytes.clone();
    b[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(
        read(&b)
            .unwrap_err()
            .to_string()
            .contains("more than the 67108864 a compiled config may have")
    );
}

#[test]
fn version_mismatch_names_both_versions() {
    let mut b = write(&compiled("hello-world.cfg", &[]));
    b[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e = read(&b).unwrap_err();
    assert_eq!(
        e,
        BinaryError::Version {
            found: FORMAT_VERSION + 1,
            expected: FORMAT_VERSION
        }
    );
    assert_eq!(
        e.to_string(),
        format!(
            "compiled config has format version {}, but this ser reads version {}; \
             compile the config again with `ser -c -f <config> -o <file>`",
            FORMAT_VERSION + 1,
            FORMAT_VERSION
        )
    );
}

#[test]
fn every_truncation_is_refused() {
    for name in SEEDS {
        let bytes = write(&compiled(name, &[]));
        for n in 0..bytes.len() {
            match read(&bytes[..n]) {
                Err(BinaryError::Damaged(m)) => assert!(m.starts_with("truncated"), "{m}"),
                Err(BinaryError::NotCompiled) => assert_eq!(n, 0),
                other => panic!("{name}: {n} bytes: {other:?}"),
            }
        }
    }
}

#[test]
fn random_bytes_are_refused() {
    let mut rng = Rng(0x5EED_CF6B_0000_0001);
    for round in 0..20_000 {
        let len = rng.below(600);
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert!(read(&b).is_err());
        // Behind a valid header, the decoder and the validator see them.
        if round % 2 == 0 {
            let mut sealed = MAGIC.to_vec();
            sealed.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
            sealed.extend_from_slice(&[0; 12]);
            sealed.append(&mut b);
            if let Ok(p) = read(&reseal(sealed)) {
                validate(&p).unwrap();
            }
        }
    }
}

#[test]
fn changed_payloads_with_a_good_checksum_decode_or_are_refused() {
    // Past the checksum, every byte value at every position: the decoder
    // and the validator must refuse or produce a program that holds
    // together; never panic.
    let bytes = write(&compiled("hello-world.cfg", &[]));
    let mut refused = 0;
    for i in HEADER_LEN..bytes.len() {
        for v in [0x00, 0x01, 0x02, 0x07, 0x17, 0x18, 0x7F, 0x80, 0xFF] {
            if v == bytes[i] {
                continue;
            }
            let mut b = bytes.clone();
            b[i] = v;
            match read(&reseal(b)) {
                Ok(p) => validate(&p).unwrap(),
                Err(BinaryError::Damaged(_)) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert!(refused > 1000, "{refused}");
    // Removing or inserting a byte in the payload.
    for i in HEADER_LEN..bytes.len() {
        let mut b = bytes.clone();
        b.remove(i);
        if let Ok(p) = read(&reseal(b)) {
            validate(&p).unwrap();
        }
        let mut b = bytes.clone();
        b.insert(i, 0x05);
        if let Ok(p) = read(&reseal(b)) {
            validate(&p).unwrap();
        }
    }
}

/// A valid program to break one index at a time.
fn small_program() -> Program {
    Program {
        strings: vec!["t.cfg".into(), "x".into()],
        regexes: vec![RegexDef {
            source: 1,
            icase: true,
        }],
        headers: vec![1],
        vars: vec![VarDef::RetCode],
        formats: vec![Format {
            parts: vec![FormatPart::Lit(1), FormatPart::Var(0)],
        }],
        calls: vec![CallSite {
            module: 1,
            name: 1,
            args: vec![
                Arg::Str(1),
                Arg::Regex(0),
                Arg::Var(0),
                Arg::Format(0),
                Arg::Route(0),
                Arg::Header(0),
            ],
        }],
        routes: vec![Route {
            kind: RouteKind::Request,
            name: None,
            code: vec![
                Op::PushStr(1),
                Op::Match(0),
                Op::JumpIfFalse(3),
                Op::Call(0),
                Op::Load(0),
                Op::Pop,
                Op::Pop,
                Op::ReturnDefault,
            ],
            lines: vec![1; 8],
            file: 0,
        }],
        main_route: Some(0),
        ..Program::default()
    }
}

#[test]
fn every_kind_of_index_is_checked() {
    let good = small_program();
    validate(&good).unwrap();
    assert_eq!(read(&write(&good)).unwrap(), good);
    type Break = fn(&mut Program);
    let cases: &[(&str, Break)] = &[
        ("route 0 refers to string 9", |p| p.routes[0].file = 9),
        ("regex 0 refers to string 9", |p| p.regexes[0].source = 9),
        ("header 0 refers to string 9", |p| p.headers[0] = 9),
        ("route 0 op 0 refers to string 9", |p| {
            p.routes[0].code[0] = Op::PushStr(9)
        }),
        ("route 0 op 1 refers to regex 9", |p| {
            p.routes[0].code[1] = Op::Match(9)
        }),
        ("route 0 op 2 jumps to 8, past the end", |p| {
            p.routes[0].code[2] = Op::JumpIfFalse(8)
        }),
        ("route 0 op 3 refers to call 9", |p| {
            p.routes[0].code[3] = Op::Call(9)
        }),
        ("route 0 op 4 refers to variable 9", |p| {
            p.routes[0].code[4] = Op::Store(9)
        }),
        ("route 0 op 5 refers to route 9", |p| {
            p.routes[0].code[5] = Op::Route(9)
        }),
        ("route 0 op 6 has `&&`/`||`", |p| {
            p.routes[0].code[6] = Op::Bin(BinaryOp::And)
        }),
        ("route 0 does not end with a return", |p| {
            p.routes[0].code[7] = Op::Pop
        }),
        ("route 0 has 8 ops but 7 line numbers", |p| {
            p.routes[0].lines.pop();
        }),
        ("route 0 has no code", |p| {
            p.routes[0].code.clear();
            p.routes[0].lines.clear();
        }),
        ("call 0 refers to string 9", |p| p.calls[0].name = 9),
        ("call 0 refers to string 9", |p| {
            p.calls[0].args[0] = Arg::Str(9)
        }),
        ("call 0 refers to regex 9", |p| {
            p.calls[0].args[1] = Arg::Regex(9)
        }),
        ("call 0 refers to variable 9", |p| {
            p.calls[0].args[2] = Arg::Var(9)
        }),
        ("call 0 refers to format 9", |p| {
            p.calls[0].args[3] = Arg::Format(9)
        }),
        ("call 0 refers to route 9", |p| {
            p.calls[0].args[4] = Arg::Route(9)
        }),
        ("call 0 refers to header 9", |p| {
            p.calls[0].args[5] = Arg::Header(9)
        }),
        ("format 0 refers to string 9", |p| {
            p.formats[0].parts[0] = FormatPart::Lit(9)
        }),
        ("format 0 refers to variable 9", |p| {
            p.formats[0].parts[1] = FormatPart::Var(9)
        }),
        ("variable 0 refers to string 9", |p| {
            p.vars[0] = VarDef::Select { path: vec![0, 9] }
        }),
        ("the main route refers to route 9", |p| {
            p.main_route = Some(9)
        }),
        ("the main route 0 is not a request route", |p| {
            p.routes[0].kind = RouteKind::Failure
        }),
    ];
    for (want, break_it) in cases {
        let mut p = good.clone();
        break_it(&mut p);
        let e = validate(&p).unwrap_err();
        assert!(e.starts_with(want), "{e} (want {want})");
        // The writer writes what it is given (except a wrong number of
        // lines, which the format cannot express: one line per op); the
        // reader refuses it.
        if want.contains("line numbers") {
            continue;
        }
        match read(&write(&p)) {
            Err(BinaryError::Damaged(m)) => assert!(m.starts_with(want), "{m}"),
            other => panic!("{want}: {other:?}"),
        }
    }
}

#[test]
fn lying_counts_do_not_allocate() {
    // A payload that announces 2^60 strings in three bytes.
    let mut b = MAGIC.to_vec();
    b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    b.extend_from_slice(&[0; 12]);
    b.extend_from_slice(&[1, 0]); // dialect, empty reason
    b.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
    let e = read(&reseal(b)).unwrap_err().to_string();
    assert!(e.contains("cannot fit in the 0 bytes left"), "{e}");
}

// ----- files, as `ser -c -o` and `ser -f x.bin` use them ---------------------

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("ser-cfg-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn compile_write_load_as_the_command_line_does() {
    let dir = TempDir::new("cli");
    for name in SEEDS {
        // `ser -c -f x.cfg -o x.bin`
        let src = seed(name);
        assert!(!is_compiled_file(&src));
        let p = compiled(name, &[]);
        let out = dir.0.join(name.replace(".cfg", ".bin"));
        write_file(&out, &p).unwrap();
        // `ser -f x.bin`: the magic tells it from a config.
        assert!(is_compiled_file(&out));
        assert_eq!(read_file(&out).unwrap(), p);
    }
    // Nothing but the outputs is left in the directory.
    let files = std::fs::read_dir(&dir.0).unwrap().count();
    assert_eq!(files, SEEDS.len());
}

#[test]
fn file_errors_name_the_file() {
    let dir = TempDir::new("errors");
    let p = compiled("hello-world.cfg", &[]);
    let path = dir.0.join("x.bin");
    write_file(&path, &p).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let e = read_file(&path).unwrap_err();
    assert!(matches!(e, FileError::Refused { .. }));
    assert_eq!(
        format!("ser: {e}"),
        format!(
            "ser: {}: damaged compiled config (checksum mismatch)",
            path.display()
        )
    );
    let missing = dir.0.join("missing.bin");
    assert!(!is_compiled_file(&missing));
    assert_eq!(
        read_file(&missing).unwrap_err().to_string(),
        format!(
            "{}: cannot read compiled config: No such file or directory",
            missing.display()
        )
    );
    let cfg = seed("hello-world.cfg");
    assert_eq!(
        read_file(&cfg).unwrap_err().to_string(),
        format!(
            "{}: not a compiled ser config (it does not start with the `SERCFGB` magic)",
            cfg.display()
        )
    );
    let e = write_file(&dir.0.join("no/such/dir/x.bin"), &p).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("cannot write compiled config: No such file or directory"),
        "{e}"
    );
    // A file shorter than the magic is not taken for a compiled config.
    let short = dir.0.join("short");
    std::fs::write(&short, b"SER").unwrap();
    assert!(!is_compiled_file(&short));
    assert!(
        binary::read(b"SER")
            .unwrap_err()
            .to_string()
            .contains("truncated")
    );
}
