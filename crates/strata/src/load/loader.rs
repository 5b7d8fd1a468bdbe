//! The loader a miss runs, and the timeouts around it.

use std::future::Future;
use std::time::Duration;

use crate::options::LoadOptions;

/// What `get_or_load` runs on a miss: a closure returning a future of the value (or the
/// loader's error). Implemented for every `FnOnce() -> impl Future<Output = Result<T, E>>`.
pub trait Load<T, E> {
    /// The loader's future.
    type Future: Future<Output = Result<T, E>>;

    /// Starts the load.
    fn load(self) -> Self::Future;
}

impl<T, E, F, Fut> Load<T, E> for F
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Future = Fut;

    fn load(self) -> Fut {
        self()
    }
}

/// Why a loader was cut short.
pub(super) enum LoaderCut {
    /// The soft timeout passed while a stale value exists: serve it.
    Soft,
    /// The hard timeout passed.
    Hard(Duration),
}

/// Runs `loader` under the options' timeouts (the soft one only when a stale value exists and
/// fail-safe is on).
pub(super) async fn run<T, E>(
    options: &LoadOptions,
    has_stale: bool,
    loader: impl Load<T, E>,
) -> Result<Result<T, E>, LoaderCut> {
    let fut = loader.load();
    let soft = options
        .soft_timeout
        .filter(|_| has_stale && !options.no_fail_safe);
    let limit = match (soft, options.hard_timeout) {
        (Some(s), Some(h)) if h <= s => Some((h, LoaderCut::Hard(h))),
        (Some(s), _) => Some((s, LoaderCut::Soft)),
        (None, Some(h)) => Some((h, LoaderCut::Hard(h))),
        (None, None) => None,
    };
    match limit {
        None => Ok(fut.await),
        Some((d, cut)) => tokio::time::timeout(d, fut).await.map_err(|_| cut),
    }
}
