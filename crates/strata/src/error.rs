//! The facade's error types.

use std::sync::Arc;
use std::time::Duration;

use strata_backend::{BackendError, ErrorKind};
use strata_codec::CodecError;
use strata_keys::KeyError;

/// An error from the cache itself (not from a loader).
///
/// In the default fail-open mode, backend failures never reach callers of reads (they are
/// counted misses); writes report them. With `strict = true` reads report them too.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad configuration: every problem found, each naming the setting as the user wrote it.
    #[error("configuration error: {0}")]
    Config(ConfigError),
    /// A key could not be built (empty kind or id, unsafe prefix, ...).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A value could not be encoded, or is over the size limit.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The backend failed (or timed out).
    #[error(transparent)]
    Backend(Arc<BackendError>),
    /// The circuit breaker is open: the backend is skipped until its cool-down ends.
    #[error("the backend circuit is open after repeated failures; retry after the cool-down")]
    CircuitOpen,
    /// An invalidation rule set has no rule for this change.
    #[error(transparent)]
    UnknownChange(#[from] strata_invalidation::UnknownChange),
    /// A loader did not finish within its hard timeout.
    #[error("loader timed out after {0:?}")]
    LoaderTimeout(Duration),
    /// The key holds a cached absence (negative caching), but the caller needs a value: use
    /// `get_or_load_optional` for keys that may be absent.
    #[error("{key} holds a cached absence; use get_or_load_optional for keys that may be absent")]
    CachedAbsence {
        /// The key.
        key: String,
    },
    /// Warming (or anything else that runs a kind's owned loader) asked for a kind that has
    /// none of this type: register one with
    /// [`KindCache::register_loader`](crate::KindCache::register_loader).
    #[error(
        "kind `{kind}` has no owned loader of type {expected}; register one with KindCache::register_loader"
    )]
    NoLoader {
        /// The kind.
        kind: String,
        /// The value type asked for.
        expected: &'static str,
    },
    /// A value under the key has another type than asked for (two types share a kind).
    #[error("the cached value under {key} is not a {expected}")]
    TypeMismatch {
        /// The key.
        key: String,
        /// The type asked for.
        expected: &'static str,
    },
}

impl Error {
    pub(crate) fn config(msg: impl Into<String>) -> Self {
        Self::Config(ConfigError::from(ConfigProblem::new(None, msg)))
    }

    /// The backend error kind, for backend errors.
    pub fn backend_kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Backend(e) => Some(e.kind()),
            _ => None,
        }
    }
}

impl From<BackendError> for Error {
    fn from(e: BackendError) -> Self {
        Self::Backend(Arc::new(e))
    }
}

/// Why [`get_or_load`](crate::KindCache::get_or_load) produced no value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError<E> {
    /// The loader failed (and no stale value could be served). Shared by every caller that
    /// waited on the same load.
    #[error("loader failed: {0}")]
    Loader(Arc<E>),
    /// The loader did not finish within the hard timeout.
    #[error("loader timed out after {0:?}")]
    Timeout(Duration),
    /// The cache failed in strict mode, or the key could not be built.
    #[error(transparent)]
    Cache(Error),
}

impl<E> Clone for LoadError<E> {
    fn clone(&self) -> Self {
        match self {
            Self::Loader(e) => Self::Loader(e.clone()),
            Self::Timeout(d) => Self::Timeout(*d),
            Self::Cache(e) => Self::Cache(e.clone()),
        }
    }
}

impl<E> From<Error> for LoadError<E> {
    fn from(e: Error) -> Self {
        Self::Cache(e)
    }
}

impl<E> LoadError<E> {
    /// The loader's error, when that is what happened.
    pub fn loader_error(&self) -> Option<&E> {
        match self {
            Self::Loader(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: Clone> LoadError<E> {
    /// Converts into the loader's error type (for `#[cached]` functions returning `Result<T, E>`):
    /// loader errors are cloned out, cache errors and timeouts go through `From`.
    pub fn into_loader_error(self) -> E
    where
        E: From<Error>,
    {
        match self {
            Self::Loader(e) => Arc::try_unwrap(e).unwrap_or_else(|e| (*e).clone()),
            Self::Timeout(d) => E::from(Error::LoaderTimeout(d)),
            Self::Cache(e) => E::from(e),
        }
    }
}

/// What is wrong with a configuration: every problem found, in the order found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The problems, at least one.
    pub problems: Vec<ConfigProblem>,
}

/// One problem of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigProblem {
    /// The setting it concerns, as a dotted key (`l1.max_entries`, `kinds.user.ttl`), when it
    /// concerns one.
    pub setting: Option<String>,
    /// What is wrong, naming the setting as the user wrote it (a file key and its file, or an
    /// environment variable).
    pub message: String,
}

impl ConfigProblem {
    /// A problem of `setting` (if any) saying `message`.
    pub fn new(setting: Option<String>, message: impl Into<String>) -> Self {
        Self {
            setting,
            message: message.into(),
        }
    }
}

impl ConfigError {
    /// The settings the problems concern.
    pub fn settings(&self) -> impl Iterator<Item = &str> {
        self.problems.iter().filter_map(|p| p.setting.as_deref())
    }
}

impl From<ConfigProblem> for ConfigError {
    fn from(problem: ConfigProblem) -> Self {
        Self {
            problems: vec![problem],
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let messages: Vec<&str> = self.problems.iter().map(|p| p.message.as_str()).collect();
        f.write_str(&messages.join("; "))
    }
}

impl std::error::Error for ConfigError {}
