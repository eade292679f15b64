//! Token rotation (SPEC 8.3): stage and confirm, each a compare-and-set on the hash it
//! expects.

use breeze_core::tenancy::DeviceId;
use time::OffsetDateTime;

use super::TokenHashes;
use crate::store::{ScopedTx, StoreResult};

/// Phase 1 of rotation: stages `new` as pending until `expires`, only while the current
/// agent hash is still `current` (compare-and-set). `false` when it is not.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn stage_rotation(
    tx: &mut ScopedTx,
    device: DeviceId,
    current: &str,
    new: &TokenHashes,
    expires: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE device_credentials SET agent_pending_hash = $3, watchdog_pending_hash = $4,
                helper_pending_hash = $5, pending_expires_at = $6, updated_at = now()
          WHERE device_id = $1 AND agent_hash = $2 AND NOT suspended",
    )
    .bind(device.as_uuid())
    .bind(current)
    .bind(&new.agent)
    .bind(&new.watchdog)
    .bind(&new.helper)
    .bind(expires)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Phase 2: promotes the pending tokens whose agent hash is `pending` (compare-and-set,
/// unexpired at `now`); the current ones become previous until `grace_until`. `false` when nothing
/// matching is staged.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn confirm_rotation(
    tx: &mut ScopedTx,
    device: DeviceId,
    pending: &str,
    now: OffsetDateTime,
    grace_until: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE device_credentials SET
                agent_previous_hash = agent_hash, watchdog_previous_hash = watchdog_hash,
                helper_previous_hash = helper_hash, previous_grace_until = $3,
                agent_hash = agent_pending_hash, watchdog_hash = watchdog_pending_hash,
                helper_hash = helper_pending_hash,
                agent_pending_hash = NULL, watchdog_pending_hash = NULL,
                helper_pending_hash = NULL, pending_expires_at = NULL,
                rotation_due_at = now() + interval '30 days', updated_at = now()
          WHERE device_id = $1 AND agent_pending_hash = $2 AND pending_expires_at > $4
            AND NOT suspended",
    )
    .bind(device.as_uuid())
    .bind(pending)
    .bind(grace_until)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
