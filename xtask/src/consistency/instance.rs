//! One cache instance of the consistency run, in a process of its own (the hidden
//! `consistency-instance` subcommand of the release xtask binary): its own L1, the shared
//! Redis, the SQLite source. Seeded readers (`get_or_load`) and a writer (update the source,
//! then `invalidate` through the rules) run until a read count or a time limit; every read,
//! every write and every change of the instance's coherence status are logged to `--dir`.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use strata::{Cache, CacheBuilder, KindCache, Rules, Target};

use super::log::{DEFERRED, FAILED, LogFile, ReadRec, WriteRec, now_ns};
use super::source::Source;

/// The cached value: a record at a version (the pad gives it a realistic size).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Rec {
    pub(crate) id: u32,
    pub(crate) version: u64,
    pub(crate) pad: String,
}

/// The kind the records are cached under.
pub(crate) const KIND: &str = "record";
/// The padding every record carries.
pub(crate) const PAD: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// What an instance is told to do.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct InstanceArgs {
    /// The SQLite source.
    #[arg(long)]
    pub(crate) db: PathBuf,
    /// Where to write the logs.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// This instance's number.
    #[arg(long)]
    pub(crate) index: u32,
    /// The workload's seed.
    #[arg(long)]
    pub(crate) seed: u64,
    /// Records in the source (ids 0..records).
    #[arg(long)]
    pub(crate) records: u32,
    /// Stop after this many reads (0: only the time limit).
    #[arg(long)]
    pub(crate) reads: u64,
    /// Stop after this many seconds.
    #[arg(long)]
    pub(crate) seconds: f64,
    /// Reads per second of this instance.
    #[arg(long)]
    pub(crate) rate: u64,
    /// Writes per second of this instance.
    #[arg(long)]
    pub(crate) writes: u64,
    /// Concurrent readers.
    #[arg(long, default_value_t = 4)]
    pub(crate) readers: usize,
}

/// What the instance's tasks share.
struct Shared {
    cache: Cache,
    kind: KindCache<Rec>,
    source: Source,
    args: InstanceArgs,
    stop: AtomicBool,
    reads: AtomicU64,
    read_errors: AtomicU64,
    loads: AtomicU64,
    deadline: tokio::time::Instant,
}

/// The instance process: builds the cache from the environment, says `ready`, waits for `go` on
/// stdin, runs, writes its logs and a summary line (`loads reads read_errors`) in `summary`.
pub(crate) fn run(args: InstanceArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

async fn run_async(args: InstanceArgs) -> Result<()> {
    let cache = CacheBuilder::from_env()?.declare_kind(KIND).build().await?;
    if let Some(w) = cache
        .admin()
        .warnings()
        .into_iter()
        .find(|w| w.contains("COHERENCE"))
    {
        bail!("this build does not know the coherence setting: {w}");
    }
    cache.ready().await;
    let source = Source::open(&args.db, false).await?;
    println!("ready");
    std::io::stdout().flush()?;
    let go = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await??;
    if go.trim() != "go" {
        bail!("expected `go` on stdin, got {go:?}");
    }
    let shared = Arc::new(Shared {
        kind: cache.kind::<Rec>(KIND)?,
        cache,
        source,
        deadline: tokio::time::Instant::now() + Duration::from_secs_f64(args.seconds),
        args,
        stop: AtomicBool::new(false),
        reads: AtomicU64::new(0),
        read_errors: AtomicU64::new(0),
        loads: AtomicU64::new(0),
    });
    let readers: Vec<_> = (0..shared.args.readers)
        .map(|i| tokio::spawn(reader(shared.clone(), i as u64)))
        .collect();
    let writer = tokio::spawn(writer(shared.clone()));
    let watcher = tokio::spawn(watch_status(shared.clone()));
    let mut reads = Vec::new();
    for r in readers {
        reads.extend(r.await?);
    }
    shared.stop.store(true, Ordering::Release);
    let writes = writer.await??;
    let events = watcher.await?;
    finish(&shared, &reads, &writes, &events)
}

fn finish(
    shared: &Shared,
    reads: &[ReadRec],
    writes: &[WriteRec],
    events: &[String],
) -> Result<()> {
    let dir = &shared.args.dir;
    let i = shared.args.index;
    let mut rf = LogFile::create(&dir.join(format!("reads-{i}.bin")))?;
    for r in reads {
        rf.read(r)?;
    }
    rf.flush()?;
    let mut wf = LogFile::create(&dir.join(format!("writes-{i}.bin")))?;
    for w in writes {
        wf.write(w)?;
    }
    wf.flush()?;
    std::fs::write(dir.join(format!("events-{i}.txt")), events.join("\n"))?;
    let summary = format!(
        "{} {} {}",
        shared.loads.load(Ordering::Relaxed),
        reads.len(),
        shared.read_errors.load(Ordering::Relaxed)
    );
    std::fs::write(dir.join(format!("summary-{i}.txt")), summary).context("summary")
}

/// Reads seeded records at this reader's share of the rate until the read count or the time
/// limit; answers its reads.
async fn reader(s: Arc<Shared>, n: u64) -> Vec<ReadRec> {
    let mut rng =
        SmallRng::seed_from_u64(s.args.seed ^ (u64::from(s.args.index) << 40) ^ (n << 20));
    let per_reader = (s.args.rate as f64 / s.args.readers as f64).max(1.0);
    let t0 = tokio::time::Instant::now();
    let mut out = Vec::new();
    let mut done = 0u64;
    while !s.stop.load(Ordering::Acquire) && tokio::time::Instant::now() < s.deadline {
        if s.args.reads > 0 && s.reads.fetch_add(1, Ordering::Relaxed) >= s.args.reads {
            s.stop.store(true, Ordering::Release);
            break;
        }
        let record = rng.random_range(0..s.args.records);
        let start = now_ns();
        let got = s
            .kind
            .get_or_load(record, || async {
                s.loads.fetch_add(1, Ordering::Relaxed);
                let version = s.source.version(record).await?;
                Ok::<_, sqlx::Error>(Rec {
                    id: record,
                    version,
                    pad: PAD.to_owned(),
                })
            })
            .await;
        let end = now_ns();
        match got {
            Ok(rec) => out.push(ReadRec {
                record,
                version: rec.version,
                start,
                end,
            }),
            Err(_) => {
                s.read_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        done += 1;
        if done.is_multiple_of(16) {
            let due = t0 + Duration::from_secs_f64(done as f64 / per_reader);
            tokio::time::sleep_until(due).await;
        }
    }
    out
}

/// Updates seeded records in the source, then invalidates them through the rules, at the
/// instance's write rate until told to stop.
async fn writer(s: Arc<Shared>) -> Result<Vec<WriteRec>> {
    let rules = Rules::new().on(KIND, |id| vec![Target::key(KIND, id)]);
    let mut rng = SmallRng::seed_from_u64(s.args.seed ^ (u64::from(s.args.index) << 40) ^ 0xfeed);
    let mut out = Vec::new();
    if s.args.writes == 0 {
        return Ok(out);
    }
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / s.args.writes as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !s.stop.load(Ordering::Acquire) && tokio::time::Instant::now() < s.deadline {
        tick.tick().await;
        let record = rng.random_range(0..s.args.records);
        let version = s.source.bump(record).await?;
        let start = now_ns();
        let (done, flags) = match s.cache.invalidate(&rules, KIND, record).await {
            Ok(inv) => {
                let flags =
                    if inv.deferred { DEFERRED } else { 0 } | if inv.failed { FAILED } else { 0 };
                (Some(now_ns()), flags)
            }
            Err(_) => (None, FAILED),
        };
        out.push(WriteRec {
            record,
            version,
            start,
            done,
            flags,
        });
    }
    Ok(out)
}

/// Every 2 ms, this instance's coherence status; a line `{ns} {status}` each time it changes.
async fn watch_status(s: Arc<Shared>) -> Vec<String> {
    let mut events = Vec::new();
    let mut last = String::new();
    while !s.stop.load(Ordering::Acquire) {
        let status = status(&s.cache);
        if status != last {
            events.push(format!("{} {status}", now_ns()));
            last = status;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    events
}

/// What the instance can tell about its coherence: whether its channels confirmed within
/// `l1.verified_within` and how often that lapsed, the bus subscription and its flushes, the
/// deferred changes, the breaker.
fn status(cache: &Cache) -> String {
    let admin = cache.admin();
    let coherence = admin.coherence();
    let bus = admin.bus_stats();
    let deferred = admin.deferred_changes();
    format!(
        "verified={} lapses={} subscribed={} resets={} queued={} breaker={:?}",
        coherence.verified,
        coherence.lapses,
        bus.subscribed,
        bus.resets,
        deferred.queued,
        admin.breaker_state()
    )
}
