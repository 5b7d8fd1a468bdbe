//! `GET` and `POST caching/`: the run-time switch that turns caching off and on.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::extract::rejection::BytesRejection;
use http::HeaderMap;
use serde::Deserialize;

use super::{State, auth, body};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchRequest {
    enabled: bool,
}

/// Whether caching is on (token).
pub(crate) async fn show(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth::check(&headers, state.config.admin_token.as_deref())?;
    Ok(Json(
        serde_json::json!({ "enabled": state.cache.enabled() }),
    ))
}

/// `{"enabled": false}` turns caching off on this instance (loaders answer every read),
/// `{"enabled": true}` back on (token).
pub(crate) async fn set(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth::check(&headers, state.config.admin_token.as_deref())?;
    let req: SwitchRequest = body::json(
        body,
        state.config.max_body_bytes,
        "{\"enabled\": true} | {\"enabled\": false}",
    )?;
    let was = state.cache.enabled();
    state.cache.set_enabled(req.enabled);
    Ok(Json(
        serde_json::json!({ "enabled": req.enabled, "was": was }),
    ))
}
