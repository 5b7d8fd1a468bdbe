//! Server faults under concurrent load: Redis killed (-9) and restarted, and paused with
//! CLIENT PAUSE, while 16 tasks read and write. No call panics or errors (the loader answers),
//! every call ends within its timeouts, the circuit opens, and the cache talks to the restarted
//! server again within a second.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use strata::{BreakerState, Cache, CacheBuilder};

const OP_TIMEOUT: Duration = Duration::from_millis(200);
/// A get_or_load makes at most 4 backend calls (lookup, lease, re-check, store), each bounded;
/// a set one change, bounded by its change timeout (2 x OP_TIMEOUT here).
const CALL_BOUND: Duration = Duration::from_millis(4 * 200 + 400);

struct Load {
    stop: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
    slowest_us: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn start_load(cache: &Cache) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let slowest_us = Arc::new(AtomicU64::new(0));
    let tasks = (0..16u32)
        .map(|t| {
            let (cache, stop, calls, slowest) = (
                cache.clone(),
                stop.clone(),
                calls.clone(),
                slowest_us.clone(),
            );
            tokio::spawn(async move {
                let items = cache.kind::<u32>("item").unwrap();
                let mut i = t;
                while !stop.load(Ordering::Acquire) {
                    i = i.wrapping_mul(31).wrapping_add(7) % 200;
                    let start = Instant::now();
                    if i % 5 == 0 {
                        // Writes may fail while the server is down: that is reported, not a panic.
                        let _ = items.set(i, i).await;
                    } else {
                        let v = items
                            .get_or_load(i, || async move { Ok::<_, String>(i) })
                            .await
                            .expect("the loader answers whatever Redis does");
                        assert_eq!(*v, i);
                    }
                    let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                    slowest.fetch_max(us, Ordering::Relaxed);
                    calls.fetch_add(1, Ordering::Relaxed);
                    // L1 hits complete without suspending: let the timers and I/O run (a real
                    // server's requests arrive through the network anyway).
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    Load {
        stop,
        calls,
        slowest_us,
        tasks,
    }
}

impl Load {
    async fn finish(self) -> (u64, Duration) {
        self.stop.store(true, Ordering::Release);
        for t in self.tasks {
            t.await.expect("no task panicked");
        }
        (
            self.calls.load(Ordering::Relaxed),
            Duration::from_micros(self.slowest_us.load(Ordering::Relaxed)),
        )
    }
}

/// Whether a write of item `id` reaches the backend now (writes fail open, so `set` alone
/// cannot tell: the entry is read back from the backend itself).
async fn reaches_the_backend(cache: &Cache, id: u32) -> bool {
    let items = cache.kind::<u32>("item").unwrap();
    let _ = items.set(id, 1).await;
    let key = items.key(id).unwrap();
    matches!(cache.admin().backend().get(&key).await, Ok(Some(_)))
}

async fn cache_on(server: &strata_testkit::RedisServer) -> Cache {
    let (cache, _) = common::redis_cache(
        server,
        CacheBuilder::new()
            .operation_timeout(OP_TIMEOUT)
            .change_timeout(2 * OP_TIMEOUT)
            .breaker(5, Duration::from_millis(300)),
    )
    .await;
    cache
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_load_then_restart() {
    let Some(mut server) = strata_testkit::redis_or_skip("kill -9 under load") else {
        return;
    };
    let cache = cache_on(&server).await;
    let load = start_load(&cache);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.stop(); // SIGKILL
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(cache.admin().breaker_openings() >= 1, "the circuit opened");
    let errors: u64 = cache.admin().stats().kinds["item"].l2.errors.values().sum();
    assert!(errors > 0, "failures are counted");
    server.restart().unwrap();
    let restarted = Instant::now();
    // Back within a second: a write reaches the new server.
    let mut probe = 10_000; // beyond the load's ids: a fresh key per attempt
    loop {
        probe += 1;
        if reaches_the_backend(&cache, probe).await {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(1),
            "not reconnected within 1 s of the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reconnect = restarted.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (calls, slowest) = load.finish().await;
    assert!(calls > 100, "the load ran ({calls} calls)");
    assert!(
        slowest <= CALL_BOUND,
        "every call ended within its timeouts (slowest {slowest:?})"
    );
    assert_eq!(
        cache.admin().breaker_state(),
        BreakerState::Closed,
        "the circuit closed again"
    );
    eprintln!(
        "kill -9: {calls} calls, slowest {slowest:?}, reconnected {reconnect:?} after restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_pause_under_load_times_out_and_opens_the_circuit() {
    let Some(server) = strata_testkit::redis_or_skip("CLIENT PAUSE under load") else {
        return;
    };
    let cache = cache_on(&server).await;
    let load = start_load(&cache);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = redis::Client::open(server.url()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let openings = cache.admin().breaker_openings();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let (calls, slowest) = load.finish().await;
    let stats = cache.admin().stats();
    let timeouts = stats.kinds["item"]
        .l2
        .errors
        .get("timeout")
        .copied()
        .unwrap_or(0);
    assert!(
        timeouts > 0,
        "paused calls time out: {:?}",
        stats.kinds["item"].l2.errors
    );
    assert!(
        cache.admin().breaker_openings() > openings,
        "the circuit opened"
    );
    assert!(
        slowest <= CALL_BOUND,
        "every call ended within its timeouts (slowest {slowest:?})"
    );
    // After the pause the cache works again.
    let start = Instant::now();
    let mut probe = 10_000; // beyond the load's ids: a fresh key per attempt
    while !reaches_the_backend(&cache, probe).await {
        probe += 1;
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "recovered after the pause"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("CLIENT PAUSE: {calls} calls, slowest {slowest:?}, {timeouts} timeouts");
}
