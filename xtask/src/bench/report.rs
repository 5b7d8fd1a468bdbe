//! The report: machine, goals (met or missed), every group's table, as JSON and markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

use serde_json::{Value, json};

use super::criterion::tables;

/// One goal of issue 8: a ratio from this run against its target.
pub(crate) struct Goal {
    pub(crate) name: &'static str,
    /// `>= target` when `at_least`, else `<= target`.
    pub(crate) target: f64,
    pub(crate) at_least: bool,
    pub(crate) value: Option<f64>,
    pub(crate) detail: String,
}

impl Goal {
    pub(crate) fn met(&self) -> Option<bool> {
        self.value.map(|v| {
            if self.at_least {
                v >= self.target
            } else {
                v <= self.target
            }
        })
    }
}

/// Everything measured in one run.
pub(crate) struct Report {
    quick: bool,
    groups: Vec<String>,
    machine: Value,
    times: BTreeMap<String, f64>,
    sizes: BTreeMap<String, u64>,
    pub(crate) results: Value,
}

impl Report {
    pub(crate) fn new(
        quick: bool,
        groups: &[&str],
        times: BTreeMap<String, f64>,
        sizes: BTreeMap<String, u64>,
        results: Value,
    ) -> Self {
        Self {
            quick,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            machine: machine(),
            times,
            sizes,
            results,
        }
    }

    pub(crate) fn time(&self, id: &str) -> Option<f64> {
        self.times.get(id).copied()
    }

    /// Rows of the load bench's L2 group for `peer`, by concurrency.
    pub(crate) fn l2(&self, peer: &str) -> Vec<(u64, f64, f64, f64)> {
        self.results["l2"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["peer"] == peer)
            .map(|r| {
                (
                    r["concurrency"].as_u64().unwrap_or(0),
                    r["ops_per_sec"].as_f64().unwrap_or(0.0),
                    r["p50_us"].as_f64().unwrap_or(0.0),
                    r["p99_us"].as_f64().unwrap_or(0.0),
                )
            })
            .collect()
    }

    pub(crate) fn l2_ops(&self, peer: &str, concurrency: u64) -> Option<f64> {
        self.l2(peer)
            .into_iter()
            .find(|r| r.0 == concurrency)
            .map(|r| r.1)
    }

    pub(crate) fn redis_benchmark_ops(&self, pipeline: u64) -> Option<f64> {
        self.results["redis_benchmark"]
            .as_array()?
            .iter()
            .find(|r| r["pipeline"].as_u64() == Some(pipeline))?["ops_per_sec"]
            .as_f64()
    }

    pub(crate) fn goals(&self) -> Vec<Goal> {
        let mut goals = self.tier_goals();
        goals.extend(self.l2_goals());
        goals.extend(self.codec_goals());
        goals.push(self.demo_goal());
        goals.extend(self.analytics_goals());
        goals.extend(super::memory::goals(&self.results));
        goals
    }

    /// The L1 hit against moka, L2 throughput against redis-rs and redis-benchmark, batches.
    fn tier_goals(&self) -> Vec<Goal> {
        let l1 = ratio(
            self.time("facade_l1_hit/facade_get_by_id"),
            self.time("facade_l1_hit/raw_moka_get"),
        );
        let l1_at = ratio(
            self.time("facade_l1_hit/facade_get_at_key"),
            self.time("facade_l1_hit/raw_moka_get"),
        );
        vec![
            Goal {
                name: "L1 hit: facade get(id) / raw moka get",
                target: 1.3,
                at_least: false,
                value: l1,
                detail: format!(
                    "get_at(&key), the key built once: {}",
                    l1_at.map_or("not measured".into(), |v| format!("{v:.2}x"))
                ),
            },
            Goal {
                name: "L1 hit: hot-key sketch on / off",
                target: 1.05,
                at_least: false,
                value: ratio(
                    self.time("facade_l1_hit/facade_get_by_id"),
                    self.time("facade_l1_hit/facade_get_by_id_no_sketch"),
                ),
                detail: "one lookup in 16 sampled (`[hot_keys]`)".into(),
            },
            Goal {
                name: "get_many(100) speed-up over 100 sequential gets",
                target: 10.0,
                at_least: true,
                value: ratio(
                    self.time("facade_batch/sequential_get_100"),
                    self.time("facade_batch/get_many_100"),
                ),
                detail: String::new(),
            },
        ]
    }

    /// The envelope against serde_json: encode and decode speed, size.
    fn codec_goals(&self) -> Vec<Goal> {
        let size = |k: &str| self.sizes.get(k).map(|v| *v as f64);
        vec![
            Goal {
                name: "encode speed-up over serde_json (user)",
                target: 3.0,
                at_least: true,
                value: ratio(
                    self.time("codec_encode/serde_json/user"),
                    self.time("codec_encode/envelope/user"),
                ),
                detail: String::new(),
            },
            Goal {
                name: "decode speed-up over serde_json (user)",
                target: 1.8,
                at_least: true,
                value: ratio(
                    self.time("codec_decode/serde_json/user"),
                    self.time("codec_decode/envelope/user"),
                ),
                detail: String::new(),
            },
            Goal {
                name: "envelope bytes / serde_json bytes (user)",
                target: 0.6,
                at_least: false,
                value: ratio(size("user/envelope"), size("user/serde_json")),
                detail: "field names are kept (schema evolution), see docs/benchmarks.md".into(),
            },
        ]
    }

    /// The demo's cached endpoints served from L1 against the same server's ceiling.
    fn demo_goal(&self) -> Goal {
        let worst = crate::demo_load::worst_l1_ratio(&self.results["e2e"]);
        Goal {
            name: "demo with L1 hits: req/s / the same server's 404 route (worst endpoint)",
            target: 0.8,
            at_least: true,
            value: worst.as_ref().map(|w| w.0),
            detail: worst.map_or(String::new(), |w| w.1),
        }
    }

    pub(crate) fn json(&self) -> Value {
        let goals: Vec<Value> = self
            .goals()
            .iter()
            .map(|g| {
                json!({
                    "goal": g.name, "target": g.target,
                    "direction": if g.at_least { "at least" } else { "at most" },
                    "value": g.value, "met": g.met(), "detail": g.detail,
                })
            })
            .collect();
        json!({
            "quick": self.quick,
            "groups": self.groups,
            "machine": self.machine,
            "goals": goals,
            "criterion_mean_ns": self.times,
            "sizes": self.sizes,
            "results": self.results,
        })
    }

    pub(crate) fn markdown(&self, svgs: &[String]) -> String {
        let mut s = String::from("# Strata benchmark report\n\n");
        let m = &self.machine;
        let _ = writeln!(
            s,
            "{} run of {} on {}: {} cores, {} GiB, {}, {}, release profile. Every ratio compares \
             with the peer measured in the same run.\n",
            if self.quick { "Quick" } else { "Full" },
            m["date"].as_str().unwrap_or("?"),
            m["os"].as_str().unwrap_or("?"),
            m["cores"],
            m["memory_gib"],
            m["redis"].as_str().unwrap_or("redis-server not found"),
            m["rustc"].as_str().unwrap_or("?"),
        );
        s.push_str(
            "## Goals\n\n| goal | target | this run | met | notes |\n|---|---|---|---|---|\n",
        );
        for g in self.goals() {
            let _ = writeln!(
                s,
                "| {} | {} {} | {} | {} | {} |",
                g.name,
                if g.at_least { "≥" } else { "≤" },
                g.target,
                g.value.map_or("not measured".into(), |v| format!("{v:.2}")),
                match g.met() {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "–",
                },
                g.detail
            );
        }
        s.push('\n');
        for svg in svgs {
            let _ = writeln!(s, "![{svg}]({svg})\n");
        }
        if !self.times.is_empty() {
            s.push_str(&tables(&self.times, &self.sizes));
            s.push('\n');
        }
        self.l2_markdown(&mut s);
        self.stampede_markdown(&mut s);
        self.hitratio_markdown(&mut s);
        super::warm::markdown(&self.results, &mut s);
        super::memory::markdown(&self.results, &mut s);
        self.e2e_markdown(&mut s);
        self.rtt_markdown(&mut s);
        super::memory::times_markdown(&self.results, &mut s);
        s
    }

    fn rtt_markdown(&self, s: &mut String) {
        let rtt = &self.results["rtt"];
        if rtt.is_null() {
            return;
        }
        s.push_str("## Round trips at network latency

The testkit's proxy adds the latency to every client-to-server burst in front of a spawned redis-server and counts the round trips; sequential operations (one client), p50 / p99.

| +latency | operation | round trips | p50 / p99 | peer | peer round trips | peer p50 | ratio (p50) |\n|---|---|---|---|---|---|---|---|\n");
        for r in rtt["facade"].as_array().into_iter().flatten() {
            let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            let p = &r["peer"];
            let _ = writeln!(
                s,
                "| {} ms | {} | {:.2} | {:.2} / {:.2} ms | {} | {:.2} | {:.2} ms | {:.2} |",
                r["latency_ms"],
                r["what"].as_str().unwrap_or("?"),
                f(r, "round_trips"),
                f(r, "p50_ms"),
                f(r, "p99_ms"),
                p["name"].as_str().unwrap_or("–"),
                f(p, "round_trips"),
                f(p, "p50_ms"),
                f(r, "p50_ms") / f(p, "p50_ms"),
            );
        }
        s.push_str("\nThe demo (release, SQLite) on Redis through the proxy, against the same requests on `--no-cache`:\n\n| +latency | request | round trips | p50 / p99 | `--no-cache` p50 | ratio (p50) |\n|---|---|---|---|---|---|\n");
        for r in rtt["demo"].as_array().into_iter().flatten() {
            let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
            let _ = writeln!(
                s,
                "| {} ms | `{}` | {:.2} | {:.2} / {:.2} ms | {:.2} ms | {:.2} |",
                r["latency_ms"],
                r["what"].as_str().unwrap_or("?"),
                f("round_trips"),
                f("p50_ms"),
                f("p99_ms"),
                f("no_cache_p50_ms"),
                f("p50_ms") / f("no_cache_p50_ms"),
            );
        }
        s.push('\n');
    }

    fn stampede_markdown(&self, s: &mut String) {
        let Some(rows) = self.results["stampede"].as_array() else {
            return;
        };
        s.push_str("## Stampede\n\n1,000 concurrent requests for one cold key; the loader takes 20 ms.\n\n| mode | loader calls | wall time |\n|---|---|---|\n");
        for r in rows {
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} ms |",
                r["mode"].as_str().unwrap_or("?"),
                r["loader_calls"],
                r["wall_ms"].as_f64().unwrap_or(0.0)
            );
        }
        s.push('\n');
    }

    fn hitratio_markdown(&self, s: &mut String) {
        let Some(rows) = self.results["hitratio"].as_array() else {
            return;
        };
        s.push_str("## Hit ratio against Bélády's optimum\n\nHit ratio, and in parentheses the fraction of the offline optimum.\n\n| trace | size | optimal | LRU | Random | TTL | moka |\n|---|---|---|---|---|---|---|\n");
        for r in rows {
            let opt = r["optimal"].as_f64().unwrap_or(0.0);
            let cell = |k: &str| {
                let v = r[k].as_f64().unwrap_or(0.0);
                format!("{v:.3} ({:.0} %)", 100.0 * v / opt.max(f64::MIN_POSITIVE))
            };
            let _ = writeln!(
                s,
                "| {} | {} % ({}) | {opt:.3} | {} | {} | {} | {} |",
                r["trace"].as_str().unwrap_or("?"),
                r["size_pct"],
                r["capacity"],
                cell("lru"),
                cell("random"),
                cell("ttl"),
                cell("moka")
            );
        }
        s.push('\n');
    }

    fn e2e_markdown(&self, s: &mut String) {
        if self.results["e2e"]["rows"].is_array() {
            s.push_str("## The demo end to end\n\n");
            s.push_str(&crate::demo_table::markdown(&self.results["e2e"]));
            s.push('\n');
        }
    }
}

/// Cores, memory, OS, Redis and compiler versions, and the date.
fn machine() -> Value {
    let out = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| (kb / 1024.0 / 1024.0).round());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        });
    json!({
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "memory_gib": memory_gib,
        "os": os,
        "redis": out("redis-server", &["--version"]).map(|v| {
            v.split_whitespace()
                .find_map(|w| w.strip_prefix("v="))
                .map_or(v.clone(), |ver| format!("Redis {ver}"))
        }),
        "rustc": out("rustc", &["-V"]),
        "date": out("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
    })
}

/// `a / b` when both were measured and `b` is positive.
pub(crate) fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}
