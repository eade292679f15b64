//! Authentication storage (SPEC 2.1 to 2.4, 3): login lookups and lockout backstop,
//! refresh families and tokens, MFA secrets, steps, challenges and recovery codes, password
//! resets and the notification outbox.
//!
//! Every function runs inside a [`ScopedTx`]; the auth flows open a system-scope one
//! (`begin_system`) because no user is authenticated yet (or the tables are auth-internal).
//! Single-use credentials (refresh `jti`, recovery code, reset token, MFA challenge) and the
//! TOTP step are consumed with one conditional `UPDATE ... RETURNING`, so two concurrent
//! requests cannot both succeed. Times that tests move with the server clock are bound as
//! parameters (`now`) instead of reading PostgreSQL's `now()`.

use breeze_core::tenancy::{OrgId, PartnerId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ScopedTx, StoreError, StoreResult};

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

// ---------------------------------------------------------------------------------------
// Refresh families and tokens (SPEC 2.3)
// ---------------------------------------------------------------------------------------

/// Opens a refresh family (a login session).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn open_family(
    tx: &mut ScopedTx,
    family: Uuid,
    user: UserId,
    expires_at: OffsetDateTime,
    ip: Option<String>,
    user_agent: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_families (id, user_id, expires_at, ip, user_agent)
         VALUES ($1, $2, $3, $4::inet, $5)",
    )
    .bind(family)
    .bind(user.as_uuid())
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

/// The durable outcome of burning a refresh `jti`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurableBurn {
    /// First use: burned now.
    Fresh,
    /// Already burned at this time.
    Used(OffsetDateTime),
    /// No such token in this family (never issued, or another family's).
    Unknown,
}

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

// ---------------------------------------------------------------------------------------
// MFA (SPEC 2.4)
// ---------------------------------------------------------------------------------------

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
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn consume_recovery_code(
    tx: &mut ScopedTx,
    user: UserId,
    code_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE mfa_recovery_codes SET used_at = $3
          WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user.as_uuid())
    .bind(code_hash)
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
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO mfa_challenges (id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(user.as_uuid())
    .bind(token_hash)
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// A live (unused, unexpired) challenge found by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Id.
    pub id: Uuid,
    /// The user who passed the password step.
    pub user_id: UserId,
    /// Stored hash (hex), compared in constant time by the caller.
    pub token_hash: String,
}

/// Finds a live challenge by token hash.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn live_mfa_challenge(
    tx: &mut ScopedTx,
    token_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<Challenge>> {
    let row: Option<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT id, user_id, token_hash FROM mfa_challenges
          WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|(id, user, token_hash)| Challenge {
        id,
        user_id: UserId::from_uuid(user),
        token_hash,
    }))
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
    let done = sqlx::query(
        "UPDATE mfa_challenges SET used_at = $2
          WHERE id = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(id)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---------------------------------------------------------------------------------------
// Password resets
// ---------------------------------------------------------------------------------------

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
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO password_resets (id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(user.as_uuid())
    .bind(token_hash)
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// A password-reset row found by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRow {
    /// Id.
    pub id: Uuid,
    /// User.
    pub user_id: UserId,
    /// Stored hash (hex).
    pub token_hash: String,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// Whether it was used.
    pub used: bool,
}

/// Finds a reset by token hash.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn password_reset_by_hash(
    tx: &mut ScopedTx,
    token_hash: &str,
) -> StoreResult<Option<ResetRow>> {
    let row: Option<(Uuid, Uuid, String, OffsetDateTime, bool)> = sqlx::query_as(
        "SELECT id, user_id, token_hash, expires_at, used_at IS NOT NULL
           FROM password_resets WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(tx.conn())
    .await?;
    Ok(
        row.map(|(id, user, token_hash, expires_at, used)| ResetRow {
            id,
            user_id: UserId::from_uuid(user),
            token_hash,
            expires_at,
            used,
        }),
    )
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
    let done = sqlx::query(
        "UPDATE password_resets SET used_at = $2
          WHERE id = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(id)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
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
