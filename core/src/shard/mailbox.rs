//! Answers from other threads to a shard: the results of offloaded work
//! (database queries) that suspended scripts wait for.
//!
//! Any thread posts `(token, resume)` and wakes the shard through its
//! eventfd; the shard takes everything at the start of its next turn. The
//! lock is taken by posters and, only when something was posted, by the
//! shard: never on the message path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::handoff::Waker;
use crate::script::Resume;

pub struct Mailbox {
    items: Mutex<Vec<(u64, Resume)>>,
    any: AtomicBool,
    wakers: Arc<[Waker]>,
    shard: usize,
}

impl Mailbox {
    pub fn new(wakers: Arc<[Waker]>, shard: usize) -> Mailbox {
        Mailbox {
            items: Mutex::new(Vec::new()),
            any: AtomicBool::new(false),
            wakers,
            shard,
        }
    }

    /// Posts an answer and wakes the shard (from any thread).
    pub fn post(&self, token: u64, r: Resume) {
        self.items.lock().push((token, r));
        self.any.store(true, Ordering::SeqCst);
        if let Some(w) = self.wakers.get(self.shard) {
            w.wake();
        }
    }

    /// Whether answers wait (checked before the shard blocks).
    pub fn has_items(&self) -> bool {
        self.any.load(Ordering::SeqCst)
    }

    /// Moves every waiting answer into `out`.
    pub fn take(&self, out: &mut Vec<(u64, Resume)>) {
        // A plain load first: the shard calls this every turn, and nearly
        // every turn finds nothing.
        if self.any.load(Ordering::Relaxed) && self.any.swap(false, Ordering::SeqCst) {
            out.append(&mut self.items.lock());
        }
    }
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("shard", &self.shard)
            .finish()
    }
}
