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
    bare()
        .args(["--redis", &server.url(), "--prefix", "cli"])
        .args(args)
        .output()
        .unwrap()
}

/// The binary without flags and without the configuration variables of the environment.
fn bare() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
    for var in [
        "REDIS_URL",
        "STRATA_PREFIX",
        "STRATA_APP_VERSION",
        "STRATA_BACKEND__URL",
    ] {
        command.env_remove(var);
    }
    command
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
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
    // A kind nothing knows is an error naming the known ones (user is known by its counter).
    let out = strata(&server, &["clear", "--kind", "usr", "--yes"]);
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out).trim(),
        "strata: unknown kind \"usr\" under prefix \"cli\" (app version v1); known kinds: job, user"
    );
    let out = strata(&server, &["clear", "--kind", "__version", "--yes"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("internal kind"), "{}", stderr(&out));

    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let all_keys = async |raw: &mut redis::aio::MultiplexedConnection| {
        redis::cmd("KEYS")
            .arg("cli:*")
            .query_async::<Vec<String>>(raw)
            .await
            .unwrap()
    };
    let before = all_keys(&mut raw).await;
    assert!(
        before.iter().any(|k| k.starts_with("cli:#schemas:")),
        "{before:?}"
    );
    let out = strata(&server, &["clear", "--all", "--yes"]);
    // The 7 jobs are entries; the generation counters of kinds user and job are not.
    assert_eq!(
        stdout(&out).trim(),
        "removed 7 entries (and 2 version counters, the schema registries and the load leases)"
    );
    assert_eq!(
        all_keys(&mut raw).await,
        Vec::<String>::new(),
        "nothing left under the prefix"
    );
    assert!(
        elsewhere.get("elsewhere:1").await.unwrap().is_some(),
        "another prefix's key survives clear --all"
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
    // The kind's generation counter is not a kind.
    assert!(!stdout(&out).contains("__version"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("(and 1 version counters"),
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
    // An hour to connect: a refused port is named at once, not waited for.
    let out = strata(&server, &["health", "--timeout", "1h"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("strata: cannot reach Redis: connection refused by redis://127.0.0.1:"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = bare().args(["health"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Redis URL"));

    let out = bare()
        .args(["health", "--redis", "http://user:hunter2@127.0.0.1:6379"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains("its scheme is `http://`; use redis://"),
        "{err}"
    );
    assert!(
        err.contains("rediss://") && err.contains("redis+unix://"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

/// The CLI names what is wrong with the Redis it was given: a wrong password, a database the
/// server does not have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors_are_named() {
    let Some(server) = strata_testkit::redis_with_args_or_skip(
        "cli connection errors",
        &["--requirepass", "right-password", "--databases", "2"],
    ) else {
        return;
    };
    let port = server.port();
    let run = |url: String| {
        let out = bare()
            .args(["health", "--timeout", "1h", "--redis", &url])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            !err.contains("hunter2") && !err.contains("right-password"),
            "{err}"
        );
        err
    };
    let err = run(format!("redis://:hunter2@127.0.0.1:{port}"));
    assert!(
        err.starts_with(
            "strata: cannot reach Redis: authentication failed at redis://:***@127.0.0.1:"
        ),
        "{err}"
    );
    assert!(err.contains("WRONGPASS"), "{err}");
    let err = run(format!("redis://:right-password@127.0.0.1:{port}/5"));
    assert!(err.contains("DB index is out of range"), "{err}");
    // `.invalid` never resolves (RFC 2606).
    let err = run("redis://cache.invalid:6379".to_owned());
    assert!(
        err.starts_with(
            "strata: cannot reach Redis: cannot resolve the host of redis://cache.invalid:6379"
        ),
        "{err}"
    );
    let out = bare()
        .args([
            "health",
            "--redis",
            &format!("redis://:right-password@127.0.0.1:{port}/1"),
        ])
        .output()
        .unwrap();
    assert!(stdout(&out).contains("status: ok"), "{}", stderr(&out));
}

/// The prefix, the app version and the URL come from the application's configuration: the
/// file (`--config`), then `STRATA_PREFIX`; `--prefix` over both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_come_from_the_application_configuration() {
    let Some(server) = strata_testkit::redis_or_skip("cli configuration") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("strata.toml");
    std::fs::write(
        &file,
        format!(
            "prefix = \"fromfile\"\napp_version = \"v7\"\n[backend]\nurl = \"{}\"\n",
            server.url()
        ),
    )
    .unwrap();
    for prefix in ["fromfile", "fromenv", "fromflag"] {
        let backend = RedisBackend::connect(
            RedisConfig::new(server.url()).with_namespace(format!("{prefix}:")),
        )
        .await
        .unwrap();
        let key = format!("{prefix}:v7:job:s1:1");
        backend
            .set(&key, "x".into(), Duration::from_secs(60))
            .await
            .unwrap();
    }
    let keys = |cmd: &mut Command| stdout(&cmd.output().unwrap()).trim().to_owned();
    let config = file.to_str().unwrap();
    assert_eq!(
        keys(bare().args(["keys", "--config", config])),
        "fromfile:v7:job:s1:1"
    );
    assert_eq!(
        keys(
            bare()
                .args(["keys", "--config", config])
                .env("STRATA_PREFIX", "fromenv")
        ),
        "fromenv:v7:job:s1:1"
    );
    assert_eq!(
        keys(
            bare()
                .args(["keys", "--config", config, "--prefix", "fromflag"])
                .env("STRATA_PREFIX", "fromenv")
        ),
        "fromflag:v7:job:s1:1"
    );
    // strata.toml in the working directory is read without --config.
    assert_eq!(
        keys(bare().args(["keys"]).current_dir(dir.path())),
        "fromfile:v7:job:s1:1"
    );
}

/// `strata clear --kind` goes through the change path and the bus: a running instance's L1
/// copy is dropped at once (without the bus it would be served until l1.max_lifetime).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_kind_reaches_a_running_instances_l1() {
    let Some(server) = strata_testkit::redis_or_skip("cli clear reaches L1") else {
        return;
    };
    let instance = CacheBuilder::new()
        .prefix("cli")
        .metrics(false)
        .l1_max_lifetime(Duration::from_secs(3600))
        .redis_url(server.url())
        .build()
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), instance.ready())
        .await
        .expect("the instance's bus subscribes");
    let profiles = instance.kind::<u32>("profile").unwrap();
    let loads = std::sync::atomic::AtomicU32::new(0);
    let read = async || {
        profiles
            .get_or_load(7, || async {
                Ok::<_, String>(loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
            })
            .await
            .unwrap()
    };
    read().await;
    read().await;
    assert_eq!(
        loads.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the second read is an L1 hit"
    );

    let out = strata(&server, &["clear", "--kind", "profile", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The bus message arrives shortly after the command returns.
    let start = std::time::Instant::now();
    while loads.load(std::sync::atomic::Ordering::SeqCst) == 1 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the instance kept serving its L1 copy: the clear never reached it"
        );
        read().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A response-cache entry (wire-format.md §4.2) decodes: status, headers, the body as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_decodes_a_response_entry() {
    let Some(server) = strata_testkit::redis_or_skip("cli inspect response") else {
        return;
    };
    #[derive(Clone, serde::Serialize, serde::Deserialize)]
    struct Stored {
        status: u16,
        headers: Vec<(String, String)>,
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
        etag: String,
    }
    let cache = cache(&server).await;
    let kind = strata::ResponseKind::new("alljobs").unwrap();
    let responses = cache.responses::<Stored>(&kind, Duration::from_secs(900));
    let body = br#"[{"id":1,"title":"Rust developer"}]"#.to_vec();
    let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    let stored = Stored {
        status: 200,
        headers,
        body,
        etag: "\"abc\"".into(),
    };
    responses.set("/jobs/alljobs", stored).await.unwrap();
    let key = responses.key("/jobs/alljobs").unwrap().to_string();

    let out = strata(&server, &["inspect", &key]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let response = &json["value"]["response"];
    assert_eq!(response["status"], 200, "{json}");
    assert_eq!(response["headers"][0][1], "application/json", "{json}");
    assert_eq!(response["body"][0]["title"], "Rust developer", "{json}");
    assert_eq!(response["body_bytes"], 35, "{json}");
    assert_eq!(json["parts"]["kind"], "api.alljobs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_sends_the_ids_to_a_running_instance_with_progress() {
    let cache = CacheBuilder::new()
        .prefix("cliw")
        .metrics(false)
        .build()
        .await
        .unwrap();
    let jobs = cache.kind::<u64>("job").unwrap();
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let c = calls.clone();
    jobs.register_loader(move |id: String| {
        let c = c.clone();
        async move {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, std::num::ParseIntError>(Some(id.parse::<u64>()? * 2))
        }
    });
    let config = strata_http::monitoring::MonitoringConfig::default().with_admin_token("tok");
    let app = strata_http::monitoring::router(cache.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ids");
    std::fs::write(&file, "# recent jobs\n4\n5\n\n6\n").unwrap();
    let args: Vec<String> = [
        "warm",
        "--url",
        &url,
        "--token",
        "tok",
        "--kind",
        "job",
        "--batch",
        "2",
        "--ids-file",
        file.to_str().unwrap(),
        "1",
        "2",
        "3",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let out = tokio::task::spawn_blocking(move || bare().args(&args).output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("6 distinct ids, 6 loaded, 0 already cached, 0 failed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 6);
    assert_eq!(*jobs.get(6).await.unwrap().unwrap(), 12);
    // A kind without a loader: refused, named.
    let out = tokio::task::spawn_blocking(move || {
        bare()
            .args([
                "warm", "--url", &url, "--token", "tok", "--kind", "user", "1",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no owned loader"), "{}", stderr(&out));
}

/// `strata stats --monitoring URL` reads a running application's analytics (no Redis).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_shows_an_applications_analytics() {
    use strata_http::monitoring::{MonitoringConfig, router};
    // Every key and every lookup sampled: the figures below are exact.
    let config = strata::CacheConfig::from_toml_str(
        "[analytics]\nsample_rate = 1.0\n[hot_keys]\nsample_every = 1\n\
         [kinds.session.l1]\nmax_entries = 64\nmax_bytes = 65536\n",
    )
    .unwrap();
    let cache = CacheBuilder::from_config(config)
        .prefix("clis")
        .metrics(false)
        .build()
        .await
        .unwrap();
    let users = cache.kind::<u64>("user").unwrap();
    for i in 0..10u64 {
        users
            .get_or_load(i, || async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                Ok::<_, String>(i)
            })
            .await
            .unwrap();
    }
    for i in 0..40u64 {
        users.get(i % 10).await.unwrap();
    }
    let sessions = cache.kind::<u64>("session").unwrap();
    for i in 0..3u64 {
        sessions.set(i, i).await.unwrap();
    }
    let key0 = users.key(0u64).unwrap().to_string();
    let app = router(cache, MonitoringConfig::default().with_admin_token("tok"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let run = |token: &'static str| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            bare()
                .args(["stats", "--monitoring", &url, "--token", token])
                .output()
                .unwrap()
        })
    };
    let out = run("tok").await.unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("kind user: 40 hits, 10 misses"), "{text}");
    assert!(text.contains("L1 misses by cause (10): cold 10"), "{text}");
    assert!(text.contains("L2 misses by cause (10): cold 10"), "{text}");
    assert!(text.contains("LRU estimate of the L1 hit ratio"), "{text}");
    assert!(
        text.contains("1.0x (100000): 80.0 %"),
        "40 of 50 requests reuse a key: {text}"
    );
    assert!(text.contains("actual L1 hit ratio: 80.0 %"), "{text}");
    let user_block = text.split("\nkind user:").nth(1).unwrap();
    assert!(!user_block.contains("loader time saved: 0 ms"), "{text}");
    // Each of the 10 keys was looked up 5 times (1 miss, 4 hits); ties are listed by key.
    assert!(
        text.contains(&format!(
            "estimated lookups, hits and misses, from a sample):\n    {key0} 5\n"
        )),
        "{text}"
    );
    assert_eq!(text.matches(" 5\n").count(), 10, "the 10 keys: {text}");
    // Each L1 store with its budget: the default pool (the 10 users) and the session partition.
    assert!(
        text.contains("\nL1 stores (entries / max, bytes / max):\n  default pool: 10 / "),
        "{text}"
    );
    assert!(text.contains("  kind session: 3 / 64 entries, "), "{text}");
    assert!(text.contains(" / 65536 B\n"), "{text}");
    let denied = run("wrong").await.unwrap();
    assert!(!denied.status.success());
    assert!(stderr(&denied).contains("401"), "{}", stderr(&denied));
}
