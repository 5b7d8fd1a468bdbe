//! The coherence mode an instance runs in, as the environment variables that choose it.

use std::fmt;

/// How an instance's L1 learns of changes made elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// Redis-pushed invalidation (RESP3 client tracking).
    Tracking,
    /// The pub/sub invalidation bus.
    Bus,
    /// Both channels.
    Both,
    /// Neither: L1 converges only through its lifetime cap.
    Off,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Tracking => "tracking",
            Mode::Bus => "bus",
            Mode::Both => "both",
            Mode::Off => "off",
        })
    }
}

/// Whether this build of the cache has the `coherence` setting (else only `bus = true|false`).
pub(crate) fn coherence_setting_exists() -> bool {
    strata::CacheConfig::from_toml_str("coherence = \"bus\"").is_ok()
}

impl Mode {
    /// The environment that selects this mode, or why this build cannot run it.
    pub(crate) fn env(self) -> Result<Vec<(&'static str, String)>, String> {
        if coherence_setting_exists() {
            return Ok(vec![("STRATA_COHERENCE", self.to_string())]);
        }
        match self {
            Mode::Bus => Ok(vec![("STRATA_BUS", "true".into())]),
            Mode::Off => Ok(vec![("STRATA_BUS", "false".into())]),
            Mode::Tracking | Mode::Both => Err(format!(
                "this build has no `coherence` setting: mode `{self}` cannot be selected (bus and off can)"
            )),
        }
    }
}
