//! The rate-limit backend trait (in-memory and Redis implement it).

use std::future::Future;

use super::decision::{Quota, RateDecision, RateLimitError};

/// A sliding-window counter store.
///
/// Every call is one atomic step on one key: expired entries are dropped, the request is
/// counted (rejected requests count too, so a hammering client stays blocked), and the answer
/// carries limit, remaining, reset and retry-after. Errors mean "could not decide": the
/// [`RateLimiter`](super::RateLimiter) front turns them into a refusal (fail closed).
pub trait RateLimitBackend: Send + Sync {
    /// Counts one request on `key` and decides it.
    fn hit(
        &self,
        key: &str,
        quota: Quota,
    ) -> impl Future<Output = Result<RateDecision, RateLimitError>> + Send;

    /// Decides without counting (for example "is this account locked?").
    fn peek(
        &self,
        key: &str,
        quota: Quota,
    ) -> impl Future<Output = Result<RateDecision, RateLimitError>> + Send;

    /// Forgets every request counted on `key` (for example after a successful login).
    fn clear(&self, key: &str) -> impl Future<Output = Result<(), RateLimitError>> + Send;

    /// The current time of the backend's clock, in Unix milliseconds.
    fn now_ms(&self) -> u64;
}
