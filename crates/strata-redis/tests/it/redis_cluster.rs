//! RedisBackend on a local Redis Cluster: the whole conformance suite, key placement (leases
//! and quota'd kinds share their entry's slot, scans show the standalone names), a quota under
//! concurrent writers, and a primary killed under load (requests recover after failover).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use strata_backend::{Backend, Leases, Listing, SetEntry};
use strata_redis::{EvictionPolicy, Limits, Quota, RedisBackend, RedisConfig};
use strata_testkit::RedisCluster;
use strata_testkit::conformance::Fixture;

struct Cluster {
    cluster: RedisCluster,
}

#[strata_backend::async_trait]
impl Fixture for Cluster {
    async fn backend(&self, namespace: &str) -> Arc<dyn Backend> {
        // The suite checks behaviour, not latency: an 8 MiB value through a cluster on a busy
        // machine (the binary's other tests run beside it) can take longer than the default.
        let config = RedisConfig::new(self.cluster.url())
            .with_cluster(true)
            .with_namespace(namespace)
            .with_operation_timeout(Duration::from_secs(10));
        Arc::new(RedisBackend::connect(config).await.unwrap())
    }
}

async fn keyslot(cluster: &RedisCluster, key: &str) -> u16 {
    let url = cluster.nodes()[0].url();
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_suite_passes_on_a_cluster() {
    let Some(cluster) = strata_testkit::redis_cluster_or_skip("cluster conformance", 3, 0) else {
        return;
    };
    let fx = Cluster { cluster };
    strata_testkit::backend_conformance!(in_sequence: &fx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_and_quota_indexes_share_their_entries_slot() {
    let Some(cluster) = strata_testkit::redis_cluster_or_skip("cluster layout", 3, 0) else {
        return;
    };
    let kind = "cl:v1:job:";
    let limits = Limits::default().with_max_entries(50);
    let config = RedisConfig::new(cluster.url())
        .with_cluster(true)
        .with_namespace("cl:")
        .with_quota(Quota::new(kind, limits, EvictionPolicy::Lru));
    let b = Arc::new(RedisBackend::connect(config).await.unwrap());
    let ttl = Duration::from_secs(60);

    // A kind without a quota spreads over the cluster; each lease shares its entry's slot and a
    // load stores under it.
    let mut slots = std::collections::BTreeSet::new();
    for i in 0..40 {
        let key = format!("cl:v1:user:s1:{i}");
        assert!(b.acquire_lease(&key, "t", ttl).await.unwrap());
        assert!(b.set_under_lease(&key, "t", "v".into(), ttl).await.unwrap());
        slots.insert(keyslot(&cluster, &key).await);
    }
    assert!(
        slots.len() > 30,
        "plain keys spread over slots: {}",
        slots.len()
    );

    // Writers of the quota'd kind on all three primaries' worth of keys, concurrently.
    let mut writers = Vec::new();
    for w in 0..8 {
        let b = b.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..60 {
                let key = format!("cl:v1:job:s1:{w}-{i}");
                b.set(&key, vec![b'x'; 100].into(), ttl).await.unwrap();
                assert!(b.get(&key).await.unwrap().is_some());
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = b.scan(kind, cursor, 100).await.unwrap();
        listed.extend(page.keys);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(listed.len(), 50, "the quota holds on a cluster: {listed:?}");
    assert!(
        listed.iter().all(|k| !k.contains('{')),
        "scans show the names callers use: {listed:?}"
    );
    let info = b.info().await.unwrap();
    assert_eq!(info.details[&format!("quota.{kind}.entries")], "50");
    assert_eq!(info.details["cluster.primaries"], "3");

    // Reads and deletes by the logical names work; batches span slots.
    let keys: Vec<&str> = listed.iter().map(String::as_str).collect();
    let values = b.get_many(&keys).await.unwrap();
    assert!(values.iter().all(Option::is_some));
    assert_eq!(b.delete_many(&keys[..10]).await.unwrap(), 10);
    b.set_many(
        (0..30)
            .map(|i| SetEntry::new(format!("cl:v1:tag:s1:{i}"), "v", ttl))
            .collect(),
    )
    .await
    .unwrap();
    // clear visits every primary: the kind, its index, the plain keys, the leases.
    assert!(b.clear().await.unwrap() >= 40 + 40 + 30);
    assert_eq!(
        b.scan("cl:", None, 1000).await.unwrap().keys,
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_recover_after_a_primary_fails_over() {
    let Some(mut cluster) = strata_testkit::redis_cluster_or_skip("cluster failover", 3, 1) else {
        return;
    };
    let timeout = Duration::from_millis(300);
    let config = RedisConfig::new(cluster.url())
        .with_cluster(true)
        .with_namespace("fo:")
        .with_operation_timeout(timeout);
    let b = Arc::new(RedisBackend::connect(config).await.unwrap());
    let ttl = Duration::from_secs(120);
    for i in 0..200 {
        b.set(&format!("fo:k:{i}"), "v".into(), ttl).await.unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let slowest = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let (b, stop, ok, failed, slowest) = (
            b.clone(),
            stop.clone(),
            ok.clone(),
            failed.clone(),
            slowest.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            while !stop.load(Ordering::Acquire) {
                let key = format!("fo:k:{}", i % 200);
                let start = Instant::now();
                let r = if i % 2 == 0 {
                    b.get(&key).await.map(drop)
                } else {
                    b.set(&key, "w".into(), ttl).await
                };
                let took = u64::try_from(start.elapsed().as_millis()).unwrap();
                slowest.fetch_max(took, Ordering::Relaxed);
                match r {
                    Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
                i += 8;
                tokio::task::yield_now().await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = cluster.kill_a_primary().unwrap();
    let killed_at = Instant::now();
    // The replica takes over (node timeout 1 s, then an election).
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.wait_healthy(Duration::from_secs(20)).unwrap();
        cluster
    })
    .await
    .unwrap();
    // Then keys in every slot range are writable and readable again, within a bound (keys of
    // their own: the load tasks keep writing theirs).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last_error = None;
    'recovery: loop {
        assert!(
            Instant::now() < deadline,
            "requests did not recover after failover: {last_error:?}"
        );
        for i in 0..200 {
            let key = format!("fo:check:{i}");
            let read = match b.set(&key, "after".into(), ttl).await {
                Ok(()) => b.get(&key).await,
                Err(e) => Err(e),
            };
            match read {
                Ok(Some(v)) if v.as_ref() == b"after" => {}
                other => {
                    last_error = Some(format!("{key}: {other:?}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue 'recovery;
                }
            }
        }
        break;
    }
    eprintln!(
        "primary {killed} killed; all keys served again {:?} after the kill",
        killed_at.elapsed()
    );
    drop(cluster);
    stop.store(true, Ordering::Release);
    for t in tasks {
        t.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let slowest = slowest.load(Ordering::Relaxed);
    eprintln!("during failover: {ok} ok, {failed} failed, slowest {slowest} ms");
    assert!(ok > 0);
    // Each operation ends within its timeout (plus scheduling slack on a loaded machine).
    assert!(slowest < 300 + 700, "an operation took {slowest} ms");
}

/// Reads issued together on a cluster are coalesced per hash slot: keys sharing a hash tag go
/// in one `MGET`, and no `MGET` mixes slots (the server would refuse it; redis-rs would split
/// it) — checked on what each primary receives, with `MONITOR`.
#[tokio::test]
async fn coalesced_reads_on_a_cluster_keep_each_mget_in_one_slot() {
    use futures::StreamExt;

    let Some(cluster) = strata_testkit::redis_cluster_or_skip("cluster coalescing", 3, 0) else {
        return;
    };
    let config = RedisConfig::new(cluster.url())
        .with_cluster(true)
        .with_namespace("co:")
        .with_operation_timeout(Duration::from_secs(5));
    let b = RedisBackend::connect(config).await.unwrap();
    // Eight keys of one slot (a hash tag) and eight of (most likely) eight others.
    let keys: Vec<String> = (0..8)
        .map(|i| format!("co:v1:job:s1:{{t}}{i}"))
        .chain((0..8).map(|i| format!("co:v1:user:s1:{i}")))
        .collect();
    for k in &keys {
        b.set(k, k.clone().into_bytes().into(), Duration::from_secs(600))
            .await
            .unwrap();
    }
    let seen: Arc<parking_lot::Mutex<Vec<String>>> = Arc::default();
    for port in cluster.primary_ports() {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let monitor = client.get_async_monitor().await.unwrap();
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut lines = monitor.into_on_message::<String>();
            while let Some(line) = lines.next().await {
                seen.lock().push(line);
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = futures::future::join_all(keys.iter().map(|k| b.get(k))).await;
    for (k, v) in keys.iter().zip(got) {
        assert_eq!(v.unwrap().as_deref(), Some(k.as_bytes()), "{k}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reads: Vec<Vec<String>> = seen
        .lock()
        .iter()
        .filter_map(|line| {
            let words: Vec<String> = line
                .split('"')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            let command = words.first()?.to_ascii_uppercase();
            (command == "MGET" || command == "GET").then(|| words[1..].to_vec())
        })
        .collect();
    eprintln!("{reads:?}");
    let read_keys: usize = reads.iter().map(Vec::len).sum();
    assert_eq!(read_keys, keys.len(), "each key read once: {reads:?}");
    for group in &reads {
        let slot = redis::cluster_routing::Slot::for_key(&group[0]);
        assert!(
            group
                .iter()
                .all(|k| redis::cluster_routing::Slot::for_key(k) == slot),
            "one slot per MGET: {group:?}"
        );
    }
    assert!(
        reads.iter().any(|g| g.len() == 8 && g[0].contains("{t}")),
        "the tagged keys share one MGET: {reads:?}"
    );
}
