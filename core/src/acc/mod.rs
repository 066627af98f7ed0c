//! Accounting (modules `acc`, SER 2.x's `acc_db` and `acc_syslog`):
//! transaction records written to the log and to the `acc` and
//! `missed_calls` tables.
//!
//! A request is accounted when the script set one of the module's flags
//! before `t_relay()`, as in Kamailio and SER:
//!
//! - `log_flag` / `db_flag`: the transaction is accounted when its final
//!   reply goes upstream, if that reply is a 2xx, or a failure (>= 300)
//!   with `failed_transaction_flag` set too (SER 2.x `acc_db`:
//!   `failed_transactions=1` accounts every failure). With
//!   `early_media=1` a 183 is accounted as well. A CANCEL is accounted
//!   only with `report_cancels=1`; an ACK forwarded with the flag set,
//!   only with `report_ack=1`.
//! - `log_missed_flag` / `db_missed_flag`: an INVITE whose transaction
//!   ends with a failure (>= 300) is a missed call.
//!
//! A log record is one line at `log_level` (`L_NOTICE` by default), e.g.
//! `ACC: transaction answered: timestamp=1733500000;method=INVITE;
//! from_tag=a;to_tag=b;call_id=c;code=200;reason=OK;src_user=alice`; the
//! `log_extra` pairs (`name=$pv;...`) follow. A database record is a row
//! of `acc` (or `db_table_acc`) or `missed_calls` (`db_table_missed_calls`)
//! with `method, from_tag, to_tag, callid, sip_code, sip_reason, time` and
//! the `db_extra` columns (which the table must have, as Kamailio's
//! default config says with its `ALTER TABLE`s). Rows are written by the
//! store's pool, never on a shard; a full queue or a database error loses
//! the row with a log line and a count (`acc:db_errors`).
//!
//! The extra values are read from the request when the transaction is
//! made (Kamailio reads them when it accounts; a pseudo-variable of the
//! reply, such as the reply's To tag, is not available).
//!
//! Script functions: `acc_log_request(comment)`, `acc_db_request(comment,
//! table)`, SER's `acc_request(comment)` — a record for the current
//! request now, with the code and reason taken from `comment` (`"404 Not
//! Found"`), as the missed-call recipe for offline users does after
//! `t_reply`.

pub mod funcs;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ser_cfg::ir::Program;

use crate::script::pv::{Pv, parse_pv_text};
use crate::script::{MsgCtx, level};
use crate::sip::NameAddr;
use crate::sip::method::Method;
use crate::store::Pool;
use crate::store::tables::{AccRow, acc_insert_into};

/// One `name=$pv` pair of `log_extra` / `db_extra`.
pub struct Extra {
    pub name: String,
    pv: Pv,
}

impl std::fmt::Debug for Extra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extra").field("name", &self.name).finish()
    }
}

/// The accounting settings of a config, and its database.
#[derive(Debug, Default)]
pub struct Acc {
    log_flag: Option<u32>,
    log_missed_flag: Option<u32>,
    failed_flag: Option<u32>,
    db_flag: Option<u32>,
    db_missed_flag: Option<u32>,
    /// SER 2.x `acc_db`'s `failed_transactions`: account every failure.
    failed_all: bool,
    early_media: bool,
    report_ack: bool,
    report_cancels: bool,
    log_level: i32,
    log_extra: Vec<Extra>,
    db_extra: Vec<Extra>,
    table_acc: String,
    table_missed: String,
    pool: Option<Arc<Pool>>,
}

/// Modules whose parameters this file reads.
pub const MODULES: &[&str] = &["acc", "acc_db", "acc_syslog"];

/// What the record of a transaction needs from its request, taken when the
/// transaction is made.
#[derive(Clone, Debug)]
pub struct Seed {
    method: String,
    from_tag: String,
    call_id: String,
    /// The request's flags when it was relayed.
    pub flags: u64,
    invite: bool,
    log_extra: Vec<(String, String)>,
    db_extra: Vec<(String, String)>,
}

/// One record: its kind and the reply it reports (code 0 and empty texts
/// for a request accounted by itself).
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    pub kind: Kind,
    pub code: u16,
    pub reason: &'a [u8],
    pub to_tag: &'a [u8],
}

/// Which record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Answered,
    Missed,
    Acknowledged,
    Request,
}

impl Kind {
    fn text(self) -> &'static str {
        match self {
            Kind::Answered => "transaction answered",
            Kind::Missed => "call missed",
            Kind::Acknowledged => "request acknowledged",
            Kind::Request => "request accounted",
        }
    }
}

fn flag_bit(f: Option<u32>) -> u64 {
    f.and_then(|f| 1u64.checked_shl(f)).unwrap_or(0)
}

fn parse_extras(spec: &str, what: &str) -> Result<Vec<Extra>, String> {
    let mut out = Vec::new();
    for pair in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, pv) = pair
            .split_once('=')
            .ok_or_else(|| format!("{what}: `{pair}` is not name=$pv"))?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("{what}: `{name}` is not a usable name"));
        }
        let pv = parse_pv_text(pv).map_err(|e| format!("{what}: {e}"))?;
        out.push(Extra {
            name: name.to_string(),
            pv,
        });
    }
    Ok(out)
}

impl Acc {
    /// The settings of the config's `acc` / `acc_db` / `acc_syslog`
    /// modules; `None` when none is loaded. `pool`: the database of the
    /// module that writes rows.
    pub fn from_program(p: &Program, pool: Option<Arc<Pool>>) -> Result<Option<Acc>, String> {
        let mut found = false;
        let mut a = Acc {
            log_level: level::L_NOTICE,
            table_acc: "acc".into(),
            table_missed: "missed_calls".into(),
            ..Acc::default()
        };
        for m in &p.modules {
            let module = p.str(m.name);
            if !MODULES.contains(&module) {
                continue;
            }
            found = true;
            for (k, v) in &m.params {
                let name = p.str(*k);
                let text = p.const_text(v);
                let err = |e: &str| format!("modparam(\"{module}\", \"{name}\", \"{text}\"): {e}");
                let flag = || -> Result<Option<u32>, String> {
                    let t = text.trim();
                    if let Ok(n) = t.parse::<u32>() {
                        return if n < 64 {
                            Ok(Some(n))
                        } else {
                            Err(err("a flag is 0..63"))
                        };
                    }
                    // A flag declared by name (`flags FLAG_ACC : 1`).
                    p.flags
                        .iter()
                        .find(|(n, _)| p.str(*n) == t)
                        .map(|&(_, b)| Some(b))
                        .ok_or_else(|| err("not a flag number or a declared flag name"))
                };
                let on = || matches!(text.trim(), "1" | "yes" | "on" | "true");
                match (module, name) {
                    (_, "log_flag") if module == "acc_db" => a.db_flag = flag()?,
                    (_, "log_missed_flag") if module == "acc_db" => a.db_missed_flag = flag()?,
                    (_, "log_flag") => a.log_flag = flag()?,
                    (_, "log_missed_flag") => a.log_missed_flag = flag()?,
                    (_, "db_flag") => a.db_flag = flag()?,
                    (_, "db_missed_flag") => a.db_missed_flag = flag()?,
                    (_, "failed_transaction_flag") => a.failed_flag = flag()?,
                    (_, "failed_transactions") => a.failed_all = on(),
                    (_, "early_media") => a.early_media = on(),
                    (_, "report_ack") => a.report_ack = on(),
                    (_, "report_cancels") => a.report_cancels = on(),
                    (_, "log_level") => {
                        a.log_level =
                            level::parse(text.as_bytes()).ok_or_else(|| err("not a log level"))?;
                    }
                    (_, "log_extra") => {
                        a.log_extra = parse_extras(&text, "log_extra").map_err(|e| err(&e))?
                    }
                    (_, "db_extra") => {
                        a.db_extra = parse_extras(&text, "db_extra").map_err(|e| err(&e))?
                    }
                    (_, "db_table_acc" | "acc_table") => {
                        a.table_acc = table_name(&text).map_err(|e| err(&e))?
                    }
                    (_, "db_table_missed_calls" | "mc_table") => {
                        a.table_missed = table_name(&text).map_err(|e| err(&e))?;
                    }
                    (_, "detect_direction") if on() => {
                        return Err(err("direction detection is not built (use 0)"));
                    }
                    _ => {}
                }
            }
        }
        if !found {
            return Ok(None);
        }
        a.pool = pool;
        Ok(Some(a))
    }

    /// The mask of every flag that makes a transaction worth a record.
    fn mask(&self) -> u64 {
        [
            self.log_flag,
            self.log_missed_flag,
            self.db_flag,
            self.db_missed_flag,
        ]
        .into_iter()
        .map(flag_bit)
        .fold(0, |a, b| a | b)
    }

    /// Whether a request with these flags (or a failure route that may set
    /// them) needs a [`Seed`].
    pub fn wants(&self, flags: u64, method: Option<Method>, failure_route: bool) -> bool {
        match method {
            Some(Method::Ack) => false,
            Some(Method::Cancel) if !self.report_cancels => false,
            _ => failure_route || flags & self.mask() != 0,
        }
    }

    /// What the record will need from the request of `ctx`.
    pub fn seed(&self, ctx: &MsgCtx<'_, '_>) -> Seed {
        let msg = ctx.msg;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let eval = |xs: &[Extra]| -> Vec<(String, String)> {
            xs.iter()
                .map(|x| (x.name.clone(), x.pv.get(ctx).to_string()))
                .collect()
        };
        Seed {
            method: msg.method().map(|m| text(m.as_bytes())).unwrap_or_default(),
            from_tag: msg
                .from()
                .ok()
                .and_then(NameAddr::tag)
                .map(text)
                .unwrap_or_default(),
            call_id: msg.call_id().map(text).unwrap_or_default(),
            flags: ctx.flags,
            invite: msg.method() == Some(Method::Invite),
            log_extra: eval(&self.log_extra),
            db_extra: eval(&self.db_extra),
        }
    }

    /// A final (or, with `early_media`, a 183) reply went upstream:
    /// writes the records it calls for. `flags`: the transaction's flags
    /// now (a failure route may have changed them); `reply`: the reply's
    /// bytes, parsed for its reason and To tag only when a record is
    /// written.
    pub fn on_reply(&self, debug: i32, seed: &Seed, flags: u64, code: u16, reply: &[u8]) {
        let has = |f: Option<u32>| flags & flag_bit(f) != 0;
        let counts = match code {
            183 => self.early_media,
            200..=299 => true,
            300..=699 => self.failed_all || has(self.failed_flag),
            _ => false,
        };
        let answered = (has(self.log_flag), has(self.db_flag));
        let answered = if counts { answered } else { (false, false) };
        let missed = if seed.invite && code >= 300 {
            (has(self.log_missed_flag), has(self.db_missed_flag))
        } else {
            (false, false)
        };
        if answered == (false, false) && missed == (false, false) {
            return;
        }
        let (reason, to_tag) = reply_reason_and_tag(reply);
        for (kind, outputs) in [(Kind::Answered, answered), (Kind::Missed, missed)] {
            if outputs != (false, false) {
                let rec = Record {
                    kind,
                    code,
                    reason,
                    to_tag,
                };
                self.write(debug, seed, rec, outputs, None);
            }
        }
    }

    /// An ACK relayed with these flags (`report_ack`).
    pub fn on_ack(&self, ctx: &MsgCtx<'_, '_>) {
        if !self.report_ack {
            return;
        }
        let has = |f: Option<u32>| ctx.flags & flag_bit(f) != 0;
        let (log, db) = (has(self.log_flag), has(self.db_flag));
        if log || db {
            let seed = self.seed(ctx);
            let to_tag = ctx
                .msg
                .to()
                .ok()
                .and_then(NameAddr::tag)
                .unwrap_or_default();
            let rec = Record {
                kind: Kind::Acknowledged,
                code: 0,
                reason: b"",
                to_tag,
            };
            self.write(ctx.config.debug(), &seed, rec, (log, db), None);
        }
    }

    #[allow(clippy::too_many_arguments)]
    /// Whether rows can be written.
    pub fn has_db(&self) -> bool {
        self.pool.is_some()
    }

    /// Writes a record: a log line when `log`, a row when `db` (into
    /// `table`, or the module's table for the kind).
    pub(crate) fn write(
        &self,
        debug: i32,
        seed: &Seed,
        rec: Record<'_>,
        (log, db): (bool, bool),
        table: Option<String>,
    ) {
        let Record {
            kind,
            code,
            reason,
            to_tag,
        } = rec;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let to_tag = String::from_utf8_lossy(to_tag).into_owned();
        let reason = String::from_utf8_lossy(reason).into_owned();
        if log {
            let mut line = format!(
                "ACC: {}: timestamp={now};method={};from_tag={};to_tag={to_tag};call_id={};code={code};reason={reason}",
                kind.text(),
                seed.method,
                seed.from_tag,
                seed.call_id,
            );
            for (n, v) in &seed.log_extra {
                line.push(';');
                line.push_str(n);
                line.push('=');
                line.push_str(v);
            }
            // The line holds peer bytes: no control characters reach the log.
            let line: String = line
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            crate::log::write(debug, self.log_level, &line);
        }
        if db {
            let table = match table {
                Some(t) => match table_name(&t) {
                    Ok(t) => t,
                    Err(e) => {
                        crate::log::write(debug, level::L_ERR, &format!("acc: {e}"));
                        return;
                    }
                },
                None if kind == Kind::Missed => self.table_missed.clone(),
                None => self.table_acc.clone(),
            };
            self.insert(table, seed, code, reason, to_tag, now);
        }
    }

    fn insert(
        &self,
        table: String,
        seed: &Seed,
        code: u16,
        reason: String,
        to_tag: String,
        now: u64,
    ) {
        let Some(pool) = self.pool.clone() else {
            ACC_STATS.errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let row = AccRow {
            method: seed.method.clone(),
            from_tag: seed.from_tag.clone(),
            to_tag,
            callid: seed.call_id.clone(),
            sip_code: if code == 0 {
                String::new()
            } else {
                code.to_string()
            },
            sip_reason: reason,
            time: i64::try_from(now).unwrap_or(i64::MAX),
        };
        let extra = seed.db_extra.clone();
        let stats = Arc::clone(&ACC_STATS);
        let r = pool.submit(
            move |db| acc_insert_into(db, &table, &row, &extra),
            move |r: Result<(), crate::store::DbError>| match r {
                Ok(()) => {
                    stats.rows.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    crate::log::write(
                        i32::MAX,
                        level::L_ERR,
                        &format!("acc: row not written: {e}"),
                    );
                }
            },
        );
        if let Err(e) = r {
            ACC_STATS.errors.fetch_add(1, Ordering::Relaxed);
            crate::log::write(
                i32::MAX,
                level::L_ERR,
                &format!("acc: row not written: {e}"),
            );
        }
    }
}

/// The reason phrase and To tag of a reply (empty when they do not
/// parse).
fn reply_reason_and_tag(data: &[u8]) -> (&[u8], &[u8]) {
    let reason = data
        .split(|&b| b == b'\r')
        .next()
        .and_then(|line| line.splitn(3, |&b| b == b' ').nth(2))
        .unwrap_or_default();
    let tag = crate::sip::SipMsg::parse(data)
        .ok()
        .and_then(|m| m.to().ok().and_then(NameAddr::tag))
        .unwrap_or_default();
    (reason, tag)
}

/// Rows written and lost, process-wide (the pool's callbacks run on its
/// threads).
#[derive(Debug, Default)]
pub struct AccStats {
    pub rows: AtomicU64,
    pub errors: AtomicU64,
}

static ACC_STATS: std::sync::LazyLock<Arc<AccStats>> = std::sync::LazyLock::new(Default::default);

/// The process's accounting row counters.
pub fn stats() -> &'static AccStats {
    &ACC_STATS
}

fn table_name(t: &str) -> Result<String, String> {
    let t = t.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(t.to_string())
    } else {
        Err(format!("`{t}` is not a table name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(cfg: &str) -> Result<Option<Acc>, String> {
        let parsed = ser_cfg::parse_str("t.cfg", cfg, &[]).unwrap();
        let p = ser_cfg::compile::compile(&parsed).unwrap();
        Acc::from_program(&p, None)
    }

    const HEAD: &str =
        "#!KAMAILIO\nloadmodule \"sl.so\"\nloadmodule \"tm.so\"\nloadmodule \"acc.so\"\n";

    #[test]
    fn parameters() {
        let a = acc(&format!(
            "{HEAD}modparam(\"acc\", \"log_flag\", 1)\nmodparam(\"acc\", \"failed_transaction_flag\", 3)\n\
             modparam(\"acc\", \"log_extra\", \"src_user=$fU;ua=$hdr(User-Agent)\")\n\
             request_route {{ exit; }}\n"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            (a.log_flag, a.failed_flag, a.db_flag),
            (Some(1), Some(3), None)
        );
        assert_eq!(
            a.log_extra
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["src_user", "ua"]
        );
        assert!(a.wants(2, Some(Method::Invite), false));
        assert!(!a.wants(8, Some(Method::Invite), false));
        assert!(
            a.wants(0, Some(Method::Invite), true),
            "a failure route may set the flag"
        );
        assert!(!a.wants(2, Some(Method::Ack), false));
        assert!(
            !a.wants(2, Some(Method::Cancel), false),
            "report_cancels is off"
        );

        // SER 2.x acc_db: log_flag by name is the database flag.
        let a = acc(
            "flags\n  FLAG_ACC : 4;\nloadmodule \"tm\"\nloadmodule \"acc_db\"\n\
                     modparam(\"acc_db\", \"log_flag\", \"FLAG_ACC\")\n\
                     modparam(\"acc_db\", \"failed_transactions\", 1)\nroute { drop; }\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!((a.db_flag, a.log_flag, a.failed_all), (Some(4), None, true));

        assert!(
            acc("loadmodule \"sl\"\nroute { drop; }\n")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn refused_parameters_say_why() {
        for (param, value, why) in [
            ("detect_direction", "1", "not built"),
            ("log_extra", "src_user", "not name=$pv"),
            ("log_extra", "x=$var(a)", "script variables"),
            ("db_table_acc", "acc; drop", "not a table name"),
        ] {
            let e = acc(&format!(
                "{HEAD}modparam(\"acc\", \"{param}\", \"{value}\")\nrequest_route {{ exit; }}\n"
            ))
            .unwrap_err();
            assert!(e.contains(why), "{param}: {e}");
            assert!(
                e.starts_with(&format!("modparam(\"acc\", \"{param}\"")),
                "{e}"
            );
        }
    }
}
