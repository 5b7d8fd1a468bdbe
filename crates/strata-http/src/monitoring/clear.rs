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
    key: Option<String>,
    tag: Option<String>,
    all: Option<bool>,
}

pub(crate) async fn handler(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth::check(&headers, state.config.admin_token.as_deref())?;
    let req: ClearRequest = body::json(
        body,
        state.config.max_body_bytes,
        "{\"kind\": \"user\"} | {\"key\": \"...\"} | {\"tag\": \"user:42\"} | {\"all\": true}",
    )?;
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
            "give exactly one of `kind`, `key`, `tag`, `all`",
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

/// Kinds this cache knows: declared, configured, or counted.
pub(crate) fn known_kinds(cache: &strata::Cache) -> Vec<String> {
    cache.known_kinds()
}
