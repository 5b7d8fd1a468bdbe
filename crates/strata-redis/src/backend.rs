//! `RedisBackend`: the Backend trait on Redis, one server or a cluster.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use redis::Value;
use strata_backend::batch::{Done, Step};
use strata_backend::{
    Backend, BackendError, BackendInfo, BackendResult, Capabilities, ErrorKind, KeyTtl, Leases,
    Listing, MemoryUsage, Publisher, SetEntry, VersionCounters, check_key_in, check_set_in,
};

use crate::coalesce::Coalescer;
use crate::config::RedisConfig;
use crate::conn::RedisConnection;
use crate::entries::{Entries, Place, Plain};
use crate::errors::int;
use crate::quota::{QuotaIndex, quota_of};
use crate::scripts::{Call, Scripts};
use crate::topology::{Topology, exec, exec_one, is_internal};
use crate::wire::{Target, Wire};

/// Keys per batch (`MGET`, pipeline, `UNLINK`), so no single command blocks the server for long.
pub(crate) const BATCH: usize = 1000;

/// The Strata backend on Redis: one server through a redis-rs `ConnectionManager` that
/// reconnects automatically with exponential backoff, or a Redis Cluster
/// ([`RedisConfig::cluster`], `cluster` feature) through a cluster connection that follows slot
/// moves and failovers.
///
/// Every operation is bounded by [`RedisConfig::operation_timeout`]. Writes and deletes are
/// scripts that keep an entry's load lease (and its kind's quota) in step; a batch is one
/// pipeline on one server and one pipeline per slot on a cluster. `clear` walks the namespace
/// with `SCAN MATCH` (on every primary of a cluster) and removes keys with `UNLINK` in batches
/// (never `KEYS`, never `FLUSHDB`).
#[derive(Clone)]
pub struct RedisBackend {
    pub(crate) topology: Arc<dyn Topology>,
    config: Arc<RedisConfig>,
    pub(crate) scripts: Arc<Scripts>,
    pub(crate) quotas: Arc<[QuotaIndex]>,
    /// Single-key reads on a pipelined connection of their own (one server, no TLS).
    pub(crate) wire: Option<Arc<Wire>>,
    /// Single-key reads sent together through redis-rs ([`RedisConfig::coalesce_reads`]) where
    /// there is no read line (a cluster, TLS).
    pub(crate) coalescer: Option<Arc<Coalescer>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Connects, failing when the server cannot be reached within the connect timeout, and
    /// [prepares](Self::prepare) the server.
    pub async fn connect(config: RedisConfig) -> BackendResult<Self> {
        let topology = crate::connect::connect(&config).await?;
        let backend = Self::with_topology(topology, config)?;
        backend.prepare().await?;
        Ok(backend)
    }

    /// Loads every script of the backend on the server (on each primary of a cluster), in one
    /// round trip, so that no operation pays for a script's first use. Not needed for
    /// correctness: a call the server lacks a script for loads it and runs again.
    pub async fn prepare(&self) -> BackendResult<()> {
        let sources = self.scripts.sources();
        self.run("SCRIPT LOAD", async {
            self.topology
                .load_scripts(&sources)
                .await
                .map_err(|e| crate::errors::map_err("SCRIPT LOAD", e))
        })
        .await
    }

    /// Prepares a backend that connects on first use, so an application can start while Redis
    /// is down (operations fail with [`ErrorKind::Connection`] until it is up).
    pub fn connect_lazy(config: RedisConfig) -> BackendResult<Self> {
        let topology = crate::connect::connect_lazy(&config)?;
        Self::with_topology(topology, config)
    }

    fn with_topology(topology: Arc<dyn Topology>, config: RedisConfig) -> BackendResult<Self> {
        let quotas = config
            .quotas
            .iter()
            .map(|q| QuotaIndex::new(&config.namespace, q.clone(), |r| topology.quota_suffix(r)))
            .collect::<BackendResult<Vec<_>>>()?;
        let wire = Target::of(&config)?.map(|t| Arc::new(Wire::new(t, config.coalesce_reads)));
        let coalescer =
            (config.coalesce_reads && wire.is_none()).then(|| Coalescer::new(topology.clone()));
        Ok(Self {
            topology,
            wire,
            coalescer,
            config: Arc::new(config),
            scripts: Arc::new(Scripts::new()),
            quotas: quotas.into(),
        })
    }

    /// The configuration (its `Debug` hides passwords).
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// A handle on the underlying connection, for commands this trait does not cover. On one
    /// server, redis-rs does not time its replies out (every call of the backend runs under its
    /// own timeout instead): bound what you send through it, with `tokio::time::timeout`.
    pub fn connection(&self) -> RedisConnection {
        self.topology.connection()
    }

    /// Runs `fut` under the operation timeout. A call that timed out leaves its connection
    /// busy with the late reply: the connection is replaced (one server), so the next call does
    /// not wait behind it.
    pub(crate) async fn run<T>(
        &self,
        operation: &str,
        fut: impl Future<Output = BackendResult<T>>,
    ) -> BackendResult<T> {
        let limit = strata_backend::limit_or(self.config.operation_timeout);
        let generation = self.topology.generation();
        let result = tokio::time::timeout(limit, fut)
            .await
            .unwrap_or_else(|_| Err(BackendError::timeout(&format!("redis {operation}"), limit)));
        if result
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::Timeout)
        {
            self.topology.discard(generation);
        }
        result
    }

    /// Sends `calls` under the operation timeout.
    pub(crate) async fn exec(&self, op: &str, calls: &[Call<'_>]) -> BackendResult<Vec<Value>> {
        self.run(op, exec(&*self.topology, op, calls)).await
    }

    /// Sends one call under the operation timeout.
    pub(crate) async fn exec_one(&self, op: &str, call: Call<'_>) -> BackendResult<Value> {
        self.run(op, exec_one(&*self.topology, op, call)).await
    }

    /// How `key`'s entry is read and written, and its physical name.
    pub(crate) fn entry<'a>(
        &'a self,
        key: &'a str,
    ) -> BackendResult<(&'a dyn Entries, Cow<'a, str>)> {
        let quota = quota_of(&self.quotas, key);
        let physical = self.topology.entry_key(key, quota)?;
        let entries: &dyn Entries = match quota {
            Some(q) => q,
            None => &Plain,
        };
        Ok((entries, physical))
    }

    /// [`entry`](Self::entry) with the name of its lease, for writes.
    pub(crate) fn place<'a>(&'a self, key: &'a str) -> BackendResult<(&'a dyn Entries, Place<'a>)> {
        let (entries, entry) = self.entry(key)?;
        let lease = self.topology.lease_key(&entry)?;
        Ok((entries, Place { entry, lease }))
    }

    /// [`place`](Self::place) of a key the caller does not keep (the names are owned).
    pub(crate) fn place_owned(&self, key: &str) -> BackendResult<(&dyn Entries, Place<'static>)> {
        let quota = quota_of(&self.quotas, key);
        let entry = self.topology.entry_key(key, quota)?.into_owned();
        let lease = self.topology.lease_key(&entry)?;
        let entries: &dyn Entries = match quota {
            Some(q) => q,
            None => &Plain,
        };
        Ok((
            entries,
            Place {
                entry: Cow::Owned(entry),
                lease,
            },
        ))
    }

    /// Physical name of a key that is not an entry (a version counter, say).
    pub(crate) fn physical<'a>(&self, key: &'a str) -> BackendResult<Cow<'a, str>> {
        self.topology.entry_key(key, quota_of(&self.quotas, key))
    }

    /// Writes `value` under `key` (with `token`: only while that lease is held).
    pub(crate) async fn write(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        token: Option<&str>,
    ) -> BackendResult<bool> {
        let c = &self.config;
        check_set_in(&c.namespace, key, value.len(), ttl, c.max_value_bytes)?;
        let (entries, at) = self.place(key)?;
        let reply = self
            .exec_one("write", entries.set(&self.scripts, at, value, ttl, token))
            .await?;
        entries.stored(key, value.len(), reply)
    }

    /// Deletes `key` and its lease (with `expected`: only while it holds those bytes).
    pub(crate) async fn remove(&self, key: &str, expected: Option<&[u8]>) -> BackendResult<bool> {
        check_key_in(&self.config.namespace, key)?;
        let (entries, at) = self.place(key)?;
        let reply = self
            .exec_one("delete", entries.delete(&self.scripts, at, expected))
            .await?;
        Ok(int(&reply)? > 0)
    }

    /// `UNLINK`s physical keys in batches.
    async fn unlink(&self, keys: &[String]) -> BackendResult<u64> {
        let mut n = 0;
        for chunk in keys.chunks(BATCH) {
            let mut cmd = redis::cmd("UNLINK");
            cmd.arg(chunk);
            let reply = self
                .exec_one("UNLINK", Call::cmd(chunk[0].as_str(), cmd))
                .await?;
            n += int(&reply)?.max(0).unsigned_abs();
        }
        Ok(n)
    }
}

/// Escapes the glob metacharacters of `SCAN MATCH` so `prefix` matches literally.
pub(crate) fn match_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 8);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

/// A bulk reply as bytes (nil: `None`).
pub(crate) fn bytes_of(reply: Value) -> BackendResult<Option<Bytes>> {
    let v: Option<Vec<u8>> = redis::from_redis_value(reply).map_err(|e| {
        BackendError::new(
            ErrorKind::Server,
            format!("unexpected reply to a read: {e}"),
        )
    })?;
    Ok(v.map(Bytes::from))
}

#[async_trait]
impl Backend for RedisBackend {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn namespace(&self) -> &str {
        &self.config.namespace
    }

    fn capabilities(&self) -> Capabilities {
        // Every command runs under the operation timeout.
        Capabilities::of(self).with_bounded(true)
    }

    async fn get(&self, key: &str) -> BackendResult<Option<Bytes>> {
        self.read_one(key).await
    }

    async fn get_many(&self, keys: &[&str]) -> BackendResult<Vec<Option<Bytes>>> {
        keys.iter()
            .try_for_each(|k| check_key_in(&self.config.namespace, k))?;
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH) {
            let places = chunk
                .iter()
                .map(|k| self.entry(k))
                .collect::<BackendResult<Vec<_>>>()?;
            let replies = if quota_reads(&self.quotas, chunk) {
                // Reads under an LRU quota record their access: one call per key.
                let calls: Vec<Call<'_>> = places
                    .into_iter()
                    .map(|(entries, physical)| entries.get(&self.scripts, physical))
                    .collect();
                self.exec("GET", &calls).await?
            } else {
                // One MGET (split by slot by redis-rs on a cluster).
                let mut cmd = redis::cmd("MGET");
                for (_, physical) in &places {
                    cmd.arg(physical.as_ref());
                }
                let route = places[0].1.clone();
                match self.exec_one("MGET", Call::cmd(route, cmd)).await? {
                    Value::Array(values) => values,
                    other => vec![other],
                }
            };
            for reply in replies {
                out.push(bytes_of(reply)?);
            }
        }
        Ok(out)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> BackendResult<()> {
        self.write(key, &value, ttl, None).await.map(|_| ())
    }

    async fn set_many(&self, entries: Vec<SetEntry>) -> BackendResult<()> {
        for e in &entries {
            let c = &self.config;
            check_set_in(
                &c.namespace,
                &e.key,
                e.value.len(),
                e.ttl,
                c.max_value_bytes,
            )?;
        }
        for chunk in entries.chunks(BATCH) {
            let mut calls = Vec::with_capacity(chunk.len());
            let mut stores = Vec::with_capacity(chunk.len());
            for e in chunk {
                let (store, at) = self.place(&e.key)?;
                calls.push(store.set(&self.scripts, at, &e.value, e.ttl, None));
                stores.push(store);
            }
            let replies = self.exec("pipelined write", &calls).await?;
            for ((store, e), reply) in stores.iter().zip(chunk).zip(replies) {
                store.stored(&e.key, e.value.len(), reply)?;
            }
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> BackendResult<bool> {
        self.remove(key, None).await
    }

    async fn delete_many(&self, keys: &[&str]) -> BackendResult<u64> {
        keys.iter()
            .try_for_each(|k| check_key_in(&self.config.namespace, k))?;
        let mut n = 0;
        for chunk in keys.chunks(BATCH) {
            let calls = chunk
                .iter()
                .map(|k| {
                    let (entries, at) = self.place(k)?;
                    Ok(entries.delete(&self.scripts, at, None))
                })
                .collect::<BackendResult<Vec<_>>>()?;
            for reply in self.exec("pipelined delete", &calls).await? {
                n += u64::from(int(&reply)? > 0);
            }
        }
        Ok(n)
    }

    async fn clear(&self) -> BackendResult<u64> {
        let pattern = match_prefix(&self.config.namespace);
        let mut cursor = "0".to_owned();
        let mut removed = 0;
        loop {
            let batch = self.config.scan_batch;
            let (next, keys) = self
                .run("SCAN", self.topology.scan_step(&pattern, &cursor, batch))
                .await?;
            // Leases, quota indexes and registries go with the entries but are not entries.
            let (index, entries): (Vec<String>, Vec<String>) = keys
                .into_iter()
                .partition(|k| is_internal(&self.config.namespace, k));
            if !entries.is_empty() {
                removed += self.unlink(&entries).await?;
            }
            if !index.is_empty() {
                self.unlink(&index).await?;
            }
            if next == "0" {
                return Ok(removed);
            }
            cursor = next;
        }
    }

    async fn ttl(&self, key: &str) -> BackendResult<KeyTtl> {
        check_key_in(&self.config.namespace, key)?;
        let physical = self.entry(key)?.1;
        let mut cmd = redis::cmd("PTTL");
        cmd.arg(physical.as_ref());
        let pttl = int(&self.exec_one("PTTL", Call::cmd(physical, cmd)).await?)?;
        Ok(match pttl {
            -2 => KeyTtl::Missing,
            -1 => KeyTtl::Persistent,
            n => KeyTtl::Expires(Duration::from_millis(n.max(0).unsigned_abs())),
        })
    }

    async fn ping(&self) -> BackendResult<Duration> {
        let start = Instant::now();
        match self
            .exec_one("PING", Call::cmd("", redis::cmd("PING")))
            .await
        {
            Ok(_) => Ok(start.elapsed()),
            Err(e) => Err(self.named_cause(e).await),
        }
    }

    async fn info(&self) -> BackendResult<BackendInfo> {
        let mut info = self.run("INFO", self.topology.info()).await?;
        info.writes_fail_when_full = info
            .eviction_policy
            .as_deref()
            .map(|p| p == "noeviction" && self.quotas.is_empty());
        self.run(
            "quota usage",
            crate::usage::add_usage(&self.quotas, &*self.topology, &mut info),
        )
        .await?;
        Ok(info)
    }

    fn as_leases(&self) -> Option<&dyn Leases> {
        Some(self)
    }

    fn as_version_counters(&self) -> Option<&dyn VersionCounters> {
        Some(self)
    }

    fn as_listing(&self) -> Option<&dyn Listing> {
        Some(self)
    }

    fn as_memory_usage(&self) -> Option<&dyn MemoryUsage> {
        Some(self)
    }

    fn as_publisher(&self) -> Option<&dyn Publisher> {
        Some(self)
    }

    async fn batch(&self, steps: Vec<Step>) -> BackendResult<Vec<Done>> {
        // The hit of a cache whose counters are known: one read, without the batch's planning.
        if let [Step::Read { key, lease: None }] = steps.as_slice() {
            return Ok(vec![self.read_alone(key).await?]);
        }
        self.run_batch(steps).await
    }
}

/// Whether some key of `keys` is read through an LRU quota's script.
fn quota_reads(quotas: &[QuotaIndex], keys: &[&str]) -> bool {
    !quotas.is_empty()
        && keys
            .iter()
            .any(|k| quota_of(quotas, k).is_some_and(QuotaIndex::tracks_reads))
}
