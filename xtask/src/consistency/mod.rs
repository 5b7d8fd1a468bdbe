//! `cargo xtask consistency`: how consistent the cache is, in nines. Instances run as the
//! hidden `consistency-instance` subcommand of the release build of this same binary: the
//! driver, the instances and the checker then share one definition of the workload, the logs
//! and the record type, and no other crate carries a binary for it.

pub(crate) mod checker;
pub(crate) mod faults;
mod foreign;
pub(crate) mod instance;
pub(crate) mod log;
pub(crate) mod mode;
mod phase;
mod report;
mod source;
mod world;

use anyhow::{Context, Result};

use crate::cargo;
use mode::Mode;
use phase::{PHASES, Row, Settings};
use report::Run;
use world::{Topology, World};

/// `cargo xtask consistency`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ConsistencyArgs {
    /// Reads of the phase without faults, over all instances (per mode and topology).
    #[arg(long, default_value_t = 1_000_000)]
    reads: u64,
    /// Reads per second over all instances.
    #[arg(long, default_value_t = 20_000)]
    rate: u64,
    /// Seconds of each phase with faults.
    #[arg(long, default_value_t = 15.0)]
    fault_seconds: f64,
    /// Instance processes.
    #[arg(long, default_value_t = 3)]
    instances: u32,
    /// Records in the source.
    #[arg(long, default_value_t = 1000)]
    records: u32,
    /// Writes per second of each instance.
    #[arg(long, default_value_t = 50)]
    writes: u64,
    /// Writes per second of the foreign writer.
    #[arg(long, default_value_t = 20)]
    foreign: u64,
    /// The workload's seed.
    #[arg(long, default_value_t = 23)]
    seed: u64,
    /// Coherence modes (comma-separated); a mode this build cannot select is skipped with a note.
    #[arg(long, value_delimiter = ',', default_values_t = [Mode::Tracking, Mode::Bus])]
    modes: Vec<Mode>,
    /// Also run the first mode with `l1.unverified_for` at this value, on one server: what serving
    /// unverified L1 entries while reconnecting costs in stale reads and saves in loads ("0":
    /// not run).
    #[arg(long, default_value = "1s")]
    unverified_for: String,
    /// Skip the run on a local cluster.
    #[arg(long)]
    no_cluster: bool,
    /// A short run: 100,000 reads without faults, 6 s per fault phase (about 5 minutes).
    #[arg(long)]
    quick: bool,
}

impl ConsistencyArgs {
    fn settings(&self) -> Settings {
        Settings {
            instances: self.instances.max(1),
            records: self.records.max(10),
            reads: if self.quick {
                self.reads.min(100_000)
            } else {
                self.reads
            },
            rate: self.rate.max(1),
            writes: self.writes,
            foreign: self.foreign,
            fault_seconds: if self.quick {
                self.fault_seconds.min(6.0)
            } else {
                self.fault_seconds
            },
        }
    }
}

pub(crate) fn run(args: ConsistencyArgs) -> Result<()> {
    cargo(&["build", "--release", "-p", "xtask"], &[])?;
    let started = date();
    let s = args.settings();
    let mut runs = Vec::new();
    let mut notes = Vec::new();
    if !mode::coherence_setting_exists() {
        notes.push(
            "this build has no `coherence` setting; modes were selected with `bus = true|false`."
                .to_owned(),
        );
    }
    for (topology, mode, extra) in variants(&args) {
        let label = match &extra {
            Some(v) => format!("{mode}, l1.unverified_for = {v}"),
            None => mode.to_string(),
        };
        let mut env = match mode.env() {
            Ok(env) => env,
            Err(why) => {
                println!("consistency: skipping {mode}: {why}");
                notes.push(format!("mode `{mode}` not run: {why}"));
                continue;
            }
        };
        if let Some(v) = extra {
            env.push(("STRATA_L1__UNVERIFIED_FOR", v));
        }
        let mut world = match World::start(topology, env, s.records) {
            Ok(w) => w,
            Err(e) if topology == Topology::Cluster => {
                notes.push(format!("no run on a cluster ({label}): {e:#}"));
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut rows = Vec::new();
        for phase in PHASES {
            println!(
                "consistency: {} / {label} / {}",
                topology.name(),
                phase.slug()
            );
            let logs = world.phase(phase, &s, args.seed)?;
            let row = Row::of(phase, &logs, &world.history);
            println!(
                "  {} reads, stale W=0/10/100 ms: {:?}, oldest {:?} ns, writes {} + foreign {}, detection {}, loads {}",
                row.verdict.reads,
                row.verdict.stale,
                row.verdict.oldest_ns,
                row.instance_writes,
                row.foreign_dels + row.foreign_sets,
                row.detection.summary(),
                row.loads
            );
            rows.push(row);
        }
        runs.push(Run {
            topology,
            label,
            rows,
        });
    }
    let header = format!(
        "Run: `cargo xtask consistency{}` at commit {}, started {started}.",
        flags(&args),
        commit()
    );
    let md = report::markdown(&runs, &s, &notes, &header);
    let out = crate::report_dir().join("consistency.md");
    std::fs::create_dir_all(out.parent().context("report dir")?)?;
    std::fs::write(&out, &md)?;
    println!("\n{md}\nwritten to {}", out.display());
    Ok(())
}

/// (topology, mode, `l1.unverified_for` when not the default) of each run, in order.
fn variants(a: &ConsistencyArgs) -> Vec<(Topology, Mode, Option<String>)> {
    let mut v: Vec<_> = a
        .modes
        .iter()
        .map(|m| (Topology::Single, *m, None))
        .collect();
    if let Some(first) = a
        .modes
        .first()
        .filter(|_| !matches!(a.unverified_for.as_str(), "0" | "" | "0s"))
    {
        v.push((Topology::Single, *first, Some(a.unverified_for.clone())));
    }
    if !a.no_cluster {
        v.extend(a.modes.iter().map(|m| (Topology::Cluster, *m, None)));
    }
    v
}

fn flags(a: &ConsistencyArgs) -> String {
    let mut f = String::new();
    if a.quick {
        f.push_str(" --quick");
    }
    if a.no_cluster {
        f.push_str(" --no-cluster");
    }
    let modes: Vec<String> = a.modes.iter().map(Mode::to_string).collect();
    f.push_str(&format!(" --modes {}", modes.join(",")));
    f
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(crate::workspace_root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "?".into())
}

fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
