//! `cargo xtask bus-latency`: two Payshift processes sharing a spawned redis-server; how long an
//! invalidation through one takes to reach the other's L1, over many trials.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cargo;
use crate::demo_process::DemoProcess;

fn start(db: &std::path::Path, redis: &str) -> Result<DemoProcess> {
    DemoProcess::start(
        &["--seed-scale", "0.05"],
        &[
            ("DATABASE_URL", format!("sqlite://{}", db.display())),
            ("REDIS_URL", redis.to_owned()),
            ("STRATA_ADMIN_TOKEN", "bus-latency".to_owned()),
            // Only the bus can make the other instance converge this fast.
            ("STRATA_L1__MAX_LIFETIME", "10m".to_owned()),
        ],
    )
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

pub(crate) fn run(trials: usize) -> Result<()> {
    cargo(&["build", "--release", "-p", "payshift"], &[])?;
    let server = strata_testkit::RedisServer::spawn()
        .context("redis-server is needed for this measurement")?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("payshift.db");
    let a = start(&db, &server.url())?;
    let b = start(&db, &server.url())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut samples = rt.block_on(async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let client = reqwest::Client::new();
        let mut samples = Vec::with_capacity(trials);
        for trial in 0..trials {
            let user = (trial % 50 + 1) as u32;
            headline(&client, &b.url, user).await?;
            let want = format!("headline {trial}");
            let r = client
                .put(format!("{}/accountsapp/profile/{user}", a.url))
                .json(&serde_json::json!({ "headline": want }))
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("profile update failed: {}", r.status());
            }
            let t0 = Instant::now();
            loop {
                if headline(&client, &b.url, user).await? == want {
                    break;
                }
                if t0.elapsed() > Duration::from_secs(5) {
                    bail!("trial {trial}: B still serves the old profile after 5 s");
                }
            }
            samples.push(t0.elapsed());
        }
        Ok::<_, anyhow::Error>(samples)
    })?;
    samples.sort_unstable();
    let pct = |q: f64| {
        samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)].as_secs_f64() * 1000.0
    };
    let md = format!(
        "# Bus latency: invalidation through instance A reaches instance B's L1\n\n{} trials, two payshift processes, one redis-server, loopback, 2 cores.\nMeasured from A's PUT response to the first GET on B that shows the change (includes one HTTP round trip to B).\n\n| p50 | p90 | p99 | max |\n|---|---|---|---|\n| {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |\n",
        samples.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        samples.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
    let out = crate::report_dir().join("bus-latency.md");
    std::fs::create_dir_all(out.parent().context("report dir")?)?;
    std::fs::write(&out, &md)?;
    println!("{md}\nwritten to {}", out.display());
    Ok(())
}
