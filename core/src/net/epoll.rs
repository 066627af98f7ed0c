//! The epoll driver: level-triggered epoll over the shard's sockets and its
//! eventfd, recvmmsg to receive and sendmmsg to send. It runs where
//! io_uring is switched off (`kernel.io_uring_disabled`, seccomp) or when
//! asked for (`-W epoll`), and behaves like the io_uring driver: same
//! receive size ([`MAX_RECV`]), same truncation report, same counters.

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use socket2::SockAddr;

use super::socket::decode_storage;
use super::{MAX_RECV, Outbox, Outgoing, Received, Turn};

/// Datagrams one recvmmsg asks for.
const RECV_BATCH: usize = 32;

/// Datagrams one sendmmsg carries.
const SEND_BATCH: usize = 64;

/// Datagrams taken from one socket in one [`EpollDriver::poll`], so that a
/// flooded socket cannot starve the others (epoll is level-triggered: the
/// rest is reported again at once).
const RECV_PER_SOCKET: usize = 256;

/// Datagrams kept per socket while its send buffer is full; beyond that a
/// send is dropped and counted as an error, so memory stays bounded.
const MAX_PENDING: usize = 8192;

/// How long [`EpollDriver::flush`] waits for a full send buffer to drain.
const FLUSH_LIMIT: Duration = Duration::from_secs(1);

/// The epoll token of the eventfd (sockets use their index).
const WAKER_TOKEN: u64 = u64::MAX;

/// Receive and send over epoll; see the module doc and [`super::Driver`].
pub struct EpollDriver {
    epfd: OwnedFd,
    sockets: Vec<UdpSocket>,
    waker: RawFd,
    events: Vec<libc::epoll_event>,
    /// Events from the last `wait`, not yet handled by `poll`.
    nready: usize,
    fresh: bool,
    /// Per socket: datagrams not yet taken by the kernel (oldest first).
    pending: Vec<VecDeque<Outgoing>>,
    /// Per socket: its send buffer was full, EPOLLOUT is asked for.
    blocked: Vec<bool>,
    rx: RxBatch,
    tx: TxBatch,
    /// Counted by `wait`/`flush`, reported by the next `poll`.
    sent: usize,
    send_errors: usize,
}

/// Buffers for one recvmmsg. The pointers inside `hdrs` are set before
/// every call (cheap), so nothing here is self-referential across moves.
struct RxBatch {
    bufs: Box<[u8]>,
    names: Box<[libc::sockaddr_storage]>,
    iovs: Box<[libc::iovec]>,
    hdrs: Box<[libc::mmsghdr]>,
}

/// Scratch for one sendmmsg.
struct TxBatch {
    addrs: Vec<SockAddr>,
    iovs: Box<[libc::iovec]>,
    hdrs: Box<[libc::mmsghdr]>,
}

/// `n` zeroed C structs (iovec, mmsghdr, sockaddr_storage).
fn zeroed<T>(n: usize) -> Box<[T]> {
    // SAFETY: only used for plain C structs made of integers and raw
    // pointers, for which all-zero bytes (null pointers) are valid values.
    (0..n).map(|_| unsafe { std::mem::zeroed() }).collect()
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn epoll_ctl(epfd: RawFd, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: token };
    // SAFETY: `ev` is a live epoll_event; the kernel copies it.
    if unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// epoll_wait's timeout: milliseconds rounded up (a 0.3 ms timer must not
/// spin), -1 for none.
fn timeout_ms(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(d) => d
            .as_nanos()
            .div_ceil(1_000_000)
            .try_into()
            .unwrap_or(libc::c_int::MAX),
    }
}

/// Errors that mean the socket itself is broken, not one datagram.
fn is_fatal(e: i32) -> bool {
    matches!(
        e,
        libc::EBADF | libc::EFAULT | libc::EINVAL | libc::ENOTSOCK
    )
}

impl EpollDriver {
    /// Watches `sockets` (index = [`super::SockId`]) and the eventfd
    /// `waker` (not owned: the shard keeps it open while the driver lives).
    pub fn new(sockets: Vec<UdpSocket>, waker: RawFd) -> io::Result<EpollDriver> {
        // SAFETY: no pointers; the result is checked.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd nobody else owns.
        let epfd = unsafe { OwnedFd::from_raw_fd(raw) };
        for (i, s) in sockets.iter().enumerate() {
            epoll_ctl(
                raw,
                libc::EPOLL_CTL_ADD,
                s.as_raw_fd(),
                libc::EPOLLIN as u32,
                i as u64,
            )?;
        }
        epoll_ctl(
            raw,
            libc::EPOLL_CTL_ADD,
            waker,
            libc::EPOLLIN as u32,
            WAKER_TOKEN,
        )?;
        let n = sockets.len();
        let unspecified = SockAddr::from(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        Ok(EpollDriver {
            epfd,
            waker,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; n + 1],
            nready: 0,
            fresh: false,
            pending: (0..n).map(|_| VecDeque::new()).collect(),
            blocked: vec![false; n],
            rx: RxBatch {
                bufs: vec![0u8; RECV_BATCH * MAX_RECV].into_boxed_slice(),
                names: zeroed(RECV_BATCH),
                iovs: zeroed(RECV_BATCH),
                hdrs: zeroed(RECV_BATCH),
            },
            tx: TxBatch {
                addrs: vec![unspecified; SEND_BATCH],
                iovs: zeroed(SEND_BATCH),
                hdrs: zeroed(SEND_BATCH),
            },
            sockets,
            sent: 0,
            send_errors: 0,
        })
    }

    /// See [`super::Driver::wait`].
    pub fn wait(&mut self, out: &mut Outbox, timeout: Option<Duration>) -> io::Result<()> {
        self.enqueue(out);
        for i in 0..self.sockets.len() {
            if !self.blocked[i] && !self.pending[i].is_empty() {
                self.send_pending(i, out);
            }
        }
        self.epoll_wait(timeout_ms(timeout))
    }

    fn epoll_wait(&mut self, ms: libc::c_int) -> io::Result<()> {
        let cap = libc::c_int::try_from(self.events.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `events` has room for `cap` entries, which the kernel
        // fills; the result bounds what is read.
        let n =
            unsafe { libc::epoll_wait(self.epfd.as_raw_fd(), self.events.as_mut_ptr(), cap, ms) };
        self.fresh = true;
        if n < 0 {
            self.nready = 0;
            if errno() == libc::EINTR {
                return Ok(());
            }
            return Err(io::Error::last_os_error());
        }
        self.nready = (n as usize).min(self.events.len());
        Ok(())
    }

    /// See [`super::Driver::poll`].
    pub fn poll<F>(&mut self, out: &mut Outbox, mut on_recv: F) -> io::Result<Turn>
    where
        F: FnMut(Received<'_>, &mut Outbox),
    {
        if !self.fresh {
            // No `wait` since the last poll: look, without blocking.
            self.epoll_wait(0)?;
        }
        self.fresh = false;
        let mut turn = Turn::default();
        let mut result = Ok(());
        for e in 0..self.nready {
            let Some(ev) = self.events.get(e) else { break };
            let (bits, token) = (ev.events, ev.u64);
            if token == WAKER_TOKEN {
                let mut val = 0u64;
                // SAFETY: reads at most 8 bytes into a live u64. epoll said
                // the eventfd is readable and this shard is its only reader,
                // so even a blocking eventfd does not block.
                let _ = unsafe { libc::read(self.waker, (&mut val as *mut u64).cast(), 8) };
                turn.woken = true;
                continue;
            }
            let Ok(i) = usize::try_from(token) else {
                continue;
            };
            if i >= self.sockets.len() {
                continue;
            }
            if bits & libc::EPOLLOUT as u32 != 0 && self.blocked[i] {
                self.send_pending(i, out);
            }
            if bits & (libc::EPOLLIN | libc::EPOLLERR) as u32 != 0 {
                match self.recv_socket(i, out, &mut on_recv) {
                    Ok(n) => turn.received += n,
                    Err(err) => result = Err(err),
                }
            }
        }
        self.nready = 0;
        // On error the counts wait for the next poll.
        result?;
        turn.sent = std::mem::take(&mut self.sent);
        turn.send_errors = std::mem::take(&mut self.send_errors);
        Ok(turn)
    }

    /// Receives up to [`RECV_PER_SOCKET`] datagrams from socket `i`.
    fn recv_socket<F>(&mut self, i: usize, out: &mut Outbox, on_recv: &mut F) -> io::Result<usize>
    where
        F: FnMut(Received<'_>, &mut Outbox),
    {
        let fd = self.sockets[i].as_raw_fd();
        let sock = super::SockId::try_from(i).unwrap_or(super::SockId::MAX);
        let rx = &mut self.rx;
        let mut got = 0;
        let mut handed = 0;
        while got < RECV_PER_SOCKET {
            let want = RECV_BATCH.min(RECV_PER_SOCKET - got);
            let bufs = rx.bufs.as_mut_ptr();
            for k in 0..want {
                rx.iovs[k] = libc::iovec {
                    // SAFETY: k < RECV_BATCH, so the offset stays inside
                    // `bufs` (RECV_BATCH * MAX_RECV bytes).
                    iov_base: unsafe { bufs.add(k * MAX_RECV) }.cast(),
                    iov_len: MAX_RECV,
                };
                let h = &mut rx.hdrs[k];
                h.msg_len = 0;
                h.msg_hdr.msg_name = (&mut rx.names[k] as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen =
                    std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                h.msg_hdr.msg_iov = &mut rx.iovs[k];
                h.msg_hdr.msg_iovlen = 1;
                h.msg_hdr.msg_control = std::ptr::null_mut();
                h.msg_hdr.msg_controllen = 0;
                h.msg_hdr.msg_flags = 0;
            }
            // SAFETY: the first `want` headers point at live buffers, names
            // and iovecs owned by `rx`, which nothing else touches until
            // the call returns; `want` <= their length.
            let r = unsafe {
                libc::recvmmsg(
                    fd,
                    rx.hdrs.as_mut_ptr(),
                    want as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if r < 0 {
                match errno() {
                    libc::EINTR => continue,
                    e if is_fatal(e) => return Err(io::Error::from_raw_os_error(e)),
                    // EAGAIN: drained. Anything else (a pending ICMP error)
                    // was consumed by this call; try again next turn.
                    _ => break,
                }
            }
            let n = (r as usize).min(want);
            for k in 0..n {
                let h = &rx.hdrs[k];
                let len = (h.msg_len as usize).min(MAX_RECV);
                let Some(src) = decode_storage(&rx.names[k], h.msg_hdr.msg_namelen) else {
                    continue;
                };
                let Some(data) = rx.bufs.get(k * MAX_RECV..k * MAX_RECV + len) else {
                    continue;
                };
                handed += 1;
                on_recv(
                    Received {
                        sock,
                        src,
                        data,
                        truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
                    },
                    out,
                );
            }
            got += n;
            if n < want {
                break; // the queue is empty; spare the EAGAIN call
            }
        }
        Ok(handed)
    }

    /// Moves what the outbox holds into the per-socket queues.
    fn enqueue(&mut self, out: &mut Outbox) {
        let mut queue = std::mem::take(&mut out.queue);
        for o in queue.drain(..) {
            match self.pending.get_mut(usize::from(o.sock)) {
                Some(q) if q.len() < MAX_PENDING => q.push_back(o),
                _ => {
                    self.send_errors += 1;
                    out.recycle(o.data);
                }
            }
        }
        // Give the (empty) vector back, keeping its allocation.
        if out.queue.is_empty() {
            out.queue = queue;
        }
    }

    /// Sends socket `i`'s queue with sendmmsg until it is empty or the
    /// send buffer is full (then EPOLLOUT is asked for).
    fn send_pending(&mut self, i: usize, out: &mut Outbox) {
        let fd = self.sockets[i].as_raw_fd();
        let Self {
            pending,
            tx,
            sent,
            send_errors,
            ..
        } = self;
        let q = &mut pending[i];
        let mut full = false;
        while !q.is_empty() {
            let n = q.len().min(SEND_BATCH);
            for (k, o) in q.iter().take(n).enumerate() {
                tx.addrs[k] = SockAddr::from(o.dst);
                tx.iovs[k] = libc::iovec {
                    iov_base: o.data.as_ptr().cast_mut().cast(),
                    iov_len: o.data.len(),
                };
                let h = &mut tx.hdrs[k];
                h.msg_len = 0;
                h.msg_hdr.msg_name = tx.addrs[k].as_ptr().cast_mut().cast();
                h.msg_hdr.msg_namelen = tx.addrs[k].len();
                h.msg_hdr.msg_iov = &mut tx.iovs[k];
                h.msg_hdr.msg_iovlen = 1;
                h.msg_hdr.msg_control = std::ptr::null_mut();
                h.msg_hdr.msg_controllen = 0;
                h.msg_hdr.msg_flags = 0;
            }
            // SAFETY: the first `n` headers point at addresses and iovecs
            // in `tx` and at the data of the first `n` queued datagrams,
            // all alive and unchanged until the call returns.
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    tx.hdrs.as_mut_ptr(),
                    n as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if r > 0 {
                for _ in 0..(r as usize).min(n) {
                    if let Some(o) = q.pop_front() {
                        out.recycle(o.data);
                    }
                }
                *sent += (r as usize).min(n);
                continue;
            }
            match errno() {
                libc::EINTR => continue,
                libc::EAGAIN => {
                    full = true;
                    break;
                }
                _ => {
                    // The first datagram failed (bad destination, wrong
                    // family, too big): count it, drop it, go on.
                    *send_errors += 1;
                    if let Some(o) = q.pop_front() {
                        out.recycle(o.data);
                    }
                }
            }
        }
        if full != self.blocked[i] {
            let mut events = libc::EPOLLIN as u32;
            if full {
                events |= libc::EPOLLOUT as u32;
            }
            // If this fails the socket is broken; its receive path reports it.
            if epoll_ctl(
                self.epfd.as_raw_fd(),
                libc::EPOLL_CTL_MOD,
                fd,
                events,
                i as u64,
            )
            .is_ok()
            {
                self.blocked[i] = full;
            }
        }
    }

    /// See [`super::Driver::flush`]. Gives up after [`FLUSH_LIMIT`] with a
    /// `TimedOut` error (what is left stays queued).
    pub fn flush(&mut self, out: &mut Outbox) -> io::Result<()> {
        self.enqueue(out);
        let deadline = Instant::now() + FLUSH_LIMIT;
        for i in 0..self.sockets.len() {
            loop {
                if self.pending[i].is_empty() {
                    break;
                }
                self.send_pending(i, out);
                if self.pending[i].is_empty() {
                    break;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                let mut pfd = libc::pollfd {
                    fd: self.sockets[i].as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one live pollfd.
                unsafe { libc::poll(&mut pfd, 1, timeout_ms(Some(left))) };
            }
        }
        let left: usize = self.pending.iter().map(VecDeque::len).sum();
        if left > 0 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{left} datagrams still unsent"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Driver;
    use super::*;

    fn open(sockets: Vec<UdpSocket>, waker: RawFd) -> Option<Driver> {
        Some(Driver::Epoll(EpollDriver::new(sockets, waker).unwrap()))
    }

    crate::driver_tests!(open);

    #[test]
    fn timeout_rounds_up() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(Some(Duration::from_micros(300))), 1);
        assert_eq!(timeout_ms(Some(Duration::from_millis(50))), 50);
        assert_eq!(
            timeout_ms(Some(Duration::from_secs(u64::MAX))),
            libc::c_int::MAX
        );
    }
}
