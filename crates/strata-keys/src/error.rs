//! The error type of key building and parsing.

/// Why a key could not be built or parsed.
///
/// Every variant names the offending part, so a log line says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A prefix, app version or kind was empty.
    #[error("invalid key {part}: it is empty")]
    EmptySegment {
        /// Which part: "prefix", "app version" or "kind".
        part: &'static str,
    },
    /// A prefix, app version or kind was longer than [`MAX_SEGMENT_LEN`](crate::MAX_SEGMENT_LEN).
    #[error("invalid key {part} {value:?}: {len} bytes is longer than the limit of {max}")]
    SegmentTooLong {
        /// Which part.
        part: &'static str,
        /// The start of the value (at most 80 characters).
        value: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A prefix, app version or kind held whitespace or a control character.
    #[error("invalid key {part} {value:?}: it contains whitespace or a control character ({ch:?})")]
    UnsafeSegment {
        /// Which part.
        part: &'static str,
        /// The start of the value (at most 80 characters).
        value: String,
        /// The first offending character.
        ch: char,
    },
    /// An application kind used a name reserved for Strata's own entries
    /// ([`INTERNAL_KIND_PREFIX`](crate::INTERNAL_KIND_PREFIX)).
    #[error(
        "invalid key kind {value:?}: kinds starting with `__` are reserved for Strata's own entries"
    )]
    ReservedKind {
        /// The start of the name (at most 80 characters).
        value: String,
    },
    /// An id rendered to the empty string.
    #[error("invalid key id for kind {kind:?}: the id is empty")]
    EmptyId {
        /// The kind the id was meant for.
        kind: String,
    },
    /// A serde id could not be serialized.
    #[error("invalid key id for kind {kind:?}: it could not be serialized: {reason}")]
    IdNotSerializable {
        /// The kind the id was meant for.
        kind: String,
        /// What serde said.
        reason: String,
    },
    /// [`Key::parse`](crate::Key::parse) was given a string that is not a Strata key.
    #[error("not a Strata key ({reason}): {key:?}")]
    NotAStrataKey {
        /// The start of the string (at most 80 characters).
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The first 80 characters of `s`, for error messages.
pub(crate) fn excerpt(s: &str) -> String {
    s.chars().take(80).collect()
}
