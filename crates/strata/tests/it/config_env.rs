//! Environment overrides: STRATA_* (nested with __) and REDIS_URL over strata.toml, passed to
//! the loader explicitly (no test changes the process environment). Strata's own tool switches
//! are ignored, a variable naming no setting is a warning naming the closest one (an error with
//! strict), typos under known keys are errors naming the variable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use strata::{CacheBuilder, CacheConfig};

/// A strata.toml holding `toml` in a fresh directory (kept alive by the returned guard).
fn file(toml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.toml");
    std::fs::write(&path, toml).unwrap();
    (dir, path)
}

fn load(path: &Path, vars: &[(&str, &str)]) -> Result<CacheConfig, String> {
    CacheConfig::load_from_vars(path, false, vars.iter().copied()).map_err(|e| e.to_string())
}

#[test]
fn the_environment_overrides_the_file() {
    let (_dir, path) = file("prefix = \"from-file\"\n[ttl]\nuser = \"1h\"\n");
    let vars = [
        ("STRATA_REQUIRE_REDIS", "1"),
        ("STRATA_PREFIX", "from-env"),
        ("STRATA_TTL__WHOAMI", "5m"),
        ("STRATA_KINDS__SESSION__TTL", "7m"),
        ("STRATA_L1__MAX_ENTRIES", "5000"),
        ("STRATA_ADMIN_TOKEN", "secret-token"),
        ("REDIS_URL", "redis://127.0.0.1:1/0"),
        ("HOME", "/root"),
    ];
    let c = load(&path, &vars).unwrap();
    assert_eq!(c.prefix, "from-env");
    assert_eq!(
        c.ttl_of("user"),
        Duration::from_secs(3600),
        "the file still applies"
    );
    assert_eq!(c.ttl_of("whoami"), Duration::from_secs(300));
    assert_eq!(c.ttl_of("session"), Duration::from_secs(420));
    assert_eq!(c.l1.max_entries, 5000);
    assert_eq!(c.admin_token.as_deref(), Some("secret-token"));
    assert_eq!(c.backend.url.as_deref(), Some("redis://127.0.0.1:1/0"));
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());

    let err = load(&path, &[("STRATA_L1__MAX_ENTRYS", "5")]).unwrap_err();
    assert!(err.contains("STRATA_L1__MAX_ENTRYS"), "{err}");
}

#[tokio::test]
async fn a_variable_naming_no_setting_is_a_warning_naming_the_closest_one() {
    let (_dir, path) = file("");
    let vars = [
        ("STRATA_JITER", "0.2"),
        ("STRATA_L1_MAX_ENTRIES", "5000"),
        ("STRATA_BENCH_DIR", "/tmp/x"),
    ];
    let c = load(&path, &vars).unwrap();
    assert_eq!(c.jitter, 0.1, "ignored");
    assert_eq!(c.l1.max_entries, 100_000, "ignored");
    let [jitter, entries] = c.warnings() else {
        panic!("two warnings: {:?}", c.warnings())
    };
    assert!(
        jitter.contains("STRATA_JITER") && jitter.contains("did you mean STRATA_JITTER?"),
        "{jitter}"
    );
    assert!(
        entries.contains("STRATA_L1_MAX_ENTRIES")
            && entries.contains("did you mean STRATA_L1__MAX_ENTRIES?"),
        "{entries}"
    );
    let cache = CacheBuilder::from_config(c.clone())
        .metrics(false)
        .build()
        .await
        .unwrap();
    assert_eq!(
        cache.admin().warnings(),
        c.warnings(),
        "the cache reports them"
    );

    // With strict, in the file or in the environment, they are errors.
    let (_dir2, strict) = file("strict = true\n");
    let err = load(&strict, &vars).unwrap_err();
    assert!(err.contains("did you mean STRATA_JITTER?"), "{err}");
    let err = load(&path, &[("STRATA_STRICT", "true"), vars[0]]).unwrap_err();
    assert!(err.contains("STRATA_JITER"), "{err}");
    // A strict builder refuses a configuration loaded with warnings.
    let err = CacheBuilder::from_config(c)
        .strict(true)
        .metrics(false)
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("STRATA_L1_MAX_ENTRIES"), "{err}");
}

#[test]
fn an_empty_admin_token_is_refused() {
    let (_dir, path) = file("");
    let err = load(&path, &[("STRATA_ADMIN_TOKEN", "")]).unwrap_err();
    assert!(
        err.contains("environment variable STRATA_ADMIN_TOKEN") && err.contains("empty"),
        "{err}"
    );
    let (_dir, path) = file("admin_token = \"  \"\n");
    let err = load(&path, &[]).unwrap_err();
    assert!(
        err.contains("`admin_token` in") && err.contains("strata.toml") && err.contains("empty"),
        "{err}"
    );
    assert!(CacheConfig::from_toml_str("admin_token = \"\"").is_err());
}

#[test]
fn zero_durations_are_refused_naming_the_key() {
    for (key, toml) in [
        ("l1.max_lifetime", "[l1]\nmax_lifetime = \"0s\"\n"),
        (
            "backend.connect_timeout",
            "[backend]\nconnect_timeout = \"0s\"\n",
        ),
        ("breaker.cooldown", "[breaker]\ncooldown = \"0s\"\n"),
        ("breaker.window", "[breaker]\nwindow = \"0s\"\n"),
        ("default_ttl", "default_ttl = \"0s\"\n"),
        ("negative_ttl", "negative_ttl = \"0s\"\n"),
        ("operation_timeout", "operation_timeout = \"0s\"\n"),
        ("kinds.user.ttl", "[kinds.user]\nttl = \"0s\"\n"),
        ("ttl.user", "[ttl]\nuser = \"0s\"\n"),
    ] {
        let (_dir, path) = file(toml);
        let err = load(&path, &[]).unwrap_err();
        assert!(
            err.contains(&format!("`{key}` in")) && err.contains("zero"),
            "{key}: {err}"
        );
    }
    let (_dir, path) = file("");
    let err = load(&path, &[("STRATA_L1__MAX_LIFETIME", "0s")]).unwrap_err();
    assert!(
        err.contains("environment variable STRATA_L1__MAX_LIFETIME") && err.contains("zero"),
        "{err}"
    );
    // Zero has a meaning for max_stale (no fail-safe serving), documented.
    let (_dir, path) = file("max_stale = \"0s\"\n");
    assert_eq!(load(&path, &[]).unwrap().max_stale, Duration::ZERO);
}

#[test]
fn errors_name_the_key_as_written_without_figments_profile() {
    let (_dir, path) = file("[l1]\nmax_entrys = 5\n");
    let err = load(&path, &[]).unwrap_err();
    assert!(
        err.contains("unknown key `l1.max_entrys` in")
            && err.contains("did you mean `l1.max_entries`?"),
        "{err}"
    );
    assert!(!err.contains("default."), "no profile: {err}");
    assert!(
        !err.contains("``") && !err.contains("`one of"),
        "no nested quotes: {err}"
    );

    let (_dir, path) = file("");
    let err = load(&path, &[("STRATA_L1__MAX_ENTRYS", "5")]).unwrap_err();
    assert!(
        err.contains("environment variable STRATA_L1__MAX_ENTRYS names no setting")
            && err.contains("did you mean STRATA_L1__MAX_ENTRIES?"),
        "{err}"
    );
    assert!(
        !err.contains("default.") && !err.contains("strata.toml"),
        "{err}"
    );

    let err = load(&path, &[("STRATA_L1__MAX_ENTRIES", "many")]).unwrap_err();
    assert!(
        err.contains("invalid value for environment variable STRATA_L1__MAX_ENTRIES"),
        "{err}"
    );
    let (_dir, path) = file("[l1]\nmax_entries = \"many\"\n");
    let err = load(&path, &[]).unwrap_err();
    assert!(
        err.contains("invalid value for `l1.max_entries` in") && !err.contains("default."),
        "{err}"
    );
}
