//! Password storage (SPEC 2.1, 3): rehash and change, the auth epoch, password-reset tokens
//! (through [`super::one_time`]) and the notification outbox.

use breeze_core::tenancy::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use super::one_time::{self, OneTimeKind, OneTimeRow};
use crate::store::{ScopedTx, StoreError, StoreResult};

/// Replaces the stored hash of an unchanged password (rehash with stronger parameters):
/// no epoch bump, no `password_changed_at` change. Only replaces `old_hash` (compare-and-set).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn rehash_password(
    tx: &mut ScopedTx,
    user: UserId,
    old_hash: &str,
    new_hash: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2")
        .bind(user.as_uuid())
        .bind(old_hash)
        .bind(new_hash)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Sets a new password: hash, `password_changed_at = now`, auth epoch + 1 (every session
/// of the user ends), clears the lockout backstop.
///
/// # Errors
/// [`StoreError::NotFound`] when the user does not exist.
pub async fn set_password(
    tx: &mut ScopedTx,
    user: UserId,
    new_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE users SET password_hash = $2, password_changed_at = $3,
                auth_epoch = auth_epoch + 1, failed_logins = 0, locked_until = NULL,
                updated_at = now()
          WHERE id = $1",
    )
    .bind(user.as_uuid())
    .bind(new_hash)
    .bind(now)
    .execute(tx.conn())
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// Bumps the auth epoch: every access and refresh token of the user stops verifying.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn bump_auth_epoch(tx: &mut ScopedTx, user: UserId) -> StoreResult<()> {
    sqlx::query("UPDATE users SET auth_epoch = auth_epoch + 1, updated_at = now() WHERE id = $1")
        .bind(user.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Stores a password-reset token hash.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn create_password_reset(
    tx: &mut ScopedTx,
    user: UserId,
    token_hash: &str,
    expires_at: OffsetDateTime,
) -> StoreResult<Uuid> {
    one_time::create(tx, OneTimeKind::PasswordReset, user, token_hash, expires_at).await
}

/// Finds a reset by token hash (used or expired ones too: the caller tells them apart).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn password_reset_by_hash(
    tx: &mut ScopedTx,
    token_hash: &str,
) -> StoreResult<Option<OneTimeRow>> {
    one_time::find(tx, OneTimeKind::PasswordReset, token_hash).await
}

/// Consumes a reset exactly once (unused and unexpired at `now`); `false` otherwise.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn consume_password_reset(
    tx: &mut ScopedTx,
    id: Uuid,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    one_time::consume(tx, OneTimeKind::PasswordReset, id, now).await
}

/// Appends an (already encrypted) message to the notification outbox.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn insert_notification(
    tx: &mut ScopedTx,
    user: Option<UserId>,
    kind: &str,
    recipient: &str,
    body_envelope: &str,
) -> StoreResult<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO notification_outbox (id, user_id, kind, recipient, body)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(user.map(|u| *u.as_uuid()))
    .bind(kind)
    .bind(recipient)
    .bind(body_envelope)
    .execute(tx.conn())
    .await?;
    Ok(id)
}
