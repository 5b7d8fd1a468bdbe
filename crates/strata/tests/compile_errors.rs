//! What the compiler says when the API is misused (the messages are part of the API).

#[test]
fn misuse_is_explained() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
