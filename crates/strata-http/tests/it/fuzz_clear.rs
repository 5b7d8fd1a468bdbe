//! Fuzzing the clear-cache request body (time-bounded like `strata_testkit::fuzz`): random and
//! mutated bodies always get a JSON 2xx or 4xx answer, never a 5xx or a dropped connection.

use crate::common;

use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use strata::CacheBuilder;
use strata_http::monitoring::{MonitoringConfig, router};
use strata_testkit::fuzz;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_clear_cache_bodies() {
    let cache = CacheBuilder::new()
        .prefix("fz")
        .metrics(false)
        .build()
        .await
        .unwrap();
    cache.kind::<u32>("user").unwrap().set(1, 1).await.unwrap();
    let config = MonitoringConfig::default()
        .with_admin_token("fuzz-token")
        .with_max_body_bytes(4096);
    let url = format!(
        "{}/clear-cache/",
        common::serve(router(cache, config)).await
    );
    let client = reqwest::Client::new();
    let corpus: [&[u8]; 5] = [
        br#"{"kind": "user"}"#,
        br#"{"key": "fz:v1:user:s1:1"}"#,
        br#"{"tag": "user:1"}"#,
        br#"{"all": true}"#,
        br#"{"kind": "user", "all": false}"#,
    ];
    let seed: u64 = rand::random();
    let mut rng = SmallRng::seed_from_u64(seed);
    let (start, budget, mut n) = (Instant::now(), fuzz::budget(), 0u64);
    while n == 0 || start.elapsed() < budget {
        let body = match rng.random_range(0..4) {
            0 => fuzz::bytes(&mut rng, 64),
            1 => serde_json::to_vec(&serde_json::json!({ "kind": fuzz::nasty_string(&mut rng) }))
                .unwrap(),
            2 => serde_json::to_vec(&serde_json::json!({ "tag": fuzz::nasty_string(&mut rng) }))
                .unwrap(),
            _ => {
                let pick = rng.random_range(0..corpus.len());
                fuzz::mutate(&mut rng, corpus[pick])
            }
        };
        let r = client
            .post(&url)
            .bearer_auth("fuzz-token")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: no answer to {body:?}: {e}"));
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(
            !status.is_server_error(),
            "seed {seed}: {status} for {:?}: {text}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(&text).is_ok(),
            "seed {seed}: not JSON: {text}"
        );
        n += 1;
    }
    eprintln!(
        "fuzz clear-cache body: {n} requests in {:?}",
        start.elapsed()
    );
}
