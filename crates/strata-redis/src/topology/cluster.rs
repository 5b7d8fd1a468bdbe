//! A Redis Cluster: hash-tagged names so that each script stays in one slot, batches grouped by
//! slot, scans and `INFO` over every primary.
//!
//! Every script and transaction must stay within one hash slot, so physical names carry hash
//! tags:
//!
//! - the lease of an entry without braces is `{key}#lease{{key}}` (hashed on the key, so it
//!   shares the entry's slot); an entry with a hash tag of its own keeps `{key}#lease`;
//! - an entry of a kind with a quota is stored as `{key}{{rest}}`, where `rest` is the quota's
//!   prefix without the namespace, and so are the quota's index keys: the whole kind lives in
//!   one slot, which is what lets one script see the kind's index and its keys atomically (and
//!   is the hot-spot trade-off documented in docs/operations.md).
//!
//! Scans translate physical names back, so callers only ever see the standalone names.

use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use redis::Value;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr,
};
use strata_backend::{BackendError, BackendInfo, BackendResult, ErrorKind};

use super::{Topology, lease_name, scan_cmd, send_on};
use crate::conn::RedisConnection;
use crate::errors::map_err;
use crate::info::parse_info;
use crate::quota::QuotaIndex;
use crate::scripts::Call;

/// What Redis Cluster hashes in `key`: the content of the first `{...}` when it is non-empty.
pub(crate) fn hash_tag(key: &str) -> Option<&str> {
    let open = key.find('{')?;
    let close = key[open + 1..].find('}')?;
    (close > 0).then(|| &key[open + 1..open + 1 + close])
}

/// A cluster through redis-rs's cluster connection (slot-routed, following failovers).
pub(crate) struct Cluster {
    namespace: String,
    conn: ClusterConnection,
}

impl Cluster {
    pub(crate) fn new(namespace: &str, conn: ClusterConnection) -> Self {
        Self {
            namespace: namespace.to_owned(),
            conn,
        }
    }

    /// The lowest slot of each primary, in order: a primary's name that survives failover
    /// (its replica takes over the same slots).
    async fn primaries(&self) -> BackendResult<Vec<u16>> {
        let reply = self
            .conn
            .clone()
            .route_command(
                redis::cmd("CLUSTER").arg("SLOTS").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
            .await
            .map_err(|e| map_err("CLUSTER SLOTS", e))?;
        let bad = || BackendError::new(ErrorKind::Server, "unexpected CLUSTER SLOTS reply");
        let Value::Array(ranges) = reply else {
            return Err(bad());
        };
        // First slot by primary address.
        let mut first: BTreeMap<String, u16> = BTreeMap::new();
        for range in ranges {
            let Value::Array(fields) = range else {
                return Err(bad());
            };
            let (Some(Value::Int(start)), Some(Value::Array(node))) =
                (fields.first(), fields.get(2))
            else {
                return Err(bad());
            };
            let start = u16::try_from(*start).map_err(|_| bad())?;
            let slot = first.entry(format!("{node:?}")).or_insert(start);
            *slot = (*slot).min(start);
        }
        let mut slots: Vec<u16> = first.into_values().collect();
        slots.sort_unstable();
        if slots.is_empty() {
            return Err(BackendError::new(
                ErrorKind::Connection,
                "the cluster has no slots assigned",
            ));
        }
        Ok(slots)
    }
}

/// A scan cursor of the walk over primaries: `{first slot}-{node cursor}`.
fn parse_cursor(cursor: &str, first: u16) -> BackendResult<(u16, &str)> {
    if cursor == "0" {
        return Ok((first, "0"));
    }
    cursor
        .split_once('-')
        .and_then(|(s, c)| Some((s.parse::<u16>().ok()?, c)))
        .filter(|(_, c)| c.bytes().all(|b| b.is_ascii_digit()) && !c.is_empty())
        .ok_or_else(|| {
            BackendError::invalid_input(format!(
                "scan cursor {cursor:?} was not returned by a cluster scan"
            ))
        })
}

#[async_trait]
impl Topology for Cluster {
    fn connection(&self) -> RedisConnection {
        RedisConnection::Cluster(self.conn.clone())
    }

    fn entry_key<'a>(
        &self,
        key: &'a str,
        quota: Option<&QuotaIndex>,
    ) -> BackendResult<Cow<'a, str>> {
        let Some(q) = quota else {
            return Ok(Cow::Borrowed(key));
        };
        if key.contains(['{', '}']) {
            return Err(BackendError::invalid_input(format!(
                "key {key:?} has hash-tag braces; on a cluster a kind with a quota keeps its \
                 entries in its quota's slot and cannot take keys that choose their own"
            )));
        }
        Ok(Cow::Owned(format!("{key}{}", q.suffix)))
    }

    fn lease_key(&self, physical: &str) -> BackendResult<String> {
        let lease = lease_name(&self.namespace, physical);
        if hash_tag(physical).is_some() {
            return Ok(lease);
        }
        if physical.contains(['{', '}']) {
            return Err(BackendError::invalid_input(format!(
                "key {physical:?} has unbalanced hash-tag braces: on a cluster its load lease \
                 could not share its slot"
            )));
        }
        Ok(format!("{lease}{{{physical}}}"))
    }

    fn logical_name(&self, physical: String, quotas: &[QuotaIndex]) -> String {
        // A lease tagged with its entry's name: `{lease}{{entry}}`.
        if let Some(inner) = physical.strip_suffix('}')
            && let Some((lease, entry)) = inner.rsplit_once('{')
            && lease_name(&self.namespace, entry) == lease
        {
            return lease.to_owned();
        }
        for q in quotas {
            if let Some(at) = physical.find(&q.suffix) {
                let candidate = format!("{}{}", &physical[..at], &physical[at + q.suffix.len()..]);
                let entry = candidate
                    .strip_prefix(&format!("{}#lease:", self.namespace))
                    .map(|rest| format!("{}{rest}", self.namespace));
                let base = entry.as_deref().unwrap_or(&candidate);
                if base.starts_with(&q.quota.prefix) || q.is_index_key(&physical) {
                    return candidate;
                }
            }
        }
        physical
    }

    fn quota_suffix(&self, rest: &str) -> String {
        format!("{{{rest}}}")
    }

    fn scripts_span_slots(&self) -> bool {
        false
    }

    async fn load_scripts(&self, sources: &[&str]) -> redis::RedisResult<()> {
        let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
        for source in sources {
            let mut cmd = redis::cmd("SCRIPT");
            cmd.arg("LOAD").arg(*source);
            self.conn.clone().route_command(cmd, all.clone()).await?;
        }
        Ok(())
    }

    fn same_slot(&self, keys: &[&str]) -> Vec<Vec<usize>> {
        let mut at: std::collections::HashMap<Slot, usize> = Default::default();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let n = *at.entry(Slot::for_key(key)).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[n].push(i);
        }
        groups
    }

    async fn send(&self, calls: &[&Call<'_>]) -> redis::RedisResult<Vec<Value>> {
        // redis-rs sends a pipeline to its first command's slot: one pipeline per slot.
        let mut by_slot: std::collections::HashMap<Slot, Vec<usize>> = Default::default();
        for (i, call) in calls.iter().enumerate() {
            by_slot
                .entry(Slot::for_key(call.route()))
                .or_default()
                .push(i);
        }
        let groups = by_slot.into_values().map(|indexes| async move {
            let mut conn = RedisConnection::Cluster(self.conn.clone());
            let replies = send_on(&mut conn, indexes.iter().map(|i| calls[*i])).await?;
            Ok::<_, redis::RedisError>(indexes.into_iter().zip(replies))
        });
        let mut out = vec![Value::Nil; calls.len()];
        for group in futures::future::try_join_all(groups).await? {
            for (i, reply) in group {
                out[i] = reply;
            }
        }
        Ok(out)
    }

    async fn scan_step(
        &self,
        pattern: &str,
        cursor: &str,
        count: usize,
    ) -> BackendResult<(String, Vec<String>)> {
        let primaries = self.primaries().await?;
        let (slot, node_cursor) = parse_cursor(cursor, primaries[0])?;
        let cmd = scan_cmd(pattern, node_cursor, count);
        let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(
            slot,
            SlotAddr::Master,
        )));
        let reply = self
            .conn
            .clone()
            .route_command(cmd, route)
            .await
            .map_err(|e| map_err("SCAN", e))?;
        let (next, keys): (String, Vec<String>) = redis::from_redis_value(reply)
            .map_err(|e| BackendError::new(ErrorKind::Server, format!("SCAN reply: {e}")))?;
        let next = if next != "0" {
            format!("{slot}-{next}")
        } else {
            primaries
                .iter()
                .find(|s| **s > slot)
                .map_or_else(|| "0".to_owned(), |s| format!("{s}-0"))
        };
        Ok((next, keys))
    }

    /// `INFO` of every primary added up: memory and limits summed, version and policy of the
    /// first, `cluster.primaries` in the details; `DBSIZE` summed.
    async fn info(&self) -> BackendResult<BackendInfo> {
        let mut cmd = redis::cmd("INFO");
        cmd.arg("server").arg("memory").arg("stats");
        let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
        let reply = self
            .conn
            .clone()
            .route_command(cmd, all)
            .await
            .map_err(|e| map_err("INFO", e))?;
        let by_node: BTreeMap<String, String> = redis::from_redis_value(reply)
            .map_err(|e| BackendError::new(ErrorKind::Server, format!("INFO reply: {e}")))?;
        let mut total = sum_infos(by_node.values().map(|t| parse_info(t)));
        total
            .details
            .insert("cluster.primaries".into(), by_node.len().to_string());
        total.details.insert(
            "cluster.nodes".into(),
            by_node.into_keys().collect::<Vec<_>>().join(","),
        );
        let dbsize: u64 = redis::cmd("DBSIZE")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| map_err("DBSIZE", e))?;
        total.server_keys = Some(dbsize);
        Ok(total)
    }
}

/// Memory and limits summed over nodes; version and policy of the first that reports them.
fn sum_infos(infos: impl Iterator<Item = BackendInfo>) -> BackendInfo {
    let mut total = BackendInfo::new("redis");
    let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    for one in infos {
        total.bytes_used = sum(total.bytes_used, one.bytes_used);
        total.max_bytes = sum(total.max_bytes, one.max_bytes);
        total.evictions = sum(total.evictions, one.evictions);
        total.server_version = total.server_version.or(one.server_version);
        total.eviction_policy = total.eviction_policy.or(one.eviction_policy);
        for (k, v) in one.details {
            total.details.entry(k).or_insert(v);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_tags_follow_the_cluster_rule() {
        assert_eq!(hash_tag("a{b}c"), Some("b"));
        assert_eq!(hash_tag("a{}c{d}"), None);
        assert_eq!(hash_tag("a{b"), None);
        assert_eq!(hash_tag("a}b{c}"), Some("c"));
        assert_eq!(hash_tag("plain"), None);
    }
}
