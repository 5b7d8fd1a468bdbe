//! Property tests: distinct (kind, id) pairs never share a key, and keys parse back.

use proptest::prelude::*;
use strata_keys::{Key, KeyId, KeySpace};

/// Characters that stress the escaping: separators, escapes, markers, braces, whitespace.
fn tricky_string(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just(':'),
            Just('%'),
            Just('#'),
            Just('{'),
            Just('}'),
            Just('*'),
            Just(' '),
            Just('\n'),
            Just('\0'),
            Just('a'),
            Just('b'),
            Just('2'),
            Just('3'),
            Just('A'),
            Just('é'),
        ],
        0..max,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn build(kind: &str, id: &str, tagged: bool) -> Option<Key> {
    let space = KeySpace::new("p", "v1").ok()?;
    space.kind(kind).ok()?.with_hash_tag(tagged).key(id).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn distinct_pairs_never_collide(
        k1 in tricky_string(6), i1 in tricky_string(8),
        k2 in tricky_string(6), i2 in tricky_string(8),
        tagged in any::<bool>(),
    ) {
        if let (Some(a), Some(b)) = (build(&k1, &i1, tagged), build(&k2, &i2, tagged)) {
            prop_assert_eq!(a == b, (k1, i1) == (k2, i2));
        }
    }

    #[test]
    fn keys_parse_back_to_their_parts(
        kind in tricky_string(6), id in tricky_string(12), schema in 0u32..1000,
        generation in 0u64..5, tagged in any::<bool>(),
    ) {
        let space = KeySpace::new("pre:fix", "v{2}").unwrap();
        let Ok(kk) = space.kind(&kind) else { return Ok(()) };
        let kk = kk.with_schema(schema).with_generation(generation).with_hash_tag(tagged);
        let Ok(key) = kk.key(&id) else { return Ok(()) };
        prop_assert!(!key.chars().any(|c| c.is_control() || c.is_whitespace()));
        let parts = Key::parse(&key).unwrap();
        prop_assert_eq!(parts.prefix, "pre:fix");
        prop_assert_eq!(parts.app_version, "v{2}");
        prop_assert_eq!(parts.kind, kind);
        prop_assert_eq!(parts.schema, schema);
        prop_assert_eq!(parts.generation, generation);
        prop_assert_eq!(parts.hash_tagged, tagged);
        match parts.id {
            KeyId::Plain(p) => prop_assert_eq!(p, id),
            KeyId::Hashed(h) => prop_assert_eq!(h.len(), 32),
        }
    }

    #[test]
    fn long_ids_hash_and_never_collide(a in "[a-z]{150,400}", b in "[a-z]{150,400}") {
        let ka = build("user", &a, false).unwrap();
        let kb = build("user", &b, false).unwrap();
        prop_assert!(ka.len() < 260);
        prop_assert_eq!(ka == kb, a == b);
    }
}

#[test]
fn the_issue_example_does_not_collide() {
    let a = build("a:b", "c", false).unwrap();
    let b = build("a", "b:c", false).unwrap();
    assert_ne!(a, b);
    assert_eq!(a.as_str(), "p:v1:a%3Ab:s1:c");
    assert_eq!(b.as_str(), "p:v1:a:s1:b:c");
}

#[test]
fn empty_ids_are_rejected() {
    let users = KeySpace::new("p", "v1").unwrap().kind("user").unwrap();
    let err = users.key("").unwrap_err();
    assert!(err.to_string().contains("id is empty"), "{err}");
}

#[test]
fn non_keys_fail_to_parse_with_a_reason() {
    for bad in [
        "",
        "a:b",
        "p:v:user:x1:42",
        "p:v:user:s1:#zz",
        "p:v:user:s1:%G1",
    ] {
        let err = Key::parse(bad).unwrap_err();
        assert!(err.to_string().contains("not a Strata key"), "{err}");
    }
}
