//! `--bench-routes`: the routes the end-to-end bench measures the server against, with no
//! cache and no database behind them.
//!
//! `GET /strata-bench/body/{bytes}` answers a static JSON body of exactly `bytes` bytes (a
//! string of `x`), built once per size and shared by every response, so that an endpoint with
//! a large body is compared with a route that moves as many bytes and does nothing else.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::AppError;

/// The largest static body served (`--bench-routes`).
pub(crate) const MAX_BODY_BYTES: usize = 16 << 20;

/// The routes, to merge into the app.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/strata-bench/body/{bytes}", get(body))
}

async fn body(Path(bytes): Path<String>) -> Result<Response, AppError> {
    let n: usize = bytes.parse().map_err(|_| {
        AppError::Rejected(
            StatusCode::BAD_REQUEST,
            format!("the body size must be a whole number of bytes, got {bytes:?}"),
        )
    })?;
    if !(2..=MAX_BODY_BYTES).contains(&n) {
        return Err(AppError::Rejected(
            StatusCode::BAD_REQUEST,
            format!("the body size must be in [2, {MAX_BODY_BYTES}] bytes, got {n}"),
        ));
    }
    let body = static_body(n);
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response())
}

/// The JSON string `"xx…x"` of `n` bytes (`n` at least 2), built once per size.
fn static_body(n: usize) -> Bytes {
    static BODIES: OnceLock<Mutex<HashMap<usize, Bytes>>> = OnceLock::new();
    let bodies = BODIES.get_or_init(Mutex::default);
    let mut bodies = bodies
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    bodies
        .entry(n)
        .or_insert_with(|| {
            let mut v = vec![b'x'; n];
            v[0] = b'"';
            v[n - 1] = b'"';
            Bytes::from(v)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_static_body_is_json_of_exactly_the_size_asked() {
        for n in [2, 3, 915_000] {
            let b = static_body(n);
            assert_eq!(b.len(), n);
            let v: serde_json::Value = serde_json::from_slice(&b).expect("JSON");
            assert_eq!(v.as_str().map(str::len), Some(n - 2));
        }
    }
}
