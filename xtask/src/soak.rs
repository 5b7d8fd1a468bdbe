//! `cargo xtask soak`: two cache instances (own L1s) sharing a spawned redis-server under mixed
//! reads, writes and invalidations for a bounded time. Samples this process's RSS, the L1s'
//! weighted size and Redis `used_memory`; checks that memory stays under the configured limits
//! with no growth after warm-up, and that no cached value is stale once the load stops.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use strata::{Cache, CacheBuilder, CacheConfig, LoadOptions, Rules, Target};
use strata_testkit::RedisServer;

const KEYS: u32 = 5_000;
const L1_MAX_BYTES: u64 = 512 * 1024;
const QUOTA_ENTRIES: u64 = 1_000;

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

async fn instance(url: &str) -> Result<Cache> {
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"soak\"\nmetrics = false\n[l1]\nmax_bytes = {L1_MAX_BYTES}\n\
         [backend]\nurl = \"{url}\"\n[backend.quotas.item]\nmax_entries = {QUOTA_ENTRIES}\n"
    ))?;
    Ok(CacheBuilder::from_config(config).build().await?)
}

struct Sample {
    at: Duration,
    rss: u64,
    l1: [u64; 2],
    redis: u64,
    ops: u64,
}

/// What the soak's tasks share: the two instances, the "database" they cache, the rules of
/// a write, the stop flag and the operation count.
#[derive(Clone)]
struct Soak {
    caches: [Cache; 2],
    db: Arc<Mutex<HashMap<u32, u64>>>,
    rules: Rules,
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
}

pub(crate) fn run(minutes: f64) -> Result<()> {
    let server = RedisServer::spawn().context("spawning redis-server (is it installed?)")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let duration = Duration::from_secs_f64(minutes * 60.0);
    let (samples, stale, ops, quota_entries) = rt.block_on(async {
        let soak = Soak {
            caches: [
                instance(&server.url()).await?,
                instance(&server.url()).await?,
            ],
            db: Arc::new(Mutex::new((0..KEYS).map(|k| (k, 0)).collect())),
            rules: Rules::new().on("item", |id| {
                vec![
                    Target::key("item", id),
                    Target::tag(format!("group:{}", id.len())),
                ]
            }),
            stop: Arc::new(AtomicBool::new(false)),
            ops: Arc::new(AtomicU64::new(0)),
        };
        let tasks: Vec<_> = (0..8u64)
            .map(|t| tokio::spawn(soak.clone().work(t)))
            .collect();
        let samples = soak.sample(&server.url(), duration).await?;
        soak.stop.store(true, Ordering::Release);
        for t in tasks {
            t.await?;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stale = soak.stale_values().await?;
        let ops = soak.ops.load(Ordering::Relaxed);
        let quota_entries = soak.quota_entries().await?;
        anyhow::Ok((samples, stale, ops, quota_entries))
    })?;
    report(&samples, stale, ops, minutes, quota_entries)
}

impl Soak {
    /// One task's mixed load until told to stop (its own seed `t`).
    async fn work(self, t: u64) {
        let mut rng = SmallRng::seed_from_u64(t);
        while !self.stop.load(Ordering::Acquire) {
            self.one_operation(&mut rng).await;
            self.ops.fetch_add(1, Ordering::Relaxed);
            tokio::task::yield_now().await;
        }
    }

    /// A read through the cache (89 %), a write and its rules (10 %), or a tag invalidation.
    async fn one_operation(&self, rng: &mut SmallRng) {
        // Zipf-like: most traffic on a few hundred keys.
        let k = if rng.random_bool(0.8) {
            rng.random_range(0..300)
        } else {
            rng.random_range(0..KEYS)
        };
        let via = &self.caches[rng.random_range(0..2)];
        let items = via.kind::<Vec<u64>>("item").expect("kind");
        match rng.random_range(0..100) {
            0..=9 => {
                // A write: the database first, then the rules.
                *self.db.lock().entry(k).or_default() += 1;
                let _ = via.invalidate(&self.rules, "item", k).await;
            }
            10 => {
                let _ = via
                    .invalidate_tag(&format!("group:{}", k.to_string().len()))
                    .await;
            }
            _ => {
                let db = self.db.clone();
                let opts = LoadOptions::new().tags([format!("group:{}", k.to_string().len())]);
                let _ = items
                    .get_or_load_with(k, &opts, || async move {
                        let v = db.lock()[&k];
                        // ~1 KiB values so the limits matter.
                        Ok::<_, String>(vec![v; 128])
                    })
                    .await;
            }
        }
    }

    /// Every 5 s until `duration` has passed: RSS, the L1s' weighted sizes, Redis memory.
    async fn sample(&self, url: &str, duration: Duration) -> Result<Vec<Sample>> {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let start = Instant::now();
        let mut samples = Vec::new();
        while start.elapsed() < duration {
            tokio::time::sleep(Duration::from_secs(5).min(duration)).await;
            let info: String = redis::cmd("INFO")
                .arg("memory")
                .query_async(&mut conn)
                .await?;
            let redis = info
                .lines()
                .find_map(|l| l.strip_prefix("used_memory:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let l1 = [0, 1].map(|i| {
                self.caches[i]
                    .admin()
                    .l1()
                    .map_or(0, |l| l.weighted_bytes())
            });
            let s = Sample {
                at: start.elapsed(),
                rss: rss_bytes(),
                l1,
                redis,
                ops: self.ops.load(Ordering::Relaxed),
            };
            println!(
                "{:>6.0} s  rss {:>6.1} MiB  L1 {:>5.2} / {:>5.2} MiB  redis {:>6.1} MiB  {:>9} ops",
                s.at.as_secs_f64(),
                s.rss as f64 / 1048576.0,
                s.l1[0] as f64 / 1048576.0,
                s.l1[1] as f64 / 1048576.0,
                s.redis as f64 / 1048576.0,
                s.ops
            );
            samples.push(s);
        }
        Ok(samples)
    }

    /// Cached values (either instance) that differ from the database once the load stopped.
    async fn stale_values(&self) -> Result<u64> {
        let mut stale = 0u64;
        for cache in &self.caches {
            let items = cache.kind::<Vec<u64>>("item")?;
            for k in 0..KEYS {
                if let Some(v) = items.get(k).await?
                    && v.first().copied() != Some(self.db.lock()[&k])
                {
                    stale += 1;
                }
            }
        }
        Ok(stale)
    }

    /// The entries of kind `item` Redis holds, from its quota usage.
    async fn quota_entries(&self) -> Result<u64> {
        let info = self.caches[0].admin().backend_info().await?;
        info.details
            .get("quota.soak:v1:item:.entries")
            .and_then(|v| v.parse().ok())
            .context("quota usage in backend info")
    }
}

fn report(
    samples: &[Sample],
    stale: u64,
    ops: u64,
    minutes: f64,
    quota_entries: u64,
) -> Result<()> {
    if samples.len() < 3 {
        bail!("soak: run at least 15 s (3 samples) to see a trend");
    }
    let mib = |b: u64| b as f64 / 1048576.0;
    let third = samples.len() / 3;
    let avg = |s: &[Sample], f: &dyn Fn(&Sample) -> u64| {
        s.iter().map(f).sum::<u64>() as f64 / s.len().max(1) as f64
    };
    let (mid, last) = (&samples[third..2 * third], &samples[2 * third..]);
    let growth = |f: &dyn Fn(&Sample) -> u64| avg(last, f) / avg(mid, f).max(1.0);
    let rss_growth = growth(&|s| s.rss);
    let redis_growth = growth(&|s| s.redis);
    let l1_max = samples.iter().flat_map(|s| s.l1).max().unwrap_or(0);
    let mut md = format!(
        "# Soak run ({minutes} min, 2 instances, 8 tasks, {ops} operations, {KEYS} keys, ~1 KiB values)\n\n\
         L1 limit {:.1} MiB per instance; Redis quota {QUOTA_ENTRIES} entries on kind `item`.\n\n\
         | check | value | verdict |\n|---|---|---|\n",
        mib(L1_MAX_BYTES)
    );
    let ok = |b: bool| if b { "ok" } else { "FAILED" };
    let l1_ok = l1_max <= L1_MAX_BYTES;
    let growth_ok = rss_growth < 1.10 && redis_growth < 1.10;
    let _ = writeln!(
        md,
        "| largest L1 weighted size | {:.2} MiB | {} |",
        mib(l1_max),
        ok(l1_ok)
    );
    let _ = writeln!(
        md,
        "| RSS, last third / middle third | {rss_growth:.3} ({:.1} → {:.1} MiB) | {} |",
        mib(avg(&samples[third..2 * third], &|s| s.rss) as u64),
        mib(avg(&samples[2 * third..], &|s| s.rss) as u64),
        ok(rss_growth < 1.10)
    );
    let _ = writeln!(
        md,
        "| Redis used_memory, last third / middle third | {redis_growth:.3} | {} |",
        ok(redis_growth < 1.10)
    );
    let quota_ok = quota_entries <= QUOTA_ENTRIES;
    let _ = writeln!(
        md,
        "| Redis entries of kind `item` at the end | {quota_entries} | {} |",
        ok(quota_ok)
    );
    let _ = writeln!(
        md,
        "| stale values after quiescence | {stale} | {} |",
        ok(stale == 0)
    );
    let out = crate::report_dir().join("soak.md");
    std::fs::create_dir_all(out.parent().context("report path")?)?;
    std::fs::write(&out, &md)?;
    println!("\n{md}\nwritten to {}", out.display());
    if !(l1_ok && growth_ok && quota_ok && stale == 0) {
        bail!("soak: a check failed (see the report)");
    }
    Ok(())
}
