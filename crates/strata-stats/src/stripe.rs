//! Counters striped by thread: each thread counts in its own stripe, alone on its cache lines,
//! and a read sums the stripes. Counting on a hot path then writes no line that the counts of
//! other threads write (unless more threads count than there are stripes, and two share one).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Stripes per striped counter set: enough that the worker threads of a runtime rarely share
/// one (threads are numbered in the order they first count, every counting thread included).
pub(crate) const STRIPES: usize = 8;

/// One stripe, on cache lines of its own.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Padded<T>(T);

/// `T` once per stripe; a thread counts in [`mine`](Self::mine), a read goes over
/// [`iter`](Self::iter) (or [`sum`](Self::sum)).
#[derive(Debug, Default)]
pub(crate) struct Striped<T> {
    stripes: [Padded<T>; STRIPES],
}

impl<T> Striped<T> {
    /// The calling thread's stripe.
    #[inline]
    pub(crate) fn mine(&self) -> &T {
        &self.stripes[index()].0
    }

    /// Every stripe.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.stripes.iter().map(|s| &s.0)
    }

    /// The sum over the stripes of the counter `of` picks.
    pub(crate) fn sum(&self, of: impl Fn(&T) -> &AtomicU64) -> u64 {
        self.iter().map(|s| of(s).load(Ordering::Relaxed)).sum()
    }
}

/// The calling thread's stripe number (threads numbered in the order they first count).
#[inline]
fn index() -> usize {
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| match s.get() {
        usize::MAX => {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let i = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
            s.set(i);
            i
        }
        i => i,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_count_apart_and_reads_sum_every_stripe() {
        let c: Striped<AtomicU64> = Striped::default();
        std::thread::scope(|s| {
            for _ in 0..STRIPES + 3 {
                s.spawn(|| {
                    for _ in 0..1_000 {
                        c.mine().fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(c.sum(|a| a), (STRIPES as u64 + 3) * 1_000);
        let used = c.iter().filter(|a| a.load(Ordering::Relaxed) > 0).count();
        assert!(used > 1, "the threads counted in more than one stripe");
        assert_eq!(std::mem::align_of::<Padded<AtomicU64>>(), 64);
    }
}
