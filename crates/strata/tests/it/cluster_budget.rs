//! The round-trip budget on a Redis Cluster, counted per node with `INFO commandstats`: every
//! step goes to the primary of its key's slot, the steps of one slot in one pipeline, the slots
//! concurrently. A change through rules takes two rounds there (a script cannot read a schema
//! registry in one slot and delete the keys it names in others: the registries are read first).

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use parking_lot::Mutex;
use strata::{Cache, Rules, Target};

/// The commands each primary receives from clients (not those its scripts run), from `MONITOR`.
struct Monitors {
    seen: Arc<Mutex<Vec<(u16, String)>>>,
}

impl Monitors {
    async fn start(ports: &[u16]) -> Self {
        let seen: Arc<Mutex<Vec<(u16, String)>>> = Arc::default();
        for &port in ports {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
            let monitor = client.get_async_monitor().await.unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut lines = monitor.into_on_message::<String>();
                while let Some(line) = lines.next().await {
                    seen.lock().push((port, line));
                }
            });
        }
        Self { seen }
    }

    /// Commands `op` sent (in all, and per primary), scripts' own commands and the client's
    /// housekeeping left out.
    async fn count(&self, op: impl AsyncFnOnce()) -> (usize, BTreeMap<u16, Vec<String>>) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.seen.lock().clear();
        op().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut per: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for (port, line) in self.seen.lock().drain(..) {
            let Some(command) = line
                .split(']')
                .nth(1)
                .and_then(|rest| rest.split('"').nth(1))
            else {
                continue;
            };
            let housekeeping = ["CLUSTER", "PING", "INFO", "CLIENT", "HELLO", "READONLY"];
            if line.contains(" lua]")
                || housekeeping.contains(&command.to_ascii_uppercase().as_str())
            {
                continue;
            }
            per.entry(port)
                .or_default()
                .push(command.to_ascii_uppercase());
        }
        eprintln!("{per:?}");
        (per.values().map(Vec::len).sum(), per)
    }
}

async fn instance(url: &str) -> Cache {
    let cache = common::from_toml(&format!(
        "prefix = \"cb\"\ncoherence = \"bus\"\nmetrics = false\n[backend]\nurl = \"{url}\"\ncluster = true\n"
    ))
    .await;
    common::ready(&[&cache]).await;
    cache.admin().backend().ping().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    cache
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_operation_sends_its_budget_of_commands_per_slot() {
    let Some(cluster) = strata_testkit::redis_cluster_or_skip("cluster budget", 3, 0) else {
        return;
    };
    let monitors = Monitors::start(&cluster.primary_ports()).await;
    let (writer, reader) = (
        instance(&cluster.url()).await,
        instance(&cluster.url()).await,
    );
    let (w, r) = (
        writer.kind::<String>("user").unwrap(),
        reader.kind::<String>("user").unwrap(),
    );
    w.get_or_load(0, || async { Ok::<_, String>("zero".into()) })
        .await
        .unwrap();
    r.get(0).await.unwrap();
    w.set(1, "one".into()).await.unwrap();
    common::eventually("the reader hears of the write", async || {
        reader.admin().bus_stats().applied >= 1
    })
    .await;

    // An L2 hit: one GET on the key's primary.
    let (hit, _) = monitors
        .count(async || assert!(r.get(1).await.unwrap().is_some()))
        .await;
    assert_eq!(hit, 1);

    // A miss: the read with its lease, then the store under it, both on the key's primary.
    let (miss, per) = monitors
        .count(async || {
            r.get_or_load(2, || async { Ok::<_, String>("two".into()) })
                .await
                .unwrap();
        })
        .await;
    // The reader's first write of the schema also registers it (SADD and the registry's
    // PEXPIRE, on the registry's primary, in the same round as the store).
    assert!(miss <= 4, "miss: {miss} commands");
    assert!(per.values().all(|c| c.len() <= 2), "{per:?}");

    // A change through rules: the three registries (their slots), then per slot the deletes,
    // the registrations and the messages, and the tag's bump with its message.
    let rules = Rules::new().on("profile", |id| {
        vec![
            Target::key("user", id),
            Target::key("profile", id),
            Target::key("whoami", id),
            Target::tag(format!("user:{id}")),
        ]
    });
    let (change, per) = monitors
        .count(async || {
            writer.invalidate(&rules, "profile", 1).await.unwrap();
        })
        .await;
    eprintln!("change: {change} commands on {} primaries", per.len());
    // 3 SMEMBERS + 3 families of (1 delete per registered schema + SADD + the registry's
    // PEXPIRE + PUBLISH) + 1 bump.
    assert!(change <= 3 + 3 * 4 + 1, "change: {change} commands");
}
