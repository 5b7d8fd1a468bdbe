//! A randomized history: two instances with their own L1s share a Redis; writers change a
//! "database" and invalidate through either instance while readers load through both — one key
//! at a time, composites whose loads nest the load of their item (a declared relation: read
//! ahead, stored in one batch), and batches of keys through one loader call. After the writers
//! stop and in-flight work settles, every cached value equals the database. The routed variants
//! keep the items on a second server (`[kinds.item] backend`): a composite and its item then
//! live on two backends, and every change of an item is made on the second one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use strata::{Cache, CacheBuilder, CacheConfig};

const KEYS: u32 = 16;
const WRITERS: u64 = 2;
const WRITES_EACH: usize = 1000;
const READERS: u64 = 4;
const READS_EACH: usize = 2000;

async fn instance(url: &str, coherence: &str, routed: Option<&str>) -> Cache {
    let route = match routed {
        Some(second) => {
            format!("[backends.second]\nurl = \"{second}\"\n[kinds.item]\nbackend = \"second\"\n")
        }
        None => String::new(),
    };
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"hist\"\ncoherence = \"{coherence}\"\nmetrics = false\njitter = 0.0\noperation_timeout = \"2s\"\n[backend]\nurl = \"{url}\"\n\
         {route}[kinds.item.l1]\nmax_entries = 10000\n[kinds.composite.l1]\nmax_entries = 10000\n"
    ))
    .unwrap();
    // Each kind has an L1 partition of its own (issue 25): invalidations and coherence reach it,
    // and a composite's relation reads its items ahead across partitions.
    CacheBuilder::from_config(config)
        .declare_kind("item")
        .declare_kind("composite")
        .build()
        .await
        .unwrap()
}

type Db = Arc<Mutex<HashMap<u32, u64>>>;

/// The database's value of `k`, read while writers may overtake the load now and then.
async fn source(db: &Db, k: u32, pause: u64) -> u64 {
    let v = db.lock()[&k];
    if pause > 0 {
        tokio::time::sleep(Duration::from_micros(200 * pause)).await;
    }
    v
}

/// What the composite of an item holds.
fn composite_of(item: u64) -> u64 {
    item * 1000 + 7
}

/// One item through `get_or_load`.
async fn item(via: &Cache, db: &Db, k: u32, pause: u64) -> Arc<u64> {
    let db = db.clone();
    via.kind::<u64>("item")
        .unwrap()
        .get_or_load(
            k,
            || async move { Ok::<_, String>(source(&db, k, pause).await) },
        )
        .await
        .unwrap()
}

/// The composite of `k`: its load nests the load of item `k` (a declared relation), and reads
/// its own value from the database under its own lease.
async fn composite(via: &Cache, db: &Db, k: u32, pause: u64) {
    via.kind::<u64>("composite")
        .unwrap()
        .get_or_load(k, || async {
            item(via, db, k, 0).await;
            Ok::<_, String>(composite_of(source(db, k, pause).await))
        })
        .await
        .unwrap();
}

/// Items `ks` through one batch loader call.
async fn batch(via: &Cache, db: &Db, ks: &[u32], pause: u64) {
    let found = via
        .kind::<u64>("item")
        .unwrap()
        .get_many_or_load(ks, |ids: Vec<u32>| async move {
            let mut out = HashMap::new();
            for id in ids {
                out.insert(id, source(db, id, 0).await);
            }
            source(db, 0, pause).await;
            Ok::<_, String>(out)
        })
        .await
        .unwrap();
    assert!(found.iter().all(Option::is_some));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_stale_entries_after_a_random_history() {
    history("bus", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_stale_entries_after_a_random_history_with_tracking() {
    history("tracking", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_stale_entries_after_a_random_history_with_a_routed_kind() {
    history("bus", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_stale_entries_after_a_random_history_with_a_routed_kind_and_tracking() {
    history("tracking", true).await;
}

async fn history(coherence: &str, routed: bool) {
    let Some(server) = strata_testkit::redis_or_skip("randomized history") else {
        return;
    };
    let second = match routed {
        true => match strata_testkit::redis_or_skip("randomized history (second server)") {
            Some(second) => Some(second),
            None => return,
        },
        false => None,
    };
    let second_url = second.as_ref().map(strata_testkit::RedisServer::url);
    let caches = [
        instance(&server.url(), coherence, second_url.as_deref()).await,
        instance(&server.url(), coherence, second_url.as_deref()).await,
    ];
    // Both coherence channels up.
    for cache in &caches {
        tokio::time::timeout(Duration::from_secs(5), cache.ready())
            .await
            .expect("coherence channels up within 5 s");
        assert_eq!(cache.admin().coherence().mode.as_str(), coherence);
        if coherence == "bus" {
            assert!(cache.admin().bus_stats().subscribed && cache.admin().bus_stats().resets >= 1);
        }
    }
    for cache in &caches {
        let items = cache.kind::<u64>("item").unwrap();
        cache.kind::<u64>("composite").unwrap().needs(&items);
    }
    let db: Db = Arc::new(Mutex::new((0..KEYS).map(|k| (k, 0)).collect()));

    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (db, caches) = (db.clone(), caches.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = SmallRng::seed_from_u64(1000 + w);
            for _ in 0..WRITES_EACH {
                let k = rng.random_range(0..KEYS);
                *db.lock().get_mut(&k).unwrap() += 1;
                let via = &caches[rng.random_range(0..2)];
                // The item and the composite made from it, as invalidation rules would.
                via.kind::<u64>("item").unwrap().delete(k).await.unwrap();
                via.kind::<u64>("composite")
                    .unwrap()
                    .delete(k)
                    .await
                    .unwrap();
                if rng.random_bool(0.3) {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for r in 0..READERS {
        let (db, caches) = (db.clone(), caches.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = SmallRng::seed_from_u64(2000 + r);
            for _ in 0..READS_EACH {
                let k = rng.random_range(0..KEYS);
                let via = &caches[rng.random_range(0..2)];
                let pause = rng.random_range(0..3u64);
                match rng.random_range(0..4) {
                    0 => composite(via, &db, k, pause).await,
                    1 => {
                        let ks: Vec<u32> = (0..3).map(|_| rng.random_range(0..KEYS)).collect();
                        batch(via, &db, &ks, pause).await;
                    }
                    _ => {
                        item(via, &db, k, pause).await;
                    }
                }
            }
        }));
    }
    for t in futures::future::join_all(tasks).await {
        t.unwrap();
    }
    // The writers may have finished last and deleted every entry: one composite and its item,
    // loaded now through each instance, are in L2 for the reads below to put in L1 (the
    // partition check).
    for c in &caches {
        composite(c, &db, 0, 0).await;
        item(c, &db, 0, 0).await;
    }
    // Let the last bus messages arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut stale = Vec::new();
    for (i, cache) in caches.iter().enumerate() {
        let composites = cache.kind::<u64>("composite").unwrap();
        for k in 0..KEYS {
            if let Some(v) = composites.get(k).await.unwrap() {
                let truth = composite_of(db.lock()[&k]);
                if *v != truth {
                    stale.push(format!(
                        "instance {i} composite {k}: cached {v}, database {truth}"
                    ));
                }
            }
        }
        let items = cache.kind::<u64>("item").unwrap();
        for k in 0..KEYS {
            if let Some(v) = items.get(k).await.unwrap() {
                let truth = db.lock()[&k];
                if *v != truth {
                    let key = items.key(k).unwrap();
                    let backend = match routed {
                        true => cache.admin().named_backend("second").unwrap(),
                        false => cache.admin().backend(),
                    };
                    let l2 = match backend.get(&key).await.unwrap() {
                        Some(b) => format!(
                            "{:?}",
                            strata::Codec::decode::<u64>(
                                &strata::MsgPackCodec::default(),
                                &b,
                                None
                            )
                            .map(|e| e.value)
                        ),
                        None => "absent".into(),
                    };
                    let other_l1 = caches[1 - i]
                        .admin()
                        .l1_of("item")
                        .unwrap()
                        .get(&key)
                        .await
                        .is_some();
                    stale.push(format!(
                        "  L2 {l2}, other instance has it in L1: {other_l1}"
                    ));
                    stale.push(format!(
                        "instance {i} key {k}: cached {v}, database {truth}"
                    ));
                }
            }
        }
    }
    let total_ops = WRITERS as usize * WRITES_EACH + READERS as usize * READS_EACH;
    assert!(total_ops >= 10_000);
    for c in &caches {
        let (own, pool) = (c.admin().l1_of("item").unwrap(), c.admin().l1().unwrap());
        let composites = c.admin().l1_of("composite").unwrap();
        assert!(
            own.usage().await.entries > 0
                && composites.usage().await.entries > 0
                && pool.usage().await.entries == 0,
            "each kind's entries are in its own partition, not in the default pool"
        );
    }
    for (i, c) in caches.iter().enumerate() {
        if !stale.is_empty() {
            let k = &c.admin().stats().kinds["item"];
            stale.push(format!(
                "instance {i}: l2 errors {:?}, bus {:?}, coherence {:?}, loads {}",
                k.l2.errors,
                c.admin().bus_stats(),
                c.admin().coherence(),
                k.loads
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "{} stale entries after {total_ops} operations:\n{}",
        stale.len(),
        stale.join("\n")
    );
    if routed {
        // The items live on the second server only; the composites on the main one.
        let admin = caches[0].admin();
        let (main, second) = (admin.backend(), admin.named_backend("second").unwrap());
        let (items, composites) = (
            caches[0].kind::<u64>("item").unwrap(),
            caches[0].kind::<u64>("composite").unwrap(),
        );
        let (mut on_second, mut composites_on_main) = (0, 0);
        for k in 0..KEYS {
            let (item, composite) = (items.key(k).unwrap(), composites.key(k).unwrap());
            assert!(main.get(&item).await.unwrap().is_none(), "item {k} on main");
            assert!(
                second.get(&composite).await.unwrap().is_none(),
                "composite {k} on second"
            );
            on_second += u32::from(second.get(&item).await.unwrap().is_some());
            composites_on_main += u32::from(main.get(&composite).await.unwrap().is_some());
        }
        assert!(
            on_second > 0 && composites_on_main > 0,
            "entries on both servers"
        );
    }
    let loads: u64 = caches
        .iter()
        .map(|c| c.admin().stats().kinds["item"].loads)
        .sum();
    assert!(loads > 100, "the history exercised loads ({loads})");
    let composites: u64 = caches
        .iter()
        .map(|c| c.admin().stats().kinds["composite"].loads)
        .sum();
    assert!(
        composites > 20,
        "the history exercised composites ({composites})"
    );
}
