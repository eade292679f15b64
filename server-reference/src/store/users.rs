//! Users and their memberships as the management API sees them. Password hashes are
//! written here but never read back by these functions.

use breeze_core::tenancy::{OrgId, PartnerId, RoleId, SiteId, UserId};
use time::OffsetDateTime;

use super::page::{Page, fetch_page};
use super::rows::fetch_by_id;
use super::{ScopedTx, StoreError, StoreResult};

/// A user (no credentials).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
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
    pub last_login_at: Option<OffsetDateTime>,
    /// Created.
    pub created_at: OffsetDateTime,
}

const USER_COLS: &str =
    "id, email, name, partner_id, org_id, status, mfa_enabled, last_login_at, created_at";

/// A page of the users the context reaches (platform admins without a tenant excluded;
/// outside system scope, platform admins with a tenant home too: they are reachable from
/// system scope only).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_users(tx: &mut ScopedTx, page: Page) -> StoreResult<Vec<UserRow>> {
    let include_platform = tx.context().scope() == breeze_authz::access::Scope::System;
    let select = format!(
        "SELECT {USER_COLS} FROM users
          WHERE partner_id IS NOT NULL
            AND ($1 OR NOT EXISTS (SELECT 1 FROM system_memberships s WHERE s.user_id = users.id))"
    );
    fetch_page(tx, &select, 1, |q| q.bind(include_platform), page).await
}

/// A user.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn get_user(tx: &mut ScopedTx, id: UserId) -> StoreResult<Option<UserRow>> {
    fetch_by_id(
        tx,
        &format!("SELECT {USER_COLS} FROM users WHERE id = $1"),
        id,
    )
    .await
}

/// A new user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser<'a> {
    /// E-mail (lowercase).
    pub email: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Home partner.
    pub partner_id: PartnerId,
    /// Home organization (organization users).
    pub org_id: Option<OrgId>,
    /// Argon2id PHC string.
    pub password_hash: &'a str,
}

/// Creates a user.
///
/// # Errors
/// [`StoreError::Conflict`] `email_taken`; [`StoreError::Denied`] out of reach.
pub async fn insert_user(tx: &mut ScopedTx, user: &NewUser<'_>) -> StoreResult<UserRow> {
    let sql = format!(
        "INSERT INTO users (id, email, name, partner_id, org_id, password_hash)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(UserId::new_random())
        .bind(user.email)
        .bind(user.name)
        .bind(user.partner_id)
        .bind(user.org_id)
        .bind(user.password_hash)
        .fetch_one(tx.conn())
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("email_taken"),
            other => other,
        })
}

/// Renames a user.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such user in reach.
pub async fn set_name(tx: &mut ScopedTx, id: UserId, name: &str) -> StoreResult<()> {
    let done = sqlx::query("UPDATE users SET name = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(name)
        .execute(tx.conn())
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Enables or disables a user. Disabling bumps the auth epoch, so every token of the user
/// stops verifying at once (the guard compares it on every request).
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such user in reach.
pub async fn set_active(tx: &mut ScopedTx, id: UserId, active: bool) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE users SET status = CASE WHEN $2 THEN 'active' ELSE 'disabled' END,
                auth_epoch = CASE WHEN $2 THEN auth_epoch ELSE auth_epoch + 1 END,
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(active)
    .execute(tx.conn())
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Creates or replaces a user's partner membership.
///
/// # Errors
/// [`StoreError::Denied`] when the partner is out of reach.
pub async fn put_partner_membership(
    tx: &mut ScopedTx,
    user: UserId,
    partner: PartnerId,
    role: RoleId,
    org_access: &str,
    org_ids: &[OrgId],
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO partner_memberships (user_id, partner_id, role_id, org_access, org_ids)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET role_id = EXCLUDED.role_id,
           org_access = EXCLUDED.org_access, org_ids = EXCLUDED.org_ids, updated_at = now()
         WHERE partner_memberships.partner_id = EXCLUDED.partner_id",
    )
    .bind(user)
    .bind(partner)
    .bind(role)
    .bind(org_access)
    .bind(org_ids)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Creates or replaces a user's organization membership (`site_ids: None` = every site).
///
/// # Errors
/// [`StoreError::Denied`] when the organization is out of reach.
pub async fn put_org_membership(
    tx: &mut ScopedTx,
    user: UserId,
    org: OrgId,
    role: RoleId,
    site_ids: Option<&[SiteId]>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO org_memberships (user_id, org_id, role_id, site_ids) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET role_id = EXCLUDED.role_id,
           site_ids = EXCLUDED.site_ids, updated_at = now()
         WHERE org_memberships.org_id = EXCLUDED.org_id",
    )
    .bind(user)
    .bind(org)
    .bind(role)
    .bind(site_ids)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// How many of `sites` are sites of `org` visible in this context.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn count_sites_of(tx: &mut ScopedTx, org: OrgId, sites: &[SiteId]) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar(
            "SELECT count(*) FROM sites WHERE org_id = $1 AND id = ANY ($2::uuid[])",
        )
        .bind(org)
        .bind(sites)
        .fetch_one(tx.conn())
        .await?,
    )
}

/// Whether `user` holds a system (platform) membership. Tenant contexts see the system
/// membership of every user they see (policy `system_memberships_select`, migration
/// 0720), so the answer is right outside system scope too.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn is_platform_user(tx: &mut ScopedTx, user: UserId) -> StoreResult<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM system_memberships WHERE user_id = $1)")
            .bind(user)
            .fetch_one(tx.conn())
            .await?,
    )
}

/// A user's memberships (see [`super::principal::memberships`]).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn memberships(
    tx: &mut ScopedTx,
    user: UserId,
) -> StoreResult<breeze_authz::access::Memberships> {
    super::principal::memberships(tx, user).await
}
