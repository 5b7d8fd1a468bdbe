//! Cache key building for Strata: versioned, escaped, collision-free keys.
//!
//! A key reads `{prefix}:{app_version}:{kind}:s{schema}[.g{generation}]:{id}`, for example
//! `shop:v3:user:s2:42`. The format is a public contract, specified in `docs/wire-format.md`:
//!
//! - prefix, app version and kind are validated (non-empty, at most
//!   [`MAX_SEGMENT_LEN`] bytes, no whitespace or control characters) and have `% : { } # * ? [ ] \`
//!   percent-escaped, so no two (kind, id) pairs share a key and patterns built from them need no
//!   glob escaping;
//! - ids come from anything `Display` ([`KindKeys::key`]) or serde-serializable
//!   ([`KindKeys::key_serde`]); `% # { }` are escaped, and ids longer than
//!   [`MAX_PLAIN_ID_LEN`] or holding whitespace or control characters become `#` + a 128-bit
//!   SHA-256 prefix, so a key never carries raw control bytes;
//! - a kind can be wrapped in a Redis Cluster hash tag (`{user}`) so its keys share a slot.
//!
//! # Usage
//!
//! ```
//! use strata_keys::{Key, KeyId, KeySpace};
//!
//! let space = KeySpace::new("shop", "v3")?;
//! let users = space.kind("user")?.with_schema(2);
//! let key = users.key(42)?;
//! assert_eq!(key.as_str(), "shop:v3:user:s2:42");
//!
//! let parts = Key::parse(&key)?;
//! assert_eq!(parts.kind, "user");
//! assert_eq!(parts.id, KeyId::Plain("42".into()));
//!
//! // An empty kind is rejected with an error that names it.
//! assert!(space.kind("").unwrap_err().to_string().contains("kind"));
//! # Ok::<(), strata_keys::KeyError>(())
//! ```
//!
//! # Feature flags
//!
//! None.

mod error;
mod id;
mod key;
mod key_str;
mod kind;
mod segment;
mod space;

pub use error::KeyError;
pub use id::{HASHED_ID_MARKER, MAX_PLAIN_ID_LEN};
pub use key::{Key, KeyId, KeyParts};
pub use key_str::KeyStr;
pub use kind::{CacheKind, INTERNAL_KIND_PREFIX, KindName, is_internal_kind};
pub use segment::MAX_SEGMENT_LEN;
pub use space::{KeySpace, KindKeys};
