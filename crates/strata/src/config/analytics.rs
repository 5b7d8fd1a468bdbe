//! `[analytics]`: the key sample behind the miss causes and the miss-ratio curve.

use serde::{Deserialize, Serialize};

use super::check::Invalid;

/// Most keys a kind's sample may hold (each about 100 bytes).
const MAX_SAMPLE_KEYS: usize = 1_000_000;

/// Settings of the analytics: misses by cause, entry sizes and ages, and the miss-ratio curve
/// (see docs/monitoring.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AnalyticsSettings {
    /// Whether analytics run (default true). Off, the hit path does not hash keys and the
    /// causes, sizes and curve are absent from the statistics.
    pub enabled: bool,
    /// Most keys sampled per kind (default 8,192; 1 to 1,000,000). The sample's rate drops as
    /// it fills, so memory stays bounded whatever the key space.
    pub sample_keys: usize,
    /// Share of keys sampled at first (default 0.1; above 0, at most 1). Higher is more
    /// accurate on small key spaces and costs more on the hit path.
    pub sample_rate: f64,
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        let d = strata_stats::AnalyticsConfig::default();
        Self {
            enabled: d.enabled,
            sample_keys: d.sample_keys,
            sample_rate: d.sample_rate,
        }
    }
}

impl AnalyticsSettings {
    /// Values that parse but make no sense.
    pub(super) fn check(&self) -> Result<(), Invalid> {
        if !(1..=MAX_SAMPLE_KEYS).contains(&self.sample_keys) {
            return Err(Invalid::new(
                "analytics.sample_keys",
                format!("{} is outside 1..={MAX_SAMPLE_KEYS}", self.sample_keys),
            ));
        }
        if !(self.sample_rate > 0.0 && self.sample_rate <= 1.0) {
            return Err(Invalid::new(
                "analytics.sample_rate",
                format!(
                    "{} is outside (0, 1] (set analytics.enabled = false to turn analytics off)",
                    self.sample_rate
                ),
            ));
        }
        Ok(())
    }
}
