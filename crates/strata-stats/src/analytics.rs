//! Per-kind analytics: the key sample behind the miss-ratio curve and the miss causes, and the
//! entry sizes and ages read from L2.
//!
//! The hit path pays one hash of the key and one comparison with the sampling threshold; only
//! the sampled keys (a few percent at most, fewer as the sample fills) take the sample's lock,
//! and a contended lock is skipped rather than waited for on a hit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::Serialize;

use crate::causes::{CauseCounters, MissCause, MissCauses};
use crate::mrc::{Access, Shards, sample_hash};
use crate::sizes::{EntryCounters, EntrySample};
use crate::stripe::Striped;

/// [`Analytics::latest`] when the sample has no latest key (no sampled hash reaches it: a key
/// is sampled below the threshold, which is below `u64::MAX`).
const NO_KEY: u64 = u64::MAX;

/// How the analytics sample keys, and the L1 budget the miss-ratio curve is drawn around.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct AnalyticsConfig {
    /// Whether analytics run (default true); off, the hit path does not hash keys.
    pub enabled: bool,
    /// Most keys sampled per kind (default 8,192; about 100 bytes each).
    pub sample_keys: usize,
    /// Share of keys sampled at first (default 0.1), lowered as the sample fills.
    pub sample_rate: f64,
    /// The L1's byte budget (0: no L1).
    pub l1_max_bytes: u64,
    /// The L1's entry cap.
    pub l1_max_entries: u64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            sample_keys: 8_192,
            sample_rate: 0.1,
            l1_max_bytes: 0,
            l1_max_entries: 0,
        }
    }
}

impl AnalyticsConfig {
    /// Analytics off.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Sets the most keys sampled per kind and the initial sampling rate.
    pub fn with_sample(mut self, keys: usize, rate: f64) -> Self {
        self.sample_keys = keys;
        self.sample_rate = rate;
        self
    }

    /// Sets the L1 budget the curve is drawn around.
    pub fn with_l1_budget(mut self, max_bytes: u64, max_entries: u64) -> Self {
        self.l1_max_bytes = max_bytes;
        self.l1_max_entries = max_entries;
        self
    }
}

/// Invalidations that reach many keys at once: each bumps an epoch (L1's, L2's), and a key
/// filled before the bump is counted invalidated.
#[derive(Debug, Default)]
pub(crate) struct Epochs {
    pub(crate) l1: AtomicU32,
    pub(crate) l2: AtomicU32,
}

impl Epochs {
    fn read(&self) -> (u32, u32) {
        (
            self.l1.load(Ordering::Relaxed),
            self.l2.load(Ordering::Relaxed),
        )
    }
}

/// What the sample remembers of one key.
#[derive(Debug, Default)]
struct KeyRecord {
    /// When L1's copy ends (ms), 0 when L1 was not filled since the last miss.
    l1_until: u64,
    l1_evicted: bool,
    l1_forgotten: bool,
    l1_epoch: u32,
    /// When L2's copy ends (physical expiry, ms), 0 when none is known.
    l2_until: u64,
    l2_forgotten: bool,
    l2_epoch: u32,
    /// Whether L2 was asked for the key before.
    l2_seen: bool,
}

/// The analytics of one kind.
#[derive(Debug)]
pub(crate) struct Analytics {
    config: AnalyticsConfig,
    /// The sample's threshold, read without the lock on the hit path.
    threshold: AtomicU64,
    sample: Mutex<Shards<KeyRecord>>,
    /// Sampled hits not recorded because another thread held the sample (striped by thread,
    /// as `repeats`: off the line of `threshold` and `latest`, which every hit reads).
    dropped_hits: Striped<AtomicU64>,
    /// The sample's latest key ([`Shards::latest`]; `NO_KEY`: none), read without the lock.
    latest: AtomicU64,
    /// Hits on `latest` not yet added to the sample (it adds them when next locked), striped
    /// by thread: a hot key's run of hits on several threads writes no line they share.
    repeats: Striped<AtomicU64>,
    causes: [CauseCounters; 2],
    entries: EntryCounters,
    epochs: Epochs,
    global: Arc<Epochs>,
}

impl Analytics {
    pub(crate) fn new(config: AnalyticsConfig, global: Arc<Epochs>) -> Self {
        let sample = Shards::new(config.sample_keys, config.sample_rate);
        Self {
            threshold: AtomicU64::new(sample.threshold()),
            sample: Mutex::new(sample),
            dropped_hits: Striped::default(),
            latest: AtomicU64::new(NO_KEY),
            repeats: Striped::default(),
            causes: Default::default(),
            entries: EntryCounters::default(),
            epochs: Epochs::default(),
            global,
            config,
        }
    }

    fn hash(&self, key: &str) -> u64 {
        sample_hash(key)
    }

    fn sampled(&self, key: &str) -> Option<u64> {
        let h = self.hash(key);
        (h < self.threshold.load(Ordering::Relaxed)).then_some(h)
    }

    fn epochs_now(&self) -> (u32, u32) {
        let (a, b) = self.epochs.read();
        let (c, d) = self.global.read();
        (a.wrapping_add(c), b.wrapping_add(d))
    }

    /// Runs `f` on the sample, then publishes its threshold (it may have dropped).
    fn with_sample<T>(&self, f: impl FnOnce(&mut Shards<KeyRecord>) -> T) -> T {
        let mut sample = self.sample.lock();
        self.catch_up(&mut sample);
        let out = f(&mut sample);
        self.publish(&sample);
        out
    }

    /// Adds the hits on the latest key counted without the lock: they came before whatever
    /// the lock's holder does next.
    fn catch_up(&self, sample: &mut Shards<KeyRecord>) {
        let repeats = self.repeats.iter().map(|r| r.swap(0, Ordering::Relaxed));
        sample.add_repeats(repeats.sum());
    }

    /// Publishes what the hit path reads without the lock: the threshold and the latest key.
    fn publish(&self, sample: &Shards<KeyRecord>) {
        self.threshold.store(sample.threshold(), Ordering::Relaxed);
        self.latest
            .store(sample.latest().unwrap_or(NO_KEY), Ordering::Relaxed);
    }

    /// An L1 hit on `key` (the hot path).
    pub(crate) fn l1_hit(&self, key: &str) {
        self.l1_hit_hash(self.hash(key));
    }

    /// An L1 hit on the key hashing to `h`.
    #[inline]
    pub(crate) fn l1_hit_hash(&self, h: u64) {
        if h >= self.threshold.load(Ordering::Relaxed) {
            return;
        }
        // Again the key the sample saw last (a hot key's run of hits): distance 0, counted
        // without the lock and added to the sample by its next holder.
        if h == self.latest.load(Ordering::Relaxed) {
            self.repeats.mine().fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.l1_hit_sampled(h);
    }

    #[cold]
    #[inline(never)]
    fn l1_hit_sampled(&self, h: u64) {
        // A hit never waits: under contention the access is not recorded, and counted.
        let Some(mut sample) = self.sample.try_lock() else {
            self.dropped_hits.mine().fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.catch_up(&mut sample);
        sample.access(h);
        self.publish(&sample);
    }

    /// An L1 miss on `key`: `seen` when the entry told the cause, else L1 did not hold it.
    pub(crate) fn l1_miss(&self, key: &str, seen: Option<MissCause>, now_ms: u64) {
        let counters = &self.causes[0];
        let Some(h) = self.sampled(key) else {
            return match seen {
                Some(cause) => counters.add(cause),
                None => counters.add_unsampled(),
            };
        };
        let (l1_epoch, _) = self.epochs_now();
        let cause = self.with_sample(|s| {
            let (access, record) = s.access(h);
            let explained = match (seen, record) {
                (Some(_), _) => None,
                (None, None) => Some(MissCause::Unknown),
                (None, Some(r)) => Some(l1_cause(access, r, now_ms, l1_epoch)),
            };
            if let Some(r) = s.payload_mut(h) {
                r.l1_until = 0;
                r.l1_evicted = false;
            }
            explained
        });
        match (seen, cause) {
            (Some(cause), _) => counters.add(cause),
            (None, Some(cause)) => counters.add_history(cause),
            (None, None) => counters.add(MissCause::Unknown),
        }
    }

    /// An L2 miss on `key`: `seen` when the entry told the cause, else L2 did not hold it.
    pub(crate) fn l2_miss(&self, key: &str, seen: Option<MissCause>, now_ms: u64) {
        let counters = &self.causes[1];
        if let Some(cause) = seen {
            counters.add(cause);
            if let Some(h) = self.sampled(key) {
                self.with_sample(|s| s.track(h).map(|r| r.l2_seen = true));
            }
            return;
        }
        let Some(h) = self.sampled(key) else {
            return counters.add_unsampled();
        };
        let (_, l2_epoch) = self.epochs_now();
        let cause = self.with_sample(|s| {
            s.track(h).map(|r| {
                let cause = l2_cause(r, now_ms, l2_epoch);
                r.l2_until = 0;
                r.l2_seen = true;
                cause
            })
        });
        counters.add_history(cause.unwrap_or(MissCause::Unknown));
    }

    /// An entry of `size` bytes, `age_ms` old, read from L2 for `key`, which stays there until
    /// `l2_until_ms`.
    pub(crate) fn l2_found(&self, key: &str, size: u64, age_ms: u64, l2_until_ms: u64) {
        self.entries.record(size, age_ms);
        let Some(h) = self.sampled(key) else { return };
        let (_, epoch) = self.epochs_now();
        self.with_sample(|s| {
            if let Some(r) = s.track(h) {
                r.l2_until = l2_until_ms;
                r.l2_forgotten = false;
                r.l2_epoch = epoch;
                r.l2_seen = true;
            }
        });
    }

    /// `key` written to L2 until `l2_until_ms` (0: not written there), and to L1 until
    /// `l1_until_ms` (0: not written there).
    pub(crate) fn filled(&self, key: &str, l1_until_ms: u64, l2_until_ms: u64) {
        let Some(h) = self.sampled(key) else { return };
        let (e1, e2) = self.epochs_now();
        self.with_sample(|s| {
            let Some(r) = s.track(h) else { return };
            if l1_until_ms > 0 {
                r.l1_until = l1_until_ms;
                r.l1_evicted = false;
                r.l1_forgotten = false;
                r.l1_epoch = e1;
            }
            if l2_until_ms > 0 {
                r.l2_until = l2_until_ms;
                r.l2_forgotten = false;
                r.l2_epoch = e2;
            }
        });
    }

    /// L1 evicted `key` for size (the L1's eviction hook).
    pub(crate) fn l1_evicted(&self, key: &str) {
        let Some(h) = self.sampled(key) else { return };
        self.with_sample(|s| s.payload_mut(h).map(|r| r.l1_evicted = true));
    }

    /// `key` was invalidated (in both tiers).
    pub(crate) fn forgotten(&self, key: &str) {
        let Some(h) = self.sampled(key) else { return };
        self.with_sample(|s| {
            s.payload_mut(h).map(|r| {
                r.l1_forgotten = true;
                r.l2_forgotten = true;
            })
        });
    }

    /// Every key of the kind was invalidated: in L1, and with `l2` in L2 too.
    pub(crate) fn forgotten_all(&self, l2: bool) {
        self.epochs.l1.fetch_add(1, Ordering::Relaxed);
        if l2 {
            self.epochs.l2.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Mean size of the entries read from L2, if any were.
    pub(crate) fn mean_entry_bytes(&self) -> Option<u64> {
        self.entries.mean_bytes()
    }

    pub(crate) fn causes(&self) -> [MissCauses; 2] {
        [self.causes[0].snapshot(), self.causes[1].snapshot()]
    }

    pub(crate) fn entries(&self) -> EntrySample {
        self.entries.snapshot()
    }

    /// The LRU curve around the L1 budget, beside `actual` (the L1's hit ratio), from the
    /// sample and the kind's L1 `requests` (for the SHARDS_adj correction).
    pub(crate) fn curve(&self, actual: f64, requests: u64) -> Option<MissRatioCurve> {
        if self.config.l1_max_bytes == 0 || self.config.l1_max_entries == 0 {
            return None;
        }
        // Entries weigh at least max_bytes / max_entries: only entries heavier on average
        // than that make the byte budget the tighter bound.
        let min_weight = self
            .config
            .l1_max_bytes
            .div_ceil(self.config.l1_max_entries);
        let budget = match self.mean_entry_bytes() {
            Some(mean) if mean > min_weight => {
                (self.config.l1_max_bytes / mean).min(self.config.l1_max_entries)
            }
            _ => self.config.l1_max_entries,
        };
        let mut sample = self.sample.lock();
        self.catch_up(&mut sample);
        let at = |m: f64| CurvePoint {
            multiple: m,
            entries: (budget as f64 * m).round() as u64,
            hit_ratio: sample.hit_ratio_adjusted(budget as f64 * m, requests),
        };
        Some(MissRatioCurve {
            estimate: "lru",
            budget_entries: budget,
            points: [0.25, 0.5, 1.0, 2.0, 4.0].map(at).to_vec(),
            curve: (-8..=8)
                .map(|i| at(2f64.powf(f64::from(i) / 2.0)))
                .collect(),
            l1_hit_ratio: actual,
            sample_rate: sample.rate(),
            sampled_keys: sample.sampled_keys() as u64,
            sampled_requests: sample.sampled_accesses(),
            dropped_hits: self.dropped_hits.sum(|d| d),
        })
    }
}

/// Why L1 did not hold a sampled key, from what the sample remembers.
fn l1_cause(access: Access, r: &KeyRecord, now: u64, epoch: u32) -> MissCause {
    if access == Access::First {
        MissCause::Cold
    } else if r.l1_evicted {
        MissCause::EvictedL1
    } else if r.l1_until == 0 {
        MissCause::Absent
    } else if r.l1_forgotten || r.l1_epoch != epoch {
        MissCause::Invalidated
    } else if now >= r.l1_until {
        MissCause::Expired
    } else {
        MissCause::Unknown
    }
}

/// Why L2 did not hold a sampled key, from what the sample remembers.
fn l2_cause(r: &KeyRecord, now: u64, epoch: u32) -> MissCause {
    if r.l2_until == 0 {
        if r.l2_seen {
            MissCause::Absent
        } else {
            MissCause::Cold
        }
    } else if r.l2_forgotten || r.l2_epoch != epoch {
        MissCause::Invalidated
    } else if now >= r.l2_until {
        MissCause::Expired
    } else {
        MissCause::EvictedQuota
    }
}

/// One point of the miss-ratio curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CurvePoint {
    /// The size as a multiple of the L1 budget.
    pub multiple: f64,
    /// The size in entries.
    pub entries: u64,
    /// The hit ratio an LRU L1 of that size would have had (`None` before any request).
    pub hit_ratio: Option<f64>,
}

/// The estimated hit ratio of an LRU L1 at several sizes (SHARDS), beside the actual one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MissRatioCurve {
    /// What is estimated: "lru", an LRU cache of that many entries, for this kind alone.
    pub estimate: &'static str,
    /// The L1 budget in entries: the entry cap, or the byte budget over the mean entry size
    /// if fewer.
    pub budget_entries: u64,
    /// At 0.25x, 0.5x, 1x, 2x and 4x the budget.
    pub points: Vec<CurvePoint>,
    /// From 1/16x to 16x the budget, every half power of two (for a chart).
    pub curve: Vec<CurvePoint>,
    /// The L1's actual hit ratio for this kind (TinyLFU admission, shared budget).
    pub l1_hit_ratio: f64,
    /// The share of keys sampled now.
    pub sample_rate: f64,
    /// Keys in the sample.
    pub sampled_keys: u64,
    /// Requests to sampled keys.
    pub sampled_requests: u64,
    /// L1 hits on sampled keys left out of the curve: a hit never waits for the sample, and
    /// one that finds it held by another thread (recording a miss, a write or a hit) is
    /// dropped and counted here. Each is a request the curve did not see, as if to an
    /// unsampled key.
    pub dropped_hits: u64,
}
