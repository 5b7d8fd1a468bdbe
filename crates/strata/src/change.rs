//! `Change`: what one write or invalidation asks of the backends — its steps and the bus
//! messages that announce it — applied in one batch per backend touched (one round trip each
//! on Redis, sent concurrently), deferred when a backend cannot be reached. When the backend publishes on the bus's channel the messages
//! travel in the batch; otherwise they go through the bus once the batch has run.

use std::time::Duration;

use strata_backend::Bytes;
use strata_backend::batch::{Batch, Family, FamilyDeleted, FromDone, Handle, Results};
use strata_invalidation::Invalidation;

use crate::backends::BackendId;
use crate::core::Core;
use crate::kinds::KindState;
use crate::l2::{L2, L2Error};

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

/// Steps for the backends and the messages they owe the other instances: one batch per
/// backend touched.
pub(crate) struct Change<'c> {
    core: &'c Core,
    parts: Vec<Part>,
}

/// The steps of a change bound for one backend.
struct Part {
    backend: BackendId,
    batch: Batch,
    messages: Vec<Message>,
    /// Messages that travel inside the batch.
    in_batch: u64,
}

/// Where a step of a change answers: its backend's batch and the step there.
#[derive(Debug)]
pub(crate) struct Answer<T> {
    part: usize,
    handle: Handle<T>,
}

impl<T> Clone for Answer<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Answer<T> {}

/// What the backends answered for a change (every batch ran).
#[derive(Debug, Default)]
pub(crate) struct Done {
    results: Vec<Results>,
}

impl Done {
    /// The answer of one step.
    pub(crate) fn get<T: FromDone>(&self, answer: Answer<T>) -> T {
        self.results[answer.part].get(answer.handle)
    }
}

/// How a change went.
pub(crate) enum Applied {
    /// The backends ran it.
    Done(Done),
    /// A backend could not be reached (this error): its part of the change waits in its
    /// deferred queue (the parts for the other backends ran).
    Deferred(L2Error),
}

impl<'c> Change<'c> {
    pub(crate) fn new(core: &'c Core) -> Self {
        Self {
            core,
            parts: Vec::with_capacity(1),
        }
    }

    /// The part of the change bound for `backend` (made the first time), and its index.
    fn part(&mut self, backend: BackendId) -> (usize, &mut Part) {
        let i = match self.parts.iter().position(|p| p.backend == backend) {
            Some(i) => i,
            None => {
                self.parts.push(Part {
                    backend,
                    batch: Batch::new(),
                    messages: Vec::new(),
                    in_batch: 0,
                });
                self.parts.len() - 1
            }
        };
        (i, &mut self.parts[i])
    }

    /// `backend`'s L2.
    fn l2(&self, backend: BackendId) -> &L2 {
        self.core.backends.get(backend).l2()
    }

    /// Writes an entry in `on` (it drops the key's lease).
    pub(crate) fn write(
        &mut self,
        on: BackendId,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Answer<bool> {
        let (part, p) = self.part(on);
        let handle = p.batch.write(key, value, ttl);
        Answer { part, handle }
    }

    /// Deletes entries (and their leases) in `on`; how many existed.
    pub(crate) fn delete(&mut self, on: BackendId, keys: Vec<String>) -> Answer<u64> {
        let (part, p) = self.part(on);
        let handle = p.batch.delete(keys);
        Answer { part, handle }
    }

    /// Registers the schema of `kind` in its backend, the first time this instance writes it.
    pub(crate) fn register(&mut self, kind: &KindState) {
        if let Some(member) = self.core.to_register(kind) {
            let (_, p) = self.part(kind.backend);
            let _ = p.batch.register(kind.registry.clone(), member);
        }
    }

    /// Tells the other instances `invalidation`, with the part for `on` (through that backend
    /// when it publishes).
    pub(crate) fn announce_fixed(&mut self, on: BackendId, invalidation: Invalidation) {
        let core = self.core;
        let l2 = core.backends.get(on).l2();
        let (_, p) = self.part(on);
        if core.bus.publish_into(&mut p.batch, l2, &invalidation) {
            p.in_batch += 1;
        } else {
            p.messages.push(Message::Fixed(invalidation));
        }
    }

    /// Tells the other instances to drop `keys` (of backend `on`).
    pub(crate) fn announce_keys(&mut self, on: BackendId, keys: Vec<String>) {
        self.announce_fixed(on, Invalidation::Keys(keys));
    }

    /// Deletes an entity's entries under every member of `family` (in `on`), and announces
    /// them.
    pub(crate) fn delete_family(
        &mut self,
        on: BackendId,
        mut family: Family,
    ) -> Answer<FamilyDeleted> {
        let announce = self
            .core
            .bus
            .announce(self.l2(on), Invalidation::Keys(Vec::new()));
        let (part, p) = self.part(on);
        let known = match announce {
            Some(announce) => {
                family = family.with_announce(announce);
                p.in_batch += 1;
                None
            }
            None => Some(family.known.iter().map(|m| family.key(m)).collect()),
        };
        let handle = p.batch.delete_family(family);
        if let Some(known) = known {
            p.messages.push(Message::FamilyKeys(handle, known));
        }
        Answer { part, handle }
    }

    /// Moves the generation counter of `kind` under `key` (in its backend `on`) on (to
    /// `at_least` or more), and announces its new value.
    pub(crate) fn bump_kind(
        &mut self,
        on: BackendId,
        kind: &str,
        key: String,
        at_least: u64,
    ) -> Answer<u64> {
        let template = Invalidation::Kind {
            kind: kind.to_owned(),
            generation: 0,
        };
        let (answer, announced) = self.bump(on, (key, at_least, None), template);
        if !announced {
            self.parts[answer.part]
                .messages
                .push(Message::Kind(answer.handle, kind.to_owned()));
        }
        answer
    }

    /// Moves the version counter of `tag` under `key` on (in the default backend, where tag
    /// counters live), and announces its new value.
    pub(crate) fn bump_tag(
        &mut self,
        tag: &str,
        key: String,
        at_least: u64,
        ttl: Option<Duration>,
    ) -> Answer<u64> {
        let template = Invalidation::Tag {
            tag: tag.to_owned(),
            version: 0,
        };
        let (answer, announced) = self.bump(BackendId::DEFAULT, (key, at_least, ttl), template);
        if !announced {
            self.parts[answer.part]
                .messages
                .push(Message::Tag(answer.handle, tag.to_owned()));
        }
        answer
    }

    /// A counter bump in `on`, announced in the batch when the backend publishes (then true).
    fn bump(
        &mut self,
        on: BackendId,
        (key, at_least, ttl): (String, u64, Option<Duration>),
        template: Invalidation,
    ) -> (Answer<u64>, bool) {
        let announce = self.core.bus.announce(self.l2(on), template);
        let announced = announce.is_some();
        let (part, p) = self.part(on);
        if announced {
            p.in_batch += 1;
        }
        let handle = p.batch.bump(key, at_least, ttl, announce);
        (Answer { part, handle }, announced)
    }

    /// Runs the batches, one per backend touched, concurrently (one round trip each), and
    /// sends the messages that did not travel in them (those that need a batch's results only
    /// when it succeeded). When a backend cannot be reached (a timeout, a lost connection, an
    /// open circuit), its part waits for a replay instead: its invalidations (a write's is the
    /// delete of its key) and messages go out once that backend answers again.
    pub(crate) async fn apply(self) -> Result<Applied, L2Error> {
        let core = self.core;
        let runs = self.parts.into_iter().map(|p| run_part(core, p));
        let mut done = Done::default();
        let mut outcome: Result<Option<L2Error>, L2Error> = Ok(None);
        for result in futures::future::join_all(runs).await {
            match result {
                Ok(Applied::Done(mut d)) => done.results.append(&mut d.results),
                Ok(Applied::Deferred(e)) => {
                    done.results.push(Results::default());
                    if let Ok(deferred) = &mut outcome {
                        deferred.get_or_insert(e);
                    }
                }
                Err(e) => {
                    done.results.push(Results::default());
                    if outcome.is_ok() {
                        outcome = Err(e);
                    }
                }
            }
        }
        match outcome {
            Ok(None) => Ok(Applied::Done(done)),
            Ok(Some(e)) => Ok(Applied::Deferred(e)),
            Err(e) => Err(e),
        }
    }
}

/// Runs one backend's part of a change and sends its messages; its results as a `Done` of one.
async fn run_part(core: &Core, part: Part) -> Result<Applied, L2Error> {
    let backend = core.backends.get(part.backend);
    let replay = crate::deferred::for_replay(part.batch.steps());
    // A change waits for its backend longer than a read does (`change_timeout`): a server
    // that blocks writes for a moment (CLIENT PAUSE WRITE, a failover) delays the change
    // instead of deferring it while other instances keep serving what it replaces.
    let limit = core.config.change_limit();
    let run = strata_backend::within_limit(limit, backend.l2().run(part.batch));
    let result = match run.await {
        Err(e) if e.is_unreachable() => {
            let flush = || {
                core.versions.unsync_all();
                core.local.forget_all();
            };
            if backend.deferred().push(replay, flush) {
                Ok(Applied::Deferred(e))
            } else {
                Err(e)
            }
        }
        other => other.map(|results| {
            Applied::Done(Done {
                results: vec![results],
            })
        }),
    };
    match &result {
        Ok(Applied::Done(_)) => core.bus.count_published(part.in_batch),
        Ok(Applied::Deferred(_)) | Err(_) => core.bus.count_publish_errors(part.in_batch),
    }
    let done = match &result {
        Ok(Applied::Done(done)) => done.results.first(),
        _ => None,
    };
    for message in part.messages {
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
