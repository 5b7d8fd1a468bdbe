//! The typed face of a batch: a [`Batch`] whose methods each add one step and answer a
//! [`Handle`] to that step's result, and the [`Results`] a backend answers, from which each
//! handle reads its own, typed. No result is read by its position.

use std::marker::PhantomData;
use std::time::Duration;

use bytes::Bytes;

use super::{Announce, Done, Family, LeaseOutcome, LeaseRequest, Step};
use crate::error::{BackendError, BackendResult, ErrorKind};

/// Operations to send together, in order (one round trip on a networked backend). Built with
/// one method per step; each answers a [`Handle`] to read the step's result from the
/// [`Results`] with [`Results::get`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use strata_backend::batch::Batch;
/// use strata_backend::{Backend, MemoryBackend, MemoryConfig};
///
/// let backend = MemoryBackend::new(MemoryConfig::default().with_namespace("shop:")).unwrap();
/// let mut batch = Batch::new();
/// let written = batch.write("shop:a", "1".into(), Duration::from_secs(60));
/// let read = batch.read("shop:a", None);
/// let done = backend.run(batch).await.unwrap();
/// assert!(done.get(written));
/// assert_eq!(done.get(read).value.as_deref(), Some(&b"1"[..]));
/// # });
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    steps: Vec<Step>,
}

/// Where one step's result will be in the [`Results`] of its batch, and of which type.
#[derive(Debug)]
#[must_use = "a handle is how the step's result is read"]
pub struct Handle<T> {
    at: usize,
    of: PhantomData<fn() -> T>,
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Handle<T> {}

/// What a [`Batch::read`] found: the entry's bytes and what became of its lease request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Read {
    /// The entry's bytes, `None` when absent or expired.
    pub value: Option<Bytes>,
    /// The lease (`NotTaken` when none was asked for, or the entry was there and the request
    /// said [`LeaseWhen::Absent`](super::LeaseWhen::Absent)).
    pub lease: LeaseOutcome,
}

/// What a [`Batch::delete_family`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FamilyDeleted {
    /// Entries that existed.
    pub deleted: u64,
    /// Every key of the family, existing or not.
    pub keys: Vec<String>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the batch has no step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The steps, in order, for a backend to run.
    pub fn into_steps(self) -> Vec<Step> {
        self.steps
    }

    /// A batch of these steps (a replay of steps kept from an earlier batch); their results are
    /// only read through handles of the batch that built them.
    pub fn from_steps(steps: Vec<Step>) -> Self {
        Self { steps }
    }

    fn push<T>(&mut self, step: Step) -> Handle<T> {
        self.steps.push(step);
        Handle {
            at: self.steps.len() - 1,
            of: PhantomData,
        }
    }

    /// Reads `key`; with `lease`, also takes its load lease, atomically with the read.
    pub fn read(&mut self, key: impl Into<String>, lease: Option<LeaseRequest>) -> Handle<Read> {
        let key = key.into();
        self.push(Step::Read { key, lease })
    }

    /// Writes an entry and drops its lease; the result is always `true`.
    pub fn write(&mut self, key: impl Into<String>, value: Bytes, ttl: Duration) -> Handle<bool> {
        let key = key.into();
        self.push(Step::Write { key, value, ttl })
    }

    /// Writes an entry only while `token` holds its lease; `true` if stored.
    pub fn write_under_lease(
        &mut self,
        key: impl Into<String>,
        token: impl Into<String>,
        value: Bytes,
        ttl: Duration,
    ) -> Handle<bool> {
        let (key, token) = (key.into(), token.into());
        self.push(Step::WriteUnderLease {
            key,
            token,
            value,
            ttl,
        })
    }

    /// Deletes entries and their leases; how many existed.
    pub fn delete(&mut self, keys: Vec<String>) -> Handle<u64> {
        self.push(Step::Delete { keys })
    }

    /// Deletes the entries of `family` (and their leases).
    pub fn delete_family(&mut self, family: Family) -> Handle<FamilyDeleted> {
        self.push(Step::DeleteFamily(family))
    }

    /// Adds `member` to the set `registry` (see [`Family`]).
    pub fn register(&mut self, registry: String, member: String) -> Handle<()> {
        self.push(Step::Register { registry, member })
    }

    /// Reads version counters, creating missing ones with `init` and `ttl`; their values, in
    /// order.
    pub fn versions(
        &mut self,
        keys: Vec<String>,
        init: u64,
        ttl: Option<Duration>,
    ) -> Handle<Vec<u64>> {
        self.push(Step::Versions { keys, init, ttl })
    }

    /// Moves a version counter on to at least `at_least`, publishing its new value when
    /// `announce` is set; the new value.
    pub fn bump(
        &mut self,
        key: String,
        at_least: u64,
        ttl: Option<Duration>,
        announce: Option<Announce>,
    ) -> Handle<u64> {
        self.push(Step::Bump {
            key,
            at_least,
            ttl,
            announce,
        })
    }

    /// Publishes `message` on `channel` (needs the publish capability).
    pub fn publish(&mut self, channel: String, message: Bytes) -> Handle<()> {
        self.push(Step::Publish { channel, message })
    }
}

/// The results of a batch, one per step; each read with the [`Handle`] its step answered.
#[derive(Debug, Default)]
pub struct Results {
    done: Vec<Done>,
}

impl Results {
    /// The results `done` a backend answered for a batch of `steps` steps; an error when
    /// their number is not that of the steps.
    pub fn checked(steps: usize, done: Vec<Done>) -> BackendResult<Self> {
        if done.len() != steps {
            return Err(BackendError::new(
                ErrorKind::Server,
                format!(
                    "the backend answered {} results for a batch of {steps} steps",
                    done.len()
                ),
            ));
        }
        Ok(Self { done })
    }

    /// The result of the step behind `handle` (a copy: a result can be read more than once). A
    /// handle of another batch, or a result of another shape (a backend that breaks the batch contract, which the
    /// conformance suite checks) answers the type's empty value: no bytes and no lease, nothing
    /// written, zero.
    pub fn get<T: FromDone>(&self, handle: Handle<T>) -> T {
        self.done
            .get(handle.at)
            .and_then(T::from_done)
            .unwrap_or_else(T::empty)
    }
}

/// A step's result type, read out of its [`Done`].
pub trait FromDone: Sized {
    /// The value, if `done` is of this type.
    fn from_done(done: &Done) -> Option<Self>;
    /// The value of a result that is not there.
    fn empty() -> Self;
}

impl FromDone for Read {
    fn from_done(done: &Done) -> Option<Self> {
        match done {
            Done::Read { value, lease } => Some(Self {
                value: value.clone(),
                lease: *lease,
            }),
            _ => None,
        }
    }
    fn empty() -> Self {
        Self {
            value: None,
            lease: LeaseOutcome::Unavailable,
        }
    }
}

impl FromDone for bool {
    fn from_done(done: &Done) -> Option<Self> {
        match done {
            Done::Written(w) => Some(*w),
            _ => None,
        }
    }
    fn empty() -> Self {
        false
    }
}

impl FromDone for u64 {
    fn from_done(done: &Done) -> Option<Self> {
        match done {
            Done::Deleted(n) | Done::Bumped(n) => Some(*n),
            _ => None,
        }
    }
    fn empty() -> Self {
        0
    }
}

impl FromDone for FamilyDeleted {
    fn from_done(done: &Done) -> Option<Self> {
        match done {
            Done::DeletedFamily { deleted, keys } => Some(Self {
                deleted: *deleted,
                keys: keys.clone(),
            }),
            _ => None,
        }
    }
    fn empty() -> Self {
        Self::default()
    }
}

impl FromDone for () {
    fn from_done(done: &Done) -> Option<Self> {
        matches!(done, Done::Registered | Done::Published).then_some(())
    }
    fn empty() -> Self {}
}

impl FromDone for Vec<u64> {
    fn from_done(done: &Done) -> Option<Self> {
        match done {
            Done::Versions(v) => Some(v.clone()),
            _ => None,
        }
    }
    fn empty() -> Self {
        Vec::new()
    }
}
