//! The `Key` type and parsing of keys back into their parts.

use std::fmt;
use std::sync::Arc;

use crate::error::{KeyError, excerpt};
use crate::id::HASHED_ID_MARKER;
use crate::segment::unescape;

/// A complete cache key, as stored in the backend.
///
/// Built by [`KindKeys`](crate::KindKeys); cheap to clone (shared string).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Arc<str>);

impl Key {
    pub(crate) fn from_built(s: String) -> Self {
        Self(Arc::from(s))
    }

    /// A key of a text already built (one allocation: the shared copy).
    pub(crate) fn from_built_str(s: &str) -> Self {
        Self(Arc::from(s))
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Splits a key string into its parts.
    pub fn parse(key: &str) -> Result<KeyParts, KeyError> {
        KeyParts::parse(key)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// Hash and Eq of `Key` are those of its string, so maps keyed by `Key` can be queried by `&str`.
impl std::borrow::Borrow<str> for Key {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// How the id is held in a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyId {
    /// The id itself, unescaped.
    Plain(String),
    /// The 32 hex digits of the SHA-256 prefix of an id that was too long or unsafe.
    Hashed(String),
}

/// The parts of a key, unescaped; what [`Key::parse`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyParts {
    /// The prefix.
    pub prefix: String,
    /// The app version.
    pub app_version: String,
    /// The kind.
    pub kind: String,
    /// Whether the kind was written as a hash tag.
    pub hash_tagged: bool,
    /// The schema version.
    pub schema: u32,
    /// The generation (0 when absent).
    pub generation: u64,
    /// The id.
    pub id: KeyId,
}

impl KeyParts {
    fn parse(key: &str) -> Result<Self, KeyError> {
        let bad = |reason| KeyError::NotAStrataKey {
            key: excerpt(key),
            reason,
        };
        let mut it = key.splitn(5, ':');
        let (Some(prefix), Some(version), Some(kind), Some(schema), Some(id)) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            return Err(bad("fewer than five ':'-separated parts"));
        };
        let (kind, hash_tagged) = match kind.strip_prefix('{').and_then(|k| k.strip_suffix('}')) {
            Some(inner) => (inner, true),
            None => (kind, false),
        };
        let schema = schema
            .strip_prefix('s')
            .ok_or_else(|| bad("the schema part does not start with 's'"))?;
        let (schema, generation) = match schema.split_once(".g") {
            Some((s, g)) => (s, g.parse().map_err(|_| bad("bad generation"))?),
            None => (schema, 0),
        };
        let schema = schema.parse().map_err(|_| bad("bad schema version"))?;
        let segment = |s: &str, what| {
            unescape(s)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| bad(what))
        };
        let id = if let Some(hash) = id.strip_prefix(HASHED_ID_MARKER) {
            if hash.len() != 32 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad("bad hashed id"));
            }
            KeyId::Hashed(hash.to_owned())
        } else {
            KeyId::Plain(segment(id, "bad id escape")?)
        };
        Ok(Self {
            prefix: segment(prefix, "bad prefix")?,
            app_version: segment(version, "bad app version")?,
            kind: segment(kind, "bad kind")?,
            hash_tagged,
            schema,
            generation,
            id,
        })
    }
}
