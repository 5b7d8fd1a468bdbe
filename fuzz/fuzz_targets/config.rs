//! Configuration parsing on arbitrary text: never panics; every refusal names its problem.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::CacheConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = CacheConfig::from_toml_str(text) {
        assert!(!e.to_string().is_empty());
    }
});
