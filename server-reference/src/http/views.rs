//! The JSON shapes of the management API and their explicit conversion from store rows
//! (the store's row types carry no serialization: what a client sees is decided here).

use breeze_core::tenancy::{
    ApiKeyId, DeviceGroupId, DeviceId, EnrollmentKeyId, OrgId, PartnerId, RoleId, SiteId, UserId,
};
use serde::Serialize;
use time::OffsetDateTime;

use crate::store::api_keys::ApiKeyView;
use crate::store::devices::{DeviceRow, SuspendedDeviceRow};
use crate::store::enrollment_keys::EnrollmentKeyView;
use crate::store::roles::RoleRow;
use crate::store::tenancy::{GroupRow, OrgRow, PartnerRow, SiteRow};
use crate::store::users::UserRow;

/// The API shape of a partner (MSP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerOut {
    /// Id.
    pub id: PartnerId,
    /// Name.
    pub name: String,
    /// `active` or `suspended`.
    pub status: String,
    /// Device limit (none = unlimited).
    pub max_devices: Option<i32>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<PartnerRow> for PartnerOut {
    fn from(r: PartnerRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            status: r.status,
            max_devices: r.max_devices,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The API shape of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgOut {
    /// Id.
    pub id: OrgId,
    /// Partner.
    pub partner_id: PartnerId,
    /// Name.
    pub name: String,
    /// `active`, `trial`, `suspended` or `offboarding`.
    pub status: String,
    /// Audit retention in days.
    pub retention_days: i32,
    /// Every device must be bound to an Ed25519 key (SPEC 17).
    pub require_agent_key: bool,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<OrgRow> for OrgOut {
    fn from(r: OrgRow) -> Self {
        Self {
            id: r.id,
            partner_id: r.partner_id,
            name: r.name,
            status: r.status,
            retention_days: r.retention_days,
            require_agent_key: r.require_agent_key,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The API shape of a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SiteOut {
    /// Id.
    pub id: SiteId,
    /// Organization.
    pub org_id: OrgId,
    /// Name.
    pub name: String,
    /// IANA time zone name.
    pub timezone: String,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<SiteRow> for SiteOut {
    fn from(r: SiteRow) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            name: r.name,
            timezone: r.timezone,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The API shape of a device group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupOut {
    /// Id.
    pub id: DeviceGroupId,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Name.
    pub name: String,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<GroupRow> for GroupOut {
    fn from(r: GroupRow) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            site_id: r.site_id,
            name: r.name,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The API shape of a user (no credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserOut {
    /// Id.
    pub id: UserId,
    /// E-mail (lowercase).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Home partner.
    pub partner_id: Option<PartnerId>,
    /// Home organization (organization users).
    pub org_id: Option<OrgId>,
    /// `active` or `disabled`.
    pub status: String,
    /// MFA switched on.
    pub mfa_enabled: bool,
    /// Last login.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::http::doc::Rfc3339>")]
    pub last_login_at: Option<OffsetDateTime>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<UserRow> for UserOut {
    fn from(r: UserRow) -> Self {
        Self {
            id: r.id,
            email: r.email,
            name: r.name,
            partner_id: r.partner_id,
            org_id: r.org_id,
            status: r.status,
            mfa_enabled: r.mfa_enabled,
            last_login_at: r.last_login_at,
            created_at: r.created_at,
        }
    }
}

/// The API shape of a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleOut {
    /// Id.
    pub id: RoleId,
    /// Owning partner (none for seeded roles).
    pub partner_id: Option<PartnerId>,
    /// `system`, `partner` or `organization`.
    pub scope: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Grants (`devices:*`).
    pub permissions: Vec<String>,
    /// Members must have MFA.
    pub requires_mfa: bool,
    /// Seeded (immutable).
    pub seeded: bool,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<RoleRow> for RoleOut {
    fn from(r: RoleRow) -> Self {
        Self {
            id: r.id,
            partner_id: r.partner_id,
            scope: r.scope,
            name: r.name,
            description: r.description,
            permissions: r.permissions,
            requires_mfa: r.requires_mfa,
            seeded: r.seeded,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The API shape of an API key (never its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyOut {
    /// Id.
    pub id: ApiKeyId,
    /// Organization.
    pub org_id: OrgId,
    /// Name.
    pub name: String,
    /// The first 8 characters of the key.
    pub key_prefix: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// `active`, `revoked` or `expired`.
    pub status: String,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::http::doc::Rfc3339>")]
    pub expires_at: Option<OffsetDateTime>,
    /// Requests per hour.
    pub rate_limit_per_hour: i32,
    /// Last use.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::http::doc::Rfc3339>")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Uses.
    pub usage_count: i64,
    /// Creator.
    pub created_by: Option<UserId>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub created_at: OffsetDateTime,
    /// Revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::http::doc::Rfc3339>")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<ApiKeyView> for ApiKeyOut {
    fn from(r: ApiKeyView) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            name: r.name,
            key_prefix: r.key_prefix,
            scopes: r.scopes,
            status: r.status,
            expires_at: r.expires_at,
            rate_limit_per_hour: r.rate_limit_per_hour,
            last_used_at: r.last_used_at,
            usage_count: r.usage_count,
            created_by: r.created_by,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// The API shape of an enrollment key (never its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentKeyOut {
    /// Id.
    pub id: EnrollmentKeyId,
    /// Organization.
    pub org_id: OrgId,
    /// Site enrolled devices land in.
    pub site_id: SiteId,
    /// Name.
    pub name: String,
    /// Most uses.
    pub max_usage: i32,
    /// Uses so far.
    pub usage_count: i32,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Whether a per-key secret is required.
    pub has_secret: bool,
    /// Creator.
    pub created_by: Option<UserId>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<EnrollmentKeyView> for EnrollmentKeyOut {
    fn from(r: EnrollmentKeyView) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            site_id: r.site_id,
            name: r.name,
            max_usage: r.max_usage,
            usage_count: r.usage_count,
            expires_at: r.expires_at,
            has_secret: r.has_secret,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// The API shape of a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceOut {
    /// Id.
    pub id: DeviceId,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Group.
    pub group_id: Option<DeviceGroupId>,
    /// Public agent id.
    pub agent_id: String,
    /// Host name reported by the agent.
    pub hostname: String,
    /// Name set by an operator.
    pub display_name: Option<String>,
    /// `windows`, `macos` or `linux`.
    pub os_type: String,
    /// OS version.
    pub os_version: String,
    /// CPU architecture.
    pub architecture: String,
    /// Agent version.
    pub agent_version: String,
    /// `online`, `offline`, `quarantined` or `decommissioned`.
    pub status: String,
    /// Last contact.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::http::doc::Rfc3339>")]
    pub last_seen_at: Option<OffsetDateTime>,
    /// Enrolled.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub enrolled_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::http::doc::Rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<DeviceRow> for DeviceOut {
    fn from(r: DeviceRow) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            site_id: r.site_id,
            group_id: r.group_id,
            agent_id: r.agent_id,
            hostname: r.hostname,
            display_name: r.display_name,
            os_type: r.os_type,
            os_version: r.os_version,
            architecture: r.architecture,
            agent_version: r.agent_version,
            status: r.status,
            last_seen_at: r.last_seen_at,
            enrolled_at: r.enrolled_at,
            updated_at: r.updated_at,
        }
    }
}

/// The API shape of a device whose agent credentials are suspended (cross-tenant probing, SPEC 8.2), as the
/// admin review lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuspendedDeviceOut {
    /// Device id.
    pub id: DeviceId,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Public agent id.
    pub agent_id: String,
    /// Host name reported by the agent.
    pub hostname: String,
    /// Name set by an operator.
    pub display_name: Option<String>,
    /// Device status.
    pub status: String,
    /// Why it was suspended.
    pub suspended_reason: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::http::doc::Rfc3339>")]
    pub suspended_at: Option<OffsetDateTime>,
}

impl From<SuspendedDeviceRow> for SuspendedDeviceOut {
    fn from(r: SuspendedDeviceRow) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            site_id: r.site_id,
            agent_id: r.agent_id,
            hostname: r.hostname,
            display_name: r.display_name,
            status: r.status,
            suspended_reason: r.suspended_reason,
            suspended_at: r.suspended_at,
        }
    }
}
