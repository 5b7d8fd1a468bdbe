//! The real `payshift` binary on a free port: every endpoint over HTTP, with the memory backend
//! and with a spawned redis-server; two processes sharing Redis; Redis killed while serving.

mod common;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{Demo, TOKEN, x_cache};

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
    let r = demo
        .send(reqwest::Method::POST, "/jobs/", Some(new.clone()))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
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
            StatusCode::BAD_REQUEST,
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
            StatusCode::BAD_REQUEST,
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
