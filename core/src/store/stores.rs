//! The database pools a config asks for: one [`Pool`] per distinct
//! `db_url`, shared by every module that names it.
//!
//! A module needs a database when it has a `db_url` modparam, or when it
//! cannot work without one (`auth_db`, `uri_db`, `domain`, `permissions`, `avpops`,
//! `avp_db`, `gflags` with `load_global_attrs`, `acc_db`, `acc` with a
//! `db_flag`, and `usrloc` with a `db_mode` above 0); without a `db_url` such a module
//! gets the embedded SQLite file ([`super::DEFAULT_URL`]) where Kamailio
//! would try its default MySQL URL. `ser --db=URL` replaces every URL, so
//! a config written for MySQL can be tried on SQLite first.
//!
//! An explicitly empty `db_url` (`modparam("uri_db", "db_url", "")`, as
//! Kamailio 3.1's default config writes it next to `use_uri_table 0`)
//! means "no database" as in Kamailio: the module gets no pool, and its
//! functions that need one fail with a log line.
//!
//! Pools start without waiting for their database: a server that is down
//! at start is retried with back-off, and the modules' calls fail (never
//! hang) until it answers.

use std::sync::Arc;

use ser_cfg::ir::Program;

use super::{DbUrl, Pool, PoolConfig, PoolEvent, PoolStats};

/// Modules that cannot work without a database.
const NEED_DB: &[&str] = &[
    "auth_db",
    "uri_db",
    "domain",
    "permissions",
    "avpops",
    "avp_db",
];

/// Every pool, and which module uses which.
#[derive(Default)]
pub struct Stores {
    pools: Vec<(DbUrl, Arc<Pool>)>,
    modules: Vec<(String, Arc<Pool>)>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("pools", &self.pools.len())
            .field("modules", &self.modules.len())
            .finish()
    }
}

/// The `db_url` each module that needs a database uses (before the
/// override), in load order.
pub fn module_urls(p: &Program) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for m in &p.modules {
        let name = p.str(m.name).to_string();
        let mut url = None;
        let mut db_mode = 0i64;
        for (k, v) in &m.params {
            match p.str(*k) {
                // SER 0.9's avpops calls it `avp_url`.
                "db_url" | "avp_url" => url = Some(p.const_text(v)),
                "db_mode" => db_mode = p.const_text(v).trim().parse().unwrap_or(0),
                _ => {}
            }
        }
        let acc_db = name == "acc_db"
            || (name == "acc"
                && m.params
                    .iter()
                    .any(|(k, _)| matches!(p.str(*k), "db_flag" | "db_missed_flag" | "db_url")));
        let needed = NEED_DB.contains(&name.as_str())
            || (name == "usrloc" && db_mode > 0)
            || (name == "gflags" && crate::attrs::wants_global_attrs(p))
            || acc_db;
        let switched_off = url.as_deref().is_some_and(|u| u.trim().is_empty());
        if !needed || switched_off {
            continue;
        }
        let url = url.unwrap_or_else(|| super::DEFAULT_URL.to_string());
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, url));
        }
    }
    out
}

impl Stores {
    /// Opens a pool for each distinct URL the program's modules need
    /// (`override_url` replaces them all). Errors name the module and the
    /// URL, without its password.
    pub fn open(p: &Program, override_url: Option<&str>) -> Result<Stores, String> {
        let mut s = Stores::default();
        for (module, raw) in module_urls(p) {
            let raw = override_url.map(str::to_string).unwrap_or(raw);
            let url = DbUrl::parse(&raw).map_err(|e| format!("{module}: db_url: {e}"))?;
            let pool = match s.pools.iter().find(|(u, _)| *u == url) {
                Some((_, pool)) => pool.clone(),
                None => {
                    let shown = url.to_string();
                    let hook: super::EventHook = Arc::new(move |e: &PoolEvent| match e {
                        PoolEvent::Up { worker, again } if *again || *worker == 0 => {
                            eprintln!("ser: store {shown}: connected");
                        }
                        PoolEvent::Down {
                            worker,
                            error,
                            retry_in,
                        } if *worker == 0 => {
                            eprintln!(
                                "ser: store {shown}: {error}; trying again in {} ms",
                                retry_in.as_millis()
                            );
                        }
                        _ => {}
                    });
                    let cfg = PoolConfig {
                        on_event: Some(hook),
                        ..PoolConfig::default()
                    };
                    let pool =
                        Arc::new(Pool::start(url.clone(), cfg).map_err(|e| {
                            format!("{module}: cannot start the database pool: {e}")
                        })?);
                    s.pools.push((url, pool.clone()));
                    pool
                }
            };
            s.modules.push((module, pool));
        }
        Ok(s)
    }

    /// The pool of `module`, if it needs one.
    pub fn for_module(&self, module: &str) -> Option<Arc<Pool>> {
        self.modules
            .iter()
            .find(|(m, _)| m == module)
            .map(|(_, p)| p.clone())
    }

    /// Each pool's URL (without password) and counters.
    pub fn stats(&self) -> Vec<(String, PoolStats)> {
        self.pools
            .iter()
            .map(|(u, p)| (u.to_string(), p.stats()))
            .collect()
    }

    /// Each module with its pool's URL, for the start-up line.
    pub fn describe(&self) -> Vec<String> {
        self.modules
            .iter()
            .map(|(m, p)| format!("{m} on {}", p.url()))
            .collect()
    }

    /// Stops every pool (what is queued is still run).
    pub fn shutdown(&self) {
        for (_, p) in &self.pools {
            p.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(cfg: &str) -> Vec<(String, String)> {
        let parsed = ser_cfg::parse_str("t.cfg", cfg, &[]).unwrap();
        module_urls(&ser_cfg::compile::compile(&parsed).unwrap())
    }

    #[test]
    fn an_empty_db_url_means_no_database() {
        let base = "#!KAMAILIO\nloadmodule \"uri_db.so\"\nloadmodule \"avpops.so\"\n";
        let with_default = urls(&format!("{base}route {{ exit; }}\n"));
        assert_eq!(with_default.len(), 2);
        let off = urls(&format!(
            "{base}modparam(\"uri_db\", \"db_url\", \"\")\nroute {{ exit; }}\n"
        ));
        assert_eq!(off.len(), 1);
        assert_eq!(off[0].0, "avpops");
    }
}
