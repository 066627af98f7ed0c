//! Fuzz target: the transaction layer on a sequence of datagrams and timer
//! fires (see `tests/src/tm_check.rs`: no panic, every message sent
//! parses again, no transaction left once every timer fired).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ser_tests::tm_check::run(data));
