//! Where the router's log lines go: standard error (`-E`,
//! `log_stderror=yes`) or syslog (SER's default), with SER's levels
//! (`L_ERR` = -1 ... `L_DBG` = 3) and the `debug` threshold.
//!
//! SIGHUP reopens the syslog connection ([`reopen`]), so that a restarted
//! syslog daemon gets the lines again.

use std::ffi::CString;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::script::ctx::level;

static TO_SYSLOG: AtomicBool = AtomicBool::new(false);
/// The ident and facility given to openlog (kept alive: openlog keeps
/// the pointer).
static SYSLOG: OnceLock<(CString, i32)> = OnceLock::new();
static REOPEN: Mutex<()> = Mutex::new(());

/// Sends log lines to syslog from now on, as `ident` with `facility`
/// (`LOG_DAEMON` by default in SER).
pub fn use_syslog(ident: &str, facility: i32) {
    let ident = CString::new(ident.replace('\0', "")).unwrap_or_default();
    let (ident, facility) = SYSLOG.get_or_init(|| (ident, facility));
    // SAFETY: `ident` lives in a static for the rest of the process.
    unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID | libc::LOG_NDELAY, *facility) };
    TO_SYSLOG.store(true, Ordering::Release);
}

/// Closes and reopens the syslog connection (SIGHUP). Standard error
/// needs nothing.
pub fn reopen() {
    if !TO_SYSLOG.load(Ordering::Acquire) {
        return;
    }
    let _g = REOPEN.lock();
    if let Some((ident, facility)) = SYSLOG.get() {
        // SAFETY: closelog/openlog with a static ident.
        unsafe {
            libc::closelog();
            libc::openlog(ident.as_ptr(), libc::LOG_PID | libc::LOG_NDELAY, *facility);
        }
    }
}

/// The syslog priority of a SER level.
fn priority(lvl: i32) -> i32 {
    match lvl {
        l if l <= level::L_ALERT => libc::LOG_ALERT,
        l if l <= level::L_CRIT => libc::LOG_CRIT,
        level::L_ERR => libc::LOG_ERR,
        level::L_WARN => libc::LOG_WARNING,
        level::L_NOTICE => libc::LOG_NOTICE,
        level::L_INFO => libc::LOG_INFO,
        _ => libc::LOG_DEBUG,
    }
}

/// Writes one line at `lvl` if it passes `threshold` (`debug`).
pub fn write(threshold: i32, lvl: i32, text: &str) {
    if lvl > threshold {
        return;
    }
    let text = text.strip_suffix('\n').unwrap_or(text);
    if TO_SYSLOG.load(Ordering::Acquire) {
        let line = CString::new(format!("{}: {}", level::name(lvl), text).replace('\0', " "))
            .unwrap_or_default();
        // SAFETY: a constant "%s" format with one NUL-terminated string.
        unsafe { libc::syslog(priority(lvl), c"%s".as_ptr(), line.as_ptr()) };
    } else {
        // Not `eprintln!`, which panics when stderr is gone.
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}: {}", level::name(lvl), text);
    }
}
