//! The SHARDS miss-ratio curve of `strata_stats::mrc` against the exact LRU of [`crate::sim`]:
//! the same trace through both, the hit ratio at 0.25x to 4x a budget from each.

use strata_eviction::EvictionPolicy;
use strata_stats::mrc::{Shards, sample_hash};

use crate::sim::{Trace, hits_with};

/// The sizes checked, as multiples of the budget.
pub const MULTIPLES: [f64; 5] = [0.25, 0.5, 1.0, 2.0, 4.0];

/// One size of the check.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    /// Multiple of the budget.
    pub multiple: f64,
    /// Entries.
    pub entries: u64,
    /// The exact LRU hit ratio (the simulator's LRU).
    pub exact: f64,
    /// The SHARDS estimate (with the SHARDS_adj correction).
    pub estimate: f64,
    /// The SHARDS estimate without the correction.
    pub unadjusted: f64,
}

impl Point {
    /// |estimate - exact| in percentage points.
    pub fn error_points(&self) -> f64 {
        (self.estimate - self.exact).abs() * 100.0
    }
}

/// Runs `trace` through SHARDS (keys named as the cache names them, `kind:id`, sampled by
/// their hash; at most `sample_keys` keys, starting at `rate`) and through the exact LRU at
/// each multiple of `budget`.
pub fn check(trace: &Trace, budget: u64, sample_keys: usize, rate: f64) -> (Vec<Point>, f64) {
    let mut shards: Shards = Shards::new(sample_keys, rate);
    let mut cache = std::collections::HashMap::new();
    for &k in &trace.requests {
        let h = *cache
            .entry(k)
            .or_insert_with(|| sample_hash(&format!("app:v1:user:{k}")));
        shards.access(h);
    }
    let n = trace.requests.len() as f64;
    let points = MULTIPLES
        .iter()
        .map(|&m| {
            let entries = ((budget as f64) * m).round() as u64;
            Point {
                multiple: m,
                entries,
                exact: hits_with(EvictionPolicy::Lru, entries, trace, 7) as f64 / n,
                estimate: shards
                    .hit_ratio_adjusted(entries as f64, trace.requests.len() as u64)
                    .unwrap_or(0.0),
                unadjusted: shards.hit_ratio(entries as f64).unwrap_or(0.0),
            }
        })
        .collect();
    (points, shards.rate())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::zipf;

    /// The CI check (bound documented in docs/monitoring.md): Zipf 0.9 over 100,000 keys,
    /// 300,000 requests, a budget of 10,000 entries, the default sample (8,192 keys, rate
    /// 0.1), on five seeds: every size within 4 points, and the mean error over the 25 sizes
    /// within 1.5 points. (At this length the rate stays 0.1; the error is mostly whether the
    /// few hottest keys fall in the sample, largest at 0.25x.)
    #[test]
    fn the_estimate_is_within_its_bound_on_seeded_traces() {
        let mut errors = Vec::new();
        for seed in 11..=15 {
            let trace = zipf(100_000, 0.9, 300_000, seed);
            let (points, rate) = check(&trace, 10_000, 8_192, 0.1);
            for p in &points {
                assert!(
                    p.error_points() <= 4.0,
                    "seed {seed} at {}x ({} entries): exact {:.4}, estimate {:.4}, rate {rate}",
                    p.multiple,
                    p.entries,
                    p.exact,
                    p.estimate
                );
                errors.push(p.error_points());
            }
            assert!(points.windows(2).all(|w| w[0].exact < w[1].exact));
        }
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        assert!(mean <= 1.5, "mean error {mean:.2} points over {errors:?}");
    }
}
