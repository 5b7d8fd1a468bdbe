//! Request bodies of the admin routes: bounded, JSON, errors that say what was expected.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The JSON body of an admin request: 413 beyond `max_bytes`, 400 when it is not `expected`.
pub(crate) fn json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    max_bytes: usize,
    expected: &str,
) -> Result<T, ApiError> {
    let body = body.map_err(|e| {
        ApiError::new(
            e.status(),
            format!("could not read the request body: {}", e.body_text()),
        )
    })?;
    if body.len() > max_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body of {} bytes exceeds the limit of {max_bytes}",
                body.len(),
            ),
        ));
    }
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, format!("malformed JSON body: {e}"))
            .with(serde_json::json!({ "expected": expected }))
    })
}
