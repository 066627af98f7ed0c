//! The script functions of `auth`, `auth_db` and `uri_db`:
//! `www_authorize` / `proxy_authorize` (Kamailio, SER 0.9), SER 2.0's
//! `www_authenticate` / `proxy_authenticate` (with `$digest_challenge`),
//! `www_challenge` / `proxy_challenge`, `consume_credentials`, `check_to`,
//! `check_from`.
//!
//! Checking runs on the shard against the credentials cache. On a miss
//! the call hands the store lookup to the store's threads
//! ([`crate::script::Offload`]): the script is suspended, the answer fills
//! the cache, and the same call runs again ([`Resume::Retry`]), this time
//! answered from the cache. A stale cache entry is used at once and
//! refreshed in the background, so in the steady state an authenticated
//! request costs no store round trip.

use std::sync::Arc;

use ser_cfg::Dialect;

use super::{Auth, CredKey, Kind, Lookup, Outcome, QopOffer, Request, Stored};
use crate::script::ctx::level;
use crate::script::{Action, Args, Completion, MsgCtx, Offload, Pending, Resume, Ret};
use crate::sip::Span;

/// What the auth functions found for one message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MsgAuth {
    /// The credentials accepted by the last successful check.
    pub accepted: Option<Accepted>,
    /// The last check met a stale nonce: the next challenge says
    /// `stale=true`.
    pub stale: bool,
    /// Store lookups made for this message (a bound on retries).
    pub fetches: u8,
}

/// Credentials accepted for a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The digest username (maybe `user@domain`) and realm.
    pub username: Vec<u8>,
    pub realm: Vec<u8>,
    /// The header line they came in (`consume_credentials` removes it).
    pub header: Option<Span>,
}

/// Where credentials come from when the cache does not have them: the
/// lookup runs off the shard and `done` is called, from any thread, with
/// the answer.
pub trait CredentialStore: Send + Sync + std::fmt::Debug {
    fn fetch(&self, key: &CredKey, done: Box<dyn FnOnce(Lookup) + Send>);
}

/// The auth modules' state, shared by every shard.
#[derive(Debug)]
pub struct AuthModule {
    pub auth: Auth,
    /// `None`: no `db_url` for auth_db; every lookup fails as a store
    /// error.
    pub store: Option<Arc<dyn CredentialStore>>,
    /// SER 2.x scripts get SER 2.0's return codes.
    pub dialect: Dialect,
}

/// Store lookups one message may start (one, plus one if the entry was
/// evicted before the retry read it).
const MAX_FETCHES: u8 = 2;

impl AuthModule {
    /// Puts a store answer in the cache; whether the call should run again
    /// (false: the store failed, the call ends with a store error).
    fn fill(&self, key: &CredKey, found: Lookup, now: u64) -> bool {
        match found {
            Lookup::Error => false,
            Lookup::Unknown | Lookup::Missing => {
                self.auth.cache().insert(key.clone(), None, now);
                true
            }
            Lookup::Found(s) => {
                let stored: Stored = Arc::try_unwrap(s).unwrap_or_else(|a| (*a).clone());
                self.auth.cache().insert(key.clone(), Some(stored), now);
                true
            }
        }
    }

    fn code(&self, o: &Outcome<'_>) -> i32 {
        o.code(self.dialect).unwrap_or(-1)
    }
}

fn module<'c>(ctx: &mut MsgCtx<'c, '_>, args: &Args<'_>) -> Option<Arc<AuthModule>> {
    let m = ctx.config.auth.clone();
    if m.is_none() {
        let (_, name) = args.function();
        ctx.log(
            level::L_ERR,
            &format!("{name}(): the auth modules are not set up"),
        );
    }
    m
}

fn now() -> u64 {
    crate::registrar::location::now()
}

/// `www_authorize(realm, table)`, `proxy_authorize(realm, table)` and
/// SER 2.0's `*_authenticate`: checks the credentials; with `ser2_avp`,
/// a failure leaves the challenge to send in `$digest_challenge`.
fn authorize(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, kind: Kind, ser2_avp: bool) -> Ret {
    let Some(m) = module(ctx, args) else {
        return Ret::Code(-1);
    };
    let realm = args.bytes(0, ctx).unwrap_or_default().into_owned();
    let table = args
        .bytes(1, ctx)
        .map(|t| t.into_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| b"subscriber".to_vec());
    let t = now();
    let req = Request {
        msg: ctx.msg,
        kind,
        realm: &realm,
        method: None,
        table: &table,
        now: t,
    };
    let (outcome, refresh, used) = m.auth.authorize_cached_stored(&req);
    if let (Some(key), Some(store)) = (refresh, m.store.clone()) {
        // A stale entry served this request; refresh it for the next.
        let m2 = m.clone();
        let k2 = key.clone();
        store.fetch(
            &key,
            Box::new(move |found| {
                m2.fill(&k2, found, now());
            }),
        );
    }
    match outcome {
        Outcome::NeedCredentials(key) => {
            let Some(store) = m.store.clone() else {
                ctx.log(
                    level::L_ERR,
                    "auth_db: no db_url: cannot look credentials up",
                );
                return Ret::Code(m.code(&Outcome::StoreError));
            };
            if ctx.auth.fetches >= MAX_FETCHES {
                return Ret::Code(m.code(&Outcome::StoreError));
            }
            ctx.auth.fetches += 1;
            let error = m.code(&Outcome::StoreError);
            let m2 = m.clone();
            Ret::Suspend(Pending::Offload(Offload {
                kind: "auth_db",
                start: Box::new(move |c: Completion| {
                    let k2 = key.clone();
                    store.fetch(
                        &key,
                        Box::new(move |found| {
                            if m2.fill(&k2, found, now()) {
                                c.done(Resume::Retry);
                            } else {
                                c.done(Resume::Code(error));
                            }
                        }),
                    );
                }),
            }))
        }
        o => {
            let code = m.code(&o);
            ctx.auth.stale = o.challenge_stale();
            ctx.auth.accepted = match &o {
                Outcome::Authorized(a) => Some(Accepted {
                    username: a.username.to_vec(),
                    realm: a.realm.to_vec(),
                    header: a.header,
                }),
                _ => None,
            };
            // SER 2.0: the authenticated user's uid, as auth_db's
            // default `load_credentials` ("uid") loads it.
            if o.is_authorized()
                && let Some(uid) = used.as_ref().and_then(|s| s.uid.as_deref())
            {
                let name = crate::script::AvpName::Str(b"uid"[..].into());
                ctx.avps.add(
                    crate::script::AvpClass::User,
                    crate::script::AvpTrackSide::From,
                    name,
                    crate::script::value::Value::owned(uid.to_vec()),
                );
            }
            if ser2_avp && !o.is_authorized() {
                let r = m.auth.realm(ctx.msg, &realm).map(|r| r.into_owned());
                let text = match r {
                    Some(r) => m.auth.digest_challenge(kind, &r, ctx.auth.stale, t),
                    None => Vec::new(),
                };
                set_digest_challenge(ctx, text);
            }
            if code < 0 && ctx.config.debug() >= level::L_DBG {
                ctx.log(level::L_DBG, &format!("auth: {o:?} ({code})"));
            }
            Ret::Code(code)
        }
    }
}

/// SER 2.0's `$digest_challenge` AVP.
fn set_digest_challenge(ctx: &mut MsgCtx<'_, '_>, text: Vec<u8>) {
    let name = crate::script::AvpName::Str(b"digest_challenge".to_vec().into());
    ctx.avps.add(
        crate::script::AvpClass::User,
        crate::script::AvpTrackSide::From,
        name,
        crate::script::value::Value::owned(text),
    );
}

pub(crate) fn www_authorize(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    authorize(ctx, args, Kind::Www, false)
}

pub(crate) fn proxy_authorize(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    authorize(ctx, args, Kind::Proxy, false)
}

pub(crate) fn www_authenticate(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    authorize(ctx, args, Kind::Www, true)
}

pub(crate) fn proxy_authenticate(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    authorize(ctx, args, Kind::Proxy, true)
}

/// `www_challenge(realm, qop)` / `proxy_challenge(realm, qop)`: answers
/// 401 / 407 with a challenge (`stale=true` when the check before met a
/// stale nonce). `qop` is Kamailio's flags (1: `qop=auth`; SER's "0"/"1").
fn challenge(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>, kind: Kind) -> Ret {
    let Some(m) = module(ctx, args) else {
        return Ret::Code(-1);
    };
    let arg = args.bytes(0, ctx).unwrap_or_default().into_owned();
    let Some(realm) = m.auth.realm(ctx.msg, &arg).map(|r| r.into_owned()) else {
        ctx.log(
            level::L_ERR,
            "auth: no realm for the challenge (empty argument, no host in To/From)",
        );
        return Ret::Code(-1);
    };
    let flags = args.int(1, ctx).unwrap_or(0);
    let (qop, stale_flag) = QopOffer::from_flags(flags);
    let text = m
        .auth
        .challenge(kind, &realm, qop, stale_flag || ctx.auth.stale, now());
    ctx.reply_headers.extend_from_slice(&text);
    let (code, reason): (u16, &[u8]) = match kind {
        Kind::Www => (401, b"Unauthorized"),
        Kind::Proxy => (407, b"Proxy Authentication Required"),
    };
    ctx.actions.push(Action::Reply {
        code,
        reason: reason.to_vec(),
    });
    Ret::Code(1)
}

pub(crate) fn www_challenge(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    challenge(ctx, args, Kind::Www)
}

pub(crate) fn proxy_challenge(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    challenge(ctx, args, Kind::Proxy)
}

/// `consume_credentials()`: removes the credentials header the last
/// successful check used, so that it does not travel on.
pub(crate) fn consume_credentials(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    match ctx.auth.accepted.as_ref().and_then(|a| a.header) {
        Some(span) => {
            ctx.edits.delete_span(span);
            Ret::Code(1)
        }
        None => Ret::Code(-1),
    }
}

/// Whether `uri`'s user and host are the accepted credentials' username
/// and realm (`uri_db` without the `uri` table: Kamailio's
/// `use_uri_table=0`). A username carrying a domain is compared whole
/// against `user@host`.
fn matches_credentials(ctx: &MsgCtx<'_, '_>, uri: &crate::sip::Uri<'_>) -> bool {
    let Some(a) = &ctx.auth.accepted else {
        return false;
    };
    let user = uri.user().unwrap_or_default();
    let host = uri.host().map(|h| h.to_string()).unwrap_or_default();
    let (cred_user, cred_domain) = super::split_username(&a.username);
    let domain: &[u8] = cred_domain.unwrap_or(&a.realm);
    crate::sip::uri::unescape(user).eq_ignore_ascii_case(cred_user)
        && host.as_bytes().eq_ignore_ascii_case(domain)
}

/// `check_to()`: the To URI is the authenticated user's own (a REGISTER
/// for someone else's address of record is refused by the script).
pub(crate) fn check_to(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    let ok = match ctx.msg.to() {
        Ok(to) => matches_credentials(ctx, &to.uri),
        Err(_) => false,
    };
    Ret::Code(if ok { 1 } else { -1 })
}

/// `check_from()`: the From URI is the authenticated user's own.
pub(crate) fn check_from(ctx: &mut MsgCtx<'_, '_>, _args: &Args<'_>) -> Ret {
    let ok = match ctx.msg.from() {
        Ok(from) => matches_credentials(ctx, &from.uri),
        Err(_) => false,
    };
    Ret::Code(if ok { 1 } else { -1 })
}

/// `does_uri_exist()` (uri_db, `use_uri_table=0`): whether the
/// Request-URI's user is a subscriber (by user alone, or user and host with
/// uri_db's `use_domain`). The store is asked off the shard; the script
/// waits, then the call runs again and reads the answer from
/// `ctx.uri_exists`. A store failure is false (-1), logged.
pub(crate) fn does_uri_exist(ctx: &mut MsgCtx<'_, '_>, args: &Args<'_>) -> Ret {
    use std::sync::atomic::{AtomicU8, Ordering};
    if let Some(slot) = ctx.uri_exists.take() {
        return match slot.load(Ordering::Acquire) {
            1 => Ret::Code(1),
            2 => Ret::Code(-1),
            _ => {
                ctx.log(level::L_ERR, "does_uri_exist(): the store did not answer");
                Ret::Code(-1)
            }
        };
    }
    let Some(pool) = ctx.config.uri_db.clone() else {
        let (_, name) = args.function();
        ctx.log(level::L_ERR, &format!("{name}(): uri_db has no db_url"));
        return Ret::Code(-1);
    };
    let ruri = ctx.ruri().to_vec();
    let Ok(uri) = crate::sip::Uri::parse(&ruri, ctx.msg.limits()) else {
        return Ret::Code(-1);
    };
    let Some(user) = uri.user().filter(|u| !u.is_empty()) else {
        return Ret::Code(-1);
    };
    let user = String::from_utf8_lossy(&crate::sip::uri::unescape(user)).into_owned();
    let domain = ctx
        .config
        .uri_db_use_domain
        .then(|| uri.host().map(|h| h.to_string().to_ascii_lowercase()))
        .flatten();
    let slot = Arc::new(AtomicU8::new(0));
    ctx.uri_exists = Some(slot.clone());
    Ret::Suspend(Pending::Offload(Offload {
        kind: "uri_db",
        start: Box::new(move |c: Completion| {
            // Refused or lost: the second run finds the slot unset.
            let c = c.or(Resume::Retry);
            let _ = pool.submit(
                move |db| crate::store::tables::credentials(db, &user, domain.as_deref()),
                move |r| {
                    let v = match r {
                        Ok(Some(_)) => 1,
                        Ok(None) => 2,
                        Err(_) => 0,
                    };
                    slot.store(v, Ordering::Release);
                    c.done(Resume::Retry);
                },
            );
        }),
    }))
}
