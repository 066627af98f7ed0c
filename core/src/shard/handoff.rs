//! Passing messages between shards: one lock-free SPSC ring (rtrb) per
//! ordered pair of shards, and one eventfd per shard to wake it.
//!
//! Waking a sleeping thread on the other vCPU costs about 14 µs of CPU
//! here (`reference/io-floor.md`), several times a datagram's I/O, so:
//!
//! - a shard marks itself asleep ([`Waker::sleeping`]) only right before
//!   it blocks, after checking its inbound rings are empty;
//! - a sender pushes all it has for a peer during one turn, then writes
//!   the peer's eventfd once, and only if the peer said it sleeps.
//!
//! The two sides follow the store-fence-load pattern (both `SeqCst`), so
//! either the sleeper sees the new message or the sender sees the sleeper.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};

use rtrb::{Consumer, Producer, RingBuffer};

use crate::net::SockId;

/// Messages a ring holds before the sender gives up on it.
pub const RING_CAPACITY: usize = 4096;

/// A datagram handed to its owner shard.
#[derive(Debug)]
pub struct Handoff {
    /// The local address it arrived on (same index on every shard).
    pub sock: SockId,
    pub src: SocketAddr,
    pub data: Vec<u8>,
}

/// A shard's wake-up: its eventfd and whether it is (about to be) asleep.
#[derive(Debug)]
pub struct Waker {
    fd: OwnedFd,
    sleeping: AtomicBool,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        // SAFETY: eventfd takes no pointers; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Waker {
            fd,
            sleeping: AtomicBool::new(false),
        })
    }

    /// The eventfd, for the shard's driver to read.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Wakes the shard unconditionally (shutdown).
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an fd we own. A full
        // counter (EAGAIN) means the shard is woken already.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Wakes the shard if it said it sleeps. Returns whether it wrote.
    pub fn wake_if_sleeping(&self) -> bool {
        fence(Ordering::SeqCst);
        if self.sleeping.swap(false, Ordering::SeqCst) {
            self.wake();
            true
        } else {
            false
        }
    }

    /// The owner is about to block: from now on senders must wake it.
    /// The caller checks its inbound rings *after* this.
    pub fn going_to_sleep(&self) {
        self.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// The owner is awake again.
    pub fn awake(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }
}

/// One shard's ends of the mesh.
pub struct Links {
    pub id: usize,
    /// `outs[j]`: ring to shard `j` (`None` for ourselves).
    outs: Vec<Option<Producer<Handoff>>>,
    /// `ins[i]`: ring from shard `i` (`None` for ourselves).
    ins: Vec<Option<Consumer<Handoff>>>,
    /// Every shard's waker, ours included.
    wakers: Arc<[Waker]>,
    /// Peers we pushed to since the last [`Links::wake_peers`].
    pending: Vec<bool>,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("id", &self.id)
            .field("shards", &self.outs.len())
            .finish()
    }
}

/// Builds the rings and wakers for `n` shards; `result[i]` goes to shard
/// `i`. Also returns the wakers, for the main thread to stop the shards.
pub fn mesh(n: usize) -> io::Result<(Vec<Links>, Arc<[Waker]>)> {
    let wakers: Arc<[Waker]> = (0..n)
        .map(|_| Waker::new())
        .collect::<io::Result<Vec<_>>>()?
        .into();
    let mut outs: Vec<Vec<Option<Producer<Handoff>>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    let mut ins: Vec<Vec<Option<Consumer<Handoff>>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    for (i, out_row) in outs.iter_mut().enumerate() {
        for (j, out) in out_row.iter_mut().enumerate() {
            if i != j {
                let (p, c) = RingBuffer::new(RING_CAPACITY);
                *out = Some(p);
                ins[j][i] = Some(c);
            }
        }
    }
    let links = outs
        .into_iter()
        .zip(ins)
        .enumerate()
        .map(|(id, (outs, ins))| Links {
            id,
            outs,
            ins,
            wakers: wakers.clone(),
            pending: vec![false; n],
        })
        .collect();
    Ok((links, wakers))
}

impl Links {
    /// Every shard's waker (for threads that answer this shard).
    pub fn wakers(&self) -> Arc<[Waker]> {
        Arc::clone(&self.wakers)
    }

    /// Our own waker.
    pub fn waker(&self) -> &Waker {
        &self.wakers[self.id]
    }

    /// Queues a message for shard `to`. Gives it back when the ring is
    /// full (or `to` is ourselves), for the caller to handle.
    pub fn send(&mut self, to: usize, h: Handoff) -> Result<(), Handoff> {
        let Some(Some(p)) = self.outs.get_mut(to) else {
            return Err(h);
        };
        match p.push(h) {
            Ok(()) => {
                if let Some(flag) = self.pending.get_mut(to) {
                    *flag = true;
                }
                Ok(())
            }
            Err(rtrb::PushError::Full(h)) => Err(h),
        }
    }

    /// Wakes every peer we queued something for since the last call (if
    /// it sleeps). Returns how many eventfd writes it made.
    pub fn wake_peers(&mut self) -> usize {
        let mut writes = 0;
        for (j, flag) in self.pending.iter_mut().enumerate() {
            if std::mem::take(flag) && self.wakers[j].wake_if_sleeping() {
                writes += 1;
            }
        }
        writes
    }

    /// Whether any inbound ring holds a message.
    pub fn has_inbound(&self) -> bool {
        self.ins.iter().flatten().any(|c| !c.is_empty())
    }

    /// Takes up to `max` inbound messages (round robin over the peers)
    /// and hands each to `f`. Returns how many it took.
    pub fn drain_inbound(&mut self, max: usize, mut f: impl FnMut(Handoff)) -> usize {
        let mut taken = 0;
        for c in self.ins.iter_mut().flatten() {
            while taken < max {
                match c.pop() {
                    Ok(h) => {
                        taken += 1;
                        f(h);
                    }
                    Err(_) => break,
                }
            }
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> Handoff {
        Handoff {
            sock: 0,
            src: "127.0.0.1:5060".parse().unwrap(),
            data: vec![n],
        }
    }

    fn eventfd_count(w: &Waker) -> u64 {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our eventfd.
        let r = unsafe { libc::read(w.fd(), (&raw mut v).cast(), 8) };
        if r == 8 { v } else { 0 }
    }

    #[test]
    fn messages_reach_the_owner_and_wake_it_once() {
        let (mut links, wakers) = mesh(3).unwrap();
        let mut l2 = links.pop().unwrap();
        let _l1 = links.pop().unwrap();
        let mut l0 = links.pop().unwrap();
        // Shard 2 sleeps; shard 0 sends it three messages in one turn.
        l2.waker().going_to_sleep();
        for n in 0..3 {
            l0.send(2, h(n)).unwrap();
        }
        assert!(l0.send(0, h(9)).is_err(), "no ring to ourselves");
        assert_eq!(l0.wake_peers(), 1);
        assert_eq!(l0.wake_peers(), 0, "nothing new, no write");
        assert_eq!(eventfd_count(&wakers[2]), 1);
        assert!(l2.has_inbound());
        let mut got = Vec::new();
        assert_eq!(l2.drain_inbound(10, |m| got.push(m.data[0])), 3);
        assert_eq!(got, vec![0, 1, 2]);
        assert!(!l2.has_inbound());
        // An awake shard is not written to.
        l2.waker().awake();
        l0.send(2, h(7)).unwrap();
        assert_eq!(l0.wake_peers(), 0);
        assert_eq!(eventfd_count(&wakers[2]), 0);
    }

    #[test]
    fn full_ring_gives_the_message_back() {
        let (mut links, _w) = mesh(2).unwrap();
        let mut l0 = links.remove(0);
        for _ in 0..RING_CAPACITY {
            l0.send(1, h(1)).unwrap();
        }
        let back = l0.send(1, h(2)).unwrap_err();
        assert_eq!(back.data, vec![2]);
    }
}
