//! The cache key of a request: path, sorted query, and a hash of the headers it varies by.

use http::HeaderName;
use http::request::Parts;
use sha2::{Digest, Sha256};

use super::stored::hex;

/// `path?sorted&query#vary=<hash>`: the same resource for the same credentials shares a key;
/// different credentials never do.
pub(crate) fn request_key(parts: &Parts, vary: &[HeaderName]) -> String {
    let mut key = parts.uri.path().to_owned();
    if let Some(q) = parts.uri.query() {
        let mut pairs: Vec<&str> = q.split('&').filter(|p| !p.is_empty()).collect();
        pairs.sort_unstable();
        key.push('?');
        key.push_str(&pairs.join("&"));
    }
    let mut hasher = Sha256::new();
    let mut any = false;
    for name in vary {
        for value in parts.headers.get_all(name) {
            any = true;
            hasher.update(name.as_str().as_bytes());
            hasher.update([0]);
            hasher.update(value.as_bytes());
            hasher.update([0]);
        }
    }
    if any {
        key.push_str("#vary=");
        key.push_str(&hex(&hasher.finalize()[..16]));
    }
    key
}
