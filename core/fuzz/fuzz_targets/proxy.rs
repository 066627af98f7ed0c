//! Fuzz target: the stateless proxy on any datagram (see
//! `tests/src/proxy_check.rs`: no panic, and every message built parses
//! again).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ser_tests::proxy_check::run(data));
