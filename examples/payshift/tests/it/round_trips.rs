//! Redis round trips of the demo's requests, counted by the testkit's proxy between the real
//! binary and a spawned redis-server: upper bounds, so a change cannot add one unnoticed.

use std::time::Duration;

use serde_json::json;
use strata_testkit::RoundTripProxy;

use crate::common::Demo;

/// Waits until the demo's coherence channels are subscribed.
async fn wait_for_the_bus(demo: &Demo) {
    let start = std::time::Instant::now();
    while demo.stats().await["coherence"]["subscribed"] != true {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the coherence channels never subscribed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_profile_update_and_logout_within_their_round_trips() {
    let Some(server) = strata_testkit::redis_or_skip("demo round trips") else {
        return;
    };
    let proxy = RoundTripProxy::start(server.port()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(&dir.path().join("ps.db"), Some(&proxy.url()), &[]);
    wait_for_the_bus(&demo).await;
    // The instance has served the kinds involved before (their counters are known).
    demo.json("/accountsapp/whoami/1").await;
    demo.json("/jobs/1").await;

    proxy.reset();
    demo.json("/accountsapp/whoami/2").await;
    let cold_whoami = proxy.round_trips();
    // Client tracking echoes the instance's own stores back to it (one more L2 read at most,
    // never an older value): let the echo arrive, then read once through L2.
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.reset();
    demo.json("/accountsapp/whoami/2").await;
    let after_echo = proxy.round_trips();
    assert!(
        after_echo <= 1,
        "the own stores' echo costs {after_echo} round trips"
    );
    proxy.reset();
    demo.json("/accountsapp/whoami/2").await;
    let warm_whoami = proxy.round_trips();
    proxy.reset();
    demo.json("/jobs/2").await;
    let cold_job = proxy.round_trips();
    proxy.reset();
    let r = demo
        .send(
            reqwest::Method::PUT,
            "/accountsapp/profile/2",
            Some(json!({"headline": "Counted"})),
        )
        .await;
    assert!(r.status().is_success());
    let profile_update = proxy.round_trips();
    proxy.reset();
    let r = demo
        .send(reqwest::Method::POST, "/accountsapp/logout/2", None)
        .await;
    assert!(r.status().is_success());
    let logout = proxy.round_trips();

    // The time of a cold whoami when every round trip pays 1 ms (printed, never asserted).
    proxy.set_latency(Duration::from_millis(1));
    let start = std::time::Instant::now();
    demo.json("/accountsapp/whoami/3").await;
    let slow_whoami = start.elapsed();
    proxy.set_latency(Duration::ZERO);
    eprintln!(
        "cold whoami {cold_whoami} ({slow_whoami:?} at +1 ms a round trip), warm whoami \
         {warm_whoami}, cold job {cold_job}, profile update {profile_update}, logout {logout}"
    );
    assert_eq!(warm_whoami, 0, "an L1 hit touches no backend");
    // The whoami's lookup reads the user and the profile ahead (its declared relations), and
    // the three stores go in one batch: 2 (the budget of a composite miss is 3; it was 6, or 7
    // when client tracking's echo of one of its own stores landed before a later read).
    assert!(cold_whoami <= 3, "cold whoami: {cold_whoami} round trips");
    assert!(cold_job <= 2, "cold job: {cold_job} round trips");
    assert!(
        profile_update <= 2,
        "profile update: {profile_update} round trips"
    );
    assert!(logout <= 1, "logout: {logout} round trips");
}
