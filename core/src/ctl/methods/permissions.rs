//! `permissions.*`: the cached `trusted` and `address` tables
//! ([`crate::policy::Trusted`]), with Kamailio's reply shapes and faults:
//! `permissions.trustedReload` and `permissions.addressReload` (both
//! tables are read again, rate-limited by `reload_delta`),
//! `permissions.trustedDump` and `permissions.addressDump`.

use std::time::Instant;

use super::{Method, m};
use crate::ctl::binrpc::Writer;
use crate::ctl::rpc::{Call, Fault, RpcResult};
use crate::policy::trusted::ReloadError;
use crate::script::ctx::level;

pub const METHODS: &[Method] = &[
    m(
        "permissions.trustedReload",
        "Reloads the trusted table from the database into the cache (at most once per reload_delta seconds).",
        trusted_reload,
    ),
    m(
        "permissions.addressReload",
        "Reloads the address table (with the trusted table) from the database into the cache (at most once per reload_delta seconds).",
        trusted_reload,
    ),
    m(
        "permissions.addressDump",
        "Dumps the cached address table: {grp, ip_addr, mask, port, tag} per entry.",
        address_dump,
    ),
    m(
        "permissions.trustedDump",
        "Dumps the cached trusted table: {table: N, item: {ip, proto, pattern, ruri_pattern, tag, priority}, ...}.",
        trusted_dump,
    ),
];

/// What Kamailio prints for a NULL column.
const NULL: &str = "<null>";

fn trusted_reload(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let config = &c.shared.config;
    let Some(t) = config.policy.trusted.as_deref() else {
        return Err(Fault::new(500, "permissions module not loaded"));
    };
    match t.reload_rpc(Instant::now()) {
        Ok(report) => {
            for n in &report.notes {
                crate::log::write(config.debug(), level::L_WARN, &format!("permissions: {n}"));
            }
            crate::log::write(
                config.debug(),
                level::L_INFO,
                &format!(
                    "permissions: {} trusted entries, {} address entries reloaded",
                    report.loaded, report.addresses
                ),
            );
            w.str("Reload OK");
            Ok(())
        }
        Err(ReloadError::Ongoing) => Err(Fault::new(500, "ongoing reload")),
        Err(ReloadError::Failed(e)) => {
            crate::log::write(
                config.debug(),
                level::L_ERR,
                &format!("permissions.trustedReload: {e}"),
            );
            Err(Fault::new(500, "Reload failed."))
        }
    }
}

fn trusted_dump(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let Some(t) = c.shared.config.policy.trusted.as_deref() else {
        return Err(Fault::new(500, "permissions module not loaded"));
    };
    let set = t.snapshot();
    w.struct_start();
    // Kamailio's `table` is the hash bucket of the entry; ours is the
    // entry's place in the table (highest priority first).
    for (i, rule) in set.rules().enumerate() {
        let e = &rule.entry;
        w.name("table").count(i as u64);
        w.member_struct("item");
        w.name("ip").str(e.src_ip.trim());
        w.name("proto").int(rule.proto.code());
        w.name("pattern")
            .str(e.from_pattern.as_deref().unwrap_or(NULL));
        w.name("ruri_pattern")
            .str(e.ruri_pattern.as_deref().unwrap_or(NULL));
        w.name("tag").str(e.tag.as_deref().unwrap_or(NULL));
        w.name("priority").count_signed(rule.priority);
        w.struct_end();
    }
    w.struct_end();
    Ok(())
}

fn address_dump(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let Some(t) = c.shared.config.policy.trusted.as_deref() else {
        return Err(Fault::new(500, "permissions module not loaded"));
    };
    let set = t.addresses();
    for e in set.entries() {
        w.struct_start();
        w.name("grp").count(u64::from(e.group));
        w.name("ip_addr").str(e.net.to_string());
        w.name("mask").count(u64::from(e.mask));
        w.name("port").count(u64::from(e.port));
        w.name("tag").str(e.tag.as_deref().unwrap_or(NULL));
        w.struct_end();
    }
    Ok(())
}
