//! Server-wide mode: letting Redis's own `maxmemory-policy` enforce an eviction policy.

use strata_backend::{Backend, BackendResult};
use strata_eviction::EvictionPolicy;

use crate::RedisBackend;

/// The Redis `maxmemory-policy` that enforces `policy` server-wide: `allkeys-lru`,
/// `allkeys-random` or `volatile-ttl` (every Strata entry has a TTL, so `volatile-ttl` covers
/// them all).
pub fn server_policy(policy: EvictionPolicy) -> &'static str {
    match policy {
        EvictionPolicy::Lru => "allkeys-lru",
        EvictionPolicy::Random => "allkeys-random",
        _ => "volatile-ttl",
    }
}

impl RedisBackend {
    /// Makes the server enforce `policy` on every key (`CONFIG SET maxmemory-policy` to
    /// [`server_policy`]`(policy)`, and `maxmemory` to `max_bytes` when given). Needs the
    /// `CONFIG` permission, which the cache's own ACL user should not have: an operator's tool
    /// (`strata server-policy`), not something an application does at start. Answers the
    /// server's (policy, maxmemory) afterwards.
    pub async fn enforce_server_policy(
        &self,
        policy: EvictionPolicy,
        max_bytes: Option<u64>,
    ) -> BackendResult<(String, u64)> {
        let mut conn = self.connection();
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("SET")
            .arg("maxmemory-policy")
            .arg(server_policy(policy));
        if let Some(bytes) = max_bytes {
            cmd.arg("maxmemory").arg(bytes);
        }
        let set = async {
            cmd.query_async::<()>(&mut conn)
                .await
                .map_err(|e| crate::errors::map_err("CONFIG SET", e))
        };
        self.run("CONFIG SET", set).await?;
        let info = self.info().await?;
        Ok((
            info.eviction_policy.unwrap_or_default(),
            info.max_bytes.unwrap_or(0),
        ))
    }

    /// Whether the server would refuse writes when full with nothing bounding the cache: it
    /// runs `noeviction` and this backend has no quota. Logged as a warning by the facade at
    /// start and shown by the health route.
    pub async fn unbounded_noeviction(&self) -> BackendResult<bool> {
        Ok(self.info().await?.writes_fail_when_full == Some(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_policy_has_its_server_policy() {
        assert_eq!(server_policy(EvictionPolicy::Lru), "allkeys-lru");
        assert_eq!(server_policy(EvictionPolicy::Random), "allkeys-random");
        assert_eq!(server_policy(EvictionPolicy::Ttl), "volatile-ttl");
    }

    #[test]
    #[allow(deprecated)]
    fn the_deprecated_redis_policy_still_answers_the_same() {
        for p in [
            EvictionPolicy::Lru,
            EvictionPolicy::Random,
            EvictionPolicy::Ttl,
        ] {
            assert_eq!(p.redis_policy(), server_policy(p), "{p}");
        }
    }
}
