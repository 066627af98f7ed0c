//! Transaction timer values (RFC 3261 17 and Appendix A, RFC 6026 timers L
//! and M, Kamailio's `fr_timer` and `fr_inv_timer`).
//!
//! Sans-IO: these are plain durations. The state machines in
//! [`super::fsm`] ask for them and hand them back as
//! [`super::fsm::Action::StartTimer`]; the owner of a transaction (later: the
//! shard, with its 10 ms timer wheel) arms them. Not yet wired into the
//! shards.
//!
//! | timer | value | meaning |
//! | --- | --- | --- |
//! | T1 | 500 ms | RTT estimate (tm `retr_timer1`) |
//! | T2 | 4 s | longest retransmit interval of non-INVITE requests and INVITE responses (tm `retr_timer2`) |
//! | T4 | 5 s | longest time a message stays in the network |
//! | A | T1, doubling without cap | INVITE request retransmit (unreliable only) |
//! | B | 64*T1 | INVITE client timeout in Calling |
//! | D | 32 s unreliable, 0 reliable | client INVITE Completed: absorb final retransmissions |
//! | E | T1, doubling up to T2 (T2 after a 1xx) | non-INVITE request retransmit (unreliable only) |
//! | F | 64*T1 | non-INVITE client timeout |
//! | G | T1, doubling up to T2 | INVITE final non-2xx response retransmit (unreliable only) |
//! | H | 64*T1 | server INVITE: wait for ACK |
//! | I | T4 unreliable, 0 reliable | server INVITE Confirmed: absorb ACK retransmissions |
//! | J | 64*T1 unreliable, 0 reliable | non-INVITE server Completed |
//! | K | T4 unreliable, 0 reliable | non-INVITE client Completed |
//! | L | 64*T1 | server INVITE Accepted (RFC 6026) |
//! | M | 64*T1 | client INVITE Accepted (RFC 6026) |
//! | wt_timer | 5 s (tm default) | Kamailio's wait: replaces D, J, L and M when set |
//! | fr_timer | 30 s | Kamailio: final response to a request (an INVITE before any 1xx) |
//! | fr_inv_timer | 120 s | Kamailio: final response to an INVITE after a 1xx (restarted on each 1xx) |
//! | cancel wait | 64*T1 | RFC 9.1: after sending CANCEL, how long to wait for the final response |
//!
//! Kamailio 3.x and later give `fr_timer` and `fr_inv_timer` in
//! milliseconds (defaults 30000 and 120000); SER 0.9 and OpenSER 1.x gave
//! them in seconds.

use std::time::Duration;

/// The base timers of a transaction, and Kamailio's final response timers.
///
/// Copied into each transaction, so that a script may change them per
/// transaction later (Kamailio's `t_set_fr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate (default 500 ms).
    pub t1: Duration,
    /// Longest retransmit interval (default 4 s).
    pub t2: Duration,
    /// Longest time a message stays in the network (default 5 s).
    pub t4: Duration,
    /// Kamailio's `fr_timer`: how long a client transaction waits for a
    /// final response (an INVITE: until its first 1xx). `None`: only the
    /// RFC's timers B and F bound the wait.
    pub fr_timer: Option<Duration>,
    /// Kamailio's `fr_inv_timer`: how long a client INVITE transaction
    /// waits for a final response after a 1xx (restarted on each 1xx, as
    /// Kamailio's `restart_fr_on_each_reply=1`). `None`: no bound but the
    /// CANCEL wait.
    pub fr_inv_timer: Option<Duration>,
    /// Kamailio's `wt_timer`: how long a transaction that is over stays to
    /// absorb retransmissions. `Some(w)` replaces the RFC's timers D, J, L
    /// and M (32 s each over UDP) by `w`, as Kamailio does (5 s by
    /// default); `None` keeps the RFC values.
    pub wait: Option<Duration>,
    /// Kamailio's `restart_fr_on_each_reply`: restart `fr_inv_timer` on
    /// every 1xx (default), or only start it on the first.
    pub restart_fr: bool,
}

/// Default T1.
pub const T1: Duration = Duration::from_millis(500);
/// Default T2.
pub const T2: Duration = Duration::from_secs(4);
/// Default T4.
pub const T4: Duration = Duration::from_secs(5);
/// Kamailio's default `fr_timer` (30000 ms).
pub const FR_TIMER: Duration = Duration::from_secs(30);
/// Kamailio's default `fr_inv_timer` (120000 ms).
pub const FR_INV_TIMER: Duration = Duration::from_secs(120);
/// Timer D over an unreliable transport ("at least 32 seconds").
pub const TIMER_D_UNRELIABLE: Duration = Duration::from_secs(32);

impl Default for Timers {
    /// RFC 3261 base timers with Kamailio's `fr_timer` and `fr_inv_timer`.
    fn default() -> Timers {
        Timers {
            t1: T1,
            t2: T2,
            t4: T4,
            fr_timer: Some(FR_TIMER),
            fr_inv_timer: Some(FR_INV_TIMER),
            wait: None,
            restart_fr: true,
        }
    }
}

/// A timer configuration that cannot work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimersError {
    /// T1 is zero (retransmissions would never back off).
    ZeroT1,
    /// T2 is below T1.
    T2BelowT1,
    /// A final response timer is zero.
    ZeroFr,
}

impl std::fmt::Display for TimersError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimersError::ZeroT1 => "T1 must be above zero",
            TimersError::T2BelowT1 => "T2 must not be below T1",
            TimersError::ZeroFr => "fr_timer, fr_inv_timer and wt_timer must be above zero",
        })
    }
}

impl std::error::Error for TimersError {}

impl Timers {
    /// The RFC's timers only: no `fr_timer` or `fr_inv_timer`.
    pub const RFC3261: Timers = Timers {
        t1: T1,
        t2: T2,
        t4: T4,
        fr_timer: None,
        fr_inv_timer: None,
        wait: None,
        restart_fr: true,
    };

    /// Checks that the values can work (for the config loader).
    pub fn check(&self) -> Result<(), TimersError> {
        if self.t1.is_zero() {
            return Err(TimersError::ZeroT1);
        }
        if self.t2 < self.t1 {
            return Err(TimersError::T2BelowT1);
        }
        if self.fr_timer.is_some_and(|d| d.is_zero())
            || self.fr_inv_timer.is_some_and(|d| d.is_zero())
            || self.wait.is_some_and(|d| d.is_zero())
        {
            return Err(TimersError::ZeroFr);
        }
        Ok(())
    }

    /// 64*T1: the transaction timeout of the RFC.
    pub fn t1x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer A's first interval (T1).
    pub fn a(&self) -> Duration {
        self.t1
    }

    /// Timer A's next interval: doubled, no cap (RFC 3261 17.1.1.2).
    pub fn next_a(&self, prev: Duration) -> Duration {
        prev.saturating_mul(2)
    }

    /// Timer B (64*T1).
    pub fn b(&self) -> Duration {
        self.t1x64()
    }

    /// Timer D: 32 s over an unreliable transport, 0 over a reliable one.
    pub fn d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.wait.unwrap_or(TIMER_D_UNRELIABLE)
        }
    }

    /// Timer E's first interval (T1).
    pub fn e(&self) -> Duration {
        self.t1
    }

    /// Timer E's (and G's) next interval: doubled, at most T2.
    pub fn next_e(&self, prev: Duration) -> Duration {
        prev.saturating_mul(2).min(self.t2)
    }

    /// Timer F (64*T1).
    pub fn f(&self) -> Duration {
        self.t1x64()
    }

    /// Timer G's first interval (T1).
    pub fn g(&self) -> Duration {
        self.t1
    }

    /// Timer G's next interval: doubled, at most T2.
    pub fn next_g(&self, prev: Duration) -> Duration {
        self.next_e(prev)
    }

    /// Timer H (64*T1).
    pub fn h(&self) -> Duration {
        self.t1x64()
    }

    /// Timer I: T4 unreliable, 0 reliable.
    pub fn i(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer J: 64*T1 unreliable, 0 reliable.
    pub fn j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.wait.unwrap_or_else(|| self.t1x64())
        }
    }

    /// Timer K: T4 unreliable, 0 reliable.
    pub fn k(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer L (RFC 6026): 64*T1.
    pub fn l(&self) -> Duration {
        self.wait.unwrap_or_else(|| self.t1x64())
    }

    /// Timer M (RFC 6026): 64*T1.
    pub fn m(&self) -> Duration {
        self.wait.unwrap_or_else(|| self.t1x64())
    }

    /// How long to wait for the final response after sending a CANCEL
    /// (RFC 3261 9.1: 64*T1).
    pub fn cancel_wait(&self) -> Duration {
        self.t1x64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let t = Timers::default();
        assert_eq!(t.t1, Duration::from_millis(500));
        assert_eq!(t.t2, Duration::from_secs(4));
        assert_eq!(t.t4, Duration::from_secs(5));
        assert_eq!(t.fr_timer, Some(Duration::from_millis(30_000)));
        assert_eq!(t.fr_inv_timer, Some(Duration::from_millis(120_000)));
        assert!(t.check().is_ok());
        assert!(Timers::RFC3261.check().is_ok());
    }

    #[test]
    fn derived() {
        let t = Timers::default();
        let s32 = Duration::from_secs(32);
        for d in [
            t.b(),
            t.f(),
            t.h(),
            t.j(false),
            t.l(),
            t.m(),
            t.cancel_wait(),
        ] {
            assert_eq!(d, s32);
        }
        assert_eq!(t.d(false), s32);
        assert_eq!(t.a(), t.t1);
        assert_eq!(t.e(), t.t1);
        assert_eq!(t.g(), t.t1);
        assert_eq!(t.i(false), t.t4);
        assert_eq!(t.k(false), t.t4);
        for d in [t.d(true), t.i(true), t.j(true), t.k(true)] {
            assert_eq!(d, Duration::ZERO);
        }
        // Kamailio's wt_timer replaces D, J, L and M.
        let w = Timers {
            wait: Some(Duration::from_secs(5)),
            ..t
        };
        for d in [w.d(false), w.j(false), w.l(), w.m()] {
            assert_eq!(d, Duration::from_secs(5));
        }
        assert_eq!(w.d(true), Duration::ZERO);
        assert_eq!(w.b(), s32);
    }

    #[test]
    fn backoff() {
        let t = Timers::default();
        let ms = Duration::from_millis;
        // A doubles without cap.
        let mut a = t.a();
        let mut seen = vec![a];
        for _ in 0..5 {
            a = t.next_a(a);
            seen.push(a);
        }
        assert_eq!(
            seen,
            [ms(500), ms(1000), ms(2000), ms(4000), ms(8000), ms(16000)]
        );
        // E and G stop at T2.
        let mut e = t.e();
        let mut seen = vec![e];
        for _ in 0..5 {
            e = t.next_e(e);
            seen.push(e);
        }
        assert_eq!(
            seen,
            [ms(500), ms(1000), ms(2000), ms(4000), ms(4000), ms(4000)]
        );
        assert_eq!(t.next_g(ms(2000)), ms(4000));
        // No overflow panic on silly values.
        assert_eq!(t.next_a(Duration::MAX), Duration::MAX);
        let big = Timers {
            t1: Duration::MAX,
            t2: Duration::MAX,
            ..t
        };
        assert_eq!(big.b(), Duration::MAX);
    }

    #[test]
    fn check_rejects() {
        let d = Timers::default();
        let t = Timers {
            t1: Duration::ZERO,
            ..d
        };
        assert_eq!(t.check(), Err(TimersError::ZeroT1));
        let t = Timers {
            t2: Duration::from_millis(100),
            ..d
        };
        assert_eq!(t.check(), Err(TimersError::T2BelowT1));
        let t = Timers {
            fr_timer: Some(Duration::ZERO),
            ..d
        };
        assert_eq!(t.check(), Err(TimersError::ZeroFr));
        let t = Timers {
            wait: Some(Duration::ZERO),
            ..d
        };
        assert_eq!(t.check(), Err(TimersError::ZeroFr));
    }
}
