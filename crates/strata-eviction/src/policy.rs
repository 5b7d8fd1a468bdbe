//! The eviction policies.

use std::fmt;
use std::str::FromStr;

/// Which entry leaves first when a limit is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EvictionPolicy {
    /// Least recently accessed first (an access is an insert or a [`touch`](crate::Evictor::touch)).
    #[default]
    Lru,
    /// A uniformly random entry (seedable, for repeatable runs).
    Random,
    /// Shortest remaining time to live first; entries without expiry go last, oldest write
    /// first among equals.
    Ttl,
}

impl EvictionPolicy {
    /// The lowercase name used in configuration ("lru", "random", "ttl").
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lru => "lru",
            Self::Random => "random",
            Self::Ttl => "ttl",
        }
    }

    /// The Redis `maxmemory-policy` that enforces this policy server-wide: `allkeys-lru`,
    /// `allkeys-random` or `volatile-ttl`.
    #[deprecated(
        since = "0.2.0",
        note = "use strata_redis::server_policy(policy): the Redis mapping lives with the Redis backend"
    )]
    pub fn redis_policy(self) -> &'static str {
        match self {
            Self::Lru => "allkeys-lru",
            Self::Random => "allkeys-random",
            Self::Ttl => "volatile-ttl",
        }
    }
}

impl fmt::Display for EvictionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown policy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown eviction policy {0:?}: expected one of \"lru\", \"random\", \"ttl\"")]
pub struct UnknownPolicy(pub String);

impl FromStr for EvictionPolicy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "lru" => Ok(Self::Lru),
            "random" => Ok(Self::Random),
            "ttl" => Ok(Self::Ttl),
            _ => Err(UnknownPolicy(s.to_owned())),
        }
    }
}
