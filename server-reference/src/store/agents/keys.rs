//! A device's public key (SPEC 17): the one-time registration and the signed rotation,
//! both compare-and-set on the stored key.

use breeze_core::tenancy::DeviceId;

use crate::store::{ScopedTx, StoreResult};

/// Binds `key` to `device` if it has none. `false` when a key is already registered (or
/// the device has no credentials).
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn register_key(tx: &mut ScopedTx, device: DeviceId, key: &str) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE device_credentials SET public_key = $2, key_bound_at = now(), updated_at = now()
          WHERE device_id = $1 AND public_key IS NULL",
    )
    .bind(device.as_uuid())
    .bind(key)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces `device`'s key `old` by `new`. `false` when the stored key is no longer `old`
/// (a concurrent rotation won).
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn rotate_key(
    tx: &mut ScopedTx,
    device: DeviceId,
    old: &str,
    new: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE device_credentials SET public_key = $3, key_bound_at = now(), updated_at = now()
          WHERE device_id = $1 AND public_key = $2",
    )
    .bind(device.as_uuid())
    .bind(old)
    .bind(new)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
