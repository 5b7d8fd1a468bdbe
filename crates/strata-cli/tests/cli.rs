//! The `strata` binary against a spawned redis-server.

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use strata::{Backend, Cache, CacheBuilder, RedisBackend, RedisConfig};
use strata_testkit::RedisServer;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct User {
    id: u64,
    name: String,
    skills: Vec<String>,
}

fn strata(server: &RedisServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["--redis", &server.url(), "--prefix", "cli"])
        .args(args)
        .env_remove("REDIS_URL")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

async fn cache(server: &RedisServer) -> Cache {
    let backend = RedisBackend::connect(RedisConfig::new(server.url()).with_namespace("cli:"))
        .await
        .unwrap();
    CacheBuilder::new()
        .prefix("cli")
        .metrics(false)
        .ttl("user", Duration::from_secs(24 * 3600))
        .backend(Arc::new(backend))
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_shows_the_value_written_through_the_facade() {
    let Some(server) = strata_testkit::redis_or_skip("cli inspect") else {
        return;
    };
    let cache = cache(&server).await;
    let users = cache.kind::<User>("user").unwrap().with_schema(3);
    users
        .set(
            42,
            User {
                id: 42,
                name: "Ada Lovelace".into(),
                skills: vec!["math".into(), "engines".into()],
            },
        )
        .await
        .unwrap();
    let key = users.key(42).unwrap().to_string();

    let out = strata(&server, &["inspect", &key]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["value"]["name"], "Ada Lovelace");
    assert_eq!(json["value"]["skills"][1], "engines");
    assert_eq!(json["schema"], 3);
    assert_eq!(json["parts"]["kind"], "user");
    assert_eq!(json["parts"]["id"], "42");
    assert_eq!(json["fresh"], true);
    assert_eq!(json["compressed"], false);
    let ttl = humantime::parse_duration(json["ttl_remaining"].as_str().unwrap()).unwrap();
    assert!(
        ttl > Duration::from_secs(20 * 3600),
        "user TTL 24h ± jitter: {json}"
    );

    let out = strata(&server, &["inspect", "cli:v1:user:s3:404"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("strata: no entry under") && err.lines().count() == 1,
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_kind_removes_only_that_kind() {
    let Some(server) = strata_testkit::redis_or_skip("cli clear") else {
        return;
    };
    let cache = cache(&server).await;
    let users = cache.kind::<u32>("user").unwrap();
    let jobs = cache.kind::<u32>("job").unwrap();
    users
        .set_many((0..1200u32).map(|i| (i, i)).collect())
        .await
        .unwrap();
    jobs.set_many((0..7u32).map(|i| (i, i)).collect())
        .await
        .unwrap();
    // Another prefix's key on the same server (backends refuse keys outside their namespace).
    let elsewhere =
        RedisBackend::connect(RedisConfig::new(server.url()).with_namespace("elsewhere:"))
            .await
            .unwrap();
    elsewhere
        .set("elsewhere:1", "x".into(), Duration::from_secs(60))
        .await
        .unwrap();

    let out = strata(&server, &["keys", "--kind", "job"]);
    assert_eq!(stdout(&out).lines().count(), 7);

    let out = strata(&server, &["clear", "--kind", "user", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out).trim(), "removed 1200 entries");
    let out = strata(&server, &["keys", "--limit", "5000"]);
    let keys = stdout(&out);
    assert_eq!(keys.lines().count(), 7, "{keys}");
    assert!(keys.lines().all(|k| k.starts_with("cli:v1:job:")));
    assert!(elsewhere.get("elsewhere:1").await.unwrap().is_some());

    // Without --yes and without a "y" on stdin nothing is cleared.
    let out = strata(&server, &["clear", "--all"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("aborted"));
    assert_eq!(stdout(&strata(&server, &["keys"])).lines().count(), 7);
    let out = strata(&server, &["clear", "--all", "--yes"]);
    // The 7 jobs and the generation counters of kinds user and job.
    assert_eq!(stdout(&out).trim(), "removed 9 entries");
    assert_eq!(
        stdout(&strata(&server, &["keys", "--kind", "__version"]))
            .lines()
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_stats_and_errors() {
    let Some(mut server) = strata_testkit::redis_or_skip("cli health") else {
        return;
    };
    let cache = cache(&server).await;
    cache.kind::<u32>("job").unwrap().set(1, 1).await.unwrap();
    let out = strata(&server, &["health"]);
    assert!(stdout(&out).contains("status: ok"));
    let out = strata(&server, &["stats"]);
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("job") && l.contains(" 1 ")),
        "{}",
        stdout(&out)
    );

    // Server-wide mode, on the test's own server.
    let out = strata(
        &server,
        &["server-policy", "ttl", "--maxmemory", "67108864"],
    );
    assert_eq!(
        stdout(&out).trim(),
        "maxmemory-policy volatile-ttl, maxmemory 64.0 MiB",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = strata(&server, &["server-policy", "mru"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown eviction policy \"mru\""));

    server.stop();
    let out = strata(&server, &["health"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("strata: cannot reach Redis at redis://127.0.0.1:"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["health"])
        .env_remove("REDIS_URL")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Redis URL"));
}
