//! The conformance suite: one set of behaviours every [`Backend`] must show.
//!
//! Implement [`Fixture`] for your backend and expand [`backend_conformance!`](crate::backend_conformance)
//! in a test file; each case becomes its own `#[tokio::test]`. Every case expects a backend with
//! the default maximum value size ([`DEFAULT_MAX_VALUE_BYTES`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use strata_backend::{Backend, DEFAULT_MAX_VALUE_BYTES, ErrorKind, KeyTtl, SetEntry};

/// Makes backends for the suite.
#[async_trait]
pub trait Fixture: Send + Sync + 'static {
    /// A fresh, empty backend that owns `namespace`. Backends from one fixture share storage
    /// when the backend kind is shared (Redis), so one can write beside another.
    async fn backend(&self, namespace: &str) -> Arc<dyn Backend>;

    /// Whether the backend is expected to have the ability `name` ("leases",
    /// "version_counters", "listing", "memory_usage"): the cases of an expected ability fail
    /// when the backend does not expose it (default: every ability is expected).
    fn expects(&self, ability: &str) -> bool {
        let _ = ability;
        true
    }
}

/// The backend's ability `A`, or `None` (the case is skipped) when the fixture does not expect
/// it; a missing expected ability fails the case.
fn ability<'a, A: ?Sized>(fx: &dyn Fixture, name: &str, found: Option<&'a A>) -> Option<&'a A> {
    match found {
        Some(a) => Some(a),
        None if fx.expects(name) => panic!("the backend does not expose its {name} ability"),
        None => None,
    }
}

const LONG: Duration = Duration::from_secs(600);

fn key(ns: &str, k: impl std::fmt::Display) -> String {
    format!("{ns}{k}")
}

/// A missing key reads as `None`.
pub async fn get_missing_is_none(fx: &dyn Fixture) {
    let b = fx.backend("conf:missing:").await;
    assert_eq!(b.get("conf:missing:nope").await.unwrap(), None);
}

/// Values round-trip byte for byte: every byte value, NUL, invalid UTF-8.
pub async fn values_are_binary_safe(fx: &dyn Fixture) {
    let b = fx.backend("conf:binary:").await;
    let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let cases: [&[u8]; 4] = [
        &all,
        b"\0\0\0",
        &[0xff, 0xfe, 0xc1, 0x80],
        b"\r\n$-1\r\n*0\r\n",
    ];
    for (i, v) in cases.iter().enumerate() {
        let k = key("conf:binary:", i);
        b.set(&k, Bytes::copy_from_slice(v), LONG).await.unwrap();
        assert_eq!(b.get(&k).await.unwrap().as_deref(), Some(*v), "case {i}");
    }
}

/// An empty value is stored and read back as empty, not as missing.
pub async fn empty_values_are_not_missing(fx: &dyn Fixture) {
    let b = fx.backend("conf:empty:").await;
    b.set("conf:empty:k", Bytes::new(), LONG).await.unwrap();
    assert_eq!(b.get("conf:empty:k").await.unwrap(), Some(Bytes::new()));
}

/// A value at the size limit round-trips; one byte more is refused with `InvalidInput` and
/// nothing is stored.
pub async fn large_values_and_the_size_limit(fx: &dyn Fixture) {
    let b = fx.backend("conf:large:").await;
    let big: Bytes = (0..DEFAULT_MAX_VALUE_BYTES)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    b.set("conf:large:ok", big.clone(), LONG).await.unwrap();
    assert_eq!(b.get("conf:large:ok").await.unwrap(), Some(big));
    let too_big = Bytes::from(vec![7u8; DEFAULT_MAX_VALUE_BYTES + 1]);
    let err = b.set("conf:large:no", too_big, LONG).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("exceeds the maximum"), "{err}");
    assert_eq!(b.get("conf:large:no").await.unwrap(), None);
}

/// Zero TTLs, empty keys and oversized batches are refused before anything is written.
pub async fn bad_input_is_refused_with_named_errors(fx: &dyn Fixture) {
    let b = fx.backend("conf:bad:").await;
    let err = b
        .set("conf:bad:k", "v".into(), Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("TTL of zero"), "{err}");
    let err = b.set("", "v".into(), LONG).await.unwrap_err();
    assert!(err.to_string().contains("key is empty"), "{err}");
    let err = b.get("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // One bad entry in a batch means none of it is written.
    let entries = vec![
        SetEntry::new("conf:bad:a", "1", LONG),
        SetEntry::new("conf:bad:b", "2", Duration::ZERO),
    ];
    assert_eq!(
        b.set_many(entries).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(b.get("conf:bad:a").await.unwrap(), None);
    assert!(!err.is_transient());
}

/// A second set replaces the first.
pub async fn set_overwrites(fx: &dyn Fixture) {
    let b = fx.backend("conf:overwrite:").await;
    b.set("conf:overwrite:k", "one".into(), LONG).await.unwrap();
    b.set("conf:overwrite:k", "two".into(), LONG).await.unwrap();
    assert_eq!(
        b.get("conf:overwrite:k").await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
}

/// Entries vanish after their TTL, and `ttl` reports what remains.
pub async fn entries_expire_after_their_ttl(fx: &dyn Fixture) {
    let b = fx.backend("conf:expiry:").await;
    b.set("conf:expiry:short", "v".into(), Duration::from_millis(1000))
        .await
        .unwrap();
    b.set("conf:expiry:long", "v".into(), LONG).await.unwrap();
    assert!(b.get("conf:expiry:short").await.unwrap().is_some());
    match b.ttl("conf:expiry:short").await.unwrap() {
        KeyTtl::Expires(d) => assert!(
            d <= Duration::from_millis(1000) && d > Duration::ZERO,
            "{d:?}"
        ),
        other => panic!("expected a TTL, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(b.get("conf:expiry:short").await.unwrap(), None);
    assert_eq!(b.ttl("conf:expiry:short").await.unwrap(), KeyTtl::Missing);
    assert!(b.get("conf:expiry:long").await.unwrap().is_some());
    // An expired entry also disappears from batch reads.
    let got = b
        .get_many(&["conf:expiry:short", "conf:expiry:long"])
        .await
        .unwrap();
    assert_eq!(got[0], None);
    assert!(got[1].is_some());
}

/// `ttl` of a missing key is `Missing`; of a long-lived key, close to what was set.
pub async fn ttl_lookup(fx: &dyn Fixture) {
    let b = fx.backend("conf:ttl:").await;
    assert_eq!(b.ttl("conf:ttl:none").await.unwrap(), KeyTtl::Missing);
    b.set("conf:ttl:k", "v".into(), Duration::from_secs(3600))
        .await
        .unwrap();
    match b.ttl("conf:ttl:k").await.unwrap() {
        KeyTtl::Expires(d) => {
            assert!(
                d > Duration::from_secs(3590) && d <= Duration::from_secs(3600),
                "{d:?}"
            )
        }
        other => panic!("expected a TTL, got {other:?}"),
    }
}

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

/// `memory_usage` reports bytes for a present key and `None` for a missing one.
pub async fn memory_usage_of_keys(fx: &dyn Fixture) {
    let b = fx.backend("conf:mem:").await;
    let Some(usage) = ability(fx, "memory_usage", b.as_memory_usage()) else {
        return;
    };
    b.set("conf:mem:k", Bytes::from(vec![1u8; 1000]), LONG)
        .await
        .unwrap();
    match usage.memory_usage("conf:mem:k").await.unwrap() {
        Some(n) => assert!(n >= 1000, "{n}"),
        None => panic!("a present key has a size"),
    }
    assert_eq!(usage.memory_usage("conf:mem:missing").await.unwrap(), None);
}

/// Leases: one holder at a time; a store under the lease succeeds only while nothing
/// invalidated the key (set, delete) since the lease was taken.
pub async fn leases_guard_stores_against_invalidation(fx: &dyn Fixture) {
    let b = fx.backend("conf:lease:").await;
    let Some(leases) = ability(fx, "leases", b.as_leases()) else {
        return;
    };
    let k = "conf:lease:k";
    assert!(leases.acquire_lease(k, "a", LONG).await.unwrap());
    assert!(
        !leases.acquire_lease(k, "b", LONG).await.unwrap(),
        "one holder at a time"
    );
    assert!(
        !leases
            .set_under_lease(k, "b", "from b".into(), LONG)
            .await
            .unwrap(),
        "not b's lease"
    );
    assert!(
        leases
            .set_under_lease(k, "a", "from a".into(), LONG)
            .await
            .unwrap()
    );
    assert_eq!(b.get(k).await.unwrap().as_deref(), Some(&b"from a"[..]));
    assert!(
        !leases
            .set_under_lease(k, "a", "again".into(), LONG)
            .await
            .unwrap(),
        "the store released the lease"
    );

    // An invalidation between acquire and store wins.
    assert!(leases.acquire_lease(k, "c", LONG).await.unwrap());
    assert!(b.delete(k).await.unwrap());
    assert!(
        !leases
            .set_under_lease(k, "c", "stale".into(), LONG)
            .await
            .unwrap()
    );
    assert_eq!(b.get(k).await.unwrap(), None);
    // So does a direct write.
    assert!(leases.acquire_lease(k, "d", LONG).await.unwrap());
    b.set(k, "fresh".into(), LONG).await.unwrap();
    assert!(
        !leases
            .set_under_lease(k, "d", "stale".into(), LONG)
            .await
            .unwrap()
    );
    assert_eq!(b.get(k).await.unwrap().as_deref(), Some(&b"fresh"[..]));
    // A released lease can be taken again; someone else's release does nothing.
    assert!(leases.acquire_lease(k, "e", LONG).await.unwrap());
    leases.release_lease(k, "not-e").await.unwrap();
    assert!(!leases.acquire_lease(k, "f", LONG).await.unwrap());
    leases.release_lease(k, "e").await.unwrap();
    assert!(
        leases
            .acquire_lease(k, "f", Duration::from_millis(200))
            .await
            .unwrap()
    );
    // Leases expire.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        leases.acquire_lease(k, "g", LONG).await.unwrap(),
        "an expired lease is free"
    );
}

/// Version counters: created once with the caller's initial value (concurrent callers agree),
/// bumped to `max(current + 1, at_least)`, recreated after loss, expiring with their TTL.
pub async fn version_counters(fx: &dyn Fixture) {
    let b = fx.backend("conf:ver:").await;
    let Some(c) = ability(fx, "version_counters", b.as_version_counters()) else {
        return;
    };
    let (k1, k2) = ("conf:ver:kind", "conf:ver:tag");
    assert_eq!(
        c.versions(&[k1, k2], 1000, None).await.unwrap(),
        [1000, 1000]
    );
    // Existing counters keep their value whatever the caller's init.
    assert_eq!(c.versions(&[k2, k1], 5, None).await.unwrap(), [1000, 1000]);
    assert_eq!(c.bump_version(k1, 0, None).await.unwrap(), 1001);
    assert_eq!(c.bump_version(k1, 5000, None).await.unwrap(), 5000);
    assert_eq!(c.bump_version(k1, 10, None).await.unwrap(), 5001);
    assert_eq!(c.versions(&[k1], 1, None).await.unwrap(), [5001]);
    // A missing counter counts as 0 for a bump.
    assert_eq!(c.bump_version("conf:ver:new", 0, None).await.unwrap(), 1);
    // Concurrent creators agree on one value; concurrent bumps never lose one.
    let mut tasks = Vec::new();
    for i in 0..16u64 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            let c = b.as_version_counters().unwrap();
            let v = c.versions(&["conf:ver:race"], 100 + i, None).await.unwrap()[0];
            c.bump_version("conf:ver:bumps", 0, None).await.unwrap();
            v
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        seen.insert(t.await.unwrap());
    }
    assert_eq!(seen.len(), 1, "one initial value wins: {seen:?}");
    assert_eq!(
        c.versions(&["conf:ver:bumps"], 0, None).await.unwrap(),
        [16]
    );
    // With a TTL the counter expires and comes back with the next caller's init.
    c.bump_version("conf:ver:short", 7, Some(Duration::from_millis(200)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        c.versions(&["conf:ver:short"], 99, Some(Duration::from_secs(60)))
            .await
            .unwrap(),
        [99]
    );
    // Bad keys are refused.
    assert_eq!(
        c.bump_version("", 1, None).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

/// Keys outside the backend's namespace are refused (`InvalidInput`, naming the key and the
/// namespace) by every operation that takes one: `clear()` and scans would never reach them.
/// Internal keys the facade keeps inside the namespace (leases, counters, registries) pass.
pub async fn keys_outside_the_namespace_are_refused(fx: &dyn Fixture) {
    let b = fx.backend("conf:ns:").await;
    let refused = |e: strata_backend::BackendError, k: &str| {
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("{k:?}")) && text.contains("\"conf:ns:\""),
            "{text}"
        );
    };
    // "conf:nsx" shares the namespace's text but not its separator.
    for k in ["other:k", "conf:nsx:k", "conf:n"] {
        refused(b.set(k, "v".into(), LONG).await.unwrap_err(), k);
        refused(b.get(k).await.unwrap_err(), k);
        refused(b.delete(k).await.unwrap_err(), k);
        refused(b.ttl(k).await.unwrap_err(), k);
    }
    refused(
        b.get_many(&["conf:ns:a", "other:b"]).await.unwrap_err(),
        "other:b",
    );
    refused(
        b.delete_many(&["conf:ns:a", "other:b"]).await.unwrap_err(),
        "other:b",
    );
    let entries = vec![
        SetEntry::new("conf:ns:a", Bytes::from_static(b"1"), LONG),
        SetEntry::new("other:b", Bytes::from_static(b"2"), LONG),
    ];
    refused(b.set_many(entries).await.unwrap_err(), "other:b");
    assert_eq!(
        b.get("conf:ns:a").await.unwrap(),
        None,
        "a refused batch writes nothing"
    );
    if let Some(leases) = ability(fx, "leases", b.as_leases()) {
        let e = leases
            .acquire_lease("other:lease", "t", LONG)
            .await
            .unwrap_err();
        refused(e, "other:lease");
        assert!(
            leases
                .acquire_lease("conf:ns:__lease:k", "t", LONG)
                .await
                .unwrap()
        );
    }
    if let Some(c) = ability(fx, "version_counters", b.as_version_counters()) {
        refused(
            c.bump_version("other:ver", 1, None).await.unwrap_err(),
            "other:ver",
        );
    }
    b.set("conf:ns:k", "v".into(), LONG).await.unwrap();
    assert_eq!(
        b.get("conf:ns:k").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    b.clear().await.unwrap();
    assert_eq!(
        b.get("conf:ns:k").await.unwrap(),
        None,
        "clear reaches every key written"
    );
}

/// `ping` answers and `info` names the backend.
pub async fn ping_and_info(fx: &dyn Fixture) {
    let b = fx.backend("conf:info:").await;
    b.ping().await.unwrap();
    b.set("conf:info:k", "v".into(), LONG).await.unwrap();
    let info = b.info().await.unwrap();
    assert_eq!(info.backend, b.name());
    assert!(info.bytes_used.is_some_and(|n| n > 0), "{info:?}");
    assert_eq!(b.namespace(), "conf:info:");
}

/// Expands to one `#[tokio::test]` per conformance case, each calling `$fixture().await`
/// (an `async fn() -> Option<impl Fixture>`; `None` skips the case).
///
/// ```text
/// async fn fixture() -> Option<MyFixture> { Some(MyFixture::new()) }
/// strata_testkit::backend_conformance!(fixture);
/// ```
///
/// `backend_conformance!(in_sequence: &fixture)` instead runs every case, one after the other,
/// on one fixture (an expression usable in an async test), for backends that are costly to
/// stand up, like a cluster.
#[macro_export]
macro_rules! backend_conformance {
    (in_sequence: $fx:expr) => {
        $crate::backend_conformance!(@with sequence $fx)
    };
    ($fixture:path) => {
        $crate::backend_conformance! { @with tests $fixture }
    };
    (@with $how:ident $fx:tt) => {
        $crate::backend_conformance! { @$how $fx;
            get_missing_is_none,
            values_are_binary_safe,
            empty_values_are_not_missing,
            large_values_and_the_size_limit,
            bad_input_is_refused_with_named_errors,
            set_overwrites,
            entries_expire_after_their_ttl,
            ttl_lookup,
            get_many_keeps_order_and_holes,
            many_keys_in_batches,
            delete_and_delete_many,
            delete_if_equals_compares_first,
            clear_removes_only_its_own_namespace,
            scan_lists_exactly_the_prefix,
            concurrent_access_is_consistent,
            memory_usage_of_keys,
            leases_guard_stores_against_invalidation,
            version_counters,
            keys_outside_the_namespace_are_refused,
            ping_and_info,
        }
    };
    (@sequence $fx:tt; $($case:ident),* $(,)?) => {{
        let fx = $fx;
        $(
            eprintln!("conformance case {}", stringify!($case));
            $crate::conformance::$case(fx).await;
        )*
    }};
    (@tests $fixture:tt; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(fx) = $fixture().await {
                    $crate::conformance::$case(&fx).await;
                }
            }
        )*
    };
}
