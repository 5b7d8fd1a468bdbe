//! Per-kind quotas configured in strata.toml reach the Redis backend.

use crate::common;

use strata::{CacheBuilder, CacheConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_quota_bounds_its_kind_in_redis() {
    let Some(server) = strata_testkit::redis_or_skip("configured quotas") else {
        return;
    };
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"qt\"\nmetrics = false\n[backend]\nurl = \"{}\"\n\
         [backend.quotas.user]\nmax_entries = 10\npolicy = \"lru\"\n",
        server.url()
    ))
    .unwrap();
    let cache = CacheBuilder::from_config(config).build().await.unwrap();
    let users = cache.kind::<u32>("user").unwrap();
    let jobs = cache.kind::<u32>("job").unwrap();
    for i in 0..50u32 {
        users.set(i, i).await.unwrap();
        jobs.set(i, i).await.unwrap();
    }
    let info = cache.admin().backend_info().await.unwrap();
    assert_eq!(info.details["quota.qt:v1:user:.entries"], "10", "{info:?}");
    assert_eq!(info.details["quota.evictions"], "40");
    let l2 = common::l1_less_reader("qt", cache.admin().backend().clone()).await;
    let (mut u, mut j) = (0, 0);
    for i in 0..50u32 {
        u += usize::from(
            l2.kind::<u32>("user")
                .unwrap()
                .get(i)
                .await
                .unwrap()
                .is_some(),
        );
        j += usize::from(
            l2.kind::<u32>("job")
                .unwrap()
                .get(i)
                .await
                .unwrap()
                .is_some(),
        );
    }
    assert_eq!((u, j), (10, 50), "users bounded, jobs not");

    let err = CacheConfig::from_toml_str("[backend.quotas.user]\nmax_entriez = 1\n").unwrap_err();
    assert!(err.to_string().contains("max_entriez"), "{err}");
}
