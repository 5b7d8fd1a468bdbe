//! The MessagePack body: `[created_at_ms, expires_at_ms, schema, payload]`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::compress::{compress, decompress};
use crate::error::CodecError;
use crate::header::{Flags, write_header};
use crate::meta::EntryMeta;

/// Deepest nesting of arrays and maps accepted in a payload (serde_json's limit too).
const MAX_NESTING: usize = 128;

/// Number of elements in the body array written by this version (readers accept more).
const BODY_FIELDS: u32 = 4;

fn malformed(what: impl std::fmt::Display) -> CodecError {
    CodecError::Malformed(what.to_string())
}

/// Encodes a full envelope (header included).
pub(crate) fn encode<T: Serialize + ?Sized>(
    meta: &EntryMeta,
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
    rmp::encode::write_array_len(&mut out, BODY_FIELDS).map_err(|e| io(e.into()))?;
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
    Ok(out)
}

/// Reads the metadata from a MessagePack body and returns it with the payload bytes.
pub(crate) fn read_meta(body: &[u8]) -> Result<(EntryMeta, &[u8]), CodecError> {
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
    };
    Ok((meta, rd))
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
