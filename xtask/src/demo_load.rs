//! `cargo xtask demo-load` and the bench's `e2e` group: wrk against the release demo. Each
//! server's trivial route (an unknown path: the router, the layers and a small 404 body, no
//! cache, no database) is measured first as the HTTP ceiling; every endpoint then reports
//! req/s, p50 and p99, its ratio to that ceiling and to the same request on `--no-cache`, for
//! one hot key and for random keys over every user and job, on the memory backend and on a
//! spawned Redis with and without L1. An endpoint whose body is large (at least
//! [`LARGE_BODY`] bytes, `/jobs/alljobs`) is also compared with a static body of the same size
//! served by the same server (`--bench-routes`), measured in the same run: the fair ceiling
//! for a response that moves that many bytes. On the setups with L1 (the goal's) each row is measured in
//! rounds beside its peer ([`measure`]).

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use strata_testkit::RedisServer;

use crate::demo_process::DemoProcess;
use crate::demo_rounds::measure_rounds;
use crate::demo_rows::{NO_CACHE, Row, SETUPS, Setup};
use crate::demo_table::markdown;
pub(crate) use crate::demo_table::worst_l1_ratio;
use crate::wrk::{self, Paths, WrkRun};

/// The trivial route: no handler of the demo's matches it.
const CEILING_PATH: &str = "/strata-bench/ceiling";

/// The GET endpoints: label, path template (`{}` the id), the largest id (0: no id).
const ENDPOINTS: [(&str, &str, u32); 5] = [
    ("/accountsapp/whoami/{user}", "/accountsapp/whoami/{}", 1000),
    ("/jobs/{job}", "/jobs/{}", 2000),
    ("/jobs/alljobs", "/jobs/alljobs", 0),
    ("/jobs/job-industries/", "/jobs/job-industries/", 0),
    ("/jobs/job-subcategories/", "/jobs/job-subcategories/", 0),
];

/// The hot key's id.
const HOT_ID: u32 = 42;

/// Bodies at least this large are also compared with a static body of the same size.
pub(crate) const LARGE_BODY: usize = 16 * 1024;

/// The demo's static body route (`--bench-routes`), `{}` the size in bytes.
const BODY_PATH: &str = "/strata-bench/body/{}";

/// A static body of an endpoint's size, measured on one setup's server.
pub(crate) struct BodyCeiling {
    pub(crate) setup: &'static str,
    pub(crate) endpoint: &'static str,
    pub(crate) bytes: usize,
    pub(crate) run: WrkRun,
}

/// Everything one measurement produced.
pub(crate) struct Measured {
    /// Each setup's 404 route.
    pub(crate) ceilings: Vec<Row>,
    /// Each setup's static bodies of the large endpoints' sizes.
    pub(crate) bodies: Vec<BodyCeiling>,
    pub(crate) rows: Vec<Row>,
}

/// The request variants of an endpoint.
fn variants(template: &str, max: u32) -> Vec<(&'static str, Paths)> {
    if max == 0 {
        return vec![("one", Paths::One(template.to_owned()))];
    }
    vec![
        (
            "hot",
            Paths::One(template.replace("{}", &HOT_ID.to_string())),
        ),
        (
            "random",
            Paths::Random {
                template: template.to_owned(),
                max,
            },
        ),
    ]
}

fn start(db_dir: &Path, setup: &Setup, redis: Option<&RedisServer>) -> Result<DemoProcess> {
    let args: &[&str] = if setup.no_cache { &["--no-cache"] } else { &[] };
    let mut env = vec![
        (
            "DATABASE_URL",
            format!("sqlite://{}", db_dir.join("payshift.db").display()),
        ),
        ("STRATA_ADMIN_TOKEN", "demo-load".to_owned()),
        ("PAYSHIFT_BENCH_ROUTES", "true".to_owned()),
    ];
    if setup.redis {
        env.push((
            "REDIS_URL",
            redis.context("a Redis setup without a server")?.url(),
        ));
    }
    if !setup.l1 {
        env.push(("STRATA_L1__ENABLED", "false".to_owned()));
    }
    DemoProcess::start(args, &env)
}

/// Every setup's ceilings and rows, `connections` over wrk's 2 threads. Cached setups get a
/// 1 s warm-up per request variant, so they measure hits.
///
/// The rows of the setups with L1 (the goal's) are measured in `rounds` rounds of `seconds`:
/// in each, the row's peer (the 404 route, or for a large body the static body of its size)
/// and the row, one right after the other and in alternating order (see
/// [`measure_rounds`]), so that a drift of the machine's load moves a round's peer and row
/// alike; a row's ratio is the median of its rounds' ratios. The other setups'
/// rows are one run of `seconds + 1`, compared with the setup's first ceiling run.
pub(crate) fn measure(seconds: f64, rounds: usize, connections: usize) -> Result<Measured> {
    let wrk = wrk::ensure()?;
    crate::demo_process::build_for_bench()?;
    let dir = tempfile::tempdir()?;
    let redis = RedisServer::spawn().context("starting redis-server")?;
    let ceiling_paths = Paths::One(CEILING_PATH.into());
    let mut m = Measured {
        ceilings: Vec::new(),
        bodies: Vec::new(),
        rows: Vec::new(),
    };
    for setup in &SETUPS {
        let demo = start(dir.path(), setup, Some(&redis))?;
        println!("== {} at {}", setup.name, demo.url);
        let in_rounds = setup.l1 && !setup.no_cache;
        let single = seconds + 1.0;
        let run =
            |paths: &Paths, seconds: f64| wrk::run(&wrk, &demo.url, paths, connections, seconds);
        let ceiling = run(&ceiling_paths, single)?;
        println!(
            "{:<28} {:<6} {}",
            "ceiling (404 route)",
            "one",
            line(&ceiling)
        );
        m.ceilings.push(Row {
            setup: setup.name,
            endpoint: "ceiling",
            keys: "one",
            run: ceiling,
            rounds: Vec::new(),
        });
        for (endpoint, template, max) in ENDPOINTS {
            for (i, (keys, paths)) in variants(template, max).into_iter().enumerate() {
                if !setup.no_cache {
                    run(&paths, 1.0)?;
                }
                // A large body's fair peer is a static body of its size.
                let body = match &paths {
                    Paths::One(path) if i == 0 => large_body(&demo.url, path)?,
                    _ => None,
                };
                let peer = body.as_ref().map_or(&ceiling_paths, |(_, p)| p);
                let (row, peer_run, rounds) = if in_rounds {
                    let label = format!("{endpoint:<28} {keys:<6}");
                    let (row, peer_run, rounds) =
                        measure_rounds(|p| run(p, seconds), (peer, &paths), rounds, &label)?;
                    (row, Some(peer_run), rounds)
                } else {
                    let peer_run = body.is_some().then(|| run(peer, single)).transpose()?;
                    let row = run(&paths, single)?;
                    println!("{endpoint:<28} {keys:<6} {}", line(&row));
                    (row, peer_run, Vec::new())
                };
                if let (Some((bytes, _)), Some(run)) = (&body, peer_run) {
                    let what = format!("static body, {bytes} B");
                    println!("{what:<28} {:<6} {}", "one", line(&run));
                    m.bodies.push(BodyCeiling {
                        setup: setup.name,
                        endpoint,
                        bytes: *bytes,
                        run,
                    });
                }
                m.rows.push(Row {
                    setup: setup.name,
                    endpoint,
                    keys,
                    run: row,
                    rounds,
                });
            }
        }
    }
    Ok(m)
}

/// The static body route of the size `path` answers, when that is a large body.
fn large_body(url: &str, path: &str) -> Result<Option<(usize, Paths)>> {
    let bytes = wrk::body_length(url, path)?;
    Ok((bytes >= LARGE_BODY).then(|| {
        (
            bytes,
            Paths::One(BODY_PATH.replace("{}", &bytes.to_string())),
        )
    }))
}

pub(crate) fn line(r: &WrkRun) -> String {
    format!(
        "{:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  {} bad status, {} socket errors",
        r.rps, r.p50_ms, r.p99_ms, r.bad_status, r.socket_errors
    )
}

/// The rows as JSON, each with its ratio to its setup's ceiling, to the static body of its
/// size (large bodies) and to the same request on `--no-cache` (when both were measured).
pub(crate) fn to_json(m: &Measured, seconds: f64, rounds: usize, connections: usize) -> Value {
    let (ceilings, rows) = (&m.ceilings, &m.rows);
    let body_of = |r: &Row| {
        m.bodies
            .iter()
            .find(|b| b.setup == r.setup && b.endpoint == r.endpoint)
    };
    let ceiling_of = |setup: &str| {
        ceilings
            .iter()
            .find(|c| c.setup == setup)
            .map(|c| c.run.rps)
    };
    let no_cache_of = |r: &Row| {
        rows.iter()
            .find(|n| n.setup == NO_CACHE && n.endpoint == r.endpoint && n.keys == r.keys)
            .map(|n| n.run.rps)
    };
    let out: Vec<Value> = rows
        .iter()
        .map(|r| {
            let body = body_of(r);
            // A row measured in rounds is compared with the peers of its own rounds: the 404
            // route, or the static body of its size for a large body.
            let (to_ceiling, ceiling_rps, to_body) = match (r.round_ratio(), body) {
                (Some(q), None) => (Some(q), r.peer_rps(), None),
                (Some(q), Some(_)) => (
                    crate::bench::ratio(Some(r.run.rps), ceiling_of(r.setup)),
                    ceiling_of(r.setup),
                    Some(q),
                ),
                (None, b) => (
                    crate::bench::ratio(Some(r.run.rps), ceiling_of(r.setup)),
                    ceiling_of(r.setup),
                    b.and_then(|b| crate::bench::ratio(Some(r.run.rps), Some(b.run.rps))),
                ),
            };
            let rounds: Vec<Value> = r
                .rounds
                .iter()
                .map(|q| json!({"rps": q.rps, "peer_rps": q.peer_rps, "ratio": q.ratio()}))
                .collect();
            json!({
                "setup": r.setup, "endpoint": r.endpoint, "keys": r.keys,
                "rps": r.run.rps, "p50_ms": r.run.p50_ms, "p99_ms": r.run.p99_ms,
                "requests": r.run.requests,
                "errors": r.run.bad_status + r.run.socket_errors,
                "ceiling_rps": ceiling_rps,
                "to_ceiling": to_ceiling,
                "body_bytes": body.map(|b| b.bytes),
                "to_body_ceiling": to_body,
                "to_no_cache": crate::bench::ratio(Some(r.run.rps), no_cache_of(r)),
                "rounds": rounds,
            })
        })
        .collect();
    let ceil: Vec<Value> = ceilings
        .iter()
        .map(|c| json!({"setup": c.setup, "rps": c.run.rps, "p50_ms": c.run.p50_ms, "p99_ms": c.run.p99_ms}))
        .collect();
    let bodies: Vec<Value> = m
        .bodies
        .iter()
        .map(|b| json!({"setup": b.setup, "endpoint": b.endpoint, "bytes": b.bytes, "rps": b.run.rps, "p50_ms": b.run.p50_ms, "p99_ms": b.run.p99_ms}))
        .collect();
    json!({
        "generator": "wrk -t 2", "connections": connections, "seconds": seconds, "rounds": rounds,
        "hot_id": HOT_ID, "ceiling_path": CEILING_PATH, "ceilings": ceil,
        "body_path": BODY_PATH, "large_body": LARGE_BODY, "body_ceilings": bodies, "rows": out,
    })
}

/// `cargo xtask demo-load`: the table, written to target/strata-bench/demo-load.md.
pub(crate) fn run(seconds: f64, rounds: usize, connections: usize) -> Result<()> {
    let measured = measure(seconds, rounds, connections)?;
    let e2e = to_json(&measured, seconds, rounds, connections);
    let md = format!("# Payshift demo load\n\n{}", markdown(&e2e));
    let out = crate::report_dir().join("demo-load.md");
    std::fs::create_dir_all(out.parent().context("report path")?)?;
    std::fs::write(&out, &md)?;
    println!("\n{md}\nwritten to {}", out.display());
    if measured
        .rows
        .iter()
        .any(|r| r.run.bad_status + r.run.socket_errors > 0)
    {
        bail!("some requests failed (see the errors column)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo_rows::Round;

    fn row(setup: &'static str, endpoint: &'static str, keys: &'static str, rps: f64) -> Row {
        Row {
            setup,
            endpoint,
            keys,
            run: WrkRun {
                rps,
                ..WrkRun::default()
            },
            rounds: Vec::new(),
        }
    }

    /// The static body of `/jobs/alljobs`'s size on redis + L1, at `rps`.
    fn alljobs_body(rps: f64) -> BodyCeiling {
        BodyCeiling {
            setup: "redis + L1",
            endpoint: "/jobs/alljobs",
            bytes: 915_000,
            run: WrkRun {
                rps,
                ..WrkRun::default()
            },
        }
    }

    /// A row measured in rounds of (its req/s, its peer's).
    fn in_rounds(endpoint: &'static str, keys: &'static str, rounds: &[(f64, f64)]) -> Row {
        let mut r = row("redis + L1", endpoint, keys, rounds[0].0);
        r.rounds = rounds
            .iter()
            .map(|&(rps, peer_rps)| Round { rps, peer_rps })
            .collect();
        r
    }

    #[test]
    fn ratios_refer_to_the_setups_ceiling_and_the_same_request_uncached() {
        let ceilings = [
            row("memory + L1", "ceiling", "one", 100_000.0),
            row(NO_CACHE, "ceiling", "one", 90_000.0),
        ];
        let rows = [
            row("memory + L1", "/jobs/{job}", "hot", 80_000.0),
            row("memory + L1", "/jobs/{job}", "random", 60_000.0),
            row(NO_CACHE, "/jobs/{job}", "hot", 20_000.0),
            row(NO_CACHE, "/jobs/{job}", "random", 30_000.0),
        ];
        let m = Measured {
            ceilings: ceilings.into(),
            bodies: vec![],
            rows: rows.into(),
        };
        let v = to_json(&m, 3.0, 3, 32);
        let r = &v["rows"];
        assert_eq!(r[0]["to_ceiling"], json!(0.8));
        assert_eq!(r[0]["to_no_cache"], json!(4.0));
        assert_eq!(r[1]["to_ceiling"], json!(0.6));
        assert_eq!(r[1]["to_no_cache"], json!(2.0));
        assert_eq!(r[3]["to_ceiling"], json!(1.0 / 3.0));
        let (worst, which) = worst_l1_ratio(&v).expect("a worst row");
        assert_eq!(worst, 0.6);
        assert!(which.contains("random"), "{which}");
        let md = markdown(&v);
        assert!(
            md.contains("| memory + L1 | `/jobs/{job}` | random | 60000 |"),
            "{md}"
        );
    }

    #[test]
    fn a_row_measured_in_rounds_takes_the_median_of_its_rounds_ratios() {
        // Round 2's peer ran while the machine was busy elsewhere: its ratio is the outlier.
        let rounds = [
            (60_000.0, 75_000.0),
            (66_000.0, 100_000.0),
            (90_000.0, 100_000.0),
        ];
        let m = Measured {
            ceilings: vec![row("redis + L1", "ceiling", "one", 120_000.0)],
            bodies: vec![],
            rows: vec![
                in_rounds("/jobs/{job}", "random", &rounds),
                row("redis + L1", "/jobs/{job}", "hot", 96_000.0),
            ],
        };
        let v = to_json(&m, 3.0, 3, 32);
        assert_eq!(v["rows"][0]["to_ceiling"], json!(0.8));
        assert_eq!(
            v["rows"][0]["ceiling_rps"],
            json!(100_000.0),
            "the rounds' median peer"
        );
        assert_eq!(v["rows"][0]["rounds"][1]["ratio"], json!(0.66));
        assert_eq!(
            v["rows"][1]["to_ceiling"],
            json!(0.8),
            "a row without rounds: the setup's ceiling run"
        );
        let md = markdown(&v);
        assert!(md.contains("| 0.80, 0.66, 0.90 |"), "{md}");
        assert!(md.contains("3 rounds of 3 s"), "{md}");
    }

    #[test]
    fn a_row_without_its_peer_has_no_ratio() {
        let m = Measured {
            ceilings: vec![],
            bodies: vec![],
            rows: vec![row("redis + L1", "/jobs/alljobs", "one", 5.0)],
        };
        let v = to_json(&m, 3.0, 3, 32);
        assert!(v["rows"][0]["to_ceiling"].is_null());
        assert!(v["rows"][0]["to_no_cache"].is_null());
        assert!(worst_l1_ratio(&v).is_none());
    }

    #[test]
    fn a_large_body_is_also_compared_with_a_static_body_of_its_size() {
        let m = Measured {
            ceilings: vec![row("redis + L1", "ceiling", "one", 100_000.0)],
            bodies: vec![alljobs_body(8_000.0)],
            rows: vec![
                row("redis + L1", "/jobs/alljobs", "one", 7_000.0),
                row("redis + L1", "/jobs/{job}", "hot", 90_000.0),
            ],
        };
        let v = to_json(&m, 3.0, 3, 32);
        assert_eq!(v["rows"][0]["to_ceiling"], json!(0.07));
        assert_eq!(v["rows"][0]["to_body_ceiling"], json!(0.875));
        assert_eq!(v["rows"][0]["body_bytes"], json!(915_000));
        assert!(v["rows"][1]["to_body_ceiling"].is_null());
        let (worst, which) = worst_l1_ratio(&v).expect("a worst row");
        assert_eq!(
            worst, 0.875,
            "the fair ceiling of a large body is its static twin"
        );
        assert!(which.contains("915000 B"), "{which}");
        let md = markdown(&v);
        assert!(
            md.contains("| redis + L1 | `/jobs/alljobs` | 915000 | 8000 |"),
            "{md}"
        );
        assert!(md.contains("| 0.07 | 0.88 |"), "{md}");
    }

    #[test]
    fn a_large_body_in_rounds_is_compared_with_the_static_bodies_of_its_rounds() {
        let m = Measured {
            ceilings: vec![row("redis + L1", "ceiling", "one", 100_000.0)],
            bodies: vec![alljobs_body(8_000.0)],
            rows: vec![in_rounds(
                "/jobs/alljobs",
                "one",
                &[(7_000.0, 8_000.0), (4_000.0, 5_000.0), (9_000.0, 9_000.0)],
            )],
        };
        let v = to_json(&m, 3.0, 3, 32);
        assert_eq!(v["rows"][0]["to_body_ceiling"], json!(0.875));
        assert_eq!(
            v["rows"][0]["to_ceiling"],
            json!(0.07),
            "against the 404 route's run"
        );
        assert_eq!(worst_l1_ratio(&v).expect("a worst row").0, 0.875);
    }

    #[test]
    fn endpoints_with_ids_have_a_hot_and_a_random_variant() {
        let v = variants("/jobs/{}", 2000);
        assert_eq!(v[0], ("hot", Paths::One("/jobs/42".into())));
        assert_eq!(
            v[1].1,
            Paths::Random {
                template: "/jobs/{}".into(),
                max: 2000
            }
        );
        assert_eq!(variants("/jobs/alljobs", 0).len(), 1);
    }
}
