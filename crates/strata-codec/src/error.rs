//! The error type of encoding and decoding.

/// Why a value could not be encoded, or bytes could not be decoded.
///
/// Every decoding error means "treat as miss": the bytes under the key are not a value this
/// reader can use (foreign, corrupt, from a newer format, or of another schema version), and the
/// caller should load the value afresh. [`CodecError::is_miss`] says so in code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes do not start with the envelope magic: not written by Strata.
    #[error("not a Strata envelope: bad magic bytes (treat as miss)")]
    BadMagic,
    /// The bytes end before the envelope does.
    #[error("truncated envelope: {0} (treat as miss)")]
    Truncated(&'static str),
    /// The envelope's format version is newer than this reader.
    #[error("unsupported envelope format version {0} (this reader knows 1; treat as miss)")]
    UnsupportedVersion(u8),
    /// The header holds flags this reader does not know.
    #[error("envelope has unknown flags {0:#010b} (treat as miss)")]
    UnknownFlags(u8),
    /// The body is not the documented array, or the payload does not fit the requested type.
    #[error("malformed envelope: {0} (treat as miss)")]
    Malformed(String),
    /// The entry was written under another schema version of its kind.
    #[error("schema version {found} does not match the expected {expected} (treat as miss)")]
    SchemaMismatch {
        /// The schema version in the entry.
        found: u32,
        /// The schema version the reader expects.
        expected: u32,
    },
    /// The entry was cached as "absent" (negative caching) but the reader asked for a value.
    #[error("entry holds a cached absence, not a value (treat as miss)")]
    CachedAbsence,
    /// A compressed payload claims to decompress to more than the configured maximum.
    #[error(
        "compressed payload of {size} bytes exceeds the maximum of {max} bytes (treat as miss)"
    )]
    DecompressedTooLarge {
        /// The decompressed size the payload claims.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A value to be written is larger than the configured maximum.
    #[error("value of {size} bytes exceeds the maximum of {max} bytes")]
    ValueTooLarge {
        /// Its size in bytes.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The value could not be serialized.
    #[error("value could not be serialized: {0}")]
    Encode(String),
}

impl CodecError {
    /// Whether this error means "the entry is unusable, treat it as a miss" (every decoding
    /// error), as opposed to a value the caller tried to write.
    pub fn is_miss(&self) -> bool {
        !matches!(self, Self::Encode(_) | Self::ValueTooLarge { .. })
    }
}
