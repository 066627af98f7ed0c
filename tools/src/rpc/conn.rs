//! The transports of the control socket client: unix stream, unix
//! datagram, TCP and UDP, one request and one reply packet at a time.
//! Shared by `sercmd` and `serctl`.
//!
//! Differences from `kamcmd`, on purpose: a reply that does not come
//! within the timeout (10 s by default, `-t`) is an error instead of a
//! hang; a reply may be up to [`MAX_REPLY`] bytes (kamcmd stops at
//! 128 KiB); TCP and UDP hosts may be IPv6 (`tcp:[::1]:2049`).
//!
//! In unix datagram mode the server answers to the client's own socket
//! path, so one is bound: `-R` names it, else `sercmd_<pid>_<random>` in
//! `-D`'s directory or `/tmp`. It is removed when the connection is
//! dropped, and by a handler when SIGINT, SIGTERM or SIGHUP ends the
//! program first.

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;

use ser_core::ctl::addr::CtlAddr;
use ser_core::ctl::binrpc::{self, Frame};

/// Largest reply packet accepted (kamcmd: 128 KiB).
pub const MAX_REPLY: usize = 16 * 1024 * 1024;

/// Receive buffer of the datagram transports: a datagram holds at most
/// 65,535 bytes.
const DGRAM_BUF: usize = 65_536;

/// Where and how to connect.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: CtlAddr,
    /// `-R`: exact reply socket path (unix datagram).
    pub reply_sock: Option<PathBuf>,
    /// `-D`: directory of the reply socket (unix datagram).
    pub reply_dir: Option<PathBuf>,
    /// `None`: wait forever.
    pub timeout: Option<Duration>,
}

enum Link {
    Unix(UnixStream),
    Tcp(TcpStream),
    UnixDgram(UnixDatagram, ReplySocket),
    Udp(UdpSocket),
}

/// An open connection to a control socket.
pub struct Conn {
    link: Link,
    target: Target,
}

/// The reply socket file of the unix datagram mode, removed on drop.
struct ReplySocket {
    path: PathBuf,
}

/// The reply socket path for the signal handler (a leaked C string, or
/// null).
static REPLY_PATH: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

extern "C" fn remove_reply_socket(sig: libc::c_int) {
    let p = REPLY_PATH.swap(std::ptr::null_mut(), Ordering::SeqCst);
    // SAFETY: unlink, signal and raise are async-signal-safe; `p` is a
    // NUL-terminated string leaked by `ReplySocket::bind` and never freed.
    unsafe {
        if !p.is_null() {
            libc::unlink(p);
        }
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

impl ReplySocket {
    fn bind(target: &Target) -> Result<(UnixDatagram, ReplySocket), String> {
        let candidates: Vec<PathBuf> = match &target.reply_sock {
            Some(p) => vec![p.clone()],
            None => {
                let dir = target
                    .reply_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("/tmp"));
                (0..10)
                    .map(|_| {
                        dir.join(format!(
                            "sercmd_{}_{:08x}",
                            std::process::id(),
                            random_u32()
                        ))
                    })
                    .collect()
            }
        };
        let mut last = String::new();
        for path in candidates {
            match UnixDatagram::bind(&path) {
                Ok(s) => {
                    if let Ok(c) = CString::new(path.as_os_str().as_bytes()) {
                        let old = REPLY_PATH.swap(c.into_raw(), Ordering::SeqCst);
                        if !old.is_null() {
                            // SAFETY: it came from CString::into_raw above
                            // and no handler holds it any more.
                            drop(unsafe { CString::from_raw(old) });
                        }
                        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                            // SAFETY: installs a handler that only calls
                            // async-signal-safe functions.
                            unsafe {
                                libc::signal(
                                    sig,
                                    remove_reply_socket as *const () as libc::sighandler_t,
                                );
                            }
                        }
                    }
                    return Ok((s, ReplySocket { path }));
                }
                Err(e) => last = format!("cannot bind the reply socket {}: {e}", path.display()),
            }
        }
        Err(last)
    }
}

impl Drop for ReplySocket {
    fn drop(&mut self) {
        let p = REPLY_PATH.swap(std::ptr::null_mut(), Ordering::SeqCst);
        if !p.is_null() {
            // SAFETY: it came from CString::into_raw in `bind`.
            drop(unsafe { CString::from_raw(p) });
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A random number, from the standard library's per-process hash keys
/// and the clock (no dependency for something this small).
pub fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.write_u32(std::process::id());
    (h.finish() >> 16) as u32
}

fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    if host == "*" {
        return Err("could not resolve *".into());
    }
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("could not resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("could not resolve {host}"));
    }
    Ok(addrs)
}

/// Why a connection could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenError {
    pub message: String,
    /// Nothing listens at the address (no socket file, or the connection
    /// was refused): no server runs there.
    pub not_listening: bool,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for OpenError {
    fn from(message: String) -> OpenError {
        OpenError {
            message,
            not_listening: false,
        }
    }
}

/// A failed `connect`: whether it says that nothing listens there.
fn connect_error(addr: &CtlAddr, e: &io::Error) -> OpenError {
    OpenError {
        message: format!("cannot connect to {addr}: {e}"),
        not_listening: matches!(
            e.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
        ),
    }
}

impl Conn {
    /// Connects (or, for datagrams, binds and connects the socket).
    pub fn open(target: &Target) -> Result<Conn, OpenError> {
        let t = target.timeout;
        let addr = &target.addr;
        let link = match addr {
            CtlAddr::UnixStream(p) => {
                let s = UnixStream::connect(p).map_err(|e| connect_error(addr, &e))?;
                s.set_read_timeout(t).map_err(|e| e.to_string())?;
                s.set_write_timeout(t).map_err(|e| e.to_string())?;
                Link::Unix(s)
            }
            CtlAddr::Tcp(host, port) => {
                let mut last = OpenError::from(format!("cannot connect to {addr}"));
                let mut found = None;
                for a in resolve(host, *port)? {
                    let r = match t {
                        Some(t) => TcpStream::connect_timeout(&a, t),
                        None => TcpStream::connect(a),
                    };
                    match r {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = connect_error(addr, &e),
                    }
                }
                let s = found.ok_or(last)?;
                s.set_read_timeout(t).map_err(|e| e.to_string())?;
                s.set_write_timeout(t).map_err(|e| e.to_string())?;
                let _ = s.set_nodelay(true);
                Link::Tcp(s)
            }
            CtlAddr::UnixDgram(p) => {
                let (s, reply) = ReplySocket::bind(target)?;
                s.connect(p).map_err(|e| connect_error(addr, &e))?;
                s.set_read_timeout(t).map_err(|e| e.to_string())?;
                s.set_write_timeout(t).map_err(|e| e.to_string())?;
                Link::UnixDgram(s, reply)
            }
            CtlAddr::Udp(host, port) => {
                let a = *resolve(host, *port)?
                    .first()
                    .ok_or_else(|| format!("could not resolve {host}"))?;
                let local: SocketAddr = if a.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let s =
                    UdpSocket::bind(local).map_err(|e| format!("cannot open a UDP socket: {e}"))?;
                s.connect(a).map_err(|e| connect_error(addr, &e))?;
                s.set_read_timeout(t).map_err(|e| e.to_string())?;
                Link::Udp(s)
            }
        };
        Ok(Conn {
            link,
            target: target.clone(),
        })
    }

    /// Whether the transport keeps a connection (a failed call leaves it
    /// unusable).
    pub fn is_stream(&self) -> bool {
        matches!(self.link, Link::Unix(_) | Link::Tcp(_))
    }

    fn read_error(&self, e: io::Error) -> String {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => match self.target.timeout {
                Some(t) => format!(
                    "no reply from {} within {} s",
                    self.target.addr,
                    t.as_secs_f64()
                ),
                None => format!("read reply failed: {e}"),
            },
            _ => format!("read reply failed: {e}"),
        }
    }

    /// Sends a request packet and returns the reply packet (header and
    /// body, nothing after it). With `verbose` > 2 every read is dumped
    /// into `log` as kamcmd's `-vvv` does.
    pub fn call(
        &mut self,
        request: &[u8],
        verbose: u8,
        log: &mut Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        let send_err = |e: io::Error| format!("send packet failed: {e}");
        match &mut self.link {
            Link::Unix(s) => s.write_all(request).map_err(send_err)?,
            Link::Tcp(s) => s.write_all(request).map_err(send_err)?,
            Link::UnixDgram(s, _) => {
                s.send(request).map_err(send_err)?;
            }
            Link::Udp(s) => {
                s.send(request).map_err(send_err)?;
            }
        }
        if self.is_stream() {
            self.read_stream(verbose, log)
        } else {
            self.read_dgram(verbose, log)
        }
    }

    fn read_stream(&mut self, verbose: u8, log: &mut Vec<u8>) -> Result<Vec<u8>, String> {
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let r = match &mut self.link {
                Link::Unix(s) => s.read(&mut chunk),
                Link::Tcp(s) => s.read(&mut chunk),
                _ => return Err("not a stream".into()),
            };
            let n = match r {
                Ok(0) => {
                    return Err("read reply failed: the server closed the connection".into());
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(e)),
            };
            let got = chunk.get(..n).unwrap_or_default();
            if verbose > 2 {
                hexdump(log, got, buf.len());
            }
            buf.extend_from_slice(got);
            match binrpc::frame(&buf) {
                Frame::Incomplete => {}
                Frame::Corrupted => return Err(corrupted(&buf)),
                Frame::Header(h) => {
                    if h.packet_len() > MAX_REPLY {
                        return Err(format!(
                            "reply too big: {} bytes (at most {MAX_REPLY})",
                            h.packet_len()
                        ));
                    }
                    if buf.len() >= h.packet_len() {
                        // Anything after the reply is dropped, as kamcmd
                        // does: nothing is sent unasked.
                        buf.truncate(h.packet_len());
                        return Ok(buf);
                    }
                }
            }
        }
    }

    fn read_dgram(&mut self, verbose: u8, log: &mut Vec<u8>) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; DGRAM_BUF];
        let r = loop {
            let r = match &self.link {
                Link::UnixDgram(s, _) => s.recv(&mut buf),
                Link::Udp(s) => s.recv(&mut buf),
                _ => return Err("not a datagram socket".into()),
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        let n = r.map_err(|e| self.read_error(e))?;
        buf.truncate(n);
        if verbose > 2 {
            hexdump(log, &buf, 0);
        }
        match binrpc::frame(&buf) {
            Frame::Header(h) if buf.len() >= h.packet_len() => {
                buf.truncate(h.packet_len());
                Ok(buf)
            }
            Frame::Corrupted => Err(corrupted(&buf)),
            _ => Err(format!("truncated reply ({n} bytes)")),
        }
    }

    /// The address it talks to.
    pub fn addr(&self) -> &CtlAddr {
        &self.target.addr
    }

    /// The reply socket path (unix datagram mode).
    pub fn reply_path(&self) -> Option<&Path> {
        match &self.link {
            Link::UnixDgram(_, r) => Some(&r.path),
            _ => None,
        }
    }
}

fn corrupted(buf: &[u8]) -> String {
    format!(
        "bad reply: not a BINRPC packet (first byte {:02x})",
        buf.first().copied().unwrap_or(0)
    )
}

/// Appends a dump of `data` (read at `offset` of the reply) to `out`, as
/// kamcmd's `-vvv` prints it.
pub fn hexdump(out: &mut Vec<u8>, data: &[u8], offset: usize) {
    out.extend_from_slice(
        format!(
            "received {} bytes in reply (@offset {offset}):\n",
            data.len()
        )
        .as_bytes(),
    );
    for line in data.chunks(16) {
        let mut hex = String::with_capacity(49);
        for b in line {
            hex.push_str(&format!("{b:02x} "));
        }
        out.extend_from_slice(format!("{hex:<48} ").as_bytes());
        out.extend(
            line.iter()
                .map(|&b| if (0x20..0x7f).contains(&b) { b } else { b'.' }),
        );
        out.push(b'\n');
    }
}
