//! Environment overrides: STRATA_* (nested with __) and REDIS_URL over strata.toml; foreign
//! STRATA_ variables are ignored, typos under known keys are errors.

use std::time::Duration;

use strata::CacheConfig;

use crate::common;

#[test]
// figment::Jail fixes the closure's error type; its size is not ours to choose.
#[allow(clippy::result_large_err)]
fn the_environment_overrides_the_file() {
    // Jail sets process-wide variables and moves the working directory: no other test may run
    // beside it.
    if !common::in_own_process("config_env::the_environment_overrides_the_file") {
        return;
    }
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "strata.toml",
            "prefix = \"from-file\"\n[ttl]\nuser = \"1h\"\n",
        )?;
        jail.set_env("STRATA_REQUIRE_REDIS", "1");
        jail.set_env("STRATA_PREFIX", "from-env");
        jail.set_env("STRATA_TTL__WHOAMI", "5m");
        jail.set_env("STRATA_KINDS__SESSION__TTL", "7m");
        jail.set_env("STRATA_L1__MAX_ENTRIES", "5000");
        jail.set_env("STRATA_ADMIN_TOKEN", "secret-token");
        jail.set_env("REDIS_URL", "redis://127.0.0.1:1/0");
        let c = CacheConfig::load().map_err(|e| e.to_string())?;
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

        jail.set_env("STRATA_L1__MAX_ENTRYS", "5");
        let err = CacheConfig::load().unwrap_err().to_string();
        assert!(err.contains("max_entrys"), "{err}");
        Ok(())
    });
}
