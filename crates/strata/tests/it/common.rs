//! Shared helpers of the facade tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use strata::{
    Backend, Cache, CacheBuilder, Clock, MemoryBackend, MemoryConfig, RedisBackend, RedisConfig,
};
use strata_testkit::RedisServer;

/// Another cache on `backend` with no L1 and no bus: what any instance reads from L2.
pub async fn l1_less_reader(prefix: &str, backend: Arc<dyn Backend>) -> Cache {
    CacheBuilder::new()
        .prefix(prefix)
        .l1(false)
        .metrics(false)
        .backend(backend)
        .build()
        .await
        .unwrap()
}

/// A cache on a fresh memory backend, no jitter, metrics off.
pub async fn memory_cache() -> (Cache, Arc<dyn Backend>) {
    let (cache, backend, _) = memory_cache_on(Clock::system()).await;
    (cache, backend)
}

/// [`memory_cache`] reading time from a manual clock, which the test moves.
pub async fn memory_cache_with_clock() -> (Cache, Clock) {
    let (cache, _, clock) = memory_cache_on(Clock::manual()).await;
    (cache, clock)
}

async fn memory_cache_on(clock: Clock) -> (Cache, Arc<dyn Backend>, Clock) {
    let backend: Arc<dyn Backend> =
        Arc::new(MemoryBackend::new(MemoryConfig::default().with_namespace("t:")).unwrap());
    let cache = CacheBuilder::new()
        .prefix("t")
        .jitter(0.0)
        .metrics(false)
        .clock(clock.clone())
        .backend(backend.clone())
        .build()
        .await
        .unwrap();
    (cache, backend, clock)
}

/// A cache on a Redis backend talking to `server`.
pub async fn redis_cache(server: &RedisServer, builder: CacheBuilder) -> (Cache, Arc<dyn Backend>) {
    let config = RedisConfig::new(server.url())
        .with_namespace("t:")
        .with_operation_timeout(Duration::from_millis(300))
        .with_connect_timeout(Duration::from_millis(300));
    let backend: Arc<dyn Backend> = Arc::new(RedisBackend::connect_lazy(config).unwrap());
    let cache = builder
        .prefix("t")
        .jitter(0.0)
        .metrics(false)
        .backend(backend.clone())
        .build()
        .await
        .unwrap();
    (cache, backend)
}

/// Waits up to 5 s for `check` to hold, polling every 5 ms; fails naming `what` otherwise.
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{what} did not happen within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits (at most 10 s) until every cache in `caches` is ready: its bus subscribed.
pub async fn ready(caches: &[&Cache]) {
    for cache in caches {
        tokio::time::timeout(Duration::from_secs(10), cache.ready())
            .await
            .expect("the bus subscribed within 10 s");
    }
}

/// A cache built from the TOML `config` (no file, no environment).
pub async fn from_toml(config: &str) -> Cache {
    let config = strata::CacheConfig::from_toml_str(config).unwrap();
    CacheBuilder::from_config(config).build().await.unwrap()
}

/// A log sink for a `tracing` subscriber in a test: everything written, kept to read back.
#[derive(Clone, Default)]
pub struct Captured(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// What was written, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

pub use strata_testkit::in_own_process;
