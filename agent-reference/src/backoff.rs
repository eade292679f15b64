//! Exponential backoff with full jitter, and `Retry-After` parsing (SPEC 8.7).

use std::time::{Duration, SystemTime};

/// The longest wait a `Retry-After` header can impose (a hostile or broken server must not
/// park the agent for days).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Exponential backoff with full jitter: attempt `n` waits a uniformly random duration in
/// `[0, min(cap, base * 2^n)]`.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `base` and never exceeding `cap`.
    #[must_use]
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The upper bound of the next delay (before jitter).
    #[must_use]
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The next delay: uniformly random in `[0, ceiling]`, then the ceiling doubles.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        jitter(ceiling)
    }

    /// The next delay, but at least `retry_after` when the server sent one (capped at
    /// [`MAX_RETRY_AFTER`]).
    pub fn next_delay_honouring(&mut self, retry_after: Option<Duration>) -> Duration {
        let delay = self.next_delay();
        match retry_after {
            Some(server) => delay.max(server.min(MAX_RETRY_AFTER)),
            None => delay,
        }
    }

    /// Number of delays handed out since the last reset.
    #[must_use]
    pub const fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over after a success.
    pub const fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A uniformly random duration in `[0, max]` (millisecond resolution).
#[must_use]
pub fn jitter(max: Duration) -> Duration {
    let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if max_ms == 0 {
        return Duration::ZERO;
    }
    // If the OS RNG fails, fall back to the full ceiling: waiting longer is always safe.
    let random = getrandom::u64().unwrap_or(u64::MAX);
    Duration::from_millis(random % max_ms.saturating_add(1))
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP-date (RFC 9110 10.2.3), relative to
/// `now`. Returns `None` for an unparseable value; a date in the past means zero. The result
/// is capped at [`MAX_RETRY_AFTER`].
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Very long digit strings saturate rather than fail: they still mean "a long time".
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}
