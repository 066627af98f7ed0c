//! Helpers shared by the end-to-end tests.
//!
//! The `ser` binary belongs to the `ser-core` package, so Cargo does not hand
//! its path to this crate (`CARGO_BIN_EXE_ser` only exists inside
//! `ser-core`). [`ser_binary`] finds it next to the running test executable,
//! in the same target directory and profile: build it first with
//! `cargo build --release` (or `cargo build` for a debug test run).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

pub mod binrpc_check;
pub mod ctl;
pub mod dbserver;
pub mod kamailio;
pub mod proxy_check;
pub mod router;
pub mod ser2;
pub mod sipp;
pub mod tm_check;

/// The workspace root (the directory holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate lives inside the workspace")
        .to_path_buf()
}

/// A file of the workspace, by its path from the root.
pub fn workspace_file(rel: &str) -> PathBuf {
    workspace_root().join(rel)
}

/// Path of the `ser` binary to test.
///
/// `SER_BIN` overrides the search. Otherwise the binary is looked up in the
/// profile directory of this test executable (`target/<profile>/ser`, the
/// test itself being in `target/<profile>/deps/`). Panics with a clear
/// message when it is missing, or older than the sources it is built from.
pub fn ser_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SER_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "SER_BIN={} is not a file", p.display());
        return p;
    }
    let exe = std::env::current_exe().expect("path of the test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable is in <target>/<profile>/deps/");
    let bin = profile_dir.join(format!("ser{}", std::env::consts::EXE_SUFFIX));
    let profile = profile_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let how = if profile == "release" {
        "cargo build --release --bin ser"
    } else {
        "cargo build --bin ser"
    };
    let Ok(meta) = bin.metadata() else {
        panic!(
            "the ser binary is missing at {}; build it first with `{how}` \
             (same profile and target directory as the tests)",
            bin.display()
        );
    };
    let built = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    if let Some(newer) = newer_source(built, &["core/src", "cfg/src"]) {
        panic!(
            "the ser binary at {} is older than {}; rebuild it with `{how}`",
            bin.display(),
            newer.display()
        );
    }
    bin
}

/// Path of the `sercmd` binary to test (package `ser-tools`), found and
/// checked as [`ser_binary`] is (`SERCMD_BIN` overrides the search).
pub fn sercmd_binary() -> PathBuf {
    tools_binary("sercmd", "SERCMD_BIN")
}

/// Path of the `serctl` binary to test (package `ser-tools`), found and
/// checked as [`ser_binary`] is (`SERCTL_BIN` overrides the search).
pub fn serctl_binary() -> PathBuf {
    tools_binary("serctl", "SERCTL_BIN")
}

/// A binary of the `ser-tools` package next to the test executable;
/// panics when it is missing or older than its sources.
fn tools_binary(name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "{env}={} is not a file", p.display());
        return p;
    }
    let exe = std::env::current_exe().expect("path of the test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable is in <target>/<profile>/deps/");
    let bin = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let how = if release {
        "cargo build --release -p ser-tools"
    } else {
        "cargo build -p ser-tools"
    };
    let Ok(meta) = bin.metadata() else {
        panic!(
            "the {name} binary is missing at {}; build it first with `{how}`",
            bin.display()
        );
    };
    let built = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    if let Some(newer) = newer_source(built, &["tools/src", "core/src", "cfg/src"]) {
        panic!(
            "the {name} binary at {} is older than {}; rebuild it with `{how}`",
            bin.display(),
            newer.display()
        );
    }
    bin
}

/// A Rust source file under `dirs` (from the workspace root), modified
/// after `t`.
fn newer_source(t: SystemTime, dirs: &[&str]) -> Option<PathBuf> {
    let root = workspace_root();
    let mut todo: Vec<PathBuf> = dirs.iter().map(|p| root.join(p)).collect();
    while let Some(p) = todo.pop() {
        let Ok(meta) = p.metadata() else { continue };
        if meta.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                todo.extend(rd.flatten().map(|e| e.path()));
            }
        } else if p.extension().is_some_and(|e| e == "rs") && meta.modified().is_ok_and(|m| m > t) {
            return Some(p);
        }
    }
    None
}

/// What one run of `ser` did.
#[derive(Debug)]
pub struct Run {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `ser` with `args`, from the workspace root, with no standard input,
/// and waits for it.
pub fn ser(args: &[&str]) -> Run {
    Command::new(ser_binary())
        .args(args)
        .current_dir(workspace_root())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("start the ser binary")
        .into()
}
