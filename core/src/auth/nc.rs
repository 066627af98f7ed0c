//! Replay protection: the nonce count (`nc`) of RFC 2617 3.2.2 and
//! one-time nonces, in a fixed table of atomics shared by every shard.
//!
//! Every nonce has an index ([`NcTable::issue`]). Its state lives in slot
//! `index % N` of an array of `N` (a power of two) `AtomicU64`s:
//!
//! ```text
//! slot = tag (32 bits) || highest nc accepted (32 bits)
//! tag  = index / N, truncated to 32 bits, never 0
//! ```
//!
//! Issuing a nonce claims its slot (tag set, count 0). A request with
//! `qop` is accepted only if its `nc` is greater than the slot's count,
//! which is then raised to it; a request without `qop` (no `nc`) only if
//! the count is still 0, which is then set to [`USED`]: such a nonce
//! serves once. Both updates are one compare-and-swap: two copies of one
//! request racing on two shards cannot both pass.
//!
//! Memory is `8 * N` bytes whatever the traffic. The price: when more than
//! `N` nonces are issued while one is still in use, its slot is taken by a
//! newer nonce and it can no longer be checked. It is then treated as
//! stale ([`NcCheck::Lost`]): the user agent gets a fresh nonce without
//! bothering its user. With the default `N = 2^20` that takes a million
//! challenges within one nonce lifetime. A nonce from another router
//! sharing the secret, or from before a restart, finds a slot that is not
//! its own and is likewise stale.

use std::sync::atomic::{AtomicU64, Ordering};

/// The count of a nonce used once without `qop`.
pub const USED: u32 = u32::MAX;

/// Default log2 of the number of slots (Kamailio's `nc_array_order`).
pub const DEFAULT_ORDER: u8 = 20;

/// Largest accepted order (2^28 slots, 2 GiB).
pub const MAX_ORDER: u8 = 28;

/// What the table says of one use of a nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NcCheck {
    /// First use, or an `nc` greater than any seen.
    Ok,
    /// `nc` not greater than one already accepted: a replay (Kamailio
    /// answers it as a stale nonce).
    Replay,
    /// A nonce without `qop` used a second time (Kamailio's "nonce
    /// reused").
    Reused,
    /// The slot belongs to another nonce: this one is too old to check, or
    /// not ours.
    Lost,
}

/// The nonce-count table (see the module docs).
#[derive(Debug)]
pub struct NcTable {
    slots: Box<[AtomicU64]>,
    order: u8,
    /// The next index to issue.
    next: AtomicU64,
}

impl NcTable {
    /// A table of `2^order` slots (`order` at most [`MAX_ORDER`]) whose
    /// indices start at `start` (random, so that routers sharing a secret
    /// do not issue the same indices).
    pub fn new(order: u8, start: u64) -> NcTable {
        let order = order.min(MAX_ORDER);
        let slots = (0..1usize << order).map(|_| AtomicU64::new(0)).collect();
        NcTable {
            slots,
            order,
            next: AtomicU64::new(start),
        }
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Always false: a table has at least one slot.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn tag(&self, index: u64) -> u32 {
        (index >> self.order) as u32
    }

    fn slot(&self, index: u64) -> Option<&AtomicU64> {
        let mask = (1u64 << self.order) - 1;
        self.slots.get((index & mask) as usize)
    }

    /// A new nonce index, its slot claimed.
    pub fn issue(&self) -> u64 {
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            // Tag 0 marks a slot never claimed.
            let tag = self.tag(index);
            if tag == 0 {
                continue;
            }
            if let Some(s) = self.slot(index) {
                s.store(u64::from(tag) << 32, Ordering::Release);
            }
            return index;
        }
    }

    /// What accepting `nc` (`None`: a request without `qop`) for nonce
    /// `index` would give, without recording it: a cheap test before the
    /// credentials are looked up. A later [`NcTable::commit`] decides.
    pub fn check(&self, index: u64, nc: Option<u32>) -> NcCheck {
        let Some(s) = self.slot(index) else {
            return NcCheck::Lost;
        };
        judge(s.load(Ordering::Acquire), self.tag(index), nc).0
    }

    /// Records a use of nonce `index` with `nc` once its response has been
    /// verified: [`NcCheck::Ok`] if it was accepted.
    pub fn commit(&self, index: u64, nc: Option<u32>) -> NcCheck {
        let Some(s) = self.slot(index) else {
            return NcCheck::Lost;
        };
        let tag = self.tag(index);
        let mut cur = s.load(Ordering::Acquire);
        loop {
            let (verdict, new) = judge(cur, tag, nc);
            if verdict != NcCheck::Ok {
                return verdict;
            }
            match s.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return NcCheck::Ok,
                Err(seen) => cur = seen,
            }
        }
    }
}

/// The verdict on a slot word for `tag` and `nc`, and the word to store
/// if it is accepted.
fn judge(word: u64, tag: u32, nc: Option<u32>) -> (NcCheck, u64) {
    let (slot_tag, seen) = ((word >> 32) as u32, word as u32);
    if tag == 0 || slot_tag != tag {
        return (NcCheck::Lost, word);
    }
    let base = u64::from(tag) << 32;
    match nc {
        None if seen == 0 => (NcCheck::Ok, base | u64::from(USED)),
        None => (NcCheck::Reused, word),
        Some(n) if n > seen => (NcCheck::Ok, base | u64::from(n)),
        Some(_) => (NcCheck::Replay, word),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn increasing_nc_and_replays() {
        let t = NcTable::new(4, 1000);
        let i = t.issue();
        assert_eq!(t.check(i, Some(1)), NcCheck::Ok);
        assert_eq!(t.commit(i, Some(1)), NcCheck::Ok);
        assert_eq!(t.check(i, Some(1)), NcCheck::Replay);
        assert_eq!(t.commit(i, Some(1)), NcCheck::Replay);
        assert_eq!(t.commit(i, Some(3)), NcCheck::Ok);
        // Out of order: 2 after 3 is refused.
        assert_eq!(t.commit(i, Some(2)), NcCheck::Replay);
        assert_eq!(t.commit(i, Some(0)), NcCheck::Replay);
        assert_eq!(t.commit(i, Some(4)), NcCheck::Ok);
        // A nonce used with qop cannot then be used without.
        assert_eq!(t.commit(i, None), NcCheck::Reused);
        // check() records nothing.
        let j = t.issue();
        assert_eq!(t.check(j, Some(5)), NcCheck::Ok);
        assert_eq!(t.commit(j, Some(1)), NcCheck::Ok);
    }

    #[test]
    fn one_time_nonce() {
        let t = NcTable::new(4, 0);
        let i = t.issue();
        assert_eq!(t.check(i, None), NcCheck::Ok);
        assert_eq!(t.commit(i, None), NcCheck::Ok);
        assert_eq!(t.check(i, None), NcCheck::Reused);
        assert_eq!(t.commit(i, None), NcCheck::Reused);
        assert_eq!(t.commit(i, Some(1)), NcCheck::Replay);
        assert_eq!(t.commit(i, Some(u32::MAX)), NcCheck::Replay);
    }

    #[test]
    fn overwritten_and_foreign_slots_are_lost() {
        let t = NcTable::new(2, 0);
        let first = t.issue();
        // Four more nonces wrap the four slots: `first`'s is taken.
        let later: Vec<u64> = (0..4).map(|_| t.issue()).collect();
        assert_eq!(t.check(first, Some(1)), NcCheck::Lost);
        assert_eq!(t.commit(first, None), NcCheck::Lost);
        for i in later {
            assert_eq!(t.commit(i, Some(1)), NcCheck::Ok);
        }
        // Never issued here.
        assert_eq!(t.check(u64::MAX - 3, Some(1)), NcCheck::Lost);
        // Indices whose tag would be 0 are skipped when issuing, and never
        // match.
        let t = NcTable::new(2, 0);
        assert!(t.issue() >= 4);
        assert_eq!(t.check(1, Some(1)), NcCheck::Lost);
    }

    #[test]
    fn order_is_bounded() {
        assert_eq!(NcTable::new(0, 5).len(), 1);
        assert_eq!(NcTable::new(3, 5).len(), 8);
        let t = NcTable::new(0, 5);
        let i = t.issue();
        assert_eq!(t.commit(i, Some(1)), NcCheck::Ok);
        let j = t.issue();
        assert_eq!(t.commit(i, Some(2)), NcCheck::Lost);
        assert_eq!(t.commit(j, Some(1)), NcCheck::Ok);
    }

    #[test]
    fn racing_commits_accept_each_count_once() {
        let t = Arc::new(NcTable::new(4, 77));
        let i = t.issue();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let t = Arc::clone(&t);
                std::thread::spawn(move || {
                    (1..=2000u32)
                        .filter(|&nc| t.commit(i, Some(nc)) == NcCheck::Ok)
                        .count()
                })
            })
            .collect();
        let accepted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        // Every count is accepted at most once; the last always is.
        assert!((1..=2000).contains(&accepted));
        assert_eq!(t.commit(i, Some(2000)), NcCheck::Replay);
        let once: usize = {
            let j = t.issue();
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    let t = Arc::clone(&t);
                    std::thread::spawn(move || usize::from(t.commit(j, None) == NcCheck::Ok))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        };
        assert_eq!(once, 1);
    }
}
