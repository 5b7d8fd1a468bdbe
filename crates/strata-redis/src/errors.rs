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
