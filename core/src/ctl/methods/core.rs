//! `system.*` (method list and help), `core.*` (version, uptime, threads,
//! memory, echo) and `ctl.*` (the control socket's own listeners and
//! connections).

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Method, m};
use crate::ctl::addr::CtlAddr;
use crate::ctl::binrpc::{Value, Writer};
use crate::ctl::rpc::{Call, Fault, RpcResult};

pub const METHODS: &[Method] = &[
    m(
        "system.listMethods",
        "Lists the methods this server offers.",
        list_methods,
    ),
    m(
        "system.methodHelp",
        "Returns the help text of a method.",
        method_help,
    ),
    m(
        "system.methodSignature",
        "Returns the signature of a method (not implemented, as in Kamailio).",
        method_signature,
    ),
    m(
        "core.version",
        "Returns the version string of the server.",
        version,
    ),
    m(
        "core.info",
        "Returns the version, compiler and build flags of the server.",
        info,
    ),
    m("core.uptime", "Returns uptime of SIP server.", uptime),
    m(
        "core.ps",
        "Returns the description of running threads (pid, description pairs).",
        ps,
    ),
    m(
        "core.psx",
        "Returns the detailed description of running threads.",
        psx,
    ),
    m(
        "core.shmmem",
        "Returns the memory the router really uses (resident set), in b|k|m|g.",
        shmmem,
    ),
    m(
        "core.echo",
        "Returns back its parameters, as strings.",
        echo,
    ),
    m(
        "ctl.listen",
        "Lists the control socket's listen addresses.",
        listen,
    ),
    m(
        "ctl.who",
        "Lists the open stream connections of the control socket.",
        who,
    ),
    m(
        "ctl.connections",
        "Returns the number of open stream connections of the control socket.",
        connections,
    ),
];

fn list_methods(_: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    for m in super::all() {
        w.str(m.name);
    }
    Ok(())
}

fn method_help(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let name = c
        .params
        .str(0)
        .map_err(|_| Fault::new(400, "Method Name Expected"))?;
    let m = super::find(&name).ok_or_else(|| Fault::new(400, "command not found"))?;
    w.str(m.help);
    Ok(())
}

fn method_signature(_: &mut Call<'_>, _: &mut Writer) -> RpcResult {
    Err(Fault::new(500, "Not Implemented Yet"))
}

fn version(_: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    // Kamailio's text ends with a space; scripts that cut it keep working.
    w.str(format!(
        "{} {} ({}) ",
        crate::version::NAME,
        crate::version::VERSION,
        crate::version::target()
    ));
    Ok(())
}

fn info(_: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    w.struct_start();
    w.name("version").str(format!(
        "{} {}",
        crate::version::NAME,
        crate::version::VERSION
    ));
    w.name("id").str("unknown");
    w.name("compiler").str("rustc");
    w.name("compiled").str("");
    w.name("flags").str(crate::version::flags());
    w.struct_end();
    Ok(())
}

/// `ctime` text without its newline, in local time (as Kamailio prints).
pub(crate) fn ctime(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as libc::time_t;
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: ctime_r writes at most 26 bytes into the 64-byte buffer.
    let p = unsafe { libc::ctime_r(&secs, buf.as_mut_ptr()) };
    if p.is_null() {
        return secs.to_string();
    }
    // SAFETY: ctime_r NUL-terminated the buffer.
    let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    s.to_string_lossy().trim_end().to_string()
}

fn uptime(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let now = SystemTime::now();
    let up = now.duration_since(c.ctl.started).map_or(0, |d| d.as_secs());
    w.struct_start();
    w.name("now").str(ctime(now));
    w.name("up_since").str(ctime(c.ctl.started));
    w.name("uptime").count(up);
    w.struct_end();
    Ok(())
}

/// The router's threads: (tid, description), main thread first.
fn threads(c: &Call<'_>) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    let socks: Vec<String> = c
        .shared
        .local
        .sockets
        .iter()
        .map(|s| format!("udp:{}", s.addr))
        .collect();
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        let comm = comm.trim();
        let desc = if tid as u32 == std::process::id() {
            "main process - attendant".to_string()
        } else if let Some(n) = comm.strip_prefix("ser-shard-") {
            format!(
                "shard {n}: udp receiver and timers sock={}",
                socks.join(",")
            )
        } else if comm == "ser-ctl" {
            "ctl handler".to_string()
        } else {
            comm.to_string()
        };
        out.push((tid, desc));
    }
    out.sort_by_key(|(tid, _)| *tid);
    out
}

fn ps(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    for (tid, desc) in threads(c) {
        w.int(tid).str(desc);
    }
    Ok(())
}

fn psx(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    for (i, (tid, desc)) in threads(c).into_iter().enumerate() {
        w.struct_start();
        w.name("IDX").int(i as i32);
        w.name("PID").int(tid);
        w.name("DSC").str(desc);
        w.struct_end();
    }
    Ok(())
}

fn shmmem(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    let shift = match c
        .params
        .opt_str(0)?
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("b") => 0,
        Some("k") | Some("kb") => 10,
        Some("m") | Some("mb") => 20,
        Some("g") | Some("gb") => 30,
        Some(_) => return Err(Fault::new(500, "bad param, (use b|k|m|g)")),
    };
    let mem = crate::stats::memory();
    w.struct_start();
    for (name, v) in [
        ("total", mem.total),
        ("free", mem.free),
        ("used", mem.used),
        ("real_used", mem.real_used),
        ("max_used", mem.max_used),
        ("fragments", mem.fragments),
    ] {
        w.name(name).count(v >> shift);
    }
    w.struct_end();
    Ok(())
}

fn echo(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    for i in 0..c.params.len() {
        match c.params.get(i) {
            Some(Value::Struct(_) | Value::Array(_)) | None => break,
            Some(_) => {
                w.str(c.params.str(i)?);
            }
        }
    }
    Ok(())
}

fn listen(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    for a in &c.ctl.listen {
        w.str("binrpc").str(a.transport());
        match a {
            CtlAddr::UnixStream(p) | CtlAddr::UnixDgram(p) => {
                w.str(p.display().to_string()).str("");
            }
            CtlAddr::Tcp(h, port) | CtlAddr::Udp(h, port) => {
                w.str(h).str(port.to_string());
            }
        }
    }
    Ok(())
}

fn who(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    if c.ctl.who.is_empty() {
        return Err(Fault::new(400, "no open stream connection"));
    }
    for conn in &c.ctl.who {
        w.str("binrpc");
        for f in conn {
            w.str(f);
        }
    }
    Ok(())
}

fn connections(c: &mut Call<'_>, w: &mut Writer) -> RpcResult {
    w.count(c.ctl.who.len() as u64);
    Ok(())
}
