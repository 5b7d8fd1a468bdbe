//! Conformance case of the namespace: keys outside it are refused.

use bytes::Bytes;
use strata_backend::{ErrorKind, SetEntry};

use super::{Fixture, LONG, ability};

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
