//! The read line's connection: made on first use (and again after it was lost), a writer and a
//! reader task per connection, and one watchdog per line that times out the reads not
//! answered in their time.
//!
//! Replies come in the order commands were written, so the oldest read waiting is the first
//! to be late: when it is, the connection is stuck behind it (a server paused, a network
//! partition) and is replaced; the reads behind it fail with a timeout, and the next read
//! connects again. A failed connect makes reads fail at once for a backoff (50 ms, doubling
//! up to 500 ms), so that a server that is down is not dialled by every read.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use strata_backend::{BackendError, ErrorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::resp::{self, Parsed, Shape};
use super::{Entry, Shared, State, Waiter, copy, fail_all, fail_waiters};

mod open;
mod watchdog;

pub(crate) use open::Target;
use open::{Reader, Writer, open, protocol};
use watchdog::watchdog;

/// The first backoff after a failed connect, doubled per failure in a row up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// The read buffer's size, and the most a writer's buffer keeps between writes.
const BUFFER: usize = 64 * 1024;

/// The connection's state.
#[derive(Default)]
pub(crate) struct Link {
    status: Status,
    /// The next backoff after a failed connect.
    backoff: Duration,
    /// Numbers connections, so a task acts on its own only.
    generation: u64,
    watchdog: Option<AbortHandle>,
}

#[derive(Default)]
enum Status {
    /// Not connected: the next write connects.
    #[default]
    Idle,
    Connecting(AbortHandle),
    Up {
        generation: u64,
        writer: Arc<Notify>,
        /// The writer was woken and has not taken `out` yet.
        scheduled: bool,
        tasks: [AbortHandle; 2],
    },
    /// The last connect failed: reads fail with its error until `until`.
    Down {
        until: Instant,
        error: BackendError,
    },
}

impl Link {
    /// The error a read fails with at once (a connect failed within the backoff).
    pub(crate) fn refuses(&self) -> Option<BackendError> {
        match &self.status {
            Status::Down { until, error } if Instant::now() < *until => Some(copy(error)),
            _ => None,
        }
    }

    /// Stops the connection's tasks; the next write connects again.
    pub(crate) fn stop(&mut self) {
        match std::mem::take(&mut self.status) {
            Status::Connecting(task) => task.abort(),
            Status::Up { tasks, .. } => tasks.iter().for_each(AbortHandle::abort),
            Status::Idle | Status::Down { .. } => {}
        }
    }

    fn is_up(&self, generation: u64) -> bool {
        matches!(self.status, Status::Up { generation: g, .. } if g == generation)
    }
}

/// Stops the watchdog (the line is dropped).
pub(crate) fn stop_watchdog(st: &mut State) {
    if let Some(task) = st.link.watchdog.take() {
        task.abort();
    }
}

/// Has what is queued written: wakes the writer, or connects first.
pub(crate) fn write_soon(shared: &Arc<Shared>, st: &mut State) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        let e = BackendError::new(ErrorKind::Config, "redis GET needs a Tokio runtime");
        fail_all(take_all(st), &e);
        return;
    };
    if st.link.watchdog.is_none() {
        let s = shared.clone();
        st.link.watchdog = Some(runtime.spawn(watchdog(s)).abort_handle());
    }
    match &mut st.link.status {
        Status::Up {
            writer, scheduled, ..
        } => {
            if !*scheduled {
                *scheduled = true;
                writer.notify_one();
            }
        }
        Status::Connecting(_) => {}
        Status::Down { until, error } if Instant::now() < *until => {
            let e = copy(error);
            fail_all(take_all(st), &e);
        }
        Status::Idle | Status::Down { .. } => {
            let s = shared.clone();
            let task = runtime.spawn(connect(s)).abort_handle();
            st.link.status = Status::Connecting(task);
        }
    }
}

/// Every read queued, the bytes not written dropped.
fn take_all(st: &mut State) -> Vec<Entry> {
    st.out.clear();
    st.pending.drain(..).collect()
}

/// Connects; on success starts the connection's tasks, else fails the reads queued and backs
/// off.
async fn connect(shared: Arc<Shared>) {
    let target = &shared.target;
    let opened = match tokio::time::timeout(target.connect_timeout, open(target)).await {
        Ok(opened) => opened,
        Err(_) => Err(BackendError::timeout(
            &format!("redis GET: connecting to {}", target.url),
            target.connect_timeout,
        )),
    };
    let failed = {
        let mut st = shared.state.lock();
        if !matches!(st.link.status, Status::Connecting(_)) {
            return;
        }
        match opened {
            Ok((read, write)) => {
                start(&shared, &mut st, read, write);
                None
            }
            Err(e) => {
                let backoff = st.link.backoff.max(FIRST_BACKOFF);
                st.link.backoff = (backoff * 2).min(MAX_BACKOFF);
                st.link.status = Status::Down {
                    until: Instant::now() + backoff,
                    error: copy(&e),
                };
                Some((take_all(&mut st), e))
            }
        }
    };
    if let Some((entries, e)) = failed {
        fail_all(entries, &e);
    }
}

/// Starts a connection's writer and reader.
fn start(shared: &Arc<Shared>, st: &mut State, read: Reader, write: Writer) {
    st.link.generation += 1;
    st.link.backoff = Duration::ZERO;
    let generation = st.link.generation;
    let writer = Arc::new(Notify::new());
    let w = tokio::spawn(write_loop(
        shared.clone(),
        generation,
        writer.clone(),
        write,
    ));
    let r = tokio::spawn(read_loop(shared.clone(), generation, read));
    // The commands queued while connecting are due from now.
    let now = Instant::now();
    for entry in &mut st.pending {
        entry.due = entry.due.max(now + entry.limit);
    }
    let scheduled = !st.out.is_empty();
    if scheduled {
        writer.notify_one();
    }
    st.link.status = Status::Up {
        generation,
        writer,
        scheduled,
        tasks: [w.abort_handle(), r.abort_handle()],
    };
}

/// Connection `generation` failed: the reads queued fail with `e`; the next read connects.
fn lost(shared: &Shared, generation: u64, e: &BackendError) {
    let entries = {
        let mut st = shared.state.lock();
        if !st.link.is_up(generation) {
            return;
        }
        st.link.stop();
        take_all(&mut st)
    };
    fail_all(entries, e);
}

/// Writes what is queued, whenever woken.
async fn write_loop(shared: Arc<Shared>, generation: u64, wake: Arc<Notify>, mut write: Writer) {
    let mut buf = Vec::with_capacity(BUFFER);
    loop {
        wake.notified().await;
        if !shared.coalesce && shared.state.lock().pending.len() > 1 {
            // Other reads are in flight: those ready to run queue their commands first, so
            // that one write carries them (coalesced reads are gathered by their batch's
            // leader instead; a lone read is written at once).
            tokio::task::yield_now().await;
        }
        {
            let mut st = shared.state.lock();
            match &mut st.link.status {
                Status::Up {
                    generation: g,
                    scheduled,
                    ..
                } if *g == generation => *scheduled = false,
                _ => return,
            }
            std::mem::swap(&mut buf, &mut st.out);
        }
        if buf.is_empty() {
            continue;
        }
        if let Err(e) = write.write_all(&buf).await {
            lost(
                &shared,
                generation,
                &io_failed(&shared, "writing to", &e.to_string()),
            );
            return;
        }
        buf.clear();
        if buf.capacity() > BUFFER {
            buf.shrink_to(BUFFER);
        }
    }
}

/// The connection error of a failed read or write on the socket.
fn io_failed(shared: &Shared, doing: &str, why: &str) -> BackendError {
    let url = &shared.target.url;
    BackendError::new(
        ErrorKind::Connection,
        format!("redis GET: {doing} {url} failed: {why}"),
    )
}

/// Reads replies and answers their reads, in order.
async fn read_loop(shared: Arc<Shared>, generation: u64, mut read: Reader) {
    let mut buf = BytesMut::with_capacity(BUFFER);
    let mut items = Vec::new();
    let mut need = 1;
    loop {
        if buf.len() < need {
            buf.reserve((need - buf.len()).max(BUFFER / 4));
            let closed = match read.read_buf(&mut buf).await {
                Ok(0) => Some("the server closed the connection".to_owned()),
                Ok(_) => None,
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = closed {
                lost(
                    &shared,
                    generation,
                    &io_failed(&shared, "reading from", &why),
                );
                return;
            }
            if buf.len() < need {
                continue;
            }
        }
        match resp::parse(&buf, &mut items) {
            Ok(Parsed::Need(n)) => need = n,
            Ok(Parsed::Reply(len, shape)) => {
                need = 1;
                if let Err(e) = answer(&shared, generation, &mut buf, len, (shape, &items)) {
                    lost(&shared, generation, &protocol(&shared.target.url, &e));
                    return;
                }
            }
            Err(e) => {
                lost(&shared, generation, &protocol(&shared.target.url, &e.0));
                return;
            }
        }
    }
}

/// Answers the oldest command's reads with the reply of `len` bytes at the start of `buf`
/// (then dropped from it). An error stops the reader: a reply that does not fit its command
/// (named), or a connection replaced meanwhile (its reads were answered; the reader must not
/// spin on a reply it no longer takes, since nothing here awaits and an abort waits for an
/// await).
fn answer(
    shared: &Shared,
    generation: u64,
    buf: &mut BytesMut,
    len: usize,
    (shape, items): (Shape, &[resp::Item]),
) -> Result<(), String> {
    let entry = {
        let mut st = shared.state.lock();
        if !st.link.is_up(generation) {
            return Err("the connection was replaced".into());
        }
        st.pending.pop_front()
    };
    let Some(entry) = entry else {
        return Err("a reply to no read".into());
    };
    let waiters = entry.waiters;
    match shape {
        Shape::Bulk if !entry.multi => {
            let value = items[0].clone().map(|r| Bytes::copy_from_slice(&buf[r]));
            answer_each(waiters, std::iter::once(value));
        }
        Shape::Array if entry.multi && items.len() == waiters.len() => {
            // The values are slices of the reply's bytes, split off the read buffer (a value
            // kept holds that buffer: at most its size, or the reply's).
            let frame = buf.split_to(len).freeze();
            answer_each(
                waiters,
                items.iter().map(|i| i.clone().map(|r| frame.slice(r))),
            );
            return Ok(());
        }
        Shape::Error(text) => fail_waiters(waiters, &server_error(&text)),
        other => {
            let n = waiters.len();
            return Err(format!(
                "{other:?} with {} items for {n} reads",
                items.len()
            ));
        }
    }
    buf.advance(len);
    Ok(())
}

fn answer_each(waiters: Vec<Option<Waiter>>, values: impl Iterator<Item = Option<Bytes>>) {
    for (w, value) in waiters.into_iter().zip(values) {
        if let Some(w) = w {
            w.answer(Ok(value));
        }
    }
}

/// A server's error reply to a read, classified by its code.
fn server_error(text: &str) -> BackendError {
    let code = text.split(' ').next().unwrap_or_default();
    let kind = match code {
        "LOADING" | "MASTERDOWN" | "TRYAGAIN" | "CLUSTERDOWN" => ErrorKind::Connection,
        "NOAUTH" | "NOPERM" | "WRONGPASS" => ErrorKind::Config,
        _ => ErrorKind::Server,
    };
    BackendError::new(kind, format!("redis GET failed: {text}"))
}

#[cfg(test)]
mod tests;
