//! Fuzz target: the URI parser and RFC 3261 19.1.4 comparison. The input is
//! split at the first NUL into two URIs. Parsing must never panic, and
//! comparison must be reflexive and symmetric.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ser_core::sip::{Limits, NameAddr, Uri};

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|&c| c == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let l = Limits::DEFAULT;
    let ua = Uri::parse(a, &l);
    let ub = Uri::parse(b, &l);
    if let Ok(ua) = &ua {
        assert!(ua.equals(ua), "not reflexive");
        if let Ok(ub) = &ub {
            assert_eq!(ua.equals(ub), ub.equals(ua), "not symmetric");
        }
    }
    let _ = NameAddr::parse(a, &l);
    let _ = ser_core::sip::uri::unescape(a);
});
