//! `RedisBackend`: the Backend trait on a redis-rs `ConnectionManager`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, IntoConnectionInfo, RedisResult};
use std::borrow::Cow;
use strata_backend::{
    Backend, BackendError, BackendInfo, BackendResult, ErrorKind, KeyTtl, Leases, Listing,
    MemoryUsage, ScanPage, SetEntry, VersionCounters, check_key, check_namespace, check_set,
};

use crate::config::RedisConfig;
use crate::conn::RedisConnection;
use crate::errors::map_err;
use crate::info::parse_info;
use crate::quota::{QuotaIndex, quota_of};
use crate::scripts::Scripts;

/// Keys per `UNLINK` or `MGET` command, so no single command blocks the server for long.
const BATCH: usize = 1000;

/// The Strata backend on Redis: one server through a redis-rs [`ConnectionManager`] that
/// reconnects automatically with exponential backoff, or a Redis Cluster
/// ([`RedisConfig::cluster`], `cluster` feature) through a cluster connection that follows slot
/// moves and failovers.
///
/// Every operation is bounded by [`RedisConfig::operation_timeout`]; batch reads use `MGET`,
/// batch writes one pipeline of `SET .. PX` (per slot on a cluster); `clear` walks the
/// namespace with `SCAN MATCH` (on every primary of a cluster) and removes keys with `UNLINK`
/// in batches (never `KEYS`, never `FLUSHDB`).
#[derive(Clone)]
pub struct RedisBackend {
    pub(crate) conn: RedisConnection,
    /// Whether `conn` is a cluster (physical key names carry hash tags: see `layout.rs`).
    pub(crate) cluster: bool,
    config: Arc<RedisConfig>,
    pub(crate) scripts: Arc<Scripts>,
    pub(crate) quotas: Arc<[QuotaIndex]>,
    /// Entries evicted by the quota scripts of this backend.
    pub(crate) quota_evictions: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Connects, failing when the server cannot be reached within the connect timeout.
    pub async fn connect(config: RedisConfig) -> BackendResult<Self> {
        if config.cluster {
            return Self::connect_cluster(config).await;
        }
        let (client, manager_config) = Self::prepare(&config)?;
        let connect = ConnectionManager::new_with_config(client, manager_config);
        let conn = connect_within(&config, connect).await?;
        Self::from_parts(RedisConnection::Standalone(conn), config)
    }

    /// Prepares a backend that connects on first use, so an application can start while Redis
    /// is down (operations fail with [`ErrorKind::Connection`] until it is up).
    pub fn connect_lazy(config: RedisConfig) -> BackendResult<Self> {
        if config.cluster {
            return Self::connect_cluster_lazy(config);
        }
        let (client, manager_config) = Self::prepare(&config)?;
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| map_err("create connection manager", e))?;
        Self::from_parts(RedisConnection::Standalone(conn), config)
    }

    fn prepare(config: &RedisConfig) -> BackendResult<(Client, ConnectionManagerConfig)> {
        let client = client_for(config)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.operation_timeout))
            .set_number_of_retries(config.reconnect_retries)
            .set_max_delay(Duration::from_millis(500));
        Ok((client, manager_config))
    }
}

/// Awaits `connect` under the connect timeout of `config`, naming the (redacted) URL in errors.
pub(crate) async fn connect_within<T>(
    config: &RedisConfig,
    connect: impl Future<Output = RedisResult<T>>,
) -> BackendResult<T> {
    tokio::time::timeout(config.connect_timeout, connect)
        .await
        .map_err(|_| {
            BackendError::new(
                ErrorKind::Connection,
                format!(
                    "could not connect to {} within {:?}",
                    config.redacted_url(),
                    config.connect_timeout
                ),
            )
        })?
        .map_err(|e| map_err(&format!("connect to {}", config.redacted_url()), e))
}

/// A redis-rs client for `config` (URL plus credential overrides), after checking the namespace.
pub(crate) fn client_for(config: &RedisConfig) -> BackendResult<Client> {
    check_namespace(&config.namespace)?;
    let bad_url = |e: redis::RedisError| {
        BackendError::new(
            ErrorKind::Config,
            format!("invalid Redis URL {}: {}", config.redacted_url(), e),
        )
    };
    let mut info = config
        .url
        .as_str()
        .into_connection_info()
        .map_err(bad_url)?;
    if config.username.is_some() || config.password.is_some() {
        let mut settings = info.redis_settings().clone();
        if let Some(user) = &config.username {
            settings = settings.set_username(user);
        }
        if let Some(password) = &config.password {
            settings = settings.set_password(password);
        }
        info = info.set_redis_settings(settings);
    }
    Client::open(info).map_err(bad_url)
}

impl RedisBackend {
    pub(crate) fn from_parts(conn: RedisConnection, config: RedisConfig) -> BackendResult<Self> {
        let quotas = config
            .quotas
            .iter()
            .map(|q| QuotaIndex::new(&config.namespace, q.clone(), config.cluster))
            .collect::<BackendResult<Vec<_>>>()?;
        Ok(Self {
            cluster: config.cluster,
            conn,
            config: Arc::new(config),
            scripts: Arc::new(Scripts::new()),
            quotas: quotas.into(),
            quota_evictions: Arc::default(),
        })
    }

    /// The configuration (its `Debug` hides passwords).
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// A handle on the underlying connection, for commands this trait does not cover.
    pub fn connection(&self) -> RedisConnection {
        self.conn.clone()
    }

    /// Runs `fut` under the operation timeout and maps its error.
    pub(crate) async fn run<T>(
        &self,
        operation: &str,
        fut: impl Future<Output = RedisResult<T>>,
    ) -> BackendResult<T> {
        match tokio::time::timeout(self.config.operation_timeout, fut).await {
            Ok(r) => r.map_err(|e| map_err(operation, e)),
            Err(_) => Err(BackendError::timeout(
                &format!("redis {operation}"),
                self.config.operation_timeout,
            )),
        }
    }

    async fn unlink(&self, keys: &[&str]) -> BackendResult<u64> {
        let mut n = 0;
        for chunk in keys.chunks(BATCH) {
            let mut conn = self.conn.clone();
            let mut cmd = redis::cmd("UNLINK");
            cmd.arg(chunk);
            n += self
                .run("UNLINK", cmd.query_async::<u64>(&mut conn))
                .await?;
        }
        Ok(n)
    }

    /// Deletes entries and their leases (leases first, in one transaction on one server; on a
    /// cluster, whose keys span slots, all leases before any entry, which keeps a load in
    /// flight from storing over the delete all the same), counting the entries.
    async fn unlink_with_leases(&self, keys: &[&str]) -> BackendResult<u64> {
        let mut n = 0;
        for chunk in keys.chunks(BATCH) {
            let (chunk, leases): (Vec<String>, Vec<String>) = chunk
                .iter()
                .map(|k| self.entry_and_lease(k).map(|(e, l)| (e.into_owned(), l)))
                .collect::<BackendResult<Vec<_>>>()?
                .into_iter()
                .unzip();
            if self.cluster {
                self.unlink(&leases.iter().map(String::as_str).collect::<Vec<_>>())
                    .await?;
                n += self
                    .unlink(&chunk.iter().map(String::as_str).collect::<Vec<_>>())
                    .await?;
                continue;
            }
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("UNLINK")
                .arg(&leases)
                .ignore()
                .cmd("UNLINK")
                .arg(&chunk);
            let mut conn = self.conn.clone();
            let (removed,): (u64,) = self.run("UNLINK", pipe.query_async(&mut conn)).await?;
            n += removed;
        }
        Ok(n)
    }

    /// One `SCAN` step from `cursor` ("0" to start; "0" again at the end). On a cluster the
    /// walk visits every primary in turn and the cursor says which (`cluster.rs`).
    pub(crate) async fn scan_step(
        &self,
        pattern: &str,
        cursor: &str,
        count: usize,
    ) -> BackendResult<(String, Vec<String>)> {
        #[cfg(feature = "cluster")]
        if self.cluster {
            return self.cluster_scan_step(pattern, cursor, count).await;
        }
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(count);
        self.run("SCAN", cmd.query_async::<(String, Vec<String>)>(&mut conn))
            .await
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

/// A version counter as the scripts return it.
fn parse_version(v: &str) -> BackendResult<u64> {
    v.parse().map_err(|_| {
        BackendError::new(
            ErrorKind::Server,
            format!("version counter holds {v:?}, not an unsigned integer"),
        )
    })
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

#[async_trait]
impl Backend for RedisBackend {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn namespace(&self) -> &str {
        &self.config.namespace
    }

    fn bounded(&self) -> bool {
        // Every command runs under the operation timeout.
        true
    }

    async fn get(&self, key: &str) -> BackendResult<Option<Bytes>> {
        check_key(key)?;
        let physical = self.entry_key(key)?;
        if let Some(q) = quota_of(&self.quotas, key).filter(|q| q.tracks_reads()) {
            return self.quota_get(q, &physical).await;
        }
        let mut conn = self.conn.clone();
        let v: Option<Vec<u8>> = self
            .run(
                "GET",
                redis::cmd("GET").arg(&*physical).query_async(&mut conn),
            )
            .await?;
        Ok(v.map(Bytes::from))
    }

    async fn get_many(&self, keys: &[&str]) -> BackendResult<Vec<Option<Bytes>>> {
        keys.iter().try_for_each(|k| check_key(k))?;
        if keys
            .iter()
            .any(|k| quota_of(&self.quotas, k).is_some_and(QuotaIndex::tracks_reads))
        {
            // Reads under an LRU quota record their access: one script call per key.
            return futures::future::try_join_all(keys.iter().map(|k| self.get(k))).await;
        }
        let keys = keys
            .iter()
            .map(|k| self.entry_key(k))
            .collect::<BackendResult<Vec<Cow<'_, str>>>>()?;
        let mut out = Vec::with_capacity(keys.len());
        // On a cluster redis-rs splits each MGET by slot and reassembles the replies in order.
        for chunk in keys.chunks(BATCH) {
            let mut conn = self.conn.clone();
            let mut cmd = redis::cmd("MGET");
            cmd.arg(chunk.iter().map(AsRef::as_ref).collect::<Vec<&str>>());
            let values: Vec<Option<Vec<u8>>> = self.run("MGET", cmd.query_async(&mut conn)).await?;
            out.extend(values.into_iter().map(|v| v.map(Bytes::from)));
        }
        Ok(out)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> BackendResult<()> {
        check_set(key, value.len(), ttl, self.config.max_value_bytes)?;
        let (physical, lease) = self.entry_and_lease(key)?;
        if let Some(q) = quota_of(&self.quotas, key) {
            return self
                .quota_set(q, &physical, &value, ttl, "")
                .await
                .map(|_| ());
        }
        // The write supersedes any load in flight: drop its lease in the same transaction
        // (on a cluster, in a script: the lease shares the entry's slot).
        if self.cluster {
            let mut conn = self.conn.clone();
            let mut invocation = self.scripts.set_dropping_lease.key(physical.as_ref());
            invocation.key(lease).arg(value.as_ref()).arg(ms(ttl));
            let _: u64 = self
                .run("SET script", crate::scripts::invoke(&invocation, &mut conn))
                .await?;
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("UNLINK")
            .arg(lease)
            .ignore()
            .cmd("SET")
            .arg(physical)
            .arg(value.as_ref())
            .arg("PX")
            .arg(ms(ttl))
            .ignore();
        let mut conn = self.conn.clone();
        self.run("SET", pipe.query_async::<()>(&mut conn)).await
    }

    async fn set_many(&self, entries: Vec<SetEntry>) -> BackendResult<()> {
        for e in &entries {
            check_set(&e.key, e.value.len(), e.ttl, self.config.max_value_bytes)?;
        }
        let (quoted, entries): (Vec<SetEntry>, Vec<SetEntry>) = entries
            .into_iter()
            .partition(|e| quota_of(&self.quotas, &e.key).is_some());
        futures::future::try_join_all(
            quoted
                .iter()
                .map(|e| self.set(&e.key, e.value.clone(), e.ttl)),
        )
        .await?;
        if self.cluster {
            // A transaction cannot span slots: one (pipelined, concurrent) transaction per entry.
            futures::future::try_join_all(
                entries
                    .iter()
                    .map(|e| self.set(&e.key, e.value.clone(), e.ttl)),
            )
            .await?;
            return Ok(());
        }
        for chunk in entries.chunks(BATCH) {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for e in chunk {
                pipe.cmd("UNLINK").arg(self.lease_of(&e.key)?).ignore();
                pipe.cmd("SET")
                    .arg(&e.key)
                    .arg(e.value.as_ref())
                    .arg("PX")
                    .arg(ms(e.ttl))
                    .ignore();
            }
            let mut conn = self.conn.clone();
            self.run("pipelined SET", pipe.query_async::<()>(&mut conn))
                .await?;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> BackendResult<bool> {
        check_key(key)?;
        if let Some(q) = quota_of(&self.quotas, key) {
            return self.quota_del(q, &self.entry_key(key)?, None).await;
        }
        Ok(self.unlink_with_leases(&[key]).await? > 0)
    }

    async fn delete_many(&self, keys: &[&str]) -> BackendResult<u64> {
        keys.iter().try_for_each(|k| check_key(k))?;
        let (quoted, plain): (Vec<&str>, Vec<&str>) = keys
            .iter()
            .partition(|k| quota_of(&self.quotas, k).is_some());
        let removed = futures::future::try_join_all(quoted.iter().map(|k| self.delete(k))).await?;
        let n = removed.into_iter().filter(|r| *r).count() as u64;
        if plain.is_empty() {
            return Ok(n);
        }
        Ok(n + self.unlink_with_leases(&plain).await?)
    }

    async fn clear(&self) -> BackendResult<u64> {
        let pattern = match_prefix(&self.config.namespace);
        let mut cursor = "0".to_owned();
        let mut removed = 0;
        loop {
            let (next, keys) = self
                .scan_step(&pattern, &cursor, self.config.scan_batch)
                .await?;
            if !keys.is_empty() {
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                removed += self.unlink(&refs).await?;
            }
            if next == "0" {
                return Ok(removed);
            }
            cursor = next;
        }
    }

    async fn ttl(&self, key: &str) -> BackendResult<KeyTtl> {
        check_key(key)?;
        let mut conn = self.conn.clone();
        let pttl: i64 = self
            .run(
                "PTTL",
                redis::cmd("PTTL")
                    .arg(self.entry_key(key)?.as_ref())
                    .query_async(&mut conn),
            )
            .await?;
        Ok(match pttl {
            -2 => KeyTtl::Missing,
            -1 => KeyTtl::Persistent,
            n => KeyTtl::Expires(Duration::from_millis(n.max(0).unsigned_abs())),
        })
    }

    async fn ping(&self) -> BackendResult<Duration> {
        let mut conn = self.conn.clone();
        let start = Instant::now();
        let _: String = self
            .run("PING", redis::cmd("PING").query_async(&mut conn))
            .await?;
        Ok(start.elapsed())
    }

    async fn info(&self) -> BackendResult<BackendInfo> {
        #[cfg(feature = "cluster")]
        if self.cluster {
            let mut info = self.cluster_info().await?;
            self.quota_info(&mut info).await?;
            return Ok(info);
        }
        let mut conn = self.conn.clone();
        let text: String = self
            .run(
                "INFO",
                redis::cmd("INFO")
                    .arg("server")
                    .arg("memory")
                    .arg("stats")
                    .query_async(&mut conn),
            )
            .await?;
        let mut conn = self.conn.clone();
        let dbsize: u64 = self
            .run("DBSIZE", redis::cmd("DBSIZE").query_async(&mut conn))
            .await?;
        let mut info = parse_info(&text);
        info.server_keys = Some(dbsize);
        self.quota_info(&mut info).await?;
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
}

#[async_trait]
impl Leases for RedisBackend {
    async fn acquire_lease(&self, key: &str, token: &str, ttl: Duration) -> BackendResult<bool> {
        check_set(key, 0, ttl, usize::MAX)?;
        let (_, lease) = self.entry_and_lease(key)?;
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(lease).arg(token).arg("NX").arg("PX").arg(ms(ttl));
        let reply: Option<String> = self
            .run("SET NX (lease)", cmd.query_async(&mut conn))
            .await?;
        Ok(reply.is_some())
    }

    async fn set_under_lease(
        &self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
    ) -> BackendResult<bool> {
        check_set(key, value.len(), ttl, self.config.max_value_bytes)?;
        let (physical, lease) = self.entry_and_lease(key)?;
        if let Some(q) = quota_of(&self.quotas, key) {
            return Ok(self.quota_set(q, &physical, &value, ttl, token).await? >= 0);
        }
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.set_under_lease.key(physical.as_ref());
        invocation
            .key(lease)
            .arg(token)
            .arg(value.as_ref())
            .arg(ms(ttl));
        let n: u64 = self
            .run(
                "set_under_lease script",
                crate::scripts::invoke(&invocation, &mut conn),
            )
            .await?;
        Ok(n > 0)
    }

    async fn release_lease(&self, key: &str, token: &str) -> BackendResult<()> {
        check_key(key)?;
        let (_, lease) = self.entry_and_lease(key)?;
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.delete_if_equals.key(lease);
        invocation.arg(token);
        let _: u64 = self
            .run(
                "release lease",
                crate::scripts::invoke(&invocation, &mut conn),
            )
            .await?;
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
        for key in keys {
            check_key(key)?;
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if self.cluster && keys.len() > 1 {
            // The counters live in different slots: one script call each, concurrently.
            let each = keys
                .iter()
                .map(|k| self.versions(std::slice::from_ref(k), init, ttl));
            let all = futures::future::try_join_all(each).await?;
            return Ok(all.into_iter().flatten().collect());
        }
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.versions.prepare_invoke();
        for key in keys {
            invocation.key(self.entry_key(key)?.as_ref());
        }
        invocation.arg(init).arg(ttl.map_or(0, ms));
        let values: Vec<String> = self
            .run(
                "versions script",
                crate::scripts::invoke(&invocation, &mut conn),
            )
            .await?;
        values.iter().map(|v| parse_version(v)).collect()
    }

    async fn bump_version(
        &self,
        key: &str,
        at_least: u64,
        ttl: Option<Duration>,
    ) -> BackendResult<u64> {
        check_key(key)?;
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.bump_version.key(self.entry_key(key)?.as_ref());
        invocation.arg(at_least).arg(ttl.map_or(0, ms));
        let value: String = self
            .run(
                "bump_version script",
                crate::scripts::invoke(&invocation, &mut conn),
            )
            .await?;
        parse_version(&value)
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
        let (next, keys) = self
            .scan_step(&match_prefix(prefix), &cursor, count.max(1))
            .await?;
        Ok(ScanPage {
            keys: keys.into_iter().map(|k| self.logical_name(k)).collect(),
            next: (next != "0").then_some(next),
        })
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> BackendResult<bool> {
        check_key(key)?;
        let physical = self.entry_key(key)?;
        if let Some(q) = quota_of(&self.quotas, key) {
            return self.quota_del(q, &physical, Some(expected)).await;
        }
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.delete_if_equals.key(physical.as_ref());
        invocation.arg(expected);
        let n: u64 = self
            .run(
                "delete_if_equals script",
                crate::scripts::invoke(&invocation, &mut conn),
            )
            .await?;
        Ok(n > 0)
    }
}

#[async_trait]
impl MemoryUsage for RedisBackend {
    async fn memory_usage(&self, key: &str) -> BackendResult<Option<u64>> {
        check_key(key)?;
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("MEMORY");
        cmd.arg("USAGE")
            .arg(self.entry_key(key)?.as_ref())
            .arg("SAMPLES")
            .arg(0);
        self.run("MEMORY USAGE", cmd.query_async(&mut conn)).await
    }
}
