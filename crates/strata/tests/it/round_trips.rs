//! Redis round trips per operation, counted by the testkit's proxy on a spawned server: the
//! budget of docs/architecture.md (plain cache-aside costs 1 for a hit, 2 for a miss).
//!
//! Every instance's data connection goes through the proxy (its bus connects to the server
//! directly: heartbeats are no operation's round trips), waits until its
//! bus is subscribed and its connection is up (its scripts loaded), and has read the kind once
//! unless the case is about a fresh instance.

use crate::common;

use std::time::Duration;

use strata::{Cache, CacheBuilder, CacheConfig, Clock, LoadOptions, Rules, Target};
use strata_testkit::{RedisServer, RoundTripProxy};

/// A cache on Redis through `proxy`, ready: connected and subscribed to the bus.
async fn instance(proxy: &RoundTripProxy) -> Cache {
    instance_on(proxy, Clock::system()).await
}

/// [`instance`] reading time from `clock`.
async fn instance_on(proxy: &RoundTripProxy, clock: Clock) -> Cache {
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"rt\"\ncoherence = \"bus\"\njitter = 0.0\nmetrics = false\n[backend]\nurl = \"{}\"",
        proxy.url()
    ))
    .unwrap();
    // The bus connects to the server itself: its heartbeats are not an operation's round trips.
    let bus =
        strata::RedisBus::new(&strata::RedisConfig::new(proxy.target_url()).with_namespace("rt:"))
            .unwrap();
    let cache = CacheBuilder::from_config(config)
        .bus(std::sync::Arc::new(bus))
        .clock(clock)
        .build()
        .await
        .unwrap();
    common::ready(&[&cache]).await;
    cache.admin().backend().ping().await.unwrap();
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
        reader.admin().bus_stats().applied >= 1
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
    assert!(cold_miss <= 2, "cold miss: {cold_miss} round trips");
    assert!(
        cold_tagged_miss <= 2,
        "cold tagged miss: {cold_tagged_miss}"
    );
    assert!(fresh_hit <= 2, "fresh-instance hit: {fresh_hit}");
    assert!(fresh_miss <= 3, "fresh-instance miss: {fresh_miss}");
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
    assert!(profile <= 1, "profile change: {profile}");
    assert!(logout <= 1, "logout: {logout}");
    assert!(job <= 1, "job change: {job}");
    assert!(set <= 1, "set: {set}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_entries_cost_a_miss_three_round_trips_at_most() {
    let Some(fx) = fixture("round trips of unusable entries").await else {
        return;
    };
    let proxy = &fx.proxy;
    let writer = instance(proxy).await;
    let clock = Clock::manual();
    let reader = instance_on(proxy, clock.clone()).await;
    let w = writer.kind::<String>("item").unwrap();
    let r = reader
        .kind::<String>("item")
        .unwrap()
        .with_ttl(Duration::from_secs(60));
    r.get(0).await.unwrap();

    // Stale: written for 60 s, read when the reader's clock says 61 s later.
    r.set(1, "one".into()).await.unwrap();
    reader
        .admin()
        .l1()
        .unwrap()
        .remove_str(&r.key(1).unwrap())
        .await;
    clock.advance(Duration::from_secs(61));
    let stale = count(proxy, async || {
        r.get_or_load(1, || load(1)).await.unwrap();
    })
    .await;

    // Written under a kind generation that a clear moved on since.
    // The set's own message is heard first, so that the wait below is for the clear's (a
    // clear heard during the count would cost one more round trip).
    let applied = reader.admin().bus_stats().applied;
    w.set(2, "two".into()).await.unwrap();
    common::eventually("the reader hears of the set", async || {
        reader.admin().bus_stats().applied > applied
    })
    .await;
    let applied = reader.admin().bus_stats().applied;
    writer.clear_kind("item").await.unwrap();
    common::eventually("the reader hears of the clear", async || {
        reader.admin().bus_stats().applied > applied
    })
    .await;
    let old_generation = count(proxy, async || {
        r.get_or_load(2, || load(2)).await.unwrap();
    })
    .await;

    // Bytes that do not decode: the store replaces them (no extra delete).
    let key = r.key(3).unwrap();
    reader
        .admin()
        .backend()
        .set(&key, "garbage".into(), Duration::from_secs(60))
        .await
        .unwrap();
    let undecodable = count(proxy, async || {
        r.get_or_load(3, || load(3)).await.unwrap();
    })
    .await;
    assert_eq!(
        r.get(3).await.unwrap().as_deref().map(String::as_str),
        Some("value 3")
    );

    eprintln!("stale {stale}, old generation {old_generation}, undecodable {undecodable}");
    assert!(stale <= 3, "stale entry: {stale} round trips");
    assert!(
        old_generation <= 3,
        "old generation: {old_generation} round trips"
    );
    assert!(
        undecodable <= 3,
        "undecodable entry: {undecodable} round trips"
    );
}

/// Waiting for another instance's load costs one round trip a poll (every 20 ms): the read that
/// finds the lease held, one per poll until the holder's value is there, and no store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_another_instance_costs_one_round_trip_a_poll() {
    let Some(fx) = fixture("round trips of a wait").await else {
        return;
    };
    let proxy = &fx.proxy;
    let holder = instance(proxy).await;
    let waiter = instance(proxy).await;
    let h = holder.kind::<String>("item").unwrap();
    let w = waiter.kind::<String>("item").unwrap();
    w.get(0).await.unwrap();
    // The holder's value, ready to store as its load would.
    h.set(8, "held".into()).await.unwrap();
    let bytes = holder
        .admin()
        .backend()
        .get(&h.key(8).unwrap())
        .await
        .unwrap()
        .unwrap();
    let key = w.key(7).unwrap();
    let raw = holder.admin().backend().clone();
    let leases = raw.as_leases().unwrap();
    assert!(
        leases
            .acquire_lease(&key, "holder", Duration::from_secs(5))
            .await
            .unwrap()
    );
    let store = async {
        tokio::time::sleep(Duration::from_millis(70)).await;
        leases
            .set_under_lease(&key, "holder", bytes, Duration::from_secs(60))
            .await
            .unwrap()
    };
    let opts = LoadOptions::new().wait_for_other_instances(Duration::from_secs(2));
    proxy.reset();
    let started = std::time::Instant::now();
    let (value, stored) = tokio::join!(
        w.get_or_load_with(7, &opts, || async {
            Ok::<_, std::io::Error>("loaded".to_string())
        }),
        store
    );
    let waited = started.elapsed();
    let round_trips = proxy.round_trips();
    assert!(stored);
    assert_eq!(
        value.unwrap().as_str(),
        "held",
        "the holder's value, not a load"
    );
    assert_eq!(waiter.admin().stats().kinds["item"].loads, 0);
    // The waiter's first read, one read per 20 ms poll, and the holder's store.
    let polls = waited.as_millis() as u64 / 20 + 1;
    eprintln!("wait: {round_trips} round trips over {waited:?}");
    assert!(
        round_trips <= 1 + polls + 1,
        "{round_trips} round trips for at most {polls} polls"
    );
}
