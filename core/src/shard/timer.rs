//! A shard's timer wheel: retransmission timers (T1 = 500 ms, doubling),
//! transaction timeouts (fr_timer, fr_inv_timer), registration expiry,
//! suspended scripts (`sleep`).
//!
//! A hashed wheel of [`SLOTS`] slots of [`TICK`] each (10 ms, so T1 is 50
//! ticks and one turn of the wheel is about 10 s); longer timers wait
//! whole turns in their slot. Timers are cancelled through their id: the
//! value leaves a slab at once and the wheel entry is skipped when its
//! slot comes round. The wheel is driven by the shard's ring: the shard
//! waits no longer than [`TimerWheel::next_deadline`], then calls
//! [`TimerWheel::expire`].
//!
//! `next_deadline` is asked before every wait, so it must not scan: the
//! wheel keeps the tick of its earliest live timer while it knows it
//! exactly (an insert can only lower it). When that timer is cancelled or
//! fires, the next call looks at most [`SCAN`] slots ahead; if nothing is
//! due there, it answers the end of that window (a lower bound: the shard
//! wakes, finds nothing due, and asks again), so an idle shard with only
//! far timers wakes a few times a second at most.

use std::time::{Duration, Instant};

/// Resolution of the wheel.
pub const TICK: Duration = Duration::from_millis(10);
/// Slots in the wheel (a power of two).
pub const SLOTS: usize = 1024;
/// Slots `next_deadline` looks ahead when it does not know the earliest
/// timer (160 ms).
pub const SCAN: u64 = 16;

/// A timer's handle, for [`TimerWheel::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    tick: u64,
    id: TimerId,
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    /// The tick it fires at.
    tick: u64,
    value: Option<T>,
}

/// A timer wheel holding values of type `T`.
#[derive(Debug)]
pub struct TimerWheel<T> {
    start: Instant,
    /// Every tick before this one has expired.
    next_tick: u64,
    slots: Vec<Vec<Entry>>,
    slab: Vec<Slot<T>>,
    free: Vec<u32>,
    live: usize,
    /// Timers armed for a tick that has already expired: they fire on
    /// the next [`TimerWheel::expire`].
    overdue: Vec<TimerId>,
    /// The tick of the earliest live timer, while `exact`.
    earliest: Option<u64>,
    exact: bool,
}

impl<T> TimerWheel<T> {
    pub fn new(now: Instant) -> TimerWheel<T> {
        TimerWheel {
            start: now,
            next_tick: 0,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            slab: Vec::new(),
            free: Vec::new(),
            live: 0,
            overdue: Vec::new(),
            earliest: None,
            exact: true,
        }
    }

    /// Timers pending.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The tick at or after `at` (a timer never fires early).
    fn tick_of(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.start);
        let t = TICK.as_nanos();
        (d.as_nanos().div_ceil(t)) as u64
    }

    fn instant_of(&self, tick: u64) -> Instant {
        let nanos = u128::from(tick) * TICK.as_nanos();
        self.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Arms a timer firing at `at` (at once, on the next expiry, if `at`
    /// has passed).
    pub fn insert(&mut self, at: Instant, value: T) -> TimerId {
        let tick = self.tick_of(at);
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slab.push(Slot {
                    generation: 0,
                    tick: 0,
                    value: None,
                });
                (self.slab.len() - 1) as u32
            }
        };
        let slot = &mut self.slab[index as usize];
        slot.value = Some(value);
        slot.tick = tick;
        if self.exact {
            self.earliest = Some(self.earliest.map_or(tick, |e| e.min(tick)));
        }
        let id = TimerId {
            index,
            generation: slot.generation,
        };
        if tick < self.next_tick {
            self.overdue.push(id);
        } else {
            self.slots[(tick as usize) & (SLOTS - 1)].push(Entry { tick, id });
        }
        self.live += 1;
        id
    }

    /// Arms a timer firing `after` from `now`.
    pub fn insert_after(&mut self, now: Instant, after: Duration, value: T) -> TimerId {
        self.insert(now + after, value)
    }

    /// Disarms a timer; gives its value back if it had not fired.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        self.take(id)
    }

    fn release(&mut self, index: u32) {
        if let Some(slot) = self.slab.get_mut(index as usize) {
            slot.generation = slot.generation.wrapping_add(1);
            slot.value = None;
            self.free.push(index);
            self.live -= 1;
            if self.live == 0 {
                self.earliest = None;
                self.exact = true;
            } else if self.earliest == Some(slot.tick) {
                // Maybe the earliest one went: find it again when asked.
                self.exact = false;
            }
        }
    }

    /// When the earliest pending timer fires (`None` when none is
    /// pending), or an earlier instant when it is not known (see the
    /// module docs). Looks at no more than [`SCAN`] slots.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        if self.live == 0 {
            return None;
        }
        if self.overdue.iter().any(|&id| self.is_live(id)) {
            return Some(self.instant_of(self.next_tick.saturating_sub(1)));
        }
        if self.exact
            && let Some(t) = self.earliest
        {
            return Some(self.instant_of(t));
        }
        for k in 0..SCAN {
            let tick = self.next_tick + k;
            let found = self.slots[(tick as usize) & (SLOTS - 1)]
                .iter()
                .any(|e| e.tick == tick && self.is_live(e.id));
            if found {
                self.earliest = Some(tick);
                self.exact = true;
                return Some(self.instant_of(tick));
            }
        }
        Some(self.instant_of(self.next_tick + SCAN))
    }

    /// The value of a live timer, released.
    fn take(&mut self, id: TimerId) -> Option<T> {
        let slot = self.slab.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let v = slot.value.take()?;
        self.release(id.index);
        Some(v)
    }

    fn is_live(&self, id: TimerId) -> bool {
        self.slab
            .get(id.index as usize)
            .is_some_and(|s| s.generation == id.generation && s.value.is_some())
    }

    /// Fires every timer due at `now`, in deadline order within a tick,
    /// handing each value to `fire`. Returns how many fired.
    pub fn expire(&mut self, now: Instant, mut fire: impl FnMut(T)) -> usize {
        let last = self.tick_of(now);
        // `tick_of` rounds up; a tick fires once `now` reached it.
        let last = if self.instant_of(last) <= now {
            last
        } else {
            last.saturating_sub(1)
        };
        let mut fired = 0;
        let mut due = std::mem::take(&mut self.overdue);
        for id in due.drain(..) {
            if let Some(v) = self.take(id) {
                fired += 1;
                fire(v);
            }
        }
        while self.next_tick <= last {
            let tick = self.next_tick;
            // Skip whole turns with nothing pending.
            if self.live == 0 {
                self.next_tick = last + 1;
                break;
            }
            let slot = &mut self.slots[(tick as usize) & (SLOTS - 1)];
            let mut i = 0;
            while i < slot.len() {
                if slot[i].tick <= tick {
                    due.push(slot.swap_remove(i).id);
                } else {
                    i += 1;
                }
            }
            for id in due.drain(..) {
                if let Some(v) = self.take(id) {
                    fired += 1;
                    fire(v);
                }
            }
            self.next_tick += 1;
        }
        if self.earliest.is_some_and(|e| e < self.next_tick) {
            self.exact = false;
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fires_in_order_never_early() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        w.insert(t0 + ms(500), "t1");
        w.insert(t0 + ms(1000), "2t1");
        w.insert(t0 + ms(32_000), "timer b");
        assert_eq!(w.len(), 3);
        assert_eq!(w.next_deadline(), Some(t0 + ms(500)));
        let mut got = Vec::new();
        assert_eq!(w.expire(t0 + ms(499), |v| got.push(v)), 0);
        assert_eq!(w.expire(t0 + ms(500), |v| got.push(v)), 1);
        assert_eq!(got, vec!["t1"]);
        // After a fire, a lower bound (never late).
        let d = w.next_deadline().unwrap();
        assert!(d > t0 + ms(500) && d <= t0 + ms(1000), "{d:?}");
        w.expire(t0 + ms(20_000), |v| got.push(v));
        assert_eq!(got, vec!["t1", "2t1"]);
        // Several turns of the wheel later.
        let d = w.next_deadline().unwrap();
        assert!(d > t0 + ms(1000) && d <= t0 + ms(32_000), "{d:?}");
        w.expire(t0 + ms(31_990), |v| got.push(v));
        assert_eq!(got.len(), 2);
        w.expire(t0 + ms(40_000), |v| got.push(v));
        assert_eq!(got, vec!["t1", "2t1", "timer b"]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn cancel_and_reuse() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        let a = w.insert(t0 + ms(100), 1);
        let b = w.insert(t0 + ms(100), 2);
        assert_eq!(w.cancel(a), Some(1));
        assert_eq!(w.cancel(a), None, "cancelled once");
        let c = w.insert(t0 + ms(50), 3);
        assert_ne!(a, c, "a reused slot gets a new generation");
        assert_eq!(w.cancel(a), None, "an old id does not cancel the new timer");
        let mut got = Vec::new();
        w.expire(t0 + ms(200), |v| got.push(v));
        got.sort();
        assert_eq!(got, vec![2, 3]);
        assert_eq!(w.cancel(b), None, "fired already");
        assert!(w.is_empty());
    }

    #[test]
    fn earliest_after_cancel_and_fire() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        let a = w.insert(t0 + ms(50), 1);
        w.insert(t0 + ms(120), 2);
        w.insert(t0 + ms(5_000), 3);
        assert_eq!(w.next_deadline(), Some(t0 + ms(50)));
        w.cancel(a);
        // Found again within the scanned window.
        assert_eq!(w.next_deadline(), Some(t0 + ms(120)));
        let mut got = Vec::new();
        w.expire(t0 + ms(120), |v| got.push(v));
        assert_eq!(got, vec![2]);
        // The next one is beyond the window: a lower bound, never late.
        let d = w.next_deadline().unwrap();
        assert!(d > t0 + ms(120) && d <= t0 + ms(5_000), "{d:?}");
        // An insert while unknown is found by the scan.
        w.insert(t0 + ms(200), 4);
        assert_eq!(w.next_deadline(), Some(t0 + ms(200)));
        // Asking again and again walks towards the far timer.
        w.expire(t0 + ms(200), |v| got.push(v));
        let mut now = t0 + ms(200);
        for _ in 0..1000 {
            match w.next_deadline() {
                Some(d) if d >= t0 + ms(5_000) => break,
                Some(d) => {
                    now = d;
                    w.expire(now, |v| got.push(v));
                }
                None => break,
            }
        }
        assert_eq!(w.next_deadline(), Some(t0 + ms(5_000)));
        w.expire(t0 + ms(5_000), |v| got.push(v));
        assert_eq!(got, vec![2, 4, 3]);
        assert!(now < t0 + ms(5_000));
    }

    #[test]
    fn past_deadline_fires_on_next_expiry() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        w.expire(t0 + ms(1000), |_: u8| {});
        w.insert(t0 + ms(10), 7);
        let mut got = Vec::new();
        w.expire(t0 + ms(1000), |v| got.push(v));
        assert_eq!(got, vec![7]);
    }
}
