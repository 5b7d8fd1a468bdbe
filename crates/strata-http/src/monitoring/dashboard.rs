//! `GET /`: the dashboard page, self-contained (inline CSS, JS and SVG charts; works offline).

use axum::response::{Html, IntoResponse};

const PAGE: &str = include_str!("dashboard.html");

pub(crate) async fn page() -> impl IntoResponse {
    ([(http::header::CACHE_CONTROL, "no-store")], Html(PAGE))
}

/// Serves the page at the mount point with a trailing slash too (`/core/monitoring/`), which a
/// nested `/` route does not match; anything else is a JSON 404.
pub(crate) async fn fallback(uri: http::Uri) -> axum::response::Response {
    if matches!(uri.path(), "" | "/") {
        return page().await.into_response();
    }
    crate::error::ApiError::new(
        http::StatusCode::NOT_FOUND,
        format!("no monitoring route {}", uri.path()),
    )
    .into_response()
}
