//! Agents (SPEC 8): enrollment keys as enrollment reads them, devices and their
//! credentials, source-IP history, heartbeat facts, token rotation and suspension.
//!
//! Credentials are SHA-256 hex hashes; callers compare them in constant time. Every
//! compare-and-set here names the hash it expects, so a lost race changes nothing.

use breeze_authz::access::OrgRecord;
use breeze_core::tenancy::{DeviceId, OrgId, PartnerId, SiteId};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ScopedTx, StoreResult};

/// An enrollment key found by its peppered hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentKeyRow {
    /// Key id.
    pub id: Uuid,
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

/// Looks an enrollment key up by its peppered hash (system scope).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn enrollment_key_by_hash(
    tx: &mut ScopedTx,
    hash_hex: &str,
) -> StoreResult<Option<EnrollmentKeyRow>> {
    type Row = (
        Uuid,
        Uuid,
        Uuid,
        Uuid,
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
          WHERE k.key_hash = $1",
    )
    .bind(hash_hex)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(
        |(id, org, site, partner, secret_hash, max_usage, usage_count, expires_at, max_devices)| {
            EnrollmentKeyRow {
                id,
                org_id: OrgId::from_uuid(org),
                site_id: SiteId::from_uuid(site),
                partner_id: PartnerId::from_uuid(partner),
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
/// [`super::StoreError`] on database failure.
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
/// [`super::StoreError`] on database failure.
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
/// [`super::StoreError`] on database failure.
pub async fn claim_key_use(tx: &mut ScopedTx, key: Uuid) -> StoreResult<bool> {
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
}

/// The devices of `site` named `hostname` (newest first, at most 20).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn reenroll_candidates(
    tx: &mut ScopedTx,
    site: SiteId,
    hostname: &str,
) -> StoreResult<Vec<ReenrollCandidate>> {
    type Row = (Uuid, String, Option<String>, Option<bool>, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT d.id, d.agent_id, c.agent_hash, c.suspended, d.status
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
            |(id, agent_id, agent_hash, suspended, status)| ReenrollCandidate {
                device_id: DeviceId::from_uuid(id),
                agent_id,
                agent_hash,
                suspended: suspended.unwrap_or(false),
                status,
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
/// [`super::StoreError`] on database failure.
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
/// [`super::StoreError`] on database failure.
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
/// [`super::StoreError`] on database failure.
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
/// [`super::StoreError`] on database failure.
pub async fn set_credentials(
    tx: &mut ScopedTx,
    device: DeviceId,
    org: OrgId,
    hashes: &TokenHashes,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO device_credentials (device_id, org_id, agent_hash, watchdog_hash, helper_hash)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (device_id) DO UPDATE SET agent_hash = EXCLUDED.agent_hash,
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
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Everything agent authentication reads, in one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAuthRow {
    /// Device.
    pub device_id: DeviceId,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Device status.
    pub status: String,
    /// Whether a credentials row exists.
    pub has_credentials: bool,
    /// Suspended.
    pub suspended: bool,
    /// Agent hashes: current, pending, previous.
    pub agent: [Option<String>; 3],
    /// Watchdog hashes: current, pending, previous.
    pub watchdog: [Option<String>; 3],
    /// Pending expiry.
    pub pending_expires_at: Option<OffsetDateTime>,
    /// Grace end of the previous tokens.
    pub previous_grace_until: Option<OffsetDateTime>,
    /// When rotation is due.
    pub rotation_due_at: Option<OffsetDateTime>,
    /// Last source IP (text).
    pub last_ip: Option<String>,
    /// The device's organization (status and partner, for access resolution).
    pub org: OrgRecord,
}

/// Reads the authentication row of `agent_id` (system scope).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn auth_row(tx: &mut ScopedTx, agent_id: &str) -> StoreResult<Option<AgentAuthRow>> {
    use sqlx::Row as _;
    // the organization's status includes its partner's (issue 15, finding 6)
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT d.id, d.org_id, d.site_id, o.partner_id, d.status, c.device_id IS NOT NULL,
                c.suspended, c.agent_hash, c.agent_pending_hash, c.agent_previous_hash,
                c.watchdog_hash, c.watchdog_pending_hash, c.watchdog_previous_hash,
                c.pending_expires_at, c.previous_grace_until, c.rotation_due_at,
                host(c.last_ip), {}, {}
           FROM devices d
           JOIN organizations o ON o.id = d.org_id
           JOIN partners p ON p.id = o.partner_id
           LEFT JOIN device_credentials c ON c.device_id = d.id
          WHERE d.agent_id = $1",
        super::principal::SERVICE_STATUS,
        super::principal::SERVICE_DELETED,
    )))
    .bind(agent_id)
    .fetch_optional(tx.conn())
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(AgentAuthRow {
        device_id: DeviceId::from_uuid(r.try_get(0)?),
        org_id: OrgId::from_uuid(r.try_get(1)?),
        site_id: SiteId::from_uuid(r.try_get(2)?),
        status: r.try_get(4)?,
        has_credentials: r.try_get(5)?,
        suspended: r.try_get::<Option<bool>, _>(6)?.unwrap_or(false),
        agent: [r.try_get(7)?, r.try_get(8)?, r.try_get(9)?],
        watchdog: [r.try_get(10)?, r.try_get(11)?, r.try_get(12)?],
        pending_expires_at: r.try_get(13)?,
        previous_grace_until: r.try_get(14)?,
        rotation_due_at: r.try_get(15)?,
        last_ip: r.try_get(16)?,
        org: OrgRecord {
            id: OrgId::from_uuid(r.try_get(1)?),
            partner_id: PartnerId::from_uuid(r.try_get(3)?),
            status: super::principal::parse_org_status(&r.try_get::<String, _>(17)?)?,
            deleted: r.try_get(18)?,
        },
    }))
}

/// Devices of `org` that are not decommissioned (the size of its agent rate limit).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn org_device_count(tx: &mut ScopedTx, org: OrgId) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM devices WHERE org_id = $1 AND status <> 'decommissioned'",
    )
    .bind(org.as_uuid())
    .fetch_one(tx.conn())
    .await?)
}

/// Records a source IP of a device. Returns `true` when the IP differs from the last one
/// and was not audited in the last 24 hours (the caller then audits
/// `agent.source.ip.changed`; the audit time is recorded here).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn record_source_ip(
    tx: &mut ScopedTx,
    device: DeviceId,
    org: OrgId,
    ip: &str,
    changed: bool,
) -> StoreResult<bool> {
    let audit: Option<bool> = sqlx::query_scalar(
        "INSERT INTO agent_ip_history (device_id, ip, org_id, last_audited_at)
         VALUES ($1, $3::inet, $2, CASE WHEN $4 THEN now() END)
         ON CONFLICT (device_id, ip) DO UPDATE SET last_seen_at = now(),
           last_audited_at = CASE
             WHEN $4 AND (agent_ip_history.last_audited_at IS NULL
                          OR agent_ip_history.last_audited_at < now() - interval '24 hours')
             THEN now() ELSE agent_ip_history.last_audited_at END
         RETURNING $4 AND last_audited_at = now()",
    )
    .bind(device.as_uuid())
    .bind(org.as_uuid())
    .bind(ip)
    .bind(changed)
    .fetch_optional(tx.conn())
    .await?;
    sqlx::query(
        "UPDATE device_credentials SET last_ip = $2::inet WHERE device_id = $1
            AND last_ip IS DISTINCT FROM $2::inet",
    )
    .bind(device.as_uuid())
    .bind(ip)
    .execute(tx.conn())
    .await?;
    Ok(audit.unwrap_or(false))
}

/// Heartbeat facts to store.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatFacts {
    /// `ok`, `warning`, `error`.
    pub health: &'static str,
    /// Agent version.
    pub agent_version: String,
    /// Metrics JSON (validated by the protocol crate).
    pub metrics: Option<Value>,
    /// Uptime.
    pub uptime_seconds: Option<i64>,
    /// Last user.
    pub last_user: Option<String>,
    /// Pending reboot.
    pub pending_reboot: Option<bool>,
}

/// Records a heartbeat in one statement (SPEC 8.4, 11: one round trip on the hot path):
/// the device goes `online` (its `last_seen_at` is written at most every 30 seconds, so a
/// fleet's heartbeats do not rewrite the devices table), the latest facts are upserted,
/// and up to `limit` pending commands are claimed (`pending -> sent`, `FOR UPDATE SKIP
/// LOCKED`, oldest first). Every part runs even when no command is pending. The one-device
/// case of [`heartbeat_batch_and_claim`] (the same statement), in the caller's transaction.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn heartbeat_and_claim(
    tx: &mut ScopedTx,
    device: DeviceId,
    org: OrgId,
    site: SiteId,
    facts: &HeartbeatFacts,
    limit: i64,
) -> StoreResult<Vec<super::commands::ClaimedCommand>> {
    let beat = BatchedBeat {
        device,
        org,
        site,
        facts: facts.clone(),
    };
    let claimed = heartbeat_batch_and_claim(tx, std::slice::from_ref(&beat), limit).await?;
    Ok(claimed.into_iter().map(|(_, c)| c).collect())
}

/// One authenticated heartbeat of a batch: the device and where authentication placed it.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchedBeat {
    /// The device (from its authenticated token, never from the request body).
    pub device: DeviceId,
    /// Its organization.
    pub org: OrgId,
    /// Its site.
    pub site: SiteId,
    /// The facts it reported.
    pub facts: HeartbeatFacts,
}

/// [`heartbeat_and_claim`] for many devices in one statement: every device in `beats` goes
/// `online`, its facts are upserted, and up to `limit` pending commands of each are claimed.
/// Each row is matched on the device *and* the organization authentication placed it in: a
/// pair that does not match a visible device writes and claims nothing. The heartbeat row
/// is written only when the device is still in the site authentication placed it in (a
/// stale placement must not drag the row back), and it takes that site (issue 15,
/// finding 1: a row left in another site by a move is repaired by the next heartbeat that
/// can see it). Returns the claimed commands with their device, oldest first per device.
///
/// `beats` must not name a device twice (one upsert cannot touch a row twice); the caller
/// runs a repeat in a later batch. The transaction's context should reach exactly the
/// batch's organizations and sites
/// ([`AccessContext::system_within`](breeze_authz::access::AccessContext::system_within)).
///
/// # Errors
/// [`super::StoreError`] on database failure; nothing of the batch is written then.
pub async fn heartbeat_batch_and_claim(
    tx: &mut ScopedTx,
    beats: &[BatchedBeat],
    limit: i64,
) -> StoreResult<Vec<(DeviceId, super::commands::ClaimedCommand)>> {
    let n = beats.len();
    let mut devices = Vec::with_capacity(n);
    let mut orgs = Vec::with_capacity(n);
    let mut sites = Vec::with_capacity(n);
    let mut health = Vec::with_capacity(n);
    let mut versions = Vec::with_capacity(n);
    let mut metrics = Vec::with_capacity(n);
    let mut uptimes = Vec::with_capacity(n);
    let mut users = Vec::with_capacity(n);
    let mut reboots = Vec::with_capacity(n);
    for b in beats {
        devices.push(*b.device.as_uuid());
        orgs.push(*b.org.as_uuid());
        sites.push(*b.site.as_uuid());
        health.push(b.facts.health);
        versions.push(b.facts.agent_version.as_str());
        metrics.push(b.facts.metrics.clone());
        uptimes.push(b.facts.uptime_seconds);
        users.push(b.facts.last_user.as_deref());
        reboots.push(b.facts.pending_reboot);
    }
    let mut rows: Vec<(Uuid, Uuid, String, String, OffsetDateTime)> = sqlx::query_as(
        "WITH b AS (
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                                $6::jsonb[], $7::int8[], $8::text[], $9::bool[])
             AS b(device_id, org_id, site_id, health, agent_version, metrics, uptime_seconds,
                  last_user, pending_reboot)),
         touched AS (
           UPDATE devices d SET status = 'online', last_seen_at = now()
             FROM b
            WHERE d.id = b.device_id AND d.org_id = b.org_id
              AND d.status IN ('online', 'offline')
              AND (d.status <> 'online' OR d.last_seen_at IS NULL
                   OR d.last_seen_at < now() - interval '30 seconds')
           RETURNING d.id),
         beat AS (
           INSERT INTO device_heartbeats (device_id, org_id, site_id, health, agent_version,
                                          metrics, uptime_seconds, last_user, pending_reboot)
           SELECT b.device_id, b.org_id, b.site_id, b.health, b.agent_version, b.metrics,
                  b.uptime_seconds, b.last_user, b.pending_reboot
             FROM b JOIN devices d ON d.id = b.device_id AND d.org_id = b.org_id
                                  AND d.site_id = b.site_id
           ON CONFLICT (device_id) DO UPDATE SET site_id = EXCLUDED.site_id,
             health = EXCLUDED.health,
             agent_version = EXCLUDED.agent_version,
             metrics = coalesce(EXCLUDED.metrics, device_heartbeats.metrics),
             uptime_seconds = coalesce(EXCLUDED.uptime_seconds, device_heartbeats.uptime_seconds),
             last_user = coalesce(EXCLUDED.last_user, device_heartbeats.last_user),
             pending_reboot = coalesce(EXCLUDED.pending_reboot, device_heartbeats.pending_reboot),
             updated_at = now()
            WHERE device_heartbeats.org_id = EXCLUDED.org_id
           RETURNING device_id),
         picked AS (
           SELECT p.id FROM b CROSS JOIN LATERAL (
             SELECT c.id FROM device_commands c
              WHERE c.device_id = b.device_id AND c.org_id = b.org_id AND c.status = 'pending'
              ORDER BY c.created_at, c.id LIMIT $10
              FOR UPDATE SKIP LOCKED) p)
         UPDATE device_commands c SET status = 'sent', sent_at = now()
           FROM picked WHERE c.id = picked.id
         RETURNING c.device_id, c.id, c.type, c.payload, c.created_at",
    )
    .bind(&devices)
    .bind(&orgs)
    .bind(&sites)
    .bind(&health)
    .bind(&versions)
    .bind(&metrics)
    .bind(&uptimes)
    .bind(&users)
    .bind(&reboots)
    .bind(limit.clamp(1, super::commands::MAX_CLAIM))
    .fetch_all(tx.conn())
    .await?;
    rows.sort_by_key(|r| (r.0, r.4, r.1));
    Ok(rows
        .into_iter()
        .map(|(device, id, command_type, payload_envelope, _)| {
            (
                DeviceId::from_uuid(device),
                super::commands::ClaimedCommand {
                    id: breeze_core::tenancy::CommandId::from_uuid(id),
                    command_type,
                    payload_envelope,
                },
            )
        })
        .collect())
}

/// Phase 1 of rotation: stages `new` as pending until `expires`, only while the current
/// agent hash is still `current` (compare-and-set). `false` when it is not.
///
/// # Errors
/// [`super::StoreError`] on database failure.
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
/// [`super::StoreError`] on database failure.
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

/// Suspends a device's tokens durably (cross-tenant probing). Returns `true` when it was
/// not suspended before.
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn suspend(tx: &mut ScopedTx, device: DeviceId, reason: &str) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE device_credentials SET suspended = true, suspended_reason = $2,
                suspended_at = now(), updated_at = now()
          WHERE device_id = $1 AND NOT suspended",
    )
    .bind(device.as_uuid())
    .bind(reason)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Bumps the WebSocket generation of a device and publishes it on
/// `breeze_agent_ws` (every replica closes older sockets of the agent with 4002).
///
/// # Errors
/// [`super::StoreError`] on database failure.
pub async fn bump_ws_generation(
    tx: &mut ScopedTx,
    device: DeviceId,
    agent_id: &str,
) -> StoreResult<i64> {
    let generation: i64 = sqlx::query_scalar(
        "UPDATE device_credentials SET ws_generation = ws_generation + 1
          WHERE device_id = $1 RETURNING ws_generation",
    )
    .bind(device.as_uuid())
    .fetch_one(tx.conn())
    .await?;
    sqlx::query(
        "SELECT pg_notify('breeze_agent_ws', json_build_object('deviceId', $1::uuid,
                'agentId', $2::text, 'generation', $3::bigint)::text)",
    )
    .bind(device.as_uuid())
    .bind(agent_id)
    .bind(generation)
    .execute(tx.conn())
    .await?;
    Ok(generation)
}
