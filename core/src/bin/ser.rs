//! The `ser` binary. STUB: being written.
fn main() {}
