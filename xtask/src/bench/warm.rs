//! The `warm` group: a restarted instance warmed from the hot set against a cold one
//! (benches/benches/warm.rs), and its section of the report.

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::Value;

use crate::cargo;

/// Runs the warm bench; what it wrote in warm.json.
pub(crate) fn run(quick: bool) -> Result<Value> {
    let env: &[(&str, &str)] = if quick {
        &[("STRATA_BENCH_QUICK", "1")]
    } else {
        &[]
    };
    cargo(&["bench", "-p", "strata-benches", "--bench", "warm"], env)?;
    let text = std::fs::read_to_string(crate::report_dir().join("warm.json"))?;
    Ok(serde_json::from_str(&text)?)
}

/// The report's "Warming" section, when the group ran.
pub(crate) fn markdown(results: &Value, s: &mut String) {
    let r = &results["warm"];
    let Some(runs) = r["runs"].as_array() else {
        return;
    };
    let _ = write!(
        s,
        "## Warming a restarted instance\n\nZipf 0.9 over {} keys, every key in L2, an L1 of {} \
         entries; a first instance served {} requests and recorded its hot set ({} keys); a new \
         instance then served the rest of the trace after `ready()`, warmed from the hot set or \
         cold. Windows of {} requests (a second at 1,000 requests/s); steady-state L1 hit ratio \
         {:.3}.\n\n| start | keys filled at start | L1 hit ratio, windows 1-3 | first 5 windows | \
         first window within 0.02 of steady | L2 reads | database loads |\n|---|---|---|---|---|---|---|\n",
        r["keys"],
        r["l1_entries"],
        r["first_instance_requests"],
        r["hot_set_recorded"],
        r["window"],
        r["steady_l1_hit_ratio"].as_f64().unwrap_or(0.0),
    );
    for run in runs {
        let first3: Vec<String> = run["l1_hit_ratio"]
            .as_array()
            .into_iter()
            .flatten()
            .take(3)
            .map(|v| format!("{:.3}", v.as_f64().unwrap_or(0.0)))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.3} | {} | {} | {} |",
            if run["warmed"] == true {
                "warmed"
            } else {
                "cold"
            },
            run["filled_at_start"],
            first3.join(", "),
            run["first_5_windows_hit_ratio"].as_f64().unwrap_or(0.0),
            run["steady_from_window"],
            run["l2_reads"],
            run["loads"],
        );
    }
    if let [warmed, cold] = runs.as_slice() {
        let saved = |k: &str| cold[k].as_i64().unwrap_or(0) - warmed[k].as_i64().unwrap_or(0);
        let _ = writeln!(
            s,
            "\nWarming saved {} L2 reads while serving (it read {} keys itself before ready, in \
             batches of 100) and {} database loads (L2 held every entry, so neither start loads).\n",
            saved("l2_reads"),
            warmed["filled_at_start"],
            saved("loads"),
        );
    }
}
