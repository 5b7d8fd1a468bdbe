//! One run's world: a spawned Redis (one server or a local cluster), the SQLite source, the
//! instance processes of each phase, the foreign writer, and the faults injected on schedule.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use strata_testkit::{RedisCluster, RedisServer};

use super::faults::{
    BUS_NAME, Killed, TRACKING_NAME, client_list, client_pause, kill_coherence, signal,
};
use super::foreign::{self, Foreign};
use super::log::{WriteRec, load_reads, load_writes, now_ns};
use super::phase::{Phase, PhaseLogs, Settings};
use super::source::Source;

/// Where the instances' Redis runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topology {
    Single,
    Cluster,
}

impl Topology {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Topology::Single => "one redis-server",
            Topology::Cluster => "local cluster (3 primaries, 3 replicas)",
        }
    }
}

enum Redis {
    Single(RedisServer),
    Cluster(RedisCluster),
}

/// A fault injected, when.
#[derive(Debug, Default)]
pub(crate) struct Injection {
    pub(crate) at: u64,
    /// The instance stopped, for SIGSTOP, and when it was resumed: its detection counts from
    /// then (a stopped process observes nothing), and only its own.
    pub(crate) stopped: Option<(u32, u64)>,
    /// For killed connections: how long until every killed coherence connection was back (as
    /// many `strata-tracking-`/`strata-bus-` names in `CLIENT LIST` as before), if within 5 s.
    pub(crate) reconnected_ns: Option<u64>,
}

/// The spawned Redis, the source and the mode's environment; every write made so far.
pub(crate) struct World {
    redis: Redis,
    pub(crate) topology: Topology,
    dir: tempfile::TempDir,
    db: PathBuf,
    env: Vec<(&'static str, String)>,
    rt: tokio::runtime::Runtime,
    /// Every write of the run so far: a phase's reads are checked against all of them.
    pub(crate) history: Vec<WriteRec>,
}

pub(crate) const PREFIX: &str = "cons";

impl World {
    pub(crate) fn start(
        topology: Topology,
        mode_env: Vec<(&'static str, String)>,
        records: u32,
    ) -> Result<Self> {
        let redis = match topology {
            Topology::Single => {
                Redis::Single(RedisServer::spawn().context("spawning redis-server")?)
            }
            Topology::Cluster => {
                Redis::Cluster(RedisCluster::spawn(3, 1).context("spawning a local cluster")?)
            }
        };
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("source.db");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(Source::create(&db, records))?;
        Ok(Self {
            redis,
            topology,
            dir,
            db,
            env: mode_env,
            rt,
            history: Vec::new(),
        })
    }

    fn url(&self) -> String {
        match &self.redis {
            Redis::Single(s) => s.url(),
            Redis::Cluster(c) => c.url(),
        }
    }

    /// Every running node's URL (faults go to each).
    fn nodes(&self) -> Vec<String> {
        match &self.redis {
            Redis::Single(s) => vec![s.url()],
            Redis::Cluster(c) => c
                .nodes()
                .iter()
                .filter(|n| n.is_running())
                .map(RedisServer::url)
                .collect(),
        }
    }

    /// Runs `phase`: fresh instances, the foreign writer, the faults; answers the logs.
    pub(crate) fn phase(&mut self, phase: Phase, s: &Settings, seed: u64) -> Result<PhaseLogs> {
        let pdir = self.dir.path().join(phase.slug());
        std::fs::create_dir_all(&pdir)?;
        let mut instances = (0..s.instances)
            .map(|i| self.spawn_instance(phase, s, seed, i, &pdir))
            .collect::<Result<Vec<_>>>()?;
        for inst in &mut instances {
            inst.go()?;
        }
        let started = now_ns();
        let stop = Arc::new(AtomicBool::new(false));
        let foreign = self.start_foreign(s, seed, stop.clone())?;
        let (injections, killed) = self.inject(phase, s, &mut instances)?;
        for inst in &mut instances {
            inst.wait()?;
        }
        stop.store(true, Ordering::Release);
        let mut writes = self.rt.block_on(foreign)??;
        let mut logs = PhaseLogs {
            started,
            ended: now_ns(),
            injections,
            killed,
            ..PhaseLogs::default()
        };
        for i in 0..s.instances {
            logs.reads
                .extend(load_reads(&pdir.join(format!("reads-{i}.bin")))?);
            writes.extend(load_writes(&pdir.join(format!("writes-{i}.bin")))?);
            logs.events
                .push(read_events(&pdir.join(format!("events-{i}.txt")))?);
            let summary = std::fs::read_to_string(pdir.join(format!("summary-{i}.txt")))?;
            let n: Vec<u64> = summary.split(' ').filter_map(|v| v.parse().ok()).collect();
            logs.loads += n.first().copied().unwrap_or(0);
            logs.read_errors += n.get(2).copied().unwrap_or(0);
        }
        logs.writes = writes.clone();
        self.history.extend(writes);
        Ok(logs)
    }

    fn spawn_instance(
        &self,
        phase: Phase,
        s: &Settings,
        seed: u64,
        i: u32,
        dir: &Path,
    ) -> Result<Instance> {
        let (reads, seconds) = phase.bounds(s);
        let mut cmd = Command::new(crate::target_dir().join("release/xtask"));
        cmd.arg("consistency-instance")
            .args(["--db", &self.db.display().to_string()])
            .args(["--dir", &dir.display().to_string()])
            .args(["--index", &i.to_string(), "--seed", &seed.to_string()])
            .args([
                "--records",
                &s.records.to_string(),
                "--reads",
                &reads.div_ceil(u64::from(s.instances)).to_string(),
            ])
            .args(["--seconds", &seconds.to_string()])
            .args(["--rate", &(s.rate / u64::from(s.instances)).to_string()])
            .args(["--writes", &s.writes.to_string()])
            .env("REDIS_URL", self.url())
            .env("STRATA_PREFIX", PREFIX)
            .env("STRATA_METRICS", "false")
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if self.topology == Topology::Cluster {
            cmd.env("STRATA_BACKEND__CLUSTER", "true");
        }
        let mut child = cmd
            .spawn()
            .context("starting an instance (release xtask)")?;
        let stdout = child.stdout.take().context("instance stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut inst = Instance {
            stdin: child.stdin.take(),
            child,
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line == "ready" => Ok(inst),
            other => {
                inst.kill();
                bail!("instance {i} did not get ready: {other:?}")
            }
        }
    }

    fn start_foreign(
        &self,
        s: &Settings,
        seed: u64,
        stop: Arc<AtomicBool>,
    ) -> Result<tokio::task::JoinHandle<Result<Vec<WriteRec>>>> {
        let f = Foreign {
            prefix: PREFIX.into(),
            records: s.records,
            rate: s.foreign,
            seed,
            cluster: self.topology == Topology::Cluster,
        };
        let db = self.db.clone();
        let source = self.rt.block_on(Source::open(&db, false))?;
        Ok(match self.topology {
            Topology::Single => {
                let client = redis::Client::open(self.url())?;
                let config = redis::AsyncConnectionConfig::new()
                    .set_response_timeout(Some(Duration::from_secs(1)));
                let conn = self
                    .rt
                    .block_on(client.get_multiplexed_async_connection_with_config(&config))?;
                self.rt.spawn(foreign::run(f, source, conn, stop))
            }
            Topology::Cluster => {
                let client = redis::cluster::ClusterClientBuilder::new(self.nodes())
                    .response_timeout(Duration::from_secs(1))
                    .build()?;
                let conn = self.rt.block_on(client.get_async_connection())?;
                self.rt.spawn(foreign::run(f, source, conn, stop))
            }
        })
    }

    /// Injects `phase`'s faults on its schedule until every instance has exited.
    fn inject(
        &mut self,
        phase: Phase,
        s: &Settings,
        instances: &mut [Instance],
    ) -> Result<(Vec<Injection>, Killed)> {
        let t0 = Instant::now();
        let (mut injections, mut killed) = (Vec::new(), Killed::default());
        let mut next = t0 + phase.first_fault(s);
        let mut round = 0u32;
        while instances.iter_mut().any(Instance::running) {
            if phase == Phase::NoFaults || Instant::now() < next || round >= phase.rounds(s) {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            let mut inj = Injection {
                at: now_ns(),
                ..Injection::default()
            };
            match phase {
                Phase::NoFaults => {}
                Phase::RedisRestart if self.topology == Topology::Single => {
                    let nodes = self.nodes();
                    let before = self.rt.block_on(named_connections(&nodes));
                    inj.at = now_ns();
                    self.restart_redis()?;
                    inj.reconnected_ns = self.rt.block_on(reconnected(&nodes, before, inj.at));
                }
                Phase::RedisRestart => self.restart_redis()?,
                Phase::KillConnections => {
                    let nodes = self.nodes();
                    let before = self.rt.block_on(named_connections(&nodes));
                    inj.at = now_ns();
                    for url in &nodes {
                        killed += self.rt.block_on(kill_coherence(url))?;
                    }
                    inj.reconnected_ns = self.rt.block_on(reconnected(&nodes, before, inj.at));
                }
                Phase::PauseWrite | Phase::PauseAll => {
                    for url in self.nodes() {
                        self.rt
                            .block_on(client_pause(&url, 300, phase == Phase::PauseAll))?;
                    }
                }
                Phase::StopInstance => {
                    let i = round % s.instances;
                    let inst = &mut instances[i as usize];
                    if inst.running() {
                        signal(inst.child.id(), "STOP")?;
                        std::thread::sleep(Duration::from_secs(1));
                        signal(inst.child.id(), "CONT")?;
                        inj.stopped = Some((i, now_ns()));
                    }
                }
            }
            injections.push(inj);
            round += 1;
            next += phase.period();
        }
        Ok((injections, killed))
    }

    fn restart_redis(&mut self) -> Result<()> {
        match &mut self.redis {
            Redis::Single(s) => s.restart()?,
            Redis::Cluster(c) => {
                c.kill_a_primary()?;
            }
        }
        Ok(())
    }
}

/// How many coherence connections (named `strata-tracking-…` or `strata-bus-…`) the nodes hold.
async fn named_connections(nodes: &[String]) -> usize {
    let mut n = 0;
    for url in nodes {
        if let Ok(list) = client_list(url).await {
            n += list
                .iter()
                .filter(|c| c.name.starts_with(TRACKING_NAME) || c.name.starts_with(BUS_NAME))
                .count();
        }
    }
    n
}

/// Polls until the nodes hold `want` coherence connections again: the time since `killed_at`.
async fn reconnected(nodes: &[String], want: usize, killed_at: u64) -> Option<u64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if named_connections(nodes).await >= want {
            return Some(now_ns().saturating_sub(killed_at));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

fn read_events(path: &Path) -> Result<Vec<(u64, String)>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|l| {
            let (t, what) = l.split_once(' ')?;
            Some((t.parse().ok()?, what.to_owned()))
        })
        .collect())
}

/// An instance process; resumed and killed on drop.
struct Instance {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Instance {
    fn go(&mut self) -> Result<()> {
        let stdin = self.stdin.as_mut().context("instance stdin")?;
        stdin.write_all(b"go\n")?;
        stdin.flush()?;
        Ok(())
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn wait(&mut self) -> Result<()> {
        let status = self.child.wait()?;
        if !status.success() {
            bail!("an instance failed: {status}");
        }
        Ok(())
    }

    fn kill(&mut self) {
        let _ = signal(self.child.id(), "CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if self.running() {
            self.kill();
        }
    }
}
