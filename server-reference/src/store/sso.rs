//! SSO storage (SPEC 16): providers (tenant rows under RLS; the client secret an `enc:v3`
//! envelope this module never opens), logins in flight (system scope; the state and nonce
//! only as SHA-256, the PKCE verifier sealed, consumed once) and linked identities.

use breeze_core::tenancy::{OrgId, PartnerId, UserId};
use serde_json::Value;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::page::{Page, fetch_page};
use super::{ScopedTx, StoreResult};

/// One provider row.
#[derive(Clone, FromRow)]
pub struct ProviderRow {
    /// Id.
    pub id: Uuid,
    /// Partner (always set; for an organization-level provider, the organization's).
    pub partner_id: PartnerId,
    /// Organization (organization-level providers).
    pub org_id: Option<OrgId>,
    /// Display name.
    pub name: String,
    /// Issuer URL, exactly as configured.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// `enc:v3` envelope of the client secret.
    pub client_secret: String,
    /// Requested scopes.
    pub scopes: String,
    /// Just-in-time membership (JSON of a membership body).
    pub jit_membership: Option<Value>,
    /// Password login refused for covered users.
    pub enforce_sso: bool,
    /// Logins allowed.
    pub enabled: bool,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Updated.
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for ProviderRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderRow")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, partner_id, org_id, name, issuer, client_id, client_secret, scopes, \
                       jit_membership, enforce_sso, enabled, created_at, updated_at";

/// A new provider.
pub struct NewProvider<'a> {
    /// Id.
    pub id: Uuid,
    /// Partner.
    pub partner_id: PartnerId,
    /// Organization, for an organization-level provider.
    pub org_id: Option<OrgId>,
    /// Name.
    pub name: &'a str,
    /// Issuer.
    pub issuer: &'a str,
    /// Client id.
    pub client_id: &'a str,
    /// Sealed client secret.
    pub client_secret: &'a str,
    /// Scopes.
    pub scopes: &'a str,
    /// JIT membership.
    pub jit_membership: Option<&'a Value>,
    /// Enforce SSO.
    pub enforce_sso: bool,
    /// Creator.
    pub created_by: Option<UserId>,
}

/// Inserts a provider (RLS: the caller's reach).
///
/// # Errors
/// [`super::StoreError::Duplicate`] when the tenant level already has one.
pub async fn insert(tx: &mut ScopedTx, p: &NewProvider<'_>) -> StoreResult<ProviderRow> {
    let sql = format!(
        "INSERT INTO sso_providers (id, partner_id, org_id, name, issuer, client_id, client_secret,
                                    scopes, jit_membership, enforce_sso, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(p.id)
        .bind(p.partner_id)
        .bind(p.org_id)
        .bind(p.name)
        .bind(p.issuer)
        .bind(p.client_id)
        .bind(p.client_secret)
        .bind(p.scopes)
        .bind(p.jit_membership)
        .bind(p.enforce_sso)
        .bind(p.created_by)
        .fetch_one(tx.conn())
        .await?)
}

/// One provider visible in this context.
///
/// # Errors
/// Database errors.
pub async fn get(tx: &mut ScopedTx, id: Uuid) -> StoreResult<Option<ProviderRow>> {
    let sql = format!("SELECT {COLUMNS} FROM sso_providers WHERE id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?)
}

/// A page of the providers visible in this context, optionally of one partner.
///
/// # Errors
/// Database errors.
pub async fn list(
    tx: &mut ScopedTx,
    partner: Option<PartnerId>,
    page: Page,
) -> StoreResult<Vec<ProviderRow>> {
    let select =
        format!("SELECT {COLUMNS} FROM sso_providers WHERE ($1::uuid IS NULL OR partner_id = $1)");
    fetch_page(tx, &select, 1, |q| q.bind(partner), page).await
}

/// The changed fields of a provider (`None` = unchanged).
#[derive(Default)]
pub struct ProviderChange<'a> {
    /// Name.
    pub name: Option<&'a str>,
    /// Client id.
    pub client_id: Option<&'a str>,
    /// Sealed client secret.
    pub client_secret: Option<&'a str>,
    /// Scopes.
    pub scopes: Option<&'a str>,
    /// JIT membership (`Some(None)` turns provisioning off).
    pub jit_membership: Option<Option<&'a Value>>,
    /// Enforce SSO.
    pub enforce_sso: Option<bool>,
    /// Enabled.
    pub enabled: Option<bool>,
}

/// Applies a change (RLS: the caller's reach); `None` when the row is not visible.
///
/// # Errors
/// Database errors.
pub async fn update(
    tx: &mut ScopedTx,
    id: Uuid,
    c: &ProviderChange<'_>,
) -> StoreResult<Option<ProviderRow>> {
    let sql = format!(
        "UPDATE sso_providers SET
            name = coalesce($2, name),
            client_id = coalesce($3, client_id),
            client_secret = coalesce($4, client_secret),
            scopes = coalesce($5, scopes),
            jit_membership = CASE WHEN $6 THEN $7 ELSE jit_membership END,
            enforce_sso = coalesce($8, enforce_sso),
            enabled = coalesce($9, enabled),
            updated_at = now()
          WHERE id = $1 RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(c.name)
        .bind(c.client_id)
        .bind(c.client_secret)
        .bind(c.scopes)
        .bind(c.jit_membership.is_some())
        .bind(c.jit_membership.flatten())
        .bind(c.enforce_sso)
        .bind(c.enabled)
        .fetch_optional(tx.conn())
        .await?)
}

/// Deletes a provider with its logins in flight and linked identities (RLS: the caller's
/// reach); `false` when the row is not visible.
///
/// # Errors
/// Database errors.
pub async fn delete(tx: &mut ScopedTx, id: Uuid) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM sso_providers WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether password login is refused for a user whose home is `partner` / `org`: an
/// enabled provider with `enforce_sso` at the organization or at the partner level.
/// System scope (the login flow).
///
/// # Errors
/// Database errors.
pub async fn enforced_for(
    tx: &mut ScopedTx,
    partner: Option<PartnerId>,
    org: Option<OrgId>,
) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sso_providers
                         WHERE enabled AND enforce_sso
                           AND ((org_id IS NULL AND partner_id = $1) OR org_id = $2))",
    )
    .bind(partner)
    .bind(org)
    .fetch_one(tx.conn())
    .await?)
}

/// A login in flight.
pub struct NewAttempt<'a> {
    /// Id.
    pub id: Uuid,
    /// Provider.
    pub provider_id: Uuid,
    /// SHA-256 hex of the state.
    pub state_hash: &'a str,
    /// SHA-256 hex of the nonce.
    pub nonce_hash: &'a str,
    /// Sealed PKCE verifier.
    pub code_verifier: &'a str,
    /// Expiry.
    pub expires_at: OffsetDateTime,
}

/// Records a login in flight, after removing expired ones (system scope).
///
/// # Errors
/// Database errors.
pub async fn insert_attempt(
    tx: &mut ScopedTx,
    a: &NewAttempt<'_>,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM sso_login_attempts WHERE expires_at < $1 - interval '1 hour'")
        .bind(now)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO sso_login_attempts (id, provider_id, state_hash, nonce_hash, code_verifier, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(a.id)
    .bind(a.provider_id)
    .bind(a.state_hash)
    .bind(a.nonce_hash)
    .bind(a.code_verifier)
    .bind(a.expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A login in flight, read back by its state.
#[derive(FromRow)]
pub struct AttemptRow {
    /// Id.
    pub id: Uuid,
    /// Provider.
    pub provider_id: Uuid,
    /// SHA-256 hex of the nonce.
    pub nonce_hash: String,
    /// Sealed PKCE verifier.
    pub code_verifier: String,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// When it was used.
    pub consumed_at: Option<OffsetDateTime>,
}

/// Consumes the login whose state hashes to `state_hash`: marks it used and returns it as it
/// was (a second consumption sees `consumed_at` set). System scope.
///
/// # Errors
/// Database errors.
pub async fn consume_attempt(
    tx: &mut ScopedTx,
    state_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<AttemptRow>> {
    Ok(sqlx::query_as(
        "WITH prior AS (SELECT id, consumed_at FROM sso_login_attempts
                         WHERE state_hash = $1 FOR UPDATE)
         UPDATE sso_login_attempts a SET consumed_at = coalesce(a.consumed_at, $2)
           FROM prior WHERE a.id = prior.id
         RETURNING a.id, a.provider_id, a.nonce_hash, a.code_verifier, a.expires_at,
                   prior.consumed_at",
    )
    .bind(state_hash)
    .bind(now)
    .fetch_optional(tx.conn())
    .await?)
}

/// The user linked to `subject` at `provider` (system scope).
///
/// # Errors
/// Database errors.
pub async fn identity(
    tx: &mut ScopedTx,
    provider: Uuid,
    subject: &str,
) -> StoreResult<Option<UserId>> {
    Ok(sqlx::query_scalar(
        "SELECT user_id FROM sso_identities WHERE provider_id = $1 AND subject = $2",
    )
    .bind(provider)
    .bind(subject)
    .fetch_optional(tx.conn())
    .await?)
}

/// Links `subject` at `provider` to `user` (system scope); `false` when the user is already
/// linked to another subject of that provider.
///
/// # Errors
/// Database errors.
pub async fn link_identity(
    tx: &mut ScopedTx,
    provider: Uuid,
    subject: &str,
    user: UserId,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO sso_identities (provider_id, subject, user_id, last_login_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(provider)
    .bind(subject)
    .bind(user)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a login through a linked identity (system scope).
///
/// # Errors
/// Database errors.
pub async fn touch_identity(
    tx: &mut ScopedTx,
    provider: Uuid,
    subject: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE sso_identities SET last_login_at = $3 WHERE provider_id = $1 AND subject = $2",
    )
    .bind(provider)
    .bind(subject)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A user's home and standing, as SSO matching needs them.
#[derive(Debug, FromRow)]
pub struct UserHome {
    /// Id.
    pub id: UserId,
    /// Home partner.
    pub partner_id: Option<PartnerId>,
    /// Home organization.
    pub org_id: Option<OrgId>,
    /// `status = active`.
    pub active: bool,
    /// Holds an active platform (system) membership.
    pub platform_admin: bool,
}

const HOME: &str = "SELECT u.id, u.partner_id, u.org_id, u.status = 'active' AS active,
                           EXISTS (SELECT 1 FROM system_memberships s
                                    WHERE s.user_id = u.id AND s.active) AS platform_admin
                      FROM users u";

/// A user's home by id (system scope).
///
/// # Errors
/// Database errors.
pub async fn user_home(tx: &mut ScopedTx, user: UserId) -> StoreResult<Option<UserHome>> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{HOME} WHERE u.id = $1")))
            .bind(user)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// A user's home by normalised e-mail (system scope).
///
/// # Errors
/// Database errors.
pub async fn user_home_by_email(tx: &mut ScopedTx, email: &str) -> StoreResult<Option<UserHome>> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{HOME} WHERE u.email = $1")))
            .bind(email)
            .fetch_optional(tx.conn())
            .await?,
    )
}
