//! The permission cache of user requests (SPEC 5), per replica: a user's resolved access
//! (memberships, organization records, role and its compiled permissions) is kept for at
//! most [`breeze_authz::cache::MAX_TTL`] under the user's version counters.
//!
//! The counters live in PostgreSQL (`permission_versions`, migration 0740) and change only
//! through triggers: a user's on any change to their memberships, the global one on any
//! role change and on an organization or partner being created, deleted, moved, suspended or
//! reactivated. Authentication reads them in the same statement as the user's row, on every
//! request, and shows them to [`ObservedVersions`] before looking up the cache: a change
//! committed through any replica makes the entry stale on every replica's next request, with
//! no notification delay. A hit saves the memberships, organization and role reads and the
//! role's compilation; the user's own row (status, epochs, password change, MFA) is read
//! fresh on every request.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use breeze_authz::access::AccessContext;
use breeze_authz::cache::{
    CacheVersions, MonotonicClock, PermissionCache, Versions, VersionsUnavailable,
};
use breeze_authz::registry::PermissionSet;
use breeze_core::tenancy::UserId;
use parking_lot::Mutex;

use crate::store::principal::RoleRecord;

/// A user's resolved access, as cached.
#[derive(Debug, Clone)]
pub struct ResolvedAccess {
    /// The user holds an active platform-admin (system) membership.
    pub platform_admin: bool,
    /// The access resolution: the context, the role that won and its compiled permissions,
    /// or the stable code of the refusal (a tenant that is not active).
    pub access: Result<Granted, &'static str>,
}

/// What a resolved user may do.
#[derive(Debug, Clone)]
pub struct Granted {
    /// The access context.
    pub ctx: AccessContext,
    /// The role that won resolution.
    pub role: Option<RoleRecord>,
    /// Its compiled permissions.
    pub permissions: Option<Arc<PermissionSet>>,
}

/// The cache type of the server.
pub type UserPermissionCache =
    PermissionCache<Arc<ResolvedAccess>, ObservedVersions, MonotonicClock>;

/// Users whose counters are remembered before the map starts over (memory bound).
pub const MAX_OBSERVED_USERS: usize = 100_000;

/// Version counters as last read from PostgreSQL. They only move forward: a request that
/// read older counters (an earlier snapshot) never lowers what another request saw. Every
/// request observes its user's counters before it looks the cache up, so forgetting them
/// (the map starts over at [`MAX_OBSERVED_USERS`]) costs at most a miss, never a stale hit.
#[derive(Debug, Default)]
pub struct ObservedVersions {
    global: AtomicU64,
    users: Mutex<HashMap<UserId, u64>>,
}

impl ObservedVersions {
    /// Records the counters read with `user`'s row.
    pub fn observe(&self, user: UserId, seen: Versions) {
        self.global.fetch_max(seen.global, Ordering::AcqRel);
        let mut users = self.users.lock();
        if users.len() >= MAX_OBSERVED_USERS && !users.contains_key(&user) {
            users.clear();
        }
        let slot = users.entry(user).or_insert(0);
        *slot = (*slot).max(seen.user);
    }
}

impl CacheVersions for ObservedVersions {
    fn current(&self, user: UserId) -> Result<Versions, VersionsUnavailable> {
        Ok(Versions {
            global: self.global.load(Ordering::Acquire),
            user: self.users.lock().get(&user).copied().unwrap_or(0),
        })
    }

    fn bump_user(&self, user: UserId) -> Result<(), VersionsUnavailable> {
        let mut users = self.users.lock();
        let slot = users.entry(user).or_insert(0);
        *slot = slot.wrapping_add(1);
        Ok(())
    }

    fn bump_global(&self) -> Result<(), VersionsUnavailable> {
        self.global.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

/// Builds the cache with `ttl` (1 s to 5 min).
///
/// # Errors
/// [`breeze_authz::cache::CacheError`] for a TTL outside the SPEC 5 bound.
pub fn new_cache(
    ttl: std::time::Duration,
) -> Result<UserPermissionCache, breeze_authz::cache::CacheError> {
    PermissionCache::new(ttl, ObservedVersions::default(), MonotonicClock::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_versions_only_move_forward() {
        let v = ObservedVersions::default();
        let user = UserId::new_random();
        v.observe(user, Versions { global: 3, user: 5 });
        v.observe(user, Versions { global: 2, user: 4 });
        assert_eq!(v.current(user).ok(), Some(Versions { global: 3, user: 5 }));
        let other = UserId::new_random();
        assert_eq!(v.current(other).ok(), Some(Versions { global: 3, user: 0 }));
    }

    #[test]
    fn the_observed_map_is_bounded() {
        let v = ObservedVersions::default();
        for _ in 0..MAX_OBSERVED_USERS {
            v.observe(UserId::new_random(), Versions { global: 0, user: 1 });
        }
        assert_eq!(v.users.lock().len(), MAX_OBSERVED_USERS);
        let next = UserId::new_random();
        v.observe(next, Versions { global: 0, user: 7 });
        assert_eq!(v.users.lock().len(), 1);
        assert_eq!(v.current(next).ok(), Some(Versions { global: 0, user: 7 }));
    }

    #[test]
    fn a_newer_version_read_makes_a_cached_entry_stale() {
        use breeze_authz::cache::{CacheKey, Lookup};
        let Ok(cache) = PermissionCache::new(
            std::time::Duration::from_secs(60),
            ObservedVersions::default(),
            MonotonicClock::new(),
        ) else {
            panic!("cache");
        };
        let user = UserId::new_random();
        let key = CacheKey {
            user,
            partner: None,
            org: None,
        };
        cache
            .versions()
            .observe(user, Versions { global: 1, user: 1 });
        let Lookup::Miss(ticket) = cache.lookup(&key) else {
            panic!("empty cache hit");
        };
        cache.store(ticket, "old role");
        assert!(matches!(cache.lookup(&key), Lookup::Hit("old role")));
        // another replica changed a membership: the next request reads user version 2
        cache
            .versions()
            .observe(user, Versions { global: 1, user: 2 });
        assert!(matches!(cache.lookup(&key), Lookup::Miss(_)));
        // a role change anywhere (global) has the same effect
        let Lookup::Miss(ticket) = cache.lookup(&key) else {
            panic!("stale hit");
        };
        cache.store(ticket, "new role");
        cache
            .versions()
            .observe(user, Versions { global: 2, user: 2 });
        assert!(matches!(cache.lookup(&key), Lookup::Miss(_)));
    }
}
