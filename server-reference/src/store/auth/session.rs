//! Session storage (SPEC 2.1 to 2.3): login lookups and the lockout backstop, refresh
//! families and tokens. Single-use refresh `jti`s are burned with one conditional `UPDATE`,
//! so two concurrent refreshes cannot both succeed.

use breeze_core::tenancy::{OrgId, PartnerId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::{ScopedTx, StoreResult};

/// A user as the login flow needs it (includes the password hash: never log it).
#[derive(Clone)]
pub struct LoginUser {
    /// Id.
    pub id: UserId,
    /// E-mail (lowercase).
    pub email: String,
    /// `status = active`.
    pub active: bool,
    /// The PHC string.
    pub password_hash: String,
    /// MFA switched on.
    pub mfa_enabled: bool,
    /// Home partner.
    pub partner_id: Option<PartnerId>,
    /// Home organization.
    pub org_id: Option<OrgId>,
    /// Durable lockout backstop.
    pub locked_until: Option<OffsetDateTime>,
}

impl std::fmt::Debug for LoginUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginUser")
            .field("id", &self.id)
            .field("active", &self.active)
            .field("mfa_enabled", &self.mfa_enabled)
            .finish_non_exhaustive()
    }
}

type LoginRow = (
    Uuid,
    String,
    String,
    String,
    bool,
    Option<Uuid>,
    Option<Uuid>,
    Option<OffsetDateTime>,
);

fn login_user((id, email, status, hash, mfa, partner, org, locked): LoginRow) -> LoginUser {
    LoginUser {
        id: UserId::from_uuid(id),
        email,
        active: status == "active",
        password_hash: hash,
        mfa_enabled: mfa,
        partner_id: partner.map(PartnerId::from_uuid),
        org_id: org.map(OrgId::from_uuid),
        locked_until: locked,
    }
}

const LOGIN_COLUMNS: &str =
    "id, email, status, password_hash, mfa_enabled, partner_id, org_id, locked_until";

/// Finds a user by (lowercase) e-mail.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn login_user_by_email(tx: &mut ScopedTx, email: &str) -> StoreResult<Option<LoginUser>> {
    let sql = format!("SELECT {LOGIN_COLUMNS} FROM users WHERE email = $1");
    let row: Option<LoginRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(email)
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.map(login_user))
}

/// Loads a user by id with the password hash (step-up checks).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn login_user_by_id(tx: &mut ScopedTx, id: UserId) -> StoreResult<Option<LoginUser>> {
    let sql = format!("SELECT {LOGIN_COLUMNS} FROM users WHERE id = $1");
    let row: Option<LoginRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.as_uuid())
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.map(login_user))
}

/// Counts a failed login durably; `lock_until` also locks the account until then.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn record_login_failure(
    tx: &mut ScopedTx,
    user: UserId,
    lock_until: Option<OffsetDateTime>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE users SET failed_logins = failed_logins + 1,
                locked_until = coalesce($2, locked_until), updated_at = now()
          WHERE id = $1",
    )
    .bind(user.as_uuid())
    .bind(lock_until)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Clears the durable failure count and lock, and records the login time.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn record_login_success(
    tx: &mut ScopedTx,
    user: UserId,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = $2
          WHERE id = $1",
    )
    .bind(user.as_uuid())
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Opens a refresh family (a login session) at `now`: its creation and first use.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn open_family(
    tx: &mut ScopedTx,
    family: Uuid,
    user: UserId,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
    ip: Option<String>,
    user_agent: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_families (id, user_id, created_at, last_used_at, expires_at, ip, user_agent)
         VALUES ($1, $2, $3, $3, $4, $5::inet, $6)",
    )
    .bind(family)
    .bind(user.as_uuid())
    .bind(now)
    .bind(expires_at)
    .bind(ip)
    .bind(user_agent)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records an issued refresh token.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn record_refresh_token(
    tx: &mut ScopedTx,
    jti: Uuid,
    family: Uuid,
    user: UserId,
    issued_at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (jti, family_id, user_id, issued_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(jti)
    .bind(family)
    .bind(user.as_uuid())
    .bind(issued_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A family's durable state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyState {
    /// Revoked (logout, reuse, password change).
    pub revoked: bool,
    /// Absolute expiry.
    pub expires_at: OffsetDateTime,
}

/// Loads family `family` of `user`.
///
/// # Errors
/// [`StoreError`] on database failure; `Ok(None)` for an unknown family.
pub async fn family_state(
    tx: &mut ScopedTx,
    family: Uuid,
    user: UserId,
) -> StoreResult<Option<FamilyState>> {
    let row: Option<(bool, OffsetDateTime)> = sqlx::query_as(
        "SELECT revoked_at IS NOT NULL, expires_at FROM refresh_families
          WHERE id = $1 AND user_id = $2",
    )
    .bind(family)
    .bind(user.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|(revoked, expires_at)| FamilyState {
        revoked,
        expires_at,
    }))
}

pub use breeze_core::revocation::DurableBurn;

/// Burns `jti` durably: `UPDATE ... SET used_at = now WHERE used_at IS NULL`.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn burn_refresh_token(
    tx: &mut ScopedTx,
    jti: Uuid,
    family: Uuid,
    user: UserId,
    now: OffsetDateTime,
) -> StoreResult<DurableBurn> {
    let burned: Option<Uuid> = sqlx::query_scalar(
        "UPDATE refresh_tokens SET used_at = $4
          WHERE jti = $1 AND family_id = $2 AND user_id = $3 AND used_at IS NULL
         RETURNING jti",
    )
    .bind(jti)
    .bind(family)
    .bind(user.as_uuid())
    .bind(now)
    .fetch_optional(tx.conn())
    .await?;
    if burned.is_some() {
        return Ok(DurableBurn::Fresh);
    }
    let used: Option<Option<OffsetDateTime>> = sqlx::query_scalar(
        "SELECT used_at FROM refresh_tokens WHERE jti = $1 AND family_id = $2 AND user_id = $3",
    )
    .bind(jti)
    .bind(family)
    .bind(user.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    Ok(match used {
        Some(Some(at)) => DurableBurn::Used(at),
        // a row without used_at cannot exist here (the UPDATE would have burned it)
        Some(None) | None => DurableBurn::Unknown,
    })
}

/// Records which token replaced a burned one.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn set_replaced_by(tx: &mut ScopedTx, jti: Uuid, next: Uuid) -> StoreResult<()> {
    sqlx::query("UPDATE refresh_tokens SET replaced_by = $2 WHERE jti = $1")
        .bind(jti)
        .bind(next)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Revokes one family (idempotent: the first reason is kept).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn revoke_family(
    tx: &mut ScopedTx,
    family: Uuid,
    user: UserId,
    reason: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE refresh_families SET revoked_at = $4, revoked_reason = $3
          WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(family)
    .bind(user.as_uuid())
    .bind(reason)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Revokes every live family of `user`; returns their ids (to revoke in the cache too).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn revoke_all_families(
    tx: &mut ScopedTx,
    user: UserId,
    reason: &str,
    now: OffsetDateTime,
) -> StoreResult<Vec<Uuid>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE refresh_families SET revoked_at = $3, revoked_reason = $2
          WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
    )
    .bind(user.as_uuid())
    .bind(reason)
    .bind(now)
    .fetch_all(tx.conn())
    .await?;
    Ok(ids)
}
