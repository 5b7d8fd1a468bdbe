//! The real `payshift` binary on a free port: every endpoint over HTTP, with the memory backend
//! and with a spawned redis-server; two processes sharing Redis; Redis killed while serving.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Demo, TOKEN, x_cache};

async fn exercise_every_endpoint(demo: &Demo) {
    // Shapes.
    let who = demo.json("/accountsapp/whoami/3").await;
    assert_eq!(who["user"]["id"], 3);
    assert!(who["profile"]["skills"].is_array());
    for k in ["jobs_posted", "applications_sent", "applications_received"] {
        assert!(who["stats"][k].is_i64(), "{who}");
    }
    let job = demo.json("/jobs/5").await;
    assert_eq!(job["id"], 5);
    assert!(
        job["client"]["username"].is_string()
            && job["industry"]["name"].is_string()
            && job["subcategory"]["id"].is_i64()
    );
    assert!(demo.json("/jobs/job-industries/").await.as_array().unwrap()[0]["name"].is_string());
    assert!(
        demo.json("/jobs/job-subcategories/")
            .await
            .as_array()
            .unwrap()[0]["industry_id"]
            .is_i64()
    );

    // alljobs: MISS then HIT.
    let r = demo.get("/jobs/alljobs").await;
    assert_eq!(x_cache(&r), "MISS");
    let all: Value = r.json().await.unwrap();
    let n = all["jobs"].as_array().unwrap().len();
    let r = demo.get("/jobs/alljobs").await;
    assert_eq!(x_cache(&r), "HIT");

    // whoami is cached: the second read is a hit.
    demo.json("/accountsapp/whoami/3").await;
    let stats = demo.stats().await;
    assert!(
        stats["kinds"]["whoami"]["hits"].as_u64().unwrap() >= 1,
        "{}",
        stats["kinds"]["whoami"]
    );
    let loads_before = stats["kinds"]["whoami"]["loads"].as_u64().unwrap();

    // A profile update shows up in the next whoami.
    let r = demo
        .send(
            reqwest::Method::PUT,
            "/accountsapp/profile/3",
            Some(json!({"headline": "Principal cache whisperer"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        demo.json("/accountsapp/whoami/3").await["profile"]["headline"],
        "Principal cache whisperer"
    );

    // Logout invalidates whoami: the next read loads again.
    let loads = demo.stats().await["kinds"]["whoami"]["loads"]
        .as_u64()
        .unwrap();
    assert!(loads > loads_before);
    assert_eq!(
        demo.send(reqwest::Method::POST, "/accountsapp/logout/3", None)
            .await
            .status(),
        StatusCode::OK
    );
    demo.json("/accountsapp/whoami/3").await;
    assert_eq!(
        demo.stats().await["kinds"]["whoami"]["loads"]
            .as_u64()
            .unwrap(),
        loads + 1,
        "logout invalidated whoami"
    );

    // alljobs reflects a new job; the job itself is readable.
    let new = json!({"client_id": 2, "title": "Write the e2e tests", "description": "...", "budget_min": 10.0,
                     "budget_max": 20.0, "industry_id": 1, "subcategory_id": 1});
    let posted_from = now();
    let r = demo
        .send(reqwest::Method::POST, "/jobs/", Some(new.clone()))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_posted_between(&created, &posted_from, &now());
    let id = created["id"].as_i64().unwrap();
    let r = demo.get("/jobs/alljobs").await;
    assert_eq!(x_cache(&r), "MISS", "the new job invalidated alljobs");
    let all: Value = r.json().await.unwrap();
    assert_eq!(all["jobs"].as_array().unwrap().len(), n + 1);
    assert_eq!(
        demo.json(&format!("/jobs/{id}")).await["title"],
        "Write the e2e tests"
    );
    let mut changed = new.clone();
    changed["title"] = json!("Renamed");
    assert_eq!(
        demo.send(reqwest::Method::PUT, &format!("/jobs/{id}"), Some(changed))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        demo.json(&format!("/jobs/{id}")).await["title"],
        "Renamed",
        "the update invalidated the job"
    );

    // clear-cache needs the token.
    let r = demo
        .send(
            reqwest::Method::POST,
            "/core/monitoring/clear-cache/",
            Some(json!({"kind": "job"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = reqwest::Client::new()
        .post(format!("{}/core/monitoring/clear-cache/", demo.url))
        .bearer_auth(TOKEN)
        .json(&json!({"kind": "job"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Bad input: 404 and 400/422, always JSON, never 500.
    for (method, path, body, status) in [
        (
            reqwest::Method::GET,
            "/accountsapp/whoami/99999",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            reqwest::Method::GET,
            "/jobs/99999",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            reqwest::Method::GET,
            "/jobs/abc",
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            reqwest::Method::GET,
            "/accountsapp/whoami/-1",
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            reqwest::Method::PUT,
            "/accountsapp/profile/3",
            Some(json!({"nickname": "x"})),
            StatusCode::UNPROCESSABLE_ENTITY, // well-formed JSON of the wrong shape
        ),
        (
            reqwest::Method::PUT,
            "/accountsapp/profile/99999",
            Some(json!({"bio": "x"})),
            StatusCode::NOT_FOUND,
        ),
        (
            reqwest::Method::POST,
            "/jobs/",
            Some(json!({"title": "no client"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            reqwest::Method::POST,
            "/accountsapp/logout/99999",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            reqwest::Method::GET,
            "/nowhere",
            None,
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = demo.send(method.clone(), path, body).await;
        assert_eq!(r.status(), status, "{method} {path}");
        assert!(
            r.json::<Value>().await.unwrap()["error"].is_string(),
            "{method} {path}"
        );
    }
    let mut bad = new;
    bad["client_id"] = json!(424242);
    let r = demo.send(reqwest::Method::POST, "/jobs/", Some(bad)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = reqwest::Client::new()
        .put(format!("{}/accountsapp/profile/3", demo.url))
        .header("content-type", "application/json")
        .body("{broken")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// The current time as the demo stores it (RFC 3339, UTC, seconds).
fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// A row posted between `from` and `until` (two readings of this machine's clock) carries a
/// `created_at` between them, not a fixed date.
fn assert_posted_between(row: &Value, from: &str, until: &str) {
    let at = row["created_at"].as_str().unwrap_or_default();
    assert!(
        from <= at && at <= until,
        "created_at {at:?} is not the time of posting ({from} .. {until}): {row}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_on_the_memory_backend() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(&dir.path().join("ps.db"), None, &[]);
    exercise_every_endpoint(&demo).await;
    assert_eq!(
        demo.json("/core/monitoring/system-health/").await["l2"]["backend"],
        "memory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_on_redis() {
    let Some(server) = strata_testkit::redis_or_skip("payshift on redis") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(&dir.path().join("ps.db"), Some(&server.url()), &[]);
    exercise_every_endpoint(&demo).await;
    assert_eq!(
        demo.json("/core/monitoring/system-health/").await["l2"]["backend"],
        "redis"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_redis_converge_through_the_bus() {
    let Some(server) = strata_testkit::redis_or_skip("two payshift processes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ps.db");
    let a = Demo::start(&db, Some(&server.url()), &[]);
    let b = Demo::start(&db, Some(&server.url()), &[]);
    assert_eq!(b.json("/accountsapp/whoami/4").await["user"]["id"], 4);
    let r = a
        .send(
            reqwest::Method::PUT,
            "/accountsapp/profile/4",
            Some(json!({"location": "Zanzibar"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let start = Instant::now();
    loop {
        if b.json("/accountsapp/whoami/4").await["profile"]["location"] == "Zanzibar" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "B still serves the old profile 3 s later: the bus did not reach it (its L1 lifetime is 60 s)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_while_serving() {
    let Some(mut server) = strata_testkit::redis_or_skip("payshift with redis killed") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(
        &dir.path().join("ps.db"),
        Some(&server.url()),
        &[("STRATA_L1__ENABLED", "false")],
    );
    let paths = [
        "/accountsapp/whoami/2",
        "/jobs/3",
        "/jobs/alljobs",
        "/jobs/job-industries/",
        "/jobs/job-subcategories/",
    ];
    for p in paths {
        demo.json(p).await;
    }
    server.stop();
    for _ in 0..3 {
        for p in paths {
            let r = demo.get(p).await;
            assert_eq!(r.status(), StatusCode::OK, "{p} with Redis down");
        }
    }
    let health = demo.get("/core/monitoring/system-health/").await;
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    server.restart().unwrap();
    let start = Instant::now();
    loop {
        demo.json("/jobs/3").await;
        let r = demo.get("/jobs/alljobs").await;
        if x_cache(&r) == "HIT" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "hits never returned after Redis restarted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        demo.json("/core/monitoring/system-health/").await["status"],
        "ok"
    );
}

/// A database of its own on the local PostgreSQL, dropped afterwards; `None` (skipped) when
/// PostgreSQL is not reachable.
async fn postgres_database() -> Option<(String, String)> {
    use sqlx::Connection;
    let admin = std::env::var("PAYSHIFT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED payshift on postgres: no PostgreSQL at {admin}"
        );
        return None;
    };
    let name = format!("payshift_e2e_{}", std::process::id());
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("PAYSHIFT_TEST_POSTGRES needs a database path"),
    };
    Some((admin, url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_on_postgres() {
    use sqlx::Connection;
    let Some((admin, url)) = postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    {
        let demo = Demo::start(
            &dir.path().join("unused.db"),
            None,
            &[("DATABASE_URL", &url)],
        );
        let health = demo.json("/core/monitoring/system-health/").await;
        assert_eq!(health["status"], "ok");
        exercise_every_endpoint(&demo).await;
    }
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let name = url.rsplit('/').next().unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// What an attacker tries from outside: junk query parameters on the costliest listing,
/// unrelated cookies, paths that are not UTF-8, huge and wrong-shaped bodies, oversized
/// fields, unknown ids, other methods. Every answer is JSON with the right status, and none
/// of them creates a response-cache entry or reaches the database more than once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_json_errors_and_never_bust_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(&dir.path().join("ps.db"), None, &[]);
    let alljobs = || async { demo.stats().await["kinds"]["api.alljobs"].clone() };
    let first = demo.get("/jobs/alljobs").await;
    assert_eq!(x_cache(&first), "MISS");
    let client = reqwest::Client::new();
    for n in 0..30 {
        let r = client
            .get(format!("{}/jobs/alljobs?cachebust={n}&page={n}", demo.url))
            .header("cookie", format!("_ga=GA1.{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(x_cache(&r), "HIT", "request {n}");
        let vary = r
            .headers()
            .get("vary")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(
            vary.is_some_and(|v| v.contains("cookie")),
            "Vary on cached responses"
        );
    }
    let stats = alljobs().await;
    assert_eq!(stats["loads"], 1, "one handler run: {stats}");
    assert!(stats["sets"].as_u64().unwrap_or(0) <= 1, "{stats}");

    let json_error = |r: reqwest::Response, status: StatusCode, what: &'static str| async move {
        assert_eq!(r.status(), status, "{what}");
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(ct.as_deref(), Some("application/json"), "{what}");
        let body: Value = r.json().await.unwrap();
        body["error"].as_str().unwrap_or_default().to_owned()
    };
    // A path that is not UTF-8.
    json_error(
        demo.get("/jobs/%FF%FE").await,
        StatusCode::BAD_REQUEST,
        "non-UTF-8 path",
    )
    .await;
    // Another method on a known route.
    let r = client
        .delete(format!("{}/jobs/1", demo.url))
        .send()
        .await
        .unwrap();
    json_error(r, StatusCode::METHOD_NOT_ALLOWED, "DELETE").await;
    // A body past the limit is 413, a wrong shape 422 naming the field.
    let huge = format!("{{\"bio\": \"{}\"}}", "x".repeat(3 << 20));
    let r = client
        .put(format!("{}/accountsapp/profile/3", demo.url))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    json_error(r, StatusCode::PAYLOAD_TOO_LARGE, "3 MiB body").await;
    let r = demo
        .send(
            reqwest::Method::POST,
            "/jobs/",
            Some(json!({"title": "no client"})),
        )
        .await;
    let said = json_error(r, StatusCode::UNPROCESSABLE_ENTITY, "missing field").await;
    assert!(said.contains("missing field"), "{said}");
    // A field past its length limit is refused by name; nothing is stored.
    let long = "y".repeat(10_001);
    let r = demo
        .send(
            reqwest::Method::PUT,
            "/accountsapp/profile/3",
            Some(json!({"bio": long})),
        )
        .await;
    let said = json_error(r, StatusCode::UNPROCESSABLE_ENTITY, "long bio").await;
    assert!(said.contains("bio"), "{said}");
    // Unknown ids are remembered briefly: one database load for many requests (the listings
    // requested above loaded the jobs they list: counted from here).
    let loads_before = demo.stats().await["kinds"]["job"]["loads"]
        .as_u64()
        .unwrap_or(0);
    for _ in 0..5 {
        json_error(
            demo.get("/jobs/999999").await,
            StatusCode::NOT_FOUND,
            "unknown job",
        )
        .await;
    }
    let job = demo.stats().await["kinds"]["job"].clone();
    assert_eq!(job["loads"].as_u64(), Some(loads_before + 1), "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_banner_is_true_and_keeps_a_chosen_token_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(
        &dir.path().join("ps.db"),
        None,
        &[("STRATA_L1__ENABLED", "false")],
    );
    let banner = demo.banner().join("\n");
    assert!(
        !banner.contains(TOKEN),
        "the chosen admin token was printed: {banner}"
    );
    assert!(
        banner.contains("admin token: from the configuration"),
        "{banner}"
    );
    assert!(
        banner.contains("cache: embedded memory backend, no in-process L1, prefix payshift"),
        "{banner}"
    );
    drop(demo);
    let demo = Demo::start(
        &dir.path().join("ps.db"),
        None,
        &[("STRATA_ADMIN_TOKEN", "")],
    );
    let banner = demo.banner().join("\n");
    assert!(
        banner.contains("(random; set STRATA_ADMIN_TOKEN to choose it)"),
        "{banner}"
    );
    assert!(banner.contains("+ in-process L1"), "{banner}");
}

/// The routes the Django service had beyond the first five: a user's profile (12 h) and a
/// job's applications (30 min), and a new application reaching every cached view of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_and_applications_are_cached_and_kept_true() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(&dir.path().join("ps.db"), None, &[]);
    let profile = demo.json("/accountsapp/profile/3").await;
    assert_eq!(profile["user_id"], 3);
    assert_eq!(demo.json("/accountsapp/profile/3").await, profile);
    let stats = demo.stats().await;
    assert!(
        stats["kinds"]["profile"]["hits"].as_u64().unwrap() >= 1,
        "{}",
        stats["kinds"]["profile"]
    );

    let job = demo.json("/jobs/5").await;
    let client_id = job["client"]["id"].as_i64().unwrap();
    let freelancer = if client_id == 2 { 4 } else { 2 };
    let before = demo.json("/jobs/5/applications").await;
    assert_eq!(before["job_id"], 5);
    assert_eq!(demo.json("/jobs/5/applications").await, before, "cached");
    assert_eq!(demo.stats().await["kinds"]["application"]["loads"], 1);
    let who_f = demo
        .json(&format!("/accountsapp/whoami/{freelancer}"))
        .await;
    let who_c = demo.json(&format!("/accountsapp/whoami/{client_id}")).await;

    let posted_from = now();
    let r = demo
        .send(
            reqwest::Method::POST,
            "/jobs/5/applications",
            Some(json!({"freelancer_id": freelancer})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let added: Value = r.json().await.unwrap();
    assert_posted_between(&added, &posted_from, &now());
    let after = demo.json("/jobs/5/applications").await;
    let count = |v: &Value| v["applications"].as_array().unwrap().len();
    assert_eq!(count(&after), count(&before) + 1);
    assert_eq!(after["applications"][0]["id"], added["id"], "newest first");
    assert_eq!(
        after["applications"][0]["created_at"], added["created_at"],
        "the list shows the time it was posted"
    );
    let sent = |v: &Value| v["stats"]["applications_sent"].as_i64().unwrap();
    let received = |v: &Value| v["stats"]["applications_received"].as_i64().unwrap();
    let now_f = demo
        .json(&format!("/accountsapp/whoami/{freelancer}"))
        .await;
    let now_c = demo.json(&format!("/accountsapp/whoami/{client_id}")).await;
    assert_eq!(
        sent(&now_f),
        sent(&who_f) + 1,
        "the freelancer's whoami was invalidated"
    );
    assert_eq!(
        received(&now_c),
        received(&who_c) + 1,
        "the client's whoami was invalidated"
    );

    // A job posted moves its client's jobs_posted at once.
    let posted = |v: &Value| v["stats"]["jobs_posted"].as_i64().unwrap();
    let new = json!({"client_id": client_id, "title": "t", "description": "d", "budget_min": 1.0,
                     "budget_max": 2.0, "industry_id": 1, "subcategory_id": 1});
    let r = demo.send(reqwest::Method::POST, "/jobs/", Some(new)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let again = demo.json(&format!("/accountsapp/whoami/{client_id}")).await;
    assert_eq!(posted(&again), posted(&now_c) + 1);

    for (path, body, status) in [
        (
            "/jobs/999999/applications",
            json!({"freelancer_id": 2}),
            StatusCode::NOT_FOUND,
        ),
        (
            "/jobs/5/applications",
            json!({"freelancer_id": 999999}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/jobs/5/applications",
            json!({"freelancer": 2}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let r = demo
            .send(reqwest::Method::POST, path, Some(body.clone()))
            .await;
        assert_eq!(r.status(), status, "{path} {body}");
    }
    assert_eq!(
        demo.get("/accountsapp/profile/999999").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// `--no-cache` is the same app on a cache with caching off: every route answers as the cached
/// demo does (bodies and error bodies alike), nothing is stored, and the monitoring routes say
/// caching is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cache_answers_every_route_the_same_with_caching_off() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ps.db");
    let cached = Demo::start(&db, None, &[]);
    let off = Demo::start(&db, None, &[("PAYSHIFT_NO_CACHE", "true")]);
    let banner = off.banner().join("\n");
    assert!(
        banner.contains("prefix payshift, caching off (--no-cache)"),
        "{banner}"
    );
    for path in [
        "/accountsapp/whoami/3",
        "/accountsapp/profile/3",
        "/jobs/5",
        "/jobs/5/applications",
        "/jobs/alljobs",
        "/jobs/job-industries/",
        "/jobs/job-subcategories/",
        "/jobs/abc",
        "/accountsapp/whoami/-1",
        "/accountsapp/profile/0",
        "/jobs/99999",
        "/jobs/%FF%FE",
        "/nowhere",
    ] {
        for _ in 0..2 {
            let (a, b) = (cached.get(path).await, off.get(path).await);
            assert_eq!(a.status(), b.status(), "{path}");
            let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
            assert_eq!(a, b, "{path}");
        }
    }
    // Writes answer too, and the next read shows them.
    let r = off
        .send(
            reqwest::Method::PUT,
            "/accountsapp/profile/3",
            Some(json!({"headline": "Uncached"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        off.json("/accountsapp/whoami/3").await["profile"]["headline"],
        "Uncached"
    );
    // Nothing was stored: the listing is never a hit, and no kind counts a hit or a write.
    let r = off.get("/jobs/alljobs").await;
    assert_eq!(x_cache(&r), "MISS");
    let stats = off.stats().await;
    assert_eq!(stats["caching"], false, "{stats}");
    for kind in ["whoami", "profile", "job", "application", "api.alljobs"] {
        assert_eq!(
            stats["kinds"][kind]["hits"].as_u64().unwrap_or(0),
            0,
            "{kind}: {stats}"
        );
    }
    let switch: Value = reqwest::Client::new()
        .get(format!("{}/core/monitoring/caching/", off.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(switch["enabled"], false, "{switch}");
}

/// `--warm`: before the banner, the lists and the most recent jobs are cached; the first
/// requests for them are hits, and no loader runs for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_caches_the_lists_and_the_recent_jobs_before_ready() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ps.db");
    let demo = Demo::start(
        &db,
        None,
        &[("PAYSHIFT_WARM", "true"), ("PAYSHIFT_WARM_JOBS", "5")],
    );
    let banner = demo.banner().join("\n");
    let warmed = banner
        .lines()
        .find(|l| l.starts_with("warmed in "))
        .unwrap_or_else(|| panic!("no warm line: {banner}"));
    assert!(
        warmed.contains("5 recent jobs (5 loaded, 0 already cached, 0 failed)"),
        "{warmed}"
    );
    let before = demo.stats().await;
    let loads = |s: &Value, kind: &str| s["kinds"][kind]["loads"].as_u64().unwrap_or(0);
    assert_eq!(loads(&before, "job"), 5);
    assert_eq!(
        (loads(&before, "industry"), loads(&before, "subcategory")),
        (1, 1)
    );
    let listed = demo.json("/jobs/alljobs").await["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|j| j["id"].as_i64())
        .collect::<Vec<_>>();
    let newest = *listed.iter().max().unwrap();
    for path in ["/jobs/job-industries/", "/jobs/job-subcategories/"] {
        assert_eq!(demo.get(path).await.status(), StatusCode::OK, "{path}");
    }
    for id in newest - 4..=newest {
        assert_eq!(
            demo.get(&format!("/jobs/{id}")).await.status(),
            StatusCode::OK
        );
    }
    let after = demo.stats().await;
    // The listing is built from the cached jobs: it loaded every job but the 5 warmed ones.
    assert_eq!(
        loads(&after, "job"),
        loads(&before, "job") + listed.len() as u64 - 5,
        "job: no load of a warmed job"
    );
    for kind in ["industry", "subcategory"] {
        assert_eq!(
            loads(&after, kind),
            loads(&before, kind),
            "{kind}: no load after warming"
        );
    }
}
