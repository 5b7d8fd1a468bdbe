//! The `Cacheable` trait: a type declares its kind, schema version and TTL once.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// What a value must be to be cached: serializable, shareable across threads.
pub trait CacheValue: Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> CacheValue for T {}

/// A type with a kind of its own: `cache.get::<User>(id)` finds its keys, schema and TTL here.
///
/// Usually derived:
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize, strata::Cacheable)]
/// #[cacheable(kind = "user", schema = 2)]
/// struct User { id: u64, name: String }
///
/// use strata::Cacheable;
/// assert_eq!(User::KIND, "user");
/// assert_eq!(User::SCHEMA, 2);
/// ```
///
/// Bumping `SCHEMA` makes every entry written with the old one a miss (never a decode error).
pub trait Cacheable: CacheValue {
    /// The kind: the key segment and the TTL table entry.
    const KIND: &'static str;
    /// The schema version (default 1).
    const SCHEMA: u32 = 1;
    /// A TTL overriding the kind's table entry (default: none, use the table).
    fn ttl() -> Option<Duration> {
        None
    }
}
