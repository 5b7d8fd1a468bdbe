//! `POST warm/`: warms a kind from a list of ids through its owned loader (token).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::extract::rejection::BytesRejection;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use strata::{Error, WarmOptions, WarmProgress};

use super::{State, auth, body};
use crate::error::ApiError;

/// The most ids one request may warm (a client sends more in several requests).
const MAX_IDS: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WarmRequest {
    kind: String,
    ids: Vec<serde_json::Value>,
    #[serde(default)]
    concurrency: Option<usize>,
}

/// `{"kind": "job", "ids": [1, 2, 3], "concurrency": 8}`: loads each id not cached through the
/// kind's owned loader; answers the counts (`total`, `done`, `cached`, `loaded`, `failed`).
pub(crate) async fn handler(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WarmProgress>, ApiError> {
    auth::check(&headers, state.config.admin_token.as_deref())?;
    let req: WarmRequest = body::json(
        body,
        state.config.max_body_bytes,
        "{\"kind\": \"job\", \"ids\": [1, 2, 3], \"concurrency\": 8}",
    )?;
    if req.ids.len() > MAX_IDS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{} ids: at most {MAX_IDS} per request", req.ids.len()),
        ));
    }
    let ids = req
        .ids
        .into_iter()
        .map(|id| match id {
            serde_json::Value::String(s) => Ok(s),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            other => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("id {other}: ids are strings or numbers"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut options = WarmOptions::new();
    if let Some(n) = req.concurrency {
        options = options.concurrency(n.clamp(1, 64));
    }
    match state.cache.admin().warm(&req.kind, ids, options).await {
        Ok(progress) => Ok(Json(progress)),
        Err(e @ Error::NoLoader { .. }) => Err(ApiError::new(StatusCode::NOT_FOUND, e.to_string())),
        Err(e) => Err(ApiError::new(StatusCode::BAD_REQUEST, e.to_string())),
    }
}
