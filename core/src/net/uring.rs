//! The io_uring driver, the shard's default: one multishot RECVMSG per
//! socket into a shared provided-buffer ring (no system call per
//! datagram), SENDMSG submissions batched into the same `io_uring_enter`
//! that waits, and an 8-byte READ on the shard's eventfd to be woken.
//! The ring is SINGLE_ISSUER | DEFER_TASKRUN: completions are produced
//! only while the shard enters the kernel, never behind its back. This
//! was the cheapest style measured here (`reference/io-floor.md`).
//!
//! Memory the kernel reads or writes (the buffer ring, the send slots,
//! the msghdr template, the eventfd buffer) stays put until its
//! completion arrives; on drop everything in flight is cancelled and
//! reaped first, and if that cannot be confirmed the memory is leaked
//! rather than freed under the kernel's feet.
//!
//! The driver must be created and used on one thread (the shard's):
//! SINGLE_ISSUER ties the ring to its creator. It is not `Send`.

use std::io;
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use io_uring::types::{CancelBuilder, Fd, RecvMsgOut, SubmitArgs, Timespec};
use io_uring::{IoUring, cqueue, opcode, squeue};
use socket2::SockAddr;

use super::socket::decode_sockaddr;
use super::{MAX_RECV, Outbox, Outgoing, Received, SockId, Turn};

/// Buffers in the provided-buffer ring (a power of two, at most 32768).
/// A burst longer than this between two polls ends the multishot receive
/// with ENOBUFS; it is re-armed and the rest waits in the socket queue.
const NBUFS: u16 = 1024;

/// What a multishot RECVMSG writes before the payload: the
/// `io_uring_recvmsg_out` header (4 × u32) and the source address, in a
/// field the size of the template's `msg_namelen` (`sockaddr_storage`).
const RECVMSG_HEAD: usize = 16 + std::mem::size_of::<libc::sockaddr_storage>();

/// One receive buffer: the head plus [`MAX_RECV`] bytes of payload, so
/// that both drivers cut datagrams at the same length. 1024 of them make
/// about 16 MB per shard, touched only as the kernel cycles through them.
const BUF_SIZE: usize = RECVMSG_HEAD + MAX_RECV;

/// Buffer group id of the ring (one group per io_uring).
const BGID: u16 = 0;

/// Submission queue entries. More sends than this in one turn are
/// submitted in several rounds.
const SQ_ENTRIES: u32 = 1024;

/// Completion queue entries: room for a full turn of sends plus a full
/// buffer ring of receives (overflow is not lost, NODROP, but costs).
const CQ_ENTRIES: u32 = 8192;

/// Sends in flight at most; the rest stays in the outbox for later turns,
/// so memory stays bounded when a socket's send buffer is full.
const MAX_INFLIGHT: usize = 4096;

/// Consecutive failed receives on one socket before it is given up (and
/// the error returned), instead of re-arming a broken socket forever.
const MAX_RECV_ERRORS: u32 = 64;

/// Completions handled by one poll at most (the rest wait for the next).
const MAX_CQES_PER_POLL: usize = 4 * NBUFS as usize + MAX_INFLIGHT;

/// How long `flush` (and drop) wait for the kernel.
const FLUSH_LIMIT: Duration = Duration::from_secs(1);

/// `user_data`: the kind in the top byte, an index below.
const KIND_SHIFT: u32 = 56;
const KIND_RECV: u64 = 1;
const KIND_SEND: u64 = 2;
const KIND_WAKE: u64 = 3;

fn user_data(kind: u64, index: usize) -> u64 {
    (kind << KIND_SHIFT) | (index as u64 & ((1 << KIND_SHIFT) - 1))
}

fn split_user_data(ud: u64) -> (u64, usize) {
    (
        ud >> KIND_SHIFT,
        usize::try_from(ud & ((1 << KIND_SHIFT) - 1)).unwrap_or(usize::MAX),
    )
}

/// An anonymous private mapping (page-aligned, as the buffer ring needs).
struct Mmap {
    ptr: *mut u8,
    len: usize,
    /// Leave mapped on drop (the kernel may still use it).
    leak: bool,
}

impl Mmap {
    fn new(len: usize) -> io::Result<Mmap> {
        // SAFETY: a fresh anonymous mapping; no existing memory involved.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap {
            ptr: ptr.cast(),
            len,
            leak: false,
        })
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        if !self.leak {
            // SAFETY: `ptr`/`len` are exactly what mmap returned; nothing
            // refers to the mapping any more (see the driver's Drop).
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
    }
}

/// `struct io_uring_buf`: one entry of the buffer ring. The ring's tail
/// is the `resv` field of entry 0.
#[repr(C)]
struct RawBuf {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

/// The provided-buffer ring and its buffers.
struct BufRing {
    ring: Mmap,
    bufs: Mmap,
    /// Our tail, published to the kernel by [`BufRing::publish`].
    tail: u16,
}

impl BufRing {
    fn new() -> io::Result<BufRing> {
        Ok(BufRing {
            ring: Mmap::new(usize::from(NBUFS) * std::mem::size_of::<RawBuf>())?,
            bufs: Mmap::new(usize::from(NBUFS) * BUF_SIZE)?,
            tail: 0,
        })
    }

    /// Gives buffer `bid` (back) to the kernel; seen after `publish`.
    fn push(&mut self, bid: u16) {
        if bid >= NBUFS {
            return;
        }
        let slot = usize::from(self.tail & (NBUFS - 1));
        let entry = self.ring.ptr.cast::<RawBuf>();
        // SAFETY: `slot` < NBUFS, the ring mapping holds NBUFS entries, and
        // the entry at our tail is not visible to the kernel (it only reads
        // entries before the published tail). Fields are written through
        // raw pointers so that entry 0's `resv` (the tail, which the kernel
        // reads) is never covered by a Rust reference. `bid` < NBUFS, so
        // the buffer address is inside the buffer mapping.
        unsafe {
            let e = entry.add(slot);
            std::ptr::addr_of_mut!((*e).addr)
                .write(self.bufs.ptr.add(usize::from(bid) * BUF_SIZE) as u64);
            std::ptr::addr_of_mut!((*e).len).write(BUF_SIZE as u32);
            std::ptr::addr_of_mut!((*e).bid).write(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes the pushed buffers visible to the kernel.
    fn publish(&self) {
        let entry = self.ring.ptr.cast::<RawBuf>();
        // SAFETY: the tail is entry 0's `resv`, a 2-aligned u16 inside the
        // mapping, shared with the kernel only through atomic accesses.
        let tail = unsafe { AtomicU16::from_ptr(std::ptr::addr_of_mut!((*entry).resv)) };
        tail.store(self.tail, Ordering::Release);
    }

    /// The first `len` bytes of buffer `bid`, which the kernel handed us.
    fn get(&self, bid: u16, len: usize) -> Option<&[u8]> {
        if bid >= NBUFS {
            return None;
        }
        // SAFETY: the range lies inside buffer `bid` of the mapping; the
        // kernel wrote it before posting the completion and does not touch
        // it again until `push(bid)`, which needs `&mut self`, so not
        // while this slice lives.
        Some(unsafe {
            std::slice::from_raw_parts(
                self.bufs.ptr.add(usize::from(bid) * BUF_SIZE),
                len.min(BUF_SIZE),
            )
        })
    }
}

/// One send in flight: the msghdr and what it points at, boxed so that
/// the addresses the kernel holds stay valid until the completion.
struct SendSlot {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: SockAddr,
    data: Vec<u8>,
}

impl SendSlot {
    fn new() -> Box<SendSlot> {
        Box::new(SendSlot {
            // SAFETY: msghdr is a plain C struct; all-zero (null pointers,
            // zero lengths) is a valid value.
            hdr: unsafe { std::mem::zeroed() },
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            addr: SockAddr::from(std::net::SocketAddr::from(([0, 0, 0, 0], 0))),
            data: Vec::new(),
        })
    }
}

/// How the eventfd is watched.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum WakeMode {
    /// An 8-byte READ: one completion per wake-up, the counter drained.
    Read,
    /// The eventfd is non-blocking, so a READ fails at once with EAGAIN
    /// instead of waiting: a multishot POLL_ADD, then read(2) on firing.
    Poll,
}

/// Receive and send over io_uring; see the module doc and
/// [`super::Driver`].
pub struct UringDriver {
    ring: IoUring,
    /// SINGLE_ISSUER | DEFER_TASKRUN took.
    defer: bool,
    /// IORING_SETUP_TASKRUN_FLAG took (tells when deferred work waits).
    taskrun_flag: bool,
    sockets: Vec<UdpSocket>,
    bufs: BufRing,
    /// The multishot RECVMSG template: asks for a `sockaddr_storage`
    /// sized source address and no control data.
    recv_hdr: Box<libc::msghdr>,
    /// Per socket: a multishot receive is in flight (or queued).
    armed: Vec<bool>,
    recv_errors: Vec<u32>,
    /// Per socket: failed [`MAX_RECV_ERRORS`] times in a row, not re-armed.
    dead: Vec<bool>,
    /// Boxed: the kernel holds pointers into a slot while the vector grows.
    #[allow(clippy::vec_box)]
    slots: Vec<Box<SendSlot>>,
    free: Vec<usize>,
    inflight: usize,
    waker: RawFd,
    wake_buf: Box<u64>,
    wake_mode: WakeMode,
    wake_armed: bool,
    wake_errors: u32,
    wake_dead: bool,
    /// Completions reaped before the first poll (by `new`).
    backlog: Vec<(u64, i32, u32)>,
    /// Reported by the next poll (counted by flush).
    woken: bool,
    sent: usize,
    send_errors: usize,
    /// A socket given up on; returned once by poll.
    fatal: Option<io::Error>,
}

/// Errors of `io_uring_enter` that only mean "look again".
fn enter_ok(r: io::Result<usize>) -> io::Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Sets up the ring: SINGLE_ISSUER | DEFER_TASKRUN (with TASKRUN_FLAG),
/// then without TASKRUN_FLAG, then plain, each on EINVAL (older kernels).
/// Other errors (ENOSYS, EPERM from `kernel.io_uring_disabled` or
/// seccomp) are returned: the caller falls back to epoll.
fn build_ring() -> io::Result<(IoUring, bool, bool)> {
    let mut last = io::Error::from_raw_os_error(libc::EINVAL);
    for (defer, flag) in [(true, true), (true, false), (false, false)] {
        let mut b = IoUring::builder();
        b.setup_cqsize(CQ_ENTRIES);
        if defer {
            b.setup_single_issuer().setup_defer_taskrun();
            if flag {
                b.setup_taskrun_flag();
            }
        }
        match b.build(SQ_ENTRIES) {
            Ok(ring) => return Ok((ring, defer, flag)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

impl UringDriver {
    /// Sets up a ring over `sockets` (index = [`SockId`]; duplicated, so
    /// the caller's copies may be dropped or reused for a fallback) and
    /// the eventfd `waker` (not owned: the shard keeps it open). Fails
    /// when io_uring or a feature it needs (provided-buffer rings, 5.19;
    /// multishot RECVMSG, 6.0) is missing.
    pub fn new(sockets: &[UdpSocket], waker: RawFd) -> io::Result<UringDriver> {
        UringDriver::with_wake_mode(sockets, waker, WakeMode::Read)
    }

    fn with_wake_mode(
        sockets: &[UdpSocket],
        waker: RawFd,
        wake_mode: WakeMode,
    ) -> io::Result<UringDriver> {
        let (ring, defer, taskrun_flag) = build_ring()?;
        let sockets = sockets
            .iter()
            .map(UdpSocket::try_clone)
            .collect::<io::Result<Vec<_>>>()?;
        let mut bufs = BufRing::new()?;
        // SAFETY: the ring mapping holds NBUFS entries, page-aligned, and
        // lives as long as the driver (the ring is closed first on drop,
        // or the mapping leaked).
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(bufs.ring.ptr as u64, NBUFS, BGID, 0)?;
        }
        for bid in 0..NBUFS {
            bufs.push(bid);
        }
        bufs.publish();
        // SAFETY: msghdr is a plain C struct; all-zero is valid.
        let mut recv_hdr: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        recv_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let n = sockets.len();
        let mut d = UringDriver {
            ring,
            defer,
            taskrun_flag,
            sockets,
            bufs,
            recv_hdr,
            armed: vec![false; n],
            recv_errors: vec![0; n],
            dead: vec![false; n],
            slots: Vec::new(),
            free: Vec::new(),
            inflight: 0,
            waker,
            wake_buf: Box::new(0),
            wake_mode,
            wake_armed: false,
            wake_errors: 0,
            wake_dead: false,
            backlog: Vec::new(),
            woken: false,
            sent: 0,
            send_errors: 0,
            fatal: None,
        };
        d.rearm()?;
        // Submit now, so that a kernel without multishot RECVMSG says so
        // here (its prep fails at once) and the shard can use epoll.
        enter_ok(d.ring.submit())?;
        let mut cq = d.ring.completion();
        for e in &mut cq {
            d.backlog.push((e.user_data(), e.result(), e.flags()));
        }
        drop(cq);
        for &(ud, res, _) in &d.backlog {
            if split_user_data(ud).0 == KIND_RECV && res == -libc::EINVAL {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "multishot RECVMSG not supported by this kernel",
                ));
            }
        }
        Ok(d)
    }

    /// Queues an SQE, submitting first when the queue is full.
    fn push(&mut self, e: &squeue::Entry) -> io::Result<()> {
        // SAFETY: every SQE built by this driver points only
        // at memory it keeps alive until the completion: the recv template
        // and buffer ring, a send slot (freed on its CQE), the eventfd
        // buffer; see the module doc and Drop.
        if unsafe { self.ring.submission().push(e) }.is_ok() {
            return Ok(());
        }
        enter_ok(self.ring.submit())?;
        // SAFETY: as above.
        unsafe { self.ring.submission().push(e) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))
    }

    fn arm_recv(&mut self, i: usize) -> io::Result<()> {
        let fd = self.sockets[i].as_raw_fd();
        let e = opcode::RecvMsgMulti::new(Fd(fd), &*self.recv_hdr, BGID)
            .build()
            .user_data(user_data(KIND_RECV, i));
        self.push(&e)?;
        self.armed[i] = true;
        Ok(())
    }

    fn arm_waker(&mut self) -> io::Result<()> {
        let e = match self.wake_mode {
            WakeMode::Read => {
                opcode::Read::new(Fd(self.waker), (&mut *self.wake_buf as *mut u64).cast(), 8)
                    .build()
            }
            WakeMode::Poll => opcode::PollAdd::new(Fd(self.waker), libc::POLLIN as u32)
                .multi(true)
                .build(),
        };
        self.push(&e.user_data(user_data(KIND_WAKE, 0)))?;
        self.wake_armed = true;
        Ok(())
    }

    /// Turns the outbox into SENDMSG submissions (not yet entered).
    fn queue_sends(&mut self, out: &mut Outbox) {
        if out.queue.is_empty() {
            return;
        }
        let mut queue = std::mem::take(&mut out.queue);
        let n = queue.len().min(MAX_INFLIGHT.saturating_sub(self.inflight));
        for o in queue.drain(..n) {
            self.queue_send(o, out);
        }
        // What did not fit stays first in line, keeping the allocation.
        queue.append(&mut out.queue);
        out.queue = queue;
    }

    fn queue_send(&mut self, o: Outgoing, out: &mut Outbox) {
        let Some(fd) = self
            .sockets
            .get(usize::from(o.sock))
            .map(AsRawFd::as_raw_fd)
        else {
            self.send_errors += 1;
            out.recycle(o.data);
            return;
        };
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(SendSlot::new());
                self.slots.len() - 1
            }
        };
        let slot = &mut *self.slots[id];
        slot.addr = SockAddr::from(o.dst);
        slot.data = o.data;
        slot.iov = libc::iovec {
            iov_base: slot.data.as_mut_ptr().cast(),
            iov_len: slot.data.len(),
        };
        slot.hdr.msg_name = slot.addr.as_ptr().cast_mut().cast();
        slot.hdr.msg_namelen = slot.addr.len();
        slot.hdr.msg_iov = &mut slot.iov;
        slot.hdr.msg_iovlen = 1;
        let e = opcode::SendMsg::new(Fd(fd), &slot.hdr)
            .build()
            .user_data(user_data(KIND_SEND, id));
        if self.push(&e).is_ok() {
            self.inflight += 1;
        } else {
            self.send_errors += 1;
            out.recycle(std::mem::take(&mut self.slots[id].data));
            self.free.push(id);
        }
    }

    /// Submits and waits up to `timeout` for one completion.
    fn enter(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.enter_for(timeout, 1)
    }

    /// Submits and waits up to `timeout` until `want` completions are
    /// there.
    fn enter_for(&mut self, timeout: Option<Duration>, want: usize) -> io::Result<()> {
        match timeout {
            None => enter_ok(self.ring.submit_and_wait(want)),
            Some(d) => {
                // Far-off deadlines are clamped (the shard re-waits anyway).
                let d = d.min(Duration::from_secs(u64::from(u32::MAX)));
                let ts = Timespec::from(d);
                let args = SubmitArgs::new().timespec(&ts);
                enter_ok(self.ring.submitter().submit_with_args(want, &args))
            }
        }
    }

    /// See [`super::Driver::wait`]. The sends and the wait share one
    /// `io_uring_enter`. Sends on UDP usually complete inside it, so the
    /// wait asks for one completion more than it submitted sends: it then
    /// sleeps until something else happens (a datagram, a wake-up, the
    /// timeout) instead of returning at once with only the sends' own
    /// completions and costing a second `io_uring_enter` per turn.
    pub fn wait(&mut self, out: &mut Outbox, timeout: Option<Duration>) -> io::Result<()> {
        self.rearm()?;
        let before = self.inflight;
        self.queue_sends(out);
        let sends = self.inflight.saturating_sub(before);
        self.enter_for(timeout, sends + 1)
    }

    /// See [`super::Driver::poll`].
    pub fn poll<F>(&mut self, out: &mut Outbox, mut on_recv: F) -> io::Result<Turn>
    where
        F: FnMut(Received<'_>, &mut Outbox),
    {
        let mut turn = Turn {
            received: 0,
            woken: std::mem::take(&mut self.woken),
            sent: std::mem::take(&mut self.sent),
            send_errors: std::mem::take(&mut self.send_errors),
        };
        for (ud, res, flags) in std::mem::take(&mut self.backlog) {
            self.complete(ud, res, flags, out, &mut on_recv, &mut turn);
        }
        // With DEFER_TASKRUN, completions are only posted inside
        // io_uring_enter; if `wait` was not called (or timed out just as
        // work arrived), run the deferred work now, without blocking.
        if self.defer
            && self.ring.completion().is_empty()
            && (!self.taskrun_flag || self.ring.submission().taskrun())
        {
            self.enter(Some(Duration::ZERO))?;
        }
        let mut handled = 0;
        let mut batch = [(0u64, 0i32, 0u32); 64];
        while handled < MAX_CQES_PER_POLL {
            let mut n = 0;
            {
                let mut cq = self.ring.completion();
                while n < batch.len() {
                    let Some(e) = cq.next() else { break };
                    batch[n] = (e.user_data(), e.result(), e.flags());
                    n += 1;
                }
            }
            if n == 0 {
                break;
            }
            for &(ud, res, flags) in &batch[..n] {
                self.complete(ud, res, flags, out, &mut on_recv, &mut turn);
            }
            handled += n;
        }
        self.bufs.publish();
        match self.fatal.take() {
            Some(e) => {
                // Reported with the error's turn lost: keep its counts.
                self.woken |= turn.woken;
                self.sent += turn.sent;
                self.send_errors += turn.send_errors;
                Err(e)
            }
            None => Ok(turn),
        }
    }

    /// Handles one completion. Finished requests are marked unarmed;
    /// [`UringDriver::rearm`] submits them again with the next wait.
    fn complete<F>(
        &mut self,
        ud: u64,
        res: i32,
        flags: u32,
        out: &mut Outbox,
        on_recv: &mut F,
        turn: &mut Turn,
    ) where
        F: FnMut(Received<'_>, &mut Outbox),
    {
        let (kind, i) = split_user_data(ud);
        match kind {
            KIND_RECV if i < self.sockets.len() => {
                if res >= 0 {
                    self.recv_errors[i] = 0;
                } else if res != -libc::ENOBUFS {
                    self.recv_errors[i] += 1;
                }
                if let Some(bid) = cqueue::buffer_select(flags) {
                    if res >= 0 && self.deliver(i, bid, res as usize, out, on_recv) {
                        turn.received += 1;
                    }
                    self.bufs.push(bid);
                }
                if !cqueue::more(flags) {
                    // Ended (ENOBUFS when the ring ran dry, CQ overflow,
                    // an error): the data waits in the socket; re-armed
                    // with the next wait, unless the socket keeps failing.
                    self.armed[i] = false;
                    if self.recv_errors[i] >= MAX_RECV_ERRORS && !self.dead[i] {
                        self.dead[i] = true;
                        self.fatal = Some(io::Error::other(format!(
                            "receive on socket {i} failed {} times ({}); socket given up",
                            self.recv_errors[i],
                            io::Error::from_raw_os_error(-res)
                        )));
                    }
                }
            }
            KIND_SEND => {
                let Some(slot) = self.slots.get_mut(i) else {
                    return;
                };
                if res < 0 {
                    turn.send_errors += 1;
                } else {
                    turn.sent += 1;
                }
                out.recycle(std::mem::take(&mut slot.data));
                self.free.push(i);
                self.inflight = self.inflight.saturating_sub(1);
            }
            KIND_WAKE => {
                let more = self.wake_mode == WakeMode::Poll && cqueue::more(flags);
                if res >= 0 {
                    self.wake_errors = 0;
                    if self.wake_mode == WakeMode::Poll {
                        let mut val = 0u64;
                        // SAFETY: reads at most 8 bytes into a live u64; the
                        // eventfd is non-blocking (that is why we poll it).
                        let _ = unsafe { libc::read(self.waker, (&mut val as *mut u64).cast(), 8) };
                    }
                    turn.woken = true;
                } else if res == -libc::EAGAIN && self.wake_mode == WakeMode::Read {
                    self.wake_mode = WakeMode::Poll;
                } else {
                    self.wake_errors += 1;
                }
                if !more {
                    self.wake_armed = false;
                    if self.wake_errors >= MAX_RECV_ERRORS && !self.wake_dead {
                        self.wake_dead = true;
                        self.fatal = Some(io::Error::other(format!(
                            "reading the wake-up eventfd failed {} times ({})",
                            self.wake_errors,
                            io::Error::from_raw_os_error(-res)
                        )));
                    }
                }
            }
            _ => {}
        }
    }

    /// Re-arms the receives and the wake-up that ended (queued; entered
    /// with the next wait).
    fn rearm(&mut self) -> io::Result<()> {
        for i in 0..self.sockets.len() {
            if !self.armed[i] && !self.dead[i] {
                self.arm_recv(i)?;
            }
        }
        if !self.wake_armed && !self.wake_dead {
            self.arm_waker()?;
        }
        Ok(())
    }

    /// Hands the datagram in buffer `bid` (`len` bytes written) to the
    /// callback; false if it could not be decoded.
    fn deliver<F>(&self, i: usize, bid: u16, len: usize, out: &mut Outbox, on_recv: &mut F) -> bool
    where
        F: FnMut(Received<'_>, &mut Outbox),
    {
        let Some(buf) = self.bufs.get(bid, len) else {
            return false;
        };
        let Ok(msg) = RecvMsgOut::parse(buf, &self.recv_hdr) else {
            return false;
        };
        let Some(src) = decode_sockaddr(msg.name_data()) else {
            return false;
        };
        on_recv(
            Received {
                sock: SockId::try_from(i).unwrap_or(SockId::MAX),
                src,
                data: msg.payload_data(),
                truncated: msg.is_payload_truncated(),
            },
            out,
        );
        true
    }

    /// See [`super::Driver::flush`]: submits everything queued and waits
    /// until every send completed, for at most [`FLUSH_LIMIT`] (then
    /// `TimedOut`). Datagrams that arrive meanwhile are dropped (flush is
    /// for shutdown); wake-ups and send counts go to the next poll.
    pub fn flush(&mut self, out: &mut Outbox) -> io::Result<()> {
        let deadline = Instant::now() + FLUSH_LIMIT;
        loop {
            self.rearm()?;
            self.queue_sends(out);
            if self.inflight == 0 && out.queue.is_empty() {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{} sends still in flight, {} queued",
                        self.inflight,
                        out.queue.len()
                    ),
                ));
            }
            self.enter(Some(left.min(Duration::from_millis(10))))?;
            let t = self.poll(out, |_, _| {})?;
            self.woken |= t.woken;
            self.sent += t.sent;
            self.send_errors += t.send_errors;
        }
    }

    /// Requests the kernel may still complete.
    fn outstanding(&self) -> usize {
        self.armed.iter().filter(|a| **a).count() + self.inflight + usize::from(self.wake_armed)
    }
}

impl Drop for UringDriver {
    /// Cancels what is in flight and reaps it before the memory it uses is
    /// freed; leaks that memory if the kernel does not confirm in time.
    fn drop(&mut self) {
        let _ = self.ring.submit();
        let _ = self
            .ring
            .submitter()
            .register_sync_cancel(Some(Timespec::from(FLUSH_LIMIT)), CancelBuilder::any());
        let deadline = Instant::now() + FLUSH_LIMIT;
        while self.outstanding() > 0 && Instant::now() < deadline {
            let ts = Timespec::from(Duration::from_millis(10));
            let args = SubmitArgs::new().timespec(&ts);
            if enter_ok(self.ring.submitter().submit_with_args(1, &args)).is_err() {
                break;
            }
            let mut cq = self.ring.completion();
            for e in &mut cq {
                let (kind, i) = split_user_data(e.user_data());
                match kind {
                    KIND_RECV if !cqueue::more(e.flags()) => {
                        if let Some(a) = self.armed.get_mut(i) {
                            *a = false;
                        }
                    }
                    KIND_SEND => self.inflight = self.inflight.saturating_sub(1),
                    KIND_WAKE if !(self.wake_mode == WakeMode::Poll && cqueue::more(e.flags())) => {
                        self.wake_armed = false;
                    }
                    _ => {}
                }
            }
        }
        if self.outstanding() > 0 {
            self.bufs.ring.leak = true;
            self.bufs.bufs.leak = true;
            std::mem::forget(std::mem::take(&mut self.slots));
            // SAFETY: msghdr is a plain C struct; all-zero is valid.
            let hdr =
                std::mem::replace(&mut self.recv_hdr, Box::new(unsafe { std::mem::zeroed() }));
            std::mem::forget(hdr);
            std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Driver;
    use super::super::testkit;
    use super::*;

    /// `None` (test skipped) where io_uring is switched off.
    fn open(sockets: Vec<UdpSocket>, waker: RawFd) -> Option<Driver> {
        match UringDriver::new(&sockets, waker) {
            Ok(d) => Some(Driver::Uring(d)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                eprintln!("io_uring unavailable ({e}); test skipped");
                None
            }
            Err(e) => panic!("io_uring set-up failed: {e}"),
        }
    }

    crate::driver_tests!(open);

    #[test]
    fn blocking_eventfd() {
        testkit::waker_blocking_eventfd(open);
    }

    /// The eventfd watched with a multishot poll (what a kernel that
    /// fails a READ on a non-blocking eventfd with EAGAIN gets).
    #[test]
    fn waker_poll_mode() {
        fn open_poll(sockets: Vec<UdpSocket>, waker: RawFd) -> Option<Driver> {
            let d = UringDriver::with_wake_mode(&sockets, waker, WakeMode::Poll).ok()?;
            Some(Driver::Uring(d))
        }
        testkit::waker(open_poll);
    }

    #[test]
    fn ring_is_deferred() {
        let s = super::super::socket::bind_udp("127.0.0.1:0".parse().unwrap(), None, None).unwrap();
        let fd = testkit::eventfd(true);
        let Some(Driver::Uring(d)) = open(vec![s], fd.as_raw_fd()) else {
            return;
        };
        assert!(
            d.defer,
            "SINGLE_ISSUER | DEFER_TASKRUN expected on this kernel"
        );
    }

    #[test]
    fn user_data_round_trips() {
        assert_eq!(
            split_user_data(user_data(KIND_SEND, 4095)),
            (KIND_SEND, 4095)
        );
        assert_eq!(split_user_data(user_data(KIND_RECV, 0)), (KIND_RECV, 0));
        assert_eq!(split_user_data(user_data(KIND_WAKE, 0)).0, KIND_WAKE);
    }
}
