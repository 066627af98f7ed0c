//! Shared helpers for the benchmarks (sample messages).
