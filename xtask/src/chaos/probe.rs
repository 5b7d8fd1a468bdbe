//! What the chaos run measures: the load it drives, the cache's counters and the health
//! route, read over HTTP.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::RngExt;
use serde_json::Value;

use super::TOKEN;

const PATHS: [&str; 4] = [
    "/accountsapp/whoami/{user}",
    "/jobs/{job}",
    "/jobs/alljobs",
    "/jobs/job-industries/",
];

/// What one phase saw.
pub(super) struct PhaseReport {
    pub(super) name: &'static str,
    pub(super) requests: usize,
    pub(super) non_2xx: usize,
    pub(super) server_errors: usize,
    pub(super) p99_ms: f64,
    pub(super) stale: u64,
    pub(super) l2_errors: BTreeMap<String, u64>,
    pub(super) health: String,
}

/// Counters read from cache-stats, to diff around a phase.
#[derive(Default, Clone)]
pub(super) struct Counters {
    stale: u64,
    l2_errors: BTreeMap<String, u64>,
}

impl Counters {
    /// Stale answers served since `before`.
    pub(super) fn stale_since(&self, before: &Self) -> u64 {
        self.stale.saturating_sub(before.stale)
    }

    /// The backend errors counted since `before`, by kind (kinds that did not move left out).
    pub(super) fn l2_errors_since(&self, before: &Self) -> BTreeMap<String, u64> {
        self.l2_errors
            .iter()
            .map(|(k, v)| {
                let was = before.l2_errors.get(k).copied().unwrap_or(0);
                (k.clone(), v.saturating_sub(was))
            })
            .filter(|(_, v)| *v > 0)
            .collect()
    }
}

pub(super) async fn counters(client: &reqwest::Client, base: &str) -> Counters {
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

pub(super) async fn health(client: &reqwest::Client, base: &str) -> String {
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
pub(super) async fn load(
    base: &str,
    requests: usize,
    concurrency: usize,
) -> (Vec<Duration>, usize, usize) {
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

pub(super) fn p99(mut l: Vec<Duration>) -> f64 {
    l.sort_unstable();
    l.get(((l.len() as f64 * 0.99) as usize).min(l.len().saturating_sub(1)))
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
