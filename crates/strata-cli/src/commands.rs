//! The subcommands.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use strata::{
    Backend, CacheBuilder, Codec, Key, KeySpace, KeyTtl, Listing, MsgPackCodec, RedisBackend,
    RedisConfig,
};

use crate::{Cli, Command};

pub(crate) async fn run(cli: Cli) -> Result<()> {
    let url = cli
        .redis
        .clone()
        .ok_or_else(|| anyhow!("no Redis URL: pass --redis redis://host:port or set REDIS_URL"))?;
    let space = KeySpace::new(&cli.prefix, &cli.app_version)
        .context("invalid --prefix or --app-version")?;
    let config = RedisConfig::new(&url)
        .with_cluster(cli.cluster)
        .with_namespace(space.namespace())
        .with_operation_timeout(cli.timeout)
        .with_connect_timeout(cli.timeout);
    let shown_url = config.redacted_url();
    let backend = RedisBackend::connect(config)
        .await
        .map_err(|e| anyhow!("cannot reach Redis at {shown_url}: {}", e.message()))?;
    match cli.command {
        Command::Health => health(&backend).await,
        Command::Stats { sample } => stats(&backend, sample).await,
        Command::Keys { kind, limit } => keys(&backend, &space, kind.as_deref(), limit).await,
        Command::Inspect { key } => inspect(&backend, &key).await,
        Command::ServerPolicy { policy, maxmemory } => {
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
        Command::Clear { kind, all, yes } => {
            clear(backend, &cli.prefix, &cli.app_version, kind, all, yes).await
        }
    }
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
    for (kind, (n, b)) in per_kind {
        println!("{kind:<20} {n:>10} {:>12}", bytes(b));
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

async fn inspect(backend: &RedisBackend, key: &str) -> Result<()> {
    let bytes = backend
        .get(key)
        .await
        .map_err(|e| anyhow!("GET failed: {}", e.message()))?
        .ok_or_else(|| anyhow!("no entry under {key:?}"))?;
    let ttl = backend
        .ttl(key)
        .await
        .map_err(|e| anyhow!("PTTL failed: {}", e.message()))?;
    let info = strata_codec::peek(&bytes).map_err(|e| {
        anyhow!(
            "{key:?} holds {} bytes that are not a Strata entry: {e}",
            bytes.len()
        )
    })?;
    let value = MsgPackCodec::default()
        .decode::<serde_json::Value>(&bytes, None)
        .map_err(|e| anyhow!("{key:?}: the entry's payload does not decode: {e}"))?
        .value;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let meta = info.meta;
    let parts = Key::parse(key).ok().map(|p| {
        json!({
            "prefix": p.prefix, "app_version": p.app_version, "kind": p.kind,
            "schema": p.schema, "generation": p.generation, "hash_tagged": p.hash_tagged,
            "id": match p.id { strata::KeyId::Plain(s) => s, strata::KeyId::Hashed(h) => format!("(hashed) {h}") },
        })
    });
    let out = json!({
        "key": key,
        "parts": parts,
        "size_bytes": bytes.len(),
        "format": if info.flags.json() { "json" } else { "msgpack" },
        "compressed": info.flags.compressed(),
        "absent": info.flags.absent(),
        "schema": meta.schema,
        "created_at": rfc3339(meta.created_at_ms),
        "age": human(now.saturating_sub(meta.created_at_ms)),
        "expires_at": if meta.expires_at_ms == 0 { None } else { Some(rfc3339(meta.expires_at_ms)) },
        "fresh": !meta.is_expired(now),
        "ttl_remaining": match ttl {
            KeyTtl::Expires(d) => human(d.as_millis() as u64),
            KeyTtl::Persistent => "never expires".into(),
            KeyTtl::Missing => "gone".into(),
        },
        "value": value,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

async fn clear(
    backend: RedisBackend,
    prefix: &str,
    app_version: &str,
    kind: Option<String>,
    all: bool,
    yes: bool,
) -> Result<()> {
    let what = match (&kind, all) {
        (Some(k), _) => {
            format!("every {k:?} entry under prefix {prefix:?} (app version {app_version})")
        }
        (None, true) => format!("EVERY entry under prefix {prefix:?}"),
        (None, false) => bail!("give --kind KIND or --all"),
    };
    if !yes {
        eprint!("Clear {what}? [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("aborted, nothing cleared (pass --yes to clear without asking)");
        }
    }
    let cache = CacheBuilder::new()
        .prefix(prefix)
        .app_version(app_version)
        .l1(false)
        .metrics(false)
        .backend(Arc::new(backend) as Arc<dyn Backend>)
        .build()
        .await?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    let removed = match kind {
        Some(k) => {
            cache
                .purge_kind_with_progress(&k, |scanned, removed| {
                    bar.set_message(format!("scanned {scanned}, removed {removed}"))
                })
                .await?
        }
        None => {
            cache
                .clear_with_progress(|removed| bar.set_message(format!("removed {removed}")))
                .await?
        }
    };
    bar.finish_and_clear();
    println!("removed {removed} entries");
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

fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn human(ms: u64) -> String {
    humantime::format_duration(Duration::from_secs(ms / 1000)).to_string()
}
