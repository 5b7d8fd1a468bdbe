//! The faults the chaos run injects into Redis, and how each is healed.

use anyhow::Result;

pub(super) async fn redis_cmd(url: &str, args: &[&str]) -> Result<redis::Value> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    Ok(cmd.query_async(&mut conn).await?)
}

/// Every key of the demo's prefix that holds an entry (not counters or leases).
async fn entry_keys(url: &str) -> Result<Vec<String>> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("payshift:*")
            .arg("COUNT")
            .arg(500)
            .query_async(&mut conn)
            .await?;
        keys.extend(
            page.into_iter()
                .filter(|k| !k.contains("__") && !k.ends_with("#lease")),
        );
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

/// The faults, in order.
#[derive(Clone, Copy)]
pub(super) enum Fault {
    None,
    Killed,
    Paused,
    Slowed,
    Full,
    Corrupted,
    Oversized,
}

impl Fault {
    pub(super) fn name(self) -> &'static str {
        match self {
            Fault::None => "baseline",
            Fault::Killed => "redis killed (SIGKILL), restarted after",
            Fault::Paused => "redis paused (SIGSTOP)",
            Fault::Slowed => "redis slowed (DEBUG SLEEP 50 ms, repeatedly)",
            Fault::Full => "redis full (noeviction at its current memory)",
            Fault::Corrupted => "corrupted bytes under every live key",
            Fault::Oversized => "an over-limit (9 MiB) value under every live key",
        }
    }
}

/// Every fault, in the order the run injects them.
pub(super) const FAULTS: [Fault; 7] = [
    Fault::None,
    Fault::Killed,
    Fault::Paused,
    Fault::Slowed,
    Fault::Full,
    Fault::Corrupted,
    Fault::Oversized,
];

/// Redis full: both tiers emptied (through the demo's clear-cache) so the phase has to write,
/// then `noeviction` at a budget just above what is used now, so new writes fail with OOM.
pub(super) async fn fill(client: &reqwest::Client, demo_url: &str, url: &str) -> Result<()> {
    client
        .post(format!("{demo_url}/core/monitoring/clear-cache/"))
        .bearer_auth(super::TOKEN)
        .json(&serde_json::json!({"all": true}))
        .send()
        .await?;
    redis_cmd(url, &["CONFIG", "SET", "maxmemory-policy", "noeviction"]).await?;
    let used = match redis_cmd(url, &["INFO", "memory"]).await? {
        redis::Value::BulkString(b) => String::from_utf8_lossy(&b)
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0),
        _ => 0,
    };
    let budget = (used + 64 * 1024).to_string();
    redis_cmd(url, &["CONFIG", "SET", "maxmemory", &budget]).await?;
    Ok(())
}

/// Undoes [`fill`]: no memory limit, evictions back on.
pub(super) async fn unfill(url: &str) -> Result<()> {
    redis_cmd(url, &["CONFIG", "SET", "maxmemory", "0"]).await?;
    redis_cmd(url, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]).await?;
    Ok(())
}

/// Plants bad values under the live entry keys: undecodable bytes (`Corrupted`), or a
/// well-formed header in front of 9 MiB, over the 8 MiB value limit (`Oversized`, at most
/// 50 keys to keep the damage bounded).
pub(super) async fn plant(url: &str, fault: Fault) -> Result<()> {
    let keys = entry_keys(url).await?;
    let garbage: Vec<u8> = match fault {
        Fault::Corrupted => b"\xc1S\x01\x00garbage that is not MessagePack".to_vec(),
        _ => {
            let mut v = b"\xc1S\x01\x00".to_vec();
            v.resize(9 * 1024 * 1024, 0x90);
            v
        }
    };
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let limit = if matches!(fault, Fault::Oversized) {
        50
    } else {
        usize::MAX
    };
    for k in keys.iter().take(limit) {
        let _: () = redis::cmd("SET")
            .arg(k)
            .arg(&garbage)
            .arg("KEEPTTL")
            .query_async(&mut conn)
            .await?;
    }
    println!("  planted bad values under {} keys", keys.len().min(limit));
    Ok(())
}
