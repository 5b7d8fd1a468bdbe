//! The `Cacheable` trait: a type declares its kind, schema version and TTL once.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
pub use strata_keys::CacheKind;

/// What a value must be to be cached: serializable, shareable across threads.
pub trait CacheValue: Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> CacheValue for T {}

/// A type with a kind of its own: `cache.get::<User>(id)` finds its keys, schema and TTL here.
///
/// The kind and schema come from [`CacheKind`], which the layers below the facade understand
/// too (`Target::of::<User>(id)` in invalidation rules, `CacheBuilder::ttl_of::<User>`).
/// Usually derived, which implements both traits:
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize, strata::Cacheable)]
/// #[cacheable(kind = "user", schema = 2)]
/// struct User { id: u64, name: String }
///
/// use strata::CacheKind;
/// assert_eq!(User::KIND, "user");
/// assert_eq!(User::SCHEMA, 2);
/// ```
///
/// Bumping `SCHEMA` makes every entry written with the old one a miss (never a decode error).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no cache kind of its own",
    label = "`{Self}` does not implement `strata::Cacheable`",
    note = "derive it: `#[derive(serde::Serialize, serde::Deserialize, strata::Cacheable)]` with `#[cacheable(kind = \"...\")]`",
    note = "or name the kind where you use it: `cache.kind::<{Self}>(\"name\")?` gives a `KindCache` for any serializable type"
)]
pub trait Cacheable: CacheKind + CacheValue {
    /// A TTL overriding the kind's configured TTL (default: none, use the configuration).
    fn ttl() -> Option<Duration> {
        None
    }
}
