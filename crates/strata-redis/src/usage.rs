//! What the quotas hold, added to the backend's `INFO`.

use std::borrow::Cow;

use strata_backend::{BackendInfo, BackendResult};

use crate::quota::QuotaIndex;
use crate::scripts::Call;
use crate::topology::{Topology, exec};

/// Adds each quota's usage to `info` (`quota.{prefix}.entries/bytes/limits`) and the
/// evictions this backend's quota scripts made: one round trip for every quota.
pub(crate) async fn add_usage(
    quotas: &[QuotaIndex],
    topology: &dyn Topology,
    info: &mut BackendInfo,
) -> BackendResult<()> {
    if quotas.is_empty() {
        return Ok(());
    }
    let mut calls = Vec::with_capacity(quotas.len() * 2);
    for q in quotas {
        let mut hlen = redis::cmd("HLEN");
        hlen.arg(&q.size);
        let mut bytes = redis::cmd("HGET");
        bytes.arg(&q.totals).arg("bytes");
        calls.push(Call::cmd(Cow::Borrowed(q.size.as_str()), hlen));
        calls.push(Call::cmd(Cow::Borrowed(q.totals.as_str()), bytes));
    }
    let replies = exec(topology, "quota usage", &calls).await?;
    let mut evictions = 0;
    for (q, pair) in quotas.iter().zip(replies.chunks(2)) {
        let entries: u64 = redis::from_redis_value(pair[0].clone()).unwrap_or(0);
        let bytes: Option<i64> = redis::from_redis_value(pair[1].clone()).unwrap_or(None);
        let p = &q.quota.prefix;
        let limit = |n: Option<u64>| n.map_or("unlimited".into(), |n| n.to_string());
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
                limit(q.quota.limits.max_entries),
                limit(q.quota.limits.max_bytes),
                q.policy_name()
            ),
        );
        evictions += q.evictions();
    }
    info.details
        .insert("quota.evictions".into(), evictions.to_string());
    Ok(())
}
