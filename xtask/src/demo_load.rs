//! `cargo xtask demo-load`: a bounded load run against the Payshift demo, cached and `--no-cache`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::RngExt;

use crate::cargo;
use crate::demo_process::DemoProcess;

/// One endpoint's results.
pub(crate) struct Outcome {
    pub(crate) endpoint: &'static str,
    pub(crate) requests: usize,
    pub(crate) errors: usize,
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

const ENDPOINTS: [&str; 5] = [
    "/accountsapp/whoami/{user}",
    "/jobs/{job}",
    "/jobs/alljobs",
    "/jobs/job-industries/",
    "/jobs/job-subcategories/",
];

fn start(db_dir: &std::path::Path, no_cache: bool) -> Result<DemoProcess> {
    let args: &[&str] = if no_cache { &["--no-cache"] } else { &[] };
    DemoProcess::start(
        args,
        &[
            (
                "DATABASE_URL",
                format!("sqlite://{}", db_dir.join("payshift.db").display()),
            ),
            ("STRATA_ADMIN_TOKEN", "demo-load".to_owned()),
        ],
    )
}

async fn hammer(
    url: &str,
    endpoint: &'static str,
    requests: usize,
    concurrency: usize,
    limit: Duration,
) -> Outcome {
    let client = reqwest::Client::new();
    let latencies = Arc::new(std::sync::Mutex::new(Vec::with_capacity(requests)));
    let errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, latencies, errors, next) = (
                client.clone(),
                latencies.clone(),
                errors.clone(),
                next.clone(),
            );
            let base = url.to_owned();
            tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests
                    && start.elapsed() < limit
                {
                    let path = {
                        let mut rng = rand::rng();
                        endpoint
                            .replace("{user}", &rng.random_range(1..=1000).to_string())
                            .replace("{job}", &rng.random_range(1..=2000).to_string())
                    };
                    let t = Instant::now();
                    let ok = match client.get(format!("{base}{path}")).send().await {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    latencies.lock().map(|mut l| l.push(t.elapsed())).ok();
                    if !ok {
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed();
    let mut l = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    l.sort_unstable();
    let pct = |q: f64| {
        l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Outcome {
        endpoint,
        requests: l.len(),
        errors: errors.load(std::sync::atomic::Ordering::Relaxed),
        rps: l.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    }
}

/// Each endpoint cached, then `--no-cache`: `[cached rows, no-cache rows]`.
pub(crate) fn measure(
    requests: usize,
    concurrency: usize,
    seconds: u64,
) -> Result<Vec<Vec<Outcome>>> {
    cargo(&["build", "--release", "-p", "payshift"], &[])?;
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let limit = Duration::from_secs(seconds);
    let mut results = Vec::new();
    for no_cache in [false, true] {
        let demo = start(dir.path(), no_cache)?;
        println!(
            "== {} at {}",
            if no_cache { "--no-cache" } else { "cached" },
            demo.url
        );
        let mut rows = Vec::new();
        for endpoint in ENDPOINTS {
            // Warm-up, so the cached run measures hits rather than the first loads.
            rt.block_on(hammer(&demo.url, endpoint, 200, 8, Duration::from_secs(10)));
            let o = rt.block_on(hammer(&demo.url, endpoint, requests, concurrency, limit));
            println!(
                "{:<28} {:>7} req {:>4} errors {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
                o.endpoint, o.requests, o.errors, o.rps, o.p50_ms, o.p99_ms
            );
            rows.push(o);
        }
        results.push(rows);
    }
    Ok(results)
}

pub(crate) fn run(requests: usize, concurrency: usize, seconds: u64) -> Result<()> {
    let results = measure(requests, concurrency, seconds)?;
    let mut md = format!(
        "# Payshift demo load ({requests} requests or {seconds} s per endpoint, concurrency {concurrency}, SQLite, memory backend)\n\n| endpoint | cached req/s | no-cache req/s | speed-up | cached p50 / p99 ms | no-cache p50 / p99 ms | errors |\n|---|---|---|---|---|---|---|\n"
    );
    for (c, n) in results[0].iter().zip(&results[1]) {
        let _ = writeln!(
            md,
            "| `{}` | {:.0} | {:.0} | {:.1}x | {:.2} / {:.2} | {:.2} / {:.2} | {} |",
            c.endpoint,
            c.rps,
            n.rps,
            c.rps / n.rps.max(f64::MIN_POSITIVE),
            c.p50_ms,
            c.p99_ms,
            n.p50_ms,
            n.p99_ms,
            c.errors + n.errors
        );
    }
    let out = crate::report_dir().join("demo-load.md");
    std::fs::create_dir_all(out.parent().context("report path")?)?;
    std::fs::write(&out, &md)?;
    println!("\n{md}\nwritten to {}", out.display());
    if results.iter().flatten().any(|o| o.errors > 0) {
        bail!("some requests failed (see the errors column)");
    }
    Ok(())
}
