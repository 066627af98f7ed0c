//! The checker on the seed configs (no errors; the exact list of what is
//! not supported yet, which is the roadmap) and on broken configs (each
//! fails with the exact `file:line:col: message`).
//!
//! Every `tests/check_broken/*.cfg` parses, and starts with
//! `# expect: LINE:COL: MESSAGE`: checking it must give exactly that one
//! error (with every function counted as implemented).

use std::path::{Path, PathBuf};

use ser_cfg::check::{CheckReport, check};
use ser_cfg::{Define, Dialect, ParseOptions, Script, parse_file, parse_file_with, parse_str};

fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/seeds")
        .join(name)
}

fn parse(path: &Path, defines: &[&str]) -> Script {
    let defines: Vec<Define> = defines.iter().map(|d| Define::from_arg(d)).collect();
    parse_file(path, &defines).unwrap_or_else(|d| panic!("{d}"))
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

fn none(_: &str, _: &str) -> bool {
    false
}

fn all(_: &str, _: &str) -> bool {
    true
}

fn clean(name: &str, r: &CheckReport) {
    assert!(r.errors.is_empty(), "{name}: errors {:#?}", r.errors);
    assert!(r.warnings.is_empty(), "{name}: warnings {:#?}", r.warnings);
}

/// The roadmap: what each seed config needs that the router does not have
/// yet, in order of first use, when nothing is implemented.
const ROADMAP: &[(&str, &[&str], &[&str])] = &[
    (
        "call-forwarding.cfg",
        &[],
        &[
            "mf_process_maxfwd_header (maxfwd)",
            "sl_send_reply (sl)",
            "client_nat_test (mediaproxy)",
            "record_route_preset (rr)",
            "record_route (rr)",
            "end_media_session (mediaproxy)",
            "loose_route (rr)",
            "has_totag (uri)",
            "proxy_authorize (auth_db)",
            "proxy_challenge (auth)",
            "check_from (uri_db)",
            "consume_credentials (auth)",
            "search (textops)",
            "setflag (core)",
            "use_media_proxy (mediaproxy)",
            "is_uri_host_local (domain)",
            "is_from_local (domain)",
            "allow_trusted (permissions)",
            "lookup (registrar)",
            "t_on_reply (tm)",
            "t_relay (tm)",
            "sl_reply_error (sl)",
            "fix_nated_register (nathelper)",
            "force_rport (core)",
            "www_authorize (auth_db)",
            "www_challenge (auth)",
            "check_to (uri_db)",
            "save (registrar)",
            "fix_nated_contact (nathelper)",
            "strip (core)",
            "avp_db_load (avpops)",
            "avp_pushto (avpops)",
            "avp_check (avpops)",
            "t_on_failure (tm)",
            "isflagset (core)",
            "rewritehost (core)",
            "avp_write (avpops)",
            "append_branch (core)",
            "t_check_status (tm)",
            "avp_delete (avpops)",
            "resetflag (core)",
        ],
    ),
    (
        "hello-world.cfg",
        &[],
        &[
            "mf_process_maxfwd_header (maxfwd)",
            "sl_send_reply (sl)",
            "record_route (rr)",
            "loose_route (rr)",
            "lookup (registrar)",
            "t_relay (tm)",
            "sl_reply_error (sl)",
            "save (registrar)",
        ],
    ),
    (
        "kamailio-3.1-default.cfg",
        &[],
        &[
            "is_method (textops)",
            "t_check_trans (tm)",
            "t_relay (tm)",
            "remove_hf (textops)",
            "record_route (rr)",
            "setflag (core)",
            "sl_send_reply (sl)",
            "t_on_reply (tm)",
            "t_on_failure (tm)",
            "sl_reply_error (sl)",
            "mf_process_maxfwd_header (maxfwd)",
            "sanity_check (sanity)",
            "xlog (xlog)",
            "has_totag (siputils)",
            "loose_route (rr)",
            "isflagset (core)",
            "setbflag (kex)",
            "save (registrar)",
            "lookup (registrar)",
            "t_newtran (tm)",
            "t_reply (tm)",
            "append_hf (textops)",
            "xdbg (xlog)",
            "t_is_canceled (tm)",
        ],
    ),
    (
        "mysql-auth.cfg",
        &[],
        &[
            "mf_process_maxfwd_header (maxfwd)",
            "sl_send_reply (sl)",
            "record_route (rr)",
            "loose_route (rr)",
            "lookup (registrar)",
            "t_relay (tm)",
            "sl_reply_error (sl)",
            "www_authorize (auth_db)",
            "www_challenge (auth)",
            "check_to (uri_db)",
            "consume_credentials (auth)",
            "save (registrar)",
            "proxy_authorize (auth_db)",
            "proxy_challenge (auth)",
            "check_from (uri_db)",
        ],
    ),
    (
        "nat-mediaproxy.cfg",
        &[],
        &[
            "mf_process_maxfwd_header (maxfwd)",
            "sl_send_reply (sl)",
            "client_nat_test (mediaproxy)",
            "record_route_preset (rr)",
            "record_route (rr)",
            "end_media_session (mediaproxy)",
            "loose_route (rr)",
            "has_totag (uri)",
            "proxy_authorize (auth_db)",
            "proxy_challenge (auth)",
            "check_from (uri_db)",
            "consume_credentials (auth)",
            "search (textops)",
            "setflag (core)",
            "use_media_proxy (mediaproxy)",
            "lookup (registrar)",
            "t_on_reply (tm)",
            "t_relay (tm)",
            "sl_reply_error (sl)",
            "fix_nated_register (nathelper)",
            "force_rport (core)",
            "www_authorize (auth_db)",
            "www_challenge (auth)",
            "check_to (uri_db)",
            "save (registrar)",
            "fix_nated_contact (nathelper)",
            "isflagset (core)",
        ],
    ),
    (
        "nat-rtpproxy.cfg",
        &[],
        &[
            "mf_process_maxfwd_header (maxfwd)",
            "sl_send_reply (sl)",
            "record_route (rr)",
            "unforce_rtp_proxy (nathelper)",
            "loose_route (rr)",
            "has_totag (uri)",
            "proxy_authorize (auth_db)",
            "proxy_challenge (auth)",
            "check_from (uri_db)",
            "consume_credentials (auth)",
            "nat_uac_test (nathelper)",
            "setflag (core)",
            "force_rport (core)",
            "fix_nated_contact (nathelper)",
            "force_rtp_proxy (nathelper)",
            "lookup (registrar)",
            "t_on_reply (tm)",
            "t_relay (tm)",
            "isflagset (core)",
            "sl_reply_error (sl)",
            "search (textops)",
            "fix_nated_register (nathelper)",
            "www_authorize (auth_db)",
            "www_challenge (auth)",
            "check_to (uri_db)",
            "save (registrar)",
        ],
    ),
    (
        "pstn.cfg",
        &[],
        &[
            "mf_process_maxfwd_header (maxfwd)",
            "sl_send_reply (sl)",
            "client_nat_test (mediaproxy)",
            "record_route_preset (rr)",
            "record_route (rr)",
            "end_media_session (mediaproxy)",
            "loose_route (rr)",
            "has_totag (uri)",
            "allow_trusted (permissions)",
            "proxy_authorize (auth_db)",
            "proxy_challenge (auth)",
            "check_from (uri_db)",
            "consume_credentials (auth)",
            "search (textops)",
            "setflag (core)",
            "use_media_proxy (mediaproxy)",
            "is_uri_host_local (domain)",
            "is_from_local (domain)",
            "lookup (registrar)",
            "t_on_reply (tm)",
            "t_relay (tm)",
            "sl_reply_error (sl)",
            "fix_nated_register (nathelper)",
            "force_rport (core)",
            "www_authorize (auth_db)",
            "www_challenge (auth)",
            "check_to (uri_db)",
            "save (registrar)",
            "fix_nated_contact (nathelper)",
            "strip (core)",
            "isflagset (core)",
            "rewritehost (core)",
            "avp_write (avpops)",
        ],
    ),
    (
        "ser-0.8.8.cfg",
        &[],
        &[
            "sl_filter_ACK (sl)",
            "mf_process_maxfwd_header (maxfwd)",
            "sl_send_reply (sl)",
            "len_gt (core)",
            "rewriteFromRoute (rr)",
            "save (registrar)",
            "lookup (registrar)",
            "t_relay (tm)",
            "sl_reply_error (sl)",
        ],
    ),
    (
        "ser-2.0-default.cfg",
        &[],
        &[
            "sl_reply (sl)",
            "isflagset (core)",
            "append_branch (core)",
            "strempty (core)",
            "t_on_failure (tm)",
            "t_relay (tm)",
            "sl_reply_error (sl)",
            "mf_process_maxfwd_header (maxfwd)",
            "setflag (core)",
            "dispatch_rpc (xmlrpc)",
            "loose_route (rr)",
            "append_hf (textops)",
            "record_route (rr)",
            "setavpflag (core)",
            "lookup_domain (domain)",
            "www_authenticate (auth_db)",
            "append_to_reply (textops)",
            "lookup_user (uri_db)",
            "save_contacts (registrar)",
            "proxy_authenticate (auth_db)",
            "del_attr (avp)",
            "load_attrs (avp_db)",
            "attr2uri (avp)",
            "lookup_contacts (registrar)",
            "t_set_fr (tm)",
            "xlset_attr (avp)",
            "replace_attr_hf (avp)",
            "t_relay_cancel (tm)",
            "t_check_status (tm)",
        ],
    ),
    (
        "kamailio-3.1-default.cfg",
        WITH_ALL,
        &[
            "is_method (textops)",
            "t_check_trans (tm)",
            "t_relay (tm)",
            "remove_hf (textops)",
            "record_route (rr)",
            "setflag (core)",
            "sl_send_reply (sl)",
            "check_route_param (rr)",
            "setbflag (kex)",
            "isflagset (core)",
            "isbflagset (kex)",
            "t_on_reply (tm)",
            "t_on_failure (tm)",
            "sl_reply_error (sl)",
            "mf_process_maxfwd_header (maxfwd)",
            "sanity_check (sanity)",
            "xlog (xlog)",
            "has_totag (siputils)",
            "loose_route (rr)",
            "save (registrar)",
            "lookup (registrar)",
            "t_newtran (tm)",
            "t_reply (tm)",
            "handle_publish (presence)",
            "t_release (tm)",
            "handle_subscribe (presence)",
            "www_authorize (auth_db)",
            "www_challenge (auth)",
            "allow_source_address (permissions)",
            "proxy_authorize (auth_db)",
            "proxy_challenge (auth)",
            "consume_credentials (auth)",
            "force_rport (core)",
            "nat_uac_test (nathelper)",
            "fix_nated_register (nathelper)",
            "fix_nated_contact (nathelper)",
            "unforce_rtp_proxy (rtpproxy)",
            "force_rtp_proxy (rtpproxy)",
            "add_rr_param (rr)",
            "append_hf (textops)",
            "strempty (core)",
            "xdbg (xlog)",
            "t_is_canceled (tm)",
        ],
    ),
];

#[test]
fn seed_configs_check_without_errors() {
    let mut mismatches = Vec::new();
    for (name, defines, want) in ROADMAP {
        let script = parse(&seed(name), defines);
        let r = check(&script, &none);
        clean(name, &r);
        let got = r.not_supported_names();
        if got != *want {
            mismatches.push(format!("{name} {defines:?}:\n{got:#?}"));
        }
        let r = check(&script, &all);
        clean(name, &r);
        assert!(r.is_ok() && r.not_supported.is_empty(), "{name}");
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_seed_config_is_in_the_roadmap() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seeds");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name == "sip_router-2001.cfg" || !name.ends_with(".cfg") {
            continue;
        }
        assert!(ROADMAP.iter().any(|(n, _, _)| *n == name), "{name}");
    }
}

fn broken_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check_broken")
}

#[test]
fn every_broken_config_fails_exactly() {
    let mut names: Vec<PathBuf> = std::fs::read_dir(broken_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "only {} broken configs", names.len());
    let mut failures = Vec::new();
    for path in &names {
        let text = std::fs::read_to_string(path).unwrap();
        let exp = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: no `# expect:` line", path.display()));
        let want = format!("{}:{exp}", path.display());
        let script = match parse_file(path, &[]) {
            Ok(s) => s,
            Err(d) => {
                failures.push(format!("{}: does not parse: {d}", path.display()));
                continue;
            }
        };
        let r = check(&script, &all);
        let got: Vec<String> = r.errors.iter().map(|d| d.to_string()).collect();
        if got != [want.clone()] {
            failures.push(format!(
                "{}:\n   got: {got:#?}\n  want: {want}",
                path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn check_str(text: &str) -> CheckReport {
    let script = parse_str("t.cfg", text, &[]).unwrap_or_else(|d| panic!("{d}"));
    check(&script, &all)
}

fn errors(r: &CheckReport) -> Vec<String> {
    r.errors.iter().map(|d| d.to_string()).collect()
}

#[test]
fn forcing_an_older_dialect_flags_newer_constructs() {
    let opts = ParseOptions {
        dialect: Some(Dialect::Ser2),
        ..ParseOptions::default()
    };
    let script = parse_file_with(&seed("kamailio-3.1-default.cfg"), &opts).unwrap();
    let r = check(&script, &all);
    let e = errors(&r);
    let why = "but this script is SER 2.x \
               (set on the command line, overriding the `#!KAMAILIO` marker at line 1)";
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        e[0].ends_with(&format!(":132:1: `mpath` is Kamailio syntax, {why}")),
        "{e:#?}"
    );
    assert!(
        e[1].ends_with(&format!(
            ":357:6: pseudo-variable `$rU` is Kamailio syntax, {why}"
        )),
        "{e:#?}"
    );
    // A SER 0.9 script read as Kamailio is fine: Kamailio has everything
    // SER 0.9 has (modules differ, but these do not).
    let opts = ParseOptions {
        dialect: Some(Dialect::Kamailio),
        ..ParseOptions::default()
    };
    let script = parse_file_with(&seed("hello-world.cfg"), &opts).unwrap();
    assert!(check(&script, &all).errors.is_empty());
}

#[test]
fn warnings_do_not_fail_the_check() {
    let r = check_str(
        "#!KAMAILIO\nloadmodule \"sl.so\"\nloadmodule \"sl\"\nflags A : 1, B : 1;\nroute { sl_send_reply(\"200\", \"OK\"); }\n",
    );
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    let w: Vec<String> = r.warnings.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        w,
        [
            "t.cfg:3:12: module `sl` is loaded twice (first at 2:12); the second loadmodule is ignored",
            "t.cfg:4:14: flag number 1 is used by both `A` and `B`",
        ]
    );
    assert!(r.is_ok());
    assert_eq!(r.modules.len(), 1);
}

#[test]
fn several_errors_are_reported_in_source_order() {
    let r = check_str(
        "loadmodule \"sl.so\"\nloadmodule \"tm.so\"\nmodparam(\"sl|usrloc|nope\", \"x\", 1)\n\
         route {\n  sl_send_reply(\"404\");\n  t_on_failure(\"9\");\n}\n",
    );
    assert_eq!(
        errors(&r),
        [
            "t.cfg:3:14: modparam for module `usrloc`, which is not loaded",
            "t.cfg:3:21: modparam for unknown module `nope`",
            "t.cfg:3:28: module `sl` has no parameter `x`",
            "t.cfg:5:3: function `sl_send_reply` takes 2 arguments, found 1 argument",
            "t.cfg:6:16: argument 1 of `t_on_failure` names failure_route[9], which is not defined",
        ]
    );
}

#[test]
fn not_supported_lists_every_site_once_per_function() {
    let script = parse_str(
        "t.cfg",
        "loadmodule \"sl.so\"\nroute {\n  sl_send_reply(\"1\", \"a\");\n  if (isflagset(3)) { sl_send_reply(\"2\", \"b\"); }\n  sethost(\"x\");\n}\n",
        &[],
    )
    .unwrap();
    let implemented = |m: &str, f: &str| m == "core" && f == "rewritehost";
    let r = check(&script, &implemented);
    assert!(r.errors.is_empty());
    assert_eq!(
        r.not_supported_names(),
        ["sl_send_reply (sl)", "isflagset (core)"]
    );
    assert_eq!(r.not_supported[0].sites.len(), 2);
    assert_eq!(
        r.not_supported_lines(&script),
        [
            "t.cfg:3:3: not supported yet: sl_send_reply (sl)",
            "t.cfg:4:7: not supported yet: isflagset (core)",
        ]
    );
    assert!(!r.is_ok());
}

#[test]
fn no_panic_on_odd_but_parsable_configs() {
    for text in [
        "",
        "route {}",
        "modparam(\"\", \"\", \"\")",
        "modparam(\"|\", \"x\", 1)",
        "loadmodule \"\"",
        "loadmodule \"/\"",
        "flags ;",
        "route { t_on_failure(\"\"); }",
        "route { strip(-1); route(0); }",
        "#!KAMAILIO\nroute { $var(x) = $sel(cfg_get); xlog(\"$avp(i:)\"); }",
        "route[\"\"] { drop; }",
    ] {
        if let Ok(script) = parse_str("t.cfg", text, &[]) {
            let _ = check(&script, &all);
            let _ = check(&script, &none);
        }
    }
}

#[test]
fn reference_lists_every_module_and_function() {
    let md = ser_cfg::check::reference_markdown(&none);
    for m in ser_cfg::catalog::MODULES {
        assert!(md.contains(&format!("#### `{}`", m.name)), "{}", m.name);
        for f in m.functions {
            assert!(md.contains(&format!("| `{}` |", f.name)), "{}", f.name);
        }
    }
    assert!(md.contains("| `log_stderror` |"));
    assert!(!md.contains("| implemented |"));
}
