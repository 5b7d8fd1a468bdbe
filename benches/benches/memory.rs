//! Memory against the configured budgets, both tiers. Per budget (64 and 256 MiB; quick: 64)
//! and entry size (200 B, 2 KB, 200 KB of random text, which lz4 cannot shrink): a fresh
//! process builds a cache with `l1.max_bytes` = the budget (and `max_entries` high enough that
//! the bytes bind) on a fresh redis-server started with `--maxmemory` = the budget
//! (`allkeys-lru`), writes 1.5x the budget through `set`, and reports the growth of its own RSS
//! (L1) and of the server's `used_memory_rss` (L2) against the budget. Writes
//! target/strata-bench/memory.json; no timings.
#![allow(missing_docs)]

use std::sync::Arc;

use rand::RngExt;
use serde_json::{Value, json};
use strata::{CacheBuilder, CacheConfig};

const MIB: u64 = 1 << 20;
const SIZES: [(&str, usize); 3] = [("small", 200), ("medium", 2_000), ("large", 200_000)];
const CASE_ENV: &str = "STRATA_MEMORY_CASE";

/// Resident set size of this process in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn redis_rss(url: &str) -> (u64, u64) {
    let client = redis::Client::open(url).expect("url");
    let mut con = client.get_connection().expect("connect");
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query(&mut con)
        .expect("INFO");
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("used_memory_rss"), field("used_memory"))
}

/// One case in this (fresh) process: prints its JSON row.
fn case(budget_mib: u64, size_name: &str, size: usize) -> Value {
    let budget = budget_mib * MIB;
    let server = strata_testkit::RedisServer::spawn_with_args(&[
        "--maxmemory",
        &budget.to_string(),
        "--maxmemory-policy",
        "allkeys-lru",
    ])
    .expect("redis-server");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let toml = format!(
        "[l1]\nmax_bytes = {budget}\nmax_entries = {}\nmax_lifetime = \"1h\"\n[backend]\nurl = \"{}\"\n",
        budget / 64,
        server.url()
    );
    let config = CacheConfig::from_toml_str(&toml).expect("config");
    rt.block_on(async {
        let cache = CacheBuilder::from_config(config)
            .prefix("mem")
            .metrics(false)
            .build()
            .await
            .expect("cache");
        let kind = Arc::new(cache.kind::<String>("blob").expect("kind"));
        kind.set(0, "warm-up".to_owned()).await.expect("set");
        let (redis_base, _) = redis_rss(&server.url());
        let base = rss();
        let count = (budget as usize * 3 / 2) / size;
        let tasks = 32;
        let mut handles = Vec::new();
        for t in 0..tasks {
            let kind = kind.clone();
            handles.push(tokio::spawn(async move {
                let mut i = t;
                while i < count {
                    let text: String = rand::rng()
                        .sample_iter(rand::distr::Alphanumeric)
                        .take(size)
                        .map(char::from)
                        .collect();
                    kind.set(i + 1, text).await.expect("set");
                    i += tasks;
                }
            }));
        }
        for h in handles {
            h.await.expect("task");
        }
        let l1 = cache.admin().l1().expect("an L1");
        l1.sync().await;
        let usage = l1.usage().await;
        let grown = rss().saturating_sub(base);
        let (redis_now, redis_used) = redis_rss(&server.url());
        json!({
            "budget_mib": budget_mib, "entry": size_name, "entry_bytes": size, "written": count,
            "l1_entries": usage.entries, "l1_weighted_bytes": usage.weighted_bytes,
            "l1_rss_growth": grown, "l1_rss_base": base,
            "l1_ratio": grown as f64 / budget as f64,
            "l2_used_memory": redis_used, "l2_rss_growth": redis_now.saturating_sub(redis_base),
            "l2_rss_base": redis_base,
            "l2_ratio": redis_now.saturating_sub(redis_base) as f64 / budget as f64,
        })
    })
}

fn main() {
    if let Ok(spec) = std::env::var(CASE_ENV) {
        let (budget, size) = spec.split_once(':').expect("budget:size");
        let (name, bytes) = SIZES
            .iter()
            .find(|(n, _)| *n == size)
            .copied()
            .expect("a size");
        println!("{}", case(budget.parse().expect("budget"), name, bytes));
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--") && a.parse::<f64>().is_err())
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "memory".contains(a.as_str())) {
        return;
    }
    let budgets: &[u64] = if std::env::var_os("STRATA_BENCH_QUICK").is_some() {
        &[64]
    } else {
        &[64, 256]
    };
    let exe = std::env::current_exe().expect("own path");
    let mut rows = Vec::new();
    for budget in budgets {
        for (name, _) in SIZES {
            let out = std::process::Command::new(&exe)
                .env(CASE_ENV, format!("{budget}:{name}"))
                .output()
                .expect("a case process");
            let text = String::from_utf8_lossy(&out.stdout);
            let row: Value = text
                .lines()
                .rev()
                .find_map(|l| serde_json::from_str(l).ok())
                .unwrap_or_else(|| {
                    panic!(
                        "case {budget}:{name} printed no row: {text}{}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                });
            println!(
                "{budget} MiB {name}: L1 RSS +{:.1} MiB ({:.2}x), L2 RSS +{:.1} MiB ({:.2}x)",
                row["l1_rss_growth"].as_f64().unwrap_or(0.0) / MIB as f64,
                row["l1_ratio"].as_f64().unwrap_or(0.0),
                row["l2_rss_growth"].as_f64().unwrap_or(0.0) / MIB as f64,
                row["l2_ratio"].as_f64().unwrap_or(0.0),
            );
            rows.push(row);
        }
    }
    let dir = strata_benches::report_dir();
    std::fs::create_dir_all(&dir).expect("report dir");
    std::fs::write(
        dir.join("memory.json"),
        serde_json::to_string_pretty(&Value::Array(rows)).expect("json"),
    )
    .expect("write memory.json");
}
