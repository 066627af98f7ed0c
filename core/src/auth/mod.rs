//! Digest authentication (the `auth` and `auth_db` modules), without the
//! script glue: checking the credentials of one request, building
//! challenges, and the state shared by every shard to do so.
//!
//! - [`digest`]: HA1, HA2, `response`, MD5 and SHA-256, `-sess`.
//! - [`nonce`]: self-contained signed nonces ([`Nonces`]).
//! - [`nc`]: replay protection ([`NcTable`]).
//! - [`challenge`]: `WWW-Authenticate` / `Proxy-Authenticate` values.
//! - [`cache`]: the credentials cache ([`CredCache`]).
//!
//! [`Auth`] holds the parameters, the nonce key, the nonce-count table and
//! the cache; it is built once and shared by the shards. [`Auth::authorize`]
//! checks one request synchronously, with no I/O: the stored credentials
//! come from a lookup closure (usually the cache). When they are not
//! known it returns [`Outcome::NeedCredentials`]; the caller then queries
//! the store, fills the cache and calls again (the nonce is checked again,
//! which costs one HMAC). See `docs/auth.md` for the nonce format, the
//! return codes and the differences from Kamailio.

pub mod cache;
pub mod challenge;
pub mod db;
pub mod digest;
pub mod funcs;
pub mod nc;
pub mod nonce;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::Arc;

use ser_cfg::Dialect;
use ser_cfg::ir::{ConstValue, Program};

use crate::sip::auth::Credentials;
use crate::sip::{Method, SipMsg, Span};

pub use cache::{CacheParams, CacheStats, Cached, CredCache, CredKey, Stored};
pub use challenge::{ChallengeSpec, Kind, Offer, QopOffer, realm_of};
pub use digest::{Digest, Hash, Hex, Malformed};
pub use funcs::{Accepted, AuthModule, CredentialStore, MsgAuth};
pub use nc::{NcCheck, NcTable};
pub use nonce::{NONCE_LEN, NonceCheck, NonceKey, Nonces};

/// Parameters of the `auth` and `auth_db` modules (defaults as Kamailio's
/// unless noted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// `secret` (auth; none): the phrase nonces are signed with. Without
    /// it, a random key is drawn at start; routers given the same phrase
    /// accept each other's nonces.
    pub secret: Option<Box<[u8]>>,
    /// `nonce_expire` (auth; 300 s): lifetime of a nonce.
    pub nonce_expire: u32,
    /// `nonce_count` (auth; on here, off in Kamailio): a request with
    /// `qop` must carry an `nc` greater than any accepted for its nonce.
    pub nonce_count: bool,
    /// `one_time_nonce` (auth; on here, off in Kamailio): a nonce answered
    /// without `qop` serves once.
    pub one_time_nonce: bool,
    /// `nc_array_order` or `nc_array_size` rounded down to a power of two
    /// (auth; 20): the nonce-count table has `2^order` slots of 8 bytes.
    pub nc_array_order: u8,
    /// `qop` (auth; `""`): whether SER 2.0's challenges
    /// (`$digest_challenge`) ask for `qop=auth`. `auth-int` is read as
    /// `auth`. `www_challenge(realm, flags)` says it per call.
    pub qop: QopOffer,
    /// `algorithm` (auth; `MD5`): the algorithm(s) challenges offer:
    /// `MD5`, `SHA-256`, or `SHA-256,MD5` for both (two challenges).
    pub algorithm: Offer,
    /// `realm_prefix` (auth; none): removed from the front of realms
    /// (`sip.` makes `sip.example.com` the realm `example.com`).
    pub realm_prefix: Box<[u8]>,
    /// `calculate_ha1` (auth_db; 0): the store holds plain passwords and
    /// HA1 is computed; otherwise it holds HA1 (`ha1`, or `ha1b` when the
    /// username carries a domain).
    pub calculate_ha1: bool,
    /// `password_column` (auth_db; `ha1`): the column of HA1, or of
    /// plain passwords with `calculate_ha1` (for the store's query).
    pub password_column: Box<str>,
    /// `password_column_2` (auth_db; `ha1b`): the column of HA1 computed
    /// with `user@domain` as the username.
    pub password_column_2: Box<str>,
    /// `plain_password_column` (SER 2.x auth_db; none): the column of
    /// plain passwords with `calculate_ha1`, when it is not
    /// `password_column`.
    pub plain_password_column: Option<Box<str>>,
    /// `use_domain` (auth_db; 0): users are looked up by user and domain
    /// (the username's domain, else the realm), not by user alone.
    pub use_domain: bool,
    /// The credentials cache (not Kamailio parameters: fixed for now).
    pub cache: CacheParams,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            secret: None,
            nonce_expire: 300,
            nonce_count: true,
            one_time_nonce: true,
            nc_array_order: nc::DEFAULT_ORDER,
            qop: QopOffer::None,
            algorithm: Offer::Md5,
            realm_prefix: Box::default(),
            calculate_ha1: false,
            password_column: "ha1".into(),
            password_column_2: "ha1b".into(),
            plain_password_column: None,
            use_domain: false,
            cache: CacheParams::default(),
        }
    }
}

fn const_int(p: &Program, v: &ConstValue) -> Option<i64> {
    match v {
        ConstValue::Int(n) => Some(*n),
        ConstValue::Str(s) => crate::script::value::parse_int(p.str(*s).trim().as_bytes()),
        ConstValue::Bool(b) => Some(i64::from(*b)),
    }
}

fn const_str<'p>(p: &'p Program, v: &ConstValue) -> Option<&'p str> {
    match v {
        ConstValue::Str(s) => Some(p.str(*s)),
        _ => None,
    }
}

/// log2 of `n` rounded down (Kamailio rounds `nc_array_size` so).
fn order_of(n: i64) -> Option<u8> {
    let n = u64::try_from(n).ok().filter(|n| *n > 0)?;
    Some((63 - n.leading_zeros()) as u8)
}

impl Params {
    /// The defaults with the `modparam`s of `auth` and `auth_db` in `p` (a
    /// value out of range keeps the default).
    pub fn from_program(p: &Program) -> Params {
        let mut r = Params::default();
        for m in &p.modules {
            let module = p.str(m.name);
            if module != "auth" && module != "auth_db" {
                continue;
            }
            for (name, value) in &m.params {
                let n = const_int(p, value);
                let s = const_str(p, value);
                match p.str(*name) {
                    "secret" => {
                        if let Some(s) = s.filter(|s| !s.is_empty()) {
                            r.secret = Some(s.as_bytes().into());
                        }
                    }
                    "nonce_expire" => {
                        if let Some(v) = n.and_then(|n| u32::try_from(n).ok()).filter(|v| *v > 0) {
                            r.nonce_expire = v;
                        }
                    }
                    "nonce_count" => r.nonce_count = n.is_some_and(|n| n != 0),
                    "one_time_nonce" => r.one_time_nonce = n.is_some_and(|n| n != 0),
                    "nc_array_order" => {
                        if let Some(o) = n.and_then(|n| u8::try_from(n).ok()) {
                            r.nc_array_order = o.min(nc::MAX_ORDER);
                        }
                    }
                    "nc_array_size" => {
                        if let Some(o) = n.and_then(order_of) {
                            r.nc_array_order = o.min(nc::MAX_ORDER);
                        }
                    }
                    "qop" => {
                        if let Some(s) = s {
                            r.qop = if s.trim().is_empty() {
                                QopOffer::None
                            } else {
                                QopOffer::Auth
                            };
                        }
                    }
                    "algorithm" => {
                        if let Some(a) = s.and_then(Offer::parse) {
                            r.algorithm = a;
                        }
                    }
                    "realm_prefix" => {
                        if let Some(s) = s {
                            r.realm_prefix = s.as_bytes().into();
                        }
                    }
                    "calculate_ha1" => {
                        if let Some(n) = n {
                            r.calculate_ha1 = n != 0;
                        }
                    }
                    "password_column" => {
                        if let Some(s) = s.filter(|s| !s.is_empty()) {
                            r.password_column = s.into();
                        }
                    }
                    "password_column_2" => {
                        if let Some(s) = s.filter(|s| !s.is_empty()) {
                            r.password_column_2 = s.into();
                        }
                    }
                    "plain_password_column" => {
                        r.plain_password_column = s.filter(|s| !s.is_empty()).map(Into::into);
                    }
                    "use_domain" => {
                        if let Some(n) = n {
                            r.use_domain = n != 0;
                        }
                    }
                    _ => {}
                }
            }
        }
        r
    }

    /// The store column holding what [`Auth::authorize`] needs for a
    /// username with (`ha1b`) or without a domain.
    pub fn secret_column(&self, username_has_domain: bool) -> &str {
        if self.calculate_ha1 {
            self.plain_password_column
                .as_deref()
                .unwrap_or(&self.password_column)
        } else if username_has_domain {
            &self.password_column_2
        } else {
            &self.password_column
        }
    }

    /// `realm` without `realm_prefix`.
    pub fn strip_prefix<'r>(&self, realm: &'r [u8]) -> &'r [u8] {
        let p = &*self.realm_prefix;
        match realm.get(..p.len()) {
            Some(head)
                if !p.is_empty() && head.eq_ignore_ascii_case(p) && realm.len() > p.len() =>
            {
                realm.get(p.len()..).unwrap_or(realm)
            }
            _ => realm,
        }
    }
}

/// Whether `table` is SER 2.0's `credentials` table (keyed by
/// `auth_username` and `realm`, rows carrying the user's `uid`), rather
/// than a `subscriber`-shaped one.
pub fn is_ser_credentials(table: &[u8]) -> bool {
    table.eq_ignore_ascii_case(b"credentials")
}

/// Splits a digest username at its first `@`: `(user, domain)`.
pub fn split_username(username: &[u8]) -> (&[u8], Option<&[u8]>) {
    match username.iter().position(|&b| b == b'@') {
        Some(i) => (username.get(..i).unwrap_or_default(), username.get(i + 1..)),
        None => (username, None),
    }
}

/// What the store (or the cache in front of it) says of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Found(Arc<Stored>),
    /// No such user.
    Unknown,
    /// Not known yet: the store must be asked.
    Missing,
    /// The store failed.
    Error,
}

impl From<Cached> for Lookup {
    fn from(c: Cached) -> Lookup {
        match c {
            Cached::Fresh(s) | Cached::Stale { stored: s, .. } => Lookup::Found(s),
            Cached::Unknown => Lookup::Unknown,
            Cached::Missing => Lookup::Missing,
        }
    }
}

/// A request to authenticate.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a, 'm> {
    pub msg: &'a SipMsg<'m>,
    /// `Www`: `Authorization` (`www_authorize`); `Proxy`:
    /// `Proxy-Authorization` (`proxy_authorize`).
    pub kind: Kind,
    /// The realm argument; empty: the To (REGISTER) or From host.
    pub realm: &'a [u8],
    /// The method to hash (Kamailio's optional argument); the request's
    /// own by default.
    pub method: Option<&'a [u8]>,
    /// The store table (`subscriber`, `credentials`): part of the key.
    pub table: &'a [u8],
    /// Unix seconds.
    pub now: u64,
}

/// A successful authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authorized<'m> {
    /// The whole credentials header line used, for
    /// `consume_credentials()`; `None` when the method is not
    /// authenticated (ACK, CANCEL, PRACK).
    pub header: Option<Span>,
    /// The username of the credentials (maybe `user@domain`); empty when
    /// `header` is `None`.
    pub username: &'m [u8],
    /// The realm of the credentials.
    pub realm: &'m [u8],
}

impl<'m> Authorized<'m> {
    /// The user part of the username.
    pub fn user(&self) -> &'m [u8] {
        split_username(self.username).0
    }

    /// The domain part of the username, if it has one.
    pub fn domain(&self) -> Option<&'m [u8]> {
        split_username(self.username).1
    }
}

/// The result of [`Auth::authorize`]. [`Outcome::code`] gives the value
/// the script sees (`$?` / `$retcode`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<'m> {
    Authorized(Authorized<'m>),
    /// No Digest credentials for the realm in the header.
    NoCredentials,
    /// Credentials for the realm that cannot be checked.
    Malformed(Malformed),
    /// A nonce we did not issue (forged, tampered, another realm).
    InvalidNonce,
    /// An expired nonce, or an `nc` replay, or a nonce too old for the
    /// `nc` table: challenge again with `stale=true`.
    StaleNonce,
    /// A nonce without `qop` used a second time.
    NonceReused,
    UserUnknown,
    InvalidPassword,
    /// The store's entry cannot check this response: no password with
    /// `calculate_ha1`, no `ha1` / `ha1b`, or one of another algorithm.
    Unverifiable,
    /// The store failed.
    StoreError,
    /// The realm argument was empty and the request has no host to take
    /// it from.
    NoRealm,
    /// The credentials are not known: query the store for this key, put
    /// the answer in the cache, and call again.
    NeedCredentials(CredKey),
}

impl Outcome<'_> {
    /// Kamailio's return code of `www_authorize` / `proxy_authorize` /
    /// `auth_check` (`auth` module's `auth_cfg_result_t`, `auth_db`
    /// documentation): 1 authorized, -1 error, -2 invalid password, -3
    /// unknown user, -4 stale nonce, -5 no credentials, -6 nonce reused.
    /// `None` for [`Outcome::NeedCredentials`], which is not an answer.
    pub fn kamailio_code(&self) -> Option<i32> {
        Some(match self {
            Outcome::Authorized(_) => 1,
            Outcome::InvalidPassword => -2,
            Outcome::UserUnknown => -3,
            Outcome::StaleNonce => -4,
            Outcome::NoCredentials => -5,
            Outcome::NonceReused => -6,
            Outcome::Malformed(_)
            | Outcome::InvalidNonce
            | Outcome::Unverifiable
            | Outcome::StoreError
            | Outcome::NoRealm => -1,
            Outcome::NeedCredentials(_) => return None,
        })
    }

    /// SER 2.0's return code of `www_authenticate` / `proxy_authenticate`
    /// (its `auth_db`): 1 authorized, -3 bad request (malformed
    /// credentials: the script answers 400), -2 internal error (the store
    /// failed: 500), -1 anything else (challenge, with `stale=true` when
    /// [`Outcome::challenge_stale`]).
    pub fn ser2_code(&self) -> Option<i32> {
        Some(match self {
            Outcome::Authorized(_) => 1,
            Outcome::Malformed(_) => -3,
            Outcome::StoreError | Outcome::NoRealm => -2,
            Outcome::NoCredentials
            | Outcome::InvalidNonce
            | Outcome::StaleNonce
            | Outcome::NonceReused
            | Outcome::UserUnknown
            | Outcome::InvalidPassword
            | Outcome::Unverifiable => -1,
            Outcome::NeedCredentials(_) => return None,
        })
    }

    /// The code in the script's dialect: SER 2.x scripts test SER 2.0's
    /// codes, every other dialect Kamailio's (SER 0.9 scripts only test
    /// true / false, which both agree on).
    pub fn code(&self, dialect: Dialect) -> Option<i32> {
        match dialect {
            Dialect::Ser2 => self.ser2_code(),
            _ => self.kamailio_code(),
        }
    }

    /// Whether the next challenge should say `stale=true`: the user agent
    /// may retry with a new nonce without asking its user.
    pub fn challenge_stale(&self) -> bool {
        matches!(self, Outcome::StaleNonce | Outcome::NonceReused)
    }

    pub fn is_authorized(&self) -> bool {
        matches!(self, Outcome::Authorized(_))
    }
}

/// Methods never challenged: ACK has no response to carry a challenge,
/// CANCEL must match the request it cancels, PRACK belongs to an INVITE
/// already checked (Kamailio's `pre_auth`).
fn exempt(method: &[u8]) -> bool {
    matches!(method, b"ACK" | b"CANCEL" | b"PRACK")
}

/// Everything shared by the shards to authenticate requests.
#[derive(Debug)]
pub struct Auth {
    params: Params,
    nonces: Nonces,
    nc: NcTable,
    cache: CredCache,
}

impl Auth {
    /// Ready to issue nonces from `now` on: with the `secret` phrase's key,
    /// or a random one; the nonce indices start at a random number.
    pub fn new(params: Params, now: u64) -> std::io::Result<Auth> {
        let key = match &params.secret {
            Some(s) => NonceKey::from_phrase(s),
            None => NonceKey::random()?,
        };
        let mut start = [0u8; 8];
        nonce::fill_random(&mut start)?;
        Ok(Auth::with_key(params, key, u64::from_be_bytes(start), now))
    }

    /// As [`Auth::new`] with a given key and first index (tests).
    pub fn with_key(params: Params, key: NonceKey, first_index: u64, now: u64) -> Auth {
        Auth {
            nonces: Nonces::new(key, params.nonce_expire, now),
            nc: NcTable::new(params.nc_array_order, first_index),
            cache: CredCache::new(params.cache),
            params,
        }
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn cache(&self) -> &CredCache {
        &self.cache
    }

    pub fn nonces(&self) -> &Nonces {
        &self.nonces
    }

    pub fn nc_table(&self) -> &NcTable {
        &self.nc
    }

    /// A new nonce for `realm` (its index claimed in the `nc` table).
    pub fn new_nonce(&self, realm: &[u8], now: u64) -> [u8; NONCE_LEN] {
        let realm = self.params.strip_prefix(realm);
        self.nonces.issue(realm, self.nc.issue(), now)
    }

    /// The realm a request is authenticated in: the argument without
    /// `realm_prefix`, or, when it is empty, the To (REGISTER) or From host.
    pub fn realm<'x, 'm: 'x>(&self, msg: &SipMsg<'m>, arg: &'x [u8]) -> Option<Cow<'x, [u8]>> {
        let r = if arg.is_empty() {
            realm_of(msg)?
        } else {
            Cow::Borrowed(arg)
        };
        let r = match r {
            Cow::Borrowed(b) => Cow::Borrowed(self.params.strip_prefix(b)),
            Cow::Owned(o) => Cow::Owned(self.params.strip_prefix(&o).to_vec()),
        };
        (!r.is_empty()).then_some(r)
    }

    /// The challenge header line(s) for `realm` as `www_challenge(realm,
    /// flags)` / `proxy_challenge` send them: one per algorithm of the
    /// `algorithm` parameter, each with a new nonce, CRLF-terminated.
    pub fn challenge(
        &self,
        kind: Kind,
        realm: &[u8],
        qop: QopOffer,
        stale: bool,
        now: u64,
    ) -> Vec<u8> {
        let realm = self.params.strip_prefix(realm);
        let mut out = Vec::with_capacity(160);
        for &hash in self.params.algorithm.hashes() {
            let nonce = self.new_nonce(realm, now);
            let spec = ChallengeSpec {
                realm,
                qop,
                hash,
                stale,
                opaque: None,
            };
            challenge::push_header(&mut out, kind, &spec, &nonce);
        }
        out
    }

    /// SER 2.0's `$digest_challenge` after a failed `www_authenticate` /
    /// `proxy_authenticate`: the header line(s) `append_to_reply` adds,
    /// `qop` as the module parameter says.
    pub fn digest_challenge(&self, kind: Kind, realm: &[u8], stale: bool, now: u64) -> Vec<u8> {
        self.challenge(kind, realm, self.params.qop, stale, now)
    }

    /// Checks the credentials of one request (see [`Outcome`]). `lookup`
    /// is asked for the stored credentials of a key at most once, and only
    /// once the nonce has been found good.
    pub fn authorize<'m>(
        &self,
        req: &Request<'_, 'm>,
        lookup: impl FnOnce(&CredKey) -> Lookup,
    ) -> Outcome<'m> {
        let own = req.msg.method().map(|m| m.as_bytes()).unwrap_or_default();
        // The exemption follows the request's method, the hash the
        // argument's when one is given.
        let method = req.method.unwrap_or(own);
        if exempt(own) {
            return Outcome::Authorized(Authorized {
                header: None,
                username: b"",
                realm: b"",
            });
        }
        let Some(realm) = self.realm(req.msg, req.realm) else {
            return Outcome::NoRealm;
        };
        let (line, cred) = match find_credentials(req.msg, req.kind, &realm) {
            Ok(found) => found,
            Err(NotFound::No) => return Outcome::NoCredentials,
            Err(NotFound::Broken) => return Outcome::Malformed(Malformed::Unparsable),
        };
        let d = match Digest::from_credentials(&cred) {
            Ok(d) => d,
            Err(m) => return Outcome::Malformed(m),
        };
        let index = match self.nonces.verify(d.nonce, &realm, req.now) {
            NonceCheck::Valid { index, .. } => index,
            NonceCheck::Stale => return Outcome::StaleNonce,
            NonceCheck::Invalid => return Outcome::InvalidNonce,
        };
        let tracked = self.tracks(&d);
        if tracked && let Some(bad) = nc_outcome(self.nc.check(index, d.nc)) {
            return bad;
        }
        let (user, user_domain) = split_username(d.username);
        let domain: Vec<u8> = if is_ser_credentials(req.table) {
            // SER 2.0's table is keyed by auth_username and realm.
            realm.to_vec()
        } else if self.params.use_domain {
            user_domain.unwrap_or(realm.as_ref()).to_ascii_lowercase()
        } else {
            Vec::new()
        };
        let table: &[u8] = if is_ser_credentials(req.table) {
            b"credentials"
        } else {
            req.table
        };
        let key = CredKey::new(table, user, &domain);
        let stored = match lookup(&key) {
            Lookup::Found(s) => s,
            Lookup::Unknown => return Outcome::UserUnknown,
            Lookup::Missing => return Outcome::NeedCredentials(key),
            Lookup::Error => return Outcome::StoreError,
        };
        let good = if self.params.calculate_ha1 {
            match &stored.password {
                Some(pw) => d.verify_password(method, pw),
                None => return Outcome::Unverifiable,
            }
        } else {
            let column = if user_domain.is_some() {
                &stored.ha1b
            } else {
                &stored.ha1
            };
            match column.as_deref().and_then(Hex::parse) {
                Some(h) if h.as_bytes().len() == d.hash.hex_len() => d.verify_ha1(method, &h),
                _ => return Outcome::Unverifiable,
            }
        };
        if !good {
            return Outcome::InvalidPassword;
        }
        if tracked && let Some(bad) = nc_outcome(self.nc.commit(index, d.nc)) {
            return bad;
        }
        Outcome::Authorized(Authorized {
            header: Some(line),
            username: d.username,
            realm: d.realm,
        })
    }

    /// [`Auth::authorize`] against the cache at `req.now`. Also returns the
    /// key to refresh in the background when a stale entry was used and
    /// this caller was chosen to refresh it.
    pub fn authorize_cached<'m>(&self, req: &Request<'_, 'm>) -> (Outcome<'m>, Option<CredKey>) {
        let (out, refresh, _) = self.authorize_cached_stored(req);
        (out, refresh)
    }

    /// [`Auth::authorize_cached`], also giving the stored credentials the
    /// check used (SER 2.0's `credentials` rows carry the user's uid).
    pub fn authorize_cached_stored<'m>(
        &self,
        req: &Request<'_, 'm>,
    ) -> (Outcome<'m>, Option<CredKey>, Option<Arc<Stored>>) {
        let mut refresh = None;
        let mut used = None;
        let out = self.authorize(req, |key| {
            let c = self.cache.get(key, req.now);
            match &c {
                Cached::Stale { refresh: r, stored } => {
                    if *r {
                        refresh = Some(key.clone());
                    }
                    used = Some(stored.clone());
                }
                Cached::Fresh(stored) => used = Some(stored.clone()),
                _ => {}
            }
            c.into()
        });
        (out, refresh, used)
    }

    /// Whether this response's nonce use is recorded in the `nc` table.
    fn tracks(&self, d: &Digest<'_>) -> bool {
        match d.nc {
            Some(_) => self.params.nonce_count,
            None => self.params.one_time_nonce,
        }
    }
}

fn nc_outcome(c: NcCheck) -> Option<Outcome<'static>> {
    match c {
        NcCheck::Ok => None,
        // Kamailio answers an nc replay, and a nonce it can no longer
        // track, as a stale nonce: the user agent retries with a new one.
        NcCheck::Replay | NcCheck::Lost => Some(Outcome::StaleNonce),
        NcCheck::Reused => Some(Outcome::NonceReused),
    }
}

/// Why no credentials were found for the realm.
enum NotFound {
    /// None for the realm.
    No,
    /// None for the realm, and a header that could not be parsed.
    Broken,
}

/// The first Digest credentials of `kind` whose realm is `realm` (case
/// aside), with the span of their header line. Headers that do not parse
/// are skipped, but reported when nothing else matches.
fn find_credentials<'m>(
    msg: &SipMsg<'m>,
    kind: Kind,
    realm: &[u8],
) -> Result<(Span, Credentials<'m>), NotFound> {
    let mut broken = false;
    for h in msg.headers_named(kind.credentials_header()) {
        match Credentials::parse(msg.value_of(h), msg.limits()) {
            Ok(c) if c.is_digest() => {
                if c.realm.is_some_and(|r| r.eq_ignore_ascii_case(realm)) {
                    return Ok((h.line(), c));
                }
            }
            Ok(_) => {}
            Err(_) => broken = true,
        }
    }
    Err(if broken {
        NotFound::Broken
    } else {
        NotFound::No
    })
}

/// Whether the request has credentials of `kind` for `realm`
/// (`has_credentials(realm)`).
pub fn has_credentials(msg: &SipMsg<'_>, kind: Kind, realm: &[u8]) -> bool {
    find_credentials(msg, kind, realm).is_ok()
}

/// Whether `method` is authenticated at all (not ACK, CANCEL or PRACK).
pub fn is_challengeable(method: Method<'_>) -> bool {
    !exempt(method.as_bytes())
}
