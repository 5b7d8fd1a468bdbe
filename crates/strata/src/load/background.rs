//! A refresh no caller waits for: a flight led by a spawned task through the kind's owned
//! loader, under the key's lease (so one instance refreshes), its failure logged and counted.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use strata_keys::{Key, KeyId};
use tracing::Instrument;

use super::Mode;
use super::leader::Leader;
use super::loader::Load;
use crate::cacheable::CacheValue;
use crate::core::Core;
use crate::flight::Flight;
use crate::kinds::KindState;
use crate::options::LoadOptions;
use crate::owned::{BoxError, OwnedLoader};

/// Starts a background refresh of `key`; false when it cannot (no owned loader of type `T`
/// for the kind, an id that the key holds hashed, no Tokio runtime), so the caller refreshes
/// inline. True also when a load of the key is already in flight.
pub(crate) fn refresh_in_background<T: CacheValue>(
    core: &Core,
    kind: &KindState,
    key: &Key,
    options: &LoadOptions,
) -> bool {
    let Some(loader) = core.loaders.get::<T>(kind.name()) else {
        tracing::debug!(
            kind = kind.name(),
            "background refresh asked for, but the kind has no owned loader (KindCache::register_loader) of this type; refreshing inline"
        );
        return false;
    };
    let Some(id) = id_of(key) else {
        return false;
    };
    let (Ok(runtime), Some(core)) = (tokio::runtime::Handle::try_current(), core.me.upgrade())
    else {
        return false;
    };
    let Some(flight) = core.local.flights().join_new(key) else {
        return true;
    };
    let task = Task {
        kind: Arc::new(kind.with_ttl(kind.ttl)),
        key: key.clone(),
        options: options.clone(),
        core,
        flight,
    };
    runtime.spawn(task.run(loader, id));
    true
}

/// The id a key holds, as the owned loader receives it (`None` when the key holds it hashed).
pub(crate) fn id_of(key: &Key) -> Option<String> {
    match Key::parse(key).ok()?.id {
        KeyId::Plain(id) => Some(id),
        _ => None,
    }
}

/// One call of a kind's owned loader, as a [`Load`] (a background refresh's, a warm-up's).
pub(crate) struct OwnedCall<T> {
    loader: Arc<OwnedLoader<T>>,
    id: String,
}

impl<T> OwnedCall<T> {
    /// The call of `loader` for `id`.
    pub(crate) fn new(loader: Arc<OwnedLoader<T>>, id: String) -> Self {
        Self { loader, id }
    }
}

impl<T: Send + 'static> Load<Option<T>, Failed> for OwnedCall<T> {
    type Future = Pin<Box<dyn Future<Output = Result<Option<T>, Failed>> + Send>>;

    fn load(self) -> Self::Future {
        let fut = self.loader.load(self.id);
        Box::pin(async move { fut.await.map_err(Failed) })
    }
}

/// An owned loader's error, as a concrete type (a trait object as the flight's error type
/// trips the compiler's higher-ranked `Send` check of the spawned task).
#[derive(Debug)]
pub(crate) struct Failed(BoxError);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Everything a background refresh owns.
struct Task {
    core: Arc<Core>,
    kind: Arc<KindState>,
    key: Key,
    options: LoadOptions,
    flight: Arc<Flight>,
}

impl Task {
    async fn run<T: CacheValue>(self, loader: Arc<OwnedLoader<T>>, id: String) {
        let flights = self.core.local.flights();
        let span = tracing::debug_span!(
            "strata.refresh",
            kind = self.kind.name(),
            key = %self.key,
            outcome = tracing::field::Empty,
        );
        self.flight
            .cell
            .get_or_init(|| async {
                let _finish = flights.finish_on_drop(&self.key, &self.flight);
                let leader = Leader {
                    core: &self.core,
                    kind: &self.kind,
                    key: &self.key,
                    options: &self.options,
                    mode: Mode::Background,
                    flight: &self.flight,
                };
                crate::l2::operation(leader.lead(OwnedCall::new(loader, id))).await
            })
            .instrument(span)
            .await;
    }
}
