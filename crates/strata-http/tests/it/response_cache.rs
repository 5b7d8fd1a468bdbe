//! ResponseCacheLayer over a real socket: MISS then HIT, per-user isolation, Set-Cookie,
//! no-cache, ETag/304, single flight, query order; declared query parameters, identity by a
//! session cookie, content types, Vary, HEAD lengths.

use crate::common;

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
        .layer(
            ResponseCacheLayer::new(
                cache,
                strata::ResponseKind::new("alljobs:").unwrap(),
                Duration::from_secs(900),
            )
            .content_types(["text/plain"])
            .query(["a", "b"]),
        );
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

/// A listing that reads `page` and echoes what it was given, behind `layer`.
async fn listing(layer: impl Fn(ResponseCacheLayer) -> ResponseCacheLayer) -> (String, Counters) {
    let cache = CacheBuilder::new()
        .prefix("rcq")
        .metrics(false)
        .build()
        .await
        .unwrap();
    let c = Counters::default();
    let (c1, c2) = (c.clone(), c.clone());
    let router = Router::new()
        .route(
            "/list",
            get(move |uri: axum::http::Uri| {
                let c = c1.clone();
                async move {
                    c.calls.fetch_add(1, Ordering::SeqCst);
                    axum::Json(serde_json::json!({"query": uri.query()}))
                }
            }),
        )
        .route(
            "/text",
            get(move || {
                let c = c2.clone();
                async move {
                    c.calls.fetch_add(1, Ordering::SeqCst);
                    "plain text"
                }
            }),
        )
        .layer(layer(ResponseCacheLayer::new(
            cache,
            strata::ResponseKind::new("list").unwrap(),
            Duration::from_secs(60),
        )));
    (common::serve(router).await, c)
}

#[tokio::test]
async fn undeclared_query_parameters_neither_run_the_handler_nor_create_entries() {
    let (base, c) = listing(|l| l.query(["page"])).await;
    let body = |r: reqwest::Response| async move { r.json::<serde_json::Value>().await.unwrap() };
    let r = reqwest::get(format!("{base}/list")).await.unwrap();
    assert_eq!(x_cache(&r), "MISS");
    assert_eq!(body(r).await["query"], serde_json::Value::Null);
    for junk in 1..=20 {
        let r = reqwest::get(format!("{base}/list?cachebust={junk}"))
            .await
            .unwrap();
        assert_eq!(x_cache(&r), "HIT", "?cachebust={junk}");
        assert_eq!(body(r).await["query"], serde_json::Value::Null);
    }
    assert_eq!(
        c.calls.load(Ordering::SeqCst),
        1,
        "one handler run for 21 URLs"
    );

    // A declared parameter keys its own entry, and the handler sees it (and only it).
    let r = reqwest::get(format!("{base}/list?page=2&utm_source=x"))
        .await
        .unwrap();
    assert_eq!(x_cache(&r), "MISS", "page 2 is never page 1's entry");
    assert_eq!(body(r).await["query"], "page=2");
    // Spelling variants of page 2 share its entry.
    for variant in ["page=2", "%70age=2", "utm=1&page=%32"] {
        let r = reqwest::get(format!("{base}/list?{variant}"))
            .await
            .unwrap();
        assert_eq!(x_cache(&r), "HIT", "{variant}");
        assert_eq!(body(r).await["query"], "page=2");
    }
    assert_eq!(c.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_named_session_cookie_is_the_identity() {
    let (base, c) = listing(|l| l.vary_by_cookie(["session"])).await;
    let client = reqwest::Client::new();
    let get = |cookie: &'static str| {
        let req = client.get(format!("{base}/list"));
        let req = if cookie.is_empty() {
            req
        } else {
            req.header("cookie", cookie)
        };
        async move { req.send().await.unwrap() }
    };
    // Anonymous visitors share one entry whatever unrelated cookies they carry.
    assert_eq!(x_cache(&get("").await), "MISS");
    assert_eq!(x_cache(&get("_ga=GA1.1").await), "HIT");
    let r = get("_ga=GA1.2; theme=dark").await;
    assert_eq!(x_cache(&r), "HIT");
    // Downstream shared caches are told what the response varies on.
    let vary = r
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(", ");
    assert!(
        vary.contains("authorization") && vary.contains("cookie"),
        "{vary}"
    );
    assert_eq!(c.calls.load(Ordering::SeqCst), 1);
    // Each session its own.
    assert_eq!(x_cache(&get("session=alice; _ga=1").await), "MISS");
    assert_eq!(x_cache(&get("_ga=2; session=alice").await), "HIT");
    assert_eq!(x_cache(&get("session=bob").await), "MISS");
    assert_eq!(c.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn the_whole_cookie_header_is_the_identity_by_default() {
    let (base, c) = listing(|l| l).await;
    let client = reqwest::Client::new();
    for cookie in ["_ga=1", "_ga=2"] {
        let r = client
            .get(format!("{base}/list"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(x_cache(&r), "MISS", "{cookie}");
    }
    assert_eq!(c.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn only_the_content_types_it_is_told_are_stored() {
    let (base, c) = listing(|l| l).await;
    for _ in 0..2 {
        let r = reqwest::get(format!("{base}/text")).await.unwrap();
        assert_eq!(x_cache(&r), "MISS", "text/plain is not stored by default");
    }
    assert_eq!(c.calls.load(Ordering::SeqCst), 2);
    let (base, c) = listing(|l| l.content_types(["text/plain"])).await;
    for expect in ["MISS", "HIT"] {
        let r = reqwest::get(format!("{base}/text")).await.unwrap();
        assert_eq!(x_cache(&r), expect);
    }
    assert_eq!(c.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn head_hits_carry_the_real_length() {
    let (base, _) = listing(|l| l).await;
    let full = reqwest::get(format!("{base}/list")).await.unwrap();
    let length = full.bytes().await.unwrap().len();
    assert!(length > 0);
    let r = reqwest::Client::new()
        .head(format!("{base}/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(x_cache(&r), "HIT");
    assert_eq!(
        r.headers()
            .get("content-length")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some(length.to_string())
    );
}
