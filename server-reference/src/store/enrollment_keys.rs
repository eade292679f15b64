//! Enrollment keys (SPEC 8.1): org + site, name, optional per-key secret, usage limit and
//! expiry. The key (64 hex) and the secret are stored only as peppered hashes (SPEC 3.2).

use breeze_core::tenancy::{EnrollmentKeyId, OrgId, SiteId, UserId};
use breeze_crypto::credentials::{EnrollmentKey, Pepper};
use time::OffsetDateTime;

use super::page::{Page, fetch_page};
use super::rows::fetch_by_id;
use super::{ScopedTx, StoreError, StoreResult};

/// Most uses a key may allow.
pub const MAX_USAGE: i32 = 100_000;
/// Default lifetime in minutes.
pub const DEFAULT_EXPIRES_MINUTES: i64 = 60;
/// Longest lifetime in minutes (one year).
pub const MAX_EXPIRES_MINUTES: i64 = 525_600;

/// An enrollment key (never its hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EnrollmentKeyView {
    /// Id.
    pub id: EnrollmentKeyId,
    /// Organization.
    pub org_id: OrgId,
    /// Site enrolled devices land in.
    pub site_id: SiteId,
    /// Name.
    pub name: String,
    /// Most uses.
    pub max_usage: i32,
    /// Uses so far.
    pub usage_count: i32,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// Whether a per-key secret is required.
    pub has_secret: bool,
    /// Creator.
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: OffsetDateTime,
}

const COLS: &str = "id, org_id, site_id, name, max_usage, usage_count, expires_at, \
     secret_hash IS NOT NULL AS has_secret, created_by, created_at";

/// A page of the keys of `org` (only those of sites the context reaches).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_enrollment_keys(
    tx: &mut ScopedTx,
    org: OrgId,
    page: Page,
) -> StoreResult<Vec<EnrollmentKeyView>> {
    let select = format!("SELECT {COLS} FROM enrollment_keys WHERE org_id = $1");
    fetch_page(tx, &select, 1, |q| q.bind(org), page).await
}

/// A key.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn get_enrollment_key(
    tx: &mut ScopedTx,
    id: EnrollmentKeyId,
) -> StoreResult<Option<EnrollmentKeyView>> {
    fetch_by_id(
        tx,
        &format!("SELECT {COLS} FROM enrollment_keys WHERE id = $1"),
        id,
    )
    .await
}

/// What a new enrollment key is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnrollmentKey<'a> {
    /// Organization.
    pub org_id: OrgId,
    /// Site (of that organization).
    pub site_id: SiteId,
    /// Name (1..=200 characters).
    pub name: &'a str,
    /// 1..=100000 uses.
    pub max_usage: i32,
    /// Expiry (the caller bounds it: default 60 minutes, at most a year).
    pub expires_at: OffsetDateTime,
    /// The creator, when a user creates it.
    pub created_by: Option<UserId>,
}

/// A created key: its row and the raw key, to be shown once.
#[derive(Debug)]
pub struct CreatedEnrollmentKey {
    /// The stored row.
    pub view: EnrollmentKeyView,
    /// The raw key (64 hex); never stored.
    pub key: EnrollmentKey,
}

/// Generates and stores an enrollment key (peppered hash only) in `tx`; reused by the CLI
/// (`enrollment-key create`). `secret`, when given, is stored as a peppered hash too:
/// `secret_hash = Pepper::hash(secret)` (`sha256_hex(PEPPER + ":" + secret)`), which
/// enrollment compares in constant time.
/// The caller appends the `enrollment_key.create` audit event in the same transaction.
///
/// # Errors
/// [`StoreError::Invalid`] for a usage limit outside 1..=100000; [`StoreError::Audit`]
/// when no random key can be made; [`StoreError::Denied`] when the site is out of reach;
/// [`StoreError::Invalid`] (`reference`) when the site is not of the organization.
pub async fn create_enrollment_key(
    tx: &mut ScopedTx,
    pepper: &Pepper,
    new: &NewEnrollmentKey<'_>,
    secret: Option<&secrecy::SecretString>,
) -> StoreResult<CreatedEnrollmentKey> {
    if !(1..=MAX_USAGE).contains(&new.max_usage) {
        return Err(StoreError::invalid("maxUsage", "must be 1 to 100000"));
    }
    let key = EnrollmentKey::generate().map_err(|e| StoreError::Audit(e.to_string()))?;
    let key_hash = key.peppered_hash(pepper).to_hex();
    let secret_hash = secret.map(|s| {
        pepper
            .hash(secrecy::ExposeSecret::expose_secret(s))
            .to_hex()
    });
    let sql = format!(
        "INSERT INTO enrollment_keys (id, org_id, site_id, name, key_hash, secret_hash,
                                      max_usage, expires_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLS}"
    );
    let view: EnrollmentKeyView = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(EnrollmentKeyId::new_random())
        .bind(new.org_id)
        .bind(new.site_id)
        .bind(new.name)
        .bind(key_hash)
        .bind(secret_hash)
        .bind(new.max_usage)
        .bind(new.expires_at)
        .bind(new.created_by)
        .fetch_one(tx.conn())
        .await?;
    Ok(CreatedEnrollmentKey { view, key })
}

/// Deletes a key.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such key in reach.
pub async fn delete_enrollment_key(tx: &mut ScopedTx, id: EnrollmentKeyId) -> StoreResult<()> {
    let done = sqlx::query("DELETE FROM enrollment_keys WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
