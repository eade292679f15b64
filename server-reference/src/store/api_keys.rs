//! API keys as the management API sees them (SPEC 3.3). Only the SHA-256 hash and an
//! 8-character display prefix are stored; the raw key is returned once by the route.

use breeze_core::tenancy::{ApiKeyId, OrgId, UserId};
use time::OffsetDateTime;

use super::page::{Page, fetch_page};
use super::rows::fetch_by_id;
use super::{ScopedTx, StoreError, StoreResult};

/// An API key (never its hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyView {
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
    pub expires_at: Option<OffsetDateTime>,
    /// Requests per hour.
    pub rate_limit_per_hour: i32,
    /// Last use.
    pub last_used_at: Option<OffsetDateTime>,
    /// Uses.
    pub usage_count: i64,
    /// Creator.
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

const COLS: &str = "id, org_id, name, key_prefix, scopes, status, expires_at, \
     rate_limit_per_hour, last_used_at, usage_count, created_by, created_at, revoked_at";

/// A page of the keys of `org`.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_api_keys(
    tx: &mut ScopedTx,
    org: OrgId,
    page: Page,
) -> StoreResult<Vec<ApiKeyView>> {
    let select = format!("SELECT {COLS} FROM api_keys WHERE org_id = $1");
    fetch_page(tx, &select, 1, |q| q.bind(org), page).await
}

/// A key.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn get_api_key(tx: &mut ScopedTx, id: ApiKeyId) -> StoreResult<Option<ApiKeyView>> {
    fetch_by_id(
        tx,
        &format!("SELECT {COLS} FROM api_keys WHERE id = $1"),
        id,
    )
    .await
}

/// A new key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey<'a> {
    /// Organization.
    pub org_id: OrgId,
    /// Name.
    pub name: &'a str,
    /// Display prefix (8 characters).
    pub key_prefix: &'a str,
    /// SHA-256 of the key, lowercase hex.
    pub key_hash: &'a str,
    /// Scopes (validated).
    pub scopes: &'a [String],
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Requests per hour.
    pub rate_limit_per_hour: i32,
    /// Creator.
    pub created_by: Option<UserId>,
}

/// Stores a key.
///
/// # Errors
/// [`StoreError::Denied`] when the organization is out of reach.
pub async fn insert_api_key(tx: &mut ScopedTx, key: &NewApiKey<'_>) -> StoreResult<ApiKeyView> {
    let sql = format!(
        "INSERT INTO api_keys (id, org_id, name, key_prefix, key_hash, scopes, expires_at,
                               rate_limit_per_hour, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ApiKeyId::new_random())
        .bind(key.org_id)
        .bind(key.name)
        .bind(key.key_prefix)
        .bind(key.key_hash)
        .bind(key.scopes)
        .bind(key.expires_at)
        .bind(key.rate_limit_per_hour)
        .bind(key.created_by)
        .fetch_one(tx.conn())
        .await?)
}

/// Revokes an active key.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such key; [`StoreError::Conflict`]
/// `already_revoked`.
pub async fn revoke_api_key(tx: &mut ScopedTx, id: ApiKeyId) -> StoreResult<ApiKeyView> {
    let sql = format!(
        "UPDATE api_keys SET status = 'revoked', revoked_at = now()
          WHERE id = $1 AND status <> 'revoked' RETURNING {COLS}"
    );
    let row: Option<ApiKeyView> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    match row {
        Some(r) => Ok(r),
        None => match get_api_key(tx, id).await? {
            Some(_) => Err(StoreError::Conflict("already_revoked")),
            None => Err(StoreError::NotFound),
        },
    }
}
