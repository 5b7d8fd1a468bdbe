//! The connection check: one fresh connection, no retries, whose error names the cause (wrong
//! password, no such database, refused, unknown host) instead of a timeout.

use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use strata_backend::{BackendError, BackendResult, ErrorKind};

use crate::RedisBackend;
use crate::config::{RedisConfig, redact_url};
use crate::connect::client_for;
use crate::errors::map_err;

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
