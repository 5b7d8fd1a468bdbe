//! `cargo xtask chaos`: the Payshift demo on a spawned redis-server under a bounded load while
//! faults are injected one phase at a time. Reports, per phase, requests, non-2xx and 5xx
//! answers, p99, stale answers served and the backend errors the cache counted, plus the health
//! status seen during the fault. Fails on any 5xx or if the demo dies.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::Rng;
use serde_json::Value;
use strata_testkit::RedisServer;

use crate::cargo;
use crate::demo_process::DemoProcess;

const TOKEN: &str = "chaos-token";
const PATHS: [&str; 4] = [
    "/accountsapp/whoami/{user}",
    "/jobs/{job}",
    "/jobs/alljobs",
    "/jobs/job-industries/",
];

/// What one phase saw.
struct PhaseReport {
    name: &'static str,
    requests: usize,
    non_2xx: usize,
    server_errors: usize,
    p99_ms: f64,
    stale: u64,
    l2_errors: BTreeMap<String, u64>,
    health: String,
}

/// Counters read from cache-stats, to diff around a phase.
#[derive(Default, Clone)]
struct Counters {
    stale: u64,
    l2_errors: BTreeMap<String, u64>,
}

async fn counters(client: &reqwest::Client, base: &str) -> Counters {
    let Ok(r) = client
        .get(format!("{base}/core/monitoring/cache-stats/"))
        .bearer_auth(TOKEN)
        .send()
        .await
    else {
        return Counters::default();
    };
    let Ok(v) = r.json::<Value>().await else {
        return Counters::default();
    };
    let totals = &v["totals"];
    let l2_errors = totals["l2"]["errors"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    Counters {
        stale: totals["stale_hits"].as_u64().unwrap_or(0),
        l2_errors,
    }
}

async fn health(client: &reqwest::Client, base: &str) -> String {
    match client
        .get(format!("{base}/core/monitoring/system-health/"))
        .send()
        .await
    {
        Ok(r) => match r.json::<Value>().await {
            Ok(v) => {
                let status = v["status"].as_str().unwrap_or("?");
                // The backend errors health saw since its previous check.
                let seen: Vec<&str> = v["l2"]["errors_since_last_check"]
                    .as_object()
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                if seen.is_empty() {
                    status.to_owned()
                } else {
                    format!("{status} ({})", seen.join(", "))
                }
            }
            Err(_) => "unreadable".into(),
        },
        Err(_) => "unreachable".into(),
    }
}

/// `requests` requests over `PATHS` with `concurrency` clients; returns latencies and the
/// non-2xx and 5xx counts.
async fn load(base: &str, requests: usize, concurrency: usize) -> (Vec<Duration>, usize, usize) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let next = Arc::new(AtomicUsize::new(0));
    let non_2xx = Arc::new(AtomicUsize::new(0));
    let server_errors = Arc::new(AtomicUsize::new(0));
    let lat = Arc::new(std::sync::Mutex::new(Vec::with_capacity(requests)));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, next, non_2xx, server_errors, lat) = (
                client.clone(),
                next.clone(),
                non_2xx.clone(),
                server_errors.clone(),
                lat.clone(),
            );
            let base = base.to_owned();
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let path = {
                        let mut rng = rand::rng();
                        PATHS[rng.random_range(0..PATHS.len())]
                            .replace("{user}", &rng.random_range(1..=200).to_string())
                            .replace("{job}", &rng.random_range(1..=300).to_string())
                    };
                    let t = Instant::now();
                    match client.get(format!("{base}{path}")).send().await {
                        Ok(r) => {
                            let status = r.status();
                            let _ = r.bytes().await;
                            if !status.is_success() {
                                non_2xx.fetch_add(1, Ordering::Relaxed);
                            }
                            if status.is_server_error() {
                                server_errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(_) => {
                            non_2xx.fetch_add(1, Ordering::Relaxed);
                            server_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if let Ok(mut l) = lat.lock() {
                        l.push(t.elapsed());
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let l = lat.lock().map(|l| l.clone()).unwrap_or_default();
    (
        l,
        non_2xx.load(Ordering::Relaxed),
        server_errors.load(Ordering::Relaxed),
    )
}

fn p99(mut l: Vec<Duration>) -> f64 {
    l.sort_unstable();
    l.get(((l.len() as f64 * 0.99) as usize).min(l.len().saturating_sub(1)))
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

async fn redis_cmd(url: &str, args: &[&str]) -> Result<redis::Value> {
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
enum Fault {
    None,
    Killed,
    Paused,
    Slowed,
    Full,
    Corrupted,
    Oversized,
}

impl Fault {
    fn name(self) -> &'static str {
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

pub(crate) fn run(requests: usize, concurrency: usize) -> Result<()> {
    cargo(&["build", "--release", "-p", "payshift"], &[])?;
    let mut server = RedisServer::spawn_with_args(&["--enable-debug-command", "yes"])
        .context("spawning redis-server (is it installed?)")?;
    let url = server.url();
    let dir = tempfile::tempdir()?;
    let start_demo = || {
        DemoProcess::start(
            &["--seed-scale", "0.2"],
            &[
                (
                    "DATABASE_URL",
                    format!("sqlite://{}", dir.path().join("payshift.db").display()),
                ),
                ("REDIS_URL", url.clone()),
                ("STRATA_ADMIN_TOKEN", TOKEN.to_owned()),
                ("STRATA_OPERATION_TIMEOUT", "250ms".to_owned()),
            ],
        )
    };
    let mut demo = start_demo()?;
    println!("chaos: demo at {}, redis at {url}", demo.url);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut reports = Vec::new();
    for fault in [
        Fault::None,
        Fault::Killed,
        Fault::Paused,
        Fault::Slowed,
        Fault::Full,
        Fault::Corrupted,
        Fault::Oversized,
    ] {
        // Each fault starts from a healthy service (closed circuit) and a warm cache.
        let healthy_at = Instant::now();
        while !rt.block_on(health(&client, &demo.url)).starts_with("ok") {
            if healthy_at.elapsed() > Duration::from_secs(30) {
                bail!(
                    "chaos: the service did not become healthy again before {:?}",
                    fault.name()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        rt.block_on(load(&demo.url, 400, 8));
        let stop_slow = Arc::new(AtomicBool::new(false));
        match fault {
            Fault::None => {}
            Fault::Killed => server.stop(),
            Fault::Paused => server.pause()?,
            Fault::Slowed => {
                let (url, stop) = (url.clone(), stop_slow.clone());
                rt.spawn(async move {
                    while !stop.load(Ordering::Acquire) {
                        let _ = redis_cmd(&url, &["DEBUG", "SLEEP", "0.05"]).await;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                });
            }
            Fault::Full => {
                rt.block_on(async {
                    // Empty both tiers first so the phase has to write.
                    client
                        .post(format!("{}/core/monitoring/clear-cache/", demo.url))
                        .bearer_auth(TOKEN)
                        .json(&serde_json::json!({"all": true}))
                        .send()
                        .await?;
                    redis_cmd(&url, &["CONFIG", "SET", "maxmemory-policy", "noeviction"]).await?;
                    // A budget just above what is used now: new writes fail with OOM.
                    let used = match redis_cmd(&url, &["INFO", "memory"]).await? {
                        redis::Value::BulkString(b) => String::from_utf8_lossy(&b)
                            .lines()
                            .find_map(|l| l.strip_prefix("used_memory:"))
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .unwrap_or(0),
                        _ => 0,
                    };
                    let budget = (used + 64 * 1024).to_string();
                    redis_cmd(&url, &["CONFIG", "SET", "maxmemory", &budget]).await?;
                    anyhow::Ok(())
                })?;
            }
            Fault::Corrupted | Fault::Oversized => {
                rt.block_on(async {
                    let keys = entry_keys(&url).await?;
                    let garbage: Vec<u8> = match fault {
                        Fault::Corrupted => {
                            b"\xc1S\x01\x00garbage that is not MessagePack".to_vec()
                        }
                        // A well-formed header in front of 9 MiB: over the 8 MiB value limit.
                        _ => {
                            let mut v = b"\xc1S\x01\x00".to_vec();
                            v.resize(9 * 1024 * 1024, 0x90);
                            v
                        }
                    };
                    let client = redis::Client::open(url.as_str())?;
                    let mut conn = client.get_multiplexed_async_connection().await?;
                    // Keep the damage bounded: at most 50 keys of 9 MiB.
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
                    anyhow::Ok(())
                })?;
                // A fresh instance (empty L1) so every read meets the planted bytes in Redis.
                drop(demo);
                demo = start_demo()?;
            }
        }
        // After the injection: the corrupted phases start a fresh demo (fresh counters).
        let before = rt.block_on(counters(&client, &demo.url));
        let health_during = {
            let demo_url = demo.url.clone();
            let client = client.clone();
            rt.spawn(async move {
                tokio::time::sleep(Duration::from_millis(700)).await;
                health(&client, &demo_url).await
            })
        };
        let (lat, non_2xx, server_errors) = rt.block_on(load(&demo.url, requests, concurrency));
        let health = rt.block_on(health_during).unwrap_or_else(|_| "?".into());
        // Heal.
        stop_slow.store(true, Ordering::Release);
        match fault {
            Fault::Killed => server.restart()?,
            Fault::Paused => server.resume()?,
            Fault::Full => {
                rt.block_on(async {
                    redis_cmd(&url, &["CONFIG", "SET", "maxmemory", "0"]).await?;
                    redis_cmd(&url, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]).await?;
                    anyhow::Ok(())
                })?;
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(600));
        let after = rt.block_on(counters(&client, &demo.url));
        let l2_errors = after
            .l2_errors
            .iter()
            .map(|(k, v)| {
                let was = before.l2_errors.get(k).copied().unwrap_or(0);
                (k.clone(), v.saturating_sub(was))
            })
            .filter(|(_, v)| *v > 0)
            .collect();
        let report = PhaseReport {
            name: fault.name(),
            requests: lat.len(),
            non_2xx,
            server_errors,
            p99_ms: p99(lat),
            stale: after.stale.saturating_sub(before.stale),
            l2_errors,
            health,
        };
        println!(
            "{:<48} {:>6} req  {:>4} non-2xx  {:>4} 5xx  p99 {:>8.2} ms  stale {:>5}  health {:<9} L2 errors {:?}",
            report.name,
            report.requests,
            report.non_2xx,
            report.server_errors,
            report.p99_ms,
            report.stale,
            report.health,
            report.l2_errors
        );
        reports.push(report);
    }
    let alive = rt.block_on(health(&client, &demo.url)) != "unreachable";
    let mut md = format!(
        "# Chaos run ({requests} requests per phase, concurrency {concurrency}; Payshift demo, SQLite, spawned Redis; operation timeout 250 ms)\n\n| phase | requests | non-2xx | 5xx | p99 ms | stale served | health during | L2 errors counted |\n|---|---|---|---|---|---|---|---|\n"
    );
    for r in &reports {
        let errors = if r.l2_errors.is_empty() {
            "none".to_owned()
        } else {
            r.l2_errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.2} | {} | {} | {} |",
            r.name, r.requests, r.non_2xx, r.server_errors, r.p99_ms, r.stale, r.health, errors
        );
    }
    let _ = writeln!(
        md,
        "\nThe demo {} the run.",
        if alive { "survived" } else { "did NOT survive" }
    );
    let out = crate::report_dir().join("chaos.md");
    std::fs::create_dir_all(out.parent().context("report path")?)?;
    std::fs::write(&out, &md)?;
    println!("\n{md}\nwritten to {}", out.display());
    let five_xx: usize = reports.iter().map(|r| r.server_errors).sum();
    if five_xx > 0 || !alive {
        bail!("chaos: {five_xx} 5xx answers; demo alive: {alive}");
    }
    Ok(())
}
