//! The connection check: one fresh connection, no retries, whose error names the cause (wrong
//! password, no such database, refused, unknown host) instead of a timeout.

use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use strata_backend::{BackendError, BackendResult, ErrorKind};

use crate::RedisBackend;
use crate::config::{RedisConfig, redact_url};
use crate::connect::client_for;
use crate::errors::explain;

impl RedisBackend {
    /// Checks that Redis can be used, once: opens a fresh connection (to each seed of a cluster
    /// until one answers) without retrying, authenticates, selects the database and pings, all
    /// within the connect timeout. Answers the round trip, or an error that names the cause:
    /// a refused connection and an unknown host ([`ErrorKind::Connection`], at once, not after
    /// the timeout), rejected credentials (`WRONGPASS`, `NOAUTH`) and a database the server
    /// does not have ([`ErrorKind::Config`]), no answer ([`ErrorKind::Timeout`]). The URL in
    /// the message has its password redacted.
    ///
    /// The backend's own connection reconnects with backoff, so while it cannot connect its
    /// operations only time out; [`ping`](strata_backend::Backend::ping) runs this check after
    /// a failure to say why.
    pub async fn check_connection(&self) -> BackendResult<Duration> {
        check(self.config()).await
    }

    /// `e`, a failed call's error, or when it is transient and a fresh connection fails for a
    /// named reason within the operation timeout, that reason (the backend's own connection
    /// retries quietly, so its calls only time out).
    pub(crate) async fn named_cause(&self, e: BackendError) -> BackendError {
        if !e.is_transient() {
            return e;
        }
        let limit = self.config().operation_timeout;
        match tokio::time::timeout(limit, self.check_connection()).await {
            Ok(Err(cause)) if cause.kind() != ErrorKind::Timeout => cause,
            _ => e,
        }
    }
}

/// [`RedisBackend::check_connection`] for `config`.
pub(crate) async fn check(config: &RedisConfig) -> BackendResult<Duration> {
    let start = Instant::now();
    let mut last = None;
    for url in config.urls() {
        match check_one(config, url).await {
            Ok(()) => return Ok(start.elapsed()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| BackendError::new(ErrorKind::Config, "no Redis URL given")))
}

async fn check_one(config: &RedisConfig, url: &str) -> BackendResult<()> {
    let client = client_for(config, url)?;
    let shown = redact_url(url);
    let limit = config.connect_timeout;
    let settings = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(limit))
        .set_response_timeout(Some(limit));
    let no_answer = || {
        BackendError::new(
            ErrorKind::Timeout,
            format!("no answer from {shown} within {limit:?}"),
        )
    };
    let mut conn = tokio::time::timeout(
        limit,
        client.get_multiplexed_async_connection_with_config(&settings),
    )
    .await
    .map_err(|_| no_answer())?
    .map_err(|e| explain(&shown, e))?;
    tokio::time::timeout(limit, redis::cmd("PING").query_async::<()>(&mut conn))
        .await
        .map_err(|_| no_answer())?
        .map_err(|e| explain(&shown, e))
}
