//! Hot-set warming: an instance records its hottest keys; a new instance fills its L1 from L2
//! for them before `ready()` returns.

use std::collections::HashMap;
use std::sync::Arc;

use strata::{
    Backend, Cache, CacheBuilder, CacheConfig, MemoryBackend, MemoryConfig, WarmingState,
};

async fn instance(backend: Arc<dyn Backend>, toml: &str) -> Cache {
    CacheBuilder::from_config(CacheConfig::from_toml_str(toml).unwrap())
        .prefix("t")
        .metrics(false)
        .backend(backend)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_instance_holds_the_true_top_100_in_l1_when_ready_returns() {
    let backend: Arc<dyn Backend> =
        Arc::new(MemoryBackend::new(MemoryConfig::default().with_namespace("t:")).unwrap());
    // The defaults: sketches of 1,024 counters sampling one lookup in 16, hot sets of 1,000.
    let a = instance(backend.clone(), "").await;
    let users = a.kind::<u64>("user").unwrap();
    let keys = 10_000u64;
    let items: Vec<(u64, u64)> = (0..keys).map(|id| (id, id)).collect();
    for chunk in items.chunks(1000) {
        users.set_many(chunk.to_vec()).await.unwrap();
    }
    let trace = crate::hot_keys::zipf(keys as usize, 200_000, 26);
    let mut counts: HashMap<u64, u64> = HashMap::new();
    for id in &trace {
        *counts.entry(*id).or_default() += 1;
        users.get(*id).await.unwrap();
    }
    let recorded = a.admin().publish_hot_set().await.unwrap();
    assert!((100..=1000).contains(&recorded), "{recorded}");

    let b = instance(backend, "").await;
    let b_users = b.kind::<u64>("user").unwrap();
    assert_eq!(b.admin().warming().state, WarmingState::NotStarted);
    b.ready().await;
    let status = b.admin().warming();
    assert_eq!(status.state, WarmingState::Done);
    assert_eq!(
        (status.done, status.total),
        (recorded as u64, recorded as u64)
    );
    assert_eq!(
        status.filled, recorded as u64,
        "every recorded key was in L2"
    );

    let mut by_count: Vec<(u64, u64)> = counts.into_iter().collect();
    by_count.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let l1 = b.admin().l1().unwrap();
    let mut in_l1 = 0;
    for (id, _) in by_count.iter().take(100) {
        if l1.get(&b_users.key(id).unwrap()).await.is_some() {
            in_l1 += 1;
        }
    }
    println!("{in_l1} of the true top 100 in the new instance's L1");
    assert!(
        in_l1 >= 90,
        "{in_l1} of the true top 100 in the new instance's L1"
    );
    // Served from L1: no L2 read for the hottest key.
    b_users.get(by_count[0].0).await.unwrap().unwrap();
    let s = &b.admin().stats().kinds["user"];
    assert_eq!((s.l1.hits, s.l2.hits + s.l2.misses), (1, 0), "{s:?}");
}

#[tokio::test]
async fn hot_sets_merge_across_instances_and_stay_bounded() {
    let backend: Arc<dyn Backend> =
        Arc::new(MemoryBackend::new(MemoryConfig::default().with_namespace("t:")).unwrap());
    let toml = "[hot_keys]\nsample_every = 1\n[warm]\nhot_set_size = 3\n";
    let a = instance(backend.clone(), toml).await;
    let b = instance(backend.clone(), toml).await;
    for (cache, ids) in [(&a, [1u64, 1, 1, 2, 2, 9]), (&b, [3u64, 3, 3, 3, 1, 1])] {
        let k = cache.kind::<u64>("user").unwrap();
        for id in ids {
            k.get(id).await.unwrap();
        }
    }
    assert_eq!(a.admin().publish_hot_set().await.unwrap(), 3);
    assert_eq!(b.admin().publish_hot_set().await.unwrap(), 3);
    let raw = backend.get("t:#hot:user").await.unwrap().unwrap();
    let text = String::from_utf8(raw.to_vec()).unwrap();
    // a recorded 1:3, 2:2, 9:1; b halved that (1, 1, 0) and added 3:4, 1:2.
    assert_eq!(
        text,
        "strata-hot-set 1\n4\tuser:s1:3\n3\tuser:s1:1\n1\tuser:s1:2"
    );
    for (toml, key) in [
        ("[warm]\nhot_set_size = 0", "warm.hot_set_size"),
        ("[warm]\npublish_every = \"0s\"", "warm.publish_every"),
        ("[warm]\npublish_every = \"2h\"", "warm.hot_set_ttl"),
    ] {
        let err = CacheConfig::from_toml_str(toml).unwrap_err().to_string();
        assert!(err.contains(key), "{toml}: {err}");
    }
}
