//! The profile `users/me` shows.

use breeze_core::tenancy::UserId;
use time::OffsetDateTime;

use crate::store::{ScopedTx, StoreError, StoreResult};

/// The profile fields `users/me` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Display name.
    pub name: String,
    /// Last successful login.
    pub last_login_at: Option<OffsetDateTime>,
    /// Created.
    pub created_at: OffsetDateTime,
}

/// Loads the profile of `user`.
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown (or invisible) user.
pub async fn profile(tx: &mut ScopedTx, user: UserId) -> StoreResult<Profile> {
    let row: Option<(String, Option<OffsetDateTime>, OffsetDateTime)> =
        sqlx::query_as("SELECT name, last_login_at, created_at FROM users WHERE id = $1")
            .bind(user.as_uuid())
            .fetch_optional(tx.conn())
            .await?;
    let (name, last_login_at, created_at) = row.ok_or(StoreError::NotFound)?;
    Ok(Profile {
        name,
        last_login_at,
        created_at,
    })
}
