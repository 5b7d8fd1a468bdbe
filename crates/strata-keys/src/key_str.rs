//! `KeyStr`: a key rendered into a reused buffer, for lookups that need the key's text but not a `Key`.

use std::cell::Cell;
use std::fmt::{self, Display, Write as _};

use crate::error::KeyError;
use crate::id::is_plain_id;
use crate::key::Key;
use crate::space::KindKeys;

/// The most bytes a thread keeps for rendering keys (a longer key's buffer is let go).
const KEEP: usize = 256;

thread_local! {
    /// The buffer the next [`KeyStr`] renders into: taken by it, given back when it drops, so
    /// a thread's lookups by id reuse one allocation.
    static BUFFER: Cell<String> = const { Cell::new(String::new()) };
}

/// A key's text, rendered into a buffer the thread reuses when the id is plain (the common
/// case); otherwise the [`Key`] itself. Built by [`KindKeys::key_str`]; it derefs to `str`
/// and equals [`KindKeys::key`]'s text for the same id, so a map keyed by [`Key`] can be
/// queried with it, and [`to_key`](Self::to_key) makes the `Key` when one is needed (on a
/// miss). A lookup by id that hits thus allocates nothing once the thread has rendered a key.
pub struct KeyStr(Repr);

enum Repr {
    Rendered(String),
    Built(Key),
}

impl Drop for KeyStr {
    fn drop(&mut self) {
        if let Repr::Rendered(text) = &mut self.0
            && text.capacity() <= KEEP
        {
            let mut text = std::mem::take(text);
            text.clear();
            // After the thread's locals are gone (at its exit) the buffer is simply freed.
            let _ = BUFFER.try_with(|b| {
                let held = b.take();
                b.set(if held.capacity() >= text.capacity() {
                    held
                } else {
                    text
                });
            });
        }
    }
}

impl Clone for KeyStr {
    fn clone(&self) -> Self {
        match &self.0 {
            Repr::Rendered(t) => Self(Repr::Rendered(t.clone())),
            Repr::Built(k) => Self(Repr::Built(k.clone())),
        }
    }
}

impl KeyStr {
    /// The key's text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Rendered(t) => t,
            Repr::Built(k) => k.as_str(),
        }
    }

    /// The [`Key`] (allocates unless it was built as one).
    pub fn to_key(&self) -> Key {
        match &self.0 {
            Repr::Rendered(t) => Key::from_built_str(t),
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
    /// The key of `id`, as [`key`](Self::key) renders it, in the thread's reused buffer when
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
        let mut text = BUFFER.try_with(Cell::take).unwrap_or_default();
        let base = self.base();
        text.push_str(base);
        let _ = write!(text, "{id}");
        let raw = &text[base.len()..];
        if !raw.is_empty() && is_plain_id(raw) {
            return Ok(KeyStr(Repr::Rendered(text)));
        }
        // Give the buffer back; the allocating path escapes, hashes or refuses the id.
        drop(KeyStr(Repr::Rendered(text)));
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
