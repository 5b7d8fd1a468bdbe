//! `Change`: what one write or invalidation asks of the backend — its steps and the bus
//! messages that announce it — applied in one batch (one round trip on Redis). When the backend
//! publishes on the bus's channel the messages travel in the batch; otherwise they go through
//! the bus once the batch has run.

use std::time::Duration;

use strata_backend::batch::{Done, Family, Step};
use strata_backend::{Bytes, Invalidation};

use crate::core::Core;
use crate::l2::L2Error;

/// What to publish through the bus for one step when the backend does not publish.
enum Message {
    /// This invalidation, as it is.
    Fixed(Invalidation),
    /// The keys the family delete at this step covered (the known ones if it failed).
    FamilyKeys(Vec<String>),
    /// A kind's new generation, from the bump at this step.
    Kind(String),
    /// A tag's new version, from the bump at this step.
    Tag(String),
}

/// Steps for the backend and the messages they owe the other instances.
pub(crate) struct Change<'c> {
    core: &'c Core,
    steps: Vec<Step>,
    /// Per step with a message: (step index, message).
    messages: Vec<(usize, Message)>,
    /// Messages that travel inside the batch.
    in_batch: u64,
    /// Kept for a replay when the backend cannot be reached (an invalidation must arrive
    /// late rather than never); a store of a loaded value is not.
    deferrable: bool,
}

/// How a change went.
pub(crate) enum Applied {
    /// The backend ran it: one result per step.
    Done(Vec<Done>),
    /// The backend could not be reached (this error): the change waits in the deferred queue.
    Deferred(L2Error),
}

impl<'c> Change<'c> {
    pub(crate) fn new(core: &'c Core) -> Self {
        Self {
            core,
            steps: Vec::new(),
            messages: Vec::new(),
            in_batch: 0,
            deferrable: true,
        }
    }

    /// A change that is dropped, not deferred, when the backend cannot be reached (the store
    /// of a loaded value: storing it later could only replace a newer one).
    pub(crate) fn not_deferred(&mut self) -> &mut Self {
        self.deferrable = false;
        self
    }

    /// Writes an entry (it drops the key's lease).
    pub(crate) fn write(&mut self, key: &str, value: Bytes, ttl: Duration) -> &mut Self {
        self.steps.push(Step::Write {
            key: key.to_owned(),
            value,
            ttl,
        });
        self
    }

    /// Writes an entry only while `token` holds its lease.
    pub(crate) fn write_under_lease(
        &mut self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
    ) -> &mut Self {
        self.steps.push(Step::WriteUnderLease {
            key: key.to_owned(),
            token: token.to_owned(),
            value,
            ttl,
        });
        self
    }

    /// Deletes entries (and their leases).
    pub(crate) fn delete(&mut self, keys: Vec<String>) -> &mut Self {
        self.steps.push(Step::Delete { keys });
        self
    }

    /// Adds `member` to a family registry.
    pub(crate) fn register(&mut self, registry: String, member: String) -> &mut Self {
        self.steps.push(Step::Register { registry, member });
        self
    }

    /// Tells the other instances `invalidation` (through the backend when it publishes).
    pub(crate) fn announce_fixed(&mut self, invalidation: Invalidation) -> &mut Self {
        match self.core.bus.publish_step(invalidation.clone()) {
            Some(step) => {
                self.steps.push(step);
                self.in_batch += 1;
            }
            None => self
                .messages
                .push((self.steps.len(), Message::Fixed(invalidation))),
        }
        self
    }

    /// Tells the other instances to drop `keys`.
    pub(crate) fn announce_keys(&mut self, keys: Vec<String>) -> &mut Self {
        self.announce_fixed(Invalidation::Keys(keys))
    }

    /// Deletes an entity's entries under every member of `family`, and announces them.
    pub(crate) fn delete_family(&mut self, mut family: Family) -> &mut Self {
        let at = self.steps.len();
        match self.core.bus.announce(Invalidation::Keys(Vec::new())) {
            Some(announce) => {
                family = family.with_announce(announce);
                self.in_batch += 1;
            }
            None => {
                let known = family.known.iter().map(|m| family.key(m)).collect();
                self.messages.push((at, Message::FamilyKeys(known)));
            }
        }
        self.steps.push(Step::DeleteFamily(family));
        self
    }

    /// Moves the generation counter of `kind` under `key` on (to `at_least` or more), and
    /// announces its new value.
    pub(crate) fn bump_kind(&mut self, kind: &str, key: String, at_least: u64) -> &mut Self {
        let template = Invalidation::Kind {
            kind: kind.to_owned(),
            generation: 0,
        };
        self.bump(
            key,
            at_least,
            None,
            template,
            Message::Kind(kind.to_owned()),
        )
    }

    /// Moves the version counter of `tag` under `key` on, and announces its new value.
    pub(crate) fn bump_tag(
        &mut self,
        tag: &str,
        key: String,
        at_least: u64,
        ttl: Option<Duration>,
    ) -> &mut Self {
        let template = Invalidation::Tag {
            tag: tag.to_owned(),
            version: 0,
        };
        self.bump(key, at_least, ttl, template, Message::Tag(tag.to_owned()))
    }

    fn bump(
        &mut self,
        key: String,
        at_least: u64,
        ttl: Option<Duration>,
        template: Invalidation,
        message: Message,
    ) -> &mut Self {
        let announce = self.core.bus.announce(template);
        match announce {
            Some(_) => self.in_batch += 1,
            None => self.messages.push((self.steps.len(), message)),
        }
        self.steps.push(Step::Bump {
            key,
            at_least,
            ttl,
            announce,
        });
        self
    }

    /// Runs the batch and sends the messages that did not travel in it (those that need the
    /// batch's results only when it succeeded). When the backend cannot be reached (a timeout, a
    /// lost connection, an open circuit), a deferrable change waits for a replay instead: its
    /// invalidations (a write's is the delete of its key) and messages go out once the backend
    /// answers again.
    pub(crate) async fn apply(self) -> Result<Applied, L2Error> {
        let core = self.core;
        let replay = self.deferrable.then(|| for_replay(&self.steps));
        let result = core.l2.call(core.l2.backend().batch(self.steps)).await;
        let result = match result {
            Err(e) if unreachable(&e) && replay.is_some() => {
                let steps = replay.unwrap_or_default();
                let flush = || {
                    core.versions.unsync_all();
                    core.local.forget_all();
                };
                if core.deferred.push(steps, flush) {
                    start_replay(core);
                    Ok(Applied::Deferred(e))
                } else {
                    Err(e)
                }
            }
            other => other.map(Applied::Done),
        };
        match &result {
            Ok(Applied::Done(_)) => core.bus.count_published(self.in_batch),
            Ok(Applied::Deferred(_)) | Err(_) => core.bus.count_publish_errors(self.in_batch),
        }
        let done = match &result {
            Ok(Applied::Done(done)) => Some(done),
            _ => None,
        };
        for (at, message) in self.messages {
            let from_batch = done.and_then(|d| d.get(at));
            let invalidation = match (message, from_batch) {
                (Message::Fixed(inv), _) => inv,
                (Message::FamilyKeys(_), Some(Done::DeletedFamily { keys, .. })) => {
                    Invalidation::Keys(keys.clone())
                }
                (Message::FamilyKeys(known), _) => Invalidation::Keys(known),
                (Message::Kind(kind), Some(Done::Bumped(generation))) => Invalidation::Kind {
                    kind,
                    generation: *generation,
                },
                (Message::Tag(tag), Some(Done::Bumped(version))) => Invalidation::Tag {
                    tag,
                    version: *version,
                },
                // A bump that did not happen has nothing to announce.
                _ => continue,
            };
            core.bus.publish(invalidation).await;
        }
        result
    }
}

/// How long the replay waits between attempts while the backend does not answer.
const RETRY: Duration = Duration::from_millis(250);

/// Starts the task that replays the deferred changes, unless one runs: it waits for the backend
/// to answer, sends the changes in order, and ends when the queue is empty (or the cache is
/// dropped).
fn start_replay(core: &Core) {
    if !core.deferred.claim_replay() {
        return;
    }
    let me = core.me();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(RETRY).await;
            let Some(core) = me.upgrade() else { return };
            if replay(&core).await && !core.deferred.release_replay() {
                return;
            }
        }
    });
}

/// Sends the deferred changes in order; true once the queue is empty, false when the backend
/// failed again (the change stays first in line).
async fn replay(core: &Core) -> bool {
    while let Some(steps) = core.deferred.next() {
        match core.l2.call(core.l2.backend().batch(steps.clone())).await {
            Ok(_) => core.deferred.count_replayed(),
            Err(_) => {
                core.deferred.put_back(steps);
                return false;
            }
        }
    }
    true
}

/// Whether `e` says the backend could not be reached (as opposed to refusing the change).
fn unreachable(e: &L2Error) -> bool {
    match e {
        L2Error::CircuitOpen | L2Error::Skipped => true,
        L2Error::Backend(e) => e.is_transient(),
    }
}

/// What a change replays: its invalidations. A write becomes the delete of its key (writing a
/// value late could replace a newer one); a store under a lease is dropped.
fn for_replay(steps: &[Step]) -> Vec<Step> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Write { key, .. } => Some(Step::Delete {
                keys: vec![key.clone()],
            }),
            Step::WriteUnderLease { .. } => None,
            other => Some(other.clone()),
        })
        .collect()
}
