//! Secrets (the Redis password, the admin token) never appear in Debug output, error messages
//! or logs, even when things fail.

use std::time::Duration;

use strata::{CacheBuilder, CacheConfig};

const PASSWORD: &str = "hunter2-redis-secret";
const TOKEN: &str = "admin-token-secret-42";

use crate::common::Captured;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_debug_errors_and_logs() {
    let Some(mut server) =
        strata_testkit::redis_with_args_or_skip("secrets", &["--requirepass", PASSWORD])
    else {
        return;
    };
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}", server.port());
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"sec\"\nmetrics = false\nadmin_token = \"{TOKEN}\"\noperation_timeout = \"300ms\"\n[breaker]\nfailures = 2\n[backend]\nurl = \"{url}\"\nconnect_timeout = \"300ms\"\n"
    ))
    .unwrap();
    let mut seen = vec![format!("{config:?}")];
    let cache = CacheBuilder::from_config(config).build().await.unwrap();
    seen.push(format!("{cache:?}"));
    let jobs = cache.kind::<u32>("job").unwrap();
    jobs.set(1, 1).await.unwrap();
    seen.push(format!("{:?}", cache.admin().backend()));

    // Failures: the server goes away; reads fail open (logged), writes report errors.
    server.stop();
    for i in 0..5u32 {
        let _ = jobs
            .get_or_load(i + 10, || async move { Ok::<_, String>(i) })
            .await;
        if let Err(e) = jobs.set(i, i).await {
            seen.push(format!("{e} {e:?}"));
        }
    }
    // A wrong password in a URL is reported without the password.
    let wrong = strata::RedisConfig::new(format!("redis://:{PASSWORD}-wrong@127.0.0.1:1"))
        .with_connect_timeout(Duration::from_millis(200));
    seen.push(format!("{wrong:?}"));
    if let Err(e) = strata::RedisBackend::connect(wrong).await {
        seen.push(format!("{e} {e:?}"));
    }

    let logged = logs.text();
    assert!(!logged.is_empty(), "failures were logged");
    seen.push(logged);
    for text in &seen {
        assert!(
            !text.contains(PASSWORD),
            "the Redis password leaked: {text}"
        );
        assert!(!text.contains(TOKEN), "the admin token leaked: {text}");
    }
}

#[tokio::test]
async fn passwords_with_url_delimiters_stay_hidden() {
    // Written without percent-encoding, as people do: a parser would see a path, a query and
    // a host inside the password.
    const ODD: &str = "pa/ss?wo@rd";
    for url in [
        format!("redis://app:{ODD}@127.0.0.1:1/0"),
        format!("redis://:{ODD}@127.0.0.1:1"),
    ] {
        let config = CacheConfig::from_toml_str(&format!(
            "prefix = \"sec\"\nmetrics = false\n[backend]\nurl = \"{url}\"\nconnect_timeout = \"200ms\"\n"
        ))
        .unwrap();
        let mut seen = vec![format!("{config:?}")];
        match CacheBuilder::from_config(config).build().await {
            Ok(cache) => seen.push(format!("{cache:?} {:?}", cache.admin().backend())),
            Err(e) => seen.push(format!("{e} {e:?}")),
        }
        let redis = strata::RedisConfig::new(url.clone());
        seen.push(format!("{redis:?}"));
        if let Err(e) = strata::RedisBackend::connect(redis).await {
            seen.push(format!("{e} {e:?}"));
        }
        for text in &seen {
            assert!(!text.contains(ODD), "the password leaked: {text}");
            assert!(
                !text.contains("wo@rd"),
                "part of the password leaked: {text}"
            );
        }
    }
}
