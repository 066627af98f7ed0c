//! usrloc's `db_mode`: the `location` and `aliases` tables kept in the
//! store as well as in memory.
//!
//! - 1 (write-through): `save` writes the AoR's bindings to the store
//!   before the REGISTER is answered; the script waits (suspended, off the
//!   shard) for the write, and a failed write is answered `500` instead of
//!   `200`. After a crash, every binding that got a `200 OK` is in the
//!   store.
//! - 2 (write-back): `save` only marks the AoR; shard 0 writes the marked
//!   AoRs every `timer_interval` seconds (default 60) and at exit. Faster,
//!   and a crash loses up to one interval of changes.
//! - 3 (store only, for several routers sharing one database): nothing is
//!   loaded at start and memory is only a per-request scratch. `save`
//!   reads the AoR's rows ([`UsrlocDb::read`]), applies the REGISTER to
//!   them in memory and writes the changed rows ([`UsrlocDb::write_changes`])
//!   before answering; `lookup` and `registered` read the AoR's rows
//!   first. Each is one store round trip more, with the script suspended
//!   (never the shard).
//! - At start (modes 1 and 2) the bindings still alive are loaded from the
//!   store; expired rows are deleted with each write-back and sweep (shard
//!   0's timer, all modes).
//!
//! A mode 1/2 write replaces the AoR's rows with its bindings as they are
//! in memory (one transaction), so a retry or a later REGISTER repairs an
//! earlier failure. A mode 3 write touches only the contacts the REGISTER
//! changed (deleted or upserted by contact), so two routers registering
//! different contacts of one AoR at once do not undo each other.

use std::net::SocketAddr;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use super::location::{Binding, BindingText, Location, PERMANENT};
use crate::store::tables::{self, UlRow, UlTable};
use crate::store::{Db, DbError, Pool};

/// `db_mode` 3: where a store read leaves the AoR's live bindings for the
/// suspended call (`None` until it is over, and after a failed read).
pub type UlRead = Arc<parking_lot::Mutex<Option<Vec<Binding>>>>;

/// `db_mode` 3: at most this many store reads per message (`save`,
/// `lookup` and `registered` together), so a script cannot loop on the
/// store.
pub const MAX_READS: u8 = 8;

/// The store side of usrloc.
pub struct UsrlocDb {
    pub pool: Arc<Pool>,
    /// 1, 2 or 3.
    pub mode: u8,
    use_domain: bool,
    dirty_tx: Sender<(UlTable, Vec<u8>)>,
    dirty_rx: Receiver<(UlTable, Vec<u8>)>,
}

impl std::fmt::Debug for UsrlocDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsrlocDb")
            .field("url", &self.pool.url().to_string())
            .field("mode", &self.mode)
            .finish()
    }
}

/// Whether the store holds the usrloc table `name` (`location`,
/// `aliases`).
pub fn persisted(name: &[u8]) -> bool {
    UlTable::by_name(&String::from_utf8_lossy(name).to_ascii_lowercase()).is_some()
}

/// `user` and `domain` of a canonical AoR.
fn split(aor: &[u8], use_domain: bool) -> (String, String) {
    let text = String::from_utf8_lossy(aor);
    match text.split_once('@') {
        Some((u, d)) if use_domain => (u.to_string(), d.to_string()),
        _ => (text.into_owned(), String::new()),
    }
}

fn row(user: &str, domain: &str, b: &Binding) -> UlRow {
    let mut r = UlRow::new(user, domain, &String::from_utf8_lossy(b.contact()));
    r.received = b.received.map(|a| format!("sip:{a}"));
    r.path = b.path().map(|p| String::from_utf8_lossy(p).into_owned());
    r.expires = if b.expires == PERMANENT {
        0
    } else {
        i64::try_from(b.expires).unwrap_or(i64::MAX)
    };
    r.q = b.q.map_or(-1.0, |q| f64::from(q) / 1000.0);
    r.callid = String::from_utf8_lossy(b.call_id()).into_owned();
    r.cseq = i64::from(b.cseq);
    r.last_modified = i64::try_from(b.last_modified).unwrap_or(0);
    r.flags = i64::from(b.flags);
    r.cflags = i64::try_from(b.bflags).unwrap_or(0);
    r.user_agent = b
        .user_agent()
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .unwrap_or_default();
    r
}

/// The URI of the first Path value (where requests to a binding with a
/// Path are sent).
pub fn first_path_uri(path: &str) -> &str {
    let p = path.trim();
    match p.strip_prefix('<') {
        Some(rest) => rest.split('>').next().unwrap_or(rest),
        None => p.split(',').next().unwrap_or(p).trim(),
    }
}

fn binding(r: &UlRow) -> (Vec<u8>, Binding) {
    let aor = if r.domain.is_empty() {
        r.username.clone().into_bytes()
    } else {
        format!("{}@{}", r.username, r.domain).into_bytes()
    };
    let path = r.path.as_deref().filter(|p| !p.is_empty());
    let text = BindingText {
        contact: r.contact.as_bytes(),
        call_id: r.callid.as_bytes(),
        path: path.map(str::as_bytes),
        path_dst: path.map(|p| first_path_uri(p).as_bytes()),
        user_agent: (!r.user_agent.is_empty()).then_some(r.user_agent.as_bytes()),
    };
    let expires = if r.expires <= 0 {
        PERMANENT
    } else {
        r.expires as u64
    };
    let mut b = Binding::with_text(&text, expires);
    b.q = (r.q >= 0.0).then(|| (r.q * 1000.0).round().clamp(0.0, 1000.0) as u16);
    b.cseq = u32::try_from(r.cseq).unwrap_or(0);
    b.received = r
        .received
        .as_deref()
        .and_then(|s| s.trim_start_matches("sip:").split(';').next())
        .and_then(|s| s.parse::<SocketAddr>().ok());
    b.flags = u32::try_from(r.flags).unwrap_or(0);
    b.bflags = u64::try_from(r.cflags).unwrap_or(0);
    b.last_modified = u64::try_from(r.last_modified).unwrap_or(0);
    (aor, b)
}

/// Replaces the rows of one AoR by `bindings` (inside the caller's
/// transaction).
fn replace(
    db: &mut Db,
    t: UlTable,
    user: &str,
    domain: &str,
    bindings: &[Binding],
) -> Result<(), DbError> {
    tables::location_delete_aor(db, t, user, domain)?;
    for b in bindings {
        tables::location_upsert(db, t, &row(user, domain, b))?;
    }
    Ok(())
}

impl UsrlocDb {
    pub fn new(pool: Arc<Pool>, mode: u8, use_domain: bool) -> UsrlocDb {
        let (dirty_tx, dirty_rx) = crossbeam_channel::unbounded();
        UsrlocDb {
            pool,
            mode,
            use_domain,
            dirty_tx,
            dirty_rx,
        }
    }

    /// Loads the live bindings of `location` and `aliases` into memory
    /// (start-up: blocking is fine there). Returns how many.
    pub fn load(&self, loc: &Location, now: u64) -> Result<usize, DbError> {
        let mut n = 0;
        for t in [UlTable::Location, UlTable::Aliases] {
            let rows = self.pool.run_blocking(move |db| {
                tables::location_load_all(db, t, i64::try_from(now).unwrap_or(0))
            })?;
            let table = match t {
                UlTable::Location => loc.location(),
                UlTable::Aliases => loc.aliases(),
            };
            for r in &rows {
                let (aor, b) = binding(r);
                table.update(&aor, now, |list| list.push(b));
                n += 1;
            }
        }
        Ok(n)
    }

    /// Write-through (`db_mode` 1): writes `aor`'s `bindings` in `table`;
    /// `done` gets whether it worked, on a store thread. `false` at once
    /// (and `done` dropped) when the table is not persisted or the pool
    /// refused the job.
    pub fn write(
        &self,
        table: &[u8],
        aor: &[u8],
        bindings: Vec<Binding>,
        done: impl FnOnce(bool) + Send + 'static,
    ) -> bool {
        let Some(t) = UlTable::by_name(&String::from_utf8_lossy(table).to_ascii_lowercase()) else {
            return false;
        };
        let (user, domain) = split(aor, self.use_domain);
        self.pool
            .submit(
                move |db| db.transaction(|db| replace(db, t, &user, &domain, &bindings)),
                move |r: Result<(), DbError>| done(r.is_ok()),
            )
            .is_ok()
    }

    /// `db_mode` 3: reads the live bindings of `aor` in `table`; `done`
    /// gets them (`None` on a store error), on a store thread. `false` at
    /// once (and `done` dropped) when the table is not persisted or the
    /// pool refused the job.
    pub fn read(
        &self,
        table: &[u8],
        aor: &[u8],
        now: u64,
        done: impl FnOnce(Option<Vec<Binding>>) + Send + 'static,
    ) -> bool {
        let Some(t) = UlTable::by_name(&String::from_utf8_lossy(table).to_ascii_lowercase()) else {
            return false;
        };
        let (user, domain) = split(aor, self.use_domain);
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        self.pool
            .submit(
                move |db| tables::location_load_aor(db, t, &user, &domain, now),
                move |r: Result<Vec<UlRow>, DbError>| {
                    done(
                        r.ok()
                            .map(|rows| rows.iter().map(|r| binding(r).1).collect()),
                    )
                },
            )
            .is_ok()
    }

    /// `db_mode` 3: deletes the contacts `removed` of `aor` and inserts or
    /// updates `changed` (one transaction); `done` gets whether it worked.
    /// `false` at once as [`UsrlocDb::write`].
    pub fn write_changes(
        &self,
        table: &[u8],
        aor: &[u8],
        removed: Vec<Vec<u8>>,
        changed: Vec<Binding>,
        done: impl FnOnce(bool) + Send + 'static,
    ) -> bool {
        let Some(t) = UlTable::by_name(&String::from_utf8_lossy(table).to_ascii_lowercase()) else {
            return false;
        };
        let (user, domain) = split(aor, self.use_domain);
        self.pool
            .submit(
                move |db| {
                    db.transaction(|db| {
                        for c in &removed {
                            tables::location_delete(
                                db,
                                t,
                                &user,
                                &domain,
                                &String::from_utf8_lossy(c),
                            )?;
                        }
                        for b in &changed {
                            tables::location_upsert(db, t, &row(&user, &domain, b))?;
                        }
                        Ok(())
                    })
                },
                move |r: Result<(), DbError>| done(r.is_ok()),
            )
            .is_ok()
    }

    /// Write-back (`db_mode` 2): marks `aor` of `table` for the next flush.
    pub fn mark(&self, table: &[u8], aor: &[u8]) {
        if let Some(t) = UlTable::by_name(&String::from_utf8_lossy(table).to_ascii_lowercase()) {
            let _ = self.dirty_tx.send((t, aor.to_vec()));
        }
    }

    /// Writes every marked AoR as it is in memory now, and deletes expired
    /// rows: one job on the store's threads (shard 0 calls it on its
    /// timer; never waits).
    pub fn flush(&self, loc: &Location, now: u64) {
        let mut seen: Vec<(UlTable, Vec<u8>)> = Vec::new();
        while let Ok(item) = self.dirty_rx.try_recv() {
            if !seen.contains(&item) {
                seen.push(item);
            }
        }
        let mut work: Vec<(UlTable, String, String, Vec<Binding>)> = Vec::with_capacity(seen.len());
        for (t, aor) in &seen {
            let table = match t {
                UlTable::Location => loc.location(),
                UlTable::Aliases => loc.aliases(),
            };
            let (user, domain) = split(aor, self.use_domain);
            let live = table.get(aor, now, super::location::Order::Time);
            work.push((*t, user, domain, live));
        }
        let now_i = i64::try_from(now).unwrap_or(0);
        let tx = self.dirty_tx.clone();
        let again = seen.clone();
        let submitted = self.pool.submit(
            move |db| {
                db.transaction(|db| {
                    for (t, user, domain, bindings) in &work {
                        replace(db, *t, user, domain, bindings)?;
                    }
                    Ok(())
                })?;
                for t in [UlTable::Location, UlTable::Aliases] {
                    tables::location_delete_expired(db, t, now_i)?;
                }
                Ok(())
            },
            move |r: Result<(), DbError>| {
                // Marked again for the next flush: nothing is lost while
                // the store is down.
                if r.is_err() {
                    for k in again {
                        let _ = tx.send(k);
                    }
                }
            },
        );
        if submitted.is_err() {
            for k in seen {
                let _ = self.dirty_tx.send(k);
            }
        }
    }
}
