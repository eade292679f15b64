//! Agent authentication (SPEC 8.2): the one-query authentication row, the organization
//! device count of its limit, source-IP history, suspension and socket generations.

use breeze_authz::access::OrgRecord;
use breeze_core::tenancy::{DeviceId, OrgId, PartnerId, SiteId};
use time::OffsetDateTime;

use crate::store::{ScopedTx, StoreResult};

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
    /// The device's Ed25519 public key, when it is bound (SPEC 17): parsed once when the row
    /// is read (the row is cached), not on every request.
    pub public_key: Option<breeze_crypto::httpsig::DevicePublicKey>,
    /// The organization requires every device to be bound.
    pub require_key: bool,
}

/// Reads the authentication row of `agent_id` (system scope).
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn auth_row(tx: &mut ScopedTx, agent_id: &str) -> StoreResult<Option<AgentAuthRow>> {
    let mut rows = auth_rows(tx, &[agent_id.to_owned()]).await?;
    Ok(rows.remove(agent_id))
}

/// Reads the authentication rows of `agent_ids` in one statement (system scope), by agent
/// id; an id no device has is absent from the map.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
pub async fn auth_rows(
    tx: &mut ScopedTx,
    agent_ids: &[String],
) -> StoreResult<std::collections::HashMap<String, AgentAuthRow>> {
    use sqlx::Row as _;
    // the organization's status includes its partner's (issue 15, finding 6)
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT d.id, d.org_id, d.site_id, o.partner_id, d.status, c.device_id IS NOT NULL,
                c.suspended, c.agent_hash, c.agent_pending_hash, c.agent_previous_hash,
                c.watchdog_hash, c.watchdog_pending_hash, c.watchdog_previous_hash,
                c.pending_expires_at, c.previous_grace_until, c.rotation_due_at,
                host(c.last_ip), {}, {}, c.public_key, o.require_agent_key, d.agent_id
           FROM devices d
           JOIN organizations o ON o.id = d.org_id
           JOIN partners p ON p.id = o.partner_id
           LEFT JOIN device_credentials c ON c.device_id = d.id
          WHERE d.agent_id = ANY($1)",
        crate::store::principal::SERVICE_STATUS,
        crate::store::principal::SERVICE_DELETED,
    )))
    .bind(agent_ids)
    .fetch_all(tx.conn())
    .await?;
    let mut by_agent = std::collections::HashMap::with_capacity(rows.len());
    for r in rows {
        let row = AgentAuthRow {
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
                status: crate::store::principal::parse_org_status(&r.try_get::<String, _>(17)?)?,
                deleted: r.try_get(18)?,
            },
            public_key: r
                .try_get::<Option<String>, _>(19)?
                .map(|k| breeze_crypto::httpsig::DevicePublicKey::from_base64url(&k))
                .transpose()
                .map_err(|_| {
                    crate::store::StoreError::database("stored device key is not valid")
                })?,
            require_key: r.try_get(20)?,
        };
        by_agent.insert(r.try_get::<String, _>(21)?, row);
    }
    Ok(by_agent)
}

/// Devices of `org` that are not decommissioned (the size of its agent rate limit).
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
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
/// [`crate::store::StoreError`] on database failure.
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

/// Suspends a device's tokens durably (cross-tenant probing). Returns `true` when it was
/// not suspended before.
///
/// # Errors
/// [`crate::store::StoreError`] on database failure.
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
/// [`crate::store::StoreError`] on database failure.
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
