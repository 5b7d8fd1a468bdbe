//! Where keys live and how commands travel: one server, or a Redis Cluster. Chosen once, when
//! the backend (or the bus) is built; every other module is written once for both.

mod standalone;

#[cfg(feature = "cluster")]
mod cluster;

use std::borrow::Cow;

use async_trait::async_trait;
use redis::Value;
use strata_backend::{BackendInfo, BackendResult};

use crate::conn::RedisConnection;
use crate::errors::map_err;
use crate::quota::QuotaIndex;
use crate::scripts::Call;

pub(crate) use standalone::{Remake, Standalone};

#[cfg(feature = "cluster")]
pub(crate) use cluster::Cluster;

/// A Redis deployment as the backend sees it.
#[async_trait]
pub(crate) trait Topology: Send + Sync + 'static {
    /// The connection (a handle; clones share it).
    fn connection(&self) -> RedisConnection;

    /// The physical name of entry `key`, which belongs to `quota` (if any).
    fn entry_key<'a>(
        &self,
        key: &'a str,
        quota: Option<&QuotaIndex>,
    ) -> BackendResult<Cow<'a, str>>;

    /// The physical name of the load lease of the entry stored at `physical`.
    fn lease_key(&self, physical: &str) -> BackendResult<String>;

    /// The name callers know for the physical key `physical` (the inverse of the above).
    fn logical_name(&self, physical: String, quotas: &[QuotaIndex]) -> String;

    /// What a quota's index key names end with, given the quota prefix without the namespace
    /// (a cluster: the hash tag that puts the kind and its index in one slot).
    fn quota_suffix(&self, rest: &str) -> String;

    /// Whether one script may touch keys of any slot (one server), so that a script can read a
    /// registry and delete the keys it names.
    fn scripts_span_slots(&self) -> bool;

    /// The connection with its generation, read together.
    fn current(&self) -> (u64, RedisConnection) {
        (self.generation(), self.connection())
    }

    /// The current connection and its generation for one call: an idle handle kept by the
    /// calling thread when there is one (see [`give_back`](Self::give_back)), so that a call
    /// does not write the shared state every clone of a handle counts on. Default: a clone of
    /// [`current`](Self::current).
    fn lend(&self) -> (u64, RedisConnection) {
        self.current()
    }

    /// A handle [`lend`](Self::lend) gave, back once its call is done (or given up).
    fn give_back(&self, lent: (u64, RedisConnection)) {
        drop(lent);
    }

    /// Which connection is current (see [`discard`](Self::discard)).
    fn generation(&self) -> u64 {
        0
    }

    /// Replaces connection `generation` (if still current) with a new one: a reply that timed
    /// out would otherwise hold every later command on that connection behind it. A cluster
    /// connection keeps its nodes (redis-rs reconnects those that fail).
    fn discard(&self, generation: u64) {
        let _ = generation;
    }

    /// The indexes of `keys` (physical names) grouped so that each group may be read with one
    /// `MGET`: one group on one server, one per hash slot on a cluster; in order of first
    /// appearance.
    fn same_slot(&self, keys: &[&str]) -> Vec<Vec<usize>> {
        if keys.is_empty() {
            return Vec::new();
        }
        vec![(0..keys.len()).collect()]
    }

    /// Sends `calls` and answers their replies in order (a reply may be a server error).
    /// One server: one pipeline, one round trip. A cluster: one pipeline per slot, sent
    /// concurrently.
    async fn send(&self, calls: &[&Call<'_>]) -> redis::RedisResult<Vec<Value>>;

    /// Loads scripts (their sources) on every node that may run them.
    async fn load_scripts(&self, sources: &[&str]) -> redis::RedisResult<()>;

    /// One `SCAN` step from `cursor` ("0" to start; "0" again at the end).
    async fn scan_step(
        &self,
        pattern: &str,
        cursor: &str,
        count: usize,
    ) -> BackendResult<(String, Vec<String>)>;

    /// Memory, limits, version and key counts of the deployment.
    async fn info(&self) -> BackendResult<BackendInfo>;
}

/// A connection lent for one call ([`Topology::lend`]), given back when dropped.
pub(crate) struct Lent<'a> {
    topology: &'a dyn Topology,
    lent: Option<(u64, RedisConnection)>,
}

impl<'a> Lent<'a> {
    pub(crate) fn new(topology: &'a dyn Topology) -> Self {
        Self {
            topology,
            lent: Some(topology.lend()),
        }
    }

    /// The generation of the connection (see [`Topology::discard`]).
    pub(crate) fn generation(&self) -> u64 {
        self.lent.as_ref().map_or(0, |l| l.0)
    }

    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut RedisConnection {
        let lent = self.lent.get_or_insert_with(|| self.topology.lend());
        &mut lent.1
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(lent) = self.lent.take() {
            self.topology.give_back(lent);
        }
    }
}

/// The name of the load lease of entry `key` in `namespace`: `{namespace}#lease:{rest}`,
/// outside the entries' prefix (`{namespace}{app version}:`) since Strata escapes `#` in every
/// segment it builds; a key outside the namespace: `{key}#lease`.
pub(crate) fn lease_name(namespace: &str, key: &str) -> String {
    match key.strip_prefix(namespace) {
        Some(rest) => format!("{namespace}#lease:{rest}"),
        None => format!("{key}#lease"),
    }
}

/// Whether `physical` is one of the backend's own keys beside the entries (leases, quota
/// indexes, registries): `{namespace}#...`.
pub(crate) fn is_internal(namespace: &str, physical: &str) -> bool {
    physical
        .strip_prefix(namespace)
        .is_some_and(|rest| rest.starts_with('#'))
        || physical.ends_with("#lease")
}

/// Sends `calls` through `topology`, sends the script calls a server did not know again as
/// `EVAL` (which also loads them), and turns the remaining server errors into errors.
pub(crate) async fn exec(
    topology: &dyn Topology,
    operation: &str,
    calls: &[Call<'_>],
) -> BackendResult<Vec<Value>> {
    let all: Vec<&Call<'_>> = calls.iter().collect();
    let mut replies = topology
        .send(&all)
        .await
        .map_err(|e| map_err(operation, e))?;
    let missing: Vec<usize> = replies
        .iter()
        .enumerate()
        .filter(|(i, v)| calls[*i].is_script() && is_noscript(v))
        .map(|(i, _)| i)
        .collect();
    if !missing.is_empty() {
        // The server lost its scripts (a restart, a failover): load the ones it lacks, then
        // send those calls again, all at once.
        let mut sources: Vec<&str> = missing.iter().filter_map(|i| calls[*i].source()).collect();
        sources.sort_unstable();
        sources.dedup();
        topology
            .load_scripts(&sources)
            .await
            .map_err(|e| map_err(operation, e))?;
        let again: Vec<&Call<'_>> = missing.iter().map(|i| &calls[*i]).collect();
        let retried = topology
            .send(&again)
            .await
            .map_err(|e| map_err(operation, e))?;
        for (i, reply) in missing.into_iter().zip(retried) {
            replies[i] = reply;
        }
    }
    replies
        .into_iter()
        .map(|v| v.extract_error().map_err(|e| map_err(operation, e)))
        .collect()
}

/// [`exec`] of one call.
pub(crate) async fn exec_one(
    topology: &dyn Topology,
    operation: &str,
    call: Call<'_>,
) -> BackendResult<Value> {
    let mut replies = exec(topology, operation, std::slice::from_ref(&call)).await?;
    Ok(replies.pop().unwrap_or(Value::Nil))
}

/// `SCAN cursor MATCH pattern COUNT count`.
pub(crate) fn scan_cmd(pattern: &str, cursor: &str, count: usize) -> redis::Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(count);
    cmd
}

fn is_noscript(v: &Value) -> bool {
    matches!(v, Value::ServerError(e) if e.kind() == Some(redis::ServerErrorKind::NoScript))
}

/// Sends `calls` on `conn` as one pipeline (a lone call as itself), keeping each reply, server
/// errors included.
pub(crate) async fn send_on<'c, 'a: 'c>(
    conn: &mut RedisConnection,
    mut calls: impl ExactSizeIterator<Item = &'c Call<'a>>,
) -> redis::RedisResult<Vec<Value>> {
    match calls.len() {
        0 => Ok(Vec::new()),
        1 => {
            let Some(one) = calls.next() else {
                return Ok(Vec::new());
            };
            let cmd = one.to_cmd();
            // A lone command's server error arrives as an error: keep it as a reply.
            match cmd.query_async::<Value>(conn).await {
                Ok(v) => Ok(vec![v]),
                Err(e) => redis::ServerError::try_from(e).map(|se| vec![Value::ServerError(se)]),
            }
        }
        _ => {
            let mut pipe = redis::pipe();
            for call in calls {
                pipe.add_command(call.to_cmd().into_owned());
            }
            pipe.ignore_errors().query_async::<Vec<Value>>(conn).await
        }
    }
}
