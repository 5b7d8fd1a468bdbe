//! The subcommands.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use strata::{Backend, Key, KeySpace, Listing, RedisBackend, is_internal_kind};

use crate::setup::Setup;
use crate::{Cli, Command};

pub(crate) async fn run(cli: Cli) -> Result<()> {
    if let Command::Warm { .. } = &cli.command {
        return warm(cli).await;
    }
    // The application's own statistics: no Redis needed.
    if let Command::Stats {
        monitoring: Some(url),
        token,
        ..
    } = &cli.command
    {
        return crate::analytics::stats(url, token.as_deref()).await;
    }
    let setup = Setup::resolve(&cli)?;
    if let Command::Clear { kind, all, yes } = cli.command {
        return crate::clear::clear(&setup, kind, all, yes).await;
    }
    // A kind's keys are read where the kind lives (`[kinds.<kind>] backend`).
    match &cli.command {
        Command::Keys {
            kind: Some(kind),
            limit,
        } => {
            let backend = setup.backend_of(kind).await?;
            return keys(&backend, &setup.space, Some(kind), *limit).await;
        }
        Command::Inspect { key } => {
            let backend = setup.backend_of_key(key).await?;
            return crate::inspect::inspect(&backend, key).await;
        }
        _ => {}
    }
    let backend = setup.backend().await?;
    match cli.command {
        Command::Health => health(&backend).await,
        Command::Stats { sample, .. } => stats(&backend, sample).await,
        Command::Keys { kind, limit } => keys(&backend, &setup.space, kind.as_deref(), limit).await,
        Command::Inspect { key } => crate::inspect::inspect(&backend, &key).await,
        Command::ServerPolicy { policy, maxmemory } => {
            server_policy(&backend, &policy, maxmemory).await
        }
        Command::Clear { .. } | Command::Warm { .. } => unreachable!("handled above"),
    }
}

/// `strata warm`: the token from the flag, else the configuration's (no Redis needed: the
/// instance does the work).
async fn warm(cli: Cli) -> Result<()> {
    let configured = Setup::resolve(&cli).ok().and_then(|s| s.config.admin_token);
    let Command::Warm {
        url,
        token,
        kind,
        ids_file,
        batch,
        concurrency,
        ids,
    } = cli.command
    else {
        unreachable!("called for warm only")
    };
    let token = token.or(configured);
    crate::warm::warm(crate::warm::WarmArgs {
        url: &url,
        token: token.as_deref(),
        kind: &kind,
        ids,
        ids_file: ids_file.as_deref(),
        batch,
        concurrency,
        timeout: cli.timeout,
    })
    .await
}

async fn server_policy(backend: &RedisBackend, policy: &str, maxmemory: Option<u64>) -> Result<()> {
    let policy: strata::EvictionPolicy = policy.parse().map_err(|e| anyhow!("{e}"))?;
    let (set, max) = backend
        .enforce_server_policy(policy, maxmemory)
        .await
        .map_err(|e| anyhow!("CONFIG SET failed: {}", e.message()))?;
    let max = if max == 0 {
        "unlimited".to_owned()
    } else {
        bytes(max)
    };
    println!("maxmemory-policy {set}, maxmemory {max}");
    Ok(())
}

async fn health(backend: &RedisBackend) -> Result<()> {
    let rtt = backend
        .ping()
        .await
        .map_err(|e| anyhow!("Redis does not answer: {}", e.message()))?;
    let info = backend
        .info()
        .await
        .map_err(|e| anyhow!("INFO failed: {}", e.message()))?;
    println!("status: ok");
    println!("round trip: {:.2} ms", rtt.as_secs_f64() * 1000.0);
    println!(
        "server: redis {}",
        info.server_version.as_deref().unwrap_or("?")
    );
    println!("memory used: {}", info.bytes_used.map_or("?".into(), bytes));
    println!(
        "maxmemory: {} ({})",
        info.max_bytes.map_or("?".into(), |b| if b == 0 {
            "unlimited".into()
        } else {
            bytes(b)
        }),
        info.eviction_policy.as_deref().unwrap_or("?")
    );
    Ok(())
}

async fn stats(backend: &RedisBackend, sample: usize) -> Result<()> {
    let info = backend
        .info()
        .await
        .map_err(|e| anyhow!("INFO failed: {}", e.message()))?;
    println!("server keys: {}", info.server_keys.unwrap_or(0));
    println!("memory used: {}", info.bytes_used.map_or("?".into(), bytes));
    let mut per_kind: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut cursor = None;
    let mut seen = 0;
    loop {
        let page = backend
            .scan(backend.namespace(), cursor, 500)
            .await
            .map_err(|e| anyhow!("SCAN failed: {}", e.message()))?;
        let refs: Vec<&str> = page
            .keys
            .iter()
            .take(sample - seen)
            .map(String::as_str)
            .collect();
        let values = if refs.is_empty() {
            Vec::new()
        } else {
            backend
                .get_many(&refs)
                .await
                .map_err(|e| anyhow!("MGET failed: {}", e.message()))?
        };
        for (k, v) in refs.iter().zip(values) {
            let kind = Key::parse(k)
                .map(|p| p.kind)
                .unwrap_or_else(|_| "(foreign)".into());
            let e = per_kind.entry(kind).or_default();
            e.0 += 1;
            e.1 += v.map_or(0, |b| b.len() as u64);
        }
        seen += refs.len();
        cursor = page.next;
        if cursor.is_none() || seen >= sample {
            break;
        }
    }
    let complete = cursor.is_none();
    println!(
        "keys under {}: {seen}{}",
        backend.namespace(),
        if complete {
            ""
        } else {
            " (sampled; more exist)"
        }
    );
    println!("{:<20} {:>10} {:>12}", "kind", "keys", "value bytes");
    let (internal, kinds): (Vec<_>, Vec<_>) =
        per_kind.into_iter().partition(|(k, _)| is_internal_kind(k));
    for (kind, (n, b)) in kinds {
        println!("{kind:<20} {n:>10} {:>12}", bytes(b));
    }
    let counters: u64 = internal.iter().map(|(_, (n, _))| n).sum();
    if counters > 0 {
        println!("(and {counters} version counters of kinds and tags)");
    }
    Ok(())
}

async fn keys(
    backend: &RedisBackend,
    space: &KeySpace,
    kind: Option<&str>,
    limit: usize,
) -> Result<()> {
    let prefix = match kind {
        Some(k) => space
            .keys_of(&strata::KindName::internal(k).context("invalid --kind")?)
            .kind_namespace(),
        None => space.namespace(),
    };
    // The kind and tag version counters are listed only when asked for by name.
    let internal = space
        .keys_of(&strata::KindName::internal("__version")?)
        .kind_namespace();
    let mut cursor = None;
    let mut printed = 0;
    let mut out = std::io::stdout().lock();
    while printed < limit {
        let page = backend
            .scan(&prefix, cursor, 500)
            .await
            .map_err(|e| anyhow!("SCAN failed: {}", e.message()))?;
        let shown = page
            .keys
            .iter()
            .filter(|k| kind.is_some() || !k.starts_with(&internal));
        for k in shown.take(limit - printed) {
            writeln!(out, "{k}")?;
            printed += 1;
        }
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    Ok(())
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < 3 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

pub(crate) fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

pub(crate) fn human(ms: u64) -> String {
    humantime::format_duration(Duration::from_secs(ms / 1000)).to_string()
}
