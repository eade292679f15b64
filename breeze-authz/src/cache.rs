//! The permission cache (SPEC 5): per (user, partner, org), a TTL of at most 5 minutes,
//! and invalidation per user and globally through version counters.
//!
//! The counters live behind [`CacheVersions`] so another replica can bump them: the
//! in-memory [`LocalVersions`] serves one process; a Redis implementation (in the server)
//! keeps the counters in Redis and mirrors them locally. If the counters cannot be read,
//! the cache misses and stores nothing (fail closed).
//!
//! Lookups are race-free against invalidation: [`PermissionCache::lookup`] returns a
//! [`Ticket`] on a miss that records the versions seen *before* the caller loads the
//! permissions; [`PermissionCache::store`] files the value under those versions, so a bump
//! that happens while the caller is loading makes the stored entry stale at once.
//!
//! The clock is injected ([`Clock`]); [`MonotonicClock`] is the default on native targets.
//!
//! ```
//! use std::time::Duration;
//! use breeze_authz::cache::{CacheKey, CacheVersions, Lookup, PermissionCache, LocalVersions, MonotonicClock};
//! use breeze_core::tenancy::UserId;
//!
//! let cache = PermissionCache::new(Duration::from_secs(60), LocalVersions::default(), MonotonicClock::new())?;
//! let user = UserId::new_random();
//! let key = CacheKey { user, partner: None, org: None };
//! let Lookup::Miss(ticket) = cache.lookup(&key) else { unreachable!() };
//! cache.store(ticket, "loaded permissions");
//! assert!(matches!(cache.lookup(&key), Lookup::Hit("loaded permissions")));
//! cache.versions().bump_user(user)?;
//! assert!(matches!(cache.lookup(&key), Lookup::Miss(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use breeze_core::tenancy::{OrgId, PartnerId, UserId};

/// The longest TTL allowed (SPEC 5: at most 5 minutes).
pub const MAX_TTL: Duration = Duration::from_secs(300);

/// The default entry bound of [`PermissionCache::new`].
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// A cache that cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CacheError {
    /// TTL zero or above [`MAX_TTL`].
    #[error("permission cache ttl must be between 1 ms and 5 minutes")]
    InvalidTtl,
    /// Zero entries.
    #[error("permission cache must hold at least one entry")]
    InvalidCapacity,
}

impl CacheError {
    /// A stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidTtl => "invalid_ttl",
            Self::InvalidCapacity => "invalid_capacity",
        }
    }
}

/// The version counters could not be read or bumped (for example Redis is down).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("permission cache versions unavailable: {0}")]
pub struct VersionsUnavailable(pub String);

/// A (global, user) version pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Versions {
    /// Bumped on any role change.
    pub global: u64,
    /// Bumped on a change to this user's memberships.
    pub user: u64,
}

/// The invalidation counters, shareable across replicas.
pub trait CacheVersions: Send + Sync {
    /// The current counters for `user`.
    ///
    /// # Errors
    /// [`VersionsUnavailable`] when they cannot be read (the cache then misses).
    fn current(&self, user: UserId) -> Result<Versions, VersionsUnavailable>;

    /// Invalidates every cached entry of `user` (membership or role assignment changed).
    ///
    /// # Errors
    /// [`VersionsUnavailable`] when the counter cannot be bumped; the caller must fail the
    /// change or retry, since other replicas would keep stale permissions.
    fn bump_user(&self, user: UserId) -> Result<(), VersionsUnavailable>;

    /// Invalidates every cached entry (a role's permissions changed).
    ///
    /// # Errors
    /// As for [`CacheVersions::bump_user`].
    fn bump_global(&self) -> Result<(), VersionsUnavailable>;
}

/// In-process counters (one replica, or tests).
#[derive(Debug, Default)]
pub struct LocalVersions {
    global: AtomicU64,
    users: Mutex<HashMap<UserId, u64>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind; the worst outcome
    // is a cache miss, so recover the guard.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CacheVersions for LocalVersions {
    fn current(&self, user: UserId) -> Result<Versions, VersionsUnavailable> {
        Ok(Versions {
            global: self.global.load(Ordering::Acquire),
            user: lock(&self.users).get(&user).copied().unwrap_or(0),
        })
    }

    fn bump_user(&self, user: UserId) -> Result<(), VersionsUnavailable> {
        let mut users = lock(&self.users);
        let slot = users.entry(user).or_insert(0);
        *slot = slot.wrapping_add(1);
        Ok(())
    }

    fn bump_global(&self) -> Result<(), VersionsUnavailable> {
        self.global.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

/// A source of monotonic time in milliseconds.
pub trait Clock: Send + Sync {
    /// Milliseconds since an arbitrary fixed origin; never decreases.
    fn now_millis(&self) -> u64;
}

/// [`Instant`]-based clock (native targets; on `wasm32-unknown-unknown` inject another).
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    #[must_use]
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now_millis(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// What the cache is keyed by (SPEC 5: user, partner, org).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The user.
    pub user: UserId,
    /// The partner the request runs under, if any.
    pub partner: Option<PartnerId>,
    /// The organization the request runs under, if any.
    pub org: Option<OrgId>,
}

/// A miss: hand it back to [`PermissionCache::store`] with the loaded value.
#[derive(Debug)]
#[must_use]
pub struct Ticket {
    key: CacheKey,
    versions: Option<Versions>,
    loaded_at: u64,
}

/// The result of a lookup.
#[derive(Debug)]
pub enum Lookup<T> {
    /// A fresh entry.
    Hit(T),
    /// No fresh entry: load the value, then [`PermissionCache::store`] it.
    Miss(Ticket),
}

#[derive(Debug)]
struct Entry<T> {
    value: T,
    versions: Versions,
    expires_at: u64,
}

/// The cache. `T` is whatever the server loads per (user, partner, org): typically the
/// compiled [`crate::registry::PermissionSet`] and the force-MFA flag, behind an `Arc`.
#[derive(Debug)]
pub struct PermissionCache<T, V, C> {
    ttl_millis: u64,
    max_entries: usize,
    versions: V,
    clock: C,
    entries: Mutex<HashMap<CacheKey, Entry<T>>>,
}

impl<T: Clone, V: CacheVersions, C: Clock> PermissionCache<T, V, C> {
    /// A cache with `ttl` (at most [`MAX_TTL`]) and [`DEFAULT_MAX_ENTRIES`].
    ///
    /// # Errors
    /// [`CacheError::InvalidTtl`] for a zero or over-long TTL.
    pub fn new(ttl: Duration, versions: V, clock: C) -> Result<Self, CacheError> {
        Self::with_capacity(ttl, DEFAULT_MAX_ENTRIES, versions, clock)
    }

    /// A cache holding at most `max_entries` (when full, expired entries are dropped, and
    /// if none expired the whole cache is cleared: a miss costs a load, never correctness).
    ///
    /// # Errors
    /// [`CacheError`] for a bad TTL or a zero capacity.
    pub fn with_capacity(
        ttl: Duration,
        max_entries: usize,
        versions: V,
        clock: C,
    ) -> Result<Self, CacheError> {
        if ttl.is_zero() || ttl > MAX_TTL {
            return Err(CacheError::InvalidTtl);
        }
        let ttl_millis = u64::try_from(ttl.as_millis()).map_err(|_| CacheError::InvalidTtl)?;
        if ttl_millis == 0 {
            return Err(CacheError::InvalidTtl);
        }
        if max_entries == 0 {
            return Err(CacheError::InvalidCapacity);
        }
        Ok(Self {
            ttl_millis,
            max_entries,
            versions,
            clock,
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// The version counters (to bump them on role or membership changes).
    pub const fn versions(&self) -> &V {
        &self.versions
    }

    /// Looks `key` up. A stale entry (expired or invalidated) is removed and reported as a
    /// miss.
    pub fn lookup(&self, key: &CacheKey) -> Lookup<T> {
        let now = self.clock.now_millis();
        let versions = self.versions.current(key.user).ok();
        let ticket = Ticket {
            key: *key,
            versions,
            loaded_at: now,
        };
        let Some(versions) = versions else {
            return Lookup::Miss(ticket);
        };
        let mut entries = lock(&self.entries);
        match entries.get(key) {
            Some(entry) if entry.versions == versions && now < entry.expires_at => {
                Lookup::Hit(entry.value.clone())
            }
            Some(_) => {
                entries.remove(key);
                Lookup::Miss(ticket)
            }
            None => Lookup::Miss(ticket),
        }
    }

    /// Stores the value loaded after a miss. Nothing is stored when the versions could not
    /// be read at lookup time. The TTL runs from the lookup, not from the store.
    pub fn store(&self, ticket: Ticket, value: T) {
        let Some(versions) = ticket.versions else {
            return;
        };
        let expires_at = ticket.loaded_at.saturating_add(self.ttl_millis);
        let now = self.clock.now_millis();
        let mut entries = lock(&self.entries);
        if entries.len() >= self.max_entries && !entries.contains_key(&ticket.key) {
            entries.retain(|_, entry| now < entry.expires_at);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(
            ticket.key,
            Entry {
                value,
                versions,
                expires_at,
            },
        );
    }

    /// Looks up, or loads with `load` and stores.
    ///
    /// # Errors
    /// Whatever `load` returns (nothing is stored then).
    pub fn get_or_try_load<E>(
        &self,
        key: &CacheKey,
        load: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        match self.lookup(key) {
            Lookup::Hit(value) => Ok(value),
            Lookup::Miss(ticket) => {
                let value = load()?;
                self.store(ticket, value.clone());
                Ok(value)
            }
        }
    }

    /// How many entries are held (fresh or not yet swept).
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    #[derive(Debug, Clone, Default)]
    struct TestClock(Arc<AtomicU64>);
    impl TestClock {
        fn advance(&self, ms: u64) {
            self.0.fetch_add(ms, Ordering::SeqCst);
        }
    }
    impl Clock for TestClock {
        fn now_millis(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[derive(Debug, Default)]
    struct FlakyVersions {
        inner: LocalVersions,
        down: AtomicBool,
    }
    impl CacheVersions for FlakyVersions {
        fn current(&self, user: UserId) -> Result<Versions, VersionsUnavailable> {
            if self.down.load(Ordering::SeqCst) {
                return Err(VersionsUnavailable("redis down".into()));
            }
            self.inner.current(user)
        }
        fn bump_user(&self, user: UserId) -> Result<(), VersionsUnavailable> {
            self.inner.bump_user(user)
        }
        fn bump_global(&self) -> Result<(), VersionsUnavailable> {
            self.inner.bump_global()
        }
    }

    fn key(user: UserId) -> CacheKey {
        CacheKey {
            user,
            partner: None,
            org: Some(OrgId::new_random()),
        }
    }

    fn fill<V: CacheVersions, C: Clock>(
        cache: &PermissionCache<u32, V, C>,
        key: &CacheKey,
        v: u32,
    ) {
        match cache.lookup(key) {
            Lookup::Miss(ticket) => cache.store(ticket, v),
            Lookup::Hit(_) => panic!("expected a miss"),
        }
    }

    fn is_hit<V: CacheVersions, C: Clock>(
        cache: &PermissionCache<u32, V, C>,
        key: &CacheKey,
    ) -> Option<u32> {
        match cache.lookup(key) {
            Lookup::Hit(v) => Some(v),
            Lookup::Miss(_) => None,
        }
    }

    #[test]
    fn ttl_bounds() {
        let mk = |ttl| {
            PermissionCache::<u32, _, _>::new(ttl, LocalVersions::default(), TestClock::default())
        };
        assert_eq!(mk(Duration::ZERO).unwrap_err(), CacheError::InvalidTtl);
        assert_eq!(
            mk(MAX_TTL + Duration::from_millis(1)).unwrap_err(),
            CacheError::InvalidTtl
        );
        assert_eq!(
            mk(Duration::from_micros(10)).unwrap_err(),
            CacheError::InvalidTtl
        );
        assert!(mk(MAX_TTL).is_ok());
        assert_eq!(
            PermissionCache::<u32, _, _>::with_capacity(
                MAX_TTL,
                0,
                LocalVersions::default(),
                TestClock::default()
            )
            .unwrap_err(),
            CacheError::InvalidCapacity
        );
    }

    #[test]
    fn expires_after_ttl() {
        let clock = TestClock::default();
        let cache = PermissionCache::new(
            Duration::from_secs(300),
            LocalVersions::default(),
            clock.clone(),
        )
        .unwrap();
        let k = key(UserId::new_random());
        fill(&cache, &k, 7);
        clock.advance(299_999);
        assert_eq!(is_hit(&cache, &k), Some(7));
        clock.advance(1);
        assert_eq!(is_hit(&cache, &k), None);
        assert!(cache.is_empty());
    }

    #[test]
    fn user_bump_invalidates_only_that_user() {
        let cache =
            PermissionCache::new(MAX_TTL, LocalVersions::default(), TestClock::default()).unwrap();
        let (alice, bob) = (UserId::new_random(), UserId::new_random());
        let (ka, kb) = (key(alice), key(bob));
        fill(&cache, &ka, 1);
        fill(&cache, &kb, 2);
        cache.versions().bump_user(alice).unwrap();
        assert_eq!(is_hit(&cache, &ka), None);
        assert_eq!(is_hit(&cache, &kb), Some(2));
    }

    #[test]
    fn global_bump_invalidates_everyone() {
        let cache =
            PermissionCache::new(MAX_TTL, LocalVersions::default(), TestClock::default()).unwrap();
        let (ka, kb) = (key(UserId::new_random()), key(UserId::new_random()));
        fill(&cache, &ka, 1);
        fill(&cache, &kb, 2);
        cache.versions().bump_global().unwrap();
        assert_eq!(is_hit(&cache, &ka), None);
        assert_eq!(is_hit(&cache, &kb), None);
    }

    #[test]
    fn bump_during_load_makes_the_stored_value_stale() {
        let cache =
            PermissionCache::new(MAX_TTL, LocalVersions::default(), TestClock::default()).unwrap();
        let user = UserId::new_random();
        let k = key(user);
        let Lookup::Miss(ticket) = cache.lookup(&k) else {
            panic!()
        };
        cache.versions().bump_user(user).unwrap(); // a role change lands while loading
        cache.store(ticket, 1);
        assert_eq!(is_hit(&cache, &k), None);
    }

    #[test]
    fn unavailable_versions_never_cache() {
        let cache =
            PermissionCache::new(MAX_TTL, FlakyVersions::default(), TestClock::default()).unwrap();
        let k = key(UserId::new_random());
        fill(&cache, &k, 1);
        cache.versions().down.store(true, Ordering::SeqCst);
        assert_eq!(
            is_hit(&cache, &k),
            None,
            "a hit without versions could be stale"
        );
        fill(&cache, &k, 2);
        cache.versions().down.store(false, Ordering::SeqCst);
        assert_eq!(
            is_hit(&cache, &k),
            Some(1),
            "the down-time value was not stored"
        );
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = PermissionCache::with_capacity(
            MAX_TTL,
            3,
            LocalVersions::default(),
            TestClock::default(),
        )
        .unwrap();
        for i in 0..10 {
            fill(&cache, &key(UserId::new_random()), i);
            assert!(cache.len() <= 3);
        }
    }

    #[test]
    fn get_or_try_load_propagates_errors_without_storing() {
        let cache =
            PermissionCache::new(MAX_TTL, LocalVersions::default(), TestClock::default()).unwrap();
        let k = key(UserId::new_random());
        assert_eq!(
            cache.get_or_try_load(&k, || Err::<u32, _>("db down")),
            Err("db down")
        );
        assert_eq!(cache.get_or_try_load(&k, || Ok::<_, ()>(5)), Ok(5));
        assert_eq!(cache.get_or_try_load(&k, || Err::<u32, _>(())), Ok(5));
    }

    #[test]
    fn is_thread_safe() {
        let cache = Arc::new(
            PermissionCache::new(MAX_TTL, LocalVersions::default(), MonotonicClock::new()).unwrap(),
        );
        let user = UserId::new_random();
        let k = key(user);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let _ = cache.get_or_try_load(&k, || Ok::<_, ()>(i));
                        if i % 50 == 0 {
                            cache.versions().bump_user(user).unwrap();
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        cache.versions().bump_user(user).unwrap();
        assert_eq!(is_hit(&cache, &k), None);
    }
}
