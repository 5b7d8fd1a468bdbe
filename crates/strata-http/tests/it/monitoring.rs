//! The monitoring routes over a real socket: auth, stats, clear-cache effects, health, errors.

use crate::common;

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use strata::{Cache, CacheBuilder, ErrorKind, MemoryBackend, MemoryConfig};
use strata_http::monitoring::{MonitoringConfig, mount, router};
use strata_testkit::Faults;

const TOKEN: &str = "s3cret-admin-token";

async fn app(config: MonitoringConfig) -> (Cache, String) {
    let cache = CacheBuilder::new()
        .prefix("mon")
        .metrics(false)
        .declare_kind("whoami")
        .build()
        .await
        .unwrap();
    let url = common::serve(mount(
        axum::Router::new(),
        "/core/monitoring",
        router(cache.clone(), config),
    ))
    .await;
    (cache, format!("{url}/core/monitoring"))
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn cache_stats_needs_the_token() {
    let (cache, base) = app(MonitoringConfig::default().with_admin_token(TOKEN)).await;
    cache
        .kind::<u32>("job")
        .unwrap()
        .get_or_load(1, || async { Ok::<_, String>(1) })
        .await
        .unwrap();
    cache.kind::<u32>("job").unwrap().get(1).await.unwrap();
    // A kind's generation lives in the backend under Strata's internal `__version` kind.
    cache.clear_kind("report").await.unwrap();

    let r = client()
        .get(format!("{base}/cache-stats/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("Authorization"),
        "{body}"
    );

    let r = client()
        .get(format!("{base}/cache-stats/"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = client()
        .get(format!("{base}/cache-stats/"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let job = &body["kinds"]["job"];
    assert_eq!(job["loads"], 1);
    assert_eq!(job["l1"]["hits"], 1);
    assert_eq!(job["hit_rate"], 0.5);
    assert!(body["uptime_secs"].as_f64().unwrap() >= 0.0);
    assert_eq!(body["memory"]["l2"]["backend"], "memory");
    assert_eq!(body["memory"]["l2"]["sample"]["per_kind"]["job"]["keys"], 1);
    let sampled: Vec<&String> = body["memory"]["l2"]["sample"]["per_kind"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(sampled, ["job"], "internal kinds are not the application's");
    assert!(
        body["kinds"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("__")),
        "{}",
        body["kinds"]
    );
    assert!(body["memory"]["l1"]["max_entries"].as_u64().unwrap() > 0);
    // Counted at once, not when moka's maintenance catches up.
    assert_eq!(
        body["memory"]["l1"]["entries"], 1,
        "{}",
        body["memory"]["l1"]
    );
    // Latencies in whole microseconds.
    assert!(job["l2"]["latency"]["mean_us"].is_u64(), "{}", job["l2"]);
    assert_eq!(body["totals"]["age_at_hit"][0]["age"], "<1m");
    assert_eq!(body["breaker"]["state"], "closed");
}

#[tokio::test]
async fn without_a_configured_token_the_admin_routes_are_forbidden() {
    let (_, base) = app(MonitoringConfig::default()).await;
    let r = client()
        .get(format!("{base}/cache-stats/"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains("admin_token") && msg.contains("STRATA_ADMIN_TOKEN"),
        "{msg}"
    );
    let r = client()
        .post(format!("{base}/clear-cache/"))
        .json(&json!({"all": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn clear_cache_by_kind_key_and_all() {
    let (cache, base) = app(MonitoringConfig::default().with_admin_token(TOKEN)).await;
    let users = cache.kind::<u32>("user").unwrap();
    let jobs = cache.kind::<u32>("job").unwrap();
    users
        .set_many((0..10u32).map(|i| (i, i)).collect())
        .await
        .unwrap();
    jobs.set_many((0..3u32).map(|i| (i, i)).collect())
        .await
        .unwrap();
    let post = |body: Value| {
        client()
            .post(format!("{base}/clear-cache/"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };

    let r = post(json!({"kind": "user"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["cleared"], "kind");
    assert_eq!(body["kind"], "user");
    assert!(body["generation"].as_u64().is_some_and(|g| g > 0), "{body}");
    assert_eq!(users.get(3).await.unwrap(), None, "cleared users are gone");
    assert_eq!(
        *jobs.get(2).await.unwrap().unwrap(),
        2,
        "jobs are untouched"
    );

    let key = jobs.key(2).unwrap().to_string();
    let body: Value = post(json!({"key": key}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["removed"], 1);
    assert_eq!(jobs.get(2).await.unwrap(), None);

    jobs.set_tagged(5, 5, &["team:7"]).await.unwrap();
    jobs.set_tagged(6, 6, &["team:8"]).await.unwrap();
    let body: Value = post(json!({"tag": "team:7"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["cleared"], "tag", "{body}");
    assert!(body["version"].as_u64().is_some_and(|v| v > 0), "{body}");
    assert_eq!(jobs.get(5).await.unwrap(), None, "tagged team:7");
    assert_eq!(*jobs.get(6).await.unwrap().unwrap(), 6, "tagged team:8");

    let body: Value = post(json!({"all": true}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The 10 users cleared in O(1) above are still stored until now; jobs 0, 1, 5 and 6.
    assert_eq!(body, json!({"cleared": "all", "removed": 14}));
    assert_eq!(jobs.get(0).await.unwrap(), None);
}

#[tokio::test]
async fn bad_clear_requests_are_4xx_json() {
    let (cache, base) = app(MonitoringConfig::default()
        .with_admin_token(TOKEN)
        .with_max_body_bytes(256))
    .await;
    let send = |body: String| {
        client()
            .post(format!("{base}/clear-cache/"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases = [
        (
            "{not json".to_owned(),
            StatusCode::BAD_REQUEST,
            "malformed JSON",
        ),
        (
            r#"{"kind": "nope"}"#.to_owned(),
            StatusCode::NOT_FOUND,
            "unknown kind",
        ),
        (
            r#"{"kind": "user", "all": true}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "exactly one",
        ),
        (r#"{}"#.to_owned(), StatusCode::BAD_REQUEST, "exactly one"),
        (
            r#"{"id": 1}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "exactly one",
        ),
        (
            r#"{"key": "mon:v1:user:s1:1", "id": 1}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "`id` goes with `kind`",
        ),
        (
            r#"{"kind": "whoami", "id": [1]}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "non-empty string or a number",
        ),
        (
            r#"{"all": false}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "must be true",
        ),
        (
            r#"{"colour": "red"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (
            r#"{"key": "elsewhere:1"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "outside",
        ),
        (
            format!(r#"{{"kind": "{}"}}"#, "x".repeat(1000)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "exceeds the limit",
        ),
    ];
    for (body, status, needle) in cases {
        let r = send(body.clone()).await.unwrap();
        assert_eq!(r.status(), status, "{body}");
        let json: Value = r.json().await.unwrap();
        assert!(
            json["error"].as_str().unwrap().contains(needle),
            "{body}: {json}"
        );
    }
    let known: Value = send(r#"{"kind": "nope"}"#.into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        known["known_kinds"]
            .as_array()
            .unwrap()
            .contains(&json!("whoami")),
        "declared kinds are known: {known}"
    );
    cache.clear_kind("whoami").await.unwrap();
    let known: Value = send(r#"{"kind": "nope"}"#.into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        known["known_kinds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| !k.as_str().unwrap().starts_with("__")),
        "{known}"
    );
}

#[tokio::test]
async fn health_is_open_and_reports_the_backend() {
    let (cache, base) = app(MonitoringConfig::default().with_admin_token(TOKEN)).await;
    cache.kind::<u32>("job").unwrap().set(1, 1).await.unwrap();
    cache.kind::<u32>("job").unwrap().set(2, 2).await.unwrap();
    let r = client()
        .get(format!("{base}/system-health/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(!text.contains(TOKEN));
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["l2"]["reachable"], true);
    assert!(body["l2"]["latency_us"].is_u64(), "{}", body["l2"]);
    assert_eq!(body["l1"]["entries"], 2, "counted at once: {}", body["l1"]);
    assert_eq!(body["breaker"], "closed");
    assert_eq!(
        body["warming"]["state"], "not_started",
        "{}",
        body["warming"]
    );
    // ready() runs the start-up warming; health reports it done, with its counts.
    cache.ready().await;
    let body: Value = client()
        .get(format!("{base}/system-health/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["warming"]["state"], "done", "{}", body["warming"]);
    assert_eq!(body["warming"]["total"], 0, "nothing recorded yet");
}

async fn failing_app(strict: bool) -> String {
    let inner = MemoryBackend::new(MemoryConfig::default().with_namespace("mon:")).unwrap();
    let (faulty, faults) = Faults::wrap(inner);
    faults.fail_always(ErrorKind::Connection);
    let cache = CacheBuilder::new()
        .prefix("mon")
        .metrics(false)
        .strict(strict)
        .backend(Arc::new(faulty))
        .build()
        .await
        .unwrap();
    let url = common::serve(router(cache, MonitoringConfig::default())).await;
    format!("{url}/system-health/")
}

#[tokio::test]
async fn health_is_degraded_or_down_when_the_backend_fails() {
    let r = client().get(failing_app(false).await).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["l2"]["error"], "connection");
    assert_eq!(body["l2"]["last_error"]["kind"], "connection", "{body}");
    assert!(body["l2"]["last_error"]["message"].is_string(), "{body}");
    documented_health_fields_match(&body);

    let r = client().get(failing_app(true).await).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "down");
}

#[tokio::test]
async fn health_shows_the_invalidations_waiting_for_the_backend() {
    let (cache, faults, url) = faulty_health(1000, std::time::Duration::from_secs(1)).await;
    faults
        .only(&[strata_testkit::Operation::DeleteMany])
        .fail_always(ErrorKind::Connection);
    let rules = strata::Rules::new().on("user", |id| vec![strata::Target::key("user", id)]);
    assert!(cache.invalidate(&rules, "user", 1).await.unwrap().deferred);
    let body = get_json(&url).await;
    assert_eq!(body["l2"]["deferred_changes"]["queued"], 1, "{body}");
    assert!(
        body["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("1 invalidations wait for the backend")),
        "{body}"
    );
    faults.heal();
    let start = std::time::Instant::now();
    while get_json(&url).await["l2"]["deferred_changes"]["queued"] != 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "never replayed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The fields docs/monitoring.md lists for `system-health/` are those of `body` (a health
/// answer with its optional fields present).
fn documented_health_fields_match(body: &Value) {
    let doc = include_str!("../../../../docs/monitoring.md");
    let row = doc
        .lines()
        .find(|l| l.starts_with("| `GET /core/monitoring/system-health/` |"))
        .expect("the health row of docs/monitoring.md");
    let shape = row
        .split('`')
        .nth(3)
        .expect("the documented shape in backticks");
    // The status values first (`warming` is also a field).
    let shape = shape.replacen(r#""ok" \| "warming" \| "degraded" \| "down""#, "", 1);
    let mut documented: Vec<&str> = shape
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|w| !["ok", "degraded", "down"].contains(w))
        .collect();
    documented.sort_unstable();
    let mut actual = Vec::new();
    for (path, value) in [
        ("", body),
        ("l2", &body["l2"]),
        ("l1", &body["l1"]),
        ("last_error", &body["l2"]["last_error"]),
        ("coherence", &body["coherence"]),
        ("warming", &body["warming"]),
    ] {
        let object = value
            .as_object()
            .unwrap_or_else(|| panic!("{path}: {body}"));
        actual.extend(object.keys().map(String::as_str));
    }
    actual.sort_unstable();
    assert_eq!(documented, actual, "docs/monitoring.md: {shape}");
}

/// `cache-stats/` lists the backends and the kinds routed to each (issue 25's partitions).
#[tokio::test]
async fn cache_stats_lists_each_backend_and_its_kinds() {
    let second =
        strata::MemoryBackend::new(strata::MemoryConfig::default().with_namespace("mon:")).unwrap();
    let cache = CacheBuilder::new()
        .prefix("mon")
        .metrics(false)
        .named_backend("sessions", std::sync::Arc::new(second))
        .route("session", "sessions")
        .build()
        .await
        .unwrap();
    let sessions = cache.kind::<u32>("session").unwrap();
    sessions.set(1, 1).await.unwrap();
    let url = common::serve(router(
        cache.clone(),
        MonitoringConfig::default().with_admin_token(TOKEN),
    ))
    .await;
    let body = admin_json(&format!("{url}/cache-stats/")).await;
    let backends = body["backends"].as_array().unwrap();
    assert_eq!(backends.len(), 2, "{body}");
    assert_eq!(backends[0]["name"], "default");
    assert_eq!(backends[0]["kinds"].as_array().unwrap().len(), 0);
    assert_eq!(backends[1]["name"], "sessions");
    assert_eq!(backends[1]["backend"], "memory");
    assert_eq!(backends[1]["kinds"][0], "session");
    assert_eq!(backends[1]["breaker"], "closed");
    assert_eq!(backends[1]["deferred_changes"]["queued"], 0);
    // The entry is in the routed kind's backend only.
    let key = sessions.key(1).unwrap();
    let named = cache.admin().named_backend("sessions").unwrap();
    assert!(named.get(&key).await.unwrap().is_some());
    assert!(cache.admin().backend().get(&key).await.unwrap().is_none());
}

/// A routed kind's backend that stops answering degrades health, named in a warning.
#[tokio::test]
async fn health_names_a_named_backend_that_fails() {
    let inner = MemoryBackend::new(MemoryConfig::default().with_namespace("mon:")).unwrap();
    let (faulty, faults) = Faults::wrap(inner);
    let cache = CacheBuilder::new()
        .prefix("mon")
        .metrics(false)
        .named_backend("sessions", Arc::new(faulty))
        .route("session", "sessions")
        .build()
        .await
        .unwrap();
    let url = format!(
        "{}/system-health/",
        common::serve(router(cache.clone(), MonitoringConfig::default())).await
    );
    let body = get_json(&url).await;
    assert_eq!(body["status"], "ok", "{body}");
    faults.fail_always(strata::ErrorKind::Connection);
    let body = get_json(&url).await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(
        body["warnings"].as_array().unwrap().iter().any(|w| {
            let w = w.as_str().unwrap();
            w.starts_with("backend `sessions` (kinds: session): it does not answer")
        }),
        "{body}"
    );
    faults.heal();
    assert_eq!(get_json(&url).await["status"], "ok");
}

/// A Redis that refuses the cache's password: the cache starts (fail-open), and health says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_a_wrong_redis_password() {
    let Some(server) = strata_testkit::redis_with_args_or_skip(
        "health_names_a_wrong_redis_password",
        &["--requirepass", "right-password"],
    ) else {
        return;
    };
    let cache = CacheBuilder::new()
        .prefix("mon")
        .metrics(false)
        .redis_url(format!("redis://:hunter2@127.0.0.1:{}", server.port()))
        .build()
        .await
        .unwrap();
    let url = common::serve(router(cache, MonitoringConfig::default())).await;
    let text = client()
        .get(format!("{url}/system-health/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["l2"]["error"], "config", "{body}");
    assert_eq!(body["l2"]["last_error"]["kind"], "config", "{body}");
    let message = body["l2"]["last_error"]["message"].as_str().unwrap();
    assert!(message.contains("WRONGPASS"), "{message}");
    assert!(message.contains(":***@127.0.0.1"), "{message}");
    assert!(
        body["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("Redis cannot be used at start: authentication failed")),
        "{body}"
    );
}

/// A memory-backed cache behind a FaultyBackend, its faults, and its health URL.
async fn faulty_health(
    failures: u32,
    cooldown: std::time::Duration,
) -> (Cache, strata_testkit::Faults, String) {
    let inner = MemoryBackend::new(MemoryConfig::default().with_namespace("mon:")).unwrap();
    let (faulty, faults) = Faults::wrap(inner);
    let cache = CacheBuilder::new()
        .prefix("mon")
        .metrics(false)
        .breaker(failures, cooldown)
        .backend(Arc::new(faulty))
        .build()
        .await
        .unwrap();
    let url = format!(
        "{}/system-health/",
        common::serve(router(cache.clone(), MonitoringConfig::default())).await
    );
    (cache, faults, url)
}

/// GET `url` as JSON.
async fn get_json(url: &str) -> Value {
    json_of(client().get(url)).await
}

/// GET `url` with the admin token, as JSON.
async fn admin_json(url: &str) -> Value {
    json_of(client().get(url).bearer_auth(TOKEN)).await
}

async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn health_closes_the_circuit_once_the_backend_recovers_without_traffic() {
    let (cache, faults, url) = faulty_health(2, std::time::Duration::from_millis(200)).await;
    faults.fail_always(ErrorKind::Connection);
    let users = cache.kind::<u32>("user").unwrap();
    for i in 0..5u32 {
        let _ = users.get(i).await;
    }
    assert_eq!(cache.admin().breaker_state(), strata::BreakerState::Open);
    faults.heal();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let body = get_json(&url).await;
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(cache.admin().breaker_state(), strata::BreakerState::Closed);
}

#[tokio::test]
async fn health_shows_the_errors_counted_since_the_previous_check() {
    let (cache, faults, url) = faulty_health(1000, std::time::Duration::from_secs(1)).await;
    faults
        .only(&[strata_testkit::Operation::Set])
        .fail_always(ErrorKind::OutOfMemory);
    let users = cache.kind::<u32>("user").unwrap();
    for i in 0..3u32 {
        assert!(
            users.set(i, i).await.is_ok(),
            "writes fail open; the failure is counted"
        );
    }
    let body = get_json(&url).await;
    assert_eq!(
        body["l2"]["errors_since_last_check"]["out_of_memory"], 3,
        "{body}"
    );
    assert!(
        body["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("3 cache writes refused by a full Redis")),
        "{body}"
    );
    let body = get_json(&url).await;
    assert_eq!(
        body["l2"]["errors_since_last_check"],
        json!({}),
        "counted once"
    );
}

#[tokio::test]
async fn the_dashboard_page_is_self_contained() {
    let (_, base) = app(MonitoringConfig::default()).await;
    for url in [format!("{base}/"), base.clone()] {
        let r = client().get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = r.text().await.unwrap();
        assert!(page.contains("Strata cache"));
        for remote in [
            "<script src",
            "<link",
            "src=\"http",
            "href=\"http",
            "url(http",
            "@import",
        ] {
            assert!(!page.contains(remote), "no CDN or remote assets ({remote})");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_stats_on_redis_reports_server_memory() {
    let Some(server) = strata_testkit::redis_with_args_or_skip(
        "cache-stats on redis",
        &["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"],
    ) else {
        return;
    };
    let cache = redis_cache(&server).await;
    cache
        .kind::<String>("user")
        .unwrap()
        .set(1, noise())
        .await
        .unwrap();
    // The generation of a cleared kind is a key of Strata's internal `__version` kind.
    cache.clear_kind("report").await.unwrap();
    let base = common::serve(router(
        cache,
        MonitoringConfig::default().with_admin_token(TOKEN),
    ))
    .await;
    let body: Value = admin_json(&format!("{base}/cache-stats/")).await;
    let l2 = &body["memory"]["l2"];
    assert_eq!(l2["backend"], "redis");
    assert_eq!(l2["max_bytes"], 64 * 1024 * 1024);
    assert_eq!(l2["eviction_policy"], "allkeys-lru");
    assert!(
        l2["server_version"].as_str().unwrap().starts_with('7') || l2["server_version"].is_string()
    );
    assert!(
        l2["sample"]["per_kind"]["user"]["bytes"].as_u64().unwrap() >= 2000,
        "MEMORY USAGE: {l2}"
    );
    let sampled: Vec<&String> = l2["sample"]["per_kind"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(sampled, ["user"], "internal kinds are left out: {l2}");
    let health = get_json(&format!("{base}/system-health/")).await;
    assert_eq!(health["status"], "ok");
    assert!(health["l2"]["latency_us"].is_u64());
    assert_eq!(
        health["warnings"],
        serde_json::json!([]),
        "64 MB with allkeys-lru is a sound cache"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_warns_about_a_redis_that_cannot_evict() {
    let Some(server) = strata_testkit::redis_or_skip("health warnings") else {
        return;
    };
    let cache = redis_cache(&server).await;
    let base = common::serve(router(cache, MonitoringConfig::default())).await;
    let health = get_json(&format!("{base}/system-health/")).await;
    assert_eq!(health["status"], "ok", "warnings do not change the status");
    let warnings = health["warnings"].to_string();
    assert!(
        warnings.contains("noeviction") && warnings.contains("unlimited"),
        "{warnings}"
    );
}

/// 2000 letters that lz4 cannot shrink, so the stored entry is as large as the value.
fn noise() -> String {
    let mut x: u32 = 12345;
    (0..2000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            char::from(b'a' + ((x >> 16) % 26) as u8)
        })
        .collect()
}

/// A cache on a Redis backend talking to `server`.
async fn redis_cache(server: &strata_testkit::RedisServer) -> Cache {
    let config = strata::RedisConfig::new(server.url()).with_namespace("mon:");
    let backend = strata::RedisBackend::connect(config).await.unwrap();
    CacheBuilder::new()
        .prefix("mon")
        .metrics(false)
        .backend(Arc::new(backend))
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn caching_can_be_turned_off_and_on_at_run_time() {
    let (cache, base) = app(MonitoringConfig::default().with_admin_token(TOKEN)).await;
    let products = cache.kind::<u32>("product").unwrap();
    let loads = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let load = || {
        let loads = loads.clone();
        move || async move {
            Ok::<_, String>(loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 100)
        }
    };
    assert_eq!(*products.get_or_load(1, load()).await.unwrap(), 100);
    assert_eq!(
        *products.get_or_load(1, load()).await.unwrap(),
        100,
        "cached"
    );

    let switch = |body: Value| {
        client()
            .post(format!("{base}/caching"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    let r = switch(json!({"enabled": false})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"enabled": false, "was": true})
    );
    assert!(!cache.enabled());
    // Off: the loader answers every read, get finds nothing, a set stores nothing and removes
    // what was there.
    assert_eq!(*products.get_or_load(1, load()).await.unwrap(), 101);
    assert_eq!(*products.get_or_load(1, load()).await.unwrap(), 102);
    assert_eq!(products.get(1).await.unwrap(), None);
    products.set(1, 7).await.unwrap();
    let health = get_json(&format!("{base}/system-health/")).await;
    assert_eq!(health["caching"], false);
    assert!(
        health["warnings"].to_string().contains("caching is off"),
        "{health}"
    );

    let r = switch(json!({"enabled": "no"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("expected"));
    let r = client()
        .post(format!("{base}/caching/"))
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the switch needs the token"
    );

    switch(json!({"enabled": true})).await.unwrap();
    assert!(cache.enabled());
    // On again: nothing older than the switch is served (the set while off removed entry 1).
    assert_eq!(*products.get_or_load(1, load()).await.unwrap(), 103);
    assert_eq!(
        *products.get_or_load(1, load()).await.unwrap(),
        103,
        "cached again"
    );
    let state: Value = admin_json(&format!("{base}/caching")).await;
    assert_eq!(state, json!({"enabled": true}));
}

#[tokio::test]
async fn the_dashboard_is_served_with_security_headers() {
    let (_cache, base) = app(MonitoringConfig::default()).await;
    for path in ["", "/"] {
        let r = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path:?}");
        let header = |name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'sha256-",
            "style-src 'sha256-",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(
                csp.contains(directive),
                "{path:?}: {directive} missing in {csp}"
            );
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("referrer-policy"), "no-referrer");
        assert_eq!(header("x-frame-options"), "DENY");
        assert_eq!(header("cache-control"), "no-store");
    }
}

#[tokio::test]
async fn clear_cache_removes_one_entity_under_every_schema() {
    let (cache, base) = app(MonitoringConfig::default().with_admin_token(TOKEN)).await;
    // Two schemas of the kind live at once (a rolling deploy), and a neighbour.
    let old = cache.kind::<String>("whoami").unwrap().with_schema(1);
    let new = cache.kind::<String>("whoami").unwrap().with_schema(2);
    old.set(42, "old shape".into()).await.unwrap();
    new.set(42, "new shape".into()).await.unwrap();
    new.set(43, "neighbour".into()).await.unwrap();
    for (id, removed) in [(serde_json::json!(42), 2), (serde_json::json!("42"), 0)] {
        let r = client()
            .post(format!("{base}/clear-cache/"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"kind": "whoami", "id": id}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["cleared"], "entry", "{body}");
        assert_eq!(body["id"], "42", "{body}");
        assert_eq!(body["removed"], removed, "{body}");
    }
    assert_eq!(old.get(42).await.unwrap(), None);
    assert_eq!(new.get(42).await.unwrap(), None);
    assert_eq!(
        new.get(43).await.unwrap().as_deref().map(String::as_str),
        Some("neighbour")
    );
}
