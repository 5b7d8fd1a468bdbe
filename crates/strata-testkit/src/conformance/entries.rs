//! Cases on single entries: reads, values, size limits, input checks, overwrites, TTLs.

use std::time::Duration;

use bytes::Bytes;
use strata_backend::{DEFAULT_MAX_VALUE_BYTES, ErrorKind, KeyTtl, SetEntry};

use super::{Fixture, LONG, key};

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
