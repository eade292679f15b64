//! Roles: the seeded ones every partner sees and each partner's custom roles (SPEC 5).

use breeze_core::tenancy::{PartnerId, RoleId};
use time::OffsetDateTime;

use super::page::{Page, fetch_page};
use super::rows::{delete_unreferenced, fetch_by_id};
use super::{ScopedTx, StoreError, StoreResult};

/// A role.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoleRow {
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
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

const ROLE_COLS: &str = "id, partner_id, scope, name, description, permissions, requires_mfa, \
     seeded, created_at, updated_at";

/// A page of the roles visible in this context: the seeded ones and, for a partner, its
/// own custom roles (`partner`); system scope with `partner: None` sees every role.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_roles(
    tx: &mut ScopedTx,
    partner: Option<PartnerId>,
    page: Page,
) -> StoreResult<Vec<RoleRow>> {
    let select = format!(
        "SELECT {ROLE_COLS} FROM roles
          WHERE (partner_id IS NULL OR $1::uuid IS NULL OR partner_id = $1)"
    );
    fetch_page(tx, &select, 1, |q| q.bind(partner), page).await
}

/// A role.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn get_role(tx: &mut ScopedTx, id: RoleId) -> StoreResult<Option<RoleRow>> {
    fetch_by_id(
        tx,
        &format!("SELECT {ROLE_COLS} FROM roles WHERE id = $1"),
        id,
    )
    .await
}

/// A new custom role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRole<'a> {
    /// Owning partner.
    pub partner_id: PartnerId,
    /// `partner` or `organization`.
    pub scope: &'a str,
    /// Name.
    pub name: &'a str,
    /// Description.
    pub description: &'a str,
    /// Grants.
    pub permissions: &'a [String],
    /// Members must have MFA.
    pub requires_mfa: bool,
}

fn name_conflict(e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("role_name_taken"),
        other => other,
    }
}

/// Creates a custom role.
///
/// # Errors
/// [`StoreError::Conflict`] `role_name_taken`; [`StoreError::Denied`] out of reach.
pub async fn insert_role(tx: &mut ScopedTx, role: &NewRole<'_>) -> StoreResult<RoleRow> {
    let sql = format!(
        "INSERT INTO roles (id, partner_id, scope, name, description, permissions, requires_mfa,
                            seeded)
         VALUES ($1, $2, $3, $4, $5, $6, $7, false) RETURNING {ROLE_COLS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(RoleId::new_random())
        .bind(role.partner_id)
        .bind(role.scope)
        .bind(role.name)
        .bind(role.description)
        .bind(role.permissions)
        .bind(role.requires_mfa)
        .fetch_one(tx.conn())
        .await
        .map_err(name_conflict)
}

/// Changes a custom role; `None` leaves a field as is. Seeded roles are never matched.
///
/// # Errors
/// [`StoreError::NotFound`]; [`StoreError::Conflict`] `role_name_taken`.
pub async fn update_role(
    tx: &mut ScopedTx,
    id: RoleId,
    name: Option<&str>,
    description: Option<&str>,
    permissions: Option<&[String]>,
    requires_mfa: Option<bool>,
) -> StoreResult<RoleRow> {
    let sql = format!(
        "UPDATE roles SET name = coalesce($2, name), description = coalesce($3, description),
                permissions = coalesce($4, permissions),
                requires_mfa = coalesce($5, requires_mfa), updated_at = now()
          WHERE id = $1 AND NOT seeded RETURNING {ROLE_COLS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(name)
        .bind(description)
        .bind(permissions)
        .bind(requires_mfa)
        .fetch_optional(tx.conn())
        .await
        .map_err(name_conflict)?
        .ok_or(StoreError::NotFound)
}

/// Deletes an unused custom role.
///
/// # Errors
/// [`StoreError::Conflict`] `role_in_use`; [`StoreError::NotFound`].
pub async fn delete_role(tx: &mut ScopedTx, id: RoleId) -> StoreResult<()> {
    // a row this context cannot see may still refer to it
    delete_unreferenced(tx, "roles", "AND NOT seeded", id, "role_in_use").await
}
