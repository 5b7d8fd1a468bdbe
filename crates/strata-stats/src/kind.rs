//! `KindStats`: the counters of one kind.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

use crate::age::{AGE_BUCKET_COUNT, AgeBucket, bucket_of, label};
use crate::analytics::{Analytics, AnalyticsConfig, Epochs, MissRatioCurve};
use crate::causes::MissCauses;
use crate::histogram::{Counts, Histogram, LatencySnapshot};
use crate::hot::{HotKey, HotKeys, HotKeysConfig};
use crate::sizes::EntrySample;

/// A tier of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tier {
    /// The in-process tier.
    L1,
    /// The backend tier (Redis or memory).
    L2,
}

impl Tier {
    /// "l1" or "l2".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::L1 => "l1",
            Self::L2 => "l2",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Self::L1 => 0,
            Self::L2 => 1,
        }
    }
}

const TIERS: [Tier; 2] = [Tier::L1, Tier::L2];

/// Keys a snapshot lists in [`KindSnapshot::hot_keys`]: a table's worth, well inside what the
/// default sketch (1,024 counters) holds reliably.
pub const HOT_KEYS_REPORTED: usize = 10;

#[derive(Debug, Default)]
struct TierCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    latency: Histogram,
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

/// Handles into the global `metrics` recorder, created once per kind.
#[derive(Debug)]
struct Emitters {
    hits: [metrics::Counter; 2],
    misses: [metrics::Counter; 2],
    evictions: [metrics::Counter; 2],
    latency: [metrics::Histogram; 2],
    stale_hits: metrics::Counter,
    loads: metrics::Counter,
    load_errors: metrics::Counter,
    load_latency: metrics::Histogram,
    sets: metrics::Counter,
    deletes: metrics::Counter,
    requests_missed: metrics::Counter,
}

impl Emitters {
    fn new(kind: &str) -> Self {
        let k = kind.to_owned();
        let tiered_counter = |name: &'static str| {
            TIERS.map(|t| metrics::counter!(name, "kind" => k.clone(), "tier" => t.as_str()))
        };
        Self {
            hits: tiered_counter("strata_cache_hits_total"),
            misses: tiered_counter("strata_cache_misses_total"),
            evictions: tiered_counter("strata_cache_evictions_total"),
            latency: TIERS.map(|t| {
                metrics::histogram!("strata_cache_latency_seconds", "kind" => k.clone(), "tier" => t.as_str())
            }),
            stale_hits: metrics::counter!("strata_cache_stale_hits_total", "kind" => k.clone()),
            loads: metrics::counter!("strata_cache_loads_total", "kind" => k.clone()),
            load_errors: metrics::counter!("strata_cache_load_errors_total", "kind" => k.clone()),
            load_latency: metrics::histogram!("strata_cache_load_seconds", "kind" => k.clone()),
            sets: metrics::counter!("strata_cache_sets_total", "kind" => k.clone()),
            deletes: metrics::counter!("strata_cache_deletes_total", "kind" => k.clone()),
            requests_missed: metrics::counter!("strata_cache_requests_missed_total", "kind" => k),
        }
    }
}

/// The counters of one kind. Every method is lock-free except error counting (rare).
#[derive(Debug)]
pub struct KindStats {
    kind: String,
    tiers: [TierCounters; 2],
    misses: AtomicU64,
    stale_hits: AtomicU64,
    loads: AtomicU64,
    load_errors: AtomicU64,
    refreshes: AtomicU64,
    refresh_errors: AtomicU64,
    sets: AtomicU64,
    deletes: AtomicU64,
    load_latency: Histogram,
    ages: [AtomicU64; AGE_BUCKET_COUNT],
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
            tiers: Default::default(),
            misses: AtomicU64::new(0),
            stale_hits: AtomicU64::new(0),
            loads: AtomicU64::new(0),
            load_errors: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            refresh_errors: AtomicU64::new(0),
            sets: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
            load_latency: Histogram::default(),
            ages: Default::default(),
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
        let t = &self.tiers[tier.index()];
        t.hits.fetch_add(1, Ordering::Relaxed);
        t.latency.record(latency);
        self.ages[bucket_of(age_ms)].fetch_add(1, Ordering::Relaxed);
        if let Some(e) = &self.emit {
            e.hits[tier.index()].increment(1);
            e.latency[tier.index()].record(latency.as_secs_f64());
        }
    }

    /// A hit in `tier` whose latency was not measured (the L1 fast path times only a sample).
    pub fn hit_untimed(&self, tier: Tier, age_ms: u64) {
        self.tiers[tier.index()]
            .hits
            .fetch_add(1, Ordering::Relaxed);
        self.ages[bucket_of(age_ms)].fetch_add(1, Ordering::Relaxed);
        if let Some(e) = &self.emit {
            e.hits[tier.index()].increment(1);
        }
    }

    /// A miss in `tier` (the next tier, or the loader, is asked next).
    pub fn tier_miss(&self, tier: Tier, latency: Duration) {
        let t = &self.tiers[tier.index()];
        t.misses.fetch_add(1, Ordering::Relaxed);
        t.latency.record(latency);
        if let Some(e) = &self.emit {
            e.misses[tier.index()].increment(1);
            e.latency[tier.index()].record(latency.as_secs_f64());
        }
    }

    /// A miss in `tier` whose latency was not measured (the L2 read times only a sample).
    pub fn tier_miss_untimed(&self, tier: Tier) {
        self.tiers[tier.index()]
            .misses
            .fetch_add(1, Ordering::Relaxed);
        if let Some(e) = &self.emit {
            e.misses[tier.index()].increment(1);
        }
    }

    /// A request no tier could answer.
    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        if let Some(e) = &self.emit {
            e.requests_missed.increment(1);
        }
    }

    /// A stale value served (fail-safe, or stale-while-revalidate).
    pub fn stale_hit(&self) {
        self.stale_hits.fetch_add(1, Ordering::Relaxed);
        if let Some(e) = &self.emit {
            e.stale_hits.increment(1);
        }
    }

    /// A loader call that took `latency`; `ok` false when it failed.
    pub fn load(&self, ok: bool, latency: Duration) {
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.load_latency.record(latency);
        if !ok {
            self.load_errors.fetch_add(1, Ordering::Relaxed);
        }
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
        let counter = if ok {
            &self.refreshes
        } else {
            &self.refresh_errors
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Values written.
    pub fn sets(&self, n: u64) {
        self.sets.fetch_add(n, Ordering::Relaxed);
        if let Some(e) = &self.emit {
            e.sets.increment(n);
        }
    }

    /// Values deleted or invalidated.
    pub fn deletes(&self, n: u64) {
        self.deletes.fetch_add(n, Ordering::Relaxed);
        if let Some(e) = &self.emit {
            e.deletes.increment(n);
        }
    }

    /// An entry evicted from `tier` to respect its limits.
    pub fn eviction(&self, tier: Tier) {
        self.tiers[tier.index()]
            .evictions
            .fetch_add(1, Ordering::Relaxed);
        if let Some(e) = &self.emit {
            e.evictions[tier.index()].increment(1);
        }
    }

    /// An error in `tier`, by kind name ("timeout", "connection", "codec", ...).
    pub fn error(&self, tier: Tier, error: &'static str) {
        *self.tiers[tier.index()]
            .errors
            .lock()
            .entry(error)
            .or_default() += 1;
        if self.emit.is_some() {
            metrics::counter!("strata_cache_errors_total", "kind" => self.kind.clone(),
                              "tier" => tier.as_str(), "error" => error)
            .increment(1);
        }
    }

    /// The latency samples of L1, L2 and the loader (for the totals, which sum them).
    pub(crate) fn latency_counts(&self) -> [Counts; 3] {
        [
            self.tiers[Tier::L1.index()].latency.counts(),
            self.tiers[Tier::L2.index()].latency.counts(),
            self.load_latency.counts(),
        ]
    }

    /// A consistent-enough copy of the counters (each counter is read atomically).
    pub fn snapshot(&self) -> KindSnapshot {
        let tier = |t: Tier| {
            let c = &self.tiers[t.index()];
            let hits = c.hits.load(Ordering::Relaxed);
            let misses = c.misses.load(Ordering::Relaxed);
            TierSnapshot {
                hits,
                misses,
                hit_rate: rate(hits, misses),
                evictions: c.evictions.load(Ordering::Relaxed),
                errors: c
                    .errors
                    .lock()
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), *v))
                    .collect(),
                latency: c.latency.snapshot(),
            }
        };
        let (l1, l2) = (tier(Tier::L1), tier(Tier::L2));
        let hits = l1.hits + l2.hits;
        let misses = self.misses.load(Ordering::Relaxed);
        let load_latency = self.load_latency.snapshot();
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
            stale_hits: self.stale_hits.load(Ordering::Relaxed),
            loads: self.loads.load(Ordering::Relaxed),
            load_errors: self.load_errors.load(Ordering::Relaxed),
            refreshes: self.refreshes.load(Ordering::Relaxed),
            refresh_errors: self.refresh_errors.load(Ordering::Relaxed),
            sets: self.sets.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
            evictions: l1.evictions + l2.evictions,
            errors: l1.errors.values().sum::<u64>() + l2.errors.values().sum::<u64>(),
            age_at_hit: self
                .ages
                .iter()
                .enumerate()
                .map(|(i, c)| AgeBucket {
                    age: label(i),
                    hits: c.load(Ordering::Relaxed),
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
