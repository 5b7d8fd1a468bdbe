//! The load lease a flight's leader holds in the backend (stale-set protection, cross-process
//! single flight), or why it holds none.

use std::time::Duration;

use strata_keys::Key;
use tokio::time::Instant;

use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::entry::Found;
use crate::error::Error;
use crate::kinds::KindState;
use crate::read;
use crate::write::Encoded;

/// The lease of one load. Consumed by whatever ends the load: a store through it, or a release.
pub(super) enum Lease {
    /// We hold it (this token): store through `set_under_lease`.
    Held(String),
    /// Another instance holds it: it will store; we only fill our L1.
    HeldElsewhere,
    /// The backend has no leases, or could not be asked: store plainly (best effort).
    Unavailable,
}

/// How storing a loaded value went.
pub(super) enum Stored {
    /// Stored under our own lease: nothing invalidated the key during the load.
    Proven,
    /// Stored without a lease of ours, or not stored (another instance stores): L1 takes the
    /// value only if no invalidation reached this instance meanwhile.
    Unproven,
    /// The lease was gone: the key was invalidated during the load. Nothing is cached.
    Overtaken,
    /// The backend failed (counted); L1 may still take the value, unproven.
    Failed(Error),
}

impl Lease {
    /// Takes the load lease of `key` for a load bounded by `ttl`.
    pub(super) async fn take(core: &Core, key: &Key, ttl: Duration) -> Self {
        let Some(leases) = core.l2.leases() else {
            return Self::Unavailable;
        };
        let token = format!("{:016x}{:016x}", core.bus.instance(), rand::random::<u64>());
        match core.l2.call(leases.acquire_lease(key, &token, ttl)).await {
            Ok(true) => Self::Held(token),
            Ok(false) => Self::HeldElsewhere,
            Err(_) => Self::Unavailable,
        }
    }

    /// Whether we hold it.
    pub(super) fn is_held(&self) -> bool {
        matches!(self, Self::Held(_))
    }

    /// Gives the lease back (best effort: it expires anyway).
    pub(super) async fn release(self, core: &Core, key: &Key) {
        if let (Self::Held(token), Some(leases)) = (self, core.l2.leases()) {
            let _ = core.l2.call(leases.release_lease(key, &token)).await;
        }
    }

    /// Stores `entry` as the lease allows (through it, plainly, or not at all) and releases it.
    pub(super) async fn store<T>(
        self,
        core: &Core,
        kind: &KindState,
        key: &Key,
        entry: &Encoded<T>,
    ) -> Stored {
        let (bytes, ttl) = (entry.bytes.clone(), entry.physical_ttl);
        let stored = match (&self, core.l2.leases()) {
            (Self::HeldElsewhere, _) => return Stored::Unproven,
            (Self::Held(token), Some(leases)) => {
                core.l2
                    .call(leases.set_under_lease(key, token, bytes, ttl))
                    .await
            }
            _ => core
                .l2
                .call(core.l2.backend().set(key, bytes, ttl))
                .await
                .map(|()| true),
        };
        match stored {
            Ok(true) if self.is_held() => Stored::Proven,
            Ok(true) => Stored::Unproven,
            Ok(false) => Stored::Overtaken,
            Err(e) => Stored::Failed(core.l2.failed(&kind.stats, e)),
        }
    }

    /// Polls the backend for the value another instance is loading, up to `bound`; takes the
    /// lease over if the other instance gives it up (or crashed and it expired).
    pub(super) async fn wait_for_other_instance<T: CacheValue>(
        core: &Core,
        kind: &KindState,
        key: &Key,
        bound: Duration,
        ttl: Duration,
    ) -> Waited<T> {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Some(found) = read::fresh_in_l2(core, kind, key).await {
                return Waited::Value(found);
            }
            let lease = Self::take(core, key, ttl).await;
            if lease.is_held() {
                // The holder may have stored and released between our read and our lease.
                if let Some(found) = read::fresh_in_l2(core, kind, key).await {
                    lease.release(core, key).await;
                    return Waited::Value(found);
                }
                return Waited::Lease(lease);
            }
        }
        Waited::Lease(Self::HeldElsewhere)
    }
}

/// What waiting for another instance's load ended with.
pub(super) enum Waited<T> {
    /// Its value arrived.
    Value(Found<T>),
    /// It did not: load here, under this lease.
    Lease(Lease),
}
