//! The online miss-ratio curve (SHARDS, fixed-size, as `strata_stats` runs it per kind)
//! against the exact LRU curve of the hit-ratio simulator, on seeded traces of 1,000,000
//! requests (`STRATA_BENCH_QUICK=1`: 200,000). Writes target/strata-bench/mrc.md (and prints
//! it) and mrc.json; no timings.
#![allow(missing_docs)]

use std::fmt::Write as _;

use strata_benches::mrc_check::{MULTIPLES, check};
use strata_benches::sim::{Trace, scan_polluted, shifting, zipf};

/// Keys sampled at most per kind, and the initial rate: the defaults of `[analytics]`.
const SAMPLE_KEYS: usize = 8_192;
const SAMPLE_RATE: f64 = 0.1;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--") && a.parse::<f64>().is_err())
        .collect();
    if !args.is_empty()
        && !args
            .iter()
            .any(|a| "mrc".contains(a.as_str()) || a.contains("mrc"))
    {
        return;
    }
    let len = if std::env::var_os("STRATA_BENCH_QUICK").is_some() {
        200_000
    } else {
        1_000_000
    };
    let keys = 100_000;
    let budget = 10_000;
    let traces: Vec<Trace> = vec![
        zipf(keys, 0.8, len, 21),
        zipf(keys, 0.9, len, 22),
        zipf(keys, 1.0, len, 23),
        scan_polluted(keys, len, 24),
        shifting(keys, len, 25),
    ];
    let mut md = format!(
        "# Online miss-ratio curve vs exact LRU\n\nSHARDS (fixed-size: at most {SAMPLE_KEYS} keys, from a rate of {SAMPLE_RATE}) against the simulator's exact LRU, on {len} requests over {keys} keys, budget {budget} entries. Each cell: exact / estimate (error in points).\n\n| trace | final rate |"
    );
    for m in MULTIPLES {
        let _ = write!(md, " {m}x |");
    }
    md.push_str(" max error |\n|---|---|");
    for _ in MULTIPLES {
        md.push_str("---|");
    }
    md.push_str("---|\n");
    let mut rows = Vec::new();
    let mut worst = 0.0f64;
    for t in &traces {
        let (points, rate) = check(t, budget, SAMPLE_KEYS, SAMPLE_RATE);
        let _ = write!(md, "| {} | {rate:.4} |", t.name);
        let mut max = 0.0f64;
        for p in &points {
            let _ = write!(
                md,
                " {:.3} / {:.3} ({:.2}) |",
                p.exact,
                p.estimate,
                p.error_points()
            );
            max = max.max(p.error_points());
            rows.push(serde_json::json!({
                "trace": t.name, "requests": len, "keys": keys, "budget": budget,
                "multiple": p.multiple, "entries": p.entries, "exact": p.exact,
                "estimate": p.estimate, "unadjusted": p.unadjusted,
                "error_points": p.error_points(), "final_rate": rate,
            }));
        }
        worst = worst.max(max);
        let _ = writeln!(md, " {max:.2} |");
    }
    let verdict = if worst <= 2.0 { "met" } else { "missed" };
    let _ = writeln!(
        md,
        "\nGoal: within 2 points at each size: {verdict} (largest error {worst:.2} points)."
    );
    println!("{md}");
    let dir = strata_benches::report_dir();
    let _ = std::fs::write(dir.join("mrc.md"), md);
    let _ = std::fs::write(
        dir.join("mrc.json"),
        serde_json::to_string_pretty(&rows).unwrap_or_default(),
    );
}
