//! The policy functions through the real VM: configs compiled from ser.cfg
//! text (Kamailio and SER 2.x dialects), tables in a real SQLite file read
//! through [`super::setup`] with a real pool, messages run by the script.

use std::net::SocketAddr;
use std::sync::Arc;

use ser_cfg::ir::Program;

use crate::script::{Config, LogSink, MsgCtx, Outcome, Proto, Registry, Script};
use crate::sip::SipMsg;
use crate::store::{DbUrl, Pool, PoolConfig, tables};

/// A database file in its own directory, removed on drop.
struct TempDb {
    dir: std::path::PathBuf,
    url: DbUrl,
}

impl TempDb {
    fn new(what: &str) -> TempDb {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ser-policy-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let url = DbUrl::parse(&format!("sqlite://{}/ser.db", dir.display())).unwrap();
        TempDb { dir, url }
    }

    fn pool(&self) -> Arc<Pool> {
        Arc::new(Pool::start(self.url.clone(), PoolConfig::default()).unwrap())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Run {
    script: Script,
    config: Config,
}

struct Out {
    ret: i32,
    logs: Vec<String>,
    /// How many AVPs the message held at the end.
    ctx_avps: usize,
}

fn compile(text: &str) -> Program {
    let parsed = ser_cfg::parse_str("test.cfg", text, &[]).unwrap();
    ser_cfg::compile::compile(&parsed).unwrap()
}

impl Run {
    /// `text` with the policy modules set up on `pool` (or without a
    /// database when `None`).
    fn new(text: &str, pool: Option<Arc<Pool>>) -> Run {
        let program = compile(text);
        let mut config = Config::from_program(&program);
        config.policy = super::setup(&program, &|_| pool.clone()).unwrap();
        let script = Script::load(program, &Registry::builtin()).unwrap();
        Run { script, config }
    }

    fn run(&self, msg: &str, src: &str, proto: Proto) -> Out {
        let m = SipMsg::parse(msg.as_bytes()).unwrap();
        let src: SocketAddr = src.parse().unwrap();
        let dst: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let mut ctx = MsgCtx::new(&m, &self.config, src, dst, proto);
        ctx.log = LogSink::Capture(Vec::new());
        let ret = match self.script.run_main(&mut ctx) {
            Outcome::Finished { ret, .. } => ret,
            Outcome::Suspended(_) => panic!("suspended"),
        };
        Out {
            ret,
            logs: ctx.log.lines().iter().map(|l| l.text.clone()).collect(),
            ctx_avps: ctx.avps.len(),
        }
    }
}

fn invite(ruri: &str, from: &str) -> String {
    format!(
        "INVITE {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-1\r\n\
         Max-Forwards: 70\r\n\
         From: \"A\" <{from}>;tag=f1\r\n\
         To: <{ruri}>\r\n\
         Call-ID: c1@x\r\n\
         CSeq: 1 INVITE\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn add_domains(pool: &Pool, domains: &[(&'static str, Option<&'static str>)]) {
    let d = domains.to_vec();
    pool.run_blocking(move |db| {
        for (name, did) in d {
            tables::domain_add(db, name, did, 1)?;
        }
        Ok(())
    })
    .unwrap();
}

const K_DOMAIN: &str = "#!KAMAILIO\nloadmodule \"domain.so\"\nloadmodule \"xlog.so\"\n\
    modparam(\"domain\", \"db_url\", \"sqlite:///unused\")\n";

#[test]
fn kamailio_domain_functions() {
    let db = TempDb::new("k");
    let pool = db.pool();
    add_domains(
        &pool,
        &[("example.com", None), ("voice.example.net", Some("v1"))],
    );
    // `r=N` says which checks held: 1 from, 2 R-URI, 4
    // is_domain_local($rd), 8 lookup_domain with the did AVP set.
    let r = Run::new(
        &format!(
            "{K_DOMAIN}route {{\n\
             $var(r) = 0;\n\
             if (is_from_local()) $var(r) = $var(r) + 1;\n\
             if (is_uri_host_local()) $var(r) = $var(r) + 2;\n\
             if (is_domain_local(\"$rd\")) $var(r) = $var(r) + 4;\n\
             if (lookup_domain(\"$rd\", \"to_\") && $avp(to_did) != $null) {{\n\
                 xlog(\"L_INFO\", \"did=$avp(to_did)\\n\");\n\
                 $var(r) = $var(r) + 8;\n\
             }}\n\
             xlog(\"L_INFO\", \"r=$var(r)\\n\");\n}}\n"
        ),
        Some(pool.clone()),
    );
    let o = r.run(
        &invite("sip:bob@Voice.Example.NET.", "sip:alice@EXAMPLE.com"),
        "203.0.113.5:5060",
        Proto::Udp,
    );
    assert!(o.logs.iter().any(|l| l == "r=15"), "{:?}", o.logs);
    assert!(o.logs.iter().any(|l| l == "did=v1"), "{:?}", o.logs);
    let o = r.run(
        &invite("sip:bob@example.com", "sip:alice@elsewhere.org"),
        "203.0.113.5:5060",
        Proto::Udp,
    );
    assert!(o.logs.iter().any(|l| l == "r=14"), "{:?}", o.logs);
    assert!(
        o.logs.iter().any(|l| l == "did=example.com"),
        "a NULL did is the domain: {:?}",
        o.logs
    );
    let o = r.run(
        &invite("sip:bob@192.0.2.1", "sip:alice@elsewhere.org"),
        "203.0.113.5:5060",
        Proto::Udp,
    );
    assert!(
        o.logs.iter().any(|l| l == "r=0"),
        "myself is not local unless in the table: {:?}",
        o.logs
    );
    assert_eq!(o.ctx_avps, 0);
}

#[test]
fn ser2_lookup_domain_sets_the_track_did() {
    let db = TempDb::new("ser2");
    let pool = db.pool();
    add_domains(
        &pool,
        &[("iptel.org", Some("d-iptel")), ("local.test", None)],
    );
    let cfg = "loadmodule \"domain\"\nloadmodule \"sl\"\nloadmodule \"xlog\"\n\
        modparam(\"domain\", \"db_url\", \"sqlite:///unused\")\n\
        route {\n\
            lookup_domain(\"$fd\", \"@from.uri.host\");\n\
            lookup_domain(\"$td\", \"@ruri.host\");\n\
            if (strempty($t.did) && strempty($f.did)) { return(1); }\n\
            if (strempty($f.did)) { xlog(\"L_INFO\", \"to %$td.did\\n\"); return(2); }\n\
            if (strempty($t.did)) { xlog(\"L_INFO\", \"from %$fd.did\\n\"); return(3); }\n\
            xlog(\"L_INFO\", \"both %$f.did %$t.did\\n\");\n\
            if (is_local(\"@ruri.host\")) { return(5); }\n\
            return(4);\n\
        }\n";
    let r = Run::new(cfg, Some(pool));
    assert_eq!(r.script.program().dialect, ser_cfg::Dialect::Ser2);
    let src = "203.0.113.5:5060";
    let o = r.run(
        &invite("sip:b@elsewhere.org", "sip:a@nowhere.net"),
        src,
        Proto::Udp,
    );
    assert_eq!(o.ret, 1, "{:?}", o.logs);
    let o = r.run(
        &invite("sip:b@IPTEL.org", "sip:a@nowhere.net"),
        src,
        Proto::Udp,
    );
    assert_eq!(o.ret, 2, "{:?}", o.logs);
    assert!(o.logs.iter().any(|l| l == "to d-iptel"), "{:?}", o.logs);
    let o = r.run(
        &invite("sip:b@elsewhere.org", "sip:a@local.test"),
        src,
        Proto::Udp,
    );
    assert_eq!(o.ret, 3, "{:?}", o.logs);
    assert!(
        o.logs.iter().any(|l| l == "from local.test"),
        "{:?}",
        o.logs
    );
    let o = r.run(
        &invite("sip:b@iptel.org", "sip:a@local.test"),
        src,
        Proto::Udp,
    );
    assert_eq!(o.ret, 5, "{:?}", o.logs);
    assert!(
        o.logs.iter().any(|l| l == "both local.test d-iptel"),
        "{:?}",
        o.logs
    );
}

#[test]
fn without_a_database_functions_are_false_and_log_once() {
    let r = Run::new(
        "#!KAMAILIO\nloadmodule \"domain.so\"\nloadmodule \"permissions.so\"\n\
         route {\n if (is_from_local() || is_uri_host_local() || allow_trusted()) { return(1); }\n\
         return(2);\n}\n",
        None,
    );
    let msg = invite("sip:b@example.com", "sip:a@example.com");
    let o = r.run(&msg, "203.0.113.5:5060", Proto::Udp);
    assert_eq!(o.ret, 2);
    let errors: Vec<_> = o
        .logs
        .iter()
        .filter(|l| l.contains("no database"))
        .collect();
    assert_eq!(errors.len(), 2, "{:?}", o.logs);
    let o = r.run(&msg, "203.0.113.5:5060", Proto::Udp);
    assert_eq!(o.ret, 2);
    assert!(o.logs.is_empty(), "logged once only: {:?}", o.logs);
}

#[test]
fn allow_trusted_forms_and_peer_tag() {
    let db = TempDb::new("trusted");
    let pool = db.pool();
    pool.run_blocking(|db| {
        let row =
            |ip: &str, proto: &str, from: Option<&str>, tag: &str, prio: i64| tables::TrustedRow {
                id: 0,
                src_ip: ip.into(),
                proto: proto.into(),
                from_pattern: from.map(Into::into),
                ruri_pattern: None,
                tag: Some(tag.into()),
                priority: prio,
            };
        tables::trusted_add(
            db,
            &row("192.0.2.10", "udp", Some("^sip:.*@gw\\.example$"), "gw", 0),
        )?;
        tables::trusted_add(db, &row("192.0.2.11", "tcp", None, "tcp-only", 0))?;
        tables::trusted_add(db, &row("192.0.2.12", "any", Some("(bad"), "bad", 0))?;
        tables::trusted_add(db, &row("192.0.2.13", "any", None, "low", 1))?;
        tables::trusted_add(db, &row("192.0.2.13", "udp", None, "high", 9))
    })
    .unwrap();
    let r = Run::new(
        "#!KAMAILIO\nloadmodule \"permissions.so\"\nloadmodule \"xlog.so\"\n\
         modparam(\"permissions\", \"db_url\", \"sqlite:///unused\")\n\
         modparam(\"permissions\", \"peer_tag_avp\", \"$avp(s:peer)\")\n\
         route {\n\
           if ($rU == \"any\") { if (allow_trusted(\"$si\", \"any\")) return(3); return(-3); }\n\
           if ($rU == \"proto\") { if (allow_trusted(\"$si\", \"$proto\")) return(4); return(-4); }\n\
           if ($rU == \"fixed\") { if (allow_trusted(\"192.0.2.10\", \"udp\")) return(5); return(-5); }\n\
           if (allow_trusted()) { xlog(\"L_INFO\", \"tag=$avp(s:peer)\\n\"); return(1); }\n\
           return(2);\n\
         }\n",
        Some(pool),
    );
    let gw = "sip:+4930@gw.example";
    let t = |user: &str, from: &str, src: &str, proto: Proto| {
        r.run(
            &invite(&format!("sip:{user}@example.com"), from),
            src,
            proto,
        )
    };
    let o = t("x", gw, "192.0.2.10:5060", Proto::Udp);
    assert_eq!(o.ret, 1, "{:?}", o.logs);
    assert!(o.logs.iter().any(|l| l == "tag=gw"), "{:?}", o.logs);
    assert_eq!(
        t("x", "sip:a@evil.example", "192.0.2.10:5060", Proto::Udp).ret,
        2
    );
    assert_eq!(t("x", gw, "192.0.2.10:5060", Proto::Tcp).ret, 2);
    assert_eq!(t("x", gw, "192.0.2.99:5060", Proto::Udp).ret, 2);
    assert_eq!(t("x", gw, "192.0.2.11:5060", Proto::Udp).ret, 2);
    assert_eq!(t("x", gw, "192.0.2.11:5060", Proto::Tcp).ret, 1);
    assert_eq!(t("any", gw, "192.0.2.11:5060", Proto::Udp).ret, 3);
    assert_eq!(t("proto", gw, "192.0.2.11:5060", Proto::Udp).ret, -4);
    assert_eq!(t("proto", gw, "192.0.2.11:5060", Proto::Tcp).ret, 4);
    assert_eq!(t("fixed", gw, "203.0.113.9:5060", Proto::Tcp).ret, 5);
    // The row with a bad regex was skipped at load: never trusted.
    assert_eq!(t("x", gw, "192.0.2.12:5060", Proto::Udp).ret, 2);
    // Highest priority first.
    let o = t("x", gw, "192.0.2.13:5060", Proto::Udp);
    assert!(o.logs.iter().any(|l| l == "tag=high"), "{:?}", o.logs);
    let o = t("x", gw, "192.0.2.13:5060", Proto::Tcp);
    assert!(o.logs.iter().any(|l| l == "tag=low"), "{:?}", o.logs);
}

#[test]
fn reload_replaces_the_table_for_the_next_message() {
    let db = TempDb::new("reload");
    let pool = db.pool();
    let r = Run::new(
        &format!("{K_DOMAIN}route {{ if (is_uri_host_local()) return(1); return(2); }}\n"),
        Some(pool.clone()),
    );
    let msg = invite("sip:b@new.example", "sip:a@x");
    assert_eq!(r.run(&msg, "203.0.113.5:5060", Proto::Udp).ret, 2);
    add_domains(&pool, &[("new.example", None)]);
    // Not before the reload.
    assert_eq!(r.run(&msg, "203.0.113.5:5060", Proto::Udp).ret, 2);
    let d = r.config.policy.domains.as_ref().unwrap();
    assert_eq!(d.reload().unwrap().loaded, 1);
    assert_eq!(r.run(&msg, "203.0.113.5:5060", Proto::Udp).ret, 1);
}

#[test]
fn parameters() {
    let p = compile(
        "#!KAMAILIO\nloadmodule \"domain.so\"\nloadmodule \"permissions.so\"\n\
         modparam(\"domain\", \"db_mode\", 0)\n\
         modparam(\"domain\", \"domain_table\", \"vdomains\")\n\
         modparam(\"domain\", \"register_myself\", 1)\n\
         modparam(\"permissions\", \"trusted_table\", \"peers\")\n\
         modparam(\"permissions\", \"reload_delta\", 2)\n\
         modparam(\"permissions\", \"peer_tag_mode\", 1)\n\
         modparam(\"permissions\", \"address_table\", \"address\")\n\
         route { drop; }\n",
    );
    let (d, warnings) = super::DomainParams::from_program(&p).unwrap();
    assert_eq!(d.table, "\"vdomains\"");
    assert_eq!(d.domain_col, "\"domain\"");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("db_mode 0"));
    assert!(warnings[1].contains("register_myself"));
    let (t, warnings) = super::TrustedParams::from_program(&p).unwrap();
    assert_eq!(t.table, "\"peers\"");
    assert_eq!(t.reload_delta, std::time::Duration::from_secs(2));
    assert!(t.peer_tag_mode);
    assert_eq!(t.address.table, "\"address\"");
    assert!(warnings.is_empty(), "{warnings:?}");
    let bad = compile(
        "#!KAMAILIO\nloadmodule \"domain.so\"\n\
         modparam(\"domain\", \"domain_table\", \"x; drop table y\")\nroute { drop; }\n",
    );
    assert!(super::DomainParams::from_program(&bad).is_err());
    // A table that is not there stops the start with the reason.
    let db = TempDb::new("missing");
    let pool = db.pool();
    let p = compile(
        "#!KAMAILIO\nloadmodule \"domain.so\"\n\
         modparam(\"domain\", \"domain_table\", \"nosuch\")\nroute { drop; }\n",
    );
    let e = super::setup(&p, &|_| Some(pool.clone())).unwrap_err();
    assert!(e.contains("cannot read the domain table"), "{e}");
}
