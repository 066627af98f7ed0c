//! The RPC methods, with Kamailio's names and reply shapes so that
//! operators' scripts carry over. One file per family:
//!
//! - [`core`]: `system.*`, `core.*` and `ctl.*`;
//! - [`ul`]: the location table (`ul.*`);
//! - [`cfg`]: run-time configuration (`cfg.*`);
//! - [`stats`]: statistics (`stats.*`, `cnt.*`, `tm.stats`, `sl.stats`);
//! - [`domain`]: the cached table of local domains (`domain.*`);
//! - [`global`]: SER 2.x's cached global attributes (`global.*`);
//! - [`permissions`]: the cached trusted table (`permissions.trusted*`).

pub mod cfg;
pub mod core;
pub mod domain;
pub mod global;
pub mod permissions;
pub mod stats;
pub mod ul;

use super::binrpc::Writer;
use super::rpc::{Call, RpcResult};

/// A method: its name, the help `system.methodHelp` gives, and the code.
pub struct Method {
    pub name: &'static str,
    pub help: &'static str,
    pub run: fn(&mut Call<'_>, &mut Writer) -> RpcResult,
}

/// Shorthand for the tables below.
pub(crate) const fn m(
    name: &'static str,
    help: &'static str,
    run: fn(&mut Call<'_>, &mut Writer) -> RpcResult,
) -> Method {
    Method { name, help, run }
}

/// Every family's table.
const FAMILIES: &[&[Method]] = &[
    core::METHODS,
    ul::METHODS,
    cfg::METHODS,
    stats::METHODS,
    domain::METHODS,
    global::METHODS,
    permissions::METHODS,
];

/// Every method, sorted by name (byte-wise, as `system.listMethods` sends
/// them).
pub fn all() -> Vec<&'static Method> {
    let mut v: Vec<&'static Method> = FAMILIES.iter().flat_map(|f| f.iter()).collect();
    v.sort_by(|a, b| a.name.cmp(b.name));
    v
}

/// The method named exactly `name` (case-sensitive, as in Kamailio).
pub fn find(name: &str) -> Option<&'static Method> {
    FAMILIES
        .iter()
        .flat_map(|f| f.iter())
        .find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_documented() {
        let all = all();
        for w in all.windows(2) {
            if let [a, b] = w {
                assert_ne!(a.name, b.name);
            }
        }
        for m in &all {
            assert!(!m.help.is_empty(), "{}", m.name);
            assert!(std::ptr::eq(
                find(m.name).map_or(std::ptr::null(), |f| f),
                *m
            ));
        }
        assert!(find("Core.version").is_none());
    }
}
