//! axum's `IntoResponse` for the facade's errors (feature `axum`): a handler can return
//! `Result<_, strata::Error>` or `Result<_, strata::LoadError<E>>` and use `?`.
//!
//! Bodies are RFC 9457 problem documents (`application/problem+json`) that never carry server
//! addresses or backend messages: only what the client may act on.

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CONTENT_TYPE;

use crate::error::{Error, LoadError};

/// The problem document of `status` with `detail`.
fn problem(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

impl Error {
    /// The HTTP status this error answers with: 503 when the cache backend failed or its
    /// circuit is open (strict mode only: fail-open reads never see these), 504 for a loader
    /// timeout, 404 for a cached absence, 400 for an id no key can be made of, 500 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Backend(_) | Self::CircuitOpen => StatusCode::SERVICE_UNAVAILABLE,
            Self::LoaderTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::CachedAbsence { .. } => StatusCode::NOT_FOUND,
            Self::Key(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the response says: the message, except for backend errors (their messages name
    /// servers), which say only their kind.
    fn public_detail(&self) -> String {
        match self {
            Self::Backend(e) => format!("the cache backend failed ({})", e.kind()),
            Self::CachedAbsence { .. } => "not found".to_owned(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        problem(self.status(), &self.public_detail())
    }
}

/// A loader's error answers as the loader's type says (`E: IntoResponse`); a timeout is 504
/// and a cache failure is [`Error`]'s response.
impl<E: IntoResponse + Clone> IntoResponse for LoadError<E> {
    fn into_response(self) -> Response {
        match self {
            Self::Loader(e) => std::sync::Arc::unwrap_or_clone(e).into_response(),
            Self::Timeout(d) => Error::LoaderTimeout(d).into_response(),
            Self::Cache(e) => e.into_response(),
        }
    }
}
