//! `POST clear-cache/`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::extract::rejection::BytesRejection;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::{State, auth, body};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClearRequest {
    kind: Option<String>,
    /// With `kind`: one entity of the kind (a string or a number), under every schema.
    id: Option<serde_json::Value>,
    key: Option<String>,
    tag: Option<String>,
    all: Option<bool>,
}

const EXPECTED: &str = "{\"kind\": \"user\"} | {\"kind\": \"user\", \"id\": 42} | {\"key\": \"...\"} | {\"tag\": \"user:42\"} | {\"all\": true}";

pub(crate) async fn handler(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth::check(&headers, state.config.admin_token.as_deref())?;
    let req: ClearRequest = body::json(body, state.config.max_body_bytes, EXPECTED)?;
    let cache = &state.cache;
    let chosen = [
        req.kind.is_some(),
        req.key.is_some(),
        req.tag.is_some(),
        req.all.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if chosen != 1 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "give exactly one of `kind` (with an optional `id`), `key`, `tag`, `all`",
        ));
    }
    if req.id.is_some() && req.kind.is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "`id` goes with `kind`: {\"kind\": \"user\", \"id\": 42}",
        ));
    }
    let server_error = |e: strata::Error| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the cache backend failed: {e}"),
        )
    };
    if let Some(kind) = req.kind {
        let known = known_kinds(cache);
        if !known.contains(&kind) {
            return Err(
                ApiError::new(StatusCode::NOT_FOUND, format!("unknown kind {kind:?}"))
                    .with(serde_json::json!({ "known_kinds": known })),
            );
        }
        if let Some(id) = req.id {
            let id = match id {
                serde_json::Value::String(s) if !s.is_empty() => s,
                serde_json::Value::Number(n) => n.to_string(),
                other => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("`id` must be a non-empty string or a number, got {other}"),
                    ));
                }
            };
            return clear_entity(cache, kind, id).await;
        }
        let generation = cache.clear_kind(&kind).await.map_err(server_error)?;
        return Ok(Json(
            serde_json::json!({ "cleared": "kind", "kind": kind, "generation": generation }),
        ));
    }
    if let Some(key) = req.key {
        if !key.starts_with(cache.backend().namespace()) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "key {key:?} is outside this cache's namespace {:?}",
                    cache.backend().namespace()
                ),
            ));
        }
        let removed = cache.delete_key(&key).await.map_err(server_error)?;
        return Ok(Json(
            serde_json::json!({ "cleared": "key", "key": key, "removed": u64::from(removed) }),
        ));
    }
    if let Some(tag) = req.tag {
        if tag.is_empty() {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "`tag` is empty"));
        }
        let version = cache.invalidate_tag(&tag).await.map_err(server_error)?;
        return Ok(Json(
            serde_json::json!({ "cleared": "tag", "tag": tag, "version": version }),
        ));
    }
    if req.all != Some(true) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "`all` must be true"));
    }
    let removed = cache.clear().await.map_err(server_error)?;
    Ok(Json(
        serde_json::json!({ "cleared": "all", "removed": removed }),
    ))
}

/// Removes one entity of `kind` under every schema any instance registered, in both tiers and
/// on every instance (an invalidation with the one target `Target::key(kind, id)`).
async fn clear_entity(
    cache: &strata::Cache,
    kind: String,
    id: String,
) -> Result<Json<serde_json::Value>, ApiError> {
    let target_kind = kind.clone();
    let rules = strata::Rules::new().on("clear-cache", move |id| {
        vec![strata::Target::key(target_kind.clone(), id)]
    });
    let done = cache
        .invalidate(&rules, "clear-cache", &id)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the cache backend failed: {e}"),
            )
        })?;
    Ok(Json(serde_json::json!({
        "cleared": "entry",
        "kind": kind,
        "id": id,
        "removed": done.deleted,
        "deferred": done.deferred,
    })))
}

/// Kinds this cache knows: declared, configured, or counted.
pub(crate) fn known_kinds(cache: &strata::Cache) -> Vec<String> {
    cache.known_kinds()
}
