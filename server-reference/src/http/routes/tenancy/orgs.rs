//! Organizations: list (row-level security shows only the reachable ones), create (a
//! partner-wide write), read, change (status: active / trial / suspended / offboarding),
//! soft-delete.
//!
//! Audit retention (`retentionDays`) is a partner or platform decision too: an organization
//! may not shorten (or otherwise change) how long its own history is kept. No one may set it
//! below the operator's floor (`BREEZE_AUDIT_RETENTION_FLOOR_DAYS`, default 90); a change is
//! audited as `organization.retention.change` with the old and new values. PostgreSQL
//! refuses a change from an organization-scope context as well (migration 0730).
//!
//! A status change is a partner decision: organization-scope callers may rename their
//! organization but not change its status. An organization that is suspended or deleted is
//! out of every partner context's reach (SPEC 1.1), so reactivating it is a platform-admin
//! action.

use axum::extract::{Extension, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use breeze_authz::access::Scope;
use breeze_core::tenancy::PartnerId;
use serde::Deserialize;
use serde_json::json;

use super::{MAX_NAME, OrgPath, event, name_issue, opt_name_issue, org_in_reach, seal};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, PageOf, PageQuery, Path, Query, Validate};
use crate::http::route::{Access, Route, route};
use crate::http::views::OrgOut;
use crate::state::AppState;
use crate::store::tenancy;

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/orgs",
            Access::Permission("organizations:read"),
            "list organizations",
            list,
        )
        .ok::<PageOf<OrgOut>>(),
        route(
            Method::POST,
            "/api/v1/orgs",
            Access::Permission("organizations:write"),
            "create an organization (partner-wide write)",
            create,
        )
        .errors(&[404])
        .created::<OrgOut>()
        .errors(&[409]),
        route(
            Method::GET,
            "/api/v1/orgs/{orgId}",
            Access::Permission("organizations:read"),
            "read an organization",
            read,
        )
        .ok::<OrgOut>(),
        route(
            Method::PATCH,
            "/api/v1/orgs/{orgId}",
            Access::Permission("organizations:write"),
            "change an organization",
            update,
        )
        .ok::<OrgOut>()
        .errors(&[409]),
        route(
            Method::DELETE,
            "/api/v1/orgs/{orgId}",
            Access::Permission("organizations:delete"),
            "soft-delete an organization",
            remove,
        )
        .no_content()
        .errors(&[409]),
    ]
}

const STATUSES: [&str; 4] = ["active", "trial", "suspended", "offboarding"];

fn retention_issue(v: Option<i32>) -> Option<FieldIssue> {
    v.filter(|d| !(1..=36_500).contains(d))
        .map(|_| FieldIssue::new("retentionDays", "must be 1 to 36500"))
}

/// Body of `POST /orgs`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(example = serde_json::json!({"name": "Contoso Dental", "partnerId": "4f9c2a1e-7b3d-4c8e-9a5f-1d2e3c4b5a69"}))]
pub struct CreateOrg {
    /// Name.
    pub name: String,
    /// `active` (default) or `trial`.
    pub status: Option<String>,
    /// Audit retention (default 365).
    pub retention_days: Option<i32>,
    /// The partner (platform admins only; others create in their own partner).
    pub partner_id: Option<PartnerId>,
}

impl Validate for CreateOrg {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues: Vec<FieldIssue> = name_issue("name", &self.name, MAX_NAME)
            .into_iter()
            .chain(retention_issue(self.retention_days))
            .collect();
        if self
            .status
            .as_deref()
            .is_some_and(|s| !matches!(s, "active" | "trial"))
        {
            issues.push(FieldIssue::new("status", "must be active or trial"));
        }
        issues
    }
}

/// Body of `PATCH /orgs/{orgId}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateOrg {
    /// Name.
    pub name: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Audit retention.
    pub retention_days: Option<i32>,
    /// Require every device to be bound to a key (SPEC 17).
    pub require_agent_key: Option<bool>,
}

impl Validate for UpdateOrg {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues: Vec<FieldIssue> = opt_name_issue("name", self.name.as_deref(), MAX_NAME)
            .into_iter()
            .chain(retention_issue(self.retention_days))
            .collect();
        if self
            .status
            .as_deref()
            .is_some_and(|s| !STATUSES.contains(&s))
        {
            issues.push(FieldIssue::new(
                "status",
                "must be active, trial, suspended or offboarding",
            ));
        }
        issues
    }
}

async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Query(q): Query<PageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = q.page()?;
    let mut tx = authed.begin(&state).await?;
    let mut rows = tenancy::list_orgs(&mut tx, page).await?;
    drop(tx);
    rows.retain(|r| org_in_reach(&authed, r.id).is_ok());
    Ok(axum::Json(
        PageOf::from_fetched(rows, page, |r| r.id).map(OrgOut::from),
    ))
}

/// Refuses a retention below the operator's floor (400 naming the field).
fn check_floor(state: &AppState, days: Option<i32>) -> Result<(), ApiError> {
    let floor = state.config.audit_retention_floor_days;
    match days {
        Some(d) if u32::try_from(d).map_or(true, |d| d < floor) => Err(ApiError::invalid(
            "body.retentionDays",
            format!("must be at least {floor} days (the operator's retention floor)"),
        )),
        _ => Ok(()),
    }
}

async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Json(body): Json<CreateOrg>,
) -> Result<impl IntoResponse, ApiError> {
    if !authed.ctx.can_write_partner_wide() {
        return Err(ApiError::Forbidden("partner_wide_write_required"));
    }
    check_floor(&state, body.retention_days)?;
    let partner = match (authed.ctx.scope(), body.partner_id) {
        (Scope::System, Some(p)) => p,
        (Scope::System, None) => {
            return Err(ApiError::invalid("body.partnerId", "is required"));
        }
        (_, given) => {
            let own = authed
                .ctx
                .current_partner_id()
                .ok_or(ApiError::Forbidden("partner_wide_write_required"))?;
            if given.is_some_and(|g| g != own) {
                return Err(ApiError::NotFound);
            }
            own
        }
    };
    if !authed.ctx.can_access_partner(partner) {
        return Err(ApiError::NotFound);
    }
    let status = body.status.as_deref().unwrap_or("active");
    let mut tx = authed.begin(&state).await?;
    if tenancy::get_partner(&mut tx, partner).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let row = tenancy::insert_org(
        &mut tx,
        partner,
        body.name.trim(),
        status,
        body.retention_days.unwrap_or_else(|| {
            i32::try_from(state.config.audit_retention_floor_days.max(365)).unwrap_or(365)
        }),
    )
    .await?;
    // partner-level change: the new organization is not in this request's reach yet
    let ev = event(
        &state,
        &authed,
        "organization.create",
        "organization",
        row.id,
    )?
    .details(&json!({"partnerId": row.partner_id, "status": row.status}));
    seal(&mut tx, None, ev).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(OrgOut::from(row))))
}

async fn read(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<OrgPath>,
) -> Result<impl IntoResponse, ApiError> {
    let id = p.org_id;
    org_in_reach(&authed, id)?;
    let mut tx = authed.begin(&state).await?;
    let row = tenancy::get_org(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(OrgOut::from(row)))
}

async fn update(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<OrgPath>,
    Json(body): Json<UpdateOrg>,
) -> Result<impl IntoResponse, ApiError> {
    let id = p.org_id;
    org_in_reach(&authed, id)?;
    if body.status.is_some() && authed.ctx.scope() == Scope::Organization {
        return Err(ApiError::Forbidden("status_change_requires_partner"));
    }
    if body.retention_days.is_some() && authed.ctx.scope() == Scope::Organization {
        return Err(ApiError::Forbidden("retention_change_requires_partner"));
    }
    check_floor(&state, body.retention_days)?;
    let mut tx = authed.begin(&state).await?;
    let before = tenancy::get_org(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let row = tenancy::update_org(
        &mut tx,
        id,
        body.name.as_deref().map(str::trim),
        body.status.as_deref(),
        body.retention_days,
        body.require_agent_key,
    )
    .await?;
    let ev = event(&state, &authed, "organization.update", "organization", id)?.details(&json!({
        "name": body.name.is_some(),
        "statusFrom": before.status,
        "statusTo": row.status,
        "retentionDays": row.retention_days,
    }));
    seal(&mut tx, Some(id), ev).await?;
    if row.require_agent_key != before.require_agent_key {
        let ev = event(
            &state,
            &authed,
            "organization.agent_key_policy.change",
            "organization",
            id,
        )?
        .details(&json!({"requireAgentKey": row.require_agent_key}));
        seal(&mut tx, Some(id), ev).await?;
    }
    if row.retention_days != before.retention_days {
        let ev = event(
            &state,
            &authed,
            "organization.retention.change",
            "organization",
            id,
        )?
        .details(&json!({
            "from": before.retention_days,
            "to": row.retention_days,
            "floor": state.config.audit_retention_floor_days,
        }));
        seal(&mut tx, Some(id), ev).await?;
    }
    tx.commit().await?;
    state.agent_cache.invalidate_org(id);
    Ok(axum::Json(OrgOut::from(row)))
}

async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<OrgPath>,
) -> Result<StatusCode, ApiError> {
    let id = p.org_id;
    org_in_reach(&authed, id)?;
    let mut tx = authed.begin(&state).await?;
    tenancy::delete_org(&mut tx, id).await?;
    seal(
        &mut tx,
        Some(id),
        event(&state, &authed, "organization.delete", "organization", id)?,
    )
    .await?;
    tx.commit().await?;
    state.agent_cache.invalidate_org(id);
    Ok(StatusCode::NO_CONTENT)
}
