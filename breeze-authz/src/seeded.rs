//! The seeded roles of SPEC 5 and their permission sets, written down in this one place.
//!
//! | role | scope | force MFA | grants |
//! |---|---|---|---|
//! | Platform Admin | system | yes | `*:*` |
//! | Partner Admin | partner | yes | every SPEC 5 resource with `:*` |
//! | Partner Technician | partner | yes | day-to-day device work across the partner's organizations |
//! | Partner Viewer | partner | no | read-only on operational resources |
//! | Org Admin | organization | yes | everything inside the organization except billing, SSO and deleting the organization (webhooks included) |
//! | Org Technician | organization | yes | day-to-day device work inside the organization |
//! | Org Viewer | organization | no | read-only on operational resources |
//! | Security Approver | partner | yes | `approvals:decide` plus the reads needed to judge a request |
//!
//! Reasoning:
//! - **`*:*` is reserved for the system role.** SPEC 5 describes Partner Admin as "`*:*`
//!   within the partner", but also says only system roles may hold `*:*`; we honour the
//!   stricter rule. Partner Admin holds `resource:*` for every SPEC 5 resource, which is
//!   everything within the partner (tenant isolation comes from the access context, not
//!   the grant) while a permission added later by the embedding application is not granted
//!   silently: it has to be assigned on purpose.
//! - **Billing and SSO are partner-level concerns**: only Partner Admin holds
//!   `billing:manage` and `sso:admin`. An organization does not delete itself either
//!   (`organizations:delete` is Partner Admin only); an Org Admin may edit it.
//! - **Technicians run things but do not destroy or administer**: `devices:execute`,
//!   `scripts:execute` and `remote:access`, no `*:delete`, no user administration, no audit
//!   export, no `approvals:decide` (the person who asked the AI for a high-risk action
//!   should not be the one who approves it). Partner technicians also author scripts and
//!   automations shared across customers; org technicians only run them.
//! - **Viewers read operational data only**: not users (personal data), not audit, not
//!   variables (which may hold secrets).
//! - **Security Approver** is a partner-scoped separation-of-duties role: it decides AI
//!   approvals (SPEC 10) and reads the audit trail and the objects an approval concerns,
//!   and nothing it holds changes a device.
//! - **Force MFA** is on for every role that can run code on a device, change access, or
//!   approve: a stolen password for one of them is remote code execution on a fleet.
//!   Viewers are the only exception.

use crate::permission::Grant;
use crate::role::{Role, RoleScope};

/// One seeded role of SPEC 5 (plus the system Platform Admin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeededRole {
    /// System scope, `*:*`.
    PlatformAdmin,
    /// Everything within the partner.
    PartnerAdmin,
    /// Device work across the partner's organizations.
    PartnerTechnician,
    /// Read-only across the partner's organizations.
    PartnerViewer,
    /// Everything inside one organization except billing, SSO and deleting it.
    OrgAdmin,
    /// Device work inside one organization.
    OrgTechnician,
    /// Read-only inside one organization.
    OrgViewer,
    /// Decides AI approvals (SPEC 10).
    SecurityApprover,
}

/// Partner Viewer and Org Viewer read the same operational resources.
const VIEWER_GRANTS: &[&str] = &[
    "devices:read",
    "scripts:read",
    "alerts:read",
    "organizations:read",
    "sites:read",
    "automations:read",
    "reports:read",
];

/// The table: role, name, scope, force MFA, grants.
const TABLE: &[(SeededRole, &str, RoleScope, bool, &[&str])] = &[
    (
        SeededRole::PlatformAdmin,
        "Platform Admin",
        RoleScope::System,
        true,
        &["*:*"],
    ),
    (
        SeededRole::PartnerAdmin,
        "Partner Admin",
        RoleScope::Partner,
        true,
        &[
            "devices:*",
            "scripts:*",
            "alerts:*",
            "users:*",
            "organizations:*",
            "sites:*",
            "automations:*",
            "remote:*",
            "audit:*",
            "reports:*",
            "billing:*",
            "sso:*",
            "approvals:*",
            "variables:*",
            "webhooks:*",
        ],
    ),
    (
        SeededRole::PartnerTechnician,
        "Partner Technician",
        RoleScope::Partner,
        true,
        &[
            "devices:read",
            "devices:write",
            "devices:execute",
            "scripts:read",
            "scripts:write",
            "scripts:execute",
            "alerts:*",
            "remote:access",
            "organizations:read",
            "sites:read",
            "automations:read",
            "automations:write",
            "reports:read",
            "reports:write",
            "variables:read",
            "users:read",
        ],
    ),
    (
        SeededRole::PartnerViewer,
        "Partner Viewer",
        RoleScope::Partner,
        false,
        VIEWER_GRANTS,
    ),
    (
        SeededRole::OrgAdmin,
        "Org Admin",
        RoleScope::Organization,
        true,
        &[
            "devices:*",
            "scripts:*",
            "alerts:*",
            "users:*",
            "organizations:read",
            "organizations:write",
            "sites:*",
            "automations:*",
            "remote:access",
            "audit:read",
            "audit:export",
            "reports:*",
            "variables:*",
            "approvals:decide",
            "webhooks:*",
        ],
    ),
    (
        SeededRole::OrgTechnician,
        "Org Technician",
        RoleScope::Organization,
        true,
        &[
            "devices:read",
            "devices:write",
            "devices:execute",
            "scripts:read",
            "scripts:execute",
            "alerts:*",
            "remote:access",
            "organizations:read",
            "sites:read",
            "automations:read",
            "reports:read",
            "variables:read",
            "users:read",
        ],
    ),
    (
        SeededRole::OrgViewer,
        "Org Viewer",
        RoleScope::Organization,
        false,
        VIEWER_GRANTS,
    ),
    (
        SeededRole::SecurityApprover,
        "Security Approver",
        RoleScope::Partner,
        true,
        &[
            "approvals:decide",
            "audit:read",
            "devices:read",
            "scripts:read",
            "alerts:read",
            "organizations:read",
            "sites:read",
            "automations:read",
        ],
    ),
];

impl SeededRole {
    /// Every seeded role.
    pub const ALL: [Self; 8] = [
        Self::PlatformAdmin,
        Self::PartnerAdmin,
        Self::PartnerTechnician,
        Self::PartnerViewer,
        Self::OrgAdmin,
        Self::OrgTechnician,
        Self::OrgViewer,
        Self::SecurityApprover,
    ];

    fn row(self) -> (&'static str, RoleScope, bool, &'static [&'static str]) {
        TABLE.iter().find(|(role, ..)| *role == self).map_or(
            ("", RoleScope::Organization, true, &[]),
            |(_, n, s, m, g)| (*n, *s, *m, *g),
        )
    }

    /// The display name (`Partner Admin`, ...).
    #[must_use]
    pub fn name(self) -> &'static str {
        self.row().0
    }

    /// The role's scope.
    #[must_use]
    pub fn scope(self) -> RoleScope {
        self.row().1
    }

    /// Whether the role requires MFA.
    #[must_use]
    pub fn force_mfa(self) -> bool {
        self.row().2
    }

    /// The grants as written in the table.
    #[must_use]
    pub fn grant_strings(self) -> &'static [&'static str] {
        self.row().3
    }

    /// Looks a seeded role up by its display name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.name() == name)
    }

    /// The role definition (the tests prove every table row builds and compiles against
    /// the SPEC 5 registry; a row that did not would yield a role with fewer grants, never
    /// more).
    #[must_use]
    pub fn role(self) -> Role {
        let (name, scope, force_mfa, grants) = self.row();
        let grants = grants
            .iter()
            .filter_map(|g| g.parse::<Grant>().ok())
            .filter(|g| scope == RoleScope::System || !g.is_full_wildcard())
            .collect();
        Role::trusted(name, scope, grants, force_mfa)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permission::Permission;
    use crate::registry::{Registry, SPEC_PERMISSIONS};

    #[test]
    fn every_table_row_builds_and_compiles() {
        let registry = Registry::spec();
        assert_eq!(TABLE.len(), SeededRole::ALL.len());
        for seeded in SeededRole::ALL {
            let role = seeded.role();
            assert_eq!(role.name(), seeded.name());
            assert_eq!(
                role.grants().len(),
                seeded.grant_strings().len(),
                "{seeded:?}"
            );
            role.compile(&registry).unwrap();
            assert_eq!(SeededRole::from_name(seeded.name()), Some(seeded));
        }
    }

    /// Fails when a permission is added to the registry but assigned to no role (the
    /// system role's `*:*` does not count), or a role names a permission that does not
    /// exist.
    #[test]
    fn registry_and_roles_agree() {
        let registry = Registry::spec();
        let sets: Vec<_> = SeededRole::ALL
            .into_iter()
            .filter(|r| r.scope() != crate::role::RoleScope::System)
            .map(|r| r.role().compile(&registry).unwrap())
            .collect();
        for (resource, actions) in SPEC_PERMISSIONS {
            for action in *actions {
                let p = Permission::new(resource, action).unwrap();
                assert!(
                    sets.iter().any(|s| s.allows_permission(&registry, &p)),
                    "`{p}` is in the registry but no seeded partner or organization role holds it"
                );
            }
        }
    }
}
