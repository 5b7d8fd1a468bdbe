//! Opening what a configuration names: the backend (Redis or the embedded memory backend),
//! and the coherence channels (client tracking, the bus) with the mode the server supports.

use std::sync::Arc;

use strata_backend::{Backend, BackendError, MemoryBackend, MemoryConfig};
use strata_eviction::Limits;
use strata_invalidation::{Bus, Tracker};

use crate::coherence::{Channels, CoherenceMode};
use crate::config::{BackendSettings, CacheConfig};
use crate::error::Error;

/// The channels `given` to the builder, and for a backend opened from `settings` (`opened`:
/// `Some(whether it answered at start)`) those its coherence mode asks for.
pub(crate) async fn channels(
    (config, settings): (&CacheConfig, &BackendSettings),
    namespace: &str,
    given: Channels,
    backend: &Arc<dyn Backend>,
    opened: Option<bool>,
) -> Result<Channels, Error> {
    let Some(answered) = opened else {
        return Ok(given);
    };
    let mode = match answered {
        true => coherence_mode(config, settings, backend).await,
        false => config.coherence_mode(),
    };
    let bus = match given.bus {
        Some(bus) => Some(bus),
        None if mode.uses_bus() => open_bus(config, settings, namespace)?,
        None => None,
    };
    let tracker = match given.tracker {
        Some(t) => Some(t),
        None if mode.tracks() => open_tracker(config, settings, namespace)?,
        None => None,
    };
    Ok(Channels { bus, tracker })
}

/// The configured coherence mode, except that client tracking falls back to the bus on a
/// server that does not support it (Redis before 6), with a warning.
async fn coherence_mode(
    config: &CacheConfig,
    settings: &BackendSettings,
    backend: &Arc<dyn Backend>,
) -> CoherenceMode {
    let mode = config.coherence_mode();
    if !mode.tracks() || settings.url.is_none() {
        return mode;
    }
    let info = tokio::time::timeout(settings.connect_timeout, backend.info()).await;
    let version = match info {
        Ok(Ok(info)) => info.server_version,
        _ => None,
    };
    let major = version
        .as_deref()
        .and_then(|v| v.split('.').next()?.parse::<u32>().ok());
    match major {
        Some(m) if m < 6 => {
            tracing::warn!(
                server_version = version.as_deref().unwrap_or(""),
                "the Redis server does not support client tracking (Redis 6 or later): \
                 coherence falls back to the bus; writes outside Strata are not seen"
            );
            CoherenceMode::Bus
        }
        _ => mode,
    }
}

/// The backend `b` configures (`[backend]` or one of `[backends.<name>]`), and the error of
/// the Redis check at start (the cache starts fail-open; with `strict` the error is the
/// build's).
pub(crate) async fn open_backend(
    config: &CacheConfig,
    b: &BackendSettings,
    namespace: &str,
) -> Result<(Arc<dyn Backend>, Option<BackendError>), Error> {
    match &b.url {
        Some(url) => open_redis((config, b), url, namespace).await,
        None => {
            let mut limits = Limits::default().with_max_bytes(b.max_bytes);
            if let Some(n) = b.max_entries {
                limits = limits.with_max_entries(n);
            }
            let memory = MemoryBackend::new(
                MemoryConfig::default()
                    .with_namespace(namespace)
                    .with_limits(limits)
                    .with_policy(b.policy)
                    .with_max_value_bytes(b.max_value_bytes),
            )?;
            Ok((Arc::new(memory), None))
        }
    }
}

/// The Redis configuration of a coherence channel: the backend's server, namespace and
/// timeouts (`None` without a Redis URL).
#[cfg(feature = "redis")]
fn channel_config(
    config: &CacheConfig,
    settings: &BackendSettings,
    namespace: &str,
) -> Option<strata_redis::RedisConfig> {
    let url = settings.url.as_ref()?;
    Some(
        strata_redis::RedisConfig::new(url)
            .with_cluster(settings.cluster)
            .with_namespace(namespace)
            .with_connect_timeout(settings.connect_timeout)
            .with_operation_timeout(config.operation_timeout),
    )
}

#[cfg(feature = "redis")]
fn open_bus(
    config: &CacheConfig,
    settings: &BackendSettings,
    namespace: &str,
) -> Result<Option<Arc<dyn Bus>>, Error> {
    let Some(redis) = channel_config(config, settings, namespace) else {
        return Ok(None);
    };
    Ok(Some(Arc::new(strata_redis::RedisBus::new(&redis)?)))
}

#[cfg(feature = "redis")]
fn open_tracker(
    config: &CacheConfig,
    settings: &BackendSettings,
    namespace: &str,
) -> Result<Option<Arc<dyn Tracker>>, Error> {
    let Some(redis) = channel_config(config, settings, namespace) else {
        return Ok(None);
    };
    Ok(Some(Arc::new(strata_redis::RedisTracker::new(&redis)?)))
}

#[cfg(not(feature = "redis"))]
fn open_tracker(
    _config: &CacheConfig,
    _settings: &BackendSettings,
    _namespace: &str,
) -> Result<Option<Arc<dyn Tracker>>, Error> {
    Ok(None)
}

#[cfg(not(feature = "redis"))]
fn open_bus(
    _config: &CacheConfig,
    _settings: &BackendSettings,
    _namespace: &str,
) -> Result<Option<Arc<dyn Bus>>, Error> {
    Ok(None)
}

#[cfg(feature = "redis")]
async fn open_redis(
    (config, b): (&CacheConfig, &BackendSettings),
    url: &str,
    namespace: &str,
) -> Result<(Arc<dyn Backend>, Option<BackendError>), Error> {
    let redis_config = strata_redis::RedisConfig::new(url)
        .with_cluster(b.cluster)
        .with_namespace(namespace)
        .with_connect_timeout(b.connect_timeout)
        .with_operation_timeout(config.operation_timeout)
        .with_max_value_bytes(b.max_value_bytes)
        .with_registry_ttl(crate::core::registry_ttl(config))
        .with_change_timeout(config.change_timeout)
        .with_coalesce_reads(b.coalesce_reads);
    let space = strata_keys::KeySpace::new(&config.prefix, &config.app_version)?;
    let mut redis_config = redis_config;
    for (kind, q) in &b.quotas {
        let mut limits = strata_eviction::Limits::default();
        if let Some(n) = q.max_entries {
            limits = limits.with_max_entries(n);
        }
        if let Some(n) = q.max_bytes {
            limits = limits.with_max_bytes(n);
        }
        redis_config = redis_config.with_quota(strata_redis::Quota::new(
            space.kind(kind)?.kind_namespace(),
            limits,
            q.policy,
        ));
    }
    let redis = strata_redis::RedisBackend::connect_lazy(redis_config)?;
    let start_error = check_redis(&redis, config.strict).await?;
    // Once connected: the scripts loaded (no operation pays for their first use), and a full
    // noeviction server, which fails every cache write, said so once.
    let probe = redis.clone();
    tokio::spawn(async move {
        let _ = probe.prepare().await;
        if let Ok(true) = probe.unbounded_noeviction().await {
            tracing::warn!(
                "Redis runs maxmemory-policy noeviction and no kind has a quota: cache writes \
                 will fail when memory fills (set allkeys-lru or volatile-ttl, or [backend.quotas])"
            );
        }
    });
    Ok((Arc::new(redis), start_error))
}

/// Checks Redis once (connect, authenticate, select the database): a failure is logged with its
/// cause and the cache starts fail-open, or with `strict` the build fails.
#[cfg(feature = "redis")]
async fn check_redis(
    redis: &strata_redis::RedisBackend,
    strict: bool,
) -> Result<Option<BackendError>, Error> {
    let Err(e) = redis.check_connection().await else {
        return Ok(None);
    };
    if strict {
        return Err(e.into());
    }
    let e = BackendError::new(
        e.kind(),
        format!(
            "Redis cannot be used at start: {}; the cache starts fail-open (reads miss and go \
             to their loaders) until Redis answers",
            strata_backend::LastError::of(&e).message
        ),
    );
    tracing::warn!(error.kind = e.kind().as_str(), "{}", e.message());
    Ok(Some(e))
}

#[cfg(not(feature = "redis"))]
async fn open_redis(
    _config: (&CacheConfig, &BackendSettings),
    _url: &str,
    _namespace: &str,
) -> Result<(Arc<dyn Backend>, Option<BackendError>), Error> {
    Err(Error::config(
        "invalid value for key `backend.url`: a Redis URL needs the `redis` feature of strata",
    ))
}
