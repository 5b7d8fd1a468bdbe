//! `CacheKind`: a type names its kind and schema version once.

/// A type with a kind of its own: the key segment its entries live under and the schema
/// version of their layout. Every layer that names kinds (keys, invalidation targets, TTLs)
/// accepts a type with this trait, so a kind is written once and a typo does not compile.
///
/// Usually derived through `strata::Cacheable`, which implements it:
///
/// ```
/// use strata_keys::{CacheKind, KeySpace};
///
/// struct Product;
/// impl CacheKind for Product {
///     const KIND: &'static str = "product";
///     const SCHEMA: u32 = 3;
/// }
///
/// let keys = KeySpace::new("shop", "v1")?.kind_of::<Product>()?;
/// assert_eq!(keys.key(7)?.as_str(), "shop:v1:product:s3:7");
/// # Ok::<(), strata_keys::KeyError>(())
/// ```
pub trait CacheKind {
    /// The kind: the key segment and the name settings are looked up under.
    const KIND: &'static str;
    /// The schema version (default 1); bumping it makes every entry written with the old one
    /// a miss.
    const SCHEMA: u32 = 1;
}

/// Kinds whose name starts with this are Strata's own bookkeeping (version counters), not
/// application data: reports leave them out and the facade refuses them as application kinds.
pub const INTERNAL_KIND_PREFIX: &str = "__";

/// A validated kind name: non-empty, at most [`MAX_SEGMENT_LEN`](crate::MAX_SEGMENT_LEN)
/// bytes, free of whitespace and control characters, not starting with
/// [`INTERNAL_KIND_PREFIX`]. Once made, building the keys of the kind cannot fail
/// ([`KeySpace::keys_of`](crate::KeySpace::keys_of)).
///
/// ```
/// use strata_keys::KindName;
///
/// let kind = KindName::new("api.orders")?;
/// assert_eq!(kind.as_str(), "api.orders");
/// assert!(KindName::new("bad kind").unwrap_err().to_string().contains("kind"));
/// assert!(KindName::new("__version").is_err(), "reserved");
/// assert!(KindName::internal("__version")?.is_internal());
/// # Ok::<(), strata_keys::KeyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KindName {
    raw: String,
    escaped: String,
}

impl KindName {
    /// Validates the application kind `name`.
    pub fn new(name: &str) -> Result<Self, crate::KeyError> {
        if is_internal_kind(name) {
            return Err(crate::KeyError::ReservedKind {
                value: crate::error::excerpt(name),
            });
        }
        Self::internal(name)
    }

    /// Validates `name`, which may be one of Strata's internal kinds (version counters and the
    /// like; tools that read them use this too).
    pub fn internal(name: &str) -> Result<Self, crate::KeyError> {
        Ok(Self {
            escaped: crate::segment::escape_segment("kind", name)?,
            raw: name.to_owned(),
        })
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The name as written in keys (`% : { } # * ? [ ] \` percent-escaped).
    pub fn escaped(&self) -> &str {
        &self.escaped
    }

    /// Whether this is one of Strata's internal kinds ([`INTERNAL_KIND_PREFIX`]).
    pub fn is_internal(&self) -> bool {
        is_internal_kind(&self.raw)
    }
}

/// Whether `name` is one of Strata's internal kinds ([`INTERNAL_KIND_PREFIX`]).
pub fn is_internal_kind(name: &str) -> bool {
    name.starts_with(INTERNAL_KIND_PREFIX)
}

impl std::fmt::Display for KindName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

impl AsRef<str> for KindName {
    fn as_ref(&self) -> &str {
        &self.raw
    }
}
