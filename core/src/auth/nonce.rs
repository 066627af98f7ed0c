//! Nonces that carry their own expiry and index, signed with a secret, so
//! that any shard (or any router sharing the secret) can check a nonce it
//! did not issue without shared state.
//!
//! ```text
//! nonce  = base64url( expiry || index || mac )          ; 40 characters
//! expiry = 4 bytes, big endian: Unix second after which the nonce is stale
//! index  = 8 bytes, big endian: the nonce's number (see `nc.rs`)
//! mac    = first 18 bytes of HMAC-SHA-256(key, expiry || index || lower(realm))
//! ```
//!
//! 30 bytes encode to exactly 40 base64url characters, without padding or
//! spare bits, so a nonce has one spelling only. The realm is signed but
//! not carried: a nonce issued for one realm is refused in another.
//!
//! [`Nonces::verify`] tells a genuine nonce ([`NonceCheck::Valid`]) from a
//! genuine but expired one ([`NonceCheck::Stale`]: the next challenge says
//! `stale=true`, and the user agent retries without asking its user again)
//! and from anything else ([`NonceCheck::Invalid`]). Two more cases are
//! `Stale` rather than `Invalid`, as in Kamailio:
//! - a nonce that is well formed but does not verify and whose expiry is
//!   earlier than any nonce this process could have issued: it comes from
//!   before a restart (a new random key), and its user agent should retry
//!   quietly instead of being told its password is wrong;
//! - a genuine nonce whose expiry is further ahead than `nonce_expire`
//!   plus [`MAX_DRIFT`]: issued by a router whose clock is ahead, or before
//!   the clock was set back.
//!
//! The key is 32 bytes from the kernel at start, or the SHA-256 of the
//! `secret` module parameter: routers configured with the same secret
//! accept each other's nonces.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest as _, Sha256};

/// Length of a nonce in characters.
pub const NONCE_LEN: usize = 40;

/// Bytes of a nonce before encoding.
const RAW_LEN: usize = 30;

/// Bytes of the MAC kept in the nonce (144 bits).
const MAC_LEN: usize = 18;

/// Seconds a nonce's expiry may lie beyond `now + nonce_expire` (clock
/// differences between routers sharing a secret); Kamailio's
/// `nonce_auth_max_drift` default.
pub const MAX_DRIFT: u64 = 3;

/// The key nonces are signed with.
#[derive(Clone)]
pub struct NonceKey {
    /// HMAC-SHA-256 keyed once; cloned for each nonce.
    mac: Hmac<Sha256>,
}

impl core::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    /// A key from 32 bytes.
    pub fn from_bytes(key: &[u8; 32]) -> NonceKey {
        // HMAC pads a key shorter than the hash's 64-byte block with zeros
        // (RFC 2104): padding it here gives the same MAC through the
        // infallible constructor.
        let mut block = [0u8; 64];
        for (d, s) in block.iter_mut().zip(key) {
            *d = *s;
        }
        NonceKey {
            mac: <Hmac<Sha256> as KeyInit>::new(&block.into()),
        }
    }

    /// The key of a configured `secret` phrase (its SHA-256).
    pub fn from_phrase(phrase: &[u8]) -> NonceKey {
        let d: [u8; 32] = Sha256::digest(phrase).into();
        NonceKey::from_bytes(&d)
    }

    /// A fresh key of 32 random bytes from the kernel.
    pub fn random() -> std::io::Result<NonceKey> {
        let mut k = [0u8; 32];
        fill_random(&mut k)?;
        Ok(NonceKey::from_bytes(&k))
    }

    /// The MAC of a nonce's fields.
    fn sign(&self, expiry: u32, index: u64, realm: &[u8]) -> [u8; MAC_LEN] {
        let mut m = self.mac.clone();
        m.update(&expiry.to_be_bytes());
        m.update(&index.to_be_bytes());
        // Realms compare case-insensitively (as Kamailio matches them).
        let mut chunk = [0u8; 64];
        for part in realm.chunks(chunk.len()) {
            let n = part.len();
            for (d, s) in chunk.iter_mut().zip(part) {
                *d = s.to_ascii_lowercase();
            }
            m.update(chunk.get(..n).unwrap_or_default());
        }
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        for (d, s) in out.iter_mut().zip(full.iter()) {
            *d = *s;
        }
        out
    }
}

/// Fills `buf` from the kernel's random source (`getrandom(2)`).
pub fn fill_random(buf: &mut [u8]) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = buf.get_mut(done..).unwrap_or_default();
        // SAFETY: writes at most `rest.len()` bytes into `rest`, which is
        // live and writable for the whole call.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

/// What a nonce turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceCheck {
    /// Genuine and not expired.
    Valid { index: u64, expiry: u64 },
    /// Genuine but expired (or from before a restart, or from the future):
    /// challenge again with `stale=true`.
    Stale,
    /// Forged, tampered with, for another realm, or not a nonce of ours.
    Invalid,
}

/// Issues and verifies nonces.
#[derive(Clone, Debug)]
pub struct Nonces {
    key: NonceKey,
    /// `nonce_expire`, seconds.
    expire: u32,
    /// Unix second this process started issuing nonces.
    started_at: u64,
}

impl Nonces {
    pub fn new(key: NonceKey, expire: u32, started_at: u64) -> Nonces {
        Nonces {
            key,
            expire: expire.max(1),
            started_at,
        }
    }

    /// `nonce_expire` in seconds.
    pub fn expire(&self) -> u32 {
        self.expire
    }

    /// A nonce for `realm` with this `index`, issued at `now`.
    pub fn issue(&self, realm: &[u8], index: u64, now: u64) -> [u8; NONCE_LEN] {
        // Expiries are 32-bit Unix seconds (until 2106).
        let expiry = u32::try_from(now.saturating_add(u64::from(self.expire))).unwrap_or(u32::MAX);
        let mut raw = [0u8; RAW_LEN];
        let mac = self.key.sign(expiry, index, realm);
        let fields = expiry
            .to_be_bytes()
            .into_iter()
            .chain(index.to_be_bytes())
            .chain(mac);
        for (d, s) in raw.iter_mut().zip(fields) {
            *d = s;
        }
        encode(&raw)
    }

    /// Checks a nonce received in credentials for `realm` at `now`.
    pub fn verify(&self, nonce: &[u8], realm: &[u8], now: u64) -> NonceCheck {
        let Some(raw) = decode(nonce) else {
            return NonceCheck::Invalid;
        };
        let (head, mac) = raw.split_at(RAW_LEN - MAC_LEN);
        let (e, i) = head.split_at(4);
        let (Ok(e), Ok(i)) = (<[u8; 4]>::try_from(e), <[u8; 8]>::try_from(i)) else {
            return NonceCheck::Invalid;
        };
        let (expiry32, index) = (u32::from_be_bytes(e), u64::from_be_bytes(i));
        let expiry = u64::from(expiry32);
        let lifetime = u64::from(self.expire);
        let want = self.key.sign(expiry32, index, realm);
        if !super::digest::ct_eq_ignore_case(&want, mac) {
            // Nothing this process issued expires before `started_at +
            // nonce_expire`: such a nonce is a previous instance's.
            if expiry < self.started_at.saturating_add(lifetime) {
                return NonceCheck::Stale;
            }
            return NonceCheck::Invalid;
        }
        if expiry < now || expiry > now.saturating_add(lifetime + MAX_DRIFT) {
            return NonceCheck::Stale;
        }
        NonceCheck::Valid { index, expiry }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url of exactly 30 bytes (10 groups of 3, no padding).
fn encode(raw: &[u8; RAW_LEN]) -> [u8; NONCE_LEN] {
    let mut out = [0u8; NONCE_LEN];
    for (group, dst) in raw.chunks_exact(3).zip(out.chunks_exact_mut(4)) {
        if let ([a, b, c], [w, x, y, z]) = (group, dst) {
            let n = u32::from(*a) << 16 | u32::from(*b) << 8 | u32::from(*c);
            *w = B64[(n >> 18) as usize & 63];
            *x = B64[(n >> 12) as usize & 63];
            *y = B64[(n >> 6) as usize & 63];
            *z = B64[n as usize & 63];
        }
    }
    out
}

/// The value of one base64url character.
fn sextet(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// The 30 bytes of a 40-character base64url nonce; `None` for anything
/// else.
fn decode(s: &[u8]) -> Option<[u8; RAW_LEN]> {
    if s.len() != NONCE_LEN {
        return None;
    }
    let mut raw = [0u8; RAW_LEN];
    for (src, dst) in s.chunks_exact(4).zip(raw.chunks_exact_mut(3)) {
        let mut n = 0u32;
        for &c in src {
            n = n << 6 | sextet(c)?;
        }
        if let [a, b, c] = dst {
            *a = (n >> 16) as u8;
            *b = (n >> 8) as u8;
            *c = n as u8;
        }
    }
    Some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn nonces() -> Nonces {
        Nonces::new(NonceKey::from_phrase(b"test secret"), 300, T0)
    }

    #[test]
    fn round_trip_and_expiry() {
        let n = nonces();
        let nonce = n.issue(b"example.com", 42, T0 + 10);
        assert_eq!(nonce.len(), NONCE_LEN);
        assert!(nonce.iter().all(|&c| sextet(c).is_some()));
        let expiry = T0 + 310;
        assert_eq!(
            n.verify(&nonce, b"example.com", T0 + 10),
            NonceCheck::Valid { index: 42, expiry }
        );
        // Realms compare case-insensitively.
        assert_eq!(
            n.verify(&nonce, b"EXAMPLE.com", T0 + 300),
            NonceCheck::Valid { index: 42, expiry }
        );
        // Valid through its expiry second, stale after.
        assert!(matches!(
            n.verify(&nonce, b"example.com", expiry),
            NonceCheck::Valid { .. }
        ));
        assert_eq!(
            n.verify(&nonce, b"example.com", expiry + 1),
            NonceCheck::Stale
        );
        // Another shard's `Nonces` with the same key accepts it.
        let other = Nonces::new(NonceKey::from_phrase(b"test secret"), 300, T0 + 5);
        assert!(matches!(
            other.verify(&nonce, b"example.com", T0 + 20),
            NonceCheck::Valid { index: 42, .. }
        ));
    }

    #[test]
    fn forged_and_tampered() {
        let n = nonces();
        let nonce = n.issue(b"example.com", 7, T0 + 100);
        let now = T0 + 101;
        // Another realm.
        assert_eq!(n.verify(&nonce, b"example.org", now), NonceCheck::Invalid);
        // Another key.
        let other = Nonces::new(NonceKey::from_phrase(b"other secret"), 300, T0);
        assert_eq!(
            other.verify(&nonce, b"example.com", now),
            NonceCheck::Invalid
        );
        // Every single-character change of the expiry, index or MAC.
        for i in 0..NONCE_LEN {
            let mut t = nonce;
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            assert!(
                !matches!(n.verify(&t, b"example.com", now), NonceCheck::Valid { .. }),
                "char {i}"
            );
        }
        // A later expiry, re-encoded, does not verify.
        let mut raw = decode(&nonce).unwrap();
        raw[3] = raw[3].wrapping_add(100);
        assert_eq!(
            n.verify(&encode(&raw), b"example.com", now),
            NonceCheck::Invalid
        );
        // Garbage.
        for g in [
            &b""[..],
            b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
            &[b'='; NONCE_LEN],
            &nonce[..NONCE_LEN - 1],
            b"\xff\xfe\x00",
        ] {
            assert_eq!(n.verify(g, b"example.com", now), NonceCheck::Invalid);
        }
        let mut long = nonce.to_vec();
        long.push(b'A');
        assert_eq!(n.verify(&long, b"example.com", now), NonceCheck::Invalid);
    }

    #[test]
    fn previous_instance_and_future_nonces_are_stale() {
        // Issued by an earlier process (other key) that expired or not:
        // its expiry is before anything this process issues.
        let old = Nonces::new(NonceKey::from_phrase(b"before restart"), 300, T0 - 1000);
        let nonce = old.issue(b"example.com", 1, T0 - 100);
        let n = nonces();
        assert_eq!(n.verify(&nonce, b"example.com", T0 + 1), NonceCheck::Stale);
        // A forgery dated after our start is invalid, not stale.
        let forged = old.issue(b"example.com", 1, T0 + 1);
        assert_eq!(
            n.verify(&forged, b"example.com", T0 + 2),
            NonceCheck::Invalid
        );
        // A genuine nonce from a router whose clock runs 10 s ahead.
        let ahead = n.issue(b"example.com", 2, T0 + 110);
        assert_eq!(
            n.verify(&ahead, b"example.com", T0 + 100),
            NonceCheck::Stale
        );
        // ... within the drift, fine.
        let ahead = n.issue(b"example.com", 2, T0 + 102);
        assert!(matches!(
            n.verify(&ahead, b"example.com", T0 + 100),
            NonceCheck::Valid { .. }
        ));
    }

    #[test]
    fn random_keys_differ() {
        let a = Nonces::new(NonceKey::random().unwrap(), 30, T0);
        let b = Nonces::new(NonceKey::random().unwrap(), 30, T0);
        let nonce = a.issue(b"r", 1, T0);
        assert!(matches!(
            a.verify(&nonce, b"r", T0),
            NonceCheck::Valid { .. }
        ));
        assert_eq!(b.verify(&nonce, b"r", T0), NonceCheck::Invalid);
        assert_ne!(nonce, b.issue(b"r", 1, T0));
    }

    #[test]
    fn padded_key_is_the_standard_hmac() {
        let k = [7u8; 32];
        let mut plain = <Hmac<Sha256> as KeyInit>::new_from_slice(&k).unwrap();
        plain.update(b"x");
        let mut ours = NonceKey::from_bytes(&k).mac;
        ours.update(b"x");
        assert_eq!(plain.finalize().into_bytes(), ours.finalize().into_bytes());
    }

    #[test]
    fn base64url_round_trip() {
        let mut raw = [0u8; RAW_LEN];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37) ^ 0xa5;
        }
        assert_eq!(decode(&encode(&raw)), Some(raw));
        assert_eq!(encode(&[0xff; RAW_LEN]), [b'_'; NONCE_LEN]);
        assert_eq!(encode(&[0; RAW_LEN]), [b'A'; NONCE_LEN]);
        assert_eq!(decode(&[b'+'; NONCE_LEN]), None);
    }
}
