//! `cargo xtask bus-latency`: two Payshift processes sharing a spawned redis-server, per
//! coherence mode: how long an invalidation through one takes to reach the other's L1, over
//! many trials, and what a write costs Redis and a receiving instance.

mod traffic;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cargo;
use crate::consistency::mode::Mode;
use crate::demo_process::DemoProcess;
use traffic::Traffic;

/// Idle instances added for the second traffic measurement (each one more receiver).
const EXTRA_LISTENERS: usize = 4;

fn start(
    db: &std::path::Path,
    redis: &str,
    mode: &[(&'static str, String)],
) -> Result<DemoProcess> {
    let mut env = vec![
        ("DATABASE_URL", format!("sqlite://{}", db.display())),
        ("REDIS_URL", redis.to_owned()),
        ("STRATA_ADMIN_TOKEN", "bus-latency".to_owned()),
        // Only the coherence channel can make the other instance converge this fast.
        ("STRATA_L1__MAX_LIFETIME", "10m".to_owned()),
    ];
    env.extend(mode.iter().cloned());
    DemoProcess::start(&["--seed-scale", "0.05"], &env)
}

async fn headline(client: &reqwest::Client, base: &str, user: u32) -> Result<String> {
    let v: serde_json::Value = client
        .get(format!("{base}/accountsapp/whoami/{user}"))
        .send()
        .await?
        .json()
        .await?;
    Ok(v["profile"]["headline"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

async fn put(client: &reqwest::Client, a: &str, user: u32, headline: &str) -> Result<()> {
    let r = client
        .put(format!("{a}/accountsapp/profile/{user}"))
        .json(&serde_json::json!({ "headline": headline }))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("profile update failed: {}", r.status());
    }
    Ok(())
}

/// The lag samples: from A's PUT response to the first GET on B that shows the change.
async fn lag(client: &reqwest::Client, a: &str, b: &str, trials: usize) -> Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(trials);
    for trial in 0..trials {
        let user = (trial % 50 + 1) as u32;
        headline(client, b, user).await?;
        let want = format!("headline {trial}");
        put(client, a, user, &want).await?;
        let t0 = Instant::now();
        while headline(client, b, user).await? != want {
            if t0.elapsed() > Duration::from_secs(5) {
                bail!("trial {trial}: B still serves the old profile after 5 s");
            }
        }
        samples.push(t0.elapsed());
    }
    samples.sort_unstable();
    Ok(samples)
}

/// One mode's figures.
struct ModeResult {
    mode: Mode,
    lag: Vec<Duration>,
    traffic: Vec<Traffic>,
}

fn measure_mode(
    rt: &tokio::runtime::Runtime,
    mode: Mode,
    env: &[(&'static str, String)],
    trials: usize,
) -> Result<ModeResult> {
    let server = strata_testkit::RedisServer::spawn()
        .context("redis-server is needed for this measurement")?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("payshift.db");
    let a = start(&db, &server.url(), env)?;
    let b = start(&db, &server.url(), env)?;
    let client = reqwest::Client::new();
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    let lag = rt.block_on(lag(&client, &a.url, &b.url, trials))?;
    let mut traffic = Vec::new();
    let mut extra = Vec::new();
    for listeners in [1, 1 + EXTRA_LISTENERS] {
        while extra.len() + 1 < listeners {
            extra.push(start(&db, &server.url(), env)?);
        }
        let writes = trials as u64;
        let t = rt.block_on(traffic::measure(
            &server.url(),
            b.pid(),
            listeners + 1,
            writes,
            |i| {
                let (client, a) = (client.clone(), a.url.clone());
                async move {
                    put(
                        &client,
                        &a,
                        (i % 50 + 1) as u32,
                        &format!("traffic {listeners} {i}"),
                    )
                    .await
                }
            },
        ))?;
        traffic.push(t);
    }
    Ok(ModeResult { mode, lag, traffic })
}

pub(crate) fn run(trials: usize, modes: &[Mode]) -> Result<()> {
    cargo(&["build", "--release", "-p", "payshift"], &[])?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (mut results, mut skipped) = (Vec::new(), Vec::new());
    for &mode in modes {
        match mode.env() {
            Ok(env) => {
                let r = measure_mode(&rt, mode, &env, trials.max(1))?;
                println!("{mode}: lag p50 {:.2} ms", ms(pct(&r.lag, 0.5)));
                results.push(r);
            }
            Err(why) => {
                println!("bus-latency: skipping {mode}: {why}");
                skipped.push(why);
            }
        }
    }
    let md = markdown(&results, &skipped, trials);
    let out = crate::report_dir().join("bus-latency.md");
    std::fs::create_dir_all(out.parent().context("report dir")?)?;
    std::fs::write(&out, &md)?;
    println!("{md}\nwritten to {}", out.display());
    Ok(())
}

fn pct(samples: &[Duration], q: f64) -> Duration {
    samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn markdown(results: &[ModeResult], skipped: &[String], trials: usize) -> String {
    let mut md = format!(
        "# Invalidation lag and cost per write, by coherence mode\n\n\
         Two release payshift processes on one spawned redis-server, loopback, 2 cores; {trials} trials per mode. \
         Lag: from A's `PUT /accountsapp/profile/{{id}}` response to the first GET of whoami on B that shows the change \
         (includes one HTTP round trip to B). A profile change invalidates the user, the profile, the whoami and the tag `user:{{id}}`.\n\n\
         | mode | p50 | p90 | p99 | max |\n|---|---|---|---|---|\n"
    );
    for r in results {
        let _ = writeln!(
            md,
            "| {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
            r.mode,
            ms(pct(&r.lag, 0.5)),
            ms(pct(&r.lag, 0.9)),
            ms(pct(&r.lag, 0.99)),
            ms(*r.lag.last().unwrap_or(&Duration::ZERO))
        );
    }
    md.push_str(
        "\nCost per write (one PUT, no reads meanwhile): Redis counters (`INFO`: commands processed, bytes in and out, \
         `used_cpu_user + used_cpu_sys`) and the CPU one receiving instance spent (its threads' `schedstat`, idle rate \
         subtracted), with 2 instances, then with 4 more idle instances listening.\n\n\
         | mode | instances | writes | commands/write | bytes in/write | bytes out/write | server CPU/write | receiver CPU/write | calls per write |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        for t in &r.traffic {
            let calls: Vec<String> = t.calls.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.2} | {:.0} | {:.0} | {:.1} µs | {:.1} µs | {} |",
                r.mode,
                t.instances,
                t.writes,
                t.commands,
                t.net_in,
                t.net_out,
                t.server_cpu_us,
                t.listener_cpu_us,
                calls.join(", ")
            );
        }
    }
    for why in skipped {
        let _ = writeln!(md, "\nNot run: {why}.");
    }
    md
}
