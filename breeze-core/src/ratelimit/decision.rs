//! Quotas, decisions and errors shared by every rate-limit backend.

use std::time::Duration;

use super::clock::duration_ms;

/// The largest limit (and number of retained entries) a quota may carry.
pub const MAX_LIMIT: u32 = 1_000_000;

/// The longest window a quota may carry (one day).
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// How many requests a key may make within a sliding window.
///
/// `retain` (at least `limit`) is how many of the newest requests the backend remembers; a key
/// shared by quotas of different limits (the organization agent budget with its inventory
/// reserve) uses the largest of them so every quota sees an exact count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    limit: u32,
    window_ms: u64,
    retain: u32,
}

impl Quota {
    /// `limit` requests per `window`.
    ///
    /// # Errors
    /// [`RateLimitError::InvalidQuota`] when `limit` is 0 or above [`MAX_LIMIT`], or the window
    /// is shorter than a millisecond or longer than [`MAX_WINDOW`].
    pub fn new(limit: u32, window: Duration) -> Result<Self, RateLimitError> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(RateLimitError::InvalidQuota(
                "limit must be between 1 and 1000000",
            ));
        }
        let window_ms = duration_ms(window);
        if window_ms == 0 || window > MAX_WINDOW {
            return Err(RateLimitError::InvalidQuota(
                "window must be between 1 ms and 24 h",
            ));
        }
        Ok(Self {
            limit,
            window_ms,
            retain: limit,
        })
    }

    /// A compile-time quota of `limit` requests per `window_secs` seconds (both clamped to the
    /// valid range, so a constant can never be invalid).
    #[must_use]
    pub const fn per_secs(limit: u32, window_secs: u64) -> Self {
        let limit = if limit == 0 {
            1
        } else if limit > MAX_LIMIT {
            MAX_LIMIT
        } else {
            limit
        };
        let secs = if window_secs == 0 {
            1
        } else if window_secs > MAX_WINDOW.as_secs() {
            MAX_WINDOW.as_secs()
        } else {
            window_secs
        };
        Self {
            limit,
            window_ms: secs * 1000,
            retain: limit,
        }
    }

    /// The same quota, remembering at least `retain` entries (never fewer than the limit).
    #[must_use]
    pub const fn retaining(mut self, retain: u32) -> Self {
        let retain = if retain > MAX_LIMIT {
            MAX_LIMIT
        } else {
            retain
        };
        if retain > self.limit {
            self.retain = retain;
        }
        self
    }

    /// Requests allowed per window.
    #[must_use]
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// The window length in milliseconds.
    #[must_use]
    pub const fn window_ms(&self) -> u64 {
        self.window_ms
    }

    /// The window length.
    #[must_use]
    pub const fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms)
    }

    /// How many of the newest entries the backend remembers.
    #[must_use]
    pub const fn retain(&self) -> u32 {
        self.retain
    }
}

/// What the limiter decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit.
    Allowed,
    /// Over the limit: answer 429.
    Limited,
    /// The configured backend could not answer in time: refused (fail closed), answer 429.
    Unavailable,
}

/// A rate-limit answer with everything the `429` and `X-RateLimit-*` headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Allowed, limited or refused because the backend is unavailable.
    pub verdict: Verdict,
    /// The limit of the quota.
    pub limit: u32,
    /// Requests still allowed in the current window (0 when refused).
    pub remaining: u32,
    /// When (Unix milliseconds) the oldest counted request leaves the window.
    pub reset_at_ms: u64,
    /// How long to wait before a request can be allowed again (set when refused).
    pub retry_after: Option<Duration>,
}

impl RateDecision {
    /// Whether the request may proceed.
    #[must_use]
    pub const fn is_allowed(&self) -> bool {
        matches!(self.verdict, Verdict::Allowed)
    }

    /// The fail-closed answer when the backend is unavailable.
    #[must_use]
    pub fn unavailable(quota: Quota, now_ms: u64) -> Self {
        let retry = Duration::from_secs(1);
        Self {
            verdict: Verdict::Unavailable,
            limit: quota.limit,
            remaining: 0,
            reset_at_ms: now_ms.saturating_add(duration_ms(retry)),
            retry_after: Some(retry),
        }
    }

    /// `Retry-After` in whole seconds, rounded up and at least 1 (only when refused).
    #[must_use]
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
            .map(|d| duration_ms(d).div_ceil(1000).max(1))
    }

    /// The response headers: `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
    /// `X-RateLimit-Reset` (Unix seconds, rounded up) and, when refused, `Retry-After`.
    #[must_use]
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("X-RateLimit-Limit", self.limit.to_string()),
            ("X-RateLimit-Remaining", self.remaining.to_string()),
            (
                "X-RateLimit-Reset",
                self.reset_at_ms.div_ceil(1000).to_string(),
            ),
        ];
        if let Some(secs) = self.retry_after_secs() {
            out.push(("Retry-After", secs.to_string()));
        }
        out
    }
}

/// What a backend observed for one key, from which [`decide`] builds the answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowState {
    /// Requests in the window before this one was recorded.
    pub counted: u64,
    /// Entries retained after recording (equal to `counted` for a peek).
    pub total: u64,
    /// Timestamp of the oldest retained entry (0 when none).
    pub oldest_ms: u64,
    /// Timestamp of the entry that must leave the window before a request is allowed again
    /// (the entry at position `total - limit`), 0 when the key is under its limit.
    pub blocking_ms: u64,
}

/// The shared sliding-window arithmetic of every backend.
pub(crate) fn decide(
    quota: Quota,
    now_ms: u64,
    state: WindowState,
    recorded: bool,
) -> RateDecision {
    let limit = u64::from(quota.limit);
    let allowed = state.counted < limit;
    let used = if recorded && allowed {
        state.counted.saturating_add(1)
    } else {
        state.counted
    };
    let remaining = if allowed {
        limit.saturating_sub(used)
    } else {
        0
    };
    let reset_at_ms = if state.total == 0 {
        now_ms
    } else {
        state.oldest_ms.saturating_add(quota.window_ms)
    };
    let retry_after = if allowed {
        None
    } else {
        let free_at = state.blocking_ms.saturating_add(quota.window_ms);
        Some(Duration::from_millis(free_at.saturating_sub(now_ms).max(1)))
    };
    RateDecision {
        verdict: if allowed {
            Verdict::Allowed
        } else {
            Verdict::Limited
        },
        limit: quota.limit,
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        reset_at_ms,
        retry_after,
    }
}

/// Errors of the rate limiter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitError {
    /// The quota is outside the accepted range.
    #[error("invalid quota: {0}")]
    InvalidQuota(&'static str),
    /// The key is empty or longer than 512 bytes.
    #[error("invalid rate-limit key")]
    InvalidKey,
    /// The backend did not answer before the deadline.
    #[error("rate-limit backend timed out")]
    Timeout,
    /// The backend failed (connection refused, protocol error).
    #[error("rate-limit backend unavailable: {0}")]
    Backend(String),
}

impl RateLimitError {
    /// A stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidQuota(_) => "invalid_quota",
            Self::InvalidKey => "invalid_key",
            Self::Timeout => "backend_timeout",
            Self::Backend(_) => "backend_unavailable",
        }
    }
}

/// The longest key a backend accepts.
pub const MAX_KEY_LEN: usize = 512;

/// Checks a key before it reaches a backend.
pub(crate) fn check_key(key: &str) -> Result<(), RateLimitError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(RateLimitError::InvalidKey);
    }
    Ok(())
}
