//! The credentials cache: what the store said of `(table, user, domain)`,
//! shared by every shard, so that most authentications need no query.
//!
//! Like the location table (`registrar/location.rs`), it is [`STRIPES`]
//! stripes, each a `parking_lot::RwLock` over a map, the stripe chosen by
//! a keyed hash of the key: two shards meet on a lock only when their keys
//! share a stripe, and readers never block each other.
//!
//! An entry is either the user's stored secrets ([`Stored`]) or the fact
//! that the user does not exist (a negative entry), with the time it was
//! fetched. [`CredCache::get`] at `now` answers:
//! - [`Cached::Fresh`] while the entry is younger than `ttl`;
//! - [`Cached::Stale`] until `ttl + stale_ttl`: still used, and the caller
//!   refreshes it in the background; only one caller per [`REFRESH_RETRY`]
//!   seconds is told to ([`Cached::Stale::refresh`]), so a busy user does
//!   not send every shard to the store at once;
//! - [`Cached::Unknown`] for a negative entry younger than `negative_ttl`
//!   (kept short: a user created in the store is seen soon), so that a
//!   flood of requests for users who do not exist does not reach the store;
//! - [`Cached::Missing`] otherwise.
//!
//! Size is bounded: each stripe holds at most `max_entries / STRIPES`
//! entries and, when full, drops the one fetched longest ago (kept in
//! fetch order in a queue beside the map). Times are Unix seconds, passed
//! in by the caller (tests use their own clock).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

/// Stripes of the cache.
pub const STRIPES: usize = 64;

/// Seconds before another caller is asked to refresh a stale entry (the
/// first one's query may have failed).
pub const REFRESH_RETRY: u64 = 5;

/// What the store holds for one user. Which field is used depends on
/// `calculate_ha1` and on the username (see [`super::Params`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// The plain password (`calculate_ha1 = 1`).
    pub password: Option<Box<[u8]>>,
    /// `ha1`: `H(user:realm:password)`, hex (32 digits for MD5, 64 for
    /// SHA-256).
    pub ha1: Option<Box<[u8]>>,
    /// `ha1b`: `H(user@domain:realm:password)`, for user agents whose
    /// username includes the domain.
    pub ha1b: Option<Box<[u8]>>,
    /// SER 2.0's `credentials.uid`: the user these credentials belong to
    /// (set as `$uid` on success).
    pub uid: Option<Box<[u8]>>,
}

impl Stored {
    /// Credentials with a plain password only.
    pub fn password(p: &[u8]) -> Stored {
        Stored {
            password: Some(p.into()),
            ..Stored::default()
        }
    }
}

/// The key of a cached user: the table (`subscriber`, ...), the user and
/// the domain (empty unless `use_domain`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CredKey {
    /// `table \0 user \0 domain`: one allocation.
    bytes: Box<[u8]>,
    user_at: u32,
    domain_at: u32,
}

impl CredKey {
    pub fn new(table: &[u8], user: &[u8], domain: &[u8]) -> CredKey {
        let mut v = Vec::with_capacity(table.len() + user.len() + domain.len() + 2);
        v.extend_from_slice(table);
        v.push(0);
        let user_at = v.len();
        v.extend_from_slice(user);
        v.push(0);
        let domain_at = v.len();
        v.extend_from_slice(domain);
        // Keys come from messages of at most 64 KB.
        CredKey {
            bytes: v.into_boxed_slice(),
            user_at: u32::try_from(user_at).unwrap_or(u32::MAX),
            domain_at: u32::try_from(domain_at).unwrap_or(u32::MAX),
        }
    }

    fn part(&self, from: u32, to: Option<u32>) -> &[u8] {
        let to = to.map_or(self.bytes.len(), |t| (t as usize).saturating_sub(1));
        self.bytes.get(from as usize..to).unwrap_or_default()
    }

    pub fn table(&self) -> &[u8] {
        self.part(0, Some(self.user_at))
    }

    pub fn user(&self) -> &[u8] {
        self.part(self.user_at, Some(self.domain_at))
    }

    /// The domain (empty when domains are not used).
    pub fn domain(&self) -> &[u8] {
        self.part(self.domain_at, None)
    }
}

/// Time limits and size of the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheParams {
    /// Seconds an entry is fresh (60).
    pub ttl: u64,
    /// Seconds after `ttl` it is still used while being refreshed (600):
    /// authentication goes on through a short store outage.
    pub stale_ttl: u64,
    /// Seconds a "no such user" is remembered (10).
    pub negative_ttl: u64,
    /// Most entries (100,000; at least one per stripe).
    pub max_entries: usize,
}

impl Default for CacheParams {
    fn default() -> CacheParams {
        CacheParams {
            ttl: 60,
            stale_ttl: 600,
            negative_ttl: 10,
            max_entries: 100_000,
        }
    }
}

/// What the cache knows of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cached {
    Fresh(Arc<Stored>),
    /// Past its `ttl`, still usable; `refresh` is true for the one caller
    /// that should query the store again now.
    Stale {
        stored: Arc<Stored>,
        refresh: bool,
    },
    /// The user does not exist (recently asked).
    Unknown,
    /// Nothing usable: query the store.
    Missing,
}

/// Counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Fresh entries served.
    pub hits: u64,
    /// Stale entries served.
    pub stale_hits: u64,
    /// Negative entries served.
    pub negative_hits: u64,
    /// Nothing usable found.
    pub misses: u64,
    /// Entries dropped to make room.
    pub evictions: u64,
    /// Entries currently held.
    pub entries: u64,
}

#[derive(Debug)]
struct Entry {
    /// `None`: the user does not exist.
    stored: Option<Arc<Stored>>,
    fetched_at: u64,
    /// Insertion number, to match the entry with its place in the queue.
    seq: u64,
    /// Unix second from which a caller may be asked to refresh it.
    refresh_at: AtomicU64,
}

#[derive(Debug, Default)]
struct Shelf {
    map: HashMap<CredKey, Entry>,
    /// Keys in fetch order, oldest first; an item whose `seq` is not its
    /// entry's any more is skipped.
    order: VecDeque<(CredKey, u64)>,
    next_seq: u64,
}

#[repr(align(128))]
#[derive(Debug, Default)]
struct Stripe(RwLock<Shelf>);

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    stale_hits: AtomicU64,
    negative_hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

/// The cache (see the module docs).
#[derive(Debug)]
pub struct CredCache {
    stripes: Box<[Stripe; STRIPES]>,
    hasher: RandomState,
    params: CacheParams,
    per_stripe: usize,
    counters: Counters,
}

impl CredCache {
    pub fn new(params: CacheParams) -> CredCache {
        CredCache {
            stripes: Box::new(std::array::from_fn(|_| Stripe::default())),
            hasher: RandomState::new(),
            per_stripe: params.max_entries.div_ceil(STRIPES).max(1),
            params,
            counters: Counters::default(),
        }
    }

    pub fn params(&self) -> &CacheParams {
        &self.params
    }

    fn stripe(&self, key: &CredKey) -> &RwLock<Shelf> {
        let h = self.hasher.hash_one(key) as usize;
        &self.stripes[h % STRIPES].0
    }

    fn count(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// What the cache knows of `key` at `now` (see the module docs).
    pub fn get(&self, key: &CredKey, now: u64) -> Cached {
        let p = &self.params;
        let shelf = self.stripe(key).read();
        let Some(e) = shelf.map.get(key) else {
            Self::count(&self.counters.misses);
            return Cached::Missing;
        };
        let age = now.saturating_sub(e.fetched_at);
        let Some(stored) = &e.stored else {
            if age < p.negative_ttl {
                Self::count(&self.counters.negative_hits);
                return Cached::Unknown;
            }
            Self::count(&self.counters.misses);
            return Cached::Missing;
        };
        if age < p.ttl {
            Self::count(&self.counters.hits);
            return Cached::Fresh(Arc::clone(stored));
        }
        if age < p.ttl.saturating_add(p.stale_ttl) {
            Self::count(&self.counters.stale_hits);
            let at = e.refresh_at.load(Ordering::Relaxed);
            let refresh = now >= at
                && e.refresh_at
                    .compare_exchange(
                        at,
                        now + REFRESH_RETRY,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_ok();
            return Cached::Stale {
                stored: Arc::clone(stored),
                refresh,
            };
        }
        Self::count(&self.counters.misses);
        Cached::Missing
    }

    /// Records what the store said of `key` at `now`: its secrets, or
    /// `None` when the user does not exist.
    pub fn insert(&self, key: CredKey, stored: Option<Stored>, now: u64) {
        let mut shelf = self.stripe(&key).write();
        let shelf = &mut *shelf;
        let seq = shelf.next_seq;
        shelf.next_seq += 1;
        let entry = Entry {
            stored: stored.map(Arc::new),
            fetched_at: now,
            seq,
            refresh_at: AtomicU64::new(0),
        };
        let fresh = shelf.map.insert(key.clone(), entry).is_none();
        shelf.order.push_back((key, seq));
        if fresh {
            while shelf.map.len() > self.per_stripe {
                let Some((old, s)) = shelf.order.pop_front() else {
                    break;
                };
                if shelf.map.get(&old).is_some_and(|e| e.seq == s) {
                    shelf.map.remove(&old);
                    Self::count(&self.counters.evictions);
                }
            }
        }
        // Replaced entries leave dead items in the queue; drop them when
        // they outnumber the live ones.
        if shelf.order.len() > 2 * shelf.map.len() + 16 {
            let map = &shelf.map;
            shelf
                .order
                .retain(|(k, s)| map.get(k).is_some_and(|e| e.seq == *s));
        }
    }

    /// Forgets `key` (a password changed through the control socket).
    pub fn remove(&self, key: &CredKey) -> bool {
        self.stripe(key).write().map.remove(key).is_some()
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for s in self.stripes.iter() {
            let mut shelf = s.0.write();
            shelf.map.clear();
            shelf.order.clear();
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.stripes.iter().map(|s| s.0.read().map.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheStats {
            hits: get(&c.hits),
            stale_hits: get(&c.stale_hits),
            negative_hits: get(&c.negative_hits),
            misses: get(&c.misses),
            evictions: get(&c.evictions),
            entries: self.len() as u64,
        }
    }
}

impl Default for CredCache {
    fn default() -> CredCache {
        CredCache::new(CacheParams::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(u: &str) -> CredKey {
        CredKey::new(b"subscriber", u.as_bytes(), b"example.com")
    }

    #[test]
    fn key_parts() {
        let k = key("alice");
        assert_eq!(k.table(), b"subscriber");
        assert_eq!(k.user(), b"alice");
        assert_eq!(k.domain(), b"example.com");
        let k = CredKey::new(b"", b"", b"");
        assert_eq!(
            (k.table(), k.user(), k.domain()),
            (&b""[..], &b""[..], &b""[..])
        );
        // Parts cannot run into each other.
        assert_ne!(
            CredKey::new(b"t", b"a", b"bc"),
            CredKey::new(b"t", b"ab", b"c")
        );
    }

    #[test]
    fn ttl_stale_and_refresh() {
        let c = CredCache::new(CacheParams {
            ttl: 60,
            stale_ttl: 100,
            negative_ttl: 10,
            max_entries: 1000,
        });
        let t = 1_000_000;
        assert_eq!(c.get(&key("alice"), t), Cached::Missing);
        c.insert(key("alice"), Some(Stored::password(b"pw")), t);
        let s = Arc::new(Stored::password(b"pw"));
        assert_eq!(c.get(&key("alice"), t), Cached::Fresh(Arc::clone(&s)));
        assert_eq!(c.get(&key("alice"), t + 59), Cached::Fresh(Arc::clone(&s)));
        // Stale: the first caller refreshes, the next ones do not until
        // REFRESH_RETRY has passed.
        assert_eq!(
            c.get(&key("alice"), t + 60),
            Cached::Stale {
                stored: Arc::clone(&s),
                refresh: true
            }
        );
        assert_eq!(
            c.get(&key("alice"), t + 61),
            Cached::Stale {
                stored: Arc::clone(&s),
                refresh: false
            }
        );
        assert!(matches!(
            c.get(&key("alice"), t + 60 + REFRESH_RETRY),
            Cached::Stale { refresh: true, .. }
        ));
        assert_eq!(c.get(&key("alice"), t + 160), Cached::Missing);
        // A refresh makes it fresh again.
        c.insert(key("alice"), Some(Stored::password(b"new")), t + 150);
        assert_eq!(
            c.get(&key("alice"), t + 160),
            Cached::Fresh(Arc::new(Stored::password(b"new")))
        );
        assert_eq!(c.len(), 1);
        let st = c.stats();
        assert_eq!(
            (st.hits, st.stale_hits, st.misses, st.negative_hits),
            (3, 3, 2, 0)
        );
    }

    #[test]
    fn negative_entries() {
        let c = CredCache::default();
        let t = 500;
        c.insert(key("mallory"), None, t);
        for i in 0..10 {
            assert_eq!(c.get(&key("mallory"), t + i), Cached::Unknown);
        }
        assert_eq!(c.get(&key("mallory"), t + 10), Cached::Missing);
        assert_eq!(c.stats().negative_hits, 10);
        // The user is created: the store's answer replaces the negative.
        c.insert(key("mallory"), Some(Stored::password(b"x")), t + 11);
        assert!(matches!(c.get(&key("mallory"), t + 11), Cached::Fresh(_)));
        assert!(c.remove(&key("mallory")));
        assert_eq!(c.get(&key("mallory"), t + 11), Cached::Missing);
    }

    #[test]
    fn bounded_oldest_evicted() {
        let c = CredCache::new(CacheParams {
            max_entries: STRIPES * 2,
            ..CacheParams::default()
        });
        for i in 0..10_000u64 {
            c.insert(key(&format!("u{i}")), Some(Stored::default()), i);
        }
        assert!(c.len() <= STRIPES * 2);
        assert_eq!(c.stats().evictions, 10_000 - c.len() as u64);
        // The newest survive; the oldest are gone.
        assert!(matches!(c.get(&key("u9999"), 10_000), Cached::Fresh(_)));
        assert_eq!(c.get(&key("u0"), 10_000), Cached::Missing);
        // Refreshing one key many times neither grows the queue without
        // bound nor evicts others.
        let before = c.len();
        for i in 0..10_000u64 {
            c.insert(key("u9999"), Some(Stored::default()), 20_000 + i);
        }
        assert_eq!(c.len(), before);
        let longest = c.stripes.iter().map(|s| s.0.read().order.len()).max();
        assert!(longest.unwrap_or(0) <= 2 * 2 + 16 + 1);
        c.clear();
        assert!(c.is_empty());
    }

    #[test]
    fn shared_by_threads() {
        let c = Arc::new(CredCache::default());
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    for i in 0..1000u64 {
                        let k = key(&format!("t{t}-{}", i % 50));
                        if c.get(&k, i) == Cached::Missing {
                            c.insert(k, Some(Stored::password(b"p")), i);
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(c.len(), 200);
    }
}
