//! Tenancy rows: partners, organizations, sites and device groups (SPEC 1).
//!
//! Every function runs inside the caller's [`ScopedTx`], so row-level security filters
//! every statement by the request's access context; a row outside it is simply not found.
//! Lists are cursor pages ordered by id ([`super::page::fetch_page`]).

use breeze_core::tenancy::{DeviceGroupId, OrgId, PartnerId, SiteId};
use time::OffsetDateTime;

use super::page::{Page, fetch_page};
use super::rows::{delete_unreferenced, fetch_by_id, soft_delete};
use super::{ScopedTx, StoreError, StoreResult};

/// A partner (MSP).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PartnerRow {
    /// Id.
    pub id: PartnerId,
    /// Name.
    pub name: String,
    /// `active` or `suspended`.
    pub status: String,
    /// Device limit (none = unlimited).
    pub max_devices: Option<i32>,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

const PARTNER_COLS: &str = "id, name, status, max_devices, created_at, updated_at";

/// A page of live (not deleted) partners.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_partners(tx: &mut ScopedTx, page: Page) -> StoreResult<Vec<PartnerRow>> {
    let select = format!("SELECT {PARTNER_COLS} FROM partners WHERE deleted_at IS NULL");
    fetch_page(tx, &select, 0, |q| q, page).await
}

/// A live partner.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn get_partner(tx: &mut ScopedTx, id: PartnerId) -> StoreResult<Option<PartnerRow>> {
    fetch_by_id(
        tx,
        &format!("SELECT {PARTNER_COLS} FROM partners WHERE id = $1 AND deleted_at IS NULL"),
        id,
    )
    .await
}

/// Creates a partner.
///
/// # Errors
/// [`StoreError`] on database failure or refusal.
pub async fn insert_partner(
    tx: &mut ScopedTx,
    name: &str,
    max_devices: Option<i32>,
) -> StoreResult<PartnerRow> {
    let sql = format!(
        "INSERT INTO partners (id, name, max_devices) VALUES ($1, $2, $3) RETURNING {PARTNER_COLS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(PartnerId::new_random())
        .bind(name)
        .bind(max_devices)
        .fetch_one(tx.conn())
        .await?)
}

/// Changes a live partner; `None` leaves a field as is (`max_devices: Some(None)` clears it).
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such live partner.
pub async fn update_partner(
    tx: &mut ScopedTx,
    id: PartnerId,
    name: Option<&str>,
    status: Option<&str>,
    max_devices: Option<Option<i32>>,
) -> StoreResult<PartnerRow> {
    let sql = format!(
        "UPDATE partners SET name = coalesce($2, name), status = coalesce($3, status),
                max_devices = CASE WHEN $4 THEN $5 ELSE max_devices END, updated_at = now()
          WHERE id = $1 AND deleted_at IS NULL RETURNING {PARTNER_COLS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(name)
        .bind(status)
        .bind(max_devices.is_some())
        .bind(max_devices.flatten())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)
}

/// Soft-deletes a live partner.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such live partner.
pub async fn delete_partner(tx: &mut ScopedTx, id: PartnerId) -> StoreResult<()> {
    soft_delete(tx, "partners", id).await
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrgRow {
    /// Id.
    pub id: OrgId,
    /// Partner.
    pub partner_id: PartnerId,
    /// Name.
    pub name: String,
    /// `active`, `trial`, `suspended` or `offboarding`.
    pub status: String,
    /// Audit retention in days.
    pub retention_days: i32,
    /// Every device must be bound to a key (SPEC 17).
    pub require_agent_key: bool,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

const ORG_COLS: &str =
    "id, partner_id, name, status, retention_days, require_agent_key, created_at, updated_at";

/// A page of the live organizations the context reaches.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_orgs(tx: &mut ScopedTx, page: Page) -> StoreResult<Vec<OrgRow>> {
    let select = format!("SELECT {ORG_COLS} FROM organizations WHERE deleted_at IS NULL");
    fetch_page(tx, &select, 0, |q| q, page).await
}

/// A live organization.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn get_org(tx: &mut ScopedTx, id: OrgId) -> StoreResult<Option<OrgRow>> {
    fetch_by_id(
        tx,
        &format!("SELECT {ORG_COLS} FROM organizations WHERE id = $1 AND deleted_at IS NULL"),
        id,
    )
    .await
}

/// Creates an organization of `partner`.
///
/// # Errors
/// [`StoreError::Denied`] when the context may not write for `partner`.
pub async fn insert_org(
    tx: &mut ScopedTx,
    partner: PartnerId,
    name: &str,
    status: &str,
    retention_days: i32,
) -> StoreResult<OrgRow> {
    // RETURNING would need SELECT visibility of the new row, which the request's
    // accessible-org list cannot include yet: build the row from what was written.
    let id = OrgId::new_random();
    let now = OffsetDateTime::now_utc();
    let created_at = now
        .replace_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now);
    sqlx::query(
        "INSERT INTO organizations (id, partner_id, name, status, retention_days, created_at,
                                    updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(id)
    .bind(partner)
    .bind(name)
    .bind(status)
    .bind(retention_days)
    .bind(created_at)
    .execute(tx.conn())
    .await?;
    Ok(OrgRow {
        id,
        partner_id: partner,
        name: name.to_owned(),
        status: status.to_owned(),
        retention_days,
        require_agent_key: false,
        created_at,
        updated_at: created_at,
    })
}

/// Changes a live organization; `None` leaves a field as is.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such live organization in reach.
pub async fn update_org(
    tx: &mut ScopedTx,
    id: OrgId,
    name: Option<&str>,
    status: Option<&str>,
    retention_days: Option<i32>,
    require_agent_key: Option<bool>,
) -> StoreResult<OrgRow> {
    let sql = format!(
        "UPDATE organizations SET name = coalesce($2, name), status = coalesce($3, status),
                retention_days = coalesce($4, retention_days),
                require_agent_key = coalesce($5, require_agent_key), updated_at = now()
          WHERE id = $1 AND deleted_at IS NULL RETURNING {ORG_COLS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(name)
        .bind(status)
        .bind(retention_days)
        .bind(require_agent_key)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)
}

/// Soft-deletes a live organization.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such live organization in reach.
pub async fn delete_org(tx: &mut ScopedTx, id: OrgId) -> StoreResult<()> {
    soft_delete(tx, "organizations", id).await
}

/// A site.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SiteRow {
    /// Id.
    pub id: SiteId,
    /// Organization.
    pub org_id: OrgId,
    /// Name.
    pub name: String,
    /// IANA time zone name.
    pub timezone: String,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

const SITE_COLS: &str = "id, org_id, name, timezone, created_at, updated_at";

/// A page of the sites of `org` the context reaches.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_sites(tx: &mut ScopedTx, org: OrgId, page: Page) -> StoreResult<Vec<SiteRow>> {
    let select = format!("SELECT {SITE_COLS} FROM sites WHERE org_id = $1");
    fetch_page(tx, &select, 1, |q| q.bind(org), page).await
}

/// A site.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn get_site(tx: &mut ScopedTx, id: SiteId) -> StoreResult<Option<SiteRow>> {
    fetch_by_id(
        tx,
        &format!("SELECT {SITE_COLS} FROM sites WHERE id = $1"),
        id,
    )
    .await
}

/// Creates a site in `org`.
///
/// # Errors
/// [`StoreError::Denied`] when the context may not create sites there.
pub async fn insert_site(
    tx: &mut ScopedTx,
    org: OrgId,
    name: &str,
    timezone: &str,
) -> StoreResult<SiteRow> {
    let sql = format!(
        "INSERT INTO sites (id, org_id, name, timezone) VALUES ($1, $2, $3, $4)
         RETURNING {SITE_COLS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(SiteId::new_random())
        .bind(org)
        .bind(name)
        .bind(timezone)
        .fetch_one(tx.conn())
        .await?)
}

/// Changes a site; `None` leaves a field as is.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such site in reach.
pub async fn update_site(
    tx: &mut ScopedTx,
    id: SiteId,
    name: Option<&str>,
    timezone: Option<&str>,
) -> StoreResult<SiteRow> {
    let sql = format!(
        "UPDATE sites SET name = coalesce($2, name), timezone = coalesce($3, timezone),
                updated_at = now() WHERE id = $1 RETURNING {SITE_COLS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(name)
        .bind(timezone)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)
}

/// Deletes an empty site (no device, group or enrollment key).
///
/// # Errors
/// [`StoreError::Conflict`] `site_not_empty`; [`StoreError::NotFound`].
pub async fn delete_site(tx: &mut ScopedTx, id: SiteId) -> StoreResult<()> {
    let used: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM devices WHERE site_id = $1)
             OR EXISTS (SELECT 1 FROM device_groups WHERE site_id = $1)
             OR EXISTS (SELECT 1 FROM enrollment_keys WHERE site_id = $1)",
    )
    .bind(id)
    .fetch_one(tx.conn())
    .await?;
    if used {
        return Err(StoreError::Conflict("site_not_empty"));
    }
    // a row this context cannot see may still refer to it
    delete_unreferenced(tx, "sites", "", id, "site_not_empty").await
}

/// A device group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupRow {
    /// Id.
    pub id: DeviceGroupId,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Name.
    pub name: String,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

const GROUP_COLS: &str = "id, org_id, site_id, name, created_at, updated_at";

/// A page of the groups of `site`.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn list_groups(
    tx: &mut ScopedTx,
    site: SiteId,
    page: Page,
) -> StoreResult<Vec<GroupRow>> {
    let select = format!("SELECT {GROUP_COLS} FROM device_groups WHERE site_id = $1");
    fetch_page(tx, &select, 1, |q| q.bind(site), page).await
}

/// A device group.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn get_group(tx: &mut ScopedTx, id: DeviceGroupId) -> StoreResult<Option<GroupRow>> {
    fetch_by_id(
        tx,
        &format!("SELECT {GROUP_COLS} FROM device_groups WHERE id = $1"),
        id,
    )
    .await
}

/// Creates a group in `site` of `org`.
///
/// # Errors
/// [`StoreError::Denied`] when the context may not write there.
pub async fn insert_group(
    tx: &mut ScopedTx,
    org: OrgId,
    site: SiteId,
    name: &str,
) -> StoreResult<GroupRow> {
    let sql = format!(
        "INSERT INTO device_groups (id, org_id, site_id, name) VALUES ($1, $2, $3, $4)
         RETURNING {GROUP_COLS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(DeviceGroupId::new_random())
        .bind(org)
        .bind(site)
        .bind(name)
        .fetch_one(tx.conn())
        .await?)
}

/// Renames a group.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such group in reach.
pub async fn update_group(
    tx: &mut ScopedTx,
    id: DeviceGroupId,
    name: &str,
) -> StoreResult<GroupRow> {
    let sql = format!(
        "UPDATE device_groups SET name = $2, updated_at = now() WHERE id = $1
         RETURNING {GROUP_COLS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(name)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)
}

/// Deletes a group; its devices stay, ungrouped.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such group in reach.
pub async fn delete_group(tx: &mut ScopedTx, id: DeviceGroupId) -> StoreResult<()> {
    sqlx::query("UPDATE devices SET group_id = NULL, updated_at = now() WHERE group_id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    // a row this context cannot see may still refer to it
    delete_unreferenced(tx, "device_groups", "", id, "group_not_empty").await
}
