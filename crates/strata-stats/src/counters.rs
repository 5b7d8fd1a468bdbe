//! The counters of one kind, striped by thread ([`Striped`]): a hit, a miss or a load counts
//! on the calling thread's cache lines, and [`KindStats`](crate::KindStats) sums the stripes
//! when read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::age::{AGE_BUCKET_COUNT, bucket_of};
use crate::histogram::{Counts, Histogram};
use crate::stripe::Striped;

/// One thread's share of a kind's counters (tiered ones indexed by [`Tier::index`](crate::Tier)).
#[derive(Debug, Default)]
pub(crate) struct Shard {
    pub(crate) hits: [AtomicU64; 2],
    pub(crate) misses: [AtomicU64; 2],
    pub(crate) evictions: [AtomicU64; 2],
    pub(crate) latency: [Histogram; 2],
    /// Hits by the age of the value served.
    ages: [AtomicU64; AGE_BUCKET_COUNT],
    /// Requests no tier answered.
    pub(crate) missed: AtomicU64,
    pub(crate) stale_hits: AtomicU64,
    pub(crate) loads: AtomicU64,
    pub(crate) load_errors: AtomicU64,
    pub(crate) refreshes: AtomicU64,
    pub(crate) refresh_errors: AtomicU64,
    pub(crate) sets: AtomicU64,
    pub(crate) deletes: AtomicU64,
    pub(crate) load_latency: Histogram,
}

/// Adds `n` to `counter` (a counter of the calling thread's stripe).
#[inline]
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Shard {
    /// A hit in the tier numbered `tier` on a value `age_ms` old.
    #[inline]
    pub(crate) fn hit(&self, tier: usize, age_ms: u64) {
        add(&self.hits[tier], 1);
        add(&self.ages[bucket_of(age_ms)], 1);
    }

    /// A load that took `latency`.
    pub(crate) fn load(&self, ok: bool, latency: Duration) {
        add(&self.loads, 1);
        self.load_latency.record(latency);
        if !ok {
            add(&self.load_errors, 1);
        }
    }
}

/// The striped counters of a kind.
pub(crate) type Counters = Striped<Shard>;

/// The hits of every stripe by age bucket.
pub(crate) fn ages(c: &Counters) -> [u64; AGE_BUCKET_COUNT] {
    std::array::from_fn(|i| c.sum(|s| &s.ages[i]))
}

/// The samples of the histogram `of` picks, summed over the stripes.
pub(crate) fn latency(c: &Counters, of: impl Fn(&Shard) -> &Histogram) -> Counts {
    let mut sum = Counts::default();
    for s in c.iter() {
        sum.add(&of(s).counts());
    }
    sum
}
