//! Batches: the operations a cache needs together, sent in one round trip.
//!
//! A miss reads the entry, takes its load lease and reads the version counters it needs in one
//! go; a change deletes entries, moves counters on and publishes its bus messages in one go.
//! [`Backend::batch`](crate::Backend::batch) runs a list of [`Step`]s and answers one [`Done`]
//! per step, in order. Its default runs the steps one by one through the backend's own methods
//! and abilities; a backend with a network between it and its store overrides it (Redis: one
//! pipeline on one server, one pipeline per slot on a cluster, the pipelines concurrently).

use std::time::Duration;

use bytes::Bytes;

use crate::operation::Operation;

mod builder;
mod one_by_one;

pub use builder::{Batch, FamilyDeleted, FromDone, Handle, Read, Results};
pub use one_by_one::run_one_by_one;

/// When a read also takes the key's load lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseWhen {
    /// Only when the entry is absent (a miss that will load).
    Absent,
    /// Whatever the read finds (the caller already knows it will load: a stale value, a
    /// refresh).
    Always,
}

/// The load lease a [`Step::Read`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseRequest {
    /// The caller's token (see [`Leases::acquire_lease`](crate::Leases::acquire_lease)).
    pub token: String,
    /// How long the lease lasts.
    pub ttl: Duration,
    /// When to take it.
    pub when: LeaseWhen,
}

impl LeaseRequest {
    /// A request for the lease under `token` for `ttl`, taken `when` said.
    pub fn new(token: impl Into<String>, ttl: Duration, when: LeaseWhen) -> Self {
        Self {
            token: token.into(),
            ttl,
            when,
        }
    }
}

/// A bus message published as part of a step: `before`, the step's result (a counter's new
/// value, or the JSON array of the keys a family delete covered), then `after`, on `channel`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Announce {
    /// The bus channel.
    pub channel: String,
    /// The message up to the result.
    pub before: Bytes,
    /// The message after the result.
    pub after: Bytes,
}

impl Announce {
    /// A message on `channel` made of `before`, the result, `after`.
    pub fn new(
        channel: impl Into<String>,
        before: impl Into<Bytes>,
        after: impl Into<Bytes>,
    ) -> Self {
        Self {
            channel: channel.into(),
            before: before.into(),
            after: after.into(),
        }
    }

    /// The whole message around `result`.
    pub fn message(&self, result: &[u8]) -> Bytes {
        let mut m = Vec::with_capacity(self.before.len() + result.len() + self.after.len());
        m.extend_from_slice(&self.before);
        m.extend_from_slice(result);
        m.extend_from_slice(&self.after);
        m.into()
    }
}

/// The entries of one entity under every member of a registry: the keys `{before}{m}{after}`
/// for each member `m` of the set `registry` and of `known` (which are registered too).
///
/// The cache uses it for the schema versions of a kind: whichever instance deletes `(kind, id)`
/// reaches the entries every other instance wrote under the schemas it registered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Family {
    /// The set of members.
    pub registry: String,
    /// What each key starts with, up to the member.
    pub before: String,
    /// What each key ends with, after the member.
    pub after: String,
    /// Members the caller knows of (deleted, and added to the registry).
    pub known: Vec<String>,
    /// Publishes the keys covered, as a JSON array between the announce's parts.
    pub announce: Option<Announce>,
}

impl Family {
    /// The family of `{before}{member}{after}` under `registry`, with the members `known`.
    pub fn new(
        registry: impl Into<String>,
        before: impl Into<String>,
        after: impl Into<String>,
        known: Vec<String>,
    ) -> Self {
        Self {
            registry: registry.into(),
            before: before.into(),
            after: after.into(),
            known,
            announce: None,
        }
    }

    /// Publishes the covered keys as `announce` says.
    pub fn with_announce(mut self, announce: Announce) -> Self {
        self.announce = Some(announce);
        self
    }

    /// The key of `member`.
    pub fn key(&self, member: &str) -> String {
        format!("{}{member}{}", self.before, self.after)
    }
}

/// One operation of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Reads `key`; with `lease`, also takes its load lease, atomically with the read.
    Read {
        /// The entry.
        key: String,
        /// The lease to take with it.
        lease: Option<LeaseRequest>,
    },
    /// Writes an entry and drops its lease ([`Backend::set`](crate::Backend::set)).
    Write {
        /// The entry.
        key: String,
        /// Its bytes.
        value: Bytes,
        /// Its TTL.
        ttl: Duration,
    },
    /// Writes an entry only while `token` holds its lease
    /// ([`Leases::set_under_lease`](crate::Leases::set_under_lease)).
    WriteUnderLease {
        /// The entry.
        key: String,
        /// The lease token.
        token: String,
        /// Its bytes.
        value: Bytes,
        /// Its TTL.
        ttl: Duration,
    },
    /// Deletes entries and their leases ([`Backend::delete_many`](crate::Backend::delete_many)).
    Delete {
        /// The entries.
        keys: Vec<String>,
    },
    /// Deletes the entries of a [`Family`] (and their leases).
    DeleteFamily(Family),
    /// Adds `member` to the set `registry` (see [`Family`]).
    Register {
        /// The set.
        registry: String,
        /// The member.
        member: String,
    },
    /// Reads version counters ([`VersionCounters::versions`](crate::VersionCounters::versions)).
    Versions {
        /// The counters.
        keys: Vec<String>,
        /// The value of a new counter.
        init: u64,
        /// The TTL of a new counter.
        ttl: Option<Duration>,
    },
    /// Moves a version counter on
    /// ([`VersionCounters::bump_version`](crate::VersionCounters::bump_version)), publishing
    /// its new value when `announce` is set.
    Bump {
        /// The counter.
        key: String,
        /// Its new value is at least this.
        at_least: u64,
        /// Its TTL.
        ttl: Option<Duration>,
        /// The bus message with the new value.
        announce: Option<Announce>,
    },
    /// Publishes `message` on `channel` (needs the [`Publisher`](crate::Publisher) ability).
    Publish {
        /// The channel.
        channel: String,
        /// The message.
        message: Bytes,
    },
}

impl Step {
    /// The operations this step performs (a read with a lease: a get and a lease).
    pub fn operations(&self) -> &'static [Operation] {
        match self {
            Step::Read { lease: None, .. } => &[Operation::Get],
            Step::Read { lease: Some(_), .. } => &[Operation::Get, Operation::AcquireLease],
            Step::Write { .. } => &[Operation::Set],
            Step::Register { .. } => &[Operation::Register],
            Step::WriteUnderLease { .. } => &[Operation::SetUnderLease],
            Step::Delete { .. } | Step::DeleteFamily(_) => &[Operation::DeleteMany],
            Step::Versions { .. } => &[Operation::Versions],
            Step::Bump { .. } => &[Operation::BumpVersion],
            Step::Publish { .. } => &[Operation::Publish],
        }
    }
}

/// What a lease request ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseOutcome {
    /// No lease was asked for, or the entry was there (with [`LeaseWhen::Absent`]).
    NotTaken,
    /// The caller holds it now.
    Taken,
    /// Someone else holds it.
    HeldElsewhere,
    /// The backend has no leases.
    Unavailable,
}

/// The result of one [`Step`], in the step's order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Done {
    /// A [`Step::Read`]: the bytes (if any) and the lease.
    Read {
        /// The entry's bytes.
        value: Option<Bytes>,
        /// The lease.
        lease: LeaseOutcome,
    },
    /// A write: whether it was stored (a write under a lease no longer held is not).
    Written(bool),
    /// A [`Step::Delete`]: how many of the entries existed.
    Deleted(u64),
    /// A [`Step::DeleteFamily`]: how many entries existed, and every key it covered.
    DeletedFamily {
        /// Entries that existed.
        deleted: u64,
        /// Every key of the family (existing or not).
        keys: Vec<String>,
    },
    /// A [`Step::Register`].
    Registered,
    /// A [`Step::Versions`]: the counters' values.
    Versions(Vec<u64>),
    /// A [`Step::Bump`]: the counter's new value.
    Bumped(u64),
    /// A [`Step::Publish`].
    Published,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_on_set_is_not_a_fault_on_schema_registration() {
        let write = Step::Write {
            key: "p:k".into(),
            value: Bytes::from_static(b"v"),
            ttl: Duration::from_secs(1),
        };
        let register = Step::Register {
            registry: "p:#schemas:k".into(),
            member: "1".into(),
        };
        assert_eq!(write.operations(), &[Operation::Set]);
        assert_eq!(register.operations(), &[Operation::Register]);
        let read = Step::Read {
            key: "p:k".into(),
            lease: Some(LeaseRequest::new(
                "t",
                Duration::from_secs(1),
                LeaseWhen::Absent,
            )),
        };
        assert_eq!(
            read.operations(),
            &[Operation::Get, Operation::AcquireLease]
        );
    }
}
