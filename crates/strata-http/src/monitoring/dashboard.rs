//! `GET /`: the dashboard page, self-contained (inline CSS, JS and SVG charts; works offline),
//! served with a Content-Security-Policy that allows exactly its own inline script and style.

use std::sync::OnceLock;

use axum::response::{Html, IntoResponse};
use base64::Engine;
use http::HeaderValue;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use sha2::{Digest, Sha256};

const PAGE: &str = include_str!("dashboard.html");

/// The page's policy: its one inline script and one inline style by hash, requests to its own
/// origin only, no framing, no plugins, no forms that navigate, no base rewriting.
pub(crate) fn content_security_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        format!(
            "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; \
             img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            inline_hash(PAGE, "script"),
            inline_hash(PAGE, "style"),
        )
    })
}

/// `sha256-<base64>` of the text inside the page's first `<tag>...</tag>`.
fn inline_hash(page: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = page.find(&open).map(|i| i + open.len());
    let body = start
        .and_then(|s| page[s..].find(&close).map(|e| &page[s..s + e]))
        .unwrap_or_default();
    let digest = Sha256::digest(body.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

pub(crate) async fn page() -> impl IntoResponse {
    (
        [
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(content_security_policy()),
            ),
            (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
        Html(PAGE),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_hashes_of_the_inline_script_and_style() {
        let policy = content_security_policy();
        let script = &PAGE[PAGE.find("<script>").unwrap() + 8..PAGE.find("</script>").unwrap()];
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script));
        assert!(
            policy.contains(&format!("script-src 'sha256-{expected}'")),
            "{policy}"
        );
        assert!(policy.contains("style-src 'sha256-"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"));
        // Hashes allow only the blocks: the page has no inline handlers or style attributes.
        for banned in [" onclick=", " onload=", "style=\"", "style='"] {
            assert!(!PAGE.contains(banned), "the page uses {banned}");
        }
    }
}
