//! The compiler: every seed config compiles (Kamailio 3.1 under every
//! combination of its `WITH_*` defines), and small scripts compile to the
//! op shapes `ir` and `compile` document.

use std::path::{Path, PathBuf};

use ser_cfg::ast::{BinaryOp, Keyword};
use ser_cfg::binary;
use ser_cfg::compile::{compile, disassemble};
use ser_cfg::ir::{Arg, ConstValue, Op, Program, RouteId, VarDef};
use ser_cfg::{Define, Dialect, RouteKind, RouteName, TimerUnit, parse_file, parse_str};

fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/seeds")
        .join(name)
}

/// Every seed config that is a ser.cfg (the 2001 regex table is not).
pub const SEEDS: &[&str] = &[
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

fn compile_file(path: &Path, defines: &[Define]) -> Program {
    let script = parse_file(path, defines).unwrap_or_else(|d| panic!("{d}"));
    let p = compile(&script).unwrap_or_else(|d| {
        panic!(
            "{}: {}",
            path.display(),
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    binary::validate(&p).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    p
}

fn program(text: &str) -> Program {
    let script = parse_str("t.cfg", text, &[]).unwrap_or_else(|d| panic!("{d}"));
    let p = compile(&script).unwrap_or_else(|d| panic!("{d:?}"));
    binary::validate(&p).unwrap_or_else(|e| panic!("{e}\n{}", disassemble(&p)));
    p
}

fn main_code(p: &Program) -> &[Op] {
    &p.routes[p.main_route.unwrap() as usize].code
}

fn route_id(p: &Program, kind: RouteKind, name: RouteName) -> RouteId {
    p.route_id(kind, Some(&name)).unwrap()
}

fn str_id(p: &Program, s: &str) -> u32 {
    p.strings.iter().position(|x| x == s).unwrap() as u32
}

fn var_id(p: &Program, def: &VarDef) -> u32 {
    p.vars.iter().position(|v| v == def).unwrap() as u32
}

fn kw(p: &Program, k: Keyword) -> u32 {
    var_id(p, &VarDef::Keyword(k))
}

fn call_name(p: &Program, op: &Op) -> String {
    match op {
        Op::Call(c) => p.str(p.calls[*c as usize].name).to_string(),
        other => panic!("not a call: {other:?}"),
    }
}

#[test]
fn every_seed_config_compiles() {
    for name in SEEDS {
        let p = compile_file(&seed(name), &[]);
        assert!(p.main_route.is_some(), "{name}");
        assert!(!p.calls.is_empty(), "{name}");
        for r in &p.routes {
            assert_eq!(r.code.len(), r.lines.len(), "{name}");
            assert!(r.lines.iter().all(|&l| l > 0), "{name}");
        }
    }
}

#[test]
fn kamailio_compiles_under_every_define_combination() {
    for mask in 0u32..(1 << WITH_ALL.len()) {
        let defines: Vec<Define> = WITH_ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, d)| Define::from_arg(d))
            .collect();
        let p = compile_file(&seed("kamailio-3.1-default.cfg"), &defines);
        assert_eq!(p.dialect, Dialect::Kamailio);
    }
}

#[test]
fn seed_tables() {
    let p = compile_file(&seed("hello-world.cfg"), &[]);
    assert_eq!(p.dialect, Dialect::Ser09);
    assert_eq!(p.dialect.tm_timer_unit(), TimerUnit::Seconds);
    assert_eq!(
        p.dialect_reason,
        "the default: no marker, no dialect-specific construct"
    );
    // Strings are pooled: each once.
    let mut sorted = p.strings.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), p.strings.len());
    // Globals in order, modules with their parameters.
    let g: Vec<(&str, &ConstValue)> = p
        .globals
        .iter()
        .map(|g| (p.str(g.name), &g.value))
        .collect();
    assert_eq!(g[0], ("debug", &ConstValue::Int(3)));
    assert_eq!(g[1], ("fork", &ConstValue::Bool(false)));
    assert!(
        g.iter()
            .any(|(n, v)| *n == "listen" && **v == ConstValue::Str(str_id(&p, "192.0.2.13")))
    );
    let usrloc = p
        .modules
        .iter()
        .find(|m| p.str(m.name) == "usrloc")
        .unwrap();
    assert_eq!(p.str(usrloc.path), "/usr/local/lib/ser/modules/usrloc.so");
    assert_eq!(
        usrloc.params,
        vec![(str_id(&p, "db_mode"), ConstValue::Int(0))]
    );
    // route(1) and route(2) resolve to route[1] and route[2].
    let r1 = route_id(&p, RouteKind::Request, RouteName::Number(1));
    let r2 = route_id(&p, RouteKind::Request, RouteName::Number(2));
    let main = main_code(&p);
    assert!(main.contains(&Op::Route(r1)));
    assert!(main.contains(&Op::Route(r2)));
    // `uri != myself`.
    let uri = kw(&p, Keyword::Uri);
    assert!(
        main.windows(3)
            .any(|w| w == [Op::Load(uri), Op::Myself, Op::Not])
    );
    // `break` in SER 0.9 stops the script.
    assert!(main.contains(&Op::Exit));

    let p = compile_file(&seed("ser-2.0-default.cfg"), &[]);
    assert_eq!(p.dialect, Dialect::Ser2);
    assert_eq!(p.dialect.tm_timer_unit(), TimerUnit::Milliseconds);
    assert!(p.flags.iter().any(|(n, _)| p.str(*n) == "FLAG_ACC"));
    assert!(p.avpflags.iter().any(|(n, _)| p.str(*n) == "dialog_cookie"));
    // The xmlrpc module names route[RPC] by name: it is there.
    assert!(
        p.route_id(RouteKind::Request, Some(&RouteName::Name("RPC".into())))
            .is_some()
    );

    let all: Vec<Define> = WITH_ALL.iter().map(|d| Define::from_arg(d)).collect();
    let p = compile_file(&seed("kamailio-3.1-default.cfg"), &all);
    assert!(p.cfg_vars.iter().any(|c| p.str(c.name) == "gw_ip"));
    assert!(
        p.route_id(
            RouteKind::Failure,
            Some(&RouteName::Name("FAIL_ONE".into()))
        )
        .is_some()
    );
}

#[test]
fn short_circuit() {
    let p = program("route { if (a() && b() || c()) { d(); } }");
    let code = main_code(&p);
    // a; JIFK(after b); b; JITK(after c); c; JIF(end); d; Pop; end
    assert!(matches!(code[0], Op::Call(_)));
    assert_eq!(code[1], Op::JumpIfFalseKeep(3));
    assert_eq!(call_name(&p, &code[2]), "b");
    assert_eq!(code[3], Op::JumpIfTrueKeep(5));
    assert_eq!(call_name(&p, &code[4]), "c");
    assert_eq!(code[5], Op::JumpIfFalse(8));
    assert_eq!(call_name(&p, &code[6]), "d");
    assert_eq!(code[7], Op::Pop);
    assert_eq!(code[8], Op::ReturnDefault);
    assert_eq!(code.len(), 9);
}

#[test]
fn myself_and_regex_matches() {
    let p = program(
        "route { if (uri == myself) f(); if (myself != from_uri) f(); \
         if (uri =~ \"^sip:1[0-9]+@\") f(); if (method !~ \"^(ACK|BYE)$\") f(); \
         if (uri =~ $x) f(); }",
    );
    let code = main_code(&p);
    let uri = kw(&p, Keyword::Uri);
    let from = kw(&p, Keyword::FromUri);
    assert_eq!(
        &code[0..3],
        &[Op::Load(uri), Op::Myself, Op::JumpIfFalse(5)]
    );
    assert_eq!(
        &code[5..9],
        &[Op::Load(from), Op::Myself, Op::Not, Op::JumpIfFalse(11)]
    );
    assert_eq!(&code[11..13], &[Op::Load(uri), Op::Match(0)]);
    assert_eq!(p.str(p.regexes[0].source), "^sip:1[0-9]+@");
    assert!(p.regexes.iter().all(|r| r.icase));
    assert_eq!(code[16], Op::Load(kw(&p, Keyword::Method)));
    assert_eq!(code[17], Op::NotMatch(1));
    // A regex that is not a constant: the generic operator.
    assert!(matches!(
        &code[21..24],
        [Op::Load(_), Op::Load(_), Op::Bin(BinaryOp::Match)]
    ));
    // The same regex twice is listed once.
    let p = program("route { if (uri =~ \"x\" || uri =~ \"x\") f(); }");
    assert_eq!(p.regexes.len(), 1);
}

#[test]
fn switch_falls_through_and_break_leaves_it() {
    let p = program(
        "#!KAMAILIO\n\
         route {\n\
           switch ($rc) {\n\
             case -1:\n\
             case -3:\n\
               a();\n\
             case -2:\n\
               b();\n\
               break;\n\
             default:\n\
               c();\n\
           }\n\
           d();\n\
         }\n",
    );
    let code = main_code(&p);
    let rc = var_id(&p, &VarDef::RetCode);
    let expect = vec![
        Op::Load(rc),
        // case -1
        Op::Dup,
        Op::PushInt(-1),
        Op::Bin(BinaryOp::Eq),
        Op::JumpIfFalse(7),
        Op::Pop,
        Op::Jump(21),
        // case -3
        Op::Dup,
        Op::PushInt(-3),
        Op::Bin(BinaryOp::Eq),
        Op::JumpIfFalse(13),
        Op::Pop,
        Op::Jump(21),
        // case -2
        Op::Dup,
        Op::PushInt(-2),
        Op::Bin(BinaryOp::Eq),
        Op::JumpIfFalse(19),
        Op::Pop,
        Op::Jump(23),
        // no match: the default
        Op::Pop,
        Op::Jump(26),
        // bodies: -1 (empty) and -3 share 21
        Op::Call(0),
        Op::Pop,
        // -2 (reached by falling through too)
        Op::Call(1),
        Op::Pop,
        Op::Jump(28),
        // default
        Op::Call(2),
        Op::Pop,
        // after the switch
        Op::Call(3),
        Op::Pop,
        Op::ReturnDefault,
    ];
    assert_eq!(code, expect.as_slice(), "\n{}", disassemble(&p));
    assert_eq!(call_name(&p, &code[21]), "a");
    assert_eq!(call_name(&p, &code[28]), "d");

    // String labels, no default: no match goes to the end.
    let p = program("#!SER2\nroute { switch (method) { case \"INVITE\": a(); } b(); }");
    let code = main_code(&p);
    assert_eq!(code[2], Op::PushStr(str_id(&p, "INVITE")));
    assert_eq!(&code[7..9], &[Op::Pop, Op::Jump(11)]);
    assert_eq!(call_name(&p, &code[11]), "b");
}

#[test]
fn break_follows_the_dialect_outside_switch_and_while() {
    let text = "route { if (a()) { break; } b(); }";
    for (marker, op) in [
        ("#!SER08", Op::Exit),
        ("#!SER09", Op::Exit),
        ("#!SER2", Op::ReturnDefault),
        ("#!KAMAILIO", Op::ReturnDefault),
    ] {
        let p = program(&format!("{marker}\n{text}"));
        assert_eq!(main_code(&p)[2], op, "{marker}");
    }
    // Inside a loop, in any dialect, `break` leaves the loop.
    let p = program("#!SER09\nroute { while (a()) { if (b()) break; c(); } d(); }");
    let code = main_code(&p);
    let expect = [
        Op::Call(0),
        Op::JumpIfFalse(8),
        Op::Call(1),
        Op::JumpIfFalse(5),
        Op::Jump(8),
        Op::Call(2),
        Op::Pop,
        Op::Jump(0),
    ];
    assert_eq!(&code[..8], &expect, "\n{}", disassemble(&p));
    assert_eq!(call_name(&p, &code[8]), "d");
    // A `break` in a switch nested in a loop leaves the switch only.
    let p = program("#!SER2\nroute { while (a()) { switch ($x) { case 1: break; } b(); } }");
    let code = main_code(&p);
    let b = code
        .iter()
        .position(|op| matches!(op, Op::Call(1)))
        .unwrap();
    let jumps: Vec<u32> = code
        .iter()
        .filter_map(|op| match op {
            Op::Jump(t) => Some(*t),
            _ => None,
        })
        .collect();
    // case 1 -> body; no match -> end of switch; break -> end of switch;
    // loop back to 0.
    assert!(jumps.contains(&(b as u32)), "\n{}", disassemble(&p));
    assert!(jumps.contains(&0));
}

#[test]
fn while_loops() {
    let p = program("#!SER2\nroute { $i = 0; while ($i < 3) { $i = $i + 1; } }");
    let code = main_code(&p);
    let i = var_id(
        &p,
        &VarDef::Avp {
            track: None,
            name: str_id(&p, "i"),
            index: None,
        },
    );
    let expect = [
        Op::PushInt(0),
        Op::Store(i),
        Op::Load(i),
        Op::PushInt(3),
        Op::Bin(BinaryOp::Lt),
        Op::JumpIfFalse(11),
        Op::Load(i),
        Op::PushInt(1),
        Op::Bin(BinaryOp::Add),
        Op::Store(i),
        Op::Jump(2),
        Op::ReturnDefault,
    ];
    assert_eq!(code, &expect);
}

#[test]
fn return_exit_drop() {
    let p = program(
        "#!SER2\nroute { route(R); }\nroute[R] { if (a()) return 2; if (b()) return -1; \
         if (c()) return; if (d()) exit; if (e()) drop; if (f()) exit(g()); }",
    );
    let r = route_id(&p, RouteKind::Request, RouteName::Name("R".into()));
    let code = &p.routes[r as usize].code;
    assert_eq!(&code[2..4], &[Op::PushInt(2), Op::Return]);
    assert_eq!(&code[6..8], &[Op::PushInt(-1), Op::Return]);
    assert_eq!(code[10], Op::ReturnDefault);
    assert_eq!(code[13], Op::Exit);
    assert_eq!(code[16], Op::Drop);
    // exit(g()): g is called for its effects, then the script stops.
    assert_eq!(call_name(&p, &code[19]), "g");
    assert_eq!(&code[20..22], &[Op::Pop, Op::Exit]);
    assert_eq!(code.last(), Some(&Op::ReturnDefault));
    // The main route calls R and drops its value.
    assert_eq!(main_code(&p)[..2], [Op::Route(r), Op::Pop]);
}

#[test]
fn routes_of_every_kind_and_their_ids() {
    let p = program(
        "#!KAMAILIO\n\
         route[0] { route(ONE); route(1); if (route(ONE)) f(); }\n\
         route[ONE] { route(0); }\n\
         route[1] { }\n\
         onreply_route { }\n\
         onreply_route[R] { }\n\
         failure_route[F] { }\n\
         branch_route[B] { }\n\
         onsend_route { }\n\
         event_route[tm:local-request] { }\n\
         route { }\n",
    );
    let kinds: Vec<RouteKind> = p.routes.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        vec![
            RouteKind::Request,
            RouteKind::Request,
            RouteKind::Request,
            RouteKind::OnReply,
            RouteKind::OnReply,
            RouteKind::Failure,
            RouteKind::Branch,
            RouteKind::OnSend,
            RouteKind::Event,
            RouteKind::Request,
        ]
    );
    // `route[0]` is the main route; a later `route { }` does not replace it.
    assert_eq!(p.main_route, Some(0));
    let main = main_code(&p);
    assert_eq!(main[0], Op::Route(1));
    assert_eq!(main[2], Op::Route(2));
    // `route(X)` as a value.
    assert_eq!(&main[4..6], &[Op::Route(1), Op::JumpIfFalse(8)]);
    // `route(0)` is the main route.
    assert_eq!(p.routes[1].code[0], Op::Route(0));
    assert_eq!(
        p.routes[8].name,
        Some(RouteName::Name("tm:local-request".into()))
    );
    // Undefined routes are added empty, after the others.
    let p = program("route { route(7); route(7); }");
    assert_eq!(p.routes.len(), 2);
    assert_eq!(p.routes[1].name, Some(RouteName::Number(7)));
    assert_eq!(p.routes[1].code, vec![Op::ReturnDefault]);
    assert_eq!(main_code(&p)[2], Op::Route(1));
}

#[test]
fn assignments_expressions_and_lines() {
    let p = program(
        "#!KAMAILIO\nroute {\n  $ru = \"sip:\" + $rU + \"@\" + $sel(cfg_get.pstn.gw_ip);\n\
         $avp(x) := -5;\n  $var(n) = 2 * 3 - -1;\n  if (!($si == 10.0.0.0/8)) f();\n}\n",
    );
    let code = main_code(&p);
    let ru = var_id(
        &p,
        &VarDef::Pv {
            name: str_id(&p, "ru"),
            arg: None,
            index: None,
        },
    );
    let sel = var_id(
        &p,
        &VarDef::Select {
            path: vec![
                str_id(&p, "cfg_get"),
                str_id(&p, "pstn"),
                str_id(&p, "gw_ip"),
            ],
        },
    );
    assert_eq!(code[0], Op::PushStr(str_id(&p, "sip:")));
    assert!(matches!(code[1], Op::Load(_)));
    assert_eq!(code[2], Op::Bin(BinaryOp::Add));
    assert_eq!(code[5], Op::Load(sel));
    assert_eq!(&code[6..8], &[Op::Bin(BinaryOp::Add), Op::Store(ru)]);
    // `:=` and a folded negative constant.
    assert!(matches!(&code[8..10], [Op::PushInt(-5), Op::StoreAll(_)]));
    // 2 * 3 is folded, `- -1` too.
    assert!(matches!(&code[10..12], [Op::PushInt(7), Op::Store(_)]));
    // An IP network is pushed as its text.
    assert_eq!(code[13], Op::PushStr(str_id(&p, "10.0.0.0/8")));
    assert_eq!(&code[14..16], &[Op::Bin(BinaryOp::Eq), Op::Not]);
    let lines = &p.routes[0].lines;
    assert_eq!(lines[0], 3);
    assert_eq!(lines[8], 4);
    assert_eq!(lines[10], 5);
    assert_eq!(lines[12], 6);
    assert_eq!(*lines.last().unwrap(), 2);
}

#[test]
fn calls_are_resolved_or_named_unknown() {
    let p = program(
        "loadmodule \"/usr/lib/ser/modules/sl.so\"\n\
         loadmodule \"/usr/lib/ser/modules/no_such_module.so\"\n\
         modparam(\"no_such_module\", \"x\", \"y\")\n\
         route { no_such_function(\"a\", 1, $x, uri:host, 10.0.0.1, gw.example.com, -2); }",
    );
    let site = &p.calls[0];
    assert_eq!(p.str(site.module), "unknown");
    assert_eq!(p.str(site.name), "no_such_function");
    // Typed by form.
    assert!(matches!(site.args[0], Arg::Str(_)));
    assert_eq!(site.args[1], Arg::Int(1));
    assert!(matches!(site.args[2], Arg::Var(_)));
    assert_eq!(site.args[3], Arg::Var(kw(&p, Keyword::UriHost)));
    assert_eq!(site.args[4], Arg::Str(str_id(&p, "10.0.0.1")));
    assert_eq!(site.args[5], Arg::Str(str_id(&p, "gw.example.com")));
    assert_eq!(site.args[6], Arg::Int(-2));
    // A module the catalogue does not know keeps its written name.
    let m = p
        .modules
        .iter()
        .find(|m| p.str(m.path).contains("no_such_module"))
        .unwrap();
    assert_eq!(p.str(m.name), "no_such_module");
    assert_eq!(m.params.len(), 1);
}

#[test]
fn what_cannot_be_represented_is_an_error() {
    let script = parse_str(
        "t.cfg",
        "modparam(\"tm\", \"fr_timer\", 10)\n\
         flags A : 99;\n\
         route {\n  f(1 + $x);\n  g(h());\n}\n",
        &[],
    )
    .unwrap();
    let e = compile(&script).unwrap_err();
    let msgs: Vec<String> = e.iter().map(|d| d.to_string()).collect();
    assert_eq!(msgs.len(), 4, "{msgs:?}");
    assert!(msgs[0].starts_with("t.cfg:1:10: modparam for module `tm`, which is not loaded"));
    assert!(msgs[1].starts_with("t.cfg:2:7: flag `A`: 99 is not a flag number"));
    assert!(msgs[2].starts_with("t.cfg:4:5: argument 1 of `f`: an expression cannot be"));
    assert!(msgs[3].starts_with("t.cfg:5:5: argument 1 of `g`"));
}

#[test]
fn globals_keep_lists_and_addresses() {
    let p = program(
        "listen=udp:10.0.0.10:5060\nalias=example.com sip.example.com:5060\n\
         log_facility=LOG_LOCAL0\nroute { }",
    );
    let g: Vec<(&str, &str)> = p
        .globals
        .iter()
        .map(|g| match g.value {
            ConstValue::Str(s) => (p.str(g.name), p.str(s)),
            _ => panic!(),
        })
        .collect();
    assert_eq!(
        g,
        vec![
            ("listen", "udp:10.0.0.10:5060"),
            ("alias", "example.com"),
            ("alias", "sip.example.com:5060"),
            ("log_facility", "LOG_LOCAL0"),
        ]
    );
}

#[test]
fn hostile_scripts_compile_or_are_refused_without_panicking() {
    // As deep as the parser allows.
    let depth = 60;
    let mut text = String::from("route {");
    for _ in 0..depth {
        text.push_str("if (a()) {");
    }
    text.push_str("b();");
    for _ in 0..depth {
        text.push('}');
    }
    text.push('}');
    let p = program(&text);
    assert_eq!(main_code(&p).len(), depth * 2 + 3);
    let mut cond = String::from("a()");
    for _ in 0..250 {
        cond.push_str(" || a()");
    }
    let p = program(&format!("route {{ if ({cond}) b(); }}"));
    assert!(main_code(&p).len() > 500);
    // Many routes calling each other.
    let mut text = String::new();
    for i in 0..500 {
        text.push_str(&format!("route[{i}] {{ route({}); }}\n", (i + 1) % 500));
    }
    let p = program(&text);
    assert_eq!(p.routes.len(), 500);
}

#[test]
fn arguments_are_typed_by_the_catalogue() {
    let p = program(
        "#!SER2\n\
         flags FLAG_ACC : 4;\n\
         loadmodule \"sl\"\nloadmodule \"tm\"\nloadmodule \"textops\"\nloadmodule \"xlog\"\n\
         failure_route[1] { }\nonreply_route[1] { }\nbranch_route[1] { }\n\
         route {\n\
           t_on_failure(\"1\"); t_on_reply(\"1\"); t_on_branch(\"1\");\n\
           setflag(FLAG_ACC); setflag(3); sl_reply(\"404\", \"Not %ru\");\n\
           t_check_status(\"486|600\"); remove_hf(\"Route\"); xlog(\"L_INFO\", \"%$x\\n\");\n\
         }\n",
    );
    let calls: Vec<(&str, &str, &[Arg])> = p
        .calls
        .iter()
        .map(|c| (p.str(c.module), p.str(c.name), c.args.as_slice()))
        .collect();
    let failure = route_id(&p, RouteKind::Failure, RouteName::Number(1));
    let reply = route_id(&p, RouteKind::OnReply, RouteName::Number(1));
    let branch = route_id(&p, RouteKind::Branch, RouteName::Number(1));
    assert_eq!(calls[0], ("tm", "t_on_failure", &[Arg::Route(failure)][..]));
    assert_eq!(calls[1], ("tm", "t_on_reply", &[Arg::Route(reply)][..]));
    assert_eq!(calls[2], ("tm", "t_on_branch", &[Arg::Route(branch)][..]));
    assert_eq!(calls[3], ("core", "setflag", &[Arg::Flag(4)][..]));
    assert_eq!(calls[4], ("core", "setflag", &[Arg::Flag(3)][..]));
    // An alias is named by its canonical name; the code is an integer and
    // the reason a format.
    assert_eq!((calls[5].0, calls[5].1), ("sl", "sl_send_reply"));
    assert_eq!(calls[5].2[0], Arg::Int(404));
    let Arg::Format(f) = calls[5].2[1] else {
        panic!("{:?}", calls[5])
    };
    assert_eq!(p.formats[f as usize].parts.len(), 2);
    let Arg::Regex(r) = calls[6].2[0] else {
        panic!("{:?}", calls[6])
    };
    assert_eq!(p.str(p.regexes[r as usize].source), "486|600");
    let Arg::Header(h) = calls[7].2[0] else {
        panic!("{:?}", calls[7])
    };
    assert_eq!(p.str(p.headers[h as usize]), "Route");
    assert!(matches!(calls[8].2, [Arg::Str(_), Arg::Format(_)]));
}

/// A flag number the program cannot hold is a compile error, not an
/// invalid program (found by the `parse_compile` fuzz target:
/// `isflagset(226)`).
#[test]
fn flag_out_of_range_is_a_compile_error() {
    let script = ser_cfg::parse_str(
        "flags.cfg",
        "route { if (isflagset(226)) { exit; } }\n",
        &[],
    )
    .unwrap();
    let diags = ser_cfg::compile::compile(&script).unwrap_err();
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("flag 226 is out of range (0-63)")),
        "{diags:?}"
    );
    let ok =
        ser_cfg::parse_str("flags.cfg", "route { if (isflagset(63)) { exit; } }\n", &[]).unwrap();
    let p = ser_cfg::compile::compile(&ok).unwrap();
    assert_eq!(p.validate(), Ok(()));
}
