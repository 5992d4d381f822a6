//! The reasoning-tests file loader (`[quality] tests`, the seed's JSON format).

use crate::health::quality::parse_tests;

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_tests(text, "fuzz.json") {
        Ok(tests) => {
            assert!(!tests.is_empty(), "an empty test list was accepted");
            for t in &tests {
                assert!(
                    t.expected_keywords.iter().any(|k| !k.trim().is_empty()),
                    "a test without keywords was accepted"
                );
            }
        }
        Err(e) => assert!(e.starts_with("fuzz.json"), "the error names no file: {e}"),
    }
}
