//! Version and build-feature strings (`ser -V`). STUB: being written.
