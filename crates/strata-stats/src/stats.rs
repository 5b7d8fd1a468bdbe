//! `Stats`: the registry of per-kind counters.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;
use serde::Serialize;

use crate::analytics::{AnalyticsConfig, Epochs};
use crate::histogram::Counts;
use crate::hot::HotKeysConfig;
use crate::kind::{KindSnapshot, KindStats};

/// Which kinds keep a hot-key sketch, and how it is sized.
type HotKeysPolicy = dyn Fn(&str) -> Option<HotKeysConfig> + Send + Sync;

/// The L1 budget `(max_bytes, max_entries)` of the kinds with a partition of their own.
type BudgetPolicy = dyn Fn(&str) -> Option<(u64, u64)> + Send + Sync;

/// Counters for every kind; cheap to clone (clones share the counters).
#[derive(Debug, Clone)]
pub struct Stats {
    inner: Arc<Inner>,
}

struct Inner {
    kinds: RwLock<HashMap<String, Arc<KindStats>>>,
    started: Instant,
    emit: bool,
    hot: Option<Arc<HotKeysPolicy>>,
    budgets: Option<Arc<BudgetPolicy>>,
    analytics: AnalyticsConfig,
    /// Invalidations of every kind at once.
    epochs: Arc<Epochs>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats")
            .field("kinds", &self.kinds)
            .field("emit", &self.emit)
            .field("hot_keys", &self.hot.is_some())
            .field("analytics", &self.analytics)
            .finish()
    }
}

impl Stats {
    /// Empty statistics; with `emit_metrics`, events also go to the `metrics` recorder.
    /// Analytics run with their defaults and no L1 budget (no miss-ratio curve); no kind keeps
    /// a hot-key sketch (see [`with_hot_keys`](Self::with_hot_keys)).
    pub fn new(emit_metrics: bool) -> Self {
        Self::with_analytics(emit_metrics, AnalyticsConfig::default())
    }

    /// Empty statistics with `analytics` (the key sample, miss causes, entry sizes, and the
    /// miss-ratio curve around the L1 budget it names).
    pub fn with_analytics(emit_metrics: bool, analytics: AnalyticsConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                kinds: RwLock::new(HashMap::new()),
                started: Instant::now(),
                emit: emit_metrics,
                hot: None,
                budgets: None,
                analytics,
                epochs: Arc::default(),
            }),
        }
    }

    /// Statistics whose kinds keep a hot-key sketch ([`KindStats::hot_keys`]) sized by
    /// `policy(kind)`; a kind for which it answers `None` keeps none. Applies to the kinds
    /// created after it (call it before handing the statistics out).
    pub fn with_hot_keys(
        self,
        policy: impl Fn(&str) -> Option<HotKeysConfig> + Send + Sync + 'static,
    ) -> Self {
        let inner = Inner {
            kinds: RwLock::new(self.inner.kinds.read().clone()),
            started: self.inner.started,
            emit: self.inner.emit,
            hot: Some(Arc::new(policy)),
            budgets: self.inner.budgets.clone(),
            analytics: self.inner.analytics,
            epochs: self.inner.epochs.clone(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Statistics whose kinds draw their miss-ratio curve around the L1 budget
    /// `budget(kind)` answers (a kind's own partition), else around the analytics' budget (the
    /// default pool). Applies to the kinds created after it.
    pub fn with_l1_budgets(
        self,
        budget: impl Fn(&str) -> Option<(u64, u64)> + Send + Sync + 'static,
    ) -> Self {
        let inner = Inner {
            kinds: RwLock::new(self.inner.kinds.read().clone()),
            started: self.inner.started,
            emit: self.inner.emit,
            hot: self.inner.hot.clone(),
            budgets: Some(Arc::new(budget)),
            analytics: self.inner.analytics,
            epochs: self.inner.epochs.clone(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Every key of every kind was invalidated in L1, and with `l2` in L2 too (for the miss
    /// causes).
    pub fn forgotten_everything(&self, l2: bool) {
        use std::sync::atomic::Ordering;
        self.inner.epochs.l1.fetch_add(1, Ordering::Relaxed);
        if l2 {
            self.inner.epochs.l2.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters of `kind`, created on first use. Callers on hot paths keep the `Arc`.
    pub fn kind(&self, kind: &str) -> Arc<KindStats> {
        if let Some(k) = self.inner.kinds.read().get(kind) {
            return k.clone();
        }
        self.inner
            .kinds
            .write()
            .entry(kind.to_owned())
            .or_insert_with(|| {
                let i = &self.inner;
                let hot = i.hot.as_ref().and_then(|policy| policy(kind));
                let own = i.budgets.as_ref().and_then(|budget| budget(kind));
                let analytics = match own {
                    Some((bytes, entries)) if i.analytics.l1_max_bytes > 0 => {
                        i.analytics.with_l1_budget(bytes, entries)
                    }
                    _ => i.analytics,
                };
                Arc::new(KindStats::new(kind, i.emit, hot, analytics, &i.epochs))
            })
            .clone()
    }

    /// The counters of `kind` if it was counted already (not created).
    pub fn existing(&self, kind: &str) -> Option<Arc<KindStats>> {
        self.inner.kinds.read().get(kind).cloned()
    }

    /// Seconds since these statistics started.
    pub fn uptime_secs(&self) -> f64 {
        self.inner.started.elapsed().as_secs_f64()
    }

    /// The kinds counted so far (each created by [`kind`](Self::kind)), unsorted.
    pub fn kind_names(&self) -> Vec<String> {
        self.inner.kinds.read().keys().cloned().collect()
    }

    /// A snapshot of every kind and their totals (latency summaries over every kind's samples).
    pub fn snapshot(&self) -> StatsSnapshot {
        let registry = self.inner.kinds.read();
        let kinds: BTreeMap<String, KindSnapshot> = registry
            .iter()
            .map(|(k, v)| (k.clone(), v.snapshot()))
            .collect();
        let mut latency = [Counts::default(); 3];
        for k in registry.values() {
            for (sum, counts) in latency.iter_mut().zip(k.latency_counts()) {
                sum.add(&counts);
            }
        }
        drop(registry);
        let mut totals = KindSnapshot::default();
        for k in kinds.values() {
            totals.accumulate(k);
        }
        totals.l1.latency = latency[0].summary();
        totals.l2.latency = latency[1].summary();
        totals.load_latency = latency[2].summary();
        let snapshot = StatsSnapshot {
            uptime_secs: self.uptime_secs(),
            totals,
            kinds,
        };
        if self.inner.emit {
            crate::publish::publish(&snapshot.kinds);
        }
        snapshot
    }
}

/// Everything [`Stats`] counted, serializable (the monitoring endpoint's payload).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Seconds since start.
    pub uptime_secs: f64,
    /// All kinds summed, latency summaries over every kind's samples.
    pub totals: KindSnapshot,
    /// Per kind.
    pub kinds: BTreeMap<String, KindSnapshot>,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Tier;

    #[test]
    fn totals_summarize_every_kinds_latency_samples() {
        let stats = Stats::new(false);
        let users = stats.kind("user");
        let jobs = stats.kind("job");
        for _ in 0..3 {
            users.hit(Tier::L1, 10, Duration::from_micros(5));
        }
        jobs.hit(Tier::L1, 10, Duration::from_micros(5));
        jobs.tier_miss(Tier::L2, Duration::from_millis(2));
        jobs.load(true, Duration::from_millis(20));
        let snap = stats.snapshot();
        let kinds_l1: u64 = snap.kinds.values().map(|k| k.l1.latency.count).sum();
        assert_eq!(kinds_l1, 4);
        assert_eq!(snap.totals.l1.latency.count, kinds_l1, "{:?}", snap.totals);
        assert_eq!(snap.totals.l1.latency.p99_us_le, Some(10));
        assert_eq!(snap.totals.l2.latency, snap.kinds["job"].l2.latency);
        assert_eq!(snap.totals.load_latency.count, 1);
        let mut names = stats.kind_names();
        names.sort();
        assert_eq!(names, ["job", "user"]);
    }

    #[test]
    fn the_hot_keys_policy_chooses_the_kinds_with_a_sketch() {
        let stats = Stats::new(false)
            .with_hot_keys(|kind| (kind != "session").then(HotKeysConfig::default));
        assert!(stats.kind("user").hot_keys().is_some());
        assert!(stats.kind("session").hot_keys().is_none());
        assert!(Stats::new(false).kind("user").hot_keys().is_none());
    }

    #[test]
    fn the_snapshot_lists_each_kinds_hottest_keys() {
        let stats = Stats::new(false)
            .with_hot_keys(|kind| (kind != "session").then(|| HotKeysConfig::new(64, 1)));
        let users = strata_keys::KeySpace::new("t", "v1")
            .unwrap()
            .kind("user")
            .unwrap();
        let user = stats.kind("user");
        for i in 0..30u64 {
            user.hot_keys()
                .unwrap()
                .record(&users.key(i).unwrap(), 100 - i);
        }
        stats.kind("session");
        let snap = stats.snapshot();
        let hot = snap.kinds["user"].hot_keys.as_ref().unwrap();
        assert_eq!(hot.len(), crate::HOT_KEYS_REPORTED);
        assert_eq!(hot[0].key, users.key(0u64).unwrap());
        assert_eq!((hot[0].count, hot[9].count), (100, 91));
        assert_eq!(snap.kinds["session"].hot_keys, None, "no sketch, no list");
        assert_eq!(snap.totals.hot_keys, None, "per kind only");
        let json = serde_json::to_value(&snap.kinds["user"]).unwrap();
        assert_eq!(json["hot_keys"][0]["key"], "t:v1:user:s1:0");
        assert_eq!(json["hot_keys"][0]["count"], 100);
    }
}
