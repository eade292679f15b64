//! One-time tokens, written once for every kind (SPEC 2.4 MFA login challenges, SPEC 3
//! password resets): only the token's hash is stored, looked up by hash (the caller compares
//! in constant time), and consumed exactly once with one conditional `UPDATE` (unused and
//! unexpired at `now`), so two concurrent requests cannot both succeed.

use breeze_core::tenancy::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::{ScopedTx, StoreResult};

/// The kinds of one-time token, each in its own table of the same shape
/// (`id, user_id, token_hash, expires_at, used_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneTimeKind {
    /// The second step of a login with MFA.
    MfaChallenge,
    /// A password reset sent by e-mail.
    PasswordReset,
}

impl OneTimeKind {
    /// The table of the kind (a fixed name, never input).
    const fn table(self) -> &'static str {
        match self {
            Self::MfaChallenge => "mfa_challenges",
            Self::PasswordReset => "password_resets",
        }
    }
}

/// A one-time token found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeRow {
    /// Id.
    pub id: Uuid,
    /// The user it was issued to.
    pub user_id: UserId,
    /// Stored hash (hex), compared in constant time by the caller.
    pub token_hash: String,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// Whether it was used.
    pub used: bool,
}

impl OneTimeRow {
    /// Unused and unexpired at `now`.
    #[must_use]
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        !self.used && self.expires_at > now
    }
}

/// Stores a token of `kind` for `user` (its hash only); returns its id.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn create(
    tx: &mut ScopedTx,
    kind: OneTimeKind,
    user: UserId,
    token_hash: &str,
    expires_at: OffsetDateTime,
) -> StoreResult<Uuid> {
    let id = Uuid::new_v4();
    let sql = format!(
        "INSERT INTO {} (id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)",
        kind.table()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(user.as_uuid())
        .bind(token_hash)
        .bind(expires_at)
        .execute(tx.conn())
        .await?;
    Ok(id)
}

/// Finds a token of `kind` by hash, used or expired ones too.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn find(
    tx: &mut ScopedTx,
    kind: OneTimeKind,
    token_hash: &str,
) -> StoreResult<Option<OneTimeRow>> {
    let sql = format!(
        "SELECT id, user_id, token_hash, expires_at, used_at IS NOT NULL
           FROM {} WHERE token_hash = $1",
        kind.table()
    );
    let row: Option<(Uuid, Uuid, String, OffsetDateTime, bool)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(tx.conn())
            .await?;
    Ok(
        row.map(|(id, user, token_hash, expires_at, used)| OneTimeRow {
            id,
            user_id: UserId::from_uuid(user),
            token_hash,
            expires_at,
            used,
        }),
    )
}

/// Consumes a token exactly once (unused and unexpired at `now`); `false` otherwise.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn consume(
    tx: &mut ScopedTx,
    kind: OneTimeKind,
    id: Uuid,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let sql = format!(
        "UPDATE {} SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > $2",
        kind.table()
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(now)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}
