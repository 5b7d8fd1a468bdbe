//! The read line's watchdog: one task per line that answers the reads past their deadline
//! and replaces a connection whose oldest command is late.

use std::sync::Arc;

use strata_backend::{BackendError, ErrorKind};
use tokio::time::Instant;

use super::super::{Entry, Shared, State, Waiter};

/// Times out the reads not answered in their time (see the module's documentation).
pub(super) async fn watchdog(shared: Arc<Shared>) {
    loop {
        let woken = shared.watchdog.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let until = shared.state.lock().watching;
        match until {
            None => woken.await,
            Some(until) => {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    () = woken => {}
                }
            }
        }
        let late = expire(&mut shared.state.lock(), Instant::now());
        for (w, e) in late {
            w.answer(Err(e));
        }
    }
}

/// Takes out the reads past their deadline at `now`, each with its timeout; when the oldest
/// command is late, the connection is replaced and every read queued is taken out. Sets the
/// next deadline to watch.
pub(crate) fn expire(st: &mut State, now: Instant) -> Vec<(Waiter, BackendError)> {
    let mut late = Vec::new();
    // The connection is stuck when its oldest command is past its due time (counted from when
    // the connection could answer it: reads timed out while it connected do not condemn it).
    let stuck =
        st.link.is_up(st.link.generation) && st.pending.front().is_some_and(|e| e.due <= now);
    for entry in &mut st.pending {
        for slot in &mut entry.waiters {
            if slot.as_ref().is_some_and(|w| stuck || w.deadline <= now) {
                let w = slot.take().expect("checked");
                let e = if w.deadline <= now {
                    BackendError::timeout("redis GET", w.limit)
                } else {
                    BackendError::new(
                        ErrorKind::Timeout,
                        format!(
                            "redis GET: a read before it got no reply in time; the connection \
                             is replaced (this read's limit: {:?})",
                            w.limit
                        ),
                    )
                };
                late.push((w, e));
            }
        }
    }
    if stuck {
        st.link.stop();
        st.out.clear();
        st.pending.clear();
    }
    // Next: the oldest command's due time, or a read's deadline.
    let reads = st.pending.iter().filter_map(Entry::deadline);
    st.watching = st
        .pending
        .front()
        .map(|e| e.due)
        .into_iter()
        .chain(reads)
        .min();
    late
}
