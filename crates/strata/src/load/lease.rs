//! The load lease a flight's leader holds in the backend (stale-set protection, cross-process
//! single flight), or why it holds none.

use std::time::Duration;

use strata_backend::batch::{Batch, Handle, LeaseOutcome, Results};
use strata_keys::Key;
use tokio::time::Instant;

use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::entry::Found;
use crate::kinds::KindState;
use crate::l2::L2;
use crate::l2_read::{self, ReadFor, Wanted, lease_request};
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
    /// Stored without a lease of ours: L1 takes the value only if no invalidation reached this
    /// instance meanwhile.
    Unproven,
    /// Not stored: another instance holds the lease and stores its own load. The value is in
    /// no backend, so L1 takes it only where a change of an absent key still reaches it (see
    /// [`CoherenceMode::hears_absent_keys`](crate::CoherenceMode::hears_absent_keys)), and
    /// only unproven.
    Elsewhere,
    /// The lease was gone: the key was invalidated during the load. Nothing is cached.
    Overtaken,
    /// The backend failed (counted); L1 may still take the value as after
    /// [`Elsewhere`](Self::Elsewhere).
    Failed,
}

impl Lease {
    /// A fresh token: this instance's id and a random part.
    pub(super) fn token(core: &Core) -> String {
        format!("{:016x}{:016x}", core.bus.instance(), rand::random::<u64>())
    }

    /// The lease a batch read answered (under `token`); `None` when it took none because the
    /// entry was there.
    pub(super) fn from_outcome(outcome: LeaseOutcome, token: String) -> Option<Self> {
        match outcome {
            LeaseOutcome::Taken => Some(Self::Held(token)),
            LeaseOutcome::HeldElsewhere => Some(Self::HeldElsewhere),
            LeaseOutcome::NotTaken => None,
            _ => Some(Self::Unavailable),
        }
    }

    /// Takes the load lease of `key` for a load bounded by `ttl`.
    pub(super) async fn take(core: &Core, kind: &KindState, key: &Key, ttl: Duration) -> Self {
        let token = Self::token(core);
        match kind.l2.acquire_lease(key, &token, ttl).await {
            Some(Ok(true)) => Self::Held(token),
            Some(Ok(false)) => Self::HeldElsewhere,
            Some(Err(_)) | None => Self::Unavailable,
        }
    }

    /// Whether we hold it.
    pub(super) fn is_held(&self) -> bool {
        matches!(self, Self::Held(_))
    }

    /// Gives the lease back to `l2` (the key's kind's backend; best effort: it expires anyway).
    pub(super) async fn release(self, l2: &L2, key: &Key) {
        if let Self::Held(token) = self {
            l2.release_lease(key, &token).await;
        }
    }

    /// Stores `entry` as the lease allows (through it, plainly, or not at all) and releases
    /// it, in one write; the first write of the kind's schema registers it in the same batch.
    /// Never deferred: storing it later could only replace a newer value.
    pub(super) async fn store<T>(
        self,
        core: &Core,
        kind: &KindState,
        key: &Key,
        entry: &Encoded<T>,
    ) -> Stored {
        let mut batch = Batch::new();
        let written = self.plan_store(core, kind, key, entry, &mut batch);
        if batch.is_empty() {
            return self.stored(written, None);
        }
        match kind.l2.run(batch).await {
            Ok(done) => self.stored(written, Some(&done)),
            Err(e) => {
                let _ = kind.l2.failed(&kind.stats, e);
                Stored::Failed
            }
        }
    }

    /// Adds the store of `entry` as the lease allows to `batch` (nothing when another instance
    /// holds it), with the kind's schema registration when due; the write's handle.
    pub(super) fn plan_store<T>(
        &self,
        core: &Core,
        kind: &KindState,
        key: &Key,
        entry: &Encoded<T>,
        batch: &mut Batch,
    ) -> Option<Handle<bool>> {
        let (bytes, ttl) = (entry.bytes.clone(), entry.physical_ttl);
        let written = match self {
            Self::HeldElsewhere => return None,
            Self::Held(token) => batch.write_under_lease(key.as_str(), token.as_str(), bytes, ttl),
            Self::Unavailable => batch.write(key.as_str(), bytes, ttl),
        };
        if let Some(member) = core.to_register(kind) {
            let _ = batch.register(kind.registry.clone(), member);
        }
        Some(written)
    }

    /// How the store planned as `written` went, given the batch's results (`None`: it failed,
    /// counted where it ran).
    pub(super) fn stored(self, written: Option<Handle<bool>>, done: Option<&Results>) -> Stored {
        let Some(written) = written else {
            return Stored::Elsewhere;
        };
        match (done.map(|d| d.get(written)), self.is_held()) {
            (None, _) => Stored::Failed,
            (Some(true), true) => Stored::Proven,
            (Some(false), _) => Stored::Overtaken,
            (Some(true), false) => Stored::Unproven,
        }
    }

    /// Polls the backend for the value another instance is loading, up to `bound` (one round
    /// trip a poll: the read takes the lease once the entry is absent and the lease free);
    /// takes the lease over if the other instance gives it up (or crashed and it expired).
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
            let token = Self::token(core);
            let wanted = Wanted {
                lease: Some(lease_request(token.clone(), ttl, false)),
                ..Wanted::key(key)
            };
            let read = l2_read::read::<T>(core, kind, wanted, &[], ReadFor::Wait).await;
            let read = match read {
                Ok(read) if read.reached => read,
                _ => return Waited::Lease(Self::Unavailable),
            };
            let lease = read.lease;
            if let Some(found) = read.into_fresh() {
                return Waited::Value(found);
            }
            if lease == LeaseOutcome::Taken {
                return Waited::Lease(Self::Held(token));
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
