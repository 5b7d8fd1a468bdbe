//! `cargo xtask demo-load` and the bench's `e2e` group: wrk against the release demo. Each
//! server's trivial route (an unknown path: the router, the layers and a small 404 body, no
//! cache, no database) is measured first as the HTTP ceiling; every endpoint then reports
//! req/s, p50 and p99, its ratio to that ceiling and to the same request on `--no-cache`, for
//! one hot key and for random keys over every user and job, on the memory backend and on a
//! spawned Redis with and without L1. An endpoint whose body is large (at least
//! [`LARGE_BODY`] bytes, `/jobs/alljobs`) is also compared with a static body of the same size
//! served by the same server (`--bench-routes`), measured in the same run: the fair ceiling
//! for a response that moves that many bytes.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use strata_testkit::RedisServer;

use crate::demo_process::DemoProcess;
use crate::demo_rows::{NO_CACHE, Row, SETUPS, Setup};
pub(crate) use crate::demo_table::worst_l1_ratio;
use crate::demo_table::{bracket, markdown};
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

/// Every setup's ceilings and rows: `seconds` per measurement, `connections` over wrk's 2
/// threads. Cached setups get a 1 s warm-up per request variant, so they measure hits.
pub(crate) fn measure(seconds: f64, connections: usize) -> Result<Measured> {
    let wrk = wrk::ensure()?;
    crate::demo_process::build_for_bench()?;
    let dir = tempfile::tempdir()?;
    let redis = RedisServer::spawn().context("starting redis-server")?;
    let mut ceilings = Vec::new();
    let mut bodies = Vec::new();
    let mut rows = Vec::new();
    for setup in &SETUPS {
        let demo = start(dir.path(), setup, Some(&redis))?;
        println!("== {} at {}", setup.name, demo.url);
        let ceiling = |ceilings: &mut Vec<Row>| -> Result<f64> {
            let run = wrk::run(
                &wrk,
                &demo.url,
                &Paths::One(CEILING_PATH.into()),
                connections,
                seconds,
            )?;
            println!("{:<28} {:<6} {}", "ceiling (404 route)", "one", line(&run));
            ceilings.push(Row {
                setup: setup.name,
                endpoint: "ceiling",
                keys: "one",
                run,
                ceiling_rps: None,
            });
            Ok(run.rps)
        };
        let mut before = ceiling(&mut ceilings)?;
        let mut brackets = Vec::new();
        for (endpoint, template, max) in ENDPOINTS {
            let first = rows.len();
            for (i, (keys, paths)) in variants(template, max).into_iter().enumerate() {
                if !setup.no_cache {
                    wrk::run(&wrk, &demo.url, &paths, connections, 1.0)?;
                }
                if i == 0
                    && let Paths::One(path) = &paths
                    && let Some((bytes, run)) =
                        static_body(&wrk, &demo.url, path, connections, seconds)?
                {
                    let setup = setup.name;
                    bodies.push(BodyCeiling {
                        setup,
                        endpoint,
                        bytes,
                        run,
                    });
                }
                let run = wrk::run(&wrk, &demo.url, &paths, connections, seconds)?;
                println!("{endpoint:<28} {keys:<6} {}", line(&run));
                rows.push(Row {
                    setup: setup.name,
                    endpoint,
                    keys,
                    run,
                    ceiling_rps: None,
                });
            }
            // The goal's rows (with L1) against the ceiling measured around them.
            if setup.l1 && !setup.no_cache {
                let after = ceiling(&mut ceilings)?;
                brackets.push((first..rows.len(), before, after));
                before = after;
            }
        }
        bracket(&mut rows, &ceilings, setup.name, brackets);
    }
    Ok(Measured {
        ceilings,
        bodies,
        rows,
    })
}

/// A static body of the size `path` answers, measured when that is a large body.
fn static_body(
    wrk: &Path,
    url: &str,
    path: &str,
    connections: usize,
    seconds: f64,
) -> Result<Option<(usize, WrkRun)>> {
    let bytes = wrk::body_length(url, path)?;
    if bytes < LARGE_BODY {
        return Ok(None);
    }
    let body = Paths::One(BODY_PATH.replace("{}", &bytes.to_string()));
    let run = wrk::run(wrk, url, &body, connections, seconds)?;
    let what = format!("static body, {bytes} B");
    println!("{what:<28} {:<6} {}", "one", line(&run));
    Ok(Some((bytes, run)))
}

fn line(r: &WrkRun) -> String {
    format!(
        "{:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  {} bad status, {} socket errors",
        r.rps, r.p50_ms, r.p99_ms, r.bad_status, r.socket_errors
    )
}

/// The rows as JSON, each with its ratio to its setup's ceiling, to the static body of its
/// size (large bodies) and to the same request on `--no-cache` (when both were measured).
pub(crate) fn to_json(m: &Measured, seconds: f64, connections: usize) -> Value {
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
            json!({
                "setup": r.setup, "endpoint": r.endpoint, "keys": r.keys,
                "rps": r.run.rps, "p50_ms": r.run.p50_ms, "p99_ms": r.run.p99_ms,
                "requests": r.run.requests,
                "errors": r.run.bad_status + r.run.socket_errors,
                "ceiling_rps": r.ceiling_rps.or_else(|| ceiling_of(r.setup)),
                "to_ceiling": crate::bench::ratio(
                    Some(r.run.rps),
                    r.ceiling_rps.or_else(|| ceiling_of(r.setup)),
                ),
                "body_bytes": body_of(r).map(|b| b.bytes),
                "to_body_ceiling": body_of(r)
                    .and_then(|b| crate::bench::ratio(Some(r.run.rps), Some(b.run.rps))),
                "to_no_cache": crate::bench::ratio(Some(r.run.rps), no_cache_of(r)),
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
        "generator": "wrk -t 2", "connections": connections, "seconds": seconds,
        "hot_id": HOT_ID, "ceiling_path": CEILING_PATH, "ceilings": ceil,
        "body_path": BODY_PATH, "large_body": LARGE_BODY, "body_ceilings": bodies, "rows": out,
    })
}

/// `cargo xtask demo-load`: the table, written to target/strata-bench/demo-load.md.
pub(crate) fn run(seconds: f64, connections: usize) -> Result<()> {
    let measured = measure(seconds, connections)?;
    let e2e = to_json(&measured, seconds, connections);
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

    fn row(setup: &'static str, endpoint: &'static str, keys: &'static str, rps: f64) -> Row {
        Row {
            setup,
            endpoint,
            keys,
            run: WrkRun {
                rps,
                ..WrkRun::default()
            },
            ceiling_rps: None,
        }
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
        let v = to_json(&m, 3.0, 32);
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
    fn a_row_measured_between_ceilings_is_compared_with_its_own() {
        let mut bracketed = row("memory + L1", "/jobs/{job}", "random", 60_000.0);
        bracketed.ceiling_rps = Some(75_000.0);
        let m = Measured {
            ceilings: vec![row("memory + L1", "ceiling", "one", 100_000.0)],
            bodies: vec![],
            rows: vec![
                bracketed,
                row("memory + L1", "/jobs/{job}", "hot", 80_000.0),
            ],
        };
        let v = to_json(&m, 3.0, 32);
        assert_eq!(v["rows"][0]["to_ceiling"], json!(0.8));
        assert_eq!(v["rows"][0]["ceiling_rps"], json!(75_000.0));
        assert_eq!(
            v["rows"][1]["to_ceiling"],
            json!(0.8),
            "the setup's first run"
        );
    }

    #[test]
    fn a_row_without_its_peer_has_no_ratio() {
        let m = Measured {
            ceilings: vec![],
            bodies: vec![],
            rows: vec![row("redis + L1", "/jobs/alljobs", "one", 5.0)],
        };
        let v = to_json(&m, 3.0, 32);
        assert!(v["rows"][0]["to_ceiling"].is_null());
        assert!(v["rows"][0]["to_no_cache"].is_null());
        assert!(worst_l1_ratio(&v).is_none());
    }

    #[test]
    fn a_large_body_is_also_compared_with_a_static_body_of_its_size() {
        let m = Measured {
            ceilings: vec![row("redis + L1", "ceiling", "one", 100_000.0)],
            bodies: vec![BodyCeiling {
                setup: "redis + L1",
                endpoint: "/jobs/alljobs",
                bytes: 915_000,
                run: WrkRun {
                    rps: 8_000.0,
                    ..WrkRun::default()
                },
            }],
            rows: vec![
                row("redis + L1", "/jobs/alljobs", "one", 7_000.0),
                row("redis + L1", "/jobs/{job}", "hot", 90_000.0),
            ],
        };
        let v = to_json(&m, 3.0, 32);
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
