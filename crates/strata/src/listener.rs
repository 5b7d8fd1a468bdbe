//! The coherence listeners: apply what the bus and the server's client tracking say to this
//! instance, and send the heartbeats that confirm both.

use std::sync::{Arc, Weak};

use strata_invalidation::{BusEvent, Invalidation, Subscription};
use strata_keys::{Key, KeyId};
use tokio::sync::mpsc;

use crate::core::Core;
use crate::versions::VERSION_KIND;

/// Where a listener's events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Other instances' messages (this instance's own are skipped).
    Bus,
    /// The same, on a named backend's server (its subscription is not the one
    /// [`BusStats::subscribed`](crate::BusStats) reports).
    NamedBus,
    /// The server's invalidations of keys written by anyone (this instance included).
    Tracking,
}

/// Applies one channel's events to a cache until the cache is dropped.
pub(crate) struct Listener {
    core: Weak<Core>,
    source: Source,
    /// The channel's index in [`Coherence`](crate::coherence::Coherence).
    channel: usize,
}

impl Listener {
    /// Subscribes to `core`'s bus and tracking (those it has), applies their events in tasks of
    /// their own, and sends heartbeats to the channels that answer them.
    pub(crate) fn spawn_all(core: &Arc<Core>) {
        let instance = core.bus.instance();
        let mut beats = Vec::new();
        if let Some(bus) = core.bus.bus() {
            let name = format!("strata-bus-{instance:016x}");
            let sub = bus.subscription(&name);
            beats.extend(Self::spawn(core, sub, Source::Bus, name));
        }
        if let Some(tracker) = &core.tracker {
            let prefix = core.space.versioned_namespace();
            let name = format!("strata-tracking-{instance:016x}");
            let sub = tracker.track(&prefix, &name);
            beats.extend(Self::spawn(core, sub, Source::Tracking, name));
        }
        // One channel per named backend too: its entries and its kinds' generation counters
        // are written on its own server.
        for ((_, backend), channels) in core.backends.named().zip(&core.named_channels) {
            let name = backend.name();
            if let Some(bus) = &channels.bus {
                let conn = format!("strata-bus-{instance:016x}");
                let sub = bus.subscription(&conn);
                beats.extend(Self::spawn(
                    core,
                    sub,
                    Source::NamedBus,
                    format!("{conn}@{name}"),
                ));
            }
            if let Some(tracker) = &channels.tracker {
                let prefix = core.space.versioned_namespace();
                let conn = format!("strata-tracking-{instance:016x}");
                let sub = tracker.track(&prefix, &conn);
                beats.extend(Self::spawn(
                    core,
                    sub,
                    Source::Tracking,
                    format!("{conn}@{name}"),
                ));
            }
        }
        if !beats.is_empty() {
            spawn_heartbeats(core, beats);
        }
    }

    /// Applies `sub`'s events in a task; the channel and its heartbeat sender, if it has one.
    fn spawn(
        core: &Arc<Core>,
        sub: Subscription,
        source: Source,
        name: String,
    ) -> Option<(usize, mpsc::Sender<u64>)> {
        let beats = sub.heartbeat_sender();
        let channel = core.coherence.add_channel(beats.is_some(), name);
        let listener = Self {
            core: Arc::downgrade(core),
            source,
            channel,
        };
        let mut events = sub.events;
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if !listener.apply(event).await {
                    return;
                }
            }
        });
        beats.map(|b| (channel, b))
    }

    /// Applies one event; false once the cache is gone.
    async fn apply(&self, event: BusEvent) -> bool {
        let Some(core) = self.core.upgrade() else {
            return false;
        };
        match event {
            BusEvent::Message(m)
                if self.source != Source::Tracking && m.origin == core.bus.instance() => {}
            BusEvent::Message(m) => {
                match (self.source, m.invalidation) {
                    (Source::Tracking, Invalidation::Keys(keys)) => tracked(&core, keys).await,
                    (_, invalidation) => apply_invalidation(&core, invalidation).await,
                }
                if self.source != Source::Tracking {
                    core.bus.count_applied();
                }
            }
            BusEvent::Confirmed(token) => core.coherence.confirm(self.channel, token),
            other => {
                let subscribed = other == BusEvent::Subscribed;
                let keep = !subscribed && core.coherence.lost(self.channel, core.clock.now_ms());
                if !keep {
                    // Messages may have been missed: drop L1 and the L2 reads racing this
                    // flush, and read the kind and tag versions again.
                    core.versions.unsync_all();
                    core.local.forget_reads();
                    core.kinds.register_again();
                }
                if self.source == Source::Bus {
                    core.bus.count_reset(subscribed);
                }
                core.coherence.subscribed(self.channel, subscribed);
            }
        }
        true
    }
}

/// Sends a heartbeat to each of `beats` every [`beat_every`], and notices when the
/// confirmation lapses (then the kind and tag versions are read from the backend again).
///
/// [`beat_every`]: crate::coherence::Coherence::beat_every
fn spawn_heartbeats(core: &Arc<Core>, beats: Vec<(usize, mpsc::Sender<u64>)>) {
    let weak = Arc::downgrade(core);
    let mut tick = tokio::time::interval(core.coherence.beat_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::spawn(async move {
        let mut verified = true;
        loop {
            tick.tick().await;
            let Some(core) = weak.upgrade() else { return };
            let now = core.clock.now_ms();
            let was = verified;
            if !core.coherence.check(now, &mut verified) && was {
                core.versions.unsync_all();
            }
            for (channel, token) in core.coherence.beat(now) {
                if let Some((_, sender)) = beats.iter().find(|(c, _)| *c == channel) {
                    let _ = sender.try_send(token);
                }
            }
        }
    });
}

/// What client tracking says: each key was written, deleted, evicted or expired on the server.
/// An entry is dropped from L1 (and its reads and loads in flight do not fill it); a version
/// counter (a kind clear, a tag invalidation) is read again before anything of its kind or tag
/// is trusted.
async fn tracked(core: &Core, keys: Vec<String>) {
    for key in keys {
        match Key::parse(&key) {
            Ok(parts) if parts.kind == VERSION_KIND => match parts.id {
                KeyId::Plain(id) => {
                    if let Some(kind) = id.strip_prefix("kind:") {
                        core.versions.unsync_kind(kind);
                    } else if let Some(tag) = id.strip_prefix("tag:") {
                        core.versions.unsync_tag(tag);
                    }
                }
                // A name too long to stand in a key: which counter it is cannot be told.
                KeyId::Hashed(_) => core.versions.unsync_all(),
            },
            _ => core.local.forget(&key).await,
        }
    }
}

/// What one invalidation drops here (without an L1 there is nothing to drop, but loads in
/// flight are overtaken and kind and tag versions are kept).
async fn apply_invalidation(core: &Core, invalidation: Invalidation) {
    match invalidation {
        Invalidation::Keys(keys) => {
            for k in keys {
                core.local.forget(&k).await;
            }
        }
        Invalidation::Prefix(p) => core.local.forget_prefix(&p),
        Invalidation::Kind { kind, generation } => {
            core.versions.apply_kind(&kind, generation);
            if let Ok(keys) = core.space.kind(&kind) {
                core.local.forget_kind(&keys);
            }
        }
        Invalidation::Tag { tag, version } => core.versions.apply_tag(&tag, version),
        _ => {
            core.versions.unsync_all();
            core.local.forget_all();
        }
    }
}
