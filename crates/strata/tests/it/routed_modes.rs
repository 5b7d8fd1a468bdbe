//! The coherence mode a cache reports when its backends differ (issue 25): each backend's
//! mode is what its channels provide, and the cache's is all of them together — a memory
//! default backend with a Redis named backend tracking reports `tracking`, not `off`.

use strata::{CacheBuilder, CacheConfig, CoherenceMode, DEFAULT_BACKEND};

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_default_with_a_redis_named_backend_reports_the_named_backends_mode() {
    let Some(second) = strata_testkit::redis_or_skip("routed modes (second)") else {
        return;
    };
    for (configured, expected) in [
        ("tracking", CoherenceMode::Tracking),
        ("bus", CoherenceMode::Bus),
        ("both", CoherenceMode::Both),
    ] {
        let config = CacheConfig::from_toml_str(&format!(
            "prefix = \"rm\"\ncoherence = \"{configured}\"\nmetrics = false\n\
             [backends.second]\nurl = \"{}\"\n[kinds.session]\nbackend = \"second\"\n",
            second.url()
        ))
        .unwrap();
        let cache = CacheBuilder::from_config(config).build().await.unwrap();
        common::ready(&[&cache]).await;
        let coherence = cache.admin().coherence();
        assert_eq!(coherence.mode, expected, "{configured}: {coherence:?}");
        assert_eq!(
            coherence.backends.get(DEFAULT_BACKEND),
            Some(&CoherenceMode::Off),
            "the embedded memory default opens no channel: {coherence:?}"
        );
        assert_eq!(coherence.backends.get("second"), Some(&expected));
        assert!(
            coherence.connections.iter().all(|c| c.ends_with("@second")),
            "{coherence:?}"
        );
        let backends = cache.admin().backends();
        let modes: Vec<(&str, CoherenceMode)> = backends
            .iter()
            .map(|b| (b.name.as_str(), b.coherence))
            .collect();
        assert_eq!(
            modes,
            [(DEFAULT_BACKEND, CoherenceMode::Off), ("second", expected)]
        );
        let json = serde_json::to_value(&coherence).unwrap();
        assert_eq!(json["mode"], configured);
        assert_eq!(json["backends"]["default"], "off");
        assert_eq!(json["backends"]["second"], configured);
    }
}

#[tokio::test]
async fn without_any_channel_every_backend_and_the_cache_say_off() {
    let config = CacheConfig::from_toml_str(
        "prefix = \"ro\"\ncoherence = \"tracking\"\nmetrics = false\n\
         [backends.second]\n[kinds.session]\nbackend = \"second\"\n",
    )
    .unwrap();
    let cache = CacheBuilder::from_config(config).build().await.unwrap();
    let coherence = cache.admin().coherence();
    assert_eq!(coherence.mode, CoherenceMode::Off);
    assert_eq!(
        coherence.backends.into_iter().collect::<Vec<_>>(),
        [
            (DEFAULT_BACKEND.to_owned(), CoherenceMode::Off),
            ("second".to_owned(), CoherenceMode::Off)
        ]
    );
}

#[test]
fn modes_combine_as_their_channels_do() {
    use CoherenceMode::*;
    assert_eq!(Off.with(Tracking), Tracking);
    assert_eq!(Bus.with(Tracking), Both);
    assert_eq!(Bus.with(Off), Bus);
    assert_eq!(Off.with(Off), Off);
    assert_eq!(CoherenceMode::of(true, true), Both);
}

/// A backend given in code opens no channel: a routed kind's generation counter on it is then
/// read from its server on every L2 read, never trusted from the default backend's channels
/// (which never hear of it). Another instance's kind clear is seen on the next read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_counter_without_a_channel_of_its_own_is_read_not_trusted() {
    let Some(main) = strata_testkit::redis_or_skip("routed counter (main)") else {
        return;
    };
    let Some(second) = strata_testkit::redis_or_skip("routed counter (second)") else {
        return;
    };
    let instance = || async {
        let config = CacheConfig::from_toml_str(&format!(
            "prefix = \"rc\"\ncoherence = \"tracking\"\nmetrics = false\n\
             [backend]\nurl = \"{}\"\n",
            main.url()
        ))
        .unwrap();
        let routed = strata::RedisBackend::connect_lazy(
            strata::RedisConfig::new(second.url()).with_namespace("rc:"),
        )
        .unwrap();
        routed.prepare().await.unwrap();
        let cache = CacheBuilder::from_config(config)
            .l1(false)
            .named_backend("second", std::sync::Arc::new(routed))
            .route("session", "second")
            .build()
            .await
            .unwrap();
        common::ready(&[&cache]).await;
        cache
    };
    let (a, b) = (instance().await, instance().await);
    let coherence = b.admin().coherence();
    assert_eq!(coherence.backends.get("second"), Some(&CoherenceMode::Off));
    assert_eq!(
        coherence.backends.get(DEFAULT_BACKEND),
        Some(&CoherenceMode::Tracking)
    );
    let (sa, sb) = (
        a.kind::<String>("session").unwrap(),
        b.kind::<String>("session").unwrap(),
    );
    sa.set(1, "old".to_owned()).await.unwrap();
    // b reads the entry from L2 and learns the kind's generation.
    assert_eq!(
        sb.get(1).await.unwrap().as_deref().map(String::as_str),
        Some("old")
    );
    a.clear_kind("session").await.unwrap();
    // The entry is still on the server, under the old generation: b must not serve it.
    assert_eq!(
        sb.get(1).await.unwrap(),
        None,
        "b trusted a generation no channel keeps in step"
    );
    // A bus for a backend that was not given: refused, naming it.
    let bus =
        strata::RedisBus::new(&strata::RedisConfig::new(main.url()).with_namespace("rc:")).unwrap();
    let refused = CacheBuilder::new()
        .prefix("rc")
        .metrics(false)
        .named_bus("nope", std::sync::Arc::new(bus))
        .build()
        .await
        .expect_err("a bus for no backend is refused")
        .to_string();
    assert!(refused.contains("named_bus(\"nope\")"), "{refused}");
}
