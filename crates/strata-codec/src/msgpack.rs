//! The MessagePack body: `[created_at_ms, expires_at_ms, schema, payload]`, followed by
//! `generation` when the kind has been cleared, and `[[tag, version], ...]` when the entry has
//! tags (readers of the 4-element body ignore both).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::compress::{compress, decompress};
use crate::error::CodecError;
use crate::header::{Flags, write_header};
use crate::meta::{EntryMeta, TagVersion};
use serde::Deserialize;

/// Deepest nesting of arrays and maps accepted in a payload (serde_json's limit too).
const MAX_NESTING: usize = 128;

/// Number of elements every body has (readers accept more).
const BODY_FIELDS: u32 = 4;

/// The most tags one entry may carry.
pub const MAX_TAGS: usize = 64;

fn malformed(what: impl std::fmt::Display) -> CodecError {
    CodecError::Malformed(what.to_string())
}

/// Encodes a full envelope (header included).
pub(crate) fn encode<T: Serialize + ?Sized>(
    meta: &EntryMeta,
    tags: &[TagVersion],
    value: Option<&T>,
    compression_threshold: usize,
    max_value_bytes: usize,
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(128);
    write_header(
        &mut out,
        Flags::default().with(Flags::ABSENT, value.is_none()),
    );
    // Writing to a Vec cannot fail; the errors below are serialization errors of the value.
    let io = |e: std::io::Error| CodecError::Encode(e.to_string());
    if tags.len() > MAX_TAGS {
        return Err(CodecError::Encode(format!(
            "{} tags on one entry, at most {MAX_TAGS} allowed",
            tags.len()
        )));
    }
    let fields = if !tags.is_empty() {
        BODY_FIELDS + 2
    } else if meta.generation != 0 {
        BODY_FIELDS + 1
    } else {
        BODY_FIELDS
    };
    rmp::encode::write_array_len(&mut out, fields).map_err(|e| io(e.into()))?;
    rmp::encode::write_uint(&mut out, meta.created_at_ms).map_err(|e| io(e.into()))?;
    rmp::encode::write_uint(&mut out, meta.expires_at_ms).map_err(|e| io(e.into()))?;
    rmp::encode::write_uint(&mut out, u64::from(meta.schema)).map_err(|e| io(e.into()))?;
    let payload_start = out.len();
    match value {
        None => rmp::encode::write_nil(&mut out).map_err(io)?,
        Some(v) => rmp_serde::encode::write_named(&mut out, v)
            .map_err(|e| CodecError::Encode(e.to_string()))?,
    }
    // Readers refuse to decompress more than their maximum, so the uncompressed size counts.
    if out.len() > max_value_bytes {
        return Err(CodecError::ValueTooLarge {
            size: out.len(),
            max: max_value_bytes,
        });
    }
    if out.len() - payload_start >= compression_threshold {
        if let Some(block) = compress(&out[payload_start..]) {
            out.truncate(payload_start);
            let len = u32::try_from(block.len()).map_err(|_| CodecError::ValueTooLarge {
                size: block.len(),
                max: u32::MAX as usize,
            })?;
            rmp::encode::write_bin_len(&mut out, len).map_err(|e| io(e.into()))?;
            out.extend_from_slice(&block);
            out[3] |= Flags::COMPRESSED;
        }
    }
    if fields > BODY_FIELDS {
        rmp::encode::write_uint(&mut out, meta.generation).map_err(|e| io(e.into()))?;
    }
    if fields > BODY_FIELDS + 1 {
        rmp::encode::write_array_len(&mut out, tags.len() as u32).map_err(|e| io(e.into()))?;
        for t in tags {
            rmp::encode::write_array_len(&mut out, 2).map_err(|e| io(e.into()))?;
            rmp::encode::write_str(&mut out, &t.tag).map_err(|e| io(e.into()))?;
            rmp::encode::write_uint(&mut out, t.version).map_err(|e| io(e.into()))?;
        }
    }
    Ok(out)
}

/// Reads the fields after the payload (`fields` is the body's element count): the generation
/// and the tags, absent from 4-element bodies. Elements beyond the sixth are ignored.
pub(crate) fn read_extras(
    after_meta: &[u8],
    fields: u32,
) -> Result<(u64, Vec<TagVersion>), CodecError> {
    if fields <= BODY_FIELDS {
        return Ok((0, Vec::new()));
    }
    let mut rd = after_meta;
    {
        let mut de = rmp_serde::Deserializer::new(&mut rd);
        de.set_max_depth(MAX_NESTING);
        serde::de::IgnoredAny::deserialize(&mut de)
            .map_err(|e| malformed(format!("payload: {e}")))?;
    }
    let generation: u64 = rmp::decode::read_int(&mut rd)
        .map_err(|e| malformed(format!("generation is not an unsigned integer: {e}")))?;
    if fields == BODY_FIELDS + 1 {
        return Ok((generation, Vec::new()));
    }
    let n = rmp::decode::read_array_len(&mut rd)
        .map_err(|e| malformed(format!("tags are not an array: {e}")))? as usize;
    if n > MAX_TAGS {
        return Err(malformed(format!("{n} tags, at most {MAX_TAGS} allowed")));
    }
    let mut tags = Vec::with_capacity(n);
    for _ in 0..n {
        let pair = rmp::decode::read_array_len(&mut rd)
            .map_err(|e| malformed(format!("tag is not an array: {e}")))?;
        if pair != 2 {
            return Err(malformed(format!("tag has {pair} elements, expected 2")));
        }
        let len = rmp::decode::read_str_len(&mut rd)
            .map_err(|e| malformed(format!("tag name is not a string: {e}")))?
            as usize;
        let name = rd
            .get(..len)
            .ok_or(CodecError::Truncated("tag name shorter than its length"))?;
        let tag = std::str::from_utf8(name)
            .map_err(|_| malformed("tag name is not UTF-8"))?
            .to_owned();
        rd = &rd[len..];
        let version: u64 = rmp::decode::read_int(&mut rd)
            .map_err(|e| malformed(format!("tag version is not an unsigned integer: {e}")))?;
        tags.push(TagVersion { tag, version });
    }
    Ok((generation, tags))
}

/// Reads the metadata from a MessagePack body and returns it with the payload bytes.
pub(crate) fn read_meta(body: &[u8]) -> Result<(EntryMeta, &[u8], u32), CodecError> {
    let mut rd = body;
    let len = rmp::decode::read_array_len(&mut rd)
        .map_err(|e| malformed(format!("body is not a MessagePack array: {e}")))?;
    if len < BODY_FIELDS {
        return Err(malformed(format!(
            "body array has {len} elements, expected at least 4"
        )));
    }
    let created_at_ms: u64 = rmp::decode::read_int(&mut rd)
        .map_err(|e| malformed(format!("created_at is not an unsigned integer: {e}")))?;
    let expires_at_ms: u64 = rmp::decode::read_int(&mut rd)
        .map_err(|e| malformed(format!("expires_at is not an unsigned integer: {e}")))?;
    let schema: u32 = rmp::decode::read_int(&mut rd)
        .map_err(|e| malformed(format!("schema is not a 32-bit unsigned integer: {e}")))?;
    let meta = EntryMeta {
        created_at_ms,
        expires_at_ms,
        schema,
        generation: 0,
    };
    Ok((meta, rd, len))
}

/// Decodes the payload that follows the metadata.
pub(crate) fn decode_payload<T: DeserializeOwned>(
    flags: Flags,
    payload: &[u8],
    max_value_bytes: usize,
) -> Result<Option<T>, CodecError> {
    if flags.absent() {
        return match payload.first() {
            Some(0xC0) => Ok(None),
            _ => Err(malformed("absence entry whose payload is not nil")),
        };
    }
    if flags.compressed() {
        let mut rd = payload;
        let len = rmp::decode::read_bin_len(&mut rd)
            .map_err(|e| malformed(format!("compressed payload is not bin: {e}")))?
            as usize;
        let block = rd.get(..len).ok_or(CodecError::Truncated(
            "compressed payload shorter than its bin length",
        ))?;
        let raw = decompress(block, max_value_bytes)?;
        return deserialize(&raw).map(Some);
    }
    deserialize(payload).map(Some)
}

fn deserialize<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.is_empty() {
        return Err(CodecError::Truncated("payload missing"));
    }
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    // rmp-serde's default (1024) overflows small thread stacks on hostile input.
    de.set_max_depth(MAX_NESTING);
    T::deserialize(&mut de).map_err(|e| malformed(format!("payload: {e}")))
}
