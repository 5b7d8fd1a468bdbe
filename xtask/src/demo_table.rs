//! The markdown tables of the end-to-end figures (the value of `demo_load::to_json`): the
//! ceilings, the static bodies of the large endpoints' sizes, and every row with its ratios.

use std::fmt::Write as _;

use serde_json::Value;

/// The uncached setup's name (its rows have no ratio to themselves).
pub(crate) const NO_CACHE: &str = "--no-cache";

/// The markdown table of the value of `demo_load::to_json`.
pub(crate) fn markdown(e2e: &Value) -> String {
    let mut s = format!(
        "wrk ({}, {} connections, {} s per row, a 1 s warm-up before each cached row) against the release demo (SQLite); the ceiling is the same server's 404 route (`{}`), measured first and, on the setups with L1, again after each endpoint: their rows are compared with the mean of the two runs around them (one line per run below), so that the drift of a shared machine's load cancels; and for a body of at least {} bytes also a static body of the same size (`{}`, same run). Hot key: id {}; random: every user (1–1,000) or job (1–2,000).\n\n| setup | ceiling req/s | p50 / p99 |\n|---|---|---|\n",
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
