//! The miss path: a fast L1 check, then one flight per key whose leader looks up, leases, loads
//! and settles (see `leader.rs`); every caller of the flight shares its outcome.

mod background;
mod due;
mod group;
mod leader;
mod lease;
mod loader;
mod many;
mod settling;

use std::sync::Arc;

use strata_keys::Key;
use tracing::Instrument;

pub(crate) use background::{OwnedCall, refresh_in_background};
pub use loader::Load;
pub(crate) use many::{Answer, Rounds, Waiter, answer, load_many, load_through};

use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::entry::Lookup;
use crate::error::{Error, LoadError};
use crate::flight::{FlightError, FlightOutcome};
use crate::kinds::KindState;
use crate::options::LoadOptions;
use crate::read::{self, LookupKey};
use due::OnFresh;
use leader::Leader;

/// Why a flight loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The key missed: load it.
    Fill,
    /// The value is fresh but due for refresh-ahead: reload it, serving it meanwhile.
    Refresh,
    /// A background task reloads a value due or stale through the kind's owned loader; no
    /// caller waits for it. Skipped when another instance holds the key's lease.
    Background,
}

/// The value under `key`, loading it once per key across concurrent callers on a miss.
/// `None`: the loader answered "absent" (cached only with negative caching).
///
/// `key` may be a key rendered without allocating ([`KeyStr`](strata_keys::KeyStr)): an L1 hit
/// makes no [`Key`]; a miss makes it once, for its flight.
pub(crate) async fn load<T, E>(
    core: &Core,
    kind: &Arc<KindState>,
    key: &(impl LookupKey + ?Sized),
    options: &LoadOptions,
    loader: impl Load<Option<T>, E>,
) -> Result<Option<Arc<T>>, LoadError<E>>
where
    T: CacheValue,
    E: Send + Sync + 'static,
{
    if !core.enabled() {
        return uncached(kind, options, loader).await;
    }
    let mut mode = Mode::Fill;
    match read::probe_l1::<T>(core, kind, key).await {
        Lookup::Fresh(found) => match due::on_fresh(core, kind, key, options, &found) {
            OnFresh::Serve => return Ok(found.value),
            OnFresh::Inline => mode = Mode::Refresh,
        },
        Lookup::Stale(found) if due::serve_stale::<T>(core, kind, key, options) => {
            kind.stats.stale_hit();
            return Ok(found.value);
        }
        _ => {}
    }
    fly(core, kind, &key.to_key(), options, mode, loader).await
}

/// The flight of `key` (after L1 did not serve it): led by this caller, or joined.
async fn fly<T, E>(
    core: &Core,
    kind: &Arc<KindState>,
    key: &Key,
    options: &LoadOptions,
    mode: Mode,
    loader: impl Load<Option<T>, E>,
) -> Result<Option<Arc<T>>, LoadError<E>>
where
    T: CacheValue,
    E: Send + Sync + 'static,
{
    let flights = core.local.flights();
    let flight = flights.join(key);
    let outcome: FlightOutcome = flight
        .cell
        .get_or_init(|| async {
            let _finish = flights.finish_on_drop(key, &flight);
            let leader = Leader {
                core,
                kind,
                key,
                options,
                mode,
                flight: &flight,
            };
            let span = tracing::debug_span!(
                "strata.load",
                kind = kind.name(),
                key = %key,
                mode = ?mode,
                outcome = tracing::field::Empty,
            );
            crate::l2::operation(leader.lead(loader))
                .instrument(span)
                .await
        })
        .await
        .clone();
    typed(key, outcome)
}

/// A flight's shared outcome as this caller's types.
fn typed<T: CacheValue, E: Send + Sync + 'static>(
    key: &Key,
    outcome: FlightOutcome,
) -> Result<Option<Arc<T>>, LoadError<E>> {
    let mismatch = |expected| {
        LoadError::Cache(Error::TypeMismatch {
            key: key.to_string(),
            expected,
        })
    };
    match outcome {
        Ok(None) => Ok(None),
        Ok(Some(any)) => any
            .downcast::<T>()
            .map(Some)
            .map_err(|_| mismatch(std::any::type_name::<T>())),
        Err(FlightError::Loader(any)) => any
            .downcast::<E>()
            .map(LoadError::Loader)
            .map_err(|_| mismatch(std::any::type_name::<E>()))
            .and_then(Err),
        Err(FlightError::Timeout(d)) => Err(LoadError::Timeout(d)),
        Err(FlightError::Cache(e)) => Err(LoadError::Cache(e)),
    }
}

/// Caching is off: the loader answers, under the options' hard timeout, and nothing is stored.
async fn uncached<T, E>(
    kind: &KindState,
    options: &LoadOptions,
    loader: impl Load<Option<T>, E>,
) -> Result<Option<Arc<T>>, LoadError<E>> {
    let started = std::time::Instant::now();
    let result = match loader::run(options, false, loader).await {
        Ok(result) => result,
        // No stale value is offered, so only the hard timeout can cut the loader.
        Err(cut) => {
            kind.stats.load(false, started.elapsed());
            let limit = match cut {
                loader::LoaderCut::Hard(d) => d,
                loader::LoaderCut::Soft => options.hard_timeout.unwrap_or_default(),
            };
            return Err(LoadError::Timeout(limit));
        }
    };
    kind.stats.load(result.is_ok(), started.elapsed());
    result
        .map(|v| v.map(Arc::new))
        .map_err(|e| LoadError::Loader(Arc::new(e)))
}
