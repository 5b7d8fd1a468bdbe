//! An outage costs an operation one timeout, and invalidations made during it reach Redis and
//! every instance once it is back.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use strata::{
    Cache, CacheBuilder, CacheConfig, ErrorKind, MemoryBackend, MemoryConfig, Rules, Target,
};
use strata_testkit::{Faults, RedisServer};

/// An instance on `server` with its bus, a 200 ms operation timeout and a breaker that does
/// not open during the test (what is counted is the operation's own skipping).
async fn instance(server: &RedisServer, extra: &str) -> Cache {
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"out\"\nmetrics = false\noperation_timeout = \"200ms\"\n{extra}\n\
         [breaker]\nfailures = 1000\nfailure_rate = 0.0\n[backend]\nurl = \"{}\"",
        server.url()
    ))
    .unwrap();
    let cache = CacheBuilder::from_config(config).build().await.unwrap();
    common::ready(&[&cache]).await;
    cache.admin().backend().ping().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    cache
}

fn timeouts(cache: &Cache, kind: &str) -> u64 {
    cache
        .admin()
        .stats()
        .kinds
        .get(kind)
        .and_then(|k| k.l2.errors.get("timeout").copied())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_server_costs_each_get_or_load_one_timeout() {
    let Some(server) = strata_testkit::redis_or_skip("one timeout per get_or_load") else {
        return;
    };
    let cache = instance(&server, "").await;
    let (jobs, users) = (
        cache.kind::<String>("job").unwrap(),
        cache.kind::<String>("user").unwrap(),
    );
    jobs.get(0).await.unwrap();
    users.get(0).await.unwrap();
    server.pause().unwrap();
    let v = jobs
        .get_or_load(1, || async { Ok::<_, String>("from the loader".into()) })
        .await
        .unwrap();
    assert_eq!(v.as_str(), "from the loader");
    assert_eq!(
        timeouts(&cache, "job"),
        1,
        "{:?}",
        cache.admin().stats().kinds["job"]
    );

    // A load inside a load (whoami loads user): still one timeout for the whole operation.
    let v = jobs
        .get_or_load(2, || async {
            let inner = users
                .get_or_load(2, || async { Ok::<_, String>("user 2".into()) })
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(format!("job of {inner}"))
        })
        .await
        .unwrap();
    assert_eq!(v.as_str(), "job of user 2");
    assert_eq!(timeouts(&cache, "job"), 2);
    assert_eq!(timeouts(&cache, "user"), 0, "the inner load skipped L2");
    server.resume().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_redis_is_paused_reaches_redis_and_every_instance() {
    let Some(server) = strata_testkit::redis_or_skip("deferred invalidation") else {
        return;
    };
    let (a, b) = (instance(&server, "").await, instance(&server, "").await);
    let (wa, wb) = (
        a.kind::<String>("whoami").unwrap(),
        b.kind::<String>("whoami").unwrap(),
    );
    wa.set(42, "old".into()).await.unwrap();
    common::eventually("b sees the write", async || {
        wb.get(42)
            .await
            .unwrap()
            .is_some_and(|v| v.as_str() == "old")
    })
    .await;
    let key = wa.key(42).unwrap();
    let rules = Rules::new().on("profile", |id| vec![Target::key("whoami", id)]);

    server.pause().unwrap();
    let outcome = a.invalidate(&rules, "profile", 42).await.unwrap();
    assert!(outcome.deferred, "{outcome:?}");
    assert_eq!(a.admin().deferred_changes().queued, 1);
    assert!(
        a.admin().l1().unwrap().get(&key).await.is_none(),
        "the calling instance honours the change at once"
    );
    // b cannot know of the change yet, but it cannot confirm its coherence either (its
    // heartbeats go unanswered): it has stopped serving its L1 copy.
    assert!(
        b.admin().l1().unwrap().get(&key).await.is_none() || !b.admin().coherence().verified,
        "b does not serve what it cannot confirm: {:?}",
        b.admin().coherence()
    );

    server.resume().unwrap();
    common::eventually("the change is replayed", async || {
        a.admin().deferred_changes().replayed == 1 && a.admin().deferred_changes().queued == 0
    })
    .await;
    assert_eq!(
        a.admin().backend().get(&key).await.unwrap(),
        None,
        "Redis lost the entry"
    );
    common::eventually("b drops its copy", async || {
        b.admin().l1().unwrap().get(&key).await.is_none()
    })
    .await;
    assert_eq!(wb.get(42).await.unwrap(), None);
}

#[tokio::test]
async fn an_overflowing_queue_flushes_l1_and_says_so() {
    let inner = MemoryBackend::new(MemoryConfig::default().with_namespace("t:")).unwrap();
    let (faulty, faults) = Faults::wrap(inner);
    let cache = CacheBuilder::new()
        .prefix("t")
        .metrics(false)
        .breaker(0, Duration::from_secs(1))
        .backend(Arc::new(faulty))
        .build()
        .await
        .unwrap();
    let cfg = cache.admin().config().clone();
    assert_eq!(cfg.max_deferred_changes, 10_000);
    let small = CacheBuilder::from_config({
        let mut c = cfg;
        c.max_deferred_changes = 2;
        c.prefix = "t".into();
        c
    })
    .backend(cache.admin().backend().clone())
    .build()
    .await
    .unwrap();
    let users = small.kind::<u32>("user").unwrap();
    users.set(9, 9).await.unwrap();
    let rules = Rules::new().on("user", |id| vec![Target::key("user", id)]);
    faults.fail_always(ErrorKind::Connection);
    for id in 1..=2 {
        assert!(small.invalidate(&rules, "user", id).await.unwrap().deferred);
    }
    assert_eq!(small.admin().deferred_changes().overflows, 0);
    assert!(
        small
            .admin()
            .l1()
            .unwrap()
            .get(&users.key(9).unwrap())
            .await
            .is_some()
    );
    assert!(small.invalidate(&rules, "user", 3).await.unwrap().deferred);
    let stats = small.admin().deferred_changes();
    assert_eq!((stats.queued, stats.overflows), (2, 1), "{stats:?}");
    assert!(
        small
            .admin()
            .l1()
            .unwrap()
            .get(&users.key(9).unwrap())
            .await
            .is_none(),
        "L1 flushed"
    );
    faults.heal();
    common::eventually("the queue drains", async || {
        small.admin().deferred_changes().queued == 0
    })
    .await;
    assert_eq!(small.admin().deferred_changes().replayed, 2);
}

#[tokio::test]
async fn writes_fail_open_by_default_and_fail_loudly_when_strict() {
    for strict in [false, true] {
        let inner = MemoryBackend::new(MemoryConfig::default().with_namespace("wo:")).unwrap();
        let (faulty, faults) = Faults::wrap(inner);
        let cache = CacheBuilder::new()
            .prefix("wo")
            .metrics(false)
            .strict(strict)
            .breaker(0, Duration::from_secs(1))
            .backend(Arc::new(faulty))
            .build()
            .await
            .unwrap();
        let users = cache.kind::<u32>("user").unwrap();
        let rules = Rules::new().on("user", |id| vec![Target::key("user", id)]);
        // An outage (deferred invalidations) and a refusal (not replayable).
        for kind in [ErrorKind::Timeout, ErrorKind::OutOfMemory] {
            faults.fail_always(kind);
            let set = users.set(1, 1).await;
            let delete = users.delete(2).await;
            let invalidated = cache.invalidate(&rules, "user", 3).await;
            let many = users.set_many(vec![(4, 4), (5, 5)]).await;
            if strict {
                assert!(
                    set.is_err() && many.is_err(),
                    "{kind:?}: strict surfaces writes"
                );
                if kind == ErrorKind::OutOfMemory {
                    assert!(delete.is_err() && invalidated.is_err(), "{kind:?}");
                }
            } else {
                assert!(set.is_ok() && many.is_ok(), "{kind:?}: {set:?} {many:?}");
                assert!(!delete.unwrap());
                let invalidated = invalidated.unwrap();
                assert_eq!(
                    (invalidated.deferred, invalidated.failed),
                    (kind == ErrorKind::Timeout, kind == ErrorKind::OutOfMemory),
                    "{kind:?}"
                );
            }
            // Counted either way, and this instance serves what it wrote from its L1.
            let errors = cache.admin().stats().kinds["user"]
                .l2
                .errors
                .get(kind.as_str())
                .copied();
            assert!(
                errors >= Some(3),
                "{kind:?}: {:?}",
                cache.admin().stats().kinds["user"].l2
            );
            assert_eq!(users.get(1).await.unwrap().as_deref(), Some(&1), "{kind:?}");
            faults.heal();
        }
    }
}

/// A cache on `url` that would wait an hour to connect.
fn patient(url: &str, strict: bool) -> CacheBuilder {
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"out\"\nmetrics = false\nstrict = {strict}\n\
         [backend]\nurl = \"{url}\"\nconnect_timeout = \"1h\""
    ))
    .unwrap();
    CacheBuilder::from_config(config)
}

/// At start the cache checks Redis once and names what failed: a refused port at once (an
/// hour's connect timeout would otherwise have been waited), a database the server does not
/// have; it starts fail-open, or with `strict` refuses to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_up_check_names_a_refused_port_and_a_missing_database() {
    let Some(mut server) = strata_testkit::redis_with_args_or_skip(
        "the_start_up_check_names_a_refused_port",
        &["--databases", "2"],
    ) else {
        return;
    };
    let missing_db = format!("{}/7", server.url());
    let cache = patient(&missing_db, false).build().await.unwrap();
    let last = cache.admin().last_backend_error().unwrap();
    assert_eq!(last.kind, ErrorKind::Config, "{last:?}");
    assert!(
        last.message.contains("DB index is out of range"),
        "{last:?}"
    );
    assert!(cache.admin().warnings()[0].starts_with("Redis cannot be used at start: "));

    let url = server.url();
    server.stop();
    let cache = patient(&url, false).build().await.unwrap();
    let last = cache.admin().last_backend_error().unwrap();
    assert_eq!(last.kind, ErrorKind::Connection, "{last:?}");
    assert!(
        last.message
            .starts_with("Redis cannot be used at start: connection refused by redis://127.0.0.1:"),
        "{last:?}"
    );
    let users = cache.kind::<u32>("user").unwrap();
    assert_eq!(users.get(1).await.unwrap(), None, "reads miss (fail-open)");

    let err = patient(&url, true).build().await.unwrap_err();
    assert!(err.to_string().contains("connection refused by"), "{err}");
}

/// The log names the cause: the start-up check's warning (the URL's password redacted), and
/// the breaker's "circuit opened" line carries the last error's kind and message.
#[tokio::test]
async fn the_log_names_the_cause_of_a_failing_redis() {
    let Some(mut server) = strata_testkit::redis_or_skip("the_log_names_the_cause") else {
        return;
    };
    let url = format!("redis://:hunter2@127.0.0.1:{}", server.port());
    server.stop();
    let logs = common::Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let cache = patient(&url, false).build().await.unwrap();
    let text = logs.text();
    assert!(
        text.contains("error.kind=\"connection\"") || text.contains("error.kind=connection"),
        "{text}"
    );
    assert!(
        text.contains("connection refused by redis://:***@127.0.0.1:"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");

    let inner = MemoryBackend::new(MemoryConfig::default().with_namespace("lg:")).unwrap();
    let (faulty, faults) = Faults::wrap(inner);
    faults.fail_always(ErrorKind::Connection);
    let failing = CacheBuilder::new()
        .prefix("lg")
        .metrics(false)
        .breaker(1, Duration::from_secs(60))
        .backend(Arc::new(faulty))
        .build()
        .await
        .unwrap();
    let _ = failing.kind::<u32>("user").unwrap().get(1).await;
    let text = logs.text();
    let opened = text
        .lines()
        .find(|l| l.contains("circuit opened"))
        .unwrap_or_else(|| panic!("no circuit opened line: {text}"));
    assert!(
        opened.contains("error.kind=\"connection\"") || opened.contains("error.kind=connection"),
        "{opened}"
    );
    drop(cache);
}
