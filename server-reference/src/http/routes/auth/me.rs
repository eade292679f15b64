//! `GET /api/v1/users/me`: the current user, memberships, permissions and MFA state.

use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use breeze_authz::access::{MembershipState, OrgAccess, SiteAccess};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::http::authn::Authed;
use crate::state::AppState;
use crate::store::auth as store;
use crate::store::principal;

const fn active(state: MembershipState) -> bool {
    matches!(state, MembershipState::Active)
}

/// `GET /api/v1/users/me` (force-MFA exempt). Reads run in the request's own context: a
/// user sees their own row and memberships through row-level security.
pub async fn me(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Result<Response, ApiError> {
    let session = authed.session().ok_or(ApiError::Forbidden("users_only"))?;
    let user = &session.user;
    let mut tx = authed.begin(&state).await?;
    let profile = store::profile(&mut tx, user.id).await?;
    let memberships = principal::memberships(&mut tx, user.id).await?;
    let mfa = store::mfa_state(&mut tx, user.id).await?;
    drop(tx);

    let partner: Value = memberships.partner.as_ref().map_or(Value::Null, |p| {
        let (access, orgs) = match &p.org_access {
            OrgAccess::All => ("all", Vec::new()),
            OrgAccess::Selected(list) => {
                ("selected", list.iter().map(ToString::to_string).collect())
            }
            OrgAccess::None => ("none", Vec::new()),
        };
        json!({
            "partnerId": p.partner_id,
            "roleId": p.role_id,
            "orgAccess": access,
            "orgIds": orgs,
            "active": active(p.state),
        })
    });
    let organization: Value = memberships.organization.as_ref().map_or(Value::Null, |o| {
        let sites: Value = match &o.sites {
            SiteAccess::All => Value::String("all".into()),
            SiteAccess::Only(list) => {
                Value::Array(list.iter().map(|s| Value::String(s.to_string())).collect())
            }
        };
        json!({
            "orgId": o.org_id,
            "roleId": o.role_id,
            "siteIds": sites,
            "active": active(o.state),
        })
    });
    let system = memberships.system.as_ref().is_some_and(|m| active(m.state));
    let mut permissions: Vec<&str> = session
        .role
        .as_ref()
        .map(|r| r.permissions.iter().map(String::as_str).collect())
        .unwrap_or_default();
    permissions.sort_unstable();
    let role = session
        .role
        .as_ref()
        .map(|r| json!({"id": r.id, "name": r.name, "requiresMfa": r.requires_mfa}));
    Ok(axum::Json(json!({
        "id": user.id,
        "email": user.email,
        "name": profile.name,
        "status": if user.active { "active" } else { "disabled" },
        "partnerId": user.partner_id,
        "orgId": user.org_id,
        "scope": session.claims.scope,
        "role": role,
        "permissions": permissions,
        "memberships": {
            "platformAdmin": system,
            "partner": partner,
            "organization": organization,
        },
        "mfa": {
            "enabled": mfa.enabled,
            "pending": mfa.pending_secret.is_some(),
            "required": session.role.as_ref().is_some_and(|r| r.requires_mfa),
            "sessionVerified": session.claims.mfa,
            "recoveryCodesRemaining": if mfa.enabled { mfa.recovery_codes_left } else { 0 },
        },
        "lastLoginAt": profile.last_login_at.map(|t| t.unix_timestamp()),
        "createdAt": profile.created_at.unix_timestamp(),
    }))
    .into_response())
}
