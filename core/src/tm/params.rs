//! The `tm` module's parameters (`modparam("tm", ...)`), read once from the
//! compiled program.
//!
//! Units follow the dialect, as the seed configs expect: SER 0.8 and 0.9
//! give `fr_timer`, `fr_inv_timer` and `wt_timer` in **seconds**
//! (`modparam("tm", "fr_inv_timer", 27)`), SER 2.x and Kamailio in
//! **milliseconds** (`fr_inv_timer 120000`). `retr_timer1`/`retr_timer2`
//! and the lifetimes are milliseconds in every dialect. The AVPs named by
//! `fr_timer_avp`/`fr_inv_timer_avp` hold a value in the same unit as the
//! dialect's `fr_inv_timer`.

use std::time::Duration;

use ser_cfg::dialect::TimerUnit;
use ser_cfg::ir::{ConstValue, Program};

use super::timers::Timers;
use crate::script::AvpName;

/// tm's settings for the whole process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// T1, T2, T4, `fr_timer`, `fr_inv_timer`, `wt_timer`.
    pub timers: Timers,
    /// `auto_inv_100`: answer a relayed INVITE with `100 Trying` at once.
    pub auto_inv_100: bool,
    /// `auto_inv_100_reason`.
    pub reason_100: Vec<u8>,
    /// `fr_timer_avp`, `fr_inv_timer_avp`: AVPs overriding the timers per
    /// transaction.
    pub fr_timer_avp: Option<AvpName>,
    pub fr_inv_timer_avp: Option<AvpName>,
    /// Unit of the AVPs' values (seconds in SER 0.x, ms later).
    pub avp_unit_ms: bool,
    /// `max_inv_lifetime`, `max_noninv_lifetime`: the longest an INVITE or
    /// another transaction waits for its final reply before it is answered
    /// `408` and ended (Kamailio: 180 s and 32 s).
    pub max_inv_lifetime: Duration,
    pub max_noninv_lifetime: Duration,
    /// Live transactions a shard keeps at most; a request beyond it is
    /// answered `500` statelessly.
    pub max_transactions: usize,
}

/// Kamailio's `wt_timer` default.
pub const WT_TIMER: Duration = Duration::from_secs(5);

impl Default for Params {
    fn default() -> Params {
        Params {
            timers: Timers {
                wait: Some(WT_TIMER),
                ..Timers::default()
            },
            auto_inv_100: true,
            reason_100: b"trying -- your call is important to us".to_vec(),
            fr_timer_avp: None,
            fr_inv_timer_avp: None,
            avp_unit_ms: true,
            max_inv_lifetime: Duration::from_secs(180),
            max_noninv_lifetime: Duration::from_secs(32),
            max_transactions: 1_000_000,
        }
    }
}

fn const_int(p: &Program, v: &ConstValue) -> Option<i64> {
    match v {
        ConstValue::Int(n) => Some(*n),
        ConstValue::Str(s) => crate::script::value::parse_int(p.str(*s).trim().as_bytes()),
        ConstValue::Bool(b) => Some(i64::from(*b)),
    }
}

fn const_str<'p>(p: &'p Program, v: &ConstValue) -> Option<&'p str> {
    match v {
        ConstValue::Str(s) => Some(p.str(*s)),
        _ => None,
    }
}

/// An AVP as tm's parameters name it: `inv_timeout`, `s:name`, `i:45`,
/// `$avp(name)`, `$avp(i:45)`.
pub fn avp_name(text: &str) -> Option<AvpName> {
    let t = text.trim();
    let t = t
        .strip_prefix("$avp(")
        .and_then(|x| x.strip_suffix(')'))
        .unwrap_or(t);
    if t.is_empty() {
        return None;
    }
    if let Some(n) = t.strip_prefix("i:") {
        return n.trim().parse().ok().map(AvpName::Int);
    }
    let s = t.strip_prefix("s:").unwrap_or(t);
    (!s.is_empty()).then(|| AvpName::Str(s.as_bytes().into()))
}

impl Params {
    /// The defaults with the `modparam("tm", ...)` values of `p`; a value
    /// out of range keeps the default.
    pub fn from_program(p: &Program) -> Params {
        let mut r = Params::default();
        let seconds = p.dialect.tm_timer_unit() == TimerUnit::Seconds;
        r.avp_unit_ms = !seconds;
        let timer = |n: i64| -> Option<Duration> {
            let n = u64::try_from(n).ok().filter(|n| *n > 0)?;
            Some(if seconds {
                Duration::from_secs(n)
            } else {
                Duration::from_millis(n)
            })
        };
        let ms = |n: i64| -> Option<Duration> {
            u64::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .map(Duration::from_millis)
        };
        for m in p.modules.iter().filter(|m| p.str(m.name) == "tm") {
            for (name, value) in &m.params {
                let n = const_int(p, value);
                let t = &mut r.timers;
                match (p.str(*name), n) {
                    ("fr_timer", Some(n)) => t.fr_timer = timer(n).or(t.fr_timer),
                    ("fr_inv_timer", Some(n)) => t.fr_inv_timer = timer(n).or(t.fr_inv_timer),
                    ("wt_timer", Some(n)) => t.wait = timer(n).or(t.wait),
                    ("retr_timer1", Some(n)) => t.t1 = ms(n).unwrap_or(t.t1),
                    ("retr_timer2", Some(n)) => t.t2 = ms(n).unwrap_or(t.t2),
                    ("max_inv_lifetime", Some(n)) => {
                        r.max_inv_lifetime = ms(n).unwrap_or(r.max_inv_lifetime)
                    }
                    ("max_noninv_lifetime", Some(n)) => {
                        r.max_noninv_lifetime = ms(n).unwrap_or(r.max_noninv_lifetime)
                    }
                    ("auto_inv_100", Some(n)) => r.auto_inv_100 = n != 0,
                    ("restart_fr_on_each_reply", Some(n)) => t.restart_fr = n != 0,
                    ("fr_timer_avp", _) => r.fr_timer_avp = const_str(p, value).and_then(avp_name),
                    ("fr_inv_timer_avp", _) => {
                        r.fr_inv_timer_avp = const_str(p, value).and_then(avp_name)
                    }
                    ("auto_inv_100_reason", _) => {
                        if let Some(s) = const_str(p, value).filter(|s| {
                            !s.is_empty() && !s.bytes().any(|b| b == b'\r' || b == b'\n')
                        }) {
                            r.reason_100 = s.as_bytes().to_vec();
                        }
                    }
                    _ => {}
                }
            }
        }
        if r.timers.t2 < r.timers.t1 {
            r.timers.t2 = r.timers.t1;
        }
        r
    }

    /// A duration given in the unit of the AVPs (see the module docs).
    pub fn avp_duration(&self, n: i64) -> Option<Duration> {
        let n = u64::try_from(n).ok().filter(|n| *n > 0)?;
        Some(if self.avp_unit_ms {
            Duration::from_millis(n)
        } else {
            Duration::from_secs(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(src: &str) -> Program {
        let parsed = ser_cfg::parse_str("test.cfg", src, &[]).expect("config parses");
        ser_cfg::compile::compile(&parsed).expect("config compiles")
    }

    #[test]
    fn defaults() {
        let p = Params::default();
        assert_eq!(p.timers.fr_timer, Some(Duration::from_secs(30)));
        assert_eq!(p.timers.fr_inv_timer, Some(Duration::from_secs(120)));
        assert_eq!(p.timers.wait, Some(WT_TIMER));
        assert!(p.auto_inv_100 && p.timers.restart_fr);
    }

    #[test]
    fn units_follow_the_dialect() {
        // SER 0.9: seconds.
        let p = Params::from_program(&program(
            "loadmodule \"tm.so\"\nmodparam(\"tm\", \"fr_inv_timer\", 27)\n\
             modparam(\"tm\", \"fr_inv_timer_avp\", \"inv_timeout\")\nroute { break; }\n",
        ));
        assert_eq!(p.timers.fr_inv_timer, Some(Duration::from_secs(27)));
        assert_eq!(
            p.fr_inv_timer_avp,
            Some(AvpName::Str(b"inv_timeout"[..].into()))
        );
        assert_eq!(p.avp_duration(45), Some(Duration::from_secs(45)));
        // Kamailio: milliseconds.
        let p = Params::from_program(&program(
            "#!KAMAILIO\nloadmodule \"tm.so\"\nmodparam(\"tm\", \"fr_timer\", 30000)\n\
             modparam(\"tm\", \"fr_inv_timer\", 120000)\nmodparam(\"tm\", \"wt_timer\", 2000)\n\
             modparam(\"tm\", \"retr_timer1\", 250)\nrequest_route { exit; }\n",
        ));
        assert_eq!(p.timers.fr_timer, Some(Duration::from_secs(30)));
        assert_eq!(p.timers.fr_inv_timer, Some(Duration::from_secs(120)));
        assert_eq!(p.timers.wait, Some(Duration::from_secs(2)));
        assert_eq!(p.timers.t1, Duration::from_millis(250));
        assert_eq!(p.avp_duration(45_000), Some(Duration::from_secs(45)));
    }

    #[test]
    fn avp_names() {
        assert_eq!(avp_name("i:45"), Some(AvpName::Int(45)));
        assert_eq!(avp_name("$avp(s:x)"), Some(AvpName::Str(b"x"[..].into())));
        assert_eq!(avp_name(""), None);
    }
}
