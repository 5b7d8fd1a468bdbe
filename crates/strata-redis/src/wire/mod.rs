//! The read line: the backend's single-key reads (`GET`, and `MGET` when coalesced) on one
//! pipelined connection of their own to a server, with their replies parsed in place.
//!
//! A read appends its command to the bytes waiting to be written and its reply channel to the
//! queue of reads written in order; a writer task writes whatever has gathered in one go, a
//! reader task parses each reply as it arrives and answers its reads, each value a slice of
//! its reply's bytes. Nothing per read but the bytes of its key and its reply channel: no
//! command object, no value tree, no copy per value, no timer (a watchdog times out the
//! queue's oldest read, see [`link`]).
//!
//! Coalescing (the default): a read issued while others are in flight joins the batch being
//! gathered, or starts one and yields once so that the reads of the same tick join it; the
//! batch is one `MGET`. A read issued while nothing is in flight, after [`ALONE`] such reads in
//! a row, is written at once as a `GET`: a lone caller pays no yield. Without coalescing,
//! every read is a `GET`, pipelined with the others in flight.
//!
//! Used on one server reached by TCP or a Unix socket; TLS and clusters read through redis-rs.

mod link;
mod resp;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use strata_backend::{BackendError, BackendResult, ErrorKind};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

pub(crate) use link::Target;

/// Reads per `MGET`: a batch that reaches it is written, the next read starts another.
pub(crate) const MAX_KEYS: usize = 1000;

/// Reads in a row issued with no other read in flight after which such a read is written
/// alone, at once.
pub(crate) const ALONE: u32 = 16;

/// The answer to one read: the value's bytes, or nil.
type Answer = BackendResult<Option<Bytes>>;

/// One read waiting for its reply.
struct Waiter {
    reply: oneshot::Sender<Answer>,
    /// When its caller stops waiting, and how long it waits (for the timeout's message).
    deadline: Instant,
    limit: Duration,
}

impl Waiter {
    fn answer(self, answer: Answer) {
        let _ = self.reply.send(answer);
    }
}

/// A command written (or to be written): the reads its reply answers, in order.
struct Entry {
    /// `GET` (one read, a bulk reply) or `MGET` (an array reply, one item per read).
    multi: bool,
    /// Answered waiters are taken out (timed out), their place kept for the reply's order.
    waiters: Vec<Option<Waiter>>,
    /// The shortest limit of its reads, and when its reply is late on the connection: that
    /// limit after it was queued, or after the connection came up if it was queued before.
    limit: Duration,
    due: Instant,
}

impl Entry {
    /// The reads of `waiters` (all waiting), as one command.
    fn new(multi: bool, waiters: Vec<Option<Waiter>>) -> Self {
        let first = waiters.iter().flatten().min_by_key(|w| w.deadline);
        let (due, limit) =
            first.map_or((Instant::now(), Duration::ZERO), |w| (w.deadline, w.limit));
        Self {
            multi,
            waiters,
            limit,
            due,
        }
    }

    /// The earliest deadline of its reads still waiting.
    fn deadline(&self) -> Option<Instant> {
        self.waiters.iter().flatten().map(|w| w.deadline).min()
    }
}

/// The batch being gathered.
struct Gathering {
    /// Numbers batches, so a leader flushes its own batch only.
    id: u64,
    /// When the batch began gathering.
    began: Instant,
    /// The batch's keys, already written as bulk arguments.
    args: Vec<u8>,
    waiters: Vec<Option<Waiter>>,
}

/// The connection's state, behind one lock.
pub(crate) struct State {
    /// Commands not written yet.
    out: Vec<u8>,
    /// Commands written or to be written, oldest first: replies come in this order.
    pending: VecDeque<Entry>,
    gathering: Gathering,
    /// Reads in a row issued with nothing in flight (up to [`ALONE`]).
    alone: u32,
    link: link::Link,
    /// The deadline the watchdog sleeps until (`None`: it waits for a read).
    watching: Option<Instant>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            out: Vec::new(),
            pending: VecDeque::new(),
            gathering: Gathering {
                id: 0,
                began: Instant::now(),
                args: Vec::new(),
                waiters: Vec::new(),
            },
            alone: 0,
            link: link::Link::default(),
            watching: None,
        }
    }
}

/// What the tasks share with the callers.
pub(crate) struct Shared {
    state: Mutex<State>,
    target: Target,
    /// Wakes the watchdog: a read was queued with an earlier deadline than it watches.
    watchdog: Notify,
    /// Reads are coalesced (see the module's documentation).
    coalesce: bool,
}

/// The read line of one backend (see the module's documentation). Dropped, it stops its
/// tasks and closes its connection.
pub(crate) struct Wire {
    shared: Arc<Shared>,
}

impl Wire {
    /// A read line to `target`; connects on first use.
    pub(crate) fn new(target: Target, coalesce: bool) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::default(),
                target,
                watchdog: Notify::new(),
                coalesce,
            }),
        }
    }

    /// Reads the physical key `key`: its bytes or nil. `limit` is how long the caller waits.
    pub(crate) async fn get(&self, key: &str, limit: Duration) -> Answer {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut st = self.shared.state.lock();
            if let Some(e) = st.link.refuses() {
                return Err(e);
            }
            if self.joins(&mut st) {
                self.gather(&mut st, key, reply, limit)
            } else {
                let waiter = Waiter {
                    reply,
                    deadline: Instant::now() + limit,
                    limit,
                };
                resp::push_head(&mut st.out, "GET", 1);
                resp::push_arg(&mut st.out, key.as_bytes());
                self.queue(&mut st, false, vec![Some(waiter)]);
                None
            }
        };
        if let Some(id) = lead {
            let flush = Flush { wire: self, id };
            tokio::task::yield_now().await;
            drop(flush);
        }
        answer.await.unwrap_or_else(|_| {
            Err(BackendError::new(
                ErrorKind::Connection,
                "redis GET: the read was dropped with its connection (the runtime is shutting down)",
            ))
        })
    }

    /// Whether a read joins a batch: with coalescing, while reads are in flight or until
    /// [`ALONE`] reads in a row found none.
    fn joins(&self, st: &mut State) -> bool {
        if !self.shared.coalesce {
            return false;
        }
        if !st.pending.is_empty() || !st.gathering.waiters.is_empty() {
            st.alone = 0;
            return true;
        }
        st.alone = (st.alone + 1).min(ALONE + 1);
        st.alone <= ALONE
    }

    /// Adds a read to the batch being gathered; the batch's number if this read leads it (and
    /// so flushes it after a yield). A batch that reaches [`MAX_KEYS`] is queued at once. The
    /// clock is read once per batch: a read joins within the tick its batch began in, so it
    /// is timed out at most that tick early, never late.
    fn gather(
        &self,
        st: &mut State,
        key: &str,
        reply: oneshot::Sender<Answer>,
        limit: Duration,
    ) -> Option<u64> {
        let batch = &mut st.gathering;
        let leads = batch.waiters.is_empty();
        if leads {
            batch.id += 1;
            batch.began = Instant::now();
        }
        resp::push_arg(&mut batch.args, key.as_bytes());
        batch.waiters.push(Some(Waiter {
            reply,
            deadline: batch.began + limit,
            limit,
        }));
        let id = batch.id;
        if batch.waiters.len() >= MAX_KEYS {
            self.flush(st, id);
        }
        leads.then_some(id)
    }

    /// Queues batch `id` if it is still gathering.
    fn flush(&self, st: &mut State, id: u64) {
        if st.gathering.id != id || st.gathering.waiters.is_empty() {
            return;
        }
        let args = std::mem::take(&mut st.gathering.args);
        let waiters = std::mem::take(&mut st.gathering.waiters);
        let (name, multi) = if waiters.len() == 1 {
            ("GET", false)
        } else {
            ("MGET", true)
        };
        resp::push_head(&mut st.out, name, waiters.len());
        st.out.extend_from_slice(&args);
        self.queue(st, multi, waiters);
        // The key buffer is kept for the next batch.
        st.gathering.args = args;
        st.gathering.args.clear();
    }

    /// Queues the reads a command's reply answers (the command's bytes just appended to what
    /// is to be written); has it written (connecting first if needed).
    fn queue(&self, st: &mut State, multi: bool, waiters: Vec<Option<Waiter>>) {
        let entry = Entry::new(multi, waiters);
        // Its reads' earliest deadline (and its due time, the same when queued).
        let deadline = entry.due;
        if st.watching.is_none_or(|w| deadline < w) {
            st.watching = Some(deadline);
            self.shared.watchdog.notify_one();
        }
        st.pending.push_back(entry);
        link::write_soon(&self.shared, st);
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        let mut st = self.shared.state.lock();
        st.link.stop();
        link::stop_watchdog(&mut st);
    }
}

/// Flushes a leader's batch when dropped: after its yield, or when its caller gives up during
/// it (the other reads of the batch are still written).
struct Flush<'a> {
    wire: &'a Wire,
    id: u64,
}

impl Drop for Flush<'_> {
    fn drop(&mut self) {
        let mut st = self.wire.shared.state.lock();
        self.wire.flush(&mut st, self.id);
    }
}

/// Answers every read of `entries` with a copy of `e`.
fn fail_all(entries: impl IntoIterator<Item = Entry>, e: &BackendError) {
    for entry in entries {
        fail_waiters(entry.waiters, e);
    }
}

/// Answers each of `waiters` with a copy of `e`.
fn fail_waiters(waiters: Vec<Option<Waiter>>, e: &BackendError) {
    for w in waiters.into_iter().flatten() {
        w.answer(Err(copy(e)));
    }
}

/// The same error again (each read gets one of its own).
fn copy(e: &BackendError) -> BackendError {
    BackendError::new(e.kind(), e.message().to_owned())
}
