//! The Strata value envelope: MessagePack with a versioned header, lz4 compression, and a JSON
//! debug codec.
//!
//! An entry is a 4-byte header (magic `0xC1 'S'`, format version, flags) followed by a body
//! `[created_at_ms, expires_at_ms, schema, payload]`: MessagePack with named struct fields (or
//! JSON for [`JsonCodec`]). Large payloads become an lz4 block. `docs/wire-format.md` specifies it
//! byte by byte, so other languages can read and write entries.
//!
//! Decoding never panics: any byte string yields a value or a [`CodecError`] whose
//! [`is_miss`](CodecError::is_miss) says "treat as miss".
//!
//! # Usage
//!
//! ```
//! use strata_codec::{Codec, EntryMeta, MsgPackCodec, peek};
//!
//! let codec = MsgPackCodec::default();
//! let meta = EntryMeta::new(1_700_000_000_000, 15 * 60 * 1000, 1);
//! let bytes = codec.encode(&meta, Some(&vec!["rust", "redis"]))?;
//! assert_eq!(peek(&bytes)?.meta, meta);
//! let back = codec.decode::<Vec<String>>(&bytes, Some(1))?;
//! assert_eq!(back.value.unwrap(), ["rust", "redis"]);
//!
//! // Foreign bytes are a miss, not a panic.
//! assert!(codec.decode::<Vec<String>>(b"hello", None).unwrap_err().is_miss());
//! # Ok::<(), strata_codec::CodecError>(())
//! ```
//!
//! # Feature flags
//!
//! None.

mod codec;
mod compress;
mod decode;
mod error;
mod header;
mod json;
mod meta;
mod msgpack;

pub use codec::{Codec, DEFAULT_MAX_VALUE_BYTES, JsonCodec, MsgPackCodec};
pub use compress::DEFAULT_COMPRESSION_THRESHOLD;
pub use decode::{decode_envelope, decoded_size, peek};
pub use error::CodecError;
pub use header::{FORMAT_VERSION, Flags, HEADER_LEN, MAGIC};
pub use meta::{EntryInfo, EntryMeta, Envelope, Freshness, TagVersion};
pub use msgpack::MAX_TAGS;
