//! The in-process tier of Strata: decoded values on quick_cache, bounded by the bytes its values hold and by
//! entries, with per-entry expiry.
//!
//! [`L1`] holds `Arc`s of decoded values, so a hit does no decoding and no copying; reads are
//! type-checked ([`L1Entry::downcast`]). One weigher bounds both memory and count: each entry
//! weighs what its decoded value holds (the envelope with its payload uncompressed, `strata_codec::decoded_size`) but at least `max_bytes / max_entries`, under a capacity of
//! `max_bytes`. Entries expire at their backend expiry or after [`L1Config::max_lifetime`]
//! (default 60 s), whichever is sooner, so instances converge even without an invalidation bus.
//!
//! The store is quick_cache (S3-FIFO eviction), chosen over moka for the hit's cost: a hit is
//! one shard read lock, one hash and one read of the kernel's coarse monotonic clock
//! (docs/benchmarks.md, "L1 hit").
//!
//! # Usage
//!
//! See [`L1`].
//!
//! # Feature flags
//!
//! None.

mod config;
mod entry;
mod tier;

pub use config::L1Config;
pub use entry::L1Entry;
pub use tier::{EvictionHook, L1, L1Usage};
