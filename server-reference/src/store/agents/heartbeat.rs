//! Heartbeats (SPEC 8.4, 11): one heartbeat or a whole batch upserted with its pending
//! commands claimed, in one statement.

use breeze_core::tenancy::{DeviceId, OrgId, SiteId};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::{ScopedTx, StoreResult};

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
/// [`crate::store::StoreError`] on database failure.
pub async fn heartbeat_and_claim(
    tx: &mut ScopedTx,
    device: DeviceId,
    org: OrgId,
    site: SiteId,
    facts: &HeartbeatFacts,
    limit: i64,
) -> StoreResult<Vec<crate::store::commands::ClaimedCommand>> {
    let beat = BatchedBeat {
        device,
        org,
        site,
        facts: facts.clone(),
        first_ip: None,
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
    /// The device's first source address, recorded with the batch
    /// ([`record_first_sightings`]) when authentication left it to the heartbeat.
    pub first_ip: Option<String>,
}

/// Records the first source address of each device in `beats` that carries one, in one
/// statement: what [`record_source_ip`](super::record_source_ip) writes for a first
/// sighting (a history row, never audited: no address was known, so it is not a change;
/// the device's `last_ip`). Each row is matched on the device *and* the organization
/// authentication placed it in. Run in the batch's transaction, before the heartbeats.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure (an address that is not an IP fails
/// the statement).
pub async fn record_first_sightings(tx: &mut ScopedTx, beats: &[BatchedBeat]) -> StoreResult<()> {
    let mut devices = Vec::new();
    let mut orgs = Vec::new();
    let mut ips = Vec::new();
    for b in beats {
        if let Some(ip) = &b.first_ip {
            devices.push(*b.device.as_uuid());
            orgs.push(*b.org.as_uuid());
            ips.push(ip.as_str());
        }
    }
    if devices.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "WITH s AS (
           SELECT s.device_id, s.org_id, s.ip::inet AS ip
             FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS s(device_id, org_id, ip)
             JOIN devices d ON d.id = s.device_id AND d.org_id = s.org_id),
         seen AS (
           INSERT INTO agent_ip_history (device_id, ip, org_id)
           SELECT s.device_id, s.ip, s.org_id FROM s
           ON CONFLICT (device_id, ip) DO UPDATE SET last_seen_at = now()
            WHERE agent_ip_history.org_id = EXCLUDED.org_id)
         UPDATE device_credentials c SET last_ip = s.ip
           FROM s
          WHERE c.device_id = s.device_id AND c.org_id = s.org_id
            AND c.last_ip IS DISTINCT FROM s.ip",
    )
    .bind(&devices)
    .bind(&orgs)
    .bind(&ips)
    .execute(tx.conn())
    .await?;
    Ok(())
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
/// [`crate::store::StoreError`] on database failure; nothing of the batch is written then.
pub async fn heartbeat_batch_and_claim(
    tx: &mut ScopedTx,
    beats: &[BatchedBeat],
    limit: i64,
) -> StoreResult<Vec<(DeviceId, crate::store::commands::ClaimedCommand)>> {
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
                AND c.type NOT IN ('file_read', 'file_list', 'file_write')
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
    .bind(limit.clamp(1, crate::store::commands::MAX_CLAIM))
    .fetch_all(tx.conn())
    .await?;
    rows.sort_by_key(|r| (r.0, r.4, r.1));
    Ok(rows
        .into_iter()
        .map(|(device, id, command_type, payload_envelope, _)| {
            (
                DeviceId::from_uuid(device),
                crate::store::commands::ClaimedCommand {
                    id: breeze_core::tenancy::CommandId::from_uuid(id),
                    command_type,
                    payload_envelope,
                },
            )
        })
        .collect())
}
