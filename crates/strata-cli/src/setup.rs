//! What the command works on: the application's configuration (strata.toml, `STRATA_*`,
//! `REDIS_URL`) with the command line over it, a checked Redis connection, and a cache built
//! the way the application builds its own (bus included).

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use strata::{Cache, CacheBuilder, CacheConfig, KeySpace, RedisBackend, RedisConfig};

use crate::Cli;

/// The configuration, the key space and the Redis settings of one run.
pub(crate) struct Setup {
    pub(crate) config: CacheConfig,
    pub(crate) space: KeySpace,
    pub(crate) redis: RedisConfig,
}

impl Setup {
    /// The application's configuration — `--config FILE` or `strata.toml` in the working
    /// directory, then `STRATA_*` and `REDIS_URL` — with `--redis`, `--cluster`, `--prefix`,
    /// `--app-version` and `--timeout` over it.
    pub(crate) fn resolve(cli: &Cli) -> Result<Self> {
        let mut config = match &cli.config {
            Some(path) => CacheConfig::load_from(path, true),
            None => CacheConfig::load(),
        }
        .map_err(|e| anyhow!("{e}"))?;
        if let Some(url) = &cli.redis {
            config.backend.url = Some(url.clone());
        }
        if cli.cluster {
            config.backend.cluster = true;
        }
        if let Some(prefix) = &cli.prefix {
            config.prefix = prefix.clone();
        }
        if let Some(version) = &cli.app_version {
            config.app_version = version.clone();
        }
        // An operator's scans and clears get more time than a request's reads.
        config.operation_timeout = cli.timeout;
        config.backend.connect_timeout = cli.timeout;
        config.validate().map_err(|e| anyhow!("{e}"))?;
        let Some(url) = config.backend.url.clone() else {
            bail!(
                "no Redis URL: pass --redis redis://host:port, set REDIS_URL, or set \
                 [backend] url in strata.toml (or the file given with --config)"
            );
        };
        let space = KeySpace::new(&config.prefix, &config.app_version)
            .context("invalid prefix or app version")?;
        let redis = RedisConfig::new(url)
            .with_cluster(config.backend.cluster)
            .with_namespace(space.namespace())
            .with_operation_timeout(config.operation_timeout)
            .with_connect_timeout(config.backend.connect_timeout);
        Ok(Self {
            config,
            space,
            redis,
        })
    }

    /// A backend on Redis, after checking once that it can be used (connect, authenticate,
    /// select the database): the error names the cause (a wrong password, no such database, a
    /// refused port — at once —, an unknown host).
    pub(crate) async fn backend(&self) -> Result<RedisBackend> {
        connect(self.redis.clone()).await
    }

    /// The backend `kind` lives in: the `[backends.<name>]` its `[kinds.<kind>] backend` names
    /// (on that Redis, checked like [`backend`](Self::backend)), else the default one. A kind
    /// routed to an embedded memory backend (no `url`) is refused: only the application sees it.
    pub(crate) async fn backend_of(&self, kind: &str) -> Result<RedisBackend> {
        let routed = self
            .config
            .kinds
            .get(kind)
            .and_then(|k| k.backend.as_deref());
        let Some(name) = routed else {
            return self.backend().await;
        };
        let settings = (self.config.backends.get(name))
            .ok_or_else(|| anyhow!("[kinds.{kind}] backend = {name:?}: no [backends.{name}]"))?;
        let Some(url) = &settings.url else {
            bail!(
                "kind {kind:?} lives in the backend {name:?}, an embedded memory backend                  ([backends.{name}] has no url): only the application holds its entries"
            );
        };
        let redis = RedisConfig::new(url.clone())
            .with_cluster(settings.cluster)
            .with_namespace(self.space.namespace())
            .with_operation_timeout(self.config.operation_timeout)
            .with_connect_timeout(self.config.backend.connect_timeout);
        connect(redis)
            .await
            .with_context(|| format!("the backend {name:?} of kind {kind:?}"))
    }

    /// The backend the entry `key` lives in: its kind's ([`backend_of`](Self::backend_of)),
    /// else (a key that is not a Strata key) the default one.
    pub(crate) async fn backend_of_key(&self, key: &str) -> Result<RedisBackend> {
        match strata::Key::parse(key) {
            Ok(parts) => self.backend_of(&parts.kind).await,
            Err(_) => self.backend().await,
        }
    }

    /// A cache built the way the application builds its own: on the configured Redis, with its
    /// coherence channels (client tracking, the bus, as configured), so that changes reach the
    /// running instances. Returns once they are subscribed.
    pub(crate) async fn cache(&self) -> Result<Cache> {
        let mut builder = CacheBuilder::from_config(self.config.clone())
            .l1(false)
            .metrics(false);
        for kind in self.config.configured_kinds().keys() {
            builder = builder.declare_kind(kind);
        }
        if self.config.coherence_mode() == strata::CoherenceMode::Off {
            eprintln!(
                "strata: note: the configuration turns coherence off (coherence = \"off\"): \
                 running instances keep their in-process copies for up to l1.max_lifetime"
            );
        }
        let cache = builder.build().await.map_err(|e| anyhow!("{e}"))?;
        let deadline = self
            .config
            .backend
            .connect_timeout
            .max(Duration::from_secs(2));
        if tokio::time::timeout(deadline, cache.ready()).await.is_err() {
            bail!(
                "the coherence channels (tracking, bus) did not subscribe within {}: running \
                 instances might not hear of the change; nothing was changed",
                humantime::format_duration(deadline)
            );
        }
        Ok(cache)
    }
}

/// A backend on the Redis `redis` configures, checked once (connect, authenticate, select the
/// database): the error names the cause.
async fn connect(redis: RedisConfig) -> Result<RedisBackend> {
    let backend = RedisBackend::connect_lazy(redis).map_err(|e| anyhow!("{}", e.message()))?;
    backend
        .check_connection()
        .await
        .map_err(|e| anyhow!("cannot reach Redis: {}", e.message()))?;
    Ok(backend)
}
