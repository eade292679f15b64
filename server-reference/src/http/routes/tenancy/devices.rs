//! Devices (created by agent enrollment): list with filters, read, rename, move to another
//! site of the same organization, quarantine (`devices:write`) and decommission
//! (`devices:delete`, irreversible). Quarantine and decommission are audited
//! `device.quarantine` / `device.decommission`.
//!
//! Suspension review (issue 15, finding 3): agent credentials suspended for cross-tenant
//! probing are listed and lifted by a user holding `devices:write` whose session passed
//! MFA; a lift is audited `device.suspension.lift` with the reason it lifts.

use axum::extract::{Extension, State};
use axum::http::Method;
use axum::response::IntoResponse;
use breeze_core::tenancy::{DeviceGroupId, DeviceId, OrgId, SiteId};
use serde::Deserialize;
use serde_json::json;

use super::{event, opt_name_issue, org_in_reach, seal, site_in_reach};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, Page, PageOf, PageQuery, Path, Query, Validate};
use crate::http::route::{Access, Route, route};
use crate::http::views::{DeviceOut, SuspendedDeviceOut};
use crate::state::AppState;
use crate::store::devices::{self, DeviceFilter, DeviceRow, SuspendedDeviceRow};
use crate::store::{ScopedTx, tenancy};

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/devices",
            Access::Permission("devices:read"),
            "list devices (filters orgId, siteId, status)",
            list,
        )
        .errors(&[404])
        .ok::<PageOf<DeviceOut>>(),
        route(
            Method::GET,
            "/api/v1/devices/suspended",
            Access::Permission("devices:write"),
            "list devices whose agent credentials are suspended, for review (filter orgId; MFA)",
            list_suspended,
        )
        .errors(&[404])
        .ok::<PageOf<SuspendedDeviceOut>>()
        .mfa_required(),
        route(
            Method::POST,
            "/api/v1/devices/{deviceId}/unsuspend",
            Access::Permission("devices:write"),
            "lift the suspension of a device's agent credentials after review (MFA)",
            unsuspend,
        )
        .ok::<Unsuspended>()
        .errors(&[409])
        .mfa_required(),
        route(
            Method::GET,
            "/api/v1/devices/{deviceId}",
            Access::Permission("devices:read"),
            "read a device",
            read,
        )
        .ok::<DeviceOut>(),
        route(
            Method::PATCH,
            "/api/v1/devices/{deviceId}",
            Access::Permission("devices:write"),
            "rename a device",
            update,
        )
        .ok::<DeviceOut>()
        .errors(&[409]),
        route(
            Method::POST,
            "/api/v1/devices/{deviceId}/move",
            Access::Permission("devices:write"),
            "move a device to another site (and group) of its organization",
            move_device,
        )
        .ok::<DeviceOut>()
        .errors(&[409]),
        route(
            Method::POST,
            "/api/v1/devices/{deviceId}/quarantine",
            Access::Permission("devices:write"),
            "quarantine a device",
            quarantine,
        )
        .ok::<DeviceOut>()
        .errors(&[409]),
        route(
            Method::POST,
            "/api/v1/devices/{deviceId}/decommission",
            Access::Permission("devices:delete"),
            "decommission a device (irreversible)",
            decommission,
        )
        .ok::<DeviceOut>()
        .errors(&[409]),
    ]
}

/// Path of a device.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevicePath {
    /// The device.
    pub device_id: DeviceId,
}

const STATUSES: [&str; 4] = ["online", "offline", "quarantined", "decommissioned"];

/// Query of the device list.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeviceQuery {
    /// Page size.
    #[schemars(with = "Option<crate::http::doc::PageLimit>")]
    pub limit: Option<String>,
    /// Cursor.
    pub cursor: Option<String>,
    /// Only this organization.
    pub org_id: Option<OrgId>,
    /// Only this site.
    pub site_id: Option<SiteId>,
    /// Only this status.
    pub status: Option<String>,
}

impl DeviceQuery {
    fn page_query(&self) -> PageQuery {
        PageQuery {
            limit: self.limit.clone(),
            cursor: self.cursor.clone(),
        }
    }
}

impl Validate for DeviceQuery {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = self.page_query().validate();
        if self
            .status
            .as_deref()
            .is_some_and(|s| !STATUSES.contains(&s))
        {
            issues.push(FieldIssue::new(
                "status",
                "must be online, offline, quarantined or decommissioned",
            ));
        }
        issues
    }
}

/// Body of `PATCH /devices/{deviceId}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateDevice {
    /// Display name; `null` clears it, absent leaves it.
    #[serde(default, deserialize_with = "present")]
    pub display_name: Option<Option<String>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl Validate for UpdateDevice {
    fn validate(&self) -> Vec<FieldIssue> {
        opt_name_issue(
            "displayName",
            self.display_name.clone().flatten().as_deref(),
            255,
        )
        .into_iter()
        .collect()
    }
}

/// Body of `POST /devices/{deviceId}/move`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MoveDevice {
    /// Target site (same organization).
    pub site_id: SiteId,
    /// Target group (in the target site).
    pub group_id: Option<DeviceGroupId>,
}

impl Validate for MoveDevice {}

/// Loads a device the context reaches (404 otherwise).
pub(crate) async fn device_for(
    tx: &mut ScopedTx,
    authed: &Authed,
    device: DeviceId,
) -> Result<DeviceRow, ApiError> {
    let row = devices::get_device(tx, device)
        .await?
        .ok_or(ApiError::NotFound)?;
    site_in_reach(authed, row.org_id, row.site_id)?;
    Ok(row)
}

async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Query(q): Query<DeviceQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page: Page = q.page_query().page()?;
    if let Some(org) = q.org_id {
        org_in_reach(&authed, org)?;
    }
    // an organization-scope caller reaches its own organization only, a partner user the
    // organizations it reaches: narrowing to them changes no answer (row-level security
    // lets through exactly those rows) and reads their index ranges
    let org = q.org_id.or_else(|| authed.ctx.sole_org());
    let filter = DeviceFilter {
        org,
        orgs: org.map_or_else(|| authed.ctx.listing_orgs(), |_| None),
        site: q.site_id,
        status: q.status.clone(),
    };
    let mut tx = authed.begin(&state).await?;
    let mut rows = devices::list_devices(&mut tx, &filter, page).await?;
    drop(tx);
    rows.retain(|r| site_in_reach(&authed, r.org_id, r.site_id).is_ok());
    Ok(axum::Json(
        PageOf::from_fetched(rows, page, |r| r.id).map(DeviceOut::from),
    ))
}

async fn read(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<DevicePath>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let row = device_for(&mut tx, &authed, p.device_id).await?;
    Ok(axum::Json(DeviceOut::from(row)))
}

async fn update(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<DevicePath>,
    Json(body): Json<UpdateDevice>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let device = device_for(&mut tx, &authed, p.device_id).await?;
    let Some(display_name) = body.display_name else {
        return Ok(axum::Json(DeviceOut::from(device)));
    };
    let row = devices::set_display_name(&mut tx, device.id, display_name.as_deref().map(str::trim))
        .await?;
    seal(
        &mut tx,
        Some(device.org_id),
        event(&state, &authed, "device.update", "device", device.id)?,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(DeviceOut::from(row)))
}

async fn move_device(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<DevicePath>,
    Json(body): Json<MoveDevice>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let device = device_for(&mut tx, &authed, p.device_id).await?;
    if device.status == "decommissioned" {
        return Err(ApiError::Conflict("device_decommissioned"));
    }
    let target = body.site_id;
    let site = tenancy::get_site(&mut tx, target)
        .await?
        .filter(|s| site_in_reach(&authed, s.org_id, s.id).is_ok())
        .ok_or_else(|| ApiError::invalid("body.siteId", "is not a site you can reach"))?;
    if site.org_id != device.org_id {
        return Err(ApiError::invalid(
            "body.siteId",
            "must be a site of the device's organization",
        ));
    }
    if let Some(group) = body.group_id {
        let in_site = tenancy::get_group(&mut tx, group)
            .await?
            .is_some_and(|g| g.site_id == site.id);
        if !in_site {
            return Err(ApiError::invalid(
                "body.groupId",
                "must be a group of the target site",
            ));
        }
    }
    // the heartbeat row and unfinished commands move with the device, in this transaction
    let moved = devices::move_device(&mut tx, device.id, site.id, body.group_id).await?;
    let row = moved.row;
    let ev = event(&state, &authed, "device.move", "device", device.id)?.details(&json!({
        "fromSiteId": device.site_id,
        "toSiteId": row.site_id,
        "groupId": row.group_id,
        "heartbeatMoved": moved.heartbeat_moved,
        "commandsMoved": moved.commands_moved,
    }));
    seal(&mut tx, Some(device.org_id), ev).await?;
    tx.commit().await?;
    state.agent_cache.invalidate_device(device.id);
    Ok(axum::Json(DeviceOut::from(row)))
}

async fn set_status(
    state: &AppState,
    authed: &Authed,
    device: DeviceId,
    status: &'static str,
    action: &'static str,
) -> Result<DeviceRow, ApiError> {
    let mut tx = authed.begin(state).await?;
    let device = device_for(&mut tx, authed, device).await?;
    let row = set_status_in(&mut tx, state, authed, &device, status, action).await?;
    tx.commit().await?;
    state.agent_cache.invalidate_device(device.id);
    Ok(row)
}

/// Moves a device the caller reaches to `status` in the caller's transaction, audited as
/// `action`; the caller invalidates the agent cache after commit. Shared by the REST routes
/// and the MCP `quarantine_device` tool.
///
/// # Errors
/// 409 `device_decommissioned` / `already_in_status`, or a store failure.
pub(crate) async fn set_status_in(
    tx: &mut ScopedTx,
    state: &AppState,
    authed: &Authed,
    device: &DeviceRow,
    status: &'static str,
    action: &'static str,
) -> Result<DeviceRow, ApiError> {
    if device.status == "decommissioned" {
        return Err(ApiError::Conflict("device_decommissioned"));
    }
    if device.status == status {
        return Err(ApiError::Conflict("already_in_status"));
    }
    let row = devices::set_status(tx, device.id, status).await?;
    let ev = event(state, authed, action, "device", device.id)?
        .details(&json!({"from": device.status, "to": status}));
    seal(tx, Some(device.org_id), ev).await?;
    Ok(row)
}

async fn quarantine(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<DevicePath>,
) -> Result<impl IntoResponse, ApiError> {
    let row = set_status(
        &state,
        &authed,
        p.device_id,
        "quarantined",
        "device.quarantine",
    )
    .await?;
    Ok(axum::Json(DeviceOut::from(row)))
}

async fn decommission(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<DevicePath>,
) -> Result<impl IntoResponse, ApiError> {
    let row = set_status(
        &state,
        &authed,
        p.device_id,
        "decommissioned",
        "device.decommission",
    )
    .await?;
    Ok(axum::Json(DeviceOut::from(row)))
}

/// Query of the suspended-device list.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SuspendedQuery {
    /// Page size.
    #[schemars(with = "Option<crate::http::doc::PageLimit>")]
    pub limit: Option<String>,
    /// Cursor.
    pub cursor: Option<String>,
    /// Only this organization.
    pub org_id: Option<OrgId>,
}

impl SuspendedQuery {
    fn page_query(&self) -> PageQuery {
        PageQuery {
            limit: self.limit.clone(),
            cursor: self.cursor.clone(),
        }
    }
}

impl Validate for SuspendedQuery {
    fn validate(&self) -> Vec<FieldIssue> {
        self.page_query().validate()
    }
}

async fn list_suspended(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Query(q): Query<SuspendedQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page: Page = q.page_query().page()?;
    if let Some(org) = q.org_id {
        org_in_reach(&authed, org)?;
    }
    let mut tx = authed.begin(&state).await?;
    let mut rows: Vec<SuspendedDeviceRow> =
        devices::list_suspended(&mut tx, q.org_id, page).await?;
    drop(tx);
    rows.retain(|r| site_in_reach(&authed, r.org_id, r.site_id).is_ok());
    Ok(axum::Json(
        PageOf::from_fetched(rows, page, |r| r.id).map(SuspendedDeviceOut::from),
    ))
}

/// The answer of `POST /devices/{deviceId}/unsuspend`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Unsuspended {
    /// The device.
    pub id: DeviceId,
    /// Always `false`: the suspension is lifted.
    pub suspended: bool,
}

async fn unsuspend(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<DevicePath>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    // 404 outside the caller's organizations and site list
    let device = device_for(&mut tx, &authed, p.device_id).await?;
    let lifted = devices::lift_suspension(&mut tx, device.id)
        .await?
        .ok_or(ApiError::Conflict("not_suspended"))?;
    let ev = event(
        &state,
        &authed,
        "device.suspension.lift",
        "device",
        device.id,
    )?
    .details(&json!({
        "agentId": device.agent_id,
        "reason": lifted.reason,
        "suspendedAt": lifted
            .suspended_at
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
    }));
    seal(&mut tx, Some(device.org_id), ev).await?;
    tx.commit().await?;
    state.agent_cache.invalidate_device(device.id);
    Ok(axum::Json(Unsuspended {
        id: device.id,
        suspended: false,
    }))
}
