//! avpops through the real VM: SER 0.9 configs compiled from text, real
//! parsed messages; the helpers (names, checks, fast match) directly.

use super::*;
use crate::script::{Config, testkit};

const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
    Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-1\r\n\
    Max-Forwards: 70\r\n\
    From: \"A\" <sip:alice@atlanta.example>;tag=f1\r\n\
    To: <sip:bob@example.com>\r\n\
    Call-ID: c1@x\r\n\
    CSeq: 1 INVITE\r\n\
    Content-Length: 0\r\n\r\n";

/// Runs `body` as the main route of a SER 0.9 config; the return code,
/// the new R-URI and the AVP count.
fn run(body: &str) -> (i32, Option<String>, usize) {
    let (ret, uri, avps, _, _) = run_full(body);
    (ret, uri, avps)
}

/// [`run`], with the number of message edits and the log lines.
fn run_full(body: &str) -> (i32, Option<String>, usize, usize, Vec<String>) {
    let text = format!("loadmodule \"avpops.so\"\nroute {{\n{body}\n}}\n");
    testkit::run(
        &text,
        INVITE,
        |_, _| {},
        |ran, ctx, _| {
            let uri = ctx
                .new_uri
                .as_ref()
                .map(|u| String::from_utf8_lossy(u).into_owned());
            (
                ran.ret,
                uri,
                ctx.avps.len(),
                ctx.edits.len(),
                testkit::logs(ctx),
            )
        },
    )
}

#[test]
fn write_check_delete() {
    // Each check that holds adds its bit to the return value.
    let (ret, _, n) = run("avp_write(\"i:45\", \"inv_timeout\");\n\
         avp_write(\"$ruri/username\", \"s:u\");\n\
         avp_write(\"$from\", \"s:f\");\n\
         avp_write(\"$src_ip\", \"i:7\");\n\
         avp_write(\"s:Hello\", \"s:h\");\n\
         if (avp_check(\"inv_timeout\", \"eq/i:45\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"s:u\", \"eq/BOB/i\")) { avp_write(\"x\", \"bits\"); };\n\
         if (!avp_check(\"s:u\", \"eq/BOB\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"s:f\", \"eq/$from\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"i:7\", \"eq/203.0.113.5\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"s:h\", \"re/^hel+o$/i\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"s:f\", \"fm/sip:*@atlanta.*\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"inv_timeout\", \"gt/i:9\")) { avp_write(\"x\", \"bits\"); };\n\
         if (avp_check(\"inv_timeout\", \"and/i:4\")) { avp_write(\"x\", \"bits\"); };\n\
         if (!avp_check(\"nothing\", \"eq/x\")) { avp_write(\"x\", \"bits\"); };\n\
         avp_delete(\"s:f\");\n\
         if (!avp_check(\"s:f\", \"fm/*\")) { avp_write(\"x\", \"bits\"); };\n\
         return(1);");
    // 5 written, 11 checks held, one deleted.
    assert_eq!(n, 5 + 11 - 1);
    assert_eq!(ret, 1);
}

#[test]
fn pushto_ruri_and_parts() {
    let (_, uri, _) = run("avp_write(\"sip:carol@chicago.example\", \"s:fwd\");\n\
         avp_pushto(\"$ruri\", \"s:fwd\");");
    assert_eq!(uri.as_deref(), Some("sip:carol@chicago.example"));
    let (_, uri, _) = run("avp_write(\"dave\", \"s:u\");\n\
         avp_write(\"host.example\", \"s:h\");\n\
         avp_pushto(\"$ruri/username\", \"s:u\");\n\
         avp_pushto(\"$ruri/domain\", \"s:h\");");
    assert_eq!(uri.as_deref(), Some("sip:dave@host.example"));
    // A missing AVP: false, the URI unchanged.
    let (ret, uri, _) = run("if (avp_pushto(\"$ruri\", \"s:none\")) { return(1); }; return(-2);");
    assert_eq!((ret, uri), (-2, None));
}

#[test]
fn helpers() {
    assert_eq!(parse_name(b"i:45"), Some(AvpName::Int(45)));
    assert_eq!(parse_name(b"s:x"), Some(AvpName::Str(b"x"[..].into())));
    assert_eq!(parse_name(b"x"), Some(AvpName::Str(b"x"[..].into())));
    assert_eq!(parse_name(b"$avp(i:45)"), Some(AvpName::Int(45)));
    assert_eq!(parse_name(b"$avp(s:x"), None);
    assert_eq!(parse_name(b"i:zz"), None);
    assert_eq!(parse_name(b"s:"), None);
    assert_eq!(
        parse_check("eq/$ruri/i"),
        Some((Op::Eq, "$ruri", true, false))
    );
    assert_eq!(parse_check("re/a/b/g"), Some((Op::Re, "a/b", false, true)));
    assert_eq!(parse_check("re/a/b"), Some((Op::Re, "a/b", false, false)));
    assert_eq!(parse_check("zz/1"), None);
    assert!(fast_match(b"*@ex?mple.*", b"bob@example.com", false));
    assert!(!fast_match(b"*@ex?mple", b"bob@example.com", false));
    assert!(fast_match(b"BOB*", b"bob@x", true));
    assert!(fast_match(b"", b"", false));
    assert!(!fast_match(b"", b"a", false));
    assert_eq!(
        parse_uri_source("$ruri/username"),
        Some((UriSrc::Ruri, Part::User))
    );
    assert_eq!(parse_uri_source("$to"), Some((UriSrc::To, Part::Uri)));
    assert_eq!(parse_uri_source("$to/nope"), None);
}

#[test]
fn pushto_header() {
    let (ret, uri, _, edits, _) = run_full(
        "avp_write(\"$from/username\", \"s:who\");\n\
         if (avp_pushto(\"$X-Caller\", \"s:who\")) { return(3); }; return(-3);",
    );
    assert_eq!((ret, uri, edits), (3, None, 1));
    // A value with a line break is refused.
    let (ret, _, _, edits, logs) = run_full(
        "avp_write(\"$src_ip\", \"s:ip\");\n\
         if (avp_pushto(\"$Bad Name\", \"s:ip\")) { return(3); }; return(-3);",
    );
    assert_eq!((ret, edits), (-3, 0));
    assert!(logs.iter().any(|l| l.contains("bad header")), "{logs:?}");
}

#[test]
fn db_load_without_a_database_is_false() {
    let (ret, _, n, _, logs) =
        run_full("if (avp_db_load(\"$ruri/username\", \"s:callfwd\")) { return(1); }; return(-4);");
    assert_eq!((ret, n), (-4, 0));
    assert!(logs.iter().any(|l| l.contains("no database")), "{logs:?}");
    let (ret, _, _, _, logs) =
        run_full("if (avp_db_load(\"$ruri/domain\", \"s:callfwd\")) { return(1); }; return(-4);");
    assert_eq!(ret, -4);
    assert!(logs.iter().any(|l| l.contains("no database")), "{logs:?}");
}

/// Runs `body` with avpops on a real SQLite pool, carrying each offloaded
/// query out and resuming the script with its answer as the shard does;
/// the return code, how many suspensions, and the AVP values by name.
fn run_db(body: &str, db: Arc<AvpDb>) -> (i32, usize, Vec<String>) {
    let text = format!("loadmodule \"avpops.so\"\nroute {{\n{body}\n}}\n");
    let setup = |c: &mut Config, _: &ser_cfg::ir::Program| c.avpops = Some(db);
    testkit::run(&text, INVITE, setup, |ran, ctx, _| {
        let (ret, suspensions) = (ran.ret, ran.suspensions);
        let mut avps: Vec<String> = ["callfwd", "fwdbusy", "limit"]
            .iter()
            .flat_map(|n| {
                let s = sel(AvpName::Str(n.as_bytes().into()));
                ctx.avps
                    .values(&s)
                    .map(|v| match v {
                        Value::Int(i) => format!("{n}=Int({i})"),
                        other => format!(
                            "{n}=Str({:?})",
                            String::from_utf8_lossy(&other.clone().into_bytes())
                        ),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        avps.sort();
        (ret, suspensions, avps)
    })
}

#[test]
fn db_load_through_a_real_pool() {
    use crate::store::{DbUrl, PoolConfig};
    let dir = std::env::temp_dir().join(format!("ser-avpops-unit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = DbUrl::parse(&format!("sqlite://{}/ser.db", dir.display())).unwrap();
    let pool = Arc::new(Pool::start(url, PoolConfig::default()).unwrap());
    let row = |attr: &str, ty: i64, value: &str, domain: &str| tables::Preference {
        uuid: String::new(),
        username: "bob".into(),
        domain: domain.into(),
        attribute: attr.into(),
        type_: ty,
        value: value.into(),
        last_modified: 1,
    };
    let rows = vec![
        row("callfwd", 0, "sip:carol@example.net", "example.com"),
        row("limit", 1, "12", "example.com"),
        row("fwdbusy", 0, "sip:vm@example.com", "other.example"),
    ];
    pool.run_blocking(move |d| {
        for r in &rows {
            tables::preference_add(d, r)?;
        }
        Ok(())
    })
    .unwrap();
    let db = |use_domain| {
        Arc::new(AvpDb {
            pool: pool.clone(),
            use_domain,
        })
    };
    // One attribute, by user alone.
    let (ret, n, avps) = run_db(
        "if (avp_db_load(\"$ruri/username\", \"s:callfwd\")) { return(1); }; return(-1);",
        db(false),
    );
    assert_eq!((ret, n), (1, 1));
    assert_eq!(avps, vec!["callfwd=Str(\"sip:carol@example.net\")"]);
    // Every attribute of the user at the R-URI's domain; type 1 is an int.
    let (ret, _, avps) = run_db(
        "if (avp_db_load(\"$ruri\", \"\")) { return(1); }; return(-1);",
        db(true),
    );
    assert_eq!(ret, 1);
    assert_eq!(
        avps,
        vec!["callfwd=Str(\"sip:carol@example.net\")", "limit=Int(12)"]
    );
    // The int AVP compares as an int.
    let (ret, _, _) = run_db(
        "avp_db_load(\"$ruri\", \"s:limit\");\n\
         if (avp_check(\"s:limit\", \"ge/i:10\")) { return(2); }; return(-2);",
        db(true),
    );
    assert_eq!(ret, 2);
    // Nothing for the From user: false.
    let (ret, n, avps) = run_db(
        "if (avp_db_load(\"$from/username\", \"s:callfwd\")) { return(1); }; return(-5);",
        db(false),
    );
    assert_eq!((ret, n, avps.len()), (-5, 1, 0));
    pool.shutdown();
    // A pool that is shut down refuses the job: false, not a hang.
    let (ret, _, _) = run_db(
        "if (avp_db_load(\"$ruri/username\", \"s:callfwd\")) { return(1); }; return(-6);",
        db(false),
    );
    assert_eq!(ret, -6);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn is_avp_set_copy_and_print() {
    // Not set, then set.
    assert_eq!(
        run("if (is_avp_set(\"s:x\")) { return(2); } return(3);").0,
        3
    );
    assert_eq!(
        run("avp_write(\"1\", \"s:x\"); if (is_avp_set(\"s:x\")) { return(2); } return(3);").0,
        2
    );
    // One value copied; every value with /g; /d moves.
    let (ret, _, n) = run("avp_write(\"a\", \"s:x\"); avp_write(\"b\", \"s:x\"); \
                           avp_copy(\"s:x\", \"s:y\"); \
                           if (avp_check(\"s:y\", \"eq/b\")) { return(2); } return(3);");
    assert_eq!((ret, n), (2, 3));
    let (ret, _, n) = run("avp_write(\"a\", \"s:x\"); avp_write(\"b\", \"s:x\"); \
                           avp_copy(\"s:x\", \"s:y/gd\"); \
                           if (is_avp_set(\"s:x\")) { return(4); } \
                           if (avp_check(\"s:y\", \"eq/b\")) { return(2); } return(3);");
    assert_eq!((ret, n), (2, 2), "moved, newest first kept");
    assert_eq!(
        run("if (avp_copy(\"s:none\", \"s:y\")) { return(2); } return(3);").0,
        3
    );
    let (_, _, _, _, logs) = run_full("avp_write(\"i:7\", \"s:n\"); avp_print();");
    assert!(logs.iter().any(|l| l.contains("s:n = 7")), "{logs:?}");
}

#[test]
fn db_store_and_delete_through_a_real_pool() {
    use crate::store::{DbUrl, PoolConfig};
    let dir = std::env::temp_dir().join(format!("ser-avpops-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = DbUrl::parse(&format!("sqlite://{}/ser.db", dir.display())).unwrap();
    let pool = Arc::new(Pool::start(url, PoolConfig::default()).unwrap());
    let db = Arc::new(AvpDb {
        pool: pool.clone(),
        use_domain: false,
    });
    // Store two values of callfwd for bob (the R-URI's user), then load.
    let (ret, n, _) = run_db(
        "avp_write(\"sip:a@x\", \"s:callfwd\"); avp_write(\"i:12\", \"s:limit\"); \
         if (!avp_db_store(\"$ruri/username\", \"s:callfwd\")) { return(-5); } \
         if (!avp_db_store(\"$ruri/username\", \"s:limit\")) { return(-6); } \
         avp_delete(\"s:callfwd\"); avp_delete(\"s:limit\"); \
         if (avp_db_load(\"$ruri/username\", \"\")) { return(1); } return(-1);",
        db.clone(),
    );
    assert_eq!(ret, 1);
    assert_eq!(n, 3, "two stores and one load, each offloaded");
    let rows = pool
        .run_blocking(|d| tables::preferences_load(d, "bob", None, None))
        .unwrap();
    let mut got: Vec<(String, i64, String)> = rows
        .into_iter()
        .map(|p| (p.attribute, p.type_, p.value))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("callfwd".to_string(), 0, "sip:a@x".to_string()),
            ("limit".to_string(), 1, "12".to_string())
        ]
    );
    // Delete one attribute, then every preference of bob.
    let (ret, _, _) = run_db(
        "if (avp_db_delete(\"$ruri/username\", \"s:limit\")) { return(1); } return(-1);",
        db.clone(),
    );
    assert_eq!(ret, 1);
    let left = pool
        .run_blocking(|d| tables::preferences_load(d, "bob", None, None))
        .unwrap();
    assert_eq!(left.len(), 1);
    let (ret, _, _) = run_db(
        "if (avp_db_delete(\"$ruri/username\", \"\")) { return(1); } return(-1);",
        db,
    );
    assert_eq!(ret, 1);
    let left = pool
        .run_blocking(|d| tables::preferences_load(d, "bob", None, None))
        .unwrap();
    assert!(left.is_empty());
    // Nothing to store: false, without a query.
    let (ret, n, _) = run_db(
        "if (avp_db_store(\"$ruri/username\", \"s:none\")) { return(1); } return(-1);",
        Arc::new(AvpDb {
            pool: pool.clone(),
            use_domain: false,
        }),
    );
    assert_eq!((ret, n), (-1, 0));
    let _ = std::fs::remove_dir_all(&dir);
}
