//! Sites of an organization: list, create (needs all-sites access), read, change, delete
//! (empty sites only).

use axum::extract::{Extension, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::{
    MAX_NAME, OrgPath, SitePath, event, name_issue, opt_name_issue, org_in_reach, seal, site_for,
    site_in_reach,
};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, PageOf, PageQuery, Path, Query, Validate};
use crate::http::route::{Access, Route, route};
use crate::http::views::SiteOut;
use crate::state::AppState;
use crate::store::tenancy;

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/orgs/{orgId}/sites",
            Access::Permission("sites:read"),
            "list the sites of an organization",
            list,
        )
        .ok::<PageOf<SiteOut>>(),
        route(
            Method::POST,
            "/api/v1/orgs/{orgId}/sites",
            Access::Permission("sites:write"),
            "create a site",
            create,
        )
        .created::<SiteOut>()
        .errors(&[409]),
        route(
            Method::GET,
            "/api/v1/sites/{siteId}",
            Access::Permission("sites:read"),
            "read a site",
            read,
        )
        .ok::<SiteOut>(),
        route(
            Method::PATCH,
            "/api/v1/sites/{siteId}",
            Access::Permission("sites:write"),
            "change a site",
            update,
        )
        .ok::<SiteOut>()
        .errors(&[409]),
        route(
            Method::DELETE,
            "/api/v1/sites/{siteId}",
            Access::Permission("sites:delete"),
            "delete an empty site",
            remove,
        )
        .no_content()
        .errors(&[409]),
    ]
}

fn timezone_issue(tz: Option<&str>) -> Option<FieldIssue> {
    tz.filter(|t| {
        t.is_empty()
            || t.len() > 64
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
    })
    .map(|_| FieldIssue::new("timezone", "must be an IANA time zone name"))
}

/// Body of `POST /orgs/{orgId}/sites`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateSite {
    /// Name.
    pub name: String,
    /// Time zone (default UTC).
    pub timezone: Option<String>,
}

impl Validate for CreateSite {
    fn validate(&self) -> Vec<FieldIssue> {
        name_issue("name", &self.name, MAX_NAME)
            .into_iter()
            .chain(timezone_issue(self.timezone.as_deref()))
            .collect()
    }
}

/// Body of `PATCH /sites/{siteId}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateSite {
    /// Name.
    pub name: Option<String>,
    /// Time zone.
    pub timezone: Option<String>,
}

impl Validate for UpdateSite {
    fn validate(&self) -> Vec<FieldIssue> {
        opt_name_issue("name", self.name.as_deref(), MAX_NAME)
            .into_iter()
            .chain(timezone_issue(self.timezone.as_deref()))
            .collect()
    }
}

async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<OrgPath>,
    Query(q): Query<PageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = q.page()?;
    let org = p.org_id;
    org_in_reach(&authed, org)?;
    let mut tx = authed.begin(&state).await?;
    let mut rows = tenancy::list_sites(&mut tx, org, page).await?;
    drop(tx);
    rows.retain(|r| site_in_reach(&authed, r.org_id, r.id).is_ok());
    Ok(axum::Json(
        PageOf::from_fetched(rows, page, |r| r.id).map(SiteOut::from),
    ))
}

async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<OrgPath>,
    Json(body): Json<CreateSite>,
) -> Result<impl IntoResponse, ApiError> {
    let org = p.org_id;
    org_in_reach(&authed, org)?;
    if !authed.ctx.allowed_site_ids().is_all() {
        return Err(ApiError::Forbidden("site_restricted"));
    }
    let mut tx = authed.begin(&state).await?;
    let row = tenancy::insert_site(
        &mut tx,
        org,
        body.name.trim(),
        body.timezone.as_deref().unwrap_or("UTC"),
    )
    .await?;
    let ev = event(&state, &authed, "site.create", "site", row.id)?
        .details(&json!({"timezone": row.timezone}));
    seal(&mut tx, Some(org), ev).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(SiteOut::from(row))))
}

async fn read(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<SitePath>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let row = site_for(&mut tx, &authed, p.site_id).await?;
    Ok(axum::Json(SiteOut::from(row)))
}

async fn update(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<SitePath>,
    Json(body): Json<UpdateSite>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let site = site_for(&mut tx, &authed, p.site_id).await?;
    let row = tenancy::update_site(
        &mut tx,
        site.id,
        body.name.as_deref().map(str::trim),
        body.timezone.as_deref(),
    )
    .await?;
    let ev = event(&state, &authed, "site.update", "site", site.id)?
        .details(&json!({"name": body.name.is_some(), "timezone": row.timezone}));
    seal(&mut tx, Some(site.org_id), ev).await?;
    tx.commit().await?;
    Ok(axum::Json(SiteOut::from(row)))
}

async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<SitePath>,
) -> Result<StatusCode, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let site = site_for(&mut tx, &authed, p.site_id).await?;
    tenancy::delete_site(&mut tx, site.id).await?;
    seal(
        &mut tx,
        Some(site.org_id),
        event(&state, &authed, "site.delete", "site", site.id)?,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
