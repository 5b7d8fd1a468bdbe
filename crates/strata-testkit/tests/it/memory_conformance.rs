//! MemoryBackend runs the whole conformance suite, plus its own limit and policy checks.

use std::sync::Arc;
use std::time::Duration;

use strata_backend::{Backend, ErrorKind, MemoryBackend, MemoryConfig};
use strata_eviction::{EvictionPolicy, Limits};
use strata_testkit::conformance::Fixture;
use strata_testkit::{Faults, Operation};

struct Memory;

#[strata_backend::async_trait]
impl Fixture for Memory {
    async fn backend(&self, namespace: &str) -> Arc<dyn Backend> {
        Arc::new(MemoryBackend::new(MemoryConfig::default().with_namespace(namespace)).unwrap())
    }
}

async fn memory() -> Option<Memory> {
    Some(Memory)
}

strata_testkit::backend_conformance!(memory);

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn entry_limit_evicts_least_recently_used() {
    let b = MemoryBackend::new(
        MemoryConfig::default()
            .with_namespace("m:")
            .with_limits(Limits::default().with_max_entries(3)),
    )
    .unwrap();
    for k in ["m:a", "m:b", "m:c"] {
        b.set(k, "v".into(), HOUR).await.unwrap();
    }
    b.get("m:a").await.unwrap();
    b.set("m:d", "v".into(), HOUR).await.unwrap();
    assert!(
        b.get("m:b").await.unwrap().is_none(),
        "b was least recently used"
    );
    assert!(b.get("m:a").await.unwrap().is_some());
    let info = b.info().await.unwrap();
    assert_eq!((info.entries, info.evictions), (Some(3), Some(1)));
}

#[tokio::test]
async fn byte_limit_evicts_shortest_ttl_first() {
    let b = MemoryBackend::new(
        MemoryConfig::default()
            .with_namespace("m:")
            .with_policy(EvictionPolicy::Ttl)
            .with_limits(Limits::default().with_max_bytes(30)),
    )
    .unwrap();
    // Each entry weighs key (3) + value (7) = 10 bytes.
    b.set("m:a", "aaaaaaa".into(), HOUR).await.unwrap();
    b.set("m:b", "bbbbbbb".into(), Duration::from_secs(60))
        .await
        .unwrap();
    b.set("m:c", "ccccccc".into(), HOUR * 2).await.unwrap();
    b.set("m:d", "ddddddd".into(), HOUR).await.unwrap();
    assert!(
        b.get("m:b").await.unwrap().is_none(),
        "b had the shortest TTL"
    );
    assert_eq!(b.info().await.unwrap().bytes_used, Some(30));
    // An entry larger than the whole budget is refused with a named error.
    let err = b.set("m:e", vec![0u8; 64].into(), HOUR).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("larger than the byte limit of 30"),
        "{err}"
    );
}

#[tokio::test]
async fn random_policy_is_repeatable_with_a_seed() {
    async fn survivors(seed: u64) -> Vec<bool> {
        let b = MemoryBackend::new(
            MemoryConfig::default()
                .with_namespace("m:")
                .with_policy(EvictionPolicy::Random)
                .with_seed(seed)
                .with_limits(Limits::default().with_max_entries(10)),
        )
        .unwrap();
        for i in 0..40 {
            b.set(&format!("m:{i}"), "v".into(), HOUR).await.unwrap();
        }
        let keys: Vec<String> = (0..40).map(|i| format!("m:{i}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        b.get_many(&refs)
            .await
            .unwrap()
            .iter()
            .map(Option::is_some)
            .collect()
    }
    let a = survivors(3).await;
    assert_eq!(a.iter().filter(|s| **s).count(), 10);
    assert_eq!(a, survivors(3).await);
}

#[tokio::test(start_paused = true)]
async fn expired_entries_are_purged_on_writes() {
    let b = MemoryBackend::new(MemoryConfig::default().with_namespace("m:")).unwrap();
    for i in 0..10 {
        b.set(&format!("m:{i}"), "v".into(), Duration::from_secs(1))
            .await
            .unwrap();
    }
    tokio::time::advance(Duration::from_secs(2)).await;
    b.set("m:fresh", "v".into(), HOUR).await.unwrap();
    let info = b.info().await.unwrap();
    assert_eq!(info.entries, Some(1), "{info:?}");
    assert_eq!(info.details["expirations"], "10");
}

#[tokio::test]
async fn injected_faults_surface_with_their_kind() {
    let inner = MemoryBackend::new(MemoryConfig::default().with_namespace("f:")).unwrap();
    let (b, faults) = Faults::wrap(inner);
    b.set("f:k", "v".into(), HOUR).await.unwrap();

    faults.fail_next(2, ErrorKind::Timeout);
    let err = b.get("f:k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_transient());
    assert_eq!(
        b.set("f:k", "w".into(), HOUR).await.unwrap_err().kind(),
        ErrorKind::Timeout
    );
    assert_eq!(
        b.get("f:k").await.unwrap().as_deref(),
        Some(&b"v"[..]),
        "the failed set wrote nothing"
    );

    faults
        .only(&[Operation::Set])
        .fail_always(ErrorKind::OutOfMemory);
    assert!(b.get("f:k").await.is_ok(), "reads are not targeted");
    let err = b.set("f:k", "w".into(), HOUR).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert!(!err.is_transient());
    faults.heal();
    b.set("f:k", "w".into(), HOUR).await.unwrap();
    assert_eq!(faults.injected(), 3);
}

#[tokio::test(start_paused = true)]
async fn injected_latency_delays_calls() {
    let inner = MemoryBackend::new(MemoryConfig::default().with_namespace("f:")).unwrap();
    let (b, faults) = Faults::wrap(inner);
    faults.latency(Duration::from_secs(5));
    let start = tokio::time::Instant::now();
    b.ping().await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(5));
}

#[tokio::test]
async fn an_empty_namespace_is_a_config_error() {
    let err = MemoryBackend::new(MemoryConfig::default().with_namespace("")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("namespace is empty"), "{err}");
}

#[test]
fn a_namespace_without_its_separator_is_refused_naming_the_one_to_use() {
    let e = MemoryBackend::new(MemoryConfig::default().with_namespace("shop")).unwrap_err();
    assert_eq!(e.kind(), strata_backend::ErrorKind::Config);
    assert!(
        e.to_string().contains("\"shop\"") && e.to_string().contains("\"shop:\""),
        "{e}"
    );
}
