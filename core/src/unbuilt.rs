//! Modules a config may load whose work is not built yet, and module
//! parameters with no effect yet.
//!
//! A config that *calls* a function not built is refused at load time
//! (with the list). Modules that act through parameters alone
//! (`xmlrpc`'s HTTP requests, a FIFO, NAT pinging) would otherwise be
//! taken silently: an operator would believe something runs that does
//! not. The router starts, and says at start what it will not do.

use ser_cfg::ir::Program;

/// `(module, parameter or "" for the module itself, what is missing)`.
const NOT_BUILT: &[(&str, &str, &str)] = &[
    (
        "xmlrpc",
        "",
        "XML-RPC over HTTP needs TCP, which is not built: its route is never entered (use the ctl socket)",
    ),
    (
        "mi_fifo",
        "",
        "the MI FIFO is not built (use the ctl socket with sercmd or kamcmd)",
    ),
    ("mi_rpc", "", "MI commands over RPC are not built"),
    (
        "ctl",
        "fifo",
        "the FIFO transport of ctl is not built (use a binrpc address)",
    ),
    ("nathelper", "", "NAT helpers are not built: no NAT pinging"),
    ("rtpproxy", "", "the RTP proxy control is not built"),
    ("mediaproxy", "", "mediaproxy is not built"),
    ("presence", "", "the presence server is not built"),
    ("presence_xml", "", "the presence server is not built"),
    ("cpl-c", "", "CPL is not built"),
    (
        "acc",
        "log_facility",
        "records go where the other log lines go",
    ),
    ("acc", "radius_flag", "RADIUS accounting is not built"),
    (
        "acc",
        "log_fmt",
        "the record's fields are fixed (log_fmt is not read)",
    ),
    (
        "acc_db",
        "log_fmt",
        "the row's columns are fixed (log_fmt is not read)",
    ),
    ("acc_db", "attrs", "AVPs are not written with the rows"),
];

/// One warning per loaded module (or set parameter) of [`NOT_BUILT`].
pub fn warnings(p: &Program) -> Vec<String> {
    let mut out = Vec::new();
    for m in &p.modules {
        let name = p.str(m.name);
        let name = name.strip_suffix(".so").unwrap_or(name);
        for (module, param, why) in NOT_BUILT.iter().filter(|(md, _, _)| *md == name) {
            if param.is_empty() {
                out.push(format!("module {module}: {why}"));
            } else if m.params.iter().any(|(n, _)| p.str(*n) == *param) {
                out.push(format!("modparam(\"{module}\", \"{param}\"): {why}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(cfg: &str) -> Program {
        let parsed = ser_cfg::parse_str("t.cfg", cfg, &[]).unwrap();
        ser_cfg::compile::compile(&parsed).unwrap()
    }

    #[test]
    fn loaded_but_not_built_modules_are_named() {
        let p = program(
            "loadmodule \"sl\"\nloadmodule \"tm\"\nloadmodule \"xmlrpc\"\nloadmodule \"ctl\"\n\
             modparam(\"ctl\", \"fifo\", \"fifo:/tmp/x\")\nroute { sl_send_reply(\"200\", \"ok\"); }\n",
        );
        let w = warnings(&p);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("module xmlrpc: XML-RPC over HTTP needs TCP"));
        assert!(w[1].starts_with("modparam(\"ctl\", \"fifo\")"));
        let quiet = program("loadmodule \"sl\"\nroute { sl_send_reply(\"200\", \"ok\"); }\n");
        assert!(warnings(&quiet).is_empty());
    }
}
