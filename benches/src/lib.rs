//! Realistic payloads shared by the benchmarks.
