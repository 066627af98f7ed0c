//! The user location store (usrloc, `db_mode=0`): named tables of
//! bindings (`location`, `aliases`, ...), each shared by every shard
//! without a global lock.
//!
//! A [`Table`] is [`STRIPES`] stripes, each a `parking_lot::RwLock` over a
//! map from the canonical address of record ([`Aor`]) to its bindings; an
//! AoR's stripe is picked by a keyed hash of its bytes, so two shards
//! touching different AoRs almost never meet on a lock, and every change
//! to one AoR (a whole REGISTER) happens under one write lock, atomically.
//! The two tables every config uses (`location` and `aliases`) are fixed
//! fields; others are created on first use (at most [`MAX_TABLES`]).
//!
//! Times are Unix seconds (as usrloc's `expires` column). A binding whose
//! `expires` is not after `now` is dead: reads skip it and drop it from
//! the table ([`Table::get`]), and [`Location::expire`] sweeps everything
//! (the shard timer calls it).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;

/// Stripes per table.
pub const STRIPES: usize = 64;

/// Most tables besides `location` and `aliases`.
pub const MAX_TABLES: usize = 32;

/// Most bindings one AoR may hold whatever `max_contacts` says.
pub const HARD_MAX_BINDINGS: usize = 256;

/// `expires` of a binding that never expires (aliases added by tools).
pub const PERMANENT: u64 = u64::MAX;

/// Binding flag: registered from behind a NAT (`nat_flag` / `nat_bflag`
/// was set when it was saved).
pub const FL_NAT: u32 = 1;

/// The current Unix time in seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A canonical address of record: `user` or `user@domain` (domain in
/// lower case), see [`super::aor_of`].
pub type Aor = Box<[u8]>;

/// One registered contact of an AoR.
///
/// Its strings (contact, Call-ID, Path, Path target, User-Agent) share one
/// allocation: a table holds millions of bindings, and one block per
/// binding instead of five saves both the allocator's headers and the
/// struct's width.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The strings back to back, in [`Part`] order (read through the
    /// accessors; visible to the registrar for struct-update syntax).
    pub(super) text: Box<[u8]>,
    /// End offset of each part in `text`.
    pub(super) ends: [u32; PARTS],
    /// Which optional parts are present (bit = part index).
    pub(super) present: u8,
    /// Unix time at which it expires ([`PERMANENT`]: never).
    pub expires: u64,
    /// q-value in thousandths; `None` when the contact gave none.
    pub q: Option<u16>,
    pub cseq: u32,
    /// Where the REGISTER came from.
    pub received: Option<SocketAddr>,
    /// [`FL_NAT`], ...
    pub flags: u32,
    /// Branch flags of the REGISTER, given back by `lookup`.
    pub bflags: u64,
    /// Unix time of the last change.
    pub last_modified: u64,
}

/// The string parts of a [`Binding`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Contact = 0,
    CallId = 1,
    Path = 2,
    PathDst = 3,
    UserAgent = 4,
}

pub(super) const PARTS: usize = 5;

/// The strings of a binding, for [`Binding::with_text`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BindingText<'a> {
    /// The contact URI as registered (no angle brackets or parameters of
    /// the Contact header).
    pub contact: &'a [u8],
    pub call_id: &'a [u8],
    /// The Path header values of the REGISTER, joined with `,` (RFC 3327),
    /// and the URI of the first one (where requests are sent).
    pub path: Option<&'a [u8]>,
    pub path_dst: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
}

impl Binding {
    /// A binding to `contact` until `expires`, everything else empty.
    pub fn new(contact: &[u8], expires: u64) -> Binding {
        Binding::with_text(
            &BindingText {
                contact,
                ..BindingText::default()
            },
            expires,
        )
    }

    /// A binding with these strings until `expires`, the rest empty.
    pub fn with_text(t: &BindingText<'_>, expires: u64) -> Binding {
        let parts: [Option<&[u8]>; PARTS] = [
            Some(t.contact),
            Some(t.call_id),
            t.path,
            t.path_dst,
            t.user_agent,
        ];
        let mut text = Vec::with_capacity(parts.iter().flatten().map(|p| p.len()).sum());
        let mut ends = [0u32; PARTS];
        let mut present = 0u8;
        for (i, p) in parts.iter().enumerate() {
            if let Some(p) = p {
                text.extend_from_slice(p);
                present |= 1 << i;
            }
            // Bindings come from messages of at most 64 KB.
            ends[i] = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        Binding {
            text: text.into_boxed_slice(),
            ends,
            present,
            expires,
            q: None,
            cseq: 0,
            received: None,
            flags: 0,
            bflags: 0,
            last_modified: 0,
        }
    }

    /// The same binding with another contact URI.
    pub fn with_contact(&self, contact: &[u8]) -> Binding {
        let t = BindingText {
            contact,
            call_id: self.call_id(),
            path: self.path(),
            path_dst: self.path_dst(),
            user_agent: self.user_agent(),
        };
        let fresh = Binding::with_text(&t, 0);
        Binding {
            text: fresh.text,
            ends: fresh.ends,
            present: fresh.present,
            ..self.clone()
        }
    }

    fn part(&self, p: Part) -> Option<&[u8]> {
        let i = p as usize;
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = match i {
            0 => 0,
            _ => *self.ends.get(i - 1)? as usize,
        };
        let end = *self.ends.get(i)? as usize;
        self.text.get(start..end)
    }

    /// The contact URI as registered.
    pub fn contact(&self) -> &[u8] {
        self.part(Part::Contact).unwrap_or_default()
    }

    /// The Call-ID of the REGISTER that made or last refreshed it.
    pub fn call_id(&self) -> &[u8] {
        self.part(Part::CallId).unwrap_or_default()
    }

    /// The Path header values of the REGISTER, joined with `,`.
    pub fn path(&self) -> Option<&[u8]> {
        self.part(Part::Path)
    }

    /// The URI of the first Path value (where requests are sent).
    pub fn path_dst(&self) -> Option<&[u8]> {
        self.part(Part::PathDst)
    }

    /// The REGISTER's User-Agent.
    pub fn user_agent(&self) -> Option<&[u8]> {
        self.part(Part::UserAgent)
    }

    /// Alive at `now`.
    #[inline]
    pub fn alive(&self, now: u64) -> bool {
        self.expires > now
    }

    /// Seconds left at `now` (0 when dead; `u32::MAX` at most).
    pub fn remaining(&self, now: u64) -> u32 {
        u32::try_from(self.expires.saturating_sub(now)).unwrap_or(u32::MAX)
    }
}

/// How [`Table::get`] orders bindings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Highest q first (no q counts below `q=0`); the newest first among
    /// equal q.
    #[default]
    Q,
    /// The newest first (`desc_time_order`).
    Time,
}

/// Sorts a newest-first list in `order`.
pub fn sort(list: &mut [Binding], order: Order) {
    if order == Order::Q {
        // Stable: equal q keeps newest first.
        list.sort_by_key(|b| std::cmp::Reverse(b.q.map_or(-1, i32::from)));
    }
}

#[repr(align(128))]
#[derive(Debug, Default)]
struct Stripe(RwLock<Shelf>);

/// What a stripe's lock guards: its AoRs, and how many bindings were
/// removed from them because they expired (usrloc's `location_expires`),
/// counted under the lock already held for the removal.
#[derive(Debug, Default)]
struct Shelf {
    aors: HashMap<Aor, Vec<Binding>>,
    expired: u64,
}

impl std::ops::Deref for Shelf {
    type Target = HashMap<Aor, Vec<Binding>>;
    fn deref(&self) -> &Self::Target {
        &self.aors
    }
}

impl std::ops::DerefMut for Shelf {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.aors
    }
}

/// Keeps the live bindings of `list`; returns how many dead ones went.
fn drop_dead(list: &mut Vec<Binding>, now: u64) -> u64 {
    let before = list.len();
    list.retain(|b| b.alive(now));
    (before - list.len()) as u64
}

/// One table: the bindings of every AoR, newest first per AoR.
#[derive(Debug)]
pub struct Table {
    stripes: Box<[Stripe; STRIPES]>,
    hasher: RandomState,
}

impl Default for Table {
    fn default() -> Table {
        Table::new()
    }
}

impl Table {
    pub fn new() -> Table {
        Table {
            stripes: Box::new(std::array::from_fn(|_| Stripe::default())),
            hasher: RandomState::new(),
        }
    }

    fn stripe(&self, aor: &[u8]) -> &RwLock<Shelf> {
        let h = self.hasher.hash_one(aor) as usize;
        &self.stripes[h % STRIPES].0
    }

    /// The live bindings of `aor` at `now`, in `order`. Dead bindings met
    /// on the way are removed.
    pub fn get(&self, aor: &[u8], now: u64, order: Order) -> Vec<Binding> {
        let lock = self.stripe(aor);
        let mut out = {
            let map = lock.read();
            let Some(list) = map.get(aor) else {
                return Vec::new();
            };
            if list.iter().all(|b| b.alive(now)) {
                list.clone()
            } else {
                drop(map);
                let mut guard = lock.write();
                let shelf = &mut *guard;
                let Some(list) = shelf.aors.get_mut(aor) else {
                    return Vec::new();
                };
                shelf.expired += drop_dead(list, now);
                let out = list.clone();
                if list.is_empty() {
                    shelf.aors.remove(aor);
                }
                out
            }
        };
        sort(&mut out, order);
        out
    }

    /// Whether `aor` has a live binding at `now`.
    pub fn has_live(&self, aor: &[u8], now: u64) -> bool {
        self.stripe(aor)
            .read()
            .get(aor)
            .is_some_and(|l| l.iter().any(|b| b.alive(now)))
    }

    /// Runs `f` on the bindings of `aor` (newest first, dead ones already
    /// removed) under the stripe's write lock: the whole change is atomic.
    /// An empty list left by `f` removes the AoR.
    pub fn update<R>(&self, aor: &[u8], now: u64, f: impl FnOnce(&mut Vec<Binding>) -> R) -> R {
        let mut guard = self.stripe(aor).write();
        let shelf = &mut *guard;
        let map = &mut shelf.aors;
        match map.get_mut(aor) {
            Some(list) => {
                shelf.expired += drop_dead(list, now);
                let r = f(list);
                if list.is_empty() {
                    map.remove(aor);
                } else {
                    list.shrink_to_fit();
                }
                r
            }
            None => {
                let mut list = Vec::new();
                let r = f(&mut list);
                if !list.is_empty() {
                    // A first push reserves room for four bindings; most
                    // AoRs have one, and a table holds millions of them.
                    list.shrink_to_fit();
                    map.insert(aor.into(), list);
                }
                r
            }
        }
    }

    /// Adds or replaces (same contact URI) a binding as the newest.
    pub fn insert(&self, aor: &[u8], b: Binding, now: u64) {
        self.update(aor, now, |list| {
            list.retain(|x| x.contact() != b.contact());
            list.insert(0, b);
            list.truncate(HARD_MAX_BINDINGS);
        });
    }

    /// Removes every binding of `aor`; returns how many there were.
    pub fn remove_aor(&self, aor: &[u8]) -> usize {
        self.stripe(aor).write().remove(aor).map_or(0, |l| l.len())
    }

    /// Removes the bindings dead at `now`; returns how many.
    pub fn expire(&self, now: u64) -> usize {
        let mut n = 0;
        for s in self.stripes.iter() {
            // A read pass first: most sweeps find nothing to remove and
            // should not block lookups.
            if !s.0.read().values().flatten().any(|b| !b.alive(now)) {
                continue;
            }
            let mut guard = s.0.write();
            let shelf = &mut *guard;
            let mut gone = 0;
            shelf.aors.retain(|_, list| {
                gone += drop_dead(list, now);
                !list.is_empty()
            });
            shelf.expired += gone;
            n += gone as usize;
        }
        n
    }

    /// Bindings removed so far because they expired (by a sweep or met
    /// dead by a read or a change), since the table was made.
    pub fn expired(&self) -> u64 {
        self.stripes.iter().map(|s| s.0.read().expired).sum()
    }

    /// Number of AoRs (live or not yet swept).
    pub fn aors(&self) -> usize {
        self.stripes.iter().map(|s| s.0.read().len()).sum()
    }

    /// Number of bindings (live or not yet swept).
    pub fn bindings(&self) -> usize {
        self.stripes
            .iter()
            .map(|s| s.0.read().values().map(Vec::len).sum::<usize>())
            .sum()
    }

    /// Up to `max` AoRs with their live bindings at `now`, starting after
    /// the first `start` AoRs in the table's order (stripe by stripe), each
    /// with the position just after it: how `ul.dump` pages
    /// through millions of bindings holding one stripe's read lock at a
    /// time. Positions count every AoR, dead or live, so a page boundary
    /// moves only when AoRs come or go between two pages.
    pub fn page(&self, start: usize, max: usize, now: u64) -> Vec<(Aor, Vec<Binding>, usize)> {
        let mut out = Vec::new();
        let mut pos = 0usize;
        for s in self.stripes.iter() {
            if out.len() >= max {
                break;
            }
            let map = s.0.read();
            if pos + map.len() <= start {
                pos += map.len();
                continue;
            }
            for (aor, list) in map.iter() {
                if pos < start {
                    pos += 1;
                    continue;
                }
                if out.len() >= max {
                    break;
                }
                pos += 1;
                let live: Vec<Binding> = list.iter().filter(|b| b.alive(now)).cloned().collect();
                if !live.is_empty() {
                    out.push((aor.clone(), live, pos));
                }
            }
        }
        out
    }

    /// Every AoR with its live bindings at `now` (for dumps and RPC).
    pub fn snapshot(&self, now: u64) -> Vec<(Aor, Vec<Binding>)> {
        let mut out = Vec::new();
        for s in self.stripes.iter() {
            for (aor, list) in s.0.read().iter() {
                let live: Vec<Binding> = list.iter().filter(|b| b.alive(now)).cloned().collect();
                if !live.is_empty() {
                    out.push((aor.clone(), live));
                }
            }
        }
        out
    }
}

/// A table created on first use, with its name.
type NamedTable = (Box<[u8]>, Arc<Table>);

/// The store: every table, shared by all shards for the process lifetime
/// (through [`crate::script::Config::location`]).
#[derive(Debug, Default)]
pub struct Location {
    location: Table,
    aliases: Table,
    /// Tables with other names, created on first use.
    others: RwLock<Vec<NamedTable>>,
}

/// A table borrowed from the store.
pub enum TableRef<'l> {
    Fixed(&'l Table),
    Other(Arc<Table>),
}

impl std::ops::Deref for TableRef<'_> {
    type Target = Table;
    fn deref(&self) -> &Table {
        match self {
            TableRef::Fixed(t) => t,
            TableRef::Other(t) => t,
        }
    }
}

impl Location {
    pub fn new() -> Location {
        Location::default()
    }

    /// The `location` table.
    pub fn location(&self) -> &Table {
        &self.location
    }

    /// The `aliases` table.
    pub fn aliases(&self) -> &Table {
        &self.aliases
    }

    /// The table named `name` (any case for `location` and `aliases`,
    /// exact otherwise), created if needed; `None` when [`MAX_TABLES`]
    /// other tables exist already.
    pub fn table(&self, name: &[u8]) -> Option<TableRef<'_>> {
        if name.eq_ignore_ascii_case(b"location") {
            return Some(TableRef::Fixed(&self.location));
        }
        if name.eq_ignore_ascii_case(b"aliases") {
            return Some(TableRef::Fixed(&self.aliases));
        }
        if let Some((_, t)) = self.others.read().iter().find(|(n, _)| &**n == name) {
            return Some(TableRef::Other(Arc::clone(t)));
        }
        let mut others = self.others.write();
        if let Some((_, t)) = others.iter().find(|(n, _)| &**n == name) {
            return Some(TableRef::Other(Arc::clone(t)));
        }
        if others.len() >= MAX_TABLES {
            return None;
        }
        let t = Arc::new(Table::new());
        others.push((name.into(), Arc::clone(&t)));
        Some(TableRef::Other(t))
    }

    /// The table named `name` if it exists (never creates one).
    pub fn existing(&self, name: &[u8]) -> Option<TableRef<'_>> {
        if name.eq_ignore_ascii_case(b"location") {
            return Some(TableRef::Fixed(&self.location));
        }
        if name.eq_ignore_ascii_case(b"aliases") {
            return Some(TableRef::Fixed(&self.aliases));
        }
        self.others
            .read()
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, t)| TableRef::Other(Arc::clone(t)))
    }

    /// Every table with its name: `location`, `aliases`, then the others
    /// in creation order.
    pub fn tables(&self) -> Vec<(String, TableRef<'_>)> {
        let mut v = vec![
            ("location".to_string(), TableRef::Fixed(&self.location)),
            ("aliases".to_string(), TableRef::Fixed(&self.aliases)),
        ];
        for (n, t) in self.others.read().iter() {
            v.push((
                String::from_utf8_lossy(n).into_owned(),
                TableRef::Other(Arc::clone(t)),
            ));
        }
        v
    }

    /// Adds a permanent alias: requests to `alias` (a canonical AoR) are
    /// sent to `target` (a URI) by `lookup("aliases")`.
    pub fn add_alias(&self, alias: &[u8], target: &[u8]) {
        self.aliases
            .insert(alias, Binding::new(target, PERMANENT), now());
    }

    /// AoRs in every table, live or not yet swept (usrloc's
    /// `registered_users`).
    pub fn users(&self) -> usize {
        let others: usize = self.others.read().iter().map(|(_, t)| t.aors()).sum();
        self.location.aors() + self.aliases.aors() + others
    }

    /// Removes the bindings of every table dead at `now` (Unix seconds);
    /// returns how many.
    pub fn expire(&self, now: u64) -> usize {
        let others: Vec<Arc<Table>> = self
            .others
            .read()
            .iter()
            .map(|(_, t)| Arc::clone(t))
            .collect();
        self.location.expire(now)
            + self.aliases.expire(now)
            + others.iter().map(|t| t.expire(now)).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(uri: &str, expires: u64, q: Option<u16>) -> Binding {
        Binding {
            q,
            ..Binding::new(uri.as_bytes(), expires)
        }
    }

    #[test]
    fn get_orders_and_expires_lazily() {
        let t = Table::new();
        t.insert(b"alice", b("sip:a@1", 100, Some(500)), 10);
        t.insert(b"alice", b("sip:a@2", 200, None), 10);
        t.insert(b"alice", b("sip:a@3", 50, Some(1000)), 10);
        let q: Vec<Vec<u8>> = t
            .get(b"alice", 10, Order::Q)
            .into_iter()
            .map(|b| b.contact().to_vec())
            .collect();
        assert_eq!(
            q,
            vec![
                b"sip:a@3".to_vec(),
                b"sip:a@1".to_vec(),
                b"sip:a@2".to_vec()
            ]
        );
        let time: Vec<Vec<u8>> = t
            .get(b"alice", 10, Order::Time)
            .into_iter()
            .map(|b| b.contact().to_vec())
            .collect();
        assert_eq!(time[0], b"sip:a@3".to_vec());
        // At 60, sip:a@3 is dead and removed by the read.
        assert_eq!(t.get(b"alice", 60, Order::Q).len(), 2);
        assert_eq!(t.bindings(), 2);
        assert!(t.has_live(b"alice", 150));
        assert!(!t.has_live(b"alice", 200));
        assert!(t.get(b"alice", 200, Order::Q).is_empty());
        assert_eq!(t.aors(), 0);
        assert!(t.get(b"bob", 0, Order::Q).is_empty());
        // Each binding removed dead was counted once.
        assert_eq!(t.expired(), 3);
    }

    #[test]
    fn expire_sweeps_every_table() {
        let l = Location::new();
        l.location().insert(b"a", b("sip:a@1", 100, None), 0);
        l.location().insert(b"b", b("sip:b@1", 300, None), 0);
        l.table(b"other")
            .unwrap()
            .insert(b"c", b("sip:c@1", 100, None), 0);
        l.add_alias(b"800", b"sip:a@example.com");
        assert_eq!(l.users(), 4);
        assert_eq!(l.expire(150), 2);
        assert_eq!(l.users(), 2);
        assert_eq!(l.location().expired(), 1);
        // A change meets a dead binding: counted too.
        l.location().update(b"b", 400, |_| ());
        assert_eq!(l.location().expired(), 2);
        l.location().insert(b"b", b("sip:b@1", 300, None), 0);
        assert_eq!(l.location().aors(), 1);
        assert_eq!(l.table(b"other").unwrap().aors(), 0);
        assert_eq!(l.aliases().bindings(), 1);
        assert_eq!(l.expire(150), 0);
    }

    #[test]
    fn tables_are_bounded() {
        let l = Location::new();
        for i in 0..MAX_TABLES {
            assert!(l.table(format!("t{i}").as_bytes()).is_some());
        }
        assert!(l.table(b"one-more").is_none());
        assert!(l.table(b"t0").is_some());
        assert!(l.table(b"LOCATION").is_some());
    }

    #[test]
    fn concurrent_saves_and_lookups() {
        let l = Arc::new(Location::new());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let l = Arc::clone(&l);
                std::thread::spawn(move || {
                    for i in 0..2000u32 {
                        // Own AoRs and one shared by everybody.
                        let own = format!("user{t}-{}", i % 50);
                        let uri = format!("sip:{t}@10.0.0.{}", i % 7);
                        l.location().insert(own.as_bytes(), b(&uri, 1000, None), 1);
                        l.location().update(b"shared", 1, |list| {
                            list.retain(|x| x.contact() != uri.as_bytes());
                            list.insert(0, b(&uri, 1000, Some(500)));
                        });
                        assert!(!l.location().get(own.as_bytes(), 1, Order::Q).is_empty());
                        assert!(l.location().has_live(b"shared", 1));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // 8 threads x 50 AoRs, 7 contacts at most per thread.
        assert_eq!(l.location().aors(), 8 * 50 + 1);
        assert_eq!(l.location().get(b"shared", 1, Order::Q).len(), 8 * 7);
        let n = l.location().bindings();
        assert_eq!(l.expire(1000), n);
        assert_eq!(l.location().aors(), 0);
    }
}
