//! The restart delay: exponential, capped, with jitter from a seeded generator (pure).

use std::time::Duration;

use crate::config::BackoffConfig;

/// The delay before restart number `failures` (1 = the first failure), before jitter.
pub fn base_delay(cfg: &BackoffConfig, failures: u32) -> Duration {
    let initial = cfg.initial.get().as_secs_f64();
    let max = cfg.max.get().as_secs_f64();
    let exp = failures.saturating_sub(1).min(64) as i32;
    let secs = (initial * cfg.multiplier.powi(exp)).min(max);
    Duration::from_secs_f64(secs.max(0.0))
}

/// `base` spread by ±`jitter` using `unit` in [0, 1).
pub fn with_jitter(base: Duration, jitter: f64, unit: f64) -> Duration {
    let factor = 1.0 + jitter * (2.0 * unit - 1.0);
    Duration::from_secs_f64(base.as_secs_f64() * factor.max(0.0))
}

/// xorshift64*: a tiny deterministic generator, so `decide()` stays pure and repeatable.
pub fn next_unit(seed: &mut u64) -> f64 {
    let mut x = (*seed).max(1);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *seed = x;
    (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;

    #[test]
    fn doubles_from_initial_and_caps_at_max() {
        let cfg = BackoffConfig::default();
        let secs: Vec<u64> = (1..=12).map(|n| base_delay(&cfg, n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        let huge = base_delay(&cfg, u32::MAX);
        assert_eq!(huge, Duration::from_secs(300));
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let mut seed = 42;
        let base = Duration::from_secs(10);
        let (mut lo, mut hi) = (f64::MAX, 0f64);
        for _ in 0..10_000 {
            let d = with_jitter(base, 0.1, next_unit(&mut seed)).as_secs_f64();
            lo = lo.min(d);
            hi = hi.max(d);
        }
        assert!(lo >= 9.0 && hi <= 11.0, "{lo}..{hi}");
        // And it really spreads: not a constant.
        assert!(lo < 9.2 && hi > 10.8, "{lo}..{hi}");
    }

    #[test]
    fn custom_multiplier() {
        let cfg = BackoffConfig {
            initial: Dur::millis(100),
            multiplier: 3.0,
            ..BackoffConfig::default()
        };
        assert_eq!(base_delay(&cfg, 3), Duration::from_millis(900));
    }
}
