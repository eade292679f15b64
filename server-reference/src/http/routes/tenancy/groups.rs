//! Device groups inside a site: list and create (by site), read, rename, delete (by group).
//! Reading needs `devices:read`, writing `devices:write`.

use axum::extract::{Extension, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use breeze_core::tenancy::DeviceGroupId;
use serde::Deserialize;
use serde_json::json;

use super::{MAX_NAME, SitePath, event, name_issue, seal, site_for, site_in_reach};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, PageOf, PageQuery, Path, Query, Validate};
use crate::http::route::{Access, Route, route};
use crate::http::views::GroupOut;
use crate::state::AppState;
use crate::store::{ScopedTx, tenancy};

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/sites/{siteId}/groups",
            Access::Permission("devices:read"),
            "list the device groups of a site",
            list,
        )
        .ok::<PageOf<GroupOut>>(),
        route(
            Method::POST,
            "/api/v1/sites/{siteId}/groups",
            Access::Permission("devices:write"),
            "create a device group",
            create,
        )
        .created::<GroupOut>()
        .errors(&[409]),
        route(
            Method::GET,
            "/api/v1/groups/{groupId}",
            Access::Permission("devices:read"),
            "read a device group",
            read,
        )
        .ok::<GroupOut>(),
        route(
            Method::PATCH,
            "/api/v1/groups/{groupId}",
            Access::Permission("devices:write"),
            "rename a device group",
            update,
        )
        .ok::<GroupOut>()
        .errors(&[409]),
        route(
            Method::DELETE,
            "/api/v1/groups/{groupId}",
            Access::Permission("devices:write"),
            "delete a device group (its devices stay, ungrouped)",
            remove,
        )
        .no_content()
        .errors(&[409]),
    ]
}

/// Path of a group.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupPath {
    /// The group.
    pub group_id: DeviceGroupId,
}

/// Body of group create and rename.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(example = serde_json::json!({"name": "Servers"}))]
pub struct GroupBody {
    /// Name.
    pub name: String,
}

impl Validate for GroupBody {
    fn validate(&self) -> Vec<FieldIssue> {
        name_issue("name", &self.name, MAX_NAME)
            .into_iter()
            .collect()
    }
}

/// Loads a group the context reaches (404 otherwise).
pub(crate) async fn group_for(
    tx: &mut ScopedTx,
    authed: &Authed,
    group: DeviceGroupId,
) -> Result<tenancy::GroupRow, ApiError> {
    let row = tenancy::get_group(tx, group)
        .await?
        .ok_or(ApiError::NotFound)?;
    site_in_reach(authed, row.org_id, row.site_id)?;
    Ok(row)
}

async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<SitePath>,
    Query(q): Query<PageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = q.page()?;
    let mut tx = authed.begin(&state).await?;
    let site = site_for(&mut tx, &authed, p.site_id).await?;
    let rows = tenancy::list_groups(&mut tx, site.id, page).await?;
    drop(tx);
    Ok(axum::Json(
        PageOf::from_fetched(rows, page, |r| r.id).map(GroupOut::from),
    ))
}

async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<SitePath>,
    Json(body): Json<GroupBody>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let site = site_for(&mut tx, &authed, p.site_id).await?;
    let row = tenancy::insert_group(&mut tx, site.org_id, site.id, body.name.trim()).await?;
    let ev = event(
        &state,
        &authed,
        "device_group.create",
        "device_group",
        row.id,
    )?
    .details(&json!({"siteId": site.id}));
    seal(&mut tx, Some(site.org_id), ev).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(GroupOut::from(row))))
}

async fn read(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<GroupPath>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let row = group_for(&mut tx, &authed, p.group_id).await?;
    Ok(axum::Json(GroupOut::from(row)))
}

async fn update(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<GroupPath>,
    Json(body): Json<GroupBody>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let group = group_for(&mut tx, &authed, p.group_id).await?;
    let row = tenancy::update_group(&mut tx, group.id, body.name.trim()).await?;
    seal(
        &mut tx,
        Some(group.org_id),
        event(
            &state,
            &authed,
            "device_group.update",
            "device_group",
            group.id,
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(GroupOut::from(row)))
}

async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<GroupPath>,
) -> Result<StatusCode, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let group = group_for(&mut tx, &authed, p.group_id).await?;
    tenancy::delete_group(&mut tx, group.id).await?;
    seal(
        &mut tx,
        Some(group.org_id),
        event(
            &state,
            &authed,
            "device_group.delete",
            "device_group",
            group.id,
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
