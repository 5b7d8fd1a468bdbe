//! The `[warm]` table: hot-set warming (each instance records its hottest keys per kind in the
//! backend; a starting instance fills its L1 from L2 for them before it reports ready).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::CacheConfig;
use super::check::Invalid;

/// The most keys a kind's hot set may hold.
const MAX_HOT_SET: usize = 100_000;

/// Settings of hot-set warming (`[warm]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct WarmSettings {
    /// Record this instance's hottest keys per kind in the backend every `publish_every`
    /// (`{prefix}:#hot:{kind}`, merged with what other instances recorded), and fill L1 from
    /// L2 for them in [`Cache::ready`](crate::Cache::ready) (default true; needs
    /// `[hot_keys]`).
    pub hot_set: bool,
    /// Keys recorded per kind, 1 to 100,000 (default 1,000).
    pub hot_set_size: usize,
    /// How often an instance records its hot set (default 30s).
    #[serde(with = "humantime_serde")]
    pub publish_every: Duration,
    /// How long a recorded hot set lives without a new record (default 1h).
    #[serde(with = "humantime_serde")]
    pub hot_set_ttl: Duration,
    /// How long [`Cache::ready`](crate::Cache::ready) waits for the start-up warming (default
    /// 10s); past it, ready returns and warming goes on in the background.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
}

impl Default for WarmSettings {
    fn default() -> Self {
        Self {
            hot_set: true,
            hot_set_size: 1_000,
            publish_every: Duration::from_secs(30),
            hot_set_ttl: Duration::from_secs(3600),
            deadline: Duration::from_secs(10),
        }
    }
}

impl CacheConfig {
    /// Checks `[warm]`.
    pub(super) fn validate_warm(&self) -> Result<(), Invalid> {
        let w = &self.warm;
        if !(1..=MAX_HOT_SET).contains(&w.hot_set_size) {
            return Err(Invalid::new(
                "warm.hot_set_size",
                format!("{} is outside 1..={MAX_HOT_SET}", w.hot_set_size),
            ));
        }
        for (key, d) in [
            ("warm.publish_every", w.publish_every),
            ("warm.hot_set_ttl", w.hot_set_ttl),
            ("warm.deadline", w.deadline),
        ] {
            if d.is_zero() {
                return Err(Invalid::new(key, "zero"));
            }
        }
        if w.hot_set_ttl < w.publish_every {
            return Err(Invalid::new(
                "warm.hot_set_ttl",
                "shorter than warm.publish_every: the hot set would expire between records",
            ));
        }
        Ok(())
    }
}
