//! Every seed config parses (except the 2001 regex table) and gets the
//! dialect its document says; selected AST shapes are checked.

use std::path::{Path, PathBuf};

use ser_cfg::ast::*;
use ser_cfg::{
    Define, Dialect, DialectSource, ParseOptions, RouteKind, RouteName, Script, parse_file,
    parse_file_with,
};

fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/seeds")
        .join(name)
}

fn parse(name: &str) -> Script {
    match parse_file(&seed(name), &[]) {
        Ok(s) => s,
        Err(d) => panic!("{name}: {d}"),
    }
}

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

fn parse_k31_all() -> Script {
    let defines: Vec<Define> = WITH_ALL.iter().map(|d| Define::from_arg(d)).collect();
    match parse_file(&seed("kamailio-3.1-default.cfg"), &defines) {
        Ok(s) => s,
        Err(d) => panic!("{d}"),
    }
}

fn named(kind: RouteKind, name: &str) -> RouteName {
    let _ = kind;
    RouteName::Name(name.to_string())
}

/// All statements of a block, nested ones included.
fn all_stmts(b: &Block) -> Vec<&Stmt> {
    let mut v = Vec::new();
    b.for_each_stmt(&mut |s| v.push(s));
    v
}

/// All expressions anywhere in a script.
fn all_exprs(s: &Script) -> Vec<&Expr> {
    let mut v = Vec::new();
    for r in s.routes() {
        for st in all_stmts(&r.body) {
            for e in st.exprs() {
                e.for_each(&mut |x| v.push(x));
            }
        }
    }
    v
}

#[test]
fn every_seed_config_parses_with_its_dialect() {
    let expected = [
        ("hello-world.cfg", Dialect::Ser09),
        ("mysql-auth.cfg", Dialect::Ser09),
        ("nat-mediaproxy.cfg", Dialect::Ser09),
        ("nat-rtpproxy.cfg", Dialect::Ser09),
        ("pstn.cfg", Dialect::Ser09),
        ("call-forwarding.cfg", Dialect::Ser09),
        ("ser-0.8.8.cfg", Dialect::Ser08),
        ("ser-2.0-default.cfg", Dialect::Ser2),
        ("kamailio-3.1-default.cfg", Dialect::Kamailio),
    ];
    // Every .cfg in the directory is covered (the 2001 table separately).
    let mut on_disk: Vec<String> = std::fs::read_dir(seed(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cfg") && n != "sip_router-2001.cfg")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = expected.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);

    for (name, dialect) in expected {
        let s = parse(name);
        assert_eq!(s.dialect, dialect, "{name}: {}", s.dialect_reason);
        assert!(s.main_route().is_some(), "{name}: no main route");
        assert_eq!(s.files, vec![seed(name)]);
    }
}

#[test]
fn dialect_reasons() {
    assert_eq!(
        parse("hello-world.cfg").dialect_reason,
        "default: SER 0.9 (no marker, no dialect-specific construct)"
    );
    assert_eq!(parse("pstn.cfg").dialect_source, DialectSource::Default);
    assert_eq!(
        parse("pstn.cfg").dialect_summary(),
        "dialect: SER 0.9 (the default: no marker, no dialect-specific construct)"
    );
    assert_eq!(
        parse("ser-0.8.8.cfg").dialect_reason,
        "`sl_filter_ACK()` (SER 0.8 construct) at 65:2"
    );
    assert_eq!(
        parse("ser-2.0-default.cfg").dialect_reason,
        "`loadpath` (SER 2.x construct) at 56:1"
    );
    assert_eq!(
        parse("kamailio-3.1-default.cfg").dialect_reason,
        "`#!KAMAILIO` marker at line 1"
    );
    assert_eq!(
        parse("kamailio-3.1-default.cfg").dialect_summary(),
        "dialect: Kamailio (`#!KAMAILIO` marker at line 1)"
    );
    assert_eq!(parse_k31_all().dialect, Dialect::Kamailio);
}

#[test]
fn dialect_can_be_forced() {
    let opts = ParseOptions {
        dialect: Some(Dialect::Ser2),
        ..ParseOptions::default()
    };
    let s = parse_file_with(&seed("hello-world.cfg"), &opts).unwrap();
    assert_eq!(
        (s.dialect, s.dialect_reason.as_str()),
        (Dialect::Ser2, "set on the command line")
    );
    let opts = ParseOptions {
        dialect: Some(Dialect::Ser09),
        ..ParseOptions::default()
    };
    let s = parse_file_with(&seed("kamailio-3.1-default.cfg"), &opts).unwrap();
    assert_eq!(s.dialect, Dialect::Ser09);
    assert_eq!(
        s.dialect_reason,
        "set on the command line, overriding the `#!KAMAILIO` marker at line 1"
    );
}

#[test]
fn regex_table_of_2001_is_rejected_clearly() {
    let e = parse_file(&seed("sip_router-2001.cfg"), &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:7:1: unexpected character `^`; this file looks like a 2001 sip_router.cfg regex table \
             (`method_re uri_re next_hop` lines), a format that predates the ser.cfg language",
            seed("sip_router-2001.cfg").display()
        )
    );
}

#[test]
fn kamailio_with_every_feature() {
    let s = parse_k31_all();
    // WITH_DEBUG picks the first branch.
    let debug: Vec<&Value> = s
        .params()
        .filter(|p| p.name.name == "debug")
        .map(|p| &p.value)
        .collect();
    assert_eq!(debug.len(), 1);
    assert_eq!(debug[0].kind, ValueKind::Int(4));
    // DBURL is substituted into modparams.
    let db_urls: Vec<&ModParam> = s.modparams().filter(|m| m.param.name == "db_url").collect();
    assert!(db_urls.len() >= 6);
    for m in &db_urls {
        if m.module != "uri_db" {
            assert_eq!(
                m.value.kind,
                ValueKind::Str("mysql://openser:openserrw@localhost/openser".into()),
                "{m:?}"
            );
        }
    }
    // The custom parameter.
    let cfg: Vec<&CfgVar> = s
        .items
        .iter()
        .filter_map(|i| match &i.kind {
            ItemKind::CfgVar(v) => Some(v),
            _ => None,
        })
        .collect();
    assert_eq!(cfg.len(), 1);
    assert_eq!(cfg[0].group.name, "pstn");
    assert_eq!(cfg[0].desc.as_deref(), Some("PSTN GW Address"));
    // Module loading follows the defines.
    let mods: Vec<&str> = s.loadmodules().map(|m| m.path.as_str()).collect();
    for m in [
        "db_mysql.so",
        "auth.so",
        "permissions.so",
        "presence.so",
        "nathelper.so",
        "rtpproxy.so",
    ] {
        assert!(mods.contains(&m), "{m}");
    }
    // The default build loads none of them.
    let plain = parse("kamailio-3.1-default.cfg");
    let mods: Vec<&str> = plain.loadmodules().map(|m| m.path.as_str()).collect();
    assert!(!mods.contains(&"db_mysql.so"));
    assert_eq!(mods.len(), 18);
    assert!(plain.modparams().all(|m| m.param.name != "db_flag"));
}

#[test]
fn kamailio_assignment_with_concatenation() {
    let s = parse_k31_all();
    let pstn = s
        .route(RouteKind::Request, Some(&named(RouteKind::Request, "PSTN")))
        .unwrap();
    let assign = all_stmts(&pstn.body)
        .into_iter()
        .find_map(|st| match &st.kind {
            StmtKind::Assign(a) => Some(a),
            _ => None,
        })
        .expect("assignment in route[PSTN]");
    assert_eq!(
        assign.target,
        Var::Pv(Pv {
            name: "ru".into(),
            arg: None,
            index: None
        })
    );
    assert_eq!(assign.op, AssignOp::Set);
    // (("sip:" + $rU) + "@") + $sel(cfg_get.pstn.gw_ip)
    let ExprKind::Binary {
        op: BinaryOp::Add,
        lhs,
        rhs,
        ..
    } = &assign.value.kind
    else {
        panic!("{:?}", assign.value)
    };
    match &rhs.kind {
        ExprKind::Var(Var::Select(sel)) => {
            assert_eq!(sel.path(), "cfg_get.pstn.gw_ip");
            assert_eq!(sel.form, SelectForm::Sel);
        }
        other => panic!("{other:?}"),
    }
    let ExprKind::Binary {
        op: BinaryOp::Add,
        lhs: l2,
        rhs: r2,
        ..
    } = &lhs.kind
    else {
        panic!()
    };
    assert_eq!(r2.kind, ExprKind::Str("@".into()));
    let ExprKind::Binary {
        op: BinaryOp::Add,
        lhs: l3,
        rhs: r3,
        ..
    } = &l2.kind
    else {
        panic!()
    };
    assert_eq!(l3.kind, ExprKind::Str("sip:".into()));
    assert_eq!(
        r3.kind,
        ExprKind::Var(Var::Pv(Pv {
            name: "rU".into(),
            arg: None,
            index: None
        }))
    );
    assert_eq!((assign.target_span.line, assign.target_span.col), (645, 2));
}

#[test]
fn kamailio_switch_with_fall_through() {
    let s = parse("kamailio-3.1-default.cfg");
    let loc = s
        .route(
            RouteKind::Request,
            Some(&RouteName::Name("LOCATION".into())),
        )
        .unwrap();
    let sw = all_stmts(&loc.body)
        .into_iter()
        .find_map(|st| match &st.kind {
            StmtKind::Switch(sw) => Some(sw),
            _ => None,
        })
        .expect("switch in route[LOCATION]");
    assert_eq!(
        sw.subject.kind,
        ExprKind::Var(Var::RetCode(RetCodeForm::Rc))
    );
    let labels: Vec<Option<CaseLabel>> = sw.cases.iter().map(|c| c.label.clone()).collect();
    assert_eq!(
        labels,
        vec![
            Some(CaseLabel::Int(-1)),
            Some(CaseLabel::Int(-3)),
            Some(CaseLabel::Int(-2))
        ]
    );
    // `case -1:` is empty: it falls through into `case -3:`.
    assert!(sw.cases[0].body.is_empty());
    let names: Vec<String> = sw.cases[1]
        .body
        .iter()
        .map(|st| match &st.kind {
            StmtKind::Call(c) => c.name.name.clone(),
            StmtKind::Exit(None) => "exit".into(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(names, vec!["t_newtran", "t_reply", "exit"]);
    assert_eq!(sw.cases[2].body.len(), 2);
}

#[test]
fn kamailio_routes_of_every_kind() {
    let s = parse("kamailio-3.1-default.cfg");
    let names: Vec<String> = s
        .routes()
        .map(|r| {
            format!(
                "{}[{}]",
                r.kind.keyword(),
                r.name
                    .as_ref()
                    .map(|n| n.name.to_string())
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            "route[]",
            "route[RELAY]",
            "route[REQINIT]",
            "route[WITHINDLG]",
            "route[REGISTRAR]",
            "route[LOCATION]",
            "route[PRESENCE]",
            "route[AUTH]",
            "route[NAT]",
            "route[RTPPROXY]",
            "route[SIPOUT]",
            "route[PSTN]",
            "branch_route[BRANCH_ONE]",
            "onreply_route[REPLY_ONE]",
            "failure_route[FAIL_ONE]",
        ]
    );
    // `if (!uri==myself)` is `!(uri == myself)`.
    let sipout = s
        .route(RouteKind::Request, Some(&RouteName::Name("SIPOUT".into())))
        .unwrap();
    let StmtKind::If(i) = &sipout.body.stmts[0].kind else {
        panic!()
    };
    let ExprKind::Unary {
        op: UnaryOp::Not,
        operand,
    } = &i.arms[0].cond.kind
    else {
        panic!()
    };
    assert!(matches!(
        &operand.kind,
        ExprKind::Binary { op: BinaryOp::Eq, lhs, rhs, .. }
            if lhs.kind == ExprKind::Keyword(Keyword::Uri) && rhs.kind == ExprKind::Keyword(Keyword::Myself)
    ));
    // Unbraced `if` body in the main route: `if (t_check_trans()) t_relay();`.
    let main = s.main_route().unwrap();
    let unbraced = all_stmts(&main.body)
        .into_iter()
        .filter_map(|st| match &st.kind {
            StmtKind::If(i) if !i.arms[0].body.braced => Some(i),
            _ => None,
        })
        .count();
    assert_eq!(unbraced, 2);
}

#[test]
fn ser2_named_routes_avps_selects() {
    let s = parse("ser-2.0-default.cfg");
    for n in [
        "FORWARD",
        "INIT",
        "RPC",
        "RR",
        "DOMAIN",
        "REGISTRAR",
        "AUTHENTICATION",
        "OUTBOUND",
        "INBOUND",
        "PSTN",
        "CATCH_CANCEL",
    ] {
        assert!(
            s.route(RouteKind::Request, Some(&RouteName::Name(n.into())))
                .is_some(),
            "{n}"
        );
    }
    assert!(
        s.route(
            RouteKind::Failure,
            Some(&RouteName::Name("FAILURE_ROUTE".into()))
        )
        .is_some()
    );
    // flags / avpflags declarations.
    let flags: Vec<(String, Option<i64>)> = s
        .items
        .iter()
        .filter_map(|i| match &i.kind {
            ItemKind::Flags(f) => Some(
                f.iter()
                    .map(|f| (f.name.name.clone(), f.number))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        flags,
        vec![
            ("FLAG_ACC".to_string(), Some(1)),
            ("FLAG_FAILUREROUTE".to_string(), Some(2))
        ]
    );
    assert!(
        s.items
            .iter()
            .any(|i| matches!(&i.kind, ItemKind::AvpFlags(n) if n[0].name == "dialog_cookie"))
    );
    // The multi-module modparam.
    let m = s.modparams().find(|m| m.module.contains('|')).unwrap();
    assert_eq!(
        m.modules().collect::<Vec<_>>(),
        vec![
            "acc_db", "auth_db", "avp_db", "domain", "gflags", "usrloc", "uri_db"
        ]
    );
    assert_eq!(m.param.name, "db_url");
    // Tracked and plain AVPs, selects, `$?`, bare `CANCEL`, `!method==...`.
    let exprs = all_exprs(&s);
    let vars: Vec<String> = exprs
        .iter()
        .filter_map(|e| match &e.kind {
            ExprKind::Var(v) => Some(v.to_string()),
            _ => None,
        })
        .collect();
    for v in [
        "$t.did",
        "$f.did",
        "$?",
        "@to.tag",
        "$account",
        "$digest_challenge",
        "$tu.fwd_busy_target",
        "$gw_ip",
    ] {
        assert!(vars.iter().any(|x| x == v), "{v} in {vars:?}");
    }
    assert!(exprs.iter().any(|e| matches!(&e.kind, ExprKind::Var(Var::Avp(Avp { track: Some(AvpTrack::Fr), name, .. })) if name == "authuid")));
    assert!(
        exprs
            .iter()
            .any(|e| e.kind == ExprKind::Ident("CANCEL".into()))
    );
    assert!(
        exprs
            .iter()
            .any(|e| matches!(&e.kind, ExprKind::Ip { mask: None, .. }))
    );
    let rr = s
        .route(RouteKind::Request, Some(&RouteName::Name("RR".into())))
        .unwrap();
    let StmtKind::If(i) = &rr.body.stmts[0].kind else {
        panic!()
    };
    assert_eq!(i.arms.len(), 2);
    assert!(
        matches!(&i.arms[1].cond.kind, ExprKind::Unary { op: UnaryOp::Not, operand }
        if matches!(operand.kind, ExprKind::Binary { op: BinaryOp::Eq, .. }))
    );
    // `msg:len >= 4096` and `drop`.
    assert!(
        exprs
            .iter()
            .any(|e| e.kind == ExprKind::Keyword(Keyword::MsgLen))
    );
    let init = s
        .route(RouteKind::Request, Some(&RouteName::Name("INIT".into())))
        .unwrap();
    assert!(
        all_stmts(&init.body)
            .iter()
            .any(|st| matches!(st.kind, StmtKind::Drop(None)))
    );
}

#[test]
fn ser09_numbered_routes_and_shapes() {
    let s = parse("call-forwarding.cfg");
    for n in 1..=6 {
        assert!(
            s.route(RouteKind::Request, Some(&RouteName::Number(n)))
                .is_some(),
            "route[{n}]"
        );
    }
    assert!(
        s.route(RouteKind::OnReply, Some(&RouteName::Number(1)))
            .is_some()
    );
    assert!(
        s.route(RouteKind::Failure, Some(&RouteName::Number(1)))
            .is_some()
    );
    // The multi-line multi-module modparam.
    let m = s.modparams().find(|m| m.module.contains('|')).unwrap();
    assert_eq!(
        m.modules().collect::<Vec<_>>(),
        vec!["auth_db", "permissions", "uri_db", "usrloc"]
    );
    assert_eq!((m.module_span.line, m.param.span.line), (32, 33));
    // Regex strings keep their backslashes.
    let exprs = all_exprs(&s);
    assert!(
        exprs
            .iter()
            .any(|e| e.kind == ExprKind::Str(r"^Contact:[ ]*\*".into()))
    );
    assert!(
        exprs
            .iter()
            .any(|e| e.kind == ExprKind::Str("(180)|(183)|2[0-9][0-9]".into()))
    );
    // route(N) calls.
    let main = s.main_route().unwrap();
    assert!(
        all_stmts(&main.body)
            .iter()
            .any(|st| matches!(&st.kind, StmtKind::Route(r) if r.name == RouteName::Number(4)))
    );
    // `listen=192.0.2.13` is an address.
    let listen = s.params().find(|p| p.name.name == "listen").unwrap();
    assert_eq!(
        listen.value.kind,
        ValueKind::Addr(SockAddr {
            proto: None,
            host: Host::v4([192, 0, 2, 13].into()),
            port: None
        })
    );
    // `break` stops the script in this dialect.
    assert_eq!(s.dialect.break_meaning(), ser_cfg::BreakMeaning::StopScript);
}

#[test]
fn hello_world_spans() {
    let s = parse("hello-world.cfg");
    let main = s.main_route().unwrap();
    // First statement: `if (!mf_process_maxfwd_header("10")) {` at 28:5.
    let first = &main.body.stmts[0];
    assert_eq!((first.span.line, first.span.col), (28, 5));
    let StmtKind::If(i) = &first.kind else {
        panic!()
    };
    let ExprKind::Unary { operand, .. } = &i.arms[0].cond.kind else {
        panic!()
    };
    let ExprKind::Call(c) = &operand.kind else {
        panic!()
    };
    assert_eq!(
        (c.name.name.as_str(), c.name.span.line, c.name.span.col),
        ("mf_process_maxfwd_header", 28, 10)
    );
    assert_eq!(c.args[0].kind, ExprKind::Str("10".into()));
    assert_eq!((c.args[0].span.line, c.args[0].span.col), (28, 35));
    // `} if (method=="REGISTER")` is two if statements.
    let ifs = main
        .body
        .stmts
        .iter()
        .filter(|st| matches!(st.kind, StmtKind::If(_)))
        .count();
    assert_eq!(ifs, 9);
}

#[test]
fn ser088_legacy_calls() {
    let s = parse("ser-0.8.8.cfg");
    let exprs = all_exprs(&s);
    assert!(exprs.iter().any(|e| matches!(&e.kind, ExprKind::Call(c)
        if c.name.name == "len_gt" && c.args[0].kind == ExprKind::Keyword(Keyword::MaxLen))));
    let main = s.main_route().unwrap();
    assert!(
        matches!(&main.body.stmts[0].kind, StmtKind::Call(c) if c.name.name == "sl_filter_ACK")
    );
}

#[test]
fn every_seed_round_trips_through_the_printer() {
    let mut scripts: Vec<(String, Script)> = [
        "hello-world.cfg",
        "mysql-auth.cfg",
        "nat-mediaproxy.cfg",
        "nat-rtpproxy.cfg",
        "pstn.cfg",
        "call-forwarding.cfg",
        "ser-0.8.8.cfg",
        "ser-2.0-default.cfg",
        "kamailio-3.1-default.cfg",
    ]
    .iter()
    .map(|n| (n.to_string(), parse(n)))
    .collect();
    scripts.push(("kamailio-3.1-default.cfg + WITH_*".into(), parse_k31_all()));
    for (name, s) in scripts {
        let printed = s.to_source();
        let again = ser_cfg::parse_str("printed.cfg", &printed, &[])
            .unwrap_or_else(|e| panic!("{name}: {e}\n{printed}"));
        assert_eq!(again.items.len(), s.items.len(), "{name}");
        assert_eq!(again.to_source(), printed, "{name}");
        // Same routes, same statement counts.
        let count = |s: &Script| {
            s.routes()
                .map(|r| all_stmts(&r.body).len())
                .collect::<Vec<_>>()
        };
        assert_eq!(count(&again), count(&s), "{name}");
    }
}

#[test]
fn printed_hello_world_reads_like_the_original() {
    let printed = parse("hello-world.cfg").to_source();
    for line in [
        "debug=3\n",
        "listen=192.0.2.13\n",
        "fifo=\"/tmp/ser_fifo\"\n",
        "loadmodule \"/usr/local/lib/ser/modules/sl.so\"\n",
        "modparam(\"usrloc\", \"db_mode\", 0)\n",
        "\tif (!mf_process_maxfwd_header(\"10\")) {\n",
        "\tif (msg:len > max_len) {\n",
        "\tif (uri != myself) {\n",
        "\t\tsl_send_reply(\"404\", \"User Not Found\");\n\t\tbreak;\n",
        "\nroute[2] {\n",
    ] {
        assert!(printed.contains(line), "{line:?} not in:\n{printed}");
    }
}

#[test]
fn kamailio_parses_with_every_combination_of_features() {
    let text = std::fs::read_to_string(seed("kamailio-3.1-default.cfg")).unwrap();
    for mask in 0u32..(1 << WITH_ALL.len()) {
        let defines: Vec<Define> = WITH_ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, d)| Define::from_arg(d))
            .collect();
        let s = ser_cfg::parse_str("k.cfg", &text, &defines).unwrap_or_else(|e| {
            panic!(
                "{:?}: {e}",
                defines.iter().map(|d| &d.name).collect::<Vec<_>>()
            )
        });
        assert_eq!(s.dialect, Dialect::Kamailio);
        // `DBURL` is only a string when WITH_MYSQL defines it.
        let with_mysql = mask & 2 != 0;
        for m in s
            .modparams()
            .filter(|m| m.param.name == "db_url" && m.module != "uri_db")
        {
            assert_eq!(
                matches!(m.value.kind, ValueKind::Str(_)),
                with_mysql,
                "{mask:#b} {m:?}"
            );
        }
    }
}

#[test]
fn kamailio_sql_comment_block_is_not_config() {
    // `#!ifdef ACCDB_COMMENT` hides SQL; defining it exposes the SQL text.
    let e = parse_file(
        &seed("kamailio-3.1-default.cfg"),
        &[Define::from_arg("ACCDB_COMMENT")],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:55:9: expected `=` after parameter name `ALTER`, found `TABLE`",
            seed("kamailio-3.1-default.cfg").display()
        )
    );
}
