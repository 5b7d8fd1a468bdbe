//! What a request is cached by: its path, the query parameters the route declared, and a hash
//! of the identity it varies by.

use http::header::COOKIE;
use http::request::Parts;
use http::{HeaderName, Uri};
use sha2::{Digest, Sha256};

use super::stored::hex;

/// What responses vary by: request headers, and (instead of the whole `Cookie` header) named
/// cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vary {
    pub(crate) headers: Vec<HeaderName>,
    /// When not empty, `Cookie` counts only through these cookies' values.
    pub(crate) cookies: Vec<String>,
}

impl Vary {
    /// The `Vary` response header downstream caches must honour.
    pub(crate) fn header_value(&self) -> Option<String> {
        let mut names: Vec<&str> = self.headers.iter().map(HeaderName::as_str).collect();
        if !self.cookies.is_empty() && !names.contains(&COOKIE.as_str()) {
            names.push(COOKIE.as_str());
        }
        (!names.is_empty()).then(|| names.join(", "))
    }

    fn identity(&self, parts: &Parts) -> Option<String> {
        let mut hasher = Sha256::new();
        let mut any = false;
        let mut feed = |name: &[u8], value: &[u8]| {
            any = true;
            hasher.update(name);
            hasher.update([0]);
            hasher.update(value);
            hasher.update([0]);
        };
        for name in &self.headers {
            if *name == COOKIE && !self.cookies.is_empty() {
                continue;
            }
            for value in parts.headers.get_all(name) {
                feed(name.as_str().as_bytes(), value.as_bytes());
            }
        }
        for wanted in &self.cookies {
            for (name, value) in cookies(parts) {
                if name == wanted {
                    feed(format!("cookie {name}").as_bytes(), value.as_bytes());
                }
            }
        }
        any.then(|| hex(&hasher.finalize()[..16]))
    }
}

/// The request's cookies, as (name, value) pairs.
fn cookies(parts: &Parts) -> impl Iterator<Item = (&str, &str)> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.split_once('='))
        .map(|(n, v)| (n.trim(), v.trim()))
}

/// `query` reduced to the `declared` parameters, in a canonical form: parameters sorted by
/// name (repeated ones keep their order), re-encoded, so that spelling variants of one request
/// share an entry; `None` when nothing declared is left.
pub(crate) fn declared_query(query: Option<&str>, declared: &[String]) -> Option<String> {
    let query = query?;
    let mut kept: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| declared.iter().any(|d| d == name))
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        return None;
    }
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(kept)
            .finish(),
    )
}

/// The request's URI with only the declared query parameters (what the handler sees).
pub(crate) fn with_query(uri: &Uri, query: Option<&str>) -> Uri {
    let path_and_query = match query {
        Some(q) => format!("{}?{q}", uri.path()),
        None => uri.path().to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

/// `path?declared&query#vary=<hash>`: the same resource for the same identity shares a key;
/// different identities never do. `parts.uri` already holds only the declared query.
pub(crate) fn request_key(parts: &Parts, vary: &Vary) -> String {
    let mut key = parts.uri.path().to_owned();
    if let Some(q) = parts.uri.query() {
        key.push('?');
        key.push_str(q);
    }
    if let Some(identity) = vary.identity(parts) {
        key.push_str("#vary=");
        key.push_str(&identity);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn only_declared_parameters_are_kept_in_one_spelling() {
        let d = declared(&["page", "q"]);
        assert_eq!(declared_query(Some("cachebust=1"), &d), None);
        assert_eq!(declared_query(None, &d), None);
        assert_eq!(
            declared_query(Some("q=a+b&junk=1&page=2"), &d).as_deref(),
            Some("page=2&q=a+b")
        );
        // Percent-encoded names and values are the same parameter.
        assert_eq!(
            declared_query(Some("%70age=%32"), &d).as_deref(),
            Some("page=2")
        );
        // Repeated parameters keep their order.
        assert_eq!(
            declared_query(Some("q=b&page=1&q=a"), &d).as_deref(),
            Some("page=1&q=b&q=a")
        );
    }

    #[test]
    fn named_cookies_replace_the_whole_cookie_header() {
        let vary = Vary {
            headers: vec![http::header::AUTHORIZATION, COOKIE],
            cookies: vec!["session".into()],
        };
        let key = |cookie: &str| {
            let (parts, ()) = http::Request::get("/x")
                .header(COOKIE, cookie)
                .body(())
                .unwrap()
                .into_parts();
            request_key(&parts, &vary)
        };
        assert_eq!(key("_ga=1"), key("_ga=2; theme=dark"), "unrelated cookies");
        assert_eq!(key("_ga=1"), "/x");
        assert_ne!(key("session=a; _ga=1"), key("session=b; _ga=1"));
        assert_eq!(key("session=a; _ga=1"), key("_ga=2;session=a"));
        assert_eq!(
            vary.header_value().as_deref(),
            Some("authorization, cookie")
        );
    }
}
