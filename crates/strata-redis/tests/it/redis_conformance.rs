//! RedisBackend runs the whole conformance suite against its own redis-server.

use std::sync::Arc;
use std::time::Duration;

use strata_backend::Backend;
use strata_redis::{RedisBackend, RedisConfig};
use strata_testkit::RedisServer;
use strata_testkit::conformance::Fixture;

struct Redis {
    server: RedisServer,
}

#[strata_backend::async_trait]
impl Fixture for Redis {
    async fn backend(&self, namespace: &str) -> Arc<dyn Backend> {
        // Behaviour, not latency: no case may fail because the machine is busy.
        let config = RedisConfig::new(self.server.url())
            .with_namespace(namespace)
            .with_operation_timeout(Duration::from_secs(10));
        Arc::new(RedisBackend::connect(config).await.unwrap())
    }
}

async fn redis() -> Option<Redis> {
    strata_testkit::redis_or_skip("redis conformance").map(|server| Redis { server })
}

strata_testkit::backend_conformance!(redis);

#[tokio::test]
async fn a_namespace_without_its_separator_is_refused_naming_the_one_to_use() {
    let config = RedisConfig::new("redis://127.0.0.1:1").with_namespace("shop");
    let e = RedisBackend::connect_lazy(config).unwrap_err();
    assert_eq!(e.kind(), strata_backend::ErrorKind::Config);
    assert!(
        e.to_string().contains("\"shop\"") && e.to_string().contains("\"shop:\""),
        "{e}"
    );
    let e = strata_redis::RedisBus::new(
        &RedisConfig::new("redis://127.0.0.1:1").with_namespace("shop"),
    )
    .unwrap_err();
    assert_eq!(e.kind(), strata_backend::ErrorKind::Config, "{e}");
}
