//! Roles: a name, a scope (system, partner or organization), grants and the force-MFA flag.
//!
//! The one structural rule is enforced at construction: `*:*` is the only full wildcard
//! and only a system role may hold it (SPEC 5). Whether every grant names a real
//! permission is checked when the role is compiled against a [`Registry`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::permission::{Grant, echo};
use crate::registry::{PermissionSet, Registry, UnknownGrant};

/// The longest role name accepted (in characters).
pub const MAX_ROLE_NAME_LEN: usize = 100;

/// Where a role applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleScope {
    /// Platform operators (every partner).
    System,
    /// An MSP's staff (the partner's organizations, per the membership's org access).
    Partner,
    /// A customer organization's staff (that organization only).
    Organization,
}

impl RoleScope {
    /// The lowercase name (`system`, `partner`, `organization`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Partner => "partner",
            Self::Organization => "organization",
        }
    }
}

impl fmt::Display for RoleScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RoleError {
    /// Empty, too long, or containing control characters.
    #[error("invalid role name `{name}`: 1 to 100 characters, no control characters")]
    InvalidName {
        /// The rejected name (truncated).
        name: String,
    },
    /// `*:*` on a partner or organization role.
    #[error("role `{role}` is {scope}-scoped and may not hold `*:*` (system roles only)")]
    FullWildcardNotAllowed {
        /// The role's name.
        role: String,
        /// The role's scope.
        scope: RoleScope,
    },
    /// A grant that matches no permission of the registry.
    #[error("role `{role}` grants `{grant}`, which matches no registered permission")]
    UnknownPermission {
        /// The role's name.
        role: String,
        /// The grant, as written.
        grant: String,
    },
}

impl RoleError {
    /// A stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidName { .. } => "invalid_role_name",
            Self::FullWildcardNotAllowed { .. } => "full_wildcard_not_allowed",
            Self::UnknownPermission { .. } => "unknown_permission",
        }
    }
}

/// A role definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Role {
    name: String,
    scope: RoleScope,
    grants: Vec<Grant>,
    force_mfa: bool,
}

impl Role {
    /// Builds a role.
    ///
    /// # Errors
    /// [`RoleError::InvalidName`] for an empty, over-long or control-character name;
    /// [`RoleError::FullWildcardNotAllowed`] when a partner or organization role holds `*:*`.
    pub fn new(
        name: &str,
        scope: RoleScope,
        grants: Vec<Grant>,
        force_mfa: bool,
    ) -> Result<Self, RoleError> {
        let trimmed = name.trim();
        if trimmed.is_empty()
            || trimmed.chars().count() > MAX_ROLE_NAME_LEN
            || trimmed.chars().any(char::is_control)
        {
            return Err(RoleError::InvalidName { name: echo(name) });
        }
        if scope != RoleScope::System && grants.iter().any(Grant::is_full_wildcard) {
            return Err(RoleError::FullWildcardNotAllowed {
                role: trimmed.to_owned(),
                scope,
            });
        }
        Ok(Self {
            name: trimmed.to_owned(),
            scope,
            grants,
            force_mfa,
        })
    }

    /// A role from the seeded table (its rows are proven valid by the tests).
    pub(crate) fn trusted(
        name: &str,
        scope: RoleScope,
        grants: Vec<Grant>,
        force_mfa: bool,
    ) -> Self {
        Self {
            name: name.to_owned(),
            scope,
            grants,
            force_mfa,
        }
    }

    /// The role's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The role's scope.
    #[must_use]
    pub const fn scope(&self) -> RoleScope {
        self.scope
    }

    /// The grants as written.
    #[must_use]
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// Whether members must have MFA enrolled (SPEC 2.4 force-MFA).
    #[must_use]
    pub const fn force_mfa(&self) -> bool {
        self.force_mfa
    }

    /// Compiles the grants against the registry.
    ///
    /// # Errors
    /// [`RoleError::UnknownPermission`] when a grant matches no registered permission.
    pub fn compile(&self, registry: &Registry) -> Result<PermissionSet, RoleError> {
        registry
            .compile(&self.grants)
            .map_err(|UnknownGrant { grant }| RoleError::UnknownPermission {
                role: self.name.clone(),
                grant: grant.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> Grant {
        s.parse().unwrap()
    }

    #[test]
    fn full_wildcard_only_for_system_roles() {
        assert!(Role::new("Root", RoleScope::System, vec![Grant::full()], true).is_ok());
        for scope in [RoleScope::Partner, RoleScope::Organization] {
            let err =
                Role::new("Boss", scope, vec![g("devices:read"), Grant::full()], true).unwrap_err();
            assert_eq!(err.code(), "full_wildcard_not_allowed");
        }
        // Half wildcards are fine for any scope.
        assert!(Role::new("Reader", RoleScope::Organization, vec![g("*:read")], false).is_ok());
    }

    #[test]
    fn names_are_validated() {
        for bad in ["", "   ", "a\nb", &"x".repeat(101)] {
            let err = Role::new(bad, RoleScope::Partner, vec![], false).unwrap_err();
            assert_eq!(err.code(), "invalid_role_name");
        }
        let role = Role::new("  Tech  ", RoleScope::Partner, vec![], false).unwrap();
        assert_eq!(role.name(), "Tech");
    }

    #[test]
    fn compile_reports_unknown_permission() {
        let registry = Registry::spec();
        let role = Role::new("Odd", RoleScope::Partner, vec![g("devices:wipe")], false).unwrap();
        let err = role.compile(&registry).unwrap_err();
        assert_eq!(
            err.to_string(),
            "role `Odd` grants `devices:wipe`, which matches no registered permission"
        );
    }
}
