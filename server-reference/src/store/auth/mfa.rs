//! MFA storage (SPEC 2.4): secrets (`mfa:v1` envelopes), the TOTP step, recovery codes and
//! login challenges (through [`super::one_time`]). The TOTP step and recovery codes are
//! consumed with one conditional `UPDATE`, so two concurrent requests cannot both succeed.

use breeze_core::tenancy::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use super::one_time::{self, OneTimeKind, OneTimeRow};
use crate::store::{ScopedTx, StoreError, StoreResult};

/// The MFA columns of a user (secrets are `mfa:v1` envelopes).
#[derive(Clone)]
pub struct MfaState {
    /// Switched on.
    pub enabled: bool,
    /// Active secret envelope.
    pub secret: Option<String>,
    /// Pending (unconfirmed) secret envelope.
    pub pending_secret: Option<String>,
    /// Last accepted TOTP step.
    pub last_step: Option<i64>,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
}

impl std::fmt::Debug for MfaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaState")
            .field("enabled", &self.enabled)
            .field("pending", &self.pending_secret.is_some())
            .finish_non_exhaustive()
    }
}

type MfaRow = (bool, Option<String>, Option<String>, Option<i64>, i64);

/// Loads a user's MFA state.
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown user.
pub async fn mfa_state(tx: &mut ScopedTx, user: UserId) -> StoreResult<MfaState> {
    let row: Option<MfaRow> = sqlx::query_as(
        "SELECT u.mfa_enabled, u.mfa_secret, u.mfa_pending_secret, u.mfa_last_step,
                (SELECT count(*) FROM mfa_recovery_codes c
                  WHERE c.user_id = u.id AND c.used_at IS NULL)
           FROM users u WHERE u.id = $1",
    )
    .bind(user.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    let (enabled, secret, pending_secret, last_step, left) = row.ok_or(StoreError::NotFound)?;
    Ok(MfaState {
        enabled,
        secret,
        pending_secret,
        last_step,
        recovery_codes_left: left,
    })
}

/// Stores a pending (unconfirmed) TOTP secret envelope.
///
/// # Errors
/// [`StoreError::Conflict`] (`mfa_already_enabled`) when MFA is already on.
pub async fn set_pending_secret(
    tx: &mut ScopedTx,
    user: UserId,
    envelope: &str,
) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE users SET mfa_pending_secret = $2, updated_at = now()
          WHERE id = $1 AND NOT mfa_enabled",
    )
    .bind(user.as_uuid())
    .bind(envelope)
    .execute(tx.conn())
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict("mfa_already_enabled"))
    }
}

/// Accepts TOTP `step` for `user` only if it is newer than the last accepted one
/// (compare-and-set); `false` = replay.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn advance_mfa_step(tx: &mut ScopedTx, user: UserId, step: i64) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE users SET mfa_last_step = $2
          WHERE id = $1 AND (mfa_last_step IS NULL OR mfa_last_step < $2)",
    )
    .bind(user.as_uuid())
    .bind(step)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Switches MFA on with the confirmed pending secret `pending` (compare-and-set: a setup
/// that replaced it in between makes this fail), records `step` as used, bumps the MFA
/// epoch and replaces the recovery codes with `code_hashes`.
///
/// # Errors
/// [`StoreError::Conflict`] (`mfa_setup_changed`) when the pending secret changed or MFA
/// is already on.
pub async fn enable_mfa(
    tx: &mut ScopedTx,
    user: UserId,
    pending: &str,
    step: i64,
    code_hashes: &[String],
) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE users SET mfa_enabled = true, mfa_secret = mfa_pending_secret,
                mfa_pending_secret = NULL, mfa_epoch = mfa_epoch + 1,
                mfa_last_step = greatest(coalesce(mfa_last_step, $3), $3), updated_at = now()
          WHERE id = $1 AND mfa_pending_secret = $2 AND NOT mfa_enabled",
    )
    .bind(user.as_uuid())
    .bind(pending)
    .bind(step)
    .execute(tx.conn())
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict("mfa_setup_changed"));
    }
    sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
        .bind(user.as_uuid())
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO mfa_recovery_codes (user_id, code_hash) SELECT $1, h FROM unnest($2::text[]) AS h",
    )
    .bind(user.as_uuid())
    .bind(code_hashes)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Consumes a recovery code exactly once; `false` when unknown or already used.
/// `code_hashes` are the code's hashes under every accepted pepper (a pepper roll keeps
/// codes made under the previous pepper usable, `PepperRing::hashes`).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn consume_recovery_code(
    tx: &mut ScopedTx,
    user: UserId,
    code_hashes: &[String],
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE mfa_recovery_codes SET used_at = $3
          WHERE user_id = $1 AND code_hash = ANY($2) AND used_at IS NULL",
    )
    .bind(user.as_uuid())
    .bind(code_hashes)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores an MFA login challenge (only its hash).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn create_mfa_challenge(
    tx: &mut ScopedTx,
    user: UserId,
    token_hash: &str,
    expires_at: OffsetDateTime,
) -> StoreResult<Uuid> {
    one_time::create(tx, OneTimeKind::MfaChallenge, user, token_hash, expires_at).await
}

/// Finds a live (unused, unexpired at `now`) challenge by token hash.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn live_mfa_challenge(
    tx: &mut ScopedTx,
    token_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<OneTimeRow>> {
    Ok(one_time::find(tx, OneTimeKind::MfaChallenge, token_hash)
        .await?
        .filter(|c| c.is_live(now)))
}

/// Consumes a challenge exactly once; `false` when it was already used or expired.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn consume_mfa_challenge(
    tx: &mut ScopedTx,
    id: Uuid,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    one_time::consume(tx, OneTimeKind::MfaChallenge, id, now).await
}
