//! Configuration: the TTL table, strata.toml overrides, jitter, errors naming the key.

use std::time::Duration;

use strata::{CacheBuilder, CacheConfig};

#[test]
fn the_ttl_table_has_the_original_defaults() {
    let c = CacheConfig::default();
    let h = |n: u64| Duration::from_secs(n * 3600);
    assert_eq!(c.ttl_of("user"), h(24));
    assert_eq!(c.ttl_of("job"), h(2));
    assert_eq!(c.ttl_of("application"), Duration::from_secs(30 * 60));
    assert_eq!(c.ttl_of("profile"), h(12));
    assert_eq!(c.ttl_of("industry"), h(7 * 24));
    assert_eq!(c.ttl_of("subcategory"), h(7 * 24));
    assert_eq!(c.ttl_of("whoami"), Duration::from_secs(15 * 60));
    assert_eq!(
        c.ttl_of("unknown-kind"),
        h(1),
        "the default for unknown kinds"
    );
}

#[test]
fn a_strata_toml_overrides_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.toml");
    std::fs::write(
        &path,
        r#"
prefix = "payshift"
default_ttl = "30m"
jitter = 0.2

[ttl]
whoami = "5m"
report = "1d"

[l1]
max_entries = 5000
max_lifetime = "10s"
"#,
    )
    .unwrap();
    let c = CacheConfig::load_from(&path, true).unwrap();
    assert_eq!(c.prefix, "payshift");
    assert_eq!(c.ttl_of("whoami"), Duration::from_secs(300));
    assert_eq!(c.ttl_of("report"), Duration::from_secs(86_400));
    assert_eq!(
        c.ttl_of("user"),
        Duration::from_secs(86_400),
        "untouched defaults stay"
    );
    assert_eq!(c.ttl_of("nope"), Duration::from_secs(1800));
    assert_eq!(c.l1.max_entries, 5000);
    assert_eq!(c.l1.max_lifetime, Duration::from_secs(10));
    assert_eq!(c.jitter, 0.2);
}

#[test]
fn bad_config_names_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.toml");
    std::fs::write(&path, "[ttl]\nuser = \"soon\"\n").unwrap();
    let err = CacheConfig::load_from(&path, true).unwrap_err().to_string();
    assert!(err.contains("user") && err.contains("strata.toml"), "{err}");

    std::fs::write(&path, "[l1]\nmax_entrys = 5\n").unwrap();
    let err = CacheConfig::load_from(&path, true).unwrap_err().to_string();
    assert!(
        err.contains("max_entrys") && err.contains("strata.toml"),
        "{err}"
    );

    std::fs::write(&path, "jitter = 0.9\n").unwrap();
    let err = CacheConfig::load_from(&path, true).unwrap_err().to_string();
    assert!(
        err.contains("jitter") && err.contains("strata.toml"),
        "{err}"
    );

    let err = CacheConfig::load_from(&dir.path().join("missing.toml"), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.toml"), "{err}");

    let err = CacheConfig::from_toml_str("prefix = \"\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("prefix"), "{err}");
}

#[test]
fn debug_output_hides_secrets() {
    let c = CacheConfig::from_toml_str(
        "admin_token = \"tok-123\"\n[backend]\nurl = \"redis://app:pw-456@127.0.0.1:6379\"\n",
    )
    .unwrap();
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("tok-123") && !shown.contains("pw-456"),
        "{shown}"
    );
}

#[tokio::test]
async fn jitter_keeps_ttls_within_bounds() {
    let (cache, backend) = {
        let backend: std::sync::Arc<dyn strata::Backend> = std::sync::Arc::new(
            strata::MemoryBackend::new(strata::MemoryConfig::default().with_namespace("t:"))
                .unwrap(),
        );
        let cache = CacheBuilder::new()
            .prefix("t")
            .metrics(false)
            .jitter(0.1)
            .max_stale(Duration::from_millis(1))
            .backend(backend.clone())
            .build()
            .await
            .unwrap();
        (cache, backend)
    };
    let jobs = cache
        .kind::<u32>("job")
        .unwrap()
        .with_ttl(Duration::from_secs(1000));
    let mut seen = Vec::new();
    for i in 0..200u32 {
        jobs.set(i, i).await.unwrap();
        let key = jobs.key(i).unwrap();
        let strata::KeyTtl::Expires(d) = backend.ttl(&key).await.unwrap() else {
            panic!("no TTL")
        };
        seen.push(d.as_secs_f64());
    }
    let (lo, hi) = seen
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    assert!(lo >= 899.0 && hi <= 1100.1, "TTLs within ±10 %: {lo}..{hi}");
    assert!(hi - lo > 50.0, "and actually spread: {lo}..{hi}");
}
