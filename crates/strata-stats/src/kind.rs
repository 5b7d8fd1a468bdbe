//! `KindStats`: the counters of one kind.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

use crate::age::{AgeBucket, label};
use crate::analytics::{Analytics, AnalyticsConfig, Epochs, MissRatioCurve};
use crate::causes::MissCauses;
use crate::counters::{self, Counters, add};
use crate::emit::Emitters;
use crate::histogram::{Counts, LatencySnapshot};
use crate::hot::{HotKey, HotKeys, HotKeysConfig};
use crate::sizes::EntrySample;
pub use crate::tier::Tier;

/// Keys a snapshot lists in [`KindSnapshot::hot_keys`]: a table's worth, well inside what the
/// default sketch (1,024 counters) holds reliably.
pub const HOT_KEYS_REPORTED: usize = 10;

/// The counters of one kind. Every method is lock-free except error counting (rare); the
/// counters are striped by thread (a thread's counts do not write the cache lines another
/// thread's counts write) and summed when read.
#[derive(Debug)]
pub struct KindStats {
    kind: String,
    counts: Counters,
    /// Each tier's errors by kind name.
    errors: [Mutex<BTreeMap<&'static str, u64>>; 2],
    emit: Option<Emitters>,
    hot: Option<HotKeys>,
    /// The key sample, miss causes and entry sizes (`None` with analytics off).
    pub(crate) analytics: Option<Analytics>,
}

impl KindStats {
    pub(crate) fn new(
        kind: &str,
        emit: bool,
        hot: Option<HotKeysConfig>,
        analytics: AnalyticsConfig,
        epochs: &Arc<Epochs>,
    ) -> Self {
        Self {
            kind: kind.to_owned(),
            counts: Counters::default(),
            errors: Default::default(),
            emit: emit.then(|| Emitters::new(kind)),
            hot: hot.map(HotKeys::new),
            analytics: analytics
                .enabled
                .then(|| Analytics::new(analytics, epochs.clone())),
        }
    }

    /// The kind's hot-key sketch, when kept (see [`Stats::with_hot_keys`](crate::Stats::with_hot_keys)).
    #[inline]
    pub fn hot_keys(&self) -> Option<&HotKeys> {
        self.hot.as_ref()
    }

    /// The kind's name.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// A hit in `tier` on a value `age_ms` old, found in `latency`.
    pub fn hit(&self, tier: Tier, age_ms: u64, latency: Duration) {
        let mine = self.counts.mine();
        mine.hit(tier.index(), age_ms);
        mine.latency[tier.index()].record(latency);
        if let Some(e) = &self.emit {
            e.hits[tier.index()].increment(1);
            e.latency[tier.index()].record(latency.as_secs_f64());
        }
    }

    /// A hit in `tier` whose latency was not measured (the L1 fast path times only a sample).
    pub fn hit_untimed(&self, tier: Tier, age_ms: u64) {
        self.counts.mine().hit(tier.index(), age_ms);
        if let Some(e) = &self.emit {
            e.hits[tier.index()].increment(1);
        }
    }

    /// A miss in `tier` (the next tier, or the loader, is asked next).
    pub fn tier_miss(&self, tier: Tier, latency: Duration) {
        let mine = self.counts.mine();
        add(&mine.misses[tier.index()], 1);
        mine.latency[tier.index()].record(latency);
        if let Some(e) = &self.emit {
            e.misses[tier.index()].increment(1);
            e.latency[tier.index()].record(latency.as_secs_f64());
        }
    }

    /// A miss in `tier` whose latency was not measured (the L2 read times only a sample).
    pub fn tier_miss_untimed(&self, tier: Tier) {
        add(&self.counts.mine().misses[tier.index()], 1);
        if let Some(e) = &self.emit {
            e.misses[tier.index()].increment(1);
        }
    }

    /// A request no tier could answer.
    pub fn miss(&self) {
        add(&self.counts.mine().missed, 1);
        if let Some(e) = &self.emit {
            e.requests_missed.increment(1);
        }
    }

    /// A stale value served (fail-safe, or stale-while-revalidate).
    pub fn stale_hit(&self) {
        add(&self.counts.mine().stale_hits, 1);
        if let Some(e) = &self.emit {
            e.stale_hits.increment(1);
        }
    }

    /// A loader call that took `latency`; `ok` false when it failed.
    pub fn load(&self, ok: bool, latency: Duration) {
        self.counts.mine().load(ok, latency);
        if let Some(e) = &self.emit {
            e.loads.increment(1);
            e.load_latency.record(latency.as_secs_f64());
            if !ok {
                e.load_errors.increment(1);
            }
        }
    }

    /// A background refresh that loaded (`ok`) or failed (its loader call is also counted by
    /// [`load`](Self::load)); a failure is never surfaced to a reader.
    pub fn refreshed(&self, ok: bool) {
        let mine = self.counts.mine();
        add(
            if ok {
                &mine.refreshes
            } else {
                &mine.refresh_errors
            },
            1,
        );
    }

    /// Values written.
    pub fn sets(&self, n: u64) {
        add(&self.counts.mine().sets, n);
        if let Some(e) = &self.emit {
            e.sets.increment(n);
        }
    }

    /// Values deleted or invalidated.
    pub fn deletes(&self, n: u64) {
        add(&self.counts.mine().deletes, n);
        if let Some(e) = &self.emit {
            e.deletes.increment(n);
        }
    }

    /// An entry evicted from `tier` to respect its limits.
    pub fn eviction(&self, tier: Tier) {
        add(&self.counts.mine().evictions[tier.index()], 1);
        if let Some(e) = &self.emit {
            e.evictions[tier.index()].increment(1);
        }
    }

    /// An error in `tier`, by kind name ("timeout", "connection", "codec", ...).
    pub fn error(&self, tier: Tier, error: &'static str) {
        *self.errors[tier.index()].lock().entry(error).or_default() += 1;
        if self.emit.is_some() {
            metrics::counter!("strata_cache_errors_total", "kind" => self.kind.clone(),
                              "tier" => tier.as_str(), "error" => error)
            .increment(1);
        }
    }

    /// The latency samples of L1, L2 and the loader (for the totals, which sum them).
    pub(crate) fn latency_counts(&self) -> [Counts; 3] {
        let c = &self.counts;
        [
            counters::latency(c, |s| &s.latency[Tier::L1.index()]),
            counters::latency(c, |s| &s.latency[Tier::L2.index()]),
            counters::latency(c, |s| &s.load_latency),
        ]
    }

    /// A consistent-enough copy of the counters (each stripe of each counter is read
    /// atomically, and the stripes summed).
    pub fn snapshot(&self) -> KindSnapshot {
        let c = &self.counts;
        let [l1_latency, l2_latency, load_latency] = self.latency_counts();
        let tier = |t: Tier, latency: Counts| {
            let i = t.index();
            let hits = c.sum(|s| &s.hits[i]);
            let misses = c.sum(|s| &s.misses[i]);
            TierSnapshot {
                hits,
                misses,
                hit_rate: rate(hits, misses),
                evictions: c.sum(|s| &s.evictions[i]),
                errors: self.errors[i]
                    .lock()
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), *v))
                    .collect(),
                latency: latency.summary(),
            }
        };
        let (l1, l2) = (tier(Tier::L1, l1_latency), tier(Tier::L2, l2_latency));
        let hits = l1.hits + l2.hits;
        let misses = c.sum(|s| &s.missed);
        let load_latency = load_latency.summary();
        let [l1_causes, l2_causes] = self
            .analytics
            .as_ref()
            .map(|a| a.causes())
            .unwrap_or_default();
        KindSnapshot {
            load_time_saved_ms: hits.saturating_mul(load_latency.mean_us) / 1_000,
            misses_by_cause: TierCauses {
                l1: l1_causes,
                l2: l2_causes,
            },
            entries: self
                .analytics
                .as_ref()
                .map(|a| a.entries())
                .unwrap_or_default(),
            mrc: self
                .analytics
                .as_ref()
                .and_then(|a| a.curve(l1.hit_rate, l1.hits + l1.misses)),
            hot_keys: self.hot.as_ref().map(|h| h.hottest(HOT_KEYS_REPORTED)),
            hits,
            misses,
            hit_rate: rate(hits, misses),
            stale_hits: c.sum(|s| &s.stale_hits),
            loads: c.sum(|s| &s.loads),
            load_errors: c.sum(|s| &s.load_errors),
            refreshes: c.sum(|s| &s.refreshes),
            refresh_errors: c.sum(|s| &s.refresh_errors),
            sets: c.sum(|s| &s.sets),
            deletes: c.sum(|s| &s.deletes),
            evictions: l1.evictions + l2.evictions,
            errors: l1.errors.values().sum::<u64>() + l2.errors.values().sum::<u64>(),
            age_at_hit: counters::ages(c)
                .iter()
                .enumerate()
                .map(|(i, hits)| AgeBucket {
                    age: label(i),
                    hits: *hits,
                })
                .collect(),
            load_latency,
            l1,
            l2,
        }
    }
}

fn rate(hits: u64, misses: u64) -> f64 {
    let total = hits + misses;
    if total == 0 {
        0.0
    } else {
        hits as f64 / total as f64
    }
}

/// The counters of one tier of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[non_exhaustive]
pub struct TierSnapshot {
    /// Lookups answered by this tier.
    pub hits: u64,
    /// Lookups this tier could not answer.
    pub misses: u64,
    /// hits / (hits + misses); 0 when unused.
    pub hit_rate: f64,
    /// Entries evicted to respect the tier's limits.
    pub evictions: u64,
    /// Errors by kind ("timeout", "connection", "codec", ...).
    pub errors: BTreeMap<String, u64>,
    /// Lookup latency.
    pub latency: LatencySnapshot,
}

/// The counters of one kind (or of all kinds, summed).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[non_exhaustive]
pub struct KindSnapshot {
    /// Requests answered from a tier (fresh values; stale ones are counted in `stale_hits`).
    pub hits: u64,
    /// Requests no tier answered.
    pub misses: u64,
    /// hits / (hits + misses).
    pub hit_rate: f64,
    /// Stale values served (fail-safe or stale-while-revalidate).
    pub stale_hits: u64,
    /// Loader calls.
    pub loads: u64,
    /// Loader calls that failed.
    pub load_errors: u64,
    /// Background refreshes that stored a new value.
    pub refreshes: u64,
    /// Background refreshes whose loader failed (logged; the readers kept the current value).
    pub refresh_errors: u64,
    /// Values written.
    pub sets: u64,
    /// Values deleted or invalidated.
    pub deletes: u64,
    /// Evictions in both tiers.
    pub evictions: u64,
    /// Errors in both tiers.
    pub errors: u64,
    /// How old served values were.
    pub age_at_hit: Vec<AgeBucket>,
    /// Loader latency.
    pub load_latency: LatencySnapshot,
    /// The in-process tier.
    pub l1: TierSnapshot,
    /// The backend tier.
    pub l2: TierSnapshot,
    /// What the loader would have spent serving the hits: hits x the mean load time, in ms.
    pub load_time_saved_ms: u64,
    /// Each tier's misses by cause (empty with analytics off).
    pub misses_by_cause: TierCauses,
    /// Sizes and ages of the entries read from L2 (empty with analytics off).
    pub entries: EntrySample,
    /// The estimated LRU hit ratio of L1 at several sizes (per kind only; `None` without L1
    /// or with analytics off).
    pub mrc: Option<MissRatioCurve>,
    /// The [`HOT_KEYS_REPORTED`] keys looked up most, most first, from the kind's hot-key
    /// sketch: each `count` is an estimate of the key's lookups (hits and misses) from a sample
    /// of them, at most `error` above the sampled count. Per kind only, and in this snapshot
    /// only (never a metric label); `None` when the kind keeps no sketch.
    pub hot_keys: Option<Vec<HotKey>>,
}

/// The misses of each tier by cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[non_exhaustive]
pub struct TierCauses {
    /// Why L1 missed (its causes add up to `l1.misses`).
    pub l1: MissCauses,
    /// Why L2 missed (its causes add up to `l2.misses`).
    pub l2: MissCauses,
}

impl KindSnapshot {
    /// Adds `other`'s counters into `self` (latency summaries are not: [`Stats`](crate::Stats)
    /// sums the histograms they come from).
    pub(crate) fn accumulate(&mut self, other: &KindSnapshot) {
        self.hits += other.hits;
        self.misses += other.misses;
        self.hit_rate = rate(self.hits, self.misses);
        self.stale_hits += other.stale_hits;
        self.loads += other.loads;
        self.load_errors += other.load_errors;
        self.refreshes += other.refreshes;
        self.refresh_errors += other.refresh_errors;
        self.sets += other.sets;
        self.deletes += other.deletes;
        self.evictions += other.evictions;
        self.errors += other.errors;
        self.load_time_saved_ms += other.load_time_saved_ms;
        self.misses_by_cause
            .l1
            .accumulate(&other.misses_by_cause.l1);
        self.misses_by_cause
            .l2
            .accumulate(&other.misses_by_cause.l2);
        self.entries.accumulate(&other.entries);
        if self.age_at_hit.is_empty() {
            self.age_at_hit = other.age_at_hit.clone();
        } else {
            for (a, b) in self.age_at_hit.iter_mut().zip(&other.age_at_hit) {
                a.hits += b.hits;
            }
        }
        for (mine, theirs) in [(&mut self.l1, &other.l1), (&mut self.l2, &other.l2)] {
            mine.hits += theirs.hits;
            mine.misses += theirs.misses;
            mine.hit_rate = rate(mine.hits, mine.misses);
            mine.evictions += theirs.evictions;
            for (k, v) in &theirs.errors {
                *mine.errors.entry(k.clone()).or_default() += v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{Stats, Tier};

    #[test]
    fn counts_from_many_threads_add_up_in_the_snapshot() {
        const THREADS: u64 = 11;
        const ROUNDS: u64 = 1_000;
        let stats = Stats::new(false);
        let kind = stats.kind("user");
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for i in 0..ROUNDS {
                        kind.hit(Tier::L1, 0, Duration::from_micros(5));
                        kind.hit_untimed(Tier::L1, 120_000);
                        kind.hit(Tier::L2, 100_000_000, Duration::from_micros(300));
                        kind.tier_miss(Tier::L1, Duration::from_micros(5));
                        kind.tier_miss_untimed(Tier::L2);
                        kind.miss();
                        kind.load(i % 2 == 0, Duration::from_millis(2));
                        kind.sets(2);
                        kind.eviction(Tier::L1);
                    }
                });
            }
        });
        let n = THREADS * ROUNDS;
        let snap = stats.snapshot();
        let k = &snap.kinds["user"];
        assert_eq!((k.l1.hits, k.l2.hits, k.hits), (2 * n, n, 3 * n));
        assert_eq!((k.l1.misses, k.l2.misses, k.misses), (n, n, n));
        assert_eq!((k.l1.latency.count, k.l2.latency.count), (2 * n, n));
        assert_eq!(k.l2.latency.mean_us, 300);
        assert_eq!(
            (k.loads, k.load_errors, k.load_latency.count),
            (n, n / 2, n)
        );
        assert_eq!((k.sets, k.l1.evictions, k.evictions), (2 * n, n, n));
        let age = |l: &str| k.age_at_hit.iter().find(|b| b.age == l).unwrap().hits;
        assert_eq!((age("<1m"), age("<5m"), age("older")), (n, n, n));
        assert_eq!(
            snap.totals.l1.latency.count,
            2 * n,
            "the totals sum the stripes too"
        );
    }
}
