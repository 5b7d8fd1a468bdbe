//! The decoder is total: random bytes and mutated envelopes give errors, never panics.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use strata_codec::{Codec, EntryMeta, MsgPackCodec, peek};

#[derive(serde::Serialize, serde::Deserialize, Debug)]
struct User {
    id: u64,
    name: String,
    email: String,
    skills: Vec<String>,
}

fn decode_all_ways(codec: &MsgPackCodec, bytes: &[u8]) -> bool {
    let a = codec.decode::<User>(bytes, None);
    let b = codec.decode::<serde_json::Value>(bytes, Some(1));
    let c = peek(bytes);
    for e in [a.as_ref().err(), b.as_ref().err()].into_iter().flatten() {
        assert!(e.is_miss(), "decode errors are misses: {e}");
    }
    a.is_ok() || b.is_ok() || c.is_ok()
}

#[test]
fn one_hundred_thousand_random_byte_strings_never_panic() {
    let codec = MsgPackCodec::default();
    let mut rng = SmallRng::seed_from_u64(0x0574_7a7a);
    let mut decoded = 0;
    for i in 0..100_000 {
        let len = rng.random_range(0..if i % 10 == 0 { 2048 } else { 64 });
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        // Half of the inputs carry a valid header so the body parser is exercised too.
        if i % 2 == 0 && bytes.len() >= 4 {
            bytes[..4].copy_from_slice(&[0xC1, b'S', 1, rng.random_range(0..8)]);
        }
        decoded += usize::from(decode_all_ways(&codec, &bytes));
    }
    // Random bytes almost never form a valid envelope; the point is that none panicked.
    assert!(decoded < 50_000, "{decoded}");
}

#[test]
fn mutated_envelopes_never_panic() {
    let codec = MsgPackCodec::default().with_compression_threshold(64);
    let user = User {
        id: 42,
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        skills: (0..20).map(|i| format!("skill-{i}")).collect(),
    };
    let good = codec
        .encode(&EntryMeta::new(1_700_000_000_000, 60_000, 1), Some(&user))
        .unwrap();
    let mut rng = SmallRng::seed_from_u64(7);
    for _ in 0..50_000 {
        let mut bytes = good.to_vec();
        match rng.random_range(0..3) {
            0 => {
                let i = rng.random_range(0..bytes.len());
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
            1 => bytes.truncate(rng.random_range(0..bytes.len())),
            _ => {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
        }
        decode_all_ways(&codec, &bytes);
    }
}
