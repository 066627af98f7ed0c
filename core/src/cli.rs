//! The `ser` command line. STUB: being written.
