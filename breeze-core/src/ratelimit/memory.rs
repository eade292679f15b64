//! The single-node in-memory sliding-window limiter: sharded LRU maps, bounded key count.

use std::collections::VecDeque;
use std::future::{Future, ready};
use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;
use parking_lot::Mutex;

use super::backend::RateLimitBackend;
use super::clock::{Clock, SystemClock};
use super::decision::{Quota, RateDecision, RateLimitError, WindowState, check_key, decide};

/// The default cap on tracked keys (SPEC 7).
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// The default number of lock shards.
pub const DEFAULT_SHARDS: usize = 32;

/// One lock shard: an LRU map of key to window.
type Shard = Mutex<LruCache<String, Window>>;

/// The request timestamps of one key, oldest first, at most `retain` of them.
#[derive(Debug, Default)]
struct Window {
    stamps: VecDeque<u64>,
}

impl Window {
    /// Drops entries at or before `cutoff_ms`; returns how many remain.
    fn expire(&mut self, cutoff_ms: u64) -> u64 {
        while self.stamps.front().is_some_and(|&t| t <= cutoff_ms) {
            self.stamps.pop_front();
        }
        u64::try_from(self.stamps.len()).unwrap_or(u64::MAX)
    }

    /// Records a request at `now_ms`, keeping the newest `retain` entries in order (even if
    /// the clock steps back).
    fn record(&mut self, now_ms: u64, retain: usize) {
        let stamp = self.stamps.back().map_or(now_ms, |&last| last.max(now_ms));
        self.stamps.push_back(stamp);
        while self.stamps.len() > retain {
            self.stamps.pop_front();
        }
    }

    fn state(&self, counted: u64, limit: u32) -> WindowState {
        let total = self.stamps.len();
        let blocking_ms = usize::try_from(limit)
            .ok()
            .and_then(|limit| total.checked_sub(limit))
            .and_then(|i| self.stamps.get(i))
            .copied()
            .unwrap_or(0);
        WindowState {
            counted,
            total: u64::try_from(total).unwrap_or(u64::MAX),
            oldest_ms: self.stamps.front().copied().unwrap_or(0),
            blocking_ms,
        }
    }
}

/// In-memory limiter for a single node.
///
/// At most `max_keys` keys are tracked (the least recently used is evicted), split over
/// independently locked shards so concurrent callers rarely contend. Each key remembers at
/// most `quota.retain()` timestamps, so memory is bounded by `max_keys x retain x 8` bytes.
/// Eviction forgets a key's history: a flood of distinct keys can release a blocked client
/// early, which is why several replicas (or a large attack surface) should use Redis.
pub struct MemoryRateLimiter {
    shards: Box<[Shard]>,
    /// Picks the shard (seeded per limiter, the same fast hasher the maps use).
    hasher: lru::DefaultHasher,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRateLimiter {
    /// 100,000 keys over 32 shards, system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::with_options(DEFAULT_MAX_KEYS, DEFAULT_SHARDS, Arc::new(SystemClock))
    }

    /// A limiter with the system clock and a different key cap.
    #[must_use]
    pub fn with_max_keys(max_keys: usize) -> Self {
        Self::with_options(max_keys, DEFAULT_SHARDS, Arc::new(SystemClock))
    }

    /// A limiter reading time from `clock` (tests use a [`ManualClock`](super::ManualClock)).
    #[must_use]
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self::with_options(DEFAULT_MAX_KEYS, DEFAULT_SHARDS, clock)
    }

    /// Full control: `max_keys` tracked keys in total (at least one per shard), `shards` locks.
    #[must_use]
    pub fn with_options(max_keys: usize, shards: usize, clock: Arc<dyn Clock>) -> Self {
        let shards = shards.clamp(1, 1024).min(max_keys.max(1));
        let per_shard =
            NonZeroUsize::new(max_keys.max(1).div_ceil(shards)).unwrap_or(NonZeroUsize::MIN);
        let shards = (0..shards)
            .map(|_| Mutex::new(LruCache::new(per_shard)))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Self {
            shards,
            hasher: lru::DefaultHasher::default(),
            clock,
        }
    }

    /// The number of keys currently tracked.
    #[must_use]
    pub fn tracked_keys(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    fn shard(&self, key: &str) -> Result<&Shard, RateLimitError> {
        let len = u64::try_from(self.shards.len()).unwrap_or(1).max(1);
        let index = usize::try_from(self.hasher.hash_one(key) % len).unwrap_or(0);
        self.shards
            .get(index)
            .ok_or_else(|| RateLimitError::Backend("no shard".to_owned()))
    }

    /// The synchronous core of [`RateLimitBackend::hit`], at time `now_ms`.
    ///
    /// # Errors
    /// [`RateLimitError::InvalidKey`] for an empty or overlong key.
    pub fn hit_at(
        &self,
        key: &str,
        quota: Quota,
        now_ms: u64,
    ) -> Result<RateDecision, RateLimitError> {
        check_key(key)?;
        let cutoff = now_ms.saturating_sub(quota.window_ms());
        let retain = usize::try_from(quota.retain()).unwrap_or(usize::MAX);
        let mut shard = self.shard(key)?.lock();
        // One lookup; a new key evicts the least recently used one when the shard is full.
        let window = shard.get_or_insert_mut_ref(key, Window::default);
        let counted = window.expire(cutoff);
        window.record(now_ms, retain);
        let state = window.state(counted, quota.limit());
        drop(shard);
        Ok(decide(quota, now_ms, state, true))
    }

    /// The synchronous core of [`RateLimitBackend::peek`], at time `now_ms`.
    ///
    /// # Errors
    /// [`RateLimitError::InvalidKey`] for an empty or overlong key.
    pub fn peek_at(
        &self,
        key: &str,
        quota: Quota,
        now_ms: u64,
    ) -> Result<RateDecision, RateLimitError> {
        check_key(key)?;
        let cutoff = now_ms.saturating_sub(quota.window_ms());
        let mut shard = self.shard(key)?.lock();
        let state = match shard.peek_mut(key) {
            Some(window) => {
                let counted = window.expire(cutoff);
                window.state(counted, quota.limit())
            }
            None => WindowState {
                counted: 0,
                total: 0,
                oldest_ms: 0,
                blocking_ms: 0,
            },
        };
        drop(shard);
        Ok(decide(quota, now_ms, state, false))
    }

    /// The synchronous core of [`RateLimitBackend::clear`].
    ///
    /// # Errors
    /// [`RateLimitError::InvalidKey`] for an empty or overlong key.
    pub fn clear_key(&self, key: &str) -> Result<(), RateLimitError> {
        check_key(key)?;
        self.shard(key)?.lock().pop(key);
        Ok(())
    }
}

impl RateLimitBackend for MemoryRateLimiter {
    fn hit(
        &self,
        key: &str,
        quota: Quota,
    ) -> impl Future<Output = Result<RateDecision, RateLimitError>> + Send {
        ready(self.hit_at(key, quota, self.clock.now_ms()))
    }

    fn peek(
        &self,
        key: &str,
        quota: Quota,
    ) -> impl Future<Output = Result<RateDecision, RateLimitError>> + Send {
        ready(self.peek_at(key, quota, self.clock.now_ms()))
    }

    fn clear(&self, key: &str) -> impl Future<Output = Result<(), RateLimitError>> + Send {
        ready(self.clear_key(key))
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
}
