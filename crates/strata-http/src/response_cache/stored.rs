//! The cached form of a response, and the rules for what may be cached.

use axum::body::Body;
use http::header::{CACHE_CONTROL, ETAG, HeaderName, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A response as stored in the cache: status, chosen headers, body, and its ETag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    #[serde(with = "serde_bytes")]
    pub(crate) body: Vec<u8>,
    pub(crate) etag: String,
}

impl StoredResponse {
    /// Captures a response's status, the `keep` headers and its body.
    pub(crate) fn capture(
        status: StatusCode,
        headers: &HeaderMap,
        keep: &[HeaderName],
        body: Vec<u8>,
    ) -> Self {
        let headers = keep
            .iter()
            .flat_map(|name| {
                headers.get_all(name).iter().filter_map(|v| {
                    v.to_str()
                        .ok()
                        .map(|v| (name.as_str().to_owned(), v.to_owned()))
                })
            })
            .collect();
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex(&digest[..12]));
        Self {
            status: status.as_u16(),
            headers,
            body,
            etag,
        }
    }

    /// Rebuilds the response (without a body for HEAD, or as 304 when `not_modified`).
    pub(crate) fn to_response(
        &self,
        head: bool,
        not_modified: bool,
        x_cache: &'static str,
    ) -> Response<Body> {
        let status = if not_modified {
            StatusCode::NOT_MODIFIED
        } else {
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK)
        };
        let body = if head || not_modified {
            Body::empty()
        } else {
            Body::from(self.body.clone())
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::from_str(value),
            ) {
                h.append(n, v);
            }
        }
        if let Ok(v) = HeaderValue::from_str(&self.etag) {
            h.insert(ETAG, v);
        }
        h.insert(super::X_CACHE.clone(), HeaderValue::from_static(x_cache));
        resp
    }

    /// Whether the request's If-None-Match names this response's ETag (or `*`).
    pub(crate) fn matches(&self, if_none_match: Option<&HeaderValue>) -> bool {
        if_none_match
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .map(str::trim)
                    .any(|t| t == "*" || t.trim_start_matches("W/") == self.etag)
            })
    }
}

/// Whether a response may be stored: 200, no Set-Cookie, no `Cache-Control: private/no-store`.
pub(crate) fn cacheable(status: StatusCode, headers: &HeaderMap) -> bool {
    if status != StatusCode::OK || headers.contains_key(SET_COOKIE) {
        return false;
    }
    !headers.get_all(CACHE_CONTROL).iter().any(|v| {
        v.to_str().map_or(true, |v| {
            v.split(',')
                .map(|d| d.trim().to_ascii_lowercase())
                .any(|d| d == "private" || d == "no-store")
        })
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
