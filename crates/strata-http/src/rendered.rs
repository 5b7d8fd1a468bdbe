//! A cached value's JSON, rendered by the first response that sends it and reused by every
//! later one: [`RenderedJson`] (a field of the cached type) and [`CachedJson`] (the response).

use std::fmt;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};
use serde::Serialize;

/// The JSON of the value holding it, rendered once.
///
/// A field of a cached type, skipped by serde (`#[serde(skip)]`), so it is neither stored in
/// the second tier nor part of the JSON. The cache hands out the same `Arc` of a value until
/// the entry changes; the first [`CachedJson`] response of that `Arc` serializes it and keeps
/// the bytes here, and every later one sends them again (the body shares them, nothing is
/// copied). A value loaded anew (after an invalidation) is a new `Arc` with an empty field.
///
/// It takes no part in equality (every two are equal) and a clone starts empty: the JSON
/// belongs to the value it was rendered from.
#[derive(Default)]
pub struct RenderedJson(OnceLock<Bytes>);

impl RenderedJson {
    /// An empty one.
    pub fn new() -> Self {
        Self::default()
    }

    /// The JSON of `value` (which must be the value holding this field): rendered now the
    /// first time, shared after.
    pub fn of<T: Serialize + ?Sized>(&self, value: &T) -> Result<Bytes, serde_json::Error> {
        if let Some(b) = self.0.get() {
            return Ok(b.clone());
        }
        let rendered = Bytes::from(serde_json::to_vec(value)?);
        Ok(self.0.get_or_init(|| rendered).clone())
    }

    /// Whether the JSON was rendered.
    pub fn is_rendered(&self) -> bool {
        self.0.get().is_some()
    }
}

impl Clone for RenderedJson {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for RenderedJson {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for RenderedJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.get() {
            Some(b) => write!(f, "RenderedJson({} bytes)", b.len()),
            None => f.write_str("RenderedJson(not rendered)"),
        }
    }
}

/// A type whose values keep their own JSON ([`RenderedJson`]).
pub trait RendersJson: Serialize {
    /// The field holding the JSON.
    fn rendered_json(&self) -> &RenderedJson;
}

/// A JSON response of a cached value, serialized once per cached value (see [`RenderedJson`]):
/// the same body as `axum::Json` of the value. A value that cannot be serialized answers 500
/// with the error, as `axum::Json` does.
#[derive(Debug, Clone)]
pub struct CachedJson<T>(pub Arc<T>);

impl<T: RendersJson> IntoResponse for CachedJson<T> {
    fn into_response(self) -> Response {
        match self.0.rendered_json().of(&*self.0) {
            Ok(bytes) => {
                let mut resp = Response::new(Body::from(bytes));
                resp.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                resp
            }
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Page {
        title: String,
        #[serde(skip)]
        json: RenderedJson,
    }

    impl RendersJson for Page {
        fn rendered_json(&self) -> &RenderedJson {
            &self.json
        }
    }

    #[tokio::test]
    async fn the_json_is_rendered_once_per_value_and_equals_serde_jsons() {
        let page = Arc::new(Page {
            title: "ada".into(),
            json: RenderedJson::new(),
        });
        assert!(!page.json.is_rendered());
        let first = CachedJson(page.clone()).into_response();
        assert_eq!(first.headers()[CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(first.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body, serde_json::to_vec(&*page).unwrap());
        assert_eq!(
            &body[..],
            br#"{"title":"ada"}"#,
            "the field is not in the JSON"
        );
        assert!(page.json.is_rendered());
        let (a, b) = (page.json.of(&*page).unwrap(), page.json.of(&*page).unwrap());
        assert_eq!(a.as_ptr(), b.as_ptr(), "rendered once, then shared");
        let copy = RenderedJson::clone(&page.json);
        assert!(!copy.is_rendered(), "a clone starts empty");
        assert_eq!(copy, page.json);
    }
}
