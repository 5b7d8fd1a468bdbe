//! The `memory` group (benches/benches/memory.rs): RSS growth of both tiers against their
//! budgets, its goals and its section of the report; and the table of the run's step times.

use std::fmt::Write as _;

use serde_json::Value;

use super::report::Goal;

/// The fixed base allowed on top of 1.2x the budget, per tier: the allocator's and the
/// structures' share that does not scale with the budget (runtime, connection buffers, moka's
/// frequency sketch, Redis' own dictionaries' growth steps).
pub(crate) const BASE_MIB: f64 = 8.0;

const MIB: f64 = 1024.0 * 1024.0;

/// `(growth - base) / budget` of a row's tier (`l1` or `l2`).
fn excess(row: &Value, tier: &str) -> Option<f64> {
    let growth = row[format!("{tier}_rss_growth")].as_f64()?;
    let budget = row["budget_mib"].as_f64()? * MIB;
    Some((growth - BASE_MIB * MIB).max(0.0) / budget)
}

/// Per tier: the worst row's `(growth - base) / budget`, at most 1.2.
pub(crate) fn goals(results: &Value) -> Vec<Goal> {
    let rows = results["memory"].as_array().cloned().unwrap_or_default();
    [
        ("l1", "L1 (process RSS)"),
        ("l2", "L2 (redis-server used_memory_rss)"),
    ]
    .into_iter()
    .map(|(tier, label)| {
        let worst = rows
            .iter()
            .filter_map(|r| Some((excess(r, tier)?, r)))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        Goal {
            name: if tier == "l1" {
                "memory: L1 RSS growth / budget (worst; after an 8 MiB base)"
            } else {
                "memory: L2 RSS growth / maxmemory (worst; after an 8 MiB base)"
            },
            target: 1.2,
            at_least: false,
            value: worst.map(|w| w.0),
            detail: worst.map_or(String::new(), |(_, r)| {
                format!(
                    "{label}: {} MiB, {} entries",
                    r["budget_mib"],
                    r["entry"].as_str().unwrap_or("?")
                )
            }),
        }
    })
    .collect()
}

/// The report's "Memory against the budgets" section, when the group ran.
pub(crate) fn markdown(results: &Value, s: &mut String) {
    let Some(rows) = results["memory"].as_array() else {
        return;
    };
    let _ = writeln!(
        s,
        "## Memory against the budgets\n\nEach row a fresh process and a fresh redis-server \
         (`--maxmemory` = the budget, `allkeys-lru`); `l1.max_bytes` = the budget, `max_entries` \
         = budget / 64 so that the bytes bind; 1.5x the budget written through `set` (random \
         text, which lz4 cannot shrink). Growth is RSS after the writes minus RSS before; the \
         goal is growth ≤ 1.2x the budget + {BASE_MIB} MiB.\n\n| budget | entry | written | L1 \
         entries | L1 weighed | L1 RSS growth | L1 / budget | L2 used_memory | L2 RSS growth | \
         L2 / budget |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    let mib = |v: &Value| format!("{:.1} MiB", v.as_f64().unwrap_or(f64::NAN) / MIB);
    for r in rows {
        let _ = writeln!(
            s,
            "| {} MiB | {} ({} B) | {} | {} | {} | {} | {:.2} | {} | {} | {:.2} |",
            r["budget_mib"],
            r["entry"].as_str().unwrap_or("?"),
            r["entry_bytes"],
            r["written"],
            r["l1_entries"],
            mib(&r["l1_weighted_bytes"]),
            mib(&r["l1_rss_growth"]),
            r["l1_ratio"].as_f64().unwrap_or(f64::NAN),
            mib(&r["l2_used_memory"]),
            mib(&r["l2_rss_growth"]),
            r["l2_ratio"].as_f64().unwrap_or(f64::NAN),
        );
    }
    s.push('\n');
}

/// The run's steps: time taken against the budget.
pub(crate) fn times_markdown(results: &Value, s: &mut String) {
    let Some(steps) = results["step_times"].as_array() else {
        return;
    };
    s.push_str("## Time per step\n\n| step | seconds | budget |\n|---|---|---|\n");
    for t in steps {
        let _ = writeln!(
            s,
            "| {} | {:.0} | {} |",
            t["step"].as_str().unwrap_or("?"),
            t["seconds"].as_f64().unwrap_or(f64::NAN),
            t["budget_s"]
                .as_u64()
                .map_or("– (release builds)".to_owned(), |b| format!("{b} s")),
        );
    }
    s.push('\n');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_goal_takes_the_worst_row_after_the_base() {
        let mib = MIB;
        let results = json!({"memory": [
            {"budget_mib": 64, "entry": "small", "l1_rss_growth": 64.0 * mib * 1.5 + 8.0 * mib, "l2_rss_growth": 10.0 * mib},
            {"budget_mib": 64, "entry": "large", "l1_rss_growth": 70.0 * mib, "l2_rss_growth": 4.0 * mib},
        ]});
        let found = goals(&results);
        assert_eq!(found[0].value, Some(1.5));
        assert_eq!(found[0].met(), Some(false));
        assert!(found[0].detail.contains("small"), "{}", found[0].detail);
        assert_eq!(found[1].value, Some(2.0 / 64.0));
        assert_eq!(found[1].met(), Some(true));
        assert_eq!(goals(&json!({}))[0].value, None);
    }
}
