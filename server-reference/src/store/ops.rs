//! Operations SQL: the first platform admin, enrollment keys from the command line, and the
//! encrypted-column walk of `secrets rekey`.
//!
//! Every function runs inside a [`ScopedTx`] (the CLI opens system-scope transactions), so
//! row-level security applies as it does to requests.

use breeze_core::tenancy::{RoleId, UserId};
use uuid::Uuid;

use super::{ScopedTx, StoreError, StoreResult};

/// The advisory lock key serializing `bootstrap-admin` runs ("breeze-b" in ASCII).
const BOOTSTRAP_LOCK: i64 = 0x6272_6565_7a65_2d62;

/// Serializes first-admin creation for the rest of the transaction.
///
/// # Errors
/// [`StoreError`] when the lock cannot be taken.
pub async fn lock_bootstrap(tx: &mut ScopedTx) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(BOOTSTRAP_LOCK)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Whether an active platform admin (an active system membership) exists.
///
/// # Errors
/// [`StoreError`].
pub async fn platform_admin_exists(tx: &mut ScopedTx) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM system_memberships m JOIN users u ON u.id = m.user_id
                         WHERE m.active AND u.status = 'active')",
    )
    .fetch_one(tx.conn())
    .await?)
}

/// Inserts a platform user (no home partner or organization) and their system membership.
///
/// # Errors
/// [`StoreError::Conflict`] (`already_exists`) when the e-mail is taken.
pub async fn insert_platform_admin(
    tx: &mut ScopedTx,
    id: UserId,
    email: &str,
    name: &str,
    password_hash: &str,
    role: RoleId,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, email, name, partner_id, org_id, password_hash)
         VALUES ($1, $2, $3, NULL, NULL, $4)",
    )
    .bind(id.as_uuid())
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .execute(tx.conn())
    .await?;
    sqlx::query("INSERT INTO system_memberships (user_id, role_id) VALUES ($1, $2)")
        .bind(id.as_uuid())
        .bind(role.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// An encrypted text column, keyed by a uuid id column. The names are compile-time
/// constants of [`crate::ops::rekey::ENCRYPTED_COLUMNS`]; they are still checked to be plain SQL
/// identifiers before being put into a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnRef {
    /// Table.
    pub table: &'static str,
    /// The uuid primary key column.
    pub id_column: &'static str,
    /// The encrypted column.
    pub column: &'static str,
}

fn identifier(name: &'static str) -> StoreResult<&'static str> {
    if !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(name)
    } else {
        Err(StoreError::invalid("column", "not a plain identifier"))
    }
}

/// The next `limit` non-null values of `col` with id greater than `after`, in id order,
/// locked for update (keyset pagination: resumable, no offset).
///
/// # Errors
/// [`StoreError`].
pub async fn encrypted_batch(
    tx: &mut ScopedTx,
    col: ColumnRef,
    after: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<(Uuid, String)>> {
    let (table, id, column) = (
        identifier(col.table)?,
        identifier(col.id_column)?,
        identifier(col.column)?,
    );
    let sql = format!(
        "SELECT {id}, {column} FROM {table}
          WHERE {column} IS NOT NULL AND ($1::uuid IS NULL OR {id} > $1)
          ORDER BY {id} LIMIT $2 FOR UPDATE"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?)
}

/// Replaces `old` by `new` in `col` of row `id` (only if the value is still `old`); returns
/// whether a row changed.
///
/// # Errors
/// [`StoreError`].
pub async fn replace_encrypted(
    tx: &mut ScopedTx,
    col: ColumnRef,
    id: Uuid,
    old: &str,
    new: &str,
) -> StoreResult<bool> {
    let (table, id_col, column) = (
        identifier(col.table)?,
        identifier(col.id_column)?,
        identifier(col.column)?,
    );
    let sql = format!("UPDATE {table} SET {column} = $3 WHERE {id_col} = $1 AND {column} = $2");
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(old)
        .bind(new)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// How many values of `col` start with one of `prefixes` (the envelope prefixes naming one
/// encryption key, `breeze_crypto::envelope::key_id_prefixes`): whether a key is still
/// needed before `secrets rotate encryption retire` removes it.
///
/// # Errors
/// [`StoreError`].
pub async fn count_with_prefix(
    tx: &mut ScopedTx,
    col: ColumnRef,
    prefixes: &[String],
) -> StoreResult<i64> {
    let (table, column) = (identifier(col.table)?, identifier(col.column)?);
    // `^@` (starts with), not LIKE: a key id may hold `_`, a LIKE wildcard
    let sql = format!(
        "SELECT count(*) FROM {table}
          WHERE {column} IS NOT NULL AND {column} ^@ ANY($1::text[])"
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(prefixes)
        .fetch_one(tx.conn())
        .await?)
}

/// When the system audit chain last recorded `secrets.rotate` of `kind` in `phase` for
/// `key_id` (the insertion time), if ever.
///
/// # Errors
/// [`StoreError`].
pub async fn last_rotation_at(
    tx: &mut ScopedTx,
    kind: &str,
    phase: &str,
    key_id: &str,
) -> StoreResult<Option<time::OffsetDateTime>> {
    Ok(sqlx::query_scalar(
        "SELECT max(inserted_at) FROM audit_log
          WHERE chain_key = 'system' AND action = 'secrets.rotate'
            AND resource_type = 'secret' AND resource_id = $1
            AND (entry::jsonb) #>> '{event,details,phase}' = $2
            AND (entry::jsonb) #>> '{event,details,keyId}' = $3",
    )
    .bind(kind)
    .bind(phase)
    .bind(key_id)
    .fetch_one(tx.conn())
    .await?)
}

/// When the system audit chain last recorded `secrets.rotate` of `kind` in `phase`, whatever
/// the key id (the single-value kinds have none).
///
/// # Errors
/// [`StoreError`].
pub async fn last_phase_at(
    tx: &mut ScopedTx,
    kind: &str,
    phase: &str,
) -> StoreResult<Option<time::OffsetDateTime>> {
    Ok(sqlx::query_scalar(
        "SELECT max(inserted_at) FROM audit_log
          WHERE chain_key = 'system' AND action = 'secrets.rotate'
            AND resource_type = 'secret' AND resource_id = $1
            AND (entry::jsonb) #>> '{event,details,phase}' = $2",
    )
    .bind(kind)
    .bind(phase)
    .fetch_one(tx.conn())
    .await?)
}

/// Enrollment keys still usable (not expired, uses left) and unused recovery codes made before
/// `before`: what a pepper retirement would invalidate.
///
/// # Errors
/// [`StoreError`].
pub async fn peppered_made_before(
    tx: &mut ScopedTx,
    before: time::OffsetDateTime,
) -> StoreResult<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM enrollment_keys
                  WHERE created_at < $1 AND expires_at > now() AND usage_count < max_usage),
                (SELECT count(*) FROM mfa_recovery_codes
                  WHERE created_at < $1 AND used_at IS NULL)",
    )
    .bind(before)
    .fetch_one(tx.conn())
    .await?)
}
