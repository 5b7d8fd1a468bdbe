//! Headless Chromium loads the dashboard from a running server: the charts render with data,
//! and a screenshot is written to target/dashboard.png.

use crate::common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::sync::Arc;

use strata::{CacheBuilder, CacheConfig, MemoryBackend, MemoryConfig};
use strata_http::monitoring::{MonitoringConfig, mount, router};

/// Set by CI: a missing browser fails the test instead of skipping it.
const REQUIRE_BROWSER_ENV: &str = "STRATA_REQUIRE_BROWSER";

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(p) = std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
        {
            return Some(p);
        }
    }
    None
}

fn headless(browser: &Path, profile: &Path, extra: &[&str], url: &str) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=8000",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_renders_its_charts_with_data() {
    let Some(browser) = chromium() else {
        if std::env::var(REQUIRE_BROWSER_ENV).is_ok_and(|v| v == "1") {
            panic!("chromium is not on PATH and {REQUIRE_BROWSER_ENV}=1");
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED dashboard browser test: chromium not found on PATH"
        );
        return;
    };
    // Another instance wrote some entries to the shared backend: this one reads them from L2
    // (the L2 entry sample), loads the rest, then hits.
    let backend: Arc<dyn strata::Backend> =
        Arc::new(MemoryBackend::new(MemoryConfig::default().with_namespace("dash:")).unwrap());
    // Sessions live in a backend of their own (issue 25): the writer stores three there.
    let sessions: Arc<dyn strata::Backend> =
        Arc::new(MemoryBackend::new(MemoryConfig::default().with_namespace("dash:")).unwrap());
    let writer = CacheBuilder::new()
        .prefix("dash")
        .metrics(false)
        .backend(backend.clone())
        .named_backend("sessions", sessions.clone())
        .route("session", "sessions")
        .build()
        .await
        .unwrap();
    // Every key and every lookup sampled: the causes and hot-key counts below are exact. The
    // kind job has an L1 partition of its own.
    let config = CacheConfig::from_toml_str(
        "[analytics]\nsample_rate = 1.0\n[hot_keys]\nsample_every = 1\n\
         [kinds.job.l1]\nmax_entries = 50\n",
    )
    .unwrap();
    let cache = CacheBuilder::from_config(config)
        .prefix("dash")
        .declare_kind("job")
        .metrics(false)
        .backend(backend)
        .named_backend("sessions", sessions)
        .route("session", "sessions")
        .build()
        .await
        .unwrap();
    for kind in ["user", "job", "whoami"] {
        let w = writer.kind::<u32>(kind).unwrap();
        for i in 0..10u32 {
            w.set(i, i).await.unwrap();
        }
        let k = cache.kind::<u32>(kind).unwrap();
        for i in 0..20u32 {
            // A loader that takes a while: the hits save loader time.
            k.get_or_load(i, || async move {
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
                Ok::<_, String>(i)
            })
            .await
            .unwrap();
        }
        for i in 0..30u32 {
            k.get(i % 25).await.unwrap();
        }
    }
    let w = writer.kind::<u32>("session").unwrap();
    for i in 0..3u32 {
        w.set(i, i).await.unwrap();
    }
    let user0 = cache.kind::<u32>("user").unwrap().key(0u32).unwrap();
    let app = mount(
        axum::Router::new(),
        "/core/monitoring",
        router(cache, MonitoringConfig::default().with_admin_token("tok")),
    );
    let base = common::serve(app).await;
    let health: serde_json::Value = reqwest::get(format!("{base}/core/monitoring/system-health/"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        health["l1"]["entries"], 60,
        "health counts every L1 store: 40 in the default pool, 20 in job's partition"
    );
    // Each named backend's L2 memory, beside the default one's.
    let stats: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/core/monitoring/cache-stats/"))
        .bearer_auth("tok")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let named = &stats["memory"]["l2_backends"]["sessions"];
    assert_eq!(named["backend"], "memory", "{named}");
    assert_eq!(named["sample"]["per_kind"]["session"]["keys"], 3, "{named}");
    assert!(named["entries"].as_u64().unwrap() >= 3, "{named}");
    assert!(named["bytes_used"].as_u64().unwrap() > 0, "{named}");
    assert_eq!(
        named["eviction_policy"],
        stats["memory"]["l2"]["eviction_policy"]
    );
    let default_sample = &stats["memory"]["l2"]["sample"]["per_kind"];
    assert!(default_sample.get("session").is_none(), "{default_sample}");
    assert_eq!(default_sample["user"]["keys"], 20, "{default_sample}");
    let url = format!("{base}/core/monitoring/#token=tok");
    let profile = tempfile_dir();

    let browser2 = browser.clone();
    let (p1, u1) = (profile.clone(), url.clone());
    let dom = tokio::task::spawn_blocking(move || headless(&browser2, &p1, &["--dump-dom"], &u1))
        .await
        .unwrap();
    let html = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(
        html.contains("data-ready=\"1\""),
        "the page loaded its statistics: {}",
        &html[..html.len().min(2000)]
    );
    assert!(
        html.matches("class=\"series\"").count() >= 3,
        "one hit-rate line per kind"
    );
    assert!(
        html.contains("class=\"bar\""),
        "the age distribution is drawn"
    );
    assert!(
        html.contains("<td>whoami</td>"),
        "the kinds table is filled"
    );
    // The analytics panels (issue 26), with data.
    assert!(
        html.matches("class=\"mrc-point\"").count() >= 5,
        "the miss-ratio curve is drawn at its five sizes"
    );
    assert!(html.contains("class=\"mrc-line\""), "and as a line");
    assert!(
        html.contains("class=\"mrc-actual\""),
        "beside the L1's actual hit ratio"
    );
    assert!(html.contains("LRU estimate"), "labelled as an LRU estimate");
    assert_eq!(
        html.matches("class=\"cause-row\"").count(),
        6,
        "misses by cause: one row per kind and tier"
    );
    assert!(
        html.contains("<td>L1</td><td>25</td><td>25</td>")
            && html.contains("<td>L2</td><td>15</td><td>15</td>"),
        "25 L1 and 15 L2 misses per kind, all cold: {}",
        &html[html.find("id=\"causes\"").unwrap_or(0)..][..1500.min(html.len())]
    );
    let saved = html
        .split("class=\"saved\">")
        .skip(1)
        .filter(|cell| !cell.starts_with("0 ms"))
        .count();
    assert_eq!(saved, 3, "each kind's hits saved loader time");
    assert!(
        html.contains("class=\"stored-share\">100%</text>"),
        "the age of entries in L2 is drawn: the 30 read from L2 all under a minute old"
    );

    // Per kind, keys 0-4 were looked up 3 times (a load and two gets), 5-24 once or twice:
    // the table lists each kind's 10 hottest, led by keys 0-4 at 3.
    assert_eq!(
        html.matches("class=\"hot-key\"").count(),
        30,
        "hot keys: 10 rows per kind"
    );
    assert!(
        html.contains(&format!("<td>user</td><td>{user0}</td><td>3</td>")),
        "a hot-key row with its estimated lookups: {}",
        &html[html.find("id=\"hotKeys\"").unwrap_or(0)..][..1500.min(html.len())]
    );
    assert!(html.contains("estimated from a sample of the lookups"));
    // The L1 partitions (issue 25): the default pool (user, whoami: 40 entries) and job's own.
    assert_eq!(
        html.matches("class=\"partition\"").count(),
        2,
        "one row per L1 store"
    );
    assert!(
        html.contains("<td>default pool</td><td>40 / 100000</td>")
            && html.contains("<td>job</td><td>20 / 50</td>"),
        "each partition's use and budget: {}",
        &html[html.find("id=\"partitions\"").unwrap_or(0)..][..1000.min(html.len())]
    );

    // The backends (issue 25): the default one and sessions, each with its kinds and memory.
    assert_eq!(
        html.matches("class=\"backend\"").count(),
        2,
        "one row per backend"
    );
    let backends = &html[html.find("id=\"backends\"").unwrap_or(0)..];
    let backends = &backends[..1500.min(backends.len())];
    assert!(
        html.contains("<td>default (memory)</td><td>every other kind</td><td>closed</td>")
            && html.contains(
                "<td>sessions (memory)</td><td>session</td><td>closed</td>\
                 <td>0 queued, 0 replayed</td><td>off</td>"
            ),
        "each backend's kinds, breaker, deferred changes and coherence: {backends}"
    );
    assert!(
        backends.contains("<td>session: 3 keys, "),
        "the named backend's sampled bytes: {backends}"
    );

    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/dashboard.png");
    // The workspace's target/ is absent when CARGO_TARGET_DIR points elsewhere.
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let arg = format!("--screenshot={}", shot.display());
    let (p2, u2) = (profile.clone(), url.clone());
    let out = tokio::task::spawn_blocking(move || headless(&browser, &p2, &[&arg], &u2))
        .await
        .unwrap();
    assert!(
        shot.exists(),
        "screenshot written: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real picture"
    );
    let _ = std::fs::remove_dir_all(profile);
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-chromium-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
