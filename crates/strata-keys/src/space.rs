//! `KeySpace` (prefix + app version) and `KindKeys` (one kind's key factory).

use std::fmt::{Display, Write as _};

use crate::error::KeyError;
use crate::id::{is_plain_id, push_encoded_id, serde_id_text};
use crate::key::Key;
use crate::kind::KindName;
use crate::segment::escape_segment;

/// The namespace of one cache: a prefix and an application version.
///
/// Changing the app version (on a deploy that changes many types at once) makes every earlier
/// entry unreachable; per-kind schema versions do the same for one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpace {
    prefix: String,
    app_version: String,
}

impl KeySpace {
    /// Validates and escapes `prefix` and `app_version`.
    ///
    /// Both must be non-empty, at most [`MAX_SEGMENT_LEN`](crate::MAX_SEGMENT_LEN) bytes and free
    /// of whitespace and control characters.
    pub fn new(prefix: &str, app_version: &str) -> Result<Self, KeyError> {
        Ok(Self {
            prefix: escape_segment("prefix", prefix)?,
            app_version: escape_segment("app version", app_version)?,
        })
    }

    /// The escaped prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The escaped app version.
    pub fn app_version(&self) -> &str {
        &self.app_version
    }

    /// `"{prefix}:"`: every key of this prefix, whatever its app version, starts with it.
    ///
    /// This is the scope of a backend's `clear`.
    pub fn namespace(&self) -> String {
        format!("{}:", self.prefix)
    }

    /// `"{prefix}:{app_version}:"`: every key of this app version starts with it.
    pub fn versioned_namespace(&self) -> String {
        format!("{}:{}:", self.prefix, self.app_version)
    }

    /// Starts the keys of one kind (schema version 1, generation 0, no hash tag).
    pub fn kind(&self, kind: &str) -> Result<KindKeys, KeyError> {
        Ok(self.keys_of(&KindName::new(kind)?))
    }

    /// The keys of the validated kind `kind` (schema version 1, generation 0, no hash tag).
    pub fn keys_of(&self, kind: &KindName) -> KindKeys {
        KindKeys {
            space: self.clone(),
            kind: kind.as_str().to_owned(),
            escaped_kind: kind.escaped().to_owned(),
            schema: 1,
            generation: 0,
            hash_tag: false,
            base: String::new(),
        }
        .rebuild()
    }

    /// The keys of `T`'s kind at its schema version.
    pub fn kind_of<T: crate::CacheKind + ?Sized>(&self) -> Result<KindKeys, KeyError> {
        Ok(self.kind(T::KIND)?.with_schema(T::SCHEMA))
    }
}

/// Builds the keys of one kind: `{prefix}:{app_version}:{kind}:s{schema}[.g{generation}]:{id}`.
///
/// The part before the id is computed once, so building a key costs one allocation plus the id.
///
/// ```
/// use strata_keys::KeySpace;
///
/// let users = KeySpace::new("shop", "v3")?.kind("user")?.with_schema(2);
/// assert_eq!(users.key(42)?.as_str(), "shop:v3:user:s2:42");
///
/// // With a Redis Cluster hash tag, all of a kind's keys live in one slot.
/// let jobs = KeySpace::new("shop", "v3")?.kind("job")?.with_hash_tag(true);
/// assert_eq!(jobs.key("7")?.as_str(), "shop:v3:{job}:s1:7");
/// # Ok::<(), strata_keys::KeyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindKeys {
    space: KeySpace,
    kind: String,
    escaped_kind: String,
    schema: u32,
    generation: u64,
    hash_tag: bool,
    /// Everything before the id, ending in ':'.
    base: String,
}

impl KindKeys {
    /// Sets the schema version; bumping it makes every older entry of this kind a miss.
    pub fn with_schema(mut self, schema: u32) -> Self {
        self.schema = schema;
        self.rebuild()
    }

    /// Sets the generation (bumped to clear a whole kind without scanning; 0 is not written).
    pub fn with_generation(mut self, generation: u64) -> Self {
        self.generation = generation;
        self.rebuild()
    }

    /// Wraps the kind in a Redis Cluster hash tag (`{kind}`), so that all of this kind's keys
    /// hash to one slot (needed for per-kind scripts; concentrates the kind on one node).
    pub fn with_hash_tag(mut self, enabled: bool) -> Self {
        self.hash_tag = enabled;
        self.rebuild()
    }

    fn rebuild(mut self) -> Self {
        let mut base = String::with_capacity(
            self.space.prefix.len() + self.space.app_version.len() + self.escaped_kind.len() + 24,
        );
        base.push_str(&self.space.prefix);
        base.push(':');
        base.push_str(&self.space.app_version);
        base.push(':');
        if self.hash_tag {
            base.push('{');
            base.push_str(&self.escaped_kind);
            base.push('}');
        } else {
            base.push_str(&self.escaped_kind);
        }
        let _ = write!(base, ":s{}", self.schema);
        if self.generation != 0 {
            let _ = write!(base, ".g{}", self.generation);
        }
        base.push(':');
        self.base = base;
        self
    }

    /// The kind, unescaped.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The schema version.
    pub fn schema(&self) -> u32 {
        self.schema
    }

    /// The generation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether the kind is hash-tagged.
    pub fn hash_tagged(&self) -> bool {
        self.hash_tag
    }

    /// The key space this kind belongs to.
    pub fn space(&self) -> &KeySpace {
        &self.space
    }

    /// The key of the entry with this id, rendered through `Display`.
    ///
    /// Fails only when the id renders as the empty string.
    pub fn key(&self, id: impl Display) -> Result<Key, KeyError> {
        // Render straight into the output when the id needs no escaping (the common case).
        let mut out = String::with_capacity(self.base.len() + 16);
        out.push_str(&self.base);
        let _ = write!(out, "{id}");
        if out.len() == self.base.len() {
            return Err(KeyError::EmptyId {
                kind: self.kind.clone(),
            });
        }
        if !is_plain_id(&out[self.base.len()..]) {
            let raw = out.split_off(self.base.len());
            push_encoded_id(&mut out, &raw);
        }
        Ok(Key::from_built(out))
    }

    /// The key of the entity that `key` (a key of `of`) names, in this kind: the same id,
    /// as encoded there (escaped or hashed ids are kept as they are). `None` when `key` is not
    /// one of `of`'s keys.
    ///
    /// ```
    /// use strata_keys::KeySpace;
    ///
    /// let space = KeySpace::new("shop", "v3")?;
    /// let (whoami, user) = (space.kind("whoami")?, space.kind("user")?.with_schema(2));
    /// let key = whoami.key("a very long id that is hashed in its key, 0123456789abcdef")?;
    /// let same = user.key("a very long id that is hashed in its key, 0123456789abcdef")?;
    /// assert_eq!(user.same_id(&key, &whoami), Some(same));
    /// # Ok::<(), strata_keys::KeyError>(())
    /// ```
    pub fn same_id(&self, key: &Key, of: &KindKeys) -> Option<Key> {
        let id = key.as_str().strip_prefix(of.base.as_str())?;
        (!id.is_empty()).then(|| Key::from_built(format!("{}{id}", self.base)))
    }

    /// The key of the entry with this id, rendered through serde.
    ///
    /// Strings, numbers and booleans give the same key as [`key`](Self::key); compound ids
    /// (tuples, structs) are rendered as compact JSON first.
    pub fn key_serde<T: serde::Serialize + ?Sized>(&self, id: &T) -> Result<Key, KeyError> {
        let text = serde_id_text(id).map_err(|reason| KeyError::IdNotSerializable {
            kind: self.kind.clone(),
            reason,
        })?;
        self.key(text)
    }

    /// `"{prefix}:{app_version}:{kind}:"` in its hash-tag form when tagged: every key of this kind,
    /// whatever its schema and generation, starts with it.
    pub fn kind_namespace(&self) -> String {
        if self.hash_tag {
            format!(
                "{}:{}:{{{}}}:",
                self.space.prefix, self.space.app_version, self.escaped_kind
            )
        } else {
            format!(
                "{}:{}:{}:",
                self.space.prefix, self.space.app_version, self.escaped_kind
            )
        }
    }

    /// Everything before the id (`"{prefix}:{app_version}:{kind}:s{schema}:"`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The key of `id` split around its schema version: the same entity's key under schema
    /// `n` is `before + n + after`.
    ///
    /// ```
    /// use strata_keys::KeySpace;
    ///
    /// let users = KeySpace::new("shop", "v3")?.kind("user")?.with_schema(2);
    /// let (before, after) = users.around_schema(42)?;
    /// assert_eq!((before.as_str(), after.as_str()), ("shop:v3:user:s", ":42"));
    /// assert_eq!(format!("{before}2{after}"), users.key(42)?.as_str());
    /// # Ok::<(), strata_keys::KeyError>(())
    /// ```
    pub fn around_schema(&self, id: impl Display) -> Result<(String, String), KeyError> {
        let key = self.clone().with_generation(0).key(id)?;
        let schema = format!("s{}:", self.schema);
        let ns = self.kind_namespace();
        let before = format!("{ns}s");
        let after = format!(":{}", &key.as_str()[ns.len() + schema.len()..]);
        Ok((before, after))
    }
}
