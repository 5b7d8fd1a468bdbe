//! The JSON body of the debugging codec: `[created_at_ms, expires_at_ms, schema, payload]`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::CodecError;
use crate::header::{Flags, write_header};
use crate::meta::{EntryMeta, Envelope};

/// Encodes a full envelope with a JSON body.
pub(crate) fn encode<T: Serialize + ?Sized>(
    meta: &EntryMeta,
    value: Option<&T>,
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(128);
    let flags = Flags::default()
        .with(Flags::JSON, true)
        .with(Flags::ABSENT, value.is_none());
    write_header(&mut out, flags);
    let body = (meta.created_at_ms, meta.expires_at_ms, meta.schema, value);
    serde_json::to_writer(&mut out, &body).map_err(|e| CodecError::Encode(e.to_string()))?;
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
    let (created_at_ms, expires_at_ms, schema, payload): (u64, u64, u32, serde_json::Value) =
        serde_json::from_slice(body)
            .map_err(|e| CodecError::Malformed(format!("JSON body: {e}")))?;
    let meta = EntryMeta {
        created_at_ms,
        expires_at_ms,
        schema,
    };
    crate::decode::check_schema(&meta, expected_schema)?;
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
    Ok(Envelope { meta, value })
}
