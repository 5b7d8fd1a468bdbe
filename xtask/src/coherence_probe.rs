//! `cargo xtask coherence-probe`: issue 23's two-instance figure on the release demo. A writer
//! PUTs profiles on instance A while readers read whoami on A and B; in the faulty phase, every
//! 2 s the coherence connections are killed (pub/sub by `CLIENT KILL TYPE pubsub`, tracking by
//! name → ID) and the server paused (`CLIENT PAUSE 300 WRITE`). Stale reads are counted by the
//! consistency checker at W = 0, 100 ms and 1 s.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use parking_lot::Mutex;
use rand::RngExt;

use crate::cargo;
use crate::consistency::checker::{Checker, Verdict};
use crate::consistency::faults::{Killed, client_pause, kill_coherence};
use crate::consistency::log::{ReadRec, WriteRec, now_ns};
use crate::consistency::mode::Mode;
use crate::demo_process::DemoProcess;

const MS: u64 = 1_000_000;
const WINDOWS: [u64; 3] = [0, 100 * MS, 1000 * MS];
const USERS: u32 = 20;
const READERS_PER_INSTANCE: usize = 4;

/// One phase of one mode.
struct Row {
    mode: Mode,
    phase: &'static str,
    verdict: Verdict,
    writes: usize,
    read_errors: u64,
    killed: Killed,
    pauses: u64,
}

pub(crate) fn run(seconds: u64, modes: &[Mode]) -> Result<()> {
    cargo(&["build", "--release", "-p", "payshift"], &[])?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for &mode in modes {
        let env = match mode.env() {
            Ok(env) => env,
            Err(why) => {
                println!("coherence-probe: skipping {mode}: {why}");
                skipped.push(why);
                continue;
            }
        };
        let server = strata_testkit::RedisServer::spawn().context("redis-server is needed")?;
        let dir = tempfile::tempdir()?;
        let a = start(&dir.path().join("payshift.db"), &server.url(), &env)?;
        let b = start(&dir.path().join("payshift.db"), &server.url(), &env)?;
        let mut history = Vec::new();
        for (phase, faults) in [("no faults", false), ("faults every 2 s", true)] {
            let world = World {
                a: &a.url,
                b: &b.url,
                redis: server.url(),
            };
            let (verdict, writes, read_errors, killed, pauses) =
                rt.block_on(phase_run(&world, seconds, faults, &mut history))?;
            let row = Row {
                mode,
                phase,
                verdict,
                writes,
                read_errors,
                killed,
                pauses,
            };
            println!("{}", line(&row));
            rows.push(row);
        }
    }
    let md = markdown(&rows, &skipped, seconds);
    let out = crate::report_dir().join("coherence-probe.md");
    std::fs::create_dir_all(out.parent().context("report dir")?)?;
    std::fs::write(&out, &md)?;
    println!("\n{md}\nwritten to {}", out.display());
    Ok(())
}

fn start(db: &std::path::Path, redis: &str, mode: &[(&str, String)]) -> Result<DemoProcess> {
    let mut env = vec![
        ("DATABASE_URL", format!("sqlite://{}", db.display())),
        ("REDIS_URL", redis.to_owned()),
        ("STRATA_ADMIN_TOKEN", "coherence-probe".to_owned()),
    ];
    env.extend(mode.iter().cloned());
    DemoProcess::start(&["--seed-scale", "0.05"], &env)
}

struct World<'a> {
    a: &'a str,
    b: &'a str,
    redis: String,
}

type PhaseOutcome = (Verdict, usize, u64, Killed, u64);

/// Runs the load for `seconds` (with the faults when `faults`); checks the reads against every
/// write made so far (`history`, whose length numbers the headlines across phases).
async fn phase_run(
    w: &World<'_>,
    seconds: u64,
    faults: bool,
    history: &mut Vec<WriteRec>,
) -> Result<PhaseOutcome> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let reads = Arc::new(Mutex::new(Vec::<ReadRec>::new()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..2 * READERS_PER_INSTANCE {
        let base = if i % 2 == 0 { w.a } else { w.b }.to_owned();
        let (client, reads, errors) = (client.clone(), reads.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            while tokio::time::Instant::now() < deadline {
                let user = rand::rng().random_range(1..=USERS);
                let start = now_ns();
                match headline(&client, &base, user).await {
                    Ok(h) => reads.lock().push(ReadRec {
                        record: user,
                        version: version_of(&h),
                        start,
                        end: now_ns(),
                    }),
                    Err(_) => {
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let injector = faults.then(|| tokio::spawn(inject(w.redis.clone(), deadline)));
    let writes = writer(&client, w.a, deadline, history.len() as u64).await;
    for t in tasks {
        let _ = t.await;
    }
    let (killed, pauses) = match injector {
        Some(t) => t.await??,
        None => (Killed::default(), 0),
    };
    history.extend(writes.iter().copied());
    let verdict = Checker::new(history).check(&reads.lock(), &WINDOWS);
    Ok((
        verdict,
        writes.len(),
        errors.load(std::sync::atomic::Ordering::Relaxed),
        killed,
        pauses,
    ))
}

/// PUTs profiles on A until `deadline`, headline `probe {seq}` numbered after `before`;
/// returns the writes.
async fn writer(
    client: &reqwest::Client,
    a: &str,
    deadline: tokio::time::Instant,
    before: u64,
) -> Vec<WriteRec> {
    let mut writes = Vec::new();
    let mut seq = before;
    while tokio::time::Instant::now() < deadline {
        seq += 1;
        let user = rand::rng().random_range(1..=USERS);
        let start = now_ns();
        let ok = client
            .put(format!("{a}/accountsapp/profile/{user}"))
            .json(&serde_json::json!({ "headline": format!("probe {seq}") }))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        let done = ok.then(now_ns);
        writes.push(WriteRec {
            record: user,
            version: seq,
            start,
            done,
            flags: 0,
        });
    }
    writes
}

/// Every 2 s until `deadline`: the coherence connections killed, then `CLIENT PAUSE 300 WRITE`.
async fn inject(url: String, deadline: tokio::time::Instant) -> Result<(Killed, u64)> {
    let (mut killed, mut pauses) = (Killed::default(), 0);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if tokio::time::Instant::now() >= deadline {
            return Ok((killed, pauses));
        }
        killed += kill_coherence(&url).await?;
        client_pause(&url, 300, false).await?;
        pauses += 1;
    }
}

async fn headline(client: &reqwest::Client, base: &str, user: u32) -> Result<String> {
    let v: serde_json::Value = client
        .get(format!("{base}/accountsapp/whoami/{user}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v["profile"]["headline"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// The write a headline came from (`probe {n}`), 0 for the seeded one.
fn version_of(headline: &str) -> u64 {
    headline
        .strip_prefix("probe ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn line(r: &Row) -> String {
    format!(
        "{:<9} {:<17} reads {:>7} (errors {}) writes {:>5}  stale W=0 {:>5}  W=100ms {:>5}  W=1s {:>4}  nines {}  oldest {}  killed pubsub {} tracking {}  pauses {}",
        r.mode.to_string(),
        r.phase,
        r.verdict.reads,
        r.read_errors,
        r.writes,
        r.verdict.stale[0],
        r.verdict.stale[1],
        r.verdict.stale[2],
        r.verdict.nines(0),
        oldest(&r.verdict),
        r.killed.pubsub,
        r.killed.tracking,
        r.pauses
    )
}

pub(crate) fn oldest(v: &Verdict) -> String {
    v.oldest_ns
        .map_or("-".into(), |ns| format!("{:.0} ms", ns as f64 / MS as f64))
}

fn markdown(rows: &[Row], skipped: &[String], seconds: u64) -> String {
    let mut md = format!(
        "# Coherence probe: PUT on A, whoami on A and B\n\n\
         Two release payshift processes on one spawned redis-server (SQLite), {seconds} s per phase; \
         one writer PUTs `/accountsapp/profile/{{1..{USERS}}}` on A, {READERS_PER_INSTANCE} readers per instance \
         read whoami. Faults: every 2 s the coherence connections killed (pub/sub by `CLIENT KILL TYPE pubsub`, \
         tracking by name → `CLIENT KILL ID`) and `CLIENT PAUSE 300 WRITE`. A read is stale at W when the \
         headline it returned had been replaced by a PUT answered more than W before the read began.\n\n\
         | mode | phase | reads | writes | stale W=0 | W=100 ms | W=1 s | nines (W=0) | nines (W=100 ms) | oldest | killed (pub/sub, tracking) | pauses |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for r in rows {
        let v = &r.verdict;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}, {} | {} |",
            r.mode,
            r.phase,
            v.reads,
            r.writes,
            v.stale[0],
            v.stale[1],
            v.stale[2],
            v.nines(0),
            v.nines(1),
            oldest(v),
            r.killed.pubsub,
            r.killed.tracking,
            r.pauses
        );
    }
    for why in skipped {
        let _ = writeln!(md, "\nNot run: {why}.");
    }
    md
}
