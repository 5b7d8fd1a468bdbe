//! The JSON body of the debugging codec: `[created_at_ms, expires_at_ms, schema, payload]`,
//! then `generation` and `[[tag, version], ...]` as in the MessagePack body.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::CodecError;
use crate::header::{Flags, write_header};
use crate::meta::{EntryMeta, Envelope, TagVersion};

/// Encodes a full envelope with a JSON body.
pub(crate) fn encode<T: Serialize + ?Sized>(
    meta: &EntryMeta,
    tags: &[TagVersion],
    value: Option<&T>,
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(128);
    let flags = Flags::default()
        .with(Flags::JSON, true)
        .with(Flags::ABSENT, value.is_none());
    write_header(&mut out, flags);
    let err = |e: serde_json::Error| CodecError::Encode(e.to_string());
    let (c, e, s) = (meta.created_at_ms, meta.expires_at_ms, meta.schema);
    if !tags.is_empty() {
        let tags: Vec<(&str, u64)> = tags.iter().map(|t| (t.tag.as_str(), t.version)).collect();
        serde_json::to_writer(&mut out, &(c, e, s, value, meta.generation, tags)).map_err(err)?;
    } else if meta.generation != 0 {
        serde_json::to_writer(&mut out, &(c, e, s, value, meta.generation)).map_err(err)?;
    } else {
        serde_json::to_writer(&mut out, &(c, e, s, value)).map_err(err)?;
    }
    Ok(out)
}

/// Decodes a JSON body; the schema is checked before the payload is converted.
pub(crate) fn decode<T: DeserializeOwned>(
    flags: Flags,
    body: &[u8],
    expected_schema: Option<u32>,
) -> Result<Envelope<T>, CodecError> {
    if flags.compressed() {
        return Err(CodecError::Malformed("JSON body marked compressed".into()));
    }
    let (meta, mut fields) = read_meta(body)?;
    meta.check_schema(expected_schema)?;
    let payload = std::mem::take(&mut fields[3]);
    let tags = match fields.get(5) {
        None => Vec::new(),
        Some(t) => serde_json::from_value::<Vec<(String, u64)>>(t.clone())
            .map_err(|e| CodecError::Malformed(format!("JSON tags: {e}")))?
            .into_iter()
            .map(|(tag, version)| TagVersion { tag, version })
            .collect(),
    };
    let value = if flags.absent() {
        if !payload.is_null() {
            return Err(CodecError::Malformed(
                "absence entry whose payload is not null".into(),
            ));
        }
        None
    } else {
        Some(
            serde_json::from_value(payload)
                .map_err(|e| CodecError::Malformed(format!("payload: {e}")))?,
        )
    };
    Ok(Envelope { meta, tags, value })
}

/// Reads the metadata of a JSON body; returns it with the body's elements.
pub(crate) fn read_meta(body: &[u8]) -> Result<(EntryMeta, Vec<serde_json::Value>), CodecError> {
    let bad = |what: &str| CodecError::Malformed(format!("JSON body: {what}"));
    let fields: Vec<serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| bad(&e.to_string()))?;
    if fields.len() < 4 {
        return Err(bad(&format!(
            "{} elements, expected at least 4",
            fields.len()
        )));
    }
    let uint = |i: usize, name: &str| {
        fields[i]
            .as_u64()
            .ok_or_else(|| bad(&format!("{name} is not an unsigned integer")))
    };
    let meta = EntryMeta {
        created_at_ms: uint(0, "created_at")?,
        expires_at_ms: uint(1, "expires_at")?,
        schema: u32::try_from(uint(2, "schema")?)
            .map_err(|_| bad("schema is not a 32-bit unsigned integer"))?,
        generation: match fields.get(4) {
            None => 0,
            Some(_) => uint(4, "generation")?,
        },
    };
    Ok((meta, fields))
}
