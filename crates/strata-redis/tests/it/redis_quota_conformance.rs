//! RedisBackend with a quota over its whole namespace runs the whole conformance suite: every
//! read, write and delete goes through the quota scripts, and the index never shows.

use std::sync::Arc;
use std::time::Duration;

use strata_backend::Backend;
use strata_redis::{EvictionPolicy, Limits, Quota, RedisBackend, RedisConfig};
use strata_testkit::RedisServer;
use strata_testkit::conformance::Fixture;

struct RedisWithQuota {
    server: RedisServer,
}

#[strata_backend::async_trait]
impl Fixture for RedisWithQuota {
    async fn backend(&self, namespace: &str) -> Arc<dyn Backend> {
        // Generous limits: the suite's entries all fit (evictions are tested in quota.rs).
        let limits = Limits::default()
            .with_max_entries(100_000)
            .with_max_bytes(1 << 30);
        let config = RedisConfig::new(self.server.url())
            .with_namespace(namespace)
            .with_quota(Quota::new(namespace, limits, EvictionPolicy::Lru))
            // Behaviour, not latency: no case may fail because the machine is busy.
            .with_operation_timeout(Duration::from_secs(10));
        Arc::new(RedisBackend::connect(config).await.unwrap())
    }
}

async fn redis_with_quota() -> Option<RedisWithQuota> {
    strata_testkit::redis_or_skip("redis conformance with a quota")
        .map(|server| RedisWithQuota { server })
}

strata_testkit::backend_conformance!(redis_with_quota);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixture_writes_through_the_quota() {
    let Some(fx) = redis_with_quota().await else {
        return;
    };
    let b = fx.backend("conf:quota:").await;
    let hour = std::time::Duration::from_secs(3600);
    for k in ["conf:quota:a", "conf:quota:b", "conf:quota:c"] {
        b.set(k, "v".into(), hour).await.unwrap();
    }
    b.delete("conf:quota:b").await.unwrap();
    let info = b.info().await.unwrap();
    assert_eq!(info.details["quota.conf:quota:.entries"], "2", "{info:?}");
    // The index is never listed, nor counted by a clear.
    let page = b
        .as_listing()
        .unwrap()
        .scan("conf:quota:", None, 100)
        .await
        .unwrap();
    assert_eq!(page.keys.len(), 2, "{:?}", page.keys);
    assert_eq!(b.clear().await.unwrap(), 2);
    assert_eq!(
        b.info().await.unwrap().details["quota.conf:quota:.entries"],
        "0"
    );
}
