//! Decoding shared by every codec: the header says which body follows.

use serde::de::DeserializeOwned;

use crate::error::CodecError;
use crate::header::read_header;
use crate::meta::{EntryInfo, Envelope};
use crate::{json, msgpack};

/// Decodes any envelope (MessagePack or JSON body, compressed or not).
///
/// With `expected_schema`, an entry of another schema version is rejected before its payload is
/// touched. Never panics: any byte string gives either a value or an error that means "treat as
/// miss".
pub fn decode_envelope<T: DeserializeOwned>(
    bytes: &[u8],
    expected_schema: Option<u32>,
    max_value_bytes: usize,
) -> Result<Envelope<T>, CodecError> {
    let (flags, body) = read_header(bytes)?;
    if flags.json() {
        return json::decode(flags, body, expected_schema);
    }
    let (mut meta, _, _) = msgpack::read_meta(body)?;
    meta.check_schema(expected_schema)?;
    let (value, generation, tags) = msgpack::decode_body(flags, body, max_value_bytes)?;
    meta.generation = generation;
    Ok(Envelope { meta, tags, value })
}

/// The size of an envelope with its payload uncompressed: a lower bound of what its decoded
/// value holds in memory, and the weight the in-process tier charges it (a compressed
/// envelope of 100 KiB may decode to a 900 KiB value), and never less than the envelope's own
/// length. Undecodable bytes: their length.
pub fn decoded_size(bytes: &[u8]) -> usize {
    let Ok((flags, body)) = read_header(bytes) else {
        return bytes.len();
    };
    if flags.json() || !flags.compressed() {
        return bytes.len();
    }
    msgpack::read_meta(body)
        .ok()
        .and_then(|(_, payload, _)| msgpack::compressed_sizes(payload))
        .map_or(bytes.len(), |(block, raw)| {
            bytes
                .len()
                .saturating_sub(block)
                .saturating_add(raw)
                .max(bytes.len())
        })
}

/// Reads the header and metadata of an envelope without decoding its payload.
pub fn peek(bytes: &[u8]) -> Result<EntryInfo, CodecError> {
    let (flags, body) = read_header(bytes)?;
    let meta = if flags.json() {
        json::read_meta(body)?.0
    } else {
        let (mut meta, payload, fields) = msgpack::read_meta(body)?;
        meta.generation = msgpack::read_generation(payload, fields)?;
        meta
    };
    Ok(EntryInfo {
        meta,
        flags,
        encoded_len: bytes.len(),
    })
}
