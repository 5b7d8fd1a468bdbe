//! `Change`: what one write or invalidation asks of the backend — its steps and the bus
//! messages that announce it — applied in one batch (one round trip on Redis), deferred when
//! the backend cannot be reached. When the backend publishes on the bus's channel the messages
//! travel in the batch; otherwise they go through the bus once the batch has run.

use std::time::Duration;

use strata_backend::Bytes;
use strata_backend::batch::{Batch, Family, FamilyDeleted, Handle, Results};
use strata_invalidation::Invalidation;

use crate::core::Core;
use crate::kinds::KindState;
use crate::l2::L2Error;

/// What to publish through the bus for one step when the backend does not publish.
enum Message {
    /// This invalidation, as it is.
    Fixed(Invalidation),
    /// The keys the family delete covered (the known ones if it failed).
    FamilyKeys(Handle<FamilyDeleted>, Vec<String>),
    /// A kind's new generation, from its bump.
    Kind(Handle<u64>, String),
    /// A tag's new version, from its bump.
    Tag(Handle<u64>, String),
}

/// Steps for the backend and the messages they owe the other instances.
pub(crate) struct Change<'c> {
    core: &'c Core,
    batch: Batch,
    messages: Vec<Message>,
    /// Messages that travel inside the batch.
    in_batch: u64,
}

/// How a change went.
pub(crate) enum Applied {
    /// The backend ran it.
    Done(Results),
    /// The backend could not be reached (this error): the change waits in the deferred queue.
    Deferred(L2Error),
}

impl<'c> Change<'c> {
    pub(crate) fn new(core: &'c Core) -> Self {
        Self {
            core,
            batch: Batch::new(),
            messages: Vec::new(),
            in_batch: 0,
        }
    }

    /// Writes an entry (it drops the key's lease).
    pub(crate) fn write(&mut self, key: &str, value: Bytes, ttl: Duration) -> Handle<bool> {
        self.batch.write(key, value, ttl)
    }

    /// Deletes entries (and their leases); how many existed.
    pub(crate) fn delete(&mut self, keys: Vec<String>) -> Handle<u64> {
        self.batch.delete(keys)
    }

    /// Registers the schema of `kind`, the first time this instance writes it.
    pub(crate) fn register(&mut self, kind: &KindState) {
        if let Some(member) = self.core.to_register(kind) {
            let _ = self.batch.register(kind.registry.clone(), member);
        }
    }

    /// Tells the other instances `invalidation` (through the backend when it publishes).
    pub(crate) fn announce_fixed(&mut self, invalidation: Invalidation) {
        if self.core.bus.publish_into(&mut self.batch, &invalidation) {
            self.in_batch += 1;
        } else {
            self.messages.push(Message::Fixed(invalidation));
        }
    }

    /// Tells the other instances to drop `keys`.
    pub(crate) fn announce_keys(&mut self, keys: Vec<String>) {
        self.announce_fixed(Invalidation::Keys(keys));
    }

    /// Deletes an entity's entries under every member of `family`, and announces them.
    pub(crate) fn delete_family(&mut self, mut family: Family) -> Handle<FamilyDeleted> {
        let announce = self.core.bus.announce(Invalidation::Keys(Vec::new()));
        let known = match announce {
            Some(announce) => {
                family = family.with_announce(announce);
                self.in_batch += 1;
                None
            }
            None => Some(family.known.iter().map(|m| family.key(m)).collect()),
        };
        let handle = self.batch.delete_family(family);
        if let Some(known) = known {
            self.messages.push(Message::FamilyKeys(handle, known));
        }
        handle
    }

    /// Moves the generation counter of `kind` under `key` on (to `at_least` or more), and
    /// announces its new value.
    pub(crate) fn bump_kind(&mut self, kind: &str, key: String, at_least: u64) -> Handle<u64> {
        let template = Invalidation::Kind {
            kind: kind.to_owned(),
            generation: 0,
        };
        let (handle, announced) = self.bump(key, at_least, None, template);
        if !announced {
            self.messages.push(Message::Kind(handle, kind.to_owned()));
        }
        handle
    }

    /// Moves the version counter of `tag` under `key` on, and announces its new value.
    pub(crate) fn bump_tag(
        &mut self,
        tag: &str,
        key: String,
        at_least: u64,
        ttl: Option<Duration>,
    ) -> Handle<u64> {
        let template = Invalidation::Tag {
            tag: tag.to_owned(),
            version: 0,
        };
        let (handle, announced) = self.bump(key, at_least, ttl, template);
        if !announced {
            self.messages.push(Message::Tag(handle, tag.to_owned()));
        }
        handle
    }

    /// A counter bump, announced in the batch when the backend publishes (then true).
    fn bump(
        &mut self,
        key: String,
        at_least: u64,
        ttl: Option<Duration>,
        template: Invalidation,
    ) -> (Handle<u64>, bool) {
        let announce = self.core.bus.announce(template);
        let announced = announce.is_some();
        if announced {
            self.in_batch += 1;
        }
        (self.batch.bump(key, at_least, ttl, announce), announced)
    }

    /// Runs the batch and sends the messages that did not travel in it (those that need the
    /// batch's results only when it succeeded). When the backend cannot be reached (a timeout, a
    /// lost connection, an open circuit), the change waits for a replay instead: its
    /// invalidations (a write's is the delete of its key) and messages go out once the backend
    /// answers again.
    pub(crate) async fn apply(self) -> Result<Applied, L2Error> {
        let core = self.core;
        let replay = crate::deferred::for_replay(self.batch.steps());
        // A change waits for its backend longer than a read does (`change_timeout`): a server
        // that blocks writes for a moment (CLIENT PAUSE WRITE, a failover) delays the change
        // instead of deferring it while other instances keep serving what it replaces.
        let limit = core
            .config
            .change_timeout
            .max(core.config.operation_timeout);
        let run = strata_backend::within_limit(limit, core.l2.run(self.batch));
        let result = match run.await {
            Err(e) if e.is_unreachable() => {
                let flush = || {
                    core.versions.unsync_all();
                    core.local.forget_all();
                };
                if core.deferred.push(replay, flush) {
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
        for message in self.messages {
            let invalidation = match (message, done) {
                (Message::Fixed(inv), _) => inv,
                (Message::FamilyKeys(handle, _), Some(done)) => {
                    Invalidation::Keys(done.get(handle).keys)
                }
                (Message::FamilyKeys(_, known), None) => Invalidation::Keys(known),
                (Message::Kind(handle, kind), Some(done)) => Invalidation::Kind {
                    kind,
                    generation: done.get(handle),
                },
                (Message::Tag(handle, tag), Some(done)) => Invalidation::Tag {
                    tag,
                    version: done.get(handle),
                },
                // A bump that did not happen has nothing to announce.
                _ => continue,
            };
            core.bus.publish(invalidation).await;
        }
        result
    }
}
