//! Warming through a kind's owned loader, and refreshing before anyone waits: background
//! refresh (refresh-ahead, stale-while-revalidate), XFetch, one refresh across instances.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use strata::{
    Backend, Cache, CacheBuilder, CacheConfig, Clock, Error, MemoryBackend, MemoryConfig,
    WarmOptions,
};
use tokio::sync::Semaphore;

/// A cache on `backend` configured by `toml`, reading `clock`.
async fn cache_on(backend: Arc<dyn Backend>, clock: &Clock, toml: &str) -> Cache {
    let config = CacheConfig::from_toml_str(toml).unwrap();
    CacheBuilder::from_config(config)
        .prefix("t")
        .jitter(0.0)
        .metrics(false)
        .clock(clock.clone())
        .backend(backend)
        .build()
        .await
        .unwrap()
}

fn memory() -> Arc<dyn Backend> {
    Arc::new(MemoryBackend::new(MemoryConfig::default().with_namespace("t:")).unwrap())
}

/// A loader whose calls wait for a permit each (the test releases them), counted.
#[derive(Clone)]
struct Gated {
    calls: Arc<AtomicU64>,
    gate: Arc<Semaphore>,
}

impl Default for Gated {
    fn default() -> Self {
        Self {
            calls: Arc::default(),
            gate: Arc::new(Semaphore::new(0)),
        }
    }
}

impl Gated {
    fn register(&self, cache: &Cache, kind: &str) {
        let me = self.clone();
        cache
            .kind::<u64>(kind)
            .unwrap()
            .register_loader(move |_id: String| {
                let me = me.clone();
                async move {
                    let n = me.calls.fetch_add(1, Ordering::SeqCst) + 1;
                    me.gate.acquire().await.unwrap().forget();
                    Ok::<_, std::io::Error>(Some(100 + n))
                }
            });
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn warming_loads_each_id_once_with_bounded_concurrency() {
    let (cache, _) = common::memory_cache().await;
    let jobs = cache.kind::<u64>("job").unwrap();
    let ids: Vec<u64> = (0..40).chain(0..10).collect();
    let err = jobs
        .warm(&ids, &WarmOptions::new(), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoLoader { .. }), "{err}");

    let per_id: Arc<Vec<AtomicU64>> = Arc::new((0..40).map(|_| AtomicU64::new(0)).collect());
    let (running, most) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (p, r, m) = (per_id.clone(), running.clone(), most.clone());
    jobs.register_loader(move |id: String| {
        let (p, r, m) = (p.clone(), r.clone(), m.clone());
        async move {
            let id: u64 = id.parse()?;
            p[id as usize].fetch_add(1, Ordering::SeqCst);
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(2)).await;
            r.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, std::num::ParseIntError>(Some(id * 10))
        }
    });
    jobs.set(3, 30).await.unwrap();
    let mut seen = Vec::new();
    let options = WarmOptions::new().concurrency(4);
    let done = jobs
        .warm(&ids, &options, |p| seen.push(p.done))
        .await
        .unwrap();
    assert_eq!(
        (done.total, done.cached, done.loaded, done.failed),
        (40, 1, 39, 0)
    );
    assert_eq!(seen, (1..=40).collect::<Vec<u64>>());
    for (id, calls) in per_id.iter().enumerate() {
        let expected = u64::from(id != 3);
        assert_eq!(calls.load(Ordering::SeqCst), expected, "loads of id {id}");
    }
    let most = most.load(Ordering::SeqCst);
    assert!(
        (2..=4).contains(&most),
        "{most} loads at once with a bound of 4"
    );
    // Warm now: every id is served from L1, and a second warm-up loads nothing.
    assert_eq!(*jobs.get(17).await.unwrap().unwrap(), 170);
    let again = jobs.warm(&ids, &options, |_| {}).await.unwrap();
    assert_eq!((again.cached, again.loaded), (40, 0));
    let loads: u64 = per_id.iter().map(|c| c.load(Ordering::SeqCst)).sum();
    assert_eq!(loads, 39);
}

/// Callers of a key being refreshed in the background, each of whom must be answered while
/// the refresh's loader is held at its gate (a caller that waited for it would time out).
async fn callers(cache: &Cache, n: usize, foreground: &AtomicU64) -> Vec<u64> {
    let quotes = cache.kind::<u64>("quote").unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let call = quotes.get_or_load(1, || async {
            foreground.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(1)
        });
        let v = tokio::time::timeout(Duration::from_secs(5), call)
            .await
            .expect("a caller waited for the refresh")
            .unwrap();
        out.push(*v);
    }
    out
}

#[tokio::test]
async fn with_a_slow_loader_no_caller_waits_while_the_value_is_refreshed() {
    let clock = Clock::manual();
    let toml = "[kinds.quote]\nttl = \"10s\"\nbackground_refresh = true\nrefresh_ahead = 0.5\n";
    let cache = cache_on(memory(), &clock, toml).await;
    let loader = Gated::default();
    loader.register(&cache, "quote");
    let foreground = AtomicU64::new(0);
    assert_eq!(callers(&cache, 1, &foreground).await, [1]);
    let stats = || cache.admin().stats().kinds["quote"].clone();
    // Three refreshes: twice due by refresh-ahead (6 s of 10), once stale (past expiry).
    for (round, advance) in [(1u64, 6), (2, 6), (3, 12)] {
        clock.advance(Duration::from_secs(advance));
        let before = if round == 1 { 1 } else { 100 + round - 1 };
        assert_eq!(callers(&cache, 10, &foreground).await, vec![before; 10]);
        common::eventually("the refresh started", async || loader.calls() == round).await;
        tokio::task::yield_now().await;
        assert_eq!(
            loader.calls(),
            round,
            "one refresh started in round {round}"
        );
        // While its loader is held at the gate, callers are still answered at once.
        assert_eq!(callers(&cache, 5, &foreground).await, vec![before; 5]);
        assert_eq!(loader.calls(), round);
        loader.gate.add_permits(1);
        common::eventually("the refresh stored its value", async || {
            stats().refreshes == round
        })
        .await;
        assert_eq!(callers(&cache, 1, &foreground).await, [100 + round]);
    }
    let s = stats();
    assert_eq!(
        foreground.load(Ordering::SeqCst),
        1,
        "only the first load made a caller wait"
    );
    assert_eq!(
        (s.misses, s.loads, s.refreshes, s.refresh_errors),
        (1, 4, 3, 0)
    );
    assert_eq!(
        s.stale_hits, 15,
        "the stale round served its 15 callers the old value"
    );
}

#[tokio::test]
async fn a_failed_background_refresh_is_counted_and_never_reaches_a_reader() {
    let clock = Clock::manual();
    let toml = "[kinds.quote]\nttl = \"10s\"\nbackground_refresh = true\nrefresh_ahead = 0.5\n";
    let cache = cache_on(memory(), &clock, toml).await;
    let quotes = cache.kind::<u64>("quote").unwrap();
    quotes.register_loader(|_id: String| async {
        Err::<Option<u64>, _>(std::io::Error::other("db down"))
    });
    quotes.set(1, 7).await.unwrap();
    clock.advance(Duration::from_secs(6));
    let foreground = AtomicU64::new(0);
    assert_eq!(callers(&cache, 3, &foreground).await, [7, 7, 7]);
    let stats = || cache.admin().stats().kinds["quote"].clone();
    common::eventually("the refresh failed", async || stats().refresh_errors == 1).await;
    assert_eq!(callers(&cache, 1, &foreground).await, [7]);
    assert_eq!(foreground.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn xfetch_refreshes_near_expiry_and_not_long_before_on_a_manual_clock() {
    let clock = Clock::manual();
    let toml = "[kinds.quote]\nttl = \"100s\"\nbackground_refresh = true\nxfetch_beta = 1.0\n";
    let cache = cache_on(memory(), &clock, toml).await;
    let quotes = cache.kind::<u64>("quote").unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let (c, ck) = (calls.clone(), clock.clone());
    quotes.register_loader(move |_id: String| {
        let (c, ck) = (c.clone(), ck.clone());
        async move {
            // Each load takes 1 s on the manual clock: δ = 1 s.
            ck.advance(Duration::from_secs(1));
            Ok::<_, std::io::Error>(Some(c.fetch_add(1, Ordering::SeqCst) + 1))
        }
    });
    let first = quotes.get_or_load(1, || async {
        clock.advance(Duration::from_secs(1));
        Ok::<_, std::io::Error>(0)
    });
    assert_eq!(*first.await.unwrap(), 0);
    let written = clock.now_ms();
    // 30 s before expiry a reader refreshes with probability e^-30: 500 readers, none.
    clock.set_ms(written + 70_000);
    for _ in 0..500 {
        assert_eq!(
            *quotes
                .get_or_load(1, || async { Ok::<_, std::io::Error>(0) })
                .await
                .unwrap(),
            0
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // 1 ms before expiry, with probability e^-0.001: the first reader refreshes.
    clock.set_ms(written + 99_999);
    quotes
        .get_or_load(1, || async { Ok::<_, std::io::Error>(0) })
        .await
        .unwrap();
    common::eventually("the early refresh stored", async || {
        cache.admin().stats().kinds["quote"].refreshes == 1
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refresh_across_two_instances_loads_once() {
    let (clock, backend) = (Clock::manual(), memory());
    let toml = "[kinds.quote]\nttl = \"10s\"\nbackground_refresh = true\nrefresh_ahead = 0.5\n";
    let a = cache_on(backend.clone(), &clock, toml).await;
    let b = cache_on(backend, &clock, toml).await;
    let loader = Gated::default();
    loader.register(&a, "quote");
    loader.register(&b, "quote");
    let foreground = AtomicU64::new(0);
    assert_eq!(callers(&a, 1, &foreground).await, [1]);
    assert_eq!(
        callers(&b, 1, &foreground).await,
        [1],
        "b read a's value from L2"
    );
    clock.advance(Duration::from_secs(6));
    // a's refresh takes the key's lease and waits at the gate.
    assert_eq!(callers(&a, 3, &foreground).await, [1, 1, 1]);
    common::eventually("a's refresh is loading", async || loader.calls() == 1).await;
    // b's readers find the value due too: b's refresh finds the lease held and loads nothing.
    assert_eq!(callers(&b, 3, &foreground).await, [1, 1, 1]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    loader.gate.add_permits(10);
    common::eventually("a's refresh stored", async || {
        a.admin().stats().kinds["quote"].refreshes == 1
    })
    .await;
    // b now reads the refreshed value from L2 (its own refresh, if it came late, finds it
    // newer there and loads nothing).
    b.admin().l1().unwrap().clear();
    assert_eq!(callers(&b, 1, &foreground).await, [101]);
    assert_eq!(loader.calls(), 1, "one refresh across the two instances");
    assert_eq!(b.admin().stats().kinds["quote"].refreshes, 0);
    assert_eq!(foreground.load(Ordering::SeqCst), 1);
}
