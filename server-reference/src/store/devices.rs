//! Devices as the management API sees them (enrollment creates them; issue 8).

use breeze_core::tenancy::{DeviceGroupId, DeviceId, OrgId, SiteId};
use time::OffsetDateTime;

use super::page::{Page, fetch_page};
use super::rows::fetch_by_id;
use super::{ScopedTx, StoreError, StoreResult};

/// A device.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeviceRow {
    /// Id.
    pub id: DeviceId,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Group.
    pub group_id: Option<DeviceGroupId>,
    /// Public agent id.
    pub agent_id: String,
    /// Host name reported by the agent.
    pub hostname: String,
    /// Name set by an operator.
    pub display_name: Option<String>,
    /// `windows`, `macos` or `linux`.
    pub os_type: String,
    /// OS version.
    pub os_version: String,
    /// CPU architecture.
    pub architecture: String,
    /// Agent version.
    pub agent_version: String,
    /// `online`, `offline`, `quarantined` or `decommissioned`.
    pub status: String,
    /// Last contact.
    pub last_seen_at: Option<OffsetDateTime>,
    /// Enrolled.
    pub enrolled_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

const DEVICE_COLS: &str = "id, org_id, site_id, group_id, agent_id, hostname, display_name, \
     os_type, os_version, architecture, agent_version, status, last_seen_at, enrolled_at, \
     updated_at";

/// Filters of the device list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    /// Only this organization.
    pub org: Option<OrgId>,
    /// Only these organizations (the caller's reach, `AccessContext::listing_orgs`):
    /// row-level security already limits the rows to them; naming them lets the query read
    /// their index ranges instead of every organization's devices in id order.
    pub orgs: Option<Vec<OrgId>>,
    /// Only this site.
    pub site: Option<SiteId>,
    /// Only this status.
    pub status: Option<String>,
}

/// A page of the devices the context reaches.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_devices(
    tx: &mut ScopedTx,
    filter: &DeviceFilter,
    page: Page,
) -> StoreResult<Vec<DeviceRow>> {
    let select = format!(
        "SELECT {DEVICE_COLS} FROM devices
          WHERE ($1::uuid IS NULL OR org_id = $1) AND ($2::uuid IS NULL OR site_id = $2)
            AND ($3::text IS NULL OR status = $3)
            AND ($4::uuid[] IS NULL OR org_id = ANY ($4))"
    );
    tx.plan_per_execution().await?;
    fetch_page(
        tx,
        &select,
        4,
        |q| {
            q.bind(filter.org)
                .bind(filter.site)
                .bind(filter.status.clone())
                .bind(filter.orgs.clone())
        },
        page,
    )
    .await
}

/// A device.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn get_device(tx: &mut ScopedTx, id: DeviceId) -> StoreResult<Option<DeviceRow>> {
    fetch_by_id(
        tx,
        &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = $1"),
        id,
    )
    .await
}

/// Sets (or clears) a device's display name.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such device in reach.
pub async fn set_display_name(
    tx: &mut ScopedTx,
    id: DeviceId,
    display_name: Option<&str>,
) -> StoreResult<DeviceRow> {
    let sql = format!(
        "UPDATE devices SET display_name = $2, updated_at = now() WHERE id = $1
         RETURNING {DEVICE_COLS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(display_name)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)
}

/// What moved along with a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedDevice {
    /// The device after the move.
    pub row: DeviceRow,
    /// Whether its heartbeat row moved too.
    pub heartbeat_moved: bool,
    /// How many of its unfinished (`pending` or `sent`) commands moved too.
    pub commands_moved: u64,
}

/// Moves a device to `site` (and `group`, which must be in that site) of its organization,
/// with the rows that carry its site: its heartbeat row and its unfinished commands (issue
/// 15, finding 1: left behind, they no longer matched the site the agent authenticates in,
/// so its heartbeats failed and its commands were never claimed). Finished commands keep
/// the site they ran in. All in the caller's transaction, so the move is all or nothing.
///
/// # Errors
/// [`StoreError::NotFound`]; [`StoreError::Denied`] when the target is out of reach;
/// [`StoreError::Invalid`] when the site or group is not of the device's organization.
pub async fn move_device(
    tx: &mut ScopedTx,
    id: DeviceId,
    site: SiteId,
    group: Option<DeviceGroupId>,
) -> StoreResult<MovedDevice> {
    let sql = format!(
        "UPDATE devices SET site_id = $2, group_id = $3, updated_at = now() WHERE id = $1
         RETURNING {DEVICE_COLS}"
    );
    let row: DeviceRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(site)
        .bind(group)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    let heartbeat = sqlx::query(
        "UPDATE device_heartbeats SET site_id = $3
          WHERE device_id = $1 AND org_id = $2 AND site_id <> $3",
    )
    .bind(id)
    .bind(row.org_id)
    .bind(site)
    .execute(tx.conn())
    .await?;
    let commands = sqlx::query(
        "UPDATE device_commands SET site_id = $3
          WHERE device_id = $1 AND org_id = $2 AND site_id <> $3
            AND status IN ('pending', 'sent')",
    )
    .bind(id)
    .bind(row.org_id)
    .bind(site)
    .execute(tx.conn())
    .await?;
    Ok(MovedDevice {
        row,
        heartbeat_moved: heartbeat.rows_affected() > 0,
        commands_moved: commands.rows_affected(),
    })
}

/// Sets a device's status.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such device in reach.
pub async fn set_status(tx: &mut ScopedTx, id: DeviceId, status: &str) -> StoreResult<DeviceRow> {
    let sql = format!(
        "UPDATE devices SET status = $2, updated_at = now() WHERE id = $1
         RETURNING {DEVICE_COLS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(status)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)
}

/// A device whose agent credentials are suspended (cross-tenant probing, SPEC 8.2), as the
/// admin review lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SuspendedDeviceRow {
    /// Device id.
    pub id: DeviceId,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Public agent id.
    pub agent_id: String,
    /// Host name reported by the agent.
    pub hostname: String,
    /// Name set by an operator.
    pub display_name: Option<String>,
    /// Device status.
    pub status: String,
    /// Why it was suspended.
    pub suspended_reason: Option<String>,
    /// When.
    pub suspended_at: Option<OffsetDateTime>,
}

/// A page of the suspended devices the context reaches (optionally of one organization).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_suspended(
    tx: &mut ScopedTx,
    org: Option<OrgId>,
    page: Page,
) -> StoreResult<Vec<SuspendedDeviceRow>> {
    Ok(sqlx::query_as(
        "SELECT d.id, d.org_id, d.site_id, d.agent_id, d.hostname, d.display_name, d.status,
                c.suspended_reason, c.suspended_at
           FROM devices d JOIN device_credentials c ON c.device_id = d.id AND c.org_id = d.org_id
          WHERE c.suspended AND ($1::uuid IS NULL OR d.org_id = $1)
            AND ($2::uuid IS NULL OR d.id > $2)
          ORDER BY d.id LIMIT $3",
    )
    .bind(org)
    .bind(page.after)
    .bind(page.fetch_limit())
    .fetch_all(tx.conn())
    .await?)
}

/// What a lifted suspension was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiftedSuspension {
    /// Why the device had been suspended.
    pub reason: Option<String>,
    /// Since when.
    pub suspended_at: Option<OffsetDateTime>,
}

/// Lifts the suspension of a device's agent credentials; `None` when they are not
/// suspended (or not in reach). The credentials trigger notifies every replica's agent
/// authentication cache at commit.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn lift_suspension(
    tx: &mut ScopedTx,
    device: DeviceId,
) -> StoreResult<Option<LiftedSuspension>> {
    let row: Option<(Option<String>, Option<OffsetDateTime>)> = sqlx::query_as(
        "WITH old AS (
           SELECT device_id, suspended_reason, suspended_at FROM device_credentials
            WHERE device_id = $1 AND suspended FOR UPDATE)
         UPDATE device_credentials c SET suspended = false, suspended_reason = NULL,
                suspended_at = NULL, updated_at = now()
           FROM old WHERE c.device_id = old.device_id
         RETURNING old.suspended_reason, old.suspended_at",
    )
    .bind(device)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|(reason, suspended_at)| LiftedSuspension {
        reason,
        suspended_at,
    }))
}

/// A device the offline sweep marked offline.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WentOffline {
    /// Device.
    pub id: DeviceId,
    /// Its organization.
    pub org_id: OrgId,
    /// Its last heartbeat.
    pub last_seen_at: Option<OffsetDateTime>,
}

/// Marks at most `limit` online devices not seen for `silent_secs` offline, and returns
/// them. One statement: a device flips once, whichever replica's sweep gets it.
///
/// # Errors
/// [`StoreError`].
pub async fn mark_silent_offline(
    tx: &mut ScopedTx,
    silent_secs: i64,
    limit: i64,
) -> StoreResult<Vec<WentOffline>> {
    Ok(sqlx::query_as(
        "UPDATE devices SET status = 'offline', updated_at = now()
          WHERE id IN (
            SELECT id FROM devices
             WHERE status = 'online'
               AND (last_seen_at IS NULL OR last_seen_at < now() - make_interval(secs => $1))
             LIMIT $2
             FOR UPDATE SKIP LOCKED)
          RETURNING id, org_id, last_seen_at",
    )
    .bind(f64::from(i32::try_from(silent_secs).unwrap_or(i32::MAX)))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}
