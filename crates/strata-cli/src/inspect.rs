//! `strata inspect KEY`: one entry decoded for people, response-cache entries included.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow};
use serde_json::{Value, json};
use strata::{Backend, Codec, Key, KeyId, KeyTtl, MsgPackCodec, RedisBackend};

/// A response stored by the response cache (wire-format.md §4.2).
#[derive(serde::Deserialize)]
struct StoredResponse {
    status: u16,
    headers: Vec<(String, String)>,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    etag: String,
}

pub(crate) async fn inspect(backend: &RedisBackend, key: &str) -> Result<()> {
    let bytes = backend
        .get(key)
        .await
        .map_err(|e| anyhow!("GET failed: {}", e.message()))?
        .ok_or_else(|| anyhow!("no entry under {key:?}"))?;
    let ttl = backend
        .ttl(key)
        .await
        .map_err(|e| anyhow!("PTTL failed: {}", e.message()))?;
    let info = strata_codec::peek(&bytes).map_err(|e| {
        anyhow!(
            "{key:?} holds {} bytes that are not a Strata entry: {e}",
            bytes.len()
        )
    })?;
    let value = payload(&bytes).map_err(|e| anyhow!("{key:?}: {e}"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let meta = info.meta;
    let out = json!({
        "key": key,
        "parts": parts(key),
        "size_bytes": bytes.len(),
        "format": if info.flags.json() { "json" } else { "msgpack" },
        "compressed": info.flags.compressed(),
        "absent": info.flags.absent(),
        "schema": meta.schema,
        "created_at": crate::commands::rfc3339(meta.created_at_ms),
        "age": crate::commands::human(now.saturating_sub(meta.created_at_ms)),
        "expires_at": (meta.expires_at_ms != 0).then(|| crate::commands::rfc3339(meta.expires_at_ms)),
        "fresh": !meta.is_expired(now),
        "ttl_remaining": match ttl {
            KeyTtl::Expires(d) => crate::commands::human(d.as_millis() as u64),
            KeyTtl::Persistent => "never expires".into(),
            KeyTtl::Missing => "gone".into(),
        },
        "value": value,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// The key's parts, when it is a Strata key.
fn parts(key: &str) -> Option<Value> {
    Key::parse(key).ok().map(|p| {
        json!({
            "prefix": p.prefix, "app_version": p.app_version, "kind": p.kind,
            "schema": p.schema, "generation": p.generation, "hash_tagged": p.hash_tagged,
            "id": match p.id { KeyId::Plain(s) => s, KeyId::Hashed(h) => format!("(hashed) {h}") },
        })
    })
}

/// The payload as JSON: any value that maps onto JSON, or a stored response with its body as
/// JSON (when its content type says so and it parses) or text.
fn payload(bytes: &[u8]) -> Result<Value> {
    let codec = MsgPackCodec::default();
    let generic = match codec.decode::<Value>(bytes, None) {
        Ok(v) => return Ok(v.value.unwrap_or(Value::Null)),
        Err(e) => e,
    };
    match codec.decode::<StoredResponse>(bytes, None) {
        Ok(r) => Ok(r.value.map_or(Value::Null, response)),
        Err(_) => Err(anyhow!("the entry's payload does not decode: {generic}")),
    }
}

fn response(r: StoredResponse) -> Value {
    let content_type = r
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    let body_bytes = r.body.len();
    let body = match String::from_utf8(r.body) {
        Ok(text) if content_type.contains("json") => {
            serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text))
        }
        Ok(text) => Value::String(text),
        Err(e) => Value::String(format!("({} bytes of binary data)", e.as_bytes().len())),
    };
    json!({
        "response": {
            "status": r.status,
            "headers": r.headers,
            "etag": r.etag,
            "body_bytes": body_bytes,
            "body": body,
        }
    })
}
