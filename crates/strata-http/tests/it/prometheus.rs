//! /metrics: a Prometheus text-format parser finds per-kind counters that match the JSON stats.

use crate::common;

use serde_json::Value;
use strata::CacheBuilder;
use strata_http::metrics::{install_prometheus, metrics_router_for};
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
    // The recorder is global: the binary's other caches would add to its counters.
    if !common::in_own_process("prometheus::prometheus_counters_match_the_json_stats") {
        return;
    }
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
    let app = metrics_router_for(handle, cache.clone()).merge(router(
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
    // The analytics (issue 26): misses by cause as in the JSON, the curve, no key labels.
    for tier in ["l1", "l2"] {
        let causes = stats["kinds"]["job"]["misses_by_cause"][tier]["causes"]
            .as_object()
            .unwrap();
        assert_eq!(causes.len(), 9, "every cause is listed");
        let mut sum = 0.0;
        for (cause, n) in causes {
            let prom = sample_value(
                &scrape.samples,
                "strata_cache_misses_by_cause_total",
                &[("kind", "job"), ("tier", tier), ("cause", cause)],
            );
            assert_eq!(prom, n.as_f64(), "job/{tier}/{cause}");
            sum += prom.unwrap_or(0.0);
        }
        assert_eq!(sum, stats["kinds"]["job"][tier]["misses"].as_f64().unwrap());
    }
    for size in ["0.25x", "0.5x", "1x", "2x", "4x"] {
        let estimate = sample_value(
            &scrape.samples,
            "strata_cache_lru_hit_ratio_estimate",
            &[("kind", "job"), ("size", size)],
        );
        assert!(
            estimate.is_some_and(|e| (0.0..=1.0).contains(&e)),
            "{size}: {estimate:?}"
        );
    }
    assert!(
        sample_value(
            &scrape.samples,
            "strata_cache_load_time_saved_seconds",
            &[("kind", "job")]
        )
        .is_some()
    );
    assert!(
        scrape.samples.iter().all(|s| s.labels.get("key").is_none()),
        "no per-key label"
    );
    // Hot keys are reported in the JSON (an array per kind keeping a sketch), and no cache key
    // ("prom:...") appears anywhere in /metrics.
    assert!(
        stats["kinds"]["job"]["hot_keys"].is_array(),
        "{}",
        stats["kinds"]["job"]
    );
    assert!(!text.contains("prom:"), "a key in /metrics: {text}");
    assert_eq!(
        sample_value(
            &scrape.samples,
            "strata_cache_loads_total",
            &[("kind", "job")]
        ),
        Some(5.0)
    );
    // Real histograms, with the documented buckets.
    let buckets: Vec<f64> = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "strata_cache_latency_seconds"
                && s.labels.get("kind") == Some("job")
                && s.labels.get("tier") == Some("l2")
        })
        .and_then(|s| match &s.value {
            prometheus_parse::Value::Histogram(h) => Some(
                h.iter()
                    .map(|b| b.less_than)
                    .filter(|b| b.is_finite())
                    .collect(),
            ),
            _ => None,
        })
        .expect("strata_cache_latency_seconds is a histogram");
    assert_eq!(buckets, strata_http::metrics::LATENCY_BUCKETS.to_vec());

    // The hit ratio of docs/operations.md, from the metrics, is the JSON's.
    let doc = include_str!("../../../../docs/operations.md");
    assert!(
        doc.contains(HIT_RATIO),
        "the documented formula is {HIT_RATIO}"
    );
    let hits: f64 = ["l1", "l2"]
        .iter()
        .filter_map(|t| {
            sample_value(
                &scrape.samples,
                "strata_cache_hits_total",
                &[("kind", "job"), ("tier", t)],
            )
        })
        .sum();
    let missed = sample_value(
        &scrape.samples,
        "strata_cache_requests_missed_total",
        &[("kind", "job")],
    )
    .unwrap_or(0.0);
    let ratio = hits / (hits + missed);
    let json = stats["kinds"]["job"]["hit_rate"].as_f64().unwrap();
    assert!((ratio - json).abs() < 1e-9, "{ratio} vs {json}");
    // One request that missed is one L1 miss (and one L2 miss), not two.
    assert_eq!(
        stats["kinds"]["job"]["l1"]["misses"], 5,
        "{}",
        stats["kinds"]["job"]
    );
    assert_eq!(stats["kinds"]["job"]["misses"], 5);
}

/// The hit-ratio expression of docs/operations.md.
const HIT_RATIO: &str = "sum by (kind) (strata_cache_hits_total) / (sum by (kind) (strata_cache_hits_total) + strata_cache_requests_missed_total)";
