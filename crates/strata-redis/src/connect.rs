//! Making connections for a configuration: one server or a cluster, now or lazily. The backend
//! and the bus both get theirs here.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, IntoConnectionInfo, RedisResult};
use strata_backend::{BackendError, BackendResult, ErrorKind, check_namespace};

use crate::config::RedisConfig;
use crate::conn::RedisConnection;
use crate::errors::map_err;
use crate::topology::{Remake, Standalone, Topology};

/// Connects, failing when the deployment cannot be reached within the connect timeout.
pub(crate) async fn connect(config: &RedisConfig) -> BackendResult<Arc<dyn Topology>> {
    if config.cluster {
        return cluster::connect(config).await;
    }
    let (client, manager) = manager_for(config)?;
    let conn = ConnectionManager::new_with_config(client.clone(), manager.clone());
    let conn = within(config, conn).await?;
    let remake = remake(client, manager);
    let conn = RedisConnection::Standalone(conn);
    Ok(Arc::new(Standalone::new(&config.namespace, conn, remake)))
}

/// A connection made on first use, so an application can start while Redis is down.
pub(crate) fn connect_lazy(config: &RedisConfig) -> BackendResult<Arc<dyn Topology>> {
    if config.cluster {
        return cluster::connect_lazy(config);
    }
    let (client, manager) = manager_for(config)?;
    let remake = remake(client, manager);
    let conn = remake()?;
    Ok(Arc::new(Standalone::new(&config.namespace, conn, remake)))
}

/// Makes lazily connecting connections to the server of `client`.
fn remake(client: Client, manager: ConnectionManagerConfig) -> Remake {
    Arc::new(move || {
        ConnectionManager::new_lazy_with_config(client.clone(), manager.clone())
            .map(RedisConnection::Standalone)
            .map_err(|e| map_err("create connection manager", e))
    })
}

/// One client per node to subscribe through: the server, or each cluster seed.
pub(crate) fn seed_clients(config: &RedisConfig) -> BackendResult<Vec<Client>> {
    config
        .urls()
        .into_iter()
        .map(|url| client_for(config, url))
        .collect()
}

fn manager_for(config: &RedisConfig) -> BackendResult<(Client, ConnectionManagerConfig)> {
    let client = client_for(config, &config.url)?;
    // No reply timeout of redis-rs: every call of the backend (and of the bus) runs under a
    // timeout of its own (`RedisBackend::run`), which knows the call's limit; a second timer
    // per command would only cost.
    let manager = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(None)
        .set_number_of_retries(config.reconnect_retries)
        .set_max_delay(Duration::from_millis(500));
    Ok((client, manager))
}

/// A redis-rs client for `url` with the credentials of `config`, after checking the namespace.
pub(crate) fn client_for(config: &RedisConfig, url: &str) -> BackendResult<Client> {
    check_namespace(&config.namespace)?;
    check_scheme(url)?;
    let mut info = url.into_connection_info().map_err(|e| bad_url(config, e))?;
    if config.username.is_some() || config.password.is_some() {
        let mut settings = info.redis_settings().clone();
        if let Some(user) = &config.username {
            settings = settings.set_username(user);
        }
        if let Some(password) = &config.password {
            settings = settings.set_password(password);
        }
        info = info.set_redis_settings(settings);
    }
    Client::open(info).map_err(|e| bad_url(config, e))
}

/// The URL schemes redis-rs accepts.
const SCHEMES: &[&str] = &[
    "redis",
    "rediss",
    "redis+unix",
    "unix",
    "valkey",
    "valkeys",
    "valkey+unix",
];

/// Refuses a URL whose scheme Redis does not speak (`http://...`), naming the accepted ones.
pub(crate) fn check_scheme(url: &str) -> BackendResult<()> {
    let scheme = url.split_once("://").map(|(s, _)| s.trim());
    if scheme.is_some_and(|s| SCHEMES.iter().any(|k| k.eq_ignore_ascii_case(s))) {
        return Ok(());
    }
    let found = match scheme {
        Some(s) => format!("its scheme is `{s}://`"),
        None => "it has no scheme".to_owned(),
    };
    Err(BackendError::new(
        ErrorKind::Config,
        format!(
            "invalid Redis URL {}: {found}; use redis://[user:password@]host[:port][/db], \
             rediss:// (TLS) or redis+unix:///path/to/socket (also unix://, valkey://, \
             valkeys://, valkey+unix://)",
            crate::config::redact_url(url)
        ),
    ))
}

fn bad_url(config: &RedisConfig, e: redis::RedisError) -> BackendError {
    BackendError::new(
        ErrorKind::Config,
        format!("invalid Redis URL {}: {e}", config.redacted_url()),
    )
}

/// Awaits `connect` under the connect timeout of `config`, naming the (redacted) URL in errors.
async fn within<T>(
    config: &RedisConfig,
    connect: impl Future<Output = RedisResult<T>>,
) -> BackendResult<T> {
    tokio::time::timeout(config.connect_timeout, connect)
        .await
        .map_err(|_| {
            BackendError::new(
                ErrorKind::Connection,
                format!(
                    "could not connect to {} within {:?}",
                    config.redacted_url(),
                    config.connect_timeout
                ),
            )
        })?
        .map_err(|e| crate::errors::explain(&config.redacted_url(), e))
}

#[cfg(feature = "cluster")]
mod cluster {
    use std::sync::Arc;

    use redis::IntoConnectionInfo;
    use redis::cluster::{ClusterClient, ClusterClientBuilder};
    use strata_backend::{BackendError, BackendResult, ErrorKind, check_namespace};

    use super::{bad_url, check_scheme, within};
    use crate::config::RedisConfig;
    use crate::topology::{Cluster, Topology};

    /// A cluster client for the seeds and credentials of `config`.
    fn client(config: &RedisConfig) -> BackendResult<ClusterClient> {
        check_namespace(&config.namespace)?;
        let seeds = config
            .urls()
            .into_iter()
            .map(|u| {
                check_scheme(u)?;
                u.into_connection_info().map_err(|e| bad_url(config, e))
            })
            .collect::<BackendResult<Vec<_>>>()?;
        if seeds.is_empty() {
            return Err(BackendError::new(
                ErrorKind::Config,
                "cluster mode needs at least one seed URL",
            ));
        }
        let mut builder = ClusterClientBuilder::new(seeds)
            .connection_timeout(config.connect_timeout)
            .response_timeout(config.reply_timeout())
            .retries(u32::try_from(config.reconnect_retries).unwrap_or(u32::MAX))
            .min_retry_wait(20)
            .max_retry_wait(500);
        if let Some(user) = &config.username {
            builder = builder.username(user);
        }
        if let Some(password) = &config.password {
            builder = builder.password(password);
        }
        builder.build().map_err(|e| bad_url(config, e))
    }

    pub(super) async fn connect(config: &RedisConfig) -> BackendResult<Arc<dyn Topology>> {
        let conn = within(config, client(config)?.get_async_connection()).await?;
        Ok(Arc::new(Cluster::new(&config.namespace, conn)))
    }

    pub(super) fn connect_lazy(config: &RedisConfig) -> BackendResult<Arc<dyn Topology>> {
        let conn = client(config)?.get_pending_async_connection_with_config(Default::default());
        Ok(Arc::new(Cluster::new(&config.namespace, conn)))
    }
}

#[cfg(not(feature = "cluster"))]
mod cluster {
    use std::sync::Arc;

    use strata_backend::{BackendError, BackendResult, ErrorKind};

    use crate::config::RedisConfig;
    use crate::topology::Topology;

    pub(super) async fn connect(config: &RedisConfig) -> BackendResult<Arc<dyn Topology>> {
        connect_lazy(config)
    }

    pub(super) fn connect_lazy(config: &RedisConfig) -> BackendResult<Arc<dyn Topology>> {
        Err(BackendError::new(
            ErrorKind::Config,
            format!(
                "{} asks for Redis Cluster, but strata-redis was built without its `cluster` feature",
                config.redacted_url()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_scheme_names_the_accepted_ones() {
        for url in ["http://:secret@cache:6379", "cache:6379", "https://cache"] {
            let e = client_for(&RedisConfig::new(url), url).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            let m = e.message();
            assert!(m.contains("redis://") && m.contains("rediss://"), "{m}");
            assert!(m.contains("redis+unix://"), "{m}");
            assert!(!m.contains("secret"), "{m}");
        }
        assert!(m_of("http://h:1").contains("its scheme is `http://`"));
        for url in [
            "redis://h:1/0",
            "rediss://h",
            "REDIS://h",
            "redis+unix:///tmp/r.sock",
        ] {
            assert!(check_scheme(url).is_ok(), "{url}");
        }
    }

    fn m_of(url: &str) -> String {
        check_scheme(url).unwrap_err().message().to_owned()
    }
}

/// [`seed_clients`] speaking RESP3 (push connections: client tracking, the bus).
pub(crate) fn resp3_clients(config: &RedisConfig) -> BackendResult<Vec<Client>> {
    config
        .urls()
        .into_iter()
        .map(|url| resp3(config, client_for(config, url)?))
        .collect()
}

/// A RESP3 client for the node at `addr` (`host:port`) of the deployment of `config`, with
/// its scheme and credentials.
pub(crate) fn resp3_client(config: &RedisConfig, addr: &str) -> BackendResult<Client> {
    let scheme = config
        .url
        .split_once("://")
        .map_or("redis", |(s, _)| s.trim());
    resp3(config, client_for(config, &format!("{scheme}://{addr}"))?)
}

fn resp3(config: &RedisConfig, client: Client) -> BackendResult<Client> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    Client::open(info.set_redis_settings(settings)).map_err(|e| bad_url(config, e))
}

/// The `host:port` of each primary of the cluster of `config` (`CLUSTER NODES` on the first
/// seed that answers).
pub(crate) async fn cluster_primaries(
    config: &RedisConfig,
) -> BackendResult<std::collections::BTreeSet<String>> {
    let mut last = None;
    for client in seed_clients(config)? {
        let nodes = within(config, async {
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async::<String>(&mut conn)
                .await
        })
        .await;
        match nodes {
            Ok(text) => return Ok(primaries_in(&text)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| BackendError::new(ErrorKind::Config, "no cluster seed node")))
}

/// The primaries of a `CLUSTER NODES` reply that are connected and serve slots.
fn primaries_in(nodes: &str) -> std::collections::BTreeSet<String> {
    nodes
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let flags = f.get(2)?;
            let serving = f.len() > 8 && !flags.contains("fail") && f.get(7) == Some(&"connected");
            let addr = f.get(1)?.split('@').next()?;
            (flags.contains("master") && serving).then(|| addr.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod primaries_tests {
    #[test]
    fn primaries_are_the_connected_masters_with_slots() {
        let nodes = "\
a 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922
c 127.0.0.1:7003@17003 slave a 0 0 1 connected
d 127.0.0.1:7002@17002 master,fail - 0 0 3 disconnected 10923-16383
e 127.0.0.1:7004@17004 master - 0 0 4 connected
";
        let got: Vec<String> = super::primaries_in(nodes).into_iter().collect();
        assert_eq!(got, ["127.0.0.1:7000", "127.0.0.1:7001"]);
    }
}
