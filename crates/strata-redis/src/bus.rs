//! `RedisBus`: the invalidation bus on Redis pub/sub.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use strata_backend::{BackendError, BackendResult};
use strata_invalidation::{Bus, BusEvent, BusMessage, bus_error};
use tokio::sync::mpsc;

use crate::config::RedisConfig;
use crate::conn::RedisConnection;
use crate::errors::map_err;

/// Longest wait between reconnection attempts of a subscription.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Invalidations over Redis pub/sub on the channel `{namespace}__strata_bus`.
///
/// Each subscription runs on a connection of its own. Once subscribed (at start and after each
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
            clients: crate::connect::seed_clients(config)?,
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
        let (tx, rx) = mpsc::channel(1024);
        let (clients, channel, timeout) =
            (self.clients.clone(), self.channel.clone(), self.timeout);
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            let mut node = 0usize;
            while !tx.is_closed() {
                // After a failure, the next seed node (a cluster delivers every message to
                // every node).
                let client = &clients[node % clients.len()];
                node = node.wrapping_add(1);
                let connected = tokio::time::timeout(timeout.max(Duration::from_secs(1)), async {
                    let mut ps = client.get_async_pubsub().await?;
                    ps.subscribe(&channel).await?;
                    Ok::<_, redis::RedisError>(ps)
                })
                .await;
                let ps = match connected {
                    Ok(Ok(ps)) => ps,
                    failed => {
                        let reason = match failed {
                            Ok(Err(e)) => bus_error("redis", e).to_string(),
                            _ => "subscribe timed out".to_owned(),
                        };
                        tracing::debug!(%reason, ?backoff, "bus subscription failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                };
                backoff = Duration::from_millis(100);
                // Whatever was published before we were subscribed (at start, or while
                // reconnecting) is lost: the subscriber flushes.
                if tx.send(BusEvent::Subscribed).await.is_err() {
                    return;
                }
                let mut stream = ps.into_on_message();
                while let Some(msg) = stream.next().await {
                    if let Some(m) = BusMessage::decode(msg.get_payload_bytes()) {
                        if tx.send(BusEvent::Message(m)).await.is_err() {
                            return;
                        }
                    }
                }
                tracing::warn!("bus subscription dropped; flushing and resubscribing");
                if tx.send(BusEvent::Reset).await.is_err() {
                    return;
                }
            }
        });
        rx
    }
}
