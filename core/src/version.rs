//! Version and build-feature strings (`ser -V`).
//!
//! `ser -V` names only what this binary really contains. The lists below are
//! data: the issue that builds a feature adds its entry here, in the same
//! change, and the end-to-end tests read them back from the binary.

use crate::sip::Limits;

/// Program name, as printed in messages.
pub const NAME: &str = "ser";

/// Package version (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Build features compiled into this binary, in the order `ser -V` prints
/// them. Add an entry when a feature lands; never before.
pub const FEATURES: &[&str] = &["ZERO_COPY_SIP_PARSER"];

/// I/O methods the transport can run on. Empty until the transport is built;
/// the transport issue adds `io_uring` and `epoll`.
pub const POLL_METHODS: &[&str] = &["io_uring", "epoll"];

/// What `ser -V` prints while [`POLL_METHODS`] is empty.
pub const NO_POLL_METHOD: &str = "none yet (transport not built)";

/// `arch/os` of the build target, e.g. `x86_64/linux`.
pub fn target() -> String {
    format!("{}/{}", std::env::consts::ARCH, std::env::consts::OS)
}

/// First line of `ser -V` and `ser -h`: `version: ser 0.1.0 (x86_64/linux)`.
pub fn version_line() -> String {
    format!("version: {NAME} {VERSION} ({})", target())
}

/// The `flags:` list: the built features, then the parser's limits.
pub fn flags() -> String {
    let l = Limits::DEFAULT;
    let mut parts: Vec<String> = FEATURES.iter().map(|f| f.to_string()).collect();
    parts.push(format!("MAX_URI_SIZE {}", l.max_uri));
    parts.push(format!("BUF_SIZE {}", l.max_message));
    parts.push(format!("MAX_HEADERS {}", l.max_headers));
    parts.push(format!("MAX_VIAS {}", l.max_vias));
    parts.join(", ")
}

/// The `poll method support:` value.
pub fn poll_methods() -> String {
    if POLL_METHODS.is_empty() {
        NO_POLL_METHOD.to_string()
    } else {
        POLL_METHODS.join(", ")
    }
}

/// Whole `ser -V` text, ending with a newline.
pub fn text() -> String {
    let build = if cfg!(debug_assertions) {
        "debug (debug assertions on)"
    } else {
        "release"
    };
    format!(
        "{}\nflags: {}\npoll method support: {}\nbuild: {build}\n",
        version_line(),
        flags(),
        poll_methods(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_names_version_target_flags_and_poll_methods() {
        let t = text();
        let mut lines = t.lines();
        assert_eq!(lines.next().unwrap(), version_line());
        assert!(version_line().starts_with("version: ser "));
        assert!(version_line().contains(&target()));
        let flags_line = lines.next().unwrap();
        assert!(flags_line.starts_with("flags: ZERO_COPY_SIP_PARSER, "));
        assert!(flags_line.contains("MAX_URI_SIZE 1024"));
        assert!(flags_line.contains(&format!("BUF_SIZE {}", Limits::DEFAULT.max_message)));
        assert_eq!(
            lines.next().unwrap(),
            "poll method support: io_uring, epoll"
        );
        assert!(lines.next().unwrap().starts_with("build: "));
        assert!(lines.next().is_none());
    }

    #[test]
    fn target_is_arch_slash_os() {
        let t = target();
        let (arch, os) = t.split_once('/').unwrap();
        assert_eq!(arch, std::env::consts::ARCH);
        assert_eq!(os, std::env::consts::OS);
    }
}
