//! Encoding of ids: escaping of plain ids, and hashing of long or unsafe ones.

use crate::segment::push_escaped;

/// Longest encoded id kept readable; longer ids are replaced by their hash.
pub const MAX_PLAIN_ID_LEN: usize = 200;

/// The first character of a hashed id. Plain ids escape `#`, so they never start with it.
pub const HASHED_ID_MARKER: char = '#';

/// Characters escaped inside plain ids: the escape character itself, the hashed-id marker and
/// the hash-tag braces (so an id can never choose a Redis Cluster slot).
fn needs_escape_in_id(c: char) -> bool {
    matches!(c, '%' | '#' | '{' | '}')
}

/// Whether `raw` is its own encoding (no escaping, no hashing needed).
pub(crate) fn is_plain_id(raw: &str) -> bool {
    raw.len() <= MAX_PLAIN_ID_LEN
        && !raw
            .chars()
            .any(|c| needs_escape_in_id(c) || c.is_whitespace() || c.is_control())
}

/// Appends the encoded form of `raw` to `out`.
///
/// The encoding is injective: plain ids are percent-escaped (and never start with `#`), while
/// ids that are longer than [`MAX_PLAIN_ID_LEN`] once escaped, or that hold whitespace or control
/// characters, become `#` followed by the first 32 hex digits of their SHA-256 (128 bits, collision
/// resistant even against chosen ids, and computable with any standard library).
pub(crate) fn push_encoded_id(out: &mut String, raw: &str) {
    let start = out.len();
    let unsafe_char = raw.chars().any(|c| c.is_whitespace() || c.is_control());
    if !unsafe_char {
        if raw.contains(needs_escape_in_id) {
            push_escaped(out, raw, needs_escape_in_id);
        } else {
            out.push_str(raw);
        }
        if out.len() - start <= MAX_PLAIN_ID_LEN {
            return;
        }
        out.truncate(start);
    }
    push_hashed(out, raw);
}

fn push_hashed(out: &mut String, raw: &str) {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(raw.as_bytes());
    out.push(HASHED_ID_MARKER);
    for b in &hash[..16] {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
}

/// Renders a serde-serializable id as the string that is then encoded.
///
/// Strings, numbers, booleans and chars render as their plain text, so `42_u64` and `"42"`
/// give the same key whether passed through `Display` or serde; anything else (tuples,
/// structs, sequences) renders as compact JSON, which is deterministic for a given value.
pub(crate) fn serde_id_text<T: serde::Serialize + ?Sized>(id: &T) -> Result<String, String> {
    match serde_json::to_value(id).map_err(|e| e.to_string())? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        other => serde_json::to_string(&other).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(raw: &str) -> String {
        let mut s = String::new();
        push_encoded_id(&mut s, raw);
        s
    }

    #[test]
    fn plain_ids_stay_readable() {
        assert_eq!(enc("42"), "42");
        assert_eq!(enc("b:c"), "b:c");
        assert_eq!(enc("ünïcode"), "ünïcode");
    }

    #[test]
    fn marker_and_braces_are_escaped() {
        assert_eq!(enc("#abc"), "%23abc");
        assert_eq!(enc("{tag}"), "%7Btag%7D");
        assert_eq!(enc("50%"), "50%25");
    }

    #[test]
    fn unsafe_and_long_ids_are_hashed() {
        for raw in ["a b", "line\nbreak", "nul\0", "tab\t", &"x".repeat(201)] {
            let e = enc(raw);
            assert!(e.starts_with('#'), "{raw:?} -> {e}");
            assert_eq!(e.len(), 33);
            assert!(e[1..].chars().all(|c| c.is_ascii_hexdigit()));
        }
        assert_eq!(enc(&"x".repeat(200)), "x".repeat(200));
        assert_ne!(enc("a b"), enc("a  b"));
        assert_eq!(enc("a b"), enc("a b"), "hashing is stable");
    }

    #[test]
    fn escaping_that_overflows_the_limit_hashes() {
        let raw = "%".repeat(100); // 300 bytes once escaped
        assert!(enc(&raw).starts_with('#'));
    }

    #[test]
    fn serde_ids_match_display_for_scalars() {
        assert_eq!(serde_id_text(&42_u64).unwrap(), "42");
        assert_eq!(serde_id_text("abc").unwrap(), "abc");
        assert_eq!(serde_id_text(&(1, "a")).unwrap(), r#"[1,"a"]"#);
    }
}
