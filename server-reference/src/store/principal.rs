//! What authentication reads: users, memberships, roles, organizations, API keys.
//!
//! Called in a short system-scope transaction before the request's own transaction opens
//! (a token names its user; nothing else is known yet). Organization lists come back
//! ordered by id, which access resolution relies on for speed.

use breeze_authz::access::{
    MembershipState, Memberships, OrgAccess, OrgMembership, OrgRecord, PartnerMembership,
    SiteAccess, SystemMembership,
};
use breeze_authz::role::RoleScope;
use breeze_core::ipallow::IpAllowList;
use breeze_core::tenancy::{ApiKeyId, OrgId, OrgStatus, PartnerId, RoleId, SiteId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::ip_allowlists::{self, USER_LIST_JOIN};
use super::{ScopedTx, StoreError, StoreResult};

/// A user as authentication needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// Id.
    pub id: UserId,
    /// E-mail (lowercase).
    pub email: String,
    /// `active` or `disabled`.
    pub active: bool,
    /// Auth epoch.
    pub auth_epoch: u64,
    /// MFA epoch.
    pub mfa_epoch: u64,
    /// MFA switched on.
    pub mfa_enabled: bool,
    /// Last password change.
    pub password_changed_at: OffsetDateTime,
    /// Home partner.
    pub partner_id: Option<PartnerId>,
    /// Home organization.
    pub org_id: Option<OrgId>,
    /// The permission-cache versions (global, this user's) read with the row.
    pub permission_versions: breeze_authz::cache::Versions,
    /// The IP allow-list that applies to the user (SPEC 16), read with the row: `None`
    /// without a home partner, for a live platform admin, or when the partner has none.
    pub ip_allowlist: Option<IpAllowList>,
}

impl AuthUser {
    /// The user's facts the session rules judge a token against
    /// ([`breeze_authz::session::check_session`]).
    #[must_use]
    pub const fn session_facts(&self) -> breeze_authz::session::UserFacts {
        breeze_authz::session::UserFacts {
            active: self.active,
            auth_epoch: self.auth_epoch,
            mfa_epoch: self.mfa_epoch,
            password_changed_at: self.password_changed_at.unix_timestamp(),
            mfa_enabled: self.mfa_enabled,
        }
    }
}

/// A role as authorization needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    /// Id.
    pub id: RoleId,
    /// Name.
    pub name: String,
    /// Scope.
    pub scope: RoleScope,
    /// Grant strings (`devices:*`).
    pub permissions: Vec<String>,
    /// Force-MFA.
    pub requires_mfa: bool,
}

/// An API key row found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    /// Id.
    pub id: ApiKeyId,
    /// Organization.
    pub org_id: OrgId,
    /// `active`, `revoked` or `expired`.
    pub status: String,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Scope strings.
    pub scopes: Vec<String>,
    /// Requests per hour.
    pub rate_limit_per_hour: i32,
    /// Stored hash (hex), compared in constant time by the caller.
    pub key_hash: String,
    /// The user who made the key (caps its MCP tools, SPEC 14).
    pub created_by: Option<UserId>,
    /// The partner of the key's organization.
    pub partner_id: Option<PartnerId>,
    /// That partner's IP allow-list (SPEC 16), read with the key: `None` when it has none.
    pub ip_allowlist: Option<IpAllowList>,
}

fn counter(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::database("negative permission version"))
}

fn epoch(v: i32) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::database("negative epoch"))
}

/// Parses a stored role scope.
///
/// # Errors
/// [`StoreError::Database`] for an unknown value.
pub fn parse_scope(s: &str) -> StoreResult<RoleScope> {
    match s {
        "system" => Ok(RoleScope::System),
        "partner" => Ok(RoleScope::Partner),
        "organization" => Ok(RoleScope::Organization),
        _ => Err(StoreError::database("unknown role scope")),
    }
}

/// Parses a stored organization status.
///
/// # Errors
/// [`StoreError::Database`] for an unknown value.
pub fn parse_org_status(s: &str) -> StoreResult<OrgStatus> {
    match s {
        "active" => Ok(OrgStatus::Active),
        "trial" => Ok(OrgStatus::Trial),
        "suspended" => Ok(OrgStatus::Suspended),
        "offboarding" => Ok(OrgStatus::Offboarding),
        _ => Err(StoreError::database("unknown organization status")),
    }
}

type UserRow = (
    Uuid,
    String,
    String,
    i32,
    i32,
    bool,
    OffsetDateTime,
    Option<Uuid>,
    Option<Uuid>,
    i64,
    i64,
    Option<String>,
    Option<Vec<String>>,
);

/// Loads a user by id, with the permission versions and the IP allow-list that applies to
/// them (their home partner's; none for a live platform admin), read in one statement.
///
/// # Errors
/// [`StoreError`] on database failure; `Ok(None)` when there is no such user.
pub async fn user_by_id(tx: &mut ScopedTx, id: UserId) -> StoreResult<Option<AuthUser>> {
    let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT u.id, u.email, u.status, u.auth_epoch, u.mfa_epoch, u.mfa_enabled,
                u.password_changed_at, u.partner_id, u.org_id, v.global_version, v.user_version,
                a.mode, a.cidrs::text[]
           FROM users u CROSS JOIN LATERAL breeze_permission_versions(u.id) v
           {USER_LIST_JOIN}
          WHERE u.id = $1"
    )))
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    row.map(
        |(id, email, status, aep, mep, mfa, changed, partner, org, global, mine, mode, cidrs)| {
            Ok(AuthUser {
                id: UserId::from_uuid(id),
                email,
                active: status == "active",
                auth_epoch: epoch(aep)?,
                mfa_epoch: epoch(mep)?,
                mfa_enabled: mfa,
                password_changed_at: changed,
                partner_id: partner.map(PartnerId::from_uuid),
                org_id: org.map(OrgId::from_uuid),
                permission_versions: breeze_authz::cache::Versions {
                    global: counter(global)?,
                    user: counter(mine)?,
                },
                ip_allowlist: ip_allowlists::from_columns(mode, cidrs)?,
            })
        },
    )
    .transpose()
}

fn state(active: bool) -> MembershipState {
    if active {
        MembershipState::Active
    } else {
        MembershipState::Inactive
    }
}

/// Loads a user's memberships. A partner membership of a suspended or deleted partner
/// counts as inactive.
///
/// # Errors
/// [`StoreError`] on database failure or a malformed stored value.
pub async fn memberships(tx: &mut ScopedTx, user: UserId) -> StoreResult<Memberships> {
    let system: Option<(Uuid, bool)> =
        sqlx::query_as("SELECT role_id, active FROM system_memberships WHERE user_id = $1")
            .bind(user.as_uuid())
            .fetch_optional(tx.conn())
            .await?;
    let partner: Option<(Uuid, Uuid, String, Vec<Uuid>, bool)> = sqlx::query_as(
        "SELECT m.partner_id, m.role_id, m.org_access, m.org_ids,
                m.active AND p.status = 'active' AND p.deleted_at IS NULL
           FROM partner_memberships m JOIN partners p ON p.id = m.partner_id
          WHERE m.user_id = $1",
    )
    .bind(user.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    let org: Option<(Uuid, Uuid, Option<Vec<Uuid>>, bool)> = sqlx::query_as(
        "SELECT org_id, role_id, site_ids, active FROM org_memberships WHERE user_id = $1",
    )
    .bind(user.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    let partner = match partner {
        None => None,
        Some((partner_id, role_id, access, mut org_ids, active)) => {
            org_ids.sort_unstable();
            let org_access = match access.as_str() {
                "all" => OrgAccess::All,
                "selected" => {
                    OrgAccess::Selected(org_ids.into_iter().map(OrgId::from_uuid).collect())
                }
                "none" => OrgAccess::None,
                _ => return Err(StoreError::database("unknown org_access")),
            };
            Some(PartnerMembership {
                partner_id: PartnerId::from_uuid(partner_id),
                role_id: RoleId::from_uuid(role_id),
                org_access,
                state: state(active),
            })
        }
    };
    Ok(Memberships {
        system: system.map(|(role, active)| SystemMembership {
            role_id: RoleId::from_uuid(role),
            state: state(active),
        }),
        partner,
        organization: org.map(|(org_id, role_id, sites, active)| OrgMembership {
            org_id: OrgId::from_uuid(org_id),
            role_id: RoleId::from_uuid(role_id),
            sites: sites.map_or(SiteAccess::All, |s| {
                let mut s: Vec<SiteId> = s.into_iter().map(SiteId::from_uuid).collect();
                s.sort_unstable();
                SiteAccess::Only(s)
            }),
            state: state(active),
        }),
    })
}

/// The organizations access resolution needs for `memberships`, ordered by id: every
/// organization of the partner, plus the membership's own organization.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn org_records(
    tx: &mut ScopedTx,
    memberships: &Memberships,
) -> StoreResult<Vec<OrgRecord>> {
    let partner = memberships
        .partner
        .as_ref()
        .map(|p| *p.partner_id.as_uuid());
    let org = memberships
        .organization
        .as_ref()
        .map(|o| *o.org_id.as_uuid());
    org_records_for(tx, partner, org).await
}

/// The status of organization `o` as access resolution sees it: `suspended` while its
/// partner `p` is not active (issue 15, finding 6: an organization whose partner is
/// suspended or deleted is not serviceable on any path: user and API-key authentication,
/// agent authentication, enrollment). Shared by every query that builds an
/// [`OrgRecord`], so no path can forget the partner.
pub(crate) const SERVICE_STATUS: &str =
    "CASE WHEN p.status = 'active' THEN o.status ELSE 'suspended' END";

/// Whether organization `o` counts as deleted: its own `deleted_at` or its partner's.
pub(crate) const SERVICE_DELETED: &str = "(o.deleted_at IS NOT NULL OR p.deleted_at IS NOT NULL)";

/// Organizations of `partner` and/or the organization `org`, ordered by id. Their status
/// and deletion include their partner's ([`SERVICE_STATUS`], [`SERVICE_DELETED`]).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn org_records_for(
    tx: &mut ScopedTx,
    partner: Option<Uuid>,
    org: Option<Uuid>,
) -> StoreResult<Vec<OrgRecord>> {
    let rows: Vec<(Uuid, Uuid, String, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT o.id, o.partner_id, {SERVICE_STATUS}, {SERVICE_DELETED}
           FROM organizations o JOIN partners p ON p.id = o.partner_id
          WHERE o.partner_id = $1 OR o.id = $2 ORDER BY o.id"
    )))
    .bind(partner)
    .bind(org)
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter()
        .map(|(id, partner_id, status, deleted)| {
            Ok(OrgRecord {
                id: OrgId::from_uuid(id),
                partner_id: PartnerId::from_uuid(partner_id),
                status: parse_org_status(&status)?,
                deleted,
            })
        })
        .collect()
}

/// Loads a role.
///
/// # Errors
/// [`StoreError`] on database failure or a malformed stored value.
pub async fn role(tx: &mut ScopedTx, id: RoleId) -> StoreResult<Option<RoleRecord>> {
    let row: Option<(Uuid, String, String, Vec<String>, bool)> = sqlx::query_as(
        "SELECT id, name, scope, permissions, requires_mfa FROM roles WHERE id = $1",
    )
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    row.map(|(id, name, scope, permissions, requires_mfa)| {
        Ok(RoleRecord {
            id: RoleId::from_uuid(id),
            name,
            scope: parse_scope(&scope)?,
            permissions,
            requires_mfa,
        })
    })
    .transpose()
}

type ApiKeyTuple = (
    Uuid,
    Uuid,
    String,
    Option<OffsetDateTime>,
    Vec<String>,
    i32,
    String,
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    Option<Vec<String>>,
);

/// Finds an API key by its SHA-256 hash (hex), with its organization's partner and that
/// partner's IP allow-list (one statement).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn api_key_by_hash(tx: &mut ScopedTx, hash_hex: &str) -> StoreResult<Option<ApiKeyRow>> {
    let row: Option<ApiKeyTuple> = sqlx::query_as(
        "SELECT k.id, k.org_id, k.status, k.expires_at, k.scopes, k.rate_limit_per_hour,
                k.key_hash, k.created_by, o.partner_id, a.mode, a.cidrs::text[]
           FROM api_keys k
           LEFT JOIN organizations o ON o.id = k.org_id
           LEFT JOIN partner_ip_allowlists a ON a.partner_id = o.partner_id
          WHERE k.key_hash = $1",
    )
    .bind(hash_hex)
    .fetch_optional(tx.conn())
    .await?;
    row.map(
        |(
            id,
            org_id,
            status,
            expires_at,
            scopes,
            rate_limit_per_hour,
            key_hash,
            created_by,
            partner,
            mode,
            cidrs,
        )| {
            Ok(ApiKeyRow {
                id: ApiKeyId::from_uuid(id),
                org_id: OrgId::from_uuid(org_id),
                status,
                expires_at,
                scopes,
                rate_limit_per_hour,
                key_hash,
                created_by: created_by.map(UserId::from_uuid),
                partner_id: partner.map(PartnerId::from_uuid),
                ip_allowlist: ip_allowlists::from_columns(mode, cidrs)?,
            })
        },
    )
    .transpose()
}

/// Records one use of an API key (`last_used_at`, `usage_count`).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn touch_api_key(tx: &mut ScopedTx, id: ApiKeyId) -> StoreResult<()> {
    sqlx::query(
        "UPDATE api_keys SET last_used_at = now(), usage_count = usage_count + 1 WHERE id = $1",
    )
    .bind(id.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Whether a tenant organization is serviceable (active or trial, not deleted, its partner
/// active and not deleted).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn org_is_serviceable(tx: &mut ScopedTx, org: OrgId) -> StoreResult<bool> {
    let row: Option<(String, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SERVICE_STATUS}, {SERVICE_DELETED}
           FROM organizations o JOIN partners p ON p.id = o.partner_id WHERE o.id = $1"
    )))
    .bind(org.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    Ok(match row {
        Some((status, deleted)) => parse_org_status(&status)?.is_active() && !deleted,
        None => false,
    })
}

/// Whether refresh family (session) `family` of `user` is revoked, expired or unknown
/// (the durable backstop of SPEC 2.3).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn family_is_revoked(tx: &mut ScopedTx, family: Uuid, user: UserId) -> StoreResult<bool> {
    let live: Option<bool> = sqlx::query_scalar(
        "SELECT revoked_at IS NULL AND expires_at > now() FROM refresh_families
          WHERE id = $1 AND user_id = $2",
    )
    .bind(family)
    .bind(user.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    Ok(live != Some(true))
}
