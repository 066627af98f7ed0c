//! Fuzz target: the BINRPC reader, as the control socket meets a client's
//! bytes (checks in `tests/src/binrpc_check.rs`, shared with the corpus
//! replay test).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ser_tests::binrpc_check::run(data);
});
