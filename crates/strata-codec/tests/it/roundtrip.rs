//! Envelope round trips, limits, schema handling and the documented byte layout.

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use strata_codec::{
    Codec, CodecError, EntryMeta, Flags, Freshness, JsonCodec, MAX_TAGS, MsgPackCodec, TagVersion,
    peek,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Job {
    id: u64,
    title: String,
    tags: Vec<String>,
    budget: Option<f64>,
    bytes: Vec<u8>,
}

fn job_strategy() -> impl Strategy<Value = Job> {
    (
        any::<u64>(),
        ".{0,64}",
        proptest::collection::vec("[a-z]{0,12}", 0..40),
        proptest::option::of(-1e9f64..1e9),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(id, title, tags, budget, bytes)| Job {
            id,
            title,
            tags,
            budget,
            bytes,
        })
}

proptest! {
    #[test]
    fn msgpack_round_trips(job in job_strategy(), created in any::<u64>(), ttl in any::<u32>(),
                           schema in any::<u32>(), threshold in prop_oneof![Just(0usize), Just(64), Just(usize::MAX)]) {
        let codec = MsgPackCodec::default().with_compression_threshold(threshold);
        let meta = EntryMeta::new(created, u64::from(ttl), schema);
        let bytes = codec.encode(&meta, Some(&job)).unwrap();
        let back = codec.decode::<Job>(&bytes, Some(schema)).unwrap();
        prop_assert_eq!(back.meta, meta);
        prop_assert_eq!(back.value, Some(job));
        prop_assert_eq!(peek(&bytes).unwrap().meta, meta);
    }

    #[test]
    fn generations_and_tags_round_trip(job in job_strategy(), generation in any::<u64>(),
                                       tags in proptest::collection::vec((".{0,40}", any::<u64>()), 0..8),
                                       threshold in prop_oneof![Just(0usize), Just(usize::MAX)]) {
        let tags: Vec<TagVersion> = tags.into_iter().map(|(t, v)| TagVersion::new(t, v)).collect();
        let meta = EntryMeta::new(1, 2, 3).with_generation(generation);
        for bytes in [
            MsgPackCodec::default().with_compression_threshold(threshold).encode_tagged(&meta, &tags, Some(&job)).unwrap(),
            JsonCodec::default().encode_tagged(&meta, &tags, Some(&job)).unwrap(),
        ] {
            let back = MsgPackCodec::default().decode::<Job>(&bytes, Some(3)).unwrap();
            prop_assert_eq!(back.meta, meta);
            prop_assert_eq!(&back.tags, &tags);
            prop_assert_eq!(back.value, Some(job.clone()));
            prop_assert_eq!(peek(&bytes).unwrap().meta.generation, generation);
        }
    }

    #[test]
    fn json_round_trips(job in job_strategy(), schema in any::<u32>()) {
        let meta = EntryMeta::new(1, 2, schema);
        let bytes = JsonCodec::default().encode(&meta, Some(&job)).unwrap();
        // Any codec reads any envelope.
        let back = MsgPackCodec::default().decode::<Job>(&bytes, Some(schema)).unwrap();
        prop_assert_eq!(back.value, Some(job));
    }
}

#[test]
fn the_header_is_magic_version_flags() {
    let meta = EntryMeta {
        created_at_ms: 1,
        expires_at_ms: 2,
        schema: 3,
        generation: 0,
    };
    let bytes = MsgPackCodec::default().encode(&meta, Some(&"hi")).unwrap();
    // 0xC1 'S', version 1, flags 0, then fixarray(4) 1 2 3 fixstr "hi".
    assert_eq!(
        &bytes[..],
        &[0xC1, b'S', 1, 0, 0x94, 1, 2, 3, 0xA2, b'h', b'i']
    );
    let absent = MsgPackCodec::default().encode::<()>(&meta, None).unwrap();
    assert_eq!(
        &absent[..],
        &[0xC1, b'S', 1, Flags::ABSENT, 0x94, 1, 2, 3, 0xC0]
    );
    let json = JsonCodec::default().encode(&meta, Some(&"hi")).unwrap();
    assert_eq!(&json[..4], &[0xC1, b'S', 1, Flags::JSON]);
    assert_eq!(&json[4..], br#"[1,2,3,"hi"]"#);
}

#[test]
fn structs_are_written_with_field_names() {
    #[derive(Serialize)]
    struct V1 {
        id: u32,
    }
    #[derive(Deserialize, Debug)]
    struct V2 {
        id: u32,
        #[serde(default)]
        nickname: Option<String>,
    }
    let bytes = MsgPackCodec::default()
        .encode(&EntryMeta::default(), Some(&V1 { id: 7 }))
        .unwrap();
    assert!(
        bytes.windows(2).any(|w| w == b"id"),
        "field name is on the wire"
    );
    // An additive change (a new optional field) still reads old entries.
    let v2 = MsgPackCodec::default()
        .decode::<V2>(&bytes, None)
        .unwrap()
        .value
        .unwrap();
    assert_eq!((v2.id, v2.nickname), (7, None));
}

#[test]
fn schema_mismatch_is_a_miss_before_the_payload_is_read() {
    let codec = MsgPackCodec::default();
    let bytes = codec
        .encode(&EntryMeta::new(0, 10, 1), Some(&"old shape"))
        .unwrap();
    // The payload is a string, so decoding it as u64 would fail; the schema check comes first.
    let err = codec.decode::<u64>(&bytes, Some(2)).unwrap_err();
    assert_eq!(
        err,
        CodecError::SchemaMismatch {
            found: 1,
            expected: 2
        }
    );
    assert!(err.is_miss());
    assert!(err.to_string().contains("treat as miss"));
}

#[test]
fn decode_at_says_fresh_stale_or_expired() {
    let created = 1_700_000_000_000;
    let meta = EntryMeta::new(created, 60_000, 1);
    for bytes in [
        MsgPackCodec::default().encode(&meta, Some("v")).unwrap(),
        JsonCodec::default().encode(&meta, Some("v")).unwrap(),
    ] {
        let codec = MsgPackCodec::default();
        let at = |now: u64| {
            codec
                .decode_at::<String>(&bytes, Some(1), now, 30_000)
                .unwrap()
        };
        let Freshness::Fresh(e) = at(created + 59_999) else {
            panic!("fresh before its expiry")
        };
        assert_eq!(e.value.as_deref(), Some("v"));
        assert!(matches!(at(created + 60_000), Freshness::Stale(_)));
        assert!(at(created + 89_999).fresh_or_stale().is_some());
        assert_eq!(at(created + 89_999).fresh(), None);
        assert_eq!(at(created + 90_000), Freshness::Expired(meta));
        assert!(
            codec
                .decode_at::<String>(&bytes, Some(2), created, 0)
                .unwrap_err()
                .is_miss(),
            "another schema is a miss"
        );
    }
    let forever = MsgPackCodec::default()
        .encode(&EntryMeta::default(), Some(&1u8))
        .unwrap();
    assert!(matches!(
        MsgPackCodec::default().decode_at::<u8>(&forever, None, u64::MAX, 0),
        Ok(Freshness::Fresh(_))
    ));
}

#[test]
fn absences_round_trip() {
    for codec_bytes in [
        MsgPackCodec::default().encode::<u8>(&EntryMeta::default(), None),
        JsonCodec::default().encode::<u8>(&EntryMeta::default(), None),
    ] {
        let bytes = codec_bytes.unwrap();
        let back = MsgPackCodec::default().decode::<u8>(&bytes, None).unwrap();
        assert_eq!(back.value, None);
        assert!(peek(&bytes).unwrap().flags.absent());
    }
}

#[test]
fn large_payloads_compress_and_small_ones_do_not() {
    let codec = MsgPackCodec::default();
    let big: Vec<String> = (0..500).map(|i| format!("job title number {i}")).collect();
    let bytes = codec.encode(&EntryMeta::default(), Some(&big)).unwrap();
    assert!(peek(&bytes).unwrap().flags.compressed());
    let raw = MsgPackCodec::default()
        .with_compression_threshold(usize::MAX)
        .encode(&EntryMeta::default(), Some(&big))
        .unwrap();
    assert!(
        bytes.len() * 2 < raw.len(),
        "{} vs {}",
        bytes.len(),
        raw.len()
    );
    assert_eq!(
        codec.decode::<Vec<String>>(&bytes, None).unwrap().value,
        Some(big)
    );
    let small = codec.encode(&EntryMeta::default(), Some(&"tiny")).unwrap();
    assert!(!peek(&small).unwrap().flags.compressed());
}

#[test]
fn incompressible_payloads_stay_uncompressed() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
    let noise: String = (0..4096)
        .map(|_| char::from(rng.sample(rand::distr::Alphanumeric)))
        .collect();
    let bytes = MsgPackCodec::default()
        .encode(&EntryMeta::default(), Some(&noise))
        .unwrap();
    assert!(!peek(&bytes).unwrap().flags.compressed());
}

#[test]
fn oversized_values_are_rejected_with_their_size() {
    let codec = MsgPackCodec::default()
        .with_max_value_bytes(1000)
        .with_compression_threshold(usize::MAX);
    let err = codec
        .encode(&EntryMeta::default(), Some(&"x".repeat(2000)))
        .unwrap_err();
    assert!(matches!(err, CodecError::ValueTooLarge { max: 1000, .. }));
    assert!(
        err.to_string()
            .contains("exceeds the maximum of 1000 bytes"),
        "{err}"
    );
    assert!(!err.is_miss());
}

#[test]
fn the_uncompressed_size_counts_against_the_limit() {
    // Compresses to almost nothing, but a reader would have to inflate 2000 bytes.
    let codec = MsgPackCodec::default().with_max_value_bytes(1000);
    let err = codec
        .encode(&EntryMeta::default(), Some(&"x".repeat(2000)))
        .unwrap_err();
    assert!(
        matches!(err, CodecError::ValueTooLarge { max: 1000, .. }),
        "{err}"
    );
}

#[test]
fn decompression_bombs_are_refused() {
    let codec = MsgPackCodec::default().with_compression_threshold(0);
    let bytes = codec
        .encode(&EntryMeta::default(), Some(&"a".repeat(100_000)))
        .unwrap();
    assert!(peek(&bytes).unwrap().flags.compressed());
    let strict = MsgPackCodec::default().with_max_value_bytes(10_000);
    let err = strict.decode::<String>(&bytes, None).unwrap_err();
    assert!(
        matches!(
            err,
            CodecError::DecompressedTooLarge {
                size: 100_005,
                max: 10_000
            }
        ),
        "{err}"
    );
    assert!(err.is_miss());

    // A forged size prefix claiming 4 GiB is refused before any allocation.
    let mut forged = bytes.to_vec();
    let payload_at = 4 + 4; // header, then fixarray(4) and three zero fixints
    let size_at = payload_at
        + match forged[payload_at] {
            0xC4 => 2, // bin8: marker + 1-byte length
            0xC5 => 3, // bin16
            _ => 5,    // bin32
        };
    forged[size_at..size_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = codec.decode::<String>(&forged, None).unwrap_err();
    assert!(
        matches!(err, CodecError::DecompressedTooLarge { .. }),
        "{err}"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let mut bytes = vec![0xC1, b'S', 1, 0, 0x94, 0, 0, 0];
    bytes.extend(std::iter::repeat_n(0x91u8, 200_000));
    bytes.push(0xC0);
    let r = MsgPackCodec::default().decode::<serde_json::Value>(&bytes, None);
    assert!(r.is_err());

    // The limit is the payload's own: 127 arrays around a nil decode, 128 do not.
    let nested = |levels: usize| {
        let mut bytes = vec![0xC1, b'S', 1, 0, 0x94, 0, 0, 0];
        bytes.extend(std::iter::repeat_n(0x91u8, levels));
        bytes.push(0xC0);
        MsgPackCodec::default().decode::<serde_json::Value>(&bytes, None)
    };
    assert!(nested(127).is_ok(), "{:?}", nested(127).err());
    assert!(nested(128).is_err());
}

#[test]
fn a_broken_body_names_the_element_it_broke_in() {
    let codec = MsgPackCodec::default();
    let meta = EntryMeta::new(1, 2, 3).with_generation(9);
    let tagged = codec
        .encode_tagged(&meta, &[TagVersion::new("u", 5)], Some(&7u8))
        .unwrap();
    // [0x96, 1, 3, 3, 7, 9, [["u", 5]]] after the 4-byte header: one byte at a time made
    // something its element cannot be.
    let last = tagged.len() - 1;
    let cases = [
        (8, 0xA1, "payload"),    // a one-character string where a u8 is
        (9, 0xC0, "generation"), // nil where the generation is
        (last, 0xC0, "tags"),    // nil where the tag's version is
    ];
    for (at, byte, element) in cases {
        let mut broken = tagged.to_vec();
        broken[at] = byte;
        let message = codec.decode::<u8>(&broken, None).unwrap_err().to_string();
        assert!(message.contains(element), "byte {at}: {message}");
    }
}

#[test]
fn generation_and_tags_follow_the_payload_and_old_bodies_read_as_generation_zero() {
    let codec = MsgPackCodec::default();
    let plain = codec.encode(&EntryMeta::new(1, 2, 3), Some(&7u8)).unwrap();
    // [created 1, expires 3, schema 3, 7]: four elements when there is neither.
    assert_eq!(&plain[4..], &[0x94, 1, 3, 3, 7]);
    assert_eq!(codec.decode::<u8>(&plain, None).unwrap().meta.generation, 0);

    let meta = EntryMeta::new(1, 2, 3).with_generation(9);
    let gen_only = codec.encode(&meta, Some(&7u8)).unwrap();
    assert_eq!(&gen_only[4..], &[0x95, 1, 3, 3, 7, 9]);
    let tagged = codec
        .encode_tagged(&meta, &[TagVersion::new("u", 5)], Some(&7u8))
        .unwrap();
    assert_eq!(
        &tagged[4..],
        &[0x96, 1, 3, 3, 7, 9, 0x91, 0x92, 0xa1, b'u', 5]
    );
    let env = codec.decode::<u8>(&tagged, None).unwrap();
    assert_eq!(env.tags, [TagVersion::new("u", 5)]);

    // Too many tags: refused on write, and on read.
    let many: Vec<TagVersion> = (0..=MAX_TAGS as u64)
        .map(|i| TagVersion::new("t", i))
        .collect();
    let err = codec.encode_tagged(&meta, &many, Some(&7u8)).unwrap_err();
    assert!(err.to_string().contains("65 tags"), "{err}");
    let mut forged = gen_only.to_vec();
    forged[4] = 0x96;
    forged.extend_from_slice(&[0xdc, 0x00, 0x41]);
    assert!(codec.decode::<u8>(&forged, None).unwrap_err().is_miss());
    // A truncated tag list is an error, never a panic.
    assert!(
        codec
            .decode::<u8>(&tagged[..tagged.len() - 2], None)
            .is_err()
    );
}
