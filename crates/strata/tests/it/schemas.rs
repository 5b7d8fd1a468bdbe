//! An invalidation of (kind, id) reaches the entries of every schema version of the kind,
//! whichever instance calls it: each instance registers the schemas it writes, and the change
//! deletes the entity's entry under every registered one, in the same round trip.

use crate::common;

use std::time::Duration;

use strata::{Cache, CacheBuilder, CacheConfig, Rules, Target};
use strata_testkit::RoundTripProxy;

async fn instance(proxy: &RoundTripProxy) -> Cache {
    let config = CacheConfig::from_toml_str(&format!(
        "prefix = \"sch\"\nmetrics = false\n[backend]\nurl = \"{}\"",
        proxy.url()
    ))
    .unwrap();
    let cache = CacheBuilder::from_config(config).build().await.unwrap();
    common::ready(&[&cache]).await;
    cache.admin().backend().ping().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    cache
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_never_used_a_schema_still_invalidates_it() {
    let Some(server) = strata_testkit::redis_or_skip("cross-schema invalidation") else {
        return;
    };
    let proxy = RoundTripProxy::start(server.port()).await.unwrap();
    // The web instance runs the new code (schema 2) and the old one's entries are still live
    // (schema 1), as in a rolling deploy.
    let web = instance(&proxy).await;
    let worker = instance(&proxy).await;
    let old = web.kind::<String>("profile").unwrap();
    let new = web.kind::<String>("profile").unwrap().with_schema(2);
    old.set(42, "old shape".into()).await.unwrap();
    new.set(42, "new shape".into()).await.unwrap();
    assert!(
        new.get(42).await.unwrap().is_some(),
        "in web's L1 and in Redis"
    );

    // The worker only ever used schema 1 (here: not even that).
    let rules = Rules::new().on("profile", |id| vec![Target::key("profile", id)]);
    proxy.reset();
    let outcome = worker.invalidate(&rules, "profile", 42).await.unwrap();
    let round_trips = proxy.round_trips();
    assert_eq!(outcome.deleted, 2, "both schemas' entries: {outcome:?}");
    assert!(!outcome.deferred);
    assert_eq!(
        round_trips, 1,
        "the registry is read in the same round trip"
    );

    for key in [old.key(42).unwrap(), new.key(42).unwrap()] {
        assert_eq!(
            worker.admin().backend().get(&key).await.unwrap(),
            None,
            "{key}"
        );
    }
    common::eventually("web drops its schema-2 copy", async || {
        new.get(42).await.unwrap().is_none()
    })
    .await;
    assert!(old.get(42).await.unwrap().is_none());
}

#[tokio::test]
async fn the_memory_backend_reaches_every_schema_too() {
    let (a, backend) = common::memory_cache().await;
    let b = common::l1_less_reader("t", backend).await;
    let v2 = a.kind::<u32>("user").unwrap().with_schema(2);
    v2.set(7, 7).await.unwrap();
    let rules = Rules::new().on("user", |id| vec![Target::key("user", id)]);
    assert_eq!(b.invalidate(&rules, "user", 7).await.unwrap().deleted, 1);
    assert_eq!(
        b.admin().backend().get(&v2.key(7).unwrap()).await.unwrap(),
        None
    );
}
