//! `strata stats --monitoring URL`: a running application's statistics and analytics, read
//! from its monitoring endpoint (`cache-stats/`): per kind, hits and misses, the loader time
//! the hits saved, each tier's misses by cause, the entries read from L2 (sizes, ages), the
//! estimated LRU hit ratio of L1 at 0.25x to 4x its budget, and the hot keys; then each L1
//! store's budget and use (the default pool and the kinds' own partitions).

use std::fmt::Write as _;

use anyhow::{Context, Result, anyhow};
use serde_json::Value;

/// Fetches `{url}/cache-stats/` with `token` and prints it.
pub(crate) async fn stats(url: &str, token: Option<&str>) -> Result<()> {
    let endpoint = format!("{}/cache-stats/", url.trim_end_matches('/'));
    let mut request = reqwest::Client::new().get(&endpoint);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("could not reach {endpoint}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .with_context(|| format!("{endpoint} did not answer JSON"))?;
    if !status.is_success() {
        let error = body["error"].as_str().unwrap_or("no detail");
        return Err(anyhow!("{endpoint} answered {status}: {error}"));
    }
    print!("{}", render(&body));
    Ok(())
}

/// The statistics as text, one block per kind.
pub(crate) fn render(stats: &Value) -> String {
    let mut out = String::new();
    let uptime = stats["uptime_secs"].as_f64().unwrap_or(0.0);
    let _ = writeln!(out, "uptime: {uptime:.0} s");
    let Some(kinds) = stats["kinds"].as_object() else {
        out.push_str("no kinds yet\n");
        return out;
    };
    for (kind, k) in kinds {
        render_kind(&mut out, kind, k);
    }
    render_l1_stores(&mut out, &stats["memory"]);
    out
}

/// Each L1 store's use against its budget: the default pool, then each kind's own partition.
fn render_l1_stores(out: &mut String, memory: &Value) {
    let mut stores: Vec<(String, &Value)> = Vec::new();
    if !memory["l1"].is_null() {
        stores.push(("default pool".to_owned(), &memory["l1"]));
    }
    if let Some(parts) = memory["l1_partitions"].as_object() {
        stores.extend(parts.iter().map(|(kind, p)| (format!("kind {kind}"), p)));
    }
    if stores.is_empty() {
        out.push_str("\nL1: off\n");
        return;
    }
    out.push_str("\nL1 stores (entries / max, bytes / max):\n");
    for (name, p) in stores {
        let n = |field: &str| p[field].as_u64().unwrap_or(0);
        let _ = writeln!(
            out,
            "  {name}: {} / {} entries, {} / {} B",
            n("entries"),
            n("max_entries"),
            n("weighted_bytes"),
            n("max_bytes"),
        );
    }
}

fn render_kind(out: &mut String, kind: &str, k: &Value) {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let _ = writeln!(
        out,
        "\nkind {kind}: {} hits, {} misses (hit rate {:.1} %), L1 {:.1} %, L2 {:.1} %",
        n(&k["hits"]),
        n(&k["misses"]),
        k["hit_rate"].as_f64().unwrap_or(0.0) * 100.0,
        k["l1"]["hit_rate"].as_f64().unwrap_or(0.0) * 100.0,
        k["l2"]["hit_rate"].as_f64().unwrap_or(0.0) * 100.0,
    );
    let _ = writeln!(
        out,
        "  loader time saved: {} ({} loads, mean {} us)",
        duration_ms(n(&k["load_time_saved_ms"])),
        n(&k["loads"]),
        n(&k["load_latency"]["mean_us"]),
    );
    for tier in ["l1", "l2"] {
        let causes = &k["misses_by_cause"][tier];
        let Some(map) = causes["causes"].as_object() else {
            continue;
        };
        let listed: Vec<String> = map
            .iter()
            .filter(|(_, v)| n(v) > 0)
            .map(|(c, v)| format!("{c} {}", n(v)))
            .collect();
        let estimated = n(&causes["estimated"]);
        let _ = writeln!(
            out,
            "  {} misses by cause ({}{}): {}",
            tier.to_uppercase(),
            n(&causes["total"]),
            if estimated > 0 {
                format!(", {estimated} of them shared out from the sample")
            } else {
                String::new()
            },
            if listed.is_empty() {
                "none".to_owned()
            } else {
                listed.join(", ")
            }
        );
    }
    render_curve(out, &k["mrc"]);
    render_entries(out, &k["entries"]);
    render_hot_keys(out, &k["hot_keys"]);
}

fn render_curve(out: &mut String, mrc: &Value) {
    let Some(points) = mrc["points"].as_array() else {
        out.push_str("  miss-ratio curve: none (L1 off, analytics off)\n");
        return;
    };
    let cells: Vec<String> = points
        .iter()
        .map(|p| {
            let ratio = p["hit_ratio"]
                .as_f64()
                .map_or("–".to_owned(), |h| format!("{:.1} %", h * 100.0));
            format!("{}x ({}): {ratio}", p["multiple"], p["entries"])
        })
        .collect();
    let _ = writeln!(
        out,
        "  LRU estimate of the L1 hit ratio (budget {} entries; {} keys sampled at rate {:.4}): {}",
        mrc["budget_entries"],
        mrc["sampled_keys"],
        mrc["sample_rate"].as_f64().unwrap_or(0.0),
        cells.join(", "),
    );
    let _ = writeln!(
        out,
        "  actual L1 hit ratio: {:.1} %",
        mrc["l1_hit_ratio"].as_f64().unwrap_or(0.0) * 100.0
    );
}

fn render_entries(out: &mut String, e: &Value) {
    let count = e["entries"].as_u64().unwrap_or(0);
    if count == 0 {
        return;
    }
    let buckets = |list: &Value, label: &str| -> String {
        list.as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["entries"].as_u64().unwrap_or(0) > 0)
            .map(|b| format!("{} {}", b[label].as_str().unwrap_or("?"), b["entries"]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "  entries read from L2: {count}, mean {} B; sizes: {}; age in L2: {}",
        e["mean_bytes"],
        buckets(&e["sizes"], "size"),
        buckets(&e["age_in_l2"], "age"),
    );
}

fn render_hot_keys(out: &mut String, hot: &Value) {
    let Some(keys) = hot.as_array() else {
        out.push_str("  hot keys: not reported (the kind keeps no hot-key sketch)\n");
        return;
    };
    out.push_str("  hot keys (estimated lookups, hits and misses, from a sample):");
    if keys.is_empty() {
        out.push_str(" none yet");
    }
    for h in keys {
        let _ = write!(
            out,
            "\n    {} {}",
            h["key"].as_str().unwrap_or("?"),
            h["count"]
        );
    }
    out.push('\n');
}

fn duration_ms(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1_000.0)
    }
}
