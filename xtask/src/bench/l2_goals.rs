//! The goals of the L2 read (issue 27): the facade's L2 hit against raw redis-rs with its reads
//! coalesced and not, against `redis-benchmark` with pipelining, and its table.

use std::fmt::Write as _;

use super::criterion::fmt_ns;
use super::report::{Goal, Report, ratio};

impl Report {
    pub(crate) fn l2_goals(&self) -> Vec<Goal> {
        let facade64 = self.l2_ops("facade", 64);
        let (bench64, piped64) = (self.redis_benchmark_ops(1), self.redis_benchmark_ops(16));
        let c1 = ratio(self.l2_ops("facade", 1), self.l2_ops("facade_direct", 1));
        vec![
            Goal {
                name: "L2 throughput at c=64: facade, reads not coalesced / raw redis-rs",
                target: 0.9,
                at_least: true,
                value: self.l2_to_raw("facade_direct", 64),
                detail: String::new(),
            },
            Goal {
                name: "L2 throughput at c=64: facade, reads coalesced / raw redis-rs",
                target: 1.5,
                at_least: true,
                value: self.l2_to_raw("facade", 64),
                detail: c1.map_or(String::new(), |r| {
                    format!("at c=1, coalesced / not: {r:.2}x the throughput")
                }),
            },
            Goal {
                name: "L2 throughput at c=64: facade, coalesced / redis-benchmark -c 64 -P 16",
                target: 0.5,
                at_least: true,
                value: ratio(facade64, piped64),
                detail: format!(
                    "redis-benchmark shares the 2 cores with the server; without pipelining (-P 1): {}",
                    ratio(facade64, bench64).map_or("not measured".into(), |r| format!("{r:.2}x"))
                ),
            },
        ]
    }

    /// `peer`'s throughput at concurrency `c` against raw redis-rs: the median of the ratios
    /// within each alternating round when the run measured rounds (`to_raw`), else the ratio
    /// of the two rows.
    pub(crate) fn l2_to_raw(&self, peer: &str, c: u64) -> Option<f64> {
        let row = self.results["l2"]
            .as_array()?
            .iter()
            .find(|r| r["peer"] == peer && r["concurrency"].as_u64() == Some(c))?;
        row["to_raw"]
            .as_f64()
            .or_else(|| ratio(self.l2_ops(peer, c), self.l2_ops("raw_redis_rs", c)))
    }

    pub(crate) fn l2_markdown(&self, s: &mut String) {
        if self.results["l2"].is_null() {
            return;
        }
        s.push_str("## L2 hits under concurrency\n\nOne 530-byte user entry per read from a spawned redis-server, 100 keys in turn; the facade without L1 (every read an L2 hit), with the Redis bus as deployed: `facade` coalesces the reads issued together into one MGET (the default), `facade_direct` sends one GET per read (`coalesce_reads = false`); raw redis-rs is one `MultiplexedConnection` shared by the tasks, GET + the same decode. The facade (both ways) and raw redis-rs run in alternating rounds (`STRATA_BENCH_ROUNDS`, 3 by default): each row is a peer's median round, and its ratio to raw redis-rs is the median of the ratios within each round.\n\n| peer | concurrency | ops/s | p50 | p99 | ops/s vs raw redis-rs |\n|---|---|---|---|---|---|\n");
        for peer in ["facade", "facade_direct", "raw_redis_rs", "cached_crate"] {
            for (c, ops, p50, p99) in self.l2(peer) {
                let to_raw = self.l2_to_raw(peer, c).unwrap_or(f64::NAN);
                let _ = writeln!(
                    s,
                    "| {peer} | {c} | {ops:.0} | {} | {} | {to_raw:.2} |",
                    fmt_ns(p50 * 1e3),
                    fmt_ns(p99 * 1e3),
                );
            }
        }
        for r in self.results["redis_benchmark"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let _ = writeln!(
                s,
                "| redis-benchmark -P {} | 64 | {:.0} | {} | {} | {:.2} |",
                r["pipeline"],
                r["ops_per_sec"].as_f64().unwrap_or(0.0),
                fmt_ns(r["p50_us"].as_f64().unwrap_or(0.0) * 1e3),
                fmt_ns(r["p99_us"].as_f64().unwrap_or(0.0) * 1e3),
                r["ops_per_sec"].as_f64().unwrap_or(0.0)
                    / self.l2_ops("raw_redis_rs", 64).unwrap_or(f64::NAN)
            );
        }
        s.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn report(l2: serde_json::Value) -> Report {
        Report::new(
            true,
            &["l2"],
            BTreeMap::new(),
            BTreeMap::new(),
            json!({ "l2": l2 }),
        )
    }

    #[test]
    fn the_goal_takes_the_median_of_the_ratios_within_rounds_when_rounds_were_measured() {
        let r = report(json!([
            {"peer": "facade", "concurrency": 64, "ops_per_sec": 300.0, "to_raw": 1.55},
            {"peer": "facade_direct", "concurrency": 64, "ops_per_sec": 180.0},
            {"peer": "raw_redis_rs", "concurrency": 64, "ops_per_sec": 200.0},
        ]));
        assert_eq!(r.l2_to_raw("facade", 64), Some(1.55), "the rounds' median");
        assert_eq!(
            r.l2_to_raw("facade_direct", 64),
            Some(0.9),
            "the rows' ratio"
        );
        assert_eq!(r.l2_to_raw("facade", 16), None, "not measured");
        let goals = r.l2_goals();
        assert_eq!(goals[0].value, Some(0.9));
        assert_eq!(goals[1].value, Some(1.55));
    }
}
