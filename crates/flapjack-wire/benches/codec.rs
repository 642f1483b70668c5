//! Codec benchmarks (filled in with the typed families).
fn main() {}
