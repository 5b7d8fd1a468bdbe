//! The cached form of a response, and the rules for what may be cached.

use axum::body::Body;
use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderName, SET_COOKIE, VARY,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The body as MessagePack bin, as `serde_bytes` writes a `Vec<u8>` (the stored format is
/// unchanged), held as [`Bytes`].
mod body_bytes {
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(body: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        serde_bytes::serialize(body.as_ref(), s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        serde_bytes::ByteBuf::deserialize(d).map(|b| Bytes::from(b.into_vec()))
    }
}

/// A response as stored in the cache: status, chosen headers, body, and its ETag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    /// Shared, so that serving a stored response does not copy its body.
    #[serde(with = "body_bytes")]
    pub(crate) body: Bytes,
    pub(crate) etag: String,
}

/// What a response cache may store, and how a stored response goes out.
#[derive(Debug, Clone)]
pub(crate) struct Storable {
    /// The response headers stored with the body.
    pub(crate) keep: Vec<HeaderName>,
    /// The content types that may be stored (lower case, without parameters).
    pub(crate) content_types: Vec<String>,
    /// The `Vary` header of every response served from the cache.
    pub(crate) vary: Option<String>,
}

impl Storable {
    /// Whether a response may be stored: [`cacheable`], and of a content type it was told.
    pub(crate) fn allows(&self, status: StatusCode, headers: &HeaderMap) -> bool {
        let essence = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        cacheable(status, headers) && essence.is_some_and(|t| self.content_types.contains(&t))
    }

    /// Captures a response's status, the kept headers and its body.
    pub(crate) fn capture(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: Bytes,
    ) -> StoredResponse {
        StoredResponse::capture(status, headers, &self.keep, body)
    }

    /// The stored response as an answer (no body for HEAD, yet its real length; 304 when
    /// `not_modified`), with `Vary` for downstream caches.
    pub(crate) fn respond(
        &self,
        stored: &StoredResponse,
        head: bool,
        not_modified: bool,
        x_cache: &'static str,
    ) -> Response<Body> {
        let mut resp = stored.to_response(head, not_modified, x_cache);
        if let Some(vary) = self
            .vary
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            resp.headers_mut().append(VARY, vary);
        }
        resp
    }
}

impl StoredResponse {
    /// Captures a response's status, the `keep` headers and its body.
    fn capture(status: StatusCode, headers: &HeaderMap, keep: &[HeaderName], body: Bytes) -> Self {
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
    fn to_response(&self, head: bool, not_modified: bool, x_cache: &'static str) -> Response<Body> {
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
        if head && !not_modified {
            h.insert(CONTENT_LENGTH, HeaderValue::from(self.body.len()));
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
