//! `KeyStr`: a key rendered on the stack, for lookups that need the key's text but not a `Key`.

use std::fmt::{self, Display, Write as _};

use crate::error::KeyError;
use crate::id::is_plain_id;
use crate::key::Key;
use crate::space::KindKeys;

/// Keys up to this many bytes are rendered without allocating.
const INLINE: usize = 120;

/// A key's text, rendered without allocating when it is short and its id plain (the common
/// case); otherwise the [`Key`] itself. Built by [`KindKeys::key_str`]; it derefs to `str`
/// and equals [`KindKeys::key`]'s text for the same id, so a map keyed by [`Key`] can be queried
/// with it, and [`to_key`](Self::to_key) makes the `Key` when one is needed (on a miss).
#[derive(Clone)]
pub struct KeyStr(Repr);

#[derive(Clone)]
enum Repr {
    Inline(InlineText),
    Built(Key),
}

/// Text written into a fixed buffer; a write past its end fails (and the caller falls back).
#[derive(Clone)]
struct InlineText {
    buf: [u8; INLINE],
    len: usize,
}

impl InlineText {
    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so this never fails.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for InlineText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl KeyStr {
    /// The key's text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline(t) => t.as_str(),
            Repr::Built(k) => k.as_str(),
        }
    }

    /// The [`Key`] (allocates unless the key was too long to render inline).
    pub fn to_key(&self) -> Key {
        match &self.0 {
            Repr::Inline(t) => Key::from_built(t.as_str().to_owned()),
            Repr::Built(k) => k.clone(),
        }
    }
}

impl From<Key> for KeyStr {
    fn from(key: Key) -> Self {
        Self(Repr::Built(key))
    }
}

impl std::ops::Deref for KeyStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for KeyStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for KeyStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl KindKeys {
    /// The key of `id`, as [`key`](Self::key) renders it, on the stack when it is short and
    /// the id needs no escaping: a lookup by id that hits allocates nothing.
    ///
    /// ```
    /// use strata_keys::KeySpace;
    ///
    /// let users = KeySpace::new("shop", "v3")?.kind("user")?;
    /// assert_eq!(users.key_str(42)?.as_str(), users.key(42)?.as_str());
    /// assert_eq!(users.key_str("a b")?.as_str(), users.key("a b")?.as_str());
    /// assert_eq!(users.key_str(42)?.to_key(), users.key(42)?);
    /// # Ok::<(), strata_keys::KeyError>(())
    /// ```
    pub fn key_str(&self, id: impl Display) -> Result<KeyStr, KeyError> {
        let mut text = InlineText {
            buf: [0; INLINE],
            len: 0,
        };
        let base = self.base();
        if text.write_str(base).is_ok() && write!(text, "{id}").is_ok() {
            let raw = &text.as_str()[base.len()..];
            if !raw.is_empty() && is_plain_id(raw) {
                return Ok(KeyStr(Repr::Inline(text)));
            }
        }
        // Empty, escaped, hashed or long: the allocating path says which.
        self.key(id).map(KeyStr::from)
    }
}

#[cfg(test)]
mod tests {
    use crate::KeySpace;

    #[test]
    fn renders_what_key_renders() {
        let kinds = [
            KeySpace::new("app", "v1").unwrap().kind("user").unwrap(),
            KeySpace::new("app", "v1")
                .unwrap()
                .kind("job")
                .unwrap()
                .with_schema(3)
                .with_generation(9)
                .with_hash_tag(true),
        ];
        let long = "x".repeat(200);
        let ids: [&dyn std::fmt::Display; 8] =
            [&42u64, &"alice", &"a b", &"a:b", &"é", &long, &"#x", &-1i64];
        for keys in &kinds {
            for id in ids {
                let built = keys.key(id).unwrap();
                let s = keys.key_str(id).unwrap();
                assert_eq!(s.as_str(), built.as_str(), "id {id}");
                assert_eq!(s.to_key(), built, "id {id}");
            }
            assert!(
                keys.key_str("").is_err(),
                "an empty id is refused as by key()"
            );
        }
    }
}
