use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use strata_backend::Clock;

use super::xfetch_due;

/// XFetch on a manual clock: at `g` before expiry, with δ and β, the share of readers that
/// refresh is `exp(−g / (δ·β))`.
#[test]
fn xfetch_refreshes_early_with_the_documented_probability() {
    let clock = Clock::manual_at(1_000_000);
    let expires_at = 1_000_000 + 10_000;
    let delta_us = 200_000; // 200 ms
    let mut rng = SmallRng::seed_from_u64(24);
    for beta in [1.0, 2.0] {
        for before_ms in [0u64, 100, 200, 400, 1_000, 3_000] {
            clock.set_ms(expires_at - before_ms);
            let draws = 100_000;
            let early = (0..draws)
                .filter(|_| {
                    let u = 1.0 - rng.random::<f64>();
                    xfetch_due(clock.now_ms(), expires_at, delta_us, beta, u)
                })
                .count();
            let share = early as f64 / draws as f64;
            let expected = (-(before_ms as f64) / (200.0 * beta)).exp();
            assert!(
                (share - expected).abs() < 0.01,
                "β {beta}, {before_ms} ms before expiry: {share} refreshed, expected {expected}"
            );
        }
    }
}

#[test]
fn xfetch_never_refreshes_without_a_measured_load_or_an_expiry() {
    assert!(!xfetch_due(0, 10, 0, 1.0, 1e-300));
    assert!(!xfetch_due(0, 0, 1_000, 1.0, 1e-300));
    // At or past expiry every reader refreshes.
    assert!(xfetch_due(10, 10, 1_000, 1.0, 1.0));
}
