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
