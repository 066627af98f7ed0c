//! The control thread: listens on the `binrpc` addresses (unix stream and
//! datagram, TCP, UDP), frames requests, runs them one at a time and
//! sends each reply in one write.
//!
//! It runs off the shards, on its own thread with a `poll` loop over
//! non-blocking sockets, so a slow or hostile client never delays SIP
//! traffic. What it holds is bounded: at most [`MAX_CONNECTIONS`] stream
//! connections (a new one evicts the one idle longest, once it has been
//! idle for [`EVICT_IDLE`]; until then new ones wait), requests of at
//! most [`MAX_REQUEST`] bytes, and a connection that leaves a request half
//! sent, or does not read its reply, for [`STALL_TIMEOUT`] is closed. A
//! malformed packet gets a 400 fault and the connection is closed, as in
//! Kamailio.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::CtlParams;
use super::addr::CtlAddr;
use super::binrpc::{self, Frame};
use super::rpc;
use crate::shard::Shared;

/// Most stream connections open at once (Kamailio's limit too).
pub const MAX_CONNECTIONS: usize = 128;

/// Largest request packet accepted (Kamailio's read buffer).
pub const MAX_REQUEST: usize = 65_535;

/// Largest reply body over a datagram socket (a datagram holds 65,535
/// bytes, header included).
pub const MAX_DGRAM_BODY: usize = 65_000;

/// A connection that stalls half-way through a request or a reply for
/// this long is closed.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the loop looks at the stop flag and the stall timers.
const TICK_MS: i32 = 200;

/// How often it looks for a free slot while every connection is taken.
const FULL_TICK_MS: i32 = 20;

/// A connection idle this long may be closed to make room for a new one.
pub const EVICT_IDLE: Duration = Duration::from_secs(1);

/// What the `ctl.*` and `core.*` methods learn about the control socket.
#[derive(Debug)]
pub struct CtlInfo {
    /// The listen addresses.
    pub listen: Vec<CtlAddr>,
    /// Open stream connections: transport, peer, peer port, local, local
    /// port (as `ctl.who` shows them).
    pub who: Vec<[String; 5]>,
    /// When the router started.
    pub started: SystemTime,
}

enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
    UnixDgram(UnixDatagram, PathBuf),
    Udp(UdpSocket),
}

impl Listener {
    fn fd(&self) -> RawFd {
        match self {
            Listener::Unix(l, _) => l.as_raw_fd(),
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::UnixDgram(s, _) => s.as_raw_fd(),
            Listener::Udp(s) => s.as_raw_fd(),
        }
    }
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn fd(&self) -> RawFd {
        match self {
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tcp(s) => s.as_raw_fd(),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
}

struct Conn {
    stream: Stream,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    /// Last time a byte moved either way.
    active: Instant,
    /// Since when a request or a reply is half-way.
    stalled_since: Option<Instant>,
    /// Close once `out` is sent (after a fault for a malformed packet).
    closing: bool,
    who: [String; 5],
}

impl Conn {
    fn busy(&self) -> bool {
        !self.inbuf.is_empty() || !self.out.is_empty()
    }
}

/// A running control thread.
pub struct Ctl {
    handle: JoinHandle<()>,
}

impl Ctl {
    /// Waits for the thread after [`Shared::stop`] was set (it looks at the
    /// flag every 200 ms); it removes its unix socket files.
    pub fn join(self) {
        let _ = self.handle.join();
    }
}

/// Binds every address now (so errors show at start) and starts the
/// control thread.
pub fn start(params: &CtlParams, shared: Arc<Shared>) -> Result<Ctl, String> {
    let mut listeners = Vec::new();
    for a in &params.addrs {
        match bind(a, params) {
            Ok(l) => listeners.push(l),
            Err(e) => {
                cleanup(&listeners);
                return Err(format!("ctl: cannot listen on {a}: {e}"));
            }
        }
    }
    let info = CtlInfo {
        listen: params.addrs.clone(),
        who: Vec::new(),
        started: SystemTime::now(),
    };
    let stream_limit = params.max_body;
    let handle = std::thread::Builder::new()
        .name("ser-ctl".into())
        .spawn(move || {
            let mut s = Server {
                listeners,
                conns: Vec::new(),
                info,
                shared,
                stream_limit,
                buf: vec![0u8; MAX_REQUEST + 16],
            };
            s.run();
            cleanup(&s.listeners);
        })
        .map_err(|e| format!("ctl: cannot start its thread: {e}"))?;
    Ok(Ctl { handle })
}

/// Removes a stale unix socket file, refusing one that a live process
/// still serves.
fn take_path(path: &Path, dgram: bool) -> io::Result<()> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    let live = if dgram {
        UnixDatagram::unbound()
            .and_then(|s| s.connect(path))
            .is_ok()
    } else {
        UnixStream::connect(path).is_ok()
    };
    if live {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another process serves this socket",
        ));
    }
    std::fs::remove_file(path)
}

fn set_owner(path: &Path, params: &CtlParams) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(params.mode))?;
    if params.uid.is_some() || params.gid.is_some() {
        std::os::unix::fs::chown(path, params.uid, params.gid)?;
    }
    Ok(())
}

fn resolve(host: &str, port: u16) -> io::Result<std::net::SocketAddr> {
    let host = if host == "*" { "0.0.0.0" } else { host };
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host has no address"))
}

fn bind(a: &CtlAddr, params: &CtlParams) -> io::Result<Listener> {
    Ok(match a {
        CtlAddr::UnixStream(p) => {
            take_path(p, false)?;
            let l = UnixListener::bind(p)?;
            l.set_nonblocking(true)?;
            set_owner(p, params)?;
            Listener::Unix(l, p.clone())
        }
        CtlAddr::UnixDgram(p) => {
            take_path(p, true)?;
            let s = UnixDatagram::bind(p)?;
            s.set_nonblocking(true)?;
            set_owner(p, params)?;
            Listener::UnixDgram(s, p.clone())
        }
        CtlAddr::Tcp(h, port) => {
            let l = TcpListener::bind(resolve(h, *port)?)?;
            l.set_nonblocking(true)?;
            Listener::Tcp(l)
        }
        CtlAddr::Udp(h, port) => {
            let s = UdpSocket::bind(resolve(h, *port)?)?;
            s.set_nonblocking(true)?;
            Listener::Udp(s)
        }
    })
}

fn cleanup(listeners: &[Listener]) {
    for l in listeners {
        if let Listener::Unix(_, p) | Listener::UnixDgram(_, p) = l {
            let _ = std::fs::remove_file(p);
        }
    }
}

struct Server {
    listeners: Vec<Listener>,
    conns: Vec<Conn>,
    info: CtlInfo,
    shared: Arc<Shared>,
    /// Largest reply body over a stream connection.
    stream_limit: usize,
    buf: Vec<u8>,
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

impl Server {
    fn run(&mut self) {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        while !self.shared.stop.load(Ordering::Acquire) {
            fds.clear();
            // With every connection slot taken by a busy or recently
            // active client, new ones wait in the backlog.
            let full = !self.room();
            for l in &self.listeners {
                let stream = matches!(l, Listener::Unix(..) | Listener::Tcp(_));
                fds.push(libc::pollfd {
                    fd: l.fd(),
                    events: if full && stream { 0 } else { libc::POLLIN },
                    revents: 0,
                });
            }
            for c in &self.conns {
                // A connection with a reply still going out is not read
                // until it is sent: requests are answered in order, and a
                // client that does not read cannot make us buffer more.
                let events = if c.out.is_empty() {
                    libc::POLLIN
                } else {
                    libc::POLLOUT
                };
                fds.push(libc::pollfd {
                    fd: c.stream.fd(),
                    events,
                    revents: 0,
                });
            }
            // SAFETY: `fds` is a live array of `fds.len()` pollfds.
            let tick = if full { FULL_TICK_MS } else { TICK_MS };
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, tick) };
            if n > 0 {
                let nl = self.listeners.len();
                // Connections first (accepting may evict and shift them).
                let ready: Vec<(usize, i16)> = fds
                    .iter()
                    .skip(nl)
                    .enumerate()
                    .filter(|(_, f)| f.revents != 0)
                    .map(|(i, f)| (i, f.revents))
                    .collect();
                for &(i, ev) in ready.iter().rev() {
                    self.on_conn(i, ev);
                }
                let ready: Vec<usize> = fds
                    .iter()
                    .take(nl)
                    .enumerate()
                    .filter(|(_, f)| f.revents != 0)
                    .map(|(i, _)| i)
                    .collect();
                for i in ready {
                    self.on_listener(i);
                }
            }
            self.reap_stalled();
        }
    }

    fn on_listener(&mut self, i: usize) {
        match self.listeners.get(i) {
            Some(Listener::Unix(..) | Listener::Tcp(_)) => self.accept_all(i),
            Some(Listener::UnixDgram(..) | Listener::Udp(_)) => {
                // Bounded: a flood of datagrams cannot keep the loop here.
                for _ in 0..64 {
                    if !self.one_datagram(i) {
                        break;
                    }
                }
            }
            None => {}
        }
    }

    /// Receives and answers one datagram on listener `i`; false when none
    /// was waiting.
    fn one_datagram(&mut self, i: usize) -> bool {
        enum From {
            Path(PathBuf),
            Anonymous,
            Ip(std::net::SocketAddr),
        }
        let got = match self.listeners.get(i) {
            Some(Listener::UnixDgram(s, _)) => s.recv_from(&mut self.buf).map(|(n, a)| {
                let from = a
                    .as_pathname()
                    .map_or(From::Anonymous, |p| From::Path(p.to_path_buf()));
                (n, from)
            }),
            Some(Listener::Udp(s)) => s.recv_from(&mut self.buf).map(|(n, a)| (n, From::Ip(a))),
            _ => return false,
        };
        let Ok((n, from)) = got else {
            return false;
        };
        // An unbound unix sender has no address to answer to.
        if matches!(from, From::Anonymous) {
            return true;
        }
        let Some(reply) = self.datagram(n) else {
            return true;
        };
        match (self.listeners.get(i), from) {
            (Some(Listener::UnixDgram(s, _)), From::Path(p)) => {
                let _ = s.send_to(&reply, p);
            }
            (Some(Listener::Udp(s)), From::Ip(a)) => {
                let _ = s.send_to(&reply, a);
            }
            _ => {}
        }
        true
    }

    /// Accepts the next pending connection of listener `i` (bounded, so a
    /// flood of connections cannot keep the loop here for ever).
    fn accept_all(&mut self, i: usize) {
        for _ in 0..256 {
            if !self.room() {
                return;
            }
            let accepted = match self.listeners.get(i) {
                Some(Listener::Unix(l, path)) => match l.accept() {
                    Ok((s, _)) => Some((
                        Stream::Unix(s),
                        [
                            "unix_stream".to_string(),
                            "<anonymous unix socket>".into(),
                            String::new(),
                            path.display().to_string(),
                            String::new(),
                        ],
                    )),
                    Err(_) => None,
                },
                Some(Listener::Tcp(l)) => match l.accept() {
                    Ok((s, peer)) => {
                        let local = s.local_addr().ok();
                        let _ = s.set_nodelay(true);
                        Some((
                            Stream::Tcp(s),
                            [
                                "tcp".to_string(),
                                peer.ip().to_string(),
                                peer.port().to_string(),
                                local.map(|a| a.ip().to_string()).unwrap_or_default(),
                                local.map(|a| a.port().to_string()).unwrap_or_default(),
                            ],
                        ))
                    }
                    Err(_) => None,
                },
                _ => None,
            };
            match accepted {
                Some((s, who)) => self.add_conn(s, who),
                None => return,
            }
        }
    }

    /// Whether one more stream connection may be taken: below
    /// [`MAX_CONNECTIONS`], or after closing the connections idle for
    /// [`EVICT_IDLE`] or more. Otherwise new connections wait in the
    /// kernel's backlog.
    fn room(&mut self) -> bool {
        if self.conns.len() < MAX_CONNECTIONS {
            return true;
        }
        let now = Instant::now();
        self.conns
            .retain(|c| c.busy() || now.duration_since(c.active) < EVICT_IDLE);
        self.conns.len() < MAX_CONNECTIONS
    }

    fn add_conn(&mut self, stream: Stream, who: [String; 5]) {
        let nonblocking = match &stream {
            Stream::Unix(s) => s.set_nonblocking(true),
            Stream::Tcp(s) => s.set_nonblocking(true),
        };
        if nonblocking.is_err() {
            return;
        }
        self.conns.push(Conn {
            stream,
            inbuf: Vec::new(),
            out: Vec::new(),
            active: Instant::now(),
            stalled_since: None,
            closing: false,
            who,
        });
    }

    /// A request datagram of `n` bytes in `self.buf`: the reply, if any
    /// (a truncated packet gets none; only the first packet counts).
    fn datagram(&mut self, n: usize) -> Option<Vec<u8>> {
        let data = self.buf.get(..n)?;
        match binrpc::frame(data) {
            Frame::Incomplete => None,
            Frame::Corrupted => Some(rpc::corrupted()),
            Frame::Header(h) if h.packet_len() > n => None,
            Frame::Header(h) => {
                self.info.who = self.who();
                let limit = MAX_DGRAM_BODY.min(self.stream_limit);
                let a = rpc::handle(data, &h, &self.shared, &self.info, limit);
                Some(a.packet)
            }
        }
    }

    fn who(&self) -> Vec<[String; 5]> {
        self.conns.iter().map(|c| c.who.clone()).collect()
    }

    /// Connection `i` is readable or writable (or closed).
    fn on_conn(&mut self, i: usize, ev: i16) {
        let keep = self.service(i, ev);
        if !keep && i < self.conns.len() {
            self.conns.swap_remove(i);
        }
    }

    /// Returns false when the connection is to be closed.
    fn service(&mut self, i: usize, ev: i16) -> bool {
        let Some(c) = self.conns.get_mut(i) else {
            return true;
        };
        if !c.out.is_empty() {
            return self.flush(i);
        }
        if ev & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
            return true;
        }
        // Read what is there, up to one packet's worth beyond what is kept.
        let room = (MAX_REQUEST + 16).saturating_sub(c.inbuf.len()).max(1);
        let Some(buf) = self.buf.get_mut(..room) else {
            return false;
        };
        match c.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                c.inbuf.extend_from_slice(buf.get(..n).unwrap_or_default());
                c.active = Instant::now();
            }
            Err(e) if would_block(&e) => return true,
            Err(_) => return false,
        }
        self.process(i)
    }

    /// Answers every whole request in connection `i`'s buffer, in order.
    fn process(&mut self, i: usize) -> bool {
        loop {
            let Some(c) = self.conns.get(i) else {
                return false;
            };
            if c.closing || !c.out.is_empty() {
                break;
            }
            let (answer, used) = match binrpc::frame(&c.inbuf) {
                Frame::Incomplete => break,
                Frame::Corrupted => (
                    rpc::Answer {
                        packet: rpc::corrupted(),
                        close: true,
                    },
                    c.inbuf.len(),
                ),
                Frame::Header(h) if h.packet_len() > MAX_REQUEST => (
                    rpc::Answer {
                        packet: rpc::fault_packet(
                            h.cookie,
                            &rpc::Fault::new(400, "bad request: request too big"),
                        ),
                        close: true,
                    },
                    c.inbuf.len(),
                ),
                Frame::Header(h) if h.packet_len() > c.inbuf.len() => break,
                Frame::Header(h) => {
                    self.info.who = self.who();
                    let Some(c) = self.conns.get(i) else {
                        return false;
                    };
                    let a = rpc::handle(&c.inbuf, &h, &self.shared, &self.info, self.stream_limit);
                    (a, h.packet_len())
                }
            };
            let Some(c) = self.conns.get_mut(i) else {
                return false;
            };
            c.inbuf.drain(..used.min(c.inbuf.len()));
            c.out = answer.packet;
            c.closing = answer.close;
            if !self.flush(i) {
                return false;
            }
        }
        let Some(c) = self.conns.get_mut(i) else {
            return false;
        };
        c.stalled_since = if c.busy() {
            c.stalled_since.or(Some(Instant::now()))
        } else {
            None
        };
        true
    }

    /// Sends what connection `i` has queued; returns false to close it.
    fn flush(&mut self, i: usize) -> bool {
        let Some(c) = self.conns.get_mut(i) else {
            return false;
        };
        while !c.out.is_empty() {
            match c.stream.write(&c.out) {
                Ok(0) => return false,
                Ok(n) => {
                    c.out.drain(..n.min(c.out.len()));
                    c.active = Instant::now();
                }
                Err(e) if would_block(&e) => {
                    c.stalled_since = c.stalled_since.or(Some(Instant::now()));
                    return true;
                }
                Err(_) => return false,
            }
        }
        if c.closing {
            return false;
        }
        // More requests may be waiting behind the one just answered.
        if !c.inbuf.is_empty() {
            return self.process(i);
        }
        c.stalled_since = None;
        true
    }

    fn reap_stalled(&mut self) {
        let now = Instant::now();
        self.conns.retain(|c| {
            c.stalled_since
                .is_none_or(|t| now.duration_since(t) < STALL_TIMEOUT)
        });
    }
}
