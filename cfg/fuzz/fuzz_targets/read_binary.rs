//! Arbitrary bytes as a compiled config: refused or accepted, never a
//! panic; an accepted program holds together and writes back to the same
//! program. Inputs that do not start with the magic are also tried as a
//! payload behind a valid header (right length and checksum), so that the
//! decoder and the validator see them, not only the checksum.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ser_cfg::binary::{MAGIC, crc32, is_compiled, read, validate, write};
use ser_cfg::ir::FORMAT_VERSION;

fn check(bytes: &[u8]) {
    if let Ok(p) = read(bytes) {
        if let Err(e) = validate(&p) {
            panic!("read accepted an invalid program: {e}");
        }
        match read(&write(&p)) {
            Ok(back) => assert_eq!(back, p, "read(write(p)) != p"),
            Err(e) => panic!("a program read back does not read again: {e}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if !is_compiled(data) {
        let mut sealed = MAGIC.to_vec();
        sealed.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        sealed.extend_from_slice(&(data.len() as u64).to_le_bytes());
        sealed.extend_from_slice(&crc32(data).to_le_bytes());
        sealed.extend_from_slice(data);
        check(&sealed);
    }
});
