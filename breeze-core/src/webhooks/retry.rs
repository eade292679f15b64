//! The retry schedule of a delivery (SPEC 13): 6 attempts, each wait three times the one
//! before, with ±20 % jitter so that receivers recovering from an outage are not hit by
//! every sender at the same instant. With the default 30 s base the waits are about 30 s,
//! 90 s, 4.5 min, 13.5 min and 40.5 min: about an hour from the first attempt to the last.

use time::Duration;

/// Attempts of one delivery before it is `failed`.
pub const MAX_ATTEMPTS: u32 = 6;
/// The wait before the second attempt by default, in milliseconds.
pub const DEFAULT_BASE_MS: u64 = 30_000;
/// Each wait is this many times the previous one.
pub const FACTOR: u64 = 3;

/// The wait after failed attempt number `attempt` (1-based), or `None` when it was the
/// last. `jitter` in `0.0..=1.0` (from the caller's randomness; clamped) scales the wait
/// between 80 % and 120 %.
#[must_use]
pub fn retry_delay(attempt: u32, base_ms: u64, jitter: f64) -> Option<Duration> {
    if attempt >= MAX_ATTEMPTS {
        return None;
    }
    let exponent = attempt.saturating_sub(1);
    let nominal = base_ms.saturating_mul(FACTOR.saturating_pow(exponent));
    let scale = 0.8
        + 0.4
            * if jitter.is_finite() {
                jitter.clamp(0.0, 1.0)
            } else {
                0.5
            };
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a wait of at most hours in milliseconds: far inside f64's exact range, and scale is positive"
    )]
    let ms = (nominal as f64 * scale).round() as u64;
    Some(Duration::milliseconds(
        i64::try_from(ms).unwrap_or(i64::MAX),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_attempts_about_an_hour_with_bounded_jitter() {
        let mid: Vec<i64> = (1..MAX_ATTEMPTS)
            .map(|a| {
                retry_delay(a, DEFAULT_BASE_MS, 0.5)
                    .unwrap()
                    .whole_seconds()
            })
            .collect();
        assert_eq!(mid, [30, 90, 270, 810, 2430]);
        assert!(retry_delay(MAX_ATTEMPTS, DEFAULT_BASE_MS, 0.5).is_none());
        assert!(retry_delay(MAX_ATTEMPTS + 5, DEFAULT_BASE_MS, 0.5).is_none());
        let total: i64 = mid.iter().sum();
        assert!((3000..=4000).contains(&total), "{total}");
        for a in 1..MAX_ATTEMPTS {
            let lo = retry_delay(a, 1000, 0.0).unwrap();
            let hi = retry_delay(a, 1000, 1.0).unwrap();
            let nominal = retry_delay(a, 1000, 0.5).unwrap();
            assert_eq!(lo, nominal * 0.8);
            assert_eq!(hi, nominal * 1.2);
        }
        // out-of-range jitter is clamped, never negative or unbounded
        assert_eq!(retry_delay(1, 1000, -3.0), retry_delay(1, 1000, 0.0));
        assert_eq!(retry_delay(1, 1000, f64::NAN), retry_delay(1, 1000, 0.5));
    }
}
