//! Pure, synchronous eviction policies (LRU, Random, TTL) under entry and byte limits.
//!
//! No I/O and no async: an [`Evictor`] tracks keys with their sizes and expiries, and on each
//! insert says which keys must go so that the [`Limits`] hold. The memory backend uses it
//! directly; the Redis quota scripts mirror the same rules so both backends evict alike.
//!
//! # Usage
//!
//! ```
//! use strata_eviction::{EvictionPolicy, Evictor, Limits};
//!
//! let limits = Limits::default().with_max_entries(1000).with_max_bytes(1 << 20);
//! let mut ttl = Evictor::new(EvictionPolicy::Ttl, limits.with_max_entries(2));
//! ttl.insert("soon", 100, Some(5_000))?;
//! ttl.insert("later", 100, Some(60_000))?;
//! // The entry with the shortest remaining TTL goes first.
//! assert_eq!(ttl.insert("new", 100, Some(30_000))?, vec!["soon"]);
//! # Ok::<(), strata_eviction::EvictionError>(())
//! ```
//!
//! # Feature flags
//!
//! None.

mod evictor;
mod limits;
mod policy;

pub use evictor::{EvictionError, Evictor};
pub use limits::Limits;
pub use policy::{EvictionPolicy, UnknownPolicy};
