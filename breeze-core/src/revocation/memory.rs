//! The single-node in-memory revocation store.

use std::collections::HashMap;
use std::future::{Future, ready};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use uuid::Uuid;

use super::backend::{BurnOutcome, NonceOutcome, RevocationBackend, RevocationError, StepOutcome};
use crate::ratelimit::{Clock, SystemClock, duration_ms};
use crate::tenancy::UserId;

/// Writes between sweeps of expired entries.
const SWEEP_EVERY: u64 = 4096;

#[derive(Debug, Clone, Copy)]
struct Entry {
    value: i64,
    expires_ms: u64,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    writes: u64,
}

impl Inner {
    fn live(&self, key: &str, now: u64) -> Option<i64> {
        self.entries
            .get(key)
            .filter(|e| e.expires_ms > now)
            .map(|e| e.value)
    }

    fn put(&mut self, key: String, value: i64, ttl: Duration, now: u64) {
        self.writes = self.writes.wrapping_add(1);
        if self.writes.is_multiple_of(SWEEP_EVERY) {
            self.entries.retain(|_, e| e.expires_ms > now);
        }
        let expires_ms = now.saturating_add(duration_ms(ttl));
        self.entries.insert(key, Entry { value, expires_ms });
    }
}

/// In-memory revocation state for a single node.
///
/// Entries are never evicted before they expire (forgetting a revocation would fail open);
/// expired entries are swept every few thousand writes. Memory grows with the number of
/// refresh burns within their lifetime, which a single node handles comfortably; replicas
/// must use Redis (state in one process's memory is not shared).
pub struct MemoryRevocationStore {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MemoryRevocationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRevocationStore")
            .finish_non_exhaustive()
    }
}

impl Default for MemoryRevocationStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRevocationStore {
    /// A store with the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A store reading time from `clock`.
    #[must_use]
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            clock,
        }
    }

    /// Live (unexpired) entries.
    #[must_use]
    pub fn len(&self) -> usize {
        let now = self.clock.now_ms();
        self.inner
            .lock()
            .entries
            .values()
            .filter(|e| e.expires_ms > now)
            .count()
    }

    /// Whether no live entry is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn user_key(area: &str, user: UserId) -> String {
    format!("{area}:{user}")
}

impl RevocationBackend for MemoryRevocationStore {
    fn raise_user_cutoff(
        &self,
        user: UserId,
        cutoff_secs: i64,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send {
        let now = self.clock.now_ms();
        let key = user_key("cut", user);
        let mut inner = self.inner.lock();
        let value = inner
            .live(&key, now)
            .map_or(cutoff_secs, |cur| cur.max(cutoff_secs));
        inner.put(key, value, ttl, now);
        ready(Ok(()))
    }

    fn user_cutoff(
        &self,
        user: UserId,
    ) -> impl Future<Output = Result<Option<i64>, RevocationError>> + Send {
        let now = self.clock.now_ms();
        ready(Ok(self.inner.lock().live(&user_key("cut", user), now)))
    }

    fn burn_jti(
        &self,
        jti: Uuid,
        ttl: Duration,
    ) -> impl Future<Output = Result<BurnOutcome, RevocationError>> + Send {
        let now = self.clock.now_ms();
        let key = format!("jti:{jti}");
        let mut inner = self.inner.lock();
        let outcome = match inner.live(&key, now) {
            Some(burned_at) => BurnOutcome::AlreadyBurned {
                ms: now.saturating_sub(u64::try_from(burned_at).unwrap_or(0)),
            },
            None => {
                inner.put(key, i64::try_from(now).unwrap_or(i64::MAX), ttl, now);
                BurnOutcome::Fresh
            }
        };
        ready(Ok(outcome))
    }

    fn revoke_family(
        &self,
        family: Uuid,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), RevocationError>> + Send {
        let now = self.clock.now_ms();
        self.inner.lock().put(format!("fam:{family}"), 1, ttl, now);
        ready(Ok(()))
    }

    fn family_revoked(
        &self,
        family: Uuid,
    ) -> impl Future<Output = Result<bool, RevocationError>> + Send {
        let now = self.clock.now_ms();
        ready(Ok(self
            .inner
            .lock()
            .live(&format!("fam:{family}"), now)
            .is_some()))
    }

    fn use_totp_step(
        &self,
        user: UserId,
        step: u64,
        ttl: Duration,
    ) -> impl Future<Output = Result<StepOutcome, RevocationError>> + Send {
        let now = self.clock.now_ms();
        let key = user_key("totp", user);
        let step_value = i64::try_from(step).unwrap_or(i64::MAX);
        let mut inner = self.inner.lock();
        let outcome = match inner.live(&key, now) {
            Some(last) if step_value <= last => StepOutcome::Replayed,
            _ => {
                inner.put(key, step_value, ttl, now);
                StepOutcome::Accepted
            }
        };
        ready(Ok(outcome))
    }

    fn use_nonce(
        &self,
        scope: &str,
        nonce: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<NonceOutcome, RevocationError>> + Send {
        let now = self.clock.now_ms();
        let key = format!("nonce:{scope}:{nonce}");
        let mut inner = self.inner.lock();
        let outcome = if inner.live(&key, now).is_some() {
            NonceOutcome::Seen
        } else {
            inner.put(key, 1, ttl, now);
            NonceOutcome::Fresh
        };
        ready(Ok(outcome))
    }
}
