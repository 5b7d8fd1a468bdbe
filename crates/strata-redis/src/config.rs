//! Configuration of the Redis backend.

use std::fmt;
use std::time::Duration;

use crate::quota::Quota;

use strata_backend::DEFAULT_MAX_VALUE_BYTES;

/// How to reach Redis and how long to wait for it.
///
/// `Debug` never prints a password: the URL's password and any `pass=` query value are redacted.
///
/// ```
/// use strata_redis::RedisConfig;
///
/// let config = RedisConfig::new("redis://cache:s3cret@127.0.0.1:6379/0").with_namespace("shop:");
/// let shown = format!("{config:?}");
/// assert!(!shown.contains("s3cret"));
/// assert!(shown.contains("cache:***@127.0.0.1"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://[user[:password]@]host[:port][/db]`, `rediss://` for TLS, or `redis+unix://`.
    /// In cluster mode, one or more seed nodes separated by commas
    /// (`redis://10.0.0.1:7000,redis://10.0.0.2:7000`); any reachable one finds the rest.
    pub url: String,
    /// Talk to a Redis Cluster (needs the `cluster` feature): requests go to the primary that
    /// owns each key's slot, batches are split by slot, clears and scans visit every primary
    /// (default `false`).
    pub cluster: bool,
    /// ACL user name, overriding the URL's.
    pub username: Option<String>,
    /// Password, overriding the URL's.
    pub password: Option<String>,
    /// Keys owned by this backend start with it; `clear` removes only those (default `"strata:"`).
    pub namespace: String,
    /// Limit on establishing a connection (default 2 s).
    pub connect_timeout: Duration,
    /// Limit on each operation, including waiting for a reconnect (default 250 ms,
    /// [`DEFAULT_OPERATION_TIMEOUT`](strata_backend::DEFAULT_OPERATION_TIMEOUT)).
    pub operation_timeout: Duration,
    /// Reconnection attempts per failure, with exponential backoff (default 6).
    pub reconnect_retries: usize,
    /// The largest value accepted (default 8 MiB); larger ones are refused before any I/O.
    pub max_value_bytes: usize,
    /// Keys asked for per `SCAN` step during `clear` (default 1000).
    pub scan_batch: usize,
    /// Per-kind budgets enforced on the server (default none: Redis's own `maxmemory` policy
    /// applies to everything).
    pub quotas: Vec<Quota>,
    /// How long a kind's schema registry lives after its last registration (default 7 days).
    /// It must outlive the kind's entries: a cache re-registers its schemas at least every
    /// half of this, and the facade sets it from the longest entry lifetime.
    pub registry_ttl: Duration,
    /// The longest a call may be given by [`strata_backend::within_limit`] (a change waiting
    /// for its invalidation longer than a read waits); a cluster's connections wait this long
    /// for a reply before redis-rs gives up on it (default 1s, at least the operation timeout).
    pub change_timeout: Duration,
    /// Send the single-key reads issued together as one `MGET` (one per hash slot on a
    /// cluster; default `true`). Under concurrency one command carries many reads (less work
    /// per read for the server and the client). Adaptive: a read issued while other reads are
    /// in flight joins the batch being gathered (the read that starts one yields once, so that
    /// the reads of the same tick join it); a read issued while no other is in flight, after
    /// 16 such reads in a row, is a plain `GET` sent at once (a lone caller pays no yield).
    /// The `l2` bench group measures both ways.
    pub coalesce_reads: bool,
}

/// The default of [`RedisConfig::registry_ttl`].
pub const DEFAULT_REGISTRY_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

impl RedisConfig {
    /// A configuration for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            cluster: false,
            username: None,
            password: None,
            namespace: "strata:".into(),
            connect_timeout: Duration::from_secs(2),
            operation_timeout: strata_backend::DEFAULT_OPERATION_TIMEOUT,
            reconnect_retries: 6,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            scan_batch: 1000,
            quotas: Vec::new(),
            registry_ttl: DEFAULT_REGISTRY_TTL,
            change_timeout: Duration::from_secs(1),
            coalesce_reads: true,
        }
    }

    /// Sets [`coalesce_reads`](Self::coalesce_reads).
    pub fn with_coalesce_reads(mut self, coalesce: bool) -> Self {
        self.coalesce_reads = coalesce;
        self
    }

    /// Sets [`change_timeout`](Self::change_timeout).
    pub fn with_change_timeout(mut self, timeout: Duration) -> Self {
        self.change_timeout = timeout;
        self
    }

    /// The longest any call may wait for its reply: the operation or the change timeout.
    pub(crate) fn reply_timeout(&self) -> Duration {
        self.operation_timeout.max(self.change_timeout)
    }

    /// Sets [`registry_ttl`](Self::registry_ttl).
    pub fn with_registry_ttl(mut self, ttl: Duration) -> Self {
        self.registry_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// Adds a per-kind quota (see [`Quota`]).
    pub fn with_quota(mut self, quota: Quota) -> Self {
        self.quotas.push(quota);
        self
    }

    /// Talks to a Redis Cluster through the seed node(s) of `url` (see [`RedisConfig::cluster`]).
    pub fn with_cluster(mut self, cluster: bool) -> Self {
        self.cluster = cluster;
        self
    }

    /// The URLs of `url`: one, or in cluster mode each comma-separated seed.
    pub fn urls(&self) -> Vec<&str> {
        if self.cluster {
            self.url
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .collect()
        } else {
            vec![self.url.as_str()]
        }
    }

    /// Sets the namespace.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets ACL credentials (they override any in the URL).
    pub fn with_credentials(
        mut self,
        username: Option<String>,
        password: impl Into<String>,
    ) -> Self {
        self.username = username;
        self.password = Some(password.into());
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the per-operation timeout.
    pub fn with_operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Sets the number of reconnection attempts.
    pub fn with_reconnect_retries(mut self, retries: usize) -> Self {
        self.reconnect_retries = retries;
        self
    }

    /// Sets the largest accepted value.
    pub fn with_max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// Sets the `SCAN` batch size used by `clear`.
    pub fn with_scan_batch(mut self, batch: usize) -> Self {
        self.scan_batch = batch.max(1);
        self
    }

    /// The URL with its password replaced by `***`, safe to log.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.redacted_url())
            .field("cluster", &self.cluster)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("namespace", &self.namespace)
            .field("connect_timeout", &self.connect_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("reconnect_retries", &self.reconnect_retries)
            .field("max_value_bytes", &self.max_value_bytes)
            .field("scan_batch", &self.scan_batch)
            .field("coalesce_reads", &self.coalesce_reads)
            .finish()
    }
}

/// Replaces the password in `scheme://user:password@host` and any `pass=`/`password=` query
/// value with `***`, in each URL of a comma-separated list (cluster seeds).
pub fn redact_url(url: &str) -> String {
    seeds(url)
        .into_iter()
        .map(redact_one)
        .collect::<Vec<_>>()
        .join(",")
}

/// The URLs of a comma-separated seed list: a comma starts a new URL only where a scheme
/// (`name://`) follows it, so a password holding a comma stays in its URL.
fn seeds(url: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in url.match_indices(',') {
        if i >= start && starts_with_scheme(&url[i + 1..]) {
            out.push(&url[start..i]);
            start = i + 1;
        }
    }
    out.push(&url[start..]);
    out
}

fn starts_with_scheme(s: &str) -> bool {
    s.find("://").is_some_and(|end| {
        let scheme = &s[..end];
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// One URL with its password hidden. The user information ends at the last `@`: a password
/// written without percent-encoding may hold `/`, `?`, `#`, `:` or `@`, which a URL parser
/// would take for the path, the query or the host, so the split is made the way a person
/// reads it. A query's `password` or `pass` is hidden too.
fn redact_one(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return redact_query(url);
    };
    let rest_start = scheme_end + 3;
    let Some(at) = url[rest_start..].rfind('@').map(|i| rest_start + i) else {
        return redact_query(url);
    };
    let userinfo = &url[rest_start..at];
    let redacted = match userinfo.split_once(':') {
        Some((user, _)) if !user.contains(['/', '?', '#']) => format!("{user}:***"),
        _ => "***".to_owned(),
    };
    format!(
        "{}{redacted}@{}",
        &url[..rest_start],
        redact_query(&url[at + 1..])
    )
}

/// `text` with the values of `pass` and `password` query parameters hidden.
fn redact_query(text: &str) -> String {
    let Some(q) = text.find('?') else {
        return text.to_owned();
    };
    let (base, query) = text.split_at(q + 1);
    let query = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _))
                if k.eq_ignore_ascii_case("pass") || k.eq_ignore_ascii_case("password") =>
            {
                format!("{k}=***")
            }
            _ => kv.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{base}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_everywhere() {
        assert_eq!(redact_url("redis://:pw@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(redact_url("rediss://u:p@ss@h"), "rediss://u:***@h");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        assert_eq!(redact_url("redis://token@h"), "redis://***@h");
        assert_eq!(
            redact_url("redis://:a@h1:7000,redis://u:b@h2:7001/0"),
            "redis://:***@h1:7000,redis://u:***@h2:7001/0"
        );
        assert_eq!(
            redact_url("redis+unix:///tmp/r.sock?db=1&pass=pw"),
            "redis+unix:///tmp/r.sock?db=1&pass=***"
        );
        // Passwords written without percent-encoding, holding what a URL parser would take
        // for a path, a query, a fragment, a host or the next seed.
        for password in [
            "pa/ss?x@y",
            "a?b/c",
            "p@ss:w/rd#1",
            "x,redis://y",
            "semi;colon&amp",
        ] {
            for url in [
                format!("redis://user:{password}@h:6379/0"),
                format!("redis://:{password}@h"),
                format!("rediss://user:{password}@h1:7000,redis://:{password}@h2:7001"),
                format!("redis://h/0?password={password}"),
            ] {
                let shown = redact_url(&url);
                assert!(!shown.contains(password), "{url} -> {shown}");
                assert!(shown.contains("***"), "{url} -> {shown}");
                let shown = format!("{:?}", RedisConfig::new(url.clone()));
                assert!(!shown.contains(password), "{url} -> {shown}");
            }
        }
        assert_eq!(
            redact_url("redis://user:pa/ss?x@h:6379/0"),
            "redis://user:***@h:6379/0"
        );
        let c = RedisConfig::new("redis://h").with_credentials(Some("app".into()), "topsecret");
        let shown = format!("{c:?}");
        assert!(!shown.contains("topsecret"), "{shown}");
    }
}
