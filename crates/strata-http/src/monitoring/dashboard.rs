//! `GET /`: the dashboard page, self-contained (inline CSS, JS and SVG charts; works offline).

use axum::response::{Html, IntoResponse};

const PAGE: &str = include_str!("dashboard.html");

pub(crate) async fn page() -> impl IntoResponse {
    (
        [(http::header::CACHE_CONTROL, "no-store")],
        Html(PAGE),
    )
}
