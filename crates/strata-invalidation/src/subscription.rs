//! A subscription to a coherence channel (the bus, or the server's client tracking): the
//! events it delivers and, where the channel supports it, the heartbeat that confirms it.

use std::fmt::Debug;

use tokio::sync::mpsc;

use crate::BusEvent;

/// The events of one subscription and, when the channel answers heartbeats, where to send
/// them.
///
/// A heartbeat `token` sent with [`heartbeat`](Self::heartbeat) comes back as
/// [`BusEvent::Confirmed`]`(token)` after every event the channel received before the
/// heartbeat reached its server: once it arrives, the subscriber knows it missed nothing sent
/// before that moment. A channel without heartbeats (an in-process bus) cannot lose a message
/// without saying so ([`BusEvent::Reset`]), and its subscriber treats it as confirmed while
/// subscribed.
#[derive(Debug)]
#[non_exhaustive]
pub struct Subscription {
    /// The events, until the channel is dropped.
    pub events: mpsc::Receiver<BusEvent>,
    heartbeats: Option<mpsc::Sender<u64>>,
}

impl Subscription {
    /// A subscription without heartbeats.
    pub fn new(events: mpsc::Receiver<BusEvent>) -> Self {
        Self {
            events,
            heartbeats: None,
        }
    }

    /// A subscription whose channel answers the tokens sent to `heartbeats` with
    /// [`BusEvent::Confirmed`].
    pub fn with_heartbeats(
        events: mpsc::Receiver<BusEvent>,
        heartbeats: mpsc::Sender<u64>,
    ) -> Self {
        Self {
            events,
            heartbeats: Some(heartbeats),
        }
    }

    /// Whether the channel answers heartbeats.
    pub fn confirms(&self) -> bool {
        self.heartbeats.is_some()
    }

    /// The sending side of the heartbeats, to be used from another task (`None` without
    /// heartbeats).
    pub fn heartbeat_sender(&self) -> Option<mpsc::Sender<u64>> {
        self.heartbeats.clone()
    }
}

/// Invalidations the backend's server pushes for every key written under a prefix, by anyone
/// (Redis client tracking in broadcasting mode): writers outside Strata, evictions and expiries
/// included.
///
/// A tracked key arrives as [`BusEvent::Message`] with origin 0 and
/// [`Invalidation::Keys`](crate::Invalidation::Keys); a push that names no key (the server
/// flushed its keys) as [`Invalidation::All`](crate::Invalidation::All). Like a bus
/// subscription, it sends [`BusEvent::Subscribed`] once tracking is on (at start and after
/// every reconnection) and [`BusEvent::Reset`] when it is lost.
pub trait Tracker: Debug + Send + Sync + 'static {
    /// A short name ("redis").
    fn name(&self) -> &'static str;

    /// Starts tracking every key that starts with `prefix`; `name` identifies the connection
    /// on the server (Redis `CLIENT SETNAME`), so an operator can find it.
    fn track(&self, prefix: &str, name: &str) -> Subscription;
}
