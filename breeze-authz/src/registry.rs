//! The permission registry (SPEC 5) and compiled permission sets.
//!
//! The [`Registry`] lists every permission the platform knows. [`Registry::spec`] holds the
//! SPEC 5 set; the embedding application adds its own with [`Registry::register`] at
//! startup. Each permission gets a dense [`PermissionId`]; a role's grants are compiled
//! against the registry into a [`PermissionSet`] (a bit set), so the per-request check is a
//! bit test. Routes look their permission up once at startup ([`Registry::id_of`]) and keep
//! the id.
//!
//! A set compiled against one registry answers `false` for ids of another registry, and a
//! permission registered after a set was compiled is not in that set: both fail closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::permission::{Grant, Permission};

/// The permissions of SPEC 5, as `(resource, actions)`.
pub const SPEC_PERMISSIONS: &[(&str, &[&str])] = &[
    ("devices", &["read", "write", "delete", "execute"]),
    ("scripts", &["read", "write", "delete", "execute"]),
    ("alerts", &["read", "write", "acknowledge"]),
    ("users", &["read", "write", "delete", "invite"]),
    ("organizations", &["read", "write", "delete"]),
    ("sites", &["read", "write", "delete"]),
    ("automations", &["read", "write", "delete"]),
    ("remote", &["access"]),
    ("audit", &["read", "export"]),
    ("reports", &["read", "write", "delete", "export"]),
    ("billing", &["manage"]),
    ("sso", &["admin"]),
    ("approvals", &["decide"]),
    ("variables", &["read", "manage"]),
    ("webhooks", &["read", "write"]),
];

/// Distinguishes registries so a set of one is never consulted with an id of another.
static NEXT_REGISTRY_TAG: AtomicU32 = AtomicU32::new(1);

/// A permission's dense index in one [`Registry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PermissionId {
    registry: u32,
    index: u32,
}

/// A grant that matches no permission of the registry (a typo or a removed permission).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("grant `{grant}` matches no registered permission")]
pub struct UnknownGrant {
    /// The grant that matched nothing.
    pub grant: Grant,
}

/// The registry is full (more than `u32::MAX` permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the permission registry is full")]
pub struct RegistryFull;

/// Every permission the platform knows.
///
/// Not `Clone`: share it behind an `Arc` so every compiled set and every id refers to the
/// same registry.
#[derive(Debug)]
pub struct Registry {
    tag: u32,
    permissions: Vec<Permission>,
    index: HashMap<Permission, u32>,
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn empty() -> Self {
        Self {
            tag: NEXT_REGISTRY_TAG.fetch_add(1, Ordering::Relaxed),
            permissions: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The registry of SPEC 5 ([`SPEC_PERMISSIONS`]).
    #[must_use]
    pub fn spec() -> Self {
        let mut registry = Self::empty();
        for (resource, actions) in SPEC_PERMISSIONS {
            for action in *actions {
                if let Ok(permission) = Permission::new(resource, action) {
                    // A registry of a few dozen entries cannot be full.
                    let _ = registry.register(permission);
                }
            }
        }
        registry
    }

    /// Adds a permission (idempotent: registering a known permission returns its id).
    ///
    /// # Errors
    /// [`RegistryFull`] after `u32::MAX` permissions.
    pub fn register(&mut self, permission: Permission) -> Result<PermissionId, RegistryFull> {
        if let Some(id) = self.id_of(&permission) {
            return Ok(id);
        }
        let index = u32::try_from(self.permissions.len()).map_err(|_| RegistryFull)?;
        self.index.insert(permission.clone(), index);
        self.permissions.push(permission);
        Ok(PermissionId {
            registry: self.tag,
            index,
        })
    }

    /// The id of a registered permission.
    #[must_use]
    pub fn id_of(&self, permission: &Permission) -> Option<PermissionId> {
        self.index.get(permission).map(|&index| PermissionId {
            registry: self.tag,
            index,
        })
    }

    /// The permission behind an id of this registry.
    #[must_use]
    pub fn permission(&self, id: PermissionId) -> Option<&Permission> {
        if id.registry != self.tag {
            return None;
        }
        self.permissions.get(usize::try_from(id.index).ok()?)
    }

    /// Whether the permission is registered.
    #[must_use]
    pub fn contains(&self, permission: &Permission) -> bool {
        self.index.contains_key(permission)
    }

    /// Every registered permission, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Permission> {
        self.permissions.iter()
    }

    /// How many permissions are registered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.permissions.len()
    }

    /// Whether no permission is registered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.permissions.is_empty()
    }

    /// Expands grants into the set of registered permissions they cover.
    ///
    /// # Errors
    /// [`UnknownGrant`] for the first grant that matches no registered permission: a role
    /// naming a permission that does not exist is a configuration error, not a no-op.
    pub fn compile<'a>(
        &self,
        grants: impl IntoIterator<Item = &'a Grant>,
    ) -> Result<PermissionSet, UnknownGrant> {
        let mut set = PermissionSet::empty_for(self);
        for grant in grants {
            let mut matched = false;
            for (bit, permission) in self.permissions.iter().enumerate() {
                if grant.matches(permission) {
                    set.insert_bit(bit);
                    matched = true;
                }
            }
            if !matched {
                return Err(UnknownGrant {
                    grant: grant.clone(),
                });
            }
        }
        Ok(set)
    }
}

/// A compiled set of permissions of one registry (a bit set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionSet {
    registry: u32,
    words: Vec<u64>,
}

impl PermissionSet {
    /// The empty set for `registry` (allows nothing).
    #[must_use]
    pub fn empty_for(registry: &Registry) -> Self {
        Self {
            registry: registry.tag,
            words: vec![0; registry.len().div_ceil(64)],
        }
    }

    fn insert_bit(&mut self, bit: usize) {
        let word = bit / 64;
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        if let Some(slot) = self.words.get_mut(word) {
            *slot |= 1 << (bit % 64);
        }
    }

    /// Whether the set holds the permission `id` (`false` for an id of another registry).
    #[inline]
    #[must_use]
    pub fn allows(&self, id: PermissionId) -> bool {
        if id.registry != self.registry {
            return false;
        }
        let bit = id.index as usize;
        self.words
            .get(bit / 64)
            .is_some_and(|word| word & (1 << (bit % 64)) != 0)
    }

    /// Whether the set holds `permission` (looked up in `registry`; unregistered = `false`).
    #[must_use]
    pub fn allows_permission(&self, registry: &Registry, permission: &Permission) -> bool {
        registry.id_of(permission).is_some_and(|id| self.allows(id))
    }

    /// The union of two sets of the same registry (`None` when the registries differ).
    #[must_use]
    pub fn union(&self, other: &Self) -> Option<Self> {
        if self.registry != other.registry {
            return None;
        }
        let len = self.words.len().max(other.words.len());
        let words = (0..len)
            .map(|i| {
                self.words.get(i).copied().unwrap_or(0) | other.words.get(i).copied().unwrap_or(0)
            })
            .collect();
        Some(Self {
            registry: self.registry,
            words,
        })
    }

    /// The permissions of the set, in registry order (empty for another registry's set).
    pub fn iter<'r>(&'r self, registry: &'r Registry) -> impl Iterator<Item = &'r Permission> {
        let same = registry.tag == self.registry;
        registry
            .permissions
            .iter()
            .enumerate()
            .filter(move |(bit, _)| {
                same && self
                    .words
                    .get(bit / 64)
                    .is_some_and(|word| word & (1 << (bit % 64)) != 0)
            })
            .map(|(_, permission)| permission)
    }

    /// How many permissions the set holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Permission {
        s.parse().unwrap()
    }
    fn g(s: &str) -> Grant {
        s.parse().unwrap()
    }

    #[test]
    fn spec_registry_has_every_spec_permission() {
        let registry = Registry::spec();
        let expected: usize = SPEC_PERMISSIONS.iter().map(|(_, a)| a.len()).sum();
        assert_eq!(registry.len(), expected);
        assert!(registry.contains(&p("approvals:decide")));
        assert!(registry.contains(&p("variables:manage")));
        assert!(!registry.contains(&p("devices:wipe")));
    }

    #[test]
    fn register_is_idempotent_and_extends() {
        let mut registry = Registry::spec();
        let before = registry.len();
        let id = registry.register(p("tickets:read")).unwrap();
        assert_eq!(registry.register(p("tickets:read")).unwrap(), id);
        assert_eq!(registry.len(), before + 1);
        assert_eq!(registry.permission(id), Some(&p("tickets:read")));
    }

    #[test]
    fn compile_expands_wildcards_and_rejects_unknown() {
        let registry = Registry::spec();
        let set = registry.compile(&[g("devices:*"), g("*:export")]).unwrap();
        let names: Vec<String> = set.iter(&registry).map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "devices:read",
                "devices:write",
                "devices:delete",
                "devices:execute",
                "audit:export",
                "reports:export"
            ]
        );
        assert_eq!(set.len(), 6);
        let err = registry.compile(&[g("devices:wipe")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "grant `devices:wipe` matches no registered permission"
        );
        assert!(registry.compile(&[g("nothing:*")]).is_err());
    }

    #[test]
    fn sets_fail_closed_across_registries_and_late_registrations() {
        let mut a = Registry::spec();
        let b = Registry::spec();
        let set_a = a.compile(&[Grant::full()]).unwrap();
        let id_b = b.id_of(&p("devices:read")).unwrap();
        assert!(!set_a.allows(id_b));
        assert!(set_a.allows(a.id_of(&p("devices:read")).unwrap()));
        let late = a.register(p("tickets:read")).unwrap();
        assert!(!set_a.allows(late));
        assert!(set_a.iter(&b).next().is_none());
        let set_b = b.compile(&[Grant::full()]).unwrap();
        assert!(set_a.union(&set_b).is_none());
    }

    #[test]
    fn union_combines() {
        let registry = Registry::spec();
        let a = registry.compile(&[g("devices:read")]).unwrap();
        let b = registry.compile(&[g("scripts:read")]).unwrap();
        let u = a.union(&b).unwrap();
        assert!(u.allows_permission(&registry, &p("devices:read")));
        assert!(u.allows_permission(&registry, &p("scripts:read")));
        assert!(!u.allows_permission(&registry, &p("scripts:write")));
        assert!(PermissionSet::empty_for(&registry).is_empty());
    }
}
