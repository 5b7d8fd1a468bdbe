//! Coalesced reads: single-key reads issued together go out as one `MGET` (one per slot on a
//! cluster), as fred's and rueidis's auto-pipelining do.
//!
//! Adaptive: a read issued while no other read is in flight, after a run of [`ALONE`] such
//! reads, is not coalesced (the caller sends it at once: a lone caller pays no yield). Any
//! other read joins the batch being gathered, or starts one: it yields once, so that the reads
//! of the same tick join it, then sends them itself. Batches do not wait for each other (the
//! multiplexed connection pipelines them), and a read never joins a batch already sent: what
//! it answers was read after the read was issued.
//!
//! Each read waits at most its own limit, counted from the moment its batch began gathering
//! (read once per batch: a read joins within the tick the batch began in, so it is timed out
//! at most that tick early, never late): a batch is timed once, to the earliest deadline of
//! its reads, and again to the next one when that passes (the reads past their deadline are
//! answered with a timeout, the others go on waiting).
//!
//! A read costs no allocation of its own beyond its reply channel: the keys of a batch are
//! appended to one text buffer, and a batch's buffers are kept for the next one.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use redis::Value;
use strata_backend::{BackendError, BackendResult, ErrorKind};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::errors::map_err;
use crate::scripts::Call;
use crate::topology::Topology;

/// Reads per `MGET`, the backend's batch size (a larger queue is split, the parts sent in the
/// same round trip).
const MAX_KEYS: usize = 1000;

/// Reads in a row issued with no other read in flight after which such a read is sent alone,
/// at once. A fresh backend (and one that saw reads overlap since) coalesces: the reads one
/// task issues together from a quiet start still share one `MGET`.
pub(crate) const ALONE: u32 = 16;

/// A batch's buffers kept for the next batch when they are no larger than this many reads.
const KEEP_READS: usize = 4 * MAX_KEYS;

/// The queue of reads of one backend's connection and the task that sends it.
pub(crate) struct Coalescer {
    topology: Arc<dyn Topology>,
    queue: Mutex<Queue>,
    /// The buffers of a batch sent, emptied, for the next one to gather into.
    spare: Mutex<Option<Reads>>,
    /// Batches gathering or sent and not answered yet, and reads sent alone not answered yet:
    /// a read joins a batch while it is not zero. Written once per batch (and per read sent
    /// alone), not per read joining a batch.
    busy: AtomicUsize,
    /// Reads in a row issued with no other read in flight (up to [`ALONE`]).
    alone: AtomicU32,
}

#[derive(Default)]
struct Queue {
    waiting: Reads,
    /// When the batch being gathered began (`None`: no batch is gathering).
    gathering: Option<Instant>,
}

/// Reads waiting for their batch: the keys (physical names, one after the other in `text`,
/// read `i` ending at `ends[i]`) and, in the same order, who waits for them (apart, so that a
/// batch being sent borrows its keys while it answers).
#[derive(Default)]
struct Reads {
    text: String,
    ends: Vec<usize>,
    waiters: Vec<Waiter>,
}

impl Reads {
    fn push(&mut self, key: &str, waiter: Waiter) {
        self.text.push_str(key);
        self.ends.push(self.text.len());
        self.waiters.push(waiter);
    }

    /// Whether some caller still waits.
    fn any_waiting(&self) -> bool {
        self.waiters.iter().any(Waiter::waits)
    }

    /// Emptied, its buffers kept (unless they grew large).
    fn recycled(mut self) -> Option<Self> {
        if self.ends.capacity() > KEEP_READS {
            return None;
        }
        self.text.clear();
        self.ends.clear();
        self.waiters.clear();
        Some(self)
    }
}

/// One read waiting for its batch.
struct Waiter {
    /// When its caller stops waiting.
    deadline: Instant,
    /// How long its caller waits (for the timeout's message).
    limit: Duration,
    /// `None` once answered.
    reply: Option<oneshot::Sender<BackendResult<Value>>>,
}

impl Waiter {
    fn answer(&mut self, value: BackendResult<Value>) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(value);
        }
    }

    fn waits(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| !r.is_closed())
    }
}

/// A read in flight (see [`Coalescer::enter`]); a read sent alone is counted until dropped.
pub(crate) struct Reading<'a> {
    coalescer: &'a Coalescer,
    joins: bool,
}

impl Reading<'_> {
    /// Whether the read joins a batch (else its caller sends it alone).
    pub(crate) fn joins(&self) -> bool {
        self.joins
    }
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        if !self.joins {
            self.coalescer.finished();
        }
    }
}

impl Coalescer {
    pub(crate) fn new(topology: Arc<dyn Topology>) -> Arc<Self> {
        Arc::new(Self {
            topology,
            queue: Mutex::default(),
            spare: Mutex::default(),
            busy: AtomicUsize::new(0),
            alone: AtomicU32::new(0),
        })
    }

    /// Decides whether a read joins a batch: yes while other reads are in flight (a batch
    /// gathering or sent, or a read sent alone), or until [`ALONE`] reads in a row were issued
    /// alone; a read sent alone is counted in flight. A read joining a batch writes nothing
    /// here (its batch is counted once).
    pub(crate) fn enter(&self) -> Reading<'_> {
        let joins = if self.busy.load(Ordering::Acquire) > 0 {
            if self.alone.load(Ordering::Relaxed) != 0 {
                self.alone.store(0, Ordering::Relaxed);
            }
            true
        } else {
            let n = self.alone.load(Ordering::Relaxed);
            if n < ALONE {
                self.alone.store(n + 1, Ordering::Relaxed);
            } else {
                self.busy.fetch_add(1, Ordering::AcqRel);
            }
            n < ALONE
        };
        Reading {
            coalescer: self,
            joins,
        }
    }

    /// A batch answered (or given up), or a read sent alone answered.
    fn finished(&self) {
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }

    /// Reads the physical key `key` in the next batch; its reply (bulk bytes or nil), or the
    /// error of its batch. `limit` is how long the caller waits.
    ///
    /// A read that finds no batch gathering starts one: it yields once, so that the reads of
    /// the same tick join it, then sends them (no hand-over to another task). Batches do not
    /// wait for each other: the connection pipelines them.
    pub(crate) async fn get(self: &Arc<Self>, key: &str, limit: Duration) -> BackendResult<Value> {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut q = self.queue.lock();
            let (began, lead) = match q.gathering {
                Some(began) => (began, false),
                None => {
                    // The batch is in flight until answered (see `Leading`).
                    self.busy.fetch_add(1, Ordering::AcqRel);
                    (*q.gathering.insert(Instant::now()), true)
                }
            };
            let waiter = Waiter {
                deadline: began + limit,
                limit,
                reply: Some(reply),
            };
            q.waiting.push(key, waiter);
            lead
        };
        if lead {
            let mut leading = Leading {
                coalescer: self,
                batch: None,
            };
            tokio::task::yield_now().await;
            let batch = leading.batch.insert(self.take_queue());
            self.send(batch).await;
            // Answered: its buffers go to a later batch (the leader leaves an empty one, and
            // counts the batch finished).
            self.recycle(std::mem::take(batch));
        }
        answer.await.unwrap_or_else(|_| {
            Err(BackendError::new(
                ErrorKind::Connection,
                "redis GET: its batch was dropped (the runtime is shutting down)",
            ))
        })
    }

    /// The reads gathered; the next read starts a new batch (in the buffers of an earlier one).
    fn take_queue(&self) -> Reads {
        let fresh = self.spare.lock().take().unwrap_or_default();
        let mut q = self.queue.lock();
        q.gathering = None;
        std::mem::replace(&mut q.waiting, fresh)
    }

    /// Keeps the buffers of a batch answered for a later one.
    fn recycle(&self, batch: Reads) {
        if let Some(empty) = batch.recycled() {
            *self.spare.lock() = Some(empty);
        }
    }

    /// Sends one batch and answers each of its reads. Dropped before the answer, it leaves
    /// the reads of `batch` not yet answered in it (to be sent again).
    async fn send(&self, batch: &mut Reads) {
        // A batch whose callers all gave up, or are all past their deadline, is not sent (the
        // keys of those who gave up in a batch sent are read, their replies dropped).
        let now = Instant::now();
        expire(&mut batch.waiters, now);
        if !batch.any_waiting() {
            return;
        }
        let keys = keys_in(&batch.text, &batch.ends);
        let waiters = &mut batch.waiters;
        let groups: Vec<Vec<usize>> = self
            .topology
            .same_slot(&keys)
            .into_iter()
            .flat_map(|g| {
                g.chunks(MAX_KEYS)
                    .map(<[usize]>::to_vec)
                    .collect::<Vec<_>>()
            })
            .collect();
        let calls: Vec<Call<'_>> = groups.iter().map(|g| read_call(&keys, g)).collect();
        let generation = self.topology.generation();
        let refs: Vec<&Call<'_>> = calls.iter().collect();
        let sent = {
            let mut sending = pin!(self.topology.send(&refs));
            loop {
                let waiting = waiters.iter().filter(|w| w.waits());
                let Some(deadline) = waiting.map(|w| w.deadline).min() else {
                    break None;
                };
                match tokio::time::timeout_at(deadline, &mut sending).await {
                    Ok(replies) => break Some(replies),
                    Err(_) => expire(waiters, Instant::now()),
                }
            }
        };
        // No await from here on: every read of the batch is answered (and so not sent again).
        match sent {
            Some(Ok(replies)) => {
                for (group, reply) in groups.iter().zip(replies) {
                    for (i, value) in split(group.len(), reply).into_iter().enumerate() {
                        waiters[group[i]].answer(value);
                    }
                }
            }
            Some(Err(e)) => {
                let e = map_err("GET", e);
                waiters.iter_mut().for_each(|w| w.answer(Err(copy(&e))));
            }
            None => {
                // Every reader gave up; the connection is busy with the late reply: replace
                // it (see `RedisBackend::run`).
                self.topology.discard(generation);
            }
        }
    }
}

/// A read that gathers a batch and sends it; dropped, it counts the batch finished. Dropped
/// before it sent the batch (its caller gave up), it hands the other reads over to a task that
/// sends them (and counts the batch finished).
struct Leading<'a> {
    coalescer: &'a Arc<Coalescer>,
    /// The batch, once gathered.
    batch: Option<Reads>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        let mut unsent = match self.batch.take() {
            Some(batch) => batch,
            None => self.coalescer.take_queue(),
        };
        if !unsent.any_waiting() {
            self.coalescer.finished();
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let coalescer = self.coalescer.clone();
                runtime.spawn(async move {
                    let finished = Finished(&coalescer);
                    finished.0.send(&mut unsent).await;
                });
            }
            Err(_) => self.coalescer.finished(),
        }
    }
}

/// Counts a batch finished when dropped (sent, or given up).
struct Finished<'a>(&'a Coalescer);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.finished();
    }
}

/// The keys of a batch, in order: `text` cut at `ends`.
fn keys_in<'a>(text: &'a str, ends: &[usize]) -> Vec<&'a str> {
    let mut start = 0;
    ends.iter()
        .map(|&end| {
            let key = &text[start..end];
            start = end;
            key
        })
        .collect()
}

/// Answers the reads past their deadline at `now` with a timeout.
fn expire(waiters: &mut [Waiter], now: Instant) {
    for w in waiters
        .iter_mut()
        .filter(|w| w.waits() && w.deadline <= now)
    {
        let e = BackendError::timeout("redis GET (coalesced)", w.limit);
        w.answer(Err(e));
    }
}

/// `GET` of one key, `MGET` of several (one slot).
fn read_call<'a>(keys: &[&'a str], group: &[usize]) -> Call<'a> {
    let name = if group.len() == 1 { "GET" } else { "MGET" };
    let mut cmd = redis::cmd(name);
    for i in group {
        cmd.arg(keys[*i]);
    }
    Call::cmd(keys[group[0]], cmd)
}

/// The reply to a read call of `n` keys, one per key: an `MGET` array split, a server error
/// copied to each.
fn split(n: usize, reply: Value) -> Vec<BackendResult<Value>> {
    match reply {
        Value::Array(values) if n > 1 && values.len() == n => values.into_iter().map(Ok).collect(),
        Value::ServerError(e) => {
            let e = map_err("GET", e.into());
            (0..n).map(|_| Err(copy(&e))).collect()
        }
        other if n == 1 => vec![Ok(other)],
        other => {
            let e = BackendError::new(
                ErrorKind::Server,
                format!("unexpected reply to an MGET of {n} keys: {other:?}"),
            );
            (0..n).map(|_| Err(copy(&e))).collect()
        }
    }
}

/// The batch's error for one of its reads: each gets one of its own, its cause in the text.
fn copy(e: &BackendError) -> BackendError {
    match std::error::Error::source(e) {
        Some(cause) => BackendError::new(e.kind(), format!("{}: {cause}", e.message())),
        None => BackendError::new(e.kind(), e.message().to_owned()),
    }
}
