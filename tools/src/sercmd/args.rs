//! `sercmd`'s command line (kamcmd's options, parsed the way GNU getopt
//! does it) and the typing of RPC arguments (kamcmd's guess: INT, then
//! DOUBLE, then STR, `s:` forcing a string).
//!
//! Options may come anywhere, also after the method (`sercmd core.ps -v`),
//! as getopt permutes them in kamcmd; `--` ends the options, which is how
//! a negative number is passed (`sercmd -- core.printi -3`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::time::Duration;

/// Seconds to wait for a reply when `-t` is not given. `kamcmd` waits
/// forever; a router that never answers should not hang a script.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// `-s`: the control socket address (`None`: SER's default).
    pub addr: Option<String>,
    /// `-R`: exact path of the reply socket (unix datagram mode).
    pub reply_sock: Option<PathBuf>,
    /// `-D`: directory of the reply socket (unix datagram mode).
    pub reply_dir: Option<PathBuf>,
    /// `-f`: output format.
    pub format: Option<Vec<u8>>,
    /// Number of `-v`.
    pub verbose: u8,
    /// `-U`: an address without a protocol and without a `/` is UDP.
    pub udp_default: bool,
    /// `-t`: how long to wait for a reply (`None`: forever, `-t 0`).
    pub timeout: Option<Duration>,
    /// The method (or alias or builtin) and its arguments; empty for the
    /// interactive mode.
    pub command: Vec<Vec<u8>>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            addr: None,
            reply_sock: None,
            reply_dir: None,
            format: None,
            verbose: 0,
            udp_default: false,
            timeout: Some(DEFAULT_TIMEOUT),
            command: Vec::new(),
        }
    }
}

/// The outcome of reading the command line.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    Run(Options),
    /// `-h`.
    Help,
    /// `-V`.
    Version,
}

/// Reads the command line (without the program name). An error is the
/// line to print before exiting with status 255.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, String> {
    let mut o = Options::default();
    let mut args = args.into_iter().map(OsString::into_vec);
    let mut options_done = false;
    while let Some(a) = args.next() {
        if options_done || a.len() < 2 || a.first() != Some(&b'-') {
            o.command.push(a);
            continue;
        }
        if a == b"--" {
            options_done = true;
            continue;
        }
        // A group of short options: `-vv`, `-sunix:/x`, `-v -s x`.
        let mut i = 1;
        while let Some(&c) = a.get(i) {
            i += 1;
            let takes_value = matches!(c, b's' | b'R' | b'D' | b'f' | b't');
            let value = if takes_value {
                let rest = a.get(i..).unwrap_or_default();
                let v = if rest.is_empty() {
                    args.next()
                        .ok_or_else(|| format!("Unknown option `-{}'.", c as char))?
                } else {
                    rest.to_vec()
                };
                i = a.len();
                Some(v)
            } else {
                None
            };
            match (c, value) {
                (b's', Some(v)) => o.addr = Some(text(v, "-s")?),
                (b'R', Some(v)) => o.reply_sock = Some(PathBuf::from(OsString::from_vec(v))),
                (b'D', Some(v)) => o.reply_dir = Some(PathBuf::from(OsString::from_vec(v))),
                (b'f', Some(v)) => o.format = Some(v),
                (b't', Some(v)) => o.timeout = timeout(&text(v, "-t")?)?,
                (b'v', _) => o.verbose = o.verbose.saturating_add(1),
                (b'U', _) => o.udp_default = true,
                (b'V', _) => return Ok(Parsed::Version),
                (b'h', _) => return Ok(Parsed::Help),
                _ => {
                    let shown = String::from_utf8_lossy(&[c]).into_owned();
                    return Err(format!("Unknown option `-{shown}'."));
                }
            }
        }
    }
    Ok(Parsed::Run(o))
}

fn text(v: Vec<u8>, what: &str) -> Result<String, String> {
    String::from_utf8(v).map_err(|_| format!("{what}: not valid UTF-8"))
}

/// `-t SECONDS` (fractions allowed; 0 waits forever).
fn timeout(s: &str) -> Result<Option<Duration>, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0 && *v <= 86_400.0)
        .ok_or_else(|| format!("-t {s}: expected a number of seconds (0 waits forever)"))?;
    Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs)))
}

/// An RPC argument, typed as `kamcmd` types it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Int(i32),
    /// A DOUBLE as sent: the value times 1000, as C truncates it.
    Double(i64),
    Str(Vec<u8>),
}

/// Types one argument: the whole text as a base-10 integer (C `strtol`:
/// leading blanks and a sign allowed, the value cut to 32 bits) is an
/// INT; else the whole text as a C `strtod` number (decimal, hex,
/// `inf`, `nan`) is a DOUBLE; else a STR. A leading `s:` forces a STR.
/// As in kamcmd, an empty argument is the INT 0.
pub fn type_arg(a: &[u8]) -> Arg {
    if let Some(s) = a.strip_prefix(b"s:") {
        return Arg::Str(s.to_vec());
    }
    if let Some(n) = strtol_whole(a) {
        // kamcmd stores strtol's long in an int: the low 32 bits.
        return Arg::Int(n as i32);
    }
    if let Some(d) = strtod_whole(a) {
        return Arg::Double(c_fixed(d));
    }
    Arg::Str(a.to_vec())
}

/// What C's `(long long)(d * 1000)` gives on x86-64: truncation, and
/// `i64::MIN` for NaN and values out of range.
fn c_fixed(d: f64) -> i64 {
    let x = d * 1000.0;
    // 2^63 as f64 is exact.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if x.is_nan() || !(-LIMIT..LIMIT).contains(&x) {
        i64::MIN
    } else {
        x as i64
    }
}

/// C's isspace in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtol(a, &end, 10)` when `*end == 0`: blanks, a sign, digits; on
/// overflow the value is clamped to the 64-bit range. With no digits at
/// all strtol leaves `end` at the start, so only the empty text passes.
pub fn strtol_whole(a: &[u8]) -> Option<i64> {
    if a.is_empty() {
        return Some(0);
    }
    let mut i = a.iter().take_while(|&&b| is_c_space(b)).count();
    let neg = match a.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = a.get(i..).unwrap_or_default();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        let d = i64::from(d - b'0');
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
    }
    Some(v)
}

/// `strtod(a, &end)` when the whole text is read: blanks, a sign, then a
/// decimal number with an optional exponent, a hex number (`0x1.8p3`),
/// `inf`/`infinity` or `nan`/`nan(...)`, in any case.
pub fn strtod_whole(a: &[u8]) -> Option<f64> {
    let start = a.iter().take_while(|&&b| is_c_space(b)).count();
    let mut s = a.get(start..)?;
    let neg = match s.first() {
        Some(b'-') => {
            s = s.get(1..)?;
            true
        }
        Some(b'+') => {
            s = s.get(1..)?;
            false
        }
        _ => false,
    };
    let v = if s.eq_ignore_ascii_case(b"inf") || s.eq_ignore_ascii_case(b"infinity") {
        f64::INFINITY
    } else if s.len() >= 3 && s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(b"nan")) {
        let rest = s.get(3..).unwrap_or_default();
        let ok = rest.is_empty()
            || (rest.first() == Some(&b'(')
                && rest.last() == Some(&b')')
                && rest
                    .get(1..rest.len() - 1)
                    .is_some_and(|m| m.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')));
        if !ok {
            return None;
        }
        f64::NAN
    } else if s.len() > 2 && (s.starts_with(b"0x") || s.starts_with(b"0X")) {
        hex_float(s.get(2..)?)?
    } else {
        decimal_float(s)?
    };
    Some(if neg { -v } else { v })
}

/// `digits[.digits][e[+-]digits]` with at least one digit.
fn decimal_float(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let int = s.iter().take_while(|b| b.is_ascii_digit()).count();
    i += int;
    let mut frac = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        frac = s
            .get(i..)?
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        i += frac;
    }
    if int + frac == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp = s
            .get(j..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if exp == 0 {
            // strtod stops before the `e`: not the whole text.
            return None;
        }
        i = j + exp;
    }
    if i != s.len() {
        return None;
    }
    // Rust's parser reads this form ("5.", ".5", "1e3") with correct
    // rounding; a huge exponent gives infinity as strtod does.
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// The part after `0x`: `hex[.hex][p[+-]digits]` with at least one hex
/// digit.
fn hex_float(s: &[u8]) -> Option<f64> {
    let mut mant = 0f64;
    let mut exp2: i64 = 0;
    let mut digits = 0;
    let mut i = 0;
    let mut seen_dot = false;
    while let Some(&b) = s.get(i) {
        if b == b'.' && !seen_dot {
            seen_dot = true;
        } else if let Some(d) = (b as char).to_digit(16) {
            mant = mant * 16.0 + f64::from(d);
            digits += 1;
            if seen_dot {
                exp2 -= 4;
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let rest = s.get(i + 1..).unwrap_or_default();
        let (neg, body) = match rest.first() {
            Some(b'-') => (true, rest.get(1..).unwrap_or_default()),
            Some(b'+') => (false, rest.get(1..).unwrap_or_default()),
            _ => (false, rest),
        };
        if body.is_empty() || !body.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let e = body.iter().fold(0i64, |v, &d| {
            v.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
        exp2 = if neg {
            exp2.saturating_sub(e)
        } else {
            exp2.saturating_add(e)
        };
        i = s.len();
    }
    if i != s.len() {
        return None;
    }
    let e = exp2.clamp(-2000, 2000) as i32;
    Some(mant * 2f64.powi(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn run(v: &[&str]) -> Options {
        match parse(os(v)) {
            Ok(Parsed::Run(o)) => o,
            other => panic!("{v:?}: {other:?}"),
        }
    }

    #[test]
    fn options_as_getopt_reads_them() {
        let o = run(&["-s", "tcp:127.0.0.1:2049", "-vv", "core.ps"]);
        assert_eq!(o.addr.as_deref(), Some("tcp:127.0.0.1:2049"));
        assert_eq!(o.verbose, 2);
        assert_eq!(o.command, vec![b"core.ps".to_vec()]);
        // Attached values, grouped flags, options after the method.
        let o = run(&["-vsunix:/x", "core.echo", "a", "-f", "%v|", "b"]);
        assert_eq!(o.addr.as_deref(), Some("unix:/x"));
        assert_eq!(o.verbose, 1);
        assert_eq!(o.format.as_deref(), Some(&b"%v|"[..]));
        assert_eq!(
            o.command,
            vec![b"core.echo".to_vec(), b"a".to_vec(), b"b".to_vec()]
        );
        // `--` ends the options: negative numbers.
        let o = run(&["--", "core.printi", "-3", "-v"]);
        assert_eq!(o.verbose, 0);
        assert_eq!(o.command.len(), 3);
        // A lone `-` is an argument.
        assert_eq!(run(&["core.echo", "-"]).command.len(), 2);
        assert_eq!(
            parse(os(&["core.printi", "-3"])),
            Err("Unknown option `-3'.".into())
        );
        assert_eq!(parse(os(&["-s"])), Err("Unknown option `-s'.".into()));
        assert_eq!(parse(os(&["-V", "-x"])), Ok(Parsed::Version));
        assert_eq!(parse(os(&["-h"])), Ok(Parsed::Help));
        assert!(parse(os(&["-x", "-h"])).is_err());
        let o = run(&["-U", "-R", "/tmp/r", "-D", "/tmp", "-t", "0"]);
        assert!(o.udp_default);
        assert_eq!(o.reply_sock, Some(PathBuf::from("/tmp/r")));
        assert_eq!(o.reply_dir, Some(PathBuf::from("/tmp")));
        assert_eq!(o.timeout, None);
        assert_eq!(
            run(&["-t", "1.5"]).timeout,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(run(&[]).timeout, Some(DEFAULT_TIMEOUT));
        assert!(parse(os(&["-t", "soon"])).is_err());
    }

    #[test]
    fn arguments_are_typed_as_kamcmd_types_them() {
        // Each pair was checked against kamcmd 1.5's request bytes.
        let int = |s: &str, v: i32| assert_eq!(type_arg(s.as_bytes()), Arg::Int(v), "{s}");
        let dbl = |s: &str, v: i64| assert_eq!(type_arg(s.as_bytes()), Arg::Double(v), "{s}");
        let st = |s: &str, v: &str| {
            assert_eq!(
                type_arg(s.as_bytes()),
                Arg::Str(v.as_bytes().to_vec()),
                "{s}"
            )
        };
        int("", 0);
        int(" 5", 5);
        int("\t7", 7);
        int("+49123", 49123);
        int("-0", 0);
        int("007", 7);
        int("12345678901", 0xdfdc_1c35_u32 as i32);
        int("99999999999999999999", -1);
        int("-99999999999999999999", 0);
        int("-2147483649", i32::MAX);
        int("4294967296", 0);
        dbl("0x10", 16_000);
        dbl("0x1p3", 8_000);
        dbl("1e3", 1_000_000);
        dbl("1.5e3", 1_500_000);
        dbl(".5", 500);
        dbl("5.", 5_000);
        dbl("2.9999", 2_999);
        dbl("0.0005", 0);
        dbl("-0.0005", 0);
        dbl("-1.0001", -1_000);
        dbl("1e15", 1_000_000_000_000_000_000);
        for huge in [
            "1e16", "9.3e15", "1e400", "inf", "-inf", "nan", "INFINITY", "nan(x1)",
        ] {
            dbl(huge, i64::MIN);
        }
        dbl("1e-400", 0);
        st("5 ", "5 ");
        st(" ", " ");
        st("1e", "1e");
        st("-", "-");
        st("+", "+");
        st("0x", "0x");
        st("0b1", "0b1");
        st("infin", "infin");
        st("alice", "alice");
        st("s:12", "12");
        st("s:", "");
        st("S:12", "S:12");
        st("１", "１");
    }
}
