//! Roles: list (seeded + the partner's custom roles), create / change / delete custom
//! partner roles. Grants are validated with breeze-authz (`Role::new` refuses `*:*` on a
//! partner or organization role, `compile` refuses a grant matching no registered
//! permission); nobody creates or edits a role holding a permission they lack; seeded
//! roles are immutable. Audited `role.create|update|delete` on the system chain.

use axum::extract::{Extension, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use breeze_authz::access::Scope;
use breeze_authz::permission::Grant;
use breeze_authz::registry::PermissionSet;
use breeze_authz::role::{Role, RoleError, RoleScope};
use breeze_core::tenancy::{PartnerId, RoleId};
use serde::Deserialize;
use serde_json::json;

use super::{event, holds_all, name_issue, opt_name_issue, seal};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{Json, PageOf, PageQuery, Path, Query, Validate};
use crate::http::route::{Access, Route, route};
use crate::http::views::RoleOut;
use crate::state::AppState;
use crate::store::ScopedTx;
use crate::store::roles::{self, NewRole, RoleRow};

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/roles",
            Access::Permission("users:read"),
            "list roles (seeded and the partner's custom roles)",
            list,
        )
        .ok::<PageOf<RoleOut>>(),
        route(
            Method::POST,
            "/api/v1/roles",
            Access::Permission("users:write"),
            "create a custom partner role",
            create,
        )
        .created::<RoleOut>()
        .errors(&[409]),
        route(
            Method::PATCH,
            "/api/v1/roles/{roleId}",
            Access::Permission("users:write"),
            "change a custom role",
            update,
        )
        .ok::<RoleOut>()
        .errors(&[409]),
        route(
            Method::DELETE,
            "/api/v1/roles/{roleId}",
            Access::Permission("users:write"),
            "delete an unused custom role",
            remove,
        )
        .no_content()
        .errors(&[409]),
    ]
}

/// Most grants a role holds.
pub const MAX_GRANTS: usize = 64;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 500;

/// Path of a role.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolePath {
    /// The role.
    pub role_id: RoleId,
}

fn grants_issues(grants: &[String]) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    if grants.is_empty() || grants.len() > MAX_GRANTS {
        issues.push(FieldIssue::new("permissions", "must hold 1 to 64 grants"));
    }
    for (i, g) in grants.iter().enumerate() {
        if g.parse::<Grant>().is_err() {
            issues.push(FieldIssue::new(
                format!("permissions[{i}]"),
                "must be resource:action",
            ));
        }
    }
    issues
}

fn description_issue(d: Option<&str>) -> Option<FieldIssue> {
    d.filter(|d| d.chars().count() > MAX_DESCRIPTION || d.chars().any(char::is_control))
        .map(|_| FieldIssue::new("description", "must be at most 500 characters"))
}

/// Body of `POST /roles`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateRole {
    /// Name.
    pub name: String,
    /// `partner` or `organization`.
    pub scope: String,
    /// Grants (`devices:*`, `*:read`).
    pub permissions: Vec<String>,
    /// Description.
    pub description: Option<String>,
    /// Members must have MFA.
    #[serde(default)]
    pub requires_mfa: bool,
    /// Owning partner (platform admins only).
    pub partner_id: Option<PartnerId>,
}

impl Validate for CreateRole {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues: Vec<FieldIssue> = name_issue("name", &self.name, 100)
            .into_iter()
            .chain(description_issue(self.description.as_deref()))
            .collect();
        if !matches!(self.scope.as_str(), "partner" | "organization") {
            issues.push(FieldIssue::new("scope", "must be partner or organization"));
        }
        issues.extend(grants_issues(&self.permissions));
        issues
    }
}

/// Body of `PATCH /roles/{roleId}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateRole {
    /// Name.
    pub name: Option<String>,
    /// Grants.
    pub permissions: Option<Vec<String>>,
    /// Description.
    pub description: Option<String>,
    /// Members must have MFA.
    pub requires_mfa: Option<bool>,
}

impl Validate for UpdateRole {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues: Vec<FieldIssue> = opt_name_issue("name", self.name.as_deref(), 100)
            .into_iter()
            .chain(description_issue(self.description.as_deref()))
            .collect();
        if let Some(p) = &self.permissions {
            issues.extend(grants_issues(p));
        }
        issues
    }
}

/// Builds and compiles a role with breeze-authz and checks the caller holds all of it.
fn checked_set(
    state: &AppState,
    authed: &Authed,
    name: &str,
    scope: RoleScope,
    grants: &[String],
    requires_mfa: bool,
) -> Result<PermissionSet, ApiError> {
    let parsed = grants
        .iter()
        .map(|g| g.parse::<Grant>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ApiError::invalid("body.permissions", "must be resource:action"))?;
    let set = Role::new(name, scope, parsed, requires_mfa)
        .and_then(|r| r.compile(&state.registry))
        .map_err(|e| match e {
            RoleError::FullWildcardNotAllowed { .. } => {
                ApiError::invalid("body.permissions", "`*:*` is reserved to system roles")
            }
            RoleError::UnknownPermission { .. } => ApiError::invalid(
                "body.permissions",
                "a grant matches no registered permission",
            ),
            _ => ApiError::invalid("body.name", "is not a valid role name"),
        })?;
    if !holds_all(state, authed, &set) {
        return Err(ApiError::Forbidden("privilege_escalation"));
    }
    Ok(set)
}

fn role_scope(s: &str) -> Result<RoleScope, ApiError> {
    match s {
        "partner" => Ok(RoleScope::Partner),
        "organization" => Ok(RoleScope::Organization),
        "system" => Ok(RoleScope::System),
        _ => Err(ApiError::internal("unknown role scope")),
    }
}

/// Loads a custom role the caller may change: visible, of a partner in reach, not seeded,
/// and a partner-wide write context.
async fn editable(
    state: &AppState,
    authed: &Authed,
    tx: &mut ScopedTx,
    id: RoleId,
) -> Result<RoleRow, ApiError> {
    let role = roles::get_role(tx, id).await?.ok_or(ApiError::NotFound)?;
    if role.seeded {
        return Err(ApiError::Forbidden("seeded_role_immutable"));
    }
    let in_reach = role
        .partner_id
        .is_some_and(|p| authed.ctx.can_access_partner(p));
    if !in_reach {
        return Err(ApiError::NotFound);
    }
    if !authed.ctx.can_write_partner_wide() {
        return Err(ApiError::Forbidden("partner_wide_write_required"));
    }
    // nobody edits a role holding more than they do
    let current = checked_set(
        state,
        authed,
        &role.name,
        role_scope(&role.scope)?,
        &role.permissions,
        role.requires_mfa,
    );
    if let Err(ApiError::Forbidden(code)) = current {
        return Err(ApiError::Forbidden(code));
    }
    Ok(role)
}

async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Query(q): Query<PageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = q.page()?;
    let partner = authed.ctx.current_partner_id();
    let mut tx = authed.begin(&state).await?;
    let mut rows = roles::list_roles(&mut tx, partner, page).await?;
    drop(tx);
    let system = authed.ctx.scope() == Scope::System;
    rows.retain(|r| system || r.partner_id.is_none() || r.partner_id == partner);
    Ok(axum::Json(
        PageOf::from_fetched(rows, page, |r| r.id).map(RoleOut::from),
    ))
}

async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Json(body): Json<CreateRole>,
) -> Result<impl IntoResponse, ApiError> {
    if !authed.ctx.can_write_partner_wide() {
        return Err(ApiError::Forbidden("partner_wide_write_required"));
    }
    let partner = match (authed.ctx.scope(), body.partner_id) {
        (Scope::System, Some(p)) => p,
        (Scope::System, None) => return Err(ApiError::invalid("body.partnerId", "is required")),
        (_, Some(_)) => return Err(ApiError::invalid("body.partnerId", "is not allowed")),
        (_, None) => authed
            .ctx
            .current_partner_id()
            .ok_or(ApiError::Forbidden("partner_wide_write_required"))?,
    };
    let scope = role_scope(&body.scope)?;
    checked_set(
        &state,
        &authed,
        &body.name,
        scope,
        &body.permissions,
        body.requires_mfa,
    )?;
    let mut tx = authed.begin(&state).await?;
    let row = roles::insert_role(
        &mut tx,
        &NewRole {
            partner_id: partner,
            scope: scope.as_str(),
            name: body.name.trim(),
            description: body.description.as_deref().unwrap_or(""),
            permissions: &body.permissions,
            requires_mfa: body.requires_mfa,
        },
    )
    .await?;
    let ev = event(&state, &authed, "role.create", "role", row.id)?.details(&json!({
        "partnerId": row.partner_id,
        "scope": row.scope,
        "permissions": row.permissions,
    }));
    seal(&mut tx, None, ev).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(RoleOut::from(row))))
}

async fn update(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<RolePath>,
    Json(body): Json<UpdateRole>,
) -> Result<impl IntoResponse, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let role = editable(&state, &authed, &mut tx, p.role_id).await?;
    let name = body.name.as_deref().map_or(role.name.as_str(), str::trim);
    let grants = body.permissions.as_deref().unwrap_or(&role.permissions);
    checked_set(
        &state,
        &authed,
        name,
        role_scope(&role.scope)?,
        grants,
        body.requires_mfa.unwrap_or(role.requires_mfa),
    )?;
    let row = roles::update_role(
        &mut tx,
        role.id,
        body.name.as_deref().map(str::trim),
        body.description.as_deref(),
        body.permissions.as_deref(),
        body.requires_mfa,
    )
    .await?;
    let ev = event(&state, &authed, "role.update", "role", role.id)?.details(&json!({
        "permissionsFrom": role.permissions,
        "permissionsTo": row.permissions,
        "requiresMfa": row.requires_mfa,
    }));
    seal(&mut tx, None, ev).await?;
    tx.commit().await?;
    Ok(axum::Json(RoleOut::from(row)))
}

async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Path(p): Path<RolePath>,
) -> Result<StatusCode, ApiError> {
    let mut tx = authed.begin(&state).await?;
    let role = editable(&state, &authed, &mut tx, p.role_id).await?;
    roles::delete_role(&mut tx, role.id).await?;
    seal(
        &mut tx,
        None,
        event(&state, &authed, "role.delete", "role", role.id)?,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
