//! #[cached] and #[derive(Cacheable)]: function results cached by their arguments.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use strata::Cache;

static INDUSTRY_CALLS: AtomicUsize = AtomicUsize::new(0);
static JOB_CALLS: AtomicUsize = AtomicUsize::new(0);
static FLAKY_CALLS: AtomicUsize = AtomicUsize::new(0);
static LOOKUP_CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Industry {
    id: u32,
    name: String,
}

struct Db {
    industries: Vec<Industry>,
}

#[derive(Debug, Clone, PartialEq)]
struct AppError(String);

#[strata::cached(ttl = "24h", prefix = "industry:")]
async fn all_industries(cache: &Cache, #[skip] db: &Db) -> Result<Vec<Industry>, AppError> {
    INDUSTRY_CALLS.fetch_add(1, Ordering::SeqCst);
    Ok(db.industries.clone())
}

#[strata::cached(prefix = "job:")]
async fn job_title(cache: &Cache, id: u64, lang: &str) -> String {
    JOB_CALLS.fetch_add(1, Ordering::SeqCst);
    format!("job {id} in {lang}")
}

#[strata::cached(prefix = "flaky:")]
async fn flaky(cache: &Cache, fail: bool) -> Result<u32, AppError> {
    FLAKY_CALLS.fetch_add(1, Ordering::SeqCst);
    if fail {
        Err(AppError("nope".into()))
    } else {
        Ok(7)
    }
}

#[strata::cached(prefix = "lookup:", cache_none = "5m")]
async fn lookup(cache: &Cache, id: u32) -> Option<String> {
    LOOKUP_CALLS.fetch_add(1, Ordering::SeqCst);
    (id == 1).then(|| "one".to_string())
}

#[tokio::test]
async fn function_results_are_cached_by_their_arguments() {
    let (cache, backend) = common::memory_cache().await;
    let db = Db {
        industries: vec![Industry {
            id: 1,
            name: "Technology".into(),
        }],
    };
    for _ in 0..3 {
        assert_eq!(all_industries(&cache, &db).await.unwrap(), db.industries);
    }
    assert_eq!(INDUSTRY_CALLS.load(Ordering::SeqCst), 1);
    let key = "t:v1:industry:s1:all_industries";
    match backend.ttl(key).await.unwrap() {
        strata::KeyTtl::Expires(d) => {
            assert!(d > Duration::from_secs(23 * 3600), "ttl = \"24h\": {d:?}")
        }
        other => panic!("{key} not cached: {other:?}"),
    }

    assert_eq!(job_title(&cache, 1, "en").await, "job 1 in en");
    assert_eq!(job_title(&cache, 1, "en").await, "job 1 in en");
    assert_eq!(job_title(&cache, 1, "fr").await, "job 1 in fr");
    assert_eq!(job_title(&cache, 2, "en").await, "job 2 in en");
    assert_eq!(
        JOB_CALLS.load(Ordering::SeqCst),
        3,
        "one call per distinct argument list"
    );
    // Without `ttl`, the kind's table entry (job: 2h) applies.
    match backend
        .ttl(r#"t:v1:job:s1:["job_title",1,"en"]"#)
        .await
        .unwrap()
    {
        strata::KeyTtl::Expires(d) => {
            assert!(d > Duration::from_secs(3600) && d <= Duration::from_secs(2 * 3600 + 301))
        }
        other => panic!("not cached: {other:?}"),
    }
}

#[tokio::test]
async fn errors_are_returned_and_never_cached() {
    let (cache, _) = common::memory_cache().await;
    assert_eq!(flaky(&cache, true).await, Err(AppError("nope".into())));
    assert_eq!(flaky(&cache, true).await, Err(AppError("nope".into())));
    assert_eq!(
        FLAKY_CALLS.load(Ordering::SeqCst),
        2,
        "errors are not cached"
    );
    assert_eq!(flaky(&cache, false).await, Ok(7));
    assert_eq!(flaky(&cache, false).await, Ok(7));
    assert_eq!(FLAKY_CALLS.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn none_is_cached_only_when_asked() {
    let (cache, _) = common::memory_cache().await;
    assert_eq!(lookup(&cache, 1).await.as_deref(), Some("one"));
    assert_eq!(lookup(&cache, 1).await.as_deref(), Some("one"));
    assert_eq!(lookup(&cache, 2).await, None);
    assert_eq!(lookup(&cache, 2).await, None);
    assert_eq!(
        LOOKUP_CALLS.load(Ordering::SeqCst),
        2,
        "cache_none = \"5m\" caches the None too"
    );
}

static PRICE_CALLS: AtomicUsize = AtomicUsize::new(0);

#[strata::cached(prefix = "price:")]
async fn price(cache: &Cache, #[skip] db: &Db, sku: &str, currency: &str) -> u64 {
    PRICE_CALLS.fetch_add(1, Ordering::SeqCst);
    (db.industries.len() + sku.len() + currency.len()) as u64
}

#[tokio::test]
async fn a_cached_function_can_be_invalidated_by_its_arguments_and_called_uncached() {
    let (cache, _) = common::memory_cache().await;
    let db = Db { industries: vec![] };
    assert_eq!(price(&cache, &db, "ab", "eur").await, 5);
    assert_eq!(price(&cache, &db, "ab", "eur").await, 5);
    assert_eq!(price(&cache, &db, "abc", "eur").await, 6);
    assert_eq!(
        PRICE_CALLS.load(Ordering::SeqCst),
        2,
        "one call per argument list"
    );

    // `_invalidate` takes the cache and the key arguments (not the #[skip] ones).
    assert!(price_invalidate(&cache, "ab", "eur").await.unwrap());
    assert!(
        !price_invalidate(&cache, "ab", "usd").await.unwrap(),
        "nothing cached there"
    );
    assert_eq!(price(&cache, &db, "ab", "eur").await, 5);
    assert_eq!(
        PRICE_CALLS.load(Ordering::SeqCst),
        3,
        "reloaded after the invalidation"
    );
    assert_eq!(price(&cache, &db, "abc", "eur").await, 6);
    assert_eq!(
        PRICE_CALLS.load(Ordering::SeqCst),
        3,
        "the other result stays cached"
    );

    // `_uncached` runs the body every time and leaves the cache alone.
    assert_eq!(price_uncached(&cache, &db, "ab", "eur").await, 5);
    assert_eq!(price_uncached(&cache, &db, "ab", "eur").await, 5);
    assert_eq!(PRICE_CALLS.load(Ordering::SeqCst), 5);
    assert_eq!(price(&cache, &db, "ab", "eur").await, 5);
    assert_eq!(PRICE_CALLS.load(Ordering::SeqCst), 5, "still cached");
}

static MOTTO_CALLS: AtomicUsize = AtomicUsize::new(0);

#[strata::cached(prefix = "motto:")]
async fn motto(cache: &Cache) -> String {
    MOTTO_CALLS.fetch_add(1, Ordering::SeqCst);
    "cache me".to_owned()
}

#[tokio::test]
async fn a_function_without_key_arguments_is_cached_under_its_name_and_invalidated_there() {
    let (cache, _) = common::memory_cache().await;
    assert_eq!(motto(&cache).await, "cache me");
    assert_eq!(motto(&cache).await, "cache me");
    assert_eq!(
        MOTTO_CALLS.load(Ordering::SeqCst),
        1,
        "cached after one call"
    );
    // Looked up by id (its name), deleted by key: both are the one key `motto:motto`'s.
    let kind = cache
        .function_results::<String>("motto:", None)
        .expect("kind");
    assert_eq!(
        kind.get("motto")
            .await
            .unwrap()
            .as_deref()
            .map(String::as_str),
        Some("cache me")
    );
    assert!(motto_invalidate(&cache).await.unwrap());
    assert_eq!(
        kind.get("motto").await.unwrap(),
        None,
        "gone from both tiers"
    );
    assert_eq!(motto(&cache).await, "cache me");
    assert_eq!(
        MOTTO_CALLS.load(Ordering::SeqCst),
        2,
        "reloaded after the invalidation"
    );
}
