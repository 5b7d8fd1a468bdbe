//! What L2 holds, sampled on L2 reads: the size of entries and their age, as the original
//! layer reported its store's age distribution.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

use crate::age::{AGE_BUCKET_COUNT, bucket_of, label};

/// Upper bounds of the size buckets, in bytes, with their labels; larger goes to ">=1MiB".
const SIZE_BUCKETS: [(u64, &str); 7] = [
    (256, "<256B"),
    (1_024, "<1KiB"),
    (4_096, "<4KiB"),
    (16_384, "<16KiB"),
    (65_536, "<64KiB"),
    (262_144, "<256KiB"),
    (1_048_576, "<1MiB"),
];

/// One bucket of the size distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SizeBucket {
    /// "<256B", "<1KiB", "<4KiB", "<16KiB", "<64KiB", "<256KiB", "<1MiB" or ">=1MiB".
    pub size: &'static str,
    /// Entries of that size read from L2.
    pub entries: u64,
}

/// One bucket of the age distribution of the entries L2 holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StoredAgeBucket {
    /// "<1m", "<5m", "<15m", "<1h", "<6h", "<24h" or "older".
    pub age: &'static str,
    /// Entries of that age read from L2.
    pub entries: u64,
}

/// Entry sizes and ages, read from L2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[non_exhaustive]
pub struct EntrySample {
    /// Entries read from L2 (fresh or stale) since start.
    pub entries: u64,
    /// Their mean size in bytes (decoded: what the value holds in L1).
    pub mean_bytes: u64,
    /// Their sizes.
    pub sizes: Vec<SizeBucket>,
    /// Their age when read (time since written): how old what L2 holds is, beside
    /// `age_at_hit`, how old what was served is.
    pub age_in_l2: Vec<StoredAgeBucket>,
}

impl EntrySample {
    pub(crate) fn accumulate(&mut self, other: &EntrySample) {
        if self.sizes.is_empty() {
            *self = other.clone();
            return;
        }
        let bytes = self.mean_bytes * self.entries + other.mean_bytes * other.entries;
        self.entries += other.entries;
        self.mean_bytes = bytes.checked_div(self.entries).unwrap_or(0);
        for (a, b) in self.sizes.iter_mut().zip(&other.sizes) {
            a.entries += b.entries;
        }
        for (a, b) in self.age_in_l2.iter_mut().zip(&other.age_in_l2) {
            a.entries += b.entries;
        }
    }
}

/// Stripes of [`EntryCounters`]: every L2 read records its entry, and the reads of different
/// threads count on different cache lines instead of taking one in turns.
const STRIPES: usize = 4;

/// The counters behind [`EntrySample`], striped by thread (summed when read).
#[derive(Debug, Default)]
pub(crate) struct EntryCounters {
    stripes: [Stripe; STRIPES],
}

/// One thread's share of the counters, alone on its cache lines.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Stripe {
    sizes: [AtomicU64; SIZE_BUCKETS.len() + 1],
    ages: [AtomicU64; AGE_BUCKET_COUNT],
    bytes: AtomicU64,
}

/// The calling thread's stripe (threads numbered in the order they first record).
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.try_with(|s| *s).unwrap_or(0)
}

impl EntryCounters {
    pub(crate) fn record(&self, size: u64, age_ms: u64) {
        let s = &self.stripes[stripe()];
        let i = SIZE_BUCKETS.partition_point(|(b, _)| *b <= size);
        s.sizes[i].fetch_add(1, Ordering::Relaxed);
        s.ages[bucket_of(age_ms)].fetch_add(1, Ordering::Relaxed);
        s.bytes.fetch_add(size, Ordering::Relaxed);
    }

    /// The sum over the stripes of the counter `of` picks.
    fn sum(&self, of: impl Fn(&Stripe) -> &AtomicU64) -> u64 {
        self.stripes
            .iter()
            .map(|s| of(s).load(Ordering::Relaxed))
            .sum()
    }

    /// Mean size of the entries read, if any.
    pub(crate) fn mean_bytes(&self) -> Option<u64> {
        let n: u64 = (0..=SIZE_BUCKETS.len())
            .map(|i| self.sum(|s| &s.sizes[i]))
            .sum();
        self.sum(|s| &s.bytes).checked_div(n)
    }

    pub(crate) fn snapshot(&self) -> EntrySample {
        let sizes: Vec<SizeBucket> = (0..=SIZE_BUCKETS.len())
            .map(|i| SizeBucket {
                size: SIZE_BUCKETS.get(i).map_or(">=1MiB", |(_, l)| l),
                entries: self.sum(|s| &s.sizes[i]),
            })
            .collect();
        let entries = sizes.iter().map(|b| b.entries).sum();
        EntrySample {
            entries,
            mean_bytes: self.mean_bytes().unwrap_or(0),
            sizes,
            age_in_l2: (0..AGE_BUCKET_COUNT)
                .map(|i| StoredAgeBucket {
                    age: label(i),
                    entries: self.sum(|s| &s.ages[i]),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_land_in_their_buckets() {
        let c = EntryCounters::default();
        c.record(100, 0);
        c.record(300, 120_000);
        c.record(2_000_000, 100_000_000);
        let s = c.snapshot();
        assert_eq!(s.entries, 3);
        assert_eq!(s.mean_bytes, (100 + 300 + 2_000_000) / 3);
        let by = |l: &str| s.sizes.iter().find(|b| b.size == l).unwrap().entries;
        assert_eq!((by("<256B"), by("<1KiB"), by(">=1MiB")), (1, 1, 1));
        let age = |l: &str| s.age_in_l2.iter().find(|b| b.age == l).unwrap().entries;
        assert_eq!((age("<1m"), age("<5m"), age("older")), (1, 1, 1));
    }
}
