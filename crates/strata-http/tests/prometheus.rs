//! /metrics: a Prometheus text-format parser finds per-kind counters that match the JSON stats.

mod common;

use serde_json::Value;
use strata::CacheBuilder;
use strata_http::metrics::{install_prometheus, metrics_router};
use strata_http::monitoring::{MonitoringConfig, router};

fn sample_value(
    samples: &[prometheus_parse::Sample],
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .and_then(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(v),
            _ => None,
        })
}

#[tokio::test]
async fn prometheus_counters_match_the_json_stats() {
    let handle = install_prometheus().unwrap();
    let cache = CacheBuilder::new()
        .prefix("prom")
        .metrics(true)
        .build()
        .await
        .unwrap();
    let jobs = cache.kind::<u32>("job").unwrap();
    let users = cache.kind::<u32>("user").unwrap();
    for i in 0..5u32 {
        jobs.get_or_load(i, || async move { Ok::<_, String>(i) })
            .await
            .unwrap();
    }
    for i in 0..5u32 {
        jobs.get(i).await.unwrap();
        jobs.get(i).await.unwrap();
    }
    users.get(1).await.unwrap();
    let app = metrics_router(handle).merge(router(
        cache.clone(),
        MonitoringConfig::default().with_admin_token("t"),
    ));
    let base = common::serve(app).await;

    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let stats: Value = reqwest::Client::new()
        .get(format!("{base}/cache-stats/"))
        .bearer_auth("t")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    for (kind, tier) in [("job", "l1"), ("job", "l2"), ("user", "l1")] {
        let prom_hits = sample_value(
            &scrape.samples,
            "strata_cache_hits_total",
            &[("kind", kind), ("tier", tier)],
        )
        .unwrap_or(0.0);
        let json_hits = stats["kinds"][kind][tier]["hits"].as_f64().unwrap();
        assert_eq!(prom_hits, json_hits, "{kind}/{tier} hits");
        let prom_misses = sample_value(
            &scrape.samples,
            "strata_cache_misses_total",
            &[("kind", kind), ("tier", tier)],
        )
        .unwrap_or(0.0);
        assert_eq!(
            prom_misses,
            stats["kinds"][kind][tier]["misses"].as_f64().unwrap(),
            "{kind}/{tier} misses"
        );
    }
    assert_eq!(stats["kinds"]["job"]["l1"]["hits"], 10);
    assert_eq!(
        sample_value(
            &scrape.samples,
            "strata_cache_loads_total",
            &[("kind", "job")]
        ),
        Some(5.0)
    );
    assert!(
        text.contains("strata_cache_latency_seconds"),
        "latency histograms are exported"
    );
}
