//! Session management storage (SPEC 16): a user's live login sessions (refresh families)
//! and their revocation, one or all but one. Every query names the user the session must
//! belong to, so a family id of someone else reads and revokes nothing. The table is
//! auth-internal: callers use a system-scope transaction, as the auth flows do.

use breeze_core::tenancy::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::{ScopedTx, StoreResult};

/// The most sessions one list answers (the newest ones).
pub const MAX_LISTED_SESSIONS: i64 = 100;

/// A live session (a refresh family neither revoked nor expired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The family id (the access token's `sid`).
    pub id: Uuid,
    /// Login time.
    pub created_at: OffsetDateTime,
    /// Login or last refresh rotation; `None` for sessions opened before it was recorded.
    pub last_used_at: Option<OffsetDateTime>,
    /// Client address at login.
    pub ip: Option<String>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
}

/// `id, created_at, last_used_at, host(ip), user_agent`.
type SessionTuple = (
    Uuid,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<String>,
    Option<String>,
);

/// The live sessions of `user` at `now`, newest first, at most `limit` of them.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn live_sessions(
    tx: &mut ScopedTx,
    user: UserId,
    now: OffsetDateTime,
    limit: i64,
) -> StoreResult<Vec<SessionRow>> {
    let rows: Vec<SessionTuple> = sqlx::query_as(
        "SELECT id, created_at, last_used_at, host(ip), user_agent FROM refresh_families
              WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
              ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(user.as_uuid())
    .bind(now)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, created_at, last_used_at, ip, user_agent)| SessionRow {
                id,
                created_at,
                last_used_at,
                ip,
                user_agent,
            },
        )
        .collect())
}

/// Revokes live session `family` of `user`; `false` when `user` has no such live session
/// (unknown id, another user's, already revoked or expired): nothing changes then.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn revoke_live_session(
    tx: &mut ScopedTx,
    family: Uuid,
    user: UserId,
    reason: &str,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let revoked: Option<Uuid> = sqlx::query_scalar(
        "UPDATE refresh_families SET revoked_at = $4, revoked_reason = $3
          WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $4
         RETURNING id",
    )
    .bind(family)
    .bind(user.as_uuid())
    .bind(reason)
    .bind(now)
    .fetch_optional(tx.conn())
    .await?;
    Ok(revoked.is_some())
}

/// Revokes every live session of `user` except `keep`; returns the revoked ids.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn revoke_live_sessions_except(
    tx: &mut ScopedTx,
    user: UserId,
    keep: Option<Uuid>,
    reason: &str,
    now: OffsetDateTime,
) -> StoreResult<Vec<Uuid>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE refresh_families SET revoked_at = $4, revoked_reason = $3
          WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $4
            AND ($2::uuid IS NULL OR id <> $2)
         RETURNING id",
    )
    .bind(user.as_uuid())
    .bind(keep)
    .bind(reason)
    .bind(now)
    .fetch_all(tx.conn())
    .await?;
    Ok(ids)
}

/// Records that session `family` was used at `now` (a refresh rotation).
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn touch_session(
    tx: &mut ScopedTx,
    family: Uuid,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("UPDATE refresh_families SET last_used_at = $2 WHERE id = $1")
        .bind(family)
        .bind(now)
        .execute(tx.conn())
        .await?;
    Ok(())
}
