//! Two demo processes sharing a spawned Redis with client tracking (the default): a writer
//! outside Strata reaches both, and an instance stopped (SIGSTOP) while another one changes a
//! value does not serve its old copy when it resumes — end to end, whichever comes first on
//! resuming, the queued push or the heartbeat bound. The bound alone is tested on a manual
//! clock (crates/strata/tests/it/tracking.rs): here the push usually wins the race.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::Demo;

async fn wait_confirmed(demo: &Demo) {
    let start = std::time::Instant::now();
    loop {
        let stats = demo.stats().await;
        if stats["coherence"]["subscribed"] == true
            && stats["coherence"]["verified"] == true
            && stats["coherence"]["mode"] == "tracking"
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "coherence never confirmed: {}",
            stats["coherence"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instance_does_not_serve_its_old_copy_when_it_resumes() {
    let Some(server) = strata_testkit::redis_or_skip("stopped demo instance") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ps.db");
    let (a, b) = (
        Demo::start(&db, Some(&server.url()), &[]),
        Demo::start(&db, Some(&server.url()), &[]),
    );
    wait_confirmed(&a).await;
    wait_confirmed(&b).await;
    for round in 0..3 {
        let headline = format!("before {round}");
        let r = b
            .send(
                reqwest::Method::PUT,
                "/accountsapp/profile/5",
                Some(json!({ "headline": headline })),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        // A holds the current value in L1.
        let start = std::time::Instant::now();
        while a.json("/accountsapp/whoami/5").await["profile"]["headline"] != headline.as_str() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "A never saw {headline}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        a.json("/accountsapp/whoami/5").await;

        // A stops; B changes the profile; A resumes and is asked at once.
        a.signal("STOP");
        let changed = format!("changed while A was stopped {round}");
        let r = b
            .send(
                reqwest::Method::PUT,
                "/accountsapp/profile/5",
                Some(json!({ "headline": changed })),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(400)).await;
        a.signal("CONT");
        let seen = a.json("/accountsapp/whoami/5").await["profile"]["headline"].clone();
        assert_eq!(
            seen,
            changed.as_str(),
            "round {round}: A served its copy from before it was stopped"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_outside_strata_reaches_both_instances() {
    let Some(server) = strata_testkit::redis_or_skip("foreign writer and two demos") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ps.db");
    let (a, b) = (
        Demo::start(&db, Some(&server.url()), &[]),
        Demo::start(&db, Some(&server.url()), &[]),
    );
    wait_confirmed(&a).await;
    wait_confirmed(&b).await;
    for demo in [&a, &b] {
        demo.json("/jobs/8").await;
    }
    // An operator deletes every cached job with redis-cli: both instances reload from the
    // database, which a direct update changed meanwhile.
    let conn = retitle_behind_the_cache(&db).await;
    let out = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &server.port().to_string(),
            "--scan",
            "--pattern",
            "payshift:v1:job:*",
        ])
        .output()
        .unwrap();
    let keys = String::from_utf8(out.stdout).unwrap();
    assert!(!keys.trim().is_empty(), "job entries are cached");
    for key in keys.lines() {
        let status = std::process::Command::new("redis-cli")
            .args(["-p", &server.port().to_string(), "DEL", key])
            .status()
            .unwrap();
        assert!(status.success());
    }
    for demo in [&a, &b] {
        let start = std::time::Instant::now();
        while demo.json("/jobs/8").await["title"] != conn.as_str() {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "an instance still serves the deleted entry"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Changes job 8's title in the database behind the cache's back; the new title.
async fn retitle_behind_the_cache(db: &std::path::Path) -> String {
    use sqlx::Connection;
    let title = "Retitled behind the cache".to_owned();
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE jobs SET title = ? WHERE id = 8")
        .bind(&title)
        .execute(&mut conn)
        .await
        .unwrap();
    title
}
