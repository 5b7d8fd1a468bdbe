//! Statistics for Strata: counters and histograms per kind and tier, serializable snapshots,
//! and emission through the `metrics` crate.
//!
//! [`Stats`] hands out one [`KindStats`] per kind (hits and misses per tier, stale hits, loads,
//! load errors, sets, deletes, evictions, errors by kind, latency histograms for L1, L2 and the
//! loader, and the age of served values), and, with analytics on ([`AnalyticsConfig`]), each
//! tier's misses by cause, the sizes and ages of the entries read from L2, the loader time the
//! hits saved, and an online estimate of L1's LRU miss-ratio curve ([`mrc`], SHARDS).
//! [`Stats::snapshot`] returns a serde-serializable
//! [`StatsSnapshot`]. With emission on, every event also goes to the global `metrics` recorder
//! (Prometheus or any other), labelled by `kind` and `tier`; install the recorder before the
//! cache is built.
//!
//! # Usage
//!
//! ```
//! use std::time::Duration;
//! use strata_stats::{Stats, Tier};
//!
//! let stats = Stats::new(false);
//! let users = stats.kind("user");
//! users.tier_miss(Tier::L1, Duration::from_micros(2));
//! users.hit(Tier::L2, 30_000, Duration::from_micros(300));
//! let snap = stats.snapshot();
//! assert_eq!(snap.kinds["user"].hits, 1);
//! assert_eq!(snap.kinds["user"].l1.misses, 1);
//! assert_eq!(snap.totals.l2.hits, 1);
//! ```
//!
//! # Feature flags
//!
//! None.

mod age;
mod analytics;
mod causes;
mod counters;
mod emit;
mod histogram;
mod hot;
mod kind;
mod kind_analytics;
pub mod mrc;
mod publish;
mod sizes;
mod stats;
mod stripe;
mod tier;

pub use age::AgeBucket;
pub use analytics::{AnalyticsConfig, CurvePoint, MissRatioCurve};
pub use causes::{MissCause, MissCauses};
pub use histogram::LatencySnapshot;
pub use hot::{HotKey, HotKeys, HotKeysConfig};
pub use kind::{HOT_KEYS_REPORTED, KindSnapshot, KindStats, Tier, TierCauses, TierSnapshot};
pub use sizes::{EntrySample, SizeBucket, StoredAgeBucket};
pub use stats::{Stats, StatsSnapshot};
