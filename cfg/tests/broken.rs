//! Broken configs: each must be rejected with the exact `file:line:col:
//! message`.
//!
//! Every `tests/broken/*.cfg` starts with `# expect: WHERE: MESSAGE`, where
//! WHERE is `LINE:COL` in that file or `other/file.cfg:LINE:COL` relative to
//! `tests/broken/` (errors in included files). `{dir}` in the message
//! stands for the `tests/broken` directory.

use std::path::{Path, PathBuf};

use ser_cfg::{Define, parse_file, parse_str};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken")
}

fn expectation(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or("");
    let Some(exp) = first.strip_prefix("# expect: ") else {
        panic!("{}: first line must be `# expect: ...`", path.display())
    };
    let exp = exp.replace("{dir}", &dir().display().to_string());
    if exp.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{}:{exp}", path.display())
    } else {
        format!("{}/{exp}", dir().display())
    }
}

#[test]
fn every_broken_config_fails_exactly() {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "only {} broken configs", names.len());
    let mut failures = Vec::new();
    for path in &names {
        let want = expectation(path);
        match parse_file(path, &[]) {
            Ok(_) => failures.push(format!("{}: parsed, expected: {want}", path.display())),
            Err(d) if d.to_string() == want => {}
            Err(d) => failures.push(format!("{}:\n   got: {d}\n  want: {want}", path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn err(text: &str) -> String {
    parse_str("t.cfg", text, &[]).unwrap_err().to_string()
}

#[test]
fn inline_broken_snippets() {
    let cases = [
        (
            "route {\n\tif (x) {\n\t\ty()\n\t}\n}",
            "t.cfg:4:2: expected `;` after `y(...)`, found `}`",
        ),
        (
            "route { xlog(\"a\") }",
            "t.cfg:1:19: expected `;` after `xlog(...)`, found `}`",
        ),
        (
            "route { route(1) }",
            "t.cfg:1:18: expected `;` after `route(...)`, found `}`",
        ),
        (
            "route { return 1 }",
            "t.cfg:1:18: expected `;` after `return`, found `}`",
        ),
        (
            "route { $x = ; }",
            "t.cfg:1:14: expected an expression, found `;`",
        ),
        (
            "route { $x = (1 + 2; }",
            "t.cfg:1:20: expected `)` to close `(` at 1:14, found `;`",
        ),
        (
            "route { if (a) b(); else }",
            "t.cfg:1:26: expected a statement or `{` after `else`, found `}`",
        ),
        (
            "route { while (1) }",
            "t.cfg:1:19: expected a statement or `{` after `while (...)`, found `}`",
        ),
        (
            "route { switch ($rc) { case x: } }",
            "t.cfg:1:29: expected a number or string after `case`, found `x`",
        ),
        (
            "route { switch ($rc) { case 1 } }",
            "t.cfg:1:31: expected `:` after `case` label, found `}`",
        ),
        (
            "route { switch ($rc) { default } }",
            "t.cfg:1:32: expected `:` after `default`, found `}`",
        ),
        (
            "route { switch ($rc) { case 1: x();",
            "t.cfg:1:36: expected `}` to close the `switch` opened at 1:22, found end of file",
        ),
        (
            "onreply_route[1 {}",
            "t.cfg:1:17: expected `]` after `onreply_route[` name, found `{`",
        ),
        (
            "failure_route[1] x",
            "t.cfg:1:18: expected `{` to open the `failure_route` body, found `x`",
        ),
        (
            "loadmodule sl",
            "t.cfg:1:12: expected a module name or path string after `loadmodule`, found `sl`",
        ),
        (
            "loadpath = 3",
            "t.cfg:1:12: expected a directory string after `loadpath`, found `3`",
        ),
        (
            "avpflags a b;",
            "t.cfg:1:12: expected `,` or `;` after AVP flag name, found `b`",
        ),
        (
            "flags ;",
            "t.cfg:1:7: expected a flag name in `flags` declaration, found `;`",
        ),
        (
            "x.y = 1 desc 2",
            "t.cfg:1:14: expected a description string after `desc` of `x.y`, found `2`",
        ),
        (
            "x.y.z = 1",
            "t.cfg:1:4: expected `=` after custom parameter `x.y`, found `.`",
        ),
        (
            "x.y 1",
            "t.cfg:1:5: expected `=` after custom parameter `x.y`, found `1`",
        ),
        (
            "listen=udp:",
            "t.cfg:1:12: expected a port number after `:`, found end of file",
        ),
        (
            "listen=:5060",
            "t.cfg:1:8: expected a value after `listen=`, found `:`",
        ),
        (
            "listen=udp: 1.2.3.4",
            "t.cfg:1:13: expected a port number after `:`, found `1.2.3.4`",
        ),
        (
            "listen=1.2.3.4:x",
            "t.cfg:1:16: expected a port number after `:`, found `x`",
        ),
        (
            "debug=3 4",
            "t.cfg:1:9: expected a global parameter, `loadmodule`, `modparam` or a route block, found `4`",
        ),
        (
            "route { if ($x =~ \"a\" \"b\") {} }",
            "t.cfg:1:23: expected `)` to close `(` at 1:12, found string \"b\"",
        ),
        (
            "route { f(a,) ; }",
            "t.cfg:1:13: expected an expression, found `)`",
        ),
        (
            "route { 42; }",
            "t.cfg:1:9: expected a statement, found `42`",
        ),
        (
            "route { \"s\"; }",
            "t.cfg:1:9: expected a statement, found string \"s\"",
        ),
        (
            "route { $sel(a.b)[1] = 1; }",
            "t.cfg:1:9: `$sel(...)` cannot be indexed",
        ),
        ("route { $x = 0x; }", "t.cfg:1:14: invalid number `0x`"),
        ("route { $x = 12ab; }", "t.cfg:1:14: invalid number `12ab`"),
        (
            "route { $x = [1:2:::]; }",
            "t.cfg:1:14: malformed IPv6 address `[1:2:::]`",
        ),
        (
            "route { $x = \"\\xC3\"; }",
            "t.cfg:1:15: escape gives byte 0xC3, above 0x7F; write the UTF-8 character itself",
        ),
        ("route { x(`); }", "t.cfg:1:11: unexpected character '`'"),
        ("#!define\n", "t.cfg:1:1: expected a name after `#!define`"),
        (
            "#!include_file\n",
            "t.cfg:1:1: expected a file name string after `#!include_file`",
        ),
        (
            "#!include_file x\n",
            "t.cfg:1:16: expected a file name string after `#!include_file`, found `x`",
        ),
        (
            "#!ALL\n",
            "t.cfg:1:1: compatibility mode `#!ALL` is not supported",
        ),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = err(text);
        if got != want {
            failures.push(format!("{text:?}\n   got: {got}\n  want: {want}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn errors_from_defines_point_at_the_use() {
    // A define whose value breaks the syntax: the error is where it is used.
    let e = parse_str("t.cfg", "#!define BAD )\nroute {\n  f(BAD);\n}", &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.cfg:3:8: expected `;` after `f(...)`, found `)`"
    );
    // An undefined define stays a bare word; parsing succeeds and the
    // checker decides.
    let s = parse_str("t.cfg", "modparam(\"acc\", \"db_url\", DBURL)", &[]).unwrap();
    assert_eq!(
        s.modparams().next().unwrap().value.kind,
        ser_cfg::ast::ValueKind::Ident("DBURL".into())
    );
    // -A values are lexed like config text.
    let s = parse_str(
        "t.cfg",
        "modparam(\"acc\", \"db_url\", DBURL)",
        &[Define::from_arg("DBURL=\"mysql://x\"")],
    )
    .unwrap();
    assert_eq!(
        s.modparams().next().unwrap().value.kind,
        ser_cfg::ast::ValueKind::Str("mysql://x".into())
    );
}
