//! `cargo xtask fuzz`: the coverage-guided targets of `fuzz/` (cargo-fuzz, libFuzzer, stable
//! toolchain with `--sanitizer none`) for a bounded time each, on a corpus kept between runs,
//! then the stable random/mutation runs of the same inputs that CI runs for 1 s.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{target_dir, workspace_root};

/// The targets of `fuzz/Cargo.toml`, each with what it feeds.
const TARGETS: [(&str, &str); 5] = [
    (
        "envelope",
        "the envelope decoder (peek, decoded_size, decode)",
    ),
    ("keys", "key building (escaping, hashing, collisions)"),
    ("config", "configuration parsing"),
    (
        "clear_body",
        "the clear-cache request body, through the route",
    ),
    (
        "response_entry",
        "response-cache entries read back by the layer",
    ),
];

/// What one libFuzzer run reported.
#[derive(Debug, Default)]
struct Run {
    executions: u64,
    coverage: u64,
    features: u64,
    corpus: u64,
    crash: Option<String>,
}

pub(crate) fn run(seconds: u64) -> Result<()> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        bail!("cargo-fuzz is not installed: `cargo install --locked cargo-fuzz`");
    }
    let build_dir = target_dir().join("fuzz");
    let mut rows = Vec::new();
    for (target, what) in TARGETS {
        let corpus = target_dir().join("fuzz-corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        let seeds = workspace_root().join("fuzz/seeds").join(target);
        let artifacts = target_dir().join("fuzz-artifacts").join(target);
        std::fs::create_dir_all(&artifacts)?;
        println!("== fuzz {target} ({what}) for {seconds} s");
        let run = fuzz_one(target, &build_dir, &corpus, &seeds, &artifacts, seconds)?;
        println!(
            "   {} executions, cov {} ft {}, corpus {}{}",
            run.executions,
            run.coverage,
            run.features,
            run.corpus,
            run.crash
                .as_deref()
                .map(|c| format!(", CRASH {c}"))
                .unwrap_or_default()
        );
        rows.push((target, what, run));
    }
    let report = report(seconds, &rows);
    let out = crate::report_dir().join("fuzz.md");
    std::fs::create_dir_all(out.parent().unwrap())?;
    std::fs::write(&out, &report)?;
    println!("{report}\nwritten to {}", out.display());
    if rows.iter().any(|(_, _, r)| r.crash.is_some()) {
        bail!("a fuzz target crashed: see the artifacts above");
    }
    // The stable runs of the same inputs (what CI runs for 1 s each).
    let secs = seconds.min(10).to_string();
    let env = [("STRATA_FUZZ_SECONDS", secs.as_str())];
    crate::cargo(
        &[
            "test",
            "--release",
            "-p",
            "strata-testkit",
            "--test",
            "it",
            "--",
            "fuzz::",
            "--test-threads",
            "1",
        ],
        &env,
    )?;
    crate::cargo(
        &[
            "test",
            "--release",
            "-p",
            "strata-http",
            "--test",
            "it",
            "--",
            "fuzz_clear::",
            "fuzz_response::",
        ],
        &env,
    )
}

fn fuzz_one(
    target: &str,
    build_dir: &Path,
    corpus: &Path,
    seeds: &Path,
    artifacts: &Path,
    seconds: u64,
) -> Result<Run> {
    let mut artifact_prefix = artifacts.display().to_string();
    artifact_prefix.push('/');
    let out = Command::new("cargo")
        .current_dir(workspace_root())
        .args(["fuzz", "run", "--sanitizer", "none", "--target-dir"])
        .arg(build_dir)
        .arg(target)
        .arg(corpus)
        .arg(seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={artifact_prefix}"))
        .arg("-print_final_stats=1")
        .output()
        .with_context(|| format!("running cargo fuzz run {target}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let mut run = parse(&log);
    if !out.status.success() {
        let artifact = log
            .lines()
            .find_map(|l| l.split("Test unit written to ").nth(1))
            .unwrap_or("(no artifact written)");
        run.crash = Some(artifact.trim().to_owned());
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    Ok(run)
}

/// The last status line (`#N ... cov: C ft: F corp: K/...`) and the final stats.
fn parse(log: &str) -> Run {
    let mut run = Run::default();
    let field = |line: &str, name: &str| -> Option<u64> {
        let rest = line.split(name).nth(1)?;
        rest.trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    for line in log.lines() {
        if let Some(status) = line.strip_prefix('#') {
            if let Some(n) = status
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
            {
                run.executions = run.executions.max(n);
            }
            run.coverage = field(line, "cov:").unwrap_or(run.coverage);
            run.features = field(line, "ft:").unwrap_or(run.features);
            run.corpus = field(line, "corp:").unwrap_or(run.corpus);
        }
        if let Some(n) = field(line, "stat::number_of_executed_units:") {
            run.executions = n;
        }
    }
    run
}

fn report(seconds: u64, rows: &[(&str, &str, Run)]) -> String {
    let mut out = format!(
        "# Fuzz run ({seconds} s per target; cargo-fuzz, libFuzzer, --sanitizer none)\n\n\
         | target | what | executions | coverage (edges) | features | corpus | crashes |\n\
         |---|---|---|---|---|---|---|\n"
    );
    for (target, what, run) in rows {
        out.push_str(&format!(
            "| {target} | {what} | {} | {} | {} | {} | {} |\n",
            run.executions,
            run.coverage,
            run.features,
            run.corpus,
            run.crash.as_deref().unwrap_or("0")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libfuzzer_status_lines_are_read() {
        let log = "INFO: seed\n#2\tINITED cov: 120 ft: 130 corp: 3/40b exec/s: 0 rss: 30Mb\n\
                   #4096\tpulse  cov: 180 ft: 260 corp: 12/300b lim: 43 exec/s: 2048 rss: 31Mb\n\
                   #9000\tDONE   cov: 190 ft: 270 corp: 14/320b lim: 43 exec/s: 3000 rss: 31Mb\n\
                   stat::number_of_executed_units: 9001\n";
        let run = parse(log);
        assert_eq!(
            (run.executions, run.coverage, run.features, run.corpus),
            (9001, 190, 270, 14)
        );
    }
}
