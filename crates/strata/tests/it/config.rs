//! Configuration: per-kind settings (`[kinds.<kind>]` and the `[ttl]` shorthand), declared
//! kinds, strata.toml overrides, jitter, errors naming the key.

use std::time::Duration;

use strata::{CacheBuilder, CacheConfig};

#[test]
fn the_library_knows_no_kinds_only_one_default_ttl() {
    let c = CacheConfig::default();
    assert!(c.ttl.is_empty() && c.kinds.is_empty(), "{c:?}");
    for kind in ["user", "job", "whoami", "unknown-kind"] {
        assert_eq!(c.ttl_of(kind), Duration::from_secs(3600), "{kind}");
    }
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("whoami") && !shown.contains("industry"),
        "{shown}"
    );
}

#[test]
fn a_strata_toml_overrides_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.toml");
    std::fs::write(
        &path,
        r#"
prefix = "shop"
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
    assert_eq!(c.prefix, "shop");
    assert_eq!(c.ttl_of("whoami"), Duration::from_secs(300));
    assert_eq!(c.ttl_of("report"), Duration::from_secs(86_400));
    assert_eq!(
        c.ttl_of("user"),
        Duration::from_secs(1800),
        "a kind without settings takes the file's default_ttl"
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

#[test]
fn kinds_table_and_ttl_shorthand_agree_and_may_not_both_set_a_ttl() {
    let c = CacheConfig::from_toml_str(
        "[kinds.product]\nttl = \"90s\"\n[kinds.cart]\n[ttl]\norder = \"2h\"\n",
    )
    .unwrap();
    assert_eq!(c.ttl_of("product"), Duration::from_secs(90));
    assert_eq!(c.ttl_of("order"), Duration::from_secs(7200));
    assert_eq!(
        c.ttl_of("cart"),
        Duration::from_secs(3600),
        "no ttl in its table"
    );
    assert_eq!(c.configured_ttl("cart"), None);
    assert_eq!(
        c.configured_kinds().into_keys().collect::<Vec<_>>(),
        ["cart", "order", "product"]
    );

    let err =
        CacheConfig::from_toml_str("[kinds.product]\nttl = \"90s\"\n[ttl]\nproduct = \"1h\"\n")
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("ttl.product")
            && err.contains("kinds.product.ttl")
            && err.contains("keep one"),
        "{err}"
    );
    for (toml, key) in [
        ("[kinds.product]\nttl = \"0s\"\n", "kinds.product.ttl"),
        ("[kinds.product]\nttl = \"soon\"\n", "kinds.product.ttl"),
        ("[kinds.product]\nttll = \"1h\"\n", "ttll"),
        ("[kinds.\"bad kind\"]\nttl = \"1h\"\n", "kinds.bad kind"),
        ("[kinds.__version]\nttl = \"1h\"\n", "reserved"),
    ] {
        let err = CacheConfig::from_toml_str(toml).unwrap_err().to_string();
        assert!(err.contains(key), "{toml:?}: {err}");
    }
}

#[derive(serde::Serialize, serde::Deserialize, strata::Cacheable)]
#[cacheable(kind = "product", ttl = "10m")]
struct Product {
    id: u64,
}

#[tokio::test]
async fn a_typo_in_a_kind_setting_is_a_warning_or_with_strict_an_error() {
    let config = CacheConfig::from_toml_str("[ttl]\nproducts = \"90s\"\n").unwrap();
    let cache = CacheBuilder::from_config(config.clone())
        .metrics(false)
        .declare::<Product>()
        .build()
        .await
        .unwrap();
    let warnings = cache.admin().warnings();
    let [warning] = warnings.as_slice() else {
        panic!("one warning: {warnings:?}")
    };
    assert!(
        warning.contains("`ttl.products`") && warning.contains("did you mean `product`?"),
        "{warning}"
    );
    assert_eq!(
        cache.of::<Product>().unwrap().ttl(),
        Duration::from_secs(600),
        "the typo does not reach the kind"
    );

    let err = CacheBuilder::from_config(config)
        .metrics(false)
        .strict(true)
        .declare::<Product>()
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`ttl.products`") && err.contains("declared: product"),
        "{err}"
    );

    // Declared kinds, by type, by name or by giving them a TTL, raise nothing.
    let config = CacheConfig::from_toml_str(
        "[ttl]\nproduct = \"90s\"\n[kinds.session]\nttl = \"5m\"\n[kinds.\"api.products\"]\nttl = \"1m\"\n",
    )
    .unwrap();
    let listing = strata::ResponseKind::new("products:").unwrap();
    let cache = CacheBuilder::from_config(config)
        .metrics(false)
        .strict(true)
        .declare::<Product>()
        .declare_kind(&listing)
        .ttl("session", Duration::from_secs(60))
        .build()
        .await
        .unwrap();
    assert!(
        cache.admin().warnings().is_empty(),
        "{:?}",
        cache.admin().warnings()
    );
    assert_eq!(
        cache.admin().config().ttl_of("session"),
        Duration::from_secs(60),
        "the builder wins"
    );
    assert_eq!(
        cache.admin().known_kinds(),
        ["api.products", "product", "session"],
        "declared and configured kinds, no internal ones"
    );
}

#[tokio::test]
async fn a_configured_kind_the_code_uses_undeclared_is_reported_truthfully_and_then_not() {
    // An application written before kinds were declared: `[ttl] product`, `Cache::of`.
    let config = CacheConfig::from_toml_str("[ttl]\nproduct = \"90s\"\n").unwrap();
    let cache = CacheBuilder::from_config(config.clone())
        .metrics(false)
        .build()
        .await
        .unwrap();
    let warnings = cache.admin().warnings();
    let [warning] = warnings.as_slice() else {
        panic!("one warning: {warnings:?}")
    };
    assert!(
        warning.contains("`ttl.product`")
            && warning.contains("applies to the kind `product` if the code uses it")
            && !warning.contains("nothing may use"),
        "{warning}"
    );
    assert_eq!(
        cache.of::<Product>().unwrap().ttl(),
        Duration::from_secs(90),
        "the configured TTL applies"
    );
    assert!(
        cache.admin().warnings().is_empty(),
        "a kind in use counts as declared: {:?}",
        cache.admin().warnings()
    );

    // Declared through its type's TTL: nothing to report, the builder's TTL wins.
    let cache = CacheBuilder::from_config(config)
        .metrics(false)
        .strict(true)
        .ttl_of::<Product>(Duration::from_secs(30))
        .build()
        .await
        .unwrap();
    assert!(
        cache.admin().warnings().is_empty(),
        "{:?}",
        cache.admin().warnings()
    );
    assert_eq!(
        cache.of::<Product>().unwrap().ttl(),
        Duration::from_secs(30)
    );
}

#[tokio::test]
async fn configuration_overrides_the_ttl_given_in_code() {
    let config = CacheConfig::from_toml_str(
        "[ttl]\nproduct = \"90s\"\n[kinds.\"api.products\"]\nttl = \"1m\"\n[kinds.prices]\nttl = \"2m\"\n",
    )
    .unwrap();
    let listing = strata::ResponseKind::new("products:").unwrap();
    let cache = CacheBuilder::from_config(config)
        .metrics(false)
        .declare::<Product>()
        .declare_kind(&listing)
        .declare_kind("prices")
        .build()
        .await
        .unwrap();
    assert_eq!(
        cache.of::<Product>().unwrap().ttl(),
        Duration::from_secs(90)
    );
    let responses = cache.responses::<String>(&listing, Duration::from_secs(900));
    assert_eq!(responses.ttl(), Duration::from_secs(60));
    let prices = cache
        .function_results::<u32>("prices:", Some(Duration::from_secs(3)))
        .unwrap();
    assert_eq!(prices.ttl(), Duration::from_secs(120));
    // Without configuration, the code's TTL applies.
    let cache = CacheBuilder::new().metrics(false).build().await.unwrap();
    assert_eq!(
        cache.of::<Product>().unwrap().ttl(),
        Duration::from_secs(600)
    );
    assert_eq!(
        cache
            .responses::<String>(&listing, Duration::from_secs(900))
            .ttl(),
        Duration::from_secs(900)
    );
    // An explicit handle TTL is the caller's choice.
    assert_eq!(
        cache
            .of::<Product>()
            .unwrap()
            .with_ttl(Duration::from_secs(5))
            .ttl(),
        Duration::from_secs(5)
    );
}

#[tokio::test]
async fn application_kinds_may_not_use_internal_names() {
    let cache = CacheBuilder::new().metrics(false).build().await.unwrap();
    let err = cache.kind::<u32>("__version").unwrap_err().to_string();
    assert!(err.contains("reserved"), "{err}");
    let err = CacheBuilder::new()
        .declare_kind("__mine")
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("reserved"), "{err}");
}

#[tokio::test]
async fn a_backend_outside_the_prefix_is_refused_naming_both() {
    let backend = std::sync::Arc::new(
        strata::MemoryBackend::new(strata::MemoryConfig::default().with_namespace("other:"))
            .unwrap(),
    );
    let err = CacheBuilder::new()
        .prefix("shop")
        .backend(backend)
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"other:\"") && err.contains("\"shop\"") && err.contains("\"shop:\""),
        "{err}"
    );
}

#[tokio::test]
async fn redis_url_chooses_the_redis_backend() {
    let cache = CacheBuilder::new()
        .redis_url("redis://127.0.0.1:1/0")
        .metrics(false)
        .build()
        .await
        .unwrap();
    assert_eq!(cache.admin().backend().name(), "redis");
    assert_eq!(
        cache.admin().config().backend.url.as_deref(),
        Some("redis://127.0.0.1:1/0")
    );
}

#[tokio::test]
async fn enabled_false_starts_with_caching_off() {
    let config = CacheConfig::from_toml_str("enabled = false\n").unwrap();
    let cache = CacheBuilder::from_config(config)
        .metrics(false)
        .build()
        .await
        .unwrap();
    assert!(!cache.enabled());
    let jobs = cache.kind::<u32>("job").unwrap();
    for n in 1..=2 {
        let v = jobs
            .get_or_load(1, || async move { Ok::<_, String>(n) })
            .await
            .unwrap();
        assert_eq!(*v, n, "the loader answers every read");
    }
    cache.set_enabled(true);
    assert_eq!(
        *jobs
            .get_or_load(1, || async { Ok::<_, String>(3) })
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        *jobs
            .get_or_load(1, || async { Ok::<_, String>(4) })
            .await
            .unwrap(),
        3
    );
}

#[test]
fn config_errors_say_which_setting_each_problem_concerns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.toml");
    for (toml, setting) in [
        ("jitter = 0.9\n", "jitter"),
        ("[l1]\nmax_entrys = 5\n", "l1.max_entrys"),
        ("[l1]\nmax_lifetime = \"0s\"\n", "l1.max_lifetime"),
        ("[ttl]\nuser = \"soon\"\n", "ttl"),
    ] {
        std::fs::write(&path, toml).unwrap();
        let Err(strata::Error::Config(e)) = CacheConfig::load_from(&path, true) else {
            panic!("{toml:?} is a configuration error");
        };
        assert_eq!(e.settings().collect::<Vec<_>>(), [setting], "{toml:?}: {e}");
        assert!(e.problems[0].message.contains("strata.toml"), "{e}");
    }
    // A problem of no one setting.
    let Err(strata::Error::Config(e)) =
        CacheConfig::load_from(&dir.path().join("missing.toml"), true)
    else {
        panic!("a missing file is a configuration error");
    };
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].setting, None);
}
