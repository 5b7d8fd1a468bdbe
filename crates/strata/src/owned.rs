//! Owned loaders: the loader a kind registers once, which the cache may run on its own (a
//! background refresh, a warm-up), unlike `get_or_load`'s closures, which borrow the caller's
//! state and live only as long as the call.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use parking_lot::RwLock;

/// The error an owned loader answers, boxed.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future an owned loader returns.
pub(crate) type LoadFuture<T> = Pin<Box<dyn Future<Output = Result<Option<T>, BoxError>> + Send>>;

/// A kind's owned loader: the id (as the key renders it) to the value, or `None` for absent.
pub(crate) struct OwnedLoader<T> {
    call: Box<dyn Fn(String) -> LoadFuture<T> + Send + Sync>,
}

impl<T> OwnedLoader<T> {
    /// Wraps `f`.
    pub(crate) fn new<F, Fut, E>(f: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<T>, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        Self {
            call: Box::new(move |id| {
                let fut = f(id);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }),
        }
    }

    /// Starts a load of `id`.
    pub(crate) fn load(&self, id: String) -> LoadFuture<T> {
        (self.call)(id)
    }
}

/// The owned loaders registered, by kind (one per kind, for every schema of it), and beside
/// each the kind's warm-up by name (type-erased; see `warm.rs`).
#[derive(Default)]
pub(crate) struct Loaders {
    map: RwLock<HashMap<String, Arc<dyn Any + Send + Sync>>>,
    warmers: RwLock<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

impl Loaders {
    /// Registers `loader` for `kind`, replacing the previous one.
    pub(crate) fn register<T: Send + Sync + 'static>(&self, kind: &str, loader: OwnedLoader<T>) {
        self.map
            .write()
            .insert(kind.to_owned(), Arc::new(Arc::new(loader)));
    }

    /// Registers the warm-up of `kind` by name (erased).
    pub(crate) fn register_warmer(&self, kind: &str, warmer: Arc<dyn Any + Send + Sync>) {
        self.warmers.write().insert(kind.to_owned(), warmer);
    }

    /// The warm-up of `kind` by name, if a loader of it is registered.
    pub(crate) fn warmer(&self, kind: &str) -> Option<Arc<dyn Any + Send + Sync>> {
        self.warmers.read().get(kind).cloned()
    }

    /// The loader of `kind` for values of type `T`, if one of that type is registered.
    pub(crate) fn get<T: Send + Sync + 'static>(&self, kind: &str) -> Option<Arc<OwnedLoader<T>>> {
        let any = self.map.read().get(kind)?.clone();
        any.downcast_ref::<Arc<OwnedLoader<T>>>().cloned()
    }
}
