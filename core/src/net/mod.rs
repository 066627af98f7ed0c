//! Datagram I/O for one shard.
//!
//! Each shard owns one UDP socket per listen address (all bound with
//! SO_REUSEPORT, see [`socket`]) and one driver that receives on all of
//! them and sends from them. Two drivers do the same job:
//!
//! - [`uring`]: io_uring with a multishot RECVMSG per socket into a
//!   provided-buffer ring, SENDMSG submissions batched into the same
//!   `io_uring_enter` that waits (SINGLE_ISSUER | DEFER_TASKRUN);
//! - [`epoll`]: epoll with recvmmsg/sendmmsg, for hosts where io_uring is
//!   switched off (`kernel.io_uring_disabled`, seccomp) or `-W epoll`.
//!
//! A shard turn is: [`Driver::wait`] (send what is queued in the
//! [`Outbox`], then sleep until a datagram, a wake-up on the shard's
//! eventfd, or the timeout), then [`Driver::poll`] (hand every datagram
//! that arrived to the shard, without blocking). The split lets the shard
//! say "I am awake" between the two, so other shards do not write its
//! eventfd needlessly.

pub mod epoll;
pub mod socket;
pub mod steer;
pub mod uring;

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::RawFd;
use std::time::Duration;

/// Index of a listen address in the shard's socket list. Every shard has
/// the same list, so an index names the same local address on each.
pub type SockId = u16;

/// Largest UDP payload; buffers larger than a few of these are not kept
/// in the [`Outbox`] pool.
pub const MAX_DATAGRAM: usize = 65_535;

/// Largest datagram received whole, by both drivers alike; longer ones
/// are cut to this and reported [`Received::truncated`]. SIP over UDP
/// stays far below (RFC 3261 moves anything near the MTU to TCP).
pub const MAX_RECV: usize = 16_384;

/// A datagram queued for sending.
#[derive(Debug)]
pub struct Outgoing {
    pub sock: SockId,
    pub dst: SocketAddr,
    pub data: Vec<u8>,
}

/// Datagrams waiting to be sent, with a pool of spare buffers so that a
/// busy shard does not allocate per message.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: Vec<Outgoing>,
    pool: Vec<Vec<u8>>,
    /// Datagrams refused because the queue was full.
    overflow: u64,
}

/// Spare buffers kept at most.
const POOL_MAX: usize = 1024;

/// Datagrams waiting at most: when the kernel takes nothing for a while
/// (a full send buffer under overload), newer datagrams are dropped and
/// counted instead of growing the queue without bound.
pub const QUEUE_MAX: usize = 65_536;

impl Outbox {
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// An empty buffer to build a datagram in (recycled when possible).
    pub fn buffer(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_else(|| Vec::with_capacity(2048))
    }

    /// Queues `data` to be sent from socket `sock` to `dst`.
    pub fn push(&mut self, sock: SockId, dst: SocketAddr, data: Vec<u8>) {
        if self.queue.len() >= QUEUE_MAX {
            self.overflow += 1;
            self.recycle(data);
            return;
        }
        self.queue.push(Outgoing { sock, dst, data });
    }

    /// How many datagrams were dropped for a full queue since the last
    /// call.
    pub fn take_overflow(&mut self) -> u64 {
        std::mem::take(&mut self.overflow)
    }

    /// Gives a buffer back once its datagram has been sent.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < POOL_MAX && buf.capacity() <= 4 * MAX_DATAGRAM {
            buf.clear();
            self.pool.push(buf);
        }
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Takes the queued datagrams, oldest first.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Outgoing> {
        self.queue.drain(..)
    }
}

/// A received datagram, valid for the duration of the callback.
#[derive(Debug)]
pub struct Received<'b> {
    pub sock: SockId,
    pub src: SocketAddr,
    pub data: &'b [u8],
    /// The datagram was longer than the buffer and was cut.
    pub truncated: bool,
}

/// What one [`Driver::poll`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Turn {
    /// Datagrams handed to the callback.
    pub received: usize,
    /// The shard's eventfd fired (and was drained).
    pub woken: bool,
    /// Sends that completed.
    pub sent: usize,
    /// Sends that failed (the error is counted, not returned: one bad
    /// destination must not stop the shard).
    pub send_errors: usize,
}

/// Which driver runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Uring,
    Epoll,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Uring => "io_uring",
            Backend::Epoll => "epoll",
        }
    }
}

/// A shard's I/O driver. Create it on the thread that uses it (the
/// io_uring one is bound to its creator and is not `Send`).
#[allow(clippy::large_enum_variant)] // one per shard, made once, never copied about
pub enum Driver {
    Uring(uring::UringDriver),
    Epoll(epoll::EpollDriver),
}

impl Driver {
    /// Opens a driver over `sockets` (index = [`SockId`]) and the shard's
    /// eventfd `waker` (the driver reads it; other shards write it). With
    /// `Backend::Uring`, falls back to epoll when io_uring cannot be set
    /// up, and says why in the second value.
    pub fn open(
        sockets: Vec<UdpSocket>,
        waker: RawFd,
        prefer: Backend,
    ) -> io::Result<(Driver, Option<String>)> {
        if prefer == Backend::Uring {
            match uring::UringDriver::new(&sockets, waker) {
                Ok(d) => return Ok((Driver::Uring(d), None)),
                Err(e) => {
                    let why = format!("io_uring unavailable ({e}), using epoll");
                    let d = epoll::EpollDriver::new(sockets, waker)?;
                    return Ok((Driver::Epoll(d), Some(why)));
                }
            }
        }
        Ok((
            Driver::Epoll(epoll::EpollDriver::new(sockets, waker)?),
            None,
        ))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Driver::Uring(_) => Backend::Uring,
            Driver::Epoll(_) => Backend::Epoll,
        }
    }

    /// Sends what `out` holds, then blocks until a datagram or a wake-up
    /// is ready or `timeout` passes (`None`: no limit; zero: do not
    /// block). Returns at once when something is already ready.
    pub fn wait(&mut self, out: &mut Outbox, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Driver::Uring(d) => d.wait(out, timeout),
            Driver::Epoll(d) => d.wait(out, timeout),
        }
    }

    /// Without blocking: recycles the buffers of completed sends into
    /// `out`, drains the eventfd if it fired, and calls `on_recv` for
    /// every datagram ready (it may queue replies in the outbox it gets).
    pub fn poll<F>(&mut self, out: &mut Outbox, on_recv: F) -> io::Result<Turn>
    where
        F: FnMut(Received<'_>, &mut Outbox),
    {
        match self {
            Driver::Uring(d) => d.poll(out, on_recv),
            Driver::Epoll(d) => d.poll(out, on_recv),
        }
    }

    /// Sends everything queued and waits until the kernel took it (used
    /// at shutdown, so that nothing in flight is lost).
    pub fn flush(&mut self, out: &mut Outbox) -> io::Result<()> {
        match self {
            Driver::Uring(d) => d.flush(out),
            Driver::Epoll(d) => d.flush(out),
        }
    }
}

/// Loopback scenarios both drivers must pass (each driver's tests run
/// them with its own constructor). Every wait has a deadline: a broken
/// driver fails a test, it does not hang it.
/// The scenarios every driver must pass, as `#[test]`s calling `open`
/// (a `fn(Vec<UdpSocket>, RawFd) -> Option<Driver>`; `None` skips).
#[cfg(test)]
#[macro_export]
macro_rules! driver_tests {
    ($open:ident) => {
        $crate::driver_tests!(@each $open, echo_relay, burst, waker, timeout, truncated,
            two_sockets, flush, many_sends, send_errors);
    };
    (@each $open:ident, $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                $crate::net::testkit::$name($open);
            }
        )*
    };
}

#[cfg(test)]
pub(crate) mod testkit {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Instant;

    /// Opens a driver over the sockets and eventfd; `None` skips the test.
    pub type Open = fn(Vec<UdpSocket>, RawFd) -> Option<Driver>;

    const DEADLINE: Duration = Duration::from_secs(5);
    const TURN: Option<Duration> = Some(Duration::from_millis(10));

    pub fn eventfd(nonblocking: bool) -> OwnedFd {
        let flags = libc::EFD_CLOEXEC | if nonblocking { libc::EFD_NONBLOCK } else { 0 };
        // SAFETY: no pointers; checked.
        let fd = unsafe { libc::eventfd(0, flags) };
        assert!(fd >= 0);
        // SAFETY: a fresh fd owned by nobody else.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    fn wake(fd: RawFd) {
        let one = 1u64;
        // SAFETY: writes 8 bytes from a live u64.
        let r = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
        assert_eq!(r, 8);
    }

    fn bind(addr: &str) -> UdpSocket {
        socket::bind_udp(addr.parse().unwrap(), None, None).unwrap()
    }

    fn client(addr: &str) -> UdpSocket {
        let c = UdpSocket::bind(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        c
    }

    fn echo(r: Received<'_>, out: &mut Outbox) {
        let mut b = out.buffer();
        b.extend_from_slice(r.data);
        out.push(r.sock, r.src, b);
    }

    /// Runs turns until `done` holds for the summed turns (or panics
    /// after [`DEADLINE`]).
    fn run_until<F>(
        d: &mut Driver,
        out: &mut Outbox,
        mut on_recv: F,
        mut done: impl FnMut(&Turn) -> bool,
    ) -> Turn
    where
        F: FnMut(Received<'_>, &mut Outbox),
    {
        let start = Instant::now();
        let mut sum = Turn::default();
        while !done(&sum) {
            assert!(start.elapsed() < DEADLINE, "driver stalled: {sum:?}");
            d.wait(out, TURN).unwrap();
            let t = d.poll(out, &mut on_recv).unwrap();
            sum.received += t.received;
            sum.sent += t.sent;
            sum.send_errors += t.send_errors;
            sum.woken |= t.woken;
        }
        sum
    }

    /// Datagram `i` of the echo test: its index, then a pattern; sizes
    /// vary from 4 bytes to 9000.
    fn payload(i: usize) -> Vec<u8> {
        let len = if i.is_multiple_of(97) {
            9000
        } else {
            4 + (i * 131) % 1400
        };
        let mut v = (i as u32).to_le_bytes().to_vec();
        v.extend((0..len - 4).map(|k| (i * 7 + k) as u8));
        v
    }

    pub fn echo_relay(open: Open) {
        const N: usize = 1000;
        const WINDOW: usize = 50;
        let s = bind("127.0.0.1:0");
        let addr = s.local_addr().unwrap();
        let efd = eventfd(true);
        let Some(mut d) = open(vec![s], efd.as_raw_fd()) else {
            return;
        };
        let c = client("127.0.0.1:0");
        let caddr = c.local_addr().unwrap();
        let mut out = Outbox::new();
        let mut seen = vec![false; N];
        let mut buf = vec![0u8; 65536];
        for w in (0..N).step_by(WINDOW) {
            for i in w..w + WINDOW {
                c.send_to(&payload(i), addr).unwrap();
            }
            let t = run_until(
                &mut d,
                &mut out,
                |r, out| {
                    assert_eq!((r.sock, r.src, r.truncated), (0, caddr, false));
                    echo(r, out);
                },
                |t| t.sent >= WINDOW,
            );
            assert_eq!((t.received, t.sent, t.send_errors), (WINDOW, WINDOW, 0));
            for _ in 0..WINDOW {
                let (n, from) = c.recv_from(&mut buf).unwrap();
                assert_eq!(from, addr);
                let i = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
                assert_eq!(&buf[..n], &payload(i)[..], "datagram {i}");
                assert!(!seen[i], "datagram {i} twice");
                seen[i] = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
        // Every buffer went back to the pool.
        assert!(!out.pool.is_empty());
    }

    /// More datagrams than the io_uring buffer ring holds, sent before the
    /// driver looks: all arrive (ENOBUFS re-arms; epoll's per-turn cap).
    pub fn burst(open: Open) {
        const N: usize = 1500;
        let s = bind("127.0.0.1:0");
        let addr = s.local_addr().unwrap();
        let efd = eventfd(true);
        let Some(mut d) = open(vec![s], efd.as_raw_fd()) else {
            return;
        };
        let c = client("127.0.0.1:0");
        for i in 0..N {
            c.send_to(&(i as u32).to_le_bytes(), addr).unwrap();
        }
        let mut out = Outbox::new();
        let mut next = 0u32;
        let t = run_until(
            &mut d,
            &mut out,
            |r, _| {
                assert_eq!(r.data, next.to_le_bytes(), "in order, none lost");
                next += 1;
            },
            |t| t.received >= N,
        );
        assert_eq!(t.received, N);
    }

    pub fn waker(open: Open) {
        waker_with(open, true);
    }

    pub fn waker_blocking_eventfd(open: Open) {
        waker_with(open, false);
    }

    fn waker_with(open: Open, nonblocking: bool) {
        let efd = eventfd(nonblocking);
        let Some(mut d) = open(vec![bind("127.0.0.1:0")], efd.as_raw_fd()) else {
            return;
        };
        let mut out = Outbox::new();
        // Woken from another thread while asleep.
        let raw = efd.as_raw_fd();
        let th = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            wake(raw);
        });
        let start = Instant::now();
        let mut woken = false;
        while !woken {
            assert!(start.elapsed() < DEADLINE, "wake-up lost");
            d.wait(&mut out, Some(Duration::from_secs(2))).unwrap();
            woken = d.poll(&mut out, |_, _| {}).unwrap().woken;
        }
        th.join().unwrap();
        // Drained: no second report.
        d.wait(&mut out, Some(Duration::from_millis(30))).unwrap();
        assert!(!d.poll(&mut out, |_, _| {}).unwrap().woken);
        // A wake-up already pending when waiting is seen at once.
        wake(raw);
        wake(raw);
        let t = run_until(&mut d, &mut out, |_, _| {}, |t| t.woken);
        assert!(t.woken);
        d.wait(&mut out, Some(Duration::from_millis(30))).unwrap();
        assert!(!d.poll(&mut out, |_, _| {}).unwrap().woken);
    }

    pub fn timeout(open: Open) {
        let efd = eventfd(true);
        let Some(mut d) = open(vec![bind("127.0.0.1:0")], efd.as_raw_fd()) else {
            return;
        };
        let mut out = Outbox::new();
        d.wait(&mut out, Some(Duration::from_millis(50))).unwrap();
        assert_eq!(d.poll(&mut out, |_, _| {}).unwrap(), Turn::default());
        d.wait(&mut out, Some(Duration::ZERO)).unwrap();
        assert_eq!(d.poll(&mut out, |_, _| {}).unwrap(), Turn::default());
        // poll without wait does not block either.
        assert_eq!(d.poll(&mut out, |_, _| {}).unwrap(), Turn::default());
    }

    pub fn truncated(open: Open) {
        let s = bind("127.0.0.1:0");
        let addr = s.local_addr().unwrap();
        let efd = eventfd(true);
        let Some(mut d) = open(vec![s], efd.as_raw_fd()) else {
            return;
        };
        let c = client("127.0.0.1:0");
        let big: Vec<u8> = (0..20_000).map(|i| (i % 251) as u8).collect();
        c.send_to(&big, addr).unwrap();
        c.send_to(&big[..100], addr).unwrap();
        let mut out = Outbox::new();
        let mut got = Vec::new();
        run_until(
            &mut d,
            &mut out,
            |r, _| got.push((r.data.to_vec(), r.truncated)),
            |t| t.received >= 2,
        );
        assert_eq!(got.len(), 2);
        assert!(got[0].1, "20000 bytes reported truncated");
        assert_eq!(got[0].0, &big[..MAX_RECV]);
        assert!(!got[1].1);
        assert_eq!(got[1].0, &big[..100]);
    }

    pub fn two_sockets(open: Open) {
        let s0 = bind("127.0.0.1:0");
        let a0 = s0.local_addr().unwrap();
        let (s1, c1) = match socket::bind_udp("[::1]:0".parse().unwrap(), None, None) {
            Ok(s) => (s, client("[::1]:0")),
            Err(_) => (bind("127.0.0.1:0"), client("127.0.0.1:0")),
        };
        let a1 = s1.local_addr().unwrap();
        let efd = eventfd(true);
        let Some(mut d) = open(vec![s0, s1], efd.as_raw_fd()) else {
            return;
        };
        let c0 = client("127.0.0.1:0");
        let (ca0, ca1) = (c0.local_addr().unwrap(), c1.local_addr().unwrap());
        for i in 0..20u8 {
            c0.send_to(&[0, i], a0).unwrap();
            c1.send_to(&[1, i], a1).unwrap();
        }
        let mut out = Outbox::new();
        run_until(
            &mut d,
            &mut out,
            |r, out| {
                let want = if r.data[0] == 0 { (0, ca0) } else { (1, ca1) };
                assert_eq!((r.sock, r.src), want);
                echo(r, out);
            },
            |t| t.sent >= 40,
        );
        let mut buf = [0u8; 16];
        for (c, a, k) in [(&c0, a0, 0u8), (&c1, a1, 1)] {
            for i in 0..20u8 {
                let (n, from) = c.recv_from(&mut buf).unwrap();
                assert_eq!((&buf[..n], from), (&[k, i][..], a));
            }
        }
    }

    pub fn flush(open: Open) {
        let efd = eventfd(true);
        let Some(mut d) = open(vec![bind("127.0.0.1:0")], efd.as_raw_fd()) else {
            return;
        };
        let c = client("127.0.0.1:0");
        let ca = c.local_addr().unwrap();
        let mut out = Outbox::new();
        for i in 0..200u32 {
            let mut b = out.buffer();
            b.extend_from_slice(&i.to_le_bytes());
            out.push(0, ca, b);
        }
        d.flush(&mut out).unwrap();
        assert!(out.is_empty());
        let mut buf = [0u8; 16];
        for i in 0..200u32 {
            let (n, _) = c.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], i.to_le_bytes());
        }
        let t = d.poll(&mut out, |_, _| {}).unwrap();
        assert_eq!((t.sent, t.send_errors), (200, 0));
        // Nothing queued: flush returns at once.
        d.flush(&mut out).unwrap();
    }

    /// More sends in one turn than the submission queue (uring: 1024)
    /// and the in-flight cap (uring: 4096) hold: all go out, in order.
    pub fn many_sends(open: Open) {
        const N: u32 = 5000;
        let efd = eventfd(true);
        let Some(mut d) = open(vec![bind("127.0.0.1:0")], efd.as_raw_fd()) else {
            return;
        };
        // A client with a big receive buffer, so that nothing is lost.
        let c = bind("127.0.0.1:0");
        c.set_nonblocking(false).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let ca = c.local_addr().unwrap();
        let mut out = Outbox::new();
        for i in 0..N {
            let mut b = out.buffer();
            b.extend_from_slice(&i.to_le_bytes());
            out.push(0, ca, b);
        }
        let t = run_until(
            &mut d,
            &mut out,
            |_, _| {},
            |t| t.sent + t.send_errors >= N as usize,
        );
        assert_eq!((t.sent, t.send_errors), (N as usize, 0));
        assert!(out.is_empty());
        let mut buf = [0u8; 16];
        for i in 0..N {
            let (n, _) = c.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], i.to_le_bytes());
        }
    }

    pub fn send_errors(open: Open) {
        let efd = eventfd(true);
        let Some(mut d) = open(vec![bind("127.0.0.1:0")], efd.as_raw_fd()) else {
            return;
        };
        let c = client("127.0.0.1:0");
        let mut out = Outbox::new();
        out.push(7, c.local_addr().unwrap(), b"no such socket".to_vec());
        out.push(0, "[::1]:5060".parse().unwrap(), b"v6 from v4".to_vec());
        out.push(0, c.local_addr().unwrap(), b"fine".to_vec());
        let t = run_until(&mut d, &mut out, |_, _| {}, |t| t.sent + t.send_errors >= 3);
        assert_eq!((t.sent, t.send_errors), (1, 2));
        assert_eq!(out.pool.len(), 3, "every buffer recycled");
        let mut buf = [0u8; 16];
        let (n, _) = c.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"fine");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn outbox_is_bounded() {
        let mut o = Outbox::new();
        let dst: SocketAddr = "127.0.0.1:9".parse().unwrap();
        for _ in 0..QUEUE_MAX + 5 {
            let b = o.buffer();
            o.push(0, dst, b);
        }
        assert_eq!(o.len(), QUEUE_MAX);
        assert_eq!(o.take_overflow(), 5);
        assert_eq!(o.take_overflow(), 0);
    }

    #[test]
    fn open_picks_the_backend() {
        let efd = testkit::eventfd(true);
        let s = socket::bind_udp("127.0.0.1:0".parse().unwrap(), None, None).unwrap();
        let (d, why) = Driver::open(vec![s], efd.as_raw_fd(), Backend::Epoll).unwrap();
        assert_eq!((d.backend(), why), (Backend::Epoll, None));
        let s = socket::bind_udp("127.0.0.1:0".parse().unwrap(), None, None).unwrap();
        let (d, why) = Driver::open(vec![s], efd.as_raw_fd(), Backend::Uring).unwrap();
        // Either io_uring, or epoll with the reason.
        assert_eq!(d.backend() == Backend::Epoll, why.is_some());
    }
}
