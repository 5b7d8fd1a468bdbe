//! Redis round trips per operation, counted by the testkit's proxy on a spawned server: the
//! budget each path may spend (upper bounds, so a change cannot add a round trip unnoticed).
//!
//! Every instance talks to Redis through the proxy (data and bus connections), waits until its
//! bus is subscribed and its connection is up, and has read the kind once unless the case is
//! about a fresh instance.

mod common;

use std::time::Duration;

use strata::{Cache, CacheBuilder, CacheConfig, LoadOptions, Rules, Target};
use strata_testkit::{RedisServer, RoundTripProxy};

/// A cache on Redis through `proxy`, ready: connected and subscribed to the bus.
async fn instance(proxy: &RoundTripProxy) -> Cache {
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"rt\"\njitter = 0.0\nmetrics = false\n[backend]\nurl = \"{}\"",
        proxy.url()
    ))
    .unwrap();
    let cache = CacheBuilder::from_config(config).build().await.unwrap();
    common::eventually("the bus subscribed", async || cache.bus_stats().resets >= 1).await;
    cache.backend().ping().await.unwrap();
    // The start-up probe (INFO) runs in the background: let it finish before counting.
    tokio::time::sleep(Duration::from_millis(100)).await;
    cache
}

/// Round trips `op` made.
async fn count(proxy: &RoundTripProxy, op: impl AsyncFnOnce()) -> u64 {
    proxy.reset();
    op().await;
    proxy.round_trips()
}

async fn load(id: u64) -> Result<String, std::io::Error> {
    Ok(format!("value {id}"))
}

struct Fixture {
    _server: RedisServer,
    proxy: RoundTripProxy,
}

async fn fixture(test: &str) -> Option<Fixture> {
    let server = strata_testkit::redis_or_skip(test)?;
    let proxy = RoundTripProxy::start(server.port()).await.unwrap();
    Some(Fixture {
        _server: server,
        proxy,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_loads_stay_within_their_round_trips() {
    let Some(fx) = fixture("round trips of reads").await else {
        return;
    };
    let proxy = &fx.proxy;
    let writer = instance(proxy).await;
    let reader = instance(proxy).await;
    let w = writer.kind::<String>("item").unwrap();
    let r = reader.kind::<String>("item").unwrap();
    // Both instances know the kind's counters.
    w.get_or_load(0, || load(0)).await.unwrap();
    r.get(0).await.unwrap();

    w.set(1, "one".into()).await.unwrap();
    // The write's bus message reaches the reader before it reads (else it would drop the
    // value the read puts in L1).
    common::eventually("the reader applies the write", async || {
        reader.bus_stats().applied >= 1
    })
    .await;
    let l2_hit = count(proxy, async || assert!(r.get(1).await.unwrap().is_some())).await;
    let l1_hit = count(proxy, async || assert!(r.get(1).await.unwrap().is_some())).await;
    let cold_miss = count(proxy, async || {
        r.get_or_load(2, || load(2)).await.unwrap();
    })
    .await;
    let tagged = LoadOptions::new().tags(["owner:7"]);
    let cold_tagged_miss = count(proxy, async || {
        r.get_or_load_with(3, &tagged, || load(3)).await.unwrap();
    })
    .await;

    let fresh = instance(proxy).await;
    let f = fresh.kind::<String>("item").unwrap();
    let fresh_hit = count(proxy, async || assert!(f.get(1).await.unwrap().is_some())).await;
    let fresh = instance(proxy).await;
    let f = fresh.kind::<String>("item").unwrap();
    let fresh_miss = count(proxy, async || {
        f.get_or_load(4, || load(4)).await.unwrap();
    })
    .await;

    eprintln!(
        "l1 hit {l1_hit}, l2 hit {l2_hit}, cold miss {cold_miss}, cold tagged miss \
         {cold_tagged_miss}, fresh-instance hit {fresh_hit}, fresh-instance miss {fresh_miss}"
    );
    assert_eq!(l1_hit, 0);
    assert!(l2_hit <= 1, "L2 hit: {l2_hit} round trips");
    assert!(cold_miss <= 4, "cold miss: {cold_miss} round trips");
    assert!(
        cold_tagged_miss <= 5,
        "cold tagged miss: {cold_tagged_miss}"
    );
    assert!(fresh_hit <= 2, "fresh-instance hit: {fresh_hit}");
    assert!(fresh_miss <= 5, "fresh-instance miss: {fresh_miss}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_through_rules_stay_within_their_round_trips() {
    let Some(fx) = fixture("round trips of changes").await else {
        return;
    };
    let proxy = &fx.proxy;
    let cache = instance(proxy).await;
    let rules = Rules::new()
        .on("profile", |id| {
            vec![
                Target::key("user", id),
                Target::key("profile", id),
                Target::key("whoami", id),
                Target::tag(format!("user:{id}")),
            ]
        })
        .on("logout", |id| vec![Target::key("whoami", id)])
        .on("job", |id| {
            vec![Target::key("job", id), Target::kind("listing")]
        });
    for kind in ["user", "profile", "whoami", "job"] {
        cache
            .kind::<String>(kind)
            .unwrap()
            .set(1, "v".into())
            .await
            .unwrap();
    }
    let profile = count(proxy, async || {
        cache.invalidate(&rules, "profile", 1).await.unwrap();
    })
    .await;
    let logout = count(proxy, async || {
        cache.invalidate(&rules, "logout", 1).await.unwrap();
    })
    .await;
    let job = count(proxy, async || {
        cache.invalidate(&rules, "job", 1).await.unwrap();
    })
    .await;
    let set = count(proxy, async || {
        cache
            .kind::<String>("user")
            .unwrap()
            .set(2, "v".into())
            .await
            .unwrap();
    })
    .await;
    eprintln!("profile change {profile}, logout {logout}, job change {job}, set {set}");
    assert!(profile <= 10, "profile change: {profile}");
    assert!(logout <= 2, "logout: {logout}");
    assert!(job <= 4, "job change: {job}");
    assert!(set <= 2, "set: {set}");
}
