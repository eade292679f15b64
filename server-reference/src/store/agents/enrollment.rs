//! Enrollment (SPEC 8.1): enrollment keys as enrollment reads them, the partner device
//! limit, re-enrollment candidates, held devices, new devices and their credentials.

use breeze_core::tenancy::{DeviceId, EnrollmentKeyId, OrgId, PartnerId, SiteId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::{ScopedTx, StoreResult};

/// An enrollment key found by its peppered hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentKeyRow {
    /// Key id.
    pub id: EnrollmentKeyId,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Partner of the organization.
    pub partner_id: PartnerId,
    /// Peppered hash of the per-key secret, if any (hex).
    pub secret_hash: Option<String>,
    /// Uses allowed.
    pub max_usage: i32,
    /// Uses so far.
    pub usage_count: i32,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// The partner's device limit.
    pub partner_max_devices: Option<i32>,
}

/// Looks an enrollment key up by its peppered hash (system scope); `hashes_hex` are the
/// key's hashes under every accepted pepper (`EnrollmentKey::peppered_hashes`), so a key
/// made before a pepper roll keeps working until the previous pepper is retired.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn enrollment_key_by_hash(
    tx: &mut ScopedTx,
    hashes_hex: &[String],
) -> StoreResult<Option<EnrollmentKeyRow>> {
    type Row = (
        EnrollmentKeyId,
        OrgId,
        SiteId,
        PartnerId,
        Option<String>,
        i32,
        i32,
        OffsetDateTime,
        Option<i32>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT k.id, k.org_id, k.site_id, o.partner_id, k.secret_hash, k.max_usage,
                k.usage_count, k.expires_at, p.max_devices
           FROM enrollment_keys k
           JOIN organizations o ON o.id = k.org_id
           JOIN partners p ON p.id = o.partner_id
          WHERE k.key_hash = ANY($1)
          LIMIT 1",
    )
    .bind(hashes_hex)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(
        |(id, org, site, partner, secret_hash, max_usage, usage_count, expires_at, max_devices)| {
            EnrollmentKeyRow {
                id,
                org_id: org,
                site_id: site,
                partner_id: partner,
                secret_hash,
                max_usage,
                usage_count,
                expires_at,
                partner_max_devices: max_devices,
            }
        },
    ))
}

/// Locks the partner's row until the end of the transaction (`FOR UPDATE`) and returns its
/// device limit as it is under the lock. Enrollment takes it before counting the partner's
/// devices, so concurrent enrollments of one partner are counted one after the other.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn lock_partner_limit(tx: &mut ScopedTx, partner: PartnerId) -> StoreResult<Option<i32>> {
    let limit: Option<Option<i32>> =
        sqlx::query_scalar("SELECT max_devices FROM partners WHERE id = $1 FOR UPDATE")
            .bind(partner.as_uuid())
            .fetch_optional(tx.conn())
            .await?;
    Ok(limit.flatten())
}

/// Counts the partner's devices that are not decommissioned.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn partner_device_count(tx: &mut ScopedTx, partner: PartnerId) -> StoreResult<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM devices d JOIN organizations o ON o.id = d.org_id
          WHERE o.partner_id = $1 AND d.status <> 'decommissioned'",
    )
    .bind(partner.as_uuid())
    .fetch_one(tx.conn())
    .await?;
    Ok(n)
}

/// Atomically claims one use of an enrollment key; `false` when another enrollment took
/// the last use or the key expired meanwhile.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn claim_key_use(tx: &mut ScopedTx, key: EnrollmentKeyId) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE enrollment_keys SET usage_count = usage_count + 1
          WHERE id = $1 AND usage_count < max_usage AND expires_at > now()",
    )
    .bind(key)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A device of a site with this host name, as re-enrollment needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReenrollCandidate {
    /// Device.
    pub device_id: DeviceId,
    /// Its agent id.
    pub agent_id: String,
    /// Current agent-token hash.
    pub agent_hash: Option<String>,
    /// Suspended.
    pub suspended: bool,
    /// Device status.
    pub status: String,
    /// The device is bound to a key (never re-enrolled in place: SPEC 17).
    pub bound: bool,
}

/// The devices of `site` named `hostname` (newest first, at most 20).
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn reenroll_candidates(
    tx: &mut ScopedTx,
    site: SiteId,
    hostname: &str,
) -> StoreResult<Vec<ReenrollCandidate>> {
    type Row = (Uuid, String, Option<String>, Option<bool>, String, bool);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT d.id, d.agent_id, c.agent_hash, c.suspended, d.status, c.public_key IS NOT NULL
           FROM devices d LEFT JOIN device_credentials c ON c.device_id = d.id
          WHERE d.site_id = $1 AND d.hostname = $2
          ORDER BY d.enrolled_at DESC LIMIT 20",
    )
    .bind(site.as_uuid())
    .bind(hostname)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, agent_id, agent_hash, suspended, status, bound)| ReenrollCandidate {
                device_id: DeviceId::from_uuid(id),
                agent_id,
                agent_hash,
                suspended: suspended.unwrap_or(false),
                status,
                bound,
            },
        )
        .collect())
}

/// A device that holds its host name in a site: suspended credentials or quarantined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldDevice {
    /// The device.
    pub device_id: DeviceId,
    /// Its credentials are suspended (else it is quarantined).
    pub suspended: bool,
}

/// The newest device of `site` named `hostname` that is suspended or quarantined (not
/// decommissioned): enrollment of that host name is refused while it is held.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn held_device(
    tx: &mut ScopedTx,
    site: SiteId,
    hostname: &str,
) -> StoreResult<Option<HeldDevice>> {
    let row: Option<(Uuid, bool)> = sqlx::query_as(
        "SELECT d.id, coalesce(c.suspended, false)
           FROM devices d LEFT JOIN device_credentials c ON c.device_id = d.id
          WHERE d.site_id = $1 AND d.hostname = $2 AND d.status <> 'decommissioned'
            AND (c.suspended OR d.status = 'quarantined')
          ORDER BY d.enrolled_at DESC LIMIT 1",
    )
    .bind(site.as_uuid())
    .bind(hostname)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|(id, suspended)| HeldDevice {
        device_id: DeviceId::from_uuid(id),
        suspended,
    }))
}

/// A device to create or update at enrollment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolledDevice {
    /// Device id.
    pub id: DeviceId,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Public agent id (64 hex).
    pub agent_id: String,
    /// Host name.
    pub hostname: String,
    /// `windows`, `macos` or `linux`.
    pub os_type: &'static str,
    /// OS version.
    pub os_version: String,
    /// Architecture.
    pub architecture: String,
    /// Agent version.
    pub agent_version: String,
    /// The device this one may replace.
    pub possible_replacement_of: Option<DeviceId>,
}

/// Inserts a new device.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn insert_device(tx: &mut ScopedTx, d: &EnrolledDevice) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO devices (id, org_id, site_id, agent_id, hostname, os_type, os_version,
                              architecture, agent_version, status, possible_replacement_of)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'offline', $10)",
    )
    .bind(d.id.as_uuid())
    .bind(d.org_id.as_uuid())
    .bind(d.site_id.as_uuid())
    .bind(&d.agent_id)
    .bind(&d.hostname)
    .bind(d.os_type)
    .bind(&d.os_version)
    .bind(&d.architecture)
    .bind(&d.agent_version)
    .bind(d.possible_replacement_of.map(|x| *x.as_uuid()))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Updates a re-enrolled device in place (same agent id).
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn update_device_in_place(tx: &mut ScopedTx, d: &EnrolledDevice) -> StoreResult<()> {
    sqlx::query(
        "UPDATE devices SET os_type = $2, os_version = $3, architecture = $4,
                agent_version = $5, enrolled_at = now(), updated_at = now()
          WHERE id = $1",
    )
    .bind(d.id.as_uuid())
    .bind(d.os_type)
    .bind(&d.os_version)
    .bind(&d.architecture)
    .bind(&d.agent_version)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The three token hashes of one generation (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHashes {
    /// Agent role.
    pub agent: String,
    /// Watchdog role.
    pub watchdog: String,
    /// Helper role.
    pub helper: String,
}

/// Sets fresh current credentials (enrollment), clearing pending, previous and suspension.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn set_credentials(
    tx: &mut ScopedTx,
    device: DeviceId,
    org: OrgId,
    hashes: &TokenHashes,
    public_key: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO device_credentials (device_id, org_id, agent_hash, watchdog_hash, helper_hash,
                                         public_key, key_bound_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6 IS NOT NULL THEN now() END)
         ON CONFLICT (device_id) DO UPDATE SET agent_hash = EXCLUDED.agent_hash,
           public_key = EXCLUDED.public_key, key_bound_at = EXCLUDED.key_bound_at,
           watchdog_hash = EXCLUDED.watchdog_hash, helper_hash = EXCLUDED.helper_hash,
           agent_pending_hash = NULL, watchdog_pending_hash = NULL, helper_pending_hash = NULL,
           pending_expires_at = NULL, agent_previous_hash = NULL, watchdog_previous_hash = NULL,
           helper_previous_hash = NULL, previous_grace_until = NULL,
           rotation_due_at = now() + interval '30 days', updated_at = now()",
    )
    .bind(device.as_uuid())
    .bind(org.as_uuid())
    .bind(&hashes.agent)
    .bind(&hashes.watchdog)
    .bind(&hashes.helper)
    .bind(public_key)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Whether `org` requires every device to be bound to a key (SPEC 17).
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn org_requires_key(tx: &mut ScopedTx, org: OrgId) -> StoreResult<bool> {
    Ok(
        sqlx::query_scalar("SELECT require_agent_key FROM organizations WHERE id = $1")
            .bind(org.as_uuid())
            .fetch_optional(tx.conn())
            .await?
            .unwrap_or(false),
    )
}
