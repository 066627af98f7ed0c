//! The control socket (module `ctl`): BINRPC over unix stream and
//! datagram sockets, TCP and UDP, served off the shards so that `kamcmd`,
//! `sercmd` and scripts can query and change the running router.
//!
//! - [`binrpc`]: the wire format (shared with the `sercmd` client);
//! - [`addr`]: `[proto:]name[:port]` addresses;
//! - [`server`]: the control thread and its bounded connections;
//! - [`rpc`]: parameters, faults and dispatch;
//! - [`methods`]: the methods, with Kamailio's names and reply shapes;
//! - [`xmlrpc`]: the xmlrpc module's `dispatch_rpc()` (HTTP is not built).
//!
//! The socket opens when the config loads `ctl`: on the `binrpc`
//! addresses, or on the default of the config's dialect (SER's
//! `unixs:/tmp/ser_ctl`, Kamailio's `unixs:/var/run/kamailio//kamailio_ctl`).

pub mod addr;
pub mod binrpc;
pub mod methods;
pub mod rpc;
pub mod server;
pub mod xmlrpc;

use ser_cfg::dialect::Dialect;
use ser_cfg::ir::Program;

use addr::{CtlAddr, Side};

/// Largest reply body over a stream by default: under the 128 KiB that
/// `kamcmd` reads.
pub const DEFAULT_MAX_BODY: usize = 120 * 1024;

/// What the `ctl` module's parameters ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtlParams {
    pub addrs: Vec<CtlAddr>,
    /// Largest reply body over a stream connection, in bytes
    /// (`binrpc_max_body_size`, given in KB).
    pub max_body: usize,
    /// Permissions of unix socket files (`mode`, default 0600).
    pub mode: u32,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// A user or group given by name or number.
fn id_of(what: &str, name: &str) -> Result<u32, String> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(n);
    }
    let c = std::ffi::CString::new(name).map_err(|_| format!("bad {what} name"))?;
    // SAFETY: getpwnam/getgrnam with a live NUL-terminated string; the
    // result is read at once (start-up, one thread).
    unsafe {
        if what == "user" {
            let pw = libc::getpwnam(c.as_ptr());
            if !pw.is_null() {
                return Ok((*pw).pw_uid);
            }
        } else {
            let gr = libc::getgrnam(c.as_ptr());
            if !gr.is_null() {
                return Ok((*gr).gr_gid);
            }
        }
    }
    Err(format!("no {what} `{name}`"))
}

impl CtlParams {
    /// The control socket the program asks for; `None` when it does not
    /// load `ctl`.
    pub fn from_program(p: &Program) -> Result<Option<CtlParams>, String> {
        let mut loaded = false;
        let mut c = CtlParams {
            addrs: Vec::new(),
            max_body: DEFAULT_MAX_BODY,
            mode: 0o600,
            uid: None,
            gid: None,
        };
        for m in p.modules.iter().filter(|m| p.str(m.name) == "ctl") {
            loaded = true;
            for (name, value) in &m.params {
                let v = p.const_text(value);
                let name = p.str(*name);
                let err = |e: String| format!("modparam(\"ctl\", \"{name}\", \"{v}\"): {e}");
                match name {
                    "binrpc" => c.addrs.push(CtlAddr::parse(&v, Side::Server).map_err(err)?),
                    "binrpc_max_body_size" => {
                        let kb = v
                            .trim()
                            .parse::<usize>()
                            .ok()
                            .filter(|k| (1..=1024).contains(k))
                            .ok_or_else(|| err("expected 1-1024 (KB)".into()))?;
                        c.max_body = kb * 1024;
                    }
                    "mode" => {
                        // Written in octal in configs (0600), read as a
                        // number by the parser: accept both spellings.
                        let m = u32::from_str_radix(v.trim().trim_start_matches("0o"), 8)
                            .ok()
                            .filter(|m| *m <= 0o777)
                            .ok_or_else(|| err("expected an octal mode such as 0660".into()))?;
                        c.mode = m;
                    }
                    "user" => c.uid = Some(id_of("user", &v).map_err(err)?),
                    "group" => c.gid = Some(id_of("group", &v).map_err(err)?),
                    _ => {}
                }
            }
        }
        if !loaded {
            return Ok(None);
        }
        if c.addrs.is_empty() {
            let default = if p.dialect == Dialect::Kamailio {
                addr::KAMAILIO_DEFAULT
            } else {
                addr::SER_DEFAULT
            };
            c.addrs
                .push(CtlAddr::parse(default, Side::Server).map_err(|e| format!("ctl: {e}"))?);
        }
        c.addrs.dedup();
        Ok(Some(c))
    }
}
