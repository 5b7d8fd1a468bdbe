//! The bus listener: applies other instances' invalidations to this one.

use std::sync::{Arc, Weak};

use strata_invalidation::{BusEvent, Invalidation};

use crate::core::Core;

/// Applies bus events to a cache until the cache is dropped.
pub(crate) struct BusListener {
    core: Weak<Core>,
}

impl BusListener {
    /// Subscribes to `core`'s bus (if any) and applies every event in a task of its own.
    pub(crate) fn spawn(core: &Arc<Core>) {
        let Some(bus) = core.bus.bus() else { return };
        let mut events = bus.subscribe();
        let listener = Self {
            core: Arc::downgrade(core),
        };
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if !listener.apply(event).await {
                    return;
                }
            }
        });
    }

    /// Applies one event; false once the cache is gone.
    async fn apply(&self, event: BusEvent) -> bool {
        let Some(core) = self.core.upgrade() else {
            return false;
        };
        match event {
            BusEvent::Message(m) if m.origin == core.bus.instance() => {}
            BusEvent::Message(m) => {
                apply_invalidation(&core, m.invalidation).await;
                core.bus.count_applied();
            }
            other => {
                // Messages may have been missed: drop L1 and the L2 reads racing this flush,
                // and read the kind and tag versions again.
                core.versions.unsync_all();
                core.local.forget_reads();
                core.kinds.register_again();
                core.bus.count_reset(other == BusEvent::Subscribed);
            }
        }
        true
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
