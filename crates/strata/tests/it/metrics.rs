//! Statistics reach any `metrics` recorder, labelled by kind and tier.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use strata::CacheBuilder;

#[test]
fn hits_and_misses_are_emitted_with_kind_and_tier_labels() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let cache = CacheBuilder::new()
                .prefix("m")
                .metrics(true)
                .build()
                .await
                .unwrap();
            let jobs = cache.kind::<u32>("job").unwrap();
            jobs.get_or_load(1, || async { Ok::<_, String>(1) })
                .await
                .unwrap();
            for _ in 0..3 {
                jobs.get(1).await.unwrap();
            }
        });
    });
    let mut l1_hits = None;
    let mut loads = None;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: Vec<(String, String)> = key
            .key()
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        let has = |k: &str, v: &str| labels.iter().any(|(a, b)| a == k && b == v);
        match (key.key().name(), value) {
            ("strata_cache_hits_total", DebugValue::Counter(n))
                if has("kind", "job") && has("tier", "l1") =>
            {
                l1_hits = Some(n)
            }
            ("strata_cache_loads_total", DebugValue::Counter(n)) if has("kind", "job") => {
                loads = Some(n)
            }
            _ => {}
        }
    }
    assert_eq!(l1_hits, Some(3));
    assert_eq!(loads, Some(1));
}
