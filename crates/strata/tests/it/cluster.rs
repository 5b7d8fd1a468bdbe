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

/// Waits until neither cache's L1 holds `key`.
async fn dropped(caches: [&Cache; 2], key: &strata::Key, what: &str) {
    for cache in caches {
        let l1 = cache.admin().l1().unwrap();
        common::eventually(what, async || l1.get(key).await.is_none()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_writes_expiries_tags_and_lost_connections_on_a_cluster() {
    let Some(cluster) = strata_testkit::redis_cluster_or_skip("tracking faults on a cluster", 3, 0)
    else {
        return;
    };
    let toml = format!(
        "prefix = \"cf\"\nmetrics = false\n[backend]\nurl = \"{}\"\ncluster = true\n",
        cluster.url()
    );
    let (a, b) = (
        common::from_toml(&toml).await,
        common::from_toml(&toml).await,
    );
    common::ready(&[&a, &b]).await;
    let seeds: Vec<String> = cluster.url().split(',').map(str::to_owned).collect();
    let mut raw = redis::cluster::ClusterClient::new(seeds)
        .unwrap()
        .get_async_connection()
        .await
        .unwrap();
    let tagged = LoadOptions::new().tags(["team:1"]);
    let hold = async |id: u32| {
        for cache in [&a, &b] {
            let users = cache.kind::<String>("user").unwrap();
            let key = users.key(id).unwrap();
            common::eventually("L1 holds the entry", async || {
                users
                    .get_or_load_with(id, &tagged, || async { Ok::<_, String>("v".into()) })
                    .await
                    .unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                cache.admin().l1().unwrap().get(&key).await.is_some()
            })
            .await;
        }
        a.kind::<String>("user").unwrap().key(id).unwrap()
    };

    // A foreign SET (bytes that are no entry: read as a miss), then a foreign PEXPIRE.
    let key = hold(1).await;
    let _: () = redis::cmd("SET")
        .arg(key.as_str())
        .arg("not an entry")
        .query_async(&mut raw)
        .await
        .unwrap();
    dropped([&a, &b], &key, "a foreign SET on a cluster").await;
    let key = hold(2).await;
    let _: u64 = redis::cmd("PEXPIRE")
        .arg(key.as_str())
        .arg(1)
        .query_async(&mut raw)
        .await
        .unwrap();
    dropped([&a, &b], &key, "a foreign PEXPIRE on a cluster").await;

    // A tag invalidation through one instance, with tracking alone.
    hold(3).await;
    a.invalidate_tag("team:1").await.unwrap();
    let ub = b.kind::<String>("user").unwrap();
    common::eventually("B sees the tag invalidation", async || {
        ub.get(3).await.unwrap().is_none()
    })
    .await;

    // One of B's tracking connections (one per primary) is killed: B flushes, then tracks
    // again on every primary.
    let key = hold(4).await;
    let port = cluster.primary_ports()[0];
    let node = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let mut node = node.get_multiplexed_async_connection().await.unwrap();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut node)
        .await
        .unwrap();
    let b_name = b
        .admin()
        .coherence()
        .connections
        .into_iter()
        .find(|n| n.starts_with("strata-tracking-"))
        .map(|n| format!("name={n} "))
        .expect("B names its tracking connection");
    let id = list
        .lines()
        .find(|l| l.contains(&b_name))
        .and_then(|l| l.split_whitespace().next()?.strip_prefix("id="))
        .expect("B's tracking connection on this primary")
        .to_owned();
    let _: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&id)
        .query_async(&mut node)
        .await
        .unwrap();
    let l1 = b.admin().l1().unwrap();
    common::eventually("B flushed", async || l1.get(&key).await.is_none()).await;
    common::ready(&[&b]).await;
    let key = hold(5).await;
    let _: u64 = redis::cmd("DEL")
        .arg(key.as_str())
        .query_async(&mut raw)
        .await
        .unwrap();
    dropped(
        [&a, &b],
        &key,
        "tracking works again after the reconnection",
    )
    .await;
}
