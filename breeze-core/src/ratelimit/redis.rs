//! The Redis sliding-window limiter: one sorted set per key, one atomic Lua script per call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redis::Script;

use super::backend::RateLimitBackend;
use super::clock::{Clock, SystemClock};
use super::decision::{Quota, RateDecision, RateLimitError, WindowState, check_key, decide};
use super::redis_conn::{RedisCallError, RedisConnection};

/// Drops expired entries, optionally records this request, trims to the retained count, sets
/// the expiry and returns `{counted, total, oldest, blocking}` (see `WindowState`).
const SLIDING_WINDOW_LUA: &str = r"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local retain = tonumber(ARGV[4])
local member = ARGV[5]
local record = ARGV[6] == '1'
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local counted = redis.call('ZCARD', key)
if record then
  redis.call('ZADD', key, now, member)
  redis.call('ZREMRANGEBYRANK', key, 0, -(retain + 1))
  redis.call('PEXPIRE', key, window)
end
local total = redis.call('ZCARD', key)
local oldest = 0
local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if first[2] then oldest = tonumber(first[2]) end
local blocking = 0
if total >= limit then
  local b = redis.call('ZRANGE', key, total - limit, total - limit, 'WITHSCORES')
  if b[2] then blocking = tonumber(b[2]) end
end
return {counted, total, oldest, blocking}
";

impl From<RedisCallError> for RateLimitError {
    fn from(e: RedisCallError) -> Self {
        match e {
            RedisCallError::Timeout => Self::Timeout,
            other => Self::Backend(other.to_string()),
        }
    }
}

/// Redis limiter shared by every replica.
///
/// One Lua script per call makes "expire, count, record, trim, expire-key" atomic. Entries
/// are the caller's clock in milliseconds plus a unique member, so replicas need synchronised
/// clocks. Any error or a call past the connection's deadline is returned as an error, which
/// [`RateLimiter`](super::RateLimiter) turns into a refusal.
#[derive(Debug, Clone)]
pub struct RedisRateLimiter {
    conn: RedisConnection,
    script: Arc<Script>,
    clock: Arc<dyn Clock>,
    nonce: Arc<(String, AtomicU64)>,
}

impl RedisRateLimiter {
    /// A limiter on `conn` with the system clock.
    #[must_use]
    pub fn new(conn: RedisConnection) -> Self {
        Self::with_clock(conn, Arc::new(SystemClock))
    }

    /// A limiter on `conn` reading time from `clock`.
    #[must_use]
    pub fn with_clock(conn: RedisConnection, clock: Arc<dyn Clock>) -> Self {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        Self {
            conn,
            script: Arc::new(Script::new(SLIDING_WINDOW_LUA)),
            clock,
            nonce: Arc::new((nonce, AtomicU64::new(0))),
        }
    }

    async fn run(
        &self,
        key: &str,
        quota: Quota,
        record: bool,
    ) -> Result<RateDecision, RateLimitError> {
        check_key(key)?;
        let now = self.clock.now_ms();
        let member = format!(
            "{now}-{}-{}",
            self.nonce.0,
            self.nonce.1.fetch_add(1, Ordering::Relaxed)
        );
        let redis_key = self.conn.key("rl", key);
        let script = Arc::clone(&self.script);
        let (counted, total, oldest_ms, blocking_ms): (u64, u64, u64, u64) = self
            .conn
            .run(|mut con| async move {
                script
                    .key(redis_key)
                    .arg(now)
                    .arg(quota.window_ms())
                    .arg(quota.limit())
                    .arg(quota.retain())
                    .arg(member)
                    .arg(if record { "1" } else { "0" })
                    .invoke_async(&mut con)
                    .await
            })
            .await?;
        let state = WindowState {
            counted,
            total,
            oldest_ms,
            blocking_ms,
        };
        Ok(decide(quota, now, state, record))
    }
}

impl RateLimitBackend for RedisRateLimiter {
    async fn hit(&self, key: &str, quota: Quota) -> Result<RateDecision, RateLimitError> {
        self.run(key, quota, true).await
    }

    async fn peek(&self, key: &str, quota: Quota) -> Result<RateDecision, RateLimitError> {
        self.run(key, quota, false).await
    }

    async fn clear(&self, key: &str) -> Result<(), RateLimitError> {
        check_key(key)?;
        let redis_key = self.conn.key("rl", key);
        self.conn
            .run(|mut con| async move {
                redis::cmd("DEL")
                    .arg(redis_key)
                    .query_async::<()>(&mut con)
                    .await
            })
            .await?;
        Ok(())
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
}
