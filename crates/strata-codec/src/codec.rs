//! The `Codec` trait and its two implementations.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::compress::DEFAULT_COMPRESSION_THRESHOLD;
use crate::decode::decode_envelope;
use crate::error::CodecError;
use crate::meta::{EntryMeta, Envelope, Freshness, TagVersion};
use crate::{json, msgpack};

/// The largest value accepted by default: 8 MiB, encoded (or decompressed).
pub const DEFAULT_MAX_VALUE_BYTES: usize = 8 * 1024 * 1024;

/// Turns values into envelope bytes and back.
///
/// Every codec reads every envelope (the header says which body follows), so instances using
/// different codecs can share a cache; the codec only chooses how values are written.
pub trait Codec: std::fmt::Debug + Send + Sync + 'static {
    /// Encodes `value` (`None` records an absence, for negative caching) with its metadata.
    ///
    /// Fails when the value cannot be serialized or its envelope is larger than
    /// [`max_value_bytes`](Self::max_value_bytes).
    fn encode<T: Serialize + ?Sized>(
        &self,
        meta: &EntryMeta,
        value: Option<&T>,
    ) -> Result<Bytes, CodecError> {
        self.encode_tagged(meta, &[], value)
    }

    /// [`encode`](Self::encode) for an entry with tags (at most [`MAX_TAGS`](crate::MAX_TAGS)),
    /// each with the version it has now: once a tag is invalidated, readers treat the entry as
    /// a miss.
    fn encode_tagged<T: Serialize + ?Sized>(
        &self,
        meta: &EntryMeta,
        tags: &[TagVersion],
        value: Option<&T>,
    ) -> Result<Bytes, CodecError>;

    /// Decodes an envelope; with `expected_schema`, other schema versions are rejected before
    /// the payload is decoded. Every error means "treat as miss".
    fn decode<T: DeserializeOwned>(
        &self,
        bytes: &[u8],
        expected_schema: Option<u32>,
    ) -> Result<Envelope<T>, CodecError> {
        decode_envelope(bytes, expected_schema, self.max_value_bytes())
    }

    /// Decodes an envelope as [`decode`](Self::decode) does and says where it stands at
    /// `now_ms` (milliseconds since the Unix epoch, e.g. `strata_backend::wall_clock_ms()`):
    /// [`Freshness::Fresh`], [`Freshness::Stale`] within `max_stale_ms` past its logical
    /// expiry, or [`Freshness::Expired`] (its payload left undecoded).
    fn decode_at<T: DeserializeOwned>(
        &self,
        bytes: &[u8],
        expected_schema: Option<u32>,
        now_ms: u64,
        max_stale_ms: u64,
    ) -> Result<Freshness<T>, CodecError> {
        let meta = crate::decode::peek(bytes)?.meta;
        meta.check_schema(expected_schema)?;
        if meta.is_expired_beyond(now_ms, max_stale_ms) {
            return Ok(Freshness::Expired(meta));
        }
        let envelope = self.decode(bytes, expected_schema)?;
        Ok(if envelope.meta.is_expired(now_ms) {
            Freshness::Stale(envelope)
        } else {
            Freshness::Fresh(envelope)
        })
    }

    /// The largest envelope this codec writes, and the largest payload it decompresses.
    fn max_value_bytes(&self) -> usize;
}

fn check_size(bytes: Vec<u8>, max: usize) -> Result<Bytes, CodecError> {
    if bytes.len() > max {
        return Err(CodecError::ValueTooLarge {
            size: bytes.len(),
            max,
        });
    }
    Ok(Bytes::from(bytes))
}

/// The production codec: MessagePack with named fields, lz4 above a size threshold.
///
/// ```
/// use strata_codec::{Codec, EntryMeta, MsgPackCodec};
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct User { id: u64, name: String }
///
/// let codec = MsgPackCodec::default();
/// let meta = EntryMeta::new(1_700_000_000_000, 60_000, 2);
/// let bytes = codec.encode(&meta, Some(&User { id: 1, name: "Ada".into() }))?;
/// let back = codec.decode::<User>(&bytes, Some(2))?;
/// assert_eq!(back.value.unwrap().name, "Ada");
///
/// // Another schema version is a miss, never a decode of the wrong shape.
/// assert!(codec.decode::<User>(&bytes, Some(3)).unwrap_err().is_miss());
/// # Ok::<(), strata_codec::CodecError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgPackCodec {
    compression_threshold: usize,
    max_value_bytes: usize,
}

impl Default for MsgPackCodec {
    fn default() -> Self {
        Self {
            compression_threshold: DEFAULT_COMPRESSION_THRESHOLD,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
        }
    }
}

impl MsgPackCodec {
    /// Payloads of at least `bytes` are lz4-compressed when that saves 1/8 or more;
    /// `usize::MAX` turns compression off.
    pub fn with_compression_threshold(mut self, bytes: usize) -> Self {
        self.compression_threshold = bytes;
        self
    }

    /// Sets the largest accepted envelope (default [`DEFAULT_MAX_VALUE_BYTES`]).
    pub fn with_max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// The compression threshold in bytes.
    pub fn compression_threshold(&self) -> usize {
        self.compression_threshold
    }
}

impl Codec for MsgPackCodec {
    fn encode_tagged<T: Serialize + ?Sized>(
        &self,
        meta: &EntryMeta,
        tags: &[TagVersion],
        value: Option<&T>,
    ) -> Result<Bytes, CodecError> {
        let bytes = msgpack::encode(
            meta,
            tags,
            value,
            self.compression_threshold,
            self.max_value_bytes,
        )?;
        check_size(bytes, self.max_value_bytes)
    }

    fn max_value_bytes(&self) -> usize {
        self.max_value_bytes
    }
}

/// The debugging codec: the same header, a JSON body readable with `redis-cli GET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonCodec {
    max_value_bytes: usize,
}

impl Default for JsonCodec {
    fn default() -> Self {
        Self {
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
        }
    }
}

impl JsonCodec {
    /// Sets the largest accepted envelope (default [`DEFAULT_MAX_VALUE_BYTES`]).
    pub fn with_max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }
}

impl Codec for JsonCodec {
    fn encode_tagged<T: Serialize + ?Sized>(
        &self,
        meta: &EntryMeta,
        tags: &[TagVersion],
        value: Option<&T>,
    ) -> Result<Bytes, CodecError> {
        check_size(json::encode(meta, tags, value)?, self.max_value_bytes)
    }

    fn max_value_bytes(&self) -> usize {
        self.max_value_bytes
    }
}
