//! Per-kind quotas enforced inside Redis: entry and byte budgets with LRU, Random or TTL
//! eviction, kept atomically by Lua scripts (see `scripts.rs`).

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use strata_backend::{BackendError, BackendInfo, BackendResult, ErrorKind};

use crate::RedisBackend;
pub use strata_eviction::{EvictionPolicy, Limits};

/// A budget for the keys starting with `prefix` (a kind: `"{prefix}:{app_version}:{kind}:"`).
///
/// Writes under a quota go through a script that evicts, by `policy`, until the new entry fits
/// (never more than `max_entries` entries or `max_bytes` bytes of key + value), so concurrent
/// writers on many instances never overshoot. The index lives beside the keys:
/// `{namespace}__quota:{rest of prefix}` + `lru` / `exp` / `size` / `totals`. Reads of an LRU
/// quota record the access (one script call instead of a `GET`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quota {
    /// The keys it covers start with this.
    pub prefix: String,
    /// Entry and byte limits (`None`: unlimited).
    pub limits: Limits,
    /// Which entry goes first.
    pub policy: EvictionPolicy,
}

impl Quota {
    /// A quota on the keys starting with `prefix`.
    pub fn new(prefix: impl Into<String>, limits: Limits, policy: EvictionPolicy) -> Self {
        Self {
            prefix: prefix.into(),
            limits,
            policy,
        }
    }
}

/// A quota with the names of its index keys, ready for the scripts.
#[derive(Debug, Clone)]
pub(crate) struct QuotaIndex {
    pub(crate) quota: Quota,
    pub(crate) lru: String,
    pub(crate) exp: String,
    pub(crate) size: String,
    pub(crate) totals: String,
    /// On a cluster: the hash tag every key of the kind and of its index carries.
    pub(crate) tag: Option<String>,
}

impl QuotaIndex {
    /// Checks `quota` against the backend's `namespace` and names its index keys (on a
    /// `cluster`, tagged to share the kind's slot).
    pub(crate) fn new(namespace: &str, quota: Quota, cluster: bool) -> BackendResult<Self> {
        let config = |msg: String| BackendError::new(ErrorKind::Config, msg);
        let Some(rest) = quota.prefix.strip_prefix(namespace) else {
            return Err(config(format!(
                "quota prefix {:?} is outside the backend's namespace {namespace:?}",
                quota.prefix
            )));
        };
        if rest.is_empty() {
            return Err(config(format!(
                "quota prefix {:?} covers the whole namespace; give it a kind",
                quota.prefix
            )));
        }
        if quota.limits.max_entries == Some(0) || quota.limits.max_bytes == Some(0) {
            return Err(config(format!(
                "quota {:?}: a limit of 0 would refuse every write; leave it unset for no limit",
                quota.prefix
            )));
        }
        if cluster && quota.prefix.contains(['{', '}']) {
            return Err(config(format!(
                "quota prefix {:?} has hash-tag braces; on a cluster the quota chooses its kind's slot",
                quota.prefix
            )));
        }
        let tag = cluster.then(|| crate::layout::quota_tag(rest));
        let suffix = tag.as_deref().unwrap_or("");
        let base = format!("{namespace}__quota:{rest}");
        Ok(Self {
            lru: format!("{base}lru{suffix}"),
            exp: format!("{base}exp{suffix}"),
            size: format!("{base}size{suffix}"),
            totals: format!("{base}totals{suffix}"),
            tag,
            quota,
        })
    }

    pub(crate) fn policy_name(&self) -> &'static str {
        match self.quota.policy {
            EvictionPolicy::Lru => "lru",
            EvictionPolicy::Ttl => "ttl",
            _ => "random",
        }
    }

    pub(crate) fn tracks_reads(&self) -> bool {
        self.quota.policy == EvictionPolicy::Lru
    }
}

/// The quota covering `key`: the one with the longest matching prefix.
pub(crate) fn quota_of<'a>(quotas: &'a [QuotaIndex], key: &str) -> Option<&'a QuotaIndex> {
    quotas
        .iter()
        .filter(|q| key.starts_with(&q.quota.prefix))
        .max_by_key(|q| q.quota.prefix.len())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

impl RedisBackend {
    /// `GET` under an LRU quota: records the access, cleans the index of a vanished key. Like
    /// the other quota operations it takes the entry's physical name (see `layout.rs`).
    pub(crate) async fn quota_get(
        &self,
        q: &QuotaIndex,
        key: &str,
    ) -> BackendResult<Option<Bytes>> {
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.quota_get.key(key);
        invocation
            .key(&q.lru)
            .key(&q.exp)
            .key(&q.size)
            .key(&q.totals);
        let v: Option<Vec<u8>> = self
            .run(
                "quota get script",
                crate::scripts::invoke(&invocation, &mut conn),
            )
            .await?;
        Ok(v.map(Bytes::from))
    }

    /// A write under a quota (`token` non-empty: only while that lease is held). Returns the
    /// number of entries evicted, or -1 when the lease was not held.
    pub(crate) async fn quota_set(
        &self,
        q: &QuotaIndex,
        key: &str,
        value: &Bytes,
        ttl: Duration,
        token: &str,
    ) -> BackendResult<i64> {
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.quota_set.key(key);
        invocation
            .key(self.lease_of(key)?)
            .key(&q.lru)
            .key(&q.exp)
            .key(&q.size)
            .key(&q.totals)
            .arg(value.as_ref())
            .arg(ms(ttl))
            .arg(now_ms())
            .arg(q.quota.limits.max_entries.unwrap_or(0))
            .arg(q.quota.limits.max_bytes.unwrap_or(0))
            .arg(q.policy_name())
            .arg(token);
        let evicted: i64 = self
            .run(
                "quota set script",
                crate::scripts::invoke(&invocation, &mut conn),
            )
            .await
            .map_err(|e| {
                let detail = std::error::Error::source(&e).map(ToString::to_string);
                match detail {
                    Some(d) if d.contains("larger than its quota") => {
                        let d = d.split("ERR ").nth(1).unwrap_or(&d).to_owned();
                        BackendError::invalid_input(d)
                    }
                    _ => e,
                }
            })?;
        if evicted > 0 {
            self.quota_evictions
                .fetch_add(evicted.unsigned_abs(), Ordering::Relaxed);
        }
        Ok(evicted)
    }

    /// A delete under a quota (with `expected`: only while the key holds those bytes).
    pub(crate) async fn quota_del(
        &self,
        q: &QuotaIndex,
        key: &str,
        expected: Option<&[u8]>,
    ) -> BackendResult<bool> {
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.quota_del.key(key);
        invocation
            .key(self.lease_of(key)?)
            .key(&q.lru)
            .key(&q.exp)
            .key(&q.size)
            .key(&q.totals);
        match expected {
            Some(bytes) => invocation.arg("1").arg(bytes),
            None => invocation.arg("0").arg(""),
        };
        let n: u64 = self
            .run(
                "quota delete script",
                crate::scripts::invoke(&invocation, &mut conn),
            )
            .await?;
        Ok(n > 0)
    }

    /// Adds each quota's usage to `info` (`quota.{prefix}.entries/bytes/limit`) and the
    /// evictions this backend's quota scripts made.
    pub(crate) async fn quota_info(&self, info: &mut BackendInfo) -> BackendResult<()> {
        if self.quotas.is_empty() {
            return Ok(());
        }
        for q in self.quotas.iter() {
            let mut pipe = redis::pipe();
            pipe.cmd("HLEN")
                .arg(&q.size)
                .cmd("HGET")
                .arg(&q.totals)
                .arg("bytes");
            let mut conn = self.conn.clone();
            let (entries, bytes): (u64, Option<i64>) =
                self.run("quota usage", pipe.query_async(&mut conn)).await?;
            let p = &q.quota.prefix;
            info.details
                .insert(format!("quota.{p}.entries"), entries.to_string());
            info.details.insert(
                format!("quota.{p}.bytes"),
                bytes.unwrap_or(0).max(0).to_string(),
            );
            info.details.insert(
                format!("quota.{p}.limits"),
                format!(
                    "{} entries, {} bytes, {}",
                    q.quota
                        .limits
                        .max_entries
                        .map_or("unlimited".into(), |n| n.to_string()),
                    q.quota
                        .limits
                        .max_bytes
                        .map_or("unlimited".into(), |n| n.to_string()),
                    q.policy_name()
                ),
            );
        }
        info.details.insert(
            "quota.evictions".into(),
            self.quota_evictions.load(Ordering::Relaxed).to_string(),
        );
        Ok(())
    }
}
