//! The markdown tables of the end-to-end figures (the value of `demo_load::to_json`): the
//! ceilings, the static bodies of the large endpoints' sizes, and every row with its ratios.

use std::fmt::Write as _;

use serde_json::Value;

use crate::demo_rows::{NO_CACHE, Row, SETUPS};

/// The markdown table of the value of `demo_load::to_json`.
pub(crate) fn markdown(e2e: &Value) -> String {
    let mut s = format!(
        "wrk ({}, {} connections, {} s per row, a 1 s warm-up before each cached row) against the release demo (SQLite); the ceiling is the same server's 404 route (`{}`), measured first and, on the setups with L1, again after each endpoint: their rows are compared with the median of the two runs around them and of the median of all the setup's runs (one line per run below), so that the drift of a shared machine's load is followed and a lone spike of one run is not; and for a body of at least {} bytes also a static body of the same size (`{}`, same run). Hot key: id {}; random: every user (1–1,000) or job (1–2,000).\n\n| setup | ceiling req/s | p50 / p99 |\n|---|---|---|\n",
        e2e["generator"].as_str().unwrap_or("wrk"),
        e2e["connections"],
        e2e["seconds"],
        e2e["ceiling_path"].as_str().unwrap_or("?"),
        e2e["large_body"],
        e2e["body_path"].as_str().unwrap_or("?"),
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
    s.push_str("\n| setup | endpoint | keys | req/s | p50 / p99 | / ceiling | / same-size body | / --no-cache | errors |\n|---|---|---|---|---|---|---|---|---|\n");
    let ratio = |v: &Value| v.as_f64().map_or("–".to_owned(), |v| format!("{v:.2}"));
    for r in e2e["rows"].as_array().into_iter().flatten() {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {:.0} | {:.2} / {:.2} ms | {} | {} | {} | {} |",
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
            r["errors"],
        );
    }
    s
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

/// Gives the rows in each bracket (rows, the ceiling run before them, the one after) of
/// `setup` their ceiling: see [`Row::ceiling_rps`](crate::demo_rows::Row::ceiling_rps).
pub(crate) fn bracket(
    rows: &mut [Row],
    ceilings: &[Row],
    setup: &str,
    brackets: Vec<(std::ops::Range<usize>, f64, f64)>,
) {
    let runs: Vec<f64> = ceilings
        .iter()
        .filter(|c| c.setup == setup)
        .map(|c| c.run.rps)
        .collect();
    for (range, before, after) in brackets {
        for r in &mut rows[range] {
            r.ceiling_rps = Some(median(&[before, after, median(&runs)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wrk::WrkRun;

    fn row(rps: f64) -> Row {
        Row {
            setup: "memory + L1",
            endpoint: "ceiling",
            keys: "one",
            run: WrkRun {
                rps,
                ..WrkRun::default()
            },
            ceiling_rps: None,
        }
    }

    #[test]
    fn the_median_takes_the_middle_value() {
        assert_eq!(median(&[145_000.0, 75_000.0, 76_000.0]), 76_000.0);
        assert_eq!(median(&[1.0, 4.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_lone_spike_of_one_ceiling_run_is_not_followed() {
        let ceilings: Vec<Row> = [75_000.0, 76_000.0, 145_000.0, 74_000.0].map(row).into();
        let mut rows = vec![row(70_000.0), row(70_000.0)];
        let spike = vec![(0..1, 76_000.0, 145_000.0), (1..2, 145_000.0, 74_000.0)];
        bracket(&mut rows, &ceilings, "memory + L1", spike);
        assert_eq!(rows[0].ceiling_rps, Some(76_000.0));
        assert_eq!(rows[1].ceiling_rps, Some(75_500.0), "the setup's median");
    }
}
