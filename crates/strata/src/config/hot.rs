//! The `[hot_keys]` table: the per-kind heavy-hitter sketch that hot-key reports and hot-set
//! warming read.

use serde::{Deserialize, Serialize};
use strata_stats::HotKeysConfig;

use super::CacheConfig;
use super::check::Invalid;

/// The most counters a kind's sketch may keep.
const MAX_CAPACITY: usize = 65_536;

/// Settings of the hot-key sketches (`[hot_keys]`; `[kinds.<kind>] hot_keys = false` turns one
/// kind's off).
///
/// Each kind keeps a bounded Space-Saving sketch of the keys it is asked for, fed by one
/// lookup in `sample_every` (the L1 hit path pays a per-thread random number; the sampled
/// lookup takes the sketch's lock, or is dropped when another thread holds it).
/// [`Admin::hottest`](crate::Admin::hottest) reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HotKeySettings {
    /// Keep a sketch per kind (default true).
    pub enabled: bool,
    /// Counters per kind, 1 to 65,536 (default 1,024; each costs about 100 bytes). A key asked
    /// for more than `lookups / capacity` times is always in the sketch.
    pub capacity: usize,
    /// One lookup in this many is recorded (default 16; 1 records every lookup).
    pub sample_every: u32,
}

impl Default for HotKeySettings {
    fn default() -> Self {
        let d = HotKeysConfig::default();
        Self {
            enabled: true,
            capacity: d.capacity,
            sample_every: d.sample_every,
        }
    }
}

impl CacheConfig {
    /// The sketch `kind` keeps, if any: `[hot_keys]` unless `[kinds.<kind>] hot_keys` says
    /// otherwise.
    pub fn hot_keys_of(&self, kind: &str) -> Option<HotKeysConfig> {
        let on = self
            .kinds
            .get(kind)
            .and_then(|k| k.hot_keys)
            .unwrap_or(self.hot_keys.enabled);
        on.then(|| HotKeysConfig::new(self.hot_keys.capacity, self.hot_keys.sample_every))
    }

    /// Checks `[hot_keys]`.
    pub(super) fn validate_hot_keys(&self) -> Result<(), Invalid> {
        let h = &self.hot_keys;
        if !(1..=MAX_CAPACITY).contains(&h.capacity) {
            return Err(Invalid::new(
                "hot_keys.capacity",
                format!("{} is outside 1..={MAX_CAPACITY}", h.capacity),
            ));
        }
        if h.sample_every == 0 {
            return Err(Invalid::new(
                "hot_keys.sample_every",
                "0 (1 records every lookup)",
            ));
        }
        Ok(())
    }
}
