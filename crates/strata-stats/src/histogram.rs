//! A fixed-bucket latency histogram on atomics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// Bucket upper bounds in microseconds; the last bucket is unbounded.
const BOUNDS_US: [u64; 16] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
    1_000_000, 5_000_000,
];

/// Counts of durations per bucket, lock-free.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    pub(crate) fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US.partition_point(|b| *b < us);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The bucket counts and the sum, read now.
    pub(crate) fn counts(&self) -> Counts {
        Counts {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

/// A histogram's counts, read once: summed across kinds for the totals, then summarized.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    buckets: [u64; BOUNDS_US.len() + 1],
    sum_us: u64,
}

impl Counts {
    /// Adds `other`'s samples to these.
    pub(crate) fn add(&mut self, other: &Counts) {
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }

    /// Count, mean and quantiles of these samples.
    pub(crate) fn summary(&self) -> LatencySnapshot {
        let counts = &self.buckets;
        let count: u64 = counts.iter().sum();
        let quantile = |q: f64| -> Option<u64> {
            if count == 0 {
                return None;
            }
            let rank = ((count as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return Some(BOUNDS_US.get(i).copied().unwrap_or(u64::MAX));
                }
            }
            None
        };
        let sum = self.sum_us;
        LatencySnapshot {
            count,
            mean_us: (sum + count / 2).checked_div(count).unwrap_or(0),
            p50_us_le: quantile(0.5),
            p99_us_le: quantile(0.99),
        }
    }
}

/// A latency summary: count, mean, and bucket upper bounds of the median and 99th percentile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
#[non_exhaustive]
pub struct LatencySnapshot {
    /// Number of recorded durations.
    pub count: u64,
    /// Mean in whole microseconds (rounded to the nearest).
    pub mean_us: u64,
    /// The median is at most this many microseconds (`None` when empty).
    pub p50_us_le: Option<u64>,
    /// The 99th percentile is at most this many microseconds.
    pub p99_us_le: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_buckets() {
        let h = Histogram::default();
        for _ in 0..98 {
            h.record(Duration::from_micros(40));
        }
        h.record(Duration::from_millis(3));
        h.record(Duration::from_millis(3));
        let s = h.counts().summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_us_le, Some(50));
        assert_eq!(s.p99_us_le, Some(5_000));
        assert_eq!(s.mean_us, 99, "(98 * 40 + 2 * 3000) / 100 = 99.2");
        assert_eq!(Histogram::default().counts().summary().p50_us_le, None);
    }
}
