//! Two cache instances on a local Redis Cluster configured by `[backend] cluster = true`:
//! writes reach the other instance's L1 over the bus, kind clears and tag invalidations are
//! seen by both, a quota bounds its kind, and `purge_kind` walks every primary.

use crate::common;

use strata::{Cache, LoadOptions};

async fn instance(url: &str) -> Cache {
    common::from_toml(&format!(
        "prefix = \"cc\"\nmetrics = false\n[backend]\nurl = \"{url}\"\ncluster = true\n\
         [backend.quotas.job]\nmax_entries = 20\n"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_stay_in_sync_on_a_cluster() {
    let Some(cluster) = strata_testkit::redis_cluster_or_skip("facade on a cluster", 3, 0) else {
        return;
    };
    let (a, b) = (
        instance(&cluster.url()).await,
        instance(&cluster.url()).await,
    );
    common::ready(&[&a, &b]).await;
    let (ua, ub) = (
        a.kind::<String>("user").unwrap(),
        b.kind::<String>("user").unwrap(),
    );
    for i in 0..30u32 {
        ua.set(i, format!("v{i}")).await.unwrap();
    }
    for i in 0..30u32 {
        assert_eq!(
            ub.get(i).await.unwrap().as_deref().cloned(),
            Some(format!("v{i}"))
        );
    }
    ua.set(7, "changed".into()).await.unwrap();
    common::eventually("B sees the write", async || {
        ub.get(7).await.unwrap().as_deref().map(String::as_str) == Some("changed")
    })
    .await;
    b.clear_kind("user").await.unwrap();
    common::eventually("A drops the cleared kind", async || {
        ua.get(3).await.unwrap().is_none()
    })
    .await;

    // Tags across instances.
    let opts = LoadOptions::default().tags(["account:1"]);
    let v = ub
        .get_or_load_with(1, &opts, async || {
            Ok::<_, std::io::Error>("tagged".to_owned())
        })
        .await
        .unwrap();
    assert_eq!(v.as_str(), "tagged");
    a.invalidate_tag("account:1").await.unwrap();
    common::eventually("B drops the tagged entry", async || {
        ub.get(1).await.unwrap().is_none()
    })
    .await;

    // The quota'd kind keeps to its budget; purge walks all primaries.
    let jobs = a.kind::<u32>("job").unwrap();
    for i in 0..100u32 {
        jobs.set(i, i).await.unwrap();
    }
    let info = a.admin().backend_info().await.unwrap();
    assert_eq!(info.details["quota.cc:v1:job:.entries"], "20", "{info:?}");
    assert!(a.admin().purge_kind("job").await.unwrap() >= 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tracking_covers_every_primary_of_a_cluster() {
    let Some(cluster) = strata_testkit::redis_cluster_or_skip("tracking on a cluster", 3, 0) else {
        return;
    };
    let toml = format!(
        "prefix = \"ct\"\nmetrics = false\ncoherence = \"tracking\"\n[backend]\nurl = \"{}\"\ncluster = true\n\
         [backend.quotas.job]\nmax_entries = 20\n",
        cluster.url()
    );
    let (a, b) = (
        common::from_toml(&toml).await,
        common::from_toml(&toml).await,
    );
    common::ready(&[&a, &b]).await;
    assert_eq!(a.admin().coherence().mode, strata::CoherenceMode::Tracking);
    let (ua, ub) = (
        a.kind::<String>("user").unwrap(),
        b.kind::<String>("user").unwrap(),
    );
    // Keys on every primary, in both L1s.
    for i in 0..30u32 {
        ua.set(i, format!("v{i}")).await.unwrap();
    }
    for i in 0..30u32 {
        assert!(ub.get(i).await.unwrap().is_some());
    }
    // A writer outside Strata deletes every entry, through the cluster.
    let seeds: Vec<String> = cluster.url().split(',').map(str::to_owned).collect();
    let client = redis::cluster::ClusterClient::new(seeds).unwrap();
    let mut raw = client.get_async_connection().await.unwrap();
    for i in 0..30u32 {
        let key = ub.key(i).unwrap();
        let _: u64 = redis::cmd("DEL")
            .arg(key.as_str())
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    for cache in [&a, &b] {
        let l1 = cache.admin().l1().unwrap();
        for i in 0..30u32 {
            let key = ub.key(i).unwrap();
            common::eventually(
                "a foreign DEL on any primary drops the L1 copy",
                async || l1.get(&key).await.is_none(),
            )
            .await;
        }
    }
    assert_eq!(ub.get(5).await.unwrap(), None);
    // A kind with a quota is stored as `key{rest}` on a cluster: tracked as well.
    let (ja, jb) = (
        a.kind::<String>("job").unwrap(),
        b.kind::<String>("job").unwrap(),
    );
    ja.set(1, "job one".into()).await.unwrap();
    assert!(jb.get(1).await.unwrap().is_some());
    let key = jb.key(1).unwrap();
    let physical = format!("{}{{v1:job:}}", key.as_str());
    let existed: u64 = redis::cmd("DEL")
        .arg(&physical)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(existed, 1, "the quota kind's physical name is {physical}");
    for cache in [&a, &b] {
        let l1 = cache.admin().l1().unwrap();
        common::eventually(
            "a foreign DEL of a quota kind's entry drops the L1 copy",
            async || l1.get(&key).await.is_none(),
        )
        .await;
    }
    // A kind clear reaches the other instance with tracking alone.
    ua.set(1, "again".into()).await.unwrap();
    assert!(ub.get(1).await.unwrap().is_some());
    a.clear_kind("user").await.unwrap();
    common::eventually("B sees the kind clear", async || {
        ub.get(1).await.unwrap().is_none()
    })
    .await;
}
