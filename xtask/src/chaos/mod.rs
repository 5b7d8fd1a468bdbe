//! `cargo xtask chaos`: the Payshift demo on a spawned redis-server under a bounded load while
//! faults are injected one phase at a time. Reports, per phase, requests, non-2xx and 5xx
//! answers, p99, stale answers served and the backend errors the cache counted, plus the health
//! status seen during the fault. Fails on any 5xx or if the demo dies.

mod faults;
mod probe;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use strata_testkit::RedisServer;

use crate::cargo;
use crate::demo_process::DemoProcess;
use faults::{FAULTS, Fault, redis_cmd};
use probe::{PhaseReport, counters, health, load, p99};

const TOKEN: &str = "chaos-token";

pub(crate) fn run(requests: usize, concurrency: usize) -> Result<()> {
    cargo(&["build", "--release", "-p", "payshift"], &[])?;
    let mut chaos = Chaos::start()?;
    println!(
        "chaos: demo at {}, redis at {}",
        chaos.demo_url(),
        chaos.url
    );
    let mut reports = Vec::new();
    for fault in FAULTS {
        let report = chaos.phase(fault, requests, concurrency)?;
        println!(
            "{:<48} {:>6} req  {:>4} non-2xx  {:>4} 5xx  p99 {:>8.2} ms  stale {:>5}  health {:<9} L2 errors {:?}",
            report.name,
            report.requests,
            report.non_2xx,
            report.server_errors,
            report.p99_ms,
            report.stale,
            report.health,
            report.l2_errors
        );
        reports.push(report);
    }
    let alive = chaos.rt.block_on(health(&chaos.client, chaos.demo_url())) != "unreachable";
    let md = markdown(&reports, requests, concurrency, alive);
    let out = crate::report_dir().join("chaos.md");
    std::fs::create_dir_all(out.parent().context("report path")?)?;
    std::fs::write(&out, &md)?;
    println!("\n{md}\nwritten to {}", out.display());
    let five_xx: usize = reports.iter().map(|r| r.server_errors).sum();
    if five_xx > 0 || !alive {
        bail!("chaos: {five_xx} 5xx answers; demo alive: {alive}");
    }
    Ok(())
}

/// The run's world: a spawned redis-server, the demo on it (SQLite in a temporary directory),
/// a runtime for the load and an HTTP client.
struct Chaos {
    server: RedisServer,
    url: String,
    dir: tempfile::TempDir,
    /// `None` only while the demo restarts.
    demo: Option<DemoProcess>,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Chaos {
    fn start() -> Result<Self> {
        let server = RedisServer::spawn_with_args(&["--enable-debug-command", "yes"])
            .context("spawning redis-server (is it installed?)")?;
        let mut chaos = Self {
            url: server.url(),
            server,
            dir: tempfile::tempdir()?,
            demo: None,
            rt: tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        };
        chaos.restart_demo()?;
        Ok(chaos)
    }

    /// Stops the demo (if running) and starts a fresh instance (empty L1, fresh counters).
    fn restart_demo(&mut self) -> Result<()> {
        self.demo = None;
        self.demo = Some(DemoProcess::start(
            &["--seed-scale", "0.2"],
            &[
                (
                    "DATABASE_URL",
                    format!("sqlite://{}", self.dir.path().join("payshift.db").display()),
                ),
                ("REDIS_URL", self.url.clone()),
                ("STRATA_ADMIN_TOKEN", TOKEN.to_owned()),
                ("STRATA_OPERATION_TIMEOUT", "250ms".to_owned()),
            ],
        )?);
        Ok(())
    }

    fn demo_url(&self) -> &str {
        self.demo.as_ref().map_or("", |d| d.url.as_str())
    }

    /// One fault: from a healthy, warm service, inject it, load the demo, heal, and read what
    /// the cache counted meanwhile.
    fn phase(&mut self, fault: Fault, requests: usize, concurrency: usize) -> Result<PhaseReport> {
        self.wait_healthy(fault)?;
        self.rt.block_on(load(self.demo_url(), 400, 8));
        let stop_slow = Arc::new(AtomicBool::new(false));
        self.inject(fault, &stop_slow)?;
        // After the injection: the corrupted phases start a fresh demo (fresh counters).
        let before = self.rt.block_on(counters(&self.client, self.demo_url()));
        let health_during = {
            let (demo_url, client) = (self.demo_url().to_owned(), self.client.clone());
            self.rt.spawn(async move {
                tokio::time::sleep(Duration::from_millis(700)).await;
                health(&client, &demo_url).await
            })
        };
        let (lat, non_2xx, server_errors) =
            self.rt
                .block_on(load(self.demo_url(), requests, concurrency));
        let health = self
            .rt
            .block_on(health_during)
            .unwrap_or_else(|_| "?".into());
        stop_slow.store(true, Ordering::Release);
        self.heal(fault)?;
        std::thread::sleep(Duration::from_millis(600));
        let after = self.rt.block_on(counters(&self.client, self.demo_url()));
        Ok(PhaseReport {
            name: fault.name(),
            requests: lat.len(),
            non_2xx,
            server_errors,
            p99_ms: p99(lat),
            stale: after.stale_since(&before),
            l2_errors: after.l2_errors_since(&before),
            health,
        })
    }

    /// Each fault starts from a healthy service (closed circuit).
    fn wait_healthy(&self, fault: Fault) -> Result<()> {
        let healthy_at = Instant::now();
        while !self
            .rt
            .block_on(health(&self.client, self.demo_url()))
            .starts_with("ok")
        {
            if healthy_at.elapsed() > Duration::from_secs(30) {
                bail!(
                    "chaos: the service did not become healthy again before {:?}",
                    fault.name()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    fn inject(&mut self, fault: Fault, stop_slow: &Arc<AtomicBool>) -> Result<()> {
        match fault {
            Fault::None => {}
            Fault::Killed => self.server.stop(),
            Fault::Paused => self.server.pause()?,
            Fault::Slowed => {
                let (url, stop) = (self.url.clone(), stop_slow.clone());
                self.rt.spawn(async move {
                    while !stop.load(Ordering::Acquire) {
                        let _ = redis_cmd(&url, &["DEBUG", "SLEEP", "0.05"]).await;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                });
            }
            Fault::Full => {
                let demo_url = self.demo_url().to_owned();
                self.rt
                    .block_on(faults::fill(&self.client, &demo_url, &self.url))?;
            }
            Fault::Corrupted | Fault::Oversized => {
                self.rt.block_on(faults::plant(&self.url, fault))?;
                // A fresh instance (empty L1) so every read meets the planted bytes in Redis.
                self.restart_demo()?;
            }
        }
        Ok(())
    }

    fn heal(&mut self, fault: Fault) -> Result<()> {
        match fault {
            Fault::Killed => self.server.restart()?,
            Fault::Paused => self.server.resume()?,
            Fault::Full => self.rt.block_on(faults::unfill(&self.url))?,
            _ => {}
        }
        Ok(())
    }
}

/// The report: one row per phase, and whether the demo survived.
fn markdown(reports: &[PhaseReport], requests: usize, concurrency: usize, alive: bool) -> String {
    let mut md = format!(
        "# Chaos run ({requests} requests per phase, concurrency {concurrency}; Payshift demo, SQLite, spawned Redis; operation timeout 250 ms)\n\n| phase | requests | non-2xx | 5xx | p99 ms | stale served | health during | L2 errors counted |\n|---|---|---|---|---|---|---|---|\n"
    );
    for r in reports {
        let errors = if r.l2_errors.is_empty() {
            "none".to_owned()
        } else {
            r.l2_errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.2} | {} | {} | {} |",
            r.name, r.requests, r.non_2xx, r.server_errors, r.p99_ms, r.stale, r.health, errors
        );
    }
    let _ = writeln!(
        md,
        "\nThe demo {} the run.",
        if alive { "survived" } else { "did NOT survive" }
    );
    md
}
