//! The invalidation bus: how instances sharing a backend tell each other to drop L1 entries.

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use strata_backend::{BackendError, BackendResult, ErrorKind};

/// What to drop from the other instances' in-process tiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Invalidation {
    /// These keys.
    Keys(Vec<String>),
    /// Every key starting with this prefix (a kind).
    Prefix(String),
    /// Everything.
    All,
    /// A kind was cleared: its generation moved on to `generation`, and entries written under
    /// an older one are misses.
    Kind {
        /// The kind.
        kind: String,
        /// Its new generation.
        generation: u64,
    },
    /// A tag was invalidated: its version moved on to `version`, and entries that recorded an
    /// older one are misses.
    Tag {
        /// The tag.
        tag: String,
        /// Its new version.
        version: u64,
    },
}

/// A message on the bus: an invalidation and the instance it came from (instances ignore their
/// own messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BusMessage {
    /// The publishing instance's id.
    pub origin: u64,
    /// What to drop.
    pub invalidation: Invalidation,
}

impl BusMessage {
    /// A message from `origin`.
    pub fn new(origin: u64, invalidation: Invalidation) -> Self {
        Self {
            origin,
            invalidation,
        }
    }

    /// The wire form (JSON: small, and readable with `redis-cli SUBSCRIBE`).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses the wire form; `None` for anything else (foreign publishers are ignored).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    /// The wire form of a message whose value is known only where it is published, split
    /// around that value: for a [`Invalidation::Kind`] or [`Invalidation::Tag`] its counter's
    /// new value, for [`Invalidation::Keys`] the JSON array of the keys. The counter or keys
    /// given in `invalidation` are placeholders. `None` for other invalidations.
    pub fn split_around_value(
        origin: u64,
        invalidation: Invalidation,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        const SENTINEL: &str = "\u{1}strata:value\u{1}";
        let (invalidation, hole) = match invalidation {
            Invalidation::Kind { kind, .. } => (
                Invalidation::Kind {
                    kind,
                    generation: u64::MAX,
                },
                u64::MAX.to_string(),
            ),
            Invalidation::Tag { tag, .. } => (
                Invalidation::Tag {
                    tag,
                    version: u64::MAX,
                },
                u64::MAX.to_string(),
            ),
            Invalidation::Keys(_) => (
                Invalidation::Keys(vec![SENTINEL.to_owned()]),
                serde_json::to_string(&[SENTINEL]).ok()?,
            ),
            _ => return None,
        };
        let text = String::from_utf8(Self::new(origin, invalidation).encode()).ok()?;
        let at = text.rfind(&hole)?;
        Some((
            text.as_bytes()[..at].to_vec(),
            text.as_bytes()[at + hole.len()..].to_vec(),
        ))
    }
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BusEvent {
    /// A message (possibly this instance's own: compare `origin`).
    Message(BusMessage),
    /// The subscription dropped: messages may be missed until the next
    /// [`Subscribed`](Self::Subscribed). Flush everything that could be stale.
    Reset,
    /// The subscription is in place (first, again after each reconnection, and after a
    /// subscriber lagged behind): messages published from now on arrive. Some published before
    /// were missed, so this also flushes, as [`Reset`](Self::Reset) does.
    Subscribed,
    /// The heartbeat with this token was answered: every message sent before it reached the
    /// server has been delivered (see [`Subscription`](crate::Subscription)).
    Confirmed(u64),
}

/// Publishes invalidations and delivers them to every subscribed instance.
#[async_trait]
pub trait Bus: Debug + Send + Sync + 'static {
    /// A short name ("in-process", "redis").
    fn name(&self) -> &'static str;

    /// Sends `message` to every subscriber (including the sender's own).
    async fn publish(&self, message: &BusMessage) -> BackendResult<()>;

    /// A new subscription; events arrive until the bus is dropped.
    fn subscribe(&self) -> mpsc::Receiver<BusEvent>;

    /// A new subscription with its heartbeat, where the bus answers heartbeats; `name`
    /// identifies the connection on the server, where there is one (Redis `CLIENT SETNAME`).
    /// The default: [`subscribe`](Self::subscribe) without heartbeats.
    fn subscription(&self, name: &str) -> crate::Subscription {
        let _ = name;
        crate::Subscription::new(self.subscribe())
    }

    /// The pub/sub channel of this bus on its backend's server, when messages published there
    /// by the backend itself (see [`Publisher`](strata_backend::Publisher)) reach the subscribers: then a
    /// change and its message travel in one round trip. `None` (the default): publish through
    /// [`publish`](Self::publish).
    fn channel(&self) -> Option<&str> {
        None
    }
}

/// A bus inside one process (tests, several caches in one binary).
#[derive(Debug, Clone)]
pub struct InProcessBus {
    sender: broadcast::Sender<BusMessage>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessBus {
    /// A bus buffering up to 1,024 messages per slow subscriber (beyond: a flush, as
    /// [`BusEvent::Subscribed`]).
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
        }
    }
}

#[async_trait]
impl Bus for InProcessBus {
    fn name(&self) -> &'static str {
        "in-process"
    }

    async fn publish(&self, message: &BusMessage) -> BackendResult<()> {
        // No subscriber is not an error.
        let _ = self.sender.send(message.clone());
        Ok(())
    }

    fn subscribe(&self) -> mpsc::Receiver<BusEvent> {
        let mut rx = self.sender.subscribe();
        let (tx, out) = mpsc::channel(1024);
        // Subscribed at once: the broadcast receiver exists from here on.
        let _ = tx.try_send(BusEvent::Subscribed);
        tokio::spawn(async move {
            loop {
                let event = match rx.recv().await {
                    Ok(m) => BusEvent::Message(m),
                    // Still subscribed, but some messages were dropped.
                    Err(broadcast::error::RecvError::Lagged(_)) => BusEvent::Subscribed,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
        out
    }
}

/// A publish failure as a backend error.
pub fn bus_error(bus: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::new(ErrorKind::Connection, format!("{bus} bus: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_split_around_its_value_joins_into_the_wire_form() {
        let kind = Invalidation::Kind {
            kind: "job".into(),
            generation: 0,
        };
        let (before, after) = BusMessage::split_around_value(7, kind).unwrap();
        let joined = [before.as_slice(), b"1234", after.as_slice()].concat();
        let want = BusMessage::new(
            7,
            Invalidation::Kind {
                kind: "job".into(),
                generation: 1234,
            },
        );
        assert_eq!(BusMessage::decode(&joined), Some(want));
        let keys = Invalidation::Keys(Vec::new());
        let (before, after) = BusMessage::split_around_value(7, keys).unwrap();
        let list = serde_json::to_vec(&["p:v1:user:s1:1", "p:v1:user:s2:1"]).unwrap();
        let joined = [before.as_slice(), &list, after.as_slice()].concat();
        let want = Invalidation::Keys(vec!["p:v1:user:s1:1".into(), "p:v1:user:s2:1".into()]);
        assert_eq!(BusMessage::decode(&joined), Some(BusMessage::new(7, want)));
        assert_eq!(BusMessage::split_around_value(7, Invalidation::All), None);
    }

    #[test]
    fn the_wire_form_is_the_documented_json() {
        let cases = [
            (
                Invalidation::Keys(vec!["p:v1:user:s2:42".into()]),
                r#"{"origin":7,"invalidation":{"keys":["p:v1:user:s2:42"]}}"#,
            ),
            (
                Invalidation::Prefix("p:v1:job:".into()),
                r#"{"origin":7,"invalidation":{"prefix":"p:v1:job:"}}"#,
            ),
            (Invalidation::All, r#"{"origin":7,"invalidation":"all"}"#),
        ];
        for (inv, json) in cases {
            let msg = BusMessage::new(7, inv);
            assert_eq!(String::from_utf8(msg.encode()).unwrap(), json);
            assert_eq!(BusMessage::decode(json.as_bytes()), Some(msg));
        }
        assert_eq!(
            BusMessage::decode(b"not json"),
            None,
            "foreign publishers are ignored"
        );
    }
}
