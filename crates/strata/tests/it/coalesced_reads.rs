//! L2 hits issued together through the facade share one `MGET` (`backend.coalesce_reads`, on by
//! default): one round trip for the lot, and an entry that does not decode is a miss of its
//! own while the others are served.
//!
//! A current-thread runtime: the reads joined in one task are all issued before the backend's
//! sending task runs, so the batch is deterministic.

use crate::common;

use futures::future::join_all;
use strata::{CacheBuilder, CacheConfig};
use strata_testkit::RoundTripProxy;

const N: u64 = 16;

async fn mget_and_get_calls(conn: &mut redis::aio::MultiplexedConnection) -> (u64, u64) {
    let text: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    let calls = |command: &str| {
        let prefix = format!("cmdstat_{command}:calls=");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap())
    };
    (calls("mget"), calls("get"))
}

#[tokio::test]
async fn hits_issued_together_cost_one_round_trip_and_a_broken_entry_spoils_only_itself() {
    let Some(server) = strata_testkit::redis_or_skip("coalesced facade reads") else {
        return;
    };
    let proxy = RoundTripProxy::start(server.port()).await.unwrap();
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"co\"\ncoherence = \"bus\"\njitter = 0.0\nmetrics = false\n\
         [l1]\nenabled = false\n[backend]\nurl = \"{}\"",
        proxy.url()
    ))
    .unwrap();
    // The bus connects to the server itself: its heartbeats are not reads.
    let bus =
        strata::RedisBus::new(&strata::RedisConfig::new(proxy.target_url()).with_namespace("co:"))
            .unwrap();
    let cache = CacheBuilder::from_config(config)
        .bus(std::sync::Arc::new(bus))
        .build()
        .await
        .unwrap();
    common::ready(&[&cache]).await;
    let users = cache.kind::<String>("user").unwrap();
    for i in 0..N {
        users.set(i, format!("user {i}")).await.unwrap();
    }
    // The kind's counter is known: a hit is one read.
    assert!(users.get(0).await.unwrap().is_some());
    let mut admin = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut admin)
        .await
        .unwrap();
    proxy.reset();
    let got = join_all((0..N).map(|i| users.get(i))).await;
    for (i, v) in got.into_iter().enumerate() {
        assert_eq!(
            v.unwrap().as_deref(),
            Some(&format!("user {i}")),
            "user {i}"
        );
    }
    assert_eq!(proxy.round_trips(), 1, "{N} hits in one round trip");
    assert_eq!(mget_and_get_calls(&mut admin).await, (1, 0));

    // User 3's entry is broken: a miss of its own (counted, deleted), the others hits.
    let broken = users.key(3).unwrap();
    let _: () = redis::cmd("SET")
        .arg(broken.as_str())
        .arg(&[0xC1u8, b'S', 9, 0, 1, 2][..])
        .query_async(&mut admin)
        .await
        .unwrap();
    let before = cache.admin().stats().kinds["user"].l2.hits;
    proxy.reset();
    let got = join_all((0..N).map(|i| users.get(i))).await;
    for (i, v) in got.into_iter().enumerate() {
        let want = (i != 3).then(|| format!("user {i}"));
        assert_eq!(v.unwrap().as_deref().cloned(), want, "user {i}");
    }
    let stats = cache.admin().stats();
    assert_eq!(stats.kinds["user"].l2.hits - before, N - 1);
    assert_eq!(stats.kinds["user"].l2.errors.get("codec"), Some(&1));
    // The batch, then the delete of the broken entry (only if unchanged).
    assert_eq!(proxy.round_trips(), 2);
    let exists: bool = redis::cmd("EXISTS")
        .arg(broken.as_str())
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(!exists, "the broken entry was deleted");
}
