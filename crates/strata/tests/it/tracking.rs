//! Client tracking (`coherence = "tracking"`, the default) on spawned servers: writers outside
//! Strata, evictions and expiries reach every running instance's L1; kind clears and tag
//! invalidations need no bus; a killed tracking connection flushes and recovers; the heartbeat
//! stops L1 from serving when coherence cannot be confirmed (counted on a manual clock).

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use strata::{Cache, CacheBuilder, CacheConfig, Clock, Rules, Target};
use strata_testkit::RedisServer;

async fn instance_with(url: &str, extra: &str, clock: Clock) -> Cache {
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"trk\"\nmetrics = false\njitter = 0.0\n{extra}\n[backend]\nurl = \"{url}\"\n"
    ))
    .unwrap();
    let cache = CacheBuilder::from_config(config)
        .clock(clock)
        .build()
        .await
        .unwrap();
    common::ready(&[&cache]).await;
    assert_eq!(
        cache.admin().coherence().mode,
        strata::CoherenceMode::Tracking
    );
    cache
}

async fn instance(url: &str) -> Cache {
    instance_with(url, "", Clock::system()).await
}

/// Two instances holding job 8 ("old") in L1, and the entry's key.
async fn two_holding(server: &RedisServer) -> ([Cache; 2], String) {
    let caches = [instance(&server.url()).await, instance(&server.url()).await];
    for c in &caches {
        let jobs = c.kind::<String>("job").unwrap();
        let v = jobs
            .get_or_load(8, || async { Ok::<_, String>("old".into()) })
            .await
            .unwrap();
        assert_eq!(v.as_str(), "old");
    }
    let key = caches[0].kind::<String>("job").unwrap().key(8).unwrap();
    // The load's own store comes back as an invalidation to the instance that stored (one
    // more L2 read): read until each L1 holds the value.
    for c in &caches {
        let jobs = c.kind::<String>("job").unwrap();
        common::eventually("L1 holds job 8", async || {
            jobs.get(8).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            c.admin().l1().unwrap().get(&key).await.is_some()
        })
        .await;
    }
    (caches, key.to_string())
}

/// Waits until no instance's L1 holds `key`.
async fn dropped_everywhere(caches: &[Cache], key: &str, what: &str) {
    for c in caches {
        let k = c.kind::<String>("job").unwrap().key(8).unwrap();
        assert_eq!(k.as_str(), key);
        common::eventually(what, async || {
            c.admin().l1().unwrap().get(&k).await.is_none()
        })
        .await;
    }
}

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// A job entry holding `value`, as a writer outside Strata builds it from docs/wire-format.md:
/// the envelope records the kind's generation counter (§2.3), 10 minutes of TTL.
async fn wire_entry(conn: &mut redis::aio::MultiplexedConnection, value: &str) -> Vec<u8> {
    let counter: u64 = redis::cmd("GET")
        .arg("trk:v1:__version:s1:kind:job")
        .query_async(conn)
        .await
        .expect("the kind's generation counter");
    let meta =
        strata::EntryMeta::new(Clock::system().now_ms(), 600_000, 1).with_generation(counter);
    strata::Codec::encode(
        &strata::MsgPackCodec::default(),
        &meta,
        Some(&value.to_owned()),
    )
    .unwrap()
    .to_vec()
}

fn redis_cli(server: &RedisServer, args: &[&str]) {
    let out = std::process::Command::new("redis-cli")
        .arg("-p")
        .arg(server.port().to_string())
        .args(args)
        .output()
        .expect("redis-cli runs");
    assert!(out.status.success(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_set_and_del_reach_every_instance() {
    let Some(server) = strata_testkit::redis_or_skip("foreign writers") else {
        return;
    };
    let (caches, key) = two_holding(&server).await;
    // A raw redis-rs client writes the entry in the documented wire format.
    // As docs/wire-format.md says: the entry records its kind's generation (§2.3).
    let mut conn = raw(&server).await;
    let envelope = wire_entry(&mut conn, "new").await;
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(&envelope)
        .arg("EX")
        .arg(600)
        .query_async(&mut conn)
        .await
        .unwrap();
    dropped_everywhere(&caches, &key, "a foreign SET drops the L1 copies").await;
    for c in &caches {
        let v = c.kind::<String>("job").unwrap().get(8).await.unwrap();
        assert_eq!(v.as_deref().map(String::as_str), Some("new"));
    }
    // redis-cli deletes it.
    redis_cli(&server, &["DEL", &key]);
    dropped_everywhere(&caches, &key, "a foreign DEL drops the L1 copies").await;
    for c in &caches {
        assert_eq!(c.kind::<String>("job").unwrap().get(8).await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_shortened_elsewhere_and_an_eviction_reach_every_instance() {
    let Some(server) = strata_testkit::redis_or_skip("tracked expiry and eviction") else {
        return;
    };
    let (caches, key) = two_holding(&server).await;
    redis_cli(&server, &["PEXPIRE", &key, "1"]);
    dropped_everywhere(&caches, &key, "a foreign PEXPIRE drops the L1 copies").await;

    // Back in both L1s, then evicted: the server's memory is filled by another client.
    let (caches, key) = two_holding(&server).await;
    let mut conn = raw(&server).await;
    let used: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .unwrap();
    let used: u64 = used
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-random")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(used + 4_000_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    let filler = vec![b'x'; 100_000];
    for i in 0..400 {
        let _: Result<(), _> = redis::cmd("SET")
            .arg(format!("filler:{i}"))
            .arg(&filler)
            .query_async(&mut conn)
            .await;
        let exists: u64 = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if exists == 0 {
            break;
        }
    }
    let exists: u64 = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 0, "the entry was evicted");
    dropped_everywhere(&caches, &key, "an eviction drops the L1 copies").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kind_clears_and_tag_invalidations_need_no_bus() {
    let Some(server) = strata_testkit::redis_or_skip("tracked counters") else {
        return;
    };
    let (caches, key) = two_holding(&server).await;
    assert!(
        caches.iter().all(|c| c.admin().bus().is_none()),
        "tracking alone"
    );
    caches[0].clear_kind("job").await.unwrap();
    let jobs = caches[1].kind::<String>("job").unwrap();
    common::eventually("B sees the kind clear", async || {
        jobs.get(8).await.unwrap().is_none()
    })
    .await;
    let _ = key;

    let tagged = strata::LoadOptions::new().tags(["owner:7"]);
    for c in &caches {
        c.kind::<String>("job")
            .unwrap()
            .get_or_load_with(9, &tagged, || async { Ok::<_, String>("tagged".into()) })
            .await
            .unwrap();
    }
    caches[0].invalidate_tag("owner:7").await.unwrap();
    common::eventually("B sees the tag invalidation", async || {
        jobs.get(9).await.unwrap().is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_tracking_connection_flushes_l1_and_recovers() {
    let Some(server) = strata_testkit::redis_or_skip("killed tracking connection") else {
        return;
    };
    let (caches, key) = two_holding(&server).await;
    let mut conn = raw(&server).await;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut conn)
        .await
        .unwrap();
    let ids: Vec<String> = list
        .lines()
        .filter(|l| l.contains("name=strata-tracking-"))
        .filter_map(|l| {
            l.split_whitespace()
                .next()?
                .strip_prefix("id=")
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "one named tracking connection per instance: {list}"
    );
    // The first instance's, by the name it reports.
    let name = caches[0]
        .admin()
        .coherence()
        .connections
        .into_iter()
        .find(|n| n.starts_with("strata-tracking-"))
        .expect("the instance names its tracking connection");
    let id = list
        .lines()
        .find(|l| l.contains(&format!("name={name} ")))
        .and_then(|l| l.split_whitespace().next()?.strip_prefix("id="))
        .expect("its connection is listed")
        .to_owned();
    let losses = caches[0].admin().coherence().losses;
    let _: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&id)
        .query_async(&mut conn)
        .await
        .unwrap();
    let (lost, kept) = (&caches[0], &caches[1]);
    let k = lost.kind::<String>("job").unwrap().key(8).unwrap();
    common::eventually(
        "the instance that lost tracking flushed its L1",
        async || lost.admin().l1().unwrap().get(&k).await.is_none(),
    )
    .await;
    assert!(kept.admin().l1().unwrap().get(&k).await.is_some());
    assert!(
        lost.admin().coherence().losses > losses,
        "the loss is counted"
    );
    tokio::time::timeout(Duration::from_secs(10), lost.ready())
        .await
        .expect("tracking is on again");
    // Tracking works again: a foreign write reaches it.
    let jobs = lost.kind::<String>("job").unwrap();
    jobs.get_or_load(8, || async { Ok::<_, String>("old".into()) })
        .await
        .unwrap();
    redis_cli(&server, &["DEL", &key]);
    dropped_everywhere(&caches, &key, "a DEL after the reconnection").await;
}

/// Loader calls, counted.
fn counting(
    n: &Arc<AtomicU64>,
) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + Send>> {
    let n = n.clone();
    move || {
        Box::pin(async move {
            n.fetch_add(1, Ordering::SeqCst);
            Ok("loaded".to_string())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_instance_stops_serving_l1_until_confirmed_again() {
    let Some(server) = strata_testkit::redis_or_skip("heartbeat") else {
        return;
    };
    let clock = Clock::manual_at(1_000_000_000);
    let cache = instance_with(
        &server.url(),
        "operation_timeout = \"100ms\"\n[l1]\nverified_within = \"200ms\"",
        clock.clone(),
    )
    .await;
    let jobs = cache.kind::<String>("job").unwrap();
    let loads = Arc::new(AtomicU64::new(0));
    jobs.get_or_load(1, counting(&loads)).await.unwrap();
    common::eventually("confirmed", async || cache.admin().coherence().verified).await;
    jobs.get_or_load(1, counting(&loads)).await.unwrap();
    assert_eq!(loads.load(Ordering::SeqCst), 1, "an L1 hit while confirmed");

    // The server stops (SIGSTOP): no heartbeat is answered. Past the bound, L1 is not served:
    // the read goes to L2 (which does not answer in time) and then to the loader.
    server.pause().unwrap();
    clock.advance(Duration::from_millis(201));
    assert!(!cache.admin().coherence().verified);
    jobs.get_or_load(1, counting(&loads)).await.unwrap();
    assert_eq!(
        loads.load(Ordering::SeqCst),
        2,
        "not served from L1 unconfirmed"
    );
    server.resume().unwrap();
    common::eventually("confirmed again", async || {
        cache.admin().coherence().verified
    })
    .await;

    // CLIENT PAUSE (every command) is detected the same way.
    let mut conn = raw(&server).await;
    let reader = instance_with(
        &server.url(),
        "[l1]\nverified_within = \"200ms\"",
        clock.clone(),
    )
    .await;
    let items = reader.kind::<String>("job").unwrap();
    items.get_or_load(2, counting(&loads)).await.unwrap();
    common::eventually("reader confirmed", async || {
        reader.admin().coherence().verified
    })
    .await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(2_000)
        .arg("ALL")
        .query_async(&mut conn)
        .await
        .unwrap();
    clock.advance(Duration::from_millis(201));
    assert!(
        !reader.admin().coherence().verified,
        "a paused server is detected"
    );
    let before = reader.admin().stats().kinds["job"].l1.hits;
    let _ = items.get(2).await;
    assert_eq!(
        reader.admin().stats().kinds["job"].l1.hits,
        before,
        "no L1 hit while unconfirmed"
    );
    let _: Result<(), _> = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query_async(&mut conn)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_instance_does_not_serve_l1_when_it_resumes() {
    let Some(server) = strata_testkit::redis_or_skip("paused instance") else {
        return;
    };
    // A long bound (heartbeats every second) so no heartbeat falls between the jump and the
    // read: the jump is what an instance resumed after SIGSTOP sees.
    let clock = Clock::manual_at(1_000_000_000);
    let cache = instance_with(
        &server.url(),
        "[l1]\nverified_within = \"10s\"",
        clock.clone(),
    )
    .await;
    let jobs = cache.kind::<String>("job").unwrap();
    let loads = Arc::new(AtomicU64::new(0));
    jobs.get_or_load(1, counting(&loads)).await.unwrap();
    common::eventually("confirmed", async || cache.admin().coherence().verified).await;
    let l2_reads = || cache.admin().stats().kinds["job"].l2.hits;
    let before = l2_reads();
    clock.advance(Duration::from_secs(11));
    jobs.get_or_load(1, counting(&loads)).await.unwrap();
    assert_eq!(l2_reads(), before + 1, "read through L2, not L1");
    assert_eq!(loads.load(Ordering::SeqCst), 1, "L2 still had it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_instance_drops_the_other_ones_copy() {
    let Some(server) = strata_testkit::redis_or_skip("tracked change") else {
        return;
    };
    let (caches, key) = two_holding(&server).await;
    let rules = Rules::new().on("job", |id| vec![Target::key("job", id)]);
    caches[0].invalidate(&rules, "job", 8).await.unwrap();
    dropped_everywhere(&caches, &key, "the change reaches both L1s").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_but_the_kind_counters_has_a_ttl() {
    let Some(server) = strata_testkit::redis_or_skip("keys without a TTL") else {
        return;
    };
    let caches = [instance(&server.url()).await, instance(&server.url()).await];
    let (a, b) = (
        caches[0].kind::<String>("job").unwrap(),
        caches[1].kind::<String>("job").unwrap(),
    );
    // Entries, a lease taken and released, a tagged entry, a registry, a schema bump, a kind
    // clear, a tag invalidation and a deletion.
    let tagged = strata::LoadOptions::new().tags(["owner:1"]);
    for id in 0..20 {
        a.get_or_load_with(id, &tagged, || async { Ok::<_, String>("v".into()) })
            .await
            .unwrap();
        b.set(id + 100, "w".into()).await.unwrap();
    }
    let v2 = caches[1].kind::<String>("job").unwrap().with_schema(2);
    v2.set(7, "schema 2".into()).await.unwrap();
    caches[0].invalidate_tag("owner:1").await.unwrap();
    caches[1].clear_kind("job").await.unwrap();
    a.delete(3).await.unwrap();

    let mut conn = raw(&server).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.len() > 20, "{keys:?}");
    let mut without = Vec::new();
    for key in &keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if ttl < 0 {
            without.push(key.clone());
        }
    }
    // The kind counters live without a TTL by design (docs/security.md): one small key per
    // kind, which must never go back to an older value.
    assert!(
        without
            .iter()
            .all(|k| k.contains(":__version:") && k.contains(":kind:")),
        "keys without a TTL: {without:?} (of {keys:?})"
    );
    assert!(
        keys.iter().any(|k| k.contains("#schemas:")),
        "a schema registry was written: {keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_during_a_short_write_pause_waits_instead_of_deferring() {
    let Some(server) = strata_testkit::redis_or_skip("write pause") else {
        return;
    };
    let (caches, key) = two_holding(&server).await;
    let mut conn = raw(&server).await;
    // Writes block for 300 ms (reads and PING do not): longer than a read waits (250 ms),
    // shorter than a change does (change_timeout, 1 s).
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(300)
        .arg("WRITE")
        .query_async(&mut conn)
        .await
        .unwrap();
    let rules = Rules::new().on("job", |id| vec![Target::key("job", id)]);
    let outcome = caches[0].invalidate(&rules, "job", 8).await.unwrap();
    assert!(!outcome.deferred, "{outcome:?}");
    assert_eq!(caches[0].admin().deferred_changes().deferred, 0);
    dropped_everywhere(&caches, &key, "the change reaches both L1s").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_that_began_before_a_foreign_change_does_not_fill_l1() {
    let Some(server) = strata_testkit::redis_or_skip("load overtaken by a foreign change") else {
        return;
    };
    let cache = instance(&server.url()).await;
    let jobs = cache.kind::<String>("job").unwrap();
    let key = jobs.key(5).unwrap();
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let load = {
        let jobs = jobs.clone();
        tokio::spawn(async move {
            jobs.get_or_load(5, || async move {
                let _ = started_tx.send(());
                let _ = released.await;
                Ok::<_, String>("read before the change".into())
            })
            .await
        })
    };
    started.await.unwrap();
    // A writer outside Strata changes the entry as docs/wire-format.md says: the new value,
    // and the entry's lease dropped with it.
    let mut conn = raw(&server).await;
    let envelope = wire_entry(&mut conn, "changed").await;
    let lease = format!("trk:#lease:{}", &key.as_str()["trk:".len()..]);
    let _: () = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(key.as_str())
        .arg(&envelope)
        .arg("EX")
        .arg(600)
        .ignore()
        .cmd("DEL")
        .arg(&lease)
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();
    // The push reaches the instance (its heartbeat is answered after it) before the load ends.
    let beats = cache.admin().coherence().heartbeats;
    common::eventually("a heartbeat after the change", async || {
        cache.admin().coherence().heartbeats > beats + 2 && cache.admin().coherence().verified
    })
    .await;
    release.send(()).unwrap();
    let got = load.await.unwrap().unwrap();
    assert_eq!(
        got.as_str(),
        "read before the change",
        "its caller gets what it loaded"
    );
    assert!(
        cache.admin().l1().unwrap().get(&key).await.is_none(),
        "the overtaken load does not fill L1"
    );
    assert_eq!(
        jobs.get(5).await.unwrap().as_deref().map(String::as_str),
        Some("changed"),
        "nor L2: the foreign value stays"
    );
}

/// A value loaded while another instance holds the key's lease is in no backend: deleting the
/// absent key makes the server push nothing, so under tracking alone the copy must not be in
/// L1 (else it would be served stale until `l1.max_lifetime`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_loaded_under_another_instances_lease_stays_out_of_l1() {
    let Some(server) = strata_testkit::redis_or_skip("load under another lease") else {
        return;
    };
    let caches = [instance(&server.url()).await, instance(&server.url()).await];
    let [a, b] = [0, 1].map(|i| caches[i].kind::<String>("job").unwrap());
    let key = a.key(5).unwrap();
    // Instance a takes the lease and loads slowly.
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let slow = {
        let a = a.clone();
        tokio::spawn(async move {
            a.get_or_load(5, || async move {
                let _ = started_tx.send(());
                let _ = released.await;
                Ok::<_, String>("a's load".into())
            })
            .await
        })
    };
    started.await.unwrap();
    // Instance b finds the lease taken and loads for its own caller.
    let loads = Arc::new(AtomicU64::new(0));
    let counted = loads.clone();
    let got = b
        .get_or_load(5, || async move {
            counted.fetch_add(1, Ordering::Relaxed);
            Ok::<_, String>("b's load".into())
        })
        .await
        .unwrap();
    assert_eq!(got.as_str(), "b's load");
    assert_eq!(loads.load(Ordering::Relaxed), 1);
    // The source changes; the key is deleted while absent (its lease goes with it).
    a.delete(5).await.unwrap();
    let beats = caches[1].admin().coherence().heartbeats;
    common::eventually("heartbeats after the delete", async || {
        caches[1].admin().coherence().heartbeats > beats + 2
    })
    .await;
    release.send(()).unwrap();
    assert_eq!(slow.await.unwrap().unwrap().as_str(), "a's load");
    assert!(
        caches[1].admin().l1().unwrap().get(&key).await.is_none(),
        "b's copy, in no backend, is not in its L1"
    );
    assert_eq!(b.get(5).await.unwrap(), None, "nothing stale is served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_own_write_costs_at_most_one_extra_l2_read() {
    let Some(server) = strata_testkit::redis_or_skip("own write echo") else {
        return;
    };
    let proxy = strata_testkit::RoundTripProxy::start(server.port())
        .await
        .unwrap();
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"trk\"\nmetrics = false\n[backend]\nurl = \"{}\"\n",
        proxy.url()
    ))
    .unwrap();
    // Tracking on a connection of its own, outside the count.
    let tracker = strata::RedisTracker::new(
        &strata::RedisConfig::new(proxy.target_url()).with_namespace("trk:"),
    )
    .unwrap();
    let cache = CacheBuilder::from_config(config)
        .tracker(Arc::new(tracker))
        .build()
        .await
        .unwrap();
    common::ready(&[&cache]).await;
    let jobs = cache.kind::<String>("job").unwrap();
    jobs.get(0).await.unwrap();
    for (i, value) in ["first", "second", "third"].into_iter().enumerate() {
        jobs.set(1, value.into()).await.unwrap();
        // The write's echo comes back (the heartbeats answered after it prove it arrived).
        let beats = cache.admin().coherence().heartbeats;
        common::eventually("heartbeats after the write", async || {
            cache.admin().coherence().heartbeats > beats + 2
        })
        .await;
        proxy.reset();
        assert_eq!(
            jobs.get(1).await.unwrap().as_deref().map(String::as_str),
            Some(value)
        );
        let first = proxy.round_trips();
        proxy.reset();
        assert_eq!(
            jobs.get(1).await.unwrap().as_deref().map(String::as_str),
            Some(value)
        );
        let second = proxy.round_trips();
        assert!(first <= 1, "write {i}: the echo cost {first} round trips");
        assert_eq!(second, 0, "write {i}: then an L1 hit");
    }
}
