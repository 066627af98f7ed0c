//! VM tests on hand-built programs and real parsed messages.

use std::cell::RefCell;
use std::collections::HashMap;

use ser_cfg::ast::{AvpTrack, BinaryOp, Keyword, RouteKind, RouteName};
use ser_cfg::ir::{
    Arg, CallSite, CfgVarDef, ConstValue, Format, FormatPart, Op, Program, RegexDef, Route, VarDef,
};

use super::*;
use crate::sip::SipMsg;

// ----- messages -----

pub(crate) const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;rport\r\n\
Via: SIP/2.0/TCP proxy.example.net;branch=z9hG4bK-second;received=203.0.113.9\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: \"Alice Liddell\" <sip:alice@atlanta.example.org>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.org\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@198.51.100.7:5062>\r\n\
User-Agent: TestPhone/1.0\r\n\
X-Foo: one\r\n\
X-Foo: two\r\n\
Refer-To: <sip:carol@chicago.example.com?Replaces=abc>\r\n\
P-Asserted-Identity: \"Alice\" <sip:+15550100@atlanta.example.org;user=phone>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

pub(crate) const REGISTER: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKnashds7\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Bob <sip:bob@example.com>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:bob@198.51.100.7:5062>\r\n\
Expires: 7200\r\n\
Authorization: Digest username=\"bob@example.com\", realm=\"example.com\", nonce=\"abc\", uri=\"sip:example.com\", response=\"0123456789abcdef0123456789abcdef\"\r\n\
Content-Length: 0\r\n\
\r\n";

const REPLY: &[u8] = b"SIP/2.0 486 Busy Here\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
To: Bob <sip:bob@example.com>;tag=a6c85cf\r\n\
From: Alice <sip:alice@atlanta.example.org>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.org\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\
\r\n";

// ----- program builder -----

enum F<'x> {
    L(&'x str),
    V(u32),
}

#[derive(Default)]
struct P {
    p: RefCell<Program>,
    strs: RefCell<HashMap<String, u32>>,
}

impl P {
    fn new() -> P {
        let p = P::default();
        let f = p.s("test.cfg");
        assert_eq!(f, 0);
        p
    }

    fn prog(&self) -> std::cell::RefMut<'_, Program> {
        self.p.borrow_mut()
    }

    fn s(&self, s: &str) -> u32 {
        if let Some(i) = self.strs.borrow().get(s) {
            return *i;
        }
        let mut p = self.prog();
        p.strings.push(s.to_string());
        let i = (p.strings.len() - 1) as u32;
        self.strs.borrow_mut().insert(s.to_string(), i);
        i
    }

    fn def(&self, d: VarDef) -> u32 {
        let mut p = self.prog();
        p.vars.push(d);
        (p.vars.len() - 1) as u32
    }

    fn pv(&self, name: &str, arg: Option<&str>, index: Option<&str>) -> u32 {
        let name = self.s(name);
        let arg = arg.map(|a| self.s(a));
        let index = index.map(|i| self.s(i));
        self.def(VarDef::Pv { name, arg, index })
    }

    fn var(&self, x: &str) -> u32 {
        self.pv("var", Some(x), None)
    }

    fn kw(&self, k: Keyword) -> u32 {
        self.def(VarDef::Keyword(k))
    }

    fn avp(&self, track: Option<AvpTrack>, name: &str, index: Option<&str>) -> u32 {
        let name = self.s(name);
        let index = index.map(|i| self.s(i));
        self.def(VarDef::Avp { track, name, index })
    }

    fn sel(&self, path: &str) -> u32 {
        let path = path.split('.').map(|x| self.s(x)).collect();
        self.def(VarDef::Select { path })
    }

    fn re(&self, src: &str) -> u32 {
        let source = self.s(src);
        let mut p = self.prog();
        p.regexes.push(RegexDef {
            source,
            icase: true,
        });
        (p.regexes.len() - 1) as u32
    }

    fn call(&self, module: &str, name: &str, args: Vec<Arg>) -> u32 {
        let module = self.s(module);
        let name = self.s(name);
        let mut p = self.prog();
        p.calls.push(CallSite { module, name, args });
        (p.calls.len() - 1) as u32
    }

    fn str_arg(&self, s: &str) -> Arg {
        Arg::Str(self.s(s))
    }

    fn fmt(&self, parts: &[F<'_>]) -> u32 {
        let parts = parts
            .iter()
            .map(|p| match p {
                F::L(s) => FormatPart::Lit(self.s(s)),
                F::V(v) => FormatPart::Var(*v),
            })
            .collect();
        let mut p = self.prog();
        p.formats.push(Format { parts });
        (p.formats.len() - 1) as u32
    }

    fn route_of(&self, kind: RouteKind, name: Option<RouteName>, mut code: Vec<Op>) -> u32 {
        // A route ends in an op that leaves it (the IR's contract, checked
        // by `Program::validate`); a jump to "the end" lands on it.
        if !matches!(
            code.last(),
            Some(Op::Return | Op::ReturnDefault | Op::Exit | Op::Drop | Op::Jump(_))
        ) {
            code.push(Op::ReturnDefault);
        }
        let lines = (0..code.len() as u32).map(|i| 100 + i).collect();
        let mut p = self.prog();
        p.routes.push(Route {
            kind,
            name,
            code,
            lines,
            file: 0,
        });
        (p.routes.len() - 1) as u32
    }

    fn route(&self, n: i64, code: Vec<Op>) -> u32 {
        self.route_of(RouteKind::Request, Some(RouteName::Number(n)), code)
    }

    fn main(&self, code: Vec<Op>) -> u32 {
        let r = self.route_of(RouteKind::Request, None, code);
        self.prog().main_route = Some(r);
        r
    }

    fn program(self) -> Program {
        self.p.into_inner()
    }

    fn load(self) -> Script {
        match Script::load(self.program(), &registry()) {
            Ok(s) => s,
            Err(e) => panic!("load failed: {e}"),
        }
    }

    fn load_err(self) -> LoadError {
        match Script::load(self.program(), &registry()) {
            Ok(_) => panic!("loaded"),
            Err(e) => e,
        }
    }
}

/// The built-ins plus test functions: `test.ret(n)` returns n,
/// `test.mark(text[, code])` logs `mark:text` and returns code (1),
/// `test.wait(n)` suspends with token n, `test.set(var, value)` assigns.
fn registry() -> Registry {
    let mut r = Registry::builtin();
    r.add("test", "ret", |ctx, a| {
        Ret::Code(a.int(0, ctx).unwrap_or(1) as i32)
    });
    r.add("test", "mark", |ctx, a| {
        let t = a.value(0, ctx).unwrap_or(Value::Null).to_string();
        let code = a.int(1, ctx).unwrap_or(1) as i32;
        ctx.log(level::L_INFO, &format!("mark:{t}"));
        Ret::Code(code)
    });
    r.add("test", "wait", |ctx, a| {
        Ret::Suspend(Pending::Token {
            kind: "test",
            token: a.int(0, ctx).unwrap_or(0) as u64,
        })
    });
    r.add("test", "set", |ctx, a| {
        let v = a.value(1, ctx).unwrap_or(Value::Null).into_owned();
        match a.set_var(0, ctx, v) {
            Ok(()) => Ret::Code(1),
            Err(_) => Ret::Code(-1),
        }
    });
    r
}

fn config() -> Config {
    let mut c = Config::new();
    c.add_myself("192.0.2.13", Some(5060)).unwrap();
    c.add_myself("[2001:db8::13]", Some(5060)).unwrap();
    c.add_myself("example.com", None).unwrap();
    c.add_myself("sip.example.com", Some(5080)).unwrap();
    c.set_cfg_var("pstn", "gw_ip", Value::text("192.0.2.245"));
    c
}

fn mk<'m, 'a>(msg: &'m SipMsg<'a>, cfg: &'m Config) -> MsgCtx<'m, 'a> {
    let mut c = MsgCtx::new(
        msg,
        cfg,
        "198.51.100.7:5062".parse().unwrap(),
        "192.0.2.13:5060".parse().unwrap(),
        Proto::Udp,
    );
    c.log = LogSink::Capture(Vec::new());
    c
}

fn marks(ctx: &MsgCtx<'_, '_>) -> Vec<String> {
    ctx.log
        .lines()
        .iter()
        .filter_map(|l| l.text.strip_prefix("mark:").map(str::to_string))
        .collect()
}

fn errors(ctx: &MsgCtx<'_, '_>) -> Vec<String> {
    ctx.log
        .lines()
        .iter()
        .filter(|l| l.level == level::L_ERR)
        .map(|l| l.text.clone())
        .collect()
}

fn finished(o: &Outcome) -> (i32, bool) {
    match o {
        Outcome::Finished { ret, dropped } => (*ret, *dropped),
        Outcome::Suspended(s) => panic!("suspended: {:?}", s.pending),
    }
}

/// Runs `code` (which must leave one value) and returns that value, via
/// `$var(result)`.
fn eval_on(msg: &[u8], build: impl FnOnce(&P) -> Vec<Op>) -> Value<'static> {
    let p = P::new();
    let mut code = build(&p);
    let out = p.pv("avp", Some("result"), None);
    code.push(Op::Store(out));
    code.push(Op::ReturnDefault);
    p.main(code);
    let script = p.load();
    let m = SipMsg::parse(msg).unwrap();
    let cfg = config();
    let mut ctx = mk(&m, &cfg);
    let o = script.run_main(&mut ctx);
    assert_eq!(finished(&o), (1, false), "log: {:?}", ctx.log.lines());
    let sel = AvpSel {
        name: AvpName::Str(b"result"[..].into()),
        classes: ctx::ALL_CLASSES,
        track: AvpTrackSide::From,
        write_class: AvpClass::Uri,
    };
    ctx.avps.get(&sel, 0).cloned().unwrap_or(Value::Null)
}

fn eval(build: impl FnOnce(&P) -> Vec<Op>) -> Value<'static> {
    eval_on(INVITE, build)
}

fn text(s: &str) -> Value<'static> {
    Value::text(s)
}

/// Runs the main route of `p` on `msg` and returns the outcome and the
/// context's interesting state through `check`.
fn run_with<R>(
    p: P,
    msg: &[u8],
    check: impl FnOnce(&Script, &Outcome, &mut MsgCtx<'_, '_>) -> R,
) -> R {
    let script = p.load();
    let m = SipMsg::parse(msg).unwrap();
    let cfg = config();
    let mut ctx = mk(&m, &cfg);
    let o = script.run_main(&mut ctx);
    check(&script, &o, &mut ctx)
}

// ----- ops -----

#[test]
fn push_and_arith_ops() {
    use BinaryOp::*;
    assert_eq!(eval(|_| vec![Op::PushInt(7)]), Value::Int(7));
    assert_eq!(eval(|_| vec![Op::PushNull]), Value::Null);
    assert_eq!(
        eval(|p| vec![Op::PushStr(p.s("a")), Op::PushStr(p.s("b")), Op::Bin(Add)]),
        text("ab")
    );
    let cases: &[(BinaryOp, i64, i64, i64)] = &[
        (Add, 2, 3, 5),
        (Sub, 2, 3, -1),
        (Mul, 4, 3, 12),
        (Div, 7, 2, 3),
        (Mod, 7, 2, 1),
        (Eq, 2, 2, 1),
        (Ne, 2, 2, 0),
        (Lt, 2, 3, 1),
        (Gt, 2, 3, 0),
        (Le, 3, 3, 1),
        (Ge, 2, 3, 0),
    ];
    for (op, a, b, want) in cases {
        let got = eval(|_| vec![Op::PushInt(*a), Op::PushInt(*b), Op::Bin(*op)]);
        assert_eq!(got, Value::Int(*want), "{a} {} {b}", op.symbol());
    }
    assert_eq!(eval(|_| vec![Op::PushInt(5), Op::Neg]), Value::Int(-5));
    assert_eq!(eval(|_| vec![Op::PushInt(5), Op::Not]), Value::Int(0));
    assert_eq!(eval(|p| vec![Op::PushStr(p.s("")), Op::Not]), Value::Int(1));
    assert_eq!(eval(|_| vec![Op::PushNull, Op::Not]), Value::Int(1));
    assert_eq!(
        eval(|_| vec![Op::PushInt(1), Op::PushInt(2), Op::Pop]),
        Value::Int(1)
    );
    assert_eq!(
        eval(|_| vec![Op::PushInt(4), Op::Dup, Op::Bin(Mul)]),
        Value::Int(16)
    );
    // String / int comparison.
    assert_eq!(
        eval(|p| vec![Op::PushStr(p.s("10")), Op::PushInt(10), Op::Bin(Eq)]),
        Value::Int(1)
    );
}

#[test]
fn regex_ops() {
    let hit = eval(|p| {
        let u = p.kw(Keyword::Uri);
        vec![Op::Load(u), Op::Match(p.re("^SIP:BOB@"))]
    });
    assert_eq!(hit, Value::Int(1), "case-insensitive");
    let miss = eval(|p| {
        let u = p.kw(Keyword::Uri);
        vec![Op::Load(u), Op::NotMatch(p.re("^sip:bob@"))]
    });
    assert_eq!(miss, Value::Int(0));
    // A pattern known only at run time.
    let dynamic = eval(|p| {
        let m = p.kw(Keyword::Method);
        vec![
            Op::Load(m),
            Op::PushStr(p.s("^(INV")),
            Op::PushStr(p.s("ITE|BYE)$")),
            Op::Bin(BinaryOp::Add),
            Op::Bin(BinaryOp::Match),
        ]
    });
    assert_eq!(dynamic, Value::Int(1));
    let dynamic = eval(|p| {
        vec![
            Op::PushNull,
            Op::PushStr(p.s("^$")),
            Op::Bin(BinaryOp::NotMatch),
        ]
    });
    assert_eq!(dynamic, Value::Int(0), "Null matches as the empty string");
}

#[test]
fn bad_dynamic_regex_stops_the_script() {
    let p = P::new();
    let m = p.kw(Keyword::Method);
    p.main(vec![
        Op::Load(m),
        Op::PushStr(p.s("(unclosed")),
        Op::Bin(BinaryOp::Match),
        Op::Pop,
        Op::ReturnDefault,
    ]);
    run_with(p, INVITE, |_, o, ctx| {
        assert_eq!(finished(o), (E_SCRIPT, false));
        let e = errors(ctx);
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("route (test.cfg:102): `=~`: invalid regular expression"),
            "{e:?}"
        );
    });
}

#[test]
fn type_errors_are_logged_with_route_and_line() {
    let p = P::new();
    p.route(
        7,
        vec![
            Op::PushStr(p.s("abc")),
            Op::PushInt(1),
            Op::Bin(BinaryOp::Sub),
            Op::Return,
        ],
    );
    p.main(vec![Op::Route(0), Op::Pop, Op::ReturnDefault]);
    run_with(p, INVITE, |_, o, ctx| {
        assert_eq!(finished(o), (E_SCRIPT, false));
        assert_eq!(
            errors(ctx),
            vec![
                "route[7] (test.cfg:102): `-`: operand of `-` is not an integer: \"abc\""
                    .to_string()
            ]
        );
    });
    let p = P::new();
    p.main(vec![
        Op::PushInt(1),
        Op::PushInt(0),
        Op::Bin(BinaryOp::Div),
        Op::Pop,
    ]);
    run_with(p, INVITE, |_, o, ctx| {
        assert_eq!(finished(o), (E_SCRIPT, false));
        assert_eq!(
            errors(ctx),
            vec!["route (test.cfg:102): `/`: division by zero".to_string()]
        );
    });
}

#[test]
fn short_circuit() {
    // if (mark("a", -1) && mark("b")) mark("then"); mark("end");
    let p = P::new();
    let (a, b, t, e) = (
        p.str_arg("a"),
        p.str_arg("b"),
        p.str_arg("then"),
        p.str_arg("end"),
    );
    let neg = Arg::Int(-1);
    let ca = p.call("test", "mark", vec![a.clone(), neg.clone()]);
    let cb = p.call("test", "mark", vec![b.clone()]);
    let ct = p.call("test", "mark", vec![t]);
    let ce = p.call("test", "mark", vec![e]);
    p.main(vec![
        Op::Call(ca),           // 0
        Op::JumpIfFalseKeep(3), // 1
        Op::Call(cb),           // 2
        Op::JumpIfFalse(6),     // 3
        Op::Call(ct),           // 4
        Op::Pop,                // 5
        Op::Call(ce),           // 6
        Op::Pop,                // 7
        Op::ReturnDefault,      // 8
    ]);
    run_with(p, INVITE, |_, o, ctx| {
        assert_eq!(finished(o), (1, false));
        assert_eq!(marks(ctx), vec!["a", "end"]);
        assert_eq!(ctx.rc, 1);
    });
    // if (mark("a") || mark("b")) mark("then");
    let p = P::new();
    let ca = p.call("test", "mark", vec![p.str_arg("a")]);
    let cb = p.call("test", "mark", vec![p.str_arg("b")]);
    let ct = p.call("test", "mark", vec![p.str_arg("then")]);
    p.main(vec![
        Op::Call(ca),
        Op::JumpIfTrueKeep(3),
        Op::Call(cb),
        Op::JumpIfFalse(6),
        Op::Call(ct),
        Op::Pop,
        Op::ReturnDefault,
    ]);
    run_with(p, INVITE, |_, o, ctx| {
        assert_eq!(finished(o), (1, false));
        assert_eq!(marks(ctx), vec!["a", "then"]);
    });
}

/// `switch ($var(x)) { case 1: mark(one); case 2: mark(two); break;
/// default: mark(other) }` in the compiler's shape.
fn switch_program(x: i64) -> P {
    let p = P::new();
    let v = p.var("x");
    let one = p.call("test", "mark", vec![p.str_arg("one")]);
    let two = p.call("test", "mark", vec![p.str_arg("two")]);
    let other = p.call("test", "mark", vec![p.str_arg("other")]);
    p.main(vec![
        Op::PushInt(x),        // 0
        Op::Store(v),          // 1
        Op::Load(v),           // 2 subject
        Op::Dup,               // 3
        Op::PushInt(1),        // 4
        Op::Bin(BinaryOp::Eq), // 5
        Op::JumpIfFalse(9),    // 6
        Op::Pop,               // 7
        Op::Jump(17),          // 8 -> case 1 body
        Op::Dup,               // 9
        Op::PushInt(2),        // 10
        Op::Bin(BinaryOp::Eq), // 11
        Op::JumpIfFalse(15),   // 12
        Op::Pop,               // 13
        Op::Jump(19),          // 14 -> case 2 body
        Op::Pop,               // 15
        Op::Jump(22),          // 16 -> default
        Op::Call(one),         // 17
        Op::Pop,               // 18 (falls through)
        Op::Call(two),         // 19
        Op::Pop,               // 20
        Op::Jump(24),          // 21 break
        Op::Call(other),       // 22
        Op::Pop,               // 23
        Op::ReturnDefault,     // 24
    ]);
    p
}

#[test]
fn switch_shape() {
    for (x, want) in [
        (1, vec!["one", "two"]),
        (2, vec!["two"]),
        (3, vec!["other"]),
    ] {
        run_with(switch_program(x), INVITE, |_, o, ctx| {
            assert_eq!(finished(o), (1, false), "{:?}", ctx.log.lines());
            assert_eq!(marks(ctx), want, "x = {x}");
        });
    }
}

#[test]
fn routes_return_values_and_rc() {
    // route[1] { return 5; }  route[2] { return; }
    // main: route(1) -> $var(a); $rc -> $var(b); route(2) -> $var(c); return 3
    let p = P::new();
    let (a, b, c) = (p.var("a"), p.var("b"), p.var("c"));
    let rc = p.def(VarDef::RetCode);
    let r1 = p.route(1, vec![Op::PushInt(9), Op::PushInt(5), Op::Return]);
    let r2 = p.route(2, vec![Op::ReturnDefault]);
    p.main(vec![
        Op::PushInt(42),
        Op::Route(r1),
        Op::Store(a),
        Op::Load(rc),
        Op::Store(b),
        Op::Route(r2),
        Op::Store(c),
        Op::Pop,
        Op::PushInt(3),
        Op::Return,
    ]);
    run_with(p, INVITE, |s, o, ctx| {
        assert_eq!(finished(o), (3, false));
        let get = |n: &str| ctx.vars.get(s.var_slot(n).unwrap()).clone();
        assert_eq!(get("a"), Value::Int(5));
        assert_eq!(get("b"), Value::Int(5));
        assert_eq!(get("c"), Value::Int(1));
        assert_eq!(ctx.rc, 1);
    });
}

#[test]
fn rc_after_call_and_zero_stops() {
    let p = P::new();
    let v = p.var("after");
    let rc = p.def(VarDef::RetCode);
    let c1 = p.call("test", "ret", vec![Arg::Int(-3)]);
    let c0 = p.call("test", "ret", vec![Arg::Int(0)]);
    let m = p.call("test", "mark", vec![p.str_arg("unreached")]);
    p.main(vec![
        Op::Call(c1),
        Op::Pop,
        Op::Load(rc),
        Op::Store(v),
        Op::Call(c0),
        Op::Pop,
        Op::Call(m),
        Op::ReturnDefault,
    ]);
    run_with(p, INVITE, |s, o, ctx| {
        assert_eq!(finished(o), (0, false));
        assert_eq!(ctx.vars.get(s.var_slot("after").unwrap()), &Value::Int(-3));
        assert_eq!(ctx.rc, 0);
        assert!(marks(ctx).is_empty());
    });
}

#[test]
fn exit_drop_and_return_zero_from_subroute() {
    for (sub, want) in [
        (vec![Op::Exit], (0, false)),
        (vec![Op::Drop], (0, true)),
        (vec![Op::PushInt(0), Op::Return], (0, false)),
        (vec![Op::ReturnDefault], (1, false)),
        (vec![Op::PushStr(0), Op::Return], (1, false)),
        (vec![Op::PushNull, Op::Return], (1, false)),
    ] {
        let p = P::new();
        let after = p.call("test", "mark", vec![p.str_arg("after")]);
        let r = p.route(1, sub.clone());
        p.main(vec![
            Op::Route(r),
            Op::Pop,
            Op::Call(after),
            Op::Pop,
            Op::ReturnDefault,
        ]);
        run_with(p, INVITE, |_, o, ctx| {
            assert_eq!(finished(o), want, "{sub:?}");
            assert_eq!(marks(ctx).len(), usize::from(want.0 == 1), "{sub:?}");
        });
    }
    // `return` from the top route ends the script with its value.
    let p = P::new();
    p.main(vec![Op::PushInt(-2), Op::Return, Op::Exit]);
    run_with(p, INVITE, |_, o, _| assert_eq!(finished(o), (-2, false)));
    // The end of a route is `ReturnDefault`; a jump to it returns 1.
    let p = P::new();
    p.main(vec![
        Op::PushInt(0),
        Op::JumpIfFalse(3),
        Op::Exit,
        Op::ReturnDefault,
    ]);
    run_with(p, INVITE, |_, o, _| assert_eq!(finished(o), (1, false)));
    // A program without main route.
    let p = P::new();
    run_with(p, INVITE, |_, o, _| assert_eq!(finished(o), (1, false)));
}

#[test]
fn run_other_route_and_bad_route() {
    let p = P::new();
    let r = p.route_of(
        RouteKind::Failure,
        Some(RouteName::Name("F".into())),
        vec![Op::PushInt(4), Op::Return],
    );
    let script = p.load();
    let m = SipMsg::parse(INVITE).unwrap();
    let cfg = config();
    let mut ctx = mk(&m, &cfg);
    assert_eq!(finished(&script.run(r, &mut ctx)), (4, false));
    assert_eq!(ctx.route_kind, RouteKind::Failure);
    assert_eq!(finished(&script.run(99, &mut ctx)), (E_SCRIPT, false));
    assert_eq!(errors(&ctx), vec!["script: no route 99".to_string()]);
}

// ----- bounds -----

#[test]
fn endless_loop_is_stopped() {
    let p = P::new();
    p.route(1, vec![Op::Jump(0)]);
    p.main(vec![Op::Route(0), Op::Pop, Op::ReturnDefault]);
    run_with(p, INVITE, |_, o, ctx| {
        assert_eq!(finished(o), (E_SCRIPT, false));
        assert_eq!(
            errors(ctx),
            vec![
                "route[1] (test.cfg:100): loop ran more than 10000 iterations: stopped".to_string()
            ]
        );
    });
}

#[test]
fn a_loop_within_bounds_runs() {
    // $var(i) = 0; while ($var(i) < 500) $var(i) = $var(i) + 1;
    let p = P::new();
    let i = p.var("i");
    p.main(vec![
        Op::PushInt(0),
        Op::Store(i),
        Op::Load(i), // 2
        Op::PushInt(500),
        Op::Bin(BinaryOp::Lt),
        Op::JumpIfFalse(11),
        Op::Load(i),
        Op::PushInt(1),
        Op::Bin(BinaryOp::Add),
        Op::Store(i),
        Op::Jump(2),
        Op::ReturnDefault, // 11
    ]);
    run_with(p, INVITE, |s, o, ctx| {
        assert_eq!(finished(o), (1, false));
        assert_eq!(ctx.vars.get(s.var_slot("i").unwrap()), &Value::Int(500));
    });
}

#[test]
fn recursion_is_bounded() {
    let p = P::new();
    p.route(1, vec![Op::Route(0), Op::Return]);
    p.main(vec![Op::Route(0), Op::Return]);
    run_with(p, INVITE, |_, o, ctx| {
        assert_eq!(finished(o), (E_SCRIPT, false));
        assert_eq!(
            errors(ctx),
            vec!["route[1] (test.cfg:100): route calls nested deeper than 100".to_string()]
        );
    });
}

#[test]
fn op_budget_and_stack_bounds() {
    // A loop calling a route: under the loop bound, over the step budget
    // (each iteration is a route call and a backward jump).
    let p = P::new();
    let limits = Limits {
        max_steps: 5_000,
        ..Limits::default()
    };
    p.route(1, vec![Op::ReturnDefault]);
    p.main(vec![Op::Route(0), Op::Pop, Op::Jump(0)]);
    let script = Script::load_with(p.program(), &registry(), limits).unwrap();
    let m = SipMsg::parse(INVITE).unwrap();
    let cfg = config();
    let mut ctx = mk(&m, &cfg);
    assert_eq!(finished(&script.run_main(&mut ctx)), (E_SCRIPT, false));
    assert!(
        errors(&ctx)[0]
            .ends_with("more than 5000 steps (loop iterations and calls) in one run: stopped"),
        "{:?}",
        errors(&ctx)
    );
    // Unbounded pushes.
    let p = P::new();
    p.main(vec![Op::PushInt(1), Op::Jump(0)]);
    run_with(p, INVITE, |_, o, ctx| {
        assert_eq!(finished(o), (E_SCRIPT, false));
        assert!(
            errors(ctx)[0].ends_with("operand stack overflow (1024 values)"),
            "{:?}",
            errors(ctx)
        );
    });
    // Underflow, also across a route boundary.
    let p = P::new();
    p.route(1, vec![Op::Pop, Op::ReturnDefault]);
    p.main(vec![Op::PushInt(1), Op::Route(0), Op::ReturnDefault]);
    run_with(p, INVITE, |_, o, ctx| {
        assert_eq!(finished(o), (E_SCRIPT, false));
        assert!(errors(ctx)[0].ends_with("operand stack underflow"));
    });
}

// ----- suspend and resume -----

#[test]
fn suspend_in_the_middle_of_a_condition() {
    // if (usleep(1000) && isflagset(1)) mark("both") else mark("not");
    // mark("end");
    let p = P::new();
    let us = p.call("cfgutils", "usleep", vec![Arg::Int(1000)]);
    let fl = p.call("core", "isflagset", vec![Arg::Flag(1)]);
    let both = p.call("test", "mark", vec![p.str_arg("both")]);
    let not = p.call("test", "mark", vec![p.str_arg("not")]);
    let end = p.call("test", "mark", vec![p.str_arg("end")]);
    let set = p.call("core", "setflag", vec![Arg::Flag(1)]);
    p.main(vec![
        Op::Call(set),          // 0
        Op::Pop,                // 1
        Op::Call(us),           // 2
        Op::JumpIfFalseKeep(5), // 3
        Op::Call(fl),           // 4
        Op::JumpIfFalse(9),     // 5
        Op::Call(both),         // 6
        Op::Pop,                // 7
        Op::Jump(11),           // 8
        Op::Call(not),          // 9
        Op::Pop,                // 10
        Op::Call(end),          // 11
        Op::Pop,                // 12
        Op::ReturnDefault,      // 13
    ]);
    let script = p.load();
    let m = SipMsg::parse(INVITE).unwrap();
    let cfg = config();
    let mut ctx = mk(&m, &cfg);
    let before = std::time::Instant::now();
    let s = match script.run_main(&mut ctx) {
        Outcome::Suspended(s) => s,
        o => panic!("{o:?}"),
    };
    match s.pending {
        Pending::Sleep { until } => {
            assert!(until >= before + std::time::Duration::from_micros(1000));
        }
        ref other => panic!("{other:?}"),
    }
    assert!(marks(&ctx).is_empty());
    // The suspension owns its state: it outlives the borrow of the message.
    let s: Suspension = s;
    let o = script.resume(s, &mut ctx, 1);
    assert_eq!(finished(&o), (1, false));
    assert_eq!(marks(&ctx), vec!["both", "end"]);

    // Resumed with a false code: the else branch.
    let mut ctx = mk(&m, &cfg);
    let Outcome::Suspended(s) = script.run_main(&mut ctx) else {
        panic!()
    };
    assert_eq!(finished(&script.resume(s, &mut ctx, -1)), (1, false));
    assert_eq!(marks(&ctx), vec!["not", "end"]);
    assert_eq!(ctx.rc, 1);

    // Resumed with 0: the script stops.
    let mut ctx = mk(&m, &cfg);
    let Outcome::Suspended(s) = script.run_main(&mut ctx) else {
        panic!()
    };
    assert_eq!(finished(&script.resume(s, &mut ctx, 0)), (0, false));
    assert!(marks(&ctx).is_empty());
}

#[test]
fn suspend_inside_a_subroute_with_values_on_the_stack() {
    // route[1] { $var(s) = "pre-" + wait(7) ; return 6; }
    // main { $var(t) = "x" + route(1); }
    let p = P::new();
    let (s, t) = (p.var("s"), p.var("t"));
    let w = p.call("test", "wait", vec![Arg::Int(7)]);
    let pre = p.s("pre-");
    let x = p.s("x");
    let r = p.route(
        1,
        vec![
            Op::PushStr(pre),
            Op::Call(w),
            Op::Bin(BinaryOp::Add),
            Op::Store(s),
            Op::PushInt(6),
            Op::Return,
        ],
    );
    p.main(vec![
        Op::PushStr(x),
        Op::Route(r),
        Op::Bin(BinaryOp::Add),
        Op::Store(t),
        Op::ReturnDefault,
    ]);
    let script = p.load();
    let m = SipMsg::parse(INVITE).unwrap();
    let cfg = config();
    let mut ctx = mk(&m, &cfg);
    let Outcome::Suspended(susp) = script.run_main(&mut ctx) else {
        panic!()
    };
    assert!(matches!(
        susp.pending,
        Pending::Token {
            kind: "test",
            token: 7
        }
    ));
    // A suspension from another script is refused.
    let other = P::new().load();
    let mut ctx2 = mk(&m, &cfg);
    assert_eq!(
        finished(&other.resume(susp, &mut ctx2, 1)),
        (E_SCRIPT, false)
    );

    let Outcome::Suspended(susp) = script.run_main(&mut ctx) else {
        panic!()
    };
    assert_eq!(finished(&script.resume(susp, &mut ctx, 42)), (1, false));
    assert_eq!(ctx.vars.get(script.var_slot("s").unwrap()), &text("pre-42"));
    assert_eq!(ctx.vars.get(script.var_slot("t").unwrap()), &text("x6"));
}

// ----- loading -----

#[test]
fn load_refuses_damaged_programs() {
    type Damage = fn(&mut Program);
    let cases: &[(Damage, &str)] = &[
        (
            |p| p.routes[0].code[0] = Op::PushStr(999),
            "refers to string 999",
        ),
        (
            |p| p.routes[0].code[0] = Op::Load(77),
            "refers to variable 77",
        ),
        (|p| p.routes[0].code[0] = Op::Call(5), "refers to call 5"),
        (|p| p.routes[0].code[0] = Op::Route(3), "refers to route 3"),
        (|p| p.routes[0].code[0] = Op::Match(1), "refers to regex 1"),
        (
            |p| p.routes[0].code[0] = Op::Jump(9),
            "jumps to 9, past the end of the route (2 ops)",
        ),
        (
            |p| p.routes[0].lines.pop().map(drop).unwrap_or(()),
            "has 2 ops but 1 line numbers",
        ),
        (|p| p.routes[0].file = 1000, "refers to string 1000"),
        (
            |p| p.calls[0].args.push(Arg::Format(4)),
            "refers to format 4",
        ),
        (
            |p| p.calls[0].args.push(Arg::Header(0)),
            "refers to header 0",
        ),
        (
            |p| p.calls[0].args.push(Arg::Flag(64)),
            "has flag 64, above 63",
        ),
        (|p| p.calls[0].name = 500, "refers to string 500"),
        (
            |p| p.main_route = Some(8),
            "the main route refers to route 8",
        ),
        (|p| p.regexes[0].source = 300, "refers to string 300"),
        (
            |p| {
                p.formats.push(Format {
                    parts: vec![FormatPart::Var(40)],
                })
            },
            "format 0 refers to variable 40",
        ),
        (
            |p| p.vars.push(VarDef::Select { path: vec![] }),
            "empty select",
        ),
        (
            |p| {
                p.cfg_vars.push(CfgVarDef {
                    group: 0,
                    name: 0,
                    value: ConstValue::Str(1234),
                    desc: None,
                })
            },
            "refers to string 1234",
        ),
    ];
    for (damage, want) in cases {
        let p = P::new();
        p.re("a");
        p.call("test", "ret", vec![]);
        p.main(vec![Op::PushInt(1), Op::Return]);
        damage(&mut p.prog());
        let e = p.load_err();
        assert!(matches!(e, LoadError::Damaged(_)), "{e}");
        assert!(e.to_string().contains(want), "{e} / {want}");
    }
}

#[test]
fn load_lists_every_unsupported_function() {
    let p = P::new();
    let c1 = p.call("nathelper", "fix_nated_contact", vec![]);
    let c2 = p.call("cpl-c", "cpl_run_script", vec![]);
    let c3 = p.call("nathelper", "fix_nated_contact", vec![]);
    let c4 = p.call("core", "setflag", vec![Arg::Flag(1)]);
    p.main(vec![Op::Call(c1), Op::Call(c2), Op::Call(c3), Op::Call(c4)]);
    let e = p.load_err();
    assert_eq!(
        e.to_string(),
        "not supported yet: fix_nated_contact (nathelper), cpl_run_script (cpl-c)"
    );
}

#[test]
fn load_refuses_bad_regex_and_unknown_variables() {
    let p = P::new();
    p.re("^sip:[0-9]+@");
    p.re("(486|600");
    let e = p.load_err();
    assert!(
        e.to_string()
            .starts_with("invalid regular expression \"(486|600\": "),
        "{e}"
    );

    type Add = fn(&P);
    let unknown: &[(Add, &str)] = &[
        (
            |p| {
                let _ = p.pv("xy", None, None);
            },
            "$xy: unknown pseudo-variable",
        ),
        (
            |p| {
                let _ = p.pv("foo", Some("bar"), None);
            },
            "$foo(bar): unknown pseudo-variable",
        ),
        (
            |p| {
                let _ = p.sel("to.nothing");
            },
            "@to.nothing: unknown select",
        ),
        (
            |p| {
                let _ = p.sel("cfg_get.x");
            },
            "@cfg_get.x: unknown select",
        ),
        (
            |p| {
                let _ = p.pv("avp", Some("i:x"), None);
            },
            "$avp(i:x): bad integer AVP name `i:x`",
        ),
        (
            |p| {
                let _ = p.pv("hdr", Some("Bad Name"), None);
            },
            "$hdr(Bad Name): bad header name `Bad Name`",
        ),
        (
            |p| {
                let _ = p.pv("ru", None, Some("1"));
            },
            "$ru[1]: this pseudo-variable takes no index",
        ),
        (
            |p| {
                let _ = p.kw(Keyword::Myself);
            },
            "myself: `myself` is not a value (compare with it)",
        ),
        (
            |p| {
                let _ = p.pv("avp", Some("x"), Some("a"));
            },
            "$avp(x)[a]: bad index `[a]`",
        ),
    ];
    for (add, want) in unknown {
        let p = P::new();
        add(&p);
        assert_eq!(p.load_err().to_string(), *want);
    }

    for (name, arg) in [
        ("si", None),
        ("fu", None),
        ("hdr", Some("From")),
        ("ci", None),
    ] {
        let p = P::new();
        let v = p.pv(name, arg, None);
        p.main(vec![Op::PushInt(1), Op::Store(v)]);
        let e = p.load_err();
        assert!(matches!(e, LoadError::NotWritable(_)), "{e}");
        assert!(e.to_string().ends_with("it is read-only"));
    }
}

#[test]
fn hostile_programs_never_panic() {
    // Random ops with random (often out of range) operands: loading refuses
    // them or running ends cleanly.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let m = SipMsg::parse(INVITE).unwrap();
    let cfg = config();
    let mut ran = 0;
    for _ in 0..3000 {
        let p = P::new();
        p.s("a");
        p.s("^a");
        p.var("x");
        p.kw(Keyword::Uri);
        p.avp(None, "x", None);
        p.re("b");
        p.call("test", "ret", vec![Arg::Int(1)]);
        p.call("cfgutils", "usleep", vec![Arg::Int(1)]);
        let n = 1 + (next() % 12) as usize;
        let mut code = Vec::new();
        for _ in 0..n {
            let k = (next() % 4) as u32;
            let t = (next() % (n as u64 + 2)) as u32;
            let op = match next() % 24 {
                0 => Op::PushInt(next() as i64 % 5),
                1 => Op::PushStr(k),
                2 => Op::PushNull,
                3 => Op::Load(k),
                4 => Op::Store(k),
                5 => Op::StoreAll(k),
                6 => Op::Not,
                7 => Op::Neg,
                8 => Op::Bin(match next() % 5 {
                    0 => BinaryOp::Add,
                    1 => BinaryOp::Div,
                    2 => BinaryOp::Match,
                    3 => BinaryOp::Lt,
                    _ => BinaryOp::Eq,
                }),
                9 => Op::Match(k % 2),
                10 => Op::Myself,
                11 => Op::Call(k % 3),
                12 => Op::Pop,
                13 => Op::Dup,
                14 => Op::Jump(t),
                15 => Op::JumpIfFalse(t),
                16 => Op::JumpIfFalseKeep(t),
                17 => Op::JumpIfTrueKeep(t),
                18 => Op::Route(k % 3),
                19 => Op::Return,
                20 => Op::ReturnDefault,
                21 => Op::Exit,
                22 => Op::Drop,
                _ => Op::NotMatch(k),
            };
            code.push(op);
        }
        p.route(1, code.clone());
        p.main(code);
        let Ok(script) = Script::load(p.program(), &registry()) else {
            continue;
        };
        ran += 1;
        let mut ctx = mk(&m, &cfg);
        let mut o = script.run_main(&mut ctx);
        let mut resumes = 0;
        while let Outcome::Suspended(s) = o {
            resumes += 1;
            assert!(resumes < 10_000);
            o = script.resume(s, &mut ctx, 1);
        }
    }
    assert!(ran > 100, "only {ran} programs loaded");
}

#[test]
fn scripts_are_shareable_and_suspensions_movable() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Script>();
    send_sync::<Registry>();
    send_sync::<Config>();
    send::<Suspension>();
}

#[test]
fn stack_buffers_are_reused() {
    let mut v: Vec<Value<'static>> = Vec::with_capacity(64);
    v.push(Value::Int(1));
    let cap = v.capacity();
    let ptr = v.as_ptr() as usize;
    let w: Vec<Value<'_>> = recycle(v);
    assert!(w.is_empty());
    assert_eq!(w.capacity(), cap);
    assert_eq!(w.as_ptr() as usize, ptr);
}

// ----- variables on real messages -----

fn read(msg: &[u8], f: impl FnOnce(&P) -> u32) -> Value<'static> {
    eval_on(msg, |p| {
        let v = f(p);
        vec![Op::Load(v)]
    })
}

fn read_pv(msg: &[u8], name: &str, arg: Option<&str>, index: Option<&str>) -> Value<'static> {
    read(msg, |p| p.pv(name, arg, index))
}

#[test]
fn keywords_on_an_invite() {
    let k = |k| read(INVITE, |p| p.kw(k));
    assert_eq!(k(Keyword::Method), text("INVITE"));
    assert_eq!(k(Keyword::Uri), text("sip:bob@example.com"));
    assert_eq!(k(Keyword::Status), Value::Null);
    assert_eq!(k(Keyword::FromUri), text("sip:alice@atlanta.example.org"));
    assert_eq!(k(Keyword::ToUri), text("sip:bob@example.com"));
    assert_eq!(k(Keyword::SrcIp), text("198.51.100.7"));
    assert_eq!(k(Keyword::SrcPort), Value::Int(5062));
    assert_eq!(k(Keyword::DstIp), text("192.0.2.13"));
    assert_eq!(k(Keyword::DstPort), Value::Int(5060));
    assert_eq!(k(Keyword::Proto), text("udp"));
    assert_eq!(k(Keyword::Af), text("inet"));
    assert_eq!(k(Keyword::MsgLen), Value::Int(INVITE.len() as i64));
    assert_eq!(k(Keyword::MaxLen), Value::Int(65_535));
    assert_eq!(k(Keyword::UriHost), text("example.com"));
    assert_eq!(k(Keyword::UriPort), Value::Int(5060));
    assert_eq!(k(Keyword::SndIp), Value::Null);
}

#[test]
fn kamailio_pvs_on_an_invite() {
    let r = |n: &str| read_pv(INVITE, n, None, None);
    let want: &[(&str, Value<'static>)] = &[
        ("ru", text("sip:bob@example.com")),
        ("rU", text("bob")),
        ("rd", text("example.com")),
        ("rp", Value::Int(5060)),
        ("rz", text("sip")),
        ("ou", text("sip:bob@example.com")),
        ("oU", text("bob")),
        ("du", Value::Null),
        ("fu", text("sip:alice@atlanta.example.org")),
        ("fU", text("alice")),
        ("fd", text("atlanta.example.org")),
        ("fn", text("Alice Liddell")),
        ("ft", text("1928301774")),
        ("tu", text("sip:bob@example.com")),
        ("tU", text("bob")),
        ("td", text("example.com")),
        ("tn", text("Bob")),
        ("tt", Value::Null),
        ("si", text("198.51.100.7")),
        ("sp", Value::Int(5062)),
        ("Ri", text("192.0.2.13")),
        ("Rp", Value::Int(5060)),
        ("pr", text("udp")),
        ("ci", text("a84b4c76e66710@pc33.atlanta.example.org")),
        ("cs", Value::Int(314159)),
        ("rm", text("INVITE")),
        ("rs", Value::Null),
        ("rr", Value::Null),
        ("rv", text("SIP/2.0")),
        ("ua", text("TestPhone/1.0")),
        ("au", Value::Null),
        ("ml", Value::Int(INVITE.len() as i64)),
        ("rb", text("v=0\n")),
        ("ct", text("<sip:alice@198.51.100.7:5062>")),
        ("cl", Value::Int(4)),
        ("cT", text("application/sdp")),
        ("br", Value::Null),
        ("bf", Value::Int(0)),
        ("bF", text("00000000")),
        ("mf", Value::Int(0)),
        ("mF", text("00000000")),
        ("null", Value::Null),
        ("rc", Value::Int(1)),
        ("retcode", Value::Int(1)),
        ("rP", text("udp")),
        ("oP", text("udp")),
        ("dd", Value::Null),
        ("rt", text("sip:carol@chicago.example.com?Replaces=abc")),
        ("ai", text("sip:+15550100@atlanta.example.org;user=phone")),
        ("di", Value::Null),
        ("mt", Value::Int(1)),
        ("mi", Value::Int(0)),
        ("pp", Value::Int(i64::from(std::process::id()))),
    ];
    for (n, v) in want {
        assert_eq!(&r(n), v, "${n}");
    }
    assert_eq!(r("mb"), Value::owned(INVITE.to_vec()));
    assert!(matches!(r("Ts"), Value::Int(n) if n > 1_600_000_000));
    assert!(matches!(r("Tf"), Value::Str(t) if t.len() == 24));
    let h = |a: &str, i: Option<&str>| read_pv(INVITE, "hdr", Some(a), i);
    assert_eq!(
        h("Call-ID", None),
        text("a84b4c76e66710@pc33.atlanta.example.org")
    );
    assert_eq!(
        h("i", None),
        text("a84b4c76e66710@pc33.atlanta.example.org")
    );
    assert_eq!(
        h("via", Some("1")),
        text("SIP/2.0/TCP proxy.example.net;branch=z9hG4bK-second;received=203.0.113.9")
    );
    assert_eq!(h("X-Foo", Some("-1")), text("two"));
    assert_eq!(h("X-Foo", Some("*")), text("one,two"));
    assert_eq!(h("X-Foo", Some("2")), Value::Null);
    assert_eq!(h("X-Bar", None), Value::Null);
}

#[test]
fn auth_pvs_on_a_register() {
    let r = |n: &str| read_pv(REGISTER, n, None, None);
    assert_eq!(r("au"), text("bob"));
    assert_eq!(r("aU"), text("bob@example.com"));
    assert_eq!(r("ad"), text("example.com"));
    assert_eq!(r("ar"), text("example.com"));
    assert_eq!(r("rU"), Value::Null);
    assert_eq!(r("rm"), text("REGISTER"));
    assert_eq!(r("tU"), text("bob"));
}

#[test]
fn pvs_on_a_reply() {
    let r = |n: &str| read_pv(REPLY, n, None, None);
    assert_eq!(r("rs"), Value::Int(486));
    assert_eq!(r("rr"), text("Busy Here"));
    assert_eq!(r("rm"), text("INVITE"));
    assert_eq!(r("ru"), Value::Null);
    assert_eq!(r("rU"), Value::Null);
    assert_eq!(r("tt"), text("a6c85cf"));
    assert_eq!(read(REPLY, |p| p.kw(Keyword::Status)), Value::Int(486));
}

#[test]
fn selects_on_an_invite() {
    let s = |path: &str| read(INVITE, |p| p.sel(path));
    assert_eq!(s("to.tag"), Value::Null);
    assert_eq!(s("from.tag"), text("1928301774"));
    assert_eq!(s("to.uri"), text("sip:bob@example.com"));
    assert_eq!(s("from.uri"), text("sip:alice@atlanta.example.org"));
    assert_eq!(
        s("from"),
        text("\"Alice Liddell\" <sip:alice@atlanta.example.org>;tag=1928301774")
    );
    assert_eq!(s("from.name"), text("Alice Liddell"));
    assert_eq!(s("ruri"), text("sip:bob@example.com"));
    assert_eq!(s("ruri.host"), text("example.com"));
    assert_eq!(s("ruri.user"), text("bob"));
    assert_eq!(s("ruri.port"), Value::Int(5060));
    assert_eq!(s("from.uri.host"), text("atlanta.example.org"));
    assert_eq!(s("to.uri.host"), text("example.com"));
    assert_eq!(s("to.uri.user"), text("bob"));
    assert_eq!(s("from.uri.user"), text("alice"));
    assert_eq!(s("msg.len"), Value::Int(INVITE.len() as i64));
    assert_eq!(s("via[0].branch"), text("z9hG4bK776asdhds"));
    assert_eq!(s("via.branch"), text("z9hG4bK776asdhds"));
    assert_eq!(s("via[1].received"), text("203.0.113.9"));
    assert_eq!(s("via[1].host"), text("proxy.example.net"));
    assert_eq!(s("via[1].transport"), text("TCP"));
    assert_eq!(s("via[-1].port"), Value::Int(5060));
    assert_eq!(s("via[5].branch"), Value::Null);
    assert_eq!(s("via[0].rport"), text(""));
    assert_eq!(s("method"), text("INVITE"));
    assert_eq!(
        s("call_id"),
        text("a84b4c76e66710@pc33.atlanta.example.org")
    );
    assert_eq!(s("cseq.num"), Value::Int(314159));
    assert_eq!(s("cseq.method"), text("INVITE"));
    assert_eq!(s("src.ip"), text("198.51.100.7"));
    assert_eq!(s("dst.port"), Value::Int(5060));
    assert_eq!(s("cfg_get.pstn.gw_ip"), text("192.0.2.245"));
    assert_eq!(s("cfg_get.pstn.nothing"), Value::Null);
    // $sel(...) through a Kamailio PV.
    assert_eq!(
        read_pv(INVITE, "sel", Some("cfg_get.pstn.gw_ip"), None),
        text("192.0.2.245")
    );
}

#[test]
fn cfg_vars_from_the_program() {
    let mut p = Program {
        strings: vec![
            "pstn".into(),
            "gw_ip".into(),
            "10.0.0.1".into(),
            "max_len".into(),
            "debug".into(),
        ],
        ..Program::default()
    };
    p.cfg_vars.push(CfgVarDef {
        group: 0,
        name: 1,
        value: ConstValue::Str(2),
        desc: None,
    });
    p.globals.push(ser_cfg::ir::Global {
        name: 3,
        value: ConstValue::Int(4096),
    });
    p.globals.push(ser_cfg::ir::Global {
        name: 4,
        value: ConstValue::Int(3),
    });
    let c = Config::from_program(&p);
    assert_eq!(c.cfg_var(b"pstn", b"gw_ip"), Some(text("10.0.0.1")));
    assert_eq!(c.max_len, 4096);
    assert_eq!(c.debug(), 3);
}

// ----- assignments -----

#[test]
fn avps_and_vars_write_and_read() {
    let p = P::new();
    let i80 = p.pv("avp", Some("i:80"), None);
    let i80_1 = p.pv("avp", Some("i:80"), Some("1"));
    let i80_all = p.pv("avp", Some("i:80"), Some("*"));
    let s_x = p.pv("avp", Some("s:x"), None);
    let plain_x = p.pv("avp", Some("x"), None);
    let ser_x = p.avp(None, "x", None);
    let t_did = p.avp(Some(AvpTrack::T), "did", None);
    let f_did = p.avp(Some(AvpTrack::F), "did", None);
    let tu_fwd = p.avp(Some(AvpTrack::Tu), "fwd", None);
    let t_fwd = p.avp(Some(AvpTrack::T), "fwd", None);
    let var = p.var("x");
    let out: Vec<u32> = (0..12).map(|i| p.var(&format!("o{i}"))).collect();
    let (a, b) = (p.s("a"), p.s("b"));
    p.main(vec![
        Op::PushInt(1),
        Op::Store(i80),
        Op::PushInt(2),
        Op::Store(i80),
        Op::Load(i80),
        Op::Store(out[0]), // newest: 2
        Op::Load(i80_1),
        Op::Store(out[1]), // older: 1
        Op::Load(i80_all),
        Op::Store(out[2]), // "2,1"
        Op::PushStr(a),
        Op::Store(s_x),
        Op::Load(plain_x),
        Op::Store(out[3]), // "a": s:x and x are the same name
        Op::Load(ser_x),
        Op::Store(out[4]), // "a": Kamailio $avp(x) is SER's $x
        Op::PushStr(b),
        Op::Store(t_did),
        Op::Load(f_did),
        Op::Store(out[5]), // Null: other track
        Op::Load(t_did),
        Op::Store(out[6]), // "b"
        Op::PushInt(9),
        Op::Store(tu_fwd),
        Op::Load(t_fwd),
        Op::Store(out[7]), // 9: the to track searches every class
        Op::PushInt(5),
        Op::StoreAll(i80), // := replaces both values
        Op::Load(i80_all),
        Op::Store(out[8]), // 5
        Op::PushNull,
        Op::Store(i80), // deletes
        Op::Load(i80),
        Op::Store(out[9]), // Null
        Op::PushStr(a),
        Op::Store(var),
        Op::PushNull,
        Op::Store(out[10]), // $var = $null stores 0
        Op::Load(var),
        Op::Store(out[11]),
        Op::ReturnDefault,
    ]);
    run_with(p, INVITE, |s, o, ctx| {
        assert_eq!(finished(o), (1, false), "{:?}", ctx.log.lines());
        let get = |i: usize| ctx.vars.get(s.var_slot(&format!("o{i}")).unwrap()).clone();
        assert_eq!(get(0), Value::Int(2));
        assert_eq!(get(1), Value::Int(1));
        assert_eq!(get(2), text("2,1"));
        assert_eq!(get(3), text("a"));
        assert_eq!(get(4), text("a"));
        assert_eq!(
            get(5),
            Value::Int(0),
            "Null (other track), stored in $var as 0"
        );
        assert_eq!(get(6), text("b"));
        assert_eq!(get(7), Value::Int(9));
        assert_eq!(get(8), Value::Int(5));
        assert_eq!(get(9), Value::Int(0), "deleted: Null, stored in $var as 0");
        assert_eq!(get(10), Value::Int(0));
        assert_eq!(get(11), text("a"));
    });
}

#[test]
fn assigning_the_request_uri_and_destination() {
    let p = P::new();
    let (ru, ru_user, rd, rp, du) = (
        p.pv("ru", None, None),
        p.pv("rU", None, None),
        p.pv("rd", None, None),
        p.pv("rp", None, None),
        p.pv("du", None, None),
    );
    let gw = p.sel("cfg_get.pstn.gw_ip");
    let (o1, o2, o3) = (p.var("o1"), p.var("o2"), p.var("o3"));
    let (dd, dp, dtp) = (
        p.pv("dd", None, None),
        p.pv("dp", None, None),
        p.pv("dP", None, None),
    );
    let (o4, o5, o6) = (p.var("o4"), p.var("o5"), p.var("o6"));
    p.main(vec![
        // $ru = "sip:" + $rU + "@" + $sel(cfg_get.pstn.gw_ip);
        Op::PushStr(p.s("sip:")),
        Op::Load(ru_user),
        Op::Bin(BinaryOp::Add),
        Op::PushStr(p.s("@")),
        Op::Bin(BinaryOp::Add),
        Op::Load(gw),
        Op::Bin(BinaryOp::Add),
        Op::Store(ru),
        Op::Load(ru),
        Op::Store(o1),
        Op::PushStr(p.s("carol")),
        Op::Store(ru_user),
        Op::PushInt(5070),
        Op::Store(rp),
        Op::Load(rd),
        Op::Store(o2),
        Op::PushStr(p.s("sip:10.0.0.1:5080;transport=tcp")),
        Op::Store(du),
        Op::Load(du),
        Op::Store(o3),
        Op::Load(dd),
        Op::Store(o4),
        Op::Load(dp),
        Op::Store(o5),
        Op::Load(dtp),
        Op::Store(o6),
        Op::ReturnDefault,
    ]);
    run_with(p, INVITE, |s, o, ctx| {
        assert_eq!(finished(o), (1, false), "{:?}", ctx.log.lines());
        let get = |n: &str| ctx.vars.get(s.var_slot(n).unwrap()).clone();
        assert_eq!(get("o4"), text("10.0.0.1"));
        assert_eq!(get("o5"), Value::Int(5080));
        assert_eq!(get("o6"), text("tcp"));
        assert_eq!(get("o1"), text("sip:bob@192.0.2.245"));
        assert_eq!(get("o2"), text("192.0.2.245"));
        assert_eq!(get("o3"), text("sip:10.0.0.1:5080;transport=tcp"));
        assert_eq!(
            ctx.new_uri.as_deref(),
            Some(&b"sip:carol@192.0.2.245:5070"[..])
        );
        assert_eq!(
            ctx.dst_uri.as_deref(),
            Some(&b"sip:10.0.0.1:5080;transport=tcp"[..])
        );
    });
    // An invalid Request-URI is a run-time error.
    let p = P::new();
    let ru = p.pv("ru", None, None);
    p.main(vec![
        Op::PushStr(p.s("sip:a b")),
        Op::Store(ru),
        Op::ReturnDefault,
    ]);
    run_with(p, INVITE, |_, o, ctx| {
        assert_eq!(finished(o), (E_SCRIPT, false));
        assert!(
            errors(ctx)[0].contains("assignment to $ru: URI with white space"),
            "{:?}",
            errors(ctx)
        );
        assert_eq!(ctx.new_uri, None);
    });
}

// ----- core actions -----

/// Runs one call on a message and returns the context checks.
fn call_on<R>(
    msg: &[u8],
    module: &str,
    name: &str,
    args: impl FnOnce(&P) -> Vec<Arg>,
    check: impl FnOnce(i32, &mut MsgCtx<'_, '_>) -> R,
) -> R {
    let p = P::new();
    let a = args(&p);
    let c = p.call(module, name, a);
    let rc = p.def(VarDef::RetCode);
    p.main(vec![Op::Call(c), Op::Pop, Op::Load(rc), Op::Return]);
    run_with(p, msg, |_, o, ctx| {
        let (ret, _) = finished(o);
        check(ret, ctx)
    })
}

fn new_uri_after(name: &str, arg: Arg) -> (i32, Option<String>) {
    call_on(
        INVITE,
        "core",
        name,
        |_| vec![arg],
        |ret, ctx| {
            (
                ret,
                ctx.new_uri
                    .as_ref()
                    .map(|u| String::from_utf8_lossy(u).into_owned()),
            )
        },
    )
}

#[test]
fn request_uri_actions() {
    let s = |p: &P, t: &str| p.str_arg(t);
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "rewriteuri",
            "sip:carol@chicago.example.com",
            Some("sip:carol@chicago.example.com"),
        ),
        ("seturi", "sip:x@y", Some("sip:x@y")),
        ("rewritehost", "192.0.2.245", Some("sip:bob@192.0.2.245")),
        ("sethost", "gw.example.net", Some("sip:bob@gw.example.net")),
        (
            "sethostport",
            "192.0.2.245:5070",
            Some("sip:bob@192.0.2.245:5070"),
        ),
        (
            "rewritehostport",
            "[2001:db8::1]:5062",
            Some("sip:bob@[2001:db8::1]:5062"),
        ),
        ("rewriteport", "5090", Some("sip:bob@example.com:5090")),
        ("setport", "", Some("sip:bob@example.com")),
        ("rewriteuser", "alice", Some("sip:alice@example.com")),
        ("setuser", "", Some("sip:example.com")),
        (
            "rewriteuserpass",
            "alice:pw",
            Some("sip:alice:pw@example.com"),
        ),
        ("setuserpass", "alice", Some("sip:alice@example.com")),
        ("prefix", "+1", Some("sip:+1bob@example.com")),
    ];
    for (name, arg, want) in cases {
        let p = P::new();
        let a = s(&p, arg);
        let c = p.call("core", name, vec![a]);
        p.main(vec![Op::Call(c), Op::Return]);
        run_with(p, INVITE, |_, o, ctx| {
            assert_eq!(
                finished(o),
                (1, false),
                "{name}({arg}): {:?}",
                ctx.log.lines()
            );
            assert_eq!(
                ctx.new_uri
                    .as_ref()
                    .map(|u| String::from_utf8_lossy(u).into_owned())
                    .as_deref(),
                *want,
                "{name}({arg})"
            );
        });
    }
    assert_eq!(
        new_uri_after("strip", Arg::Int(1)),
        (1, Some("sip:ob@example.com".into()))
    );
    assert_eq!(
        new_uri_after("strip_tail", Arg::Int(2)),
        (1, Some("sip:b@example.com".into()))
    );
    assert_eq!(new_uri_after("strip", Arg::Int(-1)), (-1, None));
    // Bad arguments: -1 and a log line naming the function.
    call_on(
        INVITE,
        "core",
        "rewriteport",
        |p| vec![p.str_arg("abc")],
        |ret, ctx| {
            assert_eq!(ret, -1);
            assert_eq!(ctx.new_uri, None);
            assert_eq!(
                errors(ctx),
                vec!["rewriteport(): bad port `abc`".to_string()]
            );
        },
    );
    call_on(
        INVITE,
        "core",
        "rewriteuri",
        |p| vec![p.str_arg("")],
        |ret, ctx| {
            assert_eq!(ret, -1);
            assert_eq!(errors(ctx), vec!["rewriteuri(): empty URI".to_string()]);
        },
    );
}

#[test]
fn uri_actions_compose_and_revert() {
    // strip(1); prefix("00"); rewritehost(gw); then $rU/uri read the new URI;
    // revert_uri() goes back.
    let p = P::new();
    let strip = p.call("core", "strip", vec![Arg::Int(1)]);
    let prefix = p.call("core", "prefix", vec![p.str_arg("00")]);
    let host = p.call("core", "rewritehost", vec![p.str_arg("gw")]);
    let revert = p.call("core", "revert_uri", vec![]);
    let (uri, ru_user, o1, o2, o3) = (
        p.kw(Keyword::Uri),
        p.pv("rU", None, None),
        p.var("o1"),
        p.var("o2"),
        p.var("o3"),
    );
    p.main(vec![
        Op::Call(strip),
        Op::Pop,
        Op::Call(prefix),
        Op::Pop,
        Op::Call(host),
        Op::Pop,
        Op::Load(uri),
        Op::Store(o1),
        Op::Load(ru_user),
        Op::Store(o2),
        Op::Call(revert),
        Op::Pop,
        Op::Load(uri),
        Op::Store(o3),
        Op::ReturnDefault,
    ]);
    run_with(p, INVITE, |s, o, ctx| {
        assert_eq!(finished(o), (1, false));
        let get = |n: &str| ctx.vars.get(s.var_slot(n).unwrap()).clone();
        assert_eq!(get("o1"), text("sip:00ob@gw"));
        assert_eq!(get("o2"), text("00ob"));
        assert_eq!(get("o3"), text("sip:bob@example.com"));
        assert_eq!(ctx.new_uri, None);
    });
}

#[test]
fn branches() {
    // rewriteuri(a); setbflag(6); append_branch(); append_branch("sip:c@d", "0.5");
    // setbflag(7, 2); isbflagset(7, 2); isbflagset(7)
    let p = P::new();
    let rw = p.call("core", "rewriteuri", vec![p.str_arg("sip:a@b")]);
    let sb = p.call("kex", "setbflag", vec![Arg::Flag(6)]);
    let ab0 = p.call("core", "append_branch", vec![]);
    let ab2 = p.call(
        "core",
        "append_branch",
        vec![p.str_arg("sip:c@d"), p.str_arg("0.5")],
    );
    let sb2 = p.call("core", "setbflag", vec![Arg::Flag(7), Arg::Int(2)]);
    let is2 = p.call("kex", "isbflagset", vec![Arg::Flag(7), Arg::Int(2)]);
    let is0 = p.call("kex", "isbflagset", vec![Arg::Flag(7)]);
    let bad = p.call("kex", "isbflagset", vec![Arg::Flag(7), Arg::Int(5)]);
    let (o1, o2, o3, br) = (
        p.var("o1"),
        p.var("o2"),
        p.var("o3"),
        p.pv("br", None, None),
    );
    p.main(vec![
        Op::Call(rw),
        Op::Pop,
        Op::Call(sb),
        Op::Pop,
        Op::Call(ab0),
        Op::Pop,
        Op::Call(ab2),
        Op::Pop,
        Op::Call(sb2),
        Op::Pop,
        Op::Call(is2),
        Op::Store(o1),
        Op::Call(is0),
        Op::Store(o2),
        Op::Call(bad),
        Op::Pop,
        Op::Load(br),
        Op::Store(o3),
        Op::ReturnDefault,
    ]);
    run_with(p, INVITE, |s, o, ctx| {
        assert_eq!(finished(o), (1, false));
        let get = |n: &str| ctx.vars.get(s.var_slot(n).unwrap()).clone();
        assert_eq!(get("o1"), Value::Int(1));
        assert_eq!(get("o2"), Value::Int(-1));
        assert_eq!(get("o3"), text("sip:a@b"));
        assert_eq!(ctx.bflags, 1 << 6);
        assert!(ctx.ruri_consumed);
        assert_eq!(
            ctx.branches,
            vec![
                Branch {
                    uri: b"sip:a@b".to_vec(),
                    dst_uri: None,
                    q: None,
                    flags: 1 << 6,
                    path: None,
                },
                Branch {
                    uri: b"sip:c@d".to_vec(),
                    dst_uri: None,
                    q: Some(500),
                    flags: (1 << 6) | (1 << 7),
                    path: None,
                },
            ]
        );
        assert_eq!(errors(ctx), vec!["isbflagset(): no branch 5".to_string()]);
    });
    // The branch bound.
    let p = P::new();
    let ab = p.call("core", "append_branch", vec![]);
    let n = p.var("n");
    p.main(vec![
        Op::Call(ab),   // 0
        Op::Store(n),   // 1
        Op::Load(n),    // 2
        Op::PushInt(0), // 3
        Op::Bin(BinaryOp::Gt),
        Op::JumpIfFalse(7),
        Op::Jump(0),
        Op::ReturnDefault,
    ]);
    run_with(p, INVITE, |s, o, ctx| {
        assert_eq!(finished(o), (1, false));
        assert_eq!(ctx.branches.len(), 11);
        assert_eq!(ctx.vars.get(s.var_slot("n").unwrap()), &Value::Int(-12));
    });
}

#[test]
fn flags_and_simple_functions() {
    let p = P::new();
    let set = p.call("core", "setflag", vec![Arg::Flag(3)]);
    let set63 = p.call("core", "setflag", vec![Arg::Int(63)]);
    let is3 = p.call("core", "isflagset", vec![Arg::Flag(3)]);
    let reset = p.call("core", "resetflag", vec![p.str_arg("3")]);
    let is3b = p.call("core", "isflagset", vec![Arg::Flag(3)]);
    let bad = p.call("core", "setflag", vec![Arg::Int(64)]);
    let fr = p.call("core", "force_rport", vec![]);
    let mf = p.pv("mf", None, None);
    let mfx = p.pv("mF", None, None);
    let (o1, o2, o3, o4, o5) = (
        p.var("o1"),
        p.var("o2"),
        p.var("o3"),
        p.var("o4"),
        p.var("o5"),
    );
    p.main(vec![
        Op::Call(set),
        Op::Pop,
        Op::Call(set63),
        Op::Pop,
        Op::Load(mfx),
        Op::Store(o4),
        Op::Call(is3),
        Op::Store(o1),
        Op::Call(reset),
        Op::Pop,
        Op::Call(is3b),
        Op::Store(o2),
        Op::Call(bad),
        Op::Store(o3),
        Op::Call(fr),
        Op::Pop,
        Op::Load(mf),
        Op::Store(o5),
        Op::ReturnDefault,
    ]);
    run_with(p, INVITE, |s, o, ctx| {
        assert_eq!(finished(o), (1, false));
        let get = |n: &str| ctx.vars.get(s.var_slot(n).unwrap()).clone();
        assert_eq!(get("o1"), Value::Int(1));
        assert_eq!(get("o2"), Value::Int(-1));
        assert_eq!(get("o3"), Value::Int(-1));
        assert_eq!(get("o4"), text("8000000000000008"));
        assert_eq!(
            get("o5"),
            Value::Int(i64::MAX),
            "bit 63 does not fit an i64"
        );
        assert_eq!(ctx.flags, 1 << 63);
        assert!(ctx.force_rport);
        assert_eq!(
            errors(ctx),
            vec!["setflag(): expects a flag number 0..63".to_string()]
        );
    });
    call_on(
        INVITE,
        "core",
        "len_gt",
        |_| vec![Arg::Int(100)],
        |r, _| assert_eq!(r, 1),
    );
    call_on(
        INVITE,
        "core",
        "len_gt",
        |_| vec![Arg::Int(100_000)],
        |r, _| assert_eq!(r, -1),
    );
    call_on(
        INVITE,
        "core",
        "strempty",
        |p| vec![Arg::Var(p.sel("to.tag"))],
        |r, _| assert_eq!(r, 1),
    );
    call_on(
        INVITE,
        "core",
        "strempty",
        |p| vec![Arg::Var(p.sel("from.tag"))],
        |r, _| assert_eq!(r, -1),
    );
    call_on(
        INVITE,
        "textops",
        "is_method",
        |p| vec![p.str_arg("REGISTER|invite")],
        |r, _| assert_eq!(r, 1),
    );
    call_on(
        INVITE,
        "textops",
        "is_method",
        |p| vec![p.str_arg("ACK|BYE")],
        |r, _| assert_eq!(r, -1),
    );
    call_on(
        REPLY,
        "textops",
        "is_method",
        |p| vec![p.str_arg("INVITE")],
        |r, _| assert_eq!(r, 1),
    );
    call_on(
        REGISTER,
        "textops",
        "is_method",
        |p| vec![p.str_arg("REGISTER")],
        |r, _| assert_eq!(r, 1),
    );
}

#[test]
fn forward_records_an_action() {
    call_on(
        INVITE,
        "core",
        "forward_tcp",
        |p| vec![p.str_arg("gw")],
        |_, ctx| {
            assert_eq!(
                ctx.actions,
                vec![Action::Forward {
                    host: Some(b"gw".to_vec()),
                    port: None,
                    proto: Some(Proto::Tcp)
                }]
            );
        },
    );
    call_on(
        INVITE,
        "core",
        "forward",
        |_| vec![],
        |r, ctx| {
            assert_eq!(r, 1);
            assert_eq!(
                ctx.actions,
                vec![Action::Forward {
                    host: None,
                    port: None,
                    proto: None
                }]
            );
        },
    );
    call_on(
        INVITE,
        "core",
        "forward",
        |p| {
            vec![
                Arg::Var(p.kw(Keyword::UriHost)),
                Arg::Var(p.kw(Keyword::UriPort)),
            ]
        },
        |r, ctx| {
            assert_eq!(r, 1);
            assert_eq!(
                ctx.actions,
                vec![Action::Forward {
                    host: Some(b"example.com".to_vec()),
                    port: Some(5060),
                    proto: None
                }]
            );
        },
    );
    call_on(
        INVITE,
        "core",
        "forward",
        |p| vec![p.str_arg("192.0.2.245"), Arg::Int(5070)],
        |_, ctx| {
            assert_eq!(
                ctx.actions,
                vec![Action::Forward {
                    host: Some(b"192.0.2.245".to_vec()),
                    port: Some(5070),
                    proto: None
                }]
            );
        },
    );
    call_on(
        INVITE,
        "core",
        "forward",
        |p| vec![p.str_arg("h"), Arg::Int(70000)],
        |r, ctx| {
            assert_eq!(r, -1);
            assert!(ctx.actions.is_empty());
        },
    );
}

#[test]
fn logging() {
    let p = P::new();
    let l1 = p.call("core", "log", vec![p.str_arg("plain\n")]);
    let l2 = p.call("core", "log", vec![Arg::Int(1), p.str_arg("notice")]);
    let (si, sp, nope) = (
        p.pv("si", None, None),
        p.pv("sp", None, None),
        p.pv("avp", Some("nope"), None),
    );
    let f = p.fmt(&[
        F::L("from "),
        F::V(si),
        F::L(":"),
        F::V(sp),
        F::L(" avp="),
        F::V(nope),
        F::L("\n"),
    ]);
    let x1 = p.call("xlog", "xlog", vec![Arg::Format(f)]);
    let x2 = p.call("xlog", "xlog", vec![p.str_arg("L_INFO"), Arg::Format(f)]);
    let x3 = p.call("xlog", "xdbg", vec![Arg::Format(f)]);
    let bad = p.call("xlog", "xlog", vec![p.str_arg("L_LOUD"), Arg::Format(f)]);
    p.main(vec![
        Op::Call(l1),
        Op::Pop,
        Op::Call(l2),
        Op::Pop,
        Op::Call(x1),
        Op::Pop,
        Op::Call(x2),
        Op::Pop,
        Op::Call(x3),
        Op::Pop,
        Op::Call(bad),
        Op::Pop,
        Op::ReturnDefault,
    ]);
    run_with(p, INVITE, |_, o, ctx| {
        assert_eq!(finished(o), (1, false));
        let lines: Vec<(i32, &str)> = ctx
            .log
            .lines()
            .iter()
            .map(|l| (l.level, l.text.as_str()))
            .collect();
        let line = "from 198.51.100.7:5062 avp=<null>";
        assert_eq!(
            lines,
            vec![
                (4, "plain"),
                (level::L_NOTICE, "notice"),
                (level::L_ERR, line),
                (level::L_INFO, line),
                (level::L_DBG, line),
                (level::L_ERR, "xlog(): bad log level `L_LOUD`"),
            ]
        );
    });
}

#[test]
fn functions_can_assign_variables() {
    let p = P::new();
    let v = p.var("v");
    let ru = p.pv("ru", None, None);
    let c = p.call("test", "set", vec![Arg::Var(v), Arg::Int(12)]);
    let bad = p.call(
        "test",
        "set",
        vec![Arg::Var(p.pv("si", None, None)), Arg::Int(1)],
    );
    let c2 = p.call(
        "test",
        "set",
        vec![Arg::Var(ru), p.str_arg("sip:z@example.org")],
    );
    p.main(vec![
        Op::Call(c),
        Op::Pop,
        Op::Call(bad),
        Op::Pop,
        Op::Call(c2),
        Op::Return,
    ]);
    run_with(p, INVITE, |s, o, ctx| {
        assert_eq!(finished(o), (1, false));
        assert_eq!(ctx.vars.get(s.var_slot("v").unwrap()), &Value::Int(12));
        assert_eq!(ctx.rc, 1);
        assert_eq!(ctx.new_uri.as_deref(), Some(&b"sip:z@example.org"[..]));
    });
}

// ----- myself -----

fn myself(value: &str) -> bool {
    matches!(
        eval(|p| vec![Op::PushStr(p.s(value)), Op::Myself]),
        Value::Int(1)
    )
}

#[test]
fn myself_with_configured_addresses() {
    // config(): 192.0.2.13:5060, [2001:db8::13]:5060, example.com (any
    // port), sip.example.com:5080.
    for yes in [
        "sip:bob@192.0.2.13",
        "sip:bob@192.0.2.13:5060",
        "sip:[2001:db8::13]",
        "sip:alice@[2001:DB8:0::13]:5060;transport=udp",
        "sip:example.com",
        "sip:x@EXAMPLE.com:7777",
        "sips:example.com",
        "sip:sip.example.com:5080",
        "192.0.2.13",
        "192.0.2.13:5060",
        "[2001:db8::13]",
        "2001:db8::13",
        "example.com",
        "Example.Com:5099",
        "sip.example.com",
    ] {
        assert!(myself(yes), "{yes}");
    }
    for no in [
        "sip:bob@192.0.2.13:5070",
        "sips:bob@192.0.2.13",
        "sip:sip.example.com",
        "sip:bob@192.0.2.14",
        "sip:[2001:db8::14]",
        "tel:+15550100",
        "sip.example.com:5060",
        "www.example.com",
        "",
        "not a host",
    ] {
        assert!(!myself(no), "{no}");
    }
    // uri and from_uri forms.
    let uri_is_me = eval(|p| vec![Op::Load(p.kw(Keyword::Uri)), Op::Myself]);
    assert_eq!(uri_is_me, Value::Int(1));
    let from_is_me = eval(|p| vec![Op::Load(p.kw(Keyword::FromUri)), Op::Myself]);
    assert_eq!(from_is_me, Value::Int(0));
    let reg = eval_on(REGISTER, |p| {
        vec![Op::Load(p.kw(Keyword::FromUri)), Op::Myself]
    });
    assert_eq!(reg, Value::Int(1));
    // After a rewrite the new URI is checked.
    let p = P::new();
    let rw = p.call("core", "rewritehost", vec![p.str_arg("gw.example.net")]);
    let o = p.var("o");
    let uri = p.kw(Keyword::Uri);
    p.main(vec![
        Op::Call(rw),
        Op::Pop,
        Op::Load(uri),
        Op::Myself,
        Op::Store(o),
    ]);
    run_with(p, INVITE, |s, _, ctx| {
        assert_eq!(ctx.vars.get(s.var_slot("o").unwrap()), &Value::Int(0));
    });
}

#[test]
fn is_implemented_answers_from_the_builtins() {
    assert!(is_implemented("core", "rewritehost"));
    assert!(is_implemented("core", "sethost"));
    assert!(is_implemented("kex", "setbflag"));
    assert!(is_implemented("core", "setbflag"));
    assert!(is_implemented("cfgutils", "usleep"));
    assert!(is_implemented("xlog", "xlog"));
    assert!(is_implemented("tm", "t_relay"));
    assert!(!is_implemented("core", "t_relay"));
    assert!(!is_implemented("tm", "t_replicate"));
    let r = Registry::builtin();
    for (m, n, _) in registry::BUILTINS {
        assert!(r.contains(m, n));
    }
    assert_eq!(r.len(), registry::BUILTINS.len());
}
