//! RedisBackend under server faults: errors have the right kind, and it recovers.

use std::time::{Duration, Instant};

use strata_backend::{Backend, ErrorKind};
use strata_redis::{RedisBackend, RedisConfig};

const HOUR: Duration = Duration::from_secs(3600);

fn config(url: String) -> RedisConfig {
    RedisConfig::new(url)
        .with_namespace("faults:")
        .with_operation_timeout(Duration::from_millis(300))
        .with_connect_timeout(Duration::from_millis(500))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_server_times_out_then_recovers() {
    let Some(server) = strata_testkit::redis_or_skip("a_paused_server_times_out_then_recovers")
    else {
        return;
    };
    let b = RedisBackend::connect(config(server.url())).await.unwrap();
    b.set("faults:k", "v".into(), HOUR).await.unwrap();
    server.pause().unwrap();
    let start = Instant::now();
    let err = b.get("faults:k").await.unwrap_err();
    let waited = start.elapsed();
    server.resume().unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.is_transient());
    assert!(
        waited < Duration::from_secs(3),
        "the operation timeout bounds the wait: {waited:?}"
    );
    // The connection may have been dropped by the timeout; the manager reconnects.
    let mut last = None;
    for _ in 0..50 {
        match b.get("faults:k").await {
            Ok(v) => {
                assert_eq!(v.as_deref(), Some(&b"v"[..]));
                return;
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no recovery after resume: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_is_a_connection_error_and_a_restart_reconnects() {
    let Some(mut server) = strata_testkit::redis_or_skip("a_killed_server_is_a_connection_error")
    else {
        return;
    };
    let b = RedisBackend::connect(config(server.url())).await.unwrap();
    b.set("faults:k", "v".into(), HOUR).await.unwrap();
    server.stop();
    let err = b.get("faults:k").await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Connection | ErrorKind::Timeout),
        "{err}"
    );
    assert!(err.is_transient());
    server.restart().unwrap();
    // The restarted server is empty (no persistence); what matters is that we talk to it again.
    let start = Instant::now();
    loop {
        match b.set("faults:k", "again".into(), HOUR).await {
            Ok(()) => break,
            Err(e) if start.elapsed() < Duration::from_secs(10) => {
                assert!(e.is_transient(), "{e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("did not reconnect: {e}"),
        }
    }
    assert_eq!(
        b.get("faults:k").await.unwrap().as_deref(),
        Some(&b"again"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_nothing_fails_fast_with_a_connection_error() {
    let Some(mut server) = strata_testkit::redis_or_skip("connecting_to_nothing") else {
        return;
    };
    let url = server.url();
    server.stop();
    let start = Instant::now();
    let err = RedisBackend::connect(config(url)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lazy_backend_starts_without_redis_and_works_once_it_is_up() {
    let Some(mut server) = strata_testkit::redis_or_skip("a_lazy_backend") else {
        return;
    };
    server.stop();
    let b = RedisBackend::connect_lazy(config(server.url())).unwrap();
    assert!(b.get("faults:k").await.unwrap_err().is_transient());
    server.restart().unwrap();
    let start = Instant::now();
    while b.ping().await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "never connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_reports_out_of_memory_and_reads_keep_working() {
    let Some(server) = strata_testkit::redis_with_args_or_skip(
        "a_full_server_reports_out_of_memory",
        &["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"],
    ) else {
        return;
    };
    let b = RedisBackend::connect(config(server.url())).await.unwrap();
    b.set("faults:small", "v".into(), HOUR).await.unwrap();
    let chunk = bytes::Bytes::from(vec![1u8; 256 * 1024]);
    let mut oom = None;
    for i in 0..64 {
        if let Err(e) = b.set(&format!("faults:big:{i}"), chunk.clone(), HOUR).await {
            oom = Some(e);
            break;
        }
    }
    let err = oom.expect("a 2 MB server refuses 16 MB of writes");
    assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
    assert_eq!(
        b.get("faults:small").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_are_config_errors_that_hide_the_password() {
    let err = RedisBackend::connect(RedisConfig::new("http://user:hunter2@127.0.0.1:1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(err.to_string().contains("user:***@"), "{err}");
    assert!(
        err.to_string().contains("rediss:// (TLS) or redis+unix://"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_refused_without_leaking_them() {
    let Some(server) = strata_testkit::redis_with_args_or_skip(
        "wrong_credentials_are_refused",
        &["--requirepass", "right-password"],
    ) else {
        return;
    };
    let url = format!("redis://:wrong-password@127.0.0.1:{}", server.port());
    let err = RedisBackend::connect(config(url)).await.unwrap_err();
    assert!(
        !format!("{err} {err:?}").contains("wrong-password"),
        "{err:?}"
    );
    let ok = RedisBackend::connect(config(server.url()).with_credentials(None, "right-password"))
        .await
        .unwrap();
    ok.ping().await.unwrap();
    assert!(!format!("{ok:?}").contains("right-password"));
}

/// A reply that timed out keeps arriving on its connection (here: 64 MiB behind a proxy that
/// delays every request): the backend replaces that connection, so the next call does not
/// wait behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_reply_timed_out_is_replaced() {
    let Some(server) = strata_testkit::redis_or_skip("a connection replaced after a timeout")
    else {
        return;
    };
    // Writing 64 MiB can take longer than redis-rs's default reply timeout on a loaded machine.
    let patient = redis::AsyncConnectionConfig::new().set_response_timeout(Some(HOUR));
    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection_with_config(&patient)
        .await
        .unwrap();
    let big = vec![7u8; 64 << 20];
    let _: () = redis::cmd("SET")
        .arg("faults:big")
        .arg(&big)
        .query_async(&mut raw)
        .await
        .unwrap();
    let proxy = strata_testkit::RoundTripProxy::start(server.port())
        .await
        .unwrap();
    let b = RedisBackend::connect(
        config(proxy.url()).with_operation_timeout(Duration::from_millis(40)),
    )
    .await
    .unwrap();
    b.set("faults:small", "v".into(), HOUR).await.unwrap();
    let before = proxy.connections();
    let err = b.get("faults:big").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    // The new connection still has to connect, and the proxy may still be carrying the 64 MiB
    // reply of the old one: on a loaded machine (the whole suite running) a read within 40 ms
    // may take many tries, so they go on for up to 10 s.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let mut answer = b.get("faults:small").await;
    while answer.is_err() && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
        answer = b.get("faults:small").await;
    }
    assert_eq!(
        answer.unwrap().as_deref(),
        Some(&b"v"[..]),
        "a later call answers on a new connection"
    );
    assert!(
        proxy.connections() > before,
        "the stuck connection was replaced"
    );
}

/// A configuration that would wait an hour to connect: an error that comes back names its
/// cause without waiting for the timeout.
fn patient(url: String) -> RedisConfig {
    config(url).with_connect_timeout(HOUR)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_check_names_a_wrong_password_and_a_missing_password() {
    let Some(server) = strata_testkit::redis_with_args_or_skip(
        "the_connection_check_names_a_wrong_password",
        &["--requirepass", "right-password"],
    ) else {
        return;
    };
    let url = format!("redis://:wrong-password@127.0.0.1:{}", server.port());
    let lazy = RedisBackend::connect_lazy(patient(url)).unwrap();
    let err = lazy.check_connection().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.message().contains("WRONGPASS"), "{err}");
    assert!(err.message().contains(":***@127.0.0.1"), "{err}");
    assert!(
        !format!("{err} {err:?}").contains("wrong-password"),
        "{err}"
    );
    // The backend's own ping (what health checks call) says it too.
    let err = lazy.ping().await.unwrap_err();
    assert!(err.message().contains("WRONGPASS"), "{err}");

    let none = RedisBackend::connect_lazy(patient(server.url())).unwrap();
    let err = none.check_connection().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(
        err.message().contains("requires a password (NOAUTH)"),
        "{err}"
    );

    let right = patient(server.url()).with_credentials(None, "right-password");
    let ok = RedisBackend::connect_lazy(right).unwrap();
    ok.check_connection().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_check_names_a_refused_port_at_once() {
    let Some(mut server) = strata_testkit::redis_or_skip("check_names_a_refused_port") else {
        return;
    };
    let url = server.url();
    server.stop();
    // An hour to connect: an answer of kind "refused" proves it did not wait.
    let lazy = RedisBackend::connect_lazy(patient(url.clone())).unwrap();
    let err = lazy.check_connection().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(
        err.message()
            .starts_with("connection refused by redis://127.0.0.1:"),
        "{err}"
    );
    let err = lazy.ping().await.unwrap_err();
    assert!(err.message().starts_with("connection refused by"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_check_names_a_database_out_of_range() {
    let Some(server) = strata_testkit::redis_with_args_or_skip(
        "check_names_a_database_out_of_range",
        &["--databases", "4"],
    ) else {
        return;
    };
    let lazy = RedisBackend::connect_lazy(patient(format!("{}/9", server.url()))).unwrap();
    let err = lazy.check_connection().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.message().contains("DB index is out of range"), "{err}");
    assert!(err.message().contains("/9"), "{err}");
    let ok = RedisBackend::connect_lazy(patient(format!("{}/3", server.url()))).unwrap();
    ok.check_connection().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_check_names_an_unknown_host() {
    // `.invalid` never resolves (RFC 2606).
    let lazy = RedisBackend::connect_lazy(patient("redis://cache.invalid:6379".into())).unwrap();
    let err = lazy.check_connection().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(
        err.message()
            .starts_with("cannot resolve the host of redis://cache.invalid:6379"),
        "{err}"
    );
}
