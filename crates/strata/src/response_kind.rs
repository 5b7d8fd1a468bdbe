//! `ResponseKind`: the kind a response cache stores under, validated once.

use strata_invalidation::Target;
use strata_keys::KindName;

use crate::error::Error;

/// The kind of one response cache: `api.<route prefix>` (`"alljobs:"` → `api.alljobs`).
///
/// Validated when made, so what is built from it (the HTTP layer's `ResponseCacheLayer`,
/// [`Cache::responses`](crate::Cache::responses)) cannot fail; its [`name`](Self::name) is what
/// configuration (`[kinds."api.alljobs"]`), `clear-cache` and the statistics call it, and
/// [`target`](Self::target) invalidates all of it.
///
/// ```
/// use strata::{ResponseKind, Target};
///
/// let listing = ResponseKind::new("alljobs:")?;
/// assert_eq!(listing.name(), "api.alljobs");
/// assert_eq!(listing.target(), Target::kind("api.alljobs"));
/// assert!(ResponseKind::new("all jobs").is_err());
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResponseKind {
    kind: KindName,
}

impl ResponseKind {
    /// The prefix of every response-cache kind.
    pub const PREFIX: &'static str = "api.";

    /// The response cache of `route_prefix` (a trailing `:` is dropped).
    pub fn new(route_prefix: &str) -> Result<Self, Error> {
        let route = route_prefix.trim_end_matches(':');
        if route.is_empty() {
            return Err(Error::config(format!(
                "invalid response cache prefix {route_prefix:?}: it is empty"
            )));
        }
        Ok(Self {
            kind: KindName::new(&format!("{}{route}", Self::PREFIX))?,
        })
    }

    /// The kind's name, `api.<route prefix>`.
    pub fn name(&self) -> &str {
        self.kind.as_str()
    }

    /// The validated kind.
    pub fn kind(&self) -> &KindName {
        &self.kind
    }

    /// An invalidation target for every response of this cache.
    pub fn target(&self) -> Target {
        Target::kind(self.name())
    }
}

impl AsRef<str> for ResponseKind {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

impl std::fmt::Display for ResponseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
