//! The SER 2.x user-data functions through the real VM: SER 2.x configs
//! compiled from text, SER 2.x rows in a real SQLite file read through a
//! real pool (offloaded queries run on its threads), parsed messages.

use std::sync::Arc;

use crate::script::{Config, testkit};
use crate::store::{Db, DbUrl, Pool, PoolConfig};

const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
    Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-1\r\n\
    Max-Forwards: 70\r\n\
    From: \"A\" <sip:alice@Example.COM>;tag=f1\r\n\
    To: <sip:bob@example.com>\r\n\
    Call-ID: c1@x\r\n\
    CSeq: 1 INVITE\r\n\
    Remote-Party-ID: <sip:old@x>\r\n\
    Content-Length: 0\r\n\r\n";

/// A SQLite file with SER 2.x rows, removed on drop.
struct TempDb {
    dir: std::path::PathBuf,
    url: DbUrl,
}

impl TempDb {
    fn new(what: &str) -> TempDb {
        let dir = std::env::temp_dir().join(format!("ser-attrs-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let url = DbUrl::parse(&format!("sqlite://{}/ser.db", dir.display())).unwrap();
        let mut db = Db::open(&url).unwrap();
        db.migrate().unwrap();
        for q in [
            "INSERT INTO domain (domain, did, flags) VALUES ('example.com', 'd-ex', 1)",
            "INSERT INTO domain (domain, did, flags) VALUES ('off.example', 'd-off', 3)",
            "INSERT INTO domain_attrs (did, name, type, value, flags) \
             VALUES ('d-ex', 'digest_realm', 2, 'realm.example', 1)",
            // IS_TO|LOAD_SER, IS_FROM|LOAD_SER, and a disabled one.
            "INSERT INTO uri (uid, did, username, flags) VALUES ('u-bob', 'd-ex', 'bob', 9)",
            "INSERT INTO uri (uid, did, username, flags) VALUES ('u-alice', 'd-ex', 'alice', 17)",
            "INSERT INTO uri (uid, did, username, flags) VALUES ('u-gone', 'd-ex', 'carol', 27)",
            "INSERT INTO uri (uid, did, username, flags) VALUES ('u-dflt', '_default', 'dave', 9)",
            "INSERT INTO user_attrs (uid, name, value, type, flags) \
             VALUES ('u-bob', 'fwd_always_target', 'sip:bob@192.0.2.9', 2, 1)",
            "INSERT INTO user_attrs (uid, name, value, type, flags) \
             VALUES ('u-bob', 'fr_inv_timer', '30000', 0, 1)",
            "INSERT INTO user_attrs (uid, name, value, type, flags) \
             VALUES ('u-bob', 'hidden', 'x', 2, 0)",
            "INSERT INTO uri_attrs (username, did, name, value, type, flags) \
             VALUES ('bob', 'd-ex', 'alias_note', 'canonical', 2, 1)",
            "INSERT INTO global_attrs (name, type, value, flags) VALUES ('gw_ip', 2, '192.0.2.77', 1)",
        ] {
            db.exec(q, &[]).unwrap();
        }
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

/// What a run left: return code, new R-URI, the request as it would be
/// sent, log lines.
struct Out {
    ret: i32,
    uri: Option<String>,
    sent: String,
    logs: Vec<String>,
}

/// Runs `body` as the main route of a SER 2.x config loading the modules,
/// with every database on `db`; offloaded queries run on the pool.
fn run(db: &TempDb, body: &str) -> Out {
    let text = format!(
        "loadpath \"/usr/lib/ser/modules\"\n\
         loadmodule \"domain\"\nloadmodule \"uri_db\"\nloadmodule \"avp_db\"\n\
         loadmodule \"avp\"\nloadmodule \"gflags\"\nloadmodule \"sl\"\n\
         modparam(\"domain\", \"load_domain_attrs\", 1)\n\
         modparam(\"gflags\", \"load_global_attrs\", 1)\n\
         route {{\n{body}\n}}\n"
    );
    let pool = db.pool();
    let setup = |config: &mut Config, program: &ser_cfg::ir::Program| {
        assert_eq!(program.dialect, ser_cfg::Dialect::Ser2);
        config.policy = crate::policy::setup(program, &|_| Some(pool.clone())).unwrap();
        config.uri_db = Some(pool.clone());
        config.avp_db = Some(pool.clone());
        config.global_attrs = super::setup_global(program, Some(pool.clone())).unwrap();
    };
    testkit::run(&text, INVITE, setup, |ran, ctx, m| {
        let mut sent = Vec::new();
        ctx.edits.build(m, &mut sent).unwrap();
        Out {
            ret: ran.ret,
            uri: ctx
                .new_uri
                .as_ref()
                .map(|u| String::from_utf8_lossy(u).into_owned()),
            sent: String::from_utf8_lossy(&sent).into_owned(),
            logs: testkit::logs(ctx),
        }
    })
}

#[test]
fn lookup_user_follows_the_uri_flags() {
    let db = TempDb::new("lookup");
    // bob may be used in To; the uid goes where the AVP says.
    let o = run(
        &db,
        "if (!lookup_user(\"$tu.uid\", \"@to.uri\")) { return(-2); }\n\
         if ($t.uid == \"u-bob\" && $tu.uid == \"u-bob\" && strempty($f.uid)) { return(2); }\n\
         return(-3);",
    );
    assert_eq!(o.ret, 2, "{:?}", o.logs);
    // bob's row has no IS_FROM: not found in the From track.
    let o = run(
        &db,
        "if (lookup_user(\"$fu.uid\", \"@to.uri\")) { return(-2); } return(3);",
    );
    assert_eq!(o.ret, 3);
    // alice (From, host in another case): IS_FROM.
    let o = run(
        &db,
        "if (lookup_user(\"$fu.uid\", \"@from.uri\") && $f.uid == \"u-alice\") { return(4); } \
         return(-4);",
    );
    assert_eq!(o.ret, 4, "{:?}", o.logs);
    // A disabled row, a host that is not local (the _default did), no user.
    let o = run(
        &db,
        "if (lookup_user(\"$tu.uid\", \"sip:carol@example.com\")) { return(-5); }\n\
         if (!lookup_user(\"$tu.uid\", \"sip:dave@elsewhere.example\")) { return(-6); }\n\
         if (lookup_user(\"$tu.uid\", \"sip:example.com\")) { return(-7); }\n\
         if ($tu.uid == \"u-dflt\") { return(5); } return(-8);",
    );
    assert_eq!(o.ret, 5, "{:?}", o.logs);
    // The one-argument form: the To header into $tu.uid.
    let o = run(
        &db,
        "if (lookup_user(\"To\") && $tu.uid == \"u-bob\") { return(6); } return(-9);",
    );
    assert_eq!(o.ret, 6, "{:?}", o.logs);
}

#[test]
fn load_attrs_into_the_user_and_uri_classes() {
    let db = TempDb::new("load");
    let o = run(
        &db,
        "lookup_user(\"$tu.uid\", \"@ruri\");\n\
         if (!load_attrs(\"$tu\", \"$t.uid\")) { return(-2); }\n\
         if ($tu.fwd_always_target != \"sip:bob@192.0.2.9\") { return(-3); }\n\
         if ($t.fr_inv_timer != 30000) { return(-4); }\n\
         if (!strempty($tu.hidden)) { return(-5); }\n\
         if (!strempty($fu.fwd_always_target)) { return(-6); }\n\
         if (!load_attrs(\"$tr\", \"@ruri\")) { return(-7); }\n\
         if ($tr.alias_note != \"canonical\") { return(-8); }\n\
         return(7);",
    );
    assert_eq!(o.ret, 7, "{:?}", o.logs);
    // An unset uid: false; a uid without attributes: true.
    let o = run(
        &db,
        "if (load_attrs(\"$fu\", \"$f.uid\")) { return(-2); }\n\
         if (!load_attrs(\"$fu\", \"nobody\")) { return(-3); } return(8);",
    );
    assert_eq!(o.ret, 8, "{:?}", o.logs);
}

#[test]
fn domain_and_global_attributes() {
    let db = TempDb::new("domglob");
    let o = run(
        &db,
        "if (!lookup_domain(\"$fd\", \"@from.uri.host\")) { return(-2); }\n\
         if ($fd.digest_realm != \"realm.example\" || $f.did != \"d-ex\") { return(-3); }\n\
         if (!strempty($td.digest_realm)) { return(-4); }\n\
         if (lookup_domain(\"$td\", \"off.example\")) { return(-5); }\n\
         if ($gw_ip != \"192.0.2.77\" || $t.gw_ip != \"192.0.2.77\") { return(-6); }\n\
         $gw_ip = \"198.51.100.1\";\n\
         if ($gw_ip != \"198.51.100.1\") { return(-7); }\n\
         return(9);",
    );
    assert_eq!(o.ret, 9, "{:?}", o.logs);
}

#[test]
fn avp_functions() {
    let db = TempDb::new("avp");
    let o = run(
        &db,
        "$target = \"sip:carol@192.0.2.5:5070\";\n\
         attr2uri(\"$target\");\n\
         $uid = \"x\";\n\
         del_attr(\"$uid\");\n\
         if (!strempty($uid)) { return(-2); }\n\
         if (attr2uri(\"$nothing\")) { return(-3); }\n\
         return(10);",
    );
    assert_eq!(o.ret, 10, "{:?}", o.logs);
    assert_eq!(o.uri.as_deref(), Some("sip:carol@192.0.2.5:5070"));
    let o = run(
        &db,
        "attr2uri(\"$gw_ip\", \"domain\");\n\
         $n = \"2\";\n\
         attr2uri(\"$n\", \"strip\");\n\
         $asserted_id = \"+4930\";\n\
         xlset_attr(\"$rpidheader\", \"<sip:%$asserted_id@%@ruri.host>;screen=yes\");\n\
         replace_attr_hf(\"Remote-Party-ID\", \"$rpidheader\");\n\
         if (attr2uri(\"$n\", \"nonsense\")) { return(-2); }\n\
         return(11);",
    );
    assert_eq!(o.ret, 11, "{:?}", o.logs);
    assert_eq!(o.uri.as_deref(), Some("sip:b@192.0.2.77"));
    assert!(
        o.sent
            .contains("Remote-Party-ID: <sip:+4930@192.0.2.77>;screen=yes\r\n"),
        "{}",
        o.sent
    );
    assert!(!o.sent.contains("sip:old@x"), "{}", o.sent);
}
