//! Mapping of redis-rs errors onto the shared error kinds.

use strata_backend::{BackendError, ErrorKind};

/// Classifies a redis-rs error; `operation` says what we were doing.
pub(crate) fn map_err(operation: &str, e: redis::RedisError) -> BackendError {
    use redis::ServerErrorKind as S;
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        ErrorKind::Connection
    } else if e.code() == Some("OOM") {
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
