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
