//! End-to-end tests of the `ser` command line: they run the real binary.
//!
//! Build it first (`cargo build --release`, then
//! `cargo test --release -p ser-tests`); `tests/run.sh` does both.

use ser_core::sip::Limits;
use ser_core::version;
use ser_tests::{Run, ser, workspace_file};

const HELLO: &str = "cfg/examples/hello-world.cfg";
/// A valid config calling a function that is not built.
const NOT_BUILT: &str = "tests/data/configs/not-built.cfg";

fn assert_code(r: &Run, code: i32) {
    assert_eq!(r.code, Some(code), "exit code; run was {r:#?}");
}

#[test]
fn help_lists_flags_and_what_is_refused() {
    let r = ser(&["-h"]);
    assert_code(&r, 0);
    assert!(r.stderr.is_empty(), "{r:#?}");
    let out = &r.stdout;
    assert!(out.starts_with(&version::version_line()), "{out}");
    assert!(out.contains("Usage: ser [options]"), "{out}");
    for flag in [
        "-f file",
        "-c ",
        "-l address",
        "-p port",
        "-n shards",
        "-D ",
        "-E ",
        "-d ",
        "-A NAME",
        "-W method",
        "-P file",
        "-u user",
        "-g group",
        "-w dir",
        "-V ",
        "-h ",
    ] {
        assert!(
            out.contains(&format!("\n  {flag}")),
            "{flag} missing:\n{out}"
        );
    }
    assert!(out.contains("Not supported yet"), "{out}");
    for refused in [
        "-t dir (chroot)",
        "-L path",
        "-r (",
        "-R (",
        "-T (",
        "-m MB",
    ] {
        assert!(out.contains(refused), "{refused} missing:\n{out}");
    }
    // -h wins over errors anywhere on the line.
    let r = ser(&["-Z", "-t", "/x", "-h"]);
    assert_code(&r, 0);
    assert!(r.stdout.contains("Usage: ser"));
}

#[test]
fn version_names_target_limits_and_no_poll_method() {
    let r = ser(&["-V"]);
    assert_code(&r, 0);
    let out = &r.stdout;
    let l = Limits::DEFAULT;
    let target = format!("{}/{}", std::env::consts::ARCH, std::env::consts::OS);
    assert!(
        out.starts_with(&format!("version: ser {} ({target})\n", version::VERSION)),
        "{out}"
    );
    let flags = out
        .lines()
        .find_map(|x| x.strip_prefix("flags: "))
        .unwrap_or_else(|| panic!("no flags line:\n{out}"));
    for f in version::FEATURES {
        assert!(flags.contains(f), "{f} missing: {flags}");
    }
    for want in [
        format!("MAX_URI_SIZE {}", l.max_uri),
        format!("BUF_SIZE {}", l.max_message),
        format!("MAX_HEADERS {}", l.max_headers),
        format!("MAX_VIAS {}", l.max_vias),
    ] {
        assert!(flags.contains(&want), "{want} missing: {flags}");
    }
    // Nothing is claimed that is not built.
    for absent in ["USE_TCP", "USE_TLS"] {
        assert!(!out.contains(absent), "{absent} claimed:\n{out}");
    }
    assert!(
        out.contains("\npoll method support: io_uring, epoll\n"),
        "{out}"
    );
    assert_code(&ser(&["-DEV"]), 0);
}

#[test]
fn unknown_option_is_a_usage_error() {
    let r = ser(&["-Z"]);
    assert_code(&r, 2);
    assert_eq!(r.stderr, "ser: unknown option -Z; try ser -h\n");
    assert!(r.stdout.is_empty());
    let r = ser(&["--frobnicate"]);
    assert_code(&r, 2);
    assert!(r.stderr.contains("unknown option --frobnicate"), "{r:#?}");
    let r = ser(&["extra"]);
    assert_code(&r, 2);
    assert!(r.stderr.contains("unexpected argument 'extra'"), "{r:#?}");
}

#[test]
fn refused_ser_option_names_itself() {
    let r = ser(&["-t", "/x"]);
    assert_code(&r, 2);
    assert_eq!(r.stderr, "ser: option -t (chroot) is not supported yet\n");
    // A refused flag inside a group is not skipped either.
    let r = ser(&["-DrE", "-f", HELLO]);
    assert_code(&r, 2);
    assert!(r.stderr.contains("option -r ("), "{r:#?}");
}

#[test]
fn bad_poll_method_lists_the_two() {
    let r = ser(&["-W", "kqueue"]);
    assert_code(&r, 2);
    assert!(r.stderr.starts_with("ser: "), "{r:#?}");
    assert!(r.stderr.contains("kqueue"), "{r:#?}");
    assert!(
        r.stderr.contains("io_uring") && r.stderr.contains("epoll"),
        "{r:#?}"
    );
}

#[test]
fn option_without_its_value() {
    let r = ser(&["-p"]);
    assert_code(&r, 2);
    assert_eq!(r.stderr, "ser: option -p requires an argument\n");
    let r = ser(&["-p", "99999"]);
    assert_code(&r, 2);
    assert!(r.stderr.contains("-p"), "{r:#?}");
    let r = ser(&["-l", "udp:[::1"]);
    assert_code(&r, 2);
    assert!(r.stderr.contains("-l"), "{r:#?}");
}

#[test]
fn check_of_a_missing_file_names_it() {
    let missing = "cfg/examples/no-such-file.cfg";
    let r = ser(&["-c", "-f", missing]);
    assert_code(&r, 1);
    assert!(r.stderr.contains(missing), "{r:#?}");
    assert!(!r.stderr.contains("config file ok"), "{r:#?}");
}

#[test]
fn check_without_f_reads_the_default_config() {
    let default = "/usr/local/etc/ser/ser.cfg";
    if std::path::Path::new(default).exists() {
        return; // a real installation: nothing to learn here
    }
    let r = ser(&["-c"]);
    assert_code(&r, 1);
    assert!(r.stderr.contains(default), "{r:#?}");
}

#[test]
fn check_of_hello_world_is_ok() {
    assert!(workspace_file(HELLO).is_file());
    // The config is valid and everything it calls is built: OK, with the
    // dialect and why it was chosen.
    let r = ser(&["-c", "-f", HELLO]);
    assert_code(&r, 0);
    assert!(
        r.stderr.starts_with(
            "dialect: SER 0.9 (the default: no marker, no dialect-specific construct)\n"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("\nOK\n"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    // The same with the README's options and an absolute path.
    let abs = workspace_file(HELLO);
    let r = ser(&[
        "-c",
        "-f",
        abs.to_str().unwrap(),
        "-l",
        "udp:127.0.0.1:5060",
        "-D",
        "-E",
    ]);
    assert_code(&r, 0);
}

#[test]
fn check_lists_functions_not_built() {
    let r = ser(&["-c", "-f", NOT_BUILT]);
    assert_code(&r, 4);
    assert!(
        r.stderr
            .contains("not-built.cfg:11:5: not supported yet: t_write_unix (tm)\n"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("uses 1 function not supported yet"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

/// A run refuses a config that calls functions not built yet, listing
/// them as `-c` does, before it binds anything.
#[test]
fn running_refuses_functions_not_built() {
    let r = ser(&["-f", NOT_BUILT, "-l", "udp:127.0.0.1:5060", "-D", "-E"]);
    assert_code(&r, 4);
    assert!(
        r.stderr.contains("not supported yet: t_write_unix (tm)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .ends_with("uses functions not supported yet (listed above), exiting...\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn running_checks_process_options_first() {
    let r = ser(&["-f", NOT_BUILT, "-u", "no-such-user-zq"]);
    assert_code(&r, 2);
    assert_eq!(
        r.stderr,
        "ser: invalid argument 'no-such-user-zq' for -u: no such user\n"
    );
    let r = ser(&["-f", NOT_BUILT, "-w", "/no/such/dir-zq"]);
    assert_code(&r, 2);
    assert!(r.stderr.contains("-w"), "{r:#?}");
    let r = ser(&["-f", NOT_BUILT, "-P", "/no/such/dir-zq/ser.pid"]);
    assert_code(&r, 2);
    assert!(r.stderr.contains("-P"), "{r:#?}");
    // Valid ones pass on to the config check, which refuses the config
    // (a function not built) before anything is applied.
    let pid = std::env::temp_dir().join(format!("ser-e2e-{}.pid", std::process::id()));
    let r = ser(&[
        "-f",
        NOT_BUILT,
        "-w",
        "/",
        "-P",
        pid.to_str().unwrap(),
        "-u",
        "0",
        "-g",
        "0",
    ]);
    if r.code == Some(2) && r.stderr.contains("needs root") {
        return; // not root: the switch cannot be checked further here
    }
    assert_code(&r, 4);
    assert!(
        !pid.exists(),
        "pid file written although the router did not run"
    );
}

/// A broken config is refused with the place and the reason, by `-c` and
/// by a run alike (a run never starts on a config with errors).
#[test]
fn broken_config_is_refused_with_its_location() {
    let dir = std::env::temp_dir().join(format!("ser-cli-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("broken.cfg");
    std::fs::write(
        &cfg,
        "loadmodule \"sl\"\nroute {\n    sl_send_reply(\"404\");\n}\n",
    )
    .unwrap();
    let path = cfg.to_str().unwrap();
    let want = format!("{path}:3:5: ");
    let r = ser(&["-c", "-f", path]);
    assert_code(&r, 1);
    assert!(r.stderr.contains(&want), "{}", r.stderr);
    assert!(r.stderr.contains("sl_send_reply"), "{}", r.stderr);
    let r = ser(&["-f", path, "-D", "-E"]);
    assert_code(&r, 1);
    assert!(r.stderr.contains(&want), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-c -o` writes the compiled form; `-f` loads it directly (recognised by
/// its magic bytes); a damaged file is refused with a clear message.
#[test]
fn compiled_config_round_trip_through_the_command_line() {
    let dir = std::env::temp_dir().join(format!("ser-cli-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("hello.bin");
    let bin_s = bin.to_str().unwrap();
    let r = ser(&["-c", "-f", HELLO, "-o", bin_s]);
    assert_code(&r, 0);
    assert!(
        r.stderr.contains("compiled config written to"),
        "{}",
        r.stderr
    );
    let r = ser(&["-c", "-f", bin_s]);
    assert_code(&r, 0);
    assert!(
        r.stderr.contains("compiled config, format version"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("dialect: SER 0.9"), "{}", r.stderr);
    // One flipped byte in the payload: refused, never loaded.
    let mut bytes = std::fs::read(&bin).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x5a;
    std::fs::write(&bin, &bytes).unwrap();
    let r = ser(&["-c", "-f", bin_s]);
    assert_code(&r, 1);
    assert!(r.stderr.contains("damaged compiled config"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}
