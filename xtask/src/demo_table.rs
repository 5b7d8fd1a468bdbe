//! The markdown tables of the end-to-end figures (the value of `demo_load::to_json`): the
//! ceilings, the static bodies of the large endpoints' sizes, and every row with its ratios.

use std::fmt::Write as _;

use serde_json::Value;

use crate::demo_rows::{NO_CACHE, SETUPS};

/// The markdown table of the value of `demo_load::to_json`.
pub(crate) fn markdown(e2e: &Value) -> String {
    let mut s = format!(
        "wrk ({}, {} connections, a 1 s warm-up before each cached row) against the release demo (SQLite); the ceiling is the same server's 404 route (`{}`), and for a body of at least {} bytes a static body of the same size (`{}`). On the setups with L1 (the goal's), each row is measured in {} rounds of {} s: in each, its peer (the ceiling, or the static body) and the row, one right after the other (the peer first in the first and third rounds, the row first in the second), so that the drift of a shared machine's load moves both alike; the row's ratio is the median of its rounds' ratios (the rounds column), and its req/s and latencies are those of its median round. The other setups' rows are one run of {} s each, compared with the setup's ceiling run below. Hot key: id {}; random: every user (1–1,000) or job (1–2,000).\n\n| setup | ceiling req/s | p50 / p99 |\n|---|---|---|\n",
        e2e["generator"].as_str().unwrap_or("wrk"),
        e2e["connections"],
        e2e["ceiling_path"].as_str().unwrap_or("?"),
        e2e["large_body"],
        e2e["body_path"].as_str().unwrap_or("?"),
        e2e["rounds"],
        e2e["seconds"].as_f64().unwrap_or(f64::NAN),
        e2e["seconds"].as_f64().unwrap_or(f64::NAN) + 1.0,
        e2e["hot_id"],
    );
    for c in e2e["ceilings"].as_array().into_iter().flatten() {
        let f = |k: &str| c[k].as_f64().unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "| {} | {:.0} | {:.2} / {:.2} ms |",
            c["setup"].as_str().unwrap_or("?"),
            f("rps"),
            f("p50_ms"),
            f("p99_ms")
        );
    }
    let bodies = e2e["body_ceilings"].as_array().cloned().unwrap_or_default();
    if !bodies.is_empty() {
        s.push_str(
            "\n| setup | static body of | bytes | req/s | p50 / p99 |\n|---|---|---|---|---|\n",
        );
    }
    for b in &bodies {
        let f = |k: &str| b[k].as_f64().unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {:.0} | {:.2} / {:.2} ms |",
            b["setup"].as_str().unwrap_or("?"),
            b["endpoint"].as_str().unwrap_or("?"),
            b["bytes"],
            f("rps"),
            f("p50_ms"),
            f("p99_ms")
        );
    }
    s.push_str("\n| setup | endpoint | keys | req/s | p50 / p99 | / ceiling | / same-size body | / --no-cache | rounds (/ peer) | errors |\n|---|---|---|---|---|---|---|---|---|---|\n");
    let ratio = |v: &Value| v.as_f64().map_or("–".to_owned(), |v| format!("{v:.2}"));
    for r in e2e["rows"].as_array().into_iter().flatten() {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {:.0} | {:.2} / {:.2} ms | {} | {} | {} | {} | {} |",
            r["setup"].as_str().unwrap_or("?"),
            r["endpoint"].as_str().unwrap_or("?"),
            r["keys"].as_str().unwrap_or("?"),
            f("rps"),
            f("p50_ms"),
            f("p99_ms"),
            ratio(&r["to_ceiling"]),
            ratio(&r["to_body_ceiling"]),
            if r["setup"] == NO_CACHE {
                "–".to_owned()
            } else {
                ratio(&r["to_no_cache"])
            },
            rounds(&r["rounds"]),
            r["errors"],
        );
    }
    s
}

/// A row's rounds' ratios to their peers, in the order measured ("–" without rounds).
fn rounds(v: &Value) -> String {
    let ratios: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|q| q["ratio"].as_f64())
        .map(|q| format!("{q:.2}"))
        .collect();
    if ratios.is_empty() {
        "–".to_owned()
    } else {
        ratios.join(", ")
    }
}

/// The median of `values` (the mean of the middle two for an even count; NaN for none).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The worst ratio to the fair ceiling among the cached rows served from L1, and its row: the
/// static body of the same size for a large body, else the 404 route.
pub(crate) fn worst_l1_ratio(e2e: &Value) -> Option<(f64, String)> {
    let l1_setups: Vec<&str> = SETUPS
        .iter()
        .filter(|s| s.l1 && !s.no_cache)
        .map(|s| s.name)
        .collect();
    e2e["rows"]
        .as_array()?
        .iter()
        .filter(|r| l1_setups.iter().any(|s| r["setup"] == *s))
        .filter_map(|r| {
            let (v, against) = match r["to_body_ceiling"].as_f64() {
                Some(v) => (v, format!(" (vs a static {} B body)", r["body_bytes"])),
                None => (r["to_ceiling"].as_f64()?, String::new()),
            };
            Some((
                v,
                format!(
                    "`{}` {} on {}{against}",
                    r["endpoint"].as_str()?,
                    r["keys"].as_str()?,
                    r["setup"].as_str()?
                ),
            ))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_takes_the_middle_value() {
        assert_eq!(median(&[145_000.0, 75_000.0, 76_000.0]), 76_000.0);
        assert_eq!(median(&[1.0, 4.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
