//! Wall time per counted hit when several threads count the hits of one kind at once: what
//! the kind's shared counters cost under contention (callgrind does not see it).
//!
//! `cargo run --release -p strata-stats --example stats_contention -- [THREADS] [HITS] [prom]`
//! (defaults: 2 threads, 20,000,000 hits each; `prom` installs a Prometheus recorder and
//! emits metrics). Every 64th hit is timed, as the L1 read path does.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use strata_stats::{Stats, Tier};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: usize = args.first().map_or(2, |a| a.parse().expect("THREADS"));
    let hits: u64 = args.get(1).map_or(20_000_000, |a| a.parse().expect("HITS"));
    let prom = args.iter().any(|a| a == "prom");
    if prom {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("recorder");
    }
    let stats = Stats::new(prom);
    let kind = stats.kind("user");
    let start = Barrier::new(threads);
    let began = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                start.wait();
                for i in 0..hits {
                    if i % 64 == 0 {
                        kind.hit(Tier::L1, i & 0xffff, Duration::from_micros(3));
                    } else {
                        kind.hit_untimed(Tier::L1, i & 0xffff);
                    }
                }
            });
        }
    });
    let wall = began.elapsed();
    let snap = stats.snapshot();
    assert_eq!(snap.kinds["user"].l1.hits, hits * threads as u64);
    println!(
        "threads={threads} hits/thread={hits} prom={prom} wall={:.3}s ns/hit/thread={:.2}",
        wall.as_secs_f64(),
        wall.as_nanos() as f64 / hits as f64
    );
}
