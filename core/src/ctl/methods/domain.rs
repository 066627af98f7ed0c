//! `domain.*`: the `domain` module's cached table of local domains
//! ([`crate::policy::Domains`]), with Kamailio's reply shapes and faults.
//!
//! A reload reads the table on the control thread (it waits for the
//! database, bounded by the store's time limits; the shards go on with the
//! old table until the new one is installed in one step).

use super::{Method, m};
use crate::ctl::binrpc::Writer;
use crate::ctl::rpc::{Call, Fault, RpcResult};
use crate::script::ctx::level;

pub const METHODS: &[Method] = &[
    m(
        "domain.reload",
        "Reloads the domain table from the database into the cache.",
        reload,
    ),
    m(
        "domain.dump",
        "Dumps the cached domain table: {domains: {{domain, did}, ...}, attributes: {{did, name, value}, ...}}.",
        dump,
    ),
];

/// Kamailio's fault when the reload fails.
const RELOAD_FAILED: &str = "Reload of domain tables failed";

fn reload(c: &mut Call<'_>, _w: &mut Writer) -> RpcResult {
    let config = &c.shared.config;
    let Some(d) = config.policy.domains.as_deref() else {
        return Err(Fault::new(500, "domain module not loaded"));
    };
    match d.reload() {
        Ok(report) => {
            for n in &report.notes {
                crate::log::write(config.debug(), level::L_WARN, &format!("domain: {n}"));
            }
            crate::log::write(
                config.debug(),
                level::L_INFO,
                &format!("domain: {} local domains reloaded", report.loaded),
            );
            Ok(())
        }
        Err(e) => {
            crate::log::write(config.debug(), level::L_ERR, &format!("domain.reload: {e}"));
            Err(Fault::new(400, RELOAD_FAILED))
        }
    }
}

fn dump(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let Some(d) = c.shared.config.policy.domains.as_deref() else {
        return Err(Fault::new(500, "domain module not loaded"));
    };
    let set = d.snapshot();
    if set.is_empty() {
        return Err(Fault::new(404, "Server Domain Cache Empty"));
    }
    w.struct_start();
    w.member_struct("domains");
    for row in set.rows() {
        w.struct_start();
        w.name("domain").str(&row.domain);
        w.name("did").str(row.did.as_deref().unwrap_or("<null>"));
        w.struct_end();
    }
    w.struct_end();
    // SER 2.x domain attributes (load_domain_attrs), by did.
    w.member_struct("attributes");
    let mut dids: Vec<&str> = set
        .rows()
        .iter()
        .map(|r| r.did.as_deref().unwrap_or(&r.domain))
        .collect();
    dids.sort_unstable();
    dids.dedup();
    for did in dids {
        for (name, value) in set.attrs(did).iter().rev() {
            w.struct_start();
            w.name("did").str(did);
            w.name("name").str(&name[..]);
            w.name("value").str(&value.to_bytes()[..]);
            w.struct_end();
        }
    }
    w.struct_end();
    w.struct_end();
    Ok(())
}
