//! `cargo xtask bench`: runs every benchmark group (or the ones named) with progress output,
//! then writes target/bench-report/{report.md, report.json} and SVG plots, with each ratio
//! against the peer measured in the same run and each goal marked met or missed.

mod analytics_goals;
mod criterion;
mod l2_goals;
mod memory;
mod plots;
mod report;
mod rtt;
mod warm;

use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::{cargo, workspace_root};
pub(crate) use report::ratio;

/// A bench group: its name, what it measures, and its time budget (quick and full run, in
/// seconds, release builds not included), printed in `--help` and checked after each run.
pub(crate) struct Group {
    pub(crate) name: &'static str,
    pub(crate) what: &'static str,
    pub(crate) quick_s: u64,
    pub(crate) full_s: u64,
}

const fn group(name: &'static str, what: &'static str, quick_s: u64, full_s: u64) -> Group {
    Group {
        name,
        what,
        quick_s,
        full_s,
    }
}

/// The groups, in the order they run.
pub(crate) const GROUPS: [Group; 12] = [
    group(
        "codec",
        "envelope vs serde_json: encode, decode, bytes; the compression threshold",
        60,
        150,
    ),
    group(
        "backend",
        "MemoryBackend vs a Mutex<HashMap>; RedisBackend vs raw redis-rs, quotas, cluster",
        60,
        150,
    ),
    group(
        "l1",
        "L1 hits: facade (hot-key sketch, analytics on and off) vs raw moka vs raw quick_cache vs the cached crate",
        45,
        120,
    ),
    group("batch", "get_many(100) vs 100 sequential gets", 15, 40),
    group(
        "l2",
        "L2 hits at concurrency 1/16/64 vs raw redis-rs (3 alternating rounds), the cached crate, redis-benchmark",
        50,
        240,
    ),
    group(
        "stampede",
        "1,000 concurrent cold requests with and without single flight",
        10,
        20,
    ),
    group(
        "hitratio",
        "hit ratio of LRU/Random/TTL/moka against Bélády's optimum",
        30,
        120,
    ),
    group(
        "warm",
        "a restarted instance warmed from the hot set vs cold: hit ratio over its first seconds",
        20,
        60,
    ),
    group(
        "mrc",
        "the online miss-ratio curve (SHARDS) against the exact LRU curve, 1,000,000 requests",
        30,
        120,
    ),
    group(
        "memory",
        "RSS growth of L1 (the process) and L2 (redis-server) against 64/256 MiB budgets, 200 B/2 KB/200 KB entries",
        60,
        240,
    ),
    group(
        "e2e",
        "wrk against the release demo: each endpoint (hot and random keys; memory, Redis with and without L1) vs the server's 404 route and --no-cache",
        180,
        420,
    ),
    group(
        "rtt",
        "round trips and latency at +0.5/+1 ms per round trip: facade vs cache-aside, demo vs --no-cache",
        60,
        150,
    ),
];

/// The help text of the groups argument: every group with its time budgets, in run order.
pub(crate) fn groups_help() -> String {
    let mut s = String::from(
        "Groups to run (default all), with their time budgets (quick / full run, release builds \
         not included; the builds take 5 to 8 minutes on 2 cores from a fresh clone):",
    );
    for g in &GROUPS {
        s.push_str(&format!(
            "\n  {:<9} {:>4} s / {:>4} s  {}",
            g.name, g.quick_s, g.full_s, g.what
        ));
    }
    s
}

/// The time budget of `step` (the sum of its groups').
fn step_budget(step: &str, groups: &[&str], quick: bool) -> u64 {
    GROUPS
        .iter()
        .filter(|g| groups.contains(&g.name) && step_of(g.name) == step)
        .map(|g| if quick { g.quick_s } else { g.full_s })
        .sum()
}

/// The step that runs `group`.
fn step_of(group: &str) -> &str {
    if criterion_filter(group).is_some() {
        "criterion"
    } else if matches!(group, "l2" | "stampede") {
        "load"
    } else {
        group
    }
}

/// Criterion's filter for a group of ours, and the bench binary that holds it.
fn criterion_filter(group: &str) -> Option<(&'static str, &'static str)> {
    Some(match group {
        "codec" => ("codec", "^codec"),
        "backend" => ("backend", "^backend_"),
        "l1" => ("facade", "^facade_l1_hit"),
        "batch" => ("facade", "^facade_batch"),
        _ => return None,
    })
}

pub(crate) fn run(quick: bool, selected: &[String]) -> Result<()> {
    let groups = chosen_groups(selected)?;
    let root = workspace_root();
    let started = Instant::now();
    let since = SystemTime::now();
    let mut results = serde_json::Map::new();
    let steps = step_list(&groups);
    let mut times = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        println!(
            "\n==> [{}/{}] {step} ({:.0?} so far)",
            i + 1,
            steps.len(),
            started.elapsed()
        );
        let t = Instant::now();
        run_step(step, &groups, quick, &mut results)?;
        let seconds = t.elapsed().as_secs_f64();
        let budget = (*step != "build").then(|| step_budget(step, &groups, quick));
        if let Some(b) = budget.filter(|b| seconds > *b as f64) {
            println!("note: {step} took {seconds:.0} s, over its budget of {b} s");
        }
        times.push(json!({"step": step, "seconds": seconds, "budget_s": budget}));
    }
    results.insert("step_times".into(), Value::Array(times));
    // Criterion writes under the target directory, wherever CARGO_TARGET_DIR puts it.
    let target = crate::target_dir();
    let times = criterion::read_criterion(&target.join("criterion"), since)?;
    let sizes = if groups.contains(&"codec") {
        criterion::read_sizes(&crate::report_dir().join("sizes.json"))
    } else {
        Default::default()
    };
    let out_dir = crate::target_dir().join("bench-report");
    std::fs::create_dir_all(&out_dir)?;
    let report = report::Report::new(quick, &groups, times, sizes, Value::Object(results));
    let svgs = plots::draw(&report, &out_dir)?;
    std::fs::write(
        out_dir.join("report.json"),
        serde_json::to_string_pretty(&report.json())?,
    )?;
    let md = report.markdown(&svgs);
    std::fs::write(out_dir.join("report.md"), &md)?;
    println!("\n{md}");
    if !quick && selected.is_empty() {
        let docs = root.join("docs/bench");
        std::fs::create_dir_all(&docs)?;
        for svg in &svgs {
            std::fs::copy(out_dir.join(svg), docs.join(svg))?;
        }
        println!("plots copied to {}", docs.display());
    }
    println!(
        "report: {} ({:.0?} in all)",
        out_dir.join("report.md").display(),
        started.elapsed()
    );
    Ok(())
}

/// The groups to run: those named (each checked), or all of them.
fn chosen_groups(selected: &[String]) -> Result<Vec<&'static str>> {
    for g in selected {
        if !GROUPS.iter().any(|group| group.name == g) {
            let names: Vec<&str> = GROUPS.iter().map(|g| g.name).collect();
            bail!(
                "unknown bench group {g:?}; the groups are {}",
                names.join(", ")
            );
        }
    }
    Ok(GROUPS
        .iter()
        .map(|g| g.name)
        .filter(|n| selected.is_empty() || selected.iter().any(|s| s == n))
        .collect())
}

/// Runs one step of [`step_list`], adding what it measured (criterion's go to its own files).
fn run_step(
    step: &str,
    groups: &[&str],
    quick: bool,
    results: &mut serde_json::Map<String, Value>,
) -> Result<()> {
    match step {
        "build" => build(groups)?,
        "criterion" => run_criterion(groups, quick)?,
        "load" => {
            if let Value::Object(m) = run_load(groups, quick)? {
                results.extend(m);
            }
        }
        "memory" => {
            let env: &[(&str, &str)] = if quick {
                &[("STRATA_BENCH_QUICK", "1")]
            } else {
                &[]
            };
            cargo(&["bench", "-p", "strata-benches", "--bench", "memory"], env)?;
            let text = std::fs::read_to_string(crate::report_dir().join("memory.json"))
                .context("the memory bench wrote no memory.json")?;
            results.insert("memory".into(), serde_json::from_str(&text)?);
        }
        "hitratio" | "mrc" => {
            let env: &[(&str, &str)] = if quick {
                &[("STRATA_BENCH_QUICK", "1")]
            } else {
                &[]
            };
            cargo(&["bench", "-p", "strata-benches", "--bench", step], env)?;
            let file = if step == "mrc" {
                "mrc.json"
            } else {
                "hit-ratio.json"
            };
            let text = std::fs::read_to_string(crate::report_dir().join(file))?;
            results.insert(step.into(), serde_json::from_str(&text)?);
        }
        "warm" => {
            results.insert("warm".into(), warm::run(quick)?);
        }
        "e2e" => {
            results.insert("e2e".into(), run_e2e(quick)?);
        }
        "rtt" => {
            results.insert("rtt".into(), rtt::run(quick)?);
        }
        _ => unreachable!(),
    }
    Ok(())
}

/// The load bench (its `l2` and `stampede` groups among `groups`): what it wrote in load.json.
fn run_load(groups: &[&str], quick: bool) -> Result<Value> {
    let seconds = if quick { "1" } else { "5" };
    let args: Vec<&str> = groups
        .iter()
        .copied()
        .filter(|g| matches!(*g, "l2" | "stampede"))
        .collect();
    let mut cmd = vec!["bench", "-p", "strata-benches", "--bench", "load", "--"];
    cmd.extend(args);
    cargo(&cmd, &[("STRATA_BENCH_SECONDS", seconds)])?;
    let text = std::fs::read_to_string(crate::report_dir().join("load.json"))
        .context("the load bench wrote no load.json")?;
    Ok(serde_json::from_str(&text)?)
}

/// The demo's endpoints under wrk against the same server's ceiling (see [`crate::demo_load`]).
fn run_e2e(quick: bool) -> Result<Value> {
    let (seconds, rounds, connections) = (if quick { 1.0 } else { 3.0 }, 3, 32);
    let measured = crate::demo_load::measure(seconds, rounds, connections)?;
    Ok(crate::demo_load::to_json(
        &measured,
        seconds,
        rounds,
        connections,
    ))
}

/// The steps for `groups`: the release builds, criterion once for all its groups, the load
/// bench once, then each other group, in [`GROUPS`]' order.
fn step_list(groups: &[&str]) -> Vec<&'static str> {
    let mut steps = vec!["build"];
    for g in GROUPS.iter().filter(|g| groups.contains(&g.name)) {
        let step = step_of(g.name);
        let step = GROUPS
            .iter()
            .map(|g| g.name)
            .chain(["criterion", "load"])
            .find(|s| *s == step)
            .unwrap_or(g.name);
        if !steps.contains(&step) {
            steps.push(step);
        }
    }
    steps
}

/// The release builds the chosen groups need, so that the groups' times are their own.
fn build(groups: &[&str]) -> Result<()> {
    if groups.iter().any(|g| !matches!(*g, "e2e" | "rtt")) {
        cargo(&["bench", "-p", "strata-benches", "--no-run"], &[])?;
    }
    if groups.iter().any(|g| matches!(*g, "e2e" | "rtt")) {
        crate::demo_process::build_for_bench()?;
    }
    Ok(())
}

fn run_criterion(groups: &[&str], quick: bool) -> Result<()> {
    let mut benches: Vec<&str> = Vec::new();
    let mut filters: Vec<&str> = Vec::new();
    for (bench, filter) in groups.iter().filter_map(|g| criterion_filter(g)) {
        if !benches.contains(&bench) {
            benches.push(bench);
        }
        filters.push(filter);
    }
    let regex = filters.join("|");
    let mut args = vec!["bench", "-p", "strata-benches"];
    for b in &benches {
        args.extend(["--bench", b]);
    }
    args.extend(["--", regex.as_str()]);
    // With a fresh build (about 4 minutes of the quick run on 2 cores) the quick times keep
    // `--quick` under 10 minutes. The full run's (criterion's defaults are 3 s and 5 s) keep
    // its step within the budget: 493 s against 460 s with the defaults (2026-12-04 full run).
    let (warm_up, measure) = if quick { ("0.5", "1.5") } else { ("2", "4") };
    args.extend(["--warm-up-time", warm_up, "--measurement-time", measure]);
    cargo(&args, &[])
}
