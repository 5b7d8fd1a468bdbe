//! A RESP3 connection of its own that receives what the server pushes — client-tracking
//! invalidations or pub/sub messages — and answers heartbeats, reconnecting with backoff.
//! The bus ([`RedisBus`](crate::RedisBus)) and client tracking
//! ([`RedisTracker`](crate::RedisTracker)) both run on it.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, PushInfo, PushKind, RedisResult, Value};
use strata_invalidation::{BusEvent, BusMessage, Invalidation, Subscription};
use tokio::sync::mpsc;

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Heartbeats left unanswered in a row before the connection is taken for dead and replaced.
const MAX_UNANSWERED: u32 = 3;

/// What the connection listens to.
#[derive(Debug, Clone)]
pub(crate) enum Listen {
    /// `CLIENT TRACKING ON BCAST PREFIX <prefix> ...`: every key written under the prefixes.
    Tracking { prefixes: Vec<String> },
    /// `SUBSCRIBE <channel>` (or `SSUBSCRIBE` when sharded).
    Channel { channel: String, sharded: bool },
}

/// A push connection to be started (see the module docs).
pub(crate) struct PushChannel {
    /// RESP3 clients, tried in turn: the server, or each node to try.
    pub(crate) clients: Vec<Client>,
    pub(crate) listen: Listen,
    /// The connection's name on the server (`CLIENT SETNAME`).
    pub(crate) name: String,
    /// Limit on connecting and on each command (the heartbeat's PING included).
    pub(crate) timeout: Duration,
}

/// Why serving a connection ended.
enum Ended {
    /// The subscriber is gone.
    Closed,
    /// The connection dropped or stopped answering.
    Lost(String),
}

impl PushChannel {
    /// Starts the connection in a task of its own; its events and heartbeats go through the
    /// subscription, until the subscription's receiver is dropped.
    pub(crate) fn spawn(self) -> Subscription {
        let (tx, rx) = mpsc::channel(1024);
        let (beats, beat_rx) = mpsc::channel(16);
        tokio::spawn(self.run(tx, beat_rx));
        Subscription::with_heartbeats(rx, beats)
    }

    async fn run(self, tx: mpsc::Sender<BusEvent>, beats: mpsc::Receiver<u64>) {
        let mut beats = Some(beats);
        let mut backoff = Duration::from_millis(100);
        let mut node = 0usize;
        while !tx.is_closed() {
            let client = &self.clients[node % self.clients.len()];
            node = node.wrapping_add(1);
            let (push_tx, mut pushes) = mpsc::unbounded_channel();
            let limit = self.timeout.max(Duration::from_secs(1));
            let conn = match tokio::time::timeout(limit, self.open(client, push_tx)).await {
                Ok(Ok(conn)) => conn,
                failed => {
                    let reason = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => format!("no answer within {limit:?}"),
                    };
                    tracing::debug!(name = %self.name, %reason, ?backoff, "push connection failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            // Whatever was written before (at start, or while reconnecting) was missed.
            if tx.send(BusEvent::Subscribed).await.is_err() {
                return;
            }
            match self.serve(conn, &mut pushes, &mut beats, &tx).await {
                Ended::Closed => return,
                Ended::Lost(reason) => {
                    tracing::warn!(name = %self.name, %reason, "push connection lost; flushing and reconnecting");
                    if tx.send(BusEvent::Reset).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Connects over RESP3, names the connection and turns on what it listens to.
    async fn open(
        &self,
        client: &Client,
        pushes: mpsc::UnboundedSender<PushInfo>,
    ) -> RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout.max(Duration::from_secs(1))))
            .set_response_timeout(Some(self.timeout))
            .set_push_sender(pushes);
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(&self.name)
            .query_async::<()>(&mut conn)
            .await?;
        match &self.listen {
            Listen::Tracking { prefixes } => {
                let mut cmd = redis::cmd("CLIENT");
                cmd.arg("TRACKING").arg("ON").arg("BCAST");
                for prefix in prefixes {
                    cmd.arg("PREFIX").arg(prefix);
                }
                cmd.query_async::<()>(&mut conn).await?;
            }
            Listen::Channel { channel, sharded } => {
                let cmd = if *sharded { "SSUBSCRIBE" } else { "SUBSCRIBE" };
                redis::cmd(cmd)
                    .arg(channel)
                    .query_async::<()>(&mut conn)
                    .await?;
            }
        }
        Ok(conn)
    }

    /// Forwards pushes and answers heartbeats until the connection or the subscriber goes.
    async fn serve(
        &self,
        mut conn: MultiplexedConnection,
        pushes: &mut mpsc::UnboundedReceiver<PushInfo>,
        beats: &mut Option<mpsc::Receiver<u64>>,
        tx: &mpsc::Sender<BusEvent>,
    ) -> Ended {
        let mut unanswered = 0;
        loop {
            let beat = async {
                match beats {
                    Some(b) => b.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                push = pushes.recv() => {
                    let Some(push) = push else {
                        return Ended::Lost("the connection closed".into());
                    };
                    if let Some(ended) = forward(push, tx).await {
                        return ended;
                    }
                }
                token = beat => {
                    let Some(token) = token else {
                        // Nobody sends heartbeats any more: serve pushes alone.
                        *beats = None;
                        continue;
                    };
                    match redis::cmd("PING").query_async::<()>(&mut conn).await {
                        Ok(()) => {
                            unanswered = 0;
                            // The reply came after every push sent before it: forward those first.
                            while let Ok(push) = pushes.try_recv() {
                                if let Some(ended) = forward(push, tx).await {
                                    return ended;
                                }
                            }
                            if tx.send(BusEvent::Confirmed(token)).await.is_err() {
                                return Ended::Closed;
                            }
                        }
                        Err(e) if e.is_timeout() && unanswered + 1 < MAX_UNANSWERED => unanswered += 1,
                        Err(e) => return Ended::Lost(format!("heartbeat failed: {e}")),
                    }
                }
            }
        }
    }
}

/// Sends what `push` means to the subscriber; `Some` when serving must end.
async fn forward(push: PushInfo, tx: &mpsc::Sender<BusEvent>) -> Option<Ended> {
    let event = match push.kind {
        PushKind::Disconnection => return Some(Ended::Lost("disconnected".into())),
        PushKind::Invalidate => invalidated(push.data),
        PushKind::Message | PushKind::SMessage => match push.data.get(1) {
            Some(Value::BulkString(bytes)) => BusMessage::decode(bytes).map(BusEvent::Message),
            _ => None,
        },
        _ => None,
    }?;
    tx.send(event).await.is_err().then_some(Ended::Closed)
}

/// The event of an `invalidate` push: its keys, or everything for a null (a flush).
fn invalidated(data: Vec<Value>) -> Option<BusEvent> {
    let invalidation = match data.into_iter().next() {
        Some(Value::Array(keys)) | Some(Value::Set(keys)) => Invalidation::Keys(
            keys.into_iter()
                .filter_map(|k| match k {
                    Value::BulkString(b) => String::from_utf8(b).ok(),
                    Value::SimpleString(s) => Some(s),
                    _ => None,
                })
                .map(logical)
                .collect(),
        ),
        _ => Invalidation::All,
    };
    Some(BusEvent::Message(BusMessage::new(0, invalidation)))
}

/// The key a physical name stands for: a cluster stores a quota kind's entry with a hash tag
/// after the key, `key{rest}` (crates/strata-redis/src/topology/cluster.rs). A key never ends
/// with `}` itself (ids escape braces).
fn logical(mut name: String) -> String {
    if name.ends_with('}')
        && let Some(at) = name.rfind('{')
    {
        name.truncate(at);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_tagged_physical_name_stands_for_its_key() {
        assert_eq!(logical("p:v1:job:s1:7{v1:job:}".into()), "p:v1:job:s1:7");
        assert_eq!(logical("p:v1:{job}:s1:7".into()), "p:v1:{job}:s1:7");
    }

    #[test]
    fn an_invalidate_push_names_its_keys_or_everything() {
        let keys = vec![Value::Array(vec![
            Value::BulkString(b"p:v1:job:s1:7".to_vec()),
            Value::BulkString(b"p:v1:job:s1:8".to_vec()),
        ])];
        let want = Invalidation::Keys(vec!["p:v1:job:s1:7".into(), "p:v1:job:s1:8".into()]);
        assert_eq!(
            invalidated(keys),
            Some(BusEvent::Message(BusMessage::new(0, want)))
        );
        assert_eq!(
            invalidated(vec![Value::Nil]),
            Some(BusEvent::Message(BusMessage::new(0, Invalidation::All))),
            "a null invalidation (FLUSHALL) drops everything"
        );
    }
}
