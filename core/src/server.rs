//! Starting and stopping the router: listen addresses from the config and
//! the command line, `myself`, the sockets of every shard, the shard
//! threads, signals (SIGTERM/SIGINT stop, SIGHUP reopens the log, SIGUSR1
//! prints statistics) and the counters printed at exit.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ser_cfg::ast::RouteKind;
use ser_cfg::ir::{ConstValue, Program};

use crate::cli::{self, ListenHost, ListenSpec, Options, PollMethod, Proto as CliProto};
use crate::net::{Backend, socket};
use crate::proxy::{Local, LocalSocket, host_text};
use crate::script::ctx::Config;
use crate::script::{Registry, Script};
use crate::shard::{self, Shared};
use crate::sip::limits::Limits;
use crate::stats::{self, Board, Counter, Snapshot};

/// Exit code when a shard dies (EX_SOFTWARE).
pub const EXIT_SHARD_DIED: u8 = 70;

/// The core parameters the transport reads, from the program's globals.
#[derive(Debug, Default)]
struct Globals {
    listen: Vec<String>,
    port: Option<u16>,
    children: Option<usize>,
    aliases: Vec<String>,
    advertised_address: Option<String>,
    advertised_port: Option<u16>,
    sip_warning: bool,
    server_signature: bool,
    log_stderror: bool,
    /// Core parameters the config sets that have no effect yet.
    ignored: Vec<String>,
}

fn globals(p: &Program) -> Result<Globals, String> {
    let mut g = Globals {
        server_signature: true,
        ..Globals::default()
    };
    for gl in &p.globals {
        let name = p.str(gl.name);
        let text = match gl.value {
            ConstValue::Str(s) => p.str(s).to_string(),
            ConstValue::Int(n) => n.to_string(),
            ConstValue::Bool(b) => u8::from(b).to_string(),
        };
        let flag = match gl.value {
            ConstValue::Bool(b) => b,
            ConstValue::Int(n) => n != 0,
            ConstValue::Str(s) => matches!(p.str(s), "yes" | "on" | "true" | "1"),
        };
        let port = || -> Result<u16, String> {
            text.parse::<u16>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{name}={text}: expected a port, 1-65535"))
        };
        match name {
            "listen" => g.listen.push(text),
            "port" => g.port = Some(port()?),
            "children" => {
                let n = text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=usize::from(cli::MAX_SHARDS)).contains(n))
                    .ok_or_else(|| format!("children={text}: expected 1-{}", cli::MAX_SHARDS))?;
                g.children = Some(n);
            }
            "alias" => g.aliases.push(text),
            "advertised_address" => g.advertised_address = Some(text),
            "advertised_port" => g.advertised_port = Some(port()?),
            "sip_warning" => g.sip_warning = flag,
            "server_signature" => g.server_signature = flag,
            "log_stderror" => g.log_stderror = flag,
            // Read by the script's configuration (`Config::from_program`).
            "debug" | "log_level" => {}
            // No daemon mode: `ser` always stays in the foreground.
            "fork" if !flag => {}
            // Settings that ask for what the router does anyway.
            "dns" | "rev_dns" | "auto_aliases" if !flag => {}
            "disable_tcp" | "disable_tls" | "disable_sctp" if flag => {}
            _ => {
                if !g.ignored.iter().any(|n| n == name) {
                    g.ignored.push(name.to_string());
                }
            }
        }
    }
    Ok(g)
}

/// The addresses of a host name in a listen address (start-up only: a
/// blocking lookup is fine here).
fn resolve(spec: &ListenSpec, name: &str, port: u16) -> Result<Vec<IpAddr>, String> {
    let found: Vec<IpAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(name, port))
        .map_err(|e| format!("listen {spec}: cannot resolve {name}: {e}"))?
        .map(|a| a.ip())
        .collect();
    if found.is_empty() {
        return Err(format!("listen {spec}: {name} has no address"));
    }
    Ok(found)
}

/// The UDP addresses to listen on: `-l` when given, else the config's
/// `listen=`, else every local address. TCP/TLS/SCTP listens are skipped
/// with a warning (not built yet).
fn listen_addresses(opts: &Options, g: &Globals) -> Result<Vec<SocketAddr>, String> {
    let default_port = opts.port.or(g.port).unwrap_or(cli::DEFAULT_PORT);
    let specs: Vec<ListenSpec> = if !opts.listen.is_empty() {
        opts.listen.clone()
    } else {
        g.listen
            .iter()
            .map(|l| {
                l.parse::<ListenSpec>()
                    .map_err(|e| format!("listen={l}: {e}"))
            })
            .collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    for s in &specs {
        if let Some(p) = s.proto
            && p != CliProto::Udp
        {
            eprintln!(
                "ser: warning: listen {s}: {} is not built yet; skipped",
                p.as_str()
            );
            continue;
        }
        let port = s.port.unwrap_or(default_port);
        let ips: Vec<IpAddr> = match &s.host {
            ListenHost::V4(a) => vec![IpAddr::V4(*a)],
            ListenHost::V6(a) => vec![IpAddr::V6(*a)],
            ListenHost::Name(n) => {
                // An interface name (`-l eth0`): its addresses.
                let on_if = socket::interface_addresses(n).unwrap_or_default();
                if !on_if.is_empty() {
                    on_if
                } else {
                    resolve(s, n, port)?
                }
            }
        };
        for ip in ips {
            if ip.is_unspecified() {
                for a in socket::local_addresses().map_err(|e| e.to_string())? {
                    out.push(SocketAddr::new(a, port));
                }
            } else {
                out.push(SocketAddr::new(ip, port));
            }
        }
    }
    if specs.is_empty() {
        for a in socket::local_addresses().map_err(|e| e.to_string())? {
            out.push(SocketAddr::new(a, default_port));
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err("no UDP address to listen on".into());
    }
    Ok(out)
}

/// Attaches the eBPF program that sends each datagram to the shard owning
/// its Call-ID to every address's SO_REUSEPORT group (through shard 0's
/// socket; the group's socket order is the shards' bind order). Without
/// it, messages that land on the wrong shard are handed over in user
/// space, which still works. `SER_STEERING=0` leaves it off (to measure
/// the difference).
fn steer(per_shard: &[Vec<UdpSocket>], shards: usize) {
    if std::env::var_os("SER_STEERING").is_some_and(|v| v == "0") {
        eprintln!(
            "ser: in-kernel steering off (SER_STEERING=0); messages are handed over between shards"
        );
        return;
    }
    let Ok(n) = u32::try_from(shards) else { return };
    let result = crate::net::steer::CallIdSteering::load(n).and_then(|prog| {
        for s in per_shard.first().into_iter().flatten() {
            prog.attach(s)?;
        }
        Ok(prog.depth())
    });
    match result {
        Ok(depth) => eprintln!(
            "ser: datagrams steered to their owner shard in the kernel (eBPF, Call-ID within the first {depth} bytes)"
        ),
        Err(e) => eprintln!(
            "ser: warning: no in-kernel steering ({e}); messages are handed over between shards"
        ),
    }
}

/// A random 64-bit key (branch and tag hashes), from the kernel.
fn random_u64() -> u64 {
    let mut v: u64 = 0;
    // SAFETY: fills 8 bytes of a live u64.
    let n = unsafe { libc::getrandom((&raw mut v).cast(), 8, 0) };
    if n == 8 {
        v
    } else {
        // Not secret-critical: the branch only needs to be unique.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        t ^ (u64::from(std::process::id()) << 32)
    }
}

/// Blocks SIGTERM, SIGINT and SIGHUP in this thread (and so in every thread
/// started after), to be taken with `sigtimedwait`; ignores SIGPIPE.
fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc signal-set calls on a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        set
    }
}

/// Waits up to `ms` for one of the blocked signals.
fn wait_signal(set: &libc::sigset_t, ms: u64) -> Option<i32> {
    let ts = libc::timespec {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
    };
    // SAFETY: `set` and `ts` are live; no siginfo is asked for.
    let s = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &ts) };
    (s > 0).then_some(s)
}

/// Runs the router on a loaded program until SIGTERM/SIGINT. Returns the
/// exit code.
pub fn run(program: Program, opts: &Options, settings: &cli::ProcessSettings) -> u8 {
    match start(program, opts, settings) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ser: {e}");
            cli::EXIT_CONFIG
        }
    }
}

fn start(program: Program, opts: &Options, settings: &cli::ProcessSettings) -> Result<u8, String> {
    let g = globals(&program)?;
    if !g.ignored.is_empty() {
        eprintln!(
            "ser: warning: core parameters with no effect yet: {}",
            g.ignored.join(", ")
        );
    }
    for w in crate::unbuilt::warnings(&program) {
        eprintln!("ser: warning: {w}");
    }
    let addrs = listen_addresses(opts, &g)?;
    let ctl_params = crate::ctl::CtlParams::from_program(&program)?;
    let shards = opts
        .shards
        .map(usize::from)
        .or(g.children)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    let mut config = Config::from_program(&program);
    if opts.debug > 0 {
        config.set_debug(config.debug().max(i32::from(opts.debug)));
    }
    let mut sockets_info = Vec::new();
    for a in &addrs {
        config
            .add_myself(&host_text(a.ip()), Some(a.port()))
            .map_err(|e| e.to_string())?;
        sockets_info.push(LocalSocket {
            addr: *a,
            via_host: g
                .advertised_address
                .clone()
                .unwrap_or_else(|| host_text(a.ip())),
            via_port: g.advertised_port.unwrap_or(a.port()),
        });
    }
    if let Some(adv) = &g.advertised_address {
        config
            .add_myself(adv, g.advertised_port)
            .map_err(|e| format!("advertised_address: {e}"))?;
    }
    for al in &g.aliases {
        let spec: ListenSpec = al.parse().map_err(|e| format!("alias={al}: {e}"))?;
        let host = match &spec.host {
            ListenHost::V4(a) => a.to_string(),
            ListenHost::V6(a) => format!("[{a}]"),
            ListenHost::Name(n) => n.clone(),
        };
        config
            .add_myself(&host, spec.port)
            .map_err(|e| format!("alias={al}: {e}"))?;
    }
    // The databases the modules use (pools start without waiting for
    // their servers).
    let stores = crate::store::stores::Stores::open(&program, opts.db_url.as_deref())?;
    let described = stores.describe();
    if !described.is_empty() {
        eprintln!("ser: stores: {}", described.join(", "));
    }
    // usrloc's store: the bindings still alive are loaded now (db_mode
    // 1 and 2).
    match (config.registrar.db_mode, stores.for_module("usrloc")) {
        (0, _) => {}
        (m @ (1 | 2), Some(pool)) => {
            let db = crate::registrar::persist::UsrlocDb::new(pool, m, config.registrar.use_domain);
            let n = db
                .load(&config.location, crate::registrar::location::now())
                .map_err(|e| format!("usrloc: cannot load the bindings from the store: {e}"))?;
            eprintln!("ser: usrloc: db_mode {m}, {n} bindings loaded from the store");
            config.usrloc_db = Some(Arc::new(db));
        }
        // Store only: nothing loaded, every save and lookup asks the store.
        (3, Some(pool)) => {
            let db = crate::registrar::persist::UsrlocDb::new(pool, 3, config.registrar.use_domain);
            eprintln!("ser: usrloc: db_mode 3, the bindings are read from the store on each use");
            config.usrloc_db = Some(Arc::new(db));
        }
        (m @ (1..=3), None) => return Err(format!("usrloc: db_mode {m} needs a db_url")),
        (m, _) => {
            return Err(format!(
                "usrloc: db_mode {m} is not known (0 memory, 1 write-through, 2 write-back, 3 store only)"
            ));
        }
    }
    // uri_db (does_uri_exist).
    config.uri_db = stores.for_module("uri_db");
    config.uri_db_use_domain = program
        .modules
        .iter()
        .filter(|m| program.str(m.name) == "uri_db")
        .flat_map(|m| m.params.iter())
        .any(|(k, v)| {
            program.str(*k) == "use_domain" && matches!(v, ConstValue::Int(n) if *n != 0)
        });
    // Accounting, with the pool of the module that writes rows.
    let acc_pool = crate::acc::MODULES
        .iter()
        .find_map(|m| stores.for_module(m));
    config.acc = crate::acc::Acc::from_program(&program, acc_pool)?.map(Arc::new);
    // SER 2.x: avp_db's attribute tables, gflags' global attributes.
    config.avp_db = stores.for_module("avp_db");
    config.global_attrs = crate::attrs::setup_global(&program, stores.for_module("gflags"))?;
    // avpops' preferences store.
    if let Some(pool) = stores.for_module("avpops") {
        config.avpops = Some(Arc::new(crate::avpops::AvpDb::from_program(&program, pool)));
    }
    // The auth modules: nonce key, nc table and credentials cache shared
    // by every shard.
    if program
        .modules
        .iter()
        .any(|m| matches!(program.str(m.name), "auth" | "auth_db"))
    {
        let params = crate::auth::Params::from_program(&program);
        let auth = crate::auth::Auth::new(params, crate::registrar::location::now())
            .map_err(|e| format!("auth: cannot draw a nonce key: {e}"))?;
        let store = stores.for_module("auth_db").map(|pool| {
            Arc::new(crate::auth::db::StoreCredentials { pool })
                as Arc<dyn crate::auth::CredentialStore>
        });
        config.auth = Some(Arc::new(crate::auth::AuthModule {
            auth,
            store,
            dialect: program.dialect,
        }));
    }
    // The policy modules (domain, permissions): their tables are read now,
    // before the shards run.
    config.policy = crate::policy::setup(&program, &|module: &str| stores.for_module(module))?;
    let local = Local {
        sockets: sockets_info,
        sip_warning: g.sip_warning,
        server_signature: g.server_signature,
        secret: random_u64(),
    };
    let reply_route = program
        .routes
        .iter()
        .position(|r| r.kind == RouteKind::OnReply && r.name.is_none())
        .map(|i| i as ser_cfg::ir::RouteId);
    let script = Script::load(program, &Registry::builtin()).map_err(|e| format!("config: {e}"))?;

    // No one else may hold a listen address (our shards share it with
    // SO_REUSEPORT; another process must not).
    for a in &addrs {
        socket::check_free(*a).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                format!("cannot listen on udp:{a}: the address is in use by another process")
            } else {
                format!("cannot listen on udp:{a}: {e}")
            }
        })?;
    }
    // Every shard's sockets, bound now so that errors show before start.
    let mut per_shard: Vec<Vec<UdpSocket>> = Vec::with_capacity(shards);
    for _ in 0..shards {
        let mut v = Vec::with_capacity(addrs.len());
        for a in &addrs {
            v.push(
                socket::bind_udp(*a, opts.rcvbuf, None)
                    .map_err(|e| format!("cannot listen on udp:{a}: {e}"))?,
            );
        }
        per_shard.push(v);
    }
    if shards > 1 {
        steer(&per_shard, shards);
    }
    if let Some(first) = per_shard.first().and_then(|v| v.first())
        && let Ok((r, s)) = socket::buffer_sizes(first)
    {
        eprintln!("ser: socket buffers: receive {r} bytes, send {s} bytes");
    }
    settings
        .apply()
        .map_err(|e| format!("cannot apply -w/-P/-u/-g: {e}"))?;

    let shared = Arc::new(Shared {
        script,
        config,
        local,
        shards,
        limits: Limits::default(),
        reply_route,
        stop: AtomicBool::new(false),
        stats: Board::new(shards),
    });
    let (links, wakers) = shard::handoff::mesh(shards).map_err(|e| e.to_string())?;
    let backend = match opts.poll_method {
        Some(PollMethod::Epoll) => Backend::Epoll,
        _ => Backend::Uring,
    };
    let sigset = block_signals();
    if !(opts.log_stderr || g.log_stderror) {
        crate::log::use_syslog("ser", libc::LOG_DAEMON);
    }
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    // SER_PIN=0 leaves the shards to the scheduler (see docs/proxy.md).
    let pin = std::env::var_os("SER_PIN").is_none_or(|v| v != "0");
    let (tx, rx) = std::sync::mpsc::channel();
    let mut handles: Vec<JoinHandle<Snapshot>> = Vec::with_capacity(shards);
    for (i, (l, socks)) in links.into_iter().zip(per_shard).enumerate() {
        let shared = shared.clone();
        let tx = tx.clone();
        let h = std::thread::Builder::new()
            .name(format!("ser-shard-{i}"))
            .spawn(move || {
                if pin
                    && shards <= ncpu
                    && let Err(e) = socket::pin_current_thread(i % ncpu)
                {
                    eprintln!("ser: shard {i}: cannot pin to CPU {}: {e}", i % ncpu);
                }
                shard::run(shared, l, socks, backend, tx)
            })
            .map_err(|e| format!("cannot start shard {i}: {e}"))?;
        handles.push(h);
    }
    drop(tx);
    let mut used = None;
    let mut notes = Vec::new();
    for _ in 0..shards {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok((b, note))) => {
                used = Some(b);
                notes.extend(note);
            }
            Ok(Err(e)) => {
                stop_all(&shared, &wakers, handles);
                return Err(e);
            }
            Err(_) => {
                stop_all(&shared, &wakers, handles);
                return Err("a shard did not start within 10 s".into());
            }
        }
    }
    // The control socket, once the shards run (its methods read them).
    let ctl = match &ctl_params {
        Some(p) => match crate::ctl::server::start(p, shared.clone()) {
            Ok(c) => {
                let at: Vec<String> = p.addrs.iter().map(|a| a.to_string()).collect();
                eprintln!("ser: control socket (binrpc) on {}", at.join(", "));
                Some(c)
            }
            Err(e) => {
                stop_all(&shared, &wakers, handles);
                return Err(e);
            }
        },
        None => None,
    };
    notes.dedup();
    for n in &notes {
        eprintln!("ser: {n}");
    }
    let listen: Vec<String> = addrs
        .iter()
        .map(|a| format!("udp:{}:{}", host_text(a.ip()), a.port()))
        .collect();
    eprintln!(
        "ser: listening on {}; {shards} shard{} using {}",
        listen.join(", "),
        if shards == 1 { "" } else { "s" },
        used.unwrap_or(backend).as_str()
    );

    // Wait for a signal or a dead shard.
    let mut code = cli::EXIT_OK;
    loop {
        match wait_signal(&sigset, 200) {
            Some(libc::SIGHUP) => crate::log::reopen(),
            Some(libc::SIGUSR1) => print_statistics(&shared),
            Some(_) => break,
            None => {}
        }
        if let Some(i) = handles.iter().position(|h| h.is_finished()) {
            eprintln!("ser: shard {i} stopped unexpectedly; stopping the router");
            code = EXIT_SHARD_DIED;
            break;
        }
    }
    let totals = stop_all(&shared, &wakers, handles);
    // usrloc db_mode 2: what is marked is written before the pools stop.
    if let Some(db) = &shared.config.usrloc_db {
        db.flush(&shared.config.location, crate::registrar::location::now());
    }
    stores.shutdown();
    if let Some(c) = ctl {
        c.join();
    }
    if totals.iter().any(Option::is_none) {
        code = EXIT_SHARD_DIED;
    }
    let mut sum = Snapshot::default();
    for (i, s) in totals.iter().enumerate() {
        match s {
            Some(s) => {
                eprintln!(
                    "ser: shard {i}: received {} datagrams, handed off {}, handed in {}, sent {}, send errors {}, wake-ups of other shards {}",
                    s.get(Counter::Received),
                    s.get(Counter::HandedOff),
                    s.get(Counter::HandedIn),
                    s.get(Counter::Sent),
                    s.get(Counter::SendErrors),
                    s.get(Counter::Wakeups)
                );
                sum.add(s);
            }
            None => eprintln!("ser: shard {i}: crashed (see the message above)"),
        }
    }
    eprintln!(
        "ser: total: received {} datagrams, handed off {}, sent {}, send errors {}",
        sum.get(Counter::Received),
        sum.get(Counter::HandedOff),
        sum.get(Counter::Sent),
        sum.get(Counter::SendErrors)
    );
    let t = &sum.tm;
    if t.created > 0 {
        eprintln!(
            "ser: tm: transactions created {}, live {}, replies relayed {}, local {}, retransmissions absorbed {}, branch timeouts {}, cancelled {}, refused {}",
            t.created, t.live, t.relayed, t.local, t.absorbed, t.timeouts, t.canceled, t.refused
        );
    }
    let location = shared.config.location.location();
    let bindings = location.bindings();
    if bindings > 0 {
        eprintln!(
            "ser: location: {bindings} bindings of {} AoRs",
            location.aors()
        );
    }
    let (bad, ring_full, panics) = (
        sum.get(Counter::NotSip),
        sum.get(Counter::RingFull),
        sum.get(Counter::Panics),
    );
    if bad + ring_full + panics > 0 {
        eprintln!(
            "ser: total: not SIP {bad}, handled off-owner (ring full) {ring_full}, panics {panics}"
        );
    }
    Ok(code)
}

/// SIGUSR1: every statistic that is not zero, one line each
/// (`ser: stat core:rcv_requests = 12`), then the summary line (which
/// comes last, so a reader that sees it has the lines before it).
fn print_statistics(shared: &Shared) {
    let mut text = String::new();
    for s in stats::all(shared).iter().filter(|s| s.value != 0) {
        text.push_str(&format!("ser: stat {s}\n"));
    }
    text.push_str(&format!(
        "ser: statistics: live transactions {}, bindings {}\n",
        shared.live_transactions(),
        shared.config.location.location().bindings()
    ));
    // One write: the lines are not interleaved with the shards' log.
    eprint!("{text}");
}

/// Stops every shard and collects its counters (`None`: it panicked).
fn stop_all(
    shared: &Shared,
    wakers: &[shard::handoff::Waker],
    handles: Vec<JoinHandle<Snapshot>>,
) -> Vec<Option<Snapshot>> {
    shared.stop.store(true, Ordering::Release);
    for w in wakers {
        w.wake();
    }
    handles.into_iter().map(|h| h.join().ok()).collect()
}
