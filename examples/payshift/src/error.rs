//! Errors as JSON responses: 4xx for bad input, 404 for unknown ids, 503 when the database fails.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

/// What went wrong while answering a request.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("database error: {0}")]
    Database(String),
    /// A request axum's extractors refused: their status (413 too large, 415 not JSON, 422
    /// wrong shape, 400 bad syntax or path) and what they said.
    #[error("{1}")]
    Rejected(StatusCode, String),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e.to_string())
    }
}

impl AppError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Rejected(status, _) => *status,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (
            self.status(),
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

impl IntoResponse for &AppError {
    fn into_response(self) -> Response {
        self.clone().into_response()
    }
}

/// Parses a path id, or says exactly what is wrong with it.
fn parse_id(what: &str, raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        AppError::BadRequest(format!("{what} must be a positive integer, got {raw:?}"))
    })
}

impl From<JsonRejection> for AppError {
    fn from(e: JsonRejection) -> Self {
        let what = match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
            StatusCode::UNPROCESSABLE_ENTITY => "JSON body of the wrong shape",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "not a JSON body",
            _ => "malformed JSON body",
        };
        Self::Rejected(e.status(), format!("{what}: {}", e.body_text()))
    }
}

/// A request's JSON body; axum's rejection answers as JSON, with its own status.
pub(crate) fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, AppError> {
    b.map(|Json(v)| v).map_err(AppError::from)
}

/// The one path parameter, parsed as an id: read where the router left it, percent-decoded,
/// without a copy (axum's `Path<String>` would allocate it and run serde on every request). A
/// refused path (a segment that is not UTF-8) answers as JSON like every other error.
async fn path_id<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    what: &str,
) -> Result<i64, AppError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| AppError::Rejected(e.status(), e.body_text()))?;
    let Some((_, raw)) = params.iter().next() else {
        return Err(AppError::Rejected(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the route has no {what} parameter"),
        ));
    };
    parse_id(what, raw)
}

/// The `{user_id}` of the path: a positive integer, or a JSON 400 saying what is wrong.
pub(crate) struct UserId(pub(crate) i64);

/// The `{job_id}` of the path: a positive integer, or a JSON 400 saying what is wrong.
pub(crate) struct JobId(pub(crate) i64);

impl<S: Send + Sync> FromRequestParts<S> for UserId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        path_id(parts, state, "user_id").await.map(Self)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for JobId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        path_id(parts, state, "job_id").await.map(Self)
    }
}
