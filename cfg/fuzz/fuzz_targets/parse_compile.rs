//! Arbitrary bytes through the preprocessor, the parser and the compiler,
//! then the binary form: a config may be refused, but nothing may panic or
//! hang, every compiled program holds together, and it reads back equal.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ser_cfg::binary::{read, validate, write};
use ser_cfg::compile::{compile, disassemble};
use ser_cfg::{ParseOptions, parse_bytes};

fuzz_target!(|data: &[u8]| {
    let opts = ParseOptions::default();
    let Ok(script) = parse_bytes(Path::new("fuzz.cfg"), data, &opts) else {
        return;
    };
    let Ok(program) = compile(&script) else {
        return;
    };
    if let Err(e) = validate(&program) {
        panic!("the compiler produced an invalid program: {e}");
    }
    let bytes = write(&program);
    match read(&bytes) {
        Ok(back) => assert_eq!(back, program, "read(write(p)) != p"),
        Err(e) => panic!("a written program does not read back: {e}"),
    }
    let _ = disassemble(&program);
});
