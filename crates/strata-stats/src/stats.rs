//! `Stats`: the registry of per-kind counters.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;
use serde::Serialize;

use crate::kind::{KindSnapshot, KindStats};

/// Counters for every kind; cheap to clone (clones share the counters).
#[derive(Debug, Clone)]
pub struct Stats {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    kinds: RwLock<HashMap<String, Arc<KindStats>>>,
    started: Instant,
    emit: bool,
}

impl Stats {
    /// Empty statistics; with `emit_metrics`, events also go to the `metrics` recorder.
    pub fn new(emit_metrics: bool) -> Self {
        Self {
            inner: Arc::new(Inner {
                kinds: RwLock::new(HashMap::new()),
                started: Instant::now(),
                emit: emit_metrics,
            }),
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
            .or_insert_with(|| Arc::new(KindStats::new(kind, self.inner.emit)))
            .clone()
    }

    /// Seconds since these statistics started.
    pub fn uptime_secs(&self) -> f64 {
        self.inner.started.elapsed().as_secs_f64()
    }

    /// A snapshot of every kind and their totals.
    pub fn snapshot(&self) -> StatsSnapshot {
        let kinds: BTreeMap<String, KindSnapshot> = self
            .inner
            .kinds
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.snapshot()))
            .collect();
        let mut totals = KindSnapshot::default();
        for k in kinds.values() {
            totals.accumulate(k);
        }
        StatsSnapshot {
            uptime_secs: self.uptime_secs(),
            totals,
            kinds,
        }
    }
}

/// Everything [`Stats`] counted, serializable (the monitoring endpoint's payload).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Seconds since start.
    pub uptime_secs: f64,
    /// All kinds summed (latency summaries are per kind only).
    pub totals: KindSnapshot,
    /// Per kind.
    pub kinds: BTreeMap<String, KindSnapshot>,
}
