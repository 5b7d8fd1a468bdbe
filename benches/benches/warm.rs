//! A restarted instance, warmed from the hot set or cold: on a Zipf 0.9 trace over 10,000 keys,
//! every key is in L2 (a memory backend), one instance serves the first part of the trace and
//! records its hot set; a new instance on the same backend then serves the rest, once after `ready()` filled its
//! L1 from the hot set, once cold. Per window of 1,000 requests (a second at 1,000 requests per
//! second): the L1 hit ratio, the L2 reads and the database (loader) calls. Writes
//! target/strata-bench/warm.json and warm.md; no timings. `STRATA_BENCH_QUICK=1` measures 20
//! windows instead of 60.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use strata::{Backend, Cache, CacheBuilder, CacheConfig, MemoryBackend, MemoryConfig};
use strata_benches::sim::zipf;

const KEYS: u64 = 10_000;
const WINDOW: usize = 1_000;
const FIRST_INSTANCE: usize = 100_000;

async fn instance(backend: Arc<dyn Backend>, hot_set: bool) -> Cache {
    let toml = format!("[l1]\nmax_entries = 1000\n[warm]\nhot_set = {hot_set}\n");
    CacheBuilder::from_config(CacheConfig::from_toml_str(&toml).expect("config"))
        .prefix("bench")
        .metrics(false)
        .backend(backend)
        .build()
        .await
        .expect("cache")
}

/// Serves `ids` through `get_or_load`, counting database calls; per window of `WINDOW`
/// requests: (L1 hit ratio, L2 reads, loads).
async fn serve(cache: &Cache, ids: &[u64], db: &AtomicU64) -> Vec<(f64, u64, u64)> {
    let users = cache.kind::<u64>("user").expect("kind");
    let mut windows = Vec::new();
    let counters = |c: &Cache| {
        let s = &c.admin().stats().kinds["user"];
        (s.l1.hits, s.l2.hits + s.l2.misses)
    };
    for chunk in ids.chunks(WINDOW) {
        let (l1_before, l2_before) = counters(cache);
        let db_before = db.load(Ordering::Relaxed);
        for id in chunk {
            let load = || async {
                db.fetch_add(1, Ordering::Relaxed);
                Ok::<_, std::io::Error>(*id)
            };
            users.get_or_load(*id, load).await.expect("get");
        }
        let (l1, l2) = counters(cache);
        windows.push((
            (l1 - l1_before) as f64 / chunk.len() as f64,
            l2 - l2_before,
            db.load(Ordering::Relaxed) - db_before,
        ));
    }
    windows
}

/// The first window (counted from 1) whose hit ratio is within 0.02 of `steady`.
fn steady_from(windows: &[(f64, u64, u64)], steady: f64) -> Option<usize> {
    windows
        .iter()
        .position(|w| w.0 >= steady - 0.02)
        .map(|i| i + 1)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--") && a.parse::<f64>().is_err())
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "warm".contains(a.as_str())) {
        return;
    }
    let windows = if std::env::var_os("STRATA_BENCH_QUICK").is_some() {
        20
    } else {
        60
    };
    let trace = zipf(KEYS, 0.9, FIRST_INSTANCE + windows * WINDOW, 9);
    let (first, rest) = trace.requests.split_at(FIRST_INSTANCE);
    let rt = strata_benches::runtime();
    let result = rt.block_on(async {
        let backend: Arc<dyn Backend> =
            Arc::new(MemoryBackend::new(MemoryConfig::default().with_namespace("bench:")).expect("memory"));
        let db = AtomicU64::new(0);
        let a = instance(backend.clone(), true).await;
        // Every key in L2, so that both restarts find the same L2.
        let users = a.kind::<u64>("user").expect("kind");
        let all: Vec<(u64, u64)> = (0..KEYS).map(|id| (id, id)).collect();
        for chunk in all.chunks(1000) {
            users.set_many(chunk.to_vec()).await.expect("set");
        }
        a.admin().l1().expect("l1").clear();
        let before = serve(&a, first, &db).await;
        let steady = before.iter().rev().take(20).map(|w| w.0).sum::<f64>() / 20.0;
        let recorded = a.admin().publish_hot_set().await.expect("publish");
        let mut runs = Vec::new();
        for warmed in [true, false] {
            let b = instance(backend.clone(), warmed).await;
            let _ = b.kind::<u64>("user").expect("kind");
            b.ready().await;
            let filled = b.admin().warming().filled;
            let db = AtomicU64::new(0);
            let w = serve(&b, rest, &db).await;
            runs.push(json!({
                "warmed": warmed,
                "filled_at_start": filled,
                "l1_hit_ratio": w.iter().map(|x| (x.0 * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
                "l2_reads": w.iter().map(|x| x.1).sum::<u64>(),
                "loads": w.iter().map(|x| x.2).sum::<u64>(),
                "first_5_windows_hit_ratio": w.iter().take(5).map(|x| x.0).sum::<f64>() / 5.0,
                "steady_from_window": steady_from(&w, steady),
            }));
        }
        json!({"keys": KEYS, "zipf": 0.9, "window": WINDOW, "l1_entries": 1000,
               "first_instance_requests": FIRST_INSTANCE, "hot_set_recorded": recorded,
               "steady_l1_hit_ratio": steady, "runs": runs})
    });
    let md = markdown(&result);
    println!("{md}");
    let dir = strata_benches::report_dir();
    let _ = std::fs::write(dir.join("warm.md"), md);
    let _ = std::fs::write(
        dir.join("warm.json"),
        serde_json::to_string_pretty(&result).unwrap_or_default(),
    );
}

fn markdown(r: &Value) -> String {
    let mut s = format!(
        "Restarted instance on Zipf 0.9 over {} keys, L1 of {} entries, windows of {} requests; \
         steady-state L1 hit ratio {:.3} (the first instance's last 20 windows); hot set recorded: {} keys.\n\n\
         | start | filled at start | L1 hit ratio in windows 1, 2, 3 | first 5 windows | first window within 0.02 of steady | L2 reads | database loads |\n|---|---|---|---|---|---|---|\n",
        r["keys"],
        r["l1_entries"],
        r["window"],
        r["steady_l1_hit_ratio"].as_f64().unwrap_or(0.0),
        r["hot_set_recorded"]
    );
    for run in r["runs"].as_array().into_iter().flatten() {
        let first3: Vec<String> = run["l1_hit_ratio"]
            .as_array()
            .into_iter()
            .flatten()
            .take(3)
            .map(|v| format!("{:.3}", v.as_f64().unwrap_or(0.0)))
            .collect();
        s.push_str(&format!(
            "| {} | {} | {} | {:.3} | {} | {} | {} |\n",
            if run["warmed"] == true {
                "warmed (hot set)"
            } else {
                "cold"
            },
            run["filled_at_start"],
            first3.join(", "),
            run["first_5_windows_hit_ratio"].as_f64().unwrap_or(0.0),
            run["steady_from_window"],
            run["l2_reads"],
            run["loads"],
        ));
    }
    s
}
