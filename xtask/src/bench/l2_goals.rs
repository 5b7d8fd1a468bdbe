//! The goals of the L2 read (issue 27): the facade's L2 hit against raw redis-rs with its reads
//! coalesced and not, against `redis-benchmark` with pipelining, and its table.

use std::fmt::Write as _;

use super::criterion::fmt_ns;
use super::report::{Goal, Report, ratio};

impl Report {
    pub(crate) fn l2_goals(&self) -> Vec<Goal> {
        let (facade64, raw64) = (self.l2_ops("facade", 64), self.l2_ops("raw_redis_rs", 64));
        let direct64 = self.l2_ops("facade_direct", 64);
        let (bench64, piped64) = (self.redis_benchmark_ops(1), self.redis_benchmark_ops(16));
        let c1 = ratio(self.l2_ops("facade", 1), self.l2_ops("facade_direct", 1));
        vec![
            Goal {
                name: "L2 throughput at c=64: facade, reads not coalesced / raw redis-rs",
                target: 0.9,
                at_least: true,
                value: ratio(direct64, raw64),
                detail: String::new(),
            },
            Goal {
                name: "L2 throughput at c=64: facade, reads coalesced / raw redis-rs",
                target: 1.5,
                at_least: true,
                value: ratio(facade64, raw64),
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

    pub(crate) fn l2_markdown(&self, s: &mut String) {
        if self.results["l2"].is_null() {
            return;
        }
        s.push_str("## L2 hits under concurrency\n\nOne 530-byte user entry per read from a spawned redis-server, 100 keys in turn; the facade without L1 (every read an L2 hit), with the Redis bus as deployed: `facade` coalesces the reads issued together into one MGET (the default), `facade_direct` sends one GET per read (`coalesce_reads = false`); raw redis-rs is one `MultiplexedConnection` shared by the tasks, GET + the same decode.\n\n| peer | concurrency | ops/s | p50 | p99 | ops/s vs raw redis-rs |\n|---|---|---|---|---|---|\n");
        for peer in ["facade", "facade_direct", "raw_redis_rs", "cached_crate"] {
            for (c, ops, p50, p99) in self.l2(peer) {
                let raw = self.l2_ops("raw_redis_rs", c).unwrap_or(f64::NAN);
                let _ = writeln!(
                    s,
                    "| {peer} | {c} | {ops:.0} | {} | {} | {:.2} |",
                    fmt_ns(p50 * 1e3),
                    fmt_ns(p99 * 1e3),
                    ops / raw
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
