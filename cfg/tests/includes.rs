//! `include_file` / `import_file`: tokens are inserted in place, spans point
//! into the included files, defines flow both ways, relative paths are
//! taken from the including file.

use std::path::{Path, PathBuf};

use ser_cfg::ast::*;
use ser_cfg::{Define, Dialect, FileId, RouteKind, RouteName, parse_file, parse_str};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/include")
}

#[test]
fn included_files_are_inlined_with_their_positions() {
    let main = dir().join("main.cfg");
    let s = parse_file(&main, &[]).unwrap();
    assert_eq!(
        s.files,
        vec![
            main.clone(),
            dir().join("sub/params.cfg"),
            dir().join("sub/body.cfg"),
            dir().join("sub/routes.cfg"),
            dir().join("sub/../leaf.cfg"),
        ]
    );
    // `debug=FROM_MAIN` in sub/params.cfg, value substituted from main.cfg.
    let debug = s.params().find(|p| p.name.name == "debug").unwrap();
    assert_eq!(debug.value.kind, ValueKind::Int(7));
    assert_eq!(
        (
            debug.name.span.file,
            debug.name.span.line,
            debug.name.span.col
        ),
        (FileId(1), 2, 1)
    );
    assert_eq!(
        s.diagnostic(debug.value.span, "x").to_string(),
        format!("{}:2:7: x", dir().join("sub/params.cfg").display())
    );
    // DB defined in the included file, used in main.cfg.
    let m = s.modparams().next().unwrap();
    assert_eq!(
        m.value.kind,
        ValueKind::Str("mysql://inc@localhost/db".into())
    );
    assert_eq!((m.value.span.file, m.value.span.line), (FileId(0), 5));
    // Statements included inside a route body.
    let body = &s.main_route().unwrap().body.stmts;
    assert_eq!(body.len(), 2);
    assert_eq!(
        (body[0].span.file, body[0].span.line, body[0].span.col),
        (FileId(2), 1, 5)
    );
    assert!(matches!(&body[1].kind, StmtKind::Route(r) if r.name == RouteName::Name("SUB".into())));
    // `#!include_file` with a path relative to sub/.
    let sub = s
        .route(RouteKind::Request, Some(&RouteName::Name("SUB".into())))
        .unwrap();
    assert_eq!(sub.body.stmts.len(), 1);
    assert_eq!(
        (sub.body.stmts[0].span.file, sub.body.stmts[0].span.line),
        (FileId(4), 1)
    );
    assert_eq!(s.dialect, Dialect::Ser2);
    assert_eq!(
        s.dialect_reason,
        format!(
            "named route `route[SUB]` (SER 2.x construct) at {}:1:7",
            dir().join("sub/routes.cfg").display()
        )
    );
}

#[test]
fn includes_relative_to_a_named_string() {
    let name = dir().join("virtual.cfg");
    let s = parse_str(&name, "include_file \"leaf.cfg\"\n", &[]);
    // leaf.cfg holds a statement, which is not a top-level item.
    let e = s.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:1:5: `t_relay(...)` must be inside a route block",
            dir().join("leaf.cfg").display()
        )
    );
    let s = parse_str(&name, "route {\ninclude_file \"leaf.cfg\"\n}\n", &[]).unwrap();
    assert_eq!(s.main_route().unwrap().body.stmts.len(), 1);
}

#[test]
fn include_inside_inactive_region_is_not_read() {
    let s = parse_str(
        "t.cfg",
        "#!ifdef NO\ninclude_file \"/nonexistent\"\n#!endif\ndebug=1",
        &[],
    )
    .unwrap();
    assert_eq!(s.files.len(), 1);
    let e = parse_str(
        "t.cfg",
        "#!ifdef YES\ninclude_file \"/nonexistent\"\n#!endif",
        &[Define::from_arg("YES")],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.cfg:2:14: cannot open included file `/nonexistent`: No such file or directory"
    );
}

#[test]
fn markers_in_included_files_count() {
    let tmp = std::env::temp_dir().join(format!("ser-cfg-marker-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("k.cfg"), "#!KAMAILIO\n").unwrap();
    let s = parse_str(
        tmp.join("main.cfg"),
        "include_file \"k.cfg\"\nroute { }\n",
        &[],
    )
    .unwrap();
    assert_eq!(s.dialect, Dialect::Kamailio);
    assert_eq!(
        s.dialect_reason,
        format!("`#!KAMAILIO` marker at {}:1", tmp.join("k.cfg").display())
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// An include that names a FIFO (or any non-regular file) is refused at
/// once instead of blocking the parser until a writer shows up.
#[test]
fn include_of_a_fifo_is_refused_not_waited_for() {
    let dir = std::env::temp_dir().join(format!("ser-cfg-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("pipe.cfg");
    let _ = std::fs::remove_file(&fifo);
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "mkfifo failed");
    let main = dir.join("main.cfg");
    std::fs::write(
        &main,
        format!("include_file \"{}\"\nroute {{ exit; }}\n", fifo.display()),
    )
    .unwrap();
    let e = ser_cfg::parse_file(&main, &[]).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
