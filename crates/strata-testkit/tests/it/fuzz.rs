//! Fuzz targets (time-bounded; see `strata_testkit::fuzz`): the envelope decoder, key building
//! from arbitrary ids, and configuration parsing. CI runs each for 1 s; `cargo xtask fuzz` for
//! 60 s. Any input may fail, none may panic.

use std::collections::HashMap;

use rand::RngExt;
use strata::CacheConfig;
use strata_codec::{Codec, EntryMeta, JsonCodec, MsgPackCodec, TagVersion, peek};
use strata_keys::{Key, KeySpace};
use strata_testkit::fuzz;

fn corpus() -> Vec<Vec<u8>> {
    let meta = EntryMeta::new(1_764_000_000_000, 60_000, 2);
    let value = serde_json::json!({"id": 42, "name": "Ada", "tags": ["a", "b"], "nested": {"x": [1, 2.5, null]}});
    let big: Vec<_> = (0..300)
        .map(|i| serde_json::json!({"id": i, "title": "a job title"}))
        .collect();
    let tags = [TagVersion::new("user:42", 7)];
    let mp = MsgPackCodec::default();
    vec![
        mp.encode(&meta, Some(&value)).unwrap().to_vec(),
        mp.encode(&meta, Some(&big)).unwrap().to_vec(),
        mp.encode::<u8>(&meta, None).unwrap().to_vec(),
        mp.encode_tagged(&meta.with_generation(99), &tags, Some(&value))
            .unwrap()
            .to_vec(),
        mp.encode_tagged(&meta.with_generation(99), &tags, Some(&big))
            .unwrap()
            .to_vec(),
        JsonCodec::default()
            .encode(&meta, Some(&value))
            .unwrap()
            .to_vec(),
        JsonCodec::default()
            .encode_tagged(&meta, &tags, Some(&value))
            .unwrap()
            .to_vec(),
    ]
}

#[test]
fn fuzz_envelope_decoder() {
    let corpus = corpus();
    let codec = MsgPackCodec::default().with_max_value_bytes(1 << 20);
    for bytes in &corpus {
        codec.decode::<serde_json::Value>(bytes, Some(2)).unwrap();
    }
    fuzz::run("envelope decoder", |rng| {
        let input = if rng.random_bool(0.2) {
            fuzz::bytes(rng, 256)
        } else {
            let pick = rng.random_range(0..corpus.len());
            fuzz::mutate(rng, &corpus[pick])
        };
        let _ = peek(&input);
        let _ = codec.decode::<serde_json::Value>(&input, None);
        let _ = codec.decode::<serde::de::IgnoredAny>(&input, Some(2));
        let _ = codec.decode::<Vec<u64>>(&input, None);
    });
}

#[test]
fn fuzz_key_building_is_safe_and_collision_free() {
    let kind = KeySpace::new("p", "v1").unwrap().kind("k").unwrap();
    let mut seen: HashMap<String, String> = HashMap::new();
    fuzz::run("key building", |rng| {
        let id = fuzz::nasty_string(rng);
        let key: Key = match kind.key(&id) {
            Ok(k) => k,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                return;
            }
        };
        let s = key.as_str();
        assert!(s.starts_with("p:v1:k:s1:"), "{s}");
        assert!(
            !s.chars().any(|c| c.is_whitespace() || c.is_control()),
            "unsafe character in {s:?}"
        );
        assert!(s.len() <= 256, "bounded key length: {} bytes", s.len());
        if let Some(other) = seen.insert(s.to_owned(), id.clone()) {
            assert_eq!(other, id, "two ids, one key: {s}");
        }
        if seen.len() > 200_000 {
            seen.clear();
        }
        // Arbitrary prefixes and kinds are validated, never panic.
        let _ = KeySpace::new(&fuzz::nasty_string(rng), "v1")
            .and_then(|space| space.kind(&fuzz::nasty_string(rng)));
    });
}

#[test]
fn fuzz_config_parsing() {
    let valid = "prefix = \"shop\"\napp_version = \"v3\"\ndefault_ttl = \"15m\"\njitter = 0.1\n\
                 max_stale = \"1h\"\n[ttl]\nuser = \"24h\"\n[l1]\nmax_bytes = 1000000\n\
                 [backend]\nurl = \"redis://127.0.0.1:6379\"\npolicy = \"lru\"\n\
                 [backend.quotas.user]\nmax_entries = 10\npolicy = \"ttl\"\n[breaker]\nfailures = 5\n";
    CacheConfig::from_toml_str(valid).unwrap();
    fuzz::run("config parsing", |rng| {
        let input = if rng.random_bool(0.2) {
            fuzz::nasty_string(rng)
        } else {
            String::from_utf8_lossy(&fuzz::mutate(rng, valid.as_bytes())).into_owned()
        };
        if let Err(e) = CacheConfig::from_toml_str(&input) {
            assert!(!e.to_string().is_empty());
        }
    });
}
