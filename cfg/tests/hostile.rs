//! Hostile configs: rejected cleanly, never a panic, a hang or a blown
//! stack. Deep-nesting cases run on a thread with a small stack to show
//! that recursion is bounded.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ser_cfg::{Diagnostic, Script, parse_bytes, parse_str};

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn err_small_stack(text: String) -> String {
    on_small_stack(move || {
        parse_str("h.cfg", &text, &[])
            .map(|_| ())
            .unwrap_err()
            .to_string()
    })
}

#[test]
fn deep_blocks() {
    let text = format!("route {{ {} }}", "{".repeat(100_000));
    assert_eq!(
        err_small_stack(text),
        "h.cfg:1:72: blocks or expressions nested too deeply (more than 64 levels)"
    );
}

#[test]
fn deep_unbraced_ifs() {
    let text = format!("route {{ {} x(); }}", "if (a) ".repeat(50_000));
    assert!(err_small_stack(text).contains("nested too deeply (more than 64 levels)"));
}

#[test]
fn deep_parentheses_and_unary() {
    for prefix in ["(", "!", "-", "f(", "!(-("] {
        let text = format!(
            "route {{ if ({}a) x(); }}",
            prefix.repeat(100_000 / prefix.len())
        );
        let e = err_small_stack(text);
        assert!(e.contains("nested too deeply"), "{prefix}: {e}");
    }
}

#[test]
fn long_operator_chains() {
    for op in ["||", "&&", "+", "==", "*"] {
        let text = format!("route {{ if ({}) x(); }}", vec!["a"; 100_000].join(op));
        let e = err_small_stack(text);
        assert!(
            e.contains("expression too deeply nested (more than 256 levels)"),
            "{op}: {e}"
        );
    }
}

#[test]
fn many_else_ifs_and_statements_are_fine() {
    let text = format!(
        "route {{ if (a) x(); {} }}",
        "else if (b) y(); ".repeat(20_000)
    );
    assert!(on_small_stack(
        move || parse_str("h.cfg", &text, &[]).is_ok()
    ));
    let text = format!("route {{ {} }}", "x(); ".repeat(100_000));
    assert!(parse_str("h.cfg", &text, &[]).is_ok());
}

#[test]
fn size_and_token_limits() {
    let big = "#".repeat(5 << 20);
    assert_eq!(
        parse_str("h.cfg", &big, &[]).unwrap_err().to_string(),
        "h.cfg:0:0: config file is larger than 4 MiB"
    );
    let semis = ";".repeat(3_000_000);
    assert_eq!(
        parse_str("h.cfg", &semis, &[]).unwrap_err().to_string(),
        "h.cfg:1:1000001: configuration too large: more than 1000000 tokens"
    );
}

#[test]
fn long_lexemes_are_linear() {
    let t = Instant::now();
    let cases = [
        format!("x=\"{}\"", "a".repeat(3 << 20)),
        format!("x={}", "a".repeat(3 << 20)),
        format!("/*{}*/", "/*".repeat(1 << 20) + &"*/".repeat(1 << 20)),
        format!("route {{ if ($hdr({}) x(); }}", "(".repeat(1 << 20)),
        format!("route {{ if ($a{}) x(); }}", "[".repeat(1 << 20)),
        "#!define A \\\n".repeat(100_000),
        format!("{}\n", "#!ifdef X\n#!else\n#!endif\n".repeat(100_000)),
    ];
    for c in cases {
        let _ = parse_str("h.cfg", &c, &[]);
    }
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t.elapsed()
    );
}

#[test]
fn deep_and_cyclic_includes() {
    let tmp = std::env::temp_dir().join(format!("ser-cfg-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for i in 0..30 {
        std::fs::write(
            tmp.join(format!("f{i}.cfg")),
            format!("include_file \"f{}.cfg\"\n", i + 1),
        )
        .unwrap();
    }
    std::fs::write(tmp.join("self.cfg"), "debug=1\ninclude_file \"self.cfg\"\n").unwrap();
    let e = ser_cfg::parse_file(&tmp.join("f0.cfg"), &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:1:14: files included too deeply (more than 16 levels)",
            tmp.join("f16.cfg").display()
        )
    );
    let e = ser_cfg::parse_file(&tmp.join("self.cfg"), &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2:14: include cycle: `{}` is already being read",
            tmp.join("self.cfg").display(),
            tmp.join("self.cfg").display()
        )
    );
    // The same file included many times (no cycle) is bounded by total size.
    std::fs::write(
        tmp.join("chunk.cfg"),
        format!("debug=1 {}\n", "#".repeat(1 << 20)),
    )
    .unwrap();
    std::fs::write(
        tmp.join("many.cfg"),
        "include_file \"chunk.cfg\"\n".repeat(40),
    )
    .unwrap();
    let e = ser_cfg::parse_file(&tmp.join("many.cfg"), &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:16:14: configuration too large: files add up to more than 16 MiB",
            tmp.join("many.cfg").display()
        )
    );
    // A directory and a device are refused cleanly.
    let e = ser_cfg::parse_file(&tmp, &[]).unwrap_err();
    assert!(e.to_string().contains("cannot read config file"), "{e}");
    std::fs::write(tmp.join("dev.cfg"), "include_file \"/dev/zero\"\n").unwrap();
    let e = ser_cfg::parse_file(&tmp.join("dev.cfg"), &[]).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("cannot read included file `/dev/zero`: not a regular file"),
        "{e}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
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
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seeds");
    let mut v: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    v.sort();
    v
}

const PIECES: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ";",
    ",",
    ":",
    ".",
    "=",
    "==",
    "!=",
    "=~",
    "!",
    "&&",
    "||",
    "+",
    "-",
    "\"",
    "'",
    "$",
    "$?",
    "$rU",
    "$t.did",
    "$avp(i:80)",
    "$sel(a.b)",
    "@to.tag",
    "@",
    "/*",
    "*/",
    "#",
    "\n",
    "#!ifdef A\n",
    "#!else\n",
    "#!endif\n",
    "#!define A B\n",
    "#!define B A\n",
    "A",
    "B",
    "if",
    "else",
    "switch",
    "case",
    "default",
    "while",
    "break",
    "drop",
    "exit",
    "return",
    "route",
    "route[",
    "failure_route[1]",
    "modparam(",
    "loadmodule",
    "flags",
    "avpflags",
    "1",
    "-1",
    "0x",
    "1.2.3.4",
    "[::1]",
    "udp:",
    "msg:len",
    "myself",
    "\\",
    "\\\n",
    "é",
    "\u{0}",
    "include_file \"/nonexistent\"",
    "import_file \"/nonexistent\"",
    "x.y = 1 desc \"d\"",
];

/// Parses and checks the diagnostic (if any) points inside the input.
fn check(name: &str, input: &[u8]) -> Result<Script, Diagnostic> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        parse_bytes(Path::new("fuzz.cfg"), input, &Default::default())
    }));
    let r = match r {
        Ok(r) => r,
        Err(_) => panic!("panic on {name}: {:?}", String::from_utf8_lossy(input)),
    };
    if let Err(d) = &r
        && d.file == Path::new("fuzz.cfg")
    {
        let lines = input.iter().filter(|b| **b == b'\n').count() as u32 + 1;
        assert!(
            d.line >= 1 && d.line <= lines && d.col >= 1,
            "{name}: {d} outside input of {lines} lines"
        );
    }
    r
}

#[test]
fn mutated_seed_configs_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x5EED_CF6A_1234_5678);
    let start = Instant::now();
    let mut rejected = 0;
    for round in 0..3000 {
        let (path, base) = &seeds[round % seeds.len()];
        let mut input = base.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(input.len() + 1);
            match rng.below(5) {
                0 => {
                    let end = (at + 1 + rng.below(40)).min(input.len());
                    input.drain(at..end);
                }
                1 => {
                    let piece = PIECES[rng.below(PIECES.len())].as_bytes();
                    input.splice(at..at, piece.iter().copied());
                }
                2 => {
                    let end = (at + rng.below(200)).min(input.len());
                    let copy = input[at..end].to_vec();
                    let to = rng.below(input.len() + 1);
                    input.splice(to..to, copy);
                }
                3 => {
                    if at < input.len() {
                        input[at] = rng.next() as u8;
                    }
                }
                _ => {
                    let end = (at + rng.below(20)).min(input.len());
                    input.truncate(end);
                }
            }
        }
        if check(&format!("{} round {round}", path.display()), &input).is_err() {
            rejected += 1;
        }
    }
    assert!(
        rejected > 100,
        "mutations should break most configs, only {rejected} rejected"
    );
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn token_soup_and_random_bytes_never_panic() {
    let mut rng = Rng(0xC0FF_EE00_DEAD_BEEF);
    for round in 0..3000 {
        let mut input = Vec::new();
        for _ in 0..rng.below(60) {
            input.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
            if rng.below(3) == 0 {
                input.push(b' ');
            }
        }
        check(&format!("soup {round}"), &input).ok();
    }
    for round in 0..1000 {
        let len = rng.below(300);
        let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check(&format!("bytes {round}"), &input).ok();
    }
}

#[test]
fn a_large_realistic_config_parses_in_linear_time() {
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seeds/call-forwarding.cfg"),
    )
    .unwrap();
    let route_start = seed.find("route[1]").unwrap();
    let routes = &seed[route_start..];
    let build = |n: usize| {
        let mut text = seed[..route_start].to_string();
        // Duplicate route names are the checker's business, not the parser's.
        for _ in 0..n {
            text.push_str(routes);
        }
        text
    };
    let small = build(20);
    let large = build(200);
    assert!(large.len() < 4 << 20);
    let t = Instant::now();
    parse_str("s.cfg", &small, &[]).unwrap();
    let t_small = t.elapsed();
    let t = Instant::now();
    parse_str("l.cfg", &large, &[]).unwrap();
    let t_large = t.elapsed();
    // 10x the input; allow generous noise but catch quadratic behaviour.
    assert!(
        t_large < t_small * 40 + Duration::from_millis(200),
        "small {t_small:?}, large {t_large:?}"
    );
}
