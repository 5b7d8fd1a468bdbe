//! Coalesced reads: single-key reads issued while the connection is busy with a batch go out
//! together as one `MGET` (one per slot on a cluster), as fred's and rueidis's auto-pipelining
//! do.
//!
//! A read joins the queue; if no batch is being sent, it starts a task that sends the queue
//! (the reads of the current tick: the task runs once the callers yield) and, while reads keep
//! arriving during a round trip, the next queue after it. One batch is in flight at a time, so
//! under concurrency the reads that arrive during a round trip share the next one, and a lone
//! read pays only the hand-over to the task. A read never joins a batch already sent: what it
//! answers was read after the read was issued.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redis::Value;
use strata_backend::{BackendError, BackendResult, ErrorKind};
use tokio::sync::oneshot;

use crate::errors::map_err;
use crate::scripts::Call;
use crate::topology::Topology;

/// Reads per `MGET`, the backend's batch size (a larger queue is split, the parts sent in the
/// same round trip).
const MAX_KEYS: usize = 1000;

/// The queue of reads of one backend's connection and the task that sends it.
pub(crate) struct Coalescer {
    topology: Arc<dyn Topology>,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiter>,
    /// A task is sending the queue.
    sending: bool,
}

/// One read waiting for its batch.
struct Waiter {
    /// The entry's physical name.
    key: String,
    /// How long its caller waits (the batch waits as long as the most patient of its reads).
    limit: Duration,
    reply: oneshot::Sender<BackendResult<Value>>,
}

impl Coalescer {
    pub(crate) fn new(topology: Arc<dyn Topology>) -> Arc<Self> {
        Arc::new(Self {
            topology,
            queue: Mutex::default(),
        })
    }

    /// Reads the physical key `key` in the next batch; its reply (bulk bytes or nil), or the
    /// error of its batch. `limit` is how long the caller waits (its own timeout bounds it).
    ///
    /// A read that finds no batch on its way sends the next one itself, after letting the
    /// reads of the same tick join it (a yield: a lone read pays no hand-over to another
    /// task); the reads issued during that batch's round trip are sent by a task.
    pub(crate) async fn get(
        self: &Arc<Self>,
        key: String,
        limit: Duration,
    ) -> BackendResult<Value> {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut q = self.queue.lock();
            q.waiting.push(Waiter { key, limit, reply });
            !std::mem::replace(&mut q.sending, true)
        };
        if lead {
            let mut leading = Leading {
                coalescer: self,
                batch: Vec::new(),
            };
            tokio::task::yield_now().await;
            leading.batch = std::mem::take(&mut self.queue.lock().waiting);
            self.send(&mut leading.batch).await;
        }
        answer.await.unwrap_or_else(|_| {
            Err(BackendError::new(
                ErrorKind::Connection,
                "redis GET: its batch was dropped (the runtime is shutting down)",
            ))
        })
    }

    /// Hands the reads queued (and `unsent`, those of a batch whose sender was dropped) over to
    /// a sending task, or marks the connection idle when there are none.
    fn hand_over(self: &Arc<Self>, unsent: Vec<Waiter>) {
        let mut q = self.queue.lock();
        if !unsent.is_empty() {
            let queued = std::mem::replace(&mut q.waiting, unsent);
            q.waiting.extend(queued);
        }
        if q.waiting.is_empty() {
            q.sending = false;
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(self.clone().send_queue());
            }
            Err(_) => {
                q.sending = false;
                q.waiting.clear();
            }
        }
    }

    /// Sends the queue, batch after batch, until it is empty.
    async fn send_queue(self: Arc<Self>) {
        // Dropped with the task (a runtime shutting down): the next read starts a new one.
        let mut guard = Sending(Some(&self));
        loop {
            let mut batch = {
                let mut q = self.queue.lock();
                if q.waiting.is_empty() {
                    q.sending = false;
                    guard.0 = None;
                    return;
                }
                std::mem::take(&mut q.waiting)
            };
            self.send(&mut batch).await;
        }
    }

    /// Sends one batch and answers each of its reads. Dropped before the answer, it leaves
    /// `batch` as it was (to be sent again).
    async fn send(&self, batch: &mut Vec<Waiter>) {
        // Reads whose callers gave up are not sent.
        batch.retain(|w| !w.reply.is_closed());
        let Some(limit) = batch.iter().map(|w| w.limit).max() else {
            return;
        };
        let keys: Vec<&str> = batch.iter().map(|w| w.key.as_str()).collect();
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
        let sent =
            tokio::time::timeout(limit, self.topology.send(&calls.iter().collect::<Vec<_>>()))
                .await;
        // No await from here on: every read of the batch is answered.
        let batch = std::mem::take(batch);
        let replies = match sent {
            Ok(Ok(replies)) => replies,
            Ok(Err(e)) => {
                let e = map_err("GET", e);
                return answer_all(batch, |_| copy(&e));
            }
            Err(_) => {
                // The connection is busy with the late reply: replace it (see `RedisBackend::run`).
                self.topology.discard(generation);
                return answer_all(batch, |w| {
                    BackendError::timeout("redis GET (coalesced)", w.limit)
                });
            }
        };
        let mut slots: Vec<Option<Waiter>> = batch.into_iter().map(Some).collect();
        for (group, reply) in groups.iter().zip(replies) {
            for (i, value) in split(group.len(), reply).into_iter().enumerate() {
                if let Some(w) = slots[group[i]].take() {
                    let _ = w.reply.send(value);
                }
            }
        }
    }
}

/// Resets `sending` when the sending task is dropped before the queue is empty (its runtime
/// shuts down); the reads still queued then fail.
struct Sending<'a>(Option<&'a Coalescer>);

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0 {
            let mut q = c.queue.lock();
            q.sending = false;
            q.waiting.clear();
        }
    }
}

/// A caller sending a batch: when it is done (or dropped, its batch unanswered), the reads
/// queued meanwhile are handed over.
struct Leading<'a> {
    coalescer: &'a Arc<Coalescer>,
    batch: Vec<Waiter>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.coalescer.hand_over(std::mem::take(&mut self.batch));
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

fn answer_all(batch: Vec<Waiter>, error: impl Fn(&Waiter) -> BackendError) {
    for w in batch {
        let e = error(&w);
        let _ = w.reply.send(Err(e));
    }
}
