//! The criterion groups: reading their estimates and the ratios against their peers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

use anyhow::Result;

/// A comparison: our benchmark id against its peer's, measured in the same run.
pub(crate) struct Ratio {
    pub(crate) label: &'static str,
    pub(crate) ours: String,
    pub(crate) peer: String,
}

pub(crate) fn ratios() -> Vec<Ratio> {
    let mut out = Vec::new();
    for payload in ["user", "job", "all_jobs_200"] {
        for (group, what) in [("codec_encode", "encode"), ("codec_decode", "decode")] {
            out.push(Ratio {
                label: leak(format!("{what} {payload}: envelope vs serde_json")),
                ours: format!("{group}/envelope/{payload}"),
                peer: format!("{group}/serde_json/{payload}"),
            });
        }
    }
    out.push(Ratio {
        label: "MemoryBackend get vs Mutex<HashMap> get",
        ours: "backend_memory/get/memory_backend".into(),
        peer: "backend_memory/get/mutex_hashmap".into(),
    });
    out.push(Ratio {
        label: "MemoryBackend set vs Mutex<HashMap> insert",
        ours: "backend_memory/set/memory_backend".into(),
        peer: "backend_memory/set/mutex_hashmap".into(),
    });
    out.push(Ratio {
        label: "L1 hit: facade get(id) vs raw moka get of the same Arc",
        ours: "facade_l1_hit/facade_get_by_id".into(),
        peer: "facade_l1_hit/raw_moka_get".into(),
    });
    out.push(Ratio {
        label: "L1 hit: hot-key sketch on vs off (goal within 5 %)",
        ours: "facade_l1_hit/facade_get_by_id".into(),
        peer: "facade_l1_hit/facade_get_by_id_no_sketch".into(),
    });
    out.push(Ratio {
        label: "L1 hit: facade get_at(&key) vs raw moka get",
        ours: "facade_l1_hit/facade_get_at_key".into(),
        peer: "facade_l1_hit/raw_moka_get".into(),
    });
    out.push(Ratio {
        label: "L1 hit: facade get_at(&key) vs raw quick_cache get (the L1's store)",
        ours: "facade_l1_hit/facade_get_at_key".into(),
        peer: "facade_l1_hit/raw_quick_cache_get".into(),
    });
    out.push(Ratio {
        label: "L1 hit: facade get(id) vs the cached crate's sharded LRU get",
        ours: "facade_l1_hit/facade_get_by_id".into(),
        peer: "facade_l1_hit/cached_crate_get".into(),
    });
    out.push(Ratio {
        label: "get_many(100) vs 100 sequential gets (L2)",
        ours: "facade_batch/get_many_100".into(),
        peer: "facade_batch/sequential_get_100".into(),
    });
    out.push(Ratio {
        label: "RedisBackend get vs raw redis-rs GET",
        ours: "backend_redis/get/redis_backend".into(),
        peer: "backend_redis/get/raw_redis_rs".into(),
    });
    out.push(Ratio {
        label: "get under an LRU quota (script) vs plain RedisBackend get",
        ours: "backend_redis/get/lru_quota".into(),
        peer: "backend_redis/get/redis_backend".into(),
    });
    out.push(Ratio {
        label: "get on a 3-primary local cluster vs one server",
        ours: "backend_redis/get/cluster".into(),
        peer: "backend_redis/get/redis_backend".into(),
    });
    out.push(Ratio {
        label: "set on a 3-primary local cluster (script) vs one server (MULTI)",
        ours: "backend_redis/set/cluster".into(),
        peer: "backend_redis/set/redis_backend".into(),
    });
    out.push(Ratio {
        label: "set under an LRU quota (script) vs plain RedisBackend set",
        ours: "backend_redis/set/lru_quota".into(),
        peer: "backend_redis/set/redis_backend".into(),
    });
    out
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Mean time in nanoseconds of every benchmark criterion recorded at or after `since`, by full
/// id (older results of groups not run this time are left out).
pub(crate) fn read_criterion(dir: &Path, since: SystemTime) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "new") {
                    let fresh = std::fs::metadata(path.join("estimates.json"))
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t >= since);
                    if let Some((id, ns)) = read_one(&path).filter(|_| fresh) {
                        out.insert(id, ns);
                    }
                } else {
                    stack.push(path);
                }
            }
        }
    }
    Ok(out)
}

fn read_one(new_dir: &Path) -> Option<(String, f64)> {
    let bench: serde_json::Value =
        serde_json::from_slice(&std::fs::read(new_dir.join("benchmark.json")).ok()?).ok()?;
    let est: serde_json::Value =
        serde_json::from_slice(&std::fs::read(new_dir.join("estimates.json")).ok()?).ok()?;
    let id = bench.get("full_id")?.as_str()?.to_owned();
    let ns = est.get("mean")?.get("point_estimate")?.as_f64()?;
    Some((id, ns))
}

pub(crate) fn read_sizes(path: &Path) -> BTreeMap<String, u64> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<BTreeMap<String, u64>>(&b).ok())
        .unwrap_or_default()
}

pub(crate) fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// The markdown tables of the criterion groups: ratios, sizes, the compression threshold.
pub(crate) fn tables(times: &BTreeMap<String, f64>, sizes: &BTreeMap<String, u64>) -> String {
    let mut s = String::from("## Micro benchmarks (criterion)\n\n");
    let _ = writeln!(
        s,
        "Ratio = our time / peer time, both measured in this run (below 1.0: we are faster).\n"
    );
    s.push_str("| comparison | ours | peer | ratio | speed-up |\n|---|---|---|---|---|\n");
    for r in ratios() {
        if let (Some(o), Some(p)) = (times.get(&r.ours), times.get(&r.peer)) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.2} | {:.2}x |",
                r.label,
                fmt_ns(*o),
                fmt_ns(*p),
                o / p,
                p / o
            );
        }
    }
    s.push_str("\n### Sizes (bytes)\n\n| payload | envelope | uncompressed envelope | serde_json | envelope / json |\n|---|---|---|---|---|\n");
    for payload in ["user", "job", "all_jobs_200"] {
        let get = |k: &str| sizes.get(&format!("{payload}/{k}")).copied();
        if let (Some(env), Some(raw), Some(json)) = (
            get("envelope"),
            get("envelope_uncompressed"),
            get("serde_json"),
        ) {
            let _ = writeln!(
                s,
                "| {payload} | {env} | {raw} | {json} | {:.2} |",
                env as f64 / json as f64
            );
        }
    }
    let mut comp: Vec<_> = sizes
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("compression/lz4/")
                .map(|l| (l.to_owned(), *v))
        })
        .collect();
    comp.sort_by_key(|(label, _)| label.trim_end_matches('B').parse::<u64>().unwrap_or(0));
    if !comp.is_empty() {
        s.push_str("\n### Compression threshold (encode+decode round trip)\n\n| msgpack payload | lz4 bytes | plain bytes | lz4 time | plain time | time ratio |\n|---|---|---|---|---|---|\n");
        for (label, lz4_bytes) in comp {
            let plain_bytes = sizes
                .get(&format!("compression/plain/{label}"))
                .copied()
                .unwrap_or(0);
            let t = |mode: &str| {
                times
                    .get(&format!("codec_compression/{mode}_roundtrip/{label}"))
                    .copied()
            };
            if let (Some(a), Some(b)) = (t("lz4"), t("plain")) {
                let _ = writeln!(
                    s,
                    "| {label} | {lz4_bytes} | {plain_bytes} | {} | {} | {:.2} |",
                    fmt_ns(a),
                    fmt_ns(b),
                    a / b
                );
            }
        }
    }
    s
}
