//! ResponseCacheLayer over a real socket: MISS then HIT, per-user isolation, Set-Cookie,
//! no-cache, ETag/304, single flight, query order.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use reqwest::StatusCode;
use strata::CacheBuilder;
use strata_http::ResponseCacheLayer;

#[derive(Clone, Default)]
struct Counters {
    calls: Arc<AtomicUsize>,
    version: Arc<AtomicUsize>,
}

async fn app() -> (String, Counters) {
    let cache = CacheBuilder::new()
        .prefix("rc")
        .metrics(false)
        .build()
        .await
        .unwrap();
    let c = Counters::default();
    let (c1, c2, c3, c4) = (c.clone(), c.clone(), c.clone(), c.clone());
    let router = Router::new()
        .route(
            "/jobs/alljobs",
            get(move |headers: HeaderMap| {
                let c = c1.clone();
                async move {
                    c.calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    let who = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("anonymous")
                        .to_owned();
                    format!("jobs v{} for {who}", c.version.load(Ordering::SeqCst))
                }
            }),
        )
        .route(
            "/login",
            get(move || {
                let c = c2.clone();
                async move {
                    c.calls.fetch_add(1, Ordering::SeqCst);
                    ([("set-cookie", "session=abc")], "welcome")
                }
            }),
        )
        .route(
            "/private",
            get(move || {
                let c = c3.clone();
                async move {
                    c.calls.fetch_add(1, Ordering::SeqCst);
                    ([("cache-control", "private, max-age=60")], "mine")
                }
            }),
        )
        .route(
            "/missing",
            get(move || {
                let c = c4.clone();
                async move {
                    c.calls.fetch_add(1, Ordering::SeqCst);
                    (StatusCode::NOT_FOUND, "no such thing")
                }
            }),
        )
        .layer(ResponseCacheLayer::new(
            cache,
            strata::ResponseKind::new("alljobs:").unwrap(),
            Duration::from_secs(900),
        ));
    (common::serve(router).await, c)
}

fn x_cache(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn miss_then_hit() {
    let (base, c) = app().await;
    let r = reqwest::get(format!("{base}/jobs/alljobs")).await.unwrap();
    assert_eq!(x_cache(&r), "MISS");
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(r.text().await.unwrap(), "jobs v0 for anonymous");
    let r = reqwest::get(format!("{base}/jobs/alljobs")).await.unwrap();
    assert_eq!(x_cache(&r), "HIT");
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(r.text().await.unwrap(), "jobs v0 for anonymous");
    assert_eq!(c.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn users_never_see_each_others_responses() {
    let (base, c) = app().await;
    let client = reqwest::Client::new();
    for _ in 0..2 {
        for user in ["alice", "bob"] {
            let body = client
                .get(format!("{base}/jobs/alljobs"))
                .bearer_auth(user)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(body, format!("jobs v0 for Bearer {user}"));
        }
    }
    assert_eq!(
        c.calls.load(Ordering::SeqCst),
        2,
        "one call per user, then hits"
    );
    let cookie = client
        .get(format!("{base}/jobs/alljobs"))
        .header("cookie", "session=x")
        .send()
        .await
        .unwrap();
    assert_eq!(x_cache(&cookie), "MISS", "cookies vary the key too");
}

#[tokio::test]
async fn set_cookie_private_and_errors_are_not_cached() {
    let (base, c) = app().await;
    for path in ["/login", "/private", "/missing"] {
        for _ in 0..2 {
            let r = reqwest::get(format!("{base}{path}")).await.unwrap();
            assert_eq!(x_cache(&r), "MISS", "{path}");
        }
    }
    assert_eq!(c.calls.load(Ordering::SeqCst), 6);
    let r = reqwest::get(format!("{base}/login")).await.unwrap();
    assert_eq!(
        r.headers()["set-cookie"],
        "session=abc",
        "the cookie still reaches its requester"
    );
    let r = reqwest::get(format!("{base}/missing")).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn no_cache_bypasses_and_refreshes() {
    let (base, c) = app().await;
    let client = reqwest::Client::new();
    client
        .get(format!("{base}/jobs/alljobs"))
        .send()
        .await
        .unwrap();
    c.version.store(1, Ordering::SeqCst);
    let r = client
        .get(format!("{base}/jobs/alljobs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "jobs v0 for anonymous", "cached");
    let r = client
        .get(format!("{base}/jobs/alljobs"))
        .header("cache-control", "no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(x_cache(&r), "BYPASS");
    assert_eq!(r.text().await.unwrap(), "jobs v1 for anonymous");
    let r = client
        .get(format!("{base}/jobs/alljobs"))
        .send()
        .await
        .unwrap();
    assert_eq!(x_cache(&r), "HIT");
    assert_eq!(
        r.text().await.unwrap(),
        "jobs v1 for anonymous",
        "the bypass refreshed the cache"
    );
}

#[tokio::test]
async fn etags_and_not_modified() {
    let (base, _) = app().await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{base}/jobs/alljobs"))
        .send()
        .await
        .unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let r = client
        .get(format!("{base}/jobs/alljobs"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    assert!(r.text().await.unwrap().is_empty());
    let r = client
        .get(format!("{base}/jobs/alljobs"))
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn concurrent_misses_call_the_handler_once() {
    let (base, c) = app().await;
    let client = reqwest::Client::new();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (client, url) = (client.clone(), format!("{base}/jobs/alljobs?b=2&a=1"));
            tokio::spawn(async move { client.get(url).send().await.unwrap().text().await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), "jobs v0 for anonymous");
    }
    assert_eq!(c.calls.load(Ordering::SeqCst), 1);
    let r = reqwest::get(format!("{base}/jobs/alljobs?a=1&b=2"))
        .await
        .unwrap();
    assert_eq!(x_cache(&r), "HIT", "query order does not matter");
}
