//! Per-kind quotas enforced inside Redis: entry and byte budgets with LRU, Random or TTL
//! eviction, kept atomically by the quota scripts (`lua/quota_*.lua`).

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::Value;
use strata_backend::{BackendError, BackendResult, ErrorKind};

use crate::entries::{Entries, Place, Plain, ms, read_and_lease_call};
use crate::scripts::{Call, Scripts, quota_set_code};
pub use strata_eviction::{EvictionPolicy, Limits};

/// A budget for the keys starting with `prefix`: a kind (`"{prefix}:{app_version}:{kind}:"`),
/// or the whole namespace (every entry of the cache under one budget).
///
/// Writes under a quota go through a script that evicts, by `policy`, until the new entry fits
/// (never more than `max_entries` entries or `max_bytes` bytes of key + value), so concurrent
/// writers on many instances never overshoot. The index lives beside the keys, outside the
/// entries' prefix: `{namespace}#quota:{rest of prefix}` + `lru` / `exp` / `size` / `totals`. Reads of an LRU
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
#[derive(Debug)]
pub(crate) struct QuotaIndex {
    pub(crate) quota: Quota,
    pub(crate) lru: String,
    pub(crate) exp: String,
    pub(crate) size: String,
    pub(crate) totals: String,
    /// What the kind's physical names end with (a cluster: the hash tag of its slot).
    pub(crate) suffix: String,
    /// Entries the scripts evicted through this backend.
    evictions: AtomicU64,
}

impl QuotaIndex {
    /// Checks `quota` against the backend's `namespace` and names its index keys; `suffix`
    /// gives the topology's ending of a quota's names for the quota prefix without namespace.
    pub(crate) fn new(
        namespace: &str,
        quota: Quota,
        suffix: impl Fn(&str) -> String,
    ) -> BackendResult<Self> {
        let config = |msg: String| BackendError::new(ErrorKind::Config, msg);
        let Some(rest) = quota.prefix.strip_prefix(namespace) else {
            return Err(config(format!(
                "quota prefix {:?} is outside the backend's namespace {namespace:?}",
                quota.prefix
            )));
        };
        if quota.limits.max_entries == Some(0) || quota.limits.max_bytes == Some(0) {
            return Err(config(format!(
                "quota {:?}: a limit of 0 would refuse every write; leave it unset for no limit",
                quota.prefix
            )));
        }
        let suffix = suffix(rest);
        if !suffix.is_empty() && quota.prefix.contains(['{', '}']) {
            return Err(config(format!(
                "quota prefix {:?} has hash-tag braces; on a cluster the quota chooses its kind's slot",
                quota.prefix
            )));
        }
        let base = format!("{namespace}#quota:{rest}");
        Ok(Self {
            lru: format!("{base}lru{suffix}"),
            exp: format!("{base}exp{suffix}"),
            size: format!("{base}size{suffix}"),
            totals: format!("{base}totals{suffix}"),
            suffix,
            quota,
            evictions: AtomicU64::new(0),
        })
    }

    pub(crate) fn policy_name(&self) -> &'static str {
        match self.quota.policy {
            EvictionPolicy::Lru => "lru",
            EvictionPolicy::Ttl => "ttl",
            _ => "random",
        }
    }

    /// Entries the scripts evicted through this backend so far.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Whether reads record their access (LRU).
    pub(crate) fn tracks_reads(&self) -> bool {
        self.quota.policy == EvictionPolicy::Lru
    }

    /// Whether `physical` is one of this quota's index keys.
    pub(crate) fn is_index_key(&self, physical: &str) -> bool {
        [&self.lru, &self.exp, &self.size, &self.totals]
            .iter()
            .any(|k| k.as_str() == physical)
    }

    /// The KEYS of a quota write or delete of the entry at `at`.
    pub(crate) fn keys_of(&self, at: Place<'_>) -> Vec<String> {
        vec![
            at.entry.into_owned(),
            at.lease,
            self.lru.clone(),
            self.exp.clone(),
            self.size.clone(),
            self.totals.clone(),
        ]
    }

    /// What the write script's `code` means for the entry `key` of `value_len` bytes: stored
    /// (after evicting `code` entries), not stored (the lease was lost), or refused.
    pub(crate) fn outcome(&self, key: &str, value_len: usize, code: i64) -> BackendResult<bool> {
        match code {
            quota_set_code::LEASE_LOST => Ok(false),
            quota_set_code::TOO_LARGE => Err(BackendError::invalid_input(format!(
                "entry {key} of {} bytes is larger than its quota of {} bytes",
                key.len() + value_len,
                self.quota.limits.max_bytes.unwrap_or(0)
            ))),
            evicted => {
                self.evictions
                    .fetch_add(evicted.max(0).unsigned_abs(), Ordering::Relaxed);
                Ok(true)
            }
        }
    }
}

/// The entries of a kind with a quota: written, evicted and deleted by the quota scripts.
impl Entries for QuotaIndex {
    fn reads_plainly(&self) -> bool {
        !self.tracks_reads()
    }

    fn get<'a>(&'a self, scripts: &'a Scripts, entry: Cow<'a, str>) -> Call<'a> {
        if !self.tracks_reads() {
            return Plain.get(scripts, entry);
        }
        let keys = vec![
            entry.into_owned(),
            self.lru.clone(),
            self.exp.clone(),
            self.size.clone(),
            self.totals.clone(),
        ];
        scripts.quota_get.call(keys)
    }

    fn set<'a>(
        &'a self,
        scripts: &'a Scripts,
        at: Place<'a>,
        value: &'a [u8],
        ttl: Duration,
        token: Option<&'a str>,
    ) -> Call<'a> {
        let limits = &self.quota.limits;
        scripts
            .quota_set
            .call(self.keys_of(at))
            .arg(value)
            .num(ms(ttl))
            .num(limits.max_entries.unwrap_or(0))
            .num(limits.max_bytes.unwrap_or(0))
            .arg(self.policy_name().as_bytes())
            .arg(token.unwrap_or("").as_bytes())
    }

    fn delete<'a>(
        &'a self,
        scripts: &'a Scripts,
        at: Place<'a>,
        expected: Option<&'a [u8]>,
    ) -> Call<'a> {
        let call = scripts.quota_del.call(self.keys_of(at));
        match expected {
            Some(bytes) => call.arg(&b"1"[..]).arg(bytes),
            None => call.arg(&b"0"[..]).arg(&b""[..]),
        }
    }

    fn stored(&self, key: &str, value_len: usize, reply: Value) -> BackendResult<bool> {
        self.outcome(key, value_len, crate::errors::int(&reply)?)
    }

    fn read_and_lease<'a>(
        &'a self,
        scripts: &'a Scripts,
        at: Place<'a>,
        lease: (&'a str, Duration, bool),
    ) -> Call<'a> {
        let mut keys = vec![at.entry.into_owned(), at.lease];
        if self.tracks_reads() {
            keys.extend(self.index_keys());
        }
        read_and_lease_call(scripts, keys, lease)
    }

    fn index_keys(&self) -> Vec<String> {
        vec![
            self.lru.clone(),
            self.exp.clone(),
            self.size.clone(),
            self.totals.clone(),
        ]
    }
}

/// The quota covering `key`: the one with the longest matching prefix.
pub(crate) fn quota_of<'a>(quotas: &'a [QuotaIndex], key: &str) -> Option<&'a QuotaIndex> {
    quotas
        .iter()
        .filter(|q| key.starts_with(&q.quota.prefix))
        .max_by_key(|q| q.quota.prefix.len())
}
