//! `global.*`: gflags' cached global attributes (SER 2.x
//! `load_global_attrs`, [`crate::attrs::GlobalAttrs`]).
//!
//! A reload reads `global_attrs` on the control thread; the shards go on
//! with the old list until the new one is installed in one step.

use super::{Method, m};
use crate::ctl::binrpc::Writer;
use crate::ctl::rpc::{Call, Fault, RpcResult};
use crate::script::ctx::level;

pub const METHODS: &[Method] = &[
    m(
        "global.reload",
        "Reloads the global attributes (global_attrs) from the database.",
        reload,
    ),
    m(
        "global.dump",
        "Dumps the cached global attributes: {name, value} each, newest first.",
        dump,
    ),
];

const NOT_LOADED: &str = "global attributes not loaded (gflags load_global_attrs)";

fn reload(c: &mut Call<'_>, _w: &mut Writer) -> RpcResult {
    let config = &c.shared.config;
    let Some(g) = config.global_attrs.as_deref() else {
        return Err(Fault::new(500, NOT_LOADED));
    };
    match g.reload() {
        Ok(n) => {
            crate::log::write(
                config.debug(),
                level::L_INFO,
                &format!("gflags: {n} global attributes reloaded"),
            );
            Ok(())
        }
        Err(e) => {
            crate::log::write(config.debug(), level::L_ERR, &format!("global.reload: {e}"));
            Err(Fault::new(400, "Reload of global attributes failed"))
        }
    }
}

fn dump(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let Some(g) = c.shared.config.global_attrs.as_deref() else {
        return Err(Fault::new(500, NOT_LOADED));
    };
    for (name, value) in g.snapshot().iter() {
        w.struct_start();
        w.name("name").str(&name[..]);
        w.name("value").str(&value.to_bytes()[..]);
        w.struct_end();
    }
    Ok(())
}
