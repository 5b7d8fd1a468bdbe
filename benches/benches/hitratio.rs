//! Hit ratios of our policies, moka's and quick_cache's against Bélády's optimum, on Zipf, scan-polluted and
//! shifting traces, at cache sizes of 1 % and 10 % of the key space. Writes
//! target/strata-bench/hit-ratio.md (and prints it) and hit-ratio.json; no timings.
//! `STRATA_BENCH_QUICK=1` shortens the traces to 50,000 requests.
#![allow(missing_docs)]

use std::fmt::Write as _;

use strata_benches::sim::{
    Trace, hits_moka, hits_optimal, hits_quick_cache, hits_with, scan_polluted, shifting, zipf,
};
use strata_eviction::EvictionPolicy;

fn main() {
    // `cargo bench -- <filter>` passes the filter: run only when it selects this group.
    // Flags and their numeric values (`--measurement-time 2`) are not filters.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--") && a.parse::<f64>().is_err())
        .collect();
    if !args.is_empty()
        && !args
            .iter()
            .any(|a| "hitratio".contains(a.as_str()) || a.contains("hitratio"))
    {
        return;
    }
    let len = if std::env::var_os("STRATA_BENCH_QUICK").is_some() {
        50_000
    } else {
        200_000
    };
    let traces: Vec<Trace> = vec![
        zipf(10_000, 0.8, len, 1),
        zipf(10_000, 0.9, len, 2),
        zipf(10_000, 1.0, len, 3),
        scan_polluted(10_000, len, 4),
        shifting(10_000, len, 5),
    ];
    let mut md = format!(
        "# Hit ratio vs Bélády's optimum\n\nHit ratio of each policy, and in parentheses its fraction of the offline optimum, on {len} requests.\n\n| trace | cache size | optimal | LRU | Random | TTL | moka (TinyLFU) | quick_cache (S3-FIFO) |\n|---|---|---|---|---|---|---|---|\n"
    );
    let mut rows = Vec::new();
    for t in &traces {
        for pct in [1u64, 10] {
            let cap = (t.keys.min(10_000) * pct / 100).max(1);
            let n = t.requests.len() as f64;
            let best = hits_optimal(cap, t) as f64;
            let cell = |h: u64| {
                format!(
                    "{:.3} ({:.0} %)",
                    h as f64 / n,
                    100.0 * h as f64 / best.max(1.0)
                )
            };
            let (lru, random, ttl, moka, quick) = (
                hits_with(EvictionPolicy::Lru, cap, t, 7),
                hits_with(EvictionPolicy::Random, cap, t, 7),
                hits_with(EvictionPolicy::Ttl, cap, t, 7),
                hits_moka(cap, t),
                hits_quick_cache(cap, t),
            );
            let _ = writeln!(
                md,
                "| {} | {pct} % ({cap}) | {:.3} | {} | {} | {} | {} | {} |",
                t.name,
                best / n,
                cell(lru),
                cell(random),
                cell(ttl),
                cell(moka),
                cell(quick),
            );
            let ratio = |h: u64| h as f64 / n;
            rows.push(serde_json::json!({
                "trace": t.name, "size_pct": pct, "capacity": cap, "requests": len,
                "optimal": best / n, "lru": ratio(lru), "random": ratio(random),
                "ttl": ratio(ttl), "moka": ratio(moka), "quick_cache": ratio(quick),
            }));
        }
    }
    println!("{md}");
    let dir = strata_benches::report_dir();
    let _ = std::fs::write(dir.join("hit-ratio.md"), md);
    let _ = std::fs::write(
        dir.join("hit-ratio.json"),
        serde_json::to_string_pretty(&rows).unwrap_or_default(),
    );
}
