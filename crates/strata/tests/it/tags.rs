//! Tags and O(1) kind clears: entries record their kind's generation and their tags' versions;
//! moving one counter makes them misses in both tiers, on every instance, without a scan; and a
//! load that began before such an invalidation is not cached.

use crate::common;

use std::sync::Arc;

use strata::{
    Backend, Cache, CacheBuilder, ErrorKind, LoadOptions, MemoryBackend, MemoryConfig, Rules,
    Target,
};
use strata_testkit::{Faults, Operation};
use tokio::sync::Notify;

async fn tags_invalidate_their_entries(cache: &Cache) {
    let pages = cache.kind::<String>("page").unwrap();
    pages
        .set_tagged(1, "ada home".into(), &["user:1", "team:9"])
        .await
        .unwrap();
    pages
        .set_tagged(2, "bob home".into(), &["user:2", "team:9"])
        .await
        .unwrap();
    pages.set(3, "untagged".into()).await.unwrap();
    let tagged = LoadOptions::new().tags(["user:1"]);
    let v = pages
        .get_or_load_with(4, &tagged, || async { Ok::<_, String>("ada feed".into()) })
        .await
        .unwrap();
    assert_eq!(*v, "ada feed");
    // Read more than once: a tagged hit found current is served on later hits without a look
    // at its tags until a tag version known here moves.
    for _ in 0..3 {
        for id in 1..=4 {
            assert!(pages.get(id).await.unwrap().is_some(), "page {id} cached");
        }
    }

    cache.invalidate_tag("user:1").await.unwrap();
    assert_eq!(pages.get(1).await.unwrap(), None, "tagged user:1");
    assert_eq!(pages.get(4).await.unwrap(), None, "loaded with tag user:1");
    assert!(pages.get(2).await.unwrap().is_some(), "other tags survive");
    assert!(pages.get(3).await.unwrap().is_some(), "untagged survives");

    // An L1-less reader of the same backend sees the same (the versions live in the backend).
    let reader = common::l1_less_reader("t", cache.admin().backend().clone()).await;
    let rp = reader.kind::<String>("page").unwrap();
    assert_eq!(rp.get(1).await.unwrap(), None);
    assert!(rp.get(2).await.unwrap().is_some());

    cache.invalidate_tag("team:9").await.unwrap();
    assert_eq!(pages.get(2).await.unwrap(), None);
    assert_eq!(rp.get(2).await.unwrap(), None);

    // Re-tagged after the invalidation: a hit again.
    pages
        .set_tagged(1, "ada home v2".into(), &["user:1"])
        .await
        .unwrap();
    assert_eq!(
        pages.get(1).await.unwrap().as_deref().map(String::as_str),
        Some("ada home v2")
    );
    assert_eq!(
        rp.get(1).await.unwrap().as_deref().map(String::as_str),
        Some("ada home v2")
    );

    // Bad input: too many tags is a named error, nothing is stored.
    let many: Vec<String> = (0..65).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let err = pages.set_tagged(9, "x".into(), &refs).await.unwrap_err();
    assert!(err.to_string().contains("65 tags"), "{err}");
    assert_eq!(rp.get(9).await.unwrap(), None);
}

#[tokio::test]
async fn tags_invalidate_their_entries_memory() {
    let (cache, _) = common::memory_cache().await;
    tags_invalidate_their_entries(&cache).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_invalidate_their_entries_redis() {
    let Some(server) = strata_testkit::redis_or_skip("tags on redis") else {
        return;
    };
    let (cache, _) = common::redis_cache(&server, CacheBuilder::new()).await;
    tags_invalidate_their_entries(&cache).await;
}

/// The classic race for tags and kinds: the loader reads, the tag (or kind) is invalidated,
/// the loader finishes; no tier may hold what it read.
async fn overtaken_loads_are_not_cached(cache: &Cache, invalidate: fn(&Cache) -> InvalidateFut) {
    let pages = cache.kind::<String>("feed").unwrap();
    let (read_done, resume) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let load = {
        let (pages, read_done, resume) = (pages.clone(), read_done.clone(), resume.clone());
        tokio::spawn(async move {
            let opts = LoadOptions::new().tags(["user:5"]);
            pages
                .get_or_load_with(5, &opts, || async move {
                    read_done.notify_one();
                    resume.notified().await;
                    Ok::<_, String>("old".to_string())
                })
                .await
                .unwrap()
        })
    };
    read_done.notified().await;
    invalidate(cache).await;
    resume.notify_one();
    assert_eq!(
        *load.await.unwrap(),
        "old",
        "the first caller gets what it read"
    );
    assert_eq!(pages.get(5).await.unwrap(), None, "no tier holds it");
    let key = pages.key(5).unwrap();
    assert_eq!(
        cache.admin().backend().get(&key).await.unwrap(),
        None,
        "L2 was not written"
    );
}

type InvalidateFut = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn by_tag(cache: &Cache) -> InvalidateFut {
    let cache = cache.clone();
    Box::pin(async move {
        cache.invalidate_tag("user:5").await.unwrap();
    })
}

fn by_kind(cache: &Cache) -> InvalidateFut {
    let cache = cache.clone();
    Box::pin(async move {
        cache.clear_kind("feed").await.unwrap();
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_overtaken_by_a_tag_or_kind_invalidation_are_not_cached() {
    for invalidate in [by_tag as fn(&Cache) -> InvalidateFut, by_kind] {
        let (cache, _) = common::memory_cache().await;
        overtaken_loads_are_not_cached(&cache, invalidate).await;
        if let Some(server) = strata_testkit::redis_or_skip("tag stale-set on redis") {
            let (cache, _) = common::redis_cache(&server, CacheBuilder::new()).await;
            overtaken_loads_are_not_cached(&cache, invalidate).await;
        }
    }
}

#[tokio::test]
async fn kind_clears_and_tag_invalidations_never_scan_or_delete() {
    let inner = MemoryBackend::new(MemoryConfig::default().with_namespace("t:")).unwrap();
    let (faulty, faults) = Faults::wrap(inner);
    let backend: Arc<dyn Backend> = Arc::new(faulty);
    let cache = CacheBuilder::new()
        .prefix("t")
        .metrics(false)
        .backend(backend.clone())
        .build()
        .await
        .unwrap();
    let users = cache.kind::<u32>("user").unwrap();
    users
        .set_many((0..1000u32).map(|i| (i, i)).collect())
        .await
        .unwrap();
    users.set_tagged(5000, 1, &["vip"]).await.unwrap();
    let entries = backend.info().await.unwrap().entries;
    // Any scan or delete would now fail the call.
    faults
        .only(&[Operation::Scan, Operation::Delete, Operation::DeleteMany])
        .fail_always(ErrorKind::Server);
    cache.invalidate_tag("vip").await.unwrap();
    cache.clear_kind("user").await.unwrap();
    assert_eq!(users.get(5000).await.unwrap(), None);
    assert_eq!(users.get(1).await.unwrap(), None);
    assert_eq!(backend.info().await.unwrap().entries, entries);
    assert_eq!(faults.injected(), 0, "no scan or delete was attempted");
}

async fn instance(url: &str) -> Cache {
    common::from_toml(&format!(
        "prefix = \"tags\"\ncoherence = \"bus\"\nmetrics = false\n[backend]\nurl = \"{url}\"\n"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kind_and_tag_invalidations_reach_the_other_instance() {
    let Some(server) = strata_testkit::redis_or_skip("tags across instances") else {
        return;
    };
    let (a, b) = (instance(&server.url()).await, instance(&server.url()).await);
    common::ready(&[&a, &b]).await;
    let (pa, pb) = (
        a.kind::<u32>("page").unwrap(),
        b.kind::<u32>("page").unwrap(),
    );
    pa.set_tagged(1, 10, &["user:1"]).await.unwrap();
    pa.set(2, 20).await.unwrap();
    // Into B's L1.
    assert_eq!(pb.get(1).await.unwrap().as_deref(), Some(&10));
    assert_eq!(pb.get(2).await.unwrap().as_deref(), Some(&20));
    assert!(
        b.admin()
            .l1()
            .unwrap()
            .get(&pb.key(1).unwrap())
            .await
            .is_some()
    );

    let published = a.admin().bus_stats().published;
    a.invalidate_tag("user:1").await.unwrap();
    assert_eq!(
        a.admin().bus_stats().published,
        published + 1,
        "one message per tag"
    );
    common::eventually("B drops the tagged entry", async || {
        pb.get(1).await.unwrap().is_none()
    })
    .await;
    assert_eq!(pb.get(2).await.unwrap().as_deref(), Some(&20));

    a.clear_kind("page").await.unwrap();
    assert_eq!(
        a.admin().bus_stats().published,
        published + 2,
        "one message per kind"
    );
    common::eventually("B drops the cleared kind", async || {
        pb.get(2).await.unwrap().is_none()
    })
    .await;

    // Rules name tags too.
    let rules = Rules::new().on("profile", |id| vec![Target::tag(format!("user:{id}"))]);
    pb.set_tagged(3, 30, &["user:3"]).await.unwrap();
    assert_eq!(pa.get(3).await.unwrap().as_deref(), Some(&30));
    b.invalidate(&rules, "profile", 3).await.unwrap();
    common::eventually("A drops the entry tagged by the rule", async || {
        pa.get(3).await.unwrap().is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_missed_a_kind_clear_rereads_the_generation_on_reset() {
    let Some(server) = strata_testkit::redis_or_skip("generation after a reset") else {
        return;
    };
    let (a, b) = (instance(&server.url()).await, instance(&server.url()).await);
    common::ready(&[&a, &b]).await;
    let (pa, pb) = (a.kind::<u32>("doc").unwrap(), b.kind::<u32>("doc").unwrap());
    pa.set(1, 1).await.unwrap();
    assert_eq!(pb.get(1).await.unwrap().as_deref(), Some(&1));

    // B's subscription is killed; A clears the kind while B may not hear it.
    let client = redis::Client::open(server.url()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let resets = b.admin().bus_stats().resets;
    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut admin)
        .await
        .unwrap();
    a.clear_kind("doc").await.unwrap();
    common::eventually("B heard its subscription drop", async || {
        b.admin().bus_stats().resets > resets
    })
    .await;
    common::ready(&[&b]).await;
    assert_eq!(
        pb.get(1).await.unwrap(),
        None,
        "B read the new generation after its reset"
    );
}
