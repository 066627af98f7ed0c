//! gflags' global attributes (SER 2.x): the `global_attrs` rows with
//! `LOAD_SER`, read at start (`modparam("gflags", "load_global_attrs",
//! 1)`) and again by the `global.reload` RPC, as AVPs of the global class
//! that every message sees (`$gw_ip`).
//!
//! The rows are an immutable list behind an `ArcSwap`, replaced whole by
//! a reload: a shard reads it with one atomic load and never waits.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::script::Value;
use crate::store::{Pool, tables};

/// The cached global attributes.
pub struct GlobalAttrs {
    pool: Arc<Pool>,
    /// Name and value, newest first (the last row read is the newest, as
    /// SER's `add_avp` puts each new value in front).
    set: ArcSwap<super::AttrList>,
}

impl std::fmt::Debug for GlobalAttrs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalAttrs")
            .field("db", &self.pool.url().to_string())
            .field("attrs", &self.set.load().len())
            .finish()
    }
}

impl GlobalAttrs {
    /// Empty until [`GlobalAttrs::reload`].
    pub fn new(pool: Arc<Pool>) -> GlobalAttrs {
        GlobalAttrs {
            pool,
            set: ArcSwap::from_pointee(Vec::new()),
        }
    }

    /// Reads the table and replaces the cache, waiting for the database
    /// (start-up and the control thread only, never a shard). On failure
    /// the cache is left as it was. Returns how many were loaded.
    pub fn reload(&self) -> Result<usize, String> {
        let rows = self
            .pool
            .run_blocking(tables::global_attrs)
            .map_err(|e| format!("cannot read the global_attrs table: {e}"))?;
        let n = rows.len();
        self.install(&rows);
        Ok(n)
    }

    /// Makes these rows the attributes every shard reads from now on.
    pub fn install(&self, rows: &[tables::AttrRow]) {
        let list = rows
            .iter()
            .rev()
            .map(|r| (r.name.as_bytes().into(), super::attr_value(r)))
            .collect();
        self.set.store(Arc::new(list));
    }

    /// The `i`th value of `name`, newest first.
    pub fn get(&self, name: &[u8], i: usize) -> Option<Value<'static>> {
        self.set
            .load()
            .iter()
            .filter(|(n, _)| **n == *name)
            .nth(i)
            .map(|(_, v)| v.clone())
    }

    /// How many values `name` has.
    pub fn count(&self, name: &[u8]) -> usize {
        self.set.load().iter().filter(|(n, _)| **n == *name).count()
    }

    /// Every value of `name`, newest first.
    pub fn values(&self, name: &[u8]) -> Vec<Value<'static>> {
        self.set
            .load()
            .iter()
            .filter(|(n, _)| **n == *name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every attribute, newest first (for `global.dump`).
    pub fn snapshot(&self) -> Arc<super::AttrList> {
        self.set.load_full()
    }
}
