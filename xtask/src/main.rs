//! Project automation: `cargo xtask ci | test | bench | demo-load | bus-latency | chaos | fuzz | soak`.
//!
//! `ci` runs exactly the gates of `.ci/run` (fmt, clippy, tests, doc tests, docs), so "it
//! passed locally" means something; `bench` runs every benchmark group and writes
//! target/bench-report/{report.md, report.json} and SVG plots, with ratios against the peers
//! measured in the same run and each goal marked met or missed.

mod bench;
mod bus_latency;
mod chaos;
mod coherence_probe;
mod consistency;
mod demo_load;
mod demo_process;
mod demo_rounds;
mod demo_rows;
mod demo_table;
mod fuzz;
mod soak;
mod wrk;

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Strata project automation")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The CI gates: fmt check, clippy -D warnings, workspace tests (doc tests included), docs.
    Ci,
    /// The workspace tests (`cargo test --workspace`).
    Test,
    /// wrk against the Payshift demo (release build): the server's 404 route as the HTTP
    /// ceiling, then every GET endpoint (one hot key, random keys) on the memory backend, on a
    /// spawned Redis with and without L1, and on `--no-cache`: req/s, p50/p99 and the ratios to
    /// the ceiling and to `--no-cache`, written to target/strata-bench/demo-load.md. Installs wrk
    /// with apt-get when it is missing.
    DemoLoad {
        /// Seconds per run: each round of a row of a setup with L1 is its peer's run and its
        /// own (each row follows a 1 s warm-up); the other setups' rows are one run of this
        /// plus 1 s.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Rounds per row of a setup with L1 (its ratio is the median of its rounds').
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=20))]
        rounds: u64,
        /// Open connections (over wrk's 2 threads).
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// The demo on a spawned redis-server under a bounded load while faults are injected phase
    /// by phase (killed, paused, slowed, full, corrupted values, over-limit values); fails on any
    /// 5xx. Report in target/strata-bench/chaos.md.
    Chaos {
        /// Requests per phase.
        #[arg(long, default_value_t = 3000)]
        requests: usize,
        /// Concurrent connections.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Coverage-guided fuzz targets (cargo-fuzz with libFuzzer, `fuzz/`) for a bounded time
    /// each on a corpus kept under the target directory: the envelope decoder, key building,
    /// config parsing, the clear-cache body, response-cache entries; report in
    /// target/strata-bench/fuzz.md. Then the stable random/mutation runs CI runs for 1 s each.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Two cache instances on a spawned redis-server under mixed reads, writes and
    /// invalidations for a bounded time: memory under the L1 and quota limits, no growth after
    /// warm-up, no stale value after quiescence. Report in target/strata-bench/soak.md.
    Soak {
        /// Minutes to run.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
    },
    /// Two demo processes sharing a spawned redis-server, per coherence mode: time for an
    /// invalidation through one to reach the other's L1 (p50/p99/max over the trials), and the
    /// cost of a write in Redis commands, bytes, server CPU and a receiving instance's CPU (with
    /// 2 instances, then 6), written to target/strata-bench/bus-latency.md.
    BusLatency {
        /// Number of trials (also the writes of each cost measurement).
        #[arg(long, default_value_t = 1000)]
        trials: usize,
        /// Coherence modes to measure (comma-separated); a mode this build cannot select is
        /// skipped with a note.
        #[arg(long, value_delimiter = ',', default_values_t = [consistency::mode::Mode::Tracking, consistency::mode::Mode::Bus])]
        modes: Vec<consistency::mode::Mode>,
    },
    /// The two-instance coherence probe on the release demo: a writer PUTs profiles on instance A
    /// while readers read whoami on A and B; without faults, then with the coherence connections
    /// killed and the server paused 300 ms (`CLIENT PAUSE 300 WRITE`) every 2 s. Stale reads at
    /// W = 0, 100 ms and 1 s per mode, written to target/strata-bench/coherence-probe.md.
    CoherenceProbe {
        /// Seconds per phase.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Coherence modes to run (comma-separated); a mode this build cannot select is skipped
        /// with a note.
        #[arg(long, value_delimiter = ',', default_values_t = [consistency::mode::Mode::Tracking, consistency::mode::Mode::Bus])]
        modes: Vec<consistency::mode::Mode>,
    },
    /// At least 3 cache instances in separate processes on one spawned Redis (then a local
    /// cluster), a SQLite source of truth, a seeded workload of reads, writes and foreign writes
    /// straight into Redis; phases without and with faults (Redis restarted, coherence
    /// connections killed, CLIENT PAUSE WRITE and ALL, an instance SIGSTOPped). Stale reads at
    /// W = 0, 10 ms, 100 ms in nines per phase and coherence mode, fault detection, database
    /// loads: target/strata-bench/consistency.md.
    Consistency(consistency::ConsistencyArgs),
    /// One instance of the consistency run (started by it).
    #[command(hide = true)]
    ConsistencyInstance(consistency::instance::InstanceArgs),
    /// Every benchmark group against its peers: target/bench-report/{report.md, report.json} and SVG charts.
    Bench {
        /// A short run: under 15 minutes from a fresh clone on 2 cores, release builds included (the
        /// full run stays under 40).
        #[arg(long)]
        quick: bool,
        /// Groups to run (default all); the list comes from the code's groups.
        #[arg(help = bench::groups_help())]
        groups: Vec<String>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Cmd::Ci => ci(),
        Cmd::Test => cargo(&["test", "--workspace"], &[]),
        Cmd::Bench { quick, groups } => bench::run(quick, &groups),
        Cmd::BusLatency { trials, modes } => bus_latency::run(trials, &modes),
        Cmd::Consistency(args) => consistency::run(args),
        Cmd::ConsistencyInstance(args) => consistency::instance::run(args),
        Cmd::CoherenceProbe { seconds, modes } => coherence_probe::run(seconds, &modes),
        Cmd::Soak { minutes } => soak::run(minutes),
        Cmd::Fuzz { seconds } => fuzz::run(seconds),
        Cmd::Chaos {
            requests,
            concurrency,
        } => chaos::run(requests, concurrency),
        Cmd::DemoLoad {
            seconds,
            rounds,
            concurrency,
        } => demo_load::run(seconds, rounds as usize, concurrency),
    }
}

fn ci() -> Result<()> {
    cargo(&["fmt", "--all", "--check"], &[])?;
    cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cargo(&["test", "--workspace"], &[])?;
    cargo(
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    println!("xtask ci: all gates passed");
    Ok(())
}

/// Runs `cargo args...` from the workspace root, failing on a non-zero exit.
pub(crate) fn cargo(args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .env("STRATA_BENCH_DIR", report_dir())
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Where reports go (and benches write what the bench command reads): `strata-bench/` under
/// the target directory.
pub(crate) fn report_dir() -> std::path::PathBuf {
    target_dir().join("strata-bench")
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` when set, else `target/` of the workspace.
pub(crate) fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .map(|p| {
            if p.is_relative() {
                workspace_root().join(p)
            } else {
                p
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The workspace root (the parent of this crate's directory).
pub(crate) fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| ".".into())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn bench_help_lists_every_group() {
        let mut cli = Cli::command();
        let help = cli
            .find_subcommand_mut("bench")
            .expect("a bench subcommand")
            .render_help()
            .to_string();
        for bench::Group { name: group, .. } in &bench::GROUPS {
            assert!(help.contains(group), "`{group}` missing from:\n{help}");
        }
        assert!(help.contains("rtt"), "{help}");
    }

    #[test]
    fn the_readme_lists_every_subcommand_and_no_other() {
        let readme = include_str!("../../README.md");
        let row = readme
            .lines()
            .find(|l| l.starts_with("| `xtask` |"))
            .expect("README's xtask row");
        let documented: Vec<&str> = row
            .split("cargo xtask ")
            .nth(1)
            .expect("the subcommands")
            .trim_end_matches(['`', '|', ' '])
            .split("\\|")
            .map(str::trim)
            .collect();
        let mut listed: Vec<String> = Cli::command()
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_name().to_owned())
            .filter(|name| name != "help")
            .collect();
        listed.sort();
        let mut documented: Vec<String> = documented.iter().map(|s| (*s).to_owned()).collect();
        documented.sort();
        assert_eq!(documented, listed, "README: {row}");
    }
}
