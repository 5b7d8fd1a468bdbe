//! Mapping of redis-rs errors onto the shared error kinds.

use strata_backend::{BackendError, ErrorKind};

/// Classifies a redis-rs error; `operation` says what we were doing.
pub(crate) fn map_err(operation: &str, e: redis::RedisError) -> BackendError {
    use redis::ServerErrorKind as S;
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        ErrorKind::Connection
    } else if is_oom(&e) {
        ErrorKind::OutOfMemory
    } else {
        match e.kind() {
            redis::ErrorKind::AuthenticationFailed | redis::ErrorKind::InvalidClientConfig => {
                ErrorKind::Config
            }
            redis::ErrorKind::Server(
                S::BusyLoading | S::TryAgain | S::ClusterDown | S::MasterDown,
            ) => ErrorKind::Connection,
            redis::ErrorKind::Server(S::NoPerm) => ErrorKind::Config,
            redis::ErrorKind::Io => ErrorKind::Connection,
            _ => ErrorKind::Server,
        }
    };
    BackendError::new(kind, format!("redis {operation} failed")).with_source(e)
}

/// Whether the server refused for lack of memory, also inside an aborted transaction or a
/// pipeline.
fn is_oom(e: &redis::RedisError) -> bool {
    e.code() == Some("OOM")
        || e.clone()
            .into_server_errors()
            .is_some_and(|errs| errs.iter().any(|(_, se)| se.code() == "OOM"))
}

/// An integer reply.
pub(crate) fn int(reply: &redis::Value) -> strata_backend::BackendResult<i64> {
    redis::from_redis_value_ref(reply).map_err(|e| {
        BackendError::new(
            ErrorKind::Server,
            format!("unexpected reply {reply:?}: {e}"),
        )
    })
}

/// A connection error of `url` (redacted) with its cause named.
pub(crate) fn explain(url: &str, e: redis::RedisError) -> BackendError {
    let text = e.to_string();
    let (kind, message) = if e.is_connection_refusal() {
        (
            ErrorKind::Connection,
            format!(
                "connection refused by {url}: nothing listens there (is Redis running, is the port right?)"
            ),
        )
    } else if is_dns_failure(&text) {
        (
            ErrorKind::Connection,
            format!(
                "cannot resolve the host of {url} (DNS lookup failed: is the host name right?)"
            ),
        )
    } else if e.kind() == redis::ErrorKind::AuthenticationFailed || e.code() == Some("WRONGPASS") {
        (
            ErrorKind::Config,
            format!("authentication failed at {url}: wrong password or user name (WRONGPASS)"),
        )
    } else if e.code() == Some("NOAUTH") || text.contains("NOAUTH") {
        (
            ErrorKind::Config,
            format!(
                "{url} requires a password (NOAUTH): give it in the URL (redis://:PASSWORD@host) \
                 or with RedisConfig::with_credentials"
            ),
        )
    } else if text.contains("DB index is out of range") {
        (
            ErrorKind::Config,
            format!(
                "{url} names a database the server does not have (DB index is out of range: \
                 use a lower number or raise `databases` in redis.conf)"
            ),
        )
    } else if e.is_timeout() {
        (ErrorKind::Timeout, format!("no answer from {url}"))
    } else {
        return map_err(&format!("connect to {url}"), e);
    };
    BackendError::new(kind, message).with_source(e)
}

/// Whether an error's text is a failed host name lookup (the wording differs per platform).
fn is_dns_failure(text: &str) -> bool {
    [
        "failed to lookup address",
        "Name or service not known",
        "nodename nor servname",
        "No address associated",
        "Temporary failure in name resolution",
        "No such host",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}
