//! `RedisCluster`: a private Redis Cluster of loopback `redis-server` processes, made with
//! `redis-cli --cluster create`, killed on drop.

use std::io;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::redis_server::{RedisServer, binaries_or_skip};

/// How long the nodes may take to agree on a healthy cluster.
const FORM_TIMEOUT: Duration = Duration::from_secs(30);

/// A Redis Cluster of this test's own: `primaries` primaries with `replicas` replicas each,
/// every node on loopback (its bus on `port + 10000`), with a 1 s node timeout so a killed
/// primary's replica takes over within a few seconds. Every node is killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts the nodes, creates the cluster and waits until every node reports it healthy.
    pub fn spawn(primaries: usize, replicas: usize) -> io::Result<Self> {
        if primaries < 3 {
            return Err(io::Error::other("Redis Cluster needs at least 3 primaries"));
        }
        let args = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "1000",
            // Replicas sync at once (the default waits 5 s for more replicas), so one is
            // eligible to take over soon after the cluster forms.
            "--repl-diskless-sync-delay",
            "0",
        ];
        let nodes = (0..primaries * (1 + replicas))
            .map(|_| RedisServer::spawn_where(&args, |p| p < 55_000))
            .collect::<io::Result<Vec<_>>>()?;
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let cluster = Self { nodes };
        cluster.wait_healthy(FORM_TIMEOUT)?;
        Ok(cluster)
    }

    /// Seed URLs of every node, comma-separated (what `RedisConfig::with_cluster` takes).
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(RedisServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The nodes, running or not.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The ports of the running nodes that are primaries now.
    pub fn primary_ports(&self) -> Vec<u16> {
        self.running()
            .filter(|n| cli(n.port(), &["ROLE"]).is_ok_and(|r| r.starts_with("master")))
            .map(RedisServer::port)
            .collect()
    }

    /// Kills (SIGKILL) a primary whose replica is in sync (waiting up to 10 s for one), so
    /// that the replica can take over; answers the killed primary's port.
    pub fn kill_a_primary(&mut self) -> io::Result<u16> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let port = loop {
            let synced = self.primary_ports().into_iter().find(|p| {
                cli(*p, &["INFO", "replication"]).is_ok_and(|info| info.contains("state=online"))
            });
            match synced {
                Some(port) => break port,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                None => return Err(io::Error::other("no primary with a replica in sync")),
            }
        };
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port() == port)
            .ok_or_else(|| io::Error::other("primary vanished"))?;
        node.stop();
        Ok(port)
    }

    /// Waits until every running node reports `cluster_state:ok` and the same number of
    /// primaries serving slots.
    pub fn wait_healthy(&self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let states: Vec<String> = self
                .running()
                .map(|n| cli(n.port(), &["CLUSTER", "INFO"]).unwrap_or_default())
                .collect();
            let field = |s: &str, name: &str| {
                s.lines()
                    .find_map(|l| l.trim().strip_prefix(name).map(str::to_owned))
            };
            let ok = states
                .iter()
                .all(|s| field(s, "cluster_state:").as_deref() == Some("ok"));
            let sizes: Vec<_> = states.iter().map(|s| field(s, "cluster_size:")).collect();
            if ok && sizes.windows(2).all(|w| w[0] == w[1]) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("cluster not healthy within {timeout:?}: {states:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn running(&self) -> impl Iterator<Item = &RedisServer> {
        self.nodes.iter().filter(|n| n.is_running())
    }
}

/// `redis-cli -p port args...`, its output.
fn cli(port: u16, args: &[&str]) -> io::Result<String> {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}

/// Starts a cluster for the test `test`, or reports the test as skipped when `redis-server` or
/// `redis-cli` is missing (a failure under `STRATA_REQUIRE_REDIS=1`). A cluster that cannot be
/// formed always panics.
pub fn redis_cluster_or_skip(
    test: &str,
    primaries: usize,
    replicas: usize,
) -> Option<RedisCluster> {
    if !binaries_or_skip(test, &["redis-server", "redis-cli"]) {
        return None;
    }
    match RedisCluster::spawn(primaries, replicas) {
        Ok(cluster) => Some(cluster),
        Err(e) => panic!("{test}: could not form a Redis Cluster: {e}"),
    }
}
