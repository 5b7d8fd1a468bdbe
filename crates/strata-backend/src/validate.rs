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

/// Checks a namespace: non-empty, so that `clear` can never mean "everything".
pub fn check_namespace(namespace: &str) -> BackendResult<()> {
    if namespace.is_empty() {
        return Err(BackendError::new(
            crate::ErrorKind::Config,
            "namespace is empty: clear() would reach every key; use the key space's namespace (\"prefix:\")",
        ));
    }
    check_key(namespace)
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
}
