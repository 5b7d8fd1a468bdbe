//! Time-bounded fuzzing on stable Rust: random and mutated inputs, no coverage guidance
//! (cargo-fuzz and bolero's engines need a nightly toolchain).
//!
//! Each target runs for `STRATA_FUZZ_SECONDS` (default 1: the property-test version CI runs);
//! `cargo xtask fuzz` sets 60. A failure prints the seed to replay it with `STRATA_FUZZ_SEED`.

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// How long each target runs.
pub fn budget() -> Duration {
    let secs = std::env::var("STRATA_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0);
    Duration::from_secs_f64(secs)
}

/// Runs `case` with fresh random generators until the budget is spent; returns the number of
/// cases. Each case gets its own seed, printed if it panics.
pub fn run(target: &str, mut case: impl FnMut(&mut SmallRng)) -> u64 {
    let budget = budget();
    let base: u64 = std::env::var("STRATA_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let start = Instant::now();
    let mut n = 0u64;
    while n == 0 || start.elapsed() < budget {
        let seed = base.wrapping_add(n);
        let mut rng = SmallRng::seed_from_u64(seed);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&mut rng)));
        if let Err(panic) = outcome {
            eprintln!("fuzz {target}: case failed; replay with STRATA_FUZZ_SEED={seed}");
            std::panic::resume_unwind(panic);
        }
        n += 1;
        if std::env::var_os("STRATA_FUZZ_SEED").is_some() {
            break;
        }
    }
    eprintln!("fuzz {target}: {n} cases in {:?}", start.elapsed());
    n
}

/// Random bytes, length up to `max`.
pub fn bytes(rng: &mut SmallRng, max: usize) -> Vec<u8> {
    let len = rng.random_range(0..=max);
    (0..len).map(|_| rng.random()).collect()
}

/// `input` with a few random mutations: flipped bytes, inserted or removed runs, truncation.
pub fn mutate(rng: &mut SmallRng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        match rng.random_range(0..5) {
            0 if !out.is_empty() => {
                let i = rng.random_range(0..out.len());
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !out.is_empty() => {
                let i = rng.random_range(0..out.len());
                out[i] = rng.random();
            }
            2 => {
                let i = rng.random_range(0..=out.len());
                let run = bytes(rng, 16);
                out.splice(i..i, run);
            }
            3 if !out.is_empty() => {
                let i = rng.random_range(0..out.len());
                let j = rng.random_range(i..=out.len());
                out.drain(i..j);
            }
            _ => {
                let keep = rng.random_range(0..=out.len());
                out.truncate(keep);
            }
        }
    }
    out
}

/// A string of random characters biased toward the ones that break things: separators, escapes,
/// whitespace, controls, NUL, braces, globs, non-ASCII; sometimes very long.
pub fn nasty_string(rng: &mut SmallRng) -> String {
    const NASTY: &[char] = &[
        ':', '%', '{', '}', '#', '*', '?', '[', ']', '\\', ' ', '\n', '\r', '\t', '\0', '\u{7f}',
        '\u{85}', '\u{a0}', '\u{2028}', 'é', 'ß', '日', '🦀', '"', '\'', '=', '.', '/',
    ];
    let len = if rng.random_bool(0.02) {
        rng.random_range(1000..300_000)
    } else {
        rng.random_range(0..40)
    };
    (0..len)
        .map(|_| match rng.random_range(0..4) {
            0 => NASTY[rng.random_range(0..NASTY.len())],
            1 => char::from_u32(rng.random_range(0..0x11_0000)).unwrap_or('x'),
            _ => char::from(rng.random_range(b'a'..=b'z')),
        })
        .collect()
}
