//! The ACL user of docs/security.md is enough: every cache operation works with it, and it
//! cannot touch keys outside the prefix.

use crate::common;

use std::time::Duration;

use strata::{CacheBuilder, CacheConfig, LoadOptions};

/// The command of docs/security.md, for prefix "shop" (docs/operations.md repeats it).
fn acl_command() -> Vec<String> {
    let doc = include_str!("../../../../docs/security.md");
    let acl_line = |doc: &'static str| {
        doc.lines()
            .find(|l| l.starts_with("ACL SETUSER shop-cache"))
            .expect("the ACL line is in the doc")
    };
    let line = acl_line(doc);
    assert_eq!(
        acl_line(include_str!("../../../../docs/operations.md")),
        line,
        "docs/operations.md repeats docs/security.md's ACL line"
    );
    line.replace("LONG-RANDOM-PASSWORD", "acl-test-password")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_acl_user_can_do_everything_the_cache_needs() {
    let Some(server) = strata_testkit::redis_or_skip("ACL user") else {
        return;
    };
    let client = redis::Client::open(server.url()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let args = acl_command();
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a);
    }
    let _: () = cmd.query_async(&mut admin).await.unwrap();

    let url = format!(
        "redis://shop-cache:acl-test-password@127.0.0.1:{}",
        server.port()
    );
    let make = || async {
        let config = CacheConfig::from_toml_str(&format!(
            "prefix = \"shop\"\nmetrics = false\n[backend]\nurl = \"{url}\"\n"
        ))
        .unwrap();
        CacheBuilder::from_config(config).build().await.unwrap()
    };
    let (a, b) = (make().await, make().await);
    for c in [&a, &b] {
        tokio::time::timeout(Duration::from_secs(10), c.ready())
            .await
            .expect(
                "client tracking works for the ACL user (HELLO, CLIENT SETNAME, CLIENT TRACKING)",
            );
        common::eventually("coherence confirmed for the ACL user", async || {
            c.admin().coherence().verified && c.admin().coherence().confirmed_ago_ms.is_some()
        })
        .await;
    }
    let (ja, jb) = (
        a.kind::<String>("job").unwrap(),
        b.kind::<String>("job").unwrap(),
    );
    let opts = LoadOptions::new().wait_for_other_instances(Duration::from_secs(1));
    ja.get_or_load_with(1, &opts, || async { Ok::<_, String>("one".into()) })
        .await
        .unwrap();
    assert_eq!(
        jb.get(1).await.unwrap().as_deref().map(String::as_str),
        Some("one")
    );
    ja.set(1, "uno".into()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while jb.get(1).await.unwrap().as_deref().map(String::as_str) != Some("uno") {
        assert!(
            std::time::Instant::now() < deadline,
            "the bus works for the ACL user"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    ja.set_many(vec![(2, "two".into()), (3, "three".into())])
        .await
        .unwrap();
    assert_eq!(jb.get_many(&[2, 3]).await.unwrap().len(), 2);
    ja.delete(2).await.unwrap();
    a.clear_kind("job").await.unwrap();
    assert_eq!(ja.get(3).await.unwrap(), None, "the kind is cleared");
    ja.set(4, "four".into()).await.unwrap();
    // Jobs 1 and 3 (cleared, still stored) and 4: a purge clears the kind again first.
    assert_eq!(
        a.admin().purge_kind("job").await.unwrap(),
        3,
        "SCAN and the purge work too"
    );
    a.admin().backend().info().await.unwrap();
    a.admin().backend().ping().await.unwrap();
    assert!(
        a.admin()
            .backend()
            .as_memory_usage()
            .unwrap()
            .memory_usage("shop:v1:job:s1:1")
            .await
            .is_ok()
    );
    a.clear().await.unwrap();
    let s = &a.admin().stats().kinds["job"];
    assert!(
        s.l2.errors.is_empty(),
        "no backend errors with the ACL user: {:?}",
        s.l2.errors
    );

    // And it is confined to the prefix.
    let mut user = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let denied: redis::RedisResult<()> = redis::cmd("SET")
        .arg("other-app:key")
        .arg("x")
        .query_async(&mut user)
        .await;
    assert!(denied.is_err(), "writing outside the prefix is refused");
    let denied: redis::RedisResult<()> = redis::cmd("FLUSHDB").query_async(&mut user).await;
    assert!(denied.is_err(), "FLUSHDB is refused");
}
