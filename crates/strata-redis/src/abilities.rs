//! The Redis backend's abilities: leases, version counters, listing, memory usage.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use strata_backend::{
    BackendError, BackendResult, ErrorKind, Leases, Listing, MemoryUsage, Publisher, ScanPage,
    VersionCounters, check_key_in, check_set_in,
};

use crate::backend::{RedisBackend, match_prefix};
use crate::entries::ms;
use crate::scripts::Call;
use crate::topology::is_internal;
use strata_backend::Backend;

/// A version counter as the scripts return it (a string: Lua numbers would lose digits).
fn parse_version(reply: redis::Value) -> BackendResult<u64> {
    let text: String = redis::from_redis_value(reply).map_err(|e| {
        BackendError::new(ErrorKind::Server, format!("unexpected counter reply: {e}"))
    })?;
    text.parse().map_err(|_| {
        BackendError::new(
            ErrorKind::Server,
            format!("version counter holds {text:?}, not an unsigned integer"),
        )
    })
}

#[async_trait]
impl Leases for RedisBackend {
    async fn acquire_lease(&self, key: &str, token: &str, ttl: Duration) -> BackendResult<bool> {
        check_set_in(&self.config().namespace, key, 0, ttl, usize::MAX)?;
        let (_, at) = self.place(key)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(&at.lease)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(ms(ttl));
        let reply = self
            .exec_one("SET NX (lease)", Call::cmd(at.lease.as_str(), cmd))
            .await?;
        Ok(reply != redis::Value::Nil)
    }

    async fn set_under_lease(
        &self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
    ) -> BackendResult<bool> {
        self.write(key, &value, ttl, Some(token)).await
    }

    async fn release_lease(&self, key: &str, token: &str) -> BackendResult<()> {
        check_key_in(&self.config().namespace, key)?;
        let (_, at) = self.place(key)?;
        let call = self
            .scripts
            .delete_if_equals
            .call(vec![at.lease])
            .arg(token.as_bytes());
        self.exec_one("release lease", call).await?;
        Ok(())
    }
}

#[async_trait]
impl VersionCounters for RedisBackend {
    async fn versions(
        &self,
        keys: &[&str],
        init: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<Vec<u64>> {
        keys.iter()
            .try_for_each(|k| check_key_in(&self.config().namespace, k))?;
        // One call per counter (they may live in different slots): one round trip in all.
        let calls = keys
            .iter()
            .map(|k| {
                let key = self.physical(k)?.into_owned();
                Ok(self
                    .scripts
                    .versions
                    .call(vec![key])
                    .num(init)
                    .num(ttl.map_or(0, ms)))
            })
            .collect::<BackendResult<Vec<_>>>()?;
        let replies = self.exec("versions script", &calls).await?;
        replies
            .into_iter()
            .map(|reply| match reply {
                redis::Value::Array(mut one) if one.len() == 1 => parse_version(one.remove(0)),
                other => parse_version(other),
            })
            .collect()
    }

    async fn bump_version(
        &self,
        key: &str,
        at_least: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<u64> {
        check_key_in(&self.config().namespace, key)?;
        let call = self
            .scripts
            .bump_version
            .call(vec![self.physical(key)?.into_owned()])
            .num(at_least)
            .num(ttl.map_or(0, ms));
        parse_version(self.exec_one("bump_version script", call).await?)
    }
}

#[async_trait]
impl Listing for RedisBackend {
    async fn scan(
        &self,
        prefix: &str,
        cursor: Option<String>,
        count: usize,
    ) -> BackendResult<ScanPage> {
        let cursor = cursor.unwrap_or_else(|| "0".to_owned());
        let pattern = match_prefix(prefix);
        let step = self.topology.scan_step(&pattern, &cursor, count.max(1));
        let (next, keys) = self.run("SCAN", step).await?;
        Ok(ScanPage {
            keys: keys
                .into_iter()
                .filter(|k| !is_internal(self.namespace(), k))
                .map(|k| self.topology.logical_name(k, &self.quotas))
                .collect(),
            next: (next != "0").then_some(next),
        })
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> BackendResult<bool> {
        self.remove(key, Some(expected)).await
    }
}

#[async_trait]
impl MemoryUsage for RedisBackend {
    async fn memory_usage(&self, key: &str) -> BackendResult<Option<u64>> {
        check_key_in(&self.config().namespace, key)?;
        let physical = self.physical(key)?;
        let mut cmd = redis::cmd("MEMORY");
        cmd.arg("USAGE")
            .arg(physical.as_ref())
            .arg("SAMPLES")
            .arg(0);
        let reply = self
            .exec_one("MEMORY USAGE", Call::cmd(physical, cmd))
            .await?;
        redis::from_redis_value(reply)
            .map_err(|e| BackendError::new(ErrorKind::Server, format!("MEMORY USAGE reply: {e}")))
    }
}

#[async_trait]
impl Publisher for RedisBackend {
    async fn publish(&self, channel: &str, message: &[u8]) -> BackendResult<()> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(message);
        self.exec_one("PUBLISH", Call::cmd("", cmd)).await?;
        Ok(())
    }
}
