//! [`Auth::authorize`] end to end on parsed messages: challenge, answer as
//! a user agent would, check; with a fixed key and a clock of our own.

use super::*;
use crate::sip::Limits;
use crate::sip::auth::Challenge;
use digest::{Hash, Qop, ha1, ha2, response};

const T0: u64 = 1_700_000_000;
const REALM: &str = "biloxi.com";

fn auth_with(params: Params) -> Auth {
    Auth::with_key(params, NonceKey::from_phrase(b"k"), 1 << 40, T0)
}

fn auth() -> Auth {
    auth_with(Params::default())
}

/// What a user agent answers to a challenge.
struct Answer<'a> {
    username: &'a str,
    realm: &'a str,
    password: &'a str,
    nonce: &'a str,
    method: &'a str,
    uri: &'a str,
    hash: Hash,
    /// `Some(nc)`: qop=auth with this nc.
    nc: Option<u32>,
}

impl Answer<'_> {
    fn value(&self) -> String {
        let h1 = ha1(
            self.hash,
            self.username.as_bytes(),
            self.realm.as_bytes(),
            self.password.as_bytes(),
        );
        let h2 = ha2(self.hash, self.method.as_bytes(), self.uri.as_bytes());
        let nc = self.nc.map(|n| format!("{n:08x}"));
        let qop = match &nc {
            Some(nc) => Qop::Auth {
                nc: nc.as_bytes(),
                cnonce: b"0a4f113b",
                qop: b"auth",
            },
            None => Qop::None,
        };
        let r = response(self.hash, &h1, self.nonce.as_bytes(), qop, &h2);
        let mut v = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", \
             algorithm={}",
            self.username,
            self.realm,
            self.nonce,
            self.uri,
            r.as_str(),
            self.hash.name()
        );
        if let Some(nc) = nc {
            v.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"0a4f113b\""));
        }
        v
    }
}

fn answer<'a>(nonce: &'a str, password: &'a str, nc: Option<u32>) -> Answer<'a> {
    Answer {
        username: "bob",
        realm: REALM,
        password,
        nonce,
        method: "REGISTER",
        uri: "sip:biloxi.com",
        hash: Hash::Md5,
        nc,
    }
}

/// A REGISTER (or `method`) with these extra header lines.
fn request(method: &str, extra: &[String]) -> Vec<u8> {
    let mut m = format!(
        "{method} sip:biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds7\r\n\
         From: <sip:bob@biloxi.com>;tag=456248\r\nTo: <sip:bob@biloxi.com>\r\n\
         Call-ID: 843817637684230@998sdasdh09\r\nCSeq: 1826 {method}\r\n"
    );
    for e in extra {
        m.push_str(e);
        m.push_str("\r\n");
    }
    m.push_str("Content-Length: 0\r\n\r\n");
    m.into_bytes()
}

fn with_auth(value: &str) -> Vec<u8> {
    request("REGISTER", &[format!("Authorization: {value}")])
}

fn req<'a, 'm>(msg: &'a SipMsg<'m>, now: u64) -> Request<'a, 'm> {
    Request {
        msg,
        kind: Kind::Www,
        realm: REALM.as_bytes(),
        method: None,
        table: b"subscriber",
        now,
    }
}

/// Bob with a plain password (`calculate_ha1`).
fn bob(_: &CredKey) -> Lookup {
    Lookup::Found(Arc::new(Stored::password(b"zanzibar")))
}

fn plain() -> Params {
    Params {
        calculate_ha1: true,
        ..Params::default()
    }
}

fn nonce_text(a: &Auth, now: u64) -> String {
    String::from_utf8(a.new_nonce(REALM.as_bytes(), now).to_vec()).unwrap()
}

#[test]
fn no_credentials_then_good_ones() {
    let a = auth_with(plain());
    let buf = request("REGISTER", &[]);
    let m = SipMsg::parse(&buf).unwrap();
    let out = a.authorize(&req(&m, T0), bob);
    assert_eq!(out, Outcome::NoCredentials);
    assert_eq!(out.kamailio_code(), Some(-5));
    assert_eq!(out.ser2_code(), Some(-1));
    assert!(!out.challenge_stale());

    let nonce = nonce_text(&a, T0);
    let buf = with_auth(&answer(&nonce, "zanzibar", Some(1)).value());
    let m = SipMsg::parse(&buf).unwrap();
    let out = a.authorize(&req(&m, T0 + 1), bob);
    let Outcome::Authorized(ok) = out else {
        panic!("{out:?}");
    };
    assert_eq!((ok.username, ok.realm), (&b"bob"[..], REALM.as_bytes()));
    assert_eq!((ok.user(), ok.domain()), (&b"bob"[..], None));
    // The span is the whole Authorization line, CRLF included.
    let line = ok.header.unwrap().get(&buf);
    assert!(line.starts_with(b"Authorization: Digest username=\"bob\""));
    assert!(line.ends_with(b"\"0a4f113b\"\r\n"));
    assert_eq!(out.code(Dialect::Kamailio), Some(1));
    assert_eq!(out.code(Dialect::Ser2), Some(1));
}

#[test]
fn wrong_password_unknown_user_store_error() {
    let a = auth_with(plain());
    let nonce = nonce_text(&a, T0);
    let buf = with_auth(&answer(&nonce, "zanzibaR", Some(1)).value());
    let m = SipMsg::parse(&buf).unwrap();
    let out = a.authorize(&req(&m, T0), bob);
    assert_eq!(out, Outcome::InvalidPassword);
    assert_eq!((out.kamailio_code(), out.ser2_code()), (Some(-2), Some(-1)));
    // A wrong password does not use up the nonce count: the right one
    // with the same nc passes.
    let buf = with_auth(&answer(&nonce, "zanzibar", Some(1)).value());
    let m = SipMsg::parse(&buf).unwrap();
    assert!(a.authorize(&req(&m, T0), bob).is_authorized());

    let buf = with_auth(&answer(&nonce, "zanzibar", Some(2)).value());
    let m = SipMsg::parse(&buf).unwrap();
    let out = a.authorize(&req(&m, T0), |_| Lookup::Unknown);
    assert_eq!(out, Outcome::UserUnknown);
    assert_eq!((out.kamailio_code(), out.ser2_code()), (Some(-3), Some(-1)));
    let out = a.authorize(&req(&m, T0), |_| Lookup::Error);
    assert_eq!(out, Outcome::StoreError);
    assert_eq!((out.kamailio_code(), out.ser2_code()), (Some(-1), Some(-2)));
}

#[test]
fn cache_miss_then_hit() {
    let a = auth_with(plain());
    let nonce = nonce_text(&a, T0);
    let buf = with_auth(&answer(&nonce, "zanzibar", Some(1)).value());
    let m = SipMsg::parse(&buf).unwrap();
    let (out, refresh) = a.authorize_cached(&req(&m, T0));
    let Outcome::NeedCredentials(key) = out else {
        panic!("{out:?}");
    };
    assert_eq!(refresh, None);
    assert_eq!(out_code_none(&Outcome::NeedCredentials(key.clone())), None);
    assert_eq!(
        (key.table(), key.user(), key.domain()),
        (&b"subscriber"[..], &b"bob"[..], &b""[..])
    );
    // The caller queries the store and fills the cache.
    a.cache()
        .insert(key, Some(Stored::password(b"zanzibar")), T0);
    let (out, refresh) = a.authorize_cached(&req(&m, T0 + 1));
    assert!(out.is_authorized(), "{out:?}");
    assert_eq!(refresh, None);
    // Later, the entry is stale: still used, and refreshed once.
    let buf = with_auth(&answer(&nonce, "zanzibar", Some(2)).value());
    let m = SipMsg::parse(&buf).unwrap();
    let ttl = a.cache().params().ttl;
    let (out, refresh) = a.authorize_cached(&req(&m, T0 + ttl));
    assert!(out.is_authorized(), "{out:?}");
    assert_eq!(refresh.map(|k| k.user().to_vec()), Some(b"bob".to_vec()));
    // A user the store does not know, remembered briefly.
    a.cache()
        .insert(CredKey::new(b"subscriber", b"bob", b""), None, T0 + ttl);
    let buf = with_auth(&answer(&nonce, "zanzibar", Some(3)).value());
    let m = SipMsg::parse(&buf).unwrap();
    assert_eq!(
        a.authorize_cached(&req(&m, T0 + ttl)).0,
        Outcome::UserUnknown
    );
    assert_eq!(a.cache().stats().negative_hits, 1);
}

fn out_code_none(o: &Outcome<'_>) -> Option<i32> {
    o.kamailio_code().or(o.ser2_code())
}

#[test]
fn forged_and_expired_nonces() {
    let a = auth_with(plain());
    // A nonce of another key, issued after this process started.
    let other = Auth::with_key(plain(), NonceKey::from_phrase(b"other"), 0, T0);
    let forged = nonce_text(&other, T0 + 5);
    let buf = with_auth(&answer(&forged, "zanzibar", Some(1)).value());
    let m = SipMsg::parse(&buf).unwrap();
    let mut asked = false;
    let out = a.authorize(&req(&m, T0 + 5), |k| {
        asked = true;
        bob(k)
    });
    assert_eq!(out, Outcome::InvalidNonce);
    assert!(!asked, "the store is not asked for a bad nonce");
    assert_eq!((out.kamailio_code(), out.ser2_code()), (Some(-1), Some(-1)));
    assert!(!out.challenge_stale());
    // Garbage.
    let buf = with_auth(&answer("dcd98b7102dd2f0e8b11d0f600bfb0c093", "zanzibar", None).value());
    let m = SipMsg::parse(&buf).unwrap();
    assert_eq!(a.authorize(&req(&m, T0), bob), Outcome::InvalidNonce);

    // Expired: stale, with the right password or not.
    let nonce = nonce_text(&a, T0);
    let late = T0 + u64::from(a.params().nonce_expire) + 1;
    for pw in ["zanzibar", "wrong"] {
        let buf = with_auth(&answer(&nonce, pw, Some(1)).value());
        let m = SipMsg::parse(&buf).unwrap();
        let out = a.authorize(&req(&m, late), bob);
        assert_eq!(out, Outcome::StaleNonce);
        assert_eq!((out.kamailio_code(), out.ser2_code()), (Some(-4), Some(-1)));
        assert!(out.challenge_stale());
    }
    // Issued for another realm: the credentials carry that realm, so they
    // are not ours; claiming our realm with it fails the signature.
    let foreign = String::from_utf8(a.new_nonce(b"atlanta.com", T0).to_vec()).unwrap();
    let buf = with_auth(&answer(&foreign, "zanzibar", Some(1)).value());
    let m = SipMsg::parse(&buf).unwrap();
    assert_eq!(a.authorize(&req(&m, T0), bob), Outcome::InvalidNonce);
}

#[test]
fn nc_replay_and_increase() {
    let a = auth_with(plain());
    let nonce = nonce_text(&a, T0);
    let one = with_auth(&answer(&nonce, "zanzibar", Some(1)).value());
    let m1 = SipMsg::parse(&one).unwrap();
    assert!(a.authorize(&req(&m1, T0), bob).is_authorized());
    // The same request again: a replay, answered as stale.
    let mut asked = false;
    let out = a.authorize(&req(&m1, T0), |k| {
        asked = true;
        bob(k)
    });
    assert_eq!(out, Outcome::StaleNonce);
    assert!(!asked, "a replay is refused before the store is asked");
    // Higher counts pass, in order.
    for nc in [2, 5, 6] {
        let buf = with_auth(&answer(&nonce, "zanzibar", Some(nc)).value());
        let m = SipMsg::parse(&buf).unwrap();
        assert!(a.authorize(&req(&m, T0), bob).is_authorized(), "nc {nc}");
    }
    let buf = with_auth(&answer(&nonce, "zanzibar", Some(4)).value());
    let m = SipMsg::parse(&buf).unwrap();
    assert_eq!(a.authorize(&req(&m, T0), bob), Outcome::StaleNonce);

    // With nonce_count off, replays pass (Kamailio's default).
    let a = auth_with(Params {
        nonce_count: false,
        ..plain()
    });
    let nonce = nonce_text(&a, T0);
    let buf = with_auth(&answer(&nonce, "zanzibar", Some(1)).value());
    let m = SipMsg::parse(&buf).unwrap();
    assert!(a.authorize(&req(&m, T0), bob).is_authorized());
    assert!(a.authorize(&req(&m, T0), bob).is_authorized());
}

#[test]
fn one_time_nonce_without_qop() {
    let a = auth_with(plain());
    let nonce = nonce_text(&a, T0);
    let buf = with_auth(&answer(&nonce, "zanzibar", None).value());
    let m = SipMsg::parse(&buf).unwrap();
    assert!(a.authorize(&req(&m, T0), bob).is_authorized());
    let out = a.authorize(&req(&m, T0), bob);
    assert_eq!(out, Outcome::NonceReused);
    assert_eq!((out.kamailio_code(), out.ser2_code()), (Some(-6), Some(-1)));
    assert!(out.challenge_stale());
    // Off: the nonce serves until it expires.
    let a = auth_with(Params {
        one_time_nonce: false,
        ..plain()
    });
    let nonce = nonce_text(&a, T0);
    let buf = with_auth(&answer(&nonce, "zanzibar", None).value());
    let m = SipMsg::parse(&buf).unwrap();
    for _ in 0..3 {
        assert!(a.authorize(&req(&m, T0), bob).is_authorized());
    }
}

#[test]
fn nonce_pushed_out_of_the_nc_table_is_stale() {
    let a = auth_with(Params {
        nc_array_order: 2,
        ..plain()
    });
    let nonce = nonce_text(&a, T0);
    for _ in 0..4 {
        a.new_nonce(REALM.as_bytes(), T0);
    }
    let buf = with_auth(&answer(&nonce, "zanzibar", Some(1)).value());
    let m = SipMsg::parse(&buf).unwrap();
    assert_eq!(a.authorize(&req(&m, T0), bob), Outcome::StaleNonce);
}

#[test]
fn stored_ha1_and_ha1b() {
    // calculate_ha1 = 0: the store holds HA1 strings.
    let a = auth();
    let h = ha1(Hash::Md5, b"bob", REALM.as_bytes(), b"zanzibar");
    let hb = ha1(Hash::Md5, b"bob@biloxi.com", REALM.as_bytes(), b"zanzibar");
    let stored = Arc::new(Stored {
        password: None,
        ha1: Some(h.as_bytes().to_ascii_uppercase().into()),
        ha1b: Some(hb.as_bytes().into()),
        uid: None,
    });
    let lookup = |_: &CredKey| Lookup::Found(Arc::clone(&stored));
    let nonce = nonce_text(&a, T0);
    let buf = with_auth(&answer(&nonce, "zanzibar", Some(1)).value());
    let m = SipMsg::parse(&buf).unwrap();
    assert!(a.authorize(&req(&m, T0), lookup).is_authorized());

    // The username with the domain: ha1b, and the key's user is `bob`.
    let ans = Answer {
        username: "bob@biloxi.com",
        ..answer(&nonce, "zanzibar", Some(2))
    };
    let buf = with_auth(&ans.value());
    let m = SipMsg::parse(&buf).unwrap();
    let mut seen = None;
    let out = a.authorize(&req(&m, T0), |k| {
        seen = Some(k.clone());
        lookup(k)
    });
    let Outcome::Authorized(ok) = out else {
        panic!("{out:?}");
    };
    assert_eq!(
        (ok.user(), ok.domain()),
        (&b"bob"[..], Some(&b"biloxi.com"[..]))
    );
    let seen = seen.unwrap();
    assert_eq!((seen.user(), seen.domain()), (&b"bob"[..], &b""[..]));

    // No ha1b stored: cannot be checked.
    let only_ha1 = Arc::new(Stored {
        ha1b: None,
        ..(*stored).clone()
    });
    let ans = Answer {
        username: "bob@biloxi.com",
        ..answer(&nonce, "zanzibar", Some(3))
    };
    let buf = with_auth(&ans.value());
    let m = SipMsg::parse(&buf).unwrap();
    let out = a.authorize(&req(&m, T0), |_| Lookup::Found(Arc::clone(&only_ha1)));
    assert_eq!(out, Outcome::Unverifiable);
    assert_eq!(out.kamailio_code(), Some(-1));
    // A plain password where HA1 is expected cannot be checked either.
    let out = a.authorize(&req(&m, T0), bob);
    assert_eq!(out, Outcome::Unverifiable);
}

#[test]
fn sha256() {
    let a = auth_with(Params {
        algorithm: Offer::Sha256AndMd5,
        ..plain()
    });
    // Two challenges, SHA-256 first, each with its own nonce.
    let text = a.challenge(Kind::Www, REALM.as_bytes(), QopOffer::Auth, false, T0);
    let text = String::from_utf8(text).unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 2);
    let mut nonces = Vec::new();
    for (line, alg) in lines.iter().zip(["SHA-256", "MD5"]) {
        let v = line.strip_prefix("WWW-Authenticate: ").unwrap();
        let c = Challenge::parse(v.as_bytes(), &Limits::DEFAULT).unwrap();
        assert_eq!(c.algorithm, Some(alg.as_bytes()));
        assert!(c.offers_qop(b"auth"));
        nonces.push(String::from_utf8(c.nonce.unwrap().to_vec()).unwrap());
    }
    assert_ne!(nonces[0], nonces[1]);
    let ans = Answer {
        hash: Hash::Sha256,
        ..answer(&nonces[0], "zanzibar", Some(1))
    };
    let buf = with_auth(&ans.value());
    let m = SipMsg::parse(&buf).unwrap();
    assert!(a.authorize(&req(&m, T0), bob).is_authorized());

    // A stored MD5 HA1 cannot check a SHA-256 response; a SHA-256 one can.
    let a = auth();
    let nonce = nonce_text(&a, T0);
    let ans = Answer {
        hash: Hash::Sha256,
        ..answer(&nonce, "zanzibar", Some(1))
    };
    let buf = with_auth(&ans.value());
    let m = SipMsg::parse(&buf).unwrap();
    let md5 = ha1(Hash::Md5, b"bob", REALM.as_bytes(), b"zanzibar");
    let out = a.authorize(&req(&m, T0), |_| {
        Lookup::Found(Arc::new(Stored {
            ha1: Some(md5.as_bytes().into()),
            ..Stored::default()
        }))
    });
    assert_eq!(out, Outcome::Unverifiable);
    let sha = ha1(Hash::Sha256, b"bob", REALM.as_bytes(), b"zanzibar");
    let out = a.authorize(&req(&m, T0), |_| {
        Lookup::Found(Arc::new(Stored {
            ha1: Some(sha.as_bytes().into()),
            ..Stored::default()
        }))
    });
    assert!(out.is_authorized(), "{out:?}");
}

#[test]
fn several_credentials_headers() {
    let a = auth_with(plain());
    let nonce = nonce_text(&a, T0);
    let ours = answer(&nonce, "zanzibar", Some(1)).value();
    let buf = request(
        "REGISTER",
        &[
            "Authorization: Digest username=\"x\", realm=\"atlanta.com\", nonce=\"n\", \
             uri=\"sip:a\", response=\"00000000000000000000000000000000\""
                .to_string(),
            "Authorization: Bearer abc.def".to_string(),
            format!("Authorization: {ours}"),
        ],
    );
    let m = SipMsg::parse(&buf).unwrap();
    let out = a.authorize(&req(&m, T0), bob);
    let Outcome::Authorized(ok) = out else {
        panic!("{out:?}");
    };
    let line = ok.header.unwrap().get(&buf);
    assert!(line.starts_with(format!("Authorization: {ours}").as_bytes()));
    assert!(has_credentials(&m, Kind::Www, b"ATLANTA.com"));
    assert!(!has_credentials(&m, Kind::Proxy, REALM.as_bytes()));

    // Only another realm's credentials: none for us.
    let buf = request(
        "REGISTER",
        &[
            "Authorization: Digest username=\"x\", realm=\"atlanta.com\", nonce=\"n\", \
           uri=\"sip:a\", response=\"00000000000000000000000000000000\""
                .to_string(),
        ],
    );
    let m = SipMsg::parse(&buf).unwrap();
    assert_eq!(a.authorize(&req(&m, T0), bob), Outcome::NoCredentials);
    // A broken header and none for us: bad request.
    let buf = request("REGISTER", &["Authorization: Digest realm=\"x".to_string()]);
    let m = SipMsg::parse(&buf).unwrap();
    let out = a.authorize(&req(&m, T0), bob);
    assert_eq!(out, Outcome::Malformed(Malformed::Unparsable));
    assert_eq!((out.kamailio_code(), out.ser2_code()), (Some(-1), Some(-3)));
    // Ours, but missing the response.
    let buf = with_auth(&format!(
        "Digest username=\"bob\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:biloxi.com\""
    ));
    let m = SipMsg::parse(&buf).unwrap();
    assert_eq!(
        a.authorize(&req(&m, T0), bob),
        Outcome::Malformed(Malformed::Missing)
    );
}

#[test]
fn proxy_credentials_and_exempt_methods() {
    let a = auth_with(plain());
    let nonce = nonce_text(&a, T0);
    let ans = Answer {
        method: "INVITE",
        ..answer(&nonce, "zanzibar", Some(1))
    };
    let buf = request("INVITE", &[format!("Proxy-Authorization: {}", ans.value())]);
    let m = SipMsg::parse(&buf).unwrap();
    let www = Request {
        kind: Kind::Www,
        ..req(&m, T0)
    };
    assert_eq!(a.authorize(&www, bob), Outcome::NoCredentials);
    let proxy = Request {
        kind: Kind::Proxy,
        ..req(&m, T0)
    };
    assert!(a.authorize(&proxy, bob).is_authorized());
    // The method argument replaces the request's (Kamailio's optional
    // third argument): then the response does not match.
    let buf = request(
        "INVITE",
        &[format!(
            "Proxy-Authorization: {}",
            Answer {
                method: "INVITE",
                ..answer(&nonce, "zanzibar", Some(2))
            }
            .value()
        )],
    );
    let m = SipMsg::parse(&buf).unwrap();
    let other = Request {
        kind: Kind::Proxy,
        method: Some(b"MESSAGE"),
        ..req(&m, T0)
    };
    assert_eq!(a.authorize(&other, bob), Outcome::InvalidPassword);

    for method in ["ACK", "CANCEL", "PRACK"] {
        let buf = request(method, &[]);
        let m = SipMsg::parse(&buf).unwrap();
        let out = a.authorize(&req(&m, T0), |_| panic!("no lookup for {method}"));
        assert_eq!(
            out,
            Outcome::Authorized(Authorized {
                header: None,
                username: b"",
                realm: b""
            })
        );
    }
    assert!(!is_challengeable(Method::Ack));
    assert!(is_challengeable(Method::Invite));
}

#[test]
fn realm_from_the_request_and_prefix() {
    let a = auth_with(Params {
        realm_prefix: b"sip.".to_vec().into(),
        use_domain: true,
        ..plain()
    });
    // Empty realm argument: the To host of a REGISTER. The challenge for
    // `sip.biloxi.com` says `biloxi.com`.
    let text = a.challenge(Kind::Www, b"sip.biloxi.com", QopOffer::None, true, T0);
    let text = String::from_utf8(text).unwrap();
    let head = "WWW-Authenticate: Digest realm=\"biloxi.com\", nonce=\"";
    assert!(text.starts_with(head), "{text}");
    assert!(text.ends_with("\", algorithm=MD5, stale=true\r\n"));
    let nonce = &text[head.len()..head.len() + NONCE_LEN];
    let buf = with_auth(&answer(nonce, "zanzibar", Some(1)).value());
    let m = SipMsg::parse(&buf).unwrap();
    let mut key = None;
    let out = a.authorize(
        &Request {
            realm: b"",
            ..req(&m, T0)
        },
        |k| {
            key = Some(k.clone());
            bob(k)
        },
    );
    assert!(out.is_authorized(), "{out:?}");
    // use_domain: looked up as bob in biloxi.com.
    let key = key.unwrap();
    assert_eq!(
        (key.user(), key.domain()),
        (&b"bob"[..], &b"biloxi.com"[..])
    );
    // The prefix is stripped from a realm argument too.
    let buf = with_auth(&answer(nonce, "zanzibar", Some(2)).value());
    let m = SipMsg::parse(&buf).unwrap();
    let out = a.authorize(
        &Request {
            realm: b"SIP.biloxi.com",
            ..req(&m, T0)
        },
        bob,
    );
    assert!(out.is_authorized(), "{out:?}");
    // No realm at all.
    let buf = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
        To: <sip:b@to.example>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n";
    let m = SipMsg::parse(buf).unwrap();
    let out = a.authorize(
        &Request {
            realm: b"",
            ..req(&m, T0)
        },
        bob,
    );
    assert_eq!(out, Outcome::NoRealm);
    assert_eq!((out.kamailio_code(), out.ser2_code()), (Some(-1), Some(-2)));
}

#[test]
fn digest_challenge_text() {
    let a = auth_with(Params {
        qop: QopOffer::Auth,
        ..Params::default()
    });
    let t = a.digest_challenge(Kind::Proxy, REALM.as_bytes(), false, T0);
    let t = String::from_utf8(t).unwrap();
    let head = "Proxy-Authenticate: Digest realm=\"biloxi.com\", nonce=\"";
    assert!(t.starts_with(head), "{t}");
    let nonce = &t[head.len()..head.len() + NONCE_LEN];
    assert_eq!(
        &t[head.len() + NONCE_LEN..],
        "\", qop=\"auth\", algorithm=MD5\r\n"
    );
    assert!(matches!(
        a.nonces().verify(nonce.as_bytes(), REALM.as_bytes(), T0),
        NonceCheck::Valid { .. }
    ));
}

#[test]
fn dialect_codes() {
    let all = [
        Outcome::NoCredentials,
        Outcome::Malformed(Malformed::BadResponse),
        Outcome::InvalidNonce,
        Outcome::StaleNonce,
        Outcome::NonceReused,
        Outcome::UserUnknown,
        Outcome::InvalidPassword,
        Outcome::Unverifiable,
        Outcome::StoreError,
        Outcome::NoRealm,
    ];
    for o in &all {
        let k = o.kamailio_code().unwrap();
        let s = o.ser2_code().unwrap();
        assert!(k < 0 && s < 0, "{o:?}");
        assert_eq!(o.code(Dialect::Kamailio), Some(k));
        assert_eq!(o.code(Dialect::Ser09), Some(k));
        assert_eq!(o.code(Dialect::Ser2), Some(s));
    }
    let need = Outcome::NeedCredentials(CredKey::new(b"t", b"u", b""));
    assert_eq!(need.code(Dialect::Kamailio), None);
}

fn program(text: &str) -> Program {
    let parsed = ser_cfg::parse_str("test.cfg", text, &[]).unwrap();
    ser_cfg::compile::compile(&parsed).unwrap()
}

#[test]
fn params_from_program() {
    let p = Params::from_program(&program("route { drop; }\n"));
    assert_eq!(p, Params::default());
    let p = Params::from_program(&program(
        "loadmodule \"sl\"\nloadmodule \"auth\"\nloadmodule \"auth_db\"\n\
         modparam(\"auth\", \"secret\", \"johndoessecretphrase\")\n\
         modparam(\"auth\", \"nonce_expire\", 600)\n\
         modparam(\"auth\", \"nonce_count\", 0)\n\
         modparam(\"auth\", \"one_time_nonce\", 0)\n\
         modparam(\"auth\", \"nc_array_size\", 1000000)\n\
         modparam(\"auth\", \"qop\", \"auth\")\n\
         modparam(\"auth\", \"algorithm\", \"SHA-256,MD5\")\n\
         modparam(\"auth\", \"realm_prefix\", \"sip.\")\n\
         modparam(\"auth_db\", \"calculate_ha1\", yes)\n\
         modparam(\"auth_db\", \"password_column\", \"password\")\n\
         modparam(\"auth_db\", \"use_domain\", 1)\n\
         route { drop; }\n",
    ));
    assert_eq!(p.secret.as_deref(), Some(&b"johndoessecretphrase"[..]));
    assert_eq!(p.nonce_expire, 600);
    assert!(!p.nonce_count && !p.one_time_nonce);
    assert_eq!(p.nc_array_order, 19);
    assert_eq!(p.qop, QopOffer::Auth);
    assert_eq!(p.algorithm, Offer::Sha256AndMd5);
    assert_eq!(&*p.realm_prefix, b"sip.");
    assert!(p.calculate_ha1 && p.use_domain);
    assert_eq!(p.secret_column(false), "password");
    assert_eq!(p.secret_column(true), "password");
    // Out of range values keep the defaults.
    let p = Params::from_program(&program(
        "loadmodule \"sl\"\nloadmodule \"auth\"\n\
         modparam(\"auth\", \"nonce_expire\", 0)\n\
         modparam(\"auth\", \"algorithm\", \"SHA-512\")\n\
         modparam(\"auth\", \"nc_array_order\", 99)\n\
         route { drop; }\n",
    ));
    assert_eq!(p.nonce_expire, 300);
    assert_eq!(p.algorithm, Offer::Md5);
    assert_eq!(p.nc_array_order, nc::MAX_ORDER);
    let d = Params::default();
    assert_eq!(d.secret_column(false), "ha1");
    assert_eq!(d.secret_column(true), "ha1b");
}

#[test]
fn params_of_the_seed_configs() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cfg/tests/seeds");
    let load = |name: &str, defines: &[&str]| {
        let defines: Vec<ser_cfg::Define> = defines
            .iter()
            .map(|d| ser_cfg::Define::from_arg(d))
            .collect();
        let s = ser_cfg::parse_file(&seeds.join(name), &defines).unwrap();
        Params::from_program(&ser_cfg::compile::compile(&s).unwrap())
    };
    // SER 0.9 "Getting Started": plain passwords in `password`.
    let p = load("mysql-auth.cfg", &[]);
    assert!(p.calculate_ha1);
    assert_eq!(p.secret_column(false), "password");
    // SER 2.0: plain passwords in `plain_password_column`.
    let p = load("ser-2.0-default.cfg", &[]);
    assert!(p.calculate_ha1);
    assert_eq!(p.secret_column(true), "password");
    // Kamailio 3.1 with auth.
    let p = load("kamailio-3.1-default.cfg", &["WITH_MYSQL", "WITH_AUTH"]);
    assert!(p.calculate_ha1);
    assert_eq!(p.secret_column(false), "password");
}

#[test]
fn split_usernames() {
    assert_eq!(split_username(b"bob"), (&b"bob"[..], None));
    assert_eq!(
        split_username(b"bob@biloxi.com"),
        (&b"bob"[..], Some(&b"biloxi.com"[..]))
    );
    assert_eq!(split_username(b"a@b@c"), (&b"a"[..], Some(&b"b@c"[..])));
    assert_eq!(split_username(b"@"), (&b""[..], Some(&b""[..])));
}

#[test]
fn hostile_credentials_never_panic() {
    let a = auth_with(plain());
    let nonce = nonce_text(&a, T0);
    let good = answer(&nonce, "zanzibar", Some(1)).value().into_bytes();
    let mut v = good.clone();
    for i in 0..v.len() {
        for b in [0u8, b' ', b',', b'"', b'=', b'@', b'\\', 0xff] {
            let old = v[i];
            v[i] = b;
            let mut buf = b"REGISTER sip:biloxi.com SIP/2.0\r\nAuthorization: ".to_vec();
            buf.extend_from_slice(&v);
            buf.extend_from_slice(b"\r\nTo: <sip:bob@biloxi.com>\r\n\r\n");
            if let Ok(m) = SipMsg::parse(&buf) {
                let _ = a.authorize(&req(&m, T0), bob);
                let _ = a.authorize(
                    &Request {
                        realm: b"",
                        ..req(&m, T0)
                    },
                    bob,
                );
            }
            v[i] = old;
        }
    }
    // Truncations.
    for n in 0..good.len() {
        let buf = with_auth(&String::from_utf8_lossy(&good[..n]));
        if let Ok(m) = SipMsg::parse(&buf) {
            let _ = a.authorize(&req(&m, T0), bob);
        }
    }
}

#[test]
fn ser2_credentials_are_keyed_by_realm_and_carry_the_uid() {
    let a = auth_with(plain());
    let nonce = nonce_text(&a, T0);
    let buf = with_auth(&answer(&nonce, "zanzibar", Some(1)).value());
    let m = SipMsg::parse(&buf).unwrap();
    let r = Request {
        table: b"credentials",
        ..req(&m, T0)
    };
    let (out, _, used) = a.authorize_cached_stored(&r);
    let Outcome::NeedCredentials(key) = out else {
        panic!("{out:?}");
    };
    assert!(used.is_none());
    // auth_username and realm, whatever use_domain says.
    assert_eq!(
        (key.table(), key.user(), key.domain()),
        (&b"credentials"[..], &b"bob"[..], REALM.as_bytes())
    );
    let stored = Stored {
        uid: Some(b"uid-bob"[..].into()),
        ..Stored::password(b"zanzibar")
    };
    a.cache().insert(key, Some(stored), T0);
    let r = Request {
        table: b"Credentials",
        ..req(&m, T0 + 1)
    };
    let (out, _, used) = a.authorize_cached_stored(&r);
    assert!(out.is_authorized(), "{out:?}");
    assert_eq!(
        used.and_then(|s| s.uid.clone()).as_deref(),
        Some(&b"uid-bob"[..])
    );
}
