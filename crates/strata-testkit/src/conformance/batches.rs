//! Cases on many keys at once: batches, deletes, clearing a namespace, scans, concurrency.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use strata_backend::{Backend, KeyTtl, SetEntry};

use super::{Fixture, LONG, ability, key};

/// `get_many` answers in order, with `None` holes, and accepts an empty list.
pub async fn get_many_keeps_order_and_holes(fx: &dyn Fixture) {
    let b = fx.backend("conf:mget:").await;
    b.set("conf:mget:a", "A".into(), LONG).await.unwrap();
    b.set("conf:mget:c", "C".into(), LONG).await.unwrap();
    let got = b
        .get_many(&["conf:mget:c", "conf:mget:b", "conf:mget:a", "conf:mget:c"])
        .await
        .unwrap();
    let got: Vec<Option<&[u8]>> = got.iter().map(|v| v.as_deref()).collect();
    assert_eq!(
        got,
        [Some(&b"C"[..]), None, Some(&b"A"[..]), Some(&b"C"[..])]
    );
    assert!(b.get_many(&[]).await.unwrap().is_empty());
}

/// Thousands of keys written in one `set_many` (with their own TTLs) all read back.
pub async fn many_keys_in_batches(fx: &dyn Fixture) {
    let b = fx.backend("conf:many:").await;
    let n = 2500;
    let entries: Vec<SetEntry> = (0..n)
        .map(|i| {
            SetEntry::new(
                key("conf:many:", i),
                format!("value-{i}"),
                LONG + Duration::from_secs(i),
            )
        })
        .collect();
    b.set_many(entries).await.unwrap();
    let keys: Vec<String> = (0..n).map(|i| key("conf:many:", i)).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let got = b.get_many(&refs).await.unwrap();
    assert_eq!(got.len(), n as usize);
    for (i, v) in got.iter().enumerate() {
        assert_eq!(
            v.as_deref(),
            Some(format!("value-{i}").as_bytes()),
            "key {i}"
        );
    }
    match b.ttl(&keys[2000]).await.unwrap() {
        KeyTtl::Expires(d) => assert!(d > LONG + Duration::from_secs(1990), "{d:?}"),
        other => panic!("expected a TTL, got {other:?}"),
    }
    assert!(b.set_many(Vec::new()).await.is_ok());
}

/// `delete` says whether the key existed; `delete_many` counts the ones that did.
pub async fn delete_and_delete_many(fx: &dyn Fixture) {
    let b = fx.backend("conf:del:").await;
    b.set("conf:del:a", "1".into(), LONG).await.unwrap();
    b.set("conf:del:b", "2".into(), LONG).await.unwrap();
    b.set("conf:del:c", "3".into(), LONG).await.unwrap();
    assert!(b.delete("conf:del:a").await.unwrap());
    assert!(!b.delete("conf:del:a").await.unwrap());
    assert_eq!(b.get("conf:del:a").await.unwrap(), None);
    assert_eq!(
        b.delete_many(&["conf:del:b", "conf:del:x", "conf:del:c"])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        b.get_many(&["conf:del:b", "conf:del:c"]).await.unwrap(),
        [None, None]
    );
    assert_eq!(b.delete_many(&[]).await.unwrap(), 0);
}

/// `delete_if_equals` removes only an entry that still holds the expected bytes.
pub async fn delete_if_equals_compares_first(fx: &dyn Fixture) {
    let b = fx.backend("conf:cad:").await;
    let Some(listing) = ability(fx, "listing", b.as_listing()) else {
        return;
    };
    b.set("conf:cad:k", "new".into(), LONG).await.unwrap();
    assert!(
        !listing
            .delete_if_equals("conf:cad:k", b"old")
            .await
            .unwrap()
    );
    assert!(b.get("conf:cad:k").await.unwrap().is_some());
    assert!(
        listing
            .delete_if_equals("conf:cad:k", b"new")
            .await
            .unwrap()
    );
    assert_eq!(b.get("conf:cad:k").await.unwrap(), None);
    assert!(
        !listing
            .delete_if_equals("conf:cad:missing", b"new")
            .await
            .unwrap()
    );
}

/// `clear` removes every key of the namespace (across SCAN batches) and nothing else, even
/// when the namespace holds glob metacharacters.
pub async fn clear_removes_only_its_own_namespace(fx: &dyn Fixture) {
    let ns = "conf:clear*[x]:";
    let b = fx.backend(ns).await;
    let neighbour = fx.backend("conf:clearQ[x]:").await;
    let own: Vec<SetEntry> = (0..2100)
        .map(|i| SetEntry::new(key(ns, i), "v", LONG))
        .collect();
    b.set_many(own).await.unwrap();
    // Foreign keys beside ours: another namespace, our namespace without its colon, a key that
    // merely contains our namespace, and a glob-alike that an unescaped pattern would match.
    let foreign = [
        "conf:clearQ[x]:1".to_owned(),
        "conf:clear*[x]".to_owned(),
        format!("other:{ns}1"),
        "conf:clearZx]:1".to_owned(),
        "conf:clearx:1".to_owned(),
    ];
    // Written (and read back) through backends whose namespaces hold them: `b` refuses them.
    let (conf, other) = (fx.backend("conf:").await, fx.backend("other:").await);
    let writer = |k: &str| {
        if k.starts_with("conf:") {
            &conf
        } else {
            &other
        }
    };
    for k in &foreign {
        writer(k).set(k, "foreign".into(), LONG).await.unwrap();
    }
    assert_eq!(b.clear().await.unwrap(), 2100);
    assert_eq!(b.get(&key(ns, 0)).await.unwrap(), None);
    assert_eq!(b.get(&key(ns, 2099)).await.unwrap(), None);
    for k in &foreign {
        assert_eq!(
            writer(k).get(k).await.unwrap().as_deref(),
            Some(&b"foreign"[..]),
            "{k} survived"
        );
    }
    let visible_to_neighbour = neighbour_count(&*neighbour, &foreign).await;
    assert_eq!(neighbour.clear().await.unwrap(), visible_to_neighbour);
    assert_eq!(b.clear().await.unwrap(), 0);
}

async fn neighbour_count(neighbour: &dyn Backend, foreign: &[String]) -> u64 {
    // Shared backends see the foreign key written under the neighbour's namespace.
    let mut n = 0;
    for k in foreign
        .iter()
        .filter(|k| k.starts_with(neighbour.namespace()))
    {
        n += u64::from(neighbour.get(k).await.unwrap().is_some());
    }
    n
}

/// `scan` pages through exactly the keys with the prefix.
pub async fn scan_lists_exactly_the_prefix(fx: &dyn Fixture) {
    let b = fx.backend("conf:scan:").await;
    let Some(listing) = ability(fx, "listing", b.as_listing()) else {
        return;
    };
    for i in 0..250 {
        b.set(&key("conf:scan:a:", i), "v".into(), LONG)
            .await
            .unwrap();
    }
    b.set("conf:scan:b:1", "v".into(), LONG).await.unwrap();
    let mut seen = HashSet::new();
    let mut cursor = None;
    for _ in 0..10_000 {
        let page = listing.scan("conf:scan:a:", cursor, 40).await.unwrap();
        seen.extend(page.keys);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "scan did not finish");
    let want: HashSet<String> = (0..250).map(|i| key("conf:scan:a:", i)).collect();
    assert_eq!(seen, want);
}

/// Many tasks reading and writing at once see their own writes.
pub async fn concurrent_access_is_consistent(fx: &dyn Fixture) {
    let b = fx.backend("conf:conc:").await;
    let mut tasks = Vec::new();
    for t in 0..16 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..100 {
                let k = format!("conf:conc:{t}:{i}");
                let v = Bytes::from(format!("{t}-{i}"));
                b.set(&k, v.clone(), LONG).await.unwrap();
                assert_eq!(b.get(&k).await.unwrap(), Some(v));
                // A shared key, written by everyone: any complete value is fine.
                b.set("conf:conc:shared", Bytes::from(format!("{t}-{i}")), LONG)
                    .await
                    .unwrap();
                let shared = b.get("conf:conc:shared").await.unwrap().unwrap();
                assert!(std::str::from_utf8(&shared).unwrap().contains('-'));
            }
        }));
    }
    for t in futures::future::join_all(tasks).await {
        t.unwrap();
    }
    let keys: Vec<String> = (0..16).map(|t| format!("conf:conc:{t}:99")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    assert!(b.get_many(&refs).await.unwrap().iter().all(Option::is_some));
}
