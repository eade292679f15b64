//! Sliding-window rate limiting (SPEC 7).
//!
//! A [`RateLimitBackend`] counts requests per key: [`MemoryRateLimiter`] for a single node,
//! [`RedisRateLimiter`] (feature `redis`) when replicas share state. [`RateLimiter`] sits in
//! front, names the SPEC 7 policies ([`policy`]) and fails closed: a backend error or a
//! missed deadline is a refusal, never an allow.
//!
//! Semantics (both backends): a request is allowed when fewer than `limit` requests fall in
//! the last `window`; every request is counted, allowed or not, so a client that keeps
//! hammering stays blocked. Only the newest `retain` timestamps are kept, which keeps the
//! count exact for every limit up to `retain` while bounding memory.
//!
//! ```
//! use std::time::Duration;
//! use breeze_core::ratelimit::{MemoryRateLimiter, Quota, Verdict};
//!
//! let limiter = MemoryRateLimiter::new();
//! let quota = Quota::new(2, Duration::from_secs(60))?;
//! let t = 1_700_000_000_000; // Unix milliseconds
//! assert!(limiter.hit_at("login_ip:v4:203.0.113.7", quota, t)?.is_allowed());
//! assert!(limiter.hit_at("login_ip:v4:203.0.113.7", quota, t + 1)?.is_allowed());
//! let refused = limiter.hit_at("login_ip:v4:203.0.113.7", quota, t + 2)?;
//! assert_eq!(refused.verdict, Verdict::Limited);
//! assert_eq!(refused.retry_after_secs(), Some(60));
//! # Ok::<(), breeze_core::ratelimit::RateLimitError>(())
//! ```

mod backend;
mod clock;
mod decision;
mod limiter;
mod memory;
pub mod policy;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_conn;

pub use backend::RateLimitBackend;
pub(crate) use clock::duration_ms;
pub use clock::{Clock, ManualClock, SystemClock};
pub use decision::{
    MAX_KEY_LEN, MAX_LIMIT, MAX_WINDOW, Quota, RateDecision, RateLimitError, Verdict,
};
pub use limiter::RateLimiter;
pub use memory::{DEFAULT_MAX_KEYS, DEFAULT_SHARDS, MemoryRateLimiter};
pub use policy::{AgentRequestClass, Policy};
#[cfg(feature = "redis")]
pub use redis::RedisRateLimiter;
#[cfg(feature = "redis")]
pub use redis_conn::{DEFAULT_DEADLINE, RedisCallError, RedisConnection};
