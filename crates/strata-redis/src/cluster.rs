//! Redis Cluster: connecting, walking every primary for scans and clears, and adding up
//! `INFO` across primaries. Key placement (hash tags) is in `layout.rs`.

#[cfg(not(feature = "cluster"))]
mod stub {
    use strata_backend::{BackendError, BackendResult, ErrorKind};

    use crate::RedisBackend;
    use crate::config::RedisConfig;

    impl RedisBackend {
        pub(crate) async fn connect_cluster(config: RedisConfig) -> BackendResult<Self> {
            Self::connect_cluster_lazy(config)
        }

        pub(crate) fn connect_cluster_lazy(config: RedisConfig) -> BackendResult<Self> {
            Err(BackendError::new(
                ErrorKind::Config,
                format!(
                    "{} asks for Redis Cluster, but strata-redis was built without its `cluster` feature",
                    config.redacted_url()
                ),
            ))
        }
    }
}

#[cfg(feature = "cluster")]
mod imp {
    use std::collections::BTreeMap;

    use redis::cluster::{ClusterClient, ClusterClientBuilder};
    use redis::cluster_routing::{
        MultipleNodeRoutingInfo, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
    };
    use redis::{IntoConnectionInfo, Value};
    use strata_backend::{BackendError, BackendInfo, BackendResult, ErrorKind, check_namespace};

    use crate::RedisBackend;
    use crate::config::RedisConfig;
    use crate::conn::RedisConnection;
    use crate::info::parse_info;

    /// A cluster client for the seeds and credentials of `config`.
    fn cluster_client(config: &RedisConfig) -> BackendResult<ClusterClient> {
        check_namespace(&config.namespace)?;
        let bad_url = |e: redis::RedisError| {
            BackendError::new(
                ErrorKind::Config,
                format!("invalid Redis Cluster URL {}: {e}", config.redacted_url()),
            )
        };
        let seeds = config
            .urls()
            .into_iter()
            .map(|u| u.into_connection_info().map_err(bad_url))
            .collect::<BackendResult<Vec<_>>>()?;
        if seeds.is_empty() {
            return Err(BackendError::new(
                ErrorKind::Config,
                "cluster mode needs at least one seed URL",
            ));
        }
        let mut builder = ClusterClientBuilder::new(seeds)
            .connection_timeout(config.connect_timeout)
            .response_timeout(config.operation_timeout)
            .retries(u32::try_from(config.reconnect_retries).unwrap_or(u32::MAX))
            .min_retry_wait(20)
            .max_retry_wait(500);
        if let Some(user) = &config.username {
            builder = builder.username(user);
        }
        if let Some(password) = &config.password {
            builder = builder.password(password);
        }
        builder.build().map_err(bad_url)
    }

    impl RedisBackend {
        /// Connects to the cluster through the seed URLs of `config`, failing when none answers
        /// within the connect timeout.
        pub(crate) async fn connect_cluster(config: RedisConfig) -> BackendResult<Self> {
            let client = cluster_client(&config)?;
            let conn =
                crate::backend::connect_within(&config, client.get_async_connection()).await?;
            Self::from_parts(RedisConnection::Cluster(conn), config)
        }

        /// Prepares a cluster connection made in the background (commands wait for it).
        pub(crate) fn connect_cluster_lazy(config: RedisConfig) -> BackendResult<Self> {
            let client = cluster_client(&config)?;
            let conn = client.get_pending_async_connection_with_config(Default::default());
            Self::from_parts(RedisConnection::Cluster(conn), config)
        }

        fn cluster_conn(&self) -> redis::cluster_async::ClusterConnection {
            match &self.conn {
                RedisConnection::Cluster(c) => c.clone(),
                RedisConnection::Standalone(_) => {
                    unreachable!("cluster path on a standalone connection")
                }
            }
        }

        /// The lowest slot of each primary, in order: a primary's name that survives failover
        /// (its replica takes over the same slots).
        async fn primaries(&self) -> BackendResult<Vec<u16>> {
            let mut conn = self.cluster_conn();
            let reply = self
                .run(
                    "CLUSTER SLOTS",
                    conn.route_command(
                        redis::cmd("CLUSTER").arg("SLOTS").clone(),
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
                    ),
                )
                .await?;
            let bad = || BackendError::new(ErrorKind::Server, "unexpected CLUSTER SLOTS reply");
            let Value::Array(ranges) = reply else {
                return Err(bad());
            };
            // First slot by primary address.
            let mut first: BTreeMap<String, u16> = BTreeMap::new();
            for range in ranges {
                let Value::Array(fields) = range else {
                    return Err(bad());
                };
                let (Some(Value::Int(start)), Some(Value::Array(node))) =
                    (fields.first(), fields.get(2))
                else {
                    return Err(bad());
                };
                let start = u16::try_from(*start).map_err(|_| bad())?;
                let addr = format!("{node:?}");
                let slot = first.entry(addr).or_insert(start);
                *slot = (*slot).min(start);
            }
            let mut slots: Vec<u16> = first.into_values().collect();
            slots.sort_unstable();
            if slots.is_empty() {
                return Err(BackendError::new(
                    ErrorKind::Connection,
                    "the cluster has no slots assigned",
                ));
            }
            Ok(slots)
        }

        /// One step of a scan over every primary: the cursor is `{first slot}-{node cursor}`.
        pub(crate) async fn cluster_scan_step(
            &self,
            pattern: &str,
            cursor: &str,
            count: usize,
        ) -> BackendResult<(String, Vec<String>)> {
            let primaries = self.primaries().await?;
            let (slot, node_cursor) = if cursor == "0" {
                (primaries[0], "0")
            } else {
                cursor
                    .split_once('-')
                    .and_then(|(s, c)| Some((s.parse::<u16>().ok()?, c)))
                    .filter(|(_, c)| c.bytes().all(|b| b.is_ascii_digit()) && !c.is_empty())
                    .ok_or_else(|| {
                        BackendError::invalid_input(format!(
                            "scan cursor {cursor:?} was not returned by a cluster scan"
                        ))
                    })?
            };
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(node_cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(count);
            let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(
                slot,
                SlotAddr::Master,
            )));
            let mut conn = self.cluster_conn();
            let reply = self.run("SCAN", conn.route_command(cmd, route)).await?;
            let (next, keys): (String, Vec<String>) = redis::from_redis_value(reply)
                .map_err(|e| BackendError::new(ErrorKind::Server, format!("SCAN reply: {e}")))?;
            let next = if next != "0" {
                format!("{slot}-{next}")
            } else {
                primaries
                    .iter()
                    .find(|s| **s > slot)
                    .map_or_else(|| "0".to_owned(), |s| format!("{s}-0"))
            };
            Ok((next, keys))
        }

        /// `INFO` of every primary added up: memory and limits summed, version and policy of
        /// the first, `cluster.primaries` in the details; `DBSIZE` summed.
        pub(crate) async fn cluster_info(&self) -> BackendResult<BackendInfo> {
            let mut conn = self.cluster_conn();
            let mut cmd = redis::cmd("INFO");
            cmd.arg("server").arg("memory").arg("stats");
            let reply = self
                .run(
                    "INFO",
                    conn.route_command(
                        cmd,
                        RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
                    ),
                )
                .await?;
            let by_node: BTreeMap<String, String> = redis::from_redis_value(reply)
                .map_err(|e| BackendError::new(ErrorKind::Server, format!("INFO reply: {e}")))?;
            let mut total = BackendInfo::new("redis");
            let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            };
            for text in by_node.values() {
                let one = parse_info(text);
                total.bytes_used = sum(total.bytes_used, one.bytes_used);
                total.max_bytes = sum(total.max_bytes, one.max_bytes);
                total.evictions = sum(total.evictions, one.evictions);
                total.server_version = total.server_version.or(one.server_version);
                total.eviction_policy = total.eviction_policy.or(one.eviction_policy);
                for (k, v) in one.details {
                    total.details.entry(k).or_insert(v);
                }
            }
            total
                .details
                .insert("cluster.primaries".into(), by_node.len().to_string());
            total.details.insert(
                "cluster.nodes".into(),
                by_node.into_keys().collect::<Vec<_>>().join(","),
            );
            let mut conn = self.cluster_conn();
            let dbsize: u64 = self
                .run("DBSIZE", redis::cmd("DBSIZE").query_async(&mut conn))
                .await?;
            total.server_keys = Some(dbsize);
            Ok(total)
        }
    }
}
