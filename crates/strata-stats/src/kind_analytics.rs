//! The analytics events of [`KindStats`]: what the key sample, the miss causes and the entry
//! sizes are fed with.

use std::time::Duration;

use crate::causes::MissCause;
use crate::kind::{KindStats, Tier};

impl KindStats {
    /// Whether this kind runs analytics (the key sample, miss causes, entry sizes).
    pub fn analytics_enabled(&self) -> bool {
        self.analytics.is_some()
    }

    /// An L1 hit on `key`, for the miss-ratio curve (cheap unless the key is sampled).
    pub fn l1_hit_on(&self, key: &str) {
        if let Some(a) = &self.analytics {
            a.l1_hit(key);
        }
    }

    /// [`l1_hit_on`](Self::l1_hit_on) for a key whose [`sample_hash`](crate::mrc::sample_hash)
    /// is `hash` (computed when the entry was stored): the hit hashes nothing.
    #[inline]
    pub fn l1_hit_hashed(&self, hash: u64) {
        if let Some(a) = &self.analytics {
            a.l1_hit_hash(hash);
        }
    }

    /// A miss in `tier` on `key` at `now_ms`: `seen` is the cause when the entry told it, `None` when the tier did not hold the key (the key sample explains it).
    pub fn tier_miss_on(
        &self,
        tier: Tier,
        latency: Duration,
        key: &str,
        seen: Option<MissCause>,
        now_ms: u64,
    ) {
        self.tier_miss(tier, latency);
        self.analyze_miss(tier, key, seen, now_ms);
    }

    /// [`tier_miss_on`](Self::tier_miss_on) of a miss whose latency was not measured (the L2
    /// read times only a sample): counted, analyzed, not in the latency histogram.
    pub fn tier_miss_untimed_on(
        &self,
        tier: Tier,
        key: &str,
        seen: Option<MissCause>,
        now_ms: u64,
    ) {
        self.tier_miss_untimed(tier);
        self.analyze_miss(tier, key, seen, now_ms);
    }

    fn analyze_miss(&self, tier: Tier, key: &str, seen: Option<MissCause>, now_ms: u64) {
        if let Some(a) = &self.analytics {
            match tier {
                Tier::L1 => a.l1_miss(key, seen, now_ms),
                Tier::L2 => a.l2_miss(key, seen, now_ms),
            }
        }
    }

    /// An entry of `size` bytes (decoded), `age_ms` old, read from L2 under `key`; it stays
    /// there until `l2_until_ms` (its physical expiry).
    pub fn l2_entry(&self, key: &str, size: u64, age_ms: u64, l2_until_ms: u64) {
        if let Some(a) = &self.analytics {
            a.l2_found(key, size, age_ms, l2_until_ms);
        }
    }

    /// `key` was written to L1 until `l1_until_ms` and to L2 until `l2_until_ms` (0: not that
    /// tier).
    pub fn filled(&self, key: &str, l1_until_ms: u64, l2_until_ms: u64) {
        if let Some(a) = &self.analytics {
            a.filled(key, l1_until_ms, l2_until_ms);
        }
    }

    /// L1 evicted `key` to stay within its budget: counted, and remembered for the miss causes.
    pub fn l1_evicted(&self, key: &str) {
        self.eviction(Tier::L1);
        if let Some(a) = &self.analytics {
            a.l1_evicted(key);
        }
    }

    /// `key` was invalidated.
    pub fn forgotten(&self, key: &str) {
        if let Some(a) = &self.analytics {
            a.forgotten(key);
        }
    }

    /// Every key of this kind was invalidated in L1, and with `l2` in L2 too.
    pub fn forgotten_all(&self, l2: bool) {
        if let Some(a) = &self.analytics {
            a.forgotten_all(l2);
        }
    }
}
