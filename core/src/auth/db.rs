//! Credentials from the store (`auth_db`): the `subscriber` table's
//! `password`, `ha1` and `ha1b`, or SER 2.0's `credentials` table (by
//! `auth_username` and `realm`, rows with `LOAD_SER` and not `DISABLED`,
//! with the user's `uid`), looked up on the store's threads for the
//! credentials cache.

use std::sync::Arc;

use super::{CredKey, CredentialStore, Lookup, Stored};
use crate::store::{Pool, tables};

/// The `auth_db` store. The table argument of `www_authorize` is part of
/// the cache key: `credentials` reads SER 2.0's table, any other name the
/// `subscriber` table.
pub struct StoreCredentials {
    pub pool: Arc<Pool>,
}

impl std::fmt::Debug for StoreCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCredentials")
            .field("url", &self.pool.url().to_string())
            .finish()
    }
}

fn non_empty(s: String) -> Option<Box<[u8]>> {
    (!s.is_empty()).then(|| s.into_bytes().into_boxed_slice())
}

impl CredentialStore for StoreCredentials {
    fn fetch(&self, key: &CredKey, done: Box<dyn FnOnce(Lookup) + Send>) {
        let user = String::from_utf8_lossy(key.user()).into_owned();
        let domain = String::from_utf8_lossy(key.domain()).into_owned();
        let ser2 = super::is_ser_credentials(key.table());
        // A refused job (queue full, pool stopped) drops `done` uncalled:
        // the waiting script then resumes with an error (see
        // `script::Completion`).
        let _ = self.pool.submit(
            move |db| {
                if ser2 {
                    // The key's domain is the realm for this table.
                    return tables::ser_credentials(db, &user, &domain).map(|c| {
                        c.map(|c| Stored {
                            password: non_empty(c.password),
                            ha1: non_empty(c.ha1),
                            ha1b: non_empty(c.ha1b),
                            uid: non_empty(c.uid),
                        })
                    });
                }
                tables::credentials(db, &user, (!domain.is_empty()).then_some(domain.as_str())).map(
                    |c| {
                        c.map(|c| Stored {
                            password: non_empty(c.password),
                            ha1: non_empty(c.ha1),
                            ha1b: non_empty(c.ha1b),
                            uid: None,
                        })
                    },
                )
            },
            move |r| {
                done(match r {
                    Ok(Some(s)) => Lookup::Found(Arc::new(s)),
                    Ok(None) => Lookup::Unknown,
                    Err(_) => Lookup::Error,
                })
            },
        );
    }
}
