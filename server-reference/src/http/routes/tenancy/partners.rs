//! Partners (platform admins only): create, list, read, change, soft-delete. Audited on the
//! system chain.

use axum::extract::{Extension, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use breeze_core::tenancy::PartnerId;
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::{MAX_NAME, event, name_issue, opt_name_issue, seal};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, PageOf, PageQuery, Path, Query, Validate};
use crate::http::route::{Access, Route, route};
use crate::http::views::PartnerOut;
use crate::state::AppState;
use crate::store::tenancy;

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::POST,
            "/api/v1/partners",
            Access::PlatformAdmin,
            "create a partner",
            create,
        )
        .created::<PartnerOut>()
        .errors(&[409]),
        route(
            Method::GET,
            "/api/v1/partners",
            Access::PlatformAdmin,
            "list partners",
            list,
        )
        .ok::<PageOf<PartnerOut>>(),
        route(
            Method::GET,
            "/api/v1/partners/{partnerId}",
            Access::PlatformAdmin,
            "read a partner",
            read,
        )
        .ok::<PartnerOut>(),
        route(
            Method::PATCH,
            "/api/v1/partners/{partnerId}",
            Access::PlatformAdmin,
            "change a partner",
            update,
        )
        .ok::<PartnerOut>()
        .errors(&[409]),
        route(
            Method::DELETE,
            "/api/v1/partners/{partnerId}",
            Access::PlatformAdmin,
            "soft-delete a partner",
            remove,
        )
        .no_content()
        .errors(&[409]),
    ]
}

/// Path of a partner.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerPath {
    /// The partner.
    pub partner_id: PartnerId,
}

/// Body of `POST /partners`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(example = serde_json::json!({"name": "Northwind MSP", "maxDevices": 5000}))]
pub struct CreatePartner {
    /// Name.
    pub name: String,
    /// Device limit.
    pub max_devices: Option<i32>,
}

fn max_devices_issue(v: Option<i32>) -> Option<FieldIssue> {
    v.filter(|n| *n < 0)
        .map(|_| FieldIssue::new("maxDevices", "must be 0 or more"))
}

impl Validate for CreatePartner {
    fn validate(&self) -> Vec<FieldIssue> {
        name_issue("name", &self.name, MAX_NAME)
            .into_iter()
            .chain(max_devices_issue(self.max_devices))
            .collect()
    }
}

fn some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i32>>, D::Error> {
    Option::<i32>::deserialize(d).map(Some)
}

/// Body of `PATCH /partners/{partnerId}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdatePartner {
    /// Name.
    pub name: Option<String>,
    /// `active` or `suspended`.
    pub status: Option<String>,
    /// Device limit; `null` clears it.
    #[serde(default, deserialize_with = "some")]
    pub max_devices: Option<Option<i32>>,
}

impl Validate for UpdatePartner {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues: Vec<FieldIssue> = opt_name_issue("name", self.name.as_deref(), MAX_NAME)
            .into_iter()
            .chain(max_devices_issue(self.max_devices.flatten()))
            .collect();
        if self
            .status
            .as_deref()
            .is_some_and(|s| !matches!(s, "active" | "suspended"))
        {
            issues.push(FieldIssue::new("status", "must be active or suspended"));
        }
        issues
    }
}

async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Json(body): Json<CreatePartner>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let row = tenancy::insert_partner(&mut tx, body.name.trim(), body.max_devices).await?;
    let ev = event(&state, &authed, "partner.create", "partner", row.id)?
        .details(&json!({"name": row.name, "maxDevices": row.max_devices}));
    seal(&mut tx, None, ev).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(PartnerOut::from(row))))
}

async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Query(q): Query<PageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = q.page()?;
    let mut tx = authed.begin(&state).await?;
    let rows = tenancy::list_partners(&mut tx, page).await?;
    drop(tx);
    Ok(axum::Json(
        PageOf::from_fetched(rows, page, |r| r.id).map(PartnerOut::from),
    ))
}

async fn read(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<PartnerPath>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let row = tenancy::get_partner(&mut tx, p.partner_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(PartnerOut::from(row)))
}

async fn update(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<PartnerPath>,
    Json(body): Json<UpdatePartner>,
) -> Result<impl IntoResponse, ApiError> {
    let id = p.partner_id;
    let mut tx = authed.begin(&state).await?;
    let row = tenancy::update_partner(
        &mut tx,
        id,
        body.name.as_deref().map(str::trim),
        body.status.as_deref(),
        body.max_devices,
    )
    .await?;
    let ev = event(&state, &authed, "partner.update", "partner", id)?.details(&json!({
        "name": body.name.is_some(),
        "status": body.status,
        "maxDevices": body.max_devices.is_some(),
    }));
    seal(&mut tx, None, ev).await?;
    tx.commit().await?;
    Ok(axum::Json(PartnerOut::from(row)))
}

async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<PartnerPath>,
) -> Result<StatusCode, ApiError> {
    let id = p.partner_id;
    let mut tx = authed.begin(&state).await?;
    tenancy::delete_partner(&mut tx, id).await?;
    seal(
        &mut tx,
        None,
        event(&state, &authed, "partner.delete", "partner", id)?,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
