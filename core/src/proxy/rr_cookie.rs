//! SER 2.x dialog cookies: AVPs that ride in our Record-Route and come
//! back with the in-dialog requests.
//!
//! A config declares `avpflags dialog_cookie;` and marks AVPs with
//! `setavpflag($account, "dialog_cookie")`. `record_route()` (and
//! `record_route_preset()`) then add `;avp=COOKIE` to our Record-Route,
//! carrying every AVP with that flag whose name matches
//! `modparam("rr", "cookie_filter", "regex")` (all of them without a
//! filter). When an in-dialog request comes back, `loose_route()` finds
//! the cookie in the Route entry of ours it consumes and restores the AVPs
//! (with their flags, so a `record_route()` after `loose_route()` carries
//! them on), before the script reads them (`if ($account == "yes")`).
//!
//! The cookie is `hex(payload || mac)`, the MAC the first 10 bytes of
//! HMAC-SHA-256 over the payload with the key
//! `modparam("rr", "cookie_secret", "...")`. Without a secret a random
//! one is drawn at start: cookies then do not survive a restart, and
//! routers that share dialogs must share the secret. A cookie that does
//! not verify or parse is ignored (logged): user agents see it but cannot
//! forge it. The payload holds, per AVP, its class, track, name and value
//! (type-tagged, lengths as 2 bytes); it is bounded by [`MAX_PAYLOAD`]
//! bytes, AVPs that do not fit are left out with a log line.
//!
//! SER 2.0 encodes its cookies differently (its own base64 serialisation):
//! a cookie written by SER is not read here, and the other way round. Only
//! the same router reads its cookies, so this matters only while a SER
//! and a ser share dialogs.

use hmac::{Hmac, KeyInit, Mac};
use regex::bytes::Regex;
use sha2::Sha256;

use crate::script::Value;
use crate::script::ctx::{AvpClass, AvpItem, AvpName, AvpTrackSide};

/// The flag name the rr module looks for.
pub const FLAG_NAME: &str = "dialog_cookie";

/// Largest payload a cookie carries (before hex).
pub const MAX_PAYLOAD: usize = 512;

const MAC_LEN: usize = 10;

/// The rr module's cookie settings, set up at start when the config
/// declares the `dialog_cookie` AVP flag.
#[derive(Clone, Debug)]
pub struct Cookies {
    /// The mask of the `dialog_cookie` flag.
    pub mask: u32,
    /// `cookie_filter`: which AVP names go into the cookie.
    pub filter: Option<Regex>,
    /// `avp_cookie_name`: the Record-Route parameter (`avp`).
    pub param_name: String,
    /// HMAC-SHA-256 keyed with the secret, cloned for each use.
    keyed: Hmac<Sha256>,
}

impl Cookies {
    /// `bit`: the `dialog_cookie` flag's bit; `secret`: `cookie_secret`,
    /// or `None` for a random key.
    pub fn new(bit: u32, filter: Option<Regex>, secret: Option<&[u8]>) -> std::io::Result<Cookies> {
        let key = match secret {
            Some(s) => s.to_vec(),
            None => {
                let mut k = vec![0u8; 32];
                crate::auth::nonce::fill_random(&mut k)?;
                k
            }
        };
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&key)
            .map_err(|_| std::io::Error::other("the cookie secret is not a usable key"))?;
        Ok(Cookies {
            mask: 1u32.checked_shl(bit).unwrap_or(0),
            filter,
            param_name: "avp".into(),
            keyed,
        })
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut m = self.keyed.clone();
        m.update(payload);
        m
    }

    /// The `;avp=` value for these AVPs (those the filter keeps), or `None`
    /// when none is kept. The second value counts the AVPs left out because
    /// the cookie was full.
    pub fn encode<'a>(&self, avps: impl Iterator<Item = AvpItem> + 'a) -> (Option<String>, usize) {
        let mut payload = Vec::new();
        let mut left_out = 0;
        for a in avps {
            let name_ok = match (&self.filter, &a.name) {
                (None, _) => true,
                (Some(re), AvpName::Str(n)) => re.is_match(n),
                (Some(re), AvpName::Int(n)) => re.is_match(n.to_string().as_bytes()),
            };
            if !name_ok {
                continue;
            }
            let mut one = Vec::new();
            push_item(&mut one, &a);
            if payload.len() + one.len() > MAX_PAYLOAD {
                left_out += 1;
                continue;
            }
            payload.extend_from_slice(&one);
        }
        if payload.is_empty() {
            return (None, left_out);
        }
        let tag = self.mac(&payload).finalize().into_bytes();
        let mut text = String::with_capacity(2 * (payload.len() + MAC_LEN));
        for b in payload.iter().chain(tag.iter().take(MAC_LEN)) {
            text.push(HEX[usize::from(b >> 4)] as char);
            text.push(HEX[usize::from(b & 15)] as char);
        }
        (Some(text), left_out)
    }

    /// The AVPs of a cookie, or why it is refused.
    pub fn decode(&self, text: &[u8]) -> Result<Vec<AvpItem>, &'static str> {
        if !text.len().is_multiple_of(2) || text.len() > 2 * (MAX_PAYLOAD + MAC_LEN) {
            return Err("bad length");
        }
        let bytes: Option<Vec<u8>> = text
            .chunks_exact(2)
            .map(|p| Some(unhex(*p.first()?)? << 4 | unhex(*p.get(1)?)?))
            .collect();
        let bytes = bytes.ok_or("not hex")?;
        let split = bytes.len().checked_sub(MAC_LEN).ok_or("too short")?;
        let (payload, tag) = bytes.split_at(split);
        self.mac(payload)
            .verify_truncated_left(tag)
            .map_err(|_| "signature does not verify")?;
        let mut r = Reader(payload);
        let mut out = Vec::new();
        while !r.0.is_empty() {
            out.push(r.item().ok_or("malformed")?);
        }
        Ok(out)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn unhex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn push_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let n = u16::try_from(b.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(b.get(..usize::from(n)).unwrap_or(b));
}

fn push_item(out: &mut Vec<u8>, a: &AvpItem) {
    out.push(match a.class {
        AvpClass::Uri => b'r',
        AvpClass::User => b'u',
        AvpClass::Domain => b'd',
        AvpClass::Global => b'g',
    });
    out.push(match a.track {
        AvpTrackSide::From => b'f',
        AvpTrackSide::To => b't',
    });
    out.extend_from_slice(&a.flags.to_be_bytes());
    match &a.name {
        AvpName::Int(n) => {
            out.push(b'i');
            out.extend_from_slice(&n.to_be_bytes());
        }
        AvpName::Str(s) => {
            out.push(b's');
            push_bytes(out, s);
        }
    }
    match &a.value {
        Value::Int(n) => {
            out.push(b'i');
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::Str(s) => {
            out.push(b's');
            push_bytes(out, s);
        }
        Value::Null => out.push(b'n'),
    }
}

/// Reads what [`push_item`] wrote; `None` on anything else.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn int(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = u16::from_be_bytes(self.take(2)?.try_into().ok()?);
        self.take(usize::from(n)).map(<[u8]>::to_vec)
    }
    fn item(&mut self) -> Option<AvpItem> {
        let class = match self.byte()? {
            b'r' => AvpClass::Uri,
            b'u' => AvpClass::User,
            b'd' => AvpClass::Domain,
            b'g' => AvpClass::Global,
            _ => return None,
        };
        let track = match self.byte()? {
            b'f' => AvpTrackSide::From,
            b't' => AvpTrackSide::To,
            _ => return None,
        };
        let flags = u32::from_be_bytes(self.take(4)?.try_into().ok()?);
        let name = match self.byte()? {
            b'i' => AvpName::Int(self.int()?),
            b's' => AvpName::Str(self.bytes()?.into()),
            _ => return None,
        };
        let value = match self.byte()? {
            b'i' => Value::Int(self.int()?),
            b's' => Value::owned(self.bytes()?),
            b'n' => Value::Null,
            _ => return None,
        };
        Some(AvpItem {
            class,
            track,
            name,
            value,
            flags,
        })
    }
}

/// The value of the parameter `want` in URI parameters as `params_of`
/// gives them (`;lr;ftag=x;avp=...`).
pub fn param<'a>(params: &'a [u8], want: &str) -> Option<&'a [u8]> {
    params.split(|&b| b == b';').find_map(|p| {
        let (name, value) = p.split_at(p.iter().position(|&b| b == b'=')?);
        name.eq_ignore_ascii_case(want.as_bytes())
            .then(|| value.get(1..))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, value: Value<'static>) -> AvpItem {
        AvpItem {
            class: AvpClass::Uri,
            track: AvpTrackSide::From,
            name: AvpName::Str(name.as_bytes().into()),
            value,
            flags: 1,
        }
    }

    #[test]
    fn round_trip_filter_and_forgery() {
        let c = Cookies::new(0, Some(Regex::new("^(account|n)$").unwrap()), Some(b"k")).unwrap();
        let avps = vec![
            item("account", Value::text("yes")),
            item("other", Value::text("dropped")),
            item("n", Value::Int(-7)),
        ];
        let (text, left) = c.encode(avps.clone().into_iter());
        let text = text.unwrap();
        assert_eq!(left, 0);
        let back = c.decode(text.as_bytes()).unwrap();
        assert_eq!(back, vec![avps[0].clone(), avps[2].clone()]);

        // Another secret, a flipped byte, junk: refused.
        let other = Cookies::new(0, None, Some(b"other")).unwrap();
        assert_eq!(
            other.decode(text.as_bytes()),
            Err("signature does not verify")
        );
        let mut t = text.clone().into_bytes();
        t[3] = if t[3] == b'0' { b'1' } else { b'0' };
        assert!(c.decode(&t).is_err());
        assert!(c.decode(b"zz").is_err());
        assert!(c.decode(b"").is_err());
    }

    #[test]
    fn nothing_flagged_no_cookie_and_bound() {
        let c = Cookies::new(3, None, None).unwrap();
        assert_eq!(c.mask, 8);
        assert_eq!(c.encode(std::iter::empty()).0, None);
        let big = item("big", Value::owned(vec![b'x'; 400]));
        let (text, left) = c.encode(vec![big.clone(), big].into_iter());
        assert_eq!(left, 1);
        assert_eq!(c.decode(text.unwrap().as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn param_is_found() {
        assert_eq!(param(b";lr;ftag=a;avp=00ff", "avp"), Some(&b"00ff"[..]));
        assert_eq!(param(b";lr;ftag=a", "avp"), None);
        assert_eq!(param(b";AVP=1", "avp"), Some(&b"1"[..]));
        assert_eq!(param(b";lr;c=1", "c"), Some(&b"1"[..]));
    }
}
