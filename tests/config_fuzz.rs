//! Bad input never crashes the config loader: thousands of random edits of the example
//! config (deleted, inserted and replaced characters, multi-byte ones included) each give a
//! config or errors that name a place, never a panic.

mod common;

use clawvisor::config::Config;

/// xorshift64*: deterministic, so a failure is reproducible from its iteration number.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

const PIECES: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "=",
    "\n",
    "#",
    " ",
    "é",
    "数",
    "🦀",
    "0",
    "-1",
    "1e999",
    "\"5 parsecs\"",
    "{",
    "}",
    ",",
    "true",
    "\"\"\"",
    "\\",
    ".",
    "x = 1\n",
    "[gateway]\n",
    "[logs.patterns]\n",
];

#[test]
fn random_edits_of_the_example_config_never_panic() {
    let base = common::example_config_all_on();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rejected = 0;
    for i in 0..3000 {
        let mut text: Vec<char> = base.chars().collect();
        for _ in 0..(1 + next(&mut seed) % 4) {
            let at = (next(&mut seed) as usize) % (text.len() + 1);
            match next(&mut seed) % 3 {
                0 if at < text.len() => {
                    text.remove(at);
                }
                1 if at < text.len() => {
                    let piece = PIECES[(next(&mut seed) as usize) % PIECES.len()];
                    text.splice(at..at + 1, piece.chars());
                }
                _ => {
                    let piece = PIECES[(next(&mut seed) as usize) % PIECES.len()];
                    text.splice(at..at, piece.chars());
                }
            }
        }
        let text: String = text.into_iter().collect();
        let result = std::panic::catch_unwind(|| Config::parse(&text, "fuzz.toml"));
        let Ok(result) = result else {
            panic!("iteration {i}: the loader panicked on:\n{text}");
        };
        if let Err(errors) = result {
            rejected += 1;
            assert!(
                !errors.0.is_empty(),
                "iteration {i}: an error list must not be empty"
            );
            for e in &errors.0 {
                assert!(!e.message.is_empty(), "iteration {i}: {e:?}");
            }
        }
    }
    assert!(
        rejected > 500,
        "the edits should break most configs: {rejected}"
    );
}
