//! The MessagePack body: `[created_at_ms, expires_at_ms, schema, payload]`, followed by
//! `generation` when the kind has been cleared, and `[[tag, version], ...]` when the entry has
//! tags (readers of the 4-element body ignore both).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::compress::{compress, decompress};
use crate::error::CodecError;
use crate::header::{Flags, write_header};
use crate::meta::{EntryMeta, TagVersion};

mod body;

/// Deepest nesting of arrays and maps accepted in a payload (serde_json's limit too).
const MAX_NESTING: usize = 128;

/// Number of elements every body has (readers accept more).
const BODY_FIELDS: u32 = 4;

/// The most tags one entry may carry.
pub const MAX_TAGS: usize = 64;

fn malformed(what: impl std::fmt::Display) -> CodecError {
    CodecError::Malformed(what.to_string())
}

/// rmp-serde's reader of `bytes`, refusing values nested `levels` deep (its default, 1024,
/// overflows small thread stacks on hostile input).
fn reader(
    bytes: &[u8],
    levels: usize,
) -> rmp_serde::Deserializer<rmp_serde::decode::ReadRefReader<'_, [u8]>> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    de.set_max_depth(levels);
    de
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
    if out.len() - payload_start >= compression_threshold
        && let Some(block) = compress(&out[payload_start..])
    {
        out.truncate(payload_start);
        let len = u32::try_from(block.len()).map_err(|_| CodecError::ValueTooLarge {
            size: block.len(),
            max: u32::MAX as usize,
        })?;
        rmp::encode::write_bin_len(&mut out, len).map_err(|e| io(e.into()))?;
        out.extend_from_slice(&block);
        out[3] |= Flags::COMPRESSED;
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
    // The buffer may have grown to the uncompressed size (or by doubling): an entry held for
    // its TTL must not keep the slack.
    if out.capacity() > out.len() + out.len() / 4 + 64 {
        out.shrink_to_fit();
    }
    Ok(out)
}

/// Steps over one MessagePack value by its markers and lengths alone (no decoding, no UTF-8
/// check, no allocation): how a reader reaches the fields after the payload. Nesting is bounded
/// like the payload's own decoding.
fn skip_value(rd: &mut &[u8], depth: usize) -> Result<(), CodecError> {
    use rmp::Marker as M;
    fn take<'a>(rd: &mut &'a [u8], n: usize) -> Result<&'a [u8], CodecError> {
        if rd.len() < n {
            return Err(CodecError::Truncated(
                "payload shorter than its lengths say",
            ));
        }
        let (head, rest) = rd.split_at(n);
        *rd = rest;
        Ok(head)
    }
    fn len(rd: &mut &[u8], bytes: usize) -> Result<usize, CodecError> {
        let b = take(rd, bytes)?;
        Ok(b.iter().fold(0usize, |n, x| (n << 8) | usize::from(*x)))
    }
    if depth > MAX_NESTING {
        return Err(malformed(format!(
            "payload nested deeper than {MAX_NESTING} levels"
        )));
    }
    let marker =
        rmp::decode::read_marker(rd).map_err(|_| CodecError::Truncated("payload missing"))?;
    let (bytes, items) = match marker {
        M::Null | M::True | M::False | M::FixPos(_) | M::FixNeg(_) => (0, 0),
        M::U8 | M::I8 => (1, 0),
        M::U16 | M::I16 => (2, 0),
        M::U32 | M::I32 | M::F32 => (4, 0),
        M::U64 | M::I64 | M::F64 => (8, 0),
        M::FixStr(n) => (usize::from(n), 0),
        M::Str8 | M::Bin8 => (len(rd, 1)?, 0),
        M::Str16 | M::Bin16 => (len(rd, 2)?, 0),
        M::Str32 | M::Bin32 => (len(rd, 4)?, 0),
        M::FixArray(n) => (0, usize::from(n)),
        M::Array16 => (0, len(rd, 2)?),
        M::Array32 => (0, len(rd, 4)?),
        M::FixMap(n) => (0, 2 * usize::from(n)),
        M::Map16 => (0, 2 * len(rd, 2)?),
        M::Map32 => (0, 2 * len(rd, 4)?),
        M::FixExt1 => (2, 0),
        M::FixExt2 => (3, 0),
        M::FixExt4 => (5, 0),
        M::FixExt8 => (9, 0),
        M::FixExt16 => (17, 0),
        M::Ext8 => (1 + len(rd, 1)?, 0),
        M::Ext16 => (1 + len(rd, 2)?, 0),
        M::Ext32 => (1 + len(rd, 4)?, 0),
        M::Reserved => return Err(malformed("payload holds the reserved marker 0xc1")),
    };
    take(rd, bytes)?;
    for _ in 0..items {
        skip_value(rd, depth + 1)?;
    }
    Ok(())
}

/// The generation of a body whose payload starts `payload` (`fields` is the body's element
/// count; 0 for a 4-element body), the payload stepped over rather than decoded: what reading
/// an entry's metadata alone needs.
pub(crate) fn read_generation(payload: &[u8], fields: u32) -> Result<u64, CodecError> {
    if fields <= BODY_FIELDS {
        return Ok(0);
    }
    let mut rd = payload;
    skip_value(&mut rd, 0)?;
    rmp::decode::read_int(&mut rd)
        .map_err(|e| malformed(format!("generation is not an unsigned integer: {e}")))
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

/// A compressed payload's (block length, uncompressed length), from the bin header and the
/// block's size prefix.
pub(crate) fn compressed_sizes(payload: &[u8]) -> Option<(usize, usize)> {
    let mut rd = payload;
    let block = rmp::decode::read_bin_len(&mut rd).ok()? as usize;
    let prefix = rd.first_chunk::<4>()?;
    Some((block, u32::from_le_bytes(*prefix) as usize))
}

/// Decodes a body whose metadata was read (and checked) already: its value (`None` for an
/// absence), generation and tags, in one pass over the body.
pub(crate) fn decode_body<T: DeserializeOwned>(
    flags: Flags,
    body: &[u8],
    max_value_bytes: usize,
) -> Result<(Option<T>, u64, Vec<TagVersion>), CodecError> {
    let expect = if flags.absent() {
        body::Expect::Nil
    } else if flags.compressed() {
        body::Expect::Block
    } else {
        body::Expect::Value
    };
    let read = body::decode::<T>(body, expect)?;
    let value = match read.payload {
        body::Payload::Value(value) => Some(value),
        body::Payload::Nil => None,
        body::Payload::Block(block) => {
            let raw = decompress(block, max_value_bytes)?;
            let mut de = reader(&raw, MAX_NESTING);
            Some(T::deserialize(&mut de).map_err(|e| malformed(format!("payload: {e}")))?)
        }
    };
    Ok((value, read.generation, read.tags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compressed_entry_keeps_no_slack_and_knows_its_decoded_size() {
        let text = "lorem ipsum dolor sit amet, ".repeat(32_000); // 896 KB, compresses well
        let meta = EntryMeta::new(1, 2, 1);
        let tags = [TagVersion {
            tag: "user:1".into(),
            version: 3,
        }];
        let out = encode(&meta, &tags, Some(&text), 1024, 8 << 20).unwrap();
        assert!(out.len() < 20_000, "compressed to {}", out.len());
        assert!(
            out.capacity() <= out.len() + out.len() / 4 + 64,
            "the encoder kept {} bytes of capacity for {} bytes",
            out.capacity(),
            out.len()
        );
        let decoded = crate::decoded_size(&out);
        assert!(
            decoded >= text.len() && decoded < text.len() + 100,
            "decoded size {decoded}"
        );
        // Uncompressed and foreign bytes are their own size.
        let small = encode(&meta, &[], Some(&"hi"), 1024, 8 << 20).unwrap();
        assert_eq!(crate::decoded_size(&small), small.len());
        assert_eq!(crate::decoded_size(b"junk"), 4);
    }

    #[test]
    fn skipping_a_value_consumes_exactly_its_bytes() {
        let long = "x".repeat(70_000);
        let value = serde_json::json!({
            "ints": [0, 1, -1, 127, 128, -33, 255, 256, 65_535, 65_536, -40_000, u64::MAX, i64::MIN],
            "floats": [0.5, -1.25e300],
            "strs": ["", "short", "a".repeat(40), "b".repeat(300), long],
            "nested": {"a": {"b": [[], {}, null, true, false]}},
            "map16": (0..20)
                .map(|i| (i.to_string(), serde_json::Value::from(i)))
                .collect::<serde_json::Map<_, _>>(),
            "array16": (0..20).collect::<Vec<_>>(),
        });
        // Binary and extension markers (which serde_json values never produce), then the rest.
        let mut bytes = Vec::new();
        rmp::encode::write_array_len(&mut bytes, 5).unwrap();
        rmp::encode::write_bin(&mut bytes, &[1, 2, 3]).unwrap();
        rmp::encode::write_bin(&mut bytes, &vec![7; 300]).unwrap();
        rmp::encode::write_ext_meta(&mut bytes, 4, 1).unwrap();
        bytes.extend_from_slice(&[9; 4]);
        rmp::encode::write_ext_meta(&mut bytes, 3, 2).unwrap();
        bytes.extend_from_slice(&[9; 3]);
        bytes.extend(rmp_serde::to_vec_named(&value).unwrap());
        let mut with_tail = bytes.clone();
        with_tail.extend_from_slice(&[0xCD, 1, 2]);
        let mut rd = &with_tail[..];
        skip_value(&mut rd, 0).unwrap();
        assert_eq!(rd, &[0xCD, 1, 2]);

        // Truncated and hostile inputs are errors, never panics.
        for cut in 0..bytes.len() {
            let mut rd = &bytes[..cut];
            assert!(skip_value(&mut rd, 0).is_err(), "cut at {cut}");
        }
        let deep = vec![0x91u8; 10_000];
        assert!(skip_value(&mut &deep[..], 0).is_err());
        assert!(skip_value(&mut &[0xC1u8][..], 0).is_err());
    }
}
