//! `RedisBus`: the invalidation bus on Redis pub/sub.

use std::time::Duration;

use async_trait::async_trait;
use strata_backend::{BackendError, BackendResult};
use strata_invalidation::{Bus, BusEvent, BusMessage, Subscription};
use tokio::sync::mpsc;

use crate::config::RedisConfig;
use crate::conn::RedisConnection;
use crate::errors::map_err;
use crate::push::{Listen, PushChannel};

/// Invalidations over Redis pub/sub on the channel `{namespace}__strata_bus`.
///
/// Each subscription runs on a RESP3 connection of its own, named on the server
/// ([`Bus::subscription`]; `strata-bus` for [`Bus::subscribe`]), which answers heartbeats.
/// Once subscribed (at start and after each
/// reconnection, with backoff from 100 ms to 5 s) the subscriber gets [`BusEvent::Subscribed`],
/// which flushes since anything published before was missed; when the connection drops it gets
/// a [`BusEvent::Reset`] at once. So a Redis restart costs L1 flushes, never a stale entry.
///
/// On a cluster ([`RedisConfig::cluster`]) messages are published through the cluster
/// connection (Redis forwards every `PUBLISH` to all nodes) and the subscription connects to the
/// seed nodes in turn, moving to the next one whenever its node fails: list several seeds.
#[derive(Clone)]
pub struct RedisBus {
    /// One client per seed node (one server: one).
    clients: Vec<redis::Client>,
    publisher: RedisConnection,
    channel: String,
    timeout: Duration,
    redacted_url: String,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("url", &self.redacted_url)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl RedisBus {
    /// A bus for the cache configured by `config` (same server, channel from its namespace).
    /// Connects lazily.
    pub fn new(config: &RedisConfig) -> BackendResult<Self> {
        Ok(Self {
            clients: crate::connect::resp3_clients(config)?,
            publisher: crate::connect::connect_lazy(config)?.connection(),
            channel: format!("{}__strata_bus", config.namespace),
            timeout: config.operation_timeout,
            redacted_url: config.redacted_url(),
        })
    }

    /// The pub/sub channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

#[async_trait]
impl Bus for RedisBus {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn publish(&self, message: &BusMessage) -> BackendResult<()> {
        let mut conn = self.publisher.clone();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&self.channel).arg(message.encode());
        match tokio::time::timeout(self.timeout, cmd.query_async::<i64>(&mut conn)).await {
            Ok(r) => r.map(|_| ()).map_err(|e| map_err("PUBLISH", e)),
            Err(_) => Err(BackendError::timeout("redis PUBLISH", self.timeout)),
        }
    }

    fn channel(&self) -> Option<&str> {
        Some(&self.channel)
    }

    fn subscribe(&self) -> mpsc::Receiver<BusEvent> {
        self.subscription("strata-bus").events
    }

    fn subscription(&self, name: &str) -> Subscription {
        PushChannel {
            clients: self.clients.clone(),
            listen: Listen::Channel {
                channel: self.channel.clone(),
                sharded: false,
            },
            name: name.to_owned(),
            timeout: self.timeout,
        }
        .spawn()
    }
}
