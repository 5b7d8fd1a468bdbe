//! Input checks every backend applies before doing any work, so bad input never reaches a server.

use std::time::Duration;

use crate::error::{BackendError, BackendResult};

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 4096;

/// The largest value accepted by default: 8 MiB (the codec's limit too; the facade checks that
/// the two agree).
pub const DEFAULT_MAX_VALUE_BYTES: usize = 8 * 1024 * 1024;

/// Checks a key: non-empty and at most [`MAX_KEY_LEN`] bytes.
pub fn check_key(key: &str) -> BackendResult<()> {
    if key.is_empty() {
        return Err(BackendError::invalid_input("key is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(BackendError::invalid_input(format!(
            "key of {} bytes is longer than the limit of {MAX_KEY_LEN} bytes",
            key.len()
        )));
    }
    Ok(())
}

/// Checks everything about a write: the key, a TTL of at least one millisecond, and a value no
/// larger than `max_value_bytes`.
pub fn check_set(
    key: &str,
    value_len: usize,
    ttl: Duration,
    max_value_bytes: usize,
) -> BackendResult<()> {
    check_key(key)?;
    if ttl.is_zero() {
        return Err(BackendError::invalid_input(format!(
            "TTL of zero for key {key:?}: every entry needs a positive TTL"
        )));
    }
    if ttl < Duration::from_millis(1) {
        return Err(BackendError::invalid_input(format!(
            "TTL of {ttl:?} for key {key:?} is below the 1 ms resolution of backends"
        )));
    }
    if value_len > max_value_bytes {
        return Err(BackendError::invalid_input(format!(
            "value of {value_len} bytes for key {key:?} exceeds the maximum of {max_value_bytes} bytes"
        )));
    }
    Ok(())
}

/// The default limit on one backend operation: 250 ms (a cache that waits longer than this is
/// slower than the database it saves).
pub const DEFAULT_OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(250);

/// The separator a namespace ends with (`"shop:"`): without it `clear()` of `"shop"` would
/// also reach `"shopping:..."`.
pub const NAMESPACE_SEPARATOR: char = ':';

/// Checks a namespace when a backend is built: non-empty, so that `clear` can never mean
/// "everything", and ending with [`NAMESPACE_SEPARATOR`] (an [`ErrorKind::Config`](crate::ErrorKind::Config) error).
pub fn check_namespace(namespace: &str) -> BackendResult<()> {
    if namespace.is_empty() {
        return Err(BackendError::new(
            crate::ErrorKind::Config,
            "namespace is empty: clear() would reach every key; use the key space's namespace (\"prefix:\")",
        ));
    }
    if !namespace.ends_with(NAMESPACE_SEPARATOR) {
        return Err(BackendError::new(
            crate::ErrorKind::Config,
            format!(
                "namespace {namespace:?} does not end with {NAMESPACE_SEPARATOR:?}: clear() would \
                 also reach keys of other prefixes starting with it; use \"{namespace}{NAMESPACE_SEPARATOR}\""
            ),
        ));
    }
    check_key(namespace)
}

/// Checks a key of the backend that owns `namespace`: [`check_key`], and inside the namespace
/// (an [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error naming both: a key
/// outside it is never reached by `clear()` nor by scans).
pub fn check_key_in(namespace: &str, key: &str) -> BackendResult<()> {
    check_key(key)?;
    if !key.starts_with(namespace) {
        return Err(BackendError::invalid_input(format!(
            "key {key:?} is outside the backend's namespace {namespace:?}: clear() and scans \
             would never reach it; build keys under the namespace (strata_keys::KeySpace with \
             the namespace's prefix)"
        )));
    }
    Ok(())
}

/// [`check_set`] for the backend that owns `namespace`: the key must be inside it too
/// ([`check_key_in`]).
pub fn check_set_in(
    namespace: &str,
    key: &str,
    value_len: usize,
    ttl: Duration,
    max_value_bytes: usize,
) -> BackendResult<()> {
    check_set(key, value_len, ttl, max_value_bytes)?;
    check_key_in(namespace, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn bad_writes_are_named() {
        let e = check_set("k", 1, Duration::ZERO, 10).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("TTL of zero"), "{e}");
        let e = check_set("k", 11, Duration::from_secs(1), 10).unwrap_err();
        assert!(
            e.to_string().contains("exceeds the maximum of 10 bytes"),
            "{e}"
        );
        let e = check_set("", 1, Duration::from_secs(1), 10).unwrap_err();
        assert!(e.to_string().contains("key is empty"), "{e}");
        assert!(check_set("k", 10, Duration::from_millis(1), 10).is_ok());
        assert!(check_set("k", 1, Duration::from_micros(10), 10).is_err());
        assert_eq!(check_namespace("").unwrap_err().kind(), ErrorKind::Config);
    }

    #[test]
    fn namespaces_end_with_their_separator_and_hold_their_keys() {
        let e = check_namespace("shop").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("\"shop:\""), "{e}");
        assert!(check_namespace("shop:").is_ok());
        let e = check_key_in("shop:", "shopping:v1:user:1").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(
            e.to_string().contains("\"shopping:v1:user:1\"") && e.to_string().contains("\"shop:\""),
            "{e}"
        );
        assert!(check_key_in("shop:", "shop:v1:user:1").is_ok());
        assert!(check_key_in("shop:", "shop:__lease:x").is_ok());
        let e = check_set_in("shop:", "other:k", 1, Duration::from_secs(1), 10).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(check_set_in("shop:", "", 1, Duration::from_secs(1), 10).is_err());
    }
}
