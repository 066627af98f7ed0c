//! Run-time configuration: the values `cfg.set` changes while the router
//! runs (`core.debug`, `tm.fr_timer`, `tm.fr_inv_timer` and the config's
//! own `group.id = value desc "..."` variables), read by every shard
//! without a lock.
//!
//! Numbers are atomics (a relaxed load is a plain load on the message
//! path). The custom variables are an immutable list behind an
//! [`ArcSwap`]: a change publishes a new list, readers never wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arc_swap::ArcSwap;

use super::value::Value;

/// A number changed at run time and read by every shard.
#[derive(Debug, Default)]
pub struct Knob(AtomicI64);

impl Knob {
    pub const fn new(v: i64) -> Knob {
        Knob(AtomicI64::new(v))
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
}

impl Clone for Knob {
    fn clone(&self) -> Knob {
        Knob::new(self.get())
    }
}

impl PartialEq for Knob {
    fn eq(&self, o: &Knob) -> bool {
        self.get() == o.get()
    }
}

/// A run-time configuration variable (`group.name = value desc "..."`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CfgVar {
    pub group: String,
    pub name: String,
    pub value: Value<'static>,
    pub desc: String,
}

/// The custom variables, replaced as a whole on each change.
#[derive(Debug)]
pub struct CfgVars(ArcSwap<Vec<CfgVar>>);

impl Default for CfgVars {
    fn default() -> CfgVars {
        CfgVars(ArcSwap::from_pointee(Vec::new()))
    }
}

impl Clone for CfgVars {
    fn clone(&self) -> CfgVars {
        CfgVars(ArcSwap::new(self.0.load_full()))
    }
}

impl CfgVars {
    /// Sets (or adds) a variable; `desc: None` keeps the description.
    pub fn set(&self, group: &str, name: &str, value: Value<'static>, desc: Option<&str>) {
        self.0.rcu(|cur| {
            let mut next: Vec<CfgVar> = cur.as_ref().clone();
            match next.iter_mut().find(|v| v.group == group && v.name == name) {
                Some(v) => {
                    v.value = value.clone();
                    if let Some(d) = desc {
                        v.desc = d.to_string();
                    }
                }
                None => next.push(CfgVar {
                    group: group.to_string(),
                    name: name.to_string(),
                    value: value.clone(),
                    desc: desc.unwrap_or_default().to_string(),
                }),
            }
            Arc::new(next)
        });
    }

    /// A variable's current value.
    pub fn get(&self, group: &[u8], name: &[u8]) -> Option<Value<'static>> {
        self.0
            .load()
            .iter()
            .find(|v| v.group.as_bytes() == group && v.name.as_bytes() == name)
            .map(|v| v.value.clone())
    }

    /// Every variable, as they are now.
    pub fn all(&self) -> Arc<Vec<CfgVar>> {
        self.0.load_full()
    }
}
