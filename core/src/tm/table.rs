//! The per-shard transaction table.
//!
//! Sans-IO and not yet wired into the shards: a shard owns one table for
//! its server transactions and one for its client transactions (keys from
//! [`super::key`]), with no locks. Entries live in a slab; a [`TxId`]
//! (slot index and generation) names one for as long as it lives, so a
//! timer that fires after its transaction was removed (or its slot reused)
//! finds nothing instead of another transaction. [`Table::len`] is the live
//! transaction count, for the statistics.
//!
//! The table is bounded ([`Table::with_limit`]): a peer cannot make it grow
//! without bound; an insert past the limit is refused and the caller
//! answers statelessly (or drops).
//!
//! The index is a `hashbrown` map with its default hasher (foldhash,
//! seeded at random per process): several times cheaper than std's
//! SipHash on the 30- to 80-byte keys, and still keyed, so a peer cannot
//! choose keys that land in one bucket.

use hashbrown::HashMap;
use std::hash::Hash;

use super::key::{ClientKey, ServerKey};

/// A handle to a table entry, valid until the entry is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TxId {
    index: u32,
    generation: u32,
}

/// Why an insert was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum InsertError<T> {
    /// The key is taken: here is the live entry's id, and the value back.
    Exists(TxId, T),
    /// The table holds its limit of entries; the value back.
    Full(T),
}

#[derive(Debug)]
struct Slot<K, T> {
    generation: u32,
    entry: Option<(K, T)>,
}

/// A table of transactions keyed by `K`.
#[derive(Debug)]
pub struct Table<K, T> {
    map: HashMap<K, u32>,
    slots: Vec<Slot<K, T>>,
    free: Vec<u32>,
    limit: usize,
}

/// The server transactions of a shard.
pub type ServerTable<T> = Table<ServerKey, T>;
/// The client transactions of a shard.
pub type ClientTable<T> = Table<ClientKey, T>;

impl<K: Hash + Eq + Clone, T> Default for Table<K, T> {
    fn default() -> Self {
        Table::new()
    }
}

impl<K: Hash + Eq + Clone, T> Table<K, T> {
    /// An empty table with no limit but memory (and `u32` slots).
    pub fn new() -> Table<K, T> {
        Table::with_limit(u32::MAX as usize)
    }

    /// An empty table holding at most `limit` entries.
    pub fn with_limit(limit: usize) -> Table<K, T> {
        Table {
            map: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            limit: limit.min(u32::MAX as usize),
        }
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The most entries the table accepts.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Adds an entry under a key not yet in the table.
    pub fn insert(&mut self, key: K, value: T) -> Result<TxId, InsertError<T>> {
        if let Some(id) = self.find(&key) {
            return Err(InsertError::Exists(id, value));
        }
        if self.map.len() >= self.limit {
            return Err(InsertError::Full(value));
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let Ok(i) = u32::try_from(self.slots.len()) else {
                    return Err(InsertError::Full(value));
                };
                self.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                i
            }
        };
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return Err(InsertError::Full(value));
        };
        slot.entry = Some((key.clone(), value));
        let id = TxId {
            index,
            generation: slot.generation,
        };
        self.map.insert(key, index);
        Ok(id)
    }

    /// The id of the entry under `key`.
    pub fn find(&self, key: &K) -> Option<TxId> {
        let &index = self.map.get(key)?;
        let slot = self.slots.get(index as usize)?;
        Some(TxId {
            index,
            generation: slot.generation,
        })
    }

    fn slot(&self, id: TxId) -> Option<&(K, T)> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.entry.as_ref()
    }

    /// The entry `id` names, if it still lives.
    pub fn get(&self, id: TxId) -> Option<&T> {
        self.slot(id).map(|(_, v)| v)
    }

    /// The entry `id` names, if it still lives.
    pub fn get_mut(&mut self, id: TxId) -> Option<&mut T> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.entry.as_mut().map(|(_, v)| v)
    }

    /// The key of the entry `id` names.
    pub fn key(&self, id: TxId) -> Option<&K> {
        self.slot(id).map(|(k, _)| k)
    }

    /// The entry under `key`, with its id.
    pub fn get_by_key(&self, key: &K) -> Option<(TxId, &T)> {
        let id = self.find(key)?;
        self.get(id).map(|v| (id, v))
    }

    /// The entry under `key`, with its id.
    pub fn get_by_key_mut(&mut self, key: &K) -> Option<(TxId, &mut T)> {
        let id = self.find(key)?;
        self.get_mut(id).map(|v| (id, v))
    }

    /// Removes the entry `id` names; its id (and every copy of it) is dead
    /// from now on.
    pub fn remove(&mut self, id: TxId) -> Option<T> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let (key, value) = slot.entry.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.map.remove(&key);
        self.free.push(id.index);
        Some(value)
    }

    /// Every live entry.
    pub fn iter(&self) -> impl Iterator<Item = (TxId, &K, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let (k, v) = s.entry.as_ref()?;
            Some((
                TxId {
                    index: i as u32,
                    generation: s.generation,
                },
                k,
                v,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Method;

    fn key(n: u32) -> ClientKey {
        ClientKey::new(format!("z9hG4bK{n}").as_bytes(), &Method::Invite)
    }

    #[test]
    fn insert_get_remove() {
        let mut t: ClientTable<&str> = Table::new();
        assert!(t.is_empty());
        let a = t.insert(key(1), "a").unwrap();
        let b = t.insert(key(2), "b").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(a), Some(&"a"));
        assert_eq!(t.find(&key(2)), Some(b));
        assert_eq!(t.get_by_key(&key(1)), Some((a, &"a")));
        assert_eq!(t.key(b), Some(&key(2)));
        *t.get_mut(b).unwrap() = "B";
        assert_eq!(t.get_by_key_mut(&key(2)).map(|(_, v)| *v), Some("B"));
        assert_eq!(t.insert(key(1), "dup"), Err(InsertError::Exists(a, "dup")));
        assert_eq!(t.remove(a), Some("a"));
        assert_eq!(t.len(), 1);
        assert_eq!(t.remove(a), None);
        assert_eq!(t.get(a), None);
        assert_eq!(t.find(&key(1)), None);
        assert_eq!(t.iter().count(), 1);
    }

    #[test]
    fn stale_id_after_reuse() {
        let mut t: ClientTable<u32> = Table::new();
        let a = t.insert(key(1), 1).unwrap();
        t.remove(a);
        // The slot is reused with a new generation.
        let c = t.insert(key(3), 3).unwrap();
        assert_ne!(a, c);
        assert_eq!(t.get(a), None);
        assert_eq!(t.get_mut(a), None);
        assert_eq!(t.remove(a), None);
        assert_eq!(t.get(c), Some(&3));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn limit() {
        let mut t: ClientTable<u32> = Table::with_limit(2);
        let a = t.insert(key(1), 1).unwrap();
        t.insert(key(2), 2).unwrap();
        assert_eq!(t.insert(key(3), 3), Err(InsertError::Full(3)));
        t.remove(a);
        assert!(t.insert(key(3), 3).is_ok());
        assert_eq!(t.limit(), 2);
    }

    #[test]
    fn many() {
        let mut t: ClientTable<u32> = Table::new();
        let ids: Vec<_> = (0..1000).map(|i| t.insert(key(i), i).unwrap()).collect();
        for (i, id) in ids.iter().enumerate().step_by(2) {
            assert_eq!(t.remove(*id), Some(i as u32));
        }
        assert_eq!(t.len(), 500);
        for i in 1000..1500 {
            t.insert(key(i), i).unwrap();
        }
        assert_eq!(t.len(), 1000);
        // Reused slots: the table did not grow.
        assert_eq!(t.slots.len(), 1000);
        for (i, id) in ids.iter().enumerate().skip(1).step_by(2) {
            assert_eq!(t.get(*id), Some(&(i as u32)));
        }
    }
}
