//! Validation and escaping of the fixed key segments (prefix, app version, kind).

use crate::error::{KeyError, excerpt};

/// The longest prefix, app version or kind accepted, in bytes before escaping.
pub const MAX_SEGMENT_LEN: usize = 64;

/// Characters escaped as `%XX` inside segments: the separator, the escape character, the
/// Redis Cluster hash-tag braces, the id-hash marker and the glob metacharacters of `SCAN MATCH`
/// (so a pattern built from segments never needs glob escaping).
fn needs_escape_in_segment(c: char) -> bool {
    matches!(
        c,
        '%' | ':' | '{' | '}' | '#' | '*' | '?' | '[' | ']' | '\\'
    )
}

/// Checks a segment and returns its escaped form.
pub(crate) fn escape_segment(part: &'static str, raw: &str) -> Result<String, KeyError> {
    if raw.is_empty() {
        return Err(KeyError::EmptySegment { part });
    }
    if raw.len() > MAX_SEGMENT_LEN {
        return Err(KeyError::SegmentTooLong {
            part,
            value: excerpt(raw),
            len: raw.len(),
            max: MAX_SEGMENT_LEN,
        });
    }
    if let Some(ch) = raw.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(KeyError::UnsafeSegment {
            part,
            value: excerpt(raw),
            ch,
        });
    }
    let mut out = String::with_capacity(raw.len());
    push_escaped(&mut out, raw, needs_escape_in_segment);
    Ok(out)
}

/// Appends `raw` to `out`, writing every character selected by `escape` as `%XX` per UTF-8 byte.
pub(crate) fn push_escaped(out: &mut String, raw: &str, escape: fn(char) -> bool) {
    for c in raw.chars() {
        if escape(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push('%');
                out.push(hex_digit(b >> 4));
                out.push(hex_digit(b & 0xf));
            }
        } else {
            out.push(c);
        }
    }
}

fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n), 16)
        .map(|c| c.to_ascii_uppercase())
        .unwrap_or('0')
}

/// Reverses [`push_escaped`]; `None` when `s` holds a malformed escape.
pub(crate) fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_separators_and_glob_characters() {
        assert_eq!(escape_segment("kind", "a:b").unwrap(), "a%3Ab");
        assert_eq!(escape_segment("kind", "x*{y}").unwrap(), "x%2A%7By%7D");
        assert_eq!(unescape("x%2A%7By%7D").unwrap(), "x*{y}");
    }

    #[test]
    fn rejects_bad_segments_with_named_errors() {
        assert_eq!(
            escape_segment("kind", ""),
            Err(KeyError::EmptySegment { part: "kind" })
        );
        let err = escape_segment("prefix", "a b").unwrap_err();
        assert!(err.to_string().contains("prefix"), "{err}");
        assert!(err.to_string().contains("whitespace"), "{err}");
        let long = "k".repeat(MAX_SEGMENT_LEN + 1);
        assert!(matches!(
            escape_segment("kind", &long),
            Err(KeyError::SegmentTooLong { .. })
        ));
    }

    #[test]
    fn unescape_rejects_malformed_escapes() {
        assert_eq!(unescape("%4"), None);
        assert_eq!(unescape("%zz"), None);
        assert_eq!(unescape("%FF"), None);
    }
}
